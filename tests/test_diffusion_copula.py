"""Fast tests of the diffusion-copula package: mixture, copulas, forecaster, diagnostics.

The statistical (slow) tests are in ``test_diffusion_copula_stats.py``.
"""

import pickle

import numpy as np
import pytest
import torch
from scipy import special, stats

from jointdist.models.diffusion_copula import (
    ClassificationDiffusionCopula,
    DiffusionCopulaForecaster,
    GaussianCopula,
    NLTMixture,
    exceedance_correlation,
    pit_histogram,
    pit_ks_test,
    prob_k_simultaneous_tail_events,
    qq_points,
    tail_co_exceedance,
    tail_dependence,
)
from jointdist.models.diffusion_copula.mixture import ICDF_TOL, mixture_log_prob


# ------------------------------------------------------------------------- mixture
def _random_mixture(rng, batch=50, n_normal=3, n_laplace=3, n_student=3):
    c = n_normal + n_laplace + n_student
    return NLTMixture(rng.dirichlet(np.ones(c), batch), rng.normal(size=(batch, c)),
                      np.exp(0.5 * rng.normal(size=(batch, c))),
                      2.1 + rng.gamma(2.0, 2.0, size=(batch, n_student)), n_normal, n_laplace)


def _scipy_cdf(m, i, x):
    a, b = m.n_normal, m.n_normal + m.n_laplace
    total = 0.0
    for k in range(m.weights.shape[1]):
        loc, sc = m.loc[i, k], m.scale[i, k]
        if k < a:
            comp = stats.norm.cdf(x, loc, sc)
        elif k < b:
            comp = stats.laplace.cdf(x, loc, sc)
        else:
            comp = stats.t.cdf(x, m.df[i, k - b], loc, sc)
        total = total + m.weights[i, k] * comp
    return total


def test_mixture_cdf_and_pdf_match_scipy(rng):
    m = _random_mixture(rng)
    x = rng.normal(scale=3.0, size=50)
    ref = np.array([_scipy_cdf(m, i, x[i]) for i in range(50)])
    np.testing.assert_allclose(m.cdf(x), ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.sf(x), 1 - ref, rtol=1e-10, atol=1e-14)
    # the density is the derivative of the CDF
    h = 1e-5
    np.testing.assert_allclose(m.pdf(x), (m.cdf(x + h) - m.cdf(x - h)) / (2 * h), rtol=1e-5)


def test_mixture_torch_log_prob_matches_numpy(rng):
    m = _random_mixture(rng)
    x = rng.normal(scale=2.0, size=50)
    t = torch.as_tensor
    lp = mixture_log_prob(t(x), t(np.log(m.weights)), t(m.loc), t(m.scale), t(m.df),
                          m.n_normal, m.n_laplace).numpy()
    np.testing.assert_allclose(lp, m.logpdf(x), rtol=1e-10)


@pytest.mark.parametrize("families", [(3, 3, 3), (1, 0, 0), (0, 2, 0), (0, 0, 2), (2, 0, 1)])
def test_mixture_icdf_inverts_cdf_to_tolerance_in_the_tails(rng, families):
    m = _random_mixture(rng, 200, *families)
    u = rng.uniform(size=200)
    u[:8] = [1e-12, 1e-8, 1e-4, 0.5, 1 - 1e-4, 1 - 1e-8, 1 - 1e-12, 0.3]
    x = m.icdf(u)
    tail = np.where(u > 0.5, 1 - u, u)
    got = np.where(u > 0.5, m.sf(x), m.cdf(x))
    # relative error of the tail probability, the stated tolerance (with a hair of
    # slack for the bracket-width stopping rule on very steep CDFs)
    assert np.all(np.abs(got - tail) <= 10 * ICDF_TOL * tail + 1e-15), np.max(
        np.abs(got - tail) / tail)
    assert np.all(np.diff(m._take(np.zeros(5, int)).icdf(np.linspace(0.1, 0.9, 5))) > 0)


