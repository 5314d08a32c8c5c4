"""Racing across splits (issue 14): ``racing=True`` on grid, random and Optuna searches."""

import json
import re
import textwrap
import warnings

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hpsearch import GridSearchCV, OptunaSearchCV, RandomSearchCV
from hpsearch.space import Float

C_GRID = {"logisticregression__C": [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0]}


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def _logreg():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))


def _grid(racing, **kw):
    return GridSearchCV(_logreg(), C_GRID, cv=10, racing=racing, random_state=0, **kw)


def test_racing_saves_fits_and_keeps_the_best(cancer):
    X, y = cancer
    full = _grid(False).fit(X, y)
    raced = _grid(True).fit(X, y)
    res = raced.cv_results_
    n_fits = sum(int(np.isfinite(res[f"split{k}_test_score"]).sum()) for k in range(10))
    assert n_fits < 0.7 * 8 * 10  # the hopeless small C stop after 3 splits
    assert raced.best_params_ == full.best_params_
    assert raced.best_score_ == full.best_score_
    assert res["raced"].dtype == bool and res["raced"].any()
    assert list(res["state"]) == ["RACED" if r else "COMPLETE" for r in res["raced"]]
    assert not res["raced"][raced.best_index_]
    for i in np.flatnonzero(res["raced"]):  # finished splits kept, means over them
        scores = np.array([res[f"split{k}_test_score"][i] for k in range(10)])
        done = np.isfinite(scores)
        assert 3 <= done.sum() < 10 and done[: done.sum()].all()
        assert res["mean_test_score"][i] == pytest.approx(scores[done].mean())
        full_scores = [full.cv_results_[f"split{k}_test_score"][i] for k in range(10)]
        np.testing.assert_array_equal(scores[done], np.array(full_scores)[done])
    # raced candidates rank after every complete one
    complete = ~res["raced"]
    assert res["rank_test_score"][complete].max() < res["rank_test_score"][~complete].min()
    # complete candidates: exactly the full evaluation's numbers
    for k in range(10):
        np.testing.assert_array_equal(res[f"split{k}_test_score"][complete],
                                      full.cv_results_[f"split{k}_test_score"][complete])


def test_racing_never_drops_a_clear_winner():
    X, y = make_regression(n_samples=200, n_features=20, noise=5.0, random_state=0)
    grid = {"alpha": [1e-2, 1e2, 1e3, 1e4, 1e5]}
    search = GridSearchCV(Ridge(), grid, cv=10, racing=True, random_state=0).fit(X, y)
    assert search.best_params_ == {"alpha": 1e-2}
    assert search.cv_results_["raced"][1:].all()  # all the heavy penalties lost early


def test_racing_results_identical_for_n_jobs(cancer):
    X, y = cancer
    one = _grid(True, n_jobs=1).fit(X, y).cv_results_
    two = _grid(True, n_jobs=2).fit(X, y).cv_results_
    for key, value in one.items():
        if "time" in key:
            continue
        if key == "params":
            assert value == two[key]
        else:
            np.testing.assert_array_equal(np.asarray(value), np.asarray(two[key]),
                                          err_msg=key)


def test_racing_store_records_raced_and_resume_refits_nothing(cancer, tmp_path):
    X, y = cancer
    storage = str(tmp_path / "race.db")
    first = _grid(True, storage=storage, study_name="r").fit(X, y)
    trials = first.study_.get_trials(deepcopy=False)
    raced = [t for t in trials if t.user_attrs.get("hpsearch_state") == "RACED"]
    assert len(raced) == first.cv_results_["raced"].sum() > 0
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in raced)
    assert all(any(k.startswith("hpsearch_fit:") for k in t.user_attrs) for t in raced)
    again = _grid(True, storage=storage, study_name="r", resume=True, verbose=1)
    again.fit(X, y)
    assert not any(t.state == optuna.trial.TrialState.RUNNING
                   for t in again.study_.get_trials(deepcopy=False))
    assert len(again.study_.trials) == len(trials)  # no new trial, no fit
    for key in ("mean_test_score", "rank_test_score", "raced", "state"):
        np.testing.assert_array_equal(np.asarray(first.cv_results_[key]),
                                      np.asarray(again.cv_results_[key]))
    assert again.best_params_ == first.best_params_
    # a search without racing on the same study fits only the raced-away splits
    full = _grid(False, storage=storage, study_name="r", resume=True).fit(X, y)
    reference = _grid(False).fit(X, y)
    np.testing.assert_array_equal(full.cv_results_["mean_test_score"],
                                  reference.cv_results_["mean_test_score"])


