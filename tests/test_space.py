"""Contract tests for hpsearch.model_selection.space (search-space vocabulary)."""

import math
import re
import warnings

import numpy as np
import optuna
import pytest
import scipy.stats as ss
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.model_selection import ParameterSampler

from hpsearch.model_selection.space import (
    SPACE_INDEX_PARAM,
    Categorical,
    Distribution,
    Float,
    Int,
    as_space,
    condition_holds,
    decode_params,
    from_spec,
    grid_candidates,
    optuna_distributions,
    sample_candidates,
    suggest,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

finite = st.floats(-1e6, 1e6, allow_nan=False)
positive = st.floats(1e-8, 1e6, allow_nan=False)


@st.composite
def float_dims(draw):
    log = draw(st.booleans())
    a, b = sorted(draw(st.lists(positive if log else finite, min_size=2, max_size=2)))
    return Float(a, b, log=log)


@st.composite
def int_dims(draw):
    log = draw(st.booleans())
    a, b = sorted(draw(st.lists(st.integers(1 if log else -1000, 10_000), min_size=2, max_size=2)))
    return Int(a, b, log=log)


# ----------------------------------------------------------------- grids
def test_float_log_grid_is_log_spaced():
    assert Float(1e-4, 1e-1, log=True, n=4).grid() == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert Float(0, 1, n=5).grid() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert Float(0.5, 2, n=1).grid() == [0.5]


@given(dim=float_dims(), n=st.integers(2, 12))
def test_float_grid_ends_and_spacing(dim, n):
    grid = Float(dim.low, dim.high, log=dim.log, n=n).grid()
    assert len(grid) == n and grid[0] == dim.low and grid[-1] == dim.high
    assert all(isinstance(v, float) for v in grid)
    assume(dim.low < dim.high)
    steps = np.diff(np.log(grid) if dim.log else grid)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-6, atol=1e-9 * (dim.high - dim.low))


def test_int_grids():
    assert Int(2, 5).grid() == [2, 3, 4, 5]
    assert Int(1, 1000, log=True, n=4).grid() == [1, 10, 100, 1000]
    assert Int(1, 4, log=True, n=10).grid() == [1, 2, 3, 4]  # rounded, duplicates removed
    assert Int(0, 100, n=5).grid() == [0, 25, 50, 75, 100]
    assert Categorical([(10,), (20, 10), None]).grid() == [(10,), (20, 10), None]


# ----------------------------------------------------------------- rvs
@given(dim=st.one_of(float_dims(), int_dims()), seed=st.integers(0, 2**31 - 1))
def test_rvs_within_bounds_and_reproducible(dim, seed):
    values = [dim.rvs(random_state=np.random.RandomState(seed)) for _ in range(2)]
    assert values[0] == values[1]
    rng = np.random.RandomState(seed)
    for _ in range(20):
        v = dim.rvs(random_state=rng)
        assert dim.low <= v <= dim.high
        assert isinstance(v, int if isinstance(dim, Int) else float)


def test_log_rvs_are_log_uniform():
    rng = np.random.RandomState(0)
    draws = np.log10([Float(1e-4, 1, log=True).rvs(rng) for _ in range(4000)])
    counts = np.histogram(draws, bins=4, range=(-4, 0))[0]
    assert counts.min() > 850  # ~1000 per decade
    ints = np.array([Int(1, 1000, log=True).rvs(rng) for _ in range(4000)])
    assert 0.2 < np.mean(ints < 32) < 0.6  # log-uniform: half below sqrt(1000)
    assert set(Int(1, 3, log=True).rvs(rng) for _ in range(200)) == {1, 2, 3}


def test_categorical_rvs_returns_real_choices():
    rng = np.random.RandomState(0)
    draws = {Categorical([(10,), (20, 10), None]).rvs(rng) for _ in range(100)}
    assert draws == {(10,), (20, 10), None}


def test_dimensions_work_in_sklearn_parameter_sampler():
    sampler = ParameterSampler({"lr": Float(1e-3, 1, log=True), "k": Int(1, 5)}, 5, random_state=0)
    for params in sampler:
        assert 1e-3 <= params["lr"] <= 1 and 1 <= params["k"] <= 5


