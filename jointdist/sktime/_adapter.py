"""sktime adapter for any jointdist forecaster.

:class:`JointForecasterAdapter` makes a :class:`~jointdist.base.BaseJointForecaster`
usable wherever sktime expects a probabilistic forecaster.  It converts formats and
calls the native estimator: every prediction method draws the joint sample paths once,
with ``predict_samples``, and derives its output from them, so the point forecast, the
quantiles, the intervals, the variances and the predictive distribution always agree.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_random_state
from sktime.forecasting.base import BaseForecaster

from jointdist.base import BaseJointForecaster, check_n_samples

__all__ = ["JointForecasterAdapter", "to_sktime"]

_POINTS = ("mean", "median")


class JointForecasterAdapter(BaseForecaster):
    """Use a jointdist forecaster as an sktime probabilistic forecaster.

    Every prediction of the adapter comes from one call of the wrapped forecaster's
    ``predict_samples`` for the largest step of ``fh``: the steps of ``fh`` are then
    picked out of the sample paths (so a non-contiguous ``fh`` such as ``[1, 5, 10]``
    is fine).  The draws are seeded by a seed fixed in ``fit``, hence ``predict``,
    ``predict_quantiles``, ``predict_interval``, ``predict_var`` and ``predict_proba``
    are all computed from the *same* sample paths and agree with each other.

    Parameters
    ----------
    estimator : BaseJointForecaster
        The jointdist forecaster to wrap, e.g. ``HistoricalSimulation()``.  It is
        cloned in ``fit``; the fitted clone is ``estimator_``.
    n_samples : int, default=1000
        Number of joint sample paths drawn per prediction call.
    point : {"mean", "median"}, default="mean"
        Point forecast returned by ``predict``: the mean or the marginal median of the
        sample paths at each step and target.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None, \
