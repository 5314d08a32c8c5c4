"""One hand-computed update per solver, with the formulas of LECTURE.md §2 written out."""

import numpy as np
import pytest

from hpsearch.neural.optimizers import OPTIMIZERS

THETA0 = np.array([0.5, -1.0, 2.0])
G1 = np.array([0.1, -0.4, 0.3])
G2 = np.array([-0.2, 0.5, 0.05])
ETA = 0.1


def _two_steps(name, **options):
    opt = OPTIMIZERS[name](3, np.float64, learning_rate_init=ETA, **options)
    theta = THETA0.copy()
    opt.update(theta, G1.copy())
    first = theta.copy()
    opt.update(theta, G2.copy())
    assert opt.t == 2
    return first, theta, opt


def test_sgd():
    first, second, _ = _two_steps("sgd")
    np.testing.assert_allclose(first, THETA0 - ETA * G1)
    np.testing.assert_allclose(second, THETA0 - ETA * G1 - ETA * G2)


def test_momentum():
    lam = 0.8
    first, second, opt = _two_steps("momentum", momentum=lam)
    v1 = lam * 0 - ETA * G1  # v_0 = 0, v_{t+1} = lambda v_t - eta grad
    v2 = lam * v1 - ETA * G2
    np.testing.assert_allclose(first, THETA0 + v1)
    np.testing.assert_allclose(second, THETA0 + v1 + v2)
    np.testing.assert_allclose(opt.velocity, v2)


def test_nesterov():
    lam = 0.8
    first, second, _ = _two_steps("nesterov", momentum=lam)
    v1 = -ETA * G1
    v2 = lam * v1 - ETA * G2
    np.testing.assert_allclose(first, THETA0 + lam * v1 - ETA * G1)
    np.testing.assert_allclose(second, first + lam * v2 - ETA * G2)


def test_adagrad():
    eps = 1e-8
    first, second, _ = _two_steps("adagrad", epsilon=eps)
    np.testing.assert_allclose(first, THETA0 - ETA / (np.sqrt(G1**2) + eps) * G1)
    np.testing.assert_allclose(second, first - ETA / (np.sqrt(G1**2 + G2**2) + eps) * G2)


def test_rmsprop_lecture_form():
    rho, eps = 0.7, 1e-8
    first, second, _ = _two_steps("rmsprop", rho=rho, epsilon=eps)
    sigma0 = np.abs(G1)  # sigma_0 = |g_0|
    np.testing.assert_allclose(first, THETA0 - ETA / (sigma0 + eps) * G1)
    sigma1 = np.sqrt(rho * sigma0**2 + (1 - rho) * G2**2)
    np.testing.assert_allclose(second, first - ETA / (sigma1 + eps) * G2)


