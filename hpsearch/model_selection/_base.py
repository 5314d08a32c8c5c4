"""BaseSearchCV: the sklearn search contract on hpsearch's engine.

How a strategy is written
-------------------------
A search class subclasses :class:`BaseSearchCV` and writes one method,
``_run_search(self, evaluate)``. It decides *which* candidates to try and at *what
budget*; the engine does everything else (cloning, seeds, folds, joblib, progress bar,
trial store, resume, ``cv_results_``)::

    class GridSearchCV(BaseSearchCV):
        def _run_search(self, evaluate):
            evaluate(grid_candidates(as_space(self.param_grid)))

``evaluate(candidate_params, *, more_results=None, resources=None,
continue_training=False, trials=None)``

- ``candidate_params``: list of parameter dicts (sklearn ``step__param`` names work).
- ``more_results``: dict ``key -> list`` (one value per candidate) added to
  ``cv_results_`` (e.g. halving's ``iter``, ``n_resources``), as in sklearn.
- ``resources``: the budget of these rows, one dict for all candidates or a list of
  dicts (one per candidate). Keys are parameter overrides set on the estimator for this
  evaluation only (``{"max_iter": 9}``, ``{"clf__max_iter": 9}``, ``{"n_estimators": 30}``)
  and/or ``"n_samples"``: each train fold is subsampled to that many rows (a
  deterministic subsample per split, the same for every candidate; test folds are
  never subsampled). A budget is always the *cumulative* one the row stands for.
  ``cv_results_`` then gets a ``resources`` column, and :meth:`BaseSearchCV.
  _refit_params` applies the parameter overrides of the best row to the final refit.
- ``continue_training=True``: every (candidate, split) that was already evaluated with
  ``resources`` (or ``continue_training``) in this fit continues from its fitted
  estimator instead of starting over. The budget must name exactly one integer
  parameter override (e.g. ``{"max_iter": 27}`` after 9). Estimators with a
  ``warm_start`` parameter (also as the last step of a Pipeline) get ``warm_start=True``
  and, for ``max_iter`` (a per-call count of epochs), ``max_iter=27 - 9``; other
  parameters (``n_estimators``) are set to the new total. Estimators without
  ``warm_start`` but with ``partial_fit`` get ``27 - 9`` calls to ``partial_fit``
  (``classes=`` for classifiers). With no kept estimator (first call, resumed search),
  the fit starts from scratch at the full budget, which gives the same result for
  estimators whose continuation is exact (hpsearch's MLP). Kept estimators are freed
  with ``evaluate.release(candidate_params)`` (eliminated candidates) or
  ``evaluate.release()`` (all); everything is freed when ``fit`` ends.
- ``trials``: optional list of Optuna trials (from ``self.study_.ask()``), one per
  candidate. Their per-split results are written into those trials (user attributes,
  intermediate value at the budget step) and the strategy calls ``study_.tell``;
  without ``trials`` the engine records each candidate as its own trial.

Every fit is recorded in the store the moment its result arrives (see
:mod:`hpsearch.model_selection.store`): fits already recorded for a row (``resume``, or
another process on the same study) are reused, so an interrupted candidate fits only its
missing splits. Without ``trials`` and without a budget, candidates are claimed in
shrinking chunks (so processes sharing a study split the work); candidates another live
process holds are waited for, and taken over if it dies.

It returns an :class:`Evaluation` for exactly these candidates, in order:
``scores`` (mean test score of the refit metric per candidate; NaN when every split
failed), ``split_scores`` (n_candidates x n_splits), ``rows`` (their indices in
``cv_results_``), ``results`` (the whole ``cv_results_`` so far), ``errors``.
Strategies that need a budget-aware store entry call ``evaluate.finish(params,
state)`` (e.g. ``"PRUNED"`` for eliminated halving candidates); any candidate not
finished is marked COMPLETE with its last score at the end of ``fit``.

Seeds: each fit's estimator ``*random_state`` parameters left at None are set from
``SeedSequence((random_state, seed id, split))``; the seed id is a hash of the candidate's
parameters (:func:`_seed_id`), so a candidate re-evaluated at a higher budget gets the
same seeds, and so does a candidate a resumed search or another process sharing the study
fits (whatever order it meets the candidates in). Results are identical for any
``n_jobs`` and backend.
"""

import copy
import hashlib
import json
import numbers
import pickle
import re
import sys
import time
import warnings
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

import numpy as np
from joblib.logger import short_format_time
from sklearn.base import clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection._search import BaseSearchCV as _SkBaseSearchCV
from sklearn.utils import check_random_state, get_tags, indexable, metadata_routing
from sklearn.utils._param_validation import (HasMethods, Interval, InvalidParameterError,
                                            StrOptions)
from sklearn.utils.validation import _check_method_params

from ._docstrings import fill_doc
from ._engine import (Engine, ScorerDict, Task, interrupts_deferrable, seed_names,
                      seed_params, seeds_for, shield_interrupts, task_seed)
from ._results import format_results, metric_names, missing_score, results_frame, row_error
from ._racing import mark_raced_results, race, racing_enabled, warn_non_finite
from .store import _FIT_KEYS, data_fingerprint, fit_failed, search_settings
from .strategies._halving_resource import warm_start_param

__all__ = ["BaseSearchCV", "Evaluation"]

#: Resource parameters that count *additional* work on a warm start (sklearn's and
#: hpsearch's ``max_iter`` run that many more epochs); any other parameter
#: (``n_estimators``) counts the total.
INCREMENTAL_PARAMS = ("max_iter",)


def _make_cv(cv, y, classifier):
    from .split import make_cv

    return make_cv(cv, y=y, classifier=classifier)


def _as_indices(rows):
    """A split's rows as integer indices. sklearn also takes boolean masks
    (``cv=[(mask, ~mask)]``), whose length is not the number of rows: ``n_samples``
    budgets drew from the mask's positions ("Cannot take a larger sample than population",
    or NaN rows in Hyperband) and racing weighed the folds by the mask length."""
    rows = np.asarray(rows)
    return np.flatnonzero(rows) if rows.dtype == bool else rows


def _n_splits(cv, X, y, groups, **split_params):
    from .split import check_n_splits

    return check_n_splits(cv, X, y, groups, **split_params)


def fit_failure_message(errors, n_fits, error_score, all_failed=None):
    """scikit-learn's text about failed fits (``_warn_or_raise_about_fit_failures``):
    how many of ``n_fits`` failed and each distinct traceback with its count.

    Parameters
    ----------
    errors : list of str
        The traceback of every failed fit.
    n_fits : int
    error_score : float or "raise"
    all_failed : bool or None, default=None
        The "All the N fits failed" text; None: when every fit failed.

    Returns
    -------
    message : str
        "All the N fits failed. ..." when every fit failed, else "K fits failed out of
        a total of N. ...".
    """
    delimiter = "-" * 80 + "\n"
    summary = "\n".join(
        f"{delimiter}{n} fits failed with the following error:\n{error}"
        for error, n in Counter(errors).items()
    )
    if all_failed is None:
        all_failed = len(errors) == n_fits
    if all_failed:
        return (
            f"\nAll the {n_fits} fits failed.\n"
            "It is very likely that your model is misconfigured.\n"
            "You can try to debug the error by setting error_score='raise'.\n\n"
            f"Below are more details about the failures:\n{summary}"
        )
    return (
        f"\n{len(errors)} fits failed out of a total of {n_fits}.\n"
        "The score on these train-test partitions for these parameters"
        f" will be set to {error_score}.\n"
        "If these failures are not expected, you can try to debug them "
        "by setting error_score='raise'.\n\n"
        f"Below are more details about the failures:\n{summary}"
    )


def _callback_management(search):
    """sklearn's callback lifecycle around ``fit`` (teardown of the callbacks set with
    ``set_callbacks``, even when ``fit`` fails); nothing on a scikit-learn without
    ``sklearn.callback``."""
    try:
        from sklearn.callback._callback_support import callback_management_context
    except ImportError:  # scikit-learn < 1.9
        return nullcontext()
    return callback_management_context(search)


def _callback_metadata(fit_params):
    """The ``metadata`` sklearn hands to callback hooks: the ``sample_weight``, if any.
    The search's own hooks (``fit``, the refit) get the ``sample_weight`` given to
    ``fit``, routed or not, as sklearn's; a (candidate, split) fit's hooks the one its
    estimator gets."""
    weights = (fit_params or {}).get("sample_weight")
    return None if weights is None else {"sample_weight": weights}


def _stable(value):
    """A JSON-able stand-in for a parameter value, equal for equal values."""
    from .store import encode_value

    return encode_value(value)


def _key(*parts):
    """SHA-1 of the JSON list of ``parts`` (each made JSON-able by :func:`_stable`)."""
    return _hash([json.dumps(_stable(p), sort_keys=True) for p in parts])


def _note_resumable(exc, store, evaluate):
    """Tell, on the error that ends a search with a ``storage``, where its finished fits
    are and how to continue from them: the study's name, which the user may never have
    seen (``study_name=None`` gives Optuna's generated ``no-name-<uuid>``, and
    ``resume=True`` needs the name)."""
    name = store.study.study_name
    n_fits = 0 if evaluate is None else evaluate.n_fits
    if hasattr(exc, "add_note"):  # Python >= 3.11
        exc.add_note(
            f"hpsearch: the {n_fits} fits this run finished before the error are recorded "
            f"in study {name!r}; once its cause is fixed, fit again with resume=True and "
            f"study_name={name!r} to continue from them.")