def test_random_and_optuna_search_race(cancer):
    X, y = cancer
    space = {"logisticregression__C": Float(1e-6, 1e2, log=True)}
    rnd = RandomSearchCV(_logreg(), space, n_iter=6, cv=10, racing=True,
                         random_state=0).fit(X, y)
    assert "raced" in rnd.cv_results_
    opt = OptunaSearchCV(_logreg(), space, n_trials=6, cv=10, racing=True,
                         racing_min_splits=2, random_state=0, sampler="random").fit(X, y)
    res = opt.cv_results_
    states = {t.number: t.state.name for t in opt.study_.trials}
    for number, state, was_raced in zip(res["trial"], res["state"], res["raced"]):
        assert (state == "RACED") == was_raced
        assert states[number] == ("PRUNED" if was_raced else "COMPLETE")
    assert not res["raced"][opt.best_index_]


@pytest.mark.parametrize("param, value, rule", [
    ("racing", "yes", "an instance of 'bool'"),
    ("racing_min_splits", 1, "in the range [2, inf)"),
    ("racing_alpha", 1.5, "in the range (0.0, 1.0)"),
])
def test_racing_parameters_are_validated(cancer, param, value, rule):
    X, y = cancer
    search = GridSearchCV(_logreg(), C_GRID, cv=3, **{param: value})
    with pytest.raises(ValueError, match=rf"The '{param}' parameter of GridSearchCV must be"
                                         rf".*{re.escape(rule)}"):
        search.fit(X, y)


def test_racing_with_a_pruner_is_refused(cancer):
    from hpsearch import MLPClassifier

    X, y = cancer
    search = OptunaSearchCV(MLPClassifier(max_iter=3), {"alpha": Float(1e-4, 1.0, log=True)},
                            n_trials=2, cv=3, pruner="median", racing=True)
    with pytest.raises(ValueError, match="'racing' parameter of OptunaSearchCV"):
        search.fit(X, y)