def test_mixture_rejects_bad_input(rng):
    m = _random_mixture(rng, 4)
    with pytest.raises(ValueError, match="strictly inside"):
        m.icdf(np.array([0.5, 0.0, 0.5, 0.5]))
    with pytest.raises(ValueError, match="df must have shape"):
        NLTMixture(m.weights, m.loc, m.scale, m.df[:, :2], 3, 3)
    with pytest.raises(ValueError, match="positive"):
        NLTMixture(m.weights, m.loc, -m.scale, m.df, 3, 3)


# ------------------------------------------------------------------------- copulas
def _gauss_u(n, rho, seed):
    rng = np.random.default_rng(seed)
    return special.ndtr(rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n))


def test_gaussian_copula_fit_density_and_sampling():
    rho = 0.6
    u = _gauss_u(5000, rho, seed=0)
    cop = GaussianCopula().fit(u)
    # sd of the correlation estimate is (1 - rho^2) / sqrt(n) = 0.009
    assert abs(cop.correlation_[0, 1] - rho) < 0.04
    z = special.ndtri(u[:10])
    expected = (stats.multivariate_normal([0, 0], cop.correlation_).logpdf(z)
                - stats.norm.logpdf(z).sum(1))
    np.testing.assert_allclose(cop.log_density(u[:10]), expected, rtol=1e-9)
    s = cop.sample(3000, rng=1)
    assert s.shape == (3000, 2) and np.all((s > 0) & (s < 1))
    np.testing.assert_array_equal(s, cop.sample(3000, rng=1))


def test_copulas_reject_bad_input():
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        GaussianCopula().fit(np.array([[0.2, 1.5], [0.3, 0.4]]))
    with pytest.raises(ValueError, match="2-D"):
        GaussianCopula().fit(np.array([0.2, 0.3]))
    with pytest.raises(ValueError, match="not fitted"):
        ClassificationDiffusionCopula().sample(3)
    with pytest.raises(ValueError, match="sampler"):
        ClassificationDiffusionCopula(sampler="euler").fit(_gauss_u(50, 0.5, 0))
    with pytest.raises(ValueError, match="n_times"):
        ClassificationDiffusionCopula(n_times=2).fit(_gauss_u(50, 0.5, 0))
    cop = GaussianCopula().fit(_gauss_u(50, 0.5, 0))
    with pytest.raises(ValueError, match="columns"):
        cop.log_density(np.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="positive integer"):
        cop.sample(0)


@pytest.fixture(scope="module")
def small_cdc():
    u = _gauss_u(400, 0.7, seed=3)
    return ClassificationDiffusionCopula(max_steps=60, eval_every=20, n_times=8,
                                         random_state=0).fit(u), u


def test_cdc_shapes_and_determinism(small_cdc):
    cdc, u = small_cdc
    assert cdc.log_density(u[:17]).shape == (17,)
    assert np.all(np.isfinite(cdc.log_density(u[:17])))
    for sampler in ("ancestral", "langevin", "ode", "heun"):
        cdc.set_params(sampler=sampler, langevin_steps=2)
        s = cdc.sample(100, rng=5)
        assert s.shape == (100, 2) and np.all((s > 0) & (s < 1))
        np.testing.assert_array_equal(s, cdc.sample(100, rng=5))
        assert not np.array_equal(s, cdc.sample(100, rng=6))
    cdc.set_params(sampler="ancestral", corrector_steps=3)
    assert cdc.sample(10, rng=0).shape == (10, 2)
    cdc.set_params(corrector_steps=0)
    # same data and seed give the same network; the global torch RNG is untouched
    state = torch.get_rng_state()
    again = ClassificationDiffusionCopula(max_steps=60, eval_every=20, n_times=8,
                                          random_state=0).fit(u)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(again.log_density(u[:5]), cdc.log_density(u[:5]))


