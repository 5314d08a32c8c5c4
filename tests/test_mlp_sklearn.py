"""sklearn contract, attributes, bad input and messages."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    check_sample_weight_equivalence_on_sparse_data,
    parametrize_with_checks,
)

from hpsearch import MLPClassifier, MLPRegressor
from hpsearch.mlp import TrainingDivergedError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# sklearn's sample-weight equivalence checks compare predictions at rtol=1e-7, below the
# resolution of the default float32 weights (1.2e-7): weighted and repeated rows round
# differently, so they pass or miss by one float32 ulp depending on the BLAS (the sparse one
# misses by 1.9e-7 here). The same checks pass at float64 in
# test_sample_weight_equivalence_float64 below, with their tolerance unchanged.
_FLOAT32_ULP = "float32 default dtype: rtol=1e-7 is below float32 resolution (see float64 test)"
_EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data": _FLOAT32_ULP,
    "check_sample_weight_equivalence_on_sparse_data": _FLOAT32_ULP,
}


@parametrize_with_checks([MLPClassifier(), MLPRegressor()],
                         expected_failed_checks=lambda est: _EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    """No expected failures but the float32 rounding of the sample-weight equivalence."""
    check(estimator)


@pytest.mark.parametrize("check", [check_sample_weight_equivalence_on_dense_data,
                                   check_sample_weight_equivalence_on_sparse_data])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_sample_weight_equivalence_float64(Estimator, check):
    """sklearn's own checks, unchanged tolerance: integer weights = repeated rows, zero
    weights = dropped rows."""
    check(Estimator.__name__, Estimator(dtype=np.float64))


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("param,value,rule", [
    ("alpha", -1, "a float in the range [0, inf)"),
    ("l1", -0.5, "a float in the range [0, inf)"),
    ("dropout", 1.0, "a float in the range [0, 1)"),
    ("solver", "newton", "a str among"),
    ("learning_rate", "optimal", "a str among"),
    ("power_t", -0.5, "a float in the range [0, inf)"),
    ("max_fun", 0, "an int in the range [1, inf)"),
    ("activation", "swish", "a str among"),
    ("maxout_pieces", 1, "an int in the range [2, inf)"),
    ("batch_size", 0, "an int in the range [1, inf)"),
    ("learning_rate_init", 0, "a float in the range (0, inf)"),
    ("init", "zeros", "a str among"),
])
def test_invalid_parameters_named_with_rule_and_value(iris, param, value, rule):
    X, y = iris
    with pytest.raises(ValueError, match=re.escape(
            f"The '{param}' parameter of MLPClassifier must be") + ".*" + re.escape(rule)
            + ".*" + re.escape(f"Got {value!r} instead.")):
        MLPClassifier(**{param: value}).fit(X, y)


def test_alpha_message_exact(iris):
    X, y = iris
    with pytest.raises(ValueError) as info:
        MLPClassifier(alpha=-1).fit(X, y)
    assert str(info.value) == ("The 'alpha' parameter of MLPClassifier must be a float in the "
                               "range [0, inf). Got -1 instead.")


def test_hidden_layer_sizes_validated(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"'hidden_layer_sizes' parameter of MLPClassifier "
                                         r"must be a sequence of int in the range \[1, inf\)\. "
                                         r"Got \(4, 0\) instead"):
        MLPClassifier((4, 0)).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_rejected(iris, bad):
    X, y = iris
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        MLPClassifier(max_iter=1).fit(X, y)


def test_wrong_shapes(iris):
    X, y = iris
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier(max_iter=1).fit(X, y[:-1])
    est = MLPClassifier((5,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="Expected 2D array"):
        est.predict(X[0])


def test_partial_fit_classes(iris):
    X, y = iris
    est = MLPClassifier((5,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, y)
    est.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert est.predict_proba(X).shape == (150, 3)
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        est.partial_fit(X, np.where(y == 2, 7, y))


def test_multilabel_partial_fit_checks_classes_and_target_kind(iris):
    """As scikit-learn: a multilabel y with label columns beyond the declared classes is
    refused (we ignored ``classes``), and a multilabel y after a multiclass fit is a named
    error (was an IndexError)."""
    X, y = iris
    Y = np.c_[y == 0, y == 1, y >= 1].astype(int)
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`. "
                                         r"`self.classes_` has \[0 1\]"):
        MLPClassifier((3,)).partial_fit(X, Y, classes=[0, 1])
    assert MLPClassifier((3,)).partial_fit(X, Y, classes=[0, 1, 2]).predict(X).shape == (150, 3)
    kind = "y is a multilabel indicator matrix, but MLPClassifier was trained on a multiclass"
    with pytest.raises(ValueError, match=kind):
        MLPClassifier((3,)).partial_fit(X, y, classes=[0, 1, 2]).partial_fit(X, Y)
    with pytest.raises(ValueError, match=kind):
        MLPClassifier((3,), max_iter=1, warm_start=True).fit(X, y).fit(X, Y)


def test_divergence_names_epoch_and_learning_rate(iris):
    X, y = iris
    with pytest.raises(TrainingDivergedError,
                       match=r"loss became (nan|inf) at epoch \d+ .*smaller learning_rate_init"):
        MLPRegressor((8,), solver="sgd", learning_rate_init=10.0, max_iter=50,
                     random_state=0).fit(X * 100, y * 1e3)
    assert issubclass(TrainingDivergedError, FloatingPointError)
    assert issubclass(TrainingDivergedError, ValueError)


def test_float32_and_float64_agree(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(10,), max_iter=20, random_state=0, solver="sgd",
              learning_rate_init=0.05)
    a = MLPClassifier(dtype=np.float32, **kw).fit(X, y)
    b = MLPClassifier(dtype="float64", **kw).fit(X, y)
    assert a.coefs_[0].dtype == np.float32 and b.coefs_[0].dtype == np.float64
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(u, v, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-4)


@pytest.mark.parametrize("working", [np.float32, np.float64])
@pytest.mark.parametrize("fit_dtype,predict_dtype,expected", [
    (np.float32, np.float32, np.float32), (np.float32, np.float64, np.float64),
    (np.float64, np.float32, np.float64), (np.float64, np.float64, np.float64)])
def test_predictions_in_sklearn_dtype(iris, working, fit_dtype, predict_dtype, expected):
    """scikit-learn 1.9.1's MLP predicts float32 only when the X of the fit and the X predicted
    are both float32 (its weights take the training X's dtype); the working dtype does not
    show. We returned float64 always."""
    X, y = iris[0][:40], iris[1][:40]
    kw = dict(hidden_layer_sizes=(3,), max_iter=2, random_state=0, dtype=working)
    clf = MLPClassifier(**kw).fit(X.astype(fit_dtype), y)
    reg = MLPRegressor(**kw).fit(X.astype(fit_dtype), y.astype(float))
    Xp = X.astype(predict_dtype)
    assert clf.predict_proba(Xp).dtype == expected
    assert clf.predict_log_proba(Xp).dtype == expected
    assert reg.predict(Xp).dtype == expected
    np.testing.assert_allclose(reg.predict(Xp), reg.predict(X), rtol=1e-6)


def test_fitted_attributes_and_history(iris):
    X, y = iris
    est = MLPClassifier((6, 5), activation="prelu", max_iter=7, early_stopping=True,
                        random_state=0).fit(X, y)
    assert [c.shape for c in est.coefs_] == [(4, 6), (6, 5), (5, 3)]
    assert [i.shape for i in est.intercepts_] == [(6,), (5,), (3,)]
    assert [a.shape for a in est.prelu_alphas_] == [(6,), (5,)]
    assert est.n_layers_ == 4 if hasattr(est, "n_layers_") else True
    assert est.out_activation_ == "softmax" and est.n_outputs_ == 3
    assert est.n_iter_ == 7 and est.t_ == 7 * 135 and len(est.loss_curve_) == 7
    assert est.loss_ == est.loss_curve_[-1] and est.best_loss_ is None
    assert len(est.validation_scores_) == 7
    frame = pd.DataFrame(est.history_)
    assert list(frame.columns) == ["epoch", "loss", "validation_score", "time", "grad_norm_0",
                                   "grad_norm_1", "grad_norm_2"]
    assert len(frame) == 7 and frame["grad_norm_0"].gt(0).all()
    assert frame["validation_score"].tolist() == est.validation_scores_
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), est.predict_proba(X))


def test_maxout_layout(iris):
    X, y = iris
    est = MLPClassifier((5,), activation="maxout", maxout_pieces=3, max_iter=3).fit(X, y)
    assert est.coefs_[0].shape == (4, 15) and est.coefs_[1].shape == (5, 3)
    Z = X @ est.coefs_[0] + est.intercepts_[0]
    A = np.maximum.reduce([Z[:, j * 5:(j + 1) * 5] for j in range(3)])  # piece-major
    logits = A @ est.coefs_[1] + est.intercepts_[1]
    np.testing.assert_array_equal(est.predict(X), est.classes_[logits.argmax(1)])


def test_binary_multilabel_and_multioutput(iris):
    X, y = iris
    binary = MLPClassifier((5,), max_iter=30, random_state=0).fit(X, np.where(y == 0, "a", "b"))
    assert binary.out_activation_ == "logistic" and binary.coefs_[-1].shape == (5, 1)
    assert set(binary.predict(X)) <= {"a", "b"} and binary.predict_proba(X).shape == (150, 2)
    Y = np.column_stack([y == 0, y == 1, y > 0]).astype(int)
    multi = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, Y)
    assert multi.predict(X).shape == (150, 3) and multi.out_activation_ == "logistic"
    reg = MLPRegressor((8,), max_iter=5).fit(X, np.column_stack([y, 2 * y]))
    assert reg.predict(X).shape == (150, 2) and reg.out_activation_ == "identity"


def test_batch_size_options(iris):
    X, y = iris
    for bs, n_batches in [("auto", 1), ("full", 1), (1, 150), (40, 4)]:
        est = MLPClassifier((4,), batch_size=bs, max_iter=1).fit(X, y)
        assert est._optimizer.t == n_batches


def test_verbose_prints(iris, capsys):
    X, y = iris
    MLPClassifier((4,), max_iter=2, verbose=True).fit(X, y)
    assert "Iteration 2, loss = " in capsys.readouterr().out
    MLPClassifier((4,), max_iter=1, verbose=True, early_stopping=True).fit(X, y)
    assert re.fullmatch(r"Iteration 1, loss = \d\.\d{8}\nValidation score: \d\.\d{6}\n",
                        capsys.readouterr().out)  # scikit-learn's lines


def test_pipeline_readme_example():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier((64,), dropout=0.1, max_iter=60, random_state=0))
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.95


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_batch_size_above_the_rows_warns_as_sklearn(iris, Estimator):
    from sklearn import neural_network

    X, y = iris
    params = dict(hidden_layer_sizes=(4,), batch_size=1000, max_iter=1)
    for est in (Estimator(**params), getattr(neural_network, Estimator.__name__)(**params)):
        with pytest.warns(UserWarning, match="Got `batch_size` less than 1 or larger than "
                          "sample size. It is going to be clipped"):
            est.fit(X, y)
    with warnings.catch_warnings():  # "auto", "full" and a size that fits: no warning
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        for bs in ("auto", "full", 150):
            Estimator(hidden_layer_sizes=(4,), batch_size=bs, max_iter=1).fit(X, y)


def _surgery(module, replace, **params):
    """Fit two MLPs of ``module``, put the second's weights into the first by ``replace``
    and return (first, second)."""
    make = getattr(module, "MLPClassifier")
    params = {"hidden_layer_sizes": (5,), "max_iter": 50, **params}
    X, y = load_iris(return_X_y=True)
    a = make(random_state=0, **params).fit(X, y)
    b = make(random_state=1, **params).fit(X, y)
    replace(a, b)
    return a, b


def _rebind(a, b):
    a.coefs_ = [c.copy() for c in b.coefs_]
    a.intercepts_ = [c.copy() for c in b.intercepts_]


def _assign_items(a, b):
    for k in range(len(b.coefs_)):
        a.coefs_[k] = b.coefs_[k].copy()
        a.intercepts_[k] = b.intercepts_[k].copy()


@pytest.mark.parametrize("replace", [_rebind, _assign_items])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_weights_set_by_the_user_predict_and_train_as_sklearn(replace, early_stopping):
    # model surgery: scikit-learn's MLP predicts and continues from its public coefs_ /
    # intercepts_; hpsearch's predicted from its flat weights, ignoring replaced arrays
    from sklearn import neural_network

    import hpsearch

    X, y = load_iris(return_X_y=True)
    for module, extra in ((neural_network, {}), (hpsearch, {"dtype": np.float64})):
        a, b = _surgery(module, replace, early_stopping=early_stopping, **extra)
        np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X))
        a2 = pickle.loads(pickle.dumps(a))  # the replaced weights are pickled too
        np.testing.assert_allclose(a2.predict_proba(X), b.predict_proba(X))
    # continued training starts from them: one plain-SGD epoch equals sklearn's
    params = dict(solver="sgd", momentum=0, shuffle=False, learning_rate_init=0.01)
    ours, _ = _surgery(hpsearch, replace, dtype=np.float64, **params)
    theirs, _ = _surgery(neural_network, replace, **params)
    ours.partial_fit(X, y)
    theirs.partial_fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6)


def test_weights_of_the_wrong_shape_are_refused():
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier((5,), max_iter=5).fit(X, y)
    est.coefs_[0] = np.zeros((4, 6))
    with pytest.raises(ValueError, match=re.escape(
            "coefs_[0] of MLPClassifier must have the layer's shape (4, 5). "
            "Got shape (4, 6) instead.")):
        est.predict(X)
    est.coefs_ = est.coefs_[:1]
    with pytest.raises(ValueError, match="coefs_ of MLPClassifier must hold 2 arrays"):
        est.predict(X)


# ------------------------------------------------ hostile edges (parity pass against sklearn)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_divergence_in_the_last_steps_is_an_error_not_nan_weights(iris, solver):
    """The epoch's loss is measured before its steps: a step that overflows the weights in
    the last epoch (here a learning rate beyond float32) must raise like sklearn's final
    check, not leave NaN coefs_ and NaN predict_proba behind."""
    X, y = iris
    est = MLPClassifier((5,), solver=solver, learning_rate_init=1e300, batch_size=150,
                        max_iter=1, random_state=0)
    with pytest.raises(TrainingDivergedError, match="non-finite parameter weights.*float32"):
        est.fit(X, y)
    with pytest.raises(TrainingDivergedError, match="weights became non-finite"):
        clone(est).partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_random_state_instance_trains_as_the_int(iris, solver):
    """sklearn: random_state=3 and random_state=RandomState(3) give the same model."""
    X, y = iris
    kw = dict(hidden_layer_sizes=(4,), solver=solver, max_iter=2, dropout=0.0)
    a = MLPClassifier(random_state=3, **kw).fit(X, y)
    b = MLPClassifier(random_state=np.random.RandomState(3), **kw).fit(X, y)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(u, v)
    # a reused instance moves on, also where no weight is drawn from it (init="he")
    rs = np.random.RandomState(3)
    c, d = (MLPClassifier(random_state=rs, init="he", **kw).fit(X, y) for _ in range(2))
    assert not np.array_equal(c.coefs_[0], d.coefs_[0])


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_random_state_none_trains_as_sklearn_after_np_random_seed(iris, solver):
    """sklearn: random_state=None draws the weights (and sgd's shuffles) from NumPy's global
    generator, so np.random.seed(0) makes the fit repeatable and gives random_state=0's
    model. was: hpsearch drew its own seed from the global generator first, so the weights
    were other than sklearn's (0.157 instead of 0.051 for the first one here)."""
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    X, y = iris
    kw = dict(hidden_layer_sizes=(4,), solver=solver, max_iter=3)
    fitted = []
    for make in (lambda: SkMLPClassifier(**kw), lambda: MLPClassifier(dtype=np.float64, **kw)):
        np.random.seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted.append((make().fit(X, y), make().fit(X, y)))  # the second: new weights
    (sk, sk_next), (ours, ours_next) = fitted
    for u, v in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-9)
    assert not np.array_equal(ours.coefs_[0], ours_next.coefs_[0])
    assert not np.array_equal(sk.coefs_[0], sk_next.coefs_[0])
    # also where no weight is drawn from the global generator (init="he"): a new model
    np.random.seed(0)
    c, d = (MLPClassifier(init="he", **kw).fit(X, y) for _ in range(2))
    assert not np.array_equal(c.coefs_[0], d.coefs_[0])


def test_validation_fraction_leaving_no_training_row_is_named(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stratification warning before the error
        with pytest.raises(ValueError, match=r"training set is empty: validation_fraction="
                                             r"0\.9 of 5 samples holds out 5"):
            MLPClassifier(early_stopping=True, validation_fraction=0.9).fit(X[::30], y[::30])
        with pytest.raises(ValueError, match="validation set is too small"):
            MLPClassifier(early_stopping=True).fit(X[[0, 50, 100]], y[[0, 50, 100]])


def test_validation_fraction_zero_is_valid_without_early_stopping(iris):
    """scikit-learn's range is [0, 1): 0 fits (the value is unused without early stopping);
    we refused it. With early stopping the empty validation set is named."""
    X, y = iris
    kw = dict(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    a = MLPClassifier(validation_fraction=0.0, **kw).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], MLPClassifier(**kw).fit(X, y).coefs_[0])
    with pytest.raises(ValueError, match=r"validation set is too small: validation_fraction="
                                         r"0\.0 of 150 samples gives 0"):
        MLPClassifier(validation_fraction=0.0, early_stopping=True, **kw).fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "adagrad", "rmsprop"])
