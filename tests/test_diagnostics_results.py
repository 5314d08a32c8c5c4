"""The recipe over a search: the ``diagnosis`` column and the deeper-worse note (seed 003)."""

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from hpsearch import GridSearchCV, MLPClassifier
from hpsearch.diagnostics import diagnose_results, reference_scores

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# digits-like references: baseline 0.1, logistic regression fits its training folds
REFS = {"baseline": {"train_score": 0.1, "test_score": 0.1},
        "linear": {"train_score": 1.0, "test_score": 0.95}}


def results(rows):
    """A cv_results_ dict from (params, mean_train, mean_test) rows."""
    return {"params": [r[0] for r in rows],
            "mean_train_score": np.array([r[1] for r in rows], dtype=float),
            "mean_test_score": np.array([r[2] for r in rows], dtype=float)}


def test_labels_follow_the_documented_rule():
    # unit = 1.0 - 0.1 = 0.9: training poor below 0.91, a gap above 0.09 is large
    cv = results([({"a": 1}, 0.99, 0.95), ({"a": 2}, 0.50, 0.49), ({"a": 3}, 1.0, 0.80),
                  ({"a": 4}, 0.909, 0.90), ({"a": 5}, 0.95, 0.87), ({"a": 6}, math.nan, 0.5)])
    r = diagnose_results(cv, references=REFS)
    assert r.labels == ["none", "training", "overfitting", "training", "none", "failed"]
    assert r.evidence["unit"] == pytest.approx(0.9)
    assert r.evidence["train_threshold"] == pytest.approx(0.91)
    assert r.evidence["gap_threshold"] == pytest.approx(0.09)
    assert str(r).startswith("6 candidates: 2 training, 1 overfitting, 2 none, 1 failed.")


def test_dataframe_and_multimetric_input():
    df = pd.DataFrame({"params": [{"a": 1}, {"a": 2}], "mean_train_acc": [1.0, 0.3],
                       "mean_test_acc": [0.7, 0.3]})
    refs = {"baseline": {"train_acc": 0.1}, "linear": {"train_acc": 1.0}}
    assert diagnose_results(df, metric="acc", references=refs).labels == ["overfitting",
                                                                          "training"]


def test_without_references_the_search_judges_itself():
    cv = results([({"a": 1}, 0.99, 0.95), ({"a": 2}, 0.50, 0.49), ({"a": 3}, 1.0, 0.80)])
    r = diagnose_results(cv)
    assert r.labels == ["none", "training", "overfitting"]
    assert r.evidence["references"] == "candidates"
    assert r.evidence["baseline_train"] == 0.49 and r.evidence["reference_train"] == 1.0
    assert "No reference scores were given" in r.notes[0]
    assert "best training score (1) and its lowest score (0.49)" in r.notes[0]


def test_deeper_worse_on_training_is_noted():
    cv = results([({"hidden_layer_sizes": (64,)}, 0.99, 0.95),
                  ({"hidden_layer_sizes": (64, 64)}, 0.98, 0.95),
                  ({"hidden_layer_sizes": (64,) * 6}, 0.40, 0.38),
                  ({"hidden_layer_sizes": (64,) * 6}, 0.45, 0.41)])
    r = diagnose_results(cv, references=REFS)
    assert r.evidence["best_train_by_depth"] == {1: 0.99, 2: 0.98, 6: 0.45}
    (note,) = r.notes
    assert note.startswith("Deeper candidates train worse: the best training score is 0.990 "
                           "with 1 hidden layer, only 0.450 with 6.")
    assert "optimization problem, not overfitting (seed 003)" in note
    # a pipeline's step-prefixed parameter counts too; no note when deeper trains as well
    cv = results([({"model__hidden_layer_sizes": [8]}, 0.99, 0.9),
                  ({"model__hidden_layer_sizes": [8, 8]}, 0.99, 0.9)])
    assert diagnose_results(cv, references=REFS).notes == []


def test_needs_train_scores():
    cv = {"params": [{}], "mean_test_score": np.array([0.5])}
    with pytest.raises(ValueError, match="fit the search with return_train_score=True"):
        diagnose_results(cv)


