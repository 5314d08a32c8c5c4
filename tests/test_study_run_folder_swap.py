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
