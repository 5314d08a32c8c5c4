"""hpsearch's searches and scikit-learn's side by side, as a user swapping one import sees
them: what sklearn's own test files do not check (column order, verbose lines)."""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.model_selection import HalvingGridSearchCV as SkHalvingGridSearchCV
from sklearn.model_selection import HalvingRandomSearchCV as SkHalvingRandomSearchCV
from sklearn.model_selection import KFold
from sklearn.model_selection import RandomizedSearchCV as SkRandomizedSearchCV
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import hpsearch

#: sklearn's search -> hpsearch's, built the same way
_PAIRS = {
    "grid": (SkGridSearchCV, hpsearch.GridSearchCV, {}),
    "random": (SkRandomizedSearchCV, hpsearch.RandomizedSearchCV,
               {"n_iter": 3, "random_state": 0}),
    "halving-grid": (SkHalvingGridSearchCV, hpsearch.HalvingGridSearchCV,
                     {"random_state": 0}),
    "halving-random": (SkHalvingRandomSearchCV, hpsearch.HalvingRandomSearchCV,
                       {"n_candidates": 3, "random_state": 0}),
}


@pytest.fixture(scope="module")
def data():
    return make_classification(90, 4, random_state=0)


@pytest.mark.parametrize("kind", list(_PAIRS))
def test_param_columns_and_best_params_keys_come_in_sklearns_order(data, kind):
    # was: in the order the grid was written ({"max_depth": ..., "criterion": ...} gave
    # param_max_depth before param_criterion and best_params_ {'max_depth': 2,
    # 'criterion': 'gini', ...}); sklearn's ParameterGrid / ParameterSampler sort them
    X, y = data
    theirs_cls, ours_cls, kwargs = _PAIRS[kind]
    grid = {"max_depth": [None, 2, 3], "criterion": ["gini", "entropy"],
            "splitter": ["best"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = theirs_cls(DecisionTreeClassifier(random_state=0), grid, cv=KFold(3),
                            **kwargs).fit(X, y)
        ours = ours_cls(DecisionTreeClassifier(random_state=0), grid, cv=KFold(3),
                        **kwargs).fit(X, y)
    # (sklearn's random searches draw lists through ParameterGrid.__getitem__, whose
    # names come reverse-sorted)
    expected = ["criterion", "max_depth", "splitter"][::-1 if "random" in kind else 1]
    assert ([k for k in ours.cv_results_ if k.startswith("param")]
            == [k for k in theirs.cv_results_ if k.startswith("param")]
            == [f"param_{name}" for name in expected] + ["params"])
    assert ([list(p) for p in ours.cv_results_["params"]]
            == [list(p) for p in theirs.cv_results_["params"]])
    assert list(ours.best_params_) == list(theirs.best_params_) == expected


def test_param_columns_of_random_distributions_come_in_sklearns_order(data):
    # with a distribution sklearn's ParameterSampler sorts the names
    from scipy.stats import randint

    X, y = data
    space = {"max_depth": randint(1, 6), "criterion": ["gini", "entropy"]}
    kwargs = dict(n_iter=3, cv=3, random_state=0)
    theirs = SkRandomizedSearchCV(DecisionTreeClassifier(random_state=0), space,
                                  **kwargs).fit(X, y)
    ours = hpsearch.RandomizedSearchCV(DecisionTreeClassifier(random_state=0), space,
                                       **kwargs).fit(X, y)
    assert list(ours.best_params_) == list(theirs.best_params_) == ["criterion",
                                                                    "max_depth"]


def test_param_columns_of_a_list_of_grids_come_in_sklearns_order(data):
    X, y = data
    grid = [{"kernel": ["linear"], "C": [1, 10]}, {"kernel": ["rbf"], "gamma": [0.1, 1.0]}]
    theirs = SkGridSearchCV(SVC(), grid, cv=3).fit(X, y)
    ours = hpsearch.GridSearchCV(SVC(), grid, cv=3).fit(X, y)
    keys = [k for k in theirs.cv_results_ if k.startswith("param")]
    assert keys == ["param_C", "param_kernel", "param_gamma", "params"]
    assert [k for k in ours.cv_results_ if k.startswith("param")] == keys


def test_a_conditional_space_keeps_sklearns_order_and_its_conditions():
    # the order change must not lose a condition: a parameter whose condition fails is
    # still dropped
    from hpsearch.model_selection.space import Categorical, Int, grid_candidates

    space = {"maxout_pieces": Int(2, 3, when={"activation": "maxout"}),
             "activation": Categorical(["maxout", "relu"]), "alpha": [0.1]}
    assert grid_candidates(space) == [
        {"activation": "maxout", "alpha": 0.1, "maxout_pieces": 2},
        {"activation": "maxout", "alpha": 0.1, "maxout_pieces": 3},
        {"activation": "relu", "alpha": 0.1},
    ]
    assert [list(c) for c in grid_candidates(space)][0] == ["activation", "alpha",
                                                            "maxout_pieces"]


def _lines(capsys, search, X, y):
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    text = capsys.readouterr().out
    # (the times differ)
    return re.sub(r"total time=\s*[\d.]+\w*", "total time=T", text).splitlines()


@pytest.mark.parametrize("verbose", [1, 2, 3, 10])
def test_verbose_lines_are_sklearns(data, capsys, verbose):
    # was: verbose=2 printed "[CV 1/2] END ..." where sklearn prints "[CV] END ..." (the
    # split appears from verbose=3), and verbose=10 printed no "START" line
    X, y = data
    kwargs = dict(cv=KFold(2), verbose=verbose, return_train_score=True)
    grid = {"C": [0.1, 1.0]}
    ours = _lines(capsys, hpsearch.GridSearchCV(SVC(), grid, **kwargs), X, y)
    theirs = _lines(capsys, SkGridSearchCV(SVC(), grid, **kwargs), X, y)
    assert ours == theirs
    if verbose == 2:
        assert ours[1].startswith("[CV] END ....")
    if verbose == 10:
        assert ours[1] == "[CV 1/2; 1/2] START C=0.1" + "." * 55


def test_halving_verbose_lines_are_sklearns_and_printed_once(data, capsys):
    # was: one line "iter: 0  n_candidates: 3  n_resources: 30" per round without
    # sklearn's opening block; with progress=True the rounds were printed twice, the
    # first time by the plan made before any fit
    X, y = data
    kwargs = dict(cv=KFold(2), verbose=1, factor=2, random_state=0)
    grid = {"C": [0.1, 1.0, 10.0]}
    theirs = _lines(capsys, SkHalvingGridSearchCV(SVC(), grid, **kwargs), X, y)
    ours = _lines(capsys, hpsearch.HalvingGridSearchCV(SVC(), grid, **kwargs), X, y)
    assert ours == theirs
    assert ours[:8] == ["n_iterations: 2", "n_required_iterations: 2",
                        "n_possible_iterations: 2", "min_resources_: 45",
                        "max_resources_: 90", "aggressive_elimination: False",
                        "factor: 2", "----------"]
    shown = _lines(capsys, hpsearch.HalvingGridSearchCV(SVC(), grid, progress=True,
                                                        **kwargs), X, y)
    assert shown == ours
    np.testing.assert_array_equal(  # (plan_rounds prints nothing)
        [r["n_candidates"] for r in hpsearch.HalvingGridSearchCV(
            SVC(), grid, **kwargs).plan_rounds(X, y)], [3, 2])
    assert capsys.readouterr().out == ""


def _score_dict(estimator, X, y):
    return {"score": estimator.score(X, y)}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_callable_scoring_returning_a_dict_keyed_score_is_multi_metric(data, n_jobs):
    # was: its "score" key read as a plain number's: multimetric_ False, refit=True
    # accepted (sklearn raises), and score() returned the dict {'score': 0.9}
    X, y = data
    grid = {"C": [0.1, 1.0]}
    kwargs = dict(scoring=_score_dict, cv=3)
    with pytest.raises(ValueError, match="For multi-metric scoring, the parameter refit "
                       "must be set to a scorer key"):
        SkGridSearchCV(SVC(), grid, **kwargs).fit(X, y)
    with pytest.raises(ValueError, match="For multi-metric scoring, the parameter refit "
                       "must be set to a scorer key"):
        hpsearch.GridSearchCV(SVC(), grid, n_jobs=n_jobs, **kwargs).fit(X, y)
    theirs = SkGridSearchCV(SVC(), grid, refit="score", **kwargs).fit(X, y)
    ours = hpsearch.GridSearchCV(SVC(), grid, refit="score", n_jobs=n_jobs,
                                 **kwargs).fit(X, y)
    assert ours.multimetric_ is theirs.multimetric_ is True
    assert ours.score(X, y) == theirs.score(X, y) == pytest.approx(ours.best_estimator_
                                                                    .score(X, y))
    assert ours.best_index_ == theirs.best_index_


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_bad_pre_dispatch_is_refused_as_sklearn(data, n_jobs):
    # was: accepted silently with n_jobs=2 (fork workers never read it); sklearn's
    # searches raise joblib's error when the fits run in parallel, and ignore it with one
    X, y = data
    kwargs = dict(cv=2, n_jobs=n_jobs, pre_dispatch="2*njobs")
    searches = [SkGridSearchCV(SVC(), {"C": [1.0]}, **kwargs),
                hpsearch.GridSearchCV(SVC(), {"C": [1.0]}, **kwargs)]
    for search in searches:
        if n_jobs == 1:
            search.fit(X, y)
        else:
            with pytest.raises(ValueError, match="'2\\*njobs' is not a valid or supported "
                               "arithmetic expression"):
                search.fit(X, y)
    hpsearch.GridSearchCV(SVC(), {"C": [1.0]}, cv=2, n_jobs=2, pre_dispatch="3*n_jobs"
                          ).fit(X, y)


@pytest.mark.parametrize("pre_dispatch", ["all", 4, "3 * n_jobs"])
def test_every_pre_dispatch_joblib_takes_is_accepted_as_sklearn(data, pre_dispatch):
    # was: "all" (joblib's and sklearn's value for "dispatch every fit at once") was
    # refused with n_jobs > 1: "'all' is not a valid or supported arithmetic expression"
    X, y = data
    kwargs = dict(cv=2, n_jobs=2, pre_dispatch=pre_dispatch)
    theirs = SkGridSearchCV(SVC(), {"C": [0.1, 1.0]}, **kwargs).fit(X, y)
    ours = hpsearch.GridSearchCV(SVC(), {"C": [0.1, 1.0]}, **kwargs).fit(X, y)
    assert ours.best_index_ == theirs.best_index_


def test_a_resume_of_a_callable_scoring_returning_a_dict_is_multi_metric_too(data, tmp_path):
    # was: a resume that read every fit back from the study scored none itself, so it
    # did not see the dict: multimetric_ False, and score() returned {'score': 0.9}
    X, y = data
    kwargs = dict(scoring=_score_dict, refit="score", cv=3,
                  storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="s")
    first = hpsearch.GridSearchCV(SVC(), {"C": [0.1, 1.0]}, **kwargs).fit(X, y)
    again = hpsearch.GridSearchCV(SVC(), {"C": [0.1, 1.0]}, resume=True, **kwargs).fit(X, y)
    assert first.multimetric_ is again.multimetric_ is True
    assert isinstance(again.score(X, y), float)
    assert again.score(X, y) == first.score(X, y)
    with pytest.raises(ValueError, match="For multi-metric scoring, the parameter refit "
                       "must be set to a scorer key"):
        hpsearch.GridSearchCV(SVC(), {"C": [0.1, 1.0]}, resume=True,
                              **{**kwargs, "refit": True}).fit(X, y)


def _types(params_list):
    return [{k: type(v) for k, v in p.items()} for p in params_list]


@pytest.mark.parametrize("kind", ["random", "halving-random"])
def test_values_drawn_from_scipy_distributions_have_sklearns_types(data, kind):
    """sklearn gives the draws of scipy's continuous distributions as np.float64 (and
    randint's as int) in cv_results_['params'] and best_params_; hpsearch gave a Python
    float. Same values, same types now, and the refit gets them as sklearn's does."""
    from scipy import stats

    sk_cls, hp_cls, kwargs = _PAIRS[kind]
    space = {"C": stats.loguniform(1e-2, 1e2), "gamma": stats.uniform(0.01, 1.0),
             "max_iter": stats.randint(50, 100), "shrinking": [True, False],
             "tol": [1e-3, 1e-4]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = sk_cls(SVC(), space, cv=3, **kwargs).fit(*data)
        hp = hp_cls(SVC(), space, cv=3, **kwargs).fit(*data)
    assert hp.cv_results_["params"] == sk.cv_results_["params"]
    assert _types(hp.cv_results_["params"]) == _types(sk.cv_results_["params"])
    assert type(sk.cv_results_["params"][0]["C"]) is np.float64  # (what is compared)
    assert _types([hp.best_params_]) == _types([sk.best_params_])
    assert type(hp.best_estimator_.C) is type(sk.best_estimator_.C) is np.float64
    for name in ("param_C", "param_max_iter", "param_tol"):
        assert hp.cv_results_[name].dtype == sk.cv_results_[name].dtype


def test_a_resumed_random_search_keeps_its_fits_and_gives_sklearns_types(data, tmp_path):
    """The numpy scalars are made when cv_results_ is: the store keeps what it kept
    (a resume finds every fit of the first run, whose candidates were Python floats),
    and the refit's seed is the same."""
    from scipy import stats
    from sklearn.linear_model import SGDClassifier

    space = {"alpha": stats.loguniform(1e-5, 1e-1), "penalty": ["l2", "l1"]}
    storage = f"sqlite:///{tmp_path / 's.db'}"

    def search(resume):
        return hpsearch.RandomizedSearchCV(
            SGDClassifier(max_iter=20), space, n_iter=3, cv=2, random_state=0,
            storage=storage, study_name="s", resume=resume)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, again = search(False).fit(*data), search(True).fit(*data)
    assert again._n_fits_run == 0 and first._n_fits_run == 6
    assert again.cv_results_["params"] == first.cv_results_["params"]
    assert {type(p["alpha"]) for p in again.cv_results_["params"]} == {np.float64}
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"],
                                  first.cv_results_["mean_test_score"])
    assert again.best_estimator_.random_state == first.best_estimator_.random_state
    np.testing.assert_array_equal(again.best_estimator_.coef_, first.best_estimator_.coef_)
