"""A refused or disturbed run leaves the user's files, and its run folder, as they were.

Holes found:

* a run refused with exit code 2 in a run folder holding no lock file (a run folder copied
  or unpacked without ``.hpsearch-lock``, a marker shipped with a study file) made the lock
  file before it was refused: a refused run changed the folder;
* a file the user put at ``<run folder>/plots`` while the search ran (after the checks
  made at the start) was removed without a word when the figures were moved into place.
  It is kept now, moved into the new folder (``plots/plots``), and the run says so on
  stderr (also with ``--quiet``);
* an ``output`` starting with ``~`` (a folder ``~`` of the working directory: hpsearch
  does not expand it) failed the run after the whole search, "run failed: OSError: [Errno
  None] None: '~/run/results.csv'" (pandas read it as the home folder), and one holding a
  brace (``${HOME}``, ``r{0}``) failed it before any fit with "run failed: KeyError:
  'HOME'" (Optuna reads a storage URL as a ``str.format`` template);
* a storage URL of a database whose driver is not installed (``mysql://...`` without
  ``MySQLdb``) failed the run with "run failed: ImportError: Failed to import DB access
  module" (exit 1) once the data was read; a storage file in a folder that does not exist
  was refused without naming the key ``storage``;
* a ``study.db`` of the run folder made a symbolic or a hard link to the user's own
  database during the run (after the checks at its start) had Optuna write its tables
  and the whole study into that database (exit 0). Each use of the store now checks its
  file: the run ends naming it (exit 1), the user's database untouched;
* ``storage: db.sqlite3`` in a study file, naming the user's own application database in
  the working directory, made Optuna add its twelve tables to it (exit 0). A SQLite
  database holding tables, none of them Optuna's, is refused for a study file (exit 2);
* a key of the study file holding control characters (``"\\x1b[2J": 1``) was printed raw
  in the error naming it (the terminal cleared, its title set); it is escaped now.
"""
import importlib.util
import os
import shutil

import pytest
from _study_files import GRID_STUDY

