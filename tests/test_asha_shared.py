"""Several processes on one storage run one ASHA together; a SIGKILLed ASHA resumes.

Each test starts real processes (``python -c``) on a SQLite file in ``tmp_path``. Fits are
counted by :class:`LoggingMLP`, which appends one line per fit (process id, parameters,
epochs, training rows) to a log; the store's ``recorded_fits`` counts the distinct
(candidate, rung, split) fits it holds, so "fits run == fits recorded" means no fit ran
twice.
"""

import json
import os
import textwrap
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_digits

from hpsearch import ASHASearchCV, GridSearchCV, MLPClassifier
from hpsearch.model_selection.space import Float
from hpsearch.model_selection.store import make_storage, recorded_fits

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SPACE = {
    "learning_rate_init": Float(1e-3, 1e-1, log=True),
    "alpha": Float(1e-6, 1e-2, log=True),
}
N_ROWS = 240


class LoggingMLP(MLPClassifier):
    """hpsearch's MLP that logs every fit to ``HPSEARCH_FIT_LOG`` and sleeps
    ``HPSEARCH_FIT_SLEEP`` seconds (so that processes overlap); with
    ``HPSEARCH_FIT_SHARE_AFTER`` = n, a process's fits after its n-th wait (at most 60 s)
    until another process has logged a fit (so a process started later joins while
    this one still runs, however slowly it starts)."""

    def fit(self, X, y, sample_index=None):
        log = os.environ.get("HPSEARCH_FIT_LOG")
        if log:
            n = len(X) if sample_index is None else len(sample_index)
            with open(log, "a") as f:
                f.write(json.dumps([os.getpid(), self.learning_rate_init, self.alpha,
                                    int(self.max_iter), n]) + "\n")
            share_after = os.environ.get("HPSEARCH_FIT_SHARE_AFTER")
            deadline = time.time() + 60
            while share_after and time.time() < deadline:
                pids = [json.loads(line)[0] for line in Path(log).read_text().splitlines()]
                if (pids.count(os.getpid()) <= int(share_after)
                        or set(pids) - {os.getpid()}):
                    break
                time.sleep(0.02)
        time.sleep(float(os.environ.get("HPSEARCH_FIT_SLEEP", "0")))
        return super().fit(X, y, sample_index=sample_index)


def data():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:N_ROWS], y[:N_ROWS]


def make_search(storage, study_name="asha", n_trials=9, **kw):
    kw = {"min_resources": 1, "max_resources": 9, "factor": 3, "cv": 2, "random_state": 0,
          "n_jobs": 1, "resume": True, **kw}
    mlp = LoggingMLP((8,), max_iter=9, batch_size=32, random_state=0)
    return ASHASearchCV(mlp, SPACE, n_trials=n_trials, storage=storage,
                        study_name=study_name, **kw)


def worker(storage, out, ready=None, n_trials=9, n_jobs=1):
    """Entry point of a process: wait for its siblings (``ready`` files), run the search,
    write what it found as JSON to ``out``."""
    import warnings

    warnings.simplefilter("ignore")
    X, y = data()
    search = make_search(storage, n_trials=n_trials, n_jobs=n_jobs)
    if ready:
        Path(ready[0]).touch()
        deadline = time.time() + 60
        while not all(Path(p).exists() for p in ready) and time.time() < deadline:
            time.sleep(0.02)
    search.fit(X, y)
    res = search.cv_results_
    Path(out).write_text(json.dumps({
        "pid": os.getpid(),
        "best_params": search.best_params_,
        "best_score": search.best_score_,
        "candidate": [int(c) for c in res["candidate"]],
        "iter": [int(k) for k in res["iter"]],
        "score": [float(s) for s in res["mean_test_score"]],
        "n_candidates": search.n_candidates_,
        "params": list(res["params"]),
        "n_resources": [int(n) for n in res["n_resources"]],
    }))


def _env(tmp_path, log, sleep):
    path = os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, HPSEARCH_FIT_LOG=str(log),
                HPSEARCH_FIT_SLEEP=str(sleep), OMP_NUM_THREADS="1")


def _start(tmp_path, name, env, storage, **kw):
    out = tmp_path / f"{name}.json"
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    code = (f"from test_asha_shared import worker; "
            f"worker({str(storage)!r}, {str(out)!r}{', ' + args if args else ''})")
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(tmp_path)), out


