"""The contract every jointdist forecaster shares.

A forecaster is fitted on a history ``y`` of shape ``(n_timesteps, n_targets)`` and
draws *joint sample paths* of the future: ``predict_samples(horizon, n_samples)`` returns
an array of shape ``(n_samples, horizon, n_targets)`` in the units of ``y``, where every
``samples[i]`` is one coherent scenario over the whole horizon.  Quantiles, intervals
and means are all derived from such samples, so they always agree with each other.

Subclasses implement two hooks, in the style of scikit-learn's mixture models:

``_fit(self, y, X)``
    Learn from the (validated, float64) history -- or from its increments, for models
    with a ``returns`` parameter (see :meth:`BaseJointForecaster._history_increments`).
``_predict_samples(self, horizon, n_samples, rng)``
    Return a new ``(n_samples, horizon, n_targets)`` array of samples (the base may
    overwrite it); increment models return increments, which the base cumulates into
    paths with :func:`levels_from_increments`.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "BaseJointForecaster",
    "CONSTANT_TOLERANCE",
    "RETURN_TYPES",
    "check_horizon",
    "check_n_samples",
    "check_positive_int",
    "check_random_state",
    "check_target_array",
    "extend_time_index",
    "is_constant",
    "increments_from_levels",
    "levels_from_increments",
    "sort_by_time",
]

#: Increment transforms understood by models with a ``returns`` parameter.
#: ``None`` means that ``y`` already holds increments (returns) and samples stay increments.
RETURN_TYPES = ("diff", "log", "pct", None)


# --------------------------------------------------------------------------------------
# Input validation shared by the forecasters, the metrics and the adapters.
# --------------------------------------------------------------------------------------
def check_target_array(y: Any, *, name: str = "y", allow_1d: bool = True) -> np.ndarray:
    """Validate a history or future block and return it as float64 ``(n_rows, n_targets)``.

    Parameters
    ----------
    y : array-like, pandas Series or DataFrame
        Values with time along axis 0 and targets along axis 1.  A 1-D input is one
        target.
    name : str, default="y"
        Name used in error messages.
    allow_1d : bool, default=True
        Whether a 1-D input is accepted (and reshaped to one column).

    Returns
    -------
    ndarray of shape (n_rows, n_targets)

    Raises
    ------
    ValueError
        If ``y`` is empty, not numeric, has the wrong number of dimensions or contains
        NaN or infinite values.
    """
    if isinstance(y, (pd.DataFrame, pd.Series)):
        frame = y.to_frame() if isinstance(y, pd.Series) else y
        non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise ValueError(f"{name} has non-numeric columns {non_numeric[:5]}; "
                             "pass only the numeric target columns.")
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        if hasattr(y, "detach") and hasattr(y, "cpu"):  # a torch tensor
            y = y.detach().cpu().numpy()
        try:
            values = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric; could not convert it to floats "
                             f"({exc}).") from exc
    if values.ndim == 1:
        if not allow_1d:
            raise ValueError(f"{name} must be 2-D (n_timesteps, n_targets); got 1-D.")
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D with shape (n_timesteps, n_targets); "
                         f"got an array with {values.ndim} dimensions, shape {values.shape}.")
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {values.shape}).")
    finite = np.isfinite(values)
    if not finite.all():
        rows, cols = np.nonzero(~finite)
        raise ValueError(f"{name} contains {rows.size} NaN or infinite value(s), the first "
                         f"at row {rows[0]}, column {cols[0]}; fill or drop them first.")
    return values


def _is_time_index(index: pd.Index) -> bool:
    """Whether the labels of ``index`` are ordered points in time (or step numbers)."""
    if isinstance(index, pd.MultiIndex):
        return False
    if isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex, pd.TimedeltaIndex)):
        return True
    return pd.api.types.is_numeric_dtype(index.dtype) and not pd.api.types.is_bool_dtype(
        index.dtype)


def sort_by_time(y: Any, X: Any = None, *, name: str = "y") -> tuple[Any, Any]:
    """Put a pandas history in increasing time order, and ``X`` with it.

    Forecasters read the rows of ``y`` in order: the last row is where the paths start
    and consecutive rows make the increments.  A pandas ``y`` whose index holds time
    stamps (a DatetimeIndex, PeriodIndex, TimedeltaIndex or a numeric index of step
    numbers) is therefore sorted by it when it is not increasing, with a
    ``UserWarning``; arrays and other indexes are taken in the order given.

    ``X`` follows ``y``: a pandas ``X`` whose index holds the same labels as ``y``'s is
    aligned to ``y`` by label; any other ``X`` of the same length is taken as aligned
    by position with the ``y`` that was passed and gets the same reordering.

    Parameters
    ----------
    y : array-like, pandas Series or DataFrame
    X : array-like, pandas Series or DataFrame or None, default=None
    name : str, default="y"
        Name used in messages.

    Returns
    -------
    y, X
        Sorted copies when something had to be reordered, else the inputs.

    Raises
    ------
    ValueError
        If the time index has duplicate or missing (NaT/NaN) time stamps, or if ``X``
        and ``y`` both carry datetime/period indexes with different time stamps.
    """
    if not isinstance(y, (pd.Series, pd.DataFrame)) or not _is_time_index(y.index):
        return y, X
    index = y.index
    if index.hasnans:
        raise ValueError(f"{name}'s index has {int(index.isna().sum())} missing time "
                         "stamp(s) (NaT/NaN); every row needs a time stamp to be put in "
                         "order. Drop or fill those rows first.")
    if index.has_duplicates:
        duplicated = index[index.duplicated(keep=False)]
        examples = [str(t) for t in duplicated.unique()[:3]]
        raise ValueError(f"{name}'s index has {len(duplicated)} rows with duplicate time "
                         f"stamps (e.g. {', '.join(examples)}); a history needs one row per "
                         "time step. Aggregate them (e.g. y.groupby(level=0).last()) or "
                         "drop the duplicates first.")
    order = None
    if not index.is_monotonic_increasing:
        order = index.argsort(kind="stable")
        warnings.warn(f"{name}'s index is not in increasing time order: its {len(index)} "
                      "rows were sorted by time before fitting (pass y.sort_index() to "
                      "silence this warning).", UserWarning, stacklevel=3)
        y = y.iloc[order]
    if X is None:
        return y, X
    if isinstance(X, (pd.Series, pd.DataFrame)):
        same_labels = (len(X.index) == len(index) and not X.index.has_duplicates
                       and X.index.isin(index).all())
        if same_labels:
            return y, (X if X.index.equals(y.index) else X.loc[y.index])
        time_kinds = (pd.DatetimeIndex, pd.PeriodIndex)
        if isinstance(X.index, time_kinds) and isinstance(index, time_kinds):
            raise ValueError(f"X's index does not hold the same time stamps as {name}'s "
                             "(X must be observed at the times of y, one row per row of "
                             "y).")
        return y, (X if order is None else X.iloc[order])
    if order is not None:
        X_array = X.detach().cpu().numpy() if hasattr(X, "detach") else np.asarray(X)
        if X_array.ndim >= 1 and X_array.shape[0] == len(order):
            return y, X_array[order]
    return y, X


def check_horizon(horizon: Any) -> int:
    """Return ``horizon`` as a positive ``int`` or raise a ``ValueError``."""
    return check_positive_int(horizon, "horizon")


def check_n_samples(n_samples: Any) -> int:
    """Return ``n_samples`` as a positive ``int`` or raise a ``ValueError``."""
    return check_positive_int(n_samples, "n_samples")


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum`` (bools are not).

    Raises
    ------
    ValueError
        Naming ``name`` and what it must be.
    """
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or value < minimum):
        need = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {need}; got {value!r}.")
    return int(value)


