"""Plots of joint forecasts and of their scores (matplotlib, an optional dependency).

Install with ``pip install jointdist[plot]``.  Every function draws on the axes it is
given (or on a new figure) and returns the matplotlib ``Figure``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_fan_chart", "plot_metric_by_horizon", "plot_pairwise_samples",
           "plot_pit_diagnostics"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("jointdist.plotting needs matplotlib: pip install "
                          "'jointdist[plot]'") from exc
    return plt


def _check_samples(samples) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 3:
        raise ValueError("samples must have shape (n_samples, horizon, n_targets); got "
                         f"{samples.shape}.")
    return samples


def _band_label(lo: float, hi: float) -> str:
    """``"90% band"`` for ``(0.05, 0.95)`` (rounded, not truncated: 0.95 - 0.05 < 0.9)."""
    return f"{round(100 * (hi - lo), 6):g}% band"


def _time_axis(index):
    """Values matplotlib can draw for a pandas index (periods become timestamps)."""
    import pandas as pd

    if isinstance(index, pd.PeriodIndex):
        return index.to_timestamp()
    return index


def _quantile_frame(frame):
    """(quantile levels, array (n_quantiles, horizon, n_targets), target names) of a
    ``predict_quantiles`` DataFrame with columns ``(target, quantile)``."""
    import pandas as pd

    columns = frame.columns
    if not (isinstance(columns, pd.MultiIndex) and columns.nlevels == 2):
        raise ValueError("A DataFrame of quantiles needs columns (target, quantile), the "
                         "layout predict_quantiles returns for pandas input.")
    targets = list(dict.fromkeys(columns.get_level_values(0)))
    levels = sorted({float(q) for q in columns.get_level_values(1)})
    values = np.empty((len(levels), len(frame), len(targets)))
    for j, target in enumerate(targets):
        for i, level in enumerate(levels):
            matches = [c for c in columns if c[0] == target and float(c[1]) == level]
            if not matches:
                raise ValueError(f"Quantile {level} is missing for target {target!r}.")
            values[i, :, j] = frame[matches[0]].to_numpy(dtype=np.float64)
    return np.array(levels), values, targets


def plot_fan_chart(samples, history=None, *, targets=None, names=None,
                   quantile_pairs=((0.05, 0.95), (0.25, 0.75)), n_paths=5,
                   history_tail=100, future_index=None, random_state=0, axes=None):
    """Fan chart per target: quantile bands, the median and a few sample paths.

    Parameters
    ----------
    samples : array-like of shape (n_samples, horizon, n_targets), or DataFrame
        Sample paths (``predict_samples``), or the quantile DataFrame that
        ``predict_quantiles`` returns for pandas input (columns ``(target, quantile)``,
        indexed by the future time points): its quantiles must include those of
        ``quantile_pairs`` (and 0.5 for the median); no paths are drawn then.
    history : array-like, Series or DataFrame of shape (n_timesteps, n_targets), optional
        Drawn before the forecast (its last ``history_tail`` rows).  With a pandas
        history the x axis shows its time index, and the forecast continues it.
    targets : sequence of int, optional
        Targets to draw (default: up to the first 6).
    names : sequence of str, optional
        Target names for the titles (default: the columns of pandas input).
    quantile_pairs : sequence of (float, float)
        Bands drawn, outermost first, labelled by their coverage (``(0.05, 0.95)`` is
        the 90% band).
    n_paths : int, default=5
        Individual sample paths drawn on top (paths are joint scenarios).
    history_tail : int, default=100
    future_index : sequence, optional
        Time points of the forecast steps.  Default: the index of a quantile
        DataFrame, else the continuation of a pandas history's DatetimeIndex /
        PeriodIndex / integer index, else the steps ``1..horizon`` (the history then
        ends at step 0).
    random_state : int, default=0
        Which paths are drawn.
    axes : sequence of matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import pandas as pd

    from jointdist.base import extend_time_index

    plt = _pyplot()
    quantile_levels = quantile_values = None
    if isinstance(samples, pd.DataFrame):
        quantile_levels, quantile_values, frame_names = _quantile_frame(samples)
        horizon, n_targets = quantile_values.shape[1:]
        names = frame_names if names is None else names
        if future_index is None and not isinstance(samples.index, pd.RangeIndex):
            future_index = samples.index
    else:
        samples = _check_samples(samples)
        n_samples, horizon, n_targets = samples.shape
    targets = list(range(min(n_targets, 6))) if targets is None else list(targets)
    if names is None and isinstance(history, (pd.DataFrame, pd.Series)):
        names = list(history.to_frame().columns if isinstance(history, pd.Series)
                     else history.columns)

    hist = hist_x = None
    if history is not None:
        hist = np.asarray(history, dtype=np.float64)
        hist = hist[:, None] if hist.ndim == 1 else hist
        tail = min(history_tail, len(hist))
        if isinstance(history, (pd.DataFrame, pd.Series)):
            if future_index is None:
                future_index = extend_time_index(history.index, horizon)
            hist_x = _time_axis(history.index[-tail:])
        hist = hist[-tail:]
    if future_index is not None:
        if len(future_index) != horizon:
            raise ValueError(f"future_index has {len(future_index)} time points for "
                             f"{horizon} forecast steps.")
        t_future = _time_axis(pd.Index(future_index))
    else:
        t_future = np.arange(1, horizon + 1)
        if hist_x is not None:  # a pandas history whose index cannot be continued
            hist_x = None
    if hist is not None and hist_x is None:
        hist_x = np.arange(-len(hist) + 1, 1)
    dates = isinstance(t_future, pd.DatetimeIndex)

    def quantiles_at(levels, j):
        if quantile_values is None:
            return np.quantile(samples[:, :, j], levels, axis=0)
        rows = []
        for level in levels:
            hit = np.flatnonzero(np.isclose(quantile_levels, level, rtol=0, atol=1e-9))
            if hit.size == 0:
                raise ValueError(f"The quantile DataFrame has no {level} quantile (it has "
                                 f"{quantile_levels.tolist()}); pass quantile_pairs it "
                                 "holds, or predict those quantiles.")
            rows.append(quantile_values[hit[0], :, j])
        return np.array(rows)

    if axes is None:
        fig, axes = plt.subplots(len(targets), 1, figsize=(8, 2.2 * len(targets)),
                                 sharex=True, squeeze=False)
        axes = axes[:, 0]
    fig = axes[0].figure
    picks = None
    if quantile_values is None and n_paths > 0:
        picks = np.random.default_rng(random_state).choice(
            n_samples, min(n_paths, n_samples), replace=False)
    for ax, j in zip(axes, targets):
        if hist is not None:
            ax.plot(hist_x, hist[:, j], color="black", lw=1, label="history")
        for k, (lo, hi) in enumerate(quantile_pairs):
            q_lo, q_hi = quantiles_at([lo, hi], j)
            ax.fill_between(t_future, q_lo, q_hi, color="C0", alpha=0.2 + 0.15 * k, lw=0,
                            label=_band_label(lo, hi))
        if quantile_values is None or np.isclose(quantile_levels, 0.5).any():
            ax.plot(t_future, quantiles_at([0.5], j)[0], color="C0", lw=1.5, label="median")
        if picks is not None:
            ax.plot(t_future, samples[picks, :, j].T, color="C1", lw=0.6, alpha=0.8)
        ax.set_title(names[j] if names is not None else f"target {j}", fontsize=9)
    axes[0].legend(fontsize=7, loc="upper left")
    if dates:
        fig.autofmt_xdate()
    else:
        axes[-1].set_xlabel("steps ahead" if future_index is None else "time")
    fig.tight_layout()
    return fig


