"""The MLP's data path: sample_weight, sparse input, the Poisson loss (estimator level).

Exact comparisons use float64 and full-batch training (one batch per epoch), where weighted
and repeated rows give the same steps up to rounding; the gradients themselves are checked
by finite differences in test_neural_gradients.py.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from hpsearch import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

EXACT = dict(hidden_layer_sizes=(7,), batch_size="full", dtype=np.float64, random_state=0,
             max_iter=15, learning_rate_init=0.01)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=80, n_features=5, noise=1.0, random_state=0)
    return X, y / 100


def _weights(n, seed=0):
    w = np.random.default_rng(seed).integers(0, 4, size=n)
    w[:3] = [0, 2, 3]
    return w


def _assert_same_model(a, b, X, rtol=1e-9):
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=rtol, atol=1e-12)


# ------------------------------------------------------------------ sample_weight
@pytest.mark.parametrize("Estimator,solver", [(MLPClassifier, "adam"), (MLPRegressor, "adam"),
                                              (MLPClassifier, "rmsprop")])
def test_integer_weights_equal_repeated_rows(iris, regression, Estimator, solver):
    """fit(X, y, sample_weight=w) == fit(X.repeat(w), y.repeat(w)); zero weights drop rows."""
    X, y = iris if Estimator is MLPClassifier else regression
    w = _weights(len(y))
    weighted = Estimator(solver=solver, alpha=0.01, **EXACT).fit(X, y, sample_weight=w)
    repeated = Estimator(solver=solver, alpha=0.01, **EXACT).fit(X.repeat(w, axis=0),
                                                                 y.repeat(w))
    _assert_same_model(weighted, repeated, X)


def test_partial_fit_weights_equal_repeated_rows(iris):
    X, y = iris
    w = _weights(len(y), seed=1)
    a, b = MLPClassifier(**EXACT), MLPClassifier(**EXACT)
    for _ in range(3):
        a.partial_fit(X, y, sample_weight=w, classes=[0, 1, 2])
        b.partial_fit(X.repeat(w, axis=0), y.repeat(w), classes=[0, 1, 2])
    _assert_same_model(a, b, X)


def test_unit_weights_equal_no_weights_bit_for_bit(iris):
    """All-ones weights follow the unweighted path's arithmetic (mini-batches, float32)."""
    X, y = iris
    kw = dict(hidden_layer_sizes=(6,), batch_size=32, max_iter=5, random_state=0)
    a = MLPClassifier(**kw).fit(X, y)
    b = MLPClassifier(**kw).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5)
    assert a.loss_curve_ == pytest.approx(b.loss_curve_, rel=1e-5)


def test_scaling_weights_only_rescales_the_penalty(regression):
    """sklearn's normalization: the data gradient is a weighted mean (scale-free) while the
    penalty is divided by the weight sum; without a penalty, w and 3w train identically."""
    X, y = regression
    w = _weights(len(y)) + 0.5
    a = MLPRegressor(alpha=0.0, **EXACT).fit(X, y, sample_weight=w)
    b = MLPRegressor(alpha=0.0, **EXACT).fit(X, y, sample_weight=3 * w)
    _assert_same_model(a, b, X)
    c = MLPRegressor(alpha=1.0, **EXACT).fit(X, y, sample_weight=w)
    d = MLPRegressor(alpha=1.0, **EXACT).fit(X, y, sample_weight=3 * w)
    assert not np.allclose(c.coefs_[0], d.coefs_[0])


def test_sample_index_with_weights(iris):
    """Weights given with sample_index belong to the selected rows (what the search engine
    passes after slicing its fit params by the training fold)."""
    X, y = iris
    idx = np.random.default_rng(0).permutation(150)[:90]
    w = _weights(90)
    a = MLPClassifier(**EXACT).fit(X, y, sample_index=idx, sample_weight=w)
    b = MLPClassifier(**EXACT).fit(X[idx], y[idx], sample_weight=w)
    _assert_same_model(a, b, X, rtol=0)


