"""Successive-halving and Hyperband budgets: the pure schedule functions."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingRandomSearchCV, KFold

from hpsearch.model_selection.strategies._halving_schedule import (
    floor_log,
    halving_schedule,
    hyperband_brackets,
    resolve_min_resources,
    resolve_n_candidates,
    smallest_resources,
)


class _Budgeted(ClassifierMixin, BaseEstimator):
    """Instant classifier with an integer ``budget`` parameter and a tunable ``c``."""

    def __init__(self, budget=1, c=0.0):
        self.budget = budget
        self.c = c

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y):
        return self.c


@pytest.mark.parametrize(
    "n_candidates, min_resources, max_resources, factor, aggressive",
    [
        (20, "smallest", 30, 3, False),
        (20, "exhaust", 30, 3, False),
        (10, 2, 50, 2, False),
        (50, "smallest", 10, 3, True),
        (50, 1, 10, 3, False),
        (7, "smallest", 100, 4, False),
        ("exhaust", 2, 40, 3, False),
        (30, 1, 1000, 2.5, False),
    ],
)
def test_schedule_matches_sklearn(n_candidates, min_resources, max_resources, factor, aggressive):
    X, y = np.zeros((20, 1)), np.arange(20) % 2
    search = HalvingRandomSearchCV(
        _Budgeted(),
        {"c": list(np.linspace(0, 1, 200))},
        n_candidates=n_candidates,
        resource="budget",
        min_resources=min_resources,
        max_resources=max_resources,
        factor=factor,
        aggressive_elimination=aggressive,
        cv=KFold(2),
        random_state=0,
    ).fit(X, y)
    smallest = smallest_resources("budget", n_splits=2)
    n0 = resolve_n_candidates(
        n_candidates, min_resources=smallest if min_resources == "smallest" else min_resources,
        max_resources=max_resources,
    )
    r0 = resolve_min_resources(
        min_resources, smallest=smallest, n_candidates=n0,
        max_resources=max_resources, factor=factor,
    )
    schedule = halving_schedule(
        n0, min_resources=r0, max_resources=max_resources, factor=factor,
        aggressive_elimination=aggressive,
    )
    assert r0 == search.min_resources_
    assert list(schedule.n_candidates) == search.n_candidates_
    assert list(schedule.n_resources) == search.n_resources_
    assert schedule.n_required_iterations == search.n_required_iterations_
    assert schedule.n_possible_iterations == search.n_possible_iterations_
    assert schedule.n_iterations == search.n_iterations_


def test_schedule_values_by_hand():
    s = halving_schedule(27, min_resources=1, max_resources=27, factor=3)
    assert s.n_candidates == (27, 9, 3, 1)
    assert s.n_resources == (1, 3, 9, 27)
    assert (s.n_required_iterations, s.n_possible_iterations, s.n_iterations) == (4, 4, 4)
    # more candidates than rounds can halve: aggressive elimination repeats the first budget
    s = halving_schedule(100, min_resources=1, max_resources=27, factor=3,
                         aggressive_elimination=True)
    assert s.n_candidates == (100, 34, 12, 4, 2)
    assert s.n_resources == (1, 1, 3, 9, 27)
    # without it, the run stops at max_resources with several candidates left
    s = halving_schedule(100, min_resources=1, max_resources=27, factor=3)
    assert s.n_candidates == (100, 34, 12, 4)
    assert s.n_resources == (1, 3, 9, 27)


def test_floor_log_is_exact_at_powers():
    # float logs get these wrong: log(243, 3) = 4.999..., log(1000, 10) = 2.999...
    assert floor_log(243, 3) == 5
    assert floor_log(1000, 10) == 3
    assert floor_log(242, 3) == 4
    assert floor_log(1, 3) == 0
    assert floor_log(2.5**4, 2.5) == 4
    s = halving_schedule(243, min_resources=1, max_resources=243, factor=3)
    assert s.n_candidates == (243, 81, 27, 9, 3, 1)


def test_smallest_resources():
    assert smallest_resources("n_samples", n_splits=5, n_classes=10) == 100
    assert smallest_resources("n_samples", n_splits=5) == 10
    assert smallest_resources("epochs", n_splits=5, n_classes=10) == 1
    assert smallest_resources("n_estimators", n_splits=3) == 1


def test_resolve_exhaust():
    assert resolve_n_candidates("exhaust", min_resources=3, max_resources=81) == 27
    assert resolve_n_candidates(5, min_resources=3, max_resources=81) == 5
    # 30 candidates need 1 + floor(log3 30) = 4 rounds: start at 81 // 27 = 3
    assert resolve_min_resources("exhaust", smallest=1, n_candidates=30,
                                 max_resources=81, factor=3) == 3
    assert resolve_min_resources("exhaust", smallest=5, n_candidates=30,
                                 max_resources=81, factor=3) == 5
    assert resolve_min_resources(7, smallest=1, n_candidates=30,
                                 max_resources=81, factor=3) == 7
    with pytest.raises(ValueError, match="n_candidates and min_resources cannot be both set"):
        resolve_n_candidates("exhaust", min_resources="exhaust", max_resources=81)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_candidates=0, min_resources=1, max_resources=9),
         "n_candidates must be at least 1, got n_candidates=0"),
        (dict(n_candidates=5, min_resources=0, max_resources=9),
         "min_resources_=0: it must be at least 1"),
        (dict(n_candidates=5, min_resources=10, max_resources=9),
         "min_resources_=10 is greater than max_resources_=9"),
        (dict(n_candidates=5, min_resources=1, max_resources=9, factor=1),
         "factor must be greater than 1, got factor=1"),
    ],
)
def test_schedule_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        halving_schedule(**kwargs)


def test_hyperband_brackets_li_et_al_table():
    # Li et al. (2018), Table 1: R = 81, eta = 3
    brackets = hyperband_brackets(81, 1, 3)
    assert [b.s for b in brackets] == [4, 3, 2, 1, 0]
    assert [b.n_candidates for b in brackets] == [
        (81, 27, 9, 3, 1), (34, 11, 3, 1), (15, 5, 1), (8, 2), (5,)
    ]
    assert [b.n_resources for b in brackets] == [
        (1, 3, 9, 27, 81), (3, 9, 27, 81), (9, 27, 81), (27, 81), (81,)
    ]


def test_hyperband_brackets_properties():
    for R, r, eta in [(27, 1, 3), (100, 1, 3), (64, 2, 2), (50, 5, 3), (7, 7, 3)]:
        brackets = hyperband_brackets(R, r, eta)
        assert len(brackets) == floor_log(R / r, eta) + 1
        for b in brackets:
            assert b.n_resources[-1] == R
            assert b.n_resources[0] >= r
            assert list(b.n_resources) == sorted(b.n_resources)
            assert all(n >= 1 for n in b.n_candidates)
            assert list(b.n_candidates) == sorted(b.n_candidates, reverse=True)


@pytest.mark.parametrize(
    "args, message",
    [
        ((9, 0, 3), "min_resources must be at least 1, got min_resources=0"),
        ((3, 9, 3), "max_resources=3 must be at least min_resources=9"),
        ((9, 1, 1), "factor must be greater than 1, got factor=1"),
    ],
)
def test_hyperband_bad_inputs(args, message):
    with pytest.raises(ValueError, match=message):
        hyperband_brackets(*args)


def test_a_budget_the_rounding_repeats_is_kept_once():
    """factor=1.5 from 1 to 9: bracket s_max had budgets 1, 1, 2, 4, 6, 9 (a second
    round at 1 epoch cannot continue training); halving's 1, 1, 2, 3, 5, 7. The first
    round of a budget keeps the candidates of the next budget's round."""
    top = hyperband_brackets(9, 1, 1.5)[0]
    assert (top.s, top.n_candidates, top.n_resources) == (5, (8, 3, 2, 1, 1),
                                                          (1, 2, 4, 6, 9))
    for R, r, eta in [(9, 1, 1.5), (20, 1, 1.2), (100, 3, 1.1), (50, 5, 1.3)]:
        for b in hyperband_brackets(R, r, eta):
            assert list(b.n_resources) == sorted(set(b.n_resources))
            assert b.n_resources[-1] == R and b.n_resources[0] >= r
            assert list(b.n_candidates) == sorted(b.n_candidates, reverse=True)
    s = halving_schedule(12, min_resources=1, max_resources=9, factor=1.5,
                         distinct_budgets=True)
    assert (s.n_candidates, s.n_resources) == ((12, 6, 4, 3, 2), (1, 2, 3, 5, 7))
    s = halving_schedule(100, min_resources=1, max_resources=27, factor=3,
                         aggressive_elimination=True, distinct_budgets=True)
    assert (s.n_candidates, s.n_resources) == ((100, 12, 4, 2), (1, 3, 9, 27))
    # scikit-learn's schedule (repeats included) without distinct_budgets
    s = halving_schedule(12, min_resources=1, max_resources=9, factor=1.5)
    assert s.n_resources == (1, 1, 2, 3, 5, 7)


