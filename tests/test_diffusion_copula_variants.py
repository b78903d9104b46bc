"""Seed 002 variants and diagnostics: full-covariance OU copula, Student-t copula,
the ODE samplers, joint-extreme CRPS, tail-event accuracy and the black-swan view."""

import numpy as np
import pytest
import torch
from scipy import special, stats

from jointdist.models.diffusion_copula import (
    ClassificationDiffusionCopula,
    GaussianCopula,
    StudentTCopula,
    black_swan_curve,
    crps_ensemble,
    crps_on_joint_extremes,
    joint_extreme_steps,
    mahalanobis_surprise,
    plot_black_swan,
    tail_event_accuracy,
)


def _gauss_u(n, corr, seed):
    rng = np.random.default_rng(seed)
    return special.ndtr(rng.multivariate_normal(np.zeros(len(corr)), corr, size=n))


def _t_u(n, rho, nu, seed):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return special.stdtr(nu, z / np.sqrt(rng.chisquare(nu, size=(n, 1)) / nu))


CORR3 = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]])


# ------------------------------------------------------------------ full-covariance OU
@pytest.fixture(scope="module")
def full_cdc():
    u = _gauss_u(600, CORR3, seed=0)
    cdc = ClassificationDiffusionCopula(covariance="full", max_steps=40, eval_every=20,
                                        n_times=6, random_state=0).fit(u)
    return cdc, u


def test_full_covariance_cdc_with_a_null_classifier_is_the_gaussian_copula(full_cdc):
    cdc, u = full_cdc
    # the OU noise has the correlation of the training rows' normal scores
    n_train = 600 - round(0.15 * 600)
    ref = GaussianCopula(clip=cdc.clip).fit(u[:n_train])
    np.testing.assert_allclose(cdc.noise_covariance_, ref.correlation_)
    null = ClassificationDiffusionCopula(covariance="full", max_steps=40, eval_every=20,
                                         n_times=6, random_state=0).fit(u)
    with torch.no_grad():  # F_s = 0: the classifier adds nothing to N(0, Sigma)
        null.model_.out.weight.zero_()
        null.model_.out.bias.zero_()
    np.testing.assert_allclose(null.log_density(u[:50]), ref.log_density(u[:50]),
                               rtol=1e-5, atol=1e-5)
    # ... and every sampler keeps N(0, Sigma) (the score is exactly -Sigma^{-1} x).
    # sd of a correlation estimate from 4000 draws: (1 - rho^2) / sqrt(4000) <= 0.016
    for sampler in ("ode", "heun", "ancestral", "langevin"):
        null.set_params(sampler=sampler, langevin_steps=3)
        z = special.ndtri(null.sample(4000, rng=1))
        assert np.abs(np.corrcoef(z.T) - ref.correlation_).max() < 0.06, sampler
        assert abs(z.std() - 1) < 0.05, sampler


def test_metropolis_adjusted_langevin_targets_the_cdc_density():
    # identity OU, null classifier: the CDC density is the independence copula, and
    # MALA at t_0 started far from it (all at z = 3) must relax to N(0, I) whatever
    # the step size; unadjusted steps of the same size inflate the variance.
    u = _gauss_u(300, np.eye(2), seed=4)
    cdc = ClassificationDiffusionCopula(max_steps=5, n_times=6, metropolis=True,
                                        random_state=0).fit(u)
    with torch.no_grad():
        cdc.model_.out.weight.zero_()
        cdc.model_.out.bias.zero_()
    gen = torch.Generator().manual_seed(0)
    x0 = torch.full((1500, 2), 3.0)
    z = cdc._mala(x0, 60, 0.8, gen).numpy()
    # sd of the mean of 1500 draws: 0.026; of their variance: 0.037
    assert np.abs(z.mean(0)).max() < 0.12 and np.abs(z.var(0) - 1).max() < 0.16
    assert 0.3 < cdc.acceptance_rate_ < 1.0
    ula = x0
    for _ in range(60):
        ula = ula - 0.8 * ula + np.sqrt(1.6) * torch.randn(ula.shape, generator=gen)
    assert ula.numpy().var(0).min() > 1.5  # ULA's stationary variance 1 / (1 - 0.4)
    s = cdc.set_params(sampler="langevin", langevin_steps=2).sample(20, rng=0)
    np.testing.assert_array_equal(s, cdc.sample(20, rng=0))


def test_full_covariance_cdc_shapes_determinism_and_validation(full_cdc):
    cdc, u = full_cdc
    assert cdc.log_density(u[:7]).shape == (7,)
    assert np.all(np.isfinite(cdc.log_density(u[:7])))
    np.testing.assert_array_equal(cdc.sample(50, rng=3), cdc.sample(50, rng=3))
    s = cdc.sample(50, rng=3)
    assert s.shape == (50, 3) and np.all((s > 0) & (s < 1))
    with pytest.raises(ValueError, match="covariance"):
        ClassificationDiffusionCopula(covariance="diag").fit(u)


def test_full_covariance_cdc_pickles(full_cdc):
    import pickle

    cdc, u = full_cdc
    again = pickle.loads(pickle.dumps(cdc))
    np.testing.assert_array_equal(again.log_density(u[:5]), cdc.log_density(u[:5]))