def test_study_file_with_racing_runs(tmp_path, capsys):
    from hpsearch.cli import main

    study = tmp_path / "s.yaml"
    study.write_text(textwrap.dedent(
        """\
        name: race
        data: {dataset: breast_cancer, test_size: 0.2}
        estimator:
          name: logistic_regression
          params: {max_iter: 300}
        search:
          method: grid
          racing: true
          space:
            C: [0.00001, 0.0001, 1.0]
        cv: 5
        """
    ))
    out = tmp_path / "out"
    rc = main([str(study), "--n-jobs", "1", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_params"]["C"] == 1.0


def test_optuna_racing_resume_fits_nothing(cancer, tmp_path, monkeypatch):
    from hpsearch.model_selection import _base

    X, y = cancer
    space = {"logisticregression__C": Float(1e-6, 1e2, log=True)}

    def search(**kw):
        return OptunaSearchCV(_logreg(), space, n_trials=6, cv=10, racing=True,
                              random_state=0, sampler="random",
                              storage=str(tmp_path / "o.db"), study_name="o", **kw)

    first = search().fit(X, y)
    assert first.cv_results_["raced"].any()
    fits = []
    collect = _base._Evaluator._collect
    monkeypatch.setattr(_base._Evaluator, "_collect",
                        lambda self, *a, **k: fits.append(1) or collect(self, *a, **k))
    again = search(resume=True).fit(X, y)
    assert not fits and len(again.study_.trials) == len(first.study_.trials)
    np.testing.assert_array_equal(again.cv_results_["state"], first.cv_results_["state"])


def _fitted(results, n_splits=10):
    return sum(int(np.isfinite(results[f"split{k}_test_score"]).sum())
               for k in range(n_splits))


def test_racing_verbose_says_at_most_and_the_real_count(cancer, capsys):
    X, y = cancer
    search = _grid(True, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert ("Fitting 10 folds for each of 8 candidates, totalling at most 80 fits "
            "(racing stops significantly worse candidates early)") in out
    n, n_raced = _fitted(search.cv_results_), int(search.cv_results_["raced"].sum())
    assert (f"Racing stopped {n_raced} of 8 candidates early, totalling {n} fits "
            f"({80 - n} not fitted)") in out


def test_racing_progress_bar_total_shrinks_to_the_fits_run(cancer, monkeypatch):
    import tqdm.auto

    bars = []

    class RecordingBar(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.totals = []  # the total at each fit done
            bars.append(self)

        def update(self, n=1):
            self.totals.append(self.total)
            return super().update(n)

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    X, y = cancer
    search = _grid(True, progress=True).fit(X, y)
    (bar,) = bars
    n = _fitted(search.cv_results_)
    assert n < 80 and bar.n == n
    assert bar.totals[0] == 80 and bar.totals[-1] == n  # shrunk as candidates were raced
    assert all(a >= b for a, b in zip(bar.totals, bar.totals[1:]))


def test_replay_takes_the_real_searchs_decisions(cancer):
    from hpsearch.model_selection._racing import replay

    X, y = cancer
    full = _grid(False).fit(X, y).cv_results_
    search = _grid(True).fit(X, y)
    raced = search.cv_results_
    matrix = np.column_stack([full[f"split{k}_test_score"] for k in range(10)])
    again, n_fits = replay(matrix, search.racing_min_splits, search.racing_alpha, 1 / 9)
    np.testing.assert_array_equal(again, raced["raced"])
    np.testing.assert_array_equal(
        n_fits, [sum(np.isfinite(raced[f"split{k}_test_score"][i]) for k in range(10))
                 for i in range(8)])


class _FailsAboveOne(LogisticRegression):
    def fit(self, X, y, **kw):
        if self.C > 1:
            raise ValueError("fails on purpose")
        return super().fit(X, y, **kw)


def test_failed_candidates_rank_after_raced_ones(cancer):
    # was: a candidate whose every fit failed (NaN mean) ranked ahead of the raced ones
    X, y = cancer
    search = GridSearchCV(_FailsAboveOne(max_iter=200), {"C": list(np.logspace(-4, 2, 8))},
                          cv=10, racing=True, error_score=np.nan)
    with pytest.warns(UserWarning):
        search.fit(X[:, :5], y)
    r = search.cv_results_
    failed, raced = np.isnan(r["mean_test_score"]), r["raced"]
    assert failed.any() and (raced & ~failed).any()
    assert r["rank_test_score"][failed].min() > r["rank_test_score"][~failed].max()
    assert r["rank_test_score"][raced].min() > r["rank_test_score"][~raced & ~failed].max()
    assert not raced[search.best_index_]


def test_a_race_killed_mid_wave_resumes_to_the_uninterrupted_result(tmp_path):
    # was: the resumed race decided on the killed run's fits beyond its waves (other
    # candidates raced, other means), and a candidate raced on those fits alone was
    # never recorded (its trial left RUNNING)
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = str(root / "tests" / "_racing_killed_run.py")
    env = {**os.environ, "PYTHONPATH": str(root)}

    def run(db, kill_at):
        counter = tmp_path / f"{db}.count"
        out = subprocess.run([sys.executable, script, str(tmp_path / db), str(counter),
                              str(kill_at)], capture_output=True, text=True, env=env,
                             timeout=120)
        return out, (counter.stat().st_size if counter.exists() else 0)

    reference, n_fits = run("ref.db", 0)
    assert reference.returncode == 0, reference.stderr
    killed, _ = run("k.db", 42)
    assert killed.returncode == -9
    resumed, total = run("k.db", 0)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == json.loads(reference.stdout)
    assert total - 42 < n_fits  # the killed run's fits were kept
    study = optuna.load_study(study_name="r", storage=f"sqlite:///{tmp_path / 'k.db'}")
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": np.nan}, r"The 'alpha' parameter of replay must be a float in the range "
                        r"\(0, 1\)\. Got nan instead"),
    ({"alpha": 2.0}, "The 'alpha' parameter of replay must be a float"),
    ({"min_splits": 1}, r"The 'min_splits' parameter of replay must be an int in the range "
                        r"\[2, inf\)\. Got 1 instead"),
    ({"test_train_ratio": None}, "The 'test_train_ratio' parameter of replay must be a float"),
    ({"split_scores": np.zeros(6)}, r"The 'split_scores' parameter of replay must be a 2-D "
                                    r"array .* Got an array of shape \(6,\) instead"),
])
def test_replay_refuses_bad_settings(kwargs, message):
    # was: alpha=nan raced nothing and alpha=2 every candidate, silently; min_splits=1
    # failed inside a test, test_train_ratio=None in float()
    from hpsearch.model_selection._racing import replay

    args = {"split_scores": np.eye(4, 6), "min_splits": 2, "alpha": 0.1,
            "test_train_ratio": 0.25, **kwargs}
    with pytest.raises(ValueError, match=message):
        replay(**args)


@pytest.mark.parametrize("min_splits,cv", [(3, 3), (5, 3)])
def test_racing_that_cannot_race_says_so(min_splits, cv):
    # was silent: with racing_min_splits >= the splits every candidate is fitted on
    # every split, and racing=True did nothing
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(_logreg(), {"logisticregression__C": [0.1, 1.0]}, cv=cv,
                          racing=True,
                          racing_min_splits=min_splits)
    with pytest.warns(UserWarning, match=rf"racing_min_splits={min_splits} is not below "
                                         rf"the {cv} splits of cv"):
        search.fit(X, y)
    assert len(search.cv_results_["params"]) == 2


def test_racing_that_can_race_does_not_warn():
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(_logreg(), {"logisticregression__C": [0.1, 1.0]}, cv=4,
                          racing=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="racing_min_splits")
        search.fit(X, y)
