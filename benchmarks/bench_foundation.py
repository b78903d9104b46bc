"""Speed of HistoricalSimulation and of the metrics, side by side with the references.

Run: ``python benchmarks/bench_foundation.py [--repeats 7]``.  Prints medians (seconds or
milliseconds) and ratios measured in this one run; the figures of the issue are
10,000 paths x 63 steps x 10 targets for sampling and 1,000 samples x 63 horizons x
10 targets for the scores (energy distance against 1,000 oracle samples).
"""

import argparse
import os
import platform
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_time  # noqa: E402

from jointdist.metrics import crps, energy_distance, energy_score  # noqa: E402
from jointdist.models import HistoricalSimulation  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-properscoring", action="store_true",
                        help="skip the slow (~1 min) properscoring CRPS reference")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch "
          f"{torch.__version__}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}")

    rng = np.random.default_rng(0)
    y = 100 + np.cumsum(rng.normal(size=(504, 10)), axis=0)
    print("\nHistoricalSimulation.predict_samples(63, 10_000), N=10, T=504 "
          f"(median of {args.repeats}):")
    for method in ("iid", "stationary", "filtered"):
        model = HistoricalSimulation(method, random_state=0).fit(y)
        t = median_time(lambda: model.predict_samples(63, 10_000), args.repeats)
        print(f"  {method:<11} {1e3 * t:8.1f} ms")

    samples = rng.normal(size=(1000, 63, 10))
    oracle = rng.normal(size=(1000, 63, 10)) + 0.1
    obs = rng.normal(size=(63, 10))
    print("\nScores on 1,000 samples x 63 horizons x 10 targets "
          f"(median of {args.repeats} unless noted):")
    t_es = median_time(lambda: energy_score(obs, samples), args.repeats)
    t_ed = median_time(lambda: energy_distance(samples, oracle), args.repeats)
    t_crps = median_time(lambda: crps(obs, samples), args.repeats)
    print(f"  jointdist energy_score              {t_es:8.3f} s")
    print(f"  jointdist energy_distance (vs 1000) {t_ed:8.3f} s")
    print(f"  jointdist crps                      {t_crps:8.4f} s")

    try:
        import scoringrules as sr
    except ImportError:
        print("  scoringrules not installed: pip install scoringrules")
        return
    fct = samples.swapaxes(0, 1)  # (63, 1000, 10): m_axis=-2, v_axis=-1
    ref_es = energy_score(obs, samples, per_horizon=True)
    for backend in ("numpy", "torch"):
        value = sr.es_ensemble(obs, fct, backend=backend)
        value = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        assert np.allclose(value, ref_es, rtol=1e-8), "scoringrules disagrees"
        t = median_time(lambda: sr.es_ensemble(obs, fct, backend=backend),
                        max(1, args.repeats // 2))
        print(f"  scoringrules es_ensemble [{backend:<5}]  {t:8.3f} s   "
              f"ratio scoringrules/jointdist = {t / t_es:5.1f}x")
    # scoringrules has no sample-set energy distance; its V form equals
    # 2 mean_j ES(P, y_j) - 2 mean_j ES(Q, y_j) over the 1,000 oracle samples y_j, one
    # es_ensemble call per oracle sample and model (batching the oracle samples needs
    # 50 GB here): time the calls for y_0 and scale by 1,000.
    y0 = oracle[0]
    t_pair = median_time(lambda: (sr.es_ensemble(y0, fct, backend="torch"),
                                  sr.es_ensemble(y0, oracle.swapaxes(0, 1), backend="torch")),
                         max(1, args.repeats // 2))
    t = 1000 * t_pair
    print(f"  scoringrules energy distance via 2 x 1,000 es_ensemble [torch] calls, "
          f"scaled from one pair: {t:8.0f} s   ratio = {t / t_ed:6.0f}x")
    t = median_time(lambda: sr.crps_ensemble(obs, np.moveaxis(samples, 0, -1),
                                             backend="numpy"), args.repeats)
    print(f"  scoringrules crps_ensemble [numpy]  {t:8.4f} s   ratio = {t / t_crps:5.1f}x")
    if not args.skip_properscoring:
        import properscoring as ps

        t = median_time(lambda: ps.crps_ensemble(obs, np.moveaxis(samples, 0, -1)), 1,
                        warmup=0)
        print(f"  properscoring crps_ensemble (1 run) {t:8.2f} s   ratio = "
              f"{t / t_crps:7.0f}x   (no numba installed: O(m^2) fallback)")


if __name__ == "__main__":
    main()
