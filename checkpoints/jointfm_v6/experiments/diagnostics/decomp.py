"""Where does JointFM's ED/spread come from at level 7? Location, scale, or the rest."""
import sys, time
import numpy as np, torch
torch.set_num_threads(1)
from jointdist.datasets import load_sde_benchmark
from jointdist.evaluation.oracle import oracle_scores, oracle_spread
from jointdist.models import JointFMForecaster, DCCGarchForecaster

level = int(sys.argv[1]) if len(sys.argv) > 1 else 7
S = int(sys.argv[2]) if len(sys.argv) > 2 else 30
ckpt = sys.argv[3] if len(sys.argv) > 3 else "default"
bench = load_sde_benchmark(level=level, n_systems=S, n_targets=10, context_length=504,
                           horizon=63, n_futures=1000, random_state=31_337 + level, device="cpu")
keys = ["normalized_energy_distance", "standardized_energy_distance", "correlation_error",
        "variogram_divergence"]
variants = ["raw", "oracle_mean", "oracle_sd", "oracle_mean_sd", "shrink0.9", "widen1.1",
            "dcc", "dcc_mean_sd"]
acc = {v: {k: [] for k in keys} for v in variants}
sdr, bias = [], []
t0 = time.time()
for i in range(S):
    hist = bench.history[i].astype(np.float64); fut = np.asarray(bench.futures[i], float)
    spread = oracle_spread(fut)
    s = JointFMForecaster(ckpt, random_state=0).fit(hist).predict_samples(63, 1000, random_state=i)
    d = DCCGarchForecaster(random_state=0).fit(hist).predict_samples(63, 1000, random_state=i)
    mo, so = fut.mean(0), fut.std(0)
    def fix(x, mean=False, sd=False, c=1.0):
        m, sx = x.mean(0), x.std(0)
        z = (x - m) * c
        if sd:
            z = z * np.divide(so, sx, out=np.ones_like(sx), where=sx > 0)
        return z + (mo if mean else m)
    cand = {"raw": s, "oracle_mean": fix(s, mean=True), "oracle_sd": fix(s, sd=True),
            "oracle_mean_sd": fix(s, True, True), "shrink0.9": fix(s, c=0.9),
            "widen1.1": fix(s, c=1.1), "dcc": d, "dcc_mean_sd": fix(d, True, True)}
    for v, x in cand.items():
        sc = oracle_scores(x, fut, spread=spread)
        for k in keys:
            acc[v][k].append(np.mean(sc[k]))
    ok = so > 0
    sdr.append(np.median(np.where(ok, s.std(0) / np.where(ok, so, 1), np.nan), axis=1))
    bias.append(np.median(np.abs(np.where(ok, (s.mean(0) - mo) / np.where(ok, so, 1), np.nan)), axis=1))
print(f"level {level}, {S} systems, seed {31_337 + level}, ckpt {ckpt}, {time.time()-t0:.0f}s")
print(f"{'variant':<16}" + "".join(f"{k[:14]:>16}" for k in keys))
for v in variants:
    print(f"{v:<16}" + "".join(f"{np.mean(acc[v][k]):>16.4f}" for k in keys))
sdr = np.nanmedian(np.array(sdr), axis=0); bias = np.nanmedian(np.array(bias), axis=0)
for h in (0, 4, 20, 41, 62):
    print(f"h={h+1:>2}: median sd ratio {sdr[h]:.3f}, median |bias|/sd {bias[h]:.3f}")
np.save(f"/tmp/diag/decomp_l{level}_{ckpt.replace('/', '_')}.npy",
        {v: {k: np.array(acc[v][k]) for k in keys} for v in variants}, allow_pickle=True)
