"""ASHASearchCV runs the trials an Optuna user enqueued (``study.enqueue_trial``) in its
study: each becomes a candidate at the bottom rung before any drawn one, ends COMPLETE,
PRUNED or FAIL like ASHA's own trials, is taken by one process only, and resumes after a
SIGKILL without being fitted twice. It was left WAITING (with a warning).

Fits are counted by :class:`LoggingRidge` (one line per fit: process id, alpha, rows)."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.linear_model import Ridge

from hpsearch import ASHASearchCV
from hpsearch.model_selection.space import Float
from hpsearch.model_selection.store import make_storage, recorded_fits

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SPACE = {"alpha": Float(1e-2, 1e2, log=True), "fit_intercept": [True, False]}
N_ROWS = 120


class LoggingRidge(Ridge):
    """Ridge that logs each fit to ``HPSEARCH_FIT_LOG``, sleeps ``HPSEARCH_FIT_SLEEP``
    s, and SIGKILLs its own process at fit number ``HPSEARCH_KILL_AT`` (in-process
    fits: ``n_jobs=1``)."""

    def fit(self, X, y, sample_weight=None):
        log = os.environ.get("HPSEARCH_FIT_LOG")
        if log:
            with open(log, "a") as f:
                f.write(json.dumps([os.getpid(), self.alpha, self.fit_intercept,
                                    len(X)]) + "\n")
            kill_at = os.environ.get("HPSEARCH_KILL_AT")
            if kill_at and len(Path(log).read_text().splitlines()) >= int(kill_at):
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(os.environ.get("HPSEARCH_FIT_SLEEP", "0")))
        return super().fit(X, y)


def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(N_ROWS, 5))
    return X, X @ rng.normal(size=5) + 0.5 * rng.normal(size=N_ROWS)


def make_search(storage, n_trials=6, study_name="s", **kw):
    kw = {"resource": "n_samples", "min_resources": 20, "max_resources": 60, "cv": 2,
          "random_state": 0, "n_jobs": 1, "refit": False, "progress": False,
          "resume": True, **kw}
    return ASHASearchCV(LoggingRidge(), SPACE, n_trials=n_trials, storage=storage,
                        study_name=study_name, **kw)


def enqueue(storage, configs, study_name="s"):
    study = optuna.create_study(storage=make_storage(str(storage)), study_name=study_name,
                                direction="maximize")
    for params in configs:
        study.enqueue_trial(params)


def worker(storage, out, ready=None, n_trials=6):
    """Entry point of a process: wait for its siblings (``ready`` files), run the
    search, write its rows as JSON to ``out``."""
    import warnings

    warnings.simplefilter("ignore")
    search = make_search(storage, n_trials=n_trials)
    if ready:
        Path(ready[0]).touch()
        deadline = time.time() + 60
        while not all(Path(p).exists() for p in ready) and time.time() < deadline:
            time.sleep(0.02)
    search.fit(*data())
    res = search.cv_results_
    Path(out).write_text(json.dumps({"params": list(res["params"]),
                                     "candidate": [int(c) for c in res["candidate"]]}))


def _start(tmp_path, name, storage, log, **kw):
    out = tmp_path / f"{name}.json"
    env = dict(os.environ, HPSEARCH_FIT_LOG=str(log), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE),
                                           os.environ.get("PYTHONPATH", "")]))
    env.update({k: str(v) for k, v in kw.pop("env", {}).items()})
    args = "".join(f", {k}={v!r}" for k, v in kw.items())
    code = (f"from test_asha_enqueued import worker; "
            f"worker({str(storage)!r}, {str(out)!r}{args})")
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(tmp_path)), out


def _fits(log):
    """The logged cross-validation fits ``[pid, alpha, fit_intercept, rows]``."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _resume_runs_the_enqueued_trial_once(storage, tmp_path, monkeypatch):
    """A resume (3 trials) runs the enqueued GOOD first, once (its 2 rung-0 fits), and
    leaves no trial WAITING or RUNNING."""
    log = tmp_path / "fits.log"
    monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
    search = make_search(storage, n_trials=3).fit(*data())
    assert search.cv_results_["params"][0] == GOOD
    assert [f[1:] for f in _fits(log)].count([0.01, True, 20]) == 2  # (rung 0, cv=2)
    assert not [t for t in _trials(storage) if t.state.name in ("WAITING", "RUNNING")]


