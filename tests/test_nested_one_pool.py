"""nested_cross_validate through one engine: every outer split's inner search at once,
their fits (and refits) in one fork pool, one progress bar, one storage, resumable."""

import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import KFold, StratifiedKFold

import nested_worker as nw
from hpsearch.mlp import MLPClassifier
from hpsearch.model_selection import (
    ASHASearchCV,
    GridSearchCV,
    HalvingSearchCV,
    RandomSearchCV,
    nested_cross_validate,
)
from hpsearch.model_selection import space as sp
from hpsearch.model_selection._engine import _fork_available
from hpsearch.model_selection.nested import _sequential
from hpsearch.model_selection.store import recorded_fits

pytestmark = [
    pytest.mark.skipif(not _fork_available(), reason="the one pool needs fork workers"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
OUTER = StratifiedKFold(3, shuffle=True, random_state=0)  # what cv=3, random_state=0 is


def _crc(search, X, y):
    """Checksum of every weight of the refit model: equal checksums = equal bits."""
    est = search.best_estimator_
    arrays = [np.ascontiguousarray(a) for a in (*est.coefs_, *est.intercepts_)]
    return float(zlib.crc32(b"".join(a.tobytes() for a in arrays)))


def _mlp():
    return MLPClassifier((8,), max_iter=9, batch_size=32, random_state=0)


SEARCHES = {
    "grid": lambda: GridSearchCV(_mlp(), {"alpha": [1e-4, 1e-1],
                                          "learning_rate_init": [0.01, 0.1]}, cv=3),
    "random": lambda: RandomSearchCV(
        _mlp(), {"learning_rate_init": sp.Float(1e-3, 1e-1, log=True)}, n_iter=3, cv=3,
        random_state=0),
    "halving": lambda: HalvingSearchCV(
        _mlp(), {"learning_rate_init": sp.Float(1e-3, 1e-1, log=True)}, n_candidates=9,
        factor=3, cv=KFold(2, shuffle=True, random_state=0), random_state=0),
    # ASHA's promotions depend on the worker count: the same 2 workers both ways
    "asha": lambda: ASHASearchCV(
        _mlp(), {"learning_rate_init": sp.Float(1e-3, 1e-1, log=True)}, n_trials=6,
        min_resources=1, max_resources=9, cv=2, random_state=0),
}


@pytest.mark.parametrize("kind", sorted(SEARCHES))
def test_one_pool_equals_the_outer_splits_one_after_the_other(kind):
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    scoring = {"accuracy": "accuracy", "crc": _crc}  # crc: the refit's weights, bit for bit
    one = nested_cross_validate(SEARCHES[kind](), X, y, cv=3, n_jobs=2, random_state=0,
                                scoring=scoring, return_searches=True)
    seq = _sequential(SEARCHES[kind](), X, y, cv=3, n_jobs=2 if kind == "asha" else 1,
                      random_state=0, scoring=scoring, return_searches=True)
    assert (one.engine, one.n_workers, seq.engine) == ("one pool", 2, "sequential")
    if kind == "asha":  # streamed: jobs pulled lazily through the one pool
        assert all(s.async_ for s in one.searches + seq.searches)
    np.testing.assert_array_equal(one.test_accuracy, seq.test_accuracy)
    np.testing.assert_array_equal(one.test_crc, seq.test_crc)
    np.testing.assert_array_equal(one.inner_best_score, seq.inner_best_score)
    assert one.best_params == seq.best_params
    for a, b in zip(one.searches, seq.searches):  # every inner fit's score
        for key in a.cv_results_:
            if key.startswith("split") and "_test_" in key:
                np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key])
        assert a.backend_ == "fork" and not hasattr(a, "_nested_slot")


def _outer_of(rows, splits):
    """The outer split a fit belongs to: the one whose test rows it never saw."""
    found = [k for k, (_, test) in enumerate(splits) if not rows & set(test)]
    assert len(found) == 1
    return found[0]


