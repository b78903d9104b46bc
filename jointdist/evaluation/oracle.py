"""Distribution recovery against oracle futures: the evaluation protocol of seed 000, §4.

Each forecaster is fitted on the history of every system of a benchmark (for example
:func:`jointdist.datasets.load_sde_benchmark`), draws ``n_samples`` paths, and is
compared with the oracle futures branched from the history's exact terminal state:

* **energy distance** (the paper's "energy loss", joint over the targets),
* **marginal energy** (the 1-D energy distance of every target, averaged),
* **CRPS-sum**: the expected CRPS of the sum over targets, averaged over the oracle
  futures (``E|S_X - S_Y| - E|S_X - S_X'| / 2`` with ``S`` the sum over targets),

each per horizon, then averaged over systems.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from jointdist.base import check_n_samples
from jointdist.metrics import crps_sum, marginal_energy
from jointdist.metrics._arrays import mean_pairwise_distance
from jointdist.metrics.energy import _self_term

__all__ = ["ORACLE_METRICS", "correlation_error", "oracle_scores", "oracle_spread",
           "pairwise_correlations", "run_oracle_benchmark", "summarize_benchmark"]

#: Metrics computed against oracle futures, in the order of the reports.
ORACLE_METRICS = ("energy_distance", "marginal_energy", "crps_sum", "correlation_error")


def oracle_spread(futures) -> np.ndarray:
    """``E|Y - Y'|`` per horizon of the oracle futures (U-statistic), shape (horizon,).

    The part of the energy distance that depends on the oracle alone: compute it once
    per system and pass it to :func:`oracle_scores` for every model.
    """
    y = torch.from_numpy(np.ascontiguousarray(futures, dtype=np.float64)).movedim(-3, -2)
    return _self_term(y, "fair").numpy()


def pairwise_correlations(paths) -> np.ndarray:
    """Correlation of every pair of targets at every horizon, across paths.

    Parameters
    ----------
    paths : array-like of shape (n_paths, horizon, n_targets)

    Returns
    -------
    ndarray of shape (horizon, n_targets * (n_targets - 1) / 2)
        Upper-triangle correlations (row-major pair order); a constant target has
        correlation 0 with every other.
    """
    x = np.asarray(paths, dtype=np.float64)
    xc = x - x.mean(axis=0)
    cov = np.einsum("mhi,mhj->hij", xc, xc)
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))  # (H, N)
    inv = np.divide(1.0, sd, out=np.zeros_like(sd), where=sd > 1e-12 * sd.max(initial=0))
    corr = cov * inv[:, :, None] * inv[:, None, :]
    iu = np.triu_indices(x.shape[-1], 1)
    return corr[:, iu[0], iu[1]]


def correlation_error(samples, futures) -> np.ndarray:
    """Mean absolute difference of the pairwise correlations, per horizon.

    Parameters
    ----------
    samples, futures : array-like of shape (n_paths, horizon, n_targets)

    Returns
    -------
    ndarray of shape (horizon,)
        Mean over pairs of targets of ``|corr_samples - corr_futures|`` (see
        :func:`pairwise_correlations`); NaN for a single target.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.shape[-1] < 2:
        return np.full(samples.shape[-2], np.nan)
    return np.abs(pairwise_correlations(samples) - pairwise_correlations(futures)).mean(-1)


def oracle_scores(samples, futures, *, spread=None) -> dict[str, np.ndarray]:
    """Per-horizon distances of one forecast to the oracle futures of one system.

    Parameters
    ----------
    samples : array-like of shape (n_samples, horizon, n_targets)
    futures : array-like of shape (n_futures, horizon, n_targets)
    spread : ndarray of shape (horizon,), optional
        :func:`oracle_spread` of ``futures``, when it was computed already.

    Returns
    -------
    dict of ndarray of shape (horizon,)
        ``energy_distance``, ``marginal_energy`` (both with the unbiased "fair"
        estimator), ``crps_sum`` (expected CRPS of the sum over the oracle futures) and
        ``correlation_error`` (:func:`correlation_error`: scale-free and blind to the
        marginals).
    """
    samples = np.asarray(samples, dtype=np.float64)
    futures = np.asarray(futures, dtype=np.float64)
    if spread is None:
        spread = oracle_spread(futures)
    x = torch.from_numpy(np.ascontiguousarray(samples)).movedim(-3, -2)  # (H, m, N)
    y = torch.from_numpy(np.ascontiguousarray(futures)).movedim(-3, -2)  # (H, k, N)
    cross = mean_pairwise_distance(x, y).numpy()
    self_x = _self_term(x, "fair").numpy()
    return {
        # energy distance, "fair" form: 2 E|X-Y| - E|X-X'| - E|Y-Y'| (metrics.energy_distance)
        "energy_distance": 2.0 * cross - self_x - spread,
        "marginal_energy": np.asarray(marginal_energy(samples, futures, per_horizon=True)),
        # every oracle future plays the observation; average the scores over them
        "crps_sum": np.asarray(crps_sum(futures, samples[None], per_horizon=True)).mean(0),
        "correlation_error": correlation_error(samples, futures),
    }


