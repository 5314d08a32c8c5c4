"""The lecture's recipe (RecipeSearchCV and the diagnostics) on the inputs a demanding
scikit-learn user brings: scorers where lower is better, negative or unbounded scores,
targets in small units, several metrics. Each case is checked against the answer worked out
by hand (or by scikit-learn), not only that it runs."""

import warnings

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
