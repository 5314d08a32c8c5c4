"""Asynchronous successive halving (ASHA), as pure decision logic.

Successive halving (``LECTURE.md`` §7; :mod:`._halving_schedule`) waits at the end of
every round for its slowest fit before it keeps the best ``1/factor``: on many workers
that barrier idles most of them. ASHA (Li et al., "A System for Massively Parallel
Hyperparameter Tuning", MLSys 2020, Algorithm 2) drops the barrier. Whenever a worker is
free it asks :meth:`ASHASchedule.next_job`, which either *promotes* a candidate that is
already in the top ``1/factor`` of its rung, or *starts* a new candidate at the bottom
rung. Promotions are judged on whatever results the rung holds at that moment, so an
early promotion may be a mistake (a candidate that later falls out of the top); the
paper finds this costs little and that ASHA scales linearly with the number of workers.

Nothing here fits, samples or parallelises anything: :class:`ASHASchedule` only keeps
the rung results and answers "what next?", so it is tested on its own, replayed by the
scheduling simulator (``benchmarks/sim_schedulers.py``), and rebuilt from the trial
store when a search resumes or several processes share one storage
(:meth:`ASHASchedule.from_results`).

The rule
--------
With :math:`r` = ``min_resources``, :math:`R` = ``max_resources`` and :math:`\\eta` =
``factor``, the rungs are :math:`k = 0, \\dots, K` with

.. math::

    K = \\lfloor \\log_\\eta (R / r) \\rfloor, \\qquad
    b_k = \\max\\left(r, \\left\\lfloor R\\, \\eta^{\\,k - K} \\right\\rfloor\\right)

the budgets of Hyperband's most aggressive bracket :math:`s = s_{\\max}`
(:func:`~._halving_schedule.hyperband_brackets`): the top rung is always the full
budget, each rung about :math:`\\eta` times the one below, and :math:`b_0 = r` when
:math:`R / r` is a power of :math:`\\eta` (otherwise :math:`r \\le b_0 < \\eta r`); a
budget the floor repeats (a small :math:`\\eta`) is kept once, so the budgets strictly
increase.
Let :math:`D_k` be the results recorded in rung :math:`k`, :math:`n_k = |D_k|`, ranked
best first (higher score first; ties by smaller candidate id; NaN, a job with a failed
split under ``error_score=np.nan``, last), and :math:`P_k \\subseteq D_k` the candidates already promoted out of rung :math:`k`.
Candidate :math:`c` of rung :math:`k < K` is *promotable* when

.. math::

    \\operatorname{rank}_k(c) \\le \\left\\lfloor n_k / \\eta \\right\\rfloor,
    \\qquad c \\notin P_k, \\qquad \\text{score}_k(c) \\ne \\text{NaN}

and :meth:`~ASHASchedule.next_job` returns, scanning :math:`k = K - 1, \\dots, 0`
(highest rung first), the best-ranked promotable candidate of the first rung that has
one, to be trained up to :math:`b_{k+1}`; if no rung has one, a new candidate at
:math:`b_0` (unless ``n_trials`` candidates were started already). A candidate is
promoted out of a rung at most once, and never beyond rung :math:`K`.

How the search uses this
------------------------
``ASHASearchCV`` (:mod:`.asha`, on the engine of :mod:`._base`) runs one loop per
free worker, with no barrier anywhere::

    schedule = ASHASchedule.from_results(store_results, min_resources=r,
                                         max_resources=R, factor=eta, n_trials=n_trials)
    while not timed out:
        job = schedule.next_job()            # marks the job as pending at once
        if job is None:                      # n_trials reached: wait for running fits,
            if schedule.n_pending == 0:      # or stop when nothing is running
                break
            wait for a result; continue
        if job.action == "new":
            params = sampler picks a candidate (see below); id = job.candidate
        else:                                # "promote"
            params = the parameters of job.candidate
        submit evaluate([params], resources=plan.budget(job.budget),
                        continue_training=True, more_results={"rung": [job.rung], ...})
        ... when it returns:  schedule.report(job.candidate, job.rung, mean_test_score)
        ... when it is lost:  schedule.cancel(job.candidate, job.rung)

- **One job, one task per split, decided late.** A job is ``n_splits`` engine tasks
  (one per CV split); its score, reported when the last split ends, is the mean test
  score (NaN when a split failed with ``error_score=np.nan``). A free worker takes the oldest waiting split
  and calls ``next_job`` only when none waits, so each decision sees every result
  that has arrived. ``Engine.run`` accepts a callable source that the fork pool (and
  the in-process loop) calls only when a worker is idle, and ``evaluate.stream``
  turns each pulled job into a row whose result is reported the moment its last
  split ends. This is the loop ``benchmarks/sim_schedulers.py`` simulates.
- **Promotion continues training.** A promoted candidate is evaluated with
  ``continue_training=True`` at budget :math:`b_{k+1}`: on every split the engine
  takes the fitted estimator it kept from rung :math:`k` and trains it for
  :math:`b_{k+1} - b_k` more epochs (``max_iter`` is incremental, ``warm_start=True``;
  see the module docstring of :mod:`._base`). For hpsearch's MLP this is bit-identical
  to training straight to :math:`b_{k+1}` (the weights CRC test of halving applies).
  Where no kept estimator exists (another process trained rung :math:`k`, or the
  search resumed) the engine refits from scratch at :math:`b_{k+1}`, with the same
  result. Kept estimators of candidates that can no longer be promoted may be freed
  with ``evaluate.release``; the top-rung ones always.
- **Budgets are cumulative.** The store row of (candidate, rung) records
  :math:`b_k`; ``cv_results_`` gets the ``rung`` and ``n_resources`` columns, and only
  top-rung rows are eligible for ``best_index_`` (as :func:`~.halving.rank_rows_first`
  does for halving).
- **New candidates.** ``sampler="random"`` draws from the parameter distributions with
  the search's ``random_state``. With an Optuna sampler (``"tpe"``, BOHB-style), the
  search calls :func:`model_rung` on :meth:`ASHASchedule.n_results`; if a rung
  :math:`k^*` has enough results, it tells the sampler the (parameters, score) pairs
  of :meth:`ASHASchedule.model_results` (a fresh in-memory study filled with
  ``optuna.trial.create_trial`` at rung :math:`k^*`'s scores, then ``study.ask()``);
  with too few results anywhere it samples at random. :func:`ask_model` does the
  telling and asking.
- **Store, resume, cooperation.** Every (candidate, rung, score) lives in the trial
  store; a resumed search, or another process on the same storage, rebuilds the
  schedule with :meth:`ASHASchedule.from_results` and marks the other processes'
  running (candidate, rung) fits as pending with :meth:`ASHASchedule.mark_pending`,
  so nobody promotes a candidate twice. Candidate ids are then the store's candidate
  numbers (``ASHASearchCV``: the Optuna trial number of the candidate's first trial; it
  rebuilds the schedule before every decision). A caller keeping one schedule may give
  a new job the id the store assigned at :meth:`~ASHASchedule.report` time with
  ``new_id``.
- **Determinism.** The schedule itself is deterministic: the same results reported in
  the same order give the same jobs (and with ``n_jobs=1`` the order is fixed). With
  :math:`W` workers that order is the order in which fits finish, so a search that
  must be reproducible for a fixed seed and worker count has to fix the information
  each decision sees, e.g. decide job :math:`m` from the reports of jobs
  :math:`0, \\dots, m - W` exactly (waiting for them if needed, holding back later
  ones). That equals the live order when fits take equal time, and costs waiting
  behind every job that runs longer than the :math:`W` jobs decided after it — with
  continued training, every job of a high rung (``benchmarks/sim_schedulers.py``
  measured 30 % utilization at 64 workers). :func:`decision_lags` gives each job a lag
  that grows with the epochs it adds, which keeps the reproducibility and removes most
  of that waiting.
"""

