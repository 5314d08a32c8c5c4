"""The same search on a Dask cluster (joblib's dask backend) gives the same results, and
a worker or scheduler lost on the way neither loses nor harms anything."""

import os
import signal
import threading
import time

import joblib
import numpy as np
import optuna
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import Ridge, SGDClassifier

from hpsearch.model_selection.store import make_storage, recorded_fits
from hpsearch.model_selection.strategies.grid import GridSearchCV

distributed = pytest.importorskip("distributed")

@pytest.fixture(scope="module")
def cluster(plain):
    """Three loopback worker processes of one thread, forked from a fork server (fast
    to start and restart: they import little). Not forked from this process: its
    threads (Dask's event loop, logging a record) may hold a lock at the moment of the
    fork, which the child then waits for for ever (seen once: a worker stuck in
    ``StreamHandler.flush`` of pytest's log file handler, the cluster never started and
    the run hung). Dask gives a task up when one worker
    died running it (not after 3 restarts) and sends a worker one task at a time (so
    that task is the one that killed it); a killed worker is restarted while the
    others go on."""
    import dask

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver",
                          "distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0}):
        cluster = distributed.LocalCluster(n_workers=3, threads_per_worker=1,
                                           processes=True, host="127.0.0.1",
                                           dashboard_address=None)
    with cluster:
        yield cluster


@pytest.fixture(scope="module")
def plain():
    """The grid of :func:`_search` on diabetes, in this process (before any cluster)."""
    X, y = load_diabetes(return_X_y=True)
    return _search(Killer()).fit(X, y)


@pytest.fixture
def dask(cluster):
    """joblib's dask backend on the module's cluster (a worker up)."""
    with distributed.Client(cluster) as client, joblib.parallel_config(backend="dask"):
        client.wait_for_workers(1)
        yield client


def test_grid_search_on_a_local_cluster_matches_local_run(cluster):
    X, y = load_iris(return_X_y=True)
    grid = {"alpha": [1e-4, 1e-2], "penalty": ["l2", "l1"]}

    def make():
        return GridSearchCV(SGDClassifier(max_iter=10, tol=None), grid, cv=3, random_state=0)

    local = make().fit(X, y)
    with distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        remote = make().fit(X, y)
    assert remote.cv_results_["params"] == local.cv_results_["params"]
    for key, value in local.cv_results_.items():
        if "time" in key or key in ("params", "error") or key.startswith("param_"):
            continue
        np.testing.assert_array_equal(remote.cv_results_[key], value, err_msg=key)
    assert remote.best_params_ == local.best_params_


class Killer(RegressorMixin, BaseEstimator):
    """Ridge whose fit with ``alpha == kill_alpha`` on the first split of
    :func:`_search` (294 training rows) SIGKILLs its process, every time (or the first
    time only, with ``once`` a file path that does not exist yet)."""

    def __init__(self, alpha=1.0, kill_alpha=None, once=None):
        self.alpha = alpha
        self.kill_alpha = kill_alpha
        self.once = once

    def fit(self, X, y):
        if len(X) == 294 and self.alpha == self.kill_alpha and self._first():
            os.kill(os.getpid(), signal.SIGKILL)
        self.ridge_ = Ridge(alpha=self.alpha).fit(X, y)
        return self

    def _first(self):
        if self.once is None:
            return True
        try:
            os.close(os.open(self.once, os.O_CREAT | os.O_EXCL))
            return True
        except FileExistsError:
            return False

    def predict(self, X):
        return self.ridge_.predict(X)


def _pid(estimator, X, y):
    """A scorer returning the id of the process that fitted and scores."""
    return float(os.getpid())


GRID = {"alpha": [0.1, 1.0, 10.0, 100.0]}


def _search(estimator, **kw):
    return GridSearchCV(estimator, GRID, cv=3, scoring={"r2": "r2", "pid": _pid},
                        refit=False, **kw)


def _same_scores(a, b):
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_array_equal(a.cv_results_["mean_test_r2"], b.cv_results_["mean_test_r2"])


