"""Successive halving and Hyperband that continue training instead of starting over.

Dynamic resource allocation (``LECTURE.md`` §7; Jamieson & Talwalkar, 2016; Li et al.,
2018): every round scores all surviving candidates on *every* split at the round's budget
and keeps the best ``1/factor``. With ``resource="epochs"`` and an estimator that can
continue (hpsearch's MLP; anything with ``warm_start`` or ``partial_fit``), a survivor is
not refitted: each (candidate, split) continues from its saved training state, so a
candidate trained 3, then 9, then 27 epochs ends exactly where straight training to 27
ends, and a round costs only its *additional* epochs (``DESIGN.md`` decisions 2 and 5).

The strategies only decide (which candidates, what budget, who survives); the engine
fits. Rung scores are recorded as intermediate values of one Optuna trial per candidate
(eliminated candidates end PRUNED), so the study resumes and shows in optuna-dashboard.
"""

import warnings
from math import ceil
from numbers import Real
from types import SimpleNamespace

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection._search import BaseSearchCV as _SkBaseSearchCV
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples

from .._base import BaseSearchCV, Int, fit_failure_message
from .._docstrings import fill_doc
from .._engine import NOT_RUN
from ._halving_resource import continues_by_partial_fit, resource_plan
from ._halving_schedule import (
    halving_schedule,
    hyperband_brackets,
    resolve_min_resources,
    resolve_n_candidates,
    smallest_resources,
)

__all__ = [
    "HalvingGridSearchCV",
    "HalvingRandomSearchCV",
    "HalvingSearchCV",
    "HyperbandSearchCV",
]


def top_k(scores, k):
    """Indices of the ``k`` best scores, in their original order.

    NaN (every split failed) counts as the worst score; ties keep the earlier candidate,
    so the choice is deterministic.
    """
    scores = np.where(np.isnan(scores), -np.inf, np.asarray(scores, dtype=float))
    order = np.argsort(-scores, kind="stable")[: max(1, k)]
    return sorted(int(i) for i in order)


def rank_rows_first(results, rows):
    """Re-rank ``rank_test_<metric>`` so that ``rows`` (the full-budget ones) come first.

    A score measured on a smaller budget is not comparable with one on the full budget,
    so the scored rows eligible for ``best_index_`` are ranked among themselves (1 is the
    best), every other scored row after them, and the failed (NaN) rows last, all tied, as
    sklearn ranks them (a failed full-budget row ranked ahead of every scored smaller-budget
    one). Rank 1 is then always ``best_index_``; when every eligible row failed, they keep
    rank 1, tied, ahead of the rest.
    """
    from .._results import _rank

    n = len(results["params"])
    eligible = np.zeros(n, dtype=bool)
    eligible[np.asarray(rows, dtype=int)] = True
    for key in [k for k in results if k.startswith("rank_test_")]:
        means = np.asarray(results["mean_test_" + key[len("rank_test_"):]], dtype=float)
        failed = np.isnan(means)
        first = eligible & ~failed
        if not first.any():
            first = eligible
        blocks = (first, ~first & ~failed, ~first & failed)
        ranks = np.empty(n, dtype=np.int32)
        before = 0
        for block in blocks:
            if block.any():
                ranks[block] = before + _rank(means[block])
                before += np.count_nonzero(block)
        results[key] = ranks




def ran_rows(results):
    """Mask of the rows with a result: every split finished (failed or not), none left
    unrun by the search's ``timeout`` (whose mean is no score of the row)."""
    return np.array([not (error and NOT_RUN in error) for error in results["error"]],
                    dtype=bool)


def last_rows(results, key):
    """Rows eligible for ``best_index_``: the largest ``results[key]`` (round or budget)
    among the rows with a result (:func:`ran_rows`; a row the ``timeout`` cut does not
    stand for the round it belongs to); every row when none has a result, or without
    an ``error`` column (scikit-learn's results, as its tests pass them)."""
    values = np.asarray(results[key])
    ran = ran_rows(results) if "error" in results else np.ones(len(values), dtype=bool)
    if not ran.any():
        ran[:] = True
    return np.flatnonzero(ran & (values == values[ran].max()))


def last_scored_rows(results, key, metric):
    """Rows eligible for ``best_index_`` when failed rows must not stand for a budget: the
    largest ``results[key]`` among the rows with a result (:func:`ran_rows`) and a finite
    ``mean_test_<metric>``, so a budget where every row failed (NaN ``error_score``) gives
    way to the largest one with a score; :func:`last_rows` when no row has a score."""
    means = np.asarray(results.get(f"mean_test_{metric}", []), dtype=float)
    values = np.asarray(results[key])
    if len(means) != len(values):
        return last_rows(results, key)
    scored = np.isfinite(means)
    if "error" in results:
        scored &= ran_rows(results)
    if not scored.any():
        return last_rows(results, key)
    return np.flatnonzero(scored & (values == values[scored].max()))


