"""Fault injection: interrupt, kill and share searches, then count what was kept.

Runs each scenario on a grid search of ``tests/durable_worker.py`` (6 candidates x 3
splits = 18 fits of ``LogFit``, which logs a line when a fit starts and one when it ends)
in subprocesses, with a SQLite file or a journal file as the trial store, and prints::

    scenario | finished before fault | lost | re-run | results equal

- *finished before fault*: fits that had ended when the fault hit;
- *lost*: of those, fits not recorded in the store (their work is gone; a fit that ends
  in a worker is recorded when its result reaches the search process, and the engine
  sends results back per batch of tasks);
- *re-run*: fits that ended more than once over the whole scenario (fault + resume;
  includes fits that workers outliving the search finished after the fault);
- *results equal*: ``cv_results_`` after the resume (every process's, for several
  processes) equals an uninterrupted run's (times aside).

Faults: SIGINT / SIGTERM / SIGKILL of the search process (``n_jobs=2``, fork workers),
SIGKILL of one worker process, SIGKILL of one of two processes sharing a study; and two or
three processes sharing one study (no fault). A resume is ``resume=True`` in a fresh
process. The script reports whatever the current code does (an aborted search is
resumed like an interrupted one).

Usage::

    python benchmarks/fault_injection.py [--delay 0.1]
"""

import argparse
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
KIND, TOTAL = "grid", 18


def _env(tmp, delay):
    path = os.pathsep.join([str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, LOGFIT_LOG=str(tmp / "start.log"),
                LOGFIT_DONE=str(tmp / "done.log"), LOGFIT_DELAY=str(delay))


def _start(tmp, storage, out, delay, *, resume=True, n_jobs=1):
    # stderr to a file, not a pipe: workers that outlive a killed search keep a pipe open
    err = open(Path(str(out) + ".err"), "w")
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "durable_worker.py"), KIND, str(storage), "s",
         "1" if resume else "0", str(out), str(n_jobs)],
        env=_env(tmp, delay), stdout=subprocess.DEVNULL, stderr=err,
    )
    proc.err_path = Path(str(out) + ".err")
    err.close()
    return proc


def _finish(proc, timeout=None):
    """Wait for ``proc``; its return code and the last line of its stderr."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    lines = proc.err_path.read_text().strip().splitlines()
    return proc.returncode, lines[-1] if lines else ""


def _lines(path):
    return len(path.read_text().splitlines()) if path.exists() else 0


def _wait(path, n, procs, timeout=120):
    deadline = time.monotonic() + timeout
    while _lines(path) < n and time.monotonic() < deadline:
        if all(p.poll() is not None for p in procs):
            return
        time.sleep(0.01)


def _recorded(storage):
    sys.path.insert(0, str(TESTS))
    from test_durable import recorded_fits

    try:
        return recorded_fits(storage)
    except KeyError:  # no study yet
        return 0


def _children(pid):
    try:
        import psutil

        return [p.pid for p in psutil.Process(pid).children()]
    except ImportError:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        return [int(x) for x in out.stdout.split()]


def _equal(a, b):
    if list(a["params"]) != list(b["params"]):
        return False
    for key in a:
        if key == "params" or "time" in key:
            continue
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.dtype == object:
            if list(x) != list(y):
                return False
        elif not np.array_equal(x, y, equal_nan=True):
            return False
    return True


def reference(delay):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _finish(_start(tmp, tmp / "ref.db", tmp / "ref.pkl", 0.0, resume=False))
        return pickle.loads((tmp / "ref.pkl").read_bytes())


def _resume(tmp, storage):
    code, err = _finish(_start(tmp, storage, tmp / "resumed.pkl", 0.0))
    if code != 0:
        return None, err
    return pickle.loads((tmp / "resumed.pkl").read_bytes()), ""


def _alive(pids):
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] not in ("Z", "X"):
                    alive.append(pid)
        except OSError:
            pass
    return alive


def fault(name, ref, delay, how, n_jobs=2):
    """Start a search, inject ``how`` after 7 finished fits, then resume."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "s.db"
        proc = _start(tmp, db, tmp / "a.pkl", delay, resume=False, n_jobs=n_jobs)
        _wait(tmp / "done.log", 7, [proc])
        time.sleep(delay / 2)  # mid-fit
        workers = _children(proc.pid)
        finished = _lines(tmp / "done.log")
        how(proc)
        code, err = _finish(proc, timeout=60)
        time.sleep(2 * delay)  # workers, if any outlive the search, finish their fits
        orphans = _alive(workers)
        note = f"exit {code}" + (f" ({err[:60]})" if code not in (0, 130) and err else "")
        if orphans:
            note += f"; {len(orphans)} worker(s) outlived the search (killed here)"
            for pid in orphans:
                os.kill(pid, signal.SIGKILL)
        recorded = _recorded(db)
        resumed, err = _resume(tmp, db)
        rerun = _lines(tmp / "done.log") - TOTAL
        equal = "yes" if resumed is not None and _equal(resumed, ref) else f"no {err}"
        return [name, finished, max(0, finished - recorded), rerun, equal, note]


