"""Rolling-origin benchmark of joint forecasters on real multivariate series.

For every data set of :func:`jointdist.datasets.load_real` (after its default
transform) and every forecast origin, every forecaster is fitted on the context before
the origin (up to ``max_context`` = 504 rows), draws ``n_samples`` joint paths over the
data set's horizon, and is scored on the realized path:

* **scores** per horizon: energy score, variogram score (``p = 0.5``), CRPS of the sum
  (CRPS-sum) and the CRPS of every target (:mod:`jointdist.metrics`);
* **coverage**: whether the realized value lies in the central 90% interval of the
  samples, per target and horizon;
* **risk**: the P&L of an equal-weight portfolio and of the data set's long-short
  portfolio (``RealDataInfo.long_short``) of the series' increments from the origin,
  1 step and ``horizon`` steps ahead; the 95% and 99% VaR and ES of the sampled P&L
  and whether the realized loss exceeded the VaR (:mod:`jointdist.evaluation.risk`).

Origins
    The last origin leaves exactly one horizon of data; earlier ones step back by
    ``step`` rows.  ``step="auto"`` (the default) uses ``step = horizon`` -- the
    evaluation windows do **not** overlap, so the h-step exceedances of a correct model
    are independent and Kupiec's test applies to them -- whenever ``n_origins`` such
    windows fit after ``min_context`` rows of history (the context grows up to
    ``max_context``); otherwise it takes the largest step that fits ``n_origins``
    origins and the windows overlap (``origins_table()['overlapping']``).  With
    overlapping windows the h-step exceedances are autocorrelated and Kupiec's h-step
    p-values are too small (anti-conservative); the 1-step exceedances never overlap
    (``step >= 1``) and their test stays valid.  Scores at overlapping origins are
    still unbiased, only their bootstrap intervals are too narrow.

Validation origins
    ``split="validation"`` scores origins whose forecast windows all end before the
    first test origin (the first origin of ``split="test"`` with the same ``n_origins``
    and ``step``): tune or select on them, report the test origins.  A data set whose
    test origins leave no room for validation windows (fewer than ``min_context +
    horizon`` rows before them) is skipped with a warning.

Parallelism
    Every (data set, origin, model) is one :mod:`joblib` task.  ``backend="loky"`` runs
    them in local processes; ``backend="dask"`` on a ``dask.distributed`` cluster
    (create a ``distributed.Client`` first); ``backend="ray"`` on Ray (registers
    ``ray.util.joblib``); ``backend=None`` takes whatever
    :func:`joblib.parallel_config` is active.  Every task's seed depends only on the
    data set, the origin and ``random_state`` (common random numbers across models),
    so results do not depend on the backend or on the number of workers.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from jointdist.base import check_n_samples, check_positive_int
from jointdist.evaluation.risk import expected_shortfall, value_at_risk, var_backtest
from jointdist.evaluation.skill import relative_skill

__all__ = [
    "DEFAULT_BASELINES",
    "REAL_SCORE_METRICS",
    "RealBenchmarkResult",
    "plot_real_coverage",
    "plot_real_scores",
    "plot_var_exceedances",
    "rolling_origins",
    "run_real_benchmark",
    "score_forecast",
]

#: Joint metrics of the per-origin skill tables (mean over horizons).
REAL_SCORE_METRICS = ("energy", "variogram", "crps_sum")
#: Models compared against when they are present (the best of them per origin).
DEFAULT_BASELINES = ("hs", "hs-filtered", "dcc")

_SCORE_COLUMNS = ["dataset", "origin", "date", "model", "metric", "target", "horizon",
                  "value"]
_RISK_COLUMNS = ["dataset", "origin", "date", "model", "portfolio", "steps", "level", "var",
                 "es", "realized_pnl", "exceeded"]
_RUN_COLUMNS = ["dataset", "origin", "date", "model", "context_rows", "seconds", "error"]
_FAILURES = (ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError)


def rolling_origins(n_rows, horizon, *, n_origins=40, min_context=252, step="auto"):
    """Forecast origins of a rolling evaluation, oldest first.

    An origin ``t`` forecasts rows ``t .. t + horizon - 1`` from the rows before ``t``.

    Parameters
    ----------
    n_rows : int
        Length of the series.
    horizon : int
    n_origins : int, default=40
        Origins wanted; fewer are returned (with a warning) when the data do not allow
        them with ``step >= 1``.
    min_context : int, default=252
        Rows of history needed before the first origin.
    step : int or "auto", default="auto"
        Rows between origins; ``"auto"`` is ``horizon`` (non-overlapping windows) when
        ``n_origins`` of them fit, else the largest step that fits ``n_origins``.

    Returns
    -------
    origins : ndarray of int
    step : int
        The step used.
    """
    n_rows, horizon = int(n_rows), check_positive_int(horizon, "horizon")
    n_origins = check_positive_int(n_origins, "n_origins")
    last = n_rows - horizon
    if last < min_context:
        raise ValueError(f"{n_rows} rows leave no origin with {min_context} rows of "
                         f"context and a horizon of {horizon}.")
    room = last - min_context  # rows between the first and the last possible origin
    if step == "auto":
        step = horizon if n_origins == 1 or room // (n_origins - 1) >= horizon else \
            max(1, room // (n_origins - 1))
    step = check_positive_int(step, "step")
    count = min(n_origins, room // step + 1)
    if count < n_origins:
        warnings.warn(f"only {count} origins fit (step {step}, {n_rows} rows, "
                      f"{min_context} of context, horizon {horizon}); wanted {n_origins}.",
                      UserWarning, stacklevel=2)
    return last - step * np.arange(count)[::-1], step


def score_forecast(samples, realized, last, *, coverage=0.9, var_levels=(0.95, 0.99),
                   portfolios=None) -> tuple[dict, list]:
    """Every score of one forecast against its realized path.

    Parameters
    ----------
    samples : ndarray of shape (n_samples, horizon, n_targets)
    realized : ndarray of shape (horizon, n_targets)
    last : ndarray of shape (n_targets,)
        The last observation before the origin (where portfolio increments start).
    coverage : float, default=0.9
        Nominal level of the central intervals.
    var_levels : sequence of float, default=(0.95, 0.99)
    portfolios : dict of str to weights (n_targets,) or None
        None gives only the equal-weight portfolio.

    Returns
    -------
    scores : dict
        ``energy``, ``variogram``, ``crps_sum`` of shape (horizon,); ``crps`` and
        ``covered`` (0/1) of shape (horizon, n_targets).
    risk : list of tuple
        ``(portfolio, steps, level, var, es, realized_pnl, exceeded)`` for steps 1 and
        ``horizon``.
    """
    from jointdist.metrics import crps, crps_sum, energy_score, variogram_score

    samples = np.asarray(samples, dtype=np.float64)
    realized = np.asarray(realized, dtype=np.float64)
    horizon, n_targets = realized.shape
    lo, hi = np.quantile(samples, [(1 - coverage) / 2, (1 + coverage) / 2], axis=0)
    scores = {
        "energy": np.asarray(energy_score(realized, samples, per_horizon=True)),
        "variogram": np.asarray(variogram_score(realized, samples, p=0.5, per_horizon=True)),
        "crps_sum": np.asarray(crps_sum(realized, samples, per_horizon=True)),
        "crps": np.asarray(crps(realized, samples, per_horizon=True, per_target=True)),
        "covered": ((realized >= lo) & (realized <= hi)).astype(np.float64),
    }
    if portfolios is None:
        portfolios = {"equal_weight": np.full(n_targets, 1.0 / n_targets)}
    risk = []
    steps_list = (1, horizon) if horizon > 1 else (1,)
    for name, weights in portfolios.items():
        w = np.asarray(weights, dtype=np.float64)
        for steps in steps_list:
            pnl = (samples[:, steps - 1] - last) @ w  # (n_samples,)
            pnl_true = float((realized[steps - 1] - last) @ w)
            for level in var_levels:
                var = float(value_at_risk(pnl, level))
                es = float(expected_shortfall(pnl, level))
                risk.append((name, steps, float(level), var, es, pnl_true, pnl_true < -var))
    return scores, risk


def _task(dataset, origin_pos, date, model_name, model, context, realized, n_samples,
          seed, coverage, var_levels, portfolios, columns):
    """Fit, sample and score one (data set, origin, model); runs in a joblib worker."""
    start = time.perf_counter()
    try:
        fitted = clone(model).fit(pd.DataFrame(context, columns=columns))
        samples = fitted.predict_samples(realized.shape[0], n_samples, random_state=seed)
        if not np.isfinite(samples).all():
            raise FloatingPointError("non-finite sample paths")
        scores, risk = score_forecast(samples, realized, context[-1], coverage=coverage,
                                      var_levels=var_levels, portfolios=portfolios)
    except _FAILURES as exc:
        run = (dataset, origin_pos, date, model_name, context.shape[0],
               time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
        return [], [], run
    seconds = time.perf_counter() - start
    key = (dataset, origin_pos, date, model_name)
    rows = []
    horizon = realized.shape[0]
    for metric in REAL_SCORE_METRICS:
        rows.extend(key + (metric, "all", h + 1, float(v)) for h, v in
                    enumerate(scores[metric]))
    for metric in ("crps", "covered"):
        values = scores[metric]
        rows.extend(key + (metric, columns[j], h + 1, float(values[h, j]))
                    for h in range(horizon) for j in range(len(columns)))
    risk_rows = [key + r for r in risk]
    run = (dataset, origin_pos, date, model_name, context.shape[0], seconds, "")
    return rows, risk_rows, run


def _resolve_models(models, random_state) -> dict[str, Any]:
    if isinstance(models, dict):
        return dict(models)
    from jointdist.cli import make_model

    return {name: make_model(name, random_state) for name in models}


def _run_parallel(tasks, n_jobs, backend):
    """Run joblib tasks; "dask" and "ray" go through :func:`joblib.parallel_config`,
    which registers joblib's dask backend (``Parallel(backend="dask")`` does not)."""
    from joblib import Parallel, parallel_config

    if backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError as exc:
            raise ImportError("backend='ray' needs Ray: pip install 'ray[default]'.") from exc
        register_ray()
    if backend == "dask":
        try:
            import distributed  # noqa: F401  (joblib's dask backend lives there)
        except ImportError as exc:
            raise ImportError("backend='dask' needs dask.distributed: pip install "
                              "'jointdist[dask]'.") from exc
    if backend in ("dask", "ray"):
        with parallel_config(backend=backend, n_jobs=-1 if n_jobs is None else n_jobs):
            return Parallel()(tasks)
    return Parallel(n_jobs=n_jobs, backend=backend)(tasks)