import bisect
import math
import numbers
from collections import namedtuple

import numpy as np

from ._halving_schedule import _REL_TOL, hyperband_brackets

__all__ = ["ASHASchedule", "Job", "ask_model", "asha_rungs", "decision_lags", "model_rung"]

#: What :meth:`ASHASchedule.next_job` hands a free worker. ``action`` is ``"new"`` or
#: ``"promote"``; ``candidate`` the candidate id; ``rung`` the rung this job reports
#: to; ``budget`` the cumulative resources of that rung.
Job = namedtuple("Job", ["action", "candidate", "rung", "budget"])


def _check_number(value, name, owner, *, low, integer, strict=False):
    kind = "an int" if integer else "a float"
    types = numbers.Integral if integer else numbers.Real
    bad = isinstance(value, bool) or not isinstance(value, types)
    if not bad:
        bad = value <= low if strict else value < low
    if bad:
        bracket = "(" if strict else "["
        raise ValueError(
            f"The {name!r} parameter of {owner} must be {kind} in the range "
            f"{bracket}{low}, inf). Got {value!r} instead."
        )


def plain(value):
    """A NumPy scalar as the Python number (sklearn's checks accept both; NumPy's integer
    power and the store's JSON only the latter)."""
    return value.item() if isinstance(value, np.generic) else value


