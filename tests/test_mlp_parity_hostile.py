"""Hostile inputs of the MLPs, side by side with scikit-learn's ``neural_network`` MLPs.

For every parameter both libraries share, a bad value must be refused in ``fit`` with
scikit-learn's own message (parameter, rule, value), and a good one (numpy scalars
included) accepted; the texts both print or warn for the same event are scikit-learn's.
"""

import contextlib
import io
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from hpsearch import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X = np.random.RandomState(0).standard_normal((20, 3))
Y = {MLPClassifier: np.arange(20) % 2, MLPRegressor: X[:, 0]}
PAIRS = [(MLPClassifier, SkMLPClassifier), (MLPRegressor, SkMLPRegressor)]

#: the parameters scikit-learn's MLPs have too (MLPRegressor also has ``loss``)
SHARED = ["hidden_layer_sizes", "activation", "solver", "alpha", "batch_size",
          "learning_rate_init", "max_iter", "shuffle", "random_state", "tol", "verbose",
          "warm_start", "momentum", "nesterovs_momentum", "learning_rate", "power_t",
          "max_fun", "beta_1", "beta_2", "epsilon", "early_stopping", "validation_fraction",
          "n_iter_no_change"]

hostile = st.one_of(
    st.sampled_from([None, True, False, np.True_, np.False_, math.nan, math.inf, -math.inf,
                     np.float64(math.nan), (), [], (1,), [1], "1", 1 + 0j, np.array(0.5),
                     "AUTO", "Adam", "RELU", "Constant", "Squared_Error"]),
    st.integers(-3, 3), st.floats(-2, 2), st.integers(-3, 3).map(np.int64),
    st.floats(-2, 2, width=32).map(np.float32), st.integers(0, 3).map(np.uint8),
)


