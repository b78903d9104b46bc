"""Pretraining of JointFM on the SDE stream (seed 000, Sec. 3.2).

Batches come on the fly from :class:`jointdist.datasets.sde.SDEStream` over a mix of
curriculum levels; the loss is the negative log-likelihood of the branched futures under
the predicted per-horizon joint laws (every head the model carries), optionally plus an
energy-score term.  AdamW, linear warm-up then cosine decay, gradient clipping, bfloat16
autocast on CUDA, resumable checkpoints, a tqdm progress bar and periodic validation on a
fixed held-out SDE set (energy distance to the oracle futures, written to CSV).  Launched
with ``torchrun`` it trains with DistributedDataParallel (one stream per rank).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from jointdist.models.jointfm.config import JointFMConfig
from jointdist.models.jointfm.model import JointFM
from jointdist.models.jointfm.weights import save_weights

__all__ = ["TrainConfig", "train", "jointfm_loss", "ValidationSet", "evaluate",
           "warm_start"]


@dataclass
class TrainConfig:
    """Everything a pretraining run needs (saved as ``train_config.json`` in ``out_dir``).

    Parameters
    ----------
    model : dict
        Fields of :class:`JointFMConfig`.
    out_dir : str
        Folder for ``checkpoint_last.pt``, ``validation.csv``, ``train_log.csv`` and
        the exported weights ``best/jointfm.*`` and ``last/jointfm.*``.
    steps : int
        Optimizer steps in total (a resumed run continues up to this number).
    batch_size, n_futures : int
        Systems per batch and branched futures per system (per rank).
    n_targets : (int, int)
        Range of ``N`` per system.
    n_features : int
        Feature series per system (0: targets only).
    levels : list of int
        Curriculum levels of the stream.
    curriculum : {"linear", "uniform"}
        ``"linear"`` phases levels in from simple to complex
        (:func:`~jointdist.datasets.sde.curriculum_weights`) over the first
        ``curriculum_fraction`` of the steps, uniform after; ``"uniform"`` mixes all from
        the start.
    t_in, t_out : float
        Simulated time of the context and of the horizon.
    truncate_prob : float
        Fraction of the systems whose context is cut to a random shorter length (masked),
        so that the model handles short histories.
    lr, min_lr_ratio, weight_decay, betas, warmup_steps, grad_clip : optimizer settings
    energy_weight, energy_samples : float, int
        Weight of the optional energy-score term (GMM head, reparametrized samples)
        and the number of samples it draws; 0 disables it.
    val_every, val_levels, val_systems, val_n_targets, val_futures, val_samples, val_seed :
        Validation every ``val_every`` steps on ``val_systems`` systems of each level in
        ``val_levels`` (seed ``val_seed``, never used by the training stream).
    checkpoint_every : int
        Steps between resumable checkpoints.
    seed : int
        Seed of the training stream and of the initialization.
    device : str
        "auto", "cpu" or "cuda[:N]" (under torchrun the local rank's GPU).
    amp : bool
        bfloat16 autocast on CUDA (ignored on CPU).
    num_threads : int or None
        torch CPU threads (1 avoids spin-waiting on a shared machine).
    export_half : bool
        Store exported weights as float16.
    init_from : str or None
        Warm start: a checkpoint (``"default"``, a stem or a ``.pt`` file, hash-verified)
        whose weights initialize every parameter of the same name and shape; parameters
        it lacks (for example a newly added path) keep their initialization.  Ignored
        when the run resumes from its own ``checkpoint_last.pt``.
    """

    model: dict = field(default_factory=dict)
    out_dir: str = "runs/jointfm"
    steps: int = 2000
    batch_size: int = 32
    n_futures: int = 32
    n_targets: tuple = (1, 10)
    n_features: int = 0
    levels: list = field(default_factory=lambda: list(range(8)))
    curriculum: str = "linear"
    curriculum_fraction: float = 0.5
    t_in: float = 2.0
    t_out: float = 0.25
    truncate_prob: float = 0.1
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    betas: tuple = (0.9, 0.98)
    warmup_steps: int = 100
    grad_clip: float = 1.0
    energy_weight: float = 0.0
    energy_samples: int = 16
    val_every: int = 250
    val_levels: list = field(default_factory=lambda: [2, 5, 7])
    val_systems: int = 16
    val_n_targets: int = 5
    val_futures: int = 200
    val_samples: int = 200
    val_seed: int = 987_654
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    num_threads: int | None = None
    export_half: bool = False
    init_from: str | None = None

    def __post_init__(self):
        self.n_targets = tuple(self.n_targets)
        self.betas = tuple(self.betas)
        if self.curriculum not in ("linear", "uniform"):
            raise ValueError(f"curriculum must be 'linear' or 'uniform'; got {self.curriculum!r}.")
        if self.steps < 1 or self.batch_size < 1 or self.n_futures < 1:
            raise ValueError("steps, batch_size and n_futures must be positive.")
        JointFMConfig.from_dict(self.model)  # validate early

    @property
    def model_config(self) -> JointFMConfig:
        return JointFMConfig.from_dict(self.model)

    def to_json(self, path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_json(cls, path, **overrides) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config file {path} does not exist.")
        data = json.loads(path.read_text())
        data.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {sorted(unknown)} in {path}.")
        return cls(**data)


# --------------------------------------------------------------------------------------
# Loss.
# --------------------------------------------------------------------------------------
def _truncate(context, prob, min_len, generator):
    """Random right-aligned time masks: a fraction ``prob`` of contexts is shortened."""
    B, T, _ = context.shape
    mask = torch.ones(B, T, dtype=torch.bool, device=context.device)
    if prob <= 0 or T <= min_len:
        return mask
    cut = torch.rand(B, generator=generator) < prob
    lengths = torch.randint(min_len, T + 1, (B,), generator=generator)
    lengths = torch.where(cut, lengths, torch.full_like(lengths, T)).to(context.device)
    return torch.arange(T, device=context.device)[None, :] >= (T - lengths)[:, None]


def jointfm_loss(model, batch, *, time_mask=None, energy_weight=0.0, energy_samples=16,
                 generator=None, amp=False):
    """NLL of the branched futures (per target and horizon), summed over heads.

    Parameters
    ----------
    model : JointFM (or a DDP wrapper of it)
    batch : SDEBatch
    time_mask : bool tensor (B, T) or None
    energy_weight : float
        Adds ``energy_weight *`` the energy score of reparametrized GMM samples against
        every future (normalized units, per target).

    Returns
    -------
    loss : scalar tensor
    parts : dict of float (per-head NLL, energy)
    """
    dev = batch.context.device
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16,
                        enabled=amp and dev.type == "cuda"):
        out = model(batch.context, time_mask=time_mask, target_mask=batch.target_mask,
                    features=batch.context_features, horizon=batch.futures.shape[2])
    fut = batch.futures.transpose(0, 1)  # (F, B, H, N)
    z = out.normalize(fut).clamp(-1e4, 1e4)
    n_real = batch.target_mask.sum(-1).to(z.dtype)  # (B,)
    loss, parts = 0.0, {}
    for name, dist in out.distributions.items():
        lp = dist.log_prob(z)  # (F, B, H)
        nll = -(lp.mean(dim=(0, 2)) / n_real).mean()
        loss = loss + nll
        parts[name] = float(nll.detach())
    if energy_weight > 0 and "gmm" in out.distributions:
        from jointdist.metrics import energy_score

        samples = out.distributions["gmm"].rsample((energy_samples,), generator)  # (S,B,H,N)
        ens = samples.permute(1, 0, 2, 3).unsqueeze(1)  # (B, 1, S, H, N)
        obs = z.permute(1, 0, 2, 3)  # (B, F, H, N)
        es = energy_score(obs, ens)  # (B, F)
        energy = (es.mean(-1) / n_real.sqrt()).mean()
        loss = loss + energy_weight * energy
        parts["energy"] = float(energy.detach())
    return loss, parts


# --------------------------------------------------------------------------------------
# Validation on a fixed held-out set.
# --------------------------------------------------------------------------------------
class ValidationSet:
    """Held-out SDE systems with oracle futures and the HistoricalSimulation reference.

    Energy distances are computed after dividing every series by its true scale
    (``params["scale"]``), so that systems with scales from 1e-2 to 1e3 weigh alike.

    Parameters
    ----------
    levels : list of int
    n_systems, n_targets, context_length, horizon, n_futures : int
    t_in, t_out : float
    random_state : int
    n_samples : int
        Samples drawn from every model.
    """

    def __init__(self, levels, n_systems, n_targets, context_length, horizon, n_futures,
                 t_in, t_out, random_state, n_samples=200):
        from jointdist.datasets.sde import load_sde_benchmark
        from jointdist.models.historical import HistoricalSimulation

        self.levels = list(levels)
        self.n_samples = n_samples
        self.sets, self.hs_ed = {}, {}
        for i, level in enumerate(self.levels):
            bench = load_sde_benchmark(level=level, n_systems=n_systems, n_targets=n_targets,
                                       context_length=context_length, horizon=horizon,
                                       n_futures=n_futures, t_in=t_in, t_out=t_out,
                                       random_state=random_state + i, device="cpu")
            scale = np.asarray(bench.params["scale"])[:, -n_targets:].astype(np.float64)
            self.sets[level] = (bench.history.astype(np.float64),
                                bench.futures.astype(np.float64), scale)
            hs = np.stack([HistoricalSimulation(random_state=j).fit(h).predict_samples(
                horizon, n_samples) for j, h in enumerate(bench.history)])
            self.hs_ed[level] = self._ed(hs, level)

    def _ed(self, samples, level):
        from jointdist.metrics import energy_distance

        _, futures, scale = self.sets[level]
        s = scale[:, None, None, :]
        return np.asarray(energy_distance(samples / s, futures / s))  # (n_systems,)

    def evaluate(self, sample_fn) -> dict:
        """``sample_fn(histories (S, T, N)) -> samples (S, n, H, N)``; returns metrics.

        Keys: ``ed_<level>`` (mean scaled energy distance), ``ratio_<level>`` (mean ED of the
        model / mean ED of HistoricalSimulation), ``hs_ed_<level>``, and the
        means over levels ``ed``, ``ratio``.
        """
        res = {}
        for level in self.levels:
            hist = self.sets[level][0]
            ed = self._ed(sample_fn(hist), level)
            res[f"ed_{level}"] = float(ed.mean())
            res[f"ratio_{level}"] = float(ed.mean() / self.hs_ed[level].mean())
            res[f"hs_ed_{level}"] = float(self.hs_ed[level].mean())
        res["ed"] = float(np.mean([res[f"ed_{lv}"] for lv in self.levels]))
        res["ratio"] = float(np.mean([res[f"ratio_{lv}"] for lv in self.levels]))
        return res


def model_sampler(model, n_samples, horizon, head=None, seed=0, chunk=16):
    """A ``sample_fn`` for :meth:`ValidationSet.evaluate` from a :class:`JointFM`."""

    def fn(histories):
        net = model.module if hasattr(model, "module") else model
        dev = next(net.parameters()).device
        head_name = head or net.config.heads[0]
        gen = torch.Generator(device=dev).manual_seed(seed)
        outs = []
        was_training = net.training
        net.eval()
        with torch.no_grad():
            for i in range(0, len(histories), chunk):
                ctx = torch.as_tensor(histories[i:i + chunk], dtype=torch.float32, device=dev)
                out = net(ctx[:, -net.config.context_length:], horizon=horizon,
                          heads=[head_name])
                dist = out.distributions[head_name]
                kw = {"gamma_rng": np.random.default_rng(seed + i)} if head_name == "skewt" \
                    else {}
                x = dist.sample((n_samples,), generator=gen, affine=(out.loc, out.scale),
                                **kw)  # (n, B, H, N) observed units
                outs.append(x.permute(1, 0, 2, 3).double().cpu().numpy())
        net.train(was_training)
        return np.concatenate(outs)

    return fn


def evaluate(model, val: ValidationSet, horizon, heads=None, seed=0) -> dict:
    """Validation metrics of every head (keys prefixed by the head's name)."""
    net = model.module if hasattr(model, "module") else model
    res = {}
    for head in heads or net.config.heads:
        for k, v in val.evaluate(model_sampler(model, val.n_samples, horizon, head,
                                               seed)).items():
            res[f"{head}_{k}"] = v
    return res


# --------------------------------------------------------------------------------------
# The loop.
# --------------------------------------------------------------------------------------
def _lr_lambda(cfg: TrainConfig):
    def f(step):
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return f


def warm_start(model, checkpoint) -> int:
    """Copy the weights of ``checkpoint`` into ``model`` where name and shape match.

    Returns the number of tensors copied.  The source is loaded with
    :func:`~jointdist.models.jointfm.weights.load_weights` (hash-verified,
    ``weights_only``).
    """
    from jointdist.models.jointfm.weights import load_weights

    source = load_weights(checkpoint).state_dict()
    target = model.state_dict()
    matched = {k: v for k, v in source.items()
               if k in target and target[k].shape == v.shape}
    if not matched:
        raise ValueError(f"checkpoint {checkpoint!r} shares no parameter with this model.")
    model.load_state_dict(matched, strict=False)
    return len(matched)


def _dist_setup(cfg):
    """(rank, world_size, device) and process group init under torchrun."""
    from jointdist.device import resolve_device

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch.distributed as dist

        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available() and cfg.device != "cpu":
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
            dist.init_process_group("nccl")
        else:
            device = torch.device("cpu")
            dist.init_process_group("gloo")
        return rank, world, device
    return 0, 1, resolve_device(cfg.device)


def _any_rank(flag: bool, world: int, device) -> bool:
    """True on every rank when ``flag`` is true on any (a collective under DDP).

    Decisions that change the control flow (skip a batch, stop on the time limit) must be
    taken by all ranks together, or the next gradient all-reduce waits forever.
    """
    if world == 1:
        return bool(flag)
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _stream_states(stream, world: int) -> list:
    """The random state of every rank's stream (gathered under DDP), rank order."""
    state = stream._rng.bit_generator.state
    if world == 1:
        return [state]
    import torch.distributed as dist

    states = [None] * world
    dist.all_gather_object(states, state)
    return states


def train(cfg: TrainConfig, *, resume: bool = True, progress: bool = True,
          max_seconds: float | None = None) -> dict:
    """Run (or resume) pretraining.

    Parameters
    ----------
    cfg : TrainConfig
    resume : bool, default=True
        Continue from ``out_dir/checkpoint_last.pt`` when it exists.
    progress : bool, default=True
        Show a tqdm progress bar (rank 0).
    max_seconds : float or None
        Stop (after checkpointing) once this much wall time has passed in this call.

    Returns
    -------
    dict with ``step``, ``last_loss``, ``best_val`` and ``out_dir``.
    """
    from tqdm.auto import tqdm

    from jointdist.datasets.sde import SDEStream, curriculum_weights

    if cfg.num_threads:
        torch.set_num_threads(int(cfg.num_threads))
    rank, world, device = _dist_setup(cfg)
    out = Path(cfg.out_dir)
    main = rank == 0
    if main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.to_json(out / "train_config.json")
    mcfg = cfg.model_config
    torch.manual_seed(cfg.seed)
    model = JointFM(mcfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas,
                            weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    step, best, stream_state = 0, math.inf, None
    ckpt_path = out / "checkpoint_last.pt"
    if resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        step, best = int(ck["step"]), float(ck["best"])
        stream_state = json.loads(ck["stream_state"])
        if main:
            print(f"resumed from {ckpt_path} at step {step}", file=sys.stderr)
    elif cfg.init_from:
        loaded = warm_start(model, cfg.init_from)
        if main:
            print(f"warm start from {cfg.init_from}: {loaded} tensors loaded",
                  file=sys.stderr)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

    levels = list(cfg.levels)
    n_cur = max(1, int(cfg.curriculum_fraction * cfg.steps))
    if cfg.curriculum == "linear":
        def weights(i):  # i = batches drawn so far = optimizer step
            return curriculum_weights(min(1.0, i / n_cur), levels)
    else:
        weights = None
    T, H = mcfg.context_length, mcfg.max_horizon
    stream = SDEStream(levels=levels, level_weights=weights, batch_size=cfg.batch_size,
                       n_targets=tuple(cfg.n_targets), n_features=cfg.n_features,
                       context_length=T, horizon=H, n_futures=cfg.n_futures, t_in=cfg.t_in,
                       t_out=cfg.t_out, random_state=cfg.seed + 7919 * rank, device=device)
    if stream_state is not None and rank < len(stream_state):
        # each rank continues its own stream; a rank added on resume keeps its fresh seed
        stream._rng.bit_generator.state = stream_state[rank]
    stream.n_batches_ = step
    gen = torch.Generator()

    val = None
    if main and cfg.val_every > 0:
        val = ValidationSet(cfg.val_levels, cfg.val_systems, cfg.val_n_targets, T, H,
                            cfg.val_futures, cfg.t_in, cfg.t_out, cfg.val_seed,
                            cfg.val_samples)
    val_csv, log_csv = out / "validation.csv", out / "train_log.csv"

    def checkpoint():  # collective under DDP: every rank calls it at the same step
        states = _stream_states(stream, world)
        if not main:
            return
        tmp = ckpt_path.with_suffix(".pt.tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "step": step, "best": best,
                    "stream_state": json.dumps(states)}, tmp)
        tmp.replace(ckpt_path)
        save_weights(model, out / "last" / "jointfm", half=cfg.export_half)

    def append(path, row):
        new = not path.is_file()
        with open(path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)

    start = time.time()
    bar = tqdm(total=cfg.steps, initial=step, disable=not (main and progress),
               mininterval=1.0 if sys.stderr.isatty() else 30.0, desc="JointFM")
    losses, last_loss = [], math.nan
    model.train()
    while step < cfg.steps:
        t0 = time.perf_counter()
        gen.manual_seed(cfg.seed * 1_000_003 + rank * 7919 + step)  # resumable exactly
        batch = stream.sample_batch()
        t_sim = time.perf_counter() - t0
        tmask = _truncate(batch.context, cfg.truncate_prob, 2 * mcfg.patch_size, gen)
        try:
            loss, parts = jointfm_loss(net, batch, time_mask=tmask,
                                       energy_weight=cfg.energy_weight,
                                       energy_samples=cfg.energy_samples, generator=gen,
                                       amp=cfg.amp)
        except torch.linalg.LinAlgError as exc:  # a degenerate batch must not end a run
            loss, parts = torch.tensor(math.nan), {}
            print(f"step {step}: {exc}", file=sys.stderr)
        opt.zero_grad(set_to_none=True)
        bad = not bool(torch.isfinite(loss))
        if bad:
            print(f"step {step}" + (f" (rank {rank})" if world > 1 else "")
                  + ": non-finite loss, batch skipped", file=sys.stderr)
        skip = _any_rank(bad, world, device)  # every rank skips this step's update
        if not skip:
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            last_loss = float(loss.detach())
            losses.append(last_loss)
            bar.set_postfix(loss=f"{last_loss:.3f}", refresh=False)
        sched.step()
        step += 1
        bar.update(1)
        if main and not skip and (step % 10 == 0 or step == cfg.steps):
            append(log_csv, {"step": step, "elapsed_s": round(time.time() - start, 2),
                             "loss": round(float(np.mean(losses[-10:])), 5),
                             **{f"nll_{k}": round(v, 5) for k, v in parts.items()},
                             "grad_norm": round(float(gnorm), 4),
                             "lr": opt.param_groups[0]["lr"],
                             "step_s": round(time.perf_counter() - t0, 4),
                             "sim_s": round(t_sim, 4)})
        if val is not None and (step % cfg.val_every == 0 or step == cfg.steps):
            res = evaluate(model, val, H, seed=cfg.val_seed)
            head0 = mcfg.heads[0]
            append(val_csv, {"step": step, "elapsed_s": round(time.time() - start, 1),
                             "train_loss": round(float(np.mean(losses[-50:])), 5),
                             **{k: round(v, 6) for k, v in res.items()}})
            if res[f"{head0}_ed"] < best:
                best = res[f"{head0}_ed"]
                save_weights(model, out / "best" / "jointfm", half=cfg.export_half)
            bar.write(f"step {step}: val " + " ".join(f"{k}={v:.4g}" for k, v in res.items()
                                                      if not k.split("_")[1].startswith("hs")))
        timeout = _any_rank(max_seconds is not None and time.time() - start > max_seconds,
                            world, device)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or timeout:
            checkpoint()
        if timeout:
            break
    bar.close()
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return {"step": step, "last_loss": last_loss, "best_val": best, "out_dir": str(out)}
