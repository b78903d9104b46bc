"""Tests of DCCGarchForecaster (issue 5): stage 1 against arch, stage 2 against an
independent loop implementation and known parameters, simulation against the model's
own one-step covariance and arch's variance forecasts, and failure handling."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from jointdist.models.dcc_garch import DCCGarchForecaster, dcc_loglikelihood, fit_dcc
from jointdist.models.dcc_garch import dcc as dcc_module
from jointdist.models.dcc_garch.dcc import correlation_sqrt, dcc_q_path, draw_correlated_shocks
from jointdist.models.dcc_garch.univariate import build_arch_model

QBAR = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, -0.2], [0.3, -0.2, 1.0]])
OMEGA = np.array([0.05, 0.10, 0.02])
ALPHA = np.array([0.05, 0.08, 0.04])
BETA = np.array([0.90, 0.85, 0.94])


def simulate_dcc(n_obs, a, b, seed, *, nu=None, burn=500, qbar=QBAR, omega=OMEGA,
                 alpha=ALPHA, beta=BETA):
    """Returns of a DCC(1,1)-GARCH(1,1) process, written as a plain loop over time.

    Deliberately independent of the library's vectorized code.  ``nu`` gives
    multivariate Student-t shocks with unit variance.
    """
    rng = np.random.default_rng(seed)
    n = qbar.shape[0]
    q = qbar.copy()
    sigma2 = omega / (1 - alpha - beta)
    z_prev = eps = None
    out = np.empty((n_obs + burn, n))
    for t in range(n_obs + burn):
        if t > 0:
            q = (1 - a - b) * qbar + a * np.outer(z_prev, z_prev) + b * q
            sigma2 = omega + alpha * eps**2 + beta * sigma2
        d = 1 / np.sqrt(np.diag(q))
        z = np.linalg.cholesky(q * np.outer(d, d)) @ rng.standard_normal(n)
        if nu is not None:
            z = z * np.sqrt((nu - 2) / rng.chisquare(nu))
        eps = np.sqrt(sigma2) * z
        out[t] = eps
        z_prev = z
    return out[burn:]


def loop_dcc_loglikelihood(e, a, b):
    """Engle (2002) correlation part L_C (docs eq. (6)), one matrix at a time."""
    qbar = np.corrcoef(e, rowvar=False)
    q = qbar.copy()
    total = 0.0
    for t in range(e.shape[0]):
        if t > 0:
            q = (1 - a - b) * qbar + a * np.outer(e[t - 1], e[t - 1]) + b * q
        d = 1 / np.sqrt(np.diag(q))
        r = q * np.outer(d, d)
        total += -0.5 * (np.linalg.slogdet(r)[1] + e[t] @ np.linalg.solve(r, e[t])
                         - e[t] @ e[t])
    return total, r, q


@pytest.fixture(scope="module")
def dcc_returns():
    return simulate_dcc(2000, 0.05, 0.90, seed=0)


@pytest.fixture(scope="module")
def fitted(dcc_returns):
    return DCCGarchForecaster(returns=None, random_state=0).fit(dcc_returns)


# ------------------------------------------------------------------ stage 1
@pytest.mark.parametrize("kwargs", [{}, {"dist": "t"}, {"asymmetric": True, "mean": "zero"},
                                    {"asymmetric": True, "dist": "t"}])
def test_garch_params_equal_arch_fit_of_same_series(dcc_returns, kwargs):
    x = dcc_returns[:1000] * 3.0 + 0.1
    model = DCCGarchForecaster(returns=None, **kwargs).fit(x)
    for i in range(x.shape[1]):
        scale = model.scale_[i]
        assert scale == pytest.approx(np.std(x[:, i]))
        # like with like: arch on the same rescaled series, same specification
        res = build_arch_model(x[:, i] / scale, **kwargs).fit(disp="off")
        ours = model.garch_params_.iloc[i]
        expected = {"mu": res.params.get("mu", 0.0) * scale,
                    "omega": res.params["omega"] * scale**2, "alpha": res.params["alpha[1]"],
                    "beta": res.params["beta[1]"]}
        if "gamma[1]" in res.params:
            expected["gamma"] = res.params["gamma[1]"]
        if "nu" in res.params:
            expected["nu"] = res.params["nu"]
        assert set(ours.index) == set(expected)
        for key, value in expected.items():
            assert ours[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        np.testing.assert_allclose(model.conditional_volatility_[:, i],
                                   res.conditional_volatility * scale, rtol=1e-9)
        np.testing.assert_allclose(model.standardized_residuals_[:, i], res.std_resid,
                                   rtol=1e-9)
        # arch's log-likelihood moved to the units of x (Jacobian of x -> x / scale)
        assert model.garch_loglikelihood_.iloc[i] == pytest.approx(
            res.loglikelihood - len(x) * np.log(scale), rel=1e-10)


@pytest.mark.parametrize("kwargs", [{}, {"asymmetric": True}])
def test_garch_params_match_arch_on_unscaled_data(dcc_returns, kwargs):
    # GARCH is scale-equivariant, so arch on the raw series (variance ~10, where arch's
    # optimizer is also well conditioned) lands on the same parameters up to its
    # stopping tolerance (observed differences ~1e-4 relative).
    x = dcc_returns[:1000] * 3.0
    model = DCCGarchForecaster(returns=None, **kwargs).fit(x)
    for i in range(3):
        res = build_arch_model(x[:, i], **kwargs).fit(disp="off")
        ours = model.garch_params_.iloc[i]
        assert ours["omega"] == pytest.approx(res.params["omega"], rel=5e-3)
        assert ours["alpha"] == pytest.approx(res.params["alpha[1]"], abs=2e-3)
        assert ours["beta"] == pytest.approx(res.params["beta[1]"], abs=2e-3)


def test_next_volatility_equals_arch_forecast(fitted, dcc_returns):
    for i, res in enumerate(fitted.garch_results_):
        var = res.forecast(horizon=1, reindex=False).variance.to_numpy()[0, 0]
        assert fitted.next_volatility_[i] == pytest.approx(
            np.sqrt(var) * fitted.scale_[i], rel=1e-10)


# ------------------------------------------------------------------ stage 2
def test_dcc_likelihood_and_recursion_match_loop(fitted):
    e = fitted.standardized_residuals_
    for a, b in [(0.0, 0.0), (0.05, 0.9), (0.2, 0.5)]:
        expected, _, _ = loop_dcc_loglikelihood(e, a, b)
        assert dcc_loglikelihood(e, a, b) == pytest.approx(expected, rel=1e-10)
    a, b = fitted.dcc_params_["a"], fitted.dcc_params_["b"]
    expected, r_last, q_last = loop_dcc_loglikelihood(e, a, b)
    assert fitted.dcc_loglikelihood_ == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(fitted.conditional_correlation_[-1], r_last, atol=1e-10)
    # one more step of the recursion gives the forecast R[T+1]
    q_next = (1 - a - b) * fitted.qbar_ + a * np.outer(e[-1], e[-1]) + b * q_last
    d = 1 / np.sqrt(np.diag(q_next))
    np.testing.assert_allclose(fitted.next_correlation_, q_next * np.outer(d, d), atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_recovers_dcc_parameters(seed):
    # Tolerances from the issue.  Over 40 seeds the estimates had sd 0.008 (a) and
    # 0.020 (b), so +-0.02 / +-0.05 are ~2.5 sd and 38 of 40 seeds passed; the five
    # seeds here are the first five, not hand-picked.
    x = simulate_dcc(2000, 0.05, 0.90, seed=seed)
    model = DCCGarchForecaster(returns=None).fit(x)
    a, b = model.dcc_params_["a"], model.dcc_params_["b"]
    print(f"seed={seed}: a={a:.4f}, b={b:.4f}")
    assert model.dcc_converged_
    assert abs(a - 0.05) <= 0.02
    assert abs(b - 0.90) <= 0.05
    assert model.dcc_loglikelihood_ >= model.ccc_loglikelihood_


def test_recovers_multivariate_t():
    # nu estimates over 4 seeds: 5.8-6.1, so +-1.5 is generous but still tells 6 from
    # the Gaussian limit (nu -> 500).
    x = simulate_dcc(2000, 0.05, 0.90, seed=0, nu=6.0)
    model = DCCGarchForecaster(returns=None, dist="t").fit(x)
    assert model.dcc_dist_ == "t"
    assert abs(model.dcc_params_["nu"] - 6.0) <= 1.5
    assert abs(model.dcc_params_["a"] - 0.05) <= 0.02
    assert abs(model.dcc_params_["b"] - 0.90) <= 0.05
    assert model.dcc_loglikelihood_ >= model.ccc_loglikelihood_


def test_t_likelihood_equals_scipy_multivariate_t(fitted):
    from scipy.stats import multivariate_t

    e = fitted.standardized_residuals_[:300]
    a, b, nu = 0.04, 0.9, 7.0
    per_obs = dcc_loglikelihood(e, a, b, dist="t", nu=nu, per_observation=True)
    qbar = np.corrcoef(e, rowvar=False)
    q = qbar.copy()
    for t in range(e.shape[0]):  # the Q recursion as a plain loop
        if t > 0:
            q = (1 - a - b) * qbar + a * np.outer(e[t - 1], e[t - 1]) + b * q
        if t in (0, 1, 2, 150, 299):
            d = 1 / np.sqrt(np.diag(q))
            # unit variances: the scale matrix of the t is R (nu - 2) / nu
            shape = q * np.outer(d, d) * (nu - 2) / nu
            expected = multivariate_t(loc=np.zeros(3), shape=shape, df=nu).logpdf(e[t])
            assert per_obs[t] == pytest.approx(expected, rel=1e-10)


def test_single_series_is_plain_garch():
    x = simulate_dcc(800, 0.05, 0.9, seed=3)[:, :1]
    model = DCCGarchForecaster(returns=None, random_state=0).fit(x)
    assert model.dcc_converged_
    assert model.dcc_params_["a"] == 0.0 and model.dcc_params_["b"] == 0.0
    assert model.dcc_loglikelihood_ == 0.0  # R[t] = 1: no correlation part
    assert model.loglikelihood_ == pytest.approx(model.garch_loglikelihood_.iloc[0])
    samples = model.predict_samples(3, 100)
    assert samples.shape == (100, 3, 1) and np.all(np.isfinite(samples))


def test_dcc_loglikelihood_at_least_constant_correlation(fitted):
    assert fitted.dcc_loglikelihood_ >= fitted.ccc_loglikelihood_
    e = fitted.standardized_residuals_
    assert fitted.ccc_loglikelihood_ == pytest.approx(dcc_loglikelihood(e, 0.0, 0.0))
    # and the DCC estimate is a (local) maximum: no nearby admissible point is better
    a, b = fitted.dcc_params_["a"], fitted.dcc_params_["b"]
    for da, db in [(0.005, 0), (-0.005, 0), (0, 0.01), (0, -0.01)]:
        assert dcc_loglikelihood(e, a + da, b + db) <= fitted.dcc_loglikelihood_ + 1e-6


def test_joint_loglikelihood_is_engle_decomposition(fitted):
    # Engle (2002): L = L_V (sum of univariate GARCH) + L_C (correlation)
    assert fitted.loglikelihood_ == pytest.approx(
        fitted.garch_loglikelihood_.sum() + fitted.dcc_loglikelihood_, rel=1e-10)


def test_independent_series_give_small_a():
    rng = np.random.default_rng(1)
    model = DCCGarchForecaster(returns=None).fit(rng.standard_normal((1000, 3)))
    assert model.dcc_params_["a"] < 0.02


# ------------------------------------------------------------------ simulation
@pytest.mark.parametrize("dcc_dist", ["normal", "t"])
def test_one_step_sample_covariance_matches_model(dcc_dist):
    x = simulate_dcc(1500, 0.05, 0.90, seed=7, nu=6.0 if dcc_dist == "t" else None)
    model = DCCGarchForecaster(returns=None, dist=dcc_dist, asymmetric=True).fit(x)
    n = 40_000
    draws = model.predict_samples(1, n, random_state=0)[:, 0]  # (n, N)
    mean = model.garch_params_["mu"].to_numpy()
    assert np.all(np.abs(draws.mean(axis=0) - mean)
                  < 4.5 * np.sqrt(np.diag(model.next_covariance_) / n))
    centred = draws - draws.mean(axis=0)
    cov = centred.T @ centred / (n - 1)
    # Monte Carlo error of each entry: the standard error of the mean of the products
    # (x_i - m_i)(x_j - m_j), estimated from the draws themselves (valid for the t too);
    # 4.5 standard errors over 6 distinct entries keeps the false-alarm rate < 1e-4.
    products = centred[:, :, None] * centred[:, None, :]
    se = products.std(axis=0) / np.sqrt(n)
    z = (cov - model.next_covariance_) / se
    assert np.all(np.abs(z) < 4.5), z
    # H[T+1] itself is D R D with arch's variance forecast and the DCC R[T+1]
    d = model.next_volatility_
    np.testing.assert_allclose(model.next_covariance_,
                               d[:, None] * model.next_correlation_ * d[None, :])


def test_multi_step_variance_matches_arch_forecast(fitted):
    # For plain GARCH(1,1) arch's analytic h-step variance forecast is exact, and it
    # does not depend on the correlation dynamics: check every 5th step.
    n, horizon = 20_000, 20
    draws = fitted.predict_samples(horizon, n, random_state=1)  # increments (returns=None)
    for i, res in enumerate(fitted.garch_results_):
        expected = res.forecast(horizon=horizon, reindex=False).variance.to_numpy()[0]
        expected = expected * fitted.scale_[i] ** 2
        for h in range(0, horizon, 5):
            x = draws[:, h, i]
            c = (x - x.mean()) ** 2
            se = c.std() / np.sqrt(n)  # Monte Carlo error of the sample variance
            assert abs(c.mean() - expected[h]) < 4.5 * se, (i, h)


def test_simulated_correlation_evolves_per_path():
    # Each path updates its own Q with its own shocks, so the second-step conditional
    # correlation R2[path] varies across paths; rebuild it from the first step and check
    # that the standardized second-step products z2_0 z2_1 regress on it with slope 1
    # (a model reusing R[T+1] for all steps would give slope 0).
    x = simulate_dcc(1500, 0.15, 0.80, seed=5)
    model = DCCGarchForecaster(returns=None).fit(x)
    a, b = model.dcc_params_["a"], model.dcc_params_["b"]
    mu = model.garch_params_["mu"].to_numpy()
    omega, alpha, beta = (model.garch_params_[k].to_numpy() for k in ("omega", "alpha", "beta"))
    n = 50_000
    draws = model.predict_samples(2, n, random_state=2)
    eps1 = draws[:, 0] - mu
    z1 = eps1 / model.next_volatility_
    sigma2 = omega + alpha * eps1**2 + beta * model.next_volatility_**2  # GARCH(1,1)
    z2 = (draws[:, 1] - mu) / np.sqrt(sigma2)
    q1 = dcc_q_path(model.standardized_residuals_, a, b, model.qbar_)[-1]
    q2 = (1 - a - b) * model.qbar_ + a * z1[:, :, None] * z1[:, None, :] + b * q1
    r2 = q2[:, 0, 1] / np.sqrt(q2[:, 0, 0] * q2[:, 1, 1])
    prod = z2[:, 0] * z2[:, 1]
    slope, intercept = np.polyfit(r2, prod, 1)
    resid = prod - (slope * r2 + intercept)
    se = resid.std() / (np.sqrt(n) * r2.std())  # OLS standard error of the slope
    assert se < 0.2  # enough spread in r2 for the test to tell 1 from 0
    assert abs(slope - 1.0) < 4.5 * se, (slope, se)


def test_levels_are_cumulated_increments(dcc_returns):
    levels = 100 + np.cumsum(dcc_returns[:800], axis=0)
    model = DCCGarchForecaster(returns="diff", random_state=3).fit(levels)
    paths = model.predict_samples(10, 50)
    increments = DCCGarchForecaster(returns=None, random_state=3).fit(
        np.diff(levels, axis=0)).predict_samples(10, 50)
    np.testing.assert_allclose(paths, levels[-1] + np.cumsum(increments, axis=1))


def test_log_returns_and_pandas_labels():
    rng = np.random.default_rng(4)
    prices = pd.DataFrame(100 * np.exp(np.cumsum(0.01 * rng.standard_normal((300, 2)), 0)),
                          columns=["gold", "oil"],
                          index=pd.date_range("2024-01-01", periods=300, freq="D"))
    model = DCCGarchForecaster(returns="log", random_state=0).fit(prices)
    assert list(model.garch_params_.index) == ["gold", "oil"]
    assert list(model.garch_loglikelihood_.index) == ["gold", "oil"]
    samples = model.predict_samples(5, 200)
    assert np.all(samples > 0)
    mean = model.predict_mean(5, 200)
    assert list(mean.columns) == ["gold", "oil"]


def test_reproducible_with_random_state(fitted):
    np.testing.assert_array_equal(fitted.predict_samples(4, 30),
                                  fitted.predict_samples(4, 30))
    assert not np.array_equal(fitted.predict_samples(4, 30, random_state=1),
                              fitted.predict_samples(4, 30, random_state=2))


# ------------------------------------------------------------------ failure handling
def test_optimizer_failure_falls_back_to_constant_correlation(monkeypatch, dcc_returns):
    def failing_minimize(fun, x0, **kwargs):
        from scipy.optimize import OptimizeResult

        return OptimizeResult(x=np.asarray(x0), fun=fun(x0), success=False,
                              message="simulated failure")

    monkeypatch.setattr(dcc_module.optimize, "minimize", failing_minimize)
    with pytest.warns(ConvergenceWarning, match="constant conditional correlation"):
        model = DCCGarchForecaster(returns=None, random_state=0).fit(dcc_returns[:500])
    assert not model.dcc_converged_
    assert model.dcc_params_["a"] == 0.0 and model.dcc_params_["b"] == 0.0
    assert model.dcc_loglikelihood_ == model.ccc_loglikelihood_
    # constant correlation: R[t] = Qbar (normalized) at every t
    np.testing.assert_allclose(model.conditional_correlation_,
                               np.broadcast_to(model.qbar_, (500, 3, 3)), atol=1e-12)
    assert np.all(np.isfinite(model.predict_samples(10, 100)))


def test_fit_dcc_raises_on_collinear_residuals():
    e = np.random.default_rng(0).standard_normal((200, 2))
    with pytest.raises(ValueError, match="collinear"):
        fit_dcc(np.column_stack([e, e[:, 0]]))


def test_duplicated_target_gives_clear_error():
    y = np.cumsum(np.random.default_rng(0).standard_normal((300, 2)), axis=0)
    with pytest.raises(ValueError, match="collinear"):
        DCCGarchForecaster().fit(np.column_stack([y, y[:, 1]]))


def test_constant_series_raises():
    rng = np.random.default_rng(0)
    y = np.column_stack([np.cumsum(rng.standard_normal(100)), np.full(100, 3.0)])
    with pytest.raises(ValueError, match="constant"):
        DCCGarchForecaster().fit(y)
    # a linear trend has constant increments under returns="diff"
    y[:, 1] = np.arange(100.0)
    with pytest.raises(ValueError, match="constant"):
        DCCGarchForecaster().fit(y)


@settings(max_examples=8, deadline=None)
@given(n_rows=st.integers(1, 10), n_targets=st.integers(1, 3))
def test_too_short_history_raises(n_rows, n_targets):
    y = np.cumsum(np.random.default_rng(n_rows).standard_normal((n_rows, n_targets)), 0)
    with pytest.raises(ValueError, match="at least"):
        DCCGarchForecaster().fit(y)


def test_constant_increments_deterministic():
    """A straight line and a constant series are continued without noise; the other
    targets get the same model as when fitted alone."""
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.standard_normal((300, 2)) @ [[1.0, 0.6], [0.0, 0.8]], axis=0)
    y = np.column_stack([walk[:, 0], np.arange(300.0) * 0.5, walk[:, 1], np.full(300, 7.0)])
    model = DCCGarchForecaster(constant_increments="deterministic", random_state=0).fit(y)
    np.testing.assert_array_equal(model.deterministic_targets_, [False, True, False, True])
    alone = DCCGarchForecaster(random_state=0).fit(walk)
    np.testing.assert_allclose(model.dcc_params_.values, alone.dcc_params_.values)
    np.testing.assert_allclose(model.next_covariance_[np.ix_([0, 2], [0, 2])],
                               alone.next_covariance_)
    assert model.next_covariance_[1].tolist() == [0.0] * 4
    assert model.garch_params_.loc[1, "mu"] == pytest.approx(0.5)
    s = model.predict_samples(6, 400)
    np.testing.assert_allclose(s[:, :, 1], np.tile(149.5 + 0.5 * np.arange(1, 7), (400, 1)))
    assert (s[:, :, 3] == 7.0).all()
    np.testing.assert_array_equal(s[:, :, [0, 2]], alone.predict_samples(6, 400))
    # nothing but deterministic targets
    only = DCCGarchForecaster(constant_increments="deterministic").fit(y[:, [1, 3]])
    np.testing.assert_allclose(only.predict_samples(2, 3)[:, -1], np.tile([150.5, 7.0], (3, 1)))
    with pytest.raises(ValueError, match="constant_increments"):
        DCCGarchForecaster(constant_increments="drop").fit(y)


def test_short_history_fits_with_a_warning():
    y = np.cumsum(np.random.default_rng(0).standard_normal((40, 2)), axis=0)
    with pytest.warns(UserWarning, match="fewer than 100"):
        model = DCCGarchForecaster(random_state=0).fit(y)
    assert np.isfinite(model.predict_samples(5, 50)).all()


def test_more_targets_than_increments_allow_raises():
    y = np.cumsum(np.random.default_rng(0).standard_normal((40, 45)), axis=0)
    with pytest.raises(ValueError, match="at least 48 rows"):
        DCCGarchForecaster().fit(y)


@pytest.mark.parametrize("bad", [{"mean": "ar"}, {"dist": "skewt"}, {"dcc_dist": "normal-t"},
                                 {"asymmetric": "yes"}, {"returns": "level"}])
def test_bad_parameters_raise(bad):
    y = np.cumsum(np.random.default_rng(0).standard_normal((100, 2)), axis=0)
    with pytest.raises(ValueError):
        DCCGarchForecaster(**bad).fit(y)


def test_correlation_sqrt_guards_non_positive_definite():
    good = np.array([[1.0, 0.3], [0.3, 1.0]])
    m = correlation_sqrt(good)
    np.testing.assert_allclose(m @ m.T, good)
    # slightly indefinite (correlation 1 + 1e-9) and rank deficient, asymmetric by
    # rounding: Cholesky fails, the eigen fallback must still give a finite factor
    bad = np.array([[[1.0, 1.0 + 1e-9], [1.0 + 1e-9, 1.0]],
                    [[1.0, 1.0], [1.0 - 1e-15, 1.0]]])
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(bad)
    m = correlation_sqrt(bad)
    assert np.all(np.isfinite(m))
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), 0.5 * (bad + bad.transpose(0, 2, 1)),
                               atol=1e-6)
    z = draw_correlated_shocks(bad[0], 1000, np.random.default_rng(0), dist="t", nu=4.0)
    assert z.shape == (1000, 2) and np.all(np.isfinite(z))
    assert np.corrcoef(z.T)[0, 1] > 0.999


# ------------------------------------------------------------------ properties
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_targets=st.integers(1, 4), horizon=st.integers(1, 6), n_samples=st.integers(1, 40),
       dist=st.sampled_from(["normal", "t"]), asymmetric=st.booleans(),
       mean=st.sampled_from(["constant", "zero"]), seed=st.integers(0, 2**16))
def test_shapes_and_finite_samples(n_targets, horizon, n_samples, dist, asymmetric, mean,
                                   seed):
    rng = np.random.default_rng(seed)
    mix = np.eye(n_targets) + 0.3 * rng.standard_normal((n_targets, n_targets))
    y = np.cumsum(rng.standard_t(4, size=(120, n_targets)) @ mix, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short noisy series
        model = DCCGarchForecaster(dist=dist, asymmetric=asymmetric, mean=mean,
                                   random_state=seed).fit(y)
    samples = model.predict_samples(horizon, n_samples)
    assert samples.shape == (n_samples, horizon, n_targets)
    assert np.all(np.isfinite(samples))
    assert model.conditional_volatility_.shape == (119, n_targets)
    assert model.conditional_correlation_.shape == (119, n_targets, n_targets)
    np.testing.assert_allclose(np.diagonal(model.conditional_correlation_, axis1=1, axis2=2),
                               1.0)
    a, b = model.dcc_params_["a"], model.dcc_params_["b"]
    assert a >= 0 and b >= 0 and a + b < 1
    assert np.all(np.linalg.eigvalsh(model.next_covariance_) > 0)


def test_sklearn_parameters_roundtrip():
    model = DCCGarchForecaster(dist="t", dcc_dist="normal", asymmetric=True, random_state=3)
    params = model.get_params()
    assert params == {"returns": "diff", "mean": "constant", "dist": "t",
                      "dcc_dist": "normal", "asymmetric": True,
                      "constant_increments": "raise", "random_state": 3, "n_jobs": None,
                      "verbose": "auto"}
    assert clone(model).get_params() == params


# ------------------------------------------------------------------ constant, relative (#15.6)
@pytest.mark.parametrize("step", [1e-300, 1e-15, 3e-13, 1e-12, 1e8])
def test_random_walk_at_any_scale_is_modelled(step):
    # The "constant" test used to be absolute (std <= 1e-12), so a random walk with
    # steps of 1e-12 or 1e-15 was refused as constant (and np.std itself underflows to 0
    # below 1e-154, hence the comparisons in units of the step).
    rng = np.random.default_rng(0)
    y = step * np.cumsum(rng.standard_normal((400, 2)), axis=0)
    model = DCCGarchForecaster(random_state=0).fit(y)
    assert not model.deterministic_targets_.any()
    np.testing.assert_allclose(model.scale_ / step, np.std(np.diff(y / step, axis=0), axis=0))
    # the one-step spread is in the units of the data
    volatility = model.next_volatility_ / step
    assert np.all((volatility > 0.3) & (volatility < 3))
    draws = (model.predict_samples(1, 4000)[:, 0] - y[-1]) / step
    np.testing.assert_allclose(draws.std(axis=0), volatility, rtol=0.1)


@pytest.mark.parametrize("level", [1e-12, 1.0, 1e8, 1e12])
@pytest.mark.parametrize("slope", [0.0, 1e-6 / 3, 1e-3 / 3])
def test_constant_or_straight_line_detected_at_any_level(level, slope):
    # A straight line at 1e8 or 1e12 has increments that differ by rounding (about
    # eps * level): they are constant, whatever the absolute size of that noise (the
    # old absolute test took them for a varying series and fitted GARCH to rounding).
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.standard_normal(300))
    line = level + slope * level * np.arange(300.0)
    y = np.column_stack([walk, line])
    with pytest.raises(ValueError, match="constant"):
        DCCGarchForecaster().fit(y)
    model = DCCGarchForecaster(constant_increments="deterministic", random_state=0).fit(y)
    np.testing.assert_array_equal(model.deterministic_targets_, [False, True])
    paths = model.predict_samples(3, 5)[:, :, 1]
    expected = line[-1] + (line[-1] - line[-2]) * np.arange(1, 4)
    np.testing.assert_allclose(paths, np.tile(expected, (5, 1)), rtol=1e-12)


@pytest.mark.parametrize("returns", ["log", "pct"])
def test_constant_growth_detected_for_returns(returns):
    rng = np.random.default_rng(2)
    walk = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(300)))
    growth = 1e8 * 1.001 ** np.arange(300.0)  # constant log (and pct) returns
    with pytest.raises(ValueError, match="constant"):
        DCCGarchForecaster(returns=returns).fit(np.column_stack([walk, growth]))


def test_is_constant_is_relative():
    from jointdist.models.dcc_garch.univariate import is_constant

    rng = np.random.default_rng(3)
    for scale in (1e-300, 1e-15, 1.0, 1e15):
        assert not is_constant(scale * rng.standard_normal(100))
        assert is_constant(np.full(100, scale))
    line = 1e12 + 0.1 * np.arange(100.0)
    assert np.std(np.diff(line)) > 0  # rounding noise ...
    assert is_constant(np.diff(line), level=np.max(line))  # ... of a constant increment
    assert not is_constant(np.diff(1e12 + np.cumsum(rng.standard_normal(100))), level=1e12)
    assert is_constant(np.zeros(10)) and is_constant(np.array([np.inf, 1.0]))


# ------------------------------------------------------------------ cost and limits (#15.7)
def test_large_n_likelihood_matches_loop():
    # from 24 series on each Q[t] goes to LAPACK on its own (potrf + trtrs)
    rng = np.random.default_rng(4)
    n = 30
    e = rng.standard_normal((200, n)) @ (np.eye(n) + 0.2 * rng.standard_normal((n, n)))
    e /= e.std(axis=0)
    assert n >= dcc_module._LAPACK_MIN_SERIES
    for a, b in [(0.0, 0.0), (0.03, 0.9), (0.2, 0.5)]:
        expected, _, q_last = loop_dcc_loglikelihood(e, a, b)
        assert dcc_loglikelihood(e, a, b) == pytest.approx(expected, rel=1e-10)
        q = dcc_q_path(e, a, b, np.corrcoef(e, rowvar=False))
        np.testing.assert_allclose(q[-2], q_last, rtol=1e-12, atol=1e-14)


def test_q_path_over_several_chunks_matches_loop(monkeypatch):
    # chunks of 7 rows and closed-form sub-blocks of 3: carries across both boundaries
    monkeypatch.setattr(dcc_module, "_MAX_CHUNK", 7)
    monkeypatch.setattr(dcc_module, "_SUBBLOCK_ENTRIES", 3 * 9)
    e = simulate_dcc(60, 0.1, 0.85, seed=2)
    e /= e.std(axis=0)
    for a, b in [(0.1, 0.85), (0.3, 0.0)]:
        expected, _, q_last = loop_dcc_loglikelihood(e, a, b)
        assert dcc_loglikelihood(e, a, b) == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(dcc_q_path(e, a, b, np.corrcoef(e.T))[-2], q_last,
                                   rtol=1e-13)


def test_stage2_holds_blas_to_one_thread(monkeypatch, dcc_returns):
    # A threaded BLAS on these small matrices made one likelihood evaluation 25x slower
    # on a loaded 2-core machine; stage 2 and the simulation run with one thread.
    from threadpoolctl import threadpool_info

    seen = []
    original = dcc_module._correlation_terms

    def recording(q, e):
        seen.append(max((i["num_threads"] for i in threadpool_info()
                         if i["user_api"] == "blas"), default=1))
        return original(q, e)

    monkeypatch.setattr(dcc_module, "_correlation_terms", recording)
    fit_dcc(dcc_returns[:300])
    assert seen and set(seen) == {1}


def test_keyboard_interrupt_is_not_swallowed(monkeypatch, dcc_returns):
    # Ctrl-C inside the optimizer stops the fit; it must not become the fallback to
    # constant correlation.
    def interrupted(q, e):
        raise KeyboardInterrupt

    monkeypatch.setattr(dcc_module, "_correlation_terms", interrupted)
    with pytest.raises(KeyboardInterrupt):
        DCCGarchForecaster(returns=None).fit(dcc_returns[:300])


def test_fit_refuses_above_memory_budget(monkeypatch, dcc_returns):
    from jointdist.models.dcc_garch import forecaster as forecaster_module

    # 2 * 301 * 3^2 * 8 bytes = 43 kB of Q[t] and R[t]
    monkeypatch.setattr(forecaster_module, "MAX_FIT_BYTES", 40_000)
    with pytest.raises(ValueError, match=r"MAX_FIT_BYTES.*fewer targets or a shorter"):
        DCCGarchForecaster(returns=None).fit(dcc_returns[:300])
    monkeypatch.setattr(forecaster_module, "MAX_FIT_BYTES", 50_000)
    DCCGarchForecaster(returns=None).fit(dcc_returns[:300])


def test_predict_refuses_output_above_budget(fitted):
    # 10^6 paths x 10^6 steps x 3 targets would be 24 TB: refused before any work
    with pytest.raises(ValueError, match=r"Lower n_samples or horizon"):
        fitted.predict_samples(10**6, 10**6)


@pytest.mark.parametrize("dcc_dist", ["normal", "t"])
def test_simulation_in_batches_of_paths(monkeypatch, dcc_dist):
    from jointdist.models.dcc_garch import forecaster as forecaster_module

    x = simulate_dcc(600, 0.05, 0.9, seed=8)
    model = DCCGarchForecaster(returns=None, dist=dcc_dist, random_state=0).fit(x)
    whole = model.predict_samples(4, 50)
    monkeypatch.setattr(forecaster_module, "_SIMULATION_BATCH_BYTES", 7 * 8 * 3**2)
    batched = model.predict_samples(4, 50)  # 8 batches of 7 paths (the last of 1)
    assert batched.shape == whole.shape and np.all(np.isfinite(batched))
    np.testing.assert_array_equal(batched, model.predict_samples(4, 50))
    if dcc_dist == "normal":
        # one step consumes the normal stream in the same order: the same draws
        np.testing.assert_array_equal(model.predict_samples(1, 50), whole[:, :1])


def test_progress_bars_follow_verbose(capsys, dcc_returns):
    x = dcc_returns[:300]
    DCCGarchForecaster(returns=None, verbose=True, random_state=0).fit(x).predict_samples(3, 10)
    err = capsys.readouterr().err
    assert "DCC stage 1" in err and "DCC stage 2" in err and "simulation" in err
    for verbose in (False, "auto"):  # "auto": this small fit is expected to be quick
        DCCGarchForecaster(returns=None, verbose=verbose).fit(x).predict_samples(3, 10)
        assert "DCC stage" not in capsys.readouterr().err
    with pytest.raises(ValueError, match="verbose"):
        DCCGarchForecaster(verbose="yes").fit(x)


def test_n_jobs_gives_the_same_fit(dcc_returns):
    x = dcc_returns[:500]
    one = DCCGarchForecaster(returns=None).fit(x)
    two = DCCGarchForecaster(returns=None, n_jobs=2).fit(x)
    # the same optimizer on the same data; in a worker process BLAS may run another
    # kernel or thread count, and rounding differences move the optimizer's stopping
    # point within its tolerance (seen: 1.5e-5 relative in mu, in a full test run)
    pd.testing.assert_frame_equal(one.garch_params_, two.garch_params_, rtol=1e-4)
    pd.testing.assert_series_equal(one.dcc_params_, two.dcc_params_, rtol=1e-4)
    with pytest.raises(ValueError, match="n_jobs"):
        DCCGarchForecaster(n_jobs=0).fit(x)


def test_stage1_warnings_reach_the_caller(monkeypatch, dcc_returns):
    from jointdist.models.dcc_garch import forecaster as forecaster_module

    original = forecaster_module.fit_garch

    def warning_fit(x, **kwargs):
        warnings.warn("arch did not converge (simulated)", ConvergenceWarning)
        return original(x, **kwargs)

    monkeypatch.setattr(forecaster_module, "fit_garch", warning_fit)
    with pytest.warns(ConvergenceWarning, match="simulated"):
        DCCGarchForecaster(returns=None).fit(dcc_returns[:300])
