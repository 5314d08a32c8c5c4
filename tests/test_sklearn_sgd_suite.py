"""scikit-learn's ``linear_model/tests/test_sgd.py`` with hpsearch's ``RandomizedSearchCV``.

The tests of that file that use the search run on hpsearch's (1 test: an early-stopping
SGDClassifier searched with n_jobs=2, in worker processes); the others test scikit-learn
itself and are skipped (:func:`_sklearn_suite.only_tests_using`). See ``_sklearn_suite`` for
the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("linear_model/tests/test_sgd.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["RandomizedSearchCV"]
