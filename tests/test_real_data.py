"""Real data sets (jointdist.datasets.real), the real-data benchmark and the VaR backtests."""

import math
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from jointdist.datasets import list_real, load_real, real_dataset_info
from jointdist.evaluation import (
    RealBenchmarkResult,
    expected_shortfall,
    kupiec_pof,
    rolling_origins,
    run_real_benchmark,
    value_at_risk,
    var_backtest,
)
from jointdist.metrics import crps, crps_sum, energy_score, variogram_score
from jointdist.models import HistoricalSimulation

#: documented (rows, columns) of every data set
SHAPES = {"equity_index": (5031, 2), "markets": (1253, 4), "oil": (393, 2),
          "credit": (1200, 2), "us_change": (187, 5)}


# --------------------------------------------------------------------------- data sets
def test_list_real_names_every_data_set():
    table = list_real()
    assert list(table.index) == list(SHAPES)
    for col in ("frequency", "transform", "horizon", "columns", "package", "extra",
                "missing"):
        assert col in table.columns
    assert table.loc["credit", "horizon"] == 12
    assert table.loc["us_change", "horizon"] == 8
    assert table.loc["markets", "horizon"] == 21


@pytest.mark.parametrize("name", list(SHAPES))
def test_load_real_shape_index_and_values(name):
    frame, info = load_real(name, return_info=True)
    assert frame.shape == SHAPES[name]
    assert list(frame.columns) == list(info.columns)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.is_monotonic_increasing and not frame.index.has_duplicates
    assert not frame.isna().any().any()
    assert (frame.dtypes == np.float64).all()
    assert len(info.long_short) == frame.shape[1]
    raw = load_real(name, transform="none")
    if info.transform == "log":  # the default transform is the log of the raw values
        np.testing.assert_allclose(frame.to_numpy(), np.log(raw.to_numpy()))
    else:
        pd.testing.assert_frame_equal(frame, raw)


def test_markets_is_the_inner_join_of_its_sources():
    import arch.data.vix
    import arch.data.wti

    frame = load_real("markets", transform="none")
    wti = arch.data.wti.load()["DCOILWTICO"]
    vix = arch.data.vix.load()["vix"]
    assert frame.index[0] >= pd.Timestamp("2014-01-01")
    assert frame.index[-1] <= pd.Timestamp("2018-12-31")
    # every row has all four values from the sources, and the dropped days lack one
    np.testing.assert_allclose(frame["WTI"], wti.loc[frame.index])
    np.testing.assert_allclose(frame["VIX"], vix.loc[frame.index])
    vix_days = vix.loc["2014":"2018"].dropna().index
    dropped = vix_days.difference(frame.index)
    assert len(dropped) > 0
    assert wti.reindex(dropped).isna().any() or len(dropped) < len(vix_days)


def test_regular_frequencies_are_set():
    assert load_real("credit").index.freqstr == "MS"
    assert load_real("us_change").index.freqstr.startswith("QS")
    assert load_real("us_change").index[0] == pd.Timestamp("1970-01-01")