# ----------------------------------------------------------------- as_space
def test_as_space_accepts_dimensions_lists_tuples_and_scipy():
    (space,) = as_space({
        "a": Float(0, 1), "b": [1, 2], "c": (3, 4), "d": ss.uniform(0, 2),
        "e": np.array([1, 2]), "clf__alpha": Categorical(["x"]),
    })
    assert space["b"] == Categorical([1, 2]) and space["c"] == Categorical([3, 4])
    assert isinstance(space["d"], Distribution) and "clf__alpha" in space
    assert len(as_space([{"a": [1]}, {"b": [2]}])) == 2


# ----------------------------------------------------------------- errors
ERRORS = [
    (lambda: as_space({"alpha": Float(1, 0)}), "`low <= high` must hold, but got (low=1, high=0) for parameter 'alpha'."),
    (lambda: as_space({"lr": Float(0, 1, log=True)}), "`low > 0` must hold for log=True, but got (low=0, high=1) for parameter 'lr'."),
    (lambda: as_space({"k": Int(0, 5, log=True)}), "`low > 0` must hold for log=True, but got (low=0, high=5) for parameter 'k'."),
    (lambda: as_space({"k": Int(1.5, 5)}), "`low` and `high` must be integers, but got (low=1.5, high=5) for parameter 'k'."),
    (lambda: as_space({"a": Float("0", 1)}), "`low` and `high` must be real numbers, but got (low='0', high=1) for parameter 'a'."),
    (lambda: as_space({"a": Float(0, math.inf)}), "`low` and `high` must be finite, but got (low=0, high=inf) for parameter 'a'."),
    (lambda: as_space({"a": Float(0, 1, n=0)}), "`n >= 1` must hold, but got (n=0) for parameter 'a'."),
    (lambda: as_space({"a": Float(0, 1, log=1)}), "`log` must be a bool, but got (log=1) for parameter 'a'."),
    (lambda: as_space({"c": Categorical([])}), "`choices` must be a non-empty list, but got (choices=()) for parameter 'c'."),
    (lambda: as_space({"c": Categorical("abc")}), "`choices` must be a non-empty list, but got (choices='abc') for parameter 'c'."),
    (lambda: as_space({"alpha": 0.1}), "Parameter 'alpha': a single value 0.1 is not a search dimension; give a list of choices ([0.1])"),
    (lambda: as_space({"s": "relu"}), "Parameter 's': a single value 'relu' is not a search dimension"),
    (lambda: as_space(5), "A search space must be a dict or a non-empty list of dicts, got 5."),
    (lambda: as_space({"p": Int(2, 3, when="maxout")}), "`when` must be a non-empty dict mapping parameter names to values, but got (when='maxout') for parameter 'p'."),
    (lambda: as_space({"p": Int(2, 3, when={"activaton": "maxout"}), "activation": ["relu"]}), "Parameter 'p' has a condition on unknown parameter 'activaton' (when={'activaton': 'maxout'}); parameters are ['activation', 'p']."),
    (lambda: as_space({"a": Categorical([1], when={"b": 1}), "b": Categorical([1], when={"a": 1})}), "Conditions form a cycle: a -> b -> a."),
    (lambda: as_space({"a": Categorical([1], when={"a": 1})}), "Parameter 'a' cannot be conditional on itself"),
    (lambda: grid_candidates({"alpha": Float(1e-4, 1, log=True)}), "A continuous Float for parameter 'alpha' has no grid; give the number of grid points, e.g. Float(0.0001, 1, log=True, n=5)."),
    (lambda: grid_candidates({"alpha": ss.uniform(0, 1)}), "A scipy.stats distribution for parameter 'alpha' cannot be enumerated for grid search; use Float(low, high, n=...)"),
    (lambda: grid_candidates({"k": Int(0, 10**6)}), "Int(0, 1000000) for parameter 'k' has 1,000,001 values, more than 10,000 for a grid; give the number of grid points, e.g. n=5."),
    (lambda: grid_candidates({"C": Float(0.1, 1.0, step=1e-12)}), "Float(0.1, 1.0, step=1e-12) for parameter 'C' has 900,000,000,001 values, more than 10,000 for a grid; give the number of grid points, e.g. n=5."),
    (lambda: Float(1, 0).grid(), "`low <= high` must hold, but got (low=1, high=0)."),
    (lambda: sample_candidates({"a": [1]}, 0), "The 'n_iter' parameter of sample_candidates must be an int in the range [1, inf). Got 0 instead."),
    (lambda: optuna_distributions({"a": ss.norm()}), "The scipy.stats distribution 'norm' for parameter 'a' has no Optuna equivalent; use Float(low, high, log=...) or Int(low, high)."),
    (lambda: from_spec({"type": "flot", "low": 0, "high": 1}, "lr"), "`type` must be one of ['categorical', 'float', 'int'], but got (type='flot') for parameter 'lr'."),
    (lambda: from_spec({"type": "float", "low": 0, "hihg": 1}, "lr"), "Unknown key(s) ['hihg'] for a float dimension for parameter 'lr'; valid keys are ['type', 'low', 'high', 'log', 'n', 'step', 'when']."),
    (lambda: from_spec({"type": "int", "low": 0}, "k"), "Missing key(s) ['high'] for an int dimension for parameter 'k'."),
    (lambda: from_spec({"type": "categorical", "choices": "relu"}, "act"), "`choices` must be a non-empty list, but got (choices='relu') for parameter 'act'."),
    (lambda: from_spec({"type": "float", "low": 1, "high": 0}, "alpha"), "`low <= high` must hold, but got (low=1, high=0) for parameter 'alpha'."),
    (lambda: from_spec({"type": "float", "low": "a", "high": 1}, "lr"), "`low` and `high` must be real numbers, but got (low='a', high=1) for parameter 'lr'."),
    (lambda: from_spec(0.5, "alpha"), "Parameter 'alpha': a single value 0.5 is not a search dimension"),
    (lambda: Categorical([(1,), (2,)]).decode("(3,)"), "Value '(3,)' is not one of the encoded choices ['(1,)', '(2,)']."),
]


