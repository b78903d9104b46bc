"""Distribution recovery against oracle futures: the evaluation protocol of seed 000, §4.

Each forecaster is fitted on the history of every system of a benchmark (for example
:func:`jointdist.datasets.load_sde_benchmark`), draws ``n_samples`` paths, and is
compared with the oracle futures branched from the history's exact terminal state:

* **energy distance** (the paper's "energy loss", joint over the targets),
* **marginal energy** (the 1-D energy distance of every target, averaged),
* **CRPS-sum**: the expected CRPS of the sum over targets, averaged over the oracle
  futures (``E|S_X - S_Y| - E|S_X - S_X'| / 2`` with ``S`` the sum over targets),

each per horizon, then averaged over systems.  Those three are raw: they scale with the
series, and benchmark systems whose scales span orders of magnitude are dominated by
the largest.  :func:`oracle_scores` therefore also returns scale-free and
dependence-sensitive scores, which lead the reports:

* **normalized energy distance**: the energy distance divided by the oracle's spread
  ``E|Y - Y'|`` at the same horizon (a unit-free number per system and horizon);
* **standardized energy distance**: the energy distance after dividing forecast and
  oracle by the oracle's per-target, per-horizon standard deviation, so that every
  target weighs the same and the dependence and the shape show instead of the largest
  series;
* **variogram divergence** (p = 0.5) of the standardized paths: the expected variogram
  score of the forecast minus that of the oracle, under the oracle (Scheuerer & Hamill
  2015); it compares the expected ``|Z_i - Z_j|^p`` of every pair of targets, so it is
  sensitive to the dependence;
* **portfolio energy**: the one-dimensional energy distance of random portfolios of
  the standardized targets (long-only and long-short weights), each divided by the
  oracle portfolio's spread (twice the excess expected CRPS of the portfolio sums);
* **correlation error**: the mean absolute difference of the pairwise correlations.
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
from jointdist.evaluation.skill import relative_skill
from jointdist.metrics import crps_sum, marginal_energy
from jointdist.metrics._arrays import sort_last, sorted_pair_sum

__all__ = ["DECOMPOSITION_METRICS", "DECOMPOSITION_VARIANTS", "ORACLE_METRICS",
           "SCALE_FREE_METRICS", "correlation_error", "error_decomposition",
           "oracle_scores", "oracle_spread", "pairwise_correlations", "portfolio_weights",
           "run_oracle_benchmark", "summarize_benchmark", "summarize_decomposition",
           "summarize_relative", "variogram_divergence"]

#: Scale-free metrics computed against oracle futures (they lead the reports).
SCALE_FREE_METRICS = ("normalized_energy_distance", "standardized_energy_distance",
                      "variogram_divergence", "portfolio_energy", "correlation_error")
#: Every metric computed against oracle futures, in the order of the reports; the raw
#: ones (``energy_distance``, ``marginal_energy``, ``crps_sum``) come last and are kept
#: for comparison with seed 000.
ORACLE_METRICS = SCALE_FREE_METRICS + ("energy_distance", "marginal_energy", "crps_sum")

#: Random portfolios of :func:`portfolio_weights` used by ``portfolio_energy``.
N_PORTFOLIOS = 16


def oracle_spread(futures) -> np.ndarray:
    """``E|Y - Y'|`` per horizon of the oracle futures (U-statistic), shape (horizon,).

    The part of the energy distance that depends on the oracle alone: compute it once
    per system and pass it to :func:`oracle_scores` for every model.
    """
    futures = np.asarray(futures, dtype=np.float64)
    y = torch.from_numpy(np.ascontiguousarray(futures - futures.mean(axis=0))).movedim(-3, -2)
    k = y.shape[-2]
    # the diagonal of the Gram form can come out as tiny rounding noise instead of 0
    return _mean_distance_gram(y, y) * (k / (k - 1))


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


def variogram_divergence(samples, futures, *, p=0.5) -> np.ndarray:
    r"""Expected variogram score of ``samples`` minus that of ``futures``, under ``futures``.

    With :math:`g_{ij}(Z) = |Z_i - Z_j|^p` and the variogram score
    :math:`\mathrm{VS}(P, y) = \sum_{i<j} (g_{ij}(y) - E_P\,g_{ij})^2` (Scheuerer &
    Hamill 2015, eq. 2, unit weights), the expectation over :math:`Y \sim Q` gives

    .. math::
        E_Q\,\mathrm{VS}(P, Y) - E_Q\,\mathrm{VS}(Q, Y)
        = \sum_{i<j} \left(E_P\,g_{ij} - E_Q\,g_{ij}\right)^2 ,

    estimated here without bias (the squared difference of sample means minus the
    variances of those means) and averaged over the pairs instead of summed, so that
    it does not grow with the number of targets.  It is zero when the two laws agree
    and can be slightly negative.

    Parameters
    ----------
    samples : array-like of shape (m, horizon, n_targets)
    futures : array-like of shape (k, horizon, n_targets)
    p : float, default=0.5

    Returns
    -------
    ndarray of shape (horizon,)
        NaN for a single target.
    """
    x = np.asarray(samples, dtype=np.float64)
    y = np.asarray(futures, dtype=np.float64)
    if x.shape[-1] < 2:
        return np.full(x.shape[-2], np.nan)
    iu = np.triu_indices(x.shape[-1], 1)

    def moments(z):  # (n, H, N) -> mean and variance of the mean of g, (H, pairs)
        g = np.abs(z[..., iu[0]] - z[..., iu[1]]) ** p
        return g.mean(axis=0), g.var(axis=0, ddof=1) / z.shape[0]

    mean_x, var_x = moments(x)
    mean_y, var_y = moments(y)
    return ((mean_x - mean_y) ** 2 - var_x - var_y).mean(axis=-1)


def portfolio_weights(n_targets: int, n_portfolios: int = N_PORTFOLIOS) -> np.ndarray:
    """Fixed random portfolio weights: half long-only, half long-short.

    Long-only weights are Dirichlet(1) draws (they sum to one); long-short weights are
    standard normal draws scaled to unit absolute sum.  The draws depend only on
    ``n_targets`` and ``n_portfolios`` (seed 0), so every system of a benchmark and
    every model is scored on the same portfolios.

    Returns
    -------
    ndarray of shape (n_targets, n_portfolios)
    """
    rng = np.random.default_rng(0)
    n_long = n_portfolios // 2
    long_only = rng.dirichlet(np.ones(n_targets), size=n_long)
    long_short = rng.standard_normal((n_portfolios - n_long, n_targets))
    long_short /= np.abs(long_short).sum(axis=1, keepdims=True)
    return np.concatenate([long_only, long_short]).T


def _one_dim_spread(b: np.ndarray) -> np.ndarray:
    """``E|Y - Y'|`` (U-statistic) of every column of ``b`` (k, H, K) -> (H, K), by sorting."""
    tb = torch.from_numpy(np.ascontiguousarray(b)).permute(1, 2, 0)  # (H, K, k)
    k = tb.shape[-1]
    return (sorted_pair_sum(sort_last(tb)) / (k * (k - 1))).numpy()


