"""Pretraining of JointFM on the SDE stream (seed 000, Sec. 3.2).

Batches come on the fly from :class:`jointdist.datasets.sde.SDEStream` over a mix of
curriculum levels; the loss is the negative log-likelihood of the branched futures under
the predicted per-horizon joint laws (every head the model carries), optionally plus an
energy-score term and a multivariate dependence term (:func:`dependence_score`: variogram
or energy score of model samples against the futures, both standardized).  AdamW, linear
warm-up then cosine decay (over the steps, or over a time budget), gradient clipping,
bfloat16 autocast on CUDA, resumable checkpoints, a tqdm progress bar and periodic
validation on a fixed held-out SDE set (energy distance to the oracle futures, written to
CSV).  Launched with ``torchrun`` it trains with DistributedDataParallel (one stream per
rank).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from jointdist.models.jointfm.config import JointFMConfig
from jointdist.models.jointfm.model import JointFM
from jointdist.models.jointfm.weights import save_weights

__all__ = ["TrainConfig", "train", "jointfm_loss", "dependence_score", "ValidationSet",
           "evaluate", "warm_start", "apply_overrides", "DEPENDENCE_SCORES"]

#: Multivariate terms of the objective (``TrainConfig.dependence_score``).
DEPENDENCE_SCORES = ("variogram", "energy")
#: How dependence_score standardizes the model's samples.
DEPENDENCE_STANDARDIZATIONS = ("futures", "each")
#: how ``init_from`` initializes a run (:class:`TrainConfig`)
INIT_MODES = ("match", "grow")


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
    dependence_weight : float, default=0.0
        Weight of the multivariate dependence term (:func:`dependence_score`:
        ``dependence_score`` of ``dependence_samples`` reparametrized GMM samples against
        the branched futures, both standardized by the futures' mean and standard
        deviation per target and horizon); 0 (the default) leaves the objective as it
        was.  Needs the ``"gmm"`` head.
    dependence_score : {"variogram", "energy"}, default="variogram"
        ``"variogram"``: variogram score of order 0.5 over the pairs of targets at every
        horizon (reacts to the correlation's sign and size); ``"energy"``: energy score
        of the standardized vectors of targets at every horizon.
    dependence_samples : int, default=64
        Model samples the dependence term draws per system.
    dependence_standardize : {"futures", "each"}, default="futures"
        How the dependence term standardizes the model's samples
        (:func:`dependence_score`): by the futures' moments (v2's training) or by their
        own, so that only the dependence counts; ``"each"`` keeps the term bounded on
        systems with nearly deterministic futures (smooth KernelSynth / DynLMC paths).
    nll_futures : int or None, default=None
        Futures per system that the likelihood scores (the first ones; they are i.i.d.);
        None: all ``n_futures``.  The log-densities cost time linear in the futures
        (on a CPU the skew-t and GMM NLL of 128 futures take ~4x the time of 32, the
        network itself a small share), while the dependence term and its
        standardization profit from every future: ``n_futures=128, nll_futures=32``
        keeps a CPU step affordable.
    val_every, val_levels, val_systems, val_n_targets, val_futures, val_samples, val_seed :
        Validation every ``val_every`` steps on ``val_systems`` systems of each level in
        ``val_levels`` (seed ``val_seed``, never used by the training stream).
    volatility_fraction : float, default=0.0
        Share of the stream's systems drawn from the volatility-clustering processes of
        :mod:`jointdist.datasets.volatility` (EGARCH, log-normal stochastic volatility,
        regime switching) instead of the curriculum levels; 0 keeps the stream of seed 000.
    dynlmc_fraction : float, default=0.0
        Share drawn from seed 001's KernelSynth / LMC / DynLMC generators with branched
        futures (:func:`jointdist.datasets.dynlmc.simulate_dynlmc_branches`).
    checkpoint_every : int
        Steps between resumable checkpoints.
    seed : int
        Seed of the training stream and of the initialization.
    device : str
        "auto", "cpu" or "cuda[:N]" (under torchrun the local rank's GPU).
    amp : bool or "always"
        bfloat16 autocast of the network's trunk: ``True`` on CUDA only (the CPU runs in
        float32), ``"always"`` on any device (CPUs with bfloat16 support; the tests use
        it to run the autocast path without a GPU), ``False`` never.  bfloat16 has
        float32's exponent range, so no gradient scaler is used (float16, which would
        need one, is not offered).
    num_threads : int or None
        torch CPU threads (1 avoids spin-waiting on a shared machine).
    export_half : bool
        Store exported weights as float16.
    init_from : str or None
        Warm start: a checkpoint (``"default"``, a stem or a ``.pt`` file, hash-verified)
        whose weights initialize every parameter of the same name and shape; parameters
        it lacks (for example a newly added path) keep their initialization.  Ignored
        when the run resumes from its own ``checkpoint_last.pt``.
    init_mode : {"match", "grow"}, default="match"
        How ``init_from`` initializes the model: ``"match"`` copies the tensors of the
        same name and shape; ``"grow"`` grows the source network into this (larger)
        configuration so that it computes the source's function at step 0
        (:func:`~jointdist.models.jointfm.growth.grow`: a wider residual stream by an
        integer factor, wider hidden layers, more blocks).
    grow_noise : float, default=1e-4
        With ``init_mode="grow"``: the symmetry-breaking noise on the grown weights,
        relative to each tensor's standard deviation.
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
    dependence_weight: float = 0.0
    dependence_score: str = "variogram"
    dependence_samples: int = 64
    dependence_standardize: str = "futures"
    nll_futures: int | None = None
    val_every: int = 250
    val_levels: list = field(default_factory=lambda: [2, 5, 7])
    val_systems: int = 16
    val_n_targets: int = 5
    val_futures: int = 200
    val_samples: int = 200
    val_seed: int = 987_654
    volatility_fraction: float = 0.0
    dynlmc_fraction: float = 0.0
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "auto"
    amp: bool | str = True
    num_threads: int | None = None
    export_half: bool = False
    init_from: str | None = None
    init_mode: str = "match"
    grow_noise: float = 1e-4

    def __post_init__(self):
        self.n_targets = tuple(self.n_targets)
        self.betas = tuple(self.betas)
        if self.curriculum not in ("linear", "uniform"):
            raise ValueError(f"curriculum must be 'linear' or 'uniform'; got {self.curriculum!r}.")
        if self.steps < 1 or self.batch_size < 1 or self.n_futures < 1:
            raise ValueError("steps, batch_size and n_futures must be positive.")
        if self.dependence_standardize not in DEPENDENCE_STANDARDIZATIONS:
            raise ValueError(f"dependence_standardize must be one of "
                             f"{DEPENDENCE_STANDARDIZATIONS}; got "
                             f"{self.dependence_standardize!r}.")
        if self.dependence_score not in DEPENDENCE_SCORES:
            raise ValueError(f"dependence_score must be one of {DEPENDENCE_SCORES}; "
                             f"got {self.dependence_score!r}.")
        if not self.dependence_weight >= 0 or not self.energy_weight >= 0:
            raise ValueError("energy_weight and dependence_weight must be >= 0.")
        if self.nll_futures is not None and not 1 <= self.nll_futures <= self.n_futures:
            raise ValueError(f"nll_futures must be in [1, n_futures={self.n_futures}] or "
                             f"None; got {self.nll_futures!r}.")
        if self.dependence_samples < 2:
            raise ValueError(f"dependence_samples must be >= 2; got {self.dependence_samples}.")
        if self.init_mode not in INIT_MODES:
            raise ValueError(f"init_mode must be one of {INIT_MODES}; got "
                             f"{self.init_mode!r}.")
        if self.init_mode == "grow" and not self.init_from:
            raise ValueError('init_mode="grow" grows the network of init_from; set '
                             "init_from to the source checkpoint.")
        if not self.grow_noise >= 0:
            raise ValueError(f"grow_noise must be >= 0; got {self.grow_noise!r}.")
        if self.amp not in (True, False, "always"):
            raise ValueError(f"amp must be true, false or \"always\"; got {self.amp!r}.")
        mcfg = JointFMConfig.from_dict(self.model)  # validate early
        if self.dependence_weight > 0 and "gmm" not in mcfg.heads:
            raise ValueError("dependence_weight > 0 needs the 'gmm' head (reparametrized "
                             "samples); add it to model.heads.")

    @property
    def model_config(self) -> JointFMConfig:
        # the saved config records the numbers of targets trained on (the forecaster
        # warns beyond them)
        return JointFMConfig.from_dict({"trained_n_targets": list(self.n_targets),
                                        **self.model})

    def to_json(self, path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_json(cls, path, *, assignments=(), **overrides) -> "TrainConfig":
        """Read a config file, then apply ``assignments`` (``"key=value"`` strings, see
        :func:`apply_overrides`) and the keyword ``overrides`` that are not None."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config file {path} does not exist.")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"training config file {path} is not valid JSON ({exc}).") \
                from exc
        data = apply_overrides(data, assignments)
        data.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {sorted(unknown)} in {path}.")
        return cls(**data)


