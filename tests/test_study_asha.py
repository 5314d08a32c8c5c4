"""ASHA and multi-process searches run from study files, under hostile use: bad values of
every ``search`` key of ``method: asha``, a resumed study whose file was edited, storage
settings from a stranger, several processes on one storage and output folder."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hpsearch.cli import main

ROOT = Path(__file__).resolve().parents[1]

STUDY = textwrap.dedent(
    """\
    name: tiny_asha
    seed: 0
    data: {dataset: digits, subset: 150}
    estimator:
      name: mlp_classifier
      params: {hidden_layer_sizes: [4], batch_size: 64}
    search:
      method: asha
      n_trials: 4
      resource: epochs
      min_resources: 1
      max_resources: 3
      factor: 3
      space:
        learning_rate_init: {type: float, low: 1e-3, high: 1e-1, log: true}
    cv: 2
    scoring: accuracy
    n_jobs: 1
    """
)


def _write(tmp_path, text=STUDY, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("key, value, expected", [
    ("min_resources", "0", "search.min_resources: must be >= 1, got 0"),
    ("min_resources", "2.5", "search.min_resources: must be a positive integer, 'smallest' or "
                           "'exhaust', got 2.5"),
    ("min_resources", "true", "search.min_resources: must be a positive integer, "
                              "'smallest' or 'exhaust', got true"),
    ("max_resources", "0", "search.max_resources: must be >= 1, got 0"),
    ("max_resources", ".inf", "search.max_resources: must be a positive integer or 'auto', "
                              "got inf"),
    ("max_resources", "[3]", "search.max_resources: must be a positive integer or 'auto', "
                             "got [3]"),
])
def test_a_bad_budget_value_names_its_key_once(tmp_path, capsys, key, value, expected):
    """A union key (a number or a word) gave two errors whose key paths held pydantic's
    branch names: ``search.min_resources.literal['smallest','exhaust']: ...`` and
    ``search.min_resources.constrained-int: ...``."""
    text = STUDY.replace(f"  {key}: ", f"  {key}: {value}  # was ")
    rc = main([str(_write(tmp_path, text)), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert expected in err, err
    assert "literal" not in err and "constrained" not in err, err
    assert err.count("search.") == 1, err
    assert not (tmp_path / "out").exists()
