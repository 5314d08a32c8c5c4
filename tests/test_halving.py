"""HalvingSearchCV and HyperbandSearchCV: continuation, budgets, results, store, errors."""

import re
import warnings
import zlib

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import RidgeClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.model_selection import HalvingRandomSearchCV, KFold, StratifiedKFold
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hpsearch import MLPClassifier
from hpsearch.model_selection.strategies.halving import HalvingSearchCV, HyperbandSearchCV, top_k
from hpsearch.model_selection.strategies.random import RandomSearchCV
from hpsearch.model_selection.space import Categorical, Float, Int

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:300], y[:300]


def _crc(estimator, X, y):
    """A scorer returning a checksum of every weight: equal checksums = equal bits."""
    mlp = estimator[-1] if hasattr(estimator, "steps") else estimator
    arrays = [np.ascontiguousarray(a) for a in (*mlp.coefs_, *mlp.intercepts_)]
    return float(zlib.crc32(b"".join(a.tobytes() for a in arrays)))


SPACE = {
    "learning_rate_init": Float(1e-3, 1e-1, log=True),
    "alpha": Float(1e-6, 1e-2, log=True),
}


@pytest.mark.parametrize("solver", ["adam", "nesterov"])
def test_continued_survivors_are_bit_identical_to_straight_training(digits, solver):
    X, y = digits
    mlp = MLPClassifier((8,), solver=solver, dropout=0.1, max_iter=9, batch_size=32,
                        random_state=0)
    cv = KFold(3, shuffle=True, random_state=0)
    search = HalvingSearchCV(
        mlp, SPACE, n_candidates=9, factor=3, cv=cv, random_state=0,
        scoring={"accuracy": "accuracy", "crc": _crc}, refit="accuracy",
    ).fit(X, y)
    assert search.n_resources_ == [1, 3, 9]
    assert search.n_candidates_ == [9, 3, 1]
    res = search.cv_results_
    splits = list(cv.split(X, y))
    for row, params in enumerate(res["params"]):
        budget = int(res["n_resources"][row])
        for k, (train, _) in enumerate(splits):
            straight = MLPClassifier((8,), solver=solver, dropout=0.1, batch_size=32,
                                     random_state=0).set_params(**params, max_iter=budget)
            straight.fit(X, y, sample_index=train)
            assert res[f"split{k}_test_crc"][row] == _crc(straight, None, None), (row, k)
    # the survivor of the last round went 1 -> 3 -> 9 epochs by continuation
    last = np.flatnonzero(res["iter"] == 2)
    assert len(last) == 1
    # and the refit trains the best straight to the final budget
    best = search.best_estimator_
    assert best.n_iter_ == 9
    straight = MLPClassifier((8,), solver=solver, dropout=0.1, batch_size=32,
                             random_state=0).set_params(**search.best_params_, max_iter=9)
    straight.fit(X, y)
    for a, b in zip(best.coefs_, straight.coefs_):
        np.testing.assert_array_equal(a, b)


class _CountingMLP(MLPClassifier):
    """MLPClassifier that counts every epoch it trains (in-process searches only)."""

    epochs = 0

    def fit(self, X, y, sample_index=None):
        type(self).epochs += self.max_iter
        return super().fit(X, y, sample_index=sample_index)


def test_halving_matches_full_random_search_with_a_quarter_of_the_epochs():
    # Same 27 candidates; random search trains each 27 epochs on every split, halving
    # starts them at 1 epoch and continues the best third 1 -> 3 -> 9 -> 27. Over 4
    # seeds (measured test accuracy, full random vs halving: .950/.9575, .960/.9575,
    # .9575/.950, .9675/.965) the mean gap is 0.125 points; one seed alone can miss
    # by a test sample (0.25 point), so the contract is on the mean.
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, train_size=600, test_size=400, random_state=0, stratify=y
    )
    space = {
        "learning_rate_init": Float(3e-4, 3e-2, log=True),
        "alpha": Float(1e-6, 1e-1, log=True),
        "hidden_layer_sizes": Int(8, 32),
    }
    mlp = _CountingMLP((16,), max_iter=27, batch_size=32, random_state=0)
    gaps = []
    for seed in range(4):
        _CountingMLP.epochs = 0
        full = RandomSearchCV(mlp, space, n_iter=27, cv=3, random_state=seed).fit(
            X_train, y_train
        )
        full_epochs, _CountingMLP.epochs = _CountingMLP.epochs, 0
        halving = HalvingSearchCV(mlp, space, n_candidates=27, cv=3, random_state=seed).fit(
            X_train, y_train
        )
        halving_epochs = _CountingMLP.epochs
        # same candidates
        assert sorted(map(repr, full.cv_results_["params"])) == sorted(
            map(repr, halving.cv_results_["params"][:27])
        )
        # 27 candidates x 3 splits x 27 epochs + the refit's 27
        assert full_epochs == 27 * 3 * 27 + 27
        # (27 x 1 + 9 x 2 + 3 x 6 + 1 x 18) x 3 splits + refit 27 = 270
        assert halving_epochs == (27 + 9 * 2 + 3 * 6 + 18) * 3 + 27
        assert halving_epochs <= full_epochs / 4
        gaps.append(
            halving.best_estimator_.score(X_test, y_test)
            - full.best_estimator_.score(X_test, y_test)
        )
    assert np.mean(gaps) >= -0.005, gaps


