"""A small built-in data set with a known future: a correlated random walk whose
volatility switches between a calm and a turbulent regime.

It serves the demo and the tests: because the generator is known, the exact law of the
future given the history (its terminal regime) can be sampled, so forecasts can be
scored against oracle futures the way seed 000 scores them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jointdist.base import check_horizon, check_n_samples

__all__ = ["RegimeWalk", "make_regime_walk"]


@dataclass(frozen=True)
class RegimeWalk:
    """History and oracle futures of :func:`make_regime_walk`.

    Attributes
    ----------
    history : ndarray of shape (n_timesteps, n_targets)
    futures : ndarray of shape (n_futures, horizon, n_targets)
        Independent continuations from the history's terminal state (level and regime).
    realized : ndarray of shape (horizon, n_targets)
        One more continuation, to play the role of the observed future.
    regimes : ndarray of shape (n_timesteps,)
        Volatility regime of every history step (0 calm, 1 turbulent).
    correlation : ndarray of shape (n_targets, n_targets)
        Correlation of the increments.
    """

    history: np.ndarray
    futures: np.ndarray
    realized: np.ndarray
    regimes: np.ndarray
    correlation: np.ndarray


def make_regime_walk(n_timesteps=500, n_targets=4, *, horizon=20, n_futures=1000,
                     correlation=0.6, volatilities=(1.0, 2.5), switch_probability=0.02,
                     start=100.0, random_state=None) -> RegimeWalk:
    """Simulate a correlated random walk with Markov-switching volatility.

    ``y[t] = y[t-1] + sigma[s_t] L eps_t`` with ``eps_t ~ N(0, I)``, ``L L' = R`` an
    equicorrelation matrix and ``s_t`` a two-state Markov chain that leaves its state
    with probability ``switch_probability`` at each step.

    Parameters
    ----------
    n_timesteps : int, default=500
    n_targets : int, default=4
    horizon : int, default=20
    n_futures : int, default=1000
        Oracle continuations sampled from the exact terminal state.
    correlation : float in (-1/(n_targets-1), 1), default=0.6
        Correlation between the increments of any two targets.
    volatilities : tuple of two floats, default=(1.0, 2.5)
        Standard deviation of the increments in the calm and turbulent regimes.
    switch_probability : float in [0, 1], default=0.02
    start : float, default=100.0
        Level of every target at time 0.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    RegimeWalk
    """
    n_timesteps, n_targets = check_n_samples(n_timesteps), check_n_samples(n_targets)
    horizon, n_futures = check_horizon(horizon), check_n_samples(n_futures)
    if not 0.0 <= switch_probability <= 1.0:
        raise ValueError(f"switch_probability must be in [0, 1]; got {switch_probability}.")
    lower = -1.0 / (n_targets - 1) if n_targets > 1 else -1.0
    if not lower < correlation < 1.0:
        raise ValueError(f"correlation must be in ({lower:.3g}, 1) for {n_targets} targets; "
                         f"got {correlation}.")
    rng = np.random.default_rng(random_state)
    corr = np.full((n_targets, n_targets), correlation)
    np.fill_diagonal(corr, 1.0)
    chol = np.linalg.cholesky(corr)
    sigma = np.asarray(volatilities, dtype=np.float64)

    def simulate(n_paths, n_steps, regime0):
        # regime path: flip with probability p at every step (vectorized over paths)
        flips = rng.random((n_paths, n_steps)) < switch_probability
        regimes = (regime0[:, None] + np.cumsum(flips, axis=1)) % 2
        shocks = rng.standard_normal((n_paths, n_steps, n_targets)) @ chol.T
        return regimes, np.cumsum(sigma[regimes][..., None] * shocks, axis=1)

    regime_hist, walk = simulate(1, n_timesteps, np.zeros(1, dtype=np.int64))
    history = start + walk[0]
    terminal = np.full(n_futures + 1, regime_hist[0, -1])
    _, moves = simulate(n_futures + 1, horizon, terminal)
    futures = history[-1] + moves
    return RegimeWalk(history=history, futures=futures[:-1], realized=futures[-1],
                      regimes=regime_hist[0], correlation=corr)
