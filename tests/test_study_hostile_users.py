"""A demanding user's study files give right results or a clear refusal (third pass).

Silent wrong results and lost work found by using ``python -m hpsearch study.yaml`` as a
stranger would, each now refused with exit code 2 and a message naming the key, the rule
and the value, or computed right:

* a data file with a column name twice (``y,a,y``): pandas renamed the second ``y`` to
  ``y.1`` and kept it as a feature, a copy of the target (accuracy 1.0, silently);
* a ``.tsv`` file, which the README lists, was read comma-separated (one column);
* a target column with an empty cell ended as "run failed: Input contains NaN" (exit 1)
  without naming the column;
* a relative ``data.path`` naming a file both in the working directory and next to the
  study file read the working directory's one silently;
* with several metrics and ``refit: false`` the "best" of summary.json, best_params.json,
  the report and the printed summary was the highest mean over every row, an early
  halving round's row included, not the row the search ranks first.

The CLI runs in this process (``main``) with ``tmp_path`` as the working directory.
"""

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from hpsearch.cli import main

CSV_STUDY = textwrap.dedent(
    """\
    data: {path: DATA, target: y}
    estimator: {name: logistic_regression}
    search: {method: grid, space: {C: [0.1, 1.0]}}
    cv: 3
    n_jobs: 1
    """
)


