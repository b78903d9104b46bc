"""Synthetic dataset generators and loaders.

* :mod:`jointdist.datasets.sde` -- the JointFM SDE curriculum, levels 0-9 (seed 000),
  its benchmark loader and pretraining stream;
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
from jointdist.datasets.sde import (
    SDEBatch,
    SDEBenchmark,
    SDESample,
    SDEStream,
    curriculum_weights,
    load_sde_benchmark,
    make_sde,
)

__all__ = [
    "ProgressiveMixingSampler",
    "RegimeWalk",
    "SDEBatch",
    "SDEBenchmark",
    "SDESample",
    "SDEStream",
    "curriculum_weights",
    "load_dynlmc",
    "load_sde_benchmark",
    "make_dynlmc",
    "make_kernelsynth",
    "make_lmc",
    "make_regime_walk",
    "make_sde",
]