@pytest.mark.parametrize("module, name, package, extra", [
    ("arch.data.sp500", "equity_index", "arch", "garch"),
    ("arch.data.crude", "oil", "arch", "garch"),
    ("sktime.datasets", "us_change", "sktime", "sktime"),
])
def test_missing_package_names_it_and_its_extra(monkeypatch, module, name, package, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    with pytest.raises(ImportError, match=rf"'{package}' package.*jointdist\[{extra}\]"):
        load_real(name)


def test_bad_names_and_transforms():
    with pytest.raises(ValueError, match="unknown real data set"):
        load_real("nope")
    with pytest.raises(ValueError, match="transform"):
        load_real("credit", transform="sqrt")
    with pytest.raises(ValueError, match="unknown"):
        real_dataset_info("nope")


# --------------------------------------------------------------------------- origins
def test_rolling_origins_non_overlapping_when_they_fit():
    origins, step = rolling_origins(1000, 21, n_origins=10, min_context=252)
    assert step == 21
    assert origins[-1] == 1000 - 21 and origins[0] >= 252
    np.testing.assert_array_equal(np.diff(origins), 21)


def test_rolling_origins_overlap_when_the_data_are_short():
    origins, step = rolling_origins(187, 8, n_origins=40, min_context=60)
    assert len(origins) == 40 and step == (187 - 8 - 60) // 39 < 8
    assert origins[0] >= 60 and origins[-1] == 179


def test_rolling_origins_warns_when_too_few_fit():
    with pytest.warns(UserWarning, match="only 4 origins"):
        origins, _ = rolling_origins(100, 10, n_origins=5, min_context=60, step=10)
    np.testing.assert_array_equal(origins, [60, 70, 80, 90])
    with pytest.raises(ValueError, match="no origin"):
        rolling_origins(50, 10, min_context=60)


# --------------------------------------------------------------------------- risk
def test_kupiec_against_a_hand_computed_case():
    # n = 250 days, x = 5 exceedances of a 99% VaR (p = 0.01, p_hat = 0.02):
    # LR = -2 [245 ln 0.99 + 5 ln 0.01 - 245 ln 0.98 - 5 ln 0.02]
    #    = 2 [245 ln(0.98 / 0.99) + 5 ln 2] = 1.95681
    lr_hand = 2 * (245 * math.log(0.98 / 0.99) + 5 * math.log(2))
    p_hand = math.erfc(math.sqrt(lr_hand / 2))  # chi2(1) survival function
    lr, p = kupiec_pof(5, 250, 0.99)
    assert lr == pytest.approx(lr_hand, rel=1e-12) and lr == pytest.approx(1.95681, abs=1e-5)
    assert p == pytest.approx(p_hand, rel=1e-10) and p == pytest.approx(0.16185, abs=1e-5)


def test_kupiec_edge_counts():
    lr, p = kupiec_pof(0, 100, 0.95)  # no exceedance: LR = -2 n ln(1 - p)
    assert lr == pytest.approx(-200 * math.log(0.95))
    assert kupiec_pof(5, 100, 0.95) == (0.0, 1.0)  # exactly the nominal rate
    lr, p = kupiec_pof(100, 100, 0.95)  # all exceed: LR = -2 n ln p
    assert lr == pytest.approx(-200 * math.log(0.05)) and p < 1e-100
    with pytest.raises(ValueError):
        kupiec_pof(3, 2, 0.95)
    with pytest.raises(ValueError, match="level"):
        kupiec_pof(1, 10, 95)


def test_var_and_es_of_normal_samples():
    x = np.random.default_rng(0).normal(size=(200_000, 2))
    # N(0, 1): VaR_95 = 1.6449, ES_95 = phi(1.6449) / 0.05 = 2.0627; the Monte Carlo
    # standard errors at 2e5 samples are about 0.005 and 0.007
    np.testing.assert_allclose(value_at_risk(x, 0.95), 1.6449, atol=0.02)
    np.testing.assert_allclose(expected_shortfall(x, 0.95), 2.0627, atol=0.03)
    np.testing.assert_allclose(expected_shortfall(x, 0.99), 2.6652, atol=0.06)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 300), st.sampled_from([0.9, 0.95, 0.99]), st.integers(0, 2**31))
def test_es_is_never_below_var(n, level, seed):
    x = np.random.default_rng(seed).standard_t(3, size=n)
    assert expected_shortfall(x, level) >= value_at_risk(x, level) - 1e-12


def test_var_backtest_counts_and_es_ratio():
    realized = np.array([-3.0, 0.5, -1.0, -2.0])
    var = np.full(4, 1.5)
    es = np.full(4, 2.0)
    out = var_backtest(realized, var, es, level=0.95)
    assert out["exceedances"] == 2 and out["rate"] == 0.5 and out["n"] == 4
    assert out["es_ratio"] == pytest.approx((3.0 / 2.0 + 2.0 / 2.0) / 2)
    assert (out["kupiec_lr"], out["kupiec_pvalue"]) == kupiec_pof(2, 4, 0.95)
    assert np.isnan(var_backtest(realized, np.full(4, 9.0), es)["es_ratio"])


# --------------------------------------------------------------------------- benchmark
MODELS = {"hs": HistoricalSimulation("iid", random_state=0),
          "hs-filtered": HistoricalSimulation("filtered", random_state=0)}


