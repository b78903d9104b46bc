"""jointdist: forecasting the joint probability distribution of coupled time series.

Forecasters share one interface (``fit(y)``, ``predict_samples(horizon, n_samples)``)
and return coherent sample paths of shape ``(n_samples, horizon, n_targets)``; the
scorers in :mod:`jointdist.metrics` compare them.
"""

from sklearn.exceptions import NotFittedError

from jointdist.base import BaseJointForecaster
from jointdist.device import resolve_device
from jointdist.models import DCCGarchForecaster, HistoricalSimulation

__version__ = "0.1.0.dev0"

__all__ = [
    "BaseJointForecaster",
    "DCCGarchForecaster",
    "DiffusionCopulaForecaster",
    "HistoricalSimulation",
    "JointFMForecaster",
    "NotFittedError",
    "resolve_device",
    "__version__",
]


def __getattr__(name):
    # the torch forecasters are imported on first use (see jointdist.models)
    if name in ("DiffusionCopulaForecaster", "JointFMForecaster"):
        from jointdist import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
