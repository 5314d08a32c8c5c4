"""A demanding user's inputs to the model-comparison statistics, checked by hand."""

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import ShuffleSplit, TimeSeriesSplit

from hpsearch.model_selection import HalvingGridSearchCV, compare, not_significantly_worse
from hpsearch.model_selection.stats import _refit_rule_of


def _mean_fraction_ratio(fractions):
    rho = np.mean(fractions)
    return rho / (1 - rho)


def _corrected_p(diff, ratio):
    k = diff.size
    t = diff.mean() / np.sqrt((1 / k + ratio) * diff.var(ddof=1))
    return sps.t.sf(t, k - 1)


@pytest.mark.parametrize("cv", [
    ShuffleSplit(4, test_size=0.2, train_size=0.5, random_state=0),
    TimeSeriesSplit(4),
], ids=["shuffle-split-with-train-size", "time-series-split"])
def test_a_subsampled_row_is_tested_with_the_sizes_it_was_fitted_on(cv):
    # was (diabetes, 442 rows): the subsampled rows' ratio took the training part as
    # 442 / (1 + ratio), the rest as the validation part, true of a partition only;
    # ShuffleSplit(test_size=0.2, train_size=0.5) validates on 89 rows and trains on 221
    # (the other 132 unused): a row of budget 49 is 89 / 49 = 1.816, compare() said
    # 2.590; TimeSeriesSplit(4) validates on 88 and trains on 90 ... 354: 88 / 49 = 1.796
    # at budget 49, compare() said 2.870 (p-values too large, a worse candidate kept)
    X, y = load_diabetes(return_X_y=True)
    search = HalvingGridSearchCV(Ridge(), {"alpha": list(np.logspace(-3, 3, 9))}, cv=cv,
                             resource="n_samples", factor=3, random_state=0).fit(X, y)
    frame = compare(search, top=50)
    sizes = [(len(train), len(test)) for train, test in cv.split(X)]
    n_test = np.mean([test for _, test in sizes])
    results, best = search.cv_results_, frame["params"].iloc[0]
    rule = _refit_rule_of(not_significantly_worse("-alpha"), search, list(cv.split(X)),
                          results)
    checked = 0
    for i, row in frame.iloc[1:].iterrows():
        b = row["budget"]
        if b >= max(train for train, _ in sizes):
            assert row["test_train_ratio"] == frame.attrs["test_train_ratio"]
            continue
        ratio = _mean_fraction_ratio([n_test / (n_test + min(b, train))
                                      for train, _ in sizes])
        assert row["test_train_ratio"] == pytest.approx(ratio, rel=1e-9)
        ref = next(j for j, params in enumerate(results["params"])
                   if params == best and results["n_resources"][j] == b)
        diff = np.array([results[f"split{k}_test_score"][ref]
                         - results[f"split{k}_test_score"][i] for k in range(len(sizes))])
        assert row["p_value"] == pytest.approx(_corrected_p(diff, ratio), rel=1e-9)
        # the refit rule, applied by the search, tests the row with the same ratio
        assert rule._row_ratios(i) == row["test_train_ratio"]
        checked += 1
    assert checked >= 3
    if isinstance(cv, ShuffleSplit):  # every split 89 against min(b, 221)
        for b in set(frame["budget"]) - {max(frame["budget"])}:
            assert frame.loc[frame["budget"] == b, "test_train_ratio"].iloc[0] == (
                pytest.approx(89 / min(b, 221)))


class _FailsOnEvenTrainSizes(Ridge):
    """Ridge whose fit fails, at alpha=0.01, on a train part with an even row count."""

    def fit(self, X, y, sample_weight=None):
        if self.alpha == 0.01 and X.shape[0] % 2 == 0:
            raise ValueError("even")
        return super().fit(X, y, sample_weight)


def test_compare_lists_a_failed_candidate_after_the_raced_ones_as_the_search_ranks():
    # was (diabetes, KFold(7), racing): alpha=0.01 failed on 1 split of 7 (mean NaN,
    # rank_test_score 7, after the 4 raced candidates, as racing documents), but
    # compare() listed it third, by the mean of its 6 other splits, ahead of every raced
    # one: the search's ranks of compare's rows were [1, 2, 7, 3, 4, 5, 6]
    from sklearn.model_selection import KFold

    from hpsearch.model_selection import GridSearchCV

    X, y = load_diabetes(return_X_y=True)
    search = GridSearchCV(_FailsOnEvenTrainSizes(),
                          {"alpha": [1e-3, 1e-2, 0.1, 1, 10, 100, 1000]},
                          cv=KFold(7, shuffle=True, random_state=0), racing=True,
                          error_score=np.nan).fit(X, y)
    results = search.cv_results_
    assert results["raced"].sum() >= 2 and np.isnan(results["mean_test_score"][1])
    frame = compare(search, top=50)
    ranks = [int(results["rank_test_score"][i]) for i in frame.index]
    assert ranks == sorted(ranks) and frame.index[-1] == 1
    assert list(frame["rank"]) == ranks


def _results(scores, params, raced):
    scores = np.asarray(scores, dtype=float)
    results = {"params": params, "raced": np.asarray(raced)}
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    return results


def test_without_a_complete_candidate_the_best_is_raced_not_failed():
    # no candidate has a score on every split: the search's best is the best raced one
    # (its ranks: raced before failed); compare() and the refit rules took the failed
    # row 0 (mean 0.9 over its 4 finished splits)
    from hpsearch.model_selection import one_standard_error

    nan = np.nan
    results = _results([[0.90, 0.90, 0.91, 0.89, nan],      # failed on split 4
                        [0.80, 0.82, 0.81, nan, nan],       # raced
                        [0.70, 0.72, 0.71, nan, nan]],      # raced
                       [{"a": 1}, {"a": 2}, {"a": 3}], [False, True, True])
    assert compare(results, test_train_ratio=0.25).index[0] == 1
    assert one_standard_error("a")(results) == 1
    assert not_significantly_worse("a", test_train_ratio=0.25)(results) == 1
