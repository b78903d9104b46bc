import numpy as np, sys, hashlib
from jointdist.datasets import load_sde_benchmark
from jointdist.models import DCCGarchForecaster
b=load_sde_benchmark(level=7,n_systems=200,n_targets=10,context_length=504,horizon=63,n_futures=2,random_state=20_261_129,device="cpu")
h=hashlib.sha256()
for i in range(0,200,25):
    s=DCCGarchForecaster(random_state=0).fit(b.history[i].astype(float)).predict_samples(63,200,random_state=20_261_122+i)
    h.update(s.tobytes())
print(sys.argv[1], h.hexdigest()[:16])
