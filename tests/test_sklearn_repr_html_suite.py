"""scikit-learn's ``utils/_repr_html/tests/test_estimator.py`` with hpsearch's classes swapped in.

The tests of that file that involve hpsearch's classes run (the HTML repr of pipelines, voting and stacking ensembles holding hpsearch's MLP and ``RandomizedSearchCV``); the others test
scikit-learn itself and are skipped (:func:`_sklearn_suite.only_tests_using`). See
``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import (expected_failures, global_random_seed_fixture, load_suite,
                            only_tests_using)

_namespace, SWAPPED = load_suite("utils/_repr_html/tests/test_estimator.py")
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason); none: all pass
EXPECTED_FAILURES = {}

_expected = expected_failures(EXPECTED_FAILURES)
_only_ours = only_tests_using(SWAPPED)


def test_hpsearch_classes_were_swapped():
    assert SWAPPED
