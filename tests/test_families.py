"""Out-of-curriculum process families with oracle futures."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jointdist.datasets import FAMILIES, load_family_benchmark


@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_finite_and_reproducible(family):
    bench = load_family_benchmark(family, n_systems=3, n_targets=4, context_length=50,
                                  horizon=5, n_futures=20, random_state=3)
    assert bench.history.shape == (3, 50, 4) and bench.futures.shape == (3, 20, 5, 4)
    assert np.isfinite(bench.history).all() and np.isfinite(bench.futures).all()
    again = load_family_benchmark(family, n_systems=3, n_targets=4, context_length=50,
                                  horizon=5, n_futures=20, random_state=3)
    np.testing.assert_array_equal(bench.futures, again.futures)
    # futures are random and start next to the end of the history
    assert bench.futures[:, :, 0].std(axis=1).min() > 0
    step = np.abs(np.diff(bench.history, axis=1)).mean(axis=1)  # (S, N)
    jump = np.abs(bench.futures[:, :, 0] - bench.history[:, None, -1]).mean(axis=1)
    assert np.all(jump < 10 * step)
    assert family in repr(bench) and len(bench) == 3


def test_square_root_branches_from_the_exact_state():
    # one Euler step of CIR: mean r + kappa (theta - r) dt, sd sigma sqrt(r dt)
    bench = load_family_benchmark("square_root", n_systems=2, n_targets=3,
                                  context_length=30, horizon=1, n_futures=20000,
                                  random_state=5)
    p = bench.params
    r_last = bench.history[:, -1].astype(np.float64) / p["unit"]
    first = bench.futures[:, :, 0].astype(np.float64) / p["unit"][:, None]
    mean = r_last + p["kappa"] * (p["theta"] - r_last) * bench.dt
    sd = p["sigma"] * np.sqrt(r_last * bench.dt)
    se = sd / np.sqrt(20000)
    np.testing.assert_array_less(np.abs(first.mean(axis=1) - mean), 5 * se + 1e-6 * r_last)
    np.testing.assert_allclose(first.std(axis=1), sd, rtol=0.05)


def test_garch_variance_and_correlation_of_the_first_future_step():
    bench = load_family_benchmark("garch", n_systems=1, n_targets=3, context_length=200,
                                  horizon=1, n_futures=40000, random_state=8)
    p = {k: v[0] for k, v in bench.params.items()}
    logp = np.log(bench.history[0].astype(np.float64) / p["price0"])
    eps = np.diff(np.concatenate([np.zeros((1, 3)), logp]), axis=0)
    var = p["variance0"].copy()
    for e in eps:  # the GJR recursion over the history gives the next variance
        var = p["omega"] + (p["alpha"] + p["gamma"] * (e < 0)) * e ** 2 + p["beta"] * var
    ret = np.log(bench.futures[0, :, 0].astype(np.float64) / bench.history[0, -1])
    # float32 storage limits the precision of small returns: tolerance 3% on the sd
    np.testing.assert_allclose(ret.std(axis=0), np.sqrt(var), rtol=0.03)
    # shocks are heavy tailed (Student-t with df in [3.5, 10]): kurtosis above 3
    z = ret / ret.std(axis=0)
    assert (np.mean(z ** 4, axis=0) > 3.2).all()


def test_drifting_factor_correlation_wanders():
    bench = load_family_benchmark("drifting_factor", n_systems=4, n_targets=4,
                                  context_length=504, horizon=1, n_futures=2,
                                  random_state=2)
    inc = np.diff(bench.history.astype(np.float64), axis=1)
    first = [np.corrcoef(x[:252].T)[0, 1:] for x in inc]
    second = [np.corrcoef(x[252:].T)[0, 1:] for x in inc]
    # with drifting loadings the correlation changes by far more than sampling noise
    # (about 0.06 for 252 pairs)
    assert np.max(np.abs(np.array(first) - np.array(second))) > 0.3


@given(st.sampled_from(["nope", "", "GARCH"]))
def test_unknown_family_is_refused(name):
    with pytest.raises(ValueError, match="family must be one of"):
        load_family_benchmark(name)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="n_systems"):
        load_family_benchmark("garch", n_systems=0)
    with pytest.raises(ValueError, match="context_length"):
        load_family_benchmark("garch", context_length=1)
