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