def asha_rungs(min_resources, max_resources, factor=3):
    """Cumulative budget of each rung.

    .. math::

        K = \\lfloor \\log_\\eta (R / r) \\rfloor, \\qquad
        b_k = \\max\\left(r, \\left\\lfloor R\\, \\eta^{\\,k - K} \\right\\rfloor\\right)

    the rounds of Hyperband's bracket :math:`s_{\\max}`
    (:func:`~._halving_schedule.hyperband_brackets`), a budget that repeats (a small
    :math:`\\eta`: :math:`\\lfloor 9 \\cdot 1.5^{-4} \\rfloor = \\lfloor 9 \\cdot 1.5^{-5}
    \\rfloor = 1`) kept once.

    Parameters
    ----------
    min_resources : int
        :math:`r`, at least 1.
    max_resources : int
        :math:`R`, at least ``min_resources``.
    factor : float, default=3
        :math:`\\eta`, greater than 1.

    Returns
    -------
    tuple of int
        :math:`(b_0, \\dots, b_K)`, strictly increasing, ending with ``max_resources``.

    Examples
    --------
    >>> asha_rungs(1, 81, 3)
    (1, 3, 9, 27, 81)
    >>> asha_rungs(1, 80, 3)
    (2, 8, 26, 80)
    >>> asha_rungs(1, 9, 1.5)
    (1, 2, 4, 6, 9)
    """
    owner = "asha_rungs"
    _check_number(min_resources, "min_resources", owner, low=1, integer=True)
    _check_number(max_resources, "max_resources", owner, low=1, integer=True)
    _check_number(factor, "factor", owner, low=1, integer=False, strict=True)
    if max_resources < min_resources:
        raise ValueError(
            f"max_resources={max_resources} must be at least min_resources={min_resources}."
        )
    # a NumPy integer factor: NumPy refuses an int to a negative power; the bracket keeps a
    # budget the floor repeats once (floor(9 * 1.5**-4) = floor(9 * 1.5**-5) = 1)
    budgets = hyperband_brackets(max_resources, min_resources, plain(factor))[0].n_resources
    return tuple(int(b) for b in budgets)


