"""Discrete-event simulation of the search schedulers on many workers (issue 13).

Two cores cannot show how a scheduler behaves on 16, 64 or 256 workers, so this module
replays each scheduler's **real decision logic** against **recorded fit durations and
learning curves** (``benchmarks/fit_durations.json``, written by
``benchmarks/record_fit_durations.py``), on a simulated cluster of ``W`` identical
workers, for a wall budget ``T``:

- **ASHA**: the decision loop of ``ASHASearchCV`` itself:
  :class:`hpsearch.model_selection.strategies.asha._Decisions` around
  :class:`~hpsearch.model_selection.strategies._asha_schedule.ASHASchedule`, with the lags
  the search uses (:func:`~hpsearch.model_selection.strategies._asha_schedule.decision_lags`):
  the result of job :math:`j` at rung :math:`k` is applied right before job
  :math:`j + L_k` is decided, and a free worker *waits* (idles) while a due result is
  still running. **ASHA (live)** is ``ASHASearchCV(reproducible=False)``: the same
  ``_Decisions`` applying every result when it arrives. **ASHA n_trials=n** is the
  reproducible search capped at the ``n`` candidates of one synchronous halving run (the
  same candidates: ids 0..n-1 of the stream); once they are started it only promotes, and
  it ends when nothing is left to promote. One what-if beside them, not what the search
  does: **ASHA (lag W)**, the search's former rule, one lag :math:`W` for every rung (job
  :math:`m` decided from the results of jobs :math:`0, \\dots, m - W`).
- **sync halving**: rounds planned by ``halving_schedule`` (the function behind
  ``HalvingSearchCV``) for ``n`` candidates, survivors chosen with halving's own
  ``top_k``, training continued between rounds, and a barrier at each round: a round
  starts only after every fit of the previous round has ended. When a run ends the next
  starts with the next ``n`` candidates of the stream, until ``T``.
- **Hyperband**: the brackets of ``hyperband_brackets`` (behind ``HyperbandSearchCV``), run
  one after the other as hpsearch runs them, each as synchronous successive halving,
  cycling from :math:`s_{\\max}` again until ``T``.
- **random**: every job is a fresh candidate trained at the full budget ``R``.

Candidates and durations
------------------------
Every scheduler draws its candidates from the same seeded stream: candidate :math:`i` is
one recorded run :math:`j(i)` (a configuration of the time-to-quality space with one
init), drawn uniformly, the same for every scheduler and worker count, so the
schedulers work on the *same candidates*. Run :math:`j` brings its per-epoch CPU times
:math:`e_{j,1}, \\dots, e_{j,R}`, its validation scoring time :math:`s_j` and its
validation accuracy after every epoch :math:`y_j(b)` (a real learning curve: curves cross,
and a run the tol-based stop ended early has ~0 s epochs after the stop). A fit that
continues candidate :math:`i` from :math:`b` to :math:`b'` epochs (hpsearch continues
training between rungs; a fit from scratch has :math:`b = 0`) takes, on CV split
:math:`q`,

.. math::

    d_{i,b',q} = \\Big(\\sum_{t=b+1}^{b'} e_{j(i),t}\\Big)\\, \\varepsilon_{i,b',q}
    + s_{j(i)}, \\qquad \\ln \\varepsilon \\sim N(0, \\sigma^2)

with :math:`\\sigma` the recorded run-to-run noise (``noise_sigma``). As in hpsearch's
engine a job (one candidate at one budget) is ``n_splits = 3`` tasks, one per split, each
on its own worker; the scheduler hears the job's result (the recorded :math:`y_j(b')`;
one fold was recorded, so every split reports it) when its last split ends. A free
worker takes the oldest waiting split and asks the scheduler for a new job only when
none waits. Nothing else costs time (no dispatch, no data loading): the figures isolate
the scheduling.

Figures, per scheduler and worker count, over ``[0, T]`` (median over seeds); ``T`` is
five synchronous-halving runs' work per worker plus four median full trainings, so it
scales with ``W``:

- *utilization*: busy worker-seconds / :math:`W T` (a fit still running at ``T`` counts
  up to ``T``);
- *first full*: time at which the first fit at the full budget ``R`` ends;
- *to target*: time at which a fit at ``R`` ends whose run's :math:`y_j(R)` reaches the
  target, the 75th percentile of :math:`y(R)` over the recorded runs; ``-`` when not
  reached by ``T`` (the median then takes "not reached" as :math:`+\\infty`);
- *full results*: fits at ``R`` ended by ``T``.

Run ``python benchmarks/sim_schedulers.py`` for the per-scheduler matrix, or
``python benchmarks/run.py --only schedulers`` for the house table (ASHA against sync
halving, Hyperband and random in the notes).
"""