def _trials(storage):
    return optuna.load_study(study_name="s", storage=make_storage(str(storage))).trials


GOOD = {"alpha": 0.01, "fit_intercept": True}  # the best candidate on this data
WEAK = {"alpha": 100.0}  # fit_intercept drawn


@pytest.mark.filterwarnings("ignore:The enqueued value:UserWarning")  # (the resume)
def test_enqueued_trials_are_asha_candidates_first(tmp_path, monkeypatch):
    """Enqueued configurations are the first candidates (before the drawn ones, which
    stay those of a study without them), promoted by ASHA's rule, and their trials end
    COMPLETE or PRUNED; a value of the wrong type is a FAIL trial whose message names the
    parameter, the rule and the value; one out of range runs with Optuna's warning. A
    resume replays them: nothing is fitted again."""
    storage, log = tmp_path / "s.db", tmp_path / "fits.log"
    monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
    enqueue(storage, [GOOD, {"alpha": "big"}, WEAK, {"alpha": 1e3, "fit_intercept": False}])
    with pytest.warns(UserWarning) as caught:
        search = make_search(str(storage)).fit(*data())
    messages = [str(w.message) for w in caught]
    assert any("parameter 'alpha' (trial 1 of study 's') must be a finite real number. "
               "Got 'big' instead." in m for m in messages), messages
    assert any("parameter 'alpha' (trial 3 of study 's') is out of range" in m
               for m in messages), messages
    res = search.cv_results_
    firsts = [p for p, k in zip(res["params"], res["iter"]) if k == 0]
    assert firsts[0] == GOOD and firsts[1]["alpha"] == 100.0
    assert firsts[2] == {"alpha": 1e3, "fit_intercept": False}
    plain = make_search(None, study_name=None, resume=False).fit(*data())
    drawn = [p for p, k in zip(plain.cv_results_["params"], plain.cv_results_["iter"])
             if k == 0]
    assert firsts[3:] == drawn[:3]  # the drawn candidates are unchanged
    best = [s for c, k, s in zip(res["candidate"], res["iter"], res["state"]) if c == 0]
    assert best == ["promoted", "complete"]  # the usual promotion rule, to the top rung
    trials = _trials(storage)
    assert [t.state.name for t in trials[:4]] == ["COMPLETE", "FAIL", "PRUNED", "PRUNED"]
    assert "must be a finite real number" in trials[1].user_attrs["hpsearch_invalid"]
    assert trials[0].params == GOOD and trials[0].system_attrs["fixed_params"] == GOOD
    assert not [t for t in trials if t.state.name in ("WAITING", "RUNNING")]
    n_fits = len(_fits(log))
    again = make_search(str(storage)).fit(*data())
    assert len(_fits(log)) == n_fits  # replayed from the store, nothing fitted again
    assert again.cv_results_["params"] == res["params"]
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"],
                                  res["mean_test_score"])


def test_a_sigkilled_enqueued_candidate_resumes(tmp_path, monkeypatch):
    """The process is SIGKILLed in the second split of the enqueued candidate's job: the
    resume fits that split only, and ends as a run never killed (the enqueued trial is
    closed FAIL, interrupted, its candidate finished in a new trial, as ASHA's own)."""
    storage, log = tmp_path / "cut.db", tmp_path / "fits.log"
    enqueue(storage, [GOOD])
    proc, _ = _start(tmp_path, "cut", storage, log, env={"HPSEARCH_KILL_AT": 2})
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert recorded_fits(optuna.load_study(study_name="s",
                                           storage=make_storage(str(storage)))) == 1
    monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
    resumed = make_search(str(storage)).fit(*data())
    fits = _fits(log)
    # split 0, split 1 (killed), split 1 again: split 0 was not fitted again
    assert sum(f[1:] == [0.01, True, 20] for f in fits) == 3
    whole = make_search(str(tmp_path / "whole.db"))
    enqueue(tmp_path / "whole.db", [GOOD])
    monkeypatch.delenv("HPSEARCH_FIT_LOG")
    full = whole.fit(*data()).cv_results_
    assert len(fits) == 1 + 2 * len(full["params"])  # 1: the fit in flight at the kill
    assert resumed.cv_results_["params"] == full["params"]
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  full["mean_test_score"])
    trials = _trials(storage)
    assert trials[0].state.name == "FAIL" and trials[0].user_attrs["hpsearch_interrupted"]
    assert not [t for t in trials if t.state.name in ("WAITING", "RUNNING")]


