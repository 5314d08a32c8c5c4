"""scikit-learn's ``tests/test_docstring_parameters.py::test_fit_docstring_attributes`` on
hpsearch's estimators and searches.

The check parses the class docstring's numpydoc "Attributes" section: every attribute
``fit`` sets (names ending in ``_``, properties included) must have its own entry, and
every entry must exist after ``fit`` unless its description says "only". The test
function is scikit-learn's, read from the installed package (see ``_sklearn_suite``);
only how an instance is built is ours (a small grid, budgets that fit 20 samples).
numpydoc is not a dependency of hpsearch: without it the module is skipped.
"""

import pytest

pytest.importorskip("numpydoc")

from sklearn.linear_model import LogisticRegression  # noqa: E402

import hpsearch  # noqa: E402
from _sklearn_suite import load_suite  # noqa: E402

_namespace, _ = load_suite("tests/test_docstring_parameters.py", {})

_GRID = {"C": [0.1, 1.0]}

#: class -> an instance as the check fits it (20 samples, 3 features, 2 classes)
MAKERS = {
    hpsearch.MLPClassifier: lambda: hpsearch.MLPClassifier(),
    hpsearch.MLPRegressor: lambda: hpsearch.MLPRegressor(),
    hpsearch.GridSearchCV: lambda: hpsearch.GridSearchCV(LogisticRegression(), _GRID),
    hpsearch.RandomSearchCV: lambda: hpsearch.RandomSearchCV(LogisticRegression(), _GRID,
                                                             n_iter=2),
    hpsearch.OptunaSearchCV: lambda: hpsearch.OptunaSearchCV(LogisticRegression(), _GRID,
                                                             n_trials=2),
    hpsearch.HalvingSearchCV: lambda: hpsearch.HalvingSearchCV(
        LogisticRegression(), _GRID, resource="n_samples", min_resources=6),
    hpsearch.HalvingGridSearchCV: lambda: hpsearch.HalvingGridSearchCV(
        LogisticRegression(), _GRID, min_resources=6),
    hpsearch.HalvingRandomSearchCV: lambda: hpsearch.HalvingRandomSearchCV(
        LogisticRegression(), _GRID, min_resources=6),
    hpsearch.HyperbandSearchCV: lambda: hpsearch.HyperbandSearchCV(
        LogisticRegression(), _GRID, resource="n_samples", min_resources=6),
    hpsearch.ASHASearchCV: lambda: hpsearch.ASHASearchCV(
        LogisticRegression(), _GRID, n_trials=2, resource="n_samples", min_resources=6),
    hpsearch.RecipeSearchCV: lambda: hpsearch.RecipeSearchCV(LogisticRegression(), _GRID,
                                                             n_iter=2),
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("Estimator", list(MAKERS), ids=lambda cls: cls.__name__)
def test_fit_docstring_attributes(Estimator, monkeypatch):
    make = MAKERS[Estimator]
    # scikit-learn's own builders know only its estimators: ours build the instance
    monkeypatch.setitem(_namespace, "_construct_instances", lambda cls: iter([make()]))
    monkeypatch.setitem(_namespace, "_construct_searchcv_instance", lambda cls: make())
    _namespace["test_fit_docstring_attributes"](Estimator.__name__, Estimator)
