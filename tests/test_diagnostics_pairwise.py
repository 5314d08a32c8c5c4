"""The recipe for a pairwise estimator (sklearn's tag ``input_tags.pairwise``:
``SVC(kernel="precomputed")``, ``KNeighborsClassifier(metric="precomputed")``, ``X`` a
samples x samples kernel or distance matrix): the model is fitted on ``K[train][:, train]``
and scored on ``K[test][:, train]`` as sklearn's ``cross_validate`` does, and the linear
reference is a linear model on those same kernel columns, never on the test rows' columns.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import pairwise_distances
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from hpsearch import diagnose
from hpsearch.diagnostics import default_references, reference_scores
from hpsearch.model_selection import GridSearchCV, RecipeSearchCV

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(60, 4, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def split(data):
    X, y = data
    return next(StratifiedKFold(3).split(X, y))


def _blind(K, split):
    """``K`` with every entry sklearn never shows a model of the split replaced by noise:
    the training rows' columns of the test rows, and the test rows' own block."""
    train, test = split
    K = K.copy()
    rng = np.random.default_rng(0)
    K[np.ix_(train, test)] = 100 * rng.normal(size=(len(train), len(test)))
    K[np.ix_(test, test)] = 100 * rng.normal(size=(len(test), len(test)))
    return K


def _by_hand(estimator, K, y, split):
    """The linear reference fitted on ``K[train][:, train]``, scored on it and on
    ``K[test][:, train]``."""
    train, test = split
    ref = clone(default_references(estimator, K, y)["linear"])
    ref.fit(K[np.ix_(train, train)], y[train])
    return ref.score(K[np.ix_(train, train)], y[train]), ref.score(K[np.ix_(test, train)],
                                                                  y[test])


@pytest.mark.parametrize("kind", ["kernel", "distance"])
def test_diagnose_cuts_a_precomputed_matrix_as_cross_validate(data, kind):
    """Raised "Precomputed matrix must be a square matrix" before (the rows were cut, not
    the columns)."""
    X, y = data
    estimator, K = ((SVC(kernel="precomputed"), X @ X.T) if kind == "kernel" else
                    (KNeighborsClassifier(3, metric="precomputed"), pairwise_distances(X)))
    found = diagnose(estimator, K, y, cv=3).evidence
    cv = cross_validate(estimator, K, y, cv=3, return_train_score=True)
    np.testing.assert_allclose(found["train_scores"], cv["train_score"])
    np.testing.assert_allclose(found["validation_scores"], cv["test_score"])


def test_diagnose_of_a_linear_kernel_scores_the_model_as_a_linear_svc_on_x(data, split):
    """One split, as drawn without ``cv``: the model's scores are ``SVC(kernel="linear")``'s
    on ``X``; the linear reference is the linear model on the training rows' kernel
    columns, blind to the test rows' columns."""
    X, y = data
    K = X @ X.T
    kernel = diagnose(SVC(kernel="precomputed"), K, y, random_state=0)
    linear = diagnose(SVC(kernel="linear"), X, y, random_state=0)
    for key in ("train_scores", "validation_scores", "baseline_train", "baseline_validation"):
        np.testing.assert_allclose(kernel.evidence[key], linear.evidence[key], err_msg=key)
    assert kernel.problem == linear.problem
    assert "precomputed kernel" in str(kernel) and "precomputed kernel" not in str(linear)
    by_hand = _by_hand(SVC(kernel="precomputed"), K, y, split)
    for matrix in (K, _blind(K, split)):
        found = diagnose(SVC(kernel="precomputed"), matrix, y, cv=[split]).evidence
        np.testing.assert_allclose((found["linear_train"], found["linear_validation"]),
                                   by_hand)


def test_reference_scores_of_a_kernel_see_no_test_row(data, split):
    """Before, the linear reference was fitted on ``K[train]`` with every column: 0.975
    training accuracy with the test rows' columns replaced by noise, 0.85 without."""
    X, y = data
    K = X @ X.T
    by_hand = _by_hand(SVC(kernel="precomputed"), K, y, split)
    for matrix in (K, _blind(K, split)):
        refs = reference_scores(SVC(kernel="precomputed"), matrix, y, cv=[split])
        np.testing.assert_allclose(
            (refs["linear"]["train_score"], refs["linear"]["test_score"]), by_hand)


@pytest.mark.parametrize("search", ["grid", "recipe"])
def test_a_search_of_a_kernel_is_blind_to_the_test_rows_columns(data, split, search):
    """Every number of the search, its diagnosis and its references included, is the same
    when what sklearn never shows a model of the split is noise."""
    X, y = data
    K = X @ X.T

    def fit(matrix):
        grid = {"C": [0.001, 1.0]}
        est = (GridSearchCV(SVC(kernel="precomputed"), grid, cv=[split],
                            return_train_score=True) if search == "grid" else
               RecipeSearchCV(SVC(kernel="precomputed"), grid, n_iter=2, cv=[split],
                              random_state=0))
        return est.fit(matrix, y)

    plain, blind = fit(K), fit(_blind(K, split))
    refs = (plain.diagnosis_.references if search == "grid" else plain.references_)
    np.testing.assert_allclose(
        (refs["linear"]["train_score"], refs["linear"]["test_score"]),
        _by_hand(SVC(kernel="precomputed"), K, y, split))
    assert list(plain.cv_results_["diagnosis"]) == list(blind.cv_results_["diagnosis"])
    for key, value in plain.cv_results_.items():
        if key.endswith("_score") and not key.startswith("rank"):
            np.testing.assert_allclose(blind.cv_results_[key], value, err_msg=key)
    assert (blind.diagnosis_.references if search == "grid" else blind.references_) == refs
    assert plain.diagnosis_.evidence["pairwise"]
    assert any("K[train][:, train]" in note for note in plain.diagnosis_.notes)


def test_a_kernel_svc_predicting_the_majority_trains_poorly():
    """On an RBF kernel the linear reference (a linear model on the training rows' kernel
    columns) trains well, so an SVC whose C is so small that it predicts the majority class
    is an optimization problem, as the same SVC on ``X`` is, and the text says what the
    reference was fitted on."""
    from sklearn.metrics.pairwise import rbf_kernel

    X, y = make_classification(120, 6, n_informative=3, flip_y=0.1, random_state=1)
    found = diagnose(SVC(kernel="precomputed", C=1e-4), rbf_kernel(X, gamma=0.5), y, cv=3)
    on_x = diagnose(SVC(C=1e-4, gamma=0.5), X, y, cv=3)
    assert found.problem == on_x.problem == "training"
    np.testing.assert_allclose(found.evidence["train_scores"], on_x.evidence["train_scores"])
    assert found.evidence["linear_train"] > found.evidence["train_threshold"]
    assert "linear model on those kernel columns" in str(found)