def _cv_fits(log, n_rows=N_ROWS):
    """The logged cross-validation fits (the final refit on all rows left out)."""
    if not log.exists():
        return []
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [line for line in lines if line[4] < n_rows]


def _study(storage, name="asha"):
    return optuna.load_study(study_name=name, storage=make_storage(str(storage)))


def _candidates(study):
    """Distinct candidates of the study (trials not closed as a lost claim)."""
    return {t.user_attrs["hpsearch_key"] for t in study.trials
            if "hpsearch_key" in t.user_attrs and "hpsearch_duplicate" not in t.user_attrs}


@pytest.mark.parametrize("kind, n_processes, late", [
    ("sqlite", 2, False), ("journal", 2, False), ("sqlite", 3, False), ("sqlite", 2, True)
])
def test_processes_share_one_asha(tmp_path, monkeypatch, kind, n_processes, late):
    """Processes started together (``late``: the second once the first has run 6 fits
    alone): each (candidate, rung, split) fitted once, by one of them; n_trials
    candidates in all; all end with the same results and best."""
    name = {"sqlite": "shared.db", "journal": "shared.jsonl"}[kind]
    storage, log = tmp_path / name, tmp_path / "fits.log"
    env = _env(tmp_path, log, 0.25 if late else 0.05)  # (late: slow enough to join)
    if late:  # (the first one's 7th fit waits for the second one's first: it joined;
        # was: under load the second started after the first had run all 26 fits)
        env["HPSEARCH_FIT_SHARE_AFTER"] = "6"
    ready = [str(tmp_path / f"{i}.ready") for i in range(n_processes)]
    started = []
    for i in range(n_processes):
        if late and i:
            _wait_for_fits(log, 6, proc=started[0][0])
        kw = {} if late else {"ready": ready[i:] + ready[:i]}
        started.append(_start(tmp_path, str(i), env, storage, **kw))
    for proc, _ in started:
        assert proc.wait(timeout=120) == 0
    outs = [json.loads(out.read_text()) for _, out in started]
    fits = _cv_fits(log)
    study = _study(storage)
    per_process = [sum(1 for f in fits if f[0] == out["pid"]) for out in outs]
    # every (candidate, rung, split) fitted once, by one of them
    assert len(fits) == recorded_fits(study), per_process
    assert sum(n > 0 for n in per_process) >= 2, per_process
    assert len(_candidates(study)) == 9
    first = outs[0]
    for out in outs:
        assert out["n_candidates"] == 9
        # each ends with the whole shared ASHA, hence the same results and best
        assert out["candidate"] == first["candidate"] and out["iter"] == first["iter"]
        np.testing.assert_array_equal(out["score"], first["score"])
        assert out["best_params"] == first["best_params"]
        assert out["best_score"] == first["best_score"]
    assert max(first["iter"]) == 2  # a candidate reached the top rung
    assert len(set(zip(first["candidate"], first["iter"]))) == len(first["iter"])
    if kind == "sqlite" and n_processes == 2 and not late:
        # resuming the shared study later continues it from the store: nothing to fit
        monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
        X, y = data()
        again = make_search(str(storage)).fit(X, y)
        assert len(_cv_fits(log)) == len(fits)
        np.testing.assert_array_equal(again.cv_results_["mean_test_score"], first["score"])
        assert again.best_params_ == first["best_params"]
    lost = sum("hpsearch_duplicate" in t.user_attrs for t in study.trials)
    print(f"{kind}: {n_processes} processes{' (one late)' if late else ''}, {len(_candidates(study))} candidates, "
          f"{len(first['iter'])} jobs, {len(fits)} fits run = {recorded_fits(study)} "
          f"recorded, split {'/'.join(map(str, per_process))}, {lost} lost claims")


