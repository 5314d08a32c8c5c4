"""Grid, random, Optuna, halving, Hyperband and racing searches under hostile use:
timeouts that cut a round, small factors, bad inputs (regressions of bugs a hostile
review of ASHASearchCV found in the other searches too)."""

import time

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from hpsearch import HalvingSearchCV, HyperbandSearchCV

from _hostile import SPACE, diabetes
from _hostile import SlowAbove as _SlowAbove


@pytest.fixture(scope="module")
def data():
    return diabetes()


_BUDGETED = {
    "halving": (HalvingSearchCV, dict(n_candidates=4)),
    "hyperband": (HyperbandSearchCV, {}),
}


@pytest.mark.parametrize("name", list(_BUDGETED))
def test_timeout_cutting_the_last_round_never_picks_a_not_run_row(data, name):
    """The timeout cuts the second round (fits on more than 20 rows): best_index_ was a
    'not run' row of that round (best_score_ NaN, refitted). It is now the best row of
    the highest round with a result, ranked 1."""
    cls, kwargs = _BUDGETED[name]
    X, y = data
    search = cls(_SlowAbove(), SPACE, resource="n_samples", min_resources=16,
                 max_resources=150, cv=3, random_state=0, n_jobs=1, timeout=3.0,
                 **kwargs).fit(X, y)
    res = search.cv_results_
    cut = np.array(["not run: the search's timeout" in (e or "") for e in res["error"]])
    assert cut.any() and not cut.all()
    assert not cut[search.best_index_]
    assert np.isfinite(search.best_score_)
    ran = ~cut
    top = res["n_resources"][ran].max()
    assert res["n_resources"][search.best_index_] == top
    last = ran & (res["n_resources"] == top)
    assert search.best_score_ == np.nanmax(res["mean_test_score"][last])
    assert res["rank_test_score"][search.best_index_] == 1
    assert search.best_params_ == res["params"][search.best_index_]
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
    # no candidate reached the last round with a result: none is a COMPLETE trial (the
    # survivors of the cut round were closed COMPLETE with their round-0 score)
    assert {t.state.name for t in search.study_.get_trials()} == {"PRUNED"}


@pytest.mark.parametrize("name", list(_BUDGETED))
def test_no_round_starts_after_the_timeout(data, name):
    """After the timeout cut a round, halving and Hyperband still planned every later
    round and bracket: rows of candidates never run at those budgets, trials closed for
    them, and ``n_iterations_`` / ``n_candidates_`` counting rounds that never ran
    (sklearn's ``n_iterations_`` is the number of iterations run). The search now ends
    with the round the timeout cut."""
    cls, kwargs = _BUDGETED[name]
    kwargs = {**kwargs, "n_candidates": 9} if name == "halving" else kwargs  # 3 rounds
    space = {"alpha": list(np.logspace(-3, 1, 9))}
    X, y = data
    with pytest.warns(UserWarning, match="non-finite"):  # the rows the timeout cut
        search = cls(_SlowAbove(), space, resource="n_samples", min_resources=16,
                     max_resources=150, cv=3, random_state=0, n_jobs=1, timeout=3.0,
                     **kwargs).fit(X, y)
    res = search.cv_results_
    cut = np.array(["not run: the search's timeout" in (e or "") for e in res["error"]])
    groups = list(zip(res.get("bracket", np.zeros(len(cut), dtype=int)), res["iter"]))
    order = list(dict.fromkeys(groups))  # the rounds listed, in the order they ran
    # the 16-row round ran, the next (48 or 50 rows) was cut, and nothing came after it
    assert search.n_resources_[0] == 16 and 20 <= search.n_resources_[1] < 150
    assert search.n_iterations_ == len(order) == 2
    assert sum(search.n_candidates_) == len(cut)
    last = np.array([g == order[-1] for g in groups])
    assert cut[last].all() and not cut[~last].any()
    assert set(res["n_resources"]) == set(search.n_resources_)
    if name == "hyperband":
        assert [b["n_resources"] for b in search.brackets_] == [search.n_resources_]
    assert np.isfinite(search.best_score_) and not cut[search.best_index_]
    # one trial per candidate of the first round, none reached the last budget
    states = [t.state.name for t in search.study_.get_trials()]
    assert len(states) == search.n_candidates_[0] and set(states) == {"PRUNED"}


