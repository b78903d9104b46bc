"""Command line of jointdist (``jointdist`` or ``python -m jointdist``).

``jointdist demo`` (the default)
    Fit the historical-simulation forecasters on a built-in regime-switching random
    walk whose true future law is known, and print how close each forecast is to it.
``jointdist forecast data.csv --model dcc --horizon 20 --samples 1000 --out paths.npz``
    Fit a model on a CSV file and write its sample paths and a quantile summary.
``jointdist benchmark [--quick]``
    The zero-shot distribution-recovery comparison of seed 000 on SDE data.
``jointdist generate sde|dynlmc --out data.npz``
    Write a synthetic data set to disk.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

__all__ = ["MODELS", "build_parser", "main", "make_model"]


def _historical(seed):
    from jointdist.models import HistoricalSimulation

    return HistoricalSimulation("iid", random_state=seed)


def _historical_filtered(seed):
    from jointdist.models import HistoricalSimulation

    return HistoricalSimulation("filtered", random_state=seed)


def _dcc(seed):
    from jointdist.models import DCCGarchForecaster

    return DCCGarchForecaster(random_state=seed)


def _diffcopula(seed):
    from jointdist.models import DiffusionCopulaForecaster

    return DiffusionCopulaForecaster(random_state=seed)


def _jointfm(seed, head=None):
    from jointdist.models import JointFMForecaster

    return JointFMForecaster(head=head, random_state=seed)


def _jointfm_skewt(seed):
    return _jointfm(seed, "skewt")


def _jointfm_gmm(seed):
    return _jointfm(seed, "gmm")


#: Model names of the command line and the factories that build them (seed -> model).
MODELS = {
    "hs": _historical,
    "hs-filtered": _historical_filtered,
    "dcc": _dcc,
    "diffcopula": _diffcopula,
    "jointfm": _jointfm,  # the checkpoint's default head
    "jointfm-skewt": _jointfm_skewt,
    "jointfm-gmm": _jointfm_gmm,
}


def make_model(name: str, seed: int | None = None):
    """The forecaster called ``name`` on the command line (see :data:`MODELS`)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(MODELS)}.")
    return MODELS[name](seed)


def _demo(args: argparse.Namespace) -> int:
    from jointdist.datasets.regime_walk import make_regime_walk
    from jointdist.models import HistoricalSimulation

    data = make_regime_walk(n_timesteps=args.history, n_targets=args.targets,
                            horizon=args.horizon, n_futures=args.samples,
                            random_state=args.seed)
    print(f"Built-in data: {args.targets} correlated random walks, {args.history} steps, "
          f"volatility regime at the end: {'turbulent' if data.regimes[-1] else 'calm'}.")
    print(f"Forecast: {args.samples} joint sample paths over {args.horizon} steps; scored "
          f"against {args.samples} oracle futures (exact law of the future).\n")
    models = {
        "HS iid": HistoricalSimulation("iid", random_state=args.seed),
        "HS stationary": HistoricalSimulation("stationary", random_state=args.seed),
        "HS filtered": HistoricalSimulation("filtered", random_state=args.seed),
    }
    header = (f"{'model':<16}{'energy dist.':>14}{'marginal en.':>14}{'CRPS-sum':>12}"
              f"{'ES (1 path)':>13}{'time [ms]':>11}")
    print(header)
    print("-" * len(header))
    rows = {}
    for name, model in models.items():
        start = time.perf_counter()
        samples = model.fit(data.history).predict_samples(args.horizon, args.samples)
        elapsed = 1e3 * (time.perf_counter() - start)
        rows[name] = samples
        _print_row(name, samples, data, elapsed)
    # reference: a second, independent oracle draw scores what a perfect model would
    reference = make_regime_walk(n_timesteps=args.history, n_targets=args.targets,
                                 horizon=args.horizon, n_futures=2 * args.samples,
                                 random_state=args.seed).futures[args.samples:]
    _print_row("oracle (ref.)", reference, data, float("nan"))
    print("\nenergy dist. / marginal en.: energy distance to the oracle futures, joint and "
          "per target (lower is better, 0 is perfect);\nCRPS-sum: expected CRPS of the "
          "sum over targets; ES (1 path): energy score against one realized future.")
    return 0


def _print_row(name, samples, data, elapsed_ms) -> None:
    from jointdist.metrics import crps_sum, energy_distance, energy_score, marginal_energy

    ed = energy_distance(samples, data.futures)
    me = marginal_energy(samples, data.futures)
    # expected CRPS-sum over the oracle futures: each oracle path plays the observation
    cs = float(np.mean(crps_sum(data.futures, samples[None], per_horizon=False)))
    es = energy_score(data.realized, samples)
    print(f"{name:<16}{ed:>14.3f}{me:>14.3f}{cs:>12.3f}{es:>13.3f}{elapsed_ms:>11.1f}")


