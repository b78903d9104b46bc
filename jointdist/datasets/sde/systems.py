"""Random SDE systems ("laws of physics") of the JointFM curriculum, levels 0-9.

Every system is one instance of the generalized SDE of JointFM (seed 000, Eq. (1)),

.. math::

    dZ_t = b(t, Z_t)\\,dt + \\Sigma(t, Z_t)\\,dW_t + J(t, Z_t)\\,dN_t
           + M(t, \\mathcal{H}_t)\\,dt + R(t, Z_t, S_t)\\,dt,

written in *normalized units* ``Z`` (order one), and observed as ``X = loc + scale * Z``
so that different systems live on wildly different scales while the numerics stay well
conditioned.  The state has ``D = M + N`` dimensions: ``M`` feature series first, then
``N`` target series.  The curriculum of seed 000, Table 1, adds one mechanism per level:

====== ===================================================================
level  mechanism added (on top of all lower levels)
====== ===================================================================
0      drift: constant trend, mean reversion (OU), exponential growth/decay
1      diffusion (additive, multiplicative/GBM-like, square-root), bounded
       nonlinear coupled drift ``A tanh(Z - c)``, sinusoidal forcing
2      block correlations within features and within targets
3      cross-block correlation between features and targets
4      full global correlation over all ``M + N`` dimensions
5      compound Poisson jumps (independent or common arrivals, Merton-type
       relative jumps for multiplicative dimensions)
6      two-state regime switching, telegraph (constant rates)
7      regime switching with logistic, state-dependent rates (Cox process)
8      regime switching with exponential-hazard, state-dependent rates
9      Volterra memory: ``gain * int K(t - s) dZ_s`` with a power-law kernel
       approximated by a sum of exponentials (a finite, branchable state)
====== ===================================================================

The parameter ranges are in ``docs/datasets/sde_curriculum.md``.  Sampling is done in
numpy (vectorized over systems) from one :class:`numpy.random.Generator`; the result is a
:class:`SDESystems` of torch tensors with a leading system axis, which the simulator
consumes directly.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from jointdist.base import check_random_state

__all__ = [
    "CORR_BLOCK",
    "CORR_CROSS",
    "CORR_GLOBAL",
    "CORR_NONE",
    "DIFF_ADDITIVE",
    "DIFF_MULTIPLICATIVE",
    "DIFF_SQRT",
    "LEVEL_DESCRIPTIONS",
    "MAX_LEVEL",
    "N_MEMORY_TERMS",
    "REGIME_HAZARD",
    "REGIME_LOGISTIC",
    "REGIME_NONE",
    "REGIME_TELEGRAPH",
    "SDESystems",
    "sample_systems",
]

#: Highest curriculum level (levels run from 0 to 9, seed 000 Table 1).
MAX_LEVEL = 9

#: One line per curriculum level (seed 000, Table 1).
LEVEL_DESCRIPTIONS = {
    0: "drift and deterministic trends",
    1: "diffusion, nonlinear drift, sinusoidal forcing",
    2: "block correlations (within features, within targets)",
    3: "cross-block correlation (features x targets)",
    4: "full global correlation",
    5: "compound Poisson jumps",
    6: "regime switching: telegraph",
    7: "regime switching: logistic (state-dependent)",
    8: "regime switching: exponential hazard",
    9: "Volterra memory",
}

# Diffusion types Sigma(Z) = sigma * f(Z).
DIFF_ADDITIVE, DIFF_MULTIPLICATIVE, DIFF_SQRT = 0, 1, 2
# Correlation structures of dW.
CORR_NONE, CORR_BLOCK, CORR_CROSS, CORR_GLOBAL = 0, 1, 2, 3
# Regime-switching families.
REGIME_NONE, REGIME_TELEGRAPH, REGIME_LOGISTIC, REGIME_HAZARD = 0, 1, 2, 3
#: Number of exponentials in the sum-of-exponentials Volterra kernel (level 9).
N_MEMORY_TERMS = 6

#: Probability that a mechanism stays switched on at levels above the one introducing it.
_P_KEEP = 0.75
#: Probability of the optional level-1 shape terms (nonlinear drift, sinusoid).
_P_SHAPE = 0.5
#: Cap of the state-dependent switching rates (levels 7-8), per unit time.
REGIME_RATE_CAP = 50.0


@dataclass
class SDESystems:
    """Parameters of ``S`` SDE systems with ``D = n_features + n_targets_max`` dimensions.

    All tensor fields have a leading system axis.  Dimensions ``[0, n_features)`` are the
    features, the rest the targets; ``dim_mask`` switches off unused target dimensions of
    systems with fewer targets (they stay at zero and are uncoupled from the rest).
    A mechanism that is off has zero coefficients, so one simulator handles any mix of
    levels.  Normalized units ``Z`` are observed as ``X = loc + scale * Z``.

    Attributes
    ----------
    n_features : int
        ``M``, the number of feature dimensions (shared by all systems).
    levels : (S,) long
        Curriculum level of each system.
    n_targets : (S,) long
        ``N`` of each system (``<= D - n_features``).
    dim_mask : (S, D) bool
        Active dimensions.
    z0 : (S, D)
        Initial state in normalized units.
    loc, scale : (S, D)
        Affine map to observed units, ``X = loc + scale * Z``.
    mu, beta : (S, D)
        Linear drift ``mu + beta * Z`` (trend: ``beta = 0``; OU: ``mu = kappa theta,
        beta = -kappa``; exponential growth: ``mu = 0``).
    nl_matrix : (S, D, D), nl_center : (S, D)
        Nonlinear drift ``g(Z) = nl_matrix @ tanh(Z - nl_center)`` (bounded).
    sin_amp, sin_freq, sin_phase : (S, D)
        Sinusoidal forcing ``amp * sin(2 pi freq t + phase)``.
    diff_type : (S, D) long, sigma : (S, D)
        Diffusion ``sigma * f(Z)``, ``f = 1, |Z|, sqrt|Z|`` for additive, multiplicative
        and square-root dimensions.
    corr_type : (S,) long, corr : (S, D, D), corr_chol : (S, D, D)
        Correlation of ``dW`` (always a valid correlation matrix) and its Cholesky factor.
    jump_rate, jump_mean, jump_std : (S, D)
        Compound Poisson jumps: intensity per unit time and normal jump sizes (relative,
        ``Z -> Z exp(J)``, for multiplicative dimensions).
    jump_common : (S,) bool, jump_lead : (S,) long
        Common arrivals: every jumping dimension uses the arrivals of ``jump_lead``.
    regime_type : (S,) long
        ``REGIME_NONE``, ``REGIME_TELEGRAPH``, ``REGIME_LOGISTIC`` or ``REGIME_HAZARD``.
    regime_q01, regime_q10 : (S,)
        Base switching rates 0 -> 1 and 1 -> 0 per unit time.
    regime_weights : (S, D), regime_center, regime_gain : (S,)
        Driver ``u = regime_weights . Z`` of the state-dependent rates (levels 7-8).
    regime_drift, regime_vol : (S, D)
        Regime 1 adds ``regime_drift`` to the drift and multiplies the diffusion by
        ``regime_vol``.
    regime_s0 : (S,)
        Initial regime (0 or 1).
    mem_gain : (S, D), mem_rates, mem_weights : (S, N_MEMORY_TERMS)
        Volterra memory ``M_i = mem_gain_i sum_j w_j int exp(-rate_j (t - s)) dZ_i(s)``;
        the kernel has unit mass, ``sum_j w_j / rate_j = 1``.
    """

    n_features: int
    levels: torch.Tensor
    n_targets: torch.Tensor
    dim_mask: torch.Tensor
    z0: torch.Tensor
    loc: torch.Tensor
    scale: torch.Tensor
    mu: torch.Tensor
    beta: torch.Tensor
    nl_matrix: torch.Tensor
    nl_center: torch.Tensor
    sin_amp: torch.Tensor
    sin_freq: torch.Tensor
    sin_phase: torch.Tensor
    diff_type: torch.Tensor
    sigma: torch.Tensor
    corr_type: torch.Tensor
    corr: torch.Tensor
    corr_chol: torch.Tensor
    jump_rate: torch.Tensor
    jump_mean: torch.Tensor
    jump_std: torch.Tensor
    jump_common: torch.Tensor
    jump_lead: torch.Tensor
    regime_type: torch.Tensor
    regime_q01: torch.Tensor
    regime_q10: torch.Tensor
    regime_weights: torch.Tensor
    regime_center: torch.Tensor
    regime_gain: torch.Tensor
    regime_drift: torch.Tensor
    regime_vol: torch.Tensor
    regime_s0: torch.Tensor
    mem_gain: torch.Tensor
    mem_rates: torch.Tensor
    mem_weights: torch.Tensor

    # ------------------------------------------------------------------ basics
    @property
    def n_systems(self) -> int:
        return int(self.z0.shape[0])

    @property
    def n_dims(self) -> int:
        return int(self.z0.shape[1])

    @property
    def device(self) -> torch.device:
        return self.z0.device

    @property
    def dtype(self) -> torch.dtype:
        return self.z0.dtype

    def __repr__(self) -> str:
        levels = sorted(set(self.levels.tolist()))
        return (f"SDESystems(n_systems={self.n_systems}, n_dims={self.n_dims}, "
                f"n_features={self.n_features}, levels={levels}, dtype={self.dtype}, "
                f"device={self.device})")

    def _tensor_fields(self):
        return [f.name for f in dataclasses.fields(self) if f.name != "n_features"]

    def to(self, device=None, dtype=None) -> SDESystems:
        """Copy to a device; floating fields are cast to ``dtype`` when given."""
        out = {}
        for name in self._tensor_fields():
            value = getattr(self, name)
            if dtype is not None and value.is_floating_point():
                value = value.to(device=device, dtype=dtype)
            else:
                value = value.to(device=device)
            out[name] = value
        return SDESystems(n_features=self.n_features, **out)

    def index(self, idx) -> SDESystems:
        """The systems selected by ``idx`` (an index tensor, array or slice)."""
        if not isinstance(idx, slice):
            idx = torch.as_tensor(idx, dtype=torch.long, device=self.device)
        return SDESystems(n_features=self.n_features,
                          **{n: getattr(self, n)[idx] for n in self._tensor_fields()})

    def replace_(self, idx, other: SDESystems) -> SDESystems:
        """Overwrite the systems at ``idx`` with ``other`` (in place); returns ``self``."""
        idx = torch.as_tensor(idx, dtype=torch.long, device=self.device)
        for name in self._tensor_fields():
            getattr(self, name)[idx] = getattr(other, name).to(getattr(self, name))
        return self

    def to_numpy(self) -> dict[str, Any]:
        """All parameters as numpy arrays (leading system axis), for inspection."""
        out: dict[str, Any] = {"n_features": self.n_features}
        for name in self._tensor_fields():
            out[name] = getattr(self, name).detach().cpu().numpy()
        return out

    @classmethod
    def zeros(cls, n_systems: int, n_dims: int, *, n_features: int = 0,
              dtype=torch.float64, device="cpu") -> SDESystems:
        """Systems with every mechanism switched off: ``dZ = 0``, ``Z0 = 0``.

        A starting point to build systems by hand (e.g. an OU or a GBM system for
        closed-form checks): set the fields you need, the rest stays inert.
        """
        S, D = int(n_systems), int(n_dims)
        f = dict(dtype=dtype, device=device)
        lng = dict(dtype=torch.long, device=device)
        eye = torch.eye(D, **f).expand(S, D, D).clone()
        rates, weights = _memory_kernel(np.full(S, 0.3))
        return cls(
            n_features=int(n_features),
            levels=torch.zeros(S, **lng),
            n_targets=torch.full((S,), D - int(n_features), **lng),
            dim_mask=torch.ones(S, D, dtype=torch.bool, device=device),
            z0=torch.zeros(S, D, **f), loc=torch.zeros(S, D, **f),
            scale=torch.ones(S, D, **f), mu=torch.zeros(S, D, **f),
            beta=torch.zeros(S, D, **f), nl_matrix=torch.zeros(S, D, D, **f),
            nl_center=torch.zeros(S, D, **f), sin_amp=torch.zeros(S, D, **f),
            sin_freq=torch.zeros(S, D, **f), sin_phase=torch.zeros(S, D, **f),
            diff_type=torch.zeros(S, D, **lng), sigma=torch.zeros(S, D, **f),
            corr_type=torch.zeros(S, **lng), corr=eye.clone(), corr_chol=eye,
            jump_rate=torch.zeros(S, D, **f), jump_mean=torch.zeros(S, D, **f),
            jump_std=torch.zeros(S, D, **f),
            jump_common=torch.zeros(S, dtype=torch.bool, device=device),
            jump_lead=torch.zeros(S, **lng), regime_type=torch.zeros(S, **lng),
            regime_q01=torch.zeros(S, **f), regime_q10=torch.zeros(S, **f),
            regime_weights=torch.zeros(S, D, **f), regime_center=torch.zeros(S, **f),
            regime_gain=torch.zeros(S, **f), regime_drift=torch.zeros(S, D, **f),
            regime_vol=torch.ones(S, D, **f), regime_s0=torch.zeros(S, **f),
            mem_gain=torch.zeros(S, D, **f),
            mem_rates=torch.as_tensor(rates, **f), mem_weights=torch.as_tensor(weights, **f),
        )


# --------------------------------------------------------------------------------------
# Sampling.
# --------------------------------------------------------------------------------------
def _loguniform(rng, low, high, size):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _memory_kernel(alpha: np.ndarray):
    """Sum-of-exponentials approximation of the power-law kernel ``K(tau) ~ tau^-alpha``.

    ``tau^-alpha = Gamma(alpha)^-1 int_0^inf lam^(alpha - 1) exp(-lam tau) dlam``
    (the representation behind rough-volatility kernels, Gatheral et al. 2018),
    discretized on a geometric grid of rates; weights are normalized to unit kernel mass
    ``int K = sum_j w_j / rate_j = 1`` so that ``mem_gain`` is the feedback gain.
    Returns ``rates, weights`` of shape ``(S, N_MEMORY_TERMS)``.
    """
    rates = np.geomspace(0.5, 200.0, N_MEMORY_TERMS)  # per unit time
    du = np.log(rates[1] / rates[0])
    w = rates[None, :] ** alpha[:, None] * du  # lam^(alpha-1) dlam = lam^alpha du
    w = w / (w / rates[None, :]).sum(axis=1, keepdims=True)
    return np.broadcast_to(rates, w.shape).copy(), w


def _check_level(level) -> int:
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, (numbers.Integral,
                                                                      np.integer)):
        raise ValueError(f"level must be an integer in 0..{MAX_LEVEL}; got {level!r}.")
    if not 0 <= int(level) <= MAX_LEVEL:
        raise ValueError(f"level must be in 0..{MAX_LEVEL}; got {level}.")
    return int(level)


def _random_correlation(rng, corr_type, n_features, dim_mask):
    """Valid correlation matrices from random factor loadings (vectorized over systems).

    ``C = normalize(L L^T + diag(psi))`` is positive definite for any loadings ``L`` and
    ``psi > 0``; the structure of ``L`` decides the type: block-diagonal loadings give
    block correlations (features and targets uncorrelated), one extra shared factor
    gives cross-block correlation, dense loadings give a full global correlation.
    """
    S, D = dim_mask.shape
    M = n_features
    k_block = 3
    K = 2 * k_block + 1 + D
    L = np.zeros((S, D, K))
    strength = rng.uniform(0.5, 2.0, (S, 1, 1))
    # block factors: features use columns [0, k_block), targets [k_block, 2 k_block)
    kf = rng.integers(1, k_block + 1, S)
    ky = rng.integers(1, k_block + 1, S)
    cols = np.arange(k_block)
    Lb = rng.standard_normal((S, D, k_block))
    L[:, :M, :k_block] = Lb[:, :M] * (cols[None, None, :] < kf[:, None, None])
    L[:, M:, k_block:2 * k_block] = Lb[:, M:] * (cols[None, None, :] < ky[:, None, None])
    # cross-block factor loading on both blocks
    cross = rng.standard_normal((S, D)) * rng.uniform(0.5, 1.5, (S, 1))
    L[:, :, 2 * k_block] = np.where(corr_type[:, None] == CORR_CROSS, cross, 0.0)
    # dense global factors
    kg = rng.integers(1, D + 1, S)
    Lg = rng.standard_normal((S, D, D)) * (np.arange(D)[None, None, :] < kg[:, None, None])
    is_global = corr_type == CORR_GLOBAL
    L[is_global, :, :] = 0.0
    L[is_global, :, 2 * k_block + 1:] = Lg[is_global]
    L = L * strength
    L = L * dim_mask[:, :, None]  # inactive dimensions stay uncorrelated
    L[corr_type == CORR_NONE] = 0.0
    psi = rng.uniform(0.2, 1.0, (S, D))
    cov = L @ np.swapaxes(L, 1, 2) + psi[:, :, None] * np.eye(D)[None]
    d = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    corr = cov / d[:, :, None] / d[:, None, :]
    corr = 0.5 * (corr + np.swapaxes(corr, 1, 2))
    idx = np.arange(D)
    corr[:, idx, idx] = 1.0
    return corr


def sample_systems(levels, n_targets, n_features: int = 0, random_state=None, *,
                   n_dims: int | None = None, scale_range=(1e-2, 1e3)) -> SDESystems:
    """Sample random SDE systems of the JointFM curriculum (seed 000, Table 1).

    Each level adds its mechanism to all lower ones.  At its own level a mechanism is
    always on; at higher levels it stays on with probability 0.75 (jumps, memory,
    correlation), so a level-L batch mixes the mechanisms of levels ``<= L``.  Regimes
    are on at every level 6-8 (the level's own family with probability 1/2, the older
    families share the rest) and with probability 0.75 at level 9 (uniform family).
    The level-1 shape terms (nonlinear drift, sinusoid) are each on with probability
    0.5; diffusion is always on from level 1.

    Parameters
    ----------
    levels : int or array-like of int of shape (S,)
        Curriculum level(s) in 0..9.  An int with ``n_targets`` an array broadcasts.
    n_targets : int or array-like of int of shape (S,)
        Number of target series ``N`` of each system (``>= 1``).
    n_features : int, default=0
        Number of feature series ``M`` (shared by all systems).
    random_state : int, numpy Generator or None, default=None
        Source of randomness.
    n_dims : int, optional
        Total dimension ``D``; defaults to ``n_features + max(n_targets)``.  Larger
        values pad every system with inactive dimensions.
    scale_range : (float, float), default=(1e-2, 1e3)
        Range of the log-uniform observation scale ``scale`` in ``X = loc + scale * Z``.

    Returns
    -------
    SDESystems
        On the CPU in float64; use :meth:`SDESystems.to` to move/cast it.
    """
    rng = check_random_state(random_state)
    levels = np.atleast_1d(np.asarray(levels))
    n_targets = np.atleast_1d(np.asarray(n_targets))
    if levels.ndim != 1 or n_targets.ndim != 1:
        raise ValueError("levels and n_targets must be ints or 1-D arrays.")
    S = max(levels.size, n_targets.size)
    if levels.size not in (1, S) or n_targets.size not in (1, S):
        raise ValueError(f"levels ({levels.size}) and n_targets ({n_targets.size}) must "
                         "have the same length or be scalars.")
    levels = np.broadcast_to(levels, (S,)).astype(np.int64)
    n_targets = np.broadcast_to(n_targets, (S,)).astype(np.int64)
    for lv in np.unique(levels):
        _check_level(int(lv))
    if (n_targets < 1).any():
        raise ValueError(f"n_targets must be >= 1; got {n_targets.min()}.")
    if isinstance(n_features, bool) or not isinstance(n_features, (numbers.Integral,
                                                                    np.integer)) \
            or n_features < 0:
        raise ValueError(f"n_features must be a non-negative integer; got {n_features!r}.")
    M = int(n_features)
    D = M + int(n_targets.max()) if n_dims is None else int(n_dims)
    if D < M + n_targets.max():
        raise ValueError(f"n_dims={D} is smaller than n_features + max(n_targets).")
    lo, hi = scale_range
    if not (0 < lo <= hi):
        raise ValueError(f"scale_range must satisfy 0 < low <= high; got {scale_range}.")

    dims = np.arange(D)[None, :]
    dim_mask = (dims < M) | ((dims >= M) & (dims < M + n_targets[:, None]))  # (S, D)
    size = (S, D)

    def keep(intro):
        """(S,) on at its own level, with probability _P_KEEP above it."""
        lv = levels
        return (lv == intro) | ((lv > intro) & (rng.random(S) < _P_KEEP))

    # ---- level 1: diffusion type first (it decides the sign of the state) -----------
    has_diff = levels >= 1
    diff_type = rng.choice(3, size=size, p=[0.5, 0.3, 0.2])
    diff_type = np.where(has_diff[:, None], diff_type, DIFF_ADDITIVE)
    positive = diff_type != DIFF_ADDITIVE
    sigma = np.select([diff_type == DIFF_ADDITIVE, diff_type == DIFF_MULTIPLICATIVE],
                      [_loguniform(rng, 0.2, 1.5, size), _loguniform(rng, 0.1, 0.6, size)],
                      _loguniform(rng, 0.2, 1.0, size))
    sigma = sigma * has_diff[:, None]

    # ---- level 0: drift --------------------------------------------------------------
    z0 = np.where(positive, _loguniform(rng, 0.5, 2.0, size), rng.standard_normal(size))
    family = rng.choice(3, size=size, p=[0.3, 0.5, 0.2])  # trend, OU, exponential
    kappa = _loguniform(rng, 0.5, 10.0, size)
    theta = np.where(positive, _loguniform(rng, 0.5, 2.0, size), rng.standard_normal(size))
    trend = rng.uniform(-1.0, 1.0, size)
    growth = rng.uniform(-0.5, 0.5, size)
    mu = np.select([family == 0, family == 1], [trend, kappa * theta], 0.0)
    beta = np.select([family == 0, family == 1], [0.0, -kappa], growth)

    # ---- level 1: nonlinear drift and sinusoidal forcing -----------------------------
    has_nl = has_diff & (rng.random(S) < _P_SHAPE)
    A = rng.standard_normal((S, D, D)) / np.sqrt(D) * (rng.random((S, D, D)) < 0.3)
    A[:, np.arange(D), np.arange(D)] = rng.uniform(-1.5, 1.5, size)
    A = A * has_nl[:, None, None] * dim_mask[:, :, None] * dim_mask[:, None, :]
    nl_center = rng.standard_normal(size) * 0.5 + np.where(positive, 1.0, 0.0)
    has_sin = has_diff & (rng.random(S) < _P_SHAPE)
    sin_on = has_sin[:, None] & (rng.random(size) < 0.7)
    sin_amp = _loguniform(rng, 0.2, 3.0, size) * sin_on
    sin_freq = rng.uniform(0.5, 8.0, size)
    sin_phase = rng.uniform(0.0, 2 * np.pi, size)

    # ---- levels 2-4: correlation -----------------------------------------------------
    corr_type = np.full(S, CORR_NONE)
    corr_type[levels == 2] = CORR_BLOCK
    corr_type[levels == 3] = CORR_CROSS
    corr_type[levels == 4] = CORR_GLOBAL
    high = levels >= 5
    corr_on = high & (rng.random(S) < _P_KEEP)
    corr_type[corr_on] = rng.integers(CORR_BLOCK, CORR_GLOBAL + 1, int(corr_on.sum()))
    corr = _random_correlation(rng, corr_type, M, dim_mask)
    corr_chol = np.linalg.cholesky(corr)

    # ---- level 5: compound Poisson jumps ---------------------------------------------
    has_jump = keep(5)
    jump_on = has_jump[:, None] & (rng.random(size) < 0.7) & dim_mask
    jump_common = has_jump & (rng.random(S) < 0.3)
    common_rate = _loguniform(rng, 1.0, 20.0, S)
    jump_rate = np.where(jump_common[:, None], common_rate[:, None],
                         _loguniform(rng, 1.0, 20.0, size)) * jump_on
    jump_lead = np.argmax(jump_rate > 0, axis=1)
    jump_mean = rng.uniform(-0.3, 0.3, size)
    jump_std = _loguniform(rng, 0.05, 0.6, size)
    # relative (Merton) jumps of multiplicative dimensions are log-sizes: keep them small
    # (a mean log-jump m at rate lam is a growth rate m lam: |m| <= 0.05 bounds it by 1)
    jump_mean = np.where(diff_type == DIFF_MULTIPLICATIVE, jump_mean / 6.0, jump_mean)
    jump_std = np.where(diff_type == DIFF_MULTIPLICATIVE, 0.5 * jump_std, jump_std)

    # ---- levels 6-8: regime switching ------------------------------------------------
    # family: the level's own with probability 1/2, the older ones share the rest
    regime_type = np.full(S, REGIME_NONE)
    family_p = {6: [1.0], 7: [0.5, 0.5], 8: [0.25, 0.25, 0.5]}
    for lv, p_fam in family_p.items():
        sel = levels == lv
        regime_type[sel] = REGIME_TELEGRAPH + rng.choice(len(p_fam), int(sel.sum()), p=p_fam)
    sel9 = (levels >= 9) & (rng.random(S) < _P_KEEP)
    regime_type[sel9] = rng.integers(REGIME_TELEGRAPH, REGIME_HAZARD + 1, int(sel9.sum()))
    has_regime = regime_type != REGIME_NONE
    q01 = _loguniform(rng, 0.5, 4.0, S) * has_regime
    q10 = _loguniform(rng, 0.5, 4.0, S) * has_regime
    w = rng.standard_normal(size) * dim_mask
    w = w / np.maximum(np.abs(w).sum(axis=1, keepdims=True), 1e-12)
    regime_weights = w * (regime_type[:, None] >= REGIME_LOGISTIC)
    regime_center = (regime_weights * z0).sum(axis=1) + 0.3 * rng.standard_normal(S)
    regime_gain = _loguniform(rng, 1.0, 5.0, S) * (regime_type >= REGIME_LOGISTIC)
    regime_drift = rng.standard_normal(size) * _loguniform(rng, 0.3, 2.0, (S, 1))
    regime_drift = regime_drift * has_regime[:, None] * dim_mask
    regime_vol = np.where(has_regime[:, None], _loguniform(rng, 1.0, 3.0, size), 1.0)
    p1 = np.divide(q01, q01 + q10, out=np.zeros(S), where=has_regime)
    regime_s0 = (rng.random(S) < p1).astype(np.float64)

    # ---- level 9: Volterra memory ----------------------------------------------------
    has_mem = keep(9)
    mem_on = has_mem[:, None] & (rng.random(size) < 0.7) & dim_mask
    mem_gain = rng.uniform(-0.8, 0.8, size) * mem_on
    mem_rates, mem_weights = _memory_kernel(rng.uniform(0.1, 0.6, S))

    # ---- observation map X = loc + scale * Z -----------------------------------------
    scale = _loguniform(rng, lo, hi, size)
    loc = np.where(positive, 0.0, rng.standard_normal(size) * 3.0) * scale

    # inactive dimensions: frozen at zero
    inactive = ~dim_mask
    for arr in (z0, mu, beta, sigma, sin_amp, nl_center, jump_rate):
        arr[inactive] = 0.0
    loc[inactive] = 0.0
    scale[inactive] = 1.0

    def t(x, dtype=torch.float64):
        return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype)

    lng = torch.long
    return SDESystems(
        n_features=M, levels=t(levels, lng), n_targets=t(n_targets, lng),
        dim_mask=t(dim_mask, torch.bool), z0=t(z0), loc=t(loc), scale=t(scale),
        mu=t(mu), beta=t(beta), nl_matrix=t(A), nl_center=t(nl_center),
        sin_amp=t(sin_amp), sin_freq=t(sin_freq), sin_phase=t(sin_phase),
        diff_type=t(diff_type, lng), sigma=t(sigma), corr_type=t(corr_type, lng),
        corr=t(corr), corr_chol=t(corr_chol), jump_rate=t(jump_rate),
        jump_mean=t(jump_mean), jump_std=t(jump_std), jump_common=t(jump_common, torch.bool),
        jump_lead=t(jump_lead, lng), regime_type=t(regime_type, lng),
        regime_q01=t(q01), regime_q10=t(q10), regime_weights=t(regime_weights),
        regime_center=t(regime_center), regime_gain=t(regime_gain),
        regime_drift=t(regime_drift), regime_vol=t(regime_vol), regime_s0=t(regime_s0),
        mem_gain=t(mem_gain), mem_rates=t(mem_rates), mem_weights=t(mem_weights),
    )

