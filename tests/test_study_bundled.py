"""Every bundled study runs end to end (``--smoke``: reduced budget) and writes its output
folder; the dry run prints the plan."""

import importlib
import json
from pathlib import Path

import joblib
import pandas as pd
import pytest

from hpsearch.cli import main
from hpsearch.study import load_study
from hpsearch.study.build import SEARCHES

STUDIES = Path(__file__).resolve().parents[1] / "studies"
FILES = sorted(STUDIES.rglob("*.yaml"))
EXPECTED = {
    "quickstart", "grid", "random", "optuna_tpe", "optuna_gp", "halving", "hyperband",
    "architecture", "sklearn_estimator", "pipeline_csv", "holdout", "kfold",
    "stratified_kfold", "loo", "lpo", "monte_carlo", "asha",
}


def _needs_search(path):
    study, _, _ = load_study(path)
    module = SEARCHES[study.search.method][0].split(":")[0]
    pytest.importorskip(module)
    return study


def test_every_kind_of_study_is_bundled():
    assert EXPECTED <= {f.stem for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_bundled_study_runs(path, tmp_path, capsys):
    study = _needs_search(path)
    out = tmp_path / "out"
    rc = main([str(path), "--smoke", "--n-jobs", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    for name in ("study.yaml", "study.db", "results.csv", "cv_results.csv",
                 "best_params.json", "model.joblib", "summary.json", "report.md"):
        assert (out / name).is_file(), name
    assert (out / "study.yaml").read_text() == path.read_text()
    summary = json.loads((out / "summary.json").read_text())
    best = json.loads((out / "best_params.json").read_text())
    assert set(best) == set(summary["best_params"]) and best
    assert summary["n_failed"] == 0
    test_scores = summary["test_scores"]
    assert test_scores and all(isinstance(v, float) for v in test_scores.values())
    tidy = pd.read_csv(out / "results.csv")
    assert len(tidy) == summary["n_fits"] and tidy["error"].isna().all()
    cv = pd.read_csv(out / "cv_results.csv")
    assert len(cv) == summary["n_evaluations"] >= summary["n_candidates"] >= 1
    report = (out / "report.md").read_text()
    for part in ("## Best configuration", "## Top 10", "final test", "plots/history.png"):
        assert part in report
    plots = {p.name for p in (out / "plots").glob("*.png")}
    assert "history.png" in plots
    assert {f"param_{n.replace('__', '.')}.png" for n in study.search.space} <= plots
    if study.estimator.name.startswith("mlp"):
        assert "learning_curves.png" in plots
        curves = pd.read_csv(out / "learning_curves.csv")
        assert list(curves.columns) == ["epoch", "train_loss", "validation_loss",
                                        "validation_score"]
    model = joblib.load(out / "model.joblib")
    assert model.predict(model_input(study, path)).shape[0] == 3
    assert "best CV" in captured.out and str(out) in captured.out
    if study.search.method in ("halving", "hyperband"):  # rounds that continue training
        assert summary["n_rounds"] >= 2 and summary["resource"] == "epochs"
        assert f"candidates in {summary['n_rounds']} rounds" in captured.out
        assert " epochs] " in captured.out
        assert "## Budget" in report and "epochs trained" in report
        assert f"{summary['n_fits']} fits ran" in report
    if study.search.method == "optuna" and study.search.pruner not in (None, "none"):
        assert summary["resource"] == "epochs" and "fits:       at most" in report
    if study.return_train_score or study.search.method == "recipe":  # the recipe's verdict
        assert summary["best_diagnosis"] in ("training", "overfitting", "none")
        assert "the recipe on the best: " in captured.out
    if study.search.method == "recipe":  # its explanation reaches every output
        stages = summary["stages"]
        assert [s["stage"] for s in stages][:2] == ["training", "generalization"]
        assert "## The recipe, stage by stage" in report
        for entry in stages:
            assert f"recipe stage {entry['stage']}: {entry['reason']}" in captured.out
            assert entry["reason"] in report


def model_input(study, path):
    """Three rows of the study's data, in the layout the model was fitted on."""
    from hpsearch.study.registry import load_dataset

    X, _, _ = load_dataset(study.data, base_dir=path.parent)
    return X.iloc[:3] if hasattr(X, "iloc") else X[:3]


def test_dry_run_prints_the_plan(capsys):
    rc = main([str(STUDIES / "splitters" / "lpo.yaml"), "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "candidates: 3" in out and "splits:     120" in out and "fits:       360 (+1 refit)" in out
    assert "LeavePOut" in out


def test_dry_run_refuses_an_exploding_splitter(tmp_path, capsys):
    text = (STUDIES / "splitters" / "lpo.yaml").read_text()
    text = text.replace("subset: 20", "subset: 150").replace("max_splits: 1000", "max_splits: 5000")
    study = tmp_path / "big_lpo.yaml"
    study.write_text(text)
    assert main([str(study), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "cv: LeavePOut(p=2) on n_samples=120 would make C(120, 2) = 7,140 splits" in err
    assert "MonteCarloCV" in err and "(line 10)" in err and "Traceback" not in err
