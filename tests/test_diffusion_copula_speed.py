"""The faster sampling path of the diffusion-copula forecaster (issue 16): the ODE on a
subset of the training times, the inverse CDF started from approximate Student-t tails,
the LSTM state shared by the common beginning of the sampled windows."""

import math

import numpy as np
import pytest
import torch
from scipy import special

from jointdist.models.diffusion_copula import (
    ClassificationDiffusionCopula,
    DiffusionCopulaForecaster,
    NLTMixture,
)
from jointdist.models.diffusion_copula import forecaster as dcf
from jointdist.models.diffusion_copula.marginals import build_windows, mdn_mixtures

TINY = dict(max_epochs=3, patience=2, lstm_hidden=8, mlp_hidden=8, n_normal=1, n_laplace=1,
            n_student=2, window=5, random_state=0)


# ------------------------------------------------------------------ ODE on fewer times
class _ExactGaussianRatio:
    """The exact CDC log-ratio ``F_s = log p_s - log p_{K-1}`` of a Gaussian copula (what
    a perfect classifier learns; stands in for the net)."""

    def __init__(self, sigma, alphas):
        eye = np.eye(len(sigma))
        last = np.linalg.inv(alphas[-1] * sigma + (1 - alphas[-1]) * eye)
        self.quad = [torch.as_tensor(np.linalg.inv(a * sigma + (1 - a) * eye) - last)
                     for a in alphas]

    def log_ratio(self, x, s):
        return -0.5 * ((x @ self.quad[s]) * x).sum(1)


def _oracle_cdc(sigma, n_times=20):
    cdc = ClassificationDiffusionCopula(n_times=n_times, t_max=3.0)
    cdc.alphas_ = np.linspace(1.0, math.exp(-6.0), n_times)
    cdc.times_ = -0.5 * np.log(cdc.alphas_)
    cdc.n_dims_ = len(sigma)
    cdc.model_ = _ExactGaussianRatio(sigma, cdc.alphas_)
    cdc._set_covariance(np.eye(len(sigma)), "cpu")
    return cdc


def _pec_map(sigma, alphas, idx, variable="a"):
    """The PEC trapezoidal scheme on the times ``idx`` with exact Gaussian scores, as
    the matrix A of x_0 = x_T A (independent numpy re-derivation): steps in the signal
    fraction ``a`` with the first slope from the next time (the sampler), or in ``t``
    with the first slope at ``t_{K-1}`` (the sampler before 2026-12-01)."""
    d = len(sigma)
    eye = np.eye(d)
    last = np.linalg.inv(alphas[-1] * sigma + (1 - alphas[-1]) * eye)
    grid = alphas if variable == "a" else -0.5 * np.log(alphas)

    def slope_map(s):  # dx/dt = -grad F_s(x) = P x with P = (Sigma_s^-1 - Sigma_K-1^-1)
        p = np.linalg.inv(alphas[s] * sigma + (1 - alphas[s]) * eye) - last
        return p / (-2 * alphas[s]) if variable == "a" else p  # dt/da = -1/(2a)

    a = np.eye(d)
    slope = slope_map(idx[1] if variable == "a" else idx[0])
    for s, s_next in zip(idx[:-1], idx[1:]):
        h = grid[s_next] - grid[s]
        new = (a + h * slope) @ slope_map(s_next)
        a = a + 0.5 * h * (slope + new)
        slope = new
    return a


def _kendall_bias(cdc, rho, d=2, variable="a"):
    """Exact Kendall-tau error of the ODE sampler (linear with exact scores)."""
    sigma = np.full((d, d), rho) + (1 - rho) * np.eye(d)
    a = _pec_map(sigma, cdc.alphas_, cdc._ode_indices(), variable)
    cov = a.T @ a
    return 2 / np.pi * (math.asin(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))
                        - math.asin(rho))


def test_ode_indices_keep_the_first_step_and_both_ends():
    cdc = ClassificationDiffusionCopula(n_times=20)
    assert cdc._ode_indices() == list(range(19, -1, -1))
    cdc.sampling_times = 11
    assert cdc._ode_indices() == [19, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0]
    cdc.sampling_times = 2
    assert cdc._ode_indices() == [19, 0]
    cdc.sampling_times = 40
    assert cdc._ode_indices() == list(range(19, -1, -1))
    for m in range(2, 21):
        cdc.sampling_times = m
        idx = cdc._ode_indices()
        assert len(idx) == m and idx[0] == 19 and idx[-1] == 0
        assert all(a > b for a, b in zip(idx[:-1], idx[1:]))


@pytest.mark.parametrize("bad", [1, 0, 2.5, "11", True])
def test_sampling_times_is_validated(bad):
    u = special.ndtr(np.random.default_rng(0).standard_normal((40, 2)))
    with pytest.raises(ValueError, match="sampling_times"):
        ClassificationDiffusionCopula(sampling_times=bad, max_steps=2).fit(u)


