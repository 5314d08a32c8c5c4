"""Names of a run folder that hpsearch writes: the default trial store ``study.db``,
SQLite's files next to it, and ``plots``.

Holes found: a ``study.db`` of a run folder that was a second name (a hard link) of the
user's own SQLite database was opened as the trial store, and Optuna wrote its tables into
the user's database (exit 0); a symbolic link at ``study.db-journal`` next to a store
ended the run with "cannot open the trial store ...: its directory does not exist or is not
writable", which is neither, and a hard link there to the user's file had SQLite write its
journal over that file; a file ``plots`` was removed without a word when the figures
were moved into place. Each is refused now before any work (exit 2), naming the file,
nothing changed.
"""
import os
import sqlite3

import pytest
from _study_files import GRID_STUDY

from hpsearch.cli import main


def _run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".hpsearch-run").write_text('{"files": []}\n')
    return out


@pytest.mark.parametrize("flag", [None, "--resume", "--overwrite"])
def test_a_study_db_with_another_name_is_refused(tmp_path, monkeypatch, capsys, flag):
    out = _run_folder(tmp_path, monkeypatch)
    mine = tmp_path / "mine.db"
    with sqlite3.connect(mine) as db:
        db.execute("create table notes(t)")
    db.close()
    before = mine.read_bytes()
    os.link(mine, out / "study.db")
    code = main(["s.yaml", "--out", "out", "--quiet", *([flag] if flag else [])])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "out/study.db is a file with 2 names (hard links)" in err, err
    assert "--storage" in err and "run failed" not in err, err
    assert mine.read_bytes() == before
    assert {p.name for p in out.iterdir()} <= {".hpsearch-run", ".hpsearch-lock", "study.db"}


def test_a_link_at_the_name_of_sqlites_journal_is_refused(tmp_path, monkeypatch, capsys):
    out = _run_folder(tmp_path, monkeypatch)
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    with sqlite3.connect(out / "study.db") as db:  # a store (empty), the journal planted
        db.execute("create table t(x)")
    db.close()
    (out / "study.db-journal").symlink_to(mine)
    code = main(["s.yaml", "--out", "out", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"out/study.db-journal is a symbolic link (to {mine})" in err, err
    assert "does not exist" not in err and "run failed" not in err, err
    assert mine.read_text() == "mine"


def test_a_file_named_plots_in_a_run_folder_is_not_removed(tmp_path, monkeypatch, capsys):
    """A file ``plots`` in a run folder (the folder of the figures) was removed without a
    word when the figures were moved into place; the run is refused now, naming it."""
    out = _run_folder(tmp_path, monkeypatch)
    (out / "plots").write_text("my notes")
    code = main(["s.yaml", "--out", "out", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "out/plots is not a folder, where hpsearch writes its figures" in err, err
    assert (out / "plots").read_text() == "my notes"


def test_a_journal_with_another_name_is_refused(tmp_path, monkeypatch, capsys):
    """A hard link at ``study.db-journal`` to the user's file (its first byte zero: no
    hot journal for SQLite) had SQLite write its journal over the user's file."""
    out = _run_folder(tmp_path, monkeypatch)
    with sqlite3.connect(out / "study.db") as db:
        db.execute("create table t(x)")
    db.close()
    mine = tmp_path / "mine.bin"
    mine.write_bytes(b"\0" * 100 + b"mine" * 100)
    os.link(mine, out / "study.db-journal")
    code = main(["s.yaml", "--out", "out", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "out/study.db-journal is a file with 2 names (hard links)" in err, err
    assert mine.read_bytes() == b"\0" * 100 + b"mine" * 100
