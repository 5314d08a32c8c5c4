"""The lecture's recipe (RecipeSearchCV and the diagnostics) on the inputs a demanding
scikit-learn user brings: scorers where lower is better, negative or unbounded scores,
targets in small units, several metrics. Each case is checked against the answer worked out
by hand (or by scikit-learn), not only that it runs."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from hpsearch import RecipeSearchCV, diagnose
from hpsearch.diagnostics import diagnose_results


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X[:300], y[:300]


def fit(search, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y, **params)


# -- a loss is measured in the target's units ------------------------------------------------
# neg_mean_squared_error of a target in small units (a rate, a return: y of std 0.008, a
# baseline MSE of 6e-5) is the same problem as in large units, every score multiplied by
# the square of the scale: the verdicts must not change. The unit's floor was an absolute
# 1e-3 below a baseline score of magnitude 1, so it dwarfed every improvement of such a
# loss: an unpruned tree (training MSE 0, validation worse than the baseline's) and a ridge
# model at alpha=1e4 (barely above the baseline) were both "none".

@pytest.mark.parametrize("scoring", ["neg_mean_squared_error", "neg_mean_absolute_error"])
@pytest.mark.parametrize("estimator, expected", [
    (DecisionTreeRegressor(random_state=0), "overfitting"),
    (make_pipeline(StandardScaler(), Ridge(alpha=1e4)), "training"),
])
def test_diagnose_of_a_loss_does_not_depend_on_the_targets_units(diabetes, scoring, estimator,
                                                                  expected):
    X, y = diabetes
    for scale in (1.0, 1e-2, 1e-4, 1e-6):
        d = diagnose(estimator, X, y * scale, scoring=scoring, random_state=0)
        assert d.problem == expected, (scale, d.evidence["unit"], str(d))


def test_diagnose_results_of_a_loss_does_not_depend_on_the_targets_units(diabetes):
    # an sklearn-style cv_results_ without references (the search judges itself) and with
    # the references of reference_scores: the same labels at every scale
    from sklearn.model_selection import GridSearchCV

    from hpsearch.diagnostics import reference_scores

    X, y = diabetes
    labels = {}
    for scale in (1.0, 1e-4):
        gs = GridSearchCV(DecisionTreeRegressor(random_state=0),
                          {"max_depth": [1, 2, 4, None]}, cv=3,
                          scoring="neg_mean_squared_error", return_train_score=True).fit(
            X, y * scale)
        refs = reference_scores(DecisionTreeRegressor(), X, y * scale, cv=3,
                                scoring="neg_mean_squared_error")
        labels[scale] = (diagnose_results(gs.cv_results_).labels,
                         diagnose_results(gs.cv_results_, references=refs).labels)
    assert labels[1e-4] == labels[1.0]
    # by hand at scale 1: the stump trains poorly, the unpruned tree overfits
    assert labels[1.0][1][0] == "training" and labels[1.0][1][3] == "overfitting"


def test_recipe_search_of_a_loss_does_not_depend_on_the_targets_units(diabetes):
    X, y = diabetes
    found = {}
    for scale in (1.0, 1e-4):
        s = fit(RecipeSearchCV(
            DecisionTreeRegressor(random_state=0),
            {"max_depth": [1, 2, 3, 6], "min_samples_leaf": [1, 5, 20, 40]},
            training_params=["max_depth"], generalization_params=["min_samples_leaf"],
            n_iter=4, cv=3, random_state=0, scoring="neg_mean_squared_error"), X, y * scale)
        r = s.cv_results_
        found[scale] = ([p for p in r["params"]], list(r["accepted"]), list(r["diagnosis"]),
                        s.best_index_, [st["trains_well"] for st in s.stages_])
    assert found[1e-4] == found[1.0]


def test_diagnose_text_shows_the_numbers_of_a_loss_in_small_units(diabetes):
    # the verdict's sentence printed every number with 3 decimals: "the training
    # neg_mean_squared_error -0.000 is good (threshold -0.000) ... within 0.000 of it (a gap
    # above 0.000 would be overfitting)", nothing a reader could check
    X, y = diabetes
    d = diagnose(make_pipeline(StandardScaler(), Ridge(alpha=1e4)), X, y * 1e-4,
                 scoring="neg_mean_squared_error", random_state=0)
    e, text = d.evidence, str(d)
    assert d.problem == "training"
    assert "-0.000" not in text
    for key in ("train_score", "train_threshold", "linear_train", "baseline_train"):
        assert f"{e[key]:.3g}" in text, (key, text)
    # a number that 3 decimals do not round to 0 reads as before
    d = diagnose(make_pipeline(StandardScaler(), Ridge(alpha=1e4)), X, y,
                 scoring="neg_mean_squared_error", random_state=0)
    assert f"{d.evidence['train_threshold']:.3f}" in str(d)


# -- the recipe's rule redone by hand, on a user's inputs --------------------------------------
def _by_hand(search, metric="score", tau=0.1):
    """The floor, the accepted rows, best_index_ and the labels, from references_ and
    cv_results_ by the documented rule (RecipeSearchCV's docstring)."""
    r, refs = search.cv_results_, search.references_
    b, lin = refs["baseline"][f"train_{metric}"], refs["linear"][f"train_{metric}"]
    R = max(b, lin)
    train = np.asarray(r[f"mean_train_{metric}"], dtype=float)
    test = np.asarray(r[f"mean_test_{metric}"], dtype=float)
    first = np.asarray(r["stage"]) == "training"
    m_star = train[first].max()
    scale = max(-b, 1e-9) if b < 0 else max(1.0, b)
    u = max(max(R, m_star) - b, 1e-3 * scale)
    threshold = R - tau * u
    if (train[first] >= threshold).any():
        floor = threshold
    else:  # the training stage's pick (its best training score) less the margin
        floor = m_star - tau * u
    accepted = train >= floor
    best = int(np.flatnonzero(accepted)[np.argmax(test[accepted])])
    labels = ["training" if tr < threshold else "overfitting" if tr - te > tau * u
              else "none" for tr, te in zip(train, test)]
    return floor, accepted, best, labels


def test_recipe_with_neg_log_loss_string_labels_weights_and_groups_follows_its_rule():
    # a classifier's neg_log_loss (negative, lower is worse), string labels, sample weights
    # and groups: the references and every candidate are scored as scikit-learn's
    # cross_validate scores them on the same splits with the same weights, and the floor,
    # the accepted rows, best_index_ and the labels are the documented rule's
    from sklearn.datasets import load_wine
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.base import clone
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import GroupKFold
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_wine(return_X_y=True)
    y = np.array(["barolo", "grignolino", "barbera"])[y]
    rng = np.random.RandomState(0)
    w, groups = rng.uniform(0.2, 3.0, len(y)), np.arange(len(y)) % 6
    est = DecisionTreeClassifier(random_state=0)
    s = fit(RecipeSearchCV(est, {"max_depth": [1, 2, 4, 8], "min_samples_leaf": [1, 4, 8, 16]},
                           training_params=["max_depth"],
                           generalization_params=["min_samples_leaf"], n_iter=4,
                           cv=GroupKFold(3), scoring="neg_log_loss", random_state=0,
                           return_train_score=True), X, y, groups=groups, sample_weight=w)
    splits = list(GroupKFold(3).split(X, y, groups))

    scorer = get_scorer("neg_log_loss")

    def scores(model, **fit_params):
        # (scikit-learn's searches also weight the scores with the sample_weight given to
        # fit, since 1.7; cross_validate does not, so the splits are scored here)
        out = []
        for train, test in splits:
            fitted = clone(model).fit(X[train], y[train],
                                      **{k: v[train] for k, v in fit_params.items()})
            out.append([scorer(fitted, X[rows], y[rows], sample_weight=w[rows])
                        for rows in (train, test)])
        return tuple(np.mean(out, axis=0))

    refs = s.references_
    assert scores(DummyClassifier(strategy="prior"), sample_weight=w) == pytest.approx(
        (refs["baseline"]["train_score"], refs["baseline"]["test_score"]))
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    assert scores(linear, logisticregression__sample_weight=w) == pytest.approx(
        (refs["linear"]["train_score"], refs["linear"]["test_score"]))
    r = s.cv_results_
    for i, params in enumerate(r["params"]):
        assert scores(est.set_params(**params), sample_weight=w) == pytest.approx(
            (r["mean_train_score"][i], r["mean_test_score"][i]))
    assert set(r["stage"]) == {"training", "generalization"}
    floor, accepted, best, labels = _by_hand(s)
    assert s.train_floor_ == pytest.approx(floor)
    assert list(r["accepted"]) == list(accepted)
    assert s.best_index_ == best and r["rank_test_score"][best] == 1
    assert list(r["diagnosis"]) == labels


@pytest.mark.parametrize("refit", ["mse", "r2"])
def test_recipe_with_several_metrics_judges_by_the_refit_metric(diabetes, refit):
    # scoring={"r2", "neg_mean_squared_error"} with refit="<name>": the stages, the floor,
    # the accepted rows and the labels are those of the refit metric, worked out by hand
    X, y = diabetes
    s = fit(RecipeSearchCV(
        DecisionTreeRegressor(random_state=0),
        {"max_depth": [1, 2, 3, 6], "min_samples_leaf": [1, 5, 20, 40]},
        training_params=["max_depth"], generalization_params=["min_samples_leaf"],
        n_iter=4, cv=3, random_state=0, return_train_score=True,
        scoring={"r2": "r2", "mse": "neg_mean_squared_error"}, refit=refit), X, y)
    floor, accepted, best, labels = _by_hand(s, refit)
    r = s.cv_results_
    assert s.train_floor_ == pytest.approx(floor)
    assert list(r["accepted"]) == list(accepted)
    assert s.best_index_ == best and r[f"rank_test_{refit}"][best] == 1
    assert s.best_score_ == r[f"mean_test_{refit}"][best]
    assert list(r["diagnosis"]) == labels
    assert s.diagnosis_.evidence["best_possible"] == (0.0 if refit == "mse" else 1.0)


def test_deeper_worse_note_shows_the_scores_of_a_loss_in_small_units():
    # seed 003's note printed the best training scores with 3 decimals: "the best training
    # score is -0.000 with 1 hidden layer, only -0.000 with 3", for an MSE of 1e-5 vs 5e-5
    cv = {"params": [{"hidden_layer_sizes": (16,)}, {"hidden_layer_sizes": (16, 16, 16)}],
          "mean_train_score": np.array([-1.2e-5, -5.1e-5]),
          "mean_test_score": np.array([-1.5e-5, -5.3e-5])}
    refs = {"baseline": {"train_score": -6.0e-5, "test_score": -6.1e-5},
            "linear": {"train_score": -2.9e-5, "test_score": -3.2e-5}}
    r = diagnose_results(cv, references=refs)
    assert r.labels == ["none", "training"]
    (note,) = [n for n in r.notes if n.startswith("Deeper")]
    assert note.startswith("Deeper candidates train worse: the best training score is "
                           "-1.2e-05 with 1 hidden layer, only -5.1e-05 with 3.")


def test_report_names_the_floor_of_a_negated_loss(tmp_path):
    # nothing trains above the baseline: the report's threshold line says which floor the
    # unit took, the one the labels were judged with (1e-3 x |baseline| for a negated loss)
    from hpsearch.diagnostics import report_section

    cv = {"params": [{"a": 1}, {"a": 2}], "mean_train_score": np.array([-6.0e-5, -6.2e-5]),
          "mean_test_score": np.array([-6.1e-5, -6.3e-5])}
    refs = {"baseline": {"train_score": -6.0e-5, "test_score": -6.1e-5},
            "linear": {"train_score": -6.0e-5, "test_score": -6.1e-5}}
    r = diagnose_results(cv, references=refs)
    assert r.evidence["unit"] == pytest.approx(6.0e-8)
    text = report_section(cv, tmp_path, references=refs)
    assert ("the unit u = 6e-08 (its floor, 1e-3 x |baseline|, a negated loss's scale: "
            "nothing trained above the baseline)") in text


# -- a scoring the linear reference cannot be scored with ---------------------------------------
# neg_mean_squared_log_error refuses negative predictions, and a ridge model predicts some
# on a target with many zeros: the linear reference is NaN and the rule falls back to the
# trivial baseline alone. diagnose warned; RecipeSearchCV did not, and the weak-reference
# note of both claimed a linear training score it never measured ("the linear reference
# fits the training rows little better than the trivial baseline (-7.134 vs -7.134)").

@pytest.fixture(scope="module")
def zeros(diabetes):
    X, y = diabetes
    return X, np.maximum(y - 120, 0)


def test_diagnose_does_not_claim_a_score_of_a_linear_reference_that_has_none(zeros):
    with pytest.warns(UserWarning, match="The linear reference of diagnose"):
        d = diagnose(DecisionTreeRegressor(max_depth=2, random_state=0), *zeros,
                     scoring="neg_mean_squared_log_error", random_state=0)
    assert np.isnan(d.evidence["linear_train"])
    text = str(d)
    assert "little better than the trivial baseline" not in text
    assert ("Note: the linear reference has no training score (it could not be fitted or "
            "scored with this scoring), so the threshold measures against the trivial "
            "baseline alone (-7.134)") in text


def test_recipe_search_says_its_linear_reference_has_no_score(zeros):
    search = RecipeSearchCV(DecisionTreeRegressor(random_state=0),
                            {"max_depth": [1, 2, 3, 6], "min_samples_leaf": [1, 5, 20]},
                            training_params=["max_depth"],
                            generalization_params=["min_samples_leaf"], n_iter=3, cv=3,
                            random_state=0, scoring="neg_mean_squared_log_error")
    match = (r"The linear reference of RecipeSearchCV \(Pipeline\) has no finite training "
             r"'score' with scoring='neg_mean_squared_log_error' on the search's splits")
    with pytest.warns(UserWarning, match=match):
        search.fit(*zeros)
    assert np.isnan(search.references_["linear"]["train_score"])
    notes = " ".join(search.diagnosis_.notes)
    assert "little better than the trivial baseline" not in notes
    assert ("The linear reference has no training score (it could not be fitted or scored "
            "on these folds with this scoring), so 'poor training'") in notes


# -- scikit-learn's successive halving -------------------------------------------------------
def test_report_and_map_name_the_best_of_sklearns_halving_search(tmp_path):
    # scikit-learn's HalvingGridSearchCV ranks every row, whatever its budget, so rank 1 can
    # be a row of an early round; its best_index_ is the best row of the last round. The
    # report's "best candidate (rank 1)" was max_depth=1 at 60 samples ('none': "nothing to
    # do"), not the search's pick, max_depth=1 at 180 samples, a training problem.
    import importlib

    importlib.import_module("sklearn.experimental.enable_halving_search_cv")
    from sklearn.model_selection import HalvingGridSearchCV

    from hpsearch.diagnostics import reference_scores, report_section
    from hpsearch.diagnostics._plots import _best_row

    X, y = load_diabetes(return_X_y=True)
    h = fit(HalvingGridSearchCV(DecisionTreeRegressor(random_state=0),
                                {"max_depth": [1, 2, 3, 5, 8, None]}, cv=3,
                                scoring="neg_mean_squared_error", return_train_score=True,
                                random_state=0, min_resources=60), X, y)
    r = h.cv_results_
    assert r["rank_test_score"][h.best_index_] != 1  # (the case: rank 1 is an early row)
    refs = reference_scores(DecisionTreeRegressor(), X, y, cv=3,
                            scoring="neg_mean_squared_error")
    labels = diagnose_results(r, references=refs).labels
    text = report_section(r, tmp_path, references=refs)
    best = h.best_index_
    assert (f"- the best candidate (the best of the last round) is {labels[best]!r}: "
            f"training score {r['mean_train_score'][best]:.4g}, validation "
            f"{r['mean_test_score'][best]:.4g}") in text
    y_test = np.asarray(r["mean_test_score"], dtype=float)
    assert _best_row(r, "score", y_test)[0] == best
