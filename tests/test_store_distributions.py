"""The trial store records grid/random/halving parameters with their real Optuna
distributions, so every trial of a study shares one search space (importance, dashboard)."""

import numpy as np
import optuna
import pytest
import scipy.stats as ss
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.search_space import intersection_search_space
from sklearn.base import BaseEstimator, RegressorMixin

from hpsearch.model_selection.strategies.grid import GridSearchCV
from hpsearch.model_selection.strategies.halving import HalvingSearchCV
from hpsearch.model_selection.strategies.random import RandomSearchCV
from hpsearch.model_selection.store import TrialStore, encode_value
from hpsearch.space import Categorical, Float, Int, decode_params

SIZES = [(4,), (8, 4), None]


class Toy(RegressorMixin, BaseEstimator):
    """Predicts a constant that depends on every parameter (fast, deterministic)."""

    def __init__(self, alpha=1.0, depth=1, sizes=None, max_iter=1):
        self.alpha = alpha
        self.depth = depth
        self.sizes = sizes
        self.max_iter = max_iter

    def fit(self, X, y):
        width = 0 if self.sizes is None else sum(self.sizes)
        self.offset_ = np.log10(self.alpha) + 0.1 * self.depth + 0.01 * width
        self.mean_ = float(np.mean(y)) + self.offset_ / (1 + self.max_iter)
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    return X, X[:, 0] + rng.normal(scale=0.1, size=40)


SPACE = {
    "alpha": Float(1e-3, 10.0, log=True),
    "depth": Int(1, 5),
    "sizes": Categorical(SIZES),
}
GRID = {"alpha": Float(1e-3, 10.0, log=True, n=3), "depth": Int(1, 5, n=2), "sizes": SIZES}

EXPECTED = {
    "alpha": FloatDistribution(1e-3, 10.0, log=True),
    "depth": IntDistribution(1, 5),
    "sizes": CategoricalDistribution(["(4,)", "(8, 4)", "None"]),
}


def _searches():
    common = dict(cv=2, random_state=0, refit=False, progress=False)
    return {
        "random": (RandomSearchCV(Toy(), SPACE, n_iter=8, **common), SPACE),
        "grid": (GridSearchCV(Toy(), GRID, **common), GRID),
        "halving": (
            HalvingSearchCV(Toy(), SPACE, resource="max_iter", max_resources=9,
                            min_resources=1, n_candidates=9, **common),
            SPACE,
        ),
    }


@pytest.mark.filterwarnings("ignore:The number of trials is too small")
@pytest.mark.parametrize("kind", ["random", "grid", "halving"])
def test_trials_share_the_space_and_decode_exactly(kind, data):
    search, space = _searches()[kind]
    search.fit(*data)
    trials = search.study_.get_trials()
    assert intersection_search_space(trials) == EXPECTED
    for trial in trials:
        assert trial.distributions == EXPECTED
        params = decode_params(trial.params, space)
        assert trial.user_attrs["params"] == encode_value(params)
        assert any(params == p and all(type(params[k]) is type(p[k]) for k in p)
                   for p in search.cv_results_["params"])
    importances = optuna.importance.get_param_importances(search.study_)
    assert set(importances) == set(EXPECTED)
    if kind == "grid":  # the grid points lie inside the declared interval
        assert sorted({t.params["alpha"] for t in trials}) == pytest.approx([1e-3, 0.1, 10.0])


def test_conditional_parameters_are_recorded_only_when_present(data):
    space = {"depth": Int(1, 3), "alpha": Float(0.5, 2.0, when={"depth": [2, 3]})}
    search = RandomSearchCV(Toy(), space, n_iter=6, cv=2, random_state=1, refit=False,
                            progress=False).fit(*data)
    for trial, params in zip(search.study_.get_trials(), search.cv_results_["params"]):
        assert set(trial.params) == set(params)
        if "alpha" in params:
            assert trial.distributions["alpha"] == FloatDistribution(0.5, 2.0)
        assert trial.distributions["depth"] == IntDistribution(1, 3)


