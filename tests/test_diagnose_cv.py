"""``diagnose(cv=..., sample_weight=..., params=...)``: the recipe judged on the means over
cross-validation splits (one random split of a small data set is noisy), with weighted
fits and scores."""

import math

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (GroupKFold, KFold, StratifiedKFold, cross_validate,
                                     train_test_split)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from hpsearch import diagnose

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def noisy():
    return make_classification(n_samples=200, n_features=20, n_informative=5, flip_y=0.2,
                               random_state=0)


@pytest.fixture(scope="module")
def weights(noisy):
    _, y = noisy
    return np.where(y == 1, 3.0, 1.0) * np.linspace(0.5, 1.5, len(y))


def test_cv_judges_on_the_means_of_cross_validate(noisy):
    # an int cv is resolved as cross_validate resolves it (StratifiedKFold, unshuffled, for a
    # classifier): the same numbers, split by split
    X, y = noisy
    tree = DecisionTreeClassifier(random_state=0)
    d = diagnose(tree, X, y, cv=5)
    ref = cross_validate(tree, X, y, cv=5, return_train_score=True)
    e = d.evidence
    assert e["n_splits"] == 5
    np.testing.assert_allclose(e["validation_scores"], ref["test_score"])
    np.testing.assert_allclose(e["train_scores"], ref["train_score"])
    assert e["validation_score"] == pytest.approx(ref["test_score"].mean())
    assert e["validation_score_std"] == pytest.approx(ref["test_score"].std())
    assert e["gap"] == pytest.approx(ref["train_score"].mean() - ref["test_score"].mean())
    assert e["n_validation"] == 40 and e["n_train"] == 160
    lin = cross_validate(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                         X, y, cv=5, return_train_score=True)
    assert e["linear_train"] == pytest.approx(lin["train_score"].mean())
    assert e["linear_validation"] == pytest.approx(lin["test_score"].mean())
    assert d.problem == "overfitting"
    assert ("These are means over 5 cross-validation splits (the verdict is on the means): "
            "training score 1.000 ± 0.000, validation 0.675 ± 0.055") in str(d)
    assert str(d).startswith("Overfitting: the training score 1.000 is good")


def test_cv_splitter_and_iterable_are_used_as_given(noisy):
    X, y = noisy
    tree = DecisionTreeClassifier(random_state=0)
    cv = KFold(4, shuffle=True, random_state=1)
    ref = cross_validate(tree, X, y, cv=cv)["test_score"]
    np.testing.assert_allclose(diagnose(tree, X, y, cv=cv).evidence["validation_scores"], ref)
    splits = list(StratifiedKFold(3).split(X, y))
    d = diagnose(tree, X, y, cv=iter(splits))  # (a generator is consumed once)
    np.testing.assert_allclose(d.evidence["validation_scores"],
                               cross_validate(tree, X, y, cv=splits)["test_score"])


def test_default_stays_one_split(noisy):
    X, y = noisy
    d = diagnose(DecisionTreeClassifier(random_state=0), X, y, random_state=0)
    _, X_va, _, y_va = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    model_score = d.model.score(X_va, y_va)
    assert d.evidence["validation_score"] == model_score
    assert d.evidence["n_splits"] == 1 and d.evidence["validation_scores"] == [model_score]
    assert math.isnan(d.evidence["validation_score_std"])
    assert "cross-validation splits" not in str(d)


def test_an_int_cv_with_groups_keeps_every_group_on_one_side():
    rng = np.random.RandomState(0)
    g = np.repeat(np.arange(40), 5)
    X = rng.randn(40, 4)[g] + 0.01 * rng.randn(200, 4)
    y = rng.randint(0, 2, 40)[g]
    knn = KNeighborsClassifier(1)
    # shuffled folds put near-twins on both sides: "none" for a model that only memorizes
    assert diagnose(knn, X, y, cv=StratifiedKFold(4, shuffle=True, random_state=0)
                    ).problem == "none"
    d = diagnose(knn, X, y, cv=4, groups=g)
    ref = cross_validate(knn, X, y, cv=GroupKFold(4), groups=g)["test_score"]
    np.testing.assert_allclose(d.evidence["validation_scores"], ref)
    assert d.problem == "overfitting"


