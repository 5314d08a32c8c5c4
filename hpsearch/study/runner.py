"""Run a built study and write its output folder.

Folder layout::

    <out>/study.yaml          copy of the study file
    <out>/study.db            trial store (SQLite; default storage of the CLI)
    <out>/results.csv         tidy results: one row per (candidate, split), its error only
    <out>/cv_results.csv      sklearn's cv_results_, one row per candidate
    <out>/best_params.json    best parameters
    <out>/model.joblib        best model refit on all searched rows
    <out>/summary.json        scores (CV, final test, nested CV with evaluate), counts, timings
    <out>/report.md           best configuration, top-10 table, plots
    <out>/plots/*.png         search history, score vs each parameter, learning curves
    <out>/.hpsearch-run       marks the folder as a run folder; records the files written
                              (their SHA-256), each before it is put in place
    <out>/.hpsearch-lock      locked by the live runs of the folder (:class:`_FolderHold`)

hpsearch writes only into a new or empty folder or one holding ``.hpsearch-run``, and
removes (``--overwrite``) only files of the names listed above whose content hash that
marker records (``study.db`` only when it holds no other study: else only this study is
deleted from it): a marker planted in the user's own folder cannot make the user's
``report.md`` look like hpsearch's, and ``--overwrite`` there is refused, naming the
unrecorded files (:func:`_refuse_foreign`); so are a plain run and ``--resume``, which would
write their results over them (:func:`_refuse_unrecorded`); a content hash survives
copying the run folder. The marker is rewritten holding a lock
(:meth:`_FolderHold.recording`), so processes of one study ending together keep each
other's records. Runs starting at
once check and prepare the folder one at a time; ``--overwrite``, or a run without
``--resume``, while another live process runs in the folder (or, ``--overwrite``, runs the
study in a shared store) is refused and changes nothing (:class:`_FolderHold`,
:func:`_refuse_live_holder`).

The output files are written into a private folder ``<out>/.hpsearch-writing-<pid>-<id>``
and then moved into place one by one with ``os.replace``: several processes of one study
(``--resume`` in N processes) write them at about the same time, and a Ctrl-C or SIGTERM
while writing leaves the earlier whole files, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

from . import report
from .errors import StudyError, UsageError, exception_chain
from .limits import MAX_FILE_BYTES, _storage_path, inside

__all__ = ["run", "OUTPUT_FILES", "RUN_MARKER", "RunFailed", "check_output", "check_storage_dir",
           "finished_trials", "kept_trials", "prepare_output", "stored_trials",
           "trials_in_progress"]

OUTPUT_FILES = (
    "study.yaml", "study.db", "results.csv", "cv_results.csv", "best_params.json",
    "model.joblib", "summary.json", "report.md",
)


class RunFailed(RuntimeError):
    """The search ran but produced nothing usable (exit code 1)."""


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


#: marks a folder as an hpsearch run folder; lists the files hpsearch wrote there
RUN_MARKER = ".hpsearch-run"

#: files SQLite itself may leave next to ``study.db``
_SQLITE_SIDE_FILES = ("study.db-journal", "study.db-wal", "study.db-shm")


def _refuse(message, key, option=None):
    """A refusal naming the study key it comes from (``output``), else a usage error
    (naming the command-line ``option`` it comes from, ``--out``, if any)."""
    if key:
        return StudyError(key, message)
    return UsageError(f"{option}: {message}" if option else message)


def check_output(out, key=None, option=None):
    """Refuse an output folder hpsearch must not write into (exit code 2).

    A folder is hpsearch's when it holds :data:`RUN_MARKER` (a plain file, written when
    the run folder is made); any other existing folder must be empty.

    Parameters
    ----------
    out : Path
    key : tuple or None
        ``("output",)`` when the folder comes from the study file.
    option : str or None
        ``"--out"`` when it comes from the command line (named in the error).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise _refuse(f"{out} exists and is not a folder", key, option)
    above = next((p for p in out.parents if p.exists()), None)  # the folder it is made in
    if not out.exists() and above is not None and not above.is_dir():
        raise _refuse(f"{out} cannot be made: {above} is a file, not a folder", key, option)
    # the folder written into once the path's folders are made: 'new/..' (a study file
    # named '...yaml': runs/..) does not exist before, and is the working directory after
    real = Path(os.path.realpath(out))
    marker = real / RUN_MARKER
    is_run = marker.is_file() and not marker.is_symlink()
    if real.is_dir() and not is_run and any(real.iterdir()):
        raise _refuse(
            f"{out} exists and is not an hpsearch run folder (it has no {RUN_MARKER} file); "
            "hpsearch writes only into a new or empty folder or one of its own runs: "
            "choose another output folder (--out) or empty this one", key, option)
    if is_run and _marker_problem(real):
        raise _refuse(f"{out / RUN_MARKER} {_marker_problem(real)}; nothing was changed: "
                      "remove it if this is your folder, or choose another output folder",
                      key, option)
    if is_run:
        _check_written_names(real, out, key, option)


def _check_written_names(real, out, key, option):
    """Refuse a run folder where a file hpsearch writes is a folder, a pipe or a device:
    the run failed on it ("IsADirectoryError") only when moving its results into place,
    after the whole search."""
    names = (*OUTPUT_FILES, LOCK_FILE, "learning_curves.csv")
    plots = real / "plots"
    if plots.is_dir() and not plots.is_symlink():
        names += tuple(f"plots/{p.name}" for p in plots.iterdir() if p.suffix == ".png")
    for name in names:
        path = real / name
        if path.is_symlink() or not path.exists() or path.is_file():
            continue
        what = "a folder" if path.is_dir() else "not a regular file"
        raise _refuse(f"{out / name} is {what}, where hpsearch writes its own file of that "
                      "name; nothing was changed: remove it, or choose another output "
                      "folder (--out)", key, option)


def _check_store_link(out, storage):
    """Refuse a default trial store ``<out>/study.db`` that is a symbolic link: planted in
    a run folder, SQLite follows it and creates or writes the file it names, anywhere (an
    empty ``__init__.py`` became a database)."""
    db = Path(out) / "study.db"
    if db.is_symlink() and _default_db(out, storage):
        raise UsageError(
            f"{db} is a symbolic link (to {os.readlink(db)}); the default trial store is a "
            "file of the run folder and hpsearch does not follow a link there: remove the "
            "link, or name the store with --storage")


def _local_file(storage):
    """The local file of a SQLite URL or a storage path, or None (a database server)."""
    path = _storage_path(storage)
    return None if path is None else Path(path)


def _default_db(out, storage):
    path = _local_file(storage)
    return path is not None and path.resolve() == (Path(out) / "study.db").resolve()


def check_storage_dir(storage):
    """Refuse a storage file whose directory does not exist, naming both."""
    path = _local_file(storage)
    if path is not None and str(path) not in ("", ":memory:") and not path.parent.is_dir():
        raise UsageError(f"cannot open the trial store {storage}: directory "
                         f"{path.parent} does not exist")


