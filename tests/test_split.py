"""Contract tests for hpsearch.model_selection.split (issue 3)."""

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import model_selection as skms
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier

from hpsearch.model_selection.split import (
    CV_METHODS,
    DEFAULT_MAX_SPLITS,
    GroupKFold,
    Holdout,
    KFold,
    LeaveOneOut,
    LeavePOut,
    MonteCarloCV,
    StratifiedKFold,
    check_n_splits,
    count_fits,
    make_cv,
)

# name -> factory(random_state) of a splitter used in the generic property tests
SPLITTERS = {
    "holdout": lambda rs: Holdout(random_state=rs),
    "holdout_ratio_stratified": lambda rs: Holdout("1:3", stratify=True, random_state=rs),
    "holdout_no_shuffle": lambda rs: Holdout(test_size=3, shuffle=False),
    "kfold": lambda rs: KFold(3, shuffle=True, random_state=rs),
    "stratified_kfold": lambda rs: StratifiedKFold(2, shuffle=True, random_state=rs),
    "group_kfold": lambda rs: GroupKFold(2),
    "loo": lambda rs: LeaveOneOut(),
    "lpo": lambda rs: LeavePOut(2),
    "monte_carlo": lambda rs: MonteCarloCV(4, test_size=0.3, random_state=rs),
    "monte_carlo_swap_stratified": lambda rs: MonteCarloCV(
        3, test_size="1:2", swap=True, stratify=True, random_state=rs
    ),
    "monte_carlo_train_size": lambda rs: MonteCarloCV(
        3, test_size=2, train_size=0.5, random_state=rs
    ),
}


@st.composite
def labelled_data(draw, min_per_class=2, max_per_class=8):
    """(X, y, groups): 2-3 classes, each with min..max members, shuffled order."""
    counts = draw(
        st.lists(st.integers(min_per_class, max_per_class), min_size=2, max_size=3)
    )
    y = np.repeat(np.arange(len(counts)), counts)
    perm = draw(st.permutations(range(y.size)))
    y = y[np.asarray(perm)]
    X = np.arange(y.size, dtype=float).reshape(-1, 1)
    groups = np.arange(y.size) % 4
    return X, y, groups


def _splits(cv, X, y, groups=None):
    return [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y, groups)]


# ----------------------------------------------------------------- generic properties
@pytest.mark.parametrize("name", sorted(SPLITTERS))
@given(data=labelled_data(min_per_class=4), seed=st.integers(0, 2**16))
def test_splits_are_valid_disjoint_and_counted(name, data, seed):
    X, y, groups = data
    cv = SPLITTERS[name](seed)
    splits = _splits(cv, X, y, groups if name == "group_kfold" else None)
    assert len(splits) == cv.get_n_splits(X, y, groups)
    for train, test in splits:
        assert train.size > 0 and test.size > 0
        assert np.intersect1d(train, test).size == 0
        for part in (train, test):
            assert part.dtype.kind == "i"
            assert part.min() >= 0 and part.max() < len(X)
            assert np.unique(part).size == part.size


@pytest.mark.parametrize("name", sorted(SPLITTERS))
@given(data=labelled_data(min_per_class=4), seed=st.integers(0, 2**16))
def test_random_state_reproduces(name, data, seed):
    X, y, groups = data
    g = groups if name == "group_kfold" else None
    first = _splits(SPLITTERS[name](seed), X, y, g)
    second = _splits(SPLITTERS[name](seed), X, y, g)
    for (tr1, te1), (tr2, te2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(tr1, tr2)
        np.testing.assert_array_equal(te1, te2)


# ----------------------------------------------------------------- definitions
@given(n=st.integers(2, 40), k=st.integers(2, 6), seed=st.integers(0, 100))
def test_kfold_test_sets_partition_the_data(n, k, seed):
    k = min(k, n)
    X = np.zeros((n, 1))
    tests = [te for _, te in KFold(k, shuffle=True, random_state=seed).split(X)]
    assert len(tests) == k
    np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.arange(n))
    sizes = sorted(te.size for te in tests)
    assert sizes[-1] - sizes[0] <= 1


