"""DCC-GARCH(1,1): univariate GARCH marginals (arch) joined by dynamic conditional
correlation (Engle 2002), estimated in two steps and simulated jointly.

:class:`DCCGarchForecaster` is the forecaster; :mod:`.univariate` (stage 1, arch) and
:mod:`.dcc` (stage 2: the ``Q`` recursion, its likelihood and estimator, correlated
shocks) hold the pieces it is built from.
"""

from jointdist.models.dcc_garch.dcc import DCCFit, dcc_loglikelihood, fit_dcc
from jointdist.models.dcc_garch.forecaster import DCCGarchForecaster
from jointdist.models.dcc_garch.univariate import GarchFit, fit_garch

__all__ = ["DCCFit", "DCCGarchForecaster", "GarchFit", "dcc_loglikelihood", "fit_dcc",
           "fit_garch"]
