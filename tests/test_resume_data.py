"""A resumed study must be resumed on the data it ran on (store.check_data).

A recorded fit is found again by its row key (candidate, budget, splitter, scoring,
estimator), which does not hold the data: before this check, resuming a study on edited
data silently reused the old fits' scores as if made on the new data.
"""

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from hpsearch import ASHASearchCV, GridSearchCV, MLPClassifier, OptunaSearchCV
from hpsearch.cli import main
from hpsearch.model_selection.store import DATA_ATTR, data_fingerprint

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y = load_iris(return_X_y=True)
GROUPS = np.arange(len(Y)) % 5


def _grid(storage, **kw):
    kw = {"cv": 3, **kw}
    return GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0]},
                        storage=storage, study_name="s", **kw)


def _n_trials(storage):
    return len(optuna.load_study(study_name="s", storage=storage).trials)


@pytest.mark.parametrize("change", ["X", "y", "groups", "sample_weight"])
def test_resume_on_other_data_is_refused_before_any_fit(tmp_path, change):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    fit = {"X": X, "y": Y, "groups": GROUPS}
    search = _grid(storage, cv=GroupKFold(3))
    search.fit(fit["X"], fit["y"], groups=fit["groups"])
    trials = _n_trials(storage)
    changed = dict(fit)
    params = {}
    if change == "X":
        changed["X"] = X + 1.0
    elif change == "y":
        changed["y"] = Y[::-1].copy()
    elif change == "groups":
        changed["groups"] = np.arange(len(Y)) % 3
    else:
        params["sample_weight"] = np.linspace(0.5, 1.5, len(Y))
    again = _grid(storage, cv=GroupKFold(3), resume=True)
    with pytest.raises(ValueError, match="The study 's' holds fits made on other data"):
        again.fit(changed["X"], changed["y"], groups=changed["groups"], **params)
    assert _n_trials(storage) == trials  # nothing claimed, nothing fitted
    # the same data still resumes, fitting nothing again
    resumed = _grid(storage, cv=GroupKFold(3), resume=True).fit(
        fit["X"], fit["y"], groups=fit["groups"])
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  search.cv_results_["mean_test_score"])
    assert _n_trials(storage) == trials


def test_the_fingerprint_is_of_the_values():
    a = data_fingerprint(X, Y, None, {"sample_weight": np.ones(len(Y))})
    assert a == data_fingerprint(X.copy(), Y.copy(), None,
                                 {"sample_weight": np.ones(len(Y))})
    assert a != data_fingerprint(X, Y, None, {"sample_weight": np.full(len(Y), 2.0)})
    assert a != data_fingerprint(X[:-1], Y[:-1], None, {"sample_weight": np.ones(len(Y) - 1)})
    # a fit parameter that cannot be pickled counts by its type
    assert data_fingerprint(X, Y, None, {"cb": lambda: 0}) == data_fingerprint(
        X, Y, None, {"cb": lambda: 1})


def test_a_search_without_storage_does_not_hash_the_data(monkeypatch):
    import hpsearch.model_selection._base as base

    def fail(*args, **kwargs):
        raise AssertionError("hashed")

    monkeypatch.setattr(base, "data_fingerprint", fail)
    GridSearchCV(LogisticRegression(max_iter=300), {"C": [1.0]}, cv=3).fit(X, Y)


@pytest.mark.parametrize("make", [
    lambda storage, **kw: OptunaSearchCV(
        LogisticRegression(max_iter=300), {"C": [0.1, 1.0]}, n_trials=2, cv=3,
        random_state=0, storage=storage, study_name="s", **kw),
    lambda storage, **kw: ASHASearchCV(
        MLPClassifier((4,), max_iter=3, random_state=0), {"alpha": [1e-4, 1e-2]},
        n_trials=2, min_resources=1, max_resources=3, cv=2, random_state=0,
        storage=storage, study_name="s", **kw),
], ids=["optuna", "asha"])
def test_every_search_checks_its_data(tmp_path, make):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    make(storage).fit(X, Y)
    study = optuna.load_study(study_name="s", storage=storage)
    assert study._storage.get_study_system_attrs(study._study_id)[DATA_ATTR]
    with pytest.raises(ValueError, match="holds fits made on other data"):
        make(storage, resume=True).fit(X * 0.5, Y)