from __future__ import annotations

import heapq
import json
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
DATA = os.path.join(HERE, "fit_durations.json")
SCHEDULERS = ("ASHA", "ASHA (live)", "ASHA n_trials=n", "sync halving", "Hyperband",
              "random")
WHAT_IFS = ("ASHA (lag W)",)
WORKERS = (2, 16, 64, 256)
#: Candidates of one synchronous halving run: ``R / r`` (scikit-learn's ``"exhaust"``) and 9x.
N_CANDIDATES = (81, 729)
#: The sweep over the size of the synchronous search (:func:`sweep`), at :data:`SWEEP_WORKERS`.
N_SWEEP = (81, 243, 729, 2187, 6561)
SWEEP_WORKERS = 64
SWEEP_SCHEDULERS = ("ASHA", "ASHA (live)", "ASHA n_trials=n", "sync halving")
_BLOCK = 4096
#: :meth:`Policy.next_job`: nothing can be decided before a running job ends.
WAIT = "wait"


# ---------------------------------------------------------------------------------------------
# the recorded runs and the candidates


@dataclass(frozen=True)
class Model:
    """Budgets and simulation constants (see the module docstring)."""

    min_resources: int = 1
    max_resources: int = 81
    factor: int = 3
    n_splits: int = 3
    n_candidates: int = 81
    sync_runs: float = 5.0  # T: this many sync halving runs' work per worker ...
    full_trainings: float = 4.0  # ... plus this many median full trainings
    target_quantile: float = 0.75


class Recorded:
    """The recorded runs of :data:`DATA`: cumulative epoch times, scoring time, curve."""

    def __init__(self, path=DATA):
        with open(path) as fh:
            data = json.load(fh)
        runs = [run for config in data["configs"] for run in config["runs"]]
        self.cumulative = np.array([np.concatenate([[0.0], np.cumsum(r["epoch_s"])])
                                    for r in runs])
        self.score_s = np.array([r["score_s"] for r in runs])
        self.curves = np.array([[np.nan] + r["val_score"] for r in runs])
        self.noise_sigma = float(data["noise_sigma"])
        self.max_epochs = int(data["max_epochs"])
        self.meta = {k: v for k, v in data.items() if k != "configs"}

    def __len__(self):
        return len(self.score_s)

    def full_training(self, model):
        """Median over runs of one split's full training: :math:`\\sum_t e_t + K s`."""
        rungs = _rungs(model)
        return float(np.median(self.cumulative[:, model.max_resources]
                               + len(rungs) * self.score_s))

    def target(self, model):
        """The ``target_quantile`` of :math:`y(R)` over the recorded runs."""
        return float(np.quantile(self.curves[:, model.max_resources], model.target_quantile))


