"""The lecture's recipe (LECTURE.md §4) as a tool: constructed cases with known answers."""

import json
import math

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, make_classification, make_regression
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import hpsearch
from hpsearch import Diagnosis, MLPClassifier, diagnose
from hpsearch.diagnostics import CAUSES, FIXES, THRESHOLDS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    """750 standardized digits: small enough that every diagnosis takes well under a second."""
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X)[:750], y[:750]


@pytest.fixture(scope="module")
def noisy():
    """200 rows, 20 features, 20 % flipped labels: a wide unregularized net memorizes it."""
    return make_classification(n_samples=200, n_features=20, n_informative=5, flip_y=0.2,
                               random_state=0)


def deep_sigmoid_tiny_init():
    return MLPClassifier((32,) * 5, activation="sigmoid", init="normal", solver="sgd", momentum=0.0,
                         learning_rate_init=0.1, max_iter=30, random_state=0)


def huge_learning_rate():
    return MLPClassifier((64,), solver="sgd", momentum=0.0, learning_rate_init=5.0, max_iter=30, random_state=0)


def tiny_learning_rate():
    return MLPClassifier((64,), learning_rate_init=1e-4, max_iter=30, random_state=0)


def two_epochs():
    return MLPClassifier((64,), max_iter=2, random_state=0)


def good_mlp():
    return MLPClassifier((64,), max_iter=60, random_state=0)


def wide_unregularized():
    # He initialization (hpsearch's default before issue 10 made init="auto" scikit-learn's
    # Glorot uniform): the constructed early-stopping collapse below depends on it
    return MLPClassifier((256,), alpha=0.0, max_iter=300, init="he", random_state=0)