def decision_lags(budgets, factor, n_workers, n_splits):
    """How many decisions later each rung's result must be in: the lag :math:`L_k`.

    The result of job :math:`j` at rung :math:`k` is applied to the schedule before job
    :math:`j + L_k` is decided, and not before (a worker waits when it is not in yet);
    results due at the same decision are applied in job order. What a decision sees is
    then a function of the job order alone, so the search is reproducible for a fixed
    seed and worker count :math:`W`:

    .. math::

        L_k = \\max\\left(W,\\;
        \\left\\lceil 2\\, \\frac{W}{n_{\\text{splits}}}\\,
        \\frac{\\Delta b_k}{\\bar\\Delta} \\right\\rceil\\right), \\qquad
        \\Delta b_k = b_k - b_{k-1}, \\qquad
        \\bar\\Delta = \\frac{\\sum_k \\eta^{-k} \\Delta b_k}{\\sum_k \\eta^{-k}}

    (:math:`b_{-1} = 0`; :math:`\\bar\\Delta` is the mean work of a job over ASHA's job
    mix, :math:`\\eta^{-k}` of the jobs reaching rung :math:`k`;
    :math:`W / n_{\\text{splits}}` jobs run at once, so
    :math:`(W / n_{\\text{splits}})\\,\\Delta b_k / \\bar\\Delta` jobs start while a
    rung-:math:`k` job runs; 2 is a safety factor). A long high-rung job therefore no
    longer stops the decisions :math:`W` jobs after it, while a short one keeps the lag
    :math:`W` of the plain scheme. With one worker every lag is 1 (a job always ends
    before the next is decided): exactly sequential ASHA.

    Parameters
    ----------
    budgets : sequence of int
        :math:`b_0, \\dots, b_K` (:func:`asha_rungs`).
    factor : float
        :math:`\\eta`.
    n_workers : int
        :math:`W`.
    n_splits : int
        Fits per job (the CV splits).

    Returns
    -------
    list of int
        :math:`L_0, \\dots, L_K`.

    Examples
    --------
    >>> decision_lags((1, 3, 9, 27, 81), 3, 1, 3)
    [1, 1, 1, 1, 1]
    >>> decision_lags((1, 3, 9, 27, 81), 3, 4, 3)
    [4, 4, 7, 20, 59]
    """
    n_workers = max(1, int(n_workers))
    if n_workers == 1:
        return [1] * len(budgets)
    steps = [b - a for a, b in zip((0,) + tuple(budgets), budgets)]
    weights = [float(factor) ** -k for k in range(len(steps))]
    mean = sum(w * d for w, d in zip(weights, steps)) / sum(weights)
    jobs_at_once = n_workers / max(1, int(n_splits))
    return [max(n_workers, math.ceil(2.0 * jobs_at_once * d / mean)) for d in steps]


def model_rung(n_results, n_min):
    """The rung whose results a model-based sampler should learn from (BOHB-style).

    BOHB (Falkner et al., ICML 2018, Algorithm 2) fits its model on the highest budget
    with enough observations:

    .. math::

        k^* = \\max\\{k : n_k \\ge n_{\\min}\\}

    (``None`` when no rung qualifies: sample at random). Falkner et al. take
    :math:`n_{\\min} = d + 1` for :math:`d` hyperparameters and ask for two more points
    than that (:math:`n_k \\ge d + 3`); pass the threshold you want.

    Parameters
    ----------
    n_results : sequence of int
        :math:`n_k`, results per rung (:meth:`ASHASchedule.n_results`; NaN results
        excluded, as :meth:`ASHASchedule.model_results` excludes them).
    n_min : int
        At least 1.

    Returns
    -------
    int or None
    """
    _check_number(n_min, "n_min", "model_rung", low=1, integer=True)
    for rung in range(len(n_results) - 1, -1, -1):
        if n_results[rung] >= n_min:
            return rung
    return None


