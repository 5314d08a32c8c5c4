"""The run folder swapped for a symbolic link while a run is going.

Hole found: a run opened nothing of its run folder; it wrote its results by path. Renaming
the run folder away during the search and putting a link to another folder in its place
made the run write its marker, ``report.md``, ``results.csv``, ``model.joblib`` and
``plots/`` into the folder the link named, replacing the user's ``report.md`` there
(exit 0). The run now opens its folder once and writes relative to it, checking before
each write that the path still leads to it: the run fails naming the folder, and nothing
is written into the link's target.
"""
import os

import pytest
from _study_files import GRID_STUDY

from hpsearch.cli import main


def _snapshot(folder):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("when", ["after the search", "while writing the results"])
def test_a_run_folder_swapped_for_a_link_writes_nothing_into_its_target(
        tmp_path, monkeypatch, capsys, when):
    from hpsearch.study import runner

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my report")
    (mine / "notes.txt").write_text("notes")
    before = _snapshot(mine)

    def swap():
        os.rename("out", "out.moved")
        os.symlink(mine, "out", target_is_directory=True)

    name = "_fit" if when == "after the search" else "_plots"
    step = getattr(runner, name)

    def swapped(*args, **kwargs):
        if name == "_fit":
            done = step(*args, **kwargs)
            swap()
            return done
        swap()
        return step(*args, **kwargs)

    monkeypatch.setattr(runner, name, swapped)
    code = main(["s.yaml", "--out", "out", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "the run folder out was moved or replaced while the run was going" in err, err
    assert f"a symbolic link to {mine}" in err, err
    assert _snapshot(mine) == before
    moved = tmp_path / "out.moved"  # the run folder itself: no staging folder left behind
    assert not [p.name for p in moved.iterdir() if p.name.startswith(".hpsearch-writing-")]
    assert (moved / ".hpsearch-run").is_file()


@pytest.mark.parametrize("when", ["before the search", "after its first fit"])
@pytest.mark.parametrize("store", ["study.db", "journal"])
def test_a_run_folder_swapped_during_the_search_keeps_the_store_out_of_its_target(
        tmp_path, monkeypatch, capsys, when, store):
    """The trial store of the run folder (``study.db``, or a journal there) was opened by
    its path: swapped for a link during the search, SQLite created ``study.db`` in the
    link's target, or wrote its tables into the user's own ``study.db`` there; the
    journal was appended to a ``j.log`` made there. Now each use of the store first
    checks the run folder: the run ends naming it (exit 1), nothing is written into the
    target, and put back, the run folder resumes."""
    import sqlite3

    from hpsearch.model_selection import store as store_module
    from hpsearch.study import runner

    monkeypatch.chdir(tmp_path)
    extra = "storage: out/j.log\n" if store == "journal" else ""
    (tmp_path / "s.yaml").write_text(GRID_STUDY + extra)
    (tmp_path / "out").mkdir()
    mine = tmp_path / "mine"
    mine.mkdir()
    with sqlite3.connect(mine / "study.db") as db:  # the user's own database
        db.execute("create table notes(t)")
    db.close()
    (mine / "j.log").write_text("")
    before = _snapshot(mine)

    def swap():
        os.rename("out", "out.moved")
        os.symlink(mine, "out", target_is_directory=True)

    if when == "before the search":
        fit = runner._fit
        monkeypatch.setattr(runner, "_fit", lambda *a, **k: (swap(), fit(*a, **k))[1])
    else:
        record_fit = store_module.TrialStore.record_fit

        def recording(self, *args, **kwargs):
            done = record_fit(self, *args, **kwargs)
            if not os.path.islink("out"):
                swap()
            return done

        monkeypatch.setattr(store_module.TrialStore, "record_fit", recording)
    code = main(["s.yaml", "--out", "out", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "the run folder out was moved or replaced while the run was going" in err, err
    assert _snapshot(mine) == before
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    os.unlink("out")
    os.rename("out.moved", "out")
    assert main(["s.yaml", "--out", "out", "--quiet", "--resume"]) == 0, capsys.readouterr()
    assert (tmp_path / "out" / "summary.json").is_file()
    assert _snapshot(mine) == before
