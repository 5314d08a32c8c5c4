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