def ask_model(sampler, space, observations):
    """A new candidate from an Optuna sampler told one rung's results (BOHB-style).

    The sampler sees a fresh in-memory study holding one COMPLETE trial per observation
    (direction ``"maximize"``: the rung's scores), then one trial is asked and the
    candidate suggested from ``space`` (conditions and sub-spaces as
    :func:`~.space.suggest` handles them). Observations are those of the rung chosen
    by :func:`model_rung` (:meth:`ASHASchedule.model_results`): scores at different
    budgets are not comparable, so rungs are never mixed.

    Parameters
    ----------
    sampler : optuna.samplers.BaseSampler
        Seeded by the caller; its random state advances with each call, so a fixed
        sequence of calls is reproducible. Note that TPE samples at random until it has
        ``n_startup_trials`` (10) observations: pass ``n_min`` >= that to
        :func:`model_rung`, or lower ``n_startup_trials``.
    space : dict, list of dict or hpsearch space
        The search's ``param_distributions``.
    observations : iterable of (dict, float)
        ``(optuna params, score)``: each candidate's parameters as its Optuna trial
        stores them (``trial.params``, names and encoded values of
        :func:`~.space.optuna_distributions`) and its finite score in the rung.

    Returns
    -------
    params : dict
        The new candidate's estimator parameters (real values).
    optuna_params : dict
        The same as Optuna stores them, to tell the sampler about it later.
    """
    import optuna

    from ..space import optuna_distributions, suggest

    distributions = optuna_distributions(space)
    from ..store import quiet_optuna

    with quiet_optuna():  # no INFO line per study; the user's verbosity after
        study = optuna.create_study(direction="maximize", sampler=sampler)
    study.add_trials(
        [
            optuna.trial.create_trial(
                params=dict(params),
                distributions={name: distributions[name] for name in params},
                value=float(score),
            )
            for params, score in observations
        ]
    )
    trial = study.ask()
    return suggest(trial, space), dict(trial.params)


