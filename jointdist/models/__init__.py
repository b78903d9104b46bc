"""The forecasters of jointdist, all following :class:`jointdist.base.BaseJointForecaster`.

The two torch models are imported on first use, so that ``import jointdist`` does not
pay for importing torch when only the classical forecasters are needed.
"""

from importlib import import_module

from jointdist.models.dcc_garch import DCCGarchForecaster
from jointdist.models.historical import HistoricalSimulation

__all__ = ["DCCGarchForecaster", "DiffusionCopulaForecaster", "HistoricalSimulation",
           "JointFMForecaster"]

#: Forecasters imported lazily, and the module of each.
_LAZY = {
    "DiffusionCopulaForecaster": "jointdist.models.diffusion_copula",
    "JointFMForecaster": "jointdist.models.jointfm",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # import once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
