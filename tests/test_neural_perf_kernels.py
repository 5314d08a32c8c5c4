"""The fast paths give the same numbers as the plain ones.

- every fused (numba) penalty + solver kernel is bit-identical to the NumPy passes; Adam equals
  the textbook Adam formula (LECTURE.md §2) to rounding;
- a whole fit is bit-identical with and without the kernel;
- mini-batches gathered by index into the preallocated buffer equal copied rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[1]

PENALTIES = [{}, {"alpha": 1e-2}, {"l1": 1e-3}, {"alpha": 1e-2, "l1": 1e-3}]


@pytest.fixture
def fused_always(monkeypatch):
    """Use the fused kernel for every solver and size, from the first step."""
    monkeypatch.setattr(kernels, "SAVING", {key: (1.0, 0.0) for key in kernels.SAVING})
    kernels.load()


@pytest.fixture
def fresh_auto(monkeypatch):
    """A process in ``auto`` mode that has not loaded numba nor trained yet."""
    monkeypatch.setenv("HPSEARCH_NUMBA", "auto")
    for key, value in {"loaded": False, "kernels": None, "saved": 0.0, "mode": None}.items():
        monkeypatch.setitem(kernels._STATE, key, value)
    monkeypatch.setitem(kernels.sys.modules, "numba", None)  # "numba not imported yet"
    monkeypatch.delitem(kernels.sys.modules, "numba")


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
@pytest.mark.parametrize("n", [10, 1001])
def test_fused_kernel_bit_identical_to_numpy(fused_always, solver, dtype, strengths, n):
    theta0, grads = _arrays(n, dtype)
    pens = make_penalty(**strengths)
    n_pen = 7 * n // 10
    fast, opt_fast = _run(theta0, grads, pens, n_pen, dtype, fused=True, solver=solver)
    slow, opt_slow = _run(theta0, grads, pens, n_pen, dtype, fused=False, solver=solver)
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


def test_auto_mode_loads_numba_only_after_enough_estimated_saving(fresh_auto, monkeypatch):
    """Ski rental: a short fit never pays numba's import; once the saving the fused steps
    would have had reaches the load cost, it is loaded."""
    n = 2410  # the smallest net of the time-to-quality benchmark's space
    per_step = kernels.estimated_saving("adam", n)
    monkeypatch.setattr(kernels, "LOAD_COST", 2.5 * per_step)
    assert kernels.fused("adam", n) is None
    assert kernels.fused("adam", n) is None
    assert not kernels._STATE["loaded"]
    assert kernels._STATE["saved"] == pytest.approx(2 * per_step)
    kernels.fused("adam", n)  # the saving reaches LOAD_COST: load (if numba is installed)
    assert kernels._STATE["loaded"]


def test_steps_the_numpy_path_does_faster_neither_count_nor_load(fresh_auto, monkeypatch):
    monkeypatch.setattr(kernels, "LOAD_COST", 1e-12)
    assert kernels.estimated_saving("sgd", 100, penalized=False) < 0
    assert kernels.fused("sgd", 100, penalized=False) is None
    assert not kernels._STATE["loaded"] and kernels._STATE["saved"] == 0


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
@pytest.mark.parametrize("penalized", [True, False])
def test_saving_model_is_positive_where_the_fused_step_measured_faster(solver, penalized):
    """benchmarks/bench_fused_step.py (float32): fused faster from 10 parameters on, except
    plain SGD and momentum without a penalty (NumPy's 2 and 4 passes: 1.15 vs 2.0 us and
    1.95 vs 2.3 us at 100 parameters, break-even about 36k and 3k-10k parameters)."""
    slow_small = not penalized and solver in ("sgd", "momentum")
    for n in (10, 100, 2410, 9610):
        assert (kernels.estimated_saving(solver, n, penalized) > 0) is (
            not slow_small or (solver == "momentum" and n == 9610))
    assert kernels.estimated_saving(solver, 60_000, penalized) > 0


def test_short_fit_of_a_small_net_does_not_import_numba():
    """A fresh process in auto mode: a short fit (here 300 steps) keeps the NumPy path."""
    code = ("import sys, numpy as np; from hpsearch import MLPClassifier;"
            "from hpsearch.neural import kernels;"
            "X = np.random.default_rng(0).standard_normal((320, 64)); y = np.arange(320) % 10;"
            "MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, batch_size=32,"
            " random_state=0).fit(X, y);"
            "print('numba' in sys.modules, kernels._STATE['loaded'], kernels._STATE['saved'])")
    env = {k: v for k, v in os.environ.items() if k != "HPSEARCH_NUMBA"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported, loaded, saved = proc.stdout.split()
    assert (imported, loaded) == ("False", "False")
    # 300 steps of 2410 parameters: about 1 ms of estimated saving, far below the load cost
    assert 0 < float(saved) < kernels.LOAD_COST / 100


@needs_numba
@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_after_load_small_networks_take_the_fused_path(solver):
    kernels.load()
    for n in (10, 100, 2410, 9610):
        assert kernels.fused(solver, n) is not None  # with a penalty: faster at every size
    assert (kernels.fused(solver, 100, penalized=False) is None) is (
        solver in ("sgd", "momentum"))


@needs_numba
@pytest.mark.parametrize("solver", ["adam", "sgd", "rmsprop"])
def test_small_net_fit_loads_mid_fit_uses_kernel_and_stays_bit_identical(
        fresh_auto, monkeypatch, solver):
    """auto mode on a small net: NumPy steps until the estimated saving reaches the load
    cost, then the fused kernel for the rest of the fit: the same bits as pure NumPy."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((160, 64))
    y = np.arange(160) % 10
    params = dict(hidden_layer_sizes=(32,), max_iter=6, batch_size=16, random_state=0,
                  solver=solver, momentum=0.0)  # 2410 parameters, 60 steps
    per_step = kernels.estimated_saving(solver, 2410)
    monkeypatch.setattr(kernels, "LOAD_COST", 25 * per_step)
    real = kernels._compile
    calls = []

    def counting():
        table = real()
        return {k: (lambda f: lambda *a: calls.append(1) or f(*a))(f) for k, f in table.items()}

    monkeypatch.setattr(kernels, "_compile", counting)
    mixed = MLPClassifier(**params).fit(X, y)
    assert kernels._STATE["loaded"] and 30 <= len(calls) <= 40  # steps 26..60 fused
    monkeypatch.setitem(kernels._STATE, "kernels", None)
    plain = MLPClassifier(**params).fit(X, y)
    for a, b in zip(mixed.coefs_ + mixed.intercepts_, plain.coefs_ + plain.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert mixed.loss_curve_ == plain.loss_curve_


def test_never_mode_keeps_numpy(monkeypatch):
    monkeypatch.setenv("HPSEARCH_NUMBA", "0")
    monkeypatch.setitem(kernels._STATE, "loaded", False)
    monkeypatch.setitem(kernels._STATE, "kernels", None)
    monkeypatch.setitem(kernels._STATE, "mode", None)
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