# (estimator factory, data fixture, problem, the cause that must be first, the first fix)
CASES = {
    "deep_sigmoid_tiny_init": (deep_sigmoid_tiny_init, "digits", "training",
                               "vanishing_gradients", {"activation": "relu", "init": "he"}),
    "huge_learning_rate": (huge_learning_rate, "digits", "training", "unstable",
                           {"learning_rate_init": 0.5}),
    "tiny_learning_rate": (tiny_learning_rate, "digits", "training", "not_converged",
                           {"learning_rate_init": 1e-3}),
    "two_epochs": (two_epochs, "digits", "training", "not_converged", {"max_iter": 200}),
    "heavy_dropout": (lambda: MLPClassifier((64,), dropout=0.6, input_dropout=0.5, max_iter=30,
                                            random_state=0),
                      "digits", "training", "over_regularized",
                      {"dropout": 0.0, "input_dropout": 0.0}),
    "bottleneck": (lambda: MLPClassifier((4,), activation="tanh", max_iter=100, random_state=0),
                   "digits", "training", "not_converged", {"learning_rate_init": 0.01}),
    # adam at 100x its default step saturates the sigmoids: the loss sits at log(10) while the
    # gradients no longer vanish; a wide net and a linear model that fits: stuck, not too small
    "saturated_adam": (lambda: deep_sigmoid_tiny_init().set_params(solver="adam"), "digits",
                       "training", "stuck", {"activation": "relu", "init": "he"}),
    "wide_unregularized_mlp": (wide_unregularized, "noisy", "overfitting", "large_gap",
                               {"early_stopping": True}),
    "one_nearest_neighbour": (lambda: KNeighborsClassifier(1), "noisy", "overfitting",
                              "large_gap", {"n_neighbors": 5}),
    "unpruned_tree": (lambda: DecisionTreeClassifier(random_state=0), "noisy", "overfitting",
                      "large_gap", {"max_depth": 4}),
    "good_mlp": (good_mlp, "digits", "none", None, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_constructed_case_is_diagnosed(name, request):
    make, data, problem, first_cause, first_fix = CASES[name]
    X, y = request.getfixturevalue(data)
    d = diagnose(make(), X, y, random_state=0)
    assert isinstance(d, Diagnosis)
    assert d.problem == problem, str(d)
    assert set(d.causes) <= set(CAUSES)
    if first_cause is None:
        assert d.causes == [] and d.fixes == []
    else:
        assert d.causes[0] == first_cause, str(d)
        assert d.fixes[0] == first_fix, str(d)
    # every fix is a valid parameter change of the estimator
    for fix in d.fixes:
        make().set_params(**fix)


def test_bottleneck_is_too_small(digits):
    X, y = digits
    d = diagnose(CASES["bottleneck"][0](), X, y, random_state=0)
    assert "too_small" in d.causes
    assert {"hidden_layer_sizes": (20,)} in d.fixes
    assert "narrower than the 10 outputs" in str(d)


def test_vanishing_gradients_evidence(digits):
    X, y = digits
    d = diagnose(deep_sigmoid_tiny_init(), X, y, random_state=0)
    ratios = d.evidence["gradient_ratios"]
    assert len(ratios) == 6 and ratios[-1] == pytest.approx(1.0)
    assert ratios[0] < 1e-6                         # many orders of magnitude
    assert np.all(np.diff(np.log(ratios)) > 0)      # shrinking layer by layer towards the input
    # the deep sigmoid from the lecture test (Glorot init) vanishes too, less dramatically
    glorot = MLPClassifier((32,) * 6, activation="sigmoid", init="glorot", solver="momentum",
                           learning_rate_init=0.01, max_iter=20, random_state=0)
    d2 = diagnose(glorot, X, y, random_state=0)
    assert d2.problem == "training" and d2.causes[0] == "vanishing_gradients"
    # a healthy ReLU net is far from the threshold
    ok = diagnose(good_mlp(), X, y, random_state=0).evidence["gradient_ratios"]
    assert ok[0] > 10 * THRESHOLDS["vanishing"]


def test_training_diverged_is_unstable(digits):
    X, y = digits
    est = MLPClassifier((64,), solver="sgd", momentum=0.0, learning_rate_init=100.0, max_iter=30, random_state=0)
    d = diagnose(est, X, y, random_state=0)
    assert d.problem == "training" and d.causes[0] == "unstable"
    assert d.evidence["diverged"].startswith("The training loss became")
    assert math.isnan(d.evidence["train_score"])
    assert "diverged" in str(d)


def test_sklearn_mlp_whose_weights_diverged_is_unstable_not_an_error():
    # scikit-learn's MLP raises ValueError("Solver produced non-finite parameter weights")
    # after a diverged fit: diagnose raised it instead of calling the learning rate too high
    X, y = make_regression(n_samples=120, n_features=5, noise=10, random_state=0)
    est = make_pipeline(StandardScaler(), SkMLPRegressor(
        hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=10.0, max_iter=20,
        random_state=0))
    d = diagnose(est, X, y, random_state=0)
    assert d.problem == "training" and d.causes[0] == "unstable"
    assert d.fixes[0] == {"mlpregressor__learning_rate_init": 1.0}
    assert "non-finite" in d.evidence["diverged"] and math.isnan(d.evidence["train_score"])
    assert "is not a number (the fit diverged)" in str(d) and "nan, below" not in str(d)


def test_a_value_error_of_a_fit_that_did_not_diverge_propagates(noisy):
    X, y = noisy
    with pytest.raises(ValueError, match="max_depth"):
        diagnose(DecisionTreeClassifier(max_depth=-1), X, y, random_state=0)


@pytest.mark.parametrize("name", ["deep_sigmoid_tiny_init", "huge_learning_rate",
                                  "tiny_learning_rate", "two_epochs", "heavy_dropout",
                                  "bottleneck"])
def test_first_fix_removes_the_training_problem(name, request):
    make, data, *_ = CASES[name]
    X, y = request.getfixturevalue(data)
    d = diagnose(make(), X, y, random_state=0)
    after = diagnose(d.apply(make()), X, y, random_state=0)
    if name == "bottleneck":
        # With scikit-learn's initialization (issue 10) the fixed 4-unit net trains well
        # (0.970 >= 0.910) and the recipe moves on to the generalization side (gap 0.097
        # > 0.090): the training problem is gone, the next step is the lecture's next one.
        assert after.problem == "overfitting" and after.evidence["train_score"] >= \
            after.evidence["train_threshold"], str(after)
        return
    assert after.problem == "none", str(after)


def test_generic_good_model_is_none():
    # logistic regression on breast cancer: training good and the gap small -> no problem
    X, y = load_breast_cancer(return_X_y=True)
    d = diagnose(LogisticRegression(max_iter=2000), StandardScaler().fit_transform(X), y,
                 random_state=0)
    assert d.problem == "none" and d.fixes == []
    assert d.evidence["gap"] <= d.evidence["gap_threshold"]


def test_thresholds_follow_the_documented_rule(digits):
    X, y = digits
    e = diagnose(good_mlp(), X, y, random_state=0).evidence
    reference = max(e["baseline_train"], e["linear_train"])
    unit = max(reference, e["train_score"]) - e["baseline_train"]
    assert e["unit"] == pytest.approx(unit)
    assert e["train_threshold"] == pytest.approx(reference - THRESHOLDS["train"] * unit)
    assert e["gap_threshold"] == pytest.approx(THRESHOLDS["gap"] * unit)
    assert e["gap"] == pytest.approx(e["train_score"] - e["validation_score"])
    # digits: baseline ~0.1, logistic regression fits its training rows perfectly
    assert 0.08 < e["baseline_train"] < 0.12 and e["linear_train"] == 1.0
    assert e["n_train"] == 600 and e["n_validation"] == 150


def test_thresholds_can_be_overridden(noisy):
    X, y = noisy
    strict = diagnose(KNeighborsClassifier(1), X, y, random_state=0, thresholds={"gap": 10.0})
    assert strict.problem == "none"


def test_deterministic(digits):
    X, y = digits
    a = diagnose(deep_sigmoid_tiny_init(), X, y, random_state=0)
    b = diagnose(deep_sigmoid_tiny_init(), X, y, random_state=0)
    assert a == b and str(a) == str(b)


def test_str_reads_as_a_paragraph(digits, noisy):
    X, y = digits
    text = str(diagnose(deep_sigmoid_tiny_init(), X, y, random_state=0))
    assert text.startswith("Training problem: the training score is 0.")
    assert "dropout and regularization will not help" in text
    assert "vanishing gradients (the first layer's RMS gradient is" in text
    assert "Try, in order: activation='relu', init='he';" in text
    assert "\n" not in text
    text = str(diagnose(KNeighborsClassifier(1), *noisy, random_state=0))
    assert text.startswith("Overfitting: the training score 1.000 is good")
    assert "Try, in order: n_neighbors=5" in text
    text = str(diagnose(good_mlp(), X, y, random_state=0))
    assert text.startswith("No problem:") and "Try" not in text


def test_pipeline_fixes_are_prefixed(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), deep_sigmoid_tiny_init())
    d = diagnose(pipe, X, y, random_state=0)
    assert d.problem == "training" and d.causes[0] == "vanishing_gradients"
    assert d.fixes[0] == {"mlpclassifier__activation": "relu", "mlpclassifier__init": "he"}
    assert d.apply(pipe)[-1].activation == "relu"
    assert d.evidence["linear_train"] == 1.0     # the reference reuses the pipeline's scaler


def test_sklearn_mlp_uses_its_loss_curve(digits):
    X, y = digits
    d = diagnose(SkMLPClassifier((64,), max_iter=2, random_state=0), X, y, random_state=0)
    assert d.problem == "training" and d.causes == ["not_converged"]
    assert d.evidence["gradient_ratios"] is None    # sklearn records no gradient norms
    assert d.fixes[0] == {"max_iter": 200}


def test_generic_estimator_convergence_warning(digits):
    X, y = digits
    d = diagnose(LogisticRegression(max_iter=1), X, y, random_state=0)
    assert d.evidence["convergence_warning"] is True
    assert d.problem == "training" and "not_converged" in d.causes
    assert {"max_iter": 200} in d.fixes


def test_regressors():
    X, y = make_regression(n_samples=200, n_features=10, noise=10, random_state=0)
    assert diagnose(Ridge(), X, y, random_state=0).problem == "none"
    tree = diagnose(DecisionTreeRegressor(random_state=0), X, y, random_state=0)
    assert tree.problem == "overfitting" and tree.fixes[0] == {"max_depth": 6}
    assert tree.evidence["baseline_train"] == pytest.approx(0.0)   # R² of the mean


def test_explicit_validation_set(noisy):
    X, y = noisy
    d = diagnose(KNeighborsClassifier(1), X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    assert d.evidence["n_train"] == 150 and d.evidence["n_validation"] == 50
    assert d.problem == "overfitting"


def test_scoring_and_references(noisy):
    X, y = noisy
    d = diagnose(KNeighborsClassifier(1), X, y, random_state=0, scoring="balanced_accuracy",
                 references={"linear": None})
    assert d.evidence["scoring"] == "balanced_accuracy"
    assert math.isnan(d.evidence["linear_train"])
    assert d.evidence["baseline_train"] == pytest.approx(0.5)
    assert d.problem == "overfitting"


def test_to_dict_is_json(digits):
    X, y = digits
    d = diagnose(two_epochs(), X, y, random_state=0)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["problem"] == "training" and data["fixes"][0] == {"max_iter": 200}


def test_exported_and_documented():
    assert hpsearch.diagnose is diagnose and hpsearch.Diagnosis is Diagnosis
    assert set(FIXES) == set(CAUSES)
    for name in ("vanishing_gradients", "not_converged", "unstable", "too_small", "large_gap"):
        assert name in CAUSES and name in diagnose.__doc__


@pytest.mark.parametrize("kwargs, message", [
    ({"validation_fraction": 1.5}, "The 'validation_fraction' parameter of diagnose must be a "
                                   "float in the range (0, 1). Got 1.5 instead."),
    ({"validation_fraction": 0.001}, "validation_fraction=0.001 of 200 samples"),
    ({"y": None}, "The 'y' parameter of diagnose must be the training targets"),
    ({"X_val": np.zeros((2, 20))}, "The 'X_val' and 'y_val' parameters of diagnose must be "
                                   "given together. Got only X_val instead."),
    ({"thresholds": {"gapp": 0.1}}, "The 'thresholds' parameter got an unknown key 'gapp'"),
    ({"thresholds": {"gap": -1}}, "The 'thresholds' parameter's 'gap' must be a float in the "
                                  "range (0, inf). Got -1 instead."),
    ({"references": {"dummy": None}}, "The 'references' parameter of diagnose takes the keys "
                                      "['baseline', 'linear']. Got ['dummy'] instead."),
    ({"thresholds": [("gap", 0.1)]}, "The 'thresholds' parameter must be a dict with keys "
                                     "among ['deeper', 'falling'"),
    ({"thresholds": {"falling": 1.5}}, "The 'thresholds' parameter's 'falling' must be a float "
                                       "in the range (0, 1]. Got 1.5 instead."),
    ({"thresholds": {"vanishing": 2.0}}, "The 'thresholds' parameter's 'vanishing' must be a "
                                         "float in the range (0, 1). Got 2.0 instead."),
    ({"scoring": ["accuracy", "f1"]}, "The 'scoring' parameter of diagnose must be a str, a "
                                      "callable or None (the recipe judges one score). Got "
                                      "['accuracy', 'f1'] instead."),
    # (sklearn's error named check_scoring, not diagnose)
    ({"scoring": "acurracy"}, "The 'scoring' parameter of diagnose must be a str among "
                              "sklearn.metrics.get_scorer_names(), a callable or None. Got "
                              "'acurracy' instead."),
    ({"references": {"baseline": None, "linear": None}},
     "The 'references' parameter of diagnose must leave a 'baseline' that can be fitted"),
])
def test_bad_input_names_the_parameter(noisy, kwargs, message):
    X, y = noisy
    kwargs = {"y": y, **kwargs}
    with pytest.raises(ValueError) as info:
        diagnose(KNeighborsClassifier(1), X, **kwargs)
    assert message in str(info.value)


def test_apply_checks_the_fix_index(noisy):
    X, y = noisy
    d = diagnose(KNeighborsClassifier(1), X, y, random_state=0)
    with pytest.raises(ValueError, match=r"The 'fix' parameter must be an int in the range"):
        d.apply(KNeighborsClassifier(1), fix=5)
    none = diagnose(LogisticRegression(), *load_breast_cancer(return_X_y=True),
                    random_state=0, thresholds={"train": 10.0, "gap": 10.0})
    with pytest.raises(ValueError, match="suggests no fix"):
        none.apply(LogisticRegression())


def test_recheck_training_after_an_overfitting_fix(noisy):
    # LECTURE.md §4: after any fix, check training again. Early stopping on 16 noisy validation
    # rows stops the wide net almost at once: the training score collapses, and the recipe
    # says so (over_regularized by early stopping) and asks for more patience.
    X, y = noisy
    d = diagnose(wide_unregularized(), X, y, random_state=0)
    assert d.problem == "overfitting" and d.fixes[0] == {"early_stopping": True}
    after = diagnose(d.apply(wide_unregularized()), X, y, random_state=0)
    assert after.problem == "training" and after.causes == ["over_regularized"]
    assert after.evidence["regularization"] == {"early_stopping": True}
    assert after.fixes[0] == {"n_iter_no_change": 30}


# ---------------------------------------------------------------- hostile cases (hand-computed)
def test_unmeasurable_validation_score_is_an_error_not_no_problem():
    # r2 of one validation row is NaN: the gap cannot be measured. Before, a good training
    # score with a NaN validation score was "none" ("within nan of it"): no overfitting
    # claimed without a measurement.
    X, y = make_regression(n_samples=60, n_features=5, noise=10, random_state=0)
    with pytest.raises(ValueError, match=r"The validation score of diagnose is nan on 1 "
                                         r"validation samples .* Use a larger "
                                         r"'validation_fraction'"):
        diagnose(Ridge(), X, y, X_val=X[:1], y_val=y[:1])
    with pytest.raises(ValueError, match="gap between training and validation cannot be"):
        diagnose(Ridge(), X[:6], y[:6], validation_fraction=0.1, random_state=0)


def test_score_rule_by_hand_for_greater_is_better_scores():
    from hpsearch.diagnostics._verdict import score_verdict

    # neg_mean_squared_error: baseline -100, linear -10 -> R = -10, u = 95,
    # poor below -10 - 9.5 = -19.5, a gap above 9.5 is large
    problem, e = score_verdict(-5.0, -6.0, -100.0, -10.0, THRESHOLDS)
    assert problem == "none" and e["unit"] == 95 and e["train_threshold"] == -19.5
    assert score_verdict(-20.0, -21.0, -100.0, -10.0, THRESHOLDS)[0] == "training"
    assert score_verdict(-5.0, -15.0, -100.0, -10.0, THRESHOLDS)[0] == "overfitting"
    # imbalanced accuracy: the majority-class baseline scores 0.95, the linear model 0.97:
    # u = 0.02, poor below 0.968, so 0.95 (the baseline's own score) is a training problem
    problem, e = score_verdict(0.95, 0.95, 0.95, 0.97, THRESHOLDS)
    assert problem == "training" and e["train_threshold"] == pytest.approx(0.968)
    # good training, no validation score: "failed" (never "none"); poor training wins
    assert score_verdict(0.99, math.nan, 0.1, 1.0, THRESHOLDS)[0] == "failed"
    assert score_verdict(0.5, math.nan, 0.1, 1.0, THRESHOLDS)[0] == "training"


def test_majority_class_model_is_a_training_problem():
    # 95 % of one class: accuracy 0.95 is the prior's, not "good training"
    X, y = make_classification(n_samples=400, n_features=5, n_informative=2, weights=[0.95],
                               flip_y=0, random_state=0)
    from sklearn.dummy import DummyClassifier

    d = diagnose(DummyClassifier(), X, y, random_state=0)
    assert d.evidence["train_score"] == pytest.approx(d.evidence["baseline_train"])
    assert d.problem == "training"


@pytest.mark.parametrize("make", [lambda: SkMLPClassifier((32,), max_iter=1, random_state=0),
                                  lambda: MLPClassifier((64,), max_iter=1, random_state=0)],
                         ids=["sklearn", "hpsearch"])
def test_one_epoch_is_not_converged_not_stuck(digits, make):
    # one epoch of max_iter=1 has no trend to read: before, it was "stuck" ("the loss settled
    # near 2.4") and the fix lowered the learning rate; the recipe's answer is train longer
    d = diagnose(make(), *digits, random_state=0)
    assert d.problem == "training" and d.causes == ["not_converged"]
    assert d.fixes[0] == {"max_iter": 200}
    assert "ran all of its 1 epoch(s)" in str(d)


def test_a_first_layer_gradient_of_exactly_zero_has_vanished(digits):
    from hpsearch.diagnostics._causes import DETECTORS, Context
    from hpsearch.diagnostics._curves import gradient_ratios

    X, y = digits
    m = MLPClassifier((8, 8), max_iter=5, random_state=0).fit(X[:200], y[:200])
    n = len(m.history_["loss"])
    m.history_["grad_norm_0"] = [0.0] * n
    # log(0) was dropped as "not finite": the ratio came out NaN and nothing vanished
    ratios = gradient_ratios(m)
    assert ratios[0] == 0.0 and ratios[-1] == 1.0
    assert DETECTORS["vanishing_gradients"](Context(params={}, thresholds=THRESHOLDS,
                                                    ratios=ratios))
    m.history_["grad_norm_0"] = [math.nan] * n          # undefined: NaN, not 0
    assert math.isnan(gradient_ratios(m)[0])


def test_numpy_integer_max_iter_and_fix_index(digits):
    # max_iter=np.int64(200) (a grid from np.arange): the net early-stopped at 7 epochs with
    # its loss still falling; "stopped before max_iter" was missed, so it was also
    # "not_converged" with the fix max_iter=2000, which cannot help a net that stops itself
    est = MLPClassifier((64,), learning_rate_init=1e-4, early_stopping=True, n_iter_no_change=2,
                        max_iter=np.int64(200), random_state=0)
    d = diagnose(est, *digits, random_state=0)
    assert d.model.n_iter_ < 200 and d.evidence["loss_falling_share"] == 1.0
    assert d.problem == "training" and d.causes == ["over_regularized"]
    assert d.apply(est, fix=np.int64(0)).n_iter_no_change == 6


def test_numpy_parameter_values_get_their_fixes(noisy):
    # max_depth=np.int64(8) was not an int, so the overfitting tree's first fix (halve the
    # depth) was missing; min_samples_leaf=1 -> 5 is the second
    d = diagnose(DecisionTreeClassifier(max_depth=np.int64(8), random_state=0), *noisy,
                 random_state=0, thresholds={"gap": np.float32(0.1)})
    assert d.problem == "overfitting"
    assert d.fixes == [{"max_depth": 4}, {"min_samples_leaf": 5}]


class _NaNCurve(DummyClassifier):
    """A classifier whose recorded loss became NaN (scikit-learn-style loss_curve_)."""

    def fit(self, X, y):
        super().fit(X, y)
        self.loss_curve_ = [2.3, 2.2, math.nan, math.nan]
        return self


def test_a_nan_loss_curve_is_unstable_and_says_so(digits):
    # the text read "the loss moved nan% per epoch, up and down"
    d = diagnose(_NaNCurve(), *digits, random_state=0)
    assert d.problem == "training" and d.causes == ["unstable"]
    assert "unstable (the training loss became non-finite (final loss nan))" in str(d)
    assert "nan%" not in str(d)


def test_without_a_baseline_there_is_no_unit():
    # the linear reference scored on its own split: with the baseline dropped the unit fell
    # to 1e-3 and its own gap of 0.0065 was "overfitting"; with it, u = 0.363, no problem
    X, y = load_breast_cancer(return_X_y=True)
    linear = make_pipeline(StandardScaler(), LogisticRegression())
    assert diagnose(linear, X, y, random_state=0).problem == "none"
    with pytest.raises(ValueError, match="must leave a 'baseline' that can be fitted"):
        diagnose(linear, X, y, random_state=0, references={"baseline": None})


def test_a_validation_score_above_the_training_score_reads_as_such():
    # the Ridge's largest validation error is smaller than its largest training error: the
    # text said "is within -3.116 of it"
    X, y = make_regression(n_samples=200, n_features=5, noise=10, random_state=0)
    d = diagnose(Ridge(), X, y, scoring="neg_max_error", random_state=0)
    assert d.problem == "none" and d.evidence["gap"] == pytest.approx(-3.116, abs=1e-3)
    assert "the validation neg_max_error -30.619 is 3.116 above it" in str(d)


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier((16,) * 5, activation="sigmoid", solver="lbfgs", max_iter=15,
                          random_state=0),
    lambda: SkMLPClassifier((16,) * 5, activation="logistic", solver="lbfgs", max_iter=15,
                            random_state=0),
], ids=["hpsearch", "sklearn"])
@pytest.mark.filterwarnings("error::RuntimeWarning")  # (L-BFGS records no gradient norms:
# their ratios are NaN quietly, no 'Mean of empty slice')
def test_lbfgs_gets_no_learning_rate_fix(digits, make):
    """L-BFGS ignores learning_rate_init (its line search picks the steps): a fix changing it
    would change nothing. A deep sigmoid net stuck after 15 L-BFGS iterations gets the
    lecture's activation and solver fixes only (it got learning_rate_init=1e-4 too)."""
    d = diagnose(make(), *digits, random_state=0)
    assert d.problem == "training"
    assert d.fixes and all("learning_rate_init" not in fix for fix in d.fixes)
    assert {"activation": "relu"} in d.fixes
    # the same detectors with solver="adam" do offer the step size
    from hpsearch.diagnostics._causes import Context, fixes_for
    ctx = Context(params={"hidden_layer_sizes": (8,), "solver": "adam",
                          "learning_rate_init": 1e-3}, thresholds=THRESHOLDS,
                  trend={"slow": True})
    assert {"learning_rate_init": 1e-4} in fixes_for(["unstable"], ctx)
    assert {"learning_rate_init": 1e-2} in fixes_for(["not_converged"], ctx)
    ctx.params["solver"] = "lbfgs"
    assert fixes_for(["unstable", "not_converged", "stuck"], ctx) == [{"solver": "adam"}]


