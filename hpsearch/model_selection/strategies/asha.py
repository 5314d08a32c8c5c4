"""Asynchronous successive halving (ASHA) that continues training, with a BOHB-style sampler.

:class:`ASHASearchCV` drives :class:`~._asha_schedule.ASHASchedule` (Li et al., "A System
for Massively Parallel Hyperparameter Tuning", MLSys 2020, Algorithm 2; the rule as
formulas is in that module's docstring): a free worker either *promotes* a candidate in
the top :math:`\\lfloor n_k / \\eta \\rfloor` of its rung :math:`k`, or *starts* a new
candidate at the bottom rung. A promotion continues each split's saved training state
(``continue_training=True``, ``DESIGN.md`` decision 2), so with hpsearch's MLP a candidate
trained 1, 3, 9 then 27 epochs ends bit-identical to straight training to 27 epochs.

How jobs reach the workers
--------------------------
A *job* is one candidate at one rung, i.e. its ``n_splits`` fits. On fork workers (the
default on Linux with ``n_jobs > 1``) and in-process (``n_jobs=1``) there is no barrier:
the engine pulls the next job whenever a worker is idle and no decided fit waits
(``Engine.run`` with a callable source, ``evaluate.stream``), and a job's result reaches
the schedule the moment its last split ends. The result of job :math:`j` at rung
:math:`k` is applied right before job :math:`j + L_k` is decided, results due together
in job order, later ones held back until their turn (:class:`_Decisions`): the lag
:math:`L_k = \\max(W, \\lceil 2 (W / n_{\\text{splits}}) \\Delta b_k / \\bar\\Delta \\rceil)`
grows with the epochs :math:`\\Delta b_k` a rung-:math:`k` job adds
(:func:`~._asha_schedule.decision_lags`; :math:`W` = the engine's workers). So

- with ``n_jobs=1`` this is exactly sequential ASHA, reproducible for a fixed
  ``random_state``;
- with :math:`W > 1` workers the decisions never depend on which fit finished first:
  reproducible for a fixed ``random_state`` *and* worker count. A worker waits only when
  a due result is late (a job that ran longer than the :math:`L_k` jobs decided after
  it). A plain lag of :math:`W` jobs for every rung made workers wait behind every long
  high-rung job: 30 % utilization at 64 workers in ``benchmarks/sim_schedulers.py``
  (recorded MLP fit times), against 99 % with these lags. A different :math:`W` gives
  different promotions (inherent to ASHA: what a rung holds when a worker asks depends
  on the parallelism);
- with ``reproducible=False`` every result is applied the moment it arrives and no
  worker waits while a job can be decided (Li et al.'s ASHA; 100 % utilization in the
  simulator), at the price of promotions that depend on which fit finished first.

Engines that take whole batches (joblib backends: ``backend="loky"``, Dask, threading)
get *waves* of :math:`W` jobs instead, each decided from every earlier result; each wave
ends with its slowest job (``async_`` is then False).

New candidates
--------------
``sampler="random"`` draws from ``param_distributions`` with the search's
``random_state``. Any other sampler (``"tpe"``, ``"gp"``, ... or an Optuna sampler
instance) proposes from a model of the highest rung :math:`k^*` holding at least
:math:`n_{\\min} = \\max(d + 2, 10)` finite results (:math:`d` searched parameters; BOHB,
Falkner et al. 2018, fits on the highest budget with enough points; 10 is TPE's number of
random start-up trials), told as a fresh Optuna study (:func:`~._asha_schedule.ask_model`);
below that it samples at random through the same sampler. A proposal equal to an existing
candidate is drawn again; after ``MAX_DRAWS`` such repeats (TPE around its best points of
a small discrete space, QMC whose sequence restarts in each fresh study) the candidate is
drawn at random (Optuna's ``RandomSampler`` seeded from ``random_state``), and only when
that repeats ``MAX_DRAWS`` times too does the space count as exhausted.

Enqueued trials
---------------
Trials an Optuna user enqueued in the study (``study.enqueue_trial(params)``, the study
of ``storage`` and ``study_name`` with ``resume=True``) are started first, as Optuna's
samplers run WAITING trials first: each new candidate is the next enqueued trial while
one waits (lowest trial number first; :class:`_Enqueued`), at the bottom rung, promoted
by the usual rule, and counts towards ``n_trials``. The enqueued trial itself becomes
the candidate's trial, closed COMPLETE or PRUNED (FAIL if interrupted) like ASHA's own.
It is taken as ``study.ask()`` takes it, WAITING -> RUNNING in the storage
(:meth:`~hpsearch.model_selection.store.TrialStore.pop_enqueued`), so of several
processes on the study exactly one runs it: that update is atomic in journal files and
database servers; SQLite has no row lock (two processes may both set one trial
RUNNING), so there, when another process takes enqueued trials too, each taker also
creates a ticket, a trial closed FAIL at once (``hpsearch_ticket``), and the first
ticket takes it (:meth:`~hpsearch.model_selection.store.TrialStore.lost_enqueued`). Its
values are checked against ``param_distributions`` (:func:`enqueued_params`), as Optuna checks a fixed parameter: a value of the wrong type
(a string for a :class:`~..space.Float`, ``2.5`` for an :class:`~..space.Int`), not among
the choices of a list, or a name not in the space closes the trial FAIL (user attribute
``hpsearch_invalid``: the message naming the parameter, the rule and the value) with a
``UserWarning``, and the next one is taken; a value of the right type outside its
bounds runs as given with a warning (Optuna's behaviour); parameters not enqueued are
drawn at random (seeded by the search's seed and the trial number). A trial repeating a
candidate already started is closed FAIL (``hpsearch_duplicate``) with a warning. The
candidates drawn afterwards are those a study without enqueued trials gets. Trials still
WAITING when the search ends (``n_trials`` reached first) are named in a warning; a
resume with a larger ``n_trials`` takes them. A resume replays each enqueued trial at
the candidate it became (user attribute ``hpsearch_asha_enqueued``), so after a SIGKILL
its finished fits are reused like those of any candidate; one a killed process took
before making it a candidate (RUNNING, no ``hpsearch_key``) is closed FAIL
(``hpsearch_interrupted``) and enqueued again, also when the process was killed before
writing its owner (the mark it wrote first, ``hpsearch_taking:<owner>``, names it) or
stopped by Ctrl-C or SIGTERM (the trial stays RUNNING for this), and by a live process
sharing the study before it takes an enqueued trial, so the trial runs in that run
(:meth:`_Enqueued._enqueue_orphans`).

Store and resume
----------------
Every (candidate, rung) row is a budgeted row of the trial store: one Optuna trial per
candidate with its rung scores as intermediate values, closed PRUNED when the candidate
stopped below the top rung and COMPLETE at the top; its ``hpsearch_job`` user attribute
names the row being fitted. ``resume=True`` with the same ``random_state`` and worker
count replays the same decisions and finds every finished row (and finished split) in
the store, so only missing fits run (also after a SIGKILL: a RUNNING trial of the dead
process is closed FAIL, ``hpsearch_interrupted``, and its candidate claimed with a new
trial carrying its rung scores, the lowest new trial winning when several processes
resume at once); a promotion whose lower rung came from the store refits from
scratch at the higher budget (the same result for hpsearch's MLP). Failed fits stay
failed, except those an earlier run stopped under a shorter ``fit_timeout`` than this
one's (or any, with ``fit_timeout=None``), as in every search: their rows are not
recorded (:meth:`~hpsearch.model_selection.store.TrialStore._drop_timed_out`), so the
replay fits the stopped fits again and decides on their new scores, fitting what
those decisions promote (a replay ends with the uninterrupted run's results); a shared
study continued from the store treats such a row as a job of a dead process and fits
it again before promoting on it. ``n_trials`` counts the study's candidates: a resume
that draws a candidate the study does not hold (another ``random_state``, a larger
``n_trials``) claims it only while fewer than ``n_trials`` candidates precede it, and
once one is given up continues the study as a shared one (its ``cv_results_`` from the
store). A resume with another ``param_distributions`` is refused when it opens the study
(:meth:`~hpsearch.model_selection.store.TrialStore.check_space`).

Several processes on one ASHA
-----------------------------
Processes running the same search with ``resume=True`` on one storage (a SQLite file, a
journal file, a server URL) and ``study_name`` run one ASHA together (:class:`_Shared`).
A process alone decides as above (it only reads which live processes hold trials before
each decision and claims each new candidate atomically). Once it sees another live
process on the study (or the study was shared before) it decides from the store for
the rest of the search, before every job:

- the schedule is rebuilt from every recorded (candidate, rung) result of every process
  (:meth:`~._asha_schedule.ASHASchedule.from_results`; a candidate's id is the number of
  its first trial), and every job in flight anywhere (the ``hpsearch_job`` row of a
  candidate, not recorded yet) is marked pending
  (:meth:`~._asha_schedule.ASHASchedule.mark_pending`), so nobody runs a job twice and
  promotions rank the results of all processes;
- a candidate belongs to the process holding its lowest RUNNING trial; only that process
  promotes it (continuing its kept training state). A job whose process died (gone on
  this machine, or no heartbeat for ``GRACE_PERIOD`` s) is taken over first, and a
  candidate nobody holds (its process died or ended) is claimed before it is promoted,
  refitted from scratch at the higher budget (bit-identical for hpsearch's MLP when the
  estimator fixes its ``random_state``; a process seeds the fits of a candidate it first
  meets from another process by the candidate's number);
- a new candidate is drawn (skipping those already in the study) and claimed by creating
  its RUNNING trial: the lower trial id wins, a loser is closed FAIL
  (``hpsearch_duplicate``) and draws again; only the first ``n_trials`` candidates of
  the study keep their claim, so ``n_trials`` counts candidates across all processes.
  Claims are atomic on SQLite and journal files (trial ids follow commit order).

A process ends when the whole shared ASHA is done (nothing in flight anywhere, nothing
to promote, ``n_trials`` reached; with nothing to do meanwhile it waits), closes its
candidates below the top rung PRUNED (and those of dead or interrupted processes whose
jobs all finished, in a new trial with their rung scores, PRUNED or COMPLETE), and
builds ``cv_results_`` from the store: every
row of every process, ordered by (candidate number, rung), ``candidate`` being that
number. So all processes end with the same ``cv_results_`` and ``best_params_``.
``n_candidates_`` counts the candidates of all processes.

Processes must run the same ASHA: each candidate's claimed trial records the settings of
the process that drew it (space, ``n_trials``, ``resource``, ``factor``, rung budgets),
and a process that finds a candidate drawn with another space, ``resource``, ``factor``
or rung budgets, or held by a running process with another ``n_trials``, raises
:class:`~hpsearch.model_selection.store.StudyMismatch` (a ``ValueError``) naming the
setting, also in its ``setting`` attribute (before it draws anything when it joins a running
study; processes started at the same instant with different settings may both refuse).
A larger ``n_trials`` once the other processes have ended extends the shared study. The
``random_state``, ``sampler``, ``n_jobs`` and ``timeout`` may differ between processes;
another estimator (any of its parameters), ``scoring``, ``cv`` or ``return_train_score``
is refused when the process opens the study, as for every search
(:meth:`~hpsearch.model_selection.store.TrialStore.check_settings`).

What cooperation does not reproduce: which process runs which job, and so which
decisions see which results, depends on timing; a shared run is not repeatable, and a
``resume=True`` of a shared study (the study system attribute ``hpsearch_asha_shared``)
continues it from the store instead of replaying it. A model-based sampler is told the
candidates whose Optuna parameters the study records (every candidate started on a
shared storage). With ``timeout``, a process stops deciding at its own deadline; one
that another process joined after its last look still ends as a shared process (its
``cv_results_`` from the store, every row, a job the timeout cut included, under the
candidate's number in the study).
"""

