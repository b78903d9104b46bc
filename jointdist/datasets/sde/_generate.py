"""History + branched futures with rejection of exploding systems (shared core)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from jointdist.datasets.sde.simulator import branch_state, simulate, to_observed
from jointdist.datasets.sde.systems import SDESystems, sample_systems

#: Paths whose normalized state leaves [-MAX_ABS_Z, MAX_ABS_Z] count as exploded.
MAX_ABS_Z = 1e3
#: A history whose active dimension has a time std below this (normalized units) is
#: degenerate (a flat line) and is rejected.
MIN_HISTORY_STD = 1e-6


def check_time_grid(context_length: int, horizon: int, t_in: float, t_out: float) -> float:
    """Return the common step ``dt = t_in / context_length`` (= ``t_out / horizon``)."""
    for name, value in (("t_in", t_in), ("t_out", t_out)):
        if not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number; got {value!r}.")
    dt = float(t_in) / context_length
    dt_out = float(t_out) / horizon
    if not math.isclose(dt, dt_out, rel_tol=1e-6):
        raise ValueError(f"history and futures must share one time step: t_in / "
                         f"context_length = {dt:.6g} but t_out / horizon = {dt_out:.6g}.")
    return dt


def torch_generator(rng: np.random.Generator, device: torch.device) -> torch.Generator:
    """A torch generator on ``device`` seeded from the numpy ``rng`` (deterministic)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(0, 2**62)))
    return gen


@dataclass
class Generated:
    systems: SDESystems  # the accepted systems (on the simulation device)
    history: torch.Tensor  # (S, T, D) observed units
    futures: torch.Tensor  # (S, F, H, D) observed units
    n_rejected: int


def _valid(paths: torch.Tensor) -> torch.Tensor:
    """(S,) finite and inside the explosion bound (NaN compares False)."""
    dims = tuple(range(1, paths.dim()))
    hi, lo = paths.amax(dim=dims), paths.amin(dim=dims)
    return (hi <= MAX_ABS_Z) & (lo >= -MAX_ABS_Z)


def _non_degenerate(history: torch.Tensor, systems: SDESystems) -> torch.Tensor:
    std = history[:, 0].std(dim=1)  # (S, D) over time
    return ((std > MIN_HISTORY_STD) | ~systems.dim_mask).all(dim=1)


def generate(levels, n_targets, n_features: int, *, context_length: int, horizon: int,
             n_futures: int, dt: float, rng: np.random.Generator, device: torch.device,
             dtype: torch.dtype = torch.float32, n_dims: int | None = None,
             scale_range=(1e-2, 1e3), max_tries: int = 100) -> Generated:
    """Sample systems, simulate one history and ``n_futures`` branched futures each.

    Systems whose paths explode (non-finite or ``|Z| > MAX_ABS_Z``) or whose history is
    a flat line are resampled (same level and ``N``) until all are valid.
    """
    levels = np.atleast_1d(np.asarray(levels, dtype=np.int64))
    n_targets = np.broadcast_to(np.atleast_1d(np.asarray(n_targets, dtype=np.int64)),
                                levels.shape).copy()
    kw = dict(n_dims=n_dims, scale_range=scale_range)
    systems = sample_systems(levels, n_targets, n_features, rng, **kw).to(device, dtype)
    gen = torch_generator(rng, device)
    S = systems.n_systems
    todo = torch.arange(S, device=device)
    history = futures = None
    n_rejected = 0
    for _ in range(max_tries):
        sub = systems if history is None else systems.index(todo)
        hist = simulate(sub, context_length, dt, n_paths=1, generator=gen)
        fut = simulate(sub, horizon, dt, state=branch_state(hist.state, n_futures),
                       generator=gen)
        ok = _valid(hist.paths) & _valid(fut.paths) & _non_degenerate(hist.paths, sub)
        if history is None:
            history, futures = hist.paths[:, 0], fut.paths
        else:
            history[todo] = hist.paths[:, 0]
            futures[todo] = fut.paths
        del hist, fut
        bad = todo[~ok]
        if bad.numel() == 0:
            break
        n_rejected += int(bad.numel())
        bad_np = bad.cpu().numpy()
        fresh = sample_systems(levels[bad_np], n_targets[bad_np], n_features, rng,
                               n_dims=systems.n_dims, scale_range=scale_range)
        systems.replace_(bad, fresh.to(device, dtype))
        todo = bad
    else:
        raise RuntimeError(f"{todo.numel()} system(s) still exploded after {max_tries} "
                           "resampling rounds; this is a bug in the parameter ranges.")
    history = to_observed(systems, history)  # contiguous (S, T, D)
    futures = to_observed(systems, futures)  # contiguous (S, F, H, D)
    return Generated(systems=systems, history=history, futures=futures,
                     n_rejected=n_rejected)
