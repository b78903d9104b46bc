import numpy as np, sys
from jointdist.datasets import load_sde_benchmark
from jointdist.models import DCCGarchForecaster
b=load_sde_benchmark(level=7,n_systems=200,n_targets=10,context_length=504,horizon=63,n_futures=2,random_state=20_261_129,device="cpu")
out={}
for i in range(0,200,25):
    f=DCCGarchForecaster(random_state=0).fit(b.history[i].astype(float))
    s=f.predict_samples(63,200,random_state=20_261_122+i)
    out[i]=s
np.save(f"/tmp/diag/dcc_{sys.argv[1]}.npy", out, allow_pickle=True)
