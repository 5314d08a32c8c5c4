"""Processes sharing one study for ``test_shared_strategies.py``: a tiny regressor that
logs every fit as ``pid alpha split budget`` (``split``: the first training row, which
tells the splits apart; ``budget``: the epochs trained once the fit ends), and one search
of each kind.

Run as a script::

    python shared_strategy_worker.py KIND STORAGE LOG READY N_PROCESSES OUT

Environment: ``SPLITLOG_N_JOBS``, ``SPLITLOG_SEED`` (the ``random_state``, 0), or
``SPLITLOG_SEED_PER_PROCESS`` (the number ending ``OUT``); for ASHA ``SPLITLOG_N_TRIALS``
(5), ``SPLITLOG_WIDE`` (a space of 9 alphas) and ``SPLITLOG_SAMPLER`` ("random").
"""

import os
import pickle
import sys
import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class SplitLog(RegressorMixin, BaseEstimator):
    """Ridge-like; continues exactly with ``warm_start`` (``max_iter`` more epochs)."""

    def __init__(self, alpha=1.0, max_iter=9, warm_start=False):
        self.alpha = alpha
        self.max_iter = max_iter
        self.warm_start = warm_start

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        done = getattr(self, "n_iter_", 0) if self.warm_start else 0
        self.n_iter_ = done + self.max_iter
        with open(os.environ["SPLITLOG"], "a") as f:
            f.write(f"{os.getpid()} {self.alpha!r} {int(X[:, 0].sum() * 1000)} {self.n_iter_}\n")
        time.sleep(float(os.environ.get("SPLITLOG_DELAY", "0.02")))
        gram = X.T @ X + self.alpha * len(X) * np.eye(X.shape[1])
        self.coef_ = np.linalg.solve(gram, X.T @ (y - y.mean()))
        self.intercept_ = y.mean()
        return self

    def predict(self, X):
        return np.asarray(X, dtype=float) @ self.coef_ + self.intercept_


def data():
    rng = np.random.default_rng(0)
    X = np.round(rng.normal(size=(40, 3)), 3)
    y = X @ [1.0, -2.0, 0.5] + rng.normal(scale=0.1, size=40)
    return X, y


SPACE = {"alpha": [0.01, 1.0, 100.0]}
#: (``SPLITLOG_WIDE``) processes drawing with different seeds rarely draw the same alpha
WIDE_SPACE = {"alpha": [0.001, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1000.0]}


def search(kind, storage, **kw):
    from hpsearch.model_selection import (ASHASearchCV, GridSearchCV, HalvingSearchCV,
                                          HyperbandSearchCV, OptunaSearchCV,
                                          RandomSearchCV)

    common = dict(cv=3, refit=False, storage=storage, study_name="s", resume=True,
                  random_state=int(os.environ.get("SPLITLOG_SEED", "0")),
                  n_jobs=int(os.environ.get("SPLITLOG_N_JOBS", "1")),
                  **kw)
    est = SplitLog()
    table = {
        "optuna": lambda: OptunaSearchCV(est, SPACE, n_trials=6, sampler="random", **common),
        "pruner": lambda: OptunaSearchCV(est, SPACE, n_trials=6, sampler="random",
                                         pruner="median", **common),
        "racing": lambda: OptunaSearchCV(est, SPACE, n_trials=6, sampler="random",
                                         racing=True, racing_min_splits=2, **common),
        "grid": lambda: GridSearchCV(est, SPACE, **common),
        "grid_racing": lambda: GridSearchCV(
            est, {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0]}, racing=True,
            racing_min_splits=2, **dict(common, cv=4)),
        "random": lambda: RandomSearchCV(est, SPACE, n_iter=4, **common),
        "halving": lambda: HalvingSearchCV(est, SPACE, n_candidates="grid", **common),
        "hyperband": lambda: HyperbandSearchCV(est, SPACE, **common),
        "asha": lambda: ASHASearchCV(
            est, WIDE_SPACE if os.environ.get("SPLITLOG_WIDE") else SPACE,
            n_trials=int(os.environ.get("SPLITLOG_N_TRIALS", "5")),
            sampler=os.environ.get("SPLITLOG_SAMPLER", "random"), **common),
    }
    return table[kind]()


def main(kind, storage, log, ready, n, out):
    import warnings

    warnings.simplefilter("ignore")
    os.environ["SPLITLOG"] = log
    if os.environ.get("SPLITLOG_SEED_PER_PROCESS"):  # the process index ends ``out``
        os.environ["SPLITLOG_SEED"] = out[len(out.rstrip("0123456789")):]
    X, y = data()
    open(f"{ready}.{os.getpid()}", "w").close()
    folder = os.path.dirname(ready) or "."
    while sum(name.startswith(os.path.basename(ready) + ".")
              for name in os.listdir(folder)) < int(n):
        time.sleep(0.001)
    try:
        s = search(kind, storage).fit(X, y)
        result = ("ok", {k: v for k, v in s.cv_results_.items()
                         if k in ("params", "mean_test_score", "state", "n_resources")})
    except Exception as exc:  # (reported to the test)
        result = ("error", f"{type(exc).__name__}: {exc}")
    with open(out, "wb") as f:
        pickle.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
