"""The forecasters of jointdist, all following :class:`jointdist.base.BaseJointForecaster`."""

from jointdist.models.dcc_garch import DCCGarchForecaster
from jointdist.models.diffusion_copula import DiffusionCopulaForecaster
from jointdist.models.historical import HistoricalSimulation
from jointdist.models.jointfm import JointFMForecaster

__all__ = ["DCCGarchForecaster", "DiffusionCopulaForecaster", "HistoricalSimulation",
           "JointFMForecaster"]