def test_outer_splits_overlap_in_one_pool_with_one_bar(tmp_path, monkeypatch):
    import tqdm.auto

    bars = []

    class Bar(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    log = tmp_path / "fits.log"
    monkeypatch.setenv("NESTED_LOG", str(log))
    # 0.2 s fits: with 0.05 s ones the parent's store work per fit (SQLite, one study per
    # outer split) took as long as a fit on a loaded machine, the three outer threads'
    # submissions no longer interleaved, and the outer splits ran one after the other
    # (failed 4 in 18 at load 3-5; 0 in 10 with 0.2 s)
    monkeypatch.setenv("NESTED_SLEEP", "0.2")
    X, y = nw.data()
    storage = tmp_path / "nested.db"
    result = nested_cross_validate(
        nw.search(n_jobs=2, progress=True, storage=str(storage), study_name="n"), X, y,
        cv=3, random_state=0, return_searches=True)
    fits = nw.read_log(log)
    splits = list(OUTER.split(X, y))
    # 3 outer x (2 candidates x 3 inner splits) + 3 refits, in 2 worker processes
    assert len(fits) == 3 * 2 * 3 + 3
    assert len({pid for pid, *_ in fits}) == 2 and os.getpid() not in {p for p, *_ in fits}
    refits = [rows for *_, rows in fits if any(rows == set(tr) for tr, _ in splits)]
    assert len(refits) == 3
    by_outer = {}
    for _, start, end, rows in fits:
        by_outer.setdefault(_outer_of(rows, splits), []).append((start, end))
    # every outer split has a fit running at the same time as a fit of another outer
    # split (which pairs overlap depends on the order the threads queue their fits, and
    # on which of two fits ends first: the per-pair order is not asserted)
    def overlaps(k):
        others = [iv for j, ivs in by_outer.items() if j != k for iv in ivs]
        return any(s0 < e1 and s1 < e0 for s0, e0 in by_outer[k] for s1, e1 in others)

    assert sorted(by_outer) == [0, 1, 2]
    assert all(overlaps(k) for k in by_outer)
    # one bar (no inner search made its own), ending at the fits run
    assert len(bars) == 1 and bars[0].total == bars[0].n == len(fits)
    # one storage file, one study per outer split
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fits.log", "nested.db"]
    names = {s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{storage}")}
    assert names == {"n-outer0", "n-outer1", "n-outer2"}
    assert [s.study_name for s in result.searches] == ["n-outer0", "n-outer1", "n-outer2"]
    assert result.engine == "one pool"


def test_without_storage_one_in_memory_storage_holds_every_study():
    X, y = nw.data()
    result = nested_cross_validate(nw.search(n_jobs=2, study_name="m"), X, y, cv=3,
                                   return_searches=True)
    storages = {id(s.study_._storage) for s in result.searches}
    assert len(storages) == 1
    assert [s.study_name for s in result.searches] == ["m-outer0", "m-outer1", "m-outer2"]


class _FailsOnOneOuterSplit(nw.LoggedLR):
    """Fails every fit whose rows miss row 0 (all the fits of one outer split)."""

    def fit(self, X, y):
        if 0 not in np.asarray(X)[:, 0]:
            raise ValueError("no row 0")
        return super().fit(X, y)


# Whether the other outer splits' searches get as far as warning about their own failed
# fits (rows without row 0 in an inner split) before they are stopped depends on timing.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_an_error_in_one_inner_search_stops_the_others_and_is_raised():
    X, y = nw.data()
    search = GridSearchCV(_FailsOnOneOuterSplit(), {"C": [0.01, 1.0]}, cv=3, n_jobs=2)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="All the 6 fits failed"):
        nested_cross_validate(search, X, y, cv=3, random_state=0)
    assert time.perf_counter() - start < 30


class _KillsItsWorkerOnce(nw.LoggedLR):
    """The first fit of the run kills its worker process (as a segfault would)."""

    def fit(self, X, y):
        marker = os.environ["NESTED_DIE_ONCE"]
        if not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y)


def test_a_dead_worker_is_replaced_and_its_fit_runs_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NESTED_DIE_ONCE", str(tmp_path / "died"))
    X, y = nw.data()
    search = GridSearchCV(_KillsItsWorkerOnce(), {"C": [0.01, 1.0]}, cv=3, n_jobs=2)
    result = nested_cross_validate(search, X, y, cv=3, random_state=0, return_searches=True)
    assert (tmp_path / "died").exists() and result.engine == "one pool"
    assert not any(np.any(s.cv_results_["error"] != None) for s in result.searches)  # noqa: E711
    reference = _sequential(nw.search(n_jobs=1), X, y, cv=3, random_state=0)
    np.testing.assert_array_equal(result.test_score, reference.test_score)


def test_error_score_raise_raises_the_fit_error_and_stops_everything():
    X, y = nw.data()
    search = GridSearchCV(_FailsOnOneOuterSplit(), {"C": [0.01, 1.0]}, cv=3, n_jobs=2,
                          error_score="raise")
    with pytest.raises(ValueError, match="no row 0"):
        nested_cross_validate(search, X, y, cv=3, random_state=0)


