"""Tests of the JointFM SDE curriculum generator (jointdist.datasets.sde).

Monte Carlo checks use fixed seeds and tolerances of 4 standard errors.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jointdist.datasets.sde import (
    MAX_LEVEL,
    SDEStream,
    SDESystems,
    branch_state,
    curriculum_weights,
    load_sde_benchmark,
    make_sde,
    sample_systems,
    simulate,
)
from jointdist.datasets.sde.systems import (
    CORR_NONE,
    DIFF_MULTIPLICATIVE,
    REGIME_LOGISTIC,
    REGIME_NONE,
    REGIME_TELEGRAPH,
)

SMALL = dict(context_length=100, horizon=20, n_futures=16, t_in=1.0, t_out=0.2)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _gen(seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _mean_var_se(x):
    """Sample mean and variance with their Monte Carlo standard errors."""
    n = x.size
    m, v = x.mean(), x.var()
    se_m = math.sqrt(v / n)
    se_v = math.sqrt(((x - m) ** 2).var() / n)
    return m, v, se_m, se_v


# ----------------------------------------------------------------------- closed forms
def test_ou_and_gbm_match_closed_form_moments():
    # system 0: OU dZ = kappa (theta - Z) dt + sigma dW; system 1: GBM dZ = m Z dt + s Z dW
    kappa, theta, sig, z0 = 2.0, 1.5, 0.7, -1.0
    m, s, y0 = 0.3, 0.4, 1.0
    T, n_steps, n_paths = 1.0, 400, 20000
    dt = T / n_steps
    sy = SDESystems.zeros(2, 1)
    sy.mu[0, 0], sy.beta[0, 0], sy.sigma[0, 0], sy.z0[0, 0] = kappa * theta, -kappa, sig, z0
    sy.beta[1, 0], sy.sigma[1, 0], sy.z0[1, 0] = m, s, y0
    sy.diff_type[1, 0] = DIFF_MULTIPLICATIVE
    res = simulate(sy, n_steps, dt, n_paths=n_paths, generator=_gen(1))
    z = res.paths[:, :, -1, 0].numpy()  # (2, n_paths)

    ou_mean = theta + (z0 - theta) * math.exp(-kappa * T)
    ou_var = sig**2 / (2 * kappa) * (1 - math.exp(-2 * kappa * T))
    gbm_mean = y0 * math.exp(m * T)
    gbm_var = y0**2 * math.exp(2 * m * T) * (math.exp(s**2 * T) - 1)
    for x, mean, var in ((z[0], ou_mean, ou_var), (z[1], gbm_mean, gbm_var)):
        mh, vh, se_m, se_v = _mean_var_se(x)
        assert abs(mh - mean) < 4 * se_m, (mh, mean, se_m)
        assert abs(vh - var) < 4 * se_v, (vh, var, se_v)
    # the same systems through the observation map X = loc + scale * Z
    assert res.paths.shape == (2, n_paths, n_steps, 1)


def test_increment_correlation_matches_sampled_matrix():
    n_paths = 20000
    sy = sample_systems([4, 4, 3], 4, n_features=2, random_state=3)
    sy.jump_rate.zero_()
    sy.regime_type.zero_()
    res = simulate(sy, 1, 1e-3, n_paths=n_paths, generator=_gen(2))
    dz = res.paths[:, :, 0, :] - sy.z0[:, None, :]
    for s in range(sy.n_systems):
        emp = np.corrcoef(dz[s].numpy().T)
        rho = sy.corr[s].numpy()
        se = (1 - rho**2) / math.sqrt(n_paths) + 1e-12
        assert np.all(np.abs(emp - rho) < 4 * se + 1e-9), (emp - rho)
    assert (sy.corr.abs() > 0.05).sum() > 3 * 6  # there is correlation to recover


def test_correlation_structure_per_level():
    M, N = 3, 4
    sy = sample_systems([2] * 20 + [3] * 20 + [4] * 20 + [1] * 20, N, n_features=M,
                        random_state=4)
    corr = sy.corr.numpy()
    cross = np.abs(corr[:, :M, M:]).max(axis=(1, 2))
    within = np.abs(corr - np.eye(M + N)).max(axis=(1, 2))
    assert np.all(cross[:20] == 0) and np.all(within[:20] > 0)  # level 2: blocks only
    assert np.all(cross[20:60] > 0)  # levels 3-4: features and targets correlated
    assert np.all(within[60:] == 0)  # level 1: independent Brownian motions
    assert np.allclose(sy.corr_chol @ sy.corr_chol.transpose(1, 2), sy.corr, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(level=st.integers(0, MAX_LEVEL), seed=st.integers(0, 2**31 - 1),
       n_targets=st.integers(1, 5), n_features=st.integers(0, 2))
def test_correlations_are_valid_and_outputs_finite(level, seed, n_targets, n_features):
    bench = load_sde_benchmark(level=level, n_systems=6, n_targets=n_targets,
                               n_features=n_features, random_state=seed, device="cpu",
                               **SMALL)
    corr = bench.params["corr"]
    assert np.allclose(corr, np.swapaxes(corr, 1, 2))
    assert np.allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0)
    assert np.linalg.eigvalsh(corr).min() > 0
    assert np.isfinite(bench.history).all() and np.isfinite(bench.futures).all()
    assert bench.history.shape == (6, 100, n_targets)
    assert bench.futures.shape == (6, 16, 20, n_targets)
    if n_features:
        assert bench.history_features.shape == (6, 100, n_features)
        assert np.isfinite(bench.future_features).all()
    else:
        assert bench.history_features is None


# ------------------------------------------------------------------- jumps, regimes
def test_jump_counts_match_poisson_intensity():
    lam, T, n_steps, n_paths = 6.0, 1.0, 250, 4000
    sy = SDESystems.zeros(2, 3)
    sy.jump_rate[:] = lam
    sy.jump_std[:] = 0.1
    sy.jump_common[1] = True  # system 1: common arrivals, all dims jump together
    res = simulate(sy, n_steps, T / n_steps, n_paths=n_paths, generator=_gen(5),
                   record_events=True)
    counts = res.events["jump_counts"].numpy()  # (2, P, 3)
    c = counts.reshape(-1)
    mean_se = math.sqrt(lam * T / c.size)
    assert abs(c.mean() - lam * T) < 4 * mean_se
    # Poisson dispersion: variance equals the mean
    _, v, _, se_v = _mean_var_se(counts[0].reshape(-1))
    assert abs(v - lam * T) < 4 * se_v
    assert np.all(counts[1] == counts[1][:, :1])  # common arrivals
    assert not np.all(counts[0] == counts[0][:, :1])
    # the jumps move the state: sum of N(0, 0.1^2) sizes has variance 0.01 E[N]
    z = res.paths[0, :, -1, :].numpy().reshape(-1).astype(np.float64)
    _, v, _, se_v = _mean_var_se(z)
    assert abs(v - 0.01 * lam * T) < 4 * se_v


def test_telegraph_dwell_times_match_switching_rates():
    q01, q10, dt, n_steps, n_paths = 2.0, 5.0, 0.004, 1000, 400
    sy = SDESystems.zeros(1, 1)
    sy.regime_type[0] = REGIME_TELEGRAPH
    sy.regime_q01[0], sy.regime_q10[0] = q01, q10
    res = simulate(sy, n_steps, dt, n_paths=n_paths, generator=_gen(6), record_events=True)
    time_in = res.events["time_in_regime"].numpy()[0]  # (P, 2)
    exits = res.events["n_switches"].numpy()[0]
    for r, q in ((0, q01), (1, q10)):
        n_exits = exits[:, r].sum()
        dwell = time_in[:, r].sum() / n_exits
        expected = dt / -math.expm1(-q * dt)  # mean geometric dwell of the Euler chain
        assert abs(dwell - expected) < 4 * expected / math.sqrt(n_exits), (r, dwell)
        assert abs(expected - 1 / q) < 0.02 / q  # ... within 2% of 1/q at this dt


def test_logistic_rates_follow_the_state():
    # frozen state (no drift/noise): the Cox rates are constant, 2 q sigmoid(+-g (u - c))
    dt, n_steps, n_paths = 0.004, 1000, 300
    sy = SDESystems.zeros(2, 2)
    sy.regime_type[:] = REGIME_LOGISTIC
    sy.regime_q01[:], sy.regime_q10[:] = 2.0, 2.0
    sy.regime_weights[:] = torch.tensor([0.5, 0.5])
    sy.regime_gain[:] = 2.0
    sy.z0[0] = torch.tensor([1.0, 1.0])  # u - c = +1: enter regime 1 fast, leave slowly
    sy.z0[1] = torch.tensor([-1.0, -1.0])  # u - c = -1: the reverse
    res = simulate(sy, n_steps, dt, n_paths=n_paths, generator=_gen(7), record_events=True)
    time_in = res.events["time_in_regime"].numpy()
    exits = res.events["n_switches"].numpy()
    sig = 1 / (1 + math.exp(-2.0))
    for s, (r01, r10) in enumerate(((4 * sig, 4 * (1 - sig)), (4 * (1 - sig), 4 * sig))):
        for r, q in ((0, r01), (1, r10)):
            n_exits = exits[s, :, r].sum()
            dwell = time_in[s, :, r].sum() / n_exits
            expected = dt / -math.expm1(-q * dt)
            assert abs(dwell - expected) < 4 * expected / math.sqrt(n_exits), (s, r)


# ------------------------------------------------------------------------ branching
def test_split_simulation_equals_one_run_when_deterministic():
    # drift + nonlinear drift + sinusoid + Volterra memory, no noise: splitting the run
    # at T and continuing from the terminal state must reproduce the one-run path,
    # which needs the memory state (not only the position) to be carried over.
    sy = sample_systems(np.full(4, 9), 3, random_state=8)
    sy.sigma.zero_()
    sy.jump_rate.zero_()
    sy.regime_type.zero_()
    sy.mem_gain[:] = 0.6
    dt, T, H = 0.01, 50, 20
    full = simulate(sy, T + H, dt).paths[:, 0]
    hist = simulate(sy, T, dt)
    fut = simulate(sy, H, dt, state=branch_state(hist.state, 5)).paths
    torch.testing.assert_close(fut, full[:, None, T:].expand_as(fut), rtol=1e-10, atol=1e-10)
    no_memory = branch_state(hist.state, 1)
    no_memory.memory = None
    wrong = simulate(sy, H, dt, state=no_memory).paths
    assert (wrong[:, 0] - full[:, T:]).abs().max() > 1e-6  # memory matters


def test_volterra_memory_matches_explicit_convolution():
    # dZ = (mu + a sin(2 pi f t) + gain int K(t - s) dZ_s) dt with the kernel
    # K(tau) = sum_j w_j exp(-r_j tau), against an O(n^2) sum over the whole past
    sy = SDESystems.zeros(1, 1)
    sy.mu[0, 0], sy.sin_amp[0, 0], sy.sin_freq[0, 0] = 0.5, 2.0, 1.5
    sy.mem_gain[0, 0] = 0.7
    dt, n = 0.01, 150
    z = simulate(sy, n, dt).paths[0, 0, :, 0].numpy()
    rates, w = sy.mem_rates[0].numpy(), sy.mem_weights[0].numpy()
    assert abs((w / rates).sum() - 1) < 1e-12  # unit kernel mass
    dz = np.zeros(n)
    for k in range(n):
        lags = (k - 1 - np.arange(k)) * dt  # age of the increments dZ_0 .. dZ_(k-1)
        kernel = (w[None, :] * np.exp(-rates[None, :] * lags[:, None])).sum(1)
        memory = 0.7 * (kernel * dz[:k]).sum()
        dz[k] = (0.5 + 2.0 * math.sin(2 * math.pi * 1.5 * k * dt) + memory) * dt
    np.testing.assert_allclose(z, np.cumsum(dz), rtol=1e-10, atol=1e-12)
    without = sy.index([0])  # a copy
    without.mem_gain.zero_()
    z_without = simulate(without, n, dt).paths.numpy().ravel()
    assert np.abs(z - z_without).max() > 1e-3  # the memory term matters here


def test_futures_start_in_the_history_terminal_regime():
    # regime 1 is absorbing and entered fast; it shifts the drift by +50.  Futures must
    # continue in regime 1, so their first increment has mean 50 dt, not 0.
    sy = SDESystems.zeros(1, 1)
    sy.regime_type[0] = REGIME_TELEGRAPH
    sy.regime_q01[0], sy.regime_q10[0] = 50.0, 0.0
    sy.regime_drift[0, 0] = 50.0
    sy.sigma[0, 0] = 0.1
    dt = 0.01
    hist = simulate(sy, 200, dt, generator=_gen(9))
    assert float(hist.state.regime) == 1.0
    fut = simulate(sy, 1, dt, state=branch_state(hist.state, 4000), generator=_gen(10))
    inc = (fut.paths[0, :, 0, 0] - hist.paths[0, 0, -1, 0]).numpy()
    se = 0.1 * math.sqrt(dt / inc.size)
    assert abs(inc.mean() - 50 * dt) < 4 * se
    assert abs(inc.std() - 0.1 * math.sqrt(dt)) < 4 * 0.1 * math.sqrt(dt / (2 * inc.size))


def test_benchmark_futures_branch_from_history_end():
    bench = load_sde_benchmark(level=1, n_systems=10, n_targets=3, context_length=200,
                               horizon=5, n_futures=400, t_in=1.0, t_out=0.025,
                               random_state=11, device="cpu")
    last = bench.history[:, -1, :]  # (S, N)
    step = np.abs(np.diff(bench.history, axis=1)).max(axis=1)  # largest history move
    first = bench.futures[:, :, 0, :]  # (S, F, N)
    # every future starts one step away from the history's last value ...
    assert np.all(np.abs(first - last[:, None]) <= 3 * step[:, None] + 1e-6)
    # ... which is informative: restarting at the first history value would not be
    far = np.abs(bench.history[:, 0] - last) > 3 * step
    assert far.any()


# --------------------------------------------------------------- levels and sweep
def test_each_level_adds_its_mechanism():
    S = 40
    for level in range(MAX_LEVEL + 1):
        sy = sample_systems(np.full(S, level), 5, n_features=1, random_state=level)
        has_jump = (sy.jump_rate > 0).any(1)
        has_regime = sy.regime_type != REGIME_NONE
        has_mem = (sy.mem_gain != 0).any(1)
        assert bool((sy.sigma > 0).any()) == (level >= 1)
        assert bool(has_jump.any()) == (level >= 5)
        assert bool(has_regime.any()) == (level >= 6)
        assert bool(has_mem.any()) == (level >= 9)
        assert bool((sy.corr_type != CORR_NONE).any()) == (level >= 2)
        if level in (5,):
            assert bool(has_jump.all())
        if level in (6, 7, 8):
            assert bool(has_regime.all())
            assert int(sy.regime_type.max()) <= level - 5
    many = sample_systems(np.full(S, 7), 5, random_state=0)
    assert set(many.regime_type.tolist()) == {1, 2}  # telegraph and logistic at level 7


def test_seeded_sweep_all_levels_finite_and_non_degenerate():
    for level in range(MAX_LEVEL + 1):
        bench = load_sde_benchmark(level=level, n_systems=30, n_targets=4,
                                   context_length=504, horizon=63, n_futures=8,
                                   random_state=100 + level, device="cpu")
        assert np.isfinite(bench.history).all() and np.isfinite(bench.futures).all()
        assert np.all(bench.history.std(axis=1) > 0)
        if level >= 1:  # stochastic: futures spread out
            assert np.all(bench.futures[:, :, -1].std(axis=1) > 0)
        else:  # level 0 is an ODE: all futures coincide
            assert np.allclose(bench.futures, bench.futures[:, :1])


def test_exploding_systems_are_resampled(monkeypatch):
    from jointdist.datasets.sde import _generate

    # a tight explosion bound makes many systems "explode": they must be replaced by
    # valid ones, deterministically
    monkeypatch.setattr(_generate, "MAX_ABS_Z", 3.0)
    a = load_sde_benchmark(level=2, n_systems=12, n_targets=3, random_state=5,
                           device="cpu", **SMALL)
    b = load_sde_benchmark(level=2, n_systems=12, n_targets=3, random_state=5,
                           device="cpu", **SMALL)
    assert a.n_rejected > 0
    np.testing.assert_array_equal(a.futures, b.futures)
    loc, scale = a.params["loc"][:, None], a.params["scale"][:, None]
    z_hist = (a.history - loc) / scale
    z_fut = (a.futures - loc[:, None]) / scale[:, None]
    assert np.abs(z_hist).max() <= 3.0 + 1e-3 and np.abs(z_fut).max() <= 3.0 + 1e-3
    assert np.all(a.params["levels"] == 2)


def test_scales_differ_between_series():
    bench = load_sde_benchmark(level=3, n_systems=20, n_targets=5, random_state=1,
                               device="cpu", **SMALL)
    spread = np.log10(bench.history.std(axis=1))
    assert spread.max() - spread.min() > 2  # several orders of magnitude
    assert np.all(bench.params["scale"] > 0)


# ----------------------------------------------------------- determinism and errors
def test_identical_output_for_identical_random_state():
    a = load_sde_benchmark(level=9, n_systems=5, n_targets=3, random_state=42,
                           device="cpu", **SMALL)
    b = load_sde_benchmark(level=9, n_systems=5, n_targets=3, random_state=42,
                           device="cpu", **SMALL)
    c = load_sde_benchmark(level=9, n_systems=5, n_targets=3, random_state=43,
                           device="cpu", **SMALL)
    np.testing.assert_array_equal(a.history, b.history)
    np.testing.assert_array_equal(a.futures, b.futures)
    np.testing.assert_array_equal(a.params["corr"], b.params["corr"])
    assert not np.array_equal(a.history, c.history)
    gen = np.random.default_rng(5)
    d = make_sde(level=2, n_targets=2, random_state=gen, device="cpu", **SMALL)
    e = make_sde(level=2, n_targets=2, random_state=np.random.default_rng(5), device="cpu",
                 **SMALL)
    np.testing.assert_array_equal(d.futures, e.futures)
    assert d.history.shape == (100, 2) and d.futures.shape == (16, 20, 2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(level=10), "level"),
    (dict(level=-1), "level"),
    (dict(level=2.5), "level"),
    (dict(n_systems=0), "n_systems"),
    (dict(n_targets=0), "n_targets"),
    (dict(n_features=-1), "n_features"),
    (dict(n_futures=0), "n_futures"),
    (dict(horizon=0), "horizon"),
    (dict(t_out=0.3), "time step"),
    (dict(t_in=-1.0), "t_in"),
    (dict(random_state="seed"), "random_state"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_sde_benchmark(**{**dict(n_systems=2, n_futures=4), **kwargs})


# --------------------------------------------------------------------------- stream
def test_stream_batches_masks_and_determinism():
    kw = dict(levels=[0, 5, 7], batch_size=6, n_targets=(1, 4), context_length=64,
              horizon=8, n_futures=16, t_in=1.0, t_out=0.125, device="cpu")
    s1, s2 = SDEStream(random_state=3, **kw), SDEStream(random_state=3, **kw)
    b1, b2 = s1.sample_batch(), next(iter(s2))
    assert b1.context.shape == (6, 64, 4) and b1.futures.shape == (6, 16, 8, 4)
    assert b1.context.dtype == torch.float32
    assert b1.dt == pytest.approx(1 / 64)
    torch.testing.assert_close(b1.futures, b2.futures, rtol=0, atol=0)
    assert set(b1.levels.tolist()) <= {0, 5, 7}
    for b in range(6):
        n = int(b1.n_targets[b])
        assert b1.target_mask[b].tolist() == [True] * n + [False] * (4 - n)
        assert torch.all(b1.context[b, :, n:] == 0) and torch.all(b1.futures[b, ..., n:] == 0)
        assert torch.all(b1.context[b, :, :n].std(dim=0) > 0)
    assert torch.isfinite(b1.futures).all()


def test_stream_level_schedule():
    calls = []

    def schedule(step):
        calls.append(step)
        return [1.0, 0.0] if step == 0 else [0.0, 1.0]

    stream = SDEStream(levels=[1, 6], level_weights=schedule, batch_size=5, n_targets=2,
                       context_length=32, horizon=4, n_futures=4, t_in=1.0, t_out=0.125,
                       random_state=0, device="cpu")
    first, second = stream.sample_batch(), stream.sample_batch()
    assert first.levels.tolist() == [1] * 5 and second.levels.tolist() == [6] * 5
    assert calls == [0, 1] and stream.n_batches_ == 2
    with pytest.raises(ValueError, match="level_weights"):
        SDEStream(levels=[1, 2], level_weights=[1.0], device="cpu")


def test_curriculum_weights():
    w0, w_half, w1 = (curriculum_weights(p, range(8)) for p in (0.0, 0.5, 1.0))
    assert w0[0] == 1 and w0[1:].sum() == 0
    assert np.allclose(w1, 1 / 8)
    assert np.isclose(w_half.sum(), 1) and w_half[4] > 0 and w_half[5:].sum() == 0
    with pytest.raises(ValueError):
        curriculum_weights(1.5)


def test_stream_with_features_and_make_sde_params():
    stream = SDEStream(levels=3, batch_size=3, n_targets=2, n_features=2, context_length=32,
                       horizon=4, n_futures=5, t_in=1.0, t_out=0.125, random_state=1,
                       device="cpu")
    batch = stream.sample_batch()
    assert batch.context.shape == (3, 32, 2) and batch.context_features.shape == (3, 32, 2)
    assert batch.future_features.shape == (3, 5, 4, 2)
    # features and targets are coupled at level 3 (cross-block correlation)
    assert torch.all(batch.systems.corr[:, :2, 2:].abs().amax(dim=(1, 2)) > 0)
    sample = make_sde(level=6, n_targets=2, random_state=0, device="cpu", **SMALL)
    assert sample.params["regime_type"] == REGIME_TELEGRAPH
    assert sample.params["corr"].shape == (2, 2) and sample.level == 6
    assert sample.dt == pytest.approx(0.01)
