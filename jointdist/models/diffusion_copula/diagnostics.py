"""Diagnostics of marginal calibration and joint tails (seed 002, section 5 and Appendix D).

Plain numpy functions; the plots live in ``examples/diffusion_copula_diagnostics.py``.

* :func:`pit_histogram`, :func:`pit_ks_test` -- uniformity of PIT values (D.1.5);
* :func:`qq_points` -- normal QQ coordinates of probit-transformed PIT values (D.1.6);
* :func:`tail_co_exceedance`, :func:`tail_dependence` -- joint tail probabilities;
* :func:`exceedance_correlation` -- correlation at extreme quantiles;
* :func:`prob_k_simultaneous_tail_events` -- probability that ``k`` or more targets are
  in their tail at the same time (the "simultaneous crash" diagnostic of section 5).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = [
    "exceedance_correlation",
    "pit_histogram",
    "pit_ks_test",
    "prob_k_simultaneous_tail_events",
    "qq_points",
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
