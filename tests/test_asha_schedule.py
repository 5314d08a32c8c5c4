"""Asynchronous successive halving: the pure scheduler (no fitting).

Hand-worked sequences with factor 3, rebuild-from-results against the live state, and a
hypothesis property checking every job against a direct transcription of the rule.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.model_selection.strategies._asha_schedule import (
    ASHASchedule,
    Job,
    ask_model,
    asha_rungs,
    model_rung,
)


def new(candidate, budget=1):
    return Job("new", candidate, 0, budget)


def promote(candidate, rung, budget):
    return Job("promote", candidate, rung, budget)


# -- rungs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "r, R, eta, expected",
    [
        (1, 81, 3, (1, 3, 9, 27, 81)),
        (1, 80, 3, (2, 8, 26, 80)),  # anchored at R, as Hyperband's brackets
        (2, 100, 3, (3, 11, 33, 100)),
        (3, 3, 3, (3,)),
        (1, 16, 2, (1, 2, 4, 8, 16)),
        (1, 243, 3, (1, 3, 9, 27, 81, 243)),  # exact at powers, unlike floor(log(243, 3))
        (4, 50, 2.5, (8, 20, 50)),
    ],
)
def test_rungs(r, R, eta, expected):
    assert asha_rungs(r, R, eta) == expected
    assert ASHASchedule(r, R, eta).budgets == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_resources": 0, "max_resources": 9},
         "The 'min_resources' parameter of asha_rungs must be an int in the range [1, inf). "
         "Got 0 instead."),
        ({"min_resources": 1.5, "max_resources": 9},
         "The 'min_resources' parameter of asha_rungs must be an int in the range [1, inf). "
         "Got 1.5 instead."),
        ({"min_resources": 10, "max_resources": 9},
         "max_resources=9 must be at least min_resources=10."),
        ({"min_resources": 1, "max_resources": 9, "factor": 1},
         "The 'factor' parameter of asha_rungs must be a float in the range (1, inf). "
         "Got 1 instead."),
        ({"min_resources": 1, "max_resources": 9, "n_trials": 0},
         "The 'n_trials' parameter of ASHASchedule must be an int in the range [1, inf). "
         "Got 0 instead."),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError) as info:
        ASHASchedule(**kwargs)
    assert str(info.value) == message


# -- hand-worked sequence ---------------------------------------------------------------------


def test_promotes_exactly_when_a_candidate_enters_the_top_third():
    """factor 3, rungs (1, 3, 9, 27): the paper's rule worked by hand, step by step."""
    s = ASHASchedule(1, 27, 3)
    assert s.budgets == (1, 3, 9, 27)
    assert [s.next_job() for _ in range(3)] == [new(0), new(1), new(2)]
    s.report(0, 0, 0.5)  # n_0 = 1: floor(1/3) = 0, nobody promotable
    assert s.next_job() == new(3)
    s.report(1, 0, 0.7)  # n_0 = 2: floor(2/3) = 0
    assert s.next_job() == new(4)
    s.report(2, 0, 0.6)  # n_0 = 3: top 1 = {1}
    assert s.next_job() == promote(1, 1, 3)
    assert s.next_job() == new(5)  # 1 is the top third and already promoted: never twice
    s.report(3, 0, 0.9)  # n_0 = 4: top 1 = {3} (1 fell out of it; promotions stand)
    assert s.next_job() == promote(3, 1, 3)
    s.report(4, 0, 0.8)  # n_0 = 5: top 1 = {3}, promoted
    assert s.next_job() == new(6)
    s.report(5, 0, 0.1)  # n_0 = 6: top 2 = {3, 4}
    assert s.next_job() == promote(4, 1, 3)
    assert s.ranking(0) == [3, 4, 1, 2, 0, 5]
    assert s.promoted(0) == {1, 3, 4}

    s.report(1, 1, 0.75)
    s.report(3, 1, 0.95)
    assert s.next_job() == new(7)  # n_1 = 2: floor(2/3) = 0; rung 0's top 2 promoted
    s.report(4, 1, 0.85)  # n_1 = 3: top 1 = {3}; higher rung first
    assert s.next_job() == promote(3, 2, 9)
    for c, score in [(6, 0.2), (7, 0.3), (8, 0.4)]:
        if c == 8:
            assert s.next_job() == new(8)
        s.report(c, 0, score)
    # n_0 = 9: top 3 = {3, 4, 1}, all promoted; rung 1 top 1 = {3} promoted
    assert s.next_job() == new(9)
    s.report(3, 2, 0.97)  # n_2 = 1: floor(1/3) = 0, nothing reaches the top rung yet
    assert s.next_job() == new(10)
    assert s.state()["pending"] == {(9, 0), (10, 0)}
    assert s.promoted(1) == {3}


