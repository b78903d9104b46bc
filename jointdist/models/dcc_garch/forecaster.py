"""DCCGarchForecaster: GARCH(1,1) marginals joined by dynamic conditional correlation."""

from __future__ import annotations

import numbers
import warnings
from contextlib import nullcontext

import numpy as np
import pandas as pd

from jointdist.base import BaseJointForecaster
from jointdist.models.dcc_garch.dcc import (
    correlation_from_q,
    draw_correlated_shocks,
    fit_dcc,
)
from jointdist.models.dcc_garch.univariate import DISTRIBUTIONS, MEANS, fit_garch

__all__ = ["DCCGarchForecaster", "MAX_FIT_BYTES", "MAX_OUTPUT_BYTES"]

#: Fewest increments a fit accepts (and more than the number of targets).
MIN_INCREMENTS = 10
#: Below this many increments the fit works but warns that the estimates are unreliable.
RELIABLE_INCREMENTS = 100

# ---------------------------------------------------------------- work budget
#: Largest memory ``fit`` may hold for the correlation path: the ``(T + 1, N, N)``
#: float64 arrays ``Q[t]`` and ``R[t]`` (``conditional_correlation_``), about
#: ``2 (T + 1) N^2 8`` bytes.  A larger fit is refused with a ``ValueError`` before any
#: work; the limit can be raised by assigning a new value to this module attribute.
MAX_FIT_BYTES = 4 * 2**30
#: Largest array ``predict_samples`` may return, ``n_samples * horizon * N * 8`` bytes;
#: above it the call is refused with a ``ValueError`` before any work.
MAX_OUTPUT_BYTES = 4 * 2**30
#: Paths are simulated in batches whose ``(batch, N, N)`` correlation state stays under
#: this many bytes, so the working memory does not grow with ``n_samples``.
_SIMULATION_BATCH_BYTES = 64 * 2**20
#: With ``verbose="auto"`` progress bars appear when a call is expected to take longer.
PROGRESS_AFTER_SECONDS = 5.0
#: Rough costs used for that expectation, measured on a 2-core machine (2026-12-01,
#: CPU time): one arch GARCH(1,1) fit, the stage-2 likelihood evaluations of a fit,
#: and the flop rate of the batched Cholesky factorizations that dominate both stage 2
#: and the simulation.
_SECONDS_PER_GARCH_FIT = 0.04
_LIKELIHOOD_EVALUATIONS = 50
_CHOLESKY_FLOPS_PER_SECOND = 3e9


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


