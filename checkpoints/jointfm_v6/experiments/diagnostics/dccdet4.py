import numpy as np, sys, warnings
from jointdist.datasets import load_sde_benchmark
from jointdist.models import DCCGarchForecaster
b=load_sde_benchmark(level=7,n_systems=200,n_targets=10,context_length=504,horizon=63,n_futures=2,random_state=20_261_129,device="cpu")
f=DCCGarchForecaster(random_state=0).fit(b.history[100].astype(float))
print(sys.argv[1], "total", round(float(f.loglikelihood_),2), "garch", np.round(np.asarray(f.garch_loglikelihood_,float),2))
print(f.garch_params_.round(4).to_string())
