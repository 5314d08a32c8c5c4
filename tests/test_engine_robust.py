"""Robust engine (issue 11): dead workers are replaced, hung fits end at ``fit_timeout``,
the search ends at ``timeout``, workers die with their parent, SIGTERM acts as Ctrl-C.

Signals that end a process are sent in subprocesses or to worker processes only.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.datasets import load_diabetes
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import Ridge

from hpsearch.model_selection import _engine
from hpsearch.model_selection.strategies.bayes import OptunaSearchCV
from hpsearch.model_selection.strategies.grid import GridSearchCV

ROOT = Path(__file__).resolve().parents[1]
fork_only = pytest.mark.skipif(
    not _engine._fork_available(), reason="workers cannot be started by fork here"
)
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="checks processes in /proc"
)


class Crashy(RegressorMixin, BaseEstimator):
    """Ridge, unless ``action`` says otherwise: ``"segv"`` segfaults its process,
    ``"kill-once"`` SIGKILLs it the first time (a marker file in ``log`` remembers),
    ``"sleep"`` sleeps 60 s. Every fit start is logged to ``log`` (one line)."""

    def __init__(self, alpha=1.0, action="ok", log=None):
        self.alpha = alpha
        self.action = action
        self.log = log

    def fit(self, X, y):
        if self.log:
            with open(self.log, "a") as f:
                f.write(f"{self.action}\n")
        if self.action == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if self.action == "kill-once":
            try:  # atomic: the splits run at once on two workers, only one may kill
                os.close(os.open(f"{self.log}.killed", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        if self.action == "sleep":
            time.sleep(60)
        self.ridge_ = Ridge(alpha=self.alpha).fit(X, y)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True)
    return X[:150], y[:150]


GOOD = {"alpha": [0.1, 1.0, 10.0], "action": ["ok"]}


def _lines(path):
    return Path(path).read_text().splitlines() if Path(path).exists() else []


def _good_rows(search):
    res = search.cv_results_
    keep = [i for i, p in enumerate(res["params"]) if p["action"] == "ok"]
    return [res["params"][i] for i in keep], res["mean_test_score"][keep]


@pytest.fixture(scope="module")
def reference(data):
    return GridSearchCV(Crashy(), GOOD, cv=2, n_jobs=1).fit(*data)


@fork_only
@pytest.mark.parametrize("max_retries", [0, 1])
def test_a_segfaulting_candidate_is_a_failed_fit_and_the_search_completes(
    data, reference, tmp_path, max_retries
):
    log = tmp_path / "fits.log"
    grid = [GOOD, {"alpha": [1.0], "action": ["segv"]}]
    search = GridSearchCV(Crashy(log=str(log)), grid, cv=2, n_jobs=2,
                          max_retries=max_retries)
    with pytest.warns(FitFailedWarning, match="worker died: SIGSEGV"):
        search.fit(*data)
    res = search.cv_results_
    assert np.isnan(res["mean_test_score"][-1])
    assert res["error"][-1].count("worker died: SIGSEGV") == 2  # both splits
    assert _lines(log).count("segv") == 2 * (1 + max_retries)  # retried, then given up
    params, scores = _good_rows(search)
    assert params == reference.cv_results_["params"]
    np.testing.assert_array_equal(scores, reference.cv_results_["mean_test_score"])
    assert _engine._SHARED == {}


@fork_only
def test_a_worker_killed_mid_search_is_replaced_and_its_fit_runs_again(
    data, reference, tmp_path
):
    log = tmp_path / "fits.log"
    grid = [GOOD, {"alpha": [3.0], "action": ["kill-once"]}]
    search = GridSearchCV(Crashy(log=str(log)), grid, cv=2, n_jobs=2).fit(*data)
    res = search.cv_results_
    assert res["error"][-1] is None and np.isfinite(res["mean_test_score"][-1])
    assert _lines(log).count("kill-once") == 3  # 2 splits + the killed attempt
    params, scores = _good_rows(search)
    np.testing.assert_array_equal(scores, reference.cv_results_["mean_test_score"])
    expected = GridSearchCV(Ridge(), {"alpha": [3.0]}, cv=2).fit(*data)
    assert res["mean_test_score"][-1] == expected.cv_results_["mean_test_score"][0]


def test_loky_stops_a_hung_fit_at_fit_timeout(data, reference):
    grid = [GOOD, {"alpha": [2.0], "action": ["sleep"]}]
    search = GridSearchCV(Crashy(), grid, cv=2, n_jobs=2, backend="loky", fit_timeout=0.5)
    with pytest.warns(FitFailedWarning, match=r"fit exceeded fit_timeout=0.5s"):
        search.fit(*data)
    assert search.backend_ == "joblib:LokyBackend"
    params, scores = _good_rows(search)
    np.testing.assert_array_equal(scores, reference.cv_results_["mean_test_score"])


def test_loky_survives_a_segfaulting_candidate(data, reference, tmp_path):
    log = tmp_path / "fits.log"
    grid = [GOOD, {"alpha": [1.0], "action": ["segv"]}]
    search = GridSearchCV(Crashy(log=str(log)), grid, cv=2, n_jobs=2, backend="loky")
    with pytest.warns(FitFailedWarning, match="worker died: SIGSEGV"):
        search.fit(*data)
    assert search.cv_results_["error"][-1].count("worker died: SIGSEGV") == 2
    assert _lines(log).count("segv") <= 4  # at most 1 + max_retries runs per split
    params, scores = _good_rows(search)
    np.testing.assert_array_equal(scores, reference.cv_results_["mean_test_score"])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_hanging_fit_ends_at_fit_timeout(data, reference, n_jobs):
    grid = [GOOD, {"alpha": [1.0], "action": ["sleep"]}]
    start = time.monotonic()
    with pytest.warns(FitFailedWarning, match=r"fit exceeded fit_timeout=0.5s"):
        search = GridSearchCV(Crashy(), grid, cv=2, n_jobs=n_jobs,
                              fit_timeout=0.5).fit(*data)
    elapsed = time.monotonic() - start
    assert elapsed < 5, elapsed  # the fits would sleep 2 x 60 s
    assert np.isnan(search.cv_results_["mean_test_score"][-1])
    params, scores = _good_rows(search)
    np.testing.assert_array_equal(scores, reference.cv_results_["mean_test_score"])


def test_fit_timeout_with_error_score_raise_raises_timeout_error(data):
    grid = {"alpha": [1.0], "action": ["sleep"]}
    with pytest.raises(TimeoutError, match="fit_timeout=0.3s"):
        GridSearchCV(Crashy(), grid, cv=2, n_jobs=2, fit_timeout=0.3,
                     error_score="raise").fit(*data)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_timeout_stops_the_search_and_keeps_finished_fits(data, reference, n_jobs):
    grid = [GOOD, {"alpha": [1.0, 2.0], "action": ["sleep"]}]
    start = time.monotonic()
    search = GridSearchCV(Crashy(), grid, cv=2, n_jobs=n_jobs, timeout=1.5).fit(*data)
    elapsed = time.monotonic() - start
    assert 1.4 < elapsed < 4, elapsed
    res = search.cv_results_
    params, scores = _good_rows(search)
    np.testing.assert_array_equal(scores, reference.cv_results_["mean_test_score"])
    assert np.isnan(res["mean_test_score"][-2:]).all()
    assert "not run: the search's timeout=1.5s was reached" in res["error"][-1]
    assert search.best_params_["action"] == "ok"
    # unfinished candidates are not recorded as finished trials: a resume runs them
    assert sum(t.state.name == "COMPLETE" for t in search.study_.trials) == 3


def test_optuna_timeout_bounds_the_search_with_slow_fits(data):
    start = time.monotonic()
    search = OptunaSearchCV(Crashy(action="sleep"), {"alpha": [0.1, 1.0, 10.0]},
                            n_trials=6, cv=2, n_jobs=2, timeout=1.0, random_state=0)
    with pytest.raises(ValueError, match="timeout=1.0 seconds was reached"):
        search.fit(*data)
    assert time.monotonic() - start < 4


@fork_only
def test_multiprocessing_backend_runs_in_fork_workers(data, reference, monkeypatch):
    import joblib

    search = GridSearchCV(Crashy(), GOOD, cv=2, n_jobs=2, backend="multiprocessing")
    with joblib.parallel_config(backend="multiprocessing"):  # as the CLI sets it
        runs = [search.fit(*data).backend_, clone(search).set_params(backend=None)
                .fit(*data).backend_]
    assert runs == ["fork", "fork"]
    # where fork is unavailable: joblib's multiprocessing backend (no streaming)
    monkeypatch.setattr(_engine, "_fork_available", lambda: False)
    search.fit(*data)
    assert search.backend_ == "joblib:MultiprocessingBackend"
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  reference.cv_results_["mean_test_score"])


def test_new_parameters_are_validated(data):
    for name, value in [("fit_timeout", 0), ("max_retries", -1), ("timeout", -2.0)]:
        with pytest.raises(ValueError, match=f"The '{name}' parameter of GridSearchCV"):
            GridSearchCV(Crashy(), GOOD, **{name: value}).fit(*data)


# --------------------------------------------------------------- subprocess: signals
SCRIPT = textwrap.dedent(
    """\
    import os, sys, time
    import numpy as np
    from sklearn.base import BaseEstimator, RegressorMixin, clone
    from hpsearch.model_selection.strategies.grid import GridSearchCV

    class Sleepy(RegressorMixin, BaseEstimator):
        def __init__(self, seconds=0.0, log=None):
            self.seconds = seconds
            self.log = log

        def fit(self, X, y):
            with open(self.log, "a") as f:
                f.write(f"{os.getpid()}\\n")
            time.sleep(self.seconds)
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(len(X), self.mean_)

    log, n_jobs, backend = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    X = np.arange(40.0).reshape(20, 2); y = np.arange(20.0)
    search = GridSearchCV(Sleepy(log=log), {"seconds": [0.0, 0.01, 30.0, 31.0]}, cv=2,
                          n_jobs=n_jobs, backend=None if backend == "auto" else backend,
                          storage=log + ".db", study_name="s")
    try:
        search.fit(X, y)
    except KeyboardInterrupt as exc:
        print("stopped by", type(exc).__name__, flush=True)
        sys.exit(143)
    """
)


def _alive(pid):
    """Whether ``pid`` runs (a zombie waiting for a reaper does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _start(tmp_path, n_jobs, backend="auto"):
    script, log = tmp_path / "search.py", tmp_path / "fits.log"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(script), str(log), str(n_jobs), backend],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while len(_lines(log)) < 4 + n_jobs:  # the 4 fast fits and the slow ones started
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the slow fits did not start"
        time.sleep(0.05)
    workers = {int(pid) for pid in _lines(log)} - {proc.pid}
    return proc, log, workers


