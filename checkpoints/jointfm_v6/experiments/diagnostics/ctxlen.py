import numpy as np, torch, time
torch.set_num_threads(1)
from jointdist.datasets import load_sde_benchmark
from jointdist.evaluation import error_decomposition
from jointdist.models import JointFMForecaster
S=30
bench = load_sde_benchmark(level=7, n_systems=S, n_targets=10, context_length=504, horizon=63,
                           n_futures=1000, random_state=31_344, device="cpu")
out={}
for T in (504, 252, 126):
    err=[]; dec=[]
    for i in range(S):
        h=bench.history[i].astype(float); fut=np.asarray(bench.futures[i],float)
        s=JointFMForecaster(context_length=T, random_state=0).fit(h).predict_samples(63,1000,random_state=i)
        mo,so=fut.mean(0),fut.std(0); ok=so>0
        err.append(np.nanmean(np.where(ok,np.abs(s.mean(0)-mo)/np.where(ok,so,1),np.nan),axis=1))
        d=error_decomposition(s,fut); dec.append([d[v].mean() for v in d])
    e=np.array(err); dec=np.array(dec).mean(0)
    print(f"T={T}: mean err/sd all {e.mean():.3f} h1 {e[:,0].mean():.3f} h21 {e[:,20].mean():.3f} h63 {e[:,62].mean():.3f}; decomposition {np.round(dec,4)}", flush=True)
