"""Volatility-clustering pretraining systems (jointdist.datasets.volatility) and the
stream option that mixes them into JointFM's pretraining batches."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jointdist.datasets import SDEStream
from jointdist.datasets.volatility import VOLATILITY_PROCESSES, simulate_volatility


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.integers(0, 2**31),
       st.sampled_from([[p] for p in VOLATILITY_PROCESSES] + [list(VOLATILITY_PROCESSES)]))
def test_shapes_padding_and_finite(n_targets, seed, processes):
    hist, fut, mask, which = simulate_volatility(n_targets, context_length=30, horizon=4,
                                                 n_futures=3, processes=processes,
                                                 random_state=seed)
    S, N = len(n_targets), max(n_targets)
    assert hist.shape == (S, 30, N) and fut.shape == (S, 3, 4, N)
    assert mask.sum(1).tolist() == list(n_targets) and which.shape == (S,)
    assert np.isfinite(hist).all() and np.isfinite(fut).all()
    assert (hist[~mask[:, None, :].repeat(30, 1)] == 0).all()  # padded columns are zero
    assert (fut * ~mask[:, None, None, :] == 0).all()


def test_seed_reproduces():
    a = simulate_volatility([3, 2], context_length=40, horizon=5, n_futures=4, random_state=7)
    b = simulate_volatility([3, 2], context_length=40, horizon=5, n_futures=4, random_state=7)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kwargs", [dict(n_targets=[]), dict(n_targets=[0]),
                                    dict(n_targets=[1.5]), dict(n_targets=[2], processes=[]),
                                    dict(n_targets=[2], processes=["garch"]),
                                    dict(n_targets=[2], scale_range=(0.0, 1.0)),
                                    dict(n_targets=[2], context_length=1)])
def test_bad_inputs(kwargs):
    with pytest.raises(ValueError):
        simulate_volatility(**kwargs)


@pytest.mark.parametrize("process", VOLATILITY_PROCESSES)
def test_volatility_clusters(process):
    """Absolute returns are autocorrelated: the property the curriculum lacks.

    The returns of 100 systems of 2,000 steps, straight from the process.  For i.i.d.
    returns the lag-1 autocorrelation of |r| is 0 with a standard error of
    1/sqrt(2000) = 0.022 per system, so a median over systems above 0.08 cannot come
    from i.i.d. returns (the shuffled control checks the statistic itself).
    """
    from jointdist.datasets.volatility import _PROCESSES

    rng = np.random.default_rng(3)
    proc = _PROCESSES[process](100, 2, rng)
    state, r = proc.initial_state(), np.empty((100, 2000))
    for t in range(2000):
        state, step = proc.step(state, rng)
        r[:, t] = step[:, 0, 0]

    def median_ac(x):
        a = np.abs(x - x.mean(1, keepdims=True))
        return np.median([np.corrcoef(v[:-1], v[1:])[0, 1] for v in a])

    assert median_ac(r) > 0.08
    assert abs(median_ac(rng.permuted(r, axis=1))) < 0.02


def test_futures_continue_the_history():
    """The futures branch from the terminal state: their first step starts at the last
    observed value (up to one step's move) for price and log-level observations."""
    hist, fut, mask, _ = simulate_volatility(np.full(60, 3), context_length=300, horizon=3,
                                             n_futures=200, random_state=5)
    last = hist[:, -1, :]
    first = np.median(fut[:, :, 0, :], axis=1)
    step = np.median(np.abs(np.diff(hist, axis=1)), axis=1)
    level_like = np.abs(last) > 20 * step  # not the returns mode
    gap = np.abs(first - last)[level_like]
    assert level_like.mean() > 0.5
    assert np.median(gap / step[level_like]) < 1.0


def test_stream_mixes_volatility_systems():
    kw = dict(levels=[1, 2], batch_size=12, n_targets=(2, 4), context_length=48, horizon=6,
              n_futures=5, t_in=1.0, t_out=0.125, device="cpu")
    stream = SDEStream(random_state=0, volatility_fraction=0.5, **kw)
    seen_vol = 0
    for _ in range(3):
        b = stream.sample_batch()
        assert b.context.shape == (12, 48, 4) and b.futures.shape == (12, 5, 6, 4)
        assert b.context.dtype == torch.float32 and b.target_mask.dtype == torch.bool
        vol = b.levels == -1
        seen_vol += int(vol.sum())
        assert (b.target_mask.sum(1) == b.n_targets).all()
        assert torch.isfinite(b.context).all() and torch.isfinite(b.futures).all()
        assert not vol[:int((~vol).sum())].any()  # curriculum rows first
    assert 0 < seen_vol < 36
    # the same seed gives the same batches; fraction 0 leaves the stream of seed 000 as it was
    again = SDEStream(random_state=0, volatility_fraction=0.5, **kw).sample_batch()
    first = SDEStream(random_state=0, volatility_fraction=0.5, **kw).sample_batch()
    torch.testing.assert_close(again.futures, first.futures)
    plain = SDEStream(random_state=1, **kw).sample_batch()
    zero = SDEStream(random_state=1, volatility_fraction=0.0, **kw).sample_batch()
    torch.testing.assert_close(plain.futures, zero.futures)
    only = SDEStream(random_state=2, volatility_fraction=1.0, **kw).sample_batch()
    assert (only.levels == -1).all() and only.systems is None


@pytest.mark.parametrize("name", ["volatility_fraction", "dynlmc_fraction"])
@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "0.3"])
def test_stream_refuses_bad_fraction(name, bad):
    with pytest.raises(ValueError, match=name):
        SDEStream(device="cpu", **{name: bad})


def test_stream_refuses_features_and_fractions_above_one():
    with pytest.raises(ValueError, match="n_features"):
        SDEStream(n_features=1, volatility_fraction=0.2, device="cpu")
    with pytest.raises(ValueError, match="n_features"):
        SDEStream(n_features=1, dynlmc_fraction=0.2, device="cpu")
    with pytest.raises(ValueError, match="<= 1"):
        SDEStream(volatility_fraction=0.6, dynlmc_fraction=0.5, device="cpu")


def test_stream_mixes_all_three_sources():
    kw = dict(levels=[1], batch_size=10, n_targets=(1, 3), context_length=40, horizon=4,
              n_futures=3, t_in=1.0, t_out=0.1, device="cpu")
    stream = SDEStream(random_state=4, volatility_fraction=0.3, dynlmc_fraction=0.3, **kw)
    levels = []
    for _ in range(3):
        b = stream.sample_batch()
        assert b.context.shape == (10, 40, 3) and b.futures.shape == (10, 3, 4, 3)
        assert torch.isfinite(b.futures).all()
        assert (b.target_mask.sum(1) == b.n_targets).all()
        lv = b.levels.tolist()
        assert lv == sorted(lv, key=lambda x: (x < 0, -x))  # curriculum, -1, then -2
        levels += lv
    assert {-2, -1, 1} <= set(levels)
    only = SDEStream(random_state=5, dynlmc_fraction=1.0, **kw).sample_batch()
    assert (only.levels == -2).all() and only.systems is None
