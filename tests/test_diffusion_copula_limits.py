"""DiffusionCopulaForecaster at the edges: constant targets, sample budgets, Ctrl-C,
presets and the refit of the marginals (issues 15 and 16)."""

import threading
import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator

import jointdist.models.diffusion_copula.forecaster as dcf
from jointdist.models.diffusion_copula import (
    ClassificationDiffusionCopula,
    DiffusionCopulaForecaster,
)

TINY = dict(max_epochs=4, lstm_hidden=8, mlp_hidden=8, random_state=0)


def _walks(n_steps, n_targets, step=1e-3, seed=0):
    rng = np.random.default_rng(seed)
    return 1.0 + np.cumsum(step * rng.standard_t(5, size=(n_steps, n_targets)), axis=0)


# ------------------------------------------------------------------ constant targets
def test_constant_column_stays_deterministic_beside_varying_ones():
    # issue 15 item 5: a column fixed at 0.005 beside two series of 1e-3 steps got
    # paths with standard deviation 223 over 5 steps (its zero scale became 1.0)
    y = np.column_stack([_walks(200, 2), np.full(200, 0.005)])
    model = DiffusionCopulaForecaster(copula="gaussian", **TINY).fit(y)
    np.testing.assert_array_equal(model.deterministic_targets_, [False, False, True])
    np.testing.assert_array_equal(model.modelled_targets_, [0, 1])
    paths = model.predict_samples(5, 200)
    np.testing.assert_array_equal(paths[:, :, 2], 0.005)
    # the other two are modelled jointly and stay on their own scale
    steps = np.diff(paths[:, :, :2], axis=1)
    assert 1e-4 < steps.std() < 1e-2
    assert model.pit_.shape[1] == 2 and model.copula_.n_dims_ == 2
    pit = model.marginal_pit(y)
    assert np.all(np.isnan(pit[:, 2])) and np.all((pit[:, :2] > 0) & (pit[:, :2] < 1))


def test_straight_line_and_constant_returns_continue_exactly():
    y = np.column_stack([_walks(150, 2, step=1.0), 10.0 + 0.25 * np.arange(150)])
    paths = DiffusionCopulaForecaster(copula="gaussian", **TINY).fit(y).predict_samples(4, 30)
    np.testing.assert_allclose(paths[:, :, 2],
                               np.broadcast_to(y[-1, 2] + 0.25 * np.arange(1, 5), (30, 4)))
    # returns=None: a constant return is forecast as that return
    r = np.column_stack([np.diff(_walks(151, 2), axis=0) * 1e3, np.full(150, 0.005)])
    paths = DiffusionCopulaForecaster(copula="gaussian", returns=None, **TINY).fit(r)
    np.testing.assert_array_equal(paths.predict_samples(3, 20)[:, :, 2], 0.005)


def test_straight_line_at_a_high_level_is_deterministic_as_in_dcc():
    # the differences of a straight line at 1e12 carry rounding noise (~1e-4): the
    # constant test is the shared one of the base class (relative to the level, as in
    # DCC), not relative to the mean increment, which called this line varying
    from jointdist.models import DCCGarchForecaster

    line = 1e12 + 0.1 * np.arange(150)
    assert np.diff(line).std() > 1e-9 * 0.1  # the old rule's threshold: "varying"
    y = np.column_stack([_walks(150, 2), line])
    model = DiffusionCopulaForecaster(copula="gaussian", **TINY).fit(y)
    np.testing.assert_array_equal(model.deterministic_targets_, [False, False, True])
    dcc = DCCGarchForecaster(constant_increments="deterministic")
    np.testing.assert_array_equal(dcc._constant_increment_targets(y, np.diff(y, axis=0)),
                                  model.deterministic_targets_)


def test_tiny_but_varying_steps_are_modelled_not_frozen():
    # relative threshold: steps of 1e-12 around a level of 1e-6 do vary
    y = np.column_stack([_walks(150, 1), 1e-6 + _walks(150, 1, step=1e-12, seed=1) - 1.0])
    model = DiffusionCopulaForecaster(copula="gaussian", **TINY).fit(y)
    assert not model.deterministic_targets_.any()
    # one modelled target: no copula to fit, the marginal alone is sampled
    one = DiffusionCopulaForecaster(**TINY).fit(np.column_stack([_walks(150, 1),
                                                                 np.ones(150)]))
    assert one.copula_ is None
    paths = one.predict_samples(3, 50)
    assert np.all(np.isfinite(paths)) and paths[:, :, 0].std() > 0
    np.testing.assert_array_equal(paths[:, :, 1], 1.0)


def test_all_constant_history_needs_no_network():
    model = DiffusionCopulaForecaster(**TINY).fit(np.full((80, 3), 2.5))
    assert model.marginal_model_ is None and model.copula_ is None
    np.testing.assert_array_equal(model.predict_samples(6, 10), 2.5)


# ------------------------------------------------------------------ limits
@pytest.fixture(scope="module")
def fitted():
    return DiffusionCopulaForecaster(copula="gaussian", **TINY).fit(_walks(150, 2))


def test_huge_requests_are_refused_with_a_clear_message(fitted):
    # issue 15 item 7: horizon=10000 or n_samples=10**6 ran for many minutes
    with pytest.raises(ValueError, match="max_sample_size"):
        fitted.predict_samples(10_000, 10_000)
    with pytest.raises(ValueError, match="GB of output"):
        fitted.predict_samples(63, 10**6)
    with pytest.raises(ValueError, match="max_sample_size"):
        DiffusionCopulaForecaster(max_sample_size=0, **TINY).fit(_walks(150, 2))


