"""Oracle-futures evaluation (seed 000 protocol) and the plots."""

import matplotlib
import numpy as np
import pytest

from jointdist.evaluation import oracle_scores, run_oracle_benchmark, summarize_benchmark
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
    assert set(res["metric"]) == {"energy_distance", "marginal_energy", "crps_sum",
                                  "correlation_error"}
    assert len(res) == 2 * 3 * 4 * 5  # models x systems x metrics x horizons
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
    assert len(fig.axes) == 4  # one panel per metric
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
    np.testing.assert_allclose(oracle_scores(a, b)["energy_distance"],
                               energy_distance(a, b, per_horizon=True), rtol=1e-10)
