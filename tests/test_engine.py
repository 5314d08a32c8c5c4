"""The engine: seeds, determinism across n_jobs, failures, folds by index, continuation."""

import time
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import Ridge, SGDClassifier
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hpsearch.model_selection._base import BaseSearchCV
from hpsearch.model_selection._engine import seed_params, task_seed
from hpsearch.model_selection.strategies.grid import GridSearchCV


# --------------------------------------------------------------------------- helpers
class FailingRidge(Ridge):
    """Ridge that raises for alpha above ``fail_above``."""

    def __init__(self, alpha=1.0, fail_above=5.0):
        super().__init__(alpha=alpha)
        self.fail_above = fail_above

    def fit(self, X, y, sample_weight=None):
        if self.alpha > self.fail_above:
            raise RuntimeError(f"alpha={self.alpha} is too large")
        return super().fit(X, y)


class Accumulator(RegressorMixin, BaseEstimator):
    """A toy iterative model: every epoch adds a pseudo-random step to its state.

    ``fit`` with ``warm_start`` continues from the state for ``max_iter`` more epochs,
    like an MLP; the result of 3 + 6 epochs equals 9 straight epochs bit for bit.
    ``epochs_`` counts the epochs actually run in this object's lifetime.
    """

    def __init__(self, lr=1.0, max_iter=5, warm_start=False, random_state=None):
        self.lr = lr
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state

    def _train(self, X, y, epochs, fresh):
        if fresh or not hasattr(self, "state_"):
            self.state_ = 0.0
            self.rng_ = np.random.default_rng(self.random_state)
            self.epochs_ = 0
            self.n_rows_ = []
        for _ in range(epochs):
            self.state_ += self.lr * self.rng_.random() * float(np.mean(y))
            self.epochs_ += 1
        self.n_rows_.append(len(X))
        return self

    def fit(self, X, y):
        return self._train(X, y, self.max_iter, fresh=not self.warm_start)

    def predict(self, X):
        return np.full(len(X), self.state_)

    def score(self, X, y=None):
        return self.state_


class PartialAccumulator(Accumulator):
    """The same model without ``warm_start``, continued with ``partial_fit`` (1 epoch)."""

    def __init__(self, lr=1.0, max_iter=5, random_state=None):
        self.lr = lr
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y):
        return self._train(X, y, self.max_iter, fresh=True)

    def partial_fit(self, X, y):
        return self._train(X, y, 1, fresh=False)


class IndexAware(ClassifierMixin, BaseEstimator):
    """Records whether fit got the full X with ``sample_index`` and whether X was shared."""

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y, sample_index=None):
        self.got_index_ = sample_index is not None and len(X) > len(sample_index)
        self.memmap_ = isinstance(X, np.memmap)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y=None):
        return float(self.got_index_) + 10 * float(self.memmap_)


class Stepper(BaseSearchCV):
    """A strategy for tests: runs ``plan(evaluate)`` and keeps what it returned."""

    def __init__(self, estimator, plan=None, *, cv=None, n_jobs=None, random_state=None,
                 refit=True):
        super().__init__(estimator, cv=cv, n_jobs=n_jobs, random_state=random_state,
                         refit=refit)
        self.plan = plan

    def _run_search(self, evaluate):
        self.outcomes_ = self.plan(evaluate)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def assert_same_results(a, b):
    assert a["params"] == b["params"]
    assert set(a) == set(b)
    for key in a:
        if "time" in key or key == "params":
            continue
        if key.startswith("param_") or key in ("error", "resources"):
            assert list(a[key]) == list(b[key]), key
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# --------------------------------------------------------------------------- seeds
def test_task_seed_is_a_pure_function_of_its_three_integers():
    assert task_seed(0, 1, 2) == task_seed(0, 1, 2)
    seeds = {task_seed(0, c, s) for c in range(10) for s in range(-1, 5)}
    assert len(seeds) == 60
    assert all(0 <= s < 2**31 for s in seeds)


def test_seed_params_fills_only_random_states_left_at_none():
    pipe = make_pipeline(StandardScaler(), SGDClassifier(random_state=None))
    assert list(seed_params(pipe, 7)) == ["sgdclassifier__random_state"]
    assert seed_params(SGDClassifier(random_state=3), 7) == {}
    assert seed_params(Ridge(random_state=None), 7) == seed_params(Ridge(), 7)


