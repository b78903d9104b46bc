"""Diagnostics of marginal calibration and joint tails (seed 002, section 5 and Appendix D).

Plain numpy functions; the plots live in ``examples/diffusion_copula_diagnostics.py``.

* :func:`pit_histogram`, :func:`pit_ks_test` -- uniformity of PIT values (D.1.5);
* :func:`qq_points` -- normal QQ coordinates of probit-transformed PIT values (D.1.6);
* :func:`tail_co_exceedance`, :func:`tail_dependence` -- joint tail probabilities;
* :func:`exceedance_correlation` -- correlation at extreme quantiles;
* :func:`prob_k_simultaneous_tail_events` -- probability that ``k`` or more targets are
  in their tail at the same time (the "simultaneous crash" diagnostic of section 5);
* :func:`tail_event_accuracy` -- recall of observed tail events by point forecasts
  (Appendix D.1.4, "Tail" of Table 1);
* :func:`joint_extreme_steps`, :func:`crps_ensemble`, :func:`crps_on_joint_extremes` --
  the CRPS on time steps where several targets are in a tail together (Table 4);
* :func:`threshold_weighted_crps` -- the proper tail-focused alternative (twCRPS), to be
  averaged over *all* steps: scoring only the steps picked by their outcome, as the
  joint-extreme CRPS does, is not a proper score (Gneiting & Ranjan 2011);
* :func:`mahalanobis_surprise`, :func:`plot_black_swan` -- event magnitude against the
  forecast's Mahalanobis "surprise" (the black-swan view of Figure 6), and
  :func:`black_swan_curve` -- observed against expected frequencies of observations
  beyond extreme forecast quantiles (Appendix D.2).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = [
    "exceedance_correlation",
    "pit_histogram",
    "pit_ks_test",
    "black_swan_curve",
    "crps_ensemble",
    "crps_on_joint_extremes",
    "joint_extreme_steps",
    "mahalanobis_surprise",
    "plot_black_swan",
    "prob_k_simultaneous_tail_events",
    "qq_points",
    "tail_event_accuracy",
    "tail_co_exceedance",
    "tail_dependence",
]

_TAILS = ("lower", "upper")


def _as_2d(x, name) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D or 2-D array (n, d); got shape "
                         f"{arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _check_pit(pit) -> np.ndarray:
    arr = _as_2d(pit, "pit")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError("pit values must lie in [0, 1].")
    return arr


def _check_q(q):
    if not (0 < q < 1):
        raise ValueError(f"q must be in (0, 1); got {q!r}.")


def _check_tail(tail):
    if tail not in _TAILS:
        raise ValueError(f"tail must be one of {_TAILS}; got {tail!r}.")


def pit_histogram(pit, bins=10):
    """Histogram densities of PIT values per target (flat at 1 when calibrated).

    Parameters
    ----------
    pit : array-like of shape (n,) or (n, d) in [0, 1]
    bins : int, default=10

    Returns
    -------
    density : ndarray of shape (bins, d)
        Density of each bin (1 everywhere for uniform PIT).
    edges : ndarray of shape (bins + 1,)
    """
    pit = _check_pit(pit)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.stack([np.histogram(pit[:, j], bins=edges)[0] for j in range(pit.shape[1])],
                      axis=1)
    return counts / (pit.shape[0] / bins), edges


def pit_ks_test(pit):
    """Kolmogorov-Smirnov test of uniformity of the PIT values of each target.

    Returns
    -------
    statistic, pvalue : ndarray of shape (d,)
    """
    pit = _check_pit(pit)
    res = [stats.kstest(pit[:, j], "uniform") for j in range(pit.shape[1])]
    return (np.array([r.statistic for r in res]), np.array([r.pvalue for r in res]))


def qq_points(pit, clip=1e-6):
    """Normal QQ coordinates of probit-transformed PIT values (Appendix D.1.6).

    Returns
    -------
    theoretical : ndarray of shape (n,)
        ``Phi^{-1}(i / (n + 1))``, ``i = 1..n``.
    empirical : ndarray of shape (n, d)
        Sorted ``Phi^{-1}(pit)`` of each target.
    """
    pit = _check_pit(pit)
    n = pit.shape[0]
    theoretical = special.ndtri(np.arange(1, n + 1) / (n + 1))
    empirical = np.sort(special.ndtri(np.clip(pit, clip, 1 - clip)), axis=0)
    return theoretical, empirical


def _tail_indicators(x, q, tail, thresholds):
    x = _as_2d(x, "x")
    _check_q(q)
    _check_tail(tail)
    if thresholds is None:
        thresholds = np.quantile(x, q if tail == "lower" else 1 - q, axis=0)
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (x.shape[1],))
    return (x <= thresholds) if tail == "lower" else (x >= thresholds)


def tail_co_exceedance(x, q=0.05, tail="lower", thresholds=None):
    """Pairwise joint tail probabilities ``P(X_i in tail, X_j in tail)``, shape (d, d).

    Parameters
    ----------
    x : array-like of shape (n, d)
        Copula data ``u`` (then the thresholds are ``q`` / ``1 - q``) or any samples.
    q : float, default=0.05
        Tail level.
    tail : {"lower", "upper"}, default="lower"
    thresholds : array-like of shape (d,) or None
        Tail thresholds; None uses the empirical ``q`` (or ``1 - q``) quantile of each
        column of ``x``.  For copula data pass ``q`` (or ``1 - q``) to use the exact
        uniform quantiles.

    Returns
    -------
    ndarray of shape (d, d)
        The diagonal holds the marginal exceedance rates.
    """
    ind = _tail_indicators(x, q, tail, thresholds).astype(np.float64)
    return ind.T @ ind / ind.shape[0]


def tail_dependence(x, q=0.05, tail="lower", thresholds=None):
    """Finite-level tail dependence ``lambda(q) = P(X_j in tail | X_i in tail)``, (d, d).

    Equal to ``C(q, q) / q`` for copula data in the lower tail; 0 for independence in
    the limit ``q -> 0``, and ``q`` at any level under independence.
    """
    co = tail_co_exceedance(x, q, tail, thresholds)
    diag = np.diag(co).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(diag[:, None] > 0, co / diag[:, None], np.nan)
    return out


def exceedance_correlation(x, q=0.1, tail="lower", thresholds=None, min_points=5):
    """Correlation at extreme quantiles (Longin & Solnik 2001), shape (d, d).

    For each pair, Pearson's correlation of ``(x_i, x_j)`` over the rows where *both*
    are in their tail; NaN where fewer than ``min_points`` rows qualify.  Compare the
    matrices of observed data and of forecast samples to measure the "correlation error
    at extreme quantiles" of seed 002.
    """
    x = _as_2d(x, "x")
    ind = _tail_indicators(x, q, tail, thresholds)
    d = x.shape[1]
    out = np.full((d, d), np.nan)
    for i in range(d):
        for j in range(d):
            both = ind[:, i] & ind[:, j]
            if both.sum() >= min_points:
                a, b = x[both, i], x[both, j]
                if a.std() > 0 and b.std() > 0:
                    out[i, j] = np.corrcoef(a, b)[0, 1]
    return out


def prob_k_simultaneous_tail_events(x, q=0.05, tail="lower", thresholds=None):
    """Probability that at least ``k`` targets are in their tail at the same time.

    Parameters
    ----------
    x : array-like of shape (n, d)
        Observations or samples of one time step (rows are scenarios).
    q : float, default=0.05
    tail : {"lower", "upper"}, default="lower"
    thresholds : array-like of shape (d,) or None
        Per-target tail thresholds, e.g. historical ``q``-quantiles so that forecast
        samples and observations are judged by the same line; None uses each column's
        own empirical quantile.

    Returns
    -------
    ndarray of shape (d + 1,)
        ``p[k] = P(#{i : x_i in tail} >= k)``; ``p[0] = 1``.  Under independence with
        exact ``q`` thresholds this is the binomial survival function.
    """
    ind = _tail_indicators(x, q, tail, thresholds)
    counts = ind.sum(axis=1)
    d = ind.shape[1]
    return np.array([(counts >= k).mean() for k in range(d + 1)])


def tail_event_accuracy(y_true, y_pred, threshold, tail="upper"):
    """Tail event accuracy of point forecasts (seed 002, Appendix D.1.4).

    ``sum 1{y > tau and y_hat > tau} / sum 1{y > tau}`` per target: the share of the
    observed tail events that the point forecast also put in the tail (a recall).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, d)
        Observations and point forecasts (e.g. forecast means or medians).
    threshold : float or array-like of shape (d,)
        ``tau``; for ``tail="lower"`` the events are ``y < tau``.
    tail : {"upper", "lower"}, default="upper"

    Returns
    -------
    ndarray of shape (d,)
        NaN for a target without observed tail events.
    """
    _check_tail(tail)
    y = _as_2d(y_true, "y_true")
    yh = _as_2d(y_pred, "y_pred")
    if y.shape != yh.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got {y.shape} and "
                         f"{yh.shape}.")
    tau = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (y.shape[1],))
    obs = y > tau if tail == "upper" else y < tau
    hit = obs & ((yh > tau) if tail == "upper" else (yh < tau))
    n_obs = obs.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_obs > 0, hit.sum(axis=0) / n_obs, np.nan)


def joint_extreme_steps(y, q=0.05, min_count=3, thresholds=None):
    """Time steps with at least ``min_count`` targets in the same tail at once.

    Seed 002 (Table 4) scores the steps with more than two assets in either side of
    their 5 % tail: ``min_count=3`` counts the lower and the upper tail separately.

    Parameters
    ----------
    y : array-like of shape (n, d)
        Observed increments.
    q : float, default=0.05
    min_count : int, default=3
    thresholds : tuple (lower, upper) of arrays of shape (d,) or None
        Tail lines; None uses the empirical ``q`` and ``1 - q`` quantiles of ``y``
        (pass the training-period quantiles to avoid looking ahead).

    Returns
    -------
    ndarray of bool of shape (n,)
    """
    y = _as_2d(y, "y")
    _check_q(q)
    if thresholds is None:
        thresholds = (np.quantile(y, q, axis=0), np.quantile(y, 1 - q, axis=0))
    lower, upper = thresholds
    n_low = (y <= np.asarray(lower)).sum(axis=1)
    n_up = (y >= np.asarray(upper)).sum(axis=1)
    return (n_low >= min_count) | (n_up >= min_count)


def crps_ensemble(samples, y):
    """CRPS of ensemble forecasts, ``E|X - y| - E|X - X'| / 2`` (Appendix D.1.3).

    Parameters
    ----------
    samples : array-like of shape (m,) or (n, m)
        One ensemble shared by all observations, or one per observation.
    y : array-like of shape (n,)

    Returns
    -------
    ndarray of shape (n,)
        Exact for the empirical distribution of the ensemble (sorted-sample formulas,
        ``O(m log m)`` per ensemble).
    """
    x = np.sort(np.asarray(samples, dtype=np.float64), axis=-1)
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("samples and y must be finite.")
    m = x.shape[-1]
    # E|X - X'| = 2 / m^2 sum_i (2 i - m - 1) x_(i)
    ranks = 2 * np.arange(1, m + 1) - m - 1
    spread = 2.0 / m**2 * (x * ranks).sum(axis=-1)
    if x.ndim == 1:
        csum = np.concatenate([[0.0], np.cumsum(x)])
        k = np.searchsorted(x, y)  # members below y
        abs_dev = (k * y - csum[k] + (csum[-1] - csum[k]) - (m - k) * y) / m
    else:
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"samples has {x.shape[0]} ensembles for {y.shape[0]} "
                             "observations.")
        abs_dev = np.abs(x - y[:, None]).mean(axis=1)
    return abs_dev - 0.5 * spread


def crps_on_joint_extremes(samples, y, q=0.05, min_count=3, thresholds=None, weights=None):
    """CRPS on the joint-extreme steps (seed 002, Table 4), per target and of a portfolio.

    Parameters
    ----------
    samples : array-like of shape (m, d) or (n, m, d)
        Forecast samples of one step: shared by all observations (i.i.d. data, or a
        static forecast) or one ensemble per observation.
    y : array-like of shape (n, d)
        Observations.
    q, min_count, thresholds
        Which steps count as joint extremes, see :func:`joint_extreme_steps`.
    weights : array-like of shape (d,) or None
        Portfolio weights (None: equal weights).  The portfolio CRPS depends on the
        dependence of the forecast; the per-target CRPS only on its marginals.

    Returns
    -------
    dict
        ``n_steps`` (joint-extreme steps found), ``crps_per_target`` (d,),
        ``crps_mean`` (mean over targets) and ``crps_portfolio``; NaN without steps.
    """
    y = _as_2d(y, "y")
    x = np.asarray(samples, dtype=np.float64)
    d = y.shape[1]
    if x.shape[-1] != d or x.ndim not in (2, 3):
        raise ValueError(f"samples must have shape (m, {d}) or (n, m, {d}); got {x.shape}.")
    w = np.full(d, 1.0 / d) if weights is None else np.asarray(weights, dtype=np.float64)
    mask = joint_extreme_steps(y, q, min_count, thresholds)
    out = {"n_steps": int(mask.sum())}
    if not mask.any():
        return {**out, "crps_per_target": np.full(d, np.nan), "crps_mean": np.nan,
                "crps_portfolio": np.nan}
    ys = y[mask]
    xs = x if x.ndim == 2 else x[mask]
    per_target = np.array([crps_ensemble(xs[..., j], ys[:, j]).mean() for j in range(d)])
    portfolio = crps_ensemble(xs @ w, ys @ w).mean()
    return {**out, "crps_per_target": per_target, "crps_mean": float(per_target.mean()),
            "crps_portfolio": float(portfolio)}


def mahalanobis_surprise(samples, y):
    """Event magnitude and Mahalanobis surprise of observations (seed 002, Figure 6).

    Parameters
    ----------
    samples : array-like of shape (m, d) or (n, m, d)
        Forecast samples, shared by all observations or one ensemble per observation.
    y : array-like of shape (n, d)

    Returns
    -------
    magnitude : ndarray of shape (n,)
        ``sum_i |y_i|``, the size of the joint move.
    distance : ndarray of shape (n,)
        ``sqrt((y - mean)' S^{-1} (y - mean))`` with the mean and covariance ``S`` of
        the forecast samples: how surprising the move is to the forecast.  A model that
        expects joint crashes gives them a small distance ("expected crash"), one that
        does not a large one ("black swan").  Under a Gaussian forecast that is right,
        ``distance^2`` is chi-square with ``d`` degrees of freedom.
    """
    y = _as_2d(y, "y")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.shape[-1] != y.shape[1] or x.shape[0] not in (1, y.shape[0]):
        raise ValueError(f"samples must have shape (m, d) or (n, m, d) matching y "
                         f"{y.shape}; got {np.shape(samples)}.")
    mean = x.mean(axis=1)
    centered = x - mean[:, None]
    cov = np.einsum("nmi,nmj->nij", centered, centered) / (x.shape[1] - 1)
    resid = y - mean
    sol = np.linalg.solve(np.broadcast_to(cov, (y.shape[0],) + cov.shape[1:]),
                          resid[..., None])[..., 0]
    distance = np.sqrt(np.maximum((resid * sol).sum(axis=1), 0.0))
    return np.abs(y).sum(axis=1), distance


def black_swan_curve(pit, levels=(0.9, 0.95, 0.99, 0.995, 0.999)):
    """Observed against expected frequency of observations beyond extreme quantiles.

    For each central level ``p``, the share of PIT values outside ``[(1 - p) / 2,
    (1 + p) / 2]`` (the observation beyond the forecast's central ``p`` interval),
    against the calibrated ``1 - p`` (Appendix D.2).  Above the diagonal the model
    underestimates tail risk, below it overestimates it.

    Parameters
    ----------
    pit : array-like of shape (n,) or (n, d)
        PIT values of the observations under the forecast (pooled over targets).
    levels : sequence of float in (0, 1)

    Returns
    -------
    expected, observed : ndarray of shape (len(levels),)
    """
    pit = _check_pit(pit).ravel()
    levels = np.asarray(levels, dtype=np.float64)
    if not np.all((levels > 0) & (levels < 1)):
        raise ValueError("levels must lie in (0, 1).")
    expected = 1.0 - levels
    observed = np.array([np.mean(np.abs(pit - 0.5) > p / 2) for p in levels])
    return expected, observed


def plot_black_swan(magnitude, distance, *, n_dims, ax=None, label=None, alpha=0.99,
                    **scatter_kwargs):
    """Scatter of event magnitude against Mahalanobis surprise (seed 002, Figure 6).

    The horizontal line is the ``alpha`` quantile of ``sqrt(chi2(n_dims))``: points
    above it are "black swans" to the forecast (surprises a Gaussian reading of it
    puts beyond ``alpha``), points below "expected" moves.

    Parameters
    ----------
    magnitude, distance : array-like of shape (n,)
        From :func:`mahalanobis_surprise`.
    n_dims : int
        Number of targets (degrees of freedom of the reference line).
    ax : matplotlib Axes or None
    label : str or None
    alpha : float, default=0.99

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    line = float(np.sqrt(stats.chi2(n_dims).ppf(alpha)))
    ax.scatter(magnitude, distance, s=8, label=label, **scatter_kwargs)
    ax.axhline(line, color="0.3", ls="--", lw=1)
    top = max(line * 1.5, float(np.max(distance)) * 1.05)
    ax.axhspan(line, top, color="tab:red", alpha=0.06)
    ax.axhspan(0, line, color="tab:green", alpha=0.06)
    ax.set_ylim(0, top)
    ax.set_xlabel("event magnitude  sum |y_i|")
    ax.set_ylabel("Mahalanobis distance (surprise)")
    ax.text(0.02, 0.97, "black swans", transform=ax.transAxes, va="top", fontsize=8)
    return ax


def threshold_weighted_crps(samples, y, threshold, tail="lower"):
    """Threshold-weighted CRPS with the weight ``1{z <= threshold}`` (or ``>=``).

    ``twCRPS(F, y) = integral w(z) (F(z) - 1{y <= z})^2 dz``, computed as the CRPS of
    the chained values ``v(z) = min(z, r)`` (lower tail; ``max(z, r)`` for the upper):
    a proper score that rewards forecasts for the tail region whatever the outcome,
    unlike the CRPS on outcome-selected steps (Gneiting & Ranjan 2011).

    Parameters
    ----------
    samples : array-like of shape (m,) or (n, m)
    y : array-like of shape (n,)
    threshold : float
        ``r``: the region ``z <= r`` (lower) or ``z >= r`` (upper) is scored.
    tail : {"lower", "upper"}, default="lower"

    Returns
    -------
    ndarray of shape (n,)
    """
    _check_tail(tail)
    # chaining function v with v' = w: flat where the weight is zero
    clamp = np.minimum if tail == "lower" else np.maximum
    x = np.asarray(samples, dtype=np.float64)
    return crps_ensemble(clamp(x, threshold), clamp(np.asarray(y, dtype=np.float64),
                                                    threshold))
