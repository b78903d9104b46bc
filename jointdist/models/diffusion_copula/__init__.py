"""Diffusion-copula forecaster (seed 002): MDN marginals + classification-diffusion copula.

Public pieces:

* :class:`DiffusionCopulaForecaster` -- the forecaster (``BaseJointForecaster``);
* :class:`ClassificationDiffusionCopula` (identity or full-covariance OU process),
  :class:`FlowMatchingCopula`, :class:`GaussianCopula`, :class:`StudentTCopula` --
  copulas with a common
  ``fit(u) / log_density(u) / sample(n, rng)`` interface;
* :class:`NLTMixture` -- Normal/Laplace/Student-t mixture with CDF and inverse CDF;
* :mod:`~jointdist.models.diffusion_copula.diagnostics` -- PIT, QQ, tail, joint-extreme
  CRPS and black-swan diagnostics.
"""

from jointdist.models.diffusion_copula.copula import (
    ClassificationDiffusionCopula,
    FlowMatchingCopula,
    GaussianCopula,
    StudentTCopula,
)
from jointdist.models.diffusion_copula.diagnostics import (
    black_swan_curve,
    crps_ensemble,
    crps_on_joint_extremes,
    exceedance_correlation,
    joint_extreme_steps,
    mahalanobis_surprise,
    pit_histogram,
    pit_ks_test,
    plot_black_swan,
    prob_k_simultaneous_tail_events,
    qq_points,
    tail_co_exceedance,
    tail_dependence,
    tail_event_accuracy,
    threshold_weighted_crps,
)
from jointdist.models.diffusion_copula.forecaster import DiffusionCopulaForecaster
from jointdist.models.diffusion_copula.mixture import NLTMixture

__all__ = [
    "ClassificationDiffusionCopula",
    "DiffusionCopulaForecaster",
    "FlowMatchingCopula",
    "GaussianCopula",
    "NLTMixture",
    "StudentTCopula",
    "black_swan_curve",
    "crps_ensemble",
    "crps_on_joint_extremes",
    "exceedance_correlation",
    "joint_extreme_steps",
    "mahalanobis_surprise",
    "pit_histogram",
    "pit_ks_test",
    "plot_black_swan",
    "prob_k_simultaneous_tail_events",
    "qq_points",
    "tail_co_exceedance",
    "tail_dependence",
    "tail_event_accuracy",
    "threshold_weighted_crps",
]