def test_results_identical_for_n_jobs_1_and_2_with_a_stochastic_estimator(iris):
    X, y = iris
    grid = {"alpha": [1e-4, 1e-3, 1e-2], "penalty": ["l2", "l1"]}
    est = SGDClassifier(max_iter=20, tol=None)
    runs = [
        GridSearchCV(est, grid, cv=3, random_state=0, n_jobs=n_jobs).fit(X, y)
        for n_jobs in (1, 2)
    ]
    assert_same_results(runs[0].cv_results_, runs[1].cv_results_)
    # the seeds do matter: another master seed gives other scores
    other = GridSearchCV(est, grid, cv=3, random_state=1).fit(X, y)
    assert not np.array_equal(
        other.cv_results_["mean_test_score"], runs[0].cv_results_["mean_test_score"]
    )


# --------------------------------------------------------------------------- failures
def test_a_failing_candidate_gets_error_score_and_its_traceback(diabetes):
    X, y = diabetes
    search = GridSearchCV(FailingRidge(), {"alpha": [0.1, 1.0, 10.0]}, cv=3, error_score=-1.0)
    with pytest.warns(FitFailedWarning, match="3 fits failed out of a total of 9"):
        search.fit(X, y)
    res = search.cv_results_
    np.testing.assert_array_equal(res["split0_test_score"][2], -1.0)
    assert res["error"][0] is None and res["error"][1] is None
    assert "RuntimeError: alpha=10.0 is too large" in res["error"][2]
    assert res["error"][2].count("Traceback") == 3
    assert search.best_params_ == {"alpha": 0.1}
    failed = search.study_.trials[2]
    assert failed.state.name == "COMPLETE"  # error_score=-1 is a finite score
    assert "RuntimeError" in failed.user_attrs["errors"][0]


def test_error_score_nan_marks_the_trial_failed_and_ranks_it_last(diabetes):
    X, y = diabetes
    search = GridSearchCV(FailingRidge(), {"alpha": [10.0, 0.1]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"][0])
    assert list(search.cv_results_["rank_test_score"]) == [2, 1]
    assert [t.state.name for t in search.study_.trials] == ["FAIL", "COMPLETE"]


def test_error_score_raise_raises(diabetes):
    X, y = diabetes
    search = GridSearchCV(FailingRidge(), {"alpha": [0.1, 10.0]}, cv=3, error_score="raise")
    with pytest.raises(RuntimeError, match="alpha=10.0 is too large"):
        search.fit(X, y)


# --------------------------------------------------------------------------- folds
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fit_accepting_sample_index_gets_full_X_and_large_X_is_memmapped(n_jobs):
    rng = np.random.default_rng(0)
    X = rng.random((2000, 100))  # 1.6 MB > joblib's 1 MB memmapping threshold
    y = rng.integers(0, 2, 2000)
    # backend="loky": the memmapping path (fork workers share X otherwise: test_engine_fork)
    search = GridSearchCV(IndexAware(), {"c": [1.0, 2.0]}, cv=2, n_jobs=n_jobs,
                          backend="loky").fit(X, y)
    expected = 1.0 + (10.0 if n_jobs == 2 else 0.0)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], expected)


def test_fit_params_are_split_with_the_folds(diabetes):
    X, y = diabetes
    weights = np.ones(len(y))
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=KFold(3)).fit(
        X, y, sample_weight=weights
    )
    plain = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=KFold(3)).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )


# --------------------------------------------------------------------------- budgets
def _two_rungs(evaluate):
    cands = [{"lr": 1.0}, {"lr": 2.0}]
    first = evaluate(cands, resources={"max_iter": 3})
    second = evaluate(cands[1:], resources={"max_iter": 9}, continue_training=True)
    return first, second


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("estimator", [Accumulator(), PartialAccumulator()],
                         ids=["warm_start", "partial_fit"])
def test_continue_training_equals_training_straight(diabetes, estimator, n_jobs):
    X, y = diabetes
    search = Stepper(estimator, _two_rungs, cv=3, random_state=0, n_jobs=n_jobs).fit(X, y)
    first, second = search.outcomes_
    straight = Stepper(  # same candidates, so the same candidate ids and seeds
        estimator, lambda ev: ev([{"lr": 1.0}, {"lr": 2.0}], resources={"max_iter": 9}),
        cv=3, random_state=0,
    ).fit(X, y)
    # continued 3 -> 9 equals straight 9, bit for bit
    straight_splits = [[straight.cv_results_[f"split{k}_test_score"][1] for k in range(3)]]
    np.testing.assert_array_equal(second.split_scores, straight_splits)
    assert first.rows == [0, 1] and second.rows == [2]
    res = search.cv_results_
    assert list(res["resources"]) == [{"max_iter": 3}, {"max_iter": 3}, {"max_iter": 9}]
    assert search.best_index_ == 2
    assert search.best_estimator_.max_iter == 9  # refit at the best row's budget