def test_lbfgs_overfitting_fixes_are_ones_lbfgs_honours(noisy):
    """L-BFGS ignores early_stopping and hpsearch's refuses dropout: the overfitting fixes of
    a wide lbfgs net were early_stopping=True (changes nothing) and dropout=0.2 (its fit
    raises); now the penalty and less capacity. An lbfgs net with early_stopping=True is
    not 'over_regularized' by it either (it is not applied)."""
    d = diagnose(MLPClassifier((256,), solver="lbfgs", max_iter=500, random_state=0), *noisy,
                 random_state=0)
    assert d.problem == "overfitting"
    assert d.fixes == [{"alpha": 1e-3}, {"hidden_layer_sizes": (128,)}]
    for i in range(len(d.fixes)):  # every fix is one the estimator can be fitted with
        d.apply(MLPClassifier((8,), solver="lbfgs", max_iter=5), i).fit(*noisy)
    from hpsearch.diagnostics._causes import active_regularization
    params = {"hidden_layer_sizes": (8,), "early_stopping": True, "n_iter_no_change": 10}
    assert active_regularization({**params, "solver": "adam"}, THRESHOLDS) == \
        {"early_stopping": True}
    assert active_regularization({**params, "solver": "lbfgs"}, THRESHOLDS) == {}


