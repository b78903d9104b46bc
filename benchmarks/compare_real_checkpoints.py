"""JointFM checkpoints side by side on the real-data benchmark, validation or test origins.

The selection of pretraining options (issue "Real data: ...", section 3) must not look
at the test origins: ``--split validation`` scores origins whose windows all end before
the first test origin (:func:`jointdist.evaluation.run_real_benchmark`); ``--split test``
reports.  The baselines (HS, filtered HS, DCC) are run once per split and cached in
``--cache-dir``; every checkpoint then runs on the same origins with the same seeds.

Printed per data set and checkpoint: the geometric mean of the per-origin energy-score
ratio to the better baseline at that origin with its paired bootstrap interval, the share
of origins won, the same for the variogram score, and the equal-weight portfolio's 95%
VaR exceedance rates (1 step and h steps) with Kupiec's p-values.

Example
-------
    python benchmarks/compare_real_checkpoints.py --split validation \\
        --checkpoint v2=default --checkpoint v3=checkpoints/jointfm_v3/best/jointfm
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import time

import pandas as pd

from jointdist.evaluation import run_real_benchmark
from jointdist.evaluation.real_data import RealBenchmarkResult
from jointdist.models import JointFMForecaster

BASELINES = ("hs", "hs-filtered", "dcc")


def _merge(parts, origins=None):
    first = parts[0]
    return RealBenchmarkResult(
        scores=pd.concat([p.scores for p in parts], ignore_index=True),
        risk=pd.concat([p.risk for p in parts], ignore_index=True),
        runs=pd.concat([p.runs for p in parts], ignore_index=True),
        origins=first.origins if origins is None else origins, settings=first.settings)


def finetuned_result(name: str, path: str, common: dict, seed: int, steps: int,
                     lr: float) -> RealBenchmarkResult:
    """A checkpoint fine-tuned at every origin on that origin's context
    (:meth:`JointFMForecaster.finetune` with its default windows, ``min(63, rows // 4)``
    steps of future), on the same origins and seeds."""
    model = FinetunedJointFM(checkpoint=path, steps=steps, lr=lr, random_state=seed)
    return run_real_benchmark({name: model}, **common)


class FinetunedJointFM(JointFMForecaster):
    """``JointFMForecaster`` whose ``fit`` also fine-tunes on the history it is given."""

    def __init__(self, checkpoint="default", *, steps=20, lr=1e-4, random_state=None):
        super().__init__(checkpoint, random_state=random_state)
        self.steps = steps
        self.lr = lr

    def fit(self, y, X=None):
        super().fit(y, X)
        return self.finetune(steps=self.steps, lr=self.lr, random_state=self.random_state)


def baseline_result(common: dict, cache_dir: str) -> RealBenchmarkResult:
    """The baselines' benchmark for the settings ``common``, cached under ``cache_dir``."""
    key = hashlib.sha256(json.dumps({k: v for k, v in common.items() if k != "n_jobs"},
                                    sort_keys=True).encode()).hexdigest()[:12]
    os.makedirs(cache_dir, exist_ok=True)
    cache = os.path.join(cache_dir, f"baselines_{common['split']}_{key}.pkl")
    if os.path.isfile(cache):
        with open(cache, "rb") as fh:
            print(f"baselines from {cache}", flush=True)
            return pickle.load(fh)
    t0 = time.perf_counter()
    base = run_real_benchmark(list(BASELINES), **common)
    with open(cache, "wb") as fh:
        pickle.dump(base, fh)
    print(f"baselines: {time.perf_counter() - t0:.0f} s", flush=True)
    return base


def checkpoint_result(name: str, path: str, common: dict, seed: int) -> RealBenchmarkResult:
    """One JointFM checkpoint on the same origins and seeds."""
    model = JointFMForecaster(checkpoint=path, random_state=seed)
    return run_real_benchmark({name: model}, **common)


def energy_loss(result: RealBenchmarkResult, model: str) -> float:
    """Mean over data sets of the log geometric-mean ES ratio to the best baseline."""
    import numpy as np

    geo = result.skill("energy", BASELINES)["geo_mean_ratio"].xs(model, level="model")
    return float(np.log(geo).mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="a JointFM checkpoint (default, a stem or a .pt); repeatable")
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--datasets", default=None, help="comma-separated (default: all)")
    parser.add_argument("--origins", type=int, default=40, help="test origins per data set")
    parser.add_argument("--validation-origins", type=int, default=20)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--cache-dir", default="benchmarks/output/real_cache")
    parser.add_argument("--finetune-steps", type=int, default=0,
                        help="also each checkpoint fine-tuned at every origin on its context "
                             "(NAME-ft; JointFMForecaster.finetune, lr 1e-4)")
    parser.add_argument("--out", default=None, help="write the table as CSV here")
    args = parser.parse_args(argv)

    from jointdist.datasets import list_real

    names = list(list_real().index) if args.datasets is None else args.datasets.split(",")
    common = dict(datasets=names, n_origins=args.origins, n_samples=args.samples,
                  random_state=args.seed, n_jobs=args.n_jobs, split=args.split,
                  validation_origins=args.validation_origins)
    base = baseline_result(common, args.cache_dir)
    print(base.origins[["n_origins", "step", "overlapping", "first_origin",
                        "last_origin"]].to_string(), flush=True)

    parts = [base]
    for spec in args.checkpoint:
        name, sep, path = spec.partition("=")
        if not sep or not name or name in BASELINES:
            raise SystemExit(f"--checkpoint wants NAME=PATH with a new NAME; got {spec!r}.")
        t0 = time.perf_counter()
        parts.append(checkpoint_result(name, path, common, args.seed))
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        if args.finetune_steps:
            t0 = time.perf_counter()
            parts.append(finetuned_result(f"{name}-ft", path, common, args.seed,
                                          args.finetune_steps, 1e-4))
            print(f"{name}-ft: {time.perf_counter() - t0:.0f} s", flush=True)
    result = _merge(parts)

    energy = result.skill("energy", BASELINES)
    vario = result.skill("variogram", BASELINES)
    bt = result.var_backtest().reset_index()
    bt = bt[(bt["portfolio"] == "equal_weight") & (bt["level"] == 0.95)]
    rows = []
    for dataset in result.origins.index:
        h_max = bt.loc[bt["dataset"] == dataset, "steps"].max()
        names_ = [n.partition("=")[0] for n in args.checkpoint]
        if args.finetune_steps:
            names_ = [m for n in names_ for m in (n, f"{n}-ft")]
        for model in names_ + ["dcc"]:
            e, v = energy.loc[(dataset, model)], vario.loc[(dataset, model)]
            row = {"dataset": dataset, "model": model, "origins": int(e["n_units"]),
                   "es_geo": e["geo_mean_ratio"], "es_low": e["geo_low"],
                   "es_high": e["geo_high"], "es_won": e["share_won"],
                   "vario_geo": v["geo_mean_ratio"], "vario_won": v["share_won"]}
            for tag, steps in (("1", 1), ("h", h_max)):
                r = bt[(bt["dataset"] == dataset) & (bt["model"] == model)
                       & (bt["steps"] == steps)]
                if len(r):
                    row[f"var95_{tag}"] = float(r["rate"].iloc[0])
                    row[f"kupiec_{tag}"] = float(r["kupiec_pvalue"].iloc[0])
            rows.append(row)
    table = pd.DataFrame(rows).set_index(["dataset", "model"])
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(f"\nsplit={args.split}; ratios to the better of {', '.join(BASELINES)} per "
              f"origin (geometric mean, 95% paired bootstrap interval, share won)")
        print(table.to_string())
        geo = table["es_geo"].unstack("model")
        print("\ngeometric mean over data sets of the ES geo-mean ratio:")
        print(geo.prod() ** (1 / len(geo)))
    if args.out:
        table.to_csv(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
