"""Compare JointFM checkpoints on a held-out selection set (before the benchmark).

The set uses seed ``SELECTION_SEED`` (never the training stream's, the validation's
987654 or the benchmark's 20261122 + level), levels 2, 4 and 7, ``N = 10``: the energy
distance after dividing every series by its true scale (as in training validation),
its ratio to i.i.d. HistoricalSimulation, and the scale-free, dependence-sensitive
scores of :func:`jointdist.evaluation.oracle_scores` (energy distance / oracle spread,
standardized energy distance, variogram divergence, correlation error), averaged over
systems and levels.  Choose the shipped checkpoint here, then
run ``bench_sde_protocol.py`` once.

With ``--variants`` it is also the **ablation** of the dependence paths, changed at
inference only on the same systems: ``trained`` (as shipped), ``learned-only`` (trust
``kappa -> 0``: the learned loadings alone), ``empirical-only`` (``kappa -> 1`` and the
learned loadings off: the context correlation alone), ``full-trust`` (``kappa -> 1``,
learned loadings kept), ``full-rank`` (an old checkpoint's truncated correlation
replaced by the full one, trust as trained) and ``context`` (full trust with the config
fields of issue 19's last experiment: ``dependence_share = "total"``, so that the
context's correlation is not diluted by the learned loadings, and
``volatility_halflife = 20``, the correlation of standardized residuals).

Usage::

    python benchmarks/select_checkpoint.py runs/x/best/jointfm runs/x/last/jointfm [...]
    python benchmarks/select_checkpoint.py default --variants trained learned-only
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from jointdist.cli import make_model
from jointdist.evaluation import oracle_scores
from jointdist.models.jointfm import JointFMForecaster
from jointdist.models.jointfm.training import ValidationSet

SELECTION_SEED = 555
VARIANTS = ("trained", "learned-only", "empirical-only", "full-trust", "full-rank", "context")


def dependence_variant(model, variant: str):
    """A copy of a JointFM network with its dependence paths changed (see the module
    docstring); ``"trained"`` returns the network itself."""
    import copy

    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; available: {', '.join(VARIANTS)}")
    if variant == "trained":
        return model
    model = copy.deepcopy(model)
    if variant == "full-rank":
        model.config.empirical_rank = "full"
        for head in model.heads.values():
            head.q = "full"
        return model
    if variant == "context":  # the forward reads both fields at every call
        model.config.volatility_halflife = 20.0
        for head in model.heads.values():
            head.dependence_share = "total"
    with torch.no_grad():
        for head in model.heads.values():
            if head.trust is None:
                raise SystemExit(f"variant {variant!r} needs the empirical path; this "
                                 "checkpoint has none")
            head.trust.weight.zero_()
            head.trust.bias.fill_(-30.0 if variant == "learned-only" else 30.0)
            if variant == "empirical-only":  # the learned loadings' outputs, off
                n, r = head.n_per_target, head.r
                head.per_target.weight.view(-1, n, head.per_target.in_features)[:, 2:2 + r] = 0
                head.per_target.bias.view(-1, n)[:, 2:2 + r] = 0
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--levels", type=int, nargs="+", default=[2, 4, 7])
    p.add_argument("--systems", type=int, default=20)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--heads", nargs="+", default=["skewt", "gmm"])
    p.add_argument("--variants", nargs="+", default=["trained"], choices=VARIANTS)
    p.add_argument("--baselines", nargs="*", default=[], metavar="MODEL",
                   help="also score these command-line models (e.g. hs dcc)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    val = ValidationSet(args.levels, args.systems, 10, 504, 63, args.samples, 2.0, 0.25,
                        SELECTION_SEED, args.samples)
    print(f"selection set: levels {args.levels}, {args.systems} systems each, N=10, "
          f"{args.samples} futures and samples, seed {SELECTION_SEED}")
    futures = [val.sets[level][1] for level in args.levels]

    def score(label, predict):
        """Print the selection figures of ``predict(histories) -> samples``."""
        drawn = []  # ValidationSet.evaluate asks for the levels in order

        def sample_fn(histories):
            drawn.append(predict(histories))
            return drawn[-1]

        res = val.evaluate(sample_fn)
        scores = [[oracle_scores(s, f) for s, f in zip(smp, fut)]
                  for smp, fut in zip(drawn, futures)]  # [level][system]

        def mean_of(metric, level_scores):
            return float(np.mean([sc[metric].mean() for sc in level_scores]))

        corr_err = [mean_of("correlation_error", sc) for sc in scores]
        text = "  ".join(f"L{lv}: ratio {res[f'ratio_{lv}']:.3f} corr-err {ce:.3f}"
                         for lv, ce in zip(args.levels, corr_err))
        extra = "  ".join(
            f"{short} {np.mean([mean_of(metric, sc) for sc in scores]):.4f}"
            for short, metric in (("ED/spread", "normalized_energy_distance"),
                                  ("std-ED", "standardized_energy_distance"),
                                  ("vario", "variogram_divergence"),
                                  ("portfolio", "portfolio_energy")))
        print(f"{label}  mean ratio {res['ratio']:.3f}  mean corr-err "
              f"{np.mean(corr_err):.3f}  {extra}  |  {text}", flush=True)

    for name in args.baselines:
        model = make_model(name, 0)
        score(f"baseline {name}", lambda hs: np.stack([
            model.fit(h).predict_samples(63, args.samples, random_state=0) for h in hs]))
    for ck, variant in ((c, v) for c in args.checkpoints for v in args.variants):
        for head in args.heads:
            fc = JointFMForecaster(ck, head=head, random_state=0)
            fc.model_, fc.head_ = dependence_variant(fc._load()[0], variant), head
            score(f"{ck} [{head}, {variant}]", lambda hs: fc.predict_samples_batch(
                hs, 63, args.samples, random_state=0))


if __name__ == "__main__":
    main()
