"""A study file can do no harm (issue 11): hostile files are refused before any work, in
well under a second, with exit code 2 and a message naming the key, the limit and the
value; nothing is written outside the run folder, and hpsearch removes only its own files.

Each hostile file runs ``python -m hpsearch`` in a subprocess with ``tmp_path`` as the
working directory. The time asserted is the child's CPU time (user + system, from
``getrusage``): on a loaded machine wall-clock time measures the other processes too.
"""

import errno
import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _study_files import GRID_STUDY

from hpsearch.cli import _explain, main
from hpsearch.study import limits

ROOT = Path(__file__).resolve().parents[1]

BASE = GRID_STUDY


def _cli(cwd, text, *args, name="s.yaml"):
    """Run the CLI on ``text`` in ``cwd``: (process, child CPU seconds, wall seconds)."""
    (cwd / name).write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "hpsearch", name, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, cpu, wall


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def _etc():
    return sorted(os.listdir("/etc"))


#: ten integer parameters of a random forest (a grid of 10 values each: 10**10 candidates)
FOREST = ("n_estimators", "max_depth", "min_samples_split", "min_samples_leaf", "max_leaf_nodes",
          "max_features", "random_state", "verbose", "n_jobs", "max_samples")
DEEP = "[" * 10_000 + "]" * 10_000
BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
)
BIG_LIST = ", ".join(str(i) for i in range(200_000))

#: (id, how the base file changes, text expected in the error)
HOSTILE = [
    ("output-etc", "output: /etc\n", "output: must be a folder inside the working directory"),
    ("output-up", "output: ../escaped\n", "output: must be a folder inside the working"),
    ("name-etc", "name: /etc\n", "name: must be a plain name"),
    ("name-up", "name: ../x\n", "name: must be a plain name"),
    ("name-dotdot", "name: '..'\n", "name: must be a plain name"),
    ("storage-abs", "storage: sqlite:////tmp/hpsearch-evil.db\n",
     "storage: a storage file must be inside the working directory"),
    ("storage-journal-up", "storage: ../evil.log\n", "storage: a storage file must be inside"),
    ("n-jobs", "n_jobs: 1000000\n", "n_jobs: must be <= 4096"),
    ("seed", "seed: 100000000000000000000\n", "seed: must be <= 4294967295"),
    ("alias-bomb", BOMB + "\n", "more than 100,000 values once its YAML aliases"),
    ("deep-nesting", f"seed: {DEEP}\n", "nested more than 32 levels deep"),
    ("grid-1e10", None, "the grid has 10,000,000,000 candidates, more than the limit of 100,000"),
    ("list-200k", None, "more than the limit of 1,048,576"),
    ("n-iter", None, "search.n_iter: must be <= 100,000"),
    ("random-1e10-choices", None, "draws its candidates without repetition from all "
     "10,000,000,000 combinations"),
    ("max-resources", None, "search.max_resources: must be <= 1,000,000"),
    ("hyperband-plan", None, "search.max_resources: the plan samples"),
    ("halving-factor", None, "more than the limit of 40"),
    ("data-path-etc", None, "data.path: must be a CSV or Parquet file"),
]


def _text(case, extra):
    if extra is not None:
        return BASE + extra
    search = {
        "grid-1e10": "search:\n  method: grid\n  space:\n"
        + "".join(f"    {p}: [{', '.join(map(str, range(2, 12)))}]\n" for p in FOREST),
        "list-200k": f"search:\n  method: random\n  space:\n    n_neighbors: [{BIG_LIST}]\n",
        "n-iter": "search:\n  method: random\n  n_iter: 1000000000000\n"
        "  space:\n    n_neighbors: [1, 3]\n",
        "max-resources": "search:\n  method: hyperband\n  max_resources: 1000000000\n"
        "  space:\n    n_neighbors: [1, 3]\n",
        "hyperband-plan": "search:\n  method: hyperband\n  max_resources: 1000000\n"
        "  space:\n    n_neighbors: [1, 3]\n",
        "halving-factor": "search:\n  method: halving\n  max_resources: 1000000\n"
        "  factor: 1.1\n  space:\n    n_neighbors: [1, 3]\n",
    }
    if case == "data-path-etc":
        return BASE.replace("data: {dataset: iris}",
                            "data: {path: /etc/hostname, target: y}")
    head, _, _ = BASE.partition("search:")
    search["random-1e10-choices"] = search["grid-1e10"].replace("method: grid",
                                                               "method: random")
    if case in ("grid-1e10", "random-1e10-choices"):
        head = head.replace("knn_classifier", "random_forest_classifier")
    return head + search[case] + "cv: 3\n"