def test_two_processes_take_each_enqueued_trial_once(tmp_path):
    """Two processes started together on one storage: every enqueued configuration is
    run once (each of its fits by one process), its trial ends COMPLETE or PRUNED, and
    both processes end with all of them."""
    storage, log = tmp_path / "shared.db", tmp_path / "fits.log"
    configs = [{"alpha": a, "fit_intercept": True} for a in (0.02, 0.2, 2.0, 20.0)]
    enqueue(storage, configs)
    ready = [str(tmp_path / f"{i}.ready") for i in range(2)]
    started = [_start(tmp_path, str(i), storage, log, ready=ready[i:] + ready[:i],
                      n_trials=4, env={"HPSEARCH_FIT_SLEEP": 0.05}) for i in range(2)]
    for proc, _ in started:
        assert proc.wait(timeout=120) == 0
    fits = _fits(log)
    study = optuna.load_study(study_name="s", storage=make_storage(str(storage)))
    assert len(fits) == recorded_fits(study)  # no fit ran twice
    for config in configs:
        assert sum(f[1:] == [config["alpha"], True, 20] for f in fits) == 2
    trials = study.trials
    assert [t.state.name in ("COMPLETE", "PRUNED") for t in trials[:4]] == [True] * 4
    assert [t.params for t in trials[:4]] == configs
    assert not [t for t in trials if t.state.name in ("WAITING", "RUNNING")]
    for _, out in started:
        params = json.loads(out.read_text())["params"]
        assert all(c in params for c in configs)
    takers = [{f[0] for f in fits if f[1:] == [c["alpha"], True, 20]} for c in configs]
    print(f"enqueued configurations taken by processes {takers}; {len(fits)} fits")


def test_an_asha_taking_an_enqueued_trial_is_refused_while_a_halving_holds_the_study(
        tmp_path):
    """An enqueued trial is older than the searches: taken as an ASHA process's first
    trial, its low id made that process look first in the study, so a live halving
    holding it did not refuse the ASHA (both ran in the study). The ASHA is now placed
    by the trials of the moment it claims, and refused."""
    from hpsearch.model_selection.store import TrialStore

    storage = str(tmp_path / "s.db")
    enqueue(storage, [{"alpha": 1.0}])
    halving = TrialStore(storage, "s", resume=True)
    halving.alone = True  # (as HalvingSearchCV sets it)
    halving.claim_budgeted({"params": {"h": 1.0}, "candidate_key": "h", "key": "h@1"},
                           "HalvingSearchCV")
    asha = TrialStore(storage, "s", resume=True)
    asha.group = "asha"
    try:
        trial = asha.pop_enqueued()
        assert trial.number == 0 and asha.pop_enqueued() is None
        row = {"params": {"alpha": 1.0}, "candidate_key": "x", "key": "x@1"}
        with pytest.raises(RuntimeError, match="is running a HalvingSearchCV in it"):
            asha.claim_candidate(row, trial_id=trial._trial_id)
        trials = asha.study.get_trials()  # (then, on SQLite, the ASHA's ticket)
        assert [t.state.name for t in trials[:2]] == ["FAIL", "RUNNING"]
        assert trials[0].user_attrs["hpsearch_duplicate"]
    finally:
        halving.close()
        asha.close()


