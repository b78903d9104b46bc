import numpy as np, torch, sys
torch.set_num_threads(1)
from jointdist.datasets import load_sde_benchmark
from jointdist.models import JointFMForecaster
level=int(sys.argv[1]); S=int(sys.argv[2]); ck=sys.argv[3] if len(sys.argv)>3 else "default"
b=load_sde_benchmark(level=level,n_systems=S,n_targets=10,context_length=504,horizon=63,n_futures=1000,random_state=31_337+level,device="cpu")
xs,ys=[],[]
for i in range(S):
    h=b.history[i].astype(float); fut=np.asarray(b.futures[i],float)
    fm=JointFMForecaster(ck,random_state=0).fit(h).predict_samples(63,1000,random_state=i)
    so=fut.std(0); ok=so>1e-9*np.abs(fut.mean(0)).max()
    x=(fm.mean(0)-h[-1])/np.where(ok,so,np.nan); y=(fut.mean(0)-h[-1])/np.where(ok,so,np.nan)
    xs.append(x); ys.append(y)
X=np.array(xs); Y=np.array(ys)  # (S,H,N)
np.save(f"/tmp/diag/slope_l{level}.npy",{"x":X,"y":Y})
for hh in (0,4,20,41,62):
    x=X[:,hh].ravel(); y=Y[:,hh].ravel(); m=np.isfinite(x)&np.isfinite(y)
    x,y=x[m],y[m]
    slope=(x*y).sum()/(x*x).sum()
    # robust: clip standardized values at 5
    xc,yc=np.clip(x,-5,5),np.clip(y,-5,5); rs=(xc*yc).sum()/(xc*xc).sum()
    for c in (1.0,0.9,0.8,0.7):
        pass
    err={c:np.mean(np.abs(c*x-y)) for c in (1.0,0.9,0.8,0.7,0.6)}
    print(f"L{level} h={hh+1}: slope {slope:.3f} (clipped {rs:.3f}); mean|c*fm-oracle| " + " ".join(f"c={c}:{e:.3f}" for c,e in err.items()))
