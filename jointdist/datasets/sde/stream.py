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
        Curriculum level of each system.
    dt : float
        Time step of context and futures (``t_in / T``).
    context_features, future_features : tensors of shape (B, T, M) and
        (B, n_futures, H, M), or None when ``M = 0``.
    loc, scale : (B, N_max) tensors
        Affine map from the systems' normalized units to the observed ones
        (``X = loc + scale * Z``): the scale of every series, for diagnostics.  A model
        should not rely on them (it sees only the context at inference time).
    systems : SDESystems
        All sampled parameters.
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
                 scale_range=(1e-2, 1e3)):
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
        levels = rng.choice(self.levels, size=B, p=p)
        lo, hi = self.n_targets
        n_targets = rng.integers(lo, hi + 1, B)
        M = self.n_features
        gen = generate(levels, n_targets, M, context_length=self.context_length,
                       horizon=self.horizon, n_futures=self.n_futures, dt=self.dt,
                       rng=rng, device=self.device, dtype=self.dtype, n_dims=M + hi,
                       scale_range=self.scale_range)
        self.n_batches_ += 1
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