default=None
        Seed of the sample paths.  With an int, results are reproducible.  With None
        the wrapped estimator's own ``random_state`` is used if it has one; if that is
        None too, a fresh seed is drawn at every ``fit`` (the prediction methods of one
        fitted adapter still share their sample paths).

    Attributes
    ----------
    estimator_ : BaseJointForecaster
        The clone of ``estimator`` fitted on the data seen in ``fit`` (and refitted on
        all data seen so far by ``update`` with ``update_params=True``).
    seed_ : int
        Seed of ``predict_samples`` used by every prediction method after ``fit``.

    Notes
    -----
    * Steps of ``fh`` count rows of the history's regular time grid: relative step
      ``k`` is the ``k``-th row after the cutoff.  Only out-of-sample steps (``k >= 1``)
      can be forecast; in-sample ``fh`` raise a ``ValueError``.
    * Exogenous ``X`` is ignored (tag ``capability:exogenous=False``): the jointdist
      forecasters sample the future without features.
    * ``update(y, update_params=True)`` refits the wrapped forecaster on all data seen
      so far (the adapter keeps its own copy of it).  With ``update_params=False`` the
      model is kept and forecasts continue from the end of the data it was fitted on:
      relative step ``k`` after the new cutoff is the corresponding later step of the
      fitted model.
    * Panel and hierarchical ``y`` are handled by sktime's broadcasting, one clone per
      series; ``predict_proba`` is only available for a single (possibly multivariate)
      series, as for every sktime forecaster that is vectorized this way.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from jointdist import HistoricalSimulation
    >>> from jointdist.sktime import JointForecasterAdapter
    >>> rng = np.random.default_rng(0)
    >>> y = pd.DataFrame(rng.normal(size=(200, 2)).cumsum(axis=0), columns=["a", "b"],
    ...                  index=pd.period_range("2020-01-01", periods=200, freq="D"))
    >>> forecaster = JointForecasterAdapter(HistoricalSimulation(), n_samples=500,
    ...                                     random_state=0)
    >>> forecaster.fit(y, fh=[1, 2, 5]).predict().shape
    (3, 2)
    >>> dist = forecaster.predict_proba()
    >>> dist.sample(2).shape  # two joint scenarios of 3 steps x 2 targets
    (6, 2)
    """

    _tags = {
        "authors": ["jointdist developers"],
        "maintainers": ["jointdist developers"],
        "python_dependencies": ["skpro"],
        "object_type": "forecaster",
        "y_inner_mtype": "pd.DataFrame",
        "X_inner_mtype": "pd.DataFrame",
        "capability:multivariate": True,
        "capability:exogenous": False,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": False,
        "requires-fh-in-fit": False,
        "property:randomness": "derandomized",
        "capability:random_state": True,
    }
    # The adapter keeps its own copy of the data for the refits of ``update``, so it
    # does not need sktime's data pool (the default of sktime >= 1.3, adopted early;
    # this also avoids sktime 1.2's FutureWarning at every construction).
    _config = {"remember_data": False}

    def __init__(self, estimator, *, n_samples=1000, point="mean", random_state=None):
        self.estimator = estimator
        self.n_samples = n_samples
        self.point = point
        self.random_state = random_state
        super().__init__()
        # sktime's data pool, used only if a user sets the config remember_data=True
        self._y = None
        self._X = None

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        _check_joint_forecaster(self.estimator)
        check_n_samples(self.n_samples)
        if self.point not in _POINTS:
            raise ValueError(f"point must be one of {_POINTS}; got {self.point!r}.")

    def _fit(self, y, X, fh):
        """Clone and fit the wrapped forecaster on ``y`` (a DataFrame); ``X`` is ignored."""
        self._check_params()
        self.estimator_ = clone(self.estimator)
        self.estimator_.fit(y)
        self._columns = y.columns
        self._y_seen = y
        self._origin = self.cutoff  # end of the data estimator_ was fitted on
        seed = self.random_state
        if seed is None:
            seed = getattr(self.estimator, "random_state", None)
        self.seed_ = _seed_from(seed)
        return self

    def _update(self, y, X=None, update_params=True):
        """Remember the new data; with ``update_params`` refit ``estimator_`` on all of it.

        Without ``update_params`` the fitted model is kept and forecasts continue from
        the end of the data it was fitted on (see the Notes of the class).
        """
        old = self._y_seen
        self._y_seen = pd.concat([old.loc[~old.index.isin(y.index)], y]).sort_index()
        if update_params:
            self.estimator_ = clone(self.estimator).fit(self._y_seen)
            self._origin = self.cutoff
        return self

    # ------------------------------------------------------------------ sampling
    def _steps(self, fh) -> np.ndarray:
        """Steps ahead of the fitted model's origin, as a 1-D int array (>= 1)."""
        if self.cutoff.equals(self._origin):
            relative = fh.to_relative(self.cutoff)
        else:  # after update(update_params=False): continue from the fitted origin
            relative = fh.to_absolute(self.cutoff).to_relative(self._origin)
        steps = np.asarray(relative.to_numpy(), dtype=np.int64)
        if steps.size == 0 or steps.min() < 1:
            raise ValueError(f"{type(self).__name__} forecasts out-of-sample steps only "
                             f"(relative fh >= 1); got relative fh {steps.tolist()}.")
        return steps

    def _sample_paths(self, fh) -> tuple[np.ndarray, pd.Index]:
        """Samples ``(n_samples, len(fh), n_targets)`` at the steps of ``fh``, and their index.

        One call of ``predict_samples`` up to the largest step, with the seed fixed in
        ``fit``; the steps of ``fh`` are selected from the paths.
        """
        steps = self._steps(fh)
        samples = self.estimator_.predict_samples(int(steps.max()), n_samples=self.n_samples,
                                                  random_state=self.seed_)
        index = fh.to_absolute_index(self.cutoff)
        return samples[:, steps - 1, :], index

    # ------------------------------------------------------------------ predictions
    def _predict(self, fh, X):
        """Mean (or median, see ``point``) of the sample paths."""
        samples, index = self._sample_paths(fh)
        values = samples.mean(axis=0) if self.point == "mean" else np.median(samples, axis=0)
        return pd.DataFrame(values, index=index, columns=self._columns)

    def _predict_quantiles(self, fh, X, alpha):
        """Marginal quantiles of the sample paths, columns ``(variable, alpha)``."""
        samples, index = self._sample_paths(fh)
        alpha = [float(a) for a in alpha]
        values = np.quantile(samples, alpha, axis=0)  # (A, H, N)
        return self._keyed_frame(values, index, alpha)

    def _predict_interval(self, fh, X, coverage):
        """Central intervals ``[q_(1-c)/2, q_(1+c)/2]``, columns ``(variable, c, side)``."""
        samples, index = self._sample_paths(fh)
        coverage = [float(c) for c in coverage]
        levels = [q for c in coverage for q in ((1 - c) / 2, (1 + c) / 2)]
        values = np.quantile(samples, levels, axis=0)  # (2C, H, N)
        keys = [(c, side) for c in coverage for side in ("lower", "upper")]
        return self._keyed_frame(values, index, keys)

    def _predict_var(self, fh, X, cov=False):
        """Variance of the sample paths (``ddof=0``, that of the empirical distribution).

        With ``cov=True`` the covariance over time of each variable: columns
        ``(variable, time)``, rows ``time`` (the sktime layout; no cross-variable
        covariances, use ``predict_proba`` or the wrapped estimator for those).
        """
        samples, index = self._sample_paths(fh)
        if not cov:
            return pd.DataFrame(samples.var(axis=0), index=index, columns=self._columns)
        blocks = [np.atleast_2d(np.cov(samples[:, :, j], rowvar=False, ddof=0))
                  for j in range(samples.shape[2])]
        columns = pd.MultiIndex.from_product([self._columns, index])
        return pd.DataFrame(np.concatenate(blocks, axis=1), index=index, columns=columns)

    def _predict_proba(self, fh, X, marginal=True):
        """skpro ``Empirical`` over the sample paths, keeping whole paths.

        ``spl`` is indexed by ``(sample, time)`` and ``time_indep=False``, so that
        ``sample()`` returns whole joint scenarios (all steps and targets of one path).
        ``marginal`` does not change the result: the object holds the joint paths, and
        its marginal methods (``mean``, ``var``, ``ppf``, ``cdf``) are per time point.
        """
        from skpro.distributions import Empirical

        samples, index = self._sample_paths(fh)
        n_samples, horizon, n_targets = samples.shape
        spl_index = pd.MultiIndex.from_arrays(
            [np.repeat(np.arange(n_samples), horizon), index[np.tile(np.arange(horizon),
                                                                     n_samples)]])
        spl = pd.DataFrame(samples.reshape(n_samples * horizon, n_targets), index=spl_index,
                           columns=self._columns)
        return Empirical(spl, time_indep=False, index=index, columns=self._columns)

    def _keyed_frame(self, values: np.ndarray, index: pd.Index, keys: list) -> pd.DataFrame:
        """``values`` of shape (n_keys, H, N) -> DataFrame with columns (variable, *key)."""
        n_keys, horizon, n_targets = values.shape
        data = values.transpose(1, 2, 0).reshape(horizon, n_targets * n_keys)
        tuples = [(col,) + (k if isinstance(k, tuple) else (k,))
                  for col in self._columns for k in keys]
        return pd.DataFrame(data, index=index, columns=pd.MultiIndex.from_tuples(tuples))

    # ------------------------------------------------------------------ testing
    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Cheap parameter sets for sktime's ``check_estimator``.

        Parameters
        ----------
        parameter_set : str, default="default"
            Unused; there is one collection of test parameters.

        Returns
        -------
        list of dict
            Two settings of historical simulation (i.i.d. and stationary bootstrap,
            mean and median point forecasts) with few sample paths.
        """
        from jointdist.models import HistoricalSimulation

        return [
            {"estimator": HistoricalSimulation(), "n_samples": 200},
            {"estimator": HistoricalSimulation(method="stationary", mean_block_length=3.0),
             "n_samples": 100, "point": "median", "random_state": 1},
        ]


def to_sktime(estimator, *, n_samples=1000, point="mean", random_state=None):
    """Wrap a jointdist forecaster as an sktime forecaster.

    Parameters
    ----------
    estimator : BaseJointForecaster
        The forecaster to wrap (fitted or not; it is cloned in ``fit``).
    n_samples, point, random_state
        See :class:`JointForecasterAdapter`.

    Returns
    -------
    JointForecasterAdapter

    Raises
    ------
    TypeError
        If ``estimator`` is not a jointdist forecaster.

    Examples
    --------
    >>> from jointdist import DCCGarchForecaster
    >>> from jointdist.sktime import to_sktime
    >>> to_sktime(DCCGarchForecaster(), n_samples=200)
    JointForecasterAdapter(estimator=DCCGarchForecaster(), n_samples=200)
    """
    _check_joint_forecaster(estimator)
    return JointForecasterAdapter(estimator, n_samples=n_samples, point=point,
                                  random_state=random_state)


def _check_joint_forecaster(estimator) -> None:
    if isinstance(estimator, type) or not isinstance(estimator, BaseJointForecaster):
        raise TypeError("estimator must be an instance of a jointdist forecaster "
                        f"(a BaseJointForecaster); got {estimator!r}.")


def _seed_from(random_state) -> int:
    """An int seed: ``random_state`` itself if it is an int, else one drawn from it."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
