"""The model-comparison statistics against numbers computed here, independently.

Every expected value is computed in the test with plain numpy/scipy from the papers'
definitions (Nadeau & Bengio 2003; Corani & Benavoli 2015), never by calling the code
under test.
"""

import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

from hpsearch.model_selection.stats import split_size_ratio


@pytest.mark.parametrize("cv", [
    ShuffleSplit(5, train_size=0.5, random_state=0),
    ShuffleSplit(5, train_size=0.37, random_state=0),
    ShuffleSplit(5, train_size=15, random_state=0),
    StratifiedShuffleSplit(5, train_size=0.6, random_state=0),
])
@pytest.mark.parametrize("n", [23, 100])
def test_ratio_of_a_train_size_only_splitter_is_the_rest_of_the_data(cv, n):
    # sklearn's ShuffleSplit(train_size=f) with test_size=None tests on every row not
    # trained on. Was: the default test_size 0.1 was put against the train part,
    # ShuffleSplit(train_size=0.5) on 100 rows read 10/50 = 0.2 instead of 50/50 = 1,
    # a five times too small correction (p-values far too small)
    X, y = np.zeros((n, 1)), np.arange(n) % 2
    sizes = {(len(tr), len(te)) for tr, te in cv.split(X, y)}
    (n_train, n_test), = sizes
    assert split_size_ratio(cv, n) == pytest.approx(n_test / n_train)
    if isinstance(cv.train_size, float):  # without n: the fraction's (1 - f) / f
        expected = (1 - cv.train_size) / cv.train_size
        assert split_size_ratio(cv) == pytest.approx(expected)
    else:
        assert split_size_ratio(cv) is None


def test_ratio_of_a_train_size_only_group_splitter_is_the_expected_fraction():
    # GroupShuffleSplit's sizes count groups: the ratio is that of the group fraction
    cv = GroupShuffleSplit(3, train_size=0.75)
    assert split_size_ratio(cv, 57) == pytest.approx(0.25 / 0.75)


# ------------------------------------------------------- tests of a worked example
# Five splits, n_test/n_train = 1/4 (5-fold). By hand: mean 0.026, sample variance
# (ddof=1) 0.00053, corrected variance (1/5 + 1/4) * 0.00053 = 0.0002385,
# t = 0.026 / sqrt(0.0002385) = 1.68356..., Student t with 5 - 1 = 4 degrees of freedom.
D5 = np.array([0.02, 0.05, -0.01, 0.03, 0.04])


def _student_cdf(x, df):
    """Student's t CDF from the regularized incomplete beta function (not scipy.stats)."""
    from scipy.special import betainc

    tail = 0.5 * betainc(df / 2, 0.5, df / (df + x * x))
    return 1 - tail if x > 0 else tail


def test_corrected_ttest_of_the_worked_example():
    from hpsearch.model_selection.stats import corrected_ttest, naive_ttest

    mean, var = 0.026, 0.00053
    assert D5.mean() == pytest.approx(mean) and D5.var(ddof=1) == pytest.approx(var)
    t = mean / np.sqrt((1 / 5 + 1 / 4) * var)
    assert t == pytest.approx(1.683562161, abs=1e-9)
    for alternative, p in (("two-sided", 2 * (1 - _student_cdf(abs(t), 4))),
                           ("greater", 1 - _student_cdf(t, 4)),
                           ("less", _student_cdf(t, 4))):
        got_t, got_p = corrected_ttest(D5, 0.25, alternative)
        assert got_t == pytest.approx(t, rel=1e-12)
        assert got_p == pytest.approx(p, rel=1e-9)
    # the naive test divides the variance by k only: t = 0.026 / sqrt(0.00053 / 5)
    t_naive = mean / np.sqrt(var / 5)
    assert naive_ttest(D5, "greater")[1] == pytest.approx(1 - _student_cdf(t_naive, 4))
    # NaN splits are dropped, as if the split were not there
    with_nan = np.insert(D5, 2, np.nan)
    assert corrected_ttest(with_nan, 0.25) == pytest.approx(corrected_ttest(D5, 0.25))