@given(n=st.integers(2, 60))
def test_loo_validates_each_sample_once(n):
    X = np.zeros((n, 2))
    tests = [te.tolist() for _, te in LeaveOneOut().split(X)]
    assert tests == [[i] for i in range(n)]
    assert LeaveOneOut().get_n_splits(X) == n


@given(n=st.integers(2, 11), p=st.integers(1, 4))
def test_lpo_test_sets_are_all_p_subsets(n, p):
    p = min(p, n - 1)
    X = np.zeros((n, 1))
    tests = [tuple(te) for _, te in LeavePOut(p).split(X)]
    assert tests == list(itertools.combinations(range(n), p))
    assert LeavePOut(p).get_n_splits(X) == math.comb(n, p)


def test_lpo_20_samples_p2_gives_all_190_splits():
    X = np.zeros((20, 3))
    splits = list(LeavePOut(2).split(X))
    assert LeavePOut(2).get_n_splits(X) == 190 == len(splits)
    assert {tuple(te) for _, te in splits} == set(itertools.combinations(range(20), 2))
    for train, test in splits:
        assert sorted(np.r_[train, test]) == list(range(20))


@given(data=labelled_data(min_per_class=3), seed=st.integers(0, 1000))
def test_stratified_kfold_keeps_class_proportions(data, seed):
    X, y, _ = data
    k = 3
    for _, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
        for c in np.unique(y):
            assert abs(np.sum(y[test] == c) - np.sum(y == c) / k) < 1 + 1e-9


@pytest.mark.parametrize(
    "make",
    [
        lambda rs: Holdout(0.3, stratify=True, random_state=rs),
        lambda rs: MonteCarloCV(3, test_size="1:2", stratify=True, random_state=rs),
    ],
    ids=["holdout", "monte_carlo"],
)
@given(data=labelled_data(min_per_class=3, max_per_class=12), seed=st.integers(0, 1000))
def test_stratified_random_splits_keep_class_proportions(make, data, seed):
    X, y, _ = data
    cv = make(seed)
    for train, test in cv.split(X, y):
        assert train.size + test.size == y.size
        for c in np.unique(y):
            share = np.sum(y == c) / y.size
            assert abs(np.sum(y[test] == c) - share * test.size) <= 1 + 1e-9
            assert abs(np.sum(y[train] == c) - share * train.size) <= 1 + 1e-9


@given(
    n=st.integers(4, 50),
    n_splits=st.integers(1, 5),
    test_size=st.sampled_from([0.2, 0.5, "1:4", "1:2", 1, 2]),
    seed=st.integers(0, 1000),
)
def test_monte_carlo_swap_yields_complementary_pairs(n, n_splits, test_size, seed):
    X = np.zeros((n, 1))
    cv = MonteCarloCV(n_splits, test_size=test_size, swap=True, random_state=seed)
    splits = list(cv.split(X))
    assert len(splits) == cv.get_n_splits() == 2 * n_splits
    for (tr, te), (tr_mirror, te_mirror) in zip(splits[::2], splits[1::2]):
        np.testing.assert_array_equal(tr, te_mirror)
        np.testing.assert_array_equal(te, tr_mirror)
        np.testing.assert_array_equal(np.sort(np.r_[tr, te]), np.arange(n))


@given(n=st.integers(5, 60), seed=st.integers(0, 1000))
def test_monte_carlo_sizes(n, seed):
    X = np.zeros((n, 1))
    for train, test in MonteCarloCV(3, test_size=0.2, random_state=seed).split(X):
        assert test.size == math.ceil(0.2 * n) and train.size == n - test.size
    for train, test in MonteCarloCV(2, test_size=1, train_size=2, random_state=seed).split(X):
        assert (train.size, test.size) == (2, 1)