from hpsearch.cli import main


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A folder holding ``s.yaml`` and its finished run folder ``out`` (copied by each
    test: a run takes a second)."""
    folder = tmp_path_factory.mktemp("earlier")
    (folder / "s.yaml").write_text(GRID_STUDY)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["s.yaml", "--out", "out", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    return folder


def _copy_run(earlier_run, tmp_path, monkeypatch):
    shutil.copytree(earlier_run, tmp_path, dirs_exist_ok=True, symlinks=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "out"


def _tree(folder):
    """Every entry under ``folder``: its kind, bytes and modification time."""
    return {p.relative_to(folder).as_posix(): (
        "link" if p.is_symlink() else "dir" if p.is_dir() else p.read_bytes(),
        p.lstat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("args, expected", [
    ((), "already holds 2 trial(s) of study 's'; nothing was changed"),
    (("--resume", "--storage", "other.db"), "but the trial store other.db holds no trial"),
    (("--overwrite",), "--overwrite removes only its own files and nothing was changed"),
])
def test_a_refused_run_does_not_make_the_lock_file(earlier_run, tmp_path, monkeypatch, capsys,
                                                   args, expected):
    out = _copy_run(earlier_run, tmp_path, monkeypatch)
    (out / ".hpsearch-lock").unlink()  # (copied, or unpacked, without it)
    if "--overwrite" in args:
        (out / "report.md").write_text("my edited report")
    capsys.readouterr()
    before = _tree(out)
    assert main(["s.yaml", "--out", "out", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert _tree(out) == before
    assert not os.path.exists("other.db")


def test_a_file_put_at_plots_during_the_search_is_kept(tmp_path, monkeypatch, capsys):
    from hpsearch.study import runner

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY)
    fit = runner._fit

    def fit_then_plant(*args, **kwargs):
        done = fit(*args, **kwargs)
        (tmp_path / "out" / "plots").write_text("my plots list")
        return done

    monkeypatch.setattr(runner, "_fit", fit_then_plant)
    assert main(["s.yaml", "--out", "out", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert ("a file stood at out/plots, the folder of the run's figures, when they were "
            "moved into place; it is kept, moved to out/plots/plots") in err, err
    assert (tmp_path / "out" / "plots" / "plots").read_text() == "my plots list"
    assert (tmp_path / "out" / "plots" / "history.png").is_file()


def test_a_pipe_at_plots_is_moved_into_the_new_folder(tmp_path):
    from hpsearch.study.run_folder import _new_stage, _publish

    out = tmp_path / "out"
    out.mkdir()
    stage = _new_stage(out)
    (stage / "plots").mkdir()
    (stage / "plots" / "history.png").write_bytes(b"png")
    os.mkfifo(out / "plots")
    assert _publish(stage, out) == ["plots/plots"]
    assert (out / "plots" / "plots").is_fifo()
    assert sorted(p.name for p in out.iterdir()) == ["plots"]
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["history.png", "plots"]


def test_an_output_folder_named_with_a_tilde_and_braces_runs_there(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY + "output: '~/${HOME}{0}'\n")
    assert main(["s.yaml", "--quiet"]) == 0, capsys.readouterr().err
    run = tmp_path / "~" / "${HOME}{0}"
    assert (run / "results.csv").is_file() and (run / "study.db").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml", "~"]


@pytest.mark.skipif(importlib.util.find_spec("MySQLdb") is not None,
                    reason="the MySQL driver is installed")
@pytest.mark.parametrize("extra, args, expected", [
    ("storage: 'mysql://me:secret@localhost/db'\n", (),
     "error in s.yaml: storage: the database driver of 'mysql' is not installed"),
    ("", ("--storage", "mysql://me:secret@localhost/db"),
     "error: --storage: the database driver of 'mysql' is not installed"),
])
def test_a_storage_url_without_its_driver_is_refused(tmp_path, monkeypatch, capsys, extra,
                                                     args, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY + extra)
    assert main(["s.yaml", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and "got 'mysql://me:***@localhost/db'" in err, err
    assert "secret" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_a_storage_file_in_a_missing_folder_names_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY + "storage: ~/x.db\n")
    assert main(["s.yaml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert ("error in s.yaml: storage: cannot open the trial store ~/x.db: directory ~ "
            "does not exist (line 8)") in err, err


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_store_file_made_a_link_during_the_run_is_not_opened(tmp_path, monkeypatch,
                                                               capsys, link):
    import sqlite3

    from hpsearch.study import runner

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY)
    mine = tmp_path / "mine.db"
    with sqlite3.connect(mine) as db:
        db.execute("create table notes(t)")
    db.close()
    before = mine.read_bytes()
    fit = runner._fit

    def plant_then_fit(*args, **kwargs):
        (os.symlink if link == "symbolic" else os.link)(mine, tmp_path / "out" / "study.db")
        return fit(*args, **kwargs)

    monkeypatch.setattr(runner, "_fit", plant_then_fit)
    assert main(["s.yaml", "--out", "out", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "out/study.db, a file of the trial store, became a " in err, err
    assert mine.read_bytes() == before


def test_a_study_file_may_not_add_a_store_to_another_programs_database(tmp_path, monkeypatch,
                                                                      capsys):
    import sqlite3

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY + "storage: db.sqlite3\n")
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute("create table auth_user(name)")
    db.close()
    before = (tmp_path / "db.sqlite3").read_bytes()
    assert main(["s.yaml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert ("storage: db.sqlite3 exists and is another program's SQLite database (1 "
            "table(s), none of an Optuna trial store)") in err, err
    assert "auth_user" not in err
    assert (tmp_path / "db.sqlite3").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.sqlite3", "s.yaml"]


@pytest.mark.parametrize("extra, shown", [
    ('"\\x1b]0;title\\x07\\x1b[2J": 1\n', "error in s.yaml: '\\x1b]0;title\\x07\\x1b[2J': unknown key"),
    ('evaluate: {"\\x1b[2J": 1}\n', "error in s.yaml: evaluate.'\\x1b[2J': unknown key"),
])
def test_a_key_with_control_characters_is_escaped_in_errors(tmp_path, monkeypatch, capsys,
                                                            extra, shown):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY + extra)
    assert main(["s.yaml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert shown in err and "\x1b" not in err, repr(err)
