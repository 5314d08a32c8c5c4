"""The engine: every (candidate x split) fit of a search, run through joblib.

This is the only module of hpsearch that touches joblib (``DESIGN.md`` decision 4).

A search hands the engine a list of :class:`Task` (plain data: which candidate, which
split, the parameters to set, the train/test indices, a seed) and gets back an iterator
of plain result dicts, *in completion order* (``Parallel(return_as="generator_unordered")``),
so a progress bar moves per fit and each finished candidate can be stored at once.

Guarantees
----------
- **Same results for any ``n_jobs`` and backend.** The seed of a task derives from
  ``(random_state, candidate id, split)`` (the id: a hash of the candidate's parameters)
  with :class:`numpy.random.SeedSequence` (:func:`task_seed`), and BLAS runs one thread
  per task (threadpoolctl), so a fit does not depend on where or when it runs.
- **Folds as indices.** A worker receives the full ``X`` (large NumPy arrays are dumped
  once to a memory-mapped file and shared by every process) plus the index arrays of its
  fold; estimators whose ``fit`` accepts ``sample_index`` train on full ``X`` with the
  indices, others get ``X[train]`` built inside the worker.
- **A failing fit never ends the search** (unless ``error_score="raise"``): the result
  carries the formatted traceback instead of scores. Neither does a fit that kills its
  worker (retried ``max_retries`` times in a fresh worker, then ``"worker died:
  SIGSEGV"``) or one that runs past ``fit_timeout`` (its worker killed and replaced,
  ``"fit exceeded fit_timeout=2s"``). Past the search's ``timeout`` no task starts and
  the running ones are stopped; they yield nothing (not run). On Dask too: a call Dask
  gave up on (``KilledWorker``, after its own retries) or whose scattered data died
  with a worker is run again, its fits one at a time, ``max_retries`` times, then
  recorded as failed; a scatter of a call's data that never ends (a worker killed while
  it received the data) is given up (a worker left, or ``hpsearch.scatter-timeout``
  passed) and the data sent once as a task of its own; a lost scheduler ends the search with :class:`WorkerDied` naming
  it; no call ever runs in the client process, and a Ctrl-C cancels the fits queued on
  the cluster.
- **Workers die with their parent** (``prctl(PR_SET_PDEATHSIG)`` on Linux, a
  ``getppid`` watch elsewhere and in joblib's process workers), and **SIGTERM is
  Ctrl-C**: :class:`SearchTerminated`, a ``KeyboardInterrupt``, at the same safe point.
- **Fork workers on POSIX.** With the default joblib backend (loky, nothing set in
  ``joblib.parallel_config``) and more than one job, the engine does not go through joblib
  at all: it registers ``(estimator, X, y, scorer, fit params)`` in a module-level table
  under a token, starts its workers by ``fork`` (:class:`_ForkPool`), and ships each
  batch of tasks to one worker through its own pipe. The workers inherit ``X`` page for
  page (no copy, no file, no pickling, no interpreter start-up or sklearn import per
  worker), which is
  what keeps a 2-job search near the memory of a 1-job one. ``backend="multiprocessing"``
  means the same fork workers; ``n_jobs=1`` uses one when a time limit is set.
  ``backend="loky"`` (or any
  backend set in ``joblib.parallel_config``: Dask, threading) keeps the joblib path, and
  Windows/macOS (no safe ``fork``) always use it. ``Engine.kind`` tells which ran.
- **Continuation.** A task may carry the fitted estimator of a previous evaluation of the
  same (candidate, split) and a number of *additional* units of work; the worker then
  continues training (``warm_start`` or ``partial_fit``) instead of refitting.
"""

import asyncio
import inspect
import itertools
import multiprocessing
import numbers
import os
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
import weakref
from collections import deque
import contextlib
import functools
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.reduction import ForkingPickler

import joblib
import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _check_method_params
from threadpoolctl import ThreadpoolController

__all__ = [
    "Task", "Engine", "task_seed", "run_task", "seed_params", "SearchTerminated",
    "WorkerDied", "sigterm_as_interrupt", "shield_interrupts", "interrupts_deferrable",
]

#: joblib backends whose workers are processes on this machine: large arrays are shared
#: with them through one memory-mapped file.
_LOCAL_PROCESS_BACKENDS = ("LokyBackend", "MultiprocessingBackend")
#: arrays above this many bytes are memory-mapped for process backends (joblib's default)
_MEMMAP_BYTES = 1_000_000
#: seconds of fits one batch sent through joblib may hold (:meth:`Engine._joblib_batches`):
#: a batch's results come back together, so a Ctrl-C, SIGTERM, SIGKILL, ``timeout`` or
#: dead worker loses the finished fits of a batch still running (joblib's own smallest
#: ideal batch duration)
_BATCH_SECONDS = 0.2
#: how the error of a fit the search's ``timeout`` left unrun starts
#: (:attr:`Engine.not_run_error`; ``cv_results_['error']`` puts "split k:" before it)
NOT_RUN = "not run: the search's timeout="


def task_seed(random_state, candidate, split):
    """Integer seed of one fit, derived from ``(random_state, candidate, split)``.

    Parameters
    ----------
    random_state : int
        The search's master seed (non-negative).
    candidate : int
        Stable id of the candidate (non-negative): the search uses a hash of its
        parameters, the same in every process and resume.
    split : int
        Split index; ``-1`` is used for the final refit.

    Returns
    -------
    seed : int
        A 31-bit seed, accepted by every sklearn ``random_state``.
    """
    entropy = (int(random_state), int(candidate), int(split) + 1)
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)


def seed_params(estimator, seed):
    """``{name: seed}`` for every (nested) ``*random_state`` parameter left at None.

    A ``random_state`` the user fixed (an int or a ``RandomState``) is kept: the user asked
    for that exact randomness. Parameters left at None would draw from NumPy's global RNG
    and make results depend on scheduling; they get a seed derived from ``seed`` instead
    (one independent stream per parameter, in sorted-name order).
    """
    return seeds_for(seed_names(estimator.get_params(deep=True)), seed)


def seed_names(params):
    """Sorted names of the ``*random_state`` entries left at None in ``params`` (a
    ``get_params(deep=True)`` dict)."""
    return sorted(
        name
        for name, value in params.items()
        if (name == "random_state" or name.endswith("__random_state")) and value is None
    )


def seeds_for(names, seed):
    """``{name: seed}`` for ``names`` (see :func:`seed_params`)."""
    if not names:
        return {}
    states = np.random.SeedSequence(seed).generate_state(len(names))
    return {name: int(s >> 1) for name, s in zip(names, states)}


@dataclass
class Task:
    """One fit: plain data only, so it pickles small and runs anywhere.

    Attributes
    ----------
    candidate : int
        Index of the candidate in the current ``evaluate`` call.
    split : int
        Split index.
    params : dict
        Parameters set on a clone of the base estimator (candidate params, resource
        overrides and seeds); with ``state``: the continuation parameters set on it
        (``warm_start=True`` and the budget), or empty to call ``partial_fit``.
    train, test : ndarray of int
        Indices of the fold.
    state : estimator or None
        A fitted estimator to continue (pickled with its full training state).
    steps : int or None
        With ``state`` and empty ``params``: how many ``partial_fit`` calls to make.
    keep : bool
        Send the fitted estimator back (for a later continuation).
    callback_ctx : tuple or None
        ``(sklearn callback context, search)`` when the search has sklearn callbacks
        (``set_callbacks``): the fit runs inside that context, as in sklearn's
        ``_fit_and_score``.
    start_line : str or None
        Printed before the fit (sklearn's ``[CV ...] START`` line, ``verbose > 9``).
    """

    candidate: int
    split: int
    params: dict
    train: np.ndarray
    test: np.ndarray
    state: object = None
    steps: int | None = None
    keep: bool = False
    callback_ctx: tuple | None = None
    start_line: str | None = None


@contextmanager
def _one_blas_thread():
    """Limit BLAS/OpenMP pools to one thread, restoring them afterwards.

    The controller is built once per process; per task only the libraries not already
    at one thread are set (a few C calls instead of threadpoolctl's ``limit`` bookkeeping,
    which cost ~0.3 ms per fit).
    """
    global _CONTROLLER
    if _CONTROLLER is None or _CONTROLLER[0] != os.getpid():
        _CONTROLLER = (os.getpid(), ThreadpoolController())
    changed = []
    try:
        for lib in _CONTROLLER[1].lib_controllers:
            n = lib.num_threads
            if n is not None and n != 1:
                lib.set_num_threads(1)
                changed.append((lib, n))
        yield
    finally:
        for lib, n in changed:
            lib.set_num_threads(n)


_CONTROLLER = None
_SIGNATURES = {}


def _accepts(method, name):
    """Whether ``method`` takes a parameter ``name`` (cached per function)."""
    key = (getattr(method, "__func__", method), name)
    try:
        return _SIGNATURES[key]
    except (KeyError, TypeError):
        pass
    try:
        found = name in inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins without a signature
        found = False
    try:
        _SIGNATURES[key] = found
    except TypeError:  # unhashable callable
        pass
    return found


def _take(data, indices):
    """Rows ``indices`` of ``data``: plain NumPy indexing for arrays (the common case,
    without ``_safe_indexing``'s type dispatch), ``_safe_indexing`` otherwise."""
    if type(data) is np.ndarray:
        return data[indices]
    return _safe_indexing(data, indices)


def _pairwise(estimator):
    """Whether the estimator's tags say ``X`` is a (samples x samples) kernel."""
    try:
        from sklearn.utils import get_tags  # scikit-learn >= 1.6

        return bool(get_tags(estimator).input_tags.pairwise)
    except ImportError:
        return bool(getattr(estimator, "_get_tags", dict)().get("pairwise", False))
    except (AttributeError, TypeError, ValueError):  # no tags (duck-typed estimator)
        return False


def _take_x(estimator, X, indices, train):
    """``X[indices]``, or for a pairwise estimator ``X[indices][:, train]`` (sklearn's
    ``_safe_split``: a precomputed kernel keeps only the columns of the train rows)."""
    if not _pairwise(estimator):
        return _take(X, indices)
    if not hasattr(X, "shape"):
        raise ValueError(
            "Precomputed kernels or affinity matrices have to be passed as arrays or "
            "sparse matrices."
        )
    if X.shape[0] != X.shape[1]:
        raise ValueError("X should be a square kernel matrix")
    return _safe_indexing(_take(X, indices), train, axis=1)


def _fit(estimator, X, y, train, fit_params):
    """Fit on the rows ``train`` of X: by index when ``fit`` takes ``sample_index``."""
    fit_params = _check_method_params(X, params=fit_params, indices=train)
    if _accepts(estimator.fit, "sample_index"):
        return estimator.fit(X, y, sample_index=train, **fit_params)
    X_train = _take_x(estimator, X, train, train)
    if y is None:
        return estimator.fit(X_train, **fit_params)
    return estimator.fit(X_train, _take(y, train), **fit_params)


def _continue(estimator, X, y, task, fit_params, partial_fit_params=None):
    """Continue training a fitted estimator: warm-start ``fit`` (with ``fit_params``),
    else ``partial_fit`` (with ``partial_fit_params``: what metadata routing routes to
    ``partial_fit``; None: ``fit_params``, as without metadata routing)."""
    if task.params:
        estimator.set_params(**task.params)
        _fit(estimator, X, y, task.train, fit_params)
        return estimator
    # partial_fit: one call per unit of training
    X_train = _take_x(estimator, X, task.train, task.train)
    y_train = None if y is None else _take(y, task.train)
    if partial_fit_params is None:
        partial_fit_params = fit_params
    kwargs = _check_method_params(X, params=partial_fit_params, indices=task.train)
    if is_classifier(estimator) and _accepts(estimator.partial_fit, "classes"):
        kwargs["classes"] = estimator.classes_
    for _ in range(task.steps):
        estimator.partial_fit(X_train, y_train, **kwargs)
    return estimator


