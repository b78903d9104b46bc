"""DynLMC: linear coregionalization with drifting, regime-switching and lagged weights.

Seed 001 (Vapsi, Liu et al., "DynLMC"), Eq. (2)-(3) and Algorithm 1:

.. math::

    C_i(t) = \\sum_{j=1}^{L} \\alpha_{ij}(t)\\, l_j(t - \\tau_{ij}), \\qquad
    \\alpha_{i\\cdot}(t) = \\mathrm{softmax}_j A_{ij}(t),

with ``L`` independent KernelSynth latents ``l_j``, integer lags
``tau_ij ~ U{-tau_max..tau_max}`` and logits

* drift (``r = none``): ``A_ij(t) = rho A_ij(t-1) + eps_ij(t)``, ``eps ~ N(0, sigma^2)``
  (Eq. (3)), started from its stationary law ``N(0, sigma^2 / (1 - rho^2))``;
* regimes (``r = hmm``): ``A_ij(t) = abar^(s_t)_ij + eta * AR1_ij(t)`` with a sticky
  Markov chain ``s_t`` on ``K`` regimes (stay with probability ``kappa``, else move to
  one of the other ``K - 1`` uniformly) and regime mean logits
  ``abar^(k)_ij ~ N(0, regime_scale^2)``.  ``eta = 1`` is Algorithm 1, line 10 exactly;
  ``eta`` plays the role of the intra-regime variability of Sec. 3.2(b), applied to the
  logits so that the weights stay on the simplex.

Latents are drawn on the grid extended by ``tau_max`` steps on both sides, so lagged
values at the window edges are genuine GP values, not padding.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
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
from .kernelsynth import _sample_gp, random_kernel, time_grid
from .lmc import _draw_latents, _draw_n_latents, _latent_config, _lmc_sample

__all__ = ["DYNLMC_MODES", "DYNLMC_VARIANTS", "ar1_paths", "load_dynlmc", "make_dynlmc",
           "sticky_markov_chain", "to_panel"]

#: Mechanisms switched on by each ``mode`` of :func:`make_dynlmc`: (regimes, lags).
DYNLMC_MODES = {"drift": (False, False), "lag": (False, True),
                "regime": (True, False), "combined": (True, True)}

#: The paper's datasets (Sec. 4): per-sample parameter ranges of each primary variant.
PAPER_VARIANTS = {
    "drift": dict(mode="drift", rho=(0.92, 0.99)),
    "lag": dict(mode="lag", tau_max=(0, 8)),
    "regime": dict(mode="regime", n_regimes=(2, 6)),
}
#: Dataset variants of :func:`load_dynlmc`: the paper's four plus the two static sources.
DYNLMC_VARIANTS = ("drift", "lag", "regime", "combined", "lmc", "kernelsynth")


# --------------------------------------------------------------------------------------
# Building blocks (vectorized over channels x latents x time).
# --------------------------------------------------------------------------------------
def ar1_paths(shape: tuple[int, ...], length: int, rho: float, sigma: float,
              rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) paths ``a(t) = rho a(t-1) + sigma eps(t)``: array ``shape + (length,)``.

    ``a(0) ~ N(0, sigma^2 / (1 - rho^2))``, the stationary law (Eq. (3)).
    """
    e = rng.standard_normal(tuple(shape) + (length,))
    e *= sigma
    e[..., 0] /= np.sqrt(1.0 - rho * rho)
    # lfilter solves y[t] = e[t] + rho y[t-1] along time, with y[0] = e[0].
    return scipy.signal.lfilter([1.0], [1.0, -rho], e, axis=-1)


def sticky_markov_chain(length: int, n_regimes: int, stickiness: float,
                        rng: np.random.Generator) -> np.ndarray:
    """Regime path ``s_0..s_{T-1}`` of a sticky chain: stay with probability ``stickiness``,
    else jump to one of the other ``n_regimes - 1`` states uniformly; ``s_0`` is uniform.

    Durations are geometric with mean ``1 / (1 - stickiness)``.
    """
    s0 = int(rng.integers(n_regimes))
    if n_regimes == 1 or length == 1:
        return np.full(length, s0, dtype=np.intp)
    switch = rng.random(length - 1) >= stickiness
    step = rng.integers(1, n_regimes, size=length - 1) * switch  # offsets 1..K-1 at switches
    return (s0 + np.concatenate([[0], np.cumsum(step)])) % n_regimes


