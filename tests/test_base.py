"""The shared forecaster contract (jointdist.base), exercised through a tiny model."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from jointdist import NotFittedError
from jointdist.base import (
    BaseJointForecaster,
    check_horizon,
    check_n_samples,
    check_target_array,
    increments_from_levels,
    levels_from_increments,
)
from jointdist.models import HistoricalSimulation


class GaussianIncrements(BaseJointForecaster):
    """Test model: i.i.d. Gaussian increments with the history's mean and covariance."""

    def __init__(self, returns="diff", random_state=None):
        self.returns = returns
        self.random_state = random_state

    def _min_history_length(self, n_targets):
        return 3

    def _fit(self, y, X):
        inc = self._history_increments(y)
        self.mean_ = inc.mean(axis=0)
        self.cov_ = np.atleast_2d(np.cov(inc, rowvar=False))

    def _predict_samples(self, horizon, n_samples, rng):
        return rng.multivariate_normal(self.mean_, self.cov_, size=(n_samples, horizon))


def _walk(n=100, k=3, seed=0):
    return 50.0 + np.cumsum(np.random.default_rng(seed).normal(size=(n, k)), axis=0)


# ---------------------------------------------------------------- input validation
def test_one_dimensional_input_is_one_target():
    model = GaussianIncrements(random_state=0).fit(_walk(k=1)[:, 0])
    assert model.n_targets_ == 1
    assert model.predict_samples(4, 10).shape == (10, 4, 1)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((5, 2, 2)), "3 dimensions"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN or infinite"),
    (np.array([[1.0, np.inf], [2.0, 3.0]]), "NaN or infinite"),
    (np.zeros((0, 3)), "empty"),
    ([["a", "b"], ["c", "d"]], "numeric"),
    (pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]}), "non-numeric"),
])
def test_bad_y_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        GaussianIncrements().fit(bad)


def test_nan_error_names_its_position():
    y = _walk()
    y[17, 2] = np.nan
    with pytest.raises(ValueError, match="row 17, column 2"):
        check_target_array(y)


@given(st.one_of(st.integers(max_value=0), st.floats(), st.just(True), st.text()))
def test_bad_horizon_and_n_samples_are_refused(value):
    with pytest.raises(ValueError):
        check_horizon(value)
    with pytest.raises(ValueError):
        check_n_samples(value)


def test_numpy_integers_are_accepted():
    assert check_horizon(np.int64(5)) == 5


def test_too_short_history():
    with pytest.raises(ValueError, match="at least 3 rows"):
        GaussianIncrements().fit(_walk(n=2))


@pytest.mark.parametrize("method", ["predict_samples", "predict_mean", "predict_quantiles",
                                    "predict_interval"])
def test_predict_before_fit(method):
    with pytest.raises(NotFittedError):
        getattr(GaussianIncrements(), method)(5)


def test_exogenous_features_refused_by_models_without_them():
    with pytest.raises(ValueError, match="exogenous"):
        GaussianIncrements().fit(_walk(), X=np.zeros((100, 2)))


def test_check_n_targets_against_fit():
    model = GaussianIncrements().fit(_walk(k=3))
    assert model.check_n_targets(np.zeros((4, 3))).shape == (4, 3)
    with pytest.raises(ValueError, match="2 target"):
        model.check_n_targets(np.zeros((4, 2)))


# ---------------------------------------------------------------- returns
@pytest.mark.parametrize("returns", ["diff", "log", "pct", None])
@given(arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 4)),
              elements=st.floats(0.1, 1e3)))
