"""sklearn's solver vocabulary (issue 10): lbfgs, learning-rate schedules, nesterovs_momentum,
the "sgd" mapping, partial_fit's rules. Hand-computed steps, finite differences, sklearn
anchors; continuation of the schedules is in test_mlp_continuation.py."""

import warnings

import numpy as np
import pytest
import scipy.optimize
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.preprocessing import StandardScaler

from hpsearch import MLPClassifier, MLPRegressor
from hpsearch.neural.lbfgs import flat_objective
from hpsearch.neural.network import Network
from hpsearch.neural.optimizers import OPTIMIZERS, resolve_solver
from hpsearch.neural.regularizers import make_penalty
from hpsearch.neural.schedules import current_rate, on_plateau

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# ------------------------------------------------------------------ the "sgd" mapping
@pytest.mark.parametrize("momentum,nesterov,expected", [
    (0.9, True, "nesterov"), (0.9, False, "momentum"), (0.0, True, "sgd"), (0.0, False, "sgd")])
def test_sgd_means_sklearns_sgd(iris, momentum, nesterov, expected):
    X, y = iris
    assert resolve_solver("sgd", momentum, nesterov) == expected
    est = MLPClassifier((4,), solver="sgd", momentum=momentum, nesterovs_momentum=nesterov,
                        max_iter=1).fit(X, y)
    assert type(est._optimizer) is OPTIMIZERS[expected]
    # the lecture's names stay reachable whatever nesterovs_momentum says
    assert resolve_solver("momentum", 0.9, True) == "momentum"
    assert resolve_solver("nesterov", 0.9, False) == "nesterov"


def test_sgd_nesterov_step_is_sklearns_formula():
    # sklearn's SGDOptimizer: v <- mu v - eta g; with Nesterov the update is mu v - eta g
    mu, eta = 0.9, 0.1
    g1, g2 = np.array([0.1, -0.4, 0.3]), np.array([-0.2, 0.5, 0.05])
    theta0 = np.array([0.5, -1.0, 2.0])
    opt = OPTIMIZERS[resolve_solver("sgd", mu, True)](3, np.float64, learning_rate_init=eta,
                                                      momentum=mu)
    theta = theta0.copy()
    v, expected = np.zeros(3), theta0.copy()
    for g in (g1, g2):
        opt.update(theta, g.copy())
        v = mu * v - eta * g
        expected = expected + (mu * v - eta * g)
        np.testing.assert_allclose(theta, expected, rtol=0, atol=1e-15)
    # momentum=0: plain SGD, the same numbers as sklearn's 0 * v - eta * g
    plain = OPTIMIZERS[resolve_solver("sgd", 0.0, True)](3, np.float64, learning_rate_init=eta)
    theta = theta0.copy()
    plain.update(theta, g1.copy())
    np.testing.assert_array_equal(theta, theta0 - eta * g1)


def test_default_sgd_trains_like_sklearn(iris):
    # issue 10: the same code (solver="sgd", sklearn's defaults otherwise) trained differently;
    # now both run Nesterov momentum 0.9: the same training loss on average over seeds
    # (20 seeds: 0.2559 vs 0.2561), while plain SGD (momentum=0) is far behind
    X, y = iris
    ours, theirs, plain = [], [], []
    for seed in range(5):
        kw = dict(hidden_layer_sizes=(10,), solver="sgd", max_iter=100, random_state=seed,
                  learning_rate_init=0.01)
        ours.append(MLPClassifier(**kw).fit(X, y).loss_)
        theirs.append(SkMLPClassifier(**kw).fit(X, y).loss_)
        plain.append(MLPClassifier(momentum=0.0, **kw).fit(X, y).loss_)
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.15)
    assert np.mean(plain) > 2 * np.mean(ours)


# ------------------------------------------------------------------ schedules
def test_schedule_rates_hand_computed():
    eta0 = 0.2
    assert current_rate("constant", eta0, t=1000) == eta0
    assert current_rate("invscaling", eta0, power_t=0.5, t=0) == eta0  # first epoch
    assert current_rate("invscaling", eta0, power_t=0.5, t=99) == pytest.approx(0.2 / 10)
    assert current_rate("invscaling", eta0, power_t=0.25, t=8) == eta0 / 9**0.25
    assert current_rate("adaptive", eta0, reductions=2) == eta0 / 5 / 5
    assert on_plateau("adaptive", 1e-3) == "reduce"
    assert on_plateau("adaptive", 1e-6) == "stop"  # sklearn: rate <= 1e-6 stops
    assert on_plateau("constant", 1.0) == on_plateau("invscaling", 1.0) == "stop"


