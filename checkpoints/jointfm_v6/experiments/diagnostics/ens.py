"""Ensembles of checkpoints and other mean estimators at level 7 (calibration seed)."""
import sys, time
import numpy as np, torch
torch.set_num_threads(1)
from jointdist.datasets import load_sde_benchmark
from jointdist.evaluation.oracle import oracle_scores, oracle_spread
from jointdist.models import JointFMForecaster

level = int(sys.argv[1]); S = int(sys.argv[2])
ck = {"v2": "default", "v6": "checkpoints/jointfm_v6/last/jointfm"}
bench = load_sde_benchmark(level=level, n_systems=S, n_targets=10, context_length=504,
                           horizon=63, n_futures=1000, random_state=31_337 + level, device="cpu")
keys = ["normalized_energy_distance", "standardized_energy_distance", "correlation_error"]
variants = ["v2", "v6", "mix", "v2_at_avg_mean", "v2_at_ar1_mean", "v2_at_avg_ar1_v2"]
acc = {v: {k: [] for k in keys} for v in variants}
merr = {m: [] for m in ["v2", "v6", "avg", "last", "ar1", "v2_ar1"]}
t0 = time.time()
for i in range(S):
    hist = bench.history[i].astype(np.float64); fut = np.asarray(bench.futures[i], float)
    spread = oracle_spread(fut); mo, so = fut.mean(0), fut.std(0)
    s = {k: JointFMForecaster(p, random_state=0).fit(hist).predict_samples(63, 1000, random_state=i)
         for k, p in ck.items()}
    m2, m6 = s["v2"].mean(0), s["v6"].mean(0)
    # AR(1) with intercept per series on levels, OLS, iterated mean forecast
    x0, x1 = hist[:-1], hist[1:]
    xm, ym = x0.mean(0), x1.mean(0)
    b = ((x0 - xm) * (x1 - ym)).sum(0) / ((x0 - xm) ** 2).sum(0)
    b = np.clip(b, -1, 1); a = ym - b * xm
    ar = np.empty((63, hist.shape[1])); last = hist[-1]
    for h in range(63):
        last = a + b * last; ar[h] = last
    means = {"v2": m2, "v6": m6, "avg": (m2 + m6) / 2, "last": np.broadcast_to(hist[-1], m2.shape),
             "ar1": ar, "v2_ar1": (m2 + ar) / 2}
    ok = so > 0
    for k, m in means.items():
        merr[k].append(np.nanmean(np.where(ok, np.abs(m - mo) / np.where(ok, so, 1), np.nan), axis=1))
    cand = {"v2": s["v2"], "v6": s["v6"], "mix": np.concatenate([s["v2"][:500], s["v6"][:500]]),
            "v2_at_avg_mean": s["v2"] - m2 + (m2 + m6) / 2, "v2_at_ar1_mean": s["v2"] - m2 + ar,
            "v2_at_avg_ar1_v2": s["v2"] - m2 + (m2 + ar) / 2}
    for v, x in cand.items():
        sc = oracle_scores(x, fut, spread=spread)
        for k in keys:
            acc[v][k].append(np.mean(sc[k]))
print(f"level {level}, {S} systems, seed {31_337 + level}, {time.time()-t0:.0f}s")
print(f"{'variant':<18}" + "".join(f"{k[:14]:>16}" for k in keys))
for v in variants:
    print(f"{v:<18}" + "".join(f"{np.mean(acc[v][k]):>16.4f}" for k in keys))
for k, e in merr.items():
    e = np.array(e)
    print(f"mean error/sd {k:<8} all {e.mean():.3f}  h1 {e[:,0].mean():.3f} h21 {e[:,20].mean():.3f} h63 {e[:,62].mean():.3f}")
