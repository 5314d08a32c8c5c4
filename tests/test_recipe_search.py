"""RecipeSearchCV: the lecture's recipe (LECTURE.md §4) as a search, on small constructed cases."""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import load_digits

from hpsearch import MLPClassifier, RecipeSearchCV
from hpsearch.model_selection.strategies.recipe import least_regularizing
from hpsearch.space import Categorical, Float, Int


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:450] / 16.0, y[:450]


def mlp(**params):
    return MLPClassifier(**{"hidden_layer_sizes": (16,), "max_iter": 12, **params})


def fit(search, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y)


SPACE = {
    "learning_rate_init": [1e-5, 1e-2, 5e-2],            # the tiny rate does not train
    "activation": ["relu", "sigmoid"],
    "alpha": Float(1e-6, 1.0, log=True),
    "dropout": Categorical([0.0, 0.2, 0.8]),              # 0.8 hurts training
}


@pytest.fixture(scope="module")
def search(digits):
    return fit(RecipeSearchCV(mlp(), SPACE, n_iter=6, cv=3, random_state=0,
                              return_train_score=True), *digits)


def test_stage_one_holds_the_generalization_side_least_regularizing(search):
    res = search.cv_results_
    first = [p for p, s in zip(res["params"], res["stage"]) if s == "training"]
    assert first and all(p["alpha"] == 1e-6 and p["dropout"] == 0.0 for p in first)
    assert search.stages_[0]["tuned"] == ["activation", "learning_rate_init"]
    assert search.stages_[0]["fixed"] == {"alpha": 1e-6, "dropout": 0.0}


def test_stage_one_ends_when_training_is_good_and_stage_two_fixes_its_pick(search):
    one, two = search.stages_
    assert one["trains_well"] and one["reason"].startswith("training is good")
    assert one["train_score"] >= search.train_floor_
    res = search.cv_results_
    second = [p for p, s in zip(res["params"], res["stage"]) if s == "generalization"]
    assert len(second) >= 6  # its own n_iter (+ what stage 1 left, minus duplicates)
    for p in second:
        assert {k: p[k] for k in two["fixed"]} == {
            k: one["best_params"][k] for k in ("learning_rate_init", "activation")}
    assert one["n_candidates"] + two["n_candidates"] == 12
    assert two["reason"].startswith("budget of")


def test_candidates_that_stop_training_well_are_rejected(search):
    res = search.cv_results_
    train, floor = res["mean_train_score"], search.train_floor_
    np.testing.assert_array_equal(res["accepted"], train >= floor)
    second = np.asarray(res["stage"]) == "generalization"
    assert not res["accepted"][second].all()  # e.g. dropout=0.8 no longer trains well
    assert res["accepted"][search.best_index_]
    accepted = np.flatnonzero(res["accepted"])
    assert search.best_score_ == res["mean_test_score"][accepted].max()
    assert res["rank_test_score"][search.best_index_] == 1
    assert set(res["diagnosis"]) <= {"training", "overfitting", "none", "failed"}


def test_a_training_budget_that_never_trains_well_says_so(digits):
    space = {"learning_rate_init": Float(1e-6, 1e-5, log=True), "alpha": [1e-4, 1e-2]}
    s = fit(RecipeSearchCV(mlp(max_iter=3), space, n_iter=3, cv=3, random_state=0), *digits)
    one, two = s.stages_
    assert not one["trains_well"] and "training still poor" in one["reason"]
    assert one["n_candidates"] == 6  # the generalization stage's budget went to training
    assert two["n_candidates"] == 0 and two["reason"].startswith("skipped: training never")
    assert set(s.cv_results_["stage"]) == {"training"}
    assert s.train_floor_ < one["train_score"]  # the floor follows the best it could do


