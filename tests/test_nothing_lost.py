"""Nothing lost, nothing harmed: finished work survives, no fit runs twice, a dying worker
or process does not harm the search or its study.

Complements ``test_durable.py`` (kills at fixed points) and ``test_engine_robust.py``
(dead workers): each test here failed before the fix it comes with.
"""

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import durable_worker as w
import nothing_lost_worker as nl
from hpsearch.model_selection import GridSearchCV, OptunaSearchCV, RandomSearchCV, _engine
from hpsearch.model_selection.store import StudyMismatch
from hpsearch.space import Float

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

fork_only = pytest.mark.skipif(
    not _engine._fork_available(), reason="workers cannot be started by fork here"
)


# --------------------------------------------------------------- n_jobs > number of fits
@pytest.fixture
def pool_sizes(monkeypatch):
    """The number of processes each fork pool starts."""
    sizes = []
    start = _engine._ForkPool.start

    def spy(pool):
        sizes.append(pool.n_workers)
        return start(pool)

    monkeypatch.setattr(_engine._ForkPool, "start", spy)
    return sizes


SEARCHES = {
    "grid": lambda **kw: GridSearchCV(w.LogFit(), {"alpha": [0.1, 1.0]}, **kw),
    "random": lambda **kw: RandomSearchCV(w.LogFit(), {"alpha": Float(0.01, 1.0)},
                                          n_iter=2, **kw),
    "optuna": lambda **kw: OptunaSearchCV(w.LogFit(), {"alpha": Float(0.01, 1.0)},
                                          n_trials=2, **kw),
}


@fork_only
@pytest.mark.parametrize("kind", SEARCHES)
def test_n_jobs_above_the_number_of_fits_forks_one_worker_per_fit(
    kind, pool_sizes, tmp_path, monkeypatch
):
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    X, y = w.data()
    common = dict(cv=3, random_state=0, refit=False, progress=False)
    many = SEARCHES[kind](n_jobs=40, backend="fork", **common).fit(X, y)
    assert pool_sizes == [6]  # 2 candidates x 3 splits, not 40 processes
    assert many.backend_ == "fork"
    one = SEARCHES[kind](n_jobs=1, **common).fit(X, y)
    assert list(many.cv_results_["params"]) == list(one.cv_results_["params"])
    np.testing.assert_array_equal(many.cv_results_["mean_test_score"],
                                  one.cv_results_["mean_test_score"])


# ----------------------------------------------------- per-fit seeds across processes
def _scores(results):
    """{params: mean test score} of ``cv_results_``."""
    return {repr(p): s for p, s in zip(results["params"], results["mean_test_score"])}


def test_a_candidates_seeds_do_not_depend_on_the_order_it_is_met_in(tmp_path, monkeypatch):
    """A candidate's fits are seeded from its parameters (was: from the order this process
    met its candidates in, so a resumed or shared study mixed fits seeded otherwise)."""
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    X, y = w.data()
    grid = {"alpha": [0.01, 1.0, 10.0]}
    common = dict(cv=2, random_state=0, refit=False, progress=False)
    forward = GridSearchCV(nl.SeedFit(), grid, **common).fit(X, y)
    backward = GridSearchCV(nl.SeedFit(), {"alpha": grid["alpha"][::-1]}, **common).fit(X, y)
    assert _scores(forward.cv_results_) == _scores(backward.cv_results_)


class _Plain:
    """A parameter value whose text holds its address."""


def test_a_seed_id_does_not_depend_on_object_addresses():
    from hpsearch.model_selection._base import _seed_id

    a, b = _Plain(), _Plain()  # (both alive: two addresses)
    assert repr(a) != repr(b)
    assert _seed_id({"tag": a, "alpha": 1.0}) == _seed_id({"alpha": 1.0, "tag": b})
    assert _seed_id({"alpha": 1.0}) != _seed_id({"alpha": 2.0})


