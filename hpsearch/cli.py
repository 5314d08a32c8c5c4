"""``python -m hpsearch STUDY.yaml`` / ``hpsearch STUDY.yaml``: run a study file.

Exit codes: 0 done, 1 the run failed, 2 bad study file or arguments (a broken limit, an output
folder hpsearch did not make, an earlier run without ``--resume`` / ``--overwrite``), 130
interrupted (finished fits are kept in the trial store; ``--resume`` continues), 143
terminated by SIGTERM (handled exactly like Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
import warnings

__all__ = ["main", "make_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process ended by it


def make_parser():
    """The argument parser (also documents every option in ``--help``)."""
    p = argparse.ArgumentParser(
        prog="hpsearch",
        description="Run a hyperparameter search described by a study file (YAML).",
        epilog="Exit codes: 0 done, 1 run failed, 2 bad study file or arguments, "
        "130 interrupted (resume with --resume), 143 terminated (SIGTERM, as Ctrl-C).",
    )
    p.add_argument("study", help="the study file (YAML), e.g. studies/quickstart.yaml")
    p.add_argument("--n-jobs", type=int, default=None, metavar="N",
                   help="parallel workers (overrides n_jobs of the file; -1: all cores)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: 'output' of the file, else runs/<name>)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="trial store: SQLAlchemy URL (default: sqlite:///<out>/study.db)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the fits on the Dask cluster of this scheduler, e.g. "
                   "tcp://10.0.0.5:8786 (overrides backend of the file; a study file may "
                   "only name a scheduler on this machine)")
    p.add_argument("--fit-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop a fit running longer than this; it counts as failed "
                   "(overrides search.fit_timeout of the file)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run: finished fits are not redone")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run of the study: its trials in the store and "
                   "the files hpsearch wrote in the output folder (nothing else); "
                   "refused while another process runs the study")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (candidates, splits, fits) and exit without fitting")
    p.add_argument("--smoke", action="store_true",
                   help="reduced budget for a quick check: 2 candidates, few epochs")
    p.add_argument("--allow-module", action="append", default=[], metavar="PREFIX",
                   help="also allow 'module:Class' estimators from this package "
                   "(default allow-list: sklearn, hpsearch)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return p


#: with ``--quiet``, the warnings about what the run records anyway: a failed fit or
#: scorer (its traceback is in results.csv, the count in summary.json and report.md, and
#: one stderr line says so), the non-finite mean scores it leaves, and scikit-learn's
#: note that a small space gives fewer candidates than asked (the plan and report count them)
QUIET_MESSAGES = (r"Scoring failed\.", r"One or more of the \w+ scores are non-finite",
                  r"\d+ fits failed", r"All the \d+ fits failed",
                  r"The total space of parameters \d+ is smaller than n_iter")


def _quiet_warnings(quiet=False):
    """Hide per-fit ConvergenceWarnings (epoch budgets are short on purpose in searches),
    and with ``quiet`` the warnings of :data:`QUIET_MESSAGES`.

    Worker processes started from here inherit ``PYTHONWARNINGS`` (UserWarnings, of which
    ConvergenceWarning is one); ``--debug`` keeps every warning.
    """
    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    # said by the plan's note naming the study key (search.n_iter or search.n_candidates)
    warnings.filterwarnings("ignore", message=r"The total space of parameters \d+ is "
                            r"smaller than n_iter")
    if quiet:
        warnings.filterwarnings("ignore", category=FitFailedWarning)
        for message in QUIET_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")


def _sigterm_as_ctrl_c():
    """SIGTERM raises ``SearchTerminated`` (a KeyboardInterrupt): the run stops as on
    Ctrl-C (workers stopped, finished fits kept) and exits 143; one raised inside a
    finalizer (garbage collection of the trial store's SQLAlchemy objects) is not lost
    there, nor printed as "Exception ignored in ...", but sent again
    (``redeliver_interrupts``)."""
    import signal
    import threading

    from hpsearch.model_selection._engine import (_raise_interrupt, _raise_terminated,
                                                  redeliver_interrupts)

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, _terminated_early):
        signal.signal(signal.SIGTERM, _raise_terminated)
        sys.unraisablehook = redeliver_interrupts(sys.unraisablehook)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        # the same KeyboardInterrupt, raised after a trial store write, never inside one
        signal.signal(signal.SIGINT, _raise_interrupt)


def _warning_line(message, category, filename, lineno, line=None):
    """A warning of the run as one ``hpsearch: warning: ...`` line, like the CLI's own
    (``warnings.formatwarning`` while :func:`main` runs, unless ``--debug``). Python's
    format shows the location its ``stacklevel`` found outside hpsearch, which under
    ``python -m hpsearch`` is the interpreter's module runner (``<frozen runpy>:88:
    UserWarning: ...``), no file of the user's; other categories than UserWarning keep
    their name."""
    kind = "" if category is UserWarning else f"{category.__name__}: "
    return f"hpsearch: warning: {kind}{message}\n"


def _err(text):
    """Print to stderr; a reader that stopped (``2>&1 | head -1``) is not an error.

    Was: the BrokenPipeError of a note ended the run before any fit (exit 1, caught as
    a failure whose own message failed again), and turned an exit 2 into 1."""
    _print_to(text, sys.stderr)


#: options the printed resume command repeats (a resume without them would fail:
#: --allow-module, or run otherwise: another fit_timeout, another cluster)
_RESUMED_OPTIONS = (("out", "--out"), ("storage", "--storage"), ("n_jobs", "--n-jobs"),
                    ("fit_timeout", "--fit-timeout"), ("scheduler", "--scheduler"))


def _resume_command(args):
    cmd = ["python", "-m", "hpsearch", args.study, "--resume"]
    for name, option in _RESUMED_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            cmd += [option, f"{value:g}" if isinstance(value, float) else str(value)]
    for prefix in args.allow_module:
        cmd += ["--allow-module", prefix]
    if args.smoke:
        cmd.append("--smoke")
    return shlex.join(cmd)


def _with_lines(exc, lines, source):
    """Give a build-time StudyError the line of its key path."""
    from hpsearch.study.loader import StudyErrors

    errors = exc.errors if isinstance(exc, StudyErrors) else [exc]
    for e in errors:
        e.source = e.source or source
        if e.line is None and e.path:
            for n in range(len(e.path), 0, -1):
                if e.path[:n] in lines:
                    e.line = lines[e.path[:n]]
                    break
    return errors


def _print_out(text):
    """Print to stdout; a reader that stops early (``--dry-run | head``) is not an error."""
    _print_to(text, sys.stdout)


def _print_to(text, stream):
    """Print ``text`` to ``stream``; once its reader has gone, nothing more is written
    there (and the run goes on)."""
    import os

    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        # Python's recipe: point the stream at devnull so the exit flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


def _chain(exc):
    """``exc`` and the exceptions it was raised from (``__cause__`` / ``__context__``)."""
    from hpsearch.study.errors import exception_chain

    return exception_chain(exc)


def _store_write_failed(exc):
    """Whether ``exc`` comes from a write the trial store's disk refused."""
    from hpsearch.model_selection.store import StoreWriteError

    return any(isinstance(e, StoreWriteError) for e in _chain(exc))


