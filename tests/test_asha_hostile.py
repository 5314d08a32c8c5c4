"""ASHASearchCV under hostile use: timeouts in the middle of promotions, bad inputs,
failing fits (regressions of bugs a hostile review found)."""

import time

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from hpsearch import ASHASearchCV

SPACE = {"alpha": [0.01, 0.1, 1.0, 10.0]}


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True)
    return X[:150], y[:150]


class _SlowAbove(Ridge):
    """Ridge whose fits on more than 20 rows take ``delay`` seconds (the promotions)."""

    def __init__(self, alpha=1.0, delay=1.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(0.0 if len(X) < 20 else self.delay)
        return super().fit(X, y)


def test_timeout_during_a_promotion_never_picks_the_cut_row(data):
    """The timeout cuts the only job of rung 1: the best row is the best one that ran
    (rung 0), not the cut row with its NaN score."""
    X, y = data
    search = ASHASearchCV(_SlowAbove(), SPACE, n_trials=3, resource="n_samples",
                          min_resources=16, max_resources=150, cv=3, random_state=0,
                          n_jobs=1, timeout=1.5).fit(X, y)
    res = search.cv_results_
    assert "not run" in set(res["state"])  # the rung-1 job was cut
    assert res["state"][search.best_index_] != "not run"
    assert np.isfinite(search.best_score_)
    ran = res["state"] != "not run"
    assert search.best_score_ == np.nanmax(res["mean_test_score"][ran])
    assert res["rank_test_score"][search.best_index_] == 1
