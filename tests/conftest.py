"""Shared test configuration."""

import os

from hypothesis import HealthCheck, settings

# CI runs on 2 slow cores: no per-example deadline, a modest number of examples.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A test suite started in the background by a non-interactive shell (`cmd &`, nohup) inherits
# SIGINT ignored, and so would every subprocess it starts: the Ctrl-C tests would then send a
# SIGINT nobody acts on. Restore Python's own handler here, so the children start as from a
# terminal (an ignored signal is inherited across exec, a handler is reset to the default).
import signal  # noqa: E402

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


import pytest  # noqa: E402


@pytest.fixture
def fresh_loky_workers():
    """End loky's reusable workers: workers an earlier test started keep the environment
    they started with, so a variable this test sets (``monkeypatch.setenv``) would not
    reach them (the failure then depends on which tests ran before)."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


#: Test files whose tests signal the test process itself (a real Ctrl-C, SIGTERM or SIGALRM
#: raised in it, or sent to it by a fit in its fork worker) or run the CLI in it while
#: another process is signalled. They are marked ``serial``: the README's test command runs
#: them in one plain pytest process after the rest ran in two (pytest-xdist), where a signal
#: that reached an xdist worker at the wrong moment would end that worker (seen once: "node
#: down: Not properly terminated" in test_cli_resume), not one test.
SERIAL_FILES = frozenset({
    "test_cli_hostile_user.py",
    "test_cli_resume.py",
    "test_dask.py",
    "test_engine_fork.py",
    "test_engine_robust.py",
    "test_interrupt_own_code.py",
    "test_interrupt_stress.py",
    "test_nested_one_pool.py",
    "test_signal_handlers_restored.py",
    "test_study_hostile_paths.py",
})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SERIAL_FILES:
            item.add_marker(pytest.mark.serial)
    _deselect_sklearn_self_tests(config, items)


def _deselect_sklearn_self_tests(config, items):
    """Deselect the tests of scikit-learn's own files that do not involve hpsearch's
    classes (the rule of ``_sklearn_suite.only_tests_using``, whose fixture skips them
    too): thousands of scikit-learn self-tests would otherwise each be set up (with their
    module-scoped fixtures) and reported as skipped, a sizeable part of CI's time. They are
    reported as deselected."""
    from _sklearn_suite import is_sklearn_self_test

    dropped = [item for item in items if is_sklearn_self_test(item)]
    if dropped:
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]
        config.hook.pytest_deselected(items=dropped)
