"""The fast paths give the same numbers as the plain ones.

- every fused (numba) penalty + solver kernel is bit-identical to the NumPy passes; Adam equals
  the textbook Adam formula (LECTURE.md §2) to rounding;
- a whole fit is bit-identical with and without the kernel;
- mini-batches gathered by index into the preallocated buffer equal copied rows.
"""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch import MLPClassifier
from hpsearch.neural import kernels
from hpsearch.neural.layers import ActivationLayer, PReLU
from hpsearch.neural.network import gather_rows
from hpsearch.neural.optimizers import OPTIMIZERS
from hpsearch.neural.regularizers import make_penalty

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

needs_numba = pytest.mark.skipif(not kernels.numba_available(), reason="numba not installed")

PENALTIES = [{}, {"alpha": 1e-2}, {"l1": 1e-3}, {"alpha": 1e-2, "l1": 1e-3}]


@pytest.fixture
def fused_always(monkeypatch):
    """Use the fused kernel for any network size, from the first step."""
    monkeypatch.setattr(kernels, "MIN_FUSED_PARAMS", 0)
    kernels.load()


@pytest.fixture
def numpy_only(monkeypatch):
    """Force the NumPy path (as in a process without numba)."""
    monkeypatch.setitem(kernels._STATE, "kernels", None)
    monkeypatch.setitem(kernels._STATE, "loaded", True)


def _arrays(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(4)]
    theta[::17] = 0  # sign(0) = 0 for L1
    return theta, grads


def _run(theta, grads, penalties, n_pen, dtype, fused, solver="adam"):
    opt = OPTIMIZERS[solver](theta.size, dtype, learning_rate_init=1e-2)
    if not fused:
        opt._fused_step = lambda *args: False
    theta = theta.copy()
    for k, g in enumerate(grads):
        opt.step(theta, g.copy(), penalties, n_pen, 1.0 / (16 + k))
    return theta, opt


STATE = {"adam": ["_m", "_v"], "momentum": ["velocity"], "nesterov": ["velocity"],
         "adagrad": ["sum_sq"], "rmsprop": ["mean_sq"], "sgd": []}


@needs_numba
@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strengths", PENALTIES)
def test_fused_kernel_bit_identical_to_numpy(fused_always, solver, dtype, strengths):
    theta0, grads = _arrays(1001, dtype)
    pens = make_penalty(**strengths)
    fast, opt_fast = _run(theta0, grads, pens, 700, dtype, fused=True, solver=solver)
    slow, opt_slow = _run(theta0, grads, pens, 700, dtype, fused=False, solver=solver)
    assert fast.dtype == dtype
    assert not np.array_equal(fast, theta0)
    np.testing.assert_array_equal(fast, slow)
    for name in STATE[solver]:
        np.testing.assert_array_equal(getattr(opt_fast, name), getattr(opt_slow, name))
    assert opt_fast.t == opt_slow.t == len(grads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fused", [True, False])
def test_adam_step_matches_textbook_formula(fused_always, dtype, fused):
    """Kingma & Ba's Algorithm 1 with the penalty gradient, in float64, on random arrays."""
    n, n_pen, lr, b1, b2, eps = 513, 400, 1e-2, 0.9, 0.999, 1e-8
    l2, l1 = 1e-2, 1e-3
    theta0, grads = _arrays(n, dtype, seed=1)
    got, _ = _run(theta0, grads, make_penalty(alpha=l2, l1=l1), n_pen, dtype, fused=fused)
    theta = theta0.astype(np.float64)
    m = np.zeros(n)
    v = np.zeros(n)
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        scale = 1.0 / (16 + t - 1)
        g[:n_pen] += scale * (l2 * theta[:n_pen] + l1 * np.sign(theta[:n_pen]))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, theta, rtol=rtol, atol=rtol * 1e-2)


