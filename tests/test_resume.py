"""Trial store and resume: a SIGKILLed search resumes without refitting finished work."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from hpsearch.model_selection.strategies.grid import GridSearchCV
from hpsearch.model_selection.store import encode_value, recorded_fits

GRID = {"alpha": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]}


class CountingRidge(Ridge):
    """Ridge that appends a line to ``counter`` at every fit and waits ``delay`` s."""

    def __init__(self, alpha=1.0, counter="", delay=0.0):
        super().__init__(alpha=alpha)
        self.counter = counter
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        with open(self.counter, "a") as f:
            f.write(f"{self.alpha}\n")
        time.sleep(self.delay)
        return super().fit(X, y)


def _fits(counter):
    path = Path(counter)
    return path.read_text().splitlines() if path.exists() else []


def search(counter, storage, delay=0.0, resume=False, study_name="s", **kw):
    return GridSearchCV(
        CountingRidge(counter=str(counter), delay=delay), GRID, cv=3, refit=False,
        storage=storage, study_name=study_name, resume=resume, random_state=0, **kw,
    )


def run_in_subprocess(counter, storage):  # entry point of the killed process
    X, y = load_diabetes(return_X_y=True)
    search(counter, storage, delay=0.15).fit(X, y)


def assert_same(a, b):
    assert a["params"] == b["params"]
    for key in a:
        if "time" not in key and key != "params":
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), key)


def test_sigkill_then_resume_refits_only_unfinished_candidates(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    counter, db = tmp_path / "fits.txt", tmp_path / "study.db"
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"from test_resume import run_in_subprocess; "
        f"run_in_subprocess({str(counter)!r}, {str(db)!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    while len(_fits(counter)) < 8 and time.time() < deadline:  # past 2 candidates
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_after = len(_fits(counter))
    assert 8 <= killed_after < 18

    study = optuna.load_study(study_name="s", storage=f"sqlite:///{db}")
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert 2 <= len(done) < 6
    finished_alphas = {t.params["alpha"] for t in done}

    # every finished fit is recorded, also those of the interrupted candidate: only the
    # fit in flight at the kill is lost
    recorded = recorded_fits(study)
    assert recorded >= killed_after - 1

    resumed = search(counter, str(db), delay=0.15, resume=True).fit(X, y)  # same estimator
    new_fits = _fits(counter)[killed_after:]
    assert len(new_fits) == 18 - recorded
    assert not finished_alphas & {float(a) for a in new_fits}

    fresh = search(tmp_path / "other.txt", None).fit(X, y)
    assert_same(resumed.cv_results_, fresh.cv_results_)
    # the study now holds each candidate exactly once as a COMPLETE trial
    again = optuna.load_study(study_name="s", storage=f"sqlite:///{db}")
    complete = [t for t in again.trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["alpha"] for t in complete) == GRID["alpha"]


def test_resume_of_a_finished_search_fits_nothing(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    counter, db = tmp_path / "fits.txt", str(tmp_path / "s.db")
    first = search(counter, db).fit(X, y)
    assert len(_fits(counter)) == 18
    second = search(counter, db, resume=True).fit(X, y)
    assert len(_fits(counter)) == 18
    assert_same(first.cv_results_, second.cv_results_)


def test_existing_study_without_resume_is_refused(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    db = str(tmp_path / "s.db")
    search(tmp_path / "c.txt", db).fit(X, y)
    with pytest.raises(ValueError, match="A study named 's' already exists.*resume=True"):
        search(tmp_path / "c.txt", db).fit(X, y)
    with pytest.raises(ValueError, match="resume=True needs the study_name.*"
                       "got study_name=None. The storage holds the studies 's'."):
        search(tmp_path / "c.txt", db, resume=True, study_name=None).fit(X, y)


def test_non_primitive_params_are_stored_readably(tmp_path):
    from sklearn.neural_network import MLPRegressor

    X, y = load_diabetes(return_X_y=True)
    db = str(tmp_path / "s.db")
    grid = {"hidden_layer_sizes": [(4,), (4, 2)], "activation": ["relu", "tanh"]}
    GridSearchCV(
        MLPRegressor(max_iter=2), grid, cv=2, storage=db, study_name="mlp", refit=False
    ).fit(X[:60], y[:60])
    study = optuna.load_study(study_name="mlp", storage=f"sqlite:///{db}")
    assert study.trials[0].params == {"hidden_layer_sizes": "(4,)", "activation": "relu"}
    assert study.trials[3].user_attrs["params"] == encode_value(
        {"hidden_layer_sizes": (4, 2), "activation": "tanh"}
    )
    assert len(study.trials[0].user_attrs["split_test_score"]) == 2


def test_encode_value_is_stable_and_distinguishes_types():
    assert encode_value((1, 2)) != encode_value([1, 2])
    assert encode_value(np.float64(0.5)) == 0.5
    assert encode_value(len) == {"__callable__": "builtins.len"}
    assert encode_value(Ridge(alpha=2.0)) == {"__repr__": "Ridge(alpha=2.0)"}


class InterruptedRidge(CountingRidge):
    """CountingRidge whose fit at ``alpha == 0.3`` raises KeyboardInterrupt (a Ctrl-C
    inside the fit, run in this process with n_jobs=1) while the file ``stop`` exists."""

    def __init__(self, alpha=1.0, counter="", delay=0.0, stop=""):
        super().__init__(alpha=alpha, counter=counter, delay=delay)
        self.stop = stop

    def fit(self, X, y, sample_weight=None):
        if self.alpha == 0.3 and os.path.exists(self.stop):
            raise KeyboardInterrupt
        return super().fit(X, y)


@pytest.mark.parametrize("search_class", ["grid", "optuna"])
def test_ctrl_c_without_storage_then_resume_continues_in_memory(tmp_path, search_class):
    # a notebook's search interrupted with Ctrl-C lost every finished fit (storage=None):
    # now fit again with resume=True continues from the in-memory study
    from hpsearch.model_selection.strategies.bayes import OptunaSearchCV

    X, y = load_diabetes(return_X_y=True)
    counter, stop = str(tmp_path / "fits.log"), tmp_path / "stop"
    stop.touch()
    make = {"grid": lambda est: GridSearchCV(est, GRID, cv=3),
            "optuna": lambda est: OptunaSearchCV(est, GRID, n_trials=6, cv=3,
                                                 random_state=0)}[search_class]
    search = make(InterruptedRidge(counter=counter, stop=str(stop)))
    with pytest.raises(KeyboardInterrupt) as info:
        search.fit(X, y)
    done = len(_fits(counter))
    assert done >= 3  # at least the first candidate's three splits
    if hasattr(info.value, "__notes__"):
        assert f"{done} finished fits are kept in memory" in info.value.__notes__[0]
    stop.unlink()
    search.set_params(resume=True).fit(X, y)
    reference = make(InterruptedRidge(counter=str(tmp_path / "ref.log"))).fit(X, y)
    assert len(_fits(counter)) == len(_fits(tmp_path / "ref.log"))  # nothing fitted twice
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  reference.cv_results_["mean_test_score"])
    assert search.cv_results_["params"] == reference.cv_results_["params"]


def test_resume_in_memory_after_a_finished_fit_starts_afresh(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    counter = str(tmp_path / "fits.log")
    search = GridSearchCV(CountingRidge(counter=counter), GRID, cv=3).fit(X, y)
    with pytest.raises(ValueError, match="resume=True needs the study_name"):
        search.set_params(resume=True).fit(X, y)  # nothing was interrupted



class FailingRidge(CountingRidge):
    """CountingRidge whose fit raises SQLite's full-disk error for ``alpha >= 1`` while
    the file ``<counter>.fail`` exists (not a parameter: a resume must see the same
    estimator)."""

    def fit(self, X, y, sample_weight=None):
        if self.alpha >= 1.0 and Path(self.counter + ".fail").exists():
            import sqlite3

            raise sqlite3.OperationalError("database or disk is full")
        return super().fit(X, y)


def test_an_error_ending_a_stored_search_names_the_study_to_resume(tmp_path):
    """A search with a storage but no study_name runs in Optuna's generated study
    ``no-name-<uuid>``. An error ending it (here SQLite's full disk, turned into
    StoreWriteError) said "run the search again with resume=True", which needs the name
    the user never saw: the finished fits were as good as lost. The error now names the
    study (any error ending a stored search does), and resuming it with that name fits
    only the missing ones."""
    from hpsearch.model_selection.store import StoreWriteError

    X, y = load_diabetes(return_X_y=True)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    counter = tmp_path / "fits.txt"
    Path(str(counter) + ".fail").touch()

    def make(**kw):
        return GridSearchCV(FailingRidge(counter=str(counter)), GRID, cv=3, refit=False,
                            storage=storage, n_jobs=1, error_score="raise",
                            random_state=0, **kw)

    with pytest.raises(StoreWriteError) as info:
        make().fit(X, y)
    (name,) = optuna.study.get_all_study_names(storage)
    assert name.startswith("no-name-")
    assert f"resume=True and study_name={name!r}" in "\n".join(info.value.__notes__)
    done = len(_fits(counter))
    assert done == 3 * 4  # the 4 alphas below 1.0
    Path(str(counter) + ".fail").unlink()  # (space freed)
    make(study_name=name, resume=True).fit(X, y)
    assert len(_fits(counter)) == done + 3 * 2  # only the two missing alphas


class InterruptedRefit(CountingRidge):
    """CountingRidge whose fit on all ``n_rows`` rows (the refit) raises KeyboardInterrupt
    while the file ``<counter>.stop`` exists: Ctrl-C during a long refit."""

    def fit(self, X, y, sample_weight=None):
        if len(X) == 442 and Path(self.counter + ".stop").exists():
            raise KeyboardInterrupt
        return super().fit(X, y)


@pytest.mark.parametrize("stored", [False, True])
def test_ctrl_c_during_the_refit_keeps_every_fit_of_the_search(tmp_path, stored):
    """Ctrl-C during the refit (after every fit of the search had finished) lost them all
    without a storage: the in-memory study was let go before the refit, and
    set_params(resume=True) was refused. Now the interrupt says they are kept, and the
    resume runs the refit alone, ending as an uninterrupted fit."""
    X, y = load_diabetes(return_X_y=True)
    counter = str(tmp_path / "fits.txt")
    Path(counter + ".stop").touch()
    kw = {"storage": str(tmp_path / "s.db"), "study_name": "s"} if stored else {}
    search = GridSearchCV(InterruptedRefit(counter=counter), GRID, cv=3, n_jobs=1,
                          random_state=0, **kw)
    with pytest.raises(KeyboardInterrupt) as info:
        search.fit(X, y)
    assert "resume=True" in "\n".join(info.value.__notes__)
    assert len(_fits(counter)) == 18
    Path(counter + ".stop").unlink()
    search.set_params(resume=True).fit(X, y)
    assert len(_fits(counter)) == 18 + 1  # the refit alone
    plain = GridSearchCV(Ridge(), GRID, cv=3, random_state=0).fit(X, y)
    assert search.best_params_ == plain.best_params_
    np.testing.assert_allclose(search.best_estimator_.coef_, plain.best_estimator_.coef_)
