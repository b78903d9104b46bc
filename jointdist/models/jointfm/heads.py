r"""Distributional heads of JointFM and the distributions they return.

Both heads give, for every series set ``b`` and horizon ``h``, a mixture over the joint
law of the ``N`` targets (seed 000, Sec. 3.3):

* :class:`JointGaussianMixture` -- components ``N(mu_kh, Sigma_kh)`` with
  ``Sigma_kh = diag(s_kh^2) + L_kh L_kh'`` (low-rank-plus-diagonal: ``L`` has one row of
  ``r`` loadings per target, so the density scales with ``N`` and never needs an
  ``N x N`` factor; the sampler factors ``Sigma_kh`` only while ``N <= 32``, where that
  saves noise);
* :class:`JointSkewTMixture` -- components are multivariate skew-t laws of Azzalini &
  Capitanio (2003) with location ``xi_kh``, scale matrix ``Omega_kh`` (same
  low-rank-plus-diagonal form), skewness ``alpha_kh`` and degrees of freedom ``nu_k``.

Mixture weights (and ``nu``) are shared by all horizons of a series set, so that a sample
path can keep one component over the whole horizon: the component is a "scenario".

Coherent paths.  ``sample`` drives every horizon with standard-normal noise that is a
normalized Brownian motion across horizons, ``u_h = W_h / sqrt(h)``, so that
``corr(u_h1, u_h2) = sqrt(h1 / h2)``; the mixture component and (skew-t) the chi-square
mixing variable are drawn once per path.  The skew-t's half-normal ``|U0|`` is taken as
``Phi^-1((1 + Phi(u_h)) / 2)`` (the half-normal quantile of ``Phi(u_h)``) rather than
``|u_h|``: both are half-normal at every horizon, but ``|u_h|`` would reduce a latent
correlation of 0.5 between horizons to 0.22.  Every horizon's marginal is therefore exactly
the law the head predicts, and for a Brownian context the paths have the Brownian
correlation ``sqrt(h1 / h2)`` between horizons.

Padding: the target axis may be padded to ``N_max``; ``mask`` (B, N_max) marks the real
targets.  Padded coordinates get location 0, unit diagonal, zero loadings and zero
skewness, and their contribution is removed from the log-density exactly.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, constraints

from jointdist.models.jointfm.config import DEPENDENCE_SHARES

__all__ = [
    "JointGaussianMixture",
    "JointSkewTMixture",
    "GaussianMixtureHead",
    "SkewTMixtureHead",
    "betainc",
    "student_t_log_cdf",
    "brownian_normals",
]

_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------
# Student-t CDF in torch (torch 2.13 has no regularized incomplete beta).
# --------------------------------------------------------------------------------------
def _betacf(a, b, x, n_iter: int):
    """Continued fraction of the incomplete beta (modified Lentz, fixed ``n_iter`` terms).

    Numerical Recipes (Press et al., 3rd ed., Sec. 6.4); converges fast for
    ``x < (a + 1) / (a + b + 2)``.  Written with differentiable tensor ops only.
    """
    tiny = torch.finfo(x.dtype).tiny * 1e4

    def guard(v):
        return torch.where(v.abs() < tiny, torch.full_like(v, tiny), v)

    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = torch.ones_like(x)
    d = 1.0 / guard(1.0 - qab * x / qap)
    h = d
    for m in range(1, n_iter + 1):
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 / guard(1.0 + aa * d)
        c = guard(1.0 + aa / c)
        h = h * d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 / guard(1.0 + aa * d)
        c = guard(1.0 + aa / c)
        h = h * d * c
    return h


def _log_betainc_parts(a, b, log_x, log_1mx, n_iter):
    """``(log I_x(a, b), log(1 - I_x(a, b)))`` from ``log x`` and ``log(1 - x)``."""
    x = torch.exp(log_x)
    swap = x > (a + 1.0) / (a + b + 2.0)
    aa, bb = torch.where(swap, b, a), torch.where(swap, a, b)
    xx = torch.where(swap, torch.exp(log_1mx), x)
    lx, l1x = torch.where(swap, log_1mx, log_x), torch.where(swap, log_x, log_1mx)
    log_beta = torch.lgamma(aa) + torch.lgamma(bb) - torch.lgamma(aa + bb)
    cf = _betacf(aa, bb, xx, n_iter)
    # the direct series value W = I_xx(aa, bb), valid on the side chosen by ``swap``
    log_w = aa * lx + bb * l1x - log_beta - torch.log(aa) + torch.log(cf.clamp_min(1e-300))
    log_w = log_w.clamp(max=0.0)
    log_1mw = torch.log1p(-torch.exp(log_w).clamp(max=1.0 - 1e-12))
    log_i = torch.where(swap, log_1mw, log_w)
    log_1mi = torch.where(swap, log_w, log_1mw)
    return log_i, log_1mi


def betainc(a, b, x, n_iter: int = 60):
    r"""Regularized incomplete beta function :math:`I_x(a, b)` in torch (differentiable).

    Parameters
    ----------
    a, b : tensor or float, > 0
    x : tensor in [0, 1]
    n_iter : int, default=60
        Continued-fraction terms (Lentz); 60 gives double precision for ``a, b`` up to a
        few hundred.

    Returns
    -------
    tensor
    """
    x = torch.as_tensor(x)
    a = torch.as_tensor(a, dtype=x.dtype)
    b = torch.as_tensor(b, dtype=x.dtype)
    a, b, x = torch.broadcast_tensors(a, b, x)
    xc = x.clamp(0.0, 1.0)
    log_x = torch.log(xc.clamp_min(torch.finfo(x.dtype).tiny))
    log_1mx = torch.log1p(-xc.clamp(max=1.0 - torch.finfo(x.dtype).eps / 2))
    log_i, _ = _log_betainc_parts(a, b, log_x, log_1mx, n_iter)
    out = torch.exp(log_i)
    out = torch.where(xc <= 0.0, torch.zeros_like(out), out)
    return torch.where(xc >= 1.0, torch.ones_like(out), out)


def student_t_log_cdf(t, df, n_iter: int = 40):
    r"""Log of the Student-t CDF :math:`\log T_\nu(t)` in torch, differentiable in both.

    Uses :math:`T_\nu(t) = \tfrac12 I_{\nu/(\nu+t^2)}(\nu/2, 1/2)` for ``t < 0`` and
    ``1 - `` that for ``t >= 0``, with the incomplete beta evaluated in log space so that
    far left tails stay finite (about ``log T ~ -nu log|t|``).

    Parameters
    ----------
    t : tensor
    df : tensor or float, > 0
        Degrees of freedom, broadcast against ``t``.
    n_iter : int, default=40
        Continued-fraction terms.

    Returns
    -------
    tensor of the broadcast shape
    """
    df = torch.as_tensor(df, dtype=t.dtype, device=t.device)
    t, df = torch.broadcast_tensors(t, df)
    t2 = t * t
    log_den = torch.log(df + t2)
    log_x = torch.log(df) - log_den  # x = nu / (nu + t^2)
    abs_t = t.abs().clamp_min(1e-15)
    log_1mx = 2.0 * torch.log(abs_t) - log_den
    log_i, _ = _log_betainc_parts(0.5 * df, torch.full_like(df, 0.5), log_x, log_1mx, n_iter)
    left = math.log(0.5) + log_i
    right = torch.log1p(-0.5 * torch.exp(log_i))
    return torch.where(t < 0, left, right)


# --------------------------------------------------------------------------------------
# Noise that is coherent over the horizon.
# --------------------------------------------------------------------------------------
def brownian_normals(shape, horizon_axis: int, generator=None, device=None,
                     dtype=torch.float32):
    """Standard normals that follow a normalized Brownian motion along one axis.

    ``u_h = W_h / sqrt(h)`` for ``h = 1..H`` along ``horizon_axis``: each ``u_h`` is
    N(0, 1) and ``corr(u_h1, u_h2) = sqrt(min(h1, h2) / max(h1, h2))``.
    """
    inc = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    walk = torch.cumsum(inc, dim=horizon_axis)
    H = shape[horizon_axis]
    view = [1] * len(shape)
    view[horizon_axis] = H
    h = torch.arange(1, H + 1, device=device, dtype=dtype).view(view)
    return walk * torch.rsqrt(h)


#: The noise of a sampling block is drawn in this many pieces, each from its own
#: generator, so that two or more CPU threads can fill it at once while the values depend
#: only on the seed, never on the thread count.
_NOISE_PIECES = 4


@functools.lru_cache(maxsize=None)
def _noise_executor(workers: int):
    """The thread pool that fills noise pieces (one per worker count, made once)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(workers, thread_name_prefix="jointfm-noise")


