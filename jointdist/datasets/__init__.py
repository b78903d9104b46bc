"""Synthetic dataset generators and loaders.

* :mod:`jointdist.datasets.sde` -- the JointFM SDE curriculum, levels 0-9 (seed 000),
  its benchmark loader and pretraining stream;
* :mod:`jointdist.datasets.dynlmc` -- KernelSynth, LMCSynth and DynLMC (seed 001);
* :mod:`jointdist.datasets.families` -- process families outside the curriculum
  (stochastic volatility, square-root rates, drifting factors, GARCH) with oracle
  futures, to test zero-shot claims;
* :mod:`jointdist.datasets.regime_walk` -- a small regime-switching random walk with
  oracle futures, used by the demo;
* :mod:`jointdist.datasets.real` -- real multivariate series bundled with arch and
  sktime (:func:`load_real`, :func:`list_real`).
"""

from jointdist.datasets.dynlmc import (
    ProgressiveMixingSampler,
    load_dynlmc,
    make_dynlmc,
    make_kernelsynth,
    make_lmc,
)
from jointdist.datasets.families import FAMILIES, FamilyBenchmark, load_family_benchmark
from jointdist.datasets.real import RealDataInfo, list_real, load_real, real_dataset_info
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
    "FAMILIES",
    "FamilyBenchmark",
    "ProgressiveMixingSampler",
    "RealDataInfo",
    "RegimeWalk",
    "SDEBatch",
    "SDEBenchmark",
    "SDESample",
    "SDEStream",
    "curriculum_weights",
    "list_real",
    "load_dynlmc",
    "load_real",
    "load_family_benchmark",
    "load_sde_benchmark",
    "make_dynlmc",
    "make_kernelsynth",
    "make_lmc",
    "make_regime_walk",
    "make_sde",
    "real_dataset_info",
]
