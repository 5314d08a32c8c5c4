"""scikit-learn's ``ensemble/tests/test_forest.py`` with hpsearch's ``GridSearchCV``.

The tests of that file that use the search run on hpsearch's (2 tests: random and extra-
trees classifiers tuned on n_estimators and max_depth); the others test scikit-learn itself
and are skipped (:func:`_sklearn_suite.only_tests_using`). See ``_sklearn_suite`` for the
machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("ensemble/tests/test_forest.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
