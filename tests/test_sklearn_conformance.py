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
``ASHASearchCV``          ``HalvingRandomSearchCV``, ``resource="n_samples"``,
                          ``n_trials=2`` (Ridge only)
``RecipeSearchCV``        ``RandomizedSearchCV``, ``n_iter=2`` (Ridge only: the recipe's
                          references make the classifier configurations ~10 s each)
========================= ==============================================================

None of sklearn's expected failures for its searches (``PER_ESTIMATOR_XFAIL_CHECKS``)
applies: every check runs as a plain test, so each one guards hpsearch's behaviour (see
``test_sklearn_expected_failures_all_pass_here``). The halving searches pass the checks
sklearn's halving fails (one sample, one feature, NaN/inf input, one-label sample
weights), and ``check_supervised_y_2d`` passes for a multi-output estimator too (the
searches forward its ``multi_output`` tag). See ``_CONFIGURATIONS`` for which of
sklearn's configurations run.
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
    ASHASearchCV,
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingSearchCV,
    HyperbandSearchCV,
    OptunaSearchCV,
    RandomSearchCV,
    RecipeSearchCV,
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
    ASHASearchCV: (SkHalvingRandomSearchCV, {"resource": "n_samples", "n_trials": 2}),
    RecipeSearchCV: (SkRandomizedSearchCV, {"n_iter": 2}),
}

#: sklearn parameters hpsearch names differently or does not have
_RENAMED = {OptunaSearchCV: {"n_iter": None}}

#: Which of sklearn's four configurations (Ridge, LogisticRegression, PCA + Ridge,
#: PCA + LogisticRegression) run: all four for GridSearchCV; for the others a regressor
#: and a classifier pipeline, Ridge alone for ASHA and the recipe (their classifier
#: configurations cost 2 s and 10-20 s here; each passes all its checks, measured once),
#: which keeps the module within CI's time (each configuration is ~60 checks).
_CONFIGURATIONS = {GridSearchCV: (0, 1, 2, 3), ASHASearchCV: (0,), RecipeSearchCV: (0,)}
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


#: sklearn's expected failures for its searches: hpsearch's pass each one that runs here
#: (``check_array_api_mixed_inputs`` is skipped without torch / SCIPY_ARRAY_API and
#: ``check_requires_y_none`` is not generated for these configurations)
_SKLEARN_EXPECTED_FAILURES = {
    "check_supervised_y_2d", "check_estimators_nan_inf", "check_fit2d_1sample",
    "check_fit2d_1feature", "check_classifiers_one_label_sample_weights",
    "check_requires_y_none", "check_array_api_mixed_inputs",
}


def test_sklearn_expected_failures_all_pass_here():
    """The checks sklearn expects its searches to fail are the ones listed above (a new
    entry in a later sklearn of the series shows up here rather than as a failure)."""
    listed = {check for sk_class, _ in SEARCHES.values()
              for check in PER_ESTIMATOR_XFAIL_CHECKS.get(sk_class, {})}
    assert listed == _SKLEARN_EXPECTED_FAILURES


@pytest.mark.slow
@parametrize_with_checks(list(_instances()))
def test_sklearn_estimator_checks(estimator, check):
    # the warnings sklearn's test_common.py ignores for its own searches
    with warnings.catch_warnings():
        for category in (FutureWarning, ConvergenceWarning, UserWarning, LinAlgWarning):
            warnings.simplefilter("ignore", category)
        check(estimator)