def test_sparse_input_keeps_the_linear_reference(digits):
    """StandardScaler refuses to centre a sparse X, so the default linear reference failed
    (NaN) on every sparse input and the model was judged against the trivial baseline alone:
    a net under-trained for 3 epochs (training accuracy ~0.5 on digits, the linear model
    ~1.0) was 'none' on the CSR copy of the data it is 'training' on dense."""
    import scipy.sparse as sp

    from hpsearch.diagnostics import reference_scores

    X, y = digits[0][:400], digits[1][:400]
    X = X - X.min(axis=0)  # non-negative, as sparse data usually is; half the entries zero
    make = lambda: MLPClassifier((64,), max_iter=3, random_state=0)  # noqa: E731
    dense = diagnose(make(), X, y, random_state=0)
    sparse = diagnose(make(), sp.csr_matrix(X), y, random_state=0)
    assert dense.problem == sparse.problem == "training"
    assert sparse.evidence["linear_train"] > 0.95
    assert sparse.evidence["train_threshold"] == pytest.approx(dense.evidence["train_threshold"],
                                                               abs=0.02)
    refs = reference_scores(make(), sp.csr_matrix(X), y, cv=3)
    assert refs["linear"]["train_score"] > 0.95


def test_multilabel_targets_keep_the_linear_reference():
    """LogisticRegression refuses a multilabel y, so the linear reference was NaN and the
    model was judged against the trivial baseline alone: a net trained for 2 epochs (subset
    accuracy 0.075, the prior 0.0625, one logistic model per label ~0.48) was 'none'."""
    from sklearn.datasets import make_multilabel_classification

    from hpsearch.diagnostics import reference_scores

    X, Y = make_multilabel_classification(n_samples=400, n_features=20, n_classes=4,
                                          random_state=0)
    d = diagnose(MLPClassifier((64,), max_iter=2, random_state=0), X, Y, random_state=0)
    assert d.problem == "training"
    assert d.evidence["linear_train"] > 0.4 > d.evidence["train_score"]
    refs = reference_scores(MLPClassifier((64,)), X, Y, cv=3)
    assert refs["linear"]["train_score"] > 0.4