def _run(tmp_path, monkeypatch, capsys, text, *args, name="s.yaml"):
    """``python -m hpsearch name args`` in ``tmp_path``: (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
    code = main([name, "--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _refused(result, *fragments):
    code, _, err = result
    assert code == 2, (code, err)
    assert "run failed" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def _noise(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                         "y": rng.integers(0, 2, n)})


def test_a_column_name_given_twice_is_refused(tmp_path, monkeypatch, capsys):
    frame = _noise()
    rows = "".join(f"{t},{a:.4f},{t}\n" for t, a in zip(frame.y, frame.a))
    (tmp_path / "d.csv").write_text("y,a,y\n" + rows)  # the second y: the target again
    result = _run(tmp_path, monkeypatch, capsys, CSV_STUDY.replace("DATA", "d.csv"))
    _refused(result, "data.path: column names must be distinct: 'y'", "columns: y, a, y")
    assert not (tmp_path / "runs" / "s" / "summary.json").exists()


def test_a_tsv_file_is_read_tab_separated(tmp_path, monkeypatch, capsys):
    _noise().to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    code, out, err = _run(tmp_path, monkeypatch, capsys,
                          CSV_STUDY.replace("DATA", "d.tsv"), "--dry-run")
    assert code == 0, err
    assert "2 features" in out, out


def test_a_missing_target_value_names_the_column(tmp_path, monkeypatch, capsys):
    frame = _noise().astype({"y": float})
    frame.loc[4, "y"] = np.nan
    frame.to_csv(tmp_path / "d.csv", index=False)
    result = _run(tmp_path, monkeypatch, capsys, CSV_STUDY.replace("DATA", "d.csv"))
    _refused(result, "data.target: column 'y' of d.csv has 1 missing value(s) (first in "
             "data row 5)")


def test_a_missing_group_names_the_column(tmp_path, monkeypatch, capsys):
    """Passed --dry-run, then "run failed: ValueError: Input groups contains NaN" (exit 1)."""
    frame = _noise().assign(g=[float(i % 6) for i in range(60)])
    frame.loc[3, "g"] = np.nan
    frame.to_csv(tmp_path / "d.csv", index=False)
    text = CSV_STUDY.replace("DATA", "d.csv, groups: g").replace("cv: 3", "cv: group_kfold")
    _refused(_run(tmp_path, monkeypatch, capsys, text, "--dry-run"),
             "data.groups: column 'g' of d.csv has 1 missing value(s) (first in data row 4)")


def test_a_data_path_naming_two_files_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "sub" / "data").mkdir(parents=True)
    _noise(seed=0).to_csv(tmp_path / "data" / "d.csv", index=False)
    _noise(seed=1).to_csv(tmp_path / "sub" / "data" / "d.csv", index=False)
    text = CSV_STUDY.replace("DATA", "data/d.csv")
    result = _run(tmp_path, monkeypatch, capsys, text, "--dry-run", name="sub/s.yaml")
    _refused(result, "data.path: names two different files",
             str(tmp_path / "data" / "d.csv"), str(tmp_path / "sub" / "data" / "d.csv"))
    # one file, or the same file reached both ways (the study in the working directory)
    (tmp_path / "data" / "d.csv").unlink()
    assert _run(tmp_path, monkeypatch, capsys, text, "--dry-run", name="sub/s.yaml")[0] == 0
    assert _run(tmp_path, monkeypatch, capsys, text, "--dry-run", name="s2.yaml")[0] == 2
    (tmp_path / "sub" / "s3.yaml").write_text(text)
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["s3.yaml", "--dry-run", "--quiet"]) == 0


HALVING_NOISE = textwrap.dedent(
    """\
    seed: 5
    data: {path: noise.csv, target: y}
    estimator: {name: decision_tree_classifier}
    search:
      method: halving
      n_candidates: 9
      resource: max_depth
      min_resources: 1
      max_resources: 9
      factor: 3
      space:
        min_samples_leaf: {type: int, low: 1, high: 20}
    cv: 3
    scoring: [accuracy, balanced_accuracy]
    refit: false
    n_jobs: 1
    """
)


def test_without_refit_the_best_is_the_row_the_search_ranks_first(tmp_path, monkeypatch,
                                                                   capsys):
    rng = np.random.default_rng(0)  # a target of pure noise: early rounds may score higher
    frame = pd.DataFrame(rng.normal(size=(120, 4)), columns=list("abcd"))
    frame.assign(y=rng.integers(0, 2, 120)).to_csv(tmp_path / "noise.csv", index=False)
    code, _, err = _run(tmp_path, monkeypatch, capsys, HALVING_NOISE)
    assert code == 0, err
    run = tmp_path / "runs" / "s"
    cv = pd.read_csv(run / "cv_results.csv")
    first = cv.loc[cv["rank_test_accuracy"].idxmin()]
    # the case this is about: a row of an earlier round has the highest mean
    assert cv["mean_test_accuracy"].max() > first["mean_test_accuracy"]
    assert first["iter"] == cv["iter"].max()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_score"] == pytest.approx(first["mean_test_accuracy"])
    assert summary["best_params"] == json.loads(first["params"])
    assert json.loads((run / "best_params.json").read_text()) == json.loads(first["params"])


MLP_GRID = textwrap.dedent(
    """\
    data: {dataset: iris}
    preprocessing: {scaler: standard}
    estimator: {name: mlp_classifier, params: {hidden_layer_sizes: [4], max_iter: 5}}
    search:
      method: grid
      space:
        activation: [relu, tanh]
        alpha: {type: float, low: 0.0001, high: 0.1, n: 2}
    cv: 3
    n_jobs: 1
    """
)


@pytest.mark.parametrize("old, new, key, got", [
    ("[relu, tanh]", "[relu, rleu]", "search.space.activation[1]: The 'activation' "
     "parameter of MLPClassifier must be a str among", "Got 'rleu' instead (line 7)"),
    ("low: 0.0001", "low: -1", "search.space.alpha.low: The 'alpha' parameter of "
     "MLPClassifier must be a float in the range [0, inf)", "Got -1 instead (line 8)"),
    ("activation: [relu, tanh]", "preprocess__standardscaler__with_mean: [true, 'no']",
     "search.space.preprocess__standardscaler__with_mean[1]: The 'with_mean' parameter "
     "of StandardScaler must be", "Got 'no' instead"),
])
def test_a_searched_value_the_estimator_refuses_is_named_before_any_fit(
        tmp_path, monkeypatch, capsys, old, new, key, got):
    """A typo in a list of choices failed every fit of its candidates, after the others
    ran (a grid of 4: "failed fits: 6", exit 0); now refused with the estimator's own
    rule."""
    result = _run(tmp_path, monkeypatch, capsys, MLP_GRID.replace(old, new))
    _refused(result, key, got)
    assert not (tmp_path / "runs").exists()


def test_resume_with_a_longer_fit_timeout_fits_the_stopped_fits_again(
        tmp_path, monkeypatch, capsys):
    """Fits stopped by ``fit_timeout`` were kept as failed fits by a resume: resumed with
    a longer ``--fit-timeout`` it said "nothing to resume: starting a new run" and then
    reported the old failures ("first error: fit exceeded fit_timeout=0.5s"); later it
    warned that they stay failed. Now they run again with the longer limit (only they),
    and the run succeeds."""
    import time

    from sklearn.neighbors import KNeighborsClassifier

    fit = KNeighborsClassifier.fit

    def slow(self, X, y):  # (fork workers inherit the patch)
        time.sleep(3)
        return fit(self, X, y)

    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\n"
            "search: {method: grid, space: {n_neighbors: [3]}}\ncv: 2\nn_jobs: 1\n")
    monkeypatch.setattr(KNeighborsClassifier, "fit", slow)
    code, _, err = _run(tmp_path, monkeypatch, capsys, text, "--fit-timeout", "0.5")
    assert code == 1 and "fit exceeded fit_timeout=0.5s" in err, err
    monkeypatch.setattr(KNeighborsClassifier, "fit", fit)
    code, out, err = _run(tmp_path, monkeypatch, capsys, text, "--resume", "--fit-timeout",
                          "30")
    assert "nothing to resume" not in out + err
    assert ("hpsearch: 2 fit(s) of the run being resumed stopped by a shorter fit_timeout "
            "(at most 0.5s) will run again with fit_timeout=30s") in err
    assert code == 0 and "fit exceeded" not in out + err, err
    run = tmp_path / "runs" / "s"
    assert json.loads((run / "summary.json").read_text())["n_failed"] == 0
    # the same limit again: nothing stopped by a shorter one, nothing said
    code, out, err = _run(tmp_path, monkeypatch, capsys, text, "--resume", "--fit-timeout",
                          "30")
    assert code == 0 and "will run again" not in err, err


#: k-NN with 81 neighbours on 121 training rows in 3 folds: the fold with 80 training rows
#: fails, the other two (81 rows) fit
ONE_SPLIT_FAILS = ("data: {dataset: iris, test_size: 0.19}\nestimator: {name: knn_classifier}\n"
                   "search: {method: grid, space: {n_neighbors: NEIGHBOURS}}\n"
                   "cv: {method: kfold, n_splits: 3}\nn_jobs: 1\n")


def test_failed_fits_are_counted_per_split(tmp_path, monkeypatch, capsys):
    """results.csv gave every split row its candidate's error, so one failed split of
    three was "failed fits: 3" (summary.json, report) and a run whose candidates each had
    one failed split said "every fit failed (3 errors)"."""
    code, _, err = _run(tmp_path, monkeypatch, capsys,
                        ONE_SPLIT_FAILS.replace("NEIGHBOURS", "[1, 81]"))
    assert code == 0, err
    run = tmp_path / "runs" / "s"
    assert json.loads((run / "summary.json").read_text())["n_failed"] == 1
    assert "- failed fits: 1 (" in (run / "report.md").read_text()
    tidy = pd.read_csv(run / "results.csv")
    failed = tidy[tidy["error"].notna()]
    assert failed[["n_neighbors", "split"]].values.tolist() == [[81, 0]]
    assert failed["error"].iloc[0].strip().endswith("n_samples_fit = 80, n_samples = 41")
    assert not failed["error"].iloc[0].startswith("split 0:")
    code, _, err = _run(tmp_path, monkeypatch, capsys,
                        ONE_SPLIT_FAILS.replace("NEIGHBOURS", "[81]"), "--overwrite")
    assert code == 1
    assert ("run failed: no candidate has a mean score, each has a failed fit (1 of 3 fits "
            "failed, see ") in err


@pytest.mark.parametrize("text, expected", [
    ("data: {dataset: diabetes}\nestimator: {name: ridge}\nscoring: accuracy\n",
     "scoring: cannot score a regressor (ValueError: Classification metrics can't handle a "
     "mix of multiclass and continuous targets), got 'accuracy'"),
    ("data: {dataset: digits}\nestimator: {name: logistic_regression}\n"
     "scoring: [accuracy, f1]\nrefit: accuracy\n",
     "scoring[1]: cannot score a classifier on a multiclass target of 10 classes "
     "(ValueError: Target is multiclass but average='binary'"),
    ("data: {dataset: wine}\nestimator: {name: logistic_regression}\nscoring: roc_auc\n",
     "did you mean 'roc_auc_ovr'?"),
    ("data: {path: d.csv, target: y}\nestimator: {name: ridge}\n",
     "data.target: ridge is a regressor and needs a numeric target: could not convert "
     "string to float: 'yes', got 'y'"),
])
def test_a_metric_that_cannot_score_the_task_is_refused_before_any_fit(
        tmp_path, monkeypatch, capsys, text, expected):
    """Every fit trained and then failed to score (an MLP study: the whole run's time),
    ending with "run failed: every fit failed" (exit 1)."""
    (tmp_path / "d.csv").write_text("a,y\n" + "".join(f"{i},{'no' if i % 2 else 'yes'}\n"
                                                        for i in range(20)))
    text += "search: {method: grid, space: {alpha: [0.1, 1.0]}}\ncv: 3\nn_jobs: 1\n"
    text = text.replace("alpha: [0.1, 1.0]", "C: [0.1, 1.0]") if "logistic" in text else text
    _refused(_run(tmp_path, monkeypatch, capsys, text), expected)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("old, new, expected", [
    ("n_neighbors: [1, 3]", "1: [1, 3]", "search.space.1: a key must be a name (text), got 1"),
    ("n_neighbors: [1, 3]", "null: [1, 3]", "search.space.null: a key must be a name (text), "
     "got null; quote it (line 6)"),
    ("{name: knn_classifier}", "{name: knn_classifier, params: {yes: 2}}",
     "estimator.params.true: a key must be a name (text), got true; quote it (line 2)"),
])
def test_a_key_that_is_not_text_is_named_as_written(tmp_path, monkeypatch, capsys, old, new,
                                                     expected):
    """Was ``search.space[1].[key]: must be a string`` (a list index and pydantic's
    placeholder in the key path)."""
    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\nsearch:\n"
            "  method: grid\n  space:\n    n_neighbors: [1, 3]\ncv: 3\n")
    _refused(_run(tmp_path, monkeypatch, capsys, text.replace(old, new)), expected)


@pytest.mark.parametrize("option, expected", [
    ("fit_timeout: .inf", "search.fit_timeout: must be a finite number, got inf (line 3)"),
    ("timeout: .inf", "search.timeout: must be a finite number, got inf (line 3)"),
])
def test_an_infinite_time_limit_is_refused_naming_its_key(tmp_path, monkeypatch, capsys,
                                                          option, expected):
    """YAML's ``.inf`` passed the file's checks and ``--dry-run``, then the run failed
    with "run failed: InvalidParameterError: The 'fit_timeout' parameter of GridSearchCV
    ..." (exit 1); ``--fit-timeout inf`` too."""
    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\n"
            f"search: {{method: grid, {option}, space: {{n_neighbors: [1]}}}}\ncv: 3\n")
    _refused(_run(tmp_path, monkeypatch, capsys, text, "--dry-run"), expected)
    text = text.replace(option + ", ", "")
    _refused(_run(tmp_path, monkeypatch, capsys, text, "--fit-timeout", "inf"),
             "--fit-timeout must be a finite number of seconds > 0, got inf")


