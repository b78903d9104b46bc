"""Scoring rules for joint (multivariate, multi-step) probabilistic forecasts.

Axis conventions, shared by every function here:

* ``y_samples`` -- sample paths, shape ``(..., n_samples, horizon, n_targets)``: the
  output of ``predict_samples`` with optional leading batch axes (series, systems,
  forecast origins);
* ``y_true`` -- the observed path, shape ``(..., horizon, n_targets)``;
* sample-set comparisons (:func:`energy_distance`, :func:`marginal_energy`) take two
  arrays shaped like ``y_samples``.

Multivariate scores take the norm over the **targets** axis at each horizon; the
per-horizon values are averaged unless ``per_horizon=True``.  Batch axes are kept and
broadcast.  numpy input gives numpy output; torch tensors (on any device) give tensors.
"""

from jointdist.metrics.crps import GLUONTS_QUANTILE_LEVELS, crps, crps_sum
from jointdist.metrics.energy import energy_distance, energy_score, marginal_energy
from jointdist.metrics.scorers import JointScorer, get_scorer, get_scorer_names, make_joint_scorer
from jointdist.metrics.variogram import variogram_score

__all__ = [
    "GLUONTS_QUANTILE_LEVELS",
    "JointScorer",
    "crps",
    "crps_sum",
    "energy_distance",
    "energy_score",
    "get_scorer",
    "get_scorer_names",
    "make_joint_scorer",
    "marginal_energy",
    "variogram_score",
]
