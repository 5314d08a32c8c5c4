"""scikit-learn's ``ensemble/tests/test_bagging.py`` with hpsearch's ``GridSearchCV``.

The tests of that file that use the search run on hpsearch's (1 test:
BaggingClassifier(SVC()) tuned with scoring="roc_auc" and a nested estimator__C); the others
test scikit-learn itself and are skipped (:func:`_sklearn_suite.only_tests_using`). See
``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("ensemble/tests/test_bagging.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