def test_of_two_processes_that_both_set_an_enqueued_trial_running_one_takes_it(tmp_path):
    """SQLite has no row lock: two processes that read an enqueued trial WAITING at the
    same moment may both set it RUNNING (Optuna's check passes for each), and both ran
    it. The first ticket now takes it; the other process goes on without it."""
    from hpsearch.model_selection.store import TrialStore

    storage = str(tmp_path / "s.db")
    enqueue(storage, [{"alpha": 1.0}])
    first, second = TrialStore(storage, "s", resume=True), TrialStore(storage, "s",
                                                                     resume=True)
    try:
        Waiting = optuna.trial.TrialState.WAITING
        stale = second._storage.get_all_trials(second._study_id, states=(Waiting,))
        second.mark_popping(stale)  # (before its update reads the trial, as pop_enqueued)
        trial = first.pop_enqueued()
        assert trial.number == 0
        # the second process read the trial WAITING before the first set it RUNNING,
        # and its update went through as well (what SQLite allows)
        get_all = second._storage.get_all_trials
        set_state = second._storage.set_trial_state_values
        second._storage.get_all_trials = lambda study_id, deepcopy=True, states=None: (
            stale if states == (Waiting,) else get_all(study_id, deepcopy, states))
        second._storage.set_trial_state_values = lambda trial_id, state, values=None: (
            True if state.name == "RUNNING" else set_state(trial_id, state, values))
        assert second.pop_enqueued() is None
        held = first.study.trials[0]
        assert held.state.name == "RUNNING"
        assert held.user_attrs["hpsearch_owner"] == first.owner
    finally:
        first.close()
        second.close()


def test_an_enqueued_trial_taken_by_a_killed_process_is_enqueued_again(tmp_path):
    """A process killed between taking an enqueued trial (RUNNING, its owner written)
    and making it a candidate left it RUNNING for good, never run. A resume closes it
    (FAIL, interrupted) and enqueues its parameters again, so they run."""
    storage = tmp_path / "s.db"
    enqueue(storage, [GOOD])
    study = optuna.load_study(study_name="s", storage=make_storage(str(storage)))
    taken = study.trials[0]._trial_id
    study._storage.set_trial_state_values(taken, optuna.trial.TrialState.RUNNING)
    study._storage.set_trial_user_attr(taken, "hpsearch_owner", "elsewhere/boot/1/0#1")
    search = make_search(str(storage), n_trials=3).fit(*data())
    assert search.cv_results_["params"][0] == GOOD
    trials = _trials(storage)
    assert trials[0].state.name == "FAIL" and trials[0].user_attrs["hpsearch_interrupted"]
    assert trials[1].system_attrs["fixed_params"] == GOOD
    assert trials[1].state.name in ("COMPLETE", "PRUNED")
    assert not [t for t in trials if t.state.name in ("WAITING", "RUNNING")]


class _Killed(BaseException):
    """Stands for a SIGKILL: nothing of the process runs after it."""


def _dies_after(store, kill_after, names):
    """Make the storage writes ``names`` of ``store`` raise :class:`_Killed` right after
    the ``kill_after``-th of them is done; returns the list the writes are logged in."""
    writes = []

    def dying(method):
        def call(*args, **kwargs):
            out = method(*args, **kwargs)
            writes.append(args)
            if len(writes) == kill_after:
                raise _Killed
            return out
        return call

    for name in names:
        setattr(store._storage, name, dying(getattr(store._storage, name)))
    return writes


@pytest.mark.parametrize("kill_after", [1, 2])
def test_a_process_killed_while_taking_an_enqueued_trial_leaves_it_to_a_resume(
        tmp_path, monkeypatch, kill_after):
    """A process killed between setting an enqueued trial RUNNING and writing its
    owner left it RUNNING with no owner: no resume ran it (nor closed it). It marks the
    trial as its own while it is WAITING now, so the trial is always found (killed
    after its ``kill_after``-th write of ``pop_enqueued``): fitted once by the resume."""
    from hpsearch.model_selection.store import TrialStore

    storage = str(tmp_path / "s.log")
    enqueue(storage, [GOOD])
    killed = TrialStore(storage, "s", resume=True)
    _dies_after(killed, kill_after, ("set_trial_user_attr", "set_trial_state_values"))
    with pytest.raises(_Killed):
        killed.pop_enqueued()
    killed.close()  # (its process is gone: its owner id is dead)
    _resume_runs_the_enqueued_trial_once(storage, tmp_path, monkeypatch)


