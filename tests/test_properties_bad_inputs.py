"""Property tests (hypothesis) for bad inputs of the estimators, the searches and the CV specs.

Contract (project brief): every bad input gets a ``ValueError`` (sklearn's
``InvalidParameterError`` is one) whose message names the parameter and the value it got —
never a ``TypeError``/``IndexError``/``ZeroDivisionError`` from deep inside — and valid
random configurations train and predict with the right shapes.

The valid ranges below are the documented ones (``MLPClassifier._parameter_constraints``);
they are written out here on purpose, so a silent change of a range fails this test.
"""

import inspect
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from hpsearch import (
    GridSearchCV,
    HalvingSearchCV,
    MLPClassifier,
    MLPRegressor,
    OptunaSearchCV,
    RandomSearchCV,
    RecipeSearchCV,
    make_cv,
)
from hpsearch.model_selection.split import CV_METHODS
from hpsearch.space import Float, Int, as_space
from hpsearch.mlp import TrainingDivergedError

ESTIMATORS = [MLPClassifier, MLPRegressor]
# parameter-like names ("__" would address a nested parameter)
names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(lambda n: "__" not in n)
finite = st.floats(-1e9, 1e9, allow_nan=False)

X = np.random.RandomState(0).standard_normal((24, 3))
Y_CLF = np.arange(24) % 3
Y_REG = X @ np.array([0.5, -1.0, 0.25])


def _y_for(cls):
    return Y_CLF if cls is MLPClassifier else Y_REG


def _fit(est, X_=X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X_, _y_for(type(est)) if y is None else y)


# ----------------------------------------------------------------- MLP: numeric ranges
# name: (type, low, high, low_closed, high_closed); None = unbounded
NUMERIC = {
    "alpha": ("real", 0, None, True, False),
    "l1": ("real", 0, None, True, False),
    "learning_rate_init": ("real", 0, None, False, False),
    "tol": ("real", 0, None, True, False),
    "momentum": ("real", 0, 1, True, True),
    "beta_1": ("real", 0, 1, True, False),
    "beta_2": ("real", 0, 1, True, False),
    "epsilon": ("real", 0, None, False, False),
    "rho": ("real", 0, 1, True, False),
    "leaky_slope": ("real", 0, 1, True, False),
    "prelu_init": ("real", None, None, False, False),
    "dropout": ("real", 0, 1, True, False),
    "input_dropout": ("real", 0, 1, True, False),
    "validation_fraction": ("real", 0, 1, True, False),  # [0, 1) as sklearn
    "max_iter": ("int", 1, None, True, False),
    "batch_size": ("int", 1, None, True, False),
    "maxout_pieces": ("int", 2, None, True, False),
    "n_iter_no_change": ("int", 1, None, True, False),  # also accepts float inf
    "power_t": ("real", 0, None, True, False),
    "max_fun": ("int", 1, None, True, False),
}

wrong_type = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


def _out_of_range(kind, low, high, low_closed, high_closed):
    """Values of the right type outside the interval, plus NaN and infinities."""
    outs = [st.just(math.nan)]
    if low is not None:
        outs.append(st.floats(max_value=low, exclude_max=low_closed, allow_nan=False))
        outs.append(st.integers(max_value=low - 1 if low_closed else low))
    else:
        outs.append(st.just(-math.inf))
    if high is not None:
        outs.append(st.floats(min_value=high, exclude_min=high_closed, allow_nan=False))
        outs.append(st.integers(min_value=high + 1 if high_closed else high))
    else:
        outs.append(st.just(math.inf))
    if kind == "int":
        # a float is the wrong type for an int parameter even with a whole value in range
        outs.append(st.floats(allow_nan=False, allow_infinity=False)
                    .filter(lambda v: not math.isinf(v)))
    return st.one_of(outs)


def _invalid_numeric(name):
    kind, low, high, low_closed, high_closed = NUMERIC[name]
    values = st.one_of(_out_of_range(kind, low, high, low_closed, high_closed), wrong_type)
    if name == "n_iter_no_change":
        values = values.filter(lambda v: not (isinstance(v, float) and v == math.inf))
    if name == "batch_size":
        values = values.filter(lambda v: v not in ("auto", "full"))
    return values


