"""The run folder of ``python -m hpsearch study.yaml``: its layout, and how it is kept safe.

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

A run opens its folder once (:func:`_open_folder`) and writes into it relative to that open
folder: the marker, the copy of the study file, the lock file and the results moved into
place; before each write (and each result file written into the private folder) it checks
that the path of the run folder still leads to the folder it opened
(:func:`_check_folder`). A run folder renamed away while the run is going, a symbolic link
to another folder put in its place, ends the run with :class:`FolderReplaced` naming the
folder: nothing is written into the folder the link names.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from .errors import StudyError, UsageError
from .limits import MAX_FILE_BYTES, inside
from .trial_store import (_delete_study, _local_file, _other_studies, _refuse_foreign_study,
                          _refuse_live_holder, _study_names, stored_trials)

OUTPUT_FILES = (
    "study.yaml", "study.db", "results.csv", "cv_results.csv", "best_params.json",
    "model.joblib", "summary.json", "report.md",
)

#: marks a folder as an hpsearch run folder; lists the files hpsearch wrote there
RUN_MARKER = ".hpsearch-run"

#: files SQLite itself may leave next to ``study.db``
_SQLITE_SIDE_FILES = ("study.db-journal", "study.db-wal", "study.db-shm")


def _refuse(message, key, option=None):
    """A refusal naming the study key it comes from (``output``, ``storage``), else a usage
    error (naming the command-line ``option`` it comes from, ``--out`` or ``--storage``,
    if any)."""
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


def _not_writable(path, folder=True):
    """Whether this process may not write ``path`` (a folder: make and replace files in
    it), by the file's mode and the file system (``os.access``: read-only mounts too)."""
    return not os.access(path, os.W_OK | (os.X_OK if folder else 0))


def check_writable(out, key=None, option=None, storage=None):
    """Refuse (exit code 2), before any data is read or fit run, an output folder this
    process cannot write: one that is read-only (or on a read-only file system), the
    folder it would be made in, when read-only, and in an existing run folder the files
    and folders a run writes into in place (the default trial store ``study.db``, the
    lock file, ``plots/``). Was: a read-only existing folder failed with "run failed:
    PermissionError: ... '.hpsearch-run'" (exit 1), a read-only run folder resumed with
    "... '.hpsearch-lock'" (exit 1), ``--out`` into a read-only folder said "the output
    folder ... cannot be made" once the data was read, naming no setting; a run folder
    whose ``study.db`` alone was read-only failed at the store's first write.
    ``key`` / ``option``: as :func:`check_output`; neither: the default ``runs/<name>``.
    Nothing is made or changed."""
    out = Path(out)
    where = ("set --out (or output: in the study file) to a folder you can write"
             if not key and not option else "choose another output folder")
    if out.is_dir():
        blocked = [out] if _not_writable(out) else []
        if not blocked:
            names = [LOCK_FILE, *_SQLITE_SIDE_FILES] + (
                ["study.db"] if storage is None or _default_db(out, storage) else [])
            blocked = [out / n for n in names
                       if (out / n).is_file() and not (out / n).is_symlink()
                       and _not_writable(out / n, folder=False)]
            plots = out / "plots"
            if plots.is_dir() and not plots.is_symlink() and _not_writable(plots):
                blocked.append(plots)
        if blocked:
            what = ("it is" if blocked == [out] else
                    f"{', '.join(map(str, blocked))} {'is' if len(blocked) == 1 else 'are'}")
            raise _refuse(
                f"cannot write the output folder {out}: {what} read-only for this user (or on a "
                "read-only file system); nothing was changed: make it writable, or "
                f"{where}", key, option)
        return
    above = next((p for p in out.parents if p.exists()), None)
    if above is not None and above.is_dir() and _not_writable(above):
        raise _refuse(
            f"cannot make the output folder {out}: {above} is read-only for this user (or "
            f"on a read-only file system); nothing was made: {where}", key, option)