def test_same_seed_same_candidates_for_any_n_jobs(digits):
    space = {"learning_rate_init": Float(1e-3, 1e-1, log=True), "alpha": Float(1e-6, 1e-1)}
    a, b = (fit(RecipeSearchCV(mlp(), space, n_iter=3, cv=3, random_state=3, n_jobs=n),
                *digits).cv_results_ for n in (1, 2))
    assert a["params"] == b["params"]
    np.testing.assert_array_equal(a["mean_test_score"], b["mean_test_score"])
    assert list(a["stage"]) == list(b["stage"])


def test_train_scores_are_shown_only_when_asked(digits):
    space = {"learning_rate_init": [1e-2, 1e-1], "alpha": [1e-5, 1e-1]}
    hidden = fit(RecipeSearchCV(mlp(), space, n_iter=2, cv=3, random_state=0), *digits)
    assert not [k for k in hidden.cv_results_ if "train_score" in k]
    assert hidden.return_train_score is False
    shown = fit(RecipeSearchCV(mlp(), space, n_iter=2, cv=3, random_state=0,
                               return_train_score=True), *digits)
    assert "mean_train_score" in shown.cv_results_


def test_recheck_retunes_training_with_the_chosen_generalization(digits):
    space = {"learning_rate_init": Float(1e-3, 1e-1, log=True), "alpha": Float(1e-6, 1e-1)}
    s = fit(RecipeSearchCV(mlp(), space, n_iter=2, cv=3, random_state=0, recheck=True),
            *digits)
    assert [e["stage"] for e in s.stages_] == ["training", "generalization", "recheck"]
    res = s.cv_results_
    third = [p for p, st in zip(res["params"], res["stage"]) if st == "recheck"]
    assert third and all(p["alpha"] == s.stages_[1]["best_params"]["alpha"] for p in third)


def test_conditions_across_sides_are_resolved_with_the_held_values(digits):
    space = {"learning_rate_init": [1e-2, 5e-2],
             "early_stopping": [False, True],
             "validation_fraction": Float(0.1, 0.3, when={"early_stopping": True})}
    s = fit(RecipeSearchCV(mlp(), space, n_iter=2, cv=3, random_state=0), *digits)
    for p, stage in zip(s.cv_results_["params"], s.cv_results_["stage"]):
        assert ("validation_fraction" in p) == p["early_stopping"]
        if stage == "training":
            assert p["early_stopping"] is False


@pytest.mark.parametrize("name, dim, expected", [
    ("alpha", Float(1e-5, 1.0, log=True), 1e-5),
    ("model__l1", Float(0.0, 0.1), 0.0),
    ("dropout", Categorical([0.5, None, 0.1]), None),
    ("early_stopping", Categorical([True, False]), False),
    ("n_iter_no_change", Int(2, 20), 20),
    # a max-norm bound constrains less the larger it is (None: no constraint); the smallest,
    # the strongest constraint, was held while the training side was tuned
    ("max_norm", Float(0.5, 5.0), 5.0),
    ("net__max_norm", Categorical([1.0, None, 3.0]), None),
    ("max_norm", Categorical([1.0, 3.0]), 3.0),
    # capacity (the lecture's "less capacity" fix) regularizes least at its largest: the
    # stumps and the narrowest net were held
    ("max_depth", Int(1, 20), 20),
    ("tree__max_depth", Categorical([3, None, 8]), None),
    ("hidden_layer_sizes", Categorical([(8,), (256,), (32, 32)]), (256,)),
], ids=["alpha", "pipeline-l1", "none-first", "no-early-stopping", "most-patience",
        "max-norm", "max-norm-none", "max-norm-categorical", "max-depth", "max-depth-none",
        "hidden-layer-sizes"])