def share(name, ref, delay, n, suffix, kill_one=False):
    """``n`` processes with ``resume=True`` on one store (one of them killed)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        storage = tmp / f"s.{suffix}"
        procs = [_start(tmp, storage, tmp / f"{i}.pkl", delay) for i in range(n)]
        finished = "-"
        if kill_one:
            _wait(tmp / "done.log", 7, procs)
            time.sleep(delay / 2)
            finished = _lines(tmp / "done.log")
            procs[-1].kill()
        errors = []
        for proc in procs:
            code, err = _finish(proc, timeout=300)
            if code not in (0, -signal.SIGKILL):
                errors.append(err)
        outs = [tmp / f"{i}.pkl" for i in range(n - kill_one)]
        results = [pickle.loads(o.read_bytes()) for o in outs if o.exists()]
        pids = {line.split()[0] for line in (tmp / "done.log").read_text().splitlines()}
        rerun = _lines(tmp / "done.log") - TOTAL
        equal = results and len(results) == len(outs) and all(_equal(r, ref) for r in results)
        note = f"{len(pids)} processes fitted" + (f"; errors {errors}" if errors else "")
        # a finished fit that is not recorded is fitted again: lost = re-run here
        return [name, finished, max(0, rerun) if kill_one else "-", rerun,
                "yes" if equal else "no", note]


def _kill_worker(proc):
    children = _children(proc.pid)
    if children:
        os.kill(children[0], signal.SIGKILL)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.1, help="seconds per fit")
    args = parser.parse_args(argv)
    delay = args.delay
    signal.signal(signal.SIGINT, signal.default_int_handler)  # children get Ctrl-C
    ref = reference(delay)
    rows = [
        fault("SIGINT of the search (n_jobs=2)", ref, delay,
              lambda p: p.send_signal(signal.SIGINT)),
        fault("SIGTERM of the search (n_jobs=2)", ref, delay,
              lambda p: p.send_signal(signal.SIGTERM)),
        fault("SIGKILL of the search (n_jobs=2)", ref, delay, lambda p: p.kill()),
        fault("SIGKILL of one worker (n_jobs=2)", ref, delay, _kill_worker),
        share("2 processes, one SQLite file", ref, delay, 2, "db"),
        share("3 processes, one SQLite file", ref, delay, 3, "db"),
        share("2 processes, one journal file", ref, delay, 2, "log"),
        share("3 processes, one journal file", ref, delay, 3, "log"),
        share("SIGKILL of 1 of 2 processes, SQLite", ref, delay, 2, "db", kill_one=True),
        share("SIGKILL of 1 of 3 processes, journal", ref, delay, 3, "log", kill_one=True),
    ]
    head = ["scenario", "finished before fault", "lost", "re-run", "results equal", "notes"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    main()
