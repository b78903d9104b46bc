import numpy as np, torch, sys
torch.set_num_threads(1)
from jointdist.datasets import load_sde_benchmark
from jointdist.models import JointFMForecaster, DCCGarchForecaster
from jointdist.evaluation import error_decomposition
b=load_sde_benchmark(level=7,n_systems=200,n_targets=10,context_length=504,horizon=63,n_futures=1000,random_state=20_261_129,device="cpu")
for i in map(int, sys.argv[1:]):
    h=b.history[i].astype(float); fut=np.asarray(b.futures[i],float)
    fm=JointFMForecaster(random_state=0).fit(h).predict_samples(63,1000,random_state=20_261_122+i)
    dc=DCCGarchForecaster(random_state=0).fit(h).predict_samples(63,1000,random_state=20_261_122+i)
    print("system",i,{k:round(float(v.mean()),3) for k,v in error_decomposition(fm,fut).items()})
    mo,so=fut.mean(0),fut.std(0)
    print(" target  last   ctx_sd_incr  orc_mean63-last  orc_sd63  fm_mean63-last  fm_sd63  dcc_mean63-last dcc_sd63 sin_amp freq sigma")
    for j in range(10):
        inc=np.diff(h[:,j]).std()
        print(f" {j} {h[-1,j]:10.3g} {inc:10.3g} {mo[62,j]-h[-1,j]:10.3g} {so[62,j]:10.3g} {fm[:,62,j].mean()-h[-1,j]:10.3g} {fm[:,62,j].std():10.3g} {dc[:,62,j].mean()-h[-1,j]:10.3g} {dc[:,62,j].std():10.3g}  {b.params['sin_amp'][i,j]:.2f} {b.params['sin_freq'][i,j]:.1f} {b.params['sigma'][i,j]:.2f} beta {b.params['beta'][i,j]:.2f} diff {b.params['diff_type'][i,j]}")
