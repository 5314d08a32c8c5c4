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
from hpsearch.model_selection.store import make_storage, recorded_fits

from _hostile import SPACE, diabetes

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