import heapq
import json
import math
import time
from collections import namedtuple
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods

from ._asha_schedule import ASHASchedule, Job, ask_model, decision_lags, plain
from .._base import Int, _hash, _key, _stable, _timeout_message
from .._docstrings import fill_doc
from ..store import POLL_INTERVAL, StudyMismatch, _step, decode_value
from .halving import (
    _BaseHalving,
    _cut_rows,
    select_best_index,
    time_is_up,
    warn_budget_fallback,
)

__all__ = ["ASHASearchCV"]

#: Draws of a new candidate (from the sampler, then at random) before the space counts as
#: exhausted (a small discrete space).
MAX_DRAWS = 100
#: TPE's random start-up trials (``optuna.samplers.TPESampler(n_startup_trials=10)``).
TPE_STARTUP = 10


def _param_key(params):
    return json.dumps(_stable(params), sort_keys=True)


def _owner(trial):
    """The process that claimed ``trial`` (its ``hpsearch_owner``), None if unknown."""
    return trial.user_attrs.get("hpsearch_owner")


class _RandomProposals:
    """New candidates drawn at random from the space (the search's ``random_state``)."""

    def __init__(self, space, random_state):
        self.space = space
        self.rng = check_random_state(random_state)

    def __call__(self, schedule, optuna_params):
        from ..space import sample_candidates

        return sample_candidates(self.space, 1, self.rng)[0], None


class _ModelProposals:
    """New candidates from an Optuna sampler told the highest rung with enough results.

    :meth:`draw_at_random`: a candidate from Optuna's ``RandomSampler`` (seeded from
    ``random_state``), for when the model keeps proposing known candidates."""

    def __init__(self, space, sampler, random_state=None):
        from ..space import optuna_distributions

        self.space = space
        self.sampler = sampler
        self.n_min = max(len(optuna_distributions(space)) + 2, TPE_STARTUP)
        self.random_state = random_state
        self._random = None

    def draw_at_random(self):
        if self._random is None:
            import optuna

            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            self._random = optuna.samplers.RandomSampler(seed=seed)
        return ask_model(self._random, self.space, [])

    def __call__(self, schedule, optuna_params):
        found = schedule.model_results(self.n_min)
        observations = []
        if found is not None:  # (cooperating processes: the candidates known here)
            _, scores = found
            observations = [(optuna_params[c], s) for c, s in sorted(scores.items())
                            if c in optuna_params]
        return ask_model(self.sampler, self.space, observations)


def _draws(propose, schedule, optuna_params):
    """The proposals to try for one new candidate: ``MAX_DRAWS`` of ``propose``, then,
    for a model-based sampler, ``MAX_DRAWS`` random draws. A model may keep proposing
    known candidates although the space holds others (TPE around its best points of a
    small discrete space; QMC, whose sequence restarts in each fresh study): only when
    random draws repeat too does the space count as exhausted."""
    for _ in range(MAX_DRAWS):
        yield propose(schedule, optuna_params)
    draw_at_random = getattr(propose, "draw_at_random", None)
    if draw_at_random is not None:
        for _ in range(MAX_DRAWS):
            yield draw_at_random()


# -- trials enqueued with Optuna's study.enqueue_trial -------------------------------
#: user attribute of an enqueued trial ASHA took: the index of the candidate it became
#: (a resume of a search never shared replays it there)
ENQUEUED_ATTR = "hpsearch_asha_enqueued"
#: user attribute of an enqueued trial a dead process took, closed FAIL: the process
#: enqueuing it again (:meth:`_Enqueued._enqueue_orphans`)
REQUEUING_ATTR = "hpsearch_requeuing"
#: user attribute of a trial enqueued again: the id of the trial it replaces
REQUEUED_ATTR = "hpsearch_requeued_from"
#: Seconds a process waits at most for the copy of an orphaned enqueued trial that
#: another process closed to enqueue it again (``_Enqueued._await_copies``).
COPY_WAIT = 10.0


