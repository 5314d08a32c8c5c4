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
