"""Where JointFM's correlation error comes from (issue 19's last unmet bar).

On held-out level-7 systems (seed 31,337: not the benchmark's, the selection set's or
training's), the correlation error ``mean |corr_forecast - corr_oracle|`` over pairs and
horizons (:func:`jointdist.evaluation.correlation_error`) of:

* context estimates used as a constant forecast (no sampling noise): the raw increments'
  correlation with v7's weights (half-life 252) and with equal weights, the centred
  standardized residuals with a half-life chosen per series (``volatility_halflife=
  "auto"``), and DCC-GARCH's ``Qbar`` (the correlation of its stage-1 residuals);
* the exact correlation of a network's GMM mixture (from its parameters: no noise);
* its samples (skew-t, the default head, and GMM) at 1,000 and 10,000 paths, and
  DCC-GARCH's.

``bias`` is the mean of ``sign(corr_oracle) (corr - corr_oracle)``: negative where a
forecast's correlations are too weak.  Usage::

    python correlation_sources.py [N_SYSTEMS] [CHECKPOINT ...]

v7's weights, and v7's weights with v8's dependence config at full trust (changed at
inference only), are always scored; each CHECKPOINT given is scored too.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings

import numpy as np
import torch

from jointdist.datasets import load_sde_benchmark
from jointdist.evaluation.oracle import pairwise_correlations
from jointdist.models import DCCGarchForecaster, JointFMForecaster
from jointdist.models.jointfm import JointFM
from jointdist.models.jointfm.model import context_correlation
from jointdist.models.jointfm.weights import load_weights

SEED, H, N = 31_337, 63, 10


def mixture_correlation(dist):
    """Exact correlation (H, pairs) of a JointGaussianMixture for one series set."""
    pi = torch.softmax(dist.logits, -1)[0].double().numpy()
    loc, dg, fac = (t[0].double().numpy() for t in (dist.loc, dist.diag, dist.factor))
    cov = np.einsum("khn,nm->khnm", dg ** 2, np.eye(dg.shape[-1])) + np.einsum(
        "khnr,khmr->khnm", fac, fac)
    mu = np.einsum("k,khn->hn", pi, loc)
    mix = (np.einsum("k,khnm->hnm", pi, cov + np.einsum("khn,khm->khnm", loc, loc))
           - np.einsum("hn,hm->hnm", mu, mu))
    sd = np.sqrt(np.diagonal(mix, axis1=-2, axis2=-1))
    corr = mix / sd[..., :, None] / sd[..., None, :]
    iu = np.triu_indices(dg.shape[-1], 1)
    return corr[:, iu[0], iu[1]]


def main():
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    n_systems = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    v7 = load_weights("checkpoints/jointfm_v7/last/jointfm")
    cfg = dataclasses.replace(v7.config, volatility_halflife="auto",
                              dependence_halflife=0.0, dependence_share="total",
                              trust_offset=30.0)
    full_trust = JointFM(cfg).eval()
    full_trust.load_state_dict(v7.state_dict())
    nets = {"v7": v7.eval(), "v7 + v8 config, full trust": full_trust}
    for path in sys.argv[2:]:
        nets[path] = load_weights(path).eval()
    bench = load_sde_benchmark(level=7, n_systems=n_systems, n_targets=N, context_length=504,
                               horizon=H, n_futures=1000, random_state=SEED, device="cpu")
    iu = np.triu_indices(N, 1)
    err, bias = {}, {}

    def record(name, corr, oracle):
        corr = np.broadcast_to(corr, oracle.shape)
        sign = np.sign(oracle.mean(0))
        err.setdefault(name, []).append(np.abs(corr - oracle).mean())
        bias.setdefault(name, []).append((sign * (corr - oracle)).mean())

    mask = torch.ones(1, 504, dtype=torch.bool)
    for i in range(n_systems):
        oracle = pairwise_correlations(bench.futures[i])
        x = torch.tensor(bench.history[i][None].astype(np.float64))
        for label, hl, vh in (("context: raw increments, half-life 252 (v7's)", 252.0, 0.0),
                              ("context: raw increments, equal weights", 0.0, 0.0),
                              ("context: standardized, auto (v8's)", 0.0, "auto")):
            record(label, context_correlation(x, mask, hl, vh)[0].numpy()[iu], oracle)
        dcc = DCCGarchForecaster(random_state=0).fit(bench.history[i])
        record("context: DCC-GARCH Qbar", dcc.qbar_[iu], oracle)
        s = dcc.predict_samples(H, 10_000, random_state=i)
        record("DCC-GARCH, 1,000 paths", pairwise_correlations(s[:1000]), oracle)
        record("DCC-GARCH, 10,000 paths", pairwise_correlations(s), oracle)
        for name, net in nets.items():
            for head in ("skewt", "gmm"):
                fc = JointFMForecaster(head=head, random_state=0).fit(bench.history[i])
                fc.model_ = net
                s = fc.predict_samples(H, 10_000, random_state=i)
                record(f"{name}, {head}, 1,000 paths", pairwise_correlations(s[:1000]), oracle)
                record(f"{name}, {head}, 10,000 paths", pairwise_correlations(s), oracle)
            with torch.no_grad():
                out = net(torch.as_tensor(fc.network_context_[None]).float(), horizon=H,
                          heads=["gmm"])
            record(f"{name}, GMM law (exact)", mixture_correlation(out.distributions["gmm"]),
                   oracle)
    print(f"level 7, {n_systems} systems (seed {SEED}), N = {N}, 1,000 oracle futures")
    print(f"{'forecast':<62}{'corr. error':>12}{'bias':>9}")
    for name in err:
        print(f"{name:<62}{np.mean(err[name]):>12.4f}{np.mean(bias[name]):>9.4f}")


if __name__ == "__main__":
    main()
