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
