"""A resume with a longer ``fit_timeout`` fits again exactly the fits an earlier run
stopped under a shorter one (and, in halving searches, what their new scores promote);
finished fits and fits that failed otherwise stay."""

import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.linear_model import Ridge

from hpsearch.mlp import MLPClassifier
from hpsearch.model_selection.strategies.bayes import OptunaSearchCV
from hpsearch.model_selection.strategies.grid import GridSearchCV
from hpsearch.model_selection.strategies.halving import HalvingGridSearchCV, HyperbandSearchCV
from hpsearch.model_selection.strategies.random import RandomSearchCV

ALPHAS = [0.1, 1.0, 10.0, -1.0]  # 10.0 sleeps past the short fit_timeout, -1.0 fails
#: A fit past SHORT sleeps SLEEP; every other fit (and the work around it under the
#: fit_timeout alarm: clone, BLAS limits, scoring) must end within SHORT, also on a loaded
#: machine (was 0.2 s: under a load average of 7 on 2 cores a fit of the hyperband test
#: was stopped before its fit began, "assert 1 == 2" fits started)
SLEEP = 1.0
SHORT, LONG = 0.5, 4.0


class SleepyRidge(Ridge):
    """Ridge that leaves a marker file in ``marks`` at every fit; ``alpha=10`` sleeps
    :data:`SLEEP` s first, a negative alpha fails (sklearn's own error)."""

    def __init__(self, alpha=1.0, marks=""):
        super().__init__(alpha=alpha)
        self.marks = marks

    def fit(self, X, y, sample_weight=None):
        (Path(self.marks) / f"{self.alpha}_{uuid.uuid4().hex}").touch()
        if self.alpha == 10.0:
            time.sleep(SLEEP)
        return super().fit(X, y)


def _fits(marks):
    """Fits started per alpha, then the markers are cleared."""
    counts = {}
    for path in Path(marks).iterdir():
        alpha = float(path.name.split("_")[0])
        counts[alpha] = counts.get(alpha, 0) + 1
        path.unlink()
    return counts


SEARCHES = {
    "grid": lambda est, **kw: GridSearchCV(est, {"alpha": ALPHAS}, **kw),
    "random": lambda est, **kw: RandomSearchCV(est, {"alpha": ALPHAS}, n_iter=4, **kw),
    "optuna": lambda est, **kw: OptunaSearchCV(est, {"alpha": ALPHAS}, n_trials=4, **kw),
}


def _search(kind, marks, storage, study_name, fit_timeout):
    return SEARCHES[kind](SleepyRidge(marks=str(marks)), cv=2, refit=False, n_jobs=1,
                          random_state=0, storage=storage, study_name=study_name,
                          fit_timeout=fit_timeout)


def _assert_same(a, b):
    """Equal results; Optuna's ``trial`` column names the trial holding the row: the
    new trial that took over the slot of a stopped candidate."""
    assert a["params"] == b["params"]
    for key in a:
        if "time" not in key and key not in ("params", "trial"):
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), key)


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True)
    return X[:120], y[:120]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind", list(SEARCHES))
def test_a_longer_fit_timeout_refits_exactly_the_stopped_fits(tmp_path, data, kind):
    X, y = data
    marks = tmp_path / "marks"
    marks.mkdir()
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    search = _search(kind, marks, storage, "s", SHORT).fit(X, y)
    stopped = search.cv_results_["params"].index({"alpha": 10.0})
    assert np.isnan(search.cv_results_["mean_test_score"][stopped])
    first = _fits(marks)  # (Optuna may sample a candidate twice: fitted once)
    assert first[10.0] == 2 and first[-1.0] == 2 and sum(first.values()) >= 6

    # the same or a shorter fit_timeout: nothing runs again
    for timeout in (SHORT, 0.1):
        search.set_params(fit_timeout=timeout, resume=True).fit(X, y)
        assert _fits(marks) == {}
        assert np.isnan(search.cv_results_["mean_test_score"][stopped])

    # a longer one: the two stopped fits only (not the failed alpha=-1 ones)
    resumed = search.set_params(fit_timeout=LONG, resume=True).fit(X, y).cv_results_
    assert _fits(marks) == {10.0: 2}
    full = _search(kind, marks, None, None, LONG).fit(X, y)  # uninterrupted
    assert _fits(marks) == first
    _assert_same(resumed, full.cv_results_)
    assert np.isfinite(resumed["mean_test_score"][stopped])

    # done now: another resume, even without any fit_timeout, fits nothing
    again = search.set_params(fit_timeout=None, resume=True).fit(X, y).cv_results_
    assert _fits(marks) == {}
    _assert_same(again, full.cv_results_)