def test_a_smoke_run_says_so_in_its_report_and_summary(tmp_path, monkeypatch, capsys):
    """A ``--smoke`` run wrote runs/<name>/report.md and summary.json exactly as a real
    run does: read later, its 2-candidate result passed for the study's."""
    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\n"
            "search: {method: grid, space: {n_neighbors: [1, 3, 5]}}\ncv: 3\nn_jobs: 1\n")
    code, _, err = _run(tmp_path, monkeypatch, capsys, text, "--smoke")
    assert code == 0, err
    run = tmp_path / "runs" / "s"
    assert json.loads((run / "summary.json").read_text())["smoke"] is True
    head = (run / "report.md").read_text().split("## Best configuration")[0]
    assert "**--smoke run: a reduced budget (2 candidates, few epochs) to check the file, " \
           "not the study's result" in head


def test_nested_cv_without_refit_is_refused_naming_refit(tmp_path, monkeypatch, capsys):
    """``refit: false`` with ``evaluate`` passed the checks and ``--dry-run``, then the
    run failed: "run failed: ValueError: nested_cross_validate needs a search with refit
    enabled" (exit 1)."""
    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\n"
            "search: {method: grid, space: {n_neighbors: [1, 3]}}\ncv: 3\nrefit: false\n"
            "evaluate: {outer: kfold, n_splits: 3}\n")
    _refused(_run(tmp_path, monkeypatch, capsys, text, "--dry-run"),
             "refit: must be true or a metric name with 'evaluate'", "got false (line 5)")


