"""sklearn parity of the searches not covered by sklearn's own suites (issue 10)."""

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from hpsearch import GridSearchCV, OptunaSearchCV
from hpsearch.space import Categorical


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.mark.parametrize(
    "sampler",
    [lambda: optuna.samplers.GridSampler({"C": [0.1, 1.0]}),
     lambda: optuna.samplers.BruteForceSampler(seed=0)],
    ids=["grid", "brute-force"],
)
def test_optuna_exhaustive_samplers_stop_when_the_space_is_done(iris, sampler):
    X, y = iris
    search = OptunaSearchCV(
        LogisticRegression(max_iter=300), {"C": Categorical([0.1, 1.0])},
        n_trials=5, sampler=sampler(), cv=3,
    ).fit(X, y)
    assert sorted(p["C"] for p in search.cv_results_["params"]) == [0.1, 1.0]


def test_optuna_resume_refuses_a_study_with_another_direction(iris, tmp_path):
    X, y = iris
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(storage=url, study_name="s", direction="minimize")
    search = OptunaSearchCV(
        LogisticRegression(max_iter=300), {"C": Categorical([0.1, 1.0])},
        n_trials=2, storage=url, study_name="s", resume=True, cv=3,
    )
    with pytest.raises(ValueError, match="has direction.*minimize.*'maximize'"):
        search.fit(X, y)


def test_optuna_pruner_error_names_the_pruner(iris):
    X, y = iris
    search = OptunaSearchCV(DummyClassifier(), {"strategy": Categorical(["prior"])},
                            n_trials=1, pruner="median")
    with pytest.raises(ValueError, match="The 'pruner' parameter") as info:
        search.fit(X, y)
    assert "'resource'" not in str(info.value)


def test_precomputed_kernel_gets_train_columns(iris):
    X, y = iris
    K = X @ X.T
    ours = GridSearchCV(SVC(kernel="precomputed"), {"C": [1.0]}, cv=3).fit(K, y)
    linear = GridSearchCV(SVC(kernel="linear"), {"C": [1.0]}, cv=3).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               linear.cv_results_["mean_test_score"])


def test_grid_estimator_values_are_never_fitted(iris):
    X, y = iris
    clf = LogisticRegression(max_iter=300)
    search = GridSearchCV(Pipeline([("clf", DummyClassifier())]),
                          {"clf": [clf], "clf__C": [0.5]}, cv=3).fit(X, y)
    assert clf.C == 1.0 and not hasattr(clf, "coef_")
    assert search.best_estimator_.named_steps["clf"].C == 0.5


@pytest.mark.slow
def test_sklearn_callbacks_reach_the_parent_with_parallel_workers():
    """With callbacks, n_jobs=2 runs through joblib (not fork workers), so the hooks the
    workers call reach the callbacks, as with n_jobs=1."""
    from sklearn.callback.tests._utils import (
        MaxIterEstimator,
        RecordingAutoPropagatedCallback,
    )
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=60, random_state=0)
    counts = []
    for n_jobs in (1, 2):
        callback = RecordingAutoPropagatedCallback()
        search = GridSearchCV(MaxIterEstimator(), {"max_iter": [1, 2, 3]}, cv=2,
                              scoring="r2", n_jobs=n_jobs).set_callbacks(callback)
        search.fit(X, y)
        counts.append(callback.count_hooks("on_fit_task_end"))
    assert counts[0] == counts[1] > 0
    assert search.backend_.startswith("joblib:")


def test_anything_with_rvs_is_a_distribution(iris):
    """sklearn's ParameterSampler accepts any object with ``rvs`` (an unfrozen
    scipy.stats distribution, a custom sampler)."""
    from scipy.stats import expon

    from hpsearch import RandomSearchCV

    class Sampler:
        def rvs(self, random_state=None):
            return 1e-4 * (1 + random_state.rand())

    X, y = iris
    search = RandomSearchCV(LogisticRegression(max_iter=300),
                            {"C": expon, "tol": Sampler()}, n_iter=2, cv=3,
                            random_state=0).fit(X, y)
    assert all(1e-4 <= p["tol"] <= 2e-4 and p["C"] > 0
               for p in search.cv_results_["params"])


