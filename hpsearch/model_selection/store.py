"""The trial store: every finished candidate of a search as a trial of an Optuna study.

One standard Optuna study per search (``DESIGN.md`` decision 6), so
``optuna-dashboard sqlite:///search.db`` opens it and ``optuna.load_study`` reads it:

- **params**: the candidate's parameters. When the search declares its space
  (:meth:`TrialStore.declare_space`), each parameter of an ``hpsearch.space`` dimension
  (lists are :class:`~hpsearch.space.Categorical`) is stored with that dimension's own
  Optuna distribution (``dim.to_optuna()``; non-primitive choices as the string codes of
  :func:`hpsearch.space.suggest`, so :func:`hpsearch.space.decode_params` gives the
  exact values back): every trial of the study shares one search space, which
  ``optuna.importance`` and the dashboard need. Otherwise (scipy.stats distributions
  without an Optuna equivalent, choices Optuna cannot tell apart such as ``[True, 1]``,
  a name whose dimension differs between sub-spaces, parameters outside the space,
  searches that declare no space) Optuna keeps only primitive categorical choices, so
  numbers become one-point ``Int``/``FloatDistribution``s, strings, bools and None
  ``CategoricalDistribution`` s (choices declared from the candidates of the search),
  and any other value (tuples, estimators, callables) its text form. The exact
  parameters are kept as JSON in the user attribute ``params``.
- **value**: the mean test score of the refit metric (the study maximizes it; the first
  metric when ``refit`` names none); a candidate whose mean score is NaN (a split failed
  with ``error_score=np.nan``) is a FAIL trial, a numeric ``error_score`` counts as its
  score.
- **user attributes**: ``split_test_<metric>`` / ``split_train_<metric>`` (per split),
  ``fit_time``, ``score_time``, ``errors`` (per-split tracebacks, when any), and the
  engine's own ``hpsearch_key`` / ``hpsearch_row:<key>`` records used by ``resume``.
- **budgeted searches** (halving, pruning): one trial per candidate, RUNNING while it
  climbs rungs, the rung scores as intermediate values (step = the budget), then
  COMPLETE or PRUNED.

``resume=True`` loads every ``hpsearch_row:<key>`` of the study: a row whose key (a hash
of the parameters, the budget and the cross-validation configuration) matches is reused
instead of fitted again. The key does not hold the data, so the study also records
:func:`data_fingerprint` of the data (study system attribute ``hpsearch_data``) and a
search resuming it on other data is refused (:meth:`TrialStore.check_data`); the same
for other CV splits (:meth:`TrialStore.check_splits`) and for another estimator, scoring,
splitter or ``return_train_score`` (:meth:`TrialStore.check_settings`, study attribute
``hpsearch_settings``: a process with other settings would otherwise run a second search in
the study without a word). A resume with a longer ``fit_timeout``
(:attr:`TrialStore.retry_timed_out`, set by every search) does not
count a row holding a fit an earlier run stopped under a shorter one as recorded: that
fit runs again, in a new trial (:meth:`TrialStore._drop_timed_out`).

Fit-level durability
--------------------
Every finished (candidate, split[, rung]) fit is written the moment its result reaches the
main process, as the user attribute ``hpsearch_fit:<row key>:<split>`` of the candidate's
trial (one small write per fit). The trial is created RUNNING when its candidate is
claimed, with the user attribute ``hpsearch_owner`` (host, boot id, process id and start
time of the process fitting it). On resume, finished fits are found by row key in any
trial (RUNNING, FAIL or COMPLETE: a fit's result depends only on its seed), so an
interrupted candidate fits only its missing splits.

Cooperating processes
---------------------
Several processes with ``resume=True`` on one study (a shared SQLite file, SQLAlchemy URL
or journal file) share the work. A process *claims* a candidate by creating a RUNNING
trial for it; when two processes create one for the same candidate at once, the trial
with the lower id wins and the other is closed FAIL (``hpsearch_duplicate``). Trial ids
follow commit order on SQLite (one writer at a time) and on journal files (one log), so
both see the same winner (a server database whose ids may commit out of order can, in a
race, let two processes fit the same candidate: the results stay correct). A RUNNING
trial of another live process is waited for; one whose owner is dead (its process is
gone, on this machine, or it has written no heartbeat, the study system attribute
``hpsearch_alive:<owner>``, for :data:`GRACE_PERIOD` seconds) is closed FAIL
(``hpsearch_interrupted``) and its candidate claimed again, keeping its finished fits.

Halving and Hyperband run in one process per study: a second live process is refused
(RuntimeError) at its first claim, also when both started at once on a new study (of
two RUNNING trials of one candidate, the lower id wins), and whatever its candidates
(another ``random_state`` samples others). ASHA processes share a study with ASHA
processes only; grid, random and Optuna processes with each other. Every search
announces itself (study system attribute ``hpsearch_holder:<owner>``: its kind, False
once it ends) before its first trial; of the live ones, the one with the lowest first
trial id holds the study, whatever the kinds, and a process of a kind that does not
share with it is refused at its first trial, naming the holder's process and kind
(:meth:`TrialStore._refuse_other_search`); a killed or finished search holds nothing.
A search that reads the study's trials as its own before its first (ASHA's candidates
count towards ``n_trials``, Optuna's taken slots; a halving or Hyperband reuses the rows
found) is refused the same way before it counts or reuses them
(:meth:`TrialStore.check_others`), never taking another kind's trials for its own.
ASHA's processes share one search
(:mod:`~hpsearch.model_selection.strategies.asha`): a candidate belongs to the process
owning its lowest RUNNING trial, whose ``hpsearch_job`` user attribute names the row
(candidate, rung) being fitted; a new candidate, or one whose process died or ended, is
claimed with :meth:`TrialStore.claim_candidate` (the same rule: a RUNNING trial each,
the lower id wins, a loser is closed FAIL ``hpsearch_duplicate``).

A full disk
-----------
A write the disk refuses (SQLite's "database or disk is full" / "disk I/O error", a
journal append) ends the search with one :class:`StoreWriteError` (an ``OSError``)
naming the file (:func:`storage_errors` around ``fit``): every fit recorded before it is
kept, and ``resume=True`` continues once there is room. A journal append cut short
leaves a torn last line, which the next append drops first (:func:`_journal_backend`).

Ctrl-C and SIGTERM
------------------
Every call of the storage is a critical section (:func:`shielded`): a signal that arrives
inside one stops the search right after it, never halfway through a SQLite statement or a
journal append.
"""

import contextlib
import errno
import functools
import json
import math
import numbers
import os
import socket
import threading
import time
import uuid
import warnings
import weakref
from contextlib import contextmanager

import numpy as np

__all__ = ["TrialStore", "decode_value", "encode_value", "make_storage", "owner_alive", "owner_id",
           "recorded_fits", "storage_errors", "write_failure", "StoreWriteError", "StudyMismatch"]

#: seconds between two heartbeats of a process that holds RUNNING trials
HEARTBEAT_INTERVAL = 5.0
#: seconds without a heartbeat after which another machine's RUNNING trials are dead
GRACE_PERIOD = 60.0
#: seconds :meth:`TrialStore.close` waits for a heartbeat write in flight
_CLOSE_WAIT = 5.0
#: seconds between two looks at the store while waiting for other processes
POLL_INTERVAL = 0.2

_PRIMITIVES = (type(None), bool, str)
#: per-split entries of a row, recorded for each fit
_FIT_KEYS = ("test_scores", "train_scores", "fit_time", "score_time", "n_test_samples",
             "error")


def fit_failed(fit):
    """Whether a recorded fit (the ``_FIT_KEYS`` of one split, and ``fit_failed`` where
    it was recorded) failed in ``fit``, not in scoring: its mark, or, in a study written
    before fits carried it, an error with no score and no scoring time (a scorer that
    failed had its fit fitted and took scoring time)."""
    mark = fit.get("fit_failed")
    if mark is not None:
        return bool(mark)
    return (fit.get("error") is not None and fit.get("test_scores") is None
            and fit.get("train_scores") is None and not fit.get("score_time"))


def _record_problem(kind, payload):
    """Why ``payload`` is no well-formed hpsearch record of ``kind`` (``"hpsearch_row"``:
    lists of one length under every ``_FIT_KEYS``; ``"hpsearch_fit"``: every key), or
    None. hpsearch writes only well-formed ones: another is a trial added or edited by
    hand (``study.add_trial``), which is ignored rather than read (it raised a bare
    KeyError, AttributeError or IndexError on resume)."""
    if not isinstance(payload, dict):
        return f"a {type(payload).__name__}, not a dict"
    missing = [k for k in _FIT_KEYS if k not in payload]
    if missing:
        return f"no {missing[0]!r}"
    if kind == "hpsearch_row":
        lengths = {len(payload[k]) if isinstance(payload[k], list) else -1
                   for k in _FIT_KEYS}
        if len(lengths) != 1 or -1 in lengths:
            return "not one list per split under each key"
    return None


def encode_value(value):
    """A JSON-able stand-in for ``value``, equal for equal values and stable across runs."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray):
        return {"__array__": encode_value(value.tolist())}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if callable(value) and hasattr(value, "__qualname__"):
        return {"__callable__": f"{value.__module__}.{value.__qualname__}"}
    return {"__repr__": repr(value)}


def decode_value(value):
    """The value :func:`encode_value` made ``value`` from (tuples, arrays, lists, dicts
    and primitives); a callable or a ``repr`` cannot come back: ``ValueError``."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__tuple__"}:
        return tuple(decode_value(v) for v in value["__tuple__"])
    if set(value) == {"__array__"}:
        return np.asarray(decode_value(value["__array__"]))
    if set(value) & {"__callable__", "__repr__"} and len(value) == 1:
        raise ValueError(f"{value!r} cannot be decoded to the value it stands for.")
    return {k: decode_value(v) for k, v in value.items()}


def _choice(value):
    """Value as an Optuna categorical choice (None, bool, int, float or str): a flat
    tuple/list as its repr, any other non-primitive as the JSON of :func:`encode_value`."""
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, (numbers.Number, str, type(None))) for v in value
    ):
        return repr(value)
    encoded = encode_value(value)
    if isinstance(encoded, (*_PRIMITIVES, int, float)):
        return encoded
    return json.dumps(encoded, sort_keys=True)


def _kind(values):
    """'int', 'float' or 'categorical': how Optuna should hold a parameter's values."""
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return "int"
    if all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        for v in values
    ):
        return "float"
    return "categorical"


class _MissingType:
    """Marker: a value its declared distribution cannot hold."""


_MISSING = _MissingType()