def _softmax(logits: np.ndarray, axis: int) -> np.ndarray:
    z = logits - logits.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def _mix(weights: np.ndarray, latents_ext: np.ndarray, lags: np.ndarray, pad: int) -> np.ndarray:
    """Eq. (2): ``C[t, i] = sum_j weights[i, j, t] * l_j(t - lags[i, j])``.

    ``latents_ext[j, p]`` holds ``l_j`` at time ``p - pad``.
    """
    n_latents, n_ext = latents_ext.shape
    length = n_ext - 2 * pad
    if pad == 0:
        return np.einsum("nlt,lt->tn", weights, latents_ext, optimize=True)
    # index of l_j(t - tau_ij) in the padded array: (N, L, T)
    idx = (np.arange(length) + pad)[None, None, :] - lags[:, :, None]
    lagged = latents_ext[np.arange(n_latents)[None, :, None], idx]
    return np.einsum("nlt,nlt->tn", weights, lagged, optimize=True)


# --------------------------------------------------------------------------------------
# One sample.
# --------------------------------------------------------------------------------------
def _dynlmc_config(n_channels, length, mode, *, n_latents, weibull_shape, weibull_scale,
                   min_latents, max_kernels, rho, sigma, n_regimes, stickiness,
                   regime_scale, eta, tau_max, kernel_bank) -> dict:
    if mode not in DYNLMC_MODES:
        raise ValueError(f"mode must be one of {tuple(DYNLMC_MODES)}, got {mode!r}.")
    use_regimes, use_lags = DYNLMC_MODES[mode]
    cfg = _latent_config(n_channels, n_latents, weibull_shape, weibull_scale, min_latents,
                         max_kernels, kernel_bank, length)
    cfg.update(mode=mode, use_regimes=use_regimes, use_lags=use_lags)
    cfg["rho"] = check_range(rho, "rho", -1.0, 1.0, low_open=True, high_open=True)
    cfg["sigma"] = check_range(sigma, "sigma", 0.0, np.inf, high_open=True)
    if use_lags:
        cfg["tau_max"] = check_range((0, 8) if tau_max is None else tau_max, "tau_max", 0,
                                     cfg["length"] - 1, integer=True)
    elif tau_max not in (None, 0):
        raise ValueError(f"mode={mode!r} has no lags; tau_max={tau_max!r} needs mode='lag' "
                         "or 'combined'.")
    else:
        cfg["tau_max"] = (0, 0)
    if use_regimes:
        cfg["n_regimes"] = check_range((2, 6) if n_regimes is None else n_regimes,
                                       "n_regimes", 1, 10**6, integer=True)
        cfg["stickiness"] = check_range(stickiness, "stickiness", 0.0, 1.0)
        cfg["regime_scale"] = check_range(regime_scale, "regime_scale", 0.0, np.inf,
                                          high_open=True)
        cfg["eta"] = check_range(eta, "eta", 0.0, np.inf, high_open=True)
    elif n_regimes is not None:
        raise ValueError(f"mode={mode!r} has no regimes; n_regimes={n_regimes!r} needs "
                         "mode='regime' or 'combined'.")
    return cfg


def _dynlmc_sample(rng: np.random.Generator, cfg: dict, return_params: bool):
    N, T = cfg["n_channels"], cfg["length"]
    L = _draw_n_latents(rng, cfg)                                       # Alg. 1, l. 1
    tau_max = draw_int(rng, cfg["tau_max"])
    latents_ext, kernels, methods = _draw_latents(rng, L, time_grid(T, tau_max), cfg)  # l. 2-4
    lags = rng.integers(-tau_max, tau_max + 1, size=(N, L)) if tau_max else np.zeros((N, L), int)
    rho = draw_float(rng, cfg["rho"])
    sigma = draw_float(rng, cfg["sigma"])
    logits = ar1_paths((N, L), T, rho, sigma, rng)                      # l. 7: (N, L, T)
    regimes = None
    extra: dict[str, Any] = {}
    if cfg["use_regimes"]:                                              # l. 9-10
        K = draw_int(rng, cfg["n_regimes"])
        kappa = draw_float(rng, cfg["stickiness"])
        scale = draw_float(rng, cfg["regime_scale"])
        eta = draw_float(rng, cfg["eta"])
        regimes = sticky_markov_chain(T, K, kappa, rng)
        means = scale * rng.standard_normal((N, L, K))
        logits *= eta
        logits += means[:, :, regimes]
        extra = dict(n_regimes=K, stickiness=kappa, regime_scale=scale, eta=eta,
                     regime_means=np.moveaxis(means, -1, 0))
    weights = _softmax(logits, axis=1)                                  # l. 12
    X = _mix(weights, latents_ext, lags, tau_max)                      # l. 13-15, Eq. (2)
    if not return_params:
        return X
    return X, Bunch(weights=np.moveaxis(weights, -1, 0), lags=lags, regimes=regimes,
                    latents=latents_ext[:, tau_max:tau_max + T].T, kernels=kernels,
                    gp_methods=methods, n_latents=L, tau_max=tau_max, rho=rho, sigma=sigma,
                    mode=cfg["mode"], **extra)


