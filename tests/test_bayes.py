"""OptunaSearchCV: ask/tell driving, TPE vs random, pruning, resume, reproducibility."""

import re

import time

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import RidgeClassifier
from sklearn.tree import DecisionTreeClassifier

from hpsearch import MLPClassifier
from hpsearch.model_selection.strategies.bayes import OptunaSearchCV, _waves, default_rungs
from hpsearch.model_selection.space import Categorical, Float, Int

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]

State = optuna.trial.TrialState


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:500], y[:500]


SPACE = {
    "learning_rate_init": Float(1e-4, 1.0, log=True),
    "alpha": Float(1e-6, 1.0, log=True),
}


def test_tpe_beats_or_matches_random_on_digits(digits):
    # 5 seeds x 15 trials (TPE: 10 random start-up trials, then 5 model-based ones), a
    # small net and 5 epochs so it stays fast and the hyperparameters matter (with
    # sklearn's initialization, the default since issue 10, 10 epochs bring most
    # configurations to the same plateau: TPE 0.744, random 0.745). Measured: mean best CV
    # accuracy TPE 0.659, random 0.628 (per seed TPE .658 .622 .672 .692 .650, random .632
    # .542 .632 .692 .642). The runs are deterministic for these seeds.
    X, y = digits
    mlp = MLPClassifier((8,), max_iter=5, batch_size=50, random_state=0)
    best = {}
    for sampler in ("tpe", "random"):
        best[sampler] = [
            OptunaSearchCV(mlp, SPACE, n_trials=15, cv=2, sampler=sampler, random_state=seed,
                           refit=False).fit(X, y).best_score_
            for seed in range(5)
        ]
    assert np.mean(best["tpe"]) >= np.mean(best["random"]), best


def test_results_layout_study_and_tell(digits):
    X, y = digits
    search = OptunaSearchCV(
        MLPClassifier((8,), max_iter=5, random_state=0), SPACE, n_trials=4, cv=3,
        random_state=0, scoring=["accuracy", "balanced_accuracy"], refit="accuracy",
        return_train_score=True,
    ).fit(X, y)
    res = search.cv_results_
    for key in ("params", "param_alpha", "mean_test_accuracy", "rank_test_balanced_accuracy",
                "split2_test_accuracy", "split0_train_accuracy", "mean_fit_time"):
        assert len(res[key]) == 4
    assert list(res["trial"]) == [0, 1, 2, 3]
    assert list(res["state"]) == ["COMPLETE"] * 4
    trials = search.study_.get_trials()
    assert [t.state for t in trials] == [State.COMPLETE] * 4
    # the study maximizes the refit metric's mean CV score
    assert search.study_.direction == optuna.study.StudyDirection.MAXIMIZE
    np.testing.assert_allclose([t.value for t in trials], res["mean_test_accuracy"])
    assert [t.user_attrs["split_test_accuracy"] for t in trials] == [
        [res[f"split{k}_test_accuracy"][i] for k in range(3)] for i in range(4)
    ]
    for trial, params in zip(trials, res["params"]):
        assert trial.params == pytest.approx(params)
    assert search.best_index_ == int(np.argmax(res["mean_test_accuracy"]))
    assert search.best_params_ == res["params"][search.best_index_]


def test_conditional_parameters(digits):
    X, y = digits
    space = {
        "activation": Categorical(["relu", "maxout"]),
        "maxout_pieces": Int(2, 3, when={"activation": "maxout"}),
        "hidden_layer_sizes": Categorical([(8,), (4, 4)]),
    }
    search = OptunaSearchCV(
        MLPClassifier(max_iter=3, random_state=0), space, n_trials=8, cv=2,
        sampler="random", random_state=1,
    ).fit(X, y)
    activations = set()
    for params, trial in zip(search.cv_results_["params"], search.study_.trials):
        activations.add(params["activation"])
        assert ("maxout_pieces" in params) == (params["activation"] == "maxout")
        assert ("maxout_pieces" in trial.params) == (params["activation"] == "maxout")
        assert params["hidden_layer_sizes"] in [(8,), (4, 4)]
    assert activations == {"relu", "maxout"}