def _not_a_store(path):
    """Why the existing file ``path`` is not a trial store hpsearch may open, or None: an
    empty file, a SQLite database or an Optuna journal (JSON lines) is one."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            line = head + f.readline(MAX_FILE_BYTES) if head else b""  # a first line
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not head or head == b"SQLite format 3\x00":
        return None
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        record = None
    if isinstance(record, dict) and "op_code" in record:
        return None
    return "is neither a SQLite database nor an Optuna journal"


def check_storage_file(storage, key=None):
    """Refuse a storage file that exists and is not a trial store (a log file, a text
    file): hpsearch would append its journal to it, or fail on it with the database's
    own words. ``key``: ``("storage",)`` when the storage comes from the study file."""
    path = _local_file(storage)
    if path is None or str(path) in ("", ":memory:") or not path.is_file():
        return
    why = _not_a_store(path)
    if why:
        raise _refuse(f"{path} exists and {why}; hpsearch writes only into its own trial "
                      f"stores: choose another storage, got {storage!r}", key)


def stored_trials(storage, study_name):
    """Trials (any state) of ``study_name`` in ``storage``; 0 when there is no such study.

    A store file that does not exist yet is not created.
    """
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return 0
    import optuna

    from hpsearch.model_selection.store import make_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=make_storage(storage))
    except KeyError:  # no study of that name
        return 0
    return len(study.get_trials(deepcopy=False))


def _delete_study(storage, study_name):
    """Remove ``study_name`` from a storage outside the run folder, if it is there."""
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return
    import optuna

    from hpsearch.model_selection.store import make_storage

    try:
        optuna.delete_study(study_name=study_name, storage=make_storage(storage))
    except KeyError:
        pass


#: names of the files a run writes besides :data:`OUTPUT_FILES`: the learning curves and
#: the figures of ``plots/``
_WRITTEN = re.compile(r"learning_curves\.csv|plots/[\w.+-]+\.png")


def _read_small(path, limit=MAX_FILE_BYTES):
    """The text of the file ``path`` when it is UTF-8 of at most ``limit`` bytes, else
    None (also when it cannot be read). At most ``limit + 1`` bytes are read: the copy of
    the study file or the marker of a run folder shipped with a study file, a sparse file
    of many gigabytes, was read whole (``MemoryError``, or the machine's memory used up),
    one of other bytes ended the run with ``UnicodeDecodeError``."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError:
        return None
    if len(raw) > limit:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _marker_data(out):
    """The JSON object of :data:`RUN_MARKER` (``{}`` for an empty marker: a first write
    cut short), or None when it is not hpsearch's format (see :func:`_marker_problem`)."""
    text = _read_small(out / RUN_MARKER)
    if text is None:
        return None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files", []), list):
        return None
    if not isinstance(data.get("sha256", {}), dict):
        return None
    return data


def _marker_problem(out):
    """Why the marker of ``out`` is not hpsearch's (its JSON object with a list
    ``files`` and a table ``sha256``), or None. A planted marker of another format must
    not make a folder a run folder."""
    if _marker_data(out) is not None:
        return None
    return ("is not the marker of an hpsearch run folder (hpsearch writes a small JSON "
            "object listing its files there)")


def _our_name(name):
    """Whether ``name`` (relative to a run folder) is of the names a run writes."""
    return isinstance(name, str) and (name in OUTPUT_FILES or bool(_WRITTEN.fullmatch(name)))


def _records(out):
    """The fingerprints the runs recorded in :data:`RUN_MARKER`: ``{name: [sha256 hex,
    ...]}``, for the names a run writes only (a marker shipped with a study file,
    ``output: .`` and a marker naming ``.git/HEAD`` or ``src/main.py``, must not make
    ``--overwrite`` remove other files). A file is hpsearch's when its content hash is
    one of its name's: a content hash survives copying or moving the run folder, and a
    stranger's marker cannot name the hash of a user's own file."""
    data = _marker_data(out) or {}
    table = data.get("sha256", {})
    return {name: [h for h in hashes if isinstance(h, str) and _HEX.fullmatch(h)]
            for name, hashes in table.items() if _our_name(name) and isinstance(hashes, list)}


def _manifest(out):
    """Names of the files recorded in :data:`RUN_MARKER` (see :func:`_records`)."""
    data = _marker_data(out) or {}
    return [f for f in (*data.get("files", []), *data.get("sha256", {})) if _our_name(f)]


#: a SHA-256 digest as :func:`_sha256` writes it
_HEX = re.compile(r"[0-9a-f]{64}")

#: fingerprints kept per name: the last run's and a few earlier (a run cut short between
#: recording and moving its files into place, processes of one study ending together)
_KEEP_HASHES = 8


def _sha256(path):
    """SHA-256 hex digest of the plain file ``path`` (a link is not followed), or None."""
    import hashlib
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a pipe, a device
            return None
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_marker(out, records=None, *, first=False):
    """Write :data:`RUN_MARKER`: the fingerprints (:func:`_records`) of the files of
    the run folder it holds already, for names still there, and ``records`` (``{name:
    sha256 hex}``) of the files this run writes, recorded before they are put in place
    (a write of the marker failing, a full disk, leaves no unrecorded file). ``first``:
    the marker of a new run folder, written in place (a temporary file next to it would
    make the folder, for a moment, a non-empty folder without a marker, which another
    process starting the same study refuses); later ones replace it whole
    (``os.replace``)."""
    from hpsearch import __version__

    table = {} if first else {n: h for n, h in _records(out).items()
                              if os.path.lexists(out / n)}
    for name, digest in (records or {}).items():
        table[name] = [digest, *[h for h in table.get(name, []) if h != digest]][:_KEEP_HASHES]
    text = json.dumps({"hpsearch": __version__, "files": sorted(table),
                       "sha256": dict(sorted(table.items()))}, indent=1) + "\n"
    if not first:
        _replace_text(out / RUN_MARKER, text)
        return
    # made, never opened: a link put there since the caller looked (pointing anywhere) is
    # not followed, and a marker another process made meanwhile is left to it
    try:
        fd = os.open(out / RUN_MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                     0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _own_files(out, storage):
    """Paths of files hpsearch wrote in ``out``: its fixed names and the recorded ones,
    each a plain relative path that stays inside ``out`` (symlinks resolved)."""
    names = [n for n in OUTPUT_FILES if n != "study.db" or _default_db(out, storage)]
    if _default_db(out, storage):
        names += _SQLITE_SIDE_FILES
    paths = []
    for name in dict.fromkeys([*names, *_manifest(out)]):
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not inside(rel, out):
            continue
        path = out / rel
        if path.is_file() or path.is_symlink():
            paths.append(path)
    return paths


#: names a run writes whatever its search (besides :data:`OUTPUT_FILES`): a file of one
#: of these that hpsearch did not record would be replaced by the run's own
_REPLACED = re.compile(r"learning_curves\.csv|plots/(history|learning_curves|param_[\w.+-]+"
                       r"|how_sure|candidates|recipe_map|gradient_flow(_diagnosed)?)\.png")


def _sort_own(out, storage):
    """The files of :func:`_own_files` as ``(removable, foreign)``: a file is removable
    when hpsearch demonstrably wrote it, its content hash recorded for its name in the
    marker (:func:`_records`), or is a symbolic link (the link only is removed). The
    trial store ``study.db`` and SQLite's files next to it are in neither: see
    :func:`_store_is_ours`."""
    records = _records(out)
    removable, foreign = [], []
    for path in _own_files(out, storage):
        name = path.relative_to(out).as_posix()
        if name in ("study.db", *_SQLITE_SIDE_FILES):
            continue
        ours = path.is_symlink() or _sha256(path) in records.get(name, ())
        (removable if ours else foreign).append(path)
    return removable, foreign


def _store_is_ours(out, storage):
    """Whether the default trial store ``<out>/study.db`` is the file a run recorded
    (its content hash when the run ended): else ``--overwrite`` deletes only this study
    from it and keeps the file (a user's database of that name, or a run cut short)."""
    db = Path(out) / "study.db"
    return (_default_db(out, storage) and db.is_file()
            and _sha256(db) in _records(Path(out)).get("study.db", ()))


def _refuse_foreign(out, foreign, key):
    """Refuse ``--overwrite`` in a run folder holding files of the names a run writes
    that no run recorded writing (a marker shipped into the user's own folder, a file
    edited since): removing them, or the run replacing them, would lose them."""
    names = [p.relative_to(out).as_posix() for p in foreign]
    names = [n for n in names if n in OUTPUT_FILES or _REPLACED.fullmatch(n)]
    if names:
        raise _refuse(
            f"{out} holds {len(names)} file(s) of the names hpsearch writes that no run of "
            f"hpsearch recorded writing there (changed since, written by an older hpsearch, "
            f"or not hpsearch's): {', '.join(names)}; --overwrite removes only its own "
            "files and nothing was changed: move them away, or choose another output "
            "folder (--out)", key)


def _unrecorded(out, source_text=None):
    """Names of the plain files of ``out`` that a run writes over (:data:`OUTPUT_FILES`
    but the trial store, and the names of :data:`_REPLACED`) whose content hash no run
    recorded for that name in the marker (:func:`_records`): the user's own files in a
    folder where a stranger planted a marker. A ``study.yaml`` that is no study file
    hpsearch reads (not UTF-8 text, or too large: :func:`_read_small`) is a damaged copy,
    not someone's study, and is not listed (a resume replaces it); nor is one holding
    exactly ``source_text``, the study file the run copies there (replaced by the same
    bytes: the copy of a run folder made by an older hpsearch, whose marker has no hashes).

    The files are read before the marker: a process of the same run records a file in
    the marker before moving it into place (:func:`_record_and_publish`), so a file read
    here that it just wrote is in the marker read after."""
    out = Path(out)
    names = [n for n in (*OUTPUT_FILES, "learning_curves.csv") if n != "study.db"]
    plots = out / "plots"
    if plots.is_dir() and not plots.is_symlink():
        names += sorted(f"plots/{p.name}" for p in plots.iterdir()
                        if _REPLACED.fullmatch(f"plots/{p.name}"))
    hashes = {}
    for name in names:
        path = out / name
        if path.is_symlink() or not path.is_file():
            continue
        if name == "study.yaml" and _read_small(path) in (None, source_text):
            continue
        hashes[name] = _sha256(path)
    records = _records(out)
    return [name for name, digest in hashes.items()
            if digest is None or digest not in records.get(name, ())]


def _refuse_unrecorded(out, key, resume, source_text=None):
    """Refuse a run (``--resume`` or none) in a run folder holding files of the names a
    run writes over that no run recorded writing (:func:`_unrecorded`): the run would
    replace them (a marker, and a trial store, planted in the user's own folder)."""
    names = _unrecorded(out, source_text)
    if names:
        how = "--resume" if resume else "a run"
        raise _refuse(
            f"{out} holds {len(names)} file(s) of the names hpsearch writes that no run of "
            f"hpsearch recorded writing there (changed since, written by an older hpsearch, "
            f"or not hpsearch's): {', '.join(names)}; {how} would replace them and nothing "
            "was changed: move them away, or choose another output folder (--out)", key)


def _drop_links(out):
    """Remove symbolic links standing where hpsearch writes its files (the links only),
    so that writing a result never follows one out of the run folder. (``study.db`` is
    left: a link there is refused before, by :func:`_check_store_link`.)"""
    plots = out / "plots"
    names = [n for n in (*OUTPUT_FILES, "learning_curves.csv", "plots", *_manifest(out))
             if n != "study.db"]
    if plots.is_dir() and not plots.is_symlink():
        names += [f"plots/{p.name}" for p in plots.iterdir()
                  if p.name in ("history.png", "learning_curves.png")
                  or (p.name.startswith("param_") and p.suffix == ".png")]
    for name in names:
        path = out / name
        if ".." not in Path(name).parts and path.is_symlink():
            path.unlink()


#: a temporary file of :func:`_replace_text`: ``.<name>.<pid>-<8 hex>.tmp``
_TMP_FILE = re.compile(r"\..+\.(\d+)-[0-9a-f]{8}\.tmp")


def _dead(pid):
    """Whether no process of this machine has the id ``pid``."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        pass
    return False


def _drop_dead_stages(out):
    """Remove the staging folders (:func:`_new_stage`) and the temporary files
    (:func:`_replace_text`: the copy of the study file, the marker) of processes of this
    machine that ended before moving them into place (killed while writing them)."""
    for stage in Path(out).glob(STAGE_PREFIX + "*"):
        pid = stage.name[len(STAGE_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or stage.is_symlink() or not stage.is_dir():
            continue
        if _dead(pid):
            shutil.rmtree(stage, ignore_errors=True)
    for tmp in Path(out).glob(".*.tmp"):
        match = _TMP_FILE.fullmatch(tmp.name)
        if match and (tmp.is_file() or tmp.is_symlink()) and _dead(match.group(1)):
            tmp.unlink(missing_ok=True)


def prepare_output(plan, *, resume=False, overwrite=False, key=None, kept=None,
                   source_text=None):
    """Make (or reuse) the run folder; never replace finished work without ``overwrite``,
    and with it remove only hpsearch's own files (and the study of that name).

    ``kept``: a list, extended with the files of hpsearch's names that ``overwrite``
    left because no run recorded writing them (those a run does not replace, else the
    overwrite is refused, see :func:`_refuse_foreign`). ``source_text``: the study file
    the run copies to ``study.yaml`` (a copy holding it is not at risk: :func:`_unrecorded`).

    Returns
    -------
    list of str
        Files removed (relative to the run folder): only those a run recorded writing
        (:func:`_records`); ``study.db`` only when it is the file a run recorded and holds
        no other study, else only this study is deleted from it.

    Raises
    ------
    StudyError
        (:class:`UsageError` unless ``key`` names the study key) a folder hpsearch did not
        make, a missing storage directory, or, without ``resume`` and ``overwrite``, a store
        that already holds trials of the study or a folder with an earlier run's results;
        with ``overwrite``, a study another live process runs (:func:`_refuse_live_holder`).
        (A live process in the run folder is refused by :func:`run`, :class:`_FolderHold`.)
    """
    out, storage = Path(plan.out), plan.storage
    _check_prepare(plan, resume=resume, overwrite=overwrite, key=key,
                   source_text=source_text)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / RUN_MARKER).is_file():
        _write_marker(out, first=True)
    _drop_links(out)
    _drop_dead_stages(out)
    if resume and not overwrite:
        return []
    removed = []
    # the run folder's store holding another study's trials (a run of another study file
    # in this folder, --out): only this study is deleted from it, the file is kept
    keep_db = _default_db(out, storage) and (_other_studies(storage, plan)
                                             or not _store_is_ours(out, storage))
    paths, foreign = _sort_own(out, storage)
    if _default_db(out, storage) and not keep_db:
        paths += [out / n for n in ("study.db", *_SQLITE_SIDE_FILES)
                  if (out / n).is_file() or (out / n).is_symlink()]
    for path in paths:
        path.unlink()
        removed.append(str(path.relative_to(out)))
    if kept is not None:
        kept.extend(p.relative_to(out).as_posix() for p in foreign)
    if keep_db or not _default_db(out, storage):
        for name in _study_names(plan):
            _delete_study(storage, name)
    _write_marker(out)
    return removed


def _check_prepare(plan, *, resume=False, overwrite=False, key=None, source_text=None):
    """The refusals of :func:`prepare_output`, which change nothing (see there)."""
    out, storage = Path(plan.out), plan.storage
    check_output(out, key)
    _check_store_link(out, storage)
    if not overwrite and (out / RUN_MARKER).is_file():
        _refuse_unrecorded(out, key, resume, source_text)
    if not _default_db(out, storage):
        check_storage_dir(storage)
    check_storage_file(storage, ("storage",) if storage == plan.study.storage else None)
    kept = sum(stored_trials(storage, name) for name in _study_names(plan))
    earlier = [p.name for p in _own_files(out, storage)
               if p.name not in ("study.yaml", "study.db", *_SQLITE_SIDE_FILES)]
    if not (resume or overwrite) and (kept or earlier):
        what = (f"the trial store {storage} already holds {kept} trial(s) of study "
                f"{plan.study_name!r}" + (" or its nested searches" if plan.outer_cv is not None
                                          else "") if kept else f"{out} holds the results of an earlier run")
        raise UsageError(f"{what}; nothing was changed. Use --resume to continue it, or "
                         "--overwrite to replace it (only hpsearch's own files are removed)")
    if resume and not overwrite and earlier and not kept:  # it would start a new run
        raise UsageError(
            f"{out} holds the results of an earlier run, but the trial store {storage} holds "
            f"no trial of study {plan.study_name!r} to continue (the run folder of another "
            "study, or another store); nothing was changed. Use another output folder "
            "(--out), or --overwrite to replace it")
    if overwrite:
        _refuse_foreign(out, _sort_own(out, storage)[1], key)
        _refuse_live_holder(plan)


def _live_owners(storage, study_name):
    """Owners (:func:`~hpsearch.model_selection.store.owner_id`) of the live processes
    running a search in ``study_name``: announced holders (``hpsearch_holder:<owner>``,
    False once ended) and owners of RUNNING trials whose process still runs (this machine)
    or wrote a heartbeat recently (another one). Empty when there is no such study."""
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return []
    import optuna

    from hpsearch.model_selection.store import HOLDER_ATTR, make_storage, owner_alive

    store = make_storage(storage)
    try:
        study_id = store.get_study_id_from_name(study_name)
    except KeyError:
        return []
    attrs = store.get_study_system_attrs(study_id)
    beats = {n.partition(":")[2]: t for n, t in attrs.items() if n.startswith("hpsearch_alive:")}
    owners = {n.partition(":")[2] for n, v in attrs.items()
              if n.startswith(HOLDER_ATTR + ":") and v}
    running = store.get_all_trials(study_id, deepcopy=False,
                                   states=(optuna.trial.TrialState.RUNNING,))
    owners |= {t.user_attrs.get("hpsearch_owner") for t in running} - {None}
    return sorted(o for o in owners if owner_alive(o, beats))


def _refuse_live_holder(plan):
    """``--overwrite`` while another live process runs the study (or one of its nested
    searches) in the trial store: replacing it would delete the trials that process is
    writing (its work lost, or the process ended by a missing store). UsageError naming
    the process, changing nothing."""
    for name in _study_names(plan):
        owners = _live_owners(plan.storage, name)
        if owners:
            host, _, pid = owners[0].split("/")[:3]
            raise UsageError(
                f"--overwrite refused: process {pid} on host {host!r} is running study "
                f"{name!r} in the trial store {plan.storage}; replacing it now would delete "
                "its work. Nothing was changed. Wait for it to end (or stop it) before "
                "--overwrite, or join it with --resume")


#: lock file of a run folder (:class:`_FolderHold`)
LOCK_FILE = ".hpsearch-lock"


class _FolderHold:
    """The hold of a run on its folder, for the whole run: POSIX record locks on
    :data:`LOCK_FILE` (released by the system when the process ends, killed or not).

    Byte 0 is the folder's *preparing* lock: exclusive, waited for, held while a run checks
    the folder and the store, removes an earlier run (``--overwrite``) and writes the copy
    of its study file, so two runs starting at once prepare one after the other. Byte 1 is
    the *running* lock: every accepted run holds it shared until it ends (``--resume``
    processes share a study); a new run or ``--overwrite`` first takes it exclusive,
    without waiting, and is refused (naming the process holding it) while another process
    runs in the folder: it would replace that run's trials and files, or its copy of the
    study file. A refused run changes nothing in the folder."""

    def __init__(self, out):
        self.out = Path(out)
        self.fd = None
        self._recording = 0

    @contextlib.contextmanager
    def recording(self):
        """Byte 2: the marker's lock, held exclusive (waited for) while a process reads,
        records into and rewrites :data:`RUN_MARKER` and moves the files it recorded into
        place, and while a starting run checks the files against it
        (:func:`_unrecorded`): processes of one study ending together would otherwise
        each rewrite the marker from the one they read, losing the other's records, and a
        run starting meanwhile would find a file just moved into place not yet recorded
        (and refuse it). Re-entrant; nothing without the hold."""
        import fcntl

        if self.fd is None or self._recording:
            self._recording += 1
            try:
                yield
            finally:
                self._recording -= 1
            return
        fcntl.lockf(self.fd, fcntl.LOCK_EX, 1, 2)
        self._recording = 1
        try:
            yield
        finally:
            self._recording = 0
            if self.fd is not None:
                fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, 2)

    def preparing(self, *, resume, overwrite, plan):
        """Context manager: the preparing lock, and the running lock taken (see above);
        UsageError when another process runs in the folder and this run is not a
        ``--resume``."""
        return self._preparing(resume=resume, overwrite=overwrite, plan=plan)

    @contextlib.contextmanager
    def _preparing(self, *, resume, overwrite, plan):
        import fcntl

        path = self.out / LOCK_FILE
        if path.is_symlink():  # planted: never follow it (the link only is removed)
            path.unlink()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        fcntl.lockf(self.fd, fcntl.LOCK_EX, 1, 0)
        try:
            if resume and not overwrite:
                fcntl.lockf(self.fd, fcntl.LOCK_SH, 1, 1)
            else:
                try:
                    fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1)
                except OSError:
                    raise self._busy(overwrite, plan) from None
                fcntl.lockf(self.fd, fcntl.LOCK_SH, 1, 1)  # (atomic: one process's lock)
            yield
        except BaseException:
            self.release()
            raise
        else:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, 0)

    def _busy(self, overwrite, plan):
        pid = self._holder_pid()
        who = f"process {pid}" if pid else "another process"
        if overwrite:
            return UsageError(
                f"--overwrite refused: {who} is running study {plan.study_name!r} (or "
                f"another study) in {self.out}; replacing it now would delete its work. "
                "Nothing was changed. Wait for it to end (or stop it) before --overwrite, or "
                "join it with --resume")
        return UsageError(
            f"{who} is running study {plan.study_name!r} (or another study) in {self.out}; "
            "nothing was changed. Start this one with --resume to join it (the same study "
            "file), or use another output folder (--out)")

    def _holder_pid(self):
        """Process id holding the running lock (``F_GETLK``), or None if unknown."""
        import fcntl
        import struct

        fmt = "@hhqqi"
        try:
            query = struct.pack(fmt, fcntl.F_WRLCK, os.SEEK_SET, 1, 1, 0)
            answer = fcntl.fcntl(self.fd, fcntl.F_GETLK, query + b"\0" * 8)
            kind, _, _, _, pid = struct.unpack(fmt, answer[:struct.calcsize(fmt)])
        except (OSError, struct.error):
            return None
        return pid if kind != fcntl.F_UNLCK and pid > 0 else None

    def release(self):
        """Give up the hold (closing the file drops its locks)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _other_studies(storage, plan):
    """Names of the studies of ``storage`` that are not this plan's (nor its nested
    searches', ``<study_name>-outer<k>``)."""
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return []
    import optuna

    from hpsearch.model_selection.store import make_storage

    ours = set(_study_names(plan))
    return [n for n in optuna.get_all_study_names(make_storage(storage))
            if n not in ours and not n.startswith(f"{plan.study_name}-outer")]


def _study_names(plan):
    """The study of the search and those of its nested searches (``evaluate``), one per
    outer split: ``<study_name>-outer<k>``."""
    from hpsearch.model_selection.nested import outer_study_name

    n_outer = len(plan.nested_fits) if plan.outer_cv is not None else 0
    return [plan.study_name, *(outer_study_name(plan.study_name, k) for k in range(n_outer))]


def kept_trials(plan):
    """Finished trials of the study and its nested searches (``evaluate``), or None when
    the store holds none of them."""
    counts = [finished_trials(plan.storage, name) for name in _study_names(plan)]
    return None if all(c is None for c in counts) else sum(c or 0 for c in counts)


def trials_in_progress(plan):
    """RUNNING trials of the study and its nested searches (candidates being fitted:
    ASHA keeps every candidate below the top rung open until the search ends, with its
    finished fits in the store), or None when unknown."""
    counts = [finished_trials(plan.storage, name, running=True)
              for name in _study_names(plan)]
    return None if all(c is None for c in counts) else sum(c or 0 for c in counts)


def finished_trials(storage, study_name, *, running=False):
    """Number of finished (complete or pruned) trials in the store, or None if unknown;
    ``running=True``: the RUNNING ones instead (candidates being fitted, by this
    study's other processes or by an interrupted one)."""
    try:
        import optuna

        from hpsearch.model_selection.store import make_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=study_name, storage=make_storage(storage))
        states = ((optuna.trial.TrialState.RUNNING,) if running else
                  (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
        return len(study.get_trials(deepcopy=False, states=states))
    except Exception:  # no store yet, or nothing was recorded before the interrupt
        return None


#: the local Dask cluster of ``backend: {name: dask}`` without a scheduler: in this process,
#: its dashboards on a free loopback port (Dask's default, ``:8787`` and a worker port on
#: every interface, showed the study to the network)
LOCAL_DASK = {"processes": False, "dashboard_address": "127.0.0.1:0",
              "worker_dashboard_address": "127.0.0.1:0"}


@contextlib.contextmanager
def _backend(spec):
    """joblib backend of the study (``dask`` connects to ``scheduler`` when given)."""
    if spec is None:
        yield
        return
    import joblib

    if spec.name != "dask":
        with joblib.parallel_config(backend=spec.name):
            yield
        return
    from distributed import Client

    try:
        client = Client(spec.scheduler) if spec.scheduler else Client(**LOCAL_DASK)
    except OSError as exc:  # unreachable scheduler: dask's connect timeout (30 s by default)
        raise RunFailed(
            f"backend.scheduler: cannot connect to the Dask scheduler at {spec.scheduler!r} "
            f"({exc}); start it with 'dask scheduler' and workers with 'dask worker "
            f"{spec.scheduler}', or remove 'scheduler' to run a local Dask cluster"
        ) from exc
    try:
        with joblib.parallel_config(backend="dask"):
            yield
    finally:
        client.close()


def _metric_key(search, plan):
    if getattr(search, "multimetric_", False):
        return plan.refit_metric or plan.study.scoring[0]
    return "score"


def _test_scores(plan, model):
    from sklearn.metrics import get_scorer

    scoring = plan.study.scoring
    if scoring is None:
        name = _default_metric(plan)
        return {name: float(model.score(plan.X_test, plan.y_test))}
    names = [scoring] if isinstance(scoring, str) else scoring
    return {n: float(get_scorer(n)(model, plan.X_test, plan.y_test)) for n in names}


def _plots(plan, cv_df, metric, out, model):
    from hpsearch import plots

    label = _metric_label(plan, metric)
    made = []
    with _writing(out / "plots" / "history.png") as path:
        made.append(("Search history", plots.search_history(cv_df, path, metric=metric,
                                                              label=label)))
    for name, dim in plan.space.items():
        log = bool(getattr(dim, "log", False))
        safe = report.short(name).replace("__", ".")
        with _writing(out / "plots" / f"param_{safe}.png") as path:
            made.append((f"Score vs {report.short(name)}", plots.param_effect(
                cv_df, name, path, metric=metric, log=log, label=label)))
    if model is not None:
        try:
            frame = plots.epoch_curves(model, plan.X_train, plan.y_train,
                                       classifier=plan.classifier, random_state=plan.study.seed)
        except Exception:  # a plot must never fail a finished run; fall back to history_
            frame = None
        if frame is not None:
            with _writing(out / "learning_curves.csv") as path:
                frame.to_csv(path)
        with _writing(out / "plots" / "learning_curves.png") as path:
            path = plots.learning_curves(model, path, frame=frame)
        if path is not None:
            made.append(("Learning curves of the best model", path))
    return [(title, str(Path(p).relative_to(out))) for title, p in made]


def _counts(cv):
    """Distinct candidates, rows of ``cv_results_``, rounds and pruned trials.

    Halving, Hyperband, ASHA and pruned Optuna searches give a candidate one row per round
    (budget): a candidate is a trial (Optuna) or ASHA's ``candidate`` number (two may draw
    the same parameters), else a parameter set within its bracket, as
    :func:`~hpsearch.model_selection.compare` and the diagnosis count them.
    """
    n_rows = len(cv["params"])
    counts = {"n_candidates": n_rows, "n_evaluations": n_rows, "n_rounds": 1, "n_pruned": 0}
    if "iter" not in cv:
        return counts
    ids = next((k for k in ("trial", "candidate") if k in cv), None)
    if ids is not None:
        keys = [int(t) for t in cv[ids]]
    else:
        brackets = cv["bracket"] if "bracket" in cv else [None] * n_rows
        keys = [(b, json.dumps(_jsonable(p), sort_keys=True))
                for b, p in zip(brackets, cv["params"])]
    rounds = cv["bracket"] if "bracket" in cv else [None] * n_rows
    counts["n_candidates"] = len(set(keys))
    counts["n_rounds"] = len(set(zip(rounds, (int(i) for i in cv["iter"]))))
    if "state" in cv:
        counts["n_pruned"] = len({k for k, st in zip(keys, cv["state"]) if st == "PRUNED"})
    return counts


def _recorded_errors(storage, study_name):
    """``(rows, errors)`` of a stored study: how many candidate rows it holds (failed
    ones too: a resume keeps them as they are) and the error of every recorded fit that
    failed; ``(0, [])`` when there is no such study."""
    try:
        import optuna

        from hpsearch.model_selection.store import make_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=study_name, storage=make_storage(storage))
        trials = study.get_trials(deepcopy=False)
    except Exception:  # no store yet, or no such study
        return 0, []
    rows, errors = set(), {}  # (row key, split) -> error: a fit is in its row and alone
    for trial in trials:
        for name, payload in trial.user_attrs.items():
            kind, _, rest = name.partition(":")
            if kind == "hpsearch_row" and isinstance(payload, dict):
                rows.add(rest)
                errors.update(((rest, i), e) for i, e in enumerate(payload.get("error") or []))
            elif kind == "hpsearch_fit" and isinstance(payload, dict):
                key, _, split = rest.rpartition(":")
                errors[(key, int(split) if split.isdigit() else split)] = payload.get("error")
    return len(rows), [e for e in errors.values() if e]


def _timed_out_note(plan, errors):
    """The note on fits of the resumed run stopped by a ``fit_timeout`` shorter than this
    run's: the search fits them again (``TrialStore.retry_timed_out``); a search that
    keeps them as failed fits (``_retries_timed_out`` False; none of hpsearch's) gets a
    warning."""
    from hpsearch.model_selection._engine import stopped_sooner, timed_out_limit

    now = getattr(plan.search, "fit_timeout", None)
    limits = [timed_out_limit(e) for e in errors if stopped_sooner(e, now)]
    if not limits:
        return None
    limit = "no fit_timeout" if now is None else f"fit_timeout={now:g}s"
    if getattr(plan.search, "_retries_timed_out", False):
        return (f"hpsearch: {len(limits)} fit(s) of the run being resumed stopped by a "
                f"shorter fit_timeout (at most {max(limits):g}s) will run again with {limit}")
    return (f"hpsearch: warning: {len(limits)} fit(s) of the run being resumed exceeded "
            f"fit_timeout={max(limits):g}s; a resume keeps them as failed fits and does not "
            f"fit them again with {limit}: use --overwrite to run every fit again")


def _check_resume(plan, source_text, echo):
    """Say when ``--resume`` has nothing to resume and how many fits stopped by a shorter
    ``fit_timeout`` run again, warn when the study file changed."""
    import sys

    kept = sum(finished_trials(plan.storage, name) or 0 for name in _study_names(plan))
    recorded = [_recorded_errors(plan.storage, name) for name in _study_names(plan)]
    failed_rows = sum(rows for rows, _ in recorded)
    if not (kept or failed_rows) and echo:
        running = sum(finished_trials(plan.storage, name, running=True) or 0
                      for name in _study_names(plan))
        if running:  # another process's (or an interrupted run's) candidates
            echo(f"resuming {plan.storage} (study {plan.study_name!r}): no finished "
                 f"candidate yet, {running} being fitted or interrupted")
        else:
            echo(f"nothing to resume in {plan.storage} (study {plan.study_name!r}): "
                 "starting a new run")
    note = _timed_out_note(plan, [e for _, errors in recorded for e in errors])
    if note:
        print(note, file=sys.stderr)
    copy = plan.out / "study.yaml"
    if (kept or failed_rows) and copy.is_file() and _read_small(copy) != source_text:
        print(f"hpsearch: warning: the study file differs from {copy}, the copy of the run "
              "being resumed; finished candidates are kept as they are", file=sys.stderr)


#: the study keys each setting a stored study checks on resume comes from (the first is
#: named when the copy of the resumed run cannot tell which key changed)
_MISMATCH_KEYS = {
    "data": (("data",), ("seed",)),
    "cv": (("cv",), ("seed",), ("data",)),
    "estimator": (("estimator", "params"), ("estimator",), ("preprocessing",), ("seed",)),
    "scoring": (("scoring",),),
    "refit": (("refit",), ("scoring",)),
    "rungs": (("search", "rungs"), ("estimator", "params", "max_iter"), ("search", "pruner")),
    "pruner": (("search", "pruner"), ("search", "rungs")),
    "return_train_score": (("return_train_score",),),
    "random_state": (("seed",),),
    "search": (("search", "method"),),
    # the settings processes sharing one ASHA must agree on (asha._SHARED_SETTINGS)
    "param_distributions": (("search", "space"),),
    "n_trials": (("search", "n_trials"),),
    "resource": (("search", "resource"),),
    "factor": (("search", "factor"),),
    "n_resources": (("search", "min_resources"), ("search", "max_resources"),
                    ("search", "factor")),
}


def _changes(old, new, path=()):
    """Key paths (leaves) whose values differ between two YAML documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in dict.fromkeys([*old, *new])
                for c in _changes(old.get(k), new.get(k), (*path, k))]
    return [] if old == new else [path]


def _value_at(data, path):
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _started_elsewhere(exc):
    """Whether ``exc`` is the store's refusal to create a study that exists: created by
    another process between this run's check of the store and its search's start."""
    import optuna

    return any(isinstance(e, optuna.exceptions.DuplicatedStudyError)
               for e in exception_chain(exc))


def _changed_keys(copy_text, source_text, prefixes):
    """``(changed key paths under one of prefixes, old document, new document)`` between
    the copy of the resumed run's study file and this one; no paths when there is no copy
    or it cannot be read."""
    from .loader import read_yaml

    if copy_text is None:
        return [], None, None
    try:
        old, _ = read_yaml(copy_text, "study.yaml")
        new, _ = read_yaml(source_text, "study.yaml")
    except StudyError:  # an unreadable copy: name the setting's key only
        return [], None, None
    changed = [c for c in _changes(old, new) if any(c[:len(p)] == p for p in prefixes)]
    return changed, old, new


def _mismatch_error(exc, plan, copy_text, source_text):
    """The :class:`StudyError` for a resumed study whose store holds fits made with other
    data, splits or settings (:class:`~hpsearch.model_selection.store.StudyMismatch`):
    named by the study key that changed since the run being resumed (from the copy of its
    study file), with the recorded and the new value and how to go on."""
    prefixes = _MISMATCH_KEYS.get(exc.setting, ((exc.setting,),))
    changed, old, new = _changed_keys(copy_text, source_text, prefixes)
    how = (f"resume with the study file it ran on ({plan.out / 'study.yaml'}), or start "
           "another search: another study_name (and output folder), or --overwrite to "
           "replace this one")
    head = (f"the study {plan.study_name!r} in {plan.storage} holds fits made with another "
            f"{exc.setting}, which must not mix with this file's")
    if changed:
        key = changed[0]
        more = (f" (also changed: {', '.join('.'.join(map(str, c)) for c in changed[1:])})"
                if len(changed) > 1 else "")
        return StudyError(key, f"{head}: was {_value_at(old, key)!r}, got "
                          f"{_value_at(new, key)!r}{more}; {how}")
    return StudyError(prefixes[0], f"{head} ({exc}); {how}")


def run(plan, *, source_text, resume=False, overwrite=False, echo=print, output_key=None):
    """Fit the search of ``plan`` and write the output folder; returns the summary dict.

    The folder is prepared by :func:`prepare_output`: ``resume`` continues the trials of
    the store, ``overwrite`` replaces an earlier run (its files and its study); without
    either, an earlier run's trials or results are an error. ``output_key`` is
    ``("output",)`` when the folder comes from the study file (errors name the key).

    Raises
    ------
    StudyError
        From :func:`prepare_output`, before anything is written; a :class:`UsageError`
        also when another live process runs in the folder (``--overwrite``, or a run
        without ``--resume``) or, with ``overwrite``, runs the study in the store.
    KeyboardInterrupt
        Propagated after the trial store has kept every finished fit.
    RunFailed
        When every fit failed.
    """
    out = Path(plan.out)
    if not (out / RUN_MARKER).is_file():  # a new or empty folder, or one not hpsearch's:
        # refused before the folder (and its lock file) is made or touched
        _check_prepare(plan, resume=resume, overwrite=overwrite, key=output_key,
                       source_text=source_text)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # /proc/x, a read-only file system: before any work
            raise _refuse(f"the output folder {out} cannot be made: "
                          f"{exc.strerror or exc}", output_key) from exc
        if not (out / RUN_MARKER).is_file():
            _write_marker(out, first=True)
    elif overwrite:  # refused before the lock file is made (checked again, held, there)
        check_output(out, output_key)
        _refuse_foreign(out, _sort_own(out, plan.storage)[1], output_key)
    elif _marker_data(out) is not None:  # the same, for a run or --resume
        _refuse_unrecorded(out, output_key, resume, source_text)
    hold = _FolderHold(out)
    try:
        with hold.preparing(resume=resume, overwrite=overwrite, plan=plan), hold.recording():
            kept = []
            removed = prepare_output(plan, resume=resume, overwrite=overwrite, key=output_key,
                                     kept=kept, source_text=source_text)
            if overwrite and echo:
                echo(f"--overwrite: starting over in {out}/ ({len(removed)} file(s) of the "
                     f"earlier run removed; study {plan.study_name!r} replaced)")
            if kept and echo:
                echo(f"--overwrite: kept {len(kept)} file(s) no run of hpsearch recorded "
                     f"writing: {', '.join(kept)}")
            if resume:
                _check_resume(plan, source_text, echo)
            copy = out / "study.yaml"
            # a resumed run keeps the copy of the file its fits were made with until the
            # search accepts the new file (a refused resume leaves it as it was)
            copy_text = _read_small(copy) if resume and copy.is_file() else None
            if copy_text is None:
                _write_copy(out, source_text)
        nested, fit_time = _fit(plan, copy_text, source_text, echo)
        if copy_text is not None and copy_text != source_text:
            with hold.recording():
                _write_copy(out, source_text)
        return _write_output(plan, fit_time, nested, echo, hold)
    finally:
        hold.release()


def _write_copy(out, source_text):
    """Write the copy ``study.yaml`` of the study file, recorded in the marker first."""
    import hashlib

    digest = hashlib.sha256(source_text.encode("utf-8")).hexdigest()
    _write_marker(out, {"study.yaml": digest})
    _replace_text(out / "study.yaml", source_text)


def _fit(plan, copy_text, source_text, echo):
    """Fit the search (and the nested CV of ``evaluate``): ``(nested, fit seconds)``. A
    store holding another search's fits, or a study another process created meanwhile,
    is a :class:`StudyError` / :class:`UsageError` saying how to go on."""
    from hpsearch.model_selection.store import StudyMismatch

    fit_kw = {"groups": plan.groups} if plan.groups is not None else {}
    try:
        nested = _nested(plan, echo) if plan.outer_cv is not None else None
        t0 = time.perf_counter()
        with _backend(plan.backend):
            plan.search.fit(plan.X_train, plan.y_train, **fit_kw)
    except StudyMismatch as exc:
        raise _mismatch_error(exc, plan, copy_text, source_text) from exc
    except ValueError as exc:
        if _started_elsewhere(exc):
            raise UsageError(
                f"the trial store {plan.storage} already holds study {plan.study_name!r}: "
                "another process started this study at the same time; this one changed "
                "nothing. Start every process with --resume to run one search together, "
                "or use --overwrite to replace it") from exc
        raise
    return nested, time.perf_counter() - t0


def _write_output(plan, fit_time, nested, echo, hold=None):
    """Write the output files into a private folder and move them into the run folder
    (:func:`_record_and_publish`: the marker recording them first); returns the summary
    dict. ``hold``: the run's :class:`_FolderHold` (its marker lock is held while
    recording and publishing)."""
    out = plan.out
    stage = _new_stage(out)
    try:
        summary, _ = _write_results(plan, plan.search, stage, out, fit_time, nested, echo)
    except RunFailed:  # results.csv shows the errors
        _record_and_publish(plan, stage, hold)
        raise
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        _name_final(exc, stage, out)
        raise
    _record_and_publish(plan, stage, hold)
    return summary


def _record_and_publish(plan, stage, hold=None):
    """Record the files of ``stage`` (their content hashes) and the default trial store
    in the marker, then move them into the run folder (:func:`_publish`): a marker that
    cannot be written (a full disk) leaves no file in place that a later ``--overwrite``
    would not know as hpsearch's. Done holding the marker's lock
    (:meth:`_FolderHold.recording`) when ``hold`` is given."""
    with hold.recording() if hold is not None else contextlib.nullcontext():
        _record_and_publish_held(plan, stage)


def _record_and_publish_held(plan, stage):
    """:func:`_record_and_publish`, the marker's lock held (or no hold)."""
    out = Path(plan.out)
    records = {p.relative_to(stage).as_posix(): _sha256(p)
               for p in stage.rglob("*") if p.is_file()}
    if _default_db(out, plan.storage) and (out / "study.db").is_file():
        records["study.db"] = _sha256(out / "study.db")
    try:
        _write_marker(out, {n: h for n, h in records.items() if h})
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _publish(stage, out)


#: prefix of the private folder a run writes its output files into before moving them
#: into the run folder
STAGE_PREFIX = ".hpsearch-writing-"


def _name_final(exc, stage, out):
    """An OSError about a file of ``stage`` names its place in the run folder instead
    (a full disk: "cannot write <out>/model.joblib")."""
    name = getattr(exc, "filename", None)
    if isinstance(exc, OSError) and name and Path(name).is_relative_to(stage):
        exc.filename = str(out / Path(name).relative_to(stage))


def _new_stage(out):
    """A private folder in ``out`` for this process's output files (see :func:`_publish`)."""
    stage = Path(out) / f"{STAGE_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    return stage


def _publish(stage, out):
    """Move every file written in ``stage`` to the same place in ``out`` (``os.replace``:
    atomic, a symbolic link at the target is replaced, never followed), then remove
    ``stage``. Several processes of one study (a shared ASHA resumed as N processes) end
    at about the same time and each writes the output files: written in place, two
    writers truncating and writing one file at once could leave it torn; this way a
    reader, and the folder after the last writer, sees whole files only.

    A subfolder (``plots/``) is opened without following a link (``O_NOFOLLOW``) and the
    files are moved relative to that open folder: a link put in its place during the
    search (``plots -> /elsewhere``, after :func:`_drop_links`) is removed, not followed."""
    out_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    folders = {(): out_fd}
    try:
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            parts = path.relative_to(stage).parts
            for n in range(1, len(parts)):
                if parts[:n] not in folders:
                    folders[parts[:n]] = _own_subfolder(folders[parts[:n - 1]], parts[n - 1])
            os.replace(path, parts[-1], dst_dir_fd=folders[parts[:-1]])
    finally:
        for fd in folders.values():
            os.close(fd)
    shutil.rmtree(stage, ignore_errors=True)


def _own_subfolder(parent_fd, name):
    """The folder ``name`` of the open folder ``parent_fd``, opened (a file descriptor),
    made if missing; a symbolic link or file standing there is removed first (the link
    only: what it names is left alone)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        os.mkdir(name, dir_fd=parent_fd)
    except FileExistsError:
        try:
            return os.open(name, flags, dir_fd=parent_fd)
        except OSError as exc:  # ELOOP: a link, ENOTDIR: a file
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
        os.unlink(name, dir_fd=parent_fd)
        os.mkdir(name, dir_fd=parent_fd)
    return os.open(name, flags, dir_fd=parent_fd)


def _replace_text(path, text):
    """Write ``text`` to ``path`` through a temporary file in its folder and
    ``os.replace`` (no reader sees a half-written file)."""
    tmp = path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a full disk refuses the write, not the open: no file named
        if exc.filename is None or exc.filename == str(tmp):
            exc.filename, exc.filename2 = str(path), None
        raise
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _writing(path):
    """Name ``path`` in an OSError raised while writing it that names no file: a full
    disk refuses a write, not the open, and joblib, pandas and matplotlib let the
    error through as it is ("disk full: cannot write runs/s", the run folder only).
    (:func:`_name_final` then names its place in the run folder.)"""
    try:
        yield path
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def _write_results(plan, search, out, final, fit_time, nested, echo):
    """Write the output files into ``out`` (the run's staging folder; ``final`` is the
    run folder they are moved to): ``(summary, files written)``."""
    import joblib
    import pandas as pd

    cv = search.cv_results_
    cv_df = pd.DataFrame(cv)
    metric = _metric_key(search, plan)
    means = np.asarray(cv[f"mean_test_{metric}"], dtype=float)
    tidy = search.results_frame() if hasattr(search, "results_frame") else None
    if tidy is None:
        from hpsearch.model_selection._results import results_frame

        tidy = results_frame(cv)
    if "error" in tidy:  # each (candidate, split) row: its own split's error only
        tidy["error"] = [_split_error(e, k) for e, k in zip(tidy["error"], tidy["split"])]
    with _writing(out / "results.csv") as path:
        tidy.to_csv(path, index=False)
    with _writing(out / "cv_results.csv") as path:
        cv_df.assign(params=[json.dumps(_jsonable(p)) for p in cv["params"]]).to_csv(
            path, index=False)
    counts = _fit_counts(tidy)
    n_failed = counts["n_failed"]
    if not np.isfinite(means).any():
        first = tidy["error"].dropna().iloc[0] if n_failed else "no finite score"
        last = str(first).strip().splitlines()[-1] if first else "?"
        if n_failed == len(tidy):
            what = f"every fit failed ({n_failed} errors"
        elif n_failed:
            what = (f"no candidate has a mean score, each has a failed fit ({n_failed} of "
                    f"{len(tidy)} fits failed")
        else:  # r2 of a leave-one-out split's one row...
            what = (f"no candidate has a finite mean score, though no fit failed: the metric "
                    f"is undefined on these splits ({len(tidy)} fits")
        raise RunFailed(f"{what}, see {final / 'results.csv'})"
                        + (f"; first error: {last}" if n_failed else ""))

    best = _best_index(search, cv, metric)
    best_params = dict(cv["params"][best])
    model = getattr(search, "best_estimator_", None)
    test_scores = None
    if model is not None:
        with _writing(out / "model.joblib") as path:
            joblib.dump(model, path)
        test_scores = _test_scores(plan, model)
    with _writing(out / "best_params.json") as path:
        path.write_text(json.dumps(_jsonable(best_params), indent=2) + "\n")
    summary = {
        "study": plan.name,
        "method": plan.study.search.method,
        "estimator": plan.study.estimator.name,
        "metric": _metric_label(plan, metric),
        "metric_key": metric,
        "best_score": float(means[best]),
        "best_std": float(cv[f"std_test_{metric}"][best]),
        "best_params": best_params,
        "test_scores": test_scores,
        **_counts(cv),
        "resource": _resource_unit(search),
        "best_budget": _best_budget(cv, best),
        "n_splits": plan.n_splits,
        **counts,
        "n_fits_run": (search._n_fits_run if _resumed(search)  # a --resume: this run's
                       else counts["n_fits"]),
        "n_train": int(len(plan.y_train)),
        "n_test": int(len(plan.y_test)),
        "cv": repr(plan.cv),
        "fit_time_s": fit_time,
        "backend": getattr(search, "backend_", None),
        "storage": plan.storage,
        "study_name": plan.study_name,
        "smoke": plan.smoke,
    }
    if nested is not None:
        summary["nested"] = nested
    stages = report.recipe_stages(search)
    if stages is not None:  # the recipe search: its stages and why each ended
        summary["stages"] = stages
    if "diagnosis" in cv:  # the recipe's verdict on the best (train scores were kept)
        summary["best_diagnosis"] = str(cv["diagnosis"][best])
    with _writing(out / "summary.json") as path:
        path.write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    plot_files = _plots(plan, cv_df, metric, out, model)
    sections, section_files = _sections(plan, search, cv, metric, out, model, echo)
    if stages is not None:
        sections.insert(0, report.stages_section(stages, summary["metric"],
                                                 getattr(search, "train_floor_", None)))
    if nested is not None:
        sections.insert(0, report.nested_section(nested, summary["metric"]))
    with _writing(out / "report.md") as path:
        report.write_report(path, plan, summary, cv_df, plot_files, sections)
    written = [*(f for f in OUTPUT_FILES if f != "study.db"), *(p for _, p in plot_files),
               *section_files]
    if (out / "learning_curves.csv").is_file():
        written.append("learning_curves.csv")
    summary["text"] = report.summary_text(plan, summary, cv_df)
    return summary, [f for f in written if (out / f).is_file()]


def _fit_counts(tidy):
    """How the (candidate, split) rows of ``results.csv`` ended: ``n_fits`` (fitted:
    a score or an error), ``n_failed`` (an error; not a split the search's ``timeout``
    left unrun), ``n_raced`` (no score, no error: racing stopped its candidate first) and
    ``n_not_run`` (the search's ``timeout`` came first)."""
    from hpsearch.model_selection._engine import NOT_RUN

    errors = tidy["error"] if "error" in tidy else [None] * len(tidy)
    has_error = np.array([isinstance(e, str) for e in errors], dtype=bool)
    not_run = np.array([isinstance(e, str) and NOT_RUN in e for e in errors], dtype=bool)
    tests = [c for c in tidy.columns if str(c).startswith("test_")]
    scored = (tidy[tests].notna().any(axis=1).to_numpy() if tests
              else np.zeros(len(tidy), dtype=bool))
    failed = has_error & ~not_run
    return {"n_fits": int(((scored & ~not_run) | failed).sum()), "n_failed": int(failed.sum()),
            "n_raced": int((~scored & ~has_error).sum()), "n_not_run": int(not_run.sum())}


#: the head of one split's part of a candidate's error (``_results.row_error``)
_SPLIT_HEAD = re.compile(r"^split (\d+):\n", re.M)


def _split_error(text, split):
    """The part of a candidate's error text about one ``split`` (``row_error`` writes a
    ``split k:`` section per failed split), None when that split did not fail; a text
    without sections is the whole candidate's."""
    if not isinstance(text, str):
        return None
    heads = list(_SPLIT_HEAD.finditer(text))
    if not heads:
        return text
    for head, after in zip(heads, [*heads[1:], None]):
        if int(head.group(1)) == split:
            return text[head.end():after.start() - 1 if after else len(text)]
    return None


def _best_budget(cv, best):
    """The budget (``n_resources``) the best row was scored at, or None."""
    try:
        budget = float(cv["n_resources"][best]) if "n_resources" in cv else math.nan
    except (TypeError, ValueError):  # budgets that are no numbers
        return None
    return int(budget) if math.isfinite(budget) else None


def _best_index(search, cv, metric):
    """The search's best row: its ``best_index_``, or (several metrics and ``refit:
    false``, where a search sets none) the row it would pick by ``metric``: the search's
    own rule (``_select_best_index``: rank 1, the largest budget of halving / Hyperband /
    ASHA, a complete candidate before a raced one, an accepted recipe candidate), never
    the highest mean over all rows (an early halving round's row)."""
    if hasattr(search, "best_index_"):
        return int(search.best_index_)
    return int(search._select_best_index(metric, metric, cv))


def _nested(plan, echo):
    """Nested cross-validation of the study's search (``evaluate``) on the training rows:
    :func:`~hpsearch.model_selection.nested_cross_validate`: with fork workers (Linux,
    ``n_jobs > 1``, no ``backend``) every outer split's search at once through one pool of
    the study's ``n_jobs`` workers, else the outer splits one after the other; each inner
    search is its own study ``<study_name>-outer<k>`` in the trial store (``--resume``
    continues each, fitting only what is missing)."""
    from hpsearch.model_selection.nested import nested_cross_validate

    if echo:
        echo(f"nested cross-validation: {len(plan.nested_fits)} outer splits "
             f"({plan.outer_cv!r}), then the final search")
    t0 = time.perf_counter()
    with _backend(plan.backend):
        result = nested_cross_validate(plan.search, plan.X_train, plan.y_train,
                                       cv=plan.outer_cv, groups=plan.groups,
                                       return_searches=True)
    return {
        "outer_cv": repr(plan.outer_cv),
        "inner_cv": repr(plan.cv),
        "test_scores": result.test_score.tolist(),
        "mean": result.mean_test_score,
        "std": result.std_test_score,
        "inner_best_scores": result.inner_best_score.tolist(),
        "mean_inner_best": float(np.mean(result.inner_best_score)),
        "mean_optimism": result.mean_optimism,
        "best_params": result.best_params,
        "n_train": result.n_train.tolist(),
        "n_test": result.n_test.tolist(),
        "n_fits": _nested_fits(result.searches),
        "n_fits_run": _nested_fits(result.searches, run=True),
        "fit_time_s": time.perf_counter() - t0,
        "engine": result.engine,
        "n_workers": result.n_workers,
    }


def _nested_fits(searches, run=False):
    """Fits the inner searches ran (:func:`_fit_counts`: a raced or pruned split, one the
    timeout left unrun, is no fit), plus one refit each; the plan's count was shown, with
    the fits racing skipped. ``run``: only the fits of this run (a ``--resume`` finds the
    others in the trial store; the search's ``_n_fits_run``), plus the refits."""
    from hpsearch.model_selection._results import results_frame

    def count(search):
        if run and _resumed(search):
            return search._n_fits_run
        return _fit_counts(results_frame(search.cv_results_))["n_fits"]

    return int(sum(count(s) for s in searches) + len(searches))


def _resumed(search):
    """Whether ``search`` resumed a stored study and counted the fits it ran itself
    (``_n_fits_run``: the others were found in the store)."""
    return bool(getattr(search, "resume", False)) and hasattr(search, "_n_fits_run")


def _how_sure(search, cv, metric, out, label=None):
    from hpsearch import plots
    from hpsearch.model_selection import compare

    frame = compare(search, metric, top=5, alternative="greater")
    if len(frame) < 2:
        return None, []
    rope, rope_text = report.practical_rope(label or metric, frame["mean_test"].iloc[0])
    if rope != frame.attrs["rope"]:  # a loss: 1 % of the best's mean (practical_rope)
        frame = compare(search, metric, top=5, alternative="greater", rope=rope)
    rel = "plots/how_sure.png"
    with _writing(out / rel) as path:
        plots.comparison(cv, frame, path, label=label)
    return report.how_sure_section(frame, rel, rope_text=rope_text), [rel]


def _diagnosis(plan, search, cv, metric, out, model):
    """The report's "Diagnosis" section: the search's own labels and references (its
    ``diagnosis_``), the best model's gradient flow, and the gradient flow of the
    candidate that trains worst when the recipe calls it a training problem."""
    from hpsearch.diagnostics import report_section

    diagnosis = getattr(search, "diagnosis_", None)
    refs = getattr(diagnosis, "references", None)
    # a recipe search's own rule (its thresholds and the m*_tr of its floor): the section
    # recounted its labels with the defaults and the best of all candidates
    recipe = hasattr(search, "train_floor_") and diagnosis is not None
    text = report_section(cv, out, best_model=model, metric=metric, references=refs,
                          label=_metric_label(plan, metric),
                          thresholds=search.thresholds if recipe else None,
                          best_train=diagnosis.evidence.get("unit_train") if recipe else None,
                          diagnosis=diagnosis if recipe else None)
    made = [p for p in ("plots/recipe_map.png", "plots/gradient_flow.png")
            if (out / p).is_file()]
    extra = _worst_training_flow(plan, cv, metric, out)
    if extra:
        text += "\n" + extra[0]
        made.append(extra[1])
    return text, made


def _worst_training_row(cv, metric):
    """The row with the lowest mean training score among those diagnosed ``"training"``,
    or None. With budgets (halving, Hyperband, ASHA, a pruned Optuna search) only rows at
    the largest budget count: the candidate is refit with the estimator's own (full)
    training, and a row of an early round (one epoch of a pruned trial) trains poorly
    because of its budget, not its parameters."""
    labels = cv.get("diagnosis")
    train = cv.get(f"mean_train_{metric}")
    if labels is None or train is None:
        return None
    rows = np.arange(len(labels))
    budgets = cv.get("n_resources")
    if budgets is not None:
        try:
            budgets = np.asarray(budgets, dtype=float)
            rows = rows[budgets == np.nanmax(budgets)]
        except (TypeError, ValueError):  # budgets without an order
            pass
    poor = [i for i in rows if labels[i] == "training" and np.isfinite(train[i])]
    return int(min(poor, key=lambda i: train[i])) if poor else None


def _worst_training_flow(plan, cv, metric, out):
    """(Markdown, plot) of the gradient flow of the candidate with the lowest training
    score among those diagnosed ``"training"`` (refit on the training rows, one thread),
    or None: no such candidate, or an estimator that records no gradients."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from hpsearch.diagnostics import gradient_flow

    worst = _worst_training_row(cv, metric)
    if worst is None:
        return None
    train = cv[f"mean_train_{metric}"]
    rel = "plots/gradient_flow_diagnosed.png"
    estimator = clone(plan.search.estimator).set_params(**cv["params"][worst])
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(plan.X_train, plan.y_train)
    title = "Gradient flow of the candidate that trains worst"
    with _writing(out / rel) as path:
        if gradient_flow(estimator, path, title=title) is None:
            return None
    at = f", n_resources={report.fmt(cv['n_resources'][worst])}" if "n_resources" in cv else ""
    name = _metric_label(plan, metric)
    return (f"### {title}\n\nDiagnosed a training problem (mean training {name} "
            f"{train[worst]:.4g}{at}): {report._params_text(cv['params'][worst])}.\n\n"
            f"![{title}]({rel})\n"), rel


#: a grid study with at most this many candidates gets them side by side in its report
#: (a grid compares a few chosen values, as the lecture's studies do)
SIDE_BY_SIDE_MAX = 9


def _side_by_side(plan, cv, out):
    """The "Candidates side by side" section of a small study of hpsearch MLPs: every
    candidate refit on the training rows (one BLAS thread each), its loss curve, its
    weights and learned activation slopes in one figure (:func:`hpsearch.plots.
    candidates`), so a lecture claim about curves or weights shows in the report."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from hpsearch import plots
    from hpsearch.mlp import MLPClassifier, MLPRegressor

    params = cv["params"]
    final = plots._final_step(plan.search.estimator)
    if not (plan.study.search.method == "grid" and 1 < len(params) <= SIDE_BY_SIDE_MAX
            and isinstance(final, (MLPClassifier, MLPRegressor))):
        return None, []
    models = {}
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in params:
            label = report._params_text(p) or "default"
            try:
                models[label] = clone(plan.search.estimator).set_params(**p).fit(
                    plan.X_train, plan.y_train)
            except Exception:  # noqa: BLE001 - a candidate that fails is left out
                continue
    rel = "plots/candidates.png"
    with _writing(out / rel) as path:
        if plots.candidates(models, path) is None:
            return None, []
    text = ("## Candidates side by side\n\nEvery candidate refit on the training rows: its "
            "training loss per epoch, the distribution of its weights (the share below 0.01 "
            "in the legend) and, for PReLU, its learned slopes.\n\n"
            f"![Candidates side by side]({rel})\n")
    return text, [rel]


def _sections(plan, search, cv, metric, out, model, echo):
    """The report's analysis sections, each optional: a section that cannot be computed
    (a custom splitter of unknown split sizes, one candidate) is left out with a note,
    never failing a finished run."""
    sections, files = [], []
    label = _metric_label(plan, metric)
    for name, make in (("How sure is this?", lambda: _how_sure(search, cv, metric, out, label)),
                       ("Diagnosis", lambda: _diagnosis(plan, search, cv, metric, out, model)),
                       ("Candidates side by side", lambda: _side_by_side(plan, cv, out))):
        try:
            text, made = make()
        except Exception as exc:  # noqa: BLE001 - an analysis must never fail the run
            if echo:
                echo(f"note: report section {name!r} left out: {type(exc).__name__}: {exc}")
            continue
        if text:
            sections.append(text)
            files += made
    return sections, files


def _resource_unit(search):
    """What ``n_resources`` counts (None for searches without rounds)."""
    from .budget import RESOURCE_UNITS

    if hasattr(search, "plan_rounds"):
        return RESOURCE_UNITS.get(search.resource, search.resource)
    return "epochs" if getattr(search, "rungs_", None) else None


def _metric_label(plan, metric):
    """The metric's name for a reader: ``metric`` (a ``cv_results_`` key), or for the
    single-metric key ``"score"`` the study's scoring (else the estimator's own score)."""
    return metric if metric != "score" else (plan.refit_metric or _default_metric(plan))


def _default_metric(plan):
    """Name of the estimator's own ``score``: accuracy (classifiers) or r2 (regressors)."""
    return "accuracy" if plan.classifier else "r2"