def _fill_standard_normal(buf, generator=None):
    """Fill ``buf`` with N(0, 1) draws, on up to ``torch.get_num_threads()`` threads.

    torch's CPU normal sampler runs on one thread; the buffer is cut into
    :data:`_NOISE_PIECES` pieces seeded from ``generator`` and filled in parallel (torch
    releases the GIL).  The result depends on ``generator`` only.
    """
    dev = buf.device
    seeds = torch.randint(0, 2**62, (_NOISE_PIECES,), generator=generator,
                          device=generator.device if generator is not None else dev)
    gens = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds.tolist()]
    pieces = buf.view(-1).tensor_split(_NOISE_PIECES)
    workers = min(_NOISE_PIECES, torch.get_num_threads())
    if dev.type != "cpu" or workers <= 1 or buf.numel() < (1 << 18):
        for piece, gen in zip(pieces, gens):
            piece.normal_(generator=gen)
        return buf
    list(_noise_executor(workers).map(lambda pg: pg[0].normal_(generator=pg[1]),
                                      zip(pieces, gens)))
    return buf


#: Up to this many targets a component's noise goes through one dense ``N x N`` factor
#: per horizon; above it, through the diagonal and the loadings separately.
_DENSE_MAX_N = 32


def _horizon_walks(H, c, dims, generator, dev, dt):
    """Random walks ``W_h`` with N(0, 1) steps, Brownian over horizons.

    Returns one contiguous (H, c, d) tensor per entry of ``dims``, all filled in a single
    noise pass.  The cumulative sum runs as ``H - 1`` in-place additions of contiguous
    horizon slabs, which is about ten times faster than ``torch.cumsum`` over the
    leading axis on a CPU.
    """
    sizes = [H * c * d for d in dims]
    flat = _fill_standard_normal(torch.empty(sum(sizes), device=dev, dtype=dt), generator)
    walks = [part.view(H, c, d) for part, d in zip(flat.split(sizes), dims)]
    for w in walks:
        for h in range(1, H):
            w[h].add_(w[h - 1])
    return walks


