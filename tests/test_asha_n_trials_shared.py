"""``n_trials`` of ASHASearchCV is the study's number of candidates, across processes.

Its docstring and the module's ("only the first ``n_trials`` candidates of the study keep
their claim, so ``n_trials`` counts candidates across all processes") make it the study's
total, as Optuna's ``MaxTrialsCallback`` caps a study shared by processes. Processes
started together each decide alone until they see one another, and each claimed its
first candidates without counting the others': two processes with ``n_trials=1`` and
different seeds started 2 candidates (1 run in 5 on SQLite), and a resume with another
``random_state`` of a finished ``n_trials=1`` study added a second candidate.
"""

import collections
import warnings

import optuna
import pytest

from hpsearch.model_selection import ASHASearchCV
from hpsearch.model_selection.store import make_storage
from shared_strategy_worker import WIDE_SPACE, SplitLog, data
from test_shared_strategies import _run_processes


def _candidates(storage):
    study = optuna.load_study(study_name="s", storage=make_storage(str(storage)))
    return {t.user_attrs["hpsearch_key"] for t in study.trials
            if "hpsearch_key" in t.user_attrs and "hpsearch_duplicate" not in t.user_attrs}


def test_a_resume_with_another_seed_keeps_n_trials_candidates(tmp_path, monkeypatch):
    # the second fit drew another alpha, claimed it (trial 1) and fitted it: 2 candidates
    # in a study of n_trials=1, and its cv_results_ showed only its own
    monkeypatch.setenv("SPLITLOG", str(tmp_path / "fits"))
    X, y = data()
    storage = str(tmp_path / "s.db")
    runs = []
    for seed in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs.append(ASHASearchCV(SplitLog(), WIDE_SPACE, n_trials=1, cv=3, refit=False,
                                     storage=storage, study_name="s", resume=True,
                                     random_state=seed).fit(X, y))
    first, second = runs
    assert len(_candidates(storage)) == 1
    assert second.n_candidates_ == 1
    assert list(second.cv_results_["params"]) == list(first.cv_results_["params"])
    assert len((tmp_path / "fits").read_text().splitlines()) == 3  # nothing fitted again
    # a larger n_trials extends the study
    more = ASHASearchCV(SplitLog(), WIDE_SPACE, n_trials=2, cv=3, refit=False,
                        storage=storage, study_name="s", resume=True,
                        random_state=1).fit(X, y)
    assert more.n_candidates_ == 2 and len(_candidates(storage)) == 2


@pytest.mark.parametrize("n_trials, n, storage", [(1, 2, "s.db"), (2, 3, "s.log"),
                                                  (5, 2, "s.db")])
def test_processes_started_together_start_n_trials_candidates(tmp_path, monkeypatch,
                                                              n_trials, n, storage):
    # (the race is timing-dependent: 25 runs by hand of n_trials 1, 2, 5 with 2 and 3
    # processes on SQLite and journal files all passed; before, 1 in 5 runs of
    # n_trials=1 with 2 processes on SQLite started 2 candidates)
    # each process has its own random_state; each split of each (candidate, budget) is
    # fitted once, and every process ends with the study's n_trials candidates
    monkeypatch.setenv("SPLITLOG_N_TRIALS", str(n_trials))
    monkeypatch.setenv("SPLITLOG_WIDE", "1")
    monkeypatch.setenv("SPLITLOG_SEED_PER_PROCESS", "1")
    fits, results = _run_processes(tmp_path, "asha", storage, n=n)
    assert [r[0] for r in results] == ["ok"] * n, results
    assert not {fit: k for fit, k in collections.Counter(fits).items() if k > 1}
    assert len({alpha for alpha, _, _ in fits}) == n_trials
    assert len(_candidates(tmp_path / storage)) == n_trials
    for _, result in results:
        assert len({str(p) for p in result["params"]}) == n_trials
        assert list(result["params"]) == list(results[0][1]["params"])


def test_a_resume_with_another_space_is_refused_when_it_opens_the_study(tmp_path,
                                                                       monkeypatch):
    # was: the resume drew 3 candidates of the new space beside the study's 3 of the old
    # one (6 in the study) and reported only its own, n_candidates_=3
    from hpsearch.model_selection.store import StudyMismatch

    monkeypatch.setenv("SPLITLOG", str(tmp_path / "fits"))
    X, y = data()
    common = dict(cv=3, refit=False, storage=str(tmp_path / "s.db"), study_name="s",
                  resume=True, random_state=0)
    ASHASearchCV(SplitLog(), {"alpha": [0.001, 0.01, 0.1, 1.0]}, n_trials=3,
                 **common).fit(X, y)
    with pytest.raises(StudyMismatch, match="The 'param_distributions' parameter of "
                                            "ASHASearchCV must be the same") as info:
        ASHASearchCV(SplitLog(), {"alpha": [0.5, 5.0, 50.0]}, n_trials=9,
                     **common).fit(X, y)
    assert info.value.setting == "param_distributions"
    assert len(_candidates(tmp_path / "s.db")) == 3
    # the same space continues it
    more = ASHASearchCV(SplitLog(), {"alpha": [0.001, 0.01, 0.1, 1.0]}, n_trials=4,
                        **common).fit(X, y)
    assert more.n_candidates_ == 4 and len(_candidates(tmp_path / "s.db")) == 4


def test_trials_enqueued_in_a_full_study_wait_for_a_larger_n_trials(tmp_path, monkeypatch):
    # was: a resume with the same n_trials=3 took both enqueued trials as its first
    # candidates: 4 distinct candidates in the study, and its cv_results_ left out the
    # study's candidate 3.0
    monkeypatch.setenv("SPLITLOG", str(tmp_path / "fits"))
    X, y = data()
    storage = str(tmp_path / "s.db")
    common = dict(cv=3, refit=False, storage=storage, study_name="s", resume=True,
                  random_state=0)
    first = ASHASearchCV(SplitLog(), WIDE_SPACE, n_trials=3, **common).fit(X, y)
    study = optuna.load_study(study_name="s", storage=make_storage(storage))
    study.enqueue_trial({"alpha": 0.01})
    study.enqueue_trial({"alpha": 1000.0})
    with pytest.warns(UserWarning, match="2 trial.s. enqueued in study 's' are still "
                                         "WAITING"):
        again = ASHASearchCV(SplitLog(), WIDE_SPACE, n_trials=3, **common).fit(X, y)
    assert list(again.cv_results_["params"]) == list(first.cv_results_["params"])
    assert len(_candidates(storage)) == 3
    # a larger n_trials takes them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        more = ASHASearchCV(SplitLog(), WIDE_SPACE, n_trials=5, **common).fit(X, y)
    alphas = {p["alpha"] for p in more.cv_results_["params"]}
    assert {0.01, 1000.0} <= alphas and len(alphas) == 5
    assert len(_candidates(storage)) == 5
    assert not [t for t in study.get_trials() if t.state.name == "WAITING"]
