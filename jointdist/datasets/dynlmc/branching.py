"""Histories with branched futures for KernelSynth, LMCSynth and DynLMC systems.

JointFM is pretrained on systems given as one history of ``T`` steps and ``F`` futures of
``H`` steps drawn from the *conditional law of the continuation given the simulator's
state at the end of the history*.  :func:`simulate_dynlmc_branches` does this for the
three generators of seed 001 (KernelSynth, LMCSynth = Eq. (1), DynLMC = Eq. (2)-(3) and
Algorithm 1), with the library's default / paper parameter ranges
(:func:`~jointdist.datasets.dynlmc.make_lmc`, :func:`~jointdist.datasets.dynlmc.make_dynlmc`,
:func:`~jointdist.datasets.dynlmc.load_dynlmc`).

The simulator's state
---------------------
A system is drawn on ``T + H`` steps (kernel periods are counted in steps of that
grid, as :func:`~jointdist.datasets.dynlmc.make_dynlmc` ``(length=T + H)`` does).
Its randomness is

* the latent GP paths ``l_j`` (Algorithm 1, lines 2-4), on the grid extended by
  ``tau_max`` steps on both sides for the lags;
* with DynLMC, the AR(1) part of the logits (Eq. (3), line 7) and the sticky Markov
  regime path (lines 9-10).

Channel ``i`` at time ``t`` reads ``l_j(t - tau_ij)``, so the history (``t < T``) has
used latent ``j`` up to time ``c_j = T - 1 - min_i tau_ij``, which may lie beyond
``T - 1`` when some lag is negative.  The state at the end of the history is: every
``l_j(s)`` with ``s <= c_j`` (these values stay fixed in every future, in particular a
channel's lagged latent values that are already in the past), the AR(1) logits at
``T - 1`` and the regime ``s_{T-1}``.  Given that state, the futures draw

* each latent's values beyond ``c_j`` from its Gaussian conditional law given
  its own past (latents are independent, so this is the joint conditional law);
* each future's AR(1) logits from ``A(T - 1)`` and its regime path from ``s_{T-1}``
  with the chain's transition law, independently across futures.

Exact GP conditioning via the joint Cholesky factor
---------------------------------------------------
The conditional law of the future block ``f`` given the past block ``p`` is
``N(K_fp K_pp^{-1} x_p, K_ff - K_fp K_pp^{-1} K_pf)``.  KernelSynth kernels (sums and
products of periodic, RBF and constant kernels) make ``K_pp`` numerically singular,
so forming ``K_pp^{-1}`` is ill-posed.  Instead the whole grid is factorised once,
``K + d I = R R^T`` with a lower-triangular ``R`` (the jittered Cholesky of
:mod:`~jointdist.datasets.dynlmc.kernelsynth`: ``d`` starts at ``1e-12`` times the mean
variance and grows tenfold until the factorisation succeeds).  With ``x = R z``,
``z ~ N(0, I)``, the past is ``x_p = R_pp z_p`` and the future is
``x_f = R_fp z_p + R_ff z_f``, with ``z_f`` independent of ``z_p``.  So drawing
``z_p`` once (the history) and ``F`` independent ``z_f`` gives futures distributed
exactly as ``x_f | x_p`` under ``N(0, K + d I)``, the law the generator samples from
(``R_fp R_pp^{-1}`` is the regression ``K_fp K_pp^{-1}`` and ``R_ff R_ff^T`` the Schur
complement); nothing is inverted, and each latent costs one Cholesky factorisation
of ``T + H + 2 tau_max`` points (about 10 ms at 570 points on one core) plus products
with a noise block of ``H + tau_max + min_i tau_ij`` rows and ``F`` columns.  The jitter
``d`` is white noise of relative variance ``1e-12`` for every one of 512 latents of 60
random systems (N = 10, T + H = 567, default bank); it is reported per latent in
``info.jitters``.  Should ``1e-6`` not suffice it is increased further, up to ``1e-2``
(the draws are then exact for ``K + d I``, a slightly noisier kernel).
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np
import scipy.linalg
import scipy.signal
from sklearn.gaussian_process.kernels import Kernel
from sklearn.utils import Bunch

from jointdist.base import check_positive_int, check_random_state

from ._sampling import (
    check_range,
    draw_float,
    draw_int,
    generate_parallel,
    seed_sequence,
    single_threaded_blas,
)
from .dynlmc import (
    _DYNLMC_DEFAULTS,
    DYNLMC_MODES,
    PAPER_VARIANTS,
    _dynlmc_config,
    _mix,
    _softmax,
    ar1_paths,
    sticky_markov_chain,
)
from .kernelsynth import (
    _FIRST_JITTER,
    _check_bank,
    _check_grid,
    _structured_kernel,
    random_kernel,
    time_grid,
)
from .lmc import _draw_n_latents, _latent_config

__all__ = ["BRANCHING_KINDS", "simulate_dynlmc_branches", "branch_gp"]

#: Generators of :func:`simulate_dynlmc_branches`: "kernelsynth" (independent channels),
#: "lmc" (static LMCSynth), "dynlmc" (a DynLMC mode drawn uniformly per system) and the
#: four DynLMC modes themselves.
BRANCHING_KINDS = ("kernelsynth", "lmc", "dynlmc", "drift", "lag", "regime", "combined")

#: Largest relative jitter tried before giving up on a latent's Cholesky factorisation.
_MAX_BRANCH_JITTER = 1e-2

#: Parameters of the generators that ``generator_params`` may override.
_LATENT_KEYS = ("weibull_shape", "weibull_scale", "min_latents")
_DYNLMC_KEYS = ("rho", "sigma", "n_regimes", "stickiness", "regime_scale", "eta", "tau_max")


# --------------------------------------------------------------------------------------
# GP branching.
# --------------------------------------------------------------------------------------
def _joint_cholesky(K: np.ndarray) -> tuple[np.ndarray, float]:
    """Lower Cholesky factor of ``K + d I`` and the relative jitter ``d`` it needed."""
    n = K.shape[0]
    scale = max(float(np.mean(np.diag(K))), np.finfo(float).tiny)
    diag = np.arange(n)
    jitter = _FIRST_JITTER
    while jitter <= _MAX_BRANCH_JITTER * (1 + 1e-9):
        Kj = K.copy()
        Kj[diag, diag] += jitter * scale
        try:
            return scipy.linalg.cholesky(Kj, lower=True, check_finite=False), jitter
        except np.linalg.LinAlgError:
            jitter *= 10.0
    raise np.linalg.LinAlgError(f"Cholesky failed with a relative jitter of "
                                f"{_MAX_BRANCH_JITTER:g}.")


def _branch_from_factor(R: np.ndarray, n_past: int, z_past: np.ndarray, n_futures: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Past ``R_pp z_p`` (n_past,) and futures ``R_fp z_p + R_ff z_f`` (n_futures, n_f)."""
    x_past = R[:n_past, :n_past] @ z_past
    z_f = rng.standard_normal((R.shape[0] - n_past, n_futures))
    x_fut = (R[n_past:, :n_past] @ z_past)[:, None] + R[n_past:, n_past:] @ z_f
    return x_past, x_fut.T