def test_pruned_trials_are_pruned_in_the_study_and_marked_in_results(digits):
    X, y = digits
    search = OptunaSearchCV(
        MLPClassifier((8,), max_iter=9, random_state=0), SPACE, n_trials=8, cv=2,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2), random_state=0,
    ).fit(X, y)
    assert search.rungs_ == [1, 3, 9]
    res = search.cv_results_
    trials = {t.number: t for t in search.study_.get_trials()}
    pruned = [n for n, t in trials.items() if t.state == State.PRUNED]
    complete = [n for n, t in trials.items() if t.state == State.COMPLETE]
    assert pruned and len(pruned) + len(complete) == 8
    for number in pruned:
        rows = np.flatnonzero(res["trial"] == number)
        assert set(res["state"][rows]) == {"PRUNED"}
        assert max(res["n_resources"][rows]) < 9
        assert sorted(trials[number].intermediate_values) == sorted(res["n_resources"][rows])
    for number in complete:
        rows = np.flatnonzero(res["trial"] == number)
        assert list(res["n_resources"][rows]) == [1, 3, 9]
        assert set(res["state"][rows]) == {"COMPLETE"}
        assert trials[number].value == pytest.approx(res["mean_test_score"][rows[-1]])
        assert dict(trials[number].intermediate_values) == pytest.approx(
            dict(zip(res["n_resources"][rows], res["mean_test_score"][rows]))
        )
    assert res["state"][search.best_index_] == "COMPLETE"
    assert res["n_resources"][search.best_index_] == 9
    assert search.best_estimator_.n_iter_ == 9


def test_a_fit_without_a_pruner_leaves_no_rungs_of_an_earlier_fit(digits):
    # was: rungs_ of a fit with a pruner stayed after a fit without one (a stale fitted
    # attribute: its docstring says "Only set with a pruner")
    X, y = digits
    search = OptunaSearchCV(MLPClassifier((8,), max_iter=3, random_state=0), SPACE,
                            n_trials=2, cv=2, pruner="median", random_state=0,
                            refit=False).fit(X, y)
    assert search.rungs_
    search.set_params(pruner=None).fit(X, y)
    assert not hasattr(search, "rungs_")


@pytest.mark.parametrize("pruner", ["median", "successive_halving", "hyperband"])
def test_pruners_by_name(digits, pruner):
    X, y = digits
    search = OptunaSearchCV(
        MLPClassifier((8,), max_iter=9, random_state=0), SPACE, n_trials=6, cv=2,
        pruner=pruner, rungs=[1, 3, 9], random_state=0,
    ).fit(X, y)
    states = {t.state for t in search.study_.trials}
    assert states <= {State.COMPLETE, State.PRUNED}
    assert State.COMPLETE in states


def test_reproducible_for_fixed_seed_and_n_jobs(digits):
    X, y = digits
    mlp = MLPClassifier((8,), max_iter=9)  # random_state None: seeded by the search
    kwargs = dict(n_trials=6, cv=2, random_state=3, n_jobs=2, pruner="median")
    one = OptunaSearchCV(mlp, SPACE, **kwargs).fit(X, y)
    two = OptunaSearchCV(mlp, SPACE, **kwargs).fit(X, y)
    assert one.cv_results_["params"] == two.cv_results_["params"]
    np.testing.assert_array_equal(one.cv_results_["mean_test_score"],
                                  two.cv_results_["mean_test_score"])
    assert list(one.cv_results_["state"]) == list(two.cv_results_["state"])
    assert [t.params for t in one.study_.trials] == [t.params for t in two.study_.trials]


def test_resume_counts_finished_trials_and_reasks_interrupted(tmp_path, digits):
    X, y = digits
    storage = str(tmp_path / "study.db")
    mlp = MLPClassifier((8,), max_iter=4, random_state=0)
    kwargs = dict(cv=2, random_state=0, storage=storage, study_name="s")
    first = OptunaSearchCV(mlp, SPACE, n_trials=3, **kwargs).fit(X, y)
    # an interrupted run leaves a RUNNING trial behind
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{storage}")
    study.ask()
    resumed = OptunaSearchCV(mlp, SPACE, n_trials=5, resume=True, **kwargs).fit(X, y)
    states = [t.state for t in resumed.study_.get_trials()]
    assert states == [State.COMPLETE] * 3 + [State.FAIL] + [State.COMPLETE] * 2
    res = resumed.cv_results_
    assert list(res["trial"]) == [0, 1, 2, 4, 5]
    assert res["params"][:3] == first.cv_results_["params"]
    # finished trials are not fitted again: their recorded fit times come back as they were
    np.testing.assert_array_equal(res["mean_fit_time"][:3], first.cv_results_["mean_fit_time"])
    np.testing.assert_array_equal(res["mean_test_score"][:3],
                                  first.cv_results_["mean_test_score"])


@pytest.mark.parametrize("sampler", ["tpe", "random", "qmc", "cmaes", "gp"])
def test_samplers_by_name(sampler):
    pytest.importorskip({"cmaes": "cmaes"}.get(sampler, "optuna"))
    X, y = load_iris(return_X_y=True)
    search = OptunaSearchCV(
        RidgeClassifier(), {"alpha": Float(1e-3, 1e3, log=True)}, n_trials=3, cv=3,
        sampler=sampler, random_state=0,
    ).fit(X, y)
    assert len(search.study_.trials) == 3
    assert type(search.study_.sampler).__name__.lower().startswith(
        {"tpe": "tpe", "random": "random", "qmc": "qmc", "cmaes": "cmaes", "gp": "gp"}[sampler]
    )


