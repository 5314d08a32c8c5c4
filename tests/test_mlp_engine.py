"""``engine="numba"``: the compiled epoch (hpsearch/neural/compiled.py).

Contracts: it trains the same network as the NumPy path up to rounding (every activation,
loss, solver and penalty it covers); it is deterministic, and a continued fit (warm start,
``partial_fit``, a pickle in between) equals a straight one bit for bit; what it does not
cover trains on the NumPy path, bit-identically; a bad value or a missing numba is a clear
error naming the parameter.
"""

import pickle
import warnings

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from hpsearch import MLPClassifier, MLPRegressor
from hpsearch.neural import compiled

pytest.importorskip("numba")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _digits(n=300):
    X, y = load_digits(return_X_y=True)
    return (X[:n] / 16.0), y[:n]


def _fit(cls, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**params).fit(X, y)


def _same(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_,
                                                     b.coefs_ + b.intercepts_)) \
        and a.loss_curve_ == b.loss_curve_


@pytest.fixture
def compiled_epochs(monkeypatch):
    """The number of epochs run on the compiled path (a spy on compiled.run_epoch)."""
    calls = []
    real = compiled.run_epoch

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(compiled, "run_epoch", spy)
    return calls


def _close(a, b, rtol):
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(p, q, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)


_CLASSIFIER_CASES = {
    "relu-adam-l2": dict(activation="relu", solver="adam", alpha=1e-3),
    "tanh-sgd-nesterov": dict(activation="tanh", solver="sgd", learning_rate_init=0.05),
    "logistic-momentum-l1": dict(activation="logistic", solver="momentum", l1=1e-4,
                                 learning_rate_init=0.05),
    "identity-plain-sgd": dict(activation="identity", solver="sgd", momentum=0.0,
                               learning_rate_init=0.05),
    "leaky-adagrad": dict(activation="leaky_relu", leaky_slope=0.1, solver="adagrad",
                          learning_rate_init=0.05),
    "sigmoid-rmsprop-l1-l2": dict(activation="sigmoid", solver="rmsprop", alpha=1e-3, l1=1e-4),
    "deep-relu-sgd-invscaling": dict(hidden_layer_sizes=(16, 12, 8), solver="sgd",
                                      learning_rate="invscaling", learning_rate_init=0.1),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(_CLASSIFIER_CASES))
def test_compiled_epoch_trains_the_same_network_as_numpy(case, dtype, compiled_epochs):
    """Same formulas: the weights and the loss curve after 8 epochs (batches of 37 rows,
    a short last batch) agree to rounding: float64 to 1e-9, float32 to 1e-3."""
    X, y = _digits()
    params = {**dict(hidden_layer_sizes=(16,), max_iter=8, batch_size=37, random_state=0,
                     tol=0.0, dtype=dtype), **_CLASSIFIER_CASES[case]}
    a = _fit(MLPClassifier, X, y, engine="numpy", **params)
    assert not compiled_epochs
    b = _fit(MLPClassifier, X, y, engine="numba", **params)
    assert len(compiled_epochs) == 8
    _close(a, b, 1e-9 if dtype == np.float64 else 2e-3)
    for k in range(len(a.coefs_)):
        np.testing.assert_allclose(a.history_[f"grad_norm_{k}"], b.history_[f"grad_norm_{k}"],
                                   rtol=1e-9 if dtype == np.float64 else 2e-3)


@pytest.mark.parametrize("target", ["binary", "multilabel", "regression", "multi-output"])
def test_compiled_epoch_covers_the_other_outputs(target, compiled_epochs):
    """Sigmoid + binary cross-entropy (two classes, multilabel) and the squared error (one
    and several outputs), in float64: equal to the NumPy path to 1e-9."""
    if target in ("binary", "multilabel"):
        X, y = make_classification(200, 10, n_classes=2, random_state=0)
        if target == "multilabel":
            y = np.c_[y, 1 - y, (X[:, 0] > 0).astype(int)]
        cls = MLPClassifier
    else:
        X, y = make_regression(200, 10, n_targets=1 if target == "regression" else 3,
                               noise=1.0, random_state=0)
        y = y / np.std(y)
        cls = MLPRegressor
    params = dict(hidden_layer_sizes=(12,), max_iter=10, batch_size=32, random_state=0,
                  tol=0.0, dtype=np.float64, alpha=1e-3)
    a = _fit(cls, X, y, engine="numpy", **params)
    b = _fit(cls, X, y, engine="numba", **params)
    assert len(compiled_epochs) == 10
    _close(a, b, 1e-9)