def test_least_regularizing_values(name, dim, expected):
    assert least_regularizing(name, dim) == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"training_params": ["depth"]},
     r"The 'training_params' parameter of RecipeSearchCV must name parameters of "
     r"param_distributions \(\['alpha', 'learning_rate_init'\]\). Got 'depth' instead."),
    ({"training_params": ["alpha"], "generalization_params": ["alpha"]},
     r"must not share names. Got \['alpha'\] in both."),
    ({"sampler": "grid"}, r"The 'sampler' parameter of RecipeSearchCV must be a str among"),
    ({"n_iter": 0}, r"The 'n_iter' parameter of RecipeSearchCV must be an int in the range"),
    ({"thresholds": {"trian": 0.1}}, r"The 'thresholds' parameter got an unknown key 'trian'"),
], ids=["unknown-name", "both-sides", "sampler", "n_iter", "thresholds"])
def test_bad_inputs_name_the_parameter(kwargs, message, digits):
    space = {"learning_rate_init": [1e-2], "alpha": [1e-4]}
    with pytest.raises(ValueError, match=message):
        RecipeSearchCV(mlp(), space, cv=3, **kwargs).fit(*digits)


def _depth_scorer(estimator, X, y):
    """A scorer only a tree can compute: the references cannot be scored with it."""
    return -float(estimator.get_depth())


def test_a_scoring_the_references_cannot_use_is_an_error(digits):
    # without a finite reference the threshold was NaN: every candidate "trained well"
    # ("4 train at or above the recipe's threshold") and every label was "none"
    from sklearn.tree import DecisionTreeClassifier

    search = RecipeSearchCV(DecisionTreeClassifier(random_state=0),
                            {"max_depth": [1, 3], "min_samples_leaf": [1, 5]},
                            training_params=["max_depth"], n_iter=2, cv=3,
                            scoring=_depth_scorer, random_state=0)
    with pytest.raises(ValueError, match=r"The 'scoring' parameter of RecipeSearchCV must be "
                                         r"one that the recipe's trivial baseline .* it gave no "
                                         r"finite training 'score'"):
        fit(search, *digits)


def test_a_weighted_search_has_weighted_references():
    # fitted with sample_weight, the candidates' scores are weighted: the references the
    # recipe judges them against were fitted and scored unweighted (another metric)
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold

    from hpsearch.diagnostics import reference_scores

    X, y = load_breast_cancer(return_X_y=True)
    w = np.where(y == 0, 8.0, 1.0)           # the weighted majority is the minority class
    splits = list(StratifiedKFold(3).split(X, y))
    search = RecipeSearchCV(mlp(max_iter=3), {"learning_rate_init": [1e-3, 1e-2],
                                              "alpha": [1e-4, 1e-1]},
                            n_iter=1, cv=splits, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y, sample_weight=w)
        weighted = reference_scores(mlp(), X, y, cv=splits, sample_weight=w,
                                    score_params={"sample_weight": w})
        unweighted = reference_scores(mlp(), X, y, cv=splits)
    for refs in (search.references_, search.diagnosis_.references):
        assert refs.keys() == weighted.keys()
        for name in weighted:
            assert refs[name] == pytest.approx(weighted[name], rel=1e-12)
    # 8 x 212 malignant vs 357 benign rows: the prior baseline's weighted accuracy
    assert weighted["baseline"]["train_score"] == pytest.approx(1696 / 2053, abs=0.01)
    assert unweighted["baseline"]["train_score"] == pytest.approx(357 / 569, abs=0.01)


def test_the_diagnosis_column_follows_the_searchs_thresholds(digits):
    """The column is the stages' rule: with thresholds={"train": 5} every candidate that
    trains at all is accepted as training well, and the column must not call those same
    candidates 'training' (it used the default thresholds: 'training' next to accepted)."""
    from hpsearch.diagnostics import diagnose_results

    search = fit(RecipeSearchCV(mlp(), SPACE, n_iter=4, cv=3, random_state=0,
                                thresholds={"train": 5.0}, return_train_score=True), *digits)
    res = search.cv_results_
    own = diagnose_results(res, references=search.references_,
                           thresholds={"train": 5.0}).labels
    assert list(res["diagnosis"]) == own
    assert all(label != "training" for label, ok in zip(res["diagnosis"], res["accepted"]) if ok)
    assert search.diagnosis_.labels == own and search.diagnosis_.references is search.references_


