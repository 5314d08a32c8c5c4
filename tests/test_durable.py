"""Fit-level durability and cooperating processes (issue 11, the store part).

A search is interrupted (SIGINT) or killed (SIGKILL) in a subprocess, then resumed: exactly
the fits not recorded run again and ``cv_results_`` equals an uninterrupted run's, for
every kind of search. Several processes with ``resume=True`` on one SQLite file or one
journal file run every fit exactly once and all end with the same results. Fits are
counted by ``durable_worker.LogFit``, which appends a line per fit to a file.
"""

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

import durable_worker as w

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: columns that depend on the clock or on which trial of a study holds a slot
VOLATILE = ("time", "trial")


def _env(log, delay):
    path = os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, LOGFIT_LOG=str(log), LOGFIT_DELAY=str(delay))


def _start(kind, storage, out, log, *, resume, delay):
    return subprocess.Popen(
        [sys.executable, str(HERE / "durable_worker.py"), kind, str(storage), "s",
         "1" if resume else "0", str(out)],
        env=_env(log, delay), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _lines(log):
    return len(Path(log).read_text().splitlines()) if Path(log).exists() else 0


def _wait_lines(log, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while _lines(log) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _storage_object(storage):
    storage = str(storage)
    if storage.endswith(".log"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(storage))
    return f"sqlite:///{storage}"


def recorded_fits(storage):
    """Distinct (row, split) fits recorded in study "s": per fit or in a finished row."""
    from hpsearch.model_selection.store import recorded_fits as count

    return count(optuna.load_study(study_name="s", storage=_storage_object(storage)))


#: kind -> (cv_results_, number of fits) of its uninterrupted run (:func:`_reference`)
_REFERENCES = {}


def _reference(kind, tmp_path, monkeypatch):
    """cv_results_ and number of fits of an uninterrupted run (in this process).

    One run per kind, shared by the tests of this file: a search of a kind is the same on
    every run (random_state=0, the same data; the tests compare it with their resumed
    runs for equality), so a second reference run would only repeat the first (16 of the
    22 runs were repeats). The tests only read what it returns."""
    log = tmp_path / "reference.log"
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    monkeypatch.setenv("LOGFIT_DELAY", "0")
    if kind not in _REFERENCES:
        search = w.make_search(kind, str(tmp_path / "reference.db"), "s", False)
        _REFERENCES[kind] = search.fit(*w.data()).cv_results_, _lines(log)
    return _REFERENCES[kind]


def assert_same(a, b):
    assert list(a["params"]) == list(b["params"])
    for key in a:
        if key != "params" and not any(v in key for v in VOLATILE):
            assert list(a[key]) == list(b[key]) if a[key].dtype == object else \
                np.testing.assert_array_equal(a[key], b[key], key) is None, key


KILLS = [(kind, signal.SIGKILL) for kind in w.KINDS] + [
    ("grid", signal.SIGINT), ("optuna_pruner", signal.SIGINT),
]


@pytest.mark.parametrize("kind,sig", KILLS, ids=[f"{k}-{s.name}" for k, s in KILLS])
def test_interrupted_search_resumes_with_exactly_the_missing_fits(
    kind, sig, tmp_path, monkeypatch
):
    reference, total = _reference(kind, tmp_path, monkeypatch)
    db, log = tmp_path / "s.db", tmp_path / "fits.log"
    proc = _start(kind, db, tmp_path / "a.pkl", log, resume=False, delay=0.1)
    _wait_lines(log, 5, proc)  # mid-candidate: 3 splits per candidate
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    before, recorded = _lines(log), recorded_fits(db)
    assert recorded >= before - 1  # only the fit in flight is lost (one job)

    monkeypatch.setenv("LOGFIT_LOG", str(log))
    resumed = w.make_search(kind, str(db), "s", True).fit(*w.data())
    assert _lines(log) - before == total - recorded
    assert_same(resumed.cv_results_, reference)


@pytest.mark.parametrize("kind", w.KINDS)
def test_ctrl_c_then_resume_in_process(kind, tmp_path, monkeypatch):
    """Ctrl-C during the 8th fit (KeyboardInterrupt raised inside it, in process)."""
    reference, total = _reference(kind, tmp_path, monkeypatch)
    db, log = str(tmp_path / "s.db"), tmp_path / "fits.log"
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    monkeypatch.setenv("LOGFIT_INTERRUPT_AFTER", "7")
    with pytest.raises(KeyboardInterrupt):
        w.make_search(kind, db, "s", False).fit(*w.data())
    assert recorded_fits(db) == 7  # every finished fit, none of the interrupted one
    monkeypatch.delenv("LOGFIT_INTERRUPT_AFTER")
    resumed = w.make_search(kind, db, "s", True).fit(*w.data())
    assert _lines(log) - 8 == total - 7
    assert_same(resumed.cv_results_, reference)


COOPERATION = [
    ("grid", "db", 2), ("grid", "log", 3), ("random", "db", 3),
    ("optuna", "log", 2), ("optuna", "db", 3), ("optuna_pruner", "db", 2),
]


@pytest.mark.parametrize("kind,suffix,n", COOPERATION)
def test_processes_on_one_study_run_every_fit_once(kind, suffix, n, tmp_path, monkeypatch):
    reference, total = _reference(kind, tmp_path, monkeypatch)
    storage, log = tmp_path / f"s.{suffix}", tmp_path / "fits.log"
    outs = [tmp_path / f"{i}.pkl" for i in range(n)]
    procs = [_start(kind, storage, out, log, resume=True, delay=0.05) for out in outs]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    # every fit ran exactly once (Optuna: which fits depends on who told what when)
    assert _lines(log) == (total if kind in ("grid", "random") else recorded_fits(storage))
    results = [pickle.loads(out.read_bytes()) for out in outs]
    for res in results[1:]:
        assert_same(res, results[0])
        assert list(res.get("trial", [])) == list(results[0].get("trial", []))
    if kind in ("grid", "random"):  # candidates do not depend on who ran what
        assert_same(results[0], reference)
    else:  # 6 trials, 6 distinct candidates
        assert len(set(results[0]["trial"])) == 6
        assert len({p["alpha"] for p in results[0]["params"]}) == 6


def test_a_killed_process_is_taken_over_by_the_other(tmp_path, monkeypatch):
    reference, total = _reference("grid", tmp_path, monkeypatch)
    db, log = tmp_path / "s.db", tmp_path / "fits.log"
    survivor = _start("grid", db, tmp_path / "a.pkl", log, resume=True, delay=0.1)
    victim = _start("grid", db, tmp_path / "b.pkl", log, resume=True, delay=0.1)
    _wait_lines(log, 6, victim)
    victim.kill()
    victim.wait()
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    assert_same(pickle.loads((tmp_path / "a.pkl").read_bytes()), reference)
    assert total <= _lines(log) <= total + 1  # at most the victim's fit in flight again


#: Seconds each fit of the first (live) halving of the tests below sleeps: it is still
#: fitting its first candidate when the second process, whose refusal is awaited at
#: most 60 s, checks the study (was 0.1 s, waiting for its third fit: its 39 fits took
#: ~4 s, and under load the second process started after it had ended, then ran or was
#: refused as another kind of search; 1 run in ~5 of test_durable.py)
FIRST_DELAY = 120.0


def test_halving_refuses_a_second_live_process(tmp_path):
    db, log = tmp_path / "s.db", tmp_path / "fits.log"
    first = _start("halving", db, tmp_path / "a.pkl", log, resume=True, delay=FIRST_DELAY)
    _wait_lines(log, 1, first)
    second = _start("halving", db, tmp_path / "b.pkl", log, resume=True, delay=0.1)
    _, err = second.communicate(timeout=60)
    first.kill()
    first.wait()
    assert second.returncode != 0
    assert "HalvingSearchCV cannot share study 's' with another running search" in err


def test_halving_refuses_a_live_hyperband_with_other_candidates(tmp_path):
    """A Hyperband process joining a study where a halving runs samples other
    candidates (was: it ran its own search in the study beside the halving); it is
    refused before it fits anything, naming the halving's process."""
    db, log = tmp_path / "s.db", tmp_path / "fits.log"
    first = _start("halving", db, tmp_path / "a.pkl", log, resume=True, delay=FIRST_DELAY)
    _wait_lines(log, 1, first)
    second = _start("hyperband", db, tmp_path / "b.pkl", log, resume=True, delay=0.1)
    _, err = second.communicate(timeout=60)
    first_pid = first.pid
    first.kill()
    first.wait()
    assert second.returncode != 0
    assert (f"HyperbandSearchCV cannot share study 's' with another running search: "
            f"process {first_pid} on host") in err
    assert "is running a HalvingSearchCV" in err
    assert all(line.split()[0] == str(first_pid) for line in Path(log).read_text().splitlines())


@pytest.mark.parametrize("suffix", ["log", "db"])
def test_two_cli_processes_share_one_study(suffix, tmp_path):
    import pandas as pd
    from test_cli_resume import COUNTER, N_CANDIDATES, N_SPLITS, STUDY

    (tmp_path / "slowridge.py").write_text(COUNTER)
    study = tmp_path / "resume.yaml"
    study.write_text(STUDY.replace("N_JOBS", "1"))
    log = tmp_path / "fits.log"
    path = os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, SLOW_RIDGE_LOG=str(log), SLOW_RIDGE_SLEEP="0.1")
    storage = str(tmp_path / f"shared.{suffix}")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hpsearch", str(study), "--resume", "--storage", storage,
             "--out", str(tmp_path / f"out{i}"), "--allow-module", "slowridge", "--quiet"],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert _lines(log) == N_CANDIDATES * N_SPLITS + 2  # every fit once, plus two refits
    a, b = (pd.read_csv(tmp_path / f"out{i}" / "cv_results.csv") for i in range(2))
    cols = ["params", "mean_test_score", "rank_test_score",
            *(f"split{k}_test_score" for k in range(N_SPLITS))]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_owner_liveness_by_process_table_token_and_heartbeat():
    from hpsearch.model_selection import store

    me = store.owner_id(token="not-running")
    assert not store.owner_alive(me)  # this process, but no search of that token runs
    kept = store.TrialStore(None)
    assert store.owner_alive(kept.owner)
    kept.close()
    assert not store.owner_alive(kept.owner)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    other = store.owner_id(proc.pid)
    assert store.owner_alive(other)
    proc.kill()
    proc.wait()
    assert not store.owner_alive(other)
    remote = "elsewhere/some-boot/123/456#1"  # another machine: its heartbeat tells
    now = time.time()
    assert store.owner_alive(remote, {remote: now - 1}, now)
    assert not store.owner_alive(remote, {remote: now - store.GRACE_PERIOD - 1}, now)
    assert not store.owner_alive(remote, {}, now)
    assert not store.owner_alive(None) and not store.owner_alive("garbage")


