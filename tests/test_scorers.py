"""scikit-learn-style scorers."""

import warnings

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


# ---------------------------------------------------------------- scikit-learn's own tools
# cross_val_score(model, y, ...) fits model.fit(y_train) and calls scorer(model, y_test):
# the series arrives as their X (issue 15, item 3: every score was NaN).
def _random_walk(n=120, k=2, seed=0):
    return np.cumsum(np.random.default_rng(seed).normal(size=(n, k)), axis=0)


def test_cross_val_score_gives_finite_scores_equal_to_direct_calls():
    from sklearn.model_selection import TimeSeriesSplit, cross_val_score

    y = _random_walk()
    scorer = get_scorer("energy_score", n_samples=200, random_state=0)
    cv = TimeSeriesSplit(3, test_size=5)
    scores = cross_val_score(HistoricalSimulation(random_state=0), y, scoring=scorer, cv=cv,
                             error_score="raise")
    assert scores.shape == (3,) and np.all(np.isfinite(scores)) and np.all(scores < 0)
    direct = [scorer(HistoricalSimulation(random_state=0).fit(y[train]), None, y[test])
              for train, test in cv.split(y)]
    np.testing.assert_allclose(scores, direct)
    # the default error_score=nan must not hide a failure either
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(np.isfinite(cross_val_score(HistoricalSimulation(), y, scoring=scorer,
                                                  cv=cv)))


def test_grid_search_picks_the_clearly_better_window():
    """A calm end after a turbulent start: a short look-back window wins clearly."""
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

    rng = np.random.default_rng(1)
    increments = rng.normal(size=(600, 2))
    increments[:400] *= 10.0  # turbulent start, calm last 200 steps
    y = np.cumsum(increments, axis=0)
    n_splits = 5
    search = GridSearchCV(HistoricalSimulation(random_state=0), {"window": [None, 50]},
                          scoring=get_scorer("energy_score", n_samples=300, random_state=0),
                          cv=TimeSeriesSplit(n_splits, test_size=10), error_score="raise")
    search.fit(y)
    split_scores = np.array([search.cv_results_[f"split{i}_test_score"]
                             for i in range(n_splits)])  # (split, candidate)
    assert np.all(np.isfinite(split_scores))
    assert search.best_params_ == {"window": 50}
    # the full window's spread is about 7x too wide: the short window wins on every split
    assert np.all(split_scores[:, 1] > split_scores[:, 0])
    assert search.best_estimator_.n_timesteps_ == len(y)  # refitted on the whole series


def test_scikit_learn_refuses_scorer_names_it_does_not_know():
    """scikit-learn cannot be taught a string, so it must refuse it, not score NaN."""
    from sklearn.model_selection import TimeSeriesSplit, cross_val_score

    with pytest.raises(ValueError, match="scoring"):
        cross_val_score(HistoricalSimulation(), _random_walk(), scoring="neg_energy_score",
                        cv=TimeSeriesSplit(3, test_size=5))


def test_scorer_call_forms():
    y = _random_walk()
    model = HistoricalSimulation(random_state=0).fit(y[:100])
    scorer = get_scorer("crps_sum", n_samples=100, random_state=0)
    assert scorer(model, y[100:]) == scorer(model, None, y[100:])
    with pytest.raises(ValueError, match="nothing to score"):
        scorer(model, None)
    with pytest.raises(ValueError, match="X=None"):
        scorer(model, y[100:], y[100:])


def test_scorer_refuses_a_labelled_future_before_the_history():
    """A KFold split of a DataFrame scores forecasts on earlier rows: refused."""
    import pandas as pd
    from sklearn.model_selection import KFold, TimeSeriesSplit, cross_val_score

    frame = pd.DataFrame(_random_walk(), index=pd.date_range("2025-01-01", periods=120))
    scorer = get_scorer("energy_score", n_samples=50, random_state=0)
    model = HistoricalSimulation(random_state=0).fit(frame.iloc[20:])
    with pytest.raises(ValueError, match="TimeSeriesSplit"):
        scorer(model, frame.iloc[:20])
    assert np.isfinite(scorer(HistoricalSimulation().fit(frame.iloc[:100]), frame.iloc[100:]))
    with pytest.raises(ValueError, match="TimeSeriesSplit"):
        cross_val_score(HistoricalSimulation(), frame, scoring=scorer, cv=KFold(3),
                        error_score="raise")
    # KFold's last fold follows its training rows, TimeSeriesSplit's folds all do
    scores = cross_val_score(HistoricalSimulation(), frame, scoring=scorer,
                             cv=TimeSeriesSplit(3, test_size=5), error_score="raise")
    assert np.all(np.isfinite(scores))
