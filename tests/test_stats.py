"""Contracts of the model-comparison statistics (hpsearch.model_selection.stats)."""

import warnings

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
    StratifiedGroupKFold,
    StratifiedShuffleSplit,
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
    _mean_fraction_ratio,
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


def test_refit_rules_leave_out_the_splits_whose_fit_failed():
    # was: with error_score=0 a failed split's made-up 0 counted: the candidate with one
    # failed split was still the "best" (mean 0.792), its standard error 0.2 put every
    # candidate within one SE and the rule refitted the simplest, alpha=100 (mean 0.65),
    # though its docstring says candidates with a failed split are not considered
    res = {
        "params": [{"alpha": 1.0}, {"alpha": 10.0}, {"alpha": 100.0}],
        **{f"split{k}_test_score": np.array([0.99 if k else 0.0, 0.78 + 0.001 * k, 0.65])
           for k in range(5)},
        "error": np.array(["split 0:\nValueError: boom", None, None], dtype=object),
    }
    assert one_standard_error("-alpha")(res) == 1
    assert not_significantly_worse("-alpha")(res) == 1
    del res["error"]  # results without hpsearch's error column are taken as they are
    assert one_standard_error("-alpha")(res) == 2


def test_simplicity_errors():
    res = {"params": [{"a": 1}, {"a": 2}], "split0_test_score": np.array([1.0, 1.0]),
           "split1_test_score": np.array([1.0, 1.0])}
    with pytest.raises(ValueError, match="names a parameter the candidates do not have"):
        one_standard_error("b")(res)
    with pytest.raises(ValueError, match="'simplicity' parameter"):
        one_standard_error(3)(res)
    assert one_standard_error(lambda p: -p["a"])(res) == 1


def _mean_split_ratio(cv, X, groups=None):
    """The reference: Nadeau-Bengio's rho / (1 - rho), rho = n_test / n the mean
    validation fraction of the splitter's actual splits."""
    rho = np.mean([len(te) / (len(tr) + len(te)) for tr, te in cv.split(X, groups=groups)])
    return rho / (1 - rho)


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
    # was: swap=True counted as r (0.25 for test_size=0.2), though a split and its
    # mirror partition the data in two (repeated 2-fold: ratio 1); GroupShuffleSplit's
    # default test_size read as ShuffleSplit's 0.1 (it is 0.2)
    X = np.zeros((100, 1))
    groups = np.arange(100) if isinstance(cv, GroupShuffleSplit) else None
    got = split_size_ratio(cv)
    assert got == pytest.approx(_mean_split_ratio(cv, X, groups), rel=0.02)
    if getattr(cv, "swap", False):
        assert got == pytest.approx(split_size_ratio(KFold(2)))


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


def _results(params, matrix, **more):
    """A cv_results_ dict from a (n_rows, k) matrix of split test scores."""
    matrix = np.asarray(matrix, dtype=float)
    res = {"params": params, **more}
    for k in range(matrix.shape[1]):
        res[f"split{k}_test_score"] = matrix[:, k]
    with np.errstate(invalid="ignore"):
        res["mean_test_score"] = matrix.mean(axis=1)  # NaN when a split failed, as sklearn
    return res


# candidate 0: complete; 1: simpler, failed (NaN) on 4 of 5 splits, one lucky split
_PARTIAL = _results(
    [{"alpha": 1.0}, {"alpha": 100.0}, {"alpha": 10.0}],
    [[0.80, 0.82, 0.78, 0.81, 0.79],
     [0.99, np.nan, np.nan, np.nan, np.nan],
     [0.70, 0.72, 0.68, 0.71, 0.69]],
)


def test_refit_rules_ignore_a_candidate_with_failed_splits():
    # was: the best was the nanmean over finite splits, so the candidate that failed on
    # 4 splits (one lucky 0.99) was "best" with SE 0 and was chosen by both rules;
    # sklearn ranks it last (NaN mean_test_score)
    sk_best = int(np.nanargmax(np.where(np.isnan(_PARTIAL["mean_test_score"]), -np.inf,
                                        _PARTIAL["mean_test_score"])))
    assert sk_best == 0
    assert one_standard_error("-alpha")(_PARTIAL) == 0  # 2 is > 1 SE below 0
    # 2 is clearly worse than 0 on every split (by hand: d = 0.1 on each split, t = inf)
    assert corrected_ttest(np.full(5, 0.1), 0.25, "greater")[1] < 0.05
    assert not_significantly_worse("-alpha")(_PARTIAL) == 0


