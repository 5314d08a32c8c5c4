"""Bayesian optimization with Optuna, driven by ask/tell from the main process.

The lecture's SMBO (``LECTURE.md`` §7): model the results so far and pick the most
promising next configuration. Optuna's samplers do the modelling (TPE by default, a
Gaussian process with ``sampler="gp"``); hpsearch's engine does the fitting. Each round
asks Optuna for a batch of trials (as many as there are workers; constant-liar TPE keeps
the batch diverse), evaluates every (trial x split) fit in joblib *processes* and tells
Optuna the cross-validated mean score (``DESIGN.md`` decision 5). The Optuna study *is*
the trial store, so ``storage=``/``study_name=``/``resume=True`` continue it.

With a pruner, trials are trained in rungs of epochs and continue from their saved state
between rungs; the mean validation score over the splits is reported at each rung and a
trial the pruner stops is told PRUNED (dynamic resource allocation, §7).
"""

import time
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._base import BaseSearchCV, Int, _finished_all_splits, _key
from .._docstrings import fill_doc
from .._racing import RACING_CONSTRAINTS
from ._halving_resource import continues_by_partial_fit, resource_plan
from .halving import best_row, rank_rows_first, time_is_up
from ._optuna import PRUNERS, SAMPLERS, make_pruner, make_sampler, sampler_seed

__all__ = ["OptunaSearchCV", "default_rungs"]