def test_cv_reduces_the_split_noise_of_a_small_data_set(noisy):
    # one random split of 100 rows (20 validate): the verdict depends on the seed, each of
    # the three; over 10 folds, whichever the shuffle, it is one
    X, y = noisy
    model = KNeighborsClassifier(5)
    one = {diagnose(model, X[:100], y[:100], random_state=s).problem for s in range(8)}
    assert one == {"training", "overfitting", "none"}
    assert {diagnose(model, X[:100], y[:100], cv=StratifiedKFold(10, shuffle=True,
                                                                random_state=s)).problem
            for s in range(3)} == {"overfitting"}


def test_sample_weight_weights_the_fit_the_scores_and_the_references(noisy, weights):
    X, y = noisy
    tr, va = next(StratifiedKFold(4).split(X, y))
    d = diagnose(LogisticRegression(), X, y, cv=[(tr, va)], sample_weight=weights)
    by_hand = LogisticRegression().fit(X[tr], y[tr], sample_weight=weights[tr])
    e = d.evidence
    assert e["weighted"] is True
    assert e["train_score"] == pytest.approx(
        by_hand.score(X[tr], y[tr], sample_weight=weights[tr]))
    assert e["validation_score"] == pytest.approx(
        by_hand.score(X[va], y[va], sample_weight=weights[va]))
    base = DummyClassifier().fit(X[tr], y[tr], sample_weight=weights[tr])
    assert e["baseline_train"] == pytest.approx(
        base.score(X[tr], y[tr], sample_weight=weights[tr]))
    assert e["baseline_validation"] == pytest.approx(
        base.score(X[va], y[va], sample_weight=weights[va]))
    lin = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        X[tr], y[tr], logisticregression__sample_weight=weights[tr])
    assert e["linear_validation"] == pytest.approx(
        lin.score(X[va], y[va], sample_weight=weights[va]))
    unweighted = diagnose(LogisticRegression(), X, y, cv=[(tr, va)]).evidence
    assert unweighted["validation_score"] != pytest.approx(e["validation_score"])


def test_sample_weight_goes_to_a_pipeline_final_step_on_one_split(noisy, weights):
    X, y = noisy
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    d = diagnose(pipe, X, y, random_state=0, sample_weight=weights, scoring="accuracy")
    rows = np.arange(len(y))
    tr, va = train_test_split(rows, test_size=0.2, random_state=0, stratify=y)
    by_hand = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        X[tr], y[tr], logisticregression__sample_weight=weights[tr])
    from sklearn.metrics import accuracy_score
    assert d.evidence["validation_score"] == pytest.approx(
        accuracy_score(y[va], by_hand.predict(X[va]), sample_weight=weights[va]))


def test_params_go_to_the_fit_only_cut_to_the_training_rows(noisy, weights):
    # as cross_validate(params=...) without metadata routing: fitted with the weights,
    # scored without them
    X, y = noisy
    d = diagnose(LogisticRegression(), X, y, cv=3, params={"sample_weight": weights})
    ref = cross_validate(LogisticRegression(), X, y, cv=3, params={"sample_weight": weights})
    np.testing.assert_allclose(d.evidence["validation_scores"], ref["test_score"])
    assert d.evidence["weighted"] is False


