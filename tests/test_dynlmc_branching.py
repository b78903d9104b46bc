"""Tests of jointdist.datasets.dynlmc.branching (histories with branched futures).

Statistical checks compare Monte Carlo moments of the futures with their analytic
conditional values; each tolerance is a stated multiple of the Monte Carlo standard
error.  All seeds are fixed, so the tests are deterministic.
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.gaussian_process.kernels import RBF, ExpSineSquared, Matern, WhiteKernel

from jointdist.datasets.dynlmc import (
    branch_gp,
    kernel_matrix,
    simulate_dynlmc_branches,
    time_grid,
)
from jointdist.datasets.dynlmc.branching import BRANCHING_KINDS, _branch_ar1, _branch_regimes

T, H = 80, 10


def _conditional(kernel, past, n_points):
    """Analytic GP conditional mean and covariance of x[P:] given x[:P] = past."""
    K = kernel_matrix(kernel, time_grid(n_points))
    P = past.shape[0]
    c = scipy.linalg.cho_factor(K[:P, :P], lower=True)
    mean = K[P:, :P] @ scipy.linalg.cho_solve(c, past)
    cov = K[P:, P:] - K[P:, :P] @ scipy.linalg.cho_solve(c, K[:P, P:])
    return mean, cov


def _single_latent(kernel, n_futures, seed, kinds=("lmc",)):
    """One N=1 system with one latent of the given kernel, unit scale, no offset."""
    return simulate_dynlmc_branches([1], context_length=T, horizon=H, n_futures=n_futures,
                                    kinds=kinds, n_latents=1, max_kernels=1,
                                    kernel_bank=[kernel], scale_range=(1.0, 1.0),
                                    random_state=seed)


# ------------------------------------------------------------------- shapes and padding
@settings(max_examples=12, deadline=None)
@given(n_targets=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       horizon=st.integers(1, 4), n_futures=st.integers(1, 3),
       kinds=st.lists(st.sampled_from(BRANCHING_KINDS), min_size=1, max_size=3, unique=True),
       seed=st.integers(0, 2**16))
def test_shapes_masks_and_padding(n_targets, horizon, n_futures, kinds, seed):
    hist, fut, mask, kind = simulate_dynlmc_branches(
        n_targets, context_length=24, horizon=horizon, n_futures=n_futures, kinds=kinds,
        random_state=seed)
    S, N = len(n_targets), max(n_targets)
    assert hist.shape == (S, 24, N) and hist.dtype == np.float64
    assert fut.shape == (S, n_futures, horizon, N) and fut.dtype == np.float64
    assert mask.shape == (S, N) and mask.dtype == bool
    assert kind.shape == (S,) and np.all((kind >= 0) & (kind < len(kinds)))
    np.testing.assert_array_equal(mask.sum(axis=1), n_targets)
    assert np.all(mask[:, :1])                   # mask is a prefix of the columns
    assert np.all(np.isfinite(hist)) and np.all(np.isfinite(fut))
    assert np.all(hist[~mask[:, None, :].repeat(24, 1)] == 0)
    assert np.all(fut.transpose(0, 3, 1, 2)[~mask] == 0)
    assert np.all(hist.std(axis=1)[mask] > 0)    # real columns are not padding


def test_info_matches_kinds_and_kind_weights():
    kinds = ("kernelsynth", "lmc", "dynlmc", "combined")
    *_, kind, info = simulate_dynlmc_branches([3] * 8, context_length=40, horizon=5,
                                              n_futures=2, kinds=kinds, return_info=True,
                                              random_state=3)
    assert [kinds[k] for k in kind] == [i.kind for i in info]
    for i in info:
        if i.kind == "dynlmc":
            assert i.mode in ("drift", "lag", "regime", "combined")
        if i.kind == "kernelsynth":
            assert i.n_latents == 3 and i.tau_max == 0
    _, _, _, kind = simulate_dynlmc_branches([2] * 6, context_length=30, horizon=3,
                                             n_futures=2, kinds=kinds,
                                             kind_weights=[0, 0, 0, 5.0], random_state=0)
    assert np.all(kind == 3)


def test_scale_range_and_offset():
    hist, fut, _, _, info = simulate_dynlmc_branches(
        [4] * 6, context_length=60, horizon=5, n_futures=3, kinds=("lmc",),
        scale_range=(1e-2, 1e3), offset_scale=2.0, return_info=True, random_state=5)
    scales = np.concatenate([i.scale for i in info])
    assert np.all((scales >= 1e-2) & (scales <= 1e3))
    assert np.log10(scales).max() - np.log10(scales).min() > 2   # 24 log-uniform draws
    # Without offset and with unit scale, the same seed gives the unscaled series, and
    # the observed series is u_i (C_i + b_i) with the reported scale and offset.
    raw, raw_fut, _, _ = simulate_dynlmc_branches(
        [4] * 6, context_length=60, horizon=5, n_futures=3, kinds=("lmc",),
        scale_range=(1.0, 1.0), offset_scale=0.0, random_state=5)
    for s, i in enumerate(info):
        np.testing.assert_allclose(hist[s], raw[s] * i.scale + i.offset, rtol=1e-10)
        np.testing.assert_allclose(fut[s], raw_fut[s] * i.scale + i.offset, rtol=1e-10)


# ------------------------------------------------------------------- reproducibility
KW_REPRO = dict(context_length=50, horizon=4, n_futures=3,
                kinds=("kernelsynth", "lmc", "dynlmc"))


def test_reproducible_with_a_seed():
    a = simulate_dynlmc_branches([2, 5, 3], random_state=11, **KW_REPRO)
    b = simulate_dynlmc_branches([2, 5, 3], random_state=11, **KW_REPRO)
    c = simulate_dynlmc_branches([2, 5, 3], random_state=12, **KW_REPRO)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    # a Generator is advanced: two calls with the same one differ
    rng = np.random.default_rng(0)
    d = simulate_dynlmc_branches([2], random_state=rng, **KW_REPRO)
    e = simulate_dynlmc_branches([2], random_state=rng, **KW_REPRO)
    assert not np.array_equal(d[0], e[0])


def test_independent_of_n_jobs():
    a = simulate_dynlmc_branches([2, 5, 3], random_state=11, **KW_REPRO)
    d = simulate_dynlmc_branches([2, 5, 3], random_state=11, n_jobs=2, **KW_REPRO)
    for x, z in zip(a, d):
        np.testing.assert_array_equal(x, z)


# ------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kwargs", [
    dict(n_targets=5), dict(n_targets=[]), dict(n_targets=[0, 2]), dict(n_targets=[1.5]),
    dict(n_targets=[True]), dict(context_length=1), dict(horizon=0), dict(n_futures=0),
    dict(kinds=()), dict(kinds=("lmc", "lmc")), dict(kinds=("garch",)),
    dict(kind_weights=[1.0]), dict(kind_weights=[1, -1, 1]), dict(kind_weights=[0, 0, 0]),
    dict(scale_range=(0.0, 1.0)), dict(scale_range=(2.0, 1.0)), dict(offset_scale=-1.0),
    dict(generator_params={"bogus": 1}), dict(generator_params=[1]),
    dict(generator_params={"tau_max": 30}, kinds=("lag",)),
    dict(generator_params={"rho": 1.5}, kinds=("drift",)), dict(max_kernels=0),
    dict(kernel_bank=[]), dict(n_latents=0),
])
def test_bad_inputs_raise(kwargs):
    args = dict(n_targets=[2], context_length=20, horizon=3, n_futures=2)
    args.update(kwargs)
    with pytest.raises(ValueError):
        simulate_dynlmc_branches(args.pop("n_targets"), **args)


# ------------------------------------------------------------------- statistical checks
# Monte Carlo tolerance: with F independent futures, the sample mean at a horizon has
# standard error sqrt(v / F) and, the futures being Gaussian, the sample variance has
# relative standard error sqrt(2 / (F - 1)).  We check 4 horizons x 2 moments per
# kernel and allow 4.5 standard errors (two-sided probability of a false failure per
# check about 7e-6, so < 1e-4 over all checks; the seeds are fixed anyway).
F_MC = 20000
HORIZONS = [0, 1, 4, 9]


@pytest.mark.parametrize("kernel", [
    Matern(length_scale=0.2, nu=0.5),                         # OU
    RBF(length_scale=0.1) + WhiteKernel(noise_level=0.05),
    ExpSineSquared(periodicity=12 / (T + H)) * RBF(0.5) + WhiteKernel(0.1),
])
def test_futures_match_analytic_gp_conditional(kernel):
    hist, fut, _, _ = _single_latent(kernel, F_MC, seed=1)
    mean, cov = _conditional(kernel, hist[0, :, 0], T + H)
    var = np.diag(cov)
    x = fut[0, :, :, 0]
    se_mean = np.sqrt(var / F_MC)
    se_var = var * np.sqrt(2.0 / (F_MC - 1))
    for h in HORIZONS:
        assert abs(x[:, h].mean() - mean[h]) < 4.5 * se_mean[h], h
        assert abs(x[:, h].var(ddof=1) - var[h]) < 4.5 * se_var[h], h
    # Cross-horizon dependence too: correlation of steps 0 and 1 (standard error of a
    # sample correlation ~ (1 - r^2) / sqrt(F)).
    r = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    r_hat = np.corrcoef(x[:, 0], x[:, 1])[0, 1]
    assert abs(r_hat - r) < 4.5 * (1 - r * r) / np.sqrt(F_MC) + 1e-12


def test_ou_branching_is_markov():
    # OU (Matern 1/2) with length scale l on a grid of step dt: given the past, the
    # future at h + 1 steps ahead is N(x_{T-1} e^{-(h+1) dt / l}, 1 - e^{-2 (h+1) dt / l})
    # whatever the rest of the history.
    ell = 0.2
    kernel = Matern(length_scale=ell, nu=0.5)
    hist, fut, _, _ = _single_latent(kernel, F_MC, seed=2)
    dt = 1.0 / (T + H - 1)
    rho = np.exp(-(np.arange(H) + 1) * dt / ell)
    mean, var = hist[0, -1, 0] * rho, 1.0 - rho**2
    x = fut[0, :, :, 0]
    for h in HORIZONS:  # same tolerance derivation as above
        assert abs(x[:, h].mean() - mean[h]) < 4.5 * np.sqrt(var[h] / F_MC)
        assert abs(x[:, h].var(ddof=1) - var[h]) < 4.5 * var[h] * np.sqrt(2 / (F_MC - 1))
    # Two pasts that differ except in their last value give the same futures with the
    # same noise (to rounding), and a different last value changes them.
    grid = time_grid(T + H)
    rng = np.random.default_rng(0)
    p1, p2 = rng.standard_normal(T), rng.standard_normal(T)
    p2[-1] = p1[-1]
    f1 = branch_gp(kernel, grid, p1, n_futures=50, random_state=7)
    f2 = branch_gp(kernel, grid, p2, n_futures=50, random_state=7)
    np.testing.assert_allclose(f1, f2, atol=1e-8)
    p2[-1] += 1.0
    f3 = branch_gp(kernel, grid, p2, n_futures=50, random_state=7)
    np.testing.assert_allclose(f3 - f1, np.broadcast_to(rho, f1.shape), atol=1e-8)


def test_branch_gp_matches_analytic_conditional():
    kernel = RBF(0.05) + WhiteKernel(0.02)
    grid = time_grid(60)
    past = np.sin(np.arange(50) / 5.0)
    mean, cov = _conditional(kernel, past, 60)
    x = branch_gp(kernel, grid, past, n_futures=F_MC, random_state=0)
    assert x.shape == (F_MC, 10)
    var = np.diag(cov)
    assert np.all(np.abs(x.mean(0) - mean) < 4.5 * np.sqrt(var / F_MC))
    assert np.all(np.abs(x.var(0, ddof=1) - var) < 4.5 * var * np.sqrt(2 / (F_MC - 1)))
    with pytest.raises(ValueError):
        branch_gp(kernel, grid, np.zeros(60))
    with pytest.raises(ValueError):
        branch_gp("rbf", grid, past)


def test_lagged_latent_values_read_by_the_history_stay_fixed():
    # One latent: softmax weights are 1, so C_i(t) = l(t - tau_i) exactly.  The history
    # has read l up to c = T - 1 - min_i tau_i; a future value C_i(T + h) with
    # T + h - tau_i <= c must equal that history value in every future, and the others
    # must vary across futures.
    hist, fut, _, _, info = simulate_dynlmc_branches(
        [5] * 4, context_length=T, horizon=H, n_futures=40, kinds=("lag", "combined"),
        n_latents=1, generator_params={"tau_max": 4}, scale_range=(1.0, 1.0),
        return_info=True, random_state=4)
    n_fixed = n_free = 0
    for s, i in enumerate(info):
        tau = i.lags[:, 0]
        k = int(np.argmin(tau))
        c = T - 1 - tau[k]
        for ch in range(5):
            for h in range(H):
                t_lat = T + h - tau[ch]
                if t_lat <= c:
                    np.testing.assert_allclose(fut[s, :, h, ch], hist[s, t_lat + tau[k], k],
                                               rtol=1e-12, atol=1e-12)
                    n_fixed += 1
                else:
                    assert fut[s, :, h, ch].std() > 0
                    n_free += 1
    assert n_fixed > 0 and n_free > 0


def test_ar1_branch_moments():
    # a(T + h) | a(T-1) = a is N(rho^{h+1} a, sigma^2 (1 - rho^{2(h+1)}) / (1 - rho^2));
    # same 4.5-standard-error tolerances as above.
    rho, sigma, n = 0.95, 0.3, 40000
    last = np.array([2.0, -1.0])
    x = _branch_ar1(last, n, 30, rho, sigma, np.random.default_rng(0))
    assert x.shape == (n, 2, 30)
    k = np.arange(1, 31)
    mean = rho**k * last[:, None]
    var = sigma**2 * (1 - rho**(2 * k)) / (1 - rho**2)
    assert np.all(np.abs(x.mean(0) - mean) < 4.5 * np.sqrt(var / n))
    assert np.all(np.abs(x.var(0, ddof=1) - var) < 4.5 * var * np.sqrt(2 / (n - 1)))


def test_regime_branch_transition_law():
    # Sticky chain: P = kappa I + (1 - kappa) / (K - 1) (J - I) has eigenvalues 1 and
    # lam = kappa - (1 - kappa) / (K - 1), so P^n(s, s) = 1/K + (1 - 1/K) lam^n.  The
    # empirical frequency of p has standard error sqrt(p (1 - p) / n); 4.5 of them.
    K, kappa, n, last = 4, 0.9, 40000, 2
    s = _branch_regimes(last, n, 50, K, kappa, np.random.default_rng(0))
    assert s.shape == (n, 50) and s.min() >= 0 and s.max() < K
    lam = kappa - (1 - kappa) / (K - 1)
    p = 1 / K + (1 - 1 / K) * lam ** np.arange(1, 51)
    freq = (s == last).mean(0)
    assert np.all(np.abs(freq - p) < 4.5 * np.sqrt(p * (1 - p) / n))
    np.testing.assert_array_equal(_branch_regimes(1, 3, 5, 1, 0.5, np.random.default_rng(0)),
                                  np.ones((3, 5)))


def test_history_and_future_form_a_prior_draw():
    # Over many systems with one N(0, 1)-marginal latent, history end and futures are
    # jointly a GP prior draw: var(x_{T+h}) = 1 for the branched values too.
    # Standard error of a sample variance from n Gaussian draws: sqrt(2 / (n - 1)).
    kernel = RBF(0.1) + WhiteKernel(1e-3)
    n = 600
    hist, fut, _, _ = simulate_dynlmc_branches(
        [1] * n, context_length=30, horizon=5, n_futures=1, kinds=("lmc",), n_latents=1,
        max_kernels=1, kernel_bank=[kernel], scale_range=(1.0, 1.0), random_state=8)
    k0 = 1.0 + 1e-3
    for h in range(5):
        assert abs(fut[:, 0, h, 0].var() / k0 - 1) < 4.5 * np.sqrt(2 / (n - 1))


def test_simulator_branches_logits_and_regimes_from_their_terminal_state():
    # In the simulator itself: regime systems continue the history's last regime, and
    # the logits' AR(1) part continues from A(T-1):
    # (A_f(T) - abar^(s_T)) - rho (A(T-1) - abar^(s_{T-1})) = eta sigma eps, so its
    # mean over F futures is 0 with standard error eta sigma / sqrt(F) (4.5 of them),
    # and the regime after one step equals s_{T-1} with probability kappa (binomial
    # standard error).
    F = 4000
    *_, info = simulate_dynlmc_branches(
        [3, 3], context_length=60, horizon=4, n_futures=F, kinds=("drift", "regime"),
        kind_weights=None, n_latents=2, return_info=True, random_state=6)
    for i in info:
        assert i.logits.shape == (3, 2, 60) and i.future_logits.shape == (F, 3, 2, 4)
        eta = i.get("eta", 1.0)
        if i.regimes is None:
            centred, last = i.future_logits[:, :, :, 0], i.logits[..., -1]
        else:
            means = np.moveaxis(i.regime_means, 0, -1)            # (N, L, K)
            assert np.all(i.future_regimes >= 0) and np.all(i.future_regimes < i.n_regimes)
            s_last, s_f = i.regimes[-1], i.future_regimes[:, 0]
            p = i.stickiness
            assert abs((s_f == s_last).mean() - p) < 4.5 * np.sqrt(p * (1 - p) / F) + 1e-12
            centred = i.future_logits[:, :, :, 0] - np.moveaxis(means[:, :, s_f], 2, 0)
            last = i.logits[..., -1] - means[:, :, s_last]
        innov = centred - i.rho * last
        assert np.all(np.abs(innov.mean(0)) < 4.5 * eta * i.sigma / np.sqrt(F))
        np.testing.assert_allclose(innov.std(0), eta * i.sigma, rtol=4.5 * np.sqrt(2 / F))
