"""Diffusion-copula forecaster (seed 002): MDN marginals + classification-diffusion copula.

Public pieces:

* :class:`DiffusionCopulaForecaster` -- the forecaster (``BaseJointForecaster``);
* :class:`ClassificationDiffusionCopula`, :class:`GaussianCopula` -- copulas with a common
  ``fit(u) / log_density(u) / sample(n, rng)`` interface;
* :class:`NLTMixture` -- Normal/Laplace/Student-t mixture with CDF and inverse CDF;
* :mod:`~jointdist.models.diffusion_copula.diagnostics` -- PIT, QQ and tail diagnostics.
"""

from jointdist.models.diffusion_copula.copula import (
    ClassificationDiffusionCopula,
    GaussianCopula,
)
from jointdist.models.diffusion_copula.diagnostics import (
    exceedance_correlation,
    pit_histogram,
    pit_ks_test,
    prob_k_simultaneous_tail_events,
    qq_points,
    tail_co_exceedance,
    tail_dependence,
)
from jointdist.models.diffusion_copula.forecaster import DiffusionCopulaForecaster
from jointdist.models.diffusion_copula.mixture import NLTMixture

__all__ = [
    "ClassificationDiffusionCopula",
    "DiffusionCopulaForecaster",
    "GaussianCopula",
    "NLTMixture",
    "exceedance_correlation",
    "pit_histogram",
    "pit_ks_test",
    "prob_k_simultaneous_tail_events",
    "qq_points",
    "tail_co_exceedance",
    "tail_dependence",
]
