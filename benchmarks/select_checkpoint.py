"""Compare JointFM checkpoints on a held-out selection set (before the benchmark).

The set uses seed ``SELECTION_SEED`` (never the training stream's, the validation's
987654 or the benchmark's 20261122 + level), levels 2, 4 and 7, ``N = 10``: the energy
distance after dividing every series by its true scale (as in training validation),
its ratio to i.i.d. HistoricalSimulation, and the scale-free, dependence-sensitive
scores of :func:`jointdist.evaluation.oracle_scores` (energy distance / oracle spread,
standardized energy distance, variogram divergence, correlation error), averaged over
systems and levels.  Choose the shipped checkpoint here, then
run ``bench_sde_protocol.py`` once.

Usage::

    python benchmarks/select_checkpoint.py runs/x/best/jointfm runs/x/last/jointfm [...]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from jointdist.evaluation import oracle_scores
from jointdist.models.jointfm import JointFMForecaster
from jointdist.models.jointfm.training import ValidationSet

SELECTION_SEED = 555


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--levels", type=int, nargs="+", default=[2, 4, 7])
    p.add_argument("--systems", type=int, default=20)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    val = ValidationSet(args.levels, args.systems, 10, 504, 63, args.samples, 2.0, 0.25,
                        SELECTION_SEED, args.samples)
    print(f"selection set: levels {args.levels}, {args.systems} systems each, N=10, "
          f"{args.samples} futures and samples, seed {SELECTION_SEED}")
    futures = [val.sets[level][1] for level in args.levels]
    for ck in args.checkpoints:
        for head in ("skewt", "gmm"):
            fc = JointFMForecaster(ck, head=head, random_state=0)
            drawn = []  # ValidationSet.evaluate asks for the levels in order

            def sample_fn(histories):
                drawn.append(fc.predict_samples_batch(histories, 63, args.samples,
                                                      random_state=0))
                return drawn[-1]

            res = val.evaluate(sample_fn)
            scores = [[oracle_scores(s, f) for s, f in zip(smp, fut)]
                      for smp, fut in zip(drawn, futures)]  # [level][system]

            def mean_of(metric, level_scores):
                return float(np.mean([sc[metric].mean() for sc in level_scores]))

            corr_err = [mean_of("correlation_error", sc) for sc in scores]
            text = "  ".join(f"L{lv}: ratio {res[f'ratio_{lv}']:.3f} corr-err {ce:.3f}"
                             for lv, ce in zip(args.levels, corr_err))
            extra = "  ".join(
                f"{short} {np.mean([mean_of(metric, sc) for sc in scores]):.4f}"
                for short, metric in (("ED/spread", "normalized_energy_distance"),
                                      ("std-ED", "standardized_energy_distance"),
                                      ("vario", "variogram_divergence")))
            print(f"{ck} [{head}]  mean ratio {res['ratio']:.3f}  "
                  f"mean corr-err {np.mean(corr_err):.3f}  {extra}  |  {text}")


if __name__ == "__main__":
    main()
