"""HistoricalSimulation: the three bootstraps and their statistical properties."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jointdist.models import HistoricalSimulation
from jointdist.models.historical import _ewma_variance, _stationary_bootstrap_indices

METHODS = ["iid", "stationary", "filtered"]


def _walk(n=300, k=3, seed=0):
    return 100.0 + np.cumsum(np.random.default_rng(seed).normal(size=(n, k)), axis=0)


@pytest.mark.parametrize("method", METHODS)
@given(n=st.integers(12, 60), k=st.integers(1, 5), horizon=st.integers(1, 8),
       n_samples=st.integers(1, 30))
def test_shapes_and_finiteness(method, n, k, horizon, n_samples):
    y = _walk(n, k, seed=n)
    s = HistoricalSimulation(method, random_state=0).fit(y).predict_samples(horizon, n_samples)
    assert s.shape == (n_samples, horizon, k)
    assert np.isfinite(s).all()


@pytest.mark.parametrize("method", ["iid", "stationary"])
def test_whole_rows_are_resampled(method):
    """Every sampled increment is a row of the history: cross-sectional dependence kept."""
    y = _walk()
    s = HistoricalSimulation(method, random_state=1).fit(y).predict_samples(10, 200)
    inc = np.diff(np.concatenate([np.broadcast_to(y[-1], (200, 1, 3)), s], axis=1), axis=1)
    hist = np.diff(y, axis=0)
    dist = np.abs(inc.reshape(-1, 1, 3) - hist[None]).max(axis=-1).min(axis=-1)
    assert dist.max() < 1e-9


def test_window_restricts_the_rows():
    y = _walk()
    model = HistoricalSimulation(window=20, random_state=0).fit(y)
    np.testing.assert_array_equal(model.increments_, np.diff(y, axis=0)[-20:])


def test_iid_mean_matches_history():
    y = _walk(k=2)
    hist = np.diff(y, axis=0)
    s = HistoricalSimulation(random_state=2).fit(y).predict_samples(1, 20000)
    first = s[:, 0] - y[-1]
    se = hist.std(axis=0) / np.sqrt(20000)
    assert np.all(np.abs(first.mean(axis=0) - hist.mean(axis=0)) < 4 * se)


def test_stationary_block_lengths():
    """A block continues with probability 1 - 1/L (plus a restart landing on the next row)."""
    n, L = 500, 8.0
    idx = _stationary_bootstrap_indices(n, 4000, 50, L, np.random.default_rng(0))
    cont = (idx[:, 1:] == (idx[:, :-1] + 1) % n).mean()
    p = (1 - 1 / L) + (1 / L) / n
    se = np.sqrt(p * (1 - p) / idx[:, 1:].size)
    assert abs(cont - p) < 4 * se


def test_stationary_keeps_serial_dependence():
    """AR(1) increments (phi=0.8): iid kills the lag-1 autocorrelation, blocks keep it."""
    rng = np.random.default_rng(4)
    eps = rng.normal(size=2000)
    x = np.zeros(2000)
    for t in range(1, 2000):
        x[t] = 0.8 * x[t - 1] + eps[t]
    y = np.cumsum(x)

    def lag1(method):
        s = HistoricalSimulation(method, mean_block_length=20, random_state=0).fit(y)
        inc = np.diff(s.predict_samples(30, 2000)[..., 0], axis=1)
        a, b = inc[:, :-1].ravel(), inc[:, 1:].ravel()
        return np.corrcoef(a, b)[0, 1]

    assert abs(lag1("iid")) < 0.05
    assert lag1("stationary") > 0.6


def test_ewma_matches_recursion():
    x = np.random.default_rng(0).normal(size=(50, 2))
    s2 = _ewma_variance(x, 0.9)
    ref = np.empty((51, 2))
    ref[0] = np.mean(x**2, axis=0)
    for t in range(1, 51):
        ref[t] = 0.9 * ref[t - 1] + 0.1 * x[t - 1] ** 2
    np.testing.assert_allclose(s2, ref, rtol=1e-12)


def test_filtered_rescales_to_current_volatility():
    """After a turbulent end of history, the first step has the EWMA volatility."""
    rng = np.random.default_rng(5)
    inc = rng.normal(size=(400, 2))
    inc[-40:] *= 4.0
    y = np.cumsum(inc, axis=0)
    model = HistoricalSimulation("filtered", random_state=0).fit(y)
    z = model.residuals_
    s = model.predict_samples(1, 40000)[:, 0] - y[-1]
    # exact moments of the first step: mean + sqrt(s2) * z, z uniform over residual rows
    exp_mean = model.mean_ + np.sqrt(model.sigma2_next_) * z.mean(axis=0)
    exp_std = np.sqrt(model.sigma2_next_) * z.std(axis=0)
    assert np.all(np.abs(s.mean(axis=0) - exp_mean) < 4 * exp_std / np.sqrt(40000))
    # its std is near the recent one, far above the full-sample std the iid bootstrap has
    assert np.all(s.std(axis=0) > 2.0 * np.diff(y, axis=0)[:-40].std(axis=0))
    # residuals reproduce the increments
    sigma = np.sqrt(_ewma_variance(model.increments_ - model.mean_, 0.94)[:-1])
    np.testing.assert_allclose(model.mean_ + sigma * z, model.increments_, atol=1e-10)


def test_constant_series_gives_constant_paths():
    y = np.column_stack([np.full(50, 3.0), np.linspace(0, 1, 50)])
    for method in METHODS:
        s = HistoricalSimulation(method, random_state=0).fit(y).predict_samples(5, 10)
        assert np.isfinite(s).all()
        np.testing.assert_allclose(s[..., 0], 3.0)


def test_returns_none_samples_rows_of_y():
    r = np.random.default_rng(0).normal(size=(100, 2))
    s = HistoricalSimulation(returns=None, random_state=0).fit(r).predict_samples(3, 50)
    assert np.isin(s[..., 0], r[:, 0]).all()


def test_random_state():
    y = _walk()
    for method in METHODS:
        a = HistoricalSimulation(method, random_state=3).fit(y).predict_samples(5, 10)
        b = HistoricalSimulation(method, random_state=3).fit(y).predict_samples(5, 10)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("params, match", [
    ({"method": "garch"}, "method"),
    ({"window": 0}, "window"),
    ({"window": 2.5}, "window"),
    ({"mean_block_length": 0.5}, "mean_block_length"),
    ({"ewma_decay": 1.0}, "ewma_decay"),
])
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        HistoricalSimulation(**params).fit(_walk())


def test_too_short_for_filtered():
    with pytest.raises(ValueError, match="at least 11 rows"):
        HistoricalSimulation("filtered").fit(_walk(n=8))
    with pytest.raises(ValueError, match="needs at least 10 increments"):
        HistoricalSimulation("filtered", window=5).fit(_walk())
