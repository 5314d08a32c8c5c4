"""A search that ended while its process lives on holds no trial of a shared study.

An ASHA whose ``fit`` raised (``error_score="raise"``, a bug, Ctrl-C) leaves its
candidates' trials RUNNING for a resume to take over with their rung scores. Its process
may live on (a notebook, a script that catches the error): other processes read it alive
from the process table, so a process resuming the study from a terminal waited for its
candidates for ever. A store that closes now writes its last heartbeat as ``ENDED``.
"""

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from hpsearch.model_selection import ASHASearchCV
from hpsearch.model_selection.store import ENDED, owner_alive, owner_id
from shared_strategy_worker import WIDE_SPACE, SplitLog, data

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


class MayFail(SplitLog):
    """With ``MAYFAIL`` set, raises in a continued fit of ``alpha=0.001`` (a
    promotion)."""

    def fit(self, X, y):
        if (os.environ.get("MAYFAIL") and self.warm_start and getattr(self, "n_iter_", 0)
                and self.alpha == 0.001):
            raise RuntimeError("boom")
        return super().fit(X, y)


def search(storage):
    return ASHASearchCV(MayFail(), WIDE_SPACE, n_trials=9, cv=3, random_state=0,
                        refit=False, storage=storage, study_name="s", resume=True,
                        error_score="raise")


def lives_on(storage, done):
    """The other process: its fit raises, then it lives on (a notebook)."""
    warnings.simplefilter("ignore")
    try:
        search(storage).fit(*data())
    except RuntimeError:
        Path(done).touch()
    time.sleep(60)


def test_a_resume_does_not_wait_for_a_search_that_raised_in_a_live_process(
        tmp_path, monkeypatch):
    storage, done = str(tmp_path / "s.db"), tmp_path / "raised"
    monkeypatch.setenv("SPLITLOG", str(tmp_path / "fits"))
    env = dict(os.environ, OMP_NUM_THREADS="1", MAYFAIL="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]))
    code = f"from test_asha_ended_owner import lives_on; lives_on({storage!r}, {str(done)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(tmp_path))
    try:
        deadline = time.time() + 60
        while not done.exists() and time.time() < deadline:
            assert proc.poll() is None
            time.sleep(0.05)
        assert done.exists() and proc.poll() is None  # it raised, and lives on
        # was: this resume waited for its RUNNING candidates until its own timeout
        start = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resumed = search(storage).set_params(timeout=30).fit(*data())
        assert time.time() - start < 20
        assert resumed.n_candidates_ == 9
        assert "not run" not in list(resumed.cv_results_["state"])
    finally:
        proc.kill()
        proc.wait()


def test_an_owner_whose_last_heartbeat_says_ended_is_dead():
    other = owner_id(pid=os.getppid(), token=3)  # a process that runs, on this machine
    assert owner_alive(other, {}) is True
    assert owner_alive(other, {other: time.time()}) is True
    assert owner_alive(other, {other: ENDED}) is False
    remote = "elsewhere/boot/1/0#t"
    assert owner_alive(remote, {remote: time.time()}) is True
    assert owner_alive(remote, {remote: ENDED}) is False


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
