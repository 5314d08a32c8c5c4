"""Searches for the durability tests (``test_durable.py``) and the fault-injection
benchmark: a tiny estimator that logs every fit, and one search of each kind.

Run as a script, it fits one search and pickles its ``cv_results_``::

    python durable_worker.py KIND STORAGE STUDY_NAME RESUME OUT [N_JOBS]

The estimator reads ``LOGFIT_LOG`` (file that gets one line per fit, written when the
fit starts), ``LOGFIT_DONE`` (optional: a line when the fit ends), ``LOGFIT_DELAY``
(seconds each fit sleeps) and ``LOGFIT_INTERRUPT_AFTER`` (optional: a fit started after
that many raises ``KeyboardInterrupt``, as Ctrl-C during a fit does) from the
environment, so none is an estimator parameter and every run of a study has the same
configuration.
"""

import os
import pickle
import sys
import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

N_SPLITS = 3


class LogFit(RegressorMixin, BaseEstimator):
    """Ridge-like regressor whose score depends on ``alpha`` and the epochs trained.

    Continues exactly with ``warm_start`` (``max_iter`` more epochs), so a resumed
    budgeted search that refits from scratch gets the same numbers.
    """

    def __init__(self, alpha=1.0, max_iter=9, warm_start=False):
        self.alpha = alpha
        self.max_iter = max_iter
        self.warm_start = warm_start

    def fit(self, X, y):
        with open(os.environ["LOGFIT_LOG"], "a") as f:
            f.write(f"{os.getpid()} {self.alpha!r} {self.max_iter}\n")
        limit = os.environ.get("LOGFIT_INTERRUPT_AFTER")
        if limit:  # Ctrl-C while this fit runs (in-process search)
            with open(os.environ["LOGFIT_LOG"]) as f:
                if len(f.read().splitlines()) > int(limit):
                    raise KeyboardInterrupt
        time.sleep(float(os.environ.get("LOGFIT_DELAY", "0")))
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        done = getattr(self, "n_iter_", 0) if self.warm_start else 0
        self.n_iter_ = done + self.max_iter
        gram = X.T @ X + self.alpha * len(X) * np.eye(X.shape[1])
        self.coef_ = np.linalg.solve(gram, X.T @ (y - y.mean()))
        self.intercept_ = y.mean()
        if os.environ.get("LOGFIT_DONE"):
            with open(os.environ["LOGFIT_DONE"], "a") as f:
                f.write(f"{os.getpid()} {self.alpha!r} {self.max_iter}\n")
        return self

    def predict(self, X):
        shrink = self.n_iter_ / (self.n_iter_ + 3.0)
        return self.intercept_ + shrink * (np.asarray(X, dtype=float) @ self.coef_)


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.5, size=60)


ALPHAS = [0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]


def make_search(kind, storage, study_name, resume, n_jobs=None):
    """One search of ``kind`` (``KINDS``) on ``LogFit``."""
    from hpsearch.model_selection import (
        GridSearchCV,
        HalvingSearchCV,
        HyperbandSearchCV,
        OptunaSearchCV,
        RandomSearchCV,
    )
    from hpsearch.space import Float

    common = dict(cv=N_SPLITS, refit=False, random_state=0, storage=storage,
                  study_name=study_name, resume=resume, progress=False, n_jobs=n_jobs)
    space = {"alpha": Float(1e-3, 30.0, log=True)}
    makers = {
        "grid": lambda: GridSearchCV(LogFit(), {"alpha": ALPHAS[:6]}, **common),
        "random": lambda: RandomSearchCV(LogFit(), space, n_iter=6, **common),
        "optuna": lambda: OptunaSearchCV(LogFit(), space, n_trials=6, **common),
        "optuna_pruner": lambda: OptunaSearchCV(
            LogFit(), space, n_trials=6, pruner="median", rungs=[1, 3, 9], **common
        ),
        "halving": lambda: HalvingSearchCV(
            LogFit(), {"alpha": ALPHAS}, min_resources=1, max_resources=9, **common
        ),
        "hyperband": lambda: HyperbandSearchCV(
            LogFit(), space, min_resources=1, max_resources=9, **common
        ),
    }
    return makers[kind]()


KINDS = ("grid", "random", "optuna", "optuna_pruner", "halving", "hyperband")


def main(argv):
    kind, storage, study_name, resume, out, *n_jobs = argv
    n_jobs = int(n_jobs[0]) if n_jobs else None
    search = make_search(kind, storage, study_name, resume == "1", n_jobs)
    search.fit(*data())
    with open(out, "wb") as f:
        pickle.dump(search.cv_results_, f)


if __name__ == "__main__":
    main(sys.argv[1:])
