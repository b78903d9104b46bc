"""Tests of jointdist.datasets.dynlmc (KernelSynth, LMCSynth, DynLMC, mixing sampler).

Statistical tolerances are Monte Carlo standard errors times a stated factor; all seeds
are fixed, so the tests are deterministic.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.gaussian_process.kernels import RBF, DotProduct, ExpSineSquared, WhiteKernel

from jointdist.datasets.dynlmc import (
    ProgressiveMixingSampler,
    ar1_paths,
    argmax_lags,
    kernel_bank,
    kernel_matrix,
    lagged_correlation,
    load_dynlmc,
    make_dynlmc,
    make_kernelsynth,
    make_lmc,
    mixing_probability,
    random_kernel,
    rolling_correlation_drift,
    sample_gp_prior,
    sticky_markov_chain,
    time_grid,
    to_panel,
)
from jointdist.datasets.dynlmc.kernelsynth import _sample_gp

ROUGH_BANK = [RBF(length_scale=0.01) + WhiteKernel(noise_level=0.1), RBF(length_scale=0.003)]


# ------------------------------------------------------------------------------ KernelSynth
def test_kernel_bank_matches_kernelsynth():
    bank = kernel_bank(1024)
    assert len(bank) == 33
    periods = sorted(k.periodicity * 1024 for k in bank if isinstance(k, ExpSineSquared))
    assert len(periods) == 21 and np.isclose(periods[0], 4) and np.isclose(periods[-1], 730)
    assert sum(isinstance(k, DotProduct) for k in bank) == 3


def test_kernel_matrix_equals_sklearn_on_random_composites():
    rng = np.random.default_rng(0)
    bank = kernel_bank(100)
    x = time_grid(100, pad=3)
    for _ in range(25):
        k = random_kernel(bank, 5, rng)
        K = k(x[:, None])
        np.testing.assert_allclose(kernel_matrix(k, x), K, rtol=1e-9,
                                   atol=1e-12 * np.abs(K).max())


@pytest.mark.parametrize("kernel, method, used", [
    (RBF(0.05) + WhiteKernel(0.1), "auto", "circulant"),
    (DotProduct(1.0) * RBF(0.2), "auto", "cholesky"),
    (ExpSineSquared(periodicity=7 / 40) + RBF(0.3), "cholesky", "cholesky"),
    (ExpSineSquared(periodicity=7 / 40), "eigh", "eigh"),
])
def test_gp_draws_have_the_kernel_covariance(kernel, method, used):
    # Empirical covariance of n draws: entry (s, t) has standard error
    # sqrt((K_st^2 + K_ss K_tt) / n); all z-scores must stay below 5.
    n, x = 4000, time_grid(40)
    Y, got = _sample_gp(kernel, x, n, np.random.default_rng(1), method)
    assert got == used
    K = kernel(x[:, None])
    S = Y.T @ Y / n
    se = np.sqrt((K**2 + np.outer(np.diag(K), np.diag(K))) / n)
    assert np.max(np.abs(S - K) / se) < 5.0
    assert np.max(np.abs(Y.mean(0)) / np.sqrt(np.diag(K) / n)) < 5.0


def test_make_kernelsynth_shapes_determinism_and_n_jobs():
    X1 = make_kernelsynth(4, length=64, random_state=3)
    assert X1.shape == (4, 64) and np.isfinite(X1).all()
    np.testing.assert_array_equal(X1, make_kernelsynth(4, length=64, random_state=3))
    np.testing.assert_array_equal(X1, make_kernelsynth(4, length=64, random_state=3, n_jobs=2))
    assert not np.array_equal(X1, make_kernelsynth(4, length=64, random_state=4))
    X2, kernels = make_kernelsynth(2, length=32, return_kernels=True, random_state=0)
    assert X2.shape == (2, 32) and len(kernels) == 2


# ------------------------------------------------------------------------------ latents, LMC
def test_latents_are_independent():
    # One kernel in the bank, so a shared seed (the public-code bug) would make all
    # latents identical.  Across R replications the correlation of two latents at a time
    # point has standard error 1/sqrt(R); the variance of RBF draws is 1 (se sqrt(2/R)).
    R = 400
    a, b = np.empty(R), np.empty(R)
    for r in range(R):
        _, p = make_lmc(3, length=16, n_latents=2, kernel_bank=[RBF(0.1)], max_kernels=1,
                        return_params=True, random_state=r)
        a[r], b[r] = p.latents[8]
    assert not np.allclose(a, b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(R)
    assert abs(np.mean(a**2) - 1.0) < 4 * np.sqrt(2 / R)


def test_make_lmc_is_weights_times_latents():
    X, p = make_lmc(7, length=50, return_params=True, random_state=0)
    assert X.shape == (50, 7)
    assert p.weights.shape == (7, p.n_latents) and p.latents.shape == (50, p.n_latents)
    np.testing.assert_allclose(p.weights.sum(1), 1.0)
    assert 2 <= p.n_latents <= 7 and 0.1 <= p.concentration <= 2.0
    np.testing.assert_allclose(X, p.latents @ p.weights.T)


# ------------------------------------------------------------------------------ DynLMC
@settings(max_examples=12, deadline=None)
@given(mode=st.sampled_from(["drift", "lag", "regime", "combined"]),
       n_channels=st.integers(1, 6), length=st.integers(20, 60), seed=st.integers(0, 10**6))
def test_dynlmc_weights_on_simplex_and_eq2_holds(mode, n_channels, length, seed):
    X, p = make_dynlmc(n_channels, length, mode, tau_max=None if mode in ("lag", "combined")
                       else 0, return_params=True, random_state=seed)
    L = p.n_latents
    assert X.shape == (length, n_channels) and np.isfinite(X).all()
    assert p.weights.shape == (length, n_channels, L) and p.lags.shape == (n_channels, L)
    assert np.all(p.weights >= 0)
    np.testing.assert_allclose(p.weights.sum(-1), 1.0, atol=1e-12)
    assert np.all(np.abs(p.lags) <= p.tau_max)
    if mode in ("drift", "regime"):
        assert p.tau_max == 0
    assert (p.regimes is not None) == (mode in ("regime", "combined"))
    # Eq. (2) by a direct loop, where every lagged index lies in the window.
    m = p.tau_max
    for t in range(m, length - m):
        for i in range(n_channels):
            want = sum(p.weights[t, i, j] * p.latents[t - p.lags[i, j], j] for j in range(L))
            assert np.isclose(X[t, i], want, rtol=1e-10, atol=1e-10 * np.abs(X).max())


def test_dynlmc_is_deterministic():
    kw = dict(n_channels=5, length=80, mode="combined")
    X1 = make_dynlmc(**kw, random_state=11)
    np.testing.assert_array_equal(X1, make_dynlmc(**kw, random_state=11))
    np.testing.assert_array_equal(X1, make_dynlmc(**kw, random_state=np.random.default_rng(11)))
    assert not np.array_equal(X1, make_dynlmc(**kw, random_state=12))


def test_lags_recovered_by_cross_correlation_argmax():
    # With aperiodic kernels a lag is identifiable; the dominant latent of channel i is
    # the one with the largest time-averaged weight.  Differencing makes the peaks sharp.
    hits = total = 0
    for seed in range(4):
        X, p = make_dynlmc(30, 512, "lag", tau_max=6, n_latents=4, kernel_bank=ROUGH_BANK,
                           return_params=True, random_state=seed)
        assert p.tau_max == 6
        dom = p.weights.mean(0).argmax(1)
        lags, corr = lagged_correlation(X, p.latents, 6, difference=True)
        i = np.arange(30)
        est = lags[corr[:, i, dom].argmax(0)]
        hits += np.sum(est == p.lags[i, dom])
        total += 30
        # argmax_lags gives the same answer
        np.testing.assert_array_equal(argmax_lags(X, p.latents, 6, difference=True)[i, dom], est)
    assert hits / total >= 0.95


def test_lagged_correlation_sign_convention():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(300)
    x = np.roll(y, 3)  # x_t = y_{t-3}: y leads x by 3
    lags, c = lagged_correlation(x, y, 5)
    assert lags[c.argmax()] == 3 and c.max() > 0.95


def test_drift_statistic_larger_than_static_lmc():
    # Same seed -> same latents in make_lmc and make_dynlmc(mode="drift"); only the
    # weights differ.  Paired differences over 30 seeds, mean > 3 standard errors.
    d = np.array([rolling_correlation_drift(make_dynlmc(12, 512, "drift", rho=(0.95, 0.99),
                                                        random_state=s))
                  - rolling_correlation_drift(make_lmc(12, 512, random_state=s))
                  for s in range(30)])
    d = d[np.isfinite(d)]
    assert d.mean() > 3 * d.std(ddof=1) / np.sqrt(d.size)


def test_rolling_correlation_drift_zero_for_fixed_correlation():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 1))
    X = np.hstack([z, 2 * z + 1, -z])
    assert rolling_correlation_drift(X, window=40) < 1e-12
    assert rolling_correlation_drift(np.stack([X, X])).shape == (2,)


def test_regime_durations_match_stickiness():
    kappa, K, T, R = 0.97, 3, 1024, 10
    switches, durations = 0, []
    for seed in range(R):
        X, p = make_dynlmc(3, T, "regime", n_regimes=K, stickiness=kappa, n_latents=2,
                           return_params=True, random_state=seed)
        s = p.regimes
        assert s.shape == (T,) and s.min() >= 0 and s.max() < K
        change = np.flatnonzero(np.diff(s) != 0)
        switches += change.size
        durations += list(np.diff(change))  # complete interior runs
    # Switches are Binomial(R (T-1), 1 - kappa): within 4 standard deviations.
    n = R * (T - 1)
    assert abs(switches - n * (1 - kappa)) < 4 * np.sqrt(n * kappa * (1 - kappa))
    # Durations are geometric, mean 1/(1-kappa), sd sqrt(kappa)/(1-kappa).
    durations = np.asarray(durations)
    se = np.sqrt(kappa) / (1 - kappa) / np.sqrt(durations.size)
    assert abs(durations.mean() - 1 / (1 - kappa)) < 4 * se


@pytest.mark.parametrize("kappa", [0.9, 0.97, 0.995])
def test_sticky_chain_durations_are_geometric(kappa):
    # 200,000 steps: the switch count is Binomial(T-1, 1-kappa) (4 sd tolerance, i.e. a
    # 2-3% relative error for kappa=0.97); durations have mean 1/(1-kappa).
    T = 200_000
    s = sticky_markov_chain(T, 3, kappa, np.random.default_rng(1))
    change = np.flatnonzero(np.diff(s) != 0)
    assert abs(change.size - (T - 1) * (1 - kappa)) < 4 * np.sqrt((T - 1) * kappa * (1 - kappa))
    d = np.diff(change)
    assert abs(d.mean() - 1 / (1 - kappa)) < 4 * np.sqrt(kappa) / (1 - kappa) / np.sqrt(d.size)
    # geometric law: P(duration > k) = kappa^k, checked at k = mean duration
    k = int(round(1 / (1 - kappa)))
    p = kappa**k
    assert abs(np.mean(d > k) - p) < 4 * np.sqrt(p * (1 - p) / d.size)


def test_sticky_chain_jumps_uniformly_to_other_states():
    s = sticky_markov_chain(200_000, 4, 0.5, np.random.default_rng(0))
    a, b = s[:-1], s[1:]
    moved = a != b
    offsets = (b[moved] - a[moved]) % 4
    counts = np.bincount(offsets, minlength=4)
    assert counts[0] == 0
    # each of the 3 offsets has probability 1/3: binomial z-scores below 4
    n = moved.sum()
    assert np.all(np.abs(counts[1:] - n / 3) < 4 * np.sqrt(n * 2 / 9))


def test_regime_weights_follow_regime_means_when_eta_is_zero():
    X, p = make_dynlmc(4, 300, "regime", eta=0.0, n_regimes=3, n_latents=3,
                       return_params=True, random_state=5)
    m = p.regime_means[p.regimes]                      # (T, N, L)
    e = np.exp(m - m.max(-1, keepdims=True))
    np.testing.assert_allclose(p.weights, e / e.sum(-1, keepdims=True), rtol=1e-12)


def test_ar1_paths_are_stationary_with_persistence_rho():
    rho, sigma, n, T = 0.9, 0.3, 4000, 50
    a = ar1_paths((n,), T, rho, sigma, np.random.default_rng(0))
    var = sigma**2 / (1 - rho**2)
    # variance at t=0 and t=T-1, and the lag-1 covariance: se of a sample variance is
    # var sqrt(2/n); of a lag-1 covariance about var sqrt((1 + rho^2)/n).
    for t in (0, T - 1):
        assert abs(a[:, t].var() - var) < 4 * var * np.sqrt(2 / n)
    c = np.mean(a[:, 20] * a[:, 19])
    assert abs(c - rho * var) < 4 * var * np.sqrt((1 + rho**2) / n)


# ------------------------------------------------------------------------------ datasets
def test_load_dynlmc_n_jobs_independent_and_frame():
    kw = dict(n_samples=4, n_channels=3, length=40, random_state=7)
    X1 = load_dynlmc("combined", **kw)
    assert X1.shape == (4, 40, 3) and X1.dtype == np.float32
    np.testing.assert_array_equal(X1, load_dynlmc("combined", **kw, n_jobs=2))
    df = load_dynlmc("combined", **kw, as_frame=True)
    assert isinstance(df.index, pd.MultiIndex) and df.index.names == ["sample", "time"]
    assert df.shape == (160, 3)
    np.testing.assert_array_equal(df.loc[2].to_numpy(), X1[2])


@pytest.mark.parametrize("variant", ["drift", "lag", "regime", "lmc", "kernelsynth"])
def test_load_dynlmc_variants(variant):
    X = load_dynlmc(variant, n_samples=2, n_channels=3, length=32, random_state=0,
                    dtype=np.float64)
    assert X.shape == (2, 32, 3) and X.dtype == np.float64 and np.isfinite(X).all()
    assert not np.array_equal(X[0], X[1])


def test_load_dynlmc_drift_uses_paper_rho_range():
    # The first sample of load_dynlmc equals make_dynlmc with the same child seed.
    ss = np.random.SeedSequence(3)
    X = load_dynlmc("drift", n_samples=1, n_channels=4, length=30, random_state=3,
                    dtype=np.float64)
    _, p = make_dynlmc(4, 30, "drift", rho=(0.92, 0.99), return_params=True,
                       random_state=np.random.default_rng(ss.spawn(1)[0]))
    Y = make_dynlmc(4, 30, "drift", rho=(0.92, 0.99),
                    random_state=np.random.default_rng(np.random.SeedSequence(3).spawn(1)[0]))
    np.testing.assert_array_equal(X[0], Y)
    assert 0.92 <= p.rho <= 0.99


def test_to_panel_roundtrip():
    X = np.arange(24.0).reshape(2, 4, 3)
    df = to_panel(X, columns=["a", "b", "c"])
    np.testing.assert_array_equal(df.to_numpy().reshape(2, 4, 3), X)
    with pytest.raises(ValueError, match="shape"):
        to_panel(X[0])


@pytest.mark.parametrize("call, match", [
    (lambda: make_dynlmc(4, 32, "wobble"), "mode"),
    (lambda: make_dynlmc(4, 32, "drift", tau_max=3), "no lags"),
    (lambda: make_dynlmc(4, 32, "lag", n_regimes=3), "no regimes"),
    (lambda: make_dynlmc(4, 32, rho=1.0), "rho"),
    (lambda: make_dynlmc(4, 32, rho=(0.99, 0.9)), "low <= high"),
    (lambda: make_dynlmc(0, 32), "n_channels"),
    (lambda: make_dynlmc(4, 1), "length"),
    (lambda: make_dynlmc(4, 32, "regime", stickiness=1.5), "stickiness"),
    (lambda: make_dynlmc(4, 32, random_state="abc"), "random_state"),
    (lambda: make_lmc(4, 32, kernel_bank=[]), "kernel_bank"),
    (lambda: make_lmc(4, 32, concentration=0.0), "concentration"),
    (lambda: load_dynlmc("nope", 2), "variant"),
    (lambda: load_dynlmc("drift", 2, rhoo=0.9), "Unknown"),
    (lambda: load_dynlmc("drift", 2, n_jobs=0), "n_jobs"),
    (lambda: sample_gp_prior(DotProduct(), time_grid(10), method="circulant"), "stationary"),
    (lambda: sample_gp_prior(RBF(), [0.0, 0.1, 0.5]), "regularly"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------ mixing
def test_mixing_probability_eq5():
    M = 100
    assert mixing_probability(0, M) == 0.0
    assert np.isclose(mixing_probability(30, M), np.log(1.6))
    assert mixing_probability(99, M) == 1.0  # log(1 + 2i/M) > 1 is capped
    p = mixing_probability(np.arange(M), M)
    assert np.all(np.diff(p) >= 0) and p.max() <= 1.0


def _coded_sources(n_items=300, length=5, channels=(6, 6, 6)):
    # value = 1000 k + 10 c + i / 1000 identifies source k, channel c, item i
    out = []
    for k, C in enumerate(channels):
        i = np.arange(n_items)[:, None, None]
        c = np.arange(C)[None, None, :]
        out.append(np.broadcast_to(1000.0 * k + 10 * c + i / 1000, (n_items, length, C)).copy())
    return out


def test_mixing_sampler_builds_samples_as_in_algorithm3():
    D = _coded_sources()
    s = ProgressiveMixingSampler(D, random_state=0)
    assert len(s) == 300 and s.n_channels == 6
    mixed = []
    for i in range(len(s)):
        x, info = s.sample(i)
        mixed.append(info["mixed"])
        assert np.allclose(np.round((x[0] % 1) * 1000), i)  # every column comes from item i
        src = (x[0] // 1000).astype(int)
        if info["mixed"]:
            assert x.shape == (5, 6)
            assert np.array_equal(np.bincount(src, minlength=3), info["sizes"])
            assert np.all(info["sizes"] >= 1)
            assert len(set(np.round(x[0], 6))) == 6  # channels drawn without replacement
        else:
            np.testing.assert_array_equal(x, D[info["source"]][i])
    # fraction of mixed items = mean p_mix, binomial standard error
    p = mixing_probability(np.arange(300), 300)
    assert abs(np.sum(mixed) - p.sum()) < 4 * np.sqrt(np.sum(p * (1 - p)))
    assert not any(mixed[:1])


def test_mixing_sampler_is_order_independent_and_deterministic():
    D = _coded_sources(n_items=20)
    s1 = ProgressiveMixingSampler(D, random_state=4)
    s2 = ProgressiveMixingSampler(D, random_state=4)
    forward = list(s1)
    for i in reversed(range(20)):
        np.testing.assert_array_equal(s2[i], forward[i])
    with pytest.raises(IndexError):
        s1[20]
    with pytest.raises(ValueError, match="n_channels"):
        ProgressiveMixingSampler(D, n_channels=2)


def test_mixing_sampler_with_generated_sources_and_torch_loader():
    torch = pytest.importorskip("torch")
    kw = dict(n_samples=3, n_channels=4, length=16, random_state=1, dtype=np.float32)
    D = [load_dynlmc(v, **kw) for v in ("kernelsynth", "lmc", "drift")]
    s = ProgressiveMixingSampler(D, random_state=0)
    batch = next(iter(torch.utils.data.DataLoader(s, batch_size=3)))
    assert tuple(batch.shape) == (3, 16, 4)


def test_combined_variant_has_equal_shares():
    from jointdist.datasets.dynlmc.dynlmc import _combined_assignment

    kinds = ["drift", "lag", "regime"]
    a = _combined_assignment(np.random.SeedSequence(0), 1500, kinds)
    assert [a.count(k) for k in kinds] == [500, 500, 500]
    assert a[:3] != a[3:6] or a[3:6] != a[6:9]  # shuffled, not cyclic
    b = _combined_assignment(np.random.SeedSequence(0), 10, kinds)
    assert all(b.count(k) >= 3 for k in kinds)