def _wait_for_fits(log, n, pid=None, proc=None, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        fits = [f for f in _cv_fits(log) if pid is None or f[0] == pid]
        if len(fits) >= n or (proc is not None and proc.poll() is not None):
            return
        time.sleep(0.01)


def test_sigkill_then_resume_reruns_only_missing_fits(tmp_path, monkeypatch):
    storage, log = tmp_path / "cut.db", tmp_path / "fits.log"
    proc, _ = _start(tmp_path, "cut", _env(tmp_path, log, 0.1), storage)
    _wait_for_fits(log, 8, proc=proc)  # the 8th fit started: job 4 of 13, split 2 of 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_after = len(_cv_fits(log))
    assert 8 <= killed_after < 26
    recorded = recorded_fits(_study(storage))
    assert killed_after - 1 <= recorded <= killed_after  # only the fit in flight is lost

    X, y = data()
    monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
    monkeypatch.setenv("HPSEARCH_FIT_SLEEP", "0")
    resumed = make_search(str(storage), refit=False).fit(X, y)
    rerun = len(_cv_fits(log)) - killed_after
    monkeypatch.delenv("HPSEARCH_FIT_LOG")
    full = make_search(None, study_name=None, resume=False, refit=False).fit(X, y)
    n_fits = 2 * len(full.cv_results_["params"])
    assert rerun == n_fits - recorded
    print(f"killed after {killed_after} fits ({recorded} recorded); resume ran {rerun} "
          f"of {n_fits}")
    assert resumed.cv_results_["params"] == full.cv_results_["params"]
    for key in ("candidate", "iter", "state", "mean_test_score", "split0_test_score"):
        np.testing.assert_array_equal(resumed.cv_results_[key], full.cv_results_[key])


def test_a_killed_process_jobs_are_taken_over(tmp_path):
    storage, log = tmp_path / "shared.db", tmp_path / "fits.log"
    env = _env(tmp_path, log, 0.2)
    ready = [str(tmp_path / "a.ready"), str(tmp_path / "b.ready")]
    a, _ = _start(tmp_path, "a", env, storage, ready=ready)
    b, out_b = _start(tmp_path, "b", env, storage, ready=ready[::-1])
    _wait_for_fits(log, 3, pid=a.pid, proc=a)  # a's 3rd fit started
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    assert b.wait(timeout=120) == 0
    rb = json.loads(out_b.read_text())
    study = _study(storage)
    fits = _cv_fits(log)
    per_process = {pid: sum(1 for f in fits if f[0] == pid) for pid in (a.pid, rb["pid"])}
    # the fit a was running when killed is run again by b; no other fit ran twice
    assert len(fits) - recorded_fits(study) in (0, 1), per_process
    assert len(_candidates(study)) == rb["n_candidates"] == 9
    # a's claimed trials were closed as interrupted and their jobs finished by b
    interrupted = [t for t in study.trials if "hpsearch_interrupted" in t.user_attrs]
    assert interrupted
    assert all(str(a.pid) == t.user_attrs["hpsearch_owner"].split("/")[2]
               for t in interrupted)
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    assert max(rb["iter"]) == 2 and np.isfinite(rb["score"]).all()
    assert sorted(set(zip(rb["candidate"], rb["iter"]))) == sorted(
        zip(rb["candidate"], rb["iter"]))  # each (candidate, rung) once
    # (a fit from scratch above rung 0 logs the whole budget, 3 or 9 epochs; a continued
    # one the epochs added, 2 or 6)
    scratch = sum(1 for f in fits if f[0] == rb["pid"] and f[3] in (3, 9))
    print(f"a killed after {per_process[a.pid]} fits; b ran {per_process[rb['pid']]} "
          f"({scratch} above rung 0 from scratch); {len(interrupted)} of a's trials "
          "taken over")
    # each row, continued or refitted from scratch by the other process, scores as a
    # straight fit of its candidate to its budget
    grid = [{"learning_rate_init": [p["learning_rate_init"]], "alpha": [p["alpha"]],
             "max_iter": [int(n)]} for p, n in zip(rb["params"], rb["n_resources"])]
    X, y = data()
    straight = GridSearchCV(MLPClassifier((8,), batch_size=32, random_state=0), grid,
                            cv=2, refit=False).fit(X, y)
    np.testing.assert_array_equal(straight.cv_results_["mean_test_score"], rb["score"])


STUDY = textwrap.dedent(
    """\
    name: shared
    seed: 0
    data: {dataset: digits}
    estimator:
      name: 'test_asha_shared:LoggingMLP'
      params: {hidden_layer_sizes: [8], batch_size: 64, random_state: 0}
    search:
      method: asha
      n_trials: 9
      min_resources: 1
      max_resources: 9
      factor: 3
      space:
        learning_rate_init: {type: float, low: 1e-3, high: 1e-1, log: true}
    cv: 2
    n_jobs: 1
    """
)


def test_two_cli_runs_share_one_asha(tmp_path):
    """``python -m hpsearch study.yaml --resume --storage <one db>`` twice at once, each
    with its own output folder: one ASHA, no fit twice, the same best in both."""
    study, storage, log = tmp_path / "study.yaml", tmp_path / "shared.db", tmp_path / "f.log"
    study.write_text(STUDY)
    env = _env(tmp_path, log, 0.05)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "hpsearch", str(study), "--out", str(tmp_path / out),
         "--storage", f"sqlite:///{storage}", "--resume", "--quiet",
         "--allow-module", "test_asha_shared"],
        env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True) for out in ("a", "b")]
    for proc in procs:
        output = proc.communicate(timeout=180)[0]
        assert proc.returncode == 0, output
    fits = _cv_fits(log, n_rows=1000)  # (the refit: on 1437 training rows)
    recorded = recorded_fits(_study(storage, "shared"))
    assert len(fits) == recorded == 26
    best = [json.loads((tmp_path / out / "best_params.json").read_text()) for out in "ab"]
    assert best[0] == best[1]
    per_process = [sum(1 for f in fits if f[0] == proc.pid) for proc in procs]
    print(f"CLI: 2 processes, {recorded} fits recorded = {len(fits)} run, split "
          f"{'/'.join(map(str, per_process))}")


