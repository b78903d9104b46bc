"""Vectorized Euler-Maruyama simulation of :class:`SDESystems` in torch.

One time step of seed 000, Eq. (1), for every system ``s``, path ``p`` and dimension ``i``
(normalized units, regime ``S in {0, 1}``, memory states ``m_ij``):

.. math::

    \\Delta Z = [\\mu + \\beta Z + A\\tanh(Z - c) + a\\sin(2\\pi f t + \\varphi)
               + S\\,\\delta + g \\textstyle\\sum_j w_j m_j]\\,\\Delta t
               + (1 + (v - 1) S)\\,\\sigma f(Z)\\,L\\,\\varepsilon\\sqrt{\\Delta t}
               + \\text{jumps}

with ``L`` the Cholesky factor of the correlation of ``dW``.  Jump counts per step are
exact Poisson draws (inverse CDF, truncated where the tail is below 1e-12), the sum of
``n`` normal jump sizes is drawn exactly as ``n m + sqrt(n) s eps``.  The regime flips
with probability ``1 - exp(-q(Z) dt)`` per step; memory states decay exactly,
``m_j <- exp(-rate_j dt) m_j + dZ``.  Everything is vectorized over systems and paths;
the only Python loop is over time steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from jointdist.datasets.sde.systems import (
    DIFF_ADDITIVE,
    DIFF_MULTIPLICATIVE,
    DIFF_SQRT,
    REGIME_HAZARD,
    REGIME_LOGISTIC,
    REGIME_NONE,
    REGIME_RATE_CAP,
    SDESystems,
)

__all__ = ["SDEState", "SimulationResult", "branch_state", "initial_state", "simulate",
           "to_observed"]


@dataclass
class SDEState:
    """Full Markov state of ``S`` systems x ``P`` paths at time ``t``.

    Attributes
    ----------
    z : (S, P, D) tensor
        State in normalized units.
    regime : (S, P) tensor
        Regime (0. or 1.).
    memory : (S, P, D, J) tensor or None
        Volterra memory states ``m_j = int exp(-rate_j (t - s)) dZ_s``; None stands
        for zeros (systems without memory never allocate it).
    t : float
        Time.
    """

    z: torch.Tensor
    regime: torch.Tensor
    memory: torch.Tensor | None
    t: float = 0.0

    @property
    def n_paths(self) -> int:
        return int(self.z.shape[1])


@dataclass
class SimulationResult:
    """Output of :func:`simulate`.

    Attributes
    ----------
    paths : (S, P, n_steps, D) tensor
        ``paths[:, :, k]`` is the state after step ``k + 1`` (normalized units).  A
        permuted view of time-major storage; :func:`to_observed` returns it contiguous.
    state : SDEState
        Terminal state, from which futures can be branched.
    events : dict of tensors
        Only with ``record_events=True``: ``jump_counts`` (S, P, D), ``time_in_regime``
        (S, P, 2), ``n_switches`` (S, P, 2) (exits from regime 0 and from regime 1).
    """

    paths: torch.Tensor
    state: SDEState
    events: dict = field(default_factory=dict)


def initial_state(systems: SDESystems, n_paths: int = 1) -> SDEState:
    """The state at ``t = 0`` (``z0``, ``regime_s0``, empty memory), repeated over paths."""
    S, D = systems.n_systems, systems.n_dims
    z = systems.z0[:, None, :].expand(S, n_paths, D).clone()
    regime = systems.regime_s0[:, None].expand(S, n_paths).clone()
    return SDEState(z=z, regime=regime, memory=None, t=0.0)


def branch_state(state: SDEState, n_paths: int) -> SDEState:
    """Repeat a single-path state ``n_paths`` times (futures from the same end-state).

    Every component of the state is copied: position, regime and memory.
    """
    if state.n_paths != 1:
        raise ValueError(f"branch_state needs a state with one path; got {state.n_paths}.")
    S = state.z.shape[0]
    return SDEState(
        z=state.z.expand(S, n_paths, *state.z.shape[2:]).clone(),
        regime=state.regime.expand(S, n_paths).clone(),
        memory=None if state.memory is None
        else state.memory.expand(S, n_paths, *state.memory.shape[2:]).clone(),
        t=state.t,
    )


def to_observed(systems: SDESystems, z: torch.Tensor, out: torch.Tensor | None = None):
    """Map normalized paths ``(S, ..., D)`` to observed units ``loc + scale * z``.

    Returns a new contiguous tensor; with ``out=z`` the map is done in place instead
    (saves memory for large future tensors).
    """
    shape = (z.shape[0],) + (1,) * (z.dim() - 2) + (z.shape[-1],)
    scale = systems.scale.to(z.dtype).reshape(shape)
    loc = systems.loc.to(z.dtype).reshape(shape)
    if out is None:  # one fused pass that also makes time-major storage contiguous
        out = torch.empty(z.shape, dtype=z.dtype, device=z.device)
        return torch.addcmul(loc, scale, z, out=out)
    return out.mul_(scale).add_(loc)


def _poisson_cdf_table(lam: torch.Tensor, tol: float = 1e-12):
    """Cumulative Poisson probabilities ``F(0..K-1)`` for each ``lam`` (shape (..., K))."""
    lam_max = float(lam.max()) if lam.numel() else 0.0
    K = 1
    tail = 1.0 - math.exp(-lam_max)
    term = math.exp(-lam_max)
    while tail > tol and K < 200:  # smallest K with P(N >= K) <= tol at the largest lam
        term *= lam_max / K
        tail -= term
        K += 1
    k = torch.arange(K, dtype=lam.dtype, device=lam.device)
    logp = -lam[..., None] + k * torch.log(lam[..., None].clamp_min(1e-300)) \
        - torch.lgamma(k + 1)
    pmf = torch.where(lam[..., None] > 0, torch.exp(logp), (k == 0).to(lam.dtype))
    return torch.cumsum(pmf, dim=-1)


def simulate(systems: SDESystems, n_steps: int, dt: float, *, n_paths: int = 1,
             state: SDEState | None = None, generator: torch.Generator | None = None,
             record_events: bool = False, out_dtype: torch.dtype | None = None
             ) -> SimulationResult:
    """Simulate ``n_steps`` Euler-Maruyama steps of every system.

    Parameters
    ----------
    systems : SDESystems
        ``S`` systems; the simulation runs on their device and in their dtype.
    n_steps : int
        Number of steps.
    dt : float
        Step size (in the systems' time unit).
    n_paths : int, default=1
        Paths per system when ``state`` is None (all start at ``z0``).
    state : SDEState, optional
        Start from this state (e.g. a history's terminal state branched with
        :func:`branch_state`); ``n_paths`` is then taken from it.
    generator : torch.Generator, optional
        Random source (on the systems' device).
    record_events : bool, default=False
        Count jumps, time spent in each regime and regime exits.
    out_dtype : torch.dtype, optional
        dtype of the stored paths (default: the systems' dtype).

    Returns
    -------
    SimulationResult
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps}.")
    if not dt > 0:
        raise ValueError(f"dt must be positive; got {dt}.")
    if state is None:
        state = initial_state(systems, n_paths)
    sy = systems
    dev, dt_ = sy.device, sy.dtype
    S, P, D = state.z.shape
    z = state.z.clone()
    regime = state.regime.clone()
    memory = None if state.memory is None else state.memory.clone()
    t0 = float(state.t)
    sqdt = math.sqrt(dt)
    out = torch.empty(n_steps, S, P, D, dtype=out_dtype or dt_, device=dev)  # time-major

    def bc(x):  # (S, D) -> (S, 1, D)
        return x[:, None, :]

    def full(x):  # (S, D) -> contiguous (S, P, D): avoids slow broadcasting in the loop
        return x[:, None, :].expand(S, P, D).contiguous()

    # Which mechanisms are present at all (skip the work otherwise).
    has_nl = bool((sy.nl_matrix != 0).any())
    has_sin = bool((sy.sin_amp != 0).any())
    has_noise = bool((sy.sigma != 0).any())
    eye = torch.eye(D, dtype=dt_, device=dev)
    has_corr = has_noise and bool((sy.corr_chol - eye).abs().max() > 0)
    has_mult = bool((sy.diff_type == DIFF_MULTIPLICATIVE).any())
    has_sqrt = bool((sy.diff_type == DIFF_SQRT).any())
    has_jump = bool((sy.jump_rate > 0).any())
    has_regime = bool((sy.regime_type != REGIME_NONE).any())
    has_state_regime = has_regime and bool((sy.regime_type >= REGIME_LOGISTIC).any())
    has_mem = bool((sy.mem_gain != 0).any())

    # drift coefficients are pre-multiplied by dt (one pass less per step)
    mu, beta = full(sy.mu * dt), full(sy.beta * dt)
    # diffusion coefficient sigma f(Z) sqrt(dt) = c_add + c_mult |Z| + c_sqrt sqrt|Z|
    c_add = full(sy.sigma * (sy.diff_type == DIFF_ADDITIVE) * sqdt)
    c_mult = full(sy.sigma * (sy.diff_type == DIFF_MULTIPLICATIVE) * sqdt)
    c_sqrt = full(sy.sigma * (sy.diff_type == DIFF_SQRT) * sqdt)
    A_T = (sy.nl_matrix * dt).transpose(1, 2).contiguous()
    nl_c = bc(sy.nl_center)
    chol_T = sy.corr_chol.transpose(1, 2).contiguous()
    if has_jump:
        # Poisson CDF per (system, dim) in float64, then cast: exact inverse-CDF counts
        # (computed on the CPU: float64 is not available on every device)
        jump_cdf = _poisson_cdf_table(sy.jump_rate.detach().cpu().double() * dt)
        jump_cdf = jump_cdf.to(device=dev, dtype=dt_)  # (S, D, K)
        no_jump = bc(jump_cdf[..., 0])  # P(N = 0) = exp(-lam dt)
        has_common = bool(sy.jump_common.any())
        common3 = sy.jump_common[:, None, None]
        lead = sy.jump_lead[:, None, None].expand(S, P, 1)
        is_mult_sd = sy.diff_type == DIFF_MULTIPLICATIVE
    if has_regime:
        rtype = sy.regime_type[:, None]
        q01, q10 = sy.regime_q01[:, None], sy.regime_q10[:, None]
        r_w = sy.regime_weights[:, :, None]  # (S, D, 1)
        r_c, r_g = sy.regime_center[:, None], sy.regime_gain[:, None]
        r_drift = full(sy.regime_drift * dt)
        r_vol = full(sy.regime_vol - 1.0)
        has_rvol = bool((r_vol != 0).any())
        is_logistic, is_hazard = rtype == REGIME_LOGISTIC, rtype == REGIME_HAZARD
    if has_mem:
        decay = torch.exp(-sy.mem_rates * dt)[:, None, None, :]  # (S, 1, 1, J)
        m_w = sy.mem_weights[:, None, :, None]  # (S, 1, J, 1)
        m_gain = full(sy.mem_gain * dt)
        if memory is None:
            memory = torch.zeros(S, P, D, sy.mem_rates.shape[1], dtype=dt_, device=dev)
    if record_events:
        jump_counts = torch.zeros(S, P, D, dtype=dt_, device=dev)
        time_in = torch.zeros(S, P, 2, dtype=dt_, device=dev)
        n_switch = torch.zeros(S, P, 2, dtype=dt_, device=dev)

    for k in range(n_steps):
        t = t0 + k * dt
        # ---- drift b(t, Z) + R(S) + M(H_t) of Eq. (1), times dt -----------------------
        dz = torch.addcmul(mu, beta, z)
        if has_nl:  # g(Z) = A tanh(Z - c)
            dz.add_(torch.bmm(torch.tanh(z - nl_c), A_T))
        if has_sin:  # s(t) = a sin(2 pi f t + phi)
            dz.add_(bc(sy.sin_amp * dt * torch.sin(2 * math.pi * sy.sin_freq * t
                                                   + sy.sin_phase)))
        if has_regime:  # R(S_t) = S_t delta
            reg3 = regime[..., None]
            dz.addcmul_(reg3, r_drift)
        if has_mem:  # M = gain sum_j w_j m_j, m_j = int exp(-rate_j (t - s)) dZ_s
            dz.addcmul_(m_gain, torch.matmul(memory, m_w)[..., 0])
        # ---- diffusion Sigma(t, Z) dW ----------------------------------------------
        if has_noise:
            eps = torch.randn(S, P, D, dtype=dt_, device=dev, generator=generator)
            if has_corr:
                eps = torch.bmm(eps, chol_T)  # rows ~ N(0, corr)
            vol = c_add
            if has_mult or has_sqrt:
                az = z.abs()
                vol = torch.addcmul(vol, c_mult, az) if has_mult else vol
                if has_sqrt:
                    vol = torch.addcmul(vol, c_sqrt, az.sqrt_())
            if has_regime and has_rvol:  # regime 1 scales the volatility: (1 + S (v - 1))
                eps = torch.addcmul(eps, eps, reg3 * r_vol)
            dz.addcmul_(vol, eps)
        # ---- compound Poisson jumps J(t, Z) dN ---------------------------------------
        if has_jump:
            u = torch.rand(S, P, D, dtype=dt_, device=dev, generator=generator)
            if has_common:  # common arrivals: every dimension uses the lead's uniform
                u = torch.where(common3, torch.gather(u, 2, lead), u)
            hit = (u > no_jump).nonzero(as_tuple=True)  # sparse: jumps are rare per step
            n_hit = hit[0].numel()
            if n_hit:
                s_idx, d_idx = hit[0], hit[2]
                counts = (u[hit][:, None] > jump_cdf[s_idx, d_idx]).sum(-1).to(dt_)
                size = torch.randn(n_hit, dtype=dt_, device=dev, generator=generator)
                jsum = counts * sy.jump_mean[s_idx, d_idx] \
                    + counts.sqrt() * sy.jump_std[s_idx, d_idx] * size
                # Merton: relative jumps Z -> Z exp(J) for multiplicative dimensions
                inc = torch.where(is_mult_sd[s_idx, d_idx], z[hit] * torch.expm1(jsum), jsum)
                dz.index_put_(hit, inc, accumulate=True)
                if record_events:
                    jump_counts.index_put_(hit, counts, accumulate=True)
        # ---- regime switching --------------------------------------------------------
        if has_regime:
            rate01, rate10 = q01, q10
            if has_state_regime:
                x = r_g * (torch.bmm(z, r_w)[..., 0] - r_c)  # driver of the Cox rates
                e = torch.exp(x.clamp(-30.0, 30.0))
                sig = torch.sigmoid(x)
                # logistic: 2 q sigmoid(+-x); exponential hazard: q exp(+-x), capped
                rate01 = torch.where(is_logistic, 2 * q01 * sig, torch.where(
                    is_hazard, (q01 * e).clamp(max=REGIME_RATE_CAP), q01))
                rate10 = torch.where(is_logistic, 2 * q10 * (1 - sig), torch.where(
                    is_hazard, (q10 / e).clamp(max=REGIME_RATE_CAP), q10))
            in1 = regime > 0.5
            rate = torch.where(in1, rate10, rate01)
            p_switch = -torch.expm1(-rate * dt)
            u = torch.rand(S, P, dtype=dt_, device=dev, generator=generator)
            switch = u < p_switch
            if record_events:
                in1f = in1.to(dt_)
                time_in[..., 1] += in1f * dt
                time_in[..., 0] += (1 - in1f) * dt
                n_switch[..., 1] += (switch & in1).to(dt_)
                n_switch[..., 0] += (switch & ~in1).to(dt_)
            regime = torch.where(switch, 1.0 - regime, regime)
        # ---- Volterra memory: m_j <- exp(-rate_j dt) m_j + dZ ------------------------
        if has_mem:
            memory.mul_(decay).add_(dz[..., None])
        z = torch.add(z, dz, out=out[k])  # the new state is written in place into out

    events = {}
    if record_events:
        events = {"jump_counts": jump_counts, "time_in_regime": time_in,
                  "n_switches": n_switch}
    final = SDEState(z=z.clone(), regime=regime, memory=memory, t=t0 + n_steps * dt)
    return SimulationResult(paths=out.permute(1, 2, 0, 3), state=final, events=events)
