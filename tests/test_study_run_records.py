"""``--overwrite`` removes only what a run of hpsearch demonstrably wrote.

Hole found: a ``.hpsearch-run`` marker shipped by a stranger into one of the user's
folders (inside a downloaded archive, or next to a study file whose ``output:`` names that
folder) made it a run folder, and ``--overwrite`` removed the user's own files of
hpsearch's names there (``report.md``, ``results.csv``, ``summary.json``, ``plots/...``).
The marker now records the content hash (SHA-256) of each file a run writes, and a file
whose hash is not recorded for its name is not hpsearch's: ``--overwrite`` is refused,
naming it, and nothing is changed. A content hash survives copying the run folder.
"""
import json
import shutil

from _study_files import GRID_STUDY

from hpsearch.cli import main

USER_FILES = {"report.md": "my report", "results.csv": "a,b\n1,2\n", "summary.json": "{}",
              "study.yaml": "mine: 1\n", "plots/history.png": "my figure",
              "notes.txt": "notes"}


def _cli(tmp_path, monkeypatch, capsys, *args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY)
    code = main(["s.yaml", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _snapshot(folder):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file()}


def test_a_planted_marker_does_not_make_overwrite_remove_the_users_files(
        tmp_path, monkeypatch, capsys):
    mine = tmp_path / "mine"
    (mine / "plots").mkdir(parents=True)
    for name, text in USER_FILES.items():
        (mine / name).write_text(text)
    (mine / ".hpsearch-run").write_text(json.dumps(  # a stranger's: names, a made-up hash
        {"hpsearch": "0.1", "files": sorted(USER_FILES),
         "sha256": {"report.md": ["0" * 64]}}))
    before = _snapshot(mine)
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "mine",
                        "--overwrite")
    assert code == 2, err
    assert ("mine holds 5 file(s) of the names hpsearch writes that no run of hpsearch "
            "recorded writing there") in err, err
    for name in ("plots/history.png", "report.md", "results.csv", "study.yaml",
                 "summary.json"):
        assert name in err, err
    assert _snapshot(mine) == before


def test_a_marker_not_of_hpsearchs_format_is_refused(tmp_path, monkeypatch, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / ".hpsearch-run").write_text("[1, 2]\n")
    (mine / "report.md").write_text("my report")
    before = _snapshot(mine)
    for flags in ((), ("--resume",), ("--overwrite",)):
        code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "mine", *flags)
        assert code == 2, err
        assert "mine/.hpsearch-run is not the marker of an hpsearch run folder" in err, err
    assert _snapshot(mine) == before


def test_overwrite_of_a_copied_run_folder_removes_its_files_and_not_an_edited_one(
        tmp_path, monkeypatch, capsys):
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "a")
    assert code == 0, err
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # new inodes and times, same content
    copy = tmp_path / "b"
    written = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")
                     if p.is_file() and not p.name.startswith(".hpsearch-"))
    assert {"study.db", "study.yaml", "report.md", "plots/history.png"} <= set(written)
    (copy / "report.md").write_text("my notes on the run")  # edited: the user's now
    (copy / "notes.txt").write_text("mine")
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "b", "--overwrite")
    assert code == 2 and "b holds 1 file(s) of the names hpsearch writes" in err, err
    assert ": report.md; --overwrite removes only its own files" in err, err
    assert (copy / "results.csv").is_file()
    shutil.copy(tmp_path / "a" / "report.md", copy / "report.md")
    marker = json.loads((copy / ".hpsearch-run").read_text())
    marker["files"].append("plots/mine.png")  # listed, but no hash of it recorded
    (copy / ".hpsearch-run").write_text(json.dumps(marker))
    (copy / "plots" / "mine.png").write_text("my figure")
    code, out, err = _cli(tmp_path, monkeypatch, capsys, "--out", "b", "--overwrite")
    assert code == 0, err
    assert f"({len(written)} file(s) of the earlier run removed;" in out, out
    assert "kept 1 file(s) no run of hpsearch recorded writing: plots/mine.png" in out, out
    assert (copy / "plots" / "mine.png").read_text() == "my figure"
    assert (copy / "notes.txt").read_text() == "mine"
    assert (copy / "summary.json").is_file() and (copy / "plots" / "history.png").is_file()


