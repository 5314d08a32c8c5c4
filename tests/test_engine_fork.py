"""Fork workers: same results as loky and n_jobs=1, X inherited (not copied), cleanup,
a dying worker and Ctrl-C do not hang the search."""

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.exceptions import FitFailedWarning

from hpsearch.model_selection import _engine
from hpsearch.model_selection.strategies.grid import GridSearchCV
from hpsearch.mlp import MLPClassifier

pytestmark = pytest.mark.skipif(
    not _engine._fork_available(), reason="workers cannot be started by fork here"
)


class Probe(ClassifierMixin, BaseEstimator):
    """Scores 1 when fit saw the parent's X buffer (``ptr``), +10 when it ran in another
    process than ``parent``; ``action`` makes fit misbehave."""

    def __init__(self, ptr=0, parent=0, action="none"):
        self.ptr = ptr
        self.parent = parent
        self.action = action

    def fit(self, X, y, sample_index=None):
        if self.action == "die":
            os._exit(3)  # a worker killed mid-fit (OOM killer, segfault)
        if self.action == "interrupt":  # Ctrl-C while this fit runs (fast fits done)
            time.sleep(2.0)
            os.kill(self.parent, signal.SIGINT)
            time.sleep(60)
        self.same_buffer_ = X.__array_interface__["data"][0] == self.ptr
        self.other_process_ = os.getpid() != self.parent
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y=None):
        return float(self.same_buffer_) + 10 * float(self.other_process_)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _children():
    # ours only: a loky pool of an earlier test stays alive (loky reuses its workers)
    return [p for p in multiprocessing.active_children() if "Loky" not in type(p).__name__]


def test_fork_loky_and_in_process_give_identical_results(iris):
    X, y = iris
    grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}
    mlp = MLPClassifier((8,), max_iter=4)  # random_state None: seeded per fit
    runs = {
        (n_jobs, backend): GridSearchCV(mlp, grid, cv=3, random_state=0, n_jobs=n_jobs,
                                        backend=backend).fit(X, y)
        for n_jobs, backend in [(1, None), (2, None), (-1, None), (2, "fork"), (2, "loky")]
    }
    kinds = {key: search.backend_ for key, search in runs.items()}
    assert kinds == {(1, None): "in-process", (2, None): "fork", (-1, None): "fork",
                     (2, "fork"): "fork", (2, "loky"): "joblib:LokyBackend"}
    ref = runs[(1, None)].cv_results_
    for search in runs.values():
        for key in ("mean_test_score", "rank_test_score", *(f"split{k}_test_score"
                                                            for k in range(3))):
            np.testing.assert_array_equal(search.cv_results_[key], ref[key])
        assert search.cv_results_["params"] == ref["params"]


def test_fork_workers_use_the_parents_X_buffer_without_a_copy():
    rng = np.random.default_rng(0)
    X = rng.random((2000, 100))  # 1.6 MB: the loky path would memory-map a copy
    y = rng.integers(0, 2, 2000)
    probe = Probe(ptr=X.__array_interface__["data"][0], parent=os.getpid())
    search = GridSearchCV(probe, {"action": ["none", "none "]}, cv=2, n_jobs=2).fit(X, y)
    assert search.backend_ == "fork"
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], 11.0)
    assert _engine._SHARED == {} and _children() == []  # table entry and workers gone


def test_a_failing_fit_raises_and_cleans_up(iris):
    X, y = iris
    mlp = MLPClassifier((4,), max_iter=1)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        GridSearchCV(mlp, {"hidden_layer_sizes": [(4,), (-1,)]}, cv=2, n_jobs=2,
                     error_score="raise").fit(X, y)
    assert _engine._SHARED == {} and _children() == []


def test_a_dying_worker_is_replaced_and_its_fit_fails_after_the_retries(iris):
    X, y = iris
    search = GridSearchCV(Probe(), {"action": ["none", "die"]}, cv=2, n_jobs=2)
    with pytest.warns(FitFailedWarning, match="worker died: exit code 3"):
        search.fit(X, y)  # neither hangs nor raises BrokenProcessPool
    assert _engine._SHARED == {} and _children() == []
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], [10.0, np.nan])
    assert "worker died: exit code 3" in search.cv_results_["error"][1]


def test_ctrl_c_stops_the_workers_and_keeps_finished_candidates(iris):
    X, y = iris
    probe = Probe(parent=os.getpid())
    search = GridSearchCV(probe, {"action": ["none", "interrupt"]}, cv=2, n_jobs=2)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)  # the slow fits sleep 60 s: the workers are terminated
    assert _engine._SHARED == {} and _children() == []
    finished = [t for t in search.study_.trials if t.state.name == "COMPLETE"]
    assert len(finished) == 1  # the fast candidate, recorded as it finished


class _LockedStream:
    """``sys.stdout`` as a notebook's: a write takes a lock that another thread (its output
    thread) holds now and then; ``flush`` (which fork calls first) takes none."""

    def __init__(self, stream):
        self.stream, self.lock = stream, threading.Lock()

    def write(self, text):
        with self.lock:
            return self.stream.write(text)

    def flush(self):
        pass


class _Logs(ClassifierMixin, BaseEstimator):
    """Logs one line per fit (a library logging through ``logging``)."""

    def __init__(self, alpha=0.0):
        self.alpha = alpha

    def fit(self, X, y):
        logging.getLogger("test_engine_fork").warning("Iteration 1, loss = %s", self.alpha)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


@pytest.mark.parametrize("how", ["print", "logging"])
def test_a_fit_writing_in_a_fork_worker_does_not_wait_for_the_parents_stream_lock(
        iris, monkeypatch, capfd, how):
    # was: a worker forked while a thread of the parent held sys.stdout's lock inherited
    # it held; the first line of a verbose fit (or a log record of a handler on that
    # stream) waited for ever (here: every fit stopped at fit_timeout). The workers write
    # to descriptor 1 with a stream of their own.
    X, y = iris
    stream = _LockedStream(sys.stdout)
    monkeypatch.setattr(sys, "stdout", stream)
    logger = logging.getLogger("test_engine_fork")
    handler = logging.StreamHandler(stream)
    monkeypatch.setattr(logger, "handlers", [handler])
    monkeypatch.setattr(logger, "propagate", False)
    estimator = (MLPClassifier((4,), max_iter=1, verbose=True) if how == "print"
                 else _Logs())
    held, release = threading.Event(), threading.Event()

    def hold():
        with stream.lock:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    held.wait()
    try:
        search = GridSearchCV(estimator, {"alpha": [1e-4, 1e-3]}, cv=2, n_jobs=2,
                              backend="fork", refit=False, fit_timeout=20)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the parent writes nothing meanwhile)
            start = time.monotonic()
            search.fit(X, y)
    finally:
        release.set()
        holder.join()
    assert time.monotonic() - start < 15
    assert search.backend_ == "fork"
    assert list(search.cv_results_["error"]) == [None, None]
    assert capfd.readouterr().out.count("Iteration 1, loss = ") == 4  # 2 candidates x 2 splits


def test_fork_backend_is_refused_where_fork_is_unavailable(monkeypatch):
    monkeypatch.setattr(_engine, "_fork_available", lambda: False)
    with pytest.raises(ValueError, match="'backend' parameter is 'fork'"):
        GridSearchCV(Probe(), {"action": ["none"]}, cv=2, n_jobs=2,
                     backend="fork").fit(np.zeros((4, 1)), [0, 1, 0, 1])