class DCCGarchForecaster(BaseJointForecaster):
    """DCC-GARCH(1,1) forecaster (Engle 2002), estimated in two steps.

    Stage 1 fits a univariate GARCH(1,1) -- GJR-GARCH with ``asymmetric=True`` -- to
    the increments of each target with the ``arch`` package, on the series divided by
    its standard deviation (the factor is kept in ``scale_`` and undone everywhere).
    Stage 2 fits DCC(1,1) to the standardized residuals ``e[t]`` by quasi-maximum
    likelihood with correlation targeting::

        Q[t] = (1 - a - b) Qbar + a e[t-1] e[t-1]' + b Q[t-1]
        R[t] = diag(Q[t])^{-1/2} Q[t] diag(Q[t])^{-1/2}
        r[t] = mu + D[t] R[t]^{1/2} z[t],   D[t] = diag(sigma[t])

    ``predict_samples`` simulates this joint recursion forward: at every step each path
    draws correlated shocks from its own ``R``, then updates its own GARCH variances
    and its own ``Q``, so volatility and correlation both evolve along each path.
    The sampled increments are cumulated back to levels by the base class.

    Parameters
    ----------
    returns : {"diff", "log", "pct"} or None, default="diff"
        Increments the model is fitted on; paths are cumulated back to levels from the
        last observation.  None when ``y`` already holds returns.
    mean : {"constant", "zero"}, default="constant"
        Mean of the increments of each target.
    dist : {"normal", "t"}, default="normal"
        Innovation distribution of the univariate GARCH fits (stage 1).
    dcc_dist : {"normal", "t"} or None, default=None
        Joint distribution of the standardized shocks, used in stage 2 and in
        simulation: multivariate normal, or multivariate Student-t with unit variances
        and ``nu`` estimated in stage 2.  None follows ``dist``.  As in rmgarch, the
        joint distribution (not the stage-1 one) drives the simulated shocks, so with
        ``dist="t", dcc_dist="normal"`` the Student-t only robustifies the stage-1
        estimates.
    asymmetric : bool, default=False
        Add the GJR leverage term ``gamma 1{eps < 0} eps^2`` to each variance equation.
    constant_increments : {"raise", "deterministic"}, default="raise"
        What to do with a target whose increments never vary (a constant series, or a
        straight line under ``returns="diff"``), for which a GARCH model is undefined:
        raise a ``ValueError``, or continue it deterministically (zero volatility, no
        correlation with the others, listed in ``deterministic_targets_``) while the
        other targets get the DCC-GARCH model.
    random_state : int, numpy.random.Generator or None, default=None
        Seed used by ``predict_samples`` when it is called without one.
    n_jobs : int or None, default=None
        Number of joblib workers (processes) for the univariate GARCH fits of stage 1;
        None means 1, -1 all CPUs.  The result does not depend on it.
    verbose : bool or "auto", default="auto"
        Show tqdm progress bars (stage 1 per target, stage 2 per likelihood evaluation,
        simulation per step): always (True), never (False), or only for calls expected
        to take more than ``PROGRESS_AFTER_SECONDS`` (5 s) ("auto"; a fit on 200
        targets and 504 rows, or a simulation of 1000 paths of 200 targets, is one).

    Attributes
    ----------
    deterministic_targets_ : ndarray of bool of shape (n_targets,)
        Targets continued deterministically (see ``constant_increments``); their rows
        of the attributes below hold zero volatility, zero residuals, identity
        correlation and a NaN log-likelihood.
    garch_params_ : pandas.DataFrame of shape (n_targets, n_params)
        Stage-1 parameters per target (rows named like the targets), in the units of
        the increments: ``mu``, ``omega``, ``alpha``, ``gamma`` (only if
        ``asymmetric``), ``beta``, ``nu`` (only if ``dist="t"``).
    garch_results_ : list of arch ARCHModelResult
        arch's results per target, fitted on the increments divided by ``scale_``.
    scale_ : ndarray of shape (n_targets,)
        Standard deviation each series of increments was divided by before stage 1.
    dcc_params_ : pandas.Series
        ``a`` and ``b`` (and ``nu`` if ``dcc_dist_ == "t"``).
    dcc_dist_ : str
        The resolved joint distribution, ``"normal"`` or ``"t"``.
    dcc_converged_ : bool
        False when the DCC optimizer failed and the model fell back to constant
        conditional correlation (a ``ConvergenceWarning`` was emitted).
    qbar_ : ndarray of shape (n_targets, n_targets)
        Sample correlation of the standardized residuals.
    loglikelihood_ : float
        Log-likelihood of the increments under the fitted joint model (the one
        ``predict_samples`` simulates); for Gaussian shocks it equals
        ``garch_loglikelihood_.sum() + dcc_loglikelihood_`` when ``dist="normal"``
        (Engle 2002: ``L = L_V + L_C``).
    garch_loglikelihood_ : pandas.Series
        Stage-1 log-likelihood per target, in the units of the increments.
    dcc_loglikelihood_ : float
        Stage-2 objective at the estimate: the correlation part ``L_C`` (normal) or
        the multivariate-t log-density of the standardized residuals (t).
    ccc_loglikelihood_ : float
        The stage-2 objective for constant conditional correlation (``a = b = 0``).
    conditional_volatility_ : ndarray of shape (n_increments, n_targets)
        ``sigma[t]`` over the history, in the units of the increments.
    conditional_correlation_ : ndarray of shape (n_increments, n_targets, n_targets)
        ``R[t]`` over the history.
    standardized_residuals_ : ndarray of shape (n_increments, n_targets)
        ``e[t] = (r[t] - mu) / sigma[t]``.
    next_volatility_ : ndarray of shape (n_targets,)
        One-step-ahead ``sigma[T+1]``, in the units of the increments.
    next_correlation_ : ndarray of shape (n_targets, n_targets)
        One-step-ahead ``R[T+1]``.
    next_covariance_ : ndarray of shape (n_targets, n_targets)
        One-step-ahead conditional covariance of the increments,
        ``H[T+1] = D[T+1] R[T+1] D[T+1]``.

    Notes
    -----
    The two-step estimator is consistent but not efficient, and its standard errors
    (not computed here) need the correction of Engle & Sheppard (2001).  The GARCH
    and DCC orders are fixed at (1,1) and the means are constant; see
    ``docs/models/dcc_garch.md`` for the equations and the limits.

    Cost: a fit takes ``N`` arch fits and about 50 evaluations of the stage-2
    likelihood, each one Cholesky factorization of an ``N x N`` matrix per time step
    (``T N^3 / 3`` flops), and stores ``(T + 1, N, N)`` arrays (refused above
    ``MAX_FIT_BYTES``, 4 GiB); a simulation factorizes one matrix per path and step
    (``n_samples * horizon * N^3 / 3`` flops) and returns
    ``n_samples * horizon * N * 8`` bytes (refused above ``MAX_OUTPUT_BYTES``, 4 GiB).
    Both run with BLAS held to one thread and can be interrupted (Ctrl-C) at any time.

    References
    ----------
    Engle, R. (2002). Dynamic conditional correlation: a simple class of multivariate
    generalized autoregressive conditional heteroskedasticity models. Journal of
    Business & Economic Statistics, 20(3), 339-350.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist.models.dcc_garch import DCCGarchForecaster
    >>> rng = np.random.default_rng(0)
    >>> y = np.cumsum(rng.standard_normal((400, 3)) @ [[1, .5, .2], [0, 1, .3], [0, 0, 1]],
    ...               axis=0)
    >>> model = DCCGarchForecaster(random_state=0).fit(y)
    >>> sorted(model.dcc_params_.index)
    ['a', 'b']
    >>> model.predict_samples(horizon=5, n_samples=100).shape
    (100, 5, 3)
    """

    def __init__(self, *, returns="diff", mean="constant", dist="normal", dcc_dist=None,
                 asymmetric=False, constant_increments="raise", random_state=None,
                 n_jobs=None, verbose="auto"):
        self.returns = returns
        self.mean = mean
        self.dist = dist
        self.dcc_dist = dcc_dist
        self.asymmetric = asymmetric
        self.constant_increments = constant_increments
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ---------------------------------------------------------------- validation
    def _check_params(self) -> None:
        if self.mean not in MEANS:
            raise ValueError(f"mean must be one of {tuple(MEANS)}; got {self.mean!r}.")
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(f"dist must be one of {tuple(DISTRIBUTIONS)}; got {self.dist!r}.")
        if self.dcc_dist is not None and self.dcc_dist not in DISTRIBUTIONS:
            raise ValueError(f"dcc_dist must be None or one of {tuple(DISTRIBUTIONS)}; got "
                             f"{self.dcc_dist!r}.")
        if not isinstance(self.asymmetric, (bool, np.bool_)):
            raise ValueError(f"asymmetric must be a bool; got {self.asymmetric!r}.")
        if self.constant_increments not in ("raise", "deterministic"):
            raise ValueError("constant_increments must be 'raise' or 'deterministic'; got "
                             f"{self.constant_increments!r}.")
        if self.n_jobs is not None and (not isinstance(self.n_jobs, numbers.Integral)
                                        or isinstance(self.n_jobs, bool) or self.n_jobs == 0):
            raise ValueError(f"n_jobs must be None or a non-zero int; got {self.n_jobs!r}.")
        if not (self.verbose == "auto" or isinstance(self.verbose, (bool, np.bool_))):
            raise ValueError(f"verbose must be True, False or 'auto'; got {self.verbose!r}.")

    def _show_progress(self, expected_seconds: float) -> bool:
        if self.verbose == "auto":
            return expected_seconds > PROGRESS_AFTER_SECONDS
        return bool(self.verbose)

    def _min_history_length(self, n_targets: int) -> int:
        self._check_params()
        return max(MIN_INCREMENTS, n_targets + 2) + (0 if self.returns is None else 1)

    # ---------------------------------------------------------------- fit
    def _fit(self, y, X):
        self._check_params()
        increments = self._history_increments(y)
        n_obs, n_targets = increments.shape  # the base checked the length (_min_history_length)
        if n_obs < RELIABLE_INCREMENTS:
            warnings.warn(f"DCCGarchForecaster fitted on {n_obs} increments: GARCH and DCC "
                          f"estimates from fewer than {RELIABLE_INCREMENTS} are unreliable.",
                          UserWarning, stacklevel=3)
        names = list(self.columns_) if self.columns_ is not None else list(range(n_targets))
        self.dcc_dist_ = self.dcc_dist if self.dcc_dist is not None else self.dist

        # Targets whose increments never vary (a constant series, a straight line) have
        # no GARCH model: refuse them, or continue them deterministically.
        constant = self._constant_increment_targets(y, increments)
        if constant.any() and self.constant_increments == "raise":
            raise ValueError(f"The increments of target {names[int(np.argmax(constant))]!r} "
                             "are constant; a GARCH model needs a series that varies. Drop "
                             "it, or pass constant_increments='deterministic' to continue "
                             "such targets without noise.")
        self.deterministic_targets_ = constant
        self._deterministic_increment = increments[0, constant].copy()
        stochastic = ~constant
        if stochastic.sum() == 0:
            self._fit_all_deterministic(names, n_obs)
            return self
        self._check_fit_budget(n_obs, int(stochastic.sum()), n_targets)
        self._fit_stochastic(increments[:, stochastic],
                             [n for n, keep in zip(names, stochastic) if keep])
        if constant.any():
            self._embed_deterministic(names, n_obs)
        return self

    def _check_fit_budget(self, n_obs, n_stochastic, n_targets):
        """Refuse a fit whose correlation path would not fit in ``MAX_FIT_BYTES``."""
        path_bytes = 2.0 * (n_obs + 1) * n_stochastic**2 * 8
        if n_stochastic < n_targets:  # the paths are grown to all targets afterwards
            path_bytes += 2.0 * n_obs * n_targets**2 * 8
        if path_bytes > MAX_FIT_BYTES:
            raise ValueError(
                f"DCCGarchForecaster.fit on {n_targets} targets and {n_obs} increments "
                f"would hold {_gib(path_bytes)} of conditional correlations (Q[t] and "
                f"R[t], arrays of shape ({n_obs + 1}, {n_stochastic}, {n_stochastic})), "
                f"above the limit of {_gib(MAX_FIT_BYTES)} (MAX_FIT_BYTES in "
                "jointdist.models.dcc_garch.forecaster). Fit fewer targets or a shorter "
                "history (memory grows as T N^2, time as T N^3), or raise the limit if "
                "the memory is there.")

    def _expected_fit_seconds(self, n_obs, n_targets):
        stage2 = _LIKELIHOOD_EVALUATIONS * n_obs * n_targets**3 / 3 / _CHOLESKY_FLOPS_PER_SECOND
        return n_targets * _SECONDS_PER_GARCH_FIT + stage2

    def _fit_stochastic(self, increments, names):
        """Stage 1 and stage 2 on targets whose increments vary."""
        n_obs, n_targets = increments.shape
        show = self._show_progress(self._expected_fit_seconds(n_obs, n_targets))
        # Stage 1: one arch GARCH(1,1) per target, on unit-variance data.
        fits = self._fit_garch_all(increments, names, show)
        self.scale_ = np.array([f.scale for f in fits])
        self.garch_results_ = [f.result for f in fits]
        self.garch_params_ = pd.DataFrame([f.params_in_data_units() for f in fits],
                                          index=pd.Index(names), columns=self._param_names())
        self.garch_loglikelihood_ = pd.Series(
            [f.loglikelihood - n_obs * np.log(f.scale) for f in fits], index=pd.Index(names),
            name="loglikelihood")
        sigma = np.column_stack([f.conditional_volatility for f in fits])  # standardized units
        e = np.column_stack([f.std_resid for f in fits])
        self.conditional_volatility_ = sigma * self.scale_
        self.standardized_residuals_ = e

        # Stage 2: DCC(1,1) on the standardized residuals.
        dcc = fit_dcc(e, dist=self.dcc_dist_, progress=show)
        params = {"a": dcc.a, "b": dcc.b}
        if self.dcc_dist_ == "t":
            params["nu"] = dcc.nu
        self.dcc_params_ = pd.Series(params, name="dcc_params")
        self.dcc_converged_ = dcc.converged
        self.qbar_ = dcc.qbar
        self.dcc_loglikelihood_ = dcc.loglikelihood
        self.ccc_loglikelihood_ = dcc.ccc_loglikelihood
        correlation = correlation_from_q(dcc.q)
        self.conditional_correlation_ = correlation[:-1]
        self.next_correlation_ = correlation[-1]

        # Joint log-likelihood: log-density of e[t] given R[t], minus sum log sigma[t]
        # (the Jacobian of r -> e), in the units of the increments.
        log_jacobian = np.log(self.conditional_volatility_).sum()
        if self.dcc_dist_ == "normal":
            # L_C + sum of standard normal log-densities (Engle 2002: L = L_V + L_C)
            joint = dcc.loglikelihood - 0.5 * (np.log(2 * np.pi) * e.size + np.sum(e**2))
        else:
            joint = dcc.loglikelihood
        self.loglikelihood_ = float(joint - log_jacobian)

        # State for simulation, in standardized units (x / scale).
        self._garch_state = {
            key: np.array([f.params[key] for f in fits])
            for key in ("mu", "omega", "alpha", "gamma", "beta")
        }
        self._sigma2_next = np.array([f.sigma2_next for f in fits])
        self._q_next = dcc.q[-1]
        self._q_bar_fit = dcc.qbar  # the recursion's target, on the stochastic targets
        self.next_volatility_ = np.sqrt(self._sigma2_next) * self.scale_
        self.next_covariance_ = (self.next_correlation_ * self.next_volatility_[:, None]
                                 * self.next_volatility_[None, :])

    def _fit_garch_all(self, increments, names, show):
        """Stage 1 for every column, in joblib workers when ``n_jobs`` asks for it.

        Warnings are recorded in the workers and raised again here, so that they reach
        the caller whatever ``n_jobs`` (joblib's processes do not forward them).
        """
        kwargs = {"mean": self.mean, "dist": self.dist, "asymmetric": self.asymmetric}
        columns = range(increments.shape[1])
        if self.n_jobs is None or self.n_jobs == 1:
            results = (_fit_garch_recording(increments[:, i], names[i], kwargs)
                       for i in columns)
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=self.n_jobs, return_as="generator")(
                delayed(_fit_garch_recording)(increments[:, i], names[i], kwargs)
                for i in columns)
        if show:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(columns), desc="DCC stage 1 (GARCH fits)",
                           unit="target", leave=False)
        fits = []
        for fit, caught in results:
            for w in caught:
                warnings.warn(w.message, w.category, stacklevel=5)
            fits.append(fit)
        return fits

    def _param_names(self) -> list[str]:
        columns = ["mu", "omega", "alpha"] + (["gamma"] if self.asymmetric else []) + ["beta"]
        return columns + (["nu"] if self.dist == "t" else [])

    def _embed_deterministic(self, names, n_obs):
        """Grow the fitted attributes to all targets: deterministic ones have zero
        volatility, zero residuals and no correlation with anything."""
        keep = ~self.deterministic_targets_
        n = keep.size

        def vector(sub, fill):
            out = np.full(sub.shape[:-1] + (n,), fill, dtype=np.float64)
            out[..., keep] = sub
            return out

        def matrix(sub):
            out = np.broadcast_to(np.eye(n), sub.shape[:-2] + (n, n)).copy()
            out[..., np.ix_(keep, keep)[0], np.ix_(keep, keep)[1]] = sub
            return out

        params = pd.DataFrame(0.0, index=pd.Index(names), columns=self._param_names())
        params.loc[self.garch_params_.index] = self.garch_params_
        fixed = [nm for nm, c in zip(names, self.deterministic_targets_) if c]
        params.loc[fixed, "mu"] = self._deterministic_increment
        if "nu" in params:
            params.loc[fixed, "nu"] = np.nan
        self.garch_params_ = params
        ll = pd.Series(np.nan, index=pd.Index(names), name="loglikelihood")
        ll.loc[self.garch_loglikelihood_.index] = self.garch_loglikelihood_
        self.garch_loglikelihood_ = ll
        self.scale_ = vector(self.scale_, 1.0)
        self.conditional_volatility_ = vector(self.conditional_volatility_, 0.0)
        self.standardized_residuals_ = vector(self.standardized_residuals_, 0.0)
        self.next_volatility_ = vector(self.next_volatility_, 0.0)
        self.qbar_ = matrix(self.qbar_)
        self.conditional_correlation_ = matrix(self.conditional_correlation_)
        self.next_correlation_ = matrix(self.next_correlation_)
        self.next_covariance_ = (self.next_correlation_ * self.next_volatility_[:, None]
                                 * self.next_volatility_[None, :])

    def _fit_all_deterministic(self, names, n_obs):
        n = len(names)
        self.garch_results_ = []
        params = pd.DataFrame(0.0, index=pd.Index(names), columns=self._param_names())
        params["mu"] = self._deterministic_increment
        if "nu" in params:
            params["nu"] = np.nan
        self.garch_params_ = params
        self.garch_loglikelihood_ = pd.Series(np.nan, index=pd.Index(names),
                                              name="loglikelihood")
        self.scale_ = np.ones(n)
        self.conditional_volatility_ = np.zeros((n_obs, n))
        self.standardized_residuals_ = np.zeros((n_obs, n))
        self.dcc_params_ = pd.Series({"a": 0.0, "b": 0.0}, name="dcc_params")
        self.dcc_converged_ = True
        self.qbar_ = np.eye(n)
        self.dcc_loglikelihood_ = self.ccc_loglikelihood_ = self.loglikelihood_ = np.nan
        self.conditional_correlation_ = np.broadcast_to(np.eye(n), (n_obs, n, n)).copy()
        self.next_correlation_ = np.eye(n)
        self.next_volatility_ = np.zeros(n)
        self.next_covariance_ = np.zeros((n, n))

    # ---------------------------------------------------------------- sampling
    def _predict_samples(self, horizon, n_samples, rng):
        constant = self.deterministic_targets_
        out_bytes = 8.0 * n_samples * horizon * self.n_targets_
        if out_bytes > MAX_OUTPUT_BYTES:
            raise ValueError(
                f"predict_samples(horizon={horizon}, n_samples={n_samples}) on "
                f"{self.n_targets_} targets would return {_gib(out_bytes)} "
                f"(n_samples * horizon * n_targets float64 values), above the limit of "
                f"{_gib(MAX_OUTPUT_BYTES)} (MAX_OUTPUT_BYTES in "
                "jointdist.models.dcc_garch.forecaster). Lower n_samples or horizon (or "
                "draw several smaller batches with different random_state), or raise the "
                "limit if the memory is there.")
        out = np.empty((n_samples, horizon, self.n_targets_))
        out[:, :, constant] = self._deterministic_increment
        if not constant.all():
            out[:, :, ~constant] = self._simulate_stochastic(horizon, n_samples, rng)
        return out

    def _simulate_stochastic(self, horizon, n_samples, rng):
        """Joint GARCH + DCC recursion of the targets whose increments vary.

        Paths are independent, so they are simulated in batches whose ``(batch, N, N)``
        state stays under ``_SIMULATION_BATCH_BYTES`` (one batch for up to about 10^5
        paths of 10 targets), one step at a time, vectorized over the batch.
        """
        from threadpoolctl import threadpool_limits

        keep = ~self.deterministic_targets_
        n_targets = int(keep.sum())
        out = np.empty((n_samples, horizon, n_targets))
        batch = int(max(1, _SIMULATION_BATCH_BYTES // (8 * n_targets**2)))
        starts = range(0, n_samples, batch)
        expected = horizon * n_samples * n_targets**3 / 3 / _CHOLESKY_FLOPS_PER_SECOND
        bar = nullcontext(None)
        if self._show_progress(expected):
            from tqdm.auto import tqdm

            bar = tqdm(total=len(starts) * horizon, desc="DCC-GARCH simulation",
                       unit="step", leave=False)
        with threadpool_limits(limits=1, user_api="blas"), bar as progress:
            for start in starts:
                stop = min(start + batch, n_samples)
                self._simulate_batch(out[start:stop], rng, progress)
        out *= self.scale_[keep]
        if not np.all(np.isfinite(out)):  # pragma: no cover - guarded above; fail loudly
            raise FloatingPointError("DCC-GARCH simulation produced non-finite values; "
                                     "the fitted model is degenerate (check dcc_params_ "
                                     "and garch_params_).")
        return out

    def _simulate_batch(self, out, rng, progress):
        """Fill ``out`` (n_paths, horizon, N) with standardized-unit increments."""
        p = self._garch_state
        a, b = float(self.dcc_params_["a"]), float(self.dcc_params_["b"])
        nu = float(self.dcc_params_["nu"]) if self.dcc_dist_ == "t" else None
        keep = ~self.deterministic_targets_
        qbar = self._q_bar_fit
        n_paths, horizon, n_targets = out.shape
        sigma2 = np.broadcast_to(self._sigma2_next, (n_paths, n_targets))
        q = self._q_next  # the same for all paths at the first step
        r = self.next_correlation_[np.ix_(keep, keep)]
        for h in range(horizon):  # sequential in time, vectorized over paths
            z = draw_correlated_shocks(r, n_paths, rng, dist=self.dcc_dist_, nu=nu)
            eps = np.sqrt(sigma2) * z
            out[:, h] = p["mu"] + eps
            if h + 1 < horizon:
                # GARCH variance and DCC Q recursions, one per path (docs eqs. (2)-(3))
                alpha = p["alpha"] + p["gamma"] * (eps < 0)
                sigma2 = p["omega"] + alpha * eps**2 + p["beta"] * sigma2
                q = ((1.0 - a - b) * qbar + a * (z[:, :, None] * z[:, None, :]) + b * q)
                r = correlation_from_q(q)
            if progress is not None:
                progress.update()


def _fit_garch_recording(x, name, kwargs):
    """:func:`fit_garch` and the warnings it emitted (for joblib workers)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_garch(x, name=name, **kwargs)
    return fit, caught
