"""``engine="numba"`` from a hostile user's side (hpsearch/neural/compiled.py).

Odd inputs and shapes train the network the NumPy engine trains (float64, to 1e-9); a
float32 loss beyond the dtype's range stops the fit as the NumPy engine does; the buffers
are sized by what the kernel uses; ``HPSEARCH_NUMBA`` leaves the engine alone; without
NumPy's BLAS symbol the ``np.dot`` fallback trains the same network; searches continuing
a candidate, in parallel, equal straight training bit for bit.
"""

import warnings
import zlib

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.model_selection import KFold

from hpsearch import ASHASearchCV, MLPClassifier, MLPRegressor
from hpsearch.mlp import TrainingDivergedError
from hpsearch.model_selection.space import Float
from hpsearch.neural import compiled, kernels

pytest.importorskip("numba")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:120] / 16.0, y[:120]


def _fit(cls, X, y, fit_params=None, **params):
    with warnings.catch_warnings():  # (convergence, batch_size > n, unstratified split)
        warnings.simplefilter("ignore")
        return cls(**params).fit(X, y, **(fit_params or {}))


def _close(a, b, tol):
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=tol)


_CASES = {
    "F-ordered X": (lambda X: np.asfortranarray(X), {}, {}),
    "non-contiguous X": (lambda X: np.repeat(X, 2, axis=1)[:, ::2], {}, {}),
    "int X": (lambda X: (X * 16).astype(np.int64), {}, {}),
    "batch 1": (None, dict(batch_size=1, max_iter=2), {}),
    "batch full": (None, dict(batch_size="full"), {}),
    "batch > n": (None, dict(batch_size=1000), {}),
    "1-row last batch": (None, dict(batch_size=119), {}),
    "wide": (None, dict(hidden_layer_sizes=(300,)), {}),
    "deep, narrow and wide": (None, dict(hidden_layer_sizes=(7, 90, 2, 50)), {}),
    "no hidden layer": (None, dict(hidden_layer_sizes=()), {}),
    "sample_index": (None, {}, dict(sample_index=np.arange(1, 120, 3))),
    "sample_index + early_stopping": (None, dict(early_stopping=True, max_iter=6),
                                      dict(sample_index=np.arange(0, 120, 2))),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_odd_inputs_and_shapes_train_the_numpy_engines_network(digits, case):
    """Layouts and dtypes of X, batch sizes at and past the edges (a 1-row remainder),
    very wide and deep nets, training subsets (the searches' sample_index) and the
    validation split: float64, equal to the NumPy engine to 1e-9."""
    X, y = digits
    make_X, params, fit_params = _CASES[case]
    X = X if make_X is None else make_X(X)
    params = {**dict(hidden_layer_sizes=(16,), max_iter=3, batch_size=32, random_state=0,
                     tol=0.0, dtype=np.float64, alpha=1e-3), **params}
    a = _fit(MLPClassifier, X, y, fit_params, engine="numpy", **params)
    b = _fit(MLPClassifier, X, y, fit_params, engine="numba", **params)
    _close(a, b, 1e-9)


@pytest.mark.parametrize("solver", ["sgd", "rmsprop"])
def test_float32_squared_error_beyond_range_stops_as_on_numpy(solver):
    """Residuals of 1e25 in float32: the batch's sum of squares is beyond float32's range,
    so the NumPy engine's loss is inf and the fit stops at epoch 1 as diverged. The
    compiled epoch summed in float64 without rounding to float32: it trained on with a
    finite loss and failed later with another message (RMSProp: 'squared gradients
    overflowed' at epoch 13)."""
    X, y = make_regression(64, 5, random_state=0)
    y = y / np.abs(y).max() * 1e25
    messages = []
    for engine in ("numpy", "numba"):
        with pytest.raises(TrainingDivergedError) as info:
            _fit(MLPRegressor, X, y, hidden_layer_sizes=(4,), solver=solver,
                 learning_rate_init=1.0, max_iter=20, random_state=0, engine=engine)
        messages.append(str(info.value))
    assert "The training loss became inf at epoch 1 " in messages[0]
    assert messages[1] == messages[0]


def test_buffers_are_sized_by_the_widths_the_kernel_uses():
    """dL/dA is computed for the hidden layers only: its two buffers hold batch_size rows
    of the widest hidden layer, not of the (many) input features (500 features, batch 16:
    was 2 * 16 * 500 elements, 62 times what (8, 4) hidden units need)."""
    rng = np.random.RandomState(0)
    X, y = rng.rand(40, 500), rng.randint(0, 3, 40)
    params = dict(hidden_layer_sizes=(8, 4), max_iter=2, batch_size=16, random_state=0,
                  tol=0.0, dtype=np.float64)
    b = _fit(MLPClassifier, X, y, engine="numba", **params)
    _, xbuf, abuf, dbuf, _ = b._network._compiled_bufs
    assert (xbuf.size, abuf.size, dbuf.size) == (16 * 500, 16 * (8 + 4 + 3), 2 * 16 * 8)
    _close(_fit(MLPClassifier, X, y, engine="numpy", **params), b, 1e-9)


def test_hpsearch_numba_0_governs_the_numpy_engine_only(digits, monkeypatch):
    """HPSEARCH_NUMBA=0 (pure NumPy for the fused optimizer step) does not switch an
    explicit engine='numba' off: its epochs run compiled; an epoch it leaves to NumPy
    (dropout here) runs without the fused step."""
    X, y = digits
    monkeypatch.setenv("HPSEARCH_NUMBA", "0")
    monkeypatch.setattr(kernels, "_STATE", {"loaded": False, "kernels": None, "saved": 0.0,
                                            "mode": None})
    calls = []
    real = compiled.run_epoch
    monkeypatch.setattr(compiled, "run_epoch", lambda *a, **k: calls.append(1) or real(*a, **k))
    params = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=32, random_state=0)
    _fit(MLPClassifier, X, y, engine="numba", **params)
    assert len(calls) == 3
    _fit(MLPClassifier, X, y, engine="numba", dropout=0.2, **params)
    assert len(calls) == 3
    assert kernels._STATE["loaded"] and kernels._STATE["kernels"] is None