def test_results_are_recorded_before_they_are_put_in_place(tmp_path, monkeypatch):
    """The marker listing the results was written after moving them into the run folder:
    a full disk refusing it left ``plots/*.png`` there that no marker recorded (a later
    ``--overwrite`` had to guess). Now the marker records them first, and a marker that
    cannot be written leaves none of them in place."""
    import errno
    from types import SimpleNamespace

    from hpsearch.study import run_folder

    out = tmp_path / "runs" / "s"
    out.mkdir(parents=True)
    run_folder._write_marker(out, first=True)
    stage = run_folder._new_stage(out)
    (stage / "plots").mkdir()
    (stage / "plots" / "history.png").write_bytes(b"png")
    (stage / "report.md").write_text("report")
    plan = SimpleNamespace(out=out, storage=f"sqlite:///{tmp_path / 'store.db'}")
    written = run_folder._write_marker

    def full_disk(folder, records=None, **kw):
        if records:
            raise OSError(errno.ENOSPC, "No space left on device", str(folder / ".hpsearch-run"))
        return written(folder, records, **kw)

    monkeypatch.setattr(run_folder, "_write_marker", full_disk)
    try:
        run_folder._record_and_publish(plan, stage)
    except OSError as exc:
        assert exc.filename.endswith(".hpsearch-run")
    else:
        raise AssertionError("the marker write did not fail")
    assert sorted(p.name for p in out.rglob("*")) == [".hpsearch-run"]
    monkeypatch.setattr(run_folder, "_write_marker", written)
    stage = run_folder._new_stage(out)
    (stage / "plots").mkdir()
    (stage / "plots" / "history.png").write_bytes(b"png")
    run_folder._record_and_publish(plan, stage)
    assert run_folder._records(out) == {
        "plots/history.png": [run_folder._sha256(out / "plots" / "history.png")]}


def test_a_planted_marker_and_store_do_not_make_a_run_or_resume_replace_the_users_files(
        tmp_path, monkeypatch, capsys):
    """A plain run, and ``--resume`` (a planted ``study.db`` holding a trial of the study),
    wrote their results over the user's own ``report.md``, ``study.yaml``,
    ``plots/history.png``... in a folder where a stranger planted a marker: refused,
    naming them, and nothing is changed."""
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "src")
    assert code == 0, err
    mine = tmp_path / "mine"
    (mine / "plots").mkdir(parents=True)
    for name, text in USER_FILES.items():
        (mine / name).write_text(text)
    shutil.copy(tmp_path / "src" / "study.db", mine / "study.db")  # the study's trials
    (mine / ".hpsearch-run").write_text(json.dumps(
        {"hpsearch": "0.1", "files": sorted(USER_FILES), "sha256": {}}))
    before = _snapshot(mine)
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "mine", "--resume")
    assert code == 2, err
    assert ("mine holds 5 file(s) of the names hpsearch writes that no run of hpsearch "
            "recorded writing there") in err, err
    assert "--resume would replace them and nothing was changed" in err, err
    for name in ("plots/history.png", "report.md", "results.csv", "study.yaml",
                 "summary.json"):
        assert name in err, err
    assert _snapshot(mine) == before
    # a plain run where only the copy of a study file and a figure have hpsearch's names
    for name in ("report.md", "results.csv", "summary.json", "study.db"):
        (mine / name).unlink()
    before = _snapshot(mine)
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "mine")
    assert code == 2, err
    assert "mine holds 2 file(s) of the names hpsearch writes that no run" in err, err
    assert "study.yaml, plots/history.png; a run would replace them" in err, err
    assert _snapshot(mine) == before
    # the run's own folder, copied: its files are recorded, and --resume goes on
    shutil.copytree(tmp_path / "src", tmp_path / "copy")
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "copy", "--resume")
    assert code == 0, err


def test_an_interrupted_run_folder_of_an_older_hpsearch_resumes(tmp_path, monkeypatch, capsys):
    """A run folder an older hpsearch left interrupted (its marker lists files but has no
    hashes; the copy of the study file and the store are there, no result yet) was
    refused by ``--resume``: its ``study.yaml`` was unrecorded. Replacing it by the same
    bytes harms nothing, so the resume goes on."""
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "old")
    assert code == 0, err
    old = tmp_path / "old"
    for path in old.rglob("*"):  # what an interrupted run keeps: copy, store, marker
        if path.is_file() and path.name not in ("study.yaml", "study.db", ".hpsearch-run"):
            path.unlink()
    (old / ".hpsearch-run").write_text(json.dumps({"hpsearch": "0.1",
                                                   "files": ["study.yaml"]}))
    code, _, err = _cli(tmp_path, monkeypatch, capsys, "--quiet", "--out", "old", "--resume")
    assert code == 0, err
    assert (old / "report.md").is_file()