def test_a_candidate_of_another_machine_is_waited_for_then_taken_over(
    tmp_path, monkeypatch
):
    """A RUNNING trial of a process on another machine: waited for while its heartbeat
    is fresh, taken over (its finished fits kept) once it is older than GRACE_PERIOD."""
    from hpsearch.model_selection import store

    reference, total = _reference("grid", tmp_path, monkeypatch)
    db, log = str(tmp_path / "s.db"), tmp_path / "fits.log"
    monkeypatch.setenv("LOGFIT_LOG", str(log))
    monkeypatch.setenv("LOGFIT_INTERRUPT_AFTER", "4")
    with pytest.raises(KeyboardInterrupt):
        w.make_search("grid", db, "s", False).fit(*w.data())
    monkeypatch.delenv("LOGFIT_INTERRUPT_AFTER")
    # hand the interrupted candidate (1 split done) to a live process elsewhere
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{db}")
    (interrupted,) = [t for t in study.trials if t.state.name == "FAIL"]
    remote = "elsewhere/some-boot/123/456#1"
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.RUNNING, params=interrupted.params,
        distributions=interrupted.distributions,
        user_attrs={**{k: v for k, v in interrupted.user_attrs.items()
                       if k != "hpsearch_interrupted"}, "hpsearch_owner": remote},
    ))
    beat = time.time()
    study._storage.set_study_system_attr(study._study_id, f"hpsearch_alive:{remote}", beat)
    recorded = recorded_fits(db)
    monkeypatch.setattr(store, "GRACE_PERIOD", 2.0)
    resumed = w.make_search("grid", db, "s", True).fit(*w.data())
    # it waited for the heartbeat to go stale (measured from the heartbeat, not from the
    # resume's start: on a loaded machine the heartbeat may have aged before it)
    assert time.time() - beat >= store.GRACE_PERIOD
    (taken,) = [t for t in resumed.study_.trials
                if t.user_attrs.get("hpsearch_owner") == remote]
    assert taken.state.name == "FAIL" and taken.user_attrs["hpsearch_interrupted"]
    assert _lines(log) - 5 == total - recorded
    assert_same(resumed.cv_results_, reference)
