"""``python -m hpsearch diagnose``: the verdict for a study's model and a runnable next.yaml."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hpsearch.cli import main
from hpsearch.study.build import build
from hpsearch.study.loader import load_study

ROOT = Path(__file__).resolve().parents[1]

DEEP = """
name: deep
seed: 0
data: {dataset: digits, subset: 500, test_size: 0.2}
preprocessing: {scaler: standard}
estimator:
  name: mlp_classifier
  params: {hidden_layer_sizes: [32, 32, 32, 32, 32], activation: sigmoid, init: normal,
           solver: sgd, learning_rate_init: 0.1, max_iter: 30}
search:
  method: grid
  space: {alpha: [0.0001]}
cv: 3
output: OUT
"""


@pytest.fixture
def deep_study(tmp_path, monkeypatch):
    # a study file's output stays inside the working directory (issue 11): run from tmp_path
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "deep.yaml"
    path.write_text(DEEP.replace("OUT", "runs/deep"), encoding="utf-8")
    return path


def test_diagnose_writes_a_runnable_next_study(deep_study, tmp_path, capsys):
    assert main(["diagnose", str(deep_study)]) == 0
    out = capsys.readouterr().out
    assert "deep: the model at the study's fixed parameters" in out
    assert "Training problem" in out and "vanishing gradients" in out
    nxt = tmp_path / "runs" / "deep" / "next.yaml"
    text = nxt.read_text(encoding="utf-8")
    assert text.startswith("# The lecture's recipe, next step after diagnosing")
    data = yaml.safe_load(text)
    assert data["name"] == "deep_next" and "output" not in data
    assert data["search"]["space"] == {"activation": ["sigmoid", "relu", "maxout"],
                                       "init": ["normal", "he"], "solver": ["sgd", "adam"]}
    assert "activation" not in data["estimator"]["params"]
    assert data["estimator"]["params"]["hidden_layer_sizes"] == [32] * 5
    assert data["return_train_score"] is True
    study, _, _ = load_study(nxt)           # valid, and it builds a search over 12 candidates
    assert build(study, source=str(nxt)).n_candidates == 12
    # the lecture's order, diagnose then run the study: the run folder diagnose made holds
    # next.yaml; the study's run was refused ("not an hpsearch run folder")
    capsys.readouterr()
    assert main([str(deep_study), "--dry-run"]) == 0, capsys.readouterr().err


def test_diagnose_uses_the_best_params_of_a_finished_run(deep_study, tmp_path, capsys):
    run = tmp_path / "runs" / "deep"
    run.mkdir(parents=True)
    (run / "study.yaml").write_text(deep_study.read_text(encoding="utf-8"), encoding="utf-8")
    (run / "best_params.json").write_text('{"model__activation": "relu", "model__init": "he"}')
    assert main(["diagnose", str(run), "--out", str(tmp_path / "n.yaml")]) == 0
    out = capsys.readouterr().out
    assert "the model at the best parameters of" in out
    # with ReLU the deep net trains well on 320 rows and overfits: the generalization side
    assert "Overfitting" in out
    data = yaml.safe_load((tmp_path / "n.yaml").read_text(encoding="utf-8"))
    assert data["search"]["space"] == {
        "early_stopping": [False, True], "alpha": [0.0001, 0.001], "dropout": [0.0, 0.2],
        "hidden_layer_sizes": [[32] * 5, [16] * 5]}
    assert data["estimator"]["params"]["activation"] == "relu"     # the best params, fixed
    assert data["estimator"]["params"]["init"] == "he"


def test_no_problem_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "lr.yaml"
    path.write_text("data: {dataset: breast_cancer}\npreprocessing: {scaler: standard}\n"
                    "estimator: {name: logistic_regression}\n"
                    "search: {method: grid, space: {C: [1.0]}}\nseed: 0\n"
                    "output: runs\n", encoding="utf-8")
    assert main(["diagnose", str(path)]) == 0
    out = capsys.readouterr().out
    assert "No problem" in out and "Nothing to fix: no next.yaml written." in out
    assert not (tmp_path / "runs" / "next.yaml").exists()


def test_diagnose_bad_study_exits_2(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "missing.yaml")]) == 2
    assert "hpsearch diagnose: error in" in capsys.readouterr().err


def test_python_m_hpsearch_diagnose_help():
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    res = subprocess.run([sys.executable, "-m", "hpsearch", "diagnose", "--help"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0
    assert "usage: hpsearch diagnose" in res.stdout and "next.yaml" in res.stdout


def test_out_never_replaces_a_file_it_did_not_write(deep_study, tmp_path, capsys):
    """``--out`` naming the user's own study (or any other file) overwrote it with the
    follow-up study; only a follow-up this command wrote may be replaced."""
    before = deep_study.read_text(encoding="utf-8")
    assert main(["diagnose", str(deep_study), "--out", str(deep_study)]) == 2
    err = capsys.readouterr().err
    assert "--out: " in err and "is not a follow-up study written by hpsearch diagnose" in err
    assert deep_study.read_text(encoding="utf-8") == before
    nxt = tmp_path / "n.yaml"
    assert main(["diagnose", str(deep_study), "--out", str(nxt)]) == 0
    assert main(["diagnose", str(deep_study), "--out", str(nxt)]) == 0  # its own: replaced


def _grouped_rows(seed=0):
    """40 groups of 5 near-identical rows, a random label per group: a 1-nearest-neighbour
    model memorizes each group's label, which says nothing about a new group."""
    rng = np.random.RandomState(seed)
    g = np.repeat(np.arange(40), 5)
    X = rng.randn(40, 4)[g] + 0.01 * rng.randn(200, 4)
    return X, rng.randint(0, 2, 40)[g], g


def test_groups_keep_a_group_out_of_both_parts_of_the_diagnosis():
    from sklearn.neighbors import KNeighborsClassifier

    from hpsearch import diagnose

    X, y, g = _grouped_rows()
    # a random split puts a near-twin of every validation row in the training part
    assert diagnose(KNeighborsClassifier(1), X, y, random_state=0).problem == "none"
    d = diagnose(KNeighborsClassifier(1), X, y, random_state=0, groups=g)
    assert d.problem == "overfitting" and d.evidence["validation_score"] <= 0.6
    with pytest.raises(ValueError, match="'groups' parameter of diagnose"):
        diagnose(KNeighborsClassifier(1), X, y, X_val=X, y_val=y, groups=g)


def test_diagnose_of_a_group_study_splits_by_its_groups(tmp_path, capsys, monkeypatch):
    # a study cross-validated with group_kfold was diagnosed on a random split: a group's
    # rows on both sides, 'No problem' for a model that only memorizes the groups
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    X, y, g = _grouped_rows()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(g=g, y=y)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    path = tmp_path / "knn.yaml"
    path.write_text("data: {path: rows.csv, target: y, groups: g}\n"
                    "estimator: {name: knn_classifier, params: {n_neighbors: 1}}\n"
                    "search: {method: grid, space: {weights: [uniform]}}\n"
                    "cv: {method: group_kfold, n_splits: 3}\nseed: 0\noutput: runs\n",
                    encoding="utf-8")
    assert main(["diagnose", str(path)]) == 0
    assert "Overfitting: the training score 1.000 is good" in capsys.readouterr().out
