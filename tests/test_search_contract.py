"""One contract every search class passes.

``SEARCHES`` maps a readable id to a factory ``(estimator, space, **common) -> search``.
Strategies built on the engine (Optuna, halving, Hyperband, ASHA) add their entry here.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import BaseCrossValidator

from hpsearch.model_selection.strategies.asha import ASHASearchCV
from hpsearch.model_selection.strategies.bayes import OptunaSearchCV
from hpsearch.model_selection.strategies.grid import GridSearchCV
from hpsearch.model_selection.strategies.halving import HalvingSearchCV, HyperbandSearchCV
from hpsearch.model_selection.strategies.random import RandomSearchCV
from hpsearch.model_selection.strategies.recipe import RecipeSearchCV

SPACE = {"alpha": [0.01, 0.1, 1.0, 10.0]}

SEARCHES = {
    "grid": lambda est, space, **kw: GridSearchCV(est, space, **kw),
    "random": lambda est, space, **kw: RandomSearchCV(est, space, n_iter=3, **kw),
    "optuna": lambda est, space, **kw: OptunaSearchCV(est, space, n_trials=3, **kw),
    "halving": lambda est, space, **kw: HalvingSearchCV(
        est, space, n_candidates="grid", resource="n_samples", **kw
    ),
    "hyperband": lambda est, space, **kw: HyperbandSearchCV(
        est, space, resource="n_samples", **kw
    ),
    "recipe": lambda est, space, **kw: RecipeSearchCV(est, space, n_iter=3, **kw),
    "asha": lambda est, space, **kw: ASHASearchCV(
        est, space, n_trials=4, resource="n_samples", **kw
    ),
}


class FailingRidge(Ridge):
    def fit(self, X, y, sample_weight=None):
        if self.alpha > 5:
            raise RuntimeError("too large")
        return super().fit(X, y)


class CountingRidge(Ridge):
    """Remembers how many rows it was fitted on (a budgeted search's ``n_samples``)."""

    def fit(self, X, y, sample_weight=None):
        self.n_fit_ = len(X)
        return super().fit(X, y, sample_weight=sample_weight)


def _fewer_rows_score_higher(estimator, X, y):
    """R^2 minus a penalty per training row: a budgeted search's first round tops it."""
    return estimator.score(X, y) - getattr(estimator, "n_fit_", 0) / 100


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True)
    return X[:200], y[:200]


@pytest.fixture(params=sorted(SEARCHES), ids=sorted(SEARCHES))
def make(request):
    return SEARCHES[request.param]


def test_fit_gives_sklearn_attributes_consistent_with_cv_results(make, data):
    X, y = data
    search = make(Ridge(), SPACE, cv=3, random_state=0, return_train_score=True)
    assert search.fit(X, y) is search
    res = search.cv_results_
    n = len(res["params"])
    assert n >= 1
    for key in ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time",
                "param_alpha", "split0_test_score", "split2_test_score",
                "mean_test_score", "std_test_score", "rank_test_score",
                "split0_train_score", "mean_train_score", "std_train_score", "error"):
        assert len(res[key]) == n, key
    assert res["rank_test_score"].dtype == np.int32
    assert res["rank_test_score"][search.best_index_] == 1
    assert search.best_params_ == res["params"][search.best_index_]
    assert search.best_score_ == res["mean_test_score"][search.best_index_]
    assert search.best_estimator_.get_params()["alpha"] == search.best_params_["alpha"]
    assert search.n_splits_ == 3 and search.multimetric_ is False
    np.testing.assert_allclose(search.predict(X[:3]), search.best_estimator_.predict(X[:3]))
    assert len(search.results_frame()) == 3 * n


def test_same_seed_same_results(make, data):
    X, y = data
    a = make(Ridge(), SPACE, cv=3, random_state=1).fit(X, y).cv_results_
    b = make(Ridge(), SPACE, cv=3, random_state=1).fit(X, y).cv_results_
    assert a["params"] == b["params"]
    np.testing.assert_array_equal(a["mean_test_score"], b["mean_test_score"])


def test_every_finished_candidate_is_a_trial_of_the_study(make, data):
    X, y = data
    search = make(Ridge(), SPACE, cv=3, random_state=0).fit(X, y)
    trials = search.study_.trials
    assert len(trials) >= len({repr(p) for p in search.cv_results_["params"]})
    for trial in trials:
        assert trial.state.name in ("COMPLETE", "PRUNED", "FAIL")
        assert "params" in trial.user_attrs