class Population:
    """The seeded stream of candidates over the recorded runs, drawn in fixed blocks so
    that candidate ``i`` is the same whatever the scheduler and however many it uses."""

    def __init__(self, recorded: Recorded, model: Model, seed: int):
        if model.max_resources > recorded.max_epochs:
            raise ValueError(f"max_resources={model.max_resources} exceeds the "
                             f"{recorded.max_epochs} recorded epochs.")
        self.recorded, self.model, self.seed = recorded, model, seed
        self.run = np.empty(0, dtype=int)
        self._noise = {}

    def _grow(self, i):
        while i >= len(self.run):
            rng = np.random.default_rng([self.seed, 0, len(self.run) // _BLOCK])
            self.run = np.concatenate([self.run, rng.integers(len(self.recorded), size=_BLOCK)])

    def curve(self, i, budget):
        """:math:`y_{j(i)}(b)`, the recorded validation accuracy."""
        self._grow(i)
        return float(self.recorded.curves[self.run[i], budget])

    observed = curve

    def duration(self, i, start, stop, split):
        """:math:`d_{i,b',q}` (module docstring); the noise is drawn once per (block, b', q)."""
        self._grow(i)
        key = (i // _BLOCK, int(stop), split)
        if key not in self._noise:
            rng = np.random.default_rng([self.seed, 1, *key])
            self._noise[key] = rng.lognormal(0.0, self.recorded.noise_sigma, _BLOCK)
        run = self.run[i]
        work = self.recorded.cumulative[run, stop] - self.recorded.cumulative[run, start]
        return float(work * self._noise[key][i % _BLOCK] + self.recorded.score_s[run])


def _rungs(model):
    from hpsearch.model_selection.strategies._asha_schedule import asha_rungs

    return asha_rungs(model.min_resources, model.max_resources, model.factor)


# ---------------------------------------------------------------------------------------------
# the schedulers: next_job() -> (candidate, start budget, stop budget, tag), WAIT or None,
# where tag is ASHA's (job index, rung), (run, round) of a synchronous run, None for random;
# report(job, score)


class ASHAPolicy:
    """``ASHASearchCV``'s decisions: the real ``_Decisions`` over the schedule, with the
    search's lags (``decision_lags``: reproducible) or ``live`` (``reproducible=False``)."""

    def __init__(self, model, n_workers, lag=None, n_trials=None, live=False):
        from hpsearch.model_selection.strategies._asha_schedule import (
            ASHASchedule, decision_lags)
        from hpsearch.model_selection.strategies.asha import _WAIT, _Decisions

        self.schedule = ASHASchedule(model.min_resources, model.max_resources, model.factor,
                                     n_trials)
        self.budgets = self.schedule.budgets
        if lag is None:
            lag = decision_lags(self.budgets, model.factor, n_workers, model.n_splits)
        self.decisions = _Decisions(self.schedule, lag, lambda job: True, live=live)
        self._wait = _WAIT

    def next_job(self):
        job = self.decisions.next()
        if job is None or job is self._wait:
            return None if job is None else WAIT
        start = 0 if job.rung == 0 else self.budgets[job.rung - 1]
        return job.candidate, start, job.budget, (len(self.decisions.jobs) - 1, job.rung)

    def report(self, job, score):
        self.decisions.report(job[3][0], score)


class ASHANTrialsPolicy(ASHAPolicy):
    """``ASHASearchCV(n_trials=n)``: the same ``n`` candidates as one sync halving run."""

    def __init__(self, model, n_workers):
        super().__init__(model, n_workers, n_trials=model.n_candidates)


class ASHALivePolicy(ASHAPolicy):
    """``ASHASearchCV(reproducible=False)``: every result applied when it arrives."""

    def __init__(self, model, n_workers):
        super().__init__(model, n_workers, live=True)


class ASHALagWPolicy(ASHAPolicy):
    """What-if (the search's former rule): one lag ``W`` for every rung, i.e. job
    :math:`m` decided from jobs :math:`0, \\dots, m - W`."""

    def __init__(self, model, n_workers):
        super().__init__(model, n_workers, lag=n_workers)


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


def _halving(model):
    from hpsearch.model_selection.strategies._halving_schedule import halving_schedule

    return halving_schedule(model.n_candidates, min_resources=model.min_resources,
                            max_resources=model.max_resources, factor=model.factor)


class HalvingPolicy(_SyncPolicy):
    """``HalvingSearchCV``'s rounds: :func:`halving_schedule` of ``n`` candidates."""

    def _runs(self):
        schedule = _halving(self.model)
        while True:
            yield (self.model.n_candidates, schedule.n_resources,
                   schedule.n_candidates[1:])


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
    "ASHA n_trials=n": ASHANTrialsPolicy,
    "sync halving": HalvingPolicy,
    "Hyperband": HyperbandPolicy,
    "random": RandomPolicy,
    "ASHA (live)": ASHALivePolicy,
    "ASHA (lag W)": ASHALagWPolicy,
}


# ---------------------------------------------------------------------------------------------
# the cluster


def wall_budget(recorded, model, n_workers):
    """``T``: ``sync_runs`` halving runs' split-work per worker + ``full_trainings``."""
    schedule = _halving(model)
    budgets = (0,) + tuple(schedule.n_resources)
    epochs = sum(n * (b - a) for n, a, b in
                 zip(schedule.n_candidates, budgets, budgets[1:]))
    per_epoch = float(np.median(recorded.cumulative[:, model.max_resources]
                                / model.max_resources))
    run_work = model.n_splits * (epochs * per_epoch + sum(schedule.n_candidates)
                                 * float(np.median(recorded.score_s)))
    return (model.sync_runs * run_work / n_workers
            + model.full_trainings * recorded.full_training(model))


def simulate(policy_name, n_workers, population, target, wall=None, trace=None):
    """Run one scheduler on ``n_workers`` until the wall budget; return its figures.

    As hpsearch's engine does, a job (one candidate at one budget) is ``n_splits`` tasks,
    one per CV split, each on its own worker; its result is reported to the scheduler
    when its last split ends. A free worker takes the oldest waiting split; when none
    waits, it asks the scheduler for a new job (:data:`WAIT` or ``None``: it idles until
    the next fit ends). ``trace``, a list, receives ``(start, end, job)`` of every split
    started (for tests).
    """
    model = population.model
    policy = POLICIES[policy_name](model, n_workers)
    if wall is None:
        wall = wall_budget(population.recorded, model, n_workers)
    top, n_splits = model.max_resources, model.n_splits
    running, seq = [], 0  # heap of (end, seq, job)
    waiting = deque()  # (seq, split, job) of handed-out jobs not started yet
    left = {}  # seq of a job -> splits not ended
    idle, busy, now = n_workers, 0.0, 0.0
    first_full = to_target = None
    n_full = n_jobs = 0
    while True:
        while idle and now < wall:
            if not waiting:
                job = policy.next_job()
                if job is None or job is WAIT:
                    break
                waiting.extend((seq, q, job) for q in range(n_splits))
                left[seq] = n_splits
                seq += 1
                n_jobs += 1
            key, split, job = waiting.popleft()
            end = now + population.duration(job[0], job[1], job[2], split)
            busy += min(end, wall) - now
            if trace is not None:
                trace.append((now, end, job))
            heapq.heappush(running, (end, key, split, job))
            idle -= 1
        if not running:
            break
        now, key, _, job = heapq.heappop(running)
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
        "wall": wall,
    }


def _median(values):
    """Median with ``None`` (not reached) as +inf; ``None`` if the median is not reached."""
    m = statistics.median(math.inf if v is None else v for v in values)
    return None if m == math.inf else float(m)


def measure(workers=WORKERS, seeds=(0, 1, 2), model=None, recorded=None,
            schedulers=SCHEDULERS + WHAT_IFS):
    """``{(scheduler, W): {figure: median over seeds}}`` plus the target score."""
    model = model or Model()
    recorded = recorded or Recorded()
    target = recorded.target(model)
    out = {}
    for seed in seeds:
        pop = Population(recorded, model, seed)
        for w in workers:
            for name in schedulers:
                figures = simulate(name, w, pop, target)
                for key, value in figures.items():
                    out.setdefault((name, w), {}).setdefault(key, []).append(value)
    medians = {
        cell: {key: _median(values) for key, values in figs.items()}
        for cell, figs in out.items()
    }
    return medians, target


def full_training_bounds(recorded, model):
    """One split's full training (all ``R`` epochs + one scoring per rung) over the recorded
    runs: ``(fastest, median)`` in seconds.

    With continued training a candidate's rung increments add up to one full training, run
    one after the other, so no scheduler's first full-budget result comes before the
    fastest run's full training (and before a median run's when the candidate that climbs
    first is a typical one).
    """
    full = recorded.cumulative[:, model.max_resources] + len(_rungs(model)) * recorded.score_s
    return float(full.min()), float(np.median(full))


def sweep(n_values=N_SWEEP, n_workers=SWEEP_WORKERS, seeds=(0, 1, 2, 3, 4), recorded=None,
          schedulers=SWEEP_SCHEDULERS):
    """Time to the first full-budget result against the size ``n`` of the synchronous search.

    Returns one dict per ``n``: ``n``, ``sync`` (synchronous halving's median first full
    result, s), ``ratios`` ({scheduler: its median / sync's}), ``utilization``
    ({scheduler: median}), ``floor`` and ``median_floor`` (:func:`full_training_bounds`
    over ``sync``: the best any scheduler could do, and a typical candidate's full
    training).
    """
    recorded = recorded or Recorded()
    out = []
    for n in n_values:
        model = Model(n_candidates=n)
        medians, _ = measure((n_workers,), seeds, model, recorded, schedulers=schedulers)
        sync = medians[("sync halving", n_workers)]["first_full"]
        fastest, typical = full_training_bounds(recorded, model)
        out.append({
            "n": n, "sync": sync,
            "ratios": {name: _ratio_value(medians[(name, n_workers)]["first_full"], sync)
                       for name in schedulers},
            "utilization": {name: medians[(name, n_workers)]["utilization"]
                            for name in schedulers},
            "floor": fastest / sync, "median_floor": typical / sync,
        })
    return out


def _ratio_value(a, b):
    return None if a is None or not b else a / b


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
    n = model.n_candidates
    for w in workers:
        wall = medians[("ASHA", w)]["wall"]
        for key, label, unit, ratio_target, scale in _FIGURES:
            asha = _scaled(medians[("ASHA", w)][key], scale)
            sync = _scaled(medians[("sync halving", w)][key], scale)
            others = ", ".join(
                f"{name} {_fmt(_scaled(medians[(name, w)][key], scale), unit)}"
                for name in SCHEDULERS[1:] + WHAT_IFS
                if name != "sync halving" and (name, w) in medians
            )
            met = None
            if key == "utilization" and w == 64:
                met, extra_target = asha is not None and asha >= 95.0, "ASHA >= 95 %"
            else:
                extra_target = ratio_target if (w == 64 and ratio_target) else ""
            note = (f"{others}; sync halving n = {n}; median of {n_seeds} seeds, "
                    f"T = {wall:.1f} s")
            if key == "to_target":
                note += f", target y(R) >= {target:.4f}"
            row = Row(NAME, f"n={n} W={w} {label} (ASHA vs sync halving)", asha, sync, unit,
                      target=extra_target, met=met, note=note,
                      extra={name: medians[(name, w)][key] for name, ww in medians if ww == w})
            rows.append(row)
    return rows


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:g}"


