"""JointFM benchmarks: size, sampling speed, training step time, validation vs baselines.

Usage::

    python benchmarks/bench_jointfm.py                     # size + speed (default checkpoint)
    python benchmarks/bench_jointfm.py --train-step        # + training step time
    python benchmarks/bench_jointfm.py --validate          # ED vs HistoricalSimulation
    python benchmarks/bench_jointfm.py --scale-experiment  # rerun the scale-handling arms

Timings are medians over repeats; on a shared machine they are noisy (say so when you
quote them).  The speed target of issue 7 is ``predict_samples(63, 10000)`` for N=10 and
a 504-step context in at most 100 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_time  # noqa: E402

from jointdist.models.jointfm import JointFMForecaster  # noqa: E402
from jointdist.models.jointfm.weights import resolve_checkpoint  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "jointdist" / "models" / "jointfm" / "configs"


def bench_speed(checkpoint, threads, repeats):
    y = np.cumsum(np.random.default_rng(0).normal(size=(504, 10)), axis=0)
    fc = JointFMForecaster(checkpoint, random_state=0).fit(y)
    net = fc.model_
    pt = resolve_checkpoint(checkpoint).with_suffix(".pt")
    print(f"checkpoint: {pt} ({pt.stat().st_size / 2**20:.2f} MiB)")
    print(f"parameters: {net.n_parameters:,}  config: {json.dumps(net.config.to_dict())}")
    ctx = torch.as_tensor(y[None], dtype=torch.float32)
    for th in threads:
        torch.set_num_threads(th)
        with torch.no_grad():
            t_fwd = median_time(lambda: net(ctx), repeats=repeats, warmup=2)
        print(f"[{th} thread(s)] forward, batch 1, N=10, T=504: {t_fwd * 1e3:.1f} ms")
        for head in net.config.heads:
            fc.set_params(head=head).fit(y)
            t = median_time(lambda: fc.predict_samples(63, 10000), repeats=repeats, warmup=1)
            print(f"[{th} thread(s)] predict_samples(63, 10000), N=10, head={head}: "
                  f"{t * 1e3:.1f} ms (median of {repeats})")


def bench_speed_side_by_side(checkpoints, threads, repeats):
    """``predict_samples(63, 10000)`` (N=10, T=504) of several checkpoints, alternating.

    Every repeat times each checkpoint once, in turn, so that a changing load on a
    shared machine hits all alike; medians and their ratio to the first checkpoint.
    """
    y = np.cumsum(np.random.default_rng(0).normal(size=(504, 10)), axis=0)
    for th in threads:
        torch.set_num_threads(th)
        for head in ("skewt", "gmm"):
            fcs = [JointFMForecaster(ck, head=head, random_state=0).fit(y)
                   for ck in checkpoints]
            times = [[] for _ in fcs]
            for fc in fcs:  # warm-up
                fc.predict_samples(63, 10000)
            for _ in range(repeats):
                for fc, out in zip(fcs, times):
                    start = time.perf_counter()
                    fc.predict_samples(63, 10000)
                    out.append(time.perf_counter() - start)
            med = [float(np.median(t)) for t in times]
            for ck, fc, m in zip(checkpoints, fcs, med):
                print(f"[{th} thread(s)] head={head} {ck} ({fc.model_.n_parameters:,} "
                      f"parameters): predict_samples(63, 10000) {m * 1e3:.1f} ms, "
                      f"{m / med[0]:.2f}x the first (median of {repeats}, alternating)")


def bench_train_step(config_name, batch_sizes, threads, repeats):
    from jointdist.datasets.sde import SDEStream
    from jointdist.models.jointfm import JointFM, TrainConfig
    from jointdist.models.jointfm.training import jointfm_loss

    cfg = TrainConfig.from_json(CONFIGS / config_name)
    torch.set_num_threads(threads)
    net = JointFM(cfg.model_config)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    for bs in batch_sizes:
        stream = SDEStream(levels=cfg.levels, batch_size=bs, n_targets=tuple(cfg.n_targets),
                           context_length=cfg.model_config.context_length,
                           horizon=cfg.model_config.max_horizon, n_futures=cfg.n_futures,
                           t_in=cfg.t_in, t_out=cfg.t_out, random_state=0, device="cpu")
        t_sim = median_time(stream.sample_batch, repeats=repeats, warmup=1)
        batch = stream.sample_batch()

        def step():
            loss, _ = jointfm_loss(net, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()

        t_step = median_time(step, repeats=repeats, warmup=1)
        print(f"[{threads} thread(s)] {config_name}: batch {bs}, N in {cfg.n_targets}, "
              f"{cfg.n_futures} futures, heads {list(cfg.model_config.heads)}: "
              f"SDE batch {t_sim:.2f} s + forward/backward/step {t_step:.2f} s")


def validate(checkpoint, levels, n_systems, n_targets, seed, n_samples, threads):
    """Scaled energy distance of JointFM vs HistoricalSimulation (and their ratio)."""
    from jointdist.models.jointfm.training import ValidationSet, evaluate
    from jointdist.models.jointfm.weights import load_weights

    torch.set_num_threads(threads)
    net = load_weights(checkpoint)
    t0 = time.time()
    val = ValidationSet(levels, n_systems, n_targets, net.config.context_length,
                        net.config.max_horizon, 1000, 2.0, 0.25, seed, n_samples)
    res = evaluate(net, val, net.config.max_horizon, seed=seed)
    print(f"held-out SDE set: levels {levels}, {n_systems} systems each, N={n_targets}, "
          f"T=504, H=63, 1000 oracle futures, {n_samples} samples, seed {seed} "
          f"({time.time() - t0:.0f} s)")
    print("energy distance (per-series true scale removed), mean over systems and horizons")
    print(f"{'level':>6} {'HistSim':>9} "
          + " ".join(f"{h:>9} {'ratio':>6}" for h in net.config.heads))
    for lv in levels:
        row = f"{lv:>6} {res[f'{net.config.heads[0]}_hs_ed_{lv}']:>9.4f} "
        row += " ".join(f"{res[f'{h}_ed_{lv}']:>9.4f} {res[f'{h}_ratio_{lv}']:>6.3f}"
                        for h in net.config.heads)
        print(row)
    return res


def scale_experiment(out_root, max_seconds):
    """The three scale-handling arms (configs/scale_*.json), trained one after another."""
    from jointdist.models.jointfm import TrainConfig, train

    rows = {}
    for arm in ("increment", "increment_stats", "revin"):
        cfg = TrainConfig.from_json(CONFIGS / f"scale_{arm}.json",
                                    out_dir=str(Path(out_root) / f"scale_{arm}"))
        train(cfg, max_seconds=max_seconds)
        import csv

        last = list(csv.DictReader(open(Path(cfg.out_dir) / "validation.csv")))[-1]
        rows[arm] = last
    print(f"{'arm':>16} " + " ".join(f"{k:>10}" for k in ("ed", "ratio")))
    for arm, r in rows.items():
        print(f"{arm:>16} {float(r['gmm_ed']):>10.4f} {float(r['gmm_ratio']):>10.3f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="default")
    p.add_argument("--compare", nargs="+", default=None, metavar="CHECKPOINT",
                   help="time predict_samples of --checkpoint and these side by side")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--train-step", action="store_true")
    p.add_argument("--validate", action="store_true")
    p.add_argument("--val-levels", type=int, nargs="+", default=[2, 5, 7])
    p.add_argument("--val-systems", type=int, default=32)
    p.add_argument("--val-targets", type=int, default=10)
    p.add_argument("--val-seed", type=int, default=20261122)
    p.add_argument("--val-samples", type=int, default=1000)
    p.add_argument("--scale-experiment", action="store_true")
    p.add_argument("--out", default="runs")
    p.add_argument("--max-seconds", type=float, default=None)
    args = p.parse_args(argv)
    if args.scale_experiment:
        scale_experiment(args.out, args.max_seconds)
        return
    if args.compare:
        bench_speed_side_by_side([args.checkpoint, *args.compare], args.threads,
                                 args.repeats)
        return
    bench_speed(args.checkpoint, args.threads, args.repeats)
    if args.train_step:
        for th in args.threads:
            bench_train_step("default.json", [16, 32], th, max(3, args.repeats // 2))
    if args.validate:
        validate(args.checkpoint, args.val_levels, args.val_systems, args.val_targets,
                 args.val_seed, args.val_samples, min(args.threads))


if __name__ == "__main__":
    main()
