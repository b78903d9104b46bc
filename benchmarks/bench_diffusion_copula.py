"""Benchmark of DiffusionCopulaForecaster against the budgets of issue 6.

Budgets (2 CPU cores, default settings): ``fit`` on T=504 rows of N=10 targets in at
most 120 s and ``predict_samples(63, 1000)`` in at most 10 s -- the sizes of the
JointFM evaluation protocol (REFERENCE section 1).  The fit is split into its two
stages (marginal MDN, then copula) and the prediction into the copula draw and the
autoregressive marginal loop, to show where the time goes.

Run ``python benchmarks/bench_diffusion_copula.py [--repeats 3] [--copula diffusion]
[--check] [--json PATH]``; medians of the repeats are reported, with all the times so
that the spread is visible (on a shared machine it is large).  ``--check`` exits with
status 1 when a median exceeds its budget.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from jointdist.models.diffusion_copula import DiffusionCopulaForecaster

FIT_BUDGET_S = 120.0
PREDICT_BUDGET_S = 10.0


def make_levels(n_rows: int = 504, n_targets: int = 10, seed: int = 0) -> np.ndarray:
    """Correlated (equicorrelation 0.5) GARCH(1,1) random walks with Student-t(5)
    shocks, so that both the marginals and the copula have something to learn."""
    rng = np.random.default_rng(seed)
    corr = np.full((n_targets, n_targets), 0.5) + 0.5 * np.eye(n_targets)
    chol = np.linalg.cholesky(corr)
    shocks = (rng.standard_normal((n_rows, n_targets)) @ chol.T
              / np.sqrt(rng.chisquare(5, size=(n_rows, 1)) / 5) * np.sqrt(3 / 5))
    sigma2 = np.ones(n_targets)
    out = np.empty((n_rows, n_targets))
    for t in range(n_rows):
        out[t] = np.sqrt(sigma2) * shocks[t]
        sigma2 = 0.05 + 0.10 * out[t] ** 2 + 0.85 * sigma2
    return 100 + np.cumsum(out, axis=0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-targets", type=int, default=10)
    parser.add_argument("--n-rows", type=int, default=504)
    parser.add_argument("--copula", choices=["diffusion", "gaussian"], default="diffusion")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if a median exceeds its budget")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    y = make_levels(args.n_rows, args.n_targets)
    fit_times, stage_times, predict_times, copula_times = [], [], [], []
    model = None
    for rep in range(args.repeats):
        model = DiffusionCopulaForecaster(copula=args.copula, random_state=rep)
        start = time.perf_counter()
        model.fit(y)
        fit_times.append(time.perf_counter() - start)
        # stage split: refit the copula alone on the model's PIT values
        start = time.perf_counter()
        model._make_copula(rep).fit(model.pit_)
        stage_times.append(time.perf_counter() - start)
        model.predict_samples(2, 10)  # warm-up of the sampling path
        start = time.perf_counter()
        model.predict_samples(63, 1000, random_state=rep)
        predict_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.copula_.sample(63 * 1000, rep)
        copula_times.append(time.perf_counter() - start)

    res = {
        "n_rows": args.n_rows, "n_targets": args.n_targets, "copula": args.copula,
        "cpu_count": os.cpu_count(), "repeats": args.repeats,
        "fit_median_s": statistics.median(fit_times), "fit_all_s": fit_times,
        "copula_fit_median_s": statistics.median(stage_times),
        "predict_median_s": statistics.median(predict_times),
        "predict_all_s": predict_times,
        "copula_sample_median_s": statistics.median(copula_times),
        "marginal_epochs_last": model.n_marginal_epochs_,
        "copula_steps_last": getattr(model.copula_, "n_steps_", None),
    }
    print(f"DiffusionCopulaForecaster(copula={args.copula!r}), T={args.n_rows}, "
          f"N={args.n_targets}, {args.repeats} repeats, {os.cpu_count()} CPUs")
    print(f"  fit                     median {res['fit_median_s']:7.2f} s  "
          f"(budget {FIT_BUDGET_S:.0f} s)  all {np.round(fit_times, 2).tolist()}")
    print(f"    of which copula fit   median {res['copula_fit_median_s']:7.2f} s")
    print(f"  predict_samples(63,1000) median {res['predict_median_s']:6.2f} s  "
          f"(budget {PREDICT_BUDGET_S:.0f} s)  all {np.round(predict_times, 2).tolist()}")
    print(f"    of which copula draw  median {res['copula_sample_median_s']:7.2f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    if args.check and (res["fit_median_s"] > FIT_BUDGET_S
                       or res["predict_median_s"] > PREDICT_BUDGET_S):
        print("budget exceeded", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
