"""A student following the README, then a hostile one: each study file that ran every fit
and then failed (exit 1, one traceback per fit), or was refused without naming what to
change, is now refused before any fit with exit code 2 naming the key, the rule and the
value:

* a CSV with an empty cell in a feature column, without ``preprocessing.impute`` (the
  default is ``none``), for an estimator that does not take NaN;
* a text column without any ``preprocessing`` (nothing encodes it);
* ``hidden_layer_sizes: {a: 1}`` / ``true`` / ``[0]``, fixed or searched: scikit-learn's
  constraint ("array-like or int") takes them, every fit refused them;
* ``--out`` under a file, in ``/proc``, or empty; the message names ``--out``;
* a regressor given ``f1`` was told "did you mean 'f1_macro'?", another classification
  metric;
* a classifier's target of a single class ran and scored a perfect 1;
* ``cv: 5`` on 4 training rows passed ``--dry-run`` and failed in the first fit.

A column of numbers with one cell of text (``oops``) is read as categories: a note says
so (the run's and the dry run's notes).

The CLI runs in this process (``main``) with ``tmp_path`` as the working directory.
"""

import textwrap

import numpy as np
import pandas as pd
import pytest

from hpsearch.cli import main

STUDY = textwrap.dedent(
    """\
    data: {path: d.csv, target: y}
    PRE
    estimator: {name: mlp_classifier, params: {hidden_layer_sizes: HIDDEN, max_iter: 2}}
    search: {method: grid, space: {learning_rate_init: [0.01]}}
    cv: 2
    n_jobs: 1
    """
)


def _study(tmp_path, monkeypatch, pre="", hidden="[3]", frame=None):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    if frame is None:
        frame = pd.DataFrame({"a": rng.normal(size=40), "y": np.arange(40) % 2})
    frame.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "s.yaml").write_text(STUDY.replace("PRE", pre).replace("HIDDEN", hidden))


def _refused(capsys, args, *fragments):
    code = main(["s.yaml", "--dry-run", *args])
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize("pre, key", [("", "preprocessing:"),
                                      ("preprocessing: {scaler: standard}",
                                       "preprocessing.impute:")])
def test_missing_feature_values_without_imputation_name_the_key(tmp_path, monkeypatch,
                                                                capsys, pre, key):
    frame = pd.DataFrame({"a": [1.0, np.nan] * 10, "y": [0, 1] * 10})
    _study(tmp_path, monkeypatch, pre=pre, frame=frame)
    _refused(capsys, [], key, "column 'a' of d.csv has 10 missing value(s) (first in data "
             "row 2)", "mlp_classifier cannot take")


def test_a_text_column_without_preprocessing_names_it(tmp_path, monkeypatch, capsys):
    frame = pd.DataFrame({"a": [1.0, 2.0] * 10, "c": ["x", "y"] * 10, "y": [0, 1] * 10})
    _study(tmp_path, monkeypatch, frame=frame)
    _refused(capsys, [], "data.path: column 'c' of d.csv holds text", "preprocessing:")


@pytest.mark.parametrize("hidden", ["{a: 1}", "true", "[0]", "[3, true]"])
def test_a_hidden_layer_sizes_every_fit_would_refuse_is_refused_first(tmp_path, monkeypatch,
                                                                      capsys, hidden):
    _study(tmp_path, monkeypatch, hidden=hidden)
    _refused(capsys, [], "estimator.params.hidden_layer_sizes: The 'hidden_layer_sizes' "
             "parameter of MLPClassifier must be")


def test_a_searched_hidden_layer_sizes_is_checked_per_choice(tmp_path, monkeypatch, capsys):
    _study(tmp_path, monkeypatch)
    text = (tmp_path / "s.yaml").read_text().replace(
        "{learning_rate_init: [0.01]}", "{hidden_layer_sizes: [[4], {a: 1}]}")
    (tmp_path / "s.yaml").write_text(text)
    _refused(capsys, [], "search.space.hidden_layer_sizes[1]: The 'hidden_layer_sizes'")


