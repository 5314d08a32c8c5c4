"""A run folder the user cannot write fails at once, naming the path and the setting
(``--out`` or the study key ``output``), before the data is read or any fit runs, and
changes nothing: no half-made folder, the earlier run's files as they were.

Was: a read-only empty folder ended with "run failed: PermissionError: ... '.hpsearch-run'"
(exit 1), a read-only run folder resumed or overwritten with "... '.hpsearch-lock'" (exit
1), ``--out`` into a read-only folder named no setting, and a run folder whose ``study.db``
alone was read-only failed at the trial store's first write.

The CLI runs in a subprocess that file modes bind: as this user when it is not root, else
as root without the capabilities that override file modes (``setpriv``), else as user
nobody; skipped only when none of these can run Python here (``/root`` is often 0700).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _study_files import GRID_STUDY

from hpsearch.cli import main

ROOT = Path(__file__).resolve().parents[1]
_NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
           "--bounding-set=-dac_override,-dac_read_search", "--"]


def _env():
    return dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def _runner(cwd):
    """``(prefix, kwargs)`` for ``subprocess.run`` of a process file modes bind, or None."""
    if os.geteuid() != 0:
        return [], {}
    probe = [sys.executable, "-c", "open('study.yaml').read()"]
    ways = []
    if shutil.which("setpriv"):
        ways.append((_NO_DAC, {}))
    ways.append(([], {"user": 65534, "group": 65534}))
    for prefix, kw in ways:
        try:
            done = subprocess.run(prefix + probe, cwd=cwd, env=_env(), capture_output=True,
                                  timeout=120, **kw)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return prefix, kw
    return None


def _cli(cwd, *args, way):
    prefix, kw = way
    return subprocess.run(prefix + [sys.executable, "-m", "hpsearch", "study.yaml", *args,
                                    "--quiet"],
                          cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300,
                          **kw)


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None,
                                               p.stat().st_mode)
            for p in sorted(folder.rglob("*"))}


def _read_only(path):
    for p in [path, *path.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)


@pytest.fixture
def way(tmp_path):
    (tmp_path / "study.yaml").write_text(GRID_STUDY)
    (tmp_path / "study.yaml").chmod(0o644)  # (user nobody reads it; it writes nothing)
    found = _runner(tmp_path)
    if found is None:
        pytest.skip("no way to run a process that file modes bind (root, no setpriv, "
                    "and user nobody cannot run this Python)")
    return found


def test_out_into_read_only_folder(tmp_path, way):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    done = _cli(tmp_path, "--out", "ro/new/run", way=way)
    assert done.returncode == 2, done.stderr
    assert "--out" in done.stderr and "ro/new/run" in done.stderr, done.stderr
    assert "read-only" in done.stderr and "Traceback" not in done.stderr
    assert list(ro.iterdir()) == []  # nothing made


def test_read_only_empty_folder_of_output_key(tmp_path, way):
    (tmp_path / "study.yaml").write_text("output: empty\n" + GRID_STUDY)
    empty = tmp_path / "empty"
    empty.mkdir()
    empty.chmod(0o555)
    done = _cli(tmp_path, way=way)
    assert done.returncode == 2, done.stderr
    assert "output: cannot write the output folder empty" in done.stderr, done.stderr
    assert "PermissionError" not in done.stderr
    assert list(empty.iterdir()) == []


def test_read_only_run_folder_kept(tmp_path, way, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["study.yaml", "--out", "run", "--quiet"]) == 0  # (as this user)
    run = tmp_path / "run"
    _read_only(run)
    before = _snapshot(run)
    for option in ("--resume", "--overwrite", None):
        done = _cli(tmp_path, "--out", "run", *([option] if option else []), way=way)
        assert done.returncode == 2, (option, done.stderr)
        assert "--out: cannot write the output folder run" in done.stderr, done.stderr
        assert "PermissionError" not in done.stderr
        assert _snapshot(run) == before  # the earlier run whole, nothing added
    # a run folder whose trial store alone is read-only (was: failed at its first write)
    for p in [run, *run.rglob("*")]:
        if p.name != "study.db":
            p.chmod(p.stat().st_mode | (0o777 if p.is_dir() else 0o666))  # (nobody too)
    before = _snapshot(run)
    done = _cli(tmp_path, "--out", "run", "--resume", way=way)
    assert done.returncode == 2, done.stderr
    assert "--out: cannot write the output folder run: run/study.db is read-only" in \
        done.stderr, done.stderr
    assert _snapshot(run) == before