def test_real_search_deep_sigmoid_vs_shallow():
    X, y = load_digits(return_X_y=True)
    X, y = StandardScaler().fit_transform(X)[:500], y[:500]
    est = MLPClassifier(max_iter=20, solver="momentum", learning_rate_init=0.01, init="glorot",
                        random_state=0)
    grid = {"hidden_layer_sizes": [(32,), (32,) * 6], "activation": ["sigmoid", "relu"]}
    search = GridSearchCV(est, grid, cv=3, return_train_score=True, progress=False).fit(X, y)
    refs = reference_scores(est, X, y, cv=3)
    assert refs["baseline"]["train_score"] == pytest.approx(0.106, abs=0.01)
    assert refs["linear"]["train_score"] == 1.0
    r = diagnose_results(search.cv_results_, references=refs)
    labels = dict(zip([(len(p["hidden_layer_sizes"]), p["activation"])
                       for p in search.cv_results_["params"]], r.labels))
    assert labels[(6, "sigmoid")] == "training" and labels[(1, "relu")] == "none"
    assert any(n.startswith("Deeper candidates train worse") for n in r.notes)


def test_diagnosis_column_as_a_search_hook_would_call_it():
    from sklearn.model_selection import StratifiedKFold

    from hpsearch.diagnostics import diagnosis_column

    X, y = load_digits(return_X_y=True)
    X, y = StandardScaler().fit_transform(X)[:300], y[:300]
    splits = list(StratifiedKFold(3).split(X, y))
    est = MLPClassifier(max_iter=100, random_state=0)
    grid = {"hidden_layer_sizes": [(2,), (32,)]}
    search = GridSearchCV(est, grid, cv=splits, scoring=["accuracy", "balanced_accuracy"],
                          refit="accuracy", return_train_score=True, progress=False).fit(X, y)
    labels, result = diagnosis_column(search.cv_results_, est, X, y, cv=splits,
                                      scoring=["accuracy", "balanced_accuracy"],
                                      refit="accuracy")
    assert labels.dtype == object and list(labels) == ["training", "none"]
    assert result.evidence["references"] == "given"
    assert result.evidence["linear_train"] == 1.0


def test_a_single_candidate_cannot_judge_itself():
    # without references its own test score was the baseline: u = 0.99 - 0.985 = 0.005, so
    # the gap 0.005 > 0.0005 called a fine model "overfitting"
    cv = results([({"a": 1}, 0.99, 0.985), ({"a": 2}, math.nan, 0.5)])
    with pytest.raises(ValueError, match=r"The 'references' parameter of diagnose_results is "
                                         r"needed for a search with 1 candidate\(s\)"):
        diagnose_results(cv)
    # with digits-like references by hand: u = 0.9, the gap 0.005 is far below 0.09
    assert diagnose_results(cv, references=REFS).labels == ["none", "failed"]


def test_a_wrong_metric_names_the_metrics_kept():
    cv = results([({"a": 1}, 0.99, 0.95)])
    with pytest.raises(ValueError, match=r"the 'metric' parameter of diagnose_results must be "
                                         r"one of \['score'\]. Got 'accuracy' instead."):
        diagnose_results(cv, metric="accuracy", references=REFS)


def test_report_of_a_single_candidate_without_references_says_why(tmp_path):
    from hpsearch.diagnostics import report_section

    text = report_section(results([({"a": 1}, 0.99, 0.985)]), tmp_path)
    assert "The candidates are not labelled: The 'references' parameter" in text
    assert "overfitting" not in text.split("dropout).", 1)[1]
    assert "Recipe map" not in text and "set `return_train_score" not in text


def test_references_without_a_finite_training_score_are_an_error():
    # NaN references made the threshold NaN and the unit 1e-3: nothing was poor and any gap
    # above 1e-4 was "overfitting"
    cv = results([({"a": 1}, 0.99, 0.985), ({"a": 2}, 0.5, 0.4)])
    nan_refs = {"baseline": {"train_score": math.nan}, "linear": {"train_score": math.nan}}
    match = (r"The 'references' parameter of diagnose_results must hold a finite training "
             r"'score' of the 'baseline'")
    with pytest.raises(ValueError, match=match):
        diagnose_results(cv, references=nan_refs)
    # the linear reference alone gives no unit: 0.99 / 0.985 was "overfitting" (u = 1e-3)
    with pytest.raises(ValueError, match=match):
        diagnose_results(cv, references={"linear": {"train_score": 0.99}})


