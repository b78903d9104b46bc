"""Backtests and model comparison for joint forecasters.

:func:`backtest` refits a forecaster at a series of forecast origins (expanding or
rolling windows), draws its joint sample paths once per origin and scores them with
every requested scorer; :func:`compare` does this for several models and returns a
:class:`Comparison` with a summary table and a plot of scores per horizon.

Scores follow scikit-learn: **greater is better**.  The named scorers of
:mod:`jointdist.metrics` return negated losses (``neg_energy_score = -energy_score``).
"""

from __future__ import annotations

import numbers
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone

from jointdist.base import (
    BaseJointForecaster,
    check_horizon,
    check_n_samples,
    check_positive_int,
    check_target_array,
)
from jointdist.metrics import JointScorer, get_scorer

__all__ = ["Comparison", "backtest", "compare", "rolling_origin_cv"]

#: Columns of the tidy frames returned by :func:`backtest`.
SCORE_COLUMNS = ["origin", "horizon", "metric", "value", "fit_time", "predict_time"]


def rolling_origin_cv(horizon, n_origins=5, *, step_length=None, window_length=None):
    """A splitter for the last ``n_origins`` forecast origins of a series.

    Rolling-origin evaluation (Tashman 2000): the origins are spaced by
    ``step_length`` (default ``horizon``, non-overlapping test windows) and placed so
    that the last test window ends at the end of the series.  Training windows expand
    (all data up to the origin) unless ``window_length`` fixes their length.  The
    splitter is resolved against the length of ``y`` when it is used.

    Parameters
    ----------
    horizon : int
        Steps ahead forecast at each origin (``fh = 1..horizon``).
    n_origins : int, default=5
        Number of forecast origins.
    step_length : int or None, default=None
        Steps between consecutive origins; None means ``horizon``.
    window_length : int or None, default=None
        None gives expanding windows (all data up to the origin); an int gives
        rolling windows of that many rows.

    Returns
    -------
    _LastOrigins
        A splitter with ``split(y)`` yielding ``(train, test)`` integer positions, and
        ``get_n_splits(y)``.
    """
    return _LastOrigins(horizon, n_origins, step_length, window_length)


class _LastOrigins:
    """Splitter returned by :func:`rolling_origin_cv` (see there)."""

    def __init__(self, horizon, n_origins, step_length, window_length):
        self.horizon = horizon
        self.n_origins = n_origins
        self.step_length = step_length
        self.window_length = window_length

    def _check(self):
        horizon = check_horizon(self.horizon)
        n_origins = check_positive_int(self.n_origins, "n_origins")
        step = horizon if self.step_length is None else check_positive_int(self.step_length,
                                                                            "step_length")
        if self.window_length is not None:
            check_positive_int(self.window_length, "window_length")
        return horizon, n_origins, step

    def split(self, y):
        horizon, n_origins, step = self._check()
        n_rows = len(y)
        first_end = n_rows - horizon - (n_origins - 1) * step  # rows in the first window
        if first_end < 1:
            raise ValueError(f"y has {n_rows} rows: too short for {n_origins} origins "
                             f"spaced by {step} with horizon {horizon}.")
        for k in range(n_origins):
            end = first_end + k * step
            start = 0 if self.window_length is None else max(0, end - self.window_length)
            yield np.arange(start, end), np.arange(end, end + horizon)

    def get_n_splits(self, y=None):
        return self._check()[1]

    def __repr__(self):
        return (f"rolling_origin_cv(horizon={self.horizon!r}, n_origins={self.n_origins!r}, "
                f"step_length={self.step_length!r}, window_length={self.window_length!r})")


