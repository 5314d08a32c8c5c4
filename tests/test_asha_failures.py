"""ASHA (and the searches that continue training between rungs) when things fail past
one process: a full disk under the trial store, several processes with a ``timeout`` on
one storage (regressions of bugs a hostile pass found; ``test_asha_hostile.py`` holds
the single-process ones, ``test_asha_shared.py`` the cooperation itself)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.linear_model import Ridge

from hpsearch import ASHASearchCV
from hpsearch.model_selection.space import Float
from hpsearch.model_selection.store import make_storage, recorded_fits

from _hostile import diabetes

SPACE = {"alpha": Float(1e-3, 1e2, log=True)}
ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def data():
    return diabetes()


def _asha(storage, **kw):
    kw = {"n_trials": 4, "resource": "n_samples", "cv": 2, "random_state": 0,
          "study_name": "full", "resume": True, "refit": False, **kw}
    return ASHASearchCV(Ridge(), SPACE, storage=storage, **kw)


def _study(storage, name="full"):
    return optuna.load_study(study_name=name, storage=make_storage(str(storage)))


def test_a_journal_write_cut_by_a_full_disk_does_not_corrupt_the_store(data, tmp_path):
    """A full disk cuts a journal append in the middle of its line. Optuna skips that
    torn last line when it reads, but the next append (the resume, once space is back)
    glued its record to it: one undecodable line in the middle, and every later open of
    the study raised JSONDecodeError (every recorded fit lost)."""
    X, y = data
    journal = tmp_path / "full.jsonl"
    full = _asha(str(journal)).fit(X, y)
    n_all = recorded_fits(_study(journal))
    lines = journal.read_bytes().splitlines(keepends=True)
    kept = b"".join(lines[: len(lines) // 2])
    journal.write_bytes(kept + lines[len(lines) // 2][:25])  # a record cut after 25 bytes
    assert 0 < recorded_fits(_study(journal)) < n_all
    with pytest.warns(UserWarning, match="ended with a record cut short"):
        resumed = _asha(str(journal)).fit(X, y)  # space is back
    assert resumed.cv_results_["params"] == full.cv_results_["params"]
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  full.cv_results_["mean_test_score"])
    assert recorded_fits(_study(journal)) == n_all
    assert journal.read_bytes().startswith(kept)  # the fits recorded before are kept


_FULL_DISK = """\
import resource, signal, sys, warnings
import optuna
from test_asha_failures import _asha, diabetes
from hpsearch.model_selection.store import make_storage

warnings.simplefilter("ignore")
storage, room = sys.argv[1], int(sys.argv[2])
optuna.create_study(storage=make_storage(storage), study_name="full", direction="maximize")
import os
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(storage) + room,) * 2)
try:
    _asha(storage, n_trials=12).fit(*diabetes())
except OSError as exc:
    print(f"OSError {exc}")
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="no file size limit here")
@pytest.mark.parametrize("name, room", [("full.db", 12288), ("full.jsonl", 12000)])
def test_a_full_store_is_one_clear_error_and_the_resume_keeps_its_fits(data, tmp_path,
                                                                        name, room):
    """The disk fills up (here: a file size limit) while ASHA records its fits. SQLite's
    error came through Optuna as "StorageInternalError: ... invalid data in the commit,
    e.g. exceeding max length", a journal's as "OSError: [Errno 27] File too large":
    neither named the file. Now one OSError names it and says the fits are kept; once
    there is room again, ``resume=True`` finishes the search from them."""
    storage = str(tmp_path / name)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", _FULL_DISK, storage, str(room)], env=env,
                         cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OSError [Errno "), out.stdout + out.stderr
    assert f"'{storage}'" in out.stdout  # the file
    assert ("cannot write to the trial store; the fits recorded before are kept: free "
            "space, then run the search again with resume=True") in out.stdout
    n_kept = recorded_fits(_study(storage))
    assert n_kept > 0
    X, y = data
    resumed = _asha(storage, n_trials=12).fit(X, y)
    full = _asha(None, n_trials=12, study_name=None, resume=False).fit(X, y)
    assert resumed.cv_results_["params"] == full.cv_results_["params"]
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  full.cv_results_["mean_test_score"])
    assert recorded_fits(_study(storage)) == 2 * len(full.cv_results_["params"]) > n_kept
