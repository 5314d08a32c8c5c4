"""ASHASearchCV under hostile use: timeouts in the middle of promotions, bad inputs,
failing fits (regressions of bugs a hostile review found)."""

import time

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from hpsearch import ASHASearchCV

from _hostile import SPACE, diabetes
from _hostile import SlowAbove as _SlowAbove


@pytest.fixture(scope="module")
def data():
    return diabetes()


def test_timeout_during_a_promotion_never_picks_the_cut_row(data):
    """The timeout cuts the only job of rung 1: the best row is the best one that ran
    (rung 0), not the cut row with its NaN score."""
    X, y = data
    search = ASHASearchCV(_SlowAbove(), SPACE, n_trials=3, resource="n_samples",
                          min_resources=16, max_resources=150, cv=3, random_state=0,
                          n_jobs=1, timeout=3.0, refit=False).fit(X, y)
    res = search.cv_results_
    assert "not run" in set(res["state"])  # the rung-1 job was cut
    assert res["state"][search.best_index_] != "not run"
    assert np.isfinite(search.best_score_)
    ran = res["state"] != "not run"
    assert search.best_score_ == np.nanmax(res["mean_test_score"][ran])
    assert res["rank_test_score"][search.best_index_] == 1
    # no candidate reached the top rung: none is a COMPLETE trial (the cut one was
    # closed COMPLETE with its rung-0 score, Optuna's best_trial); all stopped: PRUNED
    states = [t.state.name for t in search.study_.get_trials()]
    assert states == ["PRUNED"] * 3


def test_a_small_factor_gives_no_rung_at_the_budget_of_the_one_below():
    """factor=1.5 from 1 to 9 epochs: Hyperband's budgets floor(9 * 1.5**(k - 5)) are
    1, 1, 2, 4, 6, 9; a second rung at 1 epoch would 'continue' training by 0 epochs
    (the search crashed mid-way). Repeated budgets are merged."""
    from sklearn.datasets import load_digits

    from hpsearch import MLPClassifier
    from hpsearch.model_selection.space import Float
    from hpsearch.model_selection.strategies._asha_schedule import asha_rungs

    assert asha_rungs(1, 9, 1.5) == (1, 2, 4, 6, 9)
    rungs = asha_rungs(1, 20, 1.2)
    assert list(rungs) == sorted(set(rungs)) and rungs[0] == 1 and rungs[-1] == 20
    X, y = load_digits(return_X_y=True)
    X, y = (X / 16.0)[:120], y[:120]
    search = ASHASearchCV(MLPClassifier((4,), max_iter=9, batch_size=32, random_state=0),
                          {"alpha": Float(1e-5, 1.0, log=True)}, n_trials=12,
                          min_resources=1, max_resources=9, factor=1.5, cv=2,
                          random_state=0).fit(X, y)
    assert search.n_resources_ == [1, 2, 4, 6, 9]
    res = search.cv_results_
    assert (res["n_resources"] == 9).any()
    for c in set(res["candidate"]):
        budgets = res["n_resources"][res["candidate"] == c]
        assert (np.diff(budgets) > 0).all()


def test_a_bool_n_trials_is_refused_in_the_name_of_the_search(data):
    """n_trials=True passed sklearn's int check and failed inside the schedule, in the
    name of an internal class (ASHASchedule)."""
    X, y = data
    search = ASHASearchCV(Ridge(), SPACE, n_trials=True, resource="n_samples", cv=2)
    with pytest.raises(ValueError, match=r"^The 'n_trials' parameter of ASHASearchCV must "
                                         r"be None or an int in the range \[1, inf\)\. Got "
                                         r"True instead\.$"):
        search.fit(X, y)