def test_large_requests_warn_and_the_budget_can_be_lifted(fitted, monkeypatch):
    monkeypatch.setattr(dcf, "WARN_SAMPLE_SIZE", 100)
    with pytest.warns(UserWarning, match="Ctrl-C"):
        fitted.predict_samples(3, 50)
    fitted.set_params(max_sample_size=None)
    try:
        monkeypatch.setattr(dcf, "WARN_SAMPLE_SIZE", 10**9)
        assert fitted.predict_samples(2, 10).shape == (10, 2, 2)
    finally:
        fitted.set_params(max_sample_size=dcf.MAX_SAMPLE_SIZE)


class _SlowCopula(BaseEstimator):
    """Independent uniforms, 0.05 s per draw; counts its draws."""

    def __init__(self, delay=0.05):
        self.delay = delay

    def fit(self, u):
        self.n_dims_ = u.shape[1]
        self.calls_ = []
        return self

    def log_density(self, u):
        return np.zeros(len(u))

    def sample(self, n, rng=None):
        self.calls_.append(n)
        time.sleep(self.delay)
        return np.random.default_rng(rng).uniform(size=(n, self.n_dims_))


@pytest.mark.parametrize("carry_steps, per_step", [(0, "mdn_mixtures"),
                                                   (None, "raw_to_mixture")])
def test_keyboard_interrupt_stops_sampling_promptly(monkeypatch, carry_steps, per_step):
    # issue 15 item 7: Ctrl-C must not be swallowed, and the sampling threads must not
    # go on drawing every remaining block (the old code waited for all of them); both
    # sampling loops (windows re-read, the fast preset's carried LSTM state)
    model = DiffusionCopulaForecaster(copula=_SlowCopula(), carry_steps=carry_steps,
                                      **TINY).fit(_walks(150, 2))
    monkeypatch.setattr(dcf, "_BLOCK_PATHS", 1)
    real = getattr(dcf, per_step)
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(dcf, per_step, interrupted)
    model.set_params(n_jobs=1)
    with pytest.raises(KeyboardInterrupt):
        model.predict_samples(16, 40)  # 40 blocks of one path
    time.sleep(0.3)  # a block already running stops at its next step, no other starts
    # (the old code drew the copula vectors of all 8 blocks of steps before raising)
    assert len(model.copula_.calls_) <= 2
    assert threading.active_count() < 10


def test_progress_only_when_verbose(fitted, capsys):
    fitted.predict_samples(3, 20)
    assert capsys.readouterr().err == ""
    fitted.set_params(verbose=True)
    try:
        fitted.predict_samples(3, 20)
    finally:
        fitted.set_params(verbose=False)
    assert "sampling paths" in capsys.readouterr().err


def test_samples_do_not_depend_on_n_jobs(fitted, monkeypatch):
    monkeypatch.setattr(dcf, "_BLOCK_PATHS", 7)
    a = fitted.set_params(n_jobs=1).predict_samples(3, 30, random_state=1)
    b = fitted.set_params(n_jobs=3).predict_samples(3, 30, random_state=1)
    fitted.set_params(n_jobs=2)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ presets, refit
def test_presets_resolve_parameters_left_at_none():
    model = DiffusionCopulaForecaster(copula="gaussian", max_epochs=2, mlp_hidden=8,
                                      random_state=0).fit(_walks(150, 2))
    assert model.marginal_config_.lstm_hidden == dcf.PRESETS["fast"]["lstm_hidden"]
    assert model.get_params()["lstm_hidden"] is None  # __init__ only stores
    paper = DiffusionCopulaForecaster(preset="paper", lstm_layers=1, lstm_hidden=4)
    assert paper._make_copula(0).get_params()["sampler"] == "langevin"
    assert paper._make_copula(0).get_params()["n_times"] == 10
    with pytest.raises(ValueError, match="preset"):
        DiffusionCopulaForecaster(preset="slow", **TINY).fit(_walks(150, 2))


def test_marginals_are_refitted_on_the_full_history():
    y = _walks(200, 2)
    kw = dict(copula="gaussian", lstm_hidden=8, mlp_hidden=8, max_epochs=6, patience=2,
              random_state=0)
    refit = DiffusionCopulaForecaster(**kw).fit(y)
    held = DiffusionCopulaForecaster(refit_full=False, **kw).fit(y)
    # same early-stopping run, then a second training for the chosen epoch count
    assert refit.marginal_best_epoch_ == held.marginal_best_epoch_
    assert refit.n_marginal_epochs_ == refit.marginal_best_epoch_
    assert len(refit.marginal_history_["val_nll"]) == held.n_marginal_epochs_
    assert not np.allclose(refit.pit_, held.pit_)


def test_cdc_auto_steps_follow_the_data_size():
    from scipy import special

    rng = np.random.default_rng(0)
    u = special.ndtr(rng.multivariate_normal([0, 0], [[1, .5], [.5, 1]], size=300))
    cdc = ClassificationDiffusionCopula(eval_every=50, patience=1, n_times=6,
                                        random_state=0).fit(u)
    n_train = 300 - round(0.15 * 300)
    assert cdc.max_steps_ == max(600, 3 * n_train)
    assert cdc.n_steps_ <= cdc.max_steps_
    with pytest.raises(ValueError, match="max_steps"):
        ClassificationDiffusionCopula(max_steps="many").fit(u)
