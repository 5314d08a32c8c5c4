"""CLI options on a fast study: --storage, --out, rerun without --resume, threading backend,
a failing run (exit 1, one line; --debug shows the traceback)."""

import json
import textwrap

import pytest

from hpsearch.cli import main

STUDY = textwrap.dedent(
    """\
    name: opts
    data: {dataset: iris, test_size: 0.3}
    estimator: {name: knn_classifier}
    search:
      method: grid
      space:
        n_neighbors: [1, 5]
    cv: 3
    backend: {name: threading}
    """
)


def test_storage_out_and_rerun(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text(STUDY)
    db = tmp_path / "elsewhere.db"
    args = [str(study), "--out", str(tmp_path / "o"), "--storage", f"sqlite:///{db}", "--n-jobs", "2"]
    assert main(args) == 0
    assert db.exists() and not (tmp_path / "o" / "study.db").exists()
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_candidates"] == 2 and summary["n_splits"] == 3
    assert summary["test_scores"]["accuracy"] > 0.8 and summary["metric"] == "accuracy"
    capsys.readouterr()
    # issue 11: a second run without --resume no longer starts over silently: it changes
    # nothing and names --resume and --overwrite (exit 2); --overwrite starts over
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "o").iterdir()}
    assert main([*args[:3], "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds the results of an earlier run" in err
    assert "--resume" in err and "--overwrite" in err
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "o").iterdir()} == before
    assert main(args) == 2  # the store elsewhere holds the study's trials
    assert "already holds 2 trial(s) of study 'opts'" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--quiet"]) == 0
    assert main([*args[:3], "--overwrite"]) == 0
    assert "starting over" in capsys.readouterr().out