def plot_pairwise_samples(samples, horizon_index=-1, *, targets=None, names=None,
                          max_points=2000, reference=None, random_state=0):
    """Scatter matrix of the samples at one horizon: the joint law, pair by pair.

    The forecast fills the panels below the diagonal and the reference (if given) the
    panels above it, so that mirrored panels compare the same pair; each panel is
    annotated with the Pearson correlation of its sample set (computed on all its
    samples), and the diagonal overlays the marginal histograms.  The title names the
    step ahead.

    Parameters
    ----------
    samples : array-like of shape (n_samples, horizon, n_targets)
    horizon_index : int, default=-1
        Which horizon (0-based; -1 is the last).
    targets : sequence of int, optional
        Targets to include (default: up to the first 4).
    names : sequence of str, optional
    max_points : int, default=2000
        Points drawn per panel (a random subset; the correlations use every sample).
    reference : array-like of shape (n_ref, horizon, n_targets), optional
        A second sample set (e.g. oracle futures), drawn above the diagonal in another
        colour.  Without it the forecast fills both triangles.
    random_state : int, default=0

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    samples = _check_samples(samples)
    horizon = samples.shape[1]
    if not -horizon <= horizon_index < horizon:
        raise ValueError(f"horizon_index {horizon_index} is out of range for a horizon of "
                         f"{horizon} steps.")
    step = horizon_index % horizon + 1
    targets = list(range(min(samples.shape[2], 4))) if targets is None else list(targets)
    k = len(targets)
    rng = np.random.default_rng(random_state)
    forecast = ("forecast", samples[:, horizon_index][:, targets], "C0")
    sets = [forecast]
    if reference is not None:
        reference = _check_samples(reference)
        if reference.shape[1:] != samples.shape[1:]:
            raise ValueError(f"reference has shape {reference.shape}; it needs the horizon "
                             f"and targets of samples, {samples.shape[1:]}.")
        sets.append(("reference", reference[:, horizon_index][:, targets], "C3"))
    upper = sets[-1]  # the reference, or the forecast again

    def shown(values):
        if values.shape[0] <= max_points:
            return values
        return values[rng.choice(values.shape[0], max_points, replace=False)]

    fig, axes = plt.subplots(k, k, figsize=(2.2 * k, 2.2 * k), squeeze=False)
    drawn = {label: shown(values) for label, values, _ in sets}
    for r in range(k):
        for c in range(k):
            ax = axes[r, c]
            if r == c:
                for label, values, color in sets:
                    ax.hist(values[:, r], bins=40, color=color, alpha=0.5, density=True)
                continue
            label, values, color = forecast if r > c else upper
            points = drawn[label]
            ax.scatter(points[:, c], points[:, r], s=2, color=color, alpha=0.3, label=label)
            rho = np.corrcoef(values[:, c], values[:, r])[0, 1]
            ax.text(0.04, 0.96, f"\u03c1 = {rho:.2f}", transform=ax.transAxes, fontsize=7,
                    va="top", color=color,
                    bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1})
    for i, j in enumerate(targets):
        name = names[j] if names is not None else f"target {j}"
        axes[-1, i].set_xlabel(name, fontsize=8)
        axes[i, 0].set_ylabel(name, fontsize=8)
    title = f"joint samples {step} step{'s' if step > 1 else ''} ahead"
    bottom = 0.0
    if reference is not None:
        title += "\nforecast below the diagonal, reference above"
        if k > 1:
            handles = [axes[1, 0].collections[0], axes[0, 1].collections[0]]
            fig.legend(handles, ["forecast", "reference"], loc="lower center", ncol=2,
                       fontsize=7, markerscale=4, frameon=False)
            bottom = 0.45 / (2.2 * k)  # room for the legend (in figure fractions)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def plot_metric_by_horizon(results, metrics=None, *, ax=None):
    """Per-horizon mean of each metric for each model (seed 000, Figure 2 style).

    Parameters
    ----------
    results : pandas.DataFrame
        Tidy rows with columns ``model``, ``horizon``, ``metric``, ``value``, as
        returned by :func:`jointdist.evaluation.run_oracle_benchmark`.
    metrics : sequence of str, optional
        Metrics to draw, one panel each (default: all in ``results``).
    ax : matplotlib Axes, optional
        Only when a single metric is drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    required = {"model", "horizon", "metric", "value"}
    if not required.issubset(getattr(results, "columns", ())):
        raise ValueError(f"results needs the columns {sorted(required)}.")
    metrics = list(dict.fromkeys(results["metric"])) if metrics is None else list(metrics)
    if ax is not None:
        if len(metrics) != 1:
            raise ValueError("ax can only be given for a single metric.")
        axes, fig = [ax], ax.figure
    else:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4),
                                 squeeze=False)
        axes = axes[0]
    means = results.groupby(["metric", "model", "horizon"])["value"].mean()
    for axis, metric in zip(axes, metrics):
        for model, curve in means.loc[metric].groupby(level="model"):
            curve = curve.droplevel("model")
            axis.plot(curve.index, curve.values, label=model)
        axis.set_title(metric.replace("_", " "), fontsize=10)
        axis.set_xlabel("horizon")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("mean over systems (lower is better)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_pit_diagnostics(pit, *, names=None, bins=10, max_targets=6):
    """Calibration of marginal forecasts from their PIT values: histogram and QQ plot.

    Calibrated marginals give uniform PIT values: a flat histogram at density 1 and,
    after the probit transform, a normal QQ plot on the diagonal (seed 002, App. D).
    The PIT values of a fitted :class:`~jointdist.models.DiffusionCopulaForecaster`
    are its ``pit_`` attribute (training data) or ``marginal_pit(y)`` (new data).

    Parameters
    ----------
    pit : array-like of shape (n,) or (n, n_targets), values in [0, 1]
    names : sequence of str, optional
    bins : int, default=10
    max_targets : int, default=6
        Targets drawn (the first ones).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from jointdist.models.diffusion_copula.diagnostics import (
        pit_histogram,
        pit_ks_test,
        qq_points,
    )

    plt = _pyplot()
    pit = np.asarray(pit, dtype=np.float64)
    pit = pit[:, None] if pit.ndim == 1 else pit
    pit = pit[:, :max_targets]
    density, edges = pit_histogram(pit, bins=bins)
    theoretical, empirical = qq_points(pit)
    _, pvalues = pit_ks_test(pit)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    centres = 0.5 * (edges[:-1] + edges[1:])
    width = (edges[1] - edges[0]) / (pit.shape[1] + 1)
    for j in range(pit.shape[1]):
        label = (names[j] if names is not None else f"target {j}") + f" (KS p={pvalues[j]:.2f})"
        axes[0].bar(centres + (j - pit.shape[1] / 2) * width, density[:, j], width=width,
                    label=label, alpha=0.8)
        axes[1].plot(theoretical, empirical[:, j], lw=1, label=label)
    axes[0].axhline(1.0, color="black", lw=1, ls="--")
    axes[0].set_xlabel("PIT")
    axes[0].set_ylabel("density")
    axes[0].set_title("PIT histogram (flat = calibrated)", fontsize=10)
    lim = float(np.max(np.abs(theoretical)))
    axes[1].plot([-lim, lim], [-lim, lim], color="black", lw=1, ls="--")
    axes[1].set_xlabel("normal quantile")
    axes[1].set_ylabel("probit of sorted PIT")
    axes[1].set_title("normal QQ of probit(PIT)", fontsize=10)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
