"""``nested_cross_validate(params=...)`` against scikit-learn's
``cross_validate(search, X, y, params=...)``.

sklearn's ``cross_validate`` routes ``params`` (``sample_weight``, ``groups``, ...):
without metadata routing all of them to the search's ``fit`` (the outer-train rows of
each), none to the outer scorer; with routing to the outer splitter, the search's
``fit`` and the outer scorer (the outer-test rows) as each requests them. The old
``nested_cross_validate`` took no ``params`` at all ("got an unexpected keyword
argument 'params'"), so a weighted nested CV could not be run, and its one pool raised
on any per-sample fit parameter.
"""

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, make_scorer, r2_score
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.model_selection import GroupKFold, KFold, cross_validate

from hpsearch.model_selection import GridSearchCV, nested_cross_validate

GRID = {"C": [0.01, 0.1, 1.0]}
ALPHAS = {"alpha": [0.1, 10.0, 100.0]}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(90, 4)
    y = (X[:, 0] + 0.8 * rng.randn(90) > 0).astype(int)
    y_reg = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.randn(90)
    w = rng.rand(90) * 3
    groups = np.repeat(np.arange(9), 10)
    return X, y, y_reg, w, groups


def _same(ours, theirs):
    """Outer scores, inner best scores and chosen parameters are sklearn's, exactly."""
    np.testing.assert_array_equal(ours.test_score, theirs["test_score"])
    np.testing.assert_array_equal(ours.inner_best_score,
                                  [e.best_score_ for e in theirs["estimator"]])
    assert ours.best_params == [e.best_params_ for e in theirs["estimator"]]


def _cases(data, routing):
    """(our search, sklearn's search, y) for LogisticRegression and Ridge; with routing
    the estimator and the inner scorer request the weights."""
    X, y, y_reg, w, _ = data
    lr, ridge = LogisticRegression(), Ridge()
    acc, r2 = make_scorer(accuracy_score), make_scorer(r2_score)
    if routing:
        lr, ridge = (e.set_fit_request(sample_weight=True) for e in (lr, ridge))
        acc, r2 = (s.set_score_request(sample_weight=True) for s in (acc, r2))
    return [(GridSearchCV(lr, GRID, cv=3, scoring=acc, progress=False),
             SkGridSearchCV(lr, GRID, cv=3, scoring=acc), y),
            (GridSearchCV(ridge, ALPHAS, cv=3, scoring=r2, progress=False),
             SkGridSearchCV(ridge, ALPHAS, cv=3, scoring=r2), y_reg)]


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("routing", [False, True])
def test_weighted_nested_cv_equals_sklearn_cross_validate(data, routing, n_jobs):
    # was: TypeError "nested_cross_validate() got an unexpected keyword argument 'params'"
    X, _, _, w, _ = data
    with sklearn.config_context(enable_metadata_routing=routing):
        for ours_search, sk_search, y in _cases(data, routing):
            ours = nested_cross_validate(ours_search, X, y, cv=3, n_jobs=n_jobs,
                                         params={"sample_weight": w})
            theirs = cross_validate(sk_search, X, y, cv=3, params={"sample_weight": w},
                                    return_estimator=True)
            _same(ours, theirs)
            assert ours.engine == ("sequential" if n_jobs == 1 else "one pool")
            if n_jobs == 1:  # the weights change the result (the check is not vacuous)
                unweighted = nested_cross_validate(ours_search, X, y, cv=3, n_jobs=1)
                assert not np.array_equal(unweighted.inner_best_score,
                                          ours.inner_best_score)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_with_routing_the_outer_test_score_is_weighted_as_the_outer_scorer_requests(
        data, n_jobs):
    # the estimator does not take the weights, the inner and outer scorers do (outer
    # scoring given, and scoring=None: the search's own score routes them)
    X, y, _, w, _ = data
    with sklearn.config_context(enable_metadata_routing=True):
        lr = LogisticRegression().set_fit_request(sample_weight=False)
        acc = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        ours_search = GridSearchCV(lr, GRID, cv=3, scoring=acc, progress=False)
        sk_search = SkGridSearchCV(lr, GRID, cv=3, scoring=acc)
        plain = cross_validate(SkGridSearchCV(LogisticRegression(), GRID, cv=3), X, y, cv=3)
        for scoring in (None, acc):
            ours = nested_cross_validate(ours_search, X, y, cv=3, scoring=scoring,
                                         n_jobs=n_jobs, params={"sample_weight": w})
            theirs = cross_validate(sk_search, X, y, cv=3, scoring=scoring,
                                    params={"sample_weight": w}, return_estimator=True)
            _same(ours, theirs)
            assert not np.array_equal(ours.test_score, plain["test_score"])


