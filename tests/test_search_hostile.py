"""Grid, random, Optuna, halving, Hyperband and racing searches under hostile use:
timeouts that cut a round, small factors, bad inputs (regressions of bugs a hostile
review of ASHASearchCV found in the other searches too)."""

import time

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from hpsearch import HalvingSearchCV, HyperbandSearchCV

SPACE = {"alpha": [0.01, 0.1, 1.0, 10.0]}


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True)
    return X[:150], y[:150]


class _SlowAbove(Ridge):
    """Ridge whose fits on more than 20 rows take ``delay`` seconds (the later rounds)."""

    def __init__(self, alpha=1.0, delay=1.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(0.0 if len(X) < 20 else self.delay)
        return super().fit(X, y)


_BUDGETED = {
    "halving": (HalvingSearchCV, dict(n_candidates=4)),
    "hyperband": (HyperbandSearchCV, {}),
}


@pytest.mark.parametrize("name", list(_BUDGETED))
def test_timeout_cutting_the_last_round_never_picks_a_not_run_row(data, name):
    """The timeout cuts the second round (fits on more than 20 rows): best_index_ was a
    'not run' row of that round (best_score_ NaN, refitted). It is now the best row of
    the highest round with a result, ranked 1."""
    cls, kwargs = _BUDGETED[name]
    X, y = data
    search = cls(_SlowAbove(), SPACE, resource="n_samples", min_resources=16,
                 max_resources=150, cv=3, random_state=0, n_jobs=1, timeout=1.5,
                 **kwargs).fit(X, y)
    res = search.cv_results_
    cut = np.array(["not run: the search's timeout" in (e or "") for e in res["error"]])
    assert cut.any() and not cut.all()
    assert not cut[search.best_index_]
    assert np.isfinite(search.best_score_)
    ran = ~cut
    top = res["n_resources"][ran].max()
    assert res["n_resources"][search.best_index_] == top
    assert search.best_score_ == np.nanmax(res["mean_test_score"][ran
                                                                  & (res["n_resources"] == top)])
    assert res["rank_test_score"][search.best_index_] == 1
    assert search.best_params_ == res["params"][search.best_index_]
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