def _mlp_digits():
    from sklearn.datasets import load_digits

    from hpsearch import MLPClassifier

    X, y = load_digits(return_X_y=True)
    mlp = MLPClassifier((4,), max_iter=9, batch_size=32, random_state=0)
    return mlp, (X / 16.0)[:120], y[:120]


@pytest.mark.parametrize("name, kwargs", [
    ("hyperband", dict(factor=1.5)),
    ("halving", dict(factor=1.5, n_candidates=12)),
    ("halving", dict(factor=3, n_candidates=30, aggressive_elimination=True)),
], ids=["hyperband-1.5", "halving-1.5", "halving-aggressive"])
def test_a_budget_the_schedule_repeats_is_one_round(name, kwargs):
    """factor=1.5 from 1 to 9 epochs: Hyperband's bracket s_max had budgets 1, 1, 2, 4,
    6, 9 and halving's 1, 1, 2, 3, 5, 7 (int(1.5) = 1); aggressive elimination repeats
    the first budget by design. Continuing training to the budget of the round before
    crashed mid-search ('continue_training=True needs a larger budget'). Each budget is
    now one round, keeping the candidates of the next budget's round."""
    from hpsearch.model_selection.space import Float

    cls = {"hyperband": HyperbandSearchCV, "halving": HalvingSearchCV}[name]
    mlp, X, y = _mlp_digits()
    search = cls(mlp, {"alpha": Float(1e-5, 1.0, log=True)}, min_resources=1,
                 max_resources=9, cv=2, random_state=0, refit=False, **kwargs).fit(X, y)
    res = search.cv_results_
    groups = res["bracket"] if name == "hyperband" else np.zeros(len(res["params"]))
    for g in set(groups):
        budgets = list(dict.fromkeys(res["n_resources"][groups == g]))
        assert budgets == sorted(set(budgets))
    for c in {repr(p) for p in res["params"]}:
        rows = [i for i, p in enumerate(res["params"]) if repr(p) == c]
        assert (np.diff(res["n_resources"][rows]) > 0).all()
    if name == "hyperband":
        assert search.brackets_[0]["n_resources"] == [1, 2, 4, 6, 9]
        assert search.brackets_[0]["n_candidates"] == [8, 3, 2, 1, 1]
    elif kwargs["factor"] == 1.5:
        assert search.n_resources_ == [1, 2, 3, 5, 7]
        assert search.n_candidates_ == [12, 6, 4, 3, 2]
    else:
        assert search.n_resources_ == [1, 3, 9]
        assert search.n_candidates_ == [30, 4, 2]


class _SlowOnBigFolds(Ridge):
    """Ridge whose fits on more than 60 rows take ``delay`` seconds: with :data:`_SPLITS`
    every candidate's first split is quick and its second one slow."""

    def __init__(self, alpha=1.0, max_iter=None, delay=30.0):
        super().__init__(alpha=alpha, max_iter=max_iter)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(0.0 if len(X) <= 60 else self.delay)
        return super().fit(X, y)


#: a quick split (40 training rows) and a slow one (100)
_SPLITS = [(np.arange(110, 150), np.arange(0, 50)), (np.arange(50, 150), np.arange(0, 50))]


def _cut_searches():
    from hpsearch import ASHASearchCV, GridSearchCV, OptunaSearchCV, RandomSearchCV

    budget = dict(resource="max_iter", min_resources=1, max_resources=3)
    return {
        "grid": GridSearchCV(_SlowOnBigFolds(), SPACE),
        "grid-racing": GridSearchCV(_SlowOnBigFolds(), SPACE, racing=True,
                                    racing_min_splits=2),
        "random": RandomSearchCV(_SlowOnBigFolds(), SPACE, n_iter=3, random_state=0),
        "optuna": OptunaSearchCV(_SlowOnBigFolds(), SPACE, n_trials=3, random_state=0),
        "halving": HalvingSearchCV(_SlowOnBigFolds(), SPACE, n_candidates=3,
                                   random_state=0, **budget),
        "hyperband": HyperbandSearchCV(_SlowOnBigFolds(), SPACE, random_state=0, **budget),
        "asha": ASHASearchCV(_SlowOnBigFolds(), SPACE, n_trials=3, random_state=0,
                             **budget),
    }