def _field_defaults(cls) -> dict:
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = (f.default, str(f.type))
        elif f.default_factory is not MISSING:
            out[f.name] = (f.default_factory(), str(f.type))
    return out


def _check_override_type(key, value, default, annotation):
    """``value`` must have the kind of the field's default (int, float, bool, str, list)."""
    if value is None and (default is None or "None" in annotation):
        return value
    if default is None:  # a free field (e.g. num_threads, init_from): any JSON value
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool) or ("str" in annotation and isinstance(value, str))
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    if not ok:
        raise ValueError(f"{key}={value!r}: expected a value like the default "
                         f"{default!r} ({type(default).__name__}).")
    return value


def apply_overrides(data: dict, assignments) -> dict:
    """Apply ``"key=value"`` settings to a training-config dict (a copy is returned).

    ``key`` is a field of :class:`TrainConfig` (``batch_size``, also written
    ``train.batch_size``) or ``model.<field>`` of :class:`JointFMConfig`
    (``model.d_model``).  ``value`` is read as JSON (``64``, ``1e-3``, ``true``,
    ``[2, 10]``, ``null``) and otherwise kept as a string (``cuda``).  Unknown keys and
    values of the wrong kind (``batch_size=big``) raise ``ValueError``; the full
    validation happens when the config is built.

    Examples
    --------
    >>> apply_overrides({"model": {"d_model": 64}}, ["model.d_model=256", "batch_size=64"])
    {'model': {'d_model': 256}, 'batch_size': 64}
    """
    import difflib

    data = dict(data)
    data["model"] = dict(data.get("model", {}))
    train_fields = _field_defaults(TrainConfig)
    model_fields = _field_defaults(JointFMConfig)
    known = ([f"model.{k}" for k in model_fields]
             + [k for k in train_fields if k != "model"])
    for item in assignments or ():
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"a setting must read key=value; got {item!r}.")
        if key.startswith("train."):
            key = key[len("train."):]
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw.strip()
        if key.startswith("model."):
            name, table, target = key[len("model."):], model_fields, data["model"]
        else:
            name, table, target = key, train_fields, data
        if name not in table or key == "model":
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown setting {key!r}.{hint} Settings are TrainConfig "
                             f"fields or model.<JointFMConfig field>: {', '.join(known)}.")
        default, annotation = table[name]
        target[name] = _check_override_type(key, value, default, annotation)
    return data


