"""The same search on a Dask cluster (joblib's dask backend) gives the same results, and
a worker or scheduler lost on the way neither loses nor harms anything."""

import os
import signal
import threading
import time
from pathlib import Path

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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _cluster(n_workers):
    """A loopback LocalCluster of worker processes that import this file (its
    estimators), whose scheduler gives a task up after one worker died in it (Dask's
    default 3 retries cost a worker restart each)."""
    import dask

    path = os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = path
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            return distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def plain():
    """The grid of :func:`_search` on diabetes, in this process (before any cluster)."""
    X, y = load_diabetes(return_X_y=True)
    return _search(Killer()).fit(X, y)


@pytest.fixture(scope="module")
def cluster(plain):
    with _cluster(2) as cluster:
        yield cluster


@pytest.fixture
def dask(cluster):
    """joblib's dask backend on the module's cluster, its two workers up."""
    with distributed.Client(cluster) as client, joblib.parallel_config(backend="dask"):
        client.wait_for_workers(2)
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
    :func:`_search` (294 training rows) SIGKILLs its process: every time
    (``marker=None``) or once (the first to create the file ``marker`` kills)."""

    def __init__(self, alpha=1.0, kill_alpha=None, marker=None):
        self.alpha = alpha
        self.kill_alpha = kill_alpha
        self.marker = marker

    def fit(self, X, y):
        if self.alpha == self.kill_alpha and len(X) == 294:
            try:
                if self.marker:
                    os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        self.ridge_ = Ridge(alpha=self.alpha).fit(X, y)
        return self

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


def test_a_worker_killed_in_its_first_fit_changes_nothing(dask, plain, tmp_path):
    """The first fit SIGKILLs its worker, which held the data joblib scattered for every
    task: the search went on (it ended with "FutureCancelledError ... already
    forgotten" when that worker held it), equals an undisturbed run, every fit
    recorded once, none in this process."""
    X, y = load_diabetes(return_X_y=True)
    marker = tmp_path / "killed"
    storage = str(tmp_path / "s.db")
    killed = _search(Killer(kill_alpha=0.1, marker=str(marker)), storage=storage,
                     study_name="k").fit(X, y)
    assert marker.exists()
    _same_scores(killed, plain)
    assert not any(killed.cv_results_["error"])
    study = optuna.load_study(study_name="k", storage=make_storage(storage))
    assert recorded_fits(study) == 12
    pids = {killed.cv_results_[f"split{k}_test_pid"][i] for i in range(4) for k in range(3)}
    assert os.getpid() not in pids


def test_a_fit_that_kills_every_worker_is_one_failed_candidate(dask, plain):
    """A fit that kills every worker it runs on: that fit fails with an error naming
    the lost worker, the others are scored as without it (it ended the search
    with WorkerDied, or killed this process when joblib ran the retry here while the
    other worker restarted)."""
    X, y = load_diabetes(return_X_y=True)
    with pytest.warns(UserWarning, match="non-finite"):
        search = _search(Killer(kill_alpha=1.0)).fit(X, y)
    res = search.cv_results_
    assert np.isnan(res["mean_test_r2"][1])
    assert res["error"][1].startswith("split 0:\nworker died: its Dask worker was lost (")
    assert "split 1" not in res["error"][1] and not np.isnan(res["split1_test_r2"][1])
    np.testing.assert_array_equal(res["split1_test_r2"], plain.cv_results_["split1_test_r2"])
    keep = [0, 2, 3]
    np.testing.assert_array_equal(res["mean_test_r2"][keep],
                                  plain.cv_results_["mean_test_r2"][keep])


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
    """:class:`Killer` whose fit takes 20 ms more."""

    def fit(self, X, y):
        FITTING.set()
        time.sleep(0.02)
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
    grid = {"alpha": list(np.logspace(-2, 2, 30))}
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
    assert 0 < kept < 90, kept
    resumed = search(storage=storage, study_name="s", resume=True).fit(X, y)
    plain = search().fit(X, y)
    assert resumed.cv_results_["params"] == plain.cv_results_["params"]
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  plain.cv_results_["mean_test_score"])