@pytest.mark.parametrize("name", sorted(NUMERIC))
@settings(max_examples=25)
@given(data=st.data(), cls=st.sampled_from(ESTIMATORS))
def test_numeric_parameter_out_of_range_raises_naming_it(name, data, cls):
    value = data.draw(_invalid_numeric(name), label=name)
    est = cls(**{"hidden_layer_sizes": (2,), "max_iter": 1, name: value})
    with pytest.raises(ValueError) as info:
        _fit(est)
    message = str(info.value)
    assert f"'{name}' parameter of {cls.__name__}" in message, message
    assert f"Got {value!r} instead" in message, message


bad_layer = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=40)
@given(
    cls=st.sampled_from(ESTIMATORS),
    good=st.lists(st.integers(1, 4), max_size=2),
    bad=bad_layer,
    pos=st.integers(0, 2),
    as_tuple=st.booleans(),
)
def test_hidden_layer_sizes_bad_entry_raises_naming_it(cls, good, bad, pos, as_tuple):
    sizes = list(good)
    sizes.insert(min(pos, len(sizes)), bad)
    sizes = tuple(sizes) if as_tuple else sizes
    with pytest.raises(ValueError) as info:
        _fit(cls(hidden_layer_sizes=sizes, max_iter=1))
    message = str(info.value)
    assert f"'hidden_layer_sizes' parameter of {cls.__name__}" in message, message
    assert f"Got {sizes!r} instead" in message, message


@settings(max_examples=20)
@given(cls=st.sampled_from(ESTIMATORS),
       value=st.one_of(st.integers(max_value=0), st.floats(), st.none(), st.text(max_size=4)))
def test_hidden_layer_sizes_bad_scalar_raises_naming_it(cls, value):
    # a str is a sequence too; either way the message names the parameter and the value
    with pytest.raises(ValueError) as info:
        _fit(cls(hidden_layer_sizes=value, max_iter=1))
    message = str(info.value)
    assert f"'hidden_layer_sizes' parameter of {cls.__name__}" in message, message
    assert f"Got {value!r} instead" in message, message


STRING_OPTIONS = {
    "activation": {"relu", "identity", "sigmoid", "logistic", "tanh", "leaky_relu", "prelu",
                   "maxout"},
    "solver": {"adam", "sgd", "lbfgs", "momentum", "nesterov", "adagrad", "rmsprop"},
    "learning_rate": {"constant", "invscaling", "adaptive"},
    "init": {"auto", "glorot", "he", "normal"},
    "batch_size": {"auto", "full"},
    "dtype": {"float32", "float64"},
}


@pytest.mark.parametrize("name", sorted(STRING_OPTIONS))
@settings(max_examples=25)
@given(data=st.data(), cls=st.sampled_from(ESTIMATORS))
def test_string_parameter_unknown_value_raises_listing_options(name, data, cls):
    allowed = STRING_OPTIONS[name]
    value = data.draw(st.text(max_size=12).filter(lambda s: s not in allowed), label=name)
    with pytest.raises(ValueError) as info:
        _fit(cls(**{"hidden_layer_sizes": (2,), "max_iter": 1, name: value}))
    message = str(info.value)
    assert f"'{name}' parameter of {cls.__name__}" in message, message
    assert f"Got {value!r} instead" in message, message
    for option in allowed:
        assert repr(option) in message, message