# --------------------------------------------------------------------------------------
# Loss.
# --------------------------------------------------------------------------------------
def _truncate(context, prob, min_len, generator):
    """Random right-aligned time masks: a fraction ``prob`` of contexts is shortened.

    The draws are made on the generator's device (the model's device in training), so
    that a CUDA generator works; the masks are returned on the context's device.
    """
    B, T, _ = context.shape
    mask = torch.ones(B, T, dtype=torch.bool, device=context.device)
    if prob <= 0 or T <= min_len:
        return mask
    dev = generator.device if generator is not None else context.device
    cut = torch.rand(B, generator=generator, device=dev) < prob
    lengths = torch.randint(min_len, T + 1, (B,), generator=generator, device=dev)
    lengths = torch.where(cut, lengths, torch.full_like(lengths, T)).to(context.device)
    return torch.arange(T, device=context.device)[None, :] >= (T - lengths)[:, None]


def _check_generator(generator, device) -> None:
    """A clear error where a kernel would fail later: the generator must live on ``device``."""
    if generator is None:
        return
    gdev = torch.device(generator.device)
    if gdev.type != device.type or (gdev.index is not None and device.index is not None
                                    and gdev.index != device.index):
        raise ValueError(f"the random generator is on {gdev} but the model and batch are "
                         f"on {device}; create it with torch.Generator(device={str(device)!r}).")


