"""Benchmark of the DynLMC generators.

Measures
1. one 160-channel x 1,024-step DynLMC sample per mode (target: <= 2 s on 2 cores);
2. the GP prior draw of one latent: KernelSynth's reference method (scikit-learn kernel
   matrix + ``multivariate_normal(method="eigh")``) against ours (structured kernel
   matrix + circulant embedding / jittered Cholesky), on the same random kernels;
3. whole-dataset generation with ``load_dynlmc`` for several ``n_jobs``, extrapolated to
   the paper's 1,500 samples.

Run ``python benchmarks/bench_dynlmc.py`` (``--quick`` for a smoke run).  Reports medians
over repeats; on a shared machine, state the load next to the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import Counter
from pathlib import Path

import numpy as np

from jointdist.datasets.dynlmc import (kernel_bank, load_dynlmc, make_dynlmc, random_kernel,
                                       time_grid)
from jointdist.datasets.dynlmc._sampling import single_threaded_blas
from jointdist.datasets.dynlmc.kernelsynth import _sample_gp


def _timeit(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return ts


def bench_one_sample(repeats: int, n_channels: int, length: int) -> dict:
    out = {}
    for mode in ("drift", "lag", "regime", "combined"):
        seeds = iter(range(10_000))
        make_dynlmc(n_channels, length, mode, random_state=999)  # warm-up
        ts = _timeit(lambda: make_dynlmc(n_channels, length, mode, random_state=next(seeds)),
                     repeats)
        out[mode] = dict(median_s=float(np.median(ts)), min_s=float(min(ts)),
                         max_s=float(max(ts)))
        print(f"  one sample {mode:9s} {n_channels}x{length}: median {np.median(ts):.3f} s "
              f"(min {min(ts):.3f}, max {max(ts):.3f}, {repeats} samples)")
    return out


def bench_gp(n_kernels: int, length: int) -> dict:
    rng = np.random.default_rng(0)
    bank = kernel_bank(length)
    kernels = [random_kernel(bank, 5, rng) for _ in range(n_kernels)]
    x = time_grid(length, pad=8)
    ref, ours, methods = [], [], Counter()
    with single_threaded_blas():
        for k in kernels:
            t0 = time.perf_counter()
            K = k(x[:, None])
            np.random.default_rng(1).multivariate_normal(np.zeros(x.size), K, method="eigh")
            ref.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _, m = _sample_gp(k, x, 1, np.random.default_rng(1))
            ours.append(time.perf_counter() - t0)
            methods[m] += 1
    print(f"  GP draw, length {x.size}, {n_kernels} random kernels, 1 BLAS thread: "
          f"reference (sklearn K + eigh) median {1e3 * np.median(ref):.1f} ms, "
          f"ours median {1e3 * np.median(ours):.1f} ms; methods used {dict(methods)}")
    return dict(reference_median_ms=1e3 * float(np.median(ref)),
                ours_median_ms=1e3 * float(np.median(ours)), methods=dict(methods))


def bench_dataset(n_samples: int, n_jobs_list, n_channels: int, length: int) -> dict:
    out = {}
    ref = None
    for n_jobs in n_jobs_list:
        t0 = time.perf_counter()
        X = load_dynlmc("combined", n_samples=n_samples, n_channels=n_channels, length=length,
                        random_state=0, n_jobs=n_jobs)
        dt = time.perf_counter() - t0
        same = None if ref is None else bool(np.array_equal(ref, X))
        ref = X if ref is None else ref
        out[str(n_jobs)] = dict(seconds=dt, per_sample_s=dt / n_samples,
                                extrapolated_1500_s=1500 * dt / n_samples, equal_to_first=same)
        print(f"  load_dynlmc('combined', {n_samples} samples) n_jobs={n_jobs}: {dt:.2f} s "
              f"({dt / n_samples:.3f} s/sample, 1,500 samples ~ {1500 * dt / n_samples / 60:.1f} "
              f"min){'' if same is None else f'; identical to n_jobs={n_jobs_list[0]}: {same}'}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--n-samples", type=int, default=24)
    p.add_argument("--n-jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--gp-kernels", type=int, default=30)
    p.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    p.add_argument("--output", type=Path, default=None, help="write a JSON report here")
    a = p.parse_args(argv)
    N, T = (16, 256) if a.quick else (160, 1024)
    if a.quick:
        a.repeats, a.n_samples, a.gp_kernels = 2, 4, 4
    print(f"DynLMC benchmark on {platform.node()} ({os.cpu_count()} CPUs), "
          f"load average {os.getloadavg()[0]:.2f}")
    report = dict(cpus=os.cpu_count(), load_before=os.getloadavg(),
                  one_sample=bench_one_sample(a.repeats, N, T),
                  gp=bench_gp(a.gp_kernels, T),
                  dataset=bench_dataset(a.n_samples, a.n_jobs, N, T),
                  load_after=os.getloadavg())
    if a.output is not None:
        a.output.parent.mkdir(parents=True, exist_ok=True)
        a.output.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