def test_overflowed_squared_gradients_are_an_error_not_frozen_weights(iris, solver):
    """Unscaled data (gradients beyond 1.8e19) overflowed g**2 in float32: the adaptive
    steps became g/sqrt(inf) = 0, the weights froze with a finite loss, and fit returned
    as if trained. float64 (sklearn's dtype) trains."""
    X, y = iris
    kw = dict(hidden_layer_sizes=(4,), solver=solver, max_iter=2, random_state=0)
    with pytest.raises(TrainingDivergedError, match="squared gradients overflowed.*float32"):
        MLPRegressor(**kw).fit(X * 1e10, y * 1e11)
    MLPRegressor(dtype=np.float64, **kw).fit(X * 1e10, y * 1e11)


def test_partial_fit_after_a_failed_first_call_keeps_the_declared_classes(iris):
    """The first call's ``classes`` outlive its failure (as sklearn): the next call
    without ``classes`` silently trained on the classes of its own ``y``."""
    X, y = iris
    est = MLPClassifier((3,), random_state=0)
    with pytest.raises(ValueError, match="`y` has classes not in"):
        est.partial_fit(X, np.where(y == 2, 7, y), classes=[0, 1, 2])
    est.partial_fit(X[y < 2], y[y < 2])
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    assert est.predict_proba(X[:1]).shape == (1, 3)
