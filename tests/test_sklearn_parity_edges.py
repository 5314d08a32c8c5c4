"""Silent-wrong-result hunt against scikit-learn: edge cases its own test files miss.

Each test runs scikit-learn's class and hpsearch's side by side on the same data and
splits and asserts the results sklearn gives (not just that hpsearch runs).
"""

import re
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.model_selection import GroupKFold, KFold

from hpsearch import GridSearchCV


def _sorted_data():
    """Two classes sorted by label: the first and last 5-fold test folds hold one class."""
    X, y = make_classification(60, 5, random_state=0)
    order = np.argsort(y, kind="stable")
    return X[order], y[order]


def _two_classes(estimator, X, y):
    """accuracy, refusing a test set with a single class (as some metrics do)."""
    if len(np.unique(y)) < 2:
        raise ValueError("only one class in y")
    return accuracy_score(y, estimator.predict(X))


def _both(scoring, n_jobs=None, **kwargs):
    X, y = _sorted_data()
    kwargs = dict(cv=KFold(5), scoring=scoring, return_train_score=True, **kwargs)
    grid = {"C": [0.01, 1.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkGridSearchCV(LogisticRegression(), grid, **kwargs).fit(X, y)
        ours = GridSearchCV(LogisticRegression(), grid, n_jobs=n_jobs, **kwargs).fit(X, y)
    return ours, theirs


def _assert_scores_equal(ours, theirs):
    keys = [k for k in theirs.cv_results_ if k.startswith(("split", "mean_t", "std_t",
                                                           "rank_"))]
    for key in keys:
        np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key],
                                   err_msg=key)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_one_failing_metric_leaves_the_other_metrics_scored(n_jobs):
    # was: the failing scorer made every metric of that split error_score, the refit
    # metric's mean NaN, and best_params_ the worse candidate
    ours, theirs = _both({"acc": "accuracy", "picky": _two_classes}, refit="acc",
                         n_jobs=n_jobs)
    _assert_scores_equal(ours, theirs)
    assert ours.best_params_ == theirs.best_params_ == {"C": 1.0}
    assert ours.best_score_ == theirs.best_score_
    assert "only one class in y" in ours.cv_results_["error"][0]


def test_a_failing_test_scoring_keeps_the_train_scores():
    # was: a failing test scoring made the split's train scores error_score too
    ours, theirs = _both(_two_classes)
    _assert_scores_equal(ours, theirs)
    assert np.isfinite(ours.cv_results_["mean_train_score"]).all()


