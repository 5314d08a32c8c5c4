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
def recorded(sim):
    return sim.Recorded()


@pytest.fixture(scope="module")
def population(sim, recorded):
    return sim.Population(recorded, sim.Model(), seed=0)


def test_recorded_durations_file(sim, recorded):
    assert recorded.meta["command"].endswith("benchmarks/record_fit_durations.py")
    assert recorded.max_epochs >= 81 and len(recorded) >= 40
    assert 0 < recorded.noise_sigma < 1
    per_epoch = recorded.cumulative[:, 81] / 81
    assert per_epoch.max() / per_epoch.min() > 2  # configurations differ in cost
    assert 0.5 < recorded.target(sim.Model()) < 1


@pytest.mark.parametrize("name", ["ASHA", "ASHA n_trials=n", "sync halving", "Hyperband",
                                  "random", "ASHA (live)", "ASHA (lag W)"])
def test_deterministic_and_same_candidates_for_every_scheduler(sim, recorded, name):
    model = sim.Model()
    first = sim.simulate(name, 8, sim.Population(recorded, model, 3), 0.8, wall=20.0)
    again = sim.simulate(name, 8, sim.Population(recorded, model, 3), 0.8, wall=20.0)
    assert first == again
    a, b = sim.Population(recorded, model, 3), sim.Population(recorded, model, 3)
    assert a.curve(5000, 81) == b.curve(5000, 81)
    assert a.duration(5000, 3, 9, 1) == b.duration(5000, 3, 9, 1)


@pytest.mark.parametrize("name", ["sync halving", "Hyperband"])
def test_synchronous_rounds_wait_for_every_fit_of_the_previous_round(sim, population, name):
    trace = []
    sim.simulate(name, 16, population, 0.9, wall=60.0, trace=trace)
    ends, starts = defaultdict(float), defaultdict(lambda: float("inf"))
    for start, end, (_, _, _, (run, rnd)) in trace:
        ends[run, rnd] = max(ends[run, rnd], end)
        starts[run, rnd] = min(starts[run, rnd], start)
    rounds = sorted(ends)
    assert len(rounds) > 5
    for previous, current in zip(rounds, rounds[1:]):
        assert starts[current] >= ends[previous]  # the barrier (across runs too)


def test_asha_continues_training_on_recorded_durations(sim, population):
    trace = []
    sim.simulate("ASHA", 16, population, 0.9, wall=30.0, trace=trace)
    budgets = (1, 3, 9, 27, 81)
    started, ended = defaultdict(lambda: float("inf")), defaultdict(float)
    splits = defaultdict(int)
    rec = population.recorded
    for start, end, (candidate, b_from, b_to, (_, rung)) in trace:
        assert b_to == budgets[rung]
        assert b_from == (0 if rung == 0 else budgets[rung - 1])  # continues, never restarts
        run = population.run[candidate]
        work = rec.cumulative[run, b_to] - rec.cumulative[run, b_from]
        assert end - start >= rec.score_s[run] + 0.2 * work  # recorded work, noise ~N(0, s)
        started[candidate, rung] = min(started[candidate, rung], start)
        ended[candidate, rung] = max(ended[candidate, rung], end)
        splits[candidate, rung] += 1
    for key, n in splits.items():  # one task per CV split (the last jobs are cut by T)
        assert n == 3 or started[key] > 30.0 - 3.0
    promoted = [key for key in started if key[1] > 0]
    assert any(rung == 4 for _, rung in promoted)
    for candidate, rung in promoted:  # promoted only after all its splits reported
        assert ended[candidate, rung - 1] <= started[candidate, rung]


def _jobs(sim, name, population, duration):
    """The jobs (candidate, rung) in the order they were decided."""
    population.duration = duration
    trace = []
    sim.simulate(name, 6, population, 0.9, wall=100.0, trace=trace)
    seen, jobs = set(), []
    for start, _, (candidate, _, _, (_, rung)) in sorted(trace, key=lambda t: t[0]):
        if (candidate, rung) not in seen:  # splits of one job start in order, FIFO
            seen.add((candidate, rung))
            jobs.append((candidate, rung))
    return jobs


def _same_prefix(a, b):
    n = min(len(a), len(b))
    assert n > 60 and any(rung >= 2 for _, rung in a[:n])
    return a[:n] == b[:n]


