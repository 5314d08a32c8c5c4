"""SIGTERM and Ctrl-C at many random moments of a CLI run (seeded): the run always stops
within seconds with its exit code (a signal that lands inside a write of the trial store
waits for the end of that write: it no longer leaves SQLite's lock held so that closing
the store waited for SQLite's busy timeout, nor a journal line cut short), and
``--resume`` then finishes the study with every candidate recorded once and no fit done
twice, beyond the one in flight.

The signal is sent from a timer thread of the run itself, started by the estimator at a
random fit with a random delay of a few milliseconds: most of a run of such small fits is
spent writing the store, so most signals land inside a write. A few runs are real
``python -m hpsearch`` processes (their exit status); the many others run one after the
other through ``hpsearch.cli.main`` in one child process (the exit code it returns), which
``faulthandler`` ends, every thread's stack dumped, if one run hangs."""

import contextlib
import faulthandler
import io
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hpsearch.cli import main

ROOT = Path(__file__).resolve().parents[1]
N_CANDIDATES, N_SPLITS = 5, 3
#: seconds a run (interrupted run and resume) may take before it counts as hung
HANG = 30

ESTIMATOR = textwrap.dedent(
    """\
    import os, signal, threading
    from sklearn.linear_model import Ridge

    TIMERS = []

    class StressRidge(Ridge):
        def fit(self, X, y, sample_weight=None):
            with open(os.environ["STRESS_LOG"], "a") as f:
                f.write(f"{self.alpha}\\n")
            with open(os.environ["STRESS_LOG"]) as f:
                n_fits = len(f.read().splitlines())
            at_fit = int(os.environ.get("STRESS_AT_FIT", "0"))
            if n_fits == at_fit:
                timer = threading.Timer(float(os.environ["STRESS_DELAY"]), os.kill,
                                        (os.getpid(), int(os.environ["STRESS_SIGNAL"])))
                timer.daemon = True
                TIMERS.append(timer)
                timer.start()
            elif at_fit and n_fits >= at_fit + 2:
                # a loaded machine may start the timer late: it has fired before the run
                # can end (at worst the signal lands here)
                TIMERS[-1].finished.wait(10)
            return super().fit(X, y, sample_weight)
    """
)

STUDY = textwrap.dedent(
    f"""\
    name: stress
    data: {{dataset: diabetes}}
    estimator: {{name: 'stressridge:StressRidge'}}
    search:
      method: grid
      space:
        alpha: {{type: float, low: 1e-3, high: 1e2, log: true, n: {N_CANDIDATES}}}
    cv: {N_SPLITS}
    n_jobs: 1
    """
)


def _draw(seed):
    """``(signal, storage file, fit that starts the timer, its delay)`` of run ``seed``."""
    rng = random.Random(seed)
    signum = rng.choice([signal.SIGINT, signal.SIGTERM])
    storage = rng.choice(["study.db", "study.db", "study.log"])  # SQLite, journal file
    return (signum, storage, rng.randint(1, N_CANDIDATES * N_SPLITS - 3),
            rng.uniform(0.0, 0.015))


def _setup(folder, seed):
    """Write the estimator and the study to ``folder``; ``(args, env, signum, storage)``
    of run ``seed`` (env: the variables the estimator reads)."""
    signum, storage, at_fit, delay = _draw(seed)
    (folder / "stressridge.py").write_text(ESTIMATOR)
    (folder / "stress.yaml").write_text(STUDY)
    args = [str(folder / "stress.yaml"), "--out", str(folder / "out"),
            "--storage", str(folder / storage), "--allow-module", "stressridge", "--quiet"]
    env = {"STRESS_LOG": str(folder / "fits.log"), "STRESS_AT_FIT": str(at_fit),
           "STRESS_DELAY": str(delay), "STRESS_SIGNAL": str(int(signum))}
    return args, env, signum, storage


def _fits(log):
    return len(log.read_text().splitlines()) if log.exists() else 0


def _study(path):
    import optuna

    from hpsearch.model_selection.store import make_storage

    return optuna.load_study(study_name="stress", storage=make_storage(str(path)))


def _check_interrupted(folder, storage, code, stderr, signum, what):
    """The interrupted run: its exit code and message; every fit it ran is recorded but
    the one in flight. Returns the number of recorded fits."""
    from hpsearch.model_selection.store import recorded_fits

    assert code == (143 if signum == signal.SIGTERM else 130), (what, code, stderr)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, (what, stderr)
    assert "resume with: python -m hpsearch" in stderr, (what, stderr)
    assert not (folder / "out" / "summary.json").exists(), what
    if storage.endswith(".log"):  # no journal record cut short
        assert (folder / storage).read_bytes().endswith(b"\n"), what
    recorded = recorded_fits(_study(folder / storage))
    fits = _fits(folder / "fits.log")
    assert fits - recorded in (0, 1), (what, fits, recorded)
    return recorded


def _check_resumed(folder, storage, before, recorded, what):
    """``--resume`` fitted only what was not recorded (+1 refit), every candidate once."""
    import optuna

    after = _fits(folder / "fits.log")
    assert after - before == N_CANDIDATES * N_SPLITS - recorded + 1, (what, after, before)
    complete = _study(folder / storage).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == N_CANDIDATES, (what, [
        (t.number, t.state.name, t.params, sorted(k for k in t.user_attrs if k.startswith(
            ("hpsearch_dup", "hpsearch_inter", "hpsearch_owner")))) for t in
        _study(folder / storage).trials])
    assert len({tuple(sorted(t.params.items())) for t in complete}) == N_CANDIDATES, what