def test_continue_training_runs_only_the_additional_epochs(diabetes):
    X, y = diabetes
    kept = {}

    def plan(evaluate):
        evaluate([{"lr": 1.0}], resources={"max_iter": 3})
        kept.update(evaluate.states)
        evaluate([{"lr": 1.0}], resources={"max_iter": 9}, continue_training=True)
        kept["after"] = dict(evaluate.states)

    Stepper(Accumulator(), plan, cv=2, random_state=0).fit(X, y)
    estimators = [est for (est, _) in kept["after"].values()]
    # in-process (n_jobs=1) the kept estimator is the continued object: 3 + 6 epochs
    assert [e.epochs_ for e in estimators] == [9, 9]
    assert [e.max_iter for e in estimators] == [6, 6]
    assert all(e.warm_start for e in estimators)


def test_continue_training_of_a_pipeline_continues_its_last_step(diabetes):
    X, y = diabetes
    pipe = make_pipeline(StandardScaler(), Accumulator())

    def plan(evaluate):
        evaluate([{"accumulator__lr": 1.0}], resources={"accumulator__max_iter": 2})
        return evaluate(
            [{"accumulator__lr": 1.0}], resources={"accumulator__max_iter": 5},
            continue_training=True,
        )

    cont = Stepper(pipe, plan, cv=2, random_state=0, refit=False).fit(X, y)
    straight = Stepper(
        pipe, lambda ev: ev([{"accumulator__lr": 1.0}], resources={"accumulator__max_iter": 5}),
        cv=2, random_state=0, refit=False,
    ).fit(X, y)
    np.testing.assert_array_equal(
        cont.outcomes_.scores, straight.cv_results_["mean_test_score"]
    )


def test_continue_training_needs_one_growing_integer_budget(diabetes):
    X, y = diabetes

    def shrink(evaluate):
        evaluate([{"lr": 1.0}], resources={"max_iter": 5})
        evaluate([{"lr": 1.0}], resources={"max_iter": 5}, continue_training=True)

    with pytest.raises(ValueError, match="larger budget.*max_iter=5 after max_iter=5"):
        Stepper(Accumulator(), shrink, cv=2).fit(X, y)


def test_n_samples_budget_subsamples_each_train_fold_deterministically(diabetes):
    X, y = diabetes
    kept = {}

    def plan(evaluate):
        out = evaluate([{"lr": 1.0}, {"lr": 2.0}], resources={"n_samples": 50, "max_iter": 1})
        kept.update(evaluate.states)
        return out

    Stepper(Accumulator(), plan, cv=3, random_state=0, refit=False).fit(X, y)
    assert sorted(est.n_rows_[0] for est, _ in kept.values()) == [50] * 6


def test_release_frees_kept_estimators(diabetes):
    X, y = diabetes
    sizes = []

    def plan(evaluate):
        evaluate([{"lr": 1.0}, {"lr": 2.0}], resources={"max_iter": 1})
        sizes.append(len(evaluate.states))
        evaluate.release([{"lr": 1.0}])
        sizes.append(len(evaluate.states))
        evaluate.release()
        sizes.append(len(evaluate.states))

    Stepper(Accumulator(), plan, cv=2, refit=False).fit(X, y)
    assert sizes == [4, 2, 0]


def test_evaluate_returns_the_outcome_of_its_candidates(diabetes):
    X, y = diabetes

    def plan(evaluate):
        first = evaluate([{"lr": 1.0}], more_results={"iter": [0]})
        second = evaluate([{"lr": 3.0}, {"lr": 2.0}], more_results={"iter": [1, 1]})
        return first, second

    search = Stepper(Accumulator(), plan, cv=2, random_state=0).fit(X, y)
    first, second = search.outcomes_
    assert second.params == [{"lr": 3.0}, {"lr": 2.0}]
    assert second.rows == [1, 2]
    assert second.split_scores.shape == (2, 2)
    np.testing.assert_array_equal(second.scores, second.split_scores.mean(axis=1))
    np.testing.assert_array_equal(search.cv_results_["iter"], [0, 1, 1])
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], np.r_[first.scores, second.scores]
    )


