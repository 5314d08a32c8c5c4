"""Study files with ``evaluate``: nested cross-validation before the final search."""

import json
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pytest

from hpsearch.cli import main

NESTED = Path(__file__).resolve().parents[1] / "studies" / "nested.yaml"

BASE = textwrap.dedent(
    """\
    name: t
    data: {dataset: iris, test_size: 0.2}
    estimator:
      name: logistic_regression
      params: {max_iter: 200}
    search:
      method: grid
      space:
        C: [0.01, 1.0]
    cv: 3
    evaluate: {outer: stratified_kfold, n_splits: 3}
    """
)  # line 11: evaluate


def _write(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_study_with_evaluate_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main([str(_write(tmp_path, BASE)), "--n-jobs", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    summary = json.loads((out / "summary.json").read_text())
    nested = summary["nested"]
    assert len(nested["test_scores"]) == len(nested["inner_best_scores"]) == 3
    assert len(nested["best_params"]) == 3 and nested["n_fits"] == 3 * (2 * 3 + 1)
    assert nested["mean"] == pytest.approx(sum(nested["test_scores"]) / 3)
    assert sum(nested["n_test"]) == summary["n_train"]  # each training row tested once
    report = (out / "report.md").read_text()
    for part in ("## Nested cross-validation", "unbiased estimate of the whole search",
                 "inner best accuracy", "optimism", "chosen parameters", "## How sure is this?",
                 "final test accuracy"):
        assert part in report, part
    assert report.index("## Nested cross-validation") < report.index("## How sure is this?")
    assert "nested CV accuracy" in captured.out
    names = {s.study_name for s in optuna.get_all_study_summaries(
        f"sqlite:///{out / 'study.db'}")}
    assert names == {"t", "t-outer0", "t-outer1", "t-outer2"}
    # the nested searches count as an earlier run; --resume redoes nothing, same numbers
    assert main([str(_write(tmp_path, BASE)), "--quiet", "--out", str(out)]) == 2
    assert "or its nested searches" in capsys.readouterr().err
    assert main([str(_write(tmp_path, BASE)), "--quiet", "--resume", "--out", str(out)]) == 0
    again = json.loads((out / "summary.json").read_text())["nested"]
    assert again["test_scores"] == nested["test_scores"]
    # was: "21 fits in 0.3 s", the earlier run's 18 fits counted as this run's
    assert (again["n_fits"], again["n_fits_run"], nested["n_fits_run"]) == (21, 3, 21)
    assert ": 21 fits, 3 of them run now in " in (out / "report.md").read_text()
    assert "(the other 18 by the run resumed)" in (out / "report.md").read_text()
    final = json.loads((out / "summary.json").read_text())
    assert (final["n_fits"], final["n_fits_run"], summary["n_fits_run"]) == (6, 0, 6)
    assert "= 6 fits (0 of them run now, the other 6 by the run resumed) in" in (
        out / "report.md").read_text()


def test_dry_run_shows_the_nested_fits(capsys):
    assert main([str(NESTED), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "nested:     StratifiedKFold(n_splits=4" in out
    assert "18 fits + 1 refit each" in out and "= 76 fits" in out


@pytest.mark.parametrize("evaluate, fragment", [
    ("{outer: foo}", "evaluate.outer: must be one of holdout"),
    ("{n_splits: 3}", "evaluate.outer: required key is missing"),
    ("{outer: kfold, p: 2}", "evaluate.p: not an option of splitter 'kfold'"),
    ("{outer: kfold, n_split: 3}", "evaluate.n_split: unknown key; did you mean 'n_splits'?"),
    ("{outer: kfold, n_splits: 1}", "evaluate.n_splits: k-fold cross-validation requires"),
    ("{outer: kfold, n_splits: 101}", "evaluate.n_splits: must be <= 100"),
    ("{outer: group_kfold}", "evaluate.outer: group_kfold needs data.groups"),
    ("{outer: holdout, test_size: 1.5}", "evaluate.test_size: a fraction must be in (0, 1)"),
    ("5", "evaluate: must be a mapping, got 5"),
    ("{outer: kfold, n_splits: 2}", "evaluate.outer: the search cannot run on outer split 0"),
])
def test_bad_evaluate_spec(tmp_path, capsys, evaluate, fragment):
    text = BASE.replace("evaluate: {outer: stratified_kfold, n_splits: 3}",
                        f"evaluate: {evaluate}")
    if evaluate == "{outer: kfold, n_splits: 2}":  # 8 outer-train rows, 10 inner folds
        text = text.replace("cv: 3", "cv: {method: kfold, n_splits: 10}").replace(
            "test_size: 0.2}", "test_size: 0.2, subset: 20}")
    assert main([str(_write(tmp_path, text)), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "(line 11)" in err
    assert not (tmp_path / "o").exists()


def test_too_many_nested_fits_refused_and_counted_by_dry_run(tmp_path, capsys):
    text = BASE.replace("C: [0.01, 1.0]",
                        "C: {type: float, low: 0.001, high: 100, log: true, n: 300}\n"
                        "    tol: {type: float, low: 0.00001, high: 0.01, log: true, n: 100}")
    text = text.replace("n_splits: 3}", "n_splits: 12}")
    path = _write(tmp_path, text)
    assert main([str(path), "--out", str(tmp_path / "o")]) == 2
    assert "evaluate.outer: nested cross-validation needs 1,080,012 fits" in capsys.readouterr().err
    assert main([str(path), "--dry-run"]) == 0
    assert "a run refuses it" in capsys.readouterr().out


def test_interrupted_nested_run_counts_and_resumes(tmp_path, capsys, monkeypatch):
    from hpsearch.model_selection.strategies.grid import GridSearchCV

    fit, calls = GridSearchCV.fit, []

    def interrupted(self, *args, **kwargs):
        calls.append(self.study_name)
        if len(calls) == 2:  # outer split 0 finished, outer split 1 starts
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    out, path = tmp_path / "out", _write(tmp_path, BASE)
    monkeypatch.setattr(GridSearchCV, "fit", interrupted)
    assert main([str(path), "--quiet", "--out", str(out)]) == 130
    assert calls == ["t-outer0", "t-outer1"]
    assert "interrupted; 2 finished candidate(s) kept" in capsys.readouterr().err
    monkeypatch.setattr(GridSearchCV, "fit", fit)
    assert main([str(path), "--quiet", "--resume", "--out", str(out)]) == 0
    assert "## Nested cross-validation" in (out / "report.md").read_text()


def test_evaluate_runs_every_outer_split_through_one_pool(tmp_path, capsys, monkeypatch):
    from hpsearch.model_selection._engine import _fork_available

    if not _fork_available():
        pytest.skip("the one pool needs fork workers")
    import importlib

    build = importlib.import_module("hpsearch.study.build")
    monkeypatch.setattr(build, "available_cpus", lambda: 4)  # n_jobs 2 is not capped
    path, out = _write(tmp_path, BASE), tmp_path / "out"
    assert main([str(path), "--dry-run", "--n-jobs", "2"]) == 0
    assert "all outer splits at once, their fits in one pool of 2 workers" in (
        capsys.readouterr().out)
    assert main([str(path), "--quiet", "--n-jobs", "2", "--out", str(out)]) == 0
    nested = json.loads((out / "summary.json").read_text())["nested"]
    assert (nested["engine"], nested["n_workers"]) == ("one pool", 2)
    assert "ran at once, their fits in one pool of 2 workers" in (out / "report.md").read_text()
    names = {s.study_name for s in optuna.get_all_study_summaries(
        f"sqlite:///{out / 'study.db'}")}
    assert names == {"t", "t-outer0", "t-outer1", "t-outer2"}


RACING = textwrap.dedent(
    """\
    name: nrace
    seed: 0
    data: {dataset: iris, test_size: 0.2}
    estimator: {name: decision_tree_classifier, params: {random_state: 0}}
    search:
      method: grid
      racing: true
      racing_min_splits: 2
      racing_alpha: 0.3
      space:
        max_depth: [1, 4]
    cv: 5
    evaluate: {outer: kfold, n_splits: 2}
    n_jobs: 1
    """
)


def test_racing_nested_fits_are_the_fits_that_ran(tmp_path, capsys):
    # was: "= 22 fits" planned and reported; racing stops max_depth=1 after some splits
    # of each search, so fewer run (the plan is "at most") and the report counts those
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from hpsearch.model_selection import GridSearchCV
    from hpsearch.study.runner import _nested_fits

    path, out = _write(tmp_path, RACING), tmp_path / "out"
    assert main([str(path), "--out", str(out), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "fits:       at most 10 (+1 refit): racing stops" in plan
    assert "= at most 22 fits, run before the final search" in plan
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 4]},
                          cv=5, racing=True, racing_min_splits=2, racing_alpha=0.3).fit(X, y)
    raced = int(np.isnan(search.cv_results_["split4_test_score"]).sum())
    assert raced == 1
    scored = sum(np.isfinite(search.cv_results_[f"split{k}_test_score"]).sum()
                 for k in range(5))
    assert _nested_fits([search, search]) == 2 * (scored + 1) < 22
