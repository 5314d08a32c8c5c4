"""A study file from a stranger (third pass): holes a hostile pass over ``python -m
hpsearch study.yaml`` found, each now refused before any work with exit code 2 and a
message naming the key, the rule and the value (or run as the file asks):

* a grid over ``{type: float, low: 0.1, high: 1, step: 1e-12}`` listed its 9e11 values
  under ``--dry-run`` (a MemoryError after minutes; a run refused it by count);
* ``storage: 'sqlite://'`` (SQLite in memory, as ``sqlite:///:memory:``) was refused as
  "the trial store . is the output folder ... or a folder above it";
* ``tol: 1000...`` (an integer of 400 digits) passed scikit-learn's check, then every fit
  failed: "run failed: OverflowError: int too large to convert to float", exit 1;
* the run folder deleted during the search was "moved or replaced ... put the run folder
  back and resume", or "StorageInternalError: ... e.g. exceeding max length" with a
  "resume with" line for a store deleted with it;
* ``cv: {<<: 3}`` (a merge key of no mapping) was "YAML tag '?' is not allowed";
* ``inf`` in the data file: every fit failed, "run failed: ValueError: Input X contains
  infinity", exit 1;
* ``racing: true`` with too few splits raced nothing, with a UserWarning in the Python
  API's words;
* a ``--smoke`` run resumed without ``--smoke``: "resume with the study file it ran on";
* 1,000 candidates x 1,001 splits (each within its own limit) ran without finishing a
  candidate; 100,000 x 10,000 ended in a MemoryError.

The CLI runs in this process (``hpsearch.cli.main``), in ``tmp_path``.
"""

import resource
import textwrap

import pytest
from _study_files import GRID_STUDY

from hpsearch.cli import main

LOGISTIC = textwrap.dedent(
    """\
    data: {dataset: iris}
    estimator: {name: logistic_regression, params: {max_iter: 50}}
    search:
      method: grid
      space:
        C: [0.1, 1.0]
    cv: 2
    """
)


def _run(tmp_path, monkeypatch, text, *args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(text)
    return main(["s.yaml", "--quiet", *args])


@pytest.mark.parametrize("args", [("--dry-run",), ()])
def test_a_float_step_grid_of_a_trillion_values_is_refused_without_listing_them(
        tmp_path, monkeypatch, capsys, args):
    text = GRID_STUDY.replace("n_neighbors: [1, 3]",
                              "n_neighbors: [1, 3]\n    leaf_size: [30]\n"
                              "    p: {type: float, low: 1.0, high: 2.0, step: 1e-12}")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    used = int(next(line.split()[1] for line in open("/proc/self/status")
                    if line.startswith("VmSize:"))) * 1024
    cap = used + 4 * 2**30  # a regression: a MemoryError, not the machine's memory used up
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY
                                            else min(cap, hard), hard))
    try:
        rc = _run(tmp_path, monkeypatch, text, *args)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    err = capsys.readouterr().err
    assert rc == 2, err
    # (--dry-run: the dimension's 1,000,000,000,001 values; a run: the grid's count)
    assert "error in s.yaml: search.space" in err and ",000,000,000,00" in err, err
    assert "MemoryError" not in err


def test_a_sqlite_store_in_memory_runs_as_the_file_asks(tmp_path, monkeypatch, capsys):
    rc = _run(tmp_path, monkeypatch, GRID_STUDY + "storage: 'sqlite://'\n")
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "is the output folder" not in err
    assert len(list(tmp_path.glob("runs/*/results.csv"))) == 1


@pytest.mark.parametrize("where", ["estimator.params.tol", "search.space.tol"])
def test_an_integer_beyond_a_float_names_its_key_before_any_fit(tmp_path, monkeypatch,
                                                                capsys, where):
    huge = "1" + "0" * 400
    text = (LOGISTIC.replace("max_iter: 50}", f"max_iter: 50, tol: {huge}}}")
            if where.startswith("estimator") else
            LOGISTIC.replace("C: [0.1, 1.0]", f"C: [0.1, 1.0]\n    tol: [0.001, {huge}]"))
    rc = _run(tmp_path, monkeypatch, text)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"{where}: must hold numbers a 64-bit float can hold" in err
    assert "integer of 401 digits" in err and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("guarded", [True, False])