def test_an_ownerless_running_enqueued_trial_is_enqueued_again_after_the_grace_period(
        tmp_path, monkeypatch):
    """An enqueued trial RUNNING with no owner and no mark (taken by an older hpsearch
    killed before it wrote its owner, or a bare ``study.ask()``) is left to its taker
    for ``GRACE_PERIOD`` s, then counts as lost: enqueued again and run."""
    from hpsearch.model_selection import store as store_module

    storage = str(tmp_path / "s.log")
    enqueue(storage, [GOOD])
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    study._storage.set_trial_state_values(study.trials[0]._trial_id,
                                          optuna.trial.TrialState.RUNNING)
    search = make_search(storage, n_trials=2).fit(*data())
    assert GOOD not in search.cv_results_["params"]
    assert _trials(storage)[0].state.name == "RUNNING"
    monkeypatch.setattr(store_module, "GRACE_PERIOD", 0.0)
    search = make_search(storage, n_trials=3).fit(*data())
    assert GOOD in search.cv_results_["params"]
    trials = _trials(storage)
    assert trials[0].state.name == "FAIL" and trials[0].user_attrs["hpsearch_interrupted"]
    assert not [t for t in trials if t.state.name in ("WAITING", "RUNNING")]


class OrphaningRidge(Ridge):
    """Ridge whose first fit leaves, in the study at ``storage``, a trial enqueued with
    :data:`GOOD` that another process took and died with (RUNNING, its owner dead, not
    a candidate yet), as a process sharing the study and SIGKILLed then would."""

    storage = ""

    def fit(self, X, y, sample_weight=None):
        if OrphaningRidge.storage:
            storage, OrphaningRidge.storage = OrphaningRidge.storage, ""
            study = optuna.load_study(study_name="s", storage=make_storage(storage))
            study.enqueue_trial(GOOD)
            taken = study.trials[-1]._trial_id
            study._storage.set_trial_user_attr(taken, "hpsearch_owner", "elsewhere/b/1/0#1")
            study._storage.set_trial_state_values(taken, optuna.trial.TrialState.RUNNING)
        return super().fit(X, y)


def test_an_enqueued_trial_of_a_process_killed_during_the_run_runs_in_that_run(
        tmp_path, monkeypatch):
    """A process killed after taking an enqueued trial while another process runs the
    study: the trial was enqueued again by a resume only (when the live process had
    drawn its n_trials candidates without it, so it never ran). The live process now
    takes it at its next new candidate."""
    storage = str(tmp_path / "s.log")
    monkeypatch.setattr(OrphaningRidge, "storage", storage)
    search = ASHASearchCV(OrphaningRidge(), SPACE, n_trials=3, resource="n_samples",
                          min_resources=20, max_resources=60, cv=2, random_state=0,
                          n_jobs=1, refit=False, storage=storage, study_name="s")
    search.fit(*data())
    assert GOOD in search.cv_results_["params"]
    trials = _trials(storage)
    assert [t.state.name for t in trials].count("FAIL") == 1  # the orphan, interrupted
    assert not [t for t in trials if t.state.name in ("WAITING", "RUNNING")]