def test_results_layout_and_attributes(digits):
    X, y = digits
    mlp = MLPClassifier((8,), max_iter=9, random_state=0)
    search = HalvingSearchCV(
        mlp, SPACE, n_candidates=10, cv=3, random_state=0,
        scoring=["accuracy", "balanced_accuracy"], refit="balanced_accuracy",
        return_train_score=True,
    ).fit(X, y)
    res = search.cv_results_
    assert search.n_candidates_ == [10, 4, 2]
    assert search.n_resources_ == [1, 3, 9]
    assert search.n_iterations_ == 3
    assert search.n_required_iterations_ == 3
    assert search.n_possible_iterations_ == 3
    assert search.min_resources_ == 1 and search.max_resources_ == 9
    assert search.n_remaining_candidates_ == 1
    assert list(res["iter"]) == [0] * 10 + [1] * 4 + [2] * 2
    assert list(res["n_resources"]) == [1] * 10 + [3] * 4 + [9] * 2
    assert [r["max_iter"] for r in res["resources"]] == list(res["n_resources"])
    for key in ("mean_test_accuracy", "rank_test_balanced_accuracy",
                "split2_train_accuracy", "param_alpha", "params"):
        assert len(res[key]) == 16
    # best: the best of the last round on the refit metric
    last = np.flatnonzero(res["iter"] == 2)
    scores = res["mean_test_balanced_accuracy"][last]
    assert search.best_index_ == last[np.argmax(scores)]
    assert search.best_score_ == scores.max()
    assert search.best_estimator_.max_iter == 9
    # survivors of a round are its best 1/factor
    first = res["mean_test_balanced_accuracy"][:10]
    kept = [res["params"][i] for i in top_k(first, 4)]
    assert [res["params"][i] for i in range(10, 14)] == kept


def test_top_k_nan_is_worst_and_ties_keep_order():
    assert top_k(np.array([0.5, np.nan, 0.9, 0.5]), 2) == [0, 2]
    assert top_k(np.array([np.nan, np.nan]), 1) == [0]
    assert top_k(np.array([0.1, 0.2]), 0) == [1]


def test_rungs_are_intermediate_values_and_eliminated_trials_are_pruned(digits):
    X, y = digits
    search = HalvingSearchCV(
        MLPClassifier((8,), max_iter=9, random_state=0), SPACE, n_candidates=9, cv=2,
        random_state=0,
    ).fit(X, y)
    trials = search.study_.get_trials()
    assert len(trials) == 9
    states = [t.state for t in trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == 8
    assert states.count(optuna.trial.TrialState.COMPLETE) == 1
    steps = sorted(len(t.intermediate_values) for t in trials)
    assert steps == [1] * 6 + [2] * 2 + [3]
    best = next(t for t in trials if t.state == optuna.trial.TrialState.COMPLETE)
    assert set(best.intermediate_values) == {1, 3, 9}
    assert best.value == pytest.approx(search.best_score_)


def test_pipeline_last_step_continues(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=9, random_state=0))
    space = {"mlpclassifier__learning_rate_init": Float(1e-3, 1e-1, log=True)}
    search = HalvingSearchCV(
        pipe, space, n_candidates=9, cv=2, random_state=0,
        scoring={"accuracy": "accuracy", "crc": _crc}, refit="accuracy",
    ).fit(X, y)
    res = search.cv_results_
    assert res["resources"][0] == {"mlpclassifier__max_iter": 1}
    row = int(np.flatnonzero(res["iter"] == 2)[0])
    train, _ = next(StratifiedKFold(2).split(X, y))
    straight = make_pipeline(StandardScaler(), MLPClassifier((8,), random_state=0))
    straight.set_params(**res["params"][row], mlpclassifier__max_iter=9)
    straight.fit(X[train], y[train])
    assert res["split0_test_crc"][row] == _crc(straight, None, None)


