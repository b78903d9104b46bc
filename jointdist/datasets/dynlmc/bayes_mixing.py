"""Bayesian optimisation of the mixture weights of synthetic sources (seed 001, Alg. 2).

Seed 001, Appendix A.4, treats the *training data* as the optimisation variable: the
mixture weights ``gamma`` on the simplex over the sources ``M`` (e.g. KernelSynth,
LMCSynth and the DynLMC variants) define a synthetic training set, a forecaster is
trained on it and its validation loss ``l(gamma)`` (Eq. (4)) is minimised with the
Tree-structured Parzen Estimator (Bergstra et al., 2011).  :func:`optimize_mixing`
runs that loop (Algorithm 2) for any black-box ``objective(weights) -> loss``; building
the mixture (lines 4-9, see :func:`mixture_counts`), training (lines 10-11) and
validating (lines 12-14) are the objective's job.

Parametrising the simplex
-------------------------
TPE samples independent box-constrained parameters, so the simplex is reached through
``|M|`` uniforms: the trial suggests ``u_m ~ U(0, 1)`` for every source, which are
mapped to ``e_m = -log(1 - u_m)`` (the inverse CDF of Exp(1)) and normalised,
``gamma_m = e_m / sum_k e_k`` (:func:`weights_from_uniforms`).  Normalised independent
Exp(1) variables are Dirichlet(1, ..., 1) distributed, so TPE's start-up (random)
trials, and its prior, are uniform on the simplex; the map treats all sources alike
(stick-breaking would not), and every point of the simplex is reached.  The map is
many-to-one (``|M|`` parameters for ``|M| - 1`` degrees of freedom: the scale of ``e``
is free), which TPE tolerates: it only models where good trials lie.  The multivariate
TPE is used so that the dependence between the ``u_m`` is modelled.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from jointdist._optional import import_optional
from jointdist.base import check_positive_int

from ._sampling import seed_sequence

__all__ = ["MixingResult", "mixture_counts", "optimize_mixing", "weights_from_uniforms"]

_SAMPLERS = ("tpe", "random")


@dataclass(frozen=True)
class MixingResult:
    """Outcome of :func:`optimize_mixing`.

    Attributes
    ----------
    best_weights : dict of str to float
        ``gamma*`` (Algorithm 2, line 18): the weights of the trial with the lowest loss,
        on the simplex, keyed by source name in the order of ``sources``.
    best_loss : float
        Its loss ``l(gamma*)``.
    best_trial : int
        Its trial number (0 is the initial mix).
    trials : pandas.DataFrame
        One row per trial (index ``trial``): ``state``, ``loss``, ``weight_<name>`` for
        every source, the suggested ``u_<name>``, ``datetime_start`` and ``duration_s``.
    study : optuna.study.Study
        The optuna study, e.g. to continue it or for optuna's visualisations.
    """

    best_weights: dict
    best_loss: float
    best_trial: int
    trials: pd.DataFrame
    study: Any


def weights_from_uniforms(u: Any) -> np.ndarray:
    """Map uniforms ``u in [0, 1]^M`` to the simplex by normalised Exp(1) quantiles.

    ``gamma_m = e_m / sum_k e_k`` with ``e_m = -log(1 - u_m)``; independent uniforms
    give ``gamma ~ Dirichlet(1, ..., 1)``, the uniform law on the simplex.  ``u_m = 1``
    is treated as the largest double below 1, and an all-zero ``u`` gives equal weights.

    Parameters
    ----------
    u : array-like of shape (M,) or (n, M)
        Values in ``[0, 1]``.

    Returns
    -------
    ndarray of the shape of ``u``
        Non-negative weights summing to 1 along the last axis.

    Examples
    --------
    >>> from jointdist.datasets.dynlmc import weights_from_uniforms
    >>> weights_from_uniforms([0.5, 0.5, 0.5]).round(3).tolist()
    [0.333, 0.333, 0.333]
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim not in (1, 2) or u.shape[-1] < 1 or not np.all((u >= 0) & (u <= 1)):
        raise ValueError(f"u must be a (M,) or (n, M) array of values in [0, 1], got {u!r}.")
    e = -np.log1p(-np.minimum(u, 1.0 - np.finfo(float).epsneg))
    total = e.sum(axis=-1, keepdims=True)
    uniform = np.full_like(e, 1.0 / e.shape[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, e / np.where(total > 0, total, 1.0), uniform)


def _uniforms_from_weights(w: np.ndarray) -> np.ndarray:
    """A preimage of ``w`` under :func:`weights_from_uniforms`: ``e = M w`` (uniform -> 1)."""
    return -np.expm1(-w.shape[0] * w)


def mixture_counts(weights: Mapping[str, float] | Sequence[float], n_total: int) -> np.ndarray:
    """Samples per source for a mixture of ``n_total`` (Algorithm 2, line 4).

    ``n_m = floor(gamma_m n_total)``, with the remainder given to the largest fractional
    parts (ties to the first source), so that ``sum_m n_m = n_total``.

    Parameters
    ----------
    weights : mapping of str to float, or sequence of float
        Non-negative weights (normalised here).
    n_total : int
        Size ``N`` of the mixture.

    Returns
    -------
    ndarray of int of shape (M,)
        The counts, in the order of ``weights``.

    Examples
    --------
    >>> from jointdist.datasets.dynlmc.bayes_mixing import mixture_counts
    >>> mixture_counts({"kernelsynth": 0.2, "lmc": 0.3, "dynlmc": 0.5}, 7).tolist()
    [1, 2, 4]
    """
    w = np.asarray(list(weights.values()) if isinstance(weights, Mapping) else weights,
                   dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or (w < 0).any() \
            or w.sum() <= 0:
        raise ValueError(f"weights must be non-negative finite numbers with a positive sum, "
                         f"got {weights!r}.")
    n_total = check_positive_int(n_total, "n_total", minimum=0)
    x = w / w.sum() * n_total
    counts = np.floor(x).astype(np.int64)
    rest = n_total - int(counts.sum())
    order = np.argsort(-(x - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _check_sources(sources: Any) -> tuple[str, ...]:
    if isinstance(sources, str) or not isinstance(sources, Sequence):
        raise ValueError(f"sources must be a sequence of source names, got {sources!r}.")
    sources = tuple(sources)
    if not sources:
        raise ValueError("sources must name at least one source.")
    if not all(isinstance(s, str) and s for s in sources):
        raise ValueError(f"source names must be non-empty strings, got {sources!r}.")
    if len(set(sources)) != len(sources):
        raise ValueError(f"source names must be distinct, got {sources!r}.")
    return sources


def _check_initial(initial: Any, sources: tuple[str, ...]) -> np.ndarray:
    M = len(sources)
    if initial is None:
        return np.full(M, 1.0 / M)
    if isinstance(initial, Mapping):
        if set(initial) != set(sources):
            raise ValueError(f"initial must have exactly the keys {sources}, got "
                             f"{tuple(initial)}.")
        w = np.array([initial[s] for s in sources], dtype=np.float64)
    else:
        w = np.asarray(initial, dtype=np.float64)
    if w.shape != (M,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"initial must be {M} non-negative finite weights with a positive "
                         f"sum, got {initial!r}.")
    return w / w.sum()


def _make_sampler(optuna, sampler: Any, random_state: Any):
    if not isinstance(sampler, str):
        if isinstance(sampler, optuna.samplers.BaseSampler):
            return sampler
        raise ValueError(f"sampler must be one of {_SAMPLERS} or an optuna sampler, got "
                         f"{sampler!r}.")
    if sampler not in _SAMPLERS:
        raise ValueError(f"sampler must be one of {_SAMPLERS} or an optuna sampler, got "
                         f"{sampler!r}.")
    seed = None
    if random_state is not None:
        seed = int(seed_sequence(random_state).generate_state(1)[0])
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():  # multivariate TPE is "experimental" in optuna 3.x
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def _trial_table(study, sources: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for t in study.trials:
        row = {"trial": t.number, "state": t.state.name,
               "loss": t.value if t.value is not None else np.nan}
        w = t.user_attrs.get("weights", {})
        for s in sources:
            row[f"weight_{s}"] = w.get(s, np.nan)
        for s in sources:
            row[f"u_{s}"] = t.params.get(f"u_{s}", np.nan)
        row["datetime_start"] = t.datetime_start
        row["duration_s"] = (t.duration.total_seconds() if t.duration is not None
                             else np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("trial")


def optimize_mixing(objective: Callable[[dict], float], sources: Sequence[str], *,
                    n_trials: int = 20, random_state: Any = None, initial: Any = None,
                    sampler: Any = "tpe", n_jobs: int = 1, study_name: str | None = None,
                    storage: Any = None, verbose: bool = False) -> MixingResult:
    """Find the mixture weights of synthetic sources with the lowest validation loss.

    Algorithm 2 of seed 001 (Appendix A.4): start from the uniform mix (line 1) or
    ``initial``, then for ``n_trials`` trials let the Bayesian optimiser propose weights
    ``gamma^(k)`` on the simplex from the trials so far (lines 15-16), evaluate the loss
    ``l(gamma^(k)) = objective(gamma^(k))`` (Eq. (4); lines 4-14: build the mixture,
    train, validate) and return ``gamma* = argmin_k l(gamma^(k))`` (line 18).  Weights
    are parametrised by normalised Exp(1) quantiles of uniforms, a uniform Dirichlet
    prior (module docstring).

    Parameters
    ----------
    objective : callable
        ``objective(weights) -> float``, lower is better; ``weights`` is a dict from source
        name to weight (non-negative, summing to 1), typically: sample a training set with
        :func:`mixture_counts` per source, train or fine-tune, return the validation
        loss.  A NaN loss marks the trial as failed (it is not a candidate); exceptions
        propagate.
    sources : sequence of str
        Distinct names of the sources ``M``, e.g. ``("kernelsynth", "lmc", "dynlmc")``.
    n_trials : int, default=20
        Number ``K`` of objective evaluations in this call, the initial mix included.
    random_state : int, numpy Generator or None, default=None
        Seed of the sampler; with ``n_jobs=1`` and a deterministic objective the trials
        are reproducible.
    initial : dict or sequence of float or None, default=None
        Weights of the first trial, ``gamma^(0)`` (normalised); ``None`` means the uniform
        mix.  It is enqueued only when the study has no trials yet (a resumed study
        keeps its history).
    sampler : {"tpe", "random"} or optuna.samplers.BaseSampler, default="tpe"
        ``"tpe"``: optuna's multivariate TPE (the paper's optimiser); ``"random"``:
        uniform Dirichlet draws (a baseline); or any optuna sampler (``random_state`` is
        then not used).
    n_jobs : int, default=1
        Parallel trials (threads, optuna's ``n_jobs``; ``-1``: one per CPU).  With more
        than one the order of the trials, hence the result, is not reproducible.
    study_name : str or None, default=None
        Name of the optuna study (to resume one from ``storage``).
    storage : str, optuna storage or None, default=None
        Optuna storage (e.g. ``"sqlite:///mixing.db"``) to persist and resume the study;
        ``None`` keeps it in memory.
    verbose : bool, default=False
        Keep optuna's per-trial log messages (otherwise they are silenced during the call).

    Returns
    -------
    MixingResult
        ``best_weights``, ``best_loss``, ``best_trial``, the trial table ``trials`` and
        the ``study``.

    Raises
    ------
    ValueError
        For an objective that is not callable, empty or duplicate ``sources``,
        ``n_trials < 1``, bad ``initial``, ``sampler`` or ``n_jobs``.
    ImportError
        If optuna is not installed (``pip install 'jointdist[tune]'``).
    RuntimeError
        If no trial completed with a finite loss.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist.datasets.dynlmc import optimize_mixing
    >>> target = {"kernelsynth": 0.2, "lmc": 0.2, "dynlmc": 0.6}
    >>> def loss(w):  # stands in for "train on the mixture, return the validation MAE"
    ...     return sum((w[k] - target[k]) ** 2 for k in target)
    >>> res = optimize_mixing(loss, list(target), n_trials=30, random_state=0)
    >>> res.trials.shape[0], res.best_loss < loss({k: 1 / 3 for k in target})
    (30, True)
    >>> bool(np.isclose(sum(res.best_weights.values()), 1.0))
    True
    """
    if not callable(objective):
        raise ValueError(f"objective must be callable, got {type(objective).__name__}.")
    sources = _check_sources(sources)
    n_trials = check_positive_int(n_trials, "n_trials")
    w0 = _check_initial(initial, sources)
    if (isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral)
            or not (n_jobs >= 1 or n_jobs == -1)):
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}.")
    if study_name is not None and not isinstance(study_name, str):
        raise ValueError(f"study_name must be a string or None, got {study_name!r}.")
    optuna = import_optional("optuna", extra="tune", needed_by="optimize_mixing")
    sampler = _make_sampler(optuna, sampler, random_state)
    names = [f"u_{s}" for s in sources]

    def trial_objective(trial) -> float:
        u = np.array([trial.suggest_float(n, 0.0, 1.0) for n in names])
        weights = dict(zip(sources, weights_from_uniforms(u).tolist()))
        trial.set_user_attr("weights", weights)
        loss = objective(dict(weights))
        if isinstance(loss, (bool, np.bool_)) or not isinstance(loss, numbers.Real):
            raise ValueError(f"objective must return a real number, got {loss!r}.")
        return float(loss)

    verbosity = optuna.logging.get_verbosity()
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="minimize", sampler=sampler,
                                    study_name=study_name, storage=storage,
                                    load_if_exists=storage is not None)
        if not study.trials:  # Algorithm 2, line 1: gamma^(0)
            study.enqueue_trial(dict(zip(names, _uniforms_from_weights(w0).tolist())))
        study.optimize(trial_objective, n_trials=n_trials, n_jobs=n_jobs)
    finally:
        optuna.logging.set_verbosity(verbosity)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE
                and t.value is not None and np.isfinite(t.value)]
    if not complete:
        raise RuntimeError("No trial of optimize_mixing completed with a finite loss.")
    best = min(complete, key=lambda t: (t.value, t.number))
    return MixingResult(best_weights=dict(best.user_attrs["weights"]),
                        best_loss=float(best.value), best_trial=int(best.number),
                        trials=_trial_table(study, sources), study=study)
