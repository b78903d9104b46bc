"""Historical simulation: bootstrap of the observed joint increments."""

from __future__ import annotations

import numbers

import numpy as np

from jointdist.base import BaseJointForecaster

__all__ = ["HistoricalSimulation"]

_METHODS = ("iid", "stationary", "filtered")
#: Fewest increments each method is fitted on (filtered needs a few for its EWMA).
_MIN_INCREMENTS = {"iid": 1, "stationary": 2, "filtered": 10}


class HistoricalSimulation(BaseJointForecaster):
    """Bootstrap forecaster that resamples whole rows of past increments.

    Rows (all targets at one time step) are drawn together, so the cross-sectional
    dependence of the history is kept exactly; the methods differ in what they keep of
    the serial dependence:

    ``"iid"``
        Rows drawn independently with replacement (Hendricks 1996).
    ``"stationary"``
        Stationary bootstrap of Politis & Romano (1994): blocks of consecutive rows with
        geometric lengths of mean ``mean_block_length``, wrapping around the history,
        which keeps serial dependence (volatility clusters, autocorrelation) up to
        about that lag.
    ``"filtered"``
        Filtered historical simulation (Barone-Adesi et al. 1999): increments are
        standardized by an EWMA volatility (RiskMetrics, decay ``ewma_decay``), whole rows
        of standardized residuals are resampled, and each path rescales them with its own
        EWMA volatility updated along the path, so a calm or turbulent present is
        carried into the forecast.

    Parameters
    ----------
    method : {"iid", "stationary", "filtered"}, default="iid"
        Bootstrap scheme, see above.
    returns : {"diff", "log", "pct"} or None, default="diff"
        Increments the bootstrap works on; paths are cumulated back to levels starting
        from the last observation.  None when ``y`` already holds returns (samples are
        then returns too).
    window : int or None, default=None
        Use only the last ``window`` increments (a rolling look-back); None uses all.
    mean_block_length : float, default=10.0
        Mean block length of the stationary bootstrap (>= 1; 1 is the i.i.d. bootstrap).
    ewma_decay : float, default=0.94
        Decay ``lambda`` of the EWMA variance ``s2[t] = lambda s2[t-1] + (1-lambda) r[t-1]^2``
        used by the filtered method.
    random_state : int, numpy.random.Generator or None, default=None
        Seed used by ``predict_samples`` when it is called without one.

    Attributes
    ----------
    increments_ : ndarray of shape (n_increments, n_targets)
        The increments that are resampled (after ``window``).
    residuals_ : ndarray of shape (n_increments, n_targets)
        Standardized residuals (filtered method only).
    mean_ : ndarray of shape (n_targets,)
        Mean increment (filtered method only).
    sigma2_next_ : ndarray of shape (n_targets,)
        EWMA variance forecast for the first step ahead (filtered method only).

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist import HistoricalSimulation
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=(300, 3)), axis=0)
    >>> hs = HistoricalSimulation(method="stationary", random_state=0).fit(y)
    >>> hs.predict_samples(horizon=5, n_samples=100).shape
    (100, 5, 3)
    """

    def __init__(self, method="iid", *, returns="diff", window=None, mean_block_length=10.0,
                 ewma_decay=0.94, random_state=None):
        self.method = method
        self.returns = returns
        self.window = window
        self.mean_block_length = mean_block_length
        self.ewma_decay = ewma_decay
        self.random_state = random_state

    def _min_history_length(self, n_targets: int) -> int:
        self._check_params()
        extra_row = 0 if self.returns is None else 1
        return _MIN_INCREMENTS[self.method] + extra_row

    def _check_params(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}; got {self.method!r}.")
        if self.window is not None and (not isinstance(self.window, numbers.Integral)
                                        or isinstance(self.window, bool) or self.window < 1):
            raise ValueError(f"window must be None or a positive integer; got {self.window!r}.")
        if not (isinstance(self.mean_block_length, numbers.Real)
                and self.mean_block_length >= 1):
            raise ValueError("mean_block_length must be a number >= 1; got "
                             f"{self.mean_block_length!r}.")
        if not (isinstance(self.ewma_decay, numbers.Real) and 0 < self.ewma_decay < 1):
            raise ValueError(f"ewma_decay must be in (0, 1); got {self.ewma_decay!r}.")

    def _fit(self, y, X):
        increments = self._history_increments(y)
        if self.window is not None:
            increments = increments[-self.window:]
        if increments.shape[0] < _MIN_INCREMENTS[self.method]:
            raise ValueError(f"method={self.method!r} needs at least "
                             f"{_MIN_INCREMENTS[self.method]} increments; window={self.window} "
                             f"leaves {increments.shape[0]}.")
        self.increments_ = increments
        if self.method == "filtered":
            self.mean_ = increments.mean(axis=0)
            centred = increments - self.mean_
            sigma2 = _ewma_variance(centred, self.ewma_decay)  # (T + 1, N)
            sigma = np.sqrt(sigma2[:-1])
            with np.errstate(invalid="ignore", divide="ignore"):
                # a constant series has zero volatility and zero residuals
                self.residuals_ = np.where(sigma > 0, centred / sigma, 0.0)
            self.sigma2_next_ = sigma2[-1]
        return self

    def _predict_samples(self, horizon, n_samples, rng):
        n_rows = self.increments_.shape[0]
        if self.method == "stationary":
            idx = _stationary_bootstrap_indices(n_rows, n_samples, horizon,
                                                self.mean_block_length, rng)
        else:
            idx = rng.integers(0, n_rows, size=(n_samples, horizon))
        if self.method != "filtered":
            return self.increments_[idx]  # (S, H, N): whole rows, dependence kept

        # (H, S, N) layout: every step is one contiguous block, updated in place
        out = self.residuals_[idx.T]  # standardized residuals, rescaled in place
        lam = self.ewma_decay
        sigma2 = np.broadcast_to(self.sigma2_next_, out.shape[1:]).copy()
        scratch = np.empty_like(sigma2)
        for shock in out:  # a loop over steps, vectorized over all paths
            shock *= np.sqrt(sigma2, out=scratch)  # r - mean = sigma z
            # EWMA update along each path: s2 <- lam s2 + (1 - lam) (r - mean)^2
            sigma2 *= lam
            np.square(shock, out=scratch)
            scratch *= 1.0 - lam
            sigma2 += scratch
        out += self.mean_
        return out.transpose(1, 0, 2)  # (S, H, N) view, no copy