class SleepyRidgeN(Ridge):
    """Ridge that leaves a marker ``<alpha>_<n_samples>_...`` in ``marks`` at every fit;
    ``alpha=0.01`` sleeps :data:`SLEEP` s on fewer than 100 samples (its first rung)."""

    def __init__(self, alpha=1.0, marks=""):
        super().__init__(alpha=alpha)
        self.marks = marks

    def fit(self, X, y, sample_weight=None):
        (Path(self.marks) / f"{self.alpha}_{len(X)}_{uuid.uuid4().hex}").touch()
        if self.alpha == 0.01 and len(X) < 100:
            time.sleep(SLEEP)
        return super().fit(X, y)


def _budget_fits(marks):
    """Fits started per (alpha, n_samples), then the markers are cleared."""
    counts = {}
    for path in Path(marks).iterdir():
        alpha, n, _ = path.name.split("_")
        counts[(float(alpha), int(n))] = counts.get((float(alpha), int(n)), 0) + 1
        path.unlink()
    return counts


BUDGETED = {
    "halving": lambda est, **kw: HalvingGridSearchCV(est, GRID, min_resources=50, **kw),
    "hyperband": lambda est, **kw: HyperbandSearchCV(
        est, GRID, resource="n_samples", min_resources=50, max_resources=200, **kw),
}
GRID = {"alpha": [0.01, 0.1, 1.0, 10.0]}


def _budgeted(kind, marks, storage, fit_timeout):
    return BUDGETED[kind](SleepyRidgeN(marks=str(marks)), factor=2, cv=2, refit=False,
                          n_jobs=1, random_state=0, storage=storage,
                          study_name=storage and "s", fit_timeout=fit_timeout)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind", list(BUDGETED))
def test_halving_refits_the_stopped_fits_then_what_their_scores_promote(tmp_path, kind):
    """alpha=0.01 (the best) is stopped on its first rung, so the first run drops it; the
    resume fits those two fits again, promotes it as the uninterrupted run does, and
    fits again none of the fits the first run finished."""
    X, y = load_diabetes(return_X_y=True)
    marks = tmp_path / "marks"
    marks.mkdir()
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    search = _budgeted(kind, marks, storage, SHORT).fit(X, y)
    first = _budget_fits(marks)
    assert first[(0.01, 50)] == 2 and (0.01, 100) not in first
    search.set_params(resume=True).fit(X, y)
    assert _budget_fits(marks) == {}
    resumed = search.set_params(fit_timeout=LONG, resume=True).fit(X, y).cv_results_
    again = _budget_fits(marks)
    assert again[(0.01, 50)] == 2 and again[(0.01, 100)] == 2
    assert not set(again) & (set(first) - {(0.01, 50)})
    full = _budgeted(kind, marks, None, LONG).fit(X, y)  # uninterrupted
    _assert_same(resumed, full.cv_results_)