@pytest.mark.parametrize("case,extra,expected", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_study_is_refused_fast_and_writes_nothing(tmp_path, case, extra, expected):
    etc = _etc()
    proc, cpu, wall = _cli(tmp_path, _text(case, extra))
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert cpu < 1.0, (cpu, wall)
    assert _tree(tmp_path) == ["s.yaml"]  # nothing written, not even runs/
    assert _etc() == etc
    assert not (tmp_path.parent / "escaped").exists()
    assert not Path("/tmp/hpsearch-evil.db").exists()


def test_errors_do_not_echo_a_non_data_file(tmp_path):
    secret = tmp_path / "secret.cfg"
    secret.write_text("TOPSECRET-TOKEN,y\n1,2\n")
    text = BASE.replace("data: {dataset: iris}", f"data: {{path: {secret}, target: z}}")
    proc, _, _ = _cli(tmp_path, text)
    assert proc.returncode == 2 and "data.path: must be a CSV or Parquet file" in proc.stderr
    assert "TOPSECRET" not in proc.stderr
    hostname = Path("/etc/hostname")
    if hostname.is_file() and hostname.read_text().strip():
        proc, _, _ = _cli(tmp_path, _text("data-path-etc", None))
        assert hostname.read_text().strip() not in proc.stderr


def test_a_study_file_must_be_yaml(tmp_path):
    proc, cpu, _ = _cli(tmp_path, "TOPSECRET: 1\n", name="secret.cfg")
    assert proc.returncode == 2 and "a study file is a YAML file named *.yaml" in proc.stderr
    assert "TOPSECRET" not in proc.stderr and cpu < 1.0


def test_output_symlink_leaving_the_working_directory_is_refused(tmp_path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (work / "link").symlink_to(outside)
    proc, cpu, _ = _cli(work, BASE + "output: link/run\n")
    assert proc.returncode == 2 and "output: must be a folder inside" in proc.stderr
    assert list(outside.iterdir()) == [] and cpu < 1.0


def test_existing_folder_that_is_not_a_run_folder_is_refused(tmp_path):
    mine = tmp_path / "mine"
    (mine / "plots").mkdir(parents=True)
    files = {"report.md": "my notes", "results.csv": "a,b\n", "plots/figure.png": "png"}
    for name, content in files.items():
        (mine / name).write_text(content)
    before = {p: p.stat().st_mtime_ns for p in mine.rglob("*")}
    proc, cpu, _ = _cli(tmp_path, BASE + "output: mine\n")
    assert proc.returncode == 2, proc.stderr
    assert "output: mine exists and is not an hpsearch run folder" in proc.stderr
    assert cpu < 1.0
    proc, _, _ = _cli(tmp_path, BASE, "--out", str(mine), "--overwrite")
    assert proc.returncode == 2 and "hpsearch: error: " in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in mine.rglob("*")} == before
    for name, content in files.items():
        assert (mine / name).read_text() == content


def test_overwrite_removes_only_hpsearch_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(BASE + "name: safe\noutput: runs/safe\n")
    assert main(["s.yaml", "--quiet"]) == 0
    out = tmp_path / "runs" / "safe"
    assert (out / ".hpsearch-run").is_file() and (out / "plots" / "history.png").is_file()
    (out / "notes.txt").write_text("mine")
    (out / "plots" / "mine.png").write_text("mine")
    capsys.readouterr()
    # without --resume or --overwrite: nothing changes, both options are named
    assert main(["s.yaml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds 2 trial(s) of study 'safe'" in err
    assert "--resume" in err and "--overwrite" in err
    assert main(["s.yaml", "--overwrite", "--resume"]) == 2
    assert main(["s.yaml", "--overwrite"]) == 0
    assert "--overwrite: starting over in runs/safe/" in capsys.readouterr().out
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "plots" / "mine.png").read_text() == "mine"
    assert (out / "summary.json").is_file() and (out / "plots" / "history.png").is_file()


def test_links_in_a_run_folder_are_not_followed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(BASE + "name: linked\n")
    assert main(["s.yaml", "--quiet"]) == 0
    out, victim = tmp_path / "runs" / "linked", tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "report.md").unlink()
    (out / "report.md").symlink_to(victim)
    (out / "plots" / "history.png").unlink()
    (out / "plots" / "history.png").symlink_to(victim)
    (out / "plots" / "mine.png").symlink_to(victim)
    assert main(["s.yaml", "--quiet", "--resume"]) == 0
    assert victim.read_text() == "precious"
    assert not (out / "report.md").is_symlink() and (out / "report.md").is_file()
    assert (out / "plots" / "mine.png").is_symlink()  # not hpsearch's: left alone


def test_dry_run_of_a_huge_grid_reports_its_count(tmp_path):
    proc, _, _ = _cli(tmp_path, _text("grid-1e10", None), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "candidates: 10000000000" in proc.stdout
    assert "the grid has 10,000,000,000 candidates, more than the limit of 100,000" in proc.stdout


def test_a_long_list_is_read_in_linear_time(tmp_path):
    # 80,000 choices (just under the 100,000-value limit): loader, schema and build are
    # linear (about 1.5 s of CPU here, most of it the interpreter and imports)
    values = ", ".join(str(i) for i in range(1, 80_001))
    text = BASE.replace("method: grid", "method: random\n  n_iter: 3").replace(
        "n_neighbors: [1, 3]", f"n_neighbors: [{values}]\n    leaf_size: {{type: int, low: 10, "
        "high: 50}")
    proc, cpu, _ = _cli(tmp_path, text, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "candidates: 3" in proc.stdout and cpu < 6.0


def test_dry_run_into_a_closed_pipe_is_quiet(tmp_path):
    (tmp_path / "s.yaml").write_text(BASE)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(f"{sys.executable} -m hpsearch s.yaml --dry-run | true", shell=True,
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr


def test_n_jobs_above_the_cpus_is_capped_with_a_note(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    import importlib

    monkeypatch.setattr(importlib.import_module("hpsearch.study.build"), "available_cpus",
                        lambda: 2)
    (tmp_path / "s.yaml").write_text(BASE + "n_jobs: 64\n")
    assert main(["s.yaml", "--dry-run"]) == 0
    assert "note:       n_jobs=64 is more than the 2 CPU(s) available: using n_jobs=2" in (
        capsys.readouterr().out)


def test_missing_storage_directory_is_named(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(BASE)
    missing = tmp_path / "no" / "such"
    rc = main([str(tmp_path / "s.yaml"), "--out", str(tmp_path / "o"), "--quiet",
               "--storage", f"sqlite:///{missing}/x.db"])
    assert rc == 2
    assert f"directory {missing} does not exist" in capsys.readouterr().err


def test_disk_full_names_the_path(tmp_path, monkeypatch, capsys):
    import joblib

    def full(obj, path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(joblib, "dump", full)
    (tmp_path / "s.yaml").write_text(BASE)
    out = tmp_path / "o"
    assert main([str(tmp_path / "s.yaml"), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"disk full: cannot write {out / 'model.joblib'}" in err


def test_sqlite_disk_full_and_open_errors_name_the_store():
    import sqlite3

    class Plan:
        storage, out = "sqlite:////data/study.db", Path("/data")

    def chained(message):
        try:
            try:
                raise sqlite3.OperationalError(message)
            except sqlite3.OperationalError as exc:
                raise RuntimeError("invalid data in the commit, e.g. exceeding max length") \
                    from exc
        except RuntimeError as exc:
            return exc

    assert _explain(chained("database or disk is full"), Plan()) == (
        "disk full: the trial store sqlite:////data/study.db cannot grow "
        "(database or disk is full)")
    assert "cannot open the trial store sqlite:////data/study.db" in _explain(
        chained("unable to open database file"), Plan())


def test_multiprocessing_backend_runs(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(BASE + "n_jobs: 2\nbackend: {name: multiprocessing}\n")
    assert main([str(tmp_path / "s.yaml"), "--out", str(tmp_path / "o"), "--quiet"]) == 0


CUSTOM = textwrap.dedent(
    """\
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Majority(ClassifierMixin, BaseEstimator):
        def __init__(self, shift=0):
            self.shift = shift

        def fit(self, X, y):
            self.classes_, counts = np.unique(y, return_counts=True)
            self.label_ = self.classes_[np.argmax(counts)]
            return self

        def predict(self, X):
            return np.full(len(X), self.label_)
    """
)


def test_custom_estimator_without_parameter_constraints(tmp_path, monkeypatch):
    (tmp_path / "majority.py").write_text(CUSTOM)
    monkeypatch.syspath_prepend(str(tmp_path))
    text = BASE.replace("knn_classifier", "'majority:Majority'").replace("n_neighbors", "shift")
    (tmp_path / "s.yaml").write_text(text)
    assert main([str(tmp_path / "s.yaml"), "--out", str(tmp_path / "o"), "--quiet",
                 "--allow-module", "majority"]) == 0


def test_sample_index_fit_parameter_is_refused():
    import numpy as np
    from sklearn.datasets import load_iris

    from hpsearch import GridSearchCV, MLPClassifier

    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(MLPClassifier(max_iter=2), {"alpha": [1e-4]}, cv=2)
    with pytest.raises(ValueError, match="'sample_index' fit parameter cannot be passed"):
        search.fit(X, y, sample_index=np.arange(50))
    assert not hasattr(search, "best_estimator_")


def test_limits_count_without_building():
    from hpsearch.study.loader import read_yaml, validate

    study = validate(*read_yaml(_text("grid-1e10", None)))
    assert limits.grid_size(study.search.space) == 10**10
