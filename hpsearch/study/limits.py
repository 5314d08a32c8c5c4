"""Limits of a study file, checked before any work (every one an exit-2 error in < 1 s).

A study file is untrusted input: it must not be able to exhaust memory or time before a
single fit runs, nor write or delete files outside its own run folder. The checks here
need only the validated :class:`~hpsearch.study.schema.Study` (no data, no scikit-learn
import): sizes are *counted*, never materialized.

=========================  =================  =========================================
limit                      value              what it bounds
=========================  =================  =========================================
``MAX_FILE_BYTES``         1 MiB              size of the study file
``MAX_NODES``              100,000            YAML values, every alias use counted in full
``MAX_DEPTH``              32                 nesting of mappings and lists
``MAX_GRID``               100,000            grid candidates (``method: grid``), and the
                                              combinations of a random / halving / Hyperband
                                              space made only of lists
``MAX_CANDIDATES``         100,000            ``n_iter``, ``n_trials``, ``n_candidates``, and
                                              the candidates of all halving / Hyperband rounds
``MAX_RESOURCES``          1,000,000          ``max_resources`` / ``min_resources``
``MAX_ROUNDS``             40                 halving rounds, Hyperband brackets
``MAX_N_JOBS``             4,096              ``n_jobs`` (local workers are further capped
                                              at the CPUs available), and an estimator's
                                              own ``n_jobs`` (params or space)
``MAX_RETRIES``            10                 ``max_retries`` (re-runs of a fit whose worker
                                              died)
``MAX_OUTER_SPLITS``       100                outer splits of ``evaluate`` (nested CV)
``MAX_NESTED_FITS``        1,000,000          fits of nested CV: outer splits x (inner
                                              search's fits + 1 refit), counted per split
``MAX_SPLITS``             10,000             ``cv.n_splits`` / ``cv.max_splits`` (the
                                              engine lists every split before fitting)
``MAX_FITS``               1,000,000          fits of a search: candidates x splits (the
                                              engine lists every fit before fitting)
``MAX_STUDY_NAME``         500                characters of ``study_name`` (printable)
``MAX_WEIGHTS``            100,000,000        weights of a network of ``hidden_layer_sizes``
                                              (checked by the build, once the data's
                                              columns are known)
``MAX_NAME_BYTES``         255                bytes of one folder or file name of
                                              ``output``, ``storage``, ``data.path``, ``--out``,
                                              ``--storage`` (no NUL character either)
``MAX_PATH_BYTES``         4,095              bytes of such a path
``MAX_EXPANSION``          100 x, 1 GiB       what a compressed ``data.path`` (``.gz``, ``.bz2``,
                                              ``.xz``, ``.zip``) expands to: at most 100 times its
                                              size, or 1 GiB (``MAX_EXPANDED_FLOOR``) if more
=========================  =================  =========================================

Besides the limits, a study file may not set an estimator parameter that names a place on
disk (:data:`PATH_PARAMS`, e.g. ``memory`` of a Pipeline: joblib writes its cache there),
and a storage file it names must have a trial store's file ending
(:data:`STORAGE_SUFFIXES`: an empty ``__init__.py`` would become a SQLite database).
A storage URL is read by SQLAlchemy's own parser (``make_url``), as the run will read it:
its file is the one SQLite opens whatever the driver, percent-escapes or host part, and a
server's host must be ``localhost`` or a loopback address.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from .errors import StudyError

__all__ = [
    "MAX_FILE_BYTES", "MAX_NODES", "MAX_DEPTH", "MAX_GRID", "MAX_CANDIDATES",
    "MAX_RESOURCES", "MAX_ROUNDS", "MAX_N_JOBS", "MAX_RETRIES", "DATA_SUFFIXES", "PLAIN_NAME",
    "MAX_OUTER_SPLITS", "MAX_NESTED_FITS", "MAX_FITS", "check_nested_fits", "check_study",
    "grid_size",
    "inside", "available_cpus", "LOOPBACK_HOSTS", "MAX_SPLITS", "PATH_PARAMS",
    "STORAGE_SUFFIXES", "FILE_READING", "check_default_output", "MAX_STUDY_NAME", "MAX_WEIGHTS",
    "network_weights", "path_problem", "MAX_NAME_BYTES", "MAX_PATH_BYTES",
    "MAX_EXPANSION", "MAX_EXPANDED_FLOOR", "check_expansion", "check_auto_budget",
]

MAX_FILE_BYTES = 2**20
MAX_NODES = 100_000
MAX_DEPTH = 32
MAX_GRID = 100_000
MAX_CANDIDATES = 100_000
MAX_RESOURCES = 1_000_000
MAX_ROUNDS = 40
MAX_N_JOBS = 4096
MAX_RETRIES = 10
MAX_OUTER_SPLITS = 100
MAX_NESTED_FITS = 1_000_000
#: fits of one search, candidates x splits: 10,000 candidates x 1,000 splits (each within
#: its own limit) held 1.7 GB and ran over 5 minutes without a fit, 100,000 x 10,000 ended
#: in a MemoryError
MAX_FITS = 1_000_000
MAX_SPLITS = 10_000
#: weights of one network (``hidden_layer_sizes``): 10**8 float64 are 0.8 GB, times the
#: optimizer's state and the workers
MAX_WEIGHTS = 100_000_000
#: ``study_name``: Optuna's column holds 512 characters; nested searches add ``-outer<k>``
MAX_STUDY_NAME = 500

#: estimator parameters naming a folder written to (joblib's cache of a Pipeline,
#: FeatureAgglomeration, AgglomerativeClustering...): never from a study file
PATH_PARAMS = ("memory",)
#: parameter values that make an estimator read the files its data names
#: (scikit-learn's text vectorizers: ``input="filename"`` opens each row's text as a path)
FILE_READING = {"input": ("filename", "file")}

#: file endings of a storage file a study file may name (SQLite, Optuna journal)
STORAGE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".log", ".jsonl")

#: file name endings ``data.path`` may have (pandas reads the compressed ones itself)
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".csv.gz", ".csv.bz2", ".csv.zip",
                 ".csv.xz", ".csv.zst", ".tsv.gz")

#: a study ``name``: one path component, no separators, not ``.`` or ``..``
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")


def available_cpus():
    """CPUs this process may run on (``os.sched_getaffinity``, else ``os.cpu_count``)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def inside(path, root):
    """Whether ``path`` (relative to ``root``) stays inside ``root`` once symlinks resolve."""
    root = Path(root).resolve()
    target = (root / path).resolve()
    return target == root or root in target.parents