@pytest.mark.parametrize("kwargs, message", [
    ({"cv": 1}, "The 'cv' parameter of diagnose must be None (one split), an int of at least "
                "2, a cross-validation splitter or an iterable of (train, validation) index "
                "arrays. Got 1 instead."),
    ({"cv": True}, "The 'cv' parameter of diagnose must be None (one split)"),
    ({"cv": "five"}, "The 'cv' parameter of diagnose cannot split these 200 samples"),
    ({"cv": 500}, "The 'cv' parameter of diagnose cannot split these 200 samples"),
    ({"cv": [(np.arange(10), np.array([], dtype=int))]},
     "must give every split non-empty training and validation row indices below "
     "n_samples=200. Got a split of 10 training and 0 validation rows instead."),
    ({"cv": 5, "validation_fraction": 0.3},
     "The 'validation_fraction' parameter of diagnose sizes the one validation part drawn "
     "without cv; with cv the splits are cv's, so it must be left at its default 0.2. Got "
     "validation_fraction=0.3 and cv=5 instead."),
    ({"cv": 5, "X_val": np.zeros((4, 20)), "y_val": np.zeros(4)},
     "The 'cv' parameter of diagnose carves the validation parts from X, y; it must be None "
     "when X_val and y_val are given."),
    ({"sample_weight": np.ones(10)},
     "The 'sample_weight' parameter of diagnose must be an array-like of shape (n_samples,) "
     "= (200,) of numbers, one weight per row of X. Got shape (10,) instead."),
    ({"sample_weight": np.ones((200, 1))}, "Got shape (200, 1) instead."),
    ({"sample_weight": ["a"] * 200}, "The 'sample_weight' parameter of diagnose must be an "
                                     "array-like of shape (n_samples,)"),
    ({"sample_weight": np.r_[-1.0, np.ones(199)]},
     "The 'sample_weight' parameter of diagnose must hold finite, non-negative weights with "
     "a positive sum. Got min=-1, max=1, sum=198 instead."),
    ({"sample_weight": np.r_[np.nan, np.ones(199)]}, "must hold finite, non-negative"),
    ({"sample_weight": np.ones(200), "X_val": np.zeros((4, 20)), "y_val": np.zeros(4)},
     "The 'sample_weight' parameter of diagnose weights the rows of X, y"),
    ({"sample_weight": np.ones(200), "params": {"sample_weight": np.ones(200)}},
     "The 'params' parameter of diagnose must not hold 'sample_weight' when the "
     "'sample_weight' parameter is given"),
    ({"params": [("sample_weight", 1)]}, "The 'params' parameter of diagnose must be a dict "
                                         "of fit parameters or None. Got list instead."),
])
def test_bad_cv_and_weights_name_the_parameter(noisy, kwargs, message):
    X, y = noisy
    with pytest.raises(ValueError) as info:
        diagnose(LogisticRegression(), X, y, **kwargs)
    assert message in str(info.value)


def test_sample_weight_for_a_model_whose_fit_takes_none(noisy):
    X, y = noisy
    with pytest.raises(ValueError, match="The 'sample_weight' parameter of diagnose is passed "
                       "to the fit of the final estimator, KNeighborsClassifier, whose fit "
                       "takes no sample_weight"):
        diagnose(make_pipeline(StandardScaler(), KNeighborsClassifier()), X, y,
                 sample_weight=np.ones(len(y)))


def test_few_validation_rows_over_splits():
    X, y = make_classification(n_samples=8, n_features=4, random_state=0)
    d = diagnose(DecisionTreeClassifier(random_state=0), X, y, cv=2)
    assert "measured on only about 4 row(s) per split over 2 splits" in str(d)


def test_cli_cv_judges_a_group_study_over_group_folds(tmp_path, capsys, monkeypatch):
    import pandas as pd

    from hpsearch.cli import main

    monkeypatch.chdir(tmp_path)
    rng = np.random.RandomState(0)
    g = np.repeat(np.arange(40), 5)
    X = rng.randn(40, 4)[g] + 0.01 * rng.randn(200, 4)
    y = rng.randint(0, 2, 40)[g]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(g=g, y=y)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    path = tmp_path / "knn.yaml"
    path.write_text("data: {path: rows.csv, target: y, groups: g}\n"
                    "estimator: {name: knn_classifier, params: {n_neighbors: 1}}\n"
                    "search: {method: grid, space: {weights: [uniform]}}\n"
                    "cv: {method: group_kfold, n_splits: 3}\nseed: 0\noutput: runs\n",
                    encoding="utf-8")
    assert main(["diagnose", str(path), "--cv", "3", "--out", "next.yaml"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Overfitting: the training score 1.000 is good" in out
    assert "These are means over 3 cross-validation splits" in out
    assert main(["diagnose", str(path), "--cv", "1"]) == 2
    assert "--cv: must be an int of at least 2 (the number of folds). Got '1' instead." \
        in capsys.readouterr().err


def test_a_split_whose_fit_diverged_is_kept_and_makes_the_mean_unstable():
    from sklearn.datasets import load_digits

    from hpsearch import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:750]
    est = MLPClassifier((16,), solver="sgd", momentum=0.0, learning_rate_init=100.0,
                        max_iter=5, random_state=0)
    d = diagnose(est, X, y[:750], cv=3)
    assert d.problem == "training" and d.causes[0] == "unstable"
    assert d.evidence["diverged"].startswith("The training loss became")
    assert math.isnan(d.evidence["train_score"]) and d.evidence["n_splits"] == 3
    assert "diverged" in str(d)
