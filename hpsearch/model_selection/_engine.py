"""The engine: every (candidate x split) fit of a search, run through joblib.

This is the only module of hpsearch that touches joblib (``DESIGN.md`` decision 4).

A search hands the engine a list of :class:`Task` (plain data: which candidate, which
split, the parameters to set, the train/test indices, a seed) and gets back an iterator
of plain result dicts, *in completion order* (``Parallel(return_as="generator_unordered")``),
so a progress bar moves per fit and each finished candidate can be stored at once.

Guarantees
----------
- **Same results for any ``n_jobs`` and backend.** The seed of a task derives from
  ``(random_state, candidate_id, split)`` with :class:`numpy.random.SeedSequence`
  (:func:`task_seed`), and BLAS runs one thread per task (threadpoolctl), so a fit does
  not depend on where or when it runs.
- **Folds as indices.** A worker receives the full ``X`` (large NumPy arrays are dumped
  once to a memory-mapped file and shared by every process) plus the index arrays of its
  fold; estimators whose ``fit`` accepts ``sample_index`` train on full ``X`` with the
  indices, others get ``X[train]`` built inside the worker.
- **A failing fit never ends the search** (unless ``error_score="raise"``): the result
  carries the formatted traceback instead of scores.
- **Fork workers on POSIX.** With the default joblib backend (loky, nothing set in
  ``joblib.parallel_config``) and more than one job, the engine does not go through joblib
  at all: it registers ``(estimator, X, y, scorer, fit params)`` in a module-level table
  under a token, starts its workers by ``fork`` (:class:`_ForkPool`), and ships each
  batch of tasks as ``(token, tasks)``. The workers inherit ``X`` page for page (no copy,
  no file, no pickling, no interpreter start-up or sklearn import per worker), which is
  what keeps a 2-job search near the memory of a 1-job one. ``backend="loky"`` (or any
  backend set in ``joblib.parallel_config``: Dask, threading) keeps the joblib path, and
  Windows/macOS (no safe ``fork``) always use it. ``Engine.kind`` tells which ran.
- **Continuation.** A task may carry the fitted estimator of a previous evaluation of the
  same (candidate, split) and a number of *additional* units of work; the worker then
  continues training (``warm_start`` or ``partial_fit``) instead of refitting.
"""

import inspect
import itertools
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass

import joblib
import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _check_method_params
from threadpoolctl import ThreadpoolController

__all__ = ["Task", "Engine", "task_seed", "run_task", "seed_params"]

#: joblib backends whose workers are processes on this machine: large arrays are shared
#: with them through one memory-mapped file.
_LOCAL_PROCESS_BACKENDS = ("LokyBackend", "MultiprocessingBackend")
#: arrays above this many bytes are memory-mapped for process backends (joblib's default)
_MEMMAP_BYTES = 1_000_000


