"""A hostile user of ``python -m hpsearch``: Ctrl-C at awkward moments, odd study values.
Each test starts one short subprocess or runs the CLI in this process (a few seconds)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STUDY = textwrap.dedent(
    """\
    name: hostile
    data: {dataset: iris}
    estimator: {name: knn_classifier}
    search:
      method: grid
      space:
        n_neighbors: [1, 3]
    cv: 3
    """
)

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