def test_refit_rule_never_picks_a_raced_candidate():
    # was: a raced candidate (NaN after its 3 finished splits), not significantly worse
    # on those 3 splits alone, was refitted though racing dropped it
    best = [0.90, 0.91, 0.89, 0.92, 0.90, 0.91]
    raced = [0.86, 0.90, 0.84, np.nan, np.nan, np.nan]
    res = _results([{"alpha": 1.0}, {"alpha": 100.0}], [best, raced])
    d = np.subtract(best[:3], raced[:3])
    t = d.mean() / np.sqrt((1 / 3 + 1 / 5) * d.var(ddof=1))
    assert sps.t.sf(t, 2) >= 0.05  # the test on the shared splits alone would keep it
    assert not_significantly_worse("-alpha")(res) == 0
    assert one_standard_error("-alpha")(res) == 0


def test_compare_best_is_a_complete_candidate(ridge_search):
    # was: a candidate with a failed split and higher scores on the others was "best"
    res = {k: (v.copy() if isinstance(v, np.ndarray) else v)
           for k, v in ridge_search.cv_results_.items()}
    worst = int(np.argmax(res["rank_test_score"]))
    for k in range(10):
        res[f"split{k}_test_score"][worst] = 0.99
    res["split3_test_score"][worst] = np.nan
    frame = compare(res, test_train_ratio=1 / 9, top=6)
    assert frame.index[0] == ridge_search.best_index_
    assert frame.index[-1] == worst


# a halving search: round 0 at budget 10 (3 candidates), round 1 at budget 30 (the best
# 2); a=3, eliminated in round 0, still has a higher mean than any round-1 row
_HALVING = _results(
    [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 1}, {"a": 2}],
    [[0.93, 0.94, 0.95],   # a=1 at 10
     [0.96, 0.95, 0.94],   # a=2 at 10
     [0.95, 0.89, 0.92],   # a=3 at 10 (eliminated)
     [0.86, 0.87, 0.85],   # a=1 at 30
     [0.88, 0.90, 0.89]],  # a=2 at 30
    iter=np.array([0, 0, 0, 1, 1]), n_resources=np.array([10, 10, 10, 30, 30]),
)


def test_compare_budgeted_best_at_top_budget_and_same_budget_differences():
    # was: the best was the highest mean over every candidate's last row whatever its
    # budget (a=3's 0.92 at budget 10), and an eliminated candidate was compared with
    # the best's top-budget row
    frame = compare(_HALVING, test_train_ratio=0.5, top=3)
    assert list(frame.index) == [4, 3, 2]  # a=2 at budget 30 is the best
    d = np.array([0.96, 0.95, 0.94]) - np.array([0.95, 0.89, 0.92])  # a=2 - a=3 at 10
    assert frame.loc[2, "difference"] == pytest.approx(d.mean())
    t, p = corrected_ttest(d, 0.5, "greater")
    assert frame.loc[2, "t"] == pytest.approx(t) and frame.loc[2, "p_value"] == pytest.approx(p)
    assert frame.loc[3, "difference"] == pytest.approx(0.03)  # at budget 30


def test_refit_rules_choose_at_the_top_budget():
    # was: the round-0 row of a=3 (budget 10) was the best, so both rules refitted a=3,
    # a candidate halving eliminated; SE at the top budget: std(.88, .90, .89)/sqrt(3)
    assert one_standard_error("a")(_HALVING) == 4
    assert one_standard_error("-a")(_HALVING) == 4
    d = np.array([0.88, 0.90, 0.89]) - np.array([0.86, 0.87, 0.85])
    assert corrected_ttest(d, 0.5, "greater")[1] < 0.05  # a=1 at 30 significantly worse
    assert not_significantly_worse("a", test_train_ratio=0.5)(_HALVING) == 4


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_ratio_zero_is_scipys_one_sample_test_for_every_alternative(alternative):
    ref = sps.ttest_1samp(D, 0.0, alternative=alternative)
    assert corrected_ttest(D, 0.0, alternative) == pytest.approx((ref.statistic, ref.pvalue))


def test_infinite_difference_is_refused_not_infinitely_significant():
    # was: inf made the variance NaN and the t-statistic +inf, p = 0 ("certainly better")
    with pytest.raises(ValueError, match="differences must be finite.*inf"):
        corrected_ttest([0.1, np.inf, 0.2], 0.25, "greater")
    with pytest.raises(ValueError, match="differences must be finite"):
        posterior_probabilities([0.1, -np.inf, 0.2], 0.25)


def test_rope_true_is_refused():
    with pytest.raises(ValueError, match="'rope' parameter"):
        posterior_probabilities(D, 0.25, rope=True)


@pytest.mark.parametrize("p", [1, 2])
def test_compare_reads_leave_p_out_ratio_off_a_fitted_search(p):
    # was: ValueError asking for test_train_ratio (the searches keep no n_samples_);
    # n follows from n_splits_ = C(n, p), and every split has n_test / n_train = p/(n-p)
    from sklearn.model_selection import LeavePOut as SkLeavePOut

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:15], y[:15]
    search = SkGridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=SkLeavePOut(p),
                            scoring="neg_mean_absolute_error").fit(X, y)
    assert compare(search).attrs["test_train_ratio"] == pytest.approx(p / (15 - p))