def test_decode_value_inverts_encode_value():
    from hpsearch.model_selection.store import decode_value, encode_value

    for value in [{"h": (8, 4), "a": 0.5, "s": "relu", "n": None, "l": [1, (2,)]},
                  (1.0, "x"), np.arange(3)]:
        back = decode_value(json.loads(json.dumps(encode_value(value))))
        assert encode_value(back) == encode_value(value)
        assert type(back) is type(value)
    with pytest.raises(ValueError, match="cannot be decoded"):
        decode_value(encode_value(len))


@pytest.mark.parametrize("change", [
    {"n_trials": 20},
    {"max_resources": 27},
    {"param_distributions": {"alpha": Float(1e-6, 1e-2, log=True)}},
])
def test_a_process_with_other_asha_settings_is_refused(tmp_path, monkeypatch, change):
    """A process joining a shared ASHA with another space, n_trials or rungs raises a
    ValueError naming the setting, before it draws anything (was: its candidates were
    silently ranked in the other's ASHA, and n_trials of the first ignored); the first
    process finishes its own ASHA."""
    storage, log = tmp_path / "shared.db", tmp_path / "fits.log"
    proc, out = _start(tmp_path, "a", _env(tmp_path, log, 0.05), storage)
    _wait_for_fits(log, 2, proc=proc)
    assert proc.poll() is None
    X, y = data()
    with pytest.raises(ValueError, match=f"'{next(iter(change))}'") as info:
        make_search(str(storage)).set_params(**change).fit(X, y)
    from hpsearch.model_selection.store import StudyMismatch  # a study file names its key

    assert isinstance(info.value, StudyMismatch)
    name = next(iter(change))
    assert info.value.setting == ("n_resources" if name == "max_resources" else name)
    assert proc.wait(timeout=120) == 0
    assert json.loads(out.read_text())["n_candidates"] == 9
    study = _study(storage)
    assert len(_candidates(study)) == 9
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    if "n_trials" in change:  # once the first process has ended: extends the study
        more = make_search(str(storage), n_trials=11).fit(X, y)
        assert more.n_candidates_ == len(_candidates(_study(storage))) == 11


def test_ctrl_c_of_one_process_the_other_finishes_and_closes_its_trials(tmp_path):
    """SIGINT of one of two processes late in the ASHA: the other finishes it, every fit
    recorded once, and no trial is left RUNNING (was: the interrupted process's
    candidates below the top rung stayed RUNNING for good)."""
    storage, log = tmp_path / "shared.db", tmp_path / "fits.log"
    env = _env(tmp_path, log, 0.1)
    ready = [str(tmp_path / "a.ready"), str(tmp_path / "b.ready")]
    a, _ = _start(tmp_path, "a", env, storage, ready=ready)
    b, out_b = _start(tmp_path, "b", env, storage, ready=ready[::-1])
    _wait_for_fits(log, 18, proc=a)
    assert a.poll() is None
    a.send_signal(signal.SIGINT)
    assert a.wait(timeout=60) != 0
    assert b.wait(timeout=120) == 0
    rb = json.loads(out_b.read_text())
    study = _study(storage)
    assert len(_candidates(study)) == rb["n_candidates"] == 9
    assert len(_cv_fits(log)) - recorded_fits(study) in (0, 1)  # a's fit in flight
    assert max(rb["iter"]) == 2 and np.isfinite(rb["score"]).all()
    assert not [t.number for t in study.trials if t.state.name == "RUNNING"]