def test_a_linear_reference_that_fails_is_a_warning(noisy):
    """Judged against the baseline alone, a model barely above it passes: say so."""
    class Broken(LogisticRegression):
        def fit(self, X, y):
            raise ValueError("cannot fit")

    with pytest.warns(UserWarning, match="trivial baseline alone"):
        diagnose(good_mlp(), *noisy, random_state=0, references={"linear": Broken()})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        diagnose(good_mlp(), *noisy, random_state=0)  # the default reference fits: no warning
        diagnose(good_mlp(), *noisy, random_state=0, references={"linear": None})  # dropped


def test_every_fix_of_a_non_mlp_with_a_solver_can_be_fitted(digits):
    """LogisticRegression has a 'solver' too (no 'adam'): an unconverged one was told
    solver='adam' as its second fix, which its fit refuses."""
    est = LogisticRegression(max_iter=1)
    d = diagnose(est, *digits, random_state=0)
    assert d.problem == "training" and "not_converged" in d.causes
    assert d.fixes == [{"max_iter": 200}]
    for i in range(len(d.fixes)):
        d.apply(est, i).fit(*digits)


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier((64,), solver="lbfgs", max_iter=200, max_fun=2, random_state=0),
    lambda: SkMLPClassifier((64,), solver="lbfgs", max_iter=200, max_fun=2, random_state=0),
], ids=["hpsearch", "sklearn"])
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_lbfgs_stopped_by_max_fun_is_not_converged_with_the_max_fun_fix(digits, make):
    """L-BFGS out of loss evaluations stops after fewer than max_iter iterations and warns:
    hpsearch's (whose loss was falling ~100 % per iteration) was 'stuck', and both were told
    to raise max_iter, which the max_fun limit makes useless."""
    d = diagnose(make(), *digits, random_state=0)
    assert d.problem == "training" and d.evidence["convergence_warning"]
    assert d.causes[0] == "not_converged"
    assert d.fixes[0] == {"max_fun": 15000}
    assert all("max_iter" not in fix for fix in d.fixes)