def test_without_routing_params_groups_go_to_the_inner_search_as_sklearn(data):
    # sklearn: groups= to the outer splitter, params["groups"] to the search's fit
    X, y, _, w, groups = data
    inner_groups = groups[::-1].copy()
    ours = nested_cross_validate(
        GridSearchCV(LogisticRegression(), GRID, cv=GroupKFold(3), progress=False), X, y,
        cv=GroupKFold(3), groups=groups,
        params={"groups": inner_groups, "sample_weight": w})
    theirs = cross_validate(SkGridSearchCV(LogisticRegression(), GRID, cv=GroupKFold(3)),
                            X, y, cv=GroupKFold(3), groups=groups,
                            params={"groups": inner_groups, "sample_weight": w},
                            return_estimator=True)
    _same(ours, theirs)


def test_with_routing_params_groups_go_to_both_splitters_as_requested(data):
    X, y, _, w, groups = data
    with sklearn.config_context(enable_metadata_routing=True):
        lr = (LogisticRegression().set_fit_request(sample_weight=True)
              .set_score_request(sample_weight=False))
        params = {"groups": groups, "sample_weight": w}
        ours = nested_cross_validate(GridSearchCV(lr, GRID, cv=GroupKFold(2),
                                                  progress=False),
                                     X, y, cv=GroupKFold(3), params=params, n_jobs=2)
        theirs = cross_validate(SkGridSearchCV(lr, GRID, cv=GroupKFold(2)), X, y,
                                cv=GroupKFold(3), params=params, return_estimator=True)
        _same(ours, theirs)
        with pytest.raises(ValueError, match="groups both as 'groups' and in 'params'"):
            nested_cross_validate(GridSearchCV(lr, GRID, cv=2, progress=False), X, y,
                                  cv=KFold(3), groups=groups, params=params)


@pytest.mark.parametrize("routing", [False, True])
def test_a_param_of_the_wrong_length_is_named(data, routing):
    # sklearn passes it whole to every search, whose fits all fail (NaN outer scores);
    # nested CV splits every array with the outer folds, so it says which one is wrong
    X, y, _, w, _ = data
    with sklearn.config_context(enable_metadata_routing=routing):
        lr = LogisticRegression()
        if routing:
            lr = lr.set_fit_request(sample_weight=True)
        search = GridSearchCV(lr, GRID, cv=3, progress=False)
        with pytest.raises(ValueError, match=r"'sample_weight' entry .*n_samples=90\)"
                                             r".* Got 89 values"):
            nested_cross_validate(search, X, y, cv=3, params={"sample_weight": w[:-1]})
    with pytest.raises(ValueError, match="'params' parameter .* must be a dict"):
        nested_cross_validate(search, X, y, cv=3, params=[("sample_weight", w)])


def test_with_routing_unrequested_params_raise_sklearns_errors(data):
    X, y, _, w, _ = data
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(LogisticRegression(), GRID, cv=3, progress=False)
        # a weight nobody consumes: TypeError, as cross_validate's
        with pytest.raises(TypeError, match=r"nested_cross_validate got unexpected "
                                            r"argument\(s\) \{'weights'\}"):
            nested_cross_validate(search, X, y, cv=3, params={"weights": w})
        with pytest.raises(TypeError, match="unexpected argument"):
            cross_validate(SkGridSearchCV(LogisticRegression(), GRID, cv=3), X, y, cv=3,
                           params={"weights": w})
        # a weight whose request is unset on the estimator: sklearn's
        # UnsetMetadataPassedError (a ValueError) naming it, before any fit, for both
        # engines (sklearn's cross_validate turns it into NaN scores and a ValueError
        # "All the 3 fits failed")
        for n_jobs in (1, 2):
            with pytest.raises(UnsetMetadataPassedError, match=r"\[sample_weight\]"):
                nested_cross_validate(search, X, y, cv=3, n_jobs=n_jobs,
                                      params={"sample_weight": w})


