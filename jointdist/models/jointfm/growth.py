"""Function-preserving growth of a trained JointFM into a larger configuration.

A larger network trained from scratch on a CPU needs many CPU-hours only to reach the
shipped one.  Growing the shipped network instead (Net2Net, Chen, Goodfellow & Shlens
2016, "Net2Net: accelerating learning via knowledge transfer", sections 2.1-2.2) gives
a larger network that computes *the same function* at step 0, so training starts from
the trained model's skill and the extra capacity is free to improve on it:

* **wider residual stream** (``d_model`` times an integer ``k``, ``n_heads`` times the
  same ``k``, so the head dimension is unchanged): every channel is tiled ``k`` times,
  ``x' = [x, x, ..., x]``.  A LayerNorm of the tiled vector is the tiled LayerNorm (same
  mean, same variance), a linear map reading it divides its weights by ``k``, a linear
  map writing it tiles its rows, and the attention heads are tiled with their
  projections, so every copy of a head attends exactly like the original;
* **wider hidden layers** (``d_ff``, any size not below the source's; it sets the
  trunk's feed-forward, the decoder, the pool and the heads' input): the new units
  replicate existing ones, and the layer reading them divides each unit's outgoing
  weights by its number of copies (Net2WiderNet, eq. 1 of the paper);
* **more blocks**: the added time and variable layers get zero output projections, so
  each is the identity on the residual stream (Net2DeeperNet in its residual form).

Copies compute identical values and so receive identical gradients; a small noise on
the grown weights (``noise`` times each tensor's standard deviation) breaks the
symmetry, at the price of a function that is only approximately preserved.
"""

from __future__ import annotations

import dataclasses

import torch

from jointdist.models.jointfm.config import JointFMConfig
from jointdist.models.jointfm.model import JointFM

#: configuration fields that growth may change; every other one must be equal
GROWABLE_FIELDS = ("d_model", "n_heads", "n_blocks", "d_ff", "trained_n_targets")


def _check_growable(src: JointFMConfig, dst: JointFMConfig) -> int:
    """Validate ``src -> dst`` and return the residual-stream factor ``k``."""
    a, b = dataclasses.asdict(src), dataclasses.asdict(dst)
    differ = sorted(f for f in a if f not in GROWABLE_FIELDS and a[f] != b[f])
    if differ:
        raise ValueError(f"growth changes only {GROWABLE_FIELDS[:4]}; these fields differ "
                         f"between the source and the target config: {differ}.")
    if dst.d_model % src.d_model:
        raise ValueError(f"d_model must grow by an integer factor; got {src.d_model} -> "
                         f"{dst.d_model}.")
    k = dst.d_model // src.d_model
    if dst.n_heads != k * src.n_heads:
        raise ValueError(f"n_heads must grow with d_model (same head dimension): "
                         f"{src.n_heads} * {k} = {k * src.n_heads} expected, got "
                         f"{dst.n_heads}.")
    if dst.d_ff < src.d_ff or dst.n_blocks < src.n_blocks:
        raise ValueError(f"d_ff and n_blocks cannot shrink; got d_ff {src.d_ff} -> "
                         f"{dst.d_ff}, n_blocks {src.n_blocks} -> {dst.n_blocks}.")
    return k


