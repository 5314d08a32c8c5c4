"""Malformed study files: exit code 2, one line naming key path, rule, value and line.

Every case patches a valid base study (``BASE``, line numbers in comments) and runs
``hpsearch.cli.main`` in-process; one case runs the real ``python -m hpsearch``.
"""

import subprocess
import sys
import textwrap

import pytest

from hpsearch.cli import main

BASE = textwrap.dedent(
    """\
    name: t
    data:
      dataset: iris
    estimator:
      name: logistic_regression
      params: {max_iter: 50}
    search:
      method: grid
      space:
        C: [0.1, 1.0]
    cv: 3
    """
)  # lines: 1 name, 2 data, 3 dataset, 4 estimator, 5 name, 6 params, 7 search,
#         8 method, 9 space, 10 C, 11 cv

CSV = "a,b,city,churn\n1,2,x,0\n3,4,y,1\n5,6,x,0\n7,8,y,1\n"


def patch(*pairs, base=BASE):
    text = base
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# (id, study text, key path, expected message fragment, line or None)
CASES = [
    ("missing-data", patch(("data:\n  dataset: iris\n", "")), "data",
     "required key is missing", None),
    ("missing-space", patch(("  space:\n    C: [0.1, 1.0]\n", "")), "search.space",
     "required key is missing", 7),
    ("missing-estimator-name", patch(("  name: logistic_regression\n", "")), "estimator.name",
     "required key is missing", 4),
    ("unknown-top-key", patch(("cv: 3", "cv: 3\noutptu: runs/x")), "outptu",
     "unknown key; did you mean 'output'?", 12),
    ("unknown-search-key", patch(("method: grid", "method: random\n  n_iters: 3")),
     "search.n_iters", "unknown key; did you mean 'n_iter'?", 9),
    ("unknown-dataset", patch(("dataset: iris", "dataset: digit")), "data.dataset",
     "must be one of digits, iris, wine, breast_cancer, diabetes, got 'digit'; "
     "did you mean 'digits'?", 3),
    ("unknown-estimator", patch(("name: logistic_regression", "name: logistic_regresion")),
     "estimator.name",
     "unknown estimator, got 'logistic_regresion'; did you mean 'logistic_regression'?", 5),
    ("disallowed-import", patch(("name: logistic_regression", "name: 'os.path:join'")),
     "estimator.name", "import path 'os.path:join' is outside the allowed modules "
     "(sklearn, hpsearch)", 5),
    ("bad-import-syntax", patch(("name: logistic_regression", "name: 'sklearn.linear_model:'")),
     "estimator.name", "an import path must look like 'package.module:ClassName'", 5),
    ("import-no-class", patch(("params: {max_iter: 50}", "params: {}"),
                              ("name: logistic_regression", "name: 'sklearn.linear_model:Ridgee'")),
     "estimator.name", "module 'sklearn.linear_model' has no class 'Ridgee'; did you mean 'Ridge'?",
     5),
    ("unknown-estimator-param", patch(("{max_iter: 50}", "{max_iter: 50, CC: 1}")),
     "estimator.params.CC", "not a parameter of LogisticRegression; did you mean 'C'?", 6),
    ("bad-estimator-param", patch(("{max_iter: 50}", "{max_iter: -5}")), "estimator.params.max_iter",
     "The 'max_iter' parameter of LogisticRegression must be an int in the range [0, inf). "
     "Got -5 instead", 6),
    ("unknown-space-param", patch(("    C: [0.1, 1.0]", "    CC: [0.1, 1.0]")),
     "search.space.CC", "not a parameter of LogisticRegression; did you mean 'C'?", 10),
    ("unknown-method", patch(("method: grid", "method: bayes")), "search.method",
     "must be one of grid, random, optuna, halving, hyperband, recipe, asha, got 'bayes'", 8),
    ("n-iter-zero", patch(("method: grid", "method: random\n  n_iter: 0")), "search.n_iter",
     "must be >= 1, got 0", 9),
    ("n-iter-type", patch(("method: grid", "method: random\n  n_iter: ten")), "search.n_iter",
     "must be an integer, got 'ten'", 9),
    ("option-of-other-method", patch(("method: grid", "method: random\n  n_trials: 5")),
     "search.n_trials", "not an option of method 'random' (its options: n_iter, racing, racing_min_splits, racing_alpha), got 5", 9),
    ("log-low-zero", patch(("C: [0.1, 1.0]", "C: {type: float, low: 0, high: 10, log: true}")),
     "search.space.C.low", "must be > 0 when log is true, got 0", 10),
    ("low-above-high", patch(("C: [0.1, 1.0]", "C:\n      type: float\n      low: 5\n      high: 1e-1")),
     "search.space.C.low", "must be < high=0.1, got 5", 12),
    ("int-float-bound", patch(("C: [0.1, 1.0]", "C: {type: int, low: 1.5, high: 4}")),
     "search.space.C.low", "must be an integer for type 'int', got 1.5", 10),
    ("space-scalar", patch(("C: [0.1, 1.0]", "C: 0.5")), "search.space.C",
     "must be a list of choices or a mapping with a 'type' key", 10),
    ("categorical-no-choices", patch(("C: [0.1, 1.0]", "C: {type: categorical}")),
     "search.space.C.choices", "required key is missing for type 'categorical'", 10),
    ("dimension-type", patch(("C: [0.1, 1.0]", "C: {type: floatt, low: 1, high: 2}")),
     "search.space.C.type", "must be one of float, int, categorical, got 'floatt'; did you mean "
     "'float'?", 10),
    ("dimension-unknown-key", patch(("C: [0.1, 1.0]", "C: {type: float, low: 1, hihg: 2}")),
     "search.space.C.hihg", "unknown key; did you mean 'high'?", 10),
    ("when-unknown-param", patch(("C: [0.1, 1.0]",
                                  "C: [0.1, 1.0]\n    l1_ratio: {type: float, low: 0.1, high: 0.9,"
                                  " when: {penalt: elasticnet}}")),
     "search.space.l1_ratio.when.penalt",
     "a condition must name another searched parameter, got 'penalt'", 11),
    ("grid-float-without-n", patch(("C: [0.1, 1.0]", "C: {type: float, low: 0.1, high: 10}")),
     "search.space.C", "A continuous Float for parameter 'C' has no grid", 10),
    ("cv-unknown-name", patch(("cv: 3", "cv: kfolds")), "cv",
     "must be one of holdout, kfold, stratified_kfold, group_kfold, loo, lpo, monte_carlo, "
     "got 'kfolds'; did you mean 'kfold'?", 11),
    ("cv-option-of-other", patch(("cv: 3", "cv: {method: kfold, n_splits: 3, swap: true}")),
     "cv.swap", "not an option of splitter 'kfold' (its options: n_splits, shuffle), got true", 11),
    ("cv-too-few-folds", patch(("cv: 3", "cv: 1")), "cv", "must be >= 2, got 1", 11),
    ("cv-exploding-lpo", patch(("cv: 3", "cv: {method: lpo, p: 3}")), "cv",
     "LeavePOut(p=3) on n_samples=120 would make C(120, 3) = 280,840 splits, more than "
     "max_splits=10,000. Use MonteCarloCV", 11),
    ("cv-type", patch(("cv: 3", "cv: [1, 2]")), "cv",
     "must be a number of folds, a splitter name or a mapping with 'method'", 11),
    ("unknown-metric", patch(("cv: 3", "cv: 3\nscoring: acuracy")), "scoring",
     "unknown metric, got 'acuracy'; did you mean 'accuracy'?", 12),
    ("refit-not-a-metric", patch(("cv: 3", "cv: 3\nscoring: [accuracy, f1_macro]\nrefit: f1")),
     "refit", "must be one of the scoring metrics (accuracy, f1_macro), got 'f1'", 13),
    ("test-size-range", patch(("dataset: iris", "dataset: iris\n  test_size: 1.5")),
     "data.test_size", "must be < 1.0, got 1.5", 4),
    ("two-sources", patch(("dataset: iris", "dataset: iris\n  path: x.csv")), "data",
     "give exactly one of 'dataset' (a bundled name) or 'path'", 2),
    ("csv-not-found", patch(("dataset: iris", "path: nowhere.csv\n  target: y")), "data.path",
     "file not found, got 'nowhere.csv'", 3),
    ("csv-bad-target", patch(("dataset: iris", "path: data.csv\n  target: churnn")), "data.target",
     "no column 'churnn' in data.csv; did you mean 'churn'?", 4),
    ("n-jobs-zero", patch(("cv: 3", "cv: 3\nn_jobs: 0")), "n_jobs",
     "must be a positive integer or -1 (all cores), got 0", 12),
    ("scheduler-without-dask", patch(("cv: 3", "cv: 3\nbackend: {scheduler: 'tcp://h:8786'}")),
     "backend.scheduler", "only with name 'dask', got 'tcp://h:8786'", 12),
    ("seed-negative", patch(("name: t", "name: t\nseed: -1")), "seed", "must be >= 0, got -1", 2),
    ("error-score-word", patch(("cv: 3", "cv: 3\nerror_score: ignore")), "error_score",
     "must be one of raise, nan, got 'ignore'", 12),
    ("section-not-mapping", patch(("data:\n  dataset: iris", "data: iris")), "data",
     "must be a mapping, got 'iris'", 2),
    ("yaml-syntax", patch(("  method: grid", "  method: grid\n   bad: indent")), None,
     "invalid YAML", 9),
    ("yaml-unclosed", patch(("{max_iter: 50}", "{max_iter: 50")), None, "invalid YAML", None),
    ("python-object-tag", patch(("dataset: iris", "dataset: !!python/object/apply:os.system [ls]")),
     "data.dataset", "YAML tag '!!python/object/apply:os.system' is not allowed", 3),
    ("python-name-tag", patch(("C: [0.1, 1.0]", "C: !!python/name:os.system ''")),
     "search.space.C", "YAML tag '!!python/name:os.system' is not allowed", 10),
    ("duplicate-key", patch(("cv: 3", "cv: 3\ncv: 4")), "cv", "duplicate key (first at line 11)",
     12),
    # the searches' own budget checks, run before any fit (plan_rounds / plan_rungs)
    ("halving-unknown-resource", patch(("method: grid", "method: halving\n  resource: n_estimators")),
     "search.resource", "Cannot use resource=n_estimators which is not supported by "
     "estimator LogisticRegression. The 'resource' parameter of HalvingSearchCV must be 'epochs', "
     "'n_samples' or the name of an integer parameter of LogisticRegression. Got "
     "'n_estimators' instead", 9),
    ("halving-min-above-max", patch(("method: grid", "method: halving\n  min_resources: 60\n"
                                                     "  max_resources: 30")),
     "search.min_resources", "min_resources_=60 is greater than max_resources_=30", 9),
    ("halving-resource-searched", patch(("method: grid", "method: halving"),
                                        ("C: [0.1, 1.0]", "max_iter: [5, 10]")),
     "search.space", "Cannot use parameter max_iter as the resource since it is part of the "
     "searched parameters", 9),
    ("pruner-without-epochs", patch(("name: logistic_regression\n  params: {max_iter: 50}",
                                     "name: knn_classifier"),
                                    ("method: grid", "method: optuna\n  pruner: median"),
                                    ("C: [0.1, 1.0]", "n_neighbors: [1, 3]")),
     "search.pruner", "The 'pruner' parameter of OptunaSearchCV needs an estimator with an "
     "integer 'max_iter' parameter", 8),
    # past NumPy's int64 / a float: "run failed: ValueError: high is out of bounds for
    # int64", "OverflowError: int too large to convert to float" (exit 1, no key named)
    ("int-past-int64", patch(("method: grid", "method: random\n  n_iter: 2"),
                             ("C: [0.1, 1.0]", "max_iter: {type: int, low: 1, high: "
                              "1000000000000000000000}")),
     "search.space.max_iter.high", "must be a 64-bit integer, in [-2**63, 2**63 - 2]", 11),
    ("float-bound-overflows", patch(("C: [0.1, 1.0]", f"C: {{type: float, low: 1, high: "
                                     f"1{'0' * 400}}}")),
     "search.space.C.high", "must be finite, got 1000", 10),
    ("step-overflows", patch(("C: [0.1, 1.0]", f"C: {{type: float, low: 1, high: 2, "
                              f"step: 1{'0' * 400}}}")),
     "search.space.C.step", "must be a finite number, at most 2**63 - 1", 10),
    # a systematic pass over the schema (each was accepted, or refused naming no key)
    ("categorical-columns-word", patch(("cv: 3", "cv: 3\npreprocessing: {categorical: "
                                                 "{columns: all}}")),
     "preprocessing.categorical.columns", "must be 'auto' or a list of column names, got "
     "'all'", 12),  # was "preprocessing.categorical.columns.literal['auto']: must be one of"
    ("categorical-columns-twice", patch(("dataset: iris", "path: data.csv\n  target: churn"),
                                        ("cv: 3", "cv: 2\npreprocessing: {categorical: "
                                         "{columns: [city, city]}}")),
     "preprocessing.categorical.columns[1]", "column names must be distinct (the same as "
     "item [0]), got 'city'", 13),
    # every fit failed ("could not convert string to float"), run failed, exit 1
    ("text-column-not-listed", patch(("dataset: iris", "path: data.csv\n  target: churn"),
                                     ("cv: 3", "cv: 2\npreprocessing: {categorical: "
                                      "{columns: []}}")),
     "preprocessing.categorical.columns", "column 'city' of data.csv holds text (e.g. 'x') "
     "but is not listed", 13),
    # "run failed: ValueError: Conditions form a cycle" (exit 1, the run folder made)
    ("condition-cycle", patch(("    C: [0.1, 1.0]",
                               "    C: {type: categorical, choices: [0.1, 1.0], when: "
                               "{solver: lbfgs}}\n    solver: {type: categorical, choices: "
                               "[lbfgs], when: {C: 1.0}}")),
     "search.space", "Conditions form a cycle: C -> solver -> C", 9),
    # a condition that never holds: the parameter was silently never searched
    ("condition-never-holds", patch(("    C: [0.1, 1.0]",
                                     "    solver: [lbfgs, liblinear]\n    C: {type: "
                                     "categorical, choices: [0.1, 1.0], when: {solver: "
                                     "liblinar}}")),
     "search.space.C.when.solver", "a condition that never holds: not a choice of solver "
     "('lbfgs', 'liblinear'), got 'liblinar'", 11),
    ("condition-on-a-float-range", patch(("    C: [0.1, 1.0]",
                                          "    tol: {type: float, low: 0.001, high: 0.1, "
                                          "n: 3}\n    C: {type: categorical, choices: [1.0],"
                                          " when: {tol: 0.01}}")),
     "search.space.C.when.tol", "a condition that never holds: tol is a float range", 11),
    # "run failed: TypeError: RecipeSearchCV.__init__() got an unexpected keyword argument"
    ("recipe-timeout", patch(("method: grid", "method: recipe\n  timeout: 60")),
     "search.timeout", "not an option of method 'recipe' (its options: n_iter, sampler), "
     "got 60", 9),
    ("storage-empty", patch(("cv: 3", "cv: 3\nstorage: ''")), "storage",
     "must not be empty (leave the key out for the default), got ''", 12),
    ("output-empty", patch(("cv: 3", "cv: 3\noutput: ' '")), "output",
     "must not be empty (leave the key out for the default), got ' '", 12),
    ("groups-is-the-target", patch(("dataset: iris", "path: data.csv\n  target: churn\n"
                                                     "  groups: churn")),
     "data.groups", "must be another column than the target (data.target)", 5),
    ("drop-the-target", patch(("dataset: iris", "path: data.csv\n  target: churn\n"
                                                "  drop: [a, churn]")),
     "data.drop[1]", "names the target column (data.target), which is never a feature; "
     "remove it from drop, got 'churn'", 5),
    ("drop-twice", patch(("dataset: iris", "path: data.csv\n  target: churn\n"
                                           "  drop: [a, a]")),
     "data.drop[1]", "the columns of 'drop' must be distinct (the same as item [0]), got "
     "'a'", 5),
    # the grid fitted the candidate C=0.1 twice
    ("grid-choice-twice", patch(("C: [0.1, 1.0]", "C: [0.1, 1.0, 0.1]")),
     "search.space.C", "a choice listed twice in a grid (items 0 and 2), got 0.1: the grid "
     "would fit the same candidates twice", 10),
    ("grid-choice-twice-in-choices", patch(("C: [0.1, 1.0]", "C: {type: categorical, "
                                                              "choices: [1.0, 1.0]}")),
     "search.space.C.choices", "a choice listed twice in a grid (items 0 and 1), got 1.0", 10),
    ("racing-alpha-without-racing", patch(("method: grid", "method: grid\n  racing_alpha: "
                                                           "0.05")),
     "search.racing_alpha", "only with racing: true", 9),
    ("top-level-bool-key", patch(("cv: 3", "cv: 3\non: 1")), "true",
     "a key must be a name (text), got true; quote it", None),  # was "[1]: Keys should be"
    ("section-int-key", patch(("dataset: iris", "dataset: iris\n  1: x")), "data.1",
     "a key must be a name (text), got 1; quote it", 4),
    ("unknown-estimator-upper-case", patch(("name: logistic_regression",
                                            "name: LOGISTIC_REGRESSION")),
     "estimator.name", "unknown estimator, got 'LOGISTIC_REGRESSION'; did you mean "
     "'logistic_regression'?", 5),
    ("unknown-dataset-upper-case", patch(("dataset: iris", "dataset: IRIS")), "data.dataset",
     "must be one of digits, iris, wine, breast_cancer, diabetes, got 'IRIS'; did you mean "
     "'iris'?", 3),
    ("refit-without-scoring", patch(("cv: 3", "cv: 3\nrefit: accuracy")), "refit",
     "a metric name needs 'scoring' naming that metric", 12),  # was "metrics (None)"
    ("cv-test-size-named", patch(("cv: 3", "cv: {method: holdout, test_size: 0}")),
     "cv.test_size", "The 'test_size' parameter of Holdout must be", 11),
    ("cv-n-splits-named", patch(("cv: 3", "cv: {method: kfold, n_splits: 1}")),
     "cv.n_splits", "k-fold cross-validation requires at least one train/test split", 11),
    ("fit-timeout-past-float", patch(("method: grid", f"method: grid\n  fit_timeout: "
                                                      f"1{'0' * 400}")),
     "search.fit_timeout", "must be a finite number, got 1000", 9),  # was "must be a number"
    # max_resources 'auto' = the estimator's max_iter (10**6): the plan of a million
    # candidates hung the dry run
    ("halving-auto-budget", patch(("{max_iter: 50}", "{max_iter: 1000000}"),
                                  ("method: grid", "method: halving"),
                                  ("C: [0.1, 1.0]", "C: {type: float, low: 0.1, high: 1}")),
     "search.max_resources", "the plan samples 1,000,000 candidates (max_resources="
     "1,000,000, min_resources=1, factor=3), more than the limit of 100,000", 7),
    ("date-for-a-name", patch(("name: t", "name: 2001-01-01")), "name",
     "must be a string, got 2001-01-01 (read as a YAML date: quote it to keep it as text)",
     1),  # was "got datetime.date(2001, 1, 1)"
    ("not-a-mapping", "- data\n- search\n", None, "a study file must be a mapping of sections", 1),
    ("empty-file", "", None, "the study file is empty", None),
]


