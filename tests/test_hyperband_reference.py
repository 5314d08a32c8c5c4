"""HyperbandSearchCV against Li et al. (JMLR 2018), Algorithm 1, transcribed directly.

A deterministic score with crossing learning curves (fast starters plateau lower) makes
every survivor choice depend on the budget; the search's rows of each bracket and round
must be the candidates the paper's loop keeps: ``n_i = floor(n eta^-i)`` configurations
at ``r_i = r eta^i``, keeping the best ``floor(n_i / eta)``.
"""

import math

import numpy as np
import pytest
from sklearn.model_selection import KFold

from hpsearch import HyperbandSearchCV
from test_halving_schedule import _Budgeted  # the instant budgeted classifier


def _curve(c, budget):
    return float(np.sin(7 * c) * 0.1 + (1 - np.exp(-budget * c)) * c)


class _Curve(_Budgeted):
    """Instant classifier scoring ``_curve(c, budget)`` on every split."""

    def score(self, X, y):
        return _curve(self.c, self.budget)


@pytest.mark.parametrize("max_resources, min_resources, factor",
                         [(27, 1, 3), (100, 3, 3), (50, 2, 2)])
def test_every_bracket_keeps_what_li_et_al_keep(max_resources, min_resources, factor):
    X, y = np.zeros((20, 1)), np.arange(20) % 2
    space = {"c": [float(c) for c in np.linspace(0.01, 1, 300)]}
    search = HyperbandSearchCV(
        _Curve(), space, resource="budget", min_resources=min_resources,
        max_resources=max_resources, factor=factor, cv=KFold(2), random_state=0,
    ).fit(X, y)
    res = search.cv_results_
    s_max = math.floor(math.log(max_resources / min_resources, factor) + 1e-9)
    assert [b["s"] for b in search.brackets_] == list(range(s_max, -1, -1))
    for bracket in search.brackets_:
        s = bracket["s"]
        rows = np.flatnonzero(res["bracket"] == s)
        kept = [res["params"][i]["c"] for i in rows if res["iter"][i] == 0]
        n = math.ceil((s_max + 1) / (s + 1) * factor**s - 1e-9)
        assert len(kept) == n
        for i, budget in enumerate(bracket["n_resources"]):
            got = sorted(res["params"][j]["c"] for j in rows if res["iter"][j] == i)
            assert got == sorted(kept)
            assert (res["n_resources"][rows][res["iter"][rows] == i] == budget).all()
            keep = math.floor(n * factor ** -(i + 1) + 1e-9)
            kept = sorted(kept, key=lambda c: -_curve(c, budget))[:keep]
        assert bracket["n_resources"][-1] == max_resources
    top = res["n_resources"] == max_resources
    best = max(np.flatnonzero(top), key=lambda i: res["mean_test_score"][i])
    assert search.best_index_ == best
