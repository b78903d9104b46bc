"""Value-at-Risk and Expected Shortfall from sample paths, and their backtests.

Conventions: a portfolio's profit and loss (P&L) is positive for a gain; VaR and ES
are reported as **losses** (positive numbers for a loss).  At level ``alpha`` (0.95,
0.99):

* ``VaR_alpha = -q_{1-alpha}(P&L)``, minus the ``1 - alpha`` quantile of the forecast
  P&L distribution;
* ``ES_alpha = -E[P&L | P&L <= -VaR_alpha]``, the mean loss beyond the VaR;
* an **exceedance** is a realized loss above the VaR (``realized < -VaR``).

Backtests over ``n`` forecasts:

* Kupiec's (1995) proportion-of-failures test: under a correct VaR the exceedances are
  Bernoulli(``p = 1 - alpha``) and the likelihood ratio

  .. math::
      LR = -2\\ln\\frac{(1-p)^{n-x}p^x}{(1-\\hat p)^{n-x}\\hat p^x},\\qquad \\hat p = x/n,

  is asymptotically chi-squared with one degree of freedom.  It assumes independent
  exceedances, which holds for 1-step forecasts at distinct origins but not for
  h-step forecasts whose windows overlap (see :mod:`jointdist.evaluation.real_data`).
* The **average exceedance ratio** of ES: the mean, over the exceedances, of the
  realized loss divided by the forecast ES.  About 1 when the tail beyond the VaR is
  right, above 1 when the forecast ES is too small (the ES analogue of the
  exceedance count; an informal check, not a test with a known null distribution).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

__all__ = ["expected_shortfall", "kupiec_pof", "value_at_risk", "var_backtest"]


def _check_level(level) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}.")
    return level


def value_at_risk(pnl_samples, level=0.95, axis=0) -> np.ndarray:
    """Value-at-Risk (a loss) of sampled P&L: ``-quantile(pnl, 1 - level)``.

    Parameters
    ----------
    pnl_samples : array-like
        Sampled profit and loss, samples along ``axis``.
    level : float in (0, 1), default=0.95
    axis : int, default=0

    Returns
    -------
    ndarray (the sample axis removed), or a float for 1-D input.
    """
    level = _check_level(level)
    return -np.quantile(np.asarray(pnl_samples, dtype=np.float64), 1.0 - level, axis=axis)


def expected_shortfall(pnl_samples, level=0.95, axis=0) -> np.ndarray:
    """Expected Shortfall (a loss): the mean loss of the samples at or beyond the VaR.

    Parameters
    ----------
    pnl_samples : array-like
        Sampled profit and loss, samples along ``axis``.
    level : float in (0, 1), default=0.95
    axis : int, default=0

    Returns
    -------
    ndarray (the sample axis removed), or a float for 1-D input.  Never below the
    :func:`value_at_risk` of the same samples.
    """
    level = _check_level(level)
    pnl = np.moveaxis(np.asarray(pnl_samples, dtype=np.float64), axis, -1)
    var = -np.quantile(pnl, 1.0 - level, axis=-1, keepdims=True)
    tail = pnl <= -var  # at least one sample: the quantile lies within the samples' range
    es = -(np.where(tail, pnl, 0.0).sum(axis=-1) / tail.sum(axis=-1))
    return es[()] if es.ndim == 0 else es


def kupiec_pof(n_exceedances, n_obs, level=0.95) -> tuple[float, float]:
    """Kupiec's proportion-of-failures likelihood-ratio test of a VaR.

    Parameters
    ----------
    n_exceedances : int
        Number of realized losses above the VaR.
    n_obs : int
        Number of forecasts, ``>= 1``.
    level : float in (0, 1), default=0.95
        VaR level; the expected exceedance rate is ``1 - level``.

    Returns
    -------
    lr : float
        The likelihood-ratio statistic (``0 ln 0`` taken as 0).
    p_value : float
        ``P(chi2_1 > lr)``; a small value rejects the VaR's exceedance rate.
    """
    level = _check_level(level)
    n, x = int(n_obs), int(n_exceedances)
    if n < 1 or not 0 <= x <= n:
        raise ValueError(f"need n_obs >= 1 and 0 <= n_exceedances <= n_obs; got "
                         f"{n_exceedances!r} of {n_obs!r}.")
    p = 1.0 - level
    p_hat = x / n

    def loglik(q):  # binomial log-likelihood without the constant, 0 ln 0 = 0
        out = 0.0
        if n - x:
            out += (n - x) * np.log1p(-q) if q < 1 else -np.inf
        if x:
            out += x * np.log(q) if q > 0 else -np.inf
        return out

    lr = max(0.0, -2.0 * (loglik(p) - loglik(p_hat)))
    return float(lr), float(chi2.sf(lr, df=1))


def var_backtest(realized_pnl, var, es=None, level=0.95) -> dict:
    """Backtest a series of VaR (and ES) forecasts against the realized P&L.

    Parameters
    ----------
    realized_pnl : array-like of shape (n,)
    var : array-like of shape (n,)
        Forecast VaR (losses, see :func:`value_at_risk`).
    es : array-like of shape (n,) or None
        Forecast ES (losses); None skips the ES ratio.
    level : float in (0, 1), default=0.95

    Returns
    -------
    dict
        ``n``, ``exceedances``, ``rate``, ``expected_rate`` (``1 - level``),
        ``kupiec_lr``, ``kupiec_pvalue`` (:func:`kupiec_pof`) and ``es_ratio``, the
        average exceedance ratio (NaN without exceedances or without ``es``).
    """
    realized = np.asarray(realized_pnl, dtype=np.float64).ravel()
    var = np.asarray(var, dtype=np.float64).ravel()
    if realized.shape != var.shape or realized.size == 0:
        raise ValueError(f"realized_pnl and var must be non-empty and of the same length; "
                         f"got {realized.shape} and {var.shape}.")
    exceeded = realized < -var
    x, n = int(exceeded.sum()), realized.size
    lr, pvalue = kupiec_pof(x, n, level)
    es_ratio = np.nan
    if es is not None and x:
        es = np.asarray(es, dtype=np.float64).ravel()
        if es.shape != realized.shape:
            raise ValueError(f"es must have the length of realized_pnl; got {es.shape}.")
        es_ratio = float(np.mean(-realized[exceeded] / es[exceeded]))
    return {"n": n, "exceedances": x, "rate": x / n, "expected_rate": 1.0 - level,
            "kupiec_lr": lr, "kupiec_pvalue": pvalue, "es_ratio": es_ratio}