def test_without_numpys_blas_symbol_np_dot_trains_the_same_network(digits, monkeypatch):
    """NumPy's CBLAS ?gemm not found (another BLAS, another platform): numba's np.dot
    products train the network of NumPy's gemm, to rounding (float64 and float32)."""
    X, y = digits
    params = dict(hidden_layer_sizes=(16, 9), max_iter=3, batch_size=37, random_state=0,
                  tol=0.0, engine="numba")
    found = {dt: _fit(MLPClassifier, X, y, dtype=dt, **params)
             for dt in (np.float64, np.float32)}
    monkeypatch.setattr(compiled, "numpy_gemm", lambda dtype: 0)
    for dt, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        _close(found[dt], _fit(MLPClassifier, X, y, dtype=dt, **params), tol)


def _crc(estimator, X, y):
    arrays = [np.ascontiguousarray(a) for a in (*estimator.coefs_, *estimator.intercepts_)]
    return float(zlib.crc32(b"".join(a.tobytes() for a in arrays)))


def test_asha_continues_compiled_candidates_bit_identically_in_parallel(digits):
    """ASHA promotes a candidate by continuing its saved state: with engine='numba' the
    weights (CRC) equal straight training to the rung's budget, and fork workers and
    threads (compiled epochs release the GIL, running concurrently) give n_jobs=1's."""
    X, y = digits
    cv = KFold(2, shuffle=True, random_state=0)
    space = {"learning_rate_init": Float(1e-3, 1e-1, log=True),
             "alpha": Float(1e-6, 1e-2, log=True)}

    def mlp():
        return MLPClassifier((8,), max_iter=9, batch_size=32, random_state=0, engine="numba")

    results = []
    for kw in (dict(n_jobs=1), dict(n_jobs=2), dict(n_jobs=2, backend="threading")):
        search = ASHASearchCV(mlp(), space, n_trials=9, min_resources=1, max_resources=9,
                              cv=cv, random_state=0, refit=False,
                              scoring={"accuracy": "accuracy", "crc": _crc}, **kw).fit(X, y)
        res = search.cv_results_
        results.append(sorted(zip(map(str, res["params"]), res["n_resources"],
                                  res["split0_test_crc"], res["split1_test_crc"])))
    assert results[1] == results[0] and results[2] == results[0]
    assert max(row[1] for row in results[0]) == 9  # a candidate went 1 -> 3 -> 9
    res = search.cv_results_
    for row, params in enumerate(res["params"]):
        for k, (train, _) in enumerate(cv.split(X, y)):
            straight = mlp().set_params(**params, max_iter=int(res["n_resources"][row]))
            straight.fit(X, y, sample_index=train)
            assert res[f"split{k}_test_crc"][row] == _crc(straight, None, None), (row, k)


