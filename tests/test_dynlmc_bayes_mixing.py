"""Tests of jointdist.datasets.dynlmc.bayes_mixing (seed 001, Algorithm 2)."""

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jointdist.datasets.dynlmc import (
    MixingResult,
    mixture_counts,
    optimize_mixing,
    weights_from_uniforms,
)

optuna = pytest.importorskip("optuna")

SOURCES = ("kernelsynth", "lmc", "dynlmc")
TARGET = np.array([0.2, 0.2, 0.6])


def squared_distance(weights):
    return float(sum((weights[s] - t) ** 2 for s, t in zip(SOURCES, TARGET)))


def _weights(result_or_row, sources=SOURCES):
    if isinstance(result_or_row, MixingResult):
        return np.array([result_or_row.best_weights[s] for s in sources])
    return np.array([result_or_row[f"weight_{s}"] for s in sources])


# ------------------------------------------------------------------- the optimiser
def test_finds_a_known_minimum():
    # Tolerance: with 40 trials the worst max |w - target| over seeds 0..9 was 0.033
    # (median 0.020; uniform random search: worst 0.070, median 0.042); we allow 0.06.
    res = optimize_mixing(squared_distance, SOURCES, n_trials=40, random_state=0)
    assert isinstance(res, MixingResult)
    assert np.abs(_weights(res) - TARGET).max() < 0.06
    assert res.best_loss == pytest.approx(squared_distance(res.best_weights))
    assert res.best_loss == res.trials["loss"].min()
    assert res.trials.loc[res.best_trial, "loss"] == res.best_loss
    assert list(res.best_weights) == list(SOURCES)


def test_tpe_beats_random_search_on_average():
    # Deterministic (fixed seeds); over seeds 0..4 the mean best loss of TPE was about
    # 4x smaller than random search's.
    tpe = [optimize_mixing(squared_distance, SOURCES, n_trials=40, random_state=s).best_loss
           for s in range(5)]
    rnd = [optimize_mixing(squared_distance, SOURCES, n_trials=40, random_state=s,
                           sampler="random").best_loss for s in range(5)]
    assert np.mean(tpe) < np.mean(rnd)


def test_first_trial_is_the_uniform_mix_and_weights_stay_on_the_simplex():
    seen = []

    def objective(w):
        seen.append(dict(w))
        return squared_distance(w)

    res = optimize_mixing(objective, SOURCES, n_trials=15, random_state=1)
    np.testing.assert_allclose(list(seen[0].values()), 1 / 3, rtol=1e-12)
    np.testing.assert_allclose(_weights(res.trials.iloc[0]), 1 / 3, rtol=1e-12)
    W = np.array([list(w.values()) for w in seen])
    assert W.shape == (15, 3) and np.all(W >= 0)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=1e-12)
    assert len(res.trials) == 15 and set(res.trials["state"]) == {"COMPLETE"}
    np.testing.assert_allclose(res.trials[[f"weight_{s}" for s in SOURCES]].to_numpy(), W)


def test_initial_weights_are_the_first_trial():
    init = {"kernelsynth": 0.0, "lmc": 1.0, "dynlmc": 3.0}
    res = optimize_mixing(squared_distance, SOURCES, n_trials=3, initial=init, random_state=0)
    np.testing.assert_allclose(_weights(res.trials.iloc[0]), [0.0, 0.25, 0.75], atol=1e-12)
    res = optimize_mixing(squared_distance, SOURCES, n_trials=2, initial=[1, 1, 2],
                          random_state=0)
    np.testing.assert_allclose(_weights(res.trials.iloc[0]), [0.25, 0.25, 0.5], rtol=1e-12)


def test_reproducible_with_a_seed():
    cols = ["loss"] + [f"weight_{s}" for s in SOURCES]
    a = optimize_mixing(squared_distance, SOURCES, n_trials=15, random_state=7)
    b = optimize_mixing(squared_distance, SOURCES, n_trials=15, random_state=7)
    c = optimize_mixing(squared_distance, SOURCES, n_trials=15, random_state=8)
    np.testing.assert_array_equal(a.trials[cols].to_numpy(), b.trials[cols].to_numpy())
    assert a.best_weights == b.best_weights
    assert not np.array_equal(a.trials[cols].to_numpy()[1:], c.trials[cols].to_numpy()[1:])


def test_single_source_and_sampler_instance():
    res = optimize_mixing(lambda w: 1.0, ["only"], n_trials=2, random_state=0)
    assert res.best_weights == {"only": 1.0}
    res = optimize_mixing(squared_distance, SOURCES, n_trials=4,
                          sampler=optuna.samplers.RandomSampler(seed=0))
    assert len(res.trials) == 4