def _standardize(samples: np.ndarray, futures: np.ndarray,
                 centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets minus the oracle mean, divided by the oracle's standard deviation.

    Per target and horizon.  A coordinate where the oracle is (numerically)
    deterministic -- a standard deviation below 1e-6 of that target's largest over the
    horizons, or below 1e-12 of its level -- has no scale to measure in and no
    dependence to compare: it is set to 0 in both sets, so that the standardized scores
    judge the coordinates that vary (the raw and normalized energy distances still see
    a forecast that spreads where the truth does not).  Also returns the mask (H, N) of
    those degenerate coordinates.
    """
    sd = futures.std(axis=0, ddof=1)  # (H, N)
    degenerate = ((sd <= 1e-6 * sd.max(axis=0, keepdims=True))
                  | (sd <= 1e-12 * np.abs(centre)) | (sd == 0))
    inv = np.where(degenerate, 0.0, 1.0 / np.where(degenerate, 1.0, sd))
    return (samples - centre) * inv, (futures - centre) * inv, degenerate


def _positive_floor(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``values`` floored at a tiny fraction of ``reference`` (no division by zero)."""
    return np.maximum(values, 1e-12 * np.abs(reference) + 1e-300)


def _floored_spread(spread: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The oracle spread floored relative to the oracle mean ``centre`` (H, N), the
    denominator of the normalized energy distance."""
    return _positive_floor(spread, np.abs(centre).max(-1))


def _forecast_and_oracle(samples, futures, spread):
    """Both path sets as float64 (checked to match), and the oracle spread if not given."""
    samples = np.asarray(samples, dtype=np.float64)
    futures = np.asarray(futures, dtype=np.float64)
    if samples.ndim != 3 or futures.ndim != 3 or samples.shape[1:] != futures.shape[1:]:
        raise ValueError("samples and futures must have shapes (m, horizon, n_targets) and "
                         f"(k, horizon, n_targets); got {samples.shape} and {futures.shape}.")
    return samples, futures, oracle_spread(futures) if spread is None else spread


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
        The :data:`ORACLE_METRICS`, scale-free first (see the module docstring):
        ``normalized_energy_distance`` (energy distance / oracle spread),
        ``standardized_energy_distance`` (on paths divided by the oracle's per-target,
        per-horizon standard deviation), ``variogram_divergence``
        (:func:`variogram_divergence` of the standardized paths), ``portfolio_energy``
        (mean over the :func:`portfolio_weights` portfolios of the standardized
        targets of the 1-D energy distance / the oracle portfolio's spread),
        ``correlation_error`` (:func:`correlation_error`); then the raw
        ``energy_distance``, ``marginal_energy`` (both with the unbiased "fair"
        estimator) and ``crps_sum`` (expected CRPS of the sum over the oracle futures).
    """
    samples, futures, spread = _forecast_and_oracle(samples, futures, spread)
    energy = _energy_distance(samples, futures, spread)
    # standardize by the oracle's per-target, per-horizon deviation
    centre = futures.mean(axis=0)
    z_x, z_y, degenerate = _standardize(samples, futures, centre)
    # a horizon where no target varies has nothing to standardize: its standardized
    # scores are undefined (NaN), not a perfect 0 for every forecast
    undefined = degenerate.all(axis=-1)  # (H,)
    z_spread = oracle_spread(z_y)
    weights = portfolio_weights(samples.shape[-1])
    port_x, port_y = z_x @ weights, z_y @ weights  # (n, H, K) portfolio values
    port_ed = np.asarray(marginal_energy(port_x, port_y, per_horizon=True, per_target=True))
    port_spread = _one_dim_spread(port_y)
    spread_floored = _floored_spread(spread, centre)

    def defined(values):
        return np.where(undefined, np.nan, values)

    return {
        "normalized_energy_distance": energy / spread_floored,
        "standardized_energy_distance": defined(_energy_distance(z_x, z_y, z_spread)),
        "variogram_divergence": defined(variogram_divergence(z_x, z_y)),
        "portfolio_energy": defined((port_ed / _positive_floor(port_spread, 1.0))
                                    .mean(axis=-1)),
        "correlation_error": correlation_error(samples, futures),
        "energy_distance": energy,
        "marginal_energy": np.asarray(marginal_energy(samples, futures, per_horizon=True)),
        # every oracle future plays the observation; average the scores over them
        "crps_sum": np.asarray(crps_sum(futures, samples[None], per_horizon=True)).mean(0),
    }


#: The corrections of :func:`error_decomposition`, in the order of its reports.
DECOMPOSITION_VARIANTS = ("as_forecast", "oracle_location", "oracle_scale",
                          "oracle_location_scale")
#: The metrics ``run_oracle_benchmark(..., decompose=True)`` adds: the energy distance /
#: oracle spread of each oracle-corrected copy (``as_forecast`` is
#: ``normalized_energy_distance`` itself).
DECOMPOSITION_METRICS = tuple(f"normalized_energy_distance_{v}"
                              for v in DECOMPOSITION_VARIANTS[1:])


def error_decomposition(samples, futures, *, spread=None) -> dict[str, np.ndarray]:
    """Energy distance / oracle spread of a forecast and of three oracle-corrected copies.

    Where does a forecast's distance to the oracle come from?  Each copy replaces one
    part of the forecast by the oracle's, at every (horizon, target), and keeps the
    rest of every sample path:

    * ``oracle_location``: the paths moved by ``mean_oracle - mean_forecast``, so that
      only the scale, the shape and the dependence differ;
    * ``oracle_scale``: the deviations from the forecast's own mean multiplied by
      ``sd_oracle / sd_forecast``, so that only the location, the shape and the
      dependence differ;
    * ``oracle_location_scale``: both, so that only the shape of the marginals
      (skewness, tails) and the dependence between targets and horizons differ.

    The scores are not additive (the energy distance is not a sum over those parts):
    read ``1 - oracle_location / as_forecast`` as the share of the distance that the
    right location alone would remove.  A coordinate where the forecast does not vary
    keeps its values under the scale correction.

    Parameters
    ----------
    samples : array-like of shape (n_samples, horizon, n_targets)
    futures : array-like of shape (n_futures, horizon, n_targets)
    spread : ndarray of shape (horizon,), optional
        :func:`oracle_spread` of ``futures``, when it was computed already.

    Returns
    -------
    dict of ndarray of shape (horizon,)
        For each name of :data:`DECOMPOSITION_VARIANTS`, the energy distance divided by
        the oracle's spread (``normalized_energy_distance`` of :func:`oracle_scores`).
    """
    samples, futures, spread = _forecast_and_oracle(samples, futures, spread)
    mean_x, mean_y = samples.mean(axis=0), futures.mean(axis=0)
    spread_floored = _floored_spread(spread, mean_y)
    sd_x, sd_y = samples.std(axis=0), futures.std(axis=0)
    gain = np.divide(sd_y, sd_x, out=np.ones_like(sd_x),
                     where=sd_x > 1e-12 * (np.abs(mean_x) + sd_y))
    deviation = samples - mean_x
    # E|X - X'| does not change with a shift, so each scale shares it with its shifted
    # copy: two self-distance terms serve the four copies
    self_distances = {scaled: _self_distance(_paths_by_horizon(d, 0.0))
                      for scaled, d in ((False, deviation), (True, deviation * gain))}
    copies = {
        "as_forecast": (samples, False),
        "oracle_location": (deviation + mean_y, False),
        "oracle_scale": (deviation * gain + mean_x, True),
        "oracle_location_scale": (deviation * gain + mean_y, True),
    }
    return {name: _energy_distance(x, futures, spread, self_distances[scaled])
            / spread_floored for name, (x, scaled) in copies.items()}


def _paths_by_horizon(paths: np.ndarray, centre) -> torch.Tensor:
    """(n, H, N) paths minus ``centre`` as an (H, n, N) tensor (the Gram form's input)."""
    return torch.from_numpy(np.ascontiguousarray(paths - centre)).movedim(-3, -2)


def _self_distance(x: torch.Tensor) -> np.ndarray:
    """``E|X - X'|`` per horizon of (H, m, N) points, U-statistic (zero diagonal)."""
    m = x.shape[-2]
    return _mean_distance_gram(x, x) * (m / (m - 1))


def _energy_distance(samples: np.ndarray, futures: np.ndarray, spread: np.ndarray,
                     self_distance: np.ndarray | None = None) -> np.ndarray:
    """Fair energy distance per horizon, given the oracle's spread ``E|Y - Y'|`` (and
    the samples' ``E|X - X'|``, when it is known already)."""
    # centred on the oracle mean, the Gram-matrix form of the distances is accurate
    # (the points are not far from the origin relative to their distances) and 1.6x
    # faster than the direct form that jointdist.metrics keeps for arbitrary input
    centre = futures.mean(axis=0)
    x = _paths_by_horizon(samples, centre)  # (H, m, N)
    cross = _mean_distance_gram(x, _paths_by_horizon(futures, centre))
    if self_distance is None:
        self_distance = _self_distance(x)
    # "fair" form: 2 E|X-Y| - E|X-X'| - E|Y-Y'| (metrics.energy_distance)
    return 2.0 * cross - self_distance - spread


def _mean_distance_gram(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Mean Euclidean distance of (H, m, N) and (H, k, N) point sets, per horizon.

    Through ``|a|^2 + |b|^2 - 2 a.b`` (``torch.cdist``'s matrix-multiply mode), in
    blocks of horizons so that memory stays bounded; for centred inputs only.
    """
    step = max(1, 2 ** 24 // max(1, a.shape[-2] * b.shape[-2]))
    return torch.cat([
        torch.cdist(a[i:i + step], b[i:i + step],
                    compute_mode="use_mm_for_euclid_dist").mean(dim=(-2, -1))
        for i in range(0, a.shape[0], step)]).numpy()


def run_oracle_benchmark(models: dict[str, Any], benchmark, *, n_samples=1000,
                         random_state=0, systems=None, progress=False,
                         decompose=False) -> pd.DataFrame:
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
    decompose : bool, default=False
        Also score the oracle-corrected copies of :func:`error_decomposition` (the
        :data:`DECOMPOSITION_METRICS`: where the energy distance comes from).

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
            scores = oracle_scores(samples, futures[i], spread=spread)
            if decompose:
                parts = error_decomposition(samples, futures[i], spread=spread)
                scores.update((f"normalized_energy_distance_{v}", parts[v])
                              for v in DECOMPOSITION_VARIANTS[1:])
            for metric, values in scores.items():
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


def summarize_decomposition(results: pd.DataFrame) -> pd.DataFrame:
    """Mean energy distance / oracle spread of each model, as forecast and corrected.

    Parameters
    ----------
    results : DataFrame
        Output of ``run_oracle_benchmark(..., decompose=True)`` (models scored without
        ``decompose`` are left out).

    Returns
    -------
    DataFrame
        One row per model: for every name of :data:`DECOMPOSITION_VARIANTS`, the mean
        over systems of the per-system mean over horizons (the systems on which the
        model has every variant), and ``location_share``, ``1 - oracle_location /
        as_forecast``: the share of the distance that the oracle's location alone
        removes.  Empty when no model was decomposed.
    """
    metrics = ("normalized_energy_distance",) + DECOMPOSITION_METRICS
    rows = results[results["metric"].isin(metrics)]
    per_system = (rows.groupby(["model", "system", "metric"])["value"].mean()
                  .unstack("metric").reindex(columns=list(metrics)).dropna())
    per_system.columns = list(DECOMPOSITION_VARIANTS)
    table = per_system.groupby("model").mean()
    table["location_share"] = 1.0 - table["oracle_location"] / table["as_forecast"]
    table["n_systems"] = per_system.groupby("model").size()
    return table


def summarize_relative(results: pd.DataFrame, baselines=("hs", "dcc"), metrics=None, *,
                       n_bootstrap=2000, random_state=0) -> pd.DataFrame:
    """Scale-free comparison with the best baseline, per metric, over systems.

    Every metric of :func:`run_oracle_benchmark` is first averaged over the horizons of
    each system; :func:`jointdist.evaluation.relative_skill` then compares the models
    system by system with the best baseline (paired bootstrap over systems).

    Parameters
    ----------
    results : DataFrame
        Output of :func:`run_oracle_benchmark`.
    baselines : sequence of str, default=("hs", "dcc")
        Model names that are baselines (those present are used).
    metrics : sequence of str, optional
        Default: the :data:`SCALE_FREE_METRICS` present in ``results``.
    n_bootstrap : int, default=2000
    random_state : int, default=0

    Returns
    -------
    DataFrame
        Index ``(metric, model)``; the columns of :func:`relative_skill`.
    """
    present = set(results["metric"])
    metrics = [m for m in SCALE_FREE_METRICS if m in present] if metrics is None else metrics
    tables = {}
    for metric in metrics:
        per_system = (results[results["metric"] == metric]
                      .groupby(["system", "model"])["value"].mean().unstack("model"))
        if per_system.dropna().empty:
            # e.g. the standardized scores where the oracle never varies (level 0)
            warnings.warn(f"{metric} is undefined on every system (no target of the "
                          "oracle varies); it is left out of the comparison.",
                          RuntimeWarning, stacklevel=2)
            continue
        tables[metric] = relative_skill(per_system, baselines, n_bootstrap=n_bootstrap,
                                        random_state=random_state)
    return pd.concat(tables, names=["metric"])