def _outcome(cls, params, y):
    """``"accepted"`` or the refusal's message (scikit-learn prints its float bounds as
    ``0.0``, hpsearch as ``0``; hpsearch's option sets are larger: both normalized)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls(**params).fit(X, y)
    except Exception as exc:  # noqa: BLE001 - the outcome compared
        text = re.sub(r"(\d)\.0(?=[,\])])", r"\1", str(exc))
        return f"{type(exc).__name__}: {re.sub(r'among [{][^}]*[}]', 'among {...}', text)}"
    return "accepted"


@settings(max_examples=60, deadline=None)
@given(pair=st.sampled_from(PAIRS), name=st.sampled_from(SHARED + ["loss"]), value=hostile)
def test_shared_parameter_refused_or_accepted_as_sklearn(pair, name, value):
    ours, theirs = pair
    if name == "loss" and ours is MLPClassifier:
        name = "alpha"
    params = {"max_iter": 1, "hidden_layer_sizes": (2,), "random_state": 0, name: value}
    got, expected = _outcome(ours, params, Y[ours]), _outcome(theirs, params, Y[ours])
    if expected.startswith(("TypeError", "UFuncTypeError", "OverflowError")):
        # scikit-learn fails deep inside on a bad hidden_layer_sizes entry: hpsearch names it
        assert got.startswith(f"ValueError: The '{name}' parameter of {ours.__name__}"), got
        return
    # (with these tiny data both refuse an early-stopping split the same way, in words
    # of their own, and both train everything else)
    if "validation set" in expected or "test_size" in expected:
        assert "validation" in got, got
        return
    assert got == expected.replace("Sk", ""), (got, expected)


def _verbose_lines(cls, **params):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cls(hidden_layer_sizes=(3,), random_state=0, verbose=True, **params).fit(
            X, Y[MLPClassifier])
    return out.getvalue().splitlines()


@pytest.mark.parametrize("params, stop", [
    (dict(solver="sgd", tol=0.5), "Training loss did not improve more than tol=0.500000 "
                                  "for 1 consecutive epochs. Stopping."),
    (dict(tol=0.5, early_stopping=True, validation_fraction=0.5),
     "Validation score did not improve more than tol=0.500000 for 1 consecutive epochs. "
     "Stopping."),
    (dict(solver="sgd", learning_rate="adaptive", tol=0.5),
     "Training loss did not improve more than tol=0.500000 for 1 consecutive epochs. "
     "Setting learning rate to 0.000200"),
])
def test_stopping_message_formats_tol_as_sklearn(params, stop):
    # was "tol=0.5" where scikit-learn prints "tol=0.500000" (its %f)
    params.update(n_iter_no_change=1, max_iter=4)
    ours, theirs = _verbose_lines(MLPClassifier, **params), _verbose_lines(SkMLPClassifier,
                                                                           **params)
    assert stop in theirs
    assert stop in ours
    # and every other line has scikit-learn's shape (numbers aside)
    shape = lambda lines: [re.sub(r"-?\d+\.\d+", "#", line) for line in lines]  # noqa: E731
    assert shape(ours) == shape(theirs)


@pytest.mark.parametrize("y", [np.array(["1.5", "2"] * 10), ["1.5", "2"] * 10,
                               np.array([b"1", b"2"] * 10)])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_regressor_refuses_a_string_target_as_sklearn(y, method):
    # was: numpy parsed '1.5' and the regressor trained; scikit-learn's fails (TypeError
    # deep in its loss). Now a ValueError naming the target and the dtype.
    with pytest.raises(TypeError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(SkMLPRegressor(max_iter=1), method)(X, y)
    with pytest.raises(ValueError, match=r"The target y of MLPRegressor must be numeric\. "
                                         r"Got an array of strings \(dtype [<|][US]"):
        getattr(MLPRegressor(max_iter=1), method)(X, y)


def test_regressor_accepts_an_object_target_as_sklearn():
    # scikit-learn converts an object y to float64 (its validate_data(y_numeric=True))
    y = np.array(["1.5", 2, 3.0, "4"] * 5, dtype=object)
    for cls in (MLPRegressor, SkMLPRegressor):
        assert cls(hidden_layer_sizes=(2,), max_iter=1).fit(X, y).predict(X).shape == (20,)


def test_warm_start_with_other_classes_message_is_sklearns():
    messages = []
    for cls in (MLPClassifier, SkMLPClassifier):
        est = cls(hidden_layer_sizes=(2,), max_iter=1, warm_start=True).fit(X, np.arange(20) % 3)
        with pytest.raises(ValueError) as info:
            est.fit(X, np.arange(20) % 2)
        messages.append(str(info.value))
    assert messages[0] == messages[1]  # was: hpsearch's ended with an extra "."


@pytest.mark.parametrize("solver", ["adam", "adagrad", "rmsprop"])
def test_epsilon_below_float32_range_trains_as_sklearn(solver):
    # was TrainingDivergedError: epsilon=1e-320 (valid, scikit-learn trains) rounded to 0 in
    # the float32 working dtype, and a zero gradient's step became 0/0 = NaN
    X_zero = np.column_stack([X, np.zeros(20)])  # (alpha=0) its weights: gradient 0
    est = MLPRegressor(hidden_layer_sizes=(2,), solver=solver, epsilon=1e-320, max_iter=3,
                       alpha=0, random_state=0).fit(X_zero, Y[MLPRegressor])
    assert np.isfinite(est.loss_) and all(np.isfinite(c).all() for c in est.coefs_)
    if solver == "adam":
        theirs = SkMLPRegressor(hidden_layer_sizes=(2,), epsilon=1e-320, max_iter=3,
                                alpha=0, random_state=0).fit(X_zero, Y[MLPRegressor])
        np.testing.assert_allclose(est.coefs_[0], theirs.coefs_[0], atol=1e-5)


@pytest.mark.parametrize("dtype", [np.dtype("float32"), np.dtype("float64")])
def test_dtype_accepts_a_numpy_dtype(dtype):
    # was refused: only "float32"/"float64" and the scalar types np.float32/np.float64
    est = MLPRegressor(hidden_layer_sizes=(2,), max_iter=1, dtype=dtype).fit(X, Y[MLPRegressor])
    assert est.coefs_[0].dtype == dtype
    with pytest.raises(ValueError, match=r"'dtype' parameter of MLPRegressor .* Got "
                                         r"dtype\('float16'\) instead"):
        MLPRegressor(dtype=np.dtype("float16")).fit(X, Y[MLPRegressor])


@pytest.mark.parametrize("sizes", [np.array(0.5), np.array(3)])
def test_zero_dimensional_hidden_layer_sizes_is_named(sizes):
    # was a bare TypeError "iteration over a 0-d array" (scikit-learn's too): a 0-d array
    # passes the "array-like" rule but is no sequence of layer widths
    with pytest.raises(ValueError, match=r"The 'hidden_layer_sizes' parameter of "
                                         r"MLPClassifier must be a sequence of int in the "
                                         rf"range \[1, inf\)\. Got {re.escape(repr(sizes))}"):
        MLPClassifier(hidden_layer_sizes=sizes).fit(X, Y[MLPClassifier])


# ----------------------------------------------------------------- bad data, side by side
def _small(cls, **params):
    return cls(hidden_layer_sizes=(2,), max_iter=1, random_state=0, **params)


def _pf(est, X_, y, **kwargs):
    if isinstance(est, (MLPClassifier, SkMLPClassifier)):
        kwargs.setdefault("classes", [0, 1])
    return est.partial_fit(X_, y, **kwargs)


def _frame(columns="abc"):
    import pandas as pd

    return pd.DataFrame(X, columns=list(columns))


#: what a user does wrong -> call(cls, y); both libraries must answer alike
BAD_DATA = {
    "NaN in X": lambda c, y: _small(c).fit(np.where(X > 1, np.nan, X), y),
    "inf in X": lambda c, y: _small(c).fit(np.where(X > 1, np.inf, X), y),
    "NaN in sparse X": lambda c, y: _small(c).fit(_sparse(np.where(X > 1, np.nan, X)), y),
    "empty X": lambda c, y: _small(c).fit(X[:0], y[:0]),
    "no features": lambda c, y: _small(c).fit(X[:, :0], y),
    "1-D X": lambda c, y: _small(c).fit(X[:, 0], y),
    "3-D X": lambda c, y: _small(c).fit(X[:, :, None], y),
    "complex X": lambda c, y: _small(c).fit(X + 0j, y),
    "y too short": lambda c, y: _small(c).fit(X, y[:-1]),
    "NaN in y": lambda c, y: _small(c).fit(X, np.where(np.arange(20) == 3, np.nan, y)),
    "features at predict": lambda c, y: _small(c).fit(X, y).predict(X[:, :2]),
    "unfitted predict": lambda c, y: c().predict(X),
    "sample_weight length": lambda c, y: _small(c).fit(X, y, sample_weight=np.ones(19)),
    "sample_weight NaN": lambda c, y: _small(c).fit(X, y, sample_weight=np.r_[np.nan, [1] * 19]),
    "sample_weight all 0": lambda c, y: _small(c).fit(X, y, sample_weight=np.zeros(20)),
    "sample_weight 2-D": lambda c, y: _small(c).fit(X, y, sample_weight=np.ones((20, 1))),
    "partial_fit features": lambda c, y: _pf(_pf(_small(c), X, y), X[:, :2], y),
    "warm_start features": lambda c, y: _small(c, warm_start=True).fit(X, y).fit(X[:, 1:], y),
    "partial_fit early_stopping": lambda c, y: _pf(_small(c, early_stopping=True), X, y),
    "names at fit, none at predict": lambda c, y: _small(c).fit(_frame(), y).predict(X),
    "none at fit, names at predict": lambda c, y: _small(c).fit(X, y).predict(_frame()),
    "names reordered": lambda c, y: _small(c).fit(_frame(), y).predict(_frame("bac")),
    "names renamed": lambda c, y: _small(c).fit(_frame(), y).predict(_frame("abz")),
    # classifiers only
    "partial_fit without classes": lambda c, y: _pf(_small(c), X, y, classes=None),
    "partial_fit class not declared": lambda c, y: _pf(_small(c), X, y + 1),
    "partial_fit new class later": lambda c, y: _pf(_pf(_small(c), X, y), X, y + 1),
    "partial_fit other classes later": lambda c, y: _pf(_pf(_small(c), X, y), X, y,
                                                        classes=[0, 1, 2]),
    "continuous y to a classifier": lambda c, y: _small(c).fit(X, X[:, 0]),
}
_CLASSIFIER_ONLY = {"partial_fit without classes", "partial_fit class not declared",
                    "partial_fit new class later", "partial_fit other classes later",
                    "continuous y to a classifier"}


def _sparse(A):
    from scipy.sparse import csr_matrix

    return csr_matrix(A)


def _answer(call):
    """The exception (type name and message) or "ok", and the warnings but convergence."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            call()
            answer = "ok"
        except Exception as exc:  # noqa: BLE001 - the answer compared
            answer = f"{type(exc).__name__}: {exc}"
    return answer, sorted({f"{w.category.__name__}: {w.message}" for w in seen
                           if w.category.__name__ != "ConvergenceWarning"})


