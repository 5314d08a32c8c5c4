"""The per-fit shortcuts of the MLP (a search fits it thousands of times on the same X):
plain float arrays skip ``validate_data``, a parameter set is validated once, the first
seed draw of an int ``random_state`` is remembered, the softmax delta uses a flat index.
Each shortcut must change nothing a user sees: same errors, warnings, results."""

import warnings

import numpy as np
import pytest
import sklearn.base
from sklearn.datasets import load_digits

import hpsearch.mlp as mlp
from hpsearch import MLPClassifier, MLPRegressor
from hpsearch.neural.losses import SoftmaxCrossEntropy

X, y = load_digits(return_X_y=True)
X = X[:200] / 16.0
y = y[:200]


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kwargs)


def _counting(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_plain_arrays_skip_validate_data(monkeypatch):
    calls = _counting(monkeypatch, mlp, "validate_data")
    est = _quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0), X, y)
    est.predict(X)
    est.set_params(warm_start=True)
    _quiet_fit(est, X, y, sample_index=np.arange(100))
    assert calls == []
    assert est.n_features_in_ == 64
    _quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0), X.tolist(), y)  # a list
    assert len(calls) == 1


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_still_refused_with_sklearns_message(bad):
    Xb = X.copy()
    Xb[3, 5] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        MLPClassifier((8,), max_iter=2).fit(Xb, y)
    est = _quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0), X, y)
    with pytest.raises(ValueError, match="Input X contains"):
        est.predict(Xb)


def test_wrong_feature_count_and_feature_names_still_checked():
    pd = pytest.importorskip("pandas")
    est = _quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0), X, y)
    with pytest.raises(ValueError, match="X has 63 features, but MLPClassifier is "
                                         "expecting 64 features"):
        est.predict(X[:, :-1])
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(64)])
    est = _quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0), frame, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(X)
    _quiet_fit(est, X, y)  # refit on a plain array: the names are forgotten, as sklearn
    assert not hasattr(est, "feature_names_in_")


def test_same_results_with_and_without_the_fast_validation(monkeypatch):
    a = _quiet_fit(MLPClassifier((8,), max_iter=3, random_state=1), X, y)
    monkeypatch.setattr(mlp, "_validate_fast", lambda *args, **kwargs: None)
    b = _quiet_fit(MLPClassifier((8,), max_iter=3, random_state=1), X, y)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_a_parameter_set_is_validated_once(monkeypatch):
    calls = _counting(monkeypatch, sklearn.base, "validate_parameter_constraints")
    mlp._VALIDATED.clear()
    for _ in range(3):
        _quiet_fit(MLPRegressor((7,), max_iter=1, alpha=0.123, random_state=0), X, y)
    assert len(calls) == 1
    _quiet_fit(MLPRegressor([7], max_iter=1, alpha=0.123, random_state=0), X, y)  # a list
    _quiet_fit(MLPRegressor((7,), max_iter=1, alpha=0.123,
                            random_state=np.random.RandomState(0)), X, y)  # no plain form
    _quiet_fit(MLPRegressor((7,), max_iter=1, alpha=0.123,
                            random_state=np.random.RandomState(0)), X, y)
    assert len(calls) == 4


def test_invalid_parameters_still_refused_after_a_valid_fit():
    est = _quiet_fit(MLPClassifier((8,), max_iter=1, random_state=0), X, y)
    for params, key in [({"alpha": -1.0}, "alpha"), ({"max_iter": 1.5}, "max_iter"),
                        ({"max_iter": 0}, "max_iter"), ({"solver": "adamw"}, "solver"),
                        ({"alpha": float("nan")}, "alpha")]:
        est.set_params(**params)
        with pytest.raises(ValueError, match=f"The '{key}' parameter of MLPClassifier"):
            est.fit(X, y)
        est.set_params(alpha=1e-4, max_iter=1, solver="adam")
        _quiet_fit(est, X, y)  # the same estimator, valid again