_SEEN = []


class _SeesConfig(nw.LoggedLR):
    def score(self, X, y):  # the outer score: in a search thread of this process
        import sklearn

        _SEEN.append(sklearn.get_config()["assume_finite"])
        return super().score(X, y)


def test_the_callers_sklearn_config_reaches_the_inner_searches():
    import sklearn

    X, y = nw.data()
    _SEEN.clear()
    with sklearn.config_context(assume_finite=True):
        result = nested_cross_validate(
            GridSearchCV(_SeesConfig(), {"C": [1.0]}, cv=2, n_jobs=2), X, y, cv=2)
    assert result.engine == "one pool" and _SEEN == [True, True]


def _env(log, sleep):
    path = os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, NESTED_LOG=str(log), NESTED_SLEEP=str(sleep))


def _recorded(storage):
    total = 0
    for k in range(3):
        try:
            study = optuna.load_study(study_name=f"n-outer{k}", storage=f"sqlite:///{storage}")
        except KeyError:  # that split's search had not started
            continue
        total += recorded_fits(study)
    return total


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_killed_run_resumes_fitting_only_what_is_missing(tmp_path, monkeypatch, signum):
    log, storage = tmp_path / "fits.log", tmp_path / "nested.db"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "nested_worker.py"), str(storage), "0", "2"],
        env=_env(log, 0.15), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(nw.read_log(log)) < 6 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    studies = [s for s in optuna.get_all_study_summaries(f"sqlite:///{storage}")]
    if signum != signal.SIGKILL:  # stopped at a safe point: stores closed as interrupted
        expected = "SearchTerminated" if signum == signal.SIGTERM else "KeyboardInterrupt"
        assert expected in err and proc.returncode != 0
        # how to continue: the nested run, not one inner study (was: none with one pool)
        assert "call nested_cross_validate again" in err and "study_name='n'" in err
        for summary in studies:
            study = optuna.load_study(study_name=summary.study_name,
                                      storage=f"sqlite:///{storage}")
            assert all(t.state.name != "RUNNING" for t in study.trials)
    kept = _recorded(storage)
    assert 0 < kept < 18  # (18 inner fits in all)
    before = len(nw.read_log(log))
    monkeypatch.setenv("NESTED_LOG", str(log))
    monkeypatch.setenv("NESTED_SLEEP", "0")
    X, y = nw.data()
    result = nested_cross_validate(
        nw.search(storage=str(storage), study_name="n", resume=True, n_jobs=2), X, y,
        cv=3, random_state=0)
    rerun = nw.read_log(log)[before:]
    trains = [set(tr) for tr, _ in OUTER.split(X, y)]
    n_refits = sum(rows in trains for *_, rows in rerun)
    assert n_refits == 3  # refits are not stored: redone
    assert len(rerun) - n_refits == 18 - kept  # only the missing inner fits
    reference = _sequential(nw.search(n_jobs=1), X, y, cv=3, random_state=0)
    assert result.engine == "one pool"
    np.testing.assert_array_equal(result.test_score, reference.test_score)


def test_several_metrics_with_a_callable_refit_need_an_outer_scoring_before_any_fit():
    # was: every inner fit ran, then a bare KeyError from the search's score
    X, y = nw.data()
    search = nw.search(n_jobs=2, scoring={"acc": "accuracy", "bal": "balanced_accuracy"},
                       refit=lambda results: 0)
    with pytest.raises(ValueError, match="'scoring' parameter of nested_cross_validate"):
        nested_cross_validate(search, X, y, cv=3)
    result = nested_cross_validate(search, X, y, cv=3, scoring="accuracy", random_state=0)
    assert result.engine == "one pool" and result.test_score.shape == (3,)


@pytest.mark.parametrize("inner_cv", [
    [(np.arange(0, 90, 2), np.arange(1, 90, 2))],
    "predefined",
])
def test_an_inner_cv_of_fixed_indices_is_refused(inner_cv):
    # was: each outer-train part indexed with X's row numbers, silently the wrong rows
    from sklearn.model_selection import PredefinedSplit

    X, y = nw.data()
    if inner_cv == "predefined":
        inner_cv = PredefinedSplit(np.arange(len(y)) % 3)
    for n_jobs in (1, 2):
        with pytest.raises(ValueError, match="'cv' parameter of the search given to nested"):
            nested_cross_validate(nw.search(n_jobs=n_jobs).set_params(cv=inner_cv), X, y,
                                  cv=3)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_resume_on_other_outer_splits_is_refused(tmp_path, n_jobs):
    # was: the inner fits recorded on the first run's outer-train rows were reused on
    # other rows (only the refits ran), a silently wrong inner search
    X, y = nw.data()
    storage = str(tmp_path / "nested.db")
    nested_cross_validate(nw.search(storage=storage, study_name="n", n_jobs=n_jobs), X, y,
                          cv=3, random_state=0)
    again = nw.search(storage=storage, study_name="n", resume=True, n_jobs=n_jobs)
    with pytest.raises(ValueError, match="outer split 0 of nested_cross_validate must"):
        nested_cross_validate(again, X, y, cv=3, random_state=1)
    with pytest.raises(ValueError, match="outer split"):
        nested_cross_validate(again, X[:-3], y[:-3], cv=3, random_state=0)
    result = nested_cross_validate(again, X, y, cv=3, random_state=0)  # the same: fine
    assert result.test_score.shape == (3,)