@pytest.mark.parametrize("case, ours, theirs", [
    (case, ours, theirs) for case in sorted(BAD_DATA) for ours, theirs in PAIRS
    if not (case in _CLASSIFIER_ONLY and ours is MLPRegressor)])
def test_bad_data_answered_as_sklearn(case, ours, theirs):
    # the same exception type and message (or both train), the same warnings
    answers = [_answer(lambda: BAD_DATA[case](cls, Y[ours])) for cls in (ours, theirs)]
    assert answers[0] == answers[1]


# ----------------------------------------------------------------- lecture techniques
@pytest.mark.parametrize("activation", ["prelu", "maxout"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_learned_activations_survive_pickle_warm_start_and_clone(activation, early_stopping):
    import pickle

    from sklearn.base import clone

    X_, y = np.random.RandomState(1).standard_normal((60, 3)), np.arange(60) % 3
    kw = dict(hidden_layer_sizes=(4,), activation=activation, dropout=0.3, input_dropout=0.1,
              early_stopping=early_stopping, n_iter_no_change=50, random_state=0)
    straight = MLPClassifier(max_iter=6, **kw).fit(X_, y)
    part = pickle.loads(pickle.dumps(MLPClassifier(max_iter=2, warm_start=True, **kw).fit(X_, y)))
    part.set_params(max_iter=4).fit(X_, y)
    for a, b in zip(straight.coefs_ + straight.prelu_alphas_, part.coefs_ + part.prelu_alphas_):
        np.testing.assert_array_equal(a, b)
    if activation == "prelu":  # one learned slope per neuron, moved from prelu_init
        assert straight.prelu_alphas_[0].shape == (4,)
        assert not np.all(straight.prelu_alphas_[0] == 0.25)
    else:  # maxout_pieces linear pieces per unit
        assert straight.coefs_[0].shape == (3, 2 * 4)
    # no dropout at prediction: the same answer every call
    np.testing.assert_array_equal(straight.predict_proba(X_), straight.predict_proba(X_))
    if early_stopping:  # sklearn's attributes: the scores of every epoch, no best_loss_
        assert len(part.validation_scores_) == 6 and part.best_loss_ is None
        assert part.best_validation_score_ == max(part.validation_scores_)
    else:
        assert part.validation_scores_ is None and part.best_loss_ == min(part.loss_curve_)
    assert part.n_iter_ == 4 and part.t_ == straight.t_ and len(part.loss_curve_) == 6
    assert not hasattr(clone(straight), "coefs_")


@pytest.mark.parametrize("method", ["warm_start", "partial_fit"])
def test_another_number_of_outputs_is_refused_where_sklearn_broadcasts(method):
    # sklearn's MLPRegressor trains its two outputs on a broadcast 1-column y and keeps
    # predicting two columns; hpsearch refuses, naming both counts and the way out
    y2 = np.column_stack([Y[MLPRegressor], -Y[MLPRegressor]])
    theirs = _small(SkMLPRegressor, warm_start=method == "warm_start")
    getattr(theirs, "fit" if method == "warm_start" else "partial_fit")(X, y2)
    getattr(theirs, "fit" if method == "warm_start" else "partial_fit")(X, Y[MLPRegressor])
    assert theirs.predict(X).shape == (20, 2)
    ours = _small(MLPRegressor, warm_start=method == "warm_start")
    call = getattr(ours, "fit" if method == "warm_start" else "partial_fit")
    call(X, y2)
    with pytest.raises(ValueError, match=re.escape(
            "y has 1 output columns, but the network was trained with 2: warm_start and "
            "partial_fit continue the same network. Pass y with 2 columns, or fit afresh "
            "(warm_start=False).")):
        call(X, Y[MLPRegressor])