@pytest.mark.parametrize("m", [None, 11, 5])
@pytest.mark.parametrize("rho", [0.7, -0.4])
def test_ode_on_a_subset_of_times_is_the_stated_scheme(m, rho):
    # with exact Gaussian scores the sampler is linear; it must equal the PEC map on
    # the chosen times (float64: to rounding)
    sigma = np.array([[1.0, rho], [rho, 1.0]])
    cdc = _oracle_cdc(sigma)
    cdc.sampling_times = m
    x = torch.as_tensor(np.random.default_rng(1).standard_normal((64, 2)) * 0.1)
    want = x.numpy() @ _pec_map(sigma, cdc.alphas_, cdc._ode_indices())
    np.testing.assert_allclose(cdc._ode(x).numpy(), want, rtol=1e-10, atol=1e-12)


def test_fewer_ode_times_keep_kendall_tau_near_the_truth():
    # exact Gaussian scores, rho = 0.7 (tau 0.4936): the measured biases of the
    # benchmark's ``ode`` study, all 20 times -0.0036 and 8 times -0.0017 (exact, no
    # Monte Carlo), bounded here with a margin
    sigma = np.array([[1.0, 0.7], [0.7, 1.0]])
    truth = 2 / np.pi * math.asin(0.7)
    cdc = _oracle_cdc(sigma)
    for m in (None, 8):
        cdc.sampling_times = m
        a = cdc._ode(torch.eye(2, dtype=torch.float64) * 1e-3).numpy() * 1e3
        cov = a.T @ a
        tau = 2 / np.pi * math.asin(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))
        assert abs(tau - truth) < 0.006, (m, tau)
        assert abs(math.sqrt(cov[0, 0]) - 1) < 0.03  # normal marginals kept


def test_ode_in_the_signal_fraction_on_8_times_beats_the_time_scheme_on_11():
    # the reason for the change of 2026-12-01: stepping in a = exp(-2t), on whose grid
    # the classifier is trained, is more accurate for fewer classifier gradients
    # (exact biases; mean absolute 0.0070 against 0.0124 over the ``ode`` study's cases)
    cdc = _oracle_cdc(np.eye(2))
    new_bias, old_bias = [], []
    for rho in (0.3, 0.7, 0.9, -0.5):
        cdc.sampling_times = 8
        new_bias.append(abs(_kendall_bias(cdc, rho, variable="a")))
        cdc.sampling_times = 11
        old_bias.append(abs(_kendall_bias(cdc, rho, variable="t")))
    assert max(new_bias) < max(old_bias)
    assert np.mean(new_bias) < 0.6 * np.mean(old_bias)


def test_sampling_times_sample_shapes_and_determinism():
    u = special.ndtr(np.random.default_rng(0).multivariate_normal(
        [0, 0], [[1, 0.6], [0.6, 1]], size=300))
    cdc = ClassificationDiffusionCopula(n_times=10, max_steps=40, eval_every=20,
                                        sampling_times=4, random_state=0).fit(u)
    s = cdc.sample(200, rng=3)
    assert s.shape == (200, 2) and np.all((s > 0) & (s < 1))
    np.testing.assert_array_equal(s, cdc.sample(200, rng=3))
    assert not np.array_equal(s, cdc.set_params(sampling_times=None).sample(200, rng=3))
    # sampling_times >= n_times is all of them
    np.testing.assert_array_equal(cdc.sample(50, rng=1),
                                  cdc.set_params(sampling_times=10).sample(50, rng=1))


def test_fast_preset_samples_the_ode_on_eight_times():
    fast = DiffusionCopulaForecaster(**{**TINY, "lstm_hidden": None})
    assert fast._make_copula(0).get_params()["sampling_times"] == 8
    paper = DiffusionCopulaForecaster(preset="paper")
    assert paper._make_copula(0).get_params()["sampling_times"] is None


# ------------------------------------------------------------------ inverse CDF
# the tabulated t tails against stdtr: test_diffusion_copula_carry.py
# (test_approximate_t_tail_meets_its_stated_error, a wider range and a tighter bound)


def _random_mixture(rng, batch=300):
    return NLTMixture(rng.dirichlet(np.ones(6), batch), rng.normal(size=(batch, 6)),
                      np.exp(rng.normal(size=(batch, 6))),
                      2.0 + rng.gamma(1.0, 3.0, size=(batch, 2)), 2, 2)