def _half_normal_of(u):
    """``F_HN^-1(Phi(u)) = Phi^-1((1 + Phi(u)) / 2)``, written as ``-Phi^-1(Phi(-u) / 2)``.

    The upper tail ``Phi(-u) = erfc(u / sqrt(2)) / 2`` is taken from ``erfc``, which
    keeps its relative accuracy down to the smallest float (``torch.special.ndtr`` and
    the first form lose it: in float32 both return infinity from ``u ~ 5.5``, about 2 in
    10^8 draws).  Floored at the smallest normal float, so the result stays finite
    (at most about 13 in float32, 37 in float64).
    """
    tail = 0.25 * torch.special.erfc(u * (0.5 ** 0.5))  # Phi(-u) / 2
    return -torch.special.ndtri(tail.clamp_min(torch.finfo(u.dtype).tiny))


# --------------------------------------------------------------------------------------
# Low-rank-plus-diagonal algebra (Woodbury).
# --------------------------------------------------------------------------------------
def _lowrank_quad_logdet(e, diag, factor):
    """``e' S^-1 e`` and ``log det S`` for ``S = diag(diag^2) + F F'``.

    e, diag : (..., N); factor : (..., N, r).  Woodbury identity with the ``r x r``
    capacitance matrix ``C = I + F' D^-1 F``.  Computed in float64: with a small
    diagonal and large loadings ``C`` is badly conditioned in float32 (its Cholesky
    failed in training), while the tensors involved are small.
    """
    out_dtype = e.dtype
    e, diag, factor = e.double(), diag.double(), factor.double()
    inv_d = diag.pow(-2)
    quad = (e * e * inv_d).sum(-1)
    logdet = 2.0 * torch.log(diag).sum(-1)
    r = factor.shape[-1]
    if r == 0:
        return quad.to(out_dtype), logdet.to(out_dtype)
    ft_dinv = factor.transpose(-1, -2) * inv_d.unsqueeze(-2)  # (..., r, N)
    cap = torch.eye(r, dtype=e.dtype, device=e.device) + ft_dinv @ factor  # (..., r, r)
    chol = torch.linalg.cholesky(cap)
    lead = e.dim() - diag.dim()
    if lead > 0 and e.shape[lead:] == diag.shape:
        # values with sample dimensions in front (the futures of a log_prob): put them
        # in the columns of one right-hand side per (B, K, H), instead of broadcasting
        # the factors (and the Cholesky solve) over them -- same numbers, ~3x faster
        S = math.prod(e.shape[:lead])
        cols = e.reshape(S, *diag.shape).movedim(0, -1)  # (..., N, S)
        w = torch.linalg.solve_triangular(chol, ft_dinv @ cols, upper=False)  # (..., r, S)
        quad = quad - w.pow(2).sum(-2).movedim(-1, 0).reshape(quad.shape)
    else:
        v = (ft_dinv @ e.unsqueeze(-1))  # (..., r, 1)
        w = torch.linalg.solve_triangular(chol, v, upper=False)
        quad = quad - w.squeeze(-1).pow(2).sum(-1)
    logdet = logdet + 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return quad.to(out_dtype), logdet.to(out_dtype)


