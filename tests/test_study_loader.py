"""The study loader: safe YAML with key lines, YAML 1.2 floats, the schema on good input."""

import math
import textwrap

import pytest

from hpsearch.study.errors import StudyError
from hpsearch.study.loader import read_yaml, validate


def test_every_key_path_has_its_line():
    text = textwrap.dedent(
        """\
        data:
          dataset: iris
        search:
          space:
            lr: {low: 1}
            act: [a, b]
        """
    )
    _, lines = read_yaml(text)
    assert lines[("data",)] == 1 and lines[("data", "dataset")] == 2
    assert lines[("search", "space", "lr")] == 5 and lines[("search", "space", "lr", "low")] == 5
    assert lines[("search", "space", "act", 1)] == 6


@pytest.mark.parametrize("text,value", [("1e-4", 1e-4), ("-2.5E+3", -2500.0), ("3.", 3.0),
                                        (".5", 0.5), (".inf", math.inf), ("10", 10),
                                        ("'1e-4'", "1e-4"), ("1_000", 1000)])
def test_numbers_read_as_yaml_1_2(text, value):
    data, _ = read_yaml(f"x: {text}\n")
    assert data["x"] == value and type(data["x"]) is type(value)


def test_safe_loader_refuses_python_tags():
    with pytest.raises(StudyError, match="YAML tag '!!python/object:os.system' is not allowed"):
        read_yaml("x: !!python/object:os.system {}\n")


def test_valid_study_defaults():
    text = "data: {dataset: digits}\nestimator: {name: mlp_classifier}\n" \
           "search: {method: random, space: {alpha: {type: float, low: 1e-5, high: 1e-1, log: true}}}\n"
    study = validate(*read_yaml(text))
    assert study.cv == 5 and study.seed == 0 and study.refit is True
    assert study.data.test_size == 0.2 and study.search.space["alpha"].log is True


def test_condition_on_searched_parameter_is_valid():
    text = textwrap.dedent(
        """\
        data: {dataset: digits}
        estimator: {name: mlp_classifier}
        search:
          method: optuna
          space:
            activation: [relu, maxout]
            maxout_pieces: {type: int, low: 2, high: 4, when: {activation: maxout}}
        """
    )
    study = validate(*read_yaml(text))
    assert study.search.space["maxout_pieces"].when == {"activation": "maxout"}


def test_backend_dask_scheduler_is_accepted():
    text = "data: {dataset: iris}\nestimator: {name: svc}\nsearch: {method: grid, space: {C: [1]}}\n" \
           "backend: {name: dask, scheduler: 'tcp://127.0.0.1:8786'}\nstorage: 'sqlite:///x.db'\n"
    study = validate(*read_yaml(text))
    assert study.backend.scheduler == "tcp://127.0.0.1:8786" and study.storage == "sqlite:///x.db"