def make_dynlmc(n_channels: int = 160, length: int = 1024, mode: str = "drift", *,
                n_latents: int | None = None, weibull_shape: float = 2.0,
                weibull_scale: float = 8.0, min_latents: int | None = None,
                max_kernels: int = 5,
                rho: float | tuple[float, float] = (0.9, 0.99),
                sigma: float | tuple[float, float] = (0.1, 0.3),
                n_regimes: int | tuple[int, int] | None = None,
                stickiness: float | tuple[float, float] = (0.98, 0.995),
                regime_scale: float | tuple[float, float] = 2.0,
                eta: float | tuple[float, float] = 1.0,
                tau_max: int | tuple[int, int] | None = None,
                kernel_bank: Sequence[Kernel] | None = None,
                return_params: bool = False, random_state: Any = None):
    """Generate one DynLMC multivariate series (seed 001, Algorithm 1).

    Every range-valued parameter accepts a number or a ``(low, high)`` pair from which
    one value per sample is drawn uniformly (integers: uniformly on ``{low..high}``).

    Parameters
    ----------
    n_channels : int, default=160
        Number of observed channels ``N``.
    length : int, default=1024
        Number of time steps ``T``.
    mode : {"drift", "lag", "regime", "combined"}, default="drift"
        Mechanisms switched on: "drift" has AR(1) logits only (``r = none``,
        ``tau_max = 0``); "lag" adds lags; "regime" adds HMM regimes (``r = hmm``);
        "combined" has regimes and lags.  AR(1) logits are part of every mode, as in
        Algorithm 1.
    n_latents : int or None, default=None
        Number of latent GPs ``L``; ``None`` draws it as in :func:`make_lmc`.
    weibull_shape, weibull_scale : float, default=2.0, 8.0
        Weibull ``beta``, ``lambda`` of the draw of ``L`` (not given in the paper; ours).
    min_latents : int or None, default=None
        Lower clip ``m`` of ``L``; ``None`` means ``max(2, n_channels // 20)``.
    max_kernels : int, default=5
        KernelSynth's ``J``.
    rho : float or (float, float), default=(0.9, 0.99)
        AR(1) persistence of the logits (paper: ``rho in (0.9, 0.99)``).
    sigma : float or (float, float), default=(0.1, 0.3)
        AR(1) innovation standard deviation (not given in the paper; ours: logit
        standard deviations between about 0.2 and 2 over the default ``rho`` range).
    n_regimes : int or (int, int) or None, default=None
        Number of regimes ``K`` (modes "regime", "combined"); ``None`` means ``(2, 6)``,
        the paper's range.
    stickiness : float or (float, float), default=(0.98, 0.995)
        Probability ``kappa`` of staying in the current regime per step (ours: mean
        durations of 50 to 200 steps).
    regime_scale : float or (float, float), default=2.0
        Standard deviation of the regime mean logits ``abar^(k)``.
    eta : float or (float, float), default=1.0
        Scale of the AR(1) path added to the regime means (intra-regime variability).
    tau_max : int or (int, int) or None, default=None
        Lag bound (modes "lag", "combined"); ``None`` means ``(0, 8)``, the paper's range.
    kernel_bank : sequence of Kernel, default=None
        KernelSynth bank; ``None`` uses :func:`~jointdist.datasets.dynlmc.kernel_bank`.
    return_params : bool, default=False
        Also return the generating parameters.
    random_state : int, numpy Generator or None, default=None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (length, n_channels)
    params : sklearn.utils.Bunch
        Only with ``return_params=True``: ``weights`` (length, n_channels, n_latents),
        the ``alpha_ij(t)``, summing to 1 over latents; ``lags`` (n_channels, n_latents),
        the ``tau_ij``; ``regimes`` (length,) regime path or None; ``latents``
        (length, n_latents); ``kernels``; ``gp_methods``; and the drawn scalars
        (``n_latents``, ``tau_max``, ``rho``, ``sigma``, and with regimes ``n_regimes``,
        ``stickiness``, ``regime_scale``, ``eta``, ``regime_means`` of shape
        (n_regimes, n_channels, n_latents)).

    Examples
    --------
    >>> from jointdist.datasets.dynlmc import make_dynlmc
    >>> X, p = make_dynlmc(8, 128, mode="combined", return_params=True, random_state=0)
    >>> X.shape, p.weights.shape[:2], p.regimes.shape
    ((128, 8), (128, 8), (128,))
    """
    cfg = _dynlmc_config(n_channels, length, mode, n_latents=n_latents,
                         weibull_shape=weibull_shape, weibull_scale=weibull_scale,
                         min_latents=min_latents, max_kernels=max_kernels, rho=rho,
                         sigma=sigma, n_regimes=n_regimes, stickiness=stickiness,
                         regime_scale=regime_scale, eta=eta, tau_max=tau_max,
                         kernel_bank=kernel_bank)
    return _dynlmc_sample(check_random_state(random_state), cfg, return_params)