def _dimension_size(entry):
    """Grid values of one space entry (a list, or a validated DimensionSpec), counted."""
    if isinstance(entry, list):
        return len(entry)
    if entry.type == "categorical":
        return len(entry.choices)
    if entry.n is not None:
        return entry.n
    if entry.step is not None and entry.step > 0:  # every step-th value (a bad step: the build)
        return int((entry.high - entry.low) // entry.step) + 1
    if entry.type == "int":
        return int(entry.high) - int(entry.low) + 1
    return 1  # a float without n or step has no grid; the build says so


def grid_size(space):
    """Candidates of a grid over ``space`` (an upper bound when conditions drop some):
    the product of the number of values of each dimension, computed without building it."""
    return math.prod(_dimension_size(entry) for entry in space.values())


def _bound(errors, path, value, limit, what):
    if isinstance(value, int) and not isinstance(value, bool) and value > limit:
        errors.append(StudyError(path, f"must be <= {limit:,} ({what}), got {value:,}"))


def _search_limits(search, errors, dry_run):
    method = search.method
    for key in ("n_iter", "n_trials", "n_candidates"):
        _bound(errors, ("search", key), getattr(search, key), MAX_CANDIDATES,
               "the most candidates a study file may ask for")
    _bound(errors, ("search", "max_retries"), getattr(search, "max_retries", None),
           MAX_RETRIES, "re-runs of a fit whose worker died")
    for key, entry in search.space.items():
        n = getattr(entry, "n", None)
        _bound(errors, ("search", "space", key, "n"), n, MAX_GRID, "grid points of a dimension")
    if method == "grid" and not dry_run:
        size = grid_size(search.space)
        if size > MAX_GRID:
            errors.append(StudyError(
                ("search", "space"),
                f"the grid has {size:,} candidates, more than the limit of {MAX_GRID:,}; "
                "use fewer values (or 'n:'), or method: random with n_iter "
                "(--dry-run shows the count)",
            ))
    if method in ("random", "halving", "hyperband", "asha") and _all_choices(search.space):
        size = grid_size(search.space)
        if size > MAX_GRID:
            errors.append(StudyError(
                ("search", "space"),
                f"every parameter is a list of choices, and "
                f"{'an' if method == 'asha' else 'a'} {method} search draws its "
                f"candidates without repetition from all {size:,} combinations, more than "
                f"the limit of {MAX_GRID:,}; give some parameter a range ({{type: float, "
                "low: ..., high: ...}) or use method: optuna",
            ))
    if method in ("halving", "hyperband", "asha"):
        _budget_limits(search, errors)


def _all_choices(space):
    return all(isinstance(e, list) or e.type == "categorical" for e in space.values())


def _budget_limits(search, errors, high=None, auto=""):
    """Halving / Hyperband: resources, rounds and candidates of the plan, from the numbers
    alone (``min_resources: smallest`` counts as 1, an upper bound on the candidates).

    ``high`` replaces ``max_resources`` when that is ``auto`` (the build resolves it on
    the estimator and the data: its ``max_iter``, the training rows) and ``auto`` says
    where it comes from, for the messages."""
    for key in ("min_resources", "max_resources"):
        _bound(errors, ("search", key), getattr(search, key), MAX_RESOURCES,
               "resources of one fit")
    low = search.min_resources
    if high is None:
        high = search.max_resources
    elif high > MAX_RESOURCES:
        errors.append(StudyError(("search", "max_resources"), (
            f"'auto' is {auto}, {high:,}, more than the limit of {MAX_RESOURCES:,} "
            "(resources of one fit); give max_resources a number, got 'auto'")))
    if errors or not isinstance(high, int):
        return
    low = low if isinstance(low, int) else 1
    factor = search.factor or 3
    if low > high:
        return  # the search names this itself
    rounds = math.floor(math.log(high / low) / math.log(factor) + 1e-9)
    if rounds + 1 > MAX_ROUNDS:
        errors.append(StudyError(
            ("search", "factor"),
            f"max_resources / min_resources = {high / low:g} at factor {factor:g} makes "
            f"{rounds + 1} rounds, more than the limit of {MAX_ROUNDS}; raise factor or "
            f"min_resources, got factor={factor:g}",
        ))
        return
    if search.method == "hyperband":
        from hpsearch.model_selection.strategies._halving_schedule import hyperband_brackets

        total = sum(b.n_candidates[0] for b in hyperband_brackets(high, low, factor))
    elif search.method == "halving" and search.n_candidates in (None, "exhaust"):
        total = high // low  # (exhaust is the default: max_resources 10**6 hung the plan)
    else:
        return  # n_candidates itself is bounded above
    if total > MAX_CANDIDATES:
        got = f"'auto' ({auto}, {high:,})" if auto else f"{high:,}"
        errors.append(StudyError(
            ("search", "max_resources"),
            f"the plan samples {total:,} candidates (max_resources={high:,}, "
            f"min_resources={low:,}, factor={factor:g}), more than the limit of "
            f"{MAX_CANDIDATES:,}; lower max_resources or raise min_resources"
            f"{', or give n_candidates' if search.method == 'halving' else ''}, got {got}",
        ))


def check_auto_budget(search, high, auto):
    """The limits of :func:`_budget_limits` for ``max_resources: auto`` resolved to
    ``high`` (``auto``: where it comes from, e.g. "the estimator's max_iter"): the build
    calls it once the estimator and the data are known.

    Raises
    ------
    StudyError
        ``search.max_resources`` or ``search.factor``, naming the resolved value.
    """
    errors = []
    _budget_limits(search, errors, high=high, auto=auto)
    if errors:
        raise errors[0]


def _cv_limits(cv, errors):
    """``cv``: the splits a file may ask for (the engine lists them all before fitting:
    ``monte_carlo`` with ``n_splits: 1000000000`` exhausted the memory)."""
    what = "splits of cross-validation, all listed before fitting"
    if isinstance(cv, int):  # a number of folds
        _bound(errors, ("cv",), cv, MAX_SPLITS, what)
    for key in ("n_splits", "max_splits"):
        _bound(errors, ("cv", key), getattr(cv, key, None), MAX_SPLITS, what)


def _path_param(name):
    """Whether the estimator parameter ``name`` (``step__param`` too) names a folder."""
    return name.rsplit("__", 1)[-1] in PATH_PARAMS


def _param_values(study):
    """``(key path, parameter name, values, shown)`` of every estimator parameter the file
    sets: each fixed one (``estimator.params``: its value) and each searched one
    (``search.space``: its choices, or the bounds of its range)."""
    for name, value in study.estimator.params.items():
        yield ("estimator", "params", name), name, [value], value
    for name, entry in study.search.space.items():
        if isinstance(entry, list):
            yield ("search", "space", name), name, entry, entry
            continue
        values = entry.choices if entry.choices is not None else [entry.low, entry.high]
        yield ("search", "space", name), name, values, entry.model_dump(exclude_none=True)


def _beyond_float(value):
    """An integer in ``value`` (a list's or mapping's items too) too large for a float
    (``float()`` overflows past about 1.8e308), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return value
        return None
    items = value.values() if isinstance(value, dict) else value
    if isinstance(items, (list, tuple)) or isinstance(value, dict):
        for item in items:
            found = _beyond_float(item)
            if found is not None:
                return found
    return None


def _param_limits(study, errors):
    """No estimator parameter naming a place on disk (:data:`PATH_PARAMS`), neither a
    fixed one (``estimator.params``) nor a searched one (``search.space``): joblib would
    write its cache there, wherever the file says (``preprocess__memory: [/home/x]``);
    an estimator's own ``n_jobs`` is bounded; no integer beyond a float's range (``tol:
    1000...`` of 400 digits passed scikit-learn's check, then the fit failed with
    "run failed: OverflowError: int too large to convert to float", exit 1)."""
    rule = ("names a folder the estimator writes to (joblib's cache), which a study file "
            "may not set: hpsearch writes only into its run folder; remove it")
    for path, name, values, shown in _param_values(study):
        huge = _beyond_float(values)
        if huge is not None:
            digits = len(str(abs(huge)))
            errors.append(StudyError(path, (
                "must hold numbers a 64-bit float can hold (at most about 1.8e308; the "
                f"estimator computes with floats), got an integer of {digits:,} digits "
                f"({str(huge)[:20]}...)")))
            continue
        if name.rsplit("__", 1)[-1] == "n_jobs":  # joblib starts that many threads at once
            for v in values:
                _bound(errors, path, v, MAX_N_JOBS,
                       "workers of the estimator itself; -1 uses all cores")
        if _path_param(name) and any(v is not None for v in values):
            errors.append(StudyError(path, f"{rule}, got {shown!r}"))
        reading = FILE_READING.get(name.rsplit("__", 1)[-1], ())
        if any(isinstance(v, str) and v in reading for v in values):
            errors.append(StudyError(path, (
                f"may not be {' or '.join(map(repr, reading))} in a study file: the "
                "estimator would open every path the data file names (any file this user "
                f"can read); pass the text itself ('content'), got {shown!r}")))


def _evaluate_limits(spec, errors):
    """``evaluate``: the outer splits a file may ask for, before any data is read."""
    if spec is None:
        return
    for key in ("n_splits", "max_splits"):
        _bound(errors, ("evaluate", key), getattr(spec, key), MAX_OUTER_SPLITS,
               "outer splits of nested cross-validation, each a whole search")


def check_nested_fits(n_outer, total, *, dry_run=False):
    """Refuse nested cross-validation with too many outer splits or fits in all.

    Called by the build once the data is known: first with ``total=None`` (the outer
    splits only, before counting each split's search), then with ``total`` = the sum
    over outer splits of the inner search's fits, plus one refit per outer split.

    Returns
    -------
    note : str or None
        With ``dry_run``, a broken limit is a note (the plan is still shown) instead of
        an error.

    Raises
    ------
    StudyError
        ``evaluate.outer``: a broken limit (not with ``dry_run``).
    """
    if n_outer > MAX_OUTER_SPLITS:
        message = (f"{n_outer:,} outer splits, more than the limit of {MAX_OUTER_SPLITS} "
                   "(each runs the whole search); use fewer splits")
    elif total is not None and total > MAX_NESTED_FITS:
        message = (f"nested cross-validation needs {total:,} fits ({n_outer} outer splits, "
                   f"each the whole search and its refit), more than the limit of "
                   f"{MAX_NESTED_FITS:,}; use fewer outer or inner splits or candidates "
                   "(--dry-run shows the count)")
    else:
        return None
    if dry_run:
        return f"evaluate.outer: {message}: a run refuses it"
    raise StudyError(("evaluate", "outer"), message)


def _data_limits(data, errors):
    if data.path is None:
        return
    name = Path(data.path).name.lower()
    if data.format == "parquet" or name.endswith(DATA_SUFFIXES):
        return
    errors.append(StudyError(
        ("data", "path"),
        f"must be a CSV or Parquet file (a name ending in {', '.join(DATA_SUFFIXES[:5])}...), "
        f"got {data.path!r}",
    ))


def _database_url(url):
    """``url`` parsed as SQLAlchemy parses it (``sqlalchemy.engine.make_url``), or None
    when it is not a database URL. SQLAlchemy, not the text, says which file a SQLite URL
    opens: it takes any ``sqlite+<driver>://`` scheme, a host part
    (``sqlite://x//tmp/a.db`` opens ``/tmp/a.db``) and percent-escapes
    (``sqlite:///%2Ftmp%2Fa.db`` opens ``/tmp/a.db`` too)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


#: a compressed data file may expand to ``MAX_EXPANSION`` times its size, or to
#: ``MAX_EXPANDED_FLOOR`` bytes when that is more (CSV text compresses 3 to 20 times; a
#: "zip bomb" of zeros 1,000 times: a 10 MB file of 10 GB)
MAX_EXPANSION, MAX_EXPANDED_FLOOR = 100, 2**30


def _decompressed(path):
    """``path`` opened for reading its decompressed bytes (the one file of a ``.zip``, as
    pandas reads it), or None when its name ends in no compression hpsearch counts."""
    import bz2
    import gzip
    import lzma
    import zipfile

    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    suffix = path.suffix.lower()
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        return archive.open(names[0]) if len(names) == 1 else None  # pandas says why
    return openers[suffix](path, "rb") if suffix in openers else None


def check_expansion(path, value):
    """Refuse a compressed data file that expands to more than :data:`MAX_EXPANSION`
    times its size and more than :data:`MAX_EXPANDED_FLOOR` bytes (pandas would hold it
    all in memory). Counted by reading it through once, 1 MiB at a time; a file that
    cannot be decompressed is left to pandas, which names the problem.

    Raises
    ------
    StudyError
        ``data.path``: naming the limit and ``value`` (the key's value).
    """
    import lzma
    import zipfile

    limit = max(MAX_EXPANSION * Path(path).stat().st_size, MAX_EXPANDED_FLOOR)
    try:
        stream = _decompressed(Path(path))
        if stream is None:
            return
        with stream:
            total = 0
            while chunk := stream.read(2**20):
                total += len(chunk)
                if total > limit:
                    break
    except (OSError, EOFError, ValueError, lzma.LZMAError, zipfile.BadZipFile):
        return
    if total > limit:
        raise StudyError(("data", "path"), (
            f"the compressed file expands to more than {limit:,} bytes (the limit: "
            f"{MAX_EXPANSION} times its size, at least {MAX_EXPANDED_FLOOR:,} bytes; pandas "
            "would hold it all in memory); decompress it yourself if the data is real, "
            f"got {value!r}"))


def _storage_path(url):
    """The local file of a storage setting (SQLite URL, ``.db`` / journal path), or None
    (a database server, or not a database URL); ``""`` or ``":memory:"``: in memory."""
    if "://" not in url:
        return url
    parsed = _database_url(url)
    if parsed is None or parsed.get_backend_name().lower() != "sqlite":
        return None
    return parsed.database or ""


#: database server hosts a study file may name (this machine only)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _on_this_machine(host):
    """Whether the host name ``host`` of a URL is this machine: ``localhost``, or a
    loopback address (``127.0.0.0/8``, ``::1``). A name that merely starts like one
    (``127.0.0.1.example.com``) is a name the DNS resolves anywhere."""
    import ipaddress

    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hidden_password(url):
    """``url`` with the password of its user part replaced by ``***`` (for messages)."""
    return re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url, count=1)


def _storage_url_problem(url):
    """Why a storage URL of a study file may not be used, or None.

    A study file from a stranger must not make hpsearch write outside the working
    directory, nor send the fits (parameters, scores, the data's fingerprint) to a
    database server elsewhere: a server URL must name this machine
    (:data:`LOOPBACK_HOSTS`, or no host: a local socket), and no URL may carry query
    options (``?uri=true`` makes SQLite read its path as a ``file:`` URI, ``?host=``
    names a PostgreSQL server).
    """
    from urllib.parse import urlsplit

    if "?" in url:
        return "a storage URL in a study file may carry no query options ('?...')"
    try:
        hosts = [urlsplit(url).hostname]
    except ValueError as exc:  # e.g. an unclosed '[' of an IPv6 host
        return f"not a database URL ({exc})"
    parsed = _database_url(url)
    if parsed is None:
        return "not a database URL (e.g. sqlite:///run.db, postgresql://user@localhost/db)"
    if not _dialect_known(parsed):
        return (f"not a kind of database SQLAlchemy knows ({parsed.drivername!r}; e.g. "
                "sqlite, postgresql, mysql)")
    if parsed.get_backend_name() == "sqlite":
        if parsed.host:  # SQLite has no server: sqlite://x//abs/path opens /abs/path
            return ("a SQLite URL names a file and no host (sqlite:///relative/path.db), "
                    f"not {parsed.host!r}")
        return None  # its file is checked as a path
    hosts.append(parsed.host)  # SQLAlchemy's own reading of the host is the one used
    for host in hosts:
        if host and not host.startswith("/") and not _on_this_machine(host):
            return (f"a database server named in a study file must be on this machine "
                    f"({', '.join(LOOPBACK_HOSTS)}), not {host!r}")
    return None


def storage_option_problem(url):
    """Why ``url`` (``--storage``: any store) cannot be a trial store, or None: a URL
    (``scheme://``) that is no database URL or names a kind of database SQLAlchemy does
    not know (else SQLAlchemy's error when the run opens it: exit 1, after the plan)."""
    if "://" not in url:
        return None  # a file: a SQLite database or an Optuna journal
    parsed = _database_url(url)
    if parsed is None:
        return "not a database URL (e.g. sqlite:///run.db, postgresql://user@host/db)"
    if not _dialect_known(parsed):
        return (f"not a kind of database SQLAlchemy knows ({parsed.drivername!r}; e.g. "
                "sqlite, postgresql, mysql)")
    return None


def storage_driver_problem(url):
    """Why the database server URL ``url`` cannot be opened on this machine because its
    driver module is not installed (``mysql://`` without ``MySQLdb``), or None: the run
    failed with "run failed: ImportError: Failed to import DB access module", exit 1,
    once the data was read and the search built."""
    parsed = _database_url(url) if "://" in url else None
    if parsed is None or not _dialect_known(parsed) or parsed.get_backend_name() == "sqlite":
        return None
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        return (f"the database driver of {parsed.drivername!r} is not installed ({exc}); "
                "install it, or use a SQLite file (run.db) or an Optuna journal (run.log)")
    return None


def check_storage_driver(study, options=None):
    """Refuse (exit 2, naming ``storage``) a database server URL of the study file whose
    driver is not installed (:func:`storage_driver_problem`); ``--storage`` replaces it.

    Raises
    ------
    StudyError
    """
    if study.storage is None or (options and options.storage):
        return
    problem = storage_driver_problem(study.storage)
    if problem:
        raise StudyError(("storage",), f"{problem}, got {_hidden_password(study.storage)!r}")


def _dialect_known(parsed):
    """Whether SQLAlchemy has a dialect for the scheme of ``parsed`` (its driver module
    need not be installed)."""
    from sqlalchemy.exc import NoSuchModuleError

    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        return False
    except ImportError:  # a dialect whose DBAPI is missing: known, fails when connecting
        return True
    return True


#: Dask address schemes whose location is ``host:port``
_HOST_PORT_SCHEMES = ("tcp", "tls", "ws", "wss")


def scheduler_address_problem(address):
    """Why ``address`` is not a Dask scheduler address Dask can connect to, by Dask's
    own reading of it (a known scheme; ``host:port`` with a port in 1..65535 for tcp,
    tls, ws and wss), or None (also when Dask is not installed: the run says so)."""
    try:
        from distributed.comm.addressing import get_address_host_port, parse_address
        from distributed.comm.registry import get_backend
    except ImportError:
        return None
    try:
        scheme, _ = parse_address(address)
        get_backend(scheme)
        if scheme in _HOST_PORT_SCHEMES:
            host, port = get_address_host_port(address)
            if not host or not 0 < port < 65536:
                raise ValueError("a host and a port in 1..65535 are needed")
    except (ValueError, TypeError) as exc:
        return ("must be a Dask scheduler address such as tcp://127.0.0.1:8786 "
                f"(host:port, or scheme://host:port): {exc}")
    return None


def _scheduler_problem(address):
    """Why a Dask scheduler address of a study file may not be used, or None.

    Connecting to a scheduler sends it the data and the estimator, and the client unpickles
    what the workers send back, which runs code in this process: a study file from a
    stranger may only name a scheduler on this machine (:data:`LOOPBACK_HOSTS`); a cluster
    elsewhere is named on the command line (``--scheduler``).
    """
    from urllib.parse import urlsplit

    url = address if "://" in address else f"tcp://{address}"
    try:
        host = urlsplit(url).hostname
    except ValueError as exc:
        return f"not a Dask scheduler address ({exc})"
    if url.startswith("inproc://") or (host is not None and _on_this_machine(host)):
        return None
    return (f"a Dask scheduler named in a study file must be on this machine "
            f"({', '.join(LOOPBACK_HOSTS)}): the fits' data go to it and what its workers "
            f"send back is unpickled (run) here, not {host!r}")


def _command_line_only(path, problem, option, what, value):
    """The error of a setting that only the command line may make: ``<problem>; use
    <option> on the command line for <what>, got <value>``."""
    return StudyError(path, f"{problem}; use {option} on the command line for {what}, "
                      f"got {value!r}")


def _backend_limits(study, options, errors):
    """``backend.scheduler``: on this machine unless ``--scheduler`` replaces it."""
    backend = getattr(study, "backend", None)
    address = getattr(backend, "scheduler", None)
    if address is None or (options and getattr(options, "scheduler", None)):
        return
    problem = scheduler_address_problem(address)
    if problem:  # (else Dask's ValueError when the run connects: exit 1, after the plan)
        errors.append(StudyError(("backend", "scheduler"), f"{problem}, got {address!r}"))
        return
    problem = _scheduler_problem(address)
    if problem:
        errors.append(_command_line_only(("backend", "scheduler"), problem, "--scheduler",
                                         "a cluster elsewhere", address))


#: bytes of one folder or file name (``NAME_MAX`` of Linux and macOS file systems) and of
#: a whole path (``PATH_MAX`` less its final NUL)
MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 4095


def path_problem(path):
    """Why the text ``path`` cannot name a file (the rule broken), or None: a NUL
    character (no system call takes one: Python's "embedded null byte"), bytes that are
    not UTF-8 (the output files name the path in UTF-8), a name of more
    than :data:`MAX_NAME_BYTES` bytes or a path of more than :data:`MAX_PATH_BYTES`
    ("File name too long" from the system, after the search)."""
    if "\0" in path:
        return "a path may not hold a NUL character ('\\0')"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # bytes of no UTF-8 character (a lone surrogate)
        return ("a path must be UTF-8 text, it holds bytes that are not (the report and the "
                "trial store cannot name it: the run failed after the search)")
    size = len(path.encode("utf-8", "surrogateescape"))
    if size > MAX_PATH_BYTES:
        return f"a path may have at most {MAX_PATH_BYTES:,} bytes, this one has {size:,}"
    longest = max(path.split(os.sep), key=lambda part: len(part.encode("utf-8",
                                                                       "surrogateescape")))
    size = len(longest.encode("utf-8", "surrogateescape"))
    if size > MAX_NAME_BYTES:
        return (f"a folder or file name may have at most {MAX_NAME_BYTES} bytes (the file "
                f"system's limit), {longest[:20]!r}... has {size:,}")
    return None


def _cut(value):
    """``value`` for a message: its ``repr``, cut to 100 characters when longer."""
    return repr(value) if len(value) <= 100 else f"{value[:60]!r}... ({len(value):,} characters)"


def _unnamable(errors, key, path, shown):
    """Record an error under ``key`` when ``path`` cannot name a file; whether it can."""
    problem = path_problem(path)
    if problem:
        errors.append(StudyError(key, f"{problem}, got {_cut(shown)}"))
    return problem is None


def _path_limits(study, options, errors, cwd):
    if study.data.path is not None:
        _unnamable(errors, ("data", "path"), study.data.path, study.data.path)
    if study.output is not None and not (options and options.out) and _unnamable(
            errors, ("output",), study.output, study.output):
        if Path(study.output).is_absolute() or not inside(study.output, cwd):
            errors.append(_command_line_only(
                ("output",), "must be a folder inside the working directory (a relative "
                "path that does not leave it, symlinks resolved)", "--out", "any other place",
                study.output))
    if study.storage is not None and not (options and options.storage):
        problem = _storage_url_problem(study.storage) if "://" in study.storage else None
        if problem:
            errors.append(_command_line_only(("storage",), problem, "--storage",
                                             "any other store",
                                             _hidden_password(study.storage)))
            return
        path = _storage_path(study.storage)
        if path is not None and not _unnamable(errors, ("storage",), path, study.storage):
            return
        if path is not None and path not in ("", ":memory:") and (
            Path(path).is_absolute() or not inside(path, cwd)
        ):
            errors.append(_command_line_only(
                ("storage",), "a storage file must be inside the working directory (a "
                "relative path)", "--storage", "any other place", study.storage))
        elif path not in (None, "", ":memory:") and not all(
                name.lower().endswith(STORAGE_SUFFIXES)
                for name in (path, (Path(cwd) / path).resolve().name)):
            # (the name of the file a symbolic link leads to too: j.log -> pkg/__init__.py)
            target = (Path(cwd) / path).resolve()
            shown = (study.storage if target.name == Path(path).name
                     else f"{study.storage} (a link to {target})")
            errors.append(_command_line_only(
                ("storage",), f"a storage file must be named *{', *'.join(STORAGE_SUFFIXES)} "
                "(a SQLite database or an Optuna journal; any other file would be "
                "overwritten)", "--storage", "any other name", shown))


def network_weights(hidden, n_in, n_out):
    """Weights and biases of a fully connected network: with layer widths
    :math:`a_0 = n_{in}, a_1, \\dots, a_L, a_{L+1} = n_{out}` they number
    :math:`\\sum_{i=0}^{L} (a_i + 1)\\, a_{i+1}`; None when ``hidden`` is not a width or a
    list of widths (the estimator names that itself)."""
    widths = [hidden] if isinstance(hidden, int) and not isinstance(hidden, bool) else hidden
    if not isinstance(widths, (list, tuple)) or not all(
            isinstance(w, int) and not isinstance(w, bool) for w in widths):
        return None
    layers = [n_in, *widths, n_out]
    return sum((a + 1) * b for a, b in zip(layers, layers[1:]))


def check_default_output(folder, cwd="."):
    """Refuse a default run folder (``runs/<name>``: neither ``--out`` nor ``output``
    given) that leaves the working directory through a symbolic link (a ``runs`` link
    shipped with a study file would send its files anywhere).

    Raises
    ------
    UsageError
        Naming the folder, where it leads and ``--out``.
    """
    from .errors import UsageError

    if not inside(folder, cwd):
        raise UsageError(
            f"the run folder {folder} leaves the working directory through a symbolic link "
            f"(to {(Path(cwd) / folder).resolve()}); without --out hpsearch writes only "
            f"inside the working directory: use --out {folder} to write there, or another "
            "folder")


def check_study(study, options=None, *, dry_run=False, cwd="."):
    """Refuse a study that breaks a limit or would write outside its place.

    Raises
    ------
    StudyError
        One per broken limit (a :class:`~hpsearch.study.loader.StudyErrors` when several).
    """
    from .loader import StudyErrors

    errors = []
    _path_limits(study, options, errors, cwd)
    _backend_limits(study, options, errors)
    _data_limits(study.data, errors)
    _search_limits(study.search, errors, dry_run)
    _evaluate_limits(getattr(study, "evaluate", None), errors)
    _cv_limits(study.cv, errors)
    _param_limits(study, errors)
    if errors:
        raise StudyErrors(errors) if len(errors) > 1 else errors[0]