def warn_budget_fallback(results, rows, key, owner):
    """Say so when the rows eligible for ``best_index_`` (``rows``) are not of the
    largest ``results[key]`` (budget or rung) that ran: every row there failed."""
    values = np.asarray(results[key])
    reached, chosen = values[last_rows(results, key)[0]], values[rows[0]]
    if chosen != reached:
        warnings.warn(
            f"Every row of {owner} with {key}={reached} (the largest reached) failed: "
            f"best_index_ is the best row with {key}={chosen}, the largest with a score.",
            FitFailedWarning,
        )


def failed_round(evaluate, result):
    """The tracebacks of one round's fits when every fit of it failed, else None.

    Only failed *fits* count, as in sklearn's ``_warn_or_raise_about_fit_failures`` (a
    scorer that failed leaves its fit fitted), whatever ``error_score`` is; so do fits
    read back from the store (resume, another process), whose records carry the mark
    (a round read back raised nothing: the next round fitted its arbitrary survivors).
    """
    rows = getattr(result, "rows", None)
    if not rows:  # (plan_rounds' stand-in: nothing fitted)
        return None
    fits = [(error, failed) for r in rows
            for error, failed in zip(evaluate.rows[r]["error"], evaluate.rows[r]["fit_failed"])]
    if not fits or not all(failed for _, failed in fits):
        return None
    return [error for error, _ in fits]


def _cut_rows(evaluate, result):
    """Per candidate of one ``evaluate`` call: whether the search's ``timeout`` cut its
    row (a split left unrun). Such a candidate did not reach the round: it is closed
    PRUNED, not COMPLETE with the score of an earlier round."""
    engine = getattr(evaluate, "engine", None)
    rows = getattr(result, "rows", None)
    if rows is None or not getattr(engine, "expired", False):
        return [False] * len(result.scores)
    return [engine.not_run_error in evaluate.rows[r]["error"] for r in rows]


def time_is_up(evaluate):
    """Whether the search's ``timeout`` has passed: no later round may start (a recorder
    of the plan, :class:`_RecordRounds`, has no engine and never expires)."""
    engine = getattr(evaluate, "engine", None)
    return engine is not None and engine.time_is_up()


def select_best_index(refit, refit_metric, results, final_rows):
    """``best_index_`` of a budgeted search: the best row of ``final_rows(results)`` (the
    rows of the largest budget reached), or ``refit(results)`` checked as sklearn checks it
    (``BaseSearchCV._select_best_index``: an integer row index, else its TypeError or
    IndexError)."""
    if callable(refit):
        return _SkBaseSearchCV._select_best_index(refit, refit_metric, results)
    return best_row(results, refit_metric or "score", final_rows(results))


def best_row(results, metric, rows):
    """The row of ``rows`` with the best ``mean_test_<metric>`` (NaN counts as the worst;
    the first row when every one failed)."""
    scores = np.asarray(results[f"mean_test_{metric}"], dtype=float)[rows]
    if np.isnan(scores).all():
        return int(rows[0])
    return int(rows[np.nanargmax(scores)])


#: The fitted attributes of :class:`HalvingSearchCV`, :class:`HalvingGridSearchCV` and
#: :class:`HalvingRandomSearchCV` (inserted by :func:`~.._docstrings.fill_doc`).
_HALVING_ATTRIBUTES = """\
cv_results_ : dict
    sklearn's layout with one row per (candidate, round), plus ``iter``,
    ``n_resources``, ``resources`` and ``error``. ``rank_test_<metric>`` ranks the rows
    of the last round first (scores on smaller budgets are not comparable), so rank 1 is
    ``best_index_``.
best_index_ : int
    Index in ``cv_results_`` of the best row of the last round (the last with a result
    when the ``timeout`` cut one: a ``"not run"`` row does not count; a round whose fits
    all failed raises sklearn's ``ValueError``), or the index a
    callable ``refit`` returns; the refit takes that row's budget parameter (see
    ``best_estimator_``). With several metrics, only set when ``refit`` is not False.
n_candidates_ : list of int
    Candidates evaluated in each round run (when the ``timeout`` stops the search, the
    rounds up to the one it cut; no later round is planned or listed).
n_resources_ : list of int
    Budget of each round run (the same rounds).
n_iterations_ : int
    The number of rounds run (``len(n_resources_)``).
n_possible_iterations_ : int
    Rounds possible starting with ``min_resources_`` without exceeding
    ``max_resources_`` (as sklearn's halving searches).
n_required_iterations_ : int
    Rounds required to end with fewer than ``factor`` candidates in the last round,
    starting from the first round's candidates (as sklearn's halving searches).
min_resources_ : int
    Budget of the first round (``min_resources`` resolved: ``"smallest"``,
    ``"exhaust"``).
max_resources_ : int
    Largest budget a round may use (``max_resources`` resolved: ``"auto"`` is the
    estimator's own value of the resource parameter, or the number of samples).
n_remaining_candidates_ : int
    Candidates that would survive the last round: ``ceil(n_candidates_[-1] / factor)``.
study_ : optuna.Study
    One trial per candidate, rung scores as intermediate values, eliminated ones PRUNED.
"""