def test_monte_carlo_may_leave_samples_unvalidated():
    X = np.zeros((50, 1))
    tests = np.concatenate([te for _, te in MonteCarloCV(3, 0.1, random_state=0).split(X)])
    assert np.unique(tests).size < 50


@pytest.mark.parametrize(
    "test_size, n_test", [("1:4", 4), ("1:3", 5), ("1:2", 7), (" 2 : 3 ", 8), (0.25, 5), (6, 6)]
)
def test_holdout_sizes_and_ratios(test_size, n_test):
    X = np.zeros((20, 1))
    cv = Holdout(test_size, random_state=0)
    ((train, test),) = list(cv.split(X))
    assert cv.get_n_splits() == 1
    assert test.size == n_test and train.size == 20 - n_test


def test_holdout_no_shuffle_validates_on_last_samples():
    ((train, test),) = list(Holdout(0.25, shuffle=False).split(np.zeros((8, 1))))
    assert train.tolist() == list(range(6)) and test.tolist() == [6, 7]


def test_random_splitters_ignore_groups_with_warning():
    X = np.zeros((10, 1))
    with pytest.warns(UserWarning, match="groups parameter is ignored by Holdout"):
        list(Holdout(random_state=0).split(X, groups=np.arange(10)))


def test_repr_like_sklearn():
    assert " ".join(repr(MonteCarloCV(5, swap=True)).split()) == (
        "MonteCarloCV(n_splits=5, random_state=None, stratify=False, swap=True, "
        "test_size=0.2, train_size=None)"
    )
    assert repr(LeavePOut(2)) == "LeavePOut(max_splits=10000, p=2)"
    assert repr(Holdout("1:4")) == (
        "Holdout(random_state=None, shuffle=True, stratify=False, test_size='1:4')"
    )


# ----------------------------------------------------------------- guard
LPO_GUARD = (
    "LeavePOut(p=3) on n_samples=1000 would make C(1000, 3) = 166,167,000 splits, "
    "more than max_splits=10,000. Use MonteCarloCV(n_splits=..., test_size=3)"
)


@pytest.mark.parametrize(
    "call",
    [
        lambda X: LeavePOut(3).get_n_splits(X),
        lambda X: LeavePOut(3).split(X),  # raises at call time, not at first next()
        lambda X: check_n_splits(LeavePOut(3), X),
        lambda X: check_n_splits(skms.LeavePOut(3), X),  # sklearn's own class too
        lambda X: check_n_splits({"method": "lpo", "p": 3}, X),
        lambda X: count_fits(LeavePOut(3), X, n_candidates=10),
    ],
    ids=["get_n_splits", "split", "check_n_splits", "sklearn_lpo", "spec", "count_fits"],
)
def test_lpo_1000_samples_p3_refused_before_any_work(call):
    X = np.zeros((1000, 2))
    with pytest.raises(ValueError, match=re.escape(LPO_GUARD)):
        call(X)


def test_guard_limit_is_configurable_and_loo_guarded():
    X = np.zeros((30, 1))
    assert LeavePOut(2, max_splits=435).get_n_splits(X) == 435
    with pytest.raises(ValueError, match=re.escape("C(30, 2) = 435 splits, more than max_splits=434")):
        LeavePOut(2, max_splits=434).get_n_splits(X)
    assert LeavePOut(3, max_splits=None).get_n_splits(np.zeros((1000, 1))) == 166_167_000
    with pytest.raises(ValueError, match=re.escape("LeaveOneOut() on n_samples=30 would make C(30, 1) = 30 splits, more than max_splits=29")):
        LeaveOneOut(max_splits=29).split(X)
    big = np.zeros((DEFAULT_MAX_SPLITS + 1, 1))
    with pytest.raises(ValueError, match=re.escape("more than max_splits=10,000. Use MonteCarloCV")):
        check_n_splits(skms.LeaveOneOut(), big)


