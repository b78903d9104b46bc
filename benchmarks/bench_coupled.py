"""Cost of copula coupling against the cost of the draws it couples (issue 18).

Fits ``JointFMForecaster`` (marginals) and ``DCCGarchForecaster`` (dependence) on one
T=504, N=10 history, draws 10,000 paths of H=63 steps from each, and times
:func:`jointdist.models.coupled.couple_samples` on them: ``coupling="paths"`` and
``"targets"``, a template without ties (DCC) and one full of them (an i.i.d. bootstrap
of the history, whose 10,000 paths take at most 503 values per step), and a template of
1,000 paths resampled to 10,000.  Medians of ``--repeats`` runs after a warm-up.

Run: ``python benchmarks/bench_coupled.py [--samples 10000] [--repeats 3] [--threads 1]``
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import median_time  # noqa: E402

from jointdist.models import (  # noqa: E402
    DCCGarchForecaster,
    HistoricalSimulation,
    JointFMForecaster,
)
from jointdist.models.coupled import couple_samples  # noqa: E402


def make_history(n_rows=504, n_targets=10, seed=0) -> np.ndarray:
    """Correlated random walks (pairwise correlation 0.5 of the increments)."""
    rng = np.random.default_rng(seed)
    corr = np.full((n_targets, n_targets), 0.5) + 0.5 * np.eye(n_targets)
    steps = rng.standard_normal((n_rows, n_targets)) @ np.linalg.cholesky(corr).T
    return 100.0 + np.cumsum(steps, axis=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--horizon", type=int, default=63)
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    y = make_history(n_targets=args.targets)
    S, H = args.samples, args.horizon
    jointfm = JointFMForecaster(device="cpu", n_samples_batch=S).fit(y)
    dcc = DCCGarchForecaster().fit(y)
    hs = HistoricalSimulation().fit(y)

    draws = {}

    def timed_draw(name, model):
        def draw():
            draws[name] = model.predict_samples(H, S, random_state=0)
        return median_time(draw, repeats=args.repeats)

    t_jointfm = timed_draw("jointfm", jointfm)
    t_dcc = timed_draw("dcc", dcc)
    t_hs = timed_draw("hs", hs)
    shape = f"{S:,} x {H} x {args.targets}"
    print(f"draws of {shape} paths (median of {args.repeats}, {args.threads} torch "
          f"thread(s)):")
    print(f"  JointFMForecaster    {t_jointfm:8.3f} s")
    print(f"  DCCGarchForecaster   {t_dcc:8.3f} s")
    print(f"  HistoricalSimulation {t_hs:8.3f} s")
    print(f"  JointFM + DCC        {t_jointfm + t_dcc:8.3f} s  (what a coupled draw pays "
          "before coupling)")

    marginal = draws["jointfm"]
    small_template = draws["dcc"][: S // 10]
    cases = [
        ("paths, DCC template (no ties)", draws["dcc"], "paths"),
        ("targets, DCC template (no ties)", draws["dcc"], "targets"),
        ("paths, bootstrap template (ties)", draws["hs"], "paths"),
        ("targets, bootstrap template (ties)", draws["hs"], "targets"),
        (f"paths, {S // 10:,} DCC paths resampled", small_template, "paths"),
    ]
    print(f"\ncouple_samples on {shape} (median of {args.repeats}):")
    for label, template, coupling in cases:
        t = median_time(lambda: couple_samples(marginal, template, coupling=coupling,
                                               random_state=0), repeats=args.repeats)
        print(f"  {label:<38}{t:8.3f} s  = {t / (t_jointfm + t_dcc):6.1%} of the draws")


if __name__ == "__main__":
    main()
