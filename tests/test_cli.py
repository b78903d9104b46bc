"""The command line: the demo (the default command), forecast, generate and benchmark
(``jointdist benchmark --quick`` is the README's main job)."""

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
    # the scale-free comparison with the baseline leads, the raw scores follow
    assert out.index("Scale-free") < out.index("Raw scores")
    assert "normalized_energy_distance" in out.split("Raw scores")[0]
    assert (tmp_path / "sde_level7_results.csv").exists()
    assert (tmp_path / "sde_level7_by_horizon.png").exists()


def test_benchmark_decompose_prints_where_the_distance_comes_from(tmp_path, capsys):
    assert main(["benchmark", "--systems", "2", "--samples", "50", "--futures", "50",
                 "--targets", "3", "--models", "hs", "--decompose",
                 "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    part = out.split("Where the distance comes from")[1].split("Raw scores")[0]
    assert "oracle_location_scale" in part and "location_share" in part
    assert "oracle_location" not in out.split("Raw scores")[1]


# ---------------------------------------------------------------- CSV without a time column
def _read_npz(path):
    import numpy as np

    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}


def test_forecast_numeric_first_column_is_a_target(tmp_path, capsys):
    """A CSV of targets only: the first series used to be taken as timestamps and dropped."""
    frame = _write_csv(tmp_path / "data.csv", k=3)
    frame.to_csv(tmp_path / "targets.csv", index=False)  # s0,s1,s2 and no time column
    assert main(["forecast", str(tmp_path / "targets.csv"), "--horizon", "4", "--samples",
                 "30", "--out", str(tmp_path / "o.npz")]) == 0
    saved = _read_npz(tmp_path / "o.npz")
    assert list(saved["targets"]) == ["s0", "s1", "s2"] and saved["samples"].shape == (30, 4, 3)
    assert "No time column" in capsys.readouterr().out
    # the forecast continues the last row of every target, s0 included
    last = frame.iloc[-1].to_numpy()
    assert abs(saved["samples"][:, 0, 0].mean() - last[0]) < 3 * frame["s0"].diff().std()


def test_forecast_time_column_option_and_detection(tmp_path, capsys):
    import numpy as np
    import pandas as pd

    from jointdist.cli import read_csv_targets

    frame = _write_csv(tmp_path / "data.csv")  # a "date" column of ISO dates first
    dated = read_csv_targets(str(tmp_path / "data.csv"))
    assert isinstance(dated.index, pd.DatetimeIndex) and list(dated.columns) == ["s0", "s1"]
    # an integer step column: a target unless --time-column says it is the time
    frame.reset_index(drop=True).rename_axis("step").reset_index().to_csv(
        tmp_path / "steps.csv", index=False)
    assert list(read_csv_targets(str(tmp_path / "steps.csv")).columns) == ["step", "s0", "s1"]
    assert main(["forecast", str(tmp_path / "steps.csv"), "--horizon", "2", "--samples", "10",
                 "--out", str(tmp_path / "a.npz")]) == 0
    assert "--time-column step" in capsys.readouterr().out  # the hint names the column
    assert main(["forecast", str(tmp_path / "steps.csv"), "--horizon", "2", "--samples", "10",
                 "--time-column", "step", "--out", str(tmp_path / "b.npz")]) == 0
    saved = _read_npz(tmp_path / "b.npz")
    assert list(saved["targets"]) == ["s0", "s1"]
    np.testing.assert_array_equal(saved["time"], ["120", "121"])
    assert "Time column: 'step'" in capsys.readouterr().out
    assert main(["forecast", str(tmp_path / "steps.csv"), "--horizon", "2",
                 "--time-column", "when", "--out", str(tmp_path / "c.npz")]) == 2
    assert "no column named 'when'" in capsys.readouterr().err


def test_forecast_refuses_a_header_without_rows(tmp_path, capsys):
    (tmp_path / "header.csv").write_text("date,s0,s1\n")
    assert main(["forecast", str(tmp_path / "header.csv"), "--horizon", "3",
                 "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert "no rows" in err and "non-numeric" not in err


# ---------------------------------------------------------------- output files
def test_output_in_a_missing_directory_is_refused_before_any_work(tmp_path, capsys):
    _write_csv(tmp_path / "data.csv")
    missing = tmp_path / "no" / "such" / "dir"
    for argv in (["forecast", str(tmp_path / "data.csv"), "--horizon", "3",
                  "--out", str(missing / "o.npz")],
                 ["generate", "dynlmc", "--n", "1", "--channels", "2", "--length", "16",
                  "--out", str(missing / "d.npz")]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert "does not exist" in captured.err and "Traceback" not in captured.err
        assert "Fitting" not in captured.out  # refused before the fit
    assert not missing.exists()


def test_existing_outputs_need_force(tmp_path, capsys):
    _write_csv(tmp_path / "data.csv")
    argv = ["forecast", str(tmp_path / "data.csv"), "--horizon", "3", "--samples", "20",
            "--out", str(tmp_path / "o.npz")]
    assert main(argv) == 0
    before = (tmp_path / "o.npz").read_bytes()
    capsys.readouterr()
    assert main(argv + ["--seed", "1"]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "o.npz").read_bytes() == before
    # the quantile summary is an output too
    (tmp_path / "o.npz").unlink()
    assert main(argv) == 2
    assert "o_quantiles.csv exists" in capsys.readouterr().err
    assert main(argv + ["--seed", "1", "--force"]) == 0
    assert (tmp_path / "o.npz").read_bytes() != before
    gen = ["generate", "dynlmc", "--n", "1", "--channels", "2", "--length", "16",
           "--out", str(tmp_path / "o.npz")]
    assert main(gen) == 2 and "--force" in capsys.readouterr().err
    assert main(gen + ["--force"]) == 0


def test_reported_path_is_the_written_path(tmp_path, capsys):
    """``--out o`` writes o.npz (numpy adds the suffix): the message must say o.npz."""
    _write_csv(tmp_path / "data.csv")
    out = tmp_path / "o"
    assert main(["forecast", str(tmp_path / "data.csv"), "--horizon", "2", "--samples", "10",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"to {out}.npz " in printed and (tmp_path / "o.npz").exists()
    assert (tmp_path / "o_quantiles.csv").exists() and not out.exists()
    assert main(["generate", "dynlmc", "--n", "1", "--channels", "2", "--length", "16",
                 "--out", str(tmp_path / "d")]) == 0
    assert f"to {tmp_path / 'd.npz'}." in capsys.readouterr().out
    assert main(["generate", "dynlmc", "--n", "1", "--channels", "2", "--length", "16",
                 "--out", str(tmp_path / "d.csv")]) == 2
    assert "unknown output format '.csv'" in capsys.readouterr().err


# ---------------------------------------------------------------- the main job
def test_cli_and_readme_agree_on_the_main_job():
    from pathlib import Path

    import jointdist.cli as cli

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    first_command = next(line for line in quickstart.splitlines()
                         if line.startswith("pip install"))
    assert first_command.endswith("jointdist benchmark --quick")
    assert "main job: jointdist benchmark --quick" in cli.build_parser().description
    assert "main job" in cli.__doc__.split("``jointdist demo``")[0]  # said of the benchmark
    assert "the main job" not in cli.__doc__.split("``jointdist demo``")[1]


def test_benchmark_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    assert main(["benchmark", "--systems", "1", "--samples", "20", "--futures", "20",
                 "--targets", "2", "--models", "hs", "--out-dir", str(tmp_path)]) == 0
    assert "pip install 'jointdist[plot]'" in capsys.readouterr().out
    assert not (tmp_path / "sde_level7_by_horizon.png").exists()


def test_forecast_on_a_shuffled_csv_reports_the_time_range_and_sorts(tmp_path, capsys):
    import pandas as pd
    import pytest

    frame = _write_csv(tmp_path / "data.csv")
    frame.sample(frac=1, random_state=0).to_csv(tmp_path / "shuffled.csv")
    with pytest.warns(UserWarning, match="sort"):
        assert main(["forecast", str(tmp_path / "shuffled.csv"), "--horizon", "2",
                     "--samples", "10", "--out", str(tmp_path / "s.npz")]) == 0
    out = capsys.readouterr().out
    first, last = pd.DatetimeIndex(frame.index).min(), pd.DatetimeIndex(frame.index).max()
    assert f"{first} to {last}; not in time order: sorted" in out
    # the paths start after the last date, not after the last row of the file
    saved = _read_npz(tmp_path / "s.npz")
    assert saved["time"][0] > str(last)