def test_resources_dicts_without_n_resources_fall_back_to_iter():
    # a "resources" column of dicts (hpsearch's per-row budget) has no order: the
    # rounds are read off "iter" instead of failing to convert the dicts
    res = dict(_HALVING)
    res.pop("n_resources")
    res["resources"] = np.array([{"max_iter": 10}] * 3 + [{"max_iter": 30}] * 2, dtype=object)
    frame = compare(res, test_train_ratio=0.5, top=3)
    assert list(frame.index) == [4, 3, 2]
    assert one_standard_error("a")(res) == 4


def test_two_trials_with_the_same_parameters_are_two_candidates():
    # was: budgeted rows were grouped by parameters, so trial 1 (same parameters as
    # trial 0, pruned at budget 10) vanished from the table
    res = _results(
        [{"a": 1}, {"a": 1}, {"a": 2}, {"a": 1}, {"a": 2}],
        [[0.93, 0.94, 0.95], [0.90, 0.91, 0.92], [0.96, 0.95, 0.94],
         [0.86, 0.87, 0.85], [0.88, 0.90, 0.89]],
        trial=np.array([0, 1, 2, 0, 2]), iter=np.array([0, 0, 0, 1, 1]),
        n_resources=np.array([10, 10, 10, 30, 30]),
    )
    frame = compare(res, test_train_ratio=0.5)
    assert list(frame.index) == [4, 3, 1]
    d = np.array([0.96, 0.95, 0.94]) - np.array([0.90, 0.91, 0.92])  # trial 2 - 1 at 10
    assert frame.loc[1, "difference"] == pytest.approx(d.mean())


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 5).flatmap(lambda n: st.integers(2, 8).flatmap(lambda k: st.lists(
        st.lists(st.floats(0, 1, allow_nan=False), min_size=k, max_size=k),
        min_size=n, max_size=n))),
    st.floats(0.05, 2),
)
def test_compare_matches_scipys_paired_test_rescaled(matrix, ratio):
    # reference: scipy's paired t (naive) rescaled by sqrt((1/k) / (1/k + ratio))
    m = np.asarray(matrix)
    n, k = m.shape
    res = _results([{"i": i} for i in range(n)], m)
    frame = compare(res, test_train_ratio=ratio, top=n)
    means = m.mean(axis=1)
    best = int(np.argmax(means))  # the first on a tie, as compare
    assert frame.index[0] == best
    for i in frame.index[1:]:
        d = m[best] - m[i]
        if np.ptp(d) == 0:
            continue  # zero variance: the limits of test_zero_variance_limits
        naive = sps.ttest_rel(m[best], m[i], alternative="greater")
        t = naive.statistic * np.sqrt((1 / k) / (1 / k + ratio))
        assert frame.loc[i, "t"] == pytest.approx(t, rel=1e-6, abs=1e-9)
        assert frame.loc[i, "p_value"] == pytest.approx(sps.t.sf(t, k - 1), rel=1e-6, abs=1e-12)
        assert frame.loc[i, "p_value_naive"] == pytest.approx(naive.pvalue, rel=1e-6, abs=1e-12)


# an ASHA search (factor 3, budgets 1, 3, 9; "candidate" and "iter" as ASHASearchCV
# writes them): candidate 2, the best at budget 3, failed on split 0 at budget 9
_ASHA = _results(
    [{"c": 0.9}, {"c": 0.8}, {"c": 0.1}, {"c": 0.9}, {"c": 0.8}, {"c": 0.9}],
    [[0.91, 0.92, 0.90],    # 0: candidate 2 at 1
     [0.81, 0.80, 0.82],    # 1: candidate 1 at 1
     [0.11, 0.10, 0.12],    # 2: candidate 0 at 1
     [0.93, 0.94, 0.92],    # 3: candidate 2 at 3
     [0.83, 0.84, 0.82],    # 4: candidate 1 at 3
     [np.nan, 0.99, 0.99]],  # 5: candidate 2 at 9, a split failed
    candidate=np.array([2, 1, 0, 2, 1, 2]), iter=np.array([0, 0, 0, 1, 1, 2]),
    n_resources=np.array([1, 1, 1, 3, 3, 9]),
)


def test_a_failed_split_at_the_top_budget_is_no_best_as_the_searchs_best_index():
    # was: the top budget was the largest with any finite split, so candidate 2's row at
    # budget 9 (mean over 2 of 3 splits) was compare()'s best and both refit rules
    # refitted it at budget 9; ASHASearchCV's best_index_ is row 3 (the highest rung with
    # a score, measured with a real search), and every rule now chooses it
    frame = compare(_ASHA, test_train_ratio=0.5)
    assert list(frame.index) == [3, 4, 2]  # candidate 2 listed by its complete row
    assert frame.loc[4, "difference"] == pytest.approx(0.10)  # 2 - 1 at budget 3
    d = np.array([0.91, 0.92, 0.90]) - np.array([0.11, 0.10, 0.12])  # at budget 1
    assert frame.loc[2, "difference"] == pytest.approx(d.mean())
    assert one_standard_error("c")(_ASHA) == 3
    assert not_significantly_worse("c", test_train_ratio=0.5)(_ASHA) == 3


