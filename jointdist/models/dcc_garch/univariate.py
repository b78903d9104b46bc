"""Stage 1 of DCC-GARCH: one univariate GARCH(1,1) per series, fitted with ``arch``.

Each series is divided by its sample standard deviation before it is handed to
:func:`arch.univariate.arch_model` (with ``rescale=False``), so that the optimizer always
sees data of unit variance.  GARCH(1,1) is scale-equivariant -- if ``x`` has parameters
``(mu, omega, alpha, gamma, beta)`` then ``c x`` has ``(c mu, c^2 omega, alpha, gamma,
beta)`` and the same standardized residuals -- so nothing is lost; :func:`fit_garch`
keeps the factor and reports the parameters in the units of the data.

The variance recursion is (Bollerslev 1986; Glosten, Jagannathan & Runkle 1993 with
``gamma``)::

    r[t]      = mu + eps[t],           eps[t] = sigma[t] z[t]
    sigma2[t] = omega + (alpha + gamma 1{eps[t-1] < 0}) eps[t-1]^2 + beta sigma2[t-1]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from jointdist.base import CONSTANT_TOLERANCE, is_constant

__all__ = ["CONSTANT_TOLERANCE", "DISTRIBUTIONS", "GarchFit", "MEANS", "fit_garch",
           "garch_variance_step", "is_constant"]

#: Mean models (jointdist name -> arch name).
MEANS = {"constant": "Constant", "zero": "Zero"}
#: Innovation distributions of the univariate stage (jointdist name -> arch name).
DISTRIBUTIONS = {"normal": "normal", "t": "t"}
#: arch's parameter names -> ours.
_PARAM_NAMES = {"mu": "mu", "omega": "omega", "alpha[1]": "alpha", "gamma[1]": "gamma",
                "beta[1]": "beta", "nu": "nu"}


@dataclass
class GarchFit:
    """A fitted univariate GARCH(1,1), in the *standardized* units ``x / scale``.

    Attributes
    ----------
    params : dict
        ``mu`` (0 for a zero mean), ``omega``, ``alpha``, ``gamma`` (0 without
        asymmetry), ``beta`` and, for Student-t innovations, ``nu``.
    scale : float
        The sample standard deviation the series was divided by.
    conditional_volatility : ndarray of shape (T,)
        ``sigma[t]`` over the sample (standardized units).
    std_resid : ndarray of shape (T,)
        ``z[t] = eps[t] / sigma[t]``.
    loglikelihood : float
        arch's log-likelihood of the *standardized* series.
    sigma2_next : float
        One-step-ahead variance ``sigma2[T+1]`` (standardized units).
    eps_last : float
        Last residual ``eps[T]`` (standardized units).
    converged : bool
        Whether arch's optimizer reported success.
    result : arch.univariate.base.ARCHModelResult
        arch's own results object, for its summary and diagnostics.
    """

    params: dict
    scale: float
    conditional_volatility: np.ndarray
    std_resid: np.ndarray
    loglikelihood: float
    sigma2_next: float
    eps_last: float
    converged: bool
    result: Any

    def params_in_data_units(self) -> dict:
        """Parameters for the unscaled series: ``mu * scale``, ``omega * scale**2``."""
        out = dict(self.params)
        out["mu"] = self.params["mu"] * self.scale
        out["omega"] = self.params["omega"] * self.scale**2
        return out


def build_arch_model(x: np.ndarray, *, mean: str = "constant", dist: str = "normal",
                     asymmetric: bool = False):
    """The arch model used by :func:`fit_garch`, for a series already rescaled.

    Exposed so that tests and users can fit "arch's own" model on the same data.
    """
    from jointdist._optional import import_optional

    arch_model = import_optional("arch.univariate", extra="garch",
                                 needed_by="DCCGarchForecaster").arch_model
    return arch_model(x, mean=MEANS[mean], vol="GARCH", p=1, o=int(bool(asymmetric)), q=1,
                      dist=DISTRIBUTIONS[dist], rescale=False)


def fit_garch(x: np.ndarray, *, mean: str = "constant", dist: str = "normal",
              asymmetric: bool = False, name: Any = 0) -> GarchFit:
    """Fit a GARCH(1,1) (GJR if ``asymmetric``) to one series of increments.

    Parameters
    ----------
    x : ndarray of shape (T,)
        Increments (returns) of one target.
    mean : {"constant", "zero"}
    dist : {"normal", "t"}
    asymmetric : bool
        Add the GJR term ``gamma 1{eps < 0} eps^2``.
    name : hashable
        Name of the series, used in error and warning messages.

    Returns
    -------
    GarchFit

    Raises
    ------
    ValueError
        If the series is constant (a GARCH model of it is undefined).
    """
    x = np.asarray(x, dtype=np.float64)
    if is_constant(x):
        raise ValueError(f"The increments of target {name!r} are constant; a GARCH model "
                         "needs a series that varies. Drop it or model it separately.")
    peak = float(np.max(np.abs(x)))
    scale = float(np.std(x / peak)) * peak  # np.std(x) underflows to 0 below ~1e-154
    model = build_arch_model(x / scale, mean=mean, dist=dist, asymmetric=asymmetric)
    with warnings.catch_warnings():
        # arch warns through its own ConvergenceWarning; we report it once, below.
        warnings.simplefilter("ignore")
        res = model.fit(disp="off", show_warning=False)
    converged = res.convergence_flag == 0
    if not converged:
        warnings.warn(f"arch's optimizer did not converge for target {name!r} "
                      f"({res.optimization_result.message}); its GARCH parameters may be "
                      "unreliable.", ConvergenceWarning, stacklevel=3)
    params = {"mu": 0.0, "gamma": 0.0}
    for arch_name, value in res.params.items():
        params[_PARAM_NAMES[arch_name]] = float(value)
    sigma = np.asarray(res.conditional_volatility, dtype=np.float64)
    resid = np.asarray(res.resid, dtype=np.float64)
    eps_last = float(resid[-1])
    sigma2_next = float(garch_variance_step(params, np.array(eps_last),
                                            np.array(sigma[-1] ** 2)))
    return GarchFit(params=params, scale=scale, conditional_volatility=sigma,
                    std_resid=resid / sigma, loglikelihood=float(res.loglikelihood),
                    sigma2_next=sigma2_next, eps_last=eps_last, converged=converged,
                    result=res)


def garch_variance_step(params: dict, eps: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    """``omega + (alpha + gamma 1{eps < 0}) eps^2 + beta sigma2``, elementwise.

    ``params`` values may be scalars or arrays broadcasting against ``eps`` (one entry
    per series when ``eps`` has shape ``(n_paths, n_series)``).
    """
    alpha = params["alpha"] + params["gamma"] * (eps < 0)
    return params["omega"] + alpha * eps**2 + params["beta"] * sigma2