# --------------------------------------------------------------------------------------
# backtest
# --------------------------------------------------------------------------------------
def backtest(estimator, y, *, cv, scoring="energy_score", n_samples=1000, per_horizon=False,
             random_state=None, n_jobs=None, verbose=0):
    """Refit ``estimator`` at every origin of ``cv`` and score its joint sample paths.

    At each origin the estimator is cloned, fitted on the training window and asked
    **once** for ``n_samples`` sample paths up to the largest step of the test window;
    every scorer is evaluated on those same paths (:meth:`JointScorer.score_samples`).
    Origins run in parallel through joblib, so ``joblib.parallel_config(backend=...)``
    (e.g. ``"loky"``, or the dask and ray backends) scales it out.

    Parameters
    ----------
    estimator : BaseJointForecaster or JointForecasterAdapter
        The forecaster (unfitted or fitted; it is cloned at every origin).  An sktime
        adapter of :mod:`jointdist.sktime` is unwrapped to the forecaster it wraps.
    y : array-like, pandas Series or DataFrame of shape (n_timesteps, n_targets)
        The whole series.  With pandas input the ``origin`` column holds the index
        label of the last training row; otherwise its position.
    cv : splitter
        Any object whose ``split(y)`` yields ``(train, test)`` integer positions with
        every test position after the last training one: sktime's
        ``ExpandingWindowSplitter`` / ``SlidingWindowSplitter`` (any ``fh``, also
        non-contiguous), scikit-learn's ``TimeSeriesSplit``, or
        :func:`rolling_origin_cv`.  Test step ``k`` is the ``k``-th row after the
        origin.
    scoring : str, JointScorer, callable, list of these or dict, default="energy_score"
        Names of :func:`jointdist.metrics.get_scorer_names` (``"neg_"`` prefix allowed)
        and :class:`~jointdist.metrics.JointScorer` objects (e.g. from
        ``make_joint_scorer(my_loss)``) score the shared sample paths.  Any other
        callable is used as a scikit-learn-style scorer ``scorer(fitted_estimator, None,
        y_test)`` and draws its own samples; it needs contiguous test steps
        ``1..horizon``.  A dict maps the names used in the result to scorers.
    n_samples : int, default=1000
        Sample paths drawn per origin.
    per_horizon : bool, default=False
        If True, score every test step separately: one row per origin, metric and
        step (the ``horizon`` column is then the step ahead).  Otherwise one row per
        origin and metric, scored over the whole test window (``horizon`` is its
        largest step).
    random_state : int or None, default=None
        Seed of the sample paths.  An int gives every origin its own seed derived from
        it (``numpy.random.SeedSequence``), so results do not depend on ``n_jobs`` or
        on the order the origins run in.  None leaves the seeding to the estimator's
        own ``random_state`` (the same seed at every origin if it is an int).
    n_jobs : int or None, default=None
        Number of joblib workers over origins; None means 1 unless in a
        ``joblib.parallel_config`` context, -1 all processors.
    verbose : int, default=0
        joblib verbosity.

    Returns
    -------
    pandas.DataFrame
        Tidy scores, one row per origin and metric (and step with ``per_horizon``),
        columns ``origin, horizon, metric, value, fit_time, predict_time``:
        ``value`` is the score (greater is better: negated loss for the named
        scorers), ``fit_time`` and ``predict_time`` the seconds spent in ``fit`` and
        in drawing the samples at that origin.

    Raises
    ------
    ValueError
        For a bad ``scoring``, ``n_samples`` or ``random_state``, a ``cv`` that yields
        test positions before the end of its training window or nothing at all.
    TypeError
        If ``estimator`` is not a jointdist forecaster.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist import HistoricalSimulation
    >>> from jointdist.model_selection import backtest, rolling_origin_cv
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=(120, 2)), axis=0)
    >>> scores = backtest(HistoricalSimulation(), y, cv=rolling_origin_cv(5, n_origins=3),
    ...                   scoring=["energy_score", "crps"], n_samples=200, random_state=0)
    >>> scores.shape
    (6, 6)
    >>> sorted(scores["metric"].unique())
    ['neg_crps', 'neg_energy_score']
    """
    overall, steps = _run(estimator, y, cv=cv, scoring=scoring, n_samples=n_samples,
                          per_horizon=per_horizon, random_state=random_state, n_jobs=n_jobs,
                          verbose=verbose)
    return steps if per_horizon else overall