def _check_written_names(real, out, key, option):
    """Refuse a run folder where a file hpsearch writes is a folder, a pipe or a device:
    the run failed on it ("IsADirectoryError") only when moving its results into place,
    after the whole search. So is one where ``plots``, the folder of its figures, is a
    file (a pipe, a device): moving the figures into place removed it without a word."""
    names = (*OUTPUT_FILES, LOCK_FILE, "learning_curves.csv")
    plots = real / "plots"
    if os.path.lexists(plots) and not plots.is_symlink() and not plots.is_dir():
        raise _refuse(f"{out / 'plots'} is not a folder, where hpsearch writes its figures "
                      "(plots/*.png); nothing was changed: move it away, or choose another "
                      "output folder (--out)", key, option)
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
    empty ``__init__.py`` became a database). So is one with another name (a hard link:
    SQLite wrote its tables into the user's own database of that other name), and a
    symbolic link at a name of SQLite's files next to it (``study.db-journal``: the run
    failed, "cannot open the trial store: its directory does not exist or is not
    writable") or a file there with another name (SQLite wrote its journal into it)."""
    db = Path(out) / "study.db"
    if not _default_db(out, storage):
        return
    if db.is_symlink():
        raise UsageError(
            f"{db} is a symbolic link (to {os.readlink(db)}); the default trial store is a "
            "file of the run folder and hpsearch does not follow a link there: remove the "
            "link, or name the store with --storage")
    names = db.stat().st_nlink if db.is_file() else 1
    if names > 1:
        raise UsageError(
            f"{db} is a file with {names} names (hard links), and SQLite would write into "
            "the file of the other names too; the default trial store is a file of the run "
            "folder only, and nothing was changed: make it a file of its own (copy it, then "
            "move the copy over it), or name the store with --storage")
    for name in _SQLITE_SIDE_FILES:
        side = Path(out) / name
        if side.is_symlink():
            raise UsageError(
                f"{side} is a symbolic link (to {os.readlink(side)}), where SQLite keeps a "
                f"file of the trial store {db}, and hpsearch does not follow a link there; "
                "nothing was changed: remove the link, or name the store with --storage")
        names = side.stat().st_nlink if side.is_file() else 1
        if names > 1:  # SQLite writes its journal into it: the other name's file
            raise UsageError(
                f"{side} is a file with {names} names (hard links), where SQLite keeps a "
                f"file of the trial store {db} and would write into the file of the other "
                "names; nothing was changed: remove this name, or name the store with "
                "--storage")


def guard_store(plan, hold):
    """Context manager: while in it, every opening and every use of the trial store
    ``plan.storage`` first checks that the run folder's path still leads to the folder
    ``hold`` opened (:func:`_check_folder`), when the store is a file of the run folder
    (``study.db``, or a journal there): SQLite and Optuna's journal open their files by
    path, so a run folder renamed away during the search, and a link to another folder
    put in its place, made them create ``study.db`` (or the journal) in that folder, or
    write into its own. The run ends instead with :class:`FolderReplaced` (exit 1), its
    finished fits kept in the store of the folder renamed away."""
    from hpsearch.model_selection.store import guard_storage

    path = _local_file(plan.storage)
    out = Path(plan.out)
    if path is None or str(path) in ("", ":memory:") or not inside(path.resolve(), out):
        return contextlib.nullcontext()
    in_folder = path.resolve().parent == out.resolve()
    names = (path.name, *(f"{path.name}{s}" for s in ("-journal", "-wal", "-shm")
                          if path.suffix not in (".log", ".jsonl")))

    def check():
        _check_folder(out, hold.dir_fd)
        if in_folder:
            for name in names:
                _check_store_file(out, name, hold.dir_fd)

    return guard_storage(plan.storage, check)


def _check_store_file(out, name, dir_fd):
    """Refuse (:class:`FolderReplaced`) to use the trial store while its file ``name`` (or
    a file SQLite keeps next to it) of the open run folder ``dir_fd`` is a symbolic link
    or a file with other names (hard links), put there during the run: SQLite opening
    it anew followed the link (Optuna wrote its tables and the study into the user's
    database the link named, exit 0), or wrote its journal into the other name's file.
    (Found at the start of a run, they are refused: :func:`_check_store_link`.)"""
    import stat

    try:
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(found.st_mode):
        what = f"a symbolic link (to {os.readlink(name, dir_fd=dir_fd)})"
    elif found.st_nlink > 1:
        what = f"a file with {found.st_nlink} names (hard links)"
    else:
        return
    raise FolderReplaced(
        f"{Path(out) / name}, a file of the trial store, became {what} while the run was "
        "going; hpsearch does not open the store through it, and wrote nothing into what "
        "it names. The finished fits are kept in the trial store: put its file back and "
        "resume with --resume")


def _default_db(out, storage):
    path = _local_file(storage)
    return path is not None and path.resolve() == (Path(out) / "study.db").resolve()


def check_storage_dir(storage, key=None, option=None):
    """Refuse a storage file whose directory does not exist, naming both (and ``key``,
    ``("storage",)``, when the storage comes from the study file, ``option``,
    ``"--storage"``, when from the command line)."""
    path = _local_file(storage)
    if path is not None and str(path) not in ("", ":memory:") and not path.parent.is_dir():
        raise _refuse(f"cannot open the trial store {storage}: directory "
                      f"{path.parent} does not exist", key, option)


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


def _not_a_file(path):
    """What the existing ``path`` (links followed) is when it is not a regular file (a
    folder, a named pipe, a device, a socket), or None."""
    import stat

    mode = path.stat().st_mode
    for test, what in ((stat.S_ISREG, None), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


def check_storage_file(storage, key=None, option=None):
    """Refuse a storage file that exists and is not a trial store (a log file, a text
    file): hpsearch would append its journal to it, or fail on it with the database's
    own words. ``key``: ``("storage",)`` when the storage comes from the study file;
    ``option``: ``"--storage"`` when from the command line (named in the error).

    So is one that is not a regular file: a named pipe hung the run for good once the
    search opened its journal (SIGTERM did not end it: the open never returned), and a
    pipe or a device named as a SQLite file failed it after the data was read with "disk
    I/O error ... free space". And one with other names (hard links), when the study file
    names it or when it is empty: the store was written into the file of the other names
    too (``x.db``, a hard link to an empty ``pkg/__init__.py``, made that a database),
    past the rule that a study file's store be a file of the working directory."""
    path = _local_file(storage)
    if path is None or str(path) in ("", ":memory:"):
        return
    # a folder at SQLite's journal (x.db-journal/): "cannot open the trial store x.db: its
    # directory does not exist or is not writable", exit 1 once the data was read
    sides = () if path.suffix in (".log", ".jsonl") else (
        Path(f"{path}{s}") for s in ("-journal", "-wal", "-shm"))
    for side in sides:
        what = _not_a_file(side) if side.exists() else None
        if what:
            raise _refuse(f"{side} exists and is {what}, where SQLite keeps a file of the "
                          f"trial store {path}; nothing was changed: remove it, or choose "
                          f"another storage, got {storage!r}", key, option)
    if not path.exists():
        return
    what = _not_a_file(path)
    if what:
        raise _refuse(f"{path} exists and is {what}, not a file: a trial store is a SQLite "
                      f"database or an Optuna journal; choose another storage, got "
                      f"{storage!r}", key, option)
    found = path.stat()
    if found.st_nlink > 1 and (key or not found.st_size):
        raise _refuse(
            f"{path} is a file with {found.st_nlink} names (hard links), and the trial store "
            "would be written into the file of the other names too; nothing was changed: "
            + ("a study file's trial store is a file of its own (copy it, then move the copy "
               "over it), or name the store with --storage" if key else
               "make it a file of its own, or choose another storage")
            + f", got {storage!r}", key, option)
    why = _not_a_store(path) or (_foreign_database(path) if key else None)
    if why:
        raise _refuse(f"{path} exists and {why}; hpsearch writes only into its own trial "
                      f"stores: choose another storage, got {storage!r}", key, option)


def _foreign_database(path):
    """Why the SQLite database ``path``, named by a study file, is not a trial store, or
    None: one holding tables, none of them Optuna's (``studies``), is another program's
    (a web application's ``db.sqlite3``), and a stranger's study file naming it made
    Optuna add its twelve tables to it (exit 0). Read only; a database that cannot be
    read is left to the store's own error."""
    import sqlite3
    from urllib.parse import quote

    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            return None
    try:
        db = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in db.execute("select name from sqlite_master "
                                               "where type = 'table'")}
        finally:
            db.close()
    except sqlite3.Error:
        return None
    if not tables or "studies" in tables:
        return None
    return (f"is another program's SQLite database ({len(tables)} table(s), none of an "
            "Optuna trial store), which a study file may not add its tables to (--storage "
            "on the command line may)")

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


def _sha256(path, dir_fd=None):
    """SHA-256 hex digest of the plain file ``path`` (a link is not followed), or None.
    ``dir_fd``: the open folder ``path`` is relative to."""
    import hashlib
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a pipe, a device
            return None
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_marker(out, records=None, *, first=False, dir_fd=None):
    """Write :data:`RUN_MARKER`: the fingerprints (:func:`_records`) of the files of
    the run folder it holds already, for names still there, and ``records`` (``{name:
    sha256 hex}``) of the files this run writes, recorded before they are put in place
    (a write of the marker failing, a full disk, leaves no unrecorded file). ``first``:
    the marker of a new run folder, written in place (a temporary file next to it would
    make the folder, for a moment, a non-empty folder without a marker, which another
    process starting the same study refuses); later ones replace it whole
    (``os.replace``). ``dir_fd``: the run folder, open (:func:`_open_folder`): written
    relative to it, once :func:`_check_folder` found ``out`` still leads to it."""
    from hpsearch import __version__

    if dir_fd is not None:
        _check_folder(out, dir_fd)
    table = {} if first else {n: h for n, h in _records(out).items()
                              if os.path.lexists(out / n)}
    for name, digest in (records or {}).items():
        table[name] = [digest, *[h for h in table.get(name, []) if h != digest]][:_KEEP_HASHES]
    text = json.dumps({"hpsearch": __version__, "files": sorted(table),
                       "sha256": dict(sorted(table.items()))}, indent=1) + "\n"
    if not first:
        _replace_text(out / RUN_MARKER, text, dir_fd=dir_fd)
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
    # and the files of names a run writes that no run wrote there (a user's own
    # plots/param_weights.png, the run now searching weights): written over, unlisted
    names += [n for n in _unrecorded(out) if n not in names]
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
                   source_text=None, dir_fd=None):
    """Make (or reuse) the run folder; never replace finished work without ``overwrite``,
    and with it remove only hpsearch's own files (and the study of that name).

    ``kept``: a list, extended with the files of hpsearch's names that ``overwrite``
    left because no run recorded writing them (those a run does not replace, else the
    overwrite is refused, see :func:`_refuse_foreign`). ``source_text``: the study file
    the run copies to ``study.yaml`` (a copy holding it is not at risk: :func:`_unrecorded`).
    ``dir_fd``: the run folder, open (:func:`_open_folder`): nothing is changed unless
    ``plan.out`` still leads to it (:func:`_check_folder`).

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
    if dir_fd is not None:
        _check_folder(out, dir_fd)
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
    _write_marker(out, dir_fd=dir_fd)
    return removed


def _check_prepare(plan, *, resume=False, overwrite=False, key=None, source_text=None):
    """The refusals of :func:`prepare_output`, which change nothing (see there)."""
    out, storage = Path(plan.out), plan.storage
    check_output(out, key)
    _check_store_link(out, storage)
    if not overwrite and (out / RUN_MARKER).is_file():
        _refuse_unrecorded(out, key, resume, source_text)
    # the key of the study file only when the store comes from it: --storage naming the
    # same file was refused as "storage: ..." (and, another program's database, with
    # "--storage on the command line may", the very option given)
    option_of_store = "--storage" if getattr(plan, "storage_option", False) else None
    key_of_store = (("storage",) if storage == plan.study.storage and not option_of_store
                    else None)
    store = _local_file(storage)
    if store is not None and str(store) not in ("", ":memory:") and (
            store.resolve() == out.resolve() or store.resolve() in out.resolve().parents):
        # (output: o.db, storage: o.db: the run made the folder o.db, then failed on it)
        raise _refuse(f"the trial store {store} is the output folder {out} or a folder "
                      "above it, and a file cannot be both; nothing was changed: name "
                      f"another storage, got {storage!r}", key_of_store, option_of_store)
    if not _default_db(out, storage):
        check_storage_dir(storage, key_of_store, option_of_store)
    check_storage_file(storage, key_of_store, option_of_store)
    kept = sum(stored_trials(storage, name) for name in _study_names(plan))
    earlier = [p.name for p in _own_files(out, storage)
               if p.name not in ("study.yaml", "study.db", *_SQLITE_SIDE_FILES)]
    if not (resume or overwrite) and (kept or earlier):
        what = (f"the trial store {storage} already holds {kept} trial(s) of study "
                f"{plan.study_name!r}" + (" or its nested searches" if plan.outer_cv is not None
                                          else "") if kept else f"{out} holds the results of an earlier run")
        raise UsageError(f"{what}; nothing was changed. Use --resume to continue it, or "
                         "--overwrite to replace it (only hpsearch's own files are removed)")
    if resume and not overwrite and kept:
        _refuse_smaller_budget(plan)
    if resume and not overwrite and earlier and not kept:  # it would start a new run
        raise UsageError(
            f"{out} holds the results of an earlier run, but the trial store {storage} holds "
            f"no trial of study {plan.study_name!r} to continue (the run folder of another "
            "study, or another store); nothing was changed. Use another output folder "
            "(--out), or --overwrite to replace it")
    if overwrite:
        _refuse_foreign(out, _sort_own(out, storage)[1], key)
        _refuse_live_holder(plan)
        _refuse_foreign_study(plan)

#: the study key counting the candidates of a search method, when a resumed study may
#: hold more of them than the search reports (``_budget_param`` of its class)
_BUDGET_KEYS = {"random": "n_iter", "optuna": "n_trials", "asha": "n_trials",
                "halving": "n_candidates", "recipe": "n_iter"}
# (halving: an int n_candidates, its candidates in all; "exhaust" follows the data and is
# left to the search's own warning after the run, as Hyperband's min/max_resources and a
# recipe that asks fewer than its most. The recipe asks at most n_iter per stage, 2
# stages: more finished candidates than that in the store are certainly left out.)


def _refuse_smaller_budget(plan):
    """Refuse ``--resume`` with a smaller ``search.n_iter`` / ``search.n_trials`` /
    ``search.n_candidates`` (halving, an int) than the finished candidates of the store
    (the recipe: ``n_iter`` per stage) (the study file changed between the runs): the
    search reports at most that many of them, and the run would replace the folder's
    results (best_params.json, model.joblib, report.md) with theirs, the store's best
    possibly left out. Was: silent, the best candidate of the store missing from the
    report. Nothing is changed; raising the key costs no fit (finished candidates are
    read back). With ``--smoke`` (its budget of 2 candidates) the refusal names it: a
    smoke resume of a full run's folder replaced its results with those of 2 candidates."""
    from hpsearch.model_selection._base import stored_beyond_budget
    from hpsearch.model_selection.store import make_storage

    method = plan.study.search.method
    param = _BUDGET_KEYS.get(method)
    budget = getattr(plan.search, param, None) if param else None
    if not isinstance(budget, int) or isinstance(budget, bool):
        return
    stages = (3 if getattr(plan.search, "recheck", False) else 2) if method == "recipe" else 1
    most = budget * stages  # the candidates the search reports at most
    given = (f"the {most} candidates of {param}={budget} ({param} per stage, {stages} "
             "stages)" if stages > 1 else f"{param}={budget}")
    import optuna

    for name in _study_names(plan):
        try:
            study = optuna.load_study(study_name=name, storage=make_storage(plan.storage))
        except KeyError:  # (no such study: nothing of it to lose)
            continue
        n = stored_beyond_budget(study, most, slots=method == "optuna")
        if n is not None and plan.smoke:
            raise UsageError(
                f"--smoke --resume: the trial store {plan.storage} holds {n} finished "
                f"candidates of study {name!r}, more than the {most} of --smoke: the run "
                f"would replace the results of {plan.out} with those of {most} of them; "
                "nothing was changed. Resume without --smoke, or run --smoke with another "
                "output folder (--out)")
        if n is not None:
            raise StudyError(("search", param), (
                f"the trial store {plan.storage} holds {n} finished candidates of study "
                f"{name!r}, more than {given}: the resumed run would report at "
                f"most {most} of them and replace this run's results with theirs, the "
                f"best of the store possibly left out; nothing was changed. The other "
                f"{n - most} stay in the store: set {param} to {-(-n // stages)} or more "
                f"{'(the value of the run that drew them) ' if stages > 1 else ''}to include "
                "them (a resume fits no finished candidate again), or start over with "
                f"--overwrite, got {budget}"))


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
    study file. A refused run changes nothing in the folder.

    ``dir_fd``: the run folder, opened when the hold is taken (:func:`_open_folder`); the
    lock file is opened relative to it, and the run writes relative to it."""

    def __init__(self, out):
        self.out = Path(out)
        self.fd = None
        self.dir_fd = None
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

        self.dir_fd = _open_folder(self.out)
        try:
            if _is_link(LOCK_FILE, self.dir_fd):
                os.unlink(LOCK_FILE, dir_fd=self.dir_fd)  # planted: never followed
            self.fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644,
                              dir_fd=self.dir_fd)
        except BaseException:
            self.release()
            raise
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
        """Give up the hold (closing the file drops its locks) and close the folder."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None


