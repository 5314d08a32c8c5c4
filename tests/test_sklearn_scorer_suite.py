"""scikit-learn's ``metrics/tests/test_score_objects.py`` on hpsearch's ``GridSearchCV``.

The tests of that file that use ``GridSearchCV`` (scorers on a search, a scorer returning
a list) run on hpsearch's class (see ``_sklearn_suite``); the rest, scikit-learn testing
its scorers, is skipped (:func:`only_tests_using`).
"""

from _sklearn_suite import (expected_failures, global_random_seed_fixture, load_suite,
                            only_tests_using)

_namespace, SWAPPED = load_suite("metrics/tests/test_score_objects.py")
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason)
EXPECTED_FAILURES = {}

_expected = expected_failures(EXPECTED_FAILURES)
_only_ours = only_tests_using(SWAPPED)


def test_the_search_was_swapped():
    assert SWAPPED == ["GridSearchCV"]
