"""Failing candidates in every search: what is selected, what is fitted, what is said.

scikit-learn's rules (``_warn_or_raise_about_fit_failures``, ``_select_best_index``)
where it has one; otherwise a failed candidate is never the best one without a word.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import Ridge

from hpsearch.model_selection.strategies.asha import ASHASearchCV
from hpsearch.model_selection.strategies.halving import (
    HalvingGridSearchCV,
    HalvingSearchCV,
    HyperbandSearchCV,
)


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True)
    return X[:120], y[:120]


class BigFails(Ridge):
    """Fails on more than 50 training rows: a budget (``n_samples``) too large for it."""

    rows = []  # the training rows of every fit (n_jobs=1: fits run in this process)

    def fit(self, X, y, sample_weight=None):
        BigFails.rows.append(len(X))
        if len(X) > 50:
            raise RuntimeError("too many rows")
        return super().fit(X, y)


ALPHAS = {"alpha": [0.01, 0.1, 1.0, 10.0]}

HALVINGS = {
    "HalvingGridSearchCV": lambda **kw: HalvingGridSearchCV(BigFails(), ALPHAS, **kw),
    "HalvingSearchCV": lambda **kw: HalvingSearchCV(
        BigFails(), ALPHAS, n_candidates="grid", resource="n_samples", **kw),
}


@pytest.mark.parametrize("make", HALVINGS.values(), ids=HALVINGS)
def test_halving_raises_as_sklearn_when_every_fit_of_a_round_fails(make, data):
    # sklearn's halving raises "All the N fits failed" from the round whose fits all
    # failed. hpsearch went on: the next round continued arbitrary survivors of tied NaN
    # scores (fitting failed candidates again), and with the last round failed
    # best_index_ was a failed row (rank 1, best_score_ NaN) and refit=False said nothing
    X, y = data
    search = make(factor=2, cv=2, min_resources=30, refit=False, random_state=0)
    BigFails.rows.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="(?s)All the 4 fits failed.*too many rows"):
            search.fit(X, y)
    # 8 fits in round 0 (30 rows), 4 in round 1 (60 rows, all failed), no round 2; the
    # failed round's trials closed FAIL (none left RUNNING)
    assert BigFails.rows == [30] * 8 + [60] * 4
    states = sorted(t.state.name for t in search.study_.trials)
    assert states == ["FAIL", "FAIL", "PRUNED", "PRUNED"]


def test_hyperband_never_selects_a_failed_row_and_stops_a_failed_bracket(data):
    # Hyperband's rows at the largest budget all failed: best_index_ was one of them
    # (rank 1, best_score_ NaN) though smaller budgets scored; and a bracket whose round
    # failed went on fitting failed candidates at larger budgets
    X, y = data
    search = HyperbandSearchCV(BigFails(), ALPHAS, resource="n_samples", factor=2, cv=2,
                               refit=False, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    res = search.cv_results_
    best = search.best_index_
    assert np.isfinite(search.best_score_)
    assert res["rank_test_score"][best] == 1
    scored = np.isfinite(res["mean_test_score"])
    budgets = np.asarray(res["n_resources"])
    assert budgets[best] == budgets[scored].max() == 30
    assert search.best_score_ == np.max(res["mean_test_score"][budgets == 30])
    # every bracket stops at its first failed round (60 rows): no round at 120 but the
    # one-round bracket starting there
    brackets = np.asarray(res["bracket"])
    assert set(brackets[budgets == 120]) == {0}
    messages = [str(w.message) for w in caught if w.category is FitFailedWarning]
    assert any("the bracket stops there" in m for m in messages)
    assert any("best_index_ is the best row with n_resources=30" in m for m in messages)


def test_asha_says_when_its_best_row_is_below_the_highest_rung_run(data):
    # ASHA already picked the highest rung with a score; it did so without a word
    X, y = data
    search = ASHASearchCV(BigFails(), ALPHAS, n_trials=8, resource="n_samples",
                          min_resources=30, max_resources=120, factor=2, cv=2,
                          refit=False, random_state=0, n_jobs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    res = search.cv_results_
    assert np.isnan(res["mean_test_score"][res["iter"] == res["iter"].max()]).all()
    assert res["iter"][search.best_index_] == 0 and np.isfinite(search.best_score_)
    messages = [str(w.message) for w in caught if w.category is FitFailedWarning]
    assert any("best_index_ is the best row with iter=0" in m for m in messages)