def test_guard_huge_p_is_fast_and_approximate():
    with pytest.raises(ValueError, match=re.escape("C(1000000, 500000) = about 10^301027 splits")):
        LeavePOut(500_000).get_n_splits(np.zeros((1_000_000, 1)))


# ----------------------------------------------------------------- bad input
BAD_INPUT = [
    (lambda: LeavePOut(3).get_n_splits(np.zeros((3, 1))), "p=3 must be strictly less than the number of samples=3"),
    (lambda: LeavePOut(5).split(np.zeros((4, 1))), "p=5 must be strictly less than the number of samples=4"),
    (lambda: LeavePOut(0).get_n_splits(np.zeros((4, 1))), "The 'p' parameter of LeavePOut must be an int in the range [1, inf). Got 0 instead."),
    (lambda: LeaveOneOut(max_splits=0).get_n_splits(np.zeros((4, 1))), "The 'max_splits' parameter of LeaveOneOut must be an int in the range [1, inf) or None. Got 0 instead."),
    (lambda: LeaveOneOut().split(np.zeros((1, 1))), "Cannot perform LeaveOneOut with n_samples=1: LeaveOneOut needs at least 2 samples."),
    (lambda: Holdout(1.5).get_n_splits(), "The 'test_size' parameter of Holdout must be a float in the range (0, 1), an int in the range [1, n_samples) or a 'validation:training' ratio string such as '1:4'. Got 1.5 instead."),
    (lambda: Holdout(0.0).split(np.zeros((5, 1))), "parameter of Holdout must be a float in the range (0, 1)"),
    (lambda: Holdout(-2).split(np.zeros((5, 1))), "Got -2 instead."),
    (lambda: Holdout("1:0").split(np.zeros((5, 1))), "Got '1:0' instead."),
    (lambda: Holdout("a:b").split(np.zeros((5, 1))), "Got 'a:b' instead."),
    (lambda: MonteCarloCV(test_size=True).get_n_splits(), "Got True instead."),
    (lambda: Holdout(10).split(np.zeros((10, 1))), "test_size=10 (10 samples) must be strictly less than the number of samples=10."),
    (lambda: MonteCarloCV(test_size=0.95).split(np.zeros((10, 1))), "test_size=0.95 (10 samples) must be strictly less than the number of samples=10."),
    (lambda: MonteCarloCV(test_size=0.5, train_size=6).split(np.zeros((10, 1))), "test_size=0.5 (5 samples) plus train_size=6 (6 samples) must not exceed the number of samples=10."),
    (lambda: MonteCarloCV(test_size=0.2, train_size=0.01).split(np.zeros((10, 1))), "the training set would be empty (train_size=0.01); increase train_size."),
    (lambda: MonteCarloCV(train_size=1.5).get_n_splits(), "The 'train_size' parameter of MonteCarloCV must be a float in the range (0, 1)"),
    (lambda: MonteCarloCV(n_splits=0).get_n_splits(), "The 'n_splits' parameter of MonteCarloCV must be an int in the range [1, inf). Got 0 instead."),
    (lambda: MonteCarloCV(n_splits=2.5).split(np.zeros((5, 1))), "The 'n_splits' parameter of MonteCarloCV must be an int in the range [1, inf). Got 2.5 instead."),
    (lambda: Holdout(stratify=True).split(np.zeros((6, 1)), np.zeros(6)), "stratify=True in Holdout needs at least 2 classes in y, but y has 1 class ([0.0])."),
    (lambda: MonteCarloCV(stratify=True).split(np.zeros((6, 1))), "stratify=True in MonteCarloCV needs the class labels y, but y=None was passed."),
    (lambda: Holdout(stratify=True).split(np.zeros((6, 1)), np.linspace(0, 1, 6)), "needs binary or multiclass labels y, but y is of type 'continuous'."),
    (lambda: Holdout(stratify=True).split(np.zeros((6, 1)), [0, 0, 0, 0, 0, 1]), "needs at least 2 members in every class of y, but the least populated class has 1."),
    (lambda: Holdout(0.2, stratify=True).split(np.zeros((10, 1)), [0] * 4 + [1] * 3 + [2] * 3), "the test part has 2 samples (test_size), fewer than the number of classes=3."),
    (lambda: Holdout(stratify=True, shuffle=False).split(np.zeros((6, 1)), [0, 1] * 3), "stratify=True in Holdout needs shuffle=True, got shuffle=False."),
]


