"""Statistics of inter-channel dependence used in seed 001, Fig. 1.

* :func:`rolling_correlation_drift`: how much pairwise correlations move over time
  (Fig. 1 left, "correlation drift");
* :func:`lagged_correlation` and :func:`argmax_lags`: the lag at which two series are
  most correlated (Fig. 1 right, "argmax-lag distribution").

The paper does not spell out its formulas; the definitions below are ours and stated in
each docstring.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["rolling_correlation_drift", "lagged_correlation", "argmax_lags"]


def _as_panel(X: Any, name: str = "X") -> tuple[np.ndarray, bool]:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        return X[None], True
    if X.ndim != 3:
        raise ValueError(f"{name} must have shape (length, n_channels) or "
                         f"(n_samples, length, n_channels), got {X.shape}.")
    return X, False


def _standardize(a: np.ndarray, axis: int) -> np.ndarray:
    a = a - a.mean(axis=axis, keepdims=True)
    sd = np.sqrt((a * a).mean(axis=axis, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sd > 0, a / np.where(sd > 0, sd, 1.0), np.nan)


def rolling_correlation_drift(X: Any, window: int = 64, step: int | None = None):
    """Correlation drift: mean over channel pairs of the standard deviation over time of
    their rolling-window Pearson correlation.

    Parameters
    ----------
    X : array-like of shape (length, n_channels) or (n_samples, length, n_channels)
    window : int, default=64
        Window length (time steps).
    step : int or None, default=None
        Stride between windows; ``None`` means ``window // 2``.

    Returns
    -------
    float or ndarray of shape (n_samples,)
        0 for perfectly stable correlations; pairs with a constant channel in some window
        are ignored (NaN if none is left).
    """
    X, single = _as_panel(X)
    n, T, N = X.shape
    if not isinstance(window, numbers.Integral) or not 2 <= window <= T:
        raise ValueError(f"window must be an integer in [2, length={T}], got {window!r}.")
    step = window // 2 if step is None else step
    if not isinstance(step, numbers.Integral) or step < 1:
        raise ValueError(f"step must be a positive integer, got {step!r}.")
    if N < 2:
        raise ValueError("rolling_correlation_drift needs at least 2 channels.")
    starts = np.arange(0, T - window + 1, step)
    if starts.size < 2:
        raise ValueError("length must hold at least two windows; lower window or step.")
    idx = starts[:, None] + np.arange(window)[None, :]          # (W, window)
    Z = _standardize(X[:, idx, :], axis=2)                       # (n, W, window, N)
    corr = np.einsum("swti,swtj->swij", Z, Z, optimize=True) / window  # (n, W, N, N)
    iu = np.triu_indices(N, k=1)
    pairs = corr[:, :, iu[0], iu[1]]                             # (n, W, P)
    with np.errstate(invalid="ignore"):
        sd = pairs.std(axis=1)                                   # NaN if a window was constant
        out = np.array([np.nanmean(s) if np.isfinite(s).any() else np.nan for s in sd])
    return float(out[0]) if single else out


def lagged_correlation(x: Any, y: Any, max_lag: int, *, difference: bool = False):
    """Pearson correlation of ``x_t`` with ``y_{t-k}`` for ``k = -max_lag..max_lag``.

    A peak at ``k > 0`` means ``y`` leads ``x`` by ``k`` steps.  Each lag uses the
    ``length - |k|`` overlapping time points.

    Parameters
    ----------
    x : array-like of shape (length,) or (length, n)
    y : array-like of shape (length,) or (length, m)
    max_lag : int
        Largest lag, ``0 <= max_lag < length - 2``.
    difference : bool, default=False
        Correlate first differences instead (sharper peaks for smooth series).

    Returns
    -------
    lags : ndarray of shape (2 * max_lag + 1,)
    corr : ndarray of shape (2 * max_lag + 1, n, m)
        (or (2 * max_lag + 1,) for 1-D inputs).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    vec = x.ndim == 1 and y.ndim == 1
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must be (length,) or (length, k) with equal lengths, "
                         f"got {x.shape} and {y.shape}.")
    if difference:
        x, y = np.diff(x, axis=0), np.diff(y, axis=0)
    T = x.shape[0]
    if not isinstance(max_lag, numbers.Integral) or not 0 <= max_lag < T - 2:
        raise ValueError(f"max_lag must be an integer in [0, {T - 3}], got {max_lag!r}.")
    lags = np.arange(-max_lag, max_lag + 1)
    out = np.empty((lags.size, x.shape[1], y.shape[1]))
    for r, k in enumerate(lags):  # 2 * max_lag + 1 passes, vectorized over all pairs
        xs = x[k:] if k >= 0 else x[:T + k]
        ys = y[:T - k] if k >= 0 else y[-k:]
        out[r] = _standardize(xs, 0).T @ _standardize(ys, 0) / xs.shape[0]
    return lags, (out[:, 0, 0] if vec else out)


def argmax_lags(x: Any, y: Any | None = None, max_lag: int = 10, *,
                difference: bool = False) -> np.ndarray:
    """Lag ``k`` maximizing ``corr(x_t, y_{t-k})`` for every pair of columns.

    Parameters
    ----------
    x : array-like of shape (length, n)
    y : array-like of shape (length, m) or None, default=None
        ``None`` means ``y = x`` (all channel pairs, as in seed 001 Fig. 1 right).
    max_lag : int, default=10
    difference : bool, default=False
        Use first differences (see :func:`lagged_correlation`).

    Returns
    -------
    ndarray of int, shape (n, m)
    """
    x = np.asarray(x, dtype=np.float64)
    lags, corr = lagged_correlation(x, x if y is None else y, max_lag, difference=difference)
    corr = corr.reshape(lags.size, -1) if corr.ndim == 1 else corr
    return lags[np.nanargmax(np.nan_to_num(corr, nan=-np.inf), axis=0)]
