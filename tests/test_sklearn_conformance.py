"""scikit-learn's estimator checks on every hpsearch search, as sklearn runs them on its own.

sklearn's ``tests/test_common.py`` runs ``parametrize_with_checks`` on
``GridSearchCV`` / ``RandomizedSearchCV`` / ``HalvingGridSearchCV`` /
``HalvingRandomSearchCV`` built from the configurations in
``sklearn/utils/_test_common/instance_generator.py`` (``INIT_PARAMS``: Ridge,
LogisticRegression and both in a PCA pipeline, ``cv=2``, ``error_score="raise"``) with
its expected failures (``PER_ESTIMATOR_XFAIL_CHECKS``). Here the same configurations,
read from the installed scikit-learn, build hpsearch's searches:

========================= ==============================================================
hpsearch                  configurations of
========================= ==============================================================
``GridSearchCV``          ``GridSearchCV``
``RandomSearchCV``        ``RandomizedSearchCV``
``HalvingSearchCV``       ``HalvingRandomSearchCV``, with ``resource="n_samples"``
                          (sklearn's halving resource; hpsearch's default is epochs)
``HalvingGridSearchCV``   ``HalvingGridSearchCV`` (hpsearch's class with sklearn's
                          signature)
``HyperbandSearchCV``     ``HalvingRandomSearchCV``, ``resource="n_samples"``
``OptunaSearchCV``        ``RandomizedSearchCV`` (lists become categorical choices),
                          ``n_trials=2``
========================= ==============================================================

The expected failures are sklearn's own for the matching class and nothing else (see
``_CONFIGURATIONS`` for which of sklearn's configurations run).
Run with the other conformance modules: ``tests/test_sklearn_*_suite.py``.
"""

import warnings

import pytest
from _sklearn_suite import require_sklearn_series
from scipy.linalg import LinAlgWarning
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.model_selection import HalvingGridSearchCV as SkHalvingGridSearchCV
from sklearn.model_selection import HalvingRandomSearchCV as SkHalvingRandomSearchCV
from sklearn.model_selection import RandomizedSearchCV as SkRandomizedSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from hpsearch import (
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingSearchCV,
    HyperbandSearchCV,
    OptunaSearchCV,
    RandomSearchCV,
)

require_sklearn_series()  # sklearn's configurations and expected failures of that series

from sklearn.utils._test_common.instance_generator import (  # noqa: E402
    INIT_PARAMS,
    PER_ESTIMATOR_XFAIL_CHECKS,
)

#: hpsearch class -> (sklearn class whose configurations and expected failures it
#: takes, extra parameters)
SEARCHES = {
    GridSearchCV: (SkGridSearchCV, {}),
    RandomSearchCV: (SkRandomizedSearchCV, {}),
    HalvingSearchCV: (SkHalvingRandomSearchCV, {"resource": "n_samples"}),
    HalvingGridSearchCV: (SkHalvingGridSearchCV, {}),
    HyperbandSearchCV: (SkHalvingRandomSearchCV, {"resource": "n_samples"}),
    OptunaSearchCV: (SkRandomizedSearchCV, {"n_trials": 2}),
}

#: sklearn parameters hpsearch names differently or does not have
_RENAMED = {OptunaSearchCV: {"n_iter": None}}

#: Which of sklearn's four configurations (Ridge, LogisticRegression, PCA + Ridge,
#: PCA + LogisticRegression) run: all four for GridSearchCV; for the others a regressor
#: and a classifier pipeline, which keeps the module within CI's time (each
#: configuration is ~60 checks).
_CONFIGURATIONS = {GridSearchCV: (0, 1, 2, 3)}
_DEFAULT_CONFIGURATIONS = (0, 3)


def _instances():
    for ours, (theirs, extra) in SEARCHES.items():
        configurations = INIT_PARAMS[theirs]
        for i in _CONFIGURATIONS.get(ours, _DEFAULT_CONFIGURATIONS):
            params = {**configurations[i], **extra}
            for old, new in _RENAMED.get(ours, {}).items():
                value = params.pop(old, None)
                if new is not None and value is not None:
                    params[new] = value
            yield ours(**params)


def _expected_failed_checks(search):
    sklearn_class = SEARCHES[type(search)][0]
    return dict(PER_ESTIMATOR_XFAIL_CHECKS.get(sklearn_class, {}))


@pytest.mark.slow
@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    # the warnings sklearn's test_common.py ignores for its own searches
    with warnings.catch_warnings():
        for category in (FutureWarning, ConvergenceWarning, UserWarning, LinAlgWarning):
            warnings.simplefilter("ignore", category)
        check(estimator)