def test_top_rung_is_reached_and_never_exceeded():
    s = ASHASchedule(1, 3, 3)  # rungs (1, 3): K = 1
    for c, score in enumerate([0.1, 0.9, 0.5]):
        assert s.next_job() == new(c)
        s.report(c, 0, score)
    assert s.next_job() == promote(1, 1, 3)
    s.report(1, 1, 0.99)
    for _ in range(3):  # rung 1 is the top: its results never promote
        job = s.next_job()
        assert job.action == "new"
        s.report(job.candidate, 0, 0.0)
    assert s.results(1) == {1: 0.99}


def test_ties_go_to_the_smaller_candidate_id():
    s = ASHASchedule(1, 9, 3)
    for c in range(6):
        s.next_job()
    for c in (5, 2, 4, 0, 1, 3):  # arrival order must not matter
        s.report(c, 0, 0.5)
    assert s.next_job() == promote(0, 1, 3)
    assert s.next_job() == promote(1, 1, 3)
    assert s.next_job() == new(6)


def test_nan_ranks_last_and_is_never_promoted():
    s = ASHASchedule(1, 9, 3)
    for c in range(3):
        s.next_job()
        s.report(c, 0, math.nan)
    assert s.next_job() == new(3)
    s.report(3, 0, 0.1)
    assert s.ranking(0) == [3, 0, 1, 2]
    assert s.next_job() == promote(3, 1, 3)
    assert s.n_results() == [4, 0, 0]
    assert s.n_results(finite=True) == [1, 0, 0]


def test_n_trials_caps_new_candidates_but_not_promotions():
    s = ASHASchedule(1, 9, 3, n_trials=3)
    assert [s.next_job() for _ in range(4)] == [new(0), new(1), new(2), None]
    s.cancel(2, 0)  # a lost new job frees its place
    assert s.next_job() == new(3)
    for c, score in [(0, 0.3), (1, 0.2), (3, 0.1)]:
        s.report(c, 0, score)
    assert s.next_job() == promote(0, 1, 3)
    assert s.next_job() is None
    s.report(0, 1, 0.4)
    assert s.next_job() is None and s.n_pending == 0  # finished


def test_cancelled_promotion_is_handed_out_again():
    s = ASHASchedule(1, 9, 3)
    for c, score in enumerate([0.3, 0.2, 0.1]):
        s.next_job()
        s.report(c, 0, score)
    assert s.next_job() == promote(0, 1, 3)
    s.cancel(0, 1)
    assert s.promoted(0) == set()
    assert s.next_job() == promote(0, 1, 3)
    with pytest.raises(ValueError, match="No pending job for candidate 7 at rung 1."):
        s.cancel(7, 1)


def test_new_id_and_results_of_other_processes():
    s = ASHASchedule(1, 9, 3)
    job = s.next_job()
    s.report(job.candidate, 0, 0.5, new_id=40)  # the store numbered it 40
    assert s.results(0) == {40: 0.5}
    assert s.n_pending == 0
    assert s.next_job() == new(41)
    s.report(12, 0, 0.9)  # another process's candidate
    s.report(13, 0, 0.1)
    s.report(12, 1, 0.95)  # ... which it promoted itself
    assert s.promoted(0) == {12}
    s.mark_pending(40, 1)  # another process is training 40 at rung 1 right now
    assert s.promoted(0) == {12, 40}
    assert s.next_job() == new(42)
    s.mark_pending(50, 0)
    assert s.n_started == 6  # 40, 12, 13 reported; 41, 42, 50 pending


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.report(0, 3, 0.1), "rung must be an int in the range [0, 2]. Got 3 instead."),
        (lambda s: s.report(-1, 0, 0.1), "candidate must be a non-negative int. Got -1 instead."),
        (lambda s: s.report(5, 1, 0.1),
         "Candidate 5 has no result in rung 0, so it cannot be at rung 1."),
        (lambda s: s.report(0, 0, 0.2), "Candidate 0 already has a result in rung 0."),
        (lambda s: s.report(0, 1, 0.2, new_id=3), "new_id is for rung-0 results only, got rung=1."),
        (lambda s: s.mark_pending(9, 2),
         "Candidate 9 has no result in rung 1, so it cannot be at rung 2."),
    ],
)
def test_bad_reports_are_refused(call, message):
    s = ASHASchedule(1, 9, 3)
    s.report(0, 0, 0.1)
    with pytest.raises(ValueError) as info:
        call(s)
    assert str(info.value) == message