def test_invscaling_step_in_training(iris):
    # epoch 1 runs at eta0; after it (t_ = 150 samples) eta = eta0 / 151^power_t, as sklearn's
    # iteration_ends(t_); one full batch per epoch, momentum 0: theta_2 = theta_1 - eta g
    X, y = iris
    kw = dict(hidden_layer_sizes=(3,), solver="sgd", momentum=0.0, batch_size="full",
              learning_rate="invscaling", power_t=0.5, learning_rate_init=0.1, alpha=0.0,
              random_state=0, dtype=np.float64, shuffle=False)
    one = MLPClassifier(max_iter=1, **kw).fit(X, y)
    eta = 0.1 / 151**0.5
    assert one._optimizer.learning_rate == eta
    net = one._network
    theta1 = net.theta.copy()
    net.loss_and_grad(X, np.searchsorted(one.classes_, y))
    expected = theta1 - eta * net.grad
    two = MLPClassifier(max_iter=2, **kw).fit(X, y)
    np.testing.assert_allclose(two._network.theta, expected, rtol=1e-12, atol=1e-14)
    assert two._optimizer.learning_rate == 0.1 / 301**0.5


def test_adaptive_divides_by_five_instead_of_stopping(iris):
    X, y = iris
    # tol so large that no epoch improves: the rule fires after n_iter_no_change + 1 epochs
    est = MLPClassifier((4,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.01,
                        tol=1e6, n_iter_no_change=1, max_iter=7, random_state=0).fit(X, y)
    # fired after epochs 2, 4 and 6 (the counter resets after each division)
    assert est._lr_reductions == 3
    assert est._optimizer.learning_rate == 0.01 / 5 / 5 / 5
    assert est.n_iter_ == 7
    # once the rate is <= 1e-6 the rule stops training (sklearn's test_adaptive_learning_rate)
    stop = MLPClassifier((4,), solver="sgd", learning_rate="adaptive", tol=0.5,
                         max_iter=3000, random_state=0).fit(X[:2], [0, 1])
    assert stop.n_iter_ < 3000 and stop._optimizer.learning_rate <= 1e-6


def test_schedule_ignored_by_adaptive_rate_solvers(iris):
    X, y = iris
    est = MLPClassifier((4,), solver="adam", learning_rate="invscaling", max_iter=3,
                        random_state=0).fit(X, y)
    ref = MLPClassifier((4,), solver="adam", max_iter=3, random_state=0).fit(X, y)
    assert est._optimizer.learning_rate == 1e-3
    np.testing.assert_array_equal(est.coefs_[0], ref.coefs_[0])


# ------------------------------------------------------------------ lbfgs
@pytest.mark.parametrize("loss,n_out", [("softmax_cross_entropy", 3),
                                        ("binary_cross_entropy", 2),
                                        ("squared_error", 2)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "maxout"])
def test_lbfgs_flat_objective_gradient(loss, n_out, activation):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4))
    T = {"softmax_cross_entropy": rng.integers(0, 3, 20),
         "binary_cross_entropy": rng.integers(0, 2, (20, 2)).astype(float),
         "squared_error": rng.normal(size=(20, 2))}[loss]
    net = Network((4, 5, n_out), activation, loss, np.float64)
    net.initialize(rng, "glorot")
    net.theta[net.n_penalized:] = rng.normal(scale=0.1, size=net.n_params - net.n_penalized)
    fun = flat_objective(net, X, T, make_penalty(alpha=0.3))
    x0 = net.theta.copy()
    err = scipy.optimize.check_grad(lambda t: fun(t)[0], lambda t: fun(t)[1], x0)
    assert err < 1e-6 * max(1.0, np.linalg.norm(fun(x0)[1]))


def test_lbfgs_matches_sklearn_on_a_convex_problem(iris):
    # no hidden layer: L2-penalized multinomial logistic regression, one minimum
    X, y = iris
    kw = dict(hidden_layer_sizes=(), solver="lbfgs", alpha=1e-2, max_iter=500, tol=1e-8,
              random_state=0)
    ours = MLPClassifier(dtype=np.float64, **kw).fit(X, y)
    theirs = SkMLPClassifier(**kw).fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-3)


