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