# -- BOHB hook ----------------------------------------------------------------------------


def test_model_rung_is_the_highest_with_enough_results():
    assert model_rung([10, 4, 1], n_min=3) == 1
    assert model_rung([10, 4, 3], n_min=3) == 2
    assert model_rung([2, 0, 0], n_min=3) is None
    with pytest.raises(ValueError, match="The 'n_min' parameter of model_rung must be an int"):
        model_rung([1], n_min=0)


def test_model_results_leave_nan_out():
    s = ASHASchedule(1, 9, 3)
    for c, score in enumerate([0.5, math.nan, 0.7, 0.1]):
        s.report(c, 0, score)
    s.report(2, 1, 0.8)
    assert s.model_results(n_min=4) is None
    assert s.model_results(n_min=3) == (0, {0: 0.5, 2: 0.7, 3: 0.1})
    assert s.model_results(n_min=1) == (1, {2: 0.8})


def test_ask_model_learns_from_the_rung_it_is_told():
    """TPE told a rung whose scores peak at x = 0.8 proposes x near 0.8; random does not."""
    import numpy as np
    import optuna
    from scipy.stats import uniform

    space = {"x": uniform(0, 1), "c": ["a", "b"]}
    rng = np.random.default_rng(0)
    observations = []
    for x in rng.uniform(0, 1, 40):
        c = "a" if x < 0.5 else "b"
        observations.append(({"x": x, "c": c}, -abs(x - 0.8) + (c == "b")))
    s = ASHASchedule(1, 9, 3)
    for cand, (params, score) in enumerate(observations):
        s.report(cand, 0, score)
    rung, scores = s.model_results(n_min=11)
    assert rung == 0 and len(scores) == 40
    told = [observations[c] for c in sorted(scores)]

    def proposals(sampler):
        out = [ask_model(sampler, space, told) for _ in range(8)]
        for params, optuna_params in out:
            assert set(params) == {"x", "c"} and params["c"] in ("a", "b")
            assert set(optuna_params) == {"x", "c"}
        return np.array([params["x"] for params, _ in out])

    tpe = proposals(optuna.samplers.TPESampler(seed=0))
    random = proposals(optuna.samplers.RandomSampler(seed=0))
    assert np.median(np.abs(tpe - 0.8)) < 0.1 < np.median(np.abs(random - 0.8))
    again = proposals(optuna.samplers.TPESampler(seed=0))
    assert np.array_equal(tpe, again)  # seeded: reproducible


# -- rebuild from results, and the rule as a property -----------------------------------------


def _drive(schedule, actions, scores):
    """Apply ``actions``: ``"ask"`` a job for a free worker, ``"report"`` the oldest
    running job's result, ``"cancel"`` the newest running job (its worker died)."""
    jobs, queue, recorded = [], [], []
    scores = iter(scores)
    for action in actions:
        if action == "ask" or not queue:
            before = _snapshot(schedule)
            job = schedule.next_job()
            jobs.append((before, job))
            if job is not None:
                queue.append(job)
        elif action == "report":
            job = queue.pop(0)
            score = next(scores, 0.5)
            schedule.report(job.candidate, job.rung, score)
            recorded.append((job.candidate, job.rung, score))
        else:
            job = queue.pop()
            schedule.cancel(job.candidate, job.rung)
    return jobs, queue, recorded