class ScorerDict(dict):
    """The scores (metric -> float) of a callable ``scoring`` that returned a dict: such
    a search is multi-metric (sklearn's ``multimetric_``: ``refit`` must name a metric,
    ``score`` returns the ``refit`` metric's), also when its one key is ``"score"``,
    which a plain number's scores are keyed by too."""


class ScoringNotANumber(ValueError):
    """A scorer returned something that is not a number: a bug in the scorer, raised
    whatever ``error_score`` is (as sklearn's ``_score``), never a made-up score."""


def _number(value, name):
    """``value`` as a float; sklearn's ``ValueError`` ("scoring must return a number,
    got ... instead. (scorer=...)") for anything that is not a number (an array, a
    string), which ``float`` would convert or refuse with an error taken for a failed
    scoring."""
    if hasattr(value, "item"):
        try:
            value = value.item()  # (a NumPy scalar, a 0-d or 1-element array)
        except ValueError:
            pass
    if not isinstance(value, numbers.Number):
        raise ScoringNotANumber(
            f"scoring must return a number, got {value} ({type(value)}) instead. "
            f"(scorer={name})"
        )
    return float(value)


def _score(scorer, estimator, X, y, indices, train=None, score_params=None,
           error_score=np.nan):
    """Score on the rows ``indices`` (kernel columns ``train`` for a pairwise estimator),
    with the per-sample ``score_params`` (e.g. ``sample_weight``) of those rows.

    Returns ``(scores, error)``: ``scores`` a dict metric -> float; ``error`` None, or
    the traceback of each metric whose scorer failed. As sklearn's ``_score``: with
    several metrics, sklearn's ``_MultimetricScorer`` hands a failed metric's traceback
    as its score; that metric alone gets ``error_score``, the others keep their scores
    (a failing ``roc_auc`` on one fold must not make the refit metric's score there
    ``error_score`` too). A scorer that raises fails the whole set (the caller's
    ``error_score``); one that returns no number raises :class:`ScoringNotANumber`.
    """
    X_part = _take_x(estimator, X, indices, indices if train is None else train)
    kwargs = _check_method_params(X, params=score_params or {}, indices=indices)
    scores = scorer(estimator, X_part, **kwargs) if y is None else scorer(
        estimator, X_part, _take(y, indices), **kwargs
    )
    if not isinstance(scores, dict):
        return {"score": _number(scores, scorer)}, None
    failed = {} if not isinstance(scorer, _MultimetricScorer) else {
        name: text for name, text in scores.items() if isinstance(text, str)
    }
    error = "\n".join(f"scorer {name!r}:\n{text}" for name, text in failed.items())
    return (dict if isinstance(scorer, _MultimetricScorer) else ScorerDict)(
        (name, error_score if name in failed else _number(value, name))
        for name, value in scores.items()
    ), error or None


def _fit_task(base, X, y, task, fit_params, partial_fit_params=None):
    """Fit the task's estimator: continue its state, or a clone of ``base`` with the
    task's parameters (cloned too, as sklearn does: an estimator given as a parameter
    value is never fitted itself; ``set_params`` is not called without parameters)."""
    if task.state is not None:
        return _continue(task.state, X, y, task, fit_params, partial_fit_params)
    estimator = clone(base)
    if task.params:
        estimator.set_params(**clone(task.params, safe=False))
    if task.callback_ctx is None:
        _fit(estimator, X, y, task.train, fit_params)  # (fit may not return self)
        return estimator
    # sklearn's _fit_and_score with a callback context (sklearn.callback)
    context, caller = task.callback_ctx
    weights = _check_method_params(X, params=fit_params, indices=task.train).get(
        "sample_weight"
    )
    hook_args = dict(
        estimator=caller,
        X=_take_x(estimator, X, task.train, task.train),
        y=None if y is None else _take(y, task.train),
        metadata=None if weights is None else {"sample_weight": weights},
    )
    try:
        with context.propagate_callback_context(estimator):
            context.call_on_fit_task_begin(**hook_args)
            _fit(estimator, X, y, task.train, fit_params)
            return estimator
    finally:
        context.call_on_fit_task_end(**hook_args)


def _picklable(exc):
    """``exc`` when it survives pickling (to reach the parent process), else None."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any exception that cannot travel
        return None
    return exc


def _score_into(out, key, error_score, scorer, estimator, X, y, indices, train,
                score_params):
    """Put the scores of one set (``key``: ``"test_scores"`` or ``"train_scores"``) into
    ``out``; returns the error text of a failed scoring (None when it succeeded). A
    scorer that raises leaves ``out[key]`` None (every metric then ``error_score``);
    ``error_score="raise"`` and a score that is not a number raise."""
    try:
        out[key], error = _score(scorer, estimator, X, y, indices, train, score_params,
                                 error_score)
    except ScoringNotANumber:
        raise
    except Exception:
        if error_score == "raise":
            raise
        return traceback.format_exc()
    return error


def run_task(base, X, y, task, scorer, fit_params, return_train_score, error_score,
             score_params=None, partial_fit_params=None):
    """The worker: fit one (candidate, split) and score it. Plain data in and out.

    Returns
    -------
    result : dict
        ``candidate``, ``split``, ``test_scores`` (dict metric -> float, or None when the
        fit failed), ``train_scores``, ``fit_time``, ``score_time``, ``n_test_samples``,
        ``error`` (formatted traceback or None), ``fit_failed`` (the error came from
        ``fit``, not from scoring), ``estimator`` (when ``task.keep``) and, for a failed
        refit task (``task.split < 0``), ``exception`` (the error itself, when it can be
        pickled).
    """
    out = {**failed_result(task, None), "fit_failed": False}
    if task.start_line is not None:
        print(task.start_line, flush=True)
    start = time.perf_counter()
    with _one_blas_thread():
        try:
            estimator = _fit_task(base, X, y, task, fit_params, partial_fit_params)
        except Exception as exc:
            if error_score == "raise":
                raise
            out["fit_time"] = time.perf_counter() - start
            out["error"] = traceback.format_exc()
            out["fit_failed"] = True
            if task.split < 0:  # a refit, not a CV split: its caller raises the error
                out["exception"] = _picklable(exc)
            return out
        out["fit_time"] = time.perf_counter() - start
        start = time.perf_counter()
        # test and train scores fail apart, as in sklearn's _fit_and_score
        errors = [_score_into(out, "test_scores", error_score, scorer, estimator, X, y,
                              task.test, task.train, score_params)]
        if return_train_score:
            errors.append(_score_into(out, "train_scores", error_score, scorer,
                                      estimator, X, y, task.train, task.train,
                                      score_params))
        errors = [e for e in errors if e is not None]
        out["error"] = "\n".join(errors) if errors else None
        out["score_time"] = time.perf_counter() - start
    if task.keep:
        out["estimator"] = estimator
    return out


# --------------------------------------------------------------------------- robustness
class SearchTerminated(KeyboardInterrupt):
    """SIGTERM during a search, handled exactly like Ctrl-C (a ``KeyboardInterrupt``).

    Raised where a Ctrl-C would be: the workers are stopped and reaped, every finished fit
    stays recorded. A subclass so ``except KeyboardInterrupt`` catches both and the CLI
    can still tell them apart (exit 143 instead of 130).
    """


class WorkerDied(RuntimeError):
    """With ``error_score="raise"``: a fit killed its worker more than ``max_retries``
    times (segfault, out-of-memory kill)."""


class _FitTimeout(BaseException):
    """Raised inside a fit by the ``fit_timeout`` alarm (a BaseException, so a fit's own
    ``except Exception`` cannot swallow it)."""


class _Shield:
    """The main thread's store critical sections (:func:`shield_interrupts`): how deep it
    is inside them, and the first SIGINT/SIGTERM that arrived there (None: none)."""

    depth = 0
    pending = None


#: signal -> the exception hpsearch's handlers raise for it
_INTERRUPTS = {signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: SearchTerminated}


def _interrupt(signum):
    """The exception of ``signum``: ``KeyboardInterrupt`` or ``SearchTerminated("SIGTERM")``."""
    exc = _INTERRUPTS[signum]
    return exc("SIGTERM") if exc is SearchTerminated else exc()


def _raise_interrupt(signum, frame):
    """The SIGINT (and SIGTERM, :func:`_raise_terminated`) handler of a search: raise the
    interrupt, unless the main thread is inside a store write (:func:`shield_interrupts`):
    then it is only recorded, and raised when the write is done."""
    if _Shield.depth > 0:
        _Shield.pending = _Shield.pending or signum
        return
    _Shield.pending = None  # (raised now: not again at the end of a later write)
    raise _interrupt(signum)


_raise_terminated = _raise_interrupt  # (SIGTERM: raises SearchTerminated)


@contextmanager
def shield_interrupts():
    """A critical section of the main thread (a write or read of the trial store): a
    SIGINT or SIGTERM that arrives inside is raised right after it, never in the middle.

    An exception raised between any two bytecodes of a SQLAlchemy/SQLite call can leave
    a statement of a connection unfinished (SQLite's shared lock held by a cursor the
    traceback keeps alive), so the next write of the process waited for the lock until
    SQLite's busy timeout; a journal append could be cut mid-line. Inside the section the
    handlers of :func:`interrupts_deferrable` (``_raise_interrupt``) only record the signal;
    the first one recorded is raised on leaving the outermost section, also when the
    section ends by an exception (which the interrupt then carries as its context), so
    neither an ``except Exception`` of the caller nor a failed write loses it. A signal
    whose handler is another (Python's own SIGINT handler outside
    :func:`interrupts_deferrable`, a user's) is not deferred. Other threads: no effect
    (signal handlers run in the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Shield.depth += 1
    try:
        yield
    finally:
        _Shield.depth -= 1
        if _Shield.depth == 0 and _Shield.pending is not None:
            signum, _Shield.pending = _Shield.pending, None
            raise _interrupt(signum)


@contextmanager
def interrupts_deferrable():
    """While inside (main thread): a SIGINT left to Python's own handler (it raises
    ``KeyboardInterrupt``) is handled by ``_raise_interrupt``, which raises the same but
    waits for the end of a store write (:func:`shield_interrupts`); one raised in a
    finalizer is sent again (:func:`redeliver_interrupts`; was: only inside the engine,
    so a Ctrl-C landing in a garbage collector callback while the search closed its
    store or refit its best model was lost: the search went on to its end)."""
    previous = None
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        previous = signal.signal(signal.SIGINT, _raise_interrupt)
        hook, sys.unraisablehook = sys.unraisablehook, redeliver_interrupts(sys.unraisablehook)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
            sys.unraisablehook = hook


def redeliver_interrupts(previous):
    """A ``sys.unraisablehook`` that does not lose a SIGTERM (or Ctrl-C) to a finalizer.

    A signal handler runs between any two bytecodes of the main thread, also inside a
    finalizer or weakref callback that garbage collection runs (SQLAlchemy's, of the
    trial store); an exception raised there cannot propagate: Python printed it
    ("Exception ignored in ...") and went on, so the search ran to its end and exited 0.
    This hook takes such a :class:`SearchTerminated` (``KeyboardInterrupt``) silently and
    sends the signal again 20 ms later from a timer thread (the main thread has left the
    callback by then), where it stops the search as usual; any other exception, or one
    at interpreter shutdown (no new thread), goes to the hook ``previous``.

    The hook itself is a critical section (:func:`shield_interrupts`' handlers only record
    a signal inside it): starting the timer waits for its thread, and on a loaded machine
    the signal sent again could land in that wait, where an exception is lost too
    ("Exception ignored in sys.unraisablehook", seen once under load: the run went on and
    exited 0); a signal recorded there is sent again the same way.
    """
    def hook(unraisable):
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type,
                                                          KeyboardInterrupt):
            signum = (signal.SIGTERM if issubclass(unraisable.exc_type, SearchTerminated)
                      else signal.SIGINT)
            main = threading.current_thread() is threading.main_thread()
            _Shield.depth += main
            try:
                while signum is not None:
                    timer = threading.Timer(0.02, os.kill, (os.getpid(), signum))
                    timer.daemon = True
                    timer.start()
                    signum = None
                    if main and _Shield.depth == 1:  # (else the outer section raises it)
                        signum, _Shield.pending = _Shield.pending, None
                return
            except RuntimeError:  # interpreter shutdown
                pass
            finally:
                _Shield.depth -= main
        previous(unraisable)

    return hook


def _seconds(value):
    """``2`` -> ``"2s"``, ``0.5`` -> ``"0.5s"`` (error messages)."""
    return f"{value:g}s"


def fit_timeout_not_enforced(fit_timeout, backend):
    """The warning of a ``fit_timeout`` that ``backend`` (joblib's class name) cannot
    enforce: what happens to the fits, why, and what enforces it (was: "is not enforced
    on joblib's DaskDistributedBackend (fits run in threads or on a cluster)", which left
    a user to guess whether a long fit was stopped, failed or ran on)."""
    dask = "Dask" in str(backend)
    where = (f"Dask (joblib's {backend}): hpsearch cannot stop a fit on a cluster's worker"
             if dask else f"joblib's {backend}: a fit in a thread cannot be stopped")
    return (f"fit_timeout={_seconds(fit_timeout)} is not enforced on {where}. No fit is "
            "stopped: each runs to its end however long it takes, and none fails for its "
            "time. For a time limit per fit run the fits in local processes: backend=None, "
            "'fork', 'loky' or 'multiprocessing'.")


def fit_timeout_error(fit_timeout):
    """The error text of a fit stopped by ``fit_timeout``."""
    return f"fit exceeded fit_timeout={_seconds(fit_timeout)} (stopped)"


#: :func:`fit_timeout_error`'s text, the limit the fit ran under as its group
_FIT_TIMEOUT_ERROR = re.compile(r"fit exceeded fit_timeout=([0-9.eE+-]+|inf)s \(stopped\)")


def timed_out_limit(error):
    """The ``fit_timeout`` (seconds) that stopped a fit whose error is ``error``
    (:func:`fit_timeout_error`'s text), or None for any other error or none."""
    match = _FIT_TIMEOUT_ERROR.fullmatch(error.strip()) if isinstance(error, str) else None
    return float(match.group(1)) if match else None


def stopped_sooner(error, fit_timeout):
    """Whether ``error`` is that of a fit stopped by a ``fit_timeout`` shorter than
    ``fit_timeout`` (None: no limit). Limits compare as written in the error (``%g``,
    :func:`_seconds`), so the same limit is never shorter than itself."""
    limit = timed_out_limit(error)
    now = float("inf") if fit_timeout is None else float(_seconds(fit_timeout)[:-1])
    return limit is not None and limit < now


def _of_task(exc, task):
    """``exc`` (raised by the fork pool with ``error_score="raise"``) with the task whose
    fit raised it as ``exc.hpsearch_task``: nested CV's one pool runs several searches'
    tasks and names the search (outer split) it came from."""
    try:
        exc.hpsearch_task = task
    except Exception:  # noqa: BLE001 - an exception type without attributes: untagged
        pass
    return exc


def worker_died_error(reason):
    """The error text of a fit whose worker died: ``"worker died: SIGSEGV"``."""
    return f"worker died: {reason}"


def _exit_reason(exitcode):
    """``-11`` -> ``"SIGSEGV"``, ``3`` -> ``"exit code 3"``."""
    if exitcode is not None and exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


@contextmanager
def sigterm_as_interrupt():
    """While inside: a SIGTERM left at its default action raises :class:`SearchTerminated`
    (one raised in a finalizer is sent again: :func:`redeliver_interrupts`).

    Only from the main thread. The CLI installs the same handler for its whole run.
    """
    previous = None
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
    ):
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        hook, sys.unraisablehook = sys.unraisablehook, redeliver_interrupts(sys.unraisablehook)
    try:
        with interrupts_deferrable():
            yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            sys.unraisablehook = hook


