"""Searches of every kind sharing one Optuna storage (``shared_strategy_worker.py``).

Two real processes (loopback only: one SQLite or journal file) start one search at the
same instant; every fit logs ``pid alpha split budget``.
"""

import collections
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

HERE = Path(__file__).resolve().parent


def _run_processes(tmp_path, kind, storage, n=2):
    """Run ``kind`` in ``n`` processes on ``storage``; (fits, [results])."""
    path = os.pathsep.join([str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", SPLITLOG_DELAY="0.02")
    procs = [subprocess.Popen(
        [sys.executable, str(HERE / "shared_strategy_worker.py"), kind,
         str(tmp_path / storage), str(tmp_path / "fits"), str(tmp_path / "ready"), str(n),
         str(tmp_path / f"out{i}")], env=env, cwd=str(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    words = (tmp_path / "fits").read_text().split()
    fits = [tuple(words[i + 1:i + 4]) for i in range(0, len(words), 4)]
    results = [pickle.loads((tmp_path / f"out{i}").read_bytes()) for i in range(n)]
    return fits, results


@pytest.mark.parametrize("kind, storage", [("pruner", "s.log"), ("racing", "s.db")])
def test_pruned_and_raced_optuna_processes_fit_each_split_once(tmp_path, kind, storage):
    # two processes of one OptunaSearchCV with a pruner (or racing) asked the same
    # candidate at once and both fitted it: 57 fits for 32 distinct (candidate, split,
    # budget), 20 for 12 when racing; the turns of the plain search now cover a rung and
    # a wave. (Three processes with a pruner also stopped one with "cannot share study"
    # when it read back another's finished trial of a candidate a third one was fitting.)
    fits, results = _run_processes(tmp_path, kind, storage)
    repeated = {fit: n for fit, n in collections.Counter(fits).items() if n > 1}
    assert not repeated
    (state0, first), (state1, second) = results
    assert state0 == state1 == "ok", results
    assert list(first["params"]) == list(second["params"])
    assert list(first["state"]) == list(second["state"])
    np.testing.assert_array_equal(first["mean_test_score"], second["mean_test_score"])


def test_a_raced_grid_in_two_processes_ends(tmp_path):
    # a racing grid in two processes hung for ever after the first wave: each waited
    # for the other's candidates to be complete, whose later waves waited for its own
    fits, results = _run_processes(tmp_path, "grid_racing", "s.db")
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert len(fits) == len(set(fits))
    assert list(results[0][1]["state"]) == list(results[1][1]["state"])
    assert "RACED" in list(results[0][1]["state"])


class _BigFails(Ridge):
    """Fails on more than 50 training rows (``n_jobs=1``: fits run in this process)."""

    rows = []

    def fit(self, X, y, sample_weight=None):
        _BigFails.rows.append(len(X))
        if len(X) > 50:
            raise RuntimeError("too many rows")
        return super().fit(X, y)


@pytest.mark.parametrize("kind", ["halving", "hyperband"])
def test_a_failed_round_read_back_raises_as_a_fitted_one(tmp_path, kind):
    # a halving round whose fits all failed raised sklearn's ValueError when fitted, but
    # read back from the store (resume, another process) it counted as fitted: the
    # resume went on to fit the next round's arbitrary survivors (4 fits at 120 rows)
    from hpsearch.model_selection import HalvingSearchCV, HyperbandSearchCV

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:120], y[:120]
    common = dict(resource="n_samples", factor=2, cv=2, min_resources=30, refit=False,
                  random_state=0, storage=str(tmp_path / "s.log"), study_name="s")
    space = {"alpha": [0.01, 0.1, 1.0, 10.0]}

    def search(**kw):
        if kind == "halving":
            return HalvingSearchCV(_BigFails(), space, n_candidates="grid", **common, **kw)
        return HyperbandSearchCV(_BigFails(), space, **common, **kw)

    outcomes = []
    for resume in (False, True):
        _BigFails.rows.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                search(resume=resume).fit(X, y)
                raised = None
            except ValueError as exc:
                raised = str(exc).split("\n")[1]
        stops = sorted(str(w.message).split(":")[0] for w in caught
                       if str(w.message).startswith("Every fit of round"))
        outcomes.append((raised, stops, len(_BigFails.rows)))
    (raised, stops, _), resumed = outcomes
    # the same outcome, nothing fitted again (halving: "All the 4 fits failed.";
    # Hyperband: the brackets whose round failed stop, with a warning each)
    assert resumed == (raised, stops, 0)
    assert (raised is not None, len(stops)) == {"halving": (True, 0), "hyperband": (False, 2)}[kind]


@pytest.mark.parametrize("kind", ["halving", "hyperband"])
def test_trials_enqueued_in_a_halving_study_do_not_wait_for_ever(tmp_path, kind):
    # no search may resume a halving or Hyperband study, so its enqueued trials stayed
    # WAITING for ever (optuna-dashboard showed them waiting; study.optimize, the only
    # one asking them, would mix its own objective into the halving's study)
    import optuna

    from hpsearch.model_selection import HalvingSearchCV, HyperbandSearchCV
    from hpsearch.model_selection.store import make_storage

    X, y = load_diabetes(return_X_y=True)
    storage = str(tmp_path / "s.log")
    study = optuna.create_study(storage=make_storage(storage), study_name="s",
                                direction="maximize")
    study.enqueue_trial({"alpha": 0.5})
    study.enqueue_trial({"alpha": 3.0})
    make = HalvingSearchCV if kind == "halving" else HyperbandSearchCV
    search = make(Ridge(), {"alpha": [0.1, 1.0]}, resource="n_samples", min_resources=20,
                  cv=2, refit=False, storage=storage, study_name="s", resume=True,
                  random_state=0)
    with pytest.warns(UserWarning, match="closes them FAIL"):
        search.fit(X[:80], y[:80])  # (and the small space's warning)
    enqueued = [t for t in search.study_.trials if "fixed_params" in t.system_attrs]
    assert [t.state.name for t in enqueued] == ["FAIL", "FAIL"]
    assert all(f"not run: {make.__name__}" in t.user_attrs["hpsearch_not_run"]
               for t in enqueued)
    assert not any("alpha" in t.params and t.params["alpha"] in (0.5, 3.0)
                   for t in search.study_.trials)  # (none was fitted)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.set_params(resume=True).fit(X[:80], y[:80])
    assert not [w for w in caught if "enqueue" in str(w.message)]  # none waits now


@pytest.mark.parametrize("kind, attr, value", [
    ("grid", "hpsearch_row:", {"bogus": 1}),
    ("grid", "hpsearch_row:", "x"),
    ("optuna", "hpsearch_row:", [1, 2]),
    ("optuna", "hpsearch_slot", "x"),
])
def test_a_trial_added_by_hand_with_hpsearch_attributes_is_ignored(tmp_path, kind, attr,
                                                                   value):
    # a trial added with study.add_trial carrying a copy of a trial's user attributes,
    # one of them malformed: the resume raised KeyError 'test_scores', AttributeError
    # ("'str' object has no attribute 'get'") or TypeError ('<' between str and int)
    import optuna

    from hpsearch.model_selection import GridSearchCV, OptunaSearchCV
    from hpsearch.model_selection.store import make_storage

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:60], y[:60]
    storage = str(tmp_path / "s.log")
    common = dict(cv=2, storage=storage, study_name="s", refit=False)
    if kind == "grid":
        def make(**kw):
            return GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, **common, **kw)
    else:
        def make(**kw):
            return OptunaSearchCV(Ridge(), {"alpha": [0.1, 1.0, 3.0]}, n_trials=3,
                                  random_state=0, **common, **kw)
    first = make().fit(X, y).cv_results_["mean_test_score"]
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    trial = study.trials[0]
    attrs = dict(trial.user_attrs)
    attrs[next(k for k in attrs if k.startswith(attr))] = value
    study.add_trial(optuna.trial.create_trial(
        params=trial.params, distributions=trial.distributions, value=0.0, user_attrs=attrs))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = make(resume=True).fit(X, y).cv_results_["mean_test_score"]
    np.testing.assert_allclose(again, first)
    said = [w for w in caught if "is not an hpsearch record" in str(w.message)]
    assert len(said) == (attr == "hpsearch_row:")  # (a slot: not hpsearch's trial)


class _Fails(Ridge):
    def fit(self, X, y, sample_weight=None):
        raise RuntimeError("boom")


@pytest.mark.parametrize("kind", ["grid", "optuna", "asha", "hyperband"])
def test_a_resumed_search_whose_fits_all_failed_raises_as_a_fresh_one(tmp_path, kind):
    # fresh: sklearn's "All the N fits failed."; resumed (every fit read back): grid,
    # Optuna and ASHA went on to the refit, which raised the estimator's own
    # RuntimeError; Hyperband said "All the 2 fits failed." (of 10)
    from hpsearch.model_selection import (ASHASearchCV, GridSearchCV, HyperbandSearchCV,
                                          OptunaSearchCV)

    X, y = load_diabetes(return_X_y=True)
    common = dict(cv=2, storage=str(tmp_path / "s.log"), study_name="s", random_state=0)
    space = {"alpha": [0.1, 1.0]}
    budget = dict(resource="n_samples", min_resources=20)
    searches = {
        "grid": lambda **kw: GridSearchCV(_Fails(), space, **kw),
        "optuna": lambda **kw: OptunaSearchCV(_Fails(), space, n_trials=2, **kw),
        "asha": lambda **kw: ASHASearchCV(_Fails(), space, n_trials=2, **budget, **kw),
        "hyperband": lambda **kw: HyperbandSearchCV(_Fails(), space, **budget, **kw),
    }

    def make(**kw):
        return searches[kind](**common, **kw)

    said = []
    for resume in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ValueError, match="All the") as info:
                make(resume=resume).fit(X[:40], y[:40])
        said.append(str(info.value).split("\n")[1])
    assert said[0] == said[1]