@pytest.mark.parametrize("target, kind", [("continuous", "continuous"),
                                          ("object ints", "unknown")])
def test_classifier_on_a_bad_target_fails_as_in_sklearn(target, kind):
    # the references are scored before any candidate: a target no classifier can fit
    # made the baseline fail and the error blame 'scoring'; sklearn's searches report
    # the target ("Unknown label type: ..."), as every classifier does
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    y = rng.randn(30) if target == "continuous" else np.arange(30).astype(object) % 3
    message = f"Unknown label type: {kind}"
    with pytest.raises(ValueError, match=message):
        fit(GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2, error_score="raise"), X, y)
    with pytest.raises(ValueError, match=message):
        fit(RecipeSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, n_iter=2, cv=2,
                           random_state=0), X, y)


def test_data_the_baseline_cannot_fit_raises_its_own_error():
    # complex X: sklearn's "Complex data not supported" (check_complex_data), not an
    # error about 'scoring' (the baseline's training score was NaN)
    from sklearn.linear_model import Ridge

    rng = np.random.RandomState(0)  # check_complex_data's data
    X = (rng.uniform(size=10) + 1j * rng.uniform(size=10)).reshape(-1, 1)
    y = rng.randint(low=0, high=2, size=10) + 1j
    with pytest.raises(ValueError, match="Complex data not supported") as info:
        fit(RecipeSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, n_iter=1, cv=2, random_state=0,
                           error_score="raise"), X, y)
    assert "trivial baseline DummyRegressor()" in "".join(info.value.__notes__)


def test_an_overfitting_model_gets_its_regularization_tuned_with_a_small_n_iter():
    # an unpruned tree on 30 % flipped labels trains perfectly: overfitting. With n_iter=2
    # the training stage's first round (round_size=4) took the whole budget of both stages,
    # so max_depth was never tried ("skipped: no candidates left")
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(150, 20, n_informative=5, flip_y=0.3, random_state=0)
    search = fit(RecipeSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"criterion": ["gini", "entropy"], "max_depth": [None, 2, 4]},
        generalization_params=["max_depth"], n_iter=2, cv=3, random_state=0), X, y)
    one, two = search.stages_
    assert one["diagnosis"] == "overfitting" and one["n_candidates"] == 2
    assert two["n_candidates"] == 2 and not two["reason"].startswith("skipped")
    assert {p["max_depth"] for p in search.cv_results_["params"]} - {None}


def test_validation_scores_no_model_can_have_are_refused_before_fitting():
    # r2 of LeaveOneOut's one-sample folds is NaN for every model: the stages picked and
    # labelled candidates by a NaN validation score ("picked validation nan", every row
    # "failed"); diagnose() already refuses such a split
    from sklearn.model_selection import LeaveOneOut
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=12)
    search = RecipeSearchCV(DecisionTreeRegressor(), {"max_depth": [None, 2]}, n_iter=1,
                            cv=LeaveOneOut())
    with pytest.raises(ValueError, match=r"The 'cv' and 'scoring' parameters of RecipeSearch"
                                         r"CV must give every validation split a finite score"
                                         r".* of nan with cv=LeaveOneOut\(\)"):
        fit(search, X, y)
    assert not hasattr(search, "cv_results_")
    search.set_params(scoring="neg_mean_squared_error")  # defined on one sample: fine
    assert fit(search, X, y).stages_[0]["diagnosis"] == "overfitting"


def test_the_last_stages_pick_is_best_params_on_a_tied_validation_score():
    # max_depth 100 or 200 grows the same tree as None on 150 rows: every candidate scores
    # the same. best_index_ takes the earliest row (sklearn's rank), the stage its own first
    # candidate, so stages_[-1]["best_params"] and best_params_ named different candidates
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(150, 20, n_informative=5, flip_y=0.3, random_state=0)
    search = fit(RecipeSearchCV(
        DecisionTreeClassifier(random_state=0), {"max_depth": [None, 100, 200]},
        generalization_params=["max_depth"], n_iter=3, cv=3, random_state=0), X, y)
    res, last = search.cv_results_, search.stages_[-1]
    assert len(set(res["mean_test_score"])) == 1 and len(res["params"]) == 3
    assert last["best_params"] == search.best_params_ == {"max_depth": None}