@pytest.mark.parametrize("call, message", BAD_INPUT, ids=[m[:40] for _, m in BAD_INPUT])
def test_bad_input_messages(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# ----------------------------------------------------------------- make_cv
def test_make_cv_table_and_specs():
    assert set(CV_METHODS) == {
        "holdout", "kfold", "stratified_kfold", "loo", "lpo", "monte_carlo", "group_kfold"
    }
    assert isinstance(make_cv("kfold", n_splits=3), KFold)
    assert make_cv("kfold", n_splits=3).n_splits == 3
    cv = make_cv({"method": "monte_carlo", "n_splits": 20, "swap": True})
    assert isinstance(cv, MonteCarloCV) and cv.get_n_splits() == 40
    assert make_cv({"method": "holdout", "test_size": "1:3"}).test_size == "1:3"
    assert make_cv("lpo", p=2).p == 2
    assert isinstance(make_cv("loo"), LeaveOneOut)
    assert isinstance(make_cv("group_kfold", n_splits=2), GroupKFold)
    assert isinstance(make_cv("stratified_kfold"), StratifiedKFold)


def test_make_cv_int_and_none_as_check_cv():
    y_cls = np.array([0, 1] * 10)
    assert repr(make_cv(None)) == repr(skms.check_cv(None))
    assert repr(make_cv(3, y=y_cls, classifier=True)) == repr(
        skms.check_cv(3, y_cls, classifier=True)
    )
    assert isinstance(make_cv(3, y=y_cls, classifier=False), KFold)
    cv = make_cv(4, shuffle=True, random_state=0)
    assert (cv.n_splits, cv.shuffle, cv.random_state) == (4, True, 0)


def test_make_cv_passes_splitters_and_iterables():
    cv = skms.ShuffleSplit(3, random_state=0)
    assert make_cv(cv) is cv
    pairs = [(np.arange(5, 10), np.arange(5)), (np.arange(5), np.arange(5, 10))]
    wrapped = make_cv(iter(pairs))
    assert wrapped.get_n_splits() == 2
    assert check_n_splits(pairs, np.zeros((10, 1))) == 2


MAKE_CV_ERRORS = [
    (("kfld",), {}, "Unknown cross-validation method 'kfld'; valid methods are ['group_kfold', 'holdout', 'kfold', 'loo', 'lpo', 'monte_carlo', 'stratified_kfold']."),
    (("kfold",), {"n_split": 3}, "Unknown parameter(s) ['n_split'] for cross-validation method 'kfold' (KFold); valid parameters are ['n_splits', 'shuffle', 'random_state']."),
    (({"method": "monte_carlo", "swp": True},), {}, "Unknown parameter(s) ['swp'] for cross-validation method 'monte_carlo' (MonteCarloCV); valid parameters are ['n_splits', 'test_size', 'train_size', 'swap', 'stratify', 'random_state']."),
    (({"n_splits": 3},), {}, "A cross-validation spec dict needs a 'method' key"),
    (({"method": "kfold", "n_splits": 3},), {"n_splits": 4}, "Parameter(s) ['n_splits'] given both in the spec and as keywords."),
    ((5,), {"p": 2}, "Unknown parameter(s) ['p'] for cv=5; valid parameters are ['shuffle', 'random_state']."),
    ((KFold(3),), {"shuffle": True}, "cannot be applied to an existing splitter"),
    ((2.5,), {}, "Expected cv as None, an int, a method name"),
    ((True,), {}, "Expected cv as None, an int, a method name"),
    (("monte_carlo",), {"n_splits": 0}, "The 'n_splits' parameter of MonteCarloCV must be an int in the range [1, inf). Got 0 instead."),
    (("lpo",), {"p": 0}, "The 'p' parameter of LeavePOut must be an int in the range [1, inf). Got 0 instead."),
    (("holdout",), {"test_size": "1:"}, "The 'test_size' parameter of Holdout"),
]


@pytest.mark.parametrize("args, params, message", MAKE_CV_ERRORS, ids=[m[:40] for *_, m in MAKE_CV_ERRORS])
def test_make_cv_errors(args, params, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_cv(*args, **params)


def test_count_fits_and_check_n_splits():
    X = np.zeros((20, 2))
    y = np.array([0, 1] * 10)
    assert check_n_splits(None, X) == 5
    assert check_n_splits(LeavePOut(2), X) == 190
    assert check_n_splits({"method": "lpo", "p": 2}, X) == 190
    assert count_fits(KFold(4), X, y, n_candidates=6) == 24
    assert count_fits(MonteCarloCV(3, swap=True), X, n_candidates=2, refit=True) == 13
    assert count_fits({"method": "holdout"}, X, n_candidates=7) == 7
    assert count_fits("loo", X) == 20
    assert count_fits(GroupKFold(2), X, y, groups=np.arange(20) % 3, n_candidates=0) == 0
    with pytest.raises(ValueError, match=re.escape("The 'n_candidates' parameter of count_fits must be an int in the range [0, inf). Got -1 instead.")):
        count_fits(3, X, n_candidates=-1)


# ----------------------------------------------------------------- sklearn interop
@pytest.fixture(scope="module")
def iris_small():
    X, y = load_iris(return_X_y=True)
    keep = np.r_[0:6, 50:56, 100:106]  # 18 samples, 6 per class
    return X[keep], y[keep]


SKLEARN_CV = {
    "holdout": Holdout("1:2", stratify=True, random_state=0),
    "kfold": KFold(3, shuffle=True, random_state=0),
    "stratified_kfold": StratifiedKFold(3),
    "group_kfold": GroupKFold(3),
    "loo": LeaveOneOut(),
    "lpo": LeavePOut(2),
    "monte_carlo": MonteCarloCV(3, test_size=0.3, swap=True, stratify=True, random_state=0),
}


@pytest.mark.parametrize("name", sorted(SKLEARN_CV))
def test_splitters_work_in_sklearn_cross_val_score_and_grid_search(name, iris_small):
    X, y = iris_small
    cv = SKLEARN_CV[name]
    groups = np.arange(len(y)) % 6 if name == "group_kfold" else None
    n_splits = cv.get_n_splits(X, y, groups)
    scores = skms.cross_val_score(KNeighborsClassifier(1), X, y, groups=groups, cv=cv)
    assert scores.shape == (n_splits,)
    assert np.all((scores >= 0) & (scores <= 1))
    search = skms.GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 3]}, cv=cv)
    search.fit(X, y, groups=groups)
    assert search.n_splits_ == n_splits
    assert f"split{n_splits - 1}_test_score" in search.cv_results_


