"""Seed 001's Algorithm 2 for JointFM: Bayesian optimisation of the pretraining mix.

Sources: the SDE curriculum of seed 000, the volatility-clustering systems of
:mod:`jointdist.datasets.volatility` and seed 001's KernelSynth / LMC / DynLMC systems
with branched futures (:func:`jointdist.datasets.dynlmc.simulate_dynlmc_branches`).
Every trial fine-tunes a warm start (``--init``, default the shipped weights) for
``--steps`` steps on the mix proposed by TPE
(:func:`jointdist.datasets.dynlmc.optimize_mixing`; the first trial is the uniform mix,
Algorithm 2 line 1), in its own process with one thread, and scores the result on the
real-data **validation** origins (``run_real_benchmark(split="validation")``: windows
that end before the first test origin).  The loss is the mean over data sets of the log
of the geometric-mean energy-score ratio to the best baseline per origin (HS, filtered
HS, DCC; cached).  The trial table goes to ``--out``/trials.csv.

Example (2 trials at a time on 2 cores)
-------
    python benchmarks/optimize_pretraining_mix.py --trials 8 --n-jobs 2 --steps 150
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from compare_real_checkpoints import (  # noqa: E402
    _merge,
    baseline_result,
    checkpoint_result,
    energy_loss,
)

SOURCES = ("curriculum", "volatility", "dynlmc")
CONFIG = os.path.join(HERE, os.pardir, "jointdist", "models", "jointfm", "configs",
                      "v3.json")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--n-jobs", type=int, default=2, help="trials run at once")
    parser.add_argument("--steps", type=int, default=150, help="fine-tuning steps a trial")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--init", default="default", help="warm start of every trial")
    parser.add_argument("--dependence-standardize", default="each",
                        choices=("each", "futures"),
                        help="standardization of the dependence term (each: by the "
                             "samples' own moments, bounded on smooth GP futures)")
    parser.add_argument("--config", default=CONFIG, help="training config of the trials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--out", default="runs/mix_bo")
    parser.add_argument("--cache-dir", default="benchmarks/output/real_cache")
    args = parser.parse_args(argv)

    import pandas as pd

    from jointdist.datasets import list_real
    from jointdist.datasets.dynlmc import optimize_mixing

    os.makedirs(args.out, exist_ok=True)
    common = dict(datasets=list(list_real().index), n_origins=40, n_samples=args.samples,
                  random_state=args.seed, n_jobs=1, split="validation",
                  validation_origins=20)
    baseline = baseline_result(common, args.cache_dir)
    counter = itertools.count(1)  # next() is atomic: trials run on n_jobs threads

    def objective(weights):
        k = next(counter)
        run_dir = os.path.join(args.out, f"trial_{k:02d}")
        cmd = [sys.executable, "-m", "jointdist.models.jointfm.train", "--config",
               args.config, "--out-dir", run_dir, "--steps", str(args.steps),
               "--num-threads", "1", "--no-resume", "--no-progress",
               "--set", f"volatility_fraction={weights['volatility']:.6f}",
               "--set", f"dynlmc_fraction={weights['dynlmc']:.6f}",
               "--set", f"lr={args.lr}", "--set", "val_every=0",
               "--set", f"dependence_standardize={args.dependence_standardize}",
               "--set", f"init_from={args.init}", "--set", f"seed={100 + k}"]
        t0 = time.perf_counter()
        with open(os.path.join(args.out, f"trial_{k:02d}.log"), "w") as log:
            done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, OMP_NUM_THREADS="1"))
        if done.returncode != 0:
            print(f"trial {k}: training failed (see its log)", flush=True)
            return math.nan
        train_s = time.perf_counter() - t0
        result = checkpoint_result("trial", os.path.join(run_dir, "last", "jointfm"),
                                   common, args.seed)
        merged = _merge([baseline, result])
        loss = energy_loss(merged, "trial")
        print(f"trial {k}: weights " + ", ".join(f"{s}={weights[s]:.3f}" for s in SOURCES)
              + f"; train {train_s:.0f} s; loss {loss:.4f} (geo ratio "
              f"{math.exp(loss):.4f})", flush=True)
        return loss

    res = optimize_mixing(objective, SOURCES, n_trials=args.trials, n_jobs=args.n_jobs,
                          random_state=args.seed)
    table = res.trials
    table.to_csv(os.path.join(args.out, "trials.csv"), index=False)
    with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
        print(table.to_string())
    print("best weights: " + ", ".join(f"{k}={v:.3f}" for k, v in res.best_weights.items())
          + f"; loss {res.best_loss:.4f} (geo ratio {math.exp(res.best_loss):.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
