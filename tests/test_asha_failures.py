"""ASHA (and the searches that continue training between rungs) when things fail past
one process: a full disk under the trial store, several processes with a ``timeout`` on
one storage (regressions of bugs a hostile pass found; ``test_asha_hostile.py`` holds
the single-process ones, ``test_asha_shared.py`` the cooperation itself)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.linear_model import Ridge

from hpsearch import ASHASearchCV, MLPClassifier
from hpsearch.model_selection.space import Float
from hpsearch.model_selection.store import make_storage, recorded_fits

from _hostile import diabetes
from test_asha_shared import LoggingMLP

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


def _pythonpath():
    """``PYTHONPATH`` for a child process: this checkout and the tests folder first."""
    return os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])


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
import json
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
    env = dict(os.environ, PYTHONPATH=_pythonpath())
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


def timed_worker(storage, out, timeout, wait_for_fits=0, ready=()):
    """A process of :func:`test_processes_with_timeouts_agree_on_every_candidate_id`: once
    every process has started (each creates its file in ``ready`` and waits for the
    others': a's ``timeout`` must not run out while b is still importing) and
    ``wait_for_fits`` fits are logged (by the other process), run the shared ASHA with
    ``timeout`` (no ``n_trials``), write its ``cv_results_`` as JSON to ``out``."""
    import json
    import time
    import warnings

    from test_asha_shared import _cv_fits, data, make_search

    warnings.simplefilter("ignore")
    log = Path(os.environ["HPSEARCH_FIT_LOG"])
    deadline = time.time() + 30
    X, y = data()
    import optuna.storages  # noqa: F401  (what fit would import: not in the race below)

    import hpsearch.model_selection.store  # noqa: F401
    if ready:
        Path(ready[0]).touch()
        while not all(Path(p).exists() for p in ready) and time.time() < deadline:
            time.sleep(0.01)
    while len(_cv_fits(log)) < wait_for_fits and time.time() < deadline:
        time.sleep(0.01)
    search = make_search(storage, n_trials=None, timeout=timeout, refit=False)
    search.fit(X, y)
    res = search.cv_results_
    Path(out).write_text(json.dumps({
        "pid": os.getpid(), "candidate": [int(c) for c in res["candidate"]],
        "iter": [int(k) for k in res["iter"]], "params": list(res["params"]),
        "shared": bool(search._shared is not None and search._shared.active)}))


def test_processes_with_timeouts_agree_on_every_candidate_id(tmp_path):
    """Process b joins a's ASHA on one storage once a has run a few fits, both with a
    ``timeout`` (so each ends in the middle of the other's jobs, and b takes over a's
    candidates). In each process's ``cv_results_`` a candidate id is one parameter set
    and a parameter set one id, both processes give a parameter set the same id, and
    that id is its first trial in the Optuna study. (Before the fix of the test below,
    a process whose timeout came before it saw the other one kept its own numbering:
    one run in three failed here.)"""
    import json

    from test_asha_shared import _cv_fits, _env

    storage, log = tmp_path / "shared.db", tmp_path / "fits.log"
    env = _env(tmp_path, log, 0.05)
    procs, outs = [], []
    ready = {"a": str(tmp_path / "a.ready"), "b": str(tmp_path / "b.ready")}
    for name, timeout, wait in (("a", 3.0, 0), ("b", 0.8, 3)):
        outs.append(tmp_path / f"{name}.json")
        # own file first (created), then the other's (waited for)
        barrier = (ready[name], *(p for k, p in ready.items() if k != name))
        code = (f"from test_asha_failures import timed_worker; "
                f"timed_worker({str(storage)!r}, {str(outs[-1])!r}, {timeout}, {wait}, "
                f"{barrier!r})")
        procs.append(subprocess.Popen([sys.executable, "-c", code], env=env,
                                      cwd=str(tmp_path), stderr=subprocess.PIPE, text=True))
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    results = [json.loads(out.read_text()) for out in outs]
    assert results[1]["shared"], "b started after a had ended (a slow start): no sharing"
    study = optuna.load_study(study_name="asha", storage=make_storage(str(storage)))
    first = {}  # parameter set -> its first trial (duplicate claims left out)
    for trial in study.trials:
        if "hpsearch_key" in trial.user_attrs and "hpsearch_duplicate" not in trial.user_attrs:
            key = json.dumps(trial.user_attrs["params"], sort_keys=True)
            first.setdefault(key, trial.number)
    fits = _cv_fits(log)
    owners = {t.user_attrs["hpsearch_owner"] for t in study.trials}
    assert len(owners) == 2  # both claimed candidates
    for res in results:
        keys = [json.dumps(p, sort_keys=True) for p in res["params"]]
        rows = list(zip(res["candidate"], res["iter"]))
        assert len(set(rows)) == len(rows)  # each (candidate, rung) once
        assert len(set(zip(res["candidate"], keys))) == len(set(res["candidate"])) \
            == len(set(keys))  # one id <-> one parameter set
        assert {(c, first[k]) for c, k in zip(res["candidate"], keys)} == {
            (c, c) for c in res["candidate"]}  # the id is the first trial of the set
    shared = set(results[0]["candidate"]) & set(results[1]["candidate"])
    assert shared  # b saw a's candidates
    assert len(fits) - recorded_fits(study) <= 2  # only the fit each timeout cut is lost


def test_a_process_that_met_another_only_at_its_timeout_numbers_candidates_as_the_study(
        data, tmp_path, monkeypatch):
    """Process a runs ASHA alone (its own candidate numbers) when b claims a candidate
    between a's look for other processes and a's own claim, so a's next candidate gets
    trial number 3, not 2; then a's ``timeout`` comes before a looks again. a's
    ``cv_results_`` called that candidate 2, which is b's candidate in the study and in
    b's ``cv_results_`` (the two-process run above found it one time in three). The same
    numbering slip kept a "not run" row of a process that did switch to sharing under
    its old number, next to another candidate's rows under that number."""
    import time

    from hpsearch.model_selection.store import TrialStore
    from hpsearch.model_selection.strategies import asha

    X, y = data
    storage, b_params = str(tmp_path / "race.db"), {"alpha": 0.123}
    claim_new, calls = asha._Shared.claim_new, []

    def b_claims_first(self, params, optuna_params):
        calls.append(params)
        if len(calls) == 3:  # b claims its candidate, then a's deadline passes
            b = TrialStore(storage, "asha", resume=True)
            b.group = "asha"  # b is an ASHA process (what ASHASearchCV sets on its store)
            key = self._candidate_key(b_params)
            row = self._claim_row(b_params, key, self._row_keys(b_params)[0])
            assert b.claim_candidate(row, {asha.CONFIG_ATTR: self.config}) is not None
            b._storage.set_study_system_attr(b._study_id, asha.SHARED_ATTR, True)
            b.close()
            skew[0] = 1000.0  # a's clock jumps past its deadline
        return claim_new(self, params, optuna_params)

    # a's deadline passes at b's claim by a jump of a's clock, not by a wait: a fixed 1 s
    # budget ended, under load, before a's first candidates had finished their splits
    real_monotonic, skew = time.monotonic, [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + skew[0])
    monkeypatch.setattr(asha._Shared, "claim_new", b_claims_first)
    search = _asha(storage, n_trials=6, study_name="asha", timeout=120.0, n_jobs=1).fit(X, y)
    res = search.cv_results_
    study = optuna.load_study(study_name="asha", storage=make_storage(storage))
    number = {}  # parameter set -> its first trial in the study
    for trial in study.trials:
        number.setdefault(json.dumps(trial.user_attrs["params"], sort_keys=True),
                          trial.number)
    assert number[json.dumps(b_params)] == 2
    keys = [json.dumps(p, sort_keys=True) for p in res["params"]]
    assert [number[k] for k in keys] == list(res["candidate"])
    assert "not run" in list(res["state"])  # a's third candidate, cut by the timeout