def test_a_fit_that_kills_every_worker_is_a_failed_fit_after_max_retries(dask, plain,
                                                                        tmp_path):
    """One fit kills every worker it runs on. When Dask gave up on it (KilledWorker)
    the search hung forever (joblib's Dask backend never reported the failure); then
    (stop 15) it ended the search with WorkerDied. Now, as on joblib's process pools: it
    is run again alone, max_retries times, then recorded as a failed fit; the search
    finishes with the other candidates' results, stored; none ran in this process."""
    X, y = load_diabetes(return_X_y=True)
    storage = str(tmp_path / "s.db")
    search = _search(Killer(kill_alpha=100.0), storage=storage, study_name="k").fit(X, y)
    scores = search.cv_results_["mean_test_r2"]
    assert np.isnan(scores[3]) and "worker died: " in search.cv_results_["error"][3]
    np.testing.assert_array_equal(scores[:3], plain.cv_results_["mean_test_r2"][:3])
    assert os.getpid() not in set(search.cv_results_["split1_test_pid"])
    study = optuna.load_study(study_name="k", storage=make_storage(storage))
    assert recorded_fits(study) == 12


def test_a_fit_whose_worker_died_once_is_run_again(dask, plain, tmp_path):
    """Dask gave a fit up after its worker died once (allowed-failures=0 here): the
    search ended with WorkerDied (stop 15). Now it is run again and the search gives the
    undisturbed results."""
    X, y = load_diabetes(return_X_y=True)
    search = _search(Killer(kill_alpha=10.0, once=str(tmp_path / "died"))).fit(X, y)
    assert (tmp_path / "died").exists()
    _same_scores(search, plain)


def test_a_cluster_of_one_thread_runs_the_fits_there(dask, plain, monkeypatch):
    """A cluster counting one worker thread (one worker, or the others being restarted
    after one died): the fits still run on the cluster. joblib ran them in this
    process, as for n_jobs=1 (a fit that killed its worker killed the search's own
    process), and the engine said "in-process"."""
    X, y = load_diabetes(return_X_y=True)
    ncores = distributed.Client.ncores
    monkeypatch.setattr(distributed.Client, "ncores",
                        lambda self, *a, **k: dict(list(ncores(self, *a, **k).items())[:1]))
    search = _search(Killer()).fit(X, y)
    assert search.backend_ == "joblib:DaskDistributedBackend"
    _same_scores(search, plain)
    assert os.getpid() not in set(search.cv_results_["split0_test_pid"])


#: set by the first fit of :class:`Slow` (threads of this process: processes=False)
FITTING = threading.Event()


class Slow(Killer):
    """:class:`Killer` whose fit takes 50 ms more on a cluster's worker thread."""

    def fit(self, X, y):
        if threading.current_thread() is not threading.main_thread():
            FITTING.set()
            time.sleep(0.05)
        return super().fit(X, y)


def _close_when_fitting(cluster):
    FITTING.wait(30)
    time.sleep(0.2)
    cluster.close()


def test_a_closed_cluster_ends_the_search_naming_the_scheduler_and_keeps_the_fits(
        tmp_path):
    """The cluster closed under a search (its scheduler gone): one error naming the
    scheduler (it said a worker died), the finished fits kept in the store, and a
    resume fits only the others and gives the undisturbed results."""
    from hpsearch.model_selection._engine import WorkerDied

    X, y = load_diabetes(return_X_y=True)
    grid = {"alpha": list(np.logspace(-2, 2, 10))}
    storage = str(tmp_path / "s.db")

    def search(**kw):
        return GridSearchCV(Slow(), grid, cv=3, refit=False, **kw)

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        FITTING.clear()
        closer = threading.Thread(target=_close_when_fitting, args=(cluster,))
        with distributed.Client(cluster), joblib.parallel_config(
                backend="dask", wait_for_workers_timeout=1):  # (joblib waits 10 s)
            closer.start()
            with pytest.raises(WorkerDied, match=f"The Dask scheduler at '{address}' is "
                                                 "gone .*resume=True continues"):
                search(storage=storage, study_name="s").fit(X, y)
        closer.join()
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    kept = recorded_fits(study)
    assert 0 < kept < 30, kept
    resumed = search(storage=storage, study_name="s", resume=True).fit(X, y)
    plain = search().fit(X, y)
    assert resumed.cv_results_["params"] == plain.cv_results_["params"]
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  plain.cv_results_["mean_test_score"])