def run_oracle_benchmark(models: dict[str, Any], benchmark, *, n_samples=1000,
                         random_state=0, systems=None, progress=False) -> pd.DataFrame:
    """Fit every model on every system's history and score it against the oracle.

    Parameters
    ----------
    models : dict of str to forecaster
        Unfitted jointdist forecasters; each is cloned for every system.
    benchmark : object with ``history`` (S, T, N) and ``futures`` (S, F, H, N)
        E.g. the result of :func:`jointdist.datasets.load_sde_benchmark`.
    n_samples : int, default=1000
        Sample paths per model and system.
    random_state : int, default=0
        Seed of the draws; system ``i`` uses ``random_state + i`` for every model, so
        models are compared on equal footing and runs are reproducible.
    systems : sequence of int or None, default=None
        Indices of the systems to use; None uses all.
    progress : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    pandas.DataFrame
        Tidy rows ``model, system, horizon (1-based), metric, value``, plus a
        ``fit_predict_seconds`` column.  A model whose fit or sampling fails on a
        system gets no rows for it and a ``RuntimeWarning`` naming the error; see
        :func:`summarize_benchmark` for how such gaps are handled.
    """
    n_samples = check_n_samples(n_samples)
    history = np.asarray(benchmark.history)
    futures = np.asarray(benchmark.futures)
    if history.ndim != 3 or futures.ndim != 4 or futures.shape[0] != history.shape[0]:
        raise ValueError("benchmark must have history (S, T, N) and futures (S, F, H, N); "
                         f"got {history.shape} and {futures.shape}.")
    horizon = futures.shape[2]
    indices = range(history.shape[0]) if systems is None else list(systems)
    iterator = indices
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(indices, desc="systems")
    rows = []
    for i in iterator:
        spread = oracle_spread(futures[i])  # shared by every model
        for name, model in models.items():
            start = time.perf_counter()
            try:
                fitted = clone(model).fit(history[i].astype(np.float64))
                samples = fitted.predict_samples(horizon, n_samples,
                                                 random_state=random_state + int(i))
            except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
                warnings.warn(f"{name} failed on system {i}: {exc}", RuntimeWarning,
                              stacklevel=2)
                continue
            elapsed = time.perf_counter() - start
            for metric, values in oracle_scores(samples, futures[i], spread=spread).items():
                rows.extend((name, int(i), h + 1, metric, float(v), elapsed)
                            for h, v in enumerate(values))
    return pd.DataFrame(rows, columns=["model", "system", "horizon", "metric", "value",
                                       "fit_predict_seconds"])


def summarize_benchmark(results: pd.DataFrame, horizons=(1, 21, 42, 63),
                        common_systems=True) -> pd.DataFrame:
    """Average the per-horizon scores of :func:`run_oracle_benchmark` over systems.

    Parameters
    ----------
    results : DataFrame
        Output of :func:`run_oracle_benchmark`.
    horizons : sequence of int, default=(1, 21, 42, 63)
        Horizons reported individually (those beyond the benchmark's are skipped).
    common_systems : bool, default=True
        Keep only the systems on which every model succeeded, so that all models are
        averaged over the same systems.

    Returns
    -------
    DataFrame
        Index ``(metric, model)``; columns ``mean`` (over horizons and systems),
        ``h=...`` for the chosen horizons and ``n_systems``.
    """
    df = results
    if common_systems and not df.empty:
        per_system = df.groupby("system")["model"].nunique()
        keep = per_system.index[per_system == df["model"].nunique()]
        df = df[df["system"].isin(keep)]
    by_h = df.groupby(["metric", "model", "horizon"])["value"].mean().unstack("horizon")
    table = pd.DataFrame({"mean": by_h.mean(axis=1)})
    for h in horizons:
        if h in by_h.columns:
            table[f"h={h}"] = by_h[h]
    table["n_systems"] = df.groupby(["metric", "model"])["system"].nunique()
    return table