@dataclass
class RealBenchmarkResult:
    """The tidy results of :func:`run_real_benchmark`.

    Attributes
    ----------
    scores : DataFrame
        Columns ``dataset, origin, date, model, metric, target, horizon, value``;
        ``metric`` is ``energy``, ``variogram``, ``crps_sum`` (``target == "all"``),
        ``crps`` or ``covered`` (one row per target; ``covered`` is 1 when the realized
        value lies in the central interval).  ``origin`` counts the data set's origins
        from 0 (oldest); ``date`` is the last date of the context.
    risk : DataFrame
        Columns ``dataset, origin, date, model, portfolio, steps, level, var, es,
        realized_pnl, exceeded`` (VaR and ES as losses, see
        :mod:`jointdist.evaluation.risk`).
    runs : DataFrame
        One row per task: ``context_rows``, ``seconds`` (fit + sampling + scoring) and
        ``error`` (empty when it succeeded).
    origins : DataFrame
        Per data set: ``horizon``, ``n_origins``, ``step``, ``overlapping``, first and
        last origin dates, context lengths.
    settings : dict
    """

    scores: pd.DataFrame
    risk: pd.DataFrame
    runs: pd.DataFrame
    origins: pd.DataFrame
    settings: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ summaries
    def origin_scores(self, metric="energy") -> pd.DataFrame:
        """Mean over horizons of a joint metric: rows (dataset, origin), one column per model."""
        if metric not in REAL_SCORE_METRICS:
            raise ValueError(f"metric must be one of {REAL_SCORE_METRICS}; got {metric!r}.")
        df = self.scores[self.scores["metric"] == metric]
        return df.groupby(["dataset", "origin", "model"])["value"].mean().unstack("model")

    def skill(self, metric="energy", baselines=DEFAULT_BASELINES, n_bootstrap=2000,
              random_state=0) -> pd.DataFrame:
        """Relative skill per data set (:func:`~jointdist.evaluation.relative_skill`).

        Each origin is a unit; its score is the metric's mean over horizons.

        Returns
        -------
        DataFrame indexed by ``(dataset, model)`` with the columns of
        :func:`~jointdist.evaluation.relative_skill`.
        """
        table = self.origin_scores(metric)
        parts = {}
        present_sets = set(table.index.get_level_values("dataset"))
        for dataset in [d for d in self.origins.index if d in present_sets]:
            frame = table.loc[dataset].dropna(axis=1, how="all")
            present = [b for b in baselines if b in frame.columns]
            if not present:
                continue
            parts[dataset] = relative_skill(frame, present, n_bootstrap=n_bootstrap,
                                            random_state=random_state)
        if not parts:
            raise ValueError(f"no data set has one of the baselines {list(baselines)}.")
        return pd.concat(parts, names=["dataset"])

    def coverage(self, by_horizon=False) -> pd.DataFrame:
        """Empirical coverage of the central intervals, per data set, model and target.

        With ``by_horizon=True`` one column per horizon, else the mean over horizons.
        """
        df = self.scores[self.scores["metric"] == "covered"]
        keys = ["dataset", "model", "target"]
        if by_horizon:
            return df.groupby(keys + ["horizon"])["value"].mean().unstack("horizon")
        return df.groupby(keys)["value"].mean().rename("coverage").to_frame()

    def var_backtest(self) -> pd.DataFrame:
        """VaR exceedances, Kupiec's test and the ES ratio per data set, model, portfolio,
        steps and level (:func:`~jointdist.evaluation.risk.var_backtest`).

        ``overlapping`` marks h-step rows whose windows overlap (Kupiec's p-value is then
        anti-conservative; see the module docstring).
        """
        rows = []
        keys = ["dataset", "model", "portfolio", "steps", "level"]
        step_of = self.origins["step"].to_dict() if not self.origins.empty else {}
        for key, g in self.risk.groupby(keys, sort=False):
            out = var_backtest(g["realized_pnl"], g["var"], g["es"], level=key[-1])
            out["overlapping"] = bool(key[3] > step_of.get(key[0], key[3]))
            rows.append(dict(zip(keys, key)) | out)
        return pd.DataFrame(rows).set_index(keys)

    def summary(self, baselines=DEFAULT_BASELINES, level=0.95) -> pd.DataFrame:
        """One row per (data set, model): energy-score skill and the 1-step / h-step VaR
        exceedance rates and Kupiec p-values of the equal-weight portfolio at ``level``."""
        skill = self.skill("energy", baselines)[["ratio_of_means", "geo_mean_ratio", "geo_low",
                                                 "geo_high", "share_won", "n_units"]]
        bt = self.var_backtest().reset_index()
        bt = bt[(bt["portfolio"] == "equal_weight") & np.isclose(bt["level"], level)]
        horizon_steps = bt.groupby("dataset")["steps"].transform("max")
        cols = {}
        h_step = (bt["steps"] == horizon_steps) & (bt["steps"] > 1)
        for tag, mask in (("1", bt["steps"] == 1), ("h", h_step)):
            part = bt[mask].set_index(["dataset", "model"])
            cols[f"var{round(level * 100)}_rate_{tag}"] = part["rate"]
            cols[f"kupiec_p_{tag}"] = part["kupiec_pvalue"]
        return skill.join(pd.DataFrame(cols))

    def to_csv(self, directory) -> list[str]:
        """Write ``real_scores.csv``, ``real_risk.csv``, ``real_runs.csv``,
        ``real_origins.csv``, ``real_skill.csv``, ``real_var_backtest.csv`` and
        ``real_coverage.csv`` to ``directory``; returns the paths."""
        import os

        os.makedirs(directory, exist_ok=True)
        tables = {"scores": self.scores, "risk": self.risk, "runs": self.runs,
                  "origins": self.origins}
        out = []
        for name, frame in tables.items():
            path = os.path.join(directory, f"real_{name}.csv")
            frame.to_csv(path, index=name == "origins")
            out.append(path)
        derived = {"var_backtest": self.var_backtest(), "coverage": self.coverage()}
        try:
            derived["skill"] = pd.concat({m: self.skill(m) for m in REAL_SCORE_METRICS},
                                         names=["metric"])
        except ValueError:  # no baseline among the models
            pass
        for name, frame in derived.items():
            path = os.path.join(directory, f"real_{name}.csv")
            frame.to_csv(path)
            out.append(path)
        return out


