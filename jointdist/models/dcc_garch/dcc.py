"""Stage 2 of DCC-GARCH: dynamic conditional correlation of standardized residuals.

Engle (2002), "Dynamic conditional correlation: a simple class of multivariate GARCH
models", JBES 20(3).  With ``e[t]`` the standardized residuals of stage 1 (unit
conditional variance) the DCC(1,1) model is Engle's mean-reverting DCC with
correlation targeting (eqs. (3)-(4) of ``docs/models/dcc_garch.md``)::

    Q[t] = (1 - a - b) Qbar + a e[t-1] e[t-1]' + b Q[t-1],      a, b >= 0, a + b < 1
    R[t] = diag(Q[t])^{-1/2} Q[t] diag(Q[t])^{-1/2}

with ``Qbar`` the sample correlation of ``e`` ("correlation targeting") and
``Q[1] = Qbar``.  Under Gaussian innovations the log-likelihood splits into a volatility
part (the sum of the univariate GARCH log-likelihoods) and a correlation part
(Engle 2002's split ``L = L_V + L_C``; eq. (6) of the docs)::

    L_C(a, b) = -1/2 sum_t ( log|R[t]| + e[t]' R[t]^{-1} e[t] - e[t]' e[t] )

which stage 2 maximizes over ``(a, b)`` with the stage-1 parameters held fixed (the
two-step quasi-maximum likelihood estimator of Engle 2002).

With ``dist="t"`` the standardized residuals are modelled as multivariate Student-t
with ``nu > 2`` degrees of freedom, unit variances and correlation ``R[t]`` (the "mvt"
DCC of R's rmgarch), and stage 2 maximizes its full log-density over ``(a, b, nu)``::

    log f(e | R, nu) = lgamma((nu + N) / 2) - lgamma(nu / 2) - N/2 log(pi (nu - 2))
                       - 1/2 log|R| - (nu + N)/2 log(1 + e' R^{-1} e / (nu - 2))

The ``Q`` recursion is linear in ``Q``; for given ``(a, b)`` it is run over chunks of
time steps of a few MiB (in closed form over sub-blocks when ``N`` is small), and each
chunk is factorized at once (batched Cholesky, or one LAPACK call per matrix for large
``N``) and dropped: no ``(T, N, N)`` array is formed, ``R[t]`` is never formed, and one
evaluation costs about ``T N^3 / 3`` flops.  Stage 2 runs with BLAS limited to one
thread (:func:`threadpoolctl.threadpool_limits`): for matrices of this size a threaded
BLAS only adds overhead, and on a loaded machine it made one evaluation 25 times slower.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import gammaln
from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "DCCFit",
    "correlation_from_q",
    "correlation_sqrt",
    "dcc_loglikelihood",
    "dcc_q_path",
    "draw_correlated_shocks",
    "fit_dcc",
]

#: Largest a + b allowed (a + b = 1 is the integrated, non-mean-reverting case).
MAX_PERSISTENCE = 0.9999
#: Bounds on the degrees of freedom of the multivariate t.
NU_BOUNDS = (2.05, 500.0)
_NU_START = 8.0


@dataclass
class DCCFit:
    """Result of :func:`fit_dcc`.

    Attributes
    ----------
    a, b : float
        DCC parameters.
    nu : float or None
        Degrees of freedom of the multivariate t (None for Gaussian innovations).
    qbar : ndarray of shape (N, N)
        Sample correlation of the standardized residuals (the target of ``Q``).
    q : ndarray of shape (T + 1, N, N)
        ``Q[t]`` for every observation and, in the last row, for the next step.
    loglikelihood : float
        Stage-2 objective at ``(a, b[, nu])``: ``L_C`` for Gaussian innovations, the
        multivariate-t log-density of ``e`` for Student-t ones.
    ccc_loglikelihood : float
        The same objective at ``a = b = 0`` (constant conditional correlation
        ``R = Qbar``; with ``nu`` re-estimated for Student-t).
    converged : bool
        False when the optimizer failed and the fit fell back to constant correlation.
    message : str
        The optimizer's message.
    """

    a: float
    b: float
    nu: float | None
    qbar: np.ndarray
    q: np.ndarray
    loglikelihood: float
    ccc_loglikelihood: float
    converged: bool
    message: str

    @property
    def correlation(self) -> np.ndarray:
        """``R[t]``, shape (T + 1, N, N); the last row is the one-step-ahead forecast."""
        return correlation_from_q(self.q)


# --------------------------------------------------------------------------------------
# The recursion and the likelihood.
# --------------------------------------------------------------------------------------
def outer_products(e: np.ndarray) -> np.ndarray:
    """``e[t] e[t]'`` for every row, shape (T, N, N)."""
    return e[:, :, None] * e[:, None, :]


