"""The shortcuts of small fits (a search's many short trainings) change nothing but speed.

- a small float64 ``X`` is converted to the working dtype once per fit
  (``hpsearch.mlp._training_rows``) instead of once per mini-batch;
- an int ``random_state`` draws its first seed and sklearn's shuffles from the generator
  it makes, rewound, instead of from deep copies of it;
- the parameter names (``get_params``, ``set_params``, ``clone``) are read once per class;
- a continued fit on a 1-D integer ``y`` checks its labels with ``np.unique`` instead of
  ``unique_labels`` (whose errors other targets still get), and a fresh fit sets its
  ``LabelBinarizer``'s fitted attributes from ``np.unique`` instead of calling its ``fit``.

Each is compared with the path it shortcuts, bit for bit.
"""

import numpy as np
import pytest

import hpsearch.mlp as mlp_module
from hpsearch import MLPClassifier, MLPRegressor


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))  # float64: the working dtype float32 needs a cast
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)
    return X, y


def _state(est):
    return (est._network.theta.copy(), list(est.loss_curve_),
            {k: list(v) for k, v in est.history_.items() if k != "time"})


def _same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    assert a[2] == b[2]


CASES = {
    "plain": ({}, {}),
    "sample_index": ({}, {"sample_index": np.arange(5, 100, 2)}),
    "early_stopping": ({"early_stopping": True, "n_iter_no_change": 50}, {}),
    "index+stopping": ({"early_stopping": True, "n_iter_no_change": 50},
                       {"sample_index": np.arange(110)[::-1]}),
    "weights": ({}, {"sample_weight": np.linspace(0.5, 2.0, 120)}),
    "float64 net": ({"dtype": np.float64}, {}),
}


@pytest.mark.parametrize("case", CASES)
def test_training_rows_converted_once_train_as_per_batch(data, monkeypatch, case):
    X, y = data
    params, fit_kw = CASES[case]
    make = lambda: MLPClassifier((7,), batch_size=16, max_iter=4, random_state=1,  # noqa: E731
                                 warm_start=True, **params)
    fast = make().fit(X, y, **fit_kw)
    fast.fit(X, y, **fit_kw)  # a continued fit converts again, the same
    monkeypatch.setattr(mlp_module, "_PRECAST_BYTES", 0)  # every batch converts itself
    slow = make().fit(X, y, **fit_kw)
    slow.fit(X, y, **fit_kw)
    _same(_state(fast), _state(slow))
    np.testing.assert_array_equal(fast.predict_proba(X), slow.predict_proba(X))


def test_precast_regressor_and_partial_fit(data, monkeypatch):
    X, y = data
    target = X @ np.arange(6.0)
    runs = []
    for limit in (mlp_module._PRECAST_BYTES, 0):
        monkeypatch.setattr(mlp_module, "_PRECAST_BYTES", limit)
        reg = MLPRegressor((5,), batch_size=32, max_iter=3, random_state=2).fit(X, target)
        clf = MLPClassifier((5,), batch_size=32, random_state=2)
        for _ in range(3):
            clf.partial_fit(X, y, classes=[0, 1, 2])
        runs.append((_state(reg), _state(clf)))
    for a, b in zip(*runs):
        _same(a, b)


@pytest.mark.parametrize("seed", [3, np.int64(3)])
def test_int_seed_trains_as_a_fresh_generator_instance(data, seed):
    """The int path rewinds its own generator instead of copying it: the model equals the
    one of ``RandomState(3)`` (which is copied), shuffles and continued epochs included."""
    X, y = data
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", batch_size=20, max_iter=3,
              warm_start=True)
    a = MLPClassifier(random_state=seed, **kw).fit(X, y)
    b = MLPClassifier(random_state=np.random.RandomState(3), **kw).fit(X, y)
    a.fit(X, y)
    b.fit(X, y)
    _same(_state(a), _state(b))