@pytest.mark.parametrize("cv", [skms.KFold(4), skms.StratifiedKFold(2), skms.ShuffleSplit(3, random_state=0)], ids=repr)
def test_sklearn_splitters_accepted(cv):
    X = np.zeros((20, 2))
    y = np.array([0, 1] * 10)
    assert make_cv(cv) is cv
    assert count_fits(cv, X, y, n_candidates=2) == 2 * cv.get_n_splits(X, y)


# ------------------------------------------- same indices as scikit-learn's splitters
_SIZES = st.one_of(
    st.sampled_from([0.1, 0.2, 0.25, 1 / 3, 0.5, 0.7]),
    st.integers(1, 4),
    st.sampled_from(["1:4", "1:3", "1:2", "1:1"]),
)


def _as_sklearn_size(size):
    """The lecture's validation:training ratio as sklearn's fraction, by hand."""
    return {"1:4": 0.2, "1:3": 0.25, "1:2": 1 / 3, "1:1": 0.5}.get(size, size)


@given(n=st.integers(6, 40), size=_SIZES, seed=st.integers(0, 2**16),
       n_splits=st.integers(1, 4))
def test_monte_carlo_and_holdout_draw_sklearns_indices(n, size, seed, n_splits):
    # MonteCarloCV == ShuffleSplit, Holdout == train_test_split, for every test_size
    # form (the ratio string as its fraction) and random_state
    X = np.zeros((n, 1))
    sk_size = _as_sklearn_size(size)
    ours = _splits(MonteCarloCV(n_splits, test_size=size, random_state=seed), X, None)
    ref = _splits(skms.ShuffleSplit(n_splits, test_size=sk_size, random_state=seed), X, None)
    assert len(ours) == len(ref) == MonteCarloCV(n_splits).get_n_splits()
    for (a, b), (c, d) in zip(ours, ref):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    (train, test), = _splits(Holdout(test_size=size, random_state=seed), X, None)
    tr, te = skms.train_test_split(np.arange(n), test_size=sk_size, random_state=seed)
    np.testing.assert_array_equal(train, tr)
    np.testing.assert_array_equal(test, te)