def run_real_benchmark(models, datasets=None, *, n_origins=40, n_samples=500,
                       max_context=504, step="auto", horizons=None, coverage=0.9,
                       var_levels=(0.95, 0.99), random_state=0, n_jobs=None, backend=None,
                       progress=False, split="test", validation_origins=20
                       ) -> RealBenchmarkResult:
    """Rolling-origin benchmark of joint forecasters on real data sets.

    Parameters
    ----------
    models : dict of str to forecaster, or sequence of str
        Unfitted forecasters (cloned for every origin), or names of
        :data:`jointdist.cli.MODELS` built with ``seed = random_state``.
    datasets : sequence of str, dict of str to DataFrame, or None
        Names of :func:`jointdist.datasets.load_real` (default transform), a dict of
        name to frame (with ``horizons`` given for names that are not real data sets),
        or None for all of :func:`~jointdist.datasets.list_real`.
    n_origins : int, default=40
        Origins per data set (fewer where the data do not allow them).
    n_samples : int, default=500
        Sample paths per forecast.
    max_context : int, default=504
        Most rows of history a model sees at an origin.
    step : int or "auto", default="auto"
        See :func:`rolling_origins`.
    horizons : dict of str to int or None
        Override the data sets' horizons (``RealDataInfo.horizon``).
    coverage : float, default=0.9
        Nominal level of the interval coverage.
    var_levels : sequence of float, default=(0.95, 0.99)
    random_state : int, default=0
        Seed: the draws at origin ``k`` of data set ``d`` use a seed derived from
        ``(random_state, d, k)``, the same for every model.
    n_jobs : int or None, default=None
        Workers of :class:`joblib.Parallel` (None: 1, or the active
        :func:`joblib.parallel_config`).
    backend : {"loky", "threading", "dask", "ray"} or None, default=None
        Joblib backend; "dask" needs a running ``distributed.Client``.
    progress : bool, default=False
        Print one line per data set.
    split : {"test", "validation"}, default="test"
        ``"test"``: the ``n_origins`` latest origins.  ``"validation"``: up to
        ``validation_origins`` origins (step ``"auto"``) on the rows before the first
        test origin, so that no validation window overlaps a test window (see the
        module docstring); data sets without room for one are skipped with a warning.
    validation_origins : int, default=20
        Origins per data set of the validation split.

    Returns
    -------
    RealBenchmarkResult
        Tidy scores, risk rows and per-task runs; see its summaries ``skill``,
        ``coverage``, ``var_backtest`` and ``summary``.  A failed fit or sampling is
        reported in ``runs['error']`` with a ``RuntimeWarning`` and leaves no score rows
        (the skill tables then drop that origin for every model).
    """
    from joblib import delayed

    from jointdist.datasets.real import list_real, load_real, real_dataset_info

    n_samples = check_n_samples(n_samples)
    max_context = check_positive_int(max_context, "max_context", minimum=2)
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be in (0, 1); got {coverage!r}.")
    var_levels = tuple(float(v) for v in var_levels)
    if split not in ("test", "validation"):
        raise ValueError(f"split must be 'test' or 'validation'; got {split!r}.")
    validation_origins = check_positive_int(validation_origins, "validation_origins")
    models = _resolve_models(models, random_state)
    if not models:
        raise ValueError("models is empty.")
    if datasets is None:
        datasets = list(list_real().index)
    frames = datasets if isinstance(datasets, dict) else {n: None for n in datasets}
    horizons = dict(horizons or {})

    tasks, origin_rows = [], []
    for d_index, (name, frame) in enumerate(frames.items()):
        info = None
        if frame is None:
            frame, info = load_real(name, return_info=True)
        else:
            try:
                info = real_dataset_info(name)
            except ValueError:
                info = None
        if name in horizons:
            horizon = check_positive_int(horizons[name], "horizon")
        elif info is not None:
            horizon = info.horizon
        else:
            raise ValueError(f"no horizon for data set {name!r}: pass horizons={{...}}.")
        frame = pd.DataFrame(frame)
        values = frame.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"data set {name!r} has missing or non-finite values.")
        n_targets = values.shape[1]
        min_context = min(info.min_context if info else 252, max_context)
        origins, used_step = rolling_origins(len(values), horizon, n_origins=n_origins,
                                             min_context=min_context, step=step)
        if split == "validation":
            # windows that end before the first test origin's window starts
            if origins[0] - horizon < min_context:
                warnings.warn(f"data set {name!r}: no room for validation origins before "
                              f"its first test origin (row {origins[0]}); skipped.",
                              UserWarning, stacklevel=2)
                continue
            origins, used_step = rolling_origins(int(origins[0]), horizon,
                                                 n_origins=validation_origins,
                                                 min_context=min_context)
        portfolios = {"equal_weight": np.full(n_targets, 1.0 / n_targets)}
        if info is not None and n_targets >= 2:
            portfolios["long_short"] = np.asarray(info.long_short, dtype=np.float64)
        elif n_targets >= 2:
            portfolios["long_short"] = np.r_[1.0, -1.0, np.zeros(n_targets - 2)]
        columns = [str(c) for c in frame.columns]
        contexts = []
        for k, t in enumerate(origins):
            context = values[max(0, t - max_context):t]
            contexts.append(len(context))
            seed = int(np.random.SeedSequence([int(random_state), d_index, k])
                       .generate_state(1)[0])
            date = str(frame.index[t - 1])
            for model_name, model in models.items():
                tasks.append(delayed(_task)(name, k, date, model_name, model, context,
                                            values[t:t + horizon], n_samples, seed,
                                            coverage, var_levels, portfolios, columns))
        origin_rows.append({"dataset": name, "split": split, "horizon": horizon,
                            "n_origins": len(origins),
                            "step": used_step, "overlapping": used_step < horizon,
                            "first_origin": str(frame.index[origins[0] - 1]),
                            "last_origin": str(frame.index[origins[-1] - 1]),
                            "min_context_rows": min(contexts),
                            "max_context_rows": max(contexts), "n_targets": n_targets})
        if progress:
            print(f"{name}: {len(origins)} origins, step {used_step}, horizon {horizon}, "
                  f"{n_targets} series, context {min(contexts)}-{max(contexts)} rows",
                  flush=True)

    if not tasks:
        raise ValueError(f"no data set has {split} origins.")
    outputs = _run_parallel(tasks, n_jobs, backend)
    scores, risk, runs = [], [], []
    for rows, risk_rows, run in outputs:
        scores.extend(rows)
        risk.extend(risk_rows)
        runs.append(run)
        if run[-1]:
            warnings.warn(f"{run[3]} failed on {run[0]} origin {run[1]}: {run[-1]}",
                          RuntimeWarning, stacklevel=2)
    settings = {"models": list(models), "n_origins": n_origins, "n_samples": n_samples,
                "max_context": max_context, "step": step, "coverage": coverage,
                "var_levels": var_levels, "random_state": random_state, "split": split,
                "validation_origins": validation_origins}
    return RealBenchmarkResult(
        scores=pd.DataFrame(scores, columns=_SCORE_COLUMNS),
        risk=pd.DataFrame(risk, columns=_RISK_COLUMNS),
        runs=pd.DataFrame(runs, columns=_RUN_COLUMNS),
        origins=pd.DataFrame(origin_rows).set_index("dataset"),
        settings=settings)


