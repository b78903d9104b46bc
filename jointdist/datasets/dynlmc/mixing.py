"""Progressive interleaved mixing of KernelSynth, LMCSynth and DynLMC (seed 001, Alg. 3).

At index ``i`` of a pass over ``M`` samples, a *mixed* sample is built with probability

.. math:: p_{mix}(i) = \\min\\{1, \\log(1 + 2 i / M)\\}   \\qquad \\text{(Eq. (5))}

(the log exceeds 1 once ``i > (e - 1) M / 2``, about 86% of the pass): random channel
subsets of ``D_1[i], D_2[i], D_3[i]`` with random split sizes are concatenated along the
channel axis and the channels are permuted.  Otherwise ``D_k[i]`` is returned for a
uniformly drawn ``k``.  DynLMC data thus enter training more and more often, a soft
curriculum.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ._sampling import seed_sequence

__all__ = ["mixing_probability", "ProgressiveMixingSampler"]


def mixing_probability(i: Any, total: int) -> Any:
    """``min(1, log(1 + 2 i / total))`` (Eq. (5)), for an int or an array of indices."""
    if not isinstance(total, numbers.Integral) or total < 1:
        raise ValueError(f"total must be a positive integer, got {total!r}.")
    p = np.minimum(1.0, np.log1p(2.0 * np.asarray(i, dtype=np.float64) / total))
    return float(p) if np.ndim(p) == 0 else p


class ProgressiveMixingSampler:
    """Map-style dataset implementing the progressive mixing of Algorithm 3.

    Item ``i`` depends only on ``i`` and ``random_state`` (its own
    ``numpy.random.SeedSequence`` child), so items can be read in any order, by several
    workers, and work as a map-style ``torch.utils.data.Dataset`` (numpy arrays are
    collated into tensors; use equal channel counts to batch).

    Parameters
    ----------
    datasets : sequence of array-like
        The sources, in the paper ``(KernelSynth, LMCSynth, DynLMC)``; each indexable
        with ``len`` and items of shape ``(length, n_channels_k)`` (for instance the
        arrays of :func:`~jointdist.datasets.dynlmc.load_dynlmc`).  Any number ``>= 2``
        of sources is accepted; the paper uses three.
    n_channels : int or None, default=None
        Channels of a mixed sample; ``None`` means the smallest ``n_channels_k``.  Each
        source contributes at least one channel.
    random_state : int, numpy Generator or None, default=None
        Seed of the per-item randomness.

    Attributes
    ----------
    n_items : int
        ``M = min_k len(D_k)``, the pass length (and ``len(self)``).

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist.datasets.dynlmc import ProgressiveMixingSampler
    >>> D = [np.full((10, 32, 4), k, dtype=float) for k in range(3)]
    >>> s = ProgressiveMixingSampler(D, random_state=0)
    >>> len(s), s[9].shape
    (10, (32, 4))
    """

    def __init__(self, datasets: Sequence[Any], *, n_channels: int | None = None,
                 random_state: Any = None):
        datasets = list(datasets)
        if len(datasets) < 2:
            raise ValueError("datasets must hold at least two sources.")
        lengths = [len(d) for d in datasets]
        if min(lengths) < 1:
            raise ValueError(f"every source must hold at least one sample, got {lengths}.")
        first = [np.shape(d[0]) for d in datasets]
        if any(len(s) != 2 for s in first) or len({s[0] for s in first}) != 1:
            raise ValueError("items must be (length, n_channels) arrays of one common length; "
                             f"got item shapes {first}.")
        min_channels = min(s[1] for s in first)
        if n_channels is None:
            n_channels = min_channels
        if (not isinstance(n_channels, numbers.Integral) or
                not len(datasets) <= n_channels <= sum(s[1] for s in first)):
            raise ValueError(f"n_channels must be an integer between the number of sources "
                             f"({len(datasets)}) and the total channel count, got {n_channels!r}.")
        self.datasets = datasets
        self.n_channels = int(n_channels)
        self.n_items = min(lengths)
        self._caps = np.array([s[1] for s in first])
        ss = seed_sequence(random_state)
        self._entropy, self._spawn_key = ss.entropy, tuple(ss.spawn_key)

    def __len__(self) -> int:
        return self.n_items

    def _rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng(
            np.random.SeedSequence(self._entropy, spawn_key=self._spawn_key + (i,)))

    def _split_sizes(self, rng: np.random.Generator) -> np.ndarray:
        """Uniform composition of ``n_channels`` into positive parts within the caps."""
        k, C = len(self.datasets), self.n_channels
        while True:  # rejection; accepted at once when every cap >= C - k + 1
            cuts = np.sort(rng.choice(np.arange(1, C), size=k - 1, replace=False))
            sizes = np.diff(np.concatenate([[0], cuts, [C]]))
            if np.all(sizes <= self._caps):
                return sizes

    def sample(self, i: int) -> tuple[np.ndarray, dict]:
        """Item ``i`` and how it was built: ``{"mixed", "p_mix", "source", "sizes"}``."""
        if not isinstance(i, numbers.Integral) or not -self.n_items <= i < self.n_items:
            raise IndexError(f"index {i!r} out of range for {self.n_items} items.")
        i = int(i) % self.n_items
        rng = self._rng(i)
        p = mixing_probability(i, self.n_items)
        if rng.random() < p:
            sizes = self._split_sizes(rng)
            parts = []
            for d, size, cap in zip(self.datasets, sizes, self._caps):
                cols = rng.choice(cap, size=size, replace=False)
                parts.append(np.asarray(d[i])[:, cols])
            x = np.concatenate(parts, axis=1)
            x = x[:, rng.permutation(x.shape[1])]  # no positional bias between sources
            return x, {"mixed": True, "p_mix": p, "source": None, "sizes": sizes}
        k = int(rng.integers(len(self.datasets)))
        return np.asarray(self.datasets[k][i]), {"mixed": False, "p_mix": p, "source": k,
                                                 "sizes": None}

    def __getitem__(self, i: int) -> np.ndarray:
        return self.sample(i)[0]

    def __iter__(self):
        for i in range(self.n_items):
            yield self[i]

    def __repr__(self) -> str:
        return (f"ProgressiveMixingSampler(n_sources={len(self.datasets)}, "
                f"n_items={self.n_items}, n_channels={self.n_channels})")