def test_n_samples_resource_schedule_matches_sklearn():
    X, y = load_iris(return_X_y=True)
    space = {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 0.3, 3.0, 30.0]}
    ours = HalvingSearchCV(
        RidgeClassifier(), space, n_candidates=8, resource="n_samples",
        cv=KFold(3, shuffle=True, random_state=0), random_state=0,
    ).fit(X, y)
    theirs = HalvingRandomSearchCV(
        RidgeClassifier(), space, n_candidates=8,
        cv=KFold(3, shuffle=True, random_state=0), random_state=0,
    ).fit(X, y)
    for attr in ("n_candidates_", "n_resources_", "n_iterations_", "min_resources_",
                 "max_resources_", "n_required_iterations_", "n_possible_iterations_"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.cv_results_["resources"][0] == {"n_samples": ours.n_resources_[0]}
    assert ours.best_estimator_.alpha in space["alpha"]


def test_integer_parameter_resource_refits():
    X, y = load_iris(return_X_y=True)
    search = HalvingSearchCV(
        RandomForestClassifier(max_depth=2, random_state=0),
        {"max_features": [1, 2, 3, 4], "min_samples_leaf": [1, 5]},
        n_candidates="grid", resource="n_estimators", max_resources=9, cv=3,
        random_state=0,
    ).fit(X, y)
    assert search.n_candidates_ == [8, 3]
    assert search.n_resources_ == [1, 3]
    assert search.cv_results_["resources"][-1] == {"n_estimators": 3}
    assert search.best_estimator_.n_estimators == 3


def test_same_results_for_n_jobs_1_and_2(digits):
    X, y = digits
    kwargs = dict(n_candidates=6, cv=2, random_state=0)
    mlp = MLPClassifier((8,), max_iter=6)  # random_state None: seeded by the search
    one = HalvingSearchCV(mlp, SPACE, n_jobs=1, **kwargs).fit(X, y)
    two = HalvingSearchCV(mlp, SPACE, n_jobs=2, **kwargs).fit(X, y)
    assert one.cv_results_["params"] == two.cv_results_["params"]
    np.testing.assert_array_equal(one.cv_results_["mean_test_score"],
                                  two.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(one.best_estimator_.coefs_[0], two.best_estimator_.coefs_[0])


def test_grid_candidates(digits):
    X, y = digits
    search = HalvingSearchCV(
        MLPClassifier((8,), max_iter=4, random_state=0),
        {"activation": Categorical(["relu", "tanh"]), "alpha": [1e-4, 1e-2]},
        n_candidates="grid", factor=2, cv=2,
    ).fit(X, y)
    assert search.n_candidates_ == [4, 2, 1]
    assert search.n_resources_ == [1, 2, 4]


# -- Hyperband ------------------------------------------------------------------------


def test_hyperband_brackets_continue_and_pick_from_full_budget(digits):
    X, y = digits
    search = HyperbandSearchCV(
        MLPClassifier((8,), max_iter=9, random_state=0), SPACE, cv=2, random_state=0,
        scoring={"accuracy": "accuracy", "crc": _crc}, refit="accuracy",
    ).fit(X, y)
    assert search.brackets_ == [
        {"s": 2, "n_candidates": [9, 3, 1], "n_resources": [1, 3, 9]},
        {"s": 1, "n_candidates": [5, 1], "n_resources": [3, 9]},
        {"s": 0, "n_candidates": [3], "n_resources": [9]},
    ]
    res = search.cv_results_
    assert len(res["params"]) == 9 + 3 + 1 + 5 + 1 + 3
    assert list(res["bracket"]) == [2] * 13 + [1] * 6 + [0] * 3
    assert search.n_iterations_ == 6
    full = np.flatnonzero(res["n_resources"] == 9)
    assert search.best_index_ == full[np.argmax(res["mean_test_accuracy"][full])]
    # continued rows are bit-identical to straight training
    train, _ = next(StratifiedKFold(2).split(X, y))
    for row in np.flatnonzero(res["n_resources"] == 9):
        straight = MLPClassifier((8,), random_state=0).set_params(
            **res["params"][row], max_iter=9
        ).fit(X, y, sample_index=train)
        assert res["split0_test_crc"][row] == _crc(straight, None, None)
    states = [t.state.name for t in search.study_.get_trials()]
    assert states.count("COMPLETE") == 1 + 1 + 3
    assert states.count("PRUNED") == 8 + 4


# -- bad inputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator, kwargs, error, message",
    [
        (MLPClassifier(max_iter=9), dict(resource="flops"), ValueError,
         "The 'resource' parameter of HalvingSearchCV must be 'epochs', 'n_samples' or "
         "the name of an integer parameter of MLPClassifier. Got 'flops' instead."),
        (DecisionTreeClassifier(), dict(resource="epochs"), ValueError,
         "The 'resource' parameter of HalvingSearchCV is 'epochs', which needs an "
         "estimator with a 'max_iter' parameter (itself or the last step of a Pipeline); "
         "DecisionTreeClassifier has none."),
        (MLPClassifier(max_iter=9), dict(factor=1), ValueError,
         "The 'factor' parameter of HalvingSearchCV must be a float in the range "
         "(1.0, inf). Got 1 instead."),
        (MLPClassifier(max_iter=9), dict(n_candidates=0), ValueError,
         "The 'n_candidates' parameter of HalvingSearchCV must be"),
        (MLPClassifier(max_iter=9), dict(min_resources=10, n_candidates=2), ValueError,
         "min_resources_=10 is greater than max_resources_=9."),
        (MLPClassifier(max_iter=9), dict(n_candidates="exhaust", min_resources="exhaust"),
         ValueError, "n_candidates and min_resources cannot be both set to 'exhaust'."),
        (RandomForestClassifier(), dict(resource="max_depth", n_candidates=2), ValueError,
         "max_resources='auto' needs an integer value of 'max_depth' on the estimator"),
    ],
)
def test_bad_inputs(digits, estimator, kwargs, error, message):
    X, y = digits
    with pytest.raises(error, match=re.escape(message)):
        HalvingSearchCV(estimator, {"alpha": [1e-4, 1e-3]} if "resource" not in kwargs
                        or kwargs["resource"] != "max_depth" else {"min_samples_leaf": [1, 2]},
                        cv=2, **kwargs).fit(X, y)


def test_resource_in_the_space_is_refused(digits):
    X, y = digits
    with pytest.raises(ValueError, match=re.escape(
        "Cannot use parameter max_iter as the resource since it is part of the searched "
        "parameters."
    )):
        HalvingSearchCV(MLPClassifier(max_iter=9), {"max_iter": [3, 9]}, n_candidates="grid",
                        cv=2).fit(X, y)
    with pytest.raises(ValueError, match="Cannot use parameter max_iter as the resource"):
        HyperbandSearchCV(MLPClassifier(max_iter=9), {"max_iter": [3, 9]}, cv=2).fit(X, y)


def test_hyperband_bad_inputs(digits):
    X, y = digits
    with pytest.raises(ValueError, match=re.escape(
        "min_resources_=20 is greater than max_resources_=9."
    )):
        HyperbandSearchCV(MLPClassifier(max_iter=9), SPACE, min_resources=20, cv=2).fit(X, y)
    with pytest.raises(ValueError, match=re.escape(
        "The 'min_resources' parameter of HyperbandSearchCV must be"
    )):
        HyperbandSearchCV(MLPClassifier(max_iter=9), SPACE, min_resources="exhaust",
                          cv=2).fit(X, y)


def test_no_warning_noise_from_the_search_itself(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        HalvingSearchCV(MLPClassifier((8,), max_iter=3, random_state=0), SPACE,
                        n_candidates=3, cv=2, random_state=0).fit(X, y)


def test_resume_reuses_every_rung(tmp_path, digits):
    X, y = digits
    mlp = _CountingMLP((8,), max_iter=9, random_state=0)
    kwargs = dict(n_candidates=9, cv=2, random_state=0, storage=str(tmp_path / "h.db"),
                  study_name="halving", refit=False)
    _CountingMLP.epochs = 0
    first = HalvingSearchCV(mlp, SPACE, **kwargs).fit(X, y)
    assert _CountingMLP.epochs == (9 * 1 + 3 * 2 + 1 * 6) * 2
    _CountingMLP.epochs = 0
    again = HalvingSearchCV(mlp, SPACE, resume=True, **kwargs).fit(X, y)
    assert _CountingMLP.epochs == 0
    assert again.cv_results_["params"] == first.cv_results_["params"]
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"],
                                  first.cv_results_["mean_test_score"])
    assert len(again.study_.trials) == 9