class _RangeParam:
    """A Float/Int dimension as an Optuna ``Float``/``IntDistribution``."""

    def __init__(self, dist):
        from optuna.distributions import IntDistribution

        self.dist = dist
        self.integral = isinstance(dist, IntDistribution)
        self.choices = None

    def encode(self, value):
        """The value as Optuna stores it, or ``_MISSING`` when outside the range."""
        if self.integral:
            if not (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
                return _MISSING
            value = int(value)
        else:
            if not (isinstance(value, numbers.Real) and not isinstance(value, bool)):
                return _MISSING
            value = float(value)
        return value if self.dist.low <= value <= self.dist.high else _MISSING


class _ChoiceParam:
    """A Categorical dimension as an Optuna ``CategoricalDistribution`` over its codes
    (the choices, or their string codes when not all primitive, as ``suggest`` does)."""

    def __init__(self, dim):
        self.dist = dim.to_optuna()
        self.choices = dim.choices  # kept alive: the ids below stay theirs
        self.codes = list(dim._encoded)
        self.by_id = {id(c): code for c, code in zip(self.choices, self.codes)}

    def exact(self):
        """Whether Optuna gives every code back as itself (not so for ``[True, 1]``).

        Optuna maps a choice to the index of the first choice equal to it
        (``tuple.index``), so a code comes back as itself exactly when the first code
        equal to it is itself or of its type and value. A dict of first occurrences
        answers that in linear time (a list of 200,000 values was quadratic: minutes).
        """
        first = {}
        try:
            for index, code in enumerate(self.codes):
                back = self.codes[first.setdefault(code, index)]
                if back is not code and (type(back) is not type(code) or back != code):
                    return False
            return True
        except TypeError:  # an unhashable code: ask Optuna, one code at a time
            pass
        for index, code in enumerate(self.codes):
            try:
                back = self.dist.to_external_repr(self.dist.to_internal_repr(code))
            except ValueError:
                return False
            if back is not code and (type(back) is not type(code) or back != code):
                return False
        return True

    def encode(self, value):
        """The code of the choice ``value`` is, or ``_MISSING``."""
        code = self.by_id.get(id(value), _MISSING)
        if code is not _MISSING:
            return code
        for choice, code in zip(self.choices, self.codes):
            if type(choice) is type(value) and _equal(choice, value):
                return code
        return _MISSING


def _equal(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays and the like
        return False


def _dimension_param(dim):
    """The stored form of a dimension (``_RangeParam``/``_ChoiceParam``), or None when it
    has no exact Optuna distribution."""
    from .space import Categorical

    if isinstance(dim, Categorical):
        param = _ChoiceParam(dim)
        return param if param.exact() else None
    try:
        return _RangeParam(dim.to_optuna())
    except (ValueError, TypeError, NotImplementedError):  # scipy.stats without equivalent
        return None


def _same_param(a, b):
    if a.dist != b.dist:
        return False
    if a.choices is None or b.choices is None:
        return a.choices is b.choices
    return len(a.choices) == len(b.choices) and all(
        type(x) is type(y) and _equal(x, y) for x, y in zip(a.choices, b.choices)
    )


def space_params(space):
    """``{name: stored form}`` of the parameters of ``space`` that have one Optuna
    distribution, the same in every sub-space (others are left out)."""
    from .space import as_space

    try:
        spaces = as_space(space)
    except (ValueError, TypeError):  # the search reports it when it builds candidates
        return {}
    found, mixed = {}, set()
    for sub in spaces:
        for name, dim in sub.items():
            if name in mixed:
                continue
            param = _dimension_param(dim)
            if param is None or (name in found and not _same_param(found[name], param)):
                mixed.add(name)
                found.pop(name, None)
            else:
                found.setdefault(name, param)
    return found


def make_storage(storage):
    """An Optuna storage from None (in memory), a ``.db``/``.sqlite`` path, a ``.log`` /
    ``.jsonl`` path (journal file), a SQLAlchemy URL, or a storage object; every call
    of it a critical section that Ctrl-C and SIGTERM wait for (:func:`shielded`)."""
    import optuna

    check = _GUARDS.get(storage) if isinstance(storage, str) else None
    if check is not None:
        check()
    made = shielded(optuna.storages.get_storage(_make_storage(storage)))
    if isinstance(storage, str):
        made.setting = storage  # (its calls: the guard of that setting, if any)
    return made


#: ``{storage setting: check}`` of :func:`guard_storage`
_GUARDS = {}


@contextlib.contextmanager
def guard_storage(storage, check):
    """Call ``check()`` before :func:`make_storage` opens the storage setting ``storage``
    (a path or URL, as given) and before each call of a storage it made from it, while
    in this context: an exception it raises stops the call before the store is touched.

    SQLite and Optuna's journal open their files by path, whenever a connection or a
    write needs one: a study-file run's folder holding the store (``study.db``), renamed
    away during the search and a link to another folder put in its place, made them
    create ``study.db`` or the journal there, or write into that folder's own
    (:func:`hpsearch.study.run_folder.guard_store`)."""
    _GUARDS[storage] = check
    try:
        yield
    finally:
        if _GUARDS.get(storage) is check:
            del _GUARDS[storage]


def _make_storage(storage):
    """:func:`make_storage`, each call not shielded."""
    import optuna

    if storage is None:
        return optuna.storages.InMemoryStorage()
    if not isinstance(storage, str):
        return storage
    if storage.endswith((".log", ".jsonl")) and "://" not in storage:
        from optuna.storages.journal import JournalStorage

        _check_folder(storage, storage)
        return JournalStorage(_journal_backend()(storage))
    url = _as_url(storage)
    if url.startswith("sqlite:"):
        path = _sqlite_file(url) or ""
        if path and path != ":memory:":
            _check_folder(path, storage)
        # several processes write one fit at a time: wait for the lock, do not fail; a
        # brace of the file's path is literal (Optuna reads the URL as a str.format
        # template: a folder 'run{1}' or '${HOME}' failed with IndexError / KeyError)
        literal = url.replace("{", "{{").replace("}", "}}")
        return _retry(lambda: optuna.storages.RDBStorage(
            literal, engine_kwargs={"connect_args": {"timeout": 60}}
        ))
    return url


def shielded(storage):
    """``storage`` (an Optuna storage) with each of its calls run in
    :func:`~hpsearch.model_selection._engine.shield_interrupts`: a SIGINT or SIGTERM that
    arrives in the middle of a write or read is raised once the call is done.

    Was: the ``KeyboardInterrupt`` raised between two bytecodes inside SQLAlchemy could
    leave a SQLite statement unfinished, its cursor kept alive by the traceback holding
    the database's shared lock, and the next write of the interrupted search (closing the
    store) waited for it, the heartbeat thread with it, until SQLite's busy timeout
    (60 s); a journal append could stop mid-line. A storage already shielded is returned
    as it is, and one storage object always gets the same shielded one (several searches
    on one in-memory storage: their ``study_._storage`` is one object)."""
    cls = _shielded_class()
    if isinstance(storage, cls):
        return storage
    found = _SHIELDED.get(id(storage))
    if found is None or found.storage is not storage:
        found = _SHIELDED[id(storage)] = cls(storage)
    return found


#: id of a storage -> its shielded storage, while that is alive (it keeps the storage alive)
_SHIELDED = weakref.WeakValueDictionary()


@functools.cache
def _shielded_class():
    """The class of :func:`shielded` storages (made on first use: Optuna loads lazily):
    an Optuna ``BaseStorage`` whose every public method calls the wrapped storage's
    inside ``shield_interrupts``; other attributes are the wrapped storage's."""
    from optuna.storages import BaseStorage

    from ._engine import shield_interrupts

    def method(name):
        def call(self, *args, **kwargs):
            check = _GUARDS.get(vars(self).get("setting"))
            if check is not None:  # (guard_storage)
                check()
            with shield_interrupts():
                return getattr(self.storage, name)(*args, **kwargs)

        call.__name__ = call.__qualname__ = name
        return call

    def getattr_(self, name):  # (only for names the class does not have)
        if name == "storage":
            raise AttributeError(name)
        return getattr(self.storage, name)

    namespace = {name: method(name) for name in dir(BaseStorage)
                 if not name.startswith("_") and callable(getattr(BaseStorage, name))}
    namespace.update(
        __doc__=_shielded_class.__doc__,
        __init__=lambda self, storage: setattr(self, "storage", storage),
        __getattr__=getattr_,
        # a class made here: pickled as the storage it wraps, shielded again on loading
        __reduce__=lambda self: (shielded, (self.storage,)),
        __module__=__name__,
    )
    return type("ShieldedStorage", (BaseStorage,), namespace)


def _as_url(storage):
    """A storage setting as a URL: a path is a SQLite file (``sqlite:///<path>``)."""
    return storage if "://" in storage else f"sqlite:///{storage}"


def _sqlite_file(url):
    """The file of a SQLite URL (what follows ``///``), or None."""
    return url.split("///", 1)[1] if "///" in url else None


@functools.cache
def _journal_backend():
    """Optuna's ``JournalFileBackend`` that never appends to a torn record.

    A write cut short (a full disk, a file size limit, a process killed in the middle of
    it) leaves the journal's last line without its newline. Optuna's reader skips such a
    last line, but its next append glued a new record to it: a line in the middle that
    no JSON decoder reads, and the whole study (every fit recorded before) unreadable.
    :meth:`append_logs` drops the torn tail first, under the journal's lock (no writer
    is in the middle of a record then, so a tail without newline is a dead write)."""
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

    class _Lock(JournalFileSymlinkLock):
        """Optuna's lock (a link ``<journal>.lock`` to the journal) that never removes a
        live lock (:func:`_lock_acquire`, :func:`_lock_release`).

        Was: a waiter removed a link naming no file (looked at twice, then removed: the
        new holder's, when the lock changed hands between the looks); the link of a
        relative journal in a folder (``runs/j.log``) named ``runs/runs/j.log`` from its
        own folder, so every live lock named no file; a release removed whatever lock
        was there; Optuna's ``acquire`` released on any exception in its attempt;
        Optuna's spun forever, one core busy, on a link naming no file."""

        def __init__(self, filepath, grace_period=30):
            super().__init__(filepath, grace_period)
            # the link lies beside the journal: it names it from there, whatever the cwd
            self._lock_target_file = os.path.basename(filepath)
            self._held = None  # (_link_identity of the link this object made, or None)

        acquire = _lock_acquire
        release = _lock_release
        check = _lock_check

    class _JournalFile(JournalFileBackend):
        __doc__ = _journal_backend.__doc__

        def __init__(self, file_path, lock_obj=None):
            super().__init__(file_path, lock_obj or _Lock(file_path))

        def append_logs(self, logs):
            text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
            lock, acquired = self._lock, False
            ours = isinstance(lock, _Lock)
            try:
                acquired = lock.acquire()  # (OSError: a full disk, no room for the link)
                # O_APPEND: the system writes at the end, never over another's record
                with open(os.open(self._file_path, os.O_RDWR | os.O_APPEND), "r+b") as f:
                    _drop_torn_tail(f, self._file_path)
                    if ours:
                        lock.check()  # taken from this process: write nothing
                    f.write(text.encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                raise write_failure(self._file_path, exc.errno, exc.strerror) from exc
            finally:
                # (ours: its own record, set also when interrupted before `acquired`)
                if (lock._held is not None) if ours else acquired:
                    lock.release()

        def __reduce__(self):  # a class made here: pickled by the path it reopens
            return _reopen_journal, (self._file_path,)

    return _JournalFile


#: seconds a journal's lock link naming no file stays the same before it is removed (one
#: of hpsearch names the journal; one naming nothing was left in a folder or shipped, or
#: made by another program given the journal's relative path from another folder)
_DANGLING_LOCK_GRACE = 1.0
#: errors of ``link`` on a file system without hard links
_NO_HARD_LINKS = frozenset(
    getattr(errno, name) for name in ("EPERM", "EOPNOTSUPP", "ENOTSUP", "ENOSYS")
    if hasattr(errno, name)
)
#: longest sleep between two attempts at a journal's lock
_LOCK_POLL = 0.05


def _link_identity(path):
    """What tells one lock link from another made at ``path`` later (the same name), or
    None when there is none: its inode and the time it was made (a rename keeps both)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns


def _lost_lock(lock):
    """The error of a process whose journal lock ``lock`` was taken from it."""
    return RuntimeError(
        f"Error: did not possess lock {lock!r}: it was taken by another process while "
        "this one held it (held past the grace period, e.g. a stopped process); the "
        "journal may hold records written at once by both"
    )


def _take_link(path, identity):
    """Remove the link ``path`` if it is the one of ``identity``; True when it was. The
    link is moved aside first (one atomic step) and looked at there: another link made
    at ``path`` meanwhile is put back, never removed (if yet another was made at
    ``path`` meanwhile, the holders of both fail loudly)."""
    aside = f"{path}.{uuid.uuid4().hex}.rename"
    try:
        os.rename(path, aside)
        if _link_identity(aside) == identity:
            return True
        try:
            os.link(aside, path, follow_symlinks=False)
        except FileExistsError:
            pass
        except OSError as exc:  # (no hard links: moved back unless one is there)
            if exc.errno not in _NO_HARD_LINKS:
                raise
            if not os.path.lexists(path):
                os.rename(aside, path)
        return False
    except FileNotFoundError:  # (not there any more: removed by its holder)
        return False
    finally:  # (no Python call, no `with`: an interrupt can land only after it)
        try:
            os.unlink(aside)
        except FileNotFoundError:
            pass


def _lock_acquire(self):
    """Wait for the journal's lock (``self``: a ``_Lock`` of :func:`_journal_backend`) and
    take it (:func:`_try_lock`). A lock link found is removed only when the same link
    stayed for the grace period (30 s; :data:`_DANGLING_LOCK_GRACE` when it names no
    file), by :func:`_take_link`. Interrupted, this releases nothing but its own."""
    lock, delay, seen, since = self._lock_file, 0.001, None, 0.0
    while not _try_lock(self):
        found = _link_identity(lock)
        if found is None:
            continue  # released meanwhile
        now = time.monotonic()
        if found != seen:
            seen, since = found, now
        grace = self.grace_period if os.path.exists(lock) else _DANGLING_LOCK_GRACE
        if grace is not None and now - since >= grace:
            if _take_link(lock, found):
                warnings.warn(
                    f"The journal's lock {lock!r} stayed the same for {grace:g} s (left "
                    "by a process that ended or stopped while holding it, or naming no "
                    "file); it was removed.",
                    UserWarning,
                )
            seen, delay = None, 0.001
            continue
        time.sleep(delay)
        delay = min(2 * delay, _LOCK_POLL)
    return True


def _try_lock(self):
    """One attempt at the journal's lock; True when taken. The link is made under a name
    of this attempt's own, then linked (``link``: one atomic step, failing when the lock
    is held) at the lock's name: the lock then is the very link this attempt made, told
    from any other by :func:`_link_identity` also when interrupted before noting it. On
    a file system without hard links, the link is made at the lock's name (an interrupt
    right after leaves it for the grace period)."""
    lock, made = self._lock_file, None
    mine = f"{lock}.{uuid.uuid4().hex}.new"
    try:
        os.symlink(self._lock_target_file, mine)
        made = _link_identity(mine)
        try:
            os.link(mine, lock, follow_symlinks=False)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            try:
                os.symlink(self._lock_target_file, lock)
            except FileExistsError:
                return False
            made = _link_identity(lock)
        self._held = made
        return True
    except BaseException:
        if made is not None and self._held is None and _link_identity(lock) == made:
            _take_link(lock, made)  # (interrupted right after linking it)
        raise
    finally:  # (as in _take_link; an interrupt in contextlib's calls left the link)
        try:
            os.unlink(mine)
        except FileNotFoundError:  # (interrupted before making it)
            pass


def _lock_check(self):
    """Raise :func:`_lost_lock` when the journal's lock this ``_Lock`` took is not its
    own any more (taken by another process); it holds nothing then."""
    if self._held is None or _link_identity(self._lock_file) != self._held:
        self._held = None
        raise _lost_lock(self._lock_file)


def _lock_release(self):
    """Release the journal's lock: remove this ``_Lock``'s own link only; a lock it does
    not hold (never taken, or taken from it by another process) raises Optuna's
    ``RuntimeError`` "did not possess lock"."""
    held, self._held = self._held, None
    if held is None:
        raise RuntimeError(f"Error: did not possess lock {self._lock_file!r}")
    if _link_identity(self._lock_file) != held or not _take_link(self._lock_file, held):
        raise _lost_lock(self._lock_file)


def _reopen_journal(path):
    """The journal backend of ``path`` (how a pickled one is rebuilt: a fitted search
    holding its study is saved with ``pickle``/``joblib.dump`` like any other)."""
    return _journal_backend()(path)


class StoreWriteError(OSError):
    """A write to the trial store failed (a full disk, a file size limit); the fits
    recorded before it are kept (:func:`write_failure`). ``reason``: the system's words
    alone (``strerror`` adds how to go on in the Python API's words)."""

    reason = None


def write_failure(path, errno_, reason):
    """The error of a write to the trial store ``path`` that failed (a full disk): a
    :class:`StoreWriteError` naming the file, saying that the fits recorded before are
    kept."""
    error = StoreWriteError(
        errno_,
        f"{reason} (cannot write to the trial store; the fits recorded before are kept: "
        "free space, then run the search again with resume=True)",
        path,
    )
    error.reason = reason
    return error


#: SQLite's result codes of a write the disk refused (``sqlite3.Error.sqlite_errorname``)
_SQLITE_DISK = {"SQLITE_FULL": errno.ENOSPC, "SQLITE_IOERR": errno.EIO}
#: their messages (an older ``sqlite3`` module without ``sqlite_errorname``)
_SQLITE_DISK_TEXT = {"database or disk is full": errno.ENOSPC, "disk I/O error": errno.EIO}


@contextmanager
def storage_errors(storage):
    """Turn a SQLite write the disk refused, anywhere in the block, into
    :func:`write_failure` naming the database file. Optuna wraps it in a
    ``StorageInternalError`` that blames "invalid data in the commit, e.g. exceeding max
    length", and SQLAlchemy names no file."""
    try:
        yield
    except Exception as exc:
        found = _sqlite_disk_error(exc)
        if found is None or not isinstance(storage, str):
            raise
        url = _as_url(storage)
        path = _sqlite_file(url)
        error = write_failure(url if path is None else path, *found)
        for note in getattr(exc, "__notes__", ()):  # (where the fits are: _base._fit)
            error.add_note(note)
        raise error from exc


def _sqlite_disk_error(exc):
    """``(errno, SQLite's words)`` when ``exc`` comes from a SQLite write the disk refused
    (a full disk, a file size limit), else None."""
    import sqlite3

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError
        for e in (exc, orig):
            if isinstance(e, sqlite3.Error):
                name = getattr(e, "sqlite_errorname", "") or ""
                for code, number in _SQLITE_DISK.items():
                    if name.startswith(code):
                        return number, str(e)
                for text, number in _SQLITE_DISK_TEXT.items():
                    if text in str(e):
                        return number, str(e)
        exc = exc.__cause__ or exc.__context__
    return None


def _study_names_in(storage, most=5):
    """`` The storage holds the studies 'a', 'b'.`` (the names a ``resume=True`` may
    take: a search given no study_name ran in Optuna's generated ``no-name-<uuid>``), or
    nothing when there is no storage or it cannot be read."""
    import optuna

    if storage is None or isinstance(storage, str) and not _exists(storage):
        return ""
    try:
        names = optuna.study.get_all_study_names(make_storage(storage))
    except Exception:  # noqa: BLE001 - only a hint in an error message
        return ""
    if not names:
        return " The storage holds no study."
    shown = ", ".join(repr(n) for n in names[:most])
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return f" The storage holds the studies {shown}{more}."


def _exists(storage):
    """Whether reading the storage URL or path ``storage`` creates no file: a journal or
    SQLite file that exists, or a database server."""
    if storage.endswith((".log", ".jsonl")) and "://" not in storage:
        return os.path.exists(storage)
    url = _as_url(storage)
    if url.startswith("sqlite:"):
        path = _sqlite_file(url)
        return bool(path) and path != ":memory:" and os.path.exists(path)
    return True


def _drop_torn_tail(f, path, chunk=4096):
    """Truncate the open journal ``f`` after its last newline (a record cut short), with
    a warning naming ``path``."""
    import warnings

    end = f.seek(0, os.SEEK_END)
    pos = end
    while pos > 0:
        start = max(0, pos - chunk)
        f.seek(start)
        found = f.read(pos - start).rfind(b"\n")
        if found >= 0:
            pos = start + found + 1
            break
        pos = start
    if pos < end:
        f.truncate(pos)
        warnings.warn(
            f"The journal {path!r} ended with a record cut short ({end - pos} bytes: a "
            "write stopped by a full disk or a killed process); it was dropped before "
            "writing on. The records before it are kept.",
            UserWarning,
        )


def _check_folder(path, storage):
    """A storage file's folder must exist: say so with the path (SQLite would only say
    "unable to open database file")."""
    folder = os.path.dirname(os.path.abspath(path.split("?", 1)[0]))
    if not os.path.isdir(folder):
        raise ValueError(
            f"The 'storage' parameter names a file in a directory that does not exist: "
            f"{folder!r}. Got {storage!r} instead. Create the directory first."
        )


def _retry(make, attempts=20):
    """``make()``, tried again while another process creates the same new database's
    tables ("table ... already exists", a duplicate schema version)."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(attempts):
        try:
            return make()
        except (IntegrityError, OperationalError) as exc:
            text = str(exc)
            if attempt == attempts - 1 or not (
                "already exists" in text or "alembic_version" in text
            ):
                raise
            time.sleep(0.1)


def _boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _pid_namespace():
    """Inode of this process's PID namespace (Linux), "" if unknown."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def _machine():
    """The boot id, with the PID namespace (``<boot id>:<namespace>``) where known: the
    processes of two containers of one machine (one host name and boot id, as with
    ``--network host``) do not see each other's pids, so each is another machine for the
    other (its heartbeat tells). Was: a live process of the other container was looked
    up in this one's process table, not found, and its RUNNING trials taken over."""
    namespace = _pid_namespace()
    return f"{_boot_id()}:{namespace}" if namespace else _boot_id()


def _start_time(pid):
    """Start time of process ``pid`` (clock ticks since boot, Linux), "" if unknown;
    None when the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    if fields and fields[0] in ("Z", "X"):
        return None
    return fields[19] if len(fields) > 19 else ""


#: tokens of the stores of this process still running a search
_LIVE = set()
_TOKENS = iter(range(1, 2**62))


def owner_id(pid=None, token=0):
    """``host/boot id/pid/start time#token`` of a process (this one by default; the boot
    id with this process's PID namespace, :func:`_machine`); the token tells the searches
    of one process apart."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{_machine()}/{pid}/{_start_time(pid) or ''}#{token}"


#: The heartbeat a search writes when it ends (:meth:`TrialStore.close`): its owner is
#: dead from then on, whether or not its process still runs.
ENDED = -1.0


def owner_alive(owner, heartbeats=None, now=None, seen=None):
    """Whether the process ``owner`` (an :func:`owner_id`) still runs (and its search:
    a heartbeat :data:`ENDED` says it ended).

    On this machine (same host name, boot id and PID namespace) the process table tells;
    for another machine (or container), a heartbeat in ``heartbeats`` (``{owner: time}``) newer than
    :data:`GRACE_PERIOD` seconds. ``seen`` (``{owner: (heartbeat, monotonic time it was
    first read, whether a change of it was read)}``, :meth:`TrialStore._read_heartbeats`)
    judges by the reader's clock alone: a heartbeat read unchanged for
    :data:`GRACE_PERIOD` seconds is dead, also when its time looks fresh (the writer's
    clock ahead), and one read changing lives that long, also when its time looks old (the
    reader's wall clock jumped forward). A trial without owner (an older hpsearch, a bare
    ``study.ask()``) is dead.
    """
    if not isinstance(owner, str) or owner.count("/") != 3:
        return False
    if (heartbeats or {}).get(owner) == ENDED:  # its search ended (TrialStore.close)
        return False
    process, _, token = owner.partition("#")
    host, boot, pid, start = process.split("/")
    # (an owner written before the namespace was: the boot id alone, this namespace's)
    if host == socket.gethostname() and boot in (_machine(), _boot_id()):
        if str(os.getpid()) == pid:  # this process: is that search still running?
            return token in _LIVE
        try:
            pid = int(pid)
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            return False
        except PermissionError:
            pass
        now_start = _start_time(pid)
        return now_start is not None and (not start or not now_start or now_start == start)
    beat = (heartbeats or {}).get(owner)
    if beat is None:
        return False
    watched = (seen or {}).get(owner)
    if watched is not None and watched[0] == beat:
        if time.monotonic() - watched[1] >= GRACE_PERIOD:
            return False  # no new heartbeat read for the grace period
        if watched[2]:
            return True  # it beats (read changing), whatever the two wall clocks say
    now = time.time() if now is None else now
    return now - beat < GRACE_PERIOD


def recorded_fits(study):
    """Number of distinct (row, split) fits recorded in ``study``: per fit (an interrupted
    candidate's finished splits) or as part of a finished row. What a resume does not
    fit again."""
    fits = set()
    for trial in study.get_trials(deepcopy=False):
        for name, payload in trial.user_attrs.items():
            kind, _, rest = name.partition(":")
            if kind in ("hpsearch_fit", "hpsearch_row") and _record_problem(kind, payload):
                continue  # (not hpsearch's: a trial added by hand)
            if kind == "hpsearch_fit":
                fits.add(tuple(rest.rsplit(":", 1)))
            elif kind == "hpsearch_row":
                fits.update((rest, str(s)) for s in range(len(payload["fit_time"])))
    return len(fits)


#: study system attribute: :func:`data_fingerprint` of the data the study's fits saw
DATA_ATTR = "hpsearch_data"
#: study system attribute: a hash of the CV splits the study's fits saw (check_splits)
SPLITS_ATTR = "hpsearch_splits"
#: study system attribute: a hash of the search settings a row key holds (check_settings);
#: ``<SETTINGS_ATTR>_of:<hash>`` holds the settings themselves, for the error message
SETTINGS_ATTR = "hpsearch_settings"
#: study system attribute: the search's callable ``scoring`` returned a dict (a
#: multi-metric search, also with the one key ``"score"``; :meth:`TrialStore.note_scorer_dict`)
SCORER_DICT_ATTR = "hpsearch_scorer_returned_dict"
#: study system attribute: a hash of the search space a study's trials were drawn from
#: (check_space); ``<SPACE_ATTR>_of:<hash>`` holds the space's text, for the error message
SPACE_ATTR = "hpsearch_space"
#: study system attribute: the metric a study's trial values are (check_objective)
OBJECTIVE_ATTR = "hpsearch_objective"
#: study system attribute: the epoch budgets a pruned study's trials climbed (check_rungs)
RUNGS_ATTR = "hpsearch_rungs"
#: study system attribute: the master seed of the study's per-fit seeds (check_seed)
SEED_ATTR = "hpsearch_seed"
#: study system attribute: the kind of search whose fits the study holds (check_kind)
KIND_ATTR = "hpsearch_kind"
#: study system attribute ``<HOLDER_ATTR>:<owner>``: the search a process runs in the
#: study, written before its first trial (:meth:`TrialStore.announce`): ``[class name,
#: group]``, the group None for a halving or Hyperband (``alone``: it shares the study with
#: no other search; an earlier version wrote its class name alone), else that of
#: :attr:`TrialStore.group` (it shares the study with the processes of that group); False
#: once it ended or was refused
HOLDER_ATTR = "hpsearch_holder"

#: study system attribute ``<POPPING_ATTR>:<owner>``: when that process last went to take
#: an enqueued trial on SQLite (:meth:`TrialStore.mark_popping`); notes older than
#: :data:`POPPING_RECENT` seconds are ignored
POPPING_ATTR = "hpsearch_popping"
POPPING_RECENT = 600.0
#: study system attribute ``<REQUEUING_NOTE>:<owner>``: when that process last went to
#: close an orphaned enqueued trial on SQLite (:meth:`TrialStore.mark_requeuing`)
REQUEUING_NOTE = "hpsearch_requeuing_orphan"
#: user attribute ``<TAKING_ATTR>:<owner>`` of an enqueued trial: that process went to
#: take it (:meth:`TrialStore.pop_enqueued`), written while the trial is WAITING
TAKING_ATTR = "hpsearch_taking"


def enqueued_takers(trial):
    """The processes that may hold an enqueued ``trial`` that is RUNNING: its
    ``hpsearch_owner``, else (a process killed between taking it and writing its owner)
    those that marked it (:data:`TAKING_ATTR`); empty for a trial taken by an older
    hpsearch or a bare ``study.ask()``."""
    owner = trial.user_attrs.get("hpsearch_owner")
    if owner is not None:
        return [owner]
    prefix = TAKING_ATTR + ":"
    return [name[len(prefix):] for name in trial.user_attrs if name.startswith(prefix)]


def _article(word):
    """``"an"`` before a word said with a vowel first (``an ASHASearchCV``, ``an
    OptunaSearchCV``), ``"a"`` otherwise (``a HalvingSearchCV``); was ``a`` always
    ("is running a ASHASearchCV")."""
    return "an" if str(word)[:1].lower() in "aeio" else "a"


def _holder_kind(value):
    """``(class name, group)`` of a :data:`HOLDER_ATTR` value (a class name alone, as an
    earlier version wrote it: a halving or Hyperband, group None)."""
    if isinstance(value, str):
        return value, None
    name, group = value
    return name, group


#: the search parameters :meth:`TrialStore.check_settings` compares, in the order checked
#: (each setting is named by its parameter)
_SETTING_NAMES = ("estimator", "scoring", "cv", "return_train_score")


class StudyMismatch(ValueError):
    """A resumed study holds fits made with other data, splits or settings
    (:meth:`TrialStore.check_data`, ``check_splits``, ``check_settings``).

    Attributes
    ----------
    setting : str
        What differs: ``"data"``, ``"cv"``, ``"estimator"``, ``"scoring"``,
        ``"return_train_score"`` or ``"random_state"``; for a resumed Optuna search also
        ``"param_distributions"``, ``"refit"``, ``"rungs"`` or ``"pruner"``
        (:meth:`TrialStore.check_space`, :meth:`TrialStore.check_objective`,
        :meth:`TrialStore.check_rungs`); for processes sharing one ASHA also
        ``"param_distributions"``, ``"n_trials"``, ``"resource"``, ``"factor"`` or
        ``"n_resources"`` (a study file names its key from it).
    """

    def __init__(self, message, setting):
        super().__init__(message)
        self.setting = setting


def search_settings(estimator, scoring, cv_description, return_train_score):
    """The settings that, besides a candidate's parameters, decide its fits and scores
    (the row key holds them): the estimator's parameters (``get_params(deep=False)``),
    the scoring, the splitter and ``return_train_score``, as texts without object
    addresses (equal in every process for the same settings)."""
    import re

    from sklearn.base import clone

    def text(value):
        return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))

    estimator = clone(estimator)
    params = estimator.get_params(deep=False)
    described = {"class": type(estimator).__name__,
                 **{name: text(value) for name, value in sorted(params.items())}}
    if any("..." in value for value in described.values()):
        described.update(_nested_params(estimator))
    return {
        "estimator": described,
        "scoring": text(scoring),
        "cv": text(cv_description),
        "return_train_score": bool(return_train_score),
    }