def test_parameter_names_are_computed_once_per_class():
    """get_params/set_params/clone read the names from a per-class cache (scikit-learn
    rebuilds the ``__init__`` signature at every call): the same names as scikit-learn's,
    a subclass with its own ``__init__`` gets its own, and a caller editing the returned
    list does not edit the cache."""
    from sklearn.base import BaseEstimator

    sklearns = BaseEstimator._get_param_names.__func__

    class Extra(MLPClassifier):
        def __init__(self, hidden_layer_sizes=(100,), extra=1):
            super().__init__(hidden_layer_sizes)
            self.extra = extra

    for cls in (MLPClassifier, MLPRegressor, Extra):
        names = cls._get_param_names()
        assert names == sklearns(cls)
        names.append("junk")
        assert cls._get_param_names() == sklearns(cls)
    assert Extra().get_params() == {"extra": 1, "hidden_layer_sizes": (100,)}


def test_labels_of_an_integer_target_as_unique_labels():
    """``_labels_seen`` equals ``unique_labels`` where it takes ``np.unique``'s path, and is
    ``unique_labels`` (with its errors) for every other target."""
    from sklearn.utils.multiclass import unique_labels

    for y in (np.array([3, 1, 3, 2], np.int8), np.array([7, 7], np.uint16),
              np.arange(12)[::-1] % 5, np.array([-2, 4, -2], np.int64)):
        got, expected = mlp_module._labels_seen(y), unique_labels(y)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
    np.testing.assert_array_equal(mlp_module._labels_seen(np.array(["b", "a", "b"])),
                                  ["a", "b"])
    for bad in (np.array([0.5, 1.5, 2.25]), np.array([[1, 2], [3, 4]])):
        with pytest.raises(ValueError) as ours:
            mlp_module._labels_seen(bad)
        with pytest.raises(ValueError) as sklearns:
            unique_labels(bad)
        assert str(ours.value) == str(sklearns.value)


def test_continued_fit_still_refuses_new_classes(data):
    X, y = data
    clf = MLPClassifier((5,), max_iter=2, random_state=0, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="same classes as in the previous call"):
        clf.fit(X, np.where(y == 2, 5, y))
    inc = MLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes not in `self.classes_`"):
        inc.partial_fit(X, np.where(y == 2, 5, y))


def test_label_binarizer_of_an_integer_target_as_fitted_by_sklearn():
    """The shortcut leaves the binarizer as ``LabelBinarizer().fit(y)`` does (its attribute
    dict, and what it transforms and inverts), for one, two and many labels; other
    targets still go through ``fit`` (and its errors)."""
    from sklearn.preprocessing import LabelBinarizer

    for y in (np.array([4, 4, 4]), np.array([1, 0, 1], np.uint8), np.array([-1, 3]),
              np.arange(30) % 7, np.array([2, 9, 5, 2], np.int16)):
        ours = mlp_module._fit_label_binarizer(LabelBinarizer(), y)
        theirs = LabelBinarizer().fit(y)
        assert ours.__dict__.keys() == theirs.__dict__.keys()
        for key, value in theirs.__dict__.items():
            np.testing.assert_array_equal(getattr(ours, key), value)
            assert type(getattr(ours, key)) is type(value)
        assert ours.classes_.dtype == theirs.classes_.dtype
        np.testing.assert_array_equal(ours.transform(y), theirs.transform(y))
    np.testing.assert_array_equal(
        mlp_module._fit_label_binarizer(LabelBinarizer(), np.array(["b", "a"])).classes_,
        ["a", "b"])
    with pytest.raises(ValueError, match="Multioutput target data is not supported"):
        mlp_module._fit_label_binarizer(LabelBinarizer(), np.array([[1, 2], [3, 4]]))
    with pytest.raises(ValueError, match="Unknown label type"):
        mlp_module._fit_label_binarizer(LabelBinarizer(), np.array([0.5, 1.5, 2.25]))


def test_fresh_fits_on_integer_and_string_labels_train_alike(data):
    """The integer path and scikit-learn's (string labels) give the same model."""
    X, y = data
    names = np.array(["a", "b", "c"])[y]
    a = MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y)
    b = MLPClassifier((5,), max_iter=3, random_state=0).fit(X, names)
    np.testing.assert_array_equal(a._network.theta, b._network.theta)
    assert a._label_binarizer.y_type_ == b._label_binarizer.y_type_ == "multiclass"
    two = MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y > 0)
    assert list(two.classes_) == [False, True]
    assert two._label_binarizer.y_type_ == "binary"