# ----------------------------------------------------------------- MLP: valid configurations
@st.composite
def valid_params(draw):
    early = draw(st.booleans())
    solver = draw(st.sampled_from(sorted(STRING_OPTIONS["solver"])))
    no_dropout = solver == "lbfgs"  # refused with lbfgs (a deterministic full-batch loss)
    return dict(
        hidden_layer_sizes=tuple(draw(st.lists(st.integers(1, 4), max_size=2))),
        activation=draw(st.sampled_from(sorted(STRING_OPTIONS["activation"]))),
        solver=solver,
        learning_rate=draw(st.sampled_from(sorted(STRING_OPTIONS["learning_rate"]))),
        power_t=draw(st.floats(0, 2)),
        nesterovs_momentum=draw(st.booleans()),
        init=draw(st.sampled_from(sorted(STRING_OPTIONS["init"]))),
        dtype=draw(st.sampled_from(["float32", "float64", np.float32, np.float64])),
        batch_size=draw(st.one_of(st.sampled_from(["auto", "full"]), st.integers(1, 40))),
        alpha=draw(st.floats(0, 1)),
        l1=draw(st.floats(0, 0.1)),
        learning_rate_init=draw(st.floats(1e-4, 0.05)),
        max_iter=draw(st.integers(1, 3)),
        tol=draw(st.floats(0, 1)),
        momentum=draw(st.floats(0, 1)),
        beta_1=draw(st.floats(0, 0.999)),
        beta_2=draw(st.floats(0, 0.9999)),
        epsilon=draw(st.floats(1e-8, 1)),
        rho=draw(st.floats(0, 0.999)),
        leaky_slope=draw(st.floats(0, 0.99)),
        prelu_init=draw(st.floats(-2, 2)),
        maxout_pieces=draw(st.integers(2, 4)),
        dropout=0.0 if no_dropout else draw(st.floats(0, 0.9)),
        input_dropout=0.0 if no_dropout else draw(st.floats(0, 0.9)),
        shuffle=draw(st.booleans()),
        early_stopping=early,
        # data-dependent lower end: the stratified hold-out needs >= n_classes rows
        validation_fraction=draw(st.floats(0.2, 0.6)),
        n_iter_no_change=draw(st.one_of(st.integers(1, 5), st.just(math.inf))),
        random_state=draw(st.integers(0, 2**31)),
    )


def _fit_or_diverge(est, y):
    """``est`` fitted on ``X, y``, or None when its training diverged.

    A valid configuration may diverge (momentum near 1 with batch size 1 and a large
    learning rate, say): scikit-learn's MLP raises then too
    (:func:`test_a_valid_configuration_may_diverge_as_in_scikit_learn`). The only allowed
    failure is hpsearch's documented divergence error, naming learning_rate_init and its
    value."""
    try:
        return _fit(est, X, y)
    except TrainingDivergedError as exc:
        assert f"learning_rate_init (it is {est.learning_rate_init})" in str(exc), exc
        return None


def test_a_valid_configuration_may_diverge_as_in_scikit_learn():
    # the configuration class a property test drew in CI (stop 12): both libraries raise
    from sklearn.neural_network import MLPRegressor as SkMLPRegressor

    common = dict(hidden_layer_sizes=(4, 4), activation="identity", batch_size=1,
                  learning_rate_init=0.05, max_iter=3, random_state=0, momentum=0.99)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        _fit(SkMLPRegressor(solver="sgd", **common), X, Y_REG)
    with pytest.raises(TrainingDivergedError, match=r"learning_rate_init \(it is 0.05\)"):
        _fit(MLPRegressor(solver="momentum", **common), X, Y_REG)


@settings(max_examples=20)
@given(params=valid_params(), n_classes=st.integers(2, 3), n_test=st.integers(1, 7))
def test_valid_classifier_configuration_fits_and_predicts(params, n_classes, n_test):
    y = np.array(["a", "b", "c"])[np.arange(24) % n_classes]
    clf = _fit_or_diverge(MLPClassifier(**params), y)
    if clf is None:
        return
    X_new = np.random.RandomState(n_test).standard_normal((n_test, 3))
    pred = clf.predict(X_new)
    assert pred.shape == (n_test,)
    assert set(pred) <= set(clf.classes_)
    assert list(clf.classes_) == ["a", "b", "c"][:n_classes]
    proba = clf.predict_proba(X_new)
    assert proba.shape == (n_test, n_classes)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(pred, clf.classes_[np.argmax(proba, axis=1)])
    # L-BFGS may stop before its first iteration (gradient already below tol), as sklearn's
    assert (params["solver"] != "lbfgs") <= clf.n_iter_ <= params["max_iter"]


@settings(max_examples=20)
@given(params=valid_params(), two_targets=st.booleans(), n_test=st.integers(1, 7))
def test_valid_regressor_configuration_fits_and_predicts(params, two_targets, n_test):
    y = np.column_stack([Y_REG, -Y_REG]) if two_targets else Y_REG
    reg = _fit_or_diverge(MLPRegressor(**params), y)
    if reg is None:
        return
    pred = reg.predict(np.random.RandomState(n_test).standard_normal((n_test, 3)))
    assert pred.shape == ((n_test, 2) if two_targets else (n_test,))
    assert np.all(np.isfinite(pred))
    assert (params["solver"] != "lbfgs") <= reg.n_iter_ <= params["max_iter"]


