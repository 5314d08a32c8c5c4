"""A refused or disturbed run leaves the user's files, and its run folder, as they were.

Holes found:

* a run refused with exit code 2 in a run folder holding no lock file (a run folder copied
  or unpacked without ``.hpsearch-lock``, a marker shipped with a study file) made the lock
  file before it was refused: a refused run changed the folder.
"""
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
