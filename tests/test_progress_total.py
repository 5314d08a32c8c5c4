"""The progress bar's total is the strategy's plan from the start and ends at the fits run."""

import numpy as np
import optuna
import pytest
import tqdm.auto
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge

from hpsearch import MLPClassifier
from hpsearch.model_selection.strategies.bayes import OptunaSearchCV
from hpsearch.model_selection.strategies.grid import GridSearchCV
from hpsearch.model_selection.strategies.halving import HalvingSearchCV, HyperbandSearchCV
from hpsearch.model_selection.strategies.random import RandomSearchCV
from hpsearch.model_selection.space import Float

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]

SPACE = {
    "learning_rate_init": Float(1e-4, 1.0, log=True),
    "alpha": Float(1e-6, 1.0, log=True),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:500], y[:500]


@pytest.fixture
def bars(monkeypatch):
    """The bars the searches open, each remembering its total at every step."""
    made = []

    class RecordingBar(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.start_total = self.total
            self.totals = []  # the total at each fit done
            self.end = None  # (n, total) when closed
            made.append(self)

        def update(self, n=1):
            self.totals.append(self.total)
            return super().update(n)

        def close(self):
            if self.end is None:
                self.end = (self.n, self.total)
            super().close()

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    return made


def _mlp(max_iter=9):
    return MLPClassifier((8,), max_iter=max_iter, batch_size=64, random_state=0)


def _n_fits(search):
    return len(search.cv_results_["params"]) * search.n_splits_


@pytest.mark.parametrize(
    "make",
    [
        lambda: HalvingSearchCV(_mlp(), SPACE, n_candidates=9, min_resources=1,
                                max_resources=9, factor=3, cv=2, random_state=0),
        lambda: HyperbandSearchCV(_mlp(), SPACE, min_resources=1, max_resources=9,
                                  factor=3, cv=2, random_state=0),
    ],
    ids=["halving", "hyperband"],
)
def test_halving_bar_holds_the_whole_plan_from_the_start(digits, bars, make):
    X, y = digits
    planned = sum(r["n_candidates"] for r in make().plan_rounds(X, y)) * 2
    search = make().set_params(progress=True).fit(X, y)
    (bar,) = bars
    assert planned == sum(search.n_candidates_) * 2 == _n_fits(search)
    assert bar.start_total == planned
    assert set(bar.totals) == {planned}  # never grown: the time left covers every round
    assert bar.end == (planned, planned)


def test_optuna_bar_total_is_trials_times_splits(digits, bars):
    X, y = digits
    search = OptunaSearchCV(_mlp(4), SPACE, n_trials=4, cv=2, random_state=0,
                            progress=True).fit(X, y)
    (bar,) = bars
    assert bar.start_total == 4 * 2 == _n_fits(search)
    assert set(bar.totals) == {8}
    assert bar.end == (8, 8)


def test_optuna_pruned_bar_starts_at_the_upper_bound_and_ends_full(digits, bars):
    X, y = digits
    search = OptunaSearchCV(
        _mlp(), SPACE, n_trials=8, cv=2, random_state=0, progress=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2),
    ).fit(X, y)
    (bar,) = bars
    assert search.rungs_ == [1, 3, 9]
    assert "PRUNED" in list(search.cv_results_["state"])
    n = _n_fits(search)
    assert bar.start_total == 8 * 2 * 3 > n
    assert set(bar.totals) == {8 * 2 * 3}
    assert bar.end == (n, n)  # closed at the fits run: 100%, not stuck below


def test_optuna_timeout_bar_is_an_upper_bound_closed_at_the_fits_run(digits, bars):
    X, y = digits
    search = OptunaSearchCV(_mlp(2), SPACE, n_trials=50, timeout=1e-6, cv=2,
                            random_state=0, progress=True)
    # no fit starts after the timeout (issue 11; it used to let one batch run): nothing
    # finished, so fit raises, after closing the bar at the fits run
    with pytest.raises(ValueError, match="timeout=1e-06 seconds was reached"):
        search.fit(X, y)
    (bar,) = bars
    assert bar.start_total == 100
    assert bar.end == (0, 0)


def test_resumed_trials_leave_the_plan(tmp_path, digits, bars):
    X, y = digits
    kwargs = dict(cv=2, storage=str(tmp_path / "s.db"), study_name="s", progress=True)
    OptunaSearchCV(_mlp(4), SPACE, n_trials=3, random_state=0, **kwargs).fit(X, y)
    # another seed: the 2 new trials ask new candidates (a candidate already in the
    # store would be looked up, not fitted, and leave the plan too)
    resumed = OptunaSearchCV(_mlp(4), SPACE, n_trials=5, resume=True, random_state=1,
                             **kwargs).fit(X, y)
    bar = bars[-1]
    params = resumed.cv_results_["params"]
    assert len(params) == 5 and not any(p in params[:3] for p in params[3:])
    assert bar.start_total == 5 * 2
    assert set(bar.totals) == {2 * 2}  # the 3 finished trials are not fits to do
    assert bar.end == (4, 4)


def test_resumed_halving_counts_only_the_fits_redone(tmp_path, digits, bars):
    X, y = digits
    kwargs = dict(n_candidates=3, min_resources=1, max_resources=3, factor=3, cv=2,
                  random_state=0, storage=str(tmp_path / "h.db"), study_name="h",
                  progress=True)
    HalvingSearchCV(_mlp(), SPACE, **kwargs).fit(X, y)
    HalvingSearchCV(_mlp(), SPACE, resume=True, **kwargs).fit(X, y)
    first, again = bars
    assert first.start_total == again.start_total == (3 + 1) * 2
    assert first.end == (8, 8)
    assert again.end == (0, 0)


@pytest.mark.parametrize(
    "make, n_fits",
    [
        (lambda: GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3), 6),
        (lambda: RandomSearchCV(Ridge(), {"alpha": Float(0.1, 10.0)}, n_iter=4, cv=2,
                                random_state=0), 8),
    ],
    ids=["grid", "random"],
)
def test_grid_and_random_grow_the_bar_with_their_single_evaluate(make, n_fits, bars):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    make().set_params(progress=True).fit(X, y)
    (bar,) = bars
    assert bar.start_total == 0
    assert set(bar.totals) == {n_fits}
    assert bar.end == (n_fits, n_fits)


def test_no_bar_no_plan(digits, bars, monkeypatch):
    X, y = digits

    def fail(*args, **kwargs):
        raise AssertionError("planned without a bar")

    monkeypatch.setattr(HalvingSearchCV, "plan_rounds", fail)
    search = HalvingSearchCV(_mlp(), SPACE, n_candidates=3, min_resources=1,
                             max_resources=3, cv=2, random_state=0, progress=False)
    search.fit(X, y)
    assert bars == [] and np.isfinite(search.best_score_)