def test_a_run_folder_deleted_during_the_search_is_named_and_no_resume_is_offered(
        tmp_path, monkeypatch, capsys, guarded):
    """``rm -rf`` of the run folder during the search: the run said "moved or replaced
    ... put the run folder back and resume with --resume", or, when SQLite met the
    deleted store first, "run failed: StorageInternalError: An exception is raised
    during the commit ... e.g. exceeding max length" and "resume with: ...": the fits
    were in the deleted study.db. (``guarded=False``: the check of the store's every
    use is passed, as when the folder goes between the check and SQLite's write.)"""
    import contextlib
    import shutil

    from hpsearch.study import runner

    fit = runner._fit

    def deleting_fit(plan, *args):
        shutil.rmtree(plan.out)
        return fit(plan, *args)

    monkeypatch.setattr(runner, "_fit", deleting_fit)
    if not guarded:
        monkeypatch.setattr(runner, "guard_store", lambda plan, hold: contextlib.nullcontext())
    rc = _run(tmp_path, monkeypatch, GRID_STUDY, "--out", "out")
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "FolderReplaced: the run folder out was deleted while the run was going" in err
    assert "resume with" not in err and "StorageInternalError" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("merge, key", [("3", "cv.<<"), ("[1]", "cv.<<[0]")])
def test_a_merge_key_of_no_mapping_is_invalid_yaml_not_a_tag(tmp_path, monkeypatch, capsys,
                                                             merge, key):
    """``cv: {<<: 3, method: kfold}`` was "YAML tag '?' is not allowed: a study file holds
    plain data only (no Python objects ...)": no tag was written."""
    text = GRID_STUDY.replace("cv: 3", f"cv: {{<<: {merge}, method: kfold}}")
    rc = _run(tmp_path, monkeypatch, text, "--dry-run")
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"error in s.yaml: {key}: invalid YAML: while constructing a mapping expected a " \
           "mapping" in err and "for merging, but found scalar (line 7)" in err, err
    assert "tag" not in err