@linux_only
@fork_only
@pytest.mark.parametrize("backend", ["auto", "loky"])
def test_no_worker_outlives_a_killed_parent(tmp_path, backend):
    proc, log, workers = _start(tmp_path, 2, backend)
    assert workers
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 3
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if _alive(pid)]


@linux_only
@fork_only
def test_sigterm_stops_the_search_like_ctrl_c_and_keeps_finished_fits(tmp_path):
    import optuna

    proc, log, workers = _start(tmp_path, 2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert "stopped by SearchTerminated" in out
    assert not [pid for pid in workers if _alive(pid)]
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{log}.db")
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 2  # the fast ones


@linux_only
def test_a_sigterm_raised_inside_a_finalizer_is_not_lost(capsys):
    """The SIGTERM handler runs between any two bytecodes, also inside a weakref callback
    that garbage collection runs (SQLAlchemy's): the SearchTerminated raised there cannot
    propagate. It is not printed ("Exception ignored in ...") nor lost (was: the search
    went on to its end) but sent again, and raised in the search's own code."""
    import weakref

    class Garbage:
        pass

    def callback(ref):
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(_engine.SearchTerminated):
        with _engine.sigterm_as_interrupt():
            garbage = Garbage()
            ref = weakref.ref(garbage, callback)
            del garbage
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                time.sleep(0.01)
    assert "Exception ignored" not in capsys.readouterr().err
    assert ref() is None


CLI_STUDY = textwrap.dedent(
    """\
    name: term
    data: {dataset: diabetes}
    estimator: {name: 'slowridge:SlowRidge'}
    search:
      method: grid
      space:
        alpha: [0.1, 1.0, 10.0, 100.0]
    cv: 2
    n_jobs: 2
    """
)
SLOW_RIDGE = textwrap.dedent(
    """\
    import os, time
    from sklearn.linear_model import Ridge

    class SlowRidge(Ridge):
        def fit(self, X, y, sample_weight=None):
            with open(os.environ["SLOW_RIDGE_LOG"], "a") as f:
                f.write(f"{os.getpid()}\\n")
            if self.alpha > 5:
                time.sleep(30)
            return super().fit(X, y, sample_weight)
    """
)


@linux_only
def test_cli_exits_143_on_sigterm_and_keeps_finished_candidates(tmp_path):
    (tmp_path / "slowridge.py").write_text(SLOW_RIDGE)
    study, log = tmp_path / "term.yaml", tmp_path / "fits.log"
    study.write_text(CLI_STUDY)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}",
               SLOW_RIDGE_LOG=str(log))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", str(study), "--out", str(tmp_path / "out"),
         "--allow-module", "slowridge", "--quiet"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(_lines(log)) < 6:  # 4 fast fits, 2 slow ones running
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # the fast candidates' trials are written
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM); 2 finished candidate(s) kept" in err
    assert "--resume" in err
    assert not [int(p) for p in _lines(log) if _alive(int(p))]