def test_lbfgs_reaches_sklearn_level_training_loss(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=100, random_state=0)
    ours = MLPClassifier(**kw).fit(X, y)
    theirs = SkMLPClassifier(**kw).fit(X, y)
    assert ours.loss_ <= max(1.5 * theirs.loss_, 0.02)
    assert ours.score(X, y) >= theirs.score(X, y) - 0.01
    assert 1 <= ours.n_iter_ <= 100 and len(ours.loss_curve_) == ours.n_iter_
    assert ours.best_loss_ == min(ours.loss_curve_) and ours.validation_scores_ is None


def test_lbfgs_limits_warnings_and_warm_start():
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    y = y / y.std()
    with pytest.warns(ConvergenceWarning, match=r"lbfgs failed to converge after \d+ it"):
        est = MLPRegressor((8,), solver="lbfgs", max_fun=10, tol=0.0, random_state=0).fit(X, y)
    assert est.n_iter_ <= 10
    with pytest.warns(ConvergenceWarning, match=r"Increase the number of iterations.*max_iter=3"):
        est = MLPRegressor((8,), solver="lbfgs", max_iter=3, warm_start=True, tol=0.0,
                           random_state=0).fit(X, y)
    first = est.loss_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(max_iter=20).fit(X, y)  # continues from the weights, as sklearn
    assert est.n_iter_ == 20 and est.loss_ < first
    assert len(est.history_["epoch"]) == 23


def test_lbfgs_refuses_dropout_and_partial_fit(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"solver='lbfgs'.*dropout=0.2"):
        MLPClassifier((4,), solver="lbfgs", dropout=0.2).fit(X, y)
    for cls in (MLPClassifier, MLPRegressor):
        assert not hasattr(cls(solver="lbfgs"), "partial_fit")
        assert hasattr(cls(solver="sgd"), "partial_fit")


# ------------------------------------------------------------------ partial_fit (item 11)
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_partial_fit_after_early_stopping_fit_raises_like_sklearn(iris, cls):
    X, y = iris
    est = cls((4,), early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    before = est.predict(X)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        est.partial_fit(X, y)
    np.testing.assert_array_equal(est.predict(X), before)
    # without early stopping, partial_fit trains the live weights and predictions move
    est.set_params(early_stopping=False)
    proba = est.predict_proba(X) if cls is MLPClassifier else est.predict(X)
    est.partial_fit(X, y)
    after = est.predict_proba(X) if cls is MLPClassifier else est.predict(X)
    assert not np.array_equal(proba, after)


def test_partial_fit_checks_y_against_classes(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        MLPClassifier((4,)).partial_fit(X, y, classes=[0, 1])
    est = MLPClassifier((4,)).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="is not the same as on last call"):
        est.partial_fit(X, y, classes=[1, 2, 3])


# ------------------------------------------------------------------ init="auto" (item 13)
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
def test_auto_init_starts_from_sklearns_weights(iris, activation):
    X, y = iris
    kw = dict(hidden_layer_sizes=(5, 3), activation=activation, solver="sgd", max_iter=1,
              learning_rate_init=1e-12, random_state=7)
    ours = MLPClassifier(dtype=np.float64, **kw).fit(X, y)
    theirs = SkMLPClassifier(**kw).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    glorot = MLPClassifier(init="glorot", **kw).fit(X, y)  # ours: weights only, biases 0
    assert np.abs(glorot.intercepts_[0]).max() < 1e-9


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_same_random_state_follows_sklearns_trajectory(solver):
    # same initial weights and the same shuffles: sklearn-written code trains the same
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(8,), solver=solver, batch_size=32, max_iter=5,
              learning_rate_init=0.01, random_state=1)
    ours = MLPClassifier(dtype=np.float64, **kw).fit(X, y)
    theirs = SkMLPClassifier(**kw).fit(X, y)
    # Adam: the lecture's epsilon is added to sqrt(v_hat), sklearn's to sqrt(v) (an epsilon
    # 1/sqrt(1 - beta_2^t) larger in v_hat terms): ~1e-6 apart after 5 epochs
    tol = dict(rtol=1e-4, atol=1e-6) if solver == "adam" else dict(rtol=1e-9, atol=1e-12)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, **tol)
    # sklearn's epoch loss adds each batch's penalty at that batch's weights; ours the last's
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)