def test_increments_round_trip(returns, y):
    inc = increments_from_levels(y, returns)
    back = levels_from_increments(y[0], inc, returns)
    expected = y[1:] if returns is not None else y
    np.testing.assert_allclose(back, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("returns", ["log", "pct"])
def test_relative_returns_need_positive_levels(returns):
    y = _walk() - 60.0
    with pytest.raises(ValueError, match="strictly positive"):
        GaussianIncrements(returns=returns).fit(y)


def test_unknown_returns_type():
    with pytest.raises(ValueError, match="returns must be one of"):
        GaussianIncrements(returns="levels").fit(_walk())


def test_paths_start_from_last_observation():
    y = _walk()
    model = GaussianIncrements(random_state=1).fit(y)
    samples = model.predict_samples(6, 5000)
    # first step = last level + one increment of mean mu and covariance S: check the mean
    first = samples[:, 0, :] - y[-1]
    se = np.sqrt(np.diag(model.cov_) / 5000)
    assert np.all(np.abs(first.mean(axis=0) - model.mean_) < 4 * se)


def test_returns_none_keeps_increments():
    r = np.random.default_rng(3).normal(scale=0.01, size=(200, 2))
    model = GaussianIncrements(returns=None, random_state=0).fit(r)
    s = model.predict_samples(3, 2000)
    assert abs(s.mean()) < 4 * 0.01 / np.sqrt(s.size / 2)  # increments, not levels


def test_log_returns_stay_positive():
    y = np.exp(np.cumsum(np.random.default_rng(2).normal(scale=0.3, size=(300, 2)), axis=0))
    s = GaussianIncrements(returns="log", random_state=0).fit(y).predict_samples(50, 500)
    assert (s > 0).all()


# ---------------------------------------------------------------- randomness
def test_random_state_reproducible():
    y = _walk()
    a = GaussianIncrements(random_state=7).fit(y).predict_samples(5, 20)
    b = GaussianIncrements(random_state=7).fit(y).predict_samples(5, 20)
    np.testing.assert_array_equal(a, b)
    model = GaussianIncrements().fit(y)
    np.testing.assert_array_equal(model.predict_samples(5, 20, random_state=3),
                                  model.predict_samples(5, 20, random_state=3))
    assert not np.array_equal(model.predict_samples(5, 20), model.predict_samples(5, 20))
    # a call-level seed overrides the estimator's
    model7 = GaussianIncrements(random_state=7).fit(y)
    assert not np.array_equal(model7.predict_samples(5, 20, random_state=8), a)


def test_derived_predictions_agree_with_samples():
    model = GaussianIncrements(random_state=0).fit(_walk())
    s = model.predict_samples(5, 300, random_state=4)
    np.testing.assert_allclose(model.predict_mean(5, 300, random_state=4), s.mean(axis=0))
    q = model.predict_quantiles(5, [0.1, 0.5], 300, random_state=4)
    np.testing.assert_allclose(q, np.quantile(s, [0.1, 0.5], axis=0))
    assert model.predict_quantiles(5, 0.5, 300, random_state=4).shape == (5, 3)
    interval = model.predict_interval(5, 0.8, 300, random_state=4)
    np.testing.assert_allclose(interval, np.quantile(s, [0.1, 0.9], axis=0))
    assert model.predict_interval(5, [0.5, 0.9], 300).shape == (2, 2, 5, 3)


@pytest.mark.parametrize("bad", [1.5, -0.1, [[0.5]], []])
def test_bad_quantiles(bad):
    model = GaussianIncrements().fit(_walk())
    with pytest.raises(ValueError, match="quantiles"):
        model.predict_quantiles(3, bad)


@pytest.mark.parametrize("bad", [0.0, 1.0, [0.5, 1.2]])
def test_bad_coverage(bad):
    model = GaussianIncrements().fit(_walk())
    with pytest.raises(ValueError, match="coverage"):
        model.predict_interval(3, bad)


# ---------------------------------------------------------------- pandas
def test_pandas_labels_are_kept():
    idx = pd.date_range("2024-01-01", periods=100, freq="D")
    y = pd.DataFrame(_walk(), index=idx, columns=["gas", "power", "coal"])
    model = GaussianIncrements(random_state=0).fit(y)
    mean = model.predict_mean(3, 50)
    assert list(mean.columns) == ["gas", "power", "coal"]
    assert list(mean.index) == list(pd.date_range("2024-04-10", periods=3, freq="D"))
    quant = model.predict_quantiles(3, [0.05, 0.95], 50)
    assert quant.columns.tolist()[:2] == [("gas", 0.05), ("gas", 0.95)]
    interval = model.predict_interval(3, 0.9, 50)
    assert interval.columns.tolist()[:2] == [("gas", 0.9, "lower"), ("gas", 0.9, "upper")]
    assert (interval.xs("upper", axis=1, level=2).values
            >= interval.xs("lower", axis=1, level=2).values).all()
    # samples stay a plain array in the units of y
    assert isinstance(model.predict_samples(3, 10), np.ndarray)


def test_future_index_variants():
    model = GaussianIncrements().fit(pd.Series(_walk(k=1)[:, 0], index=np.arange(0, 200, 2)))
    assert list(model.future_index(3)) == [200, 202, 204]
    model.fit(pd.DataFrame(_walk(), index=pd.period_range("2020-01", periods=100, freq="M")))
    assert str(model.future_index(1)[0]) == "2028-05"
    model.fit(_walk())
    assert list(model.future_index(2)) == [1, 2]


# ---------------------------------------------------------------- time order
class ExogenousRecorder(GaussianIncrements):
    """Test model that keeps the features it was fitted with."""

    _accepts_exogenous = True

    def _fit(self, y, X):
        super()._fit(y, X)
        self.X_seen_ = X


def _daily_frame(n=60, k=3, seed=0):
    idx = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.DataFrame(_walk(n, k, seed), index=idx, columns=list("abc")[:k])


def test_unsorted_time_index_is_sorted_with_a_warning():
    """Issue 15.1: a shuffled daily frame was used in file order (paths started from a
    random row and the 1-step spread came out 9-35 times too wide)."""
    y = _daily_frame(500)
    shuffled = y.sample(frac=1, random_state=0)
    reference = HistoricalSimulation(random_state=0).fit(y)
    with pytest.warns(UserWarning, match="sorted by time"):
        model = HistoricalSimulation(random_state=0).fit(shuffled)
    assert model.index_.equals(y.index)
    np.testing.assert_array_equal(model.last_observation_, y.iloc[-1].to_numpy())
    np.testing.assert_array_equal(model.predict_samples(5, 200),
                                  reference.predict_samples(5, 200))
    assert model.predict_mean(2, 10).index[0] == pd.Timestamp("2025-05-15")


_INDEXES = {
    "datetime": pd.date_range("2024-01-01", periods=25, freq="D"),
    "period": pd.period_range("2020-01", periods=25, freq="M"),
    "timedelta": pd.timedelta_range(0, periods=25, freq="h"),
    "integer": pd.Index(np.arange(100, 150, 2)),
}


@given(kind=st.sampled_from(sorted(_INDEXES)), order=st.permutations(list(range(25))))
def test_any_permutation_gives_the_fitted_state_of_the_sorted_history(kind, order):
    y = pd.DataFrame(_walk(25, 2), index=_INDEXES[kind])
    reference = GaussianIncrements(random_state=0).fit(y)
    permuted = y.iloc[list(order)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = GaussianIncrements(random_state=0).fit(permuted)
    assert model.index_.equals(y.index)
    for name in ("last_observation_", "mean_", "cov_"):
        np.testing.assert_array_equal(getattr(model, name), getattr(reference, name))
    np.testing.assert_array_equal(model.predict_samples(3, 5), reference.predict_samples(3, 5))
    assert model.future_index(2).equals(reference.future_index(2))


def test_sorted_input_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GaussianIncrements().fit(_daily_frame())
        GaussianIncrements().fit(_daily_frame().reset_index(drop=True))
        GaussianIncrements().fit(_walk())


@pytest.mark.parametrize("index, match", [
    (pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"]),
     r"2 rows with duplicate time stamps \(e\.g\. 2024-01-02"),
    (pd.DatetimeIndex(["2024-01-01", None, "2024-01-02", "2024-01-03"]), "missing time"),
    (pd.Index([0, 1, 1, 2]), "duplicate time stamps"),
])
def test_duplicate_or_missing_time_stamps_are_refused(index, match):
    y = pd.DataFrame(_walk(4, 2), index=index)
    with pytest.raises(ValueError, match=match):
        GaussianIncrements().fit(y)


def test_an_index_of_labels_is_kept_in_the_order_given():
    y = pd.DataFrame(_walk(10, 2), index=list("jihgfedcba"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = GaussianIncrements().fit(y)
    assert list(model.index_) == list("jihgfedcba")
    np.testing.assert_array_equal(model.last_observation_, y.iloc[-1].to_numpy())


def test_exogenous_features_follow_the_sorted_history():
    y = _daily_frame(40)
    X = pd.DataFrame({"f": np.arange(40.0)}, index=y.index)
    shuffled = y.sample(frac=1, random_state=1)
    with pytest.warns(UserWarning, match="sorted by time"):
        # a pandas X with the same time stamps is aligned by label, in any order
        by_label = ExogenousRecorder().fit(shuffled, X=X.sample(frac=1, random_state=2))
        # an array (or an X with other labels) is aligned by position with the y passed
        by_position = ExogenousRecorder().fit(shuffled, X=X.loc[shuffled.index].to_numpy())
        relabelled = ExogenousRecorder().fit(shuffled,
                                             X=X.loc[shuffled.index].reset_index(drop=True))
    for model in (by_label, by_position, relabelled):
        np.testing.assert_array_equal(model.X_seen_[:, 0], np.arange(40.0))
    # sorted y, shuffled pandas X with the same stamps: X is aligned too
    aligned = ExogenousRecorder().fit(y, X=X.sample(frac=1, random_state=3))
    np.testing.assert_array_equal(aligned.X_seen_[:, 0], np.arange(40.0))
    other_dates = X.set_axis(X.index + pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="same time stamps"):
        ExogenousRecorder().fit(y, X=other_dates)


# ---------------------------------------------------------------- scikit-learn
def test_sklearn_params_and_clone():
    model = HistoricalSimulation("stationary", mean_block_length=5, random_state=3)
    params = model.get_params()
    assert params["mean_block_length"] == 5 and params["method"] == "stationary"
    twin = clone(model.set_params(window=50))
    assert twin.get_params() == model.get_params()
    assert not hasattr(twin, "n_targets_")


# ---------------------------------------------------------------- device helper
def test_device_auto(monkeypatch):
    import torch

    from jointdist import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device(torch.device("cpu")).type == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu-please")