def _ewma_variance(x: np.ndarray, decay: float) -> np.ndarray:
    """EWMA variance ``s2[t] = decay s2[t-1] + (1-decay) x[t-1]^2`` for ``t = 0..T``.

    Started at the sample variance; row ``t`` is the variance forecast for ``x[t]``
    made with data up to ``t-1``, and the last row is the forecast for ``t = T``.
    The recursion is a linear filter, computed with :func:`scipy.signal.lfilter`.
    """
    from scipy.signal import lfilter

    init = np.mean(x**2, axis=0)
    # s2[t] - decay s2[t-1] = (1-decay) x[t-1]^2 for t >= 1, and s2[0] = init
    drive = np.concatenate([np.zeros((1, x.shape[1])), (1.0 - decay) * x**2], axis=0)
    zi = init[None, :]  # filter state such that s2[0] = drive[0] + zi = init
    s2, _ = lfilter([1.0], [1.0, -decay], drive, axis=0, zi=zi)
    return s2


def _stationary_bootstrap_indices(n_rows: int, n_paths: int, horizon: int,
                                  mean_block_length: float,
                                  rng: np.random.Generator) -> np.ndarray:
    """Row indices of the Politis-Romano stationary bootstrap, shape (n_paths, horizon).

    A new block starts at each step with probability ``p = 1 / mean_block_length``
    (always at step 0) at a uniform random row; otherwise the path continues with the
    next row, wrapping around the end of the history.
    """
    p = 1.0 / mean_block_length
    new_block = rng.random((n_paths, horizon)) < p
    new_block[:, 0] = True
    starts = rng.integers(0, n_rows, size=(n_paths, horizon))
    steps = np.arange(horizon)
    # position of the latest block start at or before each step
    block_start = np.maximum.accumulate(np.where(new_block, steps, 0), axis=1)
    offset = steps - block_start
    first_row = np.take_along_axis(starts, block_start, axis=1)
    return (first_row + offset) % n_rows
