"""Random draws of parameters within ranges, seeding and parallel generation for the
DynLMC generators (private)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from jointdist.base import check_random_state

__all__ = ["seed_sequence", "draw_float", "draw_int", "check_range"]


def seed_sequence(random_state: Any) -> np.random.SeedSequence:
    """One ``SeedSequence`` from ``random_state``; per-sample seeds are spawned from it.

    An int gives ``SeedSequence(int)``; a Generator or RandomState gives a sequence
    seeded with entropy drawn from it (so the call advances it, deterministically).
    """
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}.")
        return np.random.SeedSequence(int(random_state))
    rng = check_random_state(random_state)
    return np.random.SeedSequence(rng.integers(0, 2**63 - 1, size=4).tolist())


def check_range(value: Any, name: str, low: float, high: float, *, integer: bool = False,
                low_open: bool = False, high_open: bool = False) -> tuple[float, float]:
    """Validate a scalar or a ``(low, high)`` range lying in ``[low, high]``.

    Returns the pair ``(a, b)`` with ``a <= b`` (a scalar gives ``a == b``).
    """
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a (low, high) pair, got {value!r}.")
        a, b = value
    else:
        a = b = value
    kind = numbers.Integral if integer else numbers.Real
    for v in (a, b):
        if not isinstance(v, kind) or isinstance(v, bool) or not np.isfinite(v):
            what = "integers" if integer else "finite numbers"
            raise ValueError(f"{name} must hold {what}, got {value!r}.")
        too_low = v <= low if low_open else v < low
        too_high = v >= high if high_open else v > high
        if too_low or too_high:
            lo = "(" if low_open else "["
            hi = ")" if high_open else "]"
            raise ValueError(f"{name} must lie in {lo}{low}, {high}{hi}, got {value!r}.")
    if a > b:
        raise ValueError(f"{name} range must have low <= high, got {value!r}.")
    return (int(a), int(b)) if integer else (float(a), float(b))


def draw_float(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Draw uniformly from ``[a, b]`` (returns ``a`` without drawing when ``a == b``)."""
    a, b = bounds
    return a if a == b else float(rng.uniform(a, b))


def draw_int(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    """Draw uniformly from ``{a, ..., b}`` (returns ``a`` without drawing when ``a == b``)."""
    a, b = bounds
    return a if a == b else int(rng.integers(a, b + 1))


def generate_parallel(func, seeds, n_jobs, **kwargs) -> list:
    """``[func(seed, **kwargs) for seed in seeds]``, with joblib when ``n_jobs`` asks for it.

    Every item has its own seed, so the result is the same for every ``n_jobs``.
    """
    if n_jobs is not None and (not isinstance(n_jobs, numbers.Integral) or n_jobs == 0):
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}.")
    if n_jobs is None or n_jobs == 1 or len(seeds) <= 1:
        return [func(s, **kwargs) for s in seeds]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(func)(s, **kwargs) for s in seeds)


def single_threaded_blas():
    """Context limiting BLAS to one thread.

    The GP draws are many small (about 1000 x 1000) Cholesky factorisations; with two
    BLAS threads on a shared two-core machine they were measured at 45 ms median and up
    to 2.9 s (thread oversubscription), with one thread at 28 ms median and 34 ms at
    worst.  Parallelism comes from ``n_jobs`` across samples instead.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
