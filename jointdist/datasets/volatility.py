"""Volatility-clustering systems with branched futures, for JointFM pretraining.

The SDE curriculum of seed 000 has no volatility that clusters: a level's diffusion
depends on the state, never on the recent size of its own shocks.  On real daily
prices the first thing a forecaster must get right is the *current* volatility, which
DCC's GARCH tracks and a context-wide scale does not.  These processes add that
behaviour to the pretraining stream (:class:`jointdist.datasets.SDEStream`, option
``volatility_fraction``).  They are *not* the held-out families of
:mod:`jointdist.datasets.families` (Heston stochastic volatility and constant-correlation
GJR-GARCH), so that those still test a model on processes it has not seen, although
no longer on a phenomenon it has not seen.

Every system draws one of three processes, in daily steps, with ``N`` log returns
``r_t = mu + sigma_t * z_t`` whose standardized shocks ``z_t`` have a factor
correlation (one to three factors) and Student-t or normal tails:

``"egarch"``
    EGARCH(1,1) with leverage (Nelson 1991):
    ``log s2_t = w + beta log s2_{t-1} + alpha (|z_{t-1}| - E|z|) + gamma z_{t-1}``.
``"log_sv"``
    Log-normal stochastic volatility (Taylor 1986) with leverage:
    ``h_{t+1} = m + phi (h_t - m) + s_eta eta_{t+1}``, ``corr(z_t, eta_{t+1}) = rho < 0``,
    the volatility shocks of the series correlated through one common factor.
``"regime_switching"``
    A two-state Markov chain (calm, stress) per system: in stress every volatility is
    multiplied by ``m > 1``, the factor loadings grow (correlations rise: assets crash
    together) and the drift turns negative -- the regime-dependent dependence of seed
    001 in a form real markets show.

The multivariate t shocks share one chi-square per step and system with probability
1/2 (tail dependence) and have one per series otherwise.  A system is observed, with
all its series the same way, as prices ``u exp(x_t)`` (``x`` the cumulated returns),
as log levels ``u (a + x_t)``, or as the returns ``u r_t`` themselves, each series with
its own log-uniform unit ``u``.  The futures branch from the exact terminal state
(volatility, regime, last shock), so they are draws from the true conditional law.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jointdist.base import check_positive_int, check_random_state

__all__ = ["VOLATILITY_PROCESSES", "simulate_volatility"]

#: The processes :func:`simulate_volatility` draws from.
VOLATILITY_PROCESSES = ("egarch", "log_sv", "regime_switching")
#: How a system is observed: prices, log levels, returns (probabilities).
_OBSERVATIONS = (("price", 0.45), ("log_level", 0.35), ("returns", 0.20))
_MEAN_ABS_NORMAL = math.sqrt(2.0 / math.pi)


def simulate_volatility(n_targets, *, context_length: int = 504, horizon: int = 63,
                        n_futures: int = 64, processes=VOLATILITY_PROCESSES,
                        scale_range=(1e-2, 1e3), random_state: Any = None):
    """Simulate volatility-clustering systems: one history and branched futures each.

    Parameters
    ----------
    n_targets : sequence of int
        ``N`` of every system (its length is the number of systems ``S``).  Arrays are
        padded to the largest ``N`` with zeros.
    context_length, horizon, n_futures : int
        ``T``, ``H`` and the futures per system.
    processes : sequence of str, default=VOLATILITY_PROCESSES
        Processes to draw from (uniformly).
    scale_range : (float, float), default=(1e-2, 1e3)
        Range of the log-uniform unit of every series.
    random_state : int, numpy Generator or None

    Returns
    -------
    history : ndarray of shape (S, T, N_max)
    futures : ndarray of shape (S, n_futures, H, N_max)
    target_mask : bool ndarray of shape (S, N_max)
    process : ndarray of shape (S,)
        Index into ``processes`` of every system.

    Examples
    --------
    >>> hist, fut, mask, proc = simulate_volatility([2, 3], context_length=50, horizon=5,
    ...                                             n_futures=8, random_state=0)
    >>> hist.shape, fut.shape, mask.sum(1).tolist()
    ((2, 50, 3), (2, 8, 5, 3), [2, 3])
    """
    n_targets = np.asarray(n_targets)
    if n_targets.ndim != 1 or n_targets.size == 0 or not np.issubdtype(n_targets.dtype,
                                                                       np.integer) \
            or (n_targets < 1).any():
        raise ValueError(f"n_targets must be a non-empty sequence of positive integers; "
                         f"got {n_targets!r}.")
    T = check_positive_int(context_length, "context_length", minimum=2)
    H = check_positive_int(horizon, "horizon")
    F = check_positive_int(n_futures, "n_futures")
    processes = tuple(processes)
    unknown = [p for p in processes if p not in _PROCESSES]
    if not processes or unknown:
        raise ValueError(f"processes must be a non-empty subset of {VOLATILITY_PROCESSES}; "
                         f"got {processes!r}.")
    lo, hi = (float(v) for v in scale_range)
    if not 0 < lo <= hi:
        raise ValueError(f"scale_range must satisfy 0 < low <= high; got {scale_range!r}.")
    rng = check_random_state(random_state)
    S, N = n_targets.size, int(n_targets.max())
    mask = np.arange(N)[None, :] < n_targets[:, None]
    which = rng.integers(len(processes), size=S)
    history = np.zeros((S, T, N))
    futures = np.zeros((S, F, H, N))
    for k, name in enumerate(processes):
        idx = np.flatnonzero(which == k)
        if idx.size == 0:
            continue
        proc = _PROCESSES[name](idx.size, N, rng)
        state = proc.initial_state()
        returns = np.empty((idx.size, 1, T, N))
        for t in range(T):  # all systems of the process at once; F = 1 along the history
            state, returns[:, :, t] = proc.step(state, rng)
        state = {key: np.repeat(v, F, axis=1) for key, v in state.items()}
        fut = np.empty((idx.size, F, H, N))
        for h in range(H):
            state, fut[:, :, h] = proc.step(state, rng)
        hist_obs, fut_obs = _observe(returns[:, 0], fut, rng, lo, hi)
        history[idx], futures[idx] = hist_obs, fut_obs
    history *= mask[:, None, :]
    futures *= mask[:, None, None, :]
    return history, futures, mask, which


def _observe(returns, fut_returns, rng, lo, hi):
    """Map returns (S, T, N) and future returns (S, F, H, N) to observed series."""
    S, _, N = returns.shape
    names = [o for o, _ in _OBSERVATIONS]
    p = np.array([w for _, w in _OBSERVATIONS])
    mode = rng.choice(len(names), size=S, p=p / p.sum())
    unit = np.exp(rng.uniform(np.log(lo), np.log(hi), size=(S, 1, N)))
    level = np.cumsum(returns, axis=1)  # x_t, x_0 = first return
    fut_level = level[:, None, -1:, :] + np.cumsum(fut_returns, axis=2)
    offset = rng.uniform(0.0, 8.0, size=(S, 1, N))  # log of a price level
    hist_obs = np.empty_like(returns)
    fut_obs = np.empty_like(fut_returns)
    for m, name in enumerate(names):
        sel = mode == m
        if not sel.any():
            continue
        u = unit[sel]
        if name == "price":
            hist_obs[sel] = u * np.exp(level[sel])
            fut_obs[sel] = u[:, None] * np.exp(fut_level[sel])
        elif name == "log_level":
            hist_obs[sel] = u * (offset[sel] + level[sel])
            fut_obs[sel] = u[:, None] * (offset[sel][:, None] + fut_level[sel])
        else:
            hist_obs[sel] = u * returns[sel]
            fut_obs[sel] = u[:, None] * fut_returns[sel]
    return hist_obs, fut_obs


# --------------------------------------------------------------------------------------
# Shocks shared by the processes.  Parameters are (S, 1, N) so that they broadcast over
# the futures axis of a state of shape (S, F, N) (F = 1 along the history).
# --------------------------------------------------------------------------------------
def _factor_loadings(s, n, rng):
    """Loadings (S, N, 3) of one to three factors, rows of norm <= 0.95."""
    n_factors = rng.integers(1, 4, size=s)
    active = np.arange(3)[None, None, :] < n_factors[:, None, None]
    sign = np.where(rng.uniform(size=(s, n)) < 0.15, -1.0, 1.0)
    load = rng.normal(0.0, 0.4, size=(s, n, 3))
    load[:, :, 0] = sign * rng.uniform(0.2, 0.9, size=(s, n))  # a market factor
    load = load * active
    norm = np.linalg.norm(load, axis=-1, keepdims=True)
    return load * np.minimum(1.0, 0.95 / np.maximum(norm, 1e-12))


def _cholesky(load):
    """Cholesky factors (S, N, N) of ``B B' + diag(1 - |B_i|^2)``."""
    corr = load @ np.swapaxes(load, -1, -2)
    idx = np.arange(load.shape[1])
    corr[:, idx, idx] = 1.0
    return np.linalg.cholesky(corr)