def _run(kind, storage, out, log, resume, delay):
    path = os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, LOGFIT_LOG=str(log), LOGFIT_DELAY=str(delay),
               NL_BARRIER=str(log) + ".barrier")
    return subprocess.Popen(
        [sys.executable, str(HERE / "nothing_lost_worker.py"), kind, str(storage), "s",
         "1" if resume else "0", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_processes_sharing_an_optuna_study_score_as_one_process(tmp_path, monkeypatch):
    """Two processes on one Optuna study fit each trial once and end with the scores
    one uninterrupted process gets (was: a trial fitted by the other process was seeded
    by its place in that process, five of six candidates scored otherwise)."""
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "reference.log"))
    reference = nl.make_search("optuna", None, None, False).fit(*w.data()).cv_results_
    log = tmp_path / "fits.log"
    procs = [_run("optuna", tmp_path / "s.db", tmp_path / f"{i}.pkl", log, resume=True,
                  delay=0.05) for i in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for i in range(2):
        with open(tmp_path / f"{i}.pkl", "rb") as f:
            assert _scores(pickle.load(f)) == _scores(reference)
    fits = [line.split()[0] for line in log.read_text().splitlines()]
    assert len(fits) == 4 * 2  # each fit once
    assert len(set(fits)) == 2  # both processes fitted trials


# ------------------------------------------------------------- resume: the same seeds
def _interrupted(tmp_path, monkeypatch, random_state):
    """A grid search on a SQLite study stopped by Ctrl-C in its fourth fit."""
    db = str(tmp_path / "s.db")
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    monkeypatch.setenv("LOGFIT_INTERRUPT_AFTER", "3")
    search = nl.make_search("grid", db, "s", False, random_state)
    with pytest.raises(KeyboardInterrupt):
        search.fit(*w.data())
    monkeypatch.delenv("LOGFIT_INTERRUPT_AFTER")
    return db, search.study_


def test_resume_with_another_random_state_is_refused(tmp_path, monkeypatch):
    """Its fits would be seeded otherwise than the recorded ones (was: silently mixed)."""
    db, _ = _interrupted(tmp_path, monkeypatch, random_state=0)
    with pytest.raises(StudyMismatch, match="'random_state' parameter of GridSearchCV") as exc:
        nl.make_search("grid", db, "s", True, random_state=1).fit(*w.data())
    assert exc.value.setting == "random_state"
    assert "Use random_state=0" in str(exc.value)
    resumed = nl.make_search("grid", db, "s", True, random_state=0).fit(*w.data())
    fresh = nl.make_search("grid", None, None, False, random_state=0).fit(*w.data())
    assert _scores(resumed.cv_results_) == _scores(fresh.cv_results_)


def test_resume_with_random_state_none_continues_with_the_recorded_seed(
    tmp_path, monkeypatch
):
    """random_state=None draws a master seed per fit; a resume takes the study's (was: a
    fresh one, so the resumed fits mixed two seeds: no uninterrupted run gives that)."""
    db, study = _interrupted(tmp_path, monkeypatch, random_state=None)
    seed = int(study._storage.get_study_system_attrs(study._study_id)["hpsearch_seed"])
    resumed = nl.make_search("grid", db, "s", True, random_state=None).fit(*w.data())
    fresh = nl.make_search("grid", None, None, False, random_state=seed).fit(*w.data())
    assert _scores(resumed.cv_results_) == _scores(fresh.cv_results_)


# ------------------------------------------------------ a worker that exits inside fit
@pytest.mark.parametrize("backend", [pytest.param("fork", marks=fork_only), "loky"])
@pytest.mark.usefixtures("fresh_loky_workers")  # (they must see LOGFIT_LOG)
def test_a_worker_exiting_in_fit_is_a_failed_fit_named_by_its_exit_code(
    backend, tmp_path, monkeypatch
):
    """Not fatal, and the same words on both backends (was "worker died: EXIT" on loky,
    whose "{EXIT(3)}" was read as a signal name)."""
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    search = GridSearchCV(nl.Exits(), {"alpha": [1.0, 0]}, cv=2, n_jobs=2, backend=backend,
                          refit=False, progress=False, max_retries=0)
    with pytest.warns(UserWarning):  # sklearn's FitFailedWarning
        search.fit(*w.data())
    assert np.isfinite(search.cv_results_["mean_test_score"][0])
    assert "worker died: exit code 3" in search.cv_results_["error"][1]


@pytest.mark.parametrize("kind", ["random", "halving", "asha"])
def test_a_search_drawing_candidates_with_random_state_none_resumes_its_own(
    kind, tmp_path, monkeypatch
):
    """With random_state=None and a storage the candidates are drawn from the study's
    master seed, so a resume draws them again and fits only what is missing (was: new
    candidates from NumPy's global generator, or a sampler seeded by it: every finished
    fit lost)."""
    from hpsearch.model_selection import ASHASearchCV, HalvingSearchCV

    def make(**kw):
        space = {"alpha": Float(1e-3, 30.0, log=True)}
        common = dict(cv=3, refit=False, progress=False, **kw)
        budget = dict(min_resources=1, max_resources=9)
        return {
            "random": lambda: RandomSearchCV(nl.SeedFit(), space, n_iter=4, **common),
            "halving": lambda: HalvingSearchCV(nl.SeedFit(), space, **budget, **common),
            "asha": lambda: ASHASearchCV(nl.SeedFit(), space, n_trials=4, sampler="random",
                                         **budget, **common),
        }[kind]()

    X, y = w.data()
    log, db = tmp_path / "fits.log", str(tmp_path / "s.db")
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    monkeypatch.setenv("LOGFIT_INTERRUPT_AFTER", "6")
    first = make(storage=db, study_name="s")
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, y)
    monkeypatch.delenv("LOGFIT_INTERRUPT_AFTER")
    study = first.study_
    seed = int(study._storage.get_study_system_attrs(study._study_id)["hpsearch_seed"])
    before = len(log.read_text().splitlines())  # 6 finished, the 7th interrupted
    resumed = make(storage=db, study_name="s", resume=True).fit(X, y)
    after = len(log.read_text().splitlines())
    fresh = make(random_state=seed).fit(X, y)
    total = len(log.read_text().splitlines()) - after
    assert after - before == total - 6  # only the missing fits
    assert _scores(resumed.cv_results_) == _scores(fresh.cv_results_)