# ------------------------------------------------- whole epochs of the estimator, by hand
def _hand_epochs(X, T, coefs, intercepts, alphas, activation, loss, n_epochs, eta, l2, l1,
                 pieces=2):
    """Full-batch plain gradient descent written from LECTURE.md §1-§3 with NumPy only:
    batch-mean loss, L2 + L1 on the weights (sklearn's scale 1/n), biases and PReLU slopes
    unpenalized. Returns the parameters and the reported loss of every epoch."""
    W, b, a = [c.copy() for c in coefs], [i.copy() for i in intercepts], [s.copy() for s in alphas]
    n, losses = X.shape[0], []
    for _ in range(n_epochs):
        A, Zs, args = [X], [], []
        for k in range(len(W)):  # forward
            Z = A[-1] @ W[k] + b[k]
            if k == len(W) - 1:
                break
            Zs.append(Z)
            if activation == "prelu":
                A.append(np.where(Z > 0, Z, a[k] * Z))
            else:  # maxout, piece-major columns
                u = Z.shape[1] // pieces
                P = Z.reshape(n, pieces, u)
                args.append(P.argmax(axis=1))
                A.append(P.max(axis=1))
        if loss == "squared_error":
            out, T = Z, T.reshape(n, -1)
            data = 0.5 * np.sum((out - T) ** 2) / n
            D = (out - T) / n
        else:  # softmax cross-entropy, T: class codes
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            P = E / E.sum(axis=1, keepdims=True)
            data = -np.mean(np.log(P[np.arange(n), T]))
            D = P.copy()
            D[np.arange(n), T] -= 1
            D /= n
        penalty = sum(0.5 * l2 * np.sum(w**2) + l1 * np.abs(w).sum() for w in W) / n
        losses.append(data + penalty)
        gW, gb, ga = [None] * len(W), [None] * len(W), [None] * len(a)
        for k in range(len(W) - 1, -1, -1):  # backward
            gW[k] = A[k].T @ D + (l2 * W[k] + l1 * np.sign(W[k])) / n
            gb[k] = D.sum(axis=0)
            if k == 0:
                break
            dA = D @ W[k].T
            Z = Zs[k - 1]
            if activation == "prelu":
                ga[k - 1] = np.sum(dA * np.minimum(Z, 0), axis=0)
                D = dA * np.where(Z > 0, 1.0, a[k - 1])
            else:
                u = dA.shape[1]
                D = np.zeros_like(Z)
                for j in range(pieces):
                    D[:, j * u:(j + 1) * u] = dA * (args[k - 1] == j)
        W = [w - eta * g for w, g in zip(W, gW)]
        b = [v - eta * g for v, g in zip(b, gb)]
        a = [s - eta * g for s, g in zip(a, ga)]
    return W, b, a, losses


@pytest.mark.parametrize("est,activation", [
    (MLPRegressor((3, 2), activation="prelu", prelu_init=0.3), "prelu"),
    (MLPClassifier((3,), activation="maxout", maxout_pieces=3), "maxout"),
], ids=["prelu-regressor", "maxout-classifier"])
def test_three_full_batch_epochs_by_hand_with_l1_and_l2(est, activation):
    """The estimator's epochs equal the lecture's formulas computed by hand: after one epoch
    (whatever the initialization), two more full-batch plain-SGD epochs with L2 and L1
    together update the weights, biases and learned PReLU slopes exactly as the NumPy
    reference above, and loss_curve_ reports each epoch's batch-mean loss plus penalty at
    the weights the epoch started from."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(11, 4))
    y = X @ rng.normal(size=4) + 0.3 * rng.normal(size=11)
    if activation == "maxout":
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))  # 3 classes: softmax
    eta, l2, l1 = 0.05, 0.4, 0.3
    est.set_params(solver="sgd", momentum=0.0, batch_size="full", shuffle=False, alpha=l2,
                   l1=l1, learning_rate_init=eta, max_iter=1, tol=0.0, dtype=np.float64,
                   random_state=0).fit(X, y)
    start = ([c.copy() for c in est.coefs_], [i.copy() for i in est.intercepts_],
             [s.copy() for s in est.prelu_alphas_])
    est.set_params(warm_start=True, max_iter=2).fit(X, y)
    W, b, a, losses = _hand_epochs(X, y, *start, activation,
                                   "squared_error" if activation == "prelu" else "softmax",
                                   2, eta, l2, l1, pieces=3)
    for got, want in zip(est.coefs_ + est.intercepts_ + est.prelu_alphas_, W + b + a):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.loss_curve_[1:], losses, rtol=1e-10)
    if activation == "prelu":  # the slopes did learn (not only the weights)
        assert not np.allclose(est.prelu_alphas_[0], start[2][0])