@pytest.mark.parametrize("tol", [dcf.SAMPLING_ICDF_TOL, 1e-10])
def test_icdf_meets_its_tolerance_with_the_approximate_start(tol):
    rng = np.random.default_rng(7)
    m = _random_mixture(rng)
    u = np.clip(special.ndtr(rng.normal(scale=2.5, size=300)), 1e-12, 1 - 1e-12)
    u[:6] = [1e-12, 1e-9, 0.5, 0.25, 1 - 1e-9, 1 - 1e-12]
    x = m.icdf(u, tol=tol)
    tail = np.where(u > 0.5, 1 - u, u)
    got = np.where(u > 0.5, m.sf(x), m.cdf(x))
    # 10 x: the Newton step accepted unchecked (error about 100 e^2 <= tol)
    assert np.all(np.abs(got - tail) <= 10 * tol * tail + 1e-15)
    # the same root as the plain iterations (df < 2 anywhere disables the start)
    plain = NLTMixture(m.weights, m.loc, m.scale, np.where(np.arange(300)[:, None] == 0,
                                                           1.5, m.df), 2, 2)
    y = plain.icdf(u, tol=tol)
    same = np.arange(300) > 0
    np.testing.assert_allclose(x[same], y[same], rtol=1e3 * tol, atol=1e3 * tol)


# ------------------------------------------------------------------ marginal network
@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.standard_t(4, size=(160, 3)), axis=0)
    return DiffusionCopulaForecaster(copula="gaussian", **TINY).fit(y)


def test_shared_lstm_state_gives_the_whole_window_output(fitted):
    net, k = fitted.marginal_model_, fitted.window
    base = fitted.last_window_.T  # (n, k)
    n, paths = base.shape[0], 6
    rng = np.random.default_rng(2)
    for h in range(k):  # h of the k values are the path's own
        own = rng.standard_normal((paths * n, h))
        windows = np.concatenate([np.tile(base[:, h:], (paths, 1)), own], axis=1)
        tidx = np.tile(np.arange(n), paths)
        with torch.no_grad():
            state = tuple(s.repeat(1, paths, 1) for s in net.lstm_state(
                torch.as_tensor(base[:, h:], dtype=torch.float32)))
        part = mdn_mixtures(net, windows, tidx, "cpu", state=state, n_known=k - h)
        whole = mdn_mixtures(net, windows, tidx, "cpu")
        for f in ("weights", "loc", "scale", "df"):
            np.testing.assert_allclose(getattr(part, f), getattr(whole, f), rtol=1e-6,
                                       atol=1e-7)


def test_numpy_mixture_parameters_match_the_torch_forward(fitted):
    net = fitted.marginal_model_
    windows, _ = build_windows(np.random.default_rng(3).standard_normal((60, 3)),
                               fitted.window)
    w = windows.reshape(-1, fitted.window)
    tidx = np.tile(np.arange(3), windows.shape[0])
    got = mdn_mixtures(net, w, tidx, "cpu")
    with torch.no_grad():
        ref = net(torch.as_tensor(w, dtype=torch.float32), torch.as_tensor(tidx)).to_numpy()
    for f in ("weights", "loc", "scale", "df"):  # float32 rounding of the torch path
        np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.weights.sum(1), 1.0, rtol=1e-12)


def test_paths_longer_and_shorter_than_the_window_are_deterministic(fitted):
    for horizon in (2, fitted.window, fitted.window + 3):
        a = fitted.predict_samples(horizon, 20, random_state=4)
        np.testing.assert_array_equal(a, fitted.predict_samples(horizon, 20, random_state=4))
        assert a.shape == (20, horizon, 3) and np.all(np.isfinite(a))


def test_a_copula_pickled_before_sampling_times_uses_all_times():
    import pickle

    u = special.ndtr(np.random.default_rng(0).standard_normal((60, 2)))
    cdc = ClassificationDiffusionCopula(n_times=6, max_steps=5, random_state=0).fit(u)
    state = dict(cdc.__getstate__())
    del state["sampling_times"]
    old = ClassificationDiffusionCopula.__new__(ClassificationDiffusionCopula)
    old.__setstate__(state)
    assert old.get_params()["sampling_times"] is None
    np.testing.assert_array_equal(old.sample(20, rng=0), cdc.sample(20, rng=0))
    pickle.loads(pickle.dumps(old))


def test_the_benchmarks_time_scheme_is_the_former_sampler():
    # benchmarks/bench_diffusion_copula.py compares with the scheme in t (the sampler
    # before 2026-12-01); it must be that scheme: the t-map re-derived above
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_diffusion_copula.py"
    spec = importlib.util.spec_from_file_location("bench_diffusion_copula", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sigma = np.array([[1.0, 0.6], [0.6, 1.0]])
    cdc = _oracle_cdc(sigma)
    cdc.sampling_times = 11
    x = torch.as_tensor(np.random.default_rng(2).standard_normal((32, 2)) * 0.1)
    want = x.numpy() @ _pec_map(sigma, cdc.alphas_, cdc._ode_indices(), variable="t")
    np.testing.assert_allclose(bench.ode_in_time(cdc, x).numpy(), want, rtol=1e-10,
                               atol=1e-12)
    # and the bench's stand-in classifier is the test's (F_{K-1} = 0)
    ratio = bench._ExactGaussianRatio(sigma, cdc.alphas_)
    assert torch.all(ratio.log_ratio(x, 19) == 0)
    torch.testing.assert_close(ratio.log_ratio(x, 3), cdc.model_.log_ratio(x, 3))