#: Bytes of ``Q`` in one chunk of time steps of the stage-2 pass: the chunk is built,
#: factorized and dropped while it is still in cache, so no (T, N, N) array is formed.
_CHUNK_BYTES = 4 * 2**20
#: Most time steps in one chunk.
_MAX_CHUNK = 512
#: Inside a chunk the recursion is solved in closed form over sub-blocks of ``k`` steps
#: (one matrix product, ``k`` times the flops of the plain recursion but no Python loop
#: over those steps); ``k = clip(_SUBBLOCK_ENTRIES // N^2, 1, 128)``, so large ``N``
#: takes the plain recursion (``k = 1``), where the ``N^2`` work per step dominates.
_SUBBLOCK_ENTRIES = 4096


def _iter_q_blocks(e: np.ndarray, a: float, b: float, qbar: np.ndarray,
                   outer: np.ndarray | None = None, n_rows: int | None = None):
    """``Q[t]`` for ``t = 0..n_rows-1`` (default ``T + 1``), as ``(start, chunk)`` pairs.

    Row ``t`` is the ``Q`` used for ``e[t]``; row ``T`` is the one-step-ahead ``Q``.
    ``chunk`` is a new array of shape ``(m, N, N)`` (the caller may overwrite it).

    The recursion ``Q[t] = d[t] + b Q[t-1]`` with ``d[0] = Qbar`` and
    ``d[t] = (1 - a - b) Qbar + a e[t-1] e[t-1]'`` (docs eq. (3)) is run step by step
    for large ``N``; for small ``N`` it is solved in closed form over sub-blocks of
    ``k`` rows starting at ``s`` (one matrix product, no Python loop over the rows)::

        Q[s+i] = sum_{j<=i} b^(i-j) d[s+j] + b^(i+1) Q[s-1],     i = 0..k-1

    with ``b^(i-j) <= 1``, so nothing overflows.
    """
    n_obs, n = e.shape
    n_rows = n_obs + 1 if n_rows is None else n_rows
    chunk = int(min(n_rows, _MAX_CHUNK, max(1, _CHUNK_BYTES // (8 * n * n))))
    sub = int(min(chunk, 128, max(1, _SUBBLOCK_ENTRIES // (n * n))))
    if sub > 1:
        steps = np.arange(sub)
        lag = steps[:, None] - steps[None, :]
        weights = np.where(lag >= 0, float(b) ** np.maximum(lag, 0), 0.0)  # (sub, sub)
        carry_weights = (float(b) ** (steps + 1.0))[:, None]
    target = (1.0 - a - b) * qbar
    q_prev = np.zeros((n, n))  # Q[-1] = 0, so that Q[0] = d[0] = Qbar
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        m = stop - start
        # the drive d[start:stop]: row t uses e[t-1]; row 0 is Qbar itself
        drive = np.empty((m, n, n))
        lo = max(start, 1)
        if start == 0:
            drive[0] = qbar
        if stop > lo:
            prods = (outer[lo - 1:stop - 1] if outer is not None
                     else outer_products(e[lo - 1:stop - 1]))
            np.multiply(prods, a, out=drive[lo - start:])
            drive[lo - start:] += target
        q = np.empty((m, n, n))
        if sub == 1:
            for i in range(m):
                np.multiply(q_prev, b, out=q[i])
                q[i] += drive[i]
                q_prev = q[i]
        else:
            flat_prev = q_prev.reshape(1, n * n)
            for i in range(0, m, sub):
                k = min(sub, m - i)
                block = weights[:k, :k] @ drive[i:i + k].reshape(k, n * n)
                block += carry_weights[:k] * flat_prev
                q[i:i + k] = block.reshape(k, n, n)
                flat_prev = block[-1:]
            q_prev = flat_prev.reshape(n, n)
        q_prev = q_prev.copy()  # the caller may overwrite the chunk
        yield start, q


def dcc_q_path(e: np.ndarray, a: float, b: float, qbar: np.ndarray,
               outer: np.ndarray | None = None) -> np.ndarray:
    """``Q[t]`` for ``t = 1..T+1`` (rows ``0..T``), started at ``Q[1] = Qbar``.

    Row ``t`` is the ``Q`` used for ``e[t]`` (it depends on ``e[:t]``); the last row
    is the one-step-ahead ``Q[T+1]``.

    Parameters
    ----------
    e : ndarray of shape (T, N)
        Standardized residuals.
    a, b : float
        DCC parameters.
    qbar : ndarray of shape (N, N)
    outer : ndarray of shape (T, N, N), optional
        Precomputed :func:`outer_products` of ``e``.
    """
    n_obs, n = e.shape
    q = np.empty((n_obs + 1, n, n))
    for start, block in _iter_q_blocks(e, a, b, qbar, outer):
        q[start:start + block.shape[0]] = block
    return q


def correlation_from_q(q: np.ndarray) -> np.ndarray:
    """``R = diag(Q)^{-1/2} Q diag(Q)^{-1/2}`` over the leading axes of ``q``."""
    d = 1.0 / np.sqrt(np.diagonal(q, axis1=-2, axis2=-1))
    r = q * d[..., :, None] * d[..., None, :]
    # exact unit diagonal, whatever the rounding
    idx = np.arange(q.shape[-1])
    r[..., idx, idx] = 1.0
    return r


#: From this many series on, :func:`_correlation_terms` calls LAPACK once per matrix
#: (``potrf`` on the matrix in place, then ``trtrs``: ``N^2`` for the solve) instead of
#: numpy's batched Cholesky and solve (``N^3`` for the solve, but no per-call overhead).
_LAPACK_MIN_SERIES = 24


def _correlation_terms(q: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log|R[t]|`` and ``e[t]' R[t]^{-1} e[t]`` for a chunk of ``Q[t]`` and ``e[t]``.

    With ``R = D Q D``, ``D = diag(Q)^{-1/2}``: ``log|R| = log|Q| - sum_i log Q_ii`` and
    ``e' R^{-1} e = u' Q^{-1} u = |L^{-1} u|^2`` with ``u = D^{-1} e`` and the Cholesky
    factor ``Q = L L'``, so ``R`` is never formed.  ``q`` (m, N, N) is overwritten.
    Raises ``LinAlgError`` if a ``Q[t]`` is not positive definite.
    """
    m, n, _ = q.shape
    diag_q = np.diagonal(q, axis1=-2, axis2=-1).copy()
    u = e * np.sqrt(diag_q)
    if n < _LAPACK_MIN_SERIES:
        chol = np.linalg.cholesky(q)
        log_diag = np.log(np.diagonal(chol, axis1=-2, axis2=-1))
        w = np.linalg.solve(chol, u[..., None])[..., 0]
    else:
        from scipy.linalg import lapack

        log_diag, w = np.empty((m, n)), np.empty((m, n))
        for i in range(m):
            # q[i].T is Fortran-ordered: potrf factorizes it in place, Q = U'U (U = L')
            upper, info = lapack.dpotrf(q[i].T, lower=0, clean=0, overwrite_a=1)
            if info != 0:
                raise np.linalg.LinAlgError("Q[t] is not positive definite")
            w[i], info = lapack.dtrtrs(upper, u[i], lower=0, trans=1)  # U' w = u
            log_diag[i] = np.log(np.diagonal(upper))
    logdet = 2.0 * log_diag.sum(axis=-1) - np.log(diag_q).sum(axis=-1)
    return logdet, np.einsum("ti,ti->t", w, w)


def _logdet_and_quadratic(e: np.ndarray, a: float, b: float, qbar: np.ndarray,
                          outer: np.ndarray | None = None):
    """``log|R[t]|`` and ``e[t]' R[t]^{-1} e[t]`` for ``t = 0..T-1``, chunk by chunk."""
    n_obs = e.shape[0]
    logdet, quad = np.empty(n_obs), np.empty(n_obs)
    for start, q in _iter_q_blocks(e, a, b, qbar, outer, n_rows=n_obs):
        stop = start + q.shape[0]
        logdet[start:stop], quad[start:stop] = _correlation_terms(q, e[start:stop])
    return logdet, quad


def dcc_loglikelihood(e: np.ndarray, a: float, b: float, qbar: np.ndarray | None = None,
                      *, dist: str = "normal", nu: float | None = None,
                      outer: np.ndarray | None = None, per_observation: bool = False):
    """Stage-2 log-likelihood of DCC(1,1) for standardized residuals ``e``.

    Parameters
    ----------
    e : ndarray of shape (T, N)
        Standardized residuals of stage 1.
    a, b : float
        DCC parameters (``a = b = 0`` is constant conditional correlation).
    qbar : ndarray of shape (N, N), optional
        Correlation target; defaults to the sample correlation of ``e``.
    dist : {"normal", "t"}, default="normal"
        ``"normal"``: the correlation part ``L_C`` of Engle (2002), docs eq. (6).
        ``"t"``: the multivariate Student-t log-density with unit variances (needs ``nu``).
    nu : float, optional
        Degrees of freedom, ``> 2``, for ``dist="t"``.
    outer : ndarray of shape (T, N, N), optional
        Precomputed outer products of ``e`` (by default they are formed block by block).
    per_observation : bool, default=False
        Return the ``T`` terms instead of their sum.

    Returns
    -------
    float or ndarray of shape (T,)

    Notes
    -----
    The cost is one Cholesky factorization of an ``N x N`` matrix per time step,
    ``T N^3 / 3`` flops, done in batches of time steps; memory stays a few MiB
    whatever ``T`` and ``N`` (no ``(T, N, N)`` array is formed).
    """
    if dist not in ("normal", "t"):
        raise ValueError(f"dist must be 'normal' or 't'; got {dist!r}.")
    if dist == "t" and (nu is None or not nu > 2):
        raise ValueError(f"dist='t' needs nu > 2; got {nu!r}.")
    if qbar is None:
        qbar = sample_correlation(e)
    logdet, quad = _logdet_and_quadratic(e, a, b, qbar, outer)
    ll = _loglikelihood_terms(e, logdet, quad, dist, nu)
    return ll if per_observation else float(ll.sum())


def _loglikelihood_terms(e, logdet, quad, dist, nu) -> np.ndarray:
    """The ``T`` terms of :func:`dcc_loglikelihood` from ``log|R[t]|`` and
    ``e[t]' R[t]^{-1} e[t]``."""
    if dist == "normal":
        return -0.5 * (logdet + quad - np.einsum("ti,ti->t", e, e))
    n = e.shape[1]
    const = gammaln((nu + n) / 2) - gammaln(nu / 2) - 0.5 * n * np.log(np.pi * (nu - 2))
    return const - 0.5 * logdet - 0.5 * (nu + n) * np.log1p(quad / (nu - 2))


def sample_correlation(e: np.ndarray) -> np.ndarray:
    """Sample correlation matrix of the columns of ``e`` (``Qbar``)."""
    c = np.corrcoef(e, rowvar=False)
    return np.atleast_2d(c)


# --------------------------------------------------------------------------------------
# Estimation.
# --------------------------------------------------------------------------------------
def _unpack(theta: np.ndarray) -> tuple[float, float]:
    """(persistence s = a + b, share w = a / (a + b)) -> (a, b).

    The box ``0 <= s <= MAX_PERSISTENCE, 0 <= w <= 1`` is exactly the admissible set
    ``a, b >= 0, a + b < 1``, so the optimizer only needs bounds, no constraints.
    """
    s, w = float(theta[0]), float(theta[1])
    return s * w, s * (1.0 - w)


def fit_dcc(e: np.ndarray, dist: str = "normal", *, progress: bool = False) -> DCCFit:
    """Two-step QML estimate of DCC(1,1) on standardized residuals (docs eqs. (6)-(7)).

    Maximizes :func:`dcc_loglikelihood` over ``(a, b)`` -- and ``nu`` for
    ``dist="t"`` -- with L-BFGS-B on the box reparametrization ``(a + b, a / (a + b))``,
    started from the best point of a small grid (which includes constant correlation).
    If L-BFGS-B fails, bounded Nelder-Mead is tried; if that fails as well, a
    :class:`~sklearn.exceptions.ConvergenceWarning` is emitted and the fit falls back to
    constant conditional correlation (``a = b = 0``).

    Parameters
    ----------
    e : ndarray of shape (T, N)
        Standardized residuals, ``T > N``.
    dist : {"normal", "t"}, default="normal"
    progress : bool, default=False
        Show a tqdm counter of the likelihood evaluations (about 50 for
        ``dist="normal"``).

    Returns
    -------
    DCCFit

    Raises
    ------
    ValueError
        If the sample correlation of ``e`` is singular (collinear series).

    Notes
    -----
    One likelihood evaluation costs about ``T N^3 / 3`` flops (one Cholesky
    factorization per time step) in a few MiB of memory; the fit holds BLAS to one
    thread while it runs (see the module docstring).  The result's ``q`` has shape
    ``(T + 1, N, N)``.
    """
    if dist not in ("normal", "t"):
        raise ValueError(f"dist must be 'normal' or 't'; got {dist!r}.")
    e = np.asarray(e, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] <= e.shape[1] or not np.all(np.isfinite(e)):
        raise ValueError("e must be a finite array of shape (T, N) with T > N; got shape "
                         f"{e.shape}.")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), _progress_bar(progress) as bar:
        return _fit_dcc(e, dist, bar)


def _progress_bar(show: bool):
    """A tqdm counter of likelihood evaluations, or a stand-in that does nothing."""
    if not show:
        from contextlib import nullcontext

        return nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(desc="DCC stage 2 (likelihood evaluations)", unit="eval", leave=False)


def _fit_dcc(e: np.ndarray, dist: str, bar) -> DCCFit:
    n_obs, n = e.shape
    qbar = sample_correlation(e)
    try:
        np.linalg.cholesky(qbar)
        ok = np.linalg.eigvalsh(qbar)[0] > 1e-10
    except np.linalg.LinAlgError:
        ok = False
    if not ok:
        raise ValueError("The standardized residuals are (nearly) collinear: their sample "
                         "correlation matrix is singular, so no correlation model can be "
                         "fitted. Remove duplicated or linearly dependent targets.")
    is_t = dist == "t"
    if n == 1:
        # one series: R[t] = 1, so a and b are not identified; only nu (for the t) is
        return _constant_correlation_fit(e, qbar, dist, converged=True,
                                         message="one series: constant correlation 1")

    # log|R[t]| and e' R^{-1} e of the last few (a, b): the finite-difference step in nu
    # (dist="t") reuses those of its base point instead of factorizing every R[t] again.
    cache: dict = {}

    def negloglik(theta: np.ndarray) -> float:
        a, b = _unpack(theta)
        nu = float(theta[2]) if is_t else None
        if (a, b) not in cache:
            try:
                cache[a, b] = _logdet_and_quadratic(e, a, b, qbar)
            except np.linalg.LinAlgError:
                cache[a, b] = None
            if len(cache) > 8:
                del cache[next(iter(cache))]  # the oldest
            if bar is not None:
                bar.update()
        if cache[a, b] is None:
            return 1e10
        ll = float(_loglikelihood_terms(e, *cache[a, b], dist, nu).sum())
        return -ll / n_obs if np.isfinite(ll) else 1e10

    # constant conditional correlation: a = b = 0 (and nu re-estimated for the t)
    ccc = _constant_correlation_fit(e, qbar, dist, converged=False, message="")

    bounds = [(0.0, MAX_PERSISTENCE), (0.0, 1.0)] + ([NU_BOUNDS] if is_t else [])
    nu0 = [ccc.nu] if is_t else []
    starts = [np.array([s, w] + nu0) for s in (0.5, 0.9, 0.97, 0.995)
              for w in (0.02, 0.05, 0.15)] + [np.array([0.0, 0.5] + nu0)]
    x0 = min(starts, key=negloglik)

    result, message = None, ""
    for method in ("L-BFGS-B", "Nelder-Mead"):
        try:
            res = optimize.minimize(negloglik, x0, method=method, bounds=bounds)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            message = f"{method}: {exc}"
            continue
        message = f"{method}: {res.message}"
        if res.success and np.isfinite(res.fun) and res.fun < 1e10:
            result = res
            break

    if result is None:
        warnings.warn(f"The DCC optimizer failed ({message}); falling back to constant "
                      "conditional correlation (a = b = 0).", ConvergenceWarning,
                      stacklevel=4)
        ccc.message = message
        return ccc
    a, b = _unpack(result.x)
    nu = float(result.x[2]) if is_t else None
    return DCCFit(a=a, b=b, nu=nu, qbar=qbar, q=dcc_q_path(e, a, b, qbar),
                  loglikelihood=-float(result.fun) * n_obs, ccc_loglikelihood=ccc.loglikelihood,
                  converged=True, message=message)


def _constant_correlation_fit(e, qbar, dist, *, converged, message) -> DCCFit:
    """DCCFit with ``a = b = 0`` (nu estimated alone for the multivariate t)."""
    nu = None
    terms = _logdet_and_quadratic(e, 0.0, 0.0, qbar)  # R[t] = Qbar at every t
    if dist == "t":
        res = optimize.minimize_scalar(
            lambda v: -float(_loglikelihood_terms(e, *terms, "t", v).sum()),
            bounds=NU_BOUNDS, method="bounded")
        nu = float(res.x)
    ll = float(_loglikelihood_terms(e, *terms, dist, nu).sum())
    q = np.broadcast_to(qbar, (e.shape[0] + 1,) + qbar.shape).copy()
    return DCCFit(a=0.0, b=0.0, nu=nu, qbar=qbar, q=q, loglikelihood=ll,
                  ccc_loglikelihood=ll, converged=converged, message=message)


# --------------------------------------------------------------------------------------
# Simulation helpers.
# --------------------------------------------------------------------------------------
def correlation_sqrt(r: np.ndarray) -> np.ndarray:
    """A batch of square roots ``M`` with ``M M' = R`` for ``r`` of shape (..., N, N).

    Cholesky of the symmetrized matrices; if any of them is not numerically positive
    definite, the whole batch is done instead by an eigendecomposition with the
    eigenvalues clipped at a small positive floor, which always succeeds and returns a
    finite factor of the nearest positive semi-definite matrix.
    """
    r = 0.5 * (r + np.swapaxes(r, -1, -2))
    try:
        chol = np.linalg.cholesky(r)
        if np.all(np.isfinite(chol)):
            return chol
    except np.linalg.LinAlgError:
        pass
    vals, vecs = np.linalg.eigh(r)
    vals = np.maximum(vals, 1e-10)
    return vecs * np.sqrt(vals)[..., None, :]


def draw_correlated_shocks(r: np.ndarray, n_paths: int, rng: np.random.Generator,
                           dist: str = "normal", nu: float | None = None) -> np.ndarray:
    """Shocks ``z`` of shape (n_paths, N) with unit variances and correlation ``R``.

    ``r`` is one (N, N) matrix for all paths or one per path, (n_paths, N, N).
    ``dist="t"`` draws a multivariate Student-t scaled to unit variance,
    ``z = sqrt((nu - 2) / W) M g`` with ``W ~ chi2(nu)`` shared by the series of a path.
    """
    n = r.shape[-1]
    m = correlation_sqrt(r)
    g = rng.standard_normal((n_paths, n))
    z = np.einsum("...ij,...j->...i", m, g)
    if dist == "t":
        w = rng.chisquare(nu, size=(n_paths, 1))
        z = z * np.sqrt((nu - 2.0) / w)
    return z
