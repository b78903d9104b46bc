"""Held-out probe of the harmonic drift path: ED/spread of a checkpoint against v2 on
level-7 systems (seed 31,344: never used by training, validation, selection or the
benchmark), split by whether the system has sinusoidal forcing.

    python harmonic_probe.py CKPT [N_SYSTEMS] [--gate-off]

``--gate-off`` compares CKPT with its harmonic gate set to 0 (the same weights without
the path's shift) instead of with v2."""
import sys
import time

import numpy as np
import torch

from jointdist.datasets import load_sde_benchmark
from jointdist.evaluation import oracle_scores, oracle_spread
from jointdist.models import JointFMForecaster

torch.set_num_threads(1)
args = [a for a in sys.argv[1:] if a != "--gate-off"]
ckpt = args[0]
S = int(args[1]) if len(args) > 1 else 30
reference = "default"
if "--gate-off" in sys.argv:
    import tempfile

    from jointdist.models.jointfm.weights import load_weights, save_weights

    net = load_weights(ckpt)
    with torch.no_grad():
        net.harmonic.gate[2].weight.zero_()
        net.harmonic.gate[2].bias.zero_()
    reference = str(save_weights(net, tempfile.mkdtemp() + "/jointfm"))
bench = load_sde_benchmark(level=7, n_systems=S, n_targets=10, context_length=504,
                           horizon=63, n_futures=1000, random_state=31_344, device="cpu")
forced = np.abs(bench.params["sin_amp"]) > 0
rows, t0 = [], time.time()
for i in range(S):
    h, fut = bench.history[i].astype(float), np.asarray(bench.futures[i], float)
    spread = oracle_spread(fut)
    row = [forced[i].any()]
    for path in (reference, ckpt):
        samples = JointFMForecaster(path, random_state=0).fit(h).predict_samples(
            63, 1000, random_state=i)
        s = oracle_scores(samples, fut, spread=spread)
        row += [s["normalized_energy_distance"].mean(),
                s["standardized_energy_distance"].mean(), s["correlation_error"].mean()]
    rows.append(row)
r = np.array(rows, dtype=float)
print(f"# harmonic_probe.py {' '.join(sys.argv[1:])}: {time.time() - t0:.0f} s "
      f"(left of the arrow: {'gate off' if reference != 'default' else 'v2'})")
for name, m in (("all", np.ones(S, bool)), ("forced", r[:, 0] > 0), ("unforced", r[:, 0] == 0)):
    print(f"{name:>8} n={m.sum():>3}: ED/spread {r[m, 1].mean():.4f} -> {r[m, 4].mean():.4f}; "
          f"std-ED {r[m, 2].mean():.4f} -> {r[m, 5].mean():.4f}; "
          f"corr {r[m, 3].mean():.4f} -> {r[m, 6].mean():.4f}")
