"""scikit-learn's ``ensemble/tests/test_stacking.py`` with hpsearch's classes swapped in.

The tests of that file that involve hpsearch's classes run (StackingClassifier over hpsearch's ``MLPClassifier`` (multilabel ``predict_proba``, ``stack_method``)); the others test
scikit-learn itself and are skipped (:func:`_sklearn_suite.only_tests_using`). See
``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("ensemble/tests/test_stacking.py"))


def test_hpsearch_classes_were_swapped():
    assert globals()["SWAPPED"]
