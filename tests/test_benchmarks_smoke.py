"""Smoke test of the benchmark harness: two cheap benchmarks, tiny sizes, no timing asserted.

Keeps ``benchmarks/run.py`` (runner, interleaving, table, JSON) from rotting. It must pass
without PyTorch and whatever parts of hpsearch a benchmark skips.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"
CHEAP = ["mlp_tiny", "activations"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--only", *CHEAP, "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    return proc, out


def test_quick_run_exits_cleanly_and_prints_the_table(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    header = proc.stdout.splitlines()[0]
    for column in ("benchmark", "figure", "hpsearch", "anchor", "ratio", "target", "met"):
        assert column in header


def test_json_has_a_row_per_figure_with_values_or_a_skip_note(quick_run):
    _, out = quick_run
    payload = json.loads(out.read_text())
    assert payload["meta"]["quick"] is True
    assert payload["meta"]["repeats"] == 3
    rows = payload["rows"]
    assert {r["benchmark"] for r in rows} == set(CHEAP)
    for row in rows:
        assert not row["note"].startswith("error"), row
        if row["note"].startswith("skipped"):
            continue
        assert row["anchor"] > 0, row
        if row["hpsearch"] is not None:
            assert row["ratio"] == pytest.approx(row["hpsearch"] / row["anchor"])
            assert row["met"] in (True, False)


def test_total_and_per_benchmark_wall_time_are_reported(quick_run):
    proc, out = quick_run
    meta = json.loads(out.read_text())["meta"]
    assert set(meta["bench_wall_s"]) == set(CHEAP)
    assert all(v >= 0 for v in meta["bench_wall_s"].values())
    assert meta["wall_s"] >= sum(meta["bench_wall_s"].values()) - 1.0
    assert "total wall time:" in proc.stdout


def test_mlp_rows_say_whether_the_numba_kernels_were_active(quick_run):
    _, out = quick_run
    from hpsearch.neural import kernels

    numba_on = kernels.numba_available()
    for row in json.loads(out.read_text())["rows"]:
        if row["hpsearch"] is None:
            continue
        assert row["extra"]["numba"] in (True, False, None), row
        assert "numba kernels: " in row["note"], row
        # once loaded (the benchmarks load it up front), every net whose fused step is
        # faster uses it: the quick nets' Adam steps too, small as they are
        assert row["extra"]["numba"] is numba_on, row
        assert ("numba kernels: on" in row["note"]) is numba_on, row


def test_unknown_benchmark_name_is_refused():
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--only", "nope"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "invalid choice: 'nope'" in proc.stderr


@pytest.fixture
def harness(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import _harness

    return _harness


@pytest.mark.parametrize(
    "value, target, met",
    [(0.8, "<= 0.8", True), (0.81, "<= 0.8", False), (1.8, ">= 1.8", True),
     (1.0, "> 1.0", False), (1.1, "0.8..1.25", True), (1.3, "0.8..1.25", False)],
)
def test_targets(harness, value, target, met):
    assert harness.check_target(value, target) is met
    assert harness.Row("b", "f", value, 1.0, target=target).met is met


def test_interleave_alternates_and_takes_returned_figures(harness):
    order = []
    cases = {"a": lambda: order.append("a") or 2.0, "b": lambda: order.append("b") or 4.0}
    got = harness.interleave(cases, repeats=3, warmup=1)
    assert order == ["a", "b"] * 4
    assert got == {"a": [2.0] * 3, "b": [4.0] * 3}
    assert harness.medians(got) == {"a": 2.0, "b": 4.0}


def test_skip_row_for_a_missing_hpsearch_name(harness):
    with pytest.raises(harness.Skip, match="hpsearch.NoSuchSearch not available"):
        harness.hp("NoSuchSearch")