@needs_numba
@pytest.mark.parametrize("solver", ["adam", "rmsprop"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_bit_identical_with_and_without_kernel(fused_always, monkeypatch, dtype, solver):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 7))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    params = dict(hidden_layer_sizes=(9, 5), max_iter=4, batch_size=32, alpha=1e-3, l1=1e-4,
                  random_state=0, dtype=dtype, solver=solver)
    fast = MLPClassifier(**params).fit(X, y)
    monkeypatch.setitem(kernels._STATE, "kernels", None)
    slow = MLPClassifier(**params).fit(X, y)
    for a, b in zip(fast.coefs_ + fast.intercepts_, slow.coefs_ + slow.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert fast.loss_curve_ == slow.loss_curve_


def test_small_networks_use_numpy_path():
    assert kernels.fused("adam", kernels.MIN_FUSED_PARAMS - 1) is None


def test_auto_mode_loads_numba_only_after_enough_numpy_work(monkeypatch):
    """Ski rental: a short fit never pays numba's import; enough NumPy work triggers it."""
    monkeypatch.setenv("HPSEARCH_NUMBA", "auto")
    monkeypatch.setitem(kernels._STATE, "loaded", False)
    monkeypatch.setitem(kernels._STATE, "kernels", None)
    monkeypatch.setitem(kernels._STATE, "work", 0)
    monkeypatch.setitem(kernels.sys.modules, "numba", None)  # "numba not imported yet"
    monkeypatch.delitem(kernels.sys.modules, "numba")
    monkeypatch.setattr(kernels, "LOAD_AFTER", 3 * kernels.MIN_FUSED_PARAMS)
    n = kernels.MIN_FUSED_PARAMS
    assert kernels.fused("adam", n) is None
    assert kernels.fused("adam", n) is None
    assert not kernels._STATE["loaded"]
    kernels.fused("adam", n)  # the work reaches LOAD_AFTER: load (if numba is installed)
    assert kernels._STATE["loaded"]


def test_never_mode_keeps_numpy(monkeypatch):
    monkeypatch.setenv("HPSEARCH_NUMBA", "0")
    monkeypatch.setitem(kernels._STATE, "loaded", False)
    monkeypatch.setitem(kernels._STATE, "kernels", None)
    assert kernels.fused("adam", 10**7) is None
    assert not kernels.load()


def test_numpy_only_fixture_disables_kernel(numpy_only):
    assert kernels.fused("adam", 10**7) is None
    assert not kernels.numba_available()


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("work_dtype", [np.float32, np.float64])
def test_gathered_batches_equal_copied_rows(x_dtype, work_dtype):
    """``gather_rows`` into the preallocated batch buffer, as in ``Network.run_epoch``."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 6)).astype(x_dtype)
    buf = np.empty((16, 6), work_dtype)
    stage = None if x_dtype == work_dtype else np.empty((16, 6), x_dtype)
    rows = rng.permutation(50)
    for start in range(0, 50, 16):
        idx = rows[start:start + 16]
        got = gather_rows(X, idx, buf[: idx.size], None if stage is None else stage[: idx.size])
        assert got.dtype == work_dtype
        np.testing.assert_array_equal(got, X[idx].astype(work_dtype))


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("work_dtype", [np.float32, np.float64])
def test_fit_any_x_dtype_equals_converted_x(x_dtype, work_dtype):
    """float32 X trains a float64 network (and vice versa) exactly as X converted first."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5)).astype(x_dtype)
    y = np.arange(60) % 3
    params = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=16, random_state=0,
                  dtype=work_dtype)
    a = MLPClassifier(**params).fit(X, y)
    b = MLPClassifier(**params).fit(X.astype(work_dtype), y)
    for u, w in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(u, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.3])
def test_leaky_relu_without_masked_ufuncs_equals_where_formula(dtype, slope):
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((7, 11)).astype(dtype)
    Z[0, :4] = 0
    D = rng.standard_normal((7, 11)).astype(dtype)
    layer = ActivationLayer("leaky_relu", 11, leaky_slope=slope)
    ws = layer.workspace(8, dtype)
    A = layer.forward(Z.copy(), (), ws, True, None)
    np.testing.assert_array_equal(A, np.where(Z > 0, Z, Z * dtype(slope)))
    got = layer.backward(D.copy(), (), (), ws, True)
    np.testing.assert_array_equal(got, np.where(Z > 0, D, D * dtype(slope)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_sigmoid_tanh_backward_with_scratch_buffer(dtype, name):
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((5, 6)).astype(dtype)
    D = rng.standard_normal((5, 6)).astype(dtype)
    layer = ActivationLayer(name, 6)
    ws = layer.workspace(5, dtype)
    A = layer.forward(Z.copy(), (), ws, True, None).copy()
    got = layer.backward(D.copy(), (), (), ws, True)
    want = D * A * (1 - A) if name == "sigmoid" else D * (1 - A * A)
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prelu_backward_equals_where_formula(dtype):
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((6, 5)).astype(dtype)
    Z[1, :2] = 0
    D = rng.standard_normal((6, 5)).astype(dtype)
    alpha = np.array([0.25, -0.5, 1.5, 0.0, 2.0], dtype)
    layer = PReLU(5)
    ws = layer.workspace(6, dtype)
    galpha = np.empty(5, dtype)
    A = layer.forward(Z.copy(), (alpha,), ws, True, None)
    np.testing.assert_allclose(A, np.where(Z > 0, Z, alpha * Z), rtol=2 * np.finfo(dtype).eps)
    got = layer.backward(D.copy(), (alpha,), (galpha,), ws, True)
    np.testing.assert_array_equal(got, np.where(Z < 0, D * alpha, D))
    np.testing.assert_allclose(galpha, (D * np.minimum(Z, 0)).sum(axis=0),
                               rtol=8 * np.finfo(dtype).eps, atol=8 * np.finfo(dtype).eps)