def _write_copy(out, source_text, dir_fd=None):
    """Write the copy ``study.yaml`` of the study file, recorded in the marker first
    (``dir_fd``: the run folder, open, see :func:`_write_marker`)."""
    import hashlib

    digest = hashlib.sha256(source_text.encode("utf-8")).hexdigest()
    _write_marker(out, {"study.yaml": digest}, dir_fd=dir_fd)
    _replace_text(out / "study.yaml", source_text, dir_fd=dir_fd)


def _record_and_publish(plan, stage, hold=None):
    """Record the files of ``stage`` (their content hashes) and the default trial store
    in the marker, then move them into the run folder (:func:`_publish`): a marker that
    cannot be written (a full disk) leaves no file in place that a later ``--overwrite``
    would not know as hpsearch's. Done holding the marker's lock
    (:meth:`_FolderHold.recording`) when ``hold`` is given. Returns what :func:`_publish`
    returns (files found in place of a folder of the results, kept)."""
    with hold.recording() if hold is not None else contextlib.nullcontext():
        return _record_and_publish_held(plan, stage,
                                        hold.dir_fd if hold is not None else None)


def _record_and_publish_held(plan, stage, dir_fd=None):
    """:func:`_record_and_publish`, the marker's lock held (or no hold); ``dir_fd``: the
    run folder, open (:func:`_open_folder`), else it is opened by its path."""
    out = Path(plan.out)
    try:
        own = os.dup(dir_fd) if dir_fd is not None else _open_folder(out, follow=True)
    except BaseException:
        _remove_stage(stage, dir_fd)
        raise
    try:
        if dir_fd is not None:
            _check_folder(out, own)
        records = {name: _sha256(entry, dir_fd=at) for name, entry, at in _stage_files(stage, own)}
        if _default_db(out, plan.storage):  # (read in the open folder: a link is not followed)
            records["study.db"] = _sha256("study.db", dir_fd=own)
        _write_marker(out, {n: h for n, h in records.items() if h}, dir_fd=dir_fd)
    except BaseException:
        _remove_stage(stage, own)
        os.close(own)
        raise
    try:
        return _publish(stage, out, own)
    finally:
        os.close(own)


