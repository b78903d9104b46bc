"""JointFM heads: Student-t CDF, Gaussian-mixture and skew-t mixture distributions."""

import math

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st
import torch

from jointdist.models.jointfm.heads import (
    JointGaussianMixture,
    JointSkewTMixture,
    betainc,
    brownian_normals,
    student_t_log_cdf,
)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


D64 = torch.float64


def _params(B, K, H, N, r, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, K, generator=g, dtype=D64)
    loc = torch.randn(B, K, H, N, generator=g, dtype=D64)
    diag = torch.rand(B, K, H, N, generator=g, dtype=D64) + 0.3
    factor = 0.7 * torch.randn(B, K, H, N, r, generator=g, dtype=D64)
    alpha = 2.0 * torch.randn(B, K, H, N, generator=g, dtype=D64)
    df = 2.5 + 10 * torch.rand(B, K, generator=g, dtype=D64)
    return logits, loc, diag, factor, alpha, df


def test_betainc_matches_scipy():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2000, generator=g, dtype=D64)
    a = 0.05 + 80 * torch.rand(2000, generator=g, dtype=D64)
    b = 0.05 + 10 * torch.rand(2000, generator=g, dtype=D64)
    ours = betainc(a, b, x).numpy()
    ref = sp.betainc(a.numpy(), b.numpy(), x.numpy())
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)
    assert betainc(2.0, 3.0, torch.tensor([0.0, 1.0], dtype=D64)).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("nu", [2.0, 3.3, 8.0, 30.0, 70.0, 160.0])
def test_student_t_log_cdf_matches_scipy(nu):
    t = torch.tensor(np.r_[np.linspace(-80, 80, 321), -1e4, 1e4, 0.0, 1e-9, -1e-9],
                     dtype=D64)
    ours = student_t_log_cdf(t, nu).numpy()
    ref = st.t.logcdf(t.numpy(), nu)
    assert np.isfinite(ours).all()  # scipy underflows to -inf far in the left tail
    ok = np.isfinite(ref)
    np.testing.assert_allclose(ours[ok], ref[ok], rtol=1e-9, atol=1e-12)


def test_student_t_log_cdf_gradients_are_finite_and_right():
    # (at exactly t = 0 the autograd gradient is 0, not pdf/cdf: the function is built
    # from t^2 and a sign branch -- a measure-zero point, left out here)
    t = torch.tensor([-30.0, -2.0, -1e-6, 1e-6, 0.5, 4.0], dtype=D64, requires_grad=True)
    nu = torch.tensor(5.0, dtype=D64, requires_grad=True)
    student_t_log_cdf(t, nu).sum().backward()
    assert torch.isfinite(t.grad).all() and torch.isfinite(nu.grad)
    # d/dt log T(t) = pdf / cdf
    x = t.detach().numpy()
    np.testing.assert_allclose(t.grad.numpy(), st.t.pdf(x, 5.0) / st.t.cdf(x, 5.0), rtol=1e-7)
    h = 1e-6  # d/dnu by finite differences
    fd = (st.t.logcdf(x, 5.0 + h) - st.t.logcdf(x, 5.0 - h)).sum() / (2 * h)
    assert abs(nu.grad.item() - fd) < 1e-5 * max(1.0, abs(fd))


def test_student_t_log_cdf_float32():
    t = torch.linspace(-50, 50, 101)
    err = np.abs(student_t_log_cdf(t, 12.0).double().numpy() - st.t.logcdf(t.numpy(), 12.0))
    assert err.max() < 1e-4


