"""Oracle-futures evaluation (seed 000 protocol) and the plots."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from hypothesis import given
from hypothesis import strategies as st

from jointdist.evaluation import (
    DECOMPOSITION_METRICS,
    DECOMPOSITION_VARIANTS,
    ORACLE_METRICS,
    SCALE_FREE_METRICS,
    error_decomposition,
    oracle_scores,
    relative_skill,
    run_oracle_benchmark,
    summarize_benchmark,
    summarize_decomposition,
    variogram_divergence,
)
from jointdist.models import HistoricalSimulation

matplotlib.use("Agg")


class _Bench:
    def __init__(self, history, futures):
        self.history, self.futures = history, futures


def _bench(n_systems=3, seed=0):
    rng = np.random.default_rng(seed)
    history = np.cumsum(rng.normal(size=(n_systems, 200, 2)), axis=1)
    futures = history[:, -1][:, None, None] + np.cumsum(
        rng.normal(size=(n_systems, 300, 5, 2)), axis=2)
    return _Bench(history, futures)


def test_oracle_scores_zero_for_the_oracle_itself():
    rng = np.random.default_rng(1)
    law = lambda n: np.cumsum(rng.normal(size=(n, 4, 3)), axis=1)  # noqa: E731
    same = [oracle_scores(law(300), law(300)) for _ in range(20)]
    shifted = oracle_scores(law(300) + 1.0, law(300))
    for metric in ("energy_distance", "marginal_energy"):
        values = np.array([s[metric].mean() for s in same])
        se = values.std(ddof=1) / np.sqrt(len(values))
        assert abs(values.mean()) < 4 * se
        assert shifted[metric].mean() > 10 * (abs(values.mean()) + 4 * se)
    # expected CRPS-sum: smaller for the right law than for the shifted one
    assert np.mean([s["crps_sum"].mean() for s in same]) < shifted["crps_sum"].mean()


def test_correlation_error_sees_dependence_and_ignores_marginals():
    rng = np.random.default_rng(2)
    C = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.0], [0.3, 0.0, 1.0]])
    chol = np.linalg.cholesky(C)

    def law(n, mix=chol, scale=1.0):
        return scale * np.cumsum(rng.normal(size=(n, 4, 3)) @ mix.T, axis=1)

    futures = law(2000)
    right = oracle_scores(law(2000, scale=7.0), futures)["correlation_error"]  # wrong scale
    indep = oracle_scores(law(2000, np.eye(3)), futures)["correlation_error"]
    # the Monte Carlo error of a correlation from 2000 pairs is about 1/sqrt(2000) = 0.022
    assert right.shape == (4,) and np.all(right < 0.05)
    np.testing.assert_allclose(indep, np.abs(C[np.triu_indices(3, 1)]).mean(), atol=0.05)
    single = oracle_scores(law(50)[..., :1], futures[..., :1])["correlation_error"]
    assert np.isnan(single).all()
    # a constant target is uncorrelated with the others, not NaN
    const = futures.copy()
    const[..., 2] = 5.0
    assert np.isfinite(oracle_scores(const, futures)["correlation_error"]).all()


def test_run_and_summarize():
    bench = _bench()
    models = {"iid": HistoricalSimulation(), "stationary": HistoricalSimulation("stationary")}
    res = run_oracle_benchmark(models, bench, n_samples=100, random_state=0)
    assert set(res["metric"]) == set(ORACLE_METRICS)
    assert len(res) == 2 * 3 * len(ORACLE_METRICS) * 5  # models x systems x metrics x horizons
    table = summarize_benchmark(res, horizons=(1, 5))
    assert list(table.columns) == ["mean", "h=1", "h=5", "n_systems"]
    manual = res[(res.metric == "crps_sum") & (res.model == "iid")]["value"].mean()
    assert table.loc[("crps_sum", "iid"), "mean"] == pytest.approx(manual)
    # reproducible, and the same seeds for every model
    again = run_oracle_benchmark(models, bench, n_samples=100, random_state=0)
    np.testing.assert_array_equal(res["value"], again["value"])


def test_failures_are_reported_and_excluded():
    bench = _bench()
    bench.history = bench.history.copy()
    bench.history[1, :, :] = 3.0  # constant: too short for nothing, but DCC-like models fail
    from jointdist.models import DCCGarchForecaster

    with pytest.warns(RuntimeWarning, match="dcc failed on system 1"):
        res = run_oracle_benchmark({"hs": HistoricalSimulation(), "dcc": DCCGarchForecaster()},
                                   bench, n_samples=50)
    table = summarize_benchmark(res)
    assert (table["n_systems"] == 2).all()
    assert summarize_benchmark(res, common_systems=False).loc[
        ("energy_distance", "hs"), "n_systems"] == 3


def test_plots_return_figures():
    from jointdist.plotting import (
        plot_fan_chart,
        plot_metric_by_horizon,
        plot_pairwise_samples,
    )

    bench = _bench()
    samples = bench.futures[0]
    fig = plot_fan_chart(samples, bench.history[0], names=["a", "b"])
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "a"
    fig = plot_pairwise_samples(samples, reference=bench.futures[1])
    assert len(fig.axes) == 4
    res = run_oracle_benchmark({"iid": HistoricalSimulation()}, bench, n_samples=50)
    fig = plot_metric_by_horizon(res)
    assert len(fig.axes) == len(ORACLE_METRICS)  # one panel per metric
    with pytest.raises(ValueError, match="shape"):
        plot_fan_chart(samples[0])
    from jointdist.plotting import plot_pit_diagnostics

    pit = np.random.default_rng(0).uniform(size=(500, 3))
    fig = plot_pit_diagnostics(pit, names=["a", "b", "c"])
    assert len(fig.axes) == 2 and "KS p=" in fig.axes[1].get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="columns"):
        plot_metric_by_horizon(res.drop(columns="metric"))


def test_oracle_energy_distance_equals_the_metric():
    from jointdist.metrics import energy_distance

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(60, 4, 3)), rng.normal(size=(80, 4, 3)) + 0.2
    # the oracle scores use the (centred) Gram form of the distances, the metric the
    # direct form: they agree to far below any Monte Carlo error
    np.testing.assert_allclose(oracle_scores(a, b)["energy_distance"],
                               energy_distance(a, b, per_horizon=True), rtol=1e-8, atol=1e-9)
    far = oracle_scores(a + 1e6, b + 1e6)["energy_distance"]  # far from the origin
    np.testing.assert_allclose(far, energy_distance(a, b, per_horizon=True), rtol=1e-8,
                               atol=1e-9)


def _correlated_walks(rng, n, C, scale=1.0, horizon=4):
    chol = np.linalg.cholesky(C)
    return scale * np.cumsum(rng.normal(size=(n, horizon, C.shape[0])) @ chol.T, axis=1)


def test_scale_free_metrics_ignore_units_and_vanish_for_the_oracle():
    rng = np.random.default_rng(4)
    C = np.full((4, 4), 0.6) + 0.4 * np.eye(4)
    futures = _correlated_walks(rng, 800, C)
    samples = _correlated_walks(rng, 800, np.eye(4))  # right marginals, no dependence
    base = oracle_scores(samples, futures)
    # per-target units and offsets do not change the scale-free scores
    units = np.array([1e-3, 1.0, 1e2, 1e4])
    moved = oracle_scores(samples * units + 5e3, futures * units + 5e3)
    for metric in set(SCALE_FREE_METRICS) - {"normalized_energy_distance"}:
        np.testing.assert_allclose(moved[metric], base[metric], rtol=1e-6, atol=1e-9)
    # the normalized energy distance is free of a common scale (not of per-target units)
    common = oracle_scores(samples * 1e5, futures * 1e5)
    np.testing.assert_allclose(common["normalized_energy_distance"],
                               base["normalized_energy_distance"], rtol=1e-9)
    # the oracle against itself: every divergence is zero within Monte Carlo error
    same = [oracle_scores(_correlated_walks(rng, 400, C), _correlated_walks(rng, 400, C))
            for _ in range(12)]
    for metric in ("normalized_energy_distance", "standardized_energy_distance",
                   "variogram_divergence", "portfolio_energy"):
        values = np.array([s[metric].mean() for s in same])
        se = values.std(ddof=1) / np.sqrt(len(values))
        assert abs(values.mean()) < 4 * se + 1e-12, metric
        # ... and the independent forecast is clearly worse on the dependence scores
        assert base[metric].mean() > values.mean() + 10 * se, metric


def test_variogram_divergence_closed_form():
    # two points masses: E_P g - E_Q g is known exactly, and the variance terms vanish
    x = np.zeros((5, 1, 3))
    x[..., 1] = 4.0
    y = np.zeros((7, 1, 3))
    y[..., 1] = 1.0
    # pairs (0,1): |4|^.5=2 vs 1; (0,2): 0 vs 0; (1,2): 2 vs 1 -> mean of (1, 0, 1)
    np.testing.assert_allclose(variogram_divergence(x, y), [2.0 / 3.0])
    assert np.isnan(variogram_divergence(x[..., :1], y[..., :1])).all()


def test_dependence_scores_rank_a_wrong_correlation_below_a_wrong_scale():
    # energy distance barely sees a wrong correlation; the dependence scores do
    rng = np.random.default_rng(5)
    C = np.full((6, 6), 0.7) + 0.3 * np.eye(6)
    futures = _correlated_walks(rng, 1500, C)
    indep = oracle_scores(_correlated_walks(rng, 1500, np.eye(6)), futures)
    right = oracle_scores(_correlated_walks(rng, 1500, C), futures)
    for metric in ("variogram_divergence", "portfolio_energy", "standardized_energy_distance"):
        assert indep[metric].mean() > 5 * abs(right[metric].mean()) + 1e-3, metric


def test_relative_skill_ratios_bootstrap_and_share():
    rng = np.random.default_rng(6)
    scale = np.exp(rng.normal(size=60) * 3)  # units of very different scales
    scores = pd.DataFrame({"a": scale * 1.0, "b": scale * 1.2,
                           "m": scale * np.exp(rng.normal(-0.2, 0.1, size=60))})
    table = relative_skill(scores, ["a", "b"], n_bootstrap=500)
    assert table.loc["m", "best_baseline"] == "a"
    assert table.loc["a", "ratio_of_means"] == 1.0 and table.loc["a", "geo_mean_ratio"] == 1.0
    np.testing.assert_allclose(table.loc["b", "geo_mean_ratio"], 1.2)
    geo = np.exp(np.mean(np.log(scores["m"] / scores["a"])))
    np.testing.assert_allclose(table.loc["m", "geo_mean_ratio"], geo)
    assert table.loc["m", "geo_low"] < geo < table.loc["m", "geo_high"] < 1.0
    assert table.loc["m", "share_won"] == (scores["m"] < scores["a"]).mean()
    assert table.loc["m", "ratio_low"] <= table.loc["m", "ratio_of_means"] <= table.loc[
        "m", "ratio_high"]
    # rows with a missing score are dropped for every model
    holes = scores.copy()
    holes.iloc[0, 2] = np.nan
    assert relative_skill(holes, ["a"], n_bootstrap=10)["n_units"].eq(59).all()
    with pytest.raises(ValueError, match="baselines"):
        relative_skill(scores, ["zz"])
    with pytest.raises(ValueError, match="confidence"):
        relative_skill(scores, ["a"], confidence=1.5)


@given(st.floats(1e-6, 1e6), st.permutations(range(4)))
def test_oracle_scores_invariances(scale, order):
    # scale-free scores do not change with a common scale, nor with the target order
    rng = np.random.default_rng(7)
    C = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    futures = _correlated_walks(rng, 120, C, horizon=2)
    samples = _correlated_walks(rng, 90, np.eye(4), horizon=2) * 1.3
    base = oracle_scores(samples, futures)
    moved = oracle_scores(samples[..., list(order)] * scale, futures[..., list(order)] * scale)
    for metric in ("normalized_energy_distance", "standardized_energy_distance",
                   "variogram_divergence", "correlation_error"):
        np.testing.assert_allclose(moved[metric], base[metric], rtol=1e-7, atol=1e-12)


def test_standardized_scores_skip_coordinates_where_the_oracle_is_deterministic():
    # a target that the oracle holds fixed at the first step (e.g. a variance at zero)
    # has no scale there: it is left out of the standardized scores instead of blowing
    # them up by 1 / sd
    rng = np.random.default_rng(9)
    C = np.full((3, 3), 0.5) + 0.5 * np.eye(3)
    futures = _correlated_walks(rng, 400, C, horizon=3)
    samples = _correlated_walks(rng, 400, C, horizon=3)
    futures[:, 0, 2] = 7.0
    samples[:, 0, 2] = 7.0 + rng.normal(size=400)  # spreads where the truth does not
    scores = oracle_scores(samples, futures)
    for metric in ("standardized_energy_distance", "variogram_divergence",
                   "portfolio_energy"):
        assert np.all(np.abs(scores[metric]) < 1.0), (metric, scores[metric])
    # the raw and normalized energy distances still see the spurious spread
    assert scores["normalized_energy_distance"][0] > 5 * abs(
        scores["normalized_energy_distance"][1:]).max()
    # a horizon where no target varies (curriculum level 0 is deterministic): the
    # standardized scores are undefined there, not a perfect 0 for any forecast
    futures[:, 0, :] = 7.0
    scores = oracle_scores(samples, futures)
    for metric in ("standardized_energy_distance", "variogram_divergence",
                   "portfolio_energy"):
        assert np.isnan(scores[metric][0]) and np.all(np.isfinite(scores[metric][1:]))
    assert np.all(np.isfinite(scores["normalized_energy_distance"]))


def test_summary_leaves_out_a_metric_undefined_on_every_system():
    """A deterministic oracle (curriculum level 0) has no standardized scores: the
    scale-free summary says so and compares on the metrics that are defined."""
    from jointdist.evaluation import summarize_relative

    rng = np.random.default_rng(4)
    rows = []
    for system in range(6):
        futures = np.full((50, 2, 3), 5.0) + 1e-9 * system  # no target varies
        for model, noise in (("hs", 0.3), ("dcc", 0.2), ("fm", 0.1)):
            samples = futures[:40] + noise * rng.normal(size=(40, 2, 3))
            for metric, values in oracle_scores(samples, futures).items():
                rows += [{"system": system, "model": model, "metric": metric,
                          "horizon": h + 1, "value": v} for h, v in enumerate(values)]
    results = pd.DataFrame(rows)
    with pytest.warns(RuntimeWarning, match="undefined on every system"):
        table = summarize_relative(results, n_bootstrap=50)
    metrics = set(table.index.get_level_values("metric"))
    assert "standardized_energy_distance" not in metrics
    assert "correlation_error" in metrics


def test_error_decomposition_removes_the_part_it_corrects():
    """Each oracle-corrected copy loses the error of the part it corrects, and only it."""
    rng = np.random.default_rng(3)
    C = np.full((3, 3), 0.8) + 0.2 * np.eye(3)
    law = lambda n, c=C: _correlated_walks(rng, n, c)  # noqa: E731
    futures = law(500)
    # Monte Carlo noise of every variant for the oracle's own law
    noise = np.array([[error_decomposition(law(500), futures)[v].mean()
                       for v in DECOMPOSITION_VARIANTS] for _ in range(10)])
    floor = 4 * noise.std(ddof=1) + np.abs(noise.mean())
    moved = law(500) + 1.0
    shifted = error_decomposition(moved, futures)
    wide = error_decomposition(law(500) * 1.6, futures)
    independent = error_decomposition(law(500, np.eye(3)), futures)
    mean = {k: {v: d[v].mean() for v in DECOMPOSITION_VARIANTS}
            for k, d in (("shifted", shifted), ("wide", wide), ("ind", independent))}
    assert mean["shifted"]["as_forecast"] > 20 * floor
    assert mean["shifted"]["oracle_scale"] > 20 * floor
    assert abs(mean["shifted"]["oracle_location"]) < floor
    assert mean["wide"]["oracle_location"] > 5 * floor
    assert abs(mean["wide"]["oracle_scale"]) < floor
    assert abs(mean["wide"]["oracle_location_scale"]) < floor
    # a wrong dependence is not a location or scale error: no correction removes it
    assert min(mean["ind"].values()) > 5 * floor
    np.testing.assert_allclose(shifted["as_forecast"],
                               oracle_scores(moved, futures)["normalized_energy_distance"])
    with pytest.raises(ValueError, match="shapes"):
        error_decomposition(futures[:, :2], futures)


@given(st.floats(1e-6, 1e6), st.floats(-1e3, 1e3), st.permutations(range(4)))
def test_error_decomposition_is_scale_free(scale, shift, order):
    rng = np.random.default_rng(8)
    C = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    futures = _correlated_walks(rng, 120, C, horizon=2)
    samples = _correlated_walks(rng, 90, np.eye(4), horizon=2) * 1.3 + 0.4
    base = error_decomposition(samples, futures)
    moved = error_decomposition(samples[..., list(order)] * scale + shift * scale,
                                futures[..., list(order)] * scale + shift * scale)
    for variant in DECOMPOSITION_VARIANTS:
        np.testing.assert_allclose(moved[variant], base[variant], rtol=1e-6, atol=1e-9)


def test_run_oracle_benchmark_decompose_adds_the_corrected_scores():
    bench = _bench(n_systems=2)
    res = run_oracle_benchmark({"iid": HistoricalSimulation()}, bench, n_samples=80,
                               random_state=0, decompose=True)
    assert set(res["metric"]) == set(ORACLE_METRICS) | set(DECOMPOSITION_METRICS)
    one = res[(res["system"] == 0)].pivot(index="horizon", columns="metric", values="value")
    samples = HistoricalSimulation().fit(bench.history[0]).predict_samples(
        5, 80, random_state=0)
    parts = error_decomposition(samples, bench.futures[0])
    np.testing.assert_allclose(one["normalized_energy_distance"], parts["as_forecast"])
    np.testing.assert_allclose(one["normalized_energy_distance_oracle_location"],
                               parts["oracle_location"])
    table = summarize_decomposition(pd.concat([res, run_oracle_benchmark(
        {"plain": HistoricalSimulation()}, bench, n_samples=80, random_state=0)]))
    assert list(table.index) == ["iid"]  # a model scored without decompose is left out
    per_system = res[res["metric"] == "normalized_energy_distance"].groupby(
        "system")["value"].mean()
    np.testing.assert_allclose(table.loc["iid", "as_forecast"], per_system.mean())
    np.testing.assert_allclose(table.loc["iid", "location_share"],
                               1 - table.loc["iid", "oracle_location"] / per_system.mean())