@pytest.mark.parametrize("sampler, space", [
    ("tpe", {"alpha": [0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
             "fit_intercept": [True, False], "positive": [True, False]}),
    ("qmc", {"alpha": "continuous"}),
], ids=["tpe-discrete", "qmc-continuous"])
def test_a_model_sampler_that_repeats_itself_does_not_end_the_search_early(data, sampler,
                                                                           space):
    """TPE on a 40-point space, or QMC (its sequence restarts in each fresh study), keeps
    proposing known candidates: that is no exhausted space. The search started 12 (TPE)
    or 11 (QMC) of the 30 candidates asked for and ended silently."""
    from hpsearch.model_selection.space import Float

    X, y = data
    if space == {"alpha": "continuous"}:
        space = {"alpha": Float(1e-3, 10.0, log=True), "tol": Float(1e-5, 1e-2, log=True)}
    search = ASHASearchCV(Ridge(), space, sampler=sampler, n_trials=30,
                          resource="n_samples", min_resources=10, max_resources=150, cv=2,
                          random_state=0, refit=False).fit(X, y)
    res = search.cv_results_
    rung0 = [p for p, k in zip(res["params"], res["iter"]) if k == 0]
    assert search.n_candidates_ == 30 == len(rung0)
    assert len({tuple(sorted(p.items())) for p in rung0}) == 30


def test_a_space_smaller_than_n_trials_is_said(data):
    """sklearn's RandomizedSearchCV warns when the space is smaller than n_iter; ASHA
    ran 3 of the 10 candidates asked for without a word."""
    X, y = data
    search = ASHASearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_trials=10,
                          resource="n_samples", cv=3, random_state=0)
    with pytest.warns(UserWarning, match=r"3 candidates .*n_trials=10"):
        search.fit(X, y)
    assert search.n_candidates_ == 3


def test_results_after_a_job_the_timeout_cut_are_kept():
    """Results are applied in the order they are due; a job the timeout cut never
    reports, and every result due after it was left out of the schedule at the end (its
    row, complete and scored, was shown "not run" and could not be the best)."""
    from hpsearch.model_selection.strategies._asha_schedule import ASHASchedule
    from hpsearch.model_selection.strategies.asha import _Decisions

    schedule = ASHASchedule(1, 9, 3, n_trials=4)
    decisions = _Decisions(schedule, 2, lambda job: True)
    jobs = [decisions.next() for _ in range(2)]
    decisions.report(1, 0.5)  # job 0 is cut by the timeout: it never reports
    decisions.apply_all()
    assert schedule.results(0) == {jobs[1].candidate: 0.5}
    assert decisions.applied == 1


class _SlowAlpha(Ridge):
    """Ridge whose fits with alpha < 1 take 1.5 s."""

    def fit(self, X, y, sample_weight=None):
        time.sleep(1.5 if self.alpha < 1 else 0.0)
        return super().fit(X, y)


def test_a_wave_the_timeout_cut_keeps_its_finished_jobs(data):
    """Joblib backends run waves of jobs; the timeout cut the slow job of the first
    wave and the whole wave was dropped, also the job that had finished every split:
    its row was shown "not run" and its trial left RUNNING."""
    X, y = data
    search = ASHASearchCV(_SlowAlpha(), {"alpha": [0.1, 10.0]}, n_trials=2,
                          resource="n_samples", min_resources=150, max_resources=150,
                          cv=3, n_jobs=2, backend="threading", timeout=0.5,
                          random_state=0).fit(X, y)
    res = search.cv_results_
    states = dict(zip([p["alpha"] for p in res["params"]], res["state"]))
    assert res["params"][0] == {"alpha": 10.0}  # the fast job comes first in the wave
    assert states == {10.0: "complete", 0.1: "not run"}
    assert search.best_params_ == {"alpha": 10.0}
    trials = {t.params.get("alpha", t.user_attrs.get("params")): t.state.name
              for t in search.study_.get_trials()}
    assert "COMPLETE" in trials.values()


