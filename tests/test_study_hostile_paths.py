"""Where a stranger's study file may make hpsearch write (third hostile pass).

Holes found, each now refused before any work with exit code 2 and a message naming the
key, the rule and the value:

* a storage URL was checked as text, while SQLAlchemy decides which file it opens:
  ``sqlite+pysqlite:////abs/evil.db`` (a driver in the scheme), ``sqlite:///%2Fabs%2Fevil.db``
  and ``sqlite:///..%2Fevil.db`` (percent-escapes), ``sqlite://x//abs/evil.db`` (a host
  part) all created a database outside the working directory;
* a server or scheduler host was "this machine" when it merely started with ``127.``
  (``127.0.0.1.example.com`` is a DNS name resolved anywhere);
* a path key (``output``, ``storage``, ``data.path``, ``--out``) holding a NUL character or
  a name longer than the file system's 255 bytes ended as "run failed: ValueError:
  embedded null byte" / "OSError: File name too long" (exit 1), naming no key;
* a symbolic link put in place of the run folder's ``plots/`` while the search ran (after
  the links found when the run started were removed) was followed when the results were
  moved into place: the figures were written into the folder it named;
* a run folder path through a folder not made yet (``--out new/..``, ``output: new/..``,
  or the default ``runs/<name>`` of a study file named ``...yaml``: ``runs/..``) passed the
  check that an existing folder be empty or hpsearch's (it did not exist yet) and was the
  working directory once made: the run wrote its files there, over the user's own
  ``study.yaml`` or ``report.md``; ``..yaml`` made ``runs`` itself the run folder;
* a journal store's lock link naming no file (``j.log.lock -> /nonexistent``, shipped
  next to ``storage: j.log``) made Optuna's lock spin forever, one core busy;
* files of a run folder shipped with a study file were read whole: a sparse marker, copy of
  the study file or journal store of many gigabytes used up the memory, a copy of other
  bytes than UTF-8 ended ``--resume`` with "run failed: UnicodeDecodeError";
* a compressed ``data.path`` was decompressed into memory whatever it expanded to: a
  11 MB ``.csv.gz`` of 2.5 GB took 2.7 GB of memory (10 MB of 10 GB: the machine's);
* a run folder where a file hpsearch writes was a folder or a pipe (``summary.json/``)
  failed the run with "IsADirectoryError" after the whole search (exit 1);
* a full disk refusing the marker written after the results named the run folder only
  ("disk full: cannot write runs/s");
* a storage named ``j.log`` or ``sqlite:///j.db`` that is a symbolic link to an empty
  ``pkg/__init__.py`` inside the working directory passed the rule on storage file names
  (checked on the link's name): the journal or database was written into the Python file;
  the data file name rule likewise: ``data.csv -> ~/.env`` was read and its first line
  shown as the column names of an error ("columns: API_KEY=...");
* a study file name or ``--out`` of bytes that are not UTF-8 (``s\\xff.yaml``, ``--out
  o\\xff``) failed the run with "UnicodeEncodeError" once the trial store or the report
  was written (exit 1); so did a study file name with a newline, whose study name broke
  the rule on ``study_name`` (printable);
* the first marker of a new run folder was written in place after a check that it did
  not exist: a link put there in between (``.hpsearch-run -> /elsewhere``) was followed,
  the file it named truncated and overwritten.
"""


import errno
import gzip
import os
import signal
import tracemalloc

import pytest
from _study_files import GRID_STUDY

from hpsearch.cli import main