#: prefix of the private folder a run writes its output files into before moving them
#: into the run folder
STAGE_PREFIX = ".hpsearch-writing-"


def _name_final(exc, stage, out):
    """An OSError about a file of ``stage`` names its place in the run folder instead
    (a full disk: "cannot write <out>/model.joblib")."""
    name = getattr(exc, "filename", None)
    if isinstance(exc, OSError) and name and Path(name).is_relative_to(stage):
        exc.filename = str(out / Path(name).relative_to(stage))


def _new_stage(out, dir_fd=None):
    """A private folder in ``out`` for this process's output files (see :func:`_publish`);
    ``dir_fd``: the run folder, open (:func:`_open_folder`): made there, once ``out`` was
    found to still lead to it, and each file written into it by :func:`_writing` checked
    the same way (:data:`_STAGES`). Its path is absolute: pandas reads a path starting with
    ``~`` as the user's home folder (``output: ~/run``, a folder ``~`` of the working
    directory: "run failed: OSError: [Errno None] None: '~/run/results.csv'", after the
    whole search)."""
    stage = Path(os.path.abspath(out)) / f"{STAGE_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if dir_fd is None:
        stage.mkdir()
        return stage
    _check_folder(out, dir_fd)
    os.mkdir(stage.name, dir_fd=dir_fd)
    made = os.stat(stage.name, dir_fd=dir_fd, follow_symlinks=False)
    _STAGES[str(stage)] = (made.st_dev, made.st_ino, Path(out))
    return stage