@pytest.mark.parametrize("target, key", [("y", "data.path"), ("a", "data.target")])
def test_an_infinite_value_in_the_data_names_its_column_and_row(tmp_path, monkeypatch,
                                                                 capsys, target, key):
    """``inf`` (or ``1e999``, read as it) in a data file: every fit failed and the run
    ended "run failed: ValueError: Input X contains infinity or a value too large for
    dtype('float64')", exit 1, after the whole search."""
    rows = [f"{i % 7 * 0.5},{i % 5},{i % 2}" for i in range(20)]
    rows[3] = "1e999,1,1"
    (tmp_path / "d.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    text = LOGISTIC.replace("{dataset: iris}", f"{{path: d.csv, target: {target}}}")
    rc = _run(tmp_path, monkeypatch, text)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"error in s.yaml: {key}: column 'a' of d.csv has 1 infinite value(s) (first in " \
           "data row 4: inf), which no estimator can fit on" in err, err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("extra, cv, key, got", [
    ("", 2, "search.racing", "got true"),
    ("\n  racing_min_splits: 1000000000", 3, "search.racing_min_splits", "got 1000000000"),
])
def test_racing_that_cannot_race_names_its_key(tmp_path, monkeypatch, capsys, extra, cv,
                                               key, got):
    """``racing: true`` with ``cv: 2`` (racing starts after 3 splits) ran every candidate
    on every split, with the search's UserWarning "... set racing_min_splits below 2,
    use more splits, or racing=False" (the Python API's words, its file and line)."""
    text = (LOGISTIC.replace("method: grid", f"method: grid\n  racing: true{extra}")
            .replace("cv: 2", f"cv: {cv}"))
    rc = _run(tmp_path, monkeypatch, text)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"error in s.yaml: {key}: racing stops a candidate only after " in err, err
    assert f"and cv has {cv}: every candidate would be fitted on every split" in err
    assert got in err and "UserWarning" not in err


def test_resuming_a_smoke_run_without_smoke_says_so(tmp_path, monkeypatch, capsys):
    """A ``--smoke`` run (``max_iter`` cut to 4) resumed without ``--smoke``: refused, as
    its fits must not mix, but told to "resume with the study file it ran on", the very
    file given."""
    assert _run(tmp_path, monkeypatch, LOGISTIC, "--smoke") == 0
    capsys.readouterr()
    assert main(["s.yaml", "--quiet", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "the study file is the one it ran on, but that run was a --smoke run" in err, err
    assert "resume it with --smoke" in err and "resume with the study file" not in err
    assert main(["s.yaml", "--quiet", "--resume", "--smoke"]) == 0
    capsys.readouterr()
    assert main(["s.yaml", "--quiet", "--overwrite"]) == 0
    assert main(["s.yaml", "--quiet", "--resume", "--smoke"]) == 2
    err = capsys.readouterr().err
    assert "but this run has --smoke (a reduced budget, other fits): resume without" in err, err


@pytest.mark.parametrize("search, key", [("method: random\n  n_iter: 1000", "search.n_iter"),
                                         ("method: optuna\n  n_trials: 1000",
                                          "search.n_trials")])
def test_candidates_times_splits_beyond_the_limit_names_the_key_before_any_fit(
        tmp_path, monkeypatch, capsys, search, key):
    """``n_iter: 100000`` with ``cv: {method: monte_carlo, n_splits: 10000}``, each within
    its own limit, ended in a MemoryError; 10,000 x 1,000 held 1.7 GB and ran for minutes
    without a fit."""
    text = (LOGISTIC.replace("method: grid", search)
            .replace("C: [0.1, 1.0]", "C: {type: float, low: 0.1, high: 1.0}")
            .replace("cv: 2", "cv: {method: monte_carlo, n_splits: 1001, test_size: 0.5}"))
    rc = _run(tmp_path, monkeypatch, text)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert (f"error in s.yaml: {key}: 1,000 candidates x 1,001 splits of cv make 1,001,000 "
            "fits, more than the limit of 1,000,000") in err, err
    assert not (tmp_path / "runs").exists()


def test_a_full_trial_store_is_explained_in_the_cli_words():
    """A trial store the disk refused: the CLI's line says the fits are kept, and its
    "resume with" line says how to go on (was: "... free space, then run the search
    again with resume=True", the Python API's words, above "resume with: ... --resume")."""
    import errno

    from hpsearch.cli import _explain
    from hpsearch.model_selection.store import write_failure

    exc = write_failure("/data/store.log", errno.ENOSPC, "No space left on device")
    line = _explain(exc, None)
    assert "resume=True" not in line
    assert line.endswith("cannot write /data/store.log (No space left on device; the fits "
                         "recorded before are kept)"), line
    assert "run the search again with resume=True" in str(exc)  # the Python API's words


@pytest.mark.parametrize("method", ["halving", "hyperband", "asha"])
def test_a_smoke_run_of_a_search_budgeted_in_samples_runs(tmp_path, monkeypatch, capsys,
                                                          method):
    """``--smoke`` capped every budget at 4, also ``resource: n_samples``: below the
    search's own smallest budget (18 samples here), so the smoke run of any such study
    failed, blaming ``search.min_resources``, a key the file did not set. The samples
    keep their budget; the smoke run still fits only a few candidates."""
    text = textwrap.dedent(f"""\
        data: {{dataset: iris}}
        estimator: {{name: knn_classifier}}
        search:
          method: {method}
          resource: n_samples
          space:
            n_neighbors: {{type: int, low: 1, high: 10}}
        cv: 3
        """)
    rc = _run(tmp_path, monkeypatch, text, "--smoke")
    assert rc == 0, capsys.readouterr().err
    import pandas as pd

    res = pd.read_csv(tmp_path / "runs" / "s" / "cv_results.csv")
    assert res["params"].nunique() <= 4
    assert res["n_resources"].max() > 4  # rounds on more samples than 4
