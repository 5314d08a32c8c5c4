"""Nested cross-validation: an unbiased estimate of a whole search procedure.

The best mean score of a search is optimistic: it is the *maximum* over candidates of
noisy estimates, and the same splits chose the candidate and scored it. Nested
cross-validation (Varma & Simon 2006; Cawley & Talbot 2010) scores the *procedure*
instead: for each outer split :math:`(T_k, V_k)`, :math:`k = 1..K`,

1. a fresh clone of the search runs on :math:`T_k` only (its own ``cv`` is the inner
   cross-validation) and refits its best candidate on all of :math:`T_k`;
2. that refit model is scored on :math:`V_k`, never seen by the search:
   :math:`s_k = \\text{score}(\\hat f_{T_k}, V_k)`.

The estimate is :math:`\\bar s = \\frac1K \\sum_k s_k` (spread
:math:`\\sqrt{\\frac1K \\sum_k (s_k - \\bar s)^2}`, as sklearn's ``std_test_score``). The
*optimism* of split :math:`k` is :math:`b_k - s_k`, with :math:`b_k` the inner best mean
score (``best_score_``) of the search on :math:`T_k`; its mean shows how much the search's
own best score overstates what the chosen model does on new data. The parameters chosen
per split show how stable the choice is.

One engine for all outer x inner fits
-------------------------------------
Where the search would run its fits on hpsearch's fork workers (the default on Linux with
``n_jobs > 1``), all :math:`K` inner searches run *at once*, each ``fit`` in a thread of
this process, and every fit of every outer split goes through **one** pool of ``n_jobs``
fork workers (:class:`_OnePool`): the workers are forked before any thread starts, a
dispatcher in the calling thread hands a queued fit of any outer split to whichever
worker is free (``Engine.run`` with a lazy source, woken at once when a search queues a
fit) and routes each result back to the search that asked for it, which waits on it as
on its own pool. The refit of each split's best candidate on :math:`T_k` is one more fit
of the pool (queued first: the longest fits start early); the outer score is computed in
that split's thread. So no worker idles while any outer split has a fit to run: one
split's barriers (the end of a grid, of a halving rung, its refit) are filled with the
other splits' fits. One progress bar counts every fit (inner fits plus the :math:`K`
refits, its total ending at the fits run), and one storage holds the trial stores: the
inner search of split :math:`k` is the study ``<study_name>-outer<k>`` of the search's
``storage`` (without a ``storage``, the studies of one in-memory storage). One study per
outer split, not one study for all: a trial's keys (candidate, budget, inner splitter)
are those of its search, and the :math:`K` searches try the same candidates on different
rows, so one study would mix their fits; per split, ``resume=True`` continues exactly
that split's search, the fits already recorded are not fitted again (the refits, never
stored, are). Results equal those of the outer splits run one after the other (the fits
are seeded per task), and for strategies whose decisions depend on the worker count
(ASHA, Bayesian batches) each inner search sees the pool's ``n_jobs``. Ctrl-C or SIGTERM
stops everything at a safe point (every fit that reached the dispatcher is recorded by its
search, the stores close as interrupted, the workers are stopped), a dead worker is
replaced (its fit retried, as in a search's own pool), and an error in one inner search
stops the others (their finished fits stay recorded) and is raised. Either way, the
exception that ends the run carries one note on how to continue it (in place of the
inner searches' own notes, which name one inner study): with a ``storage`` and a
``study_name``, how many inner fits are recorded and that ``nested_cross_validate`` with
``resume=True`` and the same ``cv``, ``random_state`` and data fits only the missing
ones; without, that nothing is kept. An inner search's error also names its outer
split. Threads, because a
search's strategy is plain blocking code (``evaluate`` returns when its fits are in); the
threads only decide and record, the fits run in the workers. Costs: the :math:`K`
outer-train parts of ``X`` are in memory at once (one at a time sequentially; measured
with 5 outer splits of a 76 MB ``X``: 321 MB more peak memory in the calling process,
against 208 MB sequentially), and each refit model comes back from its worker pickled.
Where that does not fit, run the outer splits one after the other (``n_jobs=1``, or a
joblib ``backend``).

Elsewhere (``n_jobs=1``, joblib backends: ``backend="loky"``, Dask, threading; a search
``timeout``; sklearn callbacks; a search that is not hpsearch's) the outer splits run one
after the other, each inner search with its own engine, progress bar and study, the same
names in the same storage. That is :func:`sklearn.model_selection.cross_validate` with
``return_estimator=True`` and ``n_jobs=1`` (the tests check it gives the same numbers),
plus the inner best scores and chosen parameters and a trial store per inner search.
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers
import os
import queue
import signal
import sys
import threading
import time
import zlib
from collections import deque
from multiprocessing.connection import wait

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils import Bunch, _safe_indexing, indexable
from sklearn.utils.validation import _num_samples

from ._engine import Engine, Task, _take_x, pull_while
from .split import make_cv

__all__ = ["nested_cross_validate", "outer_study_name"]


def outer_study_name(study_name, k):
    """Study name of the inner search of outer split ``k`` (0-based): ``<name>-outer<k>``."""
    return f"{study_name}-outer{k}"


def _outer_cv(cv, y, classifier, random_state):
    """The outer splitter; an int/None spec is shuffled with ``random_state`` when given."""
    if (cv is None or isinstance(cv, numbers.Integral)) and random_state is not None:
        return make_cv(cv, y=y, classifier=classifier, shuffle=True, random_state=random_state)
    return make_cv(cv, y=y, classifier=classifier)


def _one_storage(search):
    """The storage every inner search records in: the search's own, or (None) one
    in-memory Optuna storage for all outer splits."""
    import optuna

    storage = search.get_params().get("storage", False)
    if storage is None and "study_name" in search.get_params():
        return optuna.storages.InMemoryStorage()
    return storage


def _inner_search(search, k, n_jobs, storage=False):
    inner = clone(search)
    params = {}
    if n_jobs is not None:
        params["n_jobs"] = n_jobs
    if storage is not False:
        params["storage"] = storage
    store = inner.get_params().get("storage") if storage is False else storage
    name = inner.get_params().get("study_name")
    if store is not None and name is not None:
        params["study_name"] = outer_study_name(name, k)
    return inner.set_params(**params)


def _inner_best(search):
    """The inner best mean score (``best_score_``; with a callable ``refit``, the mean
    score of the chosen candidate when there is one metric), or nan."""
    if hasattr(search, "best_score_"):
        return float(search.best_score_)
    results = getattr(search, "cv_results_", {})
    if hasattr(search, "best_index_") and "mean_test_score" in results:
        return float(results["mean_test_score"][search.best_index_])
    return float("nan")


def _check_params(cv, n_jobs, return_searches, random_state=None):
    if isinstance(cv, bool):
        raise ValueError(f"The 'cv' parameter of nested_cross_validate must be an int >= 2, "
                         f"a splitter or an iterable of splits. Got {cv!r} instead.")
    if n_jobs is not None and (not isinstance(n_jobs, numbers.Integral) or n_jobs == 0
                               or n_jobs < -1):
        raise ValueError("The 'n_jobs' parameter of nested_cross_validate must be None, -1 or "
                         f"a positive int. Got {n_jobs!r} instead.")
    if not isinstance(return_searches, (bool, np.bool_)):
        raise ValueError("The 'return_searches' parameter of nested_cross_validate must be a "
                         f"bool. Got {return_searches!r} instead.")
    _check_random_state(random_state)


def _check_random_state(random_state):
    """``random_state`` is None, an int in [0, 2**32 - 1] or a ``RandomState``: a bool
    (``True`` silently seeded 1), a float or a string raised numpy's error without
    naming the parameter."""
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return
    if (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
            and 0 <= random_state < 2**32):
        return
    raise ValueError("The 'random_state' parameter of nested_cross_validate must be None, "
                     "an int in [0, 2**32 - 1] or a numpy RandomState. Got "
                     f"{random_state!r} instead.")


def _check_search(search):
    """``search`` is a search (its ``cv`` and ``refit`` parameters, as sklearn's
    ``BaseSearchCV``): anything else (a ``Pipeline`` ending in a search, a plain
    estimator) was fitted on every outer split, then failed on ``best_params_``."""
    params = search.get_params(deep=False) if hasattr(search, "get_params") else {}
    if "cv" not in params or "refit" not in params:
        raise ValueError(
            "The 'search' parameter of nested_cross_validate must be a search estimator "
            "(GridSearchCV, OptunaSearchCV, ... or any sklearn BaseSearchCV, with 'cv' and "
            "'refit' parameters); to search a pipeline, give the search the pipeline as "
            "its estimator (GridSearchCV(make_pipeline(...), {'<step>__<param>': ...})). "
            f"Got {type(search).__name__} instead.")


def _check_inner_cv(search):
    """The inner ``cv`` must split whatever rows it is given: fixed indices (an iterable
    of ``(train, test)`` pairs, ``PredefinedSplit``) would index each outer-train part as
    if it were ``X``, a silently wrong inner cross-validation."""
    from sklearn.model_selection import PredefinedSplit

    inner = search.get_params().get("cv")
    fixed = isinstance(inner, PredefinedSplit) or not (
        inner is None or isinstance(inner, (numbers.Integral, str, dict))
        or hasattr(inner, "split"))
    if fixed:
        raise ValueError(
            "The 'cv' parameter of the search given to nested_cross_validate must be an "
            "int, a name, a mapping or a splitter (it splits each outer-train part, whose "
            "rows are renumbered from 0); fixed train/test indices would select the wrong "
            f"rows. Got {inner!r} instead.")


def _check_refit(search, scoring):
    """The search refits a model the outer splits can score (checked before any fit: a
    search's ``score`` with several metrics and a callable ``refit`` has no metric to use,
    sklearn's raises a bare ``KeyError`` only after the whole search)."""
    params = search.get_params()
    refit = params.get("refit", True)
    if not refit:
        raise ValueError("nested_cross_validate needs a search with refit enabled (the "
                         "refit best model is what the outer split scores); got refit=False.")
    if (scoring is None and callable(refit)
            and isinstance(params.get("scoring"), (dict, list, tuple, set))):
        raise ValueError(
            "The 'scoring' parameter of nested_cross_validate must be given when the "
            "search has several metrics and a callable refit (its score has no metric to "
            f"use). Got scoring=None with the search's scoring={params.get('scoring')!r} "
            f"and refit={refit!r} instead.")


def nested_cross_validate(search, X, y=None, *, cv=5, groups=None, scoring=None, n_jobs=None,
                          random_state=None, return_searches=False, params=None):
    """Estimate the generalization score of a whole search procedure by nested CV.

    For each outer split, a clone of ``search`` is fitted on the outer-train rows (the
    search's own ``cv`` is the inner cross-validation; it refits its best candidate on
    those rows) and its refit model is scored on the outer-test rows. See the module
    docstring for the formulas.

    Where the search runs on hpsearch's fork workers (Linux, ``n_jobs > 1``, no joblib
    backend chosen), the inner searches of all outer splits run at once through one pool
    of ``n_jobs`` workers, with one progress bar and one storage (see the module
    docstring); elsewhere the outer splits run one after the other. The results are the
    same.

    Parameters
    ----------
    search : search estimator
        An unfitted search (``GridSearchCV``, ``OptunaSearchCV``, ... or any sklearn
        ``BaseSearchCV``) with ``refit`` enabled. It is cloned, never fitted itself.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), default=None
    cv : int, str, dict, splitter or iterable, default=5
        The outer splitter, any spec of :func:`hpsearch.model_selection.make_cv`
        (an int: ``StratifiedKFold`` for a classifier, else ``KFold``).
    groups : array-like of shape (n_samples,), default=None
        Group labels for the outer splitter, and (their outer-train part) for the inner
        search's splitter (with metadata routing, only when the search requests them;
        a ``"groups"`` entry of ``params`` takes their place for the inner search).
    scoring : str, callable, list, dict or None, default=None
        Outer score(s), as ``cross_validate``'s ``scoring``. None: the search's own
        ``score`` (its refit metric), the only setting where ``optimism`` is given.
    n_jobs : int or None, default=None
        Workers of the one pool shared by every outer split's inner search (of each inner
        search, when the outer splits run one after the other); None keeps the search's
        own ``n_jobs``.
    random_state : int, RandomState instance or None, default=None
        Shuffles the outer folds when ``cv`` is an int or None (else the splitter's own
        ``random_state`` rules). The inner searches keep the search's ``random_state``:
        the same seed gives the same result.
    return_searches : bool, default=False
        Also return the fitted inner searches (``searches``).
    params : dict or None, default=None
        Metadata (``sample_weight``, ``groups``, ...), routed as
        :func:`sklearn.model_selection.cross_validate` routes its ``params``. Without
        metadata routing, all of them go to each inner search's ``fit`` (their outer-train
        rows; the search splits them again, weighting its inner scores as sklearn's
        searches do) and none to the outer scoring, which is unweighted, as sklearn's;
        a ``"groups"`` entry goes to the inner search in place of ``groups``. With
        ``sklearn.set_config(enable_metadata_routing=True)``, each goes where it is
        requested: the outer splitter's ``split``, the search's ``fit`` (its estimator,
        scorer, splitter) and the outer scorer (the outer-test rows; with
        ``scoring=None``, as the search's ``score`` routes them). Every array-like value
        must have one entry per sample of ``X``; other values are given whole to every
        fit. The results equal ``cross_validate(search, X, y, params=...)``'s, on either
        engine.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``test_score`` (or ``test_<name>`` per metric), array of shape (n_outer,): outer
        scores; ``mean_test_score`` / ``std_test_score`` (or ``..._<name>``): their mean
        and standard deviation; ``inner_best_score``: the inner best mean score per
        split; ``optimism`` (scoring None only): ``inner_best_score - test_score`` per
        split, and ``mean_optimism``; ``best_params``: list of the parameters chosen per
        split; ``fit_time`` / ``score_time``: seconds per split (its search with refit,
        from start to end: with one pool the splits overlap, so these do not add up to
        the run's time; and the outer scoring); ``n_train`` / ``n_test``: rows per split;
        ``engine``: ``"one pool"`` (all outer splits through one pool of ``n_workers``
        workers) or ``"sequential"``; ``n_workers``; ``searches`` when
        ``return_searches``.

    Raises
    ------
    ValueError
        A bad parameter, a ``search`` that is not a search (a ``Pipeline`` ending in
        one: search the pipeline instead), a search without ``refit`` (nothing to
        score on the outer test), a search whose ``cv`` is fixed indices (an iterable of splits,
        ``PredefinedSplit``: they would index each outer-train part as if it were ``X``),
        several inner metrics with a callable ``refit`` and ``scoring=None``, a
        ``resume=True`` whose outer splits have other rows than the run it continues
        (another ``cv``, ``random_state`` or data: its recorded inner fits are of other
        rows).
        An array in ``params`` without one value per sample (named), ``params`` not a
        dict, or, with metadata routing, ``groups`` given both as ``groups`` and in
        ``params``.
    TypeError
        With metadata routing, a ``params`` entry that nothing requests (sklearn's
        error, as ``cross_validate``'s).
    sklearn.exceptions.UnsetMetadataPassedError
        With metadata routing, a ``params`` entry whose request is unset on an object
        of the search (sklearn's error, raised by the first inner search's ``fit``,
        before any fit).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from hpsearch.model_selection import GridSearchCV, nested_cross_validate
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 1.0]}, cv=3)
    >>> result = nested_cross_validate(search, X, y, cv=3)
    >>> result.test_score.shape, len(result.best_params)
    ((3,), 3)
    """
    from sklearn.metrics import check_scoring

    _check_params(cv, n_jobs, return_searches, random_state)
    _check_search(search)
    _check_refit(search, scoring)
    _check_inner_cv(search)
    X, y, groups = indexable(X, y, groups)
    params = _check_fit_params(params, groups, _num_samples(X))
    outer = _outer_cv(cv, y, is_classifier(search), random_state)
    scorer = check_scoring(search, scoring=scoring)
    routed = _route_params(outer, search, scorer, params)
    split_kw = dict(routed.splitter.split)
    if groups is not None:
        split_kw.setdefault("groups", groups)
    splits = [(np.asarray(train), np.asarray(test))
              for train, test in outer.split(X, y, **split_kw)]
    storage = _one_storage(search)
    searches = [_inner_search(search, k, n_jobs, storage) for k in range(len(splits))]
    jobs = [_OuterJob(k, inner, train, test) for k, (inner, (train, test))
            in enumerate(zip(searches, splits))]
    for job in jobs:  # before any fit: a resume continues on the same outer splits
        _check_outer_rows(job.search, job.k, _rows_text(job.train, _num_samples(X)))
    fit_kw = _inner_fit_params(searches[0], groups, routed) if searches else {}
    score_kw = dict(routed.scorer.score)
    engine = _one_pool_engine(searches[0], X, y, fit_kw) if searches else None
    try:
        if engine is None:
            rows = [job.run(X, y, fit_kw, scorer, score_kw) for job in jobs]
            kind, n_workers = "sequential", None
        else:
            rows = _OnePool(engine, jobs).run(X, y, fit_kw, scorer, score_kw,
                                              searches[0]._show_progress())
            kind, n_workers = "one pool", engine.n_workers
    except BaseException as exc:  # Ctrl-C, SIGTERM, an inner search's error
        _note_how_to_continue(exc, search, searches)
        raise
    result = _collect(rows, searches if return_searches else None, optimism=scoring is None)
    result.engine, result.n_workers = kind, n_workers
    return result


def _sequential(search, X, y=None, **kwargs):
    """:func:`nested_cross_validate` with the outer splits one after the other (each
    inner search with its own engine), whatever the engine: for comparisons."""
    global _ONE_POOL
    previous, _ONE_POOL = _ONE_POOL, False
    try:
        return nested_cross_validate(search, X, y, **kwargs)
    finally:
        _ONE_POOL = previous


#: whether nested CV may run every outer split through one pool (see :func:`_sequential`)
_ONE_POOL = True


def _routes_groups(search):
    """Whether the inner search takes the outer-train ``groups``: always without metadata
    routing; with it (``sklearn.set_config(enable_metadata_routing=True)``) only when
    its splitter (or estimator, scorer) requests them, as ``cross_validate`` routes
    ``params={"groups": ...}``: a search on ``cv=KFold`` raised "GridSearchCV.fit got
    unexpected argument(s) {'groups'}" when the outer splitter alone was a group one."""
    from sklearn import get_config

    if not get_config().get("enable_metadata_routing", False):
        return True
    from sklearn.utils.metadata_routing import get_routing_for_object

    return bool(get_routing_for_object(search).consumes("fit", ["groups"]))


def _check_fit_params(params, groups, n_samples):
    """``params`` as a dict: every array-like value one entry per sample of ``X`` (each
    is split with the outer folds; sklearn's ``cross_validate`` passes an array of
    another length whole to every inner search, whose fits then all fail), and, with
    metadata routing, no ``groups`` both there and as ``groups=``."""
    import scipy.sparse as sp
    from sklearn import get_config
    from sklearn.utils.validation import _is_arraylike_not_scalar

    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValueError("The 'params' parameter of nested_cross_validate must be a dict "
                         f"or None. Got {params!r} instead.")
    for name, value in params.items():
        if not (_is_arraylike_not_scalar(value) or sp.issparse(value)):
            continue
        length = _num_samples(value)
        if length != n_samples:
            raise ValueError(
                f"The {name!r} entry of nested_cross_validate's 'params' must have one "
                f"value per sample of X (n_samples={n_samples}): it is split with the "
                f"outer folds. Got {length} values instead.")
    if (groups is not None and "groups" in params
            and get_config().get("enable_metadata_routing", False)):
        raise ValueError("nested_cross_validate got groups both as 'groups' and in "
                         "'params': with metadata routing, give them in params only "
                         "(routed as requested, as cross_validate's).")
    return dict(params)


def _route_params(outer, search, scorer, params):
    """sklearn's ``cross_validate`` routing of ``params``: with metadata routing enabled,
    to the outer splitter's ``split``, the search's ``fit`` and the outer scorer as
    each requests them (``process_routing``; unrequested ones raise sklearn's errors);
    without it, all to the search's ``fit``, none to the outer scorer."""
    from sklearn import get_config

    if not params or not get_config().get("enable_metadata_routing", False):
        return Bunch(splitter=Bunch(split={}), estimator=Bunch(fit=dict(params)),
                     scorer=Bunch(score={}))
    from sklearn.exceptions import UnsetMetadataPassedError
    from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing

    router = (MetadataRouter(owner="nested_cross_validate")
              .add(splitter=outer,
                   method_mapping=MethodMapping().add(caller="fit", callee="split"))
              .add(estimator=search,
                   method_mapping=MethodMapping().add(caller="fit", callee="fit"))
              .add(scorer=scorer,
                   method_mapping=MethodMapping().add(caller="fit", callee="score")))
    try:
        return process_routing(router, "fit", **params)
    except UnsetMetadataPassedError as exc:  # (the user calls no "fit"; as cross_validate)
        raise UnsetMetadataPassedError(
            message=str(exc).replace("nested_cross_validate.fit", "nested_cross_validate"),
            unrequested_params=exc.unrequested_params,
            routed_params=exc.routed_params) from None
    except TypeError as exc:
        text = str(exc)
        if "nested_cross_validate.fit" not in text:
            raise
        raise TypeError(text.replace("nested_cross_validate.fit",
                                     "nested_cross_validate")) from None


def _inner_fit_params(search, groups, routed):
    """What each inner search's ``fit`` gets, for all of ``X`` (each outer split passes
    its outer-train rows): the params routed to it, and ``groups=`` where the search
    takes them (:func:`_routes_groups`) and ``params`` gave none."""
    fit_params = dict(routed.estimator.fit)
    if groups is not None and "groups" not in fit_params and _routes_groups(search):
        fit_params["groups"] = groups
    return fit_params


class _OuterJob:
    """One outer split: its inner search, fitted on the outer-train rows and scored on
    the outer-test rows."""

    def __init__(self, k, search, train, test):
        self.k, self.search, self.train, self.test = k, search, train, test

    def run(self, X, y, fit_params, scorer, score_params):
        """Fit the inner search with the outer-train rows of ``fit_params``, score its
        refit model with the outer-test rows of ``score_params``; the row of the result.

        For a pairwise search (``SVC(kernel="precomputed")``: ``X`` a samples x samples
        kernel) the outer-train part is ``X[train][:, train]`` and the outer-test part
        ``X[test][:, train]``, as sklearn's ``cross_validate(search)`` cuts them."""
        from sklearn.utils.validation import _check_method_params

        inner, train, test = self.search, self.train, self.test
        fit_kw = _check_method_params(X, params=fit_params, indices=train)
        score_kw = _check_method_params(X, params=score_params, indices=test)
        y_train = None if y is None else _safe_indexing(y, train)
        y_test = None if y is None else _safe_indexing(y, test)
        rows = _rows_text(train, _num_samples(X))
        start = time.perf_counter()
        try:
            inner.fit(_take_x(inner, X, train, train), y_train, **fit_kw)
        except Exception as exc:  # which outer split's search failed (not an interrupt)
            if hasattr(exc, "add_note"):  # Python >= 3.11
                exc.add_note(f"nested_cross_validate: raised by the inner search of outer "
                             f"split {self.k} ({len(train)} outer-train rows).")
            raise
        finally:  # (also when stopped: a resume checks the rows it continues on)
            _mark_outer_rows(inner, rows)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        try:
            scores = scorer(inner, _take_x(inner, X, test, train), y_test, **score_kw)
        except Exception as exc:
            if hasattr(exc, "add_note"):  # Python >= 3.11
                exc.add_note(f"nested_cross_validate: raised by the outer scoring of outer "
                             f"split {self.k} ({len(test)} outer-test rows).")
            raise
        score_time = time.perf_counter() - start
        scores = scores if isinstance(scores, dict) else {"score": scores}
        return dict(scores=scores, best=_inner_best(inner), params=inner.best_params_,
                    fit_time=fit_time, score_time=score_time, n_train=len(train),
                    n_test=len(test))



def _is_inner_note(note):
    """A note an inner search adds on how to continue it alone (``fit`` with
    ``resume=True`` on its one study, or its in-memory study, gone with the run)."""
    return note.startswith("hpsearch: ") and (" are recorded in study " in note
                                              or " are kept in memory" in note)


class _SecondInterrupt(BaseException):
    """A second Ctrl-C or SIGTERM that arrived while the inner fits were counted for the
    note of the exception ending a nested run (:func:`_note_how_to_continue`)."""


class _SecondInterrupts:
    """While inside (main thread): a SIGINT or SIGTERM handled by Python's default SIGINT
    handler or hpsearch's (``_raise_interrupt``: the CLI, a search) is taken over; the
    first one that arrives while ``counting`` raises :class:`_SecondInterrupt` (the
    count is given up), any other is dropped (the run is ending anyway: the exception
    that ends it goes on, with its note)."""

    def __init__(self):
        self.counting = False
        self._previous = {}

    def __enter__(self):
        from ._engine import _raise_interrupt

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(signum) in (signal.default_int_handler,
                                                _raise_interrupt):
                    self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.counting:
            self.counting = False
            raise _SecondInterrupt

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False

    def count(self, searches):
        """:func:`_n_recorded`, or None when a second Ctrl-C or SIGTERM stopped it."""
        self.counting = True
        try:
            return _n_recorded(searches)
        except _SecondInterrupt:
            return None
        finally:
            self.counting = False


def _note_how_to_continue(exc, search, searches):
    """Say on the exception that ends a nested run how to continue it: the inner
    searches' own notes name one inner study and ``fit`` (or a discarded in-memory
    study), not :func:`nested_cross_validate`, so they are replaced by one note. With a
    ``storage`` and a ``study_name``, the finished inner fits are recorded in the studies
    ``<study_name>-outer<k>`` and a run with ``resume=True`` (same ``cv``,
    ``random_state`` and data) fits only the missing ones (the refits are redone);
    otherwise they are lost.

    A second Ctrl-C or SIGTERM while the note is made (counting the recorded fits reads
    every inner study: slow on a busy storage) stops the count, not the note: it says
    how to continue without the number (was: the second interrupt went on without any
    note)."""
    if not hasattr(exc, "add_note"):  # Python < 3.11
        return
    with _SecondInterrupts() as second:
        text = _how_to_continue(exc, search, searches, second)
        notes = getattr(exc, "__notes__", [])
        notes[:] = [n for n in notes if not _is_inner_note(n)]
        exc.add_note(text)


def _how_to_continue(exc, search, searches, second):
    """The text of :func:`_note_how_to_continue`'s note (``second.count`` counts)."""
    params = search.get_params()
    storage, name = params.get("storage"), params.get("study_name")
    if "storage" not in params:  # not hpsearch's search (sklearn's GridSearchCV, ...)
        return ("hpsearch: nested_cross_validate keeps no finished inner fits of a "
                f"search without a storage ({type(search).__name__} has none; "
                "hpsearch's searches take storage= and study_name=).")
    if storage is None or name is None:
        what = ("storage and study_name" if storage is None and name is None
                else "storage" if storage is None else "study_name")
        return ("hpsearch: nested_cross_validate keeps no finished inner fits "
                f"without a storage and a study_name on the search; give it a {what} "
                "to make a run resumable.")
    first, last = outer_study_name(name, 0), outer_study_name(name, len(searches) - 1)
    fixed = "" if isinstance(exc, KeyboardInterrupt) else "once its cause is fixed, "
    n = second.count(searches)
    return (
        f"hpsearch: {'the' if n is None else n} finished inner fits are recorded in the "
        f"studies {first!r}..{last!r} of the search's storage; {fixed}"
        "call nested_cross_validate again with the search set to resume=True "
        f"(study_name={name!r}) and the same cv, random_state and data to continue: only "
        "the missing inner fits run (the refits are redone).")


def _n_recorded(searches):
    """Inner fits recorded in the inner searches' studies (those that exist)."""
    from .store import recorded_fits

    total = 0
    for inner in searches:
        try:
            study = _inner_study(inner)
            total += 0 if study is None else recorded_fits(study)
        except Exception:  # noqa: BLE001 - a store that fails now: counted as none
            pass
    return total


#: study system attribute of an inner search's study: the outer-train rows it ran on
ROWS_ATTR = "hpsearch_outer_train_rows"


def _rows_text(train, n_samples):
    """``"<n_samples>:<n_train>:<crc32 of the indices>"``: equal for equal outer-train rows."""
    crc = zlib.crc32(np.ascontiguousarray(train, dtype=np.int64).tobytes())
    return f"{n_samples}:{len(train)}:{crc:08x}"


def _inner_study(inner):
    """The inner search's existing study (storage, study_name set), or None."""
    import optuna

    from .store import make_storage

    params = inner.get_params()
    storage, name = params.get("storage"), params.get("study_name")
    if storage is None or name is None:
        return None
    try:
        return optuna.load_study(study_name=name, storage=make_storage(storage))
    except KeyError:
        return None


def _check_outer_rows(inner, k, rows):
    """A resumed inner study must continue on the rows it ran on: its recorded fits are
    keyed by candidate and inner splitter, not by rows, so another outer split (another
    ``cv`` or ``random_state``, other data) would silently reuse fits of other rows."""
    if not inner.get_params().get("resume"):
        return
    study = _inner_study(inner)
    if study is None:
        return
    before = study._storage.get_study_system_attrs(study._study_id).get(ROWS_ATTR)
    if before is not None and before != rows:
        raise ValueError(
            f"The outer split {k} of nested_cross_validate must have the rows its study "
            f"{study.study_name!r} ran on to resume it ({before}, as n_samples:n_train:"
            "checksum): keep the 'cv', 'random_state' and data of that run, or use "
            f"another study_name. Got {rows} instead.")


def _mark_outer_rows(inner, rows):
    study = getattr(inner, "study_", None)
    if study is None or inner.get_params().get("storage") is None:
        return
    try:
        study._storage.set_study_system_attr(study._study_id, ROWS_ATTR, rows)
    except Exception:  # noqa: BLE001 - a store that fails now: the resume check is skipped
        pass


def _one_pool_engine(search, X, y, fit_params=None):
    """The engine whose fork workers run every outer split's fits (on the full ``X``,
    ``y``; not entered yet), or None where the outer splits run one after the other:
    no fork workers (``n_jobs=1``, a joblib backend, Windows/macOS), a search
    ``timeout`` (a deadline per search), sklearn callbacks, or not an hpsearch search.

    ``fit_params`` (what each inner search's ``fit`` gets, for all of ``X``: every
    array one value per sample) are routed as the inner search routes them, so the
    pool's fits get the rows of them that the inner search's own engine would."""
    from ._base import BaseSearchCV, _partial_fit_params

    if (not _ONE_POOL or not isinstance(search, BaseSearchCV)
            or search.timeout is not None
            or hasattr(search, "_skl_callbacks") or hasattr(search, "_parent_callback_ctx")):
        return None
    try:
        scorers, _ = clone(search)._get_scorers()
        routed = _inner_routing(search, X, fit_params or {})
    except Exception:  # noqa: BLE001 - the inner search's fit raises it, as sequentially
        return None
    engine = Engine(
        search.estimator, X, y, scorer=scorers, fit_params=routed.estimator.fit,
        score_params=routed.scorer.score, partial_fit_params=_partial_fit_params(routed),
        n_jobs=search.n_jobs, backend=search.backend, pre_dispatch=search.pre_dispatch,
        return_train_score=search.return_train_score, error_score=search.error_score,
        verbose=search.verbose, fit_timeout=search.fit_timeout,
        max_retries=search.max_retries,
    )
    try:
        fork, n_workers = engine.will_fork()
    except Exception:  # noqa: BLE001 - a bad n_jobs/backend: the inner fit says so
        return None
    return engine if fork and n_workers > 1 else None


def _inner_routing(search, X, fit_params):
    """The inner search's own routing of ``fit_params`` (``BaseSearchCV._routed_params``)
    on all of ``X``; its warnings (a scorer that takes no ``sample_weight``) are given
    by the inner searches' fits, not here."""
    import warnings

    from sklearn.utils import Bunch

    if not fit_params:
        return Bunch(estimator=Bunch(fit={}), scorer=Bunch(score={}))
    params = dict(fit_params)
    groups = params.pop("groups", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(search)._routed_params(X, groups, params)


def one_pool_workers(search, X, y=None, n_jobs=None):
    """How many workers the one pool of :func:`nested_cross_validate` would have for
    ``search`` on ``X``, ``y`` (under the active ``joblib.parallel_config``), or None
    when its outer splits would run one after the other. Nothing is started."""
    inner = _inner_search(search, 0, n_jobs)
    engine = _one_pool_engine(inner, *indexable(X, y))
    return None if engine is None else engine.n_workers


class _Stopped(KeyboardInterrupt):
    """Raised in an inner search's thread when the one pool stops (Ctrl-C, SIGTERM, or
    an error in another split's search): its store closes as interrupted."""


_STOP = object()


class _OnePool:
    """All outer splits' inner searches through one fork pool (see the module docstring).

    The calling thread is the dispatcher: it owns the pool (forked before the search
    threads start) and the progress bar, pulls queued fits (the refits first) whenever a
    worker is idle, and puts each result in the queue of the search that submitted it.
    """

    def __init__(self, engine, jobs):
        self.engine = engine
        self.jobs = jobs
        self.lock = threading.Lock()
        self.inbox = deque()  # (slot, task) queued by the searches, not yet pulled
        self.owners = {}  # pool task id -> (slot, the search's own candidate index)
        self.ids = itertools.count()
        self.rows = [None] * len(jobs)
        self.errors = []  # exceptions of the search threads, in the order they came
        self.n_done = 0  # search threads finished
        self.bar = None
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)

    # -- the search threads' side --------------------------------------------------
    def submit(self, slot, tasks, first=False):
        with self.lock:
            for task in tasks:
                (self.inbox.appendleft if first else self.inbox.append)((slot, task))
        self.wake()

    def wake(self):
        try:
            os.write(self.wake_write, b"x")
        except (BlockingIOError, OSError):  # full (a wake-up is pending anyway) or closed
            pass

    def add_total(self, n):
        if self.bar is not None and n:
            with self.lock:
                self.bar.total += n
                self.bar.refresh()

    def advance(self, n=1):
        if self.bar is not None:
            with self.lock:
                self.bar.update(n)

    def _work(self, job, X, y, fit_params, scorer, score_params, config):
        from sklearn import config_context

        try:
            with config_context(**config):  # the caller's (thread-local) sklearn config
                self.rows[job.k] = job.run(X, y, fit_params, scorer, score_params)
        except BaseException as exc:  # noqa: BLE001 - handed to the dispatcher
            if not isinstance(exc, _Stopped):
                with self.lock:
                    self.errors.append(exc)
        finally:
            with self.lock:
                self.n_done += 1
                if self.bar is not None:
                    self.bar.set_postfix(outer=f"{self.n_done}/{len(self.jobs)}",
                                         refresh=False)
            self.wake()

    # -- the dispatcher's side -----------------------------------------------------
    def _pull(self):
        """One queued fit for an idle worker (its indices into the full ``X``), ``[]``
        for none now, None when every search has ended."""
        try:
            while os.read(self.wake_read, 4096):
                pass
        except BlockingIOError:
            pass
        with self.lock:
            if not self.inbox:
                return None if self.n_done == len(self.jobs) else []
            slot, task = self.inbox.popleft()
            uid = next(self.ids)
            self.owners[uid] = (slot, task.candidate)
        return [slot.translate(task, uid)]

    def _route(self, out):
        slot, candidate = self.owners.pop(out["candidate"])
        out["candidate"] = candidate
        slot.results.put(out)

    def run(self, X, y, fit_params, scorer, score_params, show_progress):
        """Fit every outer split's search through the pool; the rows of the result."""
        from sklearn import get_config

        slots = [_Slot(self, job) for job in self.jobs]
        config = get_config()
        threads = [threading.Thread(target=self._work,
                                    args=(job, X, y, fit_params, scorer, score_params,
                                          config),
                                    name=f"hpsearch-outer{job.k}", daemon=True)
                   for job in self.jobs]
        for job, slot in zip(self.jobs, slots):
            job.search._nested_slot = slot
        try:
            with self.engine:  # the workers are forked here, before any other thread
                if show_progress:
                    from tqdm.auto import tqdm

                    self.bar = tqdm(total=len(self.jobs), desc="nested CV", unit="fit",
                                    file=sys.stderr)
                try:
                    for thread in threads:
                        thread.start()
                    self._dispatch()
                finally:
                    self._stop(slots, threads)
                if self.errors:  # raised inside: the workers are stopped, not waited for
                    raise self.errors[0]
        finally:
            for job in self.jobs:
                job.search.__dict__.pop("_nested_slot", None)
            if self.bar is not None:
                self.bar.close()
            os.close(self.wake_read)
            os.close(self.wake_write)
        return self.rows

    def _dispatch(self):
        try:
            while self.n_done < len(self.jobs) and not self.errors:
                for out in self.engine.run(self._pull, wakeup=self.wake_read):
                    self._route(out)
                    if self.errors:
                        return
                # nothing queued, nothing running: the searches are deciding
                wait([self.wake_read], timeout=0.1)
        except Exception as exc:  # error_score="raise": a fit's error, a dead worker
            self._note_owner(exc)
            raise

    def _note_owner(self, exc):
        """Name, on an error the pool raised for one fit, the outer split whose search
        it was (the pool's task number stands for the candidate in its message)."""
        task = getattr(exc, "hpsearch_task", None)
        owner = None if task is None else self.owners.get(task.candidate)
        if owner is None or not hasattr(exc, "add_note"):
            return
        slot, candidate = owner
        what = ("the refit of its best candidate" if candidate < 0 else
                f"its candidate {candidate}, inner split {task.split}; the candidate "
                f"number of the message is the one pool's task {task.candidate}")
        exc.add_note(f"nested_cross_validate: raised by a fit of the inner search of "
                     f"outer split {slot.k} ({what}).")

    def _stop(self, slots, threads):
        """Every search thread ends: those still running get :class:`_Stopped` once they
        have taken the results routed to them (so their fits are recorded)."""
        for slot in slots:
            slot.results.put(_STOP)
        for thread in threads:
            if thread.is_alive():
                thread.join()


class _Slot:
    """What one inner search sees as its engine and its progress bar, in the one pool.

    ``BaseSearchCV._fit`` calls :meth:`engine` with the engine it would have run (read
    for its ``y`` and checked: its routed fit and score parameters are those the pool's
    engine holds for all of ``X``) and
    :meth:`progress` for its bar; ``_finish`` calls :meth:`fit_best` for the refit.
    """

    kind = "fork"
    expired = False
    timeout = None
    pulls_lazily = True
    not_run_error = None

    def __init__(self, pool, job):
        self.pool = pool
        self.k = job.k
        self.train, self.test = job.train, job.test
        self.results = queue.SimpleQueue()
        self.n_workers = pool.engine.n_workers
        self.y = None

    # -- hooks of BaseSearchCV -------------------------------------------------------
    def engine(self, engine):
        # the pool's engine holds the same routed fit and score parameters for all of X
        # (:func:`_one_pool_engine`); each task's rows are indices into X (translate)
        pool = self.pool.engine
        if (set(engine.fit_params) != set(pool.fit_params)
                or set(engine.score_params) != set(pool.score_params)
                or set(engine.partial_fit_params or ()) != set(pool.partial_fit_params or ())
                or (engine.partial_fit_params is None) != (pool.partial_fit_params is None)):
            raise RuntimeError(
                f"nested_cross_validate's one pool: the inner search of outer split "
                f"{self.k} routed the fit parameters {sorted(engine.fit_params)} and "
                f"score parameters {sorted(engine.score_params)}, the pool "
                f"{sorted(pool.fit_params)} and {sorted(pool.score_params)}.")
        self.y = engine.y
        return self

    def progress(self, total):
        if self.pool.bar is None:
            return None
        return _BarShare(self.pool, total)

    def fit_best(self, estimator):
        """Refit ``estimator`` (the configured best candidate) on the outer-train rows in
        the pool; ``(fitted estimator, fit seconds)``."""
        task = Task(-1, -1, estimator.get_params(deep=False), np.arange(len(self.train)),
                    np.arange(0), keep=True)
        self.pool.submit(self, [task], first=True)
        out = self._next()
        self.pool.advance()
        if out.get("estimator") is None:
            exc = out.get("exception")
            if exc is not None:  # the estimator's own error, as the sequential path raises
                exc.add_note(f"(in the refit of the best candidate on outer split {self.k}, "
                             f"in a worker process:\n{out['error']})")
                raise exc
            raise RuntimeError(f"The refit of the best candidate on outer split {self.k} "
                               f"failed:\n{out['error']}")
        return out["estimator"], out["fit_time"]

    # -- the engine interface --------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def time_is_up(self):
        return False

    def translate(self, task, uid):
        """The task with the pool's id and its rows as indices into the full ``X`` (a
        refit, with no test rows, is scored on the outer-test rows, unused)."""
        test = self.train[task.test] if len(task.test) else self.test
        return dataclasses.replace(task, candidate=uid, train=self.train[task.train],
                                   test=test)

    def _next(self):
        item = self.results.get()
        if item is _STOP:
            self.results.put(_STOP)  # seen again by any later wait of this search
            raise _Stopped
        return item

    def run(self, tasks, wakeup=None):
        """Results of ``tasks`` as they finish (a list, or a callable ``pull`` as
        :meth:`Engine.run` takes: pulled while fewer than ``n_workers`` of this search's
        fits are queued or running)."""
        if callable(tasks):
            yield from self._run_lazy(tasks)
            return
        tasks = list(tasks)
        self.pool.submit(self, tasks)
        for _ in tasks:
            yield self._next()

    def _run_lazy(self, pull):
        in_flight, exhausted = 0, False
        while True:
            if not exhausted:
                more, exhausted = pull_while(pull, lambda n: in_flight + n < self.n_workers)
                if more:
                    self.pool.submit(self, more)
                    in_flight += len(more)
            if not in_flight:
                return
            out = self._next()
            in_flight -= 1
            yield out


class _BarShare:
    """One inner search's share of the one progress bar: its total (planned fits) adds
    to the bar's, each of its fits moves it."""

    def __init__(self, pool, total):
        self.pool, self.n, self._total = pool, 0, 0
        self.total = total or 0

    @property
    def total(self):
        return self._total

    @total.setter
    def total(self, value):
        self.pool.add_total(value - self._total)
        self._total = value

    def update(self, n=1):
        self.n += n
        self.pool.advance(n)

    def set_postfix(self, *args, **kwargs):
        pass

    def refresh(self):
        pass

    def close(self):
        pass


def _collect(rows, searches, optimism):
    result = Bunch()
    for name in rows[0]["scores"]:
        values = np.array([float(r["scores"][name]) for r in rows])
        result[f"test_{name}"] = values
        result[f"mean_test_{name}"] = float(np.mean(values))
        result[f"std_test_{name}"] = float(np.std(values))
    result.inner_best_score = np.array([r["best"] for r in rows])
    if optimism:
        result.optimism = result.inner_best_score - result.test_score
        result.mean_optimism = float(np.mean(result.optimism))
    result.best_params = [r["params"] for r in rows]
    for key in ("fit_time", "score_time", "n_train", "n_test"):
        result[key] = np.array([r[key] for r in rows])
    if searches is not None:
        result.searches = searches
    return result