class _Shocks:
    """Standardized (unit variance) correlated normal or Student-t shocks."""

    def __init__(self, s, n, rng, load=None):
        self.chol = _cholesky(_factor_loadings(s, n, rng) if load is None else load)
        heavy = rng.uniform(size=s) < 0.7
        self.df = np.where(heavy, rng.uniform(3.0, 12.0, size=s), np.inf)[:, None, None]
        self.common = (rng.uniform(size=s) < 0.5)[:, None, None]

    def draw(self, shape, rng, chol=None):
        chol = self.chol if chol is None else chol
        z = np.einsum("snm,sfm->sfn", chol, rng.standard_normal(shape))
        df = np.broadcast_to(self.df, shape)
        finite = np.isfinite(df)
        safe = np.where(finite, df, 3.0)
        chi = np.where(self.common, rng.chisquare(safe[..., :1]), rng.chisquare(safe))
        scale = np.where(finite, np.sqrt((safe - 2.0) / chi), 1.0)
        return z * scale


def _daily_vol(s, n, rng):
    return np.exp(rng.uniform(np.log(0.003), np.log(0.03), size=(s, 1, n)))


class _Egarch:
    def __init__(self, s, n, rng):
        u = lambda lo, hi: rng.uniform(lo, hi, size=(s, 1, n))  # noqa: E731
        self.beta, self.alpha, self.gamma = u(0.90, 0.995), u(0.05, 0.25), u(-0.15, 0.0)
        vol = _daily_vol(s, n, rng)
        self.long_run = 2.0 * np.log(vol)  # long-run log variance
        self.mu = vol * u(-0.05, 0.08)
        self.shocks = _Shocks(s, n, rng)
        # stationary spread of log s2 ~ alpha sd(|z|) / sqrt(1 - beta^2) (normal shocks)
        spread = np.sqrt(self.alpha ** 2 * (1 - 2 / math.pi) + self.gamma ** 2) \
            / np.sqrt(1 - self.beta ** 2)
        self.log_var0 = self.long_run + spread * rng.standard_normal((s, 1, n))

    def initial_state(self):
        return {"log_var": self.log_var0.copy(), "z": np.zeros_like(self.log_var0)}

    def step(self, state, rng):
        z_prev = state["z"]
        log_var = (self.long_run + self.beta * (state["log_var"] - self.long_run)
                   + self.alpha * (np.abs(z_prev) - _MEAN_ABS_NORMAL) + self.gamma * z_prev)
        log_var = np.clip(log_var, self.long_run - 6.0, self.long_run + 6.0)
        z = self.shocks.draw(log_var.shape, rng)
        return {"log_var": log_var, "z": z}, self.mu + np.exp(0.5 * log_var) * z


