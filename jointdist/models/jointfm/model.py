"""The JointFM network: patch embedding, variable-factored attention, horizon decoder.

Seed 000, Sec. 3.3 ("Variable-Factored Attention"): tokens live on a
``[batch, variable, patch, d]`` grid; each block attends over patches within every
variable, then over variables at every patch position.  The variable axis carries no
positional encoding, so the network is permutation-equivariant in the targets and takes
any number of them (and of feature series, which get a learned type embedding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from jointdist.models.jointfm.config import JointFMConfig
from jointdist.models.jointfm.harmonic import HarmonicDrift, harmonic_cycles
from jointdist.models.jointfm.heads import GaussianMixtureHead, SkewTMixtureHead

__all__ = ["JointFM", "JointFMOutput", "normalize_context", "context_correlation", "devolatilize",
           "select_volatility_halflife", "empirical_dependence", "correlation_features"]


@dataclass
class JointFMOutput:
    """What :meth:`JointFM.forward` returns.

    Attributes
    ----------
    distributions : dict of str to distribution
        One :class:`~jointdist.models.jointfm.heads.JointGaussianMixture` /
        :class:`~jointdist.models.jointfm.heads.JointSkewTMixture` per head, over the
        futures in *normalized* units, batch shape (B, horizon), event shape (N,).
    loc, scale : tensors (B, N)
        The normalization: ``x = loc + scale * z`` maps normalized ``z`` to observed units.
    target_mask : bool tensor (B, N)
    """

    distributions: dict
    loc: torch.Tensor
    scale: torch.Tensor
    target_mask: torch.Tensor

    def normalize(self, y):
        """Observed values (..., B, H, N) -> normalized units (padded targets -> 0)."""
        z = (y - self.loc[:, None, :]) / self.scale[:, None, :]
        return z * self.target_mask[:, None, :].to(z.dtype)

    def denormalize(self, z):
        """Normalized values (..., B, H, N) -> observed units."""
        return self.loc[:, None, :] + self.scale[:, None, :] * z


def normalize_context(x, time_mask, mode: str):
    """Per-series normalization of a context.

    Parameters
    ----------
    x : tensor (B, T, V)
    time_mask : bool tensor (B, T), True where observed (a right-aligned suffix)
    mode : {"increment", "increment_stats", "revin"}

    Returns
    -------
    z : tensor (B, T, V), normalized (0 where not observed)
    loc, scale : tensors (B, V)
    stats : tensor (B, V, 4) summary statistics (used by ``"increment_stats"``)
    anchor, step : tensors (B, V), normalized last value and increment size
    """
    m = time_mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    n = m.sum(1).clamp_min(1.0)
    mean = (x * m).sum(1) / n
    std = torch.sqrt(((x - mean[:, None]) ** 2 * m).sum(1) / n)
    dm = m[:, 1:] * m[:, :-1]
    dx = (x[:, 1:] - x[:, :-1]) * dm
    nd = dm.sum(1).clamp_min(1.0)
    dmean = dx.sum(1) / nd
    # root-mean-square increment (drift included): a deterministic trend keeps a unit
    dstd = torch.sqrt((dx ** 2).sum(1) / nd)
    last = x[:, -1]
    # floor: a (nearly) deterministic series still gets a finite unit
    floor = 1e-6 * torch.maximum(torch.maximum(std, last.abs()), torch.full_like(std, 1e-12))
    if mode == "revin":
        loc, scale = mean, torch.maximum(std, floor)
    else:  # "increment", "increment_stats": last value and RMS increment
        loc, scale = last, torch.maximum(dstd, floor)
    z = (x - loc[:, None]) / scale[:, None] * m
    dscale = torch.maximum(dstd, floor)
    stats = torch.stack([torch.log(dscale) / 10.0,
                         (mean - last) / dscale / 30.0,
                         torch.log(torch.maximum(std, floor) / dscale) / 5.0,
                         dmean / dscale], dim=-1)
    anchor = (last - loc) / scale
    step = dscale / scale
    return z, loc, scale, stats, anchor, step


#: Half-lives (steps) among which ``volatility_halflife="auto"`` chooses per series; inf
#: is a constant volatility (the context's mean square: no standardization).
AUTO_VOLATILITY_HALFLIVES = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, float("inf"))


def _ewma_variances(dz, observed, halflives):
    """One-step-ahead EWMA variances ``v_t`` of :func:`devolatilize` for each half-life,
    (L, B, T, N) float64 (``inf``: the constant mean square).

    ``S_t = sum_{s<t} lam^(t-1-s) dz_s^2`` in O(T) as ``lam^(t-1) cumsum(lam^-s dz_s^2)``,
    all half-lives in one pass, in blocks short enough that ``lam^-s`` stays below 1e150
    (one block of 504 steps for half-lives above one step); every term is positive and
    nothing is subtracted, so the sum loses no precision.
    """
    B, T, N = dz.shape
    sq = dz.pow(2) * observed[..., None]
    mean_sq = sq.sum(1) / observed.sum(1, keepdim=True).clamp_min(1.0)  # (B, N)
    finite = [float(hl) for hl in halflives if hl != float("inf")]
    if finite:
        log_lam = -math.log(2.0) / torch.tensor(finite, dtype=dz.dtype, device=dz.device)
        block = max(1, int(150.0 * math.log(10.0) * min(finite) / math.log(2.0)))
        out = torch.empty((len(finite),) + sq.shape, dtype=dz.dtype, device=dz.device)
        carry = torch.zeros(len(finite), B, 1, N, dtype=dz.dtype, device=dz.device)
        for start in range(0, T, block):
            n = min(block, T - start)
            lk = (log_lam[:, None] * torch.arange(n, dtype=dz.dtype, device=dz.device)
                  )[:, None, :, None]  # (L, 1, n, 1)
            a = sq[None, :, start:start + n] * torch.exp(-lk)
            # over the block's steps s < t: the sum shifted, not cumsum - a (that would
            # cancel where a_t dwarfs the steps before it)
            before = F.pad(torch.cumsum(a, 2)[:, :, :-1], (0, 0, 1, 0))
            out[:, :, start:start + n] = torch.exp(lk) * (
                carry + torch.exp(-log_lam)[:, None, None, None] * before)
            carry = torch.exp(n * log_lam)[:, None, None, None] * (
                carry + torch.exp(-log_lam)[:, None, None, None] * a.sum(2, keepdim=True))
        n_before = observed.cumsum(1) - observed  # (B, T)
        lam = log_lam[:, None, None]
        finite_var = (torch.exp(lam * n_before)[..., None] * mean_sq[:, None]
                      + (1.0 - torch.exp(lam))[..., None] * out)
    parts, i = [], 0
    for hl in halflives:
        if hl == float("inf"):
            parts.append(mean_sq[:, None].expand_as(dz))
        else:
            parts.append(finite_var[i])
            i += 1
    return torch.stack(parts)


def select_volatility_halflife(dz, observed, halflives=AUTO_VOLATILITY_HALFLIVES):
    """Per series, the EWMA half-life whose one-step-ahead variances fit best.

    The Gaussian quasi-log-likelihood ``-1/2 sum_t (log v_t + dz_t^2 / v_t)`` of the
    observed increments under each candidate's variances ``v_t`` (:func:`devolatilize`)
    is compared, as a GARCH(1,1) fit compares its parameters (Bollerslev 1986; the EWMA
    is the integrated GARCH with ``omega = 0``).  A series whose volatility does not move
    keeps ``inf`` (a constant volatility), so that it is not standardized by a noisy
    estimate; one whose volatility follows its level (state-scaled diffusions) or
    clusters gets a short half-life.

    Parameters
    ----------
    dz : tensor (B, T, N), float64
        Increments (0 where not observed), centred.
    observed : tensor (B, T), float64
        1 where the increment is observed.
    halflives : sequence of float
        Candidates, ``> 0``; ``inf`` for a constant volatility.

    Returns
    -------
    index : long tensor (B, N)
        Position in ``halflives`` of each series' choice.
    variance : tensor (B, T, N)
        The chosen one-step-ahead variances.
    """
    var = _ewma_variances(dz, observed, halflives)  # (L, B, T, N)
    safe = var.clamp_min(1e-300)
    ok = (var > 1e-24) & (observed[None, ..., None] > 0)
    terms = torch.where(ok, torch.log(safe) + dz.pow(2)[None] / safe, torch.zeros_like(var))
    index = (-0.5 * terms.sum(2)).argmax(0)  # (B, N)
    chosen = var.gather(0, index[None, :, None, :].expand(1, *dz.shape))[0]
    return index, chosen


def devolatilize(dz, observed, halflife):
    """Increments divided by their exponentially weighted volatility before each step.

    ``v_t = lam^{n_t} vbar + (1 - lam) sum_{s < t} lam^{t-1-s} dz_s^2`` with ``lam =
    2^(-1 / halflife)``, ``n_t`` the observed steps before ``t`` and ``vbar`` the
    context's mean square (the RiskMetrics recursion started at the mean): only steps
    before ``t`` enter, so ``dz_t / sqrt(v_t)`` is a standardized residual as in the
    first stage of DCC (Engle 2002), with the volatility's variation taken out.  Pooled
    raw increments give ``sum_t s_1t s_2t rho / (sum s_1t^2 sum s_2t^2)^1/2 <= rho`` when
    the volatilities ``s`` vary unlike each other (Cauchy-Schwarz), which attenuates the
    estimate towards 0.

    Parameters
    ----------
    dz : tensor (B, T, N), float64
        Increments (0 where not observed).
    observed : tensor (B, T), float64
        1 where the increment is observed: a suffix of the steps (the time mask's).
    halflife : float or "auto"
        Half-life of the volatility's weights in steps, > 0; ``"auto"``: chosen per
        series by :func:`select_volatility_halflife`.

    Returns
    -------
    tensor (B, T, N), 0 where not observed or where a series has not varied yet.
    """
    if halflife == "auto":
        var = select_volatility_halflife(dz, observed)[1]
    else:
        var = _ewma_variances(dz, observed, (float(halflife),))[0]
    ok = (var > 1e-24) & (observed[..., None] > 0)
    return torch.where(ok, dz * torch.rsqrt(var.clamp_min(1e-300)), torch.zeros_like(dz))


def context_correlation(z, time_mask, halflife: float = 0.0,
                        volatility_halflife=0.0):
    """Correlation matrix of a context's increments.

    The correlation of the increments ``z_t - z_{t-1}`` (both steps observed),
    exponentially weighted with half-life ``halflife`` steps (0: equal weights);
    with ``volatility_halflife`` (``> 0`` or ``"auto"``) the increments are first
    centred on their mean (the drift is not volatility) and divided by their
    exponentially weighted volatility before each step (:func:`devolatilize`), so
    the estimate is the correlation of standardized residuals, as DCC's ``Qbar``.  A
    series with no variation gets a zero row and column (and a zero diagonal entry).  No
    gradient flows through it: the context is data.

    Parameters
    ----------
    z : tensor (B, T, N)
        Normalized context (0 where not observed).
    time_mask : bool tensor (B, T)
    halflife : float
    volatility_halflife : float or "auto", default=0.0
        0: raw increments.  ``"auto"``: the half-life chosen per series by
        :func:`select_volatility_halflife`.

    Returns
    -------
    tensor (B, N, N), float64.
    """
    with torch.no_grad():
        B, T, N = z.shape
        zd = z.double()
        dz = zd[:, 1:] - zd[:, :-1]
        w = (time_mask[:, 1:] & time_mask[:, :-1]).double()  # (B, T-1)
        if volatility_halflife == "auto" or volatility_halflife > 0:
            drift = (dz * w[..., None]).sum(1, keepdim=True) / w.sum(1).clamp_min(1.0)[
                :, None, None]
            dz = devolatilize((dz - drift) * w[..., None], w, volatility_halflife)
        if halflife > 0:
            age = torch.arange(T - 2, -1, -1, device=z.device, dtype=torch.float64)
            w = w * torch.exp2(-age / halflife)
        w = w / w.sum(1, keepdim=True).clamp_min(1e-300)
        mean = torch.einsum("bt,btn->bn", w, dz)
        dc = dz - mean[:, None]
        cov = torch.einsum("bt,btn,btm->bnm", w, dc, dc)
        var = torch.diagonal(cov, dim1=1, dim2=2)
        inv_sd = torch.where(var > 1e-24, torch.rsqrt(var.clamp_min(1e-300)),
                             torch.zeros_like(var))
        return cov * inv_sd[:, :, None] * inv_sd[:, None, :]


def empirical_dependence(z, time_mask, rank, halflife: float = 0.0, corr=None):
    """Eigen-loadings of the correlation of a context's increments.

    The correlation ``C`` of :func:`context_correlation` is decomposed as
    ``C = V diag(lam) V'``; the loadings ``E = V_q diag(lam_q)^{1/2}`` of its
    ``q = rank`` largest eigenvalues give ``E E'``, the best rank-``q`` positive
    semi-definite approximation of ``C`` (Eckart-Young); ``rank="full"`` keeps all
    ``q = N`` (``E E' = C``, no truncation).  Rows of ``E`` have norm at most 1 (a row's
    squared norm is the share of that series' variance the ``q`` factors explain).  A
    series with no variation gets a zero row.  No gradient flows through it.

    Parameters
    ----------
    z : tensor (B, T, N)
        Normalized context (0 where not observed).
    time_mask : bool tensor (B, T)
    rank : int or "full"
    halflife : float
    corr : tensor (B, N, N) or None
        The correlation, when already computed by :func:`context_correlation`.

    Returns
    -------
    tensor (B, N, q) with ``q = rank`` (columns beyond ``N`` are zero) or ``q = N``.
    """
    with torch.no_grad():
        N = z.shape[-1]
        if corr is None:
            corr = context_correlation(z, time_mask, halflife)
        lam, vec = torch.linalg.eigh(corr.double())  # ascending
        rank = N if rank == "full" else int(rank)
        q = min(rank, N)
        load = vec[..., N - q:] * torch.sqrt(lam[:, N - q:].clamp_min(0.0))[:, None, :]
        load = load.flip(-1)  # largest first
        # guard against round-off: ||E_i||^2 <= C_ii <= 1
        norm = torch.linalg.vector_norm(load, dim=-1, keepdim=True)
        load = load / norm.clamp_min(1.0)
        if q < rank:
            load = F.pad(load, (0, rank - q))
        return load.to(z.dtype)


def correlation_features(corr, n_features: int, target_mask=None):
    """Pairwise and per-series inputs of the correlation-aware variable attention.

    Parameters
    ----------
    corr : tensor (B, N, N)
        Context correlation of the targets (:func:`context_correlation`).
    n_features : int
        Feature series ``M`` appended after the targets (they get zero inputs).
    target_mask : bool tensor (B, N) or None
        Real targets; padded ones get zero inputs and are left out of the summaries.

    Returns
    -------
    pair : tensor (B, V, V, 3), ``V = N + M``
        ``(c_ij, |c_ij|, 1[i = j])`` for target pairs ``i != j`` (the diagonal carries
        only the indicator; pairs with a feature series are zero).
    node : tensor (B, V, 3)
        Per target: the mean of ``c_ij`` and of ``|c_ij|`` and the largest ``|c_ij|``
        over the other targets ``j`` (zero for ``N = 1`` and for feature series).
    """
    B, N, _ = corr.shape
    V = N + n_features
    c = corr.float()
    eye = torch.eye(N, dtype=torch.bool, device=c.device)
    if target_mask is None:
        target_mask = torch.ones(B, N, dtype=torch.bool, device=c.device)
    real = target_mask[:, :, None] & target_mask[:, None, :]
    off = c.masked_fill(eye | ~real, 0.0)
    pair = torch.zeros(B, V, V, 3, dtype=c.dtype, device=c.device)
    pair[:, :N, :N, 0] = off
    pair[:, :N, :N, 1] = off.abs()
    pair[..., 2] = torch.eye(V, dtype=c.dtype, device=c.device)
    node = torch.zeros(B, V, 3, dtype=c.dtype, device=c.device)
    if N > 1:
        others = (target_mask.sum(-1, keepdim=True) - 1).clamp_min(1).to(c.dtype)  # (B, 1)
        node[:, :N, 0] = off.sum(-1) / others
        node[:, :N, 1] = off.abs().sum(-1) / others
        node[:, :N, 2] = off.abs().amax(-1)
    return pair, node


class _Layer(nn.Module):
    """Pre-norm attention + feed-forward layer over the second-to-last axis."""

    def __init__(self, d, n_heads, d_ff, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, n_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(d_ff, d))

    def forward(self, x, key_padding_mask=None, attn_bias=None):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, key_padding_mask=key_padding_mask, attn_mask=attn_bias,
                          need_weights=False)[0]
        return x + self.ff(self.norm2(x))


class JointFM(nn.Module):
    """The JointFM network, built only from a :class:`JointFMConfig`.

    ``forward(context, ...)`` returns a :class:`JointFMOutput` whose distributions give
    the joint law of the ``N`` targets at every horizon.

    Parameters
    ----------
    config : JointFMConfig

    Examples
    --------
    >>> import torch
    >>> from jointdist.models.jointfm import JointFM, JointFMConfig
    >>> net = JointFM(JointFMConfig(context_length=96, max_horizon=8, patch_size=16,
    ...                             d_model=32, d_ff=64))
    >>> out = net(torch.randn(2, 96, 3).cumsum(1), horizon=8)
    >>> out.distributions["gmm"].sample((5,)).shape
    torch.Size([5, 2, 8, 3])
    """

    def __init__(self, config: JointFMConfig):
        super().__init__()
        self.config = c = config
        P, d = c.patch_size, c.d_model
        self.patch_embed = nn.Sequential(nn.Linear(3 * P, d), nn.GELU(), nn.Linear(d, d))
        self.pos_embed = nn.Parameter(torch.randn(c.n_patches, d) * 0.02)
        self.type_embed = nn.Parameter(torch.randn(2, d) * 0.02)  # 0 target, 1 feature
        self.stats_embed = (nn.Linear(4, d) if c.normalization == "increment_stats"
                            else None)
        self.time_layers = nn.ModuleList(
            _Layer(d, c.n_heads, c.d_ff, c.dropout) for _ in range(c.n_blocks))
        self.var_layers = nn.ModuleList(
            _Layer(d, c.n_heads, c.d_ff, c.dropout) for _ in range(c.n_blocks))
        if c.correlation_bias:
            # the trunk sees the context's cross-series structure: a per-head additive
            # bias of the variable attention from each pair's correlation, and the
            # per-series correlation summary added to its tokens.  Both start at zero,
            # so a warm start begins from the source network's function.
            self.corr_bias = nn.ModuleList(nn.Linear(3, c.n_heads) for _ in range(c.n_blocks))
            self.corr_embed = nn.Linear(3, d)
            for lin in [*self.corr_bias, self.corr_embed]:
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)
        else:
            self.corr_bias = self.corr_embed = None
        if c.harmonic_frequencies:
            self.harmonic = HarmonicDrift(c.d_ff, c.max_horizon, harmonic_cycles(c))
        else:
            self.harmonic = None
        self.final_norm = nn.LayerNorm(d)
        self.decoder = nn.Sequential(nn.Linear(2 * d, c.d_ff), nn.GELU(),
                                     nn.Linear(c.d_ff, c.d_ff), nn.GELU())
        self.pool = nn.Sequential(nn.Linear(c.d_ff, c.d_ff), nn.GELU())
        heads = {}
        if "gmm" in c.heads:
            heads["gmm"] = GaussianMixtureHead(c.d_ff, c.max_horizon, c.n_components, c.rank)
        if "skewt" in c.heads:
            heads["skewt"] = SkewTMixtureHead(c.d_ff, c.max_horizon, c.n_components, c.rank,
                                              c.max_nu, c.cf_iterations)
        for head in heads.values():
            head.add_empirical_dependence(c.empirical_rank, c.trust_offset,
                                          c.dependence_share)
        self.heads = nn.ModuleDict(heads)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, context, time_mask=None, target_mask=None, features=None,
                horizon=None, heads=None) -> JointFMOutput:
        """Predict the joint law of the next ``horizon`` steps.

        Parameters
        ----------
        context : tensor (B, T, N)
            Target histories in observed units, ``T <= config.context_length``; shorter
            ones are left-padded internally.
        time_mask : bool tensor (B, T) or None
            True where observed; it must be a right-aligned suffix (the most recent
            steps).  None means fully observed.
        target_mask : bool tensor (B, N) or None
            Real targets (for batches padded to a common ``N``); None means all.
        features : tensor (B, T, M) or None
            Feature series (covariates), observed over the same steps.
        horizon : int or None
            ``1 <= horizon <= config.max_horizon``; None is ``max_horizon``.
        heads : sequence of str or None
            Heads to evaluate; None is all of ``config.heads``.

        Returns
        -------
        JointFMOutput
        """
        c = self.config
        if context.ndim != 3:
            raise ValueError(f"context must have shape (B, T, N); got {tuple(context.shape)}.")
        B, T, N = context.shape
        if T > c.context_length:
            raise ValueError(f"context has {T} steps but the model takes at most "
                             f"{c.context_length}; pass the most recent ones.")
        horizon = c.max_horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= c.max_horizon:
            raise ValueError(f"horizon must be in [1, {c.max_horizon}]; got {horizon}.")
        dev, dtype = context.device, context.dtype
        if time_mask is None:
            time_mask = torch.ones(B, T, dtype=torch.bool, device=dev)
        if target_mask is None:
            target_mask = torch.ones(B, N, dtype=torch.bool, device=dev)
        M = 0 if features is None else features.shape[-1]
        x = context if features is None else torch.cat([context, features], dim=-1)
        pad = c.context_length - T
        if pad:
            x = F.pad(x, (0, 0, pad, 0))
            time_mask = F.pad(time_mask, (pad, 0), value=False)
        x = torch.where(time_mask.unsqueeze(-1), x, torch.zeros((), dtype=dtype, device=dev))
        # fill the padded past with the first observed value so that patches are smooth
        first = x.gather(1, (~time_mask).sum(1).clamp_max(c.context_length - 1)
                         .view(B, 1, 1).expand(B, 1, N + M))
        x = torch.where(time_mask.unsqueeze(-1), x, first)
        z, loc, scale, stats, anchor, step = normalize_context(x, time_mask, c.normalization)
        z = z.clamp(-1e4, 1e4)
        var_mask = torch.cat([target_mask, torch.ones(B, M, dtype=torch.bool, device=dev)], 1)
        z = z * var_mask[:, None, :].to(dtype)
        corr = (context_correlation(z[:, :, :N].float(), time_mask, c.dependence_halflife,
                                    c.volatility_halflife)
                if c.empirical_rank != 0 or c.correlation_bias else None)
        dep = (empirical_dependence(z[:, :, :N].float(), time_mask, c.empirical_rank,
                                    corr=corr)
               if c.empirical_rank != 0 else None)
        V, P, L = N + M, c.patch_size, c.n_patches
        zv = z.permute(0, 2, 1).reshape(B, V, L, P)
        dz = torch.diff(z, dim=1, prepend=z[:, :1]).permute(0, 2, 1).reshape(B, V, L, P)
        mv = time_mask[:, None, :].expand(B, V, -1).reshape(B, V, L, P).to(dtype)
        tok = self.patch_embed(torch.cat([zv / 10.0, dz, mv], dim=-1))  # (B, V, L, d)
        tok = tok + self.pos_embed
        types = torch.cat([torch.zeros(N, dtype=torch.long), torch.ones(M, dtype=torch.long)])
        tok = tok + self.type_embed[types.to(dev)][None, :, None, :]
        if self.stats_embed is not None:
            tok = tok + self.stats_embed(stats.clamp(-10, 10))[:, :, None, :]
        patch_pad = ~time_mask.view(B, L, P).any(-1)  # (B, L) fully unobserved patches
        d = c.d_model
        var_pad = (~var_mask)[:, None, :].expand(B, L, V).reshape(B * L, V)
        if self.corr_bias is not None:
            pair, node = correlation_features(corr, M, target_mask)
            pair, node = pair.to(dtype), node.to(dtype)
            tok = tok + self.corr_embed(node * var_mask[..., None].to(dtype))[:, :, None, :]
            # padded keys get -inf in the same float mask (mixing a bool padding mask
            # with a float bias is deprecated in torch)
            key_pad = torch.zeros(B, 1, 1, V, dtype=dtype, device=dev).masked_fill(
                (~var_mask)[:, None, None, :], float("-inf"))
        for i, (t_layer, v_layer) in enumerate(zip(self.time_layers, self.var_layers)):
            h = t_layer(tok.reshape(B * V, L, d),
                        patch_pad[:, None, :].expand(B, V, L).reshape(B * V, L))
            h = h.view(B, V, L, d).transpose(1, 2).reshape(B * L, V, d)
            if self.corr_bias is None:
                h = v_layer(h, var_pad)
            else:
                # (B, V, V, heads) -> (B * L * heads, V, V), batch index b * L + l
                bias = self.corr_bias[i](pair).permute(0, 3, 1, 2) + key_pad
                bias = bias[:, None].expand(B, L, c.n_heads, V, V).reshape(
                    B * L * c.n_heads, V, V)
                h = v_layer(h, attn_bias=bias)
            tok = h.view(B, L, V, d).transpose(1, 2)
        tok = self.final_norm(tok)
        keep = (~patch_pad).to(dtype)[:, None, :, None]
        mean_tok = (tok * keep).sum(2) / keep.sum(2)
        h_var = self.decoder(torch.cat([tok[:, :, -1], mean_tok], dim=-1))[:, :N]  # (B, N, .)
        tm = target_mask.to(dtype).unsqueeze(-1)
        h_pool = self.pool((h_var * tm).sum(1) / tm.sum(1).clamp_min(1.0))
        names = c.heads if heads is None else tuple(heads)
        unknown = set(names) - set(self.heads)
        if unknown:
            raise ValueError(f"unknown head(s) {sorted(unknown)}; this model has "
                             f"{list(self.heads)}.")
        # the heads (and every log-density) run in float32 even under autocast
        with torch.autocast(device_type=dev.type, enabled=False):
            h_var, h_pool = h_var.float(), h_pool.float()
            anchor_t = (anchor[:, :N] * target_mask).float()
            step_t = step[:, :N].float()
            shift = None
            if self.harmonic is not None:
                shift = self.harmonic(z[:, :, :N], time_mask, h_var, horizon)
            dists = {name: self.heads[name](h_var, h_pool, anchor_t, step_t, target_mask,
                                            horizon, dependence=dep, shift=shift)
                     for name in names}
        return JointFMOutput(dists, loc[:, :N], scale[:, :N], target_mask)
