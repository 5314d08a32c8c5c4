"""A racing grid search on a study, killed (SIGKILL) at its ``kill_at``-th fit (0: not
killed); prints its results as JSON. Used by test_racing.py."""

import json
import os
import signal
import sys
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from hpsearch import GridSearchCV

warnings.filterwarnings("ignore")
storage, counter, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Killed(LogisticRegression):
    def fit(self, X, y, **kw):
        with open(counter, "a") as f:
            f.write(".")
        if kill_at and os.path.getsize(counter) >= kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y, **kw)


X, y = load_breast_cancer(return_X_y=True)
search = GridSearchCV(Killed(max_iter=300), {"C": list(np.logspace(-4, 2, 8))}, cv=10,
                      racing=True, random_state=0, storage=storage, study_name="r",
                      resume=True).fit(X[:, :5], y)
r = search.cv_results_
print(json.dumps({"mean": [round(float(v), 12) for v in r["mean_test_score"]],
                  "raced": r["raced"].tolist(), "best": int(search.best_index_)}))