def _run(estimator, y, *, cv, scoring, n_samples, per_horizon, random_state, n_jobs, verbose):
    """Run the backtest; return (overall scores, per-step scores or None)."""
    forecaster = _unwrap(estimator)
    n_samples = check_n_samples(n_samples)
    scorers = _check_scoring(scoring)
    if random_state is not None and (not isinstance(random_state, numbers.Integral)
                                     or isinstance(random_state, bool)):
        raise ValueError("random_state must be an int or None, so that every origin gets a "
                         f"reproducible seed; got {random_state!r}.")
    values = check_target_array(y, name="y")
    frame = _as_frame(y, values)
    folds = _folds(cv, frame)
    plain = [name for name, scorer in scorers.items() if not isinstance(scorer, JointScorer)]
    if plain and per_horizon:
        raise ValueError(f"per-step scores need JointScorer objects, which score the shared "
                         f"samples; {plain} are plain callables. Wrap a loss with "
                         "make_joint_scorer.")
    if plain and any(not np.array_equal(test - train[-1], np.arange(1, test.size + 1))
                     for train, test in folds):
        raise ValueError(f"the plain callable scorers {plain} draw their own samples for "
                         "steps 1..horizon, but cv yields non-contiguous test steps; use "
                         "JointScorer objects (make_joint_scorer) instead.")
    if random_state is None:
        seeds = [None] * len(folds)
    else:
        seeds = [int(s.generate_state(1)[0])
                 for s in np.random.SeedSequence(random_state).spawn(len(folds))]

    is_pandas = isinstance(y, (pd.DataFrame, pd.Series))
    jobs = (delayed(_score_origin)(clone(forecaster),
                                   frame.iloc[train] if is_pandas else values[train],
                                   values[test], test - train[-1], scorers, n_samples, seed,
                                   per_horizon)
            for (train, test), seed in zip(folds, seeds))
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(jobs)

    origins = [frame.index[train[-1]] if is_pandas else int(train[-1]) for train, _ in folds]
    overall, per_step = [], []
    for origin, (rows, step_rows) in zip(origins, results):
        overall += [(origin,) + row for row in rows]
        per_step += [(origin,) + row for row in step_rows]
    overall = pd.DataFrame(overall, columns=SCORE_COLUMNS)
    per_step = pd.DataFrame(per_step, columns=SCORE_COLUMNS) if per_horizon else None
    return overall, per_step


def _score_origin(forecaster, y_train, y_test, steps, scorers, n_samples, seed, per_horizon):
    """Fit at one origin, draw the samples once, score them with every scorer.

    Returns rows ``(horizon, metric, value, fit_time, predict_time)`` over the whole
    test window, and (with ``per_horizon``) one row per step.
    """
    start = time.perf_counter()
    forecaster.fit(y_train)
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    samples = forecaster.predict_samples(int(steps.max()), n_samples=n_samples,
                                         random_state=seed)[:, steps - 1, :]
    predict_time = time.perf_counter() - start

    rows, step_rows = [], []
    for name, scorer in scorers.items():
        if isinstance(scorer, JointScorer):
            value = scorer.score_samples(y_test, samples)
            by_step = ([scorer.score_samples(y_test[k:k + 1], samples[:, k:k + 1])
                        for k in range(steps.size)] if per_horizon else [])
        else:  # a scikit-learn-style scorer draws its own samples (checked in _run)
            value = float(scorer(forecaster, None, y_test))
            by_step = []
        rows.append((int(steps.max()), name, value, fit_time, predict_time))
        step_rows += [(int(k), name, v, fit_time, predict_time) for k, v in zip(steps, by_step)]
    return rows, step_rows