def _every_search(estimator, grid):
    """Each hpsearch search class on ``estimator`` (small budgets; the halving ones
    subsample the train folds from 20 rows on, so the kernel columns are cut to them)."""
    from hpsearch import (
        ASHASearchCV,
        HalvingGridSearchCV,
        HalvingRandomSearchCV,
        HalvingSearchCV,
        HyperbandSearchCV,
        RandomSearchCV,
    )
    from hpsearch.model_selection.strategies.recipe import RecipeSearchCV

    budget = dict(resource="n_samples", factor=2, min_resources=20, random_state=0, cv=3)
    return {
        "grid": GridSearchCV(estimator, grid, cv=3),
        "grid-racing": GridSearchCV(estimator, grid, cv=4, racing=True,
                                    racing_min_splits=2),
        "random": RandomSearchCV(estimator, grid, n_iter=3, random_state=0, cv=3),
        "halving-grid": HalvingGridSearchCV(estimator, grid, **budget),
        "halving-random": HalvingRandomSearchCV(estimator, grid, n_candidates=3, **budget),
        "halving-epochs": HalvingSearchCV(estimator, grid, resource="max_iter",
                                          max_resources=9, random_state=0, cv=3),
        "hyperband": HyperbandSearchCV(estimator, grid, **budget),
        "asha": ASHASearchCV(estimator, grid, n_trials=3, **budget),
        "optuna": OptunaSearchCV(estimator, grid, n_trials=3, random_state=0, cv=3),
        "recipe": RecipeSearchCV(estimator, grid, n_iter=2, random_state=0, cv=3),
    }


_KINDS = list(_every_search(SVC(), {}))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # (max_iter)
@pytest.mark.parametrize("kind", _KINDS)
def test_every_search_cuts_a_precomputed_kernel_as_sklearn(kind):
    """A pairwise estimator's splits are ``K[train][:, train]`` / ``K[test][:, train]``
    (sklearn's ``_safe_split``) in every search, also where the train folds are
    subsampled (halving, Hyperband, ASHA on ``n_samples``), raced or fitted by rounds:
    each row scores as ``SVC(kernel="linear")`` on X. (Held before this test; a wrong
    cut is a silent wrong score, or an error only some searches would raise.)"""
    from sklearn.datasets import make_classification

    X, y = make_classification(60, 4, random_state=0)
    grid = {"C": [0.01, 0.1, 1.0]}
    kernel = _every_search(SVC(kernel="precomputed"), grid)[kind].fit(X @ X.T, y)
    linear = _every_search(SVC(kernel="linear"), grid)[kind].fit(X, y)
    assert kernel.cv_results_["params"] == linear.cv_results_["params"]
    for key in linear.cv_results_:
        if key.endswith("_score") and not key.startswith("rank"):
            np.testing.assert_allclose(kernel.cv_results_[key], linear.cv_results_[key],
                                       err_msg=key)
    np.testing.assert_array_equal(kernel.predict(X[:7] @ X.T), linear.predict(X[:7]))


def _tagged_estimators():
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    from hpsearch import MLPClassifier, MLPRegressor

    return [SVC(kernel="precomputed"), KNeighborsClassifier(metric="precomputed"),
            HistGradientBoostingClassifier(), make_pipeline(SimpleImputer(), SVC()),
            MultinomialNB(), PCA(), IsolationForest(), MultiOutputRegressor(Ridge()),
            MLPClassifier(), MLPRegressor()]


@pytest.mark.parametrize("estimator", _tagged_estimators(), ids=lambda e: type(e).__name__)
def test_every_search_has_the_tags_of_sklearns_search(estimator):
    """``sklearn.utils.get_tags`` of every search equals that of sklearn's GridSearchCV
    (HalvingGridSearchCV for the two halving searches it has) on the same estimator,
    field by field (pairwise, sparse, estimator type, classifier and regressor tags; the
    rest sklearn's defaults: allow_nan, positive_only, transformer tags not forwarded),
    but for two documented differences (README): ``target_tags.multi_output`` and, for
    the halving searches, ``array_api_support`` are the estimator's. (Held before this
    test.)"""
    import importlib

    from sklearn.base import is_classifier, is_outlier_detector, is_regressor
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV
    from sklearn.utils import get_tags

    importlib.import_module("sklearn.experimental.enable_halving_search_cv")
    from sklearn.model_selection import HalvingGridSearchCV as SkHalvingGridSearchCV

    own = get_tags(estimator)
    for kind, search in _every_search(estimator, {}).items():
        theirs = (SkHalvingGridSearchCV if kind in ("halving-grid", "halving-random")
                  else SkGridSearchCV)(estimator, {})
        expected = get_tags(theirs)
        expected.target_tags.multi_output = own.target_tags.multi_output
        expected.array_api_support = own.array_api_support
        assert get_tags(search) == expected, kind
        for is_kind in (is_classifier, is_regressor, is_outlier_detector):
            assert is_kind(search) == is_kind(theirs), (kind, is_kind.__name__)
