"""scikit-learn's ``utils/_repr_html/tests/test_estimator.py`` with hpsearch's classes swapped in.

The tests of that file that involve hpsearch's classes run (the HTML repr of pipelines, voting and stacking ensembles holding hpsearch's MLP and ``RandomizedSearchCV``); the others test
scikit-learn itself and are skipped (:func:`_sklearn_suite.only_tests_using`). See
``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("utils/_repr_html/tests/test_estimator.py"))


def test_hpsearch_classes_were_swapped():
    assert globals()["SWAPPED"]