@pytest.mark.parametrize("with_mask", [False, True])
def test_gmm_log_prob_equals_torch_distributions(with_mask):
    B, K, H, N, r = 3, 4, 5, 6, 2
    logits, loc, diag, factor, _, _ = _params(B, K, H, N, r)
    mask = None
    n_real = [N] * B
    if with_mask:
        n_real = [6, 3, 1]
        mask = torch.arange(N)[None, :] < torch.tensor(n_real)[:, None]
        m = mask[:, None, None, :].to(D64)
        loc, factor = loc * m, factor * m[..., None]
        diag = diag * m + (1 - m)
    dist = JointGaussianMixture(logits, loc, diag, factor, mask)
    y = torch.randn(7, B, H, N, dtype=D64)
    ours = dist.log_prob(y)
    assert ours.shape == (7, B, H)
    for b in range(B):
        n = n_real[b]
        cov = torch.diag_embed(diag[b, ..., :n] ** 2) + factor[b, ..., :n, :] @ \
            factor[b, ..., :n, :].transpose(-1, -2)  # (K, H, n, n)
        ref = torch.distributions.MixtureSameFamily(
            torch.distributions.Categorical(logits=logits[b].unsqueeze(0).expand(H, K)),
            torch.distributions.MultivariateNormal(loc[b, ..., :n].transpose(0, 1),
                                                   covariance_matrix=cov.transpose(0, 1)))
        np.testing.assert_allclose(ours[:, b].numpy(), ref.log_prob(y[:, b, :, :n]).numpy(),
                                   rtol=1e-10, atol=1e-10)


def _skewt_density_1d(y, xi, omega, alpha, nu):
    z = (y - xi) / omega
    return 2 / omega * st.t.pdf(z, nu) * st.t.cdf(alpha * z * np.sqrt((nu + 1) / (z**2 + nu)),
                                                  nu + 1)


def test_skewt_1d_matches_closed_form_and_integrates_to_one():
    xi, omega, alpha, nu = 0.3, 1.7, -3.0, 4.5
    t = lambda v: torch.tensor(v, dtype=D64)  # noqa: E731
    dist = JointSkewTMixture(torch.zeros(1, 1, dtype=D64), t([[nu]]), t(xi).view(1, 1, 1, 1),
                             t(omega).view(1, 1, 1, 1), torch.zeros(1, 1, 1, 1, 0, dtype=D64),
                             t(alpha).view(1, 1, 1, 1))
    grid = np.linspace(-400, 400, 40_001)
    dens = np.exp(dist.log_prob(torch.tensor(grid).view(-1, 1, 1, 1)).numpy().ravel())
    np.testing.assert_allclose(dens[::100], _skewt_density_1d(grid[::100], xi, omega, alpha,
                                                               nu), rtol=1e-9, atol=1e-300)
    assert abs(np.trapezoid(dens, grid) - 1.0) < 2e-3  # tails beyond +-400 hold ~1e-3


def test_skewt_2d_integrates_to_one_mixture():
    logits, loc, diag, factor, alpha, df = _params(1, 2, 1, 2, 1, seed=3)
    df = df + 3.0  # lighter tails so that the grid captures the mass
    dist = JointSkewTMixture(logits, df, loc, diag, factor, alpha)
    g = np.linspace(-25, 25, 201)
    X, Y = np.meshgrid(g, g, indexing="ij")
    pts = torch.tensor(np.stack([X, Y], -1).reshape(-1, 1, 1, 2))
    dens = np.exp(dist.log_prob(pts).numpy()).reshape(X.shape)
    mass = np.trapezoid(np.trapezoid(dens, g, axis=1), g)
    assert abs(mass - 1.0) < 5e-3