def test_a_memorizing_tree_with_its_depth_on_the_generalization_side_is_overfitting():
    # max_depth was held at its smallest value (1: stumps) while the criterion was tuned, so
    # an unpruned tree on 30 % flipped labels was called a training problem and the depth
    # never tuned ("skipped: training never became good")
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(150, 20, n_informative=5, flip_y=0.3, random_state=0)
    search = fit(RecipeSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"criterion": ["gini", "entropy"], "max_depth": [1, 3, 20]},
        generalization_params=["max_depth"], n_iter=2, cv=3, random_state=0), X, y)
    one, two = search.stages_
    assert one["fixed"] == {"max_depth": 20} and one["trains_well"]
    assert one["diagnosis"] == "overfitting"
    assert not two["reason"].startswith("skipped")
    assert {p["max_depth"] for p in search.cv_results_["params"]} > {20}


def test_a_failed_candidate_is_no_measurement_whatever_the_error_score():
    # error_score=0 under neg_mean_squared_error gave the candidate whose every fit failed a
    # training and validation score of 0, the best possible: accepted, picked as best_index_
    # and refitted (raising); the diagnosis column already called it "failed"
    from sklearn.datasets import make_regression
    from sklearn.tree import DecisionTreeRegressor

    class Flaky(DecisionTreeRegressor):
        def fit(self, X, y, **kw):
            if self.splitter == "random":
                raise ValueError("this fit fails")
            return super().fit(X, y, **kw)

    X, y = make_regression(150, 5, noise=5, random_state=0)
    search = fit(RecipeSearchCV(
        Flaky(random_state=0), {"splitter": ["best", "random"], "max_depth": [None, 3]},
        generalization_params=["max_depth"], n_iter=2, cv=3, random_state=0,
        scoring="neg_mean_squared_error", error_score=0), X, y)
    res = search.cv_results_
    failed = [p["splitter"] == "random" for p in res["params"]]
    assert any(failed)
    assert not res["accepted"][failed].any()
    assert list(res["diagnosis"][failed]) == ["failed"] * sum(failed)
    assert search.best_params_["splitter"] == "best"
    assert all(s["best_params"]["splitter"] == "best" for s in search.stages_)


def test_a_later_stage_whose_pick_still_trains_poorly_says_so():
    # C held at its largest, 1e-5, still fits nothing but the majority class (92 %) while
    # the linear reference fits far better: a training problem. With no training-side
    # parameter the generalization stage still runs; its reason read like a success
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(300, 10, n_informative=3, weights=[0.92], random_state=1)
    search = fit(RecipeSearchCV(LogisticRegression(), {"C": Float(1e-6, 1e-5, log=True)},
                                n_iter=2, cv=3, random_state=0, scoring="balanced_accuracy"),
                 X, y)
    one, two = search.stages_
    assert one["diagnosis"] == two["diagnosis"] == "training"
    assert two["reason"].endswith("training still poor by the recipe's rule: a training "
                                  "problem, which the generalization side cannot fix")


def test_a_training_stage_whose_every_fit_failed_leaves_the_recipes_floor():
    # max_depth=None (held in the training stage, nothing else to tune there) fails every
    # fit: the floor was the failed pick's NaN training score less a margin, so no later
    # candidate was accepted however well it trained, and the stage's verdict read
    # "training" where the diagnosis column says "failed"
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    class FailsUnpruned(DecisionTreeClassifier):
        def fit(self, X, y, **kw):
            if self.max_depth is None:
                raise ValueError("this fit fails")
            return super().fit(X, y, **kw)

    X, y = make_classification(150, 20, n_informative=5, flip_y=0.3, random_state=0)
    search = fit(RecipeSearchCV(FailsUnpruned(random_state=0), {"max_depth": [None, 3, 6]},
                                generalization_params=["max_depth"], n_iter=3, cv=3,
                                random_state=0), X, y)
    one, two = search.stages_
    assert one["diagnosis"] == "failed" and np.isfinite(search.train_floor_)
    res = search.cv_results_
    assert res["accepted"].sum() == 2 and two["diagnosis"] == "overfitting"
    assert search.best_params_ == {"max_depth": 6} == two["best_params"]


