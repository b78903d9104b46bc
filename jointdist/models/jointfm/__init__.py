"""JointFM: a foundation model for joint distributional forecasting (seed 000).

Config (:class:`JointFMConfig`), network (:class:`JointFM`), distributional heads
(:mod:`~jointdist.models.jointfm.heads`), pretraining (:mod:`~jointdist.models.jointfm.training`,
``python -m jointdist.models.jointfm.train``), weights I/O and the user-facing
:class:`JointFMForecaster`.
"""

from jointdist.models.jointfm.config import JointFMConfig
from jointdist.models.jointfm.forecaster import JointFMForecaster
from jointdist.models.jointfm.heads import (
    GaussianMixtureHead,
    JointGaussianMixture,
    JointSkewTMixture,
    SkewTMixtureHead,
    betainc,
    student_t_log_cdf,
)
from jointdist.models.jointfm.model import JointFM, JointFMOutput
from jointdist.models.jointfm.training import TrainConfig, train
from jointdist.models.jointfm.weights import load_weights, save_weights

__all__ = [
    "GaussianMixtureHead",
    "JointFM",
    "JointFMConfig",
    "JointFMForecaster",
    "JointFMOutput",
    "JointGaussianMixture",
    "JointSkewTMixture",
    "SkewTMixtureHead",
    "TrainConfig",
    "betainc",
    "load_weights",
    "save_weights",
    "student_t_log_cdf",
    "train",
]