def test_an_enqueued_trial_taken_right_before_a_ctrl_c_is_run_by_the_resume(
        tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM) right after a process took an enqueued trial, before it made
    it a candidate: the search closed the trial FAIL as interrupted with the rest of
    its trials, and nothing enqueued it again (it never ran). It stays RUNNING for the
    resume, which enqueues it again and runs it, once."""
    from hpsearch.model_selection.store import TrialStore

    storage = str(tmp_path / "s.log")
    enqueue(storage, [GOOD])
    pop = TrialStore.pop_enqueued

    def interrupted(self):
        trial = pop(self)
        if trial is not None:
            raise KeyboardInterrupt
        return trial

    with monkeypatch.context() as m:
        m.setattr(TrialStore, "pop_enqueued", interrupted)
        with pytest.raises(KeyboardInterrupt):
            make_search(storage, n_trials=3).fit(*data())
    _resume_runs_the_enqueued_trial_once(storage, tmp_path, monkeypatch)


def test_a_process_killed_while_enqueuing_an_orphan_again_leaves_it_to_a_resume(
        tmp_path, monkeypatch):
    """A process enqueuing again an enqueued trial a dead process took closed it FAIL,
    then enqueued its copy: killed in between, the trial was lost (FAIL, no copy). Now,
    killed after any of its writes, the resume runs the trial's parameters once."""
    import warnings

    from hpsearch.model_selection.store import TrialStore
    from hpsearch.model_selection.strategies.asha import _Enqueued

    for kill_after in range(1, 10):
        storage = str(tmp_path / f"s{kill_after}.log")
        enqueue(storage, [GOOD])
        study = optuna.load_study(study_name="s", storage=make_storage(storage))
        taken = study.trials[0]._trial_id
        study._storage.set_trial_user_attr(taken, "hpsearch_owner", "elsewhere/b/1/0#1")
        study._storage.set_trial_state_values(taken, optuna.trial.TrialState.RUNNING)
        store = TrialStore(storage, "s", resume=True)
        writes = _dies_after(store, kill_after, (
            "set_trial_user_attr", "set_trial_state_values", "create_new_trial"))
        enqueued = object.__new__(_Enqueued)
        enqueued.store = store
        try:
            enqueued._enqueue_orphans()
        except _Killed:
            pass
        store.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (no copy refused as a duplicate)
            search = make_search(storage, n_trials=1, min_resources=60).fit(*data())
        assert search.cv_results_["params"] == [GOOD], kill_after
        assert not [t for t in _trials(storage) if t.state.name in ("WAITING", "RUNNING")]
        if len(writes) < kill_after:  # done without being killed
            break


def test_an_orphan_closed_and_enqueued_again_by_an_older_hpsearch_is_not_copied_twice(
        tmp_path):
    """An older hpsearch's copy names no trial it replaces: a later trial holding the
    same enqueued parameters is the copy, so a resume does not enqueue a second one."""
    from hpsearch.model_selection.store import TrialStore
    from hpsearch.model_selection.strategies.asha import _Enqueued

    storage = str(tmp_path / "s.log")
    enqueue(storage, [GOOD, GOOD, WEAK])
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    for trial in study.trials[::2]:  # GOOD taken, WEAK taken: closed, interrupted
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.RUNNING)
        study._storage.set_trial_user_attr(trial._trial_id, "hpsearch_interrupted", True)
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    store = TrialStore(storage, "s", resume=True)
    enqueued = object.__new__(_Enqueued)
    enqueued.store = store
    enqueued._enqueue_orphans(closed=True)
    store.close()
    waiting = [t.system_attrs["fixed_params"] for t in _trials(storage)
               if t.state.name == "WAITING"]
    assert waiting == [GOOD, WEAK]  # GOOD's copy was there; WEAK's was missing


def test_a_trial_another_process_took_first_and_died_with_is_run_by_the_loser(tmp_path):
    """Two processes marked an enqueued trial; the other one set it RUNNING and was
    killed before writing its owner. The live loser's own mark no longer keeps it
    from enqueuing the trial again (it waited for a later resume)."""
    from hpsearch.model_selection.store import TAKING_ATTR, TrialStore
    from hpsearch.model_selection.strategies.asha import _Enqueued

    storage = str(tmp_path / "s.log")
    enqueue(storage, [GOOD])
    store = TrialStore(storage, "s", resume=True)
    taken = store.study.trials[0]._trial_id
    for owner in ("elsewhere/b/1/0#1", store.owner):
        store._storage.set_trial_user_attr(taken, f"{TAKING_ATTR}:{owner}", True)
    store._storage.set_trial_state_values(taken, optuna.trial.TrialState.RUNNING)
    enqueued = object.__new__(_Enqueued)
    enqueued.store = store
    enqueued._enqueue_orphans()
    store.close()
    trials = _trials(storage)
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].system_attrs["fixed_params"] == GOOD