class _Scripted(RegressorMixin, BaseEstimator):
    """Predicts ``mean + s (y - mean)`` on its training rows (train r2 exactly
    ``1 - (1 - s)^2``) and the mean elsewhere; ``s = share * (1 - alpha)``; ``X[:, 0]``
    holds row ids."""

    def __init__(self, share=0.5, alpha=0.0):
        self.share = share
        self.alpha = alpha

    def fit(self, X, y):
        self.seen_ = dict(zip(X[:, 0].tolist(), np.asarray(y).tolist()))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        s = self.share * (1 - self.alpha)
        return np.array([self.mean_ + s * (self.seen_[i] - self.mean_) if i in self.seen_
                         else self.mean_ for i in X[:, 0].tolist()])


def test_the_diagnosis_column_calls_training_poor_exactly_below_the_floor():
    # was: the floor F came from the training stage's best training score (0.96 r2 here),
    # the column from the best of all candidates (1.0, found by the recheck stage): a
    # larger unit, a lower threshold (0.806 vs F = 0.810), and the candidate training at
    # 0.808 was labelled as training well while the search rejected it
    rng = np.random.RandomState(0)
    X = np.c_[np.arange(120), rng.randn(120, 3)]
    y = X[:, 1:].sum(axis=1) + 0.6 * rng.randn(120)
    search = fit(RecipeSearchCV(_Scripted(), {"share": [0.8, 1.0], "alpha": [0.0, 0.2977]},
                                n_iter=2, round_size=1, cv=3, random_state=2, recheck=True,
                                return_train_score=True), X, y)
    res = search.cv_results_
    train = res["mean_train_score"]
    assert train.max() == 1.0 and search.stages_[0]["train_score"] == pytest.approx(0.96)
    between = (train >= 0.806) & (train < search.train_floor_)
    assert between.sum() == 1 and not res["accepted"][between].any()
    np.testing.assert_array_equal(res["diagnosis"] == "training", ~res["accepted"])
    assert search.diagnosis_.evidence["train_threshold"] == search.train_floor_
    for entry in search.stages_:  # each stage's pick: the column's verdict on its row
        label = res["diagnosis"][res["params"].index(entry["best_params"])]
        assert entry["diagnosis"] == label and entry["trains_well"] == (label != "training")


@pytest.mark.parametrize("rule", ["one_standard_error", "not_significantly_worse"])
def test_a_refit_rule_chooses_among_the_accepted_candidates(rule):
    # was: the rule ran before the search added its 'accepted' column, so it took the
    # best validation score of every row and refitted the simplest near it: a tree with 16
    # samples a leaf (training r2 0.68, below the floor 0.89) the recipe had rejected
    from sklearn.datasets import make_regression
    from sklearn.tree import DecisionTreeRegressor

    from hpsearch.model_selection import stats

    X, y = make_regression(120, 5, noise=10, random_state=0)
    refit = getattr(stats, rule)(lambda p: -p["min_samples_leaf"])
    search = fit(RecipeSearchCV(
        DecisionTreeRegressor(random_state=0),
        {"min_samples_leaf": [1, 2, 4, 8, 16], "max_depth": [2, 3, 4, 6, None]},
        generalization_params=["min_samples_leaf"], n_iter=4, cv=5, random_state=0,
        refit=refit), X, y)
    res = search.cv_results_
    assert not res["accepted"].all()
    assert res["accepted"][search.best_index_]
    assert search.best_params_["min_samples_leaf"] < 16


