"""ASHASearchCV: continuation, determinism, parallel runs, samplers, store, CLI, errors."""

import zlib
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from hpsearch import ASHASearchCV, MLPClassifier
from hpsearch.cli import main
from hpsearch.model_selection.space import Float

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]

SPACE = {
    "learning_rate_init": Float(1e-3, 1e-1, log=True),
    "alpha": Float(1e-6, 1e-2, log=True),
}
STUDY = Path(__file__).resolve().parents[1] / "studies" / "asha.yaml"


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:240], y[:240]


def _crc(estimator, X, y):
    """A scorer returning a checksum of every weight: equal checksums = equal bits."""
    arrays = [np.ascontiguousarray(a) for a in (*estimator.coefs_, *estimator.intercepts_)]
    return float(zlib.crc32(b"".join(a.tobytes() for a in arrays)))


def _mlp(**kw):
    return MLPClassifier((8,), max_iter=9, batch_size=32, random_state=0, **kw)


def _search(**kw):
    kw = {"n_trials": 9, "min_resources": 1, "max_resources": 9, "cv": 2,
          "random_state": 0, **kw}
    return ASHASearchCV(_mlp(), SPACE, **kw)


def test_promotions_continue_training_bit_identically(digits):
    X, y = digits
    cv = KFold(2, shuffle=True, random_state=0)
    search = _search(cv=cv, scoring={"accuracy": "accuracy", "crc": _crc},
                     refit="accuracy").fit(X, y)
    res = search.cv_results_
    assert search.n_resources_ == [1, 3, 9]
    assert 9 in res["n_resources"]  # a candidate went 1 -> 3 -> 9 epochs
    for row, params in enumerate(res["params"]):
        budget = int(res["n_resources"][row])
        for k, (train, _) in enumerate(cv.split(X, y)):
            straight = _mlp().set_params(**params, max_iter=budget)
            straight.fit(X, y, sample_index=train)
            assert res[f"split{k}_test_crc"][row] == _crc(straight, None, None), (row, k)
    # the final model: the best top-rung candidate trained straight to max_resources
    assert res["n_resources"][search.best_index_] == 9
    straight = _mlp().set_params(**search.best_params_, max_iter=9).fit(X, y)
    assert search.best_estimator_.n_iter_ == 9
    for a, b in zip(search.best_estimator_.coefs_, straight.coefs_):
        np.testing.assert_array_equal(a, b)


def test_results_layout_states_and_store(digits):
    X, y = digits
    search = _search().fit(X, y)
    res = search.cv_results_
    n = len(res["params"])
    for key in ("candidate", "iter", "n_resources", "resources", "state"):
        assert len(res[key]) == n, key
    assert search.n_candidates_ == 9 and search.n_iterations_ == n
    assert set(res["state"]) <= {"promoted", "stopped", "complete"}
    for c, k, state in zip(res["candidate"], res["iter"], res["state"]):
        promoted = any(c2 == c and k2 == k + 1
                       for c2, k2 in zip(res["candidate"], res["iter"]))
        assert (state == "promoted") == promoted
        assert (state == "complete") == (k == 2)
    # rung k holds floor(n_k / 3) promotions at most, when each was made
    assert (res["iter"] == 1).sum() <= 9 // 3 and (res["iter"] == 2).sum() <= 1
    assert res["rank_test_score"][search.best_index_] == 1
    # one trial per candidate, its rung scores as intermediate values
    trials = search.study_.get_trials()
    assert len(trials) == 9
    states = {t.state.name for t in trials}
    assert states <= {"COMPLETE", "PRUNED"}
    steps = sorted(len(t.intermediate_values) for t in trials)
    assert steps == sorted(np.bincount(res["candidate"]).tolist())


def test_n_jobs_1_is_reproducible(digits):
    X, y = digits
    a = _search(refit=False).fit(X, y).cv_results_
    b = _search(refit=False).fit(X, y).cv_results_
    assert a["params"] == b["params"]
    np.testing.assert_array_equal(a["candidate"], b["candidate"])
    np.testing.assert_array_equal(a["mean_test_score"], b["mean_test_score"])
    c = _search(refit=False, random_state=1).fit(X, y).cv_results_
    assert c["params"] != a["params"]