def test_first_draw_remembered_and_generator_not_advanced():
    mlp._FIRST_DRAWS.clear()
    legacy = np.random.RandomState(17)
    seed = mlp._first_draw(legacy, 17)
    assert seed == np.random.RandomState(17).randint(np.iinfo(np.int32).max)
    assert legacy.randint(1000) == np.random.RandomState(17).randint(1000)  # rewound
    assert mlp._FIRST_DRAWS == {17: seed}  # remembered: no state copy and rewind again
    again = np.random.RandomState(17)
    assert mlp._first_draw(again, np.int64(17)) == seed
    assert again.randint(1000) == np.random.RandomState(17).randint(1000)
    a = _quiet_fit(MLPClassifier((8,), max_iter=2, random_state=17, init="he"), X, y)
    b = _quiet_fit(MLPClassifier((8,), max_iter=2, random_state=np.random.RandomState(17),
                                 init="he"), X, y)
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_delta_flat_index_equals_row_column_index(dtype):
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((37, 7)).astype(dtype)
    T = rng.integers(0, 7, 37)
    P_c = SoftmaxCrossEntropy.activate(Z.copy())
    P_f = np.asfortranarray(P_c)  # not C-contiguous: the row/column path
    P_c[5, :] = 0  # a row below the clip, both paths alike
    P_f[5, :] = 0
    loss_c = SoftmaxCrossEntropy.loss_and_delta(P_c, T)
    loss_f = SoftmaxCrossEntropy.loss_and_delta(P_f, T)
    assert loss_c == loss_f
    np.testing.assert_array_equal(P_c, P_f)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 2), (32, 10), (257, 3)])
def test_softmax_row_maximum_by_argmax_equals_maximum_reduce(dtype, shape):
    rng = np.random.default_rng(1)
    Z = (rng.standard_normal(shape) * 30).astype(dtype)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan]
    for i in range(0, shape[0], 3):  # rows with zeros of both signs, infinities, NaN
        Z[i, rng.integers(shape[1])] = special[i % len(special)]
        Z[i, 0] = -0.0
    with np.errstate(all="ignore"):
        P = SoftmaxCrossEntropy.activate(Z.copy())
        R = Z.copy()  # the row maximum by np.maximum.reduce, as before
        R -= np.maximum.reduce(R, axis=1, keepdims=True)
        np.exp(R, out=R)
        R /= np.add.reduce(R, axis=1, keepdims=True)
    bits = f"u{P.itemsize}"
    np.testing.assert_array_equal(P.view(bits), R.view(bits))


def test_auto_init_draws_only_sklearns_weights(monkeypatch):
    # "auto" weights and biases are all drawn by sklearn_uniform: the network's own draw,
    # which they overwrote, is skipped (the same weights, one draw less per fresh fit)
    from hpsearch.neural import initializers

    a = _quiet_fit(MLPClassifier((8, 4), activation="prelu", max_iter=2, random_state=3),
                   X, y)

    def refuse(*args, **kwargs):
        raise AssertionError("drawn")

    monkeypatch.setitem(initializers.INITIALIZERS, "glorot", refuse)
    b = _quiet_fit(MLPClassifier((8, 4), activation="prelu", max_iter=2, random_state=3),
                   X, y)
    assert a.loss_curve_ == b.loss_curve_
    for u, v in zip(a.coefs_ + a.intercepts_ + a.prelu_alphas_,
                    b.coefs_ + b.intercepts_ + b.prelu_alphas_):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(AssertionError, match="drawn"):  # a named init still draws
        MLPClassifier((8,), init="glorot", max_iter=1).fit(X, y)


def test_profile_asha_search_script_runs(tmp_path, capsys):
    import importlib
    import pathlib
    import sys

    bench = str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks")
    sys.path.insert(0, bench)
    try:
        script = importlib.import_module("profile_asha_search")
        out = tmp_path / "fingerprint.txt"
        script.main(["--trials", "2", "--repeats", "1", "--fingerprint", str(out)])
    finally:
        sys.path.remove(bench)
    assert capsys.readouterr().out.startswith("cpu_s ")
    assert "mean_test_score: " in out.read_text()


