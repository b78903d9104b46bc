import numpy as np, torch, time
torch.set_num_threads(1)
from jointdist.datasets import load_sde_benchmark
from jointdist.evaluation.oracle import correlation_error, pairwise_correlations
from jointdist.models import JointFMForecaster, DCCGarchForecaster
S=30
bench = load_sde_benchmark(level=7, n_systems=S, n_targets=10, context_length=504, horizon=63,
                           n_futures=1000, random_state=31_344, device="cpu")
res={k:[] for k in ["fm1k","fm10k","dcc1k","dcc10k","fm_selfnoise","dcc_selfnoise","fut_vs_fut_half"]}
t0=time.time()
for i in range(S):
    h=bench.history[i].astype(float); fut=np.asarray(bench.futures[i],float)
    fm=JointFMForecaster(random_state=0).fit(h).predict_samples(63,10000,random_state=i)
    dc=DCCGarchForecaster(random_state=0).fit(h).predict_samples(63,10000,random_state=i)
    res["fm1k"].append(correlation_error(fm[:1000],fut).mean()); res["fm10k"].append(correlation_error(fm,fut).mean())
    res["dcc1k"].append(correlation_error(dc[:1000],fut).mean()); res["dcc10k"].append(correlation_error(dc,fut).mean())
    res["fm_selfnoise"].append(correlation_error(fm[:1000],fm[1000:2000]).mean())
    res["dcc_selfnoise"].append(correlation_error(dc[:1000],dc[1000:2000]).mean())
    res["fut_vs_fut_half"].append(correlation_error(fut[:500],fut[500:]).mean())
print(f"{time.time()-t0:.0f}s")
for k,v in res.items(): print(k, round(float(np.mean(v)),4))
