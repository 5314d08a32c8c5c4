"""Same ``random_state``, same weights: through every option, pickling mid-training,
``partial_fit``, and in a search whatever ``n_jobs`` or BLAS thread count.

``tests/test_mlp_continuation.py`` covers the solvers and schedules; here every other
option of the MLPs (the ones scikit-learn lacks included) must keep a fit cut in two by a
pickle round trip, or run as ``partial_fit`` calls, bit-identical to one straight fit.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from hpsearch import GridSearchCV, MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

_X, _Y = load_iris(return_X_y=True)
_X = StandardScaler().fit_transform(_X)
TARGETS = {MLPClassifier: _Y, MLPRegressor: _X[:, 0] + _X[:, 1] ** 2}

OPTIONS = [
    dict(activation="prelu", prelu_init=-0.1), dict(activation="maxout", maxout_pieces=3),
    dict(activation="leaky_relu", leaky_slope=0.3), dict(dropout=0.3, input_dropout=0.2),
    dict(l1=1e-2), dict(init="he"), dict(init="glorot"), dict(init="normal"),
    dict(batch_size="full"), dict(batch_size=7), dict(shuffle=False), dict(dtype=np.float64),
    dict(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1),
]


def _weights(est):
    return np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_
                           + list(est.prelu_alphas_)])


@pytest.mark.parametrize("options", OPTIONS, ids=repr)
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_pickled_halfway_and_partial_fit_equal_one_fit(cls, options):
    X, y = _X, TARGETS[cls]
    kw = {"hidden_layer_sizes": (5, 4), "random_state": 0, "batch_size": 32, **options}
    straight = cls(max_iter=4, **kw).fit(X, y)
    halves = pickle.loads(pickle.dumps(cls(max_iter=2, warm_start=True, **kw).fit(X, y)))
    halves.fit(X, y)
    steps = cls(**kw)
    extra = {"classes": [0, 1, 2]} if cls is MLPClassifier else {}
    for epoch in range(4):
        steps.partial_fit(X, y, **extra)
        if epoch == 1:
            steps = pickle.loads(pickle.dumps(steps))
    np.testing.assert_array_equal(_weights(halves), _weights(straight))
    np.testing.assert_array_equal(_weights(steps), _weights(straight))
    assert halves.loss_curve_ == straight.loss_curve_


def test_a_search_does_not_depend_on_blas_threads_or_n_jobs():
    """OpenBLAS may round a product differently with another thread count (a standalone
    fit, hpsearch's or scikit-learn's MLP alike); a search runs every fit on one BLAS
    thread, so its scores and refit weights are the same for any caller setting."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    est = MLPClassifier((32,), activation="prelu", dropout=0.1, max_iter=2, random_state=0)
    results = []
    for threads, n_jobs in ((1, 1), (2, 1), (2, 2)):
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search = GridSearchCV(est, {"l1": [0.0, 1e-3]}, cv=2, n_jobs=n_jobs).fit(X, y)
        results.append((search.cv_results_["mean_test_score"], _weights(search.best_estimator_)))
    for scores, weights in results[1:]:
        np.testing.assert_array_equal(scores, results[0][0])
        np.testing.assert_array_equal(weights, results[0][1])