#: errno names of a write the disk refused -> the words its message starts with
_DISK_WORDS = {"ENOSPC": "disk full", "EFBIG": "file size limit reached",
               "EDQUOT": "disk quota exceeded"}


def _disk_words(e):
    """The words for ``e`` when it is an OSError by which the disk refused a write (full,
    over the file size limit ``ulimit -f``, over the quota), else None."""
    import errno

    return _DISK_WORDS.get(errno.errorcode.get(e.errno)) if isinstance(e, OSError) else None


def _disk_refused(exc):
    """Whether the disk refused a write somewhere in ``exc``'s chain."""
    return any(_disk_words(e) for e in _chain(exc))


def _store_deleted(exc, plan):
    """Whether ``exc`` says the run folder was deleted while the run was going, with the
    trial store in it (its fits are gone: no --resume can continue them)."""
    if not getattr(exc, "deleted", False) or plan is None:
        return False
    from pathlib import Path

    from hpsearch.study.limits import inside
    from hpsearch.study.trial_store import _local_file

    store = _local_file(plan.storage)
    return store is not None and str(store) != ":memory:" and inside(
        store.absolute(), Path(plan.out).absolute())


def _explain(exc, plan):
    """One line for a failure, naming the path and the cause for storage and disk errors
    (SQLAlchemy / Optuna wrap SQLite's own words, e.g. "invalid data in the commit")."""
    storage = plan.storage if plan is not None else "the trial store"
    for e in _chain(exc):
        if _disk_words(e):
            where = e.filename or (plan.out if plan is not None else "the output folder")
            reason = getattr(e, "reason", None)  # a trial store's (StoreWriteError): its
            # fits are kept; the "resume with" line follows (was: "... run the search
            # again with resume=True", the Python API's words, above it)
            detail = (f"{reason}; the fits recorded before are kept" if reason
                      else e.strerror)
            return f"{_disk_words(e)}: cannot write {where} ({detail})"
        text = str(e)
        if "database or disk is full" in text:
            return f"disk full: the trial store {storage} cannot grow (database or disk is full)"
        if "unable to open database file" in text:
            return (f"cannot open the trial store {storage}: its directory does not exist or "
                    "is not writable")
    return f"{type(exc).__name__}: {exc}"