@pytest.mark.parametrize("eta", [2, 2.5, 3, 4, 5])
def test_schedules_whose_budgets_never_repeat_are_unchanged(eta):
    """With factor >= 2 no budget repeats: every bracket keeps its s + 1 rounds of Li et
    al.'s formula, and halving's schedule is scikit-learn's with or without
    distinct_budgets."""
    from math import ceil, floor

    for R in (1, 2, 5, 9, 10, 27, 30, 81, 100, 243, 1000):
        for r in (1, 2, 3, 5):
            if r > R:
                continue
            brackets = hyperband_brackets(R, r, eta)
            s_max = floor_log(R / r, eta)
            for b in brackets:
                n = ceil((s_max + 1) / (b.s + 1) * eta**b.s * (1 - 1e-9))
                assert b.n_resources == tuple(
                    max(r, floor(R * eta ** (i - b.s) * (1 + 1e-9)))
                    for i in range(b.s + 1))
                assert b.n_candidates == tuple(
                    max(1, floor(n * eta**-i * (1 + 1e-9))) for i in range(b.s + 1))
            for n0 in (1, 5, 27, 100):
                for aggressive in (False, True):
                    kwargs = dict(min_resources=r, max_resources=R, factor=eta,
                                  aggressive_elimination=aggressive)
                    plain = halving_schedule(n0, **kwargs)
                    if aggressive and len(set(plain.n_resources)) < plain.n_iterations:
                        continue  # aggressive elimination repeats the first budget
                    assert halving_schedule(n0, distinct_budgets=True, **kwargs) == plain