def default_rungs(max_epochs, n_rungs=4, factor=3):
    """Epoch budgets at which a pruned trial is scored: ``max_epochs / factor**k``.

    .. math::

        b_k = \\max\\left(1, \\left\\lfloor B / \\eta^{\\,k} \\right\\rfloor\\right),
        \\quad k = n_{\\text{rungs}} - 1, \\dots, 0

    duplicates removed (``LECTURE.md`` §7: judge early on a small budget).

    Parameters
    ----------
    max_epochs : int
        :math:`B`, the full budget (the last rung).
    n_rungs : int, default=4
    factor : int, default=3
        :math:`\\eta`.

    Returns
    -------
    list of int
        Increasing budgets ending with ``max_epochs``.
    """
    return sorted({max(1, int(max_epochs) // factor**k) for k in range(n_rungs)})


def _finished(trial):
    """Whether a trial of a slot is done: COMPLETE, PRUNED, or FAIL for its own fits
    (not closed as interrupted, duplicate or surplus)."""
    state = trial.state.name
    if state in ("COMPLETE", "PRUNED"):
        return True
    attrs = trial.user_attrs
    return state == "FAIL" and not any(
        name in attrs
        for name in ("hpsearch_interrupted", "hpsearch_duplicate", "hpsearch_surplus")
    )


def _waves(params):
    """Split a batch into groups of distinct candidates (duplicates go to later groups).

    Two trials with the same parameters would share one saved training state; climbing
    them in separate groups keeps each continuation its own. "Same" is the engine's own
    candidate identity (``_key``), so exactly the candidates that would share a state
    are separated.
    """
    seen, waves = {}, []
    for i, p in enumerate(params):
        key = _key(p)
        level = seen.get(key, 0)
        seen[key] = level + 1
        if level == len(waves):
            waves.append([])
        waves[level].append(i)
    return waves



def _coded_choices(space):
    """``{name: codes}`` of the categorical parameters Optuna holds as string codes."""
    from ..space import Categorical, as_space

    return {name: list(dim._encoded) for sub in as_space(space)
            for name, dim in sub.items()
            if isinstance(dim, Categorical) and not dim._primitive}


def _cut_by_timeout(evaluate, row):
    """Whether the search's ``timeout`` left splits of row ``row`` unrun."""
    engine = getattr(evaluate, "engine", None)
    if engine is None or not engine.expired:
        return False
    return not _finished_all_splits(evaluate.rows[row], engine.not_run_error)


def _enqueued_codes(fixed, space):
    """Enqueued parameters with each value of a coded categorical choice replaced by its
    code, as :func:`~hpsearch.model_selection.space.suggest` asks Optuna for it.

    A tuple comes back from the storage as a list, and ``True`` among ``[1, True]`` is
    coded ``"True"``; a value that is no choice (or already a code) is left as is, for
    Optuna to judge."""
    from ..space import Categorical, _equal, _to_tuples, as_space

    dims = {}
    for sub in as_space(space):
        for name, dim in sub.items():
            dims.setdefault(name, dim)
    out = dict(fixed)
    for name, value in fixed.items():
        dim = dims.get(name)
        if not isinstance(dim, Categorical) or dim._primitive:
            continue
        value = _to_tuples(value)
        for choice, code in zip(dim.choices, dim._encoded):
            if type(choice) is type(value) and _equal(choice, value):
                out[name] = code
                break
    return out


def _slot(trial):
    """The slot of ``trial`` (``hpsearch_slot``), or None: none, or no slot hpsearch
    writes (not a non-negative int: a trial added by hand, which raised a TypeError)."""
    slot = trial.user_attrs.get("hpsearch_slot")
    if isinstance(slot, Integral) and not isinstance(slot, bool) and slot >= 0:
        return int(slot)
    return None


def _slots_and_askers(trials, store):
    """The trial slots held among ``trials``, and how many of them live processes are
    still asking (RUNNING, no slot yet)."""
    slots, asking = set(), 0
    for trial in trials:
        slot = _slot(trial)
        if slot is not None:
            slots.add(slot)
        elif trial.state.name == "RUNNING" and store.alive(
            trial.user_attrs.get("hpsearch_owner")
        ):
            asking += 1
    return slots, asking


@fill_doc
class OptunaSearchCV(BaseSearchCV):
    """Bayesian (model-based) search with an Optuna sampler, on hpsearch's engine.

    Parameters
    ----------
    estimator : estimator object
    param_distributions : dict or list of dicts
        ``hpsearch.space`` dimensions (``Float``, ``Int``, ``Categorical``, conditional
        ones with ``when=``), lists, scipy.stats distributions or Optuna distributions
        (``FloatDistribution``... as ``optuna_integration.OptunaSearchCV`` takes them,
        without ``step``); each becomes an Optuna
        distribution (define-by-run, so conditional parameters are suggested only when
        their condition holds).
    n_trials : int, default=10
        Trials in all: with ``resume=True``, the trials already in the study count, and
        processes sharing the study run ``n_trials`` together (an interrupted trial is
        finished by a new trial that takes its place). Trials enqueued in the study
        (``study.enqueue_trial``, e.g. known good configurations) are asked first, as
        ``study.ask`` does; their values are given as the estimator takes them (tuples,
        ``None``...), parameters they leave out are sampled.
    timeout : float or None, default=None
        Seconds for the whole search, as for every search (see ``BaseSearchCV``): no
        trial is asked and no fit starts after it; fits running then are stopped (fork
        workers) and their trials told FAIL.
    sampler : str or optuna sampler, default="tpe"
        ``"tpe"`` (multivariate, constant liar when trials run in parallel), ``"gp"``,
        ``"cmaes"``, ``"qmc"``, ``"random"`` or an instance. A named sampler (except
        ``"qmc"``, seeded once) is seeded from ``(random_state, slot)`` for each trial
        (the slot: the trial's place in the study), so a resumed search asks what an
        uninterrupted one would; an instance is used as given.
    pruner : None, str or optuna pruner, default=None
        ``"median"``, ``"successive_halving"``, ``"hyperband"`` or an instance. Needs an
        estimator that continues training (``warm_start`` or ``partial_fit`` and
        ``max_iter``): each trial then trains in ``rungs`` of epochs. Hyperband's
        brackets follow the study name (as in Optuna: processes sharing a study agree on
        them), or, without ``study_name``, ``random_state``.
    rungs : None, int or list of int, default=None
        With a pruner: epoch budgets at which the trial is scored and may be pruned (the
        last is the full budget of a completed trial). None: 4 rungs
        :func:`default_rungs` of the estimator's ``max_iter``; an int: that many.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, random_state, error_score, \
return_train_score, progress, storage, study_name, resume, backend, fit_timeout, \
max_retries
        The common search parameters (see ``BaseSearchCV``). A batch holds as many
        trials as the engine has workers.
    racing : bool, default=False
        Race the candidates across splits: after ``racing_min_splits`` splits, a
        candidate significantly worse than the best one so far on the splits they share
        (one-sided corrected resampled t-test at level ``racing_alpha``) is not fitted on
        its remaining splits; ``cv_results_`` marks it (``state == "RACED"``, ``raced``)
        and ranks it after every complete candidate with a score (before failed
        ones). The racing decisions on a batch of trials are identical for any
        ``n_jobs`` (the trials asked depend on the batch size, as without racing).
        See :mod:`hpsearch.model_selection._racing`.
    racing_min_splits : int, default=3
        Splits every candidate is fitted on before it can be raced (at least 2).
    racing_alpha : float, default=0.1
        Level of each one-sided test, in (0, 1). The default (Optuna's
        ``WilcoxonPruner`` uses 0.1 too) is the knee of the racing benchmark
        (``benchmarks/README.md``): as often the full search's choice as 0.05, with more
        fits saved; 0.2 starts dropping near-ties. It is not the chance of racing the
        best: a candidate is tested at every barrier, so one as good as the best is
        raced more often (at 0.1 with 10 splits, in about 22 % of races against one
        equal rival, 65 % against eleven; see :mod:`hpsearch.model_selection._racing`).

    Attributes
    ----------
    study_ : optuna.Study
        The study: one trial per candidate, value = mean CV score of the refit metric
        (maximized: sklearn scorers are greater-is-better; with several metrics and a
        ``refit`` that names none, False or a callable, the first metric of
        ``scoring``: the one the sampler optimizes), per-split scores of every metric
        as user attributes, rung scores as intermediate values. A trial whose score is
        NaN (a failed split with ``error_score=np.nan``) is FAIL; a numeric
        ``error_score`` is told as the trial's value, as sklearn scores it.
    cv_results_ : dict
        sklearn's layout, plus ``trial`` (Optuna trial number), ``error``, ``state``
        (``COMPLETE``, ``PRUNED`` or ``FAIL``: the trial's final state; ``RACED`` for a
        raced trial) and, with a pruner, ``iter``, ``n_resources`` and ``resources``
        (one row per trial and rung); with ``racing=True`` also ``raced``.
    best_index_ : int
        Index in ``cv_results_`` of the best row: rank 1 of ``rank_test_<metric>`` in
        the refit metric, as sklearn; with a pruner, the best *completed* trial at the
        full budget (``rank_test_<metric>`` ranks those rows first, so rank 1 is still
        ``best_index_``; all rows compete when none completed). A callable ``refit`` returns
        it. With several metrics, only set when ``refit`` is not False.
    rungs_ : list of int
        The epoch budgets used. Only set with a pruner.
    {search_attributes}
    {diagnosis_attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from hpsearch import MLPClassifier, OptunaSearchCV
    >>> from hpsearch.space import Float
    >>> X, y = load_iris(return_X_y=True)
    >>> search = OptunaSearchCV(
    ...     MLPClassifier((8,), max_iter=20, random_state=0),
    ...     {"learning_rate_init": Float(1e-3, 1e-1, log=True)},
    ...     n_trials=4, cv=3, random_state=0,
    ... ).fit(X, y)
    >>> len(search.study_.trials)
    4
    """

    #: a resume counts and ranks the study's trials: its space must not change
    #: (:meth:`~hpsearch.model_selection.store.TrialStore.check_space`)
    _trials_are_candidates = True
    _budget_param = "n_trials"  # (a resume with a smaller one warns)
    _budget_in_slots = True  # (n_trials counts the study's slots)

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
        "n_trials": [Int(1, None, closed="left")],
        "timeout": [None, Interval(Real, 0, None, closed="neither")],
        "sampler": [
            StrOptions(set(SAMPLERS)),
            HasMethods(["sample_relative", "sample_independent"]),
        ],
        "pruner": [None, StrOptions(set(PRUNERS)), HasMethods(["prune"])],
        "rungs": [None, Int(1, None, closed="left"), list, tuple],
        **RACING_CONSTRAINTS,
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_trials=10,
        timeout=None,
        sampler="tpe",
        pruner=None,
        rungs=None,
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
        racing=False,
        racing_min_splits=3,
        racing_alpha=0.1,
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
        self.sampler = sampler
        self.pruner = pruner
        self.rungs = rungs
        self.racing = racing
        self.racing_min_splits = racing_min_splits
        self.racing_alpha = racing_alpha

    # -- set-up ---------------------------------------------------------------------
    def _study_options(self):
        import optuna

        # a generated study name differs at each fit: seed Hyperband's brackets instead
        seed = self.random_state if self.study_name is None else None
        pruner = make_pruner(self.pruner, random_state=seed) or optuna.pruners.NopPruner()
        sampler = make_sampler(self.sampler, random_state=self.random_state, n_jobs=self.n_jobs)
        return {"sampler": sampler, "pruner": pruner}

    def _continues_by_partial_fit(self):
        return self.pruner is not None and continues_by_partial_fit(
            self.estimator, "epochs", owner=type(self).__name__)

    def _check_pruning(self):
        """Resource plan and rungs of a pruned search (None without a pruner)."""
        if self.pruner is None:
            return None
        try:
            plan = resource_plan(self.estimator, "epochs", owner=type(self).__name__)
        except ValueError:  # no max_iter: say it about the pruner (there is no 'resource')
            raise ValueError(
                "The 'pruner' parameter of OptunaSearchCV needs an estimator with an "
                "integer 'max_iter' parameter (itself or the last step of a Pipeline) "
                "that continues training (warm_start or partial_fit); "
                f"{type(self.estimator).__name__} has no 'max_iter'. Use pruner=None."
            ) from None
        if not plan.continues or plan.default_max is None:
            raise ValueError(
                f"The 'pruner' parameter of OptunaSearchCV needs an estimator that "
                f"continues training (warm_start or partial_fit) with an integer "
                f"{plan.param!r}; {type(self.estimator).__name__} has "
                f"{plan.param}={plan.default_max!r} and "
                f"{'can' if plan.continues else 'cannot'} continue. Use pruner=None."
            )
        rungs = self.rungs
        if rungs is None or isinstance(rungs, Integral):
            rungs = default_rungs(plan.default_max, n_rungs=4 if rungs is None else rungs)
        rungs = list(rungs)
        if not rungs or not all(
            isinstance(r, Integral) and not isinstance(r, bool) and r >= 1 for r in rungs
        ) or any(a >= b for a, b in zip(rungs, rungs[1:])):
            raise ValueError(
                "The 'rungs' parameter of OptunaSearchCV must be None, an int >= 1 or a "
                f"strictly increasing list of positive ints. Got {self.rungs!r} instead."
            )
        return plan, rungs

    def plan_rungs(self):
        """Epoch budgets of the rungs each trial climbs (what ``fit`` uses), or None.

        None without a pruner (each trial is one fit per split at the full budget).

        Returns
        -------
        list of int or None
        """
        self._validate_params()
        pruning = self._check_pruning()
        return None if pruning is None else list(pruning[1])

    def fit(self, X, y=None, *, groups=None, **fit_params):
        """Run ``n_trials`` trials (asked in batches), then refit the best.

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
        self._validate_params()
        self._pruning = self._check_pruning()
        if self.racing and self._pruning is not None:
            raise ValueError(
                "The 'racing' parameter of OptunaSearchCV cannot be combined with a "
                f"pruner: racing stops candidates across splits, pruner={self.pruner!r} "
                "across epochs. Got racing=True and a pruner; use one of them."
            )
        if self._pruning is not None:
            self.rungs_ = self._pruning[1]
        else:  # (a fit with a pruner before this one left its rungs)
            self.__dict__.pop("rungs_", None)
        return super().fit(X, y, groups=groups, **fit_params)

    def _complete_results(self, results):
        """Each row's trial ``state`` and, with a pruner, the completed full-budget rows
        ranked first (:func:`rank_rows_first`)."""
        states = self._trial_states(results)
        column = np.empty(len(states), dtype=object)
        column[:] = list(states)
        if "raced" in results:  # racing: PRUNED trials that were raced
            column[np.asarray(results["raced"], dtype=bool)] = "RACED"
        results["state"] = column
        if self._pruning is not None:
            rank_rows_first(results, self._final_rows(results))

    def _expected_n_fits(self, X, y, groups, n_splits):
        """``n_trials`` x splits, x rungs with a pruner (an upper bound: pruned trials
        stop early, a ``timeout`` may end the search sooner)."""
        n_rungs = 1 if self._pruning is None else len(self._pruning[1])
        return self.n_trials * n_splits * n_rungs

    def _max_n_fits(self, n_splits):
        """:meth:`_expected_n_fits`, an upper bound (the data does not enter it)."""
        return self._expected_n_fits(None, None, None, n_splits)

    # -- the search -----------------------------------------------------------------
    def _run_search(self, evaluate):
        """Ask, fit and tell until ``n_trials`` slots are taken, then settle the slots of
        other processes (wait, take over dead ones, collect their rows).

        Each trial holds a *slot* (``hpsearch_slot``): 0, 1, ... in the order trials were
        asked in the study. The sampler of a named ``sampler`` is seeded from
        ``(random_state, slot)``, so a resumed search asks the same candidates an
        uninterrupted one would, and processes sharing a study ask different ones. A
        trial whose process died keeps its slot: a new trial with the same parameters
        (``hpsearch_takeover``) finishes its missing fits.
        """
        from ..space import as_space

        space = as_space(self.param_distributions)
        if self._pruning is not None:
            self._pruning[0].check_not_searched(space)
        store = evaluate.store
        self._row_slots, self._seen, self._foreign = [], set(), False
        self._base_seed = sampler_seed(self.random_state)
        batch = max(1, int(getattr(getattr(evaluate, "engine", None), "n_workers", 1) or 1))
        start = time.monotonic()
        self._sampler_stopped = False  # an exhaustive sampler (GridSampler) said stop

        def stopped():
            return self._sampler_stopped or time_is_up(evaluate)

        if self.resume:
            self._settle(evaluate, space, wait=False)
        more = True
        while more and not stopped():
            while not stopped() and (k := min(batch, self.n_trials - self._n_taken(store))) > 0:
                asked = [a for a in (self._ask_one(space, store) for _ in range(k)) if a]
                if asked:
                    self._evaluate_batch(evaluate, *zip(*asked))
                if self.timeout is not None and time.monotonic() - start >= self.timeout:
                    more = False
                    break
            more = more and not stopped() and self._settle(evaluate, space,
                                                           wait=store.shared)
        if self._foreign:  # rows of other processes: every process ends in slot order
            order = sorted(range(len(self._row_slots)), key=self._row_slots.__getitem__)
            evaluate.reorder(order)

    def _evaluate_batch(self, evaluate, trials, params, slots):
        start = len(evaluate.rows)
        if self._pruning is None:
            self._evaluate_plain(evaluate, list(trials), list(params))
        else:
            for wave in _waves(params):
                self._climb(evaluate, [trials[i] for i in wave], [params[i] for i in wave])
        self._seen.update(slots)
        # rows come per candidate (plain) or per rung (climb): map each to its trial's slot
        by_number = {t.number: s for t, s in zip(trials, slots)}
        numbers = evaluate.more_results["trial"][start:len(evaluate.rows)]
        self._row_slots.extend(by_number[n] for n in numbers)

    def _n_taken(self, store):
        """Slots taken in the study (finished, running or being taken over), plus trials
        other live processes are asking right now (no slot yet)."""
        slots, asking = _slots_and_askers(store.refresh(), store)
        return len({s for s in slots if s < self.n_trials}) + asking

    def _ask_one(self, space, store):
        """A new trial: its slot, a sampler seeded for it, its parameters; None when the
        slot is past ``n_trials`` (another process asked the last ones meanwhile)."""
        import optuna

        from ..store import encode_value

        study = self.study_
        template = optuna.trial.create_trial(
            state=optuna.trial.TrialState.RUNNING,
            user_attrs={"hpsearch_owner": store.owner},
        )
        store.announce()  # before its first trial (TrialStore._refuse_other_search)
        trial_id = self._pop_enqueued(space, store)
        if trial_id is None:
            trial_id = study._storage.create_new_trial(study._study_id,
                                                       template_trial=template)
        store.own(trial_id, write=False)
        slot = self._slot_of(trial_id, store)
        if slot >= self.n_trials:
            store.close_trial(trial_id, "hpsearch_surplus")
            return None
        study._storage.set_trial_user_attr(trial_id, "hpsearch_slot", slot)
        self._use_sampler(slot)
        trial = optuna.Trial(study, trial_id)
        params = self._suggest(trial, space)
        trial.set_user_attr("params", encode_value(params))
        return trial, params, slot

    def _pop_enqueued(self, space, store):
        """The first enqueued trial (``study.enqueue_trial``) this process takes, as
        ``study.ask`` takes it (WAITING -> RUNNING), or None when none waits.

        Its owner is written before it runs (a RUNNING trial without a live owner is
        closed as dead by other processes), once the trial is read WAITING again (the
        list may be stale: writing over the owner of a trial another process took made
        it look dead once this process ended), and again after (a rival that lost the
        trial may have written its own). SQLite has no row lock, so processes that read the
        trial WAITING at once may each set it RUNNING: there the first ticket takes it
        (:meth:`~hpsearch.model_selection.store.TrialStore.lost_enqueued`, as in ASHA's
        :meth:`~hpsearch.model_selection.store.TrialStore.pop_enqueued`). Its enqueued
        values of coded categorical choices are turned into their codes
        (:func:`_enqueued_codes`). Its slot follows the trials created before it was
        enqueued: a trial enqueued while other processes share the study may, in a race
        with one of them asking, get a slot taken meanwhile (its row is then missing from
        ``cv_results_``, and one more trial is asked)."""
        import optuna

        storage, study_id = self.study_._storage, self.study_._study_id
        Waiting, Running = optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING
        trials = storage.get_all_trials(study_id, deepcopy=False, states=(Waiting,))
        store.mark_popping(trials)
        for waiting in trials:
            trial_id = waiting._trial_id
            if storage.get_trial(trial_id).state != Waiting:
                continue  # taken since the list was read: its owner is another process
            try:
                storage.set_trial_user_attr(trial_id, "hpsearch_owner", store.owner)
                if not storage.set_trial_state_values(trial_id, state=Running):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            if store.lost_enqueued(waiting):
                continue  # (SQLite) another process set it RUNNING too, and was first
            storage.set_trial_user_attr(trial_id, "hpsearch_owner", store.owner)
            fixed = waiting.system_attrs.get("fixed_params")
            if fixed:
                storage.set_trial_system_attr(trial_id, "fixed_params",
                                              _enqueued_codes(fixed, space))
            return trial_id
        return None

    def _suggest(self, trial, space):
        """:func:`~hpsearch.model_selection.space.suggest`; a parameter the study's trials
        (another process's, or a resumed run's) hold with another kind of distribution
        (Optuna cannot mix them under one name) is a ValueError naming it."""
        from ..space import suggest

        try:
            return suggest(trial, space)
        except ValueError as exc:
            clash = self._space_clash(space)
            if clash is None:
                coded = _coded_choices(space)
                if not coded or "not in" not in str(exc):
                    raise
                raise ValueError(
                    f"The 'sampler' of {type(self).__name__} gave a value Optuna does not "
                    f"find among a parameter's choices ({exc}). Categorical choices that "
                    f"are not None/bool/int/float/str, or equal ones of different types, "
                    f"are handed to Optuna as string codes: {coded}. A sampler given fixed "
                    f"values (GridSampler, PartialFixedSampler) must use these codes."
                ) from exc
        name, stored, number, mine = clash
        raise ValueError(
            f"The 'param_distributions' parameter of {type(self).__name__} must give "
            f"{name!r} the kind of distribution the study {self.study_.study_name!r} holds "
            f"it with ({stored}, trial {number}; Optuna cannot mix two kinds under one "
            f"name). Use that distribution, or another study_name. Got {mine} instead.")

    def _space_clash(self, space):
        """``(name, stored distribution, trial number, this space's distribution)`` of a
        parameter the study holds with an incompatible distribution, or None."""
        from optuna.distributions import check_distribution_compatibility

        from ..space import optuna_distributions

        mine = optuna_distributions(space)
        for trial in self.study_.get_trials(deepcopy=False):
            for name, stored in trial.distributions.items():
                if name not in mine:
                    continue
                try:
                    check_distribution_compatibility(stored, mine[name])
                except ValueError:
                    return name, stored, trial.number, mine[name]
        return None

    def _slot_of(self, trial_id, store):
        """Slot of a new trial: the slots held by earlier trials, plus earlier trials of
        live processes still getting theirs."""
        earlier = [t for t in self.study_._storage.get_all_trials(self.study_._study_id,
                                                                    deepcopy=False)
                   if t._trial_id < trial_id]
        slots, asking = _slots_and_askers(earlier, store)
        return len(slots) + asking

    def _use_sampler(self, slot):
        """Seed a named sampler from ``(random_state, slot)`` (QMC keeps one seed: its
        sequence follows the study's trials); an instance is used as given."""
        study = self.study_
        if not isinstance(self.sampler, str) or self.sampler == "qmc":
            study._thread_local.cached_all_trials = None  # what ``study.ask`` does
            return
        seed = self._base_seed
        if seed is not None:
            seed = int(np.random.SeedSequence((seed, slot)).generate_state(1)[0] >> 1)
        study.sampler = make_sampler(self.sampler, random_state=seed, n_jobs=self.n_jobs)
        study._thread_local.cached_all_trials = None  # what ``study.ask`` does

    def _tell(self, trial, score, state=None, cut=False):
        """Tell ``trial`` its score (FAIL when not finite) or ``state``. ``cut``: the
        search's ``timeout`` left splits of it unrun; it is closed as interrupted
        (``hpsearch_interrupted``), so a resume takes it over (:meth:`_settle`: same
        slot and parameters, its finished fits reused) as it takes over a killed
        process's trial, instead of counting it failed."""
        import optuna

        if state is None and not np.isfinite(score):
            state = optuna.trial.TrialState.FAIL
        if cut:
            try:
                self.study_._storage.set_trial_user_attr(
                    trial._trial_id, "hpsearch_interrupted", True)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another process closed (took over) it
        # skip_if_finished: a trial another process closed (took over) stays closed
        try:
            if state is None:
                self.study_.tell(trial, float(score), skip_if_finished=True)
            else:
                self.study_.tell(trial, state=state, skip_if_finished=True)
        except RuntimeError as exc:
            # GridSampler / BruteForceSampler call Study.stop() from after_trial once
            # their space is exhausted, which Optuna allows only inside optimize(); the
            # trial is stored before (Optuna's tell stores it in a `finally`). Honour the
            # stop: no more trials are asked.
            if "Study.stop" not in str(exc):
                raise
            self._sampler_stopped = True

    def _evaluate_plain(self, evaluate, trials, params):
        result = evaluate(
            params, trials=trials, more_results={"trial": [t.number for t in trials]}
        )
        import optuna

        for trial, score, row in zip(trials, result.scores, result.rows):
            raced = evaluate.rows[row].get("raced")  # racing: its splits were cut short
            self._tell(trial, score, optuna.trial.TrialState.PRUNED if raced else None,
                       cut=_cut_by_timeout(evaluate, row))

    def _climb(self, evaluate, trials, params):
        """Train distinct trials rung by rung; report, prune, tell."""
        import optuna

        Pruned = optuna.trial.TrialState.PRUNED
        plan, rungs = self._pruning
        alive, last = list(range(len(trials))), {}
        for itr, budget in enumerate(rungs):
            n = len(alive)
            result = evaluate(
                [params[i] for i in alive],
                more_results={
                    "trial": [trials[i].number for i in alive],
                    "iter": [itr] * n,
                    "n_resources": [int(budget)] * n,
                },
                resources=plan.budget(budget),
                continue_training=True,
                trials=[trials[i] for i in alive],
            )
            survivors = []
            for i, score, row in zip(alive, result.scores, result.rows):
                if not np.isfinite(score):
                    self._tell(trials[i], score, cut=_cut_by_timeout(evaluate, row))
                    continue
                trials[i].report(float(score), int(budget))
                last[i] = score
                if itr < len(rungs) - 1 and trials[i].should_prune():
                    self._tell(trials[i], score, Pruned)
                    continue
                survivors.append(i)
            evaluate.release([params[i] for i in alive if i not in survivors])
            alive = survivors
            if not alive:
                return
        for i in alive:
            self._tell(trials[i], last[i])
        evaluate.release([params[i] for i in alive])

    # -- resume and other processes ---------------------------------------------------------
    def _settle(self, evaluate, space, *, wait):
        """Put every finished slot into ``cv_results_`` and take over the slots whose
        process died (their missing fits run here). With ``wait``, wait for the slots
        other live processes fit. Returns whether free slots are left to ask."""
        import optuna

        State = optuna.trial.TrialState
        store = evaluate.store
        from ..store import POLL_INTERVAL

        pause, n_busy = POLL_INTERVAL, None
        while True:
            trials = store.refresh()
            asking = 0  # trials a live process asked and has not given a slot yet
            for trial in trials:
                if "hpsearch_slot" not in trial.user_attrs and trial.state == State.RUNNING:
                    # a dead owner's is closed; a live one's slot is still coming: wait
                    # for it too (else this process could end without that trial's rows)
                    asking += len(store.interrupt_dead([trial]))
            slots = {}
            for trial in trials:
                slot = _slot(trial)
                if slot is not None and slot < self.n_trials and slot not in self._seen:
                    slots.setdefault(slot, []).append(trial)
            busy = asking
            for slot in sorted(slots):
                trials = slots[slot]
                # a trial whose row has fits to run again (a longer fit_timeout) is
                # not done: a new trial takes the slot over (the last finished one)
                done = [t for t in trials if _finished(t) and not store.refits(t._trial_id)]
                if done:
                    self._replay(evaluate, space, done[-1], slot)
                elif store.interrupt_dead(trials):
                    busy += 1  # a live process fits it
                else:
                    if any(store.refits(t._trial_id) for t in trials):
                        store.refresh()  # rows fitted again meanwhile (a repeated candidate)
                    if not self._take_over(evaluate, space, trials, slot):
                        busy += 1
            if self._n_taken(store) < self.n_trials:
                return True
            # every slot taken, counting the RUNNING trials of live processes that have
            # none yet: refused first by a search of another kind, whose trials never
            # get one (was: with n_trials=1 it waited for a running halving to end,
            # past its timeout, then was refused by the kind the halving recorded)
            store.check_others()
            if not (busy and wait):
                return False
            # look again later, less often while nothing changes (at most every 2 s)
            pause = min(2.0, pause * 1.5) if busy == n_busy else POLL_INTERVAL
            n_busy = busy
            time.sleep(pause)

    def _replay(self, evaluate, space, trial, slot):
        """Rows of a finished trial, from the store (nothing is fitted)."""
        from ..space import decode_params
        from ..store import _record_problem

        params = decode_params(trial.params, space)
        budgets = sorted(
            (payload.get("resources") or {} for name, payload in trial.user_attrs.items()
             if name.startswith("hpsearch_row:")
             and _record_problem("hpsearch_row", payload) is None),
            key=lambda b: sorted(b.values()),
        )
        start = len(evaluate.rows)
        if self._pruning is None or not budgets:
            evaluate([params], more_results={"trial": [trial.number]})
        else:
            for itr, budget in enumerate(budgets):
                evaluate(
                    [params],
                    more_results={
                        "trial": [trial.number],
                        "iter": [itr],
                        "n_resources": [int(budget[self._pruning[0].param])],
                    },
                    resources=budget,
                    continue_training=True,
                    # (its rows are the finished trial's: without it a budgeted row is
                    # adopted as halving's, and a live process's RUNNING trial of the
                    # same candidate refused this process with "cannot share study")
                    trials=[trial],
                )
        self._row_slots.extend([slot] * (len(evaluate.rows) - start))
        self._seen.add(slot)
        if trial.user_attrs.get("hpsearch_owner") != evaluate.store.owner:
            self._foreign = True

    def _take_over(self, evaluate, space, trials, slot):
        """Finish the slot of a dead process in a new trial with its parameters (its
        finished fits are reused). Returns False when another process took it first."""
        import optuna

        from ..store import encode_value

        store, study = evaluate.store, self.study_
        State = optuna.trial.TrialState
        source = next((t for t in trials if t.params), None)
        attrs = {"hpsearch_owner": store.owner, "hpsearch_slot": slot,
                 "hpsearch_takeover": True}
        if source is not None:
            attrs["params"] = source.user_attrs.get("params")
        template = optuna.trial.create_trial(
            state=State.RUNNING,
            params=source.params if source else {},
            distributions=source.distributions if source else {},
            user_attrs=attrs,
        )
        store.announce()
        trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
        store.own(trial_id, write=False)
        rivals = [
            t for t in study._storage.get_all_trials(study._study_id, deepcopy=False)
            if _slot(t) == slot and t.state != State.FAIL
            and not store.refits(t._trial_id)
        ]
        if min(t._trial_id for t in rivals) != trial_id:
            store.close_trial(trial_id, "hpsearch_duplicate")
            return False
        self._use_sampler(slot)
        trial = optuna.Trial(study, trial_id)
        params = self._suggest(trial, space)
        if source is None:
            trial.set_user_attr("params", encode_value(params))
        self._evaluate_batch(evaluate, [trial], [params], [slot])
        return True

    # -- results ------------------------------------------------------------------
    def _trial_states(self, results):
        states = {t.number: t.state.name for t in self.study_.get_trials(deepcopy=False)}
        return [states.get(number) for number in results["trial"]]

    def _final_rows(self, results):
        """Rows of completed trials at the full budget (with a pruner)."""
        complete = np.array([s == "COMPLETE" for s in self._trial_states(results)])
        full = np.asarray(results["n_resources"]) == self._pruning[1][-1]
        return np.flatnonzero(complete & full)

    def _select_best_index(self, refit, refit_metric, results):
        """sklearn's choice; with a pruner, among completed trials at the full budget."""
        if callable(refit) or self._pruning is None:
            return super()._select_best_index(refit, refit_metric, results)
        rows = self._final_rows(results)
        if rows.size == 0:
            return super()._select_best_index(refit, refit_metric, results)
        return best_row(results, refit_metric, rows)
