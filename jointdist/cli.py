"""Command line of jointdist (``jointdist`` or ``python -m jointdist``).

``jointdist benchmark [--quick]``
    The main job (the README's first command): the zero-shot distribution-recovery
    comparison of seed 000 on SDE data, with a per-horizon figure.
``jointdist demo`` (the default command, run when no command is given)
    Fit the historical-simulation forecasters on a built-in regime-switching random
    walk whose true future law is known, and print how close each forecast is to it.
``jointdist forecast data.csv --model dcc --horizon 20 --samples 1000 --out paths.npz``
    Fit a model on a CSV file and write its sample paths and a quantile summary.
``jointdist generate sde|dynlmc --out data.npz``
    Write a synthetic data set to disk.

Only the standard library is imported up front; each command imports what it uses, so
``jointdist --help`` starts quickly.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

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


def _coupled(seed):
    from jointdist.models import CopulaCoupledForecaster, DCCGarchForecaster, JointFMForecaster

    # JointFM's marginals in DCC-GARCH's rank structure (ensemble copula coupling)
    return CopulaCoupledForecaster(marginals=JointFMForecaster(),
                                   dependence=DCCGarchForecaster(), random_state=seed)


#: Model names of the command line and the factories that build them (seed -> model).
MODELS = {
    "hs": _historical,
    "hs-filtered": _historical_filtered,
    "dcc": _dcc,
    "diffcopula": _diffcopula,
    "jointfm": _jointfm,  # the checkpoint's default head
    "jointfm-skewt": _jointfm_skewt,
    "jointfm-gmm": _jointfm_gmm,
    "coupled": _coupled,
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
    import numpy as np

    from jointdist.metrics import crps_sum, energy_distance, energy_score, marginal_energy

    ed = energy_distance(samples, data.futures)
    me = marginal_energy(samples, data.futures)
    # expected CRPS-sum over the oracle futures: each oracle path plays the observation
    cs = float(np.mean(crps_sum(data.futures, samples[None], per_horizon=False)))
    es = energy_score(data.realized, samples)
    print(f"{name:<16}{ed:>14.3f}{me:>14.3f}{cs:>12.3f}{es:>13.3f}{elapsed_ms:>11.1f}")


def read_csv_targets(path, time_column=None):
    """Read a CSV of one numeric column per target and an optional time column.

    The time column is ``time_column`` when given; otherwise it is the first column when
    that column is not numeric (parsed as dates when it parses, kept as labels when it
    does not).  A numeric first column is a target, and the rows are then numbered
    0, 1, ...: taking a target for timestamps would drop a series without a word.

    Returns a DataFrame indexed by time (a DatetimeIndex for dates; the row numbers,
    with no index name, when there is no time column), with clear errors for missing
    values, non-numeric columns, files without rows and unreadable files.
    """
    import warnings

    import pandas as pd

    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file.")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV file ({exc}).") from exc
    if frame.shape[0] == 0:
        raise ValueError(f"{path}: the file has a header but no rows of data.")
    if time_column is not None:
        if time_column not in frame.columns:
            raise ValueError(f"{path}: no column named {time_column!r}; the columns are "
                             f"{[str(c) for c in frame.columns]}.")
    elif not pd.api.types.is_numeric_dtype(frame.iloc[:, 0]):
        time_column = frame.columns[0]
    if time_column is not None:
        times = frame.pop(time_column)
        if frame.shape[1] == 0:
            raise ValueError(f"{path}: no target column besides the time column "
                             f"{time_column!r}.")
        if pd.api.types.is_numeric_dtype(times):
            index = pd.Index(times)  # step numbers, years, ... as given
        else:
            try:
                with warnings.catch_warnings():  # "could not infer format" for labels
                    warnings.simplefilter("ignore", UserWarning)
                    index = pd.DatetimeIndex(pd.to_datetime(times))
            except (ValueError, TypeError):
                index = pd.Index(times)
        frame.index = index.rename(time_column)
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ValueError(f"{path}: non-numeric target column(s) {bad}.")
    missing = frame.isna().sum()
    if missing.any():
        where = ", ".join(f"{c} ({n})" for c, n in missing[missing > 0].items())
        raise ValueError(f"{path}: missing values in {where}; fill or drop them first.")
    return frame


def _describe_time(frame) -> str:
    """One line telling a command-line user what was taken as the time."""
    import pandas as pd

    index = frame.index
    if index.name is None:
        first = frame.columns[0]
        note = (f"No time column: the first column {first!r} is numeric, so it is a target "
                "(pass --time-column to name the time column); rows are numbered.")
        values = frame[first].to_numpy()
        steps = values[1:] - values[:-1]
        if pd.api.types.is_integer_dtype(frame[first]) and len(steps) \
                and steps[0] > 0 and (steps == steps[0]).all():
            note += (f" Note: {first!r} holds evenly spaced increasing integers; if it is "
                     f"the time, pass --time-column {first}.")
        return note
    if isinstance(index, pd.DatetimeIndex):
        # the forecasters sort by time (with a warning): say the range, not the file order
        order = "" if index.is_monotonic_increasing else "; not in time order: sorted"
        return (f"Time column: {index.name!r} (dates, {index.min()} to {index.max()}"
                f"{order}).")
    return f"Time column: {index.name!r} (labels, not dates, {index[0]} to {index[-1]})."


def check_output_path(path: str, *, force: bool, formats=(".npz",)) -> str:
    """The file an output will be written to, checked before any work is done.

    A name without an extension gets the first of ``formats`` (numpy's ``savez`` would
    add ``.npz`` anyway, so the path reported is the path written); another extension
    than ``formats`` is refused; the directory must exist; an existing file is refused
    unless ``force``.
    """
    extension = os.path.splitext(path)[1]
    if not extension:
        path += formats[0]
    elif extension not in formats:
        raise ValueError(f"{path}: unknown output format {extension!r}; use "
                         f"{' or '.join(formats)}.")
    _check_writable(path, force=force)
    return path


def _check_writable(path: str, *, force: bool) -> None:
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise ValueError(f"{path}: the directory {directory!r} does not exist; create it "
                         "first.")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory; give a file name.")
    if os.path.exists(path) and not force:
        raise ValueError(f"{path} exists; pass --force to overwrite it.")


def _forecast(args: argparse.Namespace) -> int:
    import numpy as np

    from jointdist.base import check_horizon, check_n_samples

    horizon, n_samples = check_horizon(args.horizon), check_n_samples(args.samples)
    y = read_csv_targets(args.data, args.time_column)
    # every output is checked before the (possibly long) fit
    out = check_output_path(args.out, force=args.force, formats=(".npz", ".parquet"))
    quantile_path = os.path.splitext(out)[0] + "_quantiles.csv"
    _check_writable(quantile_path, force=args.force)
    if out.endswith(".parquet"):
        from importlib.util import find_spec

        if find_spec("pyarrow") is None and find_spec("fastparquet") is None:
            raise ValueError("writing parquet needs pyarrow (pip install pyarrow); or use "
                             "an .npz output.")
    print(_describe_time(y))
    model = make_model(args.model, args.seed)
    if "verbose" in model.get_params():  # models that train show their progress bars
        model.set_params(verbose=True)
    print(f"Fitting {type(model).__name__} on {y.shape[0]} rows x {y.shape[1]} targets ...")
    model.fit(y)
    samples = model.predict_samples(horizon, n_samples)
    index = model.future_index(horizon)
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
    quantiles.rename_axis("time").to_csv(quantile_path)
    print(f"Wrote {n_samples} sample paths of {horizon} steps to {out} and a quantile "
          f"summary to {quantile_path}.")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    import pandas as pd

    from jointdist.datasets import load_sde_benchmark
    from jointdist.evaluation import (
        DECOMPOSITION_METRICS,
        SCALE_FREE_METRICS,
        run_oracle_benchmark,
        summarize_benchmark,
        summarize_decomposition,
        summarize_relative,
    )

    if args.real:
        return _benchmark_real(args)
    if args.samples is None:
        args.samples = 1000
    if args.quick:
        args.systems, args.samples, args.futures = 20, 300, 300
    print(f"SDE benchmark: level {args.level}, {args.systems} systems, N={args.targets}, "
          f"T=504, H=63, {args.futures} oracle futures, {args.samples} samples per model.")
    bench = load_sde_benchmark(level=args.level, n_systems=args.systems,
                               n_targets=args.targets, n_futures=args.futures,
                               random_state=args.seed, device="cpu")
    models = {name: make_model(name, args.seed) for name in args.models.split(",")}
    results = run_oracle_benchmark(models, bench, n_samples=args.samples,
                                   random_state=args.seed, progress=True,
                                   decompose=args.decompose)
    baselines = [name for name in ("hs", "dcc") if name in models]
    if baselines and not results.empty:
        relative = summarize_relative(results, baselines)[
            ["mean", "ratio_of_means", "ratio_low", "ratio_high", "geo_mean_ratio",
             "share_won"]]
        print("\nScale-free scores (means over systems and horizons; ratio: to the best "
              f"of {', '.join(baselines)}, with a 95% paired bootstrap interval over "
              "systems; geo_mean_ratio and share_won: per system; lower is better):")
        with pd.option_context("display.width", 160, "display.max_columns", None,
                               "display.float_format", "{:.4g}".format):
            print(relative)
    if args.decompose and not results.empty:
        print("\nWhere the distance comes from: mean energy distance / oracle spread as "
              "forecast and with the oracle's location (mean), scale (standard deviation) "
              "or both put in at every horizon and target (location_share: 1 - "
              "oracle_location / as_forecast):")
        with pd.option_context("display.width", 160, "display.max_columns", None,
                               "display.float_format", "{:.4g}".format):
            print(summarize_decomposition(results))
    table = summarize_benchmark(results)
    table = table[~table.index.get_level_values("metric").isin(
        SCALE_FREE_METRICS + DECOMPOSITION_METRICS)]
    print("\nRaw scores of seed 000 (in the units of the series: dominated by the largest "
          "systems), by horizon:")
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
        print("(no figure: matplotlib is not installed; pip install 'jointdist[plot]')")
        return 0
    fig = plot_metric_by_horizon(results, metrics=[
        m for m in SCALE_FREE_METRICS + ("energy_distance",) if m in set(results["metric"])])
    fig_path = os.path.join(args.out_dir, f"sde_level{args.level}_by_horizon.png")
    fig.savefig(fig_path, dpi=120)
    print(f"Figure: {fig_path}")
    return 0


def _benchmark_real(args: argparse.Namespace) -> int:
    """``jointdist benchmark --real``: the rolling-origin benchmark on real data sets."""
    import pandas as pd

    from jointdist.datasets import list_real
    from jointdist.evaluation import run_real_benchmark

    n_origins = args.origins or (8 if args.quick else 40)
    n_samples = args.samples or (200 if args.quick else 500)
    names = list(list_real().index) if args.datasets is None else args.datasets.split(",")
    model_names = args.models.split(",")
    where = "test" if args.split == "test" else \
        "validation (before the test origins; at most 20)"
    print(f"Real-data benchmark: {', '.join(names)}; models {', '.join(model_names)}; "
          f"{n_origins} rolling {where} origins per data set, context <= 504, "
          f"{n_samples} samples.")
    client = None
    if args.backend == "dask":
        try:
            from distributed import Client
        except ImportError as exc:
            raise ValueError("--backend dask needs dask.distributed: pip install "
                             "'jointdist[dask]'.") from exc
        # a running scheduler, or a local cluster on this machine
        client = Client(args.scheduler) if args.scheduler else Client(processes=False)
        print(f"Dask: {client}")
    try:
        result = run_real_benchmark(model_names, names, n_origins=n_origins,
                                    n_samples=n_samples, random_state=args.seed,
                                    n_jobs=args.n_jobs, backend=args.backend, progress=True,
                                    split=args.split)
    finally:
        if client is not None:
            client.close()
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.3g}".format):
        print("\nEnergy score relative to the best baseline per origin (geo. mean, 95% "
              "bootstrap interval, share of origins won) and the equal-weight portfolio's "
              "95% VaR exceedance rate with Kupiec's p-value, 1 step and h steps ahead:")
        print(result.summary())
    paths = result.to_csv(args.out_dir)
    print(f"Results: {', '.join(paths)}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from jointdist.evaluation.real_data import (
            plot_real_coverage,
            plot_real_scores,
            plot_var_exceedances,
        )
    except ImportError:
        print("(no figure: matplotlib is not installed; pip install 'jointdist[plot]')")
        return 0
    for tag, fig in (("scores", plot_real_scores(result, relative_to=model_names[0])),
                     ("coverage", plot_real_coverage(result)),
                     ("var", plot_var_exceedances(result))):
        path = os.path.join(args.out_dir, f"real_{tag}.png")
        fig.savefig(path, dpi=110)
        print(f"Figure: {path}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    import numpy as np

    out = check_output_path(args.out, force=args.force)
    if args.kind == "sde":
        from jointdist.datasets import load_sde_benchmark

        data = load_sde_benchmark(level=args.level, n_systems=args.n, n_targets=args.targets,
                                  n_futures=args.futures, random_state=args.seed,
                                  device="cpu")
        np.savez_compressed(out, history=data.history, futures=data.futures,
                            level=args.level, dt=data.dt)
        print(f"Wrote {args.n} level-{args.level} SDE systems (history {data.history.shape}, "
              f"futures {data.futures.shape}) to {out}.")
    else:
        from jointdist.datasets import load_dynlmc

        data = load_dynlmc(variant=args.variant, n_samples=args.n, n_channels=args.channels,
                           length=args.length, random_state=args.seed)
        np.savez_compressed(out, data=data, variant=args.variant)
        print(f"Wrote DynLMC-{args.variant} {data.shape} to {out}.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jointdist`` command."""
    parser = argparse.ArgumentParser(
        prog="jointdist",
        description="Joint probabilistic forecasts of coupled time series: the SDE "
                    "benchmark (the main job: jointdist benchmark --quick), a demo (the "
                    "default command), forecasts from CSV files, data sets.")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="fit forecasters on built-in data and print scores")
    demo.add_argument("--targets", type=int, default=4, help="number of series (4)")
    demo.add_argument("--history", type=int, default=500, help="history length (500)")
    demo.add_argument("--horizon", type=int, default=20, help="forecast horizon (20)")
    demo.add_argument("--samples", type=int, default=1000, help="sample paths (1000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")
    demo.set_defaults(func=_demo)

    fc = sub.add_parser("forecast", help="fit a model on a CSV file and write sample paths")
    fc.add_argument("data", help="CSV: one numeric column per target and an optional time "
                                 "column (the first column when it is not numeric)")
    fc.add_argument("--model", default="hs", choices=sorted(MODELS))
    fc.add_argument("--horizon", type=int, required=True)
    fc.add_argument("--samples", type=int, default=1000)
    fc.add_argument("--out", required=True,
                    help="samples file: .npz (arrays samples (S, H, N), targets, time; "
                         "added to a name without extension) or .parquet (rows (sample, "
                         "time), one column per target); a <out>_quantiles.csv summary "
                         "(columns <target>_q<level>) is written beside it")
    fc.add_argument("--force", action="store_true", help="overwrite existing output files")
    fc.add_argument("--time-column", default=None,
                    help="the column of time stamps (default: the first column if it is "
                         "not numeric; a numeric first column is a target)")
    fc.add_argument("--seed", type=int, default=0)
    fc.set_defaults(func=_forecast)

    bm = sub.add_parser("benchmark", help="seed 000's comparison on SDE data, or --real data")
    bm.add_argument("--quick", action="store_true",
                    help="20 systems, 300 samples and futures (SDE: about 75 s on a quiet "
                         "2-core machine, several times that on a busy one)")
    bm.add_argument("--level", type=int, default=7)
    bm.add_argument("--systems", type=int, default=200)
    bm.add_argument("--targets", type=int, default=10)
    bm.add_argument("--samples", type=int, default=None,
                    help="sample paths per model (SDE 1000, --quick 300; --real 500, "
                         "--real --quick 200)")
    bm.add_argument("--futures", type=int, default=1000)
    bm.add_argument("--models", default="hs,dcc,jointfm,coupled",
                    help="comma-separated: " + ", ".join(MODELS))
    bm.add_argument("--seed", type=int, default=20261122)
    bm.add_argument("--out-dir", default="benchmark_output")
    bm.add_argument("--decompose", action="store_true",
                    help="SDE: also score every forecast with the oracle's location, scale "
                         "or both put in, to show where its energy distance comes from")
    bm.add_argument("--real", action="store_true",
                    help="the rolling-origin benchmark on real data (jointdist.datasets."
                         "load_real) instead of SDE data; --quick: 8 origins, 200 samples "
                         "(a few minutes on 2 cores with the default models; diffcopula takes "
                         "~40 s per fit, so it is not a default)")
    bm.add_argument("--datasets", default=None,
                    help="--real: comma-separated names of list_real() (default: all)")
    bm.add_argument("--origins", type=int, default=None,
                    help="--real: rolling origins per data set (40; --quick 8)")
    bm.add_argument("--n-jobs", type=int, default=None,
                    help="--real: joblib workers (default 1)")
    bm.add_argument("--backend", default=None, choices=["loky", "threading", "dask", "ray"],
                    help="--real: joblib backend (dask: on --scheduler, else a local "
                         "cluster)")
    bm.add_argument("--split", default="test", choices=["test", "validation"],
                    help="--real: score the test origins (default) or the validation "
                         "origins, whose windows end before the first test origin (tune on "
                         "these)")
    bm.add_argument("--scheduler", default=None,
                    help="--real --backend dask: scheduler address, e.g. tcp://host:8786")
    bm.set_defaults(func=_benchmark)

    gen = sub.add_parser("generate", help="write a synthetic data set (.npz)")
    gen.add_argument("kind", choices=["sde", "dynlmc"])
    gen.add_argument("--out", required=True, help=".npz file (.npz is added to a name "
                     "without extension)")
    gen.add_argument("--force", action="store_true", help="overwrite an existing file")
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
        argv = ["demo"] + argv  # the default command: the demo on built-in data
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
    except OSError as exc:  # a file that cannot be read or written
        print(f"jointdist {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = format_before


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"{category.__name__}: {message}\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