def _no_address(value):
    """``repr(value)`` without object addresses (equal in every process)."""
    import re

    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def _dimension_text(dim):
    """A dimension as a text that tells other bounds, choices or conditions apart: its
    study-file form (``to_spec``), a scipy distribution by its range (``loguniform(a,
    b)`` as ``Float(a, b, log=True)``) or, without one, by its name and arguments."""
    try:
        return _no_address(dim.to_spec())
    except ValueError:
        pass
    try:
        return _no_address(dim._as_range())
    except (ValueError, TypeError, AttributeError, NotImplementedError):
        dist = getattr(dim, "dist", dim)
        name = getattr(getattr(dist, "dist", None), "name", type(dist).__name__)
        return _no_address((name, getattr(dist, "args", ()), getattr(dist, "kwds", {}),
                            getattr(dim, "when", None)))


def space_text(space):
    """The search space as texts: one ``{name: dimension text}`` per sub-space
    (:func:`_dimension_text`); the space's repr when it is not a valid space (the search
    reports that itself)."""
    from .space import as_space

    try:
        spaces = as_space(space)
    except (ValueError, TypeError):
        return [{"(space)": _no_address(space)}]
    return [{name: _dimension_text(dim) for name, dim in sub.items()} for sub in spaces]


def _space_difference(theirs, mine):
    """``(recorded text, this search's text)`` of the dimensions that differ between two
    :func:`space_text` values (the whole spaces when their sub-spaces differ in number)."""
    if theirs is None or len(theirs) != len(mine):
        return str(theirs), str(mine)
    old, new = [], []
    for a, b in zip(theirs, mine):
        for name in dict.fromkeys([*a, *b]):
            if a.get(name) != b.get(name):
                old.append(f"{name}={a.get(name, '(none)')}")
                new.append(f"{name}={b.get(name, '(none)')}")
    return ", ".join(old), ", ".join(new)


