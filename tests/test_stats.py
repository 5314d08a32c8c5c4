"""Contracts of the model-comparison statistics (hpsearch.model_selection.stats)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.model_selection import (
    GroupShuffleSplit,
    KFold,
    RepeatedKFold,
    ShuffleSplit,
    TimeSeriesSplit,
)

from hpsearch.model_selection import (
    GridSearchCV,
    MonteCarloCV,
    compare,
    not_significantly_worse,
    one_standard_error,
)
from hpsearch.model_selection.stats import (
    corrected_ttest,
    naive_ttest,
    posterior_probabilities,
    split_size_ratio,
)

D = np.array([0.02, 0.01, 0.03, -0.01, 0.02, 0.015, 0.005, 0.025, 0.0, 0.01])


def test_corrected_ttest_by_hand():
    k, ratio = D.size, 1 / 9
    var = np.sum((D - D.mean()) ** 2) / (k - 1)
    t = D.mean() / np.sqrt((1 / k + ratio) * var)
    p = 2 * sps.t.sf(abs(t), k - 1)
    assert corrected_ttest(D, ratio) == pytest.approx((t, p))
    assert corrected_ttest(D, ratio, "greater")[1] == pytest.approx(sps.t.sf(t, k - 1))


def test_naive_ttest_is_scipys_paired_test():
    a = np.linspace(0.8, 0.9, D.size)
    b = a - D
    ref = sps.ttest_rel(a, b)
    assert naive_ttest(D) == pytest.approx((ref.statistic, ref.pvalue))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=30),
    st.floats(0, 5),
)
def test_corrected_p_never_below_naive(diffs, ratio):
    d = np.asarray(diffs)
    if d.var() == 0:
        return
    assert corrected_ttest(d, ratio)[1] >= naive_ttest(d)[1] - 1e-12


def test_posterior_sums_to_one_and_matches_student_t():
    ratio, rope = 0.25, 0.01
    better, equiv, worse = posterior_probabilities(D, ratio, rope)
    assert better + equiv + worse == pytest.approx(1.0)
    scale = np.sqrt((1 / D.size + ratio) * D.var(ddof=1))
    post = sps.t(D.size - 1, loc=D.mean(), scale=scale)
    assert better == pytest.approx(post.sf(rope))
    assert worse == pytest.approx(post.cdf(-rope))


def test_zero_variance_limits():
    assert corrected_ttest([0.0, 0.0, 0.0], 0.25) == (0.0, 1.0)
    t, p = corrected_ttest([0.1, 0.1, 0.1], 0.25, "greater")
    assert t == np.inf and p == 0.0
    assert posterior_probabilities([0.0, 0.0], 0.25, 0.01) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([0.1], "at least 2 splits"),
        ([[0.1, 0.2]], "1-D array"),
    ],
)
def test_bad_differences(bad, match):
    with pytest.raises(ValueError, match=match):
        corrected_ttest(bad, 0.25)


@pytest.mark.parametrize("ratio", [-1, np.nan, "a", True])
def test_bad_ratio(ratio):
    with pytest.raises(ValueError, match="'test_train_ratio' parameter"):
        corrected_ttest(D, ratio)


@pytest.mark.parametrize(
    "cv, n, expected",
    [
        (None, None, 0.25),
        (5, None, 0.25),
        (KFold(10), None, 1 / 9),
        (RepeatedKFold(n_splits=4, n_repeats=3), None, 1 / 3),
        (ShuffleSplit(test_size=0.2), None, 0.25),
        (MonteCarloCV(n_splits=5, test_size="1:4"), None, 0.25),
        (ShuffleSplit(test_size=20), 100, 0.25),
        ([(np.arange(3), np.arange(3, 5))], None, None),
    ],
)
def test_ratio_from_splitter(cv, n, expected):
    got = split_size_ratio(cv, n)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.fixture(scope="module")
def ridge_search():
    X, y = load_diabetes(return_X_y=True)
    search = GridSearchCV(
        Ridge(), {"alpha": [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0]}, cv=KFold(10)
    )
    return search.fit(X, y)


def test_compare_frame(ridge_search):
    frame = compare(ridge_search, top=4)
    res = ridge_search.cv_results_
    assert list(frame["rank"]) == [1, 2, 3, 4]
    assert frame.index[0] == ridge_search.best_index_
    assert np.isnan(frame["p_value"].iloc[0])
    assert (frame["difference"].iloc[1:] >= 0).all()
    assert (frame["p_value"].iloc[1:] >= frame["p_value_naive"].iloc[1:]).all()
    # the second row's test recomputed from cv_results_
    cols = [f"split{k}_test_score" for k in range(10)]
    best = np.array([res[c][frame.index[0]] for c in cols])
    other = np.array([res[c][frame.index[1]] for c in cols])
    t, p = corrected_ttest(best - other, 1 / 9, "greater")
    assert frame["t"].iloc[1] == pytest.approx(t)
    assert frame["p_value"].iloc[1] == pytest.approx(p)
    probs = frame[["p_best_better", "p_equivalent", "p_candidate_better"]].iloc[1:]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert frame.attrs["test_train_ratio"] == pytest.approx(1 / 9)


def test_compare_accepts_sklearn_search_and_dict():
    X, y = load_diabetes(return_X_y=True)
    sk = SkGridSearchCV(Ridge(), {"alpha": [0.01, 1.0, 100.0]}, cv=5).fit(X, y)
    assert len(compare(sk)) == 3
    with pytest.raises(ValueError, match="test_train_ratio="):
        compare(sk.cv_results_)
    assert len(compare(sk.cv_results_, test_train_ratio=0.25)) == 3


def test_compare_errors(ridge_search):
    with pytest.raises(ValueError, match="'metric' parameter must be one of"):
        compare(ridge_search, metric="nope")
    with pytest.raises(ValueError, match="'top' parameter"):
        compare(ridge_search, top=0)
    with pytest.raises(ValueError, match="fitted search"):
        compare(object())


def test_compare_uses_only_shared_splits(ridge_search):
    res = dict(ridge_search.cv_results_)
    res["split0_test_score"] = res["split0_test_score"].copy()
    worst = int(np.argmax(res["rank_test_score"]))
    res["split0_test_score"][worst] = np.nan
    frame = compare(res, test_train_ratio=1 / 9, top=6)
    assert frame.loc[worst, "n_splits"] == 9


def test_one_standard_error_picks_simplest_within_se(ridge_search):
    res = ridge_search.cv_results_
    rule = one_standard_error(simplicity="-alpha")
    chosen = rule(res)
    scores = np.array([res[f"split{k}_test_score"] for k in range(10)]).T
    means = scores.mean(axis=1)
    best = int(np.argmax(means))
    se = scores[best].std(ddof=1) / np.sqrt(10)
    within = [i for i in range(len(means)) if means[i] >= means[best] - se]
    alphas = [res["params"][i]["alpha"] for i in within]
    assert res["params"][chosen]["alpha"] == max(alphas)


def test_refit_rules_work_as_refit(ridge_search):
    X, y = load_diabetes(return_X_y=True)
    grid = {"alpha": [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0]}
    for rule in (
        one_standard_error("-alpha"),
        not_significantly_worse("-alpha", alpha=0.05),
    ):
        search = GridSearchCV(Ridge(), grid, cv=KFold(10), refit=rule).fit(X, y)
        chosen = search.best_params_["alpha"]
        assert chosen >= ridge_search.best_params_["alpha"]
        assert search.best_estimator_.alpha == chosen
    sk = SkGridSearchCV(
        Ridge(), grid, cv=KFold(10), refit=not_significantly_worse("-alpha")
    ).fit(X, y)
    assert sk.best_params_["alpha"] >= ridge_search.best_params_["alpha"]


def test_not_significantly_worse_keeps_clearly_worse_out():
    # two candidates: one far worse on every split -> never chosen even if simpler
    res = {
        "params": [{"alpha": 1.0}, {"alpha": 100.0}],
        **{f"split{k}_test_score": np.array([0.9 + 0.001 * k, 0.5]) for k in range(5)},
    }
    assert not_significantly_worse("-alpha")(res) == 0
    assert one_standard_error("-alpha")(res) == 0


def test_simplicity_errors():
    res = {"params": [{"a": 1}, {"a": 2}], "split0_test_score": np.array([1.0, 1.0]),
           "split1_test_score": np.array([1.0, 1.0])}
    with pytest.raises(ValueError, match="names a parameter the candidates do not have"):
        one_standard_error("b")(res)
    with pytest.raises(ValueError, match="'simplicity' parameter"):
        one_standard_error(3)(res)
    assert one_standard_error(lambda p: -p["a"])(res) == 1


def _mean_split_ratio(cv, X, groups=None):
    """The reference: mean of n_test / n_train over the splitter's actual splits."""
    return np.mean([len(te) / len(tr) for tr, te in cv.split(X, groups=groups)])