def _poll(done, timeout=COPY_WAIT):
    """Call ``done()`` every :data:`~hpsearch.model_selection.store.POLL_INTERVAL` s
    until it returns True or ``timeout`` s have passed (the waits of processes sharing
    a study for what another live process is about to write)."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)


class _Rule(ValueError):
    """An enqueued value breaking the rule of its dimension (``rule``: what it must be)."""


def _as_choice(dim, value):
    """The choice of a :class:`~..space.Categorical` an enqueued value names: the choice
    itself (a list read back from the storage for a tuple), its string code, or an equal
    number (Optuna's ``choices.index``)."""
    from ..space import _equal, _is_real, _to_tuples

    for candidate in (value, _to_tuples(value)):
        for choice in dim.choices:
            if type(choice) is type(candidate) and _equal(choice, candidate):
                return choice
    if not dim._primitive:
        for choice, code in zip(dim.choices, dim._encoded):
            if value == code:
                return choice
    if _is_real(value):
        for choice in dim.choices:
            if _is_real(choice) and choice == value:
                return choice
    raise _Rule(f"one of the choices {list(dim.choices)!r}")


def _as_real(dim, value):
    from ..space import _is_real

    if not (_is_real(value) and math.isfinite(value)):
        raise _Rule("a finite real number")
    return float(value)


def _as_integer(dim, value):
    from ..space import _is_real

    if not (_is_real(value) and math.isfinite(value) and float(value).is_integer()):
        raise _Rule("an integer")
    return int(value)


def _as_scipy_value(dim, value):
    """A value of a scipy distribution: an integer for a discrete one, else a real
    number (an object with ``rvs`` only: any value)."""
    from scipy.stats import rv_discrete

    if not hasattr(dim.dist, "support"):
        return value
    discrete = isinstance(getattr(dim.dist, "dist", None), rv_discrete)
    return (_as_integer if discrete else _as_real)(dim, value)


def _in_range(dim, value):
    """Whether a checked value lies in its dimension (bounds and ``step``; always for
    choices), as Optuna's ``distribution._contains`` says for a fixed parameter."""
    from ..space import Categorical, Distribution

    if isinstance(dim, Categorical):
        return True
    if isinstance(dim, Distribution):
        if not hasattr(dim.dist, "support"):
            return True
        low, high = dim.dist.support()
        return bool(low <= value <= high)
    if not dim.low <= value <= dim.high:
        return False
    if dim.step is None:
        return True
    k = (value - dim.low) / dim.step
    return abs(k - round(k)) <= 1e-8 * max(1.0, abs(k))


def _checks():
    """Dimension class -> the check of an enqueued value (returns the value the
    estimator gets, or raises :class:`_Rule`)."""
    from ..space import Categorical, Distribution, Float, Int

    return {Categorical: _as_choice, Float: _as_real, Int: _as_integer,
            Distribution: _as_scipy_value}


def _sub_spaces_of(fixed, spaces):
    """``[(index, {name: value})]`` of the sub-spaces holding every enqueued name (a
    name may also be the Optuna name :func:`~..space.suggest` gives it, and
    ``__space_index__`` picks the sub-space), or raises :class:`_Rule` (rule, name,
    value) for the first unknown name."""
    from ..space import SPACE_INDEX_PARAM, _optuna_names

    names = _optuna_names(spaces) if len(spaces) > 1 else [{n: n for n in spaces[0]}]
    wanted = fixed.get(SPACE_INDEX_PARAM)
    fixed = {k: v for k, v in fixed.items() if k != SPACE_INDEX_PARAM}
    found, unknown = [], None
    for i, (sub, optuna_names) in enumerate(zip(spaces, names)):
        if wanted is not None and wanted != i:
            continue
        to_real = {v: k for k, v in optuna_names.items()}
        real = {to_real.get(k, k): v for k, v in fixed.items()}
        missing = [k for k in real if k not in sub]
        if missing:
            unknown = unknown or missing[0]
        else:
            found.append((i, real))
    if found:
        return found
    if unknown is None:  # no sub-space of that index
        raise _Rule(f"an index of the {len(spaces)} sub-spaces", SPACE_INDEX_PARAM, wanted)
    known = sorted({n for sub in spaces for n in sub})
    raise _Rule(f"a parameter of param_distributions ({known})", unknown, fixed[unknown])


def _fill(sub, real, rng, where):
    """The candidate of one sub-space: the enqueued values checked, the others drawn;
    raises :class:`_Rule` (rule, name, value)."""
    import warnings

    from ..space import condition_holds

    checks, params = _checks(), {}
    for name, dim in sub.items():
        if not condition_holds(dim.when, params):
            continue  # (an enqueued value of an inactive parameter is not used)
        if name not in real:
            params[name] = dim.rvs(rng)
            continue
        try:
            value = checks[type(dim)](dim, real[name])
        except _Rule as exc:
            raise _Rule(exc.args[0], name, real[name]) from None
        if not _in_range(dim, value):
            warnings.warn(
                f"The enqueued value of parameter {name!r}{where} is out of range for "
                f"its dimension {dim!r}; it is run as given, as Optuna runs a fixed "
                f"parameter out of range. Got {real[name]!r}.", UserWarning, stacklevel=3)
        params[name] = value
    return params


def enqueued_params(fixed, space, random_state=None, where=""):
    """The candidate of a trial enqueued with ``study.enqueue_trial(fixed)``.

    Each enqueued value must suit its dimension: a choice of a list or
    :class:`~..space.Categorical` (the choice, a list for a tuple as the storage gives
    it back, its string code, or an equal number), a finite real number for a
    :class:`~..space.Float` or continuous scipy distribution, an integer (``3`` or
    ``3.0``) for an :class:`~..space.Int` or discrete one; every name must be a
    parameter of the space (of the first sub-space, of a list of dicts, where they all
    fit). As Optuna does with a fixed parameter (``Trial._suggest``), a value of the
    right type outside its dimension's bounds (or ``step``) is run as given with a
    warning, a value of the wrong type or no choice is an error, and a parameter whose
    condition (``when``) fails is not used. Parameters not enqueued are drawn at random
    from the sub-space (with ``random_state``), as the study's sampler draws them for
    Optuna.

    Parameters
    ----------
    fixed : dict
        The enqueued parameters (``trial.system_attrs["fixed_params"]``).
    space : list of dict
        The search space (:func:`~..space.as_space`).
    random_state : int, RandomState or None
    where : str
        Names the trial in messages (e.g. ``" (trial 3 of study 's')"``).

    Returns
    -------
    params : dict

    Raises
    ------
    ValueError
        Naming the parameter, the rule and the value.
    """
    rng = check_random_state(random_state)
    first = None
    try:
        for index, real in _sub_spaces_of(dict(fixed), space):
            try:
                return _fill(space[index], real, rng, where)
            except _Rule as exc:
                first = first or exc
    except _Rule as exc:
        first = exc
    rule, name, value = first.args
    raise ValueError(f"The enqueued value of parameter {name!r}{where} must be {rule}. "
                     f"Got {value!r} instead.")


def _optuna_params_of(params, space):
    """``params`` as an Optuna trial of :func:`~..space.suggest` holds them (to tell a
    model-based sampler), or None when a value lies outside its distribution (an
    enqueued value out of range cannot be told)."""
    from ..space import SPACE_INDEX_PARAM, Categorical, _equal, _optuna_names

    for i, sub in enumerate(space):
        if set(params) - set(sub):
            continue
        names = _optuna_names(space)[i] if len(space) > 1 else {n: n for n in sub}
        out = {SPACE_INDEX_PARAM: i} if len(space) > 1 else {}
        for name, value in params.items():
            dim = sub[name]
            try:
                dist = dim.to_optuna()
            except ValueError:
                return None
            if isinstance(dim, Categorical):
                value = next(code for choice, code in zip(dim.choices, dim._encoded)
                             if type(choice) is type(value) and _equal(choice, value))
            if not dist._contains(dist.to_internal_repr(value)):
                return None
            out[names[name]] = value
        return out
    return None


class _Enqueued:
    """Trials enqueued in the study (``study.enqueue_trial``), taken as new candidates.

    :meth:`pop` takes the first WAITING trial (:meth:`TrialStore.pop_enqueued`: only
    one process gets it) and makes its candidate (:func:`enqueued_params`; the values
    not enqueued drawn with a generator seeded by the search's master seed and the
    trial number, so a replay draws them again); a trial whose values break the space
    is closed FAIL (``hpsearch_invalid``: the message) and one repeating a candidate
    already started is closed FAIL (``hpsearch_duplicate``), each with a warning, and
    the next one is taken. :meth:`replayed`: on ``resume=True``, the trial an earlier
    run of a search never shared took as candidate ``index`` (:data:`ENQUEUED_ATTR`),
    so the replay starts it there again. A trial a killed process took but had not
    made a candidate yet is enqueued again (:meth:`_enqueue_orphans`).
    """

    def __init__(self, search, evaluate, space, model):
        self.store, self.space, self.seed, self.model = (
            evaluate.store, space, int(evaluate.seed), model)
        self.recorded = {}
        if search.resume:
            self._enqueue_orphans(closed=True)
            store = self.store
            for trial in sorted(store._storage.get_all_trials(store._study_id,
                                                              deepcopy=False),
                                key=lambda t: t.number):
                index = trial.user_attrs.get(ENQUEUED_ATTR)
                if index is not None and "hpsearch_duplicate" not in trial.user_attrs:
                    self.recorded.setdefault(int(index), trial)

    def _enqueue_orphans(self, closed=False):
        """Enqueue again (``study.enqueue_trial``, same parameters and user attributes)
        each enqueued trial a process took and died before making it a candidate: RUNNING,
        no ``hpsearch_key``, and every process that may hold it dead (its owner, or, when
        it was killed before writing one, those that marked it:
        :func:`~hpsearch.model_selection.store.enqueued_takers`). One with neither (an
        older hpsearch killed in that window, or a bare ``study.ask()``) counts as lost
        once it has been RUNNING for ``GRACE_PERIOD`` s. It is closed FAIL
        (``hpsearch_interrupted``, and :data:`REQUEUING_ATTR`: this process) first, so
        of several processes finding it one enqueues it (on journal files and database
        servers; on SQLite two may close it, and of those the first ticket,
        :meth:`~hpsearch.model_selection.store.TrialStore.first_to_requeue`, enqueues
        it); nothing of it was fitted. Its copy names it (:data:`REQUEUED_ATTR`).

        Run on resume (``closed``) and before each take (:meth:`pop`), so a trial that a
        process sharing the study took and died with during this run is taken in this
        run (it was left to a later resume, after this process had drawn its
        ``n_trials`` candidates without it). ``closed`` also enqueues again an orphan
        closed FAIL whose copy is missing (the process enqueuing it died in between, or
        an older hpsearch closed it on Ctrl-C) and whose closing process is dead. The
        heartbeats of other machines are read again first (those of the store's last
        read may be old)."""
        import datetime

        import optuna

        store, State = self.store, optuna.trial.TrialState
        now = datetime.datetime.now()
        trials = store._storage.get_all_trials(
            store._study_id, deepcopy=False, states=None if closed else (State.RUNNING,))
        copied = {t.user_attrs.get(REQUEUED_ATTR) for t in trials}
        last = {}  # enqueued parameters -> the last trial number holding them
        for t in trials:
            if "fixed_params" in t.system_attrs:
                text = _param_key(t.system_attrs["fixed_params"])
                last[text] = max(last.get(text, -1), t.number)
        orphans = [
            t for t in trials
            if "fixed_params" in t.system_attrs and "hpsearch_key" not in t.user_attrs
            and ((t.state == State.RUNNING and t._trial_id not in store._mine)
                 or (t.state == State.FAIL and "hpsearch_interrupted" in t.user_attrs
                     and t._trial_id not in copied  # (a copy an older hpsearch made, or
                     # the same parameters enqueued again: a later trial holds them)
                     and last[_param_key(t.system_attrs["fixed_params"])] == t.number))]
        if orphans and store.shared:
            store._read_heartbeats(store._storage.get_study_system_attrs(store._study_id))
        elsewhere = []  # orphans whose copy another live process enqueues
        for trial in orphans:
            if trial.state == State.FAIL:
                if store.alive(trial.user_attrs.get(REQUEUING_ATTR)):
                    elsewhere.append(trial._trial_id)  # its copy is on its way
                    continue
            else:
                store.mark_requeuing()  # (SQLite: before the close reads it RUNNING)
                closed = self._close_orphan(trial, now)
                if closed is None:  # another process closed it first: it enqueues it
                    elsewhere.append(trial._trial_id)
                if not closed:
                    continue
                if not store.first_to_requeue(trial):
                    # another live process closed it too: it enqueues the copy
                    elsewhere.append(trial._trial_id)
                    continue
            if self._copied(trial._trial_id):
                continue  # made by a process found dead since ``trials`` was read
            self.enqueue_copy(trial)
        self._await_copies(elsewhere)

    def _copied(self, trial_id):
        """Whether the study holds a copy of the orphan ``trial_id`` now. Read after this
        process found the one that closed it with it (or the other tickets) dead: a
        copy that process made is there by then (was: a process that had read the
        trials before, then found it dead, its copy enqueued, run and its search ended,
        enqueued a second copy, and its candidate was fitted again)."""
        store = self.store
        return any(t.user_attrs.get(REQUEUED_ATTR) == trial_id
                   for t in store._storage.get_all_trials(store._study_id, deepcopy=False))

    def _await_copies(self, orphans):
        """Wait until the copies of ``orphans`` (trial ids of enqueued trials that
        another process closed to enqueue them again) are enqueued, so this process
        takes them or leaves them to the other, instead of drawing a candidate in their
        place while the other enqueues (was: a process sharing ``n_trials=1`` drew its
        candidate in that moment, and the copy, the study's one enqueued candidate,
        stayed WAITING). The other process enqueues right after its close; the wait
        ends when a copy is there, when the process named to enqueue it is dead, or
        after :data:`COPY_WAIT` s (the one that closed it died in between: a resume
        enqueues it, see :meth:`_enqueue_orphans`)."""
        import optuna

        store, pending = self.store, set(orphans)

        def copied():
            trials = store._storage.get_all_trials(store._study_id, deepcopy=False)
            pending.difference_update(t.user_attrs.get(REQUEUED_ATTR) for t in trials)
            if store.shared:
                store._read_heartbeats(
                    store._storage.get_study_system_attrs(store._study_id))
            by_id = {t._trial_id: t for t in trials}
            for trial_id in list(pending):
                trial = by_id.get(trial_id)
                requeuer = None if trial is None else trial.user_attrs.get(REQUEUING_ATTR)
                if (trial is None or trial.state != optuna.trial.TrialState.FAIL
                        or (requeuer != store.owner and not store.alive(requeuer))):
                    pending.discard(trial_id)  # nobody live enqueues it now
            return not pending

        if pending:
            _poll(copied)

    def _close_orphan(self, trial, now):
        """Close FAIL a RUNNING enqueued trial whose takers are dead (see
        :meth:`_enqueue_orphans`); whether this process did (None: another process
        closed it first)."""
        import optuna

        from .. import store as store_module

        store = self.store
        takers = store_module.enqueued_takers(trial)
        # (this process's mark on a trial it does not hold: another took it first)
        if any(store.alive(owner) for owner in takers if owner != store.owner):
            return False
        started = trial.datetime_start
        if not takers and (started is None or (now - started).total_seconds()
                           < store_module.GRACE_PERIOD):
            return False
        try:
            store._storage.set_trial_user_attr(trial._trial_id, "hpsearch_interrupted", True)
            store._storage.set_trial_user_attr(trial._trial_id, REQUEUING_ATTR, store.owner)
            store._storage.set_trial_state_values(trial._trial_id,
                                                  optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            return None  # another process closed it first (and enqueues it again)
        return True

    def _where(self, trial):
        return f" (trial {trial.number} of study {self.store.study.study_name!r})"

    def params(self, trial):
        """``(params, Optuna params or None)`` of an enqueued trial's candidate."""
        rng = np.random.RandomState([self.seed % 2**32, trial.number])
        params = enqueued_params(trial.system_attrs.get("fixed_params") or {}, self.space,
                                 rng, self._where(trial))
        return params, (_optuna_params_of(params, self.space) if self.model else None)

    def replayed(self, index):
        trial = self.recorded.get(index)
        if trial is None:
            return None
        try:
            return self.params(trial)
        except ValueError:  # (resumed with another space: drawn instead)
            return None

    def pop(self, known):
        """``(trial, params, Optuna params)`` of the next enqueued trial this process
        takes whose candidate is valid and not ``known(params)``; None when none
        waits. Enqueued trials dead processes took are enqueued again first
        (:meth:`_enqueue_orphans`)."""
        self._enqueue_orphans()
        while True:
            trial = self.store.pop_enqueued()
            if trial is None:
                return None
            try:
                params, optuna_params = self.params(trial)
            except ValueError as exc:
                self._reject(trial, "hpsearch_invalid", f"{exc} The trial is closed FAIL.")
                continue
            if known(params):
                self._reject(trial, "hpsearch_duplicate", (
                    f"The trial {trial.number} enqueued in study "
                    f"{self.store.study.study_name!r} repeats a candidate ASHASearchCV "
                    f"has started already ({params}): it is closed FAIL, not run twice."))
                continue
            return trial, params, optuna_params

    def enqueue_copy(self, trial):
        """Enqueue again (same parameters and user attributes, :data:`REQUEUED_ATTR`) an
        enqueued ``trial`` that will not run as it is: an orphan
        (:meth:`_enqueue_orphans`), or one this process took and gave up because
        ``n_trials`` candidates of the study came before it (its trial is closed FAIL,
        ``hpsearch_duplicate``): that copy waits for a larger ``n_trials`` as in a full
        study (:meth:`warn_waiting`; was: it stayed closed FAIL as a duplicate, never
        run)."""
        self.store.study.enqueue_trial(
            trial.system_attrs["fixed_params"],
            user_attrs={**{k: v for k, v in trial.user_attrs.items()
                           if not k.startswith("hpsearch_")},
                        REQUEUED_ATTR: trial._trial_id})

    def _reject(self, trial, attr, message):
        import warnings

        import optuna

        warnings.warn(message, UserWarning, stacklevel=4)
        storage = self.store._storage
        self.store._mine.discard(trial._trial_id)
        self.store._popped.discard(trial._trial_id)
        try:
            storage.set_trial_user_attr(trial._trial_id, attr, message)
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass

    def warn_waiting(self, n_trials):
        """Say that enqueued trials are left WAITING (``n_trials`` candidates started
        before this process reached them)."""
        import warnings

        import optuna

        store = self.store
        waiting = store._storage.get_all_trials(
            store._study_id, deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
        if waiting:
            warnings.warn(
                f"{len(waiting)} trial(s) enqueued in study {store.study.study_name!r} "
                f"are still WAITING: ASHASearchCV ended before taking them (n_trials="
                f"{n_trials} candidates started, or its timeout). Enqueued trials start "
                f"before drawn candidates; resume with a larger n_trials to run them.",
                UserWarning, stacklevel=4)


#: :meth:`_Decisions.next`: no job can be decided before more results arrive
_WAIT = object()


class _Decisions:
    """The jobs of one search in decision order, decided reproducibly (or live).

    The result of job :math:`j` is applied to the schedule right before job
    :math:`j + L_{k(j)}` is decided (:func:`~._asha_schedule.decision_lags`: a lag per
    rung :math:`k`, at least :math:`W` workers), results due together in job order,
    later ones held back; when that gives no job (``n_trials`` reached and nothing
    promotable), the next due result is applied, and so on until a job comes. Which
    results a decision sees therefore depends on the job order alone, never on which
    fit finished first: a fixed ``random_state`` and :math:`W` give the same search. A
    worker waits only when a due result has not arrived (a job that ran longer than the
    :math:`L_k` jobs decided after it). With a single lag :math:`W` for every rung this
    is the plain scheme "job :math:`m` is decided from jobs :math:`0, \\dots, m - W`".

    ``live=True`` applies every result the moment it arrives and never holds a
    decision back: no worker waits while a job can be decided, but the decisions depend
    on which fit finished first (not reproducible with more than one worker).

    Parameters
    ----------
    schedule : ASHASchedule
    lag : int or sequence of int
        One lag for every rung, or :math:`L_0, \\dots, L_K`.
    start : callable
        ``start(job)`` for a ``"new"`` job: makes the candidate, returns False (after
        cancelling the job) when none can be made.
    live : bool, default=False
    """

    def __init__(self, schedule, lag, start, *, live=False):
        self.schedule = schedule
        self.lags = ([int(lag)] * len(schedule.budgets) if isinstance(lag, Integral)
                     else [int(x) for x in lag])
        self.start = start
        self.live = live
        self.jobs = []
        self.scores = {}  # job index -> score, reported and not applied yet
        self.due = []  # heap of (decision index the result is due at, job index)
        self.applied = 0  # results applied to the schedule

    def report(self, m, score):
        self.scores[m] = score

    def _apply_top(self):
        """Apply the result due first, if it is in."""
        if not self.due or self.due[0][1] not in self.scores:
            return False
        _, j = heapq.heappop(self.due)
        job = self.jobs[j]
        self.schedule.report(job.candidate, job.rung, self.scores.pop(j))
        self.applied += 1
        return True

    def apply_all(self):
        """Apply every result reported so far, in the order they are due, then (once no
        more jobs are decided: a job the timeout cut never reports, and the results due
        after it must not be lost) the others in job order."""
        while not self.live and self._apply_top():
            pass
        self._apply_arrived()

    def _apply_arrived(self):
        """Apply every result reported so far, in job order (live: no due heap is
        kept)."""
        for j in sorted(self.scores):
            job = self.jobs[j]
            self.schedule.report(job.candidate, job.rung, self.scores.pop(j))
            self.applied += 1

    def next(self):
        """The next job, :data:`_WAIT`, or None when the search is done."""
        m = len(self.jobs)
        if self.live:
            self._apply_arrived()
        while self.due and self.due[0][0] <= m:  # (always empty when live)
            if not self._apply_top():
                return _WAIT
        while True:
            job = self.schedule.next_job()
            if job is not None:
                if job.action == "new" and not self.start(job):
                    continue
                self.jobs.append(job)
                if not self.live:
                    heapq.heappush(self.due, (m + self.lags[job.rung], m))
                return job
            if self.live:  # every arrived result is in: wait for one in flight, if any
                return _WAIT if self.applied < len(self.jobs) else None
            if not self.due:
                return None
            if not self._apply_top():
                return _WAIT


#: A job of the shared ASHA: a :class:`~._asha_schedule.Job` whose ``candidate`` is the
#: candidate's number in the study, with its parameters.
SharedJob = namedtuple("SharedJob", Job._fields + ("params",))
#: study system attribute set once processes have shared the study's ASHA
SHARED_ATTR = "hpsearch_asha_shared"
#: longest pause between two looks at the store while waiting for other processes
MAX_POLL = 1.0
#: user attribute of a candidate's claimed trial: the settings of the ASHA that drew it
CONFIG_ATTR = "hpsearch_asha_config"
#: the settings that processes sharing one ASHA must agree on -> how an error names them
_SHARED_SETTINGS = {
    "param_distributions": "'param_distributions' parameter",
    "n_trials": "'n_trials' parameter",
    "resource": "'resource' parameter",
    "factor": "'factor' parameter",
    "n_resources": "'min_resources' and 'max_resources' parameters (the rung budgets)",
}


def _space_text(space):
    """A text of a search space that is equal in every process for the same space (no
    object addresses: two scipy distributions of one family compare equal)."""
    import re

    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(space))


class _Candidate:
    """One candidate of the shared ASHA as the store holds it (:meth:`_Shared.snapshot`)."""

    def __init__(self, key, params, number, row_keys):
        self.key, self.params, self.number, self.row_keys = key, params, number, row_keys
        self.scores = {}  # rung -> score, rungs 0 .. j recorded
        self.running = None  # the rung of its job in flight (live or orphaned), if any
        self.holder = None  # the live RUNNING trial holding it, if any
        self.mine = False  # held by this process


class _Shared:
    """Decisions of an ASHA shared with other processes through the trial store.

    Each decision re-reads the store (:meth:`snapshot`): the schedule is rebuilt from
    every recorded (candidate, rung) result (:meth:`ASHASchedule.from_results`, candidate
    ids = study trial numbers) and every job in flight, this process's or another's
    (the row its candidate's trial marks ``hpsearch_job`` and the store does not hold
    yet), is marked pending (:meth:`ASHASchedule.mark_pending`). A candidate is held by
    the process that owns its lowest RUNNING trial: only that process promotes it (so a
    promotion needs no claim), a job whose process died is taken over first, and a
    candidate nobody holds (its process died or ended) is claimed before it is promoted
    (:meth:`~hpsearch.model_selection.store.TrialStore.claim_candidate`: the lower trial
    wins). A new candidate is claimed the same way, and only the first ``n_trials``
    candidates of the study (by trial number) keep their claim.

    Parameters
    ----------
    search : ASHASearchCV
    evaluate : the search's evaluator
    propose : callable
        ``propose(schedule, optuna_params)`` -> ``(params, optuna params or None)``.
    seen : set
        Parameter keys drawn by this process (shared with the single-process path).
    """

    def __init__(self, search, evaluate, propose, seen):
        self.search, self.evaluate, self.store = search, evaluate, evaluate.store
        self.propose, self.seen = propose, seen
        self.active = False
        self.exhausted = False  # the space gave no new candidate
        self.params_of = {}  # candidate key -> params
        self.optuna_of = {}  # candidate key -> Optuna params (model-based samplers)
        self.row_keys_of = {}  # candidate key -> row key of each rung
        self.pending = set()  # (number, rung) handed out here and not finished
        self.cands, self.by_number, self.schedule = {}, {}, None
        self.last = -math.inf  # time of the last snapshot
        self.pause = POLL_INTERVAL
        self.config = {
            "param_distributions": _space_text(search._asha_space),
            "n_trials": plain(search.n_trials),
            "resource": str(search.resource),
            "factor": plain(search.factor),
            "n_resources": [int(b) for b in search.n_resources_],
        }
        self.checked = set()  # candidate keys whose ASHA settings were compared
        # owners found dead before the store's last read: their trials in it are final
        self.dead_before_read = set()

    def close(self):
        """Let go of the search, its evaluator and store at the end of ``fit`` (what it
        decided stays readable: ``active``...). They hold the engine, hence ``X`` and
        ``y``: a fitted search on a storage kept its training data alive, pickled it
        with itself and reconnected to the storage on loading."""
        self.search = self.evaluate = self.store = self.propose = None

    # -- when to share ---------------------------------------------------------------
    def joined(self):
        """Whether another live process holds trials of the study, or the study was
        shared before (then a replay could not reproduce it)."""
        store = self.store
        return bool(store.live_others()) or bool(
            store._storage.get_study_system_attrs(store._study_id).get(SHARED_ATTR)
        )

    def activate(self):
        """Share the study from now on (study attribute ``SHARED_ATTR``), unless the
        search found running is of another kind (refused, its study left as it is)."""
        self.store.check_others()
        self.active = True
        self.store._storage.set_study_system_attr(self.store._study_id, SHARED_ATTR, True)

    def claim_new(self, params, optuna_params):
        """Claim a new candidate the single-process path decided (a resume may find its
        trials: finished ones need no claim, one a dead process left RUNNING is claimed
        with a new trial, as a new candidate is). False: another live process has it.

        The study is not read again: a candidate another process started since
        (:meth:`joined` was False) is RUNNING, which the claim sees."""
        store = self.store
        key = self._candidate_key(params)
        if key in store._trial_ids:  # an enqueued trial this process took and claimed
            return True
        trials, running = self._claims_of(key)
        if self._held_live(running):
            return False
        # its holder is dead now, but the trials were read earlier: a process that
        # closed its candidates and ended since is read again (was: a resume that
        # opened the study while another process ran it alone claimed each of its
        # candidates again once it had ended, a new trial with its rung scores, and
        # fitted again a split recorded after its read). Once per dead owner, not per
        # candidate (was: a resume after a crash read the whole study again for each
        # candidate it left)
        if self._read_again_after({_owner(t) for t in running}):
            trials, running = self._claims_of(key)
            if self._held_live(running):
                return False
        if trials and not running:  # a finished candidate (resume): nothing to claim
            return True
        # new, or left RUNNING by a dead process: claimed with a new trial carrying its
        # rung scores, the lowest wins (processes resuming together each find the dead
        # trial)
        rung0 = self._row_keys(params)[0]
        trial_id = store.claim_candidate(self._claim_row(params, key, rung0),
                                         self._optuna_attrs(optuna_params),
                                         values=store.rung_values(key))
        if trial_id is None:
            return False
        if not trials and self._excess(trial_id):
            # processes started together each drew their first candidates alone: of
            # the study's candidates only the first n_trials keep their claim
            store.release_candidate(key)
            return False
        return True

    def _read_again_after(self, dead):
        """Read the study again when owners of ``dead`` (found dead after the store's
        last read) were not yet known dead before it: a read after an owner's death
        holds all it wrote (:attr:`dead_before_read`). Whether it read."""
        if dead <= self.dead_before_read:
            return False
        self.store.refresh()
        self.dead_before_read |= dead
        return True

    def _held_live(self, running):
        """Whether a live process holds one of the trials ``running``."""
        return any(self.store.alive(_owner(t)) for t in running)

    def _claims_of(self, key):
        """The trials of candidate ``key`` in the store's last read (but for lost claims)
        and those of them RUNNING that are not this process's."""
        store = self.store
        trials = [t for t in store._claims.get(key, ())
                  if "hpsearch_duplicate" not in t.user_attrs]
        return trials, [t for t in trials if t.state.name == "RUNNING"
                        and t._trial_id not in store._mine]

    def _excess(self, trial_id):
        """Whether the candidate just claimed with the new trial ``trial_id`` comes after
        ``n_trials`` candidates of the study (by trial number: trial numbers follow the
        commit order on SQLite and journal files, so of processes claiming at once each
        counts the claims made before its own). Read only when the trial number could
        allow it (no other trial below ``n_trials``: nothing to read)."""
        n_trials = self.search.n_trials
        if n_trials is None:
            return False
        number = self.store._storage.get_trial_number_from_id(trial_id)
        return number >= n_trials and self._n_before(number) >= n_trials

    # -- the store's view --------------------------------------------------------------
    def _candidate_key(self, params):
        return _key(self.evaluate.config_key, params)

    def _row_keys(self, params):
        plan, config = self.search._plan, self.evaluate.config_key
        return [_key(config, params, plan.budget(b)) for b in self.search.n_resources_]

    @staticmethod
    def _claim_row(params, key, row_key):
        return {"params": params, "candidate_key": key, "key": row_key}

    def _optuna_attrs(self, optuna_params):
        attrs = {CONFIG_ATTR: self.config}
        if optuna_params is not None:
            attrs["hpsearch_optuna_params"] = optuna_params
        return attrs

    def _check_config(self, key, trials):
        """Refuse a candidate drawn by a process with other ASHA settings (another space,
        rungs; another ``n_trials`` while that process runs): mixing them would silently
        rank candidates of different searches in one ASHA. (A larger ``n_trials`` once
        the other processes have ended extends the shared study, as a resume does.)"""
        store = self.store
        for trial in trials:
            theirs = trial.user_attrs.get(CONFIG_ATTR)
            if not isinstance(theirs, dict):
                continue
            live = (trial.state.name == "RUNNING" and trial._trial_id not in store._mine
                    and store.alive(_owner(trial)))
            for name, what in _SHARED_SETTINGS.items():
                if (not live) if name == "n_trials" else key in self.checked:
                    continue
                if name in theirs and theirs[name] != self.config[name]:
                    mine = self.config[name]
                    raise StudyMismatch(
                        f"The {what} of ASHASearchCV must be the same in every process "
                        f"sharing the study {self.store.study.study_name!r} (trial "
                        f"{trial.number} was drawn with {theirs[name]!r}; use another "
                        f"study_name for another search). Got {mine!r} instead.", name)
        self.checked.add(key)

    def _params(self, key, trial):
        """The parameters of a candidate of the study (None: not of this search)."""
        if key not in self.params_of:
            try:
                params = decode_value(trial.user_attrs.get("params"))
            except ValueError:
                params = None
            ok = isinstance(params, dict) and self._candidate_key(params) == key
            self.params_of[key] = params if ok else None
        return self.params_of[key]

    def _score(self, row_key):
        """Mean test score of a row the store holds (whole, or all its fits), else None."""
        store, n_splits = self.store, len(self.evaluate.splits)
        payload = store.lookup(row_key)
        if payload is not None:
            scores = payload["test_scores"]
        else:
            fits = store.finished_fits(row_key)
            if any(s not in fits for s in range(n_splits)):
                return None
            scores = [fits[s]["test_scores"] for s in range(n_splits)]
        return float(self.evaluate._refit_scores({"test_scores": scores}).mean())

    def snapshot(self):
        """Re-read the store; rebuild the candidates and the schedule.

        A candidate's holder is judged after the read: a process that closed its trials
        and ended in between would be found dead with them RUNNING, so the study is read
        again when an owner is newly found dead (:attr:`dead_before_read`), once per
        dead owner, and the candidates are rebuilt from that read (was: a process ending
        its search found the candidates another ended meanwhile RUNNING under a dead
        owner and claimed each again with a new trial, :meth:`finish`)."""
        self.store.refresh()
        while self._read_again_after(self._rebuild()):
            pass  # (rebuilt from the read after their deaths)
        return self.schedule

    def _rebuild(self):
        """Rebuild the candidates and the schedule from the store's last read; return
        the owners of the RUNNING trials of candidates it found nobody live holds."""
        store, search = self.store, self.search
        self.last = time.monotonic()
        cands, dead = {}, set()
        for key, trials in store._claims.items():
            trials = [t for t in trials if "hpsearch_duplicate" not in t.user_attrs]
            params = self._params(key, trials[0]) if trials else None
            if params is None:
                continue
            self._check_config(key, trials)
            if key not in self.row_keys_of:
                self.row_keys_of[key] = self._row_keys(params)
            c = _Candidate(key, params, min(t.number for t in trials), self.row_keys_of[key])
            for rung, row_key in enumerate(c.row_keys):
                score = self._score(row_key)
                if score is None:
                    break
                c.scores[rung] = score
            running = sorted((t for t in trials if t.state.name == "RUNNING"),
                             key=lambda t: t._trial_id)
            if running and (running[0]._trial_id in store._mine
                            or store.alive(_owner(running[0]))):
                c.holder = running[0]
                c.mine = running[0]._trial_id in store._mine
            elif running:
                dead.update(_owner(t) for t in running if t._trial_id not in store._mine
                            and not store.alive(_owner(t)))
            marks = {t.user_attrs.get("hpsearch_job") for t in trials}
            rung = len(c.scores)
            if rung < len(c.row_keys) and (rung == 0 or c.row_keys[rung] in marks):
                c.running = rung
            op = next((t.user_attrs["hpsearch_optuna_params"] for t in trials
                       if "hpsearch_optuna_params" in t.user_attrs), None)
            if op is not None:
                self.optuna_of.setdefault(key, op)
            cands[key] = c
        self.cands = cands
        self.by_number = {c.number: c for c in cands.values()}
        schedule = ASHASchedule.from_results(
            [(c.number, k, s) for c in cands.values() for k, s in c.scores.items()],
            search.min_resources_, search.max_resources_, search.factor, search.n_trials,
        )
        jobs = {(c.number, c.running) for c in cands.values() if c.running is not None}
        mine = {(n, k) for n, k in self.pending
                if n in self.by_number and len(self.by_number[n].scores) <= k}
        for number, rung in sorted(jobs | mine):
            schedule.mark_pending(number, rung)
        if self.exhausted:
            schedule.n_trials = schedule.n_started
        self.schedule = schedule
        return dead

    # -- deciding ------------------------------------------------------------------
    def next(self, busy):
        """The next :class:`SharedJob`, :data:`_WAIT` (this process has jobs in flight,
        ``busy``, and nothing to start now) or None (the shared ASHA is done, or the
        timeout). With nothing in flight here it waits for the other processes."""
        done_once = False
        while True:
            if time_is_up(self.evaluate):
                return None
            if busy and time.monotonic() - self.last < POLL_INTERVAL:
                return _WAIT
            job = self._decide()
            if job is None and not done_once:  # look once more: a job decided
                done_once = True  # from an older view may be about to start
                time.sleep(POLL_INTERVAL)
                continue
            if job is not _WAIT:
                return job
            done_once = False
            if busy:
                return _WAIT
            time.sleep(self.pause)
            self.pause = min(MAX_POLL, self.pause * 1.5)

    def _decide(self):
        for _ in range(MAX_DRAWS):
            schedule = self.snapshot()
            for c in sorted(self.cands.values(), key=lambda c: c.number):
                if c.running is not None and c.holder is None and self._claim(c, c.running):
                    return self._hand(c, c.running, "promote" if c.running else "new")
            again = False
            while not again:
                job = schedule.next_job()
                if job is None:
                    return None if schedule.n_pending == 0 else _WAIT
                if job.action == "new":
                    handed = self._new(schedule)
                    if handed is not None:
                        return handed
                    again = True  # lost a claim or ran out of draws: look again
                    continue
                c = self.by_number[job.candidate]
                if c.mine:
                    return self._hand(c, job.rung, "promote")
                if c.holder is None and self._claim(c, job.rung):
                    return self._hand(c, job.rung, "promote")
                # held by another live process, which promotes it
        return _WAIT

    def _claim(self, c, rung):
        """Take over a candidate nobody live holds, to run its job at ``rung``."""
        plan, store = self.search._plan, self.store
        # read the trials again: a holder that finished this job, closed its trial and
        # ended after the snapshot's read is read again by the snapshot itself (was: a
        # new trial for a finished candidate), but another live process may have
        # claimed the candidate and finished the job since (one read per claim, rare)
        store.refresh()
        _, running = self._claims_of(c.key)
        if self._score(c.row_keys[rung]) is not None or self._held_live(running):
            return False
        values = [(_step(plan.budget(self.search.n_resources_[k])), s)
                  for k, s in sorted(c.scores.items()) if k < rung and math.isfinite(s)]
        row = self._claim_row(c.params, c.key, c.row_keys[rung])
        if store.claim_candidate(row, {CONFIG_ATTR: self.config}, values=values) is None:
            return False
        # every fit of the job recorded until the claim won is in the store now and
        # is reused, not fitted again
        store.refresh()
        return True

    def _new(self, schedule):
        """Draw and claim a new candidate; None when another process was first."""
        store = self.store
        enqueued = self.search._enqueued
        while enqueued is not None:  # enqueued trials first, as Optuna asks them
            taken = enqueued.pop(lambda p: _param_key(p) in self.seen
                                 or self._candidate_key(p) in self.cands)
            if taken is None:
                break
            trial, params, optuna_params = taken
            self.seen.add(_param_key(params))
            key = self._candidate_key(params)
            self.params_of[key] = params
            row_keys = self._row_keys(params)
            trial_id = store.claim_candidate(self._claim_row(params, key, row_keys[0]),
                                             self._optuna_attrs(optuna_params),
                                             trial_id=trial._trial_id)
            if trial_id is not None:
                return self._claimed(key, params, optuna_params, trial_id, row_keys,
                                     enqueued=trial)
        known = {self.cands[k].number: op for k, op in self.optuna_of.items()
                 if k in self.cands}
        for params, optuna_params in _draws(self.propose, schedule, known):
            text = _param_key(params)
            key = self._candidate_key(params)
            if text in self.seen or key in self.cands:
                continue
            self.seen.add(text)
            self.params_of[key] = params
            row_keys = self._row_keys(params)
            trial_id = store.claim_candidate(self._claim_row(params, key, row_keys[0]),
                                             self._optuna_attrs(optuna_params))
            if trial_id is None:
                return None
            return self._claimed(key, params, optuna_params, trial_id, row_keys)
        if not self.exhausted:
            self.search._warn_exhausted(len(self.cands))
        self.exhausted = True
        return None

    def _claimed(self, key, params, optuna_params, trial_id, row_keys, enqueued=None):
        """The job of a new candidate this process claimed with trial ``trial_id``; None
        when ``n_trials`` candidates were claimed first (its claim given up; an
        ``enqueued`` trial it took is enqueued again, :meth:`_Enqueued.enqueue_copy`)."""
        store = self.store
        number = store._storage.get_trial_number_from_id(trial_id)
        if self._excess(trial_id):
            store.release_candidate(key)  # n_trials candidates were claimed first
            if enqueued is not None:
                self.search._enqueued.enqueue_copy(enqueued)
            return None
        if optuna_params is not None:
            self.optuna_of[key] = optuna_params
        c = _Candidate(key, params, number, row_keys)
        c.mine = True
        self.cands[key], self.by_number[number] = c, c
        return self._hand(c, 0, "new")

    def _n_before(self, number):
        """Candidates of this search in the study with a lower trial number (enqueued
        trials another live process took below ``number`` are waited for first,
        :meth:`_await_taken`)."""
        self._await_taken(number)
        self.store.refresh()
        n = 0
        for key, trials in self.store._claims.items():
            trials = [t for t in trials if "hpsearch_duplicate" not in t.user_attrs]
            if trials and min(t.number for t in trials) < number and self._params(
                key, trials[0]
            ) is not None:
                n += 1
        return n

    def _await_taken(self, number):
        """Wait until the enqueued trials with a number below ``number`` that another
        live process took (RUNNING, no ``hpsearch_key`` yet) are candidates or closed,
        so :meth:`_n_before` counts them: their numbers come first in the study (was:
        a process that drew a candidate while another took an enqueued trial, not yet
        made its candidate, kept it; with a shared ``n_trials=1`` the study got two
        candidates). The taker makes it its candidate right after taking it; the wait
        ends when none is left, when its takers are dead (a process enqueues it again,
        :meth:`_Enqueued._enqueue_orphans`, after this claim), or after
        :data:`COPY_WAIT` s."""
        import optuna

        from .. import store as store_module

        store = self.store

        def settled():
            taken = [t for t in store._storage.get_all_trials(
                         store._study_id, deepcopy=False,
                         states=(optuna.trial.TrialState.RUNNING,))
                     if t.number < number and "fixed_params" in t.system_attrs
                     and "hpsearch_key" not in t.user_attrs
                     and t._trial_id not in store._mine]
            if taken and store.shared:
                store._read_heartbeats(
                    store._storage.get_study_system_attrs(store._study_id))
            return not any(store.alive(owner) for t in taken
                           for owner in store_module.enqueued_takers(t)
                           if owner != store.owner)

        _poll(settled)

    def _hand(self, c, rung, action):
        """The job, its candidate known by its number (unless this process already knows
        the candidate under another id); its fits are seeded from its parameters
        (``_base._seed_id``), the same in every process."""
        ids = self.evaluate.candidate_ids
        text = _hash([_param_key(c.params)])
        if text not in ids:
            ids[text] = c.number if c.number not in set(ids.values()) else (
                max(ids.values()) + 1 + 2**20)
        self.pending.add((c.number, rung))
        self.pause = POLL_INTERVAL
        budget = self.search.n_resources_[rung]
        return SharedJob(action, c.number, rung, budget, c.params)

    def done(self, job):
        self.pending.discard((job.candidate, job.rung))
        self.last = -math.inf  # decide the next job from a fresh view

    # -- the end ---------------------------------------------------------------------
    def _close_unheld(self, c, top):
        """Close as its own process would have a candidate whose process died or was
        interrupted (its last trial RUNNING, or closed FAIL ``hpsearch_interrupted``)
        although every job of it finished: claimed with a new trial carrying its rung
        scores, closed PRUNED (COMPLETE with its score at the top rung). Such a
        candidate stayed FAIL in the study for good (a resume did not repair it), while
        the same candidates of an uninterrupted run, or of a resume replaying a search
        never shared, end PRUNED or COMPLETE (optuna-dashboard, ``study.best_trial``).
        A candidate whose job was cut (``c.running``) stays FAIL, interrupted."""
        store, search = self.store, self.search
        trials = [t for t in store._claims.get(c.key, ())
                  if "hpsearch_duplicate" not in t.user_attrs]
        if c.running is not None or not c.scores or not trials:
            return
        last = max(trials, key=lambda t: t.number)
        if last.state.name != "RUNNING" and "hpsearch_interrupted" not in last.user_attrs:
            return  # closed by its process (PRUNED, COMPLETE, or a failed top rung)
        budget = search._plan.budget
        values = [(_step(budget(search.n_resources_[k])), s)
                  for k, s in sorted(c.scores.items()) if math.isfinite(s)]
        row = self._claim_row(c.params, c.key, c.row_keys[max(c.scores)])
        trial_id = store.claim_candidate(row, {CONFIG_ATTR: self.config}, values=values)
        if trial_id is None:
            return  # another process (ending too) closes it
        if top in c.scores:
            store._last[trial_id] = c.scores[top]
        store.finish(c.key, "COMPLETE" if top in c.scores else "PRUNED")

    def finish(self):
        """Close this process's candidates below the top rung (PRUNED) and the RUNNING
        trials of dead processes' candidates (FAIL, interrupted; those whose jobs all
        finished then end in a new trial, :meth:`_close_unheld`), then add the
        rows of the other processes' jobs to ``cv_results_``: every process ends with
        the whole shared ASHA, rows ordered by (candidate number, rung)."""
        evaluate, search, store = self.evaluate, self.search, self.store
        schedule = self.snapshot()
        top = schedule.top_rung
        for c in self.cands.values():
            if c.mine and top not in c.scores:
                store.finish(c.key, "PRUNED")
            elif c.holder is None:  # its process was interrupted or died, and the ASHA
                # no longer needs it: close its trial (FAIL, ``hpsearch_interrupted``)
                # instead of leaving it RUNNING for good
                store.interrupt_dead(store._claims.get(c.key, ()))
                self._close_unheld(c, top)
        where = {}
        for c in self.cands.values():
            for rung in c.scores:
                where[c.row_keys[rung]] = (c.number, rung)
        more = evaluate.more_results
        have = set()
        for i, row in enumerate(evaluate.rows):
            if row["key"] in where and row["key"] not in have:
                have.add(row["key"])
                number, rung = where[row["key"]]
                more["candidate"][i] = number
            else:  # a job the timeout cut: no result, but its candidate has a number
                c = self.cands.get(self._candidate_key(row["params"]))
                if c is not None:
                    more["candidate"][i] = c.number
        for row_key, (number, rung) in sorted(where.items(), key=lambda kv: kv[1]):
            if row_key in have:
                continue
            budget = search.n_resources_[rung]
            row = evaluate._stream_row(self.by_number[number].params,
                                       search._plan.budget(budget),
                                       {"candidate": number, "iter": rung,
                                        "n_resources": int(budget)})
            evaluate._fill(row)
            for name in ("pending", "done", "index"):
                row.pop(name, None)
        seen, first, rest = set(), [], []
        for i, row in enumerate(evaluate.rows):
            if row["key"] in where and row["key"] not in seen:
                seen.add(row["key"])
                first.append((where[row["key"]], i))
            else:
                rest.append(i)
        evaluate.reorder([i for _, i in sorted(first)] + rest)
        final = ASHASchedule.from_results(
            [(c.number, k, s) for c in self.cands.values() for k, s in c.scores.items()],
            search.min_resources_, search.max_resources_, search.factor, search.n_trials,
        )
        return final, len(first)


@fill_doc
class ASHASearchCV(_BaseHalving):
    """Asynchronous successive halving: promote the top ``1/factor`` of a rung at once,
    continuing training, or start a new candidate; no round barrier.

    With :math:`r` = ``min_resources``, :math:`R` = ``max_resources`` and :math:`\\eta`
    = ``factor``, the rungs are :math:`b_k = \\max(r, \\lfloor R \\eta^{k-K} \\rfloor)`,
    :math:`K = \\lfloor \\log_\\eta(R/r) \\rfloor` (:func:`~._asha_schedule.asha_rungs`).
    Whenever workers are free the search asks
    :meth:`~._asha_schedule.ASHASchedule.next_job`: the best candidate of the highest
    rung :math:`k < K` ranked within :math:`\\lfloor n_k / \\eta \\rfloor` of its rung's
    :math:`n_k` results and not promoted yet goes to :math:`b_{k+1}` (continuing each
    split's training), else a new candidate starts at :math:`b_0`. See the module
    docstring for how jobs are grouped for the workers, determinism, the samplers and
    the store.

    Parameters
    ----------
    estimator : estimator object
    param_distributions : dict or list of dicts
        As :class:`~hpsearch.model_selection.strategies.random.RandomSearchCV`'s.
    n_trials : int or None, default=None
        Most candidates started. None: until ``timeout`` (one of the two is required).
        With a ``storage``, the study's candidates: those of every process sharing it
        and of earlier runs resumed (a candidate claimed after ``n_trials`` others is
        given up, its trial closed FAIL ``hpsearch_duplicate``, and never fitted).
        Promotions reach the top rung (``max_resources_``) only from about
        :math:`\\eta^K` candidates on (see ``best_index_``).
    timeout : float or None, default=None
        Seconds for the whole search (see ``BaseSearchCV``); no job starts after it.
    resource : str, default="epochs"
        As in :class:`~hpsearch.model_selection.strategies.halving.HalvingSearchCV` (``"epochs"``
        continues training; ``"n_samples"`` or another integer parameter refits).
    min_resources : "smallest" or int, default="smallest"
        :math:`r` (``"smallest"``: 1 epoch, or sklearn's smallest ``n_samples``).
    max_resources : "auto" or int, default="auto"
        :math:`R` (``"auto"``: the estimator's own value of the resource parameter, or
        ``n_samples``).
    factor : float, default=3
        :math:`\\eta`, greater than 1.
    sampler : str or optuna.samplers.BaseSampler, default="random"
        ``"random"``, or an Optuna sampler (a name of
        :data:`~hpsearch.model_selection.strategies._optuna.SAMPLERS` such as ``"tpe"``, or an
        instance) proposing new candidates from the highest rung with enough results.
    reproducible : bool, default=True
        True: each decision sees the results due by its position in the job order
        (:func:`~._asha_schedule.decision_lags`), so the search is the same for a fixed
        ``random_state`` and worker count; a worker waits when a due result is late.
        False: every result is used the moment it arrives and no worker waits while a
        job can be decided (the most throughput on many workers, Li et al.'s ASHA), but
        with more than one worker the promotions depend on which fit finished first.
        The same with ``n_jobs=1``. See "How jobs reach the workers" above. With
        ``resume=True`` the fits already in the store are never run again, but a replay
        (False) sees their results at once, so it may promote differently from the
        interrupted run: a recorded higher-rung row the replay does not reach is left
        out of ``cv_results_`` (it stays in the store).
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, random_state, error_score, \
return_train_score, progress, storage, study_name, resume, backend, fit_timeout, \
max_retries
        The common search parameters (see ``BaseSearchCV``).
        With several metrics (``scoring`` a list or dict), promotions rank the
        candidates of a rung by the ``refit`` metric; with ``refit=False`` or a
        callable, by the first metric of ``scoring`` (a callable ``refit`` only picks
        ``best_index_`` among the rows afterwards).

    Attributes
    ----------
    cv_results_ : dict
        One row per (candidate, rung), in the order the jobs were handed out (processes
        sharing the study: every process's rows, by candidate number then rung), with
        ``candidate`` (the ASHA candidate id), ``iter`` (the rung), ``n_resources``,
        ``resources`` and ``state``: ``"promoted"`` (continued to the next rung),
        ``"stopped"`` (not promoted when the search ended), ``"complete"`` (top rung) or
        ``"not run"`` (cut by the ``timeout``).
        Rows trained with the largest budget reached are ranked first.
    best_index_ : int
        Index in ``cv_results_`` of the best row among those trained with the largest
        budget reached (or the index a callable ``refit`` returns; with several metrics,
        only set when ``refit`` is not False). A job the timeout cut, state ``"not
        run"``, or with a NaN score (a fit of one of its splits failed,
        ``error_score=np.nan``) does not count as reached. That budget is
        ``max_resources_`` only when promotions got there: a rung of :math:`n_k`
        results promotes :math:`\\lfloor n_k / \\eta \\rfloor`, so with one worker the
        top rung needs about :math:`\\eta^K` candidates (``n_trials``) or the time
        for them; with fewer, or when the timeout comes first, the best model is trained
        with a smaller budget (``cv_results_["n_resources"][best_index_]``; the example
        below stops at 3 of 9 epochs).
    n_resources_ : list of int
        :math:`b_0, \\dots, b_K`.
    n_candidates_ : int
        Candidates started (by all processes sharing the study).
    n_iterations_ : int
        Jobs (candidate, rung) run.
    async_ : bool
        Whether jobs were pulled by idle workers with no barrier (fork workers,
        in-process), or run in waves (joblib backends).
    min_resources_ : int
        :math:`r` (``min_resources`` resolved: ``"smallest"``).
    max_resources_ : int
        :math:`R` (``max_resources`` resolved: ``"auto"``).
    schedule_ : ASHASchedule
        The scheduler after the search
        (:class:`~._asha_schedule.ASHASchedule`): each rung's results and
        promotions (rebuilt from the study when processes shared it).
    study_ : optuna.Study
        One trial per candidate, its rung scores as intermediate values (step: the
        budget); a candidate whose last result is below the top rung is PRUNED.
        Trials enqueued in the study with ``study.enqueue_trial`` are its first
        candidates (see "Enqueued trials" in the module docstring).
    {search_attributes}
    {diagnosis_attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from hpsearch import ASHASearchCV, MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = ASHASearchCV(
    ...     MLPClassifier(hidden_layer_sizes=(8,), random_state=0),
    ...     {"learning_rate_init": [1e-3, 1e-2, 1e-1]},
    ...     n_trials=3, min_resources=1, max_resources=9, cv=3, random_state=0,
    ... ).fit(X, y)
    >>> search.n_resources_
    [1, 3, 9]
    >>> int(search.cv_results_["n_resources"][search.best_index_])  # 3 < 3**2 candidates
    3
    """

    _parameter_constraints: dict = {
        **_BaseHalving._parameter_constraints,
        "n_trials": [None, Int(1, None, closed="left")],
        "sampler": [str, HasMethods(["sample_relative", "sample_independent"])],
        "reproducible": ["boolean"],
    }

    _callback_round_name = "asha-wave"
    _study_kind = "ASHA"
    _runs_enqueued = True
    #: the study's candidates count towards ``n_trials`` (resumed, or shared): a resume
    #: with another space is refused when it opens the study (it drew candidates of the
    #: new space next to the old ones, reporting only its own)
    _trials_are_candidates = True
    _budget_param = "n_trials"  # (a resume with a smaller one warns)
    _left_out_params = ()  # (n_trials counts its candidates: not _BaseHalving's check)

    def _runs_callback_rounds(self, evaluate):
        """Waves only where the engine cannot stream jobs; the asynchronous ASHA hangs
        its evaluations from the search task (no rounds)."""
        return not _streams(evaluate)

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_trials=None,
        timeout=None,
        resource="epochs",
        min_resources="smallest",
        max_resources="auto",
        factor=3,
        sampler="random",
        reproducible=True,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        random_state=None,
        error_score=np.nan,
        return_train_score=False,
        progress=None,
        storage=None,
        study_name=None,
        resume=False,
        backend=None,
        fit_timeout=None,
        max_retries=1,
    ):
        super().__init__(
            estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            random_state=random_state,
            error_score=error_score,
            return_train_score=return_train_score,
            progress=progress,
            storage=storage,
            study_name=study_name,
            resume=resume,
            backend=backend,
            fit_timeout=fit_timeout,
            max_retries=max_retries,
            timeout=timeout,
        )
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.resource = resource
        self.min_resources = min_resources
        self.max_resources = max_resources
        self.factor = factor
        self.sampler = sampler
        self.reproducible = reproducible

    def _final_rows(self, results):
        """Rows eligible for ``best_index_``: those of the highest rung among the rows
        that ran (a job the ``timeout`` cut is no result: its NaN row must not stand for
        the largest budget reached) and have a score. A job whose fits failed (NaN
        ``error_score``) is no result either: when every job of the top rung failed
        (often a single promoted candidate), the best row is that of the highest rung
        with a finite score, not a failed row whose refit would fail after the search.
        When no row has a finite score, the highest rung that ran (as sklearn: its
        first row)."""
        schedule = self.schedule_
        found = [schedule.results(k).get(c, None)
                 for c, k in zip(results["candidate"], results["iter"])]
        ran = np.array([s is not None for s in found], dtype=bool)
        if not ran.any():  # only some splits of some job ran
            raise ValueError(_timeout_message(self.timeout))
        scored = np.array([s is not None and not math.isnan(s) for s in found], dtype=bool)
        if scored.any():
            ran = scored
        iters = np.asarray(results["iter"])
        return np.flatnonzero(ran & (iters == iters[ran].max()))

    def _select_best_index(self, refit, refit_metric, results):
        """The best row of :meth:`_final_rows`, or ``refit(results)`` checked as sklearn
        checks it (an integer row index, else its TypeError or IndexError)."""
        return select_best_index(refit, refit_metric, results, self._final_rows)

    # -- fit -------------------------------------------------------------------------
    def fit(self, X, y=None, *, groups=None, **fit_params):
        """Run ASHA, then refit the best candidate of the largest budget reached.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        groups : array-like of shape (n_samples,), default=None
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : object
        """
        self._check_ending()
        return super().fit(X, y, groups=groups, **fit_params)

    def _complete_results(self, results):
        """Halving's ranking (with a warning when every job of the highest rung run
        failed), then each row's ``state`` (:meth:`_row_states`)."""
        super()._complete_results(results)
        warn_budget_fallback(results, self._final_rows(results), "iter", "ASHASearchCV")
        results["state"] = np.array(self._row_states(), dtype=object)

    def _check_ending(self):
        """Parameters sklearn's constraints cannot check alone (before any fit)."""
        self._validate_params()
        if self.n_trials is None and self.timeout is None:
            raise ValueError(
                "The 'n_trials' parameter of ASHASearchCV must be an int in the range "
                "[1, inf) when timeout is None (the search would never end). Got None "
                "instead."
            )
        self._proposals(None)  # a bad sampler name fails here

    def plan_rounds(self, X, y=None, *, groups=None):
        """The jobs of ``fit`` per rung, computed without fitting (every score tied).

        ASHA has no rounds; its jobs are grouped by rung, in the layout of
        ``HalvingSearchCV.plan_rounds`` (``iter`` = rung, ``n_candidates`` = jobs that
        reach it, ``n_resources``, ``continue_training``, ``resource``), so the study
        report and ``--dry-run`` show a plan. Real scores change which candidates are
        promoted and how many (more when later candidates score higher: see
        ``_expected_n_fits``). Needs ``n_trials``.

        Returns
        -------
        rounds : list of dict
        """
        self._check_ending()
        if self.n_trials is None:
            raise ValueError(
                "The 'n_trials' parameter of ASHASearchCV must be an int in the range "
                "[1, inf) to plan the jobs (with only a timeout their number depends on "
                "the fit times; with both, the search ends at the first reached). Got "
                "None instead."
            )
        jobs = super().plan_rounds(X, y, groups=groups)
        counts = {}
        for job in jobs:
            counts[job["iter"]] = counts.get(job["iter"], 0) + job["n_candidates"]
        by_rung = {job["iter"]: job for job in jobs}
        return [
            {"iter": k, "n_candidates": counts[k], "n_resources": by_rung[k]["n_resources"],
             "continue_training": bool(k > 0 and by_rung[k]["continue_training"]),
             "resource": by_rung[k]["resource"]}
            for k in sorted(counts)
        ]

    def _expected_n_fits(self, X, y, groups, n_splits):
        """:math:`\\lceil n / \\eta^k \\rceil` jobs reaching rung :math:`k`, as in
        synchronous halving: not a bound, since ASHA promotes on the results of the
        moment (27 candidates whose scores rise in arrival order, factor 3: 96 jobs, 21
        at the top rung, against 40 and 1); the progress bar's total grows then."""
        if self.n_trials is None:
            return None
        max_resources = self.max_resources if isinstance(self.max_resources, Integral) else None
        n_rungs = 1
        if max_resources is not None and isinstance(self.min_resources, Integral):
            n_rungs = len(_rungs(self.min_resources, max_resources, self.factor))
        jobs = sum(math.ceil(self.n_trials / self.factor**k) for k in range(n_rungs))
        return jobs * n_splits

    def _max_n_fits(self, n_splits):
        """:meth:`_expected_n_fits`, an upper bound (the data does not enter it)."""
        return self._expected_n_fits(None, None, None, n_splits)

    # -- the strategy ----------------------------------------------------------------
    def _proposals(self, space, evaluate=None):
        """What starts new candidates: random draws, or an Optuna sampler's proposals
        (seeded by :meth:`_drawing_random_state` when ``evaluate`` is given)."""
        from ._optuna import make_sampler

        random_state = (self.random_state if evaluate is None
                        else self._drawing_random_state(evaluate))
        if isinstance(self.sampler, str) and self.sampler == "random":
            return _RandomProposals(space, random_state)
        sampler = make_sampler(self.sampler, random_state=random_state, n_jobs=1,
                               owner=type(self).__name__)
        if space is None:
            return None
        return _ModelProposals(space, sampler, random_state)

    def _resolve_budgets(self):
        self.max_resources_ = self._resolve_max_resources()
        self.min_resources_ = (
            self._smallest() if self.min_resources == "smallest" else int(self.min_resources)
        )
        if self.min_resources_ > self.max_resources_:
            raise ValueError(
                f"min_resources_={self.min_resources_} is greater than "
                f"max_resources_={self.max_resources_}."
            )

    def _run_search(self, evaluate):
        try:
            self._run_asha(evaluate)
        finally:
            shared = self.__dict__.get("_shared")  # (not set when the budgets are refused)
            if shared is not None:
                shared.close()

    def _run_asha(self, evaluate):
        from ..space import as_space

        space = as_space(self.param_distributions)
        self._asha_space = space
        self._plan.check_not_searched(space)
        self._resolve_budgets()
        schedule = ASHASchedule(self.min_resources_, self.max_resources_, self.factor,
                                self.n_trials)
        self.n_resources_ = list(schedule.budgets)
        engine = getattr(evaluate, "engine", None)
        n_workers = max(1, int(getattr(engine, "n_workers", 1) or 1))
        self._candidates, self._optuna_params = [], {}
        propose, seen = self._proposals(space, evaluate), set()

        def start(job):
            params = self._enqueued_candidate(evaluate, seen)
            if params is None:
                params = self._new_candidate(schedule, propose, seen)
            if params is None:  # the space is exhausted: start nothing new
                self._warn_exhausted(len(self._candidates))
                schedule.cancel(job.candidate, job.rung)
                schedule.n_trials = schedule.n_started
                return False
            self._candidates.append(params)
            return True

        lazy = _streams(evaluate)
        lags = n_workers  # waves: each wave decided from the waves before it
        if lazy and self.reproducible:
            lags = decision_lags(schedule.budgets, self.factor, n_workers,
                                 len(getattr(evaluate, "splits", ())) or 1)
        decisions = _Decisions(schedule, lags, start, live=not self.reproducible)
        store = getattr(evaluate, "store", None)
        if store is not None and store.shared:
            # shares the study with ASHA processes only; the study's candidates count
            # towards n_trials: refused by a search of another kind before any read of
            # them is taken for its own (was: an ASHA started while a halving ran
            # counted the halving's candidates, claimed none and ended "ok" having
            # fitted nothing): the read made when the store opened (resume; checked as
            # read, not read again) and each later one
            store.group, store.check_reads = "asha", True
            if store.last_read is not None:
                store.check_others(*store.last_read)
        self._shared = None
        self._enqueued = None
        if store is not None and self.storage is not None:
            self._enqueued = _Enqueued(self, evaluate, space,
                                       isinstance(propose, _ModelProposals))
        if store is not None and store.shared:
            self._shared = _Shared(self, evaluate, propose, seen)
            if self._shared.joined():
                self._shared.activate()
        (self._run_async if lazy else self._run_waves)(evaluate, decisions, n_workers)
        self.async_ = lazy
        shared = self._shared
        if shared is not None and not shared.active and shared.joined():
            # another process joined after this one's last look (its timeout came
            # first): its claims may sit between this one's, so this process's own
            # candidate numbers are not the study's; end as a shared process does
            shared.activate()
        if self._enqueued is not None:
            self._enqueued.warn_waiting(self.n_trials)
        if shared is not None and shared.active:
            self.schedule_, self.n_iterations_ = self._shared.finish()
            self.n_candidates_ = self.schedule_.n_started
            evaluate.release()
            return
        decisions.apply_all()
        stopped = [self._candidates[c] for c in self._stopped(schedule)]
        evaluate.finish(stopped, "PRUNED")
        evaluate.release()
        self.schedule_ = schedule
        self.n_candidates_ = len(self._candidates)
        self.n_iterations_ = decisions.applied

    def _next_job(self, decisions, busy):
        """The next job: from the store when other processes share the study (then for
        good), else from this process's decisions; ``(job, index in decisions.jobs)``.
        ``busy``: this process has jobs in flight."""
        shared = self._shared
        if shared is not None and not shared.active and shared.joined():
            shared.activate()
        if shared is not None and shared.active:
            return shared.next(busy), None
        job = decisions.next()
        if shared is not None and isinstance(job, Job) and job.action == "new":
            params = self._candidates[job.candidate]
            if not shared.claim_new(params, self._optuna_params.get(job.candidate)):
                shared.activate()  # another process took it first: share from now on
                return shared.next(busy), None
        return job, len(decisions.jobs) - 1

    def _params_of(self, job):
        return job.params if isinstance(job, SharedJob) else self._candidates[job.candidate]

    def _job_row(self, job):
        """``(params, resources, more_results)`` of one job's row."""
        return (self._params_of(job), self._plan.budget(job.budget),
                {"candidate": job.candidate, "iter": job.rung,
                 "n_resources": int(job.budget)})

    def _job_done(self, evaluate, decisions, job, m, score):
        if m is None:
            self._shared.done(job)
        else:
            decisions.report(m, score)
        if job.rung == decisions.schedule.top_rung:
            params = [self._params_of(job)]
            evaluate.finish(params, "COMPLETE")
            evaluate.release(params)

    def _run_async(self, evaluate, decisions, n_workers):
        """No barrier: the engine pulls the next job whenever a worker is idle."""
        row_job, finished = {}, set()

        def next_jobs():
            job, m = self._next_job(decisions, len(row_job) > len(finished))
            if job is None or job is _WAIT:
                return None if job is None else []
            row_job[len(evaluate.rows)] = (job, m)
            self._print_job(job)
            return [self._job_row(job)]

        def on_done(row, score):
            finished.add(row)
            self._job_done(evaluate, decisions, *row_job[row], score)

        evaluate.stream(next_jobs, on_done, continue_training=self._plan.continues)

    def _run_waves(self, evaluate, decisions, n_workers):
        """Engines that take whole batches (joblib backends): waves of ``n_workers`` jobs,
        each decided from the results of every earlier wave (a barrier per wave)."""
        engine = getattr(evaluate, "engine", None)
        while not time_is_up(evaluate):
            wave, job = [], None
            while len(wave) < n_workers:
                job, m = self._next_job(decisions, bool(wave))
                if job is None or job is _WAIT:
                    break
                self._print_job(job)
                wave.append((job, m))
            if not wave:
                break
            rows = [self._job_row(j) for j, _ in wave]
            result = evaluate(
                [r[0] for r in rows],
                more_results={key: [r[2][key] for r in rows] for key in rows[0][2]},
                resources=[r[1] for r in rows],
                continue_training=self._plan.continues,
            )
            for (job, m), score, cut in zip(wave, result.scores, _cut_rows(evaluate, result)):
                if not cut:  # a job the timeout cut is no result (its finished jobs are)
                    self._job_done(evaluate, decisions, job, m, float(score))
            if engine is not None and engine.expired:
                break

    def _print_job(self, job):
        if self.verbose:
            print(f"ASHA: {job.action} candidate {job.candidate} at rung {job.rung} "
                  f"({job.budget} {self._plan.resource})")

    def _enqueued_candidate(self, evaluate, seen):
        """The next new candidate from an enqueued trial, or None (none waits).

        On resume, the trial an earlier run took as this candidate (its index) is
        replayed (its trial is found by the usual claim); otherwise the next WAITING
        trial is taken (:meth:`_Enqueued.pop`) and claimed at once: its trial becomes
        the candidate's (a loser of the claim, the same candidate held by another live
        process, is skipped)."""
        enqueued, index = self._enqueued, len(self._candidates)
        if enqueued is None:
            return None
        replay = enqueued.replayed(index)
        if replay is not None and _param_key(replay[0]) not in seen:
            params, optuna_params = replay
            seen.add(_param_key(params))
            if optuna_params is not None:
                self._optuna_params[index] = optuna_params
            return params
        if self._study_full(evaluate.store):
            return None
        while True:
            taken = enqueued.pop(lambda p: _param_key(p) in seen)
            if taken is None:
                return None
            trial, params, optuna_params = taken
            seen.add(_param_key(params))
            config = evaluate.config_key
            row = {"params": params, "candidate_key": _key(config, params),
                   "key": _key(config, params, self._plan.budget(self.n_resources_[0]))}
            attrs = ({} if self._shared is None else self._shared._optuna_attrs(None))
            attrs[ENQUEUED_ATTR] = index
            if optuna_params is not None:
                attrs["hpsearch_optuna_params"] = optuna_params
            trial_id = evaluate.store.claim_candidate(row, attrs, trial_id=trial._trial_id)
            if trial_id is not None:
                if self._shared is not None and self._shared._excess(trial_id):
                    # processes started together each took an enqueued trial: of the
                    # study's candidates only the first n_trials keep their claim
                    evaluate.store.release_candidate(row["candidate_key"])
                    enqueued.enqueue_copy(trial)
                    return None
                if optuna_params is not None:
                    self._optuna_params[index] = optuna_params
                return params

    def _study_full(self, store):
        """Whether the study holds ``n_trials`` candidates already while trials wait
        enqueued (a resume: they are left WAITING, as ``n_trials`` was reached; a
        resume with the same ``n_trials`` took them and ran more candidates than it).
        Read only when a trial waits."""
        import optuna

        if self.n_trials is None or not store._storage.get_all_trials(
                store._study_id, deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            return False
        store.refresh()
        held = [key for key, trials in store._claims.items()
                if any("hpsearch_duplicate" not in t.user_attrs for t in trials)]
        return len(held) >= self.n_trials

    def _new_candidate(self, schedule, propose, seen):
        for params, optuna_params in _draws(propose, schedule, self._optuna_params):
            key = _param_key(params)
            if key not in seen:
                seen.add(key)
                if optuna_params is not None:
                    self._optuna_params[len(self._candidates)] = optuna_params
                return params
        return None

    def _warn_exhausted(self, n_candidates):
        """Say that the space gave no new candidate (as sklearn's RandomizedSearchCV says
        that its space is smaller than ``n_iter``)."""
        import warnings

        asked = "" if self.n_trials is None else f" of n_trials={self.n_trials}"
        warnings.warn(
            f"The space of parameters gave no new candidate after {n_candidates} "
            f"candidates{asked} (every draw repeated a known one): it seems exhausted. "
            f"Running {n_candidates} candidates.",
            UserWarning,
        )

    @staticmethod
    def _stopped(schedule):
        """Candidates whose last result is below the top rung: not promoted, or promoted
        by a job the timeout cut (else left open, and closed COMPLETE with its lower-rung
        score at the end of ``fit``)."""
        out = []
        for rung in range(schedule.top_rung):
            above = schedule.results(rung + 1)
            out.extend(c for c in schedule.results(rung) if c not in above)
        return sorted(out)

    def _row_states(self):
        schedule = self.schedule_
        states = []
        for candidate, rung in zip(self.cv_results_["candidate"], self.cv_results_["iter"]):
            if candidate not in schedule.results(rung):
                states.append("not run")  # cut by the timeout
            elif rung == schedule.top_rung:
                states.append("complete")
            elif candidate in schedule.promoted(rung):
                states.append("promoted")
            else:
                states.append("stopped")
        return states


def _streams(evaluate):
    """Whether the engine behind ``evaluate`` takes jobs one at a time as workers free
    up (the asynchronous ASHA), rather than in waves."""
    engine = getattr(evaluate, "engine", None)
    return bool(getattr(engine, "pulls_lazily", False)) and hasattr(evaluate, "stream")


def _rungs(min_resources, max_resources, factor):
    from ._asha_schedule import asha_rungs

    return asha_rungs(min_resources, max_resources, factor)
