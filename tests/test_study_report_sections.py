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
