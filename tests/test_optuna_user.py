"""OptunaSearchCV seen by an Optuna user: the study it writes, read back with plain
Optuna, says what the search reports (parameters, values, states), and a resumed search
continues it exactly."""

from contextlib import contextmanager

import numpy as np
import optuna
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from hpsearch.model_selection.space import Categorical, decode_params
from hpsearch.model_selection.strategies.bayes import OptunaSearchCV

WAITING = optuna.trial.TrialState.WAITING


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(40, 3)), rng.normal(size=40)


class Kind(RegressorMixin, BaseEstimator):
    """Predicts a constant chosen by the *type* of ``a`` (1, True and 1.0 differ, as
    ``max_features=1`` and ``max_features=1.0`` do in scikit-learn's forests)."""

    def __init__(self, a=1, b=None):
        self.a = a
        self.b = b

    def fit(self, X, y):
        self.offset_ = {int: 0.0, bool: 1.0, float: 2.0}[type(self.a)]
        return self

    def predict(self, X):
        return np.full(len(X), self.offset_)


def test_equal_choices_of_other_types_are_kept_apart(tmp_path, data):
    """Optuna finds a categorical choice with ``tuple.index``, so ``[1, True, 1.0]``
    stored every trial as ``1``: the study and a resumed search lost the True and 1.0
    candidates (fitted with another value than the one evaluated)."""
    space = {"a": [1, True, 1.0]}
    kwargs = dict(n_trials=7, sampler="random", cv=2, random_state=0, refit=False,
                  storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s", progress=False)
    search = OptunaSearchCV(Kind(), space, **kwargs).fit(*data)
    types = [type(p["a"]) for p in search.cv_results_["params"]]
    assert set(types) == {int, bool, float}
    study = optuna.load_study(study_name="s", storage=kwargs["storage"])
    stored = [type(decode_params(t.params, space)["a"]) for t in study.trials]
    assert stored == types
    resumed = OptunaSearchCV(Kind(), space, resume=True, **kwargs).fit(*data)
    assert [type(p["a"]) for p in resumed.cv_results_["params"]] == types
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  search.cv_results_["mean_test_score"])


def test_enqueued_trials_are_asked_first(tmp_path, data):
    """``study.enqueue_trial`` (Optuna's way to try known configurations first) was
    ignored: the search created new trials and left the enqueued ones WAITING."""
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    study.enqueue_trial({"a": True})
    study.enqueue_trial({"a": 1.0, "b": (2, 3)})
    space = {"a": Categorical([1, True, 1.0]), "b": [(1,), (2, 3)]}
    search = OptunaSearchCV(Kind(), space, n_trials=3, cv=2, random_state=0, refit=False,
                            storage=storage, study_name="s", resume=True,
                            progress=False).fit(*data)
    params = search.cv_results_["params"]
    assert type(params[0]["a"]) is bool and type(params[1]["a"]) is float
    assert params[1]["b"] == (2, 3)
    trials = optuna.load_study(study_name="s", storage=storage).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert [t.number for t in trials] == list(search.cv_results_["trial"])


@pytest.mark.parametrize("kind", ["random", "halving"])
def test_a_search_that_cannot_run_enqueued_trials_says_so(tmp_path, data, kind):
    """Only OptunaSearchCV and ASHASearchCV run enqueued trials
    (``tests/test_asha_enqueued.py``); the other searches left them WAITING without a
    word (an Optuna user who enqueued known configurations never saw them evaluated)."""
    import warnings

    from sklearn.linear_model import Ridge

    from hpsearch.model_selection import HalvingSearchCV, RandomSearchCV

    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    study.enqueue_trial({"alpha": 0.5})
    space = {"alpha": [0.1, 1.0, 10.0]}
    common = dict(cv=2, refit=False, progress=False, storage=storage, study_name="s",
                  resume=True, random_state=0)
    search = {
        "random": lambda: RandomSearchCV(Ridge(), space, n_iter=2, **common),
        "halving": lambda: HalvingSearchCV(Ridge(), space, resource="n_samples",
                                           min_resources=20, **common),
    }[kind]()
    with pytest.warns(UserWarning, match=r"1 trial\(s\) enqueued .*'alpha': 0.5.* "
                      "does not run enqueued trials"):
        search.fit(*data)
    optuna.create_study(storage=storage, study_name="o",
                        direction="maximize").enqueue_trial({"alpha": 10.0})
    with warnings.catch_warnings():  # OptunaSearchCV asks it: no such warning
        warnings.simplefilter("error", UserWarning)
        asked = OptunaSearchCV(Ridge(), space, n_trials=1, cv=2, refit=False,
                               progress=False, storage=storage, study_name="o",
                               resume=True, random_state=0).fit(*data)
    assert asked.cv_results_["params"] == [{"alpha": 10.0}]


