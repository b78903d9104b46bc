"""Synthetic dataset generators and loaders.

* :mod:`jointdist.datasets.dynlmc` -- KernelSynth, LMCSynth and DynLMC (seed 001);
* :mod:`jointdist.datasets.regime_walk` -- a small regime-switching random walk with
  oracle futures, used by the demo.
"""

from jointdist.datasets.dynlmc import (
    ProgressiveMixingSampler,
    load_dynlmc,
    make_dynlmc,
    make_kernelsynth,
    make_lmc,
)
from jointdist.datasets.regime_walk import RegimeWalk, make_regime_walk

__all__ = [
    "ProgressiveMixingSampler",
    "RegimeWalk",
    "load_dynlmc",
    "make_dynlmc",
    "make_kernelsynth",
    "make_lmc",
    "make_regime_walk",
]