def paused_worker(storage, log, paused, go, pause_at):
    """A process running a whole ASHA alone, its ``pause_at``-th fit held until ``go``
    exists (``paused`` written first): its trials are RUNNING, one row half fitted.
    ``pause_at="end"``: held once every job is recorded, before it closes its candidates
    below the top rung (PRUNED; they are RUNNING, the top one COMPLETE)."""
    import warnings

    from hpsearch.model_selection.store import TrialStore

    warnings.simplefilter("ignore")

    def pause():
        Path(paused).touch()
        deadline = time.time() + 60
        while not Path(go).exists() and time.time() < deadline:
            time.sleep(0.01)

    fit, finish, calls = LoggingMLP.fit, TrialStore.finish, []

    def held(self, X, y, sample_index=None):
        calls.append(1)
        if len(calls) == pause_at:
            pause()
        return fit(self, X, y, sample_index=sample_index)

    def held_at_end(self, candidate_key, state="COMPLETE"):
        if state == "PRUNED" and not Path(paused).exists():
            pause()
        return finish(self, candidate_key, state)

    LoggingMLP.fit = held
    TrialStore.finish = held_at_end
    make_search(storage, n_trials=4, max_resources=3).fit(*data())


def _four_candidates_each_fitted_once(storage, log):
    """The trials of ``storage`` but lost claims: 4 (one per candidate), its 10 fits run
    once each (``log``: every fit run). Returns them."""
    study = _study(storage)
    kept = [t for t in study.trials if "hpsearch_duplicate" not in t.user_attrs]
    assert len(kept) == 4, [(t.number, t.state.name, t.params) for t in study.trials]
    assert len(_cv_fits(log)) == recorded_fits(study) == 10  # no fit ran twice
    return kept


