"""scikit-learn's ``utils/tests/test_parallel.py`` with hpsearch's ``GridSearchCV``.

The tests of that file that use the search run on hpsearch's (2 tests:
config_context(transform_output="pandas") reaches every fit, with n_jobs 1 and 2); the
others test scikit-learn itself and are skipped (:func:`_sklearn_suite.only_tests_using`).
See ``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("utils/tests/test_parallel.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
