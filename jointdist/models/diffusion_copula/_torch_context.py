"""Seeding, generators and thread counts of torch for the diffusion-copula modules."""

from __future__ import annotations

import contextlib

import numpy as np

from jointdist.device import resolve_device

__all__ = ["seed_from", "torch_generator", "seeded_torch", "resolve_device"]


def seed_from(random_state) -> int:
    """An int seed drawn from ``random_state`` (int, Generator, RandomState or None)."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    rng = np.random.default_rng(random_state)
    return int(rng.integers(np.iinfo(np.int32).max))


def torch_generator(seed: int, device):
    """A :class:`torch.Generator` on ``device`` seeded with ``seed``."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


@contextlib.contextmanager
def seeded_torch(seed: int, device):
    """Seed torch's global RNG inside a fork, so that the caller's state is restored.

    Used around module construction (parameter initialisation draws from the global
    generator); everything else passes explicit generators.
    """
    import torch

    devices = [device] if getattr(device, "type", "cpu") == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run with ``torch.set_num_threads(n_threads)`` and restore the old value after.

    ``None`` leaves torch's setting alone.  The networks here are small (widths of 32
    to 128), for which intra-op parallelism gains little and, on a shared machine,
    spinning threads lose a lot: on our 2-core CI machines under load one thread was
    20 to 50 times faster than two for a CDC training step.
    """
    import torch

    if n_threads is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)