def test_a_failing_fit_does_not_stop_the_search(make, data):
    X, y = data
    search = make(FailingRidge(), {"alpha": [10.0, 20.0, 0.1]}, cv=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    res = search.cv_results_
    failed = [i for i, p in enumerate(res["params"]) if p["alpha"] > 5]
    assert failed and all("too large" in res["error"][i] for i in failed)
    assert all(np.isnan(res["mean_test_score"][i]) for i in failed)


def test_clone_and_parameter_validation(make):
    search = make(Ridge(), SPACE, cv=3, error_score="oops")
    assert clone(search).get_params()["cv"] == 3
    with pytest.raises(ValueError, match="The 'error_score' parameter of .* must be"):
        search.fit(np.zeros((10, 2)), np.zeros(10))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_scorer_returning_several_numbers_is_an_error_not_a_failed_fit(make, data, n_jobs):
    # scikit-learn's test_raises_on_score_list: a scorer returning one score per target
    # raises "scoring must return a number" (it was recorded as NaN for every candidate,
    # with a "Scoring failed" warning, and the search ended with no usable result)
    from sklearn.metrics import make_scorer

    def per_target(y_true, y_pred):
        return np.array([1.0, 2.0])

    X, y = data
    search = make(Ridge(), SPACE, cv=3, random_state=0, n_jobs=n_jobs,
                  scoring=make_scorer(per_target))
    with pytest.raises(ValueError, match=r"scoring must return a number, got \[1\. 2\.\]"):
        search.fit(X, y)


def test_a_size_one_array_score_counts_as_a_number(make, data):
    from sklearn.metrics import make_scorer

    X, y = data
    search = make(Ridge(), SPACE, cv=3, random_state=0,
                  scoring=make_scorer(lambda t, p: np.array([-np.mean((t - p) ** 2)])))
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


class _BlockSplit(BaseCrossValidator):
    """A splitter that requests ``blocks`` (one label per row): test fold k holds the
    rows of block k."""

    def __init__(self):
        self.seen = None

    def get_n_splits(self, X=None, y=None, groups=None, blocks=None):
        return 3

    def split(self, X, y=None, groups=None, blocks=None):
        self.seen = (groups is not None, blocks is not None)
        blocks = np.asarray(blocks)
        for k in range(3):
            yield np.flatnonzero(blocks != k), np.flatnonzero(blocks == k)


def test_metadata_routing_passes_every_requested_parameter_to_the_splitter(make, data):
    # scikit-learn's test_metadata_is_routed_correctly_to_splitter: only groups reached
    # the splitter, so a splitter's own metadata was silently dropped
    import sklearn

    X, y = data
    blocks = np.arange(len(y)) % 3
    with sklearn.config_context(enable_metadata_routing=True):
        cv = _BlockSplit().set_split_request(blocks=True)
        search = make(Ridge(), SPACE, cv=cv, random_state=0).fit(X, y, blocks=blocks)
    assert cv.seen == (False, True)
    row = search.best_index_
    alpha = search.cv_results_["params"][row]["alpha"]
    expected = [Ridge(alpha=alpha).fit(X[blocks != k], y[blocks != k]).score(
        X[blocks == k], y[blocks == k]) for k in range(3)]
    if "n_resources" not in search.cv_results_:  # budgets: the train rows are subsampled
        np.testing.assert_allclose(
            [search.cv_results_[f"split{k}_test_score"][row] for k in range(3)], expected)


def test_a_fitted_search_on_a_journal_pickles_with_its_study(make, data, tmp_path):
    # joblib.dump(search) of a search on a journal file failed: "Can't pickle local object
    # '_journal_backend.<locals>._JournalFile'" (the model a user had just paid for)
    import joblib

    X, y = data
    search = make(Ridge(), SPACE, cv=3, random_state=0, storage=str(tmp_path / "j.log"))
    search.fit(X, y)
    joblib.dump(search, tmp_path / "search.joblib")
    loaded = joblib.load(tmp_path / "search.joblib")
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    assert len(loaded.study_.trials) == len(search.study_.trials) > 0


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sklearn_callbacks_run_on_every_search(make, data, n_jobs):
    # ASHA's asynchronous loop hung its evaluations from a search task declared to have
    # sequential rounds: sklearn's callback context raised "task_id ... must be None if
    # sequential_subtasks is True" (found by check_estimator's check_pipeline_consistency)
    from sklearn.callback.tests._utils import RecordingAutoPropagatedCallback

    X, y = data
    callback = RecordingAutoPropagatedCallback()
    search = make(Ridge(), SPACE, cv=3, random_state=0, n_jobs=n_jobs)
    search.set_callbacks(callback).fit(X, y)
    assert callback.count_hooks("on_fit_task_end") > 0


def test_a_refit_callable_reads_the_cv_results_the_search_ends_with(make, data):
    # sklearn hands a refit callable the cv_results_ it ends with. Ours got them before
    # each strategy's last touch: Optuna's and ASHA's 'state' and the recipe's 'accepted'
    # were missing (its train scores, dropped later, were there), and the budgeted
    # searches ranked the full-budget rows first only afterwards, so argmin(rank) picked a
    # first-round row that cv_results_ then ranked below every last-round row
    seen = {}

    def rank_one(results):
        seen.update({key: np.array(value, copy=True) if key.startswith("rank_") else value
                     for key, value in results.items()})
        return int(np.argmin(results["rank_test_score"]))

    X, y = data
    search = make(CountingRidge(), SPACE, cv=3, random_state=0,
                  scoring=_fewer_rows_score_higher, refit=rank_one).fit(X, y)
    res = search.cv_results_
    assert sorted(seen) == sorted(res)
    np.testing.assert_array_equal(seen["rank_test_score"], res["rank_test_score"])
    assert res["rank_test_score"][search.best_index_] == 1


def test_failed_rows_rank_after_every_scored_row(make, data):
    # sklearn ranks a failed (NaN) candidate after every scored one. The budgeted searches
    # ranked the full-budget rows first, failed ones included: Hyperband's failed
    # full-budget rows ranked ahead of every scored row of a smaller budget
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = make(FailingRidge(), {"alpha": [10.0, 20.0, 0.1, 1.0, 30.0]}, cv=3,
                      random_state=0).fit(X, y)
    res = search.cv_results_
    failed = np.isnan(res["mean_test_score"])
    assert failed.any() and not failed.all()
    ranks = res["rank_test_score"]
    assert (ranks[failed] == np.count_nonzero(~failed) + 1).all()
    assert ranks[~failed].max() <= np.count_nonzero(~failed)
    assert ranks[search.best_index_] == 1