def test_cdc_training_learns_positive_dependence_quickly():
    # 400 steps on rho = 0.8 data: the mean log-density (mutual information 0.51) must
    # already be clearly positive on fresh data -- an untrained classifier gives 0.
    u = _gauss_u(1000, 0.8, seed=4)
    cdc = ClassificationDiffusionCopula(max_steps=400, validation_fraction=0,
                                        random_state=0).fit(u)
    assert cdc.log_density(_gauss_u(2000, 0.8, seed=5)).mean() > 0.2


# ------------------------------------------------------------------------- forecaster
def _correlated_t_levels(n_steps, n_targets, rho, seed):
    rng = np.random.default_rng(seed)
    corr = np.full((n_targets, n_targets), rho) + (1 - rho) * np.eye(n_targets)
    z = rng.standard_normal((n_steps, n_targets)) @ np.linalg.cholesky(corr).T
    inc = z / np.sqrt(rng.chisquare(5, size=(n_steps, 1)) / 5)
    return 100 + np.cumsum(inc, axis=0)


FAST = dict(max_epochs=4, lstm_hidden=8, mlp_hidden=8)


def test_forecaster_shapes_levels_and_pandas():
    import pandas as pd

    y = _correlated_t_levels(120, 3, 0.5, seed=0)
    idx = pd.date_range("2024-01-01", periods=120, freq="D")
    frame = pd.DataFrame(y, index=idx, columns=["a", "b", "c"])
    model = DiffusionCopulaForecaster(copula="gaussian", random_state=0, **FAST).fit(frame)
    samples = model.predict_samples(horizon=5, n_samples=40)
    assert samples.shape == (40, 5, 3)
    assert np.all(np.isfinite(samples))
    # returns="diff": paths start from the last observation
    first_step = samples[:, 0] - y[-1]
    assert np.all(np.abs(first_step) < 50)
    assert model.pit_.shape == (120 - 1 - 14, 3)
    assert np.all((model.pit_ > 0) & (model.pit_ < 1))
    q = model.predict_quantiles(5, quantiles=[0.1, 0.9], n_samples=40)
    assert list(q.columns.get_level_values(0).unique()) == ["a", "b", "c"]
    assert model.marginal_pit(y[-40:]).shape == (40 - 1 - 14, 3)


def test_forecaster_is_deterministic_under_random_state():
    y = _correlated_t_levels(100, 2, 0.5, seed=1)
    kw = dict(copula=ClassificationDiffusionCopula(max_steps=20, n_times=6), **FAST)
    a = DiffusionCopulaForecaster(random_state=3, **kw).fit(y)
    b = DiffusionCopulaForecaster(random_state=3, **kw).fit(y)
    np.testing.assert_array_equal(a.predict_samples(4, 30), b.predict_samples(4, 30))
    np.testing.assert_array_equal(a.predict_samples(4, 30, random_state=1),
                                  a.predict_samples(4, 30, random_state=1))
    assert not np.array_equal(a.predict_samples(4, 30, random_state=1),
                              a.predict_samples(4, 30, random_state=2))
    c = DiffusionCopulaForecaster(random_state=4, **kw).fit(y)
    assert not np.array_equal(a.pit_, c.pit_)
    # the estimator given as copula is cloned, not fitted in place
    assert not hasattr(kw["copula"], "model_")
    # fitted models pickle (the torch modules are module-level classes)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict_samples(4, 30), a.predict_samples(4, 30))


def test_forecaster_paths_carry_the_cross_sectional_dependence():
    # correlated Student-t increments (rho = 0.7): the sampled one-step increments must
    # show that correlation, and independent-copula-like samples would not.  The
    # sample correlation of 2000 draws has sd (1 - rho^2)/sqrt(2000) = 0.011; the
    # history of 400 steps estimates rho with sd 0.026.
    y = _correlated_t_levels(400, 3, 0.7, seed=2)
    model = DiffusionCopulaForecaster(copula="gaussian", random_state=0, max_epochs=15)
    samples = model.fit(y).predict_samples(horizon=3, n_samples=2000)
    steps = np.diff(samples, axis=1, prepend=np.broadcast_to(y[-1], (2000, 1, 3)))
    corr = stats.spearmanr(steps[:, 1]).statistic
    hist_corr = stats.spearmanr(np.diff(y, axis=0)).statistic
    off = ~np.eye(3, dtype=bool)
    assert np.all(np.abs(corr[off] - hist_corr[off]) < 0.12), (corr, hist_corr)


