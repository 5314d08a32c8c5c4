"""GridSearchCV / RandomSearchCV against sklearn's: same cv_results_, key by key."""

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.model_selection import KFold
from sklearn.model_selection import RandomizedSearchCV as SkRandomizedSearchCV

from hpsearch.model_selection.strategies.grid import GridSearchCV
from hpsearch.model_selection.strategies.random import RandomSearchCV

GRID = {"alpha": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]}


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def assert_matches_sklearn(ours, theirs):
    """Every key of sklearn's cv_results_ equal in ours; ours adds only 'error' and, with
    train scores, the lecture's 'diagnosis' per candidate (issue 12)."""
    train = any(k.startswith("mean_train_") for k in theirs)
    assert set(ours) - set(theirs) == {"error"} | ({"diagnosis"} if train else set())
    assert set(theirs) <= set(ours)
    for key, expected in theirs.items():
        got = ours[key]
        if key == "params":
            assert got == expected
        elif key.startswith("param_"):
            assert list(got) == list(expected), key
            assert got.dtype == expected.dtype, key
        elif key.startswith("rank_"):
            np.testing.assert_array_equal(got, expected, err_msg=key)
            assert got.dtype == expected.dtype
        elif "time" in key:
            assert got.shape == expected.shape
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=key)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"return_train_score": True},
        {"scoring": ["r2", "neg_mean_squared_error"], "refit": "r2",
         "return_train_score": True},
        {"scoring": {"r2": "r2", "mae": "neg_mean_absolute_error"}, "refit": "mae"},
    ],
    ids=["single", "train-score", "multi-list", "multi-dict"],
)
def test_grid_search_cv_results_equal_sklearn(diabetes, kwargs):
    X, y = diabetes
    ours = GridSearchCV(Ridge(), GRID, cv=KFold(5), **kwargs).fit(X, y)
    theirs = SkGridSearchCV(Ridge(), GRID, cv=KFold(5), **kwargs).fit(X, y)
    assert_matches_sklearn(ours.cv_results_, theirs.cv_results_)
    assert ours.best_index_ == theirs.best_index_
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, rel=1e-12)
    assert ours.multimetric_ == theirs.multimetric_
    assert ours.n_splits_ == theirs.n_splits_ == 5
    assert ours.scorer_.keys() == theirs.scorer_.keys() if ours.multimetric_ else True
    np.testing.assert_allclose(ours.predict(X[:5]), theirs.predict(X[:5]))
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y))
    assert ours.n_features_in_ == 10
    assert ours.refit_time_ >= 0


def test_refit_callable_and_refit_false_behave_as_sklearn(diabetes):
    X, y = diabetes

    def lowest_alpha(results):
        return int(np.argmin(results["param_alpha"]))

    ours = GridSearchCV(Ridge(), GRID, refit=lowest_alpha, cv=3).fit(X, y)
    assert ours.best_index_ == 0 and not hasattr(ours, "best_score_")
    no_refit = GridSearchCV(Ridge(), GRID, refit=False, cv=3).fit(X, y)
    assert not hasattr(no_refit, "best_estimator_")
    with pytest.raises(AttributeError, match="has no attribute .predict."):
        no_refit.predict(X)
    with pytest.raises(ValueError, match="For multi-metric scoring, the parameter refit"):
        GridSearchCV(Ridge(), GRID, scoring=["r2", "neg_max_error"], cv=3).fit(X, y)


def test_classifier_search_delegates_like_sklearn():
    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.1, 1.0]}
    ours = GridSearchCV(LogisticRegression(max_iter=500), grid, cv=3).fit(X, y)
    theirs = SkGridSearchCV(LogisticRegression(max_iter=500), grid, cv=3).fit(X, y)
    assert_matches_sklearn(ours.cv_results_, theirs.cv_results_)
    np.testing.assert_array_equal(ours.classes_, [0, 1, 2])
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X))


def test_random_search_draws_the_candidates_sklearn_draws(diabetes):
    X, y = diabetes
    space = {"alpha": loguniform(1e-3, 1e2), "fit_intercept": [True, False]}
    ours = RandomSearchCV(Ridge(), space, n_iter=6, cv=KFold(4), random_state=3).fit(X, y)
    theirs = SkRandomizedSearchCV(
        Ridge(), space, n_iter=6, cv=KFold(4), random_state=3
    ).fit(X, y)
    assert_matches_sklearn(ours.cv_results_, theirs.cv_results_)


def test_results_frame_is_tidy(diabetes):
    X, y = diabetes
    search = GridSearchCV(Ridge(), GRID, cv=3, return_train_score=True).fit(X, y)
    frame = search.results_frame()
    assert len(frame) == 8 * 3
    assert {"candidate", "split", "alpha", "fit_intercept", "test_score", "train_score",
            "rank_test_score", "error"} <= set(frame.columns)
    first = frame[frame.candidate == 0].test_score.to_numpy()
    np.testing.assert_array_equal(
        first, [search.cv_results_[f"split{k}_test_score"][0] for k in range(3)]
    )
