"""Nothing lost, nothing harmed: the trial store a study file (or ``--storage``) names.

Holes found:

* ``storage: x.db`` (or ``x.log``), a hard link to an empty ``pkg/__init__.py`` of the
  working directory (a tar archive of a study extracts such links), passed every rule: the
  run made the Python file a SQLite database (exit 0). The rule on links checked only
  symbolic ones. A store file with other names is refused now when the study file names
  it, or when it is empty (nothing of a store in it yet);
* a storage that is a named pipe (``mkfifo x.log``) hung the run for good once the search
  opened its journal, SIGTERM included (the open never returned); named as a SQLite file
  (``x.db``) it failed the run after the data was read, "disk I/O error ... free space";
  a folder with "cannot open the trial store x.db: its directory does not exist or is not
  writable", and so did a folder at a name of SQLite's files next to it
  (``x.db-journal/``; ``x.db-wal/``: "disk I/O error ... free space"). Each is refused
  first;
* ``--overwrite`` of a study file naming the user's own Optuna study (``storage: x.db``,
  ``study_name: exp``, made by ``optuna.create_study``, no hpsearch record in it) deleted
  that study and its trials (exit 0), though the refusal without it said "--overwrite to
  replace it (only hpsearch's own files are removed)". Refused now, naming the trials;
* ``--overwrite`` wrote over a user's own file in the run folder of a name no earlier run
  wrote but this one does (``plots/param_weights.png``, the study now searching
  ``weights``): only files of names a run had recorded were checked. A plain run and
  ``--resume`` refused it already;
* ``output: o.db`` with ``storage: o.db`` (or ``output: o.db/run``) made the folder
  ``o.db`` (its marker and lock file in it) and then failed on the store. Refused first.

Kept as it was: an existing empty file is a new, empty store, as Optuna itself takes one
(``optuna.create_study(storage="sqlite:///empty.db")`` makes its tables in it; a journal
likewise): nothing is lost writing into it, and ``--resume`` of it says there is nothing
to resume.
"""

import os

import pytest
from _study_files import GRID_STUDY

from hpsearch.cli import main


def _run(tmp_path, monkeypatch, capsys, extra, *args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY + extra)
    code = main(["s.yaml", "--quiet", *args])
    return code, capsys.readouterr()


@pytest.mark.parametrize("name", ["x.db", "x.log"])
@pytest.mark.parametrize("option", [False, True])
def test_a_store_hard_linked_to_an_empty_file_is_refused(tmp_path, monkeypatch, capsys,
                                                         name, option):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_bytes(b"")
    os.link(tmp_path / "pkg" / "__init__.py", tmp_path / name)
    args = ("--storage", name) if option else ()
    code, cap = _run(tmp_path, monkeypatch, capsys, "" if option else f"storage: {name}\n",
                     *args)
    assert code == 2, cap.err
    assert f"{name} is a file with 2 names (hard links)" in cap.err, cap.err
    assert ("error in s.yaml: storage:" in cap.err) != option, cap.err
    assert (tmp_path / "pkg" / "__init__.py").read_bytes() == b""
    assert not (tmp_path / "runs").exists()


def test_a_store_of_a_study_file_with_other_names_is_refused(tmp_path, monkeypatch, capsys):
    # a real store, but its other name is outside the study's reach (here: one level up)
    (tmp_path / "cwd").mkdir()
    code, _ = _run(tmp_path / "cwd", monkeypatch, capsys, "", "--storage", "mine.db")
    assert code == 0
    before = (tmp_path / "cwd" / "mine.db").read_bytes()
    (tmp_path / "work").mkdir()
    os.link(tmp_path / "cwd" / "mine.db", tmp_path / "work" / "x.db")
    code, cap = _run(tmp_path / "work", monkeypatch, capsys, "study_name: other\n"
                     "storage: x.db\n")
    assert code == 2 and "storage: x.db is a file with 2 names" in cap.err, cap.err
    assert (tmp_path / "cwd" / "mine.db").read_bytes() == before