def test_early_stopping_score_is_weighted(iris):
    """The validation score of early stopping is sklearn's weighted accuracy of the held-out
    rows, which carry their own weights."""
    X, y = iris
    w = np.where(y == 2, 5.0, 1.0)
    est = MLPClassifier((5,), early_stopping=True, max_iter=1, random_state=0,
                        validation_fraction=0.3).fit(X, y, sample_weight=w)
    _, val = train_test_split(np.arange(150), test_size=0.3, random_state=est._split_seed,
                              stratify=y)
    pred = est.predict(X[val])
    assert est.validation_scores_[0] == pytest.approx(
        accuracy_score(y[val], pred, sample_weight=w[val]))
    assert accuracy_score(y[val], pred) != pytest.approx(est.validation_scores_[0])


def test_weights_in_a_search(iris):
    """A search passes the fold's weights next to sample_index; an all-weights-on-one-class
    fit differs from the unweighted one."""
    from hpsearch import GridSearchCV

    X, y = iris
    w = np.where(y == 0, 10.0, 1.0)
    search = GridSearchCV(MLPClassifier((4,), max_iter=5, random_state=0),
                          {"alpha": [1e-4, 1e-2]}, cv=2)
    search.fit(X, y, sample_weight=w)
    assert search.best_estimator_.n_iter_ == 5


@pytest.mark.parametrize("weights,message", [
    (-np.ones(150), "Negative values in data passed to `sample_weight`"),
    (np.ones(149), r"sample_weight.shape == \(149,\), expected \(150,\)"),
    (np.zeros(150), "Sample weights must contain at least one non-zero number"),
    (np.full(150, np.nan), "Input sample_weight contains NaN"),
])
def test_bad_weights_named(iris, weights, message):
    X, y = iris
    with pytest.raises(ValueError, match=message):
        MLPClassifier(max_iter=1).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_negative_weight_named_with_rule_and_value(iris, method):
    """scikit-learn 1.9's MLP accepts negative weights silently (its loss is then unbounded
    below and a batch summing to 0 stops it with ZeroDivisionError); we refuse them, naming
    the parameter, the method, the rule and the first negative value."""
    X, y = iris
    w = np.ones(150)
    w[[3, 7]] = [-0.5, -1.0]
    kwargs = {"classes": [0, 1, 2]} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match=rf"'sample_weight' parameter of MLPClassifier\.{method}"
                                         r" must hold non-negative weights .* Got -0\.5 at "
                                         r"index 3 \(2 negative values\)"):
        getattr(MLPClassifier(max_iter=1), method)(X, y, sample_weight=w, **kwargs)


def test_all_zero_training_weights_after_the_validation_split(iris):
    X, y = iris
    est = MLPClassifier((3,), early_stopping=True, validation_fraction=0.5, random_state=0)
    est.fit(X, y, sample_weight=np.ones(150))
    _, val = train_test_split(np.arange(150), test_size=0.5, random_state=est._split_seed,
                              stratify=y)
    w = np.zeros(150)
    w[val] = 1.0
    with pytest.raises(ValueError, match="'sample_weight' of the training rows are all zero"):
        MLPClassifier((3,), early_stopping=True, validation_fraction=0.5,
                      random_state=0).fit(X, y, sample_weight=w)
    # and the held-out rows: named, not the metric's "at least one non-zero number"
    with pytest.raises(ValueError, match="'sample_weight' of the validation rows .* all zero"):
        MLPClassifier((3,), early_stopping=True, validation_fraction=0.5,
                      random_state=0).fit(X, y, sample_weight=1.0 - w)


def test_zero_weight_batches_are_skipped(regression):
    """A mini-batch whose weights are all zero takes no step (it has no data to follow)."""
    X, y = regression
    w = np.r_[np.zeros(40), np.ones(40)]
    est = MLPRegressor((4,), batch_size=20, shuffle=False, max_iter=2,
                       random_state=0).fit(X, y, sample_weight=w)
    assert est._optimizer.t == 4  # 2 of 4 batches per epoch
    ref = MLPRegressor((4,), batch_size=20, shuffle=False, max_iter=2,
                       random_state=0).fit(X[40:], y[40:])
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=1e-6)


