"""The forecasters of jointdist, all following :class:`jointdist.base.BaseJointForecaster`.

Every forecaster is imported on first use, so that ``import jointdist.models`` pays for
neither torch (JointFM, the diffusion copula) nor scikit-learn and scipy before a model
is needed.
"""

from jointdist._lazy import lazy_exports

__all__ = ["CopulaCoupledForecaster", "DCCGarchForecaster", "DiffusionCopulaForecaster",
           "HistoricalSimulation", "JointFMForecaster"]

#: Forecasters imported lazily, and the module of each.
_LAZY = {
    "CopulaCoupledForecaster": "jointdist.models.coupled",
    "DCCGarchForecaster": "jointdist.models.dcc_garch",
    "DiffusionCopulaForecaster": "jointdist.models.diffusion_copula",
    "HistoricalSimulation": "jointdist.models.historical",
    "JointFMForecaster": "jointdist.models.jointfm",
}


#: Subpackages reachable as attributes (``jointdist.models.dcc_garch``) without an import.
_SUBMODULES = ("coupled", "dcc_garch", "diffusion_copula", "historical", "jointfm")


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, _SUBMODULES)