# --------------------------------------------------------------------------------------
# Datasets.
# --------------------------------------------------------------------------------------
def _dataset_item(seed: np.random.SeedSequence, cfgs: dict, kind: str, dtype) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cfg = cfgs[kind]
    if kind == "lmc":
        X = _lmc_sample(rng, cfg, False)
    elif kind == "kernelsynth":  # N independent KernelSynth series side by side
        grid = time_grid(cfg["length"])
        with single_threaded_blas():
            X = np.stack([_sample_gp(random_kernel(cfg["bank"], cfg["max_kernels"], rng),
                                     grid, 1, rng)[0][0] for _ in range(cfg["n_channels"])],
                         axis=1)
    else:
        X = _dynlmc_sample(rng, cfg, False)
    return X.astype(dtype, copy=False)


def _dataset_item_star(args, cfgs, dtype):
    seed, kind = args
    return _dataset_item(seed, cfgs, kind, dtype)


def load_dynlmc(variant: str = "drift", n_samples: int = 1500, n_channels: int = 160,
                length: int = 1024, *, random_state: Any = None, n_jobs: int | None = None,
                dtype: Any = np.float32, as_frame: bool = False, **params):
    """Generate one of the DynLMC paper's synthetic datasets (seed 001, Sec. 4).

    Parameters
    ----------
    variant : {"drift", "lag", "regime", "combined", "lmc", "kernelsynth"}, default="drift"
        "drift": ``mode="drift"`` with ``rho ~ U(0.92, 0.99)`` per sample; "lag":
        ``mode="lag"`` with ``tau_max ~ U{0..8}``; "regime": ``mode="regime"`` with
        ``K ~ U{2..6}``; "combined": the three in equal shares (``n_samples // 3`` each,
        the remainder assigned at random), in random order, as the paper's Combined
        dataset.  "lmc" (static LMCSynth) and "kernelsynth" (``n_channels`` independent
        KernelSynth series per sample) are the other two sources of the paper's training
        mix (:class:`~jointdist.datasets.dynlmc.ProgressiveMixingSampler`).
    n_samples : int, default=1500
        Number of samples (the paper uses 1,500).
    n_channels : int, default=160
    length : int, default=1024
    random_state : int, numpy Generator or None, default=None
        Seed of one ``numpy.random.SeedSequence``; sample ``i`` uses its ``i``-th child,
        so the dataset is the same for every ``n_jobs``.
    n_jobs : int or None, default=None
        joblib workers (``None``: 1; ``-1``: all cores).
    dtype : numpy dtype, default=numpy.float32
        Output dtype (the full paper-size dataset is 1 GB in float32).
    as_frame : bool, default=False
        Return a pandas DataFrame in sktime's "pd-multiindex" format instead: a
        (sample, time) MultiIndex and one column per channel.
    **params
        Overrides of :func:`make_dynlmc` (or :func:`make_lmc`) parameters except
        ``mode``, e.g. ``rho=0.95``, applied to every sample (for "combined": to the
        samples of all three variants, so ``tau_max`` or ``n_regimes`` raise there).

    Returns
    -------
    X : ndarray of shape (n_samples, length, n_channels), or DataFrame

    Examples
    --------
    >>> from jointdist.datasets.dynlmc import load_dynlmc
    >>> load_dynlmc("regime", n_samples=2, n_channels=4, length=64, random_state=0).shape
    (2, 64, 4)
    """
    if variant not in DYNLMC_VARIANTS:
        raise ValueError(f"variant must be one of {DYNLMC_VARIANTS}, got {variant!r}.")
    n_samples = check_positive_int(n_samples, "n_samples")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype, got {dtype}.")
    kinds = ["drift", "lag", "regime"] if variant == "combined" else [variant]
    cfgs = {}
    for kind in kinds:
        if kind in ("lmc", "kernelsynth"):
            lmc_keys = {"n_latents", "weibull_shape", "weibull_scale", "min_latents",
                        "max_kernels", "kernel_bank"}
            extra = set(params) - lmc_keys - ({"concentration"} if kind == "lmc" else set())
            if extra:
                raise ValueError(f"Unknown parameters for variant={kind!r}: {sorted(extra)}.")
            kw = {k: params.get(k) for k in ("n_latents", "min_latents", "kernel_bank")}
            cfg = _latent_config(n_channels, kw["n_latents"], params.get("weibull_shape", 2.0),
                                 params.get("weibull_scale", 8.0), kw["min_latents"],
                                 params.get("max_kernels", 5), kw["kernel_bank"], length)
            cfg["concentration"] = check_range(params.get("concentration", (0.1, 2.0)),
                                               "concentration", 0.0, np.inf,
                                               low_open=True, high_open=True)
            cfgs[kind] = cfg
            continue
        kw = dict(_DYNLMC_DEFAULTS)
        kw.update(PAPER_VARIANTS[kind])
        unknown = set(params) - set(_DYNLMC_DEFAULTS)  # the variant fixes the mode
        if unknown:
            raise ValueError(f"Unknown make_dynlmc parameters: {sorted(unknown)}.")
        kw.update(params)
        mode = kw.pop("mode")
        cfgs[kind] = _dynlmc_config(n_channels, length, mode, **kw)
    ss = seed_sequence(random_state)
    seeds = ss.spawn(n_samples)
    if variant == "combined":
        assignment = _combined_assignment(ss.spawn(1)[0], n_samples, kinds)
    else:
        assignment = [variant] * n_samples
    out = generate_parallel(_dataset_item_star, list(zip(seeds, assignment)), n_jobs,
                            cfgs=cfgs, dtype=dtype)
    X = np.stack(out)
    return to_panel(X) if as_frame else X


