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

from ._base import BaseSearchCV, _key
from ._halving_resource import resource_plan
from .halving import best_row, rank_rows_first
from ._optuna import PRUNERS, SAMPLERS, make_pruner, make_sampler

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


class OptunaSearchCV(BaseSearchCV):
    """Bayesian (model-based) search with an Optuna sampler, on hpsearch's engine.

    Parameters
    ----------
    estimator : estimator object
    param_distributions : dict or list of dicts
        ``hpsearch.space`` dimensions (``Float``, ``Int``, ``Categorical``, conditional
        ones with ``when=``), lists or scipy.stats distributions; each becomes an Optuna
        distribution (define-by-run, so conditional parameters are suggested only when
        their condition holds).
    n_trials : int, default=10
        Trials in all (with ``resume=True``, the finished trials of the study count).
    timeout : float or None, default=None
        Seconds for the whole search, as for every search (see ``BaseSearchCV``): no
        trial is asked and no fit starts after it; fits running then are stopped (fork
        workers) and their trials told FAIL.
    sampler : str or optuna sampler, default="tpe"
        ``"tpe"`` (multivariate, constant liar when trials run in parallel), ``"gp"``,
        ``"cmaes"``, ``"qmc"``, ``"random"`` or an instance; seeded from
        ``random_state``.
    pruner : None, str or optuna pruner, default=None
        ``"median"``, ``"successive_halving"``, ``"hyperband"`` or an instance. Needs an
        estimator that continues training (``warm_start`` or ``partial_fit`` and
        ``max_iter``): each trial then trains in ``rungs`` of epochs.
    rungs : None, int or list of int, default=None
        With a pruner: epoch budgets at which the trial is scored and may be pruned (the
        last is the full budget of a completed trial). None: 4 rungs
        :func:`default_rungs` of the estimator's ``max_iter``; an int: that many.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, random_state, error_score, \
return_train_score, progress, storage, study_name, resume, backend, fit_timeout, \
max_retries
        The common search parameters (see ``BaseSearchCV``). A batch holds as many
        trials as the engine has workers.

    Attributes
    ----------
    study_ : optuna.Study
        The study: one trial per candidate, value = mean CV score of the refit metric
        (maximized: sklearn scorers are greater-is-better), per-split scores as user
        attributes, rung scores as intermediate values.
    cv_results_ : dict
        sklearn's layout, plus ``trial`` (Optuna trial number), ``state`` (``COMPLETE``,
        ``PRUNED`` or ``FAIL``: the trial's final state) and, with a pruner, ``iter``
        and ``n_resources`` (one row per trial and rung).
    best_index_, best_score_, best_params_, best_estimator_
        As sklearn; with a pruner, the best *completed* trial at the full budget (and
        ``rank_test_<metric>`` ranks those rows first, so rank 1 is ``best_index_``).
    rungs_ : list of int
        The epoch budgets used (with a pruner).

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

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "timeout": [None, Interval(Real, 0, None, closed="neither")],
        "sampler": [
            StrOptions(set(SAMPLERS)),
            HasMethods(["sample_relative", "sample_independent"]),
        ],
        "pruner": [None, StrOptions(set(PRUNERS)), HasMethods(["prune"])],
        "rungs": [None, Interval(Integral, 1, None, closed="left"), list, tuple],
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

    # -- set-up ---------------------------------------------------------------------
    def _study_options(self):
        import optuna

        pruner = make_pruner(self.pruner) or optuna.pruners.NopPruner()
        sampler = make_sampler(self.sampler, random_state=self.random_state, n_jobs=self.n_jobs)
        return {"sampler": sampler, "pruner": pruner}

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
        if self._pruning is not None:
            self.rungs_ = self._pruning[1]
        super().fit(X, y, groups=groups, **fit_params)
        states = self._trial_states(self.cv_results_)
        column = np.empty(len(states), dtype=object)
        column[:] = list(states)
        self.cv_results_["state"] = column
        if self._pruning is not None:
            rank_rows_first(self.cv_results_, self._final_rows(self.cv_results_))
        return self

    def _expected_n_fits(self, X, y, groups, n_splits):
        """``n_trials`` x splits, x rungs with a pruner (an upper bound: pruned trials
        stop early, a ``timeout`` may end the search sooner)."""
        n_rungs = 1 if self._pruning is None else len(self._pruning[1])
        return self.n_trials * n_splits * n_rungs

    # -- the search -----------------------------------------------------------------
    def _run_search(self, evaluate):
        from .space import as_space

        space = as_space(self.param_distributions)
        if self._pruning is not None:
            self._pruning[0].check_not_searched(space)
        done = self._replay(evaluate, space) if self.resume else 0
        batch = max(1, int(getattr(getattr(evaluate, "engine", None), "n_workers", 1) or 1))
        start = time.monotonic()
        engine = getattr(evaluate, "engine", None)
        self._sampler_stopped = False
        while (done < self.n_trials and not self._sampler_stopped
               and not (engine is not None and engine.time_is_up())):
            k = min(batch, self.n_trials - done)
            trials, params = self._ask(space, k)
            if self._pruning is None:
                self._evaluate_plain(evaluate, trials, params)
            else:
                for wave in _waves(params):
                    self._climb(evaluate, [trials[i] for i in wave], [params[i] for i in wave])
            done += k
            if self.timeout is not None and time.monotonic() - start >= self.timeout:
                break

    def _ask(self, space, k):
        from .space import suggest
        from .store import encode_value

        trials = [self.study_.ask() for _ in range(k)]
        params = [suggest(trial, space) for trial in trials]
        for trial, candidate in zip(trials, params):
            trial.set_user_attr("params", encode_value(candidate))
        return trials, params

    def _tell(self, trial, score, state=None):
        import optuna

        if state is None and not np.isfinite(score):
            state = optuna.trial.TrialState.FAIL
        try:
            if state is None:
                self.study_.tell(trial, float(score))
            else:
                self.study_.tell(trial, state=state)
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
        for trial, score in zip(trials, result.scores):
            self._tell(trial, score)

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
            for i, score in zip(alive, result.scores):
                if not np.isfinite(score):
                    self._tell(trials[i], score)
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

    # -- resume -----------------------------------------------------------------------
    def _replay(self, evaluate, space):
        """Fail interrupted trials; put finished ones back into ``cv_results_``.

        A finished trial is one this search recorded (its rows are in the store); their
        rows are looked up, not fitted again. Returns how many there are: they count
        towards ``n_trials``.
        """
        import optuna

        from .space import decode_params

        State = optuna.trial.TrialState
        storage = self.study_._storage
        finished = []
        for trial in self.study_.get_trials(deepcopy=False):
            if trial.state in (State.RUNNING, State.WAITING):
                storage.set_trial_user_attr(trial._trial_id, "hpsearch_interrupted", True)
                key = trial.user_attrs.get("hpsearch_key")
                if key is not None:
                    evaluate.store.finish(key, "FAIL")
                if storage.get_trial(trial._trial_id).state == State.RUNNING:
                    self.study_.tell(trial.number, state=State.FAIL)
            elif not trial.user_attrs.get("hpsearch_interrupted") and any(
                name.startswith("hpsearch_row:") for name in trial.user_attrs
            ):
                finished.append(trial)
        for trial in finished:
            params = decode_params(trial.params, space)
            budgets = sorted(
                (payload.get("resources") or {} for name, payload in trial.user_attrs.items()
                 if name.startswith("hpsearch_row:")),
                key=lambda b: sorted(b.values()),
            )
            if self._pruning is None or not budgets:
                evaluate([params], more_results={"trial": [trial.number]})
                continue
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
                )
        return len(finished)

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