@pytest.mark.parametrize("text,path,fragment,line", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_malformed_study(tmp_path, monkeypatch, capsys, text, path, fragment, line):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text(CSV)
    study = tmp_path / "study.yaml"
    study.write_text(text)
    assert main([str(study), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err + captured.out
    expected = f"{path}: {fragment}" if path else fragment
    assert expected in err, err
    if line is not None:
        assert f"(line {line})" in err.splitlines()[0], err
    assert err.startswith(f"hpsearch: error in {study}: ")
    assert not (tmp_path / "out").exists()


def test_at_least_25_cases():
    assert len(CASES) >= 25


def test_all_errors_of_a_file_are_listed(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text(patch(("dataset: iris", "dataset: irs"), ("cv: 3", "cv: 3\nn_jobs: 0")))
    assert main([str(study)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert "data.dataset: must be one of" in err[0] and "(line 3)" in err[0]
    assert "n_jobs: must be a positive integer" in err[1] and "(line 12)" in err[1]


def test_missing_study_file(tmp_path, capsys):
    assert main([str(tmp_path / "nope.yaml")]) == 2
    assert "study file not found" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--n-jobs", "x"], ["--bogus"], []], ids=["type", "unknown", "none"])
def test_bad_arguments(tmp_path, capsys, argv):
    study = tmp_path / "s.yaml"
    study.write_text(BASE)
    args = argv if argv == [] else [str(study), *argv]
    assert main(args) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_allow_module_opens_an_import_path(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text(patch(("name: logistic_regression", "name: 'sklearn.linear_model:LogisticRegression'")))
    assert main([str(study), "--dry-run"]) == 0
    assert "LogisticRegression" in capsys.readouterr().out


def test_subprocess_python_object_tag(tmp_path):
    study = tmp_path / "evil.yaml"
    study.write_text(patch(("dataset: iris", "dataset: !!python/object/apply:os.system ['echo PWNED']")))
    proc = subprocess.run([sys.executable, "-m", "hpsearch", str(study)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "PWNED" not in proc.stdout + proc.stderr.replace("echo PWNED", "")
    assert "Traceback" not in proc.stderr
    assert "data.dataset: YAML tag '!!python/object/apply:os.system' is not allowed" in proc.stderr
    assert "(line 3)" in proc.stderr


def test_fit_timeout_option_of_a_recipe_search_is_refused(tmp_path, capsys):
    """RecipeSearchCV has no time limit per fit: ``--fit-timeout 5`` ended the run with
    "run failed: TypeError: ... unexpected keyword argument 'fit_timeout'" (exit 1)."""
    study = tmp_path / "s.yaml"
    study.write_text(patch(("method: grid", "method: recipe\n  n_iter: 1")))
    assert main([str(study), "--out", str(tmp_path / "out"), "--fit-timeout", "5"]) == 2
    err = capsys.readouterr().err
    assert "hpsearch: error: --fit-timeout: search method 'recipe' has no time limit per " \
           "fit, got 5" in err, err
    assert not (tmp_path / "out").exists()


def test_a_condition_listing_values_holds_for_any_of_them(tmp_path, capsys):
    """``when: {solver: [liblinear]}`` means "solver is one of these" (as in
    ``hpsearch.space``); the file's list became a tuple, which no choice equals: C was
    never searched (2 candidates instead of 3)."""
    study = tmp_path / "s.yaml"
    study.write_text(patch(("    C: [0.1, 1.0]",
                            "    solver: [lbfgs, liblinear]\n    C: {type: categorical, "
                            "choices: [0.1, 1.0], when: {solver: [liblinear]}}")))
    assert main([str(study), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "candidates: 3\n" in out, out


def test_a_file_with_thousands_of_errors_prints_the_first_20_and_a_count(tmp_path, capsys):
    """A stranger's file with 2,000 bad keys printed 2,000 error lines (the first ones,
    the ones to fix first, scrolled out of the terminal): now the first 20 in line order
    and one line counting the others, exit code 2 as before."""
    from hpsearch.study.errors import MAX_SHOWN_ERRORS

    study = tmp_path / "s.yaml"
    study.write_text(BASE + "".join(f"bad_key_{i}: 1\n" for i in range(2000)))
    assert main([str(study), "--dry-run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert MAX_SHOWN_ERRORS == 20 and len(err) == 21, len(err)
    assert all(line.startswith(f"hpsearch: error in {study}: ") for line in err)
    assert "bad_key_0: unknown key" in err[0] and "(line 12)" in err[0]
    assert "bad_key_19: unknown key" in err[19]
    assert err[20].endswith(": ... and 1,980 more errors (fix those above first)")


def test_21_errors_are_all_printed(tmp_path, capsys):
    """One error more than the cap is printed rather than counted ("... and 1 more")."""
    study = tmp_path / "s.yaml"
    study.write_text(BASE + "".join(f"bad_key_{i}: 1\n" for i in range(21)))
    assert main([str(study), "--dry-run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 21 and "bad_key_20: unknown key" in err[20]


def test_str_of_many_study_errors_is_capped():
    from hpsearch.study.errors import StudyError
    from hpsearch.study.loader import StudyErrors

    text = str(StudyErrors([StudyError(("k",), f"bad {i}") for i in range(100)]))
    assert text.splitlines()[-1] == "... and 80 more errors (fix those above first)"
    assert len(text.splitlines()) == 21


def test_an_asha_search_is_named_with_an(tmp_path, capsys):
    """The limit on all-choices spaces said "a asha search"."""
    study = tmp_path / "s.yaml"
    space = "".join(f"    p{i}: [{', '.join(map(str, range(10)))}]\n" for i in range(10))
    study.write_text(patch(("method: grid", "method: asha\n  resource: n_samples"),
                           ("    C: [0.1, 1.0]\n", space)))
    assert main([str(study), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "every parameter is a list of choices, and an asha search draws" in err, err