@contextmanager
def _alarm(seconds):
    """Raise :class:`_FitTimeout` in this thread after ``seconds`` (None: no limit).

    SIGALRM based: only in a process's main thread on POSIX (joblib process workers,
    in-process fits where workers cannot be forked). A fit stuck inside one long C call
    is stopped when that call returns; hpsearch's own fork workers are killed instead.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _ring(signum, frame):
        raise _FitTimeout

    previous = signal.signal(signal.SIGALRM, _ring)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pull_while(pull, wanted):
    """Tasks from a lazy source (``Engine.run`` with a callable) while ``wanted(n)`` holds
    for the ``n`` tasks pulled so far; ``pull()`` returns a list, ``[]`` (nothing can be
    decided yet) or None (the source is done). Returns ``(tasks, exhausted)``."""
    tasks = []
    while wanted(len(tasks)):
        more = pull()
        if more is None:
            return tasks, True
        if not more:
            break
        tasks.extend(more)
    return tasks, False


def failed_result(task, error):
    """The result dict of a fit that did not finish (see :func:`run_task`)."""
    return {
        "candidate": task.candidate,
        "split": task.split,
        "test_scores": None,
        "train_scores": None,
        "fit_time": 0.0,
        "score_time": 0.0,
        "n_test_samples": len(task.test),
        "error": error,
        "estimator": None,
    }


def _run_limited(base, X, y, task, args, fit_timeout):
    """:func:`run_task` under the ``fit_timeout`` alarm (where one can be set)."""
    start = time.perf_counter()
    try:
        with _alarm(fit_timeout):
            return run_task(base, X, y, task, *args)
    except _FitTimeout:
        if args[3] == "raise":  # error_score
            raise TimeoutError(fit_timeout_error(fit_timeout)) from None
        out = failed_result(task, fit_timeout_error(fit_timeout))
        out["fit_time"] = time.perf_counter() - start
        return out


# --------------------------------------------------------------- workers die with parent
#: Linux ``prctl`` option: the signal a process gets when the thread that forked it exits
_PR_SET_PDEATHSIG = 1
#: pid of this process once its parent watch is set (joblib workers: once per process)
_GUARDED = None


def _watch_parent(ppid, interval=0.5):
    """Kill this process as soon as its parent ``ppid`` is gone (re-parented)."""
    while True:
        time.sleep(interval)
        if os.getppid() != ppid:
            os.kill(os.getpid(), signal.SIGKILL)


def _die_with_parent(ppid, prctl=True):
    """Make this worker die with its parent process ``ppid``.

    On Linux (``prctl=True``), ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the
    worker when the parent (the thread that forked it) ends, even by SIGKILL. Elsewhere,
    and for joblib's workers (started by a pool thread that may end before them), a
    daemon thread polls ``os.getppid()`` every 0.5 s. A parent that died before this call
    is seen at once.
    """
    global _GUARDED
    _GUARDED = os.getpid()
    armed = False
    if prctl and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != ppid:
        os.kill(os.getpid(), signal.SIGKILL)
    if not armed:
        threading.Thread(target=_watch_parent, args=(ppid,), daemon=True).start()


def _run_batch(base, X, y, tasks, args, limits=(False, None), config=None):
    """joblib's task: run a batch; ``args`` are :func:`run_task`'s after ``task``.
    ``limits = (guard, fit_timeout)``: ``guard`` makes a local worker process die with
    its parent (set once per process). ``config``: the caller's scikit-learn config
    (``sklearn.get_config()``), set around the fits as ``sklearn.utils.parallel.delayed``
    does: it is thread-local, so a thread or a loky/Dask worker ran the fits and scorers
    with the defaults (``enable_metadata_routing=False``: a multi-metric scorer then
    weighted every metric, also one set with ``set_score_request(sample_weight=False)``,
    and a Pipeline refused the routed ``sample_weight``)."""
    guard, fit_timeout = limits
    if guard and _GUARDED != os.getpid():
        _die_with_parent(os.getppid(), prctl=False)
    with (contextlib.nullcontext() if config is None else _sklearn_config(config)):
        return [_run_limited(base, X, y, t, args, fit_timeout) for t in tasks]


def _caller_sklearn_config():
    """This thread's scikit-learn config, for :func:`_run_batch`."""
    from sklearn import get_config

    return get_config()


def _sklearn_config(config):
    """scikit-learn's ``config_context`` with ``config`` (a ``get_config()`` dict)."""
    from sklearn import config_context

    return config_context(**config)


# --------------------------------------------------------------------------- fork workers
#: a batch sent to a busy fork worker (queued behind its running task) must fit in the
#: pipe's buffer (64 KiB on Linux), so sending never waits for the task to end
_PREFETCH_BYTES = 32_000
#: token -> (base estimator, X, y, run_task arguments) of every running fork pool. Filled
#: in the parent *before* its workers are forked, so each worker inherits the entries
#: (and the pages of X) and a task names its data by token only. Removed when the pool
#: closes.
_SHARED = {}
_TOKENS = itertools.count()


def _fork_available():
    """True where workers may be started by ``fork``: POSIX, but not macOS (its system
    libraries are not fork-safe, which is why CPython spawns there by default)."""
    return (
        sys.platform != "darwin"
        and hasattr(os, "fork")
        and "fork" in multiprocessing.get_all_start_methods()
    )


def _default_joblib_backend(parallel):
    """True when joblib would use its default process backend (loky) because nothing
    chose another one: no ``backend=`` and nothing set in ``joblib.parallel_config``."""
    try:
        from joblib import parallel as jp

        config = getattr(jp._backend, "config", jp.default_parallel_config)
        explicit = config["backend"] is not jp.default_parallel_config["backend"]
    except (AttributeError, KeyError, ImportError):  # joblib internals moved: stay safe
        return False
    backend = getattr(parallel, "_backend", None)
    return (
        not explicit
        and type(backend).__name__ == "LokyBackend"
        and getattr(backend, "nesting_level", 0) == 0
    )