# ------------------------------------------------------------------ sparse input
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_sparse_trains_and_predicts_like_dense(iris, regression, Estimator, fmt):
    X, y = iris if Estimator is MLPClassifier else regression
    X = np.where(np.abs(X) < 0.5, 0.0, X)
    Xs = sp.csr_matrix(X).asformat(fmt)
    kw = dict(hidden_layer_sizes=(6,), batch_size=16, max_iter=4, dtype=np.float64,
              random_state=0, alpha=0.01)
    dense = Estimator(**kw).fit(X, y)
    sparse = Estimator(**kw).fit(Xs, y)
    _assert_same_model(dense, sparse, X, rtol=1e-8)
    np.testing.assert_allclose(sparse.predict(Xs), dense.predict(X), rtol=1e-8, atol=1e-12)


def test_sparse_array_weights_and_early_stopping(iris):
    X, y = iris
    Xs = sp.csr_array(np.where(np.abs(X) < 0.5, 0.0, X))
    est = MLPClassifier((5,), early_stopping=True, max_iter=5, random_state=0)
    est.fit(Xs, y, sample_weight=_weights(150) + 1)
    assert len(est.validation_scores_) == 5 and est.predict(Xs).shape == (150,)


def test_input_dropout_on_sparse_input():
    """Input dropout drops stored entries with probability p and scales the kept by 1/(1-p):
    the dense mask's distribution (a zero stays zero either way); the batch stays sparse."""
    from hpsearch.neural.layers import Dropout

    X = sp.random(400, 300, density=0.2, format="csr", random_state=0, dtype=np.float64)
    X.data[:] = 1.0
    out = Dropout(300, 0.25).forward(X, (), None, True, np.random.default_rng(0))
    assert sp.issparse(out) and out.nnz == X.nnz
    kept = out.data != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(out.data[kept], 1 / 0.75)
    assert X.data.min() == 1.0  # the input is not modified
    est = MLPClassifier((8,), input_dropout=0.2, dropout=0.1, max_iter=3, random_state=0)
    y = np.arange(400) % 3
    assert est.fit(X, y).predict(X).shape == (400,)


