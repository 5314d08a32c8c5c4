"""The documentation runs: every docstring example (doctest) and every Python block of the
README (in order, as one session, the way a reader types them), with the figures the README
states checked against what the code prints.

A README block is skipped only when an HTML comment right above it says why:
``<!-- docs-test: skip (reason) -->`` (e.g. it needs a Dask scheduler). Keep the examples
small (a few seconds each): this file runs in CI on 2 busy cores.
"""

import doctest
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]*)\)\s*-->\s*\n$")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples():
    """Dotted names of hpsearch's modules whose source holds a ``>>>`` example."""
    names = []
    for path in sorted((ROOT / "hpsearch").rglob("*.py")):
        if path.name == "__main__.py" or ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules_with_examples()


def test_docstring_examples_are_found():
    assert {"hpsearch.mlp", "hpsearch.model_selection.split",
            "hpsearch.model_selection.nested"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(ROOT), module.__file__
    with threadpool_limits(1):  # as hpsearch's workers: BLAS threads only contend on 2 cores
        result = doctest.testmod(module, optionflags=FLAGS, verbose=False, report=True)
    assert result.attempted > 0, f"{name}: no example found"
    assert result.failed == 0, f"{name}: {result.failed} example(s) failed (printed above)"


def readme_blocks(text):
    """``(line, code, skip_reason)`` of every ```` ```python ```` block of ``text``."""
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
        line = text.count("\n", 0, match.start()) + 2  # the block's first code line
        skip = SKIP.search(text[:match.start()])
        blocks.append((line, match.group(1), skip and skip["reason"]))
    return blocks


# What the README says its blocks give, checked on the session they ran in:
# (expression, its value, the README's words for it). The words must be in the README
# (comment markers and line breaks aside), so a figure changed in one place fails here.
CLAIMS = [
    ("pipe.score(X_test, y_test)", pytest.approx(0.96, abs=0.01), "# ~0.96"),
    ("str(d).split(' Try, in order')[0]",
     "Training problem: the training score is 0.101, below the threshold 0.909 (the linear "
     "reference scores 0.999 and the trivial baseline 0.102 on the same training rows), so "
     "optimize first; dropout and regularization will not help. Causes: vanishing gradients "
     "(the first layer's RMS gradient is 4.7e-09 of the last layer's).",
     "print(d) # Training problem: the training score is 0.101, below the threshold 0.909 "
     "(the linear reference scores 0.999 and the trivial baseline 0.102 on the same training "
     "rows), so optimize first; dropout and regularization will not help. Causes: vanishing "
     "gradients (the first layer's RMS gradient is 4.7e-09 of the last layer's). Try, in "
     "order: mlpclassifier__activation='relu', mlpclassifier__init='he'; ..."),
    ("d.problem, d.causes, d.fixes[0]['mlpclassifier__activation']",
     ["training", ["vanishing_gradients"], "relu"],
     "d.problem, d.causes, d.fixes[0] # 'training', ['vanishing_gradients'], "
     "{'mlpclassifier__activation': 'relu', ...}"),
    ("diagnose(d.apply(deep), X, y, random_state=0).problem", "none",
     "diagnose(d.apply(deep), X, y, random_state=0).problem # 'none'"),
    ("[(s['stage'], s['reason']) for s in search.stages_]",
     [["training", "training is good after 4 candidates (4 train at or above the recipe's "
                   "threshold)"],
      ["generalization", "budget of 12 candidates spent; picked validation 0.9521 with "
                         "training 1 (floor 0.9093)"]],
     "[(s[\"stage\"], s[\"reason\"]) for s in search.stages_] # [('training', \"training is "
     "good after 4 candidates (4 train at or above the recipe's threshold)\"), "
     "('generalization', 'budget of 12 candidates spent; picked validation 0.9521 with "
     "training 1 (floor 0.9093)')]"),
    ("sorted(set(search.cv_results_['state']))", ["COMPLETE", "RACED"],
     'search.cv_results_["state"] # "COMPLETE" or "RACED"'),
    ("search.cv_results_['raced'].dtype == bool and list(search.cv_results_['raced']) "
     "== [state == 'RACED' for state in search.cv_results_['state']]", True,
     'also a boolean "raced" column'),
]


def _flat(text):
    """``text`` without comment markers and line breaks: a README comment as one line."""
    return " ".join(re.sub(r"\n\s*#\s?", " ", text).replace("#", " ").split())


RUNNER = textwrap.dedent('''
    import json, sys, traceback, warnings
    warnings.simplefilter("ignore")
    import matplotlib
    matplotlib.use("Agg")
    blocks = json.load(open(sys.argv[1]))
    ns = {"__name__": "__main__"}
    for line, code, claims in blocks:
        try:  # leading newlines: a traceback names the README's own line
            exec(compile("\\n" * (line - 1) + code, "README.md", "exec"), ns)
            values = [eval(expression, ns) for expression in claims]
        except BaseException:
            traceback.print_exc()
            print(f"README block at line {line} failed", file=sys.stderr)
            sys.exit(1)
        print("CLAIMS", json.dumps(values, default=lambda o: o.item() if hasattr(o, "item")
                                   else o.tolist() if hasattr(o, "tolist") else str(o)))
''')


def test_readme_claims_are_in_the_readme():
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    for _, _, words in CLAIMS:
        assert sum(_flat(words) in _flat(code) for _, code, _ in blocks) == 1, words


def test_readme_marks_only_what_it_must_skip():
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    skipped = [(line, reason) for line, _, reason in blocks if reason]
    assert len(blocks) >= 7
    assert [reason for _, reason in skipped] == [
        "needs a running Dask scheduler at tcp://scheduler:8786"], skipped


def test_readme_python_blocks_run(tmp_path):
    """All README blocks, in order, in one fresh interpreter run from an empty folder (the
    Optuna example writes ``search.db`` there), then the README's stated results."""
    blocks = [(line, code) for line, code, reason in readme_blocks(
        README.read_text(encoding="utf-8")) if not reason]
    # each claim is checked right after the block that gives it (later blocks reuse names)
    owner = {expression: next(k for k, (_, code) in enumerate(blocks)
                              if _flat(words) in _flat(code))
             for expression, _, words in CLAIMS}
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps([(line, code, [e for e, i in owner.items() if i == k])
                                for k, (line, code) in enumerate(blocks)]))
    script = tmp_path / "run_readme.py"
    script.write_text(RUNNER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
        # one BLAS thread: on a busy 2-core machine more threads make LogisticRegression 40x
        # slower; hpsearch's own workers pin BLAS anyway
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), str(spec)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    got = [value for line in proc.stdout.splitlines() if line.startswith("CLAIMS ")
           for value in json.loads(line[len("CLAIMS "):])]
    order = [e for k in range(len(blocks)) for e, i in owner.items() if i == k]
    expected = {expression: value for expression, value, _ in CLAIMS}
    assert len(got) == len(CLAIMS)
    for expression, value in zip(order, got):
        assert _same(value, expected[expression]), f"README claim {expression!r}: got {value!r}"


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def _same(value, expected):
    """``value`` as the README states it: the same words, and each number within the
    last digits another CPU's BLAS may change after many epochs (a stated score 0.9521 within
    0.02, a tiny gradient ratio 4.7e-09 within 25 %); lists element by element."""
    if isinstance(expected, list):
        return (isinstance(value, list) and len(value) == len(expected)
                and all(_same(v, e) for v, e in zip(value, expected)))
    if not isinstance(expected, str) or not isinstance(value, str):
        return value == expected
    if NUMBER.split(value) != NUMBER.split(expected):
        return False
    pairs = zip(map(float, NUMBER.findall(value)), map(float, NUMBER.findall(expected)))
    return all(v == pytest.approx(e, rel=0.25) if abs(e) < 1e-3 else
               v == pytest.approx(e, abs=0.02) for v, e in pairs)


