"""ASHASearchCV used as a scikit-learn user uses HalvingRandomSearchCV / RandomizedSearchCV:
failing fits at a higher rung, multimetric scoring (regressions of a hostile review)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

from hpsearch import ASHASearchCV, MLPClassifier

SPACE = {"alpha": [1e-4, 1e-2, 1e-1, 1.0], "learning_rate_init": [1e-3, 1e-2, 3e-2]}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


class FailsPastThreeEpochs(MLPClassifier):
    """Fails whenever its training would go past 3 epochs in total (a continued fit
    gets ``warm_start=True`` and the epochs to add as ``max_iter``)."""

    def fit(self, X, y, **kwargs):
        done = getattr(self, "n_iter_", 0) if self.warm_start else 0
        if done + self.max_iter > 3:
            raise RuntimeError("diverged past 3 epochs")
        return super().fit(X, y, **kwargs)


def _asha(estimator, **params):
    params = {"n_trials": 12, **params}
    return ASHASearchCV(estimator, SPACE, min_resources=1, max_resources=9, cv=3,
                        random_state=0, n_jobs=1, **params)


def test_a_top_rung_where_every_job_failed_is_not_the_budget_reached(digits):
    """Every promotion to the top rung (9 epochs) fails: those rows keep their NaN
    (error_score) and the rows of the lower rungs, with a FitFailedWarning, but the
    best row is the best finite one of the highest rung with a result (3 epochs), not
    a failed row with best_score_ NaN whose refit raises after the whole search."""
    X, y = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = _asha(FailsPastThreeEpochs(hidden_layer_sizes=(16,), random_state=0,
                                            max_iter=9)).fit(X, y)
    assert any(issubclass(w.category, FitFailedWarning) for w in caught)
    res = search.cv_results_
    top = res["iter"] == 2
    assert top.any() and np.isnan(res["mean_test_score"][top]).all()
    assert res["iter"][search.best_index_] == 1
    assert np.isfinite(search.best_score_)
    assert search.best_score_ == np.nanmax(res["mean_test_score"][res["iter"] == 1])
    assert res["rank_test_score"][search.best_index_] == 1
    assert search.best_estimator_.n_iter_ == 3  # refitted at the budget of its row
    with pytest.raises(RuntimeError, match="diverged past 3 epochs"):
        _asha(FailsPastThreeEpochs(hidden_layer_sizes=(16,), random_state=0, max_iter=9),
              error_score="raise", refit=False).fit(X, y)


def _negated_accuracy(y_true, y_pred):
    return -np.mean(y_true == y_pred)


@pytest.mark.parametrize("name", ["asha", "halving"])
def test_multimetric_promotions_follow_the_refit_metric_else_the_first(digits, name):
    """Documented rule: with several metrics the rungs rank by the ``refit`` metric;
    with ``refit=False`` or a callable by the first metric of ``scoring``. A first
    metric that is accuracy negated promotes the worst candidates."""
    from sklearn.metrics import make_scorer

    from hpsearch import HalvingSearchCV

    X, y = digits
    scoring = {"neg": make_scorer(_negated_accuracy), "acc": "accuracy"}

    def run(refit):
        est = MLPClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=9)
        if name == "asha":
            search = _asha(est, scoring=scoring, refit=refit)
        else:
            search = HalvingSearchCV(est, SPACE, n_candidates=9, min_resources=1,
                                     max_resources=9, cv=3, random_state=0, n_jobs=1,
                                     scoring=scoring, refit=refit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = search.fit(X, y).cv_results_
        top = res["iter"] == res["iter"].max()
        return sorted(p["alpha"] * 1e3 + p["learning_rate_init"] for p in
                      np.asarray(res["params"])[top]), res["mean_test_acc"][top]

    by_acc, acc_scores = run("acc")
    by_neg, neg_scores = run("neg")
    assert by_acc != by_neg and acc_scores.max() > neg_scores.max()
    assert run(False)[0] == by_neg
    assert run(lambda results: 0)[0] == by_neg


def test_lbfgs_rows_equal_straight_training_at_their_budget(digits):
    """hpsearch's MLP with solver="lbfgs" cannot continue bit for bit (each fit starts a
    fresh L-BFGS run from the weights): a promotion must refit at the higher budget, so
    every row scores what a plain fit with max_iter = its budget scores, and the refit
    best_estimator_ is the model that was scored."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    X, y = digits
    est = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0,
                        max_iter=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = _asha(est, n_trials=4).fit(X, y)
        res = search.cv_results_
        assert res["iter"].max() >= 1
        for i in np.flatnonzero(res["iter"] >= 1):
            plain = clone(est).set_params(**res["params"][i],
                                          max_iter=int(res["n_resources"][i]))
            expected = cross_val_score(plain, X, y, cv=3)
            got = [res[f"split{k}_test_score"][i] for k in range(3)]
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("searched_seed", [False, True])
def test_a_pipeline_continues_on_the_features_its_first_fit_used(digits, searched_seed):
    """Continuing a Pipeline refits its earlier steps; one seeded by a RandomState
    instance (a randomized PCA) must see that generator as its first fit did, not
    advanced by it, or the MLP continues on other features than straight training's
    (every promoted row differed from plain cross-validation at its budget)."""
    from sklearn.base import clone
    from sklearn.decomposition import PCA
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import Pipeline

    X, y = digits
    pipe = Pipeline([
        ("pca", PCA(n_components=20, svd_solver="randomized", iterated_power=1,
                    random_state=np.random.RandomState(0))),
        ("mlp", MLPClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=9)),
    ])
    space = {f"mlp__{k}": v for k, v in SPACE.items()}
    if searched_seed:  # a candidate's own seed of the step is kept as it is
        space["pca__random_state"] = [1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = ASHASearchCV(pipe, space, n_trials=9, min_resources=1, max_resources=9,
                              cv=KFold(3), random_state=0, n_jobs=1).fit(X, y)
        res = search.cv_results_
        assert res["iter"].max() == 2
        for i in np.flatnonzero(res["iter"] >= 1):
            plain = clone(pipe).set_params(**res["params"][i],
                                           mlp__max_iter=int(res["n_resources"][i]))
            expected = cross_val_score(plain, X, y, cv=KFold(3))
            got = [res[f"split{k}_test_score"][i] for k in range(3)]
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", ["asha", "halving"])
@pytest.mark.parametrize("refit, error, match", [
    (lambda results: -1, IndexError, "best_index_ index out of range"),
    (lambda results: 10**6, IndexError, "best_index_ index out of range"),
    (lambda results: 1.5, TypeError, "best_index_ returned is not an integer"),
])
def test_a_refit_callable_returning_no_row_index_is_refused_as_sklearn(
        digits, name, refit, error, match):
    """sklearn's check of a refit callable's answer: -1 silently picked the last row
    (best_index_ -1) and 1.5 row 1; now the errors of sklearn's searches."""
    from hpsearch import HalvingSearchCV

    X, y = digits
    est = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, max_iter=3)
    space = {"alpha": [1e-4, 1e-2, 1e-1, 1.0]}
    common = dict(min_resources=1, max_resources=3, cv=3, random_state=0, refit=refit)
    search = (ASHASearchCV(est, space, n_trials=3, **common) if name == "asha"
              else HalvingSearchCV(est, space, n_candidates=3, **common))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(error, match=match):
            search.fit(X, y)
