"""DynLMC, LMCSynth and KernelSynth synthetic multivariate time series (seed 001).

* :func:`make_kernelsynth` -- univariate GP prior draws with random composite kernels;
* :func:`make_lmc` -- static linear model of coregionalization (TimePFN's LMCSynth);
* :func:`make_dynlmc` -- DynLMC: drifting / regime-switching softmax weights and lags;
* :func:`load_dynlmc` -- the paper's datasets (Drift, Lag, Regime, Combined) and the
  KernelSynth / LMCSynth sources, generated in parallel and reproducibly;
* :class:`ProgressiveMixingSampler` -- Algorithm 3's progressive mixing for training;
* :func:`simulate_dynlmc_branches` -- systems of the three generators as one history
  and futures branched from its terminal state (JointFM's pretraining format);
* :func:`optimize_mixing` -- Algorithm 2's Bayesian optimisation of mixture weights;
* :func:`rolling_correlation_drift`, :func:`argmax_lags` -- the statistics of Fig. 1.
"""

from .bayes_mixing import MixingResult, mixture_counts, optimize_mixing, weights_from_uniforms
from .branching import branch_gp, simulate_dynlmc_branches
from .diagnostics import argmax_lags, lagged_correlation, rolling_correlation_drift
from .dynlmc import (
    DYNLMC_MODES,
    DYNLMC_VARIANTS,
    ar1_paths,
    load_dynlmc,
    make_dynlmc,
    sticky_markov_chain,
    to_panel,
)
from .kernelsynth import (
    kernel_bank,
    kernel_matrix,
    make_kernelsynth,
    random_kernel,
    sample_gp_prior,
    time_grid,
)
from .lmc import make_lmc
from .mixing import ProgressiveMixingSampler, mixing_probability

__all__ = [
    "DYNLMC_MODES",
    "DYNLMC_VARIANTS",
    "MixingResult",
    "ProgressiveMixingSampler",
    "ar1_paths",
    "argmax_lags",
    "branch_gp",
    "kernel_bank",
    "kernel_matrix",
    "lagged_correlation",
    "load_dynlmc",
    "make_dynlmc",
    "make_kernelsynth",
    "make_lmc",
    "mixing_probability",
    "mixture_counts",
    "optimize_mixing",
    "random_kernel",
    "rolling_correlation_drift",
    "sample_gp_prior",
    "simulate_dynlmc_branches",
    "sticky_markov_chain",
    "time_grid",
    "to_panel",
    "weights_from_uniforms",
]