@pytest.mark.parametrize("cls", [
    MLPClassifier,
    MLPRegressor,
])
@settings(max_examples=10)
@given(fraction=st.floats(0.001, 1 / 24))
def test_early_stopping_hold_out_too_small_names_validation_fraction(cls, fraction):
    # 24 rows: the hold-out has 1 row, fewer than 2 (R²) or than the 3 classes
    with pytest.raises(ValueError, match=f"validation_fraction={fraction}"):
        _fit(cls(hidden_layer_sizes=(2,), max_iter=1, early_stopping=True,
                 validation_fraction=fraction))


# ----------------------------------------------------------------- MLP: bad data
@pytest.fixture(scope="module")
def fitted():
    return {cls: _fit(cls(hidden_layer_sizes=(3,), max_iter=2, random_state=0))
            for cls in ESTIMATORS}


non_finite = st.sampled_from([math.nan, math.inf, -math.inf])


@settings(max_examples=30)
@given(cls=st.sampled_from(ESTIMATORS), row=st.integers(0, 23), col=st.integers(0, 2),
       value=non_finite, at_predict=st.booleans())
def test_non_finite_X_is_refused(fitted, cls, row, col, value, at_predict):
    X_bad = X.copy()
    X_bad[row, col] = value
    match = "NaN" if math.isnan(value) else "infinity"
    with pytest.raises(ValueError, match=match):
        if at_predict:
            fitted[cls].predict(X_bad)
        else:
            _fit(cls(hidden_layer_sizes=(2,), max_iter=1), X_bad)


@settings(max_examples=20)
@given(row=st.integers(0, 23), value=non_finite)
def test_non_finite_regression_target_is_refused(row, value):
    y_bad = Y_REG.copy()
    y_bad[row] = value
    with pytest.raises(ValueError, match="Input y contains " + ("NaN" if math.isnan(value)
                                                                 else "infinity")):
        _fit(MLPRegressor(hidden_layer_sizes=(2,), max_iter=1), X, y_bad)


@settings(max_examples=30)
@given(cls=st.sampled_from(ESTIMATORS), n_features=st.integers(1, 8),
       method=st.sampled_from(["predict", "predict_proba", "score"]))
def test_wrong_number_of_features_at_predict_names_both_counts(fitted, cls, n_features,
                                                               method):
    assume(n_features != 3)
    assume(not (method == "predict_proba" and cls is MLPRegressor))
    X_new = np.zeros((4, n_features))
    call = getattr(fitted[cls], method)
    args = (X_new, _y_for(cls)[:4]) if method == "score" else (X_new,)
    with pytest.raises(ValueError,
                       match=f"X has {n_features} features, but {cls.__name__} is "
                             f"expecting 3 features as input"):
        call(*args)


@settings(max_examples=30)
@given(cls=st.sampled_from(ESTIMATORS), n_y=st.integers(1, 40))
def test_y_of_wrong_length_is_refused(cls, n_y):
    assume(n_y != 24)
    y = np.resize(_y_for(cls), n_y)
    with pytest.raises(ValueError,
                       match=re.escape(f"inconsistent numbers of samples: [24, {n_y}]")):
        _fit(cls(hidden_layer_sizes=(2,), max_iter=1), X, y)


# ----------------------------------------------------------------- searches
def _grid(**kw):
    return GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, **{"cv": 2, **kw})


def _random(**kw):
    return RandomSearchCV(LogisticRegression(), {"C": Float(0.1, 1.0)},
                          **{"cv": 2, "n_iter": 2, **kw})


def _optuna(**kw):
    return OptunaSearchCV(LogisticRegression(), {"C": Float(0.1, 1.0)},
                          **{"cv": 2, "n_trials": 2, **kw})


def _halving(**kw):
    return HalvingSearchCV(MLPClassifier((2,), max_iter=3), {"alpha": [0.1, 1.0]},
                           **{"cv": 2, **kw})


def _recipe(**kw):
    return RecipeSearchCV(LogisticRegression(), {"C": Float(0.1, 1.0)},
                          **{"cv": 2, "n_iter": 1, **kw})


SEARCHES = {"grid": _grid, "random": _random, "optuna": _optuna, "halving": _halving,
            "recipe": _recipe}


def _search_error(make, **kw):
    search = make(**kw)
    with pytest.raises(ValueError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, Y_CLF)
    assert not hasattr(search, "cv_results_")  # refused before any search result
    return str(info.value)


