"""benchmarks/bench_asha_utilization.py runs the real search under each decision rule."""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_asha_utilization

        yield bench_asha_utilization
    finally:
        sys.path.remove(str(BENCH))


def test_every_rule_runs_and_the_patch_is_undone(bench):
    import hpsearch.model_selection.strategies.asha as asha

    original = asha.decision_lags
    X, y = bench._data(quick=True)
    for rule in bench.RULES:
        util, wall, jobs = bench.measure(rule, X, y, n_trials=6, max_resources=3)
        assert 0 < util <= 1.05 and wall > 0 and jobs >= 6
    assert asha.decision_lags is original