# --------------------------------------------------------------------------- our MLP
def test_mlp_results_identical_for_n_jobs_1_and_2(iris):
    from hpsearch import MLPClassifier

    X, y = iris
    grid = {"hidden_layer_sizes": [(8,), (16,)], "learning_rate_init": [1e-2, 3e-2]}
    runs = [
        GridSearchCV(MLPClassifier(max_iter=5), grid, cv=3, random_state=0,
                     n_jobs=n_jobs).fit(X, y)
        for n_jobs in (1, 2)
    ]
    assert_same_results(runs[0].cv_results_, runs[1].cv_results_)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_mlp_continued_3_then_9_epochs_equals_9_straight(iris, n_jobs):
    from hpsearch import MLPClassifier

    X, y = iris
    cands = [{"learning_rate_init": 1e-2}, {"learning_rate_init": 3e-2}]
    kept = {}

    def rungs(evaluate):
        evaluate(cands, resources={"max_iter": 3})
        out = evaluate(cands, resources={"max_iter": 9}, continue_training=True)
        kept.update(evaluate.states)
        return out

    def straight(evaluate):
        out = evaluate(cands, resources={"max_iter": 9})
        kept.update({("straight",) + k: v for k, v in evaluate.states.items()})
        return out

    a = Stepper(MLPClassifier(), rungs, cv=3, random_state=0, n_jobs=n_jobs).fit(X, y)
    b = Stepper(MLPClassifier(), straight, cv=3, random_state=0, n_jobs=n_jobs).fit(X, y)
    np.testing.assert_array_equal(a.outcomes_.split_scores, b.outcomes_.split_scores)
    for (cid, split), (est, budget) in [(k, v) for k, v in kept.items() if len(k) == 2]:
        other = kept[("straight", cid, split)][0]
        # n_iter_ counts the epochs of the last call, as sklearn (the continuation ran 6);
        # history_ counts them all
        assert est.n_iter_ == 6 and other.n_iter_ == 9 and budget == {"max_iter": 9}
        assert est.history_["epoch"] == other.history_["epoch"] == list(range(1, 10))
        for w1, w2 in zip(est.coefs_, other.coefs_):
            np.testing.assert_array_equal(w1, w2)


def test_progress_bar_moves_per_fit_and_shows_the_best_score(diabetes, capsys):
    X, y = diabetes
    GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3, progress=True).fit(X, y)
    err = capsys.readouterr().err
    assert "GridSearchCV" in err and "6/6" in err and "best=" in err



class NappingRidge(Ridge):
    """Ridge whose fit takes at least 5 ms."""

    def fit(self, X, y, sample_weight=None):
        time.sleep(0.005)
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize("slow", [True, False])
def test_joblib_batches_hold_at_most_a_fraction_of_a_second_of_fits(diabetes, monkeypatch,
                                                                     slow):
    """A batch sent through joblib comes back whole, so a Ctrl-C, SIGTERM or SIGKILL
    lost the finished fits of a batch still running. Was: up to 8 tasks a batch (here
    4) whatever the fits' time; on loky, 1 to 7 finished fits per worker ran again on
    resume. Now slow fits (here: longer than a limit of 1 ns) go one per batch; fast
    ones are still grouped once their time is known (the first batches hold one)."""
    from hpsearch.model_selection import _engine

    if slow:
        monkeypatch.setattr(_engine, "_BATCH_SECONDS", 1e-9, raising=False)
    sizes = []
    run_batch = _engine._run_batch

    def counted(base, X, y, tasks, *args):
        sizes.append(len(tasks))
        return run_batch(base, X, y, tasks, *args)

    monkeypatch.setattr(_engine, "_run_batch", counted)
    X, y = diabetes
    search = GridSearchCV(NappingRidge(), {"alpha": np.logspace(-2, 3, 12)}, cv=3, n_jobs=2,
                          backend="threading", refit=False)
    search.fit(X[:60], y[:60])
    assert sum(sizes) == 36
    assert sizes[:4] == [1, 1, 1, 1]  # (joblib dispatches 2 x n_jobs before a result)
    assert (max(sizes) == 1) == slow
