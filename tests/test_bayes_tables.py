"""Sampler and pruner name tables of the Optuna search."""

import re

import numpy as np
import optuna
import pytest

from hpsearch.model_selection.strategies._gp_sampler import GPSampler
from hpsearch.model_selection.strategies._optuna import (
    PRUNERS,
    SAMPLERS,
    make_pruner,
    make_sampler,
    sampler_seed,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

SAMPLER_TYPES = {
    "tpe": optuna.samplers.TPESampler,
    "gp": GPSampler,  # hpsearch's scikit-learn GP: no torch needed
    "cmaes": optuna.samplers.CmaEsSampler,
    "qmc": optuna.samplers.QMCSampler,
    "random": optuna.samplers.RandomSampler,
}
NEEDS = {"cmaes": "cmaes"}
PRUNER_TYPES = {
    "median": optuna.pruners.MedianPruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
}


def test_tables_cover_the_documented_names():
    assert set(SAMPLERS) == set(SAMPLER_TYPES)
    assert set(PRUNERS) == set(PRUNER_TYPES)


def _objective(trial):
    x = trial.suggest_float("x", -2, 2)
    k = trial.suggest_int("k", 1, 5)
    return (x - 0.5) ** 2 + k


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_by_name_is_seeded(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    sampler = make_sampler(name, random_state=0, n_jobs=1)
    assert isinstance(sampler, SAMPLER_TYPES[name])

    def run():
        study = optuna.create_study(sampler=make_sampler(name, random_state=3, n_jobs=1))
        study.optimize(_objective, n_trials=12)
        return [t.params for t in study.trials]

    assert run() == run()


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_sampler_missing_dependency_is_named(name, monkeypatch):
    import hpsearch.model_selection.strategies._optuna as module

    monkeypatch.setattr(module, "find_spec", lambda mod: None)
    with pytest.raises(ImportError, match=f"sampler='{name}'.*pip install {NEEDS[name]}"):
        make_sampler(name)


def test_tpe_is_multivariate_with_constant_liar_only_in_parallel():
    serial = make_sampler("tpe", random_state=0, n_jobs=1)
    parallel = make_sampler("tpe", random_state=0, n_jobs=2)
    default = make_sampler("tpe", random_state=0, n_jobs=None)
    assert serial._multivariate and parallel._multivariate
    assert not serial._constant_liar
    assert not default._constant_liar
    assert parallel._constant_liar
    assert make_sampler("tpe", n_jobs=-1)._constant_liar


def test_sampler_instance_passes_through():
    sampler = optuna.samplers.RandomSampler(seed=1)
    assert make_sampler(sampler, random_state=5) is sampler


def test_sampler_seed():
    assert sampler_seed(None) is None
    assert sampler_seed(7) == 7
    assert sampler_seed(np.int64(7)) == 7
    rs1, rs2 = np.random.RandomState(0), np.random.RandomState(0)
    assert sampler_seed(rs1) == sampler_seed(rs2)
    assert isinstance(sampler_seed(rs1), int)


@pytest.mark.parametrize("value", ["bayes", 3, None])
def test_unknown_sampler_lists_valid_names(value):
    message = (
        "The 'sampler' parameter of OptunaSearchCV must be a str among "
        "{'cmaes', 'gp', 'qmc', 'random', 'tpe'} or an instance of "
        f"optuna.samplers.BaseSampler. Got {value!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        make_sampler(value)


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_pruner_by_name(name):
    assert isinstance(make_pruner(name), PRUNER_TYPES[name])


def test_pruner_none_and_instance():
    assert make_pruner(None) is None
    pruner = optuna.pruners.MedianPruner()
    assert make_pruner(pruner) is pruner


@pytest.mark.parametrize("value", ["asha", 0.5])
def test_unknown_pruner_lists_valid_names(value):
    message = (
        "The 'pruner' parameter of HalvingSearchCV must be None, a str among "
        "{'hyperband', 'median', 'successive_halving'} or an instance of "
        f"optuna.pruners.BasePruner. Got {value!r} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        make_pruner(value, owner="HalvingSearchCV")