@pytest.mark.parametrize("scoring", [
    lambda est, X, y: np.array([0.5, 0.6]),
    lambda est, X, y: {"a": 1.0, "b": "0.5"},
], ids=["array", "callable-dict-string"])
def test_a_scorer_returning_no_number_raises_as_sklearn(scoring):
    # was: the split silently scored error_score (or float("0.5") was taken)
    X, y = _sorted_data()
    kwargs = dict(cv=3, scoring=scoring, refit=False)
    with pytest.raises(ValueError, match="scoring must return a number") as theirs:
        SkGridSearchCV(LogisticRegression(), {"C": [1.0]}, **kwargs).fit(X, y)
    with pytest.raises(ValueError, match="scoring must return a number, got") as ours:
        GridSearchCV(LogisticRegression(), {"C": [1.0]}, **kwargs).fit(X, y)
    assert str(ours.value).split("(")[0] == str(theirs.value).split("(")[0]


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_a_multi_output_regressor_reports_and_stops_as_sklearn(solver):
    # was: loss_ summed the squared error over the outputs where sklearn averages it, so
    # tol stopped at another epoch (n_iter_ 300 instead of 224) and the model differed
    from sklearn.datasets import make_regression
    from sklearn.neural_network import MLPRegressor as SkMLPRegressor

    from hpsearch import MLPRegressor

    X, y = make_regression(200, 4, n_targets=2, noise=5, random_state=0)
    y = y / y.std()
    kwargs = dict(solver=solver, hidden_layer_sizes=(10,), random_state=1, tol=1e-3,
                  max_iter=30 if solver == "lbfgs" else 400, alpha=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkMLPRegressor(**kwargs).fit(X, y)
        ours = MLPRegressor(dtype=np.float64, **kwargs).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-3)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=0.02)
    if solver != "lbfgs":  # (sklearn's lbfgs keeps no loss_curve_)
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
        assert ours.best_loss_ == min(ours.loss_curve_)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_weighted_mini_batches_report_and_stop_as_sklearn(solver):
    # was: loss_ was the weighted sum over the whole epoch divided by the total weight
    # and the penalty taken at the epoch's end; sklearn averages each batch's weighted
    # loss (penalty at the batch's weights) by rows, so tol stopped elsewhere
    # (n_iter_ 273 instead of sklearn's 210) and the model differed
    from sklearn.datasets import load_breast_cancer
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    from hpsearch import MLPClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    weights = np.random.RandomState(0).randint(1, 5, len(y)).astype(float)
    kwargs = dict(solver=solver, hidden_layer_sizes=(10,), random_state=1, max_iter=300,
                  batch_size=50 if solver == "sgd" else 200, alpha=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkMLPClassifier(**kwargs).fit(X, y, sample_weight=weights)
        ours = MLPClassifier(dtype=np.float64, **kwargs).fit(X, y, sample_weight=weights)
    assert ours.n_iter_ == theirs.n_iter_ < 300
    # (Adam: hpsearch adds epsilon after the bias correction, README)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
    if solver == "sgd":  # (sgd follows sklearn's trajectory to rounding)
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X),
                                   atol=1e-12)