def test_a_search_whose_scoring_the_references_cannot_use_has_no_diagnosis_column():
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]}, cv=3,
                          scoring=lambda est, X, y: -float(est.get_depth()),
                          return_train_score=True, progress=False)
    # no warning (a scikit-learn user gets scikit-learn's warnings only, as its own
    # test_searchcv_raise_warning_with_non_finite_score counts them): the reason is kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search.fit(X[:300], y[:300])
    assert "diagnosis" not in search.cv_results_
    assert re.search("No 'diagnosis' column: .*must hold a finite", search.diagnosis_error_)


def test_deeper_note_compares_depths_at_the_same_budget():
    # halving: the deep net was stopped at 10 epochs, the shallow one went on to 100. At 10
    # epochs the deep net trains BETTER (0.62 vs 0.60); before, its 0.62 was compared with
    # the shallow net's 0.99 at 100 epochs and called "deeper trains worse"
    cv = results([({"hidden_layer_sizes": (64,)}, 0.60, 0.58),
                  ({"hidden_layer_sizes": (64,) * 3}, 0.62, 0.60),
                  ({"hidden_layer_sizes": (64,)}, 0.99, 0.95)])
    cv["n_resources"] = np.array([10, 10, 100])
    r = diagnose_results(cv, references=REFS)
    assert r.notes == [] and r.evidence["best_train_by_depth"] == {1: 0.60, 3: 0.62}
    # at the same budget a deep net that trains worse is still noted, with its budget
    cv["mean_train_score"] = np.array([0.90, 0.40, 0.99])
    (note,) = diagnose_results(cv, references=REFS).notes
    assert note.startswith("Deeper candidates train worse (at the same budget, n_resources=10):"
                           " the best training score is 0.900 with 1 hidden layer, only "
                           "0.400 with 3.")


def test_a_reference_that_cannot_be_fitted_is_nan_not_the_end_of_the_diagnosis():
    # multi-label y: LogisticRegression fails on every split, which made cross_validate raise
    # and the whole diagnosis column disappear although the baseline was fine
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    Y = np.c_[y > 0, y > 1].astype(int)
    refs = reference_scores(MLPClassifier(), X, Y, cv=3)
    assert math.isnan(refs["linear"]["train_score"]) and math.isnan(refs["linear"]["test_score"])
    assert refs["baseline"]["train_score"] == pytest.approx(0.5)
    search = GridSearchCV(MLPClassifier(max_iter=20, random_state=0),
                          {"hidden_layer_sizes": [(4,), (32,)]}, cv=3,
                          return_train_score=True, progress=False).fit(X, Y)
    assert len(search.cv_results_["diagnosis"]) == 2