def test_a_study_reports_diagnosis_counts_the_searchs_own_labels(tmp_path):
    # was: the report's "Diagnosis" section recounted the labels with the default thresholds
    # (gap 0.1 units, not the search's 0.5) and the best of all candidates: no candidate
    # poor on training and a threshold of 0.806, next to a search that rejected one for
    # training below its floor, 0.810
    from types import SimpleNamespace

    from hpsearch.study.runner import _diagnosis

    rng = np.random.RandomState(0)
    X = np.c_[np.arange(120), rng.randn(120, 3)]
    y = X[:, 1:].sum(axis=1) + 0.6 * rng.randn(120)
    search = fit(RecipeSearchCV(_Scripted(), {"share": [0.8, 1.0], "alpha": [0.0, 0.2977]},
                                n_iter=2, round_size=1, cv=3, random_state=2, recheck=True,
                                thresholds={"gap": 0.5}, return_train_score=True), X, y)
    plan = SimpleNamespace(refit_metric=None, classifier=False, search=search,
                           X_train=X, y_train=y)
    text, _ = _diagnosis(plan, search, search.cv_results_, "score", tmp_path, None)
    n_poor = int((~search.cv_results_["accepted"]).sum())
    assert n_poor == 1 and "- 1 candidate(s) poor on their training folds" in text
    assert search.train_floor_ == pytest.approx(0.8100, abs=1e-4)
    assert "training r2 below 0.81 is poor" in text
    gap = 0.5 * search.diagnosis_.evidence["unit"]
    assert f"gap above {gap:.4g} is large" in text


def test_a_candidate_without_a_training_score_is_a_failed_trial_for_the_sampler():
    # was: validation - max(0.0, floor - nan) is the whole validation score (max(0.0, nan)
    # is 0.0): the sampler was told a candidate the search rejects was as good as measured
    search = RecipeSearchCV(mlp(), SPACE)
    search.train_floor_ = 0.9
    assert np.isnan(search._objective("generalization", np.nan, 0.95))
    assert search._objective("generalization", 0.85, 0.95) == pytest.approx(0.9)


def test_every_accepted_candidate_nan_falls_back_to_sklearns_rule():
    # was: when every accepted candidate had a NaN validation score, best_index_ was one of
    # them (best_row's first row), best_score_ NaN, rank_test_score ranked the NaN rows 1
    # and compare() compared against a best with no score; scikit-learn ranks NaN last
    # and, as when no candidate is accepted, the best finite validation score now wins
    from sklearn.datasets import make_regression
    from sklearn.metrics import r2_score
    from sklearn.tree import DecisionTreeRegressor

    from hpsearch.model_selection import compare

    def scorer(est, X, y):  # a deep tree's validation score is NaN (not its training one)
        if getattr(est, "max_depth", 0) is None and len(X) != est.tree_.n_node_samples[0]:
            return np.nan
        return r2_score(y, est.predict(X))

    X, y = make_regression(90, 4, noise=10, random_state=0)
    search = RecipeSearchCV(
        DecisionTreeRegressor(random_state=0),
        {"max_depth": [None, 1], "min_samples_leaf": [1, 2]},
        generalization_params=["min_samples_leaf"], n_iter=4, cv=3, random_state=0,
        scoring=scorer)
    with pytest.warns(UserWarning, match="Every candidate RecipeSearchCV accepted .* has a "
                                         "NaN validation 'score'"):
        search.fit(X, y)
    res = search.cv_results_
    accepted = res["accepted"]
    assert accepted.any() and np.isnan(res["mean_test_score"][accepted]).all()
    finite = np.flatnonzero(np.isfinite(res["mean_test_score"]))
    assert search.best_index_ == finite[np.argmax(res["mean_test_score"][finite])]
    assert np.isfinite(search.best_score_)
    assert res["rank_test_score"][search.best_index_] == 1
    assert (res["rank_test_score"][accepted] > 1).all()  # NaN last, as sklearn
    assert compare(search).index[0] == search.best_index_
    # several metrics, refit=False: each is ranked by its own rule, and the row a study
    # report takes as the best by "a" (the search's rule, study.runner._best_index) is
    # rank 1 of rank_test_a, the finite one (was: the accepted NaN rows ranked 1 by "a")
    search.set_params(scoring={"a": scorer, "b": "r2"}, refit=False)
    search.fit(X, y)
    res = search.cv_results_
    with pytest.warns(UserWarning, match="NaN validation 'a'"):
        best = search._select_best_index("a", "a", res)
    assert best == finite[np.argmax(res["mean_test_a"][finite])]
    assert res["rank_test_a"][best] == 1 and (res["rank_test_a"][res["accepted"]] > 1).all()


