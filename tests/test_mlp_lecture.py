"""The lecture's behaviour (LECTURE.md §2-§4) on bundled data, and accuracy against sklearn."""

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hpsearch import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_deep_sigmoid_trains_worse_than_relu_on_training_data(digits):
    X, _, y, _ = digits
    kw = dict(hidden_layer_sizes=(32,) * 6, solver="momentum", learning_rate_init=0.01,
              max_iter=20, random_state=0, init="glorot")
    sig = MLPClassifier(activation="sigmoid", **kw).fit(X, y)
    relu = MLPClassifier(activation="relu", **kw).fit(X, y)
    assert sig.score(X, y) < 0.5 < 0.85 < relu.score(X, y)
    # the vanishing gradient is visible in history_: first layer gets far less than the last
    assert sig.history_["grad_norm_0"][-1] < 0.1 * sig.history_["grad_norm_6"][-1]


def test_dropout_lowers_training_accuracy(digits):
    X, _, y, _ = digits
    kw = dict(hidden_layer_sizes=(64,), max_iter=30, random_state=0)
    plain = MLPClassifier(**kw).fit(X, y)
    dropped = MLPClassifier(dropout=0.5, input_dropout=0.2, **kw).fit(X, y)
    assert plain.loss_ < dropped.loss_
    assert dropped.score(X, y) < plain.score(X, y)


def test_l1_gives_more_near_zero_weights_than_l2(digits):
    X, _, y, _ = digits
    kw = dict(hidden_layer_sizes=(32,), max_iter=30, random_state=0, solver="sgd",
              learning_rate_init=0.05)
    # strengths act on the summed batch loss (sklearn's alpha): per-sample 3e-3 and 3e-2
    # times the batch size of 200
    l1 = MLPClassifier(alpha=0, l1=0.6, **kw).fit(X, y)
    l2 = MLPClassifier(alpha=6.0, **kw).fit(X, y)

    def near_zero(est):
        w = np.concatenate([c.ravel() for c in est.coefs_])
        return np.mean(np.abs(w) < 1e-2 * np.abs(w).max())

    assert near_zero(l1) > 2 * near_zero(l2)


def test_early_stopping_stops_and_keeps_best_validation_weights(digits):
    X, _, y, _ = digits
    est = MLPClassifier((64,), learning_rate_init=0.01, max_iter=300, early_stopping=True,
                        n_iter_no_change=5, random_state=0).fit(X, y)
    assert est.n_iter_ < 300
    best = int(np.argmax(est.validation_scores_))
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert best < est.n_iter_ - 1  # it went on after the best epoch, then restored it
    # the restored weights reproduce the best validation score on the same held-out rows
    from sklearn.model_selection import train_test_split as split
    _, val = split(np.arange(len(y)), test_size=0.1, random_state=est._split_seed, stratify=y)
    assert est.score(X[val], y[val]) == pytest.approx(est.best_validation_score_)
    assert not np.array_equal(est._network.theta, est._final_theta)


def _side_by_side(loader, ours, theirs, seeds=range(12), regression=False, **kw):
    """Mean held-out score over 12 seeds (fewer leave it to seed noise), same architecture, epochs, scaling and init scheme
    (sklearn initializes with Glorot uniform, so ours uses ``init="glorot"``)."""
    X, y = loader(return_X_y=True)
    if regression:
        y = y / 100
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0,
                                              stratify=None if regression else y)
    mine, ref = [], []
    for seed in seeds:
        mine.append(make_pipeline(StandardScaler(), ours(random_state=seed, init="glorot", **kw))
                    .fit(X_tr, y_tr).score(X_te, y_te))
        ref.append(make_pipeline(StandardScaler(), theirs(random_state=seed, **kw))
                   .fit(X_tr, y_tr).score(X_te, y_te))
    return np.mean(mine), np.mean(ref)


@pytest.mark.parametrize("name,loader,kw", [
    ("digits", load_digits, dict(hidden_layer_sizes=(64,), max_iter=60)),
    ("breast_cancer", load_breast_cancer, dict(hidden_layer_sizes=(32,), max_iter=60)),
])
def test_classifier_accuracy_at_least_sklearn(name, loader, kw):
    mine, ref = _side_by_side(loader, MLPClassifier, neural_network.MLPClassifier, **kw)
    assert mine >= ref, (mine, ref)


def test_regressor_r2_at_least_sklearn():
    mine, ref = _side_by_side(load_diabetes, MLPRegressor, neural_network.MLPRegressor,
                              regression=True, hidden_layer_sizes=(32,), max_iter=200,
                              learning_rate_init=0.01)
    assert mine >= ref, (mine, ref)


def _stop_epoch(values, tol, patience, greater):
    """The patience rule written out: an epoch counts as 'no improvement' unless it beats
    the best so far by more than tol; training stops at the first epoch where more than
    ``patience`` such epochs in a row have been seen. Returns that epoch (1-based) or None."""
    best, count = (-np.inf if greater else np.inf), 0
    for epoch, v in enumerate(values, start=1):
        improved = v >= best + tol if greater else v <= best - tol
        count = 0 if improved else count + 1
        best = max(best, v) if greater else min(best, v)
        if count > patience:
            return epoch
    return None


@pytest.mark.parametrize("early_stopping", [True, False])
def test_patience_and_tol_by_hand(digits, early_stopping):
    """n_iter_ is where the rule written out above stops on the recorded curve (validation
    scores with early stopping, else the training loss), and early stopping keeps the
    weights of the first best validation epoch."""
    X, _, y, _ = digits
    tol, patience = 2e-3, 3
    est = MLPClassifier((16,), learning_rate_init=0.02, max_iter=200, tol=tol,
                        n_iter_no_change=patience, early_stopping=early_stopping,
                        random_state=0).fit(X, y)
    curve = est.validation_scores_ if early_stopping else est.loss_curve_
    assert len(curve) == est.n_iter_ < 200
    assert _stop_epoch(curve, tol, patience, greater=early_stopping) == est.n_iter_
    if early_stopping:
        from sklearn.model_selection import train_test_split as split
        _, val = split(np.arange(len(y)), test_size=0.1, random_state=est._split_seed,
                       stratify=y)
        best = int(np.argmax(curve))  # the first best epoch
        assert est.score(X[val], y[val]) == pytest.approx(curve[best])
        assert est.best_validation_score_ == curve[best]