def main(argv=None):
    """Entry point; returns the exit code (the console script exits with it)."""
    import signal
    import threading

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["diagnose"]:  # subcommand: the lecture's recipe (hpsearch.diagnostics.cli)
        from hpsearch.diagnostics.cli import main as diagnose_main

        return diagnose_main(argv[1:])
    previous, hook = signal.getsignal(signal.SIGTERM), sys.unraisablehook
    previous_int = signal.getsignal(signal.SIGINT)
    previous_format = warnings.formatwarning
    previous_env = os.environ.get("PYTHONWARNINGS")
    if previous == signal.SIG_DFL and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated_early)
    try:
        with warnings.catch_warnings():  # the caller's filters back (called from Python)
            return _main(argv)
    except KeyboardInterrupt as exc:  # outside the run's own handling: its first imports
        # (was: a Ctrl-C in the first second printed a traceback of pydantic's import)
        terminated = _is_terminated(exc)
        _err(f"\nhpsearch: {'terminated (SIGTERM)' if terminated else 'interrupted'}")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:  # called from Python (tests): give SIGTERM (and SIGINT) its handler back
        _forget_interrupt_in_exec()
        if threading.current_thread() is threading.main_thread():
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if previous_int is not None:
                signal.signal(signal.SIGINT, previous_int)
        sys.unraisablehook = hook
        warnings.formatwarning = previous_format
        if previous_env is None:  # (set for the run's worker processes)
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = previous_env


class _TerminatedEarly(KeyboardInterrupt):
    """SIGTERM before the run's own handler is installed (:func:`_sigterm_as_ctrl_c`,
    once the study file is checked: it imports scikit-learn)."""


def _terminated_early(signum, frame):
    """SIGTERM while the study file is read and checked: stop as on Ctrl-C, exit 143
    (was: the process was killed by the signal, -15 to its caller, no message, while a
    Ctrl-C at the same moment said "interrupted" and exited 130)."""
    raise _TerminatedEarly()


def _is_terminated(exc):
    """Whether the ``KeyboardInterrupt`` ``exc`` came from SIGTERM."""
    return isinstance(exc, _TerminatedEarly) or type(exc).__name__ == "SearchTerminated"


def _forget_interrupt_in_exec():
    """Clear CPython's note that a ``KeyboardInterrupt`` left an ``exec`` of source text,
    once the run has handled it (its exit code said).

    ``exec(text)`` runs through ``PyRun_String``, which notes each KeyboardInterrupt
    leaving it as "unhandled", for ``python -m`` to end the process by SIGINT once done,
    whatever the exit code: a Ctrl-C landing in the ``exec`` of an import (SciPy's
    distributions, a dataclass) made ``python -m hpsearch`` print "interrupted ... resume
    with" and then die by SIGINT (a caller saw -2, not the documented 130). Each
    ``exec`` of text clears the note first; this one runs nothing."""
    exec("None", {})  # noqa: S102 - constant text