class _LogSV:
    def __init__(self, s, n, rng):
        u = lambda lo, hi: rng.uniform(lo, hi, size=(s, 1, n))  # noqa: E731
        self.phi, self.rho = u(0.90, 0.995), u(-0.7, 0.0)
        self.sd_h = u(0.3, 1.0)  # stationary sd of the log variance
        self.s_eta = self.sd_h * np.sqrt(1 - self.phi ** 2)
        vol = _daily_vol(s, n, rng)
        self.m = 2.0 * np.log(vol) - 0.5 * self.sd_h ** 2  # E exp(h) = vol^2
        self.mu = vol * u(-0.05, 0.08)
        self.shocks = _Shocks(s, n, rng)
        # volatility shocks share one factor across the series of a system
        self.vol_common = rng.uniform(0.0, 0.9, size=(s, 1, 1))
        self.h0 = self.m + self.sd_h * rng.standard_normal((s, 1, n))

    def initial_state(self):
        return {"h": self.h0.copy()}

    def step(self, state, rng):
        h = state["h"]
        z = self.shocks.draw(h.shape, rng)
        r = self.mu + np.exp(0.5 * h) * z
        c = np.sqrt(self.vol_common)
        xi = c * rng.standard_normal(h.shape[:-1] + (1,)) \
            + np.sqrt(1 - self.vol_common) * rng.standard_normal(h.shape)
        zn = np.clip(z, -6.0, 6.0)  # leverage from the (bounded) return shock
        eta = self.rho * zn + np.sqrt(1 - self.rho ** 2) * xi
        h = self.m + self.phi * (h - self.m) + self.s_eta * eta
        return {"h": h}, r