@pytest.mark.parametrize("kind", sorted(SEARCHES))
@settings(max_examples=15)
@given(data=st.data())
def test_search_invalid_common_parameter_named(kind, data):
    name, value = data.draw(st.one_of(
        st.tuples(st.just("cv"), st.integers(max_value=1)),
        st.tuples(st.just("cv"), st.floats()),
        st.tuples(st.just("error_score"), st.text(max_size=8).filter(lambda s: s != "raise")),
        st.tuples(st.just("n_jobs"), st.one_of(st.floats(), st.text(max_size=4))),
        st.tuples(st.just("verbose"), st.integers(max_value=-1)),
        st.tuples(st.just("return_train_score"), st.one_of(st.text(max_size=4), st.none())),
    ), label="param")
    message = _search_error(SEARCHES[kind], **{name: value})
    cls = type(SEARCHES[kind]()).__name__
    assert f"'{name}' parameter of {cls}" in message, message
    assert f"Got {value!r} instead" in message, message


@pytest.mark.parametrize("kind", sorted(SEARCHES))
def test_search_n_jobs_zero_is_refused_naming_it(kind):
    # joblib's rule (as in sklearn): n_jobs=0 has no meaning
    message = _search_error(SEARCHES[kind], n_jobs=0)
    assert "n_jobs == 0" in message, message


@pytest.mark.parametrize("kind", sorted(SEARCHES))
@settings(max_examples=10)
@given(name=st.text(max_size=10))
def test_search_unknown_cv_name_lists_methods(kind, name):
    assume(name not in CV_METHODS)
    message = _search_error(SEARCHES[kind], cv=name)
    assert f"Unknown cross-validation method {name!r}" in message, message
    assert str(sorted(CV_METHODS)) in message, message


@pytest.mark.parametrize("kind", sorted(SEARCHES))
@settings(max_examples=10)
@given(name=names)
def test_search_unknown_estimator_parameter_lists_valid_ones(kind, name):
    search = SEARCHES[kind]()
    valid = sorted(search.estimator.get_params())
    assume(name not in valid)
    space_key = "param_grid" if kind == "grid" else "param_distributions"
    search.set_params(**{space_key: {name: [1, 2]}})
    message = _search_error(lambda: search)
    assert f"Invalid parameter {name!r} for estimator" in message, message
    assert f"Valid parameters are: {valid}" in message, message


@settings(max_examples=15)
@given(value=st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.text(max_size=3)))
def test_random_search_n_iter_below_one_named(value):
    message = _search_error(_random, n_iter=value)
    assert "'n_iter' parameter of RandomSearchCV" in message, message
    assert f"Got {value!r} instead" in message, message


@settings(max_examples=15)
@given(value=st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.text(max_size=3)))
def test_optuna_search_n_trials_below_one_named(value):
    message = _search_error(_optuna, n_trials=value)
    assert "'n_trials' parameter of OptunaSearchCV" in message, message
    assert f"Got {value!r} instead" in message, message


@settings(max_examples=20)
@given(value=st.one_of(st.integers(max_value=1), st.floats(max_value=1.0), st.just(math.nan),
                       st.just(math.inf), st.text(max_size=3), st.none()))
def test_halving_factor_at_most_one_named(value):
    message = _search_error(_halving, factor=value)
    assert "'factor' parameter of HalvingSearchCV" in message, message
    assert f"Got {value!r} instead" in message, message


# ----------------------------------------------------------------- search space


@settings(max_examples=40)
@given(dim=st.sampled_from([Float, Int]), name=names, data=st.data())
def test_range_low_above_high_names_parameter_and_bounds(dim, name, data):
    values = st.integers(-10**6, 10**6) if dim is Int else finite
    low, high = data.draw(values), data.draw(values)
    assume(low > high)
    with pytest.raises(ValueError) as info:
        as_space({name: dim(low, high)})
    message = str(info.value)
    assert f"(low={low!r}, high={high!r}) for parameter {name!r}" in message, message
    assert "`low <= high` must hold" in message, message


