"""A Ctrl-C or SIGTERM that lands in the search's own code (while a fit's result is
recorded, between two results), not in the wait for the workers: every result that had
come back from the workers is recorded before the interrupt goes on, so a resume fits only
the missing fits, for every search and backend (joblib's threading and loky, fork workers).

Was: the results that had come back but were not taken yet (the rest of a joblib batch,
joblib's finished batches, a fork worker's pipe) sat in the engine and were dropped; a
resume fitted them again (a grid of 18 fits interrupted at its 3rd: 15 fitted again, all
18 had finished). The signal is real (``signal.raise_signal``), raised inside a write of the
trial store, where it waits for the end of the write as it does from a terminal.
"""

import os
import signal
import time

import numpy as np
import pytest

import durable_worker as w
from hpsearch.model_selection import (
    ASHASearchCV,
    GridSearchCV,
    HalvingSearchCV,
    HyperbandSearchCV,
    OptunaSearchCV,
    _engine,
    store,
)
from hpsearch.space import Float

SPACE = {"alpha": Float(1e-3, 30.0, log=True)}
BUDGET = dict(min_resources=1, max_resources=9)
SEARCHES = {
    "grid": lambda **kw: GridSearchCV(w.LogFit(), {"alpha": w.ALPHAS[:6]}, **kw),
    "optuna": lambda **kw: OptunaSearchCV(w.LogFit(), SPACE, n_trials=6, **kw),
    "halving": lambda **kw: HalvingSearchCV(w.LogFit(), {"alpha": w.ALPHAS[:6]},
                                            **BUDGET, **kw),
    "hyperband": lambda **kw: HyperbandSearchCV(w.LogFit(), SPACE, **BUDGET, **kw),
    "asha": lambda **kw: ASHASearchCV(w.LogFit(), SPACE, n_trials=6, sampler="random",
                                      **BUDGET, **kw),
}
BACKENDS = ["threading", "loky"] + (["fork"] if _engine._fork_available() else [])


def _lines(path):
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def interrupt_in_a_write(monkeypatch, tmp_path):
    """The second fit recorded in the store waits until the fits running then have
    finished and come back, then raises ``hold["signal"]`` inside the write; the number
    of fits finished then is ``hold["done"]``."""
    log, done = tmp_path / "fits.log", tmp_path / "done.log"
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    monkeypatch.setenv("LOGFIT_DONE", str(done))
    record_fit = store.TrialStore.record_fit
    hold = {"signal": signal.SIGINT, "calls": 0, "done": None, "log": log, "settle": 0.2}

    def interrupted(self, row, split, trial_id):
        hold["calls"] += 1
        if hold["calls"] == 2 and hold["signal"] is not None:
            end = time.monotonic() + 1.0
            while _lines(done) < _lines(log) and time.monotonic() < end:
                time.sleep(0.005)
            time.sleep(hold["settle"])  # (their results come back to this process)
            hold["done"] = _lines(done)
            signal.raise_signal(hold["signal"])
        return record_fit(self, row, split, trial_id)

    monkeypatch.setattr(store.TrialStore, "record_fit", interrupted)
    return hold


def _scores(results):
    return sorted(zip(map(repr, results["params"]), results["n_resources"]
                      if "n_resources" in results else [0] * len(results["params"]),
                      np.round(results["mean_test_score"], 12)))


CASES = [(kind, "threading") for kind in SEARCHES] + [("grid", "loky")] + (
    [("grid", "fork"), ("hyperband", "fork"), ("asha", "fork")]
    if _engine._fork_available() else [])


