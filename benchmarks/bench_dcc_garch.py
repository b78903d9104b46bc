"""Benchmark of DCCGarchForecaster: fit time from N = 10 to N = 200 targets (issues 5, 15).

Budgets (issue 5, 2 CPU cores): ``fit`` with N=10 targets and T=504 rows in at most
3 s, and ``predict_samples(63, 1000)`` in at most 0.5 s -- the sizes of the JointFM
evaluation protocol (REFERENCE section 1).  Issue 15 adds the large-N case: a fit on
N=200 targets and T=504 rows "well under a minute".

The fit is split into its two stages (N arch fits, then the DCC optimization).  Stage 2
is also timed with the stage-2 likelihood as it was before issue 15
(:func:`legacy_logdet_and_quadratic`: the whole ``(T+1, N^2)`` Q path through
``scipy.signal.lfilter``, ``R[t]`` formed, Cholesky of ``R`` and a general
``np.linalg.solve`` on the factor), with the same optimizer, so that the two columns are
measured side by side on the same machine and load.  Both run with BLAS held to one
thread, as the new code does (with the default two OpenBLAS threads one legacy
evaluation at N=200 took 61 s instead of 2.3 s on the loaded 2-core machine).

Run ``python benchmarks/bench_dcc_garch.py [--sizes 10 50 200] [--repeats 3] [--check]``;
medians of the repeats are reported (the first, warm-up call is not timed; N >= 100 is
timed once).  Wall time and the process's CPU time are both printed: on a shared machine
the CPU time is closer to what a quiet machine would take.  ``--no-legacy`` skips the
legacy column; ``--check`` exits with status 1 when a median exceeds an issue-5 budget.

Measured on 2026-12-01 on this 2-core machine, shared with other jobs (load average
6-7), T=504, dist="normal", ``--sizes 10 50 200 --repeats 3``; seconds wall (CPU)::

    N    fit (new)     stage 1      stage 2 legacy   stage 2 new   new/legacy CPU
    10   0.57 (0.28)   0.37 (0.18)    0.47 (0.23)    0.33 (0.16)   0.70
    50   5.8  (2.8)    2.3  (1.1)     8.4  (4.2)     2.9  (1.4)    0.34
    200  40   (21)     7.5  (3.8)   112    (58)     26   (13.5)    0.23

Same estimates both ways (N=200: a=0.017157, b=0.830937).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from unittest import mock

import numpy as np
from scipy.signal import lfilter
from threadpoolctl import threadpool_limits

from jointdist.models.dcc_garch import DCCGarchForecaster, fit_dcc, fit_garch
from jointdist.models.dcc_garch import dcc as dcc_module

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


def legacy_logdet_and_quadratic(e, a, b, qbar, outer=None):
    """``log|R[t]|`` and ``e[t]' R[t]^{-1} e[t]`` computed as before issue 15."""
    n_obs, n = e.shape
    if outer is None:
        outer = e[:, :, None] * e[:, None, :]
    drive = np.empty((n_obs + 1, n * n))
    drive[0] = qbar.ravel()
    drive[1:] = (1.0 - a - b) * qbar.ravel() + a * outer.reshape(n_obs, n * n)
    q = lfilter([1.0], [1.0, -b], drive, axis=0).reshape(n_obs + 1, n, n)[:-1]
    r = dcc_module.correlation_from_q(q)
    chol = np.linalg.cholesky(r)
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
    w = np.linalg.solve(chol, e[..., None])[..., 0]
    return logdet, np.einsum("ti,ti->t", w, w)


def _timed(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``fn()`` over ``repeats`` calls, and its result."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def bench_size(n_targets: int, args) -> bool:
    """Print the figures of one size; True when an issue-5 budget is exceeded."""
    repeats = 1 if n_targets >= 100 else args.repeats
    y = make_levels(args.n_rows, n_targets)
    increments = np.diff(y, axis=0)
    model = DCCGarchForecaster(dist=args.dist, random_state=0, verbose=False)
    if n_targets < 100:
        model.fit(y)  # warm-up (imports, caches)
    fit_wall, fit_cpu, _ = _timed(lambda: model.fit(y), repeats)

    def stage1():
        return [fit_garch(increments[:, i], dist=args.dist) for i in range(n_targets)]

    s1_wall, s1_cpu, fits = _timed(stage1, repeats)
    e = np.column_stack([f.std_resid for f in fits])
    s2_wall, s2_cpu, new = _timed(lambda: fit_dcc(e, dist=args.dist), repeats)
    print(f"N={n_targets:4d}, T={args.n_rows}: fit {fit_wall:7.2f} s wall ({fit_cpu:6.2f} s "
          f"CPU); stage 1 ({n_targets} arch fits) {s1_wall:6.2f} s ({s1_cpu:6.2f} s CPU)",
          flush=True)
    print(f"    stage 2 new     {s2_wall:7.2f} s wall ({s2_cpu:6.2f} s CPU)   a={new.a:.6f} "
          f"b={new.b:.6f}", flush=True)
    if not args.no_legacy:
        with mock.patch.object(dcc_module, "_logdet_and_quadratic",
                               legacy_logdet_and_quadratic):
            l_wall, l_cpu, old = _timed(lambda: fit_dcc(e, dist=args.dist), repeats)
        print(f"    stage 2 legacy  {l_wall:7.2f} s wall ({l_cpu:6.2f} s CPU)   a={old.a:.6f} "
              f"b={old.b:.6f}   -> new/legacy CPU {s2_cpu / l_cpu:.2f}x", flush=True)
    n_paths = 1000 if n_targets <= 50 else 100
    p_wall, p_cpu, _ = _timed(lambda: model.predict_samples(63, n_paths), repeats)
    print(f"    predict_samples(63, {n_paths}) {p_wall:7.3f} s wall ({p_cpu:6.3f} s CPU)",
          flush=True)
    if n_targets != 10:
        return False
    over = fit_wall > FIT_BUDGET_S or p_wall > PREDICT_BUDGET_S
    print(f"    issue-5 budgets (fit {FIT_BUDGET_S} s, predict {PREDICT_BUDGET_S} s): "
          + ("OVER BUDGET" if over else "within budget"))
    return over


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200],
                        help="numbers of targets N")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-rows", type=int, default=504)
    parser.add_argument("--dist", choices=["normal", "t"], default="normal")
    parser.add_argument("--no-legacy", action="store_true",
                        help="skip the stage-2 timing with the pre-issue-15 likelihood")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if an issue-5 budget is exceeded")
    args = parser.parse_args(argv)
    print(f"DCCGarchForecaster(dist={args.dist!r}), {os.cpu_count()} CPUs visible, load "
          f"average {os.getloadavg()[0]:.1f}")
    over = False
    with threadpool_limits(limits=1, user_api="blas"):  # the legacy column as well
        for n_targets in args.sizes:
            over |= bench_size(n_targets, args)
    return int(over and args.check)


if __name__ == "__main__":
    sys.exit(main())