def _combined_assignment(seed: np.random.SeedSequence, n_samples: int, kinds: list) -> list:
    """Equal shares of ``kinds`` (remainder drawn at random), in a random order."""
    rng = np.random.default_rng(seed)
    k = len(kinds)
    order = np.resize(np.arange(k), n_samples)
    order[k * (n_samples // k):] = rng.integers(0, k, size=n_samples % k)
    return [kinds[j] for j in rng.permutation(order)]


_DYNLMC_DEFAULTS = dict(n_latents=None, weibull_shape=2.0, weibull_scale=8.0,
                        min_latents=None, max_kernels=5, rho=(0.9, 0.99), sigma=(0.1, 0.3),
                        n_regimes=None, stickiness=(0.98, 0.995), regime_scale=2.0,
                        eta=1.0, tau_max=None, kernel_bank=None)


def to_panel(X: np.ndarray, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Array ``(n_samples, length, n_channels)`` to sktime's "pd-multiindex" DataFrame.

    Parameters
    ----------
    X : ndarray of shape (n_samples, length, n_channels)
    columns : sequence of str, default=None
        Channel names; ``None`` gives ``"c0", "c1", ...``.

    Returns
    -------
    DataFrame
        Index: MultiIndex (``sample``, ``time``) of integers; one column per channel.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"X must have shape (n_samples, length, n_channels), got {X.shape}.")
    n, T, N = X.shape
    if columns is None:
        columns = [f"c{i}" for i in range(N)]
    elif len(columns) != N:
        raise ValueError(f"columns must have {N} names, got {len(columns)}.")
    index = pd.MultiIndex.from_product([np.arange(n), np.arange(T)], names=["sample", "time"])
    return pd.DataFrame(X.reshape(n * T, N), index=index, columns=list(columns))