def test_learning_rate_far_too_small_stopped_by_tol_is_not_converged(digits):
    # adam at lr=1e-6: the loss falls in every epoch by ~0.003 %, so the tol rule stops it
    # after a dozen epochs; it was "stuck" with the fix learning_rate_init=1e-7 (ten times
    # smaller still) instead of the lecture's larger step
    est = MLPClassifier((64,), learning_rate_init=1e-6, tol=1e-3, max_iter=50, random_state=0)
    d = diagnose(est, *digits, random_state=0)
    assert d.model.n_iter_ < 50 and d.evidence["loss_falling_share"] == 1.0
    assert d.problem == "training" and d.causes == ["not_converged"]
    # (and no max_iter=500: the tol rule would stop it at the same epoch)
    assert d.fixes == [{"learning_rate_init": 1e-5}]


def test_noise_level_data_says_neither_remedy_beats_the_baseline():
    # random targets: a ridge model at the noise floor was only told "optimize first", a
    # tree memorizing the noise only "regularize" (and to train higher: "this shortfall on
    # the training rows is a training problem"); nothing validates above the baseline
    rng = np.random.RandomState(0)
    X, y = rng.randn(200, 20), rng.randn(200)
    for est, problem in ((Ridge(alpha=1000), "training"),
                         (DecisionTreeRegressor(random_state=0), "overfitting")):
        d = diagnose(est, X, y, random_state=0, scoring="r2")
        e = d.evidence
        assert d.problem == problem
        assert max(e["validation_score"], e["linear_validation"]) <= e["baseline_validation"]
        text = str(d)
        assert (f"Note: on the validation rows neither this model ({e['validation_score']:.3f}) "
                f"nor the linear reference ({e['linear_validation']:.3f}) scores above the "
                f"trivial baseline ({e['baseline_validation']:.3f})") in text
        assert "neither the training-side fixes nor regularization will raise the " \
               "validation r2 above the baseline's; more data" in text
        assert "shortfall" not in text


