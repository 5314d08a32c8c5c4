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
  writable". Each is refused first.

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


@pytest.mark.parametrize("name", ["x.db", "x.log"])
def test_an_empty_store_file_is_a_new_store_and_resumes(tmp_path, monkeypatch, capsys, name):
    (tmp_path / name).write_bytes(b"")
    code, cap = _run(tmp_path, monkeypatch, capsys, f"storage: {name}\n")
    assert code == 0, cap.err
    assert (tmp_path / name).stat().st_size > 0
    code, cap = _run(tmp_path, monkeypatch, capsys, f"storage: {name}\n", "--resume")
    assert code == 0, cap.err
