"""hpsearch's random splitters against scikit-learn's, as a hostile scikit-learn user.

Holdout is ``train_test_split`` as a splitter and MonteCarloCV is ``ShuffleSplit`` /
``StratifiedShuffleSplit`` (plus the lecture's ratio strings and swap): for every size
sklearn accepts, the same rows must come out, and a parameter sklearn refuses must not be
silently read as something else.
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import model_selection as skms

from hpsearch.model_selection.split import Holdout, MonteCarloCV, make_cv


def _splits(cv, X, y=None):
    return [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y)]


def _same(ours, ref):
    assert len(ours) == len(ref)
    for (a, b), (c, d) in zip(ours, ref):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


# ------------------------------------------------------------------ sizes as sklearn
_FRACTION = st.floats(0.01, 0.99)
_FLOAT_TYPES = st.sampled_from([float, np.float64, np.float32, np.float16])


@settings(max_examples=25)
@given(n=st.integers(2, 60), test=_FRACTION, kind=_FLOAT_TYPES,
       seed=st.integers(0, 2**16))
def test_a_fractional_test_size_of_any_float_type_draws_sklearns_rows(n, test, kind, seed):
    # sklearn rounds ceil(test_size * n) in the fraction's own type: np.float32(0.3) * 10
    # is 3.0 in float32 (3 test rows). Was: converted to a Python float first,
    # 3.0000001192... -> 4 test rows, one more than ShuffleSplit / train_test_split
    size = kind(test)
    if not 0 < size < 1:  # (float16 may round to 1.0)
        return
    X = np.zeros((n, 1))
    try:
        ref = _splits(skms.ShuffleSplit(2, test_size=size, random_state=seed), X)
    except ValueError:
        with pytest.raises(ValueError):
            _splits(MonteCarloCV(2, test_size=size, random_state=seed), X)
        return
    _same(_splits(MonteCarloCV(2, test_size=size, random_state=seed), X), ref)
    # (train_test_split refuses a np.float32 test_size; its splits are ShuffleSplit's)
    _same(_splits(Holdout(test_size=size, random_state=seed), X), ref[:1])


@settings(max_examples=25)
@given(n=st.integers(4, 60), test=_FRACTION, train=_FRACTION, kind=_FLOAT_TYPES,
       seed=st.integers(0, 2**16))
def test_fractional_test_and_train_sizes_draw_sklearns_rows(n, test, train, kind, seed):
    # floor(train_size * n) training rows, in the fraction's type, as ShuffleSplit
    test, train = kind(test), kind(train)
    if not (0 < test < 1 and 0 < train < 1):
        return
    X = np.zeros((n, 1))
    try:
        ref = _splits(skms.ShuffleSplit(2, test_size=test, train_size=train,
                                        random_state=seed), X)
    except ValueError:
        return  # (sklearn also refuses fractions summing above 1 that fit in rows)
    ours = _splits(MonteCarloCV(2, test_size=test, train_size=train, random_state=seed), X)
    _same(ours, ref)


def test_float32_sizes_by_hand():
    X = np.zeros((10, 1))
    for size, n, n_test in ((np.float32(0.3), 10, 3), (np.float32(0.2), 10, 2),
                            (0.07, 100, 8)):
        # (0.07 * 100 = 7.000000000000001 in float64: sklearn's own 8, kept)
        (_, test), = _splits(Holdout(test_size=size, random_state=0), np.zeros((n, 1)))
        assert len(test) == n_test
    (train, test), = _splits(MonteCarloCV(1, test_size=np.float32(0.2),
                                          train_size=np.float32(0.7), random_state=0), X)
    assert (len(train), len(test)) == (7, 2)
    # a float16 fraction of more than 65504 rows overflows in float16 (sklearn raises
    # OverflowError): the fraction counts in float64 there, 0.8999... * 100000 -> 89991
    (_, test), = _splits(Holdout(np.float16(0.9), random_state=0), np.zeros((100_000, 1)))
    assert len(test) == 89_991


# -------------------------------------------------------------- random_state semantics
@pytest.mark.parametrize("make, make_sklearn", [
    (lambda rs: MonteCarloCV(3, test_size=0.3, random_state=rs),
     lambda rs: skms.ShuffleSplit(3, test_size=0.3, random_state=rs)),
    (lambda rs: Holdout(test_size=0.3, random_state=rs),
     lambda rs: skms.ShuffleSplit(1, test_size=0.3, random_state=rs)),
    (lambda rs: MonteCarloCV(2, test_size=0.4, stratify=True, random_state=rs),
     lambda rs: skms.StratifiedShuffleSplit(2, test_size=0.4, random_state=rs)),
])
def test_a_random_state_instance_advances_across_calls_as_sklearns(make, make_sklearn):
    # int: the same splits on every call; RandomState: each call continues the stream,
    # exactly as sklearn's ShuffleSplit shares the instance
    X, y = np.zeros((20, 1)), np.arange(20) % 2
    ours, ref = make(np.random.RandomState(7)), make_sklearn(np.random.RandomState(7))
    first, second = _splits(ours, X, y), _splits(ours, X, y)
    _same(first, _splits(ref, X, y))
    _same(second, _splits(ref, X, y))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, second))
    fixed = make(3)
    _same(_splits(fixed, X, y), _splits(fixed, X, y))
    _same(_splits(fixed, X, y), _splits(make_sklearn(3), X, y))


# ------------------------------------------------------------------ True/False flags
_NOT_BOOL = ["no", "false", "False", 0, 1, None, 1.0, [True]]


@pytest.mark.parametrize("value", _NOT_BOOL, ids=repr)
@pytest.mark.parametrize("make, flag", [
    (lambda v: Holdout(shuffle=v), "shuffle"),
    (lambda v: Holdout(stratify=v), "stratify"),
    (lambda v: MonteCarloCV(swap=v), "swap"),
    (lambda v: MonteCarloCV(stratify=v), "stratify"),
])
def test_a_flag_that_is_not_a_bool_is_refused_naming_it(make, flag, value):
    # was: read by truthiness, so Holdout(stratify="false") stratified,
    # MonteCarloCV(swap="no") doubled the splits and Holdout(shuffle=None) did not
    # shuffle; sklearn's KFold(shuffle="no") raises. make_cv already refused them
    cv = make(value)
    owner = type(cv).__name__
    message = (f"The {flag!r} parameter of {owner} must be an instance of 'bool'. "
               f"Got {value!r} instead.")
    X, y = np.zeros((10, 1)), np.arange(10) % 2
    with pytest.raises(ValueError, match=re.escape(message)):
        list(cv.split(X, y))
    with pytest.raises(ValueError, match=re.escape(message)):
        cv.get_n_splits()
    with pytest.raises(ValueError, match=re.escape(message)):
        make_cv({"method": {"Holdout": "holdout"}.get(owner, "monte_carlo"), flag: value})


@pytest.mark.parametrize("value", [True, False, np.True_, np.False_])
def test_bool_flags_are_accepted(value):
    X, y = np.zeros((10, 1)), np.arange(10) % 2
    assert len(_splits(Holdout(shuffle=value, random_state=0), X, y)) == 1
    assert len(_splits(MonteCarloCV(2, swap=value, stratify=value, random_state=0),
                       X, y)) == (4 if value else 2)


# ------------------------------------------------------------- stratify a 2-D y
@settings(max_examples=15)
@given(seed=st.integers(0, 2**16), n_splits=st.integers(1, 3))
def test_stratify_a_2d_y_as_sklearn_by_each_rows_labels(seed, n_splits):
    # train_test_split(stratify=Y) and StratifiedShuffleSplit take multilabel and
    # multiclass-multioutput y (one class per distinct row). Was: refused ("needs binary
    # or multiclass labels y, but y is of type 'multiclass-multioutput'")
    y = np.repeat([0, 1, 2], [7, 5, 8])
    for Y in (np.c_[y, y % 2], np.c_[y == 0, y == 1, np.arange(20) % 2].astype(int)):
        X = np.zeros((20, 1))
        ours = _splits(MonteCarloCV(n_splits, test_size=0.35, stratify=True,
                                    random_state=seed), X, Y)
        ref = _splits(skms.StratifiedShuffleSplit(n_splits, test_size=0.35,
                                                  random_state=seed), X, Y)
        _same(ours, ref)
        (train, test), = _splits(Holdout(0.35, stratify=True, random_state=seed), X, Y)
        tr, te = skms.train_test_split(np.arange(20), test_size=0.35, stratify=Y,
                                       random_state=seed)
        np.testing.assert_array_equal(train, tr)
        np.testing.assert_array_equal(test, te)


def test_stratify_a_2d_y_checks_the_rows_as_classes():
    X = np.zeros((20, 1))
    with pytest.raises(ValueError, match=re.escape(
            "stratify=True in Holdout needs labels y (a 2-D y: a row of labels per "
            "sample), but y is of type 'continuous-multioutput'.")):
        list(Holdout(stratify=True).split(X, np.linspace(0, 1, 40).reshape(20, 2)))
    with pytest.raises(ValueError, match="the least populated class has 1"):
        list(Holdout(stratify=True).split(X, np.c_[np.arange(20), np.zeros(20)]))
    with pytest.raises(ValueError, match=re.escape(
            "the test part has 5 samples (test_size), fewer than the number of "
            "classes=6.")):
        y = np.repeat([0, 1, 2], [7, 5, 8])
        list(Holdout(0.25, stratify=True).split(X, np.c_[y, np.arange(20) % 2]))


# ------------------------------------------------- Holdout is train_test_split
@settings(max_examples=20)
@given(counts=st.lists(st.integers(4, 9), min_size=2, max_size=3),
       size=st.sampled_from([0.2, 0.25, 1 / 3, 0.4, 5, 6]), seed=st.integers(0, 2**16))
def test_holdout_is_train_test_split(counts, size, seed):
    # shuffled, stratified and unshuffled: the same rows in the same order
    y = np.repeat(np.arange(len(counts)), counts)
    rows = np.arange(y.size)
    X = np.zeros((y.size, 1))
    (train, test), = _splits(Holdout(size, random_state=seed), X, y)
    tr, te = skms.train_test_split(rows, test_size=size, random_state=seed)
    np.testing.assert_array_equal(train, tr)
    np.testing.assert_array_equal(test, te)
    (train, test), = _splits(Holdout(size, shuffle=False), X, y)
    tr, te = skms.train_test_split(rows, test_size=size, shuffle=False)
    np.testing.assert_array_equal(train, tr)
    np.testing.assert_array_equal(test, te)
    try:
        tr, te = skms.train_test_split(rows, test_size=size, stratify=y, random_state=seed)
    except ValueError:  # a part smaller than the number of classes
        with pytest.raises(ValueError, match="fewer than the number of classes"):
            _splits(Holdout(size, stratify=True, random_state=seed), X, y)
        return
    (train, test), = _splits(Holdout(size, stratify=True, random_state=seed), X, y)
    np.testing.assert_array_equal(train, tr)
    np.testing.assert_array_equal(test, te)


@settings(max_examples=25)
@given(value=st.one_of(st.sampled_from(["", "no", "True", None, 0.0, 1.0, np.nan]),
                       st.integers(-3, 3), st.lists(st.booleans(), max_size=2)),
       flag=st.sampled_from(["shuffle", "stratify", "swap"]))
def test_any_flag_value_that_is_not_a_bool_is_refused(value, flag):
    cls = MonteCarloCV if flag == "swap" else Holdout
    cv = cls(**{flag: value})
    with pytest.raises(ValueError, match=re.escape(
            f"The {flag!r} parameter of {cls.__name__} must be an instance of 'bool'.")):
        cv.get_n_splits()


@pytest.mark.parametrize("test, train", [(0.25, 0.76), ("1:3", 0.76), (0.5, 0.51)])
def test_fractions_summing_above_one_are_refused_as_sklearn(test, train):
    # was: accepted whenever the rounded rows happened to fit (4 rows: ceil(1.0) = 1
    # test + floor(3.04) = 3 train), where ShuffleSplit refuses "The sum of test_size
    # and train_size = 1.01, should be in the (0, 1) range"
    X = np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"ShuffleSplit|sum of test_size"):
        _splits(skms.ShuffleSplit(2, test_size={"1:3": 0.25}.get(test, test),
                                  train_size=train), X)
    cv = MonteCarloCV(2, test_size=test, train_size=train)
    message = ("The sum of the fractions test_size and train_size of MonteCarloCV must "
               "be at most 1. Got test_size=")
    for call in (lambda: _splits(cv, X), cv.get_n_splits):
        with pytest.raises(ValueError, match=re.escape(message)):
            call()
    assert len(_splits(MonteCarloCV(2, test_size=0.25, train_size=0.75), X)) == 2


def test_stratify_a_column_vector_y_as_sklearn():
    # a (n, 1) y is labels too (it was, before 2-D y were stratified by rows)
    y = np.repeat([0, 1, 2], [7, 5, 8]).reshape(-1, 1)
    X = np.zeros((20, 1))
    _same(_splits(MonteCarloCV(2, test_size=0.3, stratify=True, random_state=0), X, y),
          _splits(skms.StratifiedShuffleSplit(2, test_size=0.3, random_state=0), X, y))


# ------------------------------------------------------------------ test_size=None
@settings(max_examples=25)
@given(n=st.integers(2, 40), train=st.one_of(st.integers(1, 45), _FRACTION),
       stratify=st.booleans(), seed=st.integers(0, 2**16))
def test_test_size_none_tests_on_the_rest_as_shufflesplit(n, train, stratify, seed):
    # ShuffleSplit(test_size=None, train_size=t): the test part is every row not trained
    # on. Was: MonteCarloCV refused test_size=None ("must be a float ... Got None").
    X, y = np.zeros((n, 1)), np.arange(n) % 2
    theirs = (skms.StratifiedShuffleSplit if stratify else skms.ShuffleSplit)(
        3, test_size=None, train_size=train, random_state=seed)
    ours = MonteCarloCV(3, test_size=None, train_size=train, stratify=stratify,
                        random_state=seed)
    try:
        ref = _splits(theirs, X, y)
    except ValueError:
        with pytest.raises(ValueError):
            _splits(ours, X, y)
        return
    _same(_splits(ours, X, y), ref)


def test_test_size_none_by_hand():
    from hpsearch.model_selection.stats import split_size_ratio

    X = np.zeros((10, 1))
    cv = MonteCarloCV(2, test_size=None, train_size=0.7, random_state=0)
    assert [len(te) for _, te in cv.split(X)] == [3, 3] and cv.get_n_splits() == 2
    assert split_size_ratio(cv, 10) == pytest.approx(3 / 7)
    # with swap a split and its mirror partition the rows: repeated 2-fold, ratio 1
    assert split_size_ratio(MonteCarloCV(test_size=None, train_size=0.7, swap=True), 10) == 1
    assert make_cv({"method": "monte_carlo", "test_size": None, "train_size": 7}
                   ).get_n_splits() == 10
    with pytest.raises(ValueError, match=re.escape(
            "train_size=10 (10 samples) must be strictly less than the number of "
            "samples=10 (test_size=None tests on the rest).")):
        _splits(MonteCarloCV(test_size=None, train_size=10), X)
    # without a train_size there is nothing to take the rest of
    with pytest.raises(ValueError, match=re.escape(
            "The 'test_size' parameter of MonteCarloCV must be a float in the range (0, 1), "
            "an int in the range [1, n_samples) or a 'validation:training' ratio string "
            "such as '1:4', or None with a train_size (the samples not trained on). Got "
            "None instead.")):
        MonteCarloCV(test_size=None).get_n_splits()
    with pytest.raises(ValueError, match="'test_size' parameter of Holdout"):
        Holdout(test_size=None).split(X)


@pytest.mark.parametrize("make", [lambda: MonteCarloCV(2, test_size=0.4, stratify=True),
                                  lambda: Holdout(test_size=0.4, stratify=True)])
def test_a_stratify_target_is_checked_as_stratifiedshufflesplit_checks_it(make):
    # was: a sparse y failed with a bare numpy AxisError ("axis 0 is out of bounds"), a y
    # with NaN warned "invalid value encountered in cast" before sklearn's NaN error
    import warnings

    from scipy import sparse

    X = np.zeros((10, 1))
    with pytest.raises(TypeError, match=re.escape(
            "Sparse data was passed for y, but dense data is required. Use '.toarray()' "
            "to convert to a dense numpy array.")):
        _splits(make(), X, sparse.csr_matrix((np.arange(10) % 2)[:, None]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^Input y contains NaN\.$"):
            _splits(make(), X, np.r_[np.nan, np.arange(9) % 2])


# ------------------------------------------------------------------ containers, None, pickle
def _containers():
    import pandas as pd
    from scipy import sparse

    X = np.arange(20).reshape(10, 2)
    return {"list": X.tolist(), "DataFrame": pd.DataFrame(X), "csr": sparse.csr_matrix(X),
            "1-D": np.arange(10), "Series": pd.Series(np.arange(10))}


#: hpsearch splitter -> the sklearn splitter drawing the same splits
_PAIRS = {
    "LeaveOneOut": (lambda: make_cv("loo"), skms.LeaveOneOut),
    "LeavePOut": (lambda: make_cv("lpo", p=np.int64(2)), lambda: skms.LeavePOut(2)),
    "Holdout": (lambda: Holdout(test_size=0.3, random_state=0),
                lambda: skms.ShuffleSplit(1, test_size=0.3, random_state=0)),
    "MonteCarloCV": (lambda: MonteCarloCV(3, test_size=np.int64(3), random_state=0),
                     lambda: skms.ShuffleSplit(3, test_size=3, random_state=0)),
}


@pytest.mark.parametrize("container", sorted(_containers()))
@pytest.mark.parametrize("name", sorted(_PAIRS))
def test_any_container_splits_as_sklearn(name, container):
    ours, theirs = _PAIRS[name]
    X = _containers()[container]
    _same(_splits(ours(), X), _splits(theirs(), X))
    assert ours().get_n_splits(X) == theirs().get_n_splits(X)


@pytest.mark.parametrize("name", sorted(_PAIRS))
def test_get_n_splits_with_none_arguments_as_sklearn(name):
    ours, theirs = _PAIRS[name]
    X = np.zeros((10, 1))
    for args in [(X,), (X, None), (X, None, None), (X, np.arange(10) % 2, np.arange(10))]:
        assert ours().get_n_splits(*args) == theirs().get_n_splits(*args)
    if name.startswith("Leave"):  # (both need X)
        for cv in (ours(), theirs()):
            with pytest.raises(ValueError, match="The 'X' parameter should not be None"):
                cv.get_n_splits(None)
    else:
        assert ours().get_n_splits() == theirs().get_n_splits()


@pytest.mark.parametrize("name", sorted(_PAIRS))
def test_a_pickled_splitter_draws_the_same_splits(name):
    import pickle

    X = np.zeros((10, 1))
    ours = _PAIRS[name][0]()
    if hasattr(ours, "random_state"):  # an instance: the copy continues the same stream
        ours.random_state = np.random.RandomState(3)
    copy = pickle.loads(pickle.dumps(ours))
    assert repr(copy).split("random_state=")[0] == repr(ours).split("random_state=")[0]
    _same(_splits(copy, X), _splits(ours, X))
    _same(_splits(copy, X), _splits(ours, X))  # (both advanced alike)


# ------------------------------------------------------------------ hostile sizes
def _hostile_size(n):
    return st.one_of(st.integers(-2, n + 2), st.floats(-0.5, 1.5),
                     st.sampled_from([0, 1, 0.0, 1.0, None]),
                     st.integers(-2, n + 2).map(np.int64), st.floats(-0.5, 1.5).map(np.float64))


def _outcome(cv, X, y):
    try:
        return _splits(cv, X, y)
    except Exception as exc:  # noqa: BLE001 - the kind of refusal compared
        return type(exc)


@settings(max_examples=40)
@given(data=st.data(), n=st.integers(1, 12), seed=st.integers(0, 100), stratify=st.booleans())
def test_hostile_sizes_are_refused_or_drawn_as_shufflesplit(data, n, seed, stratify):
    # any int / float / numpy size, in range or not (0, 1, 1.0, n, negative, above 1):
    # where sklearn's (Stratified)ShuffleSplit draws, the same rows; where it raises, the
    # same exception type. (test_size=None with train_size=None: sklearn's default 0.1,
    # hpsearch asks for a size, see test_test_size_none_by_hand)
    test, train = data.draw(_hostile_size(n)), data.draw(_hostile_size(n))
    if test is None and train is None:
        return
    X, y = np.zeros((n, 1)), np.arange(n) % 2
    theirs = (skms.StratifiedShuffleSplit if stratify else skms.ShuffleSplit)(
        2, test_size=test, train_size=train, random_state=seed)
    ref = _outcome(theirs, X, y)
    got = _outcome(MonteCarloCV(2, test_size=test, train_size=train, stratify=stratify,
                                random_state=seed), X, y)
    if isinstance(ref, type):
        assert got is ref
    else:
        _same(got, ref)


def test_test_size_none_with_an_empty_training_part_names_train_size():
    # MonteCarloCV(test_size=None, train_size=0.05) on 10 rows trains on floor(0.5) = 0
    # rows. Was: "test_size=10 should be either positive and smaller than the number of
    # samples 10" from sklearn's ShuffleSplit, a test_size the user never passed.
    X = np.zeros((10, 1))
    with pytest.raises(ValueError, match="train set will be empty"):
        _splits(skms.ShuffleSplit(2, test_size=None, train_size=0.05), X)
    for train in (0.05, "1:99"):
        with pytest.raises(ValueError, match=re.escape(
                f"With n_samples=10, test_size=None and train_size={train!r}, the training "
                "set would be empty (0 samples); increase train_size.")):
            _splits(MonteCarloCV(2, test_size=None, train_size=train), X)