def _resume(args):
    """``--resume`` in this process (no plots: they are not what is checked here)."""
    from hpsearch.study import runner

    plots, runner._plots = runner._plots, lambda *args: []
    try:
        return main([*args, "--resume"])
    finally:
        runner._plots = plots


@pytest.mark.parametrize("seed", [0, 1, 2])  # SIGTERM SQLite, SIGINT journal, SIGINT SQLite
def test_a_signal_to_a_cli_process_stops_it_and_resume_finishes_it(seed, tmp_path,
                                                                    monkeypatch):
    args, env, signum, storage = _setup(tmp_path, seed)
    env = dict(os.environ, **env, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    # (before the fix, closing the store could wait for SQLite's busy timeout, 60 s)
    proc = subprocess.run([sys.executable, "-m", "hpsearch", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=HANG)
    recorded = _check_interrupted(tmp_path, storage, proc.returncode, proc.stderr, signum,
                                  seed)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("STRESS_LOG", env["STRESS_LOG"])
    monkeypatch.delenv("STRESS_AT_FIT", raising=False)
    monkeypatch.delitem(sys.modules, "stressridge", raising=False)
    before = _fits(tmp_path / "fits.log")
    assert _resume(args) == 0
    _check_resumed(tmp_path, storage, before, recorded, seed)


def drive(folder, seeds):
    """Run ``seeds`` in this process, one after the other: each an interrupted
    ``hpsearch.cli.main`` run, then its ``--resume``; any run past :data:`HANG` seconds
    ends the process with every thread's stack."""
    import importlib

    for seed in seeds:
        start = time.monotonic()
        faulthandler.dump_traceback_later(HANG, exit=True)
        run = Path(folder) / f"run{seed}"
        run.mkdir()
        args, env, signum, storage = _setup(run, seed)
        os.environ.update(env)
        sys.modules.pop("stressridge", None)
        sys.path.insert(0, str(run))
        importlib.invalidate_caches()
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(args)
        recorded = _check_interrupted(run, storage, code, err.getvalue(), signum, seed)
        del os.environ["STRESS_AT_FIT"]
        before = _fits(run / "fits.log")
        with contextlib.redirect_stderr(io.StringIO()):
            assert _resume(args) == 0, seed
        _check_resumed(run, storage, before, recorded, seed)
        sys.path.remove(str(run))
        faulthandler.cancel_dump_traceback_later()
        print(f"seed {seed}: {signal.Signals(signum).name} exit {code}, {storage}, "
              f"{recorded} fit(s) kept, {time.monotonic() - start:.1f}s", flush=True)


def test_signals_at_many_random_moments_stop_every_run_and_resume_finishes_it(tmp_path):
    seeds = range(100, 124)
    code = f"import test_interrupt_stress as t; t.drive({str(tmp_path)!r}, {list(seeds)!r})"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).parent), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=HANG * len(seeds))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("fit(s) kept") == len(seeds), proc.stdout


def test_a_signal_inside_a_store_call_is_raised_after_it():
    """``shield_interrupts``: the block runs to its end, then the interrupt is raised;
    also when the block fails (then the interrupt carries the error as its context), so an
    ``except Exception`` around a store write cannot lose it."""
    from hpsearch.model_selection._engine import (SearchTerminated, interrupts_deferrable,
                                                  shield_interrupts, sigterm_as_interrupt)

    done = []
    with interrupts_deferrable(), pytest.raises(KeyboardInterrupt):
        with shield_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # (the handler runs here: recorded)
            done.append(1)
    assert done == [1]
    with sigterm_as_interrupt(), pytest.raises(SearchTerminated) as caught:
        try:
            with shield_interrupts():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                raise OSError("disk full")
        except OSError:  # a caller that ignores a failed write
            pass
    assert isinstance(caught.value.__context__, OSError)
    with interrupts_deferrable(), shield_interrupts():  # nothing received: nothing raised
        done.append(2)
    assert done == [1, 2]


def test_a_signal_inside_the_redelivery_hook_is_sent_again(monkeypatch):
    """``redeliver_interrupts``: the SIGTERM sent again can land while the hook still waits
    for its timer thread to start (a loaded machine); it is sent once more, not lost as
    "Exception ignored in sys.unraisablehook" (was: the run went on and exited 0)."""
    from types import SimpleNamespace

    from hpsearch.model_selection import _engine

    sent = []

    class Timer:  # starting the first timer "takes" 50 ms, during which its signal comes
        def __init__(self, interval, function, args):
            self.args = args

        def start(self):
            sent.append(self.args[1])
            if len(sent) == 1:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)

    def previous(unraisable):
        raise AssertionError(f"given to the previous hook: {unraisable}")

    hook = _engine.redeliver_interrupts(previous)
    with _engine.sigterm_as_interrupt():
        monkeypatch.setattr(_engine.threading, "Timer", Timer)
        try:
            hook(SimpleNamespace(exc_type=_engine.SearchTerminated, exc_value=None,
                                 exc_traceback=None, err_msg=None, object=None))
        except KeyboardInterrupt:  # (lost in a real hook; not to stop pytest here)
            pytest.fail("the SIGTERM was raised inside the hook")
        finally:
            monkeypatch.undo()
    assert sent == [signal.SIGTERM, signal.SIGTERM]