@pytest.fixture
def no_open_store(monkeypatch):
    """No store of an earlier test left open (one never closed would hold Optuna quiet
    for the whole process, hiding what these tests check)."""
    from hpsearch.model_selection import store

    monkeypatch.setattr(store, "_QUIET", {"open": 0, "verbosity": None})


@pytest.mark.parametrize("level", [optuna.logging.INFO, optuna.logging.ERROR])
def test_the_users_optuna_verbosity_is_kept(tmp_path, data, level, no_open_store):
    """A search quiets Optuna's per-trial INFO lines while it runs; it left Optuna at
    WARNING for good, so the user's own studies stopped logging (or, set to ERROR,
    started warning), also after a search refused to start."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(level)
    try:
        storage = str(tmp_path / "s.db")
        OptunaSearchCV(Kind(), {"a": [1, 2]}, n_trials=2, cv=2, refit=False,
                       storage=storage, study_name="s", progress=False).fit(*data)
        assert optuna.logging.get_verbosity() == level
        with pytest.raises(ValueError, match="already exists"):  # a store that fails
            OptunaSearchCV(Kind(), {"a": [1, 2]}, n_trials=2, cv=2, storage=storage,
                           study_name="s", progress=False).fit(*data)
        assert optuna.logging.get_verbosity() == level
    finally:
        optuna.logging.set_verbosity(before)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_hyperband_without_study_name_is_reproducible():
    """Optuna's HyperbandPruner puts trial n in the bracket ``crc32(study_name_n)``: a
    search without ``study_name`` (a new generated name at each fit) pruned other trials
    at each run whatever its ``random_state``."""
    from sklearn.datasets import load_iris

    from hpsearch import MLPClassifier
    from hpsearch.model_selection.space import Float

    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    runs = []
    for _ in range(2):
        search = OptunaSearchCV(
            MLPClassifier((4,), max_iter=9, random_state=0),
            {"learning_rate_init": Float(1e-4, 1e-1, log=True)}, n_trials=8, cv=2,
            pruner="hyperband", random_state=0, refit=False, progress=False).fit(X, y)
        study = search.study_
        runs.append([(study.pruner._get_bracket_id(study, t), t.state.name,
                      sorted(t.intermediate_values)) for t in study.trials])
    assert runs[0] == runs[1]


def test_optuna_distributions_as_param_distributions(data):
    """``optuna_integration.OptunaSearchCV`` takes Optuna distributions: here they were
    refused as "a single value"; now each is its dimension, and the study holds the
    very distributions given."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )
    from sklearn.linear_model import Ridge

    space = {"alpha": FloatDistribution(1e-3, 10.0, log=True),
             "tol": FloatDistribution(0.001, 0.004, step=0.001),
             "max_iter": IntDistribution(10, 100, step=10),
             "solver": CategoricalDistribution(["auto", "svd"])}
    search = OptunaSearchCV(Ridge(), space, n_trials=3, cv=2, random_state=0,
                            refit=False, progress=False).fit(*data)
    for trial, params in zip(search.study_.trials, search.cv_results_["params"]):
        assert trial.distributions == space
        assert params["max_iter"] % 10 == 0 and type(params["max_iter"]) is int