class _RegimeSwitching:
    def __init__(self, s, n, rng):
        load = _factor_loadings(s, n, rng)
        stress = load * rng.uniform(1.2, 1.8, size=(s, 1, 1))  # correlations rise
        norm = np.linalg.norm(stress, axis=-1, keepdims=True)
        stress = stress * np.minimum(1.0, 0.97 / np.maximum(norm, 1e-12))
        self.shocks = _Shocks(s, n, rng, load)
        self.chol_stress = _cholesky(stress)
        self.vol = _daily_vol(s, n, rng)
        self.multiplier = rng.uniform(1.5, 4.0, size=(s, 1, 1))
        self.stay = np.stack([rng.uniform(0.97, 0.998, size=s),
                              rng.uniform(0.90, 0.99, size=s)], axis=1)[:, None, :]
        self.mu = self.vol * np.stack([rng.uniform(0.0, 0.08, size=(s, n)),
                                       -rng.uniform(0.0, 0.15, size=(s, n))], axis=1)
        p_stress = (1 - self.stay[..., 0]) / (2 - self.stay[..., 0] - self.stay[..., 1])
        self.regime0 = (rng.uniform(size=(s, 1)) < p_stress).astype(np.int64)

    def initial_state(self):
        return {"regime": self.regime0.copy()}

    def step(self, state, rng):
        regime = state["regime"]  # (S, F)
        stay = np.take_along_axis(np.broadcast_to(self.stay, regime.shape + (2,)),
                                  regime[..., None], -1)[..., 0]
        regime = np.where(rng.uniform(size=regime.shape) < stay, regime, 1 - regime)
        shape = regime.shape + (self.vol.shape[-1],)
        calm = self.shocks.draw(shape, rng)
        hit = self.shocks.draw(shape, rng, chol=self.chol_stress)
        stressed = (regime == 1)[..., None]
        z = np.where(stressed, hit, calm)
        vol = self.vol * np.where(stressed, self.multiplier, 1.0)
        mu = np.where(stressed, self.mu[:, 1:2], self.mu[:, 0:1])
        return {"regime": regime}, mu + vol * z


_PROCESSES = {"egarch": _Egarch, "log_sv": _LogSV, "regime_switching": _RegimeSwitching}