def test_racing_with_a_pruner_is_refused_naming_racing(tmp_path, monkeypatch, capsys):
    """Passed ``--dry-run``, then "run failed: ValueError: The 'racing' parameter of
    OptunaSearchCV cannot be combined with a pruner" (exit 1)."""
    text = ("data: {dataset: iris}\nestimator: {name: mlp_classifier}\nsearch: {method: "
            "optuna, racing: true, pruner: median, space: {alpha: [0.1, 1.0]}}\ncv: 3\n")
    _refused(_run(tmp_path, monkeypatch, capsys, text, "--dry-run"),
             "search.racing: cannot be combined with a pruner", "got true (line 3)")


def test_a_metric_undefined_on_every_split_is_not_called_failed_fits(tmp_path, monkeypatch,
                                                                     capsys):
    """r2 of leave-one-out's one test row is NaN without an error: the run said "every
    fit failed (0 errors ...); first error: no finite score"."""
    text = ("data: {dataset: diabetes, subset: 20}\nestimator: {name: ridge}\n"
            "search: {method: grid, space: {alpha: [1.0]}}\ncv: loo\nscoring: r2\nn_jobs: 1\n")
    code, _, err = _run(tmp_path, monkeypatch, capsys, text)
    assert code == 1
    assert ("run failed: no candidate has a finite mean score, though no fit failed: the "
            "metric is undefined on these splits (16 fits, see ") in err
    assert "first error" not in err and "every fit failed" not in err


