"""The JointFM SDE curriculum (seed 000, Table 1): random SDE systems of levels 0-9,
a vectorized torch simulator, the paper's benchmark loader and a pretraining stream."""

from jointdist.datasets.sde.benchmark import (
    SDEBenchmark,
    SDESample,
    load_sde_benchmark,
    make_sde,
)
from jointdist.datasets.sde.simulator import (
    SDEState,
    SimulationResult,
    branch_state,
    initial_state,
    simulate,
    to_observed,
)
from jointdist.datasets.sde.stream import SDEBatch, SDEStream, curriculum_weights
from jointdist.datasets.sde.systems import (
    LEVEL_DESCRIPTIONS,
    MAX_LEVEL,
    SDESystems,
    sample_systems,
)

__all__ = [
    "LEVEL_DESCRIPTIONS",
    "MAX_LEVEL",
    "SDEBatch",
    "SDEBenchmark",
    "SDESample",
    "SDEState",
    "SDEStream",
    "SDESystems",
    "SimulationResult",
    "branch_state",
    "curriculum_weights",
    "initial_state",
    "load_sde_benchmark",
    "make_sde",
    "sample_systems",
    "simulate",
    "to_observed",
]