def test_skewt_sample_moments_match_closed_form():
    B, K, H, N, r = 1, 1, 3, 3, 2
    _, loc, diag, factor, alpha, _ = _params(B, K, H, N, r, seed=5)
    nu = 7.0
    dist = JointSkewTMixture(torch.zeros(1, 1, dtype=D64), torch.tensor([[nu]], dtype=D64),
                             loc, diag, factor, alpha)
    x = dist.sample((100_000,), generator=torch.Generator().manual_seed(0),
                    gamma_rng=np.random.default_rng(0))[:, 0]  # (n, H, N)
    om = torch.diag_embed(diag ** 2) + factor @ factor.transpose(-1, -2)
    w = torch.sqrt(torch.diagonal(om, dim1=-2, dim2=-1))
    om_bar = om / w[..., :, None] / w[..., None, :]
    a = (alpha[..., None, :] @ om_bar @ alpha[..., :, None])[..., 0, 0]
    delta = (om_bar @ alpha[..., None])[..., 0] / torch.sqrt(1 + a)[..., None]
    b_nu = math.sqrt(nu / math.pi) * math.exp(math.lgamma((nu - 1) / 2) - math.lgamma(nu / 2))
    mean = loc + w * delta * b_nu  # Azzalini & Capitanio (2003), Sec. 4
    cov = nu / (nu - 2) * om - b_nu**2 * (w * delta)[..., :, None] * (w * delta)[..., None, :]
    np.testing.assert_allclose(x.mean(0).numpy(), mean[0, 0].numpy(), atol=0.05)
    np.testing.assert_allclose(dist.mean[0].numpy(), mean[0, 0].numpy(), rtol=1e-10)
    for h in range(H):
        emp = np.cov(x[:, h].numpy().T)
        np.testing.assert_allclose(emp, cov[0, 0, h].numpy(), atol=0.1 * cov[0, 0, h].abs().max()
                                   .item())


def test_gmm_sample_moments_and_affine():
    B, K, H, N, r = 2, 3, 4, 3, 2
    logits, loc, diag, factor, _, _ = _params(B, K, H, N, r, seed=7)
    dist = JointGaussianMixture(logits, loc, diag, factor)
    aff_loc, aff_scale = torch.randn(B, N, dtype=D64), torch.rand(B, N, dtype=D64) + 0.5
    x = dist.sample((50_000,), generator=torch.Generator().manual_seed(1),
                    affine=(aff_loc, aff_scale))
    assert x.shape == (50_000, B, H, N)
    expect = aff_loc[:, None] + aff_scale[:, None] * dist.mean
    np.testing.assert_allclose(x.mean(0).numpy(), expect.numpy(), atol=0.06)


@pytest.mark.parametrize("cls", ["gmm", "skewt"])
def test_paths_have_brownian_correlation_over_horizons(cls):
    """A Brownian law per horizon (mean 0, variance h) gives corr sqrt(h1/h2) on paths."""
    H, N = 30, 2
    sd = torch.arange(1, H + 1, dtype=D64).sqrt().view(1, 1, H, 1).expand(1, 1, H, N)
    zeros = torch.zeros(1, 1, H, N, dtype=D64)
    if cls == "gmm":
        dist = JointGaussianMixture(torch.zeros(1, 1, dtype=D64), zeros, sd.clone(),
                                    torch.zeros(1, 1, H, N, 0, dtype=D64))
    else:  # symmetric, nearly Gaussian skew-t
        dist = JointSkewTMixture(torch.zeros(1, 1, dtype=D64), torch.tensor([[1e6]], dtype=D64),
                                 zeros, sd.clone(), torch.zeros(1, 1, H, N, 0, dtype=D64), zeros)
    x = dist.sample((40_000,), generator=torch.Generator().manual_seed(2))[:, 0, :, 0].numpy()
    for h1, h2 in [(1, 2), (3, 12), (5, 30), (15, 20)]:
        corr = np.corrcoef(x[:, h1 - 1], x[:, h2 - 1])[0, 1]
        assert abs(corr - math.sqrt(h1 / h2)) < 0.02
    np.testing.assert_allclose(x.var(0) / np.arange(1, H + 1), 1.0, atol=0.05)


def test_samples_are_in_random_order_across_components():
    """Rows are shuffled: the first half holds both components in their proportions."""
    loc = torch.tensor([-100.0, 100.0], dtype=D64).view(1, 2, 1, 1)
    dist = JointGaussianMixture(torch.zeros(1, 2, dtype=D64), loc, torch.ones(1, 2, 1, 1,
                                dtype=D64), torch.zeros(1, 2, 1, 1, 0, dtype=D64))
    x = dist.sample((4000,), generator=torch.Generator().manual_seed(0))[:, 0, 0, 0]
    assert 0.45 < (x[:200] > 0).double().mean() < 0.75
    assert 0.45 < (x > 0).double().mean() < 0.55