def racing_closer(storage, barrier, me, slow_enqueue=0.0, late=False):
    """Entry point of a process of the tests below: the check of its update closing the
    orphan FAIL (Optuna's, after reading the trial RUNNING) waits until the other
    process's check has read it too (what SQLite's lock-free reads allow), then the
    search runs (one candidate, one rung). ``late``: process 1 goes on from its close
    (to its ticket) only once process 0 has ended (its pid in ``done0``)."""
    import warnings

    from optuna.storages._rdb import storage as rdb

    warnings.simplefilter("ignore")
    barrier, closing, waited = Path(barrier), [], []
    set_state, check = rdb.RDBStorage.set_trial_state_values, rdb.RDBStorage.check_trial_is_updatable

    def setting(self, trial_id, state, values=None):
        closing.append(state == optuna.trial.TrialState.FAIL)
        try:
            return set_state(self, trial_id, state, values)
        finally:
            closing.pop()

    def checking(self, trial_id, state):
        check(self, trial_id, state)
        if closing and closing[-1] and not waited:
            waited.append(1)
            (barrier / me).touch()
            deadline = time.time() + 10
            while len(list(barrier.iterdir())) < 2 and time.time() < deadline:
                time.sleep(0.01)

    rdb.RDBStorage.set_trial_state_values = setting
    rdb.RDBStorage.check_trial_is_updatable = checking
    if slow_enqueue:  # (the process enqueuing the copy is slow: the other must wait)
        enqueue_trial = optuna.Study.enqueue_trial

        def slowly(self, *args, **kwargs):
            time.sleep(slow_enqueue)
            return enqueue_trial(self, *args, **kwargs)

        optuna.Study.enqueue_trial = slowly
    if late and me == "1":
        from hpsearch.model_selection.store import TrialStore

        first = TrialStore.first_to_requeue

        def after_the_other(self, orphan):
            done = barrier / "done0"
            deadline = time.time() + 60
            while not done.exists() and time.time() < deadline:
                time.sleep(0.01)
            pid = done.read_text()
            while time.time() < deadline:  # gone, or a zombie (its parent waits)
                try:
                    if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                        break
                except FileNotFoundError:
                    break
                time.sleep(0.01)
            return first(self, orphan)

        TrialStore.first_to_requeue = after_the_other
    make_search(storage, n_trials=1, min_resources=60).fit(*data())
    if late and me == "0":
        (barrier / "tmp0").write_text(str(os.getpid()))
        (barrier / "tmp0").rename(barrier / "done0")


