"""jointdist: forecasting the joint probability distribution of coupled time series.

Forecasters share one interface (``fit(y)``, ``predict_samples(horizon, n_samples)``)
and return coherent sample paths of shape ``(n_samples, horizon, n_targets)``; the
scorers in :mod:`jointdist.metrics` compare them.
"""

# Every name below is imported on first use (PEP 562 module __getattr__), so that
# ``import jointdist`` and the ``jointdist`` command (``jointdist --help``) do not pay for
# importing scikit-learn, pandas, scipy, torch or arch before a command needs them.
from jointdist._lazy import lazy_exports

__version__ = "0.1.0.dev0"

__all__ = [
    "BaseJointForecaster",
    "CopulaCoupledForecaster",
    "DCCGarchForecaster",
    "DiffusionCopulaForecaster",
    "HistoricalSimulation",
    "JointFMForecaster",
    "NotFittedError",
    "resolve_device",
    "__version__",
]

#: Names exported lazily, and the module each comes from.
_LAZY = {
    "BaseJointForecaster": "jointdist.base",
    "CopulaCoupledForecaster": "jointdist.models",
    "DCCGarchForecaster": "jointdist.models",
    "DiffusionCopulaForecaster": "jointdist.models",
    "HistoricalSimulation": "jointdist.models",
    "JointFMForecaster": "jointdist.models",
    "NotFittedError": "sklearn.exceptions",
    "resolve_device": "jointdist.device",
}

#: Subpackages reachable as attributes (``jointdist.metrics``) without an import.
_SUBMODULES = ("base", "cli", "datasets", "device", "evaluation", "metrics",
               "model_selection", "models", "plotting", "sktime")


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, _SUBMODULES)