def test_cli_fit_timeout_flag_stops_hung_fits(tmp_path, monkeypatch, capsys):
    from hpsearch.cli import main

    (tmp_path / "slowridge.py").write_text(SLOW_RIDGE)
    study, log = tmp_path / "term.yaml", tmp_path / "fits.log"
    study.write_text(CLI_STUDY.replace("n_jobs: 2", "n_jobs: 1"))
    monkeypatch.syspath_prepend(str(tmp_path))
    # another test of this process may have imported its own 'slowridge': use this one
    monkeypatch.delitem(sys.modules, "slowridge", raising=False)
    monkeypatch.setenv("SLOW_RIDGE_LOG", str(log))
    start = time.monotonic()
    code = main([str(study), "--out", str(tmp_path / "out"), "--allow-module", "slowridge",
                 "--quiet", "--fit-timeout", "0.5"])
    assert code == 0, capsys.readouterr().err
    assert time.monotonic() - start < 15  # 4 fits would sleep 30 s each
    import pandas as pd

    results = pd.read_csv(tmp_path / "out" / "results.csv")
    errors = results.filter(like="error").astype(str).to_string()
    assert "fit exceeded fit_timeout=0.5s" in errors


def test_fit_timeout_on_threads_warns_that_no_fit_is_stopped(data):
    """The warning said "is not enforced on joblib's ThreadingBackend (fits run in threads
    or on a cluster)": not what happens to a long fit. It now says it runs to its end."""
    import joblib

    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=2, n_jobs=2, fit_timeout=5)
    with joblib.parallel_config(backend="threading"), pytest.warns(
            UserWarning, match=r"fit_timeout=5s is not enforced on joblib's ThreadingBackend: "
            r"a fit in a thread cannot be stopped\. No fit is stopped: each runs to its end "
            r"however long it takes"):
        search.fit(*data)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_fit_timeout_on_dask_says_no_fit_is_stopped():
    text = _engine.fit_timeout_not_enforced(2.5, "DaskDistributedBackend")
    assert text.startswith("fit_timeout=2.5s is not enforced on Dask (joblib's "
                           "DaskDistributedBackend): hpsearch cannot stop a fit on a "
                           "cluster's worker. No fit is stopped: each runs to its end")


