"""CopulaCoupledForecaster and couple_samples (issue 18): ensemble copula coupling."""

import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LinearRegression

from jointdist import CopulaCoupledForecaster, DCCGarchForecaster, HistoricalSimulation
from jointdist.base import BaseJointForecaster
from jointdist.models.coupled import (
    _argsort_random_ties,
    _stratified_indices,
    couple_samples,
)


# --------------------------------------------------------------------------------------
# Test doubles: forecasters with a known law.
# --------------------------------------------------------------------------------------
class GaussianCopulaPaths(BaseJointForecaster):
    """Paths with a Gaussian copula of correlation ``rho`` between every pair of targets
    and a known marginal at every (horizon, target).

    ``serial`` is the correlation of the latent Gaussian between consecutive steps of
    a path (an AR(1) over the horizon, the same for all targets); the latent vectors of
    different steps are otherwise independent.  ``marginal="normal"`` returns the latent
    Gaussian, ``"exponential"`` its transformation to Exp(1).
    """

    def __init__(self, rho=0.0, *, serial=0.0, marginal="normal", random_state=None):
        self.rho = rho
        self.serial = serial
        self.marginal = marginal
        self.random_state = random_state

    def _fit(self, y, X):
        return self

    def _predict_samples(self, horizon, n_samples, rng):
        n = self.n_targets_
        corr = np.full((n, n), self.rho) + (1 - self.rho) * np.eye(n)
        chol = np.linalg.cholesky(corr)
        shocks = rng.standard_normal((n_samples, horizon, n)) @ chol.T
        latent = np.empty_like(shocks)
        latent[:, 0] = shocks[:, 0]
        for h in range(1, horizon):  # a loop over steps, vectorized over paths
            latent[:, h] = self.serial * latent[:, h - 1] + np.sqrt(
                1 - self.serial**2) * shocks[:, h]
        if self.marginal == "exponential":
            return -np.log(stats.norm.sf(latent))  # Exp(1) quantile of Phi(z)
        return latent


class DropsATarget(GaussianCopulaPaths):
    """A broken forecaster whose samples miss the last target."""

    def predict_samples(self, horizon, n_samples=1000, random_state=None):
        return super().predict_samples(horizon, n_samples, random_state)[:, :, :-1]


def _levels(n=200, k=3, seed=0):
    return 100.0 + np.random.default_rng(seed).normal(size=(n, k)).cumsum(axis=0)


