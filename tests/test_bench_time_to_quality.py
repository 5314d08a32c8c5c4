"""The time-to-quality benchmark (``benchmarks/bench_time_to_quality.py``): its bookkeeping
(evaluations, best-so-far, time to target) on hand-made logs, the budget, and a ``--quick``
run through ``benchmarks/run.py`` (no timing asserted)."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def ttq():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_time_to_quality
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return bench_time_to_quality


def test_splits_make_one_evaluation_per_configuration_and_budget(ttq):
    run = ttq.Run(budget=1e9)
    a, b = {"alpha": 1.0}, {"alpha": 2.0}
    for split in range(ttq.N_SPLITS):  # a at 1 epoch, interleaved with b at 1 epoch
        run.record(a, 1, 0.5 + 0.1 * split)
        run.record(b, 1, 0.2)
    for _ in range(ttq.N_SPLITS):  # a continued to 3 epochs; one split stopped early at 2
        run.record(a, 3 if _ else 2, 0.9)
    got = [(cv, params, epochs) for _, cv, params, epochs in run.evaluations]
    assert got == [(pytest.approx(0.6), a, 1), (pytest.approx(0.2), b, 1), (0.9, a, 3)]


def test_evaluations_after_the_budget_are_discarded_and_fits_refused(ttq):
    run = ttq.Run(budget=0.0)
    for _ in range(ttq.N_SPLITS):
        run.record({"alpha": 1.0}, 1, 1.0)
    assert run.evaluations == []
    with pytest.raises(ttq.BudgetSpent):
        run.check()


def test_budgeted_estimator_keeps_signatures_and_params(ttq):
    from sklearn.neural_network import MLPClassifier

    cls = ttq.budgeted(MLPClassifier)
    assert issubclass(cls, MLPClassifier)
    assert inspect.signature(cls.fit) == inspect.signature(MLPClassifier.fit)
    assert cls(alpha=0.5).get_params() == MLPClassifier(alpha=0.5).get_params()
    X, y = np.eye(4), np.array([0, 1, 0, 1])
    with ttq.Run(budget=0.0):
        with pytest.raises(ttq.BudgetSpent):
            cls(max_iter=1).fit(X, y)
    cls(max_iter=1).fit(X, y)  # no run in progress: no budget


def test_best_so_far_time_to_target_and_score_at(ttq, monkeypatch):
    monkeypatch.setattr(ttq, "test_score", lambda task, family, params, epochs: params["t"])
    evaluations = [(3.0, 0.7, {"t": 0.8}, 1), (1.0, 0.5, {"t": 0.6}, 1),
                   (2.0, 0.4, {"t": 0.99}, 1), (4.0, 0.9, {"t": 0.75}, 9)]
    traj = ttq.trajectory(None, "hp", evaluations)
    assert [(t, cv, test) for t, cv, test, _, _ in traj] == [(1.0, 0.5, 0.6), (3.0, 0.7, 0.8),
                                                             (4.0, 0.9, 0.75)]
    assert ttq.time_to(traj, 0.8) == 3.0
    assert ttq.time_to(traj, 0.81) is None  # 0.99 was never the best-CV model
    assert np.isnan(ttq.score_at(traj, 0.5))
    assert ttq.score_at(traj, 3.5) == 0.8 and ttq.score_at(traj, 3.5, column=1) == 0.7


def test_every_library_gets_the_same_space(ttq):
    from sklearn.model_selection import ParameterSampler

    sk = next(iter(ParameterSampler(ttq.sklearn_space(), 1, random_state=0)))
    assert set(sk) == set(ttq.SPACE)
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = ttq.optuna_suggest(study.ask())
    assert set(params) == set(ttq.SPACE)
    assert params["hidden_layer_sizes"] in ttq.HIDDEN


def test_quick_run_through_the_runner(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--only", "time_to_quality", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert not any(r["note"].startswith("error") for r in rows), rows
    ran = [r for r in rows if r["name"].startswith("digits: time to target")]
    assert len(ran) >= 3  # hpsearch's strategies and the three anchors, unless skipped
    assert any("(anchor)" in r["name"] for r in ran)
    for r in ran:
        assert r["anchor"] > 0, r


def test_equal_time_pair_and_rung_counts(ttq):
    def run(traj, rungs):
        return {"traj": traj, "rungs": rungs, "budget": 10.0, "error": None}

    results = {"digits": {
        "hp asha-tpe": [run([(1.0, 0.5, 0.8, {}, 1), (6.0, 0.9, 0.9, {}, 3)], {1: 4, 3: 1}),
                        run([(4.0, 0.5, 0.7, {}, 1)], {1: 2})],
        "hp asha": [run([(2.0, 0.6, 0.85, {}, 1)], {1: 6}),
                    run([(2.0, 0.6, 0.7, {}, 1)], {1: 4, 3: 1})],
    }}
    half, full = ttq.equal_time(results, fractions=(0.5, 1.0))["digits"]
    assert half["t"] == 5.0 and list(half["a"]) == [0.8, 0.7] and list(half["b"]) == [0.85, 0.7]
    assert half["wins"] == (0, 1, 1) and full["wins"] == (1, 1, 0)
    assert list(full["diff"]) == pytest.approx([0.05, 0.0])
    table = ttq.equal_time_table(results, fractions=(0.5, 1.0))
    assert table.count("\n") == 3 and "| digits | 5.0 s (50%) |" in table
    assert "1: 3.0, 3: 0.5" in ttq.rung_table(results)  # mean over seeds, 0 where missing
    del results["digits"]["hp asha"]
    assert ttq.equal_time(results) == {}


def test_diagnose_model_proposals_on_the_quick_task(ttq):
    """One real ASHA-TPE run (0.6 s of CPU): TPE's 10 start-up proposals are random (told
    nothing), the next ones are told a rung's results."""
    import io

    pytest.importorskip("hpsearch.model_selection.strategies.asha")
    out = io.StringIO()
    ttq.diagnose_model_proposals(0, quick=True, log=out)
    text = out.getvalue()
    if text.startswith("skipped"):  # asha._ModelProposals renamed: nothing to count
        return
    assert text.startswith("digits seed 0: "), text
    assert "n_min 10; told rung -> proposals {None: 10, 0: " in text
    assert "first model proposal #10;" in text