def test_a_resume_that_promotes_a_candidate_of_the_earlier_run_keeps_its_rungs(
        tmp_path, monkeypatch):
    """An ASHA cut by its ``timeout`` closes its candidates below the top rung PRUNED (a
    finished Optuna trial cannot reopen), so the resume that promotes one records it in a
    new trial. That trial held only the rungs run after the resume: the best
    candidate's COMPLETE trial showed its learning curve from 3 epochs on, without the
    1-epoch rung its promotion was decided on (the earlier trial keeps it)."""
    from test_asha_shared import data, make_search

    X, y = data()
    storage = str(tmp_path / "cut.db")
    monkeypatch.setenv("HPSEARCH_FIT_SLEEP", "0.05")
    cut = make_search(storage, timeout=0.8, refit=False).fit(X, y)
    assert max(cut.cv_results_["iter"]) < 2  # the timeout came before the top rung
    monkeypatch.setenv("HPSEARCH_FIT_SLEEP", "0")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = make_search(storage, refit=False).fit(X, y)
        make_search(storage, refit=False).fit(X, y)  # the same study, resumed again
    # a candidate in two trials is one candidate (was: 11 counted for 9, "more than
    # n_trials=9", and the CLI refused such a --resume)
    assert not [w for w in caught if "finished candidates" in str(w.message)]
    res = resumed.cv_results_
    rungs = {}  # parameter set -> {budget: mean test score} in cv_results_
    for params, budget, score in zip(res["params"], res["n_resources"],
                                     res["mean_test_score"]):
        rungs.setdefault(json.dumps(params, sort_keys=True), {})[int(budget)] = score
    last = {}  # parameter set -> its last trial
    for trial in _study(storage, "asha").trials:
        last[json.dumps(trial.user_attrs["params"], sort_keys=True)] = trial
    assert len(last) == len(rungs)
    split = [key for key in rungs if last[key].number != min(
        t.number for t in _study(storage, "asha").trials
        if json.dumps(t.user_attrs["params"], sort_keys=True) == key)]
    assert split  # candidates the resume promoted in a new trial
    for key, scores in rungs.items():
        assert dict(last[key].intermediate_values) == pytest.approx(scores), key