#: the private folders :func:`_new_stage` made in an open run folder: ``{path: (st_dev,
#: st_ino, run folder)}``, checked before each file is written there (:func:`_writing`)
_STAGES = {}


def _stage_files(stage, dir_fd):
    """``(name relative to stage, file name, open folder holding it)`` of each plain file
    of ``stage``, the folder ``stage.name`` of the open run folder ``dir_fd`` (walked
    relative to it: a link is never followed)."""
    fd = os.open(Path(stage).name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        for top, _, files, top_fd in os.fwalk(".", dir_fd=fd):
            parts = Path(top).parts
            for name in sorted(files):
                if _is_file(name, top_fd):
                    yield "/".join((*parts, name)), name, top_fd
    finally:
        os.close(fd)


def _is_file(name, dir_fd):
    import stat

    try:
        return stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _is_link(name, dir_fd):
    import stat

    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _remove_stage(stage, dir_fd=None):
    """Remove the private folder ``stage`` (``dir_fd``: the open run folder holding it,
    removed relative to it: nothing outside it is touched)."""
    _STAGES.pop(str(stage), None)
    if dir_fd is None:
        shutil.rmtree(stage, ignore_errors=True)
        return
    with contextlib.suppress(OSError):
        fd = os.open(Path(stage).name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                     dir_fd=dir_fd)
        try:
            for _, folders, files, top_fd in os.fwalk(".", topdown=False, dir_fd=fd):
                for name in files:
                    os.unlink(name, dir_fd=top_fd)
                for name in folders:
                    os.rmdir(name, dir_fd=top_fd)
        finally:
            os.close(fd)
        os.rmdir(Path(stage).name, dir_fd=dir_fd)


class FolderReplaced(RuntimeError):
    """The run folder was renamed away, removed or replaced (a symbolic link to another
    folder put in its place) while the run was going (:func:`_check_folder`);
    ``deleted``: removed, with the files in it."""

    deleted = False


def folder_replaced_under(out, dir_fd):
    """The :class:`FolderReplaced` for the run folder ``out`` open as ``dir_fd`` when its
    path no longer leads to it (moved, deleted, replaced), else None."""
    if dir_fd is None:
        return None
    try:
        _check_folder(out, dir_fd)
    except FolderReplaced as exc:
        return exc
    return None


def _open_folder(out, follow=False):
    """The run folder ``out`` opened (a file descriptor) to write relative to: its path
    resolved once, and the folder itself not a link at that moment (``O_NOFOLLOW``).
    ``follow``: opened by its path as it is."""
    if follow:
        return os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    return os.open(os.path.realpath(out), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _check_folder(out, dir_fd):
    """Refuse (:class:`FolderReplaced`, naming the folder) to write on when the path
    ``out`` no longer leads to the open run folder ``dir_fd`` (its device and inode)."""
    held = os.fstat(dir_fd)
    try:
        now = os.stat(out)
    except OSError:
        now = None
    if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
        return
    raise _replaced(out, deleted=os.fstat(dir_fd).st_nlink == 0)  # (after the stat: a
    # folder removed between the two was said "moved or replaced")


def _replaced(out, deleted=False):
    """:class:`FolderReplaced` for the run folder ``out``; ``deleted``: the open folder
    itself was removed (no name leads to it any more), with the files in it."""
    if deleted:  # was "... put the run folder back and resume": nothing can be put back
        exc = FolderReplaced(
            f"the run folder {out} was deleted while the run was going; hpsearch wrote "
            "nothing into what that path names now. The fits it recorded in a trial store "
            "inside that folder (study.db, the default) were deleted with it: run the "
            "study again; a store elsewhere (--storage) keeps them for --resume")
        exc.deleted = True
        return exc
    if os.path.islink(out):
        what = f"a symbolic link to {os.readlink(out)}"
    elif os.path.isdir(out):
        what = "another folder"
    else:
        what = "gone"
    return FolderReplaced(
        f"the run folder {out} was moved or replaced while the run was going ({out} is now "
        f"{what}); hpsearch writes only into the folder it started in, and wrote nothing "
        "into what that path names now. The finished fits are kept in the trial store: put "
        "the run folder back and resume with --resume")


def _publish(stage, out, dir_fd=None):
    """Move every file written in ``stage`` to the same place in ``out`` (``os.replace``:
    atomic, a symbolic link at the target is replaced, never followed), then remove
    ``stage``. Several processes of one study (a shared ASHA resumed as N processes) end
    at about the same time and each writes the output files: written in place, two
    writers truncating and writing one file at once could leave it torn; this way a
    reader, and the folder after the last writer, sees whole files only.

    A subfolder (``plots/``) is opened without following a link (``O_NOFOLLOW``) and the
    files are moved relative to that open folder: a link put in its place during the
    search (``plots -> /elsewhere``, after :func:`_drop_links`) is removed, not followed.
    ``dir_fd``: the run folder, open (:func:`_open_folder`); else it is opened by its path.
    The files are taken from ``stage`` relative to it, and moved relative to it.

    Returns
    -------
    list of str
        Where each file found standing in place of a subfolder (a file ``plots`` put
        there during the search) was kept: moved into that folder, ``plots/plots``
        (:func:`_own_subfolder`)."""
    out_fd = os.dup(dir_fd) if dir_fd is not None else _open_folder(out, follow=True)
    folders, kept = {(): out_fd}, []
    try:
        for rel, name, at in _stage_files(stage, out_fd):
            parts = tuple(rel.split("/"))
            for n in range(1, len(parts)):
                if parts[:n] not in folders:
                    folders[parts[:n]] = _own_subfolder(folders[parts[:n - 1]], parts[n - 1],
                                                        kept, "/".join(parts[:n]))
            os.replace(name, parts[-1], src_dir_fd=at, dst_dir_fd=folders[parts[:-1]])
        _remove_stage(stage, out_fd)
    finally:
        for fd in folders.values():
            os.close(fd)
    return kept


def _own_subfolder(parent_fd, name, kept=None, rel=None):
    """The folder ``name`` of the open folder ``parent_fd``, opened (a file descriptor),
    made if missing. A symbolic link standing there is removed first (the link only: what
    it names is left alone); a file (a pipe, a device) standing there, put by its user
    while the run was going, is kept: moved into the new folder under its own name
    (``plots/plots``; was: removed), its place in the run folder appended to ``kept``
    (``rel``: the folder's path relative to the run folder)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        os.mkdir(name, dir_fd=parent_fd)
    except FileExistsError:
        try:
            return os.open(name, flags, dir_fd=parent_fd)
        except OSError as exc:  # ELOOP: a link, ENOTDIR: a file
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
        if _is_link(name, parent_fd):
            os.unlink(name, dir_fd=parent_fd)
            os.mkdir(name, dir_fd=parent_fd)
        else:
            _move_into_new_folder(parent_fd, name)
            if kept is not None:
                kept.append(f"{rel or name}/{name}")
    return os.open(name, flags, dir_fd=parent_fd)


def _move_into_new_folder(parent_fd, name):
    """Replace the file ``name`` of the open folder ``parent_fd`` by a new folder of
    that name holding it: the folder is made aside (a temporary name), the file moved
    into it, then the folder moved to ``name`` (``os.rename``: a file or a folder with
    files put at ``name`` meanwhile is not replaced, an error is raised)."""
    tmp = f".{name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    os.mkdir(tmp, dir_fd=parent_fd)
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    try:
        os.rename(name, name, src_dir_fd=parent_fd, dst_dir_fd=fd)
    except BaseException:
        os.close(fd)
        os.rmdir(tmp, dir_fd=parent_fd)
        raise
    os.close(fd)
    os.rename(tmp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)


def _replace_text(path, text, dir_fd=None):
    """Write ``text`` to ``path`` through a temporary file in its folder and
    ``os.replace`` (no reader sees a half-written file). ``dir_fd``: the open folder of
    ``path``, written relative to it (a link at the temporary name is not followed)."""
    if dir_fd is not None:
        _replace_text_at(path, text, dir_fd)
        return
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


def _replace_text_at(path, text, dir_fd):
    """:func:`_replace_text` relative to the open folder ``dir_fd`` of ``path``."""
    tmp = f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644,
                     dir_fd=dir_fd)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError as exc:  # a full disk refuses the write, not the open: no file named
        if exc.filename in (None, tmp):
            exc.filename, exc.filename2 = str(path), None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)


def _check_stage(path):
    """Refuse (:class:`FolderReplaced`) to write ``path`` in a private folder of
    :func:`_new_stage` that its path no longer leads to (the run folder replaced)."""
    for folder in Path(path).parents:
        made = _STAGES.get(str(folder))
        if made is None:
            continue
        try:
            now = os.stat(folder)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != made[:2]:
            raise _replaced(made[2])
        return


@contextlib.contextmanager
def _writing(path):
    """Name ``path`` in an OSError raised while writing it that names no file: a full
    disk refuses a write, not the open, and joblib, pandas and matplotlib let the
    error through as it is ("disk full: cannot write runs/s", the run folder only).
    (:func:`_name_final` then names its place in the run folder.) A file of a private
    folder of :func:`_new_stage` is written only while its path leads to that folder
    (:func:`_check_stage`)."""
    _check_stage(path)
    try:
        yield path
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise
