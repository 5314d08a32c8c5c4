"""A stranger's study file, and a machine that misbehaves, can do no harm (second pass).

Holes found by a hostile pass over ``python -m hpsearch study.yaml``, each refused before
any work with exit code 2 and a message naming the key, the rule and the value:

* an estimator parameter naming a folder (``memory`` of a Pipeline step, searched as
  ``preprocess__memory: [/anywhere]``) made joblib write its cache outside the run folder;
* ``storage: pkg/__init__.py`` (an empty file) turned the user's file into a SQLite database;
* ``cv: {method: monte_carlo, n_splits: 1000000000}`` exhausted the memory listing splits;
* a study file or ``data.path`` that is a symlink to ``/dev/zero`` (or a FIFO) was read
  forever; a data file linked to ``/proc/self/environ`` was parsed;
* a YAML integer of 5,000 digits or a date such as ``2001-13-45`` ended as "run failed:
  ValueError" (exit 1) without naming the key;
* ``estimator: {name: 'sklearn.pipeline:Pipeline'}`` ended as "run failed: TypeError";
* ``backend: {name: dask}`` opened Dask's dashboards on every network interface.

Every CLI run is a subprocess with ``tmp_path`` as its working directory.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _study_files import GRID_STUDY

ROOT = Path(__file__).resolve().parents[1]

BASE = GRID_STUDY


def _cli(cwd, text, *args, name="s.yaml", env=None):
    """``python -m hpsearch name args`` in ``cwd`` (``text`` written to ``name`` unless
    None); killed after 60 s (a file read forever)."""
    if text is not None:
        (cwd / name).write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "hpsearch", name, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def _refused(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "run failed" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


@pytest.mark.parametrize("where", ["space", "params"])
def test_a_cache_folder_parameter_is_refused(tmp_path, where):
    evil = tmp_path / "outside" / "cache"
    if where == "space":  # a searched parameter of the preprocessing Pipeline
        text = BASE.replace("n_neighbors: [1, 3]",
                            f"n_neighbors: [1, 3]\n    preprocess__memory: ['{evil}']")
        text += "preprocessing: {scaler: standard}\n"
        key = "search.space.preprocess__memory: names a folder the estimator writes to"
    else:  # an allow-listed estimator with a memory parameter
        text = BASE.replace("{name: knn_classifier}", "{name: 'sklearn.cluster:"
                            f"FeatureAgglomeration', params: {{memory: '{evil}'}}}}")
        text = text.replace("n_neighbors: [1, 3]", "n_clusters: [2, 3]")
        key = "estimator.params.memory: names a folder the estimator writes to"
    proc = _cli(tmp_path, text, "--quiet")
    _refused(proc, key, str(evil))
    assert not evil.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


@pytest.mark.parametrize("storage", ["pkg/__init__.py", "sqlite:///pkg/__init__.py"])
def test_a_storage_file_must_have_a_trial_store_ending(tmp_path, storage):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    proc = _cli(tmp_path, BASE + f"storage: '{storage}'\n", "--quiet")
    _refused(proc, "storage: a storage file must be named *.db, *.sqlite", repr(storage))
    assert (tmp_path / "pkg" / "__init__.py").read_bytes() == b""
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("cv,key", [
    ("{method: monte_carlo, n_splits: 1000000000}", "cv.n_splits: must be <= 10,000"),
    ("{method: loo, max_splits: 1000000000}", "cv.max_splits: must be <= 10,000"),
    ("100000000", "cv: must be <= 10,000"),
])
def test_the_splits_of_a_study_are_bounded(tmp_path, cv, key):
    proc = _cli(tmp_path, BASE.replace("cv: 3", f"cv: {cv}"), "--quiet")
    _refused(proc, key, "got 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "folder"])
def test_a_study_file_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    path = tmp_path / "s.yaml"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    proc = _cli(tmp_path, None)
    _refused(proc, "the study file must be a regular file, not a folder, a device or a pipe")


@pytest.mark.parametrize("target", ["/dev/zero", "/proc/self/environ"])
def test_a_data_file_that_is_not_a_regular_file_is_refused(tmp_path, target):
    if not Path(target).exists():
        pytest.skip(f"no {target} here")
    (tmp_path / "data.csv").symlink_to(target)
    text = BASE.replace("{dataset: iris}", "{path: data.csv, target: y}")
    proc = _cli(tmp_path, text, "--quiet", env={"HPSEARCH_TEST_SECRET": "TOPSECRET-42"})
    _refused(proc, "data.path: must be a regular data file", "got 'data.csv'")
    assert "TOPSECRET" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("extra,expected", [
    ("seed: " + "1" * 5000 + "\n", "seed: not a valid YAML int (Exceeds the limit (4300 "
     "digits) for integer string conversion: value has 5000 digits), got '111"),
    ("name: 2001-13-45\n", "name: not a valid YAML timestamp (month must be in 1..12), got "
     "'2001-13-45'; quote it to keep it as text (line 8)"),
])
def test_a_yaml_value_python_cannot_convert_names_its_key(tmp_path, extra, expected):
    proc = _cli(tmp_path, BASE + extra, "--dry-run")
    _refused(proc, expected)
    assert len(proc.stderr) < 1000  # the 5,000 digits are not echoed


def test_a_long_value_is_cut_in_the_error(tmp_path):
    proc = _cli(tmp_path, BASE + "name: " + "a" * 200_000 + "\n", "--dry-run")
    _refused(proc, "name: must be a plain name", "... (200,000 characters) (line 8)")
    assert len(proc.stderr) < 1000


def test_an_estimator_class_that_needs_arguments_names_the_key(tmp_path):
    text = BASE.replace("knn_classifier", "'sklearn.pipeline:Pipeline'")
    proc = _cli(tmp_path, text, "--dry-run")
    _refused(proc, "estimator.name: Pipeline cannot be made from a study file: it needs "
             "arguments", "got 'sklearn.pipeline:Pipeline' (line 2)")


def test_a_local_dask_cluster_listens_on_loopback_only():
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("distributed")
    from hpsearch.study.runner import _backend
    from hpsearch.study.schema import BackendSpec

    def listening():
        return {c.laddr for c in psutil.Process().net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN}

    before = listening()
    with _backend(BackendSpec(name="dask")):
        opened = listening() - before
    assert opened, "the local cluster opened no port (its dashboards)"
    assert all(addr.ip in ("127.0.0.1", "::1") for addr in opened), opened


def test_a_default_run_folder_leaving_through_a_link_is_refused(tmp_path):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "runs").symlink_to(elsewhere)  # shipped with the study file
    proc = _cli(work, BASE, "--quiet")
    _refused(proc, "the run folder runs/s leaves the working directory through a symbolic "
             "link", "use --out runs/s")
    assert list(elsewhere.iterdir()) == []


def test_a_trial_store_link_planted_in_a_run_folder_is_not_followed(tmp_path):
    victim = tmp_path / "pkg" / "__init__.py"
    victim.parent.mkdir()
    victim.write_text("")
    out = tmp_path / "runs" / "s"
    out.mkdir(parents=True)
    (out / ".hpsearch-run").write_text('{"files": []}\n')
    (out / "study.db").symlink_to(Path("..", "..", "pkg", "__init__.py"))
    for flag in ("--resume", "--overwrite"):
        proc = _cli(tmp_path, BASE, "--quiet", flag)
        _refused(proc, "runs/s/study.db is a symbolic link (to ../../pkg/__init__.py)",
                 "--storage")
    assert victim.read_bytes() == b""


def test_a_file_size_limit_while_writing_the_output_is_named_and_resumed(tmp_path):
    """``ulimit -f`` reached while writing the output files (the trial store, a journal
    outside the run folder, still fits) ended "run failed: OSError: [Errno 27] File too
    large", naming neither the folder nor how to go on (then the folder only: the file
    being written is named now); the fits are kept and ``--resume`` writes every file."""
    import resource

    (tmp_path / "s.yaml").write_text(BASE)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "hpsearch", "s.yaml", "--quiet", "--storage", "store.log"]

    def limit():  # 12 kB: the journal fits, model.joblib (about 11 kB) too, the plots not
        resource.setrlimit(resource.RLIMIT_FSIZE, (12_000, 12_000))

    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, preexec_fn=limit)
    assert proc.returncode == 1, proc.stderr
    assert ("file size limit reached: cannot write runs/s/plots/history.png (File too large)"
            in proc.stderr)
    assert "resume with: python -m hpsearch s.yaml --resume --storage store.log" in proc.stderr
    out = tmp_path / "runs" / "s"
    assert not [p for p in out.rglob("*") if ".hpsearch-writing-" in str(p)]
    proc = subprocess.run(cmd + ["--resume"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("summary.json", "model.joblib", "report.md", "plots/history.png"):
        assert (out / name).is_file(), name


@pytest.mark.parametrize("where,key", [
    ("params", "estimator.params.n_jobs: must be <= 4,096 (workers of the estimator "
     "itself; -1 uses all cores), got 100,000"),
    ("space", "search.space.n_jobs: must be <= 4,096"),
])
def test_an_estimator_n_jobs_is_bounded(tmp_path, where, key):
    """``params: {n_jobs: 100000}``: joblib's threading backend starts that many threads."""
    if where == "params":
        text = BASE.replace("{name: knn_classifier}",
                            "{name: knn_classifier, params: {n_jobs: 100000}}")
    else:
        text = BASE.replace("n_neighbors: [1, 3]",
                            "n_neighbors: [1, 3]\n    n_jobs: {type: int, low: 1, high: 100000}")
    proc = _cli(tmp_path, text, "--quiet")
    _refused(proc, key)


@pytest.mark.parametrize("value,shown", [
    ('"a\\0b"', "'a\\x00b'"), ('"a\\nb"', "'a\\nb'"), ("x" * 600, "(600 characters)"),
])
def test_a_study_name_is_printable_and_bounded(tmp_path, value, shown):
    proc = _cli(tmp_path, BASE + f"study_name: {value}\n", "--dry-run")
    _refused(proc, "study_name: must be 1 to 500 printable characters", shown)


def test_a_run_marker_listing_other_files_does_not_make_overwrite_remove_them(tmp_path):
    """A run folder shipped with a study file, its marker listing the user's files
    (``output: .`` and ``.git/HEAD`` would do): ``--overwrite`` removes only files of the
    names a run writes, and of those only the ones a run recorded writing (their content
    hash): an unrecorded ``report.md`` is the user's, and the overwrite is refused."""
    out = tmp_path / "runs" / "s"
    (out / "notes").mkdir(parents=True)
    (out / "plots").mkdir()
    precious = ["notes/precious.txt", "plots/mine.txt", "main.py"]
    for name in precious:
        (out / name).write_text("mine")
    (out / "report.md").write_text("an earlier report")
    (out / ".hpsearch-run").write_text('{"files": ["notes/precious.txt", "plots/mine.txt", '
                                       '"main.py", "report.md"]}\n')
    proc = _cli(tmp_path, BASE, "--quiet", "--overwrite")
    _refused(proc, "runs/s holds 1 file(s) of the names hpsearch writes that no run of "
             "hpsearch recorded writing there", ": report.md; --overwrite removes only")
    for name in precious:
        assert (out / name).read_text() == "mine", name
    assert (out / "report.md").read_text() == "an earlier report"