def test_fallback_to_one_point_distributions(data):
    # scipy norm (no Optuna equivalent) and choices Optuna cannot tell apart: per value
    space = {"alpha": ss.norm(loc=3.0, scale=0.1), "depth": [True, 1],
             "max_iter": ss.randint(1, 4)}
    search = RandomSearchCV(Toy(), space, n_iter=4, cv=2, random_state=0, refit=False,
                            progress=False).fit(*data)
    for trial, params in zip(search.study_.get_trials(), search.cv_results_["params"]):
        alpha = params["alpha"]
        assert trial.distributions["alpha"] == FloatDistribution(alpha, alpha)
        assert trial.distributions["depth"] != CategoricalDistribution([True, 1])
        assert trial.user_attrs["params"] == encode_value(params)  # exact values kept
        assert trial.distributions["max_iter"] == IntDistribution(1, 3)  # randint: real


def test_mixed_sub_spaces_fall_back_for_that_name_only(data):
    space = [{"alpha": Float(0.1, 1.0), "depth": Int(1, 3)},
             {"alpha": Float(1.0, 2.0), "depth": Int(1, 3)}]
    search = RandomSearchCV(Toy(), space, n_iter=4, cv=2, random_state=0, refit=False,
                            progress=False).fit(*data)
    for trial in search.study_.get_trials():
        alpha = trial.params["alpha"]
        assert trial.distributions["alpha"] == FloatDistribution(alpha, alpha)
        assert trial.distributions["depth"] == IntDistribution(1, 3)


def test_resume_of_a_study_stored_one_point_keeps_its_distributions(tmp_path, data):
    db = str(tmp_path / "s.db")
    store = TrialStore(db, "old")  # a study written before the space was declared
    store.declare([{"alpha": 0.5}])
    store._new_trial({"params": {"alpha": 0.5}}, "k", optuna.trial.TrialState.COMPLETE,
                     1.0, {})
    resumed = TrialStore(db, "old", resume=True)
    resumed.declare_space({"alpha": Float(0.1, 1.0, log=True), "depth": Int(1, 3)})
    assert "alpha" not in resumed._space  # log=True clashes with the stored one-point
    assert resumed._space["depth"].dist == IntDistribution(1, 3)
    resumed._new_trial({"params": {"alpha": 0.2, "depth": 2}}, "k2",
                       optuna.trial.TrialState.COMPLETE, 1.0, {})
    last = resumed.study.get_trials()[-1]
    assert last.params == {"alpha": 0.2, "depth": 2}
    assert last.distributions["alpha"] == FloatDistribution(0.2, 0.2)


@pytest.mark.parametrize(
    "values, expected",
    # equal choices of other types are coded as strings (Categorical._primitive), which
    # Optuna gives back exactly
    [([True, 1], True), ([1, 1.0], True), ([0, False, "a"], True),
     ([float("nan"), 1], True), (["a", "b", 3, None], True), (list(range(1000)), True)],
)
def test_choice_exactness_matches_optuna(values, expected):
    """The linear-time exactness check answers as asking Optuna code by code does."""
    from hpsearch.model_selection.space import Categorical
    from hpsearch.model_selection.store import _ChoiceParam

    param = _ChoiceParam(Categorical(values))
    by_optuna = all(
        (back := param.dist.to_external_repr(param.dist.to_internal_repr(code))) is code
        or (type(back) is type(code) and back == code)
        for code in param.codes
    )
    assert param.exact() == by_optuna == expected


@pytest.mark.parametrize("name", ["missing/s.db", "sqlite:///missing/s.db", "missing/s.log"])
def test_storage_in_a_missing_directory_is_named(tmp_path, monkeypatch, name):
    """From Python too, a storage file whose directory does not exist is a clear error
    naming the directory (SQLite alone says "unable to open database file")."""
    from sklearn.linear_model import Ridge

    from hpsearch.model_selection import GridSearchCV

    monkeypatch.chdir(tmp_path)
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=2, storage=name)
    with pytest.raises(ValueError, match="directory that does not exist: .*missing"):
        search.fit(np.arange(8.0).reshape(-1, 1), np.arange(8.0))