def _nested_params(estimator):
    """``{"step__param": text}`` of every nested parameter that is not itself an estimator.

    scikit-learn's repr elides a long estimator in the middle (``N_CHAR_MAX``, and lists
    past ``N_MAX_ELEMENTS_TO_SHOW`` elements), so :func:`search_settings` compares these
    too when a parameter's text holds ``...``: was, a fixed parameter changed inside a
    large ``ColumnTransformer`` or pipeline was not seen, and a resume reused the fits made
    with the old value. Only then: the settings of a study without elided texts are as an
    earlier version recorded them. Arrays count by their hash (NumPy's repr summarises)."""
    import joblib

    def leaf(value):
        if isinstance(value, np.ndarray):
            return f"array {joblib.hash(value)}"
        return _no_address(value)

    def holds_estimator(value):  # (its estimators' parameters are listed themselves)
        if isinstance(value, (list, tuple)):
            return any(holds_estimator(v) for v in value)
        return hasattr(value, "get_params") and not isinstance(value, type)

    return {name: leaf(value)
            for name, value in sorted(estimator.get_params(deep=True).items())
            if "__" in name and not holds_estimator(value)}


def _settings_difference(theirs, mine):
    """``(parameter, recorded text, this search's text)`` of the first setting that
    differs (an estimator's: the parameters that differ)."""
    for name in _SETTING_NAMES:
        a, b = theirs.get(name), mine.get(name)
        if a == b:
            continue
        if name == "estimator" and isinstance(a, dict):
            if a.get("class") == b.get("class"):
                keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
                return (name, ", ".join(f"{k}={a.get(k, '(none)')}" for k in keys),
                        ", ".join(f"{k}={b.get(k, '(none)')}" for k in keys))
            a, b = a.get("class"), b.get("class")
        return name, f"{name}={a}", f"{name}={b}"
    return None


def data_fingerprint(X, y=None, groups=None, fit_params=None, score_params=None,
                     unscored=()):
    """A hash of everything a fit sees besides the candidate and the splitter.

    A recorded fit is found again by its row key (candidate, budget, splitter, scoring,
    estimator), which does not hold the data, so a resumed study must be resumed on the
    data it ran on (:meth:`TrialStore.check_data`). The fingerprint is
    :func:`joblib.hash` (MD5 of the pickled values: arrays, sparse matrices, DataFrames)
    of ``X``, ``y``, ``groups``, each fit parameter (``sample_weight``, ...) and each
    parameter routed to the scorer only (``score_params``: with metadata routing a
    ``sample_weight`` the estimator does not request still weights the test scores). A
    NumPy array counts by its values, dtype and shape: a memmap or a Fortran-ordered copy
    of the same array is the same data. The same values in another container (a list,
    a DataFrame, CSR instead of CSC, another dtype or column order) count as other data:
    such a resume is refused, never silently accepted. A value that cannot be pickled
    counts by its type (a design limit: two callbacks of one type that act differently
    look alike). ``unscored``: the names of the fit parameters the scorer does not get
    (with metadata routing, a ``sample_weight`` the estimator requests and the scorer
    does not): the same weights weight the test scores or not, other scores.

    Returns
    -------
    str
    """
    import joblib

    def one(value):
        if isinstance(value, np.ndarray) and not value.dtype.hasobject:
            value = np.ascontiguousarray(np.asarray(value))  # memmap, order: same data
        try:
            return joblib.hash(value)
        except Exception:  # noqa: BLE001 - e.g. a callback that cannot be pickled
            return type(value).__qualname__

    def table(params):
        return sorted((str(k), one(v)) for k, v in dict(params or {}).items())

    parts = [one(X), one(y), one(groups), table(fit_params)]
    if score_params:  # absent: the fingerprint of a study recorded without them
        parts.append(table(score_params))
    if unscored:  # (likewise)
        parts.append(["unscored", sorted(str(name) for name in unscored)])
    return joblib.hash(parts)


_QUIET = {"open": 0, "verbosity": None}
_QUIET_LOCK = threading.Lock()


def _quiet_optuna(on):
    """Optuna's INFO lines (one per study and per trial) off while any store is open
    (``on``: one more open, else one fewer), the user's verbosity back when the last one
    closes. A count, not a saved level per store: nested CV opens and closes the stores
    of its inner searches in threads, in any order. A user's quieter setting is kept."""
    import optuna

    with _QUIET_LOCK:
        if on:
            if _QUIET["open"] == 0:
                _QUIET["verbosity"] = optuna.logging.get_verbosity()
                optuna.logging.set_verbosity(max(_QUIET["verbosity"],
                                                 optuna.logging.WARNING))
            _QUIET["open"] += 1
        elif _QUIET["open"] > 0:
            _QUIET["open"] -= 1
            if _QUIET["open"] == 0:
                optuna.logging.set_verbosity(_QUIET["verbosity"])


@contextmanager
def quiet_optuna():
    """:func:`_quiet_optuna` for a block (a study made outside a search's store)."""
    _quiet_optuna(True)
    try:
        yield
    finally:
        _quiet_optuna(False)


