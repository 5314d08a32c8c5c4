"""Exact continuation (warm_start, partial_fit, pickle, another process) and sample_index."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from hpsearch import MLPClassifier, MLPRegressor

SOLVERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


def _same(a, b):
    return (all(np.array_equal(u, v) for u, v in zip(a.coefs_, b.coefs_))
            and all(np.array_equal(u, v) for u, v in zip(a.intercepts_, b.intercepts_)))


def _params(solver, **kw):
    lr = 0.05 if solver in ("sgd", "momentum", "nesterov") else 0.01
    return dict(hidden_layer_sizes=(12,), solver=solver, learning_rate_init=lr, dropout=0.2,
                input_dropout=0.1, batch_size=50, random_state=3, **kw)


@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start_continues_bit_identically_through_pickle(digits, solver):
    X, y = digits
    straight = MLPClassifier(max_iter=5, **_params(solver)).fit(X, y)
    part = MLPClassifier(max_iter=2, **_params(solver)).fit(X, y)
    part = pickle.loads(pickle.dumps(part))
    part.set_params(warm_start=True, max_iter=3).fit(X, y)
    assert _same(straight, part)
    # n_iter_ counts the epochs of this call (sklearn); t_ and history_ count them all
    assert part.n_iter_ == 3 and part.t_ == straight.t_
    assert part.history_["epoch"] == straight.history_["epoch"] == [1, 2, 3, 4, 5]
    assert part.loss_curve_ == straight.loss_curve_
    assert part._optimizer.t == straight._optimizer.t


@pytest.mark.parametrize("solver", SOLVERS)
def test_partial_fit_equals_fit(digits, solver):
    X, y = digits
    straight = MLPClassifier(max_iter=3, **_params(solver)).fit(X, y)
    inc = MLPClassifier(**_params(solver))
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.arange(10))
    assert _same(straight, inc)
    assert inc.n_iter_ == 1 and inc.history_["epoch"][-1] == 3  # one epoch per call, as sklearn


SCHEDULED = [  # (solver, learning_rate, extra parameters): every solver state with a schedule
    ("sgd", "invscaling", {}),
    ("sgd", "adaptive", {}),
    ("sgd", "adaptive", {"nesterovs_momentum": False}),
    ("sgd", "invscaling", {"momentum": 0.0}),
    ("momentum", "adaptive", {}),
    ("nesterov", "invscaling", {"power_t": 0.25}),
]


@pytest.mark.parametrize("solver,schedule,extra", SCHEDULED)
def test_schedule_state_continues_bit_identically(digits, solver, schedule, extra):
    X, y = digits
    # adaptive: tol so large that the rate is divided after epochs 3 and 5; the others never
    # stop early (so that 6 partial_fit calls equal one fit)
    adaptive = schedule == "adaptive"
    kw = dict(_params(solver), learning_rate=schedule, tol=1e6,
              n_iter_no_change=1 if adaptive else np.inf, **extra)
    straight = MLPClassifier(max_iter=6, **kw).fit(X, y)
    part = MLPClassifier(max_iter=2, **kw).fit(X, y)
    part = pickle.loads(pickle.dumps(part))
    part.set_params(warm_start=True, max_iter=4).fit(X, y)
    assert _same(straight, part)
    assert part.loss_curve_ == straight.loss_curve_
    assert part._optimizer.learning_rate == straight._optimizer.learning_rate
    assert part._lr_reductions == straight._lr_reductions == (2 if adaptive else 0)
    assert straight._optimizer.learning_rate < straight.learning_rate_init
    inc = MLPClassifier(**kw)
    for _ in range(6):  # partial_fit runs the same schedule (sklearn's adaptive does too)
        inc.partial_fit(X, y, classes=np.arange(10))
    assert _same(straight, inc) and inc._lr_reductions == straight._lr_reductions


def test_warm_start_with_early_stopping_continues_from_live_weights(digits):
    X, y = digits
    kw = dict(_params("adam"), early_stopping=True, n_iter_no_change=50)
    straight = MLPClassifier(max_iter=6, **kw).fit(X, y)
    part = MLPClassifier(max_iter=2, **kw).fit(X, y)
    part.set_params(warm_start=True, max_iter=4).fit(X, y)
    assert _same(straight, part)
    assert part.validation_scores_ == straight.validation_scores_
    np.testing.assert_array_equal(part._network.theta, straight._network.theta)


def test_regressor_partial_fit_equals_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = X @ rng.normal(size=(5, 2))
    kw = dict(hidden_layer_sizes=(8,), batch_size=16, random_state=0, dropout=0.1)
    straight = MLPRegressor(max_iter=4, **kw).fit(X, y)
    inc = MLPRegressor(**kw)
    for _ in range(4):
        inc.partial_fit(X, y)
    assert _same(straight, inc)


def test_state_continues_in_another_process(digits, tmp_path):
    X, y = digits
    kw = _params("adam")
    straight = MLPClassifier(max_iter=4, **kw).fit(X, y)
    part = MLPClassifier(max_iter=2, **kw).fit(X, y)
    path = tmp_path / "state.pkl"
    path.write_bytes(pickle.dumps((part, X, y)))
    code = (
        "import pickle, sys, warnings; warnings.simplefilter('ignore');"
        f"est, X, y = pickle.loads(open({str(path)!r}, 'rb').read());"
        "est.set_params(warm_start=True, max_iter=2).fit(X, y);"
        f"open({str(path)!r}, 'wb').write(pickle.dumps(est))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    other = pickle.loads(path.read_bytes())
    assert _same(straight, other)
    assert other.predict(X).tolist() == straight.predict(X).tolist()


@pytest.mark.parametrize("early_stopping", [False, True])
def test_sample_index_equals_fit_on_subset(digits, early_stopping):
    X, y = digits
    idx = np.random.default_rng(0).permutation(len(X))[:400]
    kw = dict(_params("adam"), max_iter=3, early_stopping=early_stopping)
    a = MLPClassifier(**kw).fit(X, y, sample_index=idx)
    b = MLPClassifier(**kw).fit(X[idx], y[idx])
    assert _same(a, b)
    assert a.loss_curve_ == b.loss_curve_


def test_sample_index_regressor_and_float64_input_in_float32():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6))
    y = X[:, 0] - 2 * X[:, 1]
    idx = np.arange(0, 200, 3)
    kw = dict(hidden_layer_sizes=(7,), max_iter=3, random_state=0, batch_size=10)
    a = MLPRegressor(**kw).fit(X, y, sample_index=idx)
    b = MLPRegressor(**kw).fit(X[idx], y[idx])
    assert _same(a, b)
    assert a.coefs_[0].dtype == np.float32


def test_sample_index_is_validated(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"The 'sample_index' parameter of fit must index rows"):
        MLPClassifier(max_iter=1).fit(X, y, sample_index=[0, 1, len(X)])
    with pytest.raises(ValueError, match=r"non-empty 1-D array of integer"):
        MLPClassifier(max_iter=1).fit(X, y, sample_index=[0.5, 1.0])


def test_refit_without_warm_start_restarts(digits):
    X, y = digits
    est = MLPClassifier(max_iter=2, **_params("adam")).fit(X, y)
    first = [c.copy() for c in est.coefs_]
    est.fit(X, y)
    assert est.n_iter_ == 2
    assert all(np.array_equal(u, v) for u, v in zip(first, est.coefs_))


def test_warm_start_may_change_dropout_and_learning_rate(digits):
    X, y = digits
    est = MLPClassifier(max_iter=1, **_params("adam")).fit(X, y)
    est.set_params(warm_start=True, dropout=0.0, learning_rate_init=1e-4).fit(X, y)
    assert est.n_iter_ == 1 and est._optimizer.learning_rate_init == 1e-4
    assert est._optimizer.learning_rate == 1e-4 and est.history_["epoch"] == [1, 2]
    with pytest.raises(ValueError, match="cannot change the network structure"):
        est.set_params(hidden_layer_sizes=(5,)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match=r"Maximum iterations \(1\) reached"):
            MLPClassifier(max_iter=1, **_params("adam")).fit(X, y)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start", "pickled"])
def test_weights_set_before_training_are_the_start(digits, how):
    """scikit-learn's partial_fit and warm-started fit start from the coefs_/intercepts_ set
    on an untrained MLP (its test_fit); we drew fresh weights over them. A plain fit
    ignores them, as scikit-learn."""
    X, y = digits[0][:100], digits[1][:100]
    kw = dict(hidden_layer_sizes=(4,), solver="sgd", momentum=0, learning_rate_init=0.05,
              shuffle=False, max_iter=1, random_state=0)
    drawn = MLPClassifier(**kw).fit(X, y)
    W = [2 * c for c in drawn.coefs_]
    b = [i + 0.1 for i in drawn.intercepts_]
    surgery = MLPClassifier(**kw).fit(X, y)  # one epoch from W, b by the tested path
    surgery.coefs_, surgery.intercepts_ = [w.copy() for w in W], [c.copy() for c in b]
    surgery.partial_fit(X, y)
    est = MLPClassifier(warm_start=how == "warm_start", **kw)
    est.coefs_, est.intercepts_ = [w.copy() for w in W], [c.copy() for c in b]
    if how == "pickled":
        est = pickle.loads(pickle.dumps(est))
    if how == "warm_start":
        est.fit(X, y)
    else:
        est.partial_fit(X, y, classes=np.unique(y))
    for u, v in zip(est.coefs_ + est.intercepts_, surgery.coefs_ + surgery.intercepts_):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    plain = MLPClassifier(**kw)
    plain.coefs_, plain.intercepts_ = W, b
    assert _same(plain.fit(X, y), drawn)