@pytest.fixture(scope="module")
def tiny_result():
    return run_real_benchmark(MODELS, ["credit"], n_origins=3, n_samples=60,
                              random_state=7, n_jobs=1)


def test_benchmark_columns_and_sizes(tiny_result):
    res = tiny_result
    assert isinstance(res, RealBenchmarkResult)
    assert list(res.scores.columns) == ["dataset", "origin", "date", "model", "metric",
                                        "target", "horizon", "value"]
    assert list(res.risk.columns) == ["dataset", "origin", "date", "model", "portfolio",
                                      "steps", "level", "var", "es", "realized_pnl",
                                      "exceeded"]
    assert set(res.scores["metric"]) == {"energy", "variogram", "crps_sum", "crps", "covered"}
    # 3 joint metrics x 12 horizons + 2 per-target metrics x 12 horizons x 2 targets
    assert len(res.scores) == 3 * 2 * (3 * 12 + 2 * 12 * 2)
    # 2 portfolios x (1-step, 12-step) x 2 levels
    assert len(res.risk) == 3 * 2 * 2 * 2 * 2
    assert res.origins.loc["credit", "step"] == 12
    assert not res.origins.loc["credit", "overlapping"]
    assert (res.runs["error"] == "").all() and len(res.runs) == 6
    summary = res.summary()
    for col in ("ratio_of_means", "geo_mean_ratio", "geo_low", "geo_high", "share_won",
                "var95_rate_1", "kupiec_p_1", "var95_rate_h", "kupiec_p_h"):
        assert col in summary.columns
    assert res.coverage()["coverage"].between(0, 1).all()
    bt = res.var_backtest()
    assert bt["n"].eq(3).all()


def test_benchmark_equals_a_hand_written_loop(tiny_result):
    frame, info = load_real("credit", return_info=True)
    values = frame.to_numpy()
    origins, _ = rolling_origins(len(values), info.horizon, n_origins=3,
                                 min_context=info.min_context)
    k = 1
    t = origins[k]
    seed = int(np.random.SeedSequence([7, 0, k]).generate_state(1)[0])
    context = frame.iloc[max(0, t - 504):t]
    realized = values[t:t + info.horizon]
    samples = clone(MODELS["hs-filtered"]).fit(context).predict_samples(
        info.horizon, 60, random_state=seed)
    got = tiny_result.scores.query("origin == @k and model == 'hs-filtered'")
    joint = got[got["target"] == "all"].set_index(["metric", "horizon"])["value"]
    np.testing.assert_allclose(joint["energy"],
                               energy_score(realized, samples, per_horizon=True))
    np.testing.assert_allclose(joint["variogram"],
                               variogram_score(realized, samples, per_horizon=True))
    np.testing.assert_allclose(joint["crps_sum"],
                               crps_sum(realized, samples, per_horizon=True))
    per_target = got[got["metric"] == "crps"].pivot(index="horizon", columns="target",
                                                    values="value")
    np.testing.assert_allclose(per_target[["AAA", "BAA"]],
                               crps(realized, samples, per_horizon=True, per_target=True))
    lo, hi = np.quantile(samples, [0.05, 0.95], axis=0)
    covered = got[got["metric"] == "covered"].pivot(index="horizon", columns="target",
                                                    values="value")
    np.testing.assert_array_equal(covered[["AAA", "BAA"]], (realized >= lo) & (realized <= hi))
    # the long-short (BAA - AAA) portfolio, 12 steps ahead, 99% VaR
    pnl = (samples[:, -1] - values[t - 1]) @ np.array(info.long_short)
    row = tiny_result.risk.query("origin == @k and model == 'hs-filtered' and "
                                 "portfolio == 'long_short' and steps == 12 and level == 0.99")
    assert row["var"].item() == pytest.approx(-np.quantile(pnl, 0.01))
    realized_pnl = (realized[-1] - values[t - 1]) @ np.array(info.long_short)
    assert row["realized_pnl"].item() == pytest.approx(realized_pnl)
    assert row["exceeded"].item() == (realized_pnl < np.quantile(pnl, 0.01))