def _as_drawn_types(search, results):
    """``cv_results_['params']`` with values drawn from scipy distributions as the numpy
    scalars they return (``np.float64``), as sklearn's ``HalvingRandomSearchCV`` gives
    them (was a Python ``float``); values, store keys and seeds unchanged
    (:func:`~hpsearch.model_selection.space.as_drawn_types`)."""
    from ..space import as_drawn_types

    results["params"] = as_drawn_types(search._store_space(), results["params"])


class _RecordRounds:
    """A stand-in for the engine's ``evaluate`` that records each round and fits nothing.

    Every candidate scores 0, so a round keeps the first ``k`` candidates: the counts of
    the plan are those of the real search (only which candidates survive differs).
    """

    def __init__(self, plan):
        self.plan = plan
        self.rounds = []

    def __call__(self, candidate_params, *, more_results=None, resources=None,
                 continue_training=False, **kwargs):
        n = len(candidate_params)
        more = more_results or {}
        entry = {key: values[0] for key, values in more.items() if values}
        entry.update(
            n_candidates=n,
            continue_training=bool(continue_training),
            resource=self.plan.resource,
        )
        self.rounds.append(entry)
        return SimpleNamespace(scores=np.zeros(n))

    def finish(self, candidate_params, state="COMPLETE"):
        pass

    def release(self, candidate_params=None):
        pass