#: Futures' standard deviations below this (in normalized units, times sqrt(h)) mark a
#: coordinate as deterministic; it is left out of the dependence term.
_MIN_FUTURE_STD = 1e-3


def dependence_score(samples, futures, target_mask, kind="variogram", p=0.5, eps=1e-4,
                     standardize="futures"):
    r"""Multivariate score of model samples against branched futures, per system.

    Both are first standardized with the *futures'* mean and standard deviation per
    system, target and horizon (constants for the gradient), so that every target and
    horizon weighs alike and what is left is mostly the dependence: on the raw
    (normalized) scale the energy score is dominated by the marginals of the widest
    series and the longest horizons.

    ``kind="variogram"``: the variogram score of order ``p`` (Scheuerer & Hamill 2015)
    over the pairs ``i < j`` of real targets at every horizon,

    .. math::
        \mathrm{VS}_p = \frac{1}{|P|}\sum_{(i,j) \in P}\Big(|y_i - y_j|^p
        - \frac{1}{S}\sum_{s=1}^S |x_{si} - x_{sj}|^p\Big)^2 ,

    with ``|d|^p`` smoothed as ``(d^2 + eps)^{p/2}`` so that its gradient stays finite.
    For standardized coordinates ``E|Y_i - Y_j|^p`` is a decreasing function of
    ``corr(Y_i, Y_j)``, so the score separates a correlation of the right sign from one
    of the wrong sign (a proper score; not strictly proper).
    ``kind="energy"``: the energy score (Gneiting & Raftery 2007) of the standardized
    vectors of targets at every horizon (strictly proper, weaker on dependence).

    Parameters
    ----------
    samples : tensor (S, B, H, N)
        Model samples, differentiable (e.g. ``rsample``).
    futures : tensor (F, B, H, N)
        Branched futures (the same units as ``samples``).
    target_mask : bool tensor (B, N)
    kind : {"variogram", "energy"}
    p, eps : float
        Order of the variogram and its smoothing.
    standardize : {"futures", "each"}, default="futures"
        ``"futures"``: samples and futures both by the futures' mean and standard
        deviation, so that a marginal spread of the model unlike the futures' also
        counts (and dominates the score where the futures are nearly deterministic, as
        a smooth Gaussian-process path's next steps are).  ``"each"``: the samples by
        their own mean and standard deviation (differentiable), the futures by theirs,
        so that the score sees only the dependence (and the shape) and the marginals are
        left to the likelihood.

    Returns
    -------
    score : tensor (B,)
        Mean over futures and horizons (variogram: also over pairs; energy: divided by
        ``sqrt(N)``).  Systems with fewer than two usable targets score 0.
    valid : bool tensor (B,)
        Systems that carry a score (at least one pair of usable targets).
    """
    if kind not in DEPENDENCE_SCORES:
        raise ValueError(f"kind must be one of {DEPENDENCE_SCORES}; got {kind!r}.")
    if standardize not in DEPENDENCE_STANDARDIZATIONS:
        raise ValueError(f"standardize must be one of {DEPENDENCE_STANDARDIZATIONS}; got "
                         f"{standardize!r}.")
    S, B, H, N = samples.shape
    futures = futures.to(samples.dtype)
    with torch.no_grad():
        mean = futures.mean(0)  # (B, H, N)
        std = futures.std(0) if futures.shape[0] > 1 else torch.zeros_like(mean)
        sqrt_h = torch.arange(1, H + 1, device=samples.device,
                              dtype=samples.dtype).sqrt()[None, :, None]
        usable = (std > _MIN_FUTURE_STD * sqrt_h) & target_mask[:, None, :]  # (B, H, N)
        inv = torch.where(usable, 1.0 / std.clamp_min(1e-12), torch.zeros_like(std))
    if standardize == "each" and S > 1:
        own = samples.std(0).clamp_min(1e-12)
        xs = (samples - samples.mean(0)) / own * usable.to(samples.dtype)
    else:
        xs = (samples - mean) * inv  # unusable coordinates -> 0 in samples and futures
    ys = (futures - mean) * inv
    if kind == "variogram":
        if N < 2:
            zero = samples.sum() * 0.0
            return zero.expand(B), torch.zeros(B, dtype=torch.bool, device=samples.device)
        iu, ju = torch.triu_indices(N, N, offset=1, device=samples.device)
        pair = (usable[..., iu] & usable[..., ju]).to(samples.dtype)  # (B, H, P)

        def vario(v):  # (..., N) -> (..., P)
            return ((v[..., iu] - v[..., ju]).pow(2) + eps).pow(0.5 * p)

        model_v = vario(xs).mean(0)  # (B, H, P)
        sq = (vario(ys) - model_v).pow(2).mean(0)  # (B, H, P)
        n_pairs = pair.sum((1, 2))
        score = (sq * pair).sum((1, 2)) / n_pairs.clamp_min(1.0)
        return score, n_pairs > 0
    from jointdist.metrics import energy_score

    n_use = usable.sum(-1).to(samples.dtype)  # (B, H)
    es = energy_score(ys.permute(1, 0, 2, 3), xs.permute(1, 0, 2, 3).unsqueeze(1),
                      per_horizon=True)  # (B, F, H)
    per_h = es.mean(1) / n_use.clamp_min(1.0).sqrt()
    ok = (n_use >= 2).to(samples.dtype)
    score = (per_h * ok).sum(-1) / ok.sum(-1).clamp_min(1.0)
    return score, ok.sum(-1) > 0