@pytest.mark.parametrize("slow_enqueue, late", [(0.0, False), (1.0, False), (0.0, True)])
def test_an_orphan_two_processes_close_at_once_on_sqlite_is_enqueued_again_once(
        tmp_path, slow_enqueue, late):
    """Two processes resume a SQLite study whose enqueued trial a killed process took:
    both read it RUNNING before either closed it (SQLite has no row lock), so both
    closed it and each enqueued a copy (was: two copies; the second, taken by the other
    process, was closed FAIL as a duplicate after taking the place of a candidate). Now
    the first of their tickets enqueues it: one copy, its candidate fitted once.
    ``slow_enqueue``: the process enqueuing the copy takes a second to do it; the other
    waits for the copy instead of drawing the study's one candidate meanwhile (was: it
    drew it, and the copy stayed WAITING; 1 run in ~15 under load without the delay).
    ``late``: the other process takes its ticket only after the first one enqueued the
    copy, ran it and ended (a process stalled that long on a loaded machine); the first
    one's ticket no longer counts, dead, but its copy is there (was: a second copy,
    its candidate fitted again)."""
    storage = str(tmp_path / "s.db")
    enqueue(storage, [GOOD])
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    taken = study.trials[0]._trial_id
    study._storage.set_trial_user_attr(taken, "hpsearch_owner", "elsewhere/b/1/0#1")
    study._storage.set_trial_state_values(taken, optuna.trial.TrialState.RUNNING)
    barrier, log = tmp_path / "barrier", tmp_path / "fits.log"
    barrier.mkdir()
    env = dict(os.environ, HPSEARCH_FIT_LOG=str(log), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE),
                                           os.environ.get("PYTHONPATH", "")]))
    procs = [subprocess.Popen(
        [sys.executable, "-c", "from test_asha_enqueued import racing_closer; "
         f"racing_closer({storage!r}, {str(barrier)!r}, {str(i)!r}, {slow_enqueue}, "
         f"{late})"],
        env=env, cwd=str(tmp_path)) for i in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(list(barrier.iterdir())) == 2 + late  # (both read it RUNNING)
    trials = _trials(storage)
    copies = [t for t in trials if t.user_attrs.get("hpsearch_requeued_from") == taken]
    assert len(copies) == 1 and copies[0].state.name == "COMPLETE"
    assert [f[1:] for f in _fits(log)].count([0.01, True, 60]) == 2  # once (cv=2)
    assert not [t for t in trials if t.state.name in ("WAITING", "RUNNING")]



def slow_adopter(storage, taken, delay, wait_for=None):
    """Entry point of a process of the tests below: it takes an enqueued trial (after
    the file ``wait_for`` exists, when given), then (touching ``taken``) waits ``delay``
    s before making it its candidate."""
    import warnings

    from hpsearch.model_selection.store import TrialStore

    warnings.simplefilter("ignore")
    adopt, pop = TrialStore._adopt_trial, TrialStore.pop_enqueued

    def slowly(self, *args, **kwargs):
        Path(taken).touch()
        time.sleep(delay)
        return adopt(self, *args, **kwargs)

    def later(self):
        _wait_for(Path(wait_for))
        return pop(self)

    TrialStore._adopt_trial = slowly
    if wait_for:
        TrialStore.pop_enqueued = later
    make_search(storage, n_trials=1, min_resources=60).fit(*data())


def _wait_for(path, proc=None):
    deadline = time.time() + 60
    while not path.exists() and (proc is None or proc.poll() is None) and (
            time.time() < deadline):
        time.sleep(0.01)
    assert path.exists()


@pytest.mark.parametrize("ext, configs, together", [
    ("log", [GOOD], False), ("db", [GOOD], False), ("log", [GOOD, WEAK], False),
    ("log", [GOOD, WEAK], True)])
def test_a_candidate_started_while_another_process_takes_an_enqueued_trial_is_given_up(
        tmp_path, monkeypatch, ext, configs, together):
    """Two processes share n_trials=1 and the enqueued ``configs``. One took the first
    enqueued trial and is slow to make it its candidate (2 s here; a busy store, a
    loaded machine); the other, finding nothing more WAITING, draws a candidate, or
    takes the second enqueued trial, meanwhile (``together``: it started before the
    first took its trial, so still as a process alone). The first enqueued trial comes
    first in the study (its lower number): the other candidate is given up, an enqueued
    one enqueued again, WAITING for a larger n_trials (was: kept, as the taken trial
    was not counted yet: two candidates for n_trials=1; with the counting alone, the
    second enqueued trial was closed FAIL as a duplicate, never run)."""
    from hpsearch.model_selection.store import TrialStore

    storage = str(tmp_path / f"s.{ext}")
    enqueue(storage, configs)
    log, taken, ready = tmp_path / "fits.log", tmp_path / "taken", tmp_path / "ready"
    monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE),
                                           os.environ.get("PYTHONPATH", "")]))
    wait_for = str(ready) if together else None
    proc = subprocess.Popen(
        [sys.executable, "-c", "from test_asha_enqueued import slow_adopter; "
         f"slow_adopter({storage!r}, {str(taken)!r}, 2.0, {wait_for!r})"],
        env=env, cwd=str(tmp_path))
    if together:  # this process takes its enqueued trial once the other took its own
        pop = TrialStore.pop_enqueued

        def after(self):
            ready.touch()
            _wait_for(taken, proc)
            return pop(self)

        monkeypatch.setattr(TrialStore, "pop_enqueued", after)
    try:
        if not together:
            _wait_for(taken, proc)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            make_search(storage, n_trials=1, min_resources=60).fit(*data())
    finally:
        assert proc.wait(timeout=120) == 0
    trials = _trials(storage)
    held = {t.user_attrs["hpsearch_key"] for t in trials if "hpsearch_key" in t.user_attrs
            and "hpsearch_duplicate" not in t.user_attrs}
    assert len(held) == 1
    assert sorted(tuple(f[1:]) for f in _fits(log)) == [(0.01, True, 60)] * 2  # GOOD, once
    assert not [t for t in trials if t.state.name == "RUNNING"]
    waiting = [t.system_attrs["fixed_params"] for t in trials if t.state.name == "WAITING"]
    assert waiting == configs[1:]
    assert bool(waiting) == any("still WAITING" in str(w.message) for w in caught)