@pytest.mark.parametrize("content, hint", [
    ("a;b;y\n1;2;0\n3;4;1\n", "(columns: a;b;y); the file seems separated by ';'"),
    ("1,2,0\n3,4,1\n", "(columns: 1, 2, 0); its first row is all numbers: the file seems "
     "to have no header row"),
    ("1,1,0\n3,4,1\n", "'1' is the name of more than one column of d.csv (columns: 1, 1, 0); "
     "rename them; its first row is all numbers"),
    ("a,b,y\n", "data.path: d.csv has no data rows (a header only), got 'd.csv'"),
])
def test_a_data_file_of_another_layout_is_explained(tmp_path, monkeypatch, capsys, content,
                                                    hint):
    (tmp_path / "d.csv").write_text(content)
    _refused(_run(tmp_path, monkeypatch, capsys, CSV_STUDY.replace("DATA", "d.csv")), hint)


def test_resuming_an_optuna_search_on_another_space_is_refused(tmp_path, monkeypatch,
                                                               capsys):
    """Resumed with ``n_neighbors: [30, 40]`` after a run on ``[1, 2]``, an Optuna search
    counted the old trials in ``n_trials`` and reported ``best params: n_neighbors=1``,
    a value outside its space (a warning said only that the file differs)."""
    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\nsearch: {method: "
            "optuna, n_trials: 2, space: {n_neighbors: [1, 2]}}\ncv: 3\nn_jobs: 1\n")
    assert _run(tmp_path, monkeypatch, capsys, text)[0] == 0
    before = (tmp_path / "runs" / "s" / "best_params.json").read_text()
    _refused(_run(tmp_path, monkeypatch, capsys, text.replace("[1, 2]", "[30, 40]"),
                  "--resume"),
             "search.space.n_neighbors: the study 's' in ", "was [1, 2], got [30, 40]",
             "--overwrite to replace this one")
    assert (tmp_path / "runs" / "s" / "best_params.json").read_text() == before
    assert "[1, 2]" in (tmp_path / "runs" / "s" / "study.yaml").read_text()
    # more trials on the same space: a resume
    code, _, err = _run(tmp_path, monkeypatch, capsys, text.replace("n_trials: 2",
                                                                    "n_trials: 3"), "--resume")
    assert code == 0, err