def test_brownian_normals_are_standard():
    u = brownian_normals((50_000, 10), 1, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(u.var(0).numpy(), 1.0, atol=0.03)


@pytest.mark.parametrize("n_targets", [2, 40])  # dense Cholesky path; loadings path
def test_factor_signs_are_aligned_across_horizons(n_targets):
    """Loadings whose sign flips between horizons (same laws) still give coherent paths."""
    H, N = 12, n_targets
    h = torch.arange(1, H + 1, dtype=D64)
    sign = (-1.0) ** h
    factor = (sign * h.sqrt()).view(1, 1, H, 1, 1).expand(1, 1, H, N, 1).clone()
    diag = torch.full((1, 1, H, N), 1e-3, dtype=D64)
    dist = JointGaussianMixture(torch.zeros(1, 1, dtype=D64), torch.zeros(1, 1, H, N,
                                dtype=D64), diag, factor)
    x = dist.sample((20_000,), generator=torch.Generator().manual_seed(0))[:, 0, :, 0].numpy()
    for h1, h2 in [(1, 2), (3, 12)]:
        assert abs(np.corrcoef(x[:, h1 - 1], x[:, h2 - 1])[0, 1] - math.sqrt(h1 / h2)) < 0.02
    np.testing.assert_allclose(x.var(0) / h.numpy(), 1.0, atol=0.05)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_half_normal_transform_is_accurate_and_finite_in_the_tails(dtype):
    """|U0|'s quantile transform must stay finite: a float32 ndtr-based form returned
    inf from u ~ 5.5 (about 2 draws in 10^8), which put an infinite path in a forecast."""
    from scipy.stats import halfnorm, norm

    from jointdist.models.jointfm.heads import _half_normal_of

    u = np.linspace(-9.0, 12.0, 2001)
    ref = np.where(u > 0, halfnorm.isf(norm.sf(u)), halfnorm.ppf(norm.cdf(u)))
    got = _half_normal_of(torch.tensor(u, dtype=dtype)).double().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype == torch.float32 else 1e-12,
                               atol=1e-6 if dtype == torch.float32 else 1e-14)
    far = _half_normal_of(torch.tensor([20.0, 50.0, 1e6], dtype=dtype))
    assert torch.isfinite(far).all() and torch.all(far > 8)


def test_woodbury_with_sample_dimensions_equals_one_vector_at_a_time():
    """Futures in front of the parameters' dimensions go into one right-hand side per
    (B, K, H); values and gradients are those of scoring each future on its own."""
    from jointdist.models.jointfm.heads import _lowrank_quad_logdet

    g = torch.Generator().manual_seed(0)
    B, K, H, N, r, S = 2, 3, 4, 5, 7, 6  # r > N: the full-rank empirical path
    diag = torch.rand(B, K, H, N, generator=g) + 0.1
    factor = torch.randn(B, K, H, N, r, generator=g, requires_grad=True)
    e = torch.randn(S, B, K, H, N, generator=g)
    quad, logdet = _lowrank_quad_logdet(e, diag, factor)
    (quad.sum() + S * logdet.sum()).backward()  # what S separate calls add up to
    grad = factor.grad.clone()
    factor.grad = None
    one = [_lowrank_quad_logdet(e[s], diag, factor) for s in range(S)]
    torch.testing.assert_close(quad, torch.stack([q for q, _ in one]))
    for _, ld in one:  # the log-determinant has the parameters' shape
        torch.testing.assert_close(logdet, ld)
    sum(q.sum() + ld.sum() for q, ld in one).backward()
    torch.testing.assert_close(grad, factor.grad)
    # against the dense covariance
    cov = torch.diag_embed(diag.double() ** 2) + factor.double() @ factor.double().mT
    dense = (e.double().unsqueeze(-2) @ torch.linalg.solve(cov, e.double().unsqueeze(-1)))
    torch.testing.assert_close(quad.double(), dense[..., 0, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logdet.double(), torch.logdet(cov), rtol=1e-5, atol=1e-5)