def _own_std_streams():
    """Give this fork worker a ``sys.stdout`` and ``sys.stderr`` of its own, on the
    process's file descriptors 1 and 2.

    The stream objects a fork inherits may be locked for ever: a thread of the parent (a
    notebook's output thread, a logging thread) held their lock at the moment of the
    fork, and no thread of the child releases it; the first line a fit printed
    (``verbose=True``) then hung the worker until ``fit_timeout``, or for ever without
    it. The worker writes where loky's workers (processes of their own) write: to
    descriptors 1 and 2 (a notebook captures them too). A descriptor that is not open
    leaves the inherited stream in place. A :class:`logging.StreamHandler` writing to an
    inherited stream (``logging.basicConfig()``, a library's default handler) writes to
    the new one (a fit that logs waited on the same lock).
    """
    import logging

    replaced = {}
    for name, fd in (("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        try:
            os.fstat(fd)
        except OSError:
            continue
        encoding = getattr(old, "encoding", None)
        errors = getattr(old, "errors", None)
        new = open(fd, "w", buffering=1, closefd=False,
                   encoding=encoding if isinstance(encoding, str) else "utf-8",
                   errors=errors if isinstance(errors, str) else "backslashreplace")
        setattr(sys, name, new)
        replaced[id(old)] = new
    loggers = [logging.getLogger(), *(
        x for x in list(logging.Logger.manager.loggerDict.values())
        if isinstance(x, logging.Logger))]
    for logger in loggers:
        for handler in list(logger.handlers):
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and id(stream) in replaced:
                handler.stream = replaced[id(stream)]  # (not setStream: it flushes the old)


def _fork_worker(token, conn, ppid, inherited):
    """A fork worker's loop: receive a batch, send back one message per task.

    Messages: ``("ok", result dict)`` or ``("raise", exception)`` (``error_score="raise"``).
    The worker ignores Ctrl-C (the parent owns the search and stops it), takes SIGTERM's
    default action (so ``terminate`` works whatever handler the parent had), dies with
    its parent (:func:`_die_with_parent`) and ends on ``None``, on EOF or when its parent
    is gone. It prints to standard streams of its own (:func:`_own_std_streams`).
    """
    _own_std_streams()
    for other in inherited:  # the parent's ends of the other workers' pipes
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(ppid)
    base, X, y, args = _SHARED[token]
    while True:
        try:
            if not conn.poll(1.0):
                if os.getppid() != ppid:
                    return
                continue
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for task in batch:
            try:
                message = ("ok", run_task(base, X, y, task, *args))
            except BaseException as exc:  # error_score="raise": the parent re-raises
                message = ("raise", exc)
            try:
                conn.send(message)
            except Exception:  # unpicklable result or exception: send its text
                conn.send(("raise", RuntimeError(traceback.format_exc())))


def _stop(processes):
    """Terminate the processes still alive and wait for them (then SIGKILL)."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


class _DeferredInterrupt:
    """While fork workers run, Ctrl-C (and SIGTERM) set a flag; :meth:`check` raises it
    at a safe point.

    The parent's main thread waits on the workers' pipes in short waits; deferring the
    interrupt to :meth:`check` (after each wait, once the results that arrived are handed
    on) means it never lands between receiving a result and handing it on, so every
    finished fit is kept.
    SIGINT is taken over only from Python's default handler or
    :func:`interrupts_deferrable`'s, SIGTERM only from :func:`sigterm_as_interrupt`'s; a
    signal that arrives after the last check is raised on exit. ``check`` raises
    ``KeyboardInterrupt`` for Ctrl-C and :class:`SearchTerminated` for SIGTERM.
    """

    _TAKEN = {
        signal.SIGINT: ((signal.default_int_handler, _raise_interrupt), KeyboardInterrupt),
        signal.SIGTERM: ((_raise_terminated,), SearchTerminated),
    }

    def __init__(self):
        self.hit = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum, (handlers, _) in self._TAKEN.items():
                if signal.getsignal(signum) in handlers:
                    self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def _handler(self, signum, frame):
        self.hit = self.hit or signum

    def check(self):
        if self.hit is not None:
            signum, self.hit = self.hit, None
            exc = self._TAKEN[signum][1]
            raise exc("SIGTERM") if exc is SearchTerminated else exc

    def __exit__(self, exc_type, *exc):
        for signum, previous in self._previous.items():
            # only where ours is still installed: one exit that came late (the generator
            # of a run closed after the search had given back the caller's handlers) put
            # back hpsearch's, which then stayed installed in the process
            if signal.getsignal(signum) == self._handler:
                signal.signal(signum, previous)
        self._previous = {}
        if exc_type is None:
            self.check()
        return False


class _Worker:
    """One fork worker as the parent sees it: its process, its pipe, the tasks sent to
    it in order (``[task, attempts]``; the first is running) and since when the first
    one runs."""

    def __init__(self, process, conn):
        self.process = process
        self.conn = conn
        self.queue = deque()
        self.since = None


class _ForkPool:
    """Worker processes started by ``fork`` that inherit the search's data.

    Each worker has its own pipe, so the parent knows which task each one runs and since
    when. That is what makes the pool robust:

    - **A dead worker is replaced, not fatal.** The task it was running is sent again to
      a fresh worker, up to ``max_retries`` times; beyond that it becomes a failed fit
      with the error ``"worker died: SIGSEGV"`` (the signal or exit code). The tasks
      queued behind it run again without counting an attempt.
    - **fit_timeout.** A task running longer than ``fit_timeout`` seconds has its worker
      killed (SIGKILL) and replaced; it becomes a failed fit
      (``"fit exceeded fit_timeout=2s"``), never retried.
    - **deadline.** Past the search's deadline no task is sent; the tasks running then
      are stopped (their workers killed) and yield nothing: they count as not run.
    - **Workers die with the parent** (:func:`_die_with_parent`), and Ctrl-C / SIGTERM
      are deferred to a safe point (:class:`_DeferredInterrupt`).

    The first workers are forked by :meth:`start`, before the search starts any thread
    (progress bar, store); a replacement is forked from the running search (its child
    only runs the worker loop and the fits, never the parent's other threads' locks).
    Each worker holds at most its running batch plus one more queued behind it (only
    when that one fits in the pipe's buffer, so the parent never waits on a send).
    """

    def __init__(self, n_workers, payload, *, fit_timeout=None, max_retries=1):
        self.n_workers = n_workers
        self.token = f"{os.getpid()}-{next(_TOKENS)}"
        self.payload = payload
        self.fit_timeout = fit_timeout
        self.max_retries = max_retries
        self.error_score = payload[3][3]
        self.context = multiprocessing.get_context("fork")
        self.workers = []
        self.expired = False
        #: counts of what happened, for reports: replaced workers, retried tasks
        self.n_replaced = 0
        self.n_retried = 0

    def start(self):
        _SHARED[self.token] = self.payload
        for _ in range(self.n_workers):
            self.workers.append(self._spawn())
        return self

    def _spawn(self):
        parent_conn, child_conn = self.context.Pipe()
        inherited = [w.conn for w in self.workers]
        process = self.context.Process(
            target=_fork_worker,
            args=(self.token, child_conn, os.getpid(), inherited),
            daemon=True,
        )
        with warnings.catch_warnings():
            # Python >= 3.12 warns when forking a process that runs other threads (a
            # thread could hold a lock the child then needs). The child runs only the
            # worker loop and the fits: it never uses locks of the parent's other
            # threads. Use backend="loky" to start workers without fork.
            warnings.filterwarnings(
                "ignore", message=".*fork.*", category=DeprecationWarning
            )
            process.start()
        child_conn.close()
        return _Worker(process, parent_conn)

    def _replace(self, index):
        """Reap worker ``index`` (killing it first) and fork a fresh one in its place."""
        worker = self.workers[index]
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
        self.workers[index] = self._spawn()
        self.n_replaced += 1
        return worker.process.exitcode

    # -- the loop --------------------------------------------------------------------
    def run(self, batches, deadline=None):
        """Yield the result dict of every task, in completion order."""
        todo = deque([[task, 0] for task in batch] for batch in batches)
        with _DeferredInterrupt() as interrupt:
            while todo or any(w.queue for w in self.workers):
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    self._expire()
                    return
                yield from self._exchange(todo, now, deadline, interrupt)

    def run_lazy(self, pull, deadline=None, wakeup=None):
        """Yield results like :meth:`run`, with tasks pulled from ``pull`` only when a
        worker is idle (see :meth:`Engine.run`); no task waits behind a running one, so
        each is decided as late as possible. ``wakeup``: a file descriptor that becomes
        readable when ``pull`` may have new tasks (nested CV's one pool: a search thread
        submitted some), waited on with the workers while one of them is idle."""
        todo, exhausted = deque(), False
        with _DeferredInterrupt() as interrupt:
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    self._expire()
                    return
                idle = sum(1 for w in self.workers if not w.queue)
                if not exhausted:
                    more, exhausted = pull_while(pull, lambda n: len(todo) + n < idle)
                    todo.extend([[task, 0]] for task in more)
                busy = [w for w in self.workers if w.queue]
                if not todo and not busy:
                    return  # nothing to start and nothing running: the source is done
                yield from self._exchange(todo, now, deadline, interrupt, prefetch=False,
                                          wakeup=wakeup)

    def _exchange(self, todo, now, deadline, interrupt, prefetch=True, wakeup=None):
        """One round: send what idle workers can take, wait for a result, a death or the
        next time limit, hand on every result received, then raise a deferred Ctrl-C /
        SIGTERM (after the results: finished fits are never dropped)."""
        self._dispatch(todo, now, prefetch=prefetch)
        busy = [w for w in self.workers if w.queue]
        idle = [wakeup] if wakeup is not None and len(busy) < len(self.workers) else []
        wait(
            [w.conn for w in busy] + [w.process.sentinel for w in busy] + idle,
            timeout=self._wait_time(busy, now, deadline),
        )
        for index, worker in enumerate(self.workers):
            yield from self._drain(index, worker, todo)
        while interrupt.hit is not None and any(w.queue and w.conn.poll()
                                                for w in self.workers):
            # results that came back while the caller took the last ones (was: dropped
            # with the workers, fitted again by the resume)
            for index, worker in enumerate(self.workers):
                yield from self._drain(index, worker, todo)
        interrupt.check()

    def _dispatch(self, todo, now, prefetch=True):
        """Send a batch to every worker that is idle, or (``prefetch``) on its last task
        when the batch is small enough to wait in the pipe's buffer (a larger one would
        block the parent until that task ends)."""
        for index, worker in enumerate(self.workers):
            if todo and len(worker.queue) <= (1 if prefetch else 0):
                batch = todo[0]
                payload = ForkingPickler.dumps([task for task, _ in batch])
                if worker.queue and len(payload) > _PREFETCH_BYTES:
                    continue
                try:
                    worker.conn.send_bytes(payload)
                except OSError:  # died while idle: nothing of ours was running
                    if not worker.queue:
                        self._replace(index)
                    continue
                todo.popleft()
                if not worker.queue:
                    worker.since = now
                worker.queue.extend(batch)

    def _wait_time(self, busy, now, deadline):
        """At most 0.1 s (a Ctrl-C is seen at once), less before a fit or search limit."""
        limits = [0.1]
        if deadline is not None:
            limits.append(deadline - now)
        if self.fit_timeout is not None and busy:
            limits.append(min(w.since for w in busy) + self.fit_timeout - now)
        return max(0.0, min(limits))

    def _drain(self, index, worker, todo):
        """Results ready from one worker; then its death or timeout, if any."""
        # alive before draining: a result written just before dying is still read
        dead = not worker.process.is_alive()
        dead = (yield from self._received(worker)) or dead
        if not worker.queue:
            return
        if dead:
            reason = _exit_reason(self._replace(index))
            yield from self._retry(worker.queue, todo, worker_died_error(reason))
        elif (self.fit_timeout is not None
              and time.monotonic() - worker.since >= self.fit_timeout):
            self._replace(index)
            task, _ = worker.queue.popleft()
            if self.error_score == "raise":
                raise _of_task(TimeoutError(fit_timeout_error(self.fit_timeout)), task)
            out = failed_result(task, fit_timeout_error(self.fit_timeout))
            out["fit_time"] = float(self.fit_timeout)
            if worker.queue:
                todo.appendleft(list(worker.queue))
            yield out

    def _retry(self, queue, todo, error):
        """The running task of a dead worker: again (attempt + 1), or failed past
        ``max_retries``; the tasks queued behind it go back to the front."""
        task, attempts = queue.popleft()
        rest = list(queue)
        if attempts < self.max_retries:
            self.n_retried += 1
            rest.insert(0, [task, attempts + 1])
        elif self.error_score == "raise":
            raise _of_task(WorkerDied(f"{error} (fitting candidate {task.candidate}, "
                                      f"split {task.split}, {attempts + 1} attempt(s))"),
                           task)
        else:
            yield failed_result(task, error)
        if rest:
            todo.appendleft(rest)

    @staticmethod
    def _received(worker, strict=True):
        """Yield the results already in ``worker``'s pipe, read without waiting, each
        task's taken off its queue; return whether the pipe broke (the worker died). A
        task's error (``error_score="raise"``) is raised with ``strict``, else ends the
        reading (its task left on the queue)."""
        while worker.queue:
            try:
                if not worker.conn.poll():
                    return False
                status, value = worker.conn.recv()
            except (EOFError, OSError):
                return True
            if status == "raise":
                if strict:
                    raise _of_task(value, worker.queue[0][0])
                return False
            worker.queue.popleft()
            worker.since = time.monotonic()
            yield value
        return False

    def ready(self):
        """The results already in the workers' pipes, read without waiting (for a caller
        that stops taking results: they are kept, not dropped with the workers)."""
        return [out for worker in self.workers
                for out in self._received(worker, strict=False)]

    def _expire(self):
        """The search's deadline: stop the running fits (they count as not run)."""
        self.expired = True
        for worker in self.workers:
            if worker.queue:
                worker.queue.clear()
                worker.process.kill()
                worker.process.join(timeout=5)

    def close(self, terminate=False):
        """Stop the workers (at once with ``terminate``) and drop the shared entry."""
        workers, self.workers = self.workers, []
        try:
            for worker in workers:
                if not terminate:
                    try:
                        worker.conn.send(None)
                    except OSError:
                        pass
            if not terminate:
                for worker in workers:
                    worker.process.join(timeout=5)
            _stop([w.process for w in workers])
        finally:
            for worker in workers:
                worker.conn.close()
            _SHARED.pop(self.token, None)


class Engine:
    """Runs tasks through joblib and streams their results back as they finish.

    Parameters
    ----------
    base_estimator : estimator
        Cloned for every fresh fit.
    X, y : array-like
        Full data; folds are index arrays into them.
    scorer : callable
        ``scorer(estimator, X, y)`` returning a float or a dict of floats.
    fit_params : dict
        Extra ``fit`` arguments (sliced per fold when they are per-sample arrays).
    score_params : dict
        Extra scorer arguments (``sample_weight``), sliced per fold like ``fit_params``.
    partial_fit_params : dict or None
        Extra ``partial_fit`` arguments of a continuation by ``partial_fit`` (what
        metadata routing routes to ``partial_fit``); None: ``fit_params``.
    n_jobs : int or None
        As in joblib (None: the current ``joblib.parallel_config``).
    backend : str, joblib backend or None
        None ("auto"): fork workers (see the module docstring) where joblib would use its
        default loky backend and ``fork`` is available, else the active
        ``joblib.parallel_config`` (so ``with joblib.parallel_config(backend="dask"):``
        runs on a Dask cluster). ``"fork"``: fork workers (ValueError where ``fork`` is
        not available). ``"multiprocessing"``: fork workers where ``fork`` is available
        (they *are* multiprocessing processes started by fork, with the robustness
        below), else joblib's multiprocessing backend; the same when
        ``joblib.parallel_config`` selects it. Any other name or backend object: joblib
        with that backend.
    pre_dispatch : int or str
        As in joblib (joblib backends; a fork worker holds one batch queued at most).
    return_train_score : bool
    error_score : float or "raise"
    verbose : int
        joblib's verbosity is ``max(0, verbose - 2)``.
    fit_timeout : float or None
        Seconds one task (fit and scoring) may run. Fork workers: the worker is killed
        and replaced, the task becomes a failed fit (``"fit exceeded fit_timeout=2s"``);
        with ``n_jobs=1`` the fits then run in one fork worker so they can be stopped.
        joblib process backends and in-process fits where fork is unavailable: an alarm
        (SIGALRM) raises inside the fit (a single long C call ends first). Thread and
        Dask backends: not enforced (a warning says so).
    max_retries : int
        How many times a task whose worker died is run again in a fresh worker before it
        becomes a failed fit (``"worker died: SIGSEGV"``). On joblib backends, which do
        not tell which task killed a worker, a death counts against every task in
        flight. On Dask a death is a call Dask gave up on (``KilledWorker``: it already
        ran it again ``distributed.scheduler.allowed-failures`` times) or one whose
        scattered data was lost with a worker; it counts against that call's tasks. A
        scatter of a call's data left waiting by a worker that left (or past Dask's
        setting ``hpsearch.scatter-timeout``, :func:`_scatter_timeout`) is no death:
        the call's data goes with its task (:func:`_bounded_scatter`).
    timeout : float or None
        Seconds for the whole engine from ``__enter__``: no task starts after it.
        Fork workers (also for ``n_jobs=1``): the tasks running at the deadline are
        stopped and yield nothing (not run, so a resume runs them). joblib backends:
        the deadline is checked as results arrive, so running tasks finish first; at
        the first result after it, every result back by then is yielded and the tasks
        still running are stopped (not run).
    max_fits : int or None
        An upper bound on the fits this engine will run (None: unknown). Fork workers
        only: the pool starts at most that many processes (``n_jobs=100`` for 10 fits
        forks 10), while :attr:`n_workers` stays what ``n_jobs`` gives, so the
        strategies decide as with every worker (their results do not change). joblib
        backends get ``n_jobs`` as given, as in scikit-learn.
    """

    def __init__(
        self,
        base_estimator,
        X,
        y,
        *,
        scorer,
        fit_params=None,
        score_params=None,
        partial_fit_params=None,
        n_jobs=None,
        backend=None,
        pre_dispatch="2*n_jobs",
        return_train_score=False,
        error_score=np.nan,
        verbose=0,
        fit_timeout=None,
        max_retries=1,
        timeout=None,
        max_fits=None,
    ):
        if backend == "fork" and not _fork_available():
            raise ValueError(
                "The 'backend' parameter is 'fork', but this platform cannot start "
                "worker processes by fork. Use backend=None or 'loky'."
            )
        self.base_estimator = base_estimator
        self.X, self.y = X, y
        self.scorer = scorer
        self.fit_params = fit_params or {}
        self.score_params = score_params or {}
        # (None: a continuation by partial_fit gets fit_params, as without routing)
        self.partial_fit_params = partial_fit_params
        self.n_jobs = n_jobs
        self.backend = backend
        self.pre_dispatch = pre_dispatch
        self.return_train_score = return_train_score
        self.error_score = error_score
        self.verbose = verbose
        self.fit_timeout = fit_timeout
        self.max_retries = max_retries
        self.timeout = timeout
        self.max_fits = max_fits
        self._parallel = None
        self._pool = None
        self._tmpdir = None
        self._sigterm = None
        self._scheduler = None  # the Dask scheduler's address, once entered on Dask
        self._task_seconds = [0.0, 0]  # (sum, count) of the fit + score times seen
        #: result dicts back in this process that the caller of :meth:`run` has not
        #: taken yet (:meth:`stop` hands them out when it stops taking them)
        self._pending = deque()
        #: the result generators of :meth:`run` not finished yet (closed on ``__exit__``)
        self._runs = weakref.WeakSet()
        self.deadline = None
        #: True once ``timeout`` stopped the engine (later ``run`` calls yield nothing)
        self.expired = False
        #: which path runs the fits once entered: "in-process", "fork" or
        #: "joblib:<backend class>"
        self.kind = None

    @property
    def not_run_error(self):
        """The error text of a fit the search's ``timeout`` left unrun."""
        return f"{NOT_RUN}{_seconds(self.timeout)} was reached"

    def _make_parallel(self):
        """joblib's ``Parallel`` streaming results as they finish, or in order / as one
        list for backends that cannot stream (joblib's multiprocessing backend)."""
        backend = self.backend
        if backend == "fork" or (backend == "multiprocessing" and _fork_available()):
            backend = None  # only to count the workers: fork workers run the fits
        config = contextlib.nullcontext  # (joblib's parallel_config acts when made)
        if isinstance(backend, str) and backend in _external_backends():
            # backend="dask": joblib's Parallel refused the name unless a parallel_config
            # had registered it ("Invalid backend: dask"), and then passed its own
            # nesting_level to every task ("Batch.__call__() got an unexpected keyword
            # argument 'nesting_level'"); parallel_config makes the backend as
            # ``with joblib.parallel_config(backend="dask")`` does
            config, backend = functools.partial(joblib.parallel_config, backend), None
        for return_as in ("generator_unordered", "generator", "list"):
            try:
                with config():
                    return _never_sequential_on_dask(joblib.Parallel(
                        n_jobs=self.n_jobs,
                        backend=backend,
                        pre_dispatch=self.pre_dispatch,
                        return_as=return_as,
                        verbose=max(0, self.verbose - 2),
                    ))
            except ValueError:
                if return_as == "list":
                    raise

    def _uses_fork(self, backend):
        """Whether fork workers run the fits (``backend`` is joblib's class name)."""
        if not _fork_available() or _on_dask(self._parallel):
            return False  # (Dask: the user's cluster runs the fits, never this machine)
        if self.n_workers == 1:  # only to stop a fit at a time limit
            return self.fit_timeout is not None or self.timeout is not None
        return self.backend in ("fork", "multiprocessing") or (
            self.backend is None
            and (backend == "MultiprocessingBackend"  # set in joblib.parallel_config
                 or _default_joblib_backend(self._parallel))
        )

    def __enter__(self):
        self._data = (self.X, self.y)
        self.deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self.expired = False
        self._parallel = self._make_parallel()
        backend = _backend_name(self._parallel)
        client = getattr(self._parallel._backend, "client", None)  # Dask
        self._scheduler = getattr(getattr(client, "scheduler", None), "address", None)
        try:
            self.n_workers = _n_workers(self._parallel)
        except Exception as exc:
            self._check_scheduler(exc)
            raise
        if _on_dask(self._parallel):
            _scatter_timeout()  # (a bad setting named now, not when a scatter hangs)
        if self._uses_fork(backend):
            args = self._task_args()
            payload = (self.base_estimator, self.X, self.y, args)
            self._pool = _ForkPool(self._n_processes(), payload,
                                   fit_timeout=self.fit_timeout,
                                   max_retries=self.max_retries)
            try:
                self._pool.start()
            except BaseException:
                self._pool.close(terminate=True)
                self._pool = None
                raise
            self.kind = "fork"
        elif self.n_workers == 1 and not _on_dask(self._parallel):
            self.kind = "in-process"
        else:
            self.kind = f"joblib:{backend}"
            if backend in _LOCAL_PROCESS_BACKENDS:
                self._share_arrays()
            elif self.fit_timeout is not None:
                warnings.warn(fit_timeout_not_enforced(self.fit_timeout, backend),
                              UserWarning)
        self._sigterm = sigterm_as_interrupt()
        self._sigterm.__enter__()
        return self

    def _n_processes(self):
        """Fork workers to start: ``n_workers``, at most ``max_fits`` (at least one)."""
        if self.max_fits is None:
            return self.n_workers
        return max(1, min(self.n_workers, int(self.max_fits)))

    def __exit__(self, exc_type, *exc):
        # the runs a caller left suspended (an exception in its own code while it took a
        # result keeps them alive in its traceback) end first, in this order: closed
        # later, a fork pool's run put back the SIGINT and SIGTERM handlers it had found
        # (hpsearch's, installed for the search), after the search had given back the
        # caller's: they stayed installed in the process
        for results in list(self._runs):
            if inspect.getgeneratorstate(results) == inspect.GEN_SUSPENDED:
                with contextlib.suppress(Exception):
                    results.close()
        self._runs = weakref.WeakSet()
        self._parallel = None
        try:
            if self._pool is not None:
                pool, self._pool = self._pool, None
                pool.close(terminate=exc_type is not None)
        finally:
            if self._sigterm is not None:
                self._sigterm.__exit__(None, None, None)
                self._sigterm = None
            self.X, self.y = self._data
            if self._tmpdir is not None:
                self._tmpdir.cleanup()
                self._tmpdir = None

    def _task_args(self):
        """The arguments of :func:`run_task` after ``(base, X, y, task)``."""
        return (self.scorer, self.fit_params, self.return_train_score, self.error_score,
                self.score_params, self.partial_fit_params)

    def _share_arrays(self):
        """Dump large NumPy X (and y) once to a file and memory-map it.

        joblib pickles a ``np.memmap`` as a reference to its file, so every task ships
        only the file name: no per-task hashing or copying of ``X``.
        """
        for name in ("X", "y"):
            value = getattr(self, name)
            if isinstance(value, np.ndarray) and value.nbytes > _MEMMAP_BYTES:
                if self._tmpdir is None:
                    self._tmpdir = tempfile.TemporaryDirectory(prefix="hpsearch-")
                path = os.path.join(self._tmpdir.name, f"{name}.pkl")
                joblib.dump(value, path)
                setattr(self, name, joblib.load(path, mmap_mode="r"))

    def _batches(self, tasks):
        """Group tiny tasks so each dispatch carries several (fewer round trips).

        Guided self-scheduling: each batch takes ``remaining / (4 x n_workers)`` tasks
        (between 1 and 8), so batches shrink towards the end and the workers finish
        within about one fit of each other instead of one batch. Which worker runs a
        task never changes its result (seeds are per task), and a worker that dies or is
        stopped loses only its running task: fork workers report each task, the tasks
        queued behind it run again.
        """
        batches, start = [], 0
        while start < len(tasks):
            size = self._guided_size(len(tasks) - start)
            batches.append(tasks[start : start + size])
            start += size
        return batches

    def _guided_size(self, remaining):
        """The size of the next batch of :meth:`_batches` with ``remaining`` tasks left."""
        if self.n_workers == 1:
            return 1
        return min(8, max(1, remaining // (4 * self.n_workers)))

    def _joblib_batches(self, tasks):
        """:meth:`_batches` for joblib, each batch holding at most :data:`_BATCH_SECONDS`
        of fits by the mean fit and score time of the results seen so far, one task
        until a result came back; a generator, so joblib's later dispatches use the
        times of the results before them.

        Was: up to 8 tasks whatever their time; joblib returns a batch's results
        together, so a Ctrl-C, SIGTERM or SIGKILL (or the ``timeout``, a dead worker)
        lost the finished fits of every batch still running: on loky (the default
        where fork is not available), 1 to 7 finished fits per worker that the resume
        ran again (fork workers report each task)."""
        start = 0
        while start < len(tasks):
            total, count = self._task_seconds
            size = self._guided_size(len(tasks) - start)
            if count == 0:
                size = 1
            elif total > 0:
                size = min(size, max(1, int(_BATCH_SECONDS * count / total)))
            yield tasks[start : start + size]
            start += size

    def time_is_up(self):
        """Whether the ``timeout`` has passed (then ``expired`` is True)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.expired = True
        return self.expired

    def run(self, tasks, wakeup=None):
        """Run ``tasks``; yield result dicts (see :func:`run_task`) as they finish.

        A result counts as taken once the caller asks for the next one: when the caller
        stops (a Ctrl-C or SIGTERM raised in its own code, while it records a result or
        between two), :meth:`stop` returns the one it was given last and every other
        result that had come back, so none is lost.

        Nothing is yielded for tasks the ``timeout`` left unrun (``expired`` is then
        True).

        ``tasks`` may also be a callable ``pull()`` (asynchronous strategies, ASHA): it
        is called whenever a worker is idle and no pulled task waits, and returns a list
        of tasks to start now, an empty list (nothing now: the engine waits for a
        result, which the caller sees before the next pull) or None (no more ever). The
        run ends when ``pull`` returned None, or returned nothing while nothing runs.
        Only fork workers and ``n_jobs=1`` in-process run pull lazily
        (:attr:`pulls_lazily`); joblib backends refuse a callable. ``wakeup`` (fork
        workers): a file descriptor readable when ``pull`` may have new tasks, so an idle
        worker gets them at once (:meth:`_ForkPool.run_lazy`).
        """
        self._pending = deque()
        results = self._run(tasks, wakeup)
        self._runs.add(results)
        given = []  # the result the caller was given last, until it asks for the next
        try:
            for out in results:
                given.append(out)
                yield out
                given.clear()
        except BaseException:  # (GeneratorExit: the caller stopped taking results)
            results.close()  # (the paths put what had come back in ``_pending``)
            self._pending.extendleft(given)
            raise

    def stop(self, results):
        """Stop the generator ``results`` of :meth:`run` (its tasks not finished are
        stopped or dropped, as on any exception) and return the result dicts that had
        come back to this process but were not taken: the one given last (it may be
        taken already: the caller checks), and those finished meanwhile, held by joblib
        or in a fork worker's pipe. For a caller stopped by a Ctrl-C or SIGTERM in its
        own code, which records them before the interrupt goes on (a resume then fits
        only the missing fits; was: lost, fitted again)."""
        started = inspect.getgeneratorstate(results) != inspect.GEN_CREATED
        results.close()
        pending, self._pending = self._pending, deque()
        if not started:  # (what is pending is an earlier run's)
            return []
        seen, outs = set(), []
        for out in pending:
            key = (out.get("candidate"), out.get("split"))
            if key not in seen:
                seen.add(key)
                outs.append(out)
        return outs

    def _run(self, tasks, wakeup=None):
        if self._parallel is None:
            with self:
                yield from self._run(tasks, wakeup)
            return
        if self.time_is_up():
            return
        if callable(tasks):
            yield from self._run_lazy(tasks, wakeup)
            return
        tasks = list(tasks)
        pool = self._pool
        if pool is not None:
            try:
                yield from pool.run(self._batches(tasks), self.deadline)
            except GeneratorExit:  # (our caller left: :meth:`stop` takes what came back;
                self._pending.extend(pool.ready())  # none once the pool is closed)
                raise
            self.expired = self.expired or pool.expired
            return
        if self.kind == "in-process":
            yield from self._run_in_process(tasks)
            return
        yield from self._run_joblib(tasks)

    def will_fork(self):
        """``(fork, n_workers)``: whether entering the engine starts fork workers, and how
        many workers run the fits; nothing is started (nested CV decides on one pool)."""
        self._parallel = self._make_parallel()
        try:
            self.n_workers = _n_workers(self._parallel)
            return self._uses_fork(_backend_name(self._parallel)), self.n_workers
        finally:
            self._parallel = None

    @property
    def pulls_lazily(self):
        """Whether :meth:`run` accepts a callable source (fork workers, or in-process)."""
        return self._pool is not None or (self.n_workers == 1
                                          and not _on_dask(self._parallel))

    def _run_lazy(self, pull, wakeup=None):
        pool = self._pool
        if pool is not None:
            try:
                yield from pool.run_lazy(pull, self.deadline, wakeup)
            except GeneratorExit:  # (as in :meth:`_run`)
                self._pending.extend(pool.ready())
                raise
            self.expired = self.expired or pool.expired
            return
        if not self.pulls_lazily:
            raise ValueError(
                f"Engine.run pulls tasks lazily only on fork workers or in-process, not "
                f"on {self.kind}; pass a list of tasks."
            )
        while not self.time_is_up():
            more = pull()
            if not more:
                return
            yield from self._run_in_process(more)

    def _run_in_process(self, tasks):
        """No pickling, results one by one; ``timeout`` checked between fits."""
        args = self._task_args()
        for task in tasks:
            if self.time_is_up():
                return
            yield _run_limited(self.base_estimator, self.X, self.y, task, args,
                               self.fit_timeout)

    def _run_joblib(self, tasks):
        """:meth:`_run_joblib_rounds`; on Dask any error after the client lost its
        scheduler (``AttributeError``, ``CancelledError``, ... from inside Dask) is
        :class:`WorkerDied` naming the scheduler."""
        try:
            yield from self._run_joblib_rounds(tasks)
        except WorkerDied:
            raise
        except Exception as exc:
            self._check_scheduler(exc)
            raise

    def _run_joblib_rounds(self, tasks):
        """Through joblib. A broken pool (a worker died) is not fatal.

        joblib does not tell which task killed the worker, so the tasks unfinished at
        the break are run again one at a time (each alone in the pool): one that kills
        its worker there is the culprit. Every such task counts the break as one death
        and each death alone as one more; past ``max_retries`` deaths it is a failed
        fit (``"worker died: SIGSEGV"``). The tasks that were only in flight with it
        just finish.

        On Dask: :meth:`_run_dask_rounds` (a lost scheduler ends the search, naming it).
        """
        if _on_dask(self._parallel):
            yield from self._run_dask_rounds(tasks)
            return
        done = set()
        try:
            yield from self._joblib_round(tasks, done)
            return
        except _WORKER_DEATHS:
            self._restart_joblib_pool()
        yield from self._run_alone([t for t in tasks if (t.candidate, t.split) not in done],
                                   done, _WORKER_DEATHS)

    def _run_dask_rounds(self, tasks):
        """On Dask, a lost worker is not fatal either: Dask gave a call up
        (``KilledWorker``: every worker it ran on died, after Dask's own
        ``distributed.scheduler.allowed-failures`` retries) or lost the data joblib
        scattered for it (``FutureCancelledError``: the only worker holding it died).
        Dask says which call it lost, so only that call's unfinished tasks are run again
        one at a time (:meth:`_run_alone`, counting deaths as on joblib's pools: one that
        kills its worker alone more than ``max_retries`` times is a failed fit,
        ``"worker died: KilledWorker"``), then the other unfinished tasks in parallel
        again (a new joblib call: their data scattered anew). Every loss moves at least
        one task to a lone run, so the rounds end."""
        done = set()
        todo = list(tasks)
        while todo:
            try:
                yield from self._joblib_round(todo, done)
                return
            except _cluster_losses() as exc:
                self._check_scheduler(exc)
                unfinished = [t for t in todo if (t.candidate, t.split) not in done]
                lost = getattr(exc, "_hpsearch_tasks", None)
                suspects = [t for t in unfinished if lost is None
                            or (t.candidate, t.split) in lost] or unfinished
            if self.time_is_up():
                return
            yield from self._run_alone(suspects, done, _cluster_losses())
            if self.expired:
                return
            todo = [t for t in unfinished if (t.candidate, t.split) not in done]

    def _run_alone(self, tasks, done, deaths_types):
        """Each of ``tasks`` (in flight at a worker death: one death already) in a call
        of its own; a death there is one more; past ``max_retries`` deaths it is a
        failed fit (``error_score="raise"``: :class:`WorkerDied`)."""
        for task in tasks:
            deaths = 1
            while not self.time_is_up():
                try:
                    yield from self._joblib_round([task], done)
                    break
                except deaths_types as exc:
                    self._check_scheduler(exc)
                    self._restart_joblib_pool()
                    if (task.candidate, task.split) in done:
                        break  # it finished: a late report of an earlier death
                    error = worker_died_error(_joblib_death_reason(exc))
                    deaths += 1
                    if deaths > self.max_retries:
                        if self.error_score == "raise":
                            raise WorkerDied(error) from exc
                        done.add((task.candidate, task.split))
                        yield failed_result(task, error)
                        break
            if self.expired:
                return

    def _check_scheduler(self, exc):
        """On Dask, :class:`WorkerDied` naming the scheduler if the client lost it (after
        a lost task, given a second to notice: it learns it a moment later)."""
        if self._parallel is None or not _on_dask(self._parallel):
            return
        client = self._parallel._backend.client
        for _ in range(20 if isinstance(exc, _cluster_losses()) else 0):
            if client.status != "running":
                break
            time.sleep(0.05)
        if client.status != "running":
            raise WorkerDied(_scheduler_lost_message(client, self._scheduler, exc)) from exc

    def _joblib_round(self, tasks, done):
        """One joblib ``Parallel`` call over ``tasks``; ``done`` collects finished keys.

        Every result back from joblib goes through ``_pending`` and leaves it only once
        the caller asked for the next one, so whatever stops the call (the caller
        stopped taking results: a Ctrl-C or SIGTERM in the search's own code, joblib's
        abort, the ``timeout``) leaves the results that had come back there (:meth:`stop`)
        or hands them out before the error goes on; were lost: the rest of the batch
        being handed out and the batches joblib held."""
        args = self._task_args()
        guard = self.kind.split(":")[-1] in _LOCAL_PROCESS_BACKENDS
        limits = (guard, self.fit_timeout)
        config = _caller_sklearn_config()  # (the fork workers inherit it)
        calls = (
            joblib.delayed(_run_batch)(self.base_estimator, self.X, self.y, batch,
                                       args, limits, config)
            for batch in self._joblib_batches(tasks)
        )
        rescued, outputs, pending = [], iter(()), self._pending
        with _rescue_on_abort(self._parallel, rescued):
            try:
                outputs = iter(self._parallel(calls))
                for results in outputs:
                    pending.extend(results)
                    yield from self._handed_out(done)
                    if self.time_is_up():
                        _stop_outputs(self._parallel, outputs, rescued)
                        break
            except GeneratorExit:  # (our caller left: :meth:`stop` takes what came back)
                _stop_outputs(self._parallel, outputs, rescued)
                self._keep(rescued, done)
                raise
            except BaseException:  # (joblib aborted, or stop it now)
                _stop_outputs(self._parallel, outputs, rescued)
                self._keep(rescued, done)
                yield from self._handed_out(done)
                raise
        self._keep(rescued, done)
        yield from self._handed_out(done)

    def _keep(self, rescued, done):
        """Put the results of the batches ``rescued`` from joblib in ``_pending``, but
        those handed out already or there."""
        pending = self._pending
        known = done | {(out["candidate"], out["split"]) for out in pending}
        pending.extend(out for results in rescued for out in results
                       if (out["candidate"], out["split"]) not in known)
        rescued.clear()

    def _handed_out(self, done):
        """Yield the result dicts in ``_pending``, each removed (counted as done, its
        time for :meth:`_joblib_batches`) once the caller asks for the next."""
        pending = self._pending
        while pending:
            out = pending[0]
            yield out
            pending.popleft()
            done.add((out["candidate"], out["split"]))
            self._task_seconds[0] += out["fit_time"] + out["score_time"]
            self._task_seconds[1] += 1

    def _restart_joblib_pool(self):
        """Kill what is left of a broken joblib pool, so the next call starts a fresh
        one (instead of meeting the old one's error again)."""
        backend = getattr(self._parallel, "_backend", None)
        try:
            backend.abort_everything(ensure_ready=False)
        except Exception:  # already torn down, or a backend without workers
            pass


@contextmanager
def _rescue_on_abort(parallel, rescued):
    """While inside: when joblib aborts a call of ``parallel`` (a Ctrl-C or SIGTERM in
    the main thread, the ``timeout`` closing its generator, a dead worker, a task's
    error), the results of the calls that had finished and come back to this process
    are appended to ``rescued`` (one list per call: the result dicts of a
    :func:`_run_batch`; the caller drops those it handed out already).

    joblib's ``Parallel._get_outputs`` calls ``_abort()`` and then drops its queue of
    finished batches (``_jobs``): on loky, threading or Dask their fits were lost and a
    resume ran them again. So is a batch joblib's main loop had taken off that queue
    but not yet handed on (an interrupt between the two): every batch dispatched is
    followed (``_register_new_job``) and the last one retrieved is kept. joblib
    internals (``_abort``, ``_register_new_job``, ``_jobs``, ``_lock``, a batch's
    ``status``, ``_result`` and ``get_result``) are used only where present: else
    nothing is rescued, as before.
    """
    abort = getattr(parallel, "_abort", None)
    if not callable(abort):
        yield
        return
    trackers, retrieved = [], []  # batches dispatched; the last one joblib retrieved
    register = getattr(parallel, "_register_new_job", None)

    def following(tracker):
        register(tracker)
        trackers.append(tracker)
        get = getattr(tracker, "get_result", None)
        if callable(get):
            def get_result(*args, **kwargs):
                result = get(*args, **kwargs)
                retrieved[:] = [result]  # (joblib hands one batch on before the next)
                return result

            tracker.get_result = get_result

    def rescuing_abort():
        try:
            abort()  # (stops joblib's callbacks registering more results)
        finally:
            try:
                rescued.extend(_finished_batches(parallel, trackers))
                rescued.extend(results for batch in retrieved if isinstance(batch, list)
                               for results in batch)
            except Exception:  # joblib internals not as expected: rescue nothing
                pass

    parallel._abort = rescuing_abort
    if callable(register):
        parallel._register_new_job = following
    try:
        yield
    finally:
        for name, patched in (("_abort", rescuing_abort), ("_register_new_job", following)):
            if vars(parallel).get(name) is patched:
                delattr(parallel, name)


def _stop_outputs(parallel, outputs, rescued):
    """Stop the call of ``parallel`` whose results ``outputs`` yields: while joblib still
    waits for workers, close it (joblib aborts: :func:`_rescue_on_abort` puts its
    finished calls' results in ``rescued``); past that (every call finished and joblib's
    generator holds their results: ``parallel._running`` is False), or a list
    (``return_as="list"``), the rest goes to ``rescued`` (taking it waits for nothing).
    """
    close = getattr(outputs, "close", None)
    if close is None or getattr(parallel, "_running", True) is False:
        rescued.extend(outputs)
        return
    with warnings.catch_warnings():  # (joblib's "N tasks ... executed but not used":
        warnings.filterwarnings(    # they are, from ``rescued``)
            "ignore", message=r".*tasks (have been successfully|which were still)",
            category=UserWarning)
        close()


def _finished_batches(parallel, trackers=()):
    """The results of the calls ``parallel`` holds finished but not handed out, in its
    queue (``_jobs``) or among ``trackers`` (joblib groups calls in batches: a finished
    batch holds the list of its calls' results until joblib hands it on)."""
    done = getattr(joblib.parallel, "TASK_DONE", None)
    with getattr(parallel, "_lock", None) or threading.RLock():
        jobs = list({id(job): job for job in [*getattr(parallel, "_jobs", ()),
                                              *trackers]}.values())
        return [results for job in jobs
                if done is not None and getattr(job, "status", None) == done
                and isinstance(getattr(job, "_result", None), list)
                for results in job._result]


def _external_backends():
    """Names of the backends joblib registers only when a ``parallel_config`` names
    them (``"dask"``), from joblib's table where present."""
    return tuple(getattr(joblib.parallel, "EXTERNAL_BACKENDS", {"dask": None}))


def _on_dask(parallel):
    """Whether ``parallel`` (a ``joblib.Parallel`` or None) runs its calls on Dask."""
    backend = getattr(parallel, "_backend", None)
    return any(c.__name__ == "DaskDistributedBackend" for c in type(backend).__mro__)


def _backend_name(parallel):
    """joblib's class name of the backend of ``parallel`` (``"DaskDistributedBackend"``
    also for :func:`_never_sequential_on_dask`'s)."""
    backend = getattr(parallel, "_backend", None)
    return "DaskDistributedBackend" if _on_dask(parallel) else type(backend).__name__


def _n_workers(parallel):
    """The workers of ``parallel``: joblib's count (on Dask: the cluster's threads)."""
    return parallel._effective_n_jobs()


_NEVER_SEQUENTIAL = {}


def _never_sequential_on_dask(parallel):
    """``parallel``, on Dask with a backend that never makes joblib run a call here.

    joblib runs a ``Parallel`` call sequentially in the calling process when its backend
    counts one worker; on Dask that is a cluster of one thread, or one whose other
    workers are being restarted after one died: the fits then ran in the client (the
    user asked for the cluster), and a fit that kills its worker killed the search's own
    process. The copy of joblib's backend (same client, scattered data and submit
    options) counts at least two workers when joblib configures a call, so every call is
    submitted to the cluster (which runs it when a worker is free);
    ``parallel._effective_n_jobs()`` still counts the cluster's threads. A task that
    failed on the cluster (Dask's ``KilledWorker``: every worker it ran on died) is
    reported to joblib (whose Dask backend only sets the exception on its future and
    never calls joblib's callback: the call waited forever), and so is a failure to
    scatter a call's data (a worker that died meanwhile: joblib's backend only logged it,
    and the call waited forever); a scatter that never ends is given up
    (:func:`_bounded_scatter`). A call joblib aborts (Ctrl-C,
    an error) cancels its futures on the cluster: joblib's Dask backend only stopped
    collecting them, so the queued fits ran on after a Ctrl-C in a session that keeps
    its client (a notebook) and their results stayed held there. (A fit already running
    finishes in its worker's thread: Dask cannot stop a thread.)
    """
    backend = getattr(parallel, "_backend", None)
    if not _on_dask(parallel) or type(backend) in _NEVER_SEQUENTIAL.values():
        return parallel
    cls = type(backend)
    if cls not in _NEVER_SEQUENTIAL:

        def configure(self, n_jobs=1, parallel=None, **backend_args):
            return max(2, cls.configure(self, n_jobs, parallel, **backend_args))

        def submit(self, func, callback=None):
            lost = _call_tasks(func)

            calls = self.__dict__.setdefault("_hpsearch_calls", {})

            def collected(out):  # (a call Dask cancelled comes as its error)
                if calls.pop(id(func), None) is None:
                    return  # (reported already)
                if isinstance(out, BaseException):
                    out._hpsearch_tasks = lost  # (which tasks: _run_dask_rounds)
                if callback is not None:
                    callback(out)

            calls[id(func)] = collected
            future = cls.submit(self, func, collected)

            def failed(done):  # (joblib calls ``callback`` only for a result)
                error = done.exception()
                if error is not None:
                    collected(error)

            future.add_done_callback(failed)
            return future

        def abort_everything(self, ensure_ready=True):
            # (joblib's only stops collecting the call's futures: they ran on)
            pending = list(getattr(self, "_results", ()))
            self.__dict__.get("_hpsearch_calls", {}).clear()  # (none submitted later)
            cls.abort_everything(self, ensure_ready=ensure_ready)
            waiting = getattr(self, "waiting_futures", None)
            try:
                if pending:
                    self.client.cancel(pending)
                if waiting is not None:
                    self.client.loop.add_callback(_wake, waiting)
            except Exception:  # a closed client: nothing runs for it any more
                pass

        def start_call(self):
            cls.start_call(self)
            # (the workers a scatter of this call may be waiting on: see _bounded_scatter)
            self._hpsearch_workers = _worker_addresses(self.client)
            for key, future in list(self.data_futures.items()):  # (lost with a worker)
                if getattr(future, "status", None) in _UNUSABLE:
                    del self.data_futures[key]

        async def _to_func_args(self, func):
            calls = self.__dict__.setdefault("_hpsearch_calls", {})
            try:
                args = await _bounded_scatter(
                    cls._to_func_args(self, func), func, self.client,
                    self.__dict__.get("_hpsearch_workers"), backend=self)
            except Exception as exc:  # (joblib logged it, and its call waited forever)
                report = calls.get(id(func))
                if report is not None:
                    report(exc)
                raise
            if id(func) not in calls:  # (aborted meanwhile: nothing to submit)
                raise asyncio.CancelledError
            return args

        methods = {"configure": configure, "submit": submit,
                   "abort_everything": abort_everything}
        if hasattr(cls, "_to_func_args"):  # (joblib's scattering of a call's data)
            methods["_to_func_args"] = _to_func_args
            if hasattr(cls, "start_call"):
                methods["start_call"] = start_call
        _NEVER_SEQUENTIAL[cls] = type(cls.__name__, (cls,), {
            **methods, "__module__": __name__,
            "__doc__": "joblib's Dask backend, never sequential (_never_sequential_on_dask)"})
    try:  # (attributes of joblib's backend: another joblib may lack one)
        copy = _NEVER_SEQUENTIAL[cls](
            client=backend.client, wait_for_workers_timeout=backend.wait_for_workers_timeout,
            **backend.submit_kwargs)
        # (its own: data sent once for this engine's calls dies with it, _data_future)
        copy._scatter, copy.data_futures = list(backend._scatter), dict(backend.data_futures)
    except (AttributeError, TypeError):
        return parallel  # joblib's own backend, as it is
    parallel._backend = copy
    return parallel


class ScatterTimeout(TimeoutError):
    """joblib's scatter of a call's data to the Dask cluster did not end in time (and
    the call's data could not be sent with its task instead)."""


def _scatter_timeout():
    """Seconds joblib's scatter of a call's data may take at most: Dask's setting
    ``hpsearch.scatter-timeout`` (``dask.config.set({"hpsearch.scatter-timeout":
    "10m"})``, or ``DASK_HPSEARCH__SCATTER_TIMEOUT``), 5 minutes by default (a scatter
    left waiting by a dead worker is given up sooner: :func:`_bounded_scatter`).
    ValueError naming the setting if it is not a positive duration."""
    import dask
    from dask.utils import parse_timedelta

    value = dask.config.get("hpsearch.scatter-timeout", None)
    if value is None:
        return 300.0
    try:
        seconds = float(parse_timedelta(value, default="seconds"))
    except (TypeError, ValueError, KeyError):
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(
            "The 'hpsearch.scatter-timeout' Dask setting must be a positive duration "
            f"(seconds, or a string such as '90s' or '2m'). Got {value!r} instead."
        )
    return seconds


def _worker_addresses(client):
    """The addresses of the cluster's workers now (None if the client cannot tell)."""
    try:
        return set(client.scheduler_info(n_workers=-1)["workers"])
    except Exception:  # (another Dask, a closed client)
        return None


async def _worker_left(client, workers):
    """Whether one of ``workers`` (addresses) has left the cluster (False if unknown)."""
    if not workers:
        return False
    try:
        now = await asyncio.wait_for(client.scheduler.identity(n_workers=-1), 5)
        return bool(workers - set(now["workers"]))
    except Exception:  # (another Dask, a scheduler not answering)
        return False


async def _bounded_scatter(scattering, func, client=None, workers=None, backend=None):
    """The ``(batch, tasks)`` of joblib's ``_to_func_args`` coroutine ``scattering``
    for the call ``func``, never waiting forever.

    joblib scatters each large argument of a call (``X``, ``y``) to the cluster before
    submitting it; a worker killed while the scheduler sends it the data can leave that
    scatter waiting forever (the scheduler's reply never comes), and the search with
    it. The scatter is given up once it has waited a second and one of ``workers`` (the
    cluster's workers when joblib's call started) has left the cluster, or after
    :func:`_scatter_timeout` in any case; also when the scatter it shares with the
    call's other batches was given up. The call's large arguments then go to the
    cluster as tasks of their own, once for ``backend``'s calls (:func:`_data_future`),
    the small ones with its task: the call runs, nothing is retried.
    Where joblib's ``Batch`` is missing (another joblib), :class:`ScatterTimeout`: a
    lost call, run again as a dead worker's (``max_retries``)."""
    try:
        timeout = _scatter_timeout()
    except Exception:  # (checked when the engine started: changed since)
        timeout = 300.0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    task = asyncio.ensure_future(scattering)
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError
            done, _ = await asyncio.wait({task}, timeout=min(1.0, left))
            if done:
                return task.result()
            if await _worker_left(client, workers):
                raise asyncio.TimeoutError
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        current = asyncio.current_task()
        if isinstance(exc, asyncio.CancelledError) and (
                current is None or getattr(current, "cancelling", lambda: 0)()):
            task.cancel()
            raise  # (this coroutine itself was cancelled: not the scatter)
        task.cancel()
        unscattered = _unscattered(func)
        if unscattered is None:
            raise ScatterTimeout(
                "joblib's scatter of a call's data to the Dask cluster did not end "
                f"(a worker left, or {timeout:g} s passed: hpsearch.scatter-timeout)"
            ) from exc
        batch, tasks = unscattered
        return batch, [(f, [_data_future(backend, a) for a in args],
                        {k: _data_future(backend, v) for k, v in kwargs.items()})
                       for f, args, kwargs in tasks]


def _unscattered(func):
    """joblib's ``(Batch(tasks), tasks)`` of the call ``func`` with its arguments as
    they are (:func:`_bounded_scatter` sends the large ones once: :func:`_data_future`),
    or None (another joblib)."""
    try:
        from joblib._dask import Batch

        tasks = [(f, list(args), dict(kwargs)) for f, args, kwargs in func.items]
        return Batch(tasks), tasks
    except Exception:
        return None


def _identity(value):
    """``value`` (a Dask task holding data sent once: :func:`_data_future`)."""
    return value


#: size (bytes, by ``dask.sizeof``) above which joblib scatters an argument of a call
_SCATTER_BYTES = 1e3
#: statuses of a Dask future whose data is gone (a new call sends it anew)
_UNUSABLE = ("error", "cancelled", "lost")


def _data_future(backend, arg):
    """``arg`` as a call whose scatter was given up sends it to the cluster.

    A large argument (what joblib scatters: ``X``, ``y``) becomes, once per ``backend``
    (one engine), a Dask future of a task returning it, registered in the backend's
    ``data_futures`` (``arg`` kept in its ``_scatter``, so the id stays ``arg``'s), where
    joblib looks first for every later call (lone runs after a lost worker, later
    rounds): the data reaches the cluster once and each worker once (Dask copies a
    result between workers), not with every task. Submitting waits on no worker (a
    scatter can wait forever), and a result lost with a worker is computed again (the
    scheduler keeps its task; scattered data is lost). Small arguments (and any without
    ``backend``) go as they are.

    Was: every argument went with its task, so ``X`` and ``y`` went to the cluster with
    every batch of the call (a 20 MB ``X``, 24 fits on 2 workers: 24 copies, 480 MB,
    instead of one per worker)."""
    if backend is None or getattr(backend, "data_futures", None) is None:
        return arg
    future = backend.data_futures.get(id(arg))
    if future is not None and future.status not in _UNUSABLE:
        return future
    from dask.sizeof import sizeof

    try:
        weakref.ref(arg)
    except TypeError:
        return arg  # (joblib scatters only what it can weakly reference)
    if sizeof(arg) <= _SCATTER_BYTES:
        return arg
    with warnings.catch_warnings():  # (the data is sent once: what the warning asks)
        warnings.filterwarnings("ignore", message="Sending large graph")
        future = backend.client.submit(_identity, arg, pure=False)
    backend.data_futures[id(arg)] = future
    backend._scatter.append(arg)
    return future


def _call_tasks(func):
    """The ``(candidate, split)`` of the tasks of a joblib call of :func:`_run_batch`
    (``func`` a ``BatchedCalls``), or None."""
    try:
        return {(t.candidate, t.split) for _, args, _ in func.items for t in args[3]}
    except Exception:  # another joblib, or calls of something else
        return None


async def _wake(waiting):
    """End the wait of joblib's collecting coroutine on ``waiting`` (a Dask
    ``as_completed`` that joblib emptied when it aborted a call): it waited forever,
    holding the last result it collected."""
    async with waiting.condition:
        waiting.condition.notify_all()


def _worker_deaths():
    """The exceptions joblib raises when a worker process died."""
    from concurrent.futures.process import BrokenProcessPool

    deaths = [BrokenProcessPool]
    try:
        from joblib.externals.loky.process_executor import (
            BrokenProcessPool as LokyBroken,
            TerminatedWorkerError,
        )

        deaths += [LokyBroken, TerminatedWorkerError]
    except ImportError:  # pragma: no cover - joblib without loky
        pass
    return tuple(deaths)


_WORKER_DEATHS = _worker_deaths()


def _cluster_losses():
    """Dask's errors for fits lost with a dead worker (when ``distributed`` is in use):
    ``KilledWorker`` (every worker a task ran on died, after Dask's own retries),
    ``FutureCancelledError`` (a dead worker held data scattered for the tasks) and
    ``CommClosedError`` (a worker died while joblib scattered a call's data to it)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return ()
    found = [getattr(distributed, "KilledWorker", None),
             getattr(sys.modules.get("distributed.client"), "FutureCancelledError", None),
             getattr(sys.modules.get("distributed.comm.core"), "CommClosedError", None),
             ScatterTimeout]
    return tuple(e for e in found if isinstance(e, type))


def _scheduler_lost_message(client, address, exc):
    """Why a search on Dask ended when its client lost the scheduler, and what is kept."""
    where = "" if address is None else f" at {address!r}"
    return (
        f"The Dask scheduler{where} is gone (the client's status is "
        f"{client.status!r}; {type(exc).__name__}: {exc}): the cluster was closed or "
        "lost while the search ran its fits. The fits finished so far are kept in the "
        "trial store when the search has a storage (resume=True continues on a new "
        "cluster)."
    )


def _joblib_death_reason(exc):
    """``"SIGSEGV"`` from loky's "... exit codes of the workers are {SIGSEGV(-11)}",
    ``"exit code 3"`` from ``{EXIT(3)}`` (a worker that exited: the fork workers' words;
    it was read as the signal name "EXIT")."""
    found = re.search(r"\{EXIT\((\d+)\)", str(exc))
    if found:
        return f"exit code {found.group(1)}"
    found = re.search(r"\{([A-Z][A-Z0-9]+)\(-?\d+\)", str(exc))
    return found.group(1) if found else type(exc).__name__
