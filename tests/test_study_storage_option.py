"""A refused trial store names where it came from: ``--storage`` when the command line
gave it, the study key ``storage`` only when the study file did.

Was: ``--storage notes.db`` with a study file naming the same ``storage: notes.db`` was
refused as "error in study.yaml: storage: ..." (the key the option replaces); another
program's database named by both was refused with "a study file may not add its tables
to (--storage on the command line may)", the very option given; a store given by
``--storage`` alone was refused without naming any setting ("cannot open the trial store
missing/x.db: directory missing does not exist").

The CLI runs in this process (``main``) with ``tmp_path`` as the working directory.
"""

import sqlite3

import pytest

from _study_files import GRID_STUDY

from hpsearch.cli import main


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.db").write_text("my notes\n")
    (tmp_path / "file.yaml").write_text("storage: notes.db\n" + GRID_STUDY)
    (tmp_path / "plain.yaml").write_text(GRID_STUDY)
    return tmp_path


@pytest.mark.parametrize("study, storage", [
    ("file.yaml", "notes.db"),             # the study file's value, given by the option
    ("file.yaml", "sqlite:///notes.db"),
    ("plain.yaml", "notes.db"),            # the option alone
    ("plain.yaml", "missing/x.db"),
])
def test_refusal_names_storage_option(here, capsys, study, storage):
    assert main([study, "--storage", storage, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hpsearch: error: --storage: "), err
    assert "error in" not in err  # (not the study key storage)
    assert (here / "notes.db").read_text() == "my notes\n"
    assert not (here / "runs").exists()


def test_refusal_names_storage_key(here, capsys):
    assert main(["file.yaml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hpsearch: error in file.yaml: storage: notes.db exists"), err


def test_option_may_name_the_files_database(here, capsys):
    """Another program's database: refused when the study file names it, accepted when
    ``--storage`` does (as the refusal says), also when both name it."""
    db = sqlite3.connect(here / "app.db")
    db.execute("create table users (id integer)")
    db.commit()
    db.close()
    (here / "app.yaml").write_text("storage: app.db\n" + GRID_STUDY)
    assert main(["app.yaml", "--quiet"]) == 2
    assert "error in app.yaml: storage: app.db exists and is another program's" in \
        capsys.readouterr().err
    assert main(["app.yaml", "--storage", "app.db", "--quiet"]) == 0, capsys.readouterr().err
    db = sqlite3.connect(here / "app.db")
    tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    db.close()
    assert {"users", "studies"} <= tables
