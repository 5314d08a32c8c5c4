"""hpsearch's MLPs, splitters and searches inside scikit-learn's meta-estimators and tools.

Each test runs the scikit-learn tool twice on the same data: once around hpsearch's
objects, once around scikit-learn's twins (``MLPClassifier`` with the same settings,
``ShuffleSplit`` for ``MonteCarloCV``, ``GridSearchCV``), and asserts the same result:
the same indices, probabilities, thresholds, selected features or scores. The MLPs train
with ``solver="sgd"`` and ``dtype=np.float64``, where hpsearch follows scikit-learn's
trajectory to rounding (README, "Differences from scikit-learn").
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import model_selection as skms
from sklearn import neural_network as sknn
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.ensemble import BaggingClassifier, StackingClassifier, VotingClassifier
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.inspection import partial_dependence, permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import ClassifierChain, MultiOutputClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import hpsearch
from hpsearch import model_selection as hms

_SETTINGS = dict(hidden_layer_sizes=(6,), solver="sgd", max_iter=15, random_state=0,
                 learning_rate_init=0.05)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Mm]aximum iterations")
        yield


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    order = np.random.RandomState(0).permutation(len(y))
    return X[order], y[order]


def ours(**params):
    return hpsearch.MLPClassifier(**{**_SETTINGS, **params}, dtype=np.float64)


def theirs(**params):
    return sknn.MLPClassifier(**{**_SETTINGS, **params})


def assert_same(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def _splits(cv, X, y):
    return [(list(train), list(test)) for train, test in cv.split(X, y)]


@pytest.mark.parametrize("stratify", [False, True])
def test_random_splitters_draw_sklearns_indices(data, stratify):
    X, y = data
    twin = skms.StratifiedShuffleSplit if stratify else skms.ShuffleSplit
    assert _splits(hms.MonteCarloCV(4, test_size=0.3, stratify=stratify, random_state=3),
                   X, y) == _splits(twin(4, test_size=0.3, random_state=3), X, y)
    train, test = next(hms.Holdout(0.3, stratify=stratify, random_state=3).split(X, y))
    tts = skms.train_test_split(np.arange(len(y)), test_size=0.3, random_state=3,
                                stratify=y if stratify else None)
    assert [list(train), list(test)] == [list(part) for part in tts]
    assert _splits(hms.LeavePOut(2), X[:12], y[:12]) == _splits(skms.LeavePOut(2),
                                                                X[:12], y[:12])


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibrated_classifier_cv(data, method):
    X, y = data
    w = np.random.RandomState(1).randint(0, 4, len(y)).astype(float)
    a = CalibratedClassifierCV(ours(), cv=hms.MonteCarloCV(3, random_state=0),
                               method=method).fit(X, y, sample_weight=w)
    b = CalibratedClassifierCV(theirs(), cv=skms.ShuffleSplit(3, test_size=0.2,
                                                              random_state=0),
                               method=method).fit(X, y, sample_weight=w)
    assert_same(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_allclose(a.predict_proba(X).sum(axis=1), 1)


def test_cross_val_predict_proba_with_a_class_missing_from_a_fold(data):
    X, y = data
    order = np.argsort(y, kind="stable")  # the first training fold lacks class 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        a = skms.cross_val_predict(ours(), X[order], y[order], cv=hms.KFold(3),
                                   method="predict_proba")
        b = skms.cross_val_predict(theirs(), X[order], y[order], cv=skms.KFold(3),
                                   method="predict_proba")
    assert_same(a, b)


def test_ensembles(data):
    X, y = data
    labels = np.array(["x", "b", "a"])[y]
    w = np.random.RandomState(1).randint(0, 4, len(y)).astype(float)
    stack = [StackingClassifier([("m", est), ("l", LogisticRegression())], cv=cv)
             .fit(X, labels, sample_weight=w)
             for est, cv in [(ours(), hms.KFold(3, shuffle=True, random_state=0)),
                             (theirs(), skms.KFold(3, shuffle=True, random_state=0))]]
    assert_same(stack[0].predict_proba(X), stack[1].predict_proba(X))
    assert list(stack[0].classes_) == ["a", "b", "x"]
    vote = [VotingClassifier([("p", make()), ("q", make(random_state=1))], voting="soft")
            .fit(X, labels) for make in (ours, theirs)]
    assert_same(vote[0].predict_proba(X), vote[1].predict_proba(X))
    bag = [BaggingClassifier(make(), n_estimators=2, random_state=0)
           .fit(X, y, sample_weight=w) for make in (ours, theirs)]
    assert_same(bag[0].predict_proba(X), bag[1].predict_proba(X))


def test_tuned_threshold_and_feature_selection(data):
    X, y = data
    binary = (y == 1).astype(int)
    a = skms.TunedThresholdClassifierCV(ours(), cv=hms.Holdout(random_state=0)).fit(X, binary)
    b = skms.TunedThresholdClassifierCV(
        theirs(), cv=skms.ShuffleSplit(1, test_size=0.2, random_state=0)).fit(X, binary)
    assert a.best_threshold_ == pytest.approx(b.best_threshold_)
    sfs = [SequentialFeatureSelector(make(), n_features_to_select=2, cv=cv).fit(X, y)
           for make, cv in [(ours, hms.MonteCarloCV(2, random_state=0)),
                            (theirs, skms.ShuffleSplit(2, test_size=0.2, random_state=0))]]
    assert list(sfs[0].get_support()) == list(sfs[1].get_support())


def test_multiclass_and_multioutput(data):
    X, y = data
    Y = np.c_[y == 1, X[:, 0] > 5.8, X[:, 2] > 4].astype(int)
    ovr = [OneVsRestClassifier(make()).fit(X, y) for make in (ours, theirs)]
    assert_same(ovr[0].predict_proba(X), ovr[1].predict_proba(X))
    multi = [MultiOutputClassifier(make()).fit(X, Y) for make in (ours, theirs)]
    for a, b in zip(multi[0].predict_proba(X), multi[1].predict_proba(X)):
        assert_same(a, b)
    chain = [ClassifierChain(make(), order=[1, 0, 2], cv=cv, chain_method="predict_proba")
             .fit(X, Y) for make, cv in [(ours, hms.KFold(3)), (theirs, skms.KFold(3))]]
    assert_same(chain[0].predict_proba(X), chain[1].predict_proba(X))


def test_inspection_on_a_fitted_mlp_and_search(data):
    X, y = data
    grid = {"alpha": [1e-4, 1e-1]}
    fitted = [(ours().fit(X, y), theirs().fit(X, y)),
              (hpsearch.GridSearchCV(ours(), grid, cv=hms.KFold(3)).fit(X, y),
               skms.GridSearchCV(theirs(), grid, cv=skms.KFold(3)).fit(X, y))]
    for a, b in fitted:
        assert_same(permutation_importance(a, X, y, n_repeats=2, random_state=0).importances,
                    permutation_importance(b, X, y, n_repeats=2, random_state=0).importances)
        assert_same(partial_dependence(a, X, [0], grid_resolution=4)["average"],
                    partial_dependence(b, X, [0], grid_resolution=4)["average"])


def test_curves_and_permutation_test(data):
    X, y = data
    a = skms.learning_curve(ours(), X, y, cv=hms.MonteCarloCV(2, random_state=0),
                            train_sizes=[0.5, 1.0])
    b = skms.learning_curve(theirs(), X, y, cv=skms.ShuffleSplit(2, test_size=0.2,
                                                                 random_state=0),
                            train_sizes=[0.5, 1.0])
    for u, v in zip(a, b):
        assert_same(u, v)
    a = skms.validation_curve(ours(), X, y, param_name="alpha", param_range=[1e-4, 1.0],
                              cv=hms.Holdout(random_state=0))
    b = skms.validation_curve(theirs(), X, y, param_name="alpha", param_range=[1e-4, 1.0],
                              cv=skms.ShuffleSplit(1, test_size=0.2, random_state=0))
    assert_same(a, b)
    a = skms.permutation_test_score(ours(), X, y, cv=hms.KFold(3), n_permutations=3,
                                    random_state=0)
    b = skms.permutation_test_score(theirs(), X, y, cv=skms.KFold(3), n_permutations=3,
                                    random_state=0)
    assert_same(a[1], b[1])
    assert a[0] == pytest.approx(b[0]) and a[2] == pytest.approx(b[2])


def test_search_in_a_column_transformer_pipeline_inside_sklearns_search(data):
    X, y = data
    df = pd.DataFrame(X, columns=list("abcd")).assign(
        kind=np.array(["u", "v", "w"])[np.arange(len(y)) % 3])
    labels = np.array(["x", "b", "a"])[y]

    def nested(inner_search, make, cv):
        columns = ColumnTransformer([("num", StandardScaler(), list("abcd")),
                                     ("cat", OneHotEncoder(), ["kind"])])
        pipe = Pipeline([("ct", columns),
                         ("search", inner_search(make(), {"alpha": [1e-4, 1e-1]}, cv=cv(2)))])
        return skms.GridSearchCV(pipe, {"ct__num": [StandardScaler(), "passthrough"]},
                                 cv=cv(2, shuffle=True, random_state=0))

    a = nested(hpsearch.GridSearchCV, ours, hms.KFold).fit(df, labels)
    b = nested(skms.GridSearchCV, theirs, skms.KFold).fit(df, labels)
    assert_same(a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"])
    assert_same(a.predict_proba(df), b.predict_proba(df))
    assert a.best_estimator_[-1].best_estimator_.n_features_in_ == 7
    again = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(again.predict_proba(df), a.predict_proba(df))
    refit = clone(a).fit(df, labels)
    np.testing.assert_array_equal(refit.predict_proba(df), a.predict_proba(df))