def test_a_nan_mean_ranks_after_a_minus_inf_mean_as_in_sklearn():
    # was: NaN was filled with nanmin - 1 == -inf and tied with the -inf candidates, so
    # rank_test_score was [1, 1, 1] and best_index_ the candidate without a score
    X, y = _sorted_data()

    def scorer(estimator, X, y):
        return np.nan if estimator.C == 0.5 else -np.inf

    kwargs = dict(cv=3, scoring=scorer)
    grid = {"C": [0.5, 1.0, 2.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkGridSearchCV(LogisticRegression(), grid, **kwargs).fit(X, y)
        ours = GridSearchCV(LogisticRegression(), grid, **kwargs).fit(X, y)
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"], [3, 1, 1])
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"],
                                  theirs.cv_results_["rank_test_score"])
    assert ours.best_index_ == theirs.best_index_ == 1


def test_fewer_distinct_random_candidates_than_n_iter_warn():
    # sklearn's RandomizedSearchCV repeats candidates of a small discrete distribution;
    # hpsearch's are distinct (README), which used to run 2 of n_iter=10 without a word
    from scipy.stats import randint

    from hpsearch import RandomizedSearchCV

    X, y = _sorted_data()
    search = RandomizedSearchCV(LogisticRegression(), {"C": randint(1, 3)}, n_iter=10, cv=3,
                                random_state=0)
    with pytest.warns(UserWarning, match="Only 2 distinct candidates .* instead of the 10"):
        search.fit(X, y)
    assert len(search.cv_results_["params"]) == 2


def _every_search():
    from sklearn.linear_model import Ridge

    import hpsearch

    grid = {"alpha": [0.1, 1.0]}
    return [
        hpsearch.GridSearchCV(Ridge(), grid, cv=2),
        hpsearch.RandomSearchCV(Ridge(), grid, n_iter=2, cv=2),
        hpsearch.OptunaSearchCV(Ridge(), grid, n_trials=2, cv=2),
        hpsearch.HalvingSearchCV(Ridge(), grid, resource="n_samples", cv=2),
        hpsearch.HalvingGridSearchCV(Ridge(), grid, cv=2),
        hpsearch.HyperbandSearchCV(Ridge(), grid, resource="n_samples", cv=2),
        hpsearch.ASHASearchCV(Ridge(), grid, n_trials=2, resource="n_samples", cv=2),
        hpsearch.RecipeSearchCV(Ridge(), grid, n_iter=2, cv=2),
    ]


@pytest.mark.parametrize("search", _every_search(), ids=lambda s: type(s).__name__)
def test_every_search_has_the_request_methods_of_sklearns_searches(search):
    # was: every search had a set_fit_request (its fit's explicit ``groups``), which
    # sklearn's searches (fit(X, y=None, **params)) have not; it accepted groups=True and
    # did nothing, sample_weight=True raised TypeError. groups still reach the splitter.
    def requests(obj):
        return {name for name in dir(obj) if re.fullmatch(r"set_\w+_request", name)}

    assert requests(search) == requests(SkGridSearchCV(LogisticRegression(), {})) == set()
    X, y = _sorted_data()
    groups = np.arange(len(y)) % 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for routing in (False, True):
            with sklearn.config_context(enable_metadata_routing=routing):
                fitted = clone(search).set_params(cv=GroupKFold(2)).fit(X, y, groups=groups)
            assert np.isfinite(fitted.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("search", _every_search(), ids=lambda s: type(s).__name__)
def test_every_search_passes_sklearns_check_param_validation(search):
    # sklearn's test_common.py runs check_param_validation on every estimator; it is not
    # among parametrize_with_checks' checks. was: cv="not a cv object" (a str, which the
    # constraint admits) raised make_cv's plain ValueError mid-fit instead of sklearn's
    # InvalidParameterError; RecipeSearchCV declared constraints for fit_timeout,
    # max_retries and timeout, which it does not take
    from sklearn.utils._param_validation import InvalidParameterError
    from sklearn.utils.estimator_checks import check_param_validation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_param_validation(type(search).__name__, search)
    with pytest.raises(InvalidParameterError, match=r"The 'cv' parameter of \w+ must be .* "
                       r"Got 'kfld' instead\. Unknown cross-validation method 'kfld'"):
        search.set_params(cv="kfld").fit(*_sorted_data())


def test_recipe_search_with_all_zero_weights_names_the_weights():
    # sklearn's check_all_zero_sample_weights_error (test_common.py). was: the recipe's
    # trivial baseline was refitted without the weights to find its error, fitted, and
    # the search blamed the 'scoring' parameter
    from sklearn.linear_model import Ridge
    from sklearn.utils.estimator_checks import check_all_zero_sample_weights_error

    from hpsearch import RecipeSearchCV

    search = RecipeSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, n_iter=2, cv=2)
    check_all_zero_sample_weights_error("RecipeSearchCV", search)
    X, y = _sorted_data()
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        search.fit(X, y, sample_weight=np.zeros(len(y)))


def test_recipe_search_takes_a_generator_of_splits_as_sklearn():
    # sklearn's cv: "an iterable yielding (train, test) splits". was: RecipeSearchCV
    # consumed the generator for its references, then its stages found it empty ("No fits
    # were performed"); an already empty one raised IndexError instead of that error
    from sklearn.model_selection import KFold

    from hpsearch import RecipeSearchCV

    X, y = _sorted_data()
    kwargs = dict(n_iter=2, random_state=0)
    grid = {"C": [0.1, 1.0, 10.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        listed = RecipeSearchCV(LogisticRegression(), grid, cv=list(KFold(3).split(X)),
                                **kwargs).fit(X, y)
        generated = KFold(3).split(X)
        ours = RecipeSearchCV(LogisticRegression(), grid, cv=generated, **kwargs).fit(X, y)
    assert ours.cv is generated  # the parameter is left as given
    assert ours.n_splits_ == 3
    np.testing.assert_array_equal(ours.cv_results_["mean_test_score"],
                                  listed.cv_results_["mean_test_score"])
    with pytest.raises(ValueError, match=r"No fits were performed\. Was the CV iterator "
                       r"empty\? Were there no candidates\?"):
        RecipeSearchCV(LogisticRegression(), grid, cv=generated, **kwargs).fit(X, y)


def test_recipe_search_draws_the_splits_once_as_sklearn():
    # sklearn's test_grid_search_cv_splits_consistency: a splitter that yields its splits
    # once (OneTimeSplitter) works, as sklearn calls cv.split once per fit. was: the
    # stages drew again after the references and found no splits
    from sklearn.model_selection import KFold
    from sklearn.model_selection.tests.common import OneTimeSplitter

    from hpsearch import RecipeSearchCV

    X, y = _sorted_data()
    grid = {"C": [0.1, 1.0, 10.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        once = RecipeSearchCV(LogisticRegression(), grid, n_iter=2, random_state=0,
                              cv=OneTimeSplitter(n_splits=3, n_samples=len(y))).fit(X, y)
        listed = RecipeSearchCV(LogisticRegression(), grid, n_iter=2, random_state=0,
                                cv=list(KFold(3).split(X))).fit(X, y)
    assert isinstance(once.cv, OneTimeSplitter)  # the parameter is left as given
    np.testing.assert_array_equal(once.cv_results_["mean_test_score"],
                                  listed.cv_results_["mean_test_score"])

    class BrokenKFold(KFold):  # sklearn's test_random_search_bad_cv
        def get_n_splits(self, *args, **kw):
            return 1

    with pytest.raises(ValueError, match="cv.split and cv.get_n_splits return inconsistent"):
        RecipeSearchCV(LogisticRegression(), grid, n_iter=2, cv=BrokenKFold(3)).fit(X, y)
    # the leave-p-out guard fires before the references draw C(60, 5) splits (it came
    # after them)
    from sklearn.model_selection import LeavePOut

    with pytest.raises(ValueError, match="more than max_splits"):
        RecipeSearchCV(LogisticRegression(), grid, n_iter=2, cv=LeavePOut(5)).fit(X, y)


def test_recipe_search_refuses_scoring_refit_and_a_missing_y_first():
    # sklearn's test_no_refit / test_grid_search_no_score / test_unsupervised_grid_search
    # on RecipeSearchCV. was: on a 4-row X the references' 5-fold split failed before the
    # multi-metric refit error; y=None gave DummyRegressor's TypeError
    from sklearn.cluster import KMeans
    from sklearn.svm import LinearSVC

    from hpsearch import RecipeSearchCV

    X = [[-1, -1], [-2, -1], [1, 1], [2, 1]]
    y = [1, 1, 2, 2]
    scoring = {"acc": "accuracy", "prec": "precision"}
    with pytest.raises(ValueError, match="For multi-metric scoring, the parameter refit "
                       "must be set to a scorer key"):
        RecipeSearchCV(LinearSVC(), {"C": [1.0]}, scoring=scoring).fit(X, y)
    with pytest.raises(ValueError, match="RecipeSearchCV needs a target y.*Got y=None"):
        RecipeSearchCV(KMeans(n_init=1), {"n_clusters": [2, 3]}, n_iter=2, cv=2).fit(X)
    # sklearn's test_refit: an estimator without ClassifierMixin gets regression references,
    # which 'precision' cannot score; the error says so (it blamed the scoring alone)
    from sklearn.base import BaseEstimator

    class Unmarked(BaseEstimator):
        def __init__(self, parameter=0):
            self.parameter = parameter

        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.zeros(len(X))

    X, y = _sorted_data()
    with pytest.raises(ValueError, match=r"baseline DummyRegressor\(\).*The estimator is not "
                       r"a classifier \(sklearn's is_classifier\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            RecipeSearchCV(Unmarked(), {"parameter": [0, 1]}, n_iter=2, cv=3,
                           scoring="precision").fit(X, y)


@pytest.mark.parametrize("kind", ["halving", "hyperband", "asha"])
def test_boolean_mask_splits_budget_n_samples_as_index_splits(kind):
    # sklearn's test_search_default_iid gives cv as boolean masks [(mask, ~mask), ...].
    # was: resource="n_samples" drew each budget's rows from the mask's positions:
    # halving and ASHA failed ("Cannot take a larger sample than population"), Hyperband
    # scored NaN rows without a word
    from sklearn.datasets import make_blobs
    from sklearn.svm import SVC

    from hpsearch import ASHASearchCV, HalvingSearchCV, HyperbandSearchCV

    X, y = make_blobs(centers=[[0, 0], [1, 0], [0, 1], [1, 1]], random_state=0,
                      cluster_std=0.1, shuffle=False, n_samples=80)
    mask = np.random.RandomState(0).rand(80) < 0.5
    masks = [(mask, ~mask), (~mask, mask)]
    indices = [(np.flatnonzero(a), np.flatnonzero(b)) for a, b in masks]
    make = {
        "halving": lambda cv: HalvingSearchCV(SVC(), {"C": [0.1, 1.0, 10.0]}, cv=cv,
                                              resource="n_samples", random_state=0),
        "hyperband": lambda cv: HyperbandSearchCV(SVC(), {"C": [0.1, 1.0, 10.0]}, cv=cv,
                                                  resource="n_samples", random_state=0),
        "asha": lambda cv: ASHASearchCV(SVC(), {"C": [0.1, 1.0, 10.0]}, n_trials=3, cv=cv,
                                        resource="n_samples", random_state=0),
    }[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, expected = make(masks).fit(X, y), make(indices).fit(X, y)
    assert np.isfinite(ours.cv_results_["mean_test_score"]).all()
    np.testing.assert_array_equal(ours.cv_results_["mean_test_score"],
                                  expected.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(ours.cv_results_["n_resources"],
                                  expected.cv_results_["n_resources"])


@pytest.mark.parametrize("bad, error, message", [
    ({"C": np.zeros((2, 2))}, ValueError, "Parameter array for 'C' should be one-dimensional"),
    ({"C": "abc"}, TypeError, "Parameter grid for parameter 'C' needs to be a list or a numpy "
                              "array, but got 'abc'"),
    ({"C": []}, ValueError, "Parameter grid for parameter 'C' need to be a non-empty sequence"),
], ids=["2-D array", "string", "empty list"])
def test_random_search_refuses_bad_lists_as_sklearn(bad, error, message):
    # sklearn's ParameterSampler runs ParameterGrid's checks when every value is a list.
    # was: a 2-D array passed and every candidate got one of its rows ("All the 4 fits
    # failed"); a string was a ValueError, not sklearn's TypeError
    from sklearn.model_selection import RandomizedSearchCV as SkRandomizedSearchCV

    from hpsearch import HalvingRandomSearchCV, RandomizedSearchCV

    X, y = _sorted_data()
    for search in (SkRandomizedSearchCV(LogisticRegression(), bad, n_iter=2, cv=2),
                   RandomizedSearchCV(LogisticRegression(), bad, n_iter=2, cv=2),
                   HalvingRandomSearchCV(LogisticRegression(), bad, cv=2)):
        with pytest.raises(error, match=re.escape(message)):
            search.fit(X, y)


@pytest.mark.parametrize("space", ["distributions", "list of dicts"])
def test_a_random_state_instance_draws_sklearns_candidates(space):
    # sklearn's RandomizedSearchCV hands a RandomState instance to ParameterSampler, which
    # advances it by the candidate draws alone. was: hpsearch drew the master seed of its
    # per-fit seeds from the instance first, so the candidates were other than sklearn's
    # (C=0.0023, 15.8, ... instead of 0.568, 3.47, ...) and the instance was left elsewhere
    from scipy.stats import loguniform, randint
    from sklearn.model_selection import RandomizedSearchCV as SkRandomizedSearchCV

    from hpsearch import RandomizedSearchCV

    if space == "distributions":
        distributions = {"C": loguniform(1e-3, 1e2), "max_iter": randint(50, 200)}
    else:
        # (continuous: a repeated candidate is drawn again in hpsearch, documented)
        distributions = [{"C": loguniform(1e-3, 1e2)},
                         {"C": loguniform(1e-2, 1e1), "tol": loguniform(1e-5, 1e-2)}]
    X, y = make_classification(40, 4, random_state=0)
    drawn, after = {}, {}
    for name, search in (("sklearn", SkRandomizedSearchCV), ("hpsearch", RandomizedSearchCV)):
        rng = np.random.RandomState(3)
        make = lambda: search(LogisticRegression(), distributions, n_iter=4, cv=2,  # noqa: E731
                              random_state=rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = make().fit(X, y).cv_results_["params"]
            second = make().fit(X, y).cv_results_["params"]  # the same instance: new draws
        drawn[name] = [sorted(p.items()) for p in first + second]
        after[name] = rng.randint(2**31 - 1)
    assert drawn["hpsearch"] == drawn["sklearn"]
    assert drawn["hpsearch"][:4] != drawn["hpsearch"][4:]
    assert after["hpsearch"] == after["sklearn"]


def test_a_random_state_instance_draws_sklearns_halving_candidates():
    # the same for HalvingRandomSearchCV (sklearn's ParameterSampler draws its candidates
    # from the instance first). was: other candidates (C=0.0023, 15.8, ...) than sklearn's
    from scipy.stats import loguniform
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV as SkHalvingRandomSearchCV

    from hpsearch import HalvingRandomSearchCV

    X, y = make_classification(200, 4, random_state=0)
    drawn = {}
    for name, search in (("sklearn", SkHalvingRandomSearchCV),
                         ("hpsearch", HalvingRandomSearchCV)):
        rng = np.random.RandomState(3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = search(LogisticRegression(), {"C": loguniform(1e-3, 1e2)}, n_candidates=6,
                           cv=2, random_state=rng).fit(X, y).cv_results_
            second = search(LogisticRegression(), {"C": loguniform(1e-3, 1e2)},
                            n_candidates=6, cv=2, random_state=rng).fit(X, y).cv_results_
        drawn[name] = [[float(p["C"]) for p, i in zip(r["params"], r["iter"]) if i == 0]
                       for r in (first, second)]
    np.testing.assert_allclose(drawn["hpsearch"][0], drawn["sklearn"][0])
    assert drawn["hpsearch"][0] != drawn["hpsearch"][1]  # the instance was advanced


@pytest.mark.parametrize("splitter", ["KFold", "ShuffleSplit"])
def test_a_random_state_instance_shared_with_the_splitter_draws_as_sklearn(splitter):
    # sklearn's RandomizedSearchCV draws the candidates, then the splits, from one
    # RandomState the search and a shuffling splitter share. was: hpsearch drew the splits
    # first, so both the candidates and the folds differed from sklearn's
    from scipy.stats import loguniform
    from sklearn.model_selection import RandomizedSearchCV as SkRandomizedSearchCV
    from sklearn.model_selection import ShuffleSplit

    from hpsearch import RandomizedSearchCV

    X, y = make_classification(90, 4, random_state=0)
    got = {}
    for name, search in (("sklearn", SkRandomizedSearchCV), ("hpsearch", RandomizedSearchCV)):
        rng = np.random.RandomState(5)
        cv = (KFold(3, shuffle=True, random_state=rng) if splitter == "KFold"
              else ShuffleSplit(4, random_state=rng))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = search(LogisticRegression(), {"C": loguniform(1e-2, 1e2)}, n_iter=3,
                             cv=cv, random_state=rng).fit(X, y).cv_results_
        got[name] = ([float(p["C"]) for p in results["params"]],
                     results["mean_test_score"], rng.randint(2**31 - 1))
    np.testing.assert_allclose(got["hpsearch"][0], got["sklearn"][0])
    np.testing.assert_allclose(got["hpsearch"][1], got["sklearn"][1])
    assert got["hpsearch"][2] == got["sklearn"][2]
