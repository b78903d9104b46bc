"""Seed 000, Sec. 4: zero-shot recovery of oracle joint distributions on SDE systems.

For each curriculum level asked for (``--levels``) and each out-of-curriculum family
(``--families``, :mod:`jointdist.datasets.families`): ``n_systems`` unseen systems
(seeds never used in training, validation or checkpoint selection), N=10 targets, a
T=504-step history, 1,000 oracle futures of H=63 steps branched from the exact terminal
state, and 1,000 samples per model.

The report leads with **scale-free** figures (the systems span five orders of magnitude
of scale, so raw means over systems are dominated by the largest ones): for every
metric of :data:`jointdist.evaluation.SCALE_FREE_METRICS` (energy distance / oracle
spread, standardized energy distance, variogram divergence, portfolio energy,
correlation error) the mean over systems, its paired ratio to the best baseline
(HistoricalSimulation, DCCGarchForecaster) with a bootstrap interval over systems, the
geometric mean of per-system ratios and the share of systems won
(:func:`jointdist.evaluation.summarize_relative`).  The raw means of seed 000 (energy
distance, marginal energy, CRPS-sum) follow, by horizon, for comparison with the paper.
A per-horizon figure and the tidy results (CSV) are saved.

With ``--decompose``, every forecast is also scored with the oracle's location, scale or
both put in (:func:`jointdist.evaluation.error_decomposition`), to show where its
distance comes from.

Run: ``python benchmarks/bench_sde_protocol.py [--levels 7] [--families all]
[--systems 200] [--quick] [--decompose]``

Every model draws with seed ``BENCHMARK_SEED + system`` whatever the other models, so
results of separate runs combine exactly: ``--reuse DIR`` takes the rows of the models
already scored in ``DIR/<name>.csv`` (same systems, samples and futures, checked) and
scores only the others.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import pandas as pd
import torch

from jointdist.cli import MODELS, make_model
from jointdist.datasets import FAMILIES, load_family_benchmark, load_sde_benchmark
from jointdist.evaluation import (
    DECOMPOSITION_VARIANTS,
    SCALE_FREE_METRICS,
    run_oracle_benchmark,
    summarize_benchmark,
    summarize_decomposition,
    summarize_relative,
)

#: Seed of the benchmark systems; training and validation must never use it.
BENCHMARK_SEED = 20_261_122
#: Seed offset of the out-of-curriculum families (family i uses BENCHMARK_SEED + 100 + i).
FAMILY_SEED_OFFSET = 100
BASELINES = ("hs", "dcc")
RAW_METRICS = ("energy_distance", "marginal_energy", "crps_sum")


def relative_summary(results: pd.DataFrame, baselines=BASELINES) -> pd.DataFrame:
    """Scale-free summary: :func:`jointdist.evaluation.summarize_relative`, fixed seed."""
    return summarize_relative(results, baselines, n_bootstrap=2000, random_state=0)


def format_relative(table: pd.DataFrame) -> str:
    """One line per metric and model: mean, ratio to the best baseline [95% CI], ..."""
    lines = [f"{'metric':<30}{'model':<16}{'mean':>10}{'ratio [95% CI]':>26}"
             f"{'geo. ratio':>12}{'won':>7}"]
    for (metric, model), row in table.iterrows():
        ci = f"{row.ratio_of_means:.3f} [{row.ratio_low:.3f}, {row.ratio_high:.3f}]"
        lines.append(f"{metric:<30}{model:<16}{row['mean']:>10.4g}{ci:>26}"
                     f"{row.geo_mean_ratio:>12.3f}{100 * row.share_won:>6.0f}%")
    return "\n".join(lines)


def format_decomposition(results: pd.DataFrame) -> str | None:
    """:func:`jointdist.evaluation.summarize_decomposition` as text (None if empty)."""
    table = summarize_decomposition(results)
    if table.empty:
        return None
    lines = [f"{'model':<16}" + "".join(f"{v:>24}" for v in DECOMPOSITION_VARIANTS)
             + f"{'location share':>16}"]
    for model, row in table.iterrows():
        values = "".join(f"{row[v]:>24.4f}" for v in DECOMPOSITION_VARIANTS)
        lines.append(f"{model:<16}{values}{100 * row.location_share:>15.0f}%")
    return "\n".join(lines)


def _benchmarks(args):
    """(name, settings) of every benchmark asked for: levels first, then families."""
    out = []
    for level in (int(v) for v in args.levels.split(",") if v):
        out.append((f"sde_protocol_level{level}", {
            "level": level, "systems": args.systems, "samples": args.samples,
            "futures": args.futures, "seed": BENCHMARK_SEED + level}))
    requested = [f for f in args.families.split(",") if f]
    families = FAMILIES if args.families == "all" else requested
    for family in families:
        if family not in FAMILIES:
            raise SystemExit(f"unknown family {family!r}; available: {', '.join(FAMILIES)}")
        out.append((f"family_{family}", {
            "family": family, "systems": args.systems, "samples": args.samples,
            "futures": args.futures,
            "seed": BENCHMARK_SEED + FAMILY_SEED_OFFSET + FAMILIES.index(family)}))
    return out


def _load(settings):
    if "level" in settings:
        return load_sde_benchmark(level=settings["level"], n_systems=settings["systems"],
                                  n_targets=10, context_length=504, horizon=63,
                                  n_futures=settings["futures"], random_state=settings["seed"],
                                  device="cpu")
    return load_family_benchmark(settings["family"], n_systems=settings["systems"],
                                 n_targets=10, context_length=504, horizon=63,
                                 n_futures=settings["futures"], random_state=settings["seed"])


def _reused_rows(args, name, settings, names):
    """Rows of ``names`` scored earlier with the same settings (None if none)."""
    if not args.reuse:
        return None
    csv_path = os.path.join(args.reuse, f"{name}.csv")
    meta_path = csv_path.replace(".csv", ".json")
    if not (os.path.isfile(csv_path) and os.path.isfile(meta_path)):
        return None
    with open(meta_path) as fh:
        if json.load(fh) != settings:
            raise SystemExit(f"{meta_path} was run with other settings; not reusing it.")
    rows = pd.read_csv(csv_path)
    rows = rows[rows["model"].isin(names)]
    return rows if len(rows) else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="7",
                        help="comma-separated curriculum levels, e.g. 0,1,2,7,8,9 "
                             "('' for none)")
    parser.add_argument("--families", default="",
                        help="comma-separated out-of-curriculum families, or 'all': "
                             + ", ".join(FAMILIES))
    parser.add_argument("--systems", type=int, default=200)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--futures", type=int, default=1000)
    parser.add_argument("--models", default=",".join(m for m in ("hs", "dcc", "jointfm")
                                                     if m in MODELS))
    parser.add_argument("--quick", action="store_true", help="20 systems, 300 samples")
    parser.add_argument("--out-dir", default="benchmarks/output")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="also score JointFMForecaster(PATH) under the model name "
                             "NAME (repeatable), e.g. a training run's best/jointfm")
    parser.add_argument("--decompose", action="store_true",
                        help="also score oracle-corrected copies of every forecast (the "
                             "oracle's location, scale or both) to show where the energy "
                             "distance comes from")
    parser.add_argument("--reuse", default=None, metavar="DIR",
                        help="reuse the rows of models already scored in DIR (same "
                             "settings) instead of scoring them again")
    args = parser.parse_args()
    if args.quick:
        args.systems, args.samples, args.futures = 20, 300, 300
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out_dir, exist_ok=True)
    names = [m for m in args.models.split(",") if m]
    models = {name: make_model(name, 0) for name in names}
    for spec in args.checkpoint:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path or label in models:
            raise SystemExit(f"--checkpoint wants NAME=PATH with a new NAME; got {spec!r}.")
        from jointdist.models import JointFMForecaster

        models[label] = JointFMForecaster(path, random_state=0)
        names.append(label)
    for name, settings in _benchmarks(args):
        start = time.perf_counter()
        bench = _load(settings)
        what = (f"level {settings['level']}" if "level" in settings
                else f"family {settings['family']}")
        print(f"\n=== {what}: {args.systems} systems, N=10, T=504, H=63, "
              f"{args.futures} oracle futures, {args.samples} samples per model, seed "
              f"{settings['seed']} (generated in {time.perf_counter() - start:.1f} s) ===")
        reused = _reused_rows(args, name, settings, names)
        todo = {k: m for k, m in models.items() if reused is None or k not in
                set(reused["model"])}
        results = run_oracle_benchmark(todo, bench, n_samples=args.samples,
                                       random_state=BENCHMARK_SEED, progress=True,
                                       decompose=args.decompose)
        if reused is not None:
            print(f"reused from {args.reuse}: {sorted(set(reused['model']))}")
            results = pd.concat([reused, results], ignore_index=True)
        csv_path = os.path.join(args.out_dir, f"{name}.csv")
        results.to_csv(csv_path, index=False)  # first: nothing below can lose the scores
        with open(csv_path.replace(".csv", ".json"), "w") as fh:
            json.dump(settings, fh)
        if set(BASELINES) & set(results["model"]):
            print("\nScale-free (per system, averaged over horizons; lower is better; "
                  "ratio: mean / mean of the best baseline, paired bootstrap over systems; "
                  "geo. ratio and won: per system against that system's best baseline)")
            print(format_relative(relative_summary(results)))
        else:
            print(f"\n(no baseline among the models: score {' or '.join(BASELINES)} too, "
                  "or --reuse a run that did, for the scale-free comparison)")
        decomposition = format_decomposition(results)
        if decomposition is not None:
            print("\nWhere the distance comes from: mean ED / oracle spread as forecast and "
                  "with the oracle's location (mean), scale (standard deviation) or both "
                  "put in, per horizon and target (not additive; location share: 1 - "
                  "oracle_location / as_forecast)")
            print(decomposition)
        table = summarize_benchmark(results)
        for metric in RAW_METRICS:
            if metric not in table.index.get_level_values("metric"):
                continue
            block = table.loc[metric].copy()
            present = [b for b in BASELINES if b in block.index]
            if present:
                best = block.loc[present, "mean"].min()
                block["vs_best_baseline_%"] = 100 * (block["mean"] / best - 1)
            print(f"\n{metric} (raw, mean over systems: dominated by the largest; lower "
                  "is better)")
            with pd.option_context("display.width", 200, "display.max_columns", None,
                                   "display.float_format", "{:.4g}".format):
                print(block)
        timing = results.groupby("model")["fit_predict_seconds"].median()
        print("\nmedian fit + predict seconds per system:", timing.round(3).to_dict())
        try:
            import matplotlib

            matplotlib.use("Agg")
            from jointdist.plotting import plot_metric_by_horizon

            fig = plot_metric_by_horizon(results, metrics=[
                m for m in SCALE_FREE_METRICS[:4] + ("energy_distance",)
                if m in set(results["metric"])])
            fig.suptitle(what, y=1.02)
            fig.savefig(os.path.join(args.out_dir, f"{name}.png"), dpi=120,
                        bbox_inches="tight")
        except ImportError:
            pass
        print(f"results: {csv_path}")


if __name__ == "__main__":
    main()
