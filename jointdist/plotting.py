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


def plot_fan_chart(samples, history=None, *, targets=None, names=None,
                   quantile_pairs=((0.05, 0.95), (0.25, 0.75)), n_paths=5,
                   history_tail=100, random_state=0, axes=None):
    """Fan chart per target: quantile bands, the median and a few sample paths.

    Parameters
    ----------
    samples : array-like of shape (n_samples, horizon, n_targets)
    history : array-like of shape (n_timesteps, n_targets), optional
        Drawn before the forecast (its last ``history_tail`` rows).
    targets : sequence of int, optional
        Targets to draw (default: up to the first 6).
    names : sequence of str, optional
        Target names for the titles.
    quantile_pairs : sequence of (float, float)
        Bands drawn, outermost first.
    n_paths : int, default=5
        Individual sample paths drawn on top (paths are joint scenarios).
    history_tail : int, default=100
    random_state : int, default=0
        Which paths are drawn.
    axes : sequence of matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    samples = _check_samples(samples)
    n_samples, horizon, n_targets = samples.shape
    targets = list(range(min(n_targets, 6))) if targets is None else list(targets)
    if axes is None:
        fig, axes = plt.subplots(len(targets), 1, figsize=(8, 2.2 * len(targets)),
                                 sharex=True, squeeze=False)
        axes = axes[:, 0]
    fig = axes[0].figure
    hist = None if history is None else np.asarray(history, dtype=np.float64)
    if hist is not None and hist.ndim == 1:
        hist = hist[:, None]
    t_future = np.arange(1, horizon + 1)
    picks = np.random.default_rng(random_state).choice(n_samples, min(n_paths, n_samples),
                                                       replace=False)
    for ax, j in zip(axes, targets):
        if hist is not None:
            tail = hist[-history_tail:, j]
            ax.plot(np.arange(-len(tail) + 1, 1), tail, color="black", lw=1)
        for k, (lo, hi) in enumerate(quantile_pairs):
            q_lo, q_hi = np.quantile(samples[:, :, j], [lo, hi], axis=0)
            ax.fill_between(t_future, q_lo, q_hi, color="C0", alpha=0.2 + 0.15 * k, lw=0,
                            label=f"{int(100 * (hi - lo))}% band")
        ax.plot(t_future, np.median(samples[:, :, j], axis=0), color="C0", lw=1.5,
                label="median")
        ax.plot(t_future, samples[picks, :, j].T, color="C1", lw=0.6, alpha=0.8)
        ax.set_title(names[j] if names is not None else f"target {j}", fontsize=9)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("steps ahead")
    fig.tight_layout()
    return fig


def plot_pairwise_samples(samples, horizon_index=-1, *, targets=None, names=None,
                          max_points=2000, reference=None, random_state=0):
    """Scatter matrix of the samples at one horizon: the joint law, pair by pair.

    Parameters
    ----------
    samples : array-like of shape (n_samples, horizon, n_targets)
    horizon_index : int, default=-1
        Which horizon (0-based; -1 is the last).
    targets : sequence of int, optional
        Targets to include (default: up to the first 4).
    names : sequence of str, optional
    max_points : int, default=2000
    reference : array-like of shape (n_ref, horizon, n_targets), optional
        A second sample set (e.g. oracle futures) drawn in another colour.
    random_state : int, default=0

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    samples = _check_samples(samples)
    targets = list(range(min(samples.shape[2], 4))) if targets is None else list(targets)
    k = len(targets)
    rng = np.random.default_rng(random_state)
    sets = [("forecast", samples, "C0")]
    if reference is not None:
        sets.append(("reference", _check_samples(reference), "C3"))
    fig, axes = plt.subplots(k, k, figsize=(2.2 * k, 2.2 * k), squeeze=False)
    for label, data, color in sets:
        at_h = data[:, horizon_index][:, targets]
        if at_h.shape[0] > max_points:
            at_h = at_h[rng.choice(at_h.shape[0], max_points, replace=False)]
        for r in range(k):
            for c in range(k):
                ax = axes[r, c]
                if r == c:
                    ax.hist(at_h[:, r], bins=40, color=color, alpha=0.5, density=True)
                else:
                    ax.scatter(at_h[:, c], at_h[:, r], s=2, color=color, alpha=0.3,
                               label=label if (r, c) == (1, 0) else None)
    for i, j in enumerate(targets):
        name = names[j] if names is not None else f"target {j}"
        axes[-1, i].set_xlabel(name, fontsize=8)
        axes[i, 0].set_ylabel(name, fontsize=8)
    if k > 1 and reference is not None:
        axes[1, 0].legend(fontsize=7, markerscale=4)
    fig.tight_layout()
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