def _run(tmp_path, monkeypatch, capsys, extra, *args, base=GRID_STUDY):
    """The CLI on the study ``base`` plus ``extra`` in ``tmp_path / "cwd"`` (its working
    directory): ``(exit code, stderr)``."""
    (tmp_path / "cwd").mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path / "cwd")
    (tmp_path / "cwd" / "s.yaml").write_text(base + extra)
    code = main(["s.yaml", "--quiet", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("url, rule", [
    ("sqlite+pysqlite:///{abs}", "a storage file must be inside the working directory"),
    ("sqlite:///{escaped}", "a storage file must be inside the working directory"),
    ("sqlite:///..%2Fevil.db", "a storage file must be inside the working directory"),
    ("sqlite://x/{abs}", "a SQLite URL names a file and no host"),
    ("SQLite:///in.db", "not a kind of database SQLAlchemy knows"),
])
def test_a_storage_url_is_read_as_sqlalchemy_reads_it(tmp_path, monkeypatch, capsys, url,
                                                       rule):
    evil = tmp_path / "evil.db"
    url = url.format(abs=evil, escaped=str(evil).replace("/", "%2F"))
    code, err = _run(tmp_path, monkeypatch, capsys, f"storage: '{url}'\n")
    assert code == 2, err
    assert f"storage: {rule}" in err and repr(url) in err and "--storage" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd"]  # no evil.db
    assert sorted(p.name for p in (tmp_path / "cwd").iterdir()) == ["s.yaml"]


@pytest.mark.parametrize("extra, key", [
    ("storage: 'postgresql://u@127.0.0.1.example.com/db'\n", "storage"),
    ("backend: {name: dask, scheduler: 'tcp://127.0.0.1.example.com:8786'}\n",
     "backend.scheduler"),
])
def test_a_host_named_like_a_loopback_address_is_not_this_machine(tmp_path, monkeypatch,
                                                                  capsys, extra, key):
    code, err = _run(tmp_path, monkeypatch, capsys, extra)
    assert code == 2, err
    assert f"{key}: a " in err and "must be on this machine" in err, err
    assert "not '127.0.0.1.example.com'" in err, err


@pytest.mark.parametrize("extra, args, expected", [
    ('output: "o\\0ut"\n', (), "output: a path may not hold a NUL character"),
    ('storage: "x\\0.db"\n', (), "storage: a path may not hold a NUL character"),
    (f"output: {'a' * 300}\n", (), "output: a folder or file name may have at most 255 bytes"),
    ("", ("--out", "b" * 300), "--out: a folder or file name may have at most 255 bytes"),
])
def test_a_path_no_system_call_takes_names_its_key(tmp_path, monkeypatch, capsys, extra,
                                                   args, expected):
    code, err = _run(tmp_path, monkeypatch, capsys, extra, *args)
    assert code == 2, err
    assert expected in err and "run failed" not in err, err
    assert sorted(p.name for p in (tmp_path / "cwd").iterdir()) == ["s.yaml"]



@pytest.mark.parametrize("planted", ["link", "file"])
def test_results_moved_into_place_do_not_follow_a_link_planted_as_plots(tmp_path, planted):
    """What the run folder holds when the results are moved into it (:func:`_publish`) is
    whatever was put there while the search ran: a ``plots`` link made then (after the
    links found at the start were removed) sent the figures into the folder it named."""
    from hpsearch.study.run_folder import _new_stage, _publish

    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.mkdir()
    stage = _new_stage(out)
    (stage / "plots").mkdir()
    (stage / "plots" / "history.png").write_bytes(b"png")
    (stage / "report.md").write_text("report")
    if planted == "link":
        (out / "plots").symlink_to(victim, target_is_directory=True)
    else:
        (out / "plots").write_text("not a folder")
    _publish(stage, out)
    assert list(victim.iterdir()) == []
    assert not (out / "plots").is_symlink()
    assert (out / "plots" / "history.png").read_bytes() == b"png"
    assert sorted(p.name for p in out.iterdir()) == ["plots", "report.md"]


@pytest.mark.parametrize("name, extra, args, expected", [
    ("...yaml", "", (), "'...yaml' gives '..', which names no folder of its own"),
    ("..yaml", "", (), "'..yaml' gives '.', which names no folder of its own"),
    ("s.yaml", "", ("--out", "new/.."), "--out: new/.. exists and is not an hpsearch run"),
    ("s.yaml", "output: new/..\n", (), "output: new/.. exists and is not an hpsearch run"),
])
def test_a_run_folder_through_a_folder_not_made_yet_is_checked_as_made(
        tmp_path, monkeypatch, capsys, name, extra, args, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "study.yaml").write_text("my own study")
    (tmp_path / name).write_text(GRID_STUDY + extra)
    code = main([name, "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and expected in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "study.yaml"])
    assert (tmp_path / "study.yaml").read_text() == "my own study"


def test_a_journal_lock_link_naming_no_file_does_not_hang_the_store(tmp_path, monkeypatch):
    import optuna

    from hpsearch.model_selection.store import make_storage

    def hung(signum, frame):
        raise TimeoutError("the journal's lock was never acquired")

    monkeypatch.chdir(tmp_path)
    os.symlink(tmp_path / "gone" / "x", tmp_path / "j.log.lock")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)  # the old code spun in Optuna's lock forever
    try:
        study = optuna.create_study(storage=make_storage("j.log"), study_name="s")
        study.enqueue_trial({"x": 0.5})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert len(study.get_trials()) == 1
    assert not os.path.lexists(tmp_path / "j.log.lock")


def _peak_bytes(call):
    """``(result of call(), the most memory Python allocated during it)``."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_huge_sparse_file_in_a_run_folder_is_not_read_whole(tmp_path):
    from hpsearch.study.run_folder import RUN_MARKER, _manifest, _not_a_store

    big = 64 * 2**20  # sparse: no disk used; the old code read it all
    for name in (RUN_MARKER, "store.jsonl"):
        with open(tmp_path / name, "wb") as f:
            f.truncate(big)
    files, peak = _peak_bytes(lambda: _manifest(tmp_path))
    assert files == [] and peak < big / 8, peak
    why, peak = _peak_bytes(lambda: _not_a_store(tmp_path / "store.jsonl"))
    assert why == "is neither a SQLite database nor an Optuna journal" and peak < big / 8, peak


def test_a_run_folder_copy_of_other_bytes_than_utf8_is_replaced_on_resume(
        tmp_path, monkeypatch, capsys):
    out = tmp_path / "cwd" / "runs" / "s"
    out.mkdir(parents=True)
    (out / ".hpsearch-run").write_text('{"files": []}\n')
    (out / "study.yaml").write_bytes(b"\xff\xfe not text")
    code, err = _run(tmp_path, monkeypatch, capsys, "", "--resume")
    assert code == 0, err
    assert (out / "study.yaml").read_text() == GRID_STUDY


def test_a_compressed_data_file_expanding_past_the_limit_is_refused(tmp_path, monkeypatch,
                                                                     capsys):
    from hpsearch.study import limits

    monkeypatch.setattr(limits, "MAX_EXPANDED_FLOOR", 10_000, raising=False)  # not 1 GiB
    rng = __import__("numpy").random.default_rng(0)
    (tmp_path / "cwd").mkdir()
    rows = "".join(f"{a:.6f},{b:.6f},{int(a > b)}\n" for a, b in rng.random((300, 2)))
    with gzip.open(tmp_path / "cwd" / "real.csv.gz", "wt") as f:  # ~3 times smaller
        f.write("a,b,y\n" + rows)
    with gzip.open(tmp_path / "cwd" / "bomb.csv.gz", "wt") as f:  # ~1,000 times smaller
        f.write("a,b,y\n" + "0,0,0\n" * 100_000)
    study = GRID_STUDY.replace("{dataset: iris}", "{path: %s, target: y}")
    code, err = _run(tmp_path, monkeypatch, capsys, "", "--dry-run",
                     base=study % "real.csv.gz")
    assert code == 0, err
    (tmp_path / "cwd" / "s.yaml").unlink()
    code, err = _run(tmp_path, monkeypatch, capsys, "", "--dry-run",
                     base=study % "bomb.csv.gz")
    assert code == 2, err
    assert "data.path: the compressed file expands to more than " in err, err
    assert "(the limit: 100 times its size, at least 10,000 bytes" in err, err
    assert "got 'bomb.csv.gz'" in err, err


@pytest.mark.parametrize("name, kind", [("summary.json", "folder"), ("plots/history.png",
                                                                     "folder"),
                                        (".hpsearch-lock", "pipe")])
def test_a_run_folder_holding_a_folder_or_pipe_where_a_result_goes_is_refused_first(
        tmp_path, monkeypatch, capsys, name, kind):
    out = tmp_path / "cwd" / "runs" / "s"
    (out / "plots").mkdir(parents=True)
    (out / ".hpsearch-run").write_text('{"files": []}\n')
    if kind == "folder":
        (out / name).mkdir()
    else:
        os.mkfifo(out / name)
    code, err = _run(tmp_path, monkeypatch, capsys, "", "--resume")
    assert code == 2, err
    what = "a folder" if kind == "folder" else "not a regular file"
    assert f"runs/s/{name} is {what}, where hpsearch writes its own file" in err, err
    assert not (out / "study.yaml").exists() and not (out / "study.db").exists()


def test_a_full_disk_refusing_a_replaced_file_names_that_file(tmp_path, monkeypatch):
    from hpsearch.cli import _explain
    from hpsearch.study import run_folder

    def full(self, *args, **kwargs):  # as a full disk: the write fails, not the open
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_folder.Path, "write_text", full)
    with pytest.raises(OSError) as info:
        run_folder._replace_text(tmp_path / ".hpsearch-run", "{}")
    assert _explain(info.value, None) == (
        f"disk full: cannot write {tmp_path / '.hpsearch-run'} (No space left on device)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("storage, link", [("j.log", "j.log"), ("sqlite:///j.db", "j.db")])
def test_a_storage_link_to_a_file_of_another_name_is_refused(tmp_path, monkeypatch, capsys,
                                                             storage, link):
    package = tmp_path / "cwd" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (tmp_path / "cwd" / link).symlink_to("pkg/__init__.py")
    code, err = _run(tmp_path, monkeypatch, capsys, f"storage: '{storage}'\n")
    assert code == 2, err
    assert "storage: a storage file must be named *.db" in err, err
    assert f"(a link to {package / '__init__.py'})" in err, err
    assert (package / "__init__.py").read_bytes() == b""


def test_a_data_file_link_to_a_file_of_another_name_is_not_read(tmp_path, monkeypatch,
                                                                 capsys):
    secret = tmp_path / ".env"
    secret.write_text("API_KEY=s3cret\n")
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "data.csv").symlink_to(secret)
    study = GRID_STUDY.replace("{dataset: iris}", "{path: data.csv, target: y}")
    code, err = _run(tmp_path, monkeypatch, capsys, "", "--dry-run", base=study)
    assert code == 2, err
    assert "data.path: must be a CSV or Parquet file" in err and "a link to" in err, err
    assert "s3cret" not in err


@pytest.mark.parametrize("name, args, expected", [
    ("s\udcff.yaml", (), "'s\\udcff.yaml' is no printable text"),
    ("a\nb.yaml", (), "'a\\nb.yaml' is no printable text"),
    ("s.yaml", ("--out", "o\udcff"), "--out: a path must be UTF-8 text"),
])
def test_a_name_no_output_file_can_hold_is_refused_first(tmp_path, monkeypatch, capsys, name,
                                                         args, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(GRID_STUDY)
    code = main([name, "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and expected in err, err
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_the_first_marker_does_not_follow_a_link_put_there_after_the_check(tmp_path):
    from hpsearch.study.run_folder import RUN_MARKER, _write_marker

    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / RUN_MARKER).symlink_to(victim)  # as if planted between the check and the write
    _write_marker(out, first=True)
    assert victim.read_text() == "precious" and (out / RUN_MARKER).is_symlink()
    (out / RUN_MARKER).unlink()
    _write_marker(out, first=True)
    assert '"files": []' in (out / RUN_MARKER).read_text()