def test_large_sparse_matrix_is_never_densified():
    """100k x 50k at 0.1% density (5M stored entries, 60 MB as CSR; dense it would take 40 GB
    in float64): training a few mini-batches and predicting allocates about 30 MB at peak."""
    n, d, per_row = 100_000, 50_000, 50
    rng = np.random.default_rng(0)
    cols = (rng.integers(0, d // per_row, size=(n, per_row))
            + (d // per_row) * np.arange(per_row)).astype(np.int32).ravel()  # sorted, unique
    X = sp.csr_matrix((rng.random(n * per_row), cols, np.arange(0, n * per_row + 1, per_row)),
                      shape=(n, d))
    y = rng.integers(0, 2, size=n)
    tracemalloc.start()
    try:
        est = MLPClassifier((16,), max_iter=1, random_state=0, batch_size=200)
        est.fit(X, y, sample_index=np.arange(1000))  # 5 mini-batches
        proba = est.predict_proba(X[:3000])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert est._optimizer.t == 5 and proba.shape == (3000, 2)
    assert peak < 150e6, f"peak {peak / 1e6:.0f} MB"


# ------------------------------------------------------------------ poisson
def test_poisson_regressor_basics():
    rng = np.random.default_rng(0)
    X = rng.random((200, 3))
    y = rng.poisson(np.exp(X.sum(axis=1)))
    est = MLPRegressor((8,), loss="poisson", max_iter=50, random_state=0).fit(X, y)
    assert est.out_activation_ == "exp" and np.all(est.predict(X) > 0)
    assert est.get_params()["loss"] == "poisson"
    with pytest.raises(ValueError, match=r"loss='poisson' must be non-negative.*Got a "
                                         r"minimum of -1\.0"):
        MLPRegressor(loss="poisson", max_iter=1).fit(X, np.r_[-1.0, y[1:]])
    with pytest.raises(ValueError, match=r"The 'loss' parameter of MLPRegressor must be a str "
                                         r"among .*Got 'absolute_error' instead"):
        MLPRegressor(loss="absolute_error").fit(X, y)
    with pytest.raises(ValueError, match="cannot change the network structure"):
        est.set_params(warm_start=True, loss="squared_error").fit(X, y)


def test_poisson_mlp_matches_poisson_glm():
    """One identity hidden unit and the log link make a Poisson GLM (sklearn's own test, with
    full-batch Adam in place of lbfgs)."""
    rng = np.random.default_rng(0)
    X = np.linspace(0, 1, 100).reshape(-1, 1)
    y = rng.poisson(np.exp(X.ravel() + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-8).fit(X, y)
    mlp = MLPRegressor((1,), activation="identity", loss="poisson", alpha=0, batch_size="full",
                       learning_rate_init=0.05, max_iter=1500, tol=0, n_iter_no_change=10**6,
                       dtype=np.float64, init="glorot", random_state=0).fit(X, y)
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-3)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_weighted_and_sparse_fits_continue_exactly(iris, sparse):
    """warm_start with sample_weight (and sparse X) ends bit-identical to one longer fit."""
    X, y = iris
    X = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X)) if sparse else X
    w = _weights(150) + 0.5
    kw = dict(hidden_layer_sizes=(6,), batch_size=32, random_state=0, dropout=0.1)
    one = MLPClassifier(max_iter=6, **kw).fit(X, y, sample_weight=w)
    two = MLPClassifier(max_iter=2, **kw).fit(X, y, sample_weight=w)
    two.set_params(warm_start=True, max_iter=4).fit(X, y, sample_weight=w)
    for u, v in zip(one.coefs_ + one.intercepts_, two.coefs_ + two.intercepts_):
        np.testing.assert_array_equal(u, v)
    assert one.loss_curve_ == two.loss_curve_


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_lbfgs_weights_equal_repeated_rows_and_sparse_equals_dense(cls):
    """solver='lbfgs' honours sample_weight (integer weights = repeated rows) and trains on
    sparse X as on dense X (found when merging lbfgs with the data path)."""
    X, y = load_iris(return_X_y=True)
    y = y if cls is MLPClassifier else X[:, 0]
    w = np.random.default_rng(0).integers(0, 3, len(y)).astype(float)
    rep = np.repeat(np.arange(len(y)), w.astype(int))
    kw = dict(solver="lbfgs", dtype=np.float64, random_state=0, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = cls(**kw).fit(X, y, sample_weight=w)
        b = cls(**kw).fit(X[rep], y[rep])
        c = cls(**kw).fit(sp.csr_matrix(X), y)
        d = cls(**kw).fit(X, y)
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-8)
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], atol=1e-6)
    assert c.loss_ == pytest.approx(d.loss_, rel=1e-8)


def test_early_stopping_on_too_few_rows_to_stratify_trains_as_sklearn():
    # 20 rows of 3 classes, validation_fraction 0.1: 2 held-out rows cannot hold every
    # class. scikit-learn's MLP never stratifies a multiclass target and trains; ours
    # raised "cannot be drawn" (a failed candidate in a search on small folds). It now
    # draws the split unstratified, saying so.
    from sklearn.neural_network import MLPClassifier as SkMLP

    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 4), np.arange(20) % 3
    SkMLP(early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="cannot be stratified with validation_fraction=0.1"):
        est = MLPClassifier(early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_weights_of_any_magnitude_train_as_their_ratios(iris, solver):
    """Weights of 1e300 or 1e-300 overflowed / vanished in the float32 working dtype
    (a divergence error, a ZeroDivisionError); without a penalty only their ratios count."""
    X, y = iris
    w = _weights(len(y)) + 0.5
    kw = dict(hidden_layer_sizes=(4,), solver=solver, alpha=0.0, max_iter=5, random_state=0)
    ref = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    for scale in (1e300, 1e-300):
        est = MLPClassifier(**kw).fit(X, y, sample_weight=w * scale)
        np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), rtol=1e-4)


def test_sparse_target_of_a_regressor_is_named(regression):
    """A sparse y failed deep in the epoch ("output array does not match result of
    ndarray.take"; sklearn's MLP fails in a matrix product)."""
    X, y = regression
    with pytest.raises(ValueError, match=r"MLPRegressor does not accept a sparse y: .*\(80, 1\)"):
        MLPRegressor((3,), max_iter=1).fit(X, sp.csc_matrix(y[:, None]))
