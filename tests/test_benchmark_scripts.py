"""The benchmark scripts import (their figures are produced by running them by hand)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted([*BENCHMARKS.glob("bench_*.py"), BENCHMARKS / "select_checkpoint.py"])


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_benchmark_script_imports(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # for their shared _timing helper
    spec = importlib.util.spec_from_file_location(f"_bench_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # runs the imports, not main()
    assert callable(getattr(module, "main", None))
    sys.modules.pop(spec.name, None)


def test_protocol_results_reuse_and_summary(tmp_path, monkeypatch):
    """bench_sde_protocol --reuse combines runs exactly; summarize_protocol tabulates."""
    import subprocess

    script = BENCHMARKS / "bench_sde_protocol.py"
    common = ["--levels", "1", "--systems", "2", "--samples", "40", "--futures", "40",
              "--threads", "1"]
    run = lambda *a: subprocess.run([sys.executable, str(script), *common, *a],  # noqa: E731
                                    check=True, capture_output=True, text=True)
    run("--models", "hs,dcc", "--out-dir", str(tmp_path / "both"))
    run("--models", "hs", "--out-dir", str(tmp_path / "a"))
    out = run("--models", "hs,dcc", "--out-dir", str(tmp_path / "b"), "--reuse",
              str(tmp_path / "a")).stdout
    assert "reused from" in out
    import pandas as pd

    both = pd.read_csv(tmp_path / "both" / "sde_protocol_level1.csv")
    combined = pd.read_csv(tmp_path / "b" / "sde_protocol_level1.csv")
    key = ["model", "system", "horizon", "metric"]
    pd.testing.assert_series_equal(both.sort_values(key)["value"].reset_index(drop=True),
                                   combined.sort_values(key)["value"].reset_index(drop=True))
    # other settings are refused, not silently mixed
    bad = subprocess.run([sys.executable, str(script), "--levels", "1", "--systems", "3",
                          "--samples", "40", "--futures", "40", "--models", "hs",
                          "--reuse", str(tmp_path / "a"), "--out-dir", str(tmp_path / "c")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "other settings" in bad.stderr
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from summarize_protocol import summarize

    table = summarize([tmp_path / "b" / "sde_protocol_level1.csv"])
    assert table.count("\n") == 3 and "| level 1 | 2 | dcc |" in table
    # the scale-free headline leads the printed report
    assert out.index("Scale-free") < out.index("energy_distance (raw")


def test_protocol_on_an_out_of_curriculum_family(tmp_path):
    import subprocess

    script = BENCHMARKS / "bench_sde_protocol.py"
    out = subprocess.run([sys.executable, str(script), "--levels", "", "--families", "garch",
                          "--systems", "3", "--samples", "30", "--futures", "30", "--models",
                          "hs,dcc", "--threads", "1", "--out-dir", str(tmp_path)],
                         check=True, capture_output=True, text=True).stdout
    assert "family garch" in out and "normalized_energy_distance" in out
    assert (tmp_path / "family_garch.csv").is_file()


def test_protocol_by_dynamics_splits_the_systems(monkeypatch):
    """The groups partition the systems, and a group's mean is the mean of its systems."""
    import numpy as np
    import pandas as pd

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from protocol_by_dynamics import by_dynamics, system_dynamics

    params = {"sin_amp": [[0.0, 1.0], [0.0, 0.0], [2.0, 0.0]],
              "jump_rate": [[0.0, 0.0], [0.5, 0.0], [0.0, 0.0]],
              "jump_common": [False, True, False], "regime_type": [1, 2, 2],
              "corr_type": [0, 1, 3]}
    dynamics = system_dynamics(params)
    assert dynamics["sinusoidal forcing"].tolist() == [True, False, True]
    assert dynamics["jumps"].tolist() == [False, True, False]
    rng = np.random.default_rng(0)
    rows = [(model, system, h, metric, rng.uniform(0.1, 1.0))
            for model in ("hs", "dcc", "fm") for system in range(3) for h in (1, 2)
            for metric in ("normalized_energy_distance", "correlation_error")]
    results = pd.DataFrame(rows, columns=["model", "system", "horizon", "metric", "value"])
    table = by_dynamics(results, dynamics,
                        metrics=("normalized_energy_distance", "correlation_error"))
    per_system = results[results.metric == "normalized_energy_distance"].groupby(
        ["model", "system"])["value"].mean()
    forced = table.loc[("sinusoidal forcing", "True")]
    assert forced.loc["fm", "n_systems"] == 2
    np.testing.assert_allclose(forced.loc["fm", "normalized_energy_distance"],
                               per_system.loc["fm"].loc[[0, 2]].mean())
    best = min(per_system.loc[b].loc[[0, 2]].mean() for b in ("hs", "dcc"))
    np.testing.assert_allclose(forced.loc["fm", "normalized_energy_distance_ratio"],
                               per_system.loc["fm"].loc[[0, 2]].mean() / best)
    # every grouping covers every system once
    for grouping in dynamics.columns:
        assert table.loc[grouping].xs("fm", level="model")["n_systems"].sum() == 3