def test_n_jobs_2_runs_to_full_budget_and_is_reproducible(digits):
    X, y = digits
    a = _search(n_jobs=2, n_trials=12).fit(X, y)
    res = a.cv_results_
    assert (res["n_resources"] == 9).any()
    assert res["n_resources"][a.best_index_] == 9
    assert a.backend_ == "fork"
    b = _search(n_jobs=2, n_trials=12).fit(X, y).cv_results_
    assert b["params"] == res["params"]
    np.testing.assert_array_equal(b["mean_test_score"], res["mean_test_score"])


@pytest.mark.parametrize("sampler", ["tpe", optuna.samplers.RandomSampler(seed=0)],
                         ids=["tpe", "instance"])
def test_model_based_sampler_runs(digits, sampler):
    X, y = digits
    kw = dict(sampler=sampler, n_trials=14, refit=False)
    search = _search(**kw).fit(X, y)
    res = search.cv_results_
    assert search.n_candidates_ == 14
    assert (res["n_resources"] == 9).any()
    if sampler == "tpe":  # reproducible for a seed, like the random sampler
        again = _search(**kw).fit(X, y).cv_results_
        assert again["params"] == res["params"]


def test_timeout_without_n_trials_ends(digits):
    X, y = digits
    search = _search(n_trials=None, timeout=1.5, refit=False).fit(X, y)
    res = search.cv_results_
    assert len(res["params"]) >= 1
    finished = ~np.isnan(res["mean_test_score"])
    assert finished.any()
    assert all(state == "not run" for state in res["state"][~finished])


def test_resume_runs_no_fit_again(tmp_path, digits):
    X, y = digits
    calls = []

    class Counting(MLPClassifier):
        def fit(self, X, y, sample_index=None):
            calls.append(self.max_iter)
            return super().fit(X, y, sample_index=sample_index)

    kw = dict(storage=str(tmp_path / "a.db"), study_name="asha", refit=False)
    mlp = Counting((8,), max_iter=9, batch_size=32, random_state=0)
    first = ASHASearchCV(mlp, SPACE, n_trials=9, min_resources=1, max_resources=9, cv=2,
                         random_state=0, **kw).fit(X, y)
    assert calls
    calls.clear()
    again = ASHASearchCV(mlp, SPACE, n_trials=9, min_resources=1, max_resources=9, cv=2,
                         random_state=0, resume=True, **kw).fit(X, y)
    assert calls == []
    assert again.cv_results_["params"] == first.cv_results_["params"]
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"],
                                  first.cv_results_["mean_test_score"])


def test_small_discrete_space_is_exhausted_without_duplicates():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    search = ASHASearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_trials=10,
                          resource="n_samples", cv=3, random_state=0).fit(X, y)
    rung0 = [p["alpha"] for p, k in zip(search.cv_results_["params"],
                                         search.cv_results_["iter"]) if k == 0]
    assert sorted(rung0) == [0.1, 1.0, 10.0]