class KillingMLP(LoggingMLP):
    """hpsearch's MLP (logging its fits) that SIGKILLs its process in every continued
    fit (a promotion that segfaults or runs out of memory wherever it runs)."""

    def fit(self, X, y, sample_index=None):
        if self.warm_start and hasattr(self, "coefs_"):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y, sample_index=sample_index)


@pytest.mark.slow
def test_asha_on_a_dask_cluster_continues_on_the_workers(tmp_path, monkeypatch,
                                                         fresh_loky_workers):
    """ASHA under ``joblib.parallel_config(backend="dask")`` on a LocalCluster of 2
    worker processes (which share neither memory nor the parent's temp dirs): each
    promotion's saved training state travels inside its task (``Task.state``) and is
    continued on a worker, the reproducible search equals loky's with 2 workers (both
    run waves), and a fit that kills every worker it runs on is a recorded failed fit
    after ``max_retries``, as on joblib's process pools (it was Dask's
    "FutureCancelledError: batch_of__run_batch... cancelled for reason: already
    forgotten"; then one WorkerDied ending the search, until Dask's lost calls were run
    again: expectation changed as the brief asks, a failed candidate is recorded, not
    fatal)."""
    distributed = pytest.importorskip("distributed")
    import joblib

    from test_asha_shared import _cv_fits, data, make_search

    log = tmp_path / "fits.log"
    monkeypatch.setenv("HPSEARCH_FIT_LOG", str(log))  # (before the workers start)
    monkeypatch.setenv("PYTHONPATH", _pythonpath())
    X, y = data()
    local = make_search(None, study_name=None, resume=False, n_jobs=2, backend="loky",
                        refit=False).fit(X, y)
    log.unlink()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        remote = make_search(None, study_name=None, resume=False, n_jobs=None,
                             refit=False).fit(X, y)
        fits = _cv_fits(log)
        search = make_search(None, study_name=None, resume=False, n_jobs=None,
                             refit=False, max_retries=0, n_trials=3)  # 1 promotion
        search.estimator = KillingMLP(**search.estimator.get_params())
        with pytest.warns(UserWarning):  # sklearn's FitFailedWarning
            search.fit(X, y)
    killed = search.cv_results_["iter"] > 0  # every continued fit kills its worker
    assert killed.any() and np.isnan(search.cv_results_["mean_test_score"][killed]).all()
    assert all("split 0:" in e for e in search.cv_results_["error"][killed])
    assert np.isfinite(search.cv_results_["mean_test_score"][~killed]).all()
    assert remote.backend_ == "joblib:DaskDistributedBackend"
    assert remote.cv_results_["params"] == local.cv_results_["params"]
    for key in ("candidate", "iter", "mean_test_score", "split0_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.best_params_ == local.best_params_
    assert os.getpid() not in {f[0] for f in fits}  # every fit ran on a worker
    # epochs of each fit: 1 at rung 0, then 2 and 6 more (continued), never 3 or 9
    # (a promotion refitted from scratch)
    assert sorted({f[3] for f in fits}) == [1, 2, 6]


class KillOnceMLP(MLPClassifier):
    """hpsearch's MLP whose first continued fit SIGKILLs its worker (the file
    ``marker`` remembers it, so the rerun lives)."""

    def __init__(self, hidden_layer_sizes=(8,), alpha=1e-4, learning_rate_init=1e-3,
                 max_iter=9, batch_size=32, random_state=0, warm_start=False,
                 marker=None):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, alpha=alpha,
                         learning_rate_init=learning_rate_init, max_iter=max_iter,
                         batch_size=batch_size, random_state=random_state,
                         warm_start=warm_start)
        self.marker = marker

    def fit(self, X, y, sample_index=None):
        if (self.marker and self.warm_start and hasattr(self, "coefs_")
                and not os.path.exists(self.marker)):
            Path(self.marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y, sample_index=sample_index)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("backend", [None, pytest.param("loky", marks=pytest.mark.slow)],
                         ids=["fork", "loky"])