def test_no_noise_note_where_a_model_beats_the_baseline(noisy):
    d = diagnose(DecisionTreeClassifier(random_state=0), *noisy, random_state=0)
    assert d.evidence["validation_score"] > d.evidence["baseline_validation"]
    assert "no signal" not in str(d)


def test_overfitting_names_more_data_as_the_lecture_does(noisy):
    # seed 004's fixes for a large gap: regularization, dropout, less capacity AND more
    # training data; the text gave only the parameter changes
    d = diagnose(DecisionTreeClassifier(random_state=0), *noisy, random_state=0)
    assert d.problem == "overfitting"
    assert "More training data, where it can be had, narrows the gap too." in str(d)


def _abs_sum(n=300, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, np.abs(X[:, 0]) + np.abs(X[:, 1])


def test_a_model_that_trains_perfectly_is_told_of_no_training_shortfall():
    # y = |x1| + |x2|: the linear reference trains at r2 ~0; a full tree at r2 1.000 was
    # told "if another activation, solver or size trains higher, this shortfall on the
    # training rows is a training problem"
    from sklearn.tree import DecisionTreeRegressor

    X, y = _abs_sum()
    d = diagnose(DecisionTreeRegressor(random_state=0), X, y, random_state=0)
    assert d.evidence["train_score"] == 1.0
    assert d.evidence["best_possible"] == 1.0
    assert "shortfall" not in str(d)


def test_the_training_shortfall_note_names_what_the_model_has():
    # a tree has no activation or solver: the note named them anyway
    from sklearn.tree import DecisionTreeRegressor

    X, y = _abs_sum()
    d = diagnose(DecisionTreeRegressor(max_depth=2, random_state=0), X, y, random_state=0)
    text = str(d)
    assert "if another setting or a larger model trains higher" in text, text
    assert "activation" not in text.split("Note:")[1]