def _unwrap(estimator) -> BaseJointForecaster:
    """The jointdist forecaster itself, or the one an sktime adapter wraps."""
    # an adapter exists only if its module was imported: no need to import sktime here
    adapter_module = sys.modules.get("jointdist.sktime._adapter")
    if adapter_module is not None and isinstance(estimator,
                                                 adapter_module.JointForecasterAdapter):
        estimator = estimator.estimator
    if isinstance(estimator, type) or not isinstance(estimator, BaseJointForecaster):
        raise TypeError("estimator must be a jointdist forecaster instance (or a "
                        f"JointForecasterAdapter wrapping one); got {estimator!r}.")
    return estimator


def _check_scoring(scoring) -> dict:
    """Scorers by result name: JointScorer objects or scikit-learn-style callables."""
    if isinstance(scoring, dict):
        items = list(scoring.items())
    else:
        many = isinstance(scoring, (list, tuple))
        items = [(None, s) for s in (scoring if many else [scoring])]
    if not items:
        raise ValueError("scoring is empty; pass at least one scorer.")
    scorers = {}
    for name, scoring_item in items:
        if isinstance(scoring_item, str) or isinstance(scoring_item, JointScorer):
            scorer = get_scorer(scoring_item)  # raises ValueError for an unknown name
            default = ("" if scorer.greater_is_better else "neg_") + scorer.name
        elif callable(scoring_item):
            scorer = scoring_item
            default = getattr(scoring_item, "__name__", repr(scoring_item))
        else:
            raise ValueError("scoring must be a scorer name, a JointScorer, a callable, or a "
                             f"list or dict of them; got {scoring_item!r}.")
        name = default if name is None else str(name)
        if name in scorers:
            raise ValueError(f"scoring names must be unique; {name!r} appears twice.")
        scorers[name] = scorer
    return scorers


def _as_frame(y, values: np.ndarray) -> pd.DataFrame:
    if isinstance(y, pd.DataFrame):
        return y
    if isinstance(y, pd.Series):
        return y.to_frame()
    return pd.DataFrame(values)


def _folds(cv, frame: pd.DataFrame) -> list:
    if not hasattr(cv, "split"):
        raise ValueError("cv must be a splitter with a split(y) method (e.g. sktime's "
                         f"ExpandingWindowSplitter or rolling_origin_cv); got {cv!r}.")
    folds = []
    for train, test in cv.split(frame):
        train = np.asarray(train, dtype=np.int64)
        test = np.asarray(test, dtype=np.int64)
        if train.size == 0 or test.size == 0:
            raise ValueError("cv yielded an empty training or test window.")
        if test.min() <= train[-1] or np.any(np.diff(test) <= 0) or test.max() >= len(frame):
            raise ValueError("cv must yield increasing test positions after the last "
                             f"training position and inside y; got train ending at "
                             f"{train[-1]} and test {test.tolist()}.")
        folds.append((train, test))
    if not folds:
        raise ValueError(f"cv yielded no split of a series of length {len(frame)}.")
    return folds