def test_benchmark_accepts_frames_and_model_names():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(np.cumsum(rng.normal(size=(300, 3)), axis=0),
                         index=pd.date_range("2000-01-03", periods=300, freq="B"),
                         columns=list("abc"))
    res = run_real_benchmark(["hs"], {"toy": frame}, horizons={"toy": 5}, n_origins=4,
                             n_samples=30, max_context=100)
    assert res.origins.loc["toy", "n_origins"] == 4
    assert res.origins.loc["toy", "max_context_rows"] == 100
    with pytest.raises(ValueError, match="horizon"):
        run_real_benchmark(["hs"], {"toy": frame})


def test_validation_origins_end_before_the_test_origins():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(np.cumsum(rng.normal(size=(400, 2)), axis=0),
                         index=pd.date_range("2000-01-03", periods=400, freq="B"),
                         columns=list("ab"))
    kw = dict(horizons={"toy": 5}, n_origins=10, n_samples=20, max_context=100)
    test = run_real_benchmark(["hs"], {"toy": frame}, **kw)
    val = run_real_benchmark(["hs"], {"toy": frame}, split="validation",
                             validation_origins=6, **kw)
    assert val.origins.loc["toy", "split"] == "validation"
    assert val.origins.loc["toy", "n_origins"] == 6
    # every validation window [t, t + 5) ends before the first test origin starts
    first_test = frame.index.get_loc(pd.Timestamp(test.origins.loc["toy", "first_origin"])) + 1
    last_val = frame.index.get_loc(pd.Timestamp(val.origins.loc["toy", "last_origin"])) + 1
    assert last_val + 5 <= first_test
    assert not set(val.scores["date"]) & set(test.scores["date"])
    # no room before the test origins: skipped with a warning; nothing left: an error
    short = frame.iloc[:150]  # the 10 test origins start at row 100 = min_context
    with pytest.warns(UserWarning, match="no room for validation"):
        with pytest.raises(ValueError, match="no data set has validation origins"):
            run_real_benchmark(["hs"], {"toy": short}, split="validation", **kw)
    with pytest.raises(ValueError, match="split"):
        run_real_benchmark(["hs"], {"toy": frame}, split="train", **kw)


class _Failing(HistoricalSimulation):
    def fit(self, y, X=None):
        raise ValueError("boom")


def test_a_failing_model_is_reported_not_scored():
    with pytest.warns(RuntimeWarning, match="boom"):
        res = run_real_benchmark({"hs": HistoricalSimulation(random_state=0),
                                  "bad": _Failing()}, ["credit"], n_origins=2,
                                 n_samples=20)
    assert (res.runs.set_index("model").loc["bad", "error"] == "ValueError: boom").all()
    assert "bad" not in set(res.scores["model"])


def test_dask_cluster_equals_serial(tiny_result):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        res = run_real_benchmark(MODELS, ["credit"], n_origins=3, n_samples=60,
                                 random_state=7, backend="dask")
    pd.testing.assert_frame_equal(res.scores, tiny_result.scores)
    pd.testing.assert_frame_equal(res.risk, tiny_result.risk)
    pd.testing.assert_frame_equal(res.runs.drop(columns="seconds"),
                                  tiny_result.runs.drop(columns="seconds"))


def test_results_are_written_and_plotted(tiny_result, tmp_path):
    paths = tiny_result.to_csv(tmp_path)
    assert {p.rsplit("/", 1)[-1] for p in paths} >= {"real_scores.csv", "real_risk.csv",
                                                     "real_skill.csv",
                                                     "real_var_backtest.csv"}
    back = pd.read_csv(tmp_path / "real_scores.csv")
    assert len(back) == len(tiny_result.scores)
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jointdist.evaluation.real_data import (
        plot_real_coverage,
        plot_real_scores,
        plot_var_exceedances,
    )

    for fig in (plot_real_scores(tiny_result, relative_to="hs"),
                plot_real_coverage(tiny_result), plot_var_exceedances(tiny_result)):
        assert fig.axes
        plt.close(fig)


def test_cli_real_quick(tmp_path, capsys):
    from jointdist.cli import main

    code = main(["benchmark", "--real", "--quick", "--models", "hs,hs-filtered",
                 "--datasets", "credit,oil", "--origins", "2", "--samples", "40",
                 "--out-dir", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "geo_mean_ratio" in out and "kupiec_p_1" in out
    assert (tmp_path / "real_var_backtest.csv").exists()