def test_study_file_runs_through_the_cli(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main([str(STUDY), "--smoke", "--n-jobs", "1", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert (out / "report.md").is_file() and (out / "cv_results.csv").is_file()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_trials": 0}, "The 'n_trials' parameter of ASHASearchCV must be"),
        ({"n_trials": None}, "The 'n_trials' parameter of ASHASearchCV must be an int in "
                             r"the range \[1, inf\) when timeout is None"),
        ({"factor": 1}, "The 'factor' parameter of ASHASearchCV must be"),
        ({"min_resources": 0}, "The 'min_resources' parameter of ASHASearchCV must be"),
        ({"sampler": "nope"}, "The 'sampler' parameter of ASHASearchCV must be"),
        ({"timeout": -1}, "The 'timeout' parameter of ASHASearchCV must be"),
        ({"min_resources": 10}, "min_resources_=10 is greater than max_resources_=9"),
        ({"resource": "nope"}, "Cannot use resource=nope"),
    ],
)
def test_bad_parameters_give_sklearn_style_errors(digits, kwargs, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        _search(**kwargs).fit(X, y)


def test_resource_in_the_space_is_refused(digits):
    X, y = digits
    search = ASHASearchCV(_mlp(), {**SPACE, "max_iter": [3, 9]}, n_trials=3,
                          max_resources=9)
    with pytest.raises(ValueError, match="Cannot use parameter max_iter as the resource"):
        search.fit(X, y)


class _Sleeper(Ridge):
    """Ridge whose fit sleeps ``delay`` seconds (a straggler)."""

    def __init__(self, alpha=1.0, delay=0.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        import time

        time.sleep(self.delay)
        return super().fit(X, y)


def test_engine_pulls_a_callable_source_only_when_a_worker_is_idle():
    """While one fork worker runs a 1 s straggler, the other keeps pulling and finishing
    short tasks: no barrier. Each pull happens with at most one task running."""
    from hpsearch.model_selection import _engine
    from hpsearch.model_selection._engine import Engine, Task

    if not _engine._fork_available():
        pytest.skip("workers cannot be started by fork here")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    train, test = np.arange(30), np.arange(30, 40)
    delays = [1.0] + [0.05] * 8
    sent, done, in_flight_at_pull = [], [], []

    def pull():
        if len(sent) == len(delays):
            return None
        in_flight_at_pull.append(len(sent) - len(done))
        i = len(sent)
        sent.append(i)
        return [Task(i, 0, {"delay": delays[i]}, train, test)]

    from sklearn.metrics import check_scoring

    scorer = check_scoring(Ridge())
    with Engine(_Sleeper(), X, y, scorer=scorer, n_jobs=2, backend="fork") as engine:
        assert engine.pulls_lazily
        for out in engine.run(pull):
            assert out["error"] is None, out["error"]
            done.append(out["candidate"])
    assert sorted(done) == list(range(len(delays)))
    assert done[-1] == 0  # every short task finished while the straggler ran
    assert max(in_flight_at_pull) <= 1


def test_n_jobs_2_pulls_jobs_without_barrier(digits):
    X, y = digits
    search = _search(n_jobs=2, n_trials=6, refit=False).fit(X, y)
    assert search.async_ is True and search.backend_ == "fork"
    waves = _search(n_jobs=2, n_trials=6, refit=False, backend="threading").fit(X, y)
    assert waves.async_ is False
    assert (waves.cv_results_["n_resources"] >= 3).any()


class _Interrupting(MLPClassifier):
    """Counts its fits (in-process); past ``limit`` fits, Ctrl-C arrives in a fit."""

    calls = 0
    limit = None

    def fit(self, X, y, sample_index=None):
        type(self).calls += 1
        if type(self).limit is not None and type(self).calls > type(self).limit:
            raise KeyboardInterrupt
        return super().fit(X, y, sample_index=sample_index)


def test_resume_after_an_interrupt_runs_only_the_missing_fits(tmp_path, digits):
    """A search interrupted mid-job, resumed, ends with the uninterrupted search's
    results; together the two runs fit each (candidate, rung, split) once."""
    X, y = digits
    mlp = _Interrupting((8,), max_iter=9, batch_size=32, random_state=0)
    kw = dict(n_trials=9, min_resources=1, max_resources=9, cv=2, random_state=0,
              refit=False, n_jobs=1)
    _Interrupting.calls, _Interrupting.limit = 0, None
    full = ASHASearchCV(mlp, SPACE, **kw).fit(X, y).cv_results_
    n_fits = _Interrupting.calls
    storage = dict(storage=str(tmp_path / "cut.db"), study_name="cut")
    _Interrupting.calls, _Interrupting.limit = 0, 7  # the 8th fit: job 4, its 2nd split
    with pytest.raises(KeyboardInterrupt):
        ASHASearchCV(mlp, SPACE, **storage, **kw).fit(X, y)
    _Interrupting.calls, _Interrupting.limit = 0, None
    resumed = ASHASearchCV(mlp, SPACE, resume=True, **storage, **kw).fit(X, y)
    assert _Interrupting.calls == n_fits - 7
    assert resumed.cv_results_["params"] == full["params"]
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  full["mean_test_score"])