@settings(max_examples=40)
@given(dim=st.sampled_from([Float, Int]), name=names, data=st.data())
def test_log_range_with_non_positive_low_names_parameter_and_bounds(dim, name, data):
    low = data.draw(st.integers(-10**6, 0) if dim is Int else st.floats(-1e9, 0))
    high = data.draw(st.integers(max(low, 1), 10**6) if dim is Int else st.floats(1e-9, 1e9))
    with pytest.raises(ValueError) as info:
        as_space({name: dim(low, high, log=True)})
    message = str(info.value)
    assert f"(low={low!r}, high={high!r}) for parameter {name!r}" in message, message
    assert "`low > 0` must hold for log=True" in message, message


@pytest.mark.parametrize("kind", ["grid", "random", "optuna"])
def test_search_refuses_bad_dimension_naming_the_parameter(kind):
    space = {"C": Float(5.0, 1.0, n=3)}
    search = {"grid": lambda: GridSearchCV(LogisticRegression(), space, cv=2),
              "random": lambda: RandomSearchCV(LogisticRegression(), space, n_iter=2, cv=2),
              "optuna": lambda: OptunaSearchCV(LogisticRegression(), space, n_trials=2, cv=2),
              }[kind]
    message = _search_error(search)
    assert "`low <= high` must hold, but got (low=5.0, high=1.0) for parameter 'C'" in message


def test_halving_refuses_bad_log_dimension_naming_the_parameter():
    search = lambda: HalvingSearchCV(  # noqa: E731
        MLPClassifier((2,), max_iter=3), {"alpha": Float(0.0, 1.0, log=True)}, cv=2)
    message = _search_error(search)
    assert "`low > 0` must hold for log=True, but got (low=0.0, high=1.0) for parameter " \
           "'alpha'" in message, message


# ----------------------------------------------------------------- make_cv
@settings(max_examples=40)
@given(name=st.one_of(st.text(max_size=16), names))
def test_make_cv_unknown_method_lists_valid_ones(name):
    assume(name not in CV_METHODS)
    for spec in (name, {"method": name}):
        with pytest.raises(ValueError) as info:
            make_cv(spec)
        message = str(info.value)
        assert f"Unknown cross-validation method {name!r}" in message, message
        assert f"valid methods are {sorted(CV_METHODS)}" in message, message


def _valid_parameters(method):
    return [p for p in inspect.signature(CV_METHODS[method].__init__).parameters
            if p != "self"]


@settings(max_examples=40)
@given(method=st.sampled_from(sorted(CV_METHODS)), param=names, as_dict=st.booleans())
def test_make_cv_unknown_parameter_lists_valid_ones(method, param, as_dict):
    valid = _valid_parameters(method)
    assume(param not in valid)
    # make_cv's own keywords are not splitter parameters
    assume(as_dict or param not in ("y", "classifier"))
    with pytest.raises(ValueError) as info:
        if as_dict:
            make_cv({"method": method, param: 1})
        else:
            make_cv(method, **{param: 1})
    message = str(info.value)
    assert f"Unknown parameter(s) [{param!r}] for cross-validation method {method!r}" \
        in message, message
    assert f"valid parameters are {valid}" in message, message


@settings(max_examples=20)
@given(spec=st.one_of(st.none(), st.integers(2, 10)), param=names)
def test_make_cv_int_spec_unknown_parameter_lists_valid_ones(spec, param):
    assume(param not in ("shuffle", "random_state", "y", "classifier"))
    with pytest.raises(ValueError) as info:
        make_cv(spec, **{param: 1})
    message = str(info.value)
    assert f"Unknown parameter(s) [{param!r}] for cv={spec!r}" in message, message
    assert "valid parameters are ['shuffle', 'random_state']" in message, message


@settings(max_examples=20)
@given(keys=st.lists(names.filter(lambda k: k != "method"), max_size=3, unique=True))
def test_make_cv_dict_without_method_lists_methods(keys):
    with pytest.raises(ValueError) as info:
        make_cv(dict.fromkeys(keys, 1))
    message = str(info.value)
    assert "needs a 'method' key" in message, message
    assert str(sorted(CV_METHODS)) in message and f"got keys {sorted(keys)}" in message


@pytest.mark.parametrize("spec", ["lpo", {"method": "lpo"}])
def test_make_cv_missing_required_parameter_is_named(spec):
    with pytest.raises(ValueError, match=r"Missing parameter\(s\) \['p'\] for cross-validation "
                                         r"method 'lpo' \(LeavePOut\)"):
        make_cv(spec)


