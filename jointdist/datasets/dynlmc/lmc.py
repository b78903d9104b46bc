"""LMCSynth: static linear model of coregionalization over KernelSynth latents.

TimePFN's generator (Schlagenhauf et al., 2024; seed 001 Eq. (1)): ``L`` independent
latent GPs ``l_j`` drawn with KernelSynth, channel weights ``alpha_i ~ Dirichlet(a 1_L)``
with ``a ~ U(a_min, a_max)``, and ``C_i(t) = sum_j alpha_ij l_j(t)``.  The number of latents
is a Weibull draw clipped to ``[m, N]`` (seed 001, Algorithm 1, line 1).

Unlike a public version of this generator, every latent is drawn from its own stream of
one ``numpy.random.Generator``, so the latents are independent.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np
from sklearn.gaussian_process.kernels import Kernel
from sklearn.utils import Bunch

from jointdist.base import check_positive_int, check_random_state

from ._sampling import check_range, draw_float, single_threaded_blas
from .kernelsynth import (
    _check_bank,
    _check_length,
    _sample_gp,
    random_kernel,
    time_grid,
)

__all__ = ["make_lmc"]


def _latent_config(n_channels, n_latents, weibull_shape, weibull_scale, min_latents,
                   max_kernels, kernel_bank, length) -> dict:
    """Validate the latent-GP arguments shared by :func:`make_lmc` and ``make_dynlmc``."""
    n_channels = check_positive_int(n_channels, "n_channels")
    length = _check_length(length)
    if n_latents is not None:
        n_latents = check_positive_int(n_latents, "n_latents")
    for name, v in (("weibull_shape", weibull_shape), ("weibull_scale", weibull_scale)):
        if (not isinstance(v, numbers.Real) or isinstance(v, bool) or not v > 0
                or not np.isfinite(v)):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}.")
    if min_latents is None:
        min_latents = max(2, n_channels // 20)  # TimePFN's lower clip
    min_latents = check_positive_int(min_latents, "min_latents")
    return dict(n_channels=n_channels, length=length, n_latents=n_latents,
                weibull_shape=float(weibull_shape), weibull_scale=float(weibull_scale),
                min_latents=min_latents,
                max_kernels=check_positive_int(max_kernels, "max_kernels"),
                bank=_check_bank(kernel_bank, length))


def _draw_n_latents(rng: np.random.Generator, cfg: dict) -> int:
    """``L = max(min(round(lambda W + 1), N), m)`` with ``W ~ Weibull(beta)`` (Algorithm 1, l. 1;
    the ``+ 1`` and rounding follow TimePFN's script)."""
    if cfg["n_latents"] is not None:
        return cfg["n_latents"]
    w = float(np.rint(cfg["weibull_scale"] * rng.weibull(cfg["weibull_shape"]) + 1.0))
    return int(max(min(w, cfg["n_channels"]), cfg["min_latents"]))


def _draw_latents(rng: np.random.Generator, n_latents: int, x: np.ndarray, cfg: dict):
    """``n_latents`` independent KernelSynth paths on grid ``x``: (n_latents, len(x))."""
    latents = np.empty((n_latents, x.shape[0]))
    kernels: list[Kernel] = []
    methods: list[str] = []
    with single_threaded_blas():
        for j in range(n_latents):  # one kernel per latent: no shared structure to vectorize
            kernel = random_kernel(cfg["bank"], cfg["max_kernels"], rng)
            path, method = _sample_gp(kernel, x, 1, rng)
            latents[j] = path[0]
            kernels.append(kernel)
            methods.append(method)
    return latents, kernels, methods


def _lmc_sample(rng: np.random.Generator, cfg: dict, return_params: bool):
    n_latents = _draw_n_latents(rng, cfg)
    latents, kernels, methods = _draw_latents(rng, n_latents, time_grid(cfg["length"]), cfg)
    a = draw_float(rng, cfg["concentration"])
    weights = rng.dirichlet(np.full(n_latents, a), size=cfg["n_channels"])  # (N, L)
    X = latents.T @ weights.T  # Eq. (1): C_i(t) = sum_j alpha_ij l_j(t); (T, N)
    if not return_params:
        return X
    return X, Bunch(weights=weights, latents=latents.T, kernels=kernels, gp_methods=methods,
                    n_latents=n_latents, concentration=a)


def make_lmc(n_channels: int, length: int = 1024, *, n_latents: int | None = None,
             weibull_shape: float = 2.0, weibull_scale: float = 8.0,
             min_latents: int | None = None, max_kernels: int = 5,
             concentration: float | tuple[float, float] = (0.1, 2.0),
             kernel_bank: Sequence[Kernel] | None = None, return_params: bool = False,
             random_state: Any = None):
    """Generate one static-LMC multivariate series (TimePFN's LMCSynth).

    Parameters
    ----------
    n_channels : int
        Number of observed channels ``N``.
    length : int, default=1024
        Number of time steps ``T``.
    n_latents : int or None, default=None
        Number of latent GPs ``L``; ``None`` draws it as
        ``max(min(round(weibull_scale * Weibull(weibull_shape) + 1), N), min_latents)``.
    weibull_shape, weibull_scale : float, default=2.0, 8.0
        Weibull shape ``beta`` and scale ``lambda`` of that draw.  TimePFN's script takes
        them as required arguments without published values; these defaults (our choice)
        give a median of 8 latents.
    min_latents : int or None, default=None
        Lower clip ``m``; ``None`` means ``max(2, n_channels // 20)`` as in TimePFN.
    max_kernels : int, default=5
        KernelSynth's ``J``: at most this many bank kernels per latent.
    concentration : float or (float, float), default=(0.1, 2.0)
        Dirichlet concentration ``a`` of the weights, or a range it is drawn from
        uniformly (TimePFN's ``dirichlet_min``, ``dirichlet_max``).
    kernel_bank : sequence of Kernel, default=None
        Kernel bank; ``None`` uses :func:`~jointdist.datasets.dynlmc.kernel_bank`.
    return_params : bool, default=False
        Also return the generating parameters.
    random_state : int, numpy Generator or None, default=None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (length, n_channels)
    params : sklearn.utils.Bunch
        Only with ``return_params=True``: ``weights`` (n_channels, n_latents),
        ``latents`` (length, n_latents), ``kernels``, ``gp_methods``, ``n_latents``,
        ``concentration``.

    Examples
    --------
    >>> from jointdist.datasets.dynlmc import make_lmc
    >>> make_lmc(5, length=64, random_state=0).shape
    (64, 5)
    """
    cfg = _latent_config(n_channels, n_latents, weibull_shape, weibull_scale, min_latents,
                         max_kernels, kernel_bank, length)
    cfg["concentration"] = check_range(concentration, "concentration", 0.0, np.inf,
                                       low_open=True, high_open=True)
    return _lmc_sample(check_random_state(random_state), cfg, return_params)