def test_readme_dry_run_commands(tmp_path):
    """The README's shell lines that plan a study (``--dry-run``) run as written (from the
    repository root, where ``studies/`` is), fitting nothing."""
    text = README.read_text(encoding="utf-8")
    lines = [line.split("#")[0].strip() for block in re.findall(
        r"^```bash\n(.*?)^```", text, re.S | re.M) for line in block.splitlines()]
    commands = [line for line in lines if line.startswith("python -m hpsearch")
                and "--dry-run" in line]
    assert commands
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in commands:
        args = command.split()[3:]
        proc = subprocess.run([sys.executable, "-m", "hpsearch", *args, "--out",
                               str(tmp_path / "out")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, command + "\n" + proc.stdout + proc.stderr
        assert "fits:" in proc.stdout, proc.stdout
        assert not (tmp_path / "out").exists()  # a plan writes nothing


def test_count_fits_refuses_a_number_as_groups():
    """The README wrote ``count_fits(cv, X, y, n_candidates)``: the count went to
    ``groups`` (ignored by KFold) and 3 candidates x 5 splits counted as 5 fits."""
    from hpsearch.model_selection import KFold, count_fits
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match=r"The 'groups' parameter of count_fits must be an "
                       r"array-like or None. Got 3 instead .*n_candidates=3"):
        count_fits(KFold(5), X, y, 3)
    assert count_fits(KFold(5), X, y, n_candidates=3) == 15
    assert count_fits(KFold(5), X, y, np.arange(20) % 4, n_candidates=3) == 15


def _churn_csv(path, n=120):
    """A customers table for the README's study file: numbers, a text column, a target."""
    import pandas as pd
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"id": range(n), "age": rng.integers(18, 80, n),
                          "spend": rng.normal(50, 10, n),
                          "plan": rng.choice(["basic", "standard", "premium"], n)})
    table["churn"] = (table["spend"] + rng.normal(0, 5, n) > 50).astype(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)


def test_readme_study_file_plans(tmp_path, capsys):
    """The README's annotated study file (its ```` ```yaml ```` block) is a valid study: on a
    CSV with a text column (``categorical: columns: auto``) its dry run plans the search."""
    from hpsearch.cli import main

    text = README.read_text(encoding="utf-8")
    (study_yaml,) = re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)
    (tmp_path / "study.yaml").write_text(study_yaml)
    _churn_csv(tmp_path / "data" / "customers.csv")
    rc = main([str(tmp_path / "study.yaml"), "--dry-run", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "3 features" in captured.out and "fits:       32 (+1 refit)" in captured.out
    assert not (tmp_path / "out").exists()


def test_auto_categorical_columns_with_pandas_dtypes():
    """``categorical: columns: auto`` on pandas' extension dtypes: a ``string`` column (the
    default for text read by pandas 3) raised ``TypeError: Cannot interpret
    '<StringDtype...>' as a data type`` from ``np.issubdtype``."""
    import pandas as pd

    from hpsearch.study.registry import categorical_columns
    from hpsearch.study.schema import PreprocessingSpec

    X = pd.DataFrame({"n": [1.0, 2.0], "i": pd.array([1, None], dtype="Int64"),
                      "s": pd.array(["a", "b"], dtype="string"), "o": ["x", "y"],
                      "b": [True, False], "c": pd.Categorical(["u", "v"])})
    assert categorical_columns(PreprocessingSpec(), X) == ["s", "o", "b", "c"]