def test_no_training_score_is_not_called_poor_training():
    # a scorer that gives the candidates no number on their training folds: the stages said
    # "training still poor (best training score nan)" and "training never became good"
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    def scorer(est, X, y):  # NaN on the 80-row training folds, for the candidates only
        if len(y) > 60 and isinstance(est, DecisionTreeClassifier):
            return float("nan")
        return est.score(X, y)

    X, y = make_classification(120, 5, random_state=0)
    s = fit(RecipeSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]},
                           n_iter=2, cv=3, random_state=0, scoring=scorer), X, y)
    assert list(s.cv_results_["diagnosis"]) == ["failed"] * len(s.cv_results_["params"])
    first, second = (stage["reason"] for stage in s.stages_)
    assert "no candidate has a training score" in first and "poor" not in first
    assert second.startswith("skipped: no candidate of the training stage has a training "
                             "score")


def test_an_rbf_kernels_least_regularizing_gamma_is_its_largest():
    # a larger gamma fits the training rows closer: the training stage held an SVC's gamma
    # (named a generalization parameter) at its smallest, most regularizing, value
    assert least_regularizing("svc__gamma", Categorical([0.01, 1.0, 10.0])) == 10.0
    assert least_regularizing("gamma", Float(1e-3, 1.0, log=True)) == 1.0
    # a boosting stage on all rows (subsample=1) regularizes least, not on half of them
    assert least_regularizing("gb__subsample", Float(0.5, 1.0)) == 1.0
    assert least_regularizing("max_samples", Categorical([0.5, 0.8, None])) is None


def test_a_default_generalization_name_given_as_training_param_is_no_conflict():
    # training_params=["C"] with generalization_params=None: C is also a default
    # generalization name, and the search refused "The 'training_params' and
    # 'generalization_params' parameters of RecipeSearchCV must not share names" for a
    # generalization_params the user never gave
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(60, 4, random_state=0)
    s = fit(RecipeSearchCV(LogisticRegression(), {"C": [0.01, 1.0], "tol": [1e-4, 1e-3]},
                           training_params=["C"], n_iter=2, cv=3, random_state=0), X, y)
    assert s.stages_[0]["tuned"] == ["C", "tol"]


def test_nothing_to_tune_and_no_training_score_is_not_called_poor_training():
    # the training stage had nothing to tune (max_depth on the generalization side) and
    # its fixed candidate no training score: it read "no training-side parameter to tune:
    # the fixed candidate was evaluated" (as for a good stage) and the next stage "training
    # still poor by the recipe's rule", a measurement never made
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    def scorer(est, X, y):  # NaN on the 80-row training folds, for the candidates only
        if len(y) > 60 and isinstance(est, DecisionTreeClassifier):
            return float("nan")
        return est.score(X, y)

    X, y = make_classification(120, 5, random_state=0)
    s = fit(RecipeSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]},
                           generalization_params=["max_depth"], n_iter=2, cv=3,
                           random_state=0, scoring=scorer), X, y)
    first, second = (stage["reason"] for stage in s.stages_)
    assert first.startswith("no training-side parameter to tune: the fixed candidate was "
                            "evaluated, and no candidate has a training score")
    assert "poor" not in second
    assert second.endswith("it has no training score (its fits or the scorer failed on the "
                           "training folds), so whether it trains well is not known")