def test_trained_epochs_count_continued_training(ttq):
    """``n_iter_`` holds the last fit's epochs only; the logged epochs must be cumulative
    (a halving or ASHA candidate continued 3 -> 9 epochs is refit with 9, not 6)."""
    import warnings

    from hpsearch import MLPClassifier
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(max_iter=3, n_iter_no_change=100, random_state=0).fit(X, y)
        model.set_params(max_iter=6, warm_start=True).fit(X, y)
        assert (model.n_iter_, ttq.trained_epochs(model)) == (6, 9)
        fresh = SkMLP(max_iter=4, n_iter_no_change=100, random_state=0).fit(X, y)
        assert ttq.trained_epochs(fresh) == 4


def _run(points, budget=10.0):
    """A per-seed result from (time, test score) improvements (CV = test here)."""
    return {"traj": [(t, s, s, {}, 1) for t, s in points], "budget": budget, "error": None,
            "n_eval": len(points), "wall": budget, "cpu": budget, "rungs": {}}


def test_mean_curve_times_reach_and_keep_the_best_anchors_mean_final(ttq):
    strategies = {"a": ttq.Strategy(None, "anchor", "sk"), "b": ttq.Strategy(None, "anchor", "sk"),
                  "h": ttq.Strategy(None, "hpsearch", "hp"),
                  "dip": ttq.Strategy(None, "hpsearch", "hp")}
    results = {"task": {
        # best anchor: mean final (0.8 + 0.9) / 2 = 0.85, its mean curve reaches it at 6 s
        "a": [_run([(1.0, 0.5), (6.0, 0.8)]), _run([(2.0, 0.9)])],
        "b": [_run([(1.0, 0.6)]), _run([(1.0, 0.6)])],
        # mean 0.5 until 2 s (seed 1 has no model before: counts 0), 0.875 from 2 s on
        "h": [_run([(0.5, 0.85)]), _run([(2.0, 0.9)])],
        # touches the level at 1 s, falls back at 3 s, reaches it again from 8 s on
        "dip": [_run([(1.0, 0.9), (3.0, 0.7), (8.0, 0.85)]), _run([(0.5, 0.9)])],
    }}
    m = ttq.mean_curve_times(results, strategies, n_boot=200)["task"]
    assert m["best_anchor"] == "a" and m["target"] == pytest.approx(0.85)
    assert m["anchor_time"] == 6.0
    assert m["rows"]["h"]["time"] == 2.0 and m["rows"]["h"]["ratio"] == pytest.approx(1 / 3)
    assert m["rows"]["dip"]["time"] == 8.0
    assert m["rows"]["b"]["time"] is None and m["rows"]["b"]["ratio"] is None
    for r in m["rows"].values():
        assert r["ratio_lo"] <= r["ratio_hi"] and 0 <= r["p_third"] <= 1
    assert m["rows"]["a"]["ratio_lo"] == m["rows"]["a"]["ratio_hi"] == 1.0
    table = ttq.mean_curve_table({"task": m})
    assert "| task | a (best) | anchor | 6.00 s | 1.00 |" in table
    (row,) = ttq.mean_curve_rows({"task": m})
    assert row.target == "<= 0.333" and row.hpsearch == 2.0 and row.anchor == 6.0


def test_load_results_puts_the_seeds_of_several_files_together(ttq, tmp_path):
    import pickle

    parts = []
    for k, seeds in enumerate(((0, 1), (2,))):
        path = tmp_path / f"part{k}.pkl"
        results = {"digits": {"hp asha": [dict(_run([(1.0, 0.9)]), seed=s) for s in seeds]}}
        with open(path, "wb") as fh:
            pickle.dump((results, {}, ["hp asha"]), fh)
        parts.append(str(path))
    results, missing, names = ttq.load_results(parts)
    assert [x["seed"] for x in results["digits"]["hp asha"]] == [0, 1, 2]
    assert names == ["hp asha"] and missing == {}


def test_per_seed_bootstrap_without_an_anchor_skips_the_task(ttq):
    """Only hpsearch strategies ran (``--only "hp asha" "hp asha-tpe"``): the per-seed
    table has no anchor to compare with and leaves the task out (was: KeyError None,
    after the first table was printed)."""
    strategies = {"h": ttq.Strategy(None, "hpsearch", "hp"),
                  "g": ttq.Strategy(None, "hpsearch", "hp")}
    results = {"task": {"h": [_run([(1.0, 0.9)])], "g": [_run([(2.0, 0.8)])]}}
    assert ttq.per_seed_bootstrap(results, strategies, n_boot=10) == {}
    with_anchor = dict(strategies, a=ttq.Strategy(None, "anchor", "sk"))
    results["task"]["a"] = [_run([(3.0, 0.85)])]
    best, _, rows = ttq.per_seed_bootstrap(results, with_anchor, n_boot=10)["task"]
    assert best == "a" and [r[0] for r in rows] == ["h", "g"]