def branch_gp(kernel: Kernel, x: Any, past: Any, *, n_futures: int = 1,
              random_state: Any = None) -> np.ndarray:
    """Draw GP paths on the rest of a grid given the observed values on its start.

    The exact conditional law ``N(K_fp K_pp^{-1} x_p, K_ff - K_fp K_pp^{-1} K_pf)`` of a
    zero-mean GP, computed stably from the Cholesky factor ``R`` of the (jittered)
    kernel matrix of the whole grid: ``z_p = R_pp^{-1} x_p`` (a triangular solve) and
    ``x_f = R_fp z_p + R_ff z_f`` (see the module docstring).  This is the building
    block of :func:`simulate_dynlmc_branches`, which draws ``z_p`` itself and so needs
    no solve.

    Parameters
    ----------
    kernel : sklearn.gaussian_process.kernels.Kernel
        Covariance kernel of the GP.
    x : array-like of shape (n_points,)
        Regular, strictly increasing grid (e.g.
        :func:`~jointdist.datasets.dynlmc.time_grid`).
    past : array-like of shape (n_past,)
        Observed values at ``x[:n_past]``, ``1 <= n_past < n_points``.
    n_futures : int, default=1
        Number of independent continuations.
    random_state : int, numpy Generator or None, default=None
        Source of randomness.

    Returns
    -------
    ndarray of shape (n_futures, n_points - n_past)
        The continuations at ``x[n_past:]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process.kernels import Matern
    >>> from jointdist.datasets.dynlmc import branch_gp, time_grid
    >>> x = time_grid(20)
    >>> branch_gp(Matern(0.2, nu=0.5), x, np.zeros(15), n_futures=4, random_state=0).shape
    (4, 5)
    """
    if not isinstance(kernel, Kernel):
        raise ValueError(f"kernel must be a scikit-learn Kernel, got {type(kernel).__name__}.")
    x = _check_grid(x)
    past = np.asarray(past, dtype=np.float64)
    if past.ndim != 1 or not 1 <= past.shape[0] < x.shape[0] or not np.all(np.isfinite(past)):
        raise ValueError(f"past must be a finite 1-D array of 1 to {x.shape[0] - 1} values, "
                         f"got shape {past.shape}.")
    n_futures = check_positive_int(n_futures, "n_futures")
    rng = check_random_state(random_state)
    k = _structured_kernel(kernel, x)
    K = scipy.linalg.toeplitz(k) if k.ndim == 1 else k
    with single_threaded_blas():
        R, _ = _joint_cholesky(K)
        P = past.shape[0]
        z_p = scipy.linalg.solve_triangular(R[:P, :P], past, lower=True, check_finite=False)
        return _branch_from_factor(R, P, z_p, n_futures, rng)[1]