class _RefitFails(nw.LoggedLR):
    """Fails only when fitted on a whole outer-train part (the refit), with its own type."""

    def fit(self, X, y):
        if len(X) > 90:  # 100 outer-train rows; the inner fits see about 67
            raise ArithmeticError("refit fails")
        return super().fit(X, y)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_failing_refit_raises_the_estimators_own_error_either_way(n_jobs):
    X, y = nw.data()
    search = GridSearchCV(_RefitFails(), {"C": [0.01, 1.0]}, cv=3, n_jobs=n_jobs)
    with pytest.raises(ArithmeticError, match="refit fails"):
        nested_cross_validate(search, X, y, cv=3, random_state=0)


class _CtrlCAtFit(nw.LoggedLR):
    """Ctrl-C (a ``KeyboardInterrupt``, as Python raises it) at the ``AT``-th fit of the
    run; fits run in this process (``n_jobs=1``)."""

    AT = None
    n = 0

    def fit(self, X, y):
        type(self).n += 1
        if type(self).n == type(self).AT:
            raise KeyboardInterrupt
        return super().fit(X, y)


def test_ctrl_c_says_how_to_continue_the_nested_run_and_the_rerun_does(tmp_path, monkeypatch):
    # was: the note named one inner study ("fit again with resume=True and
    # study_name='n-outer1'"), as if a lone search, and counted only that study's fits
    log, storage = tmp_path / "fits.log", str(tmp_path / "nested.db")
    monkeypatch.setenv("NESTED_LOG", str(log))
    X, y = nw.data()
    search = GridSearchCV(_CtrlCAtFit(), {"C": [0.01, 1.0]}, cv=3, n_jobs=1,
                          storage=storage, study_name="n")
    monkeypatch.setattr(_CtrlCAtFit, "n", 0)
    monkeypatch.setattr(_CtrlCAtFit, "AT", 8)  # split 0: 6 fits and its refit; then stop
    with pytest.raises(KeyboardInterrupt) as info:
        nested_cross_validate(search, X, y, cv=3, random_state=0)
    notes = info.value.__notes__
    assert len(notes) == 1 and "'n-outer1'" not in notes[0].replace("'n-outer0'..'n-outer2'", "")
    assert ("6 finished inner fits are recorded" in notes[0]
            and "nested_cross_validate again" in notes[0] and "study_name='n'" in notes[0])
    before = len(nw.read_log(log))
    monkeypatch.setattr(_CtrlCAtFit, "AT", None)
    result = nested_cross_validate(search.set_params(resume=True), X, y, cv=3,
                                   random_state=0)
    assert len(nw.read_log(log)) - before == 18 - 6 + 3  # the missing fits, the refits
    reference = _sequential(nw.search(n_jobs=1), X, y, cv=3, random_state=0)
    np.testing.assert_array_equal(result.test_score, reference.test_score)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_ctrl_c_without_a_storage_says_nothing_is_kept(monkeypatch, n_jobs):
    # was: "recorded in study 'no-name-<uuid>'; fit again with resume=True" (n_jobs=1),
    # an in-memory study gone with the run; nothing at all with the one pool
    monkeypatch.setattr(_CtrlCAtFit, "AT", 3)
    monkeypatch.setattr(_CtrlCAtFit, "n", 0)
    X, y = nw.data()
    search = GridSearchCV(_CtrlCAtFit(), {"C": [0.01, 1.0]}, cv=3, n_jobs=1)
    if n_jobs == 2:  # the one pool: Ctrl-C reaches the dispatcher
        search = GridSearchCV(nw.LoggedLR(), {"C": [0.01, 1.0]}, cv=3, n_jobs=2)
        monkeypatch.setattr(
            "hpsearch.model_selection.nested._OnePool._dispatch",
            lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt) as info:
        nested_cross_validate(search, X, y, cv=3, random_state=0)
    assert info.value.__notes__ == [
        "hpsearch: nested_cross_validate keeps no finished inner fits without a storage "
        "and a study_name on the search; give it a storage and study_name to make a run "
        "resumable."]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_inner_search_whose_every_fit_fails_names_its_outer_split(n_jobs):
    # was: sklearn's "All the 6 fits failed" with no word of which outer split
    X, y = nw.data()
    search = GridSearchCV(_FailsOnOneOuterSplit(), {"C": [0.01, 1.0]}, cv=3, n_jobs=n_jobs)
    with pytest.raises(ValueError, match="All the 6 fits failed") as info:
        nested_cross_validate(search, X, y, cv=3, random_state=0)
    assert ("nested_cross_validate: raised by the inner search of outer split 1 (100 "
            "outer-train rows).") in info.value.__notes__


