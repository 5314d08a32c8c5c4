"""The scheduling simulator of ``benchmarks/sim_schedulers.py``: small, fast invariants."""

import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sim():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import sim_schedulers
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return sim_schedulers


@pytest.fixture(scope="module")
def population(sim):
    return sim.Population(sim.Model(wall=400.0), seed=0)


@pytest.mark.parametrize("name", ["ASHA", "sync halving", "Hyperband", "random"])
def test_deterministic_and_same_candidates_for_every_scheduler(sim, name):
    model = sim.Model(wall=300.0)
    first = sim.simulate(name, 8, sim.Population(model, 3), 0.85)
    again = sim.simulate(name, 8, sim.Population(model, 3), 0.85)
    assert first == again
    pop = sim.Population(model, 3)
    assert pop.curve(5000, 81) == sim.Population(model, 3).curve(5000, 81)


@pytest.mark.parametrize("name", ["sync halving", "Hyperband"])
def test_synchronous_rounds_wait_for_every_fit_of_the_previous_round(sim, population, name):
    trace = []
    sim.simulate(name, 16, population, 0.9, trace=trace)
    ends, starts = defaultdict(float), defaultdict(lambda: float("inf"))
    for start, end, (_, _, _, (run, rnd)) in trace:
        ends[run, rnd] = max(ends[run, rnd], end)
        starts[run, rnd] = min(starts[run, rnd], start)
    rounds = sorted(ends)
    assert len(rounds) > 5
    for previous, current in zip(rounds, rounds[1:]):
        assert starts[current] >= ends[previous]  # the barrier (across runs too)


def test_asha_never_idles_and_continues_training(sim, population):
    trace = []
    figures = sim.simulate("ASHA", 16, population, 0.9, trace=trace)
    assert figures["utilization"] == pytest.approx(1.0)
    budgets = (1, 3, 9, 27, 81)
    started, ended = defaultdict(lambda: float("inf")), defaultdict(float)
    splits = defaultdict(int)
    for start, end, (candidate, b_from, b_to, rung) in trace:
        assert b_to == budgets[rung]
        assert b_from == (0 if rung == 0 else budgets[rung - 1])  # continues, never restarts
        assert end - start == pytest.approx((b_to - b_from) * population.speed[candidate])
        started[candidate, rung] = min(started[candidate, rung], start)
        ended[candidate, rung] = max(ended[candidate, rung], end)
        splits[candidate, rung] += 1
    wall = population.model.wall
    for key, n in splits.items():  # one task per CV split (the last jobs are cut by T)
        assert n == 5 or started[key] > wall - 100
    promoted = [key for key in started if key[1] > 0]
    assert promoted
    for candidate, rung in promoted:  # promoted only after all its splits reported
        assert ended[candidate, rung - 1] <= started[candidate, rung]


def test_asha_beats_the_barrier_on_many_workers(sim, population):
    target = population.target(20_000)
    asha = sim.simulate("ASHA", 64, population, target)
    sync = sim.simulate("sync halving", 64, population, target)
    assert sync["utilization"] < 0.5
    assert asha["first_full"] < sync["first_full"]
    assert asha["n_full"] > sync["n_full"]


def test_rows_and_matrix(sim):
    medians, target = sim.measure((2, 4), (0,), sim.Model(wall=200.0))
    rows = sim.rows_from(medians, target, sim.Model(wall=200.0), (2, 4), 1)
    assert len(rows) == 8
    assert all(r.benchmark == "schedulers" for r in rows)
    text = sim.matrix(medians, (2, 4))
    assert text.count("\n") == 2 + 8 - 1
