"""scikit-learn's ``ensemble/tests/test_stacking.py`` with hpsearch's classes swapped in.

The tests of that file that involve hpsearch's classes run (StackingClassifier over hpsearch's ``MLPClassifier`` (multilabel ``predict_proba``, ``stack_method``)); the others test
scikit-learn itself and are skipped (:func:`_sklearn_suite.only_tests_using`). See
``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import (expected_failures, global_random_seed_fixture, load_suite,
                            only_tests_using)

_namespace, SWAPPED = load_suite("ensemble/tests/test_stacking.py")
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason); none: all pass
EXPECTED_FAILURES = {}

_expected = expected_failures(EXPECTED_FAILURES)
_only_ours = only_tests_using(SWAPPED)


def test_hpsearch_classes_were_swapped():
    assert SWAPPED