def test_a_worker_killed_in_a_promotion_continues_from_the_saved_state(tmp_path, backend):
    """n_jobs=2 (fork workers, or loky's): the worker running a promotion (a continued
    fit) is SIGKILLed. The fit runs again from the state the parent keeps (sent with
    the task), so the search equals an undisturbed one, and every fit is recorded
    once."""
    from test_asha_shared import SPACE, data

    X, y = data()

    def run(name, marker):
        search = ASHASearchCV(
            KillOnceMLP(marker=marker), SPACE, n_trials=9, min_resources=1,
            max_resources=9, cv=2, random_state=0, n_jobs=2, backend=backend,
            storage=str(tmp_path / f"{name}.db"), study_name=name, refit=False)
        return search.fit(X, y)

    marker = tmp_path / "killed"
    plain, killed = run("plain", None), run("killed", str(marker))
    assert marker.exists()  # a worker died in a promotion
    assert killed.cv_results_["params"] == plain.cv_results_["params"]
    for key in ("candidate", "iter", "state", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(killed.cv_results_[key], plain.cv_results_[key])
    assert not any(killed.cv_results_["error"])
    study = _study(tmp_path / "killed.db", "killed")
    assert recorded_fits(study) == 2 * len(plain.cv_results_["params"])
    assert len(study.trials) == 9


def test_the_cli_says_how_to_resume_when_the_store_is_full(tmp_path, monkeypatch,
                                                           capsys):
    """`python -m hpsearch study.yaml` whose trial store fills up in the middle of an
    ASHA: one line naming the file, then the resume command (as after Ctrl-C; before,
    only "run failed"), and that command finishes the study from the recorded fits."""
    import errno

    from hpsearch.cli import main
    from hpsearch.model_selection.store import TrialStore, write_failure
    from test_asha_hostile import CLI_STUDY

    study = tmp_path / "full.yaml"
    study.write_text(CLI_STUDY)
    args = [str(study), "--out", str(tmp_path / "out"), "--quiet"]
    record_fit, calls = TrialStore.record_fit, []

    def full_disk(self, row, split, trial_id):
        calls.append(split)
        if len(calls) > 5:
            raise write_failure(str(tmp_path / "out" / "study.db"), errno.ENOSPC,
                                "No space left on device")
        return record_fit(self, row, split, trial_id)

    monkeypatch.setattr(TrialStore, "record_fit", full_disk)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"disk full: cannot write {tmp_path / 'out' / 'study.db'}" in err
    assert f"resume with: python -m hpsearch {study} --resume --out " in err
    monkeypatch.setattr(TrialStore, "record_fit", record_fit)
    assert main([*args, "--resume"]) == 0
    assert recorded_fits(_study(tmp_path / "out" / "study.db", "hostile")) >= 5


class InterruptedRidge(Ridge):
    """Ridge whose fit number :attr:`stop_at` (counted in :attr:`fits`, in-process
    fits) is a Ctrl-C."""

    fits, stop_at = 0, None

    def fit(self, X, y, sample_weight=None):
        InterruptedRidge.fits += 1
        if InterruptedRidge.fits == InterruptedRidge.stop_at:
            raise KeyboardInterrupt
        return super().fit(X, y)


def test_a_shared_asha_resumed_closes_the_candidates_of_an_interrupted_process(
        data, tmp_path, monkeypatch):
    """A process of a shared ASHA interrupted (Ctrl-C, SIGTERM, SIGKILL) leaves its
    candidates RUNNING; the process that ends the ASHA closed those whose jobs had all
    finished FAIL (``hpsearch_interrupted``) for good, so the study showed failed
    candidates an uninterrupted run closes PRUNED. They end PRUNED or COMPLETE now,
    their rung scores in the last trial, as in a run never interrupted."""
    from hpsearch.model_selection.store import decode_value
    from hpsearch.model_selection.strategies.asha import SHARED_ATTR

    X, y = data
    storage = str(tmp_path / "shared.log")
    study = optuna.create_study(storage=make_storage(storage), study_name="full",
                                direction="maximize")
    study._storage.set_study_system_attr(study._study_id, SHARED_ATTR, True)

    def search():
        return ASHASearchCV(InterruptedRidge(), SPACE, n_trials=6, resource="n_samples",
                            min_resources=30, max_resources=270, factor=3, cv=2,
                            random_state=0, n_jobs=1, refit=False, storage=storage,
                            study_name="full", resume=True)

    monkeypatch.setattr(InterruptedRidge, "stop_at", 12)  # mid-promotion (job 6, split 2)
    with pytest.raises(KeyboardInterrupt):
        search().fit(X, y)
    monkeypatch.setattr(InterruptedRidge, "stop_at", None)
    done = search().fit(X, y)
    last = {}  # candidate key -> its last trial
    for trial in _study(storage).trials:
        if "hpsearch_key" in trial.user_attrs and "hpsearch_duplicate" not in trial.user_attrs:
            last[trial.user_attrs["hpsearch_key"]] = trial
    assert len(last) == done.n_candidates_ == 6
    states = sorted(t.state.name for t in last.values())
    assert states == ["COMPLETE"] + ["PRUNED"] * 5, states
    res = done.cv_results_
    for trial in last.values():
        params = decode_value(trial.user_attrs["params"])
        scores = {int(n): s for p, n, s in zip(res["params"], res["n_resources"],
                                               res["mean_test_score"]) if p == params}
        assert dict(trial.intermediate_values) == pytest.approx(scores)