# --------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per model, origin and metric: the columns of :func:`backtest` after a
        ``model`` column.  Scores are greater-is-better.
    scores_per_horizon : pandas.DataFrame
        The same per model, origin, metric and step ahead (``horizon``), from the same
        sample paths.
    """

    scores: pd.DataFrame
    scores_per_horizon: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over origins of every metric, and the ranks.

        Returns
        -------
        pandas.DataFrame
            Indexed by model, with columns ``(metric, "mean" | "std" | "rank")``; rank 1
            is the best mean score of that metric.  Also columns ``fit_time`` and
            ``predict_time`` (mean seconds per origin).
        """
        grouped = self.scores.groupby(["model", "metric"], sort=False)["value"]
        table = grouped.agg(["mean", "std"]).unstack("metric")
        table = table.swaplevel(axis=1)
        metrics = list(dict.fromkeys(self.scores["metric"]))
        for metric in metrics:
            table[(metric, "rank")] = table[(metric, "mean")].rank(ascending=False,
                                                                   method="min")
        table = table[[(m, s) for m in metrics for s in ("mean", "std", "rank")]]
        times = self.scores.groupby(["model", "origin"], sort=False)[
            ["fit_time", "predict_time"]].first().groupby("model", sort=False).mean()
        for col in ("fit_time", "predict_time"):
            table[(col, "mean")] = times[col]
        models = list(dict.fromkeys(self.scores["model"]))
        return table.loc[models]

    def plot(self, metric=None, *, ax=None):
        """Plot the mean score over origins against the step ahead, one line per model.

        Parameters
        ----------
        metric : str or None, default=None
            Metric to plot; None plots every metric in its own panel.
        ax : matplotlib Axes, array of Axes or None, default=None
            Where to draw (one Axes per metric); None creates a figure.

        Returns
        -------
        matplotlib Figure
        """
        from jointdist.plotting import _pyplot

        plt = _pyplot()  # an ImportError that names the extra without matplotlib
        data = self.scores_per_horizon
        metrics = list(dict.fromkeys(data["metric"]))
        if metric is not None:
            if metric not in metrics:
                raise ValueError(f"Unknown metric {metric!r}; the comparison has {metrics}.")
            metrics = [metric]
        if ax is None:
            fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5),
                                     squeeze=False)
            axes = axes[0]
        else:
            axes = np.atleast_1d(ax)
            if axes.size != len(metrics):
                raise ValueError(f"ax has {axes.size} Axes for {len(metrics)} metric(s).")
            fig = axes[0].figure
        mean = data.groupby(["metric", "model", "horizon"])["value"].mean().sort_index()
        for axis, name in zip(axes, metrics):
            for model in dict.fromkeys(data["model"]):
                line = mean.loc[(name, model)]
                axis.plot(line.index, line.to_numpy(), marker="o", markersize=3, label=model)
            axis.set_xlabel("steps ahead")
            axis.set_ylabel(f"{name} (greater is better)")
            axis.set_title(name)
            axis.grid(alpha=0.3)
        axes[0].legend()
        fig.tight_layout()
        return fig


def compare(estimators, y, *, cv, scoring="energy_score", n_samples=1000, random_state=None,
            n_jobs=None, verbose=0):
    """Backtest several forecasters on the same origins and compare their scores.

    Every model is run by :func:`backtest` with the same ``cv``, scorers and seeds;
    each origin's sample paths are scored over the whole test window and per step.

    Parameters
    ----------
    estimators : dict of str to estimator
        Models by name (jointdist forecasters or their sktime adapters).
    y, cv, scoring, n_samples, random_state, n_jobs, verbose
        As in :func:`backtest`; with an int ``random_state`` every model gets the same
        per-origin seeds.  Scorers must be names or JointScorer objects (per-step
        scores need the shared samples).

    Returns
    -------
    Comparison
        ``scores`` and ``scores_per_horizon`` (tidy, with a ``model`` column),
        ``summary()`` and ``plot()``.

    Examples
    --------
    >>> import numpy as np
    >>> from jointdist import HistoricalSimulation
    >>> from jointdist.model_selection import compare, rolling_origin_cv
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=(150, 2)), axis=0)
    >>> result = compare({"iid": HistoricalSimulation(),
    ...                   "block": HistoricalSimulation(method="stationary")},
    ...                  y, cv=rolling_origin_cv(5, n_origins=3), n_samples=200,
    ...                  random_state=0)
    >>> list(result.summary().index)
    ['iid', 'block']
    """
    if not isinstance(estimators, dict) or not estimators:
        raise ValueError("estimators must be a non-empty dict {name: estimator}; got "
                         f"{estimators!r}.")
    overall, per_step = [], []
    for name, estimator in estimators.items():
        scores, steps = _run(estimator, y, cv=cv, scoring=scoring, n_samples=n_samples,
                             per_horizon=True, random_state=random_state, n_jobs=n_jobs,
                             verbose=verbose)
        overall.append(scores.assign(model=str(name)))
        per_step.append(steps.assign(model=str(name)))
    columns = ["model"] + SCORE_COLUMNS
    return Comparison(pd.concat(overall, ignore_index=True)[columns],
                      pd.concat(per_step, ignore_index=True)[columns])