@pytest.mark.parametrize("kind, backend", CASES)
def test_an_interrupt_in_the_searchs_own_code_keeps_every_fit_back(
    kind, backend, interrupt_in_a_write, tmp_path, fresh_loky_workers
):
    """In memory (a notebook's resume) and, with loky, in a SQLite file (a later
    process's resume, here on threads); ASHA on fork workers pulls its jobs lazily (``Engine.run`` with a
    callable), the others hand over lists."""
    X, y = w.data()
    stored = backend == "loky"
    interrupt_in_a_write["settle"] = 0.6 if stored else 0.2  # (loky: pickled back)
    common = dict(cv=2, n_jobs=2, backend=backend, refit=False, progress=False,
                  random_state=0)
    if stored:
        common.update(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s")
    search = SEARCHES[kind](**common)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    interrupt_in_a_write["signal"] = None
    log = interrupt_in_a_write["log"]
    finished, before = interrupt_in_a_write["done"], _lines(log)
    assert finished is not None and finished >= 2
    # (loky: resumed on threads, to start its workers once)
    search.set_params(resume=True, backend="threading").fit(X, y)
    n_resumed = _lines(log) - before
    uninterrupted = SEARCHES[kind](**{**common, "storage": None, "study_name": None,
                                      "n_jobs": 1}).fit(X, y)
    n_fits = _lines(log) - before - n_resumed
    assert n_resumed <= n_fits - finished  # no finished fit fitted again
    assert _scores(search.cv_results_) == _scores(uninterrupted.cv_results_)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_in_a_write_keeps_the_rest_of_a_joblib_batch(
    sig, interrupt_in_a_write, tmp_path
):
    """SIGTERM as Ctrl-C; without a storage (a notebook) the fits are kept in memory."""
    interrupt_in_a_write["signal"] = sig
    X, y = w.data()
    search = GridSearchCV(w.LogFit(), {"alpha": w.ALPHAS[:6]}, cv=3, n_jobs=2,
                          backend="threading", refit=False, progress=False)
    with pytest.raises(KeyboardInterrupt) as exc:
        search.fit(X, y)
    assert isinstance(exc.value, _engine.SearchTerminated) == (sig == signal.SIGTERM)
    finished = interrupt_in_a_write["done"]
    assert f"{finished} finished fits are kept" in "".join(exc.value.__notes__)
    interrupt_in_a_write["signal"] = None
    before = _lines(interrupt_in_a_write["log"])
    search.set_params(resume=True).fit(X, y)
    assert _lines(interrupt_in_a_write["log"]) - before == 18 - finished


def test_engine_stop_returns_what_came_back_and_nothing_of_an_earlier_run(
    tmp_path, monkeypatch
):
    """``Engine.stop``: the results back but not taken (the one given last included);
    for a run never started, nothing (not what an earlier run left)."""
    from sklearn.metrics import check_scoring

    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    X, y = w.data()
    folds = [(np.arange(30, 60), np.arange(30)), (np.arange(30), np.arange(30, 60))]
    tasks = [_engine.Task(c, s, {"alpha": a}, train, test)
             for c, a in enumerate([0.1, 1.0, 10.0]) for s, (train, test) in enumerate(folds)]
    with _engine.Engine(w.LogFit(), X, y, scorer=check_scoring(w.LogFit()), n_jobs=2,
                        backend="threading") as engine:
        results = engine.run(tasks)
        first = next(results)
        time.sleep(0.2)  # (the other fits finish)
        rest = engine.stop(results)
        assert rest[0] is first
        assert sorted((o["candidate"], o["split"]) for o in rest) == [
            (c, s) for c in range(3) for s in range(2)]
        engine._pending.append(first)  # (left by a run nobody stopped)
        assert engine.stop(engine.run(tasks)) == []


class _CtrlCInAFinalizer:
    """An object whose finalizer gets the Ctrl-C (as one of SQLAlchemy's may)."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def test_a_ctrl_c_in_a_finalizer_after_the_fits_still_stops_the_search(monkeypatch):
    """A Ctrl-C landing in a garbage collector callback once the fits are done (the
    store closing, the refit): Python printed "Exception ignored" and the search went
    on to its end. Now it is sent again and stops the search (or the code right after
    ``fit``)."""
    from hpsearch.model_selection import _base

    complete = _base.BaseSearchCV._complete_results

    def collected(self, results):
        _CtrlCInAFinalizer()  # (collected at once: its finalizer runs here)
        return complete(self, results)

    monkeypatch.setattr(_base.BaseSearchCV, "_complete_results", collected)
    X, y = w.data()
    search = GridSearchCV(w.LogFit(), {"alpha": [0.1, 1.0]}, cv=2, progress=False)
    monkeypatch.setenv("LOGFIT_LOG", os.devnull)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
        time.sleep(0.5)  # (sent again 20 ms later)


@pytest.mark.skipif(not _engine._fork_available(), reason="no fork workers here")
def test_a_full_disk_while_a_fit_is_recorded_stops_cleanly_and_the_resume_finishes(
    monkeypatch, tmp_path
):
    """A store write failing with ENOSPC (fork workers): the error names the study and
    counts the fits recorded (not the one whose write failed), the engine's generator
    closes without an error of its own after its pool closed, and a
    resume ends with the results of an uninterrupted run."""
    import errno
    import gc
    import sys

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    record_fit, calls = store.TrialStore.record_fit, []

    def full(self, row, split, trial_id):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return record_fit(self, row, split, trial_id)

    monkeypatch.setattr(store.TrialStore, "record_fit", full)
    X, y = w.data()
    common = dict(cv=2, n_jobs=2, backend="fork", refit=False, progress=False,
                  storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s")
    with pytest.raises(OSError, match="No space left") as exc:
        GridSearchCV(w.LogFit(), {"alpha": w.ALPHAS[:3]}, **common).fit(X, y)
    # (was: "the 2 fits": the one whose write failed too)
    assert "hpsearch: the 1 fits this run finished before the error are recorded" in (
        exc.value.__notes__[0])
    gc.collect()
    assert unraisable == []
    monkeypatch.setattr(store.TrialStore, "record_fit", record_fit)
    resumed = GridSearchCV(w.LogFit(), {"alpha": w.ALPHAS[:3]}, resume=True, **common)
    fresh = GridSearchCV(w.LogFit(), {"alpha": w.ALPHAS[:3]}, cv=2, refit=False,
                         progress=False)
    assert _scores(resumed.fit(X, y).cv_results_) == _scores(fresh.fit(X, y).cv_results_)
