"""The command line's demo (the README's main job)."""

from jointdist.cli import main


def test_demo_runs_and_ranks_models(capsys):
    assert main(["demo", "--samples", "300", "--horizon", "5", "--history", "200"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line.split() for line in out.splitlines()
            if line.startswith(("HS ", "oracle"))}
    assert set(rows) == {"iid", "stationary", "filtered", "(ref.)"}
    # the oracle's energy distance to itself is the smallest (~0)
    ed = {k: float(v[2]) for k, v in rows.items()}
    assert ed["(ref.)"] < min(ed["iid"], ed["stationary"], ed["filtered"])


def test_default_command_is_demo(capsys):
    assert main(["--samples", "100", "--horizon", "3", "--history", "100"]) == 0
    assert "HS filtered" in capsys.readouterr().out


def _write_csv(path, n=120, k=2, seed=0):
    import numpy as np
    import pandas as pd

    y = 50 + np.cumsum(np.random.default_rng(seed).normal(size=(n, k)), axis=0)
    frame = pd.DataFrame(y, columns=[f"s{i}" for i in range(k)],
                         index=pd.date_range("2025-01-01", periods=n, freq="D"))
    frame.rename_axis("date").to_csv(path)
    return frame


def test_forecast_writes_samples_and_quantiles(tmp_path, capsys):
    import numpy as np
    import pandas as pd

    _write_csv(tmp_path / "data.csv")
    out = tmp_path / "paths.npz"
    assert main(["forecast", str(tmp_path / "data.csv"), "--model", "hs", "--horizon", "4",
                 "--samples", "50", "--out", str(out)]) == 0
    saved = np.load(out)
    assert saved["samples"].shape == (50, 4, 2)
    assert list(saved["targets"]) == ["s0", "s1"]
    assert saved["time"][0].startswith("2025-05-01")
    quant = pd.read_csv(tmp_path / "paths_quantiles.csv", index_col=0)
    assert list(quant.columns[:2]) == ["s0_q0.05", "s0_q0.25"] and len(quant) == 4


def test_forecast_refuses_bad_files(tmp_path, capsys):
    frame = _write_csv(tmp_path / "data.csv")
    frame.iloc[5, 1] = float("nan")
    frame.to_csv(tmp_path / "missing.csv")
    frame.assign(s1="x").to_csv(tmp_path / "text.csv")
    (tmp_path / "empty.csv").write_text("")
    for name, message in [("missing.csv", "missing values in s1"),
                          ("text.csv", "non-numeric"), ("empty.csv", "not a readable"),
                          ("absent.csv", "no such file")]:
        code = main(["forecast", str(tmp_path / name), "--horizon", "3",
                     "--out", str(tmp_path / "o.npz")])
        assert code == 2
        assert message in capsys.readouterr().err
    _write_csv(tmp_path / "short.csv", n=5)
    assert main(["forecast", str(tmp_path / "short.csv"), "--model", "dcc", "--horizon", "3",
                 "--out", str(tmp_path / "o.npz")]) == 2
    assert "at least" in capsys.readouterr().err


def test_generate_writes_datasets(tmp_path):
    import numpy as np

    assert main(["generate", "sde", "--n", "2", "--targets", "3", "--futures", "5",
                 "--out", str(tmp_path / "sde.npz")]) == 0
    data = np.load(tmp_path / "sde.npz")
    assert data["history"].shape == (2, 504, 3) and data["futures"].shape == (2, 5, 63, 3)
    assert main(["generate", "dynlmc", "--n", "2", "--channels", "6", "--length", "64",
                 "--out", str(tmp_path / "dyn.npz")]) == 0
    assert np.load(tmp_path / "dyn.npz")["data"].shape == (2, 64, 6)


def test_benchmark_command_small(tmp_path, capsys):
    assert main(["benchmark", "--systems", "2", "--samples", "50", "--futures", "50",
                 "--targets", "3", "--models", "hs,hs-filtered",
                 "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "energy_distance" in out and "hs-filtered" in out
    assert (tmp_path / "sde_level7_results.csv").exists()
    assert (tmp_path / "sde_level7_by_horizon.png").exists()