@settings(max_examples=10)
@given(method=st.sampled_from(["kfold", "stratified_kfold", "group_kfold"]),
       value=st.one_of(st.text(min_size=1, max_size=4), st.integers(2, 9)))
def test_make_cv_bad_parameter_value_is_a_value_error(method, value):
    with pytest.raises(ValueError, match="shuffle"):
        make_cv(method, shuffle=value)


def test_early_stopping_on_a_diverged_model_is_the_divergence_error():
    """Found by the property test above: the training loss still finite, the validation
    outputs overflowed float32 to inf, and the validation score failed in scikit-learn's
    r2_score with a bare "Input contains infinity" instead of hpsearch's divergence error."""
    params = dict(hidden_layer_sizes=(1, 1), activation="identity", solver="momentum",
                  learning_rate="adaptive", power_t=0.0, nesterovs_momentum=False, init="he",
                  dtype="float32", batch_size="auto", alpha=0.0, l1=0.0,
                  learning_rate_init=0.03125, max_iter=3, tol=0.0, momentum=0.0,
                  dropout=0.5, input_dropout=0.5, shuffle=False, early_stopping=True,
                  validation_fraction=0.5625, n_iter_no_change=np.inf, random_state=100000)
    with pytest.raises(TrainingDivergedError, match="learning_rate_init"):
        _fit(MLPRegressor(**params), X, Y_REG)


# ------------------------------------------------------------------- study files (CLI)
#: key path of a valid study -> the YAML types it accepts (an int is a number too)
STUDY_KEYS = {
    ("name",): {"str"},
    ("seed",): {"int"},
    ("return_train_score",): {"bool"},
    ("n_jobs",): {"int"},
    ("study_name",): {"str"},
    ("data", "test_size"): {"int", "float"},
    ("data", "subset"): {"int"},
    ("data", "stratify"): {"bool"},
    ("estimator", "name"): {"str"},
    ("search", "method"): {"str"},
    ("search", "n_iter"): {"int"},
    ("search", "timeout"): {"int", "float"},
    ("search", "max_retries"): {"int"},
    ("search", "space", "n_neighbors", "low"): {"int", "float"},
    ("search", "space", "n_neighbors", "log"): {"bool"},
    ("preprocessing", "scaler"): {"str"},
    ("backend", "name"): {"str"},
}
#: YAML values of each type (text of letters only: no YAML 1.2 number such as ``1e3``)
YAML_VALUES = {
    "bool": st.booleans(),
    "int": st.integers(-10**30, 10**30),
    "float": st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: v != int(v)
                                                                    if math.isfinite(v)
                                                                    else True),
    "str": st.text("abcxyzAB_", max_size=8),
    "list": st.lists(st.integers(0, 3), max_size=3),
    "dict": st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
}


@st.composite
def _study_with_a_wrong_type(draw):
    path = draw(st.sampled_from(sorted(STUDY_KEYS)))
    kind = draw(st.sampled_from(sorted(set(YAML_VALUES) - STUDY_KEYS[path])))
    return path, draw(YAML_VALUES[kind])


@settings(max_examples=30, deadline=None)
@given(case=_study_with_a_wrong_type())
def test_a_study_value_of_a_wrong_type_is_refused_naming_its_key(case):
    """Any key of a valid study set to a value of a type it does not take: exit code 2,
    one line naming the key path and the value ("got ..."), no traceback, nothing
    written (no run folder)."""
    import contextlib
    import io
    import os
    import tempfile

    import yaml

    from hpsearch.cli import main
    from hpsearch.study.errors import format_path

    path, value = case
    study = {"data": {"dataset": "iris"}, "preprocessing": {"scaler": "standard"},
             "estimator": {"name": "knn_classifier"}, "backend": {"name": "loky"},
             "search": {"method": "random", "n_iter": 2, "space": {
                 "n_neighbors": {"type": "int", "low": 1, "high": 5}}}, "cv": 3}
    node = study
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        file = os.path.join(folder, "s.yaml")
        with open(file, "w", encoding="utf-8") as f:
            yaml.safe_dump(study, f)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main([file, "--out", os.path.join(folder, "out"), "--quiet"])
        assert os.listdir(folder) == ["s.yaml"]
    err = err.getvalue()
    assert code == 2, err
    assert "Traceback" not in err
    assert f": {format_path(path)}: " in err and ", got " in err, (path, value, err)