def _fit_quietly(storage):
    """This process's ASHA on ``storage`` (4 candidates, 3 rungs), its warnings ignored."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_search(str(storage), n_trials=4, max_resources=3).fit(*data())


def _ends_as_one_run(storage, log, search):
    """The study of ``storage`` ends as one uninterrupted run's: 4 candidates, one
    COMPLETE and three PRUNED, each fit run once; ``search`` reports the 4."""
    kept = _four_candidates_each_fitted_once(storage, log)
    assert sorted(t.state.name for t in kept) == ["COMPLETE", "PRUNED", "PRUNED", "PRUNED"]
    assert search.n_candidates_ == 4


def _start_paused(tmp_path, storage, log, paused, go, pause_at):
    """A process running :func:`paused_worker` on ``storage``, once it has reached its
    pause at fit ``pause_at`` (it goes on when ``go`` exists)."""
    code = (f"from test_asha_shared import paused_worker; paused_worker("
            f"{str(storage)!r}, {str(log)!r}, {str(paused)!r}, {str(go)!r}, {pause_at!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env(tmp_path, log, 0),
                            cwd=str(tmp_path))
    deadline = time.time() + 60
    while not paused.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if not paused.exists():
        go.touch()
        proc.kill()
        proc.wait(timeout=60)
        pytest.fail("the first process did not reach its pause")
    return proc


def test_a_resume_that_read_the_study_before_its_process_ended_claims_nothing_again(
        tmp_path, monkeypatch):
    """A resume (``--resume`` started with another process, the test of
    test_study_asha) opened the study while the other process ran it alone (its
    candidates RUNNING, a row half fitted), and decided once that process had closed its
    candidates and ended: its view still held them RUNNING, their owner was now dead, so
    it claimed each again (a new trial with its rung scores: 7 trials for 4 candidates,
    none a duplicate) and fitted the split recorded after its read a second time."""
    storage, log = tmp_path / "s.db", tmp_path / "fits.log"
    paused, go = tmp_path / "paused", tmp_path / "go"
    proc = _start_paused(tmp_path, storage, log, paused, go, 8)
    try:
        monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
        run_asha = ASHASearchCV._run_asha

        def after_the_other(self, evaluate):  # the study was read: let the other end
            go.touch()
            assert proc.wait(timeout=60) == 0
            return run_asha(self, evaluate)

        monkeypatch.setattr(ASHASearchCV, "_run_asha", after_the_other)
        search = _fit_quietly(storage)
    finally:
        go.touch()
        proc.wait(timeout=60)
    _ends_as_one_run(storage, log, search)


def test_a_job_whose_process_ended_after_the_read_is_not_claimed_again(tmp_path, monkeypatch):
    """A shared process read the study while the other ran its candidate's top-rung job
    (RUNNING, ``hpsearch_job`` marked) and judged it after that process had finished the
    job, closed the trial and ended: it found the job's owner dead and claimed the
    candidate with a new trial (an extra trial for a finished candidate)."""
    from hpsearch.model_selection.store import TrialStore

    storage, log = tmp_path / "s.db", tmp_path / "fits.log"
    paused, go = tmp_path / "paused", tmp_path / "go"
    proc = _start_paused(tmp_path, storage, log, paused, go, 7)
    try:
        monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
        run_asha, refresh, inside = ASHASearchCV._run_asha, TrialStore.refresh, []

        def running(self, evaluate):
            inside.append(1)
            return run_asha(self, evaluate)

        def stale(self):  # the trials are read, then the other process ends
            trials = refresh(self)
            if inside and not go.exists():
                go.touch()
                assert proc.wait(timeout=60) == 0
            return trials

        monkeypatch.setattr(ASHASearchCV, "_run_asha", running)
        monkeypatch.setattr(TrialStore, "refresh", stale)
        _fit_quietly(storage)
    finally:
        go.touch()
        proc.wait(timeout=60)
    _four_candidates_each_fitted_once(storage, log)


def test_a_resume_after_a_crash_reads_the_study_again_once_not_per_candidate(
        tmp_path, monkeypatch):
    """A process killed (SIGKILL) in its ASHA left its candidates RUNNING. The resume
    reads the study again before it claims a candidate whose holder it found dead (the
    test above), but once for that dead holder, not once per candidate it left: each
    read is of the whole study (was: one read per candidate, quadratic in the study's
    size). The resume still fits each split once."""
    from hpsearch.model_selection.store import TrialStore

    storage, log = tmp_path / "s.db", tmp_path / "fits.log"
    paused, go = tmp_path / "paused", tmp_path / "go"
    proc = _start_paused(tmp_path, storage, log, paused, go, 8)
    proc.kill()
    proc.wait(timeout=60)
    left = [t for t in _study(storage).trials if t.state.name == "RUNNING"]
    assert len(left) >= 2  # the crash left several candidates RUNNING
    monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
    refresh, reads = TrialStore.refresh, []

    def counted(self):  # a read of the study claim_new makes for a dead holder
        callers = (sys._getframe(1).f_code.co_name, sys._getframe(2).f_code.co_name)
        reads.append(callers in (("claim_new", "_next_job"),
                                 ("_read_again_after", "claim_new")))
        return refresh(self)

    monkeypatch.setattr(TrialStore, "refresh", counted)
    make_search(str(storage), n_trials=4, max_resources=3).fit(*data())
    assert sum(reads) == 1, (len(left), reads)
    study = _study(storage)  # the crashed trials FAIL, their candidates claimed anew
    assert sorted(t.state.name for t in study.trials if t.state.name != "FAIL") == [
        "COMPLETE", "PRUNED", "PRUNED", "PRUNED"]
    assert len(_cv_fits(log)) == recorded_fits(study) == 10  # no fit ran twice


def test_a_process_that_ended_after_the_final_read_keeps_its_candidates(tmp_path, monkeypatch):
    """A shared process ended its search (nothing left to decide) while the other held
    its candidates RUNNING, about to close them PRUNED; that process closed them and
    ended between this one's last read of the study and its liveness check: this one
    found them RUNNING under a dead owner, closed them as a dead process's and claimed
    each again with a new trial (3 extra trials for finished candidates)."""
    from hpsearch.model_selection.store import TrialStore

    storage, log = tmp_path / "s.db", tmp_path / "fits.log"
    paused, go = tmp_path / "paused", tmp_path / "go"
    proc = _start_paused(tmp_path, storage, log, paused, go, "end")
    try:
        monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))
        refresh = TrialStore.refresh

        def stale(self):  # the last read of the study, then the other process ends
            trials = refresh(self)
            caller = sys._getframe(1).f_code.co_name, sys._getframe(2).f_code.co_name
            if caller == ("snapshot", "finish") and not go.exists():
                go.touch()
                assert proc.wait(timeout=60) == 0
            return trials

        monkeypatch.setattr(TrialStore, "refresh", stale)
        search = _fit_quietly(storage)
        assert go.exists()  # (its end came after this one's last read)
    finally:
        go.touch()
        proc.wait(timeout=60)
    _ends_as_one_run(storage, log, search)
