"""scikit-learn's ``linear_model/tests/test_logistic.py`` with hpsearch's ``GridSearchCV``.

The tests of that file that use the search run on hpsearch's (8 tests: LogisticRegressionCV
chooses the search's C and l1_ratio (neg_log_loss); a one-vs-rest search on iris; an
elastic-net search against l1 and l2); the others test scikit-learn itself and are skipped
(:func:`_sklearn_suite.only_tests_using`). See ``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("linear_model/tests/test_logistic.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
