"""KernelSynth: univariate series drawn from Gaussian-process priors with random kernels.

The kernel bank and the random ``+`` / ``*`` composition follow KernelSynth (Ansari et al.,
2024, "Chronos"), as reused by TimePFN's LMCSynth and by DynLMC (seed 001, Algorithm 1,
line 3).  Time is the grid ``x = linspace(0, 1, length)``; periodic kernels have periods
``p / length`` so that ``p`` counts time steps.

GP prior draws
--------------
KernelSynth samples ``N(0, K)`` with an eigendecomposition of the full ``length x length``
kernel matrix (about 0.2 s at length 1024 on two cores).  Here the draw is exact (up to a
relative perturbation of at most ``1e-6`` of the variance, see below) and much cheaper:

1. The kernel matrix is built from its structure on the regular grid: every stationary
   leaf of the kernel expression is evaluated on the ``length`` lags only and expanded as
   a Toeplitz matrix (scikit-learn evaluates ``ExpSineSquared`` on all pairs: ~0.1 s);
   non-stationary leaves (``DotProduct``) are evaluated by scikit-learn.
2. If the whole kernel is stationary, the sample is drawn by *circulant embedding*
   (Dietrich & Newsam, 1997): the first row is embedded in a circulant matrix of size
   ``2 (length - 1)`` whose eigenvalues are one FFT; when they are non-negative (up to
   ``-1e-6`` times the variance, clipped to zero) one FFT of scaled complex noise gives
   an exact draw in ``O(length log length)``.  This holds for 6-10% of random bank
   kernels (short RBFs, white noise, constants); periodic kernels (whose period in steps
   does not divide the embedding) and very smooth kernels are rejected.
3. Otherwise (non-stationary kernel, or an embedding with negative eigenvalues, e.g. very
   smooth kernels whose length scale exceeds the window) a Cholesky factorisation with a
   small diagonal jitter is used, starting at ``1e-12`` times the mean variance and
   multiplied by 10 until it succeeds (at most ``1e-6``); a jitter ``d`` adds independent
   white noise of variance ``d``.  Cholesky is backward stable, so the factor reproduces
   ``K + jitter`` to rounding error even for the numerically singular matrices of smooth
   or periodic kernels; on the default bank ~90% of kernels succeed at ``1e-12`` and the
   rest at ``1e-11`` (measured on 150 random kernels of length 1040).  Only if that
   fails is the eigendecomposition used,
   with negative eigenvalues clipped to zero (what ``multivariate_normal(method="eigh")``
   does).
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Sequence

import numpy as np
import scipy.linalg
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    DotProduct,
    Exponentiation,
    ExpSineSquared,
    Kernel,
    Product,
    RationalQuadratic,
    Sum,
    WhiteKernel,
)

from jointdist.base import check_positive_int, check_random_state

from ._sampling import generate_parallel, seed_sequence, single_threaded_blas

__all__ = ["kernel_bank", "kernel_matrix", "make_kernelsynth", "random_kernel", "sample_gp_prior",
           "time_grid"]

#: Periods (in time steps) of the ExpSineSquared kernels of KernelSynth, with its
#: repetitions (4 appears three times), so that selection frequencies match it.
KERNELSYNTH_PERIODS = (24, 48, 96, 24 * 7, 48 * 7, 96 * 7, 7, 14, 30, 60, 365, 365 * 2,
                       4, 26, 52, 4, 6, 12, 4, 4 * 10, 10)

#: Largest relative diagonal jitter (and largest clipped negative circulant eigenvalue),
#: as a fraction of the mean variance, accepted before falling back to ``eigh``.
MAX_RELATIVE_JITTER = 1e-6
_FIRST_JITTER = 1e-12
_GP_METHODS = ("auto", "circulant", "cholesky", "eigh")


def kernel_bank(length: int = 1024) -> list[Kernel]:
    """The KernelSynth kernel bank for series of ``length`` steps.

    Parameters
    ----------
    length : int, default=1024
        Series length; periods of the periodic kernels are ``p / length``.

    Returns
    -------
    list of sklearn.gaussian_process.kernels.Kernel
        21 ``ExpSineSquared`` (periods in :data:`KERNELSYNTH_PERIODS`), ``DotProduct``
        with ``sigma_0`` in {0, 1, 10}, ``RBF`` with length scale in {0.1, 1, 10},
        ``RationalQuadratic`` with ``alpha`` in {0.1, 1, 10}, ``WhiteKernel`` with noise
        level in {0.1, 1} and ``ConstantKernel()``: 33 kernels.
    """
    _check_length(length)
    bank: list[Kernel] = [ExpSineSquared(periodicity=p / length) for p in KERNELSYNTH_PERIODS]
    bank += [DotProduct(sigma_0=s) for s in (0.0, 1.0, 10.0)]
    bank += [RBF(length_scale=s) for s in (0.1, 1.0, 10.0)]
    bank += [RationalQuadratic(alpha=a) for a in (0.1, 1.0, 10.0)]
    bank += [WhiteKernel(noise_level=s) for s in (0.1, 1.0)]
    bank += [ConstantKernel()]
    return bank


def time_grid(length: int, pad: int = 0) -> np.ndarray:
    """Regular time grid ``x_t = t / (length - 1)`` for ``t = -pad, ..., length - 1 + pad``.

    With ``pad=0`` this is ``linspace(0, 1, length)``; the padding extends the same grid
    on both sides (used to draw latents that are shifted by lags).
    """
    _check_length(length)
    return np.arange(-pad, length + pad, dtype=np.float64) / (length - 1)


def random_kernel(bank: Sequence[Kernel], max_kernels: int, rng: np.random.Generator) -> Kernel:
    """Draw ``J ~ U{1..max_kernels}`` kernels from ``bank`` (with replacement) and combine
    them left to right with ``+`` or ``*`` (probability 1/2 each), as KernelSynth does."""
    n = int(rng.integers(1, max_kernels + 1))
    chosen = [bank[i] for i in rng.integers(0, len(bank), size=n)]
    ops = rng.random(n - 1) < 0.5
    it = iter(ops)
    return functools.reduce(lambda a, b: a + b if next(it) else a * b, chosen)


# --------------------------------------------------------------------------------------
# Kernel matrices on a regular grid.
# --------------------------------------------------------------------------------------
def _stationary_row(kernel: Kernel, x: np.ndarray) -> np.ndarray:
    """k(x_0, x_t) for all t; entry 0 from ``diag`` (WhiteKernel only acts on it)."""
    X = x[:, None]
    row = np.array(kernel(X[:1], X)[0], dtype=np.float64)
    row[0] = kernel.diag(X[:1])[0]
    return row


def _structured_kernel(kernel: Kernel, x: np.ndarray) -> np.ndarray:
    """Kernel on a regular grid: a 1-D first row when stationary, else the full matrix."""
    if isinstance(kernel, (Sum, Product)):
        a = _structured_kernel(kernel.k1, x)
        b = _structured_kernel(kernel.k2, x)
        if a.ndim != b.ndim:  # one stationary part inside a non-stationary expression
            a = scipy.linalg.toeplitz(a) if a.ndim == 1 else a
            b = scipy.linalg.toeplitz(b) if b.ndim == 1 else b
        return a + b if isinstance(kernel, Sum) else a * b
    if isinstance(kernel, Exponentiation):
        return _structured_kernel(kernel.kernel, x) ** kernel.exponent
    if kernel.is_stationary():
        return _stationary_row(kernel, x)
    return np.asarray(kernel(x[:, None]), dtype=np.float64)


def kernel_matrix(kernel: Kernel, x: np.ndarray) -> np.ndarray:
    """Full kernel matrix ``K[s, t] = k(x_s, x_t)`` on a regular 1-D grid ``x``.

    Equal to ``kernel(x[:, None])`` but built from Toeplitz expansions of the stationary
    parts (for ``ExpSineSquared`` at 1,040 points: about 1.5 ms instead of 0.1 s).
    """
    x = _check_grid(x)
    k = _structured_kernel(kernel, x)
    return scipy.linalg.toeplitz(k) if k.ndim == 1 else k


# --------------------------------------------------------------------------------------
# Exact GP prior draws.
# --------------------------------------------------------------------------------------
def _circulant_draw(row: np.ndarray, n_samples: int, rng: np.random.Generator,
                    *, force: bool = False) -> np.ndarray | None:
    n = row.shape[0]
    if n < 3:
        return None
    c = np.concatenate([row, row[-2:0:-1]])  # symmetric embedding, size m = 2 (n - 1)
    m = c.shape[0]
    lam = np.fft.fft(c).real  # eigenvalues of the circulant matrix
    if lam.min() < -MAX_RELATIVE_JITTER * max(row[0], np.finfo(float).tiny) and not force:
        return None
    lam = np.clip(lam, 0.0, None)
    z = rng.standard_normal((n_samples, m)) + 1j * rng.standard_normal((n_samples, m))
    # Real (and imaginary) part of F diag(sqrt(lam / m)) z has covariance C (Dietrich &
    # Newsam 1997); its first n entries have covariance K.
    y = np.fft.fft(np.sqrt(lam / m) * z, axis=-1).real
    return y[:, :n]


def _cholesky_draw(K: np.ndarray, n_samples: int, rng: np.random.Generator,
                   *, allow_eigh: bool = True) -> tuple[np.ndarray, str]:
    n = K.shape[0]
    scale = max(float(np.mean(np.diag(K))), np.finfo(float).tiny)
    jitter = _FIRST_JITTER
    diag = np.arange(n)
    while jitter <= MAX_RELATIVE_JITTER * (1 + 1e-9):
        Kj = K.copy()
        Kj[diag, diag] += jitter * scale
        try:
            chol = scipy.linalg.cholesky(Kj, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            jitter *= 10.0
            continue
        z = rng.standard_normal((n, n_samples))
        return (chol @ z).T, "cholesky"
    if not allow_eigh:
        raise np.linalg.LinAlgError("Cholesky failed with the largest allowed jitter.")
    w, V = np.linalg.eigh(K)
    z = rng.standard_normal((n, n_samples))
    return (V @ (np.sqrt(np.clip(w, 0.0, None))[:, None] * z)).T, "eigh"


def _sample_gp(kernel: Kernel, x: np.ndarray, n_samples: int, rng: np.random.Generator,
               method: str = "auto") -> tuple[np.ndarray, str]:
    """Draw ``n_samples`` GP prior paths on the regular grid ``x``; returns (paths, method)."""
    k = _structured_kernel(kernel, x)
    if method == "eigh":
        K = scipy.linalg.toeplitz(k) if k.ndim == 1 else k
        w, V = np.linalg.eigh(K)
        z = rng.standard_normal((K.shape[0], n_samples))
        return (V @ (np.sqrt(np.clip(w, 0.0, None))[:, None] * z)).T, "eigh"
    if k.ndim == 1 and method in ("auto", "circulant"):
        y = _circulant_draw(k, n_samples, rng)
        if y is not None:
            return y, "circulant"
        if method == "circulant":
            raise ValueError("The circulant embedding of this kernel has negative eigenvalues "
                             "beyond the tolerance; use method='auto' or 'cholesky'.")
    elif method == "circulant":
        raise ValueError("method='circulant' needs a stationary kernel.")
    K = scipy.linalg.toeplitz(k) if k.ndim == 1 else k
    return _cholesky_draw(K, n_samples, rng)


def sample_gp_prior(kernel: Kernel, x: Any, *, n_samples: int = 1, method: str = "auto",
                    random_state: Any = None) -> np.ndarray:
    """Draw zero-mean Gaussian-process prior paths on a regular 1-D grid.

    Parameters
    ----------
    kernel : sklearn.gaussian_process.kernels.Kernel
        Covariance kernel (any scikit-learn kernel expression on 1-D inputs).
    x : array-like of shape (n_points,)
        Strictly increasing, regularly spaced time points.
    n_samples : int, default=1
        Number of independent paths.
    method : {"auto", "circulant", "cholesky", "eigh"}, default="auto"
        ``"auto"`` uses circulant embedding for stationary kernels when it is valid and a
        jittered Cholesky factorisation otherwise (see the module docstring).
    random_state : int, numpy Generator or None, default=None
        Source of randomness.

    Returns
    -------
    ndarray of shape (n_samples, n_points)
    """
    if method not in _GP_METHODS:
        raise ValueError(f"method must be one of {_GP_METHODS}, got {method!r}.")
    if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if not isinstance(kernel, Kernel):
        raise ValueError(f"kernel must be a scikit-learn Kernel, got {type(kernel).__name__}.")
    x = _check_grid(x)
    rng = check_random_state(random_state)
    return _sample_gp(kernel, x, int(n_samples), rng, method)[0]


def _kernelsynth_one(seed: np.random.SeedSequence, length: int, max_kernels: int,
                     bank: Sequence[Kernel], return_kernels: bool):
    rng = np.random.default_rng(seed)
    kernel = random_kernel(bank, max_kernels, rng)
    with single_threaded_blas():
        y = _sample_gp(kernel, time_grid(length), 1, rng)[0][0]
    return (y, kernel) if return_kernels else y


def make_kernelsynth(n_series: int, length: int = 1024, max_kernels: int = 5, *,
                     kernel_bank: Sequence[Kernel] | None = None, random_state: Any = None,
                     n_jobs: int | None = None, return_kernels: bool = False):
    """Generate independent KernelSynth series (GP prior draws with random kernels).

    Parameters
    ----------
    n_series : int
        Number of series.
    length : int, default=1024
        Number of time steps (grid ``linspace(0, 1, length)``).
    max_kernels : int, default=5
        Largest number ``J`` of bank kernels combined into one kernel (``J ~ U{1..J}``).
    kernel_bank : sequence of Kernel, default=None
        Kernels to compose; ``None`` uses :func:`kernel_bank` ``(length)``.
    random_state : int, numpy Generator or None, default=None
        Seed; each series gets its own child of one ``numpy.random.SeedSequence``, so the
        result does not depend on ``n_jobs``.
    n_jobs : int or None, default=None
        Number of joblib workers (``None`` means 1, ``-1`` all cores).
    return_kernels : bool, default=False
        Also return the list of composed kernels.

    Returns
    -------
    X : ndarray of shape (n_series, length)
    kernels : list of Kernel
        Only when ``return_kernels=True``.

    Examples
    --------
    >>> from jointdist.datasets.dynlmc import make_kernelsynth
    >>> make_kernelsynth(3, length=64, random_state=0).shape
    (3, 64)
    """
    n_series = check_positive_int(n_series, "n_series")
    _check_length(length)
    max_kernels = check_positive_int(max_kernels, "max_kernels")
    bank = _check_bank(kernel_bank, length)
    seeds = seed_sequence(random_state).spawn(n_series)
    out = generate_parallel(_kernelsynth_one, seeds, n_jobs,
                            length=length, max_kernels=max_kernels, bank=bank,
                            return_kernels=return_kernels)
    if return_kernels:
        return np.stack([o[0] for o in out]), [o[1] for o in out]
    return np.stack(out)


# --------------------------------------------------------------------------------------
# Validation helpers (shared with lmc.py and dynlmc.py).
# --------------------------------------------------------------------------------------
def _check_length(length: Any) -> int:
    if not isinstance(length, numbers.Integral) or isinstance(length, bool) or length < 2:
        raise ValueError(f"length must be an integer >= 2, got {length!r}.")
    return int(length)


def _check_bank(bank: Sequence[Kernel] | None, length: int) -> list[Kernel]:
    if bank is None:
        return kernel_bank(length)
    bank = list(bank)
    if not bank or not all(isinstance(k, Kernel) for k in bank):
        raise ValueError("kernel_bank must be a non-empty sequence of scikit-learn kernels.")
    return bank


def _check_grid(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.shape[0] < 2:
        raise ValueError(f"x must be a 1-D grid with at least 2 points, got shape {x.shape}.")
    dx = np.diff(x)
    if not np.all(np.isfinite(x)) or dx[0] <= 0 or not np.allclose(dx, dx[0], rtol=1e-8, atol=0):
        raise ValueError("x must be a strictly increasing, regularly spaced grid.")
    return x