# ------------------------------------------------------------------ Student-t copula
def test_student_t_copula_recovers_correlation_and_df():
    u = _t_u(3000, 0.6, 4, seed=0)
    cop = StudentTCopula().fit(u)
    # sd of the tau-inverted correlation at n = 3000 is about 0.012
    assert abs(cop.correlation_[0, 1] - 0.6) < 0.05
    assert 3 <= cop.df_ <= 6
    x = special.stdtrit(cop.df_, u[:10])
    expected = (stats.multivariate_t([0, 0], cop.correlation_, df=cop.df_).logpdf(x)
                - stats.t(cop.df_).logpdf(x).sum(1))
    np.testing.assert_allclose(cop.log_density(u[:10]), expected, rtol=1e-10)
    s = cop.sample(20000, rng=1)
    # lower-tail co-exceedance at 5 %: truth about 0.021 for (0.6, 4); sd 0.001
    joint = np.mean((s[:, 0] < 0.05) & (s[:, 1] < 0.05))
    assert 0.016 < joint < 0.027
    with pytest.raises(ValueError, match="not fitted"):
        StudentTCopula().sample(3)


# ------------------------------------------------------------------ diagnostics
def test_crps_ensemble_matches_properscoring(rng):
    import properscoring

    ens = rng.standard_t(4, size=300)
    y = rng.normal(scale=2.0, size=40)
    np.testing.assert_allclose(crps_ensemble(ens, y),
                               properscoring.crps_ensemble(y, np.broadcast_to(ens, (40, 300))),
                               rtol=1e-10)
    per_obs = rng.normal(size=(40, 50))
    np.testing.assert_allclose(crps_ensemble(per_obs, y),
                               properscoring.crps_ensemble(y, per_obs), rtol=1e-10)


def test_joint_extremes_and_their_crps_see_the_dependence(rng):
    # comonotone observations: every tail event is joint; a comonotone forecast has
    # a smaller portfolio CRPS on those steps than an independent one with the same
    # marginals, while the per-target CRPS is the same
    n, d = 4000, 4
    common = rng.standard_normal(n)
    y = np.repeat(common[:, None], d, axis=1)
    mask = joint_extreme_steps(y, q=0.05, min_count=3)
    assert abs(mask.mean() - 0.10) < 0.01
    lines = (np.full(d, -1.645), np.full(d, 1.645))
    assert joint_extreme_steps(np.zeros((3, d)), thresholds=lines).sum() == 0
    como = np.repeat(rng.standard_normal(5000)[:, None], d, axis=1)
    indep = rng.standard_normal((5000, d))
    a = crps_on_joint_extremes(como, y, thresholds=lines)
    b = crps_on_joint_extremes(indep, y, thresholds=lines)
    assert a["n_steps"] == b["n_steps"] == joint_extreme_steps(y, thresholds=lines).sum()
    assert a["crps_portfolio"] < 0.9 * b["crps_portfolio"]  # measured 1.51 vs 1.77
    assert abs(a["crps_mean"] - b["crps_mean"]) < 0.05 * b["crps_mean"]
    none = crps_on_joint_extremes(indep, np.zeros((5, d)), thresholds=lines)
    assert none["n_steps"] == 0 and np.isnan(none["crps_portfolio"])


def test_tail_event_accuracy_counts_recalled_events():
    y = np.array([[0.1, -0.2], [0.02, 0.3], [0.3, 0.01], [0.0, 0.5]])
    yh = np.array([[0.2, 0.0], [0.0, 0.0], [0.01, 0.0], [0.0, 0.4]])
    np.testing.assert_allclose(tail_event_accuracy(y, yh, 0.05), [0.5, 0.5])
    np.testing.assert_allclose(tail_event_accuracy(y, yh, -0.1, tail="lower"), [np.nan, 0.0])
    with pytest.raises(ValueError, match="same shape"):
        tail_event_accuracy(y, yh[:2], 0.05)


def test_mahalanobis_surprise_and_black_swan_views(rng):
    corr = np.array([[1.0, 0.8], [0.8, 1.0]])
    samples = rng.multivariate_normal([0, 0], corr, size=20000)
    obs = rng.multivariate_normal([0, 0], corr, size=3000)
    magnitude, distance = mahalanobis_surprise(samples, obs)
    np.testing.assert_allclose(magnitude, np.abs(obs).sum(1))
    # distance^2 ~ chi2(2): mean 2 (sd of the mean 0.04)
    assert abs(np.mean(distance**2) - 2.0) < 0.15
    # a joint crash is less surprising to the correlated forecast than to an
    # independent one with the same marginals
    crash = np.array([[-3.0, -3.0]])
    _, d_corr = mahalanobis_surprise(samples, crash)
    _, d_ind = mahalanobis_surprise(rng.standard_normal((20000, 2)), crash)
    assert d_corr[0] < 0.8 * d_ind[0]
    expected, observed = black_swan_curve(rng.uniform(size=(20000, 2)))
    np.testing.assert_allclose(observed, expected, atol=0.01)
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = plot_black_swan(magnitude, distance, n_dims=2, label="model")
    assert ax.get_ylabel().startswith("Mahalanobis")
    with pytest.raises(ValueError, match="levels"):
        black_swan_curve(rng.uniform(size=10), levels=(1.5,))


def test_threshold_weighted_crps_is_the_weighted_integral(rng):
    from jointdist.models.diffusion_copula import threshold_weighted_crps

    ens = rng.normal(size=40)
    y = np.array([-2.5, -0.3, 1.2])
    np.testing.assert_allclose(threshold_weighted_crps(ens, y, 1e9), crps_ensemble(ens, y))
    grid = np.linspace(-12, 12, 240_001)
    cdf = np.searchsorted(np.sort(ens), grid, side="right") / ens.size
    for tail, r in (("lower", -0.5), ("upper", 0.4)):
        w = grid <= r if tail == "lower" else grid >= r
        want = [np.trapezoid(w * (cdf - (yy <= grid)) ** 2, grid) for yy in y]
        np.testing.assert_allclose(threshold_weighted_crps(ens, y, r, tail=tail), want,
                                   atol=2e-4)