@pytest.mark.parametrize("rope", [0.0, 0.01, 0.03])
def test_bayesian_correlated_ttest_of_the_worked_example(rope):
    # Corani & Benavoli (2015): mu | d ~ St(df = k - 1, loc = mean,
    # scale^2 = (1/k + rho/(1 - rho)) * s^2), rho = n_test / n = 1/5, so
    # rho / (1 - rho) = 1/4 = n_test / n_train
    from hpsearch.model_selection.stats import posterior_probabilities

    rho = 1 / 5
    scale = np.sqrt((1 / 5 + rho / (1 - rho)) * 0.00053)
    worse = _student_cdf((-rope - 0.026) / scale, 4)
    better = 1 - _student_cdf((rope - 0.026) / scale, 4)
    got = posterior_probabilities(D5, 0.25, rope)
    np.testing.assert_allclose(got, (better, 1 - better - worse, worse), rtol=1e-9,
                               atol=1e-12)


def _results(scores, params):
    scores = np.asarray(scores, dtype=float)
    results = {"params": params, "mean_test_score": np.nanmean(scores, axis=1),
               "std_test_score": np.nanstd(scores, axis=1)}
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    return results


# rows 0 and 3 equal (mean 0.83), row 1 0.012 behind, row 2 far behind
S = [[0.80, 0.84, 0.82, 0.86, 0.83],
     [0.79, 0.83, 0.80, 0.85, 0.82],
     [0.70, 0.74, 0.72, 0.75, 0.71],
     [0.80, 0.84, 0.82, 0.86, 0.83]]
P = [{"a": 3}, {"a": 2}, {"a": 1}, {"a": 4}]


def test_compare_of_hand_computed_results():
    from hpsearch.model_selection.stats import compare

    frame = compare(_results(S, P), test_train_ratio=0.25, rope=0.01)
    assert list(frame.index) == [0, 3, 1, 2] and list(frame["rank"]) == [1, 1, 3, 4]
    # row 2: differences 0.10, 0.10, 0.10, 0.11, 0.12: mean 0.106, s^2 = 0.00008,
    # corrected scale sqrt(0.45 * 0.00008) = 0.006, t = 17.666...
    row = frame.loc[2]
    assert row["difference"] == pytest.approx(0.106)
    assert row["t"] == pytest.approx(0.106 / 0.006)
    assert row["p_value"] == pytest.approx(1 - _student_cdf(0.106 / 0.006, 4), rel=1e-6)
    # row 1: differences 0.01, 0.01, 0.02, 0.01, 0.01: mean 0.012, s^2 = 0.00002,
    # scale sqrt(0.45 * 0.00002) = 0.003, t = 4
    row = frame.loc[1]
    assert row["t"] == pytest.approx(4.0)
    assert row["p_value"] == pytest.approx(1 - _student_cdf(4.0, 4), rel=1e-9)
    assert row["p_best_better"] == pytest.approx(
        1 - _student_cdf((0.01 - 0.012) / 0.003, 4), rel=1e-9)
    # row 3 is row 0's twin: every difference 0, no variance: t = 0, one-sided p = 1/2,
    # the posterior a point mass at 0, inside the rope; nothing is NaN
    row = frame.loc[3]
    assert (row["t"], row["p_value"]) == (0.0, 0.5)
    assert (row["p_best_better"], row["p_equivalent"], row["p_candidate_better"]) == (
        0.0, 1.0, 0.0)


def test_refit_rules_of_hand_computed_results():
    from hpsearch.model_selection.stats import not_significantly_worse, one_standard_error

    # the best's standard error: std (ddof=1) of 0.80, 0.84, 0.82, 0.86, 0.83 is
    # sqrt(0.002 / 4) = 0.02236, / sqrt(5) = 0.01: the bar is 0.83 - 0.01 = 0.82, so
    # row 1 (0.818) is out and the simplest of rows 0 and 3 (a = 3, 4) is row 0
    assert one_standard_error("a")(_results(S, P)) == 0
    assert one_standard_error("-a")(_results(S, P)) == 3
    # with row 1 at 0.822 (every split + 0.004) it is within one standard error
    lifted = [S[0], [s + 0.004 for s in S[1]], S[2], S[3]]
    assert one_standard_error("a")(_results(lifted, P)) == 1
    # row 1 is significantly worse at 0.05 (one-sided p = 0.0081) but not at 0.005
    assert not_significantly_worse("a", alpha=0.05, test_train_ratio=0.25)(
        _results(S, P)) == 0
    assert not_significantly_worse("a", alpha=0.005, test_train_ratio=0.25)(
        _results(S, P)) == 1


