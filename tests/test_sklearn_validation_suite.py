"""scikit-learn's ``model_selection/tests/test_validation.py`` on hpsearch's classes.

The file tests ``cross_validate``, ``cross_val_predict``, ``learning_curve``,
``validation_curve`` and ``permutation_test_score``; the names it imports that hpsearch
replaces are rebound (``GridSearchCV``, ``MLPRegressor``, and the splitters
``LeaveOneOut`` / ``LeavePOut``, see ``_sklearn_suite``), and only the tests that use
one of them run (:func:`only_tests_using`): ``cross_val_predict`` through hpsearch's
``GridSearchCV`` (every prediction method), ``learning_curve`` continuing hpsearch's
``MLPRegressor`` with ``partial_fit`` (``exploit_incremental_learning``) and
leave-one-out predictions.
"""

from _sklearn_suite import (REPLACEMENTS, expected_failures, global_random_seed_fixture,
                            load_suite, only_tests_using)

from hpsearch.model_selection.split import LeaveOneOut, LeavePOut

_REPLACEMENTS = {**REPLACEMENTS, "LeaveOneOut": LeaveOneOut, "LeavePOut": LeavePOut}
_namespace, SWAPPED = load_suite("model_selection/tests/test_validation.py", _REPLACEMENTS)
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason)
EXPECTED_FAILURES = {
    # none: every test of the file that uses hpsearch's classes passes
}

_expected = expected_failures(EXPECTED_FAILURES)
_only_ours = only_tests_using(SWAPPED, _REPLACEMENTS)


def test_the_classes_were_swapped():
    assert SWAPPED == ["GridSearchCV", "LeaveOneOut", "MLPRegressor"]
