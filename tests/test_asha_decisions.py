"""How ASHASearchCV decides its jobs: the per-rung lags, reproducibility, the live mode."""

import heapq
import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

from hpsearch import ASHASearchCV, MLPClassifier
from hpsearch.model_selection.space import Float
from hpsearch.model_selection.strategies._asha_schedule import ASHASchedule, decision_lags
from hpsearch.model_selection.strategies.asha import _WAIT, _Decisions

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BUDGETS = (1, 3, 9, 27, 81)


def test_decision_lags_by_hand():
    # mean work of a job: (1 + 2/3 + 6/9 + 18/27 + 54/81) / (1 + 1/3 + 1/9 + 1/27 + 1/81)
    mean = (1 + 2 / 3 + 6 / 9 + 18 / 27 + 54 / 81) / (1 + 1 / 3 + 1 / 9 + 1 / 27 + 1 / 81)
    steps = (1, 2, 6, 18, 54)
    expected = [max(4, math.ceil(2 * (4 / 3) * d / mean)) for d in steps]
    assert expected == [4, 4, 7, 20, 59]
    assert decision_lags(BUDGETS, 3, 4, 3) == expected


@pytest.mark.parametrize("n_workers", [2, 3, 16, 64])
@pytest.mark.parametrize("n_splits", [1, 3, 10])
def test_decision_lags_never_below_the_workers_and_grow_with_the_work(n_workers, n_splits):
    lags = decision_lags(BUDGETS, 3, n_workers, n_splits)
    assert all(lag >= n_workers for lag in lags)
    assert lags == sorted(lags)  # the steps 1, 2, 6, 18, 54 grow


def test_one_worker_is_sequential_asha():
    assert decision_lags(BUDGETS, 3, 1, 5) == [1] * 5


def _simulate(lags, n_workers, seed, *, live=False, n_jobs_max=120):
    """Run ``_Decisions`` on ``n_workers`` simulated workers, each job taking a random
    time (the seed) times its epochs; returns the jobs in decision order."""
    rng = np.random.default_rng(seed)
    schedule = ASHASchedule(1, 81, 3)
    decisions = _Decisions(schedule, lags, lambda job: True, live=live)
    now, free, running, jobs = 0.0, n_workers, [], []
    while len(jobs) < n_jobs_max:
        while free:
            job = decisions.next()
            if job is _WAIT or job is None:
                break
            start = 0 if job.rung == 0 else schedule.budgets[job.rung - 1]
            length = float(rng.uniform(0.2, 1.0)) * (job.budget - start)
            heapq.heappush(running, (now + length, len(jobs)))
            jobs.append((job.action, job.candidate, job.rung))
            free -= 1
        end, m = heapq.heappop(running)
        now, free = end, free + 1
        decisions.report(m, float(np.sin(7.0 * jobs[m][1])))  # a score per candidate
    return jobs


@pytest.mark.parametrize("n_workers", [2, 8])
def test_decisions_depend_on_the_job_order_alone(n_workers):
    lags = decision_lags(BUDGETS, 3, n_workers, 1)
    runs = [_simulate(lags, n_workers, seed) for seed in (0, 1, 2)]
    assert runs[0] == runs[1] == runs[2]
    assert any(action == "promote" for action, _, _ in runs[0])


def test_live_decisions_follow_the_arrival_order():
    runs = [_simulate(8, 8, seed, live=True) for seed in (0, 1, 2)]
    assert not runs[0] == runs[1] == runs[2]


def test_a_single_lag_is_the_plain_rule():
    """``lag=W`` for every rung: job m is decided from the results of jobs 0..m-W, so
    the same lag given per rung decides the same jobs."""
    a = _simulate(4, 4, 0)
    b = _simulate([4] * len(BUDGETS), 4, 1)
    assert a == b


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:240], y[:240]


def _search(**kw):
    space = {"learning_rate_init": Float(1e-3, 1e-1, log=True),
             "alpha": Float(1e-6, 1e-2, log=True)}
    kw = {"n_trials": 12, "min_resources": 1, "max_resources": 9, "cv": 2,
          "random_state": 0, "refit": False, **kw}
    return ASHASearchCV(MLPClassifier((8,), max_iter=9, batch_size=32, random_state=0),
                        space, **kw)


def test_live_search_runs_to_the_full_budget(digits):
    X, y = digits
    search = _search(n_jobs=2, reproducible=False).fit(X, y)
    res = search.cv_results_
    assert search.async_ and search.n_candidates_ == 12
    assert (res["n_resources"] == 9).any()
    assert set(res["state"]) <= {"promoted", "stopped", "complete"}
    # with one worker the live search is the reproducible one
    a = _search(reproducible=False).fit(X, y).cv_results_
    b = _search().fit(X, y).cv_results_
    assert a["params"] == b["params"]
    np.testing.assert_array_equal(a["mean_test_score"], b["mean_test_score"])


def test_reproducible_must_be_a_bool(digits):
    X, y = digits
    with pytest.raises(ValueError, match="The 'reproducible' parameter of ASHASearchCV "
                                         "must be an instance of 'bool'"):
        _search(reproducible="yes").fit(X, y)