@pytest.mark.parametrize("kind", ["random", "halving", "hyperband", "asha"])
def test_an_interrupted_search_without_storage_resumes_its_own_candidates(
    kind, tmp_path, monkeypatch
):
    """random_state=None and no storage (a notebook): Ctrl-C, then, as the message says,
    ``set_params(resume=True)`` and ``fit`` again. The resume draws the candidates the
    interrupted fit drew (NumPy's global generator, replayed) and fits only what is
    missing (was: new candidates, every finished fit lost: 19 fits of 18 after 6 had
    finished). Drawn as a fresh fit from the same global state would draw them."""
    from hpsearch.model_selection import ASHASearchCV, HalvingSearchCV, HyperbandSearchCV

    def make():
        space = {"alpha": Float(1e-3, 30.0, log=True)}
        common = dict(cv=3, refit=False, progress=False, n_jobs=1)
        budget = dict(min_resources=1, max_resources=9)
        return {
            "random": lambda: RandomSearchCV(nl.SeedFit(), space, n_iter=4, **common),
            "halving": lambda: HalvingSearchCV(nl.SeedFit(), space, **budget, **common),
            "hyperband": lambda: HyperbandSearchCV(nl.SeedFit(), space, **budget, **common),
            "asha": lambda: ASHASearchCV(nl.SeedFit(), space, n_trials=4, sampler="random",
                                         **budget, **common),
        }[kind]()

    X, y = w.data()
    log = tmp_path / "fits.log"
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    monkeypatch.setenv("LOGFIT_INTERRUPT_AFTER", "6")
    np.random.seed(7)
    search = make()
    with pytest.raises(KeyboardInterrupt, match="") as exc:
        search.fit(X, y)
    assert "kept in memory" in "".join(getattr(exc.value, "__notes__", []))
    monkeypatch.delenv("LOGFIT_INTERRUPT_AFTER")
    np.random.rand(5)  # the global generator moves on before the resume
    before = len(log.read_text().splitlines())  # 6 finished, the 7th interrupted
    search.set_params(resume=True).fit(X, y)
    resumed = len(log.read_text().splitlines()) - before
    np.random.seed(7)
    fresh = make().fit(X, y)  # (its own per-fit seeds: its promotions may differ)

    def candidates(results):
        return sorted({repr(p) for p in results["params"]})

    assert candidates(search.cv_results_) == candidates(fresh.cv_results_)
    assert resumed == 3 * len(search.cv_results_["params"]) - 6  # only the missing fits
    assert not hasattr(search, "_interrupted_draws")  # finished: nothing kept