# ---------------------------------------------------------------------- figures
def _subplots(n_panels, ncols=3, size=(4.2, 3.2)):
    from jointdist.plotting import _pyplot

    plt = _pyplot()
    ncols = min(ncols, n_panels)
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_real_scores(result: RealBenchmarkResult, metric="energy", relative_to=None):
    """Mean score per horizon, one panel per data set, one line per model.

    ``relative_to`` (a model name) divides every model's curve by that model's, which
    puts data sets of different scales on one reading (1 = as good as it).
    """
    df = result.scores[result.scores["metric"] == metric]
    table = df.groupby(["dataset", "model", "horizon"])["value"].mean()
    datasets = list(dict.fromkeys(df["dataset"]))
    fig, axes = _subplots(len(datasets))
    for ax, name in zip(axes, datasets):
        curves = table.loc[name].unstack("model")
        if relative_to is not None and relative_to in curves:
            curves = curves.div(curves[relative_to], axis=0)
        for model in curves.columns:
            ax.plot(curves.index, curves[model], label=model)
        ax.set_title(name)
        ax.set_xlabel("horizon")
        ax.set_ylabel(metric if relative_to is None else f"{metric} / {relative_to}")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_real_coverage(result: RealBenchmarkResult):
    """Interval coverage per horizon (mean over targets), with the nominal level."""
    cov = result.coverage(by_horizon=True).groupby(level=["dataset", "model"]).mean()
    datasets = list(dict.fromkeys(cov.index.get_level_values("dataset")))
    nominal = result.settings.get("coverage", 0.9)
    fig, axes = _subplots(len(datasets))
    for ax, name in zip(axes, datasets):
        for model, row in cov.loc[name].iterrows():
            ax.plot(row.index, row.to_numpy(), label=model)
        ax.axhline(nominal, color="k", ls="--", lw=0.8)
        ax.set_ylim(0, 1.02)
        ax.set_title(name)
        ax.set_xlabel("horizon")
        ax.set_ylabel(f"coverage of the {nominal:.0%} interval")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_var_exceedances(result: RealBenchmarkResult, portfolio="equal_weight"):
    """VaR exceedance rates (bars) against their nominal rates (dashes), per data set."""
    bt = result.var_backtest().reset_index()
    bt = bt[bt["portfolio"] == portfolio]
    datasets = list(dict.fromkeys(bt["dataset"]))
    fig, axes = _subplots(len(datasets), size=(5.0, 3.2))
    for ax, name in zip(axes, datasets):
        part = bt[bt["dataset"] == name]
        cases = list(dict.fromkeys(zip(part["steps"], part["level"])))
        models = list(dict.fromkeys(part["model"]))
        width = 0.8 / max(1, len(models))
        for i, model in enumerate(models):
            rows = part[part["model"] == model].set_index(["steps", "level"])
            ax.bar(np.arange(len(cases)) + i * width,
                   [rows.loc[c, "rate"] for c in cases], width, label=model)
        for j, (_, level) in enumerate(cases):
            ax.hlines(1 - level, j - 0.1, j + 0.9 - width, colors="k", linestyles="--")
        ax.set_xticks(np.arange(len(cases)) + 0.4 - width / 2,
                      [f"{s}-step {lv:.0%}" for s, lv in cases], fontsize="small")
        ax.set_title(f"{name} ({portfolio})")
        ax.set_ylabel("exceedance rate")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig
