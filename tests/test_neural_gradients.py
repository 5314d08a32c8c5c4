"""Finite-difference checks of every analytic gradient of the NumPy core (float64)."""

import numpy as np
import pytest

from hpsearch.neural import Network
from hpsearch.neural.regularizers import L1, L2

ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "maxout"]


def _problem(loss, n_out, rng, n=7, n_in=4):
    X = rng.normal(size=(n, n_in))
    if loss == "softmax_cross_entropy":
        T = rng.integers(0, n_out, size=n)
    elif loss == "binary_cross_entropy":
        T = (rng.random((n, n_out)) < 0.5).astype(float)
    elif loss == "poisson":
        T = rng.poisson(1.5, size=(n, n_out)).astype(float)  # zeros included
    else:
        T = rng.normal(size=(n, n_out))
    return X, T


def _check(net, X, T, penalties=(), dropout_seed=None, eps=1e-6, sample_weight=None):
    rng = np.random.default_rng(0)
    net.theta[...] = rng.normal(scale=0.7, size=net.n_params)
    net.theta[-net.n_params + net.n_penalized:] += 0.1  # biases/slopes away from zero

    def loss_at(theta):
        net.theta[...] = theta
        drop_rng = None if dropout_seed is None else np.random.default_rng(dropout_seed)
        value = net.loss_and_grad(X, T, rng=drop_rng, sample_weight=sample_weight)
        return value + net.penalty(penalties)

    theta0 = net.theta.copy()
    loss_at(theta0)
    analytic = net.grad.copy()
    w = net.theta[: net.n_penalized]
    for pen in penalties:
        pen.add_gradient(w, analytic[: net.n_penalized], np.empty_like(w))
    numeric = np.empty_like(theta0)
    for i in range(theta0.size):
        e = np.zeros_like(theta0)
        e[i] = eps
        numeric[i] = (loss_at(theta0 + e) - loss_at(theta0 - e)) / (2 * eps)
    net.theta[...] = theta0
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_gradients(activation):
    """Every hidden activation, two hidden layers (PReLU slopes and every Maxout piece included)."""
    rng = np.random.default_rng(1)
    X, T = _problem("squared_error", 2, rng)
    net = Network((4, 5, 3, 2), activation, "squared_error", np.float64, leaky_slope=0.1,
                  maxout_pieces=3)
    _check(net, X, T)


def test_prelu_and_maxout_parameters_are_checked():
    net = Network((4, 5, 2), "prelu", "squared_error", np.float64)
    _, _, alphas = net.unpack(net.theta)
    assert [a.shape for a in alphas] == [(5,)]
    net = Network((4, 5, 2), "maxout", "squared_error", np.float64, maxout_pieces=3)
    coefs, intercepts, _ = net.unpack(net.theta)
    assert coefs[0].shape == (4, 15) and intercepts[0].shape == (15,)


@pytest.mark.parametrize("loss,n_out", [("softmax_cross_entropy", 4), ("binary_cross_entropy", 1),
                                        ("binary_cross_entropy", 3), ("squared_error", 1),
                                        ("squared_error", 3), ("poisson", 1), ("poisson", 3)])
def test_output_loss_gradients(loss, n_out):
    rng = np.random.default_rng(2)
    X, T = _problem(loss, n_out, rng)
    _check(Network((4, 6, n_out), "tanh", loss, np.float64), X, T)


@pytest.mark.parametrize("penalties", [[L2(0.3)], [L1(0.2)], [L2(0.3), L1(0.2)]],
                         ids=["l2", "l1", "l1+l2"])
def test_penalty_gradients(penalties):
    rng = np.random.default_rng(3)
    X, T = _problem("softmax_cross_entropy", 3, rng)
    _check(Network((4, 5, 3), "tanh", "softmax_cross_entropy", np.float64), X, T, penalties)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "maxout", "prelu", "leaky_relu"])