# ------------------------------------------------------------------ properties
_DIFFS = st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=20)


@given(diffs=_DIFFS, ratio=st.floats(0, 3))
@example(diffs=[0.0, 5e-324], ratio=0.0)
def test_p_value_sides_and_the_flat_prior_posterior_agree(diffs, ratio):
    # one-sided p-values are complements, the two-sided one twice the smaller; with
    # rope = 0 the posterior P(mu > 0) is the "less" p-value (the Bayesian correlated
    # t-test under its flat prior is the corrected t-test: Corani & Benavoli 2015).
    # Not for a posterior of no width, a point mass: every difference equal, or a variance
    # that underflows to 0 ([0, 5e-324], found by hypothesis: its mean is 0 too, t = 0
    # gives p = 0.5 on each side while the point mass at 0 is all "equivalent")
    from hpsearch.model_selection.stats import corrected_ttest, posterior_probabilities

    d = np.asarray(diffs)
    if np.all(d == d[0]) or d.var(ddof=1) == 0:
        return
    greater = corrected_ttest(d, ratio, "greater")[1]
    less = corrected_ttest(d, ratio, "less")[1]
    two = corrected_ttest(d, ratio, "two-sided")[1]
    assert greater + less == pytest.approx(1.0)
    assert two == pytest.approx(min(1.0, 2 * min(greater, less)))
    better, equivalent, worse = posterior_probabilities(d, ratio, 0.0)
    assert better == pytest.approx(less, abs=1e-12)
    assert worse == pytest.approx(greater, abs=1e-12)
    assert equivalent == pytest.approx(0.0, abs=1e-12)


@given(diffs=_DIFFS, ratio=st.floats(0, 3), ropes=st.lists(st.floats(0, 2), min_size=2,
                                                           max_size=2))
def test_a_wider_rope_takes_probability_from_both_sides(diffs, ratio, ropes):
    from hpsearch.model_selection.stats import posterior_probabilities

    narrow, wide = sorted(ropes)
    b1, e1, w1 = posterior_probabilities(diffs, ratio, narrow)
    b2, e2, w2 = posterior_probabilities(diffs, ratio, wide)
    assert b1 + e1 + w1 == pytest.approx(1.0) and b2 + e2 + w2 == pytest.approx(1.0)
    assert b2 <= b1 + 1e-12 and w2 <= w1 + 1e-12 and e2 >= e1 - 1e-12


@pytest.mark.parametrize("lengths", [(3, 3, 2), (3, 3, 3, 4), (2, 2)])
def test_split_columns_of_another_length_than_params_are_refused(lengths):
    # was: numpy's "setting an array element with a sequence... inhomogeneous shape"
    # (ragged columns), a silently dropped score (columns longer than params) or an
    # IndexError (shorter)
    from hpsearch.model_selection.stats import (
        compare,
        not_significantly_worse,
        one_standard_error,
    )

    results = {"params": [{"a": 1}, {"a": 2}, {"a": 3}]}
    for k, n in enumerate(lengths):
        results[f"split{k}_test_score"] = np.linspace(0.9, 0.6, n) + 0.01 * k
    bad = next(k for k, n in enumerate(lengths) if n != 3)
    message = (f"'params' has 3 entries but 'split{bad}_test_score' has shape "
               f"({lengths[bad]},)")
    for call in (lambda: compare(results, test_train_ratio=0.25),
                 lambda: one_standard_error("a")(results),
                 lambda: not_significantly_worse("a", test_train_ratio=0.25)(results)):
        with pytest.raises(ValueError, match=re.escape(message)):
            call()