def test_nan_losses_fail_the_trial_and_all_nan_raises():
    calls = []

    def objective(w):
        calls.append(w)
        return np.nan if len(calls) % 2 else squared_distance(w)

    res = optimize_mixing(objective, SOURCES, n_trials=6, random_state=0)
    assert (res.trials["state"] == "FAIL").sum() == 3
    assert res.trials.loc[res.best_trial, "state"] == "COMPLETE"
    with pytest.raises(RuntimeError):
        optimize_mixing(lambda w: float("nan"), SOURCES, n_trials=2, random_state=0)
    with pytest.raises(ValueError, match="real number"):
        optimize_mixing(lambda w: "bad", SOURCES, n_trials=1, random_state=0)


def test_resumes_a_stored_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'mix.db'}"
    optimize_mixing(squared_distance, SOURCES, n_trials=3, random_state=0,
                    study_name="mix", storage=storage)
    res = optimize_mixing(squared_distance, SOURCES, n_trials=3, random_state=1,
                          study_name="mix", storage=storage)
    assert len(res.trials) == 6
    uniform = np.isclose(res.trials[[f"weight_{s}" for s in SOURCES]], 1 / 3).all(axis=1)
    assert uniform.sum() == 1 and uniform[0]   # the initial mix is enqueued once


@pytest.mark.parametrize("kwargs", [
    dict(objective="not callable"), dict(sources=[]), dict(sources=["a", "a"]),
    dict(sources="abc"), dict(sources=["a", ""]), dict(sources=["a", 1]),
    dict(n_trials=0), dict(n_trials=2.5), dict(initial={"kernelsynth": 1.0}),
    dict(initial=[1, -1, 1]), dict(initial=[0, 0, 0]), dict(initial=[1, 1]),
    dict(sampler="cmaes"), dict(sampler=3), dict(n_jobs=0), dict(study_name=3),
])
def test_bad_inputs_raise(kwargs):
    args = dict(objective=squared_distance, sources=SOURCES, n_trials=2)
    args.update(kwargs)
    with pytest.raises(ValueError):
        optimize_mixing(args.pop("objective"), args.pop("sources"), **args)


def test_missing_optuna_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"jointdist\[tune\]"):
        optimize_mixing(squared_distance, SOURCES, n_trials=1)


def test_optuna_logging_is_restored():
    level = optuna.logging.get_verbosity()
    optimize_mixing(squared_distance, SOURCES, n_trials=1, random_state=0)
    assert optuna.logging.get_verbosity() == level


# ------------------------------------------------------------------- the parametrisation
@settings(max_examples=50, deadline=None)
@given(u=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6))
def test_weights_from_uniforms_lie_on_the_simplex(u):
    w = weights_from_uniforms(u)
    assert w.shape == (len(u),) and np.all(np.isfinite(w)) and np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0, rel=1e-12)


def test_weights_from_uniforms_is_a_uniform_dirichlet():
    # Dirichlet(1_M): E w_m = 1/M, Var w_m = (M - 1) / (M^2 (M + 1)); the sample mean of
    # n draws has standard error sqrt(Var / n), and we allow 4.5 of them.  The fourth
    # moment of w_1 ~ Beta(1, M - 1) gives the variance check: E w^2 = 2 / (M (M + 1)).
    M, n = 4, 100_000
    w = weights_from_uniforms(np.random.default_rng(0).random((n, M)))
    var = (M - 1) / (M**2 * (M + 1))
    assert np.all(np.abs(w.mean(0) - 1 / M) < 4.5 * np.sqrt(var / n))
    m2, m4 = 2 / (M * (M + 1)), 24 / (M * (M + 1) * (M + 2) * (M + 3))
    assert np.all(np.abs((w**2).mean(0) - m2) < 4.5 * np.sqrt((m4 - m2**2) / n))
    with pytest.raises(ValueError):
        weights_from_uniforms([0.5, 1.5])
    np.testing.assert_allclose(weights_from_uniforms([0.0, 0.0]), [0.5, 0.5])


@settings(max_examples=50, deadline=None)
@given(w=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=6).filter(lambda v: sum(v) > 0),
       n=st.integers(0, 1000))
def test_mixture_counts_sum_to_n_and_round_the_shares(w, n):
    counts = mixture_counts(w, n)
    assert counts.sum() == n and np.all(counts >= 0)
    share = np.asarray(w) / sum(w) * n
    assert np.all(counts >= np.floor(share - 1e-9)) and np.all(counts <= np.ceil(share + 1e-9))


def test_mixture_counts_bad_inputs():
    assert mixture_counts({"a": 0.5, "b": 0.5}, 3).tolist() == [2, 1]
    for bad in ([], [0.0, 0.0], [1.0, -1.0], [np.nan]):
        with pytest.raises(ValueError):
            mixture_counts(bad, 5)
    with pytest.raises(ValueError):
        mixture_counts([1.0], -1)