@given(data=labelled_data(min_per_class=4, max_per_class=10), seed=st.integers(0, 2**16))
def test_stratified_monte_carlo_draws_sklearns_indices(data, seed):
    X, y, _ = data
    ours = _splits(MonteCarloCV(3, test_size=0.3, stratify=True, random_state=seed), X, y)
    ref = _splits(skms.StratifiedShuffleSplit(3, test_size=0.3, random_state=seed), X, y)
    for (a, b), (c, d) in zip(ours, ref):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@given(n=st.integers(2, 9), p=st.integers(1, 3))
def test_leave_p_out_is_sklearns(n, p):
    X = np.zeros((n, 1))
    if p >= n:
        with pytest.raises(ValueError, match=f"p={p} must be strictly less than the "
                                             f"number of samples={n}"):
            LeavePOut(p).get_n_splits(X)
        return
    ours, ref = _splits(LeavePOut(p), X, None), _splits(skms.LeavePOut(p), X, None)
    assert len(ours) == LeavePOut(p).get_n_splits(X) == math.comb(n, p) == len(ref)
    for (a, b), (c, d) in zip(ours, ref):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@pytest.mark.parametrize("n, p", [(3, 3), (4, 5)])
def test_leave_p_out_too_few_samples_says_sklearns_message(n, p):
    """p >= n_samples: sklearn's LeavePOut message to the letter (was: with a period added,
    "... number of samples=3.")."""
    X = np.zeros((n, 1))
    with pytest.raises(ValueError) as theirs:
        list(skms.LeavePOut(p).split(X))
    for call in (lambda: list(LeavePOut(p).split(X)), lambda: LeavePOut(p).get_n_splits(X)):
        with pytest.raises(ValueError) as ours:
            call()
        assert str(ours.value) == str(theirs.value)


def test_guard_message_stays_short_for_large_counts():
    # was: C(100000, 500) written out in full, a 2,000-character message
    with pytest.raises(ValueError) as info:
        LeavePOut(500).get_n_splits(np.zeros((100_000, 1)))
    digits = (math.lgamma(100_001) - math.lgamma(501) - math.lgamma(99_501)) / math.log(10)
    assert f"C(100000, 500) = about 10^{digits:.0f} splits" in str(info.value)
    assert len(str(info.value)) < 300