# -- weighted searches: the references are scored on the candidates' metric ---------------
def _weighted_data():
    """Breast cancer (357 benign, 212 malignant) with malignant rows weighted 8: the
    weighted majority is malignant, so the prior baseline differs with and without
    weights (0.63 vs 0.83 accuracy)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold

    X, y = load_breast_cancer(return_X_y=True)
    w = np.where(y == 0, 8.0, 1.0)
    return X, y, w, list(StratifiedKFold(3).split(X, y))


def _references_by_hand(X, y, w, splits, pre=(), weighted_scores=True, weighted_fit=True):
    """The baseline and the linear reference fitted with weights (the final model of the
    pipeline) and scored by (weighted) accuracy, on ``splits``."""
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.pipeline import make_pipeline

    def linear():
        return make_pipeline(*[StandardScaler() for _ in pre],
                             StandardScaler(with_mean=not pre),
                             LogisticRegression(max_iter=1000))

    makers = {"baseline": (lambda: DummyClassifier(strategy="prior"), "sample_weight"),
              "linear": (linear, "logisticregression__sample_weight")}
    out = {}
    for name, (make, key) in makers.items():
        scores = {"train_score": [], "test_score": []}
        for train, test in splits:
            model = make().fit(X[train], y[train], **({key: w[train]} if weighted_fit else {}))
            for part, rows in (("train", train), ("test", test)):
                scores[f"{part}_score"].append(
                    accuracy_score(y[rows], model.predict(X[rows]),
                                   sample_weight=w[rows] if weighted_scores else None))
        out[name] = {k: float(np.mean(v)) for k, v in scores.items()}
    return out


def _assert_references(found, expected):
    assert set(found) == set(expected)
    for name in expected:
        assert found[name] == pytest.approx(expected[name], rel=1e-12), name


@pytest.mark.parametrize("kind", ["grid", "halving"])
def test_a_weighted_search_judges_candidates_against_weighted_references(kind):
    # the candidates' scores are weighted (sample_weight goes to the scorer); the
    # references were fitted and scored unweighted, so the verdicts compared two metrics
    from hpsearch import HalvingGridSearchCV

    X, y, w, splits = _weighted_data()
    est = MLPClassifier((4,), max_iter=5, random_state=0)
    grid = {"alpha": [1e-4, 1e-1]}
    search = (GridSearchCV(est, grid, cv=splits, return_train_score=True, progress=False)
              if kind == "grid" else
              HalvingGridSearchCV(est, grid, cv=splits, min_resources=300, random_state=0,
                                  progress=False))
    with _quiet():
        search.fit(X, y, sample_weight=w)
    expected = _references_by_hand(X, y, w, splits)
    _assert_references(search.diagnosis_.references, expected)
    unweighted = reference_scores(est, X, y, cv=splits)
    assert unweighted["baseline"]["test_score"] == pytest.approx(357 / 569, abs=0.01)
    assert expected["baseline"]["test_score"] == pytest.approx(8 * 212 / (8 * 212 + 357),
                                                               abs=0.01)
    # the public function with the same weights gives the same references
    _assert_references(reference_scores(est, X, y, cv=splits, sample_weight=w,
                                        score_params={"sample_weight": w}), expected)


@pytest.mark.parametrize("routing", [False, True])
def test_a_weighted_pipeline_weights_the_references_final_model(routing):
    # without routing the user weights the pipeline's final step (mlpclassifier__
    # sample_weight); with routing the step requests it: both fit the references' final
    # model with the weights, the cloned scaler unweighted (as the candidates' scaler).
    # The scores are weighted as the candidates' are: with routing (the scorer requests
    # sample_weight), not without (sklearn gives the scorer a top-level sample_weight only)
    import sklearn
    from sklearn.metrics import accuracy_score, make_scorer
    from sklearn.pipeline import make_pipeline

    X, y, w, splits = _weighted_data()
    with sklearn.config_context(enable_metadata_routing=routing), _quiet():
        mlp = MLPClassifier((4,), max_iter=5, random_state=0)
        scaler = StandardScaler()
        scoring = make_scorer(accuracy_score)
        if routing:
            mlp.set_fit_request(sample_weight=True)
            scaler.set_fit_request(sample_weight=False)
            scoring.set_score_request(sample_weight=True)
        est = make_pipeline(scaler, mlp)
        search = GridSearchCV(est, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=splits,
                              scoring=scoring, return_train_score=True, progress=False)
        params = {"sample_weight": w} if routing else {"mlpclassifier__sample_weight": w}
        search.fit(X, y, **params)
    assert "diagnosis" in search.cv_results_
    _assert_references(search.diagnosis_.references,
                       _references_by_hand(X, y, w, splits, pre=[scaler],
                                           weighted_scores=routing))



def test_weighted_scores_of_an_unweighted_fit_weight_the_references_scores_only():
    # metadata routing: the MLP's score requests sample_weight, its fit does not; the
    # references are fitted unweighted and scored weighted (the linear reference's
    # pipeline routes the weights to its final step's score: it was NaN, never requested)
    import sklearn

    X, y, w, splits = _weighted_data()
    with sklearn.config_context(enable_metadata_routing=True), _quiet():
        est = MLPClassifier((4,), max_iter=5, random_state=0)
        est.set_fit_request(sample_weight=False).set_score_request(sample_weight=True)
        search = GridSearchCV(est, {"alpha": [1e-4, 1e-1]}, cv=splits,
                              return_train_score=True, progress=False)
        search.fit(X, y, sample_weight=w)
    _assert_references(search.diagnosis_.references,
                       _references_by_hand(X, y, w, splits, weighted_fit=False))


def test_a_failing_metric_of_several_is_nan_the_others_kept():
    # as cross_validate with error_score=np.nan: the references' other metrics survive
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    refs = reference_scores(MLPClassifier(), X, y, cv=3,
                            scoring={"acc": "accuracy", "bad": lambda est, X, y: est.n_layers_})
    assert math.isnan(refs["baseline"]["train_bad"]) and math.isnan(refs["linear"]["test_bad"])
    assert refs["baseline"]["train_acc"] == pytest.approx(1 / 3, abs=0.01)
    assert refs["linear"]["test_acc"] > 0.9

def _quiet():
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    class _Quiet(warnings.catch_warnings):
        def __enter__(self):
            super().__enter__()
            warnings.simplefilter("ignore", ConvergenceWarning)

    return _Quiet()


def test_report_counts_each_budgeted_candidate_once(tmp_path):
    # a halving search: 3 candidates, 5 rows (the two survivors again at 9 epochs); the
    # report counted rows as candidates ("5 candidate(s)" of a 3-candidate search) and a
    # candidate poor at 3 epochs but good at 9 twice
    from hpsearch.diagnostics import report_section

    cv = results([({"a": 1}, 0.50, 0.49), ({"a": 2}, 0.60, 0.58), ({"a": 3}, 0.95, 0.93),
                  ({"a": 2}, 0.99, 0.96), ({"a": 3}, 0.99, 0.97)])
    cv["iter"] = np.array([0, 0, 0, 1, 1])
    cv["n_resources"] = np.array([3, 3, 3, 9, 9])
    text = report_section(cv, tmp_path, references=REFS)
    counts = re.findall(r"^- (\d+) candidate\(s\) (.*)$", text, re.M)
    assert counts == [("1", "poor on their training folds (optimize first)"),
                      ("2", "good on both")], text
    assert "each at its largest budget" in text


def test_report_names_the_studys_metric(tmp_path):
    from hpsearch.diagnostics import report_section

    cv = results([({"a": 1}, 0.99, 0.95), ({"a": 2}, 0.5, 0.49)])
    text = report_section(cv, tmp_path, references=REFS, label="accuracy")
    assert "- thresholds: training accuracy below 0.91 is poor" in text


def test_a_candidate_whose_fits_failed_is_failed_whatever_its_error_score():
    # was: with error_score=0 a candidate that never fitted (knn n_neighbors=200 on 75
    # rows) scored 0 on training and was a "training" problem: "optimize first"
    cv = results([({"k": 3}, 0.99, 0.95), ({"k": 9}, 0.97, 0.96), ({"k": 200}, 0.0, 0.0)])
    cv["error"] = np.array([None, None, "split 0:\nValueError: Expected n_neighbors <= "
                            "n_samples_fit"], dtype=object)
    r = diagnose_results(cv, references=REFS)
    assert r.labels == ["none", "none", "failed"]
    assert r.evidence["best_train"] == pytest.approx(0.99)


def test_a_score_exactly_at_the_threshold_trains_well_as_the_recipe_accepts_it():
    # the recipe accepts train >= F; the column calls training poor when train < R - 0.1 u:
    # with R = 0.5, m*_tr = 1 (best_train given, as RecipeSearchCV passes it) the threshold
    # is 0.4 exactly, and 0.4 must not be "training"; a better candidate (1.2) does not
    # move it
    cv = {"params": [{"a": i} for i in range(3)],
          "mean_train_score": np.array([0.4, np.nextafter(0.4, 0), 1.2]),
          "mean_test_score": np.array([0.39, 0.39, 1.15])}
    refs = {"baseline": {"train_score": 0.0}, "linear": {"train_score": 0.5}}
    result = diagnose_results(cv, references=refs, best_train=1.0)
    assert result.evidence["train_threshold"] == 0.5 - 0.1 * 1.0
    assert result.labels[:2] == ["none", "training"]
    assert result.evidence["unit_train"] == 1.0 and result.evidence["best_train"] == 1.2
    assert diagnose_results(cv, references=refs).evidence["train_threshold"] < 0.4
    with pytest.raises(ValueError, match="The 'best_train' parameter of diagnose_results "
                       "must be a finite float, NaN or None. Got inf instead"):
        diagnose_results(cv, references=refs, best_train=np.inf)


def test_report_states_the_numbers_its_thresholds_come_from(tmp_path):
    # the section gave "training accuracy below 0.91 is poor" without the references' scores,
    # R or the unit it was computed from: a reader could not redo it
    from hpsearch.diagnostics import report_section

    cv = results([({"a": 1}, 0.99, 0.95), ({"a": 2}, 0.5, 0.49)])
    text = report_section(cv, tmp_path, references=REFS, label="accuracy")
    assert ("- computed from the references on the same training folds: the linear model's "
            "training accuracy 1, the trivial baseline's 0.1 (R = 1, the better); the unit "
            "u = 0.9 (the best training accuracy 0.99 or R, whichever is higher, less the "
            "baseline's): poor below R - 0.1·u = 1 - 0.1 x 0.9, large above 0.1·u") in text
    text = report_section(cv, tmp_path, thresholds={"train": 0.2})  # no references
    assert ("computed from the candidates' own scores (no references): R = 0.99 (their best "
            "training score), the unit u = 0.5 (R less their lowest score 0.49): poor below "
            "R - 0.2·u = 0.99 - 0.2 x 0.5") in text
    assert "- thresholds: training score below 0.89 is poor" in text  # 0.99 - 0.2 x 0.5


def test_report_of_a_search_that_labelled_without_showing_train_scores(tmp_path):
    # RecipeSearchCV(return_train_score=False) labels its candidates from the train scores
    # it computes, then leaves them out of cv_results_: the section said "Train scores were
    # not kept" while the printed summary gave the best candidate's verdict from its labels
    from hpsearch.diagnostics import report_section

    cv = results([({"a": 1}, 0.99, 0.95), ({"a": 2}, 0.5, 0.49), ({"a": 3}, 1.0, 0.7)])
    cv["rank_test_score"] = np.array([1, 3, 2])
    labelled = diagnose_results(cv, references=REFS)
    shown = {k: v for k, v in cv.items() if k != "mean_train_score"}
    text = report_section(shown, tmp_path, references=REFS, diagnosis=labelled)
    assert "Train scores were not kept" not in text
    assert re.findall(r"^- (\d+) candidate\(s\) (.*)$", text, re.M) == [
        ("1", "poor on their training folds (optimize first)"),
        ("1", "good on training, much worse on validation"), ("1", "good on both")]
    assert "- the best candidate (rank 1) is 'none': validation 0.95;" in text
    assert "- thresholds: training score below 0.91 is poor" in text
    assert "set `return_train_score: true` to see them and draw the recipe map" in text
    assert not (tmp_path / "plots" / "recipe_map.png").exists()


def test_recipe_study_without_train_scores_reports_its_labels(tmp_path, monkeypatch):
    # the study runner's Diagnosis section of a recipe search fitted with
    # return_train_score=False: it now gets the search's own labels (diagnosis_)
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from hpsearch import RecipeSearchCV
    from hpsearch.study import runner

    X, y = load_iris(return_X_y=True)
    search = RecipeSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]},
                            n_iter=1, cv=2, random_state=0).fit(X, y)
    assert "mean_train_score" not in search.cv_results_
    monkeypatch.setattr(runner, "_metric_label", lambda plan, metric: "accuracy")
    monkeypatch.setattr(runner, "_worst_training_flow", lambda *a: None)
    text, _ = runner._diagnosis(None, search, search.cv_results_, "score", tmp_path, None)
    assert "Train scores were not kept" not in text
    verdict = search.cv_results_["diagnosis"][search.best_index_]
    assert f"- the best candidate (rank 1) is {verdict!r}: validation " in text


def test_a_search_where_nothing_validates_above_the_baseline_says_so():
    refs = {"baseline": {"train_score": 0.52, "test_score": 0.52},
            "linear": {"train_score": 0.66, "test_score": 0.50}}
    cv = results([({"a": 1}, 1.0, 0.45), ({"a": 2}, 0.60, 0.51), ({"a": 3}, 0.75, 0.47)])
    r = diagnose_results(cv, references=refs)
    assert r.notes == [
        "On the validation folds no candidate (the best: 0.51) nor the linear reference (0.5) "
        "scores above the trivial baseline (0.52), which ignores the features. If no model "
        "does, these rows hold no signal a model can learn (noise level): neither the "
        "training-side fixes nor regularization will raise the validation score above the "
        "baseline's; more data or more informative features will."]
    assert r.evidence["best_validation"] == 0.51
    cv["mean_test_score"][1] = 0.53  # one candidate beats the baseline: no note
    assert not any("no signal" in n for n in diagnose_results(cv, references=refs).notes)


def test_the_next_step_for_poor_training_names_every_training_side_remedy(tmp_path):
    # the lecture's remedies for poor training include training longer and a bigger model
    # (a net too small or stopped too early): the next step named only activation, solver,
    # learning rate and initialization
    from hpsearch.diagnostics import report_section
    from hpsearch.study.report import _BEST_VERDICTS

    cv = results([({"a": 1}, 0.6, 0.58), ({"a": 2}, 0.5, 0.49)])
    cv["rank_test_score"] = np.array([1, 2])
    text = report_section(cv, tmp_path, references=REFS)
    assert "initialization, more epochs, more capacity); dropout and regularization will " \
           "not help" in text
    assert "more epochs, more capacity" in _BEST_VERDICTS["training"]
