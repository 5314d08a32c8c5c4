"""ASHA and multi-process searches run from study files, under hostile use: bad values of
every ``search`` key of ``method: asha``, a resumed study whose file was edited, storage
settings from a stranger, several processes on one storage and output folder."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _study_files import GRID_STUDY

from hpsearch.cli import main

ROOT = Path(__file__).resolve().parents[1]

STUDY = textwrap.dedent(
    """\
    name: tiny_asha
    seed: 0
    data: {dataset: digits, subset: 150}
    estimator:
      name: mlp_classifier
      params: {hidden_layer_sizes: [4], batch_size: 64}
    search:
      method: asha
      n_trials: 4
      resource: epochs
      min_resources: 1
      max_resources: 3
      factor: 3
      space:
        learning_rate_init: {type: float, low: 1e-3, high: 1e-1, log: true}
    cv: 2
    scoring: accuracy
    n_jobs: 1
    """
)


def _write(tmp_path, text=STUDY, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("key, value, expected", [
    ("min_resources", "0", "search.min_resources: must be >= 1, got 0"),
    ("min_resources", "2.5", "search.min_resources: must be a positive integer, 'smallest' or "
                           "'exhaust', got 2.5"),
    ("min_resources", "true", "search.min_resources: must be a positive integer, "
                              "'smallest' or 'exhaust', got true"),
    ("max_resources", "0", "search.max_resources: must be >= 1, got 0"),
    ("max_resources", ".inf", "search.max_resources: must be a positive integer or 'auto', "
                              "got inf"),
    ("max_resources", "[3]", "search.max_resources: must be a positive integer or 'auto', "
                             "got [3]"),
])
def test_a_bad_budget_value_names_its_key_once(tmp_path, capsys, key, value, expected):
    """A union key (a number or a word) gave two errors whose key paths held pydantic's
    branch names: ``search.min_resources.literal['smallest','exhaust']: ...`` and
    ``search.min_resources.constrained-int: ...``."""
    text = STUDY.replace(f"  {key}: ", f"  {key}: {value}  # was ")
    rc = main([str(_write(tmp_path, text)), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert expected in err, err
    assert "literal" not in err and "constrained" not in err, err
    assert err.count("search.") == 1, err
    assert not (tmp_path / "out").exists()


def test_resuming_an_edited_study_names_the_yaml_key_and_keeps_the_copy(tmp_path, capsys):
    """A resumed study whose file now asks for another estimator / scoring / cv was
    refused as "run failed: ValueError: The 'estimator' parameter of ASHASearchCV ..."
    (exit 1, the Python parameter, no --overwrite), and the copy of the study file in the
    run folder was already replaced by the edited file whose resume was refused."""
    out = tmp_path / "out"
    study = _write(tmp_path)
    assert main([str(study), "--out", str(out), "--quiet"]) == 0
    copy = (out / "study.yaml").read_text()
    trials = (out / "cv_results.csv").read_text()
    edits = [
        (("hidden_layer_sizes: [4]", "hidden_layer_sizes: [5]"),
         "estimator.params.hidden_layer_sizes: ", "was [4], got [5]"),
        (("scoring: accuracy", "scoring: balanced_accuracy"),
         "scoring: ", "was 'accuracy', got 'balanced_accuracy'"),
        (("cv: 2", "cv: 3"), "cv: ", "was 2, got 3"),
        # another kind of search (a halving would read the ASHA's trials as its own)
        (("method: asha\n  n_trials: 4\n", "method: halving\n"), "search.method: ",
         "was 'asha', got 'halving'"),
    ]
    for (old, new), key, values in edits:
        study.write_text(STUDY.replace(old, new))
        rc = main([str(study), "--out", str(out), "--quiet", "--resume"])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert f"error in {study}: {key}" in err, err
        assert values in err and "--overwrite" in err and "study_name" in err, err
        assert "ValueError" not in err, err
        assert (out / "study.yaml").read_text() == copy  # the copy of the run it resumes
        assert (out / "cv_results.csv").read_text() == trials


GRID = GRID_STUDY


@pytest.mark.parametrize("storage, expected", [
    ("postgresql://u:secret@10.1.2.3:5432/db",
     "storage: a database server named in a study file must be on this machine "
     "(localhost, 127.0.0.1, ::1), not '10.1.2.3'; use --storage on the command line for "
     "any other store, got 'postgresql://u:***@10.1.2.3:5432/db'"),
    ("mysql+pymysql://u@example.com/db", "not 'example.com'"),
    ("postgresql://u@/db?host=example.com", "may carry no query options"),
    ("sqlite:///file:/tmp/hpsearch-evil.db?mode=rwc&uri=true", "may carry no query options"),
    ("postgresql://u@[zz/db", "storage: not a database URL"),
])
def test_a_storage_url_from_a_study_file_stays_on_this_machine(tmp_path, capsys,
                                                                storage, expected):
    """Only files were checked: any URL was accepted, so a stranger's study file could
    send the study to a remote database server, or have SQLite open an absolute path
    through a ``file:`` URI (``?uri=true``)."""
    study = _write(tmp_path, GRID + f"storage: {storage!r}\n")
    rc = main([str(study), "--out", str(tmp_path / "out"), "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"error in {study}: storage: " in err and expected in err, err
    assert "secret" not in err


@pytest.mark.parametrize("storage", ["postgresql://u@localhost/db",
                                     "postgresql://u@127.0.0.1:5432/db", "sqlite://",
                                     "sqlite:///:memory:", "sqlite:///inside.db",
                                     "inside.jsonl"])
def test_a_local_storage_from_a_study_file_passes_the_check(storage):
    from hpsearch.study.limits import check_study
    from hpsearch.study.loader import validate

    check_study(validate(__import__("yaml").safe_load(GRID + f"storage: {storage!r}\n"),
                         {}, "s.yaml"))


def test_any_storage_on_the_command_line_is_the_users_choice(tmp_path, capsys):
    study = _write(tmp_path, GRID + "storage: postgresql://u@example.com/db\n")
    rc = main([str(study), "--out", str(tmp_path / "out"), "--dry-run",
               "--storage", str(tmp_path / "mine.db")])
    assert rc == 0, capsys.readouterr().err


def test_ctrl_c_while_writing_the_output_leaves_whole_files_and_resume_completes(
        tmp_path, monkeypatch, capsys):
    """Ctrl-C (or SIGTERM, the same exception) in the middle of writing model.joblib of
    a resumed run: the file was written in place, so the run folder kept half a pickle
    (joblib.load failed). The files are now written aside and moved in whole; a later
    --resume writes the same output as the uninterrupted run."""
    import json

    import joblib

    out = tmp_path / "out"
    study = _write(tmp_path)
    args = [str(study), "--out", str(out), "--quiet"]
    assert main(args) == 0
    before = {f: (out / f).read_bytes() for f in ("results.csv", "cv_results.csv",
                                                  "best_params.json")}
    summary = json.loads((out / "summary.json").read_text())

    def torn_dump(value, filename, *a, **k):
        Path(filename).write_bytes(b"\x80\x04half a pickle")
        raise KeyboardInterrupt

    monkeypatch.setattr(joblib, "dump", torn_dump)
    assert main([*args, "--resume"]) == 130
    joblib.load(out / "model.joblib")  # the earlier run's model, whole
    assert json.loads((out / "summary.json").read_text()) == summary
    assert not list(out.glob(".hpsearch-writing-*"))
    assert "# Study" in (out / "report.md").read_text()
    monkeypatch.undo()
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    joblib.load(out / "model.joblib")
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name
    again = json.loads((out / "summary.json").read_text())
    this_run = ("fit_time_s", "n_fits_run")  # the resume fitted none of the 10 fits
    assert (again["n_fits_run"], summary["n_fits_run"]) == (0, 10)
    assert {k: v for k, v in again.items() if k not in this_run} == {
        k: v for k, v in summary.items() if k not in this_run}
    assert not list(out.glob(".hpsearch-writing-*"))


def test_processes_resuming_one_study_together_write_one_whole_result_set(tmp_path):
    """Two ``python -m hpsearch s.yaml --resume`` started together on one storage and one
    output folder: both end 0, every candidate is fitted once, and the output files
    (written by both at about the same time) are whole and agree."""
    import json

    import optuna
    import pandas as pd

    _write(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-m", "hpsearch", "s.yaml", "--resume"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    best = {line for out, _ in outputs for line in out.splitlines()
            if line.startswith("best params")}
    assert len(best) == 1, outputs  # one result set
    run = tmp_path / "runs" / "tiny_asha"
    study = optuna.load_study(study_name="tiny_asha", storage=f"sqlite:///{run / 'study.db'}")
    done = [t for t in study.get_trials(deepcopy=False)
            if not t.user_attrs.get("hpsearch_duplicate")]
    assert len({json.dumps(t.params, sort_keys=True) for t in done}) == len(done) == 4
    cv = pd.read_csv(run / "cv_results.csv")
    assert len({p for p in cv["params"]}) == 4
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_candidates"] == 4
    assert "# Study" in (run / "report.md").read_text()
    assert json.loads((run / ".hpsearch-run").read_text())["files"]
    assert not list(run.glob(".hpsearch-writing-*"))


@pytest.mark.parametrize("method", ["asha", "halving", "hyperband"])
def test_a_sample_budget_above_the_rows_is_refused(tmp_path, capsys, method):
    """``resource: n_samples`` with ``max_resources: 1000`` on 120 training rows ran
    rungs of 111, 333 and 1000 "samples", each on the same 60 rows of a split, and the
    report said 1000 samples were trained."""
    text = (STUDY.replace("resource: epochs", "resource: n_samples")
            .replace("min_resources: 1", "min_resources: 20")
            .replace("max_resources: 3", "max_resources: 1000"))
    if method != "asha":
        text = text.replace("method: asha", f"method: {method}").replace("  n_trials: 4\n", "")
    rc = main([str(_write(tmp_path, text)), "--out", str(tmp_path / "out"), "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert ("search.max_resources: with resource 'n_samples' must be <= the 120 rows the "
            "search trains on (the data less its test_size part), got 1000") in err, err


@pytest.mark.parametrize("setting, old, new, key, values", [
    ("factor", "factor: 3", "factor: 2", "search.factor: ", "was 3, got 2"),
    ("n_resources", "max_resources: 3", "max_resources: 9", "search.max_resources: ",
     "was 3, got 9"),
    ("param_distributions", "high: 1e-1", "high: 0.5",
     "search.space.learning_rate_init.high: ", "was 0.1, got 0.5"),
    ("n_trials", "n_trials: 4", "n_trials: 4", "search.n_trials: ", "n_trials"),
])
def test_a_process_joining_a_shared_asha_with_other_settings_is_named_by_its_key(
        tmp_path, setting, old, new, key, values):
    """A process joining a running shared ASHA with another space, factor, rungs or
    n_trials raised ValueError("The 'factor' parameter of ASHASearchCV must be the same
    in every process ...") which the CLI printed as 'run failed' (exit 1). It is a
    StudyMismatch now, which a study file reports by the key that differs (exit 2)."""
    from types import SimpleNamespace

    from hpsearch.model_selection.store import StudyMismatch
    from hpsearch.study.errors import StudyError
    from hpsearch.study.runner import _mismatch_error

    plan = SimpleNamespace(out=tmp_path, study_name="tiny_asha", storage="sqlite:///x.db")
    exc = StudyMismatch(f"The {setting!r} parameter of ASHASearchCV must be the same", setting)
    error = _mismatch_error(exc, plan, STUDY, STUDY.replace(old, new))
    assert isinstance(error, StudyError)
    assert str(error).startswith(key) and values in str(error), str(error)
    assert "--overwrite" in str(error) and "study_name" in str(error)



def test_processes_started_together_without_resume_are_told_to_use_it(
        tmp_path, monkeypatch, capsys):
    """Three processes started at once without --resume: each saw an empty store, one
    created the study, and the others ended 'run failed: ValueError: A study named ...
    already exists ... Pass resume=True' (exit 1, a Python parameter). Simulated here by
    creating the study between the run's check of the store and its search's start."""
    import optuna

    from hpsearch.study import runner

    prepare = runner.prepare_output

    def and_another_process_starts(plan, **kwargs):
        removed = prepare(plan, **kwargs)
        optuna.create_study(study_name=plan.study_name, storage=plan.storage)
        return removed

    monkeypatch.setattr(runner, "prepare_output", and_another_process_starts)
    rc = main([str(_write(tmp_path)), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "another process started this study at the same time" in err, err
    assert "--resume" in err and "ValueError" not in err, err


@pytest.mark.parametrize("name", ["app.log", "notes.db"])
def test_a_storage_file_that_is_not_a_trial_store_is_refused(tmp_path, monkeypatch, capsys,
                                                             name):
    """``storage: app.log`` naming a user's own file in the working directory ended
    'run failed: JSONDecodeError: Expecting value' / 'DatabaseError: file is not a
    database' (exit 1); it is refused by its key and left as it was."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text("important line 1\nimportant line 2\n")
    study = _write(tmp_path, GRID + f"storage: {name}\n")
    rc = main([str(study), "--out", "out", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert (f"storage: {name} exists and is neither a SQLite database nor an Optuna "
            "journal") in err, err
    assert (tmp_path / name).read_text() == "important line 1\nimportant line 2\n"


def test_an_empty_or_journal_storage_file_is_used(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "search.log").write_text("")
    study = _write(tmp_path, GRID + "storage: search.log\n")
    assert main([str(study), "--out", "out", "--quiet"]) == 0
    assert main([str(study), "--out", "out", "--quiet", "--resume"]) == 0


def test_dry_run_says_the_asha_plan_is_the_tied_case(tmp_path, capsys):
    # was: "fits:       10 (+1 refit at 3 epochs)" as if exact; ASHA promotes on the
    # scores of the moment (an iris run planned 39 fits and ran 45)
    rc = main([str(_write(tmp_path)), "--out", str(tmp_path / "out"), "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "fits:       about 10 (+1 refit at 3 epochs): the count when every score ties" \
        in out, out
