"""The forecasters of jointdist, all following :class:`jointdist.base.BaseJointForecaster`."""

from jointdist.models.historical import HistoricalSimulation

__all__ = ["HistoricalSimulation"]
