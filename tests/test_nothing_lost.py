"""Nothing lost, nothing harmed: finished work survives, no fit runs twice, a dying worker
or process does not harm the search or its study.

Complements ``test_durable.py`` (kills at fixed points) and ``test_engine_robust.py``
(dead workers): each test here failed before the fix it comes with.
"""

import numpy as np
import pytest

import durable_worker as w
from hpsearch.model_selection import GridSearchCV, OptunaSearchCV, RandomSearchCV, _engine
from hpsearch.space import Float

fork_only = pytest.mark.skipif(
    not _engine._fork_available(), reason="workers cannot be started by fork here"
)


# --------------------------------------------------------------- n_jobs > number of fits
@pytest.fixture
def pool_sizes(monkeypatch):
    """The number of processes each fork pool starts."""
    sizes = []
    start = _engine._ForkPool.start

    def spy(pool):
        sizes.append(pool.n_workers)
        return start(pool)

    monkeypatch.setattr(_engine._ForkPool, "start", spy)
    return sizes


SEARCHES = {
    "grid": lambda **kw: GridSearchCV(w.LogFit(), {"alpha": [0.1, 1.0]}, **kw),
    "random": lambda **kw: RandomSearchCV(w.LogFit(), {"alpha": Float(0.01, 1.0)},
                                          n_iter=2, **kw),
    "optuna": lambda **kw: OptunaSearchCV(w.LogFit(), {"alpha": Float(0.01, 1.0)},
                                          n_trials=2, **kw),
}


@fork_only
@pytest.mark.parametrize("kind", SEARCHES)
def test_n_jobs_above_the_number_of_fits_forks_one_worker_per_fit(
    kind, pool_sizes, tmp_path, monkeypatch
):
    monkeypatch.setenv("LOGFIT_LOG", str(tmp_path / "fits.log"))
    X, y = w.data()
    common = dict(cv=3, random_state=0, refit=False, progress=False)
    many = SEARCHES[kind](n_jobs=40, backend="fork", **common).fit(X, y)
    assert pool_sizes == [6]  # 2 candidates x 3 splits, not 40 processes
    assert many.backend_ == "fork"
    one = SEARCHES[kind](n_jobs=1, **common).fit(X, y)
    assert list(many.cv_results_["params"]) == list(one.cv_results_["params"])
    np.testing.assert_array_equal(many.cv_results_["mean_test_score"],
                                  one.cv_results_["mean_test_score"])