class SleepyMLP(MLPClassifier):
    """MLP leaving a marker ``<alpha>_<max_iter>_...`` in ``marks`` (a class attribute:
    the MLP's own parameters stay as they are) per fit; ``alpha=1`` sleeps :data:`SLEEP`
    s on its last rung (6 more epochs, continued from the rung of 3)."""

    marks = ""

    def fit(self, X, y, **kwargs):
        (Path(self.marks) / f"{self.alpha}_{self.max_iter}_{uuid.uuid4().hex}").touch()
        if self.alpha == 1.0 and self.max_iter >= 6:
            time.sleep(SLEEP)
        return super().fit(X, y, **kwargs)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_pruned_optuna_search_refits_the_stopped_rung(tmp_path, monkeypatch):
    """The fits stopped on the last rung run again (from scratch: the saved state of the
    rung before is gone with the first run), with the uninterrupted run's scores."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setattr(SleepyMLP, "marks", str(marks))

    def make(storage, fit_timeout):
        return OptunaSearchCV(
            SleepyMLP((8,), max_iter=9, random_state=0), {"alpha": [1e-4, 1e-2, 1.0]},
            n_trials=4, cv=2,
            pruner="median", rungs=[1, 3, 9], random_state=0, refit=False, n_jobs=1,
            storage=storage, study_name=storage and "s", fit_timeout=fit_timeout)

    search = make(f"sqlite:///{tmp_path / 'study.db'}", SHORT).fit(X, y)
    first = _budget_fits(marks)
    assert first.get((1.0, 6)) == 2, first
    resumed = search.set_params(fit_timeout=LONG, resume=True).fit(X, y).cv_results_
    assert _budget_fits(marks) == {(1.0, 9): 2}
    _assert_same(resumed, make(None, LONG).fit(X, y).cv_results_)


def test_the_resume_note_counts_the_fits_stopped_by_a_shorter_fit_timeout():
    """The CLI's note (``--resume``): fits that run again (ASHA's too, since it fits
    them again); a search keeping them failed gets a warning."""
    from types import SimpleNamespace

    from hpsearch.model_selection._engine import fit_timeout_error
    from hpsearch.model_selection.strategies.asha import ASHASearchCV
    from hpsearch.study.runner import _timed_out_note

    errors = [fit_timeout_error(0.5), fit_timeout_error(0.5), fit_timeout_error(2),
              "ValueError: boom", None]
    grid = GridSearchCV(Ridge(), {"alpha": [1.0]}, fit_timeout=1)
    assert _timed_out_note(SimpleNamespace(search=grid), errors) == (
        "hpsearch: 2 fit(s) of the run being resumed stopped by a shorter fit_timeout "
        "(at most 0.5s) will run again with fit_timeout=1s")
    grid.set_params(fit_timeout=None)
    assert "3 fit(s)" in _timed_out_note(SimpleNamespace(search=grid), errors)
    grid.set_params(fit_timeout=0.5)
    assert _timed_out_note(SimpleNamespace(search=grid), errors) is None
    asha = ASHASearchCV(Ridge(), {"alpha": [1.0]}, fit_timeout=1)
    assert _timed_out_note(SimpleNamespace(search=asha), errors) == (
        "hpsearch: 2 fit(s) of the run being resumed stopped by a shorter fit_timeout "
        "(at most 0.5s) will run again with fit_timeout=1s")
    keeps = SimpleNamespace(fit_timeout=1, _retries_timed_out=False)
    assert _timed_out_note(SimpleNamespace(search=keeps), errors).startswith(
        "hpsearch: warning: 2 fit(s) of the run being resumed exceeded fit_timeout=0.5s; a "
        "resume keeps them as failed fits")



class StallingRidgeN(SleepyRidgeN):
    """:class:`SleepyRidgeN` whose first-rung fits of ``alpha=0.01`` sleep only while
    :attr:`stall` (so the runs that do not hit a timeout cost no sleep)."""

    stall = False

    def fit(self, X, y, sample_weight=None):
        (Path(self.marks) / f"{self.alpha}_{len(X)}_{uuid.uuid4().hex}").touch()
        if self.stall and self.alpha == 0.01 and len(X) < 100:
            time.sleep(SLEEP)
        return Ridge.fit(self, X, y)


def _asha(marks, storage, fit_timeout):
    from hpsearch.model_selection.strategies.asha import ASHASearchCV

    return ASHASearchCV(StallingRidgeN(marks=str(marks)), GRID, n_trials=4,
                        resource="n_samples", min_resources=50, max_resources=200, factor=2,
                        cv=2, refit=False, n_jobs=1, random_state=0, storage=storage,
                        study_name=storage and "s", fit_timeout=fit_timeout)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_asha_refits_the_stopped_fits_then_what_their_scores_promote(tmp_path, monkeypatch):
    """As halving: alpha=0.01 (the best) is stopped on its first rung, so the first run
    never promotes it; a resume with a longer fit_timeout fits those two fits again and
    promotes it as the uninterrupted run does (ASHA kept them failed). Then on a study
    several processes shared, which a resume continues from the store instead of
    replaying it: the same fits run again, and the same best."""
    import optuna

    from hpsearch.model_selection.strategies.asha import SHARED_ATTR

    X, y = load_diabetes(return_X_y=True)
    marks = tmp_path / "marks"
    marks.mkdir()
    full = _asha(marks, None, LONG).fit(X, y)  # uninterrupted (and warms up)
    _budget_fits(marks)
    for shared in (False, True):
        storage = str(tmp_path / f"study{shared}.log")  # (a journal file: quick to open)
        monkeypatch.setattr(StallingRidgeN, "stall", True)
        search = _asha(marks, storage, SHORT).fit(X, y)
        monkeypatch.setattr(StallingRidgeN, "stall", False)
        first = _budget_fits(marks)
        assert first[(0.01, 50)] == 2 and (0.01, 100) not in first
        if shared:
            study = optuna.load_study(study_name="s", storage=search.study_._storage)
            study._storage.set_study_system_attr(study._study_id, SHARED_ATTR, True)
        else:  # the same fit_timeout: nothing runs again
            search.set_params(resume=True).fit(X, y)
            assert _budget_fits(marks) == {}
        resumed = search.set_params(fit_timeout=LONG, resume=True).fit(X, y)
        again = _budget_fits(marks)
        assert again[(0.01, 50)] == 2 and again[(0.01, 100)] == 2, again
        assert not set(again) & (set(first) - {(0.01, 50)})
        assert resumed.best_params_ == full.best_params_ == {"alpha": 0.01}
        assert resumed.best_score_ == full.best_score_
        if not shared:  # a replay: the uninterrupted run's results, row for row
            _assert_same(resumed.cv_results_, full.cv_results_)
            search.set_params(fit_timeout=None, resume=True).fit(X, y)
            assert _budget_fits(marks) == {}