@pytest.mark.parametrize("out, fragment", [
    ("file/sub", "--out: file/sub cannot be made: file is a file, not a folder"),
    ("file", "--out: file exists and is not a folder"),
    ("", "--out must not be empty"),
])
def test_an_output_folder_that_cannot_be_made_names_out(tmp_path, monkeypatch, capsys, out,
                                                        fragment):
    _study(tmp_path, monkeypatch)
    (tmp_path / "file").write_text("mine")
    code = main(["s.yaml", "--quiet", "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err, (code, err)
    assert (tmp_path / "file").read_text() == "mine"


def test_an_output_folder_the_system_refuses_is_exit_2_before_any_fit(tmp_path, monkeypatch,
                                                                      capsys):
    _study(tmp_path, monkeypatch)
    code = main(["s.yaml", "--quiet", "--out", "/proc/hpsearch-out"])
    err = capsys.readouterr().err
    assert code == 2 and "the output folder /proc/hpsearch-out cannot be made" in err, err


def test_a_regressor_with_a_classification_metric_is_pointed_to_regression_metrics(
        tmp_path, monkeypatch, capsys):
    _study(tmp_path, monkeypatch)
    text = (tmp_path / "s.yaml").read_text().replace("mlp_classifier", "mlp_regressor")
    (tmp_path / "s.yaml").write_text(text + "scoring: f1\n")
    _refused(capsys, [], "a classification metric cannot score a regressor", "'r2'")
    assert "f1_macro" not in capsys.readouterr().err


def test_a_single_class_target_is_refused_not_scored_perfectly(tmp_path, monkeypatch, capsys):
    """It ran: "best CV accuracy: 1", test accuracy 1, every candidate "good on both"."""
    frame = pd.DataFrame({"a": np.arange(20.0), "y": [0] * 20})
    _study(tmp_path, monkeypatch, frame=frame)
    _refused(capsys, [], "data.target: the target has a single class (0) in its 20 row(s)")


def test_more_folds_than_training_rows_is_refused_by_the_dry_run(tmp_path, monkeypatch, capsys):
    """The dry run printed the plan; the run then failed with exit 1 in its first fit."""
    frame = pd.DataFrame({"a": np.arange(6.0), "y": [0, 1] * 3})
    _study(tmp_path, monkeypatch, frame=frame)
    (tmp_path / "s.yaml").write_text((tmp_path / "s.yaml").read_text().replace("cv: 2", "cv: 5"))
    _refused(capsys, [], "cv: Cannot have number of splits n_splits=5 greater than the number "
             "of samples: n_samples=4")


def test_numbers_with_a_text_cell_get_a_note_on_the_dry_run(tmp_path, monkeypatch, capsys):
    frame = pd.DataFrame({"a": [str(v) for v in range(20)], "y": [0, 1] * 10})
    frame.loc[3, "a"] = "oops"
    _study(tmp_path, monkeypatch, pre="preprocessing: {scaler: standard}", frame=frame)
    assert main(["s.yaml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "note:       column 'a' of d.csv is numbers but for 1 cell(s) that are not (first " \
           "'oops' in data row 4), so it is read as text" in out, out



@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_side_by_side_of_a_30_layer_candidate_draws_without_a_warning(tmp_path):
    """``studies/lecture/deeper_worse.yaml`` printed matplotlib's "Tight layout not
    applied" on the terminal: the 30-layer label filled the legend."""
    import warnings

    from hpsearch import MLPClassifier, plots

    X, y = np.random.default_rng(0).normal(size=(30, 3)), np.arange(30) % 2
    models = {f"hidden_layer_sizes={[32] * n}": MLPClassifier((4,) * n, max_iter=1).fit(X, y)
              for n in (2, 30)}  # (the labels of 32-unit layers, 4-unit nets: fast)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert plots.candidates(models, tmp_path / "c.png").is_file()
    assert plots._compact("hidden_layer_sizes=" + str([32] * 30)) == "hidden_layer_sizes=[32]*30"


def test_a_weak_linear_reference_is_noted_with_the_candidates_it_lets_pass():
    """``studies/lecture/learned_activations.yaml`` (y = |x1| + |x2|): the linear reference
    trains at r2 0.01, so the threshold was -0.09 and ReLU (0.46, PReLU 0.98) was "good on
    both" without a word; the lecture checks the training score first."""
    from hpsearch.diagnostics import diagnose_results

    cv = {"params": [{"activation": a} for a in ("relu", "prelu", "leaky_relu")],
          "mean_train_score": np.array([0.46, 0.98, 0.45]),
          "mean_test_score": np.array([0.45, 0.98, 0.45])}
    weak = {"baseline": {"train_score": 0.0}, "linear": {"train_score": 0.01}}
    r = diagnose_results(cv, references=weak)
    assert r.labels == ["none", "none", "none"]  # the rule is unchanged
    (note,) = r.notes
    assert note.startswith("The linear reference fits the training rows little better than "
                           "the trivial baseline (training score 0.01 vs 0; the best "
                           "candidate 0.98)")
    assert "2 candidate(s) labelled good on training still train far below the best one " \
           "(0.45, 0.46)" in note
    strong = {"baseline": {"train_score": 0.0}, "linear": {"train_score": 0.6}}
    assert diagnose_results(cv, references=strong).notes == []  # (dropout, early stopping)


def test_a_single_split_says_it_measures_no_spread():
    """``studies/splitters/holdout.yaml`` printed "0.9583 ± 0 (std over 1 splits)" and a
    "How sure is this?" table of empty cells without saying why."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from hpsearch import GridSearchCV
    from hpsearch.model_selection import Holdout, compare
    from hpsearch.study import report

    summary = {"n_candidates": 3, "n_splits": 1, "n_fits": 3, "best_std": 0.0}
    assert report._fits_text(summary) == "3 candidates x 1 split = 3 fits"
    assert report._spread_text(summary) == " (one split: no spread measured)"
    assert report._spread_text({**summary, "n_splits": 3}) == " ± 0 (std over 3 splits)"
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(LogisticRegression(max_iter=200), {"C": [0.01, 1.0]},
                          cv=Holdout()).fit(X, y)
    assert "- One split only: no test can say how sure the choice is" in \
        report.how_sure_section(compare(search, top=2))


def test_diagnose_of_a_model_next_to_a_weak_linear_reference_says_so():
    """``python -m hpsearch diagnose studies/lecture/learned_activations.yaml`` said "No
    problem ... Nothing to fix" for a ReLU net at training r2 0.49 on y = |x1| + |x2|:
    its threshold (-0.04) came from a linear reference at r2 0.01."""
    from hpsearch.diagnostics import Diagnosis

    evidence = {"scoring": "r2", "train_score": 0.489, "validation_score": 0.442,
                "gap": 0.047, "train_threshold": -0.038, "gap_threshold": 0.049,
                "baseline_train": 0.0, "linear_train": 0.011}
    text = str(Diagnosis("none", [], evidence, []))
    assert text.startswith("No problem: the training r2 0.489 is good")
    assert "Note: the linear reference fits the training rows little better than the trivial " \
           "baseline (0.011 vs 0.000)" in text
    strong = str(Diagnosis("none", [], {**evidence, "linear_train": 0.4}, []))
    assert "Note:" not in strong


def test_the_diagnosis_gives_the_best_candidates_verdict_and_next_step(tmp_path):
    """The section counted labels only; ``studies/lecture/dropout.yaml``'s best (p=0.5,
    training 0.62, validation 0.46) overfits, ``deeper_worse.yaml``'s (training 0.906,
    below 0.909) trains poorly: neither report said so, nor what the recipe asks next."""
    from hpsearch.diagnostics import report_section

    refs = {"baseline": {"train_score": 0.1}, "linear": {"train_score": 1.0}}
    cv = {"params": [{"a": 1}, {"a": 2}], "mean_train_score": np.array([1.0, 0.5]),
          "mean_test_score": np.array([0.8, 0.49]), "rank_test_score": np.array([1, 2])}
    text = report_section(cv, tmp_path, references=refs, label="accuracy")
    assert "- the best candidate (rank 1) is 'overfitting': training accuracy 1, validation " \
           "0.8; the recipe's next step: more regularization (early stopping" in text
    cv["mean_train_score"] = np.array([0.85, 0.5])
    text = report_section(cv, tmp_path, references=refs)
    assert "(rank 1) is 'training': training score 0.85, validation 0.8; the recipe's next " \
           "step: optimize first" in text


def test_a_random_search_asking_more_than_its_list_space_holds_is_planned_as_it_runs(
        tmp_path, monkeypatch, capsys):
    """``n_iter: 10`` over ``[0.01, 0.1]``: the dry run planned 10 candidates and 20 fits,
    the run fitted 2 and 4, printing scikit-learn's warning about ``n_iter`` with its
    source path (a halving search's ``n_candidates`` was called ``n_iter`` too)."""
    _study(tmp_path, monkeypatch)
    text = (tmp_path / "s.yaml").read_text().replace(
        "{method: grid, space: {learning_rate_init: [0.01]}}",
        "{method: random, n_iter: 10, space: {learning_rate_init: [0.01, 0.1]}}")
    (tmp_path / "s.yaml").write_text(text)
    assert main(["s.yaml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "note:       search.n_iter: 10 candidates asked, but the space (lists only) " \
           "holds 2" in out
    assert "candidates: 2\n" in out and "fits:       4 (+1 refit)" in out


def test_a_halving_search_that_never_reaches_max_resources_says_so(tmp_path, monkeypatch,
                                                                   capsys):
    """2 candidates at factor 3 make one round at min_resources: the best was refit at 1
    epoch of the 9 asked, the plan saying only "+1 refit at 1 epochs"."""
    _study(tmp_path, monkeypatch)
    text = (tmp_path / "s.yaml").read_text().replace(
        "{method: grid, space: {learning_rate_init: [0.01]}}",
        "{method: halving, n_candidates: 2, min_resources: 1, max_resources: 9, factor: 3,"
        " space: {learning_rate_init: [0.01, 0.1]}}").replace("max_iter: 2", "max_iter: 9")
    (tmp_path / "s.yaml").write_text(text)
    assert main(["s.yaml", "--dry-run"]) == 0
    assert "note:       search.max_resources: 9 is not reached: 2 candidate(s) at factor 3 " \
           "make 1 round(s), the last at 1 epochs" in capsys.readouterr().out


def test_a_subset_too_small_to_split_is_named(tmp_path, monkeypatch, capsys):
    """``data.subset: 8`` of iris: the error blamed data.test_size alone."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        "data: {dataset: iris, subset: 8}\nestimator: {name: logistic_regression}\n"
        "search: {method: grid, space: {C: [1.0]}}\ncv: 2\n")
    _refused(capsys, [], "data.test_size: ", "(of the 8 rows data.subset keeps: a larger "
             "subset may do)")


def test_a_regression_metric_on_class_labels_gets_a_note(tmp_path, monkeypatch, capsys):
    """``scoring: r2`` for a classifier of iris ran without a word: r2 of labels 0, 1, 2."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        "data: {dataset: iris}\nestimator: {name: logistic_regression}\n"
        "search: {method: grid, space: {C: [1.0]}}\ncv: 2\nscoring: r2\n")
    assert main(["s.yaml", "--dry-run"]) == 0
    assert "note:       scoring: 'r2' is a regression metric: on the 3 class labels" in \
        capsys.readouterr().out


def test_score_vs_a_categorical_parameter_labels_every_category(tmp_path, monkeypatch):
    """``deeper_worse``'s plot of hidden_layer_sizes had no label under the 30-layer net:
    its tick fell outside the limits the jittered points set, and the tuple was too long."""
    from hpsearch import plots

    seen = {}
    save = plots._save

    def keep(fig, path):
        ax = fig.axes[0]
        seen["lim"], seen["ticks"] = ax.get_xlim(), list(ax.get_xticks())
        seen["labels"] = [t.get_text() for t in ax.get_xticklabels()]
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    sizes = [(32, 32), (32,) * 6, (32,) * 30]
    cv = {"params": [{"h": s} for s in sizes], "mean_test_score": np.array([0.88, 0.85, 0.27]),
          "rank_test_score": np.array([1, 2, 3])}
    plots.param_effect(cv, "h", tmp_path / "p.png")
    assert seen["labels"] == ["(32, 32)", "(32)*6", "(32)*30"]
    assert all(seen["lim"][0] < t < seen["lim"][1] for t in seen["ticks"])
