"""Discrete-event simulation of the search schedulers on many workers (issue 13).

Two cores cannot show how a scheduler behaves on 16, 64 or 256 workers, so this module
replays each scheduler's **real decision logic** against modelled fit durations and
scores, on a simulated cluster of ``W`` identical workers, for a fixed wall budget ``T``:

- **ASHA**: :class:`hpsearch.model_selection.strategies._asha_schedule.ASHASchedule` decides every
  job (a free worker calls ``next_job``; a finished fit calls ``report``); no barrier.
- **sync halving**: rounds planned by ``halving_schedule`` (the function behind
  ``HalvingSearchCV``), survivors chosen with halving's own ``top_k``, with a barrier at
  each round: a round starts only after every fit of the previous round has ended. A
  run starts ``n_0 = max(R / r, W)`` candidates (scikit-learn's ``"exhaust"``, raised so
  the first round fills every worker); when a run ends, the next one starts with fresh
  candidates, until ``T``.
- **Hyperband**: the brackets of ``hyperband_brackets`` (behind ``HyperbandSearchCV``), run
  one after the other as hpsearch runs them, each as synchronous successive halving
  (``n_i`` per round as ``HyperbandSearchCV`` caps them), cycling from :math:`s_{\\max}`
  again until ``T``.
- **random**: every job is a fresh candidate trained at the full budget ``R``.

Every scheduler draws its candidates from the same seeded stream (candidate ``i`` is the
same configuration, with the same speed and curve, for every scheduler and worker count).

The model
---------
Candidate :math:`i` has an asymptote :math:`a_i`, a learning-rate constant
:math:`\\tau_i` and a speed factor :math:`s_i` (a wide net, a big batch: stragglers):

.. math::

    a_i = 0.55 + 0.43\\, B_i,\\; B_i \\sim \\mathrm{Beta}(2, 2), \\qquad
    \\tau_i \\sim \\mathrm{LogNormal}(\\ln 4, 0.6), \\qquad
    s_i \\sim \\mathrm{LogNormal}(0, \\sigma_s), \\; \\sigma_s = 0.5

Its validation score after :math:`b` epochs (a saturating learning curve starting at
chance, :math:`y_0 = 0.1` for ten classes) and the observed score, with noise
:math:`\\varepsilon_{i,b} \\sim N(0, 0.02^2)` drawn once per (candidate, budget):

.. math::

    y_i(b) = a_i - \\frac{a_i - y_0}{1 + b / \\tau_i}, \\qquad
    \\hat y_i(b) = y_i(b) + \\varepsilon_{i,b}

so curves cross (a slow learner with a high asymptote looks bad after one epoch). A fit
that continues candidate :math:`i` from :math:`b` to :math:`b'` epochs (hpsearch continues
training between rungs) takes

.. math::

    d = (b' - b)\\, s_i \\cdot 1\\,\\text{s}

(one second per epoch at unit speed; a fit from scratch has :math:`b = 0`) on each of the
``n_splits = 5`` CV splits. As in hpsearch's engine, a job (one candidate at one budget)
is one task per split, each on its own worker; the scheduler hears the job's result (the
mean over splits) when its last split ends. A free worker takes the oldest waiting split
and asks the scheduler for a new job only when no split waits. Nothing else costs time
(no dispatch overhead, no data loading): the figures isolate the scheduling.

Figures, per scheduler and worker count, over ``[0, T]`` with ``T = 3000`` s (median
over 5 seeds):

- *utilization*: busy worker-seconds / :math:`W T` (a fit still running at ``T`` counts
  up to ``T``);
- *first full*: time at which the first fit at the full budget ``R`` ends;
- *to target*: time at which a fit at ``R`` ends whose candidate's modelled full-budget
  score :math:`y_i(R)` reaches the target, the 95th percentile of :math:`y(R)` over the
  candidate population (so: finding a top-5 % configuration and training it fully);
  ``-`` when not reached by ``T`` (then the median is taken with "not reached" as
  :math:`+\\infty`);
- *full results*: fits at ``R`` ended by ``T``.

Run ``python benchmarks/sim_schedulers.py`` for the per-scheduler matrix, or
``python benchmarks/run.py --only schedulers`` for the house table (ASHA against sync
halving, Hyperband and random in the notes).
"""

from __future__ import annotations

import heapq
import math
import os
import statistics
import sys
from collections import deque
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _harness import Row  # noqa: E402