def test_sampler_instance_and_timeout():
    X, y = load_iris(return_X_y=True)
    sampler = optuna.samplers.RandomSampler(seed=0)
    search = OptunaSearchCV(
        RidgeClassifier(), {"alpha": Float(1e-3, 1e3, log=True)}, n_trials=50,
        timeout=1e-9, cv=3, sampler=sampler,
    )
    # no fit starts after the timeout (issue 11): nothing finished, nothing to refit
    with pytest.raises(ValueError, match="timeout=1e-09 seconds was reached"):
        search.fit(X, y)
    assert search.study_.sampler is sampler
    assert len(search.study_.trials) == 0  # no trial asked after the deadline
    start = time.monotonic()
    search.set_params(n_trials=100_000, timeout=0.5).fit(X, y)
    assert time.monotonic() - start < 3 and len(search.study_.trials) >= 1


def test_default_rungs_and_waves():
    assert default_rungs(27) == [1, 3, 9, 27]
    assert default_rungs(200) == [7, 22, 66, 200]
    assert default_rungs(2) == [1, 2]
    assert default_rungs(10, n_rungs=2) == [3, 10]
    assert _waves([{"a": 1}, {"a": 2}, {"a": 1}, {"a": 1}]) == [[0, 1], [2], [3]]


# -- bad inputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator, kwargs, message",
    [
        (MLPClassifier(), dict(sampler="bayes"),
         "The 'sampler' parameter of OptunaSearchCV must be a str among"),
        (MLPClassifier(), dict(pruner="asha"),
         "The 'pruner' parameter of OptunaSearchCV must be None, a str among"),
        (MLPClassifier(), dict(n_trials=0),
         "The 'n_trials' parameter of OptunaSearchCV must be an int in the range [1, inf). "
         "Got 0 instead."),
        (MLPClassifier(), dict(timeout=-1),
         "The 'timeout' parameter of OptunaSearchCV must be None or a float in the range "
         "(0.0, inf). Got -1 instead."),
        (DecisionTreeClassifier(), dict(pruner="median"),
         "The 'pruner' parameter of OptunaSearchCV needs an estimator with an integer "
         "'max_iter' parameter"),
        (RidgeClassifier(), dict(pruner="median"),
         "The 'pruner' parameter of OptunaSearchCV needs an estimator that continues "
         "training (warm_start or partial_fit) with an integer 'max_iter'; RidgeClassifier "
         "has max_iter=None and cannot continue. Use pruner=None."),
        (MLPClassifier(max_iter=9), dict(pruner="median", rungs=[3, 3, 9]),
         "The 'rungs' parameter of OptunaSearchCV must be None, an int >= 1 or a strictly "
         "increasing list of positive ints. Got [3, 3, 9] instead."),
    ],
)
def test_bad_inputs(digits, estimator, kwargs, message):
    X, y = digits
    with pytest.raises(ValueError, match=re.escape(message)):
        OptunaSearchCV(estimator, {"alpha": Float(1e-4, 1.0, log=True)}, cv=2,
                       **kwargs).fit(X, y)


def test_resource_in_the_space_is_refused_when_pruning(digits):
    X, y = digits
    with pytest.raises(ValueError, match=re.escape(
        "Cannot use parameter max_iter as the resource since it is part of the searched "
        "parameters."
    )):
        OptunaSearchCV(MLPClassifier(max_iter=9), {"max_iter": Int(3, 9)}, pruner="median",
                       cv=2).fit(X, y)


def test_resume_a_pruned_search_replays_every_rung(tmp_path, digits):
    X, y = digits
    mlp = MLPClassifier((8,), max_iter=9, random_state=0)
    kwargs = dict(cv=2, random_state=0, storage=str(tmp_path / "p.db"), study_name="p",
                  pruner=optuna.pruners.MedianPruner(n_startup_trials=1), refit=False)
    first = OptunaSearchCV(mlp, SPACE, n_trials=5, **kwargs).fit(X, y)
    resumed = OptunaSearchCV(mlp, SPACE, n_trials=6, resume=True, **kwargs).fit(X, y)
    n = len(first.cv_results_["params"])
    a, b = first.cv_results_, resumed.cv_results_
    assert "PRUNED" in list(a["state"])
    for key in ("trial", "iter", "n_resources", "state", "mean_test_score", "mean_fit_time"):
        assert list(b[key][:n]) == list(a[key]), key
    assert list(b["trial"][n:]) == [5] * (len(b["params"]) - n)
    assert len(resumed.study_.trials) == 6
