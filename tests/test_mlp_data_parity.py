"""The data a scikit-learn user hands an MLP, side by side with scikit-learn's MLPs.

``tests/test_mlp_parity_hostile.py`` covers bad data (NaN, shapes, names at predict);
here the *accepted* forms: pandas and categorical targets, string and boolean classes,
``partial_fit``'s ``classes`` in every container and order, multilabel and single-class
targets, sample weights as scalars, lists and Series, every sparse format, float16 / int /
bool / Fortran-ordered / read-only / memory-mapped ``X``. With ``solver="sgd"`` and
``dtype=np.float64`` hpsearch follows scikit-learn's trajectory, so both must give the same
predictions, probabilities, classes (values and dtype), errors and warnings; and neither
may write into the user's arrays.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from hpsearch import MLPClassifier, MLPRegressor

_RNG = np.random.RandomState(0)
X = _RNG.standard_normal((30, 3))
YC = np.arange(30) % 3
YR = X[:, 0]
LETTERS = np.array(list("abc"))[YC]
MULTILABEL = np.c_[YC == 1, YC == 2].astype(int)
FRAME = pd.DataFrame(X, columns=["a", "b", "c"])
WEIGHTS = np.arange(30) % 4


def _make(cls, **params):
    ours = cls in (MLPClassifier, MLPRegressor)
    return cls(hidden_layer_sizes=(3,), max_iter=3, random_state=0, solver="sgd",
               **({"dtype": np.float64} if ours else {}), **params)


def _out(est, X_=X):
    out = [est.predict(X_)]
    if hasattr(est, "predict_proba"):
        out += [est.predict_proba(X_), est.classes_]
    return out


def _pf(make, X_, y, **kw):
    return _out(make().partial_fit(X_, y, **kw))


#: what a user passes -> call(make) returning arrays to compare
CLASSIFIER_CASES = {
    "pandas X": lambda m: _out(m().fit(FRAME, YC), FRAME) + [m().fit(FRAME, YC).feature_names_in_],
    "y Series": lambda m: _out(m().fit(X, pd.Series(YC))),
    "y categorical": lambda m: _out(m().fit(X, pd.Series(pd.Categorical(LETTERS)))),
    "y categorical, unused category": lambda m: _out(
        m().fit(X, pd.Series(pd.Categorical(YC, categories=[0, 1, 2, 3])))),
    "y pandas string dtype": lambda m: _out(m().fit(X, pd.Series(LETTERS, dtype="string"))),
    "y pandas boolean": lambda m: _out(m().fit(X, pd.Series(YC == 1, dtype="boolean"))),
    "y strings": lambda m: _out(m().fit(X, LETTERS)),
    "y mixed object": lambda m: _out(m().fit(X, np.array(["a", 1, "b"] * 10, dtype=object))),
    "y bool": lambda m: _out(m().fit(X, YC == 1)),
    "y column vector": lambda m: _out(m().fit(X, YC[:, None])),
    "single class": lambda m: _out(m().fit(X, np.zeros(30, int))),
    "single string class": lambda m: _out(m().fit(X, np.array(["z"] * 30))),
    "multilabel": lambda m: _out(m().fit(X, MULTILABEL)) + [
        m().fit(X, MULTILABEL).predict_log_proba(X)],
    "multilabel with an all-zero column": lambda m: _out(m().fit(X, np.c_[YC == 1, 0 * YC])),
    "float16 X": lambda m: _out(m().fit(X.astype(np.float16), YC)),
    "int X": lambda m: _out(m().fit((3 * X).astype(int), YC)),
    "bool X": lambda m: _out(m().fit(X > 0, YC)),
    "Fortran X": lambda m: _out(m().fit(np.asfortranarray(X), YC)),
    "list X": lambda m: _out(m().fit(X.tolist(), YC.tolist())),
    "nullable Int64 frame": lambda m: _out(m().fit(
        pd.DataFrame((3 * X).astype(int)).astype("Int64"), YC)),
    "coo X": lambda m: _out(m().fit(sp.coo_matrix(X), YC)),
    "csc X": lambda m: _out(m().fit(sp.csc_matrix(X), YC)),
    "lil X": lambda m: _out(m().fit(sp.lil_matrix(X), YC)),
    "csr_array X": lambda m: _out(m().fit(sp.csr_array(X), YC)),
    "sparse bool X": lambda m: _out(m().fit(sp.csr_matrix(X > 0), YC)),
    "weights int": lambda m: _out(m().fit(X, YC, sample_weight=WEIGHTS)),
    "weights list": lambda m: _out(m().fit(X, YC, sample_weight=WEIGHTS.tolist())),
    "weights Series": lambda m: _out(m().fit(X, YC, sample_weight=pd.Series(WEIGHTS))),
    "weights scalar": lambda m: _out(m().fit(X, YC, sample_weight=2.0)),
    "weights scalar 0": lambda m: _out(m().fit(X, YC, sample_weight=0.0)),
    "weights bool": lambda m: _out(m().fit(X, YC, sample_weight=WEIGHTS > 0)),
    "weights with sparse X": lambda m: _out(m().fit(sp.csr_matrix(X), YC, sample_weight=WEIGHTS)),
    "weights multilabel": lambda m: _out(m().fit(X, MULTILABEL, sample_weight=WEIGHTS)),
    "weights partial_fit": lambda m: _pf(m, X, YC, classes=[0, 1, 2], sample_weight=WEIGHTS),
    "classes strings, reversed": lambda m: _pf(m, X, LETTERS, classes=["c", "b", "a"]),
    "classes unsorted": lambda m: _pf(m, X, YC, classes=[2, 0, 1]),
    "classes superset": lambda m: _pf(m, X, YC, classes=[0, 1, 2, 3]),
    "classes repeated": lambda m: _pf(m, X, YC, classes=[0, 1, 2, 2]),
    "classes set": lambda m: _pf(m, X, YC, classes={0, 1, 2}),
    "classes pd.Index": lambda m: _pf(m, X, LETTERS, classes=pd.Index(["a", "b", "c"])),
    "classes floats for int y": lambda m: _pf(m, X, YC, classes=[0.0, 1.0, 2.0]),
    "classes as strings for int y": lambda m: _pf(m, X, YC, classes=["0", "1", "2"]),
    "classes 2-D": lambda m: _pf(m, X, YC, classes=[[0, 1, 2]]),
    "classes empty": lambda m: _pf(m, X, YC, classes=[]),
    "classes bool": lambda m: _pf(m, X, YC == 1, classes=[False, True]),
    "classes of a subset batch": lambda m: _pf(m, X[YC < 2], YC[YC < 2], classes=[0, 1, 2]),
    "classes again, reordered": lambda m: _out(
        m().partial_fit(X, YC, classes=[0, 1, 2]).partial_fit(X, YC, classes=[2, 1, 0])),
    "classes again, fewer": lambda m: _out(
        m().partial_fit(X, YC, classes=[0, 1, 2]).partial_fit(X, YC % 2, classes=[0, 1])),
    "multilabel partial_fit": lambda m: _pf(m, X, MULTILABEL),
    "partial_fit after fit": lambda m: _out(m().fit(X, YC).partial_fit(X, YC)),
    "partial_fit after fit, new class": lambda m: _out(m().fit(X, YC % 2).partial_fit(X, YC)),
    "names: fit pandas, partial_fit numpy": lambda m: _out(m().fit(FRAME, YC).partial_fit(X, YC)),
    "names dropped by a numpy refit": lambda m: [hasattr(m().fit(FRAME, YC).fit(X, YC),
                                                        "feature_names_in_")],
    "predict sparse after dense": lambda m: _out(m().fit(X, YC), sp.csr_matrix(X)),
    "predict int after float": lambda m: _out(m().fit(X, YC), (3 * X).astype(int)),
    "predict no rows": lambda m: _out(m().fit(X, YC), X[:0]),
    "score weighted": lambda m: [m().fit(X, YC).score(X, YC, sample_weight=WEIGHTS)],
}

REGRESSOR_CASES = {
    "pandas X": lambda m: _out(m().fit(FRAME, YR), FRAME),
    "y Series": lambda m: _out(m().fit(X, pd.Series(YR))),
    "y nullable Float64": lambda m: _out(m().fit(X, pd.Series(YR).astype("Float64"))),
    "y float32": lambda m: _out(m().fit(X, YR.astype(np.float32))),
    "y float16": lambda m: _out(m().fit(X, YR.astype(np.float16))),
    "y int": lambda m: _out(m().fit(X, YC)),
    "y bool": lambda m: _out(m().fit(X, YC == 1)),
    "y column vector": lambda m: _out(m().fit(X, YR[:, None])),
    "y frame of two outputs": lambda m: _out(m().fit(X, pd.DataFrame({"u": YR, "v": -YR}))),
    "float32 X, float64 predict": lambda m: _out(m().fit(X.astype(np.float32), YR)),
    "csc X": lambda m: _out(m().fit(sp.csc_matrix(X), YR)),
    "weights scalar": lambda m: _out(m().fit(X, YR, sample_weight=2.0)),
    "weights two outputs": lambda m: _out(m().fit(X, np.c_[YR, -YR], sample_weight=WEIGHTS)),
    "weights partial_fit": lambda m: _out(m().partial_fit(X, YR, sample_weight=WEIGHTS)),
    "poisson weighted": lambda m: _out(m(loss="poisson").fit(X, np.abs(YR), sample_weight=WEIGHTS)),
}


def _answer(call, make):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            result = call(make)
        except Exception as exc:  # noqa: BLE001 - the answer compared
            result = f"{type(exc).__name__}: {exc}"
    return result, sorted({f"{w.category.__name__}: {w.message}" for w in seen
                           if w.category.__name__ != "ConvergenceWarning"})


#: cases scikit-learn trains in float32 (its dtype follows X; hpsearch's is dtype=float64)
_FLOAT32_RTOL = {"float32 X, float64 predict": 1e-5}


def _assert_same(ours, theirs, rtol=1e-9):
    (a, wa), (b, wb) = ours, theirs
    assert wa == wb
    assert type(a) is type(b), (a, b)
    if isinstance(a, str):
        assert a.replace("hpsearch.mlp.", "") == b.replace(
            "sklearn.neural_network._multilayer_perceptron.", "")
        return
    assert len(a) == len(b)
    for p, q in zip(a, b):
        p, q = np.asarray(p), np.asarray(q)
        assert p.dtype == q.dtype and p.shape == q.shape, (p, q)
        if p.dtype.kind in "fc":
            np.testing.assert_allclose(p, q, rtol=rtol, atol=1e-12)
        else:
            np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("case", sorted(CLASSIFIER_CASES))
def test_classifier_takes_the_data_as_sklearn(case):
    _assert_same(_answer(CLASSIFIER_CASES[case], lambda **kw: _make(MLPClassifier, **kw)),
                 _answer(CLASSIFIER_CASES[case], lambda **kw: _make(SkMLPClassifier, **kw)))


@pytest.mark.parametrize("case", sorted(REGRESSOR_CASES))
def test_regressor_takes_the_data_as_sklearn(case):
    _assert_same(_answer(REGRESSOR_CASES[case], lambda **kw: _make(MLPRegressor, **kw)),
                 _answer(REGRESSOR_CASES[case], lambda **kw: _make(SkMLPRegressor, **kw)),
                 _FLOAT32_RTOL.get(case, 1e-9))


def _read_only_forms():
    dense = X.copy()
    dense.setflags(write=False)
    fortran = np.asfortranarray(X)
    fortran.setflags(write=False)
    csr = sp.csr_matrix(X)
    for array in (csr.data, csr.indices, csr.indptr):
        array.setflags(write=False)
    return {"read-only": dense, "read-only Fortran": fortran, "read-only csr": csr}


@pytest.mark.parametrize("params", [{}, {"early_stopping": True}, {"solver": "lbfgs"},
                                    {"dropout": 0.2, "input_dropout": 0.3},
                                    {"dtype": np.float64}], ids=repr)
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_read_only_and_memory_mapped_inputs_are_never_written(cls, params, tmp_path):
    y = (YC if cls is MLPClassifier else YR).copy()
    y.setflags(write=False)
    weights = np.ones(30)
    weights.setflags(write=False)
    path = tmp_path / "X.dat"
    mapped = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    forms = {**_read_only_forms(),
             "memmap": np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)}
    for name, X_ in forms.items():
        est = cls(hidden_layer_sizes=(3,), max_iter=2, random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X_, y, sample_weight=weights).predict(X_)
            if "solver" not in params and "early_stopping" not in params:
                est.partial_fit(X_, y)
        dense = X_.toarray() if sp.issparse(X_) else np.asarray(X_)
        np.testing.assert_array_equal(dense, X, err_msg=name)
