"""The harmonic drift path of JointFM: sinusoids fitted to the context, extrapolated.

Sinusoidal forcing ``a sin(2 pi f t + phi)`` in the drift (the curriculum's level 1) is
what v2's patches did not learn to extrapolate: on the level-7 protocol the forced systems
score 0.67 of the best baseline against 0.52 without, and putting in the *true* frequency
(amplitude and phase fitted to the context) cuts their distance by 35%; fixed detectors
(an F-test on the periodogram, least squares on the levels) find too few or too many
cycles (docs/models/jointfm.md, "Where v2's distance is at level 7").

This path does the fitting exactly and lets the network learn only what a detector cannot
fix by hand: which frequency to believe and how much of the fit to keep.  For every
target and every frequency ``w`` of a grid it regresses the normalized increments on
``(1, cos w t, sin w t)`` (weighted least squares over the observed steps) and returns

* ``F_w = n log(TSS / RSS_w)``, the likelihood-ratio statistic of the regression (``n``
  observed increments, total and residual sums of squares): about chi-squared with 2
  degrees of freedom without a sinusoid at ``w``, and ``exp(F_w / 2)`` is the profile
  likelihood ratio of one sinusoid at ``w`` in Gaussian white noise (amplitude, phase
  and noise variance profiled out);
* ``E_w(h)``, the fitted sinusoid's deviation from its context mean summed over the next
  ``h`` increments: the level change it adds to the forecast's location.

:class:`HarmonicDrift` turns them into a location shift ``g_h(x) sum_w p_w(x) E_w(h)``,
with ``p`` a softmax over the grid (starting at ``exp(F_w / 2)``, the posterior of the
frequency under a flat prior) and ``g_h`` a gate per horizon that starts at 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["harmonic_fit", "harmonic_cycles", "HarmonicDrift"]


def harmonic_cycles(config) -> torch.Tensor:
    """The frequency grid of the harmonic drift path.

    Parameters
    ----------
    config : JointFMConfig

    Returns
    -------
    tensor (harmonic_frequencies,), float64
        Evenly spaced from ``harmonic_min_cycles`` to ``harmonic_max_cycles``, in cycles
        per ``context_length`` steps.
    """
    return torch.linspace(config.harmonic_min_cycles, config.harmonic_max_cycles,
                          config.harmonic_frequencies, dtype=torch.float64)


def harmonic_fit(z, time_mask, cycles, horizon: int):
    """Fit one sinusoid per frequency to each series' increments and extrapolate it.

    Parameters
    ----------
    z : tensor (B, T, N)
        Normalized context (any value where not observed).
    time_mask : bool tensor (B, T)
        True where observed (a right-aligned suffix).
    cycles : tensor (K,)
        Frequencies in cycles per ``T`` steps.
    horizon : int
        Steps to extrapolate.

    Returns
    -------
    stat : tensor (B, N, K), float64
        ``F = n log(TSS / RSS)`` of each fit (0 for a series that does not vary).
    extrapolation : tensor (B, N, K, horizon), float64
        ``E(h) = sum_{j <= h} [c (cos w(T-1+j) - m_c) + s (sin w(T-1+j) - m_s)]``, with
        ``m`` the basis' weighted context means: the fitted cycle's contribution to the
        level change over ``h`` steps beyond the context's average increment.

    No gradient flows through it: the context is data.
    """
    with torch.no_grad():
        B, T, N = z.shape
        zd = z.double()
        dz = zd[:, 1:] - zd[:, :-1]  # increment t ends at step t + 1
        w = (time_mask[:, 1:] & time_mask[:, :-1]).double()  # (B, T-1)
        n = w.sum(1).clamp_min(1.0)  # (B,)
        cos, sin, cc_t, cs_t, ss_t, fcos, fsin = _basis(T, horizon, cycles, z.device)
        mean_basis = torch.stack([w @ cos, w @ sin], dim=-1) / n[:, None, None]  # (B, K, 2)
        mean_dz = torch.einsum("bt,btn->bn", w, dz) / n[:, None]
        dzc = (dz - mean_dz[:, None]) * w[..., None]  # (B, T-1, N), 0 where not observed
        # Gram matrix of the centred basis (the intercept profiled out): the weighted
        # sums of cos^2, cos sin and sin^2 minus n m m', (B, K, 2, 2)
        cc, cs, ss = w @ cc_t, w @ cs_t, w @ ss_t
        raw = torch.stack([torch.stack([cc, cs], -1), torch.stack([cs, ss], -1)], -2)
        gram = raw - n[:, None, None, None] * mean_basis[..., :, None] * mean_basis[..., None, :]
        # a tiny ridge: a short context cannot tell a slow cycle's cos from its sin
        gram = gram + 1e-9 * n[:, None, None, None] * torch.eye(
            2, dtype=torch.float64, device=z.device)
        # sum_t (b_t - m) dzc_t = sum_t b_t dzc_t, because dzc sums to 0
        rhs = torch.stack([torch.einsum("tk,btn->bkn", cos, dzc),
                           torch.einsum("tk,btn->bkn", sin, dzc)], dim=-1)  # (B, K, N, 2)
        # the 2 x 2 solve in closed form (a batched LAPACK call per pair is slower)
        a, b, d = gram[..., 0, 0], gram[..., 0, 1], gram[..., 1, 1]  # (B, K)
        det = (a * d - b * b)[..., None]
        coef = torch.stack([(d[..., None] * rhs[..., 0] - b[..., None] * rhs[..., 1]) / det,
                            (a[..., None] * rhs[..., 1] - b[..., None] * rhs[..., 0]) / det],
                           dim=-1)  # (B, K, N, 2)
        ess = (coef * rhs).sum(-1)  # (B, K, N), the explained sum of squares
        tss = dzc.pow(2).sum(1)[:, None]  # (B, 1, N)
        # the likelihood-ratio statistic n log(TSS / RSS) of a Gaussian regression
        rss = (tss - ess).clamp_min(1e-12 * tss)
        ratio = tss.clamp_min(1e-300) / rss.clamp_min(1e-300)
        stat = torch.where(tss > 1e-24 * n[:, None, None], n[:, None, None] * torch.log(ratio),
                           torch.zeros_like(ess)).clamp_min(0.0)
        # E(h) = c (C_h - h m_c) + s (S_h - h m_s), C_h and S_h the basis summed over the
        # future increments 1..h (tables), so no cumulative sum over (B, N, K, H)
        h = torch.arange(1, horizon + 1, device=z.device, dtype=torch.float64)  # (H,)
        dev_c = fcos[None] - h[None, :, None] * mean_basis[:, None, :, 0]  # (B, H, K)
        dev_s = fsin[None] - h[None, :, None] * mean_basis[:, None, :, 1]
        extrapolation = (coef[..., 0].transpose(1, 2)[..., None] * dev_c.permute(0, 2, 1)[:, None]
                         + coef[..., 1].transpose(1, 2)[..., None]
                         * dev_s.permute(0, 2, 1)[:, None])  # (B, N, K, H)
        return stat.transpose(1, 2), extrapolation


_BASIS_CACHE: dict = {}


def _basis(T: int, horizon: int, cycles, device):
    """Cosine and sine tables of the grid over the context's increments (t = 1..T-1),
    their products, and their sums over the future increments 1..h (t = T..T+h-1);
    float64, cached per (T, horizon, grid, device): the network always pads to its
    ``context_length``, so one entry serves every call."""
    key = (T, horizon, tuple(cycles.tolist()), str(device))
    if key not in _BASIS_CACHE:
        if len(_BASIS_CACHE) > 16:
            _BASIS_CACHE.clear()
        omega = 2.0 * math.pi * cycles.to(device=device, dtype=torch.float64) / T  # (K,)
        t = torch.arange(1, T, device=device, dtype=torch.float64)  # (T-1,)
        cos, sin = torch.cos(t[:, None] * omega), torch.sin(t[:, None] * omega)
        tf = torch.arange(T, T + horizon, device=device, dtype=torch.float64)  # (H,)
        fcos = torch.cos(tf[:, None] * omega).cumsum(0)  # (H, K)
        fsin = torch.sin(tf[:, None] * omega).cumsum(0)
        _BASIS_CACHE[key] = (cos, sin, cos.pow(2), cos * sin, sin.pow(2), fcos, fsin)
    return _BASIS_CACHE[key]


class HarmonicDrift(nn.Module):
    """Learned use of :func:`harmonic_fit`: a location shift per target and horizon.

    Parameters
    ----------
    d_in : int
        Width of the per-target decoder features the gate reads.
    max_horizon : int
    cycles : tensor (K,)
        The frequency grid (:func:`harmonic_cycles`); kept as a buffer that is not saved
        with the weights (it follows from the config).  The score's frequency input is
        scaled by its largest value.
    """

    #: The gate's output is multiplied by this: Adam moves a parameter by about the
    #: learning rate per step, so an unscaled gate starting at 0 would need ~1 / lr steps
    #: to reach 1 (the trust of the empirical path had the same problem).
    GATE_SCALE = 10.0

    def __init__(self, d_in: int, max_horizon: int, cycles: torch.Tensor):
        super().__init__()
        self.register_buffer("cycles", cycles.to(torch.float64), persistent=False)
        self.max_cycles = float(cycles.max())
        self.log_temperature = nn.Parameter(torch.zeros(()))
        # per-frequency correction of the score (shared over frequencies); starts at 0
        self.score = nn.Sequential(nn.Linear(3, 16), nn.GELU(), nn.Linear(16, 1))
        nn.init.zeros_(self.score[2].weight)
        nn.init.zeros_(self.score[2].bias)
        self.gate = nn.Sequential(nn.Linear(d_in + 4, 32), nn.GELU(),
                                  nn.Linear(32, max_horizon))
        nn.init.zeros_(self.gate[2].weight)
        nn.init.zeros_(self.gate[2].bias)

    def forward(self, z, time_mask, h_var, horizon: int):
        """The shift ``g_h sum_w p_w E_w(h)``, from the fits of :func:`harmonic_fit`.

        Parameters
        ----------
        z : tensor (B, T, N)
            Normalized context of the targets.
        time_mask : bool tensor (B, T)
        h_var : tensor (B, N, d_in)
        horizon : int

        Returns
        -------
        shift : tensor (B, horizon, N), in the heads' normalized units (the heads mask
        padded targets).
        """
        stat, extrapolation = harmonic_fit(z, time_mask, self.cycles, horizon)
        dt = h_var.dtype
        F = stat.to(dt).clamp_max(1e4)
        K = F.shape[-1]
        log_f = torch.log1p(F)
        freq = (self.cycles.to(dt) / self.max_cycles).expand_as(F)
        feats = torch.stack([log_f / 3.0, F / 50.0, freq], dim=-1)  # (B, N, K, 3)
        score = 0.5 * F * self.log_temperature.exp() + self.score(feats)[..., 0]
        p = torch.softmax(score, dim=-1)  # (B, N, K)
        entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(-1) / math.log(max(K, 2))
        f_max = F.amax(-1)
        summary = torch.stack([torch.log1p(f_max) / 3.0, f_max / 50.0, entropy,
                               (p * log_f).sum(-1) / 3.0], dim=-1)  # (B, N, 4)
        g = self.GATE_SCALE * self.gate(torch.cat([h_var, summary], dim=-1))  # (B, N, H)
        e = extrapolation.to(dt).clamp(-1e3, 1e3)  # (B, N, K, h)
        drift = torch.einsum("bnk,bnkh->bnh", p, e)
        return (g[..., :horizon] * drift).transpose(1, 2)