def _autocast_enabled(amp, device) -> bool:
    if amp == "always":
        return True
    return bool(amp) and device.type == "cuda"


def jointfm_loss(model, batch, *, time_mask=None, energy_weight=0.0, energy_samples=16,
                 dependence_weight=0.0, dependence_kind="variogram", dependence_samples=64,
                 dependence_standardize="futures", nll_futures=None, generator=None,
                 amp=False):
    """NLL of the branched futures (per target and horizon), summed over heads.

    Parameters
    ----------
    model : JointFM (or a DDP wrapper of it)
    batch : SDEBatch
    time_mask : bool tensor (B, T) or None
    energy_weight : float
        Adds ``energy_weight *`` the energy score of reparametrized GMM samples against
        every future (normalized units, per target).
    dependence_weight, dependence_kind, dependence_samples : float, str, int
        Adds ``dependence_weight *`` :func:`dependence_score` (``kind=dependence_kind``)
        of ``dependence_samples`` reparametrized GMM samples against the futures,
        averaged over the systems with at least two targets.  0 disables it.
    dependence_standardize : {"futures", "each"}
        ``standardize`` of :func:`dependence_score`.
    nll_futures : int or None
        Score the likelihood on the first ``nll_futures`` futures only (None: all); the
        energy and dependence terms use all of them.
    generator : torch.Generator or None
        Source of the samples of those terms; must live on the batch's device.
    amp : bool or "always"
        bfloat16 autocast of the network's forward: on CUDA when true, on any device
        with ``"always"`` (the heads and log-densities run in float32 regardless).

    Returns
    -------
    loss : scalar tensor
    parts : dict of float (per-head NLL, energy, dependence)
    """
    dev = batch.context.device
    _check_generator(generator, dev)
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16,
                        enabled=_autocast_enabled(amp, dev)):
        out = model(batch.context, time_mask=time_mask, target_mask=batch.target_mask,
                    features=batch.context_features, horizon=batch.futures.shape[2])
    fut = batch.futures.transpose(0, 1)  # (F, B, H, N)
    z = out.normalize(fut).clamp(-1e4, 1e4)
    n_real = batch.target_mask.sum(-1).to(z.dtype)  # (B,)
    loss, parts = 0.0, {}
    z_nll = z if nll_futures is None else z[:nll_futures]
    for name, dist in out.distributions.items():
        lp = dist.log_prob(z_nll)  # (F, B, H)
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
    if dependence_weight > 0:
        if "gmm" not in out.distributions:
            raise ValueError("the dependence term needs the 'gmm' head (reparametrized "
                             "samples); this model has "
                             f"{sorted(out.distributions)}.")
        samples = out.distributions["gmm"].rsample((dependence_samples,), generator)
        score, valid = dependence_score(samples, z, batch.target_mask, kind=dependence_kind,
                                        standardize=dependence_standardize)
        w = valid.to(score.dtype)
        dep = (score * w).sum() / w.sum().clamp_min(1.0)
        loss = loss + dependence_weight * dep
        parts["dependence"] = float(dep.detach())
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
def _lr_factor(cfg: TrainConfig, step: int, time_progress: float = 0.0) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup_steps``, then cosine decay.

    The cosine runs over ``max(step progress, time_progress)`` in [0, 1]: the step
    progress is ``(step - warmup) / (steps - warmup)``; ``time_progress`` is the
    fraction of the time budget used since the warm-up ended (0 without a budget), so
    with a budget the schedule ends at whichever limit comes first.
    """
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, max(progress, time_progress))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _lr_lambda(cfg: TrainConfig):
    """The step-only schedule as a function of the step (``time_progress = 0``)."""
    return lambda step: _lr_factor(cfg, step)


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


def _max_over_ranks(value: float, world: int, device) -> float:
    """The largest ``value`` over the ranks (a collective under DDP).

    Used for the elapsed time, so that every rank sets the same learning rate and stops
    at the same step.
    """
    if world == 1:
        return float(value)
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def train(cfg: TrainConfig, *, resume: bool = True, progress: bool = True,
          max_seconds: float | None = None, stop_after: float | None = None,
          clock=None) -> dict:
    """Run (or resume) pretraining.

    Parameters
    ----------
    cfg : TrainConfig
    resume : bool, default=True
        Continue from ``out_dir/checkpoint_last.pt`` when it exists.
    progress : bool, default=True
        Show a tqdm progress bar (rank 0).
    max_seconds : float or None
        **Time budget** of the whole run, in seconds of the training loop (validation and
        checkpoints included, start-up not), summed over every call that resumes it.  The
        cosine schedule and the curriculum then run over ``max(step / steps, elapsed /
        max_seconds)``, so the learning rate reaches ``min_lr_ratio * lr`` when the
        budget is spent (or at ``steps``, if that comes first) and the run ends there with
        a checkpoint and a validation.  The budget is stored in the checkpoint: a resumed
        run continues the schedule where it was; a new value on resume replaces it.
        None (and no budget in the checkpoint): the schedule runs over ``steps``.
    stop_after : float or None
        Stop this call (after checkpointing) once this many seconds have passed in it,
        without touching the schedule: for job slots shorter than the run (resume later
        with the same command).  ``0`` stops after one step.
    clock : callable or None
        Seconds as a float (default :func:`time.monotonic`); injectable for tests.

    Returns
    -------
    dict with ``step``, ``last_loss``, ``best_val``, ``out_dir``, ``train_seconds`` (the
    loop's time over all calls) and ``finished`` (the schedule reached its end).
    """
    from tqdm.auto import tqdm

    from jointdist.datasets.sde import SDEStream, curriculum_weights

    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds (the time budget) must be > 0; got {max_seconds!r}.")
    if stop_after is not None and not stop_after >= 0:
        raise ValueError(f"stop_after must be >= 0; got {stop_after!r}.")
    clock = time.monotonic if clock is None else clock
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
    # the learning rate is set before every step from (step, elapsed time): _lr_factor
    step, best, stream_state = 0, math.inf, None
    budget, seconds_before, warmup_seconds = max_seconds, 0.0, None
    ckpt_path = out / "checkpoint_last.pt"
    if resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, best = int(ck["step"]), float(ck["best"])
        stream_state = json.loads(ck["stream_state"])
        seconds_before = float(ck.get("train_seconds", 0.0))
        if ck.get("warmup_seconds") is not None:
            warmup_seconds = float(ck["warmup_seconds"])
        if budget is None and ck.get("time_budget") is not None:
            budget = float(ck["time_budget"])  # continue the schedule, not restart it
        if main:
            print(f"resumed from {ckpt_path} at step {step}"
                  + (f", {seconds_before:.0f} s of a {budget:.0f} s budget"
                     if budget is not None else ""), file=sys.stderr)
    elif cfg.init_from and cfg.init_mode == "grow":
        from jointdist.models.jointfm.growth import grow
        from jointdist.models.jointfm.weights import load_weights

        source = load_weights(cfg.init_from)
        model.load_state_dict(grow(source, mcfg, noise=cfg.grow_noise,
                                   random_state=cfg.seed).state_dict())
        if main:
            print(f"grown from {cfg.init_from}: {source.n_parameters} -> "
                  f"{model.n_parameters} parameters", file=sys.stderr)
    elif cfg.init_from:
        loaded = warm_start(model, cfg.init_from)
        if main:
            print(f"warm start from {cfg.init_from}: {loaded} tensors loaded",
                  file=sys.stderr)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

    def time_progress(elapsed):
        """Fraction of the budget used after the warm-up (0 without a budget)."""
        if budget is None or warmup_seconds is None:
            return 0.0
        return min(1.0, max(0.0, (elapsed - warmup_seconds)
                            / max(budget - warmup_seconds, 1e-9)))

    levels = list(cfg.levels)
    n_cur = max(1, int(cfg.curriculum_fraction * cfg.steps))
    # the elapsed training time (agreed over ranks) as of the current step
    now = {"elapsed": seconds_before}
    if cfg.curriculum == "linear":
        def weights(i):  # i = batches drawn so far = optimizer step
            frac = i / n_cur
            if budget is not None:  # the curriculum runs over the budget too
                frac = max(frac, now["elapsed"] / budget
                           / max(cfg.curriculum_fraction, 1e-9))
            return curriculum_weights(min(1.0, frac), levels)
    else:
        weights = None
    T, H = mcfg.context_length, mcfg.max_horizon
    stream = SDEStream(levels=levels, level_weights=weights, batch_size=cfg.batch_size,
                       n_targets=tuple(cfg.n_targets), n_features=cfg.n_features,
                       context_length=T, horizon=H, n_futures=cfg.n_futures, t_in=cfg.t_in,
                       t_out=cfg.t_out, random_state=cfg.seed + 7919 * rank, device=device,
                       volatility_fraction=cfg.volatility_fraction,
                       dynlmc_fraction=cfg.dynlmc_fraction)
    if stream_state is not None and rank < len(stream_state):
        # each rank continues its own stream; a rank added on resume keeps its fresh seed
        stream._rng.bit_generator.state = stream_state[rank]
    stream.n_batches_ = step
    # per-step randomness (truncation, samples of the energy/dependence terms) on the
    # model's device: sampling on CUDA refuses a CPU generator
    gen = torch.Generator(device=device)

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
                    "step": step, "best": best, "stream_state": json.dumps(states),
                    "train_seconds": now["elapsed"], "time_budget": budget,
                    "warmup_seconds": warmup_seconds}, tmp)
        tmp.replace(ckpt_path)
        save_weights(model, out / "last" / "jointfm", half=cfg.export_half)

    def append(path, row):
        new = not path.is_file()
        with open(path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)

    call_start = clock()
    bar = tqdm(total=cfg.steps, initial=step, disable=not (main and progress),
               mininterval=1.0 if sys.stderr.isatty() else 30.0, desc="JointFM")
    losses, last_loss = [], math.nan
    finished = step >= cfg.steps or (budget is not None and now["elapsed"] >= budget)
    model.train()
    while not finished:
        t0 = time.perf_counter()
        if warmup_seconds is None and step >= cfg.warmup_steps:
            warmup_seconds = now["elapsed"]
        lr = cfg.lr * _lr_factor(cfg, step, time_progress(now["elapsed"]))
        for group in opt.param_groups:
            group["lr"] = lr
        gen.manual_seed(cfg.seed * 1_000_003 + rank * 7919 + step)  # resumable exactly
        batch = stream.sample_batch()
        t_sim = time.perf_counter() - t0
        tmask = _truncate(batch.context, cfg.truncate_prob, 2 * mcfg.patch_size, gen)
        try:
            loss, parts = jointfm_loss(net, batch, time_mask=tmask,
                                       energy_weight=cfg.energy_weight,
                                       energy_samples=cfg.energy_samples,
                                       dependence_weight=cfg.dependence_weight,
                                       dependence_kind=cfg.dependence_score,
                                       dependence_standardize=cfg.dependence_standardize,
                                       dependence_samples=cfg.dependence_samples,
                                       nll_futures=cfg.nll_futures,
                                       generator=gen, amp=cfg.amp)
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
            # bfloat16 autocast needs no GradScaler (float32's exponent range): the
            # parameters, gradients and AdamW state stay float32
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            last_loss = float(loss.detach())
            losses.append(last_loss)
            bar.set_postfix(loss=f"{last_loss:.3f}", refresh=False)
        step += 1
        bar.update(1)
        # one collective per step: every rank uses the same clock for lr and stops
        now["elapsed"] = _max_over_ranks(seconds_before + (clock() - call_start), world,
                                         device)
        finished = step >= cfg.steps or (budget is not None and now["elapsed"] >= budget)
        stop = (stop_after is not None
                and now["elapsed"] - seconds_before >= stop_after)
        if main and not skip and (step % 10 == 0 or finished):
            append(log_csv, {"step": step, "elapsed_s": round(now["elapsed"], 2),
                             "loss": round(float(np.mean(losses[-10:])), 5),
                             **{f"nll_{k}": round(v, 5) for k, v in parts.items()},
                             "grad_norm": round(float(gnorm), 4),
                             "lr": lr,
                             "step_s": round(time.perf_counter() - t0, 4),
                             "sim_s": round(t_sim, 4)})
        if val is not None and (step % cfg.val_every == 0 or finished):
            res = evaluate(model, val, H, seed=cfg.val_seed)
            head0 = mcfg.heads[0]
            append(val_csv, {"step": step, "elapsed_s": round(now["elapsed"], 1),
                             "train_loss": round(float(np.mean(losses[-50:])), 5),
                             **{k: round(v, 6) for k, v in res.items()}})
            if res[f"{head0}_ed"] < best:
                best = res[f"{head0}_ed"]
                save_weights(model, out / "best" / "jointfm", half=cfg.export_half)
            bar.write(f"step {step}: val " + " ".join(f"{k}={v:.4g}" for k, v in res.items()
                                                      if not k.split("_")[1].startswith("hs")))
        if step % cfg.checkpoint_every == 0 or finished or stop:
            checkpoint()
        if stop:
            break
    bar.close()
    if world > 1:
        import torch.distributed as dist

        # every rank leaves its last collective before any tears the group down: a rank
        # that destroys (and exits) first closes the gloo pairs under a peer still
        # waiting, whose transport thread then aborts ("terminate called without an
        # active exception", seen once in CI)
        dist.barrier()
        dist.destroy_process_group()
    return {"step": step, "last_loss": last_loss, "best_val": best, "out_dir": str(out),
            "train_seconds": now["elapsed"], "finished": bool(finished)}