def test_a_classifier_on_a_target_of_single_row_classes_names_the_target(tmp_path,
                                                                         monkeypatch, capsys):
    """Was ``data.test_size: The least populated classes in y have only 1 member ...
    Classes with too few members are: [25.0, 31.0, ...]`` (84 values) for a classifier on
    the diabetes quantity."""
    text = ("data: {dataset: diabetes}\nestimator: {name: logistic_regression}\n"
            "search: {method: grid, space: {C: [1.0]}}\ncv: 3\n")
    code, _, err = _run(tmp_path, monkeypatch, capsys, text, "--dry-run")
    _refused((code, _, err), "data.dataset: 84 of the 214 classes of the target have a "
             "single row (25, 31, 37, 40, 43, ...)", "use a regressor")
    assert "test_size" not in err


def test_without_refit_the_output_does_not_list_a_model(tmp_path, monkeypatch, capsys):
    """With ``refit: false`` no model.joblib is written, but the report's files and the
    printed summary listed one."""
    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\n"
            "search: {method: grid, space: {n_neighbors: [1, 3]}}\ncv: 3\nrefit: false\n"
            "n_jobs: 1\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(text)
    assert main(["s.yaml"]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "s"
    assert not (run / "model.joblib").exists()
    assert "model.joblib" not in out.splitlines()[-1]
    assert "no `model.joblib` (refit: false)" in (run / "report.md").read_text()


def test_a_subset_larger_than_the_data_is_noted(tmp_path, monkeypatch, capsys):
    """``subset: 5000`` of iris's 150 rows used them all without a word."""
    text = ("data: {dataset: iris, subset: 5000}\nestimator: {name: knn_classifier}\n"
            "search: {method: grid, space: {n_neighbors: [1]}}\ncv: 3\n")
    code, out, err = _run(tmp_path, monkeypatch, capsys, text, "--dry-run")
    assert code == 0, err
    assert "note:       data.subset=5,000 is more than the 150 rows of the data" in out


def test_the_resume_command_repeats_the_options_of_the_run():
    """The "resume with:" line after Ctrl-C / a full disk dropped --allow-module (the
    command failed: import path outside the allowed modules), --fit-timeout,
    --scheduler and --n-jobs (the resume ran otherwise)."""
    from hpsearch.cli import _resume_command, make_parser

    args = make_parser().parse_args([
        "my study.yaml", "--out", "o", "--n-jobs", "3", "--fit-timeout", "2.5",
        "--scheduler", "tcp://10.0.0.5:8786", "--allow-module", "mypkg", "--smoke"])
    assert _resume_command(args) == (
        "python -m hpsearch 'my study.yaml' --resume --out o --n-jobs 3 --fit-timeout 2.5 "
        "--scheduler tcp://10.0.0.5:8786 --allow-module mypkg --smoke")
    assert _resume_command(make_parser().parse_args(["s.yaml"])) == (
        "python -m hpsearch s.yaml --resume")


def test_overwrite_keeps_another_studys_trials_in_the_run_folder_store(tmp_path, monkeypatch,
                                                                        capsys):
    """``b.yaml --out o --overwrite`` into the run folder of study ``a`` deleted the whole
    ``o/study.db``, study ``a``'s finished fits with it (--overwrite replaces *its* study)."""
    import optuna

    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\n"
            "search: {method: grid, space: {n_neighbors: [1, 3]}}\ncv: 3\nn_jobs: 1\n")
    assert _run(tmp_path, monkeypatch, capsys, text, "--out", "o", name="a.yaml")[0] == 0
    code, _, err = _run(tmp_path, monkeypatch, capsys, text, "--out", "o", "--overwrite",
                        name="b.yaml")
    assert code == 0, err
    storage = f"sqlite:///{tmp_path / 'o' / 'study.db'}"
    assert sorted(optuna.get_all_study_names(storage)) == ["a", "b"]
    assert len(optuna.load_study(study_name="a", storage=storage).trials) == 2