@pytest.mark.filterwarnings("ignore:.*tasks which were still being processed:UserWarning")
def test_an_interrupted_search_leaves_nothing_running_on_the_cluster(dask, monkeypatch):
    """Ctrl-C in a session that keeps its client (a notebook): joblib's Dask backend only
    stopped collecting the call's futures, so the queued fits ran on and their results
    stayed held on the cluster (its collecting coroutine waited forever). Now they are
    cancelled: nothing left to run or held."""
    import gc

    from hpsearch.model_selection import _base

    record = _base._Evaluator._record

    def interrupt_once(self, *args, **kwargs):  # Ctrl-C once the first candidate is in
        out = record(self, *args, **kwargs)
        monkeypatch.setattr(_base._Evaluator, "_record", record)
        os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(_base._Evaluator, "_record", interrupt_once)
    X, y = load_diabetes(return_X_y=True)
    search = GridSearchCV(Slow(), {"alpha": list(np.logspace(-2, 2, 12))}, cv=3,
                          refit=False)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    for _ in range(40):
        gc.collect()
        if not dask.futures and not any(dask.processing().values()):
            break
        time.sleep(0.05)
    assert not dask.futures
    assert not any(dask.processing().values())


def _fit_or_fail_if_hung(search, seconds=30, X=None, y=None):
    """``search`` fitted on diabetes (or ``X``, ``y``); a SIGINT after ``seconds`` fails
    the test as hung."""
    if X is None:
        X, y = load_diabetes(return_X_y=True)
    stop = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    stop.start()
    try:
        return search.fit(X, y)
    except KeyboardInterrupt:
        pytest.fail("the search hung")
    finally:
        stop.cancel()


def test_a_worker_lost_while_the_data_is_scattered_does_not_hang_the_search(dask, plain,
                                                                          monkeypatch):
    """The worker joblib scattered a call's data to died meanwhile (the scatter failed:
    CommClosedError): joblib's Dask backend only logged the error and the search waited
    forever. Now it is a lost call like a dead worker's: run again, same results."""
    from distributed.comm.core import CommClosedError

    scatter = distributed.Client._scatter
    failed = []

    async def scatter_failing_once(self, *args, **kwargs):
        if not failed:
            failed.append(True)
            raise CommClosedError("in <TCP (closed) ConnectionPool.scatter>: Stream is closed")
        return await scatter(self, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "_scatter", scatter_failing_once)
    search = _fit_or_fail_if_hung(_search(Killer()))
    assert failed
    _same_scores(search, plain)


@pytest.mark.parametrize("case", ["timeout", "timeout-no-batch", "worker-left"])
def test_a_scatter_that_never_ends_does_not_hang_the_search(dask, plain, monkeypatch,
                                                          case):
    """A worker killed while the scheduler sends it joblib's scattered data can leave
    Dask's scatter waiting forever for the scheduler's reply (5 of 34 runs; the search
    hung in joblib's call). Simulated here: the first scatter never returns. It is given
    up once a worker of the cluster left (here: one that seemed to be there when the
    call started) or after Dask's setting ``hpsearch.scatter-timeout``; then the call's
    data is sent with its task (or, where joblib's ``Batch`` is missing, the call runs
    again as a lost one): nothing lost, same results."""
    import asyncio

    import dask

    from hpsearch.model_selection import _engine

    scatter = distributed.Client._scatter
    hung = []

    async def scatter_hanging_once(self, *args, **kwargs):
        if not hung:
            hung.append(True)
            await asyncio.Event().wait()  # (the scheduler's reply that never comes)
        return await scatter(self, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "_scatter", scatter_hanging_once)
    setting = {"hpsearch.scatter-timeout": 0.5}
    if case == "timeout-no-batch":
        monkeypatch.setattr(_engine, "_unscattered", lambda func: None)
    elif case == "worker-left":
        workers = _engine._worker_addresses
        monkeypatch.setattr(_engine, "_worker_addresses",
                            lambda client: workers(client) | {"tcp://127.0.0.1:1"})
        setting = {}  # (5 minutes)
    with dask.config.set(setting):
        search = _fit_or_fail_if_hung(_search(Killer()))
    assert hung
    _same_scores(search, plain)
    assert not any(search.cv_results_["error"])