_TRAIN1 = set(list(OUTER.split(*nw.data()))[1][0])
_TRAIN02 = [set(train) for k, (train, _) in enumerate(OUTER.split(*nw.data())) if k != 1]


class _FailsOnOuterSplit1(nw.LoggedLR):
    """The inner fits of outer split 1 (rows of its outer-train part only) raise, or
    kill their worker."""

    def __init__(self, C=1.0, die=False):
        self.C, self.die = C, die

    def fit(self, X, y):
        rows = set(np.asarray(X)[:, 0].astype(int))
        if rows <= _TRAIN1 and not any(rows <= t for t in _TRAIN02) and len(rows) < 90:
            if self.die:
                os._exit(1)
            raise ValueError("outer split 1")
        return super().fit(X, y)


@pytest.mark.parametrize("die", [False, True])
def test_error_score_raise_in_the_one_pool_names_the_outer_split(die):
    # was: the fit's error (or "worker died ... fitting candidate <the pool's task
    # number>") with no word of which outer split's search it came from
    from hpsearch.model_selection._engine import WorkerDied

    X, y = nw.data()
    search = GridSearchCV(_FailsOnOuterSplit1(die=die), {"C": [0.01, 1.0]}, cv=3, n_jobs=2,
                          error_score="raise", max_retries=0)
    with pytest.raises(WorkerDied if die else ValueError) as info:
        nested_cross_validate(search, X, y, cv=3, random_state=0)
    assert any(n.startswith("nested_cross_validate: raised by a fit of the inner search "
                            "of outer split 1 (its candidate ")
               for n in info.value.__notes__), info.value.__notes__


@pytest.mark.parametrize("where", ["counting", "after"])
def test_a_second_ctrl_c_while_the_note_is_made_keeps_the_note(tmp_path, monkeypatch, where):
    """Ctrl-C twice: the second SIGINT arrives while the first one's note is made (the
    recorded inner fits are being counted, or after, while the inner searches' notes
    are dropped). Was: it went on as a new ``KeyboardInterrupt`` without any note on how
    to continue the run. Now the note stays (without the count when the count was cut
    short), the run stops with the first interrupt and the second is not raised later."""
    import signal as _signal

    # Python's own handler to begin with, which the end checks is given back (an earlier
    # test in the same process may leave hpsearch's installed)
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    from hpsearch.model_selection import nested

    def second_ctrl_c(original):
        def patched(*args):
            if not calls:
                calls.append(1)
                signal.raise_signal(signal.SIGINT)
            return original(*args)

        return patched

    calls = []
    name = "_n_recorded" if where == "counting" else "_is_inner_note"
    monkeypatch.setattr(nested, name, second_ctrl_c(getattr(nested, name)))
    monkeypatch.setattr(_CtrlCAtFit, "n", 0)
    monkeypatch.setattr(_CtrlCAtFit, "AT", 3)
    X, y = nw.data()
    search = GridSearchCV(_CtrlCAtFit(), {"C": [0.01, 1.0]}, cv=2, n_jobs=1,
                          storage=str(tmp_path / "nested.db"), study_name="n")
    with pytest.raises(KeyboardInterrupt) as info:
        nested_cross_validate(search, X, y, cv=2, random_state=0)
    count_text = "the" if where == "counting" else "2"
    assert calls and len(info.value.__notes__) == 1
    assert (f"hpsearch: {count_text} finished inner fits are recorded in the studies "
            "'n-outer0'..'n-outer1'") in info.value.__notes__[0]
    assert info.value.__context__ is None  # the first interrupt, not a second one
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