def test_adam():
    b1, b2, eps = 0.9, 0.999, 1e-8
    first, second, opt = _two_steps("adam", beta_1=b1, beta_2=b2, epsilon=eps)
    m = v = 0
    theta = THETA0.copy()
    for t, g in enumerate([G1, G2], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - ETA * m_hat / (np.sqrt(v_hat) + eps)
        if t == 1:
            np.testing.assert_allclose(first, theta, rtol=1e-12)
    np.testing.assert_allclose(second, theta, rtol=1e-12)
    np.testing.assert_allclose(opt.m, m, rtol=1e-12)
    np.testing.assert_allclose(opt.v, v, rtol=1e-12)


def test_adam_beta_change_keeps_moments():
    opt = OPTIMIZERS["adam"](3, np.float64, beta_1=0.9, beta_2=0.99)
    opt.update(THETA0.copy(), G1.copy())
    m, v = opt.m, opt.v
    opt.beta_1, opt.beta_2 = 0.5, 0.9
    opt._rescale()
    np.testing.assert_allclose(opt.m, m)
    np.testing.assert_allclose(opt.v, v)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_in_place_keep_dtype(name, dtype):
    opt = OPTIMIZERS[name](3, dtype)
    theta = THETA0.astype(dtype)
    ref = theta
    opt.update(theta, G1.astype(dtype))
    assert theta is ref and theta.dtype == dtype
    assert not np.array_equal(theta, THETA0.astype(dtype))


# ------------------------------------------------------------ several steps, with penalties
# theta = [w0, w1, w2 | b]: three penalized weights (w1 exactly 0: the L1 subgradient there is
# sign(0) = 0, so L1 alone never moves a zero weight) and one bias (never penalized)
W_THETA0 = np.array([0.5, 0.0, -2.0, 0.3])
N_PEN = 3
GRADS = [np.array([0.1, -0.4, 0.3, 0.2]), np.array([-0.2, 0.5, 0.05, -0.1]),
         np.array([0.3, 0.1, -0.6, 0.4]), np.array([0.0, -0.2, 0.2, -0.3])]
L2_S, L1_S, SCALE = 0.5, 0.25, 1 / 8  # strengths, and 1/m of a batch of 8 rows


def _penalized(theta, g):
    """The gradient the solver sees: g + scale * (l2 w + l1 sign w) on the weights only."""
    full = g.copy()
    w = theta[:N_PEN]
    full[:N_PEN] += SCALE * (L2_S * w + L1_S * np.sign(w))
    return full


def _hand(name, theta, g, state, t, o):
    """One step of each rule, written from LECTURE.md §2 (not from the implementation)."""
    eta = ETA
    if name == "sgd":
        return theta - eta * g
    if name == "momentum":
        state["v"] = o["momentum"] * state.get("v", 0) - eta * g
        return theta + state["v"]
    if name == "nesterov":
        state["v"] = o["momentum"] * state.get("v", 0) - eta * g
        return theta + o["momentum"] * state["v"] - eta * g
    if name == "adagrad":
        state["G"] = state.get("G", 0) + g**2
        return theta - eta / (np.sqrt(state["G"]) + o["epsilon"]) * g
    if name == "rmsprop":
        rho = o["rho"]
        state["s"] = np.abs(g) if t == 1 else np.sqrt(rho * state["s"]**2 + (1 - rho) * g**2)
        return theta - eta / (state["s"] + o["epsilon"]) * g
    b1, b2 = o["beta_1"], o["beta_2"]  # adam
    state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
    state["v"] = b2 * state.get("v", 0) + (1 - b2) * g**2
    m_hat, v_hat = state["m"] / (1 - b1**t), state["v"] / (1 - b2**t)
    return theta - eta * m_hat / (np.sqrt(v_hat) + o["epsilon"])


@pytest.mark.parametrize("name,options", [
    ("sgd", {}), ("momentum", {"momentum": 0.8}), ("nesterov", {"momentum": 0.8}),
    ("adagrad", {"epsilon": 1e-3}), ("rmsprop", {"rho": 0.7, "epsilon": 1e-3}),
    ("adam", {"beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-3}),
])
def test_four_steps_with_l1_and_l2_by_hand(name, options):
    """Four mini-batch steps of every solver with L2 and L1 together (sklearn's scale 1/m),
    against the lecture's formulas: bias unpenalized, the L1 subgradient 0 at w = 0, the
    solver state (velocity, accumulated squares, RMSProp's sigma_0 = |g_0|, Adam's bias
    correction at t = 1..4) carried across steps. A large epsilon makes its placement
    (outside the square root, not bias-corrected) visible."""
    from hpsearch.neural.regularizers import L1, L2

    opt = OPTIMIZERS[name](4, np.float64, learning_rate_init=ETA, **options)
    theta = W_THETA0.copy()
    expected, state = W_THETA0.copy(), {}
    for t, g in enumerate(GRADS, start=1):
        expected = _hand(name, expected, _penalized(expected, g), state, t, options)
        opt.step(theta, g.copy(), [L2(L2_S), L1(L1_S)], N_PEN, SCALE)
        np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-15, err_msg=f"step {t}")
    assert opt.t == len(GRADS)


def test_l1_alone_never_moves_a_zero_weight():
    from hpsearch.neural.regularizers import L1

    opt = OPTIMIZERS["sgd"](4, np.float64, learning_rate_init=ETA)
    theta = W_THETA0.copy()
    opt.step(theta, np.zeros(4), [L1(L1_S)], N_PEN, 1.0)
    np.testing.assert_allclose(theta, [0.5 - ETA * L1_S, 0.0, -2.0 + ETA * L1_S, 0.3])


def test_adam_epsilon_is_algorithm_1s_not_sklearns():
    """The documented difference from scikit-learn's Adam: epsilon is added to
    sqrt(v_hat) (Algorithm 1), where sklearn adds it to sqrt(v) before the bias correction,
    i.e. uses epsilon / sqrt(1 - beta_2^t). With |g| near epsilon the first steps differ."""
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    g, eps, b2 = np.array([1e-3, -2e-3]), 1e-3, 0.999
    ours = OPTIMIZERS["adam"](2, np.float64, learning_rate_init=ETA, epsilon=eps, beta_2=b2)
    theta = np.zeros(2)
    ours.update(theta, g.copy())
    expected = -ETA * g / (np.abs(g) + eps)  # t = 1: m_hat = g, v_hat = g^2
    np.testing.assert_allclose(theta, expected, rtol=1e-12)
    # sklearn's step is Algorithm 1's with epsilon / sqrt(1 - beta_2^t): ours is sklearn's
    # with epsilon * sqrt(1 - beta_2^t), and differs from sklearn's with the same epsilon
    same = AdamOptimizer([np.zeros(2)], ETA, 0.9, b2, eps * np.sqrt(1 - b2))
    np.testing.assert_allclose(same._get_updates([g])[0], theta, rtol=1e-9)
    sklearns = AdamOptimizer([np.zeros(2)], ETA, 0.9, b2, eps)._get_updates([g])[0]
    assert np.all(np.abs(sklearns) < 0.1 * np.abs(theta))  # a 10x smaller first step