def test_non_array_params_pass_through_to_every_inner_fit(data):
    # as sklearn's _check_method_params: a scalar is given whole to every fit
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Recording(ClassifierMixin, BaseEstimator):
        def __init__(self, C=1.0):
            self.C = C

        def fit(self, X, y, flag=None, sample_weight=None):
            assert flag == "on" and len(sample_weight) == len(X)
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.full(len(X), self.classes_[0])

    X, y, _, w, _ = data
    search = GridSearchCV(Recording(), GRID, cv=3, error_score="raise", progress=False)
    result = nested_cross_validate(search, X, y, cv=3,
                                   params={"flag": "on", "sample_weight": w})
    assert len(result.test_score) == 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_one_pool_gives_hpsearch_mlp_the_rows_of_the_weights_as_sequentially(data):
    # hpsearch's MLP fits on X with sample_index (the one pool: indices into all of X,
    # sequential: into the outer-train part); the weights must follow the same rows
    from hpsearch.mlp import MLPClassifier
    from hpsearch.model_selection.nested import _sequential

    X, y, _, w, _ = data
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(4,), max_iter=20,
                                        random_state=0),
                          {"alpha": [1e-4, 1.0]}, cv=2, progress=False)
    pooled = nested_cross_validate(search, X, y, cv=3, n_jobs=2,
                                   params={"sample_weight": w})
    sequential = _sequential(search, X, y, cv=3, n_jobs=2, params={"sample_weight": w})
    assert (pooled.engine, sequential.engine) == ("one pool", "sequential")
    np.testing.assert_array_equal(pooled.test_score, sequential.test_score)
    np.testing.assert_array_equal(pooled.inner_best_score, sequential.inner_best_score)


@pytest.mark.parametrize("routing", [False, True])
def test_sklearns_own_search_gets_the_params_too(data, routing):
    X, y, _, w, _ = data
    with sklearn.config_context(enable_metadata_routing=routing):
        lr = LogisticRegression()
        if routing:
            lr = lr.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        search = SkGridSearchCV(lr, GRID, cv=3)
        ours = nested_cross_validate(search, X, y, cv=3, params={"sample_weight": w})
        theirs = cross_validate(search, X, y, cv=3, params={"sample_weight": w},
                                return_estimator=True)
    _same(ours, theirs)


@pytest.mark.parametrize("routing", [False, True])
def test_several_outer_metrics_each_weighted_as_requested(data, routing):
    from sklearn.metrics import balanced_accuracy_score

    X, y, _, w, _ = data
    with sklearn.config_context(enable_metadata_routing=routing):
        lr = LogisticRegression()
        acc, bal = make_scorer(accuracy_score), make_scorer(balanced_accuracy_score)
        if routing:
            lr = lr.set_fit_request(sample_weight=True)
            acc, bal = (acc.set_score_request(sample_weight=True),
                        bal.set_score_request(sample_weight=False))
        scoring = {"acc": acc, "bal": bal}
        ours = nested_cross_validate(
            GridSearchCV(lr, GRID, cv=3, scoring=scoring, refit="acc", progress=False),
            X, y, cv=3, scoring=scoring, n_jobs=2, params={"sample_weight": w})
        theirs = cross_validate(SkGridSearchCV(lr, GRID, cv=3, scoring=scoring, refit="acc"),
                                X, y, cv=3, scoring=scoring, params={"sample_weight": w})
    assert ours.engine == "one pool"
    for name in scoring:
        np.testing.assert_array_equal(ours[f"test_{name}"], theirs[f"test_{name}"])
