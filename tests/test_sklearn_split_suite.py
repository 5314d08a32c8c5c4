"""scikit-learn's ``model_selection/tests/test_split.py`` on hpsearch's splitters.

``LeaveOneOut`` and ``LeavePOut`` (scikit-learn's, with a guard on the number of splits,
``max_splits``) are rebound to hpsearch's (see ``_sklearn_suite``); the rest of the file
tests scikit-learn's splitters, which hpsearch reuses as they are (``KFold``,
``ShuffleSplit``, ...), so it runs whole.
"""

from _sklearn_suite import expected_failures, global_random_seed_fixture, load_suite

from hpsearch.model_selection.split import LeaveOneOut, LeavePOut

_namespace, SWAPPED = load_suite("model_selection/tests/test_split.py",
                                 {"LeaveOneOut": LeaveOneOut, "LeavePOut": LeavePOut})
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason)
EXPECTED_FAILURES = {
    "test_cross_validator_with_default_params": (
        "documented difference", "the repr shows the guard: LeaveOneOut(max_splits=10000)"),
}

_expected = expected_failures(EXPECTED_FAILURES)


def test_the_splitters_were_swapped():
    assert SWAPPED == ["LeaveOneOut", "LeavePOut"]