def _warn_enqueued(study, name, kind=None):
    """Say that trials enqueued in ``study`` (``study.enqueue_trial``) are not run, and
    what becomes of them: only :class:`OptunaSearchCV` asks them (its trials are its
    candidates) and :class:`ASHASearchCV` starts them as its first candidates; grid,
    random, halving and Hyperband searches draw a fixed set of candidates from their own
    space and schedule (the same in every process sharing the study, and again on
    resume), and a waiting trial was left WAITING without a word. ``kind``: the
    searches that may share the study (``_study_kind``; None: ``name`` alone, so no
    hpsearch search will ever ask them there)."""
    import optuna

    waiting = study._storage.get_all_trials(
        study._study_id, deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    if waiting:
        example = waiting[0].system_attrs.get("fixed_params", waiting[0].params)
        later = (
            "an OptunaSearchCV with resume=True on this study (or study.optimize) asks "
            "them first" if kind and "Optuna" in kind else
            f"no other search may resume this study of {name}, so only study.optimize "
            "would ask them; enqueue them in an OptunaSearchCV's or ASHASearchCV's study")
        if not kind:  # (were left WAITING for ever)
            later = (f"no other search may resume this study of {name}, so once it "
                     f"ends it closes them FAIL (user attribute {NOT_RUN_ATTR!r} says "
                     "why) instead of leaving them WAITING for ever; enqueue them in an "
                     "OptunaSearchCV's or ASHASearchCV's study")
        warnings.warn(
            f"The study {study.study_name!r} holds {len(waiting)} trial(s) enqueued with "
            f"study.enqueue_trial (e.g. {example}); {name} does not run enqueued trials "
            "(its candidates come from its own space and schedule): they stay WAITING, "
            "not fitted, not in cv_results_ and not counted among its candidates; "
            f"{later}. To evaluate them in this search, add their values to its space.",
            UserWarning, stacklevel=3)


#: user attribute of an enqueued trial a halving or Hyperband search closed FAIL: why
NOT_RUN_ATTR = "hpsearch_not_run"


def stored_beyond_budget(study, budget, slots=False):
    """The number of finished (complete or pruned) candidates of the Optuna ``study``
    when they are more than ``budget``, else None.

    Candidates, not trials: an ASHA candidate can span several finished trials (a resume
    that promotes a candidate an earlier run closed PRUNED records it in a new trial;
    lost claims are marked ``hpsearch_duplicate``), each counted once by its
    ``hpsearch_key`` (was: such a resume counted 11 for 9 candidates, and the CLI refused
    the next ``--resume`` with the same ``n_trials``).

    Only candidates the search could report: those hpsearch recorded (``hpsearch_key``),
    or with ``slots`` (OptunaSearchCV, whose ``n_trials`` counts the study's slots,
    ``hpsearch_slot``) the distinct slots of finished trials. A trial added to the study
    by hand or by Optuna's own ``study.optimize`` is no candidate of any budget (was:
    counted, so a resume with the same budget warned, the CLI refused it, and the advice
    to raise the budget by one would not have included it)."""
    if not isinstance(budget, numbers.Integral):
        return None
    if slots:
        from .strategies.bayes import _slot

        n = len({_slot(t) for t in _finished_trials(study)} - {None})
    else:
        n = len(_finished_keys(study))
    return n if n > budget else None


def _finished_trials(study):
    """The finished (complete or pruned) trials of the Optuna ``study``, lost claims
    (``hpsearch_duplicate``) left out."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [t for t in study.get_trials(deepcopy=False, states=states)
            if "hpsearch_duplicate" not in t.user_attrs]


def _finished_keys(study):
    """The candidate keys (``hpsearch_key``) of the finished trials hpsearch recorded in
    ``study`` (:func:`_finished_trials`)."""
    return {t.user_attrs["hpsearch_key"] for t in _finished_trials(study)
            if isinstance(t.user_attrs.get("hpsearch_key"), str)}


def _warn_budget_below_store(search, store):
    """Warn when a resumed study holds more finished candidates than the budget of this
    fit (``n_iter`` / ``n_trials``, :attr:`BaseSearchCV._budget_param`): the search
    reports at most ``budget`` of them, and the best of the store may be one of the
    others. Was silent: a resume with ``n_iter=3`` of a study of 6 finished candidates
    showed the first 3 in ``cv_results_`` and ``best_params_``."""
    param = search._budget_param
    if param is None:  # (no budget counts this search's candidates: no read)
        return
    budget = getattr(search, param, None)
    n = stored_beyond_budget(store.study, budget, slots=search._budget_in_slots)
    if n is None:
        return
    warnings.warn(
        f"The trial store holds {n} finished candidates of study "
        f"{store.study.study_name!r}, more than {param}={budget}: this fit's cv_results_ "
        f"and best_params_ show at most {budget} of them, and the best of the store may be "
        f"among the others. The other {n - budget} stay in the store; fit again with "
        f"resume=True and {param}={n} (or more) to include them (finished candidates are "
        "not fitted again).", UserWarning, stacklevel=_outside_package())


def _warn_store_left_out(search, store, evaluate):
    """Warn when a resumed study holds finished candidates this fit did not report, for a
    search whose candidates are not a count of the study's (halving, Hyperband: drawn by
    ``n_candidates`` / ``min_resources`` / ``max_resources`` / ``factor``; the recipe:
    asked in stages of at most ``n_iter``), :attr:`BaseSearchCV._left_out_params`. Was
    silent: a resume with ``n_candidates=3`` of a study of 9 candidates reported 3 of them
    (best CV score 0.96, the store's 0.9667), as a smaller ``n_iter`` did for the others
    (:func:`_warn_budget_below_store`). Not after the search's ``timeout`` (a cut search
    leaves candidates out by design)."""
    engine = getattr(evaluate, "engine", None)
    if engine is not None and engine.expired:
        return
    stored = _finished_keys(store.study)
    reported = {row["candidate_key"] for row in evaluate.rows}
    left = len(stored - reported)
    if not left:
        return
    given = ", ".join(f"{name}={getattr(search, name, None)!r}"
                      for name in search._left_out_params)
    warnings.warn(
        f"The trial store holds {len(stored)} finished candidates of study "
        f"{store.study.study_name!r}, {left} of which this fit did not report (its "
        f"candidates: {len(reported)}, with {given}): its cv_results_ and best_params_ "
        f"leave them out, and the best of the store may be among them. They stay in the "
        f"store; fit again with resume=True and the settings (and random_state) of the "
        "run that drew them to include them (finished candidates are not fitted again).",
        UserWarning,
        stacklevel=_outside_package())


def _outside_package():
    """The ``stacklevel`` of the first caller outside hpsearch (the user's ``fit``, past
    the ``fit`` overrides of the search classes)."""
    import os

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _close_enqueued(store, name):
    """Close FAIL the trials enqueued in a halving or Hyperband study, which no search
    will ever ask (:func:`_warn_enqueued` said so when the search started), so that the
    study (and ``optuna-dashboard``) does not show them waiting for ever. Each is taken
    as Optuna's ``study.ask`` takes one (:meth:`TrialStore.pop_enqueued`), its user
    attribute :data:`NOT_RUN_ATTR` says why. Called once the search has run: it held the
    study alone, so no other search was about to take them."""
    import optuna

    reason = (f"not run: {name} runs the candidates of its own space and schedule, and "
              "no other search may resume its study")
    while (trial := store.pop_enqueued()) is not None:
        trial_id = trial._trial_id
        store._storage.set_trial_user_attr(trial_id, NOT_RUN_ATTR, reason)
        store._storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
        store._popped.discard(trial_id)
        store._mine.discard(trial_id)


def _seed_id(params):
    """The candidate id of the per-fit seeds: the first 60 bits of the SHA-1 of the
    candidate's parameters (their JSON, as in :func:`_key`, without object addresses).

    From the parameters alone, never from the order a process meets its candidates in:
    a candidate fitted by a resumed search, or by another process sharing the study (an
    Optuna trial, an ASHA candidate), gets the seeds an uninterrupted run gives it. A
    value whose text holds its address (``<Foo object at 0x7f...>``) counts without it,
    so the seeds stay the same from run to run.
    """
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", json.dumps(_stable(params), sort_keys=True))
    return int(_hash([text])[:15], 16)


def _hash(texts):
    """SHA-1 of ``"[a, b, ...]"`` from the JSON texts of the parts: the same key as
    :func:`_key`, so a part's JSON (a candidate's parameters) is built once."""
    return hashlib.sha1(f"[{', '.join(texts)}]".encode()).hexdigest()


class Int(Interval):
    """sklearn's ``Interval(Integral, left, right, closed=...)`` that refuses a bool.

    ``True`` is an ``Integral`` to Python, so sklearn's check lets it through (as 1) and
    an internal function then refused it in its own name, or the search silently ran
    with 1. With this constraint the search refuses it in sklearn's format: "The
    'n_iter' parameter of RandomSearchCV must be an int in the range [1, inf). Got True
    instead."
    """

    def __init__(self, left, right, *, closed):
        super().__init__(numbers.Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


def _mark_not_run(rows, error):
    """Give the splits a search ``timeout`` left unrun their error text (the rows stay
    unfinished: they are not recorded, so a resume runs them). A raced row's unfitted
    splits are not cut: racing skipped them (recorded, a resume does not run them)."""
    for row in rows:
        if row.get("pending") and not row.get("raced"):
            for k, scores in enumerate(row["test_scores"]):
                if scores is None and row["error"][k] is None:
                    row["error"][k] = error


def _finished_all_splits(row, not_run):
    """Whether every split of ``row`` finished (scored or failed; none left unrun by the
    ``timeout``, error ``not_run``), or racing closed the row (its result is decided)."""
    return bool(row.get("raced")) or all(
        score is not None or (error is not None and error != not_run)
        for score, error in zip(row["test_scores"], row["error"])
    )


def _continues_exactly(estimator):
    """Whether continuing ``estimator`` (the last step of a Pipeline) gives what straight
    training to the total budget gives: False when it says otherwise through a
    ``_continues_exactly()`` method (hpsearch's MLP with ``solver="lbfgs"``); other
    estimators are continued as documented (``warm_start`` or ``partial_fit``)."""
    steps = getattr(estimator, "steps", None)
    last = steps[-1][1] if isinstance(steps, list) and steps else estimator
    check = getattr(last, "_continues_exactly", None)
    return True if check is None else bool(check())


def _timeout_message(timeout):
    """The error of a search whose ``timeout`` came before any candidate had a result."""
    return (f"The search's timeout={timeout!r} seconds was reached before any candidate "
            "finished all its splits. Give it more time (timeout) or make a fit cheaper.")


def _check_timeout(engine, evaluate):
    """A ``timeout`` that ended the search before any candidate finished all its splits:
    nothing to rank or refit."""
    if engine.expired and evaluate is not None and not any(
        _finished_all_splits(row, engine.not_run_error) for row in evaluate.rows
    ):
        raise ValueError(_timeout_message(engine.timeout))


@dataclass
class Evaluation:
    """What ``evaluate`` returns: the outcome of the candidates of one call, in order.

    ``results`` (the whole ``cv_results_`` so far) is built only when read, so a
    strategy that calls ``evaluate`` once per trial pays nothing for it.
    """

    params: list
    scores: np.ndarray
    split_scores: np.ndarray
    rows: list
    errors: list
    _evaluator: object = None

    @property
    def results(self):
        return self._evaluator.results(warn=False)


def _scoring_names(scoring):
    """The metric names of ``scoring`` (``["score"]`` for one metric)."""
    if isinstance(scoring, (dict, list, tuple, set)):
        return list(scoring)
    return ["score"]


class _Evaluator:
    """The ``evaluate`` callable handed to ``_run_search`` (see the module docstring)."""

    def __init__(self, search, engine, splits, seed, store, progress):
        self.search = search
        self.engine = engine
        self.splits = splits
        self.seed = seed
        self.store = store
        self.progress = progress
        self.rows = []
        self.more_results = {}
        self.candidate_ids = {}
        self.states = {}  # (candidate id, split) -> (fitted estimator, budget)
        self.n_failed = 0
        self.errors = []  # tracebacks of every failed fit of this search
        self.all_failed_calls = []  # (errors, n_fits) of calls where every fit failed
        self.callback_ctx = None  # sklearn callback context of the search task
        #: a callable scoring returned a dict (seen, or noted in the study: multimetric_)
        self.scorer_returned_dict = False
        self.n_evaluations = 0  # (candidate, split) callback contexts handed out
        self.n_fits = 0
        self.n_submitted = 0  # fits handed to the engine
        self.n_planned = None  # fits still planned (the bar's total), None: grow per call
        self.best = -np.inf
        self.base_params = search.estimator.get_params(deep=True)
        self.can_partial_fit = hasattr(search.estimator, "partial_fit")
        self.config_key = _key(
            search._cv_description,
            repr(search.scoring),
            bool(search.return_train_score),
            repr(clone(search.estimator)),
        )

    # -- helpers -----------------------------------------------------------------
    def _seed_names(self, params):
        """Names of the ``*random_state`` parameters left at None once ``params`` are set
        (from the base estimator's parameters, without a clone, unless a value is itself
        an estimator whose own parameters then count)."""
        if any(hasattr(v, "get_params") or k not in self.base_params
               for k, v in params.items()):  # (an unknown name raises here, as before)
            fresh = clone(self.search.estimator).set_params(**clone(params, safe=False))
            return seed_names(fresh.get_params(deep=True))
        return seed_names({**self.base_params, **params})

    def _candidate_id(self, params):
        return self.candidate_ids.setdefault(_key(params), len(self.candidate_ids))

    def _keys(self, params, budget):
        """(candidate id, candidate key, row key) of a candidate at a budget, its
        parameters encoded once (the keys equal ``_key(params)``, ``_key(config_key,
        params)`` and ``_key(config_key, params, budget)``)."""
        text = json.dumps(_stable(params), sort_keys=True)
        config = json.dumps(self.config_key)
        cid = self.candidate_ids.setdefault(_hash([text]), len(self.candidate_ids))
        budget_text = json.dumps(_stable(budget), sort_keys=True)
        return cid, _hash([config, text]), _hash([config, text, budget_text])

    def _resources(self, resources, n):
        if resources is None or isinstance(resources, dict):
            return [resources] * n
        resources = list(resources)
        if len(resources) != n:
            raise ValueError(
                f"resources must be a dict or a list with one dict per candidate; got "
                f"{len(resources)} dicts for {n} candidates."
            )
        return resources

    def _train_indices(self, split, train, budget):
        """The train rows of a budget: all, or ``n_samples`` of them drawn without
        replacement (stratified by class for a classifier, so that every class keeps
        its share of the subsample; the same draw for every candidate)."""
        n_samples = (budget or {}).get("n_samples")
        if n_samples is None or n_samples >= len(train):
            return train
        rng = np.random.default_rng(np.random.SeedSequence((self.seed, 2**31, split)))
        labels = self._class_labels()
        if labels is not None:
            from sklearn.utils import resample

            seed = int(rng.integers(2**31 - 1))
            return np.sort(resample(train, replace=False, n_samples=int(n_samples),
                                    stratify=labels[train], random_state=seed))
        return np.sort(rng.permutation(train)[: int(n_samples)])

    def _class_labels(self):
        """The 1-D target of a classifier (to stratify subsamples), else None."""
        if not hasattr(self, "_labels"):
            y = getattr(self.engine, "y", None)
            self._labels = None
            if y is not None and is_classifier(self.search.estimator):
                y = np.asarray(y)
                self._labels = y if y.ndim == 1 else None
        return self._labels

    def _fresh_generators(self, prefix, params=()):
        """Copies of the ``RandomState`` instances the base estimator gives the steps
        before the continued one (``prefix``: its name in a Pipeline). Continuing a
        Pipeline refits those steps; a generator their first fit advanced would make
        them (a randomized PCA) transform differently, and the last step continue on
        other features than straight training uses. A step parameter the candidate
        sets (``params``) is left as it is."""
        if not prefix:
            return {}
        own = f"{prefix}__"
        return {name: copy.deepcopy(value) for name, value in self.base_params.items()
                if isinstance(value, np.random.RandomState) and not name.startswith(own)
                and name not in params}

    def _continuation(self, cid, split, budget, params=()):
        """(estimator, params, steps) to continue (cid, split), or None to refit."""
        kept = self.states.get((cid, split))
        if kept is None:
            return None
        estimator, previous = kept
        if not _continues_exactly(estimator):  # refit at the full budget instead
            return None
        names = [k for k in budget if k != "n_samples"]
        if len(names) != 1:
            raise ValueError(
                "continue_training=True needs exactly one integer parameter in "
                f"resources (e.g. {{'max_iter': 27}}); got {budget!r}."
            )
        name = names[0]
        total, done = int(budget[name]), int((previous or {}).get(name, 0))
        if total <= done:
            raise ValueError(
                f"continue_training=True needs a larger budget than the previous "
                f"evaluation: {name}={total} after {name}={done}."
            )
        prefix = name.rpartition("__")[0]
        warm = warm_start_param(name)
        steps = total - done
        if warm in self.base_params:
            incremental = name.rpartition("__")[2] in INCREMENTAL_PARAMS
            fresh = self._fresh_generators(prefix, params)
            return estimator, {**fresh, warm: True,
                               name: steps if incremental else total}, steps
        if self.can_partial_fit:
            return estimator, None, steps
        return None

    # -- the call ----------------------------------------------------------------
    def __call__(
        self,
        candidate_params,
        *,
        more_results=None,
        resources=None,
        continue_training=False,
        trials=None,
    ):
        search = self.search
        candidate_params = [dict(p) for p in candidate_params]
        n = len(candidate_params)
        budgets = self._resources(resources, n)
        keep = continue_training or any(b is not None for b in budgets)
        n_splits = len(self.splits)
        first_row = len(self.rows)
        store = self.store
        store.declare(candidate_params)
        if (search.resume or store.shared) and trials is None:
            # finished rows and fits, also those of other processes (a strategy that
            # asks trials has just read the study)
            store.refresh()
        new_rows, todo, fresh, unrecorded = [], [], [], []
        round_ctx = self._round_context(n * n_splits)
        n_found = 0  # fits found in the store (resume): planned fits not to be done
        for i, (params, budget) in enumerate(zip(candidate_params, budgets)):
            cid, candidate_key, row_key = self._keys(params, budget)
            row = {
                "params": params,
                "resources": budget,
                "key": row_key,
                "cid": cid,
                "candidate_key": candidate_key,
                "index": i,
                "test_scores": [None] * n_splits,
                "train_scores": [None] * n_splits,
                "fit_time": [0.0] * n_splits,
                "score_time": [0.0] * n_splits,
                "n_test_samples": [0] * n_splits,
                "error": [None] * n_splits,
                "fit_failed": [False] * n_splits,
                "pending": n_splits,
                "done": set(),
            }
            new_rows.append(row)
            n_found += self._fill(row)
            if row["pending"]:
                todo.append(row)
            elif trials is not None:  # the asked trial gets the row it reuses
                self._record(row, trials[i])
            elif budget is not None:
                store.adopt(row, float(self._refit_scores(row).mean()), type(search).__name__)
            elif store.lookup(row["key"]) is None:
                # every fit found but the row never recorded (a run stopped between its
                # last fit and the row: its trial was closed FAIL): claimed below, so the
                # study gets the candidate's COMPLETE trial
                unrecorded.append(row)
        n_tasks = sum(r["pending"] for r in todo)
        racing = racing_enabled(search) and not keep
        if search.verbose > 0 and n_tasks:
            print(
                f"Fitting {n_splits} folds for each of {len(todo)} "
                f"candidates, totalling {'at most ' if racing else ''}{n_tasks} fits"
                + (" (racing stops significantly worse candidates early)" if racing else "")
            )
        self._plan_progress(n_tasks, n_found)
        run = dict(keep=keep, continue_training=continue_training, trials=trials,
                   fresh=fresh, round_ctx=round_ctx, n_candidates=n)
        if racing:  # waves of splits (see _racing)
            race(self, new_rows, todo, run, trials)
        elif trials is not None:
            for row in todo:
                row["trial_id"] = trials[row["index"]]._trial_id
            self._dispatch_trials(todo, run)
        elif any(b is not None for b in budgets):
            for row in todo:
                row["trial_id"] = store.claim_budgeted(row, type(search).__name__)
            self._dispatch(todo, **run)
        else:
            self._claim_and_dispatch(todo + unrecorded, run)
        if self.engine.expired:
            _mark_not_run(new_rows, self.engine.not_run_error)
        for row in new_rows:
            for name in ("pending", "done", "index"):
                row.pop(name, None)
        self.rows.extend(new_rows)
        for key, values in (more_results or {}).items():
            self.more_results.setdefault(key, [None] * first_row)
            self.more_results[key].extend(values)
        for key, values in self.more_results.items():
            values.extend([None] * (len(self.rows) - len(values)))
        self._warn_failures(fresh)
        if round_ctx is not None:
            round_ctx.call_on_fit_task_end(estimator=search)
        split_scores = self._split_scores(new_rows)
        return Evaluation(
            params=candidate_params,
            scores=split_scores.mean(axis=1),
            split_scores=split_scores,
            rows=list(range(first_row, first_row + n)),
            errors=[row_error(row) for row in new_rows],
            _evaluator=self,
        )

    # -- asynchronous evaluation (ASHA) -------------------------------------------------
    def stream(self, next_jobs, on_done, *, continue_training=False):
        """Evaluate candidates decided while the fits run, with no barrier.

        Whenever a worker is idle the engine asks ``next_jobs()`` for work: a list of
        ``(params, resources, more_results)`` (one candidate at one budget each, all its
        splits; ``more_results`` a dict ``key -> value`` of this row), ``[]`` for nothing
        now, or None when the strategy is done. ``on_done(row, score)`` is called the
        moment a row has all its splits (``row``: its index in ``cv_results_``, ``score``
        the mean test score of the refit metric, NaN when every split failed), before the
        next ``next_jobs()``. Rows found in the store (resume) are done at once. Rows are
        budgeted store entries, as with ``evaluate(..., resources=...)``.
        Needs an engine that pulls lazily (``engine.pulls_lazily``).
        """
        store, owner = self.store, type(self.search).__name__
        keep, by_index, started, fresh = True, {}, [], []

        def done(row):
            on_done(row["index"], float(self._refit_scores(row).mean()))

        def pull():
            while True:
                jobs = next_jobs()
                if not jobs:
                    return jobs
                tasks = []
                for params, budget, more in jobs:
                    row = self._stream_row(dict(params), budget, more)
                    started.append(row)
                    n_found = self._fill(row)
                    if not row["pending"]:
                        store.adopt(row, float(self._refit_scores(row).mean()), owner)
                        self._plan_progress(0, n_found)
                        done(row)
                        continue
                    row["trial_id"] = store.claim_budgeted(row, owner)
                    by_index[row["index"]] = row
                    new = self._tasks(row, continue_training, keep)
                    self._start_lines([row], new, len(self.rows))
                    self._plan_progress(len(new), n_found)
                    tasks.extend(new)
                if tasks:
                    return tasks

        def take(out):
            row = by_index.get(out["candidate"])
            if row is None or out["split"] in row["done"]:
                return  # (given again by Engine.stop: taken already)
            self._collect(row, out, keep)
            self._print_fit(row, out, len(self.rows))
            row["done"].add(out["split"])
            self._record_fit(row, out["split"], row["trial_id"])
            if row["pending"] == 0:
                fresh.append(row)
                self._record(row, None)
                done(row)

        self._take_each(self.engine.run(pull), take)
        if self.engine.expired:
            _mark_not_run(started, self.engine.not_run_error)
        for row in started:
            for name in ("pending", "done", "index"):
                row.pop(name, None)
        self._warn_failures(fresh)

    def _stream_row(self, params, budget, more):
        """A new row of ``cv_results_`` for :meth:`stream` (appended at once)."""
        self.store.declare([params])
        cid, candidate_key, row_key = self._keys(params, budget)
        n_splits = len(self.splits)
        row = {
            "params": params, "resources": budget, "key": row_key, "cid": cid,
            "candidate_key": candidate_key, "index": len(self.rows),
            "test_scores": [None] * n_splits, "train_scores": [None] * n_splits,
            "fit_time": [0.0] * n_splits, "score_time": [0.0] * n_splits,
            "n_test_samples": [0] * n_splits, "error": [None] * n_splits,
            "fit_failed": [False] * n_splits, "pending": n_splits, "done": set(),
        }
        self.rows.append(row)
        for key, value in more.items():
            self.more_results.setdefault(key, [None] * row["index"])
        for key, values in self.more_results.items():
            values.extend([None] * (row["index"] - len(values)))
            values.append(more.get(key))
        return row

    # -- durable, shared evaluation ----------------------------------------------------
    def _fill(self, row):
        """Put the fits of ``row`` the store already holds into it (a finished row, or
        the finished splits of an interrupted one); returns how many were new."""
        payload = self.store.lookup(row["key"])
        splits = range(len(self.splits))
        if payload is not None:
            fits = {s: {k: payload[k][s] for k in _FIT_KEYS + ("fit_failed",)
                        if k in payload} for s in splits}
        else:
            fits = self.store.finished_fits(row["key"])
        n_new = 0
        for split, fit in fits.items():
            if split in row["done"] or split not in splits:
                continue
            for name in _FIT_KEYS:
                row[name][split] = fit[name]
            # (read back, a failed fit counts as one: a halving round of them raises)
            row["fit_failed"][split] = fit_failed(fit)
            row["done"].add(split)
            row["pending"] -= 1
            n_new += 1
        return n_new

    def _tasks(self, row, continue_training, keep, round_ctx=None):
        """The fits of ``row`` still missing, as engine tasks."""
        params, budget, cid = row["params"], row["resources"], row["cid"]
        overrides = {k: v for k, v in (budget or {}).items() if k != "n_samples"}
        names = None  # seeded parameter names, found once per candidate
        tasks = []
        allowed = row.get("allowed")  # racing: the splits of this wave
        for split, (train, test) in enumerate(self.splits):
            if split in row["done"] or (allowed is not None and split not in allowed):
                continue
            train = self._train_indices(split, train, budget)
            cont = (self._continuation(cid, split, budget, params) if continue_training
                    else None)
            if cont is not None:
                estimator, cparams, steps = cont
                task = Task(row["index"], split, cparams or {}, train, test, estimator,
                            steps, keep)
            else:
                if names is None:
                    names = self._seed_names({**params, **overrides})
                seeds = seeds_for(names, task_seed(self.seed, _seed_id(params), split))
                task = Task(row["index"], split, {**params, **overrides, **seeds}, train,
                            test, keep=keep)
            task.callback_ctx = self._task_context(round_ctx)
            tasks.append(task)
        return tasks

    def _dispatch(self, rows, *, keep, continue_training, trials, fresh, round_ctx=None,
                  n_candidates=None):
        """Fit the missing splits of ``rows``; record each fit the moment it arrives and
        each row once complete."""
        by_index = {row["index"]: row for row in rows}
        tasks = [t for row in rows
                 for t in self._tasks(row, continue_training, keep, round_ctx)]
        self._start_lines(rows, tasks, n_candidates or len(rows))

        def take(out):
            row = by_index.get(out["candidate"])
            if row is None or out["split"] in row["done"]:
                return  # (given again by Engine.stop: taken already)
            self._collect(row, out, keep)
            self._print_fit(row, out, n_candidates or len(rows))
            row["done"].add(out["split"])
            if row.get("trial_id") is not None:
                self._record_fit(row, out["split"], row["trial_id"])
            if row["pending"] == 0:  # all splits in: record the candidate at once
                fresh.append(row)
                self._record(row, trials[row["index"]] if trials is not None else None)

        self._take_each(self.engine.run(tasks), take)

    def _record_fit(self, row, split, trial_id):
        """Record a fit taken in the store; one whose write fails (a full disk) does not
        count among the fits the error's note says are recorded (``n_fits``)."""
        try:
            self.store.record_fit(row, split, trial_id)
        except Exception:
            self.n_fits -= 1
            raise

    def _take_each(self, results, take):
        """``take(out)`` for each result dict of the engine's generator ``results``, each
        whole (a Ctrl-C or SIGTERM that arrives inside is raised after it:
        :func:`shield_interrupts`). When one is raised in the search's own code, while a
        result is taken or between two, the results that had come back but were not
        taken (the engine's :meth:`~Engine.stop`: joblib's finished batches, the rest of
        a batch, a fork worker's pipe) are taken before it goes on, so a resume finds
        them (was: lost, fitted again). ``take`` skips a result it has taken already."""
        try:
            for out in results:
                with shield_interrupts():
                    take(out)
        except KeyboardInterrupt:
            stop = getattr(self.engine, "stop", None)
            if stop is not None:
                with shield_interrupts():  # (a second Ctrl-C: raised once they are in)
                    for out in stop(results):
                        take(out)
            raise

    def _claim_and_dispatch(self, todo, run):
        """Claim candidates in shrinking chunks (so other processes on the study get their
        share), fit the claimed ones, then wait for those other live processes fit and
        take over the ones whose process died."""
        from .store import POLL_INTERVAL

        store = self.store
        n_workers = max(1, int(getattr(self.engine, "n_workers", 1) or 1))
        n_waiting = -1
        waiting, pause = [], POLL_INTERVAL
        while todo or waiting:
            if todo:
                size = len(todo) if not store.shared else max(n_workers, -(-len(todo) // 4))
                chunk, todo = todo[:size], todo[size:]
            else:  # look again later, less often while nothing changes (at most every 2 s)
                time.sleep(pause)
                n_waiting = len(waiting)
                chunk, waiting = waiting, []
            mine = []
            for row, state in zip(chunk, store.claim(chunk)):
                before = row["pending"]
                self._fill(row)  # fits recorded meanwhile, by anyone
                self._plan_progress(0, before - row["pending"])
                if state == "done":
                    continue
                if state[0] != "mine":
                    if row.get("allowed") is None or self._needed(row):
                        # (racing: the holder fits this wave's splits; waiting for the
                        # whole row waited on its later waves, which wait on this
                        # process's rows: two processes hung for ever)
                        waiting.append(row)
                    continue
                row["trial_id"] = state[1]
                if not row["pending"]:  # every fit found (a dead process's): close it
                    self._record(row, None)
                elif self._needed(row):
                    mine.append(row)
            self._dispatch(mine, **run)
            if not todo and waiting:
                pause = min(2.0, pause * 1.5) if len(waiting) == n_waiting else POLL_INTERVAL

    @staticmethod
    def _needed(row):
        """Whether ``row`` has splits left to fit in this call (racing: in this wave)."""
        allowed = row.get("allowed")
        if allowed is None:
            return row["pending"] > 0
        return bool(set(allowed) - row["done"])

    def _dispatch_trials(self, rows, run):
        """Fit the rows of asked trials (Optuna) once each: two rows of one candidate in
        this call (a batch of ``n_jobs`` trials) are fitted once (were twice); a row
        another live process on the study fits too (the same candidate asked there at
        once: both fitted it) is waited for. Such rows are filled from the store
        (:meth:`TrialStore.turns`). The same for a pruned search's row at a rung (the
        row key holds the budget) and a race's wave (only its splits are waited for; a
        row another process raced is not)."""
        from .store import POLL_INTERVAL

        trials, pause, first = run["trials"], POLL_INTERVAL, True
        while rows:
            if self.engine.time_is_up():  # (the engine runs nothing more)
                self._dispatch(rows, **run)
                return
            # (in memory, rows recorded before this call were filled when made)
            turns = (self.store.turns(rows) if self.store.shared or not first
                     else ["mine"] * len(rows))
            first = False
            mine, busy, keys = [], [], set()
            for row, turn in zip(rows, turns):
                before = row["pending"]
                self._fill(row)
                self._plan_progress(0, before - row["pending"])
                if not row["pending"]:  # another process's row: nothing to fit
                    self._record(row, trials[row["index"]])
                elif turn == "done" or not self._needed(row):
                    continue  # raced by another process, or this wave's splits all in
                elif turn == "busy" or row["key"] in keys:
                    busy.append(row)
                else:
                    keys.add(row["key"])
                    mine.append(row)
            self._dispatch(mine, **run)
            if busy and not mine:
                time.sleep(pause)
                pause = min(2.0, pause * 1.5)
            rows = busy

    def _plan_progress(self, n_tasks, n_found):
        """Keep the bar's total: the planned fits left, grown when more are submitted.

        Without a plan (``n_planned`` None) the total grows by each call's fits. With one,
        fits found in the store on resume leave the plan (they are not done) and the total
        is the larger of the plan and the fits submitted so far.
        """
        self.n_submitted += n_tasks
        if self.progress is None:
            return
        if self.n_planned is None:
            total = self.progress.total + n_tasks
        else:
            self.n_planned = max(0, self.n_planned - n_found)
            total = max(self.n_planned, self.n_submitted)
        if total != self.progress.total:
            self.progress.total = total
            self.progress.refresh()

    def _collect(self, row, out, keep):
        split = out["split"]
        for key in ("test_scores", "train_scores", "fit_time", "score_time",
                    "n_test_samples", "error"):
            row[key][split] = out[key]
        row["fit_failed"][split] = out.get("fit_failed", out["error"] is not None)
        if isinstance(out["test_scores"], ScorerDict):  # (multimetric_, see _finish)
            if not self.scorer_returned_dict:
                self.store.note_scorer_dict()  # (for a resume that scores nothing)
            self.scorer_returned_dict = True
        if out["error"] is not None and not row["fit_failed"][split]:
            warnings.warn(
                "Scoring failed. The score on this train-test partition for these "
                f"parameters will be set to {self.search.error_score}. Details: \n"
                f"{out['error']}",
                UserWarning,
            )
        row["pending"] -= 1
        self.n_fits += 1
        if keep:
            if out["estimator"] is not None:
                self.states[(row["cid"], split)] = (out["estimator"], row["resources"])
            else:
                self.states.pop((row["cid"], split), None)
        if row["pending"] == 0:
            score = self._refit_scores(row).mean()
            if np.isfinite(score):
                self.best = max(self.best, score)
        if self.progress is not None:
            self.progress.update(1)
            if np.isfinite(self.best):
                self.progress.set_postfix(best=f"{self.best:.4g}", refresh=False)

    def _not_run(self):
        """The error text of a split the ``timeout`` left unrun, once it expired (its
        score is NaN, never ``error_score``: the fit did not run), else None."""
        return self.engine.not_run_error if getattr(self.engine, "expired", False) else None

    def _refit_scores(self, row):
        metric = self.search._refit_metric_name(metric_names([row], self.scorer_names))
        error_value, not_run = self.search._error_value(), self._not_run()
        return np.array(
            [
                missing_score(e, error_value, not_run) if s is None else s[metric]
                for s, e in zip(row["test_scores"],
                                row.get("error") or [None] * len(row["test_scores"]))
            ],
            dtype=np.float64,
        )

    def _split_scores(self, rows):
        if not rows:
            return np.empty((0, len(self.splits)))
        return np.vstack([self._refit_scores(r) for r in rows])

    def _record(self, row, trial):
        if getattr(trial, "state", None) is not None and trial.state.is_finished():
            return  # (a finished trial replayed: its rows are recorded in it)
        score = float(self._refit_scores(row).mean())
        self.store.record(row, row["candidate_key"], value=score, trial=trial)

    def _warn_failures(self, rows):
        """sklearn's FitFailedWarning for the failed fits of one ``evaluate`` call (the
        tracebacks stay in ``cv_results_['error']``). A call where every fit failed is
        kept for :meth:`check_failures` at the end of ``fit``."""
        errors = [
            e for r in rows for e, fit in zip(r["error"], r["fit_failed"]) if fit
        ]
        n_fits = sum(len(r["error"]) for r in rows)
        self.errors.extend(errors)
        if not errors:
            return
        if len(errors) == n_fits:
            self.all_failed_calls.append((errors, n_fits))
            return
        message = fit_failure_message(errors, n_fits, self.search.error_score)
        warnings.warn(message, FitFailedWarning)

    def check_failures(self):
        """At the end of ``fit``: sklearn's ``ValueError("All the N fits failed. ...")``
        when every fit of the search failed, else a warning for each ``evaluate`` call
        whose fits all failed (e.g. one Optuna trial)."""
        n_fits = self.n_fits
        resumed_ok = any(
            score is not None for row in self.rows for score in row["test_scores"]
        )  # (rows found in the store on resume)
        if n_fits and len(self.errors) == n_fits and not resumed_ok:
            raise ValueError(fit_failure_message(self.errors, n_fits, None))
        fits = {(row["key"], split): (error, failed) for row in self.rows
                for split, (error, failed) in enumerate(zip(row["error"],
                                                            row["fit_failed"]))}
        if fits and all(failed for _, failed in fits.values()):
            # every fit failed, also those read back from the store (a resume of such a
            # search reached the refit and raised the estimator's own error instead);
            # a fit of two rows (a repeated Optuna candidate) counts once, as fitted
            errors = [error for error, _ in fits.values()]
            raise ValueError(fit_failure_message(errors, len(errors), None))
        for errors, n in self.all_failed_calls:
            message = fit_failure_message(errors, n, self.search.error_score, False)
            warnings.warn(message, FitFailedWarning)

    # -- sklearn callbacks (sklearn.callback) -------------------------------------------
    def _round_context(self, n_evaluations):
        """A callback subcontext for this ``evaluate`` call when the strategy names its
        rounds (halving's ``"halving-iteration"``), else None (evaluations hang from the
        search task directly)."""
        name = self.search._callback_round_name
        if self.callback_ctx is None or name is None:
            return None
        self.n_evaluations = 0
        return self.callback_ctx.subcontext(
            task_name=name, max_subtasks=n_evaluations, sequential_subtasks=False
        ).call_on_fit_task_begin(estimator=self.search)

    def _task_context(self, round_ctx):
        """``(context, search)`` of one (candidate, split) evaluation, or None."""
        if self.callback_ctx is None:
            return None
        parent = round_ctx if round_ctx is not None else self.callback_ctx
        context = parent.subcontext(
            task_name="candidate-split-evaluation", task_id=self.n_evaluations
        )
        self.n_evaluations += 1
        return context, self.search

    # -- verbose ---------------------------------------------------------------------
    def _fit_head(self, split, candidate, n_candidates):
        """``[CV]`` with sklearn's progress: ``[CV k/n]`` with ``verbose > 2``,
        ``[CV k/n; i/m]`` with ``verbose > 9``."""
        verbose, progress = self.search.verbose, ""
        if verbose > 2:
            progress = f" {split + 1}/{len(self.splits)}"
            if verbose > 9:
                progress += f"; {candidate + 1}/{n_candidates}"
        return f"[CV{progress}]"

    def _start_lines(self, rows, tasks, n_candidates):
        """sklearn's ``[CV k/n; i/m] START ...`` line of each task (``verbose > 9``),
        printed where the fit runs, just before it (``Task.start_line``)."""
        if self.search.verbose <= 9:
            return
        by_index = {row["index"]: row for row in rows}
        for task in tasks:
            params = by_index[task.candidate]["params"]
            start = (f"{self._fit_head(task.split, task.candidate, n_candidates)} START "
                     + ", ".join(f"{k}={params[k]}" for k in sorted(params)))
            task.start_line = start + "." * (80 - len(start))

    def _print_fit(self, row, out, n_candidates):
        """sklearn's per-fit ``[CV] END ...`` line (``verbose > 1``; split progress
        ``[CV k/n]`` and scores with ``verbose > 2``; candidate progress with
        ``verbose > 9``), printed as each fit comes back."""
        verbose = self.search.verbose
        if verbose <= 1:
            return
        params = row["params"]
        result = ", ".join(f"{k}={params[k]}" for k in sorted(params))
        result += ";" if result else ""
        if verbose > 2:
            result += self._score_text(out)
        total = out["fit_time"] + out["score_time"]
        result += f" total time={short_format_time(total)}"
        end = f"{self._fit_head(out['split'], out['candidate'], n_candidates)} END "
        print(end + "." * (80 - len(end) - len(result)) + result)

    def _score_text(self, out):
        error = self.search._error_value()
        test = out["test_scores"]
        train = out["train_scores"]
        names = list(test or train or {}) or self.scorer_names
        if test is None:  # (test and train scorings fail apart)
            test = dict.fromkeys(names, error)
        if train is None:
            train = dict.fromkeys(names, error)
        with_train = self.search.return_train_score
        if names == ["score"] and not isinstance(self.search.scoring, (list, tuple,
                                                                       set, dict)):
            if with_train:
                return f", score=(train={train['score']:.3f}, test={test['score']:.3f})"
            return f", score={test['score']:.3f}"
        text = ""
        for name in sorted(names):
            text += f" {name}: ("
            if with_train:
                text += f"train={train[name]:.3f}, "
            text += f"test={test[name]:.3f})"
        return text

    @property
    def scorer_names(self):
        return _scoring_names(self.search.scoring)

    def results(self, warn=True):
        racing = racing_enabled(self.search)
        results = format_results(
            self.rows,
            len(self.splits),
            error_score=self.search._error_value(),
            return_train_score=self.search.return_train_score,
            more_results=self.more_results,
            scorer_names=self.scorer_names,
            warn=warn and not racing,  # raced means are over finished splits: warn after
            not_run=self._not_run(),
        )
        if racing:
            results = mark_raced_results(results, self.rows, len(self.splits),
                                         self._not_run())
            if warn:
                warn_non_finite(results)
        return results

    def release(self, candidate_params=None):
        """Free the fitted estimators kept for continuation (all, or these candidates)."""
        if candidate_params is None:
            self.states.clear()
            return
        ids = {self._candidate_id(p) for p in candidate_params}
        for key in [k for k in self.states if k[0] in ids]:
            del self.states[key]

    def reorder(self, order):
        """Put the rows of ``cv_results_`` (and their ``more_results``) in ``order``."""
        self.rows = [self.rows[i] for i in order]
        for key, values in self.more_results.items():
            self.more_results[key] = [values[i] for i in order]

    def finish(self, candidate_params, state="COMPLETE"):
        """Close the store's trials of these candidates (``"COMPLETE"`` or ``"PRUNED"``)."""
        for params in candidate_params:
            self.store.finish(_key(self.config_key, params), state)


def _storage_in_memory(study):
    """Whether ``study`` lives in memory (Optuna's ``InMemoryStorage``, behind the
    store's wrapper), so that it pickles whole with the search."""
    from optuna.storages import InMemoryStorage

    storage = study._storage
    return isinstance(getattr(storage, "storage", storage), InMemoryStorage)


class _StudyOnAccess:
    """``study_`` of an unpickled search whose study lives in a storage (a SQLite file, a
    journal, a database): unpickled when first read, not with the search.

    Unpickling an Optuna study reconnects to its storage: a fitted search saved with
    ``pickle`` / ``joblib.dump`` could not be loaded where that storage is not (another
    machine, the study's folder removed: ``OperationalError`` / ``FileNotFoundError``
    from ``joblib.load``), although predicting needs only ``best_estimator_``. The
    search pickles its study as bytes (:meth:`BaseSearchCV.__getstate__`); reading
    ``study_`` loads them, and where the storage cannot be reached raises an
    ``AttributeError`` that says so (``hasattr(search, "study_")`` is then False).
    ``study_`` set by ``fit`` (an instance attribute) is read as usual: this is a
    non-data descriptor.
    """

    def __get__(self, search, owner=None):
        if search is None:
            return self
        pickled = search.__dict__.get("_pickled_study")
        if pickled is None:
            raise AttributeError(
                f"{type(search).__name__!r} object has no attribute 'study_'")
        try:
            study = pickle.loads(pickled)
            study._storage.get_study_id_from_name(study.study_name)  # (KeyError: gone)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the storage
            raise AttributeError(
                f"The study_ of this unpickled {type(search).__name__} cannot be loaded: "
                f"its storage is not reachable here ({type(exc).__name__}: {exc}). The "
                "fitted search predicts without it, and cv_results_ holds its results."
            ) from exc
        search.__dict__["study_"] = study
        del search.__dict__["_pickled_study"]
        return study


def _splits_digest(splits):
    """:func:`joblib.hash` of the (train, test) indices of every split."""
    import joblib

    return joblib.hash([(np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64))
                        for tr, te in splits])


def _partial_fit_params(routed):
    """The parameters routed to the estimator's ``partial_fit`` (a search that
    continues training by it, with metadata routing), else None: a continuation by
    ``partial_fit`` gets ``fit``'s (without metadata routing, as before)."""
    from sklearn import get_config

    if not get_config().get("enable_metadata_routing", False):
        return None
    return dict(routed["estimator"].get("partial_fit", {}))


def _only_scored(routed, fit_params):
    """The parameters routed to the scorer that the estimator's ``fit`` does not get
    (the same object): with metadata routing, a ``sample_weight`` only the scorer
    requests still changes the scores, so it belongs in a study's data fingerprint."""
    score = dict(routed.scorer.score)
    return {k: v for k, v in score.items() if fit_params.get(k) is not v}


def _unscored(routed, fit_params):
    """With metadata routing, the names of the fit parameters the scorer does not get
    (the same object): a ``sample_weight`` the estimator requests weights the test scores
    or not as the scorer requests it, so a study's data fingerprint tells them apart (a
    resume with the scorer's request changed reused the other scores: unweighted ones
    reported as weighted). Empty without routing, where the scorer's weighting follows
    from the scoring the study's settings hold (the fingerprints studies recorded)."""
    from sklearn import get_config

    if not get_config().get("enable_metadata_routing", False):
        return []
    score = dict(routed.scorer.score)
    return sorted(k for k, v in fit_params.items() if score.get(k) is not v)


@fill_doc
class BaseSearchCV(_SkBaseSearchCV):
    """Base of every hpsearch search: sklearn's search contract on hpsearch's engine.

    Subclasses implement ``_run_search(self, evaluate)`` (see the module docstring).

    Parameters
    ----------
    estimator : estimator object
        Cloned for every fit. Any sklearn estimator or pipeline.
    scoring : str, callable, list, tuple or dict, default=None
        As in sklearn (``None``: the estimator's ``score``; several metrics: multi-metric
        ``cv_results_`` and ``refit`` must name the metric to select with).
    n_jobs : int, default=None
        Parallel jobs for the (candidate x split) fits; None means the current
        ``joblib.parallel_config`` (1 outside any), -1 all cores.
    refit : bool, str or callable, default=True
        As in sklearn: refit the best candidate on the whole data.
    cv : int, splitter, str, dict or iterable, default=None
        Anything :func:`hpsearch.model_selection.split.make_cv` accepts (5-fold by
        default, stratified for classifiers).
    verbose : int, default=0
        As in sklearn: 1 prints the number of fits, 2 a ``[CV] END`` line per fit
        (printed as each fit returns, also from worker processes), 3 with the split
        (``[CV k/n]``) and its scores, 10 also the candidate (``[CV k/n; i/m]``) and a
        ``START`` line before each fit (printed where the fit runs).
    pre_dispatch : int or str, default="2*n_jobs"
    random_state : int, RandomState or None, default=None
        Master seed of the per-fit seeds (see the module docstring). None draws a fresh
        one per ``fit`` (results then differ between runs for stochastic estimators).
    error_score : "raise" or float, default=np.nan
        Score of a failed fit; ``"raise"`` re-raises the first error.
    return_train_score : bool, default=False
    progress : bool or None, default=None
        Show a tqdm progress bar on stderr, moving per fit with the best mean score so far.
        None: only when stderr is a terminal.
    storage : str, optuna storage or None, default=None
        Where each candidate is recorded as an Optuna trial, each fit as it finishes:
        None (in memory), a path ending in ``.db`` (SQLite), ``.log``/``.jsonl`` (journal
        file), or any SQLAlchemy URL / Optuna storage.
    study_name : str or None, default=None
        Name of the Optuna study (generated when None).
    resume : bool, default=False
        Reuse the fits recorded in ``storage`` under ``study_name`` instead of fitting
        them again (also the finished splits of an interrupted candidate). Several
        processes running the same search with ``resume=True`` on one storage share the
        work (grid, random and Optuna searches; see the README). Without ``storage``, a
        fit interrupted by Ctrl-C keeps its finished fits in memory: ``resume=True`` and
        ``fit`` again continue from them. Failed fits are kept as they are, except fits an
        earlier run stopped under a shorter ``fit_timeout`` than this one's (or any, with
        ``fit_timeout=None``): the search fits those again (only those, and what a
        decision taken on their new scores asks; the limit is read from their recorded
        error).
    backend : str, joblib backend or None, default=None
        None ("auto"): where joblib would use its default (loky) and more than one job
        runs, on Linux/POSIX (not macOS/Windows), workers are started by ``fork`` and
        inherit ``X`` without any copy or per-worker start-up; otherwise the active
        ``joblib.parallel_config`` (so ``joblib.parallel_config(backend="dask")`` runs on
        a Dask cluster). ``"fork"`` forces fork workers; ``"multiprocessing"`` means fork
        workers too where fork is available (joblib's multiprocessing backend elsewhere);
        any other joblib backend name (``"loky"``, ``"threading"``, ...) or object goes
        through joblib. Workers hpsearch starts die with the search's process (also when
        it is killed with SIGKILL), and SIGTERM stops a search like Ctrl-C
        (``KeyboardInterrupt``, subclass ``SearchTerminated``; finished fits are kept).
    fit_timeout : float or None, default=None
        Seconds one fit (with its scoring) may take. A fit past it is stopped and counts
        as a failed fit (``error_score``, error ``"fit exceeded fit_timeout=2s"``); fork
        workers (the default on Linux) kill and replace the worker. With ``n_jobs=1`` the
        fits then run in one fork worker, so a hanging fit is stopped too. With joblib's
        loky/multiprocessing backends (or where fork is unavailable) an alarm stops the
        fit from inside (a single long C call finishes first); thread/Dask backends
        do not enforce it (a warning says so). ``resume=True`` with a longer one fits
        the stopped fits again (see ``resume``).
    max_retries : int, default=1
        How many times a fit whose worker process died (segfault, out-of-memory kill) is
        run again in a fresh worker. Past that it is a failed fit (``error_score``,
        error ``"worker died: SIGSEGV"`` with the signal's name) and the search goes on.
        On Dask, a fit of a call Dask gave up on (``KilledWorker``, after its own
        ``allowed-failures`` retries) or whose scattered data was lost with a worker
        (a scatter of a call's data left waiting by a worker that left, or past Dask's
        setting ``hpsearch.scatter-timeout``, sends that data with its task instead).
    timeout : float or None, default=None
        Seconds for the whole search (the final refit not counted): no fit starts after
        it, finished fits stand. Fits still running at that moment are stopped (fork
        workers, also with ``n_jobs=1``; on other joblib backends they finish first) and
        count as not run: they are not recorded, so ``resume=True`` runs them, and
        ``cv_results_['error']`` says ``"not run: the search's timeout=...s was
        reached"``; such splits score NaN, never ``error_score`` (a fit that did not
        run has no score), so those rows rank after every row that ran. A ValueError is
        raised when no candidate finished all its splits in time.

    Attributes
    ----------
    cv_results_ : dict
        sklearn's layout plus ``error`` (traceback text per candidate or None) and,
        for budgeted searches, ``resources``.
    best_index_ : int
        Index in ``cv_results_`` of the best candidate: rank 1 of
        ``rank_test_<metric>`` in the refit metric (a subclass may choose among fewer
        rows), or the index a callable ``refit`` returns. With several metrics, only set
        when ``refit`` is not False.
    {search_attributes}
    {diagnosis_attributes}
    study_ : optuna.Study
        The trial store's study (in ``storage`` under ``study_name``, else in memory).
        A search unpickled elsewhere loads it from ``storage`` when first read (an
        ``AttributeError`` where that storage is not reachable; predicting needs it not).
    """

    # ``fit``'s explicit ``groups`` (the splitter's; routed to it, as by sklearn's
    # searches, whose ``fit(X, y=None, **params)`` has none) is no request of the search
    # itself: no ``set_fit_request`` appears, as on sklearn's searches (it accepted
    # ``groups`` and did nothing)
    __metadata_request__fit = {"groups": metadata_routing.UNUSED}

    _parameter_constraints: dict = {
        **_SkBaseSearchCV._parameter_constraints,
        "cv": ["cv_object", str, dict],
        "random_state": ["random_state"],
        "progress": ["boolean", None],
        "storage": [None, str, HasMethods(["create_new_study"])],
        "study_name": [None, str],
        "resume": ["boolean"],
        "backend": [None, str, HasMethods(["configure"])],
        "fit_timeout": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "max_retries": [Int(0, None, closed="left")],
        "timeout": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "error_score": [StrOptions({"raise"}), numbers.Real],
    }

    def __init__(
        self,
        estimator,
        *,
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
        timeout=None,
    ):
        self.estimator = estimator
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.random_state = random_state
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.progress = progress
        self.storage = storage
        self.study_name = study_name
        self.resume = resume
        self.backend = backend
        self.fit_timeout = fit_timeout
        self.max_retries = max_retries
        self.timeout = timeout

    study_ = _StudyOnAccess()  # (an unpickled search's, read when asked)

    def __getstate__(self):
        """sklearn's state, with a ``study_`` in a storage as bytes (:class:`_StudyOnAccess`:
        a fitted search loads where its storage is not)."""
        state = super().__getstate__()
        study = state.get("study_")
        if study is not None and not _storage_in_memory(study):
            state = dict(state)
            state["_pickled_study"] = pickle.dumps(state.pop("study_"))
        return state

    def __sklearn_tags__(self):
        """sklearn's search tags, with the estimator's ``target_tags.multi_output``: a
        search fits whatever ``y`` its estimator takes, so a column-vector ``y`` warns
        exactly when the estimator's fit does (sklearn's searches leave it False)."""
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = get_tags(self.estimator).target_tags.multi_output
        return tags

    def get_metadata_routing(self):
        """Get metadata routing of this object (sklearn's, see its User Guide).

        As sklearn's searches: ``fit`` routes to the estimator's ``fit``, the scorer's
        ``score`` and the splitter's ``split``; ``score`` to the scorer's ``score``. A
        ``cv`` given as a name or dict spec (``cv="group_kfold"``, see
        :func:`~hpsearch.model_selection.make_cv`) requests what the splitter it builds
        requests: with metadata routing enabled, ``fit(X, y, groups=g)`` on
        ``cv="group_kfold"`` raised "GridSearchCV.fit got unexpected argument(s)
        {'groups'}, which are not routed to any object".

        A search that continues training by ``partial_fit`` (halving, Hyperband, ASHA
        and the pruned Optuna search with ``resource="epochs"`` on an estimator with
        ``partial_fit`` and no ``warm_start``) also routes ``fit`` to the estimator's
        ``partial_fit``: each call gets what was requested for that very method
        (``set_partial_fit_request``), as sklearn's meta-estimators calling
        ``partial_fit``. Was: the continuation got what ``fit`` requested.

        Returns
        -------
        routing : MetadataRouter
        """
        from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping

        router = MetadataRouter(owner=self)
        mapping = MethodMapping().add(caller="fit", callee="fit")
        if self._continues_by_partial_fit():  # training continued by partial_fit
            mapping.add(caller="fit", callee="partial_fit")
        router.add(estimator=self.estimator, method_mapping=mapping)
        scorer, _ = self._get_scorers()
        router.add(scorer=scorer,
                   method_mapping=MethodMapping().add(caller="score", callee="score")
                   .add(caller="fit", callee="score"))
        router.add(splitter=self._routing_splitter(),
                   method_mapping=MethodMapping().add(caller="fit", callee="split"))
        return router

    def _continues_by_partial_fit(self):
        """Whether ``fit`` may call the estimator's ``partial_fit`` (to continue a
        candidate's training between rungs); strategies with a budget say so."""
        return False

    def _routing_splitter(self):
        """``cv`` for metadata routing: the splitter a name or dict spec builds (a bad
        spec stays as given: ``fit`` raises its error)."""
        if isinstance(self.cv, (str, dict)):
            try:
                return _make_cv(self.cv, None, False)
            except (TypeError, ValueError):
                pass
        return self.cv

    # -- hooks for strategies ----------------------------------------------------------
    def _run_search(self, evaluate):
        raise NotImplementedError("_run_search not implemented.")

    def _draw_before_splits(self):
        """Candidates drawn before the splits, where their order of draws matters (the
        random search with a ``RandomState`` instance, which a shuffling splitter may
        share: scikit-learn draws the candidates, then the splits); None: the strategy
        draws in :meth:`_run_search`."""
        return None

    def _validate_params(self):
        """sklearn's parameter check, plus the name of a ``cv`` given as a str.

        The ``str`` constraint admits any string; an unknown method name is refused here,
        before any work, as sklearn refuses an invalid value: an ``InvalidParameterError``
        in sklearn's format (``check_param_validation`` of sklearn's ``test_common.py``
        expects it), ending with :func:`~hpsearch.model_selection.split.make_cv`'s list
        of methods. It used to be make_cv's plain ``ValueError``, raised in the middle of
        ``fit``.
        """
        super()._validate_params()
        from .split import CV_METHODS

        if isinstance(self.cv, str) and self.cv not in CV_METHODS:
            raise InvalidParameterError(
                f"The 'cv' parameter of {type(self).__name__} must be an int in the range "
                "[2, inf), an object implementing 'split' and 'get_n_splits', an iterable, "
                "None, a dict with a 'method' key or a cross-validation method name. Got "
                f"{self.cv!r} instead. Unknown cross-validation method {self.cv!r}; valid "
                f"methods are {sorted(CV_METHODS)}."
            )

    def _study_options(self):
        """Extra ``optuna.create_study`` arguments (sampler, pruner) for the store."""
        return {}

    def _store_space(self):
        """The search space whose parameters the store records with their own Optuna
        distributions (``param_grid`` / ``param_distributions``), so every trial of the
        study shares one search space; None (default): values stored one by one."""
        return None

    def _refit_params(self, best_index):
        """Parameters of the final refit: the best row's params and resource overrides."""
        params = dict(self.cv_results_["params"][best_index])
        resources = self.cv_results_.get("resources")
        if resources is not None and resources[best_index]:
            params.update(
                {k: v for k, v in resources[best_index].items() if k != "n_samples"}
            )
        return params

    # -- helpers ---------------------------------------------------------------------
    def _error_value(self):
        return np.nan if self.error_score == "raise" else self.error_score

    def _refit_metric_name(self, names):
        from .stats import _refit_metric  # (a refit rule's metric too)

        metric = _refit_metric(self.refit)
        if metric is not None and metric in names:
            return metric
        return names[0]

    #: Whether a ``RandomState`` instance given as ``random_state`` is advanced by the
    #: candidate draws alone, as scikit-learn's ``ParameterSampler`` advances it (the
    #: random search): the master seed of the per-fit seeds is then derived from the
    #: instance's state without drawing from it, so the candidates, and the instance's
    #: state after ``fit``, are scikit-learn's.
    _seed_without_drawing = False

    def _master_seed(self):
        if isinstance(self.random_state, numbers.Integral) and self.random_state >= 0:
            return int(self.random_state)
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        rng = check_random_state(self.random_state)
        if self._seed_without_drawing:
            _, key, pos, *_ = rng.get_state()
            entropy = [int(word) for word in key] + [int(pos)]
            return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)
        return int(rng.randint(2**31 - 1))

    def _drawing_random_state(self, evaluate):
        """``random_state`` for drawing candidates (random, halving, Hyperband searches).

        With ``random_state=None`` and a ``storage``, the master seed of the per-fit seeds
        (``evaluate.seed``: the study's recorded one on resume,
        :meth:`TrialStore.check_seed`) instead of NumPy's global generator: a resumed
        search then draws the candidates it drew before and reuses their finished fits
        (it drew new ones, and every finished fit was lost). With ``random_state=None``
        and no storage, NumPy's global generator as scikit-learn uses it, whose state is
        noted before the draws: a fit interrupted by Ctrl-C keeps it with its in-memory
        study (:meth:`_keep_interrupted`), and the ``resume=True`` fit that continues that
        study draws from a copy of it, i.e. the same candidates (it drew new ones). An
        int or ``RandomState`` as scikit-learn uses it.
        """
        if self.random_state is None and self.storage is not None:
            return evaluate.seed
        if self.random_state is None:  # NumPy's global generator, as scikit-learn
            kept = self.__dict__.get("_interrupted_draws")
            if kept is not None and self._resumes_kept_study():
                # the interrupted fit's draws again: its candidates, its finished fits
                replay = np.random.RandomState()
                replay.set_state(kept)
                return replay
            self._draws_from = np.random.get_state()  # (kept if this fit is interrupted)
        return self.random_state

    #: Whether the candidates depend on ``random_state`` (drawn with it): a resume with
    #: another one is then a new part of the study, not refused (:meth:`_seed_policy`).
    _draws_candidates = True

    def _seed_policy(self):
        """What a resumed study's recorded master seed means to this run
        (:meth:`TrialStore.check_seed`): ``"adopt"`` it (``random_state`` None or a
        ``RandomState``), ``"strict"`` (an int, candidates that do not depend on it:
        another one is refused) or ``"own"`` (an int that draws the candidates)."""
        if not isinstance(self.random_state, numbers.Integral):
            return "adopt"
        return "own" if self._draws_candidates else "strict"

    def _show_progress(self):
        show = self.progress
        if show is None:
            show = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        return bool(show)

    def _progress_bar(self, total=None):
        slot = getattr(self, "_nested_slot", None)
        if slot is not None:  # nested CV's one pool: this search's share of its one bar
            return slot.progress(total)
        if not self._show_progress():
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total or 0, desc=type(self).__name__, unit="fit", file=sys.stderr)

    def _expected_n_fits(self, X, y, groups, n_splits):
        """How many (candidate x split) fits ``_run_search`` will run, without fitting.

        Sets the progress bar's total at the start, so its time left covers the whole
        search, not the current ``evaluate`` call. The final refit is not counted (the
        bar closes before it). An upper bound is fine (pruning, a timeout): the bar ends
        at the fits actually run; a count that falls short is grown as fits come.
        Strategies override it; the default, None, grows the total with each
        ``evaluate`` call.

        Parameters
        ----------
        X, y, groups : indexable
            As passed to ``fit``.
        n_splits : int
            Splits of the cross-validation.

        Returns
        -------
        n_fits : int or None
        """
        return None

    def _max_n_fits(self, n_splits):
        """An upper bound on the fits ``_run_search`` will run, or None when unknown.

        The engine forks no more workers than that (``Engine(max_fits=)``): ``n_jobs=100``
        for 10 fits starts 10 processes. Only an upper bound is safe (a short one would
        leave fits waiting for a worker).
        """
        return None

    def _fits_bound(self, n_splits):
        """:meth:`_max_n_fits`, None when the parameters are bad: ``_run_search`` raises
        that error as before."""
        try:
            return self._max_n_fits(n_splits)
        except (TypeError, ValueError):
            return None

    # -- fit -------------------------------------------------------------------------
    def fit(self, X, y=None, *, groups=None, **fit_params):
        """Run the search: every candidate on every split, then refit the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        groups : array-like of shape (n_samples,), default=None
            Group labels for group splitters.
        **fit_params : dict
            Passed to the estimator's ``fit`` (per-sample arrays are split with the folds);
            ``sample_weight`` also weights the test scores when the scorer accepts it (as
            sklearn >= 1.7). With ``sklearn.set_config(enable_metadata_routing=True)``,
            every parameter (``groups`` included) goes where the estimator, the scorer and
            the splitter request it (sklearn's ``process_routing``).

        Returns
        -------
        self : object
        """
        from .store import storage_errors

        self._validate_params()
        # (interrupts_deferrable: Ctrl-C waits for the end of a trial store write)
        with _callback_management(self), storage_errors(self.storage), interrupts_deferrable():
            self._fit(X, y, groups, fit_params)
        return self

    def _study_location(self):
        """``(storage, study_name)`` of this fit: the parameters, or, with ``resume=True``
        and ``storage=None`` after a fit that was interrupted, that fit's in-memory study
        (:meth:`_keep_interrupted`)."""
        if self._resumes_kept_study():
            return self._interrupted_study
        return self.storage, self.study_name

    def _resumes_kept_study(self):
        """Whether this fit continues the in-memory study of an interrupted fit."""
        return (self.storage is None and bool(self.resume)
                and getattr(self, "_interrupted_study", None) is not None)

    def _check_study(self, store, X, y, groups, fit_params, routed, splits):
        """Check that a resumed study ran on this search's data, splits, settings, kind
        (and, for Optuna, space, objective and rungs), or record them in a new study
        (:meth:`TrialStore.check_data` and the like). Raises ValueError on a mismatch."""
        store.check_data(data_fingerprint(
            X, y, groups, fit_params, _only_scored(routed, fit_params),
            _unscored(routed, fit_params)))
        store.check_splits(_splits_digest(splits))
        store.check_settings(search_settings(
            self.estimator, self.scoring, self._cv_description,
            self.return_train_score), type(self).__name__)
        store.check_kind(self._study_kind or type(self).__name__)
        if self._trials_are_candidates:  # (a resume reports the study's trials)
            store.check_space(self.param_distributions, type(self).__name__)
            store.check_objective(
                self._refit_metric_name(_scoring_names(self.scoring)), self.refit,
                type(self).__name__)
            pruning = getattr(self, "_pruning", None)  # (OptunaSearchCV.fit)
            store.check_rungs(None if pruning is None else pruning[1],
                              type(self).__name__)

    def _keep_interrupted(self, store, evaluate, exc, record=None):
        """On Ctrl-C (or SIGTERM) of a search without ``storage``: keep its in-memory
        study, so that ``set_params(resume=True)`` and ``fit`` again continue from its
        finished fits instead of losing them (a notebook's interrupted search), and say so
        on the ``KeyboardInterrupt``. ``record`` (:meth:`_check_study` of this fit, when
        its study was a new in-memory one) records in the kept study the data, splits and
        settings it ran on, which the resuming fit checks: without them a resume on other
        data reused the finished fits' scores as if made on it, a silent wrong result
        (``resume=True`` and ``fit(X2, y2)`` after an interrupted ``fit(X1, y1)``).
        Hashing the data costs nothing until an interrupt."""
        n_fits = 0 if evaluate is None else evaluate.n_fits
        if self.storage is None:
            if record is not None:
                try:  # what the resume must find again (it reused them on other data)
                    record()
                except Exception:  # noqa: BLE001 - nothing kept rather than fits unchecked
                    self.__dict__.pop("_interrupted_study", None)
                    return
            self._interrupted_study = (store._storage, store.study.study_name)
            if "_draws_from" in self.__dict__:  # random_state=None: what it drew from
                self._interrupted_draws = self._draws_from
            text = (f"hpsearch: {n_fits} finished fits are kept in memory; call "
                    "set_params(resume=True) and fit again with the same data to continue "
                    "from them (storage= keeps fits on disk, across sessions).")
        else:
            text = (f"hpsearch: {n_fits} finished fits are recorded in study "
                    f"{store.study.study_name!r}; fit again with resume=True and "
                    f"study_name={store.study.study_name!r} to continue.")
        if hasattr(exc, "add_note"):  # Python >= 3.11
            exc.add_note(text)

    def _routed_params(self, X, groups, fit_params):
        """sklearn's routing of ``fit``'s parameters: with metadata routing enabled
        (``sklearn.set_config(enable_metadata_routing=True)``) as the estimator, scorer
        and splitter request them (``process_routing``); otherwise ``groups`` to the
        splitter, the rest to ``estimator.fit`` and ``sample_weight`` also to the scorer
        when it accepts one (sklearn >= 1.7), so test scores are weighted."""
        params = _check_method_params(X, params=fit_params)
        if groups is not None:
            params["groups"] = groups
        return self._get_routed_params_for_fit(params)

    def _fit(self, X, y, groups, fit_params):
        from .store import TrialStore

        if "sample_index" in fit_params:  # issue 11: every fit failed, then the refit ran
            raise ValueError(
                "The 'sample_index' fit parameter cannot be passed to a search: the search "
                "passes sample_index itself (the training rows of each fold). Search on "
                "X[sample_index], y[sample_index] instead."
            )
        scorers, _ = self._get_scorers()
        self._check_pre_dispatch()
        X, y, groups = indexable(X, y, groups)
        routed = self._routed_params(X, groups, fit_params)
        # (sklearn's: the sample_weight given to fit, also one the estimator did not request)
        callback_metadata = _callback_metadata(_check_method_params(X, params=fit_params))
        fit_params = routed.estimator.fit
        # every parameter the splitter requests (sklearn's routing), not groups alone
        split_params = dict(routed.splitter.split)
        groups = split_params.pop("groups", None)
        root_ctx = self._root_callback_context(X, y, callback_metadata)
        self._drawn_first = self._draw_before_splits()
        cv = _make_cv(self.cv, y, is_classifier(self.estimator))
        self.n_splits_ = _n_splits(cv, X, y, groups, **split_params)
        splits = [
            (_as_indices(train), _as_indices(test))
            for train, test in cv.split(X, y, groups, **split_params)
        ]
        if not splits:
            raise ValueError(
                "No fits were performed. Was the CV iterator empty? Were there no "
                "candidates?"
            )
        if len(splits) != self.n_splits_:
            raise ValueError(
                f"cv.split and cv.get_n_splits return inconsistent results. Expected "
                f"{self.n_splits_} splits, got {len(splits)}"
            )
        from .stats import _check_refit_splits

        _check_refit_splits(self.refit, len(splits))  # (before any fit)
        self._cv_description = repr(cv)
        seed = self._master_seed()
        storage, study_name = self._study_location()
        store = TrialStore(
            storage,
            study_name,
            resume=self.resume,
            **self._study_options(),
        )
        store.name = type(self).__name__  # (announced in the study: TrialStore.announce)
        store.declare_space(self._store_space())
        if self.resume and self._retries_timed_out:  # a longer fit_timeout: fit them again
            store.retry_timed_out = (float("inf") if self.fit_timeout is None
                                     else float(self.fit_timeout))
            store.refresh()
        check_study = partial(self._check_study, store, X, y, groups, fit_params, routed,
                              splits)
        if storage is not None:  # a study that can be resumed: same data only
            try:
                check_study()
                seed = store.check_seed(seed, self._seed_policy(), type(self).__name__)
            except ValueError as exc:
                store.close()
                if self._resumes_kept_study():  # (its study's generated name says nothing)
                    exc.add_note(
                        "hpsearch: that is the in-memory study of this search's interrupted "
                        "fit; set_params(resume=False) to start afresh.")
                raise
        else:  # an in-memory study: its seed too, for a resume after an interrupt
            seed = store.check_seed(seed, self._seed_policy(), type(self).__name__)
        self.study_ = store.study
        self.__dict__.pop("_pickled_study", None)  # (an unpickled search's earlier study)
        if storage is not None and not (self._trials_are_candidates or self._runs_enqueued):
            _warn_enqueued(store.study, type(self).__name__, self._study_kind)
        engine = Engine(
            self.estimator,
            X,
            y,
            scorer=scorers,
            fit_params=fit_params,
            score_params=routed.scorer.score,
            partial_fit_params=_partial_fit_params(routed),
            n_jobs=self.n_jobs,
            backend=self._engine_backend(root_ctx),
            pre_dispatch=self.pre_dispatch,
            return_train_score=self.return_train_score,
            error_score=self.error_score,
            verbose=self.verbose,
            fit_timeout=self.fit_timeout,
            max_retries=self.max_retries,
            timeout=self.timeout,
            max_fits=self._fits_bound(self.n_splits_),
        )
        slot = getattr(self, "_nested_slot", None)
        if slot is not None:  # nested CV's one pool (nested.py) runs this search's fits
            engine = slot.engine(engine)
        expected = (
            self._expected_n_fits(X, y, groups, self.n_splits_)
            if self._show_progress() else None
        )
        progress = evaluate = None
        done = False
        try:
            # enter the engine first: its fork workers start before the progress bar's
            # monitor thread
            with engine:
                progress = self._progress_bar(expected)
                evaluate = _Evaluator(self, engine, splits, seed, store, progress)
                # (a resume may read every fit back: none scored here shows the dict)
                evaluate.scorer_returned_dict = (callable(self.scoring)
                                                 and store.scorer_returned_dict())
                evaluate.n_planned = expected
                evaluate.callback_ctx = self._search_callback_context(root_ctx, evaluate)
                self._run_search(evaluate)
                if storage is not None and self.resume:
                    _warn_budget_below_store(self, store)
                    if self._left_out_params:
                        _warn_store_left_out(self, store, evaluate)
                if storage is not None and self._study_kind is None:
                    _close_enqueued(store, type(self).__name__)
                if evaluate.callback_ctx is not None:
                    evaluate.callback_ctx.call_on_fit_task_end(estimator=self)
                done = True
        except KeyboardInterrupt as exc:
            self._keep_interrupted(store, evaluate, exc,
                                   record=check_study if storage is None else None)
            raise
        except Exception as exc:  # a full disk, a lost worker, a fit raising on error_score
            if storage is not None:
                _note_resumable(exc, store, evaluate)
            raise
        finally:
            # a timeout's cut candidates too: left RUNNING by a process that lives on,
            # other processes would wait for them (their finished fits are kept)
            store.close(interrupted=not done or engine.expired)
            if evaluate is not None:
                evaluate.release()
            if progress is not None:
                if done and progress.n != progress.total:
                    progress.total = progress.n  # a plan left short (pruning): end at 100%
                progress.close()
        for name in ("_interrupted_study", "_interrupted_draws", "_draws_from"):
            self.__dict__.pop(name, None)  # (finished: nothing to continue)
        self.backend_ = engine.kind
        _check_timeout(engine, evaluate)
        store.finish_all()
        if not evaluate.rows:
            raise ValueError(
                "No fits were performed. Was the CV iterator empty? Were there no "
                "candidates?"
            )
        evaluate.check_failures()
        results = evaluate.results()
        self.cv_results_ = results
        self._n_fits_run = evaluate.n_fits  # this fit's, not those a resume found stored
        try:  # the references' fits and the refit: a long refit is Ctrl-C'd too
            self._add_diagnosis(results, X, y, groups, splits, routed)
            self._complete_results(results)
            self._finish(X, y, results, evaluate, fit_params, scorers, seed, root_ctx,
                         callback_metadata)
        except KeyboardInterrupt as exc:  # the search's fits are all done: keep them
            self._keep_interrupted(store, evaluate, exc,
                                   record=check_study if storage is None else None)
            raise
        if root_ctx is not None:
            root_ctx.call_on_fit_task_end(
                estimator=self, X=X, y=y, metadata=callback_metadata
            )

    def _check_pre_dispatch(self):
        """joblib's check of a ``pre_dispatch`` expression (``"2*n_jobs"``), which
        sklearn's searches raise when their fits run in parallel: hpsearch's fork workers
        never read it, so a typo (``"2*njobs"``) passed silently. With one job nothing
        is checked, as in sklearn."""
        import joblib

        if (isinstance(self.pre_dispatch, str) and self.pre_dispatch != "all"
                and joblib.effective_n_jobs(self.n_jobs) != 1):  # ("all": joblib's too)
            try:  # joblib's own evaluation, without starting a pool
                from joblib._utils import eval_expr
            except ImportError:  # (another joblib: its empty call raises the same)
                joblib.Parallel(n_jobs=2, backend="threading",
                                pre_dispatch=self.pre_dispatch)(iter(()))
            else:
                int(eval_expr(self.pre_dispatch.replace("n_jobs", "2")))

    def _add_diagnosis(self, results, X, y, groups, splits, routed=None):
        """The lecture's recipe per candidate (``LECTURE.md`` §4), when train scores are kept.

        With ``return_train_score=True``, ``cv_results_["diagnosis"]`` labels every row
        ``"training"`` (poor on its training folds: an optimization problem, optimize
        first), ``"overfitting"`` (good on training, much worse on validation), ``"none"``
        or ``"failed"``, against references scored on the same splits (a trivial baseline
        and a linear model: two cheap extra fits per split, see
        :func:`hpsearch.diagnostics.diagnosis_column`); ``diagnosis_`` holds the evidence
        and the search-level notes (e.g. deeper candidates training worse). Without train
        scores nothing is added (they cost one extra prediction on each training fold).
        A diagnosis that cannot be made (a scoring the references cannot use, a baseline
        without a finite score) leaves the column out and says why in
        ``diagnosis_error_``, never a failed search, and no warning: with
        ``return_train_score=True`` a scikit-learn user gets the warnings scikit-learn
        gives, no more (its own test counts them). ``routed`` (the routing of ``fit``'s
        parameters) makes the references weighted as the candidates are: fitted with the
        final estimator's ``sample_weight``, scored with the scorer's parameters.
        """
        for stale in ("diagnosis_", "diagnosis_error_"):  # (of an earlier fit)
            self.__dict__.pop(stale, None)
        if not self.return_train_score or "diagnosis" in results:
            return
        from hpsearch.diagnostics import diagnosis_column

        try:
            labels, self.diagnosis_ = diagnosis_column(
                results, self.estimator, X, y, cv=splits, scoring=self.scoring,
                refit=self.refit, groups=groups,
                fit_params=None if routed is None else routed.estimator.fit,
                score_params=None if routed is None else routed.scorer.score,
            )
        except Exception as exc:  # noqa: BLE001 - an analysis never fails a finished search
            self.diagnosis_error_ = (f"No 'diagnosis' column: the lecture's recipe could not "
                                     f"be applied ({type(exc).__name__}: {exc}).")
            return
        results["diagnosis"] = labels

    def _complete_results(self, results):
        """Hook: a strategy's own columns and ranking of ``cv_results_`` (trial states,
        full-budget rows ranked first), done before the best row is chosen so that a
        ``refit`` callable reads the ``cv_results_`` the search ends with, as in sklearn.
        """

    #: Whether the study's trials are this search's candidates (Optuna: a resume counts
    #: and ranks them): its space must then not change (:meth:`TrialStore.check_space`).
    _trials_are_candidates = False

    #: The parameter that counts this search's candidates, when a resumed study may hold
    #: more of them than it reports (``n_iter``, ``n_trials``): a resume with a smaller
    #: value warns (:func:`_warn_budget_below_store`); None: not checked.
    _budget_param = None

    #: Whether ``_budget_param`` counts the study's slots (``hpsearch_slot``,
    #: OptunaSearchCV: processes sharing the study take ``n_trials`` slots together),
    #: not the candidates hpsearch recorded (:func:`stored_beyond_budget`).
    _budget_in_slots = False

    #: The parameters that decide this search's candidates when they are no count of the
    #: study's (halving, Hyperband, the recipe): a resume that leaves finished candidates
    #: of the study out of its results warns, naming them (:func:`_warn_store_left_out`).
    _left_out_params = ()

    #: Whether the search starts the trials enqueued in its study
    #: (``study.enqueue_trial``) as candidates (ASHA); else :func:`_warn_enqueued`.
    _runs_enqueued = False

    #: The kind of search whose studies this one may resume or share (a stored study
    #: holds the fits of one kind, :meth:`TrialStore.check_kind`); None: this class only.
    _study_kind = "grid, random or Optuna"

    #: Whether a resume fits again the fits an earlier run stopped under a shorter
    #: ``fit_timeout`` than this one's (``TrialStore.retry_timed_out``); else they stay
    #: failed fits (ASHA).
    _retries_timed_out = True

    # -- sklearn callbacks (sklearn.callback) -------------------------------------------
    #: Name of the callback subtask of each ``evaluate`` call (halving's rounds), or None
    #: when the evaluations hang from the search task directly (grid, random, Optuna).
    _callback_round_name = None

    def _root_callback_context(self, X, y, metadata):
        """sklearn's root callback context of ``fit`` (begun with the hooks' ``metadata``),
        or None without callbacks (set with ``set_callbacks`` or propagated by a
        meta-estimator)."""
        if not (hasattr(self, "_skl_callbacks") or hasattr(self, "_parent_callback_ctx")):
            return None
        root = self._init_callback_context(max_subtasks=1 + (self.refit is not False))
        return root.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)

    def _engine_backend(self, root_ctx):
        """``backend`` for the engine: with sklearn callbacks, joblib's loky instead of
        hpsearch's fork workers where those would run (the hooks called in the workers
        reach the callbacks through joblib, as in sklearn's own searches)."""
        if root_ctx is None or self.backend is not None:
            return self.backend
        from joblib.parallel import get_active_backend

        backend, _ = get_active_backend()
        return "loky" if type(backend).__name__ == "LokyBackend" else None

    def _search_callback_context(self, root_ctx, evaluate=None):
        """The ``"search"`` subtask (begun) under which the evaluations hang, or None."""
        if root_ctx is None:
            return None
        return root_ctx.subcontext(
            task_name="search",
            max_subtasks=None,
            sequential_subtasks=self._runs_callback_rounds(evaluate),
        ).call_on_fit_task_begin(estimator=self)

    def _runs_callback_rounds(self, evaluate):
        """Whether this fit's evaluations hang from sequential round subtasks
        (``_callback_round_name``) rather than from the search task directly."""
        return self._callback_round_name is not None

    #: What ``_finish`` sets only for some ``refit`` / ``scoring`` (and ``X`` with column
    #: names): an earlier fit's are dropped first (sklearn keeps them: after
    #: ``set_params(refit=False)`` and a fit on 30 features, ``n_features_in_`` still said
    #: the first fit's 4 and ``best_estimator_`` was its model; after a DataFrame then a
    #: NumPy ``X``, ``feature_names_in_`` named the first fit's columns).
    _REFIT_ATTRIBUTES = ("best_index_", "best_score_", "best_params_", "best_estimator_",
                         "refit_time_", "feature_names_in_")

    def _finish(self, X, y, results, evaluate, fit_params, scorers, seed, root_ctx=None,
                callback_metadata=None):
        for stale in self._REFIT_ATTRIBUTES:
            self.__dict__.pop(stale, None)
        names = metric_names(evaluate.rows, evaluate.scorer_names)
        # (a callable returning a dict is multi-metric too, also with the one key
        # "score": sklearn's multimetric_; seen on the fits this run scored)
        self.multimetric_ = isinstance(self.scoring, (list, tuple, set, dict)) or (
            names != ["score"] or getattr(evaluate, "scorer_returned_dict", False)
        )
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(names)
        refit_metric = self.refit if self.multimetric_ else "score"
        from .stats import _fitted_ratio, _split_sizes

        # n_test / n_train of the splits drawn: compare() tests with what racing and the
        # refit rule did (a list of splits, a custom splitter, GroupShuffleSplit's rows);
        # their sizes, for the ratio of a row whose train parts were subsampled
        self._test_train_ratio_ = _fitted_ratio(self, getattr(evaluate, "splits", None))
        self._split_sizes_ = _split_sizes(getattr(evaluate, "splits", None))
        if self.refit or not self.multimetric_:
            from .stats import _refit_rule_of

            self.best_index_ = int(self._select_best_index(
                _refit_rule_of(self.refit, self, getattr(evaluate, "splits", None), results),
                refit_metric, results))
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            params = clone(self._refit_params(self.best_index_), safe=False)
            estimator = clone(self.estimator)
            if params:  # sklearn never calls set_params() without parameters
                estimator.set_params(**params)
            refit_seed = task_seed(seed, _seed_id(self.best_params_), -1)
            seeds = seed_params(estimator, refit_seed)
            if seeds:
                estimator.set_params(**seeds)
            refit_ctx = None if root_ctx is None else root_ctx.subcontext(
                task_name="refit-with-best-params"
            )
            hook_args = dict(estimator=self, X=X, y=y, metadata=callback_metadata)
            with (nullcontext() if refit_ctx is None
                  else refit_ctx.propagate_callback_context(estimator)):
                if refit_ctx is not None:
                    refit_ctx.call_on_fit_task_begin(**hook_args)
                start = time.perf_counter()
                fit_best = getattr(evaluate.engine, "fit_best", None)
                if fit_best is not None:  # nested CV's one pool: the refit is one of its fits
                    estimator, self.refit_time_ = fit_best(estimator)
                elif y is None:
                    estimator.fit(X, **fit_params)
                else:
                    estimator.fit(X, y, **fit_params)
                if fit_best is None:
                    self.refit_time_ = time.perf_counter() - start
            if refit_ctx is not None:
                refit_ctx.call_on_fit_task_end(**hook_args)
            self.best_estimator_ = estimator
            if hasattr(estimator, "feature_names_in_"):
                self.feature_names_in_ = estimator.feature_names_in_
        self.scorer_ = getattr(scorers, "_scorers", scorers)

    def results_frame(self):
        """``cv_results_`` as a tidy pandas DataFrame, one row per (candidate, split).

        See :func:`hpsearch.model_selection._results.results_frame`.
        """
        return results_frame(self.cv_results_)