# ------------------------------------------- finished joblib batches not yet handed out
@pytest.fixture
def held_joblib_results(monkeypatch):
    """joblib's main-thread loop (``Parallel._retrieve``) first waits until every batch
    dispatched but ``hold["running"]`` has finished and come back (a main thread busy
    while the workers finish), then calls ``hold["then"]()`` (if set) and hands the
    results out as usual."""
    import joblib.parallel

    retrieve = joblib.parallel.Parallel._retrieve
    hold = {"then": None, "running": 0}

    def held(parallel):
        end = time.monotonic() + 2.0
        while (len(parallel._jobs) < parallel.n_dispatched_batches - hold["running"]
               and time.monotonic() < end):
            time.sleep(0.002)
        then, hold["then"] = hold["then"], None
        if then is not None:
            then()
        yield from retrieve(parallel)

    monkeypatch.setattr(joblib.parallel.Parallel, "_retrieve", held)
    return hold


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, _engine.SearchTerminated])
def test_ctrl_c_on_joblib_keeps_the_fits_that_came_back_before_it(
    held_joblib_results, tmp_path, monkeypatch, interrupt
):
    """A Ctrl-C (or SIGTERM) while joblib's batches had finished (loky, threading, Dask)
    but were not handed to the search yet: joblib aborted and dropped them, so the resume
    fitted them again (was: all 6 of 6 finished fits ran again). Now they are recorded
    before the interrupt goes on, and the resume fits nothing."""
    def ctrl_c():
        raise interrupt

    X, y = w.data()
    log = tmp_path / "fits.log"
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    search = GridSearchCV(w.LogFit(), {"alpha": [0.1, 1.0, 10.0]}, cv=2, n_jobs=3,
                          backend="threading", refit=False, progress=False)
    held_joblib_results["then"] = ctrl_c
    with pytest.raises(interrupt):
        search.fit(X, y)
    assert len(log.read_text().splitlines()) == 6  # (every fit had finished)
    search.set_params(resume=True).fit(X, y)
    assert len(log.read_text().splitlines()) == 6  # the resume fitted none again
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


class _LastSlow(w.LogFit):
    """LogFit, 0.3 s slower for alpha=10."""

    def fit(self, X, y):
        time.sleep(0.3 if self.alpha == 10.0 else 0.0)
        return super().fit(X, y)


@pytest.mark.parametrize("slow", [False, True])
def test_joblib_timeout_keeps_the_fits_that_came_back_before_it(
    held_joblib_results, tmp_path, monkeypatch, slow
):
    """The search's ``timeout`` passed while finished joblib batches waited: the engine
    stopped at the first result and joblib dropped the rest (was: 1 of 6 finished fits
    kept; with 2 fits still running: 1 of 4). Now every finished fit is handed out (a
    running one is not waited for)."""
    from sklearn.metrics import check_scoring

    held_joblib_results["running"] = 2 * slow
    X, y = w.data()
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    folds = [(np.arange(30, 60), np.arange(30)), (np.arange(30), np.arange(30, 60))]
    tasks = [_engine.Task(c, s, {"alpha": a}, train, test)
             for c, a in enumerate([0.1, 1.0, 10.0])
             for s, (train, test) in enumerate(folds)]
    with _engine.Engine(_LastSlow(), X, y, scorer=check_scoring(w.LogFit()), n_jobs=3,
                        backend="threading", timeout=0.2) as engine:
        def past_the_deadline():
            time.sleep(max(0.0, engine.deadline - time.monotonic()) + 0.01)

        held_joblib_results["then"] = past_the_deadline
        outs = list(engine.run(tasks))
        assert engine.expired
    assert sorted((o["candidate"], o["split"]) for o in outs) == [
        (c, s) for c in range(3 - slow) for s in range(2)]
    assert all(o["error"] is None for o in outs)