@pytest.mark.parametrize("value", ["2min", 0, -1])
def test_a_bad_scatter_timeout_setting_is_named(dask, value):
    import dask as dask_config

    X, y = load_diabetes(return_X_y=True)
    with dask_config.config.set({"hpsearch.scatter-timeout": value}), pytest.raises(
            ValueError, match=r"The 'hpsearch.scatter-timeout' Dask setting must be a "
                              r"positive duration .*Got .* instead"):
        _search(Killer()).fit(X, y)


#: the distinct ``X`` objects :class:`Counted` was fitted on (threads of this process)
X_SEEN = []


class Counted(Killer):
    """:class:`Killer` noting each distinct ``X`` object it is fitted on (by index)."""

    def fit(self, X, y, sample_index=None):
        if not any(X is seen for seen in X_SEEN):
            X_SEEN.append(X)
        if sample_index is not None:
            X, y = X[sample_index], y[sample_index]
        return super().fit(X, y)


def test_data_of_a_call_whose_scatter_was_given_up_goes_once_per_worker():
    """When the scatter of a call's data was given up, X and y went with every task:
    a 20 MB X, 24 fits, 2 workers: 24 copies of X (480 MB over the wire, measured
    with processes=True; 13 of 24 on a processes=False cluster) instead of one per
    worker. Now they are sent once, as a task of their own, for the whole search:
    every fit of a worker sees the same X; the same results."""
    import dask

    X, y = load_diabetes(return_X_y=True)
    X = np.repeat(X, 5, axis=1)  # (a copy of 440 x 50 floats: scattered by joblib)
    plain = _search(Counted()).fit(X, y)
    X_SEEN.clear()
    with dask.config.set({"distributed.scheduler.active-memory-manager.start": False}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_config(backend="dask"), \
            dask.config.set({"hpsearch.scatter-timeout": "1us"}):  # (given up at once)
        search = _fit_or_fail_if_hung(_search(Counted()), X=X, y=y)
    assert len(X_SEEN) <= 2, len(X_SEEN)
    _same_scores(search, plain)
    assert not any(search.cv_results_["error"])


def test_backend_dask_as_a_parameter_runs_on_the_cluster_like_parallel_config(plain):
    """``backend="dask"`` (the engine's "any other name: joblib with that backend"):
    ValueError "Invalid backend: dask" unless a ``parallel_config`` had registered it,
    then TypeError "Batch.__call__() got an unexpected keyword argument
    'nesting_level'" on every call (joblib's Parallel passes it to the backend). Now
    the same as ``with joblib.parallel_config(backend="dask")``: same results."""
    X, y = load_diabetes(return_X_y=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        search = _fit_or_fail_if_hung(_search(Killer(), backend="dask"), X=X, y=y)
    assert search.backend_ == "joblib:DaskDistributedBackend"
    _same_scores(search, plain)
    assert not any(search.cv_results_["error"])


def test_metadata_routing_reaches_the_fits_on_the_cluster(dask):
    # sklearn's config is thread-local and a Dask worker starts with the defaults: the
    # fits ran with routing disabled, where sklearn's multi-metric scorer weights every
    # metric, also the one set with set_score_request(sample_weight=False)
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, make_scorer
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV

    X, y = load_iris(return_X_y=True)
    weights = np.random.RandomState(0).rand(len(y)) * 3
    grid = {"C": [0.01, 1.0]}
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = LogisticRegression().set_fit_request(sample_weight=True)
        scoring = {
            "weighted": make_scorer(accuracy_score).set_score_request(sample_weight=True),
            "unweighted": make_scorer(accuracy_score).set_score_request(
                sample_weight=False),
        }
        ours = GridSearchCV(estimator, grid, scoring=scoring, refit="weighted", cv=3,
                            n_jobs=2, progress=False).fit(X, y, sample_weight=weights)
        theirs = SkGridSearchCV(estimator, grid, scoring=scoring, refit="weighted",
                                cv=3).fit(X, y, sample_weight=weights)
    assert ours.backend_.startswith("joblib:Dask")
    for metric in scoring:
        np.testing.assert_allclose(ours.cv_results_[f"mean_test_{metric}"],
                                   theirs.cv_results_[f"mean_test_{metric}"])