def _snapshot(schedule):
    return {
        "results": [schedule.results(k) for k in range(schedule.top_rung + 1)],
        "promoted": [schedule.promoted(k) for k in range(schedule.top_rung + 1)],
        "n_started": schedule.n_started,
    }


def _expected_job(state, budgets, factor, n_trials, next_id):
    """Li et al., Algorithm 2, ``get_job``, transcribed directly."""
    top = len(budgets) - 1
    for k in range(top - 1, -1, -1):
        scores = state["results"][k]
        ranked = sorted(scores, key=lambda c: (math.isnan(scores[c]), -scores[c], c))
        best = ranked[: int(math.floor(len(ranked) / factor + 1e-9))]
        promotable = [
            c for c in best if c not in state["promoted"][k] and not math.isnan(scores[c])
        ]
        if promotable:
            return Job("promote", promotable[0], k + 1, budgets[k + 1])
    if n_trials is not None and state["n_started"] >= n_trials:
        return None
    return Job("new", next_id, 0, budgets[0])


score_values = st.one_of(
    st.sampled_from([0.1, 0.2, 0.5, 0.9, math.nan]),  # many ties
    st.floats(min_value=0, max_value=1),
)


@settings(max_examples=60)
@given(
    actions=st.lists(st.sampled_from(["ask", "ask", "report", "report", "cancel"]),
                     min_size=1, max_size=150),
    scores=st.lists(score_values, max_size=150),
    shape=st.sampled_from([(1, 9, 3), (1, 27, 3), (2, 50, 2), (1, 16, 2.5)]),
    n_trials=st.one_of(st.none(), st.integers(1, 30)),
)
def test_every_job_is_the_rule_applied_to_the_results_at_that_moment(
    actions, scores, shape, n_trials
):
    r, R, eta = shape
    s = ASHASchedule(r, R, eta, n_trials=n_trials)
    jobs, _, _ = _drive(s, actions, scores)
    next_id = 0
    for before, job in jobs:
        assert job == _expected_job(before, s.budgets, eta, n_trials, next_id)
        if job is None:
            continue
        assert 0 <= job.rung <= s.top_rung
        assert job.action == "new" or job.candidate in before["results"][job.rung - 1]
        assert job.candidate not in before["promoted"][job.rung - 1 if job.rung else 0] or (
            job.rung == 0
        )  # never promoted twice (a cancelled promotion left the promoted set)
        if job.action == "promote":
            k = job.rung - 1
            scores_k = before["results"][k]
            better = sum(
                1 for c, v in scores_k.items()
                if (not math.isnan(v)) and (v > scores_k[job.candidate]
                                            or (v == scores_k[job.candidate] and c < job.candidate))
            )
            assert better + 1 <= math.floor(len(scores_k) / eta + 1e-9)  # in the top 1/eta
        else:
            next_id += 1


@settings(max_examples=40)
@given(
    # no "cancel": a cancelled new job's proposed id is used up live but not recorded
    actions=st.lists(st.sampled_from(["ask", "report"]), min_size=1, max_size=150),
    scores=st.lists(score_values, max_size=150),
    shape=st.sampled_from([(1, 9, 3), (1, 27, 3), (2, 50, 2)]),
    n_trials=st.one_of(st.none(), st.integers(1, 30)),
    order=st.randoms(use_true_random=False),
)
def test_rebuild_from_results_equals_the_live_state(actions, scores, shape, n_trials, order):
    r, R, eta = shape
    live = ASHASchedule(r, R, eta, n_trials=n_trials)
    _, queue, recorded = _drive(live, actions, scores)
    for job in queue:  # report what is still running
        live.report(job.candidate, job.rung, 0.3)
        recorded.append((job.candidate, job.rung, 0.3))
    shuffled = list(recorded)
    order.shuffle(shuffled)  # the store's order is not the arrival order
    rebuilt = ASHASchedule.from_results(shuffled, r, R, eta, n_trials=n_trials)
    assert rebuilt.state() == live.state()
    for k in range(live.top_rung + 1):
        assert rebuilt.ranking(k) == live.ranking(k)
    # ... and both go on identically
    for _ in range(20):
        job = live.next_job()
        assert rebuilt.next_job() == job
        if job is not None:
            live.report(job.candidate, job.rung, 0.5)
            rebuilt.report(job.candidate, job.rung, 0.5)
