"""A candidate two processes of one Optuna study ask at once is fitted once.

Two processes running one ``OptunaSearchCV`` (``resume=True``, one SQLite file) both
fitted a candidate they asked at the same time (a small space: 10 fits for 3 distinct
candidates x 2 splits, two real processes, 8 trials). The races are replayed here with
one :class:`~hpsearch.model_selection.store.TrialStore` per simulated process (each its
own owner, alive while open), as in ``test_many_processes.py``.
"""

import optuna
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from hpsearch.model_selection.store import TrialStore, owner_id
from hpsearch.model_selection.strategies.bayes import OptunaSearchCV


def _asked(store, row_key="r0"):
    """A RUNNING trial this store's process asked for the row ``row_key``."""
    row = {"params": {"alpha": 1.0}, "candidate_key": "c0", "key": row_key}
    row["trial_id"] = store._new_trial(row, "c0", optuna.trial.TrialState.RUNNING, None,
                                       {"hpsearch_owner": store.owner})
    store._mine.add(row["trial_id"])
    return row


@pytest.fixture
def stores(tmp_path):
    storage = str(tmp_path / "s.log")  # (a journal file: SQLite the same, slower to make)
    first, second = (TrialStore(storage, "s", resume=True) for _ in range(2))
    yield first, second
    first.close()
    second.close()


def _tickets(store):
    return [t for t in store.study.get_trials() if "hpsearch_ticket" in t.user_attrs]


def test_the_second_to_look_waits_for_the_first(stores):
    first, second = stores
    a, b = _asked(first), _asked(second)
    assert first.turns([a]) == ["mine"]  # nobody else marked it: fits, no ticket
    assert second.turns([b]) == ["busy"]  # first's mark, without a ticket: it fits
    assert [t.user_attrs["hpsearch_owner"] for t in _tickets(first)] == [second.owner]
    first.record(dict(a, test_scores=[{"score": 1.0}], train_scores=[None],
                      fit_time=[0.1], score_time=[0.1], n_test_samples=[5],
                      error=[None], resources=None),
                 "c0", value=1.0, trial=optuna.Trial(first.study, a["trial_id"]))
    assert second.turns([b]) == ["done"]  # filled from the store, fitted nowhere else


def test_two_that_see_each_other_agree_on_one(stores):
    # both marked before either read: each sees the other; the lowest ticket fits
    first, second = stores
    a, b = _asked(first), _asked(second)
    second._mark_job(b["trial_id"], b)
    second._marked.add(b["trial_id"])
    assert first.turns([a]) == ["busy"]  # second has no ticket yet: it may be fitting
    assert second.turns([b]) == ["busy"]  # first's ticket is the lower
    assert first.turns([a]) == ["mine"]
    assert second.turns([b]) == ["busy"]
    assert len(_tickets(first)) == 2
    assert all(t.state.name == "FAIL" and t.user_attrs["hpsearch_duplicate"]
               for t in _tickets(first))


def test_a_dead_process_mark_counts_for_nothing(stores):
    first, second = stores
    dead = _asked(second)
    first._storage.set_trial_user_attr(dead["trial_id"], "hpsearch_owner",
                                       owner_id(pid=2**22 + 1))
    first._storage.set_trial_user_attr(dead["trial_id"], "hpsearch_job", "r0")
    assert first.turns([_asked(first)]) == ["mine"]


class _LoggedRidge(Ridge):
    """Appends a line per fit to ``log`` (fits run in worker processes)."""

    def __init__(self, alpha=1.0, log=None):
        super().__init__(alpha=alpha)
        self.log = log

    def fit(self, X, y, sample_weight=None):
        with open(self.log, "a") as f:
            f.write(f"{self.alpha}\n")
        return super().fit(X, y)


@pytest.mark.parametrize("storage", [None, "s.log"])
def test_one_candidate_twice_in_a_batch_is_fitted_once(tmp_path, storage):
    # n_jobs=2 asks two trials per batch; both asked the only candidate and both were
    # fitted (4 fits), though a repeated candidate's fits are not run again
    X, y = load_diabetes(return_X_y=True)
    log = tmp_path / "fits"
    search = OptunaSearchCV(
        _LoggedRidge(log=str(log)), {"alpha": [1.0]}, n_trials=2, cv=2, n_jobs=2,
        random_state=0, refit=False,
        storage=None if storage is None else str(tmp_path / storage),
    ).fit(X[:60], y[:60])
    assert log.read_text().split() == ["1.0", "1.0"]  # 2 splits, once
    res = search.cv_results_
    assert len(res["params"]) == 2 and res["mean_test_score"][0] == res["mean_test_score"][1]
    assert [t.state.name for t in search.study_.trials] == ["COMPLETE", "COMPLETE"]


@pytest.mark.parametrize("kind, later", [
    ("random", "an OptunaSearchCV with resume=True on this study"),
    ("halving", "no other search may resume this study of HalvingSearchCV"),
])
def test_enqueued_trials_left_waiting_are_said_what_becomes_of_them(tmp_path, kind, later):
    # the warning said "they stay WAITING", not that they are neither fitted nor rows,
    # nor who would run them (a halving's study no Optuna search may resume)
    from hpsearch.model_selection import HalvingSearchCV, RandomSearchCV
    from hpsearch.model_selection.store import make_storage

    X, y = load_diabetes(return_X_y=True)
    storage = str(tmp_path / "s.log")
    optuna.create_study(storage=make_storage(storage), study_name="s",
                        direction="maximize").enqueue_trial({"alpha": 0.5})
    common = dict(cv=2, refit=False, storage=storage, study_name="s", resume=True,
                  random_state=0)
    space = {"alpha": [0.1, 1.0]}
    search = (RandomSearchCV(Ridge(), space, n_iter=2, **common) if kind == "random" else
              HalvingSearchCV(Ridge(), space, resource="n_samples", n_candidates="grid",
                              min_resources=20, **common))
    with pytest.warns(UserWarning, match=r"stay WAITING, not fitted, not in cv_results_ "
                                         rf"and not counted .*; {later}"):
        search.fit(X[:80], y[:80])
