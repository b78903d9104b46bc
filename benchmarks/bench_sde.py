"""Speed of the JointFM SDE curriculum generator.

1. The full level-7 benchmark of seed 000, Sec. 4 (200 systems, 504 history steps,
   1,000 futures x 63 steps, N = 10): wall time of ``load_sde_benchmark``.
2. Pretraining stream throughput: systems per second with 64 futures each.

Reports the median (and min/max) of several repeats.  Usage::

    python benchmarks/bench_sde.py --threads 1 2 --repeats 5
    python benchmarks/bench_sde.py --device cuda

On a shared machine, compare medians and note the load; torch's intra-op threads can
stall badly when other processes occupy the cores (hence the ``--threads`` sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from jointdist.datasets.sde import SDEStream, load_sde_benchmark


def _timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        del out
    return times


def _summary(times):
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "repeats": len(times)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--stream-batches", type=int, default=5)
    parser.add_argument("--stream-batch-size", type=int, default=32)
    parser.add_argument("--skip-benchmark", action="store_true")
    args = parser.parse_args(argv)

    results = {"load_avg_at_start": os.getloadavg(), "device": args.device,
               "torch": torch.__version__, "cpu_count": os.cpu_count(), "runs": []}
    for threads in args.threads:
        torch.set_num_threads(threads)
        row = {"threads": threads}
        if not args.skip_benchmark:
            seeds = iter(range(1000))
            times = _timed(lambda: load_sde_benchmark(random_state=next(seeds),
                                                      device=args.device), args.repeats)
            row["level7_benchmark"] = _summary(times)
            print(f"threads={threads}: level-7 benchmark (200 x 1000 x 63 x 10) "
                  f"median {row['level7_benchmark']['median_s']:.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f})", flush=True)
        stream = SDEStream(levels=range(8), batch_size=args.stream_batch_size,
                           n_targets=(1, 10), n_futures=64, random_state=0,
                           device=args.device)
        stream.sample_batch()  # warm-up
        times = _timed(stream.sample_batch, args.stream_batches)
        per_batch = statistics.median(times)
        row["stream"] = {**_summary(times), "batch_size": args.stream_batch_size,
                         "systems_per_s": args.stream_batch_size / per_batch,
                         "levels": "0-7 uniform", "n_targets": "1-10",
                         "n_futures": 64, "T": 504, "H": 63}
        print(f"threads={threads}: stream levels 0-7, N in 1..10, 64 futures: "
              f"{args.stream_batch_size / per_batch:.1f} systems/s "
              f"(median {per_batch:.2f} s per batch of {args.stream_batch_size})",
              flush=True)
        results["runs"].append(row)
    results["load_avg_at_end"] = os.getloadavg()
    out_dir = os.path.join(os.path.dirname(__file__), "output")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bench_sde.json"), "w") as fh:
        json.dump(results, fh, indent=2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