def test_compare_best_is_the_recipes_accepted_best():
    # a recipe search ranks a candidate whose training score is below its floor
    # (accepted False) after every accepted one, and best_index_ is the best accepted;
    # compare() took the higher mean of the rejected one as "the best" (the report's
    # "How sure is this?" then compared against another candidate than the chosen one)
    res = _results([{"a": 1}, {"a": 2}, {"a": 3}],
                   [[0.95, 0.96, 0.94], [0.90, 0.91, 0.92], [0.80, 0.82, 0.81]],
                   accepted=np.array([False, True, True]))
    frame = compare(res, test_train_ratio=0.5)
    assert list(frame.index) == [1, 2, 0]
    assert frame.loc[0, "difference"] == pytest.approx(0.91 - 0.95)


def test_compare_ranks_ties_as_the_search():
    # was: equal means ranked 2 and 3 in compare ("How sure is this?") while the
    # search's rank_test_score (the report's Top 10) ranked both 2
    res = _results([{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}],
                   [[1.0, 1.0, 1.0], [0.5, 0.75, 1.0], [1.0, 0.75, 0.5], [0.5, 0.5, 0.5]])
    frame = compare(res, test_train_ratio=0.5)
    assert list(frame.index) == [0, 1, 2, 3]
    assert list(frame["rank"]) == [1, 2, 2, 4]


def test_compare_leaves_out_the_splits_whose_fit_failed():
    # was: with error_score=0 the failed splits' made-up 0 were compared as scores: a
    # candidate that never fitted was "significantly worse" (p = 0.0001); the docstring
    # says failed splits are left out
    res = _results([{"k": 3}, {"k": 9}, {"k": 200}],
                   [[0.94, 0.92, 0.93], [0.95, 0.93, 0.91], [0.0, 0.0, 0.0]],
                   error=np.array([None, "split 1:\nValueError: boom", "split 0:\nValueError: "
                                   "x\nsplit 1:\nValueError: x\nsplit 2:\nValueError: x"],
                                  dtype=object))
    frame = compare(res, test_train_ratio=0.5)
    assert list(frame.index) == [0, 1, 2]
    assert frame.loc[1, "n_splits"] == 2 and frame.loc[1, "mean_test"] == pytest.approx(0.93)
    assert frame.loc[2, "n_splits"] == 0 and np.isnan(frame.loc[2, "p_value"])


def test_another_metrics_failed_scorer_leaves_the_metric_compared():
    # several metrics: a failing 'picky' scorer on split 1 leaves 'acc' scored there
    from hpsearch.model_selection._results import failed_splits

    text = "split 1:\nscorer 'picky':\nTraceback ...\nValueError: one class"
    assert failed_splits(text, "acc") == set() and failed_splits(text, "picky") == {1}
    assert failed_splits("split 0:\nTraceback ...\nsplit 2:\nTraceback ...", "acc") == {0, 2}


