"""Searches for ``test_nothing_lost.py``: ``durable_worker.LogFit`` whose scores also
depend on its ``random_state`` (the per-fit seed the search gives it).

Run as a script, it fits one search and pickles its ``cv_results_``::

    python nothing_lost_worker.py KIND STORAGE STUDY_NAME RESUME OUT
"""

import os
import pickle
import sys
import time

import numpy as np

import durable_worker as w


def _barrier(timeout=30.0):
    """With ``NL_BARRIER`` (a file) set: note this process there, then wait until two
    processes have, so both processes sharing a study fit some of its trials."""
    path = os.environ.get("NL_BARRIER")
    if not path:
        return
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            if len(set(f.read().split())) >= 2:
                return
        time.sleep(0.02)


class SeedFit(w.LogFit):
    """``LogFit`` plus an offset drawn from ``random_state`` (kept when continued)."""

    def __init__(self, alpha=1.0, max_iter=9, warm_start=False, random_state=None):
        super().__init__(alpha=alpha, max_iter=max_iter, warm_start=warm_start)
        self.random_state = random_state

    def fit(self, X, y):
        _barrier()
        super().fit(X, y)
        if not (self.warm_start and hasattr(self, "offset_")):
            self.offset_ = np.random.RandomState(self.random_state).normal(scale=0.3)
        return self

    def predict(self, X):
        return super().predict(X) + self.offset_


class Exits(w.LogFit):
    """``LogFit`` whose process exits with code 3 inside ``fit`` when ``alpha`` is 0."""

    def fit(self, X, y):
        if self.alpha == 0:
            os._exit(3)
        return super().fit(X, y)


def make_search(kind, storage, study_name, resume, random_state=0):
    from hpsearch.model_selection import GridSearchCV, OptunaSearchCV
    from hpsearch.space import Float

    common = dict(cv=2, refit=False, random_state=random_state, storage=storage,
                  study_name=study_name, resume=resume, progress=False)
    makers = {
        "grid": lambda: GridSearchCV(SeedFit(), {"alpha": w.ALPHAS[:4]}, **common),
        "optuna": lambda: OptunaSearchCV(
            SeedFit(), {"alpha": Float(1e-3, 30.0, log=True)}, n_trials=4, **common
        ),
    }
    return makers[kind]()


if __name__ == "__main__":
    kind, storage, study_name, resume, out = sys.argv[1:]
    search = make_search(kind, storage, study_name, resume == "1")
    search.fit(*w.data())
    with open(out, "wb") as f:
        pickle.dump(search.cv_results_, f)
