"""The forecasters of jointdist, all following :class:`jointdist.base.BaseJointForecaster`.

Every forecaster is imported on first use, so that ``import jointdist.models`` pays for
neither torch (JointFM, the diffusion copula) nor scikit-learn and scipy before a model
is needed.
"""

from importlib import import_module

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


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # import once
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