def test_step_dimensions():
    """Optuna's ``step`` (``suggest_float(step=)``, ``suggest_int(step=)``) as a
    dimension: the same values for grid, random and Optuna searches and study files."""
    from optuna.distributions import FloatDistribution, IntDistribution

    from hpsearch.model_selection.space import Float, Int, from_spec

    f, i = Float(0.0, 1.0, step=0.25), Int(2, 10, step=4)
    assert f.grid() == [0.0, 0.25, 0.5, 0.75, 1.0] and i.grid() == [2, 6, 10]
    assert Float(0.0, 1.0, step=0.25, n=3).grid() == [0.0, 0.5, 1.0]
    rng = np.random.RandomState(0)
    assert {f.rvs(rng) for _ in range(50)} == set(f.grid())
    assert {i.rvs(rng) for _ in range(50)} == {2, 6, 10}
    assert f.to_optuna() == FloatDistribution(0.0, 1.0, step=0.25)
    assert i.to_optuna() == IntDistribution(2, 10, step=4)
    assert from_spec(f.to_spec(), "f") == f and from_spec(i.to_spec(), "i") == i
    for bad, match in [(lambda: Float(0.0, 1.0, step=0.3), "multiple of `step`"),
                       (lambda: Int(1, 8, step=2, log=True), "cannot be combined"),
                       (lambda: Int(1, 9, step=0.5), "must be an integer > 0"),
                       (lambda: Float(0.0, 1.0, step=-1.0), "must be a real number > 0")]:
        with pytest.raises(ValueError, match=match):
            bad().named("p")


class Slow(RegressorMixin, BaseEstimator):
    def __init__(self, delay=0.8):
        self.delay = delay

    def fit(self, X, y):
        import time

        time.sleep(self.delay)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_a_trial_the_timeout_cut_is_taken_over_on_resume(tmp_path, data):
    """A trial whose splits the ``timeout`` left unrun was told FAIL like a trial whose
    own fits failed: a resume fitted its missing splits into a new trial without slot,
    and ``cv_results_`` pointed at the FAIL trial (``state`` FAIL, finite score).
    Now it is closed as interrupted and taken over (same slot and parameters; its
    finished split reused), as a killed process's trial is."""
    kwargs = dict(cv=3, random_state=0, refit=False, n_jobs=1, progress=False,
                  storage=str(tmp_path / "s.db"), study_name="s")
    space = {"delay": [0.4]}
    with pytest.raises(ValueError, match="timeout"):  # (no candidate finished)
        OptunaSearchCV(Slow(), space, n_trials=2, timeout=0.5, **kwargs).fit(*data)
    resumed = OptunaSearchCV(Slow(), space, n_trials=1, resume=True, **kwargs).fit(*data)
    assert list(resumed.cv_results_["state"]) == ["COMPLETE"]
    assert np.isfinite(resumed.cv_results_["mean_test_score"][0])
    trials = resumed.study_.trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[0].user_attrs.get("hpsearch_interrupted")
    assert trials[1].user_attrs["hpsearch_slot"] == 0
    assert list(resumed.cv_results_["trial"]) == [1]


def test_a_search_ended_by_its_timeout_leaves_no_running_trial(tmp_path, data):
    """Candidates a ``timeout`` cut were left RUNNING, owned by a process that lives on
    (a notebook): the study looked busy for ever, and a resume in another process
    waited for them until that process exited. They are now closed as interrupted
    (their finished fits are kept for a resume)."""
    from hpsearch.model_selection import RandomSearchCV

    storage = str(tmp_path / "s.db")
    search = RandomSearchCV(Slow(), {"delay": [0.3, 0.31, 0.32]}, n_iter=3, cv=2,
                            timeout=0.8, n_jobs=1, random_state=0, refit=False,
                            storage=storage, study_name="s", progress=False)
    try:  # a busy machine may reach the timeout before the first candidate finished
        search.fit(*data)
    except ValueError as exc:
        assert "timeout" in str(exc)
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{storage}").trials
    assert "RUNNING" not in [t.state.name for t in trials]
    cut = [t for t in trials if t.state.name == "FAIL"]
    assert cut and all(t.user_attrs.get("hpsearch_interrupted") for t in cut)


@pytest.mark.filterwarnings("ignore:b contains a value with the type:UserWarning")
def test_a_sampler_giving_real_values_of_coded_choices_is_told_the_codes(data):
    """A sampler given fixed values (GridSampler) of choices Optuna holds as string codes
    (tuples) failed with Optuna's bare "'(2, 3)' not in ('(1,)', '(2, 3)')"."""
    sampler = optuna.samplers.GridSampler({"b": [(1,), (2, 3)]}, seed=0)
    search = OptunaSearchCV(Kind(), {"b": [(1,), (2, 3)]}, n_trials=2, cv=2,
                            sampler=sampler, refit=False, progress=False)
    with pytest.raises(ValueError, match=r"string codes.*'b': \['\(1,\)', '\(2, 3\)'\]"):
        search.fit(*data)