def test_compare_tests_a_subsampled_row_with_its_own_split_sizes():
    """resource="n_samples" trains a row of budget b on b rows of each train fold and
    scores it on the whole validation fold: n_test / n_train of its splits is n_test / b,
    not the full split's (iris, 5-fold: 30 / 30 at b = 30 and 30 / 90 at b = 90, against
    0.25), which under-corrected the t-test of every row below the full budget."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from hpsearch.model_selection import HalvingSearchCV

    X, y = load_iris(return_X_y=True)
    search = HalvingSearchCV(
        LogisticRegression(max_iter=500), {"C": [1e-3, 1e-2, 0.1, 0.3, 1, 3, 10, 100, 1e3]},
        resource="n_samples", cv=5, random_state=0).fit(X, y)
    frame = compare(search)
    assert frame.attrs["test_train_ratio"] == pytest.approx(0.25)
    assert set(frame["budget"]) == {30, 90}
    results, best = search.cv_results_, frame["params"].iloc[0]
    for i, row in frame.iloc[1:].iterrows():
        ratio = 30 / row["budget"]
        assert row["test_train_ratio"] == pytest.approx(ratio)
        ref = next(j for j, params in enumerate(results["params"])
                   if params == best and results["n_resources"][j] == row["budget"])
        diff = np.array([results[f"split{k}_test_score"][ref]
                         - results[f"split{k}_test_score"][i] for k in range(5)])
        assert row["p_value"] == pytest.approx(corrected_ttest(diff, ratio, "greater")[1])
    # a bare cv_results_ dict does not say what its budgets are: one ratio, as given
    assert "test_train_ratio" not in compare(results, test_train_ratio=0.25)


# Reference numbers from baycomp 1.0.3 (Benavoli et al.'s own implementation), computed
# once outside the test suite (pip install baycomp; baycomp is not a dependency):
# CorrelatedTTest.probs(_BC_X, _BC_Y, rope=r, runs=4), and its compute_statistics'
# mean / sqrt(var) with df = 11, for RepeatedKFold(n_splits=3, n_repeats=4): 12 splits,
# variance factor 1/12 + 1/(3 - 1) (Bouckaert & Frank 2004: k = all splits, ratio of one).
_BC_X = np.array([.81, .78, .84, .80, .79, .83, .82, .77, .85, .80, .78, .84])
_BC_Y = np.array([.83, .79, .84, .83, .80, .85, .82, .80, .86, .81, .81, .84])
_BC_PROBS = {  # rope -> (P(x better), P(rope), P(y better))
    0.0: (0.06975256862383805, 0.0, 0.930247431376162),
    0.01: (0.010016040034651025, 0.31427800040930165, 0.6757059595560473),
}
_BC_T, _BC_P_ONE_SIDED = 1.592831106476446, 0.06975256862383808


def test_bayesian_and_corrected_tests_match_baycomp_on_repeated_k_fold():
    ratio = split_size_ratio(RepeatedKFold(n_splits=3, n_repeats=4))
    d = _BC_Y - _BC_X
    for rope, (p_x, p_rope, p_y) in _BC_PROBS.items():
        got = posterior_probabilities(d, ratio, rope)
        np.testing.assert_allclose(got, (p_y, p_rope, p_x), rtol=0, atol=1e-12)
    t, p = corrected_ttest(d, ratio, "greater")
    assert t == pytest.approx(_BC_T, abs=1e-12) and p == pytest.approx(_BC_P_ONE_SIDED, abs=1e-12)
    # compare() on the same scores: k = 12 shared splits, ratio 1/2
    frame = compare(_results([{"a": 1}, {"a": 2}], [_BC_Y, _BC_X]), test_train_ratio=ratio)
    row = frame.iloc[1]
    assert row["n_splits"] == 12
    assert row["p_value"] == pytest.approx(_BC_P_ONE_SIDED, abs=1e-12)
    assert row["p_best_better"] == pytest.approx(_BC_PROBS[0.01][2], abs=1e-12)


@pytest.mark.parametrize(
    "cv, expected",
    [
        (ShuffleSplit(test_size=0.1), 3 / 20),  # ceil(2.3) = 3 test rows of 23, not 0.1/0.9
        (StratifiedShuffleSplit(test_size=0.2), 5 / 18),
        (ShuffleSplit(test_size=0.2, train_size=0.5), 5 / 11),  # floor(11.5) train rows
        (MonteCarloCV(n_splits=3, test_size=0.3), 7 / 16),
        (MonteCarloCV(n_splits=3, test_size="1:4", swap=True), 1.0),
    ],
)
def test_ratio_of_random_splits_is_exact_for_n_samples(cv, expected):
    # was: the nominal test_size / (1 - test_size) even when n_samples was given: 0.111
    # for 0.15 here (n_test is rounded up), a too small correction, p-values too small
    X = np.zeros((23, 1))
    y = np.arange(23) % 2
    assert split_size_ratio(cv, 23) == pytest.approx(expected)
    splits = list(cv.split(X, y))
    assert split_size_ratio(cv, 23) == pytest.approx(_mean_fraction_ratio(
        [len(te) / (len(tr) + len(te)) for tr, te in splits]))
    from hpsearch.model_selection._racing import _ratio

    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=cv)
    assert _ratio(search, len(splits), splits) == pytest.approx(expected)


def test_ratio_of_group_shuffle_split_races_on_the_drawn_sizes():
    # GroupShuffleSplit's test_size counts groups: with unequal groups the rows differ
    from hpsearch.model_selection._racing import _ratio

    cv = GroupShuffleSplit(n_splits=3, test_size=0.25, random_state=0)
    X, groups = np.zeros((57, 1)), np.repeat(np.arange(8), [1, 2, 3, 5, 6, 10, 12, 18])
    splits = list(cv.split(X, groups=groups))
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=cv)
    assert _ratio(search, 3, splits) == pytest.approx(_mean_fraction_ratio(
        [len(te) / 57 for _, te in splits]))
    assert split_size_ratio(cv, 57) == pytest.approx(0.25 / 0.75)  # the expected fraction


def test_ratio_of_a_k_fold_lookalike_is_unknown():
    # was: any class with "KFold" in its name was read as 1 / (K - 1); a purged K-fold
    # trains on fewer rows (larger n_test / n_train): compare() must ask for the ratio
    class PurgedKFold(KFold):
        pass

    class TimeKFold:
        n_splits = 5

    assert split_size_ratio(PurgedKFold(5)) is None
    assert split_size_ratio(TimeKFold()) is None
    assert split_size_ratio(StratifiedGroupKFold(4)) == pytest.approx(1 / 3)


def test_not_significantly_worse_in_a_search_uses_the_searchs_ratio():
    # was: as refit= of a search over RepeatedKFold(5, 4) the rule tested with its
    # fallback 1/(20 - 1) for the 20 split columns, not the splitter's 1/(5 - 1)
    # (Bouckaert & Frank 2004): an over-confident test kept alpha=0.1, not 0.3
    X, y = load_diabetes(return_X_y=True)
    cv = RepeatedKFold(n_splits=5, n_repeats=4, random_state=0)
    rule = not_significantly_worse("-alpha")
    search = GridSearchCV(Ridge(), {"alpha": [0.01, 0.03, 0.1, 0.3, 1.0]}, cv=cv,
                          refit=rule).fit(X, y)
    results = search.cv_results_
    right = not_significantly_worse("-alpha", test_train_ratio=0.25)(results)
    assert rule(results) != right  # the fallback alone picks differently
    assert search.best_index_ == right and search.best_params_ == {"alpha": 0.3}
    assert rule.test_train_ratio is None  # the parameter is left as given


def test_compare_of_a_multi_metric_search_defaults_to_its_refit_metric():
    # was: "holds several metrics: pass metric=" though the search names the one it
    # chose its best by; train scores (return_train_score) are never compared
    X, y = load_diabetes(return_X_y=True)
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, cv=3,
                          scoring=["r2", "neg_mean_absolute_error"], refit="r2",
                          return_train_score=True).fit(X, y)
    frame = compare(search)
    assert frame.attrs["metric"] == "r2"
    assert frame.index[0] == search.best_index_
    assert compare(search, "neg_mean_absolute_error", rope=1.0).attrs["metric"] == (
        "neg_mean_absolute_error")
    with pytest.raises(ValueError, match="several metrics"):
        compare(search.cv_results_, test_train_ratio=0.5)
    # a refit rule's metric is the one the search chose by (was: "pass metric=")
    ruled = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, cv=3,
                         scoring=["r2", "neg_mean_absolute_error"],
                         refit=one_standard_error("-alpha", metric="r2")).fit(X, y)
    assert compare(ruled).attrs["metric"] == "r2"


def test_not_significantly_worse_never_assumes_k_fold_silently():
    # was: as refit= of scikit-learn's GridSearchCV (which hands the rule cv_results_
    # only) and of an hpsearch search over a list of splits, the rule silently took the
    # 10 split columns for 10-fold, ratio 1/9; ShuffleSplit(test_size=0.5) has ratio 1,
    # so the over-confident test rejected alpha=0.3 and kept 0.1
    from hpsearch.model_selection.stats import SplitterUnknownWarning

    X, y = load_diabetes(return_X_y=True)
    grid = {"alpha": [0.01, 0.03, 0.1, 0.3, 1.0]}
    cv = ShuffleSplit(10, test_size=0.5, random_state=0)
    results = SkGridSearchCV(Ridge(), grid, cv=cv, refit=False).fit(X, y).cv_results_
    with pytest.warns(SplitterUnknownWarning, match=r"assumes plain K-fold with K = 10 "
                      r"split columns, test_train_ratio = 1/9.*test_train_ratio="
                      r"split_size_ratio\(cv, n_samples=len\(X\)\)"):
        assert not_significantly_worse("-alpha")(results) == 2  # the K-fold assumption
    right = not_significantly_worse("-alpha",
                                    test_train_ratio=split_size_ratio(cv, len(X)))
    assert right.test_train_ratio == 1.0 and right(results) == 3
    # an hpsearch search over the same splits as a list: their mean validation fraction
    search = GridSearchCV(Ridge(), grid, cv=list(cv.split(X)),
                          refit=not_significantly_worse("-alpha"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SplitterUnknownWarning)
        search.fit(X, y)
    assert search.best_index_ == 3


@pytest.mark.parametrize("rule, needs", [
    (one_standard_error("-a"), "the standard error"),
    (not_significantly_worse("-a", test_train_ratio=0.25), "a paired test"),
])
def test_refit_rules_refuse_a_single_split(rule, needs):
    # was: one split gave a standard error of 0 and no test: both rules silently refitted
    # the best (ShuffleSplit(n_splits=1), a holdout) as if they had measured something
    res = _results([{"a": 1}, {"a": 2}], [[0.9], [0.89]])
    with pytest.raises(ValueError, match=rf"{type(rule).__name__} needs cv_results_ with at "
                       rf"least 2 splits \({needs}.*1 split column\(s\) of the metric "
                       r"'score'\. Use a cv with n_splits >= 2"):
        rule(res)


@pytest.mark.parametrize("simplicity, bad", [
    (lambda p: np.nan, "Got nan for the candidate"),
    (lambda p: "small", "Got 'small' for the candidate"),
    ("a", r"needs a number \(or a tuple of numbers\) in 'a'\. Got None"),
])
def test_a_simplicity_that_is_no_number_is_refused(simplicity, bad):
    # was: min() over NaN (or mixed) keys returned whichever candidate came first, and a
    # parameter name whose value is None raised float()'s bare TypeError
    res = _results([{"a": 1}, {"a": None}], [[0.9, 0.91], [0.9, 0.91]])
    with pytest.raises(ValueError, match=bad):
        one_standard_error(simplicity)(res)


@pytest.mark.parametrize("ratio", [np.nan, -1.0, "0.25", np.inf])
def test_not_significantly_worse_checks_its_ratio_when_no_test_runs(ratio):
    # was: checked only inside a test, so a lone candidate passed any value unseen
    res = _results([{"a": 1}], [[0.9, 0.91]])
    with pytest.raises(ValueError, match="The 'test_train_ratio' parameter of "
                       r"not_significantly_worse must be a float in the range \[0, inf\)"):
        not_significantly_worse("a", test_train_ratio=ratio)(res)


@pytest.mark.parametrize("kwargs, message", [
    ({"rope": np.nan}, r"The 'rope' parameter must be a float in the range \[0, inf\)\. "
                       "Got nan instead"),
    ({"rope": -0.01}, "The 'rope' parameter must be a float"),
    ({"alternative": "bigger"}, "The 'alternative' parameter must be a str among"),
    ({"alternative": ["greater"]}, "The 'alternative' parameter must be a str among"),
])
def test_compare_checks_rope_and_alternative_when_no_test_runs(kwargs, message):
    # was: checked only inside a test, so a single candidate (or a single split) gave a
    # frame whose attrs said rope=nan, and any alternative passed
    res = _results([{"a": 1}], [[0.9, 0.91, 0.92]])
    with pytest.raises(ValueError, match=message):
        compare(res, test_train_ratio=0.25, **kwargs)


def test_not_significantly_worse_tests_subsampled_rows_with_their_split_sizes():
    # was: as refit= of a halving search on n_samples with max_resources=60 (of 442 rows,
    # 5-fold: ~354 training rows a fold), the rule tested the rows of the top budget with
    # the full split's 1/4; they were trained on 60 rows and validated on ~88, ratio
    # 88.4/60 (compare() used it already): the over-confident test called alpha=0.1
    # significantly worse than the best, alpha=0.03, and refitted the best
    from hpsearch.model_selection import HalvingSearchCV

    X, y = load_diabetes(return_X_y=True)
    grid = {"alpha": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]}
    search = HalvingSearchCV(Ridge(), grid, n_candidates=7, resource="n_samples",
                             max_resources=60, min_resources=30, factor=2, cv=5,
                             refit=not_significantly_worse("-alpha"), random_state=2)
    search.fit(X, y)
    res = search.cv_results_
    ratio = compare(search, rope=1.0)["test_train_ratio"].loc[search.best_index_]
    assert ratio == pytest.approx((442 - 442 / 1.25) / 60)
    assert res["params"][not_significantly_worse("-alpha", test_train_ratio=0.25)(res)] == {
        "alpha": 0.03}
    assert search.best_params_ == {"alpha": 0.1} and res["n_resources"][search.best_index_] == 60
    assert not_significantly_worse("-alpha", test_train_ratio=ratio)(res) == search.best_index_


@pytest.mark.parametrize("rule", [one_standard_error, not_significantly_worse])
@pytest.mark.parametrize("metric", [None, "accuracy"])
def test_refit_rules_name_their_metric_parameter(rule, metric):
    # was: "cv_results_ holds several metrics ...: pass metric=" / "The 'metric' parameter
    # must be one of ...", naming neither the rule nor, for None, the parameter
    res = _results([{"a": 1}, {"a": 2}], [[0.9, 0.91], [0.8, 0.85]])
    res.update({k.replace("_score", "_r2"): v for k, v in res.items() if "test_score" in k})
    res.update({k.replace("_score", "_neg_mae"): v for k, v in res.items()
                if "test_score" in k})
    for k in [k for k in res if k.endswith("_score")]:
        del res[k]
    with pytest.raises(ValueError, match=rf"The 'metric' parameter of {rule.__name__} must "
                       rf"be one of \['neg_mae', 'r2'\] .* Got {metric!r} instead"):
        rule("a", metric=metric)(res)
    assert rule("a", metric="r2", **({"test_train_ratio": 1.0} if rule is
                                        not_significantly_worse else {}))(res) == 0


def test_a_search_refuses_a_refit_rule_with_one_split_before_fitting():
    # the rule refuses one split (above) only once every candidate is fitted
    from hpsearch.model_selection import Holdout

    class Unfittable(Ridge):
        def fit(self, X, y):
            raise AssertionError("fitted")

    X, y = load_diabetes(return_X_y=True)
    search = GridSearchCV(Unfittable(), {"alpha": [0.1, 1.0]}, cv=Holdout(),
                          refit=one_standard_error("-alpha"))
    with pytest.raises(ValueError, match=r"The 'refit' parameter one_standard_error\(simpli"
                       r"city='-alpha', metric=None\) needs at least 2 splits \(the standard "
                       r"error of the best's mean score\)\. Got a cv with 1 split instead"):
        search.fit(X, y)


def test_compare_refuses_results_where_every_candidate_failed():
    # was: a frame of NaN with every candidate at rank 1 (the refit rules already raised)
    res = _results([{"a": 1}, {"a": 2}], [[np.nan, np.nan], [np.nan, np.inf]])
    with pytest.raises(ValueError, match="compare\\(\\) needs a candidate with a finite test "
                       "score: every split score of the metric 'score' is NaN or infinite"):
        compare(res, test_train_ratio=0.25)


def test_a_search_refitted_by_a_rule_optimizes_the_rules_metric():
    # was: with several metrics the searches took the refit metric from a str refit only:
    # OptunaSearchCV optimized (and racing raced by) the first metric, neg MAE, while the
    # rule chose by r2
    from hpsearch.model_selection import OptunaSearchCV
    from hpsearch.space import Float

    X, y = load_diabetes(return_X_y=True)
    search = OptunaSearchCV(Ridge(), {"alpha": Float(1e-3, 10, log=True)}, n_trials=3, cv=3,
                            random_state=0, scoring=["neg_mean_absolute_error", "r2"],
                            refit=one_standard_error("-alpha", metric="r2")).fit(X, y)
    values = [t.value for t in search.study_.trials]
    np.testing.assert_allclose(values, search.cv_results_["mean_test_r2"])


def test_compare_after_a_fit_over_a_list_of_splits_uses_the_drawn_splits_ratio():
    # was: compare(search) of a search fitted over a list of splits (or a custom splitter)
    # refused ("pass test_train_ratio="), though racing and not_significantly_worse had
    # tested with the splits' mean validation fraction: 17, 17 and 7 test rows of 57,
    # rho = 41/171, ratio rho / (1 - rho) = 41/130
    import pickle

    from hpsearch.model_selection.stats import _refit_rule_of

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:57], y[:57]
    splits = [(np.arange(0, 40), np.arange(40, 57)), (np.arange(17, 57), np.arange(17)),
              (np.arange(50), np.arange(50, 57))]
    search = GridSearchCV(Ridge(), {"alpha": [1e-3, 1.0, 100.0]}, cv=splits).fit(X, y)
    frame = compare(search)
    assert frame.attrs["test_train_ratio"] == pytest.approx(41 / 130)
    rule = _refit_rule_of(not_significantly_worse("alpha"), search, splits)
    assert rule.test_train_ratio == pytest.approx(41 / 130)  # the refit rule's, the same
    res, best, other = search.cv_results_, frame.index[0], frame.index[1]
    d = [res[f"split{k}_test_score"][best] - res[f"split{k}_test_score"][other]
         for k in range(3)]
    assert frame["p_value"].iloc[1] == pytest.approx(
        corrected_ttest(d, 41 / 130, "greater")[1])
    again = pickle.loads(pickle.dumps(search))  # kept with the fitted search
    assert compare(again).attrs["test_train_ratio"] == pytest.approx(41 / 130)
    assert compare(search, test_train_ratio=0.5).attrs["test_train_ratio"] == 0.5


def test_compare_after_a_group_shuffle_split_fit_uses_the_drawn_row_sizes():
    # was: compare() read GroupShuffleSplit's nominal group fraction (0.25 -> 1/3) while
    # racing and the refit rule tested with the rows drawn: 15, 14 and 13 test rows of
    # 57, rho = 42/171, ratio 14/43
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:57], y[:57]
    groups = np.repeat(np.arange(8), [1, 2, 3, 5, 6, 10, 12, 18])
    cv = GroupShuffleSplit(n_splits=3, test_size=0.25, random_state=0)
    assert [len(te) for _, te in cv.split(X, groups=groups)] == [15, 14, 13]
    search = GridSearchCV(Ridge(), {"alpha": [1e-3, 1.0, 100.0]}, cv=cv)
    search.fit(X, y, groups=groups)
    assert compare(search).attrs["test_train_ratio"] == pytest.approx(14 / 43)
    assert split_size_ratio(cv, 57) == pytest.approx(1 / 3)  # the nominal one, unchanged
