"""A run started while another process runs the same study changes nothing of it.

``--overwrite`` deleted the live run's ``study.db`` (or its study in a shared store): the
running process lost its work or crashed. A second process started with another study
file of the same name rewrote the run folder's ``study.yaml`` before it was refused. Each
test starts a slow study in one process, waits until it has recorded a fit, then runs the
second one: refused (exit 2, naming the option and the live process), and the first ends
with all its fits."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SLOW = textwrap.dedent(
    """\
    import os, time
    from sklearn.linear_model import Ridge

    class SlowRidge(Ridge):
        def fit(self, X, y, sample_weight=None):
            log, hold = os.environ["SLOW_RIDGE_LOG"], os.environ.get("SLOW_RIDGE_HOLD", "")
            if os.path.exists(log):  # after its first fit, wait while the test holds it
                deadline = time.monotonic() + 30
                while os.path.exists(hold) and time.monotonic() < deadline:
                    open(hold + ".waiting", "w").close()
                    time.sleep(0.02)
            with open(log, "a") as f:
                f.write(f"{self.alpha}\\n")
            return super().fit(X, y, sample_weight)
    """
)

STUDY = textwrap.dedent(
    """\
    name: live
    data: {dataset: diabetes}
    estimator: {name: 'slowridge:SlowRidge'}
    search:
      method: grid
      space:
        alpha: {type: float, low: 1e-3, high: 1e2, log: true, n: N}
    cv: 2
    """
)
N_CANDIDATES, N_SPLITS = 4, 2

#: ``python held.py ARGS``: the CLI, held (until the test removes the hold file) after the
#: run was accepted and before its search creates the study's first trial: two processes
#: started at the same instant
HELD = textwrap.dedent(
    """\
    import os, sys, time
    from hpsearch.study import runner
    from hpsearch.cli import main

    fit, hold = runner._fit, os.environ["HOLD_BEFORE_FIT"]

    def held(*args, **kwargs):
        open(hold + ".waiting", "w").close()
        deadline = time.monotonic() + 30
        while os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.02)
        return fit(*args, **kwargs)

    runner._fit = held
    sys.exit(main(sys.argv[1:]))
    """
)


def _env(tmp_path, hold):
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]),
                SLOW_RIDGE_LOG=str(tmp_path / "fits.log"),
                SLOW_RIDGE_HOLD=str(tmp_path / "hold") if hold else "")


def _files(tmp_path, n=N_CANDIDATES):
    (tmp_path / "slowridge.py").write_text(SLOW)
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.replace("N", str(n)) if n else STUDY)
    return study


def _cmd(study, *args):
    return [sys.executable, "-m", "hpsearch", str(study), "--allow-module", "slowridge",
            "--quiet", *args]


def _start_slow(tmp_path, study, *args, before_fit=False):
    """Start the run held after its first fit (``before_fit``: before its search starts)
    until :func:`_let_go`; return it once it has recorded that fit and waits."""
    (tmp_path / "hold").touch()
    cmd, env = _cmd(study, *args), _env(tmp_path, not before_fit)
    if before_fit:
        (tmp_path / "held.py").write_text(HELD)
        cmd[1:3] = [str(tmp_path / "held.py")]
        env["HOLD_BEFORE_FIT"] = str(tmp_path / "hold")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "hold.waiting").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def _second(tmp_path, study, *args):
    return subprocess.run(_cmd(study, *args), cwd=tmp_path, env=_env(tmp_path, False),
                          capture_output=True, text=True, timeout=60)


def _let_go(tmp_path, proc):
    """Let the held run go on; it ends with all its fits, each once."""
    (tmp_path / "hold").unlink()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    fits = (tmp_path / "fits.log").read_text().splitlines()
    assert len(fits) == N_CANDIDATES * N_SPLITS + 1  # and the refit of the best


def _finished_whole(tmp_path, proc, out):
    _let_go(tmp_path, proc)
    summary = (out / "summary.json").read_text()
    assert f'"n_candidates": {N_CANDIDATES}' in summary, summary
    import optuna

    study = optuna.load_study(study_name="live", storage=f"sqlite:///{out / 'study.db'}")
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == N_CANDIDATES


def test_overwrite_is_refused_while_another_process_runs_the_study(tmp_path):
    study, out = _files(tmp_path), tmp_path / "runs" / "live"
    first = _start_slow(tmp_path, study, "--out", str(out))
    copy = (out / "study.yaml").read_text()
    second = _second(tmp_path, study, "--out", str(out), "--overwrite")
    assert second.returncode == 2, second.stderr
    assert "--overwrite refused" in second.stderr, second.stderr
    assert f"process {first.pid}" in second.stderr, second.stderr
    assert "Nothing was changed" in second.stderr and "Traceback" not in second.stderr
    assert (out / "study.yaml").read_text() == copy
    _finished_whole(tmp_path, first, out)


@pytest.mark.parametrize("before_fit", [False, True])
def test_another_study_file_of_the_same_name_leaves_the_live_run_alone(tmp_path, before_fit):
    """Without --resume or --overwrite, and another space: refused before it writes its
    copy of the study file over the live run's, also when both started at the same
    instant (``before_fit``: no trial in the store yet), which rewrote it."""
    study, out = _files(tmp_path), tmp_path / "runs" / "live"
    other = tmp_path / "other.yaml"
    other.write_text(STUDY.replace("N", "3").replace("1e2", "1e1"))
    first = _start_slow(tmp_path, study, "--out", str(out), before_fit=before_fit)
    second = _second(tmp_path, other, "--out", str(out))
    assert second.returncode == 2, second.stderr
    assert f"process {first.pid} is running study 'live'" in second.stderr, second.stderr
    assert "--resume" in second.stderr
    assert (out / "study.yaml").read_text() == study.read_text()
    _finished_whole(tmp_path, first, out)


def test_overwrite_of_a_study_run_live_in_a_shared_store_is_refused(tmp_path):
    """Two run folders, one --storage: --overwrite in the other folder deleted the live
    run's study from the store; refused by the store's live holders (its process)."""
    study, out = _files(tmp_path), tmp_path / "runs" / "live"
    db = tmp_path / "shared.db"
    first = _start_slow(tmp_path, study, "--out", str(out), "--storage", f"sqlite:///{db}")
    second = _second(tmp_path, study, "--out", str(tmp_path / "elsewhere"),
                     "--storage", f"sqlite:///{db}", "--overwrite")
    assert second.returncode == 2, second.stderr
    assert "--overwrite refused" in second.stderr, second.stderr
    assert f"process {first.pid} on host" in second.stderr, second.stderr
    assert not (tmp_path / "elsewhere").exists()
    _let_go(tmp_path, first)


def test_two_overwrites_at_once_one_is_refused(tmp_path):
    """Two --overwrite runs of a finished study started at the same instant: the second
    deleted the study the first had just created (and its store file). The first is
    held after its start (the earlier run removed, no trial yet): the second is refused,
    the first ends whole."""
    study, out = _files(tmp_path), tmp_path / "runs" / "live"
    done = _second(tmp_path, study, "--out", str(out))
    assert done.returncode == 0, done.stderr
    (tmp_path / "fits.log").unlink()
    first = _start_slow(tmp_path, study, "--out", str(out), "--overwrite", before_fit=True)
    second = _second(tmp_path, study, "--out", str(out), "--overwrite")
    assert second.returncode == 2, second.stderr
    assert "--overwrite refused" in second.stderr, second.stderr
    assert f"process {first.pid}" in second.stderr, second.stderr
    _finished_whole(tmp_path, first, out)


def test_an_existing_empty_folder_runs_and_a_foreign_one_is_left_untouched(tmp_path,
                                                                            monkeypatch,
                                                                            capsys):
    """The run-folder lock file was made before the folder was checked: an existing empty
    folder (``--out`` made by the user, pytest's tmp dirs) then held a file that was not
    hpsearch's and every run into it was refused; a folder of the user's own got a
    ``.hpsearch-lock`` left in it by the refused run."""
    from _study_files import GRID_STUDY

    from hpsearch.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GRID_STUDY)
    (tmp_path / "empty").mkdir()
    assert main(["s.yaml", "--out", "empty", "--quiet"]) == 0
    assert (tmp_path / "empty" / "summary.json").is_file()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["s.yaml", "--out", "mine", "--quiet"]) == 2
    assert "is not an hpsearch run folder" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