def task_seed(random_state, candidate, split):
    """Integer seed of one fit, derived from ``(random_state, candidate, split)``.

    Parameters
    ----------
    random_state : int
        The search's master seed (non-negative).
    candidate : int
        Stable id of the candidate within the search.
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


def _continue(estimator, X, y, task, fit_params):
    """Continue training a fitted estimator: warm-start ``fit``, else ``partial_fit``."""
    if task.params:
        estimator.set_params(**task.params)
        _fit(estimator, X, y, task.train, fit_params)
        return estimator
    # partial_fit: one call per unit of training
    X_train = _take_x(estimator, X, task.train, task.train)
    y_train = None if y is None else _take(y, task.train)
    kwargs = _check_method_params(X, params=fit_params, indices=task.train)
    if is_classifier(estimator) and _accepts(estimator.partial_fit, "classes"):
        kwargs["classes"] = estimator.classes_
    for _ in range(task.steps):
        estimator.partial_fit(X_train, y_train, **kwargs)
    return estimator


def _score(scorer, estimator, X, y, indices, train=None, score_params=None):
    """Score on the rows ``indices`` (kernel columns ``train`` for a pairwise estimator),
    with the per-sample ``score_params`` (e.g. ``sample_weight``) of those rows."""
    X_part = _take_x(estimator, X, indices, indices if train is None else train)
    kwargs = _check_method_params(X, params=score_params or {}, indices=indices)
    scores = scorer(estimator, X_part, **kwargs) if y is None else scorer(
        estimator, X_part, _take(y, indices), **kwargs
    )
    if isinstance(scores, dict):
        return {name: float(value) for name, value in scores.items()}
    return {"score": float(scores)}


def _fit_task(base, X, y, task, fit_params):
    """Fit the task's estimator: continue its state, or a clone of ``base`` with the
    task's parameters (cloned too, as sklearn does: an estimator given as a parameter
    value is never fitted itself; ``set_params`` is not called without parameters)."""
    if task.state is not None:
        return _continue(task.state, X, y, task, fit_params)
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


def run_task(base, X, y, task, scorer, fit_params, return_train_score, error_score,
             score_params=None):
    """The worker: fit one (candidate, split) and score it. Plain data in and out.

    Returns
    -------
    result : dict
        ``candidate``, ``split``, ``test_scores`` (dict metric -> float, or None when the
        fit failed), ``train_scores``, ``fit_time``, ``score_time``, ``n_test_samples``,
        ``error`` (formatted traceback or None), ``fit_failed`` (the error came from
        ``fit``, not from scoring) and ``estimator`` (when ``task.keep``).
    """
    out = {
        "candidate": task.candidate,
        "split": task.split,
        "test_scores": None,
        "train_scores": None,
        "fit_time": 0.0,
        "score_time": 0.0,
        "n_test_samples": len(task.test),
        "error": None,
        "fit_failed": False,
        "estimator": None,
    }
    start = time.perf_counter()
    with _one_blas_thread():
        try:
            estimator = _fit_task(base, X, y, task, fit_params)
        except Exception:
            if error_score == "raise":
                raise
            out["fit_time"] = time.perf_counter() - start
            out["error"] = traceback.format_exc()
            out["fit_failed"] = True
            return out
        out["fit_time"] = time.perf_counter() - start
        start = time.perf_counter()
        try:
            out["test_scores"] = _score(
                scorer, estimator, X, y, task.test, task.train, score_params
            )
            if return_train_score:
                out["train_scores"] = _score(
                    scorer, estimator, X, y, task.train, task.train, score_params
                )
        except Exception:
            if error_score == "raise":
                raise
            out["test_scores"] = out["train_scores"] = None
            out["error"] = traceback.format_exc()
        out["score_time"] = time.perf_counter() - start
    if task.keep:
        out["estimator"] = estimator
    return out


def _run_batch(base, X, y, tasks, *args):
    return [run_task(base, X, y, t, *args) for t in tasks]


# --------------------------------------------------------------------------- fork workers
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


def _worker_init():
    # Ctrl-C reaches the whole process group: workers ignore it and the parent, which
    # owns the search, stops them (see _ForkPool.close), so every finished fit already
    # streamed back is kept and no worker dies mid-write of a result.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_shared(token, tasks):
    """Worker side: look the data up by token (inherited at fork) and run the tasks."""
    base, X, y, args = _SHARED[token]
    return [run_task(base, X, y, task, *args) for task in tasks]


def _noop():
    return os.getpid()


def _n_in_flight(pre_dispatch, n_workers):
    """How many batches may be queued at once (joblib's ``pre_dispatch``)."""
    if isinstance(pre_dispatch, str):
        text = pre_dispatch.replace(" ", "")
        if text == "all":
            return None
        factor, _, name = text.rpartition("*")
        if name == "n_jobs":
            return max(1, int(float(factor or 1) * n_workers))
        return max(1, int(text))
    return max(1, int(pre_dispatch))


def _stop(processes):
    """Terminate the processes still alive and wait for them (at most 5 s each)."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


class _DeferredInterrupt:
    """While fork workers run, Ctrl-C sets a flag; :meth:`check` raises it at a safe point.

    A ``KeyboardInterrupt`` raised asynchronously inside ``threading.Condition.wait`` can
    leave the condition's lock held (a CPython race). The executor's manager thread then
    blocks forever on that lock when it reports the terminated workers, and the
    interpreter hangs at exit. Deferring the interrupt to :meth:`check` (after every short
    wait and every yielded result) keeps the main thread out of that race. Only installed
    from the main thread and only over Python's default handler; a Ctrl-C that arrives
    after the last check is raised on exit.
    """

    def __init__(self):
        self.hit = False
        self._previous = None

    def __enter__(self):
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        self.hit = True

    def check(self):
        if self.hit:
            self.hit = False
            raise KeyboardInterrupt

    def __exit__(self, exc_type, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        if exc_type is None:
            self.check()
        return False


class _ForkPool:
    """Worker processes started by ``fork`` that inherit the search's data.

    ``concurrent.futures.ProcessPoolExecutor`` with a fork context starts all its workers
    at the first submission, before its own manager thread; :meth:`start` makes that
    submission at once, so the workers are forked before the search starts any thread
    (progress bar, store). A worker that dies (killed, out of memory, segfault) breaks
    the pool: the search raises ``BrokenProcessPool`` instead of waiting forever.
    """

    def __init__(self, n_workers, payload):
        self.n_workers = n_workers
        self.token = f"{os.getpid()}-{next(_TOKENS)}"
        self.payload = payload
        self.executor = None

    def start(self):
        _SHARED[self.token] = self.payload
        context = multiprocessing.get_context("fork")
        self.executor = futures.ProcessPoolExecutor(
            self.n_workers, mp_context=context, initializer=_worker_init
        )
        with warnings.catch_warnings():
            # Python >= 3.12 warns when forking a process that runs other threads (a
            # thread could hold a lock the child then needs). The child runs only the
            # executor's worker loop and the fits: it never uses locks of the parent's
            # other threads (e.g. a still-alive loky pool of an earlier sklearn search).
            # Use backend="loky" to start workers without fork.
            warnings.filterwarnings(
                "ignore", message=".*fork.*", category=DeprecationWarning
            )
            self.executor.submit(_noop).result()
        return self

    def imap_unordered(self, batches, in_flight):
        """Yield the result list of every batch, in completion order."""
        batches = iter(batches)
        pending = set()
        token = self.token
        with _DeferredInterrupt() as interrupt:
            try:
                while True:
                    while in_flight is None or len(pending) < in_flight:
                        batch = next(batches, None)
                        if batch is None:
                            break
                        pending.add(self.executor.submit(_run_shared, token, batch))
                    if not pending:
                        return
                    done = ()
                    while not done:  # short waits, so a Ctrl-C is seen within 0.1 s
                        done, pending = futures.wait(
                            pending, timeout=0.1, return_when=futures.FIRST_COMPLETED
                        )
                        interrupt.check()
                    for future in done:
                        yield future.result()
                        interrupt.check()
            finally:
                for future in pending:
                    future.cancel()

    def close(self, terminate=False):
        """Stop the workers (at once with ``terminate``) and drop the shared entry."""
        executor, self.executor = self.executor, None
        try:
            if executor is not None:
                # the executor's own dict: its manager thread may still add a replacement
                # for a worker that died (or reap one) while the pool breaks
                processes = getattr(executor, "_processes", None) or {}
                # shutdown(wait=False) forgets the manager thread, which is still reaping
                # the workers: join it ourselves so no worker is left half-reaped
                manager = getattr(executor, "_executor_manager_thread", None)
                if terminate:  # do not wait for running fits (Ctrl-C, an error)
                    executor.shutdown(wait=False, cancel_futures=True)
                    _stop(list(processes.values()))
                executor.shutdown(wait=True, cancel_futures=True)
                _stop(list(processes.values()))
                if manager is not None:
                    manager.join(timeout=5)
        finally:
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
    n_jobs : int or None
        As in joblib (None: the current ``joblib.parallel_config``).
    backend : str, joblib backend or None
        None ("auto"): fork workers (see the module docstring) where joblib would use its
        default loky backend and ``fork`` is available, else the active
        ``joblib.parallel_config`` (so ``with joblib.parallel_config(backend="dask"):``
        runs on a Dask cluster). ``"fork"``: fork workers (ValueError where ``fork`` is
        not available). Any other name or backend object: joblib with that backend.
    pre_dispatch : int or str
        As in joblib.
    return_train_score : bool
    error_score : float or "raise"
    verbose : int
        joblib's verbosity is ``max(0, verbose - 2)``.
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
        n_jobs=None,
        backend=None,
        pre_dispatch="2*n_jobs",
        return_train_score=False,
        error_score=np.nan,
        verbose=0,
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
        self.n_jobs = n_jobs
        self.backend = backend
        self.pre_dispatch = pre_dispatch
        self.return_train_score = return_train_score
        self.error_score = error_score
        self.verbose = verbose
        self._parallel = None
        self._pool = None
        self._tmpdir = None
        #: which path runs the fits once entered: "in-process", "fork" or
        #: "joblib:<backend class>"
        self.kind = None

    def __enter__(self):
        self._data = (self.X, self.y)
        self._parallel = joblib.Parallel(
            n_jobs=self.n_jobs,
            backend=None if self.backend == "fork" else self.backend,
            pre_dispatch=self.pre_dispatch,
            return_as="generator_unordered",
            verbose=max(0, self.verbose - 2),
        )
        backend = type(getattr(self._parallel, "_backend", None)).__name__
        self.n_workers = self._parallel._effective_n_jobs()
        if self.n_workers == 1:
            self.kind = "in-process"
        elif self.backend == "fork" or (
            self.backend is None
            and _fork_available()
            and _default_joblib_backend(self._parallel)
        ):
            args = self._task_args()
            payload = (self.base_estimator, self.X, self.y, args)
            self._pool = _ForkPool(self.n_workers, payload)
            try:
                self._pool.start()
            except BaseException:
                self._pool.close(terminate=True)
                self._pool = None
                raise
            self.kind = "fork"
        else:
            self.kind = f"joblib:{backend}"
            if backend in _LOCAL_PROCESS_BACKENDS:
                self._share_arrays()
        return self

    def __exit__(self, exc_type, *exc):
        self._parallel = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close(terminate=exc_type is not None)
        self.X, self.y = self._data
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def _task_args(self):
        """The arguments of :func:`run_task` after ``(base, X, y, task)``."""
        return (self.scorer, self.fit_params, self.return_train_score, self.error_score,
                self.score_params)

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
        task never changes its result (seeds are per task).
        """
        n = len(tasks)
        if self.n_workers == 1 or n == 0:
            return [[t] for t in tasks]
        batches, start = [], 0
        while start < n:
            size = min(8, max(1, (n - start) // (4 * self.n_workers)))
            batches.append(tasks[start : start + size])
            start += size
        return batches

    def run(self, tasks):
        """Run ``tasks``; yield result dicts (see :func:`run_task`) as they finish."""
        if self._parallel is None:
            with self:
                yield from self.run(tasks)
            return
        args = self._task_args()
        base, X, y = self.base_estimator, self.X, self.y
        if self.n_workers == 1:
            # In-process: no pickling, results stream one by one.
            for task in tasks:
                yield run_task(base, X, y, task, *args)
            return
        if self._pool is not None:
            in_flight = _n_in_flight(self.pre_dispatch, self.n_workers)
            for results in self._pool.imap_unordered(self._batches(list(tasks)), in_flight):
                yield from results
            return
        calls = (
            joblib.delayed(_run_batch)(base, X, y, batch, *args)
            for batch in self._batches(list(tasks))
        )
        for results in self._parallel(calls):
            yield from results
