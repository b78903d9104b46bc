"""An endless, seedable stream of SDE training batches for JointFM pretraining.

Seed 000, Sec. 3.2: for every batch, sample random systems ("laws of physics") from a
mix of curriculum levels, simulate one history per system (the context) and a set of
futures branched from its exact terminal state (the target distribution).  Systems of
one batch may have different numbers of targets ``N``: every tensor is padded to
``n_targets_max`` and ``target_mask`` tells which columns are real.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from jointdist.base import check_positive_int, check_random_state
from jointdist.datasets.sde._generate import (
    check_time_grid,
    generate,
)
from jointdist.datasets.sde.systems import SDESystems, _check_level
from jointdist.device import resolve_device

__all__ = ["SDEBatch", "SDEStream", "curriculum_weights"]


@dataclass
class SDEBatch:
    """One pretraining batch (torch tensors on the stream's device).

    Attributes
    ----------
    context : (B, T, N_max) float tensor
        Histories of the targets in observed units; padded columns are zero.
    futures : (B, n_futures, H, N_max) float tensor
        Futures branched from each history's terminal state.
    target_mask : (B, N_max) bool tensor
        True for the real target columns (the first ``n_targets[b]``).
    n_targets : (B,) long tensor
    levels : (B,) long tensor
        Curriculum level of each system; -1 for a volatility-clustering system
        (``SDEStream(volatility_fraction > 0)``), -2 for a KernelSynth / LMC / DynLMC
        system (``dynlmc_fraction > 0``).
    dt : float
        Time step of context and futures (``t_in / T``).
    context_features, future_features : tensors of shape (B, T, M) and
        (B, n_futures, H, M), or None when ``M = 0``.
    loc, scale : (B, N_max) tensors
        Affine map from the systems' normalized units to the observed ones
        (``X = loc + scale * Z``): the scale of every series, for diagnostics.  A model
        should not rely on them (it sees only the context at inference time).
    systems : SDESystems or None
        All sampled parameters of the curriculum systems (the rows with ``levels >= 0``,
        which come first); None when a batch has none.
    """

    context: torch.Tensor
    futures: torch.Tensor
    target_mask: torch.Tensor
    n_targets: torch.Tensor
    levels: torch.Tensor
    dt: float
    context_features: torch.Tensor | None
    future_features: torch.Tensor | None
    loc: torch.Tensor
    scale: torch.Tensor
    systems: SDESystems

    @property
    def batch_size(self) -> int:
        return int(self.context.shape[0])


def curriculum_weights(progress: float, levels: Sequence[int] = tuple(range(8))) -> np.ndarray:
    """Level weights of a simple-to-complex schedule.

    A frontier moves from the first to the last of ``levels`` as ``progress`` goes from
    0 to 1; levels behind the frontier get weight 1, the next one is phased in linearly,
    later ones get 0.  Pass ``lambda step: curriculum_weights(step / n_steps, levels)``
    as ``level_weights`` of :class:`SDEStream`.

    Parameters
    ----------
    progress : float in [0, 1]
    levels : sequence of int, default=(0, ..., 7)

    Returns
    -------
    ndarray of shape (len(levels),), summing to one.
    """
    if not isinstance(progress, numbers.Real) or not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be a number in [0, 1]; got {progress!r}.")
    n = len(levels)
    if n == 0:
        raise ValueError("levels must not be empty.")
    frontier = progress * (n - 1)
    w = np.clip(1.0 + frontier - np.arange(n), 0.0, 1.0)
    return w / w.sum()


class SDEStream:
    """Endless stream of (context, branched futures) batches from a mix of levels.

    Parameters
    ----------
    levels : int or sequence of int, default=(0, ..., 7)
        Curriculum levels to draw systems from (0..9).
    level_weights : sequence of float, callable or None, default=None
        Probabilities of ``levels`` (normalized); None is uniform.  A callable
        ``f(batch_index) -> weights`` gives a schedule, e.g. with
        :func:`curriculum_weights`.
    batch_size : int, default=32
        Systems per batch.
    n_targets : int or (int, int), default=(1, 10)
        ``N`` per system: fixed, or drawn uniformly from the inclusive range.  Tensors
        are padded to the largest value.
    n_features : int, default=0
        ``M`` feature series per system.
    context_length, horizon : int, default=504, 63
        ``T`` and ``H``.
    n_futures : int, default=64
        Futures per system.
    t_in, t_out : float, default=2.0, 0.25
        Simulated time of history and futures (``t_in / T == t_out / H``).
    random_state : int, numpy Generator or None, default=None
        Seed of the whole stream: the same int gives the same sequence of batches.
    device : str or torch.device, default="auto"
        Where to simulate; batches stay there.
    dtype : torch.dtype, default=torch.float32
    scale_range : (float, float), default=(1e-2, 1e3)
        Range of the log-uniform observation scale of each series.
    volatility_fraction : float, default=0.0
        Probability that a system of a batch is a volatility-clustering system of
        :func:`jointdist.datasets.volatility.simulate_volatility` (EGARCH, log-normal
        stochastic volatility, regime switching; daily steps, simulated on the CPU)
        instead of a curriculum system; its level is -1.  Needs ``n_features = 0``.
    dynlmc_fraction : float, default=0.0
        Probability that a system is a KernelSynth, LMC or DynLMC system of seed 001
        with futures branched by exact GP conditioning
        (:func:`jointdist.datasets.dynlmc.simulate_dynlmc_branches`); its level is -2.
        ``volatility_fraction + dynlmc_fraction <= 1``; needs ``n_features = 0``.

    Attributes
    ----------
    n_batches_ : int
        Batches produced so far.
    n_rejected_ : int
        Sampled systems that exploded and were resampled, so far.

    Examples
    --------
    >>> stream = SDEStream(levels=[0, 1, 2], batch_size=4, n_targets=(1, 3),
    ...                    context_length=64, horizon=8, n_futures=16, t_in=1.0,
    ...                    t_out=0.125, random_state=0, device="cpu")
    >>> batch = next(iter(stream))
    >>> tuple(batch.context.shape), tuple(batch.futures.shape)
    ((4, 64, 3), (4, 16, 8, 3))
    """

    def __init__(self, levels: int | Sequence[int] = tuple(range(8)),
                 level_weights: Sequence[float] | Callable[[int], Sequence[float]] | None
                 = None, batch_size: int = 32, n_targets: int | tuple[int, int] = (1, 10),
                 n_features: int = 0, context_length: int = 504, horizon: int = 63,
                 n_futures: int = 64, t_in: float = 2.0, t_out: float = 0.25,
                 random_state: Any = None, device="auto", dtype=torch.float32,
                 scale_range=(1e-2, 1e3), volatility_fraction: float = 0.0,
                 dynlmc_fraction: float = 0.0):
        levels = [levels] if isinstance(levels, (numbers.Integral, np.integer)) else list(levels)
        if not levels:
            raise ValueError("levels must not be empty.")
        self.levels = np.array([_check_level(lv) for lv in levels], dtype=np.int64)
        self.level_weights = level_weights
        if not callable(level_weights):
            self._weights(level_weights)  # validate now
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if isinstance(n_targets, (numbers.Integral, np.integer)):
            n_targets = (n_targets, n_targets)
        lo, hi = (check_positive_int(v, "n_targets") for v in n_targets)
        if lo > hi:
            raise ValueError(f"n_targets range must satisfy low <= high; got {n_targets}.")
        self.n_targets = (lo, hi)
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) \
                or n_features < 0:
            raise ValueError(f"n_features must be a non-negative integer; got {n_features!r}.")
        self.n_features = int(n_features)
        self.context_length = check_positive_int(context_length, "context_length")
        if self.context_length < 2:
            raise ValueError(f"context_length must be >= 2; got {context_length}.")
        self.horizon = check_positive_int(horizon, "horizon")
        self.n_futures = check_positive_int(n_futures, "n_futures")
        self.dt = check_time_grid(self.context_length, self.horizon, t_in, t_out)
        self.t_in, self.t_out = float(t_in), float(t_out)
        self.device = resolve_device(device)
        self.dtype = dtype
        self.scale_range = scale_range
        for name, value in (("volatility_fraction", volatility_fraction),
                            ("dynlmc_fraction", dynlmc_fraction)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}.")
            if value > 0 and self.n_features:
                raise ValueError(f"{name} > 0 needs n_features = 0 (those systems have no "
                                 "feature series).")
        if volatility_fraction + dynlmc_fraction > 1.0 + 1e-12:
            raise ValueError(f"volatility_fraction + dynlmc_fraction must be <= 1; got "
                             f"{volatility_fraction} + {dynlmc_fraction}.")
        self.volatility_fraction = float(volatility_fraction)
        self.dynlmc_fraction = float(dynlmc_fraction)
        self._rng = check_random_state(random_state)
        self.n_batches_ = 0
        self.n_rejected_ = 0

    def _weights(self, weights) -> np.ndarray:
        if weights is None:
            return np.full(len(self.levels), 1.0 / len(self.levels))
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(self.levels),) or not np.all(np.isfinite(w)) or (w < 0).any() \
                or w.sum() <= 0:
            raise ValueError(f"level_weights must be {len(self.levels)} non-negative "
                             f"numbers with a positive sum; got {weights!r}.")
        return w / w.sum()

    def __iter__(self) -> Iterator[SDEBatch]:
        while True:
            yield self.sample_batch()

    def sample_batch(self) -> SDEBatch:
        """Draw the next batch."""
        rng = self._rng
        weights = self.level_weights
        if callable(weights):
            weights = weights(self.n_batches_)
        p = self._weights(weights)
        B = self.batch_size
        n_vol, n_dyn = self._source_counts(B, rng)
        n_sde = B - n_vol - n_dyn
        levels = rng.choice(self.levels, size=n_sde, p=p)
        lo, hi = self.n_targets
        n_targets = rng.integers(lo, hi + 1, B)
        self.n_batches_ += 1
        parts = []
        if n_sde:
            parts.append(self._curriculum_batch(levels, n_targets[:n_sde], hi, rng))
        if n_vol:
            parts.append(self._external_batch("volatility", n_targets[n_sde:n_sde + n_vol],
                                              hi, rng))
        if n_dyn:
            parts.append(self._external_batch("dynlmc", n_targets[n_sde + n_vol:], hi, rng))
        return parts[0] if len(parts) == 1 else self._concatenate(parts)

    def _source_counts(self, B, rng):
        """Systems of the batch from the volatility and the DynLMC sources."""
        v, d = self.volatility_fraction, self.dynlmc_fraction
        if not d:  # one binomial draw: the stream of a volatility-only mix, as it was
            return (int(rng.binomial(B, v)) if v else 0), 0
        _, n_vol, n_dyn = rng.multinomial(B, [max(0.0, 1.0 - v - d), v, d])
        return int(n_vol), int(n_dyn)

    def _curriculum_batch(self, levels, n_targets, n_max, rng) -> SDEBatch:
        M = self.n_features
        gen = generate(levels, n_targets, M, context_length=self.context_length,
                       horizon=self.horizon, n_futures=self.n_futures, dt=self.dt,
                       rng=rng, device=self.device, dtype=self.dtype, n_dims=M + n_max,
                       scale_range=self.scale_range)
        self.n_rejected_ += gen.n_rejected
        sy = gen.systems
        mask = sy.dim_mask[:, M:]
        if M:
            context, futures = gen.history[..., M:].contiguous(), gen.futures[..., M:].contiguous()
            context_features = gen.history[..., :M].contiguous()
            future_features = gen.futures[..., :M].contiguous()
        else:
            context, futures = gen.history, gen.futures
            context_features = future_features = None
        return SDEBatch(
            context=context, futures=futures, target_mask=mask,
            n_targets=sy.n_targets, levels=sy.levels, dt=self.dt,
            context_features=context_features, future_features=future_features,
            loc=sy.loc[:, M:], scale=sy.scale[:, M:], systems=sy)

    def _external_batch(self, source, n_targets, n_max, rng) -> SDEBatch:
        """Volatility (level -1) or DynLMC (level -2) systems, padded to ``n_max``."""
        kw = dict(context_length=self.context_length, horizon=self.horizon,
                  n_futures=self.n_futures, scale_range=self.scale_range, random_state=rng)
        if source == "volatility":
            from jointdist.datasets.volatility import simulate_volatility

            hist, fut, mask, _ = simulate_volatility(n_targets, **kw)
            level = -1
        else:
            from jointdist.datasets.dynlmc.branching import simulate_dynlmc_branches

            hist, fut, mask, _ = simulate_dynlmc_branches(n_targets, n_jobs=1, **kw)
            level = -2
        pad = n_max - hist.shape[-1]
        if pad:
            hist = np.pad(hist, ((0, 0), (0, 0), (0, pad)))
            fut = np.pad(fut, ((0, 0), (0, 0), (0, 0), (0, pad)))
            mask = np.pad(mask, ((0, 0), (0, pad)))
        as_t = lambda a: torch.as_tensor(a, dtype=self.dtype).to(self.device)  # noqa: E731
        B = len(n_targets)
        return SDEBatch(context=as_t(hist), futures=as_t(fut),
                        target_mask=torch.as_tensor(mask).to(self.device),
                        n_targets=torch.as_tensor(n_targets, dtype=torch.long).to(self.device),
                        levels=torch.full((B,), level, dtype=torch.long, device=self.device),
                        dt=self.dt, context_features=None, future_features=None,
                        loc=torch.zeros(B, n_max, dtype=self.dtype, device=self.device),
                        scale=torch.ones(B, n_max, dtype=self.dtype, device=self.device),
                        systems=None)

    @staticmethod
    def _concatenate(parts) -> SDEBatch:
        """Rows of the parts in order (curriculum, volatility, DynLMC; same padding)."""
        def cat(name):
            tensors = [getattr(b, name) for b in parts]
            return torch.cat([t.to(tensors[0].dtype) for t in tensors], dim=0)

        systems = parts[0].systems
        return SDEBatch(context=cat("context"), futures=cat("futures"),
                        target_mask=cat("target_mask"), n_targets=cat("n_targets"),
                        levels=cat("levels"), dt=parts[0].dt, context_features=None,
                        future_features=None, loc=cat("loc"), scale=cat("scale"),
                        systems=systems)
