"""Statistical tests of the diffusion-copula model (slow: each trains a network).

Each test uses fixed seeds; the comments give the Monte Carlo standard errors that the
tolerances are measured against.
"""

import numpy as np
import pytest
from scipy import special, stats

from jointdist.models.diffusion_copula import (
    ClassificationDiffusionCopula,
    DiffusionCopulaForecaster,
    GaussianCopula,
    pit_ks_test,
    tail_co_exceedance,
)

pytestmark = pytest.mark.slow


def _gaussian_copula_data(n, rho, seed):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n)
    return special.ndtr(z)


def _t_copula_data(n, rho, nu, seed):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n)
    w = np.sqrt(rng.chisquare(nu, size=(n, 1)) / nu)
    return special.stdtr(nu, z / w)


def test_cdc_recovers_kendall_tau_of_gaussian_copula():
    # Truth: tau = 2/pi arcsin(0.7) = 0.4936.  Monte Carlo error of the sample tau:
    # 0.0085 at n = 3000 (100 replications of a Gaussian copula with rho = 0.7), so
    # the training set (n = 3000) and the 10,000 model samples (sd about 0.005)
    # together contribute about 0.01; the tolerance 0.05 is five of those, leaving
    # room for the discretisation bias of the 20-time reverse ODE (the default
    # sampler; +0.001 to +0.015 in tau over 4 training seeds, see the docs).
    rho = 0.7
    u = _gaussian_copula_data(3000, rho, seed=0)
    cdc = ClassificationDiffusionCopula(random_state=0).fit(u)
    samples = cdc.sample(10_000, rng=1)
    tau = stats.kendalltau(samples[:, 0], samples[:, 1])[0]
    truth = 2 / np.pi * np.arcsin(rho)
    print(f"Kendall tau: CDC samples {tau:.4f}, truth {truth:.4f}")
    assert abs(tau - truth) < 0.05, (tau, truth)
    # marginals of the samples stay uniform (KS at n = 10,000 detects 0.017 shifts)
    for j in range(2):
        assert stats.kstest(samples[:, j], "uniform").statistic < 0.03
    # and the copula log-density is learned: its mean on fresh data estimates the
    # mutual information -0.5 log(1 - rho^2) = 0.337 (sd of the mean over 5000 points
    # is about 0.01)
    fresh = _gaussian_copula_data(5000, rho, seed=2)
    mean_log_c = cdc.log_density(fresh).mean()
    print(f"mean log c on fresh data: {mean_log_c:.3f} (truth 0.337)")
    assert 0.2 < mean_log_c < 0.45, mean_log_c


def test_cdc_lower_tail_co_exceedance_beats_gaussian_on_t_copula():
    # Student-t copula, nu = 3, rho = 0.5: P(U1 < .05, U2 < .05) = 0.0183 (2e6 draws),
    # while a Gaussian copula fitted to the same data gives about 0.0118: a gap of
    # 0.0065.  The model estimates from 20,000 samples have sd sqrt(0.015 / 20000) =
    # 0.0009, so the comparison below is decided by the models, not by sampling noise.
    rho, nu, q = 0.5, 3, 0.05
    u = _t_copula_data(4000, rho, nu, seed=0)
    truth = tail_co_exceedance(_t_copula_data(1_000_000, rho, nu, seed=99), q,
                               thresholds=q)[0, 1]
    gauss = GaussianCopula().fit(u)
    cdc = ClassificationDiffusionCopula(random_state=0).fit(u)
    p_gauss = tail_co_exceedance(gauss.sample(20_000, rng=1), q, thresholds=q)[0, 1]
    p_cdc = tail_co_exceedance(cdc.sample(20_000, rng=1), q, thresholds=q)[0, 1]
    print(f"lower-tail co-exceedance at {q}: truth {truth:.4f}, CDC {p_cdc:.4f}, "
          f"Gaussian {p_gauss:.4f}")
    assert abs(p_cdc - truth) < abs(p_gauss - truth), (truth, p_cdc, p_gauss)


