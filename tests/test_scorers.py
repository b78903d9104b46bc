"""scikit-learn-style scorers."""

import numpy as np
import pytest

from jointdist.metrics import (
    JointScorer,
    crps_sum,
    energy_score,
    get_scorer,
    get_scorer_names,
    make_joint_scorer,
    variogram_score,
)
from jointdist.models import HistoricalSimulation


@pytest.fixture
def fitted():
    y = 100 + np.cumsum(np.random.default_rng(0).normal(size=(220, 3)), axis=0)
    return HistoricalSimulation(random_state=0).fit(y[:200]), y[200:]


@pytest.mark.parametrize("name", get_scorer_names())
def test_named_scorers_return_negated_losses(fitted, name):
    model, future = fitted
    scorer = get_scorer(name, n_samples=300, random_state=5)
    value = scorer(model, None, future)
    samples = model.predict_samples(len(future), 300, random_state=5)
    assert value == pytest.approx(scorer.score_samples(future, samples))
    assert value < 0
    assert get_scorer("neg_" + name, n_samples=300, random_state=5)(model, None, future) == value


def test_scorer_equals_metric(fitted):
    model, future = fitted
    samples = model.predict_samples(20, 400, random_state=1)
    assert get_scorer("energy_score", n_samples=400, random_state=1)(model, None, future) \
        == pytest.approx(-energy_score(future, samples))
    vs = make_joint_scorer("variogram_score", n_samples=400, random_state=1, p=1.0)
    assert vs(model, None, future) == pytest.approx(-variogram_score(future, samples, p=1.0))
    norm = get_scorer("crps_sum_normalized", n_samples=400, random_state=1)
    assert norm(model, None, future) == pytest.approx(-crps_sum(future, samples,
                                                                normalize=True))


def test_better_model_scores_higher():
    """On a turbulent end of history, filtered HS beats iid HS on average (seeded)."""
    rng = np.random.default_rng(3)
    inc = rng.normal(size=(600, 2))
    inc[-60:] *= 4.0
    y = np.cumsum(inc, axis=0)
    scorer = get_scorer("energy_score", n_samples=500, random_state=0)
    futures = y[-1] + np.cumsum(4.0 * rng.normal(size=(40, 10, 2)), axis=1)
    iid = HistoricalSimulation("iid").fit(y)
    fhs = HistoricalSimulation("filtered").fit(y)
    diff = [scorer(fhs, None, f) - scorer(iid, None, f) for f in futures]
    assert np.mean(diff) > 3 * np.std(diff, ddof=1) / np.sqrt(len(diff))


def test_callable_metric_and_sign(fitted):
    model, future = fitted

    def mean_abs_error(y_true, y_samples):
        return np.abs(y_samples.mean(axis=0) - y_true).mean()

    loss = make_joint_scorer(mean_abs_error, n_samples=100, random_state=0)
    score = make_joint_scorer(mean_abs_error, n_samples=100, random_state=0,
                              greater_is_better=True)
    assert loss(model, None, future) == pytest.approx(-score(model, None, future))
    assert "mean_abs_error" in repr(loss)


def test_scorer_errors(fitted):
    model, future = fitted
    scorer = get_scorer("crps")
    with pytest.raises(ValueError, match="2 target"):
        scorer(model, None, future[:, :2])
    with pytest.raises(ValueError, match="X=None"):
        scorer(model, np.zeros((20, 1)), future)
    with pytest.raises(ValueError, match="Unknown metric"):
        get_scorer("accuracy")
    with pytest.raises(ValueError, match="n_samples"):
        get_scorer("crps", n_samples=0)
    with pytest.raises(ValueError, match="random_state"):
        make_joint_scorer("crps", random_state=np.random.default_rng(0))
    assert isinstance(get_scorer(scorer), JointScorer) and get_scorer(scorer) is scorer