@pytest.mark.parametrize(
    "cv",
    [
        MonteCarloCV(n_splits=3, test_size=0.2, swap=True, random_state=0),
        MonteCarloCV(n_splits=3, test_size="1:3", swap=True, random_state=0),
        GroupShuffleSplit(n_splits=3, random_state=0),  # sklearn's default test_size 0.2
        ShuffleSplit(n_splits=3, random_state=0),  # default 0.1
    ],
)
def test_ratio_is_the_splits_ratio(cv):
    # was: swap=True counted as r (0.25) though every other split has 1/r (4), and
    # GroupShuffleSplit's default test_size as ShuffleSplit's 0.1 (it is 0.2)
    X = np.zeros((100, 1))
    groups = np.arange(100) if isinstance(cv, GroupShuffleSplit) else None
    got = split_size_ratio(cv)
    assert got == pytest.approx(_mean_split_ratio(cv, X, groups), rel=0.02)


def test_ratio_of_time_series_split_is_unknown():
    # was: TimeSeriesSplit has a test_size attribute (None) and was read as a 0.1 shuffle
    # split, ratio 1/9; its training part grows from split to split
    assert split_size_ratio(TimeSeriesSplit(5)) is None
    assert split_size_ratio(TimeSeriesSplit(5, test_size=10)) is None


def test_racing_ratio_falls_back_to_the_real_splits():
    # was: an unknown ratio (leave-p-out, an int test_size; the searches keep no
    # n_samples_) fell back to 1 / (K - 1) with K the number of splits: 1/189 for
    # LeavePOut(2) on 20 rows, whose every split has n_test / n_train = 2 / 18
    from sklearn.model_selection import LeavePOut as SkLeavePOut

    from hpsearch.model_selection._racing import _ratio

    X = np.zeros((20, 1))
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=SkLeavePOut(2))
    splits = list(SkLeavePOut(2).split(X))
    assert _ratio(search, len(splits), splits) == pytest.approx(2 / 18)
    mc = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=MonteCarloCV(5, test_size=5))
    splits = list(MonteCarloCV(5, test_size=5, random_state=0).split(X))
    assert _ratio(mc, 5, splits) == pytest.approx(5 / 15)
    kf = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=KFold(4))
    assert _ratio(kf, 4, list(KFold(4).split(X))) == pytest.approx(1 / 3)