def test_verbosity_comes_back_when_stores_close_in_any_order(no_open_store):
    """Nested CV opens and closes its inner searches' stores in threads, in any order:
    the user's verbosity comes back when the last one closes, not before or never."""
    from hpsearch.model_selection.store import TrialStore

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        first, second = TrialStore(), TrialStore()
        first.close()
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING  # second is open
        second.close()
        second.close()  # (twice: counted once)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(before)


@contextmanager
def _two_processes_on_one_enqueued_trial(tmp_path, space):
    """Two OptunaSearchCV "processes" (each its study object and TrialStore) on a SQLite
    study holding one enqueued trial, and the second one's list of WAITING trials read
    now (stale once the first takes the trial): ``(searches, stores, stale)``."""
    from hpsearch.model_selection.store import TrialStore

    storage = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(study_name="s", storage=storage,
                        direction="maximize").enqueue_trial({"a": 1.0})
    searches, stores = [], []
    try:
        for _ in range(2):
            search = OptunaSearchCV(Kind(), space)
            search.study_ = optuna.load_study(study_name="s", storage=storage)
            searches.append(search)
            stores.append(TrialStore(storage, "s", resume=True))
        study = searches[1].study_
        stale = study._storage.get_all_trials(study._study_id, states=(WAITING,))
        yield searches, stores, stale
    finally:
        for store in stores:
            store.close()


def _stale_reads(storage, stale):
    """Make ``storage`` list ``stale`` as the WAITING trials (a list read earlier)."""
    get_all = storage.get_all_trials
    storage.get_all_trials = lambda study_id, deepcopy=True, states=None: (
        stale if states == (WAITING,) else get_all(study_id, deepcopy, states))


def _held(searches):
    study = searches[0].study_
    return study._storage.get_all_trials(study._study_id)[0]


def test_of_two_processes_that_both_set_an_enqueued_trial_running_one_asks_it(tmp_path):
    """SQLite has no row lock: two processes reading an enqueued trial WAITING at once may
    both set it RUNNING, and both OptunaSearchCV ran it. The first ticket takes it (as
    ASHA's ``TrialStore.pop_enqueued``); the other process goes on without it."""
    space = {"a": [1.0, 2.0]}
    with _two_processes_on_one_enqueued_trial(tmp_path, space) as (searches, stores, stale):
        second = searches[1].study_._storage
        # the second process read the trial WAITING and wrote its owner (as it does
        # before setting a trial RUNNING) before the first took it; its update to RUNNING
        # went through later as well (what SQLite allows)
        second.set_trial_user_attr(stale[0]._trial_id, "hpsearch_owner", stores[1].owner)
        stores[1].mark_popping(stale)
        taken = searches[0]._pop_enqueued(space, stores[0])
        assert taken == stale[0]._trial_id
        set_state, set_attr = second.set_trial_state_values, second.set_trial_user_attr
        second.set_trial_user_attr = lambda trial_id, key, value: (
            None if key == "hpsearch_owner" and trial_id == taken  # written above
            else set_attr(trial_id, key, value))
        _stale_reads(second, stale)
        second.set_trial_state_values = lambda trial_id, state, values=None: (
            True if state.name == "RUNNING" else set_state(trial_id, state, values))
        assert searches[1]._pop_enqueued(space, stores[1]) is None
        held = _held(searches)
        assert held.state.name == "RUNNING"
        assert held.user_attrs["hpsearch_owner"] == stores[0].owner


def test_a_process_with_a_stale_list_of_enqueued_trials_leaves_anothers_owner(tmp_path):
    """Two processes going through the same list of WAITING trials: the second wrote its
    owner over the trial the first had taken (its RUNNING update then failed), so once
    the second process ended, the trial the first was fitting read as a dead process's."""
    space = {"a": [1.0, 2.0]}
    with _two_processes_on_one_enqueued_trial(tmp_path, space) as (searches, stores, stale):
        taken = searches[0]._pop_enqueued(space, stores[0])
        _stale_reads(searches[1].study_._storage, stale)
        assert searches[1]._pop_enqueued(space, stores[1]) is None
        held = _held(searches)
        assert held._trial_id == taken and held.state.name == "RUNNING"
        assert held.user_attrs["hpsearch_owner"] == stores[0].owner
