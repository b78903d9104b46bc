"""scikit-learn-style scorers for joint forecasters.

A scorer is called as ``scorer(estimator, None, y_future)`` on a *fitted* forecaster: it
draws ``predict_samples(len(y_future), n_samples)`` and returns the **negated** loss, so
that greater is better, as with scikit-learn's ``neg_*`` scorers.  Backtests that draw the
samples once and score them with several metrics call :meth:`JointScorer.score_samples`.

The scorers also work inside scikit-learn's tools (``cross_val_score``, ``GridSearchCV``,
...) when the series is passed as their ``X`` and the splitter keeps time order
(``TimeSeriesSplit``): these tools call ``forecaster.fit(X_train)``, which fits on
``y=X_train``, and then ``scorer(forecaster, X_test)``, which scores ``X_test`` as the
future.  Pass the scorer object, ``scoring=get_scorer("energy_score")``: scikit-learn only
accepts its own scorer names as strings (it validates them against a list fixed when
``sklearn.model_selection`` is imported and has no public way to add one), so
``scoring="neg_energy_score"`` is refused by scikit-learn itself.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from jointdist.base import check_n_samples, check_target_array
from jointdist.metrics.crps import crps, crps_sum
from jointdist.metrics.energy import energy_score
from jointdist.metrics.variogram import variogram_score

__all__ = ["JointScorer", "make_joint_scorer", "get_scorer", "get_scorer_names"]


def _crps_sum_normalized(y_true, y_samples, **kwargs):
    return crps_sum(y_true, y_samples, normalize=True, **kwargs)


#: Losses against an observed future path, by scorer name.
_LOSSES: dict[str, Callable] = {
    "energy_score": energy_score,
    "variogram_score": variogram_score,
    "crps": crps,
    "crps_sum": crps_sum,
    "crps_sum_normalized": _crps_sum_normalized,
}


class JointScorer:
    """Score a fitted forecaster on an observed future path.

    Use :func:`make_joint_scorer` or :func:`get_scorer` to build one.

    Parameters
    ----------
    loss : callable
        ``loss(y_true, y_samples, **kwargs)`` with ``y_true`` of shape
        (horizon, n_targets) and ``y_samples`` of shape (n_samples, horizon, n_targets),
        returning a float (lower is better).
    n_samples : int
        Number of sample paths drawn from the forecaster.
    greater_is_better : bool
        False for losses: the scorer returns ``-loss``.
    random_state : int or None
        Seed passed to ``predict_samples``; None uses the estimator's own.
    kwargs : dict
        Extra keyword arguments of ``loss``.
    name : str
        Label used in reports.
    """

    def __init__(self, loss, n_samples, greater_is_better, random_state, kwargs, name):
        self.loss = loss
        self.n_samples = n_samples
        self.greater_is_better = greater_is_better
        self.random_state = random_state
        self.kwargs = kwargs
        self.name = name

    @property
    def _sign(self) -> float:
        return 1.0 if self.greater_is_better else -1.0

    def __call__(self, estimator, X, y_future=None) -> float:
        """Draw samples from ``estimator`` for the future's length and score them.

        Two calls are understood:

        * ``scorer(estimator, None, y_future)``: the future is ``y_future``;
        * ``scorer(estimator, X_test)``: the call of scikit-learn's tools
          (``cross_val_score``, ``GridSearchCV``) when the series was passed as their
          ``X``; they fit the forecaster on ``y=X_train``, so ``X_test`` is the future.

        Parameters
        ----------
        estimator : fitted jointdist forecaster
        X : None or array-like of shape (horizon, n_targets)
            None, or the future itself when ``y_future`` is None.  Exogenous features
            are not accepted: the forecasters of jointdist sample without them.
        y_future : array-like of shape (horizon, n_targets), default=None
            Observed continuation of the history the estimator was fitted on.

        Returns
        -------
        float
            ``-loss`` (greater is better) for losses.

        Raises
        ------
        ValueError
            If both or neither of ``X`` and ``y_future`` are given, if the number of
            targets differs from the fitted one, or if a future with a pandas index
            does not start after the fitted history (a cross-validation splitter that
            does not keep time order, such as ``KFold``).
        """
        if y_future is None:
            if X is None:
                raise ValueError("nothing to score: pass the observed future as y_future "
                                 "(scorer(estimator, None, y_future)).")
            future = X  # scikit-learn's tools: the series was their X (see the module doc)
        elif X is not None:
            raise ValueError("jointdist scorers take X=None: the forecasters sample the "
                             "future without exogenous features (in scikit-learn's tools, "
                             "pass the series as X and no y).")
        else:
            future = y_future
        if hasattr(estimator, "check_n_targets"):
            y = estimator.check_n_targets(future)
        else:
            y = check_target_array(future, name="y_future")
        _check_follows_history(estimator, future)
        samples = estimator.predict_samples(y.shape[0], n_samples=self.n_samples,
                                            random_state=self.random_state)
        return self.score_samples(y, samples)

    def score_samples(self, y_future, y_samples) -> float:
        """Signed score of pre-drawn ``y_samples`` (n_samples, horizon, n_targets)."""
        y = check_target_array(y_future, name="y_future")
        samples = np.asarray(y_samples)
        return self._sign * float(self.loss(y, samples, **self.kwargs))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return (f"make_joint_scorer({self.name}, n_samples={self.n_samples}, "
                f"greater_is_better={self.greater_is_better}{extra})")


def _check_follows_history(estimator, future) -> None:
    """Refuse a labelled future that does not start after the fitted history.

    Forecasts start from the end of the history, so scoring them on earlier rows (a
    ``KFold`` split of a DataFrame, say) would be a silently wrong number.  Only pandas
    input carries the labels to check; for arrays, keep time order yourself
    (``TimeSeriesSplit``).
    """
    history_index = getattr(estimator, "index_", None)
    future_index = getattr(future, "index", None)
    if history_index is None or future_index is None or not len(history_index) \
            or not len(future_index):
        return
    try:
        follows = bool(future_index[0] > history_index[-1])
    except TypeError:  # labels of different kinds: nothing to compare
        return
    if not follows:
        raise ValueError(f"the scored future starts at {future_index[0]!r}, not after the "
                         f"end of the fitted history ({history_index[-1]!r}); forecasts "
                         "continue the history, so score them on the rows that follow it "
                         "(in cross-validation, use sklearn.model_selection.TimeSeriesSplit"
                         ").")


def make_joint_scorer(metric, *, n_samples=1000, greater_is_better=False, random_state=None,
                      **kwargs) -> JointScorer:
    """Make a scorer from a metric of jointdist or any sample-based loss.

    Parameters
    ----------
    metric : str or callable
        A name of :func:`get_scorer_names` (without the ``neg_`` prefix) or a callable
        ``metric(y_true, y_samples, **kwargs)`` with the axis conventions of
        :mod:`jointdist.metrics`.
    n_samples : int, default=1000
        Sample paths drawn per call.
    greater_is_better : bool, default=False
        Whether ``metric`` is a score (True) or a loss (False, then negated).
    random_state : int or None, default=None
        Seed for ``predict_samples``; fix it to compare models on the same draws.
    **kwargs
        Passed to ``metric`` (e.g. ``p=1.0`` for the variogram score).

    Returns
    -------
    JointScorer

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist import HistoricalSimulation
    >>> from jointdist.metrics import make_joint_scorer
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=(120, 2)), axis=0)
    >>> model = HistoricalSimulation(random_state=0).fit(y[:100])
    >>> scorer = make_joint_scorer("energy_score", n_samples=200)
    >>> scorer(model, None, y[100:]) < 0
    True
    """
    n_samples = check_n_samples(n_samples)
    if random_state is not None and not isinstance(random_state, numbers.Integral):
        raise ValueError("random_state of a scorer must be an int or None, so that every "
                         f"call draws the same samples; got {random_state!r}.")
    if isinstance(metric, str):
        name = metric[4:] if metric.startswith("neg_") else metric
        if name not in _LOSSES:
            raise ValueError(f"Unknown metric {metric!r}; choose from {get_scorer_names()} "
                             "or pass a callable.")
        loss, greater_is_better = _LOSSES[name], False
    elif callable(metric):
        loss, name = metric, getattr(metric, "__name__", repr(metric))
    else:
        raise ValueError(f"metric must be a name or a callable; got {metric!r}.")
    return JointScorer(loss, n_samples, bool(greater_is_better), random_state, dict(kwargs),
                       name)


def get_scorer(scoring, *, n_samples=1000, random_state=None) -> JointScorer:
    """Return the scorer called ``scoring`` (or pass a :class:`JointScorer` through).

    Names are those of :func:`get_scorer_names`; the ``neg_`` prefix of scikit-learn's
    naming is accepted too (``"neg_energy_score"``).  Every named scorer returns a
    negated loss.  In scikit-learn's tools pass the returned object, not its name:
    ``cross_val_score(model, y, scoring=get_scorer("energy_score"),
    cv=TimeSeriesSplit(...))``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import TimeSeriesSplit, cross_val_score
    >>> from jointdist import HistoricalSimulation
    >>> from jointdist.metrics import get_scorer
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=(200, 2)), axis=0)
    >>> scores = cross_val_score(HistoricalSimulation(random_state=0), y,
    ...                          scoring=get_scorer("energy_score", n_samples=200),
    ...                          cv=TimeSeriesSplit(3, test_size=5))
    >>> bool(np.all(np.isfinite(scores)) and np.all(scores < 0))
    True
    """
    if isinstance(scoring, JointScorer):
        return scoring
    return make_joint_scorer(scoring, n_samples=n_samples, random_state=random_state)


def get_scorer_names() -> list[str]:
    """Names accepted by :func:`get_scorer`."""
    return sorted(_LOSSES)