def _draws(model, horizon, n_samples, seed, n_dependence=None):
    """The component draws a coupled forecaster makes for a call seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    marginal = model.marginals_.predict_samples(horizon, n_samples, random_state=rng)
    dependence = model.dependence_.predict_samples(horizon, n_dependence or n_samples,
                                                   random_state=model._dependence_seed(rng))
    return marginal, dependence


def _same_multisets(a, b):
    return np.array_equal(np.sort(a, axis=0), np.sort(b, axis=0))


def _ordered_by(values, template):
    """Whether ``template[i] < template[j]`` implies ``values[i] <= values[j]`` at every
    (h, n): sorted by template (ties by value), the values never decrease."""
    order = np.lexsort((values, template), axis=0)
    return bool((np.diff(np.take_along_axis(values, order, axis=0), axis=0) >= 0).all())


# --------------------------------------------------------------------------------------
# The forecaster: exact marginals, exact ranks, reproducibility.
# --------------------------------------------------------------------------------------
def test_output_has_the_marginal_models_values_and_the_dependence_models_ranks():
    y = _levels(k=4)
    model = CopulaCoupledForecaster(HistoricalSimulation("stationary"), DCCGarchForecaster(),
                                    random_state=3).fit(y)
    out = model.predict_samples(12, 400)
    assert out.shape == (400, 12, 4)
    marginal, dependence = _draws(model, 12, 400, 3)
    # the bootstrap's values (with their many ties) as multisets at every (h, n)
    assert _same_multisets(out, marginal)
    # ordered as the DCC paths at every (h, n) at once ...
    assert _ordered_by(out, dependence)
    assert not _ordered_by(marginal, dependence)


def test_ranks_equal_the_dependence_models_exactly_without_ties():
    y = _levels(k=3)
    model = CopulaCoupledForecaster(DCCGarchForecaster(dist="t"), DCCGarchForecaster(),
                                    random_state=0).fit(y)
    out = model.predict_samples(6, 300)
    marginal, dependence = _draws(model, 6, 300, 0)
    assert _same_multisets(out, marginal)
    np.testing.assert_array_equal(stats.rankdata(out, axis=0),
                                  stats.rankdata(dependence, axis=0))
    # hence identical rank correlations, across targets and across horizons
    for h in range(6):
        np.testing.assert_allclose(stats.spearmanr(out[:, h]).statistic,
                                   stats.spearmanr(dependence[:, h]).statistic, atol=1e-12)
    np.testing.assert_allclose(stats.spearmanr(out[:, :, 1]).statistic,
                               stats.spearmanr(dependence[:, :, 1]).statistic, atol=1e-12)


def test_reproducible_with_random_state():
    y = _levels()
    model = CopulaCoupledForecaster(HistoricalSimulation(), DCCGarchForecaster(),
                                    random_state=5).fit(y)
    a = model.predict_samples(5, 200)
    np.testing.assert_array_equal(a, model.predict_samples(5, 200))
    np.testing.assert_array_equal(a, clone(model).fit(y).predict_samples(5, 200))
    np.testing.assert_array_equal(a, model.predict_samples(5, 200, random_state=5))
    assert not np.array_equal(a, model.predict_samples(5, 200, random_state=6))
    # a Generator advances: two calls differ, the same generator state repeats
    g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    b1, b2 = model.predict_samples(5, 200, g1), model.predict_samples(5, 200, g1)
    assert not np.array_equal(b1, b2)
    np.testing.assert_array_equal(b1, model.predict_samples(5, 200, g2))
    # with an int seed the values are the marginal model's own draws with that seed
    assert _same_multisets(a, model.marginals_.predict_samples(5, 200, random_state=5))
    # the marginal and dependence draws use different seeds (not the same paths twice)
    same = CopulaCoupledForecaster(HistoricalSimulation(), HistoricalSimulation(),
                                   random_state=0).fit(y)
    marginal, dependence = _draws(same, 5, 200, 0)
    assert not np.array_equal(marginal, dependence)


def test_ties_in_the_dependence_samples_are_broken_at_random_reproducibly():
    # a bootstrap of 20 rows: at h=1 the 500 dependence paths take only 20 values
    y = _levels(n=21, k=2)
    model = CopulaCoupledForecaster(DCCGarchForecaster(), HistoricalSimulation(),
                                    random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # DCC on few increments
        model.fit(y)
    out = model.predict_samples(1, 500)
    marginal, dependence = _draws(model, 1, 500, 0)
    assert len(np.unique(dependence[:, 0, 0])) <= 20
    assert _same_multisets(out, marginal)
    assert _ordered_by(out, dependence)  # the ties do not undo the order of the groups
    np.testing.assert_array_equal(out, model.predict_samples(1, 500))
    # the tied paths of a bootstrap draw the same history row, so they tie at both
    # targets; inside each group the order is random and independent per target: the
    # within-group ranks of the two targets are uncorrelated (s.e. 1/sqrt(500))
    groups = np.unique(dependence[:, 0, 0], return_inverse=True)[1]
    within = np.empty((500, 2))
    for g in np.unique(groups):
        members = groups == g
        within[members] = stats.rankdata(out[members, 0], axis=0) - (members.sum() + 1) / 2
    assert abs(np.corrcoef(within.T)[0, 1]) < 4 / np.sqrt(500)


def test_fewer_or_more_dependence_samples_are_resampled():
    y = _levels(k=3)
    for n_dep in (37, 250, 1000):
        model = CopulaCoupledForecaster(DCCGarchForecaster(dist="t"), DCCGarchForecaster(),
                                        n_dependence_samples=n_dep, random_state=1).fit(y)
        out = model.predict_samples(4, 250)
        marginal, dependence = _draws(model, 4, 250, 1, n_dependence=n_dep)
        assert dependence.shape == (n_dep, 4, 3)
        assert out.shape == (250, 4, 3) and _same_multisets(out, marginal)


def test_ties_are_ordered_uniformly_at_random():
    rng = np.random.default_rng(0)
    # 6,000 rows [1, 0, 1, 0, 1, 0.5]: the zeros first, then 0.5, then the ones
    x = np.tile([1.0, 0.0, 1.0, 0.0, 1.0, 0.5], (6000, 1))
    order = _argsort_random_ties(x, rng)
    assert set(map(tuple, np.sort(order[:, :2], axis=1))) == {(1, 3)}
    assert (order[:, 2] == 5).all()
    assert set(map(tuple, np.sort(order[:, 3:], axis=1))) == {(0, 2, 4)}
    # the 6 orders of the three ones are equally likely (chi-square, 5 d.o.f.)
    codes = order[:, 3] * 100 + order[:, 4] * 10 + order[:, 5]
    counts = np.unique(codes, return_counts=True)[1]
    assert len(counts) == 6 and stats.chisquare(counts).pvalue > 1e-3
    # and the two zeros independently of the ones
    table = np.histogram2d(order[:, 0], order[:, 3], bins=[[0, 2, 4], [0, 1, 3, 5]])[0]
    assert stats.chi2_contingency(table).pvalue > 1e-3
    # should the integer keys of a group collide, the exact lexicographic sort is used

    class CollidingKeys:
        def integers(self, low, high, size):
            return np.zeros(size, dtype=np.int64)

        def random(self, size):
            return rng.random(size)

    order = _argsort_random_ties(x, CollidingKeys())
    assert set(map(tuple, np.sort(order[:, 3:], axis=1))) == {(0, 2, 4)}
    codes = order[:, 3] * 100 + order[:, 4] * 10 + order[:, 5]
    counts = np.unique(codes, return_counts=True)[1]
    assert len(counts) == 6 and stats.chisquare(counts).pvalue > 1e-3
    # no ties: a plain argsort, no randomness used
    y = rng.standard_normal((4, 50))
    np.testing.assert_array_equal(_argsort_random_ties(y, rng), np.argsort(y, axis=-1))


def test_stratified_indices_use_every_sample_equally_often():
    rng = np.random.default_rng(0)
    counts = np.bincount(_stratified_indices(7, 30, rng), minlength=7)
    assert counts.sum() == 30 and set(counts) <= {4, 5}
    sub = _stratified_indices(50, 20, rng)
    assert len(set(sub)) == 20 and sub.max() < 50
    np.testing.assert_array_equal(np.sort(_stratified_indices(9, 9, rng)), np.arange(9))


# --------------------------------------------------------------------------------------
# Statistics: a known Gaussian copula with known marginals.
# --------------------------------------------------------------------------------------
def test_known_gaussian_copula_with_exponential_marginals():
    """Marginals right but independent + copula right but Gaussian marginals = the law.

    The truth: Exp(1) marginals joined by a Gaussian copula with correlation 0.7, whose
    Spearman correlation is (6/pi) arcsin(0.7/2).  Tolerances are 4 Monte Carlo
    standard errors.
    """
    rho, n, horizon, k = 0.7, 4000, 3, 3
    y = _levels(n=30, k=k)
    marginals = GaussianCopulaPaths(0.0, marginal="exponential")  # independent targets
    dependence = GaussianCopulaPaths(rho)  # right copula, normal marginals
    model = CopulaCoupledForecaster(marginals, dependence, random_state=11).fit(y)
    out = model.predict_samples(horizon, n)

    spearman_true = 6 / np.pi * np.arcsin(rho / 2)
    # s.e. of Spearman's rho for a bivariate normal (Fieller et al. 1957 approximation)
    se = np.sqrt(1.06 / (n - 3)) * (1 - spearman_true**2)
    for h in range(horizon):
        sp = stats.spearmanr(out[:, h]).statistic
        pairs = sp[np.triu_indices(k, 1)]
        assert np.all(np.abs(pairs - spearman_true) < 4 * se), pairs
    # the marginals are Exp(1): quantiles within 4 s.e. of the sample quantile
    q = np.array([0.1, 0.5, 0.9, 0.99])
    exact = stats.expon.ppf(q)
    se_q = np.sqrt(q * (1 - q) / n) / stats.expon.pdf(exact)
    est = np.quantile(out, q, axis=0)  # (4, H, N)
    assert np.all(np.abs(est - exact[:, None, None]) < 4 * se_q[:, None, None])
    # the components alone miss one part each: Pearson on the Exp scale is far from the
    # independent marginal model's 0, and the dependence model's marginals are not Exp
    marginal, dependence = _draws(model, horizon, n, 11)
    assert abs(np.corrcoef(marginal[:, 0].T)[0, 1]) < 4 / np.sqrt(n)
    assert np.corrcoef(out[:, 0].T)[0, 1] > 0.5
    assert stats.kstest(dependence[:, 0, 0], "expon").pvalue < 1e-6
    assert stats.kstest(out[:, 0, 0], "expon").pvalue > 1e-4


def test_paths_take_the_serial_structure_from_dependence_targets_from_marginals():
    """Marginal model: strongly autocorrelated paths, independent targets; dependence
    model: correlated targets, independent steps."""
    n, k = 3000, 3
    y = _levels(n=30, k=k)
    marginals = GaussianCopulaPaths(0.0, serial=0.95)
    dependence = GaussianCopulaPaths(0.8, serial=0.0)
    tol = 4 / np.sqrt(n)  # s.e. of a correlation near 0 is 1/sqrt(n); smaller elsewhere
    cross_true = 0.8
    for coupling, serial_true in (("paths", 0.0), ("targets", None)):
        model = CopulaCoupledForecaster(marginals, dependence, coupling=coupling,
                                        random_state=2).fit(y)
        out = model.predict_samples(4, n)
        cross = [np.corrcoef(out[:, h].T)[np.triu_indices(k, 1)] for h in range(4)]
        assert np.all(np.abs(np.array(cross) - cross_true) < 0.05)
        serial = np.corrcoef(out[:, 1, 0], out[:, 2, 0])[0, 1]
        if serial_true is not None:
            assert abs(serial - serial_true) < tol
        else:
            # targets: paths keep most of the marginal model's step-to-step persistence
            # (all of it for the mean over targets, which the matching follows)
            assert serial > 0.6
            mean_serial = np.corrcoef(out[:, 1].mean(1), out[:, 2].mean(1))[0, 1]
            assert mean_serial > 0.9


def test_fewer_dependence_samples_keep_the_rank_correlation():
    """Resampling 200 template paths to 2000 keeps their Spearman correlation: each is
    used 10 times, and the random order inside its block of 10 ranks moves the rank
    correlation by O(1/m^2) (the checkerboard copula) plus noise of O(1/(m sqrt(n)))."""
    rng = np.random.default_rng(0)
    template = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=(200, 1))
    marginal = rng.standard_normal((2000, 1, 2))
    out = couple_samples(marginal, template, random_state=0)
    sp_template = stats.spearmanr(template[:, 0]).statistic
    sp_out = stats.spearmanr(out[:, 0]).statistic
    assert abs(sp_out - sp_template) < 2e-3


# --------------------------------------------------------------------------------------
# Hypothesis properties of couple_samples.
# --------------------------------------------------------------------------------------
def _sample_arrays(draw, n, horizon, k, ties):
    if ties:  # few distinct values: many ties
        values = st.integers(-3, 3).map(float)
    else:
        values = st.floats(-1e6, 1e6, allow_nan=False)
    flat = draw(st.lists(values, min_size=n * horizon * k, max_size=n * horizon * k))
    return np.array(flat, dtype=np.float64).reshape(n, horizon, k)


@st.composite
def coupling_cases(draw):
    n = draw(st.integers(1, 25))
    m = draw(st.one_of(st.just(n), st.integers(1, 40)))
    horizon, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    marginal = _sample_arrays(draw, n, horizon, k, draw(st.booleans()))
    dependence = _sample_arrays(draw, m, horizon, k, draw(st.booleans()))
    return marginal, dependence, draw(st.sampled_from(["paths", "targets"])), draw(
        st.integers(0, 2**32 - 1))


@given(coupling_cases())
def test_property_shape_and_exact_marginals(case):
    marginal, dependence, coupling, seed = case
    out = couple_samples(marginal, dependence, coupling=coupling, random_state=seed)
    assert out.shape == marginal.shape and out.flags.c_contiguous
    assert _same_multisets(out, marginal)
    np.testing.assert_array_equal(
        out, couple_samples(marginal, dependence, coupling=coupling, random_state=seed))


@given(coupling_cases())
def test_property_paths_order_is_the_templates(case):
    marginal, dependence, _, seed = case
    if dependence.shape[0] != marginal.shape[0]:
        return
    out = couple_samples(marginal, dependence, random_state=seed)
    assert _ordered_by(out, dependence)


@given(coupling_cases())
def test_property_invariant_to_monotone_transformations(case):
    """The copula is rank-based: an increasing map of the template changes nothing, and
    an increasing map of the marginals maps the output (exact, ties included)."""
    marginal, dependence, coupling, seed = case
    out = couple_samples(marginal, dependence, coupling=coupling, random_state=seed)
    # dense ranks: a (nonlinear) increasing map of every (h, n) that keeps the ties
    dense = stats.rankdata(dependence, method="dense", axis=0).astype(np.float64)
    np.testing.assert_array_equal(
        out, couple_samples(marginal, dense, coupling=coupling, random_state=seed))
    # x -> 4x is exact in floating point (no distinct values merge)
    np.testing.assert_array_equal(
        couple_samples(4.0 * marginal, dependence, coupling=coupling, random_state=seed),
        4.0 * out)


@st.composite
def tie_free_cases(draw):
    """Templates without ties: a random permutation of 0..n-1 at every (h, n)."""
    n, horizon, k = draw(st.integers(1, 25)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dependence = rng.permuted(np.broadcast_to(np.arange(n, dtype=float)[:, None, None],
                                              (n, horizon, k)), axis=0)
    marginal = _sample_arrays(draw, n, horizon, k, draw(st.booleans()))
    return marginal, dependence, seed


@given(tie_free_cases(), st.randoms(use_true_random=False))
def test_property_permuting_the_template_permutes_the_paths(case, random):
    marginal, dependence, seed = case
    perm = np.array(random.sample(range(marginal.shape[0]), marginal.shape[0]))
    out = couple_samples(marginal, dependence, random_state=seed)
    np.testing.assert_array_equal(couple_samples(marginal, dependence[perm], random_state=seed),
                                  out[perm])


@given(tie_free_cases())
def test_property_targets_coupling_keeps_the_cross_target_rank_vectors(case):
    marginal, dependence, seed = case
    out = couple_samples(marginal, dependence, coupling="targets", random_state=seed)
    # the template holds ranks 0..n-1; at each horizon whose marginal values have no
    # ties, the output's rank vectors (one per path) are the template's, as a set
    ranks = np.argsort(np.argsort(out, axis=0), axis=0).astype(np.float64)
    for h in range(marginal.shape[1]):
        s = np.sort(marginal[:, h], axis=0)
        if (s[1:] == s[:-1]).any():
            continue
        assert sorted(map(tuple, ranks[:, h])) == sorted(map(tuple, dependence[:, h]))


@given(coupling_cases())
def test_property_both_couplings_hold_the_same_points_at_each_horizon(case):
    """"targets" permutes the paths of "paths" at each horizon: per-horizon scores agree."""
    marginal, dependence, _, seed = case
    paths = couple_samples(marginal, dependence, coupling="paths", random_state=seed)
    targets = couple_samples(marginal, dependence, coupling="targets", random_state=seed)
    for h in range(marginal.shape[1]):
        assert sorted(map(tuple, paths[:, h])) == sorted(map(tuple, targets[:, h]))


@given(coupling_cases())
def test_property_targets_coupling_of_one_target_returns_the_marginal_paths(case):
    marginal, dependence, _, seed = case
    out = couple_samples(marginal[:, :, :1], dependence[:, :, :1], coupling="targets",
                         random_state=seed)
    np.testing.assert_array_equal(out, marginal[:, :, :1])


# --------------------------------------------------------------------------------------
# scikit-learn composition, pandas, errors.
# --------------------------------------------------------------------------------------
def test_nested_params_set_params_and_clone():
    from jointdist.models import JointFMForecaster

    model = CopulaCoupledForecaster(JointFMForecaster(head="gmm"), DCCGarchForecaster())
    params = model.get_params(deep=True)
    assert params["marginals__head"] == "gmm" and params["dependence__dist"] == "normal"
    assert params["coupling"] == "paths" and params["n_dependence_samples"] is None
    model.set_params(marginals__head="skewt", dependence__dist="t", coupling="targets")
    assert model.marginals.head == "skewt" and model.dependence.dist == "t"
    copy = clone(model)
    assert copy.marginals is not model.marginals
    assert copy.get_params(deep=True).keys() == model.get_params(deep=True).keys()
    assert copy.marginals.head == "skewt" and copy.coupling == "targets"


def test_fit_fits_clones_of_both_and_leaves_the_originals_alone():
    hs, dcc = HistoricalSimulation(), DCCGarchForecaster()
    model = CopulaCoupledForecaster(hs, dcc).fit(_levels())
    assert model.marginals_ is not hs and model.dependence_ is not dcc
    assert model.marginals_.n_timesteps_ == 200 and model.dependence_.n_targets_ == 3
    assert not hasattr(hs, "n_targets_") and not hasattr(dcc, "n_targets_")
    assert not hasattr(model, "returns")  # the components' paths are not cumulated again


def test_pandas_in_pandas_out():
    idx = pd.date_range("2024-01-01", periods=150, freq="D")
    y = pd.DataFrame(_levels(150, 2), index=idx, columns=["a", "b"])
    model = CopulaCoupledForecaster(HistoricalSimulation(), DCCGarchForecaster(),
                                    random_state=0).fit(y)
    mean = model.predict_mean(3, n_samples=200)
    assert list(mean.columns) == ["a", "b"] and mean.index[0] == idx[-1] + pd.Timedelta("1D")
    q = model.predict_quantiles(3, [0.1, 0.9], n_samples=200)
    assert ("a", 0.1) in q.columns
    assert list(model.marginals_.columns_) == ["a", "b"]  # components see the labels
    np.testing.assert_allclose(
        mean.to_numpy(), model.predict_samples(3, 200).mean(axis=0))


def test_errors():
    y = _levels()
    for bad in (LinearRegression(), HistoricalSimulation, "hs", None):
        with pytest.raises(ValueError, match="marginals must be a jointdist forecaster"):
            CopulaCoupledForecaster(bad, DCCGarchForecaster()).fit(y)
        with pytest.raises(ValueError, match="dependence must be a jointdist forecaster"):
            CopulaCoupledForecaster(HistoricalSimulation(), bad).fit(y)
    with pytest.raises(ValueError, match="coupling must be one of"):
        CopulaCoupledForecaster(HistoricalSimulation(), HistoricalSimulation(),
                                coupling="horizons").fit(y)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="n_dependence_samples"):
            CopulaCoupledForecaster(HistoricalSimulation(), HistoricalSimulation(),
                                    n_dependence_samples=bad).fit(y)
    # a component forecasting other targets than the other one
    broken = CopulaCoupledForecaster(GaussianCopulaPaths(), DropsATarget()).fit(y)
    with pytest.raises(ValueError, match="dependence=DropsATarget .*mismatched targets"):
        broken.predict_samples(3, 10)
    with pytest.raises(ValueError, match="marginals=DropsATarget"):
        CopulaCoupledForecaster(DropsATarget(), GaussianCopulaPaths()).fit(y).predict_samples(
            3, 10)
    # exogenous features only when both components use them
    with pytest.raises(ValueError, match="marginals=HistoricalSimulation does not use"):
        CopulaCoupledForecaster(HistoricalSimulation(), DCCGarchForecaster()).fit(
            y, X=np.ones((200, 1)))
    # the history must be long enough for both components (DCC needs more than HS)
    with pytest.raises(ValueError, match="needs at least"):
        CopulaCoupledForecaster(HistoricalSimulation(), DCCGarchForecaster()).fit(y[:5])


def test_couple_samples_errors():
    a = np.zeros((10, 3, 2))
    with pytest.raises(ValueError, match="same \\(horizon, n_targets\\)"):
        couple_samples(a, np.zeros((10, 3, 3)))
    with pytest.raises(ValueError, match="same \\(horizon, n_targets\\)"):
        couple_samples(a, np.zeros((10, 4, 2)))
    with pytest.raises(ValueError, match="shape \\(n_samples, horizon, n_targets\\)"):
        couple_samples(a[0], a[0])
    with pytest.raises(ValueError, match="shape"):
        couple_samples(np.zeros((0, 3, 2)), a)
    bad = a.copy()
    bad[3, 1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        couple_samples(a, bad)
    with pytest.raises(ValueError, match="coupling must be one of"):
        couple_samples(a, a, coupling="horizons")


# --------------------------------------------------------------------------------------
# Command line, import cost, sktime.
# --------------------------------------------------------------------------------------
def test_cli_model_is_jointfm_coupled_with_dcc():
    from jointdist.cli import MODELS, make_model
    from jointdist.models import JointFMForecaster

    assert "coupled" in MODELS
    model = make_model("coupled", 4)
    assert isinstance(model, CopulaCoupledForecaster) and model.random_state == 4
    assert isinstance(model.marginals, JointFMForecaster)
    assert isinstance(model.dependence, DCCGarchForecaster)


def test_cli_model_fits_and_samples(torch_one_thread):
    from jointdist.cli import make_model

    model = make_model("coupled", 0).set_params(marginals__device="cpu").fit(_levels(120, 3))
    out = model.predict_samples(5, 100)
    assert out.shape == (100, 5, 3) and np.isfinite(out).all()
    marginal, _ = _draws(model, 5, 100, 0)
    assert _same_multisets(out, marginal)


def test_importing_the_coupled_model_does_not_import_torch():
    code = ("import sys; import jointdist; from jointdist import CopulaCoupledForecaster; "
            "import jointdist.models.coupled; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=1800)


def test_sktime_adapter_fit_predict():
    from jointdist.sktime import to_sktime

    y = pd.DataFrame(_levels(130, 2), columns=["a", "b"],
                     index=pd.period_range("2020-01", periods=130, freq="M"))
    model = CopulaCoupledForecaster(HistoricalSimulation(), DCCGarchForecaster())
    f = to_sktime(model, n_samples=200, random_state=0).fit(y, fh=[1, 3])
    assert f.get_params()["estimator__marginals__method"] == "iid"
    pred = f.predict_interval(coverage=0.8)
    assert pred.shape == (2, 4) and pred.notna().all().all()


@pytest.mark.slow
def test_sktime_check_estimator():
    """sktime's suite on a cheap coupled configuration (HS marginals in DCC ranks, with
    rank resampling); its short and constant test series need DCC's deterministic mode."""
    from sktime.utils.estimator_checks import check_estimator

    from jointdist.sktime import to_sktime

    model = CopulaCoupledForecaster(
        HistoricalSimulation("stationary", mean_block_length=3.0),
        DCCGarchForecaster(constant_increments="deterministic"), n_dependence_samples=50)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(to_sktime(model, n_samples=100), raise_exceptions=False,
                                  verbose=False)
    failed = {name: res for name, res in results.items() if res != "PASSED"}
    print(f"check_estimator: {len(results)} tests, {len(failed)} not passed, "
          f"{time.perf_counter() - start:.1f} s")
    assert len(results) > 300
    assert not failed, failed