CLI_STUDY = """\
name: hostile
seed: 0
data: {dataset: digits}
estimator:
  name: mlp_classifier
  params: {hidden_layer_sizes: [4], batch_size: 64}
search:
  method: asha
  n_trials: 6
  resource: epochs
  min_resources: 1
  max_resources: 9
  space:
    learning_rate_init: {type: float, low: 1e-3, high: 1e-1, log: true}
cv: 2
n_jobs: 1
"""


def test_an_interrupted_asha_study_says_its_candidates_in_progress_are_kept(
        tmp_path, monkeypatch, capsys):
    """ASHA closes a candidate only at the top rung or at the end, so after Ctrl-C every
    candidate is in progress: the CLI said "0 finished candidate(s) kept" while 7 fits
    were in the store (a user could take it for lost work and --overwrite it)."""
    from hpsearch import mlp
    from hpsearch.cli import main

    study = tmp_path / "hostile.yaml"
    study.write_text(CLI_STUDY)
    calls, fit = [], mlp.MLPClassifier.fit

    def interrupted(self, *args, **kwargs):
        calls.append(None)
        if len(calls) > 7:  # the 2nd split of the first promotion
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(mlp.MLPClassifier, "fit", interrupted)
    rc = main([str(study), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 130, err
    assert "interrupted; 0 finished candidate(s) kept in sqlite:///" in err
    assert "3 candidate(s) in progress keep their finished fits" in err


@pytest.mark.parametrize("kwargs", [{"n_trials": np.int64(4)}, {"factor": np.float32(3)},
                                    {"factor": np.int64(3)}],
                         ids=["n_trials-int64", "factor-float32", "factor-int64"])
def test_numpy_scalars_are_accepted_as_sklearn_accepts_them(data, tmp_path, kwargs):
    """sklearn's checks accept NumPy scalars; with a storage they crashed the search
    (TypeError: Object of type int64 is not JSON serializable), and factor=np.int64(3)
    failed everywhere (Integers to negative integer powers are not allowed)."""
    X, y = data
    kw = {"n_trials": 4, **kwargs}
    plain = ASHASearchCV(Ridge(), SPACE, resource="n_samples", cv=2, random_state=0,
                         **{k: np.asarray(v).item() for k, v in kw.items()}).fit(X, y)
    search = ASHASearchCV(Ridge(), SPACE, resource="n_samples", cv=2, random_state=0,
                          storage=str(tmp_path / "np.db"), study_name="np", **kw).fit(X, y)
    assert search.n_resources_ == plain.n_resources_
    assert search.cv_results_["params"] == plain.cv_results_["params"]


class _Slow(Ridge):
    def fit(self, X, y, sample_weight=None):
        time.sleep(2.0)
        return super().fit(X, y)


def test_a_timeout_before_any_job_finished_is_an_error(data):
    """Only one split of the first job ran: no candidate has a result. The search
    returned best_index_ on that 'not run' row (best_score_ NaN) and refitted it,
    instead of the documented ValueError."""
    X, y = data
    search = ASHASearchCV(_Slow(), SPACE, n_trials=3, resource="n_samples", cv=3,
                          random_state=0, n_jobs=1, timeout=3.0)
    with pytest.raises(ValueError, match=r"The search's timeout=3\.0 seconds was reached "
                                         "before any candidate finished all its splits"):
        search.fit(X, y)


def test_a_study_file_with_only_a_timeout_names_n_trials(tmp_path, capsys):
    """`n_trials: null` with a timeout passes the schema, then the plan refused it as
    "search: plan_rounds needs n_trials" (an internal method, no YAML key)."""
    from hpsearch.cli import main

    study = tmp_path / "timeout.yaml"
    study.write_text(CLI_STUDY.replace("  n_trials: 6\n",
                                       "  n_trials: null\n  timeout: 5\n"))
    rc = main([str(study), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert ("search.n_trials: The 'n_trials' parameter of ASHASearchCV must be an int in "
            "the range [1, inf) to plan the jobs") in err
    assert "Got None instead" in err