@pytest.mark.parametrize("name", list(_cut_searches()))
def test_a_timeout_before_any_candidate_finished_all_splits_raises(data, name):
    """Every candidate's first split finished, none its second: no candidate has a
    result. The base's check counted a row with ANY finished split, so the search went
    on (best_index_ on a NaN row, refitted) instead of its documented ValueError."""
    X, y = data
    search = _cut_searches()[name].set_params(cv=_SPLITS, n_jobs=1, timeout=2.0)
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"^The search's timeout=2\.0 seconds was reached "
                                         r"before any candidate finished all its splits\."):
        search.fit(X, y)
    assert time.monotonic() - start < 15  # the slow fits (30 s) were stopped


_INT_OR_STR = r"an int in the range \[1, inf\) or a str among \{'\w+'(, '\w+')?\}"


def _int_params():
    from hpsearch import (ASHASearchCV, GridSearchCV, HalvingRandomSearchCV,
                          OptunaSearchCV, RandomSearchCV, RecipeSearchCV)

    return [
        (RandomSearchCV, "n_iter", r"an int in the range \[1, inf\)"),
        (RandomSearchCV, "max_retries", r"an int in the range \[0, inf\)"),
        (GridSearchCV, "max_retries", r"an int in the range \[0, inf\)"),
        (OptunaSearchCV, "n_trials", r"an int in the range \[1, inf\)"),
        (OptunaSearchCV, "rungs", r"None, an int in the range \[1, inf\), an instance of "
                                  r"'list' or an instance of 'tuple'"),
        (RecipeSearchCV, "n_iter", r"an int in the range \[1, inf\)"),
        (RecipeSearchCV, "round_size", r"an int in the range \[1, inf\)"),
        (HalvingSearchCV, "n_candidates", _INT_OR_STR),
        (HalvingRandomSearchCV, "n_candidates", _INT_OR_STR),
        (HalvingSearchCV, "min_resources", _INT_OR_STR),
        (HalvingSearchCV, "max_resources", _INT_OR_STR),
        (HyperbandSearchCV, "min_resources", _INT_OR_STR),
        (HyperbandSearchCV, "max_resources", _INT_OR_STR),
        (ASHASearchCV, "min_resources", _INT_OR_STR),
        (ASHASearchCV, "max_resources", _INT_OR_STR),
    ]


@pytest.mark.parametrize("cls, param, rule", _int_params(),
                         ids=[f"{c.__name__}-{p}" for c, p, _ in _int_params()])
def test_a_bool_for_an_int_parameter_is_refused_in_the_name_of_the_search(data, cls, param,
                                                                          rule):
    """True is an Integral to sklearn's check: RandomSearchCV(n_iter=True) was refused in
    the name of an internal function (sample_candidates), the others ran with 1."""
    X, y = data
    search = cls(Ridge(), {"alpha": [0.1, 1.0]}, cv=2).set_params(**{param: True})
    pattern = (rf"^The '{param}' parameter of {cls.__name__} must be {rule}\. "
               r"Got True instead\.$")
    with pytest.raises(ValueError, match=pattern):
        search.fit(X, y)


class _SlowLargeAlpha(Ridge):
    """Ridge whose fits with ``alpha >= 1`` take ``delay`` seconds."""

    def __init__(self, alpha=1.0, delay=30.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay if self.alpha >= 1 else 0.0)
        return super().fit(X, y)