STUDY = """\
name: data
seed: 0
data: {path: rows.csv, target: label, test_size: 0.25}
estimator: {name: logistic_regression, params: {max_iter: 300}}
search:
  method: grid
  space: {C: [0.1, 1.0]}
cv: 3
n_jobs: 1
"""


def test_the_cli_says_so_in_one_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(60, 3))
    labels = (rows[:, 0] > 0).astype(int)

    def write(values):
        lines = ["a,b,c,label"] + [f"{r[0]},{r[1]},{r[2]},{v}" for r, v in zip(values, labels)]
        (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")

    write(rows)
    study = tmp_path / "data.yaml"
    study.write_text(STUDY)
    args = [str(study), "--out", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 0
    write(rows * 2.0)  # the data file was edited
    assert main([*args, "--resume"]) != 0
    err = capsys.readouterr().err
    assert "holds fits made on other data" in err and "Traceback" not in err


def test_a_memmap_or_fortran_copy_is_the_same_data(tmp_path):
    memmap = np.memmap(tmp_path / "x.dat", dtype=X.dtype, mode="w+", shape=X.shape)
    memmap[:] = X
    a = data_fingerprint(X, Y)
    assert a == data_fingerprint(memmap, Y) == data_fingerprint(np.asfortranarray(X), Y)
    assert a != data_fingerprint(X.astype(np.float32), Y)  # other values: refused


def test_weights_routed_to_the_scorer_only_are_part_of_the_data(tmp_path):
    # with metadata routing, a sample_weight the scorer requests and the estimator does
    # not was left out of the fingerprint: a resume on other weights reused the scores
    import sklearn
    from sklearn.metrics import accuracy_score, make_scorer

    storage = f"sqlite:///{tmp_path / 's.db'}"

    def make(**kw):
        est = LogisticRegression(max_iter=300).set_fit_request(sample_weight=False)
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        return GridSearchCV(est, {"C": [1.0]}, cv=3, scoring=scorer, storage=storage,
                            study_name="s", **kw)

    with sklearn.config_context(enable_metadata_routing=True):
        make().fit(X, Y, sample_weight=np.ones(len(Y)))
        with pytest.raises(ValueError, match="holds fits made on other data"):
            make(resume=True).fit(X, Y, sample_weight=np.where(Y == 0, 10.0, 0.1))
        make(resume=True).fit(X, Y, sample_weight=np.ones(len(Y)))  # same: resumes


@pytest.mark.parametrize("first", ["unweighted", "no routing"])
def test_a_resume_whose_scorer_now_weights_otherwise_is_refused(tmp_path, first):
    # the same weights for fit, but the scorer weighted the recorded test scores and not
    # the resumed search's (or the reverse): the fingerprint was the same, so a resume
    # reused the other scores (here: the unweighted 0.9733 reported for the weighted
    # scorer's 0.9690; and the reverse from a study run without routing)
    import sklearn
    from sklearn.metrics import accuracy_score, make_scorer

    storage = f"sqlite:///{tmp_path / 's.db'}"
    w = np.random.RandomState(0).rand(len(Y)) * 3

    def make(score_weights, **kw):
        estimator, scorer = LogisticRegression(max_iter=300), make_scorer(accuracy_score)
        if score_weights is not None:
            estimator.set_fit_request(sample_weight=True)
            scorer.set_score_request(sample_weight=score_weights)
        return GridSearchCV(estimator, {"C": [1.0]}, cv=3, scoring=scorer,
                            storage=storage, study_name="s", **kw)

    if first == "no routing":  # the scorer gets the weights
        make(None).fit(X, Y, sample_weight=w)
    with sklearn.config_context(enable_metadata_routing=True):
        if first == "unweighted":
            make(False).fit(X, Y, sample_weight=w)
        with pytest.raises(ValueError, match="which of them the scorer gets"):
            make(first == "unweighted", resume=True).fit(X, Y, sample_weight=w)
        make(first != "unweighted", resume=True).fit(X, Y, sample_weight=w)  # resumes


def test_a_weight_for_fit_and_score_keeps_the_recorded_fingerprint(monkeypatch):
    # without routing sample_weight goes to fit and scorer: the fingerprint is the one
    # studies recorded before score parameters were part of it
    import hpsearch.model_selection._base as base

    seen = []
    monkeypatch.setattr(base, "data_fingerprint",
                        lambda *a: seen.append(a) or data_fingerprint(*a))
    w = np.ones(len(Y))
    _grid("sqlite://").fit(X, Y, sample_weight=w)
    assert seen[0][4] == {}
    assert data_fingerprint(*seen[0]) == data_fingerprint(X, Y, None, {"sample_weight": w})


def test_two_processes_starting_at_once_on_other_data_are_not_both_accepted(tmp_path):
    # was: each read "no fingerprint" and recorded its own, so two workers of one shared
    # study on other data both ran, each reusing the other's fits
    import threading

    from hpsearch.model_selection.store import TrialStore

    storage = f"sqlite:///{tmp_path / 's.db'}"
    stores = [TrialStore(storage, "s", resume=True) for _ in range(2)]
    barrier = threading.Barrier(2, timeout=10)
    for store in stores:  # neither goes on from its look before both have looked
        get = store._storage.get_study_system_attrs

        def look(study_id, get=get):
            attrs = get(study_id)
            barrier.wait()
            return attrs

        store._storage.get_study_system_attrs = look
    outcome = {}

    def check(i):
        try:
            stores[i].check_data(str(i) * 32)
            outcome[i] = "accepted"
        except ValueError as exc:
            outcome[i] = str(exc)

    threads = [threading.Thread(target=check, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert list(outcome.values()).count("accepted") <= 1, outcome
    assert all(v == "accepted" or "holds fits made on other data" in v
               for v in outcome.values())
    # a refused process withdrew its announcement: the accepted one (or, when both
    # were refused, the first to come back) resumes, the other is refused
    first = [i for i, v in outcome.items() if v == "accepted"] or [0]
    data, other = str(first[0]) * 32, str(1 - first[0]) * 32
    TrialStore(storage, "s", resume=True).check_data(data)
    with pytest.raises(ValueError, match="other data"):
        TrialStore(storage, "s", resume=True).check_data(other)
    TrialStore(storage, "s", resume=True).check_data(data)  # the same data resumes


def test_a_cv_that_splits_otherwise_is_refused(tmp_path):
    # was: the row key holds repr(cv), the same for KFold(shuffle=True) without a
    # random_state, so a resume mixed the recorded fits of other folds with new ones
    from sklearn.model_selection import KFold

    storage = f"sqlite:///{tmp_path / 's.db'}"
    _grid(storage, cv=KFold(3, shuffle=True)).fit(X, Y)
    trials = _n_trials(storage)
    with pytest.raises(ValueError, match="The 'cv' splits of this search differ.*"
                                         "random_state"):
        _grid(storage, cv=KFold(3, shuffle=True), resume=True).fit(X, Y)
    assert _n_trials(storage) == trials
    seeded = f"sqlite:///{tmp_path / 't.db'}"
    first = _grid(seeded, cv=KFold(3, shuffle=True, random_state=0)).fit(X, Y)
    again = _grid(seeded, cv=KFold(3, shuffle=True, random_state=0), resume=True).fit(X, Y)
    np.testing.assert_array_equal(first.cv_results_["mean_test_score"],
                                  again.cv_results_["mean_test_score"])


def test_a_refused_process_withdraws_only_its_own_announcement(tmp_path):
    # two processes on data "b" share one announcement key otherwise: the refused one's
    # withdrawal would hide the other's, and a process on data "a" could then pass too
    from hpsearch.model_selection.store import TrialStore

    storage = f"sqlite:///{tmp_path / 's.db'}"
    a, b1, b2 = (TrialStore(storage, "s", resume=True) for _ in range(3))
    attr = a._storage.get_study_system_attrs
    b2._storage.set_study_system_attr(b2._study_id, f"{DATA_ATTR}:{'b' * 32}:{b2.owner}",
                                      True)  # b2 has announced, not looked yet
    a._storage.set_study_system_attr(a._study_id, f"{DATA_ATTR}:{'a' * 32}:{a.owner}",
                                     True)  # so has a
    with pytest.raises(ValueError, match="other data"):
        b1.check_data("b" * 32)  # sees a: refused, withdraws its own announcement
    live = {k for k, v in attr(a._study_id).items() if v and k.startswith(DATA_ATTR + ":")}
    assert f"{DATA_ATTR}:{'b' * 32}:{b2.owner}" in live
