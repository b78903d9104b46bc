"""backtest and compare: equal to a hand-written loop, reproducible across n_jobs."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import TimeSeriesSplit
from sktime.split import ExpandingWindowSplitter, SlidingWindowSplitter
from threadpoolctl import threadpool_limits

from jointdist import DCCGarchForecaster, HistoricalSimulation
from jointdist.metrics import crps, energy_score, get_scorer, make_joint_scorer
from jointdist.model_selection import SCORE_COLUMNS, backtest, compare, rolling_origin_cv
from jointdist.sktime import to_sktime

matplotlib.use("Agg")
pytestmark = pytest.mark.filterwarnings("ignore:.*remember_data:FutureWarning")


def _walk(n=90, k=3, seed=0):
    return 50.0 + np.random.default_rng(seed).normal(size=(n, k)).cumsum(axis=0)


def _seeds(random_state, n):
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(random_state).spawn(n)]


def test_backtest_equals_a_hand_written_loop():
    y = _walk()
    model = HistoricalSimulation(method="stationary", mean_block_length=4.0)
    result = backtest(model, y, cv=rolling_origin_cv(4, n_origins=3, step_length=5),
                      scoring=["energy_score", "crps"], n_samples=150, random_state=11)
    assert list(result.columns) == SCORE_COLUMNS
    assert len(result) == 6

    rows = []
    for end, seed in zip([76, 81, 86], _seeds(11, 3)):  # 90 - 4 - 2 * 5 = 76
        fitted = HistoricalSimulation(method="stationary", mean_block_length=4.0).fit(y[:end])
        samples = fitted.predict_samples(4, n_samples=150, random_state=seed)
        rows.append((end - 1, 4, "neg_energy_score", -energy_score(y[end:end + 4], samples)))
        rows.append((end - 1, 4, "neg_crps", -crps(y[end:end + 4], samples)))
    expected = pd.DataFrame(rows, columns=["origin", "horizon", "metric", "value"])
    pd.testing.assert_frame_equal(result[expected.columns], expected, check_dtype=False)
    assert (result[["fit_time", "predict_time"]] >= 0).all().all()


def test_non_contiguous_sktime_splitter_and_pandas_origins():
    y = pd.DataFrame(_walk(), index=pd.date_range("2022-01-03", periods=90, freq="B"),
                     columns=["a", "b", "c"])
    cv = ExpandingWindowSplitter(fh=[1, 3], initial_window=70, step_length=9)
    result = backtest(HistoricalSimulation(), y, cv=cv, scoring="neg_energy_score",
                      n_samples=100, random_state=0)
    assert list(result["origin"]) == [y.index[69], y.index[78]]
    assert list(result["horizon"]) == [3, 3]
    for (_, row), seed in zip(result.iterrows(), _seeds(0, 2)):
        end = y.index.get_loc(row["origin"]) + 1
        s = HistoricalSimulation().fit(y.iloc[:end]).predict_samples(3, 100, random_state=seed)
        truth = y.to_numpy()[[end, end + 2]]
        assert row["value"] == pytest.approx(-energy_score(truth, s[:, [0, 2]]))


def test_rolling_windows_are_used():
    y = _walk(n=60)
    cv = SlidingWindowSplitter(fh=[1, 2], window_length=20, step_length=15)
    result = backtest(HistoricalSimulation(), y, cv=cv, n_samples=80, random_state=3)
    for (_, row), seed in zip(result.iterrows(), _seeds(3, len(result))):
        end = row["origin"] + 1
        s = HistoricalSimulation().fit(y[end - 20:end]).predict_samples(2, 80, random_state=seed)
        assert row["value"] == pytest.approx(-energy_score(y[end:end + 2], s))


@pytest.mark.parametrize("model", [HistoricalSimulation(method="filtered"),
                                   DCCGarchForecaster()], ids=["historical", "dcc"])
def test_n_jobs_2_gives_the_same_numbers_as_n_jobs_1(model):
    y = _walk(n=100)
    kwargs = dict(cv=rolling_origin_cv(5, n_origins=2), n_samples=200, random_state=5,
                  scoring=["energy_score", "variogram_score", "crps_sum"])
    # joblib's workers run BLAS on one thread; the DCC optimizer's result depends on the
    # BLAS thread count in the last digits, so the sequential run uses one thread too
    with threadpool_limits(1):
        one = backtest(model, y, n_jobs=1, **kwargs)
    two = backtest(model, y, n_jobs=2, **kwargs)
    pd.testing.assert_frame_equal(one.drop(columns=["fit_time", "predict_time"]),
                                  two.drop(columns=["fit_time", "predict_time"]))


def test_per_horizon_scores_average_to_the_overall_score():
    y = _walk()
    cv = TimeSeriesSplit(n_splits=2, test_size=6)  # scikit-learn splitters work too
    overall = backtest(HistoricalSimulation(), y, cv=cv, n_samples=100, random_state=2)
    steps = backtest(HistoricalSimulation(), y, cv=cv, n_samples=100, random_state=2,
                     per_horizon=True)
    assert len(steps) == 2 * 6
    assert list(steps["horizon"][:6]) == [1, 2, 3, 4, 5, 6]
    mean_by_origin = steps.groupby("origin", sort=False)["value"].mean().to_numpy()
    np.testing.assert_allclose(mean_by_origin, overall["value"].to_numpy())


def test_scorers_by_name_object_dict_and_callable():
    y = _walk()
    cv = rolling_origin_cv(3, n_origins=2)

    def neg_max_abs_error(y_true, y_samples):  # a custom score, greater is better
        return -np.abs(np.median(y_samples, axis=0) - y_true).max()

    custom = make_joint_scorer(neg_max_abs_error, greater_is_better=True)
    result = backtest(HistoricalSimulation(), y, cv=cv, n_samples=60, random_state=0,
                      scoring={"es": "energy_score", "mae": custom,
                               "vs": get_scorer("variogram_score")})
    assert list(result["metric"][:3]) == ["es", "mae", "vs"]
    assert (result["value"] <= 0).all()
    # a scikit-learn-style callable scorer(estimator, X, y) draws its own samples
    scorer = get_scorer("energy_score", n_samples=60, random_state=9)

    def my_scorer(estimator, X, y_future):
        return scorer(estimator, X, y_future)

    plain = backtest(HistoricalSimulation(random_state=4), y, cv=cv, scoring=my_scorer)
    assert plain["metric"].unique().tolist() == ["my_scorer"]
    fitted = HistoricalSimulation().fit(y[:84])
    s = fitted.predict_samples(3, 60, random_state=9)
    assert plain["value"].iloc[0] == pytest.approx(-energy_score(y[84:87], s))


def test_adapter_is_unwrapped():
    y = _walk()
    cv = rolling_origin_cv(3, n_origins=2)
    a = backtest(HistoricalSimulation(), y, cv=cv, n_samples=50, random_state=1)
    b = backtest(to_sktime(HistoricalSimulation()), y, cv=cv, n_samples=50, random_state=1)
    pd.testing.assert_frame_equal(a.drop(columns=["fit_time", "predict_time"]),
                                  b.drop(columns=["fit_time", "predict_time"]))


def test_rolling_origin_cv_positions():
    cv = rolling_origin_cv(4, n_origins=3, step_length=2)
    splits = list(cv.split(np.zeros(20)))
    assert [(tr[0], tr[-1], list(te)) for tr, te in splits] == [
        (0, 11, [12, 13, 14, 15]), (0, 13, [14, 15, 16, 17]), (0, 15, [16, 17, 18, 19])]
    rolling = rolling_origin_cv(4, n_origins=2, window_length=5)
    assert [len(tr) for tr, _ in rolling.split(np.zeros(20))] == [5, 5]
    assert cv.get_n_splits() == 3
    with pytest.raises(ValueError, match="too short"):
        list(rolling_origin_cv(10, n_origins=3).split(np.zeros(25)))


def test_errors():
    y = _walk()
    cv = rolling_origin_cv(3, n_origins=2)
    with pytest.raises(ValueError, match="Unknown metric"):
        backtest(HistoricalSimulation(), y, cv=cv, scoring="mse")
    with pytest.raises(ValueError, match="unique"):
        backtest(HistoricalSimulation(), y, cv=cv, scoring=["crps", "neg_crps"])
    with pytest.raises(ValueError, match="empty"):
        backtest(HistoricalSimulation(), y, cv=cv, scoring=[])
    with pytest.raises(ValueError, match="random_state"):
        backtest(HistoricalSimulation(), y, cv=cv, random_state=np.random.default_rng(0))
    with pytest.raises(ValueError, match="split"):
        backtest(HistoricalSimulation(), y, cv=3)
    with pytest.raises(ValueError, match="after the last training position"):
        backtest(HistoricalSimulation(), y, cv=_FixedSplits([(np.arange(10), np.arange(5, 8))]))
    with pytest.raises(TypeError, match="jointdist forecaster"):
        backtest(HistoricalSimulation, y, cv=cv)
    with pytest.raises(ValueError, match="per-step scores need JointScorer"):
        backtest(HistoricalSimulation(), y, cv=cv, per_horizon=True,
                 scoring=lambda est, X, yf: 0.0)
    gappy = ExpandingWindowSplitter(fh=[1, 3], initial_window=80)
    with pytest.raises(ValueError, match="non-contiguous"):
        backtest(HistoricalSimulation(), y, cv=gappy, scoring=lambda est, X, yf: 0.0)
    with pytest.raises(ValueError, match="non-empty dict"):
        compare([HistoricalSimulation()], y, cv=cv)


class _FixedSplits:
    def __init__(self, splits):
        self.splits = splits

    def split(self, y):
        return iter(self.splits)


def test_compare_summary_and_plot():
    y = _walk(n=100)
    cv = rolling_origin_cv(5, n_origins=3)
    result = compare({"iid": HistoricalSimulation(), "iid again": HistoricalSimulation(),
                      "block": HistoricalSimulation(method="stationary")},
                     y, cv=cv, scoring=["energy_score", "crps"], n_samples=100, random_state=0)
    scores = result.scores
    assert list(scores.columns) == ["model"] + SCORE_COLUMNS and len(scores) == 3 * 3 * 2
    assert len(result.scores_per_horizon) == 3 * 3 * 2 * 5
    # the same per-origin seeds for every model: identical models score identically
    np.testing.assert_array_equal(scores.loc[scores["model"] == "iid", "value"].to_numpy(),
                                  scores.loc[scores["model"] == "iid again", "value"].to_numpy())
    # and equal a single backtest
    alone = backtest(HistoricalSimulation(method="stationary"), y, cv=cv,
                     scoring=["energy_score", "crps"], n_samples=100, random_state=0)
    np.testing.assert_allclose(scores.loc[scores["model"] == "block", "value"].to_numpy(),
                               alone["value"].to_numpy())

    summary = result.summary()
    assert list(summary.index) == ["iid", "iid again", "block"]
    es = scores[scores["metric"] == "neg_energy_score"].groupby("model")["value"].mean()
    np.testing.assert_allclose(summary[("neg_energy_score", "mean")], es[summary.index])
    best = summary[("neg_energy_score", "mean")].idxmax()
    assert summary.loc[best, ("neg_energy_score", "rank")] == 1
    assert ("fit_time", "mean") in summary.columns

    fig = result.plot()
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 3
    line = fig.axes[1].get_lines()[2]  # "block", neg_crps, mean over origins per step
    per_step = result.scores_per_horizon
    sel = per_step[(per_step["model"] == "block") & (per_step["metric"] == "neg_crps")]
    np.testing.assert_allclose(line.get_ydata(), sel.groupby("horizon")["value"].mean())
    assert len(result.plot("neg_crps").axes) == 1
    with pytest.raises(ValueError, match="Unknown metric"):
        result.plot("energy")
    matplotlib.pyplot.close("all")
