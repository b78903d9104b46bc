"""Benchmark of DCCGarchForecaster against the budgets of issue 5.

Budgets (2 CPU cores): ``fit`` with N=10 targets and T=504 rows in at most 3 s, and
``predict_samples(63, 1000)`` in at most 0.5 s -- the sizes of the JointFM evaluation
protocol (REFERENCE section 1).  The fit is also split into its two stages (10 arch
fits, then the DCC optimization) to show where the time goes.

Run ``python benchmarks/bench_dcc_garch.py [--repeats 7] [--check]``; medians of the
repeats are reported (the first, warm-up call is not timed).  ``--check`` exits with
status 1 when a median exceeds its budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from jointdist.models.dcc_garch import DCCGarchForecaster, fit_dcc, fit_garch

FIT_BUDGET_S = 3.0
PREDICT_BUDGET_S = 0.5


def make_levels(n_rows: int = 504, n_targets: int = 10, seed: int = 0) -> np.ndarray:
    """Levels of a correlated random walk with GARCH(1,1) volatility and DCC(1,1)
    correlation (a=0.05, b=0.90), so both stages have something to estimate."""
    rng = np.random.default_rng(seed)
    mix = np.eye(n_targets) + 0.4 * rng.standard_normal((n_targets, n_targets)) / np.sqrt(
        n_targets)
    cov = mix @ mix.T
    d = 1 / np.sqrt(np.diag(cov))
    qbar = cov * np.outer(d, d)
    omega, alpha, beta, a, b = 0.05, 0.08, 0.87, 0.05, 0.90
    q, sigma2 = qbar.copy(), np.full(n_targets, omega / (1 - alpha - beta))
    z = np.zeros(n_targets)
    out = np.empty((n_rows, n_targets))
    for t in range(n_rows):
        q = (1 - a - b) * qbar + a * np.outer(z, z) + b * q
        dq = 1 / np.sqrt(np.diag(q))
        z = np.linalg.cholesky(q * np.outer(dq, dq)) @ rng.standard_normal(n_targets)
        eps = np.sqrt(sigma2) * z
        out[t] = eps
        sigma2 = omega + alpha * eps**2 + beta * sigma2
    return 100 + np.cumsum(out, axis=0)


def _median_time(fn, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-targets", type=int, default=10)
    parser.add_argument("--n-rows", type=int, default=504)
    parser.add_argument("--dist", choices=["normal", "t"], default="normal")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if a median exceeds its budget")
    args = parser.parse_args(argv)

    y = make_levels(args.n_rows, args.n_targets)
    increments = np.diff(y, axis=0)
    model = DCCGarchForecaster(dist=args.dist, random_state=0)

    fit_s, fit_all = _median_time(lambda: model.fit(y), args.repeats)

    def stage1():
        return [fit_garch(increments[:, i], dist=args.dist) for i in range(args.n_targets)]

    stage1_s, _ = _median_time(stage1, args.repeats)
    e = np.column_stack([f.std_resid for f in stage1()])
    stage2_s, _ = _median_time(lambda: fit_dcc(e, dist=args.dist), args.repeats)
    predict_s, predict_all = _median_time(lambda: model.predict_samples(63, 1000),
                                          args.repeats)

    print(f"DCCGarchForecaster(dist={args.dist!r}), N={args.n_targets}, T={args.n_rows}, "
          f"{args.repeats} repeats, {os.cpu_count()} CPUs visible")
    print(f"  estimates: {model.dcc_params_.round(4).to_dict()}")
    print(f"  fit                      median {fit_s:7.3f} s   (budget {FIT_BUDGET_S} s; "
          f"min {min(fit_all):.3f}, max {max(fit_all):.3f})")
    print(f"    stage 1 ({args.n_targets} arch fits)   median {stage1_s:7.3f} s")
    print(f"    stage 2 (DCC QML)      median {stage2_s:7.3f} s")
    print(f"  predict_samples(63, 1000) median {predict_s:7.3f} s   (budget "
          f"{PREDICT_BUDGET_S} s; min {min(predict_all):.3f}, max {max(predict_all):.3f})")
    over = fit_s > FIT_BUDGET_S or predict_s > PREDICT_BUDGET_S
    print("  within budget" if not over else "  OVER BUDGET")
    return int(over and args.check)


if __name__ == "__main__":
    sys.exit(main())
