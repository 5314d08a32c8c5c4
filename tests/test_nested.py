"""nested_cross_validate: the whole search scored on outer splits it never saw."""

import numpy as np
import optuna
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold as SkGroupKFold
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier

from hpsearch.mlp import MLPClassifier
from hpsearch.model_selection import GridSearchCV, RandomSearchCV, nested_cross_validate
from hpsearch.model_selection import space as sp


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _grid():
    return GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.01, 0.1, 1.0]}, cv=3)


def test_equals_a_hand_written_loop_and_sklearn_cross_validate(iris):
    X, y = iris
    result = nested_cross_validate(_grid(), X, y, cv=3)
    outer = StratifiedKFold(n_splits=3)  # what cv=3 means for a classifier
    scores, bests, params = [], [], []
    for train, test in outer.split(X, y):
        search = clone(_grid()).fit(X[train], y[train])
        scores.append(search.score(X[test], y[test]))
        bests.append(search.best_score_)
        params.append(search.best_params_)
    np.testing.assert_array_equal(result.test_score, scores)
    np.testing.assert_array_equal(result.inner_best_score, bests)
    assert result.best_params == params
    assert result.mean_test_score == pytest.approx(np.mean(scores))
    assert result.std_test_score == pytest.approx(np.std(scores))
    np.testing.assert_allclose(result.optimism, np.subtract(bests, scores))
    assert result.mean_optimism == pytest.approx(np.mean(bests) - np.mean(scores))
    sk = cross_validate(_grid(), X, y, cv=3, return_estimator=True)
    np.testing.assert_array_equal(result.test_score, sk["test_score"])
    assert result.best_params == [e.best_params_ for e in sk["estimator"]]
    assert list(result.n_test) == [50, 50, 50] and list(result.n_train) == [100, 100, 100]


def test_inner_best_is_optimistic_on_noisy_data():
    # label noise, few rows, many candidates: the best of 12 noisy CV means overstates
    X, y = make_classification(n_samples=120, n_features=10, n_informative=3, flip_y=0.3,
                               random_state=0)
    search = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": list(range(1, 24, 2))},
                          cv=3)
    result = nested_cross_validate(search, X, y, cv=4, random_state=0)
    assert not np.allclose(result.test_score, result.inner_best_score)
    assert result.mean_optimism > 0.02
    assert np.mean(result.inner_best_score) > result.mean_test_score


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_same_random_state_same_result_tiny_mlp(iris):
    X, y = iris
    search = RandomSearchCV(
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=200),
        {"learning_rate_init": sp.Float(1e-2, 1e-1, log=True)}, n_iter=2, cv=2,
        random_state=3)
    a = nested_cross_validate(search, X, y, cv=2, random_state=1)
    b = nested_cross_validate(search, X, y, cv=2, random_state=1)
    np.testing.assert_array_equal(a.test_score, b.test_score)
    np.testing.assert_array_equal(a.inner_best_score, b.inner_best_score)
    assert a.best_params == b.best_params
    assert a.mean_test_score > 0.5  # it learned something (3 classes)


def test_each_inner_search_has_its_own_study(iris, tmp_path):
    X, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search = _grid().set_params(storage=storage, study_name="s")
    result = nested_cross_validate(search, X, y, cv=3, return_searches=True)
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == {"s-outer0", "s-outer1", "s-outer2"}
    assert [s.study_name for s in result.searches] == ["s-outer0", "s-outer1", "s-outer2"]
    assert search.study_name == "s" and not hasattr(search, "cv_results_")  # not fitted
    with pytest.raises(ValueError, match="already exists"):  # no silent mixing
        nested_cross_validate(search, X, y, cv=3)
    again = nested_cross_validate(search.set_params(resume=True), X, y, cv=3)
    np.testing.assert_array_equal(again.test_score, result.test_score)


def test_several_metrics_and_groups(iris):
    X, y = iris
    groups = np.arange(len(y)) % 6
    search = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0]},
                          cv=SkGroupKFold(n_splits=2))
    result = nested_cross_validate(search, X, y, cv=SkGroupKFold(n_splits=3), groups=groups,
                                   scoring=["accuracy", "f1_macro"])
    assert {"test_accuracy", "test_f1_macro", "mean_test_accuracy"} <= set(result)
    assert "optimism" not in result  # only comparable with the search's own score
    assert list(result.n_test) == [50, 50, 50]


