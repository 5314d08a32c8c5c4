"""scikit-learn's ``tests/test_multioutput.py`` with hpsearch's classes swapped in.

The tests of that file that involve hpsearch's classes run (``MultiOutputClassifier`` around hpsearch's ``GridSearchCV`` (``predict_proba``)); the others test
scikit-learn itself and are skipped (:func:`_sklearn_suite.only_tests_using`). See
``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("tests/test_multioutput.py"))


def test_hpsearch_classes_were_swapped():
    assert globals()["SWAPPED"]