def test_temporary_files_of_a_killed_run_are_removed(tmp_path):
    """A process killed (SIGKILL) while writing the copy of the study file or the marker
    left ``.study.yaml.<pid>-<hex>.tmp`` (half a file) in the run folder for good; the
    next run removes those of dead processes, and leaves a live one's."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    out = tmp_path / "runs" / "s"
    out.mkdir(parents=True)
    (out / ".hpsearch-run").write_text('{"files": []}\n')
    half = [out / f".study.yaml.{dead}-0badc0de.tmp", out / f".hpsearch-run.{dead}-12345678.tmp"]
    live = out / f".study.yaml.{os.getpid()}-0badc0de.tmp"
    for path in (*half, live):
        path.write_text("data: {data")
    proc = _cli(tmp_path, BASE, "--quiet", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert not any(p.exists() for p in half) and live.is_file()
    assert (out / "summary.json").is_file()


def test_a_data_header_reaches_an_error_escaped_and_cut(tmp_path):
    """The column names an error lists came raw from the data file: a header of terminal
    escape sequences (or of 2,000 columns) went to the terminal as it was."""
    header = ["\x1b]0;pwned\x07", *(f"c{i}" for i in range(2_000))]
    (tmp_path / "data.csv").write_text(",".join(header) + "\n" + ",".join(["1"] * len(header))
                                       + "\n")
    text = BASE.replace("{dataset: iris}", "{path: data.csv, target: y}")
    proc = _cli(tmp_path, text, "--quiet")
    _refused(proc, "data.target: no column 'y' in data.csv", "(columns: '\\x1b]0;pwned\\x07', "
             "c0, c1,", "... (1,971 more))")
    assert "\x1b" not in proc.stderr and len(proc.stderr) < 2000


@pytest.mark.parametrize("where,key", [
    ("params", "estimator.params.hidden_layer_sizes: a network of 40,001,800,003 weights "
     "(4 inputs, 3 outputs), more than the limit of 100,000,000"),
    ("space", "search.space.hidden_layer_sizes[1]: a network of 200,508,003 weights"),
])
def test_a_network_too_large_to_hold_is_refused(tmp_path, where, key):
    """``hidden_layer_sizes: [200000, 200000]`` asked numpy for 149 GiB in every worker
    (exit 1, or an out-of-memory kill of the machine's processes below the RAM)."""
    text = BASE.replace("knn_classifier}", "mlp_classifier}")
    if where == "params":
        text = text.replace("mlp_classifier}", "mlp_classifier, params: "
                            "{hidden_layer_sizes: [200000, 200000]}}").replace(
            "n_neighbors: [1, 3]", "alpha: [0.1, 1.0]")
    else:
        text = text.replace("n_neighbors: [1, 3]",
                            "hidden_layer_sizes: [[10], [100000, 2000]]")
    proc = _cli(tmp_path, text, "--dry-run")
    _refused(proc, key)


@pytest.mark.parametrize("where", ["space", "params"])
def test_a_vectorizer_reading_the_files_the_data_names_is_refused(tmp_path, where):
    """scikit-learn's text vectorizers with ``input='filename'`` open every path the data
    file's text column names (any file the user can read, turned into features)."""
    if where == "params":
        text = BASE.replace("{name: knn_classifier}", "{name: 'sklearn.feature_extraction."
                            "text:CountVectorizer', params: {input: filename}}")
        key = "estimator.params.input: may not be 'filename' or 'file' in a study file"
    else:
        text = BASE.replace("n_neighbors: [1, 3]",
                            "n_neighbors: [1, 3]\n    vectorizer__input: [content, file]")
        key = "search.space.vectorizer__input: may not be 'filename' or 'file'"
    proc = _cli(tmp_path, text, "--quiet")
    _refused(proc, key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]