class _BaseHalving(BaseSearchCV):
    """Shared machinery: the budget of a rung and one run of successive halving."""

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
        "resource": [str],
        "min_resources": [
            Int(1, None, closed="left"),
            StrOptions({"smallest"}),
        ],
        "max_resources": [
            Int(1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "factor": [Interval(Real, 1, None, closed="neither")],
    }

    #: each round is one sklearn callback subtask, as in sklearn's halving searches
    _study_kind = None  # each halving class alone: other candidates, other rounds
    #: (a resume leaving finished candidates of the study out warns, naming these)
    _left_out_params = ("min_resources", "max_resources", "factor")
    _callback_round_name = "halving-iteration"

    def _store_space(self):
        return self.param_distributions

    def _continues_by_partial_fit(self):
        return continues_by_partial_fit(self.estimator, self.resource,
                                        owner=type(self).__name__)

    def fit(self, X, y=None, *, groups=None, **fit_params):
        """Run the search, then refit the best candidate of the last round.

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
        self._prepare(X, y)
        return super().fit(X, y, groups=groups, **fit_params)

    def _complete_results(self, results):
        """The rows eligible for ``best_index_`` ranked first (:func:`rank_rows_first`),
        values drawn from scipy distributions as sklearn's numpy scalars
        (:func:`_as_drawn_types`)."""
        _as_drawn_types(self, results)
        rank_rows_first(results, self._final_rows(results))

    def _prepare(self, X, y):
        """What the budgets need from the data: the resource plan, n_samples, n_classes."""
        self._plan = resource_plan(self.estimator, self.resource, owner=type(self).__name__)
        self._n_samples_orig = _num_samples(X)
        self._n_classes = None
        if y is not None and is_classifier(self.estimator):
            # sklearn's order: a continuous target is "Unknown label type" first
            check_classification_targets(np.asarray(y))
            self._n_classes = len(np.unique(np.asarray(y)))
        if self._plan.resource == "n_samples" and self._n_samples_orig == 0:
            raise ValueError("min_resources_=0: you might have passed an empty dataset X.")

    # -- budgets -------------------------------------------------------------------
    def _resolve_max_resources(self):
        if self.max_resources != "auto":
            return int(self.max_resources)
        if self._plan.resource == "n_samples":
            return int(self._n_samples_orig)
        if self._plan.default_max is None:
            raise ValueError(
                "resource can only be 'n_samples' when max_resources='auto', unless "
                f"the estimator has an integer value of it: max_resources='auto' needs "
                f"an integer value of {self._plan.param!r} on the estimator to use as the "
                "largest budget; pass max_resources=<int>."
            )
        return self._plan.default_max

    def _smallest(self):
        return smallest_resources(
            self._plan.resource, n_splits=self.n_splits_, n_classes=self._n_classes
        )

    # -- the plan, without fitting ------------------------------------------------------
    def plan_rounds(self, X, y=None, *, groups=None):
        """The rounds ``fit(X, y, groups=groups)`` runs, computed without fitting anything.

        Runs this search's own strategy (``_run_search``) on a clone whose ``evaluate``
        only records each call, so the plan is exactly what ``fit`` will do: the same
        candidates sampled, the same budgets and the same survivors per round (how many,
        not which: that needs the scores).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        rounds : list of dict
            One per round, in order: ``iter``, ``n_candidates``, ``n_resources`` (the
            round's budget), ``continue_training`` (whether each (candidate, split)
            continues from the previous round instead of refitting), ``resource``
            (``"epochs"``, ``"n_samples"`` or the parameter name) and, for Hyperband,
            ``bracket``.
        """
        from sklearn.utils import indexable

        from .._base import _make_cv, _n_splits

        self._validate_params()
        dry = clone(self)
        dry.verbose = 0  # (the plan prints nothing: fit prints the rounds as they run)
        dry._prepare(X, y)
        X, y, groups = indexable(X, y, groups)
        cv = _make_cv(dry.cv, y, is_classifier(dry.estimator))
        dry.n_splits_ = _n_splits(cv, X, y, groups)
        recorder = _RecordRounds(dry._plan)
        dry._run_search(recorder)
        return recorder.rounds

    def _expected_n_fits(self, X, y, groups, n_splits):
        """Every round's candidates times the splits (from :meth:`plan_rounds`)."""
        rounds = self.plan_rounds(X, y, groups=groups)
        return sum(r["n_candidates"] for r in rounds) * n_splits
    # -- one run of successive halving ----------------------------------------------
    def _successive_halving(self, evaluate, candidates, n_resources, n_keep, columns):
        """Evaluate ``candidates`` at ``n_resources[0]``, keep ``n_keep[0]``, and so on.

        Parameters
        ----------
        evaluate : callable
        candidates : list of dict
        n_resources : sequence of int
            Budget of each round.
        n_keep : sequence of int
            Survivors after each round but the last.
        columns : dict
            Extra constant ``cv_results_`` columns of this run (e.g. Hyperband's bracket).

        Returns
        -------
        n_rounds : int
            Rounds run: ``len(n_resources)``, or fewer when the search's ``timeout`` came
            first (no round starts after it; the candidates of the round it cut or ended
            did not reach the last budget and are closed PRUNED).
        """
        plan = self._plan
        store = getattr(evaluate, "store", None)  # (plan_rounds' stand-in has none)
        if store is not None:  # no other live search on the study, whatever its
            # candidates (TrialStore._refuse_other_search); refused by a search of
            # another kind before it takes a row the study holds for its own
            # (TrialStore.check_others; was: joining a running ASHA whose rows held all
            # of its own, it ended "ok" having fitted nothing)
            store.alone = store.check_reads = True
        for itr, budget in enumerate(n_resources):
            n = len(candidates)
            more = {"iter": [itr] * n, "n_resources": [int(budget)] * n}
            more.update({key: [value] * n for key, value in columns.items()})
            if self.verbose:  # (sklearn's halving lines)
                print("-" * 10)
                if "bracket" in columns:
                    print(f"bracket: {columns['bracket']}")
                print(f"iter: {itr}\nn_candidates: {n}\nn_resources: {budget}")
            result = evaluate(
                candidates,
                more_results=more,
                resources=plan.budget(budget),
                continue_training=plan.continues,
            )
            errors = failed_round(evaluate, result)
            if errors is not None:  # (closes the round's trials, as failed)
                self._failed_round(evaluate, candidates, errors, itr, budget, columns,
                                   itr == len(n_resources) - 1)
                evaluate.release()
                return itr + 1
            if itr == len(n_resources) - 1 or time_is_up(evaluate):
                break
            keep = top_k(result.scores, min(n, n_keep[itr]))
            dropped = [c for i, c in enumerate(candidates) if i not in keep]
            evaluate.finish(dropped, "PRUNED")
            evaluate.release(dropped if plan.continues else None)
            candidates = [candidates[i] for i in keep]
        if itr == len(n_resources) - 1:
            cut = _cut_rows(evaluate, result)
        else:  # the timeout stopped the search before the last round
            cut = [True] * len(candidates)
        evaluate.finish([c for c, x in zip(candidates, cut) if not x], "COMPLETE")
        evaluate.finish([c for c, x in zip(candidates, cut) if x], "PRUNED")
        evaluate.release()
        return itr + 1

    def _failed_round(self, evaluate, candidates, errors, itr, budget, columns, last):
        """Every fit of round ``itr`` failed: sklearn's halving raises its ``ValueError``
        ("All the N fits failed. ...") there, as ``evaluate_candidates`` does for every
        round (it continued with arbitrary survivors, fitting failed candidates again,
        and when the last round failed ``best_index_`` was a failed row). The fits stay
        recorded in the study, the round's trials closed FAIL (``error_score=nan``)."""
        evaluate.finish(candidates, "COMPLETE")
        raise ValueError(fit_failure_message(errors, len(errors), None))

    # -- best row --------------------------------------------------------------------
    @staticmethod
    def _final_rows(results):
        """Rows eligible for ``best_index_``: the last round with a result."""
        return last_rows(results, "iter")

    @classmethod
    def _select_best_index(cls, refit, refit_metric, results):
        """The best row among the last round (as sklearn's halving, also called on the
        class: ``cls._select_best_index(None, None, results)``), or ``refit(results)``
        checked as sklearn checks it (an integer row index, else its TypeError or
        IndexError)."""
        return select_best_index(refit, refit_metric, results, cls._final_rows)


@fill_doc(halving_attributes=_HALVING_ATTRIBUTES)
class HalvingSearchCV(_BaseHalving):
    """Successive halving over random (or grid) candidates, continuing training per rung.

    Round :math:`i` scores its :math:`n_i` candidates on every split with :math:`r_i`
    resources and keeps the best :math:`\\lceil n_i / \\eta \\rceil`; then
    :math:`r_{i+1} = \\eta\\, r_i` (``LECTURE.md`` §7, Jamieson & Talwalkar, 2016; the
    schedule of scikit-learn's ``HalvingRandomSearchCV``, see
    :func:`~hpsearch.model_selection.strategies._halving_schedule.halving_schedule`).

    With ``resource="epochs"`` each (candidate, split) continues from its saved training
    state when the estimator can (``warm_start`` or ``partial_fit``; for a Pipeline, its
    last step): the rounds cost :math:`r_{\\text{last}}` epochs per surviving
    (candidate, split) instead of :math:`\\sum_i r_i`, and with hpsearch's MLP the result
    is bit-identical to training straight to the final budget. ``resource="n_samples"``
    subsamples each training fold (test folds stay whole); any other integer parameter
    (``n_estimators``) is set and the estimator refitted at each round.

    Parameters
    ----------
    estimator : estimator object
    param_distributions : dict or list of dicts
        ``hpsearch.space`` dimensions, lists or scipy.stats distributions (also a grid:
        see ``n_candidates="grid"``).
    n_candidates : "exhaust", "grid" or int, default="exhaust"
        Candidates of the first round: ``"exhaust"`` samples ``max_resources //
        min_resources`` of them (so the last round uses as many resources as possible),
        an int samples that many, ``"grid"`` takes every combination of a discrete space
        (as ``HalvingGridSearchCV``).
    resource : str, default="epochs"
        ``"epochs"`` (the estimator's ``max_iter``), ``"n_samples"`` or the name of an
        integer parameter.
    min_resources : "smallest", "exhaust" or int, default="smallest"
        Budget of the first round. ``"smallest"``: 1 epoch (or unit of the parameter), or
        for ``n_samples`` ``2 * n_splits * n_classes`` rows; ``"exhaust"``: the largest
        start whose last required round fits in ``max_resources``.
    max_resources : "auto" or int, default="auto"
        Largest budget: ``"auto"`` is the estimator's own value of the parameter
        (``max_iter`` for epochs) or, for ``n_samples``, the number of samples.
    factor : float, default=3
        :math:`\\eta`, greater than 1.
    aggressive_elimination : bool, default=False
        Repeat the first budget until few enough candidates remain (as sklearn).
        When training continues, a budget the schedule repeats (aggressive elimination,
        or a small ``factor``: :math:`\\lfloor 1.5 \\rfloor = 1`) is one round that
        keeps the candidates of the next budget's round (the same survivors, without
        scoring them again).
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, random_state, error_score, \
return_train_score, progress, storage, study_name, resume, backend, fit_timeout, \
max_retries, timeout
        The common search parameters (see ``BaseSearchCV``). ``random_state`` seeds the
        sampling of candidates and every fit.
        With several metrics (``scoring`` a list or dict), the rounds keep the
        candidates best in the ``refit`` metric; with ``refit=False`` or a callable, in
        the first metric of ``scoring`` (a callable ``refit`` only picks
        ``best_index_`` among the rows afterwards).

    Attributes
    ----------
    {halving_attributes}
    {search_attributes}
    {diagnosis_attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from hpsearch import HalvingSearchCV, MLPClassifier
    >>> from hpsearch.space import Float
    >>> X, y = load_iris(return_X_y=True)
    >>> search = HalvingSearchCV(
    ...     MLPClassifier((8,), max_iter=9, random_state=0),
    ...     {"learning_rate_init": Float(1e-3, 1e-1, log=True)},
    ...     n_candidates=9, cv=3, random_state=0,
    ... ).fit(X, y)
    >>> search.n_resources_, search.n_candidates_
    ([1, 3, 9], [9, 3, 1])
    """

    _parameter_constraints: dict = {
        **_BaseHalving._parameter_constraints,
        "n_candidates": [
            Int(1, None, closed="left"),
            StrOptions({"exhaust", "grid"}),
        ],
        "min_resources": [
            Int(1, None, closed="left"),
            StrOptions({"smallest", "exhaust"}),
        ],
        "aggressive_elimination": ["boolean"],
    }

    _left_out_params = ("n_candidates", "min_resources", "max_resources", "factor")

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_candidates="exhaust",
        resource="epochs",
        min_resources="smallest",
        max_resources="auto",
        factor=3,
        aggressive_elimination=False,
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
        self.n_candidates = n_candidates
        self.resource = resource
        self.min_resources = min_resources
        self.max_resources = max_resources
        self.factor = factor
        self.aggressive_elimination = aggressive_elimination

    def _candidates(self, max_resources, random_state=None):
        from ..space import (
            as_space,
            check_param_distributions,
            check_param_grid,
            grid_candidates,
            sample_candidates,
        )

        if self.n_candidates == "grid":
            check_param_grid(self.param_distributions)
            return grid_candidates(as_space(self.param_distributions))
        check_param_distributions(self.param_distributions)
        space = as_space(self.param_distributions)
        first = self._smallest() if self.min_resources in ("smallest", "exhaust") else (
            self.min_resources
        )
        n = resolve_n_candidates(
            self.n_candidates,
            min_resources="exhaust" if self.min_resources == "exhaust" else first,
            max_resources=max_resources,
        )
        return sample_candidates(space, n, random_state)

    def _run_search(self, evaluate):
        self.max_resources_ = self._resolve_max_resources()
        candidates = self._candidates(self.max_resources_,
                                      self._drawing_random_state(evaluate))
        self._plan.check_not_searched(candidates)
        self.min_resources_ = resolve_min_resources(
            self.min_resources,
            smallest=self._smallest(),
            n_candidates=len(candidates),
            max_resources=self.max_resources_,
            factor=self.factor,
        )
        schedule = halving_schedule(
            len(candidates),
            min_resources=self.min_resources_,
            max_resources=self.max_resources_,
            factor=self.factor,
            aggressive_elimination=self.aggressive_elimination,
            # training that continues cannot go to the same budget again; a refit can
            # (scikit-learn's schedule, kept there)
            distinct_budgets=self._plan.continues,
        )
        self.n_candidates_ = list(schedule.n_candidates)
        self.n_resources_ = list(schedule.n_resources)
        self.n_iterations_ = schedule.n_iterations
        self.n_possible_iterations_ = schedule.n_possible_iterations
        self.n_required_iterations_ = schedule.n_required_iterations
        if self.verbose:  # (sklearn's halving lines)
            print(f"n_iterations: {self.n_iterations_}\n"
                  f"n_required_iterations: {self.n_required_iterations_}\n"
                  f"n_possible_iterations: {self.n_possible_iterations_}\n"
                  f"min_resources_: {self.min_resources_}\n"
                  f"max_resources_: {self.max_resources_}\n"
                  f"aggressive_elimination: {self.aggressive_elimination}\n"
                  f"factor: {self.factor}")
        n_keep = schedule.n_candidates[1:]
        n_rounds = self._successive_halving(evaluate, candidates, schedule.n_resources,
                                            n_keep, {})
        # the rounds that ran (fewer when the timeout came first), as sklearn's
        # ``n_iterations_`` is "the actual number of iterations that were run"
        self.n_candidates_ = self.n_candidates_[:n_rounds]
        self.n_resources_ = self.n_resources_[:n_rounds]
        self.n_iterations_ = n_rounds
        self.n_remaining_candidates_ = ceil(self.n_candidates_[-1] / self.factor)


@fill_doc
class HyperbandSearchCV(_BaseHalving):
    """Hyperband: brackets of successive halving trading candidates against budget.

    With :math:`R` = ``max_resources``, :math:`r` = ``min_resources`` and :math:`\\eta` =
    ``factor``, bracket :math:`s = s_{\\max}, \\dots, 0` samples
    :math:`n_s = \\lceil \\frac{s_{\\max}+1}{s+1} \\eta^s \\rceil` fresh candidates, starts
    them at :math:`R \\eta^{-s}` and runs successive halving up to :math:`R`, keeping
    :math:`\\lfloor n_i / \\eta \\rfloor` per round (Li et al., 2018, Algorithm 1;
    ``LECTURE.md`` §7; see
    :func:`~hpsearch.model_selection.strategies._halving_schedule.hyperband_brackets`). Training
    continues from the saved state between rounds exactly as in :class:`HalvingSearchCV`.

    Parameters
    ----------
    estimator : estimator object
    param_distributions : dict or list of dicts
    resource : str, default="epochs"
        As in :class:`HalvingSearchCV`.
    min_resources : "smallest" or int, default="smallest"
        :math:`r`.
    max_resources : "auto" or int, default="auto"
        :math:`R`.
    factor : float, default=3
        :math:`\\eta`, greater than 1.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, random_state, error_score, \
return_train_score, progress, storage, study_name, resume, backend, fit_timeout, \
max_retries, timeout
        The common search parameters (see ``BaseSearchCV``).
        With several metrics (``scoring`` a list or dict), the rounds keep the
        candidates best in the ``refit`` metric; with ``refit=False`` or a callable, in
        the first metric of ``scoring`` (a callable ``refit`` only picks
        ``best_index_`` among the rows afterwards).

    Attributes
    ----------
    cv_results_ : dict
        sklearn's layout with one row per (candidate, round), plus ``bracket``,
        ``iter``, ``n_resources``, ``resources`` and ``error``; rows trained with
        ``max_resources_`` are ranked first.
    best_index_ : int
        Index in ``cv_results_`` of the best row among those trained with
        ``max_resources_`` (with the largest budget reached when the ``timeout`` came
        first: a ``"not run"`` row does not count; with the largest budget with a score,
        and a ``FitFailedWarning``, when every row there failed), or the index a
        callable ``refit`` returns; the refit takes that row's budget parameter (see ``best_estimator_``).
        With several metrics, only set when ``refit`` is not False.
    brackets_ : list of dict
        ``s``, ``n_candidates`` and ``n_resources`` of each bracket run.
    n_candidates_ : list of int
        Candidates of every round of every bracket run, in order (after the
        ``timeout``, no round or bracket starts).
    n_resources_ : list of int
        Budget of the same rounds.
    n_iterations_ : int
        Rounds run in all (``len(n_resources_)``).
    min_resources_ : int
        :math:`r` (``min_resources`` resolved: ``"smallest"``).
    max_resources_ : int
        :math:`R` (``max_resources`` resolved: ``"auto"``).
    study_ : optuna.Study
        One trial per candidate (every bracket samples fresh ones), rung scores as
        intermediate values, eliminated ones PRUNED.
    {search_attributes}
    {diagnosis_attributes}
    """

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        resource="epochs",
        min_resources="smallest",
        max_resources="auto",
        factor=3,
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
        self.resource = resource
        self.min_resources = min_resources
        self.max_resources = max_resources
        self.factor = factor

    @staticmethod
    def _final_rows(results, metric="score"):
        """Rows eligible for ``best_index_``: the largest budget with a score in
        ``metric`` (:func:`last_scored_rows`: a budget where every row failed gives way;
        its best row was a failed one, ranked 1)."""
        return last_scored_rows(results, "n_resources", metric)

    @classmethod
    def _select_best_index(cls, refit, refit_metric, results):
        """The best row of :meth:`_final_rows` in ``refit_metric``, or ``refit(results)``
        checked as sklearn checks it."""
        return select_best_index(
            refit, refit_metric, results,
            lambda res: cls._final_rows(res, refit_metric or "score"),
        )

    def _complete_results(self, results):
        """The rows eligible for ``best_index_`` ranked first, with a warning when they
        are not of the largest budget reached (every row there failed)."""
        _as_drawn_types(self, results)
        names = [k[len("mean_test_"):] for k in results if k.startswith("mean_test_")]
        rows = self._final_rows(results, self._refit_metric_name(names))
        rank_rows_first(results, rows)
        warn_budget_fallback(results, rows, "n_resources", type(self).__name__)

    def _failed_round(self, evaluate, candidates, errors, itr, budget, columns, last):
        """Every fit of round ``itr`` of a bracket failed: the bracket stops there, its
        trials closed with their last score (FAIL with ``error_score=nan``), with a
        warning; later rounds would only continue failed candidates, chosen arbitrarily
        among tied NaN scores (they did). The other brackets run: sklearn has no
        Hyperband, and one bracket's failure is no misconfiguration of the search."""
        evaluate.finish(candidates, "COMPLETE")
        if last:
            return
        bracket = ", ".join(f"{key}={value}" for key, value in columns.items())
        warnings.warn(
            f"Every fit of round {itr} (n_resources={budget}) of HyperbandSearchCV's "
            f"bracket {bracket} failed ({len(errors)} fits): the bracket stops there "
            "(tracebacks in cv_results_['error']).",
            FitFailedWarning,
        )

    def _run_search(self, evaluate):
        from ..space import as_space, sample_candidates

        space = as_space(self.param_distributions)
        self.max_resources_ = self._resolve_max_resources()
        self.min_resources_ = (
            self._smallest() if self.min_resources == "smallest" else int(self.min_resources)
        )
        if self.min_resources_ > self.max_resources_:
            raise ValueError(
                f"min_resources_={self.min_resources_} is greater than "
                f"max_resources_={self.max_resources_}."
            )
        rng = check_random_state(self._drawing_random_state(evaluate))
        self.brackets_, self.n_candidates_, self.n_resources_ = [], [], []
        for bracket in hyperband_brackets(self.max_resources_, self.min_resources_, self.factor):
            if self.brackets_ and time_is_up(evaluate):
                break  # no bracket starts after the search's timeout
            candidates = sample_candidates(space, bracket.n_candidates[0], rng)
            self._plan.check_not_searched(candidates)
            n_rounds = [len(candidates)]
            for n in bracket.n_candidates[1:]:
                n_rounds.append(min(n, n_rounds[-1]))
            ran = self._successive_halving(
                evaluate, candidates, bracket.n_resources, n_rounds[1:], {"bracket": bracket.s}
            )
            # the rounds that ran (fewer when the timeout came first)
            self.brackets_.append(
                {"s": bracket.s, "n_candidates": n_rounds[:ran],
                 "n_resources": list(bracket.n_resources)[:ran]}
            )
            self.n_candidates_.extend(n_rounds[:ran])
            self.n_resources_.extend(list(bracket.n_resources)[:ran])
        self.n_iterations_ = len(self.n_resources_)


@fill_doc(halving_attributes=_HALVING_ATTRIBUTES)
class HalvingGridSearchCV(HalvingSearchCV):
    """scikit-learn's ``HalvingGridSearchCV``: :class:`HalvingSearchCV` over every
    candidate of a grid, with sklearn's signature and defaults.

    ``resource="n_samples"``, ``min_resources="exhaust"``, ``cv=5`` and
    ``return_train_score=True`` as in sklearn; ``resource="epochs"`` continues training
    as :class:`HalvingSearchCV` does. Same attributes as :class:`HalvingSearchCV`.

    Parameters
    ----------
    estimator : estimator object
    param_grid : dict or list of dicts
        As :class:`~hpsearch.model_selection.strategies.grid.GridSearchCV`'s.
    factor, resource, max_resources, min_resources, aggressive_elimination, cv, scoring, \
refit, error_score, return_train_score, random_state, n_jobs, verbose
        As in sklearn (see :class:`HalvingSearchCV` for ``resource``).
    pre_dispatch, progress, storage, study_name, resume, backend, fit_timeout, \
max_retries, timeout
        hpsearch's common search parameters (see ``BaseSearchCV``).

    Attributes
    ----------
    {halving_attributes}
    {search_attributes}
    {diagnosis_attributes}
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in HalvingSearchCV._parameter_constraints.items()
           if k not in ("param_distributions", "n_candidates")},
        "param_grid": [dict, list],
    }
    #: every candidate of the grid
    n_candidates = "grid"

    _left_out_params = ("min_resources", "max_resources", "factor")

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        factor=3,
        resource="n_samples",
        max_resources="auto",
        min_resources="exhaust",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=True,
        random_state=None,
        n_jobs=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
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
        self.param_grid = param_grid
        self.factor = factor
        self.resource = resource
        self.max_resources = max_resources
        self.min_resources = min_resources
        self.aggressive_elimination = aggressive_elimination
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.progress = progress
        self.storage = storage
        self.study_name = study_name
        self.resume = resume
        self.backend = backend
        self.fit_timeout = fit_timeout
        self.max_retries = max_retries
        self.timeout = timeout

    @property
    def param_distributions(self):
        """The grid (what :class:`HalvingSearchCV` searches)."""
        return self.param_grid


@fill_doc(halving_attributes=_HALVING_ATTRIBUTES)
class HalvingRandomSearchCV(HalvingSearchCV):
    """scikit-learn's ``HalvingRandomSearchCV``: :class:`HalvingSearchCV` with sklearn's
    signature and defaults (``resource="n_samples"``, ``cv=5``,
    ``return_train_score=True``).

    Parameters
    ----------
    estimator : estimator object
    param_distributions : dict or list of dicts
    n_candidates, factor, resource, max_resources, min_resources, \
aggressive_elimination, cv, scoring, refit, error_score, return_train_score, \
random_state, n_jobs, verbose
        As in sklearn (see :class:`HalvingSearchCV`).
    pre_dispatch, progress, storage, study_name, resume, backend, fit_timeout, \
max_retries, timeout
        hpsearch's common search parameters (see ``BaseSearchCV``).

    Attributes
    ----------
    {halving_attributes}
    {search_attributes}
    {diagnosis_attributes}
    """

    _seed_without_drawing = True  # (a RandomState draws sklearn's candidates)

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_candidates="exhaust",
        factor=3,
        resource="n_samples",
        max_resources="auto",
        min_resources="smallest",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=True,
        random_state=None,
        n_jobs=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        progress=None,
        storage=None,
        study_name=None,
        resume=False,
        backend=None,
        fit_timeout=None,
        max_retries=1,
        timeout=None,
    ):
        super().__init__(
            estimator,
            param_distributions,
            n_candidates=n_candidates,
            resource=resource,
            min_resources=min_resources,
            max_resources=max_resources,
            factor=factor,
            aggressive_elimination=aggressive_elimination,
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