CLI_DASK_STUDY = """\
name: d
data: {dataset: iris}
estimator: {name: logistic_regression, params: {max_iter: 50}}
search:
  method: grid
  space: {C: [0.1, 1.0]}
cv: 3
n_jobs: 2
backend: {name: BACKEND}
"""


@pytest.mark.parametrize("backend, fit_timeout, note", [
    ("dask", ["--fit-timeout", "5"], "--fit-timeout 5 is not enforced with backend: dask "
     "(hpsearch cannot stop a fit on a Dask worker): no fit is stopped, each runs to its "
     "end however long it takes, and none fails for its time; for a time limit per fit "
     "run on this machine's processes (backend: loky or multiprocessing, or no backend key)"),
    ("threading", ["--fit-timeout", "5"], "--fit-timeout 5 is not enforced with backend: "
     "threading (a fit in a thread cannot be stopped): no fit is stopped"),
    ("loky", ["--fit-timeout", "5"], None),
    ("dask", [], None),
], ids=["dask", "threading", "loky", "dask-without-fit-timeout"])
def test_cli_fit_timeout_on_dask_or_threads_says_in_a_note_what_happens(
        tmp_path, capsys, backend, fit_timeout, note):
    """--fit-timeout with a Dask backend printed the search's Python warning (a source
    path, "use backend=None, 'fork', ..." in the API's words) and did not say what happens
    to a long fit; the plan now has a note in the study file's words."""
    from hpsearch.cli import main

    study = tmp_path / "d.yaml"
    study.write_text(CLI_DASK_STUDY.replace("BACKEND", backend))
    assert main([str(study), "--out", str(tmp_path / "out"), "--dry-run", *fit_timeout]) == 0
    out = " ".join(capsys.readouterr().out.split())
    if note is None:
        assert "is not enforced" not in out
    else:
        assert note in out, out


def test_cli_run_on_threads_with_fit_timeout_prints_the_note_not_the_warning(
        tmp_path, capsys):
    from hpsearch.cli import main

    study = tmp_path / "d.yaml"
    study.write_text(CLI_DASK_STUDY.replace("BACKEND", "threading"))
    assert main([str(study), "--out", str(tmp_path / "out"), "--quiet",
                 "--fit-timeout", "5"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("hpsearch: note: --fit-timeout 5 is not enforced with backend: "
                          "threading"), err
    assert "UserWarning" not in err and err.count("is not enforced") == 1, err