def test_asha_replays_the_searchs_lag_decisions_never_depend_on_fit_order(sim, recorded):
    """``_Decisions`` with the search's lags (or the former lag W) decides from results due
    by the job order: the same jobs whatever the durations (``reproducible=False``, which
    sees results in arrival order, does not)."""
    import numpy as np

    def durations(seed):
        rng = np.random.default_rng(seed)
        return lambda i, start, stop, split: float(rng.uniform(0.05, 1.0)) * (stop - start)

    model = sim.Model()
    pop = lambda: sim.Population(recorded, model, 1)  # noqa: E731
    for name, same in (("ASHA", True), ("ASHA (lag W)", True), ("ASHA (live)", False)):
        jobs = [_jobs(sim, name, pop(), durations(seed)) for seed in (0, 1)]
        assert _same_prefix(*jobs) is same, name


def test_asha_worker_waits_behind_a_straggler_w_jobs_back(sim, recorded):
    """Job 0 (candidate 0, all splits) takes 100 s: with the search's lag, job W cannot be
    decided before it ends, so workers idle; the live schedule never idles."""
    model = sim.Model()

    def duration(i, start, stop, split):
        return 100.0 if i == 0 else 0.1 * (stop - start)

    figures = {}
    for name in ("ASHA", "ASHA (live)"):
        pop = sim.Population(recorded, model, 0)
        pop.duration = duration
        figures[name] = sim.simulate(name, 6, pop, 0.9, wall=50.0)
    assert figures["ASHA"]["utilization"] < 0.55  # job 0's three splits, little else
    assert figures["ASHA (live)"]["utilization"] == pytest.approx(1.0)


def test_asha_against_the_barrier_on_many_workers(sim, population, recorded):
    """The measured picture at 64 workers (README): the barrier idles most workers, and so
    did the search's former lag W; its lags per rung, or no lag, keep them busy."""
    target = recorded.target(sim.Model())
    fig = {name: sim.simulate(name, 64, population, target)
           for name in ("ASHA", "sync halving", "ASHA (live)", "ASHA (lag W)")}
    asha, sync = fig["ASHA"], fig["sync halving"]
    assert asha["wall"] == sync["wall"]
    assert sync["utilization"] < 0.3 < fig["ASHA (lag W)"]["utilization"] < 0.6
    assert asha["utilization"] >= 0.95
    assert fig["ASHA (live)"]["utilization"] > 0.95
    assert asha["n_full"] > sync["n_full"]
    # with continued training no full-budget result comes before one full training
    fastest = float((recorded.cumulative[:, 81] + 5 * recorded.score_s).min())
    assert min(f["first_full"] for f in fig.values()) >= 0.9 * fastest


def test_capped_asha_runs_the_same_candidates_as_one_halving_run(sim, recorded):
    model = sim.Model(n_candidates=27)
    traces = {}
    for name in ("ASHA n_trials=n", "sync halving"):
        traces[name] = []
        sim.simulate(name, 16, sim.Population(recorded, model, 2), 0.9, wall=100.0,
                     trace=traces[name])
    capped = {job[0] for _, _, job in traces["ASHA n_trials=n"]}
    first_run = {job[0] for _, _, job in traces["sync halving"] if job[3][0] == 0}
    assert capped == first_run == set(range(27))
    assert max(end for _, end, _ in traces["ASHA n_trials=n"]) < 100.0  # it ended


def test_rows_and_matrix(sim, recorded):
    model = sim.Model(sync_runs=0.5, full_trainings=1.0)
    medians, target = sim.measure((2, 4), (0,), model, recorded)
    rows = sim.rows_from(medians, target, model, (2, 4), 1)
    assert len(rows) == 8
    assert all(r.benchmark == "schedulers" for r in rows)
    text = sim.matrix(medians, (2, 4))
    assert text.count("\n") == 2 + 2 * len(sim.SCHEDULERS + sim.WHAT_IFS) - 1


def test_sweep_over_the_size_of_the_synchronous_search(sim, recorded):
    rows = sim.sweep((81, 243), n_workers=16, seeds=(0,), recorded=recorded)
    assert [r["n"] for r in rows] == [81, 243]
    for r in rows:
        # the floor is a lower bound for every scheduler's first full-budget result
        assert all(ratio is not None and ratio >= r["floor"] for ratio in r["ratios"].values())
        assert r["floor"] <= r["median_floor"]
        assert r["ratios"]["sync halving"] == 1.0
    # a larger synchronous search takes longer to its first full-budget result
    assert rows[1]["sync"] > rows[0]["sync"]
    text = sim.sweep_matrix(rows, n_workers=16)
    assert text.count("\n") == 3 and "| 243 |" in text
    house = sim.sweep_rows(rows, n_workers=16, n_seeds=1)
    assert [r.target for r in house] == ["<= 0.333"] * 2
    assert all(r.unit == "s" and r.ratio == pytest.approx(x["ratios"]["ASHA"])
               for r, x in zip(house, rows))