def read_csv_targets(path, time_column=None):
    """Read a CSV of one time column and one numeric column per target.

    Returns a DataFrame indexed by time (parsed as dates when they parse), with clear
    errors for missing values, non-numeric columns and empty files.
    """
    import pandas as pd

    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file.")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path}: not a readable CSV file ({exc}).") from exc
    if frame.shape[1] < 2:
        raise ValueError(f"{path}: expected a time column and at least one target column; "
                         f"found {frame.shape[1]} column(s).")
    time_column = frame.columns[0] if time_column is None else time_column
    if time_column not in frame.columns:
        raise ValueError(f"{path}: no column named {time_column!r}.")
    index = frame.pop(time_column)
    try:
        index = pd.DatetimeIndex(pd.to_datetime(index))
    except (ValueError, TypeError):
        index = pd.Index(index)
    frame.index = index
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ValueError(f"{path}: non-numeric target column(s) {bad}.")
    missing = frame.isna().sum()
    if missing.any():
        where = ", ".join(f"{c} ({n})" for c, n in missing[missing > 0].items())
        raise ValueError(f"{path}: missing values in {where}; fill or drop them first.")
    return frame


def _forecast(args: argparse.Namespace) -> int:
    from jointdist.base import check_horizon, check_n_samples

    horizon, n_samples = check_horizon(args.horizon), check_n_samples(args.samples)
    y = read_csv_targets(args.data, args.time_column)
    model = make_model(args.model, args.seed)
    if "verbose" in model.get_params():  # models that train show their progress bars
        model.set_params(verbose=True)
    print(f"Fitting {type(model).__name__} on {y.shape[0]} rows x {y.shape[1]} targets ...")
    model.fit(y)
    samples = model.predict_samples(horizon, n_samples)
    index = model.future_index(horizon)
    out = args.out
    if out.endswith(".parquet"):
        import pandas as pd

        frame = pd.DataFrame(samples.reshape(-1, samples.shape[2]), columns=y.columns.astype(str),
                             index=pd.MultiIndex.from_product(
                                 [np.arange(n_samples), index.astype(str)],
                                 names=["sample", "time"]))
        try:
            frame.to_parquet(out)
        except ImportError as exc:
            raise ValueError("writing parquet needs pyarrow (pip install pyarrow); or use "
                             "an .npz output.") from exc
    else:
        np.savez_compressed(out, samples=samples,
                            targets=np.array([str(c) for c in y.columns], dtype=str),
                            time=np.array([str(t) for t in index], dtype=str))
    quantiles = model.predict_quantiles(horizon, [0.05, 0.25, 0.5, 0.75, 0.95], n_samples)
    quantiles.columns = [f"{target}_q{q:g}" for target, q in quantiles.columns]
    quantile_path = os.path.splitext(out)[0] + "_quantiles.csv"
    quantiles.rename_axis("time").to_csv(quantile_path)
    print(f"Wrote {n_samples} sample paths of {horizon} steps to {out} and a quantile "
          f"summary to {quantile_path}.")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    import pandas as pd

    from jointdist.datasets import load_sde_benchmark
    from jointdist.evaluation import run_oracle_benchmark, summarize_benchmark

    if args.quick:
        args.systems, args.samples, args.futures = 20, 300, 300
    print(f"SDE benchmark: level {args.level}, {args.systems} systems, N={args.targets}, "
          f"T=504, H=63, {args.futures} oracle futures, {args.samples} samples per model.")
    bench = load_sde_benchmark(level=args.level, n_systems=args.systems,
                               n_targets=args.targets, n_futures=args.futures,
                               random_state=args.seed, device="cpu")
    models = {name: make_model(name, args.seed) for name in args.models.split(",")}
    results = run_oracle_benchmark(models, bench, n_samples=args.samples,
                                   random_state=args.seed, progress=True)
    table = summarize_benchmark(results)
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(table)
    os.makedirs(args.out_dir, exist_ok=True)
    csv_path = os.path.join(args.out_dir, f"sde_level{args.level}_results.csv")
    results.to_csv(csv_path, index=False)
    print(f"Per-horizon results: {csv_path}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from jointdist.plotting import plot_metric_by_horizon
    except ImportError:
        print("(matplotlib not installed: no figure)")
        return 0
    fig = plot_metric_by_horizon(results)
    fig_path = os.path.join(args.out_dir, f"sde_level{args.level}_by_horizon.png")
    fig.savefig(fig_path, dpi=120)
    print(f"Figure: {fig_path}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    if args.kind == "sde":
        from jointdist.datasets import load_sde_benchmark

        data = load_sde_benchmark(level=args.level, n_systems=args.n, n_targets=args.targets,
                                  n_futures=args.futures, random_state=args.seed,
                                  device="cpu")
        np.savez_compressed(args.out, history=data.history, futures=data.futures,
                            level=args.level, dt=data.dt)
        print(f"Wrote {args.n} level-{args.level} SDE systems (history {data.history.shape}, "
              f"futures {data.futures.shape}) to {args.out}.")
    else:
        from jointdist.datasets import load_dynlmc

        data = load_dynlmc(variant=args.variant, n_samples=args.n, n_channels=args.channels,
                           length=args.length, random_state=args.seed)
        np.savez_compressed(args.out, data=data, variant=args.variant)
        print(f"Wrote DynLMC-{args.variant} {data.shape} to {args.out}.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jointdist`` command."""
    parser = argparse.ArgumentParser(
        prog="jointdist",
        description="Joint probabilistic forecasts of coupled time series: a demo (the "
                    "default), forecasts from CSV files, the SDE benchmark, data sets.")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="fit forecasters on built-in data and print scores")
    demo.add_argument("--targets", type=int, default=4, help="number of series (4)")
    demo.add_argument("--history", type=int, default=500, help="history length (500)")
    demo.add_argument("--horizon", type=int, default=20, help="forecast horizon (20)")
    demo.add_argument("--samples", type=int, default=1000, help="sample paths (1000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")
    demo.set_defaults(func=_demo)

    fc = sub.add_parser("forecast", help="fit a model on a CSV file and write sample paths")
    fc.add_argument("data", help="CSV: a time column, then one numeric column per target")
    fc.add_argument("--model", default="hs", choices=sorted(MODELS))
    fc.add_argument("--horizon", type=int, required=True)
    fc.add_argument("--samples", type=int, default=1000)
    fc.add_argument("--out", required=True,
                    help="samples file: .npz (arrays samples (S, H, N), targets, time) or "
                         ".parquet (rows (sample, time), one column per target); a "
                         "<out>_quantiles.csv summary (columns <target>_q<level>) is "
                         "written beside it")
    fc.add_argument("--time-column", default=None, help="default: the first column")
    fc.add_argument("--seed", type=int, default=0)
    fc.set_defaults(func=_forecast)

    bm = sub.add_parser("benchmark", help="seed 000's comparison on SDE data")
    bm.add_argument("--quick", action="store_true",
                    help="20 systems, 300 samples and futures (a few minutes on 2 cores)")
    bm.add_argument("--level", type=int, default=7)
    bm.add_argument("--systems", type=int, default=200)
    bm.add_argument("--targets", type=int, default=10)
    bm.add_argument("--samples", type=int, default=1000)
    bm.add_argument("--futures", type=int, default=1000)
    bm.add_argument("--models", default="hs,dcc,jointfm",
                    help="comma-separated: " + ", ".join(MODELS))
    bm.add_argument("--seed", type=int, default=20261122)
    bm.add_argument("--out-dir", default="benchmark_output")
    bm.set_defaults(func=_benchmark)

    gen = sub.add_parser("generate", help="write a synthetic data set (.npz)")
    gen.add_argument("kind", choices=["sde", "dynlmc"])
    gen.add_argument("--out", required=True)
    gen.add_argument("--n", type=int, default=10, help="systems (sde) or samples (dynlmc)")
    gen.add_argument("--level", type=int, default=7, help="sde: curriculum level 0-9")
    gen.add_argument("--targets", type=int, default=10, help="sde: targets per system")
    gen.add_argument("--futures", type=int, default=1000, help="sde: oracle futures")
    gen.add_argument("--variant", default="combined",
                     choices=["drift", "lag", "regime", "combined"], help="dynlmc variant")
    gen.add_argument("--channels", type=int, default=160, help="dynlmc: channels")
    gen.add_argument("--length", type=int, default=1024, help="dynlmc: series length")
    gen.add_argument("--seed", type=int, default=0)
    gen.set_defaults(func=_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``jointdist`` command line; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["demo"] + argv  # the main job on built-in defaults
    args = parser.parse_args(argv)
    # one line per warning: the default format repeats the library's source line, which
    # tells a command-line user nothing (e.g. arch's ConvergenceWarning in DCC stage 1)
    import warnings

    format_before = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return args.func(args)
    except ValueError as exc:  # bad input: a message, not a traceback
        print(f"jointdist {args.command}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = format_before


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"{category.__name__}: {message}\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
