"""The study report's analysis sections: "How sure is this?" and "Diagnosis"."""

import json

from hpsearch.cli import main

STUDY = """
name: sections
seed: 0
data: {dataset: iris, test_size: 0.25}
estimator: {name: logistic_regression, params: {max_iter: 200}}
search:
  method: grid
  space:
    C: [0.01, 0.1, 1.0, 10.0]
cv: {method: kfold, n_splits: 5, shuffle: true}
return_train_score: true
n_jobs: 1
"""


def _run(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    rc = main([str(path), "--out", str(out), "--quiet"])
    assert rc == 0
    return out


def test_report_has_comparison_and_diagnosis(tmp_path):
    out = _run(tmp_path, STUDY)
    report = (out / "report.md").read_text()
    assert "## How sure is this?" in report
    assert "p (corrected)" in report and "p (naive)" in report
    assert "n_test/n_train = 0.25" in report
    assert "## Diagnosis" in report and "### Recipe map" in report
    assert report.index("## How sure is this?") < report.index("## Plots")
    written = json.loads((out / ".hpsearch-run").read_text())["files"]
    for plot in ("plots/how_sure.png", "plots/recipe_map.png"):
        assert (out / plot).is_file() and plot in written


def test_one_candidate_has_no_comparison(tmp_path):
    out = _run(tmp_path, STUDY.replace("[0.01, 0.1, 1.0, 10.0]", "[1.0]"))
    report = (out / "report.md").read_text()
    assert "## How sure is this?" not in report
    assert not (out / "plots/how_sure.png").exists()


MLP_STUDY = """
name: side
seed: 0
data: {dataset: iris, test_size: 0.25}
preprocessing: {scaler: standard}
estimator: {name: mlp_classifier, params: {hidden_layer_sizes: [8], max_iter: 5}}
search:
  method: grid
  space:
    l1: [0.0, 0.01]
    activation: [relu, prelu]
cv: 3
n_jobs: 1
"""


def test_small_mlp_grid_shows_its_candidates_side_by_side(tmp_path):
    out = _run(tmp_path, MLP_STUDY)
    report = (out / "report.md").read_text()
    assert "## Candidates side by side" in report
    assert (out / "plots/candidates.png").is_file()
    written = json.loads((out / ".hpsearch-run").read_text())["files"]
    assert "plots/candidates.png" in written


def test_random_search_has_no_side_by_side(tmp_path):
    text = MLP_STUDY.replace("method: grid", "method: random\n  n_iter: 2")
    out = _run(tmp_path, text)
    assert "## Candidates side by side" not in (out / "report.md").read_text()
    assert not (out / "plots/candidates.png").exists()