def test_a_metric_needing_a_method_the_estimator_lacks_is_refused(tmp_path, monkeypatch,
                                                                  capsys):
    """``svc`` (probability: false) scored by neg_log_loss: every fit trained, then "run
    failed: every fit failed ...; first error: AttributeError: SVC has none of the
    following attributes: predict_proba"."""
    text = ("data: {dataset: iris}\npreprocessing: {scaler: standard}\nestimator: {name: svc}\n"
            "search: {method: grid, space: {C: [1.0]}}\ncv: 3\nscoring: neg_log_loss\n")
    _refused(_run(tmp_path, monkeypatch, capsys, text, "--dry-run"),
             "scoring: needs the estimator's predict_proba, which svc does not have with its "
             "parameters (e.g. svc needs probability: true), got 'neg_log_loss' (line 6)")
    fixed = text.replace("{name: svc}", "{name: svc, params: {probability: true}}")
    assert _run(tmp_path, monkeypatch, capsys, fixed, "--dry-run")[0] == 0
    searched = text.replace("C: [1.0]", "C: [1.0], probability: [false, true]")
    assert _run(tmp_path, monkeypatch, capsys, searched, "--dry-run")[0] == 0


def test_resume_into_another_studys_run_folder_is_refused(tmp_path, monkeypatch, capsys):
    """``b.yaml --out o --resume`` into study ``a``'s run folder said "nothing to resume:
    starting a new run" and replaced a's report, results and model without --overwrite."""
    text = ("data: {dataset: iris}\nestimator: {name: knn_classifier}\n"
            "search: {method: grid, space: {n_neighbors: [1, 3]}}\ncv: 3\nn_jobs: 1\n")
    assert _run(tmp_path, monkeypatch, capsys, text, "--out", "o", name="a.yaml")[0] == 0
    report = (tmp_path / "o" / "report.md").read_text()
    _refused(_run(tmp_path, monkeypatch, capsys, text, "--out", "o", "--resume",
                  name="b.yaml"),
             "o holds the results of an earlier run, but the trial store", "no trial of "
             "study 'b' to continue", "nothing was changed")
    assert (tmp_path / "o" / "report.md").read_text() == report