def matrix(medians, workers=WORKERS, schedulers=SCHEDULERS + WHAT_IFS):
    """One Markdown table: a row per (W, scheduler), ratios against sync halving."""
    head = ("| W | T | scheduler | utilization | first full | vs sync | to target | vs sync "
            "| full results |")
    lines = [head, "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for w in workers:
        sync = medians[("sync halving", w)]
        for name in schedulers:
            if (name, w) not in medians:
                continue
            f = medians[(name, w)]
            lines.append(
                f"| {w} | {f['wall']:.1f} s | {name} | {_fmt(100 * f['utilization'], '%')} | "
                f"{_fmt(f['first_full'], 's')} | {_ratio(f['first_full'], sync['first_full'])} "
                f"| {_fmt(f['to_target'], 's')} | {_ratio(f['to_target'], sync['to_target'])} "
                f"| {_fmt(f['n_full'])} |"
            )
    return "\n".join(lines)


def sweep_matrix(rows, n_workers=SWEEP_WORKERS, schedulers=SWEEP_SCHEDULERS):
    """Markdown: per ``n``, each scheduler's first full-budget result over sync halving's."""
    names = [name for name in schedulers if name != "sync halving"]
    lines = [f"| n | sync halving first full (W = {n_workers}) | "
             + " | ".join(f"{name} vs sync" for name in names)
             + " | any scheduler >= | median candidate | sync util. |",
             "|---:|---:|" + "---:|" * len(names) + "---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n']} | {_fmt(r['sync'], 's')} | "
                     + " | ".join("-" if r["ratios"][name] is None else f"{r['ratios'][name]:.2f}"
                                  for name in names)
                     + f" | {r['floor']:.2f} | {r['median_floor']:.2f} | "
                     f"{_fmt(100 * r['utilization']['sync halving'], '%')} |")
    return "\n".join(lines)


def sweep_rows(rows, n_workers=SWEEP_WORKERS, n_seeds=5):
    """House rows: ASHA's first full-budget result over sync halving's, per ``n``."""
    out = []
    for r in rows:
        asha = r["ratios"]["ASHA"]
        others = ", ".join(f"{name} {r['ratios'][name]:.2f}" for name in r["ratios"]
                           if name not in ("ASHA", "sync halving") and r["ratios"][name] is not None)
        out.append(Row(NAME, f"n={r['n']} W={n_workers} first full-budget result, ASHA / sync "
                       f"halving", None if asha is None else asha * r["sync"], r["sync"], "s",
                       target="<= 0.333",
                       note=f"{others}; no scheduler can go below {r['floor']:.2f} (fastest "
                            f"candidate's full training), a median candidate's is "
                            f"{r['median_floor']:.2f}; median of {n_seeds} seeds"))
    return out


def _ratio(a, b):
    value = _ratio_value(a, b)
    return "-" if value is None else f"{value:.2f}"


def _setup(quick):
    if quick:
        return (Model(sync_runs=1.0, full_trainings=2.0),), (2, 16, 64), (0,)
    return tuple(Model(n_candidates=n) for n in N_CANDIDATES), WORKERS, (0, 1, 2, 3, 4)


def run(quick=False, repeats=3):
    """House-style rows (``repeats`` is unused: the simulation is deterministic)."""
    models, workers, seeds = _setup(quick)
    recorded = Recorded()
    rows = []
    for model in models:
        medians, target = measure(workers, seeds, model, recorded)
        rows.extend(rows_from(medians, target, model, workers, len(seeds)))
    if not quick:
        rows.extend(sweep_rows(sweep(seeds=seeds, recorded=recorded), n_seeds=len(seeds)))
    return rows


def main():
    import time

    t0 = time.perf_counter()
    models, workers, seeds = _setup("--quick" in sys.argv)
    recorded = Recorded()
    print(f"recorded runs: {len(recorded)} ({recorded.meta['task']}); noise sigma "
          f"{recorded.noise_sigma:.3f}; median full training (one split, {models[0].max_resources} "
          f"epochs + scoring) {recorded.full_training(models[0]):.3f} s")
    for model in models:
        medians, target = measure(workers, seeds, model, recorded)
        print(f"\nsync halving n = {model.n_candidates} candidates per run; "
              f"target y(R) >= {target:.4f}; median of {len(seeds)} seeds")
        print(matrix(medians, workers))
    if "--quick" not in sys.argv:
        print(f"\nfirst full-budget result against the size n of the synchronous search, "
              f"W = {SWEEP_WORKERS}, median of {len(seeds)} seeds")
        print(sweep_matrix(sweep(seeds=seeds, recorded=recorded)))
    print(f"\nsimulated in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