NAME = "schedulers"
SCHEDULERS = ("ASHA", "sync halving", "Hyperband", "random")
WORKERS = (2, 16, 64, 256)
_BLOCK = 4096


# ---------------------------------------------------------------------------------------------
# the modelled candidates


@dataclass(frozen=True)
class Model:
    """Budgets and model constants (see the module docstring)."""

    min_resources: int = 1
    max_resources: int = 81
    factor: int = 3
    n_splits: int = 5
    wall: float = 3000.0
    speed_sigma: float = 0.5
    noise: float = 0.02
    y0: float = 0.1
    target_quantile: float = 0.95


class Population:
    """The seeded stream of candidates, drawn in fixed blocks so that candidate ``i`` is the
    same whatever the scheduler and however many candidates it uses."""

    def __init__(self, model: Model, seed: int):
        self.model, self.seed = model, seed
        self.asymptote = np.empty(0)
        self.tau = np.empty(0)
        self.speed = np.empty(0)
        self._noise = {}

    def _draw(self, block, n=_BLOCK, stream=0):
        rng = np.random.default_rng([self.seed, stream, block])
        a = 0.55 + 0.43 * rng.beta(2.0, 2.0, n)
        tau = rng.lognormal(math.log(4.0), 0.6, n)
        speed = rng.lognormal(0.0, self.model.speed_sigma, n)
        return a, tau, speed

    def _grow(self, i):
        while i >= len(self.asymptote):
            a, tau, speed = self._draw(len(self.asymptote) // _BLOCK)
            self.asymptote = np.concatenate([self.asymptote, a])
            self.tau = np.concatenate([self.tau, tau])
            self.speed = np.concatenate([self.speed, speed])

    def curve(self, i, budget):
        """:math:`y_i(b)`, the noiseless score."""
        self._grow(i)
        a = self.asymptote[i]
        return a - (a - self.model.y0) / (1.0 + budget / self.tau[i])

    def observed(self, i, budget):
        """:math:`\\hat y_i(b)`: the noise is drawn once per (candidate block, budget)."""
        block = i // _BLOCK
        key = (block, int(budget))
        if key not in self._noise:
            rng = np.random.default_rng([self.seed, 1, block, int(budget)])
            self._noise[key] = rng.normal(0.0, self.model.noise, _BLOCK)
        return self.curve(i, budget) + self._noise[key][i % _BLOCK]

    def duration(self, i, start, stop):
        self._grow(i)
        return (stop - start) * self.speed[i]

    def target(self, n=200_000):
        """The 95th percentile of :math:`y(R)` over a reference sample of the population."""
        a, tau, _ = self._draw(0, n, stream=2)
        y = a - (a - self.model.y0) / (1.0 + self.model.max_resources / tau)
        return float(np.quantile(y, self.model.target_quantile))


# ---------------------------------------------------------------------------------------------
# the schedulers: next_job() -> (candidate, start budget, stop budget, tag) or None, where
# tag is ASHA's rung, (run, round) of a synchronous run, None for random; report(job, score)


class ASHAPolicy:
    """hpsearch's :class:`ASHASchedule`, asked whenever a worker is free."""

    def __init__(self, model, n_workers):
        from hpsearch.model_selection.strategies._asha_schedule import ASHASchedule

        self.schedule = ASHASchedule(model.min_resources, model.max_resources, model.factor)
        self.budgets = self.schedule.budgets

    def next_job(self):
        job = self.schedule.next_job()
        start = 0 if job.rung == 0 else self.budgets[job.rung - 1]
        return job.candidate, start, job.budget, job.rung

    def report(self, job, score):
        self.schedule.report(job[0], job[3], score)


class RandomPolicy:
    """A fresh candidate at the full budget for every free worker."""

    def __init__(self, model, n_workers):
        self.max_resources = model.max_resources
        self.next_id = 0

    def next_job(self):
        self.next_id += 1
        return self.next_id - 1, 0, self.max_resources, None

    def report(self, job, score):
        pass


class _SyncPolicy:
    """Synchronous successive halving runs, one after the other, barrier at every round.

    A subclass yields the runs as ``(n_first, n_resources, n_keep)``: the fresh candidates
    of the first round, the budget of every round and the survivors kept after every round
    but the last.
    """

    def __init__(self, model, n_workers):
        from hpsearch.model_selection.strategies.halving import top_k

        self.top_k, self.model, self.n_workers = top_k, model, n_workers
        self.next_id, self.run_index = 0, -1
        self.runs = self._runs()
        self._start_run()

    def _start_run(self):
        n, self.n_resources, self.n_keep = next(self.runs)
        self.candidates = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        self.round, self.previous = 0, 0
        self.run_index += 1
        self._start_round()

    def _start_round(self):
        budget = self.n_resources[self.round]
        tag = (self.run_index, self.round)
        self.queue = [(c, self.previous, budget, tag) for c in self.candidates]
        self.queue.reverse()
        self.scores = {}

    def next_job(self):
        return self.queue.pop() if self.queue else None

    def report(self, job, score):
        self.scores[job[0]] = score
        if len(self.scores) < len(self.candidates):
            return
        # barrier passed: every fit of this round has ended
        if self.round == len(self.n_resources) - 1:
            self._start_run()
            return
        scores = [self.scores[c] for c in self.candidates]
        keep = self.top_k(np.asarray(scores), min(len(scores), self.n_keep[self.round]))
        self.candidates = [self.candidates[i] for i in keep]
        self.previous = self.n_resources[self.round]
        self.round += 1
        self._start_round()


class HalvingPolicy(_SyncPolicy):
    """``HalvingSearchCV``'s rounds: :func:`halving_schedule` of ``max(R / r, W)``."""

    def _runs(self):
        from hpsearch.model_selection.strategies._halving_schedule import halving_schedule

        m = self.model
        n0 = max(m.max_resources // m.min_resources, self.n_workers)
        schedule = halving_schedule(n0, min_resources=m.min_resources,
                                    max_resources=m.max_resources, factor=m.factor)
        while True:
            yield n0, schedule.n_resources, schedule.n_candidates[1:]


class HyperbandPolicy(_SyncPolicy):
    """``HyperbandSearchCV``'s brackets, :math:`s_{\\max}` down to 0, cycled."""

    def _runs(self):
        from hpsearch.model_selection.strategies._halving_schedule import hyperband_brackets

        m = self.model
        brackets = hyperband_brackets(m.max_resources, m.min_resources, m.factor)
        while True:
            for bracket in brackets:
                rounds = [bracket.n_candidates[0]]
                for n in bracket.n_candidates[1:]:
                    rounds.append(min(n, rounds[-1]))
                yield rounds[0], bracket.n_resources, rounds[1:]


POLICIES = {
    "ASHA": ASHAPolicy,
    "sync halving": HalvingPolicy,
    "Hyperband": HyperbandPolicy,
    "random": RandomPolicy,
}


# ---------------------------------------------------------------------------------------------
# the cluster


def simulate(policy_name, n_workers, population, target, trace=None):
    """Run one scheduler on ``n_workers`` until the wall budget; return its figures.

    As hpsearch's engine does, a job (one candidate at one budget) is ``n_splits`` tasks,
    one per CV split, each on its own worker; its result (the mean over splits) is
    reported to the scheduler when its last split ends. A free worker takes the oldest
    waiting split; when none waits, it asks the scheduler for a new job.
    ``trace``, a list, receives ``(start, end, job)`` of every split started (for tests).
    """
    model = population.model
    policy = POLICIES[policy_name](model, n_workers)
    wall, top, n_splits = model.wall, model.max_resources, model.n_splits
    running, seq = [], 0  # heap of (end, seq, job)
    waiting = deque()  # splits of handed-out jobs not started yet
    left = {}  # seq of a job -> splits not ended
    idle, busy, now = n_workers, 0.0, 0.0
    first_full = to_target = None
    n_full = 0
    while True:
        while idle and now < wall:
            if not waiting:
                job = policy.next_job()
                if job is None:
                    break
                waiting.extend([(seq, job)] * n_splits)
                left[seq] = n_splits
                seq += 1
            key, job = waiting.popleft()
            end = now + population.duration(job[0], job[1], job[2])
            busy += min(end, wall) - now
            if trace is not None:
                trace.append((now, end, job))
            heapq.heappush(running, (end, key, job))
            idle -= 1
        if not running:
            break
        now, key, job = heapq.heappop(running)
        if now > wall:
            break
        idle += 1
        left[key] -= 1
        if left[key]:
            continue
        del left[key]
        candidate, _, budget, _ = job
        policy.report(job, population.observed(candidate, budget))
        if budget == top:
            n_full += 1
            if first_full is None:
                first_full = now
            if to_target is None and population.curve(candidate, top) >= target:
                to_target = now
    return {
        "utilization": busy / (n_workers * wall),
        "first_full": first_full,
        "to_target": to_target,
        "n_full": n_full,
    }


def _median(values):
    """Median with ``None`` (not reached) as +inf; ``None`` if the median is not reached."""
    m = statistics.median(math.inf if v is None else v for v in values)
    return None if m == math.inf else float(m)


def measure(workers=WORKERS, seeds=(0, 1, 2, 3, 4), model=None):
    """``{(scheduler, W): {figure: median over seeds}}`` plus the target score."""
    model = model or Model()
    out, targets = {}, []
    for seed in seeds:
        pop = Population(model, seed)
        target = pop.target()
        targets.append(target)
        for w in workers:
            for name in SCHEDULERS:
                figures = simulate(name, w, pop, target)
                for key, value in figures.items():
                    out.setdefault((name, w), {}).setdefault(key, []).append(value)
    medians = {
        cell: {key: _median(values) for key, values in figs.items()}
        for cell, figs in out.items()
    }
    return medians, statistics.median(targets)


# ---------------------------------------------------------------------------------------------
# output


_FIGURES = [
    # key, row name, unit, target at W=64 (ASHA / sync halving), scale
    ("utilization", "worker utilization", "%", None, 100.0),
    ("first_full", "time to first full-budget result", "s", "<= 0.333", 1.0),
    ("to_target", "time to target score", "s", None, 1.0),
    ("n_full", "full-budget results by T", "", None, 1.0),
]


def _scaled(value, scale):
    return None if value is None else float(value) * scale


def rows_from(medians, target, model, workers, n_seeds):
    rows = []
    for w in workers:
        for key, label, unit, ratio_target, scale in _FIGURES:
            asha = _scaled(medians[("ASHA", w)][key], scale)
            sync = _scaled(medians[("sync halving", w)][key], scale)
            others = ", ".join(
                f"{name} {_fmt(_scaled(medians[(name, w)][key], scale), unit)}"
                for name in ("Hyperband", "random")
            )
            met = None
            if key == "utilization" and w == 64:
                met, extra_target = asha >= 95.0, "ASHA >= 95 %"
            else:
                extra_target = ratio_target if (w == 64 and ratio_target) else ""
            note = f"{others}; median of {n_seeds} seeds, T = {model.wall:g} s"
            if key == "to_target":
                note += f", target y(R) >= {target:.3f}"
            row = Row(NAME, f"W={w} {label} (ASHA vs sync halving)", asha, sync, unit,
                      target=extra_target, met=met, note=note,
                      extra={name: medians[(name, w)][key] for name in SCHEDULERS})
            rows.append(row)
    return rows


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "s":
        return f"{value:.0f} s"
    return f"{value:g}"


def matrix(medians, workers=WORKERS):
    """One Markdown table: a row per (scheduler, W)."""
    head = "| W | scheduler | utilization | first full | to target | full results |"
    lines = [head, "|---:|---|---:|---:|---:|---:|"]
    for w in workers:
        for name in SCHEDULERS:
            f = medians[(name, w)]
            lines.append(
                f"| {w} | {name} | {_fmt(100 * f['utilization'], '%')} | "
                f"{_fmt(f['first_full'], 's')} | {_fmt(f['to_target'], 's')} | "
                f"{_fmt(f['n_full'])} |"
            )
    return "\n".join(lines)


def _setup(quick):
    if quick:
        return Model(wall=300.0), (2, 16, 64), (0, 1)
    return Model(), WORKERS, (0, 1, 2, 3, 4)


def run(quick=False, repeats=3):
    """House-style rows (``repeats`` is unused: the simulation is deterministic)."""
    model, workers, seeds = _setup(quick)
    medians, target = measure(workers, seeds, model)
    return rows_from(medians, target, model, workers, len(seeds))


def main():
    import time

    t0 = time.perf_counter()
    model, workers, seeds = _setup("--quick" in sys.argv)
    medians, target = measure(workers, seeds, model)
    print(matrix(medians, workers))
    print(f"\ntarget y(R) >= {target:.3f}; T = {model.wall:g} s; median of {len(seeds)} seeds; "
          f"simulated in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