def test_compiled_epoch_is_deterministic_and_continues_exactly(compiled_epochs):
    """Two fits give the same bits; fit(a) + warm_start fit(b) == fit(a + b); partial_fit
    epoch by epoch == fit; a pickle between two epochs changes nothing."""
    X, y = _digits()
    params = dict(hidden_layer_sizes=(16,), batch_size=40, random_state=3, tol=0.0,
                  engine="numba", alpha=1e-3)
    straight = _fit(MLPClassifier, X, y, max_iter=6, **params)
    assert _same(straight, _fit(MLPClassifier, X, y, max_iter=6, **params))
    warm = _fit(MLPClassifier, X, y, max_iter=2, warm_start=True, **params)
    warm.set_params(max_iter=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
    assert _same(straight, warm)
    partial = MLPClassifier(**params)
    for epoch in range(6):
        partial.partial_fit(X, y, classes=np.unique(y))
        if epoch == 2:
            partial = pickle.loads(pickle.dumps(partial))
    assert all(np.array_equal(p, q) for p, q in zip(straight.coefs_, partial.coefs_))
    assert len(compiled_epochs) == 6 + 6 + 2 + 4 + 6


@pytest.mark.parametrize("variant", ["dropout", "input_dropout", "prelu", "maxout",
                                     "sample_weight", "sparse", "poisson", "lbfgs"])
def test_what_it_does_not_cover_trains_on_the_numpy_path(variant, compiled_epochs):
    """engine="numba" on a network or data the compiled epoch does not cover: the NumPy
    path, bit for bit the same as engine="numpy"."""
    X, y = _digits(200)
    cls, fit_params = MLPClassifier, {}
    params = dict(hidden_layer_sizes=(8,), max_iter=4, batch_size=32, random_state=0, tol=0.0)
    if variant in ("dropout", "input_dropout"):
        params[variant] = 0.2
    elif variant in ("prelu", "maxout"):
        params["activation"] = variant
    elif variant == "sample_weight":
        fit_params["sample_weight"] = np.linspace(0.5, 2.0, len(y))
    elif variant == "sparse":
        X = csr_matrix(X)
    elif variant == "poisson":
        cls, y, params["loss"] = MLPRegressor, y.astype(float), "poisson"
    else:
        params["solver"] = "lbfgs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = cls(engine="numpy", **params).fit(X, y, **fit_params)
        b = cls(engine="numba", **params).fit(X, y, **fit_params)
    assert not compiled_epochs
    assert _same(a, b)


def test_covers_says_which_epochs_are_compiled():
    X, y = _digits(100)
    net = _fit(MLPClassifier, X, y, hidden_layer_sizes=(8,), max_iter=1)
    opt = net._optimizer
    assert compiled.covers(net._network, X, None, opt)
    assert not compiled.covers(net._network, X, np.ones(len(y)), opt)
    assert not compiled.covers(net._network, csr_matrix(X), None, opt)
    prelu = _fit(MLPClassifier, X, y, hidden_layer_sizes=(8,), max_iter=1, activation="prelu")
    assert not compiled.covers(prelu._network, X, None, prelu._optimizer)


def test_bad_engine_is_refused_naming_the_parameter():
    X, y = _digits(50)
    with pytest.raises(ValueError, match="The 'engine' parameter of MLPClassifier must be "
                                         "a str among .*Got 'cuda' instead"):
        MLPClassifier(engine="cuda").fit(X, y)


def test_missing_numba_is_a_clear_error(monkeypatch):
    """Without numba, engine="numba" says so, names the parameter and the install command
    (rather than silently training on another path)."""
    X, y = _digits(50)
    monkeypatch.setitem(compiled._MODULE, "loaded", True)
    monkeypatch.setitem(compiled._MODULE, "module", None)
    monkeypatch.setitem(compiled._MODULE, "error", ModuleNotFoundError("No module named 'numba'"))
    with pytest.raises(ImportError, match=r"The 'engine' parameter of MLPRegressor is 'numba'"
                                          r".*No module named 'numba'.*hpsearch\[fast\]"):
        MLPRegressor(engine="numba", max_iter=1).fit(X, y.astype(float))
    MLPRegressor(engine="numpy", max_iter=1).fit(X, y.astype(float))  # unaffected


def test_numpy_blas_is_used_and_gives_numpys_products():
    """The compiled epoch calls NumPy's own ?gemm where it is found (NumPy's wheels): its
    products are then those of np.matmul, bit for bit (checked through one epoch of a
    linear network with plain SGD against numba's np.dot fallback: equal to rounding)."""
    if not compiled.numpy_gemm(np.float32):
        pytest.skip("NumPy's BLAS symbols are not those of its wheels here")
    compiled.available()
    from hpsearch.neural._numba_epoch import _matmul

    rng = np.random.RandomState(0)
    for dtype in (np.float32, np.float64):
        A, B = rng.rand(37, 19).astype(dtype), rng.rand(19, 11).astype(dtype)
        D = rng.rand(37, 11).astype(dtype)
        gemm = compiled.numpy_gemm(dtype)
        for ta, tb, left, right, want in [(False, False, A, B, A @ B),
                                          (True, False, A, D, A.T @ D),
                                          (False, True, D, B, D @ B.T)]:
            out = np.empty_like(want)
            _matmul(gemm, left, right, out, ta, tb)
            assert np.array_equal(out, want)
            fallback = np.empty_like(want)
            _matmul(0, left, right, fallback, ta, tb)
            np.testing.assert_allclose(fallback, want, rtol=1e-5)


def test_engine_is_a_plain_parameter_of_searches():
    """A search can compare the engines like any parameter (clone, get_params)."""
    from sklearn.base import clone

    est = MLPClassifier(engine="numba")
    assert clone(est).get_params()["engine"] == "numba"
    assert MLPRegressor().get_params()["engine"] == "numpy"


def test_an_estimator_pickled_before_engine_existed_continues_on_numpy():
    """A fit saved by an older hpsearch (a study's stored fit, resumed after an upgrade)
    has no 'engine': it unpickles with engine='numpy', the behaviour it was trained with,
    and continues bit for bit like an estimator that never left memory."""
    X, y = _digits(120)
    params = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=0, tol=0.0,
                  warm_start=True, max_iter=2)
    old = _fit(MLPClassifier, X, y, **params)
    state = old.__getstate__()
    del state["engine"]
    revived = MLPClassifier.__new__(MLPClassifier)
    revived.__setstate__(state)
    assert revived.get_params()["engine"] == "numpy"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        revived.fit(X, y)
        old.fit(X, y)
    assert _same(old, revived)
