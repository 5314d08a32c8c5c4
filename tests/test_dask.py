"""The same search on a Dask cluster (joblib's dask backend) gives the same results."""

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import SGDClassifier

from hpsearch.model_selection.strategies.grid import GridSearchCV

distributed = pytest.importorskip("distributed")


def test_grid_search_on_a_local_cluster_matches_local_run():
    X, y = load_iris(return_X_y=True)
    grid = {"alpha": [1e-4, 1e-2], "penalty": ["l2", "l1"]}

    def make():
        return GridSearchCV(SGDClassifier(max_iter=10, tol=None), grid, cv=3, random_state=0)

    local = make().fit(X, y)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            remote = make().fit(X, y)
    assert remote.cv_results_["params"] == local.cv_results_["params"]
    for key, value in local.cv_results_.items():
        if "time" in key or key in ("params", "error") or key.startswith("param_"):
            continue
        np.testing.assert_array_equal(remote.cv_results_[key], value, err_msg=key)
    assert remote.best_params_ == local.best_params_