@pytest.mark.parametrize("kwargs, match", [
    ({"n_jobs": 0}, "The 'n_jobs' parameter of nested_cross_validate"),
    ({"cv": True}, "The 'cv' parameter of nested_cross_validate"),
    ({"return_searches": "yes"}, "The 'return_searches' parameter"),
    # was sklearn's bare "'abc' cannot be used to seed ..." (no parameter named), and
    # random_state=True silently shuffled with seed 1
    ({"random_state": "abc"}, "The 'random_state' parameter of nested_cross_validate.*'abc'"),
    ({"random_state": 1.5}, "The 'random_state' parameter of nested_cross_validate.*1.5"),
    ({"random_state": True}, "The 'random_state' parameter of nested_cross_validate.*True"),
    ({"random_state": -1}, "The 'random_state' parameter of nested_cross_validate.*-1"),
])
def test_bad_parameters(iris, kwargs, match):
    with pytest.raises(ValueError, match=match):
        nested_cross_validate(_grid(), *iris, **kwargs)


def test_refit_false_is_refused(iris):
    with pytest.raises(ValueError, match="refit enabled"):
        nested_cross_validate(_grid().set_params(refit=False), *iris)


@pytest.mark.parametrize("wrap", ["pipeline", "estimator"])
def test_a_pipeline_ending_in_a_search_is_refused_before_any_fit(iris, wrap):
    # was: every outer split fitted, then AttributeError: no attribute 'best_params_'
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    search = (make_pipeline(StandardScaler(), _grid()) if wrap == "pipeline"
              else LogisticRegression())
    with pytest.raises(ValueError, match="The 'search' parameter of nested_cross_validate "
                       "must be a search estimator.*Got (Pipeline|LogisticRegression)"):
        nested_cross_validate(search, *iris)


def test_a_search_with_a_storage_under_sklearn_cross_validate_points_to_nested(iris,
                                                                             tmp_path):
    # the second outer split's clone finds the first one's study: refused (its fits are
    # of other rows), and the message no longer only says "Pass resume=True" (refused
    # too: other data), which misled
    search = _grid().set_params(storage=str(tmp_path / "cv.db"), study_name="n")
    with pytest.raises(ValueError, match="already exists.*nested_cross_validate names "
                       "them '<study_name>-outer<k>'"):
        cross_validate(search, *iris, cv=2, error_score="raise")


def test_an_outer_scoring_error_names_its_outer_split(iris):
    def scorer(estimator, X, y):
        if len(X) != 50:
            raise ArithmeticError("outer scoring")
        return 1.0

    X, y = iris
    with pytest.raises(ArithmeticError, match="outer scoring") as info:
        nested_cross_validate(_grid(), X[:-1], y[:-1], cv=3, scoring=scorer)
    assert ("nested_cross_validate: raised by the outer scoring of outer split 2 (49 "
            "outer-test rows).") in info.value.__notes__


def test_ctrl_c_in_an_sklearn_search_says_it_keeps_nothing(iris):
    # the note does not tell to give sklearn's GridSearchCV a storage it has not
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV

    class CtrlC(LogisticRegression):
        def fit(self, X, y):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        nested_cross_validate(SkGridSearchCV(CtrlC(), {"C": [1.0]}, cv=2), *iris, cv=2)
    assert info.value.__notes__ == [
        "hpsearch: nested_cross_validate keeps no finished inner fits of a search without "
        "a storage (GridSearchCV has none; hpsearch's searches take storage= and "
        "study_name=)."]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_precomputed_kernel_is_cut_to_the_outer_train_columns_as_sklearn(n_jobs):
    """A pairwise estimator (``SVC(kernel="precomputed")``) takes a (samples x samples)
    kernel: its outer-train part is ``K[train][:, train]``, its outer-test part
    ``K[test][:, train]`` (sklearn's ``_safe_split``, as ``cross_validate(search)`` cuts
    it). Was: ``K[train]`` (all columns), which the inner search refused ("X should be a
    square kernel matrix": every inner fit failed), sequentially and in the one pool."""
    from sklearn.svm import SVC

    X, y = make_classification(60, 4, random_state=0)
    grid = {"C": [0.01, 1.0]}
    kernel = GridSearchCV(SVC(kernel="precomputed"), grid, cv=3)
    result = nested_cross_validate(kernel, X @ X.T, y, cv=3, n_jobs=n_jobs)
    linear = nested_cross_validate(GridSearchCV(SVC(kernel="linear"), grid, cv=3), X, y,
                                   cv=3, n_jobs=n_jobs)
    sk = cross_validate(kernel, X @ X.T, y, cv=3)
    np.testing.assert_allclose(result.test_score, sk["test_score"])
    np.testing.assert_allclose(result.test_score, linear.test_score)
    np.testing.assert_allclose(result.inner_best_score, linear.inner_best_score)
    assert result.best_params == linear.best_params
