"""The forecasters of jointdist, all following :class:`jointdist.base.BaseJointForecaster`."""

from jointdist.models.dcc_garch import DCCGarchForecaster
from jointdist.models.historical import HistoricalSimulation

__all__ = ["DCCGarchForecaster", "HistoricalSimulation"]