@pytest.mark.parametrize("name, make, what", [
    ("x.log", os.mkfifo, "a named pipe (FIFO)"),
    ("x.db", os.mkfifo, "a named pipe (FIFO)"),
    ("x.db", os.mkdir, "a folder"),
])
@pytest.mark.parametrize("option", [False, True])
def test_a_store_that_is_no_file_is_refused_first(tmp_path, monkeypatch, capsys, name, make,
                                                  what, option):
    make(tmp_path / name)
    args = ("--storage", name) if option else ()
    code, cap = _run(tmp_path, monkeypatch, capsys, "" if option else f"storage: {name}\n",
                     *args)
    assert code == 2, cap.err
    assert f"{name} exists and is {what}, not a file" in cap.err, cap.err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("side", ["x.db-journal", "x.db-wal"])
def test_a_folder_at_a_file_sqlite_keeps_next_to_the_store_is_refused_first(
        tmp_path, monkeypatch, capsys, side):
    (tmp_path / side).mkdir()
    code, cap = _run(tmp_path, monkeypatch, capsys, "storage: x.db\n")
    assert code == 2, cap.err
    assert f"storage: {side} exists and is a folder, where SQLite keeps a file" in cap.err, \
        cap.err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("name", ["x.db", "x.log"])
def test_an_empty_store_file_is_a_new_store_and_resumes(tmp_path, monkeypatch, capsys, name):
    (tmp_path / name).write_bytes(b"")
    code, cap = _run(tmp_path, monkeypatch, capsys, f"storage: {name}\n")
    assert code == 0, cap.err
    assert (tmp_path / name).stat().st_size > 0
    code, cap = _run(tmp_path, monkeypatch, capsys, f"storage: {name}\n", "--resume")
    assert code == 0, cap.err


@pytest.mark.parametrize("enqueued", [False, True])
def test_overwrite_does_not_delete_a_study_hpsearch_did_not_make(tmp_path, monkeypatch,
                                                                 capsys, enqueued):
    import optuna

    storage = f"sqlite:///{tmp_path / 'x.db'}"
    study = optuna.create_study(study_name="exp", storage=storage, direction="maximize")
    if enqueued:
        study.enqueue_trial({"n_neighbors": 3})
    else:
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    code, cap = _run(tmp_path, monkeypatch, capsys, "storage: x.db\nstudy_name: exp\n",
                     "--overwrite")
    assert code == 2, cap.err
    n = 1 if enqueued else 3
    assert f"--overwrite refused: study 'exp' in the trial store x.db holds {n} trial(s) " \
           "that no hpsearch search made" in cap.err, cap.err
    kept = optuna.load_study(study_name="exp", storage=storage).trials
    assert len(kept) == n and "n_neighbors" not in (kept[0].params if not enqueued else {})
    if enqueued:  # the study made to enqueue trials is still resumed
        code, cap = _run(tmp_path, monkeypatch, capsys, "storage: x.db\nstudy_name: exp\n",
                         "--resume")
        assert code == 0, cap.err
        code, cap = _run(tmp_path, monkeypatch, capsys, "storage: x.db\nstudy_name: exp\n",
                         "--overwrite")  # hpsearch's study now
        assert code == 0, cap.err


def test_overwrite_does_not_write_over_a_user_plot_of_a_name_no_run_wrote(
        tmp_path, monkeypatch, capsys):
    code, cap = _run(tmp_path, monkeypatch, capsys, "")
    assert code == 0, cap.err
    mine = tmp_path / "runs" / "s" / "plots" / "param_weights.png"
    mine.write_text("my own figure")
    (tmp_path / "s.yaml").write_text(GRID_STUDY.replace("n_neighbors: [1, 3]",
                                                        "weights: [uniform, distance]"))
    code = main(["s.yaml", "--quiet", "--overwrite"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "plots/param_weights.png; --overwrite removes only its own files" in err, err
    assert mine.read_text() == "my own figure"


@pytest.mark.parametrize("output", ["o.db", "o.db/run"])
def test_a_store_that_is_the_output_folder_is_refused_first(tmp_path, monkeypatch, capsys,
                                                            output):
    code, cap = _run(tmp_path, monkeypatch, capsys, f"output: {output}\nstorage: o.db\n")
    assert code == 2, cap.err
    assert "storage: the trial store o.db is the output folder" in cap.err, cap.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]
