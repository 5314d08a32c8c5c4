"""The budget ASHASearchCV's best model is trained with (the docstring's claims).

A rung of n_k results promotes floor(n_k / eta): with one worker the top rung needs
about eta**K candidates. Fewer end below max_resources_, whatever the timeout.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from hpsearch import ASHASearchCV, MLPClassifier
from hpsearch.space import Float


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _fit(X, y, space, n_trials):
    search = ASHASearchCV(
        MLPClassifier(hidden_layer_sizes=(8,), random_state=0), space,
        n_trials=n_trials, min_resources=1, max_resources=9, cv=3, random_state=0,
        n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y)


def test_the_docstring_example_stops_below_max_resources(iris):
    search = _fit(*iris, {"learning_rate_init": [1e-3, 1e-2, 1e-1]}, 3)
    assert search.n_resources_ == [1, 3, 9]
    res = search.cv_results_
    assert int(res["n_resources"][search.best_index_]) == 3  # 3 results promote 1
    assert res["n_resources"].max() == 3
    assert search.best_estimator_.n_iter_ == 3


def test_eta_to_the_k_candidates_reach_max_resources(iris):
    search = _fit(*iris, {"learning_rate_init": Float(1e-3, 1e-1, log=True)}, 9)
    res = search.cv_results_
    assert int(res["n_resources"][search.best_index_]) == 9
    assert np.sum(res["iter"] == 1) >= 3  # floor(9 / 3) promoted out of rung 0