def _without_numba(monkeypatch):
    monkeypatch.setitem(compiled._MODULE, "loaded", True)
    monkeypatch.setitem(compiled._MODULE, "module", None)
    monkeypatch.setitem(compiled._MODULE, "error", ModuleNotFoundError("No module named 'numba'"))


def test_missing_numba_is_an_error_for_every_solver_and_changes_nothing(digits, monkeypatch):
    """engine='numba' without numba is refused before anything changes: with L-BFGS too
    (was: trained silently on NumPy while the other solvers raised), and a warm-started
    estimator keeps its state (was: n_iter_ reset to 0 and the parameters refreshed before
    the error)."""
    X, y = digits
    fitted = _fit(MLPClassifier, X, y, hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    before = ([w.copy() for w in fitted.coefs_], fitted.n_iter_, list(fitted.loss_curve_))
    _without_numba(monkeypatch)
    with pytest.raises(ImportError, match="The 'engine' parameter of MLPClassifier is 'numba'"):
        MLPClassifier(solver="lbfgs", engine="numba", max_iter=5).fit(X, y)
    fitted.set_params(engine="numba", warm_start=True)
    with pytest.raises(ImportError, match="The 'engine' parameter of MLPClassifier is 'numba'"):
        fitted.fit(X, y)
    with pytest.raises(ImportError, match="The 'engine' parameter of MLPClassifier is 'numba'"):
        fitted.partial_fit(X, y)
    assert fitted.n_iter_ == before[1] and fitted.loss_curve_ == before[2]
    assert all(np.array_equal(a, b) for a, b in zip(fitted.coefs_, before[0]))


def test_the_kernel_refuses_indices_outside_its_arrays(digits):
    """numba checks no index, so the compiled epoch checks a direct caller's X, rows,
    positions and class codes before its first step (was: reads and writes outside the
    arrays, e.g. a class code of 10 wrote past a 10-unit output row)."""
    X, y = digits
    est = _fit(MLPClassifier, X, y, hidden_layer_sizes=(8,), max_iter=1, random_state=0)
    net, opt = est._network, est._optimizer
    X32, T = X.astype(np.float32), y.astype(np.intp)
    ok = np.arange(len(y))
    theta = net.theta.copy()
    bad = {"X columns": (X32[:, :-1], T, ok, ok, ValueError, "shapes of X"),
           "row": (X32, T, ok + 1, ok, IndexError, "row or position"),
           "position": (X32, T, ok, ok + 1, IndexError, "row or position"),
           "class code": (X32, np.where(T == 3, 10, T), ok, ok, IndexError, "class code")}
    for name, (Xb, Tb, rows, pos, error, words) in bad.items():
        with pytest.raises(error, match=words):
            net.run_epoch(Xb, Tb, rows, pos, 16, opt, None, [], engine="numba")
        assert np.array_equal(net.theta, theta), name
    net.run_epoch(X32, T, ok, ok, 16, opt, None, [], engine="numba")  # the same, in bounds
    assert not np.array_equal(net.theta, theta)



def test_an_f_ordered_X_is_made_c_ordered_once_per_fit(digits, monkeypatch):
    """The kernel reads C-ordered rows: an F-ordered X (a pandas frame's values) or a
    strided view is copied once per fit, and every epoch gets that copy (was: a fresh
    C-ordered copy of all of X at every epoch, inside compiled.run_epoch)."""
    X, y = digits
    seen = []
    real = compiled.run_epoch

    def spy(net, X, *args):
        seen.append(X)
        return real(net, X, *args)

    monkeypatch.setattr(compiled, "run_epoch", spy)
    params = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=32, random_state=0,
                  tol=0.0, dtype=np.float64)
    for odd in (np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2]):
        seen.clear()
        b = _fit(MLPClassifier, odd, y, engine="numba", **params)
        assert len(seen) == 3 and all(x is seen[0] for x in seen)
        assert seen[0].flags.c_contiguous
        _close(_fit(MLPClassifier, X, y, engine="numpy", **params), b, 1e-9)