def _error_score_searches():
    from hpsearch import ASHASearchCV, GridSearchCV, OptunaSearchCV, RandomSearchCV

    budget = dict(resource="n_samples", min_resources=16, max_resources=150)
    return {
        "grid": GridSearchCV(_SlowLargeAlpha(), SPACE),
        "grid-racing": GridSearchCV(_SlowLargeAlpha(), SPACE, racing=True,
                                    racing_min_splits=2),
        "random": RandomSearchCV(_SlowLargeAlpha(), SPACE, n_iter=4, random_state=0),
        "optuna": OptunaSearchCV(_SlowLargeAlpha(), SPACE, n_trials=4, sampler="random",
                                 random_state=3),  # 0.01, then 1.0 (cut)
        "halving": HalvingSearchCV(_SlowAbove(delay=30.0), SPACE, n_candidates=4,
                                   random_state=0, **budget),
        "hyperband": HyperbandSearchCV(_SlowAbove(delay=30.0), SPACE, random_state=0,
                                       **budget),
        "asha": ASHASearchCV(_SlowAbove(delay=30.0), SPACE, n_trials=3, random_state=0,
                             **budget),
    }


@pytest.mark.parametrize("name", list(_error_score_searches()))
def test_a_numeric_error_score_gives_no_made_up_score_to_a_row_the_timeout_cut(data, name):
    """error_score=0 with a negative scoring: the splits the timeout left unrun got 0, so
    a 'not run' row had the best mean, rank 1 and was best_index_ (grid, random, racing,
    Optuna). error_score is the score of a fit that failed; a fit that never ran has
    none (NaN): such rows rank after every row that ran."""
    X, y = data
    search = _error_score_searches()[name].set_params(
        cv=2, n_jobs=1, timeout=3.0, error_score=0.0, scoring="neg_mean_squared_error",
        refit=False)
    search.fit(X, y)
    res = search.cv_results_
    cut = np.array(["not run: the search's timeout" in (e or "") for e in res["error"]])
    assert cut.any() and not cut.all()
    assert np.isnan(res["mean_test_score"][cut]).all()
    assert res["rank_test_score"][cut].min() > res["rank_test_score"][~cut].max()
    assert not cut[search.best_index_] and np.isfinite(search.best_score_)
    if "state" in res:  # racing labelled the cut rows COMPLETE (their trials RUNNING)
        assert "COMPLETE" not in set(res["state"][cut])


class _SlowBestOnBigFolds(Ridge):
    """Ridge whose fits with ``alpha=0.01`` on more than 60 rows take ``delay`` seconds."""

    def __init__(self, alpha=1.0, delay=30.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay if len(X) > 60 and self.alpha == 0.01 else 0.0)
        return super().fit(X, y)


def test_a_raced_row_is_not_said_to_be_cut_by_the_timeout(data):
    """Racing stops alpha=0.1 and 1e6 after the first two (quick) splits; the timeout
    then cuts alpha=0.01 on its slow splits. The splits racing skipped got the error
    'not run: the search's timeout=1s was reached' (a resume does not run them: they
    are raced), as if the timeout had cut them."""
    from hpsearch import GridSearchCV

    X, y = data
    test = np.arange(0, 50)
    splits = [(np.arange(110, 150), test), (np.arange(70, 110), test),
              (np.arange(50, 150), test), (np.arange(50, 150)[::-1].copy(), test)]
    # racing_alpha=0.3: with these unequal splits (test/train 50/40 and 50/100) the
    # corrected t-test's ratio is 0.8 (the splits' mean test fraction), no longer the
    # K-fold default 1/3, and two splits no longer drop the rows at the default 0.1
    search = GridSearchCV(_SlowBestOnBigFolds(), {"alpha": [0.01, 0.1, 1e6]}, cv=splits,
                          racing=True, racing_min_splits=2, racing_alpha=0.3, n_jobs=1,
                          timeout=3.0, refit=False).fit(X, y)
    res = search.cv_results_
    assert list(res["state"]) == ["not run", "RACED", "RACED"]
    assert "not run: the search's timeout=3s was reached" in res["error"][0]
    assert res["error"][1] is None and res["error"][2] is None
    assert search.best_index_ == 1