@pytest.mark.parametrize("call, message", ERRORS, ids=[m[:45] for _, m in ERRORS])
def test_error_messages(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# ----------------------------------------------------------------- conditional params
MAXOUT_SPACE = {
    "activation": ["relu", "maxout", "prelu"],
    "maxout_pieces": Int(2, 4, when={"activation": "maxout"}),
    "alpha_init": Float(0.1, 0.3, n=2, when={"activation": ["prelu"]}),
    "alpha_decay": Categorical([True, False], when={"alpha_init": 0.3}),  # chained
    "learning_rate_init": Float(1e-3, 1e-1, log=True, n=3),
}


def _check_conditions(cand):
    assert ("maxout_pieces" in cand) == (cand["activation"] == "maxout")
    assert ("alpha_init" in cand) == (cand["activation"] == "prelu")
    assert ("alpha_decay" in cand) == (cand.get("alpha_init") == 0.3)


def test_condition_holds():
    assert condition_holds(None, {})
    assert condition_holds({"a": [1, 2]}, {"a": 2}) and not condition_holds({"a": [1, 2]}, {"a": 3})
    assert not condition_holds({"a": 1}, {})
    assert condition_holds({"h": (10,)}, {"h": (10,)})  # a tuple is a value, not "any of"


def test_grid_candidates_apply_conditions_and_deduplicate():
    cands = grid_candidates(MAXOUT_SPACE)
    # relu: 3 lr; maxout: 3 pieces x 3 lr; prelu: (alpha 0.1 + alpha 0.3 x 2 decay) x 3 lr
    assert len(cands) == 3 + 9 + 9
    keys = {tuple(sorted((k, v) for k, v in c.items())) for c in cands}
    assert len(keys) == len(cands)
    for cand in cands:
        _check_conditions(cand)


def test_grid_candidates_without_conditions_match_parameter_grid():
    from sklearn.model_selection import ParameterGrid

    space = [{"a": [1, 2], "b": Float(0, 1, n=3)}, {"c": [(10,), (5, 5)]}]
    expected = list(ParameterGrid([{"a": [1, 2], "b": [0.0, 0.5, 1.0]}, {"c": [(10,), (5, 5)]}]))
    assert grid_candidates(space) == expected


@given(seed=st.integers(0, 2**31 - 1), n_iter=st.integers(1, 15))
def test_sample_candidates_conditions_reproducible(seed, n_iter):
    space = dict(MAXOUT_SPACE, learning_rate_init=Float(1e-3, 1e-1, log=True))
    cands = sample_candidates(space, n_iter, random_state=seed)
    assert cands == sample_candidates(space, n_iter, random_state=seed)
    assert len(cands) == n_iter  # continuous lr: no duplicates to remove
    for cand in cands:
        _check_conditions(cand)
        assert 1e-3 <= cand["learning_rate_init"] <= 1e-1


def test_sample_candidates_discrete_without_replacement():
    space = {"a": [1, 2, 3], "b": Categorical(["x", "y"], when={"a": 1})}
    cands = sample_candidates(space, 3, random_state=0)
    assert len(cands) == 3 and all(c in grid_candidates(space) for c in cands)
    assert len({tuple(sorted(c.items())) for c in cands}) == 3
    with pytest.warns(UserWarning, match="The total space of parameters 4 is smaller than n_iter=10"):
        assert len(sample_candidates(space, 10, random_state=0)) == 4


def test_sample_candidates_deduplicates_after_conditions():
    # 'b' only exists when a == 1: many draws collapse to {'a': 2}; distinct ones kept
    space = {"a": [1, 2], "b": Float(0, 1, when={"a": 1})}
    cands = sample_candidates(space, 6, random_state=0)
    assert len(cands) == 6 and cands.count({"a": 2}) == 1


def test_sample_candidates_real_tuples_and_scipy():
    space = {"hidden_layer_sizes": [(10,), (20, 10)], "alpha": ss.loguniform(1e-5, 1e-1)}
    for cand in sample_candidates(space, 8, random_state=1):
        assert cand["hidden_layer_sizes"] in [(10,), (20, 10)]
        assert 1e-5 <= cand["alpha"] <= 1e-1


# ----------------------------------------------------------------- Optuna
def test_to_optuna_mapping():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    assert Float(1e-4, 1, log=True).to_optuna() == FloatDistribution(1e-4, 1.0, log=True)
    assert Int(1, 64, log=True).to_optuna() == IntDistribution(1, 64, log=True)
    assert Categorical(["a", None, 1]).to_optuna() == CategoricalDistribution(["a", None, 1])
    assert Categorical([(10,), (20, 10), None]).to_optuna() == CategoricalDistribution(
        ["(10,)", "(20, 10)", "None"]
    )
    # reprs that collide get their index
    class Same:
        def __repr__(self):
            return "Same()"

    assert Categorical([Same(), Same()]).to_optuna().choices == ("Same() #0", "Same() #1")
    assert Distribution(ss.uniform(1, 2)).to_optuna() == FloatDistribution(1.0, 3.0)
    assert Distribution(ss.loguniform(1e-3, 1)).to_optuna() == FloatDistribution(1e-3, 1.0, log=True)
    assert Distribution(ss.randint(1, 5)).to_optuna() == IntDistribution(1, 4)


def test_optuna_round_trip_with_real_study():
    space = dict(MAXOUT_SPACE, hidden_layer_sizes=[(10,), (20, 10), None])
    space["learning_rate_init"] = Float(1e-3, 1e-1, log=True)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []

    def objective(trial):
        params = suggest(trial, space)
        seen.append(params)
        _check_conditions(params)
        assert params["hidden_layer_sizes"] in [(10,), (20, 10), None]
        return params["learning_rate_init"]

    study.optimize(objective, n_trials=25)
    assert {p["activation"] for p in seen} == {"relu", "maxout", "prelu"}
    dists = optuna_distributions(space)
    for trial, params in zip(study.trials, seen, strict=True):
        assert set(trial.params) == set(params)  # only active parameters were suggested
        assert decode_params(trial.params, space) == params
        for name, value in trial.params.items():
            assert dists[name]._contains(dists[name].to_internal_repr(value))
    # the study is enqueue-able with encoded values (ask/tell from outside)
    trial = study.ask({name: dists[name] for name in ("activation", "hidden_layer_sizes")})
    assert trial.params["hidden_layer_sizes"] in ("(10,)", "(20, 10)", "None")


def test_suggest_conditions_known_first_regardless_of_dict_order():
    # condition target written after the conditional parameter
    space = {"pieces": Int(2, 3, when={"act": "maxout"}), "act": ["maxout"]}
    study = optuna.create_study()
    trial = study.ask()
    assert suggest(trial, space) == {"act": "maxout", "pieces": trial.params["pieces"]}
    assert list(trial.params) == ["act", "pieces"]


def test_suggest_several_subspaces():
    space = [{"kernel": ["linear"]}, {"kernel": ["rbf"], "gamma": Float(1e-3, 1, log=True)}]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    found = []
    for _ in range(12):
        trial = study.ask()
        params = suggest(trial, space)
        assert SPACE_INDEX_PARAM not in params
        assert ("gamma" in params) == (params["kernel"] == "rbf")
        assert decode_params(trial.params, space) == params
        found.append(params["kernel"])
        study.tell(trial, 0.0)
    assert set(found) == {"linear", "rbf"}
    assert set(optuna_distributions(space)) == {
        SPACE_INDEX_PARAM, "kernel[space 0]", "kernel[space 1]", "gamma"
    }
    assert set(optuna_distributions([{"a": Int(1, 2)}, {"a": Int(1, 2), "b": [1]}])) == {
        SPACE_INDEX_PARAM, "a", "b"
    }


# ----------------------------------------------------------------- study files
SPECS = [
    Float(1e-4, 1e-1, log=True),
    Float(0.0, 1.0, n=5, when={"solver": ["sgd", "adam"]}),
    Int(1, 64, log=True, n=4),
    Int(-3, 3),
    Categorical(["relu", "tanh"], when={"solver": "sgd"}),
    Categorical([(10,), (20, 10), None]),
]


@pytest.mark.parametrize("dim", SPECS, ids=repr)
def test_spec_round_trip(dim):
    spec = dim.to_spec()
    yaml = pytest.importorskip("yaml")
    loaded = yaml.safe_load(yaml.safe_dump(spec))  # YAML-safe (tuples written as lists)
    assert from_spec(loaded, "p") == dim
    assert from_spec(spec, "p") == dim


def test_from_spec_forms():
    assert from_spec(["relu", "tanh"], "act") == Categorical(["relu", "tanh"])
    assert from_spec([[10], [20, 10]], "h") == Categorical([(10,), (20, 10)])
    assert from_spec({"choices": [1, 2]}, "k") == Categorical([1, 2])
    # PyYAML reads "1e-3" as a string: numeric strings are accepted for floats
    assert from_spec({"type": "float", "low": "1e-3", "high": 1}, "lr") == Float(1e-3, 1.0)
    assert Categorical(np.array([1, 2])).to_optuna().choices == (1, 2)
    assert Float(np.float64(0.5), np.float32(1)).to_spec() == {"type": "float", "low": 0.5, "high": 1.0}
    assert from_spec({"type": "float", "low": 1e-3, "high": 1, "log": True}).to_spec() == {
        "type": "float", "low": 1e-3, "high": 1, "log": True
    }


@given(dim=st.one_of(float_dims(), int_dims()), n=st.one_of(st.none(), st.integers(1, 9)))
def test_spec_round_trip_property(dim, n):
    dim = type(dim)(dim.low, dim.high, log=dim.log, n=n, when={"x": [1, 2]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert from_spec(dim.to_spec(), "p") == dim