def _critical(method):
    """Run the :class:`TrialStore` method as one critical section
    (:func:`~hpsearch.model_selection._engine.shield_interrupts`): a Ctrl-C or SIGTERM
    that arrives inside is raised once all its writes are done. Was: a row's attributes
    written but not its trial's state COMPLETE, then closed FAIL as interrupted, so that
    ``resume`` found the row recorded and the study never got the candidate's COMPLETE
    trial (seen in ``test_interrupt_stress.py``)."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        from ._engine import shield_interrupts

        with shield_interrupts():
            return method(self, *args, **kwargs)

    return run


class TrialStore:
    """Records the rows of a search in an Optuna study (see the module docstring).

    Parameters
    ----------
    storage : None, str or optuna storage
        See :func:`make_storage`.
    study_name : str or None
        None generates a name (not resumable).
    resume : bool, default=False
        Load the finished rows of an existing study of that name. Without it, an
        existing study of that name is an error (results would mix).
    direction : str, default="maximize"
    **study_options
        More ``optuna.create_study`` arguments (``sampler``, ``pruner``).
    """

    def _check_direction(self, storage, study_name, direction):
        """A resumed study must optimize the way the search does (``maximize``: sklearn's
        scores are greater-is-better); otherwise its best trial would be the worst."""
        import optuna

        expected = [optuna.study.StudyDirection[direction.upper()]]
        if self.study.directions != expected:
            found = ", ".join(d.name.lower() for d in self.study.directions)
            raise ValueError(
                f"The study {study_name!r} in storage {storage!r} has direction(s) "
                f"{found}, but this search needs direction {direction!r} (it maximizes "
                "sklearn's greater-is-better scores). Resume a study created by an "
                "hpsearch search or by optuna.create_study(direction='maximize') (e.g. "
                "to enqueue trials), or choose another study_name."
            )

    def __init__(self, storage=None, study_name=None, *, resume=False,
                 direction="maximize", **study_options):
        import optuna

        if resume and study_name is None:
            raise ValueError(
                "resume=True needs the study_name of the search to resume; got "
                f"study_name=None.{_study_names_in(storage)}"
            )
        _quiet_optuna(True)  # until close()
        self._quiet = True
        try:
            self.study = optuna.create_study(
                storage=make_storage(storage),
                study_name=study_name,
                direction=direction,
                load_if_exists=resume,
                **study_options,
            )
            self._check_direction(storage, study_name, direction)
        except optuna.exceptions.DuplicatedStudyError:
            self._unquiet()
            raise ValueError(
                f"A study named {study_name!r} already exists in storage {storage!r}. "
                "Pass resume=True to continue it, or choose another study_name. (Clones "
                "of one search fitted on other rows, as sklearn's cross_validate fits "
                "one per outer split, each need their own study: "
                "hpsearch.model_selection.nested_cross_validate names them "
                "'<study_name>-outer<k>'.)"
            ) from None
        except BaseException:
            self._unquiet()
            raise
        self._storage = self.study._storage  # (shielded, make_storage)
        self._study_id = self.study._study_id
        self._rows = {}
        self._trial_ids = {}  # candidate key -> trial id (budgeted rows)
        self._last = {}  # trial id -> last value
        self._open = set()  # RUNNING trials this store created or reopened
        self._kinds = {}
        self._space = {}  # name -> _RangeParam / _ChoiceParam (declare_space)
        self._stored = {}  # name -> distribution already in the study (resume)
        self._fits = {}  # row key -> {split: fit payload}
        self._raced = {}  # row key -> finished splits of a raced row (racing)
        self.racing = False  # a racing search: raced rows count as done (claim)
        #: resume: the ``fit_timeout`` of this run (math.inf: none), whose fits stopped by
        #: a shorter one are fitted again (:meth:`_drop_timed_out`); None: kept as failed
        self.retry_timed_out = None
        self._retried = set()  # trials whose row is fitted again (claim: not a winner)
        self.alone = False  # halving, Hyperband: no other live search on the study
        self.name = None  # the search's class name (HOLDER_ATTR, messages)
        self.group = "claim"  # shares the study with live searches of its group only
        self.kind = None  # the kind of search recorded in the study (check_kind)
        self._holding = False  # this search announced itself (HOLDER_ATTR)
        self._checked = False  # no other kind of search holds the study (checked once)
        #: each read of the study (:meth:`refresh`) is checked by :meth:`check_others`
        #: until the first trial: a search that takes the study's trials for its own
        #: before it claims (ASHA: its candidates count towards ``n_trials``; halving,
        #: Hyperband: the rows found are reused)
        self.check_reads = False
        #: ``(trials, system attributes)`` of the last :meth:`refresh` of a shared store
        #: (the attributes read after the trials), None before it
        self.last_read = None
        self._claims = {}  # candidate key -> trials carrying it
        self._heartbeats = {}  # owner -> time of its last heartbeat
        self._seen = {}  # owner -> (heartbeat, monotonic time first read, a change read)
        self._mine = set()  # trial ids this process owns
        #: enqueued trials this process took (pop_enqueued) and has not made candidates
        #: yet: an interrupted close leaves them RUNNING, to be enqueued again
        self._popped = set()
        self._marked = set()  # (trial id, row key) marks written (turns)
        self._ignored = set()  # (trial number, attribute) of malformed records (warned)
        self._tickets = {}  # ticket name -> trial id of this process's ticket (turns)
        self._beat = None  # (thread, stop event, write lock) of the heartbeat
        self._ended = False  # close() began: no heartbeat from now on
        self._token = str(next(_TOKENS))
        _LIVE.add(self._token)
        self.owner = owner_id(token=self._token)
        self.shared = not isinstance(self._storage.storage, optuna.storages.InMemoryStorage)
        if resume:
            self.refresh()

    # -- what the study holds ----------------------------------------------------------
    def check_data(self, fingerprint):
        """Record the study's :func:`data_fingerprint`, or, when the study has one (a
        resumed study), check it is this search's: another one means the recorded fits
        were made on other data (``X``, ``y``, ``groups`` or fit parameters) and would be
        reused as if made on this data, a silent wrong result. Raises ValueError then.

        Processes that start on a new study at once (a shared ASHA) must not each see
        no fingerprint and each record their own: every process first announces its
        fingerprint (study attribute ``hpsearch_data:<fingerprint>:<owner>``), then reads
        them all; of two processes on other data, the later reader sees the other's
        announcement and is refused (it withdraws its own). The first accepted one is
        recorded as the study's (``hpsearch_data``)."""
        self._check_recorded(DATA_ATTR, fingerprint, lambda found: StudyMismatch(
            f"The study {self.study.study_name!r} holds fits made on other data than "
            f"this search's (X, y, groups, fit parameters or which of them the scorer "
            f"gets differ: data fingerprint "
            f"{found[:12]} recorded, {fingerprint[:12]} now); resuming it would reuse "
            "those fits as if made on this data. Resume it with the data it ran on, "
            "or choose another study_name.", "data"))

    def check_splits(self, digest):
        """:meth:`check_data` for the CV splits (``digest``: a hash of their train and
        test indices; study attribute ``hpsearch_splits``): a recorded fit is found by
        its split's number, so a ``cv`` that splits otherwise now (a shuffling splitter
        with ``random_state=None``) would mix the fits of other folds. Raises
        ValueError then. A study recorded before this check records them on resume."""
        self._check_recorded(SPLITS_ATTR, digest, lambda found: StudyMismatch(
            f"The 'cv' splits of this search differ from those the study "
            f"{self.study.study_name!r} ran on (splits digest {found[:12]} recorded, "
            f"{digest[:12]} now); resuming it would mix the fits of other folds. Give "
            "a shuffling splitter a fixed random_state (e.g. KFold(5, shuffle=True, "
            "random_state=0)) and resume with the cv it ran on, or choose another "
            "study_name.", "cv"))

    def check_settings(self, settings, owner_name):
        """:meth:`check_data` for the search settings (:func:`search_settings`: the
        estimator's parameters, scoring, splitter, ``return_train_score``; study attribute
        ``hpsearch_settings``). A row is found by a key that holds these settings, so a
        search with other settings finds none of the study's rows: on a study other
        processes share it would run a second search in the same study, each process
        ignoring the other's candidates (ASHA) or re-fitting them with its own estimator
        and telling the study both (Optuna), and the study's best trial would compare
        scores of different estimators or metrics. Raises ValueError naming the setting
        then."""
        import joblib

        digest = joblib.hash(json.dumps(settings, sort_keys=True))
        store, study_id = self._storage, self._study_id
        store.set_study_system_attr(study_id, f"{SETTINGS_ATTR}_of:{digest}", settings)

        def message(found):
            theirs = store.get_study_system_attrs(study_id).get(f"{SETTINGS_ATTR}_of:{found}")
            name, recorded, now = _settings_difference(theirs or {}, settings) or (
                "estimator", f"settings {found[:12]}", f"settings {digest[:12]}")
            return StudyMismatch(
                f"The {name!r} parameter of {owner_name} must be the "
                f"same as in the search the study {self.study.study_name!r} holds (its "
                f"fits were made with {recorded}); another value makes another search, "
                f"whose results must not mix with these. Use the same {name}, or "
                f"another study_name. Got {now} instead.", name)

        self._check_recorded(SETTINGS_ATTR, digest, message)

    def note_scorer_dict(self):
        """Note in the study that the search's callable ``scoring`` returned a dict (its
        scores, read back, look like a plain number's, keyed ``"score"``), so that a
        resume reading every fit back is multi-metric too (:meth:`scorer_returned_dict`;
        was: ``multimetric_`` False and ``score()`` returning the dict)."""
        if not getattr(self, "_scorer_dict_noted", False):
            self._storage.set_study_system_attr(self._study_id, SCORER_DICT_ATTR, True)
            self._scorer_dict_noted = True

    def scorer_returned_dict(self):
        """Whether the study notes that a callable ``scoring`` returned a dict
        (:meth:`note_scorer_dict`)."""
        return bool(self._storage.get_study_system_attrs(self._study_id)
                    .get(SCORER_DICT_ATTR, False))

    def check_space(self, space, owner_name, parameter="param_distributions"):
        """:meth:`check_data` for the search space of a search whose study's trials are its
        candidates (Optuna: a resumed search counts the study's trials towards
        ``n_trials`` and ranks them with its own; study attribute ``hpsearch_space``). A
        changed space (a value added or removed, other bounds, a dimension added) would
        report and rank trials drawn from the old space as this search's (a best
        candidate outside the new space), so it is refused with a :class:`StudyMismatch`
        (setting ``"param_distributions"``) naming the dimensions with their recorded and
        new values. A study recorded before this check records the space on resume."""
        import joblib

        text = space_text(space)
        digest = joblib.hash(json.dumps(text, sort_keys=True))
        store, study_id = self._storage, self._study_id
        store.set_study_system_attr(study_id, f"{SPACE_ATTR}_of:{digest}", text)

        def message(found):
            theirs = store.get_study_system_attrs(study_id).get(f"{SPACE_ATTR}_of:{found}")
            recorded, now = _space_difference(theirs, text)
            return StudyMismatch(
                f"The {parameter!r} parameter of {owner_name} must be the same as in the "
                f"search the study {self.study.study_name!r} holds (its trials were drawn "
                f"from {recorded}); its trials would be counted and ranked with candidates "
                f"of another space. Use the same {parameter}, or another study_name. Got "
                f"{now} instead.", "param_distributions")

        self._check_recorded(SPACE_ATTR, digest, message)

    def check_objective(self, metric, refit, owner_name):
        """:meth:`check_data` for the metric whose mean CV score a search tells the study
        as each trial's value (``metric``: the one ``refit`` names, else the first of
        ``scoring``; study attribute ``hpsearch_objective``). With several metrics,
        another ``refit`` would tell the study values of another metric beside the old
        ones: its sampler would compare them and its best trial (``study_``) would not be
        the search's best. Refused with a :class:`StudyMismatch` (setting ``"refit"``)."""
        self._check_recorded(OBJECTIVE_ATTR, str(metric), lambda found: StudyMismatch(
            f"The 'refit' parameter of {owner_name} must select the metric the trials of "
            f"the study {self.study.study_name!r} were told (their values are mean "
            f"'{found}' scores; this search would tell mean '{metric}' scores and the "
            f"sampler and study_.best_trial would compare the two). Use refit='{found}', "
            f"or another study_name. Got refit={refit!r} instead.", "refit"))

    def check_rungs(self, rungs, owner_name):
        """:meth:`check_data` for the rungs of an Optuna search's pruning (``rungs``: its
        list of epoch budgets, None without a pruner; study attribute ``hpsearch_rungs``):
        a trial's value is its score at the last rung, and its pruning compared scores at
        the rungs, so trials climbed on other rungs would be ranked with this search's as
        if scored alike. Refused with a :class:`StudyMismatch` naming ``rungs`` (``pruner``
        when one of the two searches prunes and the other does not)."""
        mine = "None" if rungs is None else str([int(r) for r in rungs])

        def message(found):
            name = "rungs" if "None" not in (found, mine) else "pruner"
            return StudyMismatch(
                f"The {name!r} parameter of {owner_name} must give the rungs the trials "
                f"of the study {self.study.study_name!r} climbed (rungs {found}; None: no "
                "pruner); trials scored at other budgets must not be ranked together. "
                f"Use the same pruner and rungs, or another study_name. Got rungs {mine} "
                "instead.", name)

        self._check_recorded(RUNGS_ATTR, mine, message)

    def check_seed(self, seed, policy, owner_name):
        """The master seed of the per-fit seeds for this run of the study.

        A recorded fit is found by a row key that does not hold the seed, so a resumed
        search with another seed reuses the fits seeded otherwise beside its own. The
        study records the first run's seed (study attribute ``hpsearch_seed``), and
        ``policy`` says what a run does with it:

        - ``"adopt"`` (``random_state`` None or a ``RandomState``: a fresh seed per
          ``fit``): take the recorded seed, so a resume continues the run it resumes (and
          draws its candidates again); on a new study record this one (processes started
          at the same instant with None may each keep their own: give them a
          ``random_state``).
        - ``"strict"`` (an int, for a search whose candidates do not depend on it: a
          grid): another seed could only mix fits seeded otherwise with this run's, so it
          is refused (:class:`StudyMismatch`, setting ``"random_state"``), like other
          data (:meth:`check_data`).
        - ``"own"`` (an int, for a search that draws its candidates with it): keep this
          seed (another one draws other candidates: a new part of the study); recorded
          on a new study.

        Returns the seed to use.
        """
        storage, study_id = self._storage, self._study_id
        if policy == "strict":
            self._check_recorded(SEED_ATTR, str(int(seed)), lambda found: StudyMismatch(
                f"The 'random_state' parameter of {owner_name} must give the per-fit seeds "
                f"of the search the study {self.study.study_name!r} holds (master seed "
                f"{found} recorded, {seed} now); other seeds would mix its fits with fits "
                f"seeded otherwise. Use random_state={found} (or None, which continues "
                "with the recorded seed), or another study_name.", "random_state"))
            return int(seed)
        found = storage.get_study_system_attrs(study_id).get(SEED_ATTR)
        if found is None:
            storage.set_study_system_attr(study_id, SEED_ATTR, str(int(seed)))
            found = storage.get_study_system_attrs(study_id).get(SEED_ATTR, seed)
        return int(found) if policy == "adopt" else int(seed)

    def check_kind(self, kind):
        """:meth:`check_data` for the kind of search (study attribute ``hpsearch_kind``):
        searches of one kind resume and share each other's studies (grid, random and
        Optuna one kind, ASHA another, each halving or Hyperband class its own); a study
        that another kind ran refuses this search with a :class:`StudyMismatch` (setting
        ``"search"``): it would read that search's trials as its own (an ASHA resuming a
        finished halving's study counted its trials against ``n_trials`` and fitted
        nothing). The kind is recorded once a search has passed the check of the live
        searches (:meth:`_check_first`), so of two kinds started together on a new study
        the one that holds it is recorded; a study written before this check holds no
        kind and takes the first. While a search of the recorded kind runs, it refuses
        this one itself, naming its process (:meth:`_refuse_other_search`)."""
        self.kind = kind
        attrs = self._storage.get_study_system_attrs(self._study_id)
        self._read_heartbeats(attrs)
        live = any(value and self.alive(name.partition(":")[2]) for name, value in attrs.items()
                   if name.startswith(HOLDER_ATTR + ":"))
        if not live:  # (a live search of the recorded kind refuses this one itself,
            # naming its process: _check_first, which checks the kind again)
            self._refuse_other_kind(attrs.get(KIND_ATTR))

    def _refuse_other_kind(self, found):
        """The :class:`StudyMismatch` of :meth:`check_kind` when the study records
        ``found``, another kind than this search's."""
        kind = self.kind
        if found is not None and found != kind:
            raise StudyMismatch(
                f"The study {self.study.study_name!r} was run by a search of another kind "
                f"({found}; this {self.name} is of kind {kind}): {self.name} cannot "
                "resume or join it, it would take that search's trials for its own. "
                "Searches of one kind resume and share a study (grid, random and Optuna; "
                "ASHA; each halving or Hyperband class alone). Use another study_name.",
                "search")

    def _check_recorded(self, attr, value, message):
        """Announce ``value`` (``<attr>:<value>:<owner>``, one per process, so that a
        refused process withdraws its own only), then read every announcement and the
        recorded ``attr``; another value refuses (``message(found)``: a
        :class:`StudyMismatch`, a ValueError), the
        announcement is withdrawn then. See :meth:`check_data`."""
        storage, study_id = self._storage, self._study_id
        mine = f"{attr}:{value}:{self.owner}"  # one per process: withdrawn alone
        storage.set_study_system_attr(study_id, mine, True)
        attrs = storage.get_study_system_attrs(study_id)
        before = attrs.get(attr)
        others = sorted({
            name[len(attr) + 1:].split(":", 1)[0] for name, live in attrs.items()
            if live and name.startswith(attr + ":")
        } - {value})
        if before is not None and before != value or before is None and others:
            storage.set_study_system_attr(study_id, mine, False)
            raise message(before if before is not None else others[0])
        if before is None:
            storage.set_study_system_attr(study_id, attr, value)

    def refresh(self):
        """Re-read the study: finished rows and fits, claims and heartbeats of every
        process (one read of all trials, returned)."""
        self._rows, self._fits, self._claims = {}, {}, {}
        self._raced = {}
        row_trials = {}  # row key -> trials carrying a row of it
        trials = self._storage.get_all_trials(self._study_id, deepcopy=False)
        for trial in trials:
            for name, dist in trial.distributions.items():
                self._stored.setdefault(name, dist)
            for name, payload in trial.user_attrs.items():
                kind, _, rest = name.partition(":")
                if kind in ("hpsearch_row", "hpsearch_fit") and self._malformed(
                        trial, name, kind, payload):
                    continue
                if kind == "hpsearch_row":
                    self._rows[rest] = payload
                    row_trials.setdefault(rest, []).append(trial._trial_id)
                elif kind == "hpsearch_raced":
                    self._raced[rest] = payload
                elif kind == "hpsearch_fit":
                    key, _, split = rest.rpartition(":")
                    self._fits.setdefault(key, {})[int(split)] = payload
            key = trial.user_attrs.get("hpsearch_key")
            if key is not None:
                self._claims.setdefault(key, []).append(trial)
        self._drop_timed_out(row_trials)
        if self.shared:
            attrs = self._storage.get_study_system_attrs(self._study_id)
            self._read_heartbeats(attrs)
            self.last_read = (trials, attrs)
            if self.check_reads:
                self.check_others(trials, attrs)
        return trials

    def _malformed(self, trial, name, kind, payload):
        """Whether the user attribute ``name`` of ``trial`` is no well-formed hpsearch
        record (:func:`_record_problem`); a warning names it, once."""
        problem = _record_problem(kind, payload)
        if problem is not None and (trial.number, name) not in self._ignored:
            self._ignored.add((trial.number, name))
            warnings.warn(
                f"Trial {trial.number} of study {self.study.study_name!r} holds a user "
                f"attribute {name!r} that is not an hpsearch record ({problem}; a trial "
                "added or edited by hand?): it is ignored, and a candidate it would "
                "record is fitted here.", UserWarning, stacklevel=3)
        return problem is not None

    def _drop_timed_out(self, row_trials):
        """Resume with a longer ``fit_timeout`` (:attr:`retry_timed_out`): a fit an earlier
        run stopped under a shorter one (its error, ``_engine.fit_timeout_error``, names
        that limit) is not done. Its row no longer counts as recorded: the row's other
        fits stay finished fits, so :meth:`claim` claims the candidate again (its earlier
        trials do not hold it) and only the stopped fits run; the new row, recorded in a
        later trial, is the one read from then on."""
        from ._engine import stopped_sooner

        if self.retry_timed_out is None:
            return
        now = None if self.retry_timed_out == math.inf else self.retry_timed_out
        for fits in self._fits.values():
            for split in [s for s, fit in fits.items() if stopped_sooner(fit.get("error"), now)]:
                del fits[split]
        for key, payload in list(self._rows.items()):
            errors = payload.get("error") or []
            stopped = {s for s, error in enumerate(errors) if stopped_sooner(error, now)}
            if not stopped:
                continue
            del self._rows[key]
            kept = {s: {name: payload[name][s] for name in _FIT_KEYS + ("fit_failed",)
                        if name in payload}
                    for s in range(len(errors)) if s not in stopped}
            self._fits[key] = {**kept, **self._fits.get(key, {})}
            self._retried.update(row_trials.get(key, ()))

    def refits(self, trial_id):
        """Whether the row of that finished trial has fits to run again
        (:meth:`_drop_timed_out`): its candidate is not done."""
        return trial_id in self._retried

    def _read_heartbeats(self, attrs):
        """Every owner's last heartbeat, from the study system attributes ``attrs``, and
        when (monotonic clock) each was first read (:func:`owner_alive`'s ``seen``)."""
        self._heartbeats = {
            name.partition(":")[2]: beat for name, beat in attrs.items()
            if name.startswith("hpsearch_alive:")
        }
        now, seen = time.monotonic(), {}
        for owner, beat in self._heartbeats.items():
            before = self._seen.get(owner)
            if before is not None and before[0] == beat:
                seen[owner] = before
            else:  # first read, or a new heartbeat (a change read)
                seen[owner] = (beat, now, before is not None)
        self._seen = seen

    def lookup(self, row_key):
        """The recorded row of that key (``resume``), or None."""
        return self._rows.get(row_key)

    def finished_fits(self, row_key):
        """``{split: fit payload}`` of the fits of that row recorded in any trial."""
        return self._fits.get(row_key, {})

    def raced(self, row_key):
        """Whether the row of that key was raced (its remaining splits not to be fitted)."""
        return row_key in self._raced

    @_critical
    def record_raced(self, row, trial_id, close=True):
        """Record a raced row (racing) in its trial: the user attributes
        ``hpsearch_state = "RACED"``, ``hpsearch_raced:<row key>`` (its finished splits)
        and the readable per-split ones (its finished fits are already there); with
        ``close``, the trial is closed PRUNED (an asked Optuna trial is told by its
        strategy)."""
        import optuna

        done = [s for s, scores in enumerate(row["test_scores"]) if scores is not None]
        attrs = {**self._readable(row), "hpsearch_state": "RACED",
                 f"hpsearch_raced:{row['key']}": done}
        try:
            for name, attr in attrs.items():
                self._storage.set_trial_user_attr(trial_id, name, attr)
            if close:
                self._storage.set_trial_state_values(
                    trial_id, optuna.trial.TrialState.PRUNED
                )
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # taken over by another process
        self._raced[row["key"]] = done
        self._mine.discard(trial_id)

    def alive(self, owner):
        """Whether the process ``owner`` still runs (this one does)."""
        return owner == self.owner or owner_alive(owner, self._heartbeats, seen=self._seen)

    # -- claims ------------------------------------------------------------------------
    def _start_heartbeat(self):
        """Write this process's heartbeat now and every :data:`HEARTBEAT_INTERVAL` s
        (never again once :meth:`close` began: its ``ENDED`` is the last word)."""
        if self._beat is not None or not self.shared or self._ended:
            return
        name, stop, lock = f"hpsearch_alive:{self.owner}", threading.Event(), threading.Lock()
        storage, study_id = self._storage, self._study_id

        def beat():
            while not stop.wait(HEARTBEAT_INTERVAL):
                try:
                    # under the lock close() takes to write ENDED: no heartbeat lands
                    # after it (was: one stuck past close's wait, a slow SQLite or
                    # journal write, landed after ENDED, and a search that had ended
                    # in a live process, a notebook, was waited for by every resume)
                    with lock:
                        if stop.is_set():
                            return
                        storage.set_study_system_attr(study_id, name, time.time())
                        if stop.is_set():  # close gave up waiting for this write
                            storage.set_study_system_attr(study_id, name, ENDED)
                except Exception:  # a busy or gone store: the next beat tries again
                    pass

        storage.set_study_system_attr(study_id, name, time.time())
        thread = threading.Thread(target=beat, name="hpsearch-heartbeat", daemon=True)
        thread.start()
        self._beat = (thread, stop, lock)

    @_critical  # (a Ctrl-C in its wait for a heartbeat write: raised once it is done)
    def close(self, interrupted=False):
        """Stop the heartbeat; this search no longer holds its trials. ``interrupted``:
        close its RUNNING trials FAIL (``hpsearch_interrupted``) at once, so no other
        process waits for them (a budgeted candidate's stays RUNNING for a resume to
        take over with its rung scores, :meth:`claim_budgeted`); their finished fits stay
        in the store. An enqueued trial taken and not made a candidate yet stays RUNNING
        too (its owner is dead once this search ends: a resume, or a live process about
        to take an enqueued trial, enqueues it again; closed FAIL, it was lost)."""
        self._release_hold()
        self._unquiet()
        beat, self._beat, self._ended = self._beat, None, True
        if beat is not None:
            thread, stop, lock = beat
            stop.set()
            # a heartbeat write in flight ends first (its thread writes ENDED again
            # after it if it is stuck longer than this wait)
            locked = lock.acquire(timeout=_CLOSE_WAIT)
            try:
                # its last heartbeat says it ended: its process may live on (a notebook
                # whose fit raised, a Ctrl-C), and other processes waited for ever for
                # the trials it left RUNNING (a budgeted candidate's, kept for a resume)
                self._storage.set_study_system_attr(
                    self._study_id, f"hpsearch_alive:{self.owner}", ENDED)
            except Exception:  # a store that fails now: its process table then tells
                pass
            finally:
                if locked:
                    lock.release()
                    thread.join(timeout=_CLOSE_WAIT)
        _LIVE.discard(self._token)
        if interrupted:
            for trial_id in sorted(self._mine - self._open - self._popped):
                try:
                    self.close_trial(trial_id, "hpsearch_interrupted")
                except Exception:  # a store that fails now: the owner check still works
                    break
        self._mine.clear()

    def _unquiet(self):
        """End this store's share of :func:`_quiet_optuna` (once)."""
        if getattr(self, "_quiet", False):
            self._quiet = False
            _quiet_optuna(False)

    @_critical
    def own(self, trial_id, write=True):
        """Mark a trial this process created (a strategy's ``study.ask()``) as its own
        (``write=False``: its ``hpsearch_owner`` is already set)."""
        self._start_heartbeat()
        self._mine.add(trial_id)
        if write:
            self._storage.set_trial_user_attr(trial_id, "hpsearch_owner", self.owner)
        self._check_first([trial_id], self.name)

    @_critical
    def close_trial(self, trial_id, reason):
        """Close a RUNNING trial FAIL with the user attribute ``reason`` (another process
        may have closed it first: fine)."""
        import optuna

        try:
            self._storage.set_trial_user_attr(trial_id, reason, True)
            self._storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass

    @_critical
    def interrupt_dead(self, trials):
        """Close FAIL (``hpsearch_interrupted``) the RUNNING ``trials`` whose owner is
        dead; return those whose owner runs."""
        live = []
        for trial in trials:
            if trial.state.name != "RUNNING":
                continue
            owner = trial.user_attrs.get("hpsearch_owner")
            if trial._trial_id in self._mine or self.alive(owner):
                live.append(trial)
            else:
                self.close_trial(trial._trial_id, "hpsearch_interrupted")
        return live

    @_critical
    def claim(self, rows):
        """Claim the (unbudgeted) candidates of ``rows`` for this process.

        Returns one entry per row: ``"done"`` (its row is recorded), ``("mine",
        trial id)`` (this process fits it; the trial is RUNNING), or ``("busy", owner)``
        (another live process fits it). See the module docstring for the protocol.
        """
        import optuna

        State = optuna.trial.TrialState
        if self.shared:
            self.refresh()
        out, create = [None] * len(rows), {}
        for i, row in enumerate(rows):
            key = row["candidate_key"]
            if row["key"] in self._rows or (self.racing and row["key"] in self._raced):
                out[i] = "done"
                continue
            live = self.interrupt_dead(self._claims.get(key, ()))
            mine = [t for t in live if t._trial_id in self._mine]
            if mine:
                out[i] = ("mine", mine[0]._trial_id)
            elif live:
                out[i] = ("busy", live[0].user_attrs.get("hpsearch_owner"))
            else:
                create.setdefault(key, []).append(i)
        if not create:
            return out
        self._start_heartbeat()
        self.announce()
        created = {}
        for key, indices in create.items():
            trial_id = self._new_trial(
                rows[indices[0]], key, State.RUNNING, None, {"hpsearch_owner": self.owner}
            )
            created[key] = trial_id
            self._mine.add(trial_id)
        self._check_first(list(created.values()), self.name)
        if self.shared:
            self.refresh()
        for key, indices in create.items():
            trial_id = created[key]
            winner = min(
                (t for t in self._claims.get(key, ())
                 if t.state not in (State.FAIL, State.PRUNED)  # PRUNED: raced, closed
                 and t._trial_id not in self._retried),  # a timed-out row fitted again
                key=lambda t: t._trial_id, default=None,
            )
            if winner is None or winner._trial_id == trial_id:
                entry = ("mine", trial_id)
            else:  # another process created one first: it fits the candidate
                self._mine.discard(trial_id)
                self.close_trial(trial_id, "hpsearch_duplicate")
                entry = ("busy", winner.user_attrs.get("hpsearch_owner"))
            for i in indices:
                out[i] = entry
        return out

    @_critical
    def claim_budgeted(self, row, owner_name):
        """Trial id of a budgeted candidate (halving, Hyperband) for this process: its
        RUNNING trial of this run, or a new one. Another live process on it is an error:
        halving and Hyperband do not share a study (ASHA claims its candidates with
        :meth:`claim_candidate` first). A RUNNING trial a dead process left is closed FAIL
        (``hpsearch_interrupted``; its finished fits stay in the store, found by row key)
        and the new trial gets the candidate's rung scores (:meth:`_copy_rungs`, also
        for a candidate an earlier run closed). The new trial is
        checked after it is created: of processes that read the study at once and each
        saw no live holder (started, or resuming, together), the lowest trial id wins and
        the others are refused before they fit anything. The trial's ``hpsearch_job``
        user attribute is set to the row's key (the job in flight, which other ASHA
        processes mark pending)."""
        import optuna

        key = row["candidate_key"]
        trial_id = self._trial_ids.get(key)
        if trial_id is not None:
            self._mark_job(trial_id, row)
            return trial_id
        trials = self._claims.get(key, ())
        running = [t for t in trials if t.state.name == "RUNNING"]
        self._refuse_live_holder(running, owner_name)
        self._start_heartbeat()
        self.interrupt_dead(running)
        self.announce(owner_name)
        trial_id = self._new_trial(
            row, key, optuna.trial.TrialState.RUNNING, None, {"hpsearch_owner": self.owner},
        )
        if self.shared:  # (ids follow commit order: every process sees the same winner)
            earlier = [t for t in self._running_claims(key) if t._trial_id < trial_id]
            try:
                self._refuse_live_holder(earlier, owner_name)
            except RuntimeError:
                self.close_trial(trial_id, "hpsearch_duplicate")
                raise
            self._check_first([trial_id], owner_name)
        self._copy_rungs(key, trial_id)
        self._mine.add(trial_id)
        self._trial_ids[key] = trial_id
        self._open.add(trial_id)
        self._mark_job(trial_id, row)
        return trial_id

    def _refuse_live_holder(self, trials, owner_name):
        """Raise RuntimeError when another live process holds one of the RUNNING
        ``trials`` (halving and Hyperband run in one process per study). The candidates
        this search holds are given up first (their trials closed FAIL,
        ``hpsearch_interrupted``; their fits stay in the store): processes that read the
        study at once may each have won other candidates, and a refused process that
        kept them RUNNING while it ends could get the winner refused too."""
        for trial in trials:
            owner = trial.user_attrs.get("hpsearch_owner")
            if trial._trial_id not in self._mine and self.alive(owner):
                self._give_up()
                raise RuntimeError(
                    f"{owner_name} cannot share study {self.study.study_name!r} with "
                    f"another running search: process {owner.split('/')[2]} on host "
                    f"{owner.split('/')[0]!r} is fitting the same candidates. Halving and "
                    "Hyperband searches run in one process per study (ASHA searches share "
                    "one); wait for it to end (or stop it), then resume."
                )

    def _give_up(self):
        """A refused search gives up the candidates it holds (their trials closed FAIL,
        ``hpsearch_interrupted``; their fits stay in the store) and its hold on the study
        (:meth:`_refuse_other_search`), see :meth:`_refuse_live_holder`."""
        for trial_id in sorted(self._open):
            self.close_trial(trial_id, "hpsearch_interrupted")
            self._mine.discard(trial_id)
        self._open.clear()
        self._trial_ids.clear()
        self._release_hold()

    def _release_hold(self):
        """Withdraw this search's :data:`HOLDER_ATTR` (it ended or was refused)."""
        if not self._holding:
            return
        self._holding = False
        try:
            self._storage.set_study_system_attr(
                self._study_id, f"{HOLDER_ATTR}:{self.owner}", False)
        except Exception:  # a store that fails now: the owner check still works
            pass

    @_critical
    def announce(self, owner_name=None):
        """Announce the search this process runs in the study (``<HOLDER_ATTR>:<owner>``,
        :data:`HOLDER_ATTR`), once, before its first trial is created (see
        :meth:`_refuse_other_search`); ``owner_name``: its class name (default
        :attr:`name`)."""
        if not self.shared or self._holding:
            return
        name = owner_name or self.name
        self._storage.set_study_system_attr(
            self._study_id, f"{HOLDER_ATTR}:{self.owner}",
            [name, None if self.alone else self.group])
        self._holding = True

    def _check_first(self, trial_ids, owner_name, order=None):
        """Once, after this search's first trials ``trial_ids`` are created: another live
        search that holds the study and does not share it with this one refuses it
        (:meth:`_refuse_other_search`); the new trials are then closed FAIL
        (``hpsearch_duplicate``) and the RuntimeError raised. ``order``: the trial id
        that places this search among the others, when its first trial is older than
        the search (an enqueued trial it took)."""
        if not self.shared or self._checked or not trial_ids:
            return
        self.announce(owner_name)  # (announced already when the trials were created)
        try:
            self._refuse_other_search(order if order is not None else min(trial_ids),
                                      owner_name or self.name)
            if self.kind is not None:
                # (check_kind) a search of the kind recorded, live at this search's
                # check_kind, has ended since and lets this one hold the study: refused
                # all the same (was: both ran, one after the other, and the study held
                # the trials of two kinds, its kind overwritten by the later one)
                try:
                    self._refuse_other_kind(self._storage.get_study_system_attrs(
                        self._study_id).get(KIND_ATTR))
                except StudyMismatch:
                    self._give_up()
                    raise
        except (RuntimeError, StudyMismatch):
            for trial_id in trial_ids:
                self._mine.discard(trial_id)
                self.close_trial(trial_id, "hpsearch_duplicate")
            raise
        self._checked = True
        if self.kind is not None:  # (check_kind) this search holds or shares the study
            self._storage.set_study_system_attr(self._study_id, KIND_ATTR, self.kind)

    def check_others(self, trials=None, attrs=None):
        """Before this search's first trial, refuse it as that trial's check
        (:meth:`_check_first`) would now: another live search that holds the study and
        does not share it refuses it (RuntimeError, :meth:`_refuse_other_search`; this
        search's first trial would come after every trial there is), else a study that
        another kind ran (:meth:`check_kind`'s StudyMismatch). For a search that reads
        the study's trials as its own before it claims any (ASHA's candidates count
        towards ``n_trials``, Optuna's taken slots; a halving reuses the rows found): a
        search of another kind it found running (check_kind lets it go on) had its trials
        taken for this one's, which claimed nothing, was never checked and ended "ok"
        having fitted nothing (an ASHA started while a halving ran, a halving started
        while an ASHA with its candidates ran). ``trials`` and ``attrs``: a read of the
        study's trials, then one of its system attributes (read here when None).
        Nothing once the first trial was checked, or for a search whose kind is unknown
        (no :meth:`check_kind`)."""
        if not self.shared or self._checked or self.kind is None:
            return
        try:
            attrs = self._refuse_other_search(None, self.name, trials, attrs)
            self._refuse_other_kind(attrs.get(KIND_ATTR))
        except StudyMismatch:
            self._give_up()
            raise

    def _refuse_other_search(self, trial_id, owner_name, trials=None, attrs=None):
        """Raise RuntimeError when another live search that does not share the study
        with this one runs in it, whatever its candidates. Halving and Hyperband
        (``alone``) share a study with no other search: two of them with another
        ``random_state`` (or ``n_candidates``, or grid) sample other candidates, which the
        per-candidate rule of :meth:`_refuse_live_holder` never sees; each would run its
        own halving in the study, and a later resume of either would find the other's
        trials. The other searches share it with the live searches of their
        :attr:`group` only: ASHA processes with ASHA processes (``"asha"``), grid, random
        and Optuna processes with each other (``"claim"``, one claimed trial per
        candidate); a grid joining an ASHA would fit rows the ASHA never schedules.

        Called once, after this search's first trial (``trial_id``) is created. Every
        search announces itself before that trial (:meth:`announce`: ``<HOLDER_ATTR>:
        <owner>`` = its kind, False once it ends), and of the live announced searches the
        one whose first trial has the lowest id holds the study (trial ids follow commit
        order: every process sees the same holder, whatever the kinds; one announced
        without a trial yet gets a higher id than this one). This search goes on when it
        holds the study or shares it with the holder (a search refused by the holder
        withdraws, so the others of the holder's group go on), and is refused otherwise.
        The trials are read before the announcements: the owner of every trial read has
        announced. A halving or Hyperband holding the study is also refused by a live
        process with a RUNNING trial that never announced (a search of an earlier
        version); one that announced and withdrew since is not one (was: a halving that
        held the study read the first trial of an ASHA it had just refused still
        RUNNING, then its withdrawn announcement, and was refused too: both refused,
        nothing ran). Owners are live as :meth:`alive` says (the process runs on this
        machine, a heartbeat within :data:`GRACE_PERIOD` elsewhere), so a killed or
        finished search does not hold the study.

        ``trial_id`` None: this search has no trial yet (:meth:`check_others`);
        ``trials`` and ``attrs``: a read of the trials, then one of the system
        attributes, to check instead of reading them here. Returns the attributes."""
        if trials is None:
            trials = self._storage.get_all_trials(self._study_id, deepcopy=False)
            attrs = None
        if attrs is None:
            attrs = self._storage.get_study_system_attrs(self._study_id)
            self._read_heartbeats(attrs)
        announced = {name.partition(":")[2]: value for name, value in attrs.items()
                     if name.startswith(HOLDER_ATTR + ":")}
        holders = {o: _holder_kind(value) for o, value in announced.items() if value}
        first, running = {}, set()
        for trial in trials:
            owner = trial.user_attrs.get("hpsearch_owner")
            if not (owner == self.owner and "fixed_params" in trial.system_attrs):
                # (an enqueued trial this search took is older than it: not its first)
                first[owner] = min(first.get(owner, trial._trial_id), trial._trial_id)
            if trial.state.name == "RUNNING" and "hpsearch_duplicate" not in trial.user_attrs:
                running.add(owner)
        mine = first.get(self.owner, math.inf)
        if trial_id is not None:
            mine = min(mine, trial_id)
        group = None if self.alone else self.group
        holder = min(((first[o], o, *holders[o]) for o in holders
                      if o != self.owner and o in first and self.alive(o)), default=None)
        if holder is not None and holder[0] < mine:
            if group is None or holder[3] != group:
                self._refuse(owner_name, *holder[1:])
            return attrs  # this search shares the study with its holder
        if group is None:  # an unannounced live search
            # (one that withdrew is no unannounced search: refused, it withdraws before
            # it closes its first trial, and this search may read that trial RUNNING)
            unannounced = sorted(o for o in running - set(announced) - {self.owner, None}
                                 if self.alive(o))
            if unannounced:
                self._refuse(owner_name, unannounced[0], None, "claim")
        return attrs

    def _refuse(self, owner_name, owner, kind, group):
        """Give up (:meth:`_give_up`) and raise the RuntimeError of
        :meth:`_refuse_other_search`: ``owner`` runs a ``kind`` (its class name, None:
        unknown) of ``group`` (None: halving or Hyperband) in the study."""
        self._give_up()
        host, _, pid = owner.split("/")[:3]
        what = f"{_article(kind)} {kind}" if kind else "another search"
        if group is None and self.alone:
            what += " (its own candidates: another random_state, n_candidates or grid " \
                    "samples others)"
        raise RuntimeError(
            f"{owner_name} cannot share study {self.study.study_name!r} with another "
            f"running search: process {pid} on host {host!r} is running {what} in it. "
            "Halving and Hyperband searches run in one process per study, ASHA searches "
            "share one with ASHA searches only, grid, random and Optuna searches with each "
            "other; wait for it to end (or stop it), then resume=True (CLI: --resume); "
            "or give this search another study_name."
        )

    def _copy_rungs(self, key, trial_id):
        """Give a new trial of a candidate the intermediate values (rung scores) of its
        earlier trials (:meth:`rung_values`): a dead process's RUNNING trial closed FAIL,
        or a trial an earlier run closed (a resume promoting it: a finished Optuna trial
        cannot reopen), so its last trial holds its whole curve. A row's score is the same
        in every trial (its fits are recorded by row key), so the run that goes on reports
        the same values."""
        for step, value in self.rung_values(key):
            self._storage.set_trial_intermediate_value(trial_id, step, value)

    def rung_values(self, key):
        """``(step, value)`` of the finite intermediate values (rung scores) the trials of
        candidate ``key`` hold, as of the last :meth:`refresh`, in step order; trials
        closed ``hpsearch_duplicate`` are left out, a later trial's value wins."""
        values = {}
        for trial in sorted(self._claims.get(key, ()), key=lambda t: t.number):
            if "hpsearch_duplicate" not in trial.user_attrs:
                values.update(trial.intermediate_values)
        return [(step, value) for step, value in sorted(values.items())
                if math.isfinite(value)]

    def _running_claims(self, key):
        """The RUNNING trials of candidate ``key`` in the storage now (one read, not the
        last :meth:`refresh`), but for those closed ``hpsearch_duplicate``: of these, the
        lowest trial id holds the candidate (:meth:`claim_budgeted`,
        :meth:`claim_candidate`)."""
        import optuna

        trials = self._storage.get_all_trials(
            self._study_id, deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        return [t for t in trials if t.user_attrs.get("hpsearch_key") == key
                and "hpsearch_duplicate" not in t.user_attrs]

    @_critical
    def turns(self, rows):
        """Which process fits each unbudgeted row of a trial this process asked (Optuna):
        ``"done"`` (its row is recorded: fill it from the store), ``"mine"`` or
        ``"busy"`` (another live process fits it: wait), for the same candidate asked by
        two processes at once (a small space, ``GridSampler``), which both fitted.

        Each row is first marked on its trial (``hpsearch_job``: the row key), then the
        study is read. A process that sees no other live process's RUNNING trial marked
        with the row fits it; since every mark is written before its process reads, of
        two processes at least one sees the other's mark. One that does takes a ticket
        (a trial closed FAIL at once: ``hpsearch_ticket`` ``row:<key>``,
        ``hpsearch_duplicate``, as :meth:`_first_ticket`) and waits while a marking
        process has no ticket (it fits, or is about to take one); among the marking
        live processes the lowest ticket fits (trial ids follow commit order). A dead
        process's mark counts for nothing: its finished fits are reused. In memory (one
        process) only ``"done"`` or ``"mine"``.
        """
        import optuna

        State = optuna.trial.TrialState
        for row in rows:
            mark = (row["trial_id"], row["key"])  # (a pruned trial's rungs: one each)
            if self.shared and mark not in self._marked:
                self._mark_job(row["trial_id"], row)
                self._marked.add(mark)
        trials = self.refresh()
        out = []
        for row in rows:
            key = row["key"]
            if key in self._rows or (self.racing and key in self._raced):
                out.append("done")
                continue
            if not self.shared:  # (in memory: this process alone)
                out.append("mine")
                continue
            others = {t.user_attrs.get("hpsearch_owner") for t in trials
                      if t.state == State.RUNNING and t.user_attrs.get("hpsearch_job") == key}
            others = {o for o in others if o is not None and o != self.owner and self.alive(o)}
            if not others:
                out.append("mine")
                continue
            name = f"row:{key}"
            if name not in self._tickets:
                self._tickets[name] = self._storage.create_new_trial(
                    self._study_id, template_trial=optuna.trial.create_trial(
                        state=State.FAIL, user_attrs={
                            "hpsearch_ticket": name, "hpsearch_duplicate": True,
                            "hpsearch_owner": self.owner}))
                # (re-read with the fits: a process whose ticket this read sees wrote
                # its fits before it, so none of them is fitted again here)
                trials = self.refresh()
            tickets = {}
            for t in trials:
                if t.state == State.FAIL and t.user_attrs.get("hpsearch_ticket") == name:
                    owner = t.user_attrs.get("hpsearch_owner")
                    tickets[owner] = min(tickets.get(owner, t._trial_id), t._trial_id)
            if others - set(tickets):
                out.append("busy")
                continue
            first = min(others | {self.owner}, key=tickets.__getitem__)
            out.append("mine" if first == self.owner else "busy")
        return out

    def _mark_job(self, trial_id, row):
        """Write the row this trial's candidate is being fitted at (``hpsearch_job``: its
        row key), so other processes on the study see the job running (ASHA)."""
        import optuna

        try:
            self._storage.set_trial_user_attr(trial_id, "hpsearch_job", row["key"])
        except optuna.exceptions.UpdateFinishedTrialError:
            pass

    @_critical
    def pop_enqueued(self):
        """The first trial enqueued in the study (``study.enqueue_trial``) that this
        process takes, or None when none waits.

        Taken as ``study.ask()`` takes one (Optuna's ``_pop_waiting_trial_id``): the
        storage moves it from WAITING to RUNNING, which only one process achieves in a
        journal file (the log order) and a database server (a row lock); a trial
        another process took first is skipped. SQLite has no row lock: processes that
        read the trial WAITING at once may each set it RUNNING, so there the process
        whose ticket comes first takes it (:meth:`lost_enqueued`). Its owner is
        written then, so other processes see it held by this live process.

        Before its update, while the trial is WAITING, the process marks it
        (``hpsearch_taking:<owner>``, a user attribute of its own that no rival
        overwrites), so the trial is never RUNNING without a trace of who took it: a
        process killed between the update and writing its owner leaves the trial
        RUNNING with only marks, all of dead processes once its rivals ended, which a
        resume enqueues again (:func:`enqueued_takers`; it was left RUNNING with no
        owner, never run).

        Returns
        -------
        optuna.trial.FrozenTrial or None
            The trial as it was WAITING (its ``system_attrs["fixed_params"]``: the
            enqueued parameters); it is RUNNING now, this process's.
        """
        import optuna

        State = optuna.trial.TrialState
        waiting = self._storage.get_all_trials(self._study_id, deepcopy=False,
                                               states=(State.WAITING,))
        self.mark_popping(waiting)
        for trial in sorted(waiting, key=lambda t: t.number):
            self._start_heartbeat()  # (before the mark: a live owner's mark)
            try:
                self._storage.set_trial_user_attr(trial._trial_id,
                                                  f"{TAKING_ATTR}:{self.owner}", True)
                if not self._storage.set_trial_state_values(trial._trial_id, State.RUNNING):
                    continue  # another process took it first
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            if self.lost_enqueued(trial):
                continue  # (SQLite) another process set it RUNNING too, and was first
            self._mine.add(trial._trial_id)
            self._popped.add(trial._trial_id)
            self._storage.set_trial_user_attr(trial._trial_id, "hpsearch_owner", self.owner)
            return trial
        return None

    def mark_popping(self, waiting):
        """Before taking one of the enqueued trials ``waiting`` (when there are any) on
        SQLite: note in the study that this process takes enqueued trials
        (``hpsearch_popping:<owner>``, the time), for :meth:`lost_enqueued`."""
        if waiting and not self._pops_atomically():
            self._storage.set_study_system_attr(
                self._study_id, f"{POPPING_ATTR}:{self.owner}", time.time())

    def lost_enqueued(self, trial):
        """Whether an enqueued ``trial`` this process has just set RUNNING belongs to
        another process that set it RUNNING too (SQLite only; :meth:`pop_enqueued`).

        Two processes can both set it RUNNING only when each read it WAITING before the
        other's update, so each noted :meth:`mark_popping` before the other's update and
        sees the other's note after its own: then (and only then, so a study one process
        runs gets no extra trial) the first ticket takes it (:meth:`_first_ticket`).
        Notes older than :data:`POPPING_RECENT` seconds are of processes gone."""
        if self._pops_atomically():
            return False
        now, prefix = time.time(), POPPING_ATTR + ":"
        others = [
            name for name, when in self._storage.get_study_system_attrs(self._study_id).items()
            if name.startswith(prefix) and name[len(prefix):] != self.owner
            and isinstance(when, numbers.Real) and now - when < POPPING_RECENT]
        return bool(others) and not self._first_ticket(trial)

    def _pops_atomically(self):
        """Whether only one process can move a WAITING trial to RUNNING: not on SQLite,
        whose reads take no lock (Optuna's ``for_update`` row lock is a no-op there)."""
        import optuna

        storage = self._storage.storage
        backend = getattr(storage, "_backend", storage)  # (Optuna's _CachedStorage)
        return not (isinstance(backend, optuna.storages.RDBStorage)
                    and str(backend.url).startswith("sqlite"))

    def _first_ticket(self, trial, kind="enqueued", live=False):
        """Whether this process takes the enqueued ``trial`` it set RUNNING, maybe with
        others: each such process creates a ticket, a trial closed FAIL at once (user
        attributes ``hpsearch_ticket``: the enqueued trial's id, ``hpsearch_duplicate``:
        no candidate), and the lowest ticket takes it (trial ids follow commit order,
        as for every claim here). One ticket per enqueued trial taken on SQLite.
        ``kind`` names what the ticket is for (``"requeue"``: enqueuing again an
        orphan, :meth:`first_to_requeue`); with ``live``, the tickets of dead processes
        do not count (one that died before acting on its ticket holds nothing)."""
        import optuna

        FAIL, name = optuna.trial.TrialState.FAIL, f"{kind}:{trial._trial_id}"
        ticket = self._storage.create_new_trial(
            self._study_id, template_trial=optuna.trial.create_trial(
                state=FAIL, user_attrs={"hpsearch_ticket": name, "hpsearch_duplicate": True,
                                        "hpsearch_owner": self.owner}))
        tickets = [t._trial_id for t in self._storage.get_all_trials(
            self._study_id, deepcopy=False, states=(FAIL,))
            if t.user_attrs.get("hpsearch_ticket") == name
            and (not live or self.alive(t.user_attrs.get("hpsearch_owner")))]
        return min(tickets, default=ticket) == ticket

    def mark_requeuing(self):
        """Before closing an orphaned enqueued trial to enqueue it again (ASHA's
        ``_Enqueued._enqueue_orphans``) on SQLite: note in the study that this process
        does (``hpsearch_requeuing_orphan:<owner>``, the time), for
        :meth:`first_to_requeue`."""
        if not self._pops_atomically():
            self._storage.set_study_system_attr(
                self._study_id, f"{REQUEUING_NOTE}:{self.owner}", time.time())

    def first_to_requeue(self, orphan):
        """Whether this process, which has just closed the ``orphan`` (an enqueued trial
        a dead process took), enqueues it again. On SQLite, which has no row lock, two
        processes that read it RUNNING at once both closed it, and each enqueued a copy
        (the second one, taken by another process, was refused as a duplicate after it
        had taken the place of a candidate). Both can only when each noted
        :meth:`mark_requeuing` before the other closed it, so each sees the other's
        note: then the first live ticket enqueues it (:meth:`_first_ticket`; a process
        that died before acting on its ticket holds nothing). Elsewhere the close is
        atomic: the process that closed it enqueues it."""
        if self._pops_atomically():
            return True
        now, prefix = time.time(), REQUEUING_NOTE + ":"
        others = [
            name for name, when in self._storage.get_study_system_attrs(self._study_id).items()
            if name.startswith(prefix) and name[len(prefix):] != self.owner
            and isinstance(when, numbers.Real) and now - when < POPPING_RECENT]
        return not others or self._first_ticket(orphan, "requeue", live=True)

    def _adopt_trial(self, trial_id, row, candidate_key, user_attrs):
        """Make a RUNNING trial this process took (:meth:`pop_enqueued`) the trial of a
        candidate, as :meth:`_new_trial` makes a new one: its parameters (those with an
        Optuna distribution the study accepts) and user attributes."""
        params, dists = self._optuna_params(row["params"])
        for name, value in params.items():
            try:
                self._storage.set_trial_param(
                    trial_id, name, dists[name].to_internal_repr(value), dists[name])
            except ValueError:  # a distribution clash: the user attribute holds it
                pass
        attrs = {"params": encode_value(row["params"]), "hpsearch_key": candidate_key,
                 **user_attrs}
        for name, value in attrs.items():
            self._storage.set_trial_user_attr(trial_id, name, value)
        return trial_id

    @_critical
    def claim_candidate(self, row, attrs=None, values=(), owner_name="ASHASearchCV",
                        trial_id=None):
        """Claim a budgeted candidate (ASHA's cooperating processes): its RUNNING trial
        whose owner is dead is closed FAIL (``hpsearch_interrupted``), a RUNNING trial is
        created for this process with ``attrs`` and the intermediate values ``values``
        (``(step, value)`` of the rungs already in the store), and the lowest RUNNING
        trial of the candidate wins (a loser is closed FAIL, ``hpsearch_duplicate``).

        At its first claim, a live halving or Hyperband process holding the study
        refuses this one (RuntimeError naming it, ``owner_name`` the search's class;
        :meth:`_refuse_other_search`): ASHA processes share a study with each other only.

        ``trial_id``: a RUNNING trial this process took (an enqueued one,
        :meth:`pop_enqueued`) to claim the candidate with instead of a new trial.

        Returns
        -------
        int or None
            The trial id (now this process's, registered as :meth:`claim_budgeted` does),
            or None when another live process holds the candidate.
        """
        import optuna

        key = row["candidate_key"]
        self.interrupt_dead(self._claims.get(key, ()))
        self._start_heartbeat()
        self.announce(owner_name)
        user_attrs = {"hpsearch_owner": self.owner, **(attrs or {})}
        adopted = trial_id is not None
        if not adopted:
            trial_id = self._new_trial(row, key, optuna.trial.TrialState.RUNNING, None,
                                       user_attrs)
            claims = self._running_claims(key)
            winner = min((t._trial_id for t in claims), default=trial_id)
        else:  # an enqueued trial, older than the claims made before it: it loses to
            # any of them (a claim made after it sees its lower id and loses)
            self._adopt_trial(trial_id, row, key, user_attrs)
            claims = [t for t in self._running_claims(key) if t._trial_id != trial_id]
            winner = min((t._trial_id for t in claims), default=trial_id)
        self._mine.add(trial_id)
        self._popped.discard(trial_id)
        if winner != trial_id:
            self._mine.discard(trial_id)
            self.close_trial(trial_id, "hpsearch_duplicate")
            return None
        order = None
        if adopted and self.shared and not self._checked:
            # placed where a trial created now would be: after every trial there is
            order = 1 + max(t._trial_id for t in self._storage.get_all_trials(
                self._study_id, deepcopy=False))
        self._check_first([trial_id], owner_name, order)
        for step, value in values:
            self._storage.set_trial_intermediate_value(trial_id, step, value)
        self._trial_ids[key] = trial_id
        self._open.add(trial_id)
        return trial_id

    @_critical
    def release_candidate(self, candidate_key):
        """Give up a candidate just claimed with :meth:`claim_candidate` (closed FAIL,
        ``hpsearch_duplicate``: it counts as never started)."""
        trial_id = self._trial_ids.pop(candidate_key)
        self._open.discard(trial_id)
        self._mine.discard(trial_id)
        self.close_trial(trial_id, "hpsearch_duplicate")

    def live_others(self):
        """Owners of RUNNING trials of the study that are other live processes (or
        other searches of this one); one read of the RUNNING trials and heartbeats."""
        import optuna

        if not self.shared:
            return set()
        trials = self._storage.get_all_trials(
            self._study_id, deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)
        )
        owners = {t.user_attrs.get("hpsearch_owner") for t in trials} - {self.owner, None}
        if owners:
            self._read_heartbeats(self._storage.get_study_system_attrs(self._study_id))
        return {owner for owner in owners if self.alive(owner)}

    @_critical
    def adopt(self, row, value, owner_name):
        """A budgeted row found in the store (resume): take over its candidate's RUNNING
        trial that a dead process left (:meth:`claim_budgeted`: a new trial with its rung
        scores), so :meth:`finish` closes it with ``value``."""
        key = row["candidate_key"]
        running = [t for t in self._claims.get(key, ()) if t.state.name == "RUNNING"]
        if key not in self._trial_ids and running:
            self.claim_budgeted(row, owner_name)
        trial_id = self._trial_ids.get(key)
        if trial_id is not None:
            self._last[trial_id] = value

    @_critical
    def record_fit(self, row, split, trial_id):
        """Write one finished fit of ``row`` into its trial (``hpsearch_fit:<row key>:
        <split>``). Returns False when another process took the trial over meanwhile."""
        import optuna

        payload = {key: row[key][split] for key in _FIT_KEYS + ("fit_failed",)}
        try:
            self._storage.set_trial_user_attr(
                trial_id, f"hpsearch_fit:{row['key']}:{split}", payload
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            self._mine.discard(trial_id)
            return False
        return True

    # -- params --------------------------------------------------------------------
    def declare_space(self, space):
        """Store the parameters of ``space`` with their dimensions' Optuna distributions.

        Called once per search, before its first candidate. A parameter without an
        exact Optuna distribution (see :func:`space_params`), or whose distribution
        differs from the one a resumed study already holds for it, keeps the per-value
        form of :meth:`declare`.

        Parameters
        ----------
        space : dict, list of dict or None
            The search space (``param_grid`` / ``param_distributions``); None: nothing.
        """
        if space is None:
            return
        from optuna.distributions import check_distribution_compatibility

        for name, param in space_params(space).items():
            stored = self._stored.get(name)
            if stored is not None:
                try:
                    check_distribution_compatibility(stored, param.dist)
                except ValueError:
                    continue
            self._space[name] = param

    def declare(self, candidate_params):
        """Fix how each parameter outside the declared space is stored, from every
        candidate the search will try."""
        from collections import defaultdict

        values = defaultdict(list)
        for params in candidate_params:
            for name, value in params.items():
                if name not in self._space:
                    values[name].append(value)
        for name, vals in values.items():
            if name in self._kinds:
                continue
            kind = _kind(vals)
            if kind == "categorical":
                kind = tuple(dict.fromkeys(_choice(v) for v in vals))
            self._kinds[name] = kind

    def _optuna_params(self, params):
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        self.declare([params])
        out, dists = {}, {}
        for name, value in params.items():
            param = self._space.get(name)
            if param is not None:
                code = param.encode(value)
                if code is not _MISSING:  # (a value outside the space is left out)
                    out[name], dists[name] = code, param.dist
                continue
            kind = self._kinds[name]
            if kind == "int" and _kind([value]) == "int":
                out[name], dists[name] = int(value), IntDistribution(int(value), int(value))
            elif kind == "float" and _kind([value]) in ("int", "float"):
                v = float(value)
                out[name], dists[name] = v, FloatDistribution(v, v)
            elif isinstance(kind, tuple) and _choice(value) in kind:
                out[name], dists[name] = _choice(value), CategoricalDistribution(kind)
        return out, dists

    # -- recording ---------------------------------------------------------------
    @staticmethod
    def _payload(row):
        keys = ("test_scores", "train_scores", "fit_time", "score_time",
                "n_test_samples", "error", "fit_failed", "resources")
        return {key: row.get(key) for key in keys}

    @staticmethod
    def _readable(row):
        attrs = {"fit_time": row["fit_time"], "score_time": row["score_time"]}
        for part in ("test", "train"):
            scores = row[f"{part}_scores"]
            names = next((list(s) for s in scores if s is not None), [])
            for metric in names:
                attrs[f"split_{part}_{metric}"] = [
                    None if s is None else s[metric] for s in scores
                ]
        if any(e is not None for e in row["error"]):
            attrs["errors"] = row["error"]
        return attrs

    def _new_trial(self, row, candidate_key, state, value, user_attrs):
        import optuna

        params, dists = self._optuna_params(row["params"])
        attrs = {"params": encode_value(row["params"]), "hpsearch_key": candidate_key,
                 **user_attrs}
        kwargs = dict(state=state, user_attrs=attrs)
        if state == optuna.trial.TrialState.COMPLETE:
            kwargs["value"] = value
        try:
            frozen = optuna.trial.create_trial(params=params, distributions=dists, **kwargs)
            return self._storage.create_new_trial(self._study_id, template_trial=frozen)
        except ValueError:  # a distribution clash (new categorical value): attrs only
            frozen = optuna.trial.create_trial(params={}, distributions={}, **kwargs)
            return self._storage.create_new_trial(self._study_id, template_trial=frozen)

    @_critical
    def record(self, row, candidate_key, *, value, trial=None):
        """Record one finished row (all its splits done).

        Parameters
        ----------
        row : dict
            The engine's row (params, per-split scores, times, errors, resources, key).
        candidate_key : str
            Stable key of the candidate (params + cv configuration), without the budget.
        value : float
            Mean test score of the refit metric (NaN when every split failed).
        trial : optuna.Trial or FrozenTrial, default=None
            A trial the strategy asked for: the row is written into it, and the strategy
            tells the study its value. None: this store creates (or extends) the trial.
        """
        import optuna

        State = optuna.trial.TrialState
        budget = row.get("resources")
        row_attr = {f"hpsearch_row:{row['key']}": self._payload(row)}
        finite = value is not None and math.isfinite(value)
        if trial is None and budget is None:
            state = State.COMPLETE if finite else State.FAIL
            attrs = {**self._readable(row), **row_attr}
            trial_id = row.get("trial_id")
            if trial_id is None:
                self._new_trial(row, candidate_key, state, value, attrs)
                return
            try:  # the candidate's claimed RUNNING trial
                for name, attr in attrs.items():
                    self._storage.set_trial_user_attr(trial_id, name, attr)
                self._storage.set_trial_state_values(
                    trial_id, state, values=[value] if finite else None
                )
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # taken over by another process, which records the same row
            self._mine.discard(trial_id)
            return
        if trial is not None:
            trial_id = trial._trial_id
            attrs = dict(row_attr)
            if trial_id not in self._last:  # its first row (later rungs: key written)
                attrs["hpsearch_key"] = candidate_key
            if budget is None:
                attrs.update(self._readable(row))
        else:
            trial_id = self._trial_ids.get(candidate_key)
            attrs = row_attr
            if trial_id is None:
                trial_id = self._new_trial(row, candidate_key, State.RUNNING, None, {})
                self._trial_ids[candidate_key] = trial_id
                self._open.add(trial_id)
        try:
            for name, attr in attrs.items():
                self._storage.set_trial_user_attr(trial_id, name, attr)
            if budget is not None and finite:
                self._storage.set_trial_intermediate_value(trial_id, _step(budget), value)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # taken over by another process
        self._last[trial_id] = value

    @_critical
    def finish(self, candidate_key, state="COMPLETE"):
        """Close the RUNNING trial of a budgeted candidate as COMPLETE or PRUNED."""
        import optuna

        trial_id = self._trial_ids.pop(candidate_key, None)
        if trial_id is None or trial_id not in self._open:
            return
        self._open.discard(trial_id)
        state = optuna.trial.TrialState[state]
        value = self._last.get(trial_id)
        if state == optuna.trial.TrialState.COMPLETE:
            if value is None or not math.isfinite(value):
                state = optuna.trial.TrialState.FAIL
                value = None
        else:
            value = None
        self._mine.discard(trial_id)
        try:
            self._storage.set_trial_state_values(
                trial_id, state, values=None if value is None else [value]
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # closed by another process meanwhile

    def finish_all(self):
        """Mark every still-RUNNING trial of this store COMPLETE with its last score."""
        for key in list(self._trial_ids):
            self.finish(key, "COMPLETE")


def _step(budget):
    """Intermediate-value step of a budget: its (first) integer resource."""
    for name in sorted(budget):
        value = budget[name]
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    return 0
