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