class _MixtureBase(Distribution):
    """Shared parts: shapes, padding and the component draw."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = False

    def __init__(self, logits, loc, diag, factor, mask=None):
        B, K, H, N = loc.shape
        if mask is None:
            mask = torch.ones(B, N, dtype=torch.bool, device=loc.device)
        self.logits, self.loc, self.diag, self.factor, self.mask = (logits, loc, diag,
                                                                    factor, mask)
        self.n_real = mask.sum(-1).to(loc.dtype)  # (B,)
        super().__init__(batch_shape=torch.Size((B, H)), event_shape=torch.Size((N,)),
                         validate_args=False)

    @property
    def n_components(self) -> int:
        return self.logits.shape[-1]

    @property
    def mixture_probs(self):
        return torch.softmax(self.logits, dim=-1)

    def _prep_value(self, value):
        """value (..., B, H, N) -> (..., B, 1, H, N) with padded targets zeroed."""
        m = self.mask[:, None, :].to(value.dtype)  # (B, 1, N)
        return (value * m).unsqueeze(-3)

    def _mix(self, comp_lp):
        """comp_lp (..., B, K, H) -> (..., B, H)."""
        log_w = torch.log_softmax(self.logits, dim=-1).unsqueeze(-1)  # (B, K, 1)
        return torch.logsumexp(comp_lp + log_w, dim=-2)

    def _draw_components(self, n, generator):
        probs = self.mixture_probs.detach()
        idx = torch.multinomial(probs, n, replacement=True, generator=generator)  # (B, n)
        return idx.transpose(0, 1)  # (n, B)

    @staticmethod
    def _gather(param, idx):
        """param (B, K, ...) and idx (n, B) -> (n, B, ...)."""
        B = param.shape[0]
        return param[torch.arange(B, device=param.device).unsqueeze(0), idx]

    def _aligned_factor(self):
        """Loadings rotated so that they vary smoothly over the horizons.

        ``L_h`` and ``L_h Q`` (``Q`` orthogonal, ``r x r``) give the same covariance, so
        the per-horizon likelihood leaves the sign/rotation of every horizon's loadings
        free; but the paths share factor noise across horizons, and a sign flip between
        two horizons would decorrelate them.  Each ``L_h`` is therefore rotated onto the
        loadings of the last horizon by orthogonal Procrustes (``Q = U V'`` from the SVD
        of ``L_h' L_ref``), which leaves every horizon's law unchanged.  Needed on the
        loadings path only (``N > _DENSE_MAX_N``); the Cholesky path is unique.
        """
        fac = self.factor
        if fac.shape[-1] == 0:
            return fac
        ref = fac[:, :, -1:].detach()  # (B, K, 1, N, r)
        u, _, vh = torch.linalg.svd(fac.detach().transpose(-1, -2) @ ref)
        return fac @ (u @ vh)

    def _grouped(self, n, generator, affine, block_fn, to_numpy=False):
        """Draw ``n`` paths per series set, grouped by mixture component.

        For every series set ``b`` the component counts are drawn once, ``block_fn(b, k,
        count, params)`` returns the paths of component ``k`` laid out (H, count, N) (its
        parameters broadcast, no per-path gather), and the rows are put in random order
        so that any subset of the samples is an i.i.d. sample.  ``affine = (loc,
        scale)`` (B, N) maps to observed units; it is folded into the parameters.

        Returns
        -------
        tensor (n, B, H, N), or with ``to_numpy`` a float64 ndarray (B, n, H, N) (the
        shuffle and the cast then happen in one pass).
        """
        B, K, H, N = self.loc.shape
        dev, dt = self.loc.device, self.loc.dtype
        if affine is None:
            a_loc = torch.zeros(B, N, device=dev, dtype=dt)
            a_scale = torch.ones(B, N, device=dev, dtype=dt)
        else:
            a_loc, a_scale = (t.to(dt) for t in affine)
        m = self.mask.to(dt)
        a_scale = a_scale * m  # padded targets come out as 0
        if to_numpy:
            import numpy as np

            out = np.empty((B, n, H, N), dtype=np.float64)
        else:
            out = torch.empty(n, B, H, N, device=dev, dtype=dt)
        inv_sqrt_h = torch.rsqrt(torch.arange(1, H + 1, device=dev, dtype=dt))[:, None]
        probs = self.mixture_probs.detach()
        # the dense path factors each horizon's covariance; only the loadings path needs
        # loadings aligned across horizons
        factor_all = self._aligned_factor() if N > _DENSE_MAX_N else self.factor
        for b in range(B):
            counts = torch.bincount(torch.multinomial(probs[b], n, replacement=True,
                                                      generator=generator), minlength=K)
            perm = torch.randperm(n, generator=generator, device=dev)
            start = 0
            for k in range(K):
                c = int(counts[k])
                if c == 0:
                    continue
                sc = a_scale[b]  # (N,)
                params = {
                    "loc": a_loc[b] + sc * self.loc[b, k],  # (H, N), observed units
                    "diag": sc * self.diag[b, k] * inv_sqrt_h,  # x 1/sqrt(h): W_h -> u_h
                    "factor": sc[:, None] * factor_all[b, k] * inv_sqrt_h[..., None],
                    "scale": sc, "inv_sqrt_h": inv_sqrt_h,
                }
                rows = perm[start:start + c]
                paths = block_fn(b, k, c, params).transpose(0, 1)  # (c, H, N)
                if to_numpy:
                    out[b, rows.cpu().numpy()] = paths.cpu().numpy()
                else:
                    out[rows, b] = paths
                start += c
        return out

    @staticmethod
    def _noise_matrix(params):
        """``M_h`` (H, N, N) with ``M_h' M_h = diag(d_h^2) + F_h F_h'``: walks ``(H, c, N) @ M_h``.

        A Cholesky factor needs ``N`` normals per step where ``[diag(d_h); F_h']`` needs
        ``N + r`` (16 against 10 for the default head at ``N = 10``), and it varies as
        smoothly over the horizons as the covariance does (it is unique), so the paths
        stay coherent.  It is taken of the correlation matrix, in float64; a target with
        zero scale (padding) gets a zero column.
        """
        d, f = params["diag"].double(), params["factor"].double()
        cov = torch.diag_embed(d * d) + f @ f.transpose(-1, -2)  # (H, N, N)
        sd = torch.diagonal(cov, dim1=-2, dim2=-1).sqrt()
        inv_sd = torch.where(sd > 0, 1.0 / sd.clamp_min(1e-300), torch.zeros_like(sd))
        corr = cov * inv_sd[..., :, None] * inv_sd[..., None, :]
        # unit diagonal for zero-scale targets; 1e-12 keeps near-singular ones factorable
        corr = corr + torch.diag_embed((sd == 0).to(corr.dtype) + 1e-12)
        chol = torch.linalg.cholesky(corr) * sd[..., :, None]  # Sigma = chol chol'
        return chol.transpose(-1, -2).to(params["diag"].dtype)

    def _gaussian_block(self, c, params, generator, extra=0, centred=False):
        """``loc + diag * W/sqrt(h) + factor @ Z/sqrt(h)`` for one component, (H, c, N).

        One batched matrix product per horizon with the covariance's Cholesky factor when
        ``N`` is small; for large ``N`` the diagonal part is applied elementwise and the
        loadings by a product (``N x N`` products would waste ``O(N^2)``).
        With ``extra > 0`` it also returns ``extra`` further walks (H, c, extra) drawn
        in the same pass; ``centred=True`` leaves ``loc`` out.
        """
        H, N = params["loc"].shape
        r = params["factor"].shape[-1]
        dev, dt = params["loc"].device, params["loc"].dtype
        loc = params["loc"].unsqueeze(1)  # (H, 1, N)
        if N <= _DENSE_MAX_N:
            walks, *more = _horizon_walks(H, c, [N] + [extra] * bool(extra), generator,
                                          dev, dt)
            out = (torch.bmm(walks, self._noise_matrix(params)) if centred else
                   torch.baddbmm(loc, walks, self._noise_matrix(params)))
        else:
            eps, fz, *more = _horizon_walks(H, c, [N, r] + [extra] * bool(extra),
                                            generator, dev, dt)
            out = torch.bmm(fz, params["factor"].transpose(-1, -2).contiguous())
            out.addcmul_(eps, params["diag"].unsqueeze(1))
            if not centred:
                out.add_(loc)
        return (out, more[0]) if extra else out

    def _latent_paths(self, n, generator):
        """Coherent standard normals for the diagonal and low-rank parts."""
        B, K, H, N = self.loc.shape
        r = self.factor.shape[-1]
        dev, dt = self.loc.device, self.loc.dtype
        eps = brownian_normals((n, B, H, N + r), 2, generator, dev, dt)
        return eps[..., :N], eps[..., N:]


class JointGaussianMixture(_MixtureBase):
    r"""Mixture of multivariate normals per horizon, with weights shared over horizons.

    Component ``k`` at horizon ``h``: ``N(loc[:, k, h], diag(diag^2) + factor factor')``.

    Parameters
    ----------
    logits : tensor (B, K)
    loc, diag : tensors (B, K, H, N); ``diag > 0``
    factor : tensor (B, K, H, N, r)
    mask : bool tensor (B, N) or None
        Real targets (padded ones must carry loc 0, diag 1, factor 0).
    """

    def log_prob(self, value):
        """Log-density of ``value`` (..., B, H, N) at every horizon -> (..., B, H)."""
        y = self._prep_value(value)
        quad, logdet = _lowrank_quad_logdet(y - self.loc, self.diag, self.factor)
        n_all = self.loc.shape[-1]
        comp = -0.5 * (quad + logdet + n_all * _LOG_2PI)  # (..., B, K, H)
        # padded coordinates are independent N(0, 1) evaluated at 0: remove them exactly
        n_pad = (n_all - self.n_real)[:, None, None]
        return self._mix(comp + 0.5 * _LOG_2PI * n_pad)

    @property
    def mean(self):
        w = self.mixture_probs[:, :, None, None]
        return (w * self.loc).sum(1)

    def rsample(self, sample_shape=torch.Size(), generator=None):
        """Coherent sample paths (n, B, H, N), differentiable in the component parameters.

        The component draw itself is not differentiable (gradients reach locations,
        scales and loadings, not the mixture weights); used by the optional energy loss.
        """
        n = int(torch.Size(sample_shape).numel()) if len(sample_shape) else 1
        idx = self._draw_components(n, generator)
        eps, z = self._latent_paths(n, generator)
        loc, diag = self._gather(self.loc, idx), self._gather(self.diag, idx)
        out = loc + diag * eps
        if self.factor.shape[-1]:
            fac = self._gather(self.factor, idx)  # (n, B, H, N, r)
            out = out + (fac @ z.unsqueeze(-1)).squeeze(-1)
        out = out * self.mask[None, :, None, :].to(out.dtype)
        return out.reshape(tuple(sample_shape) + out.shape[1:]) if len(sample_shape) else out[0]

    def sample(self, sample_shape=torch.Size(), generator=None, affine=None):
        """Coherent sample paths, shape ``(*sample_shape, B, H, N)``.

        See the module docstring; ``affine = (loc, scale)`` of shape (B, N) returns
        ``loc + scale * x`` instead of ``x`` (cheaper than mapping afterwards).
        """
        n = int(torch.Size(sample_shape).numel()) if len(sample_shape) else 1
        with torch.no_grad():
            out = self._grouped(n, generator, affine,
                                lambda b, k, c, p: self._gaussian_block(c, p, generator))
        return out.reshape(tuple(sample_shape) + out.shape[1:]) if len(sample_shape) else out[0]

    def sample_numpy(self, n, generator=None, affine=None):
        """As :meth:`sample` with ``(n,)``, returned as a float64 ndarray (B, n, H, N)."""
        with torch.no_grad():
            return self._grouped(n, generator, affine,
                                 lambda b, k, c, p: self._gaussian_block(c, p, generator),
                                 to_numpy=True)


class JointSkewTMixture(_MixtureBase):
    r"""Mixture of multivariate skew-t laws (Azzalini & Capitanio 2003) per horizon.

    Component density (``d`` real targets, ``w = diag(Omega)^{1/2}``,
    ``Q = (y - xi)' Omega^{-1} (y - xi)``):

    .. math::
        f(y) = 2\, t_d(y; \xi, \Omega, \nu)\;
        T_1\!\Big(\alpha' w^{-1}(y - \xi) \sqrt{\tfrac{\nu + d}{Q + \nu}};\ \nu + d\Big)

    with ``Omega = diag(diag^2) + factor factor'``.

    Parameters
    ----------
    logits, df : tensors (B, K); ``df > 0`` is ``nu`` of each component
    loc, diag, alpha : tensors (B, K, H, N)
    factor : tensor (B, K, H, N, r)
    mask : bool tensor (B, N) or None
    cf_iterations : int, default=40
        Terms of the continued fraction in the Student-t CDF.
    """

    def __init__(self, logits, df, loc, diag, factor, alpha, mask=None, cf_iterations=40):
        self.df, self.alpha, self.cf_iterations = df, alpha, cf_iterations
        super().__init__(logits, loc, diag, factor, mask)

    def _omega_diag(self):
        return self.diag.pow(2) + self.factor.pow(2).sum(-1)  # diag(Omega), (B, K, H, N)

    def log_prob(self, value):
        """Log-density of ``value`` (..., B, H, N) at every horizon -> (..., B, H)."""
        y = self._prep_value(value)
        e = y - self.loc
        quad, logdet = _lowrank_quad_logdet(e, self.diag, self.factor)
        d = self.n_real[:, None, None]  # (B, 1, 1)
        nu = self.df[:, :, None]  # (B, K, 1)
        log_t = (torch.lgamma(0.5 * (nu + d)) - torch.lgamma(0.5 * nu)
                 - 0.5 * d * torch.log(nu * math.pi) - 0.5 * logdet
                 - 0.5 * (nu + d) * torch.log1p(quad / nu))
        w = torch.sqrt(self._omega_diag())
        arg = (self.alpha * e / w).sum(-1) * torch.sqrt((nu + d) / (quad + nu))
        log_skew = student_t_log_cdf(arg, (nu + d).expand_as(arg), self.cf_iterations)
        return self._mix(math.log(2.0) + log_t + log_skew)

    def _delta_terms(self):
        """``Omega_bar alpha`` (B,K,H,N) and ``alpha' Omega_bar alpha`` (B,K,H)."""
        w = torch.sqrt(self._omega_diag())
        aw = self.alpha / w  # w^-1 alpha
        # Omega_bar alpha = w^-1 (D + L L') w^-1 alpha
        om_a = self.diag.pow(2) * aw
        if self.factor.shape[-1]:
            om_a = om_a + (self.factor @ (self.factor.transpose(-1, -2) @ aw.unsqueeze(-1))
                           ).squeeze(-1)
        om_bar_a = om_a / w
        return om_bar_a, (self.alpha * om_bar_a).sum(-1)

    @property
    def mean(self):
        """Mixture mean (needs ``nu > 1``): ``xi + w delta b_nu`` per component."""
        om_bar_a, a = self._delta_terms()
        delta = om_bar_a / torch.sqrt(1.0 + a).unsqueeze(-1)
        nu = self.df[:, :, None, None]
        b_nu = torch.sqrt(nu / math.pi) * torch.exp(torch.lgamma(0.5 * (nu - 1.0))
                                                    - torch.lgamma(0.5 * nu))
        comp = self.loc + torch.sqrt(self._omega_diag()) * delta * b_nu
        return (self.mixture_probs[:, :, None, None] * comp).sum(1)

    def sample_numpy(self, n, generator=None, gamma_rng=None, affine=None):
        """As :meth:`sample` with ``(n,)``, returned as a float64 ndarray (B, n, H, N)."""
        return self.sample((n,), generator, gamma_rng, affine, _to_numpy=True)

    def sample(self, sample_shape=torch.Size(), generator=None, gamma_rng=None,
               affine=None, _to_numpy=False):
        r"""Coherent sample paths, shape ``(*sample_shape, B, H, N)``.

        Stochastic representation (Azzalini & Capitanio 2003, Sec. 4):
        ``Y = xi + w Z / sqrt(V)``, ``V ~ chi2_nu / nu``, ``Z = delta |U0| + U1``,
        ``U1 ~ N(0, Omega_bar - delta delta')``, ``delta = Omega_bar alpha /
        sqrt(1 + alpha' Omega_bar alpha)``.  ``U1`` is obtained from ``X ~ N(0,
        Omega_bar)`` without any matrix square root: with ``c = Omega_bar^-1 delta =
        alpha / sqrt(1 + alpha' Omega_bar alpha)`` and ``q = delta' c``,
        ``U1 = X - beta delta c'X`` has covariance ``Omega_bar - delta delta'`` when
        ``beta = (1 - sqrt(1 - q)) / q`` (expand ``Cov(U1)``: ``2 beta - beta^2 q = 1``).
        This is the correct sampler for ``d > 1``; the common shortcut
        ``sqrt(1 - |delta|^2) z`` is not.  ``U0`` and ``X`` follow normalized Brownian
        motions over the horizon (``|U0|`` through the half-normal quantile of the
        Brownian latent, see the module docstring); the component and ``V`` are drawn
        once per path.

        Parameters
        ----------
        sample_shape : torch.Size
        generator : torch.Generator or None
            Source of the normals, of the component draw and of the row order.
        gamma_rng : numpy.random.Generator or None
            Source of the chi-square draws (torch's gamma sampler takes no generator);
            None derives one from ``generator``.
        affine : (loc, scale) tensors (B, N) or None
            Return ``loc + scale * y`` (observed units).
        """
        import numpy as np

        n = int(torch.Size(sample_shape).numel()) if len(sample_shape) else 1
        if gamma_rng is None:
            gamma_rng = np.random.default_rng(
                int(torch.randint(0, 2**62, (1,), generator=generator,
                                  device=generator.device if generator is not None
                                  else None).item()))
        with torch.no_grad():
            w_all = torch.sqrt(self._omega_diag())  # (B, K, H, N)
            om_bar_a, a = self._delta_terms()
            sq = torch.sqrt(1.0 + a)  # (B, K, H)
            delta = om_bar_a / sq.unsqueeze(-1)
            q = a / (1.0 + a)
            beta = torch.where(q > 1e-8, (1.0 - torch.sqrt((1.0 - q).clamp_min(0.0)))
                               / q.clamp_min(1e-8), torch.full_like(q, 0.5))
            nu_all = self.df.detach().double().cpu().numpy()

            def block(b, k, c, p):
                H, N = p["loc"].shape
                dev, dt = p["loc"].device, p["loc"].dtype
                # G = s * (D eps + L z) ~ N(0, s Omega s) in observed units, (H, c, N);
                # the Brownian latent of U0 comes from the same noise pass
                g, u0 = self._gaussian_block(c, p, generator, extra=1, centred=True)
                sw = p["scale"] * w_all[b, k]  # (H, N): observed-unit w
                sw_safe = torch.where(sw > 0, sw, torch.ones_like(sw))
                # c'X with X = G / (s w): weights alpha / (w s sqrt(1 + a))
                cvec = self.alpha[b, k] / sw_safe / sq[b, k, :, None]
                cx = torch.bmm(g, cvec.unsqueeze(-1))  # (H, c, 1)
                wd = (sw * delta[b, k]).unsqueeze(1)  # (H, 1, N)
                # |U0| as a half-normal *quantile transform* of the Brownian latent,
                # F_HN^-1(Phi(u)): exactly half-normal at every horizon, and nearly the
                # Brownian correlation across horizons (|u| would cut 0.5 to 0.22)
                hn = _half_normal_of(u0 * p["inv_sqrt_h"].unsqueeze(1))  # (H, c, 1)
                # s w Z = G - beta (s w delta) c'X + (s w delta) |U0|, in one pass
                g.addcmul_(wd, hn.sub_(beta[b, k, :, None, None] * cx))
                nu = nu_all[b, k]
                v = gamma_rng.standard_gamma(nu / 2.0, size=c) / (nu / 2.0)
                rv = torch.as_tensor(v, dtype=dt, device=dev).rsqrt_()[None, :, None]
                # xi + w Z / sqrt(V), in place (a fresh output would cost page faults)
                return g.mul_(rv).add_(p["loc"].unsqueeze(1))

            out = self._grouped(n, generator, affine, block, to_numpy=_to_numpy)
        if _to_numpy:
            return out
        return out.reshape(tuple(sample_shape) + out.shape[1:]) if len(sample_shape) else out[0]


# --------------------------------------------------------------------------------------
# Head modules: decoder features -> distribution parameters.
# --------------------------------------------------------------------------------------
class _HeadBase(nn.Module):
    """Maps per-target features (B, N, d) and pooled features (B, d) to parameters.

    Location and scale are anchored to a Brownian prior in normalized units:
    ``loc_h = anchor + sqrt(h) * step * raw`` and ``diag_h = sqrt(h) * step *
    softplus(raw)``, where ``anchor`` (B, N) is the normalized last value and ``step``
    (B, N) the normalized increment size (both supplied by the model).
    """

    n_per_target: int = 0  # per (component, horizon) and target: loc, diag, r loadings, ...

    def __init__(self, d_in: int, max_horizon: int, n_components: int, rank: int,
                 n_pooled_per_component: int):
        super().__init__()
        self.H, self.K, self.r = max_horizon, n_components, rank
        self.per_target = nn.Linear(d_in, n_components * max_horizon * self.n_per_target)
        self.pooled = nn.Linear(d_in, n_components * n_pooled_per_component)
        nn.init.normal_(self.per_target.weight, std=0.02 / math.sqrt(d_in))
        nn.init.zeros_(self.per_target.bias)
        nn.init.normal_(self.pooled.weight, std=0.02 / math.sqrt(d_in))
        nn.init.zeros_(self.pooled.bias)
        self.q, self.trust, self.trust_offset = 0, None, 0.0
        self.dependence_share = "diagonal"

    def add_empirical_dependence(self, rank, trust_offset: float = 0.0,
                                 dependence_share: str = "diagonal") -> None:
        """Add the trust map ``kappa`` of the empirical dependence path (``rank > 0`` or
        ``"full"``; the map does not depend on the rank), ``kappa = sigmoid(raw +
        trust_offset)``; ``dependence_share`` is the variance the path takes a share
        ``kappa`` of (see :class:`~jointdist.models.jointfm.JointFMConfig`)."""
        if dependence_share not in DEPENDENCE_SHARES:
            raise ValueError(f"dependence_share must be one of {DEPENDENCE_SHARES}; got "
                             f"{dependence_share!r}.")
        self.q = rank if rank == "full" else int(rank)
        self.trust_offset = float(trust_offset)
        self.dependence_share = dependence_share
        if self.q != 0:
            d_in = self.per_target.in_features
            self.trust = nn.Linear(d_in, self.K * self.H)
            nn.init.normal_(self.trust.weight, std=0.02 / math.sqrt(d_in))
            # start by trusting the context's correlation (kappa = sigmoid(2.5) = 0.92):
            # from 0 (kappa = 0.5) Adam moves a bias by at most ~lr per step, and a
            # warm-started run at lr 5e-4 was still at kappa ~ 0.75-0.85 after 1,400 steps
            nn.init.constant_(self.trust.bias, 2.5)

    def _common(self, h_var, anchor, step, mask, horizon, dependence=None, shift=None):
        B, N, _ = h_var.shape
        K, H = self.K, self.H
        raw = self.per_target(h_var).view(B, N, K, H, self.n_per_target)
        raw = raw[:, :, :, :horizon].permute(0, 2, 3, 1, 4)  # (B, K, h, N, p)
        sq = torch.sqrt(torch.arange(1, horizon + 1, dtype=h_var.dtype,
                                     device=h_var.device)).view(1, 1, -1, 1)
        unit = sq * step[:, None, None, :]  # (B, 1, h, N)
        m = mask[:, None, None, :].to(h_var.dtype)
        loc = (anchor[:, None, None, :] + unit * raw[..., 0]) * m
        if shift is not None:  # (B, h, N): the harmonic drift path, for every component
            loc = loc + shift[:, None] * m
        diag = unit * (F.softplus(raw[..., 1] + 0.5413) + 1e-3)  # softplus(0.5413) = 1
        factor = unit.unsqueeze(-1) * raw[..., 2:2 + self.r] * m.unsqueeze(-1)
        if self.q != 0:
            if dependence is None:
                raise ValueError("this head has an empirical dependence path; pass "
                                 "dependence (B, N, q).")
            logit = (self.trust(h_var).view(B, N, K, H)[:, :, :, :horizon]
                     .permute(0, 2, 3, 1) + self.trust_offset)  # (B, K, h, N)
            kappa = torch.sigmoid(logit)
            e = dependence * mask.unsqueeze(-1).to(dependence.dtype)  # (B, N, q)
            comm = e.pow(2).sum(-1)[:, None, None, :]  # (B, 1, 1, N), <= 1
            if self.dependence_share == "diagonal":
                # Split the variance s^2 of the diagonal part into an idiosyncratic share
                # and a share kappa * comm carried by the empirical loadings E (||E_i||^2
                # = comm_i): var_i is unchanged and the empirical part adds
                # sqrt(kappa_i kappa_j) s_i s_j E_i.E_j, so corr_ij is the context's
                # correlation shrunk by kappa *and* by the share s^2 / var of the
                # diagonal in the variance (the learned loadings F take the rest).
                emp = (diag * kappa.sqrt()).unsqueeze(-1) * e[:, None, None]  # (B,K,h,N,q)
                diag = diag * torch.sqrt((1.0 - kappa * comm).clamp_min(1e-4))
            else:
                # "total": the empirical part takes a share kappa of the whole variance
                # v_i = s_i^2 + ||F_i||^2, the learned part (diagonal and F) the rest:
                #   S = (1 - kappa) (D^2 + F F') + kappa diag(v)^1/2 E E' diag(v)^1/2
                #       + kappa diag(v (1 - comm)),
                # so var_i = v_i and corr_ij = (1 - kappa) corr^F_ij + kappa (E E')_ij
                # (per pair, with sqrt(kappa_i kappa_j)): at kappa = 1 the component's
                # correlation is the context's, not diluted by F.
                v = diag.pow(2) + factor.pow(2).sum(-1)  # (B, K, h, N)
                keep = torch.sigmoid(-logit)  # 1 - kappa, accurate near kappa = 1
                emp = (torch.sqrt(v * kappa)).unsqueeze(-1) * e[:, None, None]
                factor = factor * keep.clamp_min(1e-12).sqrt().unsqueeze(-1)
                # floor 1e-4 v: a positive-definite S even for a singular context
                diag = torch.sqrt(torch.maximum(keep * diag.pow(2)
                                                + kappa * v * (1.0 - comm), 1e-4 * v))
            factor = torch.cat([factor, emp], dim=-1)
        diag = diag * m + (1.0 - m)
        return raw, loc, diag, factor


class GaussianMixtureHead(_HeadBase):
    """Head returning a :class:`JointGaussianMixture` (weights, means, low-rank + diag)."""

    def __init__(self, d_in, max_horizon, n_components, rank):
        self.n_per_target = 2 + rank
        super().__init__(d_in, max_horizon, n_components, rank, 1)

    def forward(self, h_var, h_pool, anchor, step, mask, horizon, dependence=None,
                shift=None):
        _, loc, diag, factor = self._common(h_var, anchor, step, mask, horizon, dependence,
                                            shift)
        logits = self.pooled(h_pool)
        return JointGaussianMixture(logits, loc, diag, factor, mask)


class SkewTMixtureHead(_HeadBase):
    """Head returning a :class:`JointSkewTMixture` (weights, nu, xi, Omega, alpha).

    ``nu = 2 + (max_nu - 2) sigmoid(raw)`` keeps the covariance finite (as Toto's
    ``2 + softplus``, bounded above so that the CDF's continued fraction stays accurate).
    """

    def __init__(self, d_in, max_horizon, n_components, rank, max_nu=60.0, cf_iterations=40):
        self.n_per_target = 3 + rank
        super().__init__(d_in, max_horizon, n_components, rank, 2)
        self.max_nu, self.cf_iterations = max_nu, cf_iterations
        with torch.no_grad():  # start near nu = 8
            self.pooled.bias.view(self.K, 2)[:, 1] = math.log(6.0 / (max_nu - 8.0))

    def forward(self, h_var, h_pool, anchor, step, mask, horizon, dependence=None,
                shift=None):
        raw, loc, diag, factor = self._common(h_var, anchor, step, mask, horizon, dependence,
                                              shift)
        alpha = raw[..., 2 + self.r] * mask[:, None, None, :].to(raw.dtype)
        pooled = self.pooled(h_pool).view(-1, self.K, 2)
        df = 2.0 + (self.max_nu - 2.0) * torch.sigmoid(pooled[..., 1])
        return JointSkewTMixture(pooled[..., 0], df, loc, diag, factor, alpha, mask,
                                 self.cf_iterations)