def _garch_t_returns(n_obs, n_series, seed):
    """Independent GARCH(1,1) series with standardized Student-t(5) innovations (arch)."""
    from arch.univariate import GARCH, StudentsT, ZeroMean

    params = np.array([0.05, 0.10, 0.85, 5.0])  # omega, alpha, beta, nu
    rng = np.random.default_rng(seed)
    cols = []
    for _ in range(n_series):
        model = ZeroMean(volatility=GARCH(), distribution=StudentsT(seed=rng))
        cols.append(model.simulate(params, n_obs, burn=500)["data"].to_numpy())
    return np.column_stack(cols)


def test_marginal_pit_is_uniform_out_of_sample_on_garch_t():
    # GARCH(1,1) with Student-t(5) innovations, two independent series.  The MDN is
    # fitted on the first 1500 returns and judged on the next 1000, which it has not
    # seen: conditional PIT values u_t = F(y_t | y_{t-14..t-1}) must be uniform.
    returns = _garch_t_returns(2500, 2, seed=0)
    model = DiffusionCopulaForecaster(copula="gaussian", returns=None, random_state=0)
    model.fit(returns[:1500])
    pit = model.marginal_pit(returns)[-1000:]
    _, pvalues = pit_ks_test(pit)
    print("KS p-values of the out-of-sample PIT:", pvalues)
    assert np.all(pvalues > 0.01 / 2), pvalues  # 1 % level, Bonferroni over 2 series
    # the KS check has power at this sample size: the same data judged by a model
    # whose scales are 30 % too small (a plausible under-dispersion) is rejected
    shrunk = model.marginal_pit(np.concatenate([returns[:1500], returns[1500:] * 1.3]))
    assert np.all(pit_ks_test(shrunk[-1000:])[1] < 0.01)


def _clayton_u(n, d, theta, seed):
    rng = np.random.default_rng(seed)
    v = rng.gamma(1.0 / theta, 1.0, size=(n, 1))
    return (1.0 + rng.exponential(size=(n, d)) / v) ** (-1.0 / theta)


def test_cdc_lower_tail_dependence_beats_parametric_copulas_on_clayton():
    # Clayton(theta = 2), d = 3: lambda(0.05) = C(q, q) / q = (2 q^-2 - 1)^(-1/2) / q
    # = 0.707 at q = 0.05 and no upper-tail dependence.  A fitted Gaussian copula gives
    # about 0.35 and a Student-t copula about 0.5 (symmetric tails); the sd of each
    # model's estimate from 20,000 samples is about sqrt(0.7 * 0.3 / 1000) = 0.015.
    from jointdist.models.diffusion_copula import StudentTCopula, tail_dependence

    q, d = 0.05, 3
    u = _clayton_u(1500, d, 2.0, seed=0)
    truth = (2 * q**-2.0 - 1) ** -0.5 / q
    off = ~np.eye(d, dtype=bool)

    def lam(samples, tail="lower"):
        return tail_dependence(samples, q, tail=tail, thresholds=q if tail == "lower"
                               else 1 - q)[off].mean()

    cdc = ClassificationDiffusionCopula(random_state=0).fit(u)
    s_cdc = cdc.sample(20_000, rng=1)
    errors = {"cdc": abs(lam(s_cdc) - truth),
              "gaussian": abs(lam(GaussianCopula().fit(u).sample(20_000, rng=1)) - truth),
              "student-t": abs(lam(StudentTCopula().fit(u).sample(20_000, rng=1)) - truth)}
    print("lambda(0.05) errors:", errors, "truth", truth)
    assert errors["cdc"] < min(errors["gaussian"], errors["student-t"]), errors
    # and the asymmetry: the CDC's upper tail is much weaker than its lower tail
    assert lam(s_cdc, "upper") < lam(s_cdc) - 0.2