def _branched_latents(rng: np.random.Generator, kernels: Sequence[Kernel], x: np.ndarray,
                      n_past: np.ndarray, n_hist: int, start: int, n_futures: int):
    """Latent ``j`` on grid ``x``: its first ``n_past[j]`` values shared by all futures.

    Returns ``past`` (L, n_hist), the shared values on ``x[:n_hist]`` (NaN from
    ``n_past[j]`` on: not part of the state, never read by the history), ``window``
    (n_futures, L, len(x) - start), every future's values on ``x[start:]`` (the shared
    ones included; ``start <= min(n_past)``), and the relative jitters.
    """
    L, n = len(kernels), x.shape[0]
    past = np.full((L, n_hist), np.nan)
    window = np.empty((n_futures, L, n - start))
    jitters = []
    for j, kernel in enumerate(kernels):  # one kernel per latent: nothing to vectorize
        k = _structured_kernel(kernel, x)
        K = scipy.linalg.toeplitz(k) if k.ndim == 1 else k
        R, jitter = _joint_cholesky(K)
        P = int(n_past[j])
        x_past, x_fut = _branch_from_factor(R, P, rng.standard_normal(P), n_futures, rng)
        past[j, :min(P, n_hist)] = x_past[:n_hist]
        window[:, j, :P - start] = x_past[start:]
        window[:, j, P - start:] = x_fut
        jitters.append(jitter)
    return past, window, jitters


# --------------------------------------------------------------------------------------
# Logit branching (DynLMC).
# --------------------------------------------------------------------------------------
def _branch_ar1(last: np.ndarray, n_futures: int, horizon: int, rho: float, sigma: float,
                rng: np.random.Generator) -> np.ndarray:
    """AR(1) continuations ``a(T+h) = rho a(T+h-1) + sigma eps`` from ``a(T-1) = last``.

    ``last`` has shape ``shape``; returns ``(n_futures,) + shape + (horizon,)``.
    """
    e = rng.standard_normal((n_futures,) + last.shape + (horizon,))
    e *= sigma
    e[..., 0] += rho * last
    return scipy.signal.lfilter([1.0], [1.0, -rho], e, axis=-1)