def _inputs():
    """The arrays a user may give: only a plain finite float64/float32 ndarray may take
    the fast path; every other one must go through ``validate_data``."""
    pd = pytest.importorskip("pandas")
    Xs = X[:30, :5]
    read_only = Xs.copy()
    read_only.setflags(write=False)
    return {
        "C": Xs.copy(), "F": np.asfortranarray(Xs), "read-only": read_only,
        "float32": Xs.astype(np.float32), "float16": Xs.astype(np.float16),
        "-0.0": np.where(Xs > 0.5, Xs, -0.0), "strided": np.repeat(Xs, 2, axis=1)[:, ::2],
        "0-stride": np.broadcast_to(Xs[:1], Xs.shape), "big-endian": Xs.astype(">f8"),
        "sum overflows": np.where(Xs > 0.5, 1e308, -1e308), "huge": np.full(Xs.shape, 1e308),
        "nan": np.where(Xs > 0.9, np.nan, Xs), "int": (Xs * 16).astype(int),
        "complex": Xs.astype(complex), "object": Xs.astype(object), "matrix": np.asmatrix(Xs),
        "frame": pd.DataFrame(Xs, columns=list("abcde")), "list": Xs.tolist(),
        "1-D": Xs[:, 0], "no row": Xs[:0], "no column": Xs[:, :0],
    }


def _outcome(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = call()
        except Exception as exc:  # noqa: BLE001 - the outcome compared
            return (type(exc), str(exc)), []
    return out, [str(w.message) for w in caught]


def test_fast_validation_agrees_with_validate_data_on_every_kind_of_input():
    # review of the fast path: for each input (and target), what the fast path returns is
    # what validate_data returns (the same objects, n_features_in_ and no warning), and
    # it declines everything validate_data would convert, warn about or refuse
    from sklearn.utils.validation import validate_data

    yc = y[:30]
    targets = {"int": yc, "uint64": yc.astype(np.uint64), "bool": yc > 4,
               "2-D": yc[:, None], "short": yc[:-1], "str": yc.astype(str)}
    options = dict(multi_output=True, dtype=(np.float64, np.float32),
                   accept_sparse=["csr", "csc"])
    n_fast = 0
    for cls in (MLPClassifier, MLPRegressor):
        for x_name, Xi in _inputs().items():
            for y_name, yi in targets.items():
                fast, slow = cls(), cls()
                got = mlp._validate_fast(fast, Xi, yi)
                if got is None:
                    continue
                n_fast += 1
                want, caught = _outcome(lambda: validate_data(
                    slow, Xi, yi, y_numeric=cls is MLPRegressor, **options))
                assert caught == [], (x_name, y_name, caught)
                assert got[0] is want[0] and got[1] is want[1], (x_name, y_name)
                assert fast.n_features_in_ == slow.n_features_in_
            fitted = cls()
            fitted.n_features_in_ = 5
            got = mlp._validate_fast(fitted, Xi, reset=False)
            if got is not None:  # (predict)
                want, caught = _outcome(lambda: validate_data(
                    fitted, Xi, reset=False, dtype=(np.float64, np.float32),
                    accept_sparse=["csr", "csc"]))
                assert got is want and caught == [], x_name
    assert n_fast == 2 * 7 * 3  # 7 plain finite float inputs x (int, uint64, 2-D) targets
    fitted.n_features_in_ = 4  # (a wrong width: validate_data's error)
    with pytest.raises(ValueError, match="X has 5 features, but MLPRegressor is expecting 4"):
        mlp._validate_fast(fitted, _inputs()["C"], reset=False)


def test_cached_parameter_validation_gives_sklearns_verdict_for_look_alike_values():
    # 1, 1.0, True, np.float32(1), (3,), [3], nested tuples...: values comparing equal
    # must not share a cached verdict of another type
    from sklearn.utils._param_validation import InvalidParameterError

    values = [0, 1, 2, 1.0, 0.0, -0.0, 0.5, True, False, np.True_, np.float32(1), np.int64(1),
              None, (3,), [3], (3.0,), (True,), [(3,)], ((3,),), (), [], "auto", "adam",
              "float32", np.float32, np.dtype("float32"), float("inf"), -1, 10**20]

    def valid(est):
        try:
            est._validate_params()
        except InvalidParameterError:
            return False
        return True

    for cls in (MLPClassifier, MLPRegressor):
        for name in ("hidden_layer_sizes", "alpha", "max_iter", "early_stopping", "dtype",
                     "batch_size", "tol", "n_iter_no_change", "random_state"):
            truth = []
            for v in values:  # sklearn's verdict, nothing cached
                mlp._VALIDATED.clear()
                truth.append(valid(cls(**{name: v})))
            for v in values:  # every passing value cached...
                valid(cls(**{name: v}))
            for v, want in zip(values, truth):  # ...lends its verdict to no look-alike
                assert valid(cls(**{name: v})) is want, (name, v)
