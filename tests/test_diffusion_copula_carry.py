"""The carried LSTM state of the diffusion-copula marginals (issue 16, ``carry_steps``) and
the inverse CDF on interpolated Student-t tails used while sampling."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from jointdist.models.diffusion_copula import DiffusionCopulaForecaster, NLTMixture
from jointdist.models.diffusion_copula import forecaster as dcf
from jointdist.models.diffusion_copula import mixture as mx
from jointdist.models.diffusion_copula.marginals import (
    INPUT_CLIP,
    MDNConfig,
    _carried_raw,
    build_windows,
    carried_mixtures,
    fit_mdn,
    mdn_mixtures,
)

TINY = dict(max_epochs=3, patience=2, lstm_hidden=8, mlp_hidden=8, n_normal=1, n_laplace=1,
            n_student=2, window=5, random_state=0)


def _walks(n_rows=160, n_targets=3, seed=0):
    return np.cumsum(np.random.default_rng(seed).standard_t(4, size=(n_rows, n_targets)),
                     axis=0)


@pytest.fixture(scope="module")
def carried():
    return DiffusionCopulaForecaster(copula="gaussian", carry_steps=4, **TINY).fit(_walks())


# ------------------------------------------------------------------ parameters
def test_presets_carry_and_paper_rereads():
    fast = DiffusionCopulaForecaster(**TINY)
    assert fast._carry_steps() == dcf.PRESETS["fast"]["carry_steps"] == 16
    assert DiffusionCopulaForecaster(preset="paper")._carry_steps() == 0
    assert DiffusionCopulaForecaster(carry_steps=0, **TINY)._carry_steps() == 0


@pytest.mark.parametrize("bad", [-1, 2.5, "4", True])
def test_carry_steps_is_validated(bad):
    with pytest.raises(ValueError, match="carry_steps"):
        DiffusionCopulaForecaster(carry_steps=bad, **TINY).fit(_walks(60, 2))


def test_config_records_the_reading(carried):
    assert carried.marginal_config_.carry_steps == 4
    rereads = DiffusionCopulaForecaster(copula="gaussian", carry_steps=0, **TINY).fit(_walks())
    assert rereads.marginal_config_.carry_steps is None


def test_a_forecaster_pickled_before_carry_steps_rereads_its_windows():
    model = DiffusionCopulaForecaster(copula="gaussian", carry_steps=0, **TINY).fit(_walks())
    state = dict(model.__getstate__())
    del state["carry_steps"]
    old = DiffusionCopulaForecaster.__new__(DiffusionCopulaForecaster)
    old.__setstate__(state)
    assert old.get_params()["carry_steps"] == 0
    np.testing.assert_array_equal(old.predict_samples(4, 10, random_state=0),
                                  model.predict_samples(4, 10, random_state=0))


# ------------------------------------------------------------------ the reading
def _naive_raw(net, z, carry):
    """Target by target: the LSTM from the zero state over the stretch from the start of
    the target's group of ``carry`` to the target, the features of its last k values."""
    k = net.config.window
    n_rows, n = z.shape[0] - k, z.shape[1]
    out = np.empty((n_rows, n, net.head[-1].out_features))
    with torch.no_grad():
        for r in range(n_rows):
            g = (r // carry) * carry
            seq = torch.as_tensor(z[g:r + k].T, dtype=torch.float32)  # (N, r - g + k)
            x = seq.clamp(-INPUT_CLIP, INPUT_CLIP)
            _, (h, _) = net.lstm(x[:, :, None])
            out[r] = net.head_from_lstm(h[-1], x[:, -k:], torch.arange(n)).numpy()
    return out


@pytest.mark.parametrize("n_rows", [5 + 3, 5 + 8, 5 + 11])  # part of a group, 2, 2 + part
def test_carried_outputs_are_the_stated_reading(carried, n_rows):
    z = np.random.default_rng(1).standard_normal((n_rows, 3)) * 2
    got = _carried_raw(carried.marginal_model_, torch.as_tensor(z, dtype=torch.float32), 4)
    np.testing.assert_allclose(got.numpy(), _naive_raw(carried.marginal_model_, z, 4),
                               rtol=1e-5, atol=1e-5)


def test_a_group_starts_with_the_window_read_from_the_zero_state(carried):
    net, k = carried.marginal_model_, carried.window
    z = np.random.default_rng(2).standard_normal((40, 3))
    mix = carried_mixtures(net, z, "cpu")
    windows, _ = build_windows(z, k)
    m = windows.shape[0]
    plain = mdn_mixtures(net, windows.reshape(m * 3, k), np.tile(np.arange(3), m), "cpu")
    first = np.arange(m) % 4 == 0  # the first target of every group
    for f in ("weights", "loc", "scale", "df"):
        a = getattr(mix, f)[first]
        b = getattr(plain, f).reshape(m, 3, -1)[first]
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # later in a group the carried state has read more than the window
    assert not np.allclose(mix.loc[~first], plain.loc.reshape(m, 3, -1)[~first], atol=1e-4)


def test_fit_with_fewer_training_rows_than_a_group():
    z = np.random.default_rng(3).standard_normal((5 + 12, 2))
    windows, targets = build_windows(z, 5)
    cfg = MDNConfig(n_targets=2, window=5, n_normal=1, n_laplace=1, n_student=1,
                    lstm_hidden=4, mlp_hidden=4, carry_steps=16)
    res = fit_mdn(windows, targets, cfg, n_val_rows=4, max_epochs=2, patience=2, seed=0)
    assert len(res.history["train_nll"]) == 2 and np.isfinite(res.history["val_nll"]).all()


# ------------------------------------------------------------------ sampling
def test_carried_sampling_inverts_the_pit(carried, monkeypatch):
    # the sampling loop (state carried step by step, window re-read every 4 steps) must
    # reproduce the reading of the PIT: the PIT of each sampled path, evaluated on the
    # history's last window followed by the path, is the copula draw it came from
    # (to the inverse CDF's tolerance plus float32 rounding of the network input)
    draws = []
    real = carried._copula_draws

    def recorded(size, n, rng):
        u = real(size, n, rng)
        draws.append(u)
        return u

    monkeypatch.setattr(carried, "_copula_draws", recorded)
    horizon, k = 11, carried.window  # two groups of 4 and part of a third
    y = _walks()
    paths = carried.predict_samples(horizon, 6, random_state=5)
    u = draws[0].reshape(6, horizon, 3)
    for p in range(6):
        pit = carried.marginal_pit(np.concatenate([y[-(k + 1):], paths[p]]))
        np.testing.assert_allclose(pit, u[p], atol=1e-5)


def test_carried_sampling_is_reproducible_and_independent_of_n_jobs(carried, monkeypatch):
    monkeypatch.setattr(dcf, "_BLOCK_PATHS", 7)
    a = carried.predict_samples(9, 20, random_state=1)
    np.testing.assert_array_equal(a, carried.predict_samples(9, 20, random_state=1))
    carried.set_params(n_jobs=1)
    try:
        np.testing.assert_array_equal(a, carried.predict_samples(9, 20, random_state=1))
    finally:
        carried.set_params(n_jobs=2)
    assert a.shape == (20, 9, 3) and np.all(np.isfinite(a))
    assert not np.array_equal(a, carried.predict_samples(9, 20, random_state=2))


# ------------------------------------------------------------------ inverse CDF
@settings(max_examples=300, deadline=None)
@given(st.floats(2.0, 1e6), st.floats(0.0, 1e8))
def test_approximate_t_tail_meets_its_stated_error(nu, z):
    exact = special.stdtr(nu, -z)
    if exact < 1e-16:
        return
    approx = mx._approx_t_tail(np.array([nu]), np.array([z]))[0]
    assert abs(approx / exact - 1) < mx.APPROX_T_TAIL_ERROR


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_icdf_on_approximate_tails_meets_its_tolerance(seed):
    rng = np.random.default_rng(seed)
    batch = 200
    m = NLTMixture(rng.dirichlet(np.ones(7), batch), rng.normal(size=(batch, 7)),
                   np.exp(rng.normal(size=(batch, 7))),
                   2.0 + rng.gamma(1.0, 3.0, size=(batch, 3)), 2, 2)
    u = np.clip(special.ndtr(rng.normal(scale=2.5, size=batch)), 1e-12, 1 - 1e-12)
    u[:4] = [1e-12, 1e-7, 1 - 1e-7, 1 - 1e-12]
    tol = dcf.SAMPLING_ICDF_TOL
    x = m.icdf(u, tol=tol, exact=False)
    tail = np.where(u > 0.5, 1 - u, u)
    got = np.where(u > 0.5, m.sf(x), m.cdf(x))
    # 10 tol: the Newton step accepted unchecked; plus the tables' error
    assert np.all(np.abs(got / tail - 1) <= 10 * tol + mx.APPROX_T_TAIL_ERROR)
    np.testing.assert_allclose(x, m.icdf(u, tol=tol), rtol=1e-4, atol=1e-4)


def test_icdf_falls_back_to_exact_iterations_below_two_degrees_of_freedom():
    m = NLTMixture(np.array([[0.5, 0.5]]), np.zeros((1, 2)), np.ones((1, 2)),
                   np.array([[1.5]]), n_normal=1, n_laplace=0)
    x = m.icdf(np.array([1e-6]), tol=1e-10, exact=False)
    assert abs(m.cdf(x)[0] / 1e-6 - 1) < 1e-8