def test_failed_run_is_exit_1_with_one_line(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.replace("n_neighbors: [1, 5]", "n_neighbors: [500]"))
    assert main([str(study), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hpsearch: run failed: every fit failed (3 errors")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    # (issue 11: the failed run's trials are kept; running again needs --overwrite)
    assert main([str(study), "--out", str(tmp_path / "o"), "--quiet", "--debug",
                 "--overwrite"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_resume_says_when_there_is_nothing_to_resume_or_the_file_changed(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text(STUDY)
    out = tmp_path / "o"
    assert main([str(study), "--out", str(out), "--resume"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"nothing to resume in sqlite:///{out.resolve()}/study.db "
                                   "(study 'opts'): starting a new run")
    assert "warning" not in captured.err
    study.write_text(STUDY.replace("n_neighbors: [1, 5]", "n_neighbors: [1, 5]  # edited"))
    assert main([str(study), "--out", str(out), "--resume", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"hpsearch: warning: the study file differs from {out}/study.yaml")


def test_resume_joining_a_study_whose_candidates_are_all_running_says_so(tmp_path, capsys):
    """A study holding only RUNNING trials (another process fitting, or one killed) is not
    'nothing to resume': its candidates are taken over or waited for."""
    import optuna

    from hpsearch.study.run_folder import _write_marker

    out = tmp_path / "o"
    out.mkdir()
    _write_marker(out)  # a run folder whose first run was killed before any candidate ended
    storage = f"sqlite:///{out.resolve()}/study.db"
    study = optuna.create_study(study_name="opts", storage=storage, direction="maximize")
    study.ask()  # RUNNING, owned by nobody alive: taken over by the resume
    path = tmp_path / "s.yaml"
    path.write_text(STUDY)
    assert main([str(path), "--out", str(out), "--resume"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"resuming {storage} (study 'opts'): no finished "
                                   "candidate yet, 1 being fitted or interrupted")


def test_quiet_run_with_failed_fits_says_one_line(tmp_path, capsys):
    # was: --quiet printed a traceback per failed scorer, "One or more of the test scores
    # are non-finite" and sklearn's "total space of parameters" note of a halving run
    import warnings

    study = tmp_path / "s.yaml"
    study.write_text(STUDY.replace("method: grid", "method: halving\n  resource: n_samples")
                     .replace("n_neighbors: [1, 5]", "n_neighbors: [1, 3, 100]"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([str(study), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert [str(w.message)[:40] for w in caught] == []
    err = capsys.readouterr().err
    where = tmp_path / "o" / "results.csv"
    assert err == f"hpsearch: 3 of 12 fits failed (tracebacks in {where})\n"


@pytest.mark.parametrize("option, value, words", [
    # was: exit 0, the fits run on the file's backend as if --scheduler were not given
    ("--scheduler", "", "--scheduler must not be empty, got ''"),
    # was: the plan printed (exit 0) and a run failed with "ValueError: missing port
    # number in address 'nonsense'" (exit 1)
    ("--scheduler", "nonsense", "--scheduler: must be a Dask scheduler address such as "
     "tcp://127.0.0.1:8786 (host:port, or scheme://host:port): missing port number in "
     "address 'nonsense', got 'nonsense'"),
    ("--scheduler", "tcp://127.0.0.1:99999", "a port in 1..65535 are needed, got "
     "'tcp://127.0.0.1:99999'"),
    ("--scheduler", "foo://h:1", "unknown address scheme 'foo'"),
    # was: a run failed with "NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:foo"
    ("--storage", "foo://bar", "--storage: not a kind of database SQLAlchemy knows ('foo'; "
     "e.g. sqlite, postgresql, mysql), got 'foo://bar'"),
    # was: accepted, allowing nothing
    ("--allow-module", "", "--allow-module must not be empty, got ''"),
])
def test_a_bad_option_value_is_exit_2_naming_the_option_rule_and_value(
        tmp_path, capsys, option, value, words):
    study = tmp_path / "s.yaml"
    study.write_text(STUDY)
    for extra in (["--dry-run"], ["--quiet"]):
        assert main([str(study), "--out", str(tmp_path / "o"), option, value, *extra]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith("hpsearch: error: ") and words in captured.err
        assert captured.out == ""
    assert not (tmp_path / "o").exists()


def test_a_scheduler_in_the_study_file_without_a_port_is_exit_2_before_any_fit(
        tmp_path, capsys):
    """Was: the plan printed (exit 0 with --dry-run) and the run failed with "ValueError:
    missing port number in address '127.0.0.1'" (exit 1)."""
    pytest.importorskip("distributed")
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.replace("{name: threading}",
                                   "{name: dask, scheduler: '127.0.0.1'}"))
    assert main([str(study), "--out", str(tmp_path / "o"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "backend.scheduler: must be a Dask scheduler address" in err
    assert "got '127.0.0.1' (line 9)" in err


def test_an_unreachable_scheduler_given_by_option_names_the_option(monkeypatch):
    """Was: "backend.scheduler: cannot connect ... or remove 'scheduler'" for --scheduler."""
    from types import SimpleNamespace

    from hpsearch.study import runner

    distributed = pytest.importorskip("distributed")

    def refuse(address):
        raise OSError(f"Timed out trying to connect to {address}")

    monkeypatch.setattr(distributed, "Client", refuse)
    spec = SimpleNamespace(name="dask", scheduler="tcp://127.0.0.1:1")
    plan = SimpleNamespace(study=SimpleNamespace(backend=None), backend=spec)
    with pytest.raises(runner.RunFailed, match=r"^--scheduler: cannot connect .*leave "
                                               r"--scheduler out"):
        with runner._backend(spec, runner._scheduler_source(plan)):
            pass
    plan.study.backend = spec
    with pytest.raises(runner.RunFailed, match=r"^backend.scheduler: .*remove 'scheduler'"):
        with runner._backend(spec, runner._scheduler_source(plan)):
            pass


def _gone_reader(monkeypatch, name):
    """``sys.<name>`` writing into a pipe whose reader has gone (``| head -1`` that
    has read its line): a write raises BrokenPipeError."""
    import os
    import sys

    read, write = os.pipe()
    os.close(read)
    stream = os.fdopen(write, "w")
    monkeypatch.setattr(sys, name, stream)
    return stream


def test_a_reader_gone_from_stderr_changes_no_exit_code_nor_the_run(tmp_path, monkeypatch):
    """``python -m hpsearch study.yaml 2>&1 | head -1``: the BrokenPipeError of a line on
    stderr (a note, an error) was caught as a failure of the run, whose own message
    failed again: a refused study exited 1 instead of 2, and a run with a note ended
    before any fit (exit 1). Now nothing more is written there and the run goes on."""
    study = tmp_path / "s.yaml"
    study.write_text(STUDY)
    streams = [_gone_reader(monkeypatch, "stderr"), _gone_reader(monkeypatch, "stdout")]
    assert main([str(study), "--out", str(tmp_path / "o"), "--n-jobs", "0"]) == 2
    streams.append(_gone_reader(monkeypatch, "stderr"))
    # (a note: more workers than CPUs)
    assert main([str(study), "--out", str(tmp_path / "o"), "--n-jobs", "4096"]) == 0
    assert (tmp_path / "o" / "summary.json").exists()
    for stream in streams:
        try:
            stream.close()
        except OSError:
            pass


@pytest.mark.parametrize("debug", [False, True])
def test_a_warning_of_the_run_is_one_hpsearch_line_not_a_python_location(tmp_path, debug):
    """A warning hpsearch gives during a ``python -m hpsearch`` run (e.g. a ``--resume``
    leaving stored candidates out) is a ``hpsearch: warning: ...`` line, as the CLI's own
    warnings are. Was: Python's format with the location its ``stacklevel`` found outside
    the package, ``<frozen runpy>:88: UserWarning: ...`` (the interpreter's module runner,
    no file of the user's). ``--debug`` keeps Python's format."""
    import subprocess
    import sys

    study = tmp_path / "s.yaml"
    study.write_text(STUDY)
    code = textwrap.dedent(f"""\
        import runpy, sys, warnings
        import hpsearch.study.report as report
        from hpsearch.model_selection._base import _outside_package

        describe = report.describe_plan

        def warning_plan(plan):
            warnings.warn("2 stored candidates left out", UserWarning,
                          stacklevel=_outside_package())
            warnings.warn("a future change", FutureWarning, stacklevel=_outside_package())
            return describe(plan)

        report.describe_plan = warning_plan
        sys.argv = ["hpsearch", {str(study)!r}, "--dry-run"{', "--debug"' if debug else ''}]
        runpy.run_module("hpsearch", run_name="__main__", alter_sys=True)
        """)
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # (an in-process
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env)  # main() of a test sets it)
    assert done.returncode == 0, done.stderr
    if debug:
        assert "UserWarning: 2 stored candidates left out" in done.stderr
    else:
        lines = done.stderr.splitlines()
        assert "hpsearch: warning: 2 stored candidates left out" in lines, done.stderr
        assert "hpsearch: warning: FutureWarning: a future change" in lines, done.stderr
        assert "runpy" not in done.stderr and "UserWarning" not in done.stderr


def test_main_called_from_python_leaves_the_callers_warnings_as_they_were(tmp_path,
                                                                       monkeypatch):
    """``hpsearch.cli.main`` called from Python (a notebook, a script, a test) gives back
    the warning format, the warning filters and ``PYTHONWARNINGS``. Was: the caller's
    process ignored every ConvergenceWarning from then on (and its subprocesses every
    UserWarning, through the environment variable the run sets for its workers)."""
    import os
    import warnings

    study = tmp_path / "s.yaml"
    study.write_text(STUDY)
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    before = warnings.formatwarning, list(warnings.filters)
    assert main([str(study), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert (warnings.formatwarning, list(warnings.filters)) == before
    assert "PYTHONWARNINGS" not in os.environ