@pytest.mark.parametrize("kwargs, match", [
    (dict(copula="vine"), "copula must be"),
    (dict(copula=object()), "copula must be"),
    (dict(window=0), "window"),
    (dict(n_normal=0, n_laplace=0, n_student=0), "at least one component"),
    (dict(validation_fraction=0.9), "validation_fraction"),
    (dict(learning_rate=-1.0), "learning_rate"),
    (dict(returns="levels"), "returns"),
    (dict(device="cuda:7" if not torch.cuda.is_available() else "nonsense"), "device"),
])
def test_forecaster_rejects_bad_parameters(kwargs, match):
    y = _correlated_t_levels(80, 2, 0.3, seed=0)
    with pytest.raises(ValueError, match=match):
        DiffusionCopulaForecaster(**kwargs, **FAST).fit(y)


def test_forecaster_rejects_bad_data():
    model = DiffusionCopulaForecaster(copula="gaussian", **FAST)
    with pytest.raises(ValueError, match="at least"):
        model.fit(_correlated_t_levels(model.window + 10, 2, 0.3, seed=0))
    with pytest.warns(UserWarning, match="fewer than 100"):
        model.fit(_correlated_t_levels(model.window + 12, 2, 0.3, seed=0))
    y = _correlated_t_levels(80, 2, 0.3, seed=0)
    y[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(y)
    fitted = model.fit(_correlated_t_levels(80, 2, 0.3, seed=0))
    with pytest.raises(ValueError, match="target"):
        fitted.marginal_pit(np.ones((40, 3)))
    with pytest.raises(ValueError, match="horizon"):
        fitted.predict_samples(0)


# ------------------------------------------------------------------------- diagnostics
def test_diagnostics_on_known_cases(rng):
    u = rng.uniform(size=(20000, 4))
    dens, edges = pit_histogram(u, bins=10)
    assert dens.shape == (10, 4) and edges.shape == (11,)
    assert np.all(np.abs(dens - 1) < 0.1)  # sd of a bin density: 0.021
    assert np.all(pit_ks_test(u)[1] > 1e-3)
    theo, emp = qq_points(u[:100])
    assert theo.shape == (100,) and emp.shape == (100, 4)
    assert np.all(np.diff(emp, axis=0) >= 0)
    # independence: P(#tail >= k) is binomial(4, 0.05); sd of each estimate <= 0.004
    p = prob_k_simultaneous_tail_events(u, q=0.05, thresholds=0.05)
    np.testing.assert_allclose(p, stats.binom(4, 0.05).sf(np.arange(5) - 1), atol=0.01)
    # comonotone columns: every tail event is joint
    como = np.repeat(u[:, :1], 3, axis=1)
    np.testing.assert_allclose(tail_dependence(como, q=0.05), 1.0)
    np.testing.assert_allclose(prob_k_simultaneous_tail_events(como, 0.05)[1:],
                               np.mean(como[:, 0] <= np.quantile(como[:, 0], 0.05)))
    co = tail_co_exceedance(u, 0.05, tail="upper", thresholds=0.95)
    assert abs(co[0, 1] - 0.0025) < 0.0015 and abs(co[0, 0] - 0.05) < 0.006
    ec = exceedance_correlation(como, q=0.1)
    np.testing.assert_allclose(ec, 1.0)
    with pytest.raises(ValueError, match="tail"):
        tail_dependence(u, tail="middle")
    with pytest.raises(ValueError, match="q must"):
        tail_co_exceedance(u, q=1.5)
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        pit_ks_test(u + 1)