def _main(argv):
    try:
        args = make_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not args.debug:  # (main gives the format back)
        warnings.formatwarning = _warning_line
    if args.n_jobs is not None and (args.n_jobs == 0 or args.n_jobs < -1):
        _err(f"hpsearch: error: --n-jobs must be a positive integer or -1, got {args.n_jobs}")
        return EXIT_USAGE
    for option, value in (("--out", args.out), ("--storage", args.storage),
                          ("--scheduler", args.scheduler),
                          *(("--allow-module", m) for m in args.allow_module)):
        if value is not None and not value.strip():  # '' would quietly mean the default
            _err(f"hpsearch: error: {option} must not be empty, got {value!r}")
            return EXIT_USAGE
    from hpsearch.study.limits import (_hidden_password, _storage_path, path_problem,
                                       scheduler_address_problem, storage_driver_problem,
                                       storage_option_problem)

    for option, value, check in (("--scheduler", args.scheduler, scheduler_address_problem),
                                 ("--storage", args.storage, storage_option_problem)):
        problem = check(value) if value is not None else None
        if problem:  # else "run failed: ValueError: missing port ..." (exit 1), not --dry-run
            shown = _hidden_password(value) if option == "--storage" else value
            _err(f"hpsearch: error: {option}: {problem}, got {shown[:200]!r}")
            return EXIT_USAGE

    for option, value in (("--out", args.out), ("--storage", args.storage)):
        path = value if option == "--out" or value is None else _storage_path(value)
        problem = path_problem(path) if path else None
        if option == "--storage" and value is not None and not problem:
            problem = storage_driver_problem(value)  # else an ImportError, exit 1
        if problem:  # else "run failed: ValueError: embedded null byte" (exit 1)
            _err(f"hpsearch: error: {option}: {problem}, got {_hidden_password(value)[:100]!r}")
            return EXIT_USAGE
    if args.resume and args.overwrite:
        _err("hpsearch: error: --resume and --overwrite exclude each other (continue the "
             "earlier run, or replace it)")
        return EXIT_USAGE
    if args.fit_timeout is not None and not 0 < args.fit_timeout < float("inf"):
        _err(f"hpsearch: error: --fit-timeout must be a finite number of seconds > 0, got "
             f"{args.fit_timeout:g}")
        return EXIT_USAGE
    from hpsearch.study.build import Options, build, output_folder
    from hpsearch.study.errors import StudyError, UsageError, capped_errors
    from hpsearch.study.limits import check_default_output, check_storage_driver, check_study
    from hpsearch.study.loader import load_study
    from hpsearch.study.registry import DEFAULT_ALLOWED_MODULES
    from hpsearch.study.runner import (RunFailed, check_output, check_writable, kept_trials,
                                       run, trials_in_progress)

    options = Options(
        n_jobs=args.n_jobs, out=args.out, storage=args.storage, resume=args.resume,
        overwrite=args.overwrite, dry_run=args.dry_run, smoke=args.smoke, quiet=args.quiet,
        fit_timeout=args.fit_timeout, scheduler=args.scheduler,
        allowed_modules=tuple(DEFAULT_ALLOWED_MODULES) + tuple(args.allow_module),
    )
    lines, plan = {}, None
    try:
        # every limit first (no data read, no scikit-learn import): refused in well under 1 s
        study, lines, text = load_study(args.study)
        check_study(study, options, dry_run=args.dry_run)
        check_storage_driver(study, options)
        output_key = ("output",) if study.output is not None and not args.out else None
        folder = output_folder(study, args.study, options)
        if not args.out and study.output is None:  # runs/<name>
            check_default_output(folder)
        check_output(folder, output_key, "--out" if args.out else None)
        if not args.dry_run:  # (a dry run writes nothing)
            check_writable(folder, output_key, "--out" if args.out else None,
                           storage=args.storage or study.storage)
        if not args.debug:
            _quiet_warnings(args.quiet)
        _sigterm_as_ctrl_c()  # after the limits: it imports the engine (scikit-learn, joblib)
        plan = build(study, source=args.study, options=options)
        if args.dry_run:
            from hpsearch.study.report import describe_plan

            _print_out(describe_plan(plan))
            return EXIT_OK
        for note in plan.notes:
            _err(f"hpsearch: note: {note}")
        if not args.debug and any(" is not enforced with " in n
                                  for n in plan.notes):  # said by the note, in the
            warnings.filterwarnings(  # file's words (was: the search's warning too)
                "ignore", message=r"fit_timeout=\S+ is not enforced on ")
        summary = run(plan, source_text=text, resume=args.resume, overwrite=args.overwrite,
                      echo=None if args.quiet else _print_out, output_key=output_key)
    except UsageError as exc:
        if args.debug:
            traceback.print_exc()
        _err(f"hpsearch: error: {exc}")
        return EXIT_USAGE
    except StudyError as exc:
        if args.debug:
            traceback.print_exc()
        for text in capped_errors(_with_lines(exc, lines, args.study)):
            _err(f"hpsearch: error in {args.study}: {text}")
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        terminated = _is_terminated(exc)
        kept = kept_trials(plan) if plan is not None else None  # nested searches included
        where = f" in {plan.storage}" if plan is not None else ""
        count = f"{kept} finished candidate(s) kept" if kept is not None else "finished fits kept"
        open_ = trials_in_progress(plan) if kept is not None else None
        more = (f"; {open_} candidate(s) in progress keep their finished fits" if open_
                else "")
        _err(f"\nhpsearch: {'terminated (SIGTERM)' if terminated else 'interrupted'}; "
             f"{count}{where}{more}.")
        _err(f"resume with: {_resume_command(args)}")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except RunFailed as exc:
        if args.debug:
            traceback.print_exc()
        _err(f"hpsearch: run failed: {exc}")
        return EXIT_FAILED
    except Exception as exc:  # the boundary: one clear line, or the traceback with --debug
        if args.debug:
            traceback.print_exc()
        else:
            _err(f"hpsearch: run failed: {_explain(exc, plan)} (--debug shows the traceback)")
        if (_store_write_failed(exc) or _disk_refused(exc)) and not _store_deleted(exc, plan):
            _err(f"resume with: {_resume_command(args)}")  # the recorded fits are kept
        return EXIT_FAILED
    if not args.quiet:
        _print_out(summary["text"])
    elif summary.get("n_failed"):  # the one word of a quiet run on its failed fits
        _err(f"hpsearch: {summary['n_failed']} of {summary['n_fits']} fits failed "
             f"(tracebacks in {plan.out}/results.csv)")
    return EXIT_OK


def console():  # pragma: no cover - thin wrapper for entry points that expect no return
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