class ASHASchedule:
    """The asynchronous successive-halving scheduler (Li et al., 2020, Algorithm 2).

    See the module docstring for the rule as formulas and for how the search drives it.
    Candidates are identified by non-negative integers (the search's candidate index,
    or the store's trial number); new jobs propose the next unused one.

    Parameters
    ----------
    min_resources : int
        :math:`r`, budget of the bottom rung, at least 1.
    max_resources : int
        :math:`R`, budget of the top rung, at least ``min_resources``.
    factor : float, default=3
        :math:`\\eta` > 1: a rung promotes its best :math:`\\lfloor n_k/\\eta \\rfloor`.
    n_trials : int or None, default=None
        Most candidates ever started (new jobs, counted from results and pending jobs);
        ``None`` for no cap.

    Attributes
    ----------
    budgets : tuple of int
        :math:`b_k` of each rung (:func:`asha_rungs`).
    top_rung : int
        :math:`K`.
    """

    def __init__(self, min_resources, max_resources, factor=3, n_trials=None):
        if n_trials is not None:
            _check_number(n_trials, "n_trials", "ASHASchedule", low=1, integer=True)
        self.budgets = asha_rungs(min_resources, max_resources, factor)
        self.factor = factor
        self.n_trials = n_trials
        self.top_rung = len(self.budgets) - 1
        n = len(self.budgets)
        self._scores = [{} for _ in range(n)]  # rung -> {candidate: score}
        self._ranked = [[] for _ in range(n)]  # rung -> sorted [(key, candidate)]
        self._open = [[] for _ in range(n)]  # same, candidates not promoted out of it
        self._promoted = [set() for _ in range(n)]  # rung -> promoted out of it
        self._pending = set()  # (candidate, rung) handed out, not reported
        self._next_id = 0

    # -- construction from recorded results ------------------------------------------------
    @classmethod
    def from_results(cls, results, min_resources, max_resources, factor=3, n_trials=None):
        """A schedule whose state is that of ``results`` all reported.

        The state depends only on the set of results, not on their order: rung
        :math:`k`'s promoted set is the candidates with a result in rung :math:`k+1`.
        This is how a resumed search, or a process joining others on one storage,
        replays the trial store.

        Parameters
        ----------
        results : iterable of (int, int, float)
            ``(candidate, rung, score)``.
        min_resources, max_resources, factor, n_trials
            As for :class:`ASHASchedule`.

        Returns
        -------
        ASHASchedule
        """
        schedule = cls(min_resources, max_resources, factor, n_trials)
        for candidate, rung, score in sorted(results, key=lambda r: (r[1], r[0])):
            schedule._record(candidate, rung, score)
        return schedule

    # -- what the workers call ---------------------------------------------------------
    def next_job(self):
        """The job for a free worker, or ``None`` when there is none now.

        Highest rung first, the best promotable candidate is promoted; otherwise a new
        candidate starts at rung 0, unless ``n_trials`` candidates were started. The job
        is pending from now on: it is not handed out again.

        Returns
        -------
        Job or None
            ``None``: nothing to promote and the ``n_trials`` cap reached; wait for a
            pending result (or stop when :attr:`n_pending` is 0).
        """
        for rung in range(self.top_rung - 1, -1, -1):
            candidate = self._promotable(rung)
            if candidate is not None:
                del self._open[rung][0]  # the best open candidate (see _promotable)
                self._promoted[rung].add(candidate)
                self._pending.add((candidate, rung + 1))
                return Job("promote", candidate, rung + 1, self.budgets[rung + 1])
        if self.n_trials is not None and self.n_started >= self.n_trials:
            return None
        candidate = self._next_id
        self._next_id += 1
        self._pending.add((candidate, 0))
        return Job("new", candidate, 0, self.budgets[0])

    def report(self, candidate, rung, score, *, new_id=None):
        """Record the score of ``candidate`` at ``rung``.

        Parameters
        ----------
        candidate : int
            The job's candidate (for a result of another process: its candidate id).
        rung : int
        score : float
            Higher is better; NaN for a job with a failed split (never promoted).
        new_id : int, optional
            For a ``"new"`` job only: the id the caller gave the candidate instead of
            the proposed one (e.g. the trial number the store assigned).
        """
        self._pending.discard((candidate, rung))
        if new_id is not None:
            if rung != 0:
                raise ValueError(f"new_id is for rung-0 results only, got rung={rung}.")
            candidate = new_id
        self._record(candidate, rung, score)

    def cancel(self, candidate, rung):
        """Forget a pending job that will not report (its worker died, or timed out).

        A cancelled promotion makes the candidate promotable again; a cancelled new job
        frees its place under ``n_trials``.
        """
        if (candidate, rung) not in self._pending:
            raise ValueError(f"No pending job for candidate {candidate} at rung {rung}.")
        self._pending.discard((candidate, rung))
        if rung > 0:
            self._unpromote(candidate, rung - 1)

    def mark_pending(self, candidate, rung):
        """Record a job another process is running (a RUNNING trial in the store).

        For ``rung > 0`` the candidate counts as promoted out of ``rung - 1``; for rung
        0 it counts under ``n_trials``.
        """
        self._check_rung(rung)
        if rung > 0:
            self._require_result(candidate, rung - 1, rung)
            if candidate not in self._promoted[rung - 1]:
                key = (self._sort_key(rung - 1, candidate), candidate)
                self._open[rung - 1].remove(key)
                self._promoted[rung - 1].add(candidate)
        self._pending.add((candidate, rung))
        self._next_id = max(self._next_id, candidate + 1)

    # -- state ---------------------------------------------------------------------------
    @property
    def n_started(self):
        """Candidates started: results in rung 0 plus pending rung-0 jobs."""
        return len(self._scores[0]) + sum(1 for _, rung in self._pending if rung == 0)

    @property
    def n_pending(self):
        """Jobs handed out and not reported nor cancelled."""
        return len(self._pending)

    def n_results(self, *, finite=False):
        """:math:`n_k` of every rung, bottom first (``finite=True``: NaN left out)."""
        if not finite:
            return [len(scores) for scores in self._scores]
        return [sum(1 for s in scores.values() if not math.isnan(s)) for scores in self._scores]

    def results(self, rung):
        """``{candidate: score}`` of one rung."""
        self._check_rung(rung)
        return dict(self._scores[rung])

    def ranking(self, rung):
        """Candidates of ``rung``, best first (the order the rule ranks them in)."""
        self._check_rung(rung)
        return [candidate for _, candidate in self._ranked[rung]]

    def promoted(self, rung):
        """Candidates promoted out of ``rung`` (pending or reported above)."""
        self._check_rung(rung)
        return set(self._promoted[rung])

    def model_results(self, n_min):
        """``(rung, {candidate: score})`` for a model-based sampler, or ``None``.

        The rung is :func:`model_rung` of the finite results; NaN scores are left out
        (a sampler told NaN learns nothing).
        """
        rung = model_rung(self.n_results(finite=True), n_min)
        if rung is None:
            return None
        scores = self._scores[rung]
        return rung, {c: s for c, s in scores.items() if not math.isnan(s)}

    def state(self):
        """A plain snapshot (results, promoted sets, pending jobs), for comparisons."""
        return {
            "results": [dict(scores) for scores in self._scores],
            "promoted": [set(p) for p in self._promoted],
            "pending": set(self._pending),
            "n_started": self.n_started,
        }

    # -- internals -----------------------------------------------------------------------
    def _check_rung(self, rung):
        if isinstance(rung, bool) or not isinstance(rung, numbers.Integral) or not (
            0 <= rung <= self.top_rung
        ):
            raise ValueError(
                f"rung must be an int in the range [0, {self.top_rung}]. Got {rung!r} instead."
            )

    def _require_result(self, candidate, rung, target):
        if candidate not in self._scores[rung]:
            raise ValueError(
                f"Candidate {candidate} has no result in rung {rung}, so it cannot be "
                f"at rung {target}."
            )

    def _sort_key(self, rung, candidate):
        score = self._scores[rung][candidate]
        return math.inf if math.isnan(score) else -score

    def _record(self, candidate, rung, score):
        if isinstance(candidate, bool) or not isinstance(candidate, numbers.Integral) or (
            candidate < 0
        ):
            raise ValueError(
                f"candidate must be a non-negative int. Got {candidate!r} instead."
            )
        self._check_rung(rung)
        if candidate in self._scores[rung]:
            raise ValueError(f"Candidate {candidate} already has a result in rung {rung}.")
        if rung > 0:
            self._require_result(candidate, rung - 1, rung)
            if candidate not in self._promoted[rung - 1]:  # promoted by another process
                self._open[rung - 1].remove((self._sort_key(rung - 1, candidate), candidate))
                self._promoted[rung - 1].add(candidate)
        self._scores[rung][candidate] = float(score)
        entry = (self._sort_key(rung, candidate), candidate)
        bisect.insort(self._ranked[rung], entry)
        bisect.insort(self._open[rung], entry)
        self._next_id = max(self._next_id, candidate + 1)

    def _unpromote(self, candidate, rung):
        self._promoted[rung].discard(candidate)
        bisect.insort(self._open[rung], (self._sort_key(rung, candidate), candidate))

    def _promotable(self, rung):
        """Best candidate of ``rung`` with rank <= floor(n_k / eta), not promoted, finite.

        Only the best open (not promoted) candidate can qualify: its rank is one plus
        the number of results ranked above it, found by bisection in the full ranking.
        """
        opened = self._open[rung]
        if not opened:
            return None
        key, candidate = opened[0]
        if key == math.inf:  # NaN
            return None
        n_top = int(math.floor(len(self._ranked[rung]) / self.factor * (1 + _REL_TOL)))
        rank = bisect.bisect_left(self._ranked[rung], (key, candidate)) + 1
        return candidate if rank <= n_top else None