def test_dropout_gradients_with_fixed_mask(activation):
    """Hidden and input dropout: the mask is fixed by reseeding the generator per evaluation."""
    rng = np.random.default_rng(4)
    X, T = _problem("softmax_cross_entropy", 3, rng)
    net = Network((4, 6, 5, 3), activation, "softmax_cross_entropy", np.float64, dropout=0.3,
                  input_dropout=0.2)
    _check(net, X, T, dropout_seed=7)
    # the mask really drops something: two different seeds give different losses
    net.theta[...] = np.random.default_rng(0).normal(size=net.n_params)
    a = net.loss_and_grad(X, T, rng=np.random.default_rng(1))
    b = net.loss_and_grad(X, T, rng=np.random.default_rng(2))
    assert a != b


def test_dropout_is_inverted_and_off_at_prediction():
    net = Network((200, 2), "identity", "squared_error", np.float64, input_dropout=0.25)
    X = np.ones((400, 200))
    ws = net.workspace(400)
    dropped = net.layers[0].forward(X, (), ws[0], True, np.random.default_rng(0))
    kept = dropped != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(dropped[kept], 1 / 0.75)  # kept units scaled by 1/(1-p)
    assert net.layers[0].forward(X, (), ws[0], False, None) is X  # nothing at prediction


def test_biases_receive_no_penalty():
    net = Network((4, 5, 3), "prelu", "softmax_cross_entropy", np.float64)
    net.theta[...] = np.random.default_rng(0).normal(size=net.n_params)
    coefs, intercepts, alphas = net.unpack(net.theta)
    gcoefs, gint, galphas = net.unpack(net.grad)
    net.grad[...] = 0
    pens = [L2(0.5), L1(0.25)]
    for pen in pens:
        pen.add_gradient(net.theta[: net.n_penalized], net.grad[: net.n_penalized],
                         np.empty(net.n_penalized))
    for W, gW in zip(coefs, gcoefs):
        np.testing.assert_allclose(gW, 0.5 * W + 0.25 * np.sign(W))
    for g in gint + galphas:
        assert np.all(g == 0)
    expected = sum(0.25 * np.sum(W**2) + 0.25 * np.abs(W).sum() for W in coefs)
    assert net.penalty(pens) == pytest.approx(expected)


@pytest.mark.parametrize("loss,n_out", [("softmax_cross_entropy", 4), ("binary_cross_entropy", 3),
                                        ("squared_error", 2), ("poisson", 2)])
def test_weighted_loss_gradients(loss, n_out):
    """The weighted-mean loss sum_i s_i l_i / sum_i s_i (zero weights included) and its fused
    delta s_i (p_i - t_i) / sum_j s_j, with penalties."""
    rng = np.random.default_rng(5)
    X, T = _problem(loss, n_out, rng)
    sw = np.array([0.5, 2.0, 0.0, 1.0, 3.0, 0.25, 1.5])
    _check(Network((4, 6, n_out), "tanh", loss, np.float64), X, T, [L2(0.3)], sample_weight=sw)


@pytest.mark.parametrize("loss,n_out", [("softmax_cross_entropy", 3), ("squared_error", 2),
                                        ("poisson", 2)])
def test_integer_weights_equal_repeated_rows(loss, n_out):
    """Loss and gradient with integer weights equal those of the rows repeated (0 = dropped)."""
    rng = np.random.default_rng(6)
    X, T = _problem(loss, n_out, rng)
    sw = np.array([1, 3, 0, 2, 1, 0, 4])
    net = Network((4, 5, n_out), "relu", loss, np.float64)
    net.theta[...] = rng.normal(scale=0.5, size=net.n_params)
    weighted = net.loss_and_grad(X, T, sample_weight=sw)
    g_weighted = net.grad.copy()
    repeated = net.loss_and_grad(X.repeat(sw, axis=0), T.repeat(sw, axis=0))
    assert weighted == pytest.approx(repeated, rel=1e-12)
    np.testing.assert_allclose(g_weighted, net.grad, rtol=1e-10, atol=1e-14)


