"""scikit-learn's ``metrics/tests/test_regression.py`` with hpsearch's ``GridSearchCV``.

The tests of that file that use the search run on hpsearch's (1 test: a quantile
DummyRegressor tuned by the pinball-loss scorer finds each of 7 quantiles); the others test
scikit-learn itself and are skipped (:func:`_sklearn_suite.only_tests_using`). See
``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("metrics/tests/test_regression.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
