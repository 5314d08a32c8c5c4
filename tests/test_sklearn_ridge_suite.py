"""scikit-learn's ``linear_model/tests/test_ridge.py`` with hpsearch's ``GridSearchCV``.

The tests of that file that use the search run on hpsearch's (1 test: RidgeCV with
sample_weight gives the search's alpha and coefficients, also with one-row test folds whose
R2 is NaN); the others test scikit-learn itself and are skipped
(:func:`_sklearn_suite.only_tests_using`). See ``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("linear_model/tests/test_ridge.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