def _branch_regimes(last: int, n_futures: int, horizon: int, n_regimes: int, stickiness: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Sticky-chain continuations (n_futures, horizon) from the state ``s_{T-1} = last``."""
    if n_regimes == 1:
        return np.full((n_futures, horizon), last, dtype=np.intp)
    switch = rng.random((n_futures, horizon)) >= stickiness
    step = rng.integers(1, n_regimes, size=(n_futures, horizon)) * switch
    return (last + np.cumsum(step, axis=1)) % n_regimes


# --------------------------------------------------------------------------------------
# One system.
# --------------------------------------------------------------------------------------
def _lagged(window: np.ndarray, lags: np.ndarray, horizon: int, pad: int) -> np.ndarray:
    """``l_j(T + h - lags[i, j])`` for ``h < horizon``: (F, N, L, horizon).

    ``window[f, j, q]`` holds ``l_j`` at time ``T - pad + q``.
    """
    L = window.shape[1]
    idx = (np.arange(horizon) + pad)[None, None, :] - lags[:, :, None]   # (N, L, H)
    return window[:, np.arange(L)[None, :, None], idx]


def _system(seed: np.random.SeedSequence, n: int, kind: str, spec: dict) -> tuple:
    rng = np.random.default_rng(seed)
    T, H, F = spec["T"], spec["H"], spec["F"]
    mode = kind
    if kind == "dynlmc":
        mode = ("drift", "lag", "regime", "combined")[int(rng.integers(4))]
    cfg = spec["cfgs"][(mode, n)]
    info = Bunch(kind=kind, mode=mode if mode in DYNLMC_MODES else None)
    if mode == "kernelsynth":
        L, pad = n, 0
    else:
        L = _draw_n_latents(rng, cfg)                                   # Alg. 1, l. 1
        pad = draw_int(rng, cfg["tau_max"]) if mode in DYNLMC_MODES else 0
    kernels = [random_kernel(cfg["bank"], cfg["max_kernels"], rng) for _ in range(L)]
    lags = (rng.integers(-pad, pad + 1, size=(n, L)) if pad     # Alg. 1, l. 5
            else np.zeros((n, L), dtype=np.intp))
    # Latent j has been read by the history up to time c_j = T - 1 - min_i tau_ij.
    if mode == "kernelsynth":
        n_past = np.full(L, T)
    else:
        n_past = T + pad - lags.min(axis=0)                        # c_j + pad + 1 values
    # Grid index p is time p - pad; the history reads indices < T + 2 pad, the futures
    # indices >= T (time T - pad on).
    x = time_grid(T + H, pad)
    with single_threaded_blas():                                       # l. 2-4
        past, window, jitters = _branched_latents(rng, kernels, x, n_past, T + 2 * pad, T, F)
    if mode == "kernelsynth":                 # channel i is latent i
        hist = past.T
        fut = np.swapaxes(window, 1, 2)
    elif mode == "lmc":                       # Eq. (1), static Dirichlet weights
        a = draw_float(rng, cfg["concentration"])
        W = rng.dirichlet(np.full(L, a), size=n)                      # (N, L)
        hist = past.T @ W.T
        fut = np.einsum("flh,nl->fhn", window, W, optimize=True)
        info.update(weights=W, concentration=a)
    else:                                     # Eq. (2)-(3), Algorithm 1, l. 5-15
        rho = draw_float(rng, cfg["rho"])
        sigma = draw_float(rng, cfg["sigma"])
        ar = ar1_paths((n, L), T, rho, sigma, rng)                     # l. 7: (N, L, T)
        ar_f = _branch_ar1(ar[..., -1], F, H, rho, sigma, rng)         # (F, N, L, H)
        logits, logits_f = ar, ar_f
        info.update(rho=rho, sigma=sigma, regimes=None)
        if cfg["use_regimes"]:                                         # l. 9-10
            K = draw_int(rng, cfg["n_regimes"])
            kappa = draw_float(rng, cfg["stickiness"])
            scale = draw_float(rng, cfg["regime_scale"])
            eta = draw_float(rng, cfg["eta"])
            regimes = sticky_markov_chain(T, K, kappa, rng)
            regimes_f = _branch_regimes(int(regimes[-1]), F, H, K, kappa, rng)
            means = scale * rng.standard_normal((n, L, K))
            logits = eta * ar + means[:, :, regimes]
            logits_f = eta * ar_f + np.moveaxis(means[:, :, regimes_f], 2, 0)
            info.update(n_regimes=K, stickiness=kappa, regime_scale=scale, eta=eta,
                        regimes=regimes, future_regimes=regimes_f,
                        regime_means=np.moveaxis(means, -1, 0))
        weights = _softmax(logits, axis=1)                             # l. 12: (N, L, T)
        weights_f = _softmax(logits_f, axis=2)                         # (F, N, L, H)
        if spec["return_info"]:
            info.update(logits=logits, future_logits=logits_f)
        hist = _mix(weights, past, lags, pad)                          # l. 13-15
        fut = np.einsum("fnlh,fnlh->fhn", weights_f, _lagged(window, lags, H, pad),
                        optimize=True)
    # Observation: a log-uniform unit per series, and optionally a level offset.
    lo, hi = spec["scale_range"]
    unit = np.exp(rng.uniform(np.log(lo), np.log(hi), size=n))
    offset = spec["offset_scale"] * hist.std(axis=0) * rng.standard_normal(n)
    hist = unit * (hist + offset)
    fut = unit * (fut + offset)
    info.update(n_latents=L, tau_max=pad, lags=lags, kernels=kernels, jitters=jitters,
                scale=unit, offset=unit * offset)
    return hist, fut, info


# --------------------------------------------------------------------------------------
# Public entry point.
# --------------------------------------------------------------------------------------
def _check_n_targets(n_targets: Any) -> np.ndarray:
    if isinstance(n_targets, (numbers.Number, str, bytes)) or n_targets is None:
        raise ValueError(f"n_targets must be a sequence of positive integers (one per "
                         f"system), got {n_targets!r}.")
    arr = np.asarray(list(n_targets), dtype=object)
    if (arr.ndim != 1 or arr.size == 0
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                       and v >= 1 for v in arr)):
        raise ValueError(f"n_targets must be a non-empty sequence of positive integers, "
                         f"got {n_targets!r}.")
    return arr.astype(np.int64)


def _configs(kinds, n_values, T, H, n_latents, max_kernels, kernel_bank, params) -> dict:
    """Validated generator configurations for every (mode, N) that may occur."""
    unknown = set(params) - set(_LATENT_KEYS) - set(_DYNLMC_KEYS) - {"concentration"}
    if unknown:
        raise ValueError(f"Unknown generator_params: {sorted(unknown)}; allowed are "
                         f"{sorted(_LATENT_KEYS + _DYNLMC_KEYS + ('concentration',))}.")
    length = T + H
    bank = _check_bank(kernel_bank, length)
    modes = set()
    for kind in kinds:
        modes |= {"drift", "lag", "regime", "combined"} if kind == "dynlmc" else {kind}
    lat = dict(weibull_shape=params.get("weibull_shape", 2.0),
               weibull_scale=params.get("weibull_scale", 8.0),
               min_latents=params.get("min_latents"))
    cfgs = {}
    for mode in sorted(modes):
        for n in n_values:
            if mode in ("kernelsynth", "lmc"):
                cfg = _latent_config(n, n_latents, lat["weibull_shape"], lat["weibull_scale"],
                                     lat["min_latents"], max_kernels, bank, length)
                cfg["concentration"] = check_range(params.get("concentration", (0.1, 2.0)),
                                                   "concentration", 0.0, np.inf,
                                                   low_open=True, high_open=True)
                cfg["tau_max"] = (0, 0)
            else:
                use_regimes, use_lags = DYNLMC_MODES[mode]
                kw = {k: _DYNLMC_DEFAULTS[k] for k in _DYNLMC_KEYS}
                kw.update(PAPER_VARIANTS.get(mode, {}))
                kw.pop("mode", None)
                kw.update({k: v for k, v in params.items() if k in _DYNLMC_KEYS})
                if not use_lags:
                    kw["tau_max"] = None
                if not use_regimes:
                    kw["n_regimes"] = None
                cfg = _dynlmc_config(n, length, mode, n_latents=n_latents,
                                     max_kernels=max_kernels, kernel_bank=bank, **lat, **kw)
                if cfg["tau_max"][1] > T - 1:
                    raise ValueError(f"tau_max must be below context_length={T}, got "
                                     f"{cfg['tau_max']}.")
            cfgs[(mode, int(n))] = cfg
    return cfgs


def simulate_dynlmc_branches(n_targets: Sequence[int], *, context_length: int = 504,
                             horizon: int = 63, n_futures: int = 64,
                             kinds: Sequence[str] = ("kernelsynth", "lmc", "dynlmc"),
                             kind_weights: Sequence[float] | None = None,
                             scale_range: tuple[float, float] = (1e-2, 1e3),
                             offset_scale: float = 0.0, n_latents: int | None = None,
                             max_kernels: int = 5, kernel_bank: Sequence[Kernel] | None = None,
                             generator_params: dict | None = None, return_info: bool = False,
                             random_state: Any = None, n_jobs: int | None = None):
    """Simulate KernelSynth / LMCSynth / DynLMC systems: one history and branched futures.

    Every system draws its generator's random configuration (kernels from the
    KernelSynth bank, the number of latents, the mixing weights, DynLMC's drift, lags
    and regimes, with the ranges of :func:`~jointdist.datasets.dynlmc.make_dynlmc` and
    the paper's variants of :func:`~jointdist.datasets.dynlmc.load_dynlmc`; seed 001,
    Eq. (1)-(3), Algorithm 1) on ``context_length + horizon`` steps, one history of
    ``context_length`` steps, and ``n_futures`` futures of ``horizon`` steps drawn from
    the exact conditional law of the continuation given the simulator's state at the end
    of the history (module docstring: each latent GP conditioned on its own past via the
    joint Cholesky factor, lagged values already read by the history kept fixed, each
    future's AR(1) logits and regime path branched from their terminal values).

    Parameters
    ----------
    n_targets : sequence of int
        ``N`` of every system (its length is the number of systems ``S``); arrays are
        padded to the largest ``N`` with zeros.
    context_length : int, default=504
        History length ``T`` (at least 2).
    horizon : int, default=63
        Future length ``H``.
    n_futures : int, default=64
        Futures ``F`` per system.
    kinds : sequence of str, default=("kernelsynth", "lmc", "dynlmc")
        Generators to draw from, a subset of ``BRANCHING_KINDS`` of this module:
        "kernelsynth"
        (``N`` independent KernelSynth series), "lmc" (static LMCSynth, Eq. (1)),
        "dynlmc" (DynLMC with its mode drift / lag / regime / combined drawn uniformly per
        system) or one DynLMC mode ("drift", "lag", "regime", "combined").  "drift", "lag"
        and "regime" use the paper's per-variant ranges (``rho ~ U(0.92, 0.99)``,
        ``tau_max ~ U{0..8}``, ``K ~ U{2..6}``), "combined" the defaults of
        :func:`~jointdist.datasets.dynlmc.make_dynlmc`.
    kind_weights : sequence of float or None, default=None
        Probabilities of ``kinds`` (normalised); ``None`` means uniform.  These are the
        mixture weights that :func:`~jointdist.datasets.dynlmc.optimize_mixing` tunes.
    scale_range : (float, float), default=(1e-2, 1e3)
        Range of the log-uniform unit ``u_i`` by which every series is multiplied.
    offset_scale : float, default=0.0
        Level offset: series ``i`` is ``u_i (C_i + b_i)`` with
        ``b_i = offset_scale * sd_i * N(0, 1)`` and ``sd_i`` the standard deviation of
        ``C_i`` over the history.  ``0`` means no offset.  The map is fixed given the
        history, so the futures keep their conditional law.
    n_latents : int or None, default=None
        Fix the number of latents ``L`` of "lmc" and DynLMC systems; ``None`` draws it
        (Algorithm 1, line 1).
    max_kernels : int, default=5
        KernelSynth's ``J``.
    kernel_bank : sequence of Kernel or None, default=None
        Kernel bank; ``None`` is :func:`~jointdist.datasets.dynlmc.kernel_bank`
        ``(context_length + horizon)``.
    generator_params : dict or None, default=None
        Overrides of generator ranges, among ``weibull_shape``, ``weibull_scale``,
        ``min_latents``, ``concentration`` (LMC) and DynLMC's ``rho``, ``sigma``,
        ``n_regimes``, ``stickiness``, ``regime_scale``, ``eta``, ``tau_max``
        (``tau_max`` applies to the lag modes only, ``n_regimes`` to the regime modes).
    return_info : bool, default=False
        Also return a list with one :class:`sklearn.utils.Bunch` per system (``kind``,
        ``mode``, ``n_latents``, ``kernels``, ``lags``, ``tau_max``, ``jitters``,
        ``scale``, ``offset`` and the generator's drawn parameters; for DynLMC also
        ``logits`` (N, L, T), ``future_logits`` (F, N, L, H), ``regimes`` (T,),
        ``future_regimes`` (F, H) and ``regime_means`` (K, N, L), as in
        :func:`~jointdist.datasets.dynlmc.make_dynlmc`).
    random_state : int, numpy Generator or None, default=None
        Seed of one ``numpy.random.SeedSequence``; system ``s`` uses its ``s``-th child,
        so the result does not depend on ``n_jobs``.
    n_jobs : int or None, default=None
        joblib workers over systems (``None``: 1).

    Returns
    -------
    history : ndarray of shape (S, T, N_max)
    futures : ndarray of shape (S, n_futures, H, N_max)
    target_mask : bool ndarray of shape (S, N_max)
        True on the first ``n_targets[s]`` columns of system ``s``.
    kind : int ndarray of shape (S,)
        Index into ``kinds`` of every system.
    info : list of Bunch
        Only with ``return_info=True``.

    Notes
    -----
    Exact: the conditional law of every latent's continuation (for the jittered kernel
    ``K + d I`` the generator samples from, ``d`` reported in ``info.jitters``, at most
    ``1e-6`` times the mean variance on the default bank), the lag bookkeeping and the
    branching of the logits and regimes.  The latents are drawn by Cholesky factors, not
    by the circulant embedding that :func:`~jointdist.datasets.dynlmc.make_dynlmc` uses
    for some stationary kernels; both sample the same Gaussian law.

    Examples
    --------
    >>> from jointdist.datasets.dynlmc import simulate_dynlmc_branches
    >>> hist, fut, mask, kind = simulate_dynlmc_branches(
    ...     [2, 3], context_length=60, horizon=5, n_futures=8, random_state=0)
    >>> hist.shape, fut.shape, mask.sum(1).tolist()
    ((2, 60, 3), (2, 8, 5, 3), [2, 3])
    """
    n_arr = _check_n_targets(n_targets)
    T = check_positive_int(context_length, "context_length", minimum=2)
    H = check_positive_int(horizon, "horizon")
    F = check_positive_int(n_futures, "n_futures")
    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = tuple(kinds)
    if (not kinds or len(set(kinds)) != len(kinds)
            or any(k not in BRANCHING_KINDS for k in kinds)):
        raise ValueError(f"kinds must be a non-empty sequence of distinct names from "
                         f"{BRANCHING_KINDS}, got {kinds!r}.")
    if kind_weights is None:
        p = np.full(len(kinds), 1.0 / len(kinds))
    else:
        p = np.asarray(kind_weights, dtype=np.float64)
        if (p.shape != (len(kinds),) or not np.all(np.isfinite(p)) or (p < 0).any()
                or p.sum() <= 0):
            raise ValueError(f"kind_weights must be {len(kinds)} non-negative finite numbers "
                             f"with a positive sum, got {kind_weights!r}.")
        p = p / p.sum()
    lo, hi = check_range(scale_range, "scale_range", 0.0, np.inf, low_open=True,
                         high_open=True)
    if (not isinstance(offset_scale, numbers.Real) or isinstance(offset_scale, bool)
            or not np.isfinite(offset_scale) or offset_scale < 0):
        raise ValueError(f"offset_scale must be a non-negative finite number, "
                         f"got {offset_scale!r}.")
    if generator_params is None:
        generator_params = {}
    if not isinstance(generator_params, dict):
        raise ValueError(f"generator_params must be a dict or None, got "
                         f"{type(generator_params).__name__}.")
    cfgs = _configs(kinds, sorted(set(n_arr.tolist())), T, H, n_latents, max_kernels,
                    kernel_bank, generator_params)
    spec = dict(T=T, H=H, F=F, cfgs=cfgs, scale_range=(lo, hi),
                offset_scale=float(offset_scale), return_info=bool(return_info))
    ss = seed_sequence(random_state)
    seeds = ss.spawn(n_arr.size)
    which = np.random.default_rng(ss.spawn(1)[0]).choice(len(kinds), size=n_arr.size, p=p)
    out = generate_parallel(_system_star, list(zip(seeds, n_arr.tolist(), which.tolist())),
                            n_jobs, kinds=kinds, spec=spec)
    S, N = n_arr.size, int(n_arr.max())
    history = np.zeros((S, T, N))
    futures = np.zeros((S, F, H, N))
    for s, (h, f, _) in enumerate(out):
        history[s, :, :n_arr[s]] = h
        futures[s, :, :, :n_arr[s]] = f
    mask = np.arange(N)[None, :] < n_arr[:, None]
    if return_info:
        return history, futures, mask, which, [o[2] for o in out]
    return history, futures, mask, which


def _system_star(args, kinds, spec):
    seed, n, k = args
    return _system(seed, n, kinds[k], spec)
