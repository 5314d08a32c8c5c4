"""Nested CV for the one-pool tests (``test_nested_one_pool.py``): a classifier that logs
every fit, and a script that runs one nested cross-validation.

Run as a script, it prints the outer scores as JSON::

    python nested_worker.py STORAGE RESUME N_JOBS

The estimator reads ``NESTED_LOG`` (file that gets one line per finished fit: worker pid,
start and end time, the row ids it was fitted on) and ``NESTED_SLEEP`` (seconds each fit
sleeps) from the environment, so neither is an estimator parameter and every run of a
study has the same configuration. Column 0 of ``X`` is the row id; the model is fitted on
the other columns.
"""

import json
import os
import sys
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


class LoggedLR(ClassifierMixin, BaseEstimator):
    """``LogisticRegression(C)`` on ``X[:, 1:]`` that logs each fit."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        start = time.time()
        time.sleep(float(os.environ.get("NESTED_SLEEP", "0")))
        X = np.asarray(X, dtype=float)
        self.model_ = LogisticRegression(C=self.C, max_iter=300).fit(X[:, 1:], y)
        self.classes_ = self.model_.classes_
        log = os.environ.get("NESTED_LOG")
        if log:
            ids = ",".join(str(int(i)) for i in X[:, 0])
            with open(log, "a") as f:
                f.write(f"{os.getpid()} {start!r} {time.time()!r} {ids}\n")
        return self

    def predict(self, X):
        return self.model_.predict(np.asarray(X, dtype=float)[:, 1:])


def data():
    """Iris with the row id as column 0."""
    X, y = load_iris(return_X_y=True)
    return np.column_stack([np.arange(len(y)), X]), y


def search(**params):
    from hpsearch.model_selection import GridSearchCV

    return GridSearchCV(LoggedLR(), {"C": [0.01, 1.0]}, cv=3, **params)


def read_log(path):
    """``[(pid, start, end, frozenset of row ids)]`` of the finished fits logged."""
    if not os.path.exists(path):
        return []
    fits = []
    with open(path) as f:
        for line in f:
            pid, start, end, ids = line.split()
            fits.append((int(pid), float(start), float(end),
                         frozenset(int(i) for i in ids.split(","))))
    return fits


if __name__ == "__main__":
    from hpsearch.model_selection import nested_cross_validate

    storage, resume, n_jobs = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
    X, y = data()
    result = nested_cross_validate(
        search(storage=storage, study_name="n", resume=resume, n_jobs=n_jobs), X, y,
        cv=3, random_state=0)
    print(json.dumps({"test_score": result.test_score.tolist(), "engine": result.engine}))
