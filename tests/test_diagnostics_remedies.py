"""The recipe's remedies name the diagnosed model's own knobs (hpsearch.diagnostics._remedies).

The report's next step, the recipe map's regions, the printed verdict and the fixes named an
MLP's settings ("activation, solver", "dropout") for any estimator, and the fixes changed a
GradientBoostingRegressor's ``alpha`` (the quantile of its loss) as if it were a penalty.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import (AdaBoostClassifier, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier,
                              RandomForestClassifier)
from sklearn.linear_model import LogisticRegression, Perceptron, Ridge, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from hpsearch import MLPClassifier
from hpsearch.diagnostics import THRESHOLDS
from hpsearch.diagnostics._causes import Context, fixes_for
from hpsearch.diagnostics._remedies import overfitting_text, region_labels, training_text

MLP_WORDS = "activation, solver or adaptive learning rate, learning rate"

#: name -> (estimator, its fixes for too_small, its fixes for large_gap)
CASES = {
    "stump": (DecisionTreeClassifier(max_depth=1), [{"max_depth": 2}],
              [{"min_samples_leaf": 5}]),
    "ridge": (Ridge(alpha=100.0), [{"alpha": 10.0}], [{"alpha": 1000.0}]),
    "svc": (SVC(C=1.0, gamma=0.5), [{"C": 10.0}, {"gamma": 5.0}],
            [{"C": 0.1}, {"gamma": 0.05}]),
    "linear_svc": (SVC(kernel="linear", gamma=0.5), [{"C": 10.0}], [{"C": 0.1}]),
    "knn": (KNeighborsClassifier(9), [{"n_neighbors": 3}], [{"n_neighbors": 45}]),
    "gbc": (GradientBoostingClassifier(n_estimators=10, learning_rate=0.3, max_depth=2),
            [{"max_depth": 4}, {"n_estimators": 30}, {"learning_rate": 0.9}],
            [{"max_depth": 1}, {"learning_rate": 0.1}, {"min_samples_leaf": 5}]),
    "gbr": (GradientBoostingRegressor(),
            [{"max_depth": 6}, {"n_estimators": 300}, {"learning_rate": 0.3}],
            [{"max_depth": 2}, {"learning_rate": 0.0333}, {"min_samples_leaf": 5}]),
    "hgb": (HistGradientBoostingClassifier(),
            [{"max_iter": 300}, {"learning_rate": 0.3}, {"min_samples_leaf": 7}],
            [{"max_depth": 5}, {"learning_rate": 0.0333}, {"min_samples_leaf": 100},
             {"l2_regularization": 1.0}]),
    "forest": (RandomForestClassifier(), [], [{"max_depth": 5}, {"min_samples_leaf": 5}]),
    "adaboost": (AdaBoostClassifier(), [{"n_estimators": 150}, {"learning_rate": 3.0}],
                 [{"learning_rate": 0.333}]),
    # penalty=None: alpha does nothing (alpha=0.001 was suggested)
    "perceptron": (Perceptron(), [], [{"early_stopping": True}]),
    "sgd": (SGDClassifier(), [{"alpha": 1e-5}], [{"early_stopping": True}, {"alpha": 0.001}]),
}


def _fixes(est, cause):
    return fixes_for([cause], Context(params=est.get_params(deep=False),
                                      thresholds=dict(THRESHOLDS)))


@pytest.mark.parametrize("name", CASES)
def test_the_fixes_use_the_estimators_own_knobs_and_each_one_is_valid(name):
    # GradientBoostingRegressor was told alpha=0.09 (poor training) and alpha=9.0 (a large
    # gap; its fit refuses it): its alpha is a quantile, no penalty; an SVC with a too
    # large gamma and a boosted model with too few, too weak stages had no fix for them
    est, too_small, large_gap = CASES[name]
    assert _fixes(est, "too_small") == too_small
    assert _fixes(est, "large_gap") == large_gap
    for fix in too_small + large_gap:
        clone(est).set_params(**fix)._validate_params()


def test_a_nested_pipeline_gets_the_fixes_of_its_final_model():
    # the inner pipeline was the "final step": its parameters (steps, memory) have no fix
    from hpsearch import diagnose

    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    est = make_pipeline(StandardScaler(), make_pipeline(DecisionTreeClassifier(
        random_state=0)))
    d = diagnose(est, X, y, random_state=0)
    assert d.problem == "overfitting"
    assert d.fixes[0] == {"pipeline__decisiontreeclassifier__max_depth": 4}
    d.apply(est)   # the key reaches the tree


#: estimator -> (words its training text must hold, words none of its texts may hold)
TEXTS = {
    "tree": (DecisionTreeClassifier(max_depth=2, min_samples_leaf=4),
             "a larger max_depth, a smaller min_samples_leaf", ("activation", "dropout")),
    "full_tree": (DecisionTreeClassifier(), "more capacity or less regularization",
                  ("activation", "dropout")),
    "ridge": (Ridge(alpha=10.0), "a smaller alpha", ("learning rate", "activation")),
    "svc": (SVC(), "a larger C, a larger gamma", ("activation", "dropout")),
    "knn": (KNeighborsClassifier(), "fewer n_neighbors", ("activation", "dropout")),
    "gb": (GradientBoostingClassifier(),
           "more n_estimators, a larger learning_rate, a larger max_depth",
           ("activation", "dropout")),
    "nb": (GaussianNB(), "more capacity or less regularization", ("activation", "dropout")),
    "perceptron": (Perceptron(), "more capacity or less regularization", ("alpha", "C")),
    "pipe_tree": (make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3)),
                  "a larger max_depth", ("activation",)),
    "pipe_mlp": (make_pipeline(StandardScaler(), MLPClassifier()),
                 MLP_WORDS + ", initialization, more epochs, more capacity", ()),
    "sk_mlp": (SkMLP(), MLP_WORDS + ", more epochs, more capacity", ("initialization",)),
}


@pytest.mark.parametrize("name", TEXTS)
def test_the_remedy_texts_name_the_estimators_own_knobs(name):
    est, words, never = TEXTS[name]
    texts = (training_text(est), overfitting_text(est), *region_labels(est))
    assert f"optimize first ({words})" in texts[0]
    for text in texts:
        for word in never:
            assert word not in text, text


def test_overfitting_text_of_a_tree_and_of_an_mlp():
    assert overfitting_text(DecisionTreeRegressor()) == (
        "more regularization or less capacity (a smaller max_depth, fewer max_leaf_nodes, a "
        "larger min_samples_leaf, a larger min_samples_split, a larger ccp_alpha) or more "
        "data, then check the training score again")
    assert overfitting_text(MLPClassifier(early_stopping=True)) == (
        "more regularization or less capacity (a larger alpha, l1, dropout, smaller "
        "hidden_layer_sizes) or more data, then check the training score again")
    assert training_text(MLPClassifier()).endswith("; dropout and regularization will not help")
    assert training_text(Ridge()).endswith("; more regularization will not help")
    # an unlimited tree has no larger max_depth, a tree at min_samples_leaf=1 no smaller one
    assert "max_depth" not in training_text(DecisionTreeClassifier())
    assert "min_samples_leaf" not in training_text(DecisionTreeClassifier(max_depth=3))


def _cv():
    return {"params": [{"max_depth": 1}, {"max_depth": 2}],
            "mean_train_score": np.array([0.6, 0.7]), "mean_test_score": np.array([0.58, 0.69]),
            "rank_test_score": np.array([2, 1])}


REFS = {"baseline": {"train_score": 0.5, "test_score": 0.5},
        "linear": {"train_score": 0.95, "test_score": 0.9}}


@pytest.fixture
def no_png(monkeypatch):
    """The recipe map is drawn but not rendered to PNG (the text is what is tested)."""
    from hpsearch.diagnostics import _plots

    def close(fig, path):
        _plots._plt().close(fig)
        return path
    monkeypatch.setattr(_plots, "_save", close)


def test_the_report_names_the_searched_estimators_remedies(tmp_path, no_png):
    from hpsearch.diagnostics import report_section

    text = report_section(_cv(), tmp_path, references=REFS,
                          estimator=DecisionTreeClassifier(max_depth=1))
    assert "the recipe's next step: optimize first (a larger max_depth); more " \
           "regularization will not help" in text
    assert "activation" not in text and "dropout" not in text
    mlp = report_section(_cv(), tmp_path, references=REFS,
                         estimator=make_pipeline(StandardScaler(), MLPClassifier()))
    assert f"next step: optimize first ({MLP_WORDS}, initialization" in mlp


def test_the_recipe_map_regions_name_the_estimators_remedies(tmp_path, monkeypatch):
    from hpsearch.diagnostics import _plots, recipe_map

    seen = []
    monkeypatch.setattr(_plots, "_save", lambda fig, path: seen.append(
        [t.get_text() for t in fig.axes[0].texts]))
    recipe_map(_cv(), tmp_path / "m.png", references=REFS, estimator=SVC())
    text = " ".join(seen[-1])
    assert "a larger C, a larger gamma" in text.replace("\n", " ")
    assert "activation" not in text and "dropout" not in text
    recipe_map(_cv(), tmp_path / "m.png", references=REFS)   # no estimator: the lecture's
    assert "(activation, solver,\nlearning rate)" in " ".join(seen[-1])


def test_the_printed_verdict_on_the_best_names_the_estimators_remedies():
    from hpsearch.study.report import _BEST_VERDICTS, best_verdict_text

    assert best_verdict_text("training", KNeighborsClassifier()) == (
        "poor on its training folds: optimize first (fewer n_neighbors), not more regularization")
    assert "activation" not in best_verdict_text("overfitting", LogisticRegression())
    assert best_verdict_text("training") == _BEST_VERDICTS["training"]


def test_the_diagnosis_of_a_ridge_model_does_not_speak_of_dropout():
    from hpsearch import diagnose

    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = X @ [1.0, 2.0, 3.0] + 0.1 * rng.randn(100)
    d = diagnose(Ridge(alpha=1e5), X, y, random_state=0)
    assert d.problem == "training" and d.fixes[0] == {"alpha": 1e4}
    assert "so optimize first; more regularization will not help." in str(d)
    assert "dropout" not in str(d)


def test_a_perfect_log_loss_is_told_of_no_training_shortfall():
    # a full tree's training neg_log_loss is -2.2e-16, not 0: it was told "if another setting
    # or a larger model trains higher, this shortfall on the training rows is a training
    # problem", and that a "network" could reach more
    from hpsearch.diagnostics import Diagnosis

    e = {"train_score": -2.220446049250313e-16, "validation_score": -5.4, "gap": 5.4,
         "train_threshold": -0.695, "gap_threshold": 0.069, "baseline_train": -0.693,
         "linear_train": -0.626, "best_possible": 0.0, "scoring": "neg_log_loss",
         "network": False}
    assert "shortfall" not in str(Diagnosis("overfitting", ["large_gap"], e, []))
    text = str(Diagnosis("overfitting", ["large_gap"], {**e, "train_score": -0.3}, []))
    assert "not necessarily next to what a more flexible model can reach" in text


def test_a_constant_target_is_not_called_noise():
    # every model, the baseline too, scores the best possible r2 on a constant target: the
    # note called the rows "noise level" and promised that more data or more informative
    # features would beat the baseline
    from hpsearch import diagnose

    X = np.random.RandomState(0).randn(60, 3)
    d = diagnose(Ridge(), X, np.ones(60), random_state=0)
    text = str(d)
    assert d.problem == "none"
    assert "noise level" not in text and "more informative features" not in text
    assert "Note: the trivial baseline, which ignores the features, already scores 1.000 on " \
           "the validation rows, the best possible score: the target is predictable without " \
           "the features (a constant target?), and no model can score above it." in text


def test_the_deeper_worse_note_names_only_what_the_mlp_has():
    # scikit-learn's MLP has no init and no maxout activation: the note told its deep
    # candidates to try activation='maxout' and init='he'
    from hpsearch.diagnostics import diagnose_results

    cv = {"params": [{"hidden_layer_sizes": (8,)}, {"hidden_layer_sizes": (8, 8, 8, 8)}],
          "mean_train_score": np.array([0.95, 0.3]), "mean_test_score": np.array([0.9, 0.3])}
    refs = {"baseline": {"train_score": 0.1, "test_score": 0.1},
            "linear": {"train_score": 0.9, "test_score": 0.85}}
    sk = " ".join(diagnose_results(cv, references=refs, estimator=SkMLP()).notes)
    assert "for the deep candidates try activation='relu', solver='adam'; dropout" in sk
    ours = " ".join(diagnose_results(cv, references=refs, estimator=MLPClassifier()).notes)
    assert "try activation='relu' or 'maxout', solver='adam', init='he'; dropout" in ours


def test_the_report_words_the_next_step_for_the_best_candidates_values(tmp_path, no_png):
    # the base estimator is an unlimited tree (max_depth=None: no "larger max_depth"); the
    # best candidate has max_depth=1 and trains poorly: its next step must name max_depth
    from hpsearch.diagnostics import report_section

    cv = {"params": [{"max_depth": 1}, {"max_depth": None}],
          "mean_train_score": np.array([0.6, 1.0]), "mean_test_score": np.array([0.6, 0.55]),
          "rank_test_score": np.array([1, 2])}
    text = report_section(cv, tmp_path, references=REFS, estimator=DecisionTreeClassifier())
    assert "the recipe's next step: optimize first (a larger max_depth); more " \
           "regularization will not help" in text


def test_the_printed_verdict_on_the_best_is_worded_for_the_best_parameters():
    # a study of an unlimited tree whose best is a stump that trains poorly: the terminal
    # said "optimize first (activation, solver, learning rate, more epochs, more capacity)"
    from types import SimpleNamespace

    import pandas as pd

    from hpsearch.study.report import summary_text

    cv = pd.DataFrame({"params": [{"max_depth": 1}], "mean_test_score": [0.9],
                       "rank_test_score": [1]})
    plan = SimpleNamespace(name="s", out="out", estimator=DecisionTreeClassifier(),
                           study=SimpleNamespace(search=SimpleNamespace(method="grid")))
    summary = {"metric": "accuracy", "metric_key": "score", "best_score": 0.9,
               "best_std": 0.0, "best_params": {"max_depth": 1}, "n_candidates": 1,
               "n_splits": 3, "n_fits": 3, "fit_time_s": 1.0, "best_diagnosis": "training"}
    assert "the recipe on the best: poor on its training folds: optimize first (a larger " \
           "max_depth), not more regularization" in summary_text(plan, summary, cv)


def test_an_sgd_model_whose_steps_overshoot_is_unstable():
    # SGDRegressor at eta0=10: training r2 -4e18, far below the trivial baseline; it was
    # "too small" and told alpha=1e-05 (a weaker penalty), not a smaller step
    from sklearn.linear_model import SGDRegressor

    from hpsearch import diagnose

    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = X @ [1.0, 2.0, 3.0] + 0.1 * rng.randn(100)
    est = SGDRegressor(eta0=10.0, learning_rate="constant", max_iter=20, random_state=0)
    d = diagnose(est, X, y * 1000, random_state=0)
    e = d.evidence
    assert d.problem == "training" and d.causes == ["unstable"]
    assert d.fixes == [{"eta0": 1.0}]
    assert e["train_score"] < e["baseline_train"] - e["unit"]
    assert (f"unstable (the training score {e['train_score']:.3f} is more than the unit u = "
            f"{e['unit']:.3f} below the trivial baseline's {e['baseline_train']:.3f}: the "
            "steps overshoot)") in str(d)


def test_an_mlp_whose_loss_falls_steadily_is_not_unstable_below_the_baseline():
    # An MLPRegressor after 5 epochs on y = 1000 + 5 x: training r2 -39227, far below the
    # baseline, but its loss fell in every epoch. The below-baseline rule (meant for a model
    # without a loss curve) called it "unstable (the loss moved 0% per epoch, up and down)"
    # and its first fix was a 10 times smaller learning_rate_init, then a larger one.
    from hpsearch import MLPRegressor, diagnose

    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    est = MLPRegressor((8,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = diagnose(est, X, 1000 + 5 * X[:, 0], random_state=0)
    e = d.evidence
    assert e["train_score"] < e["baseline_train"] - e["unit"] and e["loss_rise"] == 0
    assert d.problem == "training" and "unstable" not in d.causes
    assert "not_converged" in d.causes
    assert "up and down" not in str(d)
    assert {"learning_rate_init": 0.0001} not in d.fixes


def test_the_linear_reference_reuses_a_nested_pipelines_preprocessing():
    # the imputer of a pipeline inside the pipeline was left out of the linear reference:
    # it could not be fitted on rows with missing values (a warning), and the model was
    # judged against the trivial baseline alone
    import warnings

    from sklearn.impute import SimpleImputer

    from hpsearch import diagnose

    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    y = (X[:, 0] > 0).astype(int)
    X[::7, 1] = np.nan
    est = make_pipeline(StandardScaler(), make_pipeline(SimpleImputer(), DecisionTreeClassifier(
        max_depth=2, random_state=0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = diagnose(est, X, y, random_state=0)
    assert np.isfinite(d.evidence["linear_train"])


def test_the_maps_regions_name_the_knobs_whatever_the_best_values():
    # a search over n_neighbors whose best is 1: its map's training region (holding the
    # candidates at 50 neighbours) said "more capacity or less regularization"
    poor, gap = region_labels(KNeighborsClassifier(1))
    assert "fewer n_neighbors" in poor and "more n_neighbors" in gap


def test_a_search_on_a_constant_target_is_not_called_noise():
    # every candidate and both references score r2 1 on a constant target: the search's
    # note called the rows "noise level" where "more informative features will" help
    from hpsearch import GridSearchCV

    X = np.random.RandomState(0).randn(60, 3)
    s = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=3, return_train_score=True).fit(
        X, np.ones(60))
    notes = " ".join(s.diagnosis_.notes)
    assert "noise level" not in notes and "informative features" not in notes
    assert "On the validation folds the trivial baseline, which ignores the features, scores " \
           "1: as much as any candidate (best 1) or the linear reference scores on its own " \
           "training folds." in notes


def test_a_scorer_failing_on_every_model_says_so_in_the_diagnosis_error():
    # 'f1' with string labels (pos_label=1 is no class): the error named a 'references'
    # parameter the user never gave ("Got {'baseline': {}, 'linear': {}}")
    import warnings

    from hpsearch import GridSearchCV

    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = np.array(["a", "b"])[(X[:, 0] > 0).astype(int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]}, cv=3,
                         scoring="f1", return_train_score=True).fit(X, y)
    assert "'references' parameter" not in s.diagnosis_error_
    assert "the search's references must hold a finite training 'score' of the trivial " \
           "baseline (DummyClassifier), which has none with scoring='f1' on these splits" \
           in s.diagnosis_error_


def test_a_tiny_validation_part_is_said_to_be_uncertain():
    # 10 rows: "No problem" at validation accuracy 1.000 on 2 rows, nothing said of them
    from hpsearch import diagnose

    X = np.arange(20.0).reshape(10, 2)
    y = np.array([0, 1] * 5)
    d = diagnose(DecisionTreeClassifier(random_state=0), X, y, random_state=0)
    assert d.evidence["n_validation"] == 2
    assert str(d).endswith("Note: the validation score is measured on only 2 row(s): one row "
                           "more or less right moves it a lot, so the gap (and the verdict on "
                           "it) is uncertain; pass more rows (X_val, y_val) or a larger "
                           "validation_fraction.")
    big = diagnose(DecisionTreeClassifier(random_state=0), np.tile(X, (5, 1)), np.tile(y, 5),
                   random_state=0)
    assert "measured on only" not in str(big)


def test_an_overfitting_verdict_notes_a_gap_the_linear_reference_shares():
    # a LogisticRegression at C=1e-4 was "Overfitting" and told C=1e-05: on the same split
    # the linear reference (C=1) had a gap above the threshold too; another random_state
    # called the same model "none" or "training"
    from hpsearch.diagnostics import Diagnosis

    e = {"train_score": 0.825, "validation_score": 0.733, "gap": 0.092,
         "train_threshold": 0.823, "gap_threshold": 0.036, "baseline_train": 0.5,
         "baseline_validation": 0.5, "linear_train": 0.858, "linear_validation": 0.817,
         "validation_fraction": 0.2, "scoring": "score", "network": False}
    text = str(Diagnosis("overfitting", ["large_gap"], e, [{"C": 1e-5}]))
    assert "Note: on this same split the linear reference has a gap of 0.041 too (0.858 " \
           "training, 0.817 validation), also above the threshold" in text
    text = str(Diagnosis("overfitting", ["large_gap"], {**e, "linear_validation": 0.83}, []))
    assert "same split" not in text


def test_an_unpenalized_model_at_c_inf_is_told_a_finite_c():
    # scikit-learn 1.8 deprecated LogisticRegression's penalty=None for C=np.inf. Such a
    # model that overfits got no fix at all (C * 0.1 is still inf) and, training poorly,
    # was told "a larger C", which it cannot have.
    for est in (LogisticRegression(C=np.inf), SVC(C=np.inf)):
        assert _fixes(est, "large_gap")[:1] == [{"C": 1.0}]
        assert {"C": np.inf} not in _fixes(est, "too_small")
        clone(est).set_params(C=1.0)._validate_params()
        assert "a larger C" not in training_text(est)
        assert "a smaller C" in overfitting_text(est)
    assert "a larger C" in training_text(LogisticRegression(C=1e6))


def test_gamma_is_a_kernel_width_only_for_an_estimator_with_a_kernel():
    # XGBoost's gamma is the loss a split must gain (larger: fewer splits, a simpler model),
    # no kernel width: a model with a gamma and no kernel parameter was told "a larger gamma"
    # for poor training and gamma * 0.1 for a large gap, both the wrong way round
    from sklearn.base import BaseEstimator

    class SplitLoss(BaseEstimator):
        def __init__(self, gamma=1.0, max_depth=3):
            self.gamma, self.max_depth = gamma, max_depth

    est = SplitLoss()
    assert "gamma" not in training_text(est) + overfitting_text(est)
    assert all("gamma" not in fix for cause in ("too_small", "large_gap")
               for fix in _fixes(est, cause))
    assert "a larger gamma" in training_text(SVC(gamma=0.1))
    # a label-propagation model's 'knn' kernel ignores gamma too
    from sklearn.semi_supervised import LabelSpreading
    assert "gamma" not in training_text(LabelSpreading(kernel="knn"))
    assert "a larger gamma" in training_text(LabelSpreading())


def test_a_search_at_the_baseline_below_the_best_score_is_not_called_a_constant_target():
    # A disk of 12 % positives: stumps and the linear reference all train at the majority
    # class's accuracy 0.882, the baseline's. The note said "The target is predictable
    # without the features (a constant target?): no model can score above the baseline",
    # where a depth-4 tree scores 0.95: only a baseline at the best possible score (1 for
    # accuracy and r2, 0 for a neg_* scorer) leaves nothing to gain.
    from sklearn.model_selection import cross_val_score

    from hpsearch import GridSearchCV

    rng = np.random.RandomState(0)
    X = rng.randn(600, 2)
    y = ((X ** 2).sum(1) < 0.21).astype(int)
    tree = DecisionTreeClassifier(random_state=0)
    s = GridSearchCV(tree, {"max_depth": [1], "min_samples_leaf": [1, 5]}, cv=3,
                     return_train_score=True).fit(X, y)
    assert np.allclose(s.cv_results_["mean_train_score"], 1 - y.mean())
    notes = " ".join(s.diagnosis_.notes)
    assert "constant target" not in notes and "no model can score" not in notes
    assert cross_val_score(clone(tree).set_params(max_depth=4), X, y, cv=3).mean() > 0.95
    # a constant target still is one, with a neg_* scorer too
    s = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=3, return_train_score=True,
                     scoring="neg_mean_squared_error").fit(X, np.ones(600))
    assert "constant target" in " ".join(s.diagnosis_.notes)


def test_a_fractional_min_samples_leaf_is_scaled_as_a_fraction():
    # min_samples_leaf=0.05 (5 % of the rows a leaf): the large-gap fix was
    # min_samples_leaf=1 (max(1, round(0.05 * 5))), one row a leaf, the opposite of more
    # regularization; and poor training was not told "a smaller min_samples_leaf"
    est = DecisionTreeClassifier(min_samples_leaf=0.05)
    assert {"min_samples_leaf": 0.25} in _fixes(est, "large_gap")
    assert {"min_samples_leaf": 0.0167} in _fixes(est, "too_small")
    assert {"min_samples_leaf": 1} not in _fixes(est, "large_gap") + _fixes(est, "too_small")
    assert "a smaller min_samples_leaf" in training_text(est)
    # a larger fraction than half leaves no split: the fix stops at 0.5
    assert {"min_samples_leaf": 0.5} in _fixes(DecisionTreeClassifier(min_samples_leaf=0.2),
                                               "large_gap")
    assert all("min_samples_leaf" not in fix for fix in _fixes(
        DecisionTreeClassifier(min_samples_leaf=0.5), "large_gap"))
    for cause in ("too_small", "large_gap"):
        for fix in _fixes(est, cause):
            clone(est).set_params(**fix)._validate_params()
    # counts as before
    assert {"min_samples_leaf": 5} in _fixes(DecisionTreeClassifier(), "large_gap")
    assert {"min_samples_leaf": 7} in _fixes(HistGradientBoostingClassifier(), "too_small")


def test_a_fix_the_estimator_refuses_is_not_given():
    # LabelSpreading's alpha is a clamping factor in (0, 1): a large gap was told
    # alpha=2.0, which its fit refuses (InvalidParameterError on d.apply(est).fit)
    from sklearn.semi_supervised import LabelSpreading

    est = LabelSpreading(alpha=0.2)
    ctx = Context(params=est.get_params(deep=False), thresholds=dict(THRESHOLDS), model=est)
    fixes = fixes_for(["large_gap", "too_small"], ctx)
    assert {"alpha": 2.0} not in fixes and {"alpha": 0.02} in fixes
    for fix in fixes:
        clone(est).set_params(**fix)._validate_params()


def test_the_report_section_calls_a_constant_target_one_with_the_searchs_best_score(tmp_path):
    # the report recounts the search's labels and notes: with best_possible (the search's
    # diagnosis_.evidence, from its scoring) a baseline at neg_mse 0 is a constant target
    from hpsearch import GridSearchCV
    from hpsearch.diagnostics import report_section

    X = np.random.RandomState(0).randn(60, 3)
    s = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=3, return_train_score=True,
                     scoring="neg_mean_squared_error").fit(X, np.ones(60))
    assert s.diagnosis_.evidence["best_possible"] == 0.0
    text = report_section(s.cv_results_, tmp_path, references=s.diagnosis_.references,
                          estimator=Ridge(),
                          best_possible=s.diagnosis_.evidence["best_possible"])
    assert "constant target" in text and "noise level" not in text