def _replication(n_src: int, n_dst: int, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Map ``n_dst`` units onto ``n_src`` (the first ``n_src`` are the originals, the
    rest random copies) and the number of copies of each source unit."""
    extra = torch.randint(n_src, (n_dst - n_src,), generator=generator)
    index = torch.cat([torch.arange(n_src), extra])
    return index, torch.bincount(index, minlength=n_src).to(torch.float32)


class _Grower:
    """Builds the grown tensors: an axis is ``"tile"`` (residual-stream channels), the
    name of a hidden layer in ``hidden`` (replicated units) or None (unchanged)."""

    def __init__(self, k: int, hidden: dict, noise: float, generator):
        self.k, self.hidden, self.noise, self.gen = k, hidden, noise, generator

    def _axis(self, w, dim, how, role):
        if how is None:
            return w
        if how == "tile":  # residual-stream channels, tiled k times
            if role == "out":
                return torch.cat([w] * self.k, dim=dim)
            return torch.cat([w / self.k] * self.k, dim=dim)
        index, count = self.hidden[how]  # replicated hidden units
        w = w.index_select(dim, index)
        if role == "in":
            shape = [1] * w.ndim
            shape[dim] = -1
            w = w / count[index].view(shape)
        return w

    def linear(self, w, b, out=None, inp=None):
        """A linear layer's (weight, bias) grown on its output / input axis."""
        w2 = self._axis(self._axis(w, 0, out, "out"), 1, inp, "in")
        b2 = None if b is None else self._axis(b, 0, out, "out")
        return self.jitter(w2, w), b2

    def jitter(self, grown, source):
        if self.noise > 0 and grown.shape != source.shape and source.numel() > 1:
            scale = self.noise * float(source.float().std())
            grown = grown + scale * torch.randn(grown.shape, generator=self.gen,
                                                dtype=grown.dtype)
        return grown


def grow(source: JointFM, config: JointFMConfig, *, noise: float = 0.0,
         random_state: int | None = 0) -> JointFM:
    """A larger JointFM that computes the function of ``source``.

    Parameters
    ----------
    source : JointFM
        The trained network (any device; the result is on the CPU).
    config : JointFMConfig
        The target configuration: ``d_model`` an integer multiple ``k`` of the source's,
        ``n_heads`` the source's times ``k``, ``d_ff`` and ``n_blocks`` not smaller;
        every other field equal to the source's.
    noise : float, default=0.0
        Symmetry-breaking noise on the grown weights, relative to each tensor's standard
        deviation.  ``0`` preserves the function exactly (up to rounding).
    random_state : int or None, default=0
        Seeds the choice of replicated hidden units and the noise.

    Returns
    -------
    JointFM
        A new network in ``config`` (in evaluation mode if ``source`` was).

    Raises
    ------
    ValueError
        If ``config`` is not a growth of ``source.config`` as above, or ``noise < 0``.
    """
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}.")
    src_cfg = source.config
    k = _check_growable(src_cfg, config)
    gen = torch.Generator()
    if random_state is None:
        gen.seed()
    else:
        gen.manual_seed(int(random_state))
    ff_src, ff_dst = src_cfg.d_ff, config.d_ff
    hidden = {}

    def units(name):  # one independent replication per hidden layer
        hidden[name] = _replication(ff_src, ff_dst, gen)
        return name

    g = _Grower(k, hidden, noise, gen)
    src = {name: t.detach().cpu().float() for name, t in source.state_dict().items()}
    target = JointFM(config)
    state = target.state_dict()
    new = {}

    def put_linear(prefix, out=None, inp=None):
        w, b = g.linear(src[f"{prefix}.weight"], src.get(f"{prefix}.bias"), out, inp)
        new[f"{prefix}.weight"] = w
        if b is not None:
            new[f"{prefix}.bias"] = b

    def put_norm(prefix):
        new[f"{prefix}.weight"] = torch.cat([src[f"{prefix}.weight"]] * k)
        new[f"{prefix}.bias"] = torch.cat([src[f"{prefix}.bias"]] * k)

    put_linear("patch_embed.0", out="tile")
    put_linear("patch_embed.2", out="tile", inp="tile")
    new["pos_embed"] = torch.cat([src["pos_embed"]] * k, dim=1)
    new["type_embed"] = torch.cat([src["type_embed"]] * k, dim=1)
    if "stats_embed.weight" in src:
        put_linear("stats_embed", out="tile")
    if "corr_embed.weight" in src:
        put_linear("corr_embed", out="tile")
    d = src_cfg.d_model
    for i in range(src_cfg.n_blocks):
        if f"corr_bias.{i}.weight" in src:
            put_linear(f"corr_bias.{i}", out="tile")  # a bias per head: heads are tiled
        for stack in ("time_layers", "var_layers"):
            p = f"{stack}.{i}"
            put_norm(f"{p}.norm1")
            put_norm(f"{p}.norm2")
            # q, k and v: each (d, d) block tiled on both axes (heads tiled in order)
            w_in, b_in = src[f"{p}.attn.in_proj_weight"], src[f"{p}.attn.in_proj_bias"]
            blocks = [g.linear(w_in[j * d:(j + 1) * d], b_in[j * d:(j + 1) * d],
                               "tile", "tile") for j in range(3)]
            new[f"{p}.attn.in_proj_weight"] = torch.cat([w for w, _ in blocks])
            new[f"{p}.attn.in_proj_bias"] = torch.cat([b for _, b in blocks])
            put_linear(f"{p}.attn.out_proj", out="tile", inp="tile")
            h = units(f"{p}.ff")
            put_linear(f"{p}.ff.0", out=h, inp="tile")
            put_linear(f"{p}.ff.3", out="tile", inp=h)
    for i in range(src_cfg.n_blocks, config.n_blocks):  # added blocks: identities
        for stack in ("time_layers", "var_layers"):
            for name in ("attn.out_proj", "ff.3"):
                for part in ("weight", "bias"):
                    key = f"{stack}.{i}.{name}.{part}"
                    new[key] = torch.zeros_like(state[key])
    put_norm("final_norm")
    # the decoder reads [last token, mean token]: two tiled halves
    w, b = src["decoder.0.weight"], src["decoder.0.bias"]
    h0 = units("decoder.0")
    halves = [g.linear(w[:, j * d:(j + 1) * d], b, h0, "tile") for j in range(2)]
    new["decoder.0.weight"] = torch.cat([halves[0][0], halves[1][0]], dim=1)
    new["decoder.0.bias"] = halves[0][1]
    h1 = units("decoder.2")
    put_linear("decoder.2", out=h1, inp=h0)
    h2 = units("pool.0")
    put_linear("pool.0", out=h2, inp=h1)
    for name in src_cfg.heads:
        put_linear(f"heads.{name}.per_target", inp=h1)
        put_linear(f"heads.{name}.pooled", inp=h2)
        if f"heads.{name}.trust.weight" in src:
            put_linear(f"heads.{name}.trust", inp=h1)

    def added(key):  # a parameter of an added block keeps its initialization
        parts = key.split(".")
        return (parts[0] in ("time_layers", "var_layers", "corr_bias")
                and int(parts[1]) >= src_cfg.n_blocks)

    missing = [key for key in state if key not in new and not added(key)]
    if missing:  # a parameter this function does not know how to grow
        raise ValueError(f"cannot grow parameters {missing} of this configuration.")
    for key, value in new.items():
        if state[key].shape != value.shape:
            raise RuntimeError(f"grown {key} has shape {tuple(value.shape)}, the target "
                               f"{tuple(state[key].shape)}.")
        state[key] = value.to(state[key].dtype)
    target.load_state_dict(state)
    target.train(source.training)
    return target
