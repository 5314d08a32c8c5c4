"""A hostile user of ``python -m hpsearch``: Ctrl-C at awkward moments, odd study values.
Each test starts one short subprocess or runs the CLI in this process (a few seconds)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from _study_files import GRID_STUDY

ROOT = Path(__file__).resolve().parents[1]

STUDY = "name: hostile\n" + GRID_STUDY

#: ``python -m`` this module: ``python -m hpsearch``, with a Ctrl-C raised inside an
#: ``exec`` of source text while the search is built (as SciPy's import of its
#: distributions execs each one's argument parser: the Ctrl-C of a user landed there)
CTRL_C_IN_EXEC = textwrap.dedent(
    """\
    import runpy
    import sys

    import hpsearch.study.build

    def build(*args, **kwargs):
        exec("raise KeyboardInterrupt")

    sys.modules["hpsearch.study.build"].build = build
    runpy.run_module("hpsearch", run_name="__main__", alter_sys=True)
    """
)


def test_ctrl_c_inside_an_exec_of_an_import_exits_130_not_by_sigint(tmp_path):
    # was: "interrupted ... resume with" printed, then the process killed itself by
    # SIGINT (returncode -2): CPython noted the KeyboardInterrupt that left exec() as
    # unhandled, and `python -m` acts on that note whatever the exit code
    (tmp_path / "s.yaml").write_text(STUDY)
    (tmp_path / "ctrl_c_in_exec.py").write_text(CTRL_C_IN_EXEC)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "ctrl_c_in_exec", "s.yaml", "--out", "o"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "hpsearch: interrupted" in proc.stderr
    assert proc.returncode == 130, (proc.returncode, proc.stderr)


def _dry_run(tmp_path, capsys, text):
    from hpsearch.cli import main

    (tmp_path / "s.yaml").write_text(text)
    code = main([str(tmp_path / "s.yaml"), "--dry-run", "--out", str(tmp_path / "o")])
    return code, capsys.readouterr().err


def test_n_splits_null_names_cv_n_splits_and_evaluate_n_splits(tmp_path, capsys):
    # was: "cv: The number of folds must be of Integral type ..." (and "evaluate.outer:")
    base = STUDY.replace("cv: 3\n", "")
    code, err = _dry_run(tmp_path, capsys, base + "cv: {method: kfold, n_splits: null}\n")
    assert code == 2 and "cv.n_splits: The number of folds" in err and "None" in err, err
    code, err = _dry_run(tmp_path, capsys, base + "cv: 3\nevaluate: {outer: kfold, n_splits: null}\n")
    assert code == 2 and "evaluate.n_splits: The number of folds" in err and "None" in err, err


LOG_SPACE = textwrap.dedent(
    """\
    data: {dataset: iris}
    estimator: {name: mlp_classifier, params: {hidden_layer_sizes: [4], max_iter: 3}}
    search:
      method: %s
      space:
        alpha: {type: float, low: 1.0e-5, high: 1000000000000000000000, log: true, n: 3}
    cv: 3
    """
)


def test_a_log_float_bound_beyond_int64_is_a_number_not_a_crash(tmp_path, capsys):
    # was: grid: "run failed: TypeError: loop of ufunc does not support argument 0 of type
    # float which has no callable log10 method" (exit 1); halving: "search: loop of ufunc
    # ..." (exit 2 naming nothing wrong): NumPy made the int an object array
    for method in ("grid", "halving\n  n_candidates: 3\n  resource: epochs\n  max_resources: 3"):
        code, err = _dry_run(tmp_path, capsys, LOG_SPACE % method)
        assert code == 0, err
    from hpsearch.model_selection.space import Float

    grid = Float(1e-5, 10**21, log=True, n=3).grid()
    assert grid == [1e-5, 1e8, 1e21]
    assert 1e-5 <= Float(1e-5, 10**21, log=True).rvs(random_state=0) <= 1e21


def test_ctrl_c_before_the_run_starts_is_exit_130_without_a_traceback(
        tmp_path, capsys, monkeypatch):
    # was: a Ctrl-C during the first imports (outside the run's own try) went up as a
    # KeyboardInterrupt: a traceback of pydantic's import, no "interrupted"
    import hpsearch.cli as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "make_parser", interrupted)
    (tmp_path / "s.yaml").write_text(STUDY)
    assert cli.main([str(tmp_path / "s.yaml")]) == 130
    assert capsys.readouterr().err.strip() == "hpsearch: interrupted"
    assert not (tmp_path / "runs").exists()


#: ``python -c`` this: the CLI, with a SIGTERM arriving while the study file is read
SIGTERM_WHILE_READING = textwrap.dedent(
    """\
    import signal
    import sys

    import hpsearch.study.loader as loader

    real = loader.load_study

    def load_study(path):
        signal.raise_signal(signal.SIGTERM)
        return real(path)

    loader.load_study = load_study
    from hpsearch.cli import main

    sys.exit(main(["s.yaml", "--out", "o"]))
    """
)


def test_sigterm_while_the_study_file_is_read_is_exit_143_like_ctrl_c(tmp_path):
    # was: killed by the signal (returncode -15, no message) in the first seconds, before
    # the run's handler was installed, while a Ctrl-C there said "interrupted", exit 130
    (tmp_path / "s.yaml").write_text(STUDY)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_READING], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 143, (proc.returncode, proc.stderr)
    assert "hpsearch: terminated (SIGTERM)" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_a_bad_estimator_parameter_names_its_own_key(tmp_path, capsys):
    # was: "estimator.params: The 'n_neighbors' parameter of ..." (the section, not the key)
    text = STUDY.replace("{name: knn_classifier}",
                         "{name: knn_classifier, params: {n_neighbors: false}}")
    text = text.replace("n_neighbors: [1, 3]", "weights: [uniform, distance]")
    code, err = _dry_run(tmp_path, capsys, text)
    assert code == 2, err
    assert "estimator.params.n_neighbors: The 'n_neighbors' parameter" in err
    assert "Got False" in err