def test_poisson_loss_is_sklearns_half_deviance():
    """hpsearch's mean loss equals sklearn's poisson_loss on the exp output (zeros in y)."""
    from sklearn.neural_network._base import poisson_loss

    rng = np.random.default_rng(7)
    X, T = _problem("poisson", 2, rng, n=20)
    net = Network((4, 3, 2), "tanh", "poisson", np.float64)
    net.theta[...] = rng.normal(scale=0.5, size=net.n_params)
    y_pred = net.predict(X)
    assert net.loss.out_activation == "exp" and np.all(y_pred > 0)
    expected = poisson_loss(T, y_pred)  # mean over rows of the sum over outputs
    assert net.loss_and_grad(X, T) == pytest.approx(expected, rel=1e-12)
    sw = rng.random(20)
    assert net.loss_and_grad(X, T, sample_weight=sw) == pytest.approx(
        poisson_loss(T, y_pred, sample_weight=sw), rel=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_gradients(fmt):
    """A sparse first-layer input (X @ W and X.T @ D as sparse-dense products) gives the dense
    input's loss and gradient, and passes the finite-difference check itself."""
    import scipy.sparse as sp

    rng = np.random.default_rng(8)
    X, T = _problem("softmax_cross_entropy", 3, rng)
    X[rng.random(X.shape) < 0.6] = 0
    Xs = sp.csr_matrix(X).asformat(fmt)
    net = Network((4, 5, 3), "tanh", "softmax_cross_entropy", np.float64)
    _check(net, Xs, T)
    dense_loss = net.loss_and_grad(X, T)
    g_dense = net.grad.copy()
    assert net.loss_and_grad(Xs, T) == pytest.approx(dense_loss, rel=1e-12)
    np.testing.assert_allclose(net.grad, g_dense, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["prelu", "maxout"])
def test_learned_activations_with_dropout_and_both_penalties(activation):
    """PReLU slopes / Maxout pieces under hidden and input dropout with L1 and L2 together:
    the finite-difference check of the full penalized loss (slopes and biases unpenalized)."""
    rng = np.random.default_rng(6)
    X, T = _problem("binary_cross_entropy", 2, rng)
    net = Network((4, 5, 3, 2), activation, "binary_cross_entropy", np.float64, dropout=0.4,
                  input_dropout=0.25, maxout_pieces=3)
    _check(net, X, T, penalties=(L2(0.3), L1(0.2)), dropout_seed=11)


@pytest.mark.parametrize("init,variance", [
    ("glorot", lambda fi, fo: 2.0 / (fi + fo)),   # U(-r, r), r = sqrt(6/(fi+fo)): r^2/3
    ("he", lambda fi, fo: 2.0 / fi),
    ("normal", lambda fi, fo: 1e-4),
])
@pytest.mark.parametrize("activation", ["relu", "maxout", "prelu"])
def test_initialization_variances(init, variance, activation):
    """Each layer's weights have the documented variance (Maxout: fan-out of one piece, the
    units of the layer), mean 0; biases start at 0 and PReLU slopes at prelu_init."""
    net = Network((300, 200, 150, 40), activation, "softmax_cross_entropy", np.float64,
                  maxout_pieces=3, prelu_init=0.3)
    net.initialize(np.random.default_rng(0), init)
    coefs, intercepts, alphas = net.unpack(net.theta)
    for W, (fan_in, units) in zip(coefs, [(300, 200), (200, 150), (150, 40)]):
        want = variance(fan_in, units)
        assert W.var() == pytest.approx(want, rel=0.05)
        assert abs(W.mean()) < 0.05 * np.sqrt(want)
    assert all(np.all(b == 0) for b in intercepts)
    assert all(np.all(a == 0.3) for a in alphas) and len(alphas) == (activation == "prelu") * 2