def check_random_state(random_state: Any) -> np.random.Generator:
    """A numpy ``Generator`` from None, an int, a ``SeedSequence``, a ``Generator``
    (returned as is, so draws advance it) or a legacy ``RandomState``."""
    if isinstance(random_state, (bool, np.bool_)):
        raise ValueError(f"random_state must be None, an int or a numpy Generator; "
                         f"got {random_state!r}.")
    if random_state is None or isinstance(random_state, (numbers.Integral,
                                                          np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError("random_state must be None, an int, a numpy Generator, RandomState or "
                     f"SeedSequence; got {type(random_state).__name__}.")


# --------------------------------------------------------------------------------------
# Levels <-> increments.
# --------------------------------------------------------------------------------------
def _check_returns(returns: Any) -> None:
    if returns not in RETURN_TYPES:
        raise ValueError(f"returns must be one of {RETURN_TYPES}; got {returns!r}.")


def increments_from_levels(y: np.ndarray, returns: str | None) -> np.ndarray:
    """Turn levels ``(T, N)`` into increments ``(T - 1, N)``.

    ``"diff"`` gives ``y[t] - y[t-1]``, ``"log"`` gives ``log(y[t] / y[t-1])`` and
    ``"pct"`` gives ``y[t] / y[t-1] - 1``; the latter two need strictly positive levels.
    ``None`` returns ``y`` unchanged (it already holds increments).
    """
    _check_returns(returns)
    if returns is None:
        return y
    if returns in ("log", "pct") and not (y > 0).all():
        raise ValueError(f"returns={returns!r} needs strictly positive levels; y has "
                         f"{int((y <= 0).sum())} value(s) <= 0. Use returns='diff'.")
    if returns == "diff":
        return np.diff(y, axis=0)
    if returns == "log":
        return np.diff(np.log(y), axis=0)
    return y[1:] / y[:-1] - 1.0


def levels_from_increments(last: np.ndarray, increments: np.ndarray,
                           returns: str | None, *, overwrite: bool = False) -> np.ndarray:
    """Cumulate sampled increments ``(..., horizon, N)`` into paths starting at ``last``.

    The inverse of :func:`increments_from_levels`: the first step of every path is
    ``last`` moved by the first increment.  With ``returns=None`` the increments are
    returned as they are.  ``overwrite=True`` reuses the memory of a float64
    ``increments`` array (no copy of what can be a large sample array).
    """
    _check_returns(returns)
    if returns is None:
        return increments
    out = increments if overwrite and increments.dtype == np.float64 else None
    if returns == "pct":
        # clip at -1 so that a path cannot cross zero into negative prices
        growth = np.maximum(increments, -1.0, out=out)
        growth += 1.0
        paths = np.cumprod(growth, axis=-2, out=growth)
        paths *= last
        return paths
    paths = np.cumsum(increments, axis=-2, out=out)
    if returns == "log":
        np.exp(paths, out=paths)
        paths *= last
    else:
        paths += last
    return paths


#: Increments whose standard deviation is at most this many units of rounding
#: (machine epsilon times the series' level) are constant.  A difference of two rounded
#: values is off by at most ``eps * level``, so a straight line computed at any level
#: stays well inside the bound (its increments spread by at most about 2 units).
CONSTANT_TOLERANCE = 16.0


def is_constant(x: np.ndarray, level: float | None = None) -> bool:
    """Whether a series of increments is constant up to rounding (no model of its spread exists).

    The test is relative to the series' own magnitudes, never absolute: ``x`` is
    constant when ``std(x) <= CONSTANT_TOLERANCE * eps * max(level, max|x|)``, with
    ``eps`` the float64 machine epsilon.  A random walk with steps of ``1e-15`` is
    therefore a varying series, and a straight line at a level of ``1e12`` (whose
    differences carry rounding noise of about ``1e-4``) one with constant increments.

    Parameters
    ----------
    x : ndarray of shape (T,)
        Increments of one target.
    level : float, optional
        Magnitude of the values the increments were computed from (``max |y|`` for
        differences of levels ``y``), which sets the size of their rounding errors.
        By default ``max |x|`` (``x`` itself is the data).
    """
    x = np.asarray(x, dtype=np.float64)
    magnitude = float(np.max(np.abs(x))) if x.size else 0.0
    if not np.isfinite(magnitude):
        return True
    # std of x / max|x|, scaled back: np.std(x) itself underflows to 0 below ~1e-154
    spread = float(np.std(x / magnitude)) * magnitude if magnitude > 0 else 0.0
    if level is not None:
        magnitude = max(magnitude, abs(float(level)))
    return spread <= CONSTANT_TOLERANCE * np.finfo(np.float64).eps * magnitude


# --------------------------------------------------------------------------------------
# The base class.
# --------------------------------------------------------------------------------------
class BaseJointForecaster(BaseEstimator):
    """Base class of the jointdist forecasters.

    Subclasses store their hyper-parameters in ``__init__`` (nothing else), implement
    ``_fit`` and ``_predict_samples`` and may override ``_min_history_length``.  Models
    with a ``returns`` parameter work on increments and get their sample paths
    cumulated back to levels by the base class.  The attributes below are set by
    :meth:`fit`.

    Attributes
    ----------
    n_targets_ : int
        Number of target series seen in ``fit``.
    n_timesteps_ : int
        Number of rows of the history.
    columns_ : pandas.Index or None
        Column names when ``y`` was a pandas object, else None.
    index_ : pandas.Index or None
        Time index when ``y`` was a pandas object (increasing when it holds times,
        see :func:`sort_by_time`), else None.
    last_observation_ : ndarray of shape (n_targets,)
        Last row of ``y``: where sample paths of increment models start.
    """

    #: Whether ``fit`` accepts exogenous features ``X``.
    _accepts_exogenous = False

    # ---------------------------------------------------------------- hooks
    def _min_history_length(self, n_targets: int) -> int:
        """Smallest number of rows of ``y`` the model can be fitted on with ``n_targets``."""
        return 2 if self._uses_increments() else 1

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:  # pragma: no cover
        raise NotImplementedError

    def _predict_samples(self, horizon: int, n_samples: int,
                         rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # ---------------------------------------------------------------- fit
    def fit(self, y, X=None):
        """Fit the forecaster on a history.

        Parameters
        ----------
        y : array-like, pandas Series or DataFrame of shape (n_timesteps, n_targets)
            History, time along axis 0.  1-D input is one target.  With pandas input the
            column names and the index are kept for labelled outputs; a time index
            (datetime, period, timedelta or numeric) that is not increasing is sorted,
            with a warning, and duplicate or missing time stamps are refused (see
            :func:`sort_by_time`).
        X : array-like of shape (n_timesteps, n_features), default=None
            Exogenous features, for models that use them; reordered with ``y``.

        Returns
        -------
        self
        """
        y, X = sort_by_time(y, X)
        values = check_target_array(y, name="y")
        if hasattr(self, "returns"):
            _check_returns(self.returns)
        min_rows = self._min_history_length(values.shape[1])
        if values.shape[0] < min_rows:
            raise ValueError(f"{type(self).__name__} needs at least {min_rows} rows of "
                             f"history; y has {values.shape[0]}.")
        X_values = None
        if X is not None:
            if not self._accepts_exogenous:
                raise ValueError(f"{type(self).__name__} does not use exogenous features; "
                                 "pass X=None.")
            X_values = check_target_array(X, name="X")
            if X_values.shape[0] != values.shape[0]:
                raise ValueError(f"X has {X_values.shape[0]} rows but y has "
                                 f"{values.shape[0]}; they must be aligned in time.")

        self.n_timesteps_, self.n_targets_ = values.shape
        self.columns_ = _pandas_columns(y)
        self.index_ = y.index if isinstance(y, (pd.Series, pd.DataFrame)) else None
        self.last_observation_ = values[-1].copy()
        self._fit(values, X_values)
        return self

    # ---------------------------------------------------------------- sampling
    def predict_samples(self, horizon, n_samples=1000, random_state=None) -> np.ndarray:
        """Draw joint sample paths of the future.

        Parameters
        ----------
        horizon : int
            Number of steps ahead, ``>= 1``.
        n_samples : int, default=1000
            Number of sample paths.
        random_state : int, numpy.random.Generator or None, default=None
            Seed of this call.  None falls back to the estimator's ``random_state``
            parameter (if it has one), so that an estimator built with an int seed
            returns the same samples at every call.

        Returns
        -------
        ndarray of shape (n_samples, horizon, n_targets)
            ``samples[i]`` is one coherent path over the horizon, in the units of ``y``.
        """
        check_is_fitted(self, "n_targets_")
        horizon = check_horizon(horizon)
        n_samples = check_n_samples(n_samples)
        rng = self._rng(random_state)
        samples = np.asarray(self._predict_samples(horizon, n_samples, rng))
        expected = (n_samples, horizon, self.n_targets_)
        if samples.shape != expected:  # a bug in a subclass, not a user error
            raise RuntimeError(f"{type(self).__name__}._predict_samples returned shape "
                               f"{samples.shape}, expected {expected}.")
        if self._uses_increments():
            # the hook returns a fresh array (see the module docstring): cumulate in place
            samples = levels_from_increments(self.last_observation_, samples, self.returns,
                                             overwrite=True)
        return samples

    def predict_mean(self, horizon, n_samples=1000, random_state=None):
        """Mean forecast, the average of :meth:`predict_samples`.

        Returns
        -------
        ndarray of shape (horizon, n_targets), or a DataFrame indexed by the future time
        points when the model was fitted on pandas data.
        """
        samples = self.predict_samples(horizon, n_samples, random_state)
        return self._labelled(samples.mean(axis=0), horizon)

    def predict_quantiles(self, horizon, quantiles=(0.05, 0.5, 0.95), n_samples=1000,
                          random_state=None):
        """Marginal quantiles of the sample paths.

        Parameters
        ----------
        horizon : int
        quantiles : float or sequence of float in [0, 1], default=(0.05, 0.5, 0.95)
        n_samples : int, default=1000
        random_state : int, Generator or None, default=None

        Returns
        -------
        ndarray of shape (n_quantiles, horizon, n_targets), or (horizon, n_targets) for a
        scalar ``quantiles`` (the layout of :func:`numpy.quantile`); with pandas input a
        DataFrame with columns ``(target, quantile)``, the layout of sktime.
        """
        q = np.asarray(quantiles, dtype=np.float64)
        if q.ndim > 1 or q.size == 0 or not np.all((q >= 0) & (q <= 1)):
            raise ValueError(f"quantiles must be a float or a 1-D sequence of floats in "
                             f"[0, 1]; got {quantiles!r}.")
        samples = self.predict_samples(horizon, n_samples, random_state)
        values = np.quantile(samples, q, axis=0)
        if self.columns_ is None:
            return values
        values = values.reshape((-1,) + values.shape[-2:])
        return self._labelled_multi(values, horizon, np.atleast_1d(q).tolist())

    def predict_interval(self, horizon, coverage=0.9, n_samples=1000, random_state=None):
        """Central prediction intervals of the marginals.

        Parameters
        ----------
        horizon : int
        coverage : float or sequence of float in (0, 1), default=0.9
            Nominal coverage; the interval is ``[q_(1-c)/2, q_(1+c)/2]``.
        n_samples : int, default=1000
        random_state : int, Generator or None, default=None

        Returns
        -------
        ndarray of shape (n_coverage, 2, horizon, n_targets), or (2, horizon, n_targets)
        for a scalar ``coverage`` (index 0 lower, 1 upper); with pandas input a DataFrame
        with columns ``(target, coverage, "lower"|"upper")``, the layout of sktime.
        """
        c = np.asarray(coverage, dtype=np.float64)
        if c.ndim > 1 or c.size == 0 or not np.all((c > 0) & (c < 1)):
            raise ValueError(f"coverage must be a float or a 1-D sequence of floats in "
                             f"(0, 1); got {coverage!r}.")
        samples = self.predict_samples(horizon, n_samples, random_state)
        cov = np.atleast_1d(c)
        q = np.stack([(1 - cov) / 2, (1 + cov) / 2], axis=1)  # (n_cov, 2)
        values = np.quantile(samples, q, axis=0)  # (n_cov, 2, H, N)
        if self.columns_ is None:
            return values[0] if c.ndim == 0 else values
        flat = values.reshape((-1,) + values.shape[-2:])
        keys = [(cv, side) for cv in cov.tolist() for side in ("lower", "upper")]
        return self._labelled_multi(flat, horizon, keys)

    def to_sktime(self, **kwargs):
        """This forecaster as an sktime forecaster (see :func:`jointdist.sktime.to_sktime`).

        Keyword arguments (``n_samples``, ``point``, ``random_state``) go to the adapter.
        """
        from jointdist.sktime import to_sktime

        return to_sktime(self, **kwargs)

    # ---------------------------------------------------------------- helpers
    def _uses_increments(self) -> bool:
        return hasattr(self, "returns")

    def _history_increments(self, y: np.ndarray) -> np.ndarray:
        """Increments of the history according to the ``returns`` parameter."""
        return increments_from_levels(y, self.returns)

    def _constant_increment_targets(self, y: np.ndarray, increments: np.ndarray) -> np.ndarray:
        """Which targets have constant increments (:func:`is_constant`), shape (n_targets,).

        The rounding error of the increments is set by what they were computed from:
        differences of ``y`` are off by up to ``eps * max|y|``; log returns by about
        ``eps * (1 + max|log y|)``; percentage returns by about ``eps``; increments
        given as they are (``returns=None``) carry their own magnitude.
        """
        n_targets = y.shape[1]
        if self.returns == "diff":
            levels = np.max(np.abs(y), axis=0)
        elif self.returns == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                levels = 1.0 + np.max(np.abs(np.log(y)), axis=0)
        elif self.returns == "pct":
            levels = np.ones(n_targets)
        else:
            levels = np.zeros(n_targets)
        return np.array([is_constant(increments[:, i], level=levels[i])
                         for i in range(n_targets)], dtype=bool)

    def _rng(self, random_state) -> np.random.Generator:
        seed = random_state if random_state is not None else getattr(self, "random_state", None)
        return check_random_state(seed)

    def check_n_targets(self, y_future) -> np.ndarray:
        """Validate future observations against the fitted model.

        Returns ``y_future`` as float64 ``(horizon, n_targets)`` and raises a
        ``ValueError`` when its number of targets differs from the one seen in ``fit``.
        """
        check_is_fitted(self, "n_targets_")
        values = check_target_array(y_future, name="y_future")
        if values.shape[1] != self.n_targets_:
            raise ValueError(f"y_future has {values.shape[1]} target(s) but "
                             f"{type(self).__name__} was fitted on {self.n_targets_}.")
        return values

    def future_index(self, horizon: int) -> pd.Index:
        """Time labels of the next ``horizon`` steps after the fitted history.

        Extends a DatetimeIndex/PeriodIndex with a (possibly inferred) frequency and an
        integer index by its last step; otherwise gives steps ahead ``1..horizon``.
        """
        check_is_fitted(self, "n_targets_")
        horizon = check_horizon(horizon)
        extended = None if self.index_ is None else extend_time_index(self.index_, horizon)
        return pd.RangeIndex(1, horizon + 1, name="step_ahead") if extended is None else extended

    def _labelled(self, values: np.ndarray, horizon: int):
        if self.columns_ is None:
            return values
        return pd.DataFrame(values, index=self.future_index(horizon), columns=self.columns_)

    def _labelled_multi(self, values: np.ndarray, horizon: int, keys: list) -> pd.DataFrame:
        """``values`` (n_keys, H, N) -> DataFrame with columns (target, *key)."""
        n_keys, _, n_targets = values.shape
        data = values.transpose(1, 2, 0).reshape(horizon, n_targets * n_keys)
        tuples = [(col,) + (k if isinstance(k, tuple) else (k,))
                  for col in self.columns_ for k in keys]
        return pd.DataFrame(data, index=self.future_index(horizon),
                            columns=pd.MultiIndex.from_tuples(tuples))


def extend_time_index(index: pd.Index, horizon: int) -> pd.Index | None:
    """The ``horizon`` time points after a history ``index``, or None if it has no step.

    A PeriodIndex and a DatetimeIndex with a (possibly inferred) frequency continue with
    their frequency; an increasing integer index continues with its last step.
    """
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[-1] + 1, periods=horizon, freq=index.freq)
    if isinstance(index, pd.DatetimeIndex):
        freq = (index.freq or pd.infer_freq(index)) if len(index) >= 3 else None
        if freq is None:
            return None
        return pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:]
    if pd.api.types.is_integer_dtype(index) and len(index) >= 2 and index[-1] > index[-2]:
        step = int(index[-1] - index[-2])
        return pd.Index(index[-1] + step * np.arange(1, horizon + 1), name=index.name)
    return None


def _pandas_columns(y) -> pd.Index | None:
    if isinstance(y, pd.DataFrame):
        return y.columns.copy()
    if isinstance(y, pd.Series):
        return pd.Index([y.name if y.name is not None else 0])
    return None
