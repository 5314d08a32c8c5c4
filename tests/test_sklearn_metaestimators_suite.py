"""scikit-learn's ``tests/test_metaestimators.py`` on hpsearch's searches.

The file checks that meta-estimators delegate ``predict``, ``predict_proba``,
``decision_function``, ``score``, ``transform``, ``inverse_transform`` ... to the wrapped
estimator exactly when it has them, and that unfitted delegation raises
``NotFittedError``.
``GridSearchCV`` and ``RandomizedSearchCV`` (-> ``hpsearch.RandomSearchCV``) are rebound
to hpsearch's (see ``_sklearn_suite``) in ``DELEGATING_METAESTIMATORS``, the table
``test_metaestimator_delegation`` runs (with scikit-learn's other meta-estimators, which
are cheap); the test that builds scikit-learn's own classes is skipped.
"""

import pytest
from _sklearn_suite import expected_failures, global_random_seed_fixture, load_suite

_namespace, SWAPPED = load_suite("tests/test_metaestimators.py")
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason)
EXPECTED_FAILURES = {
    # none: every test of the file that involves hpsearch's searches passes
}

_expected = expected_failures(EXPECTED_FAILURES)


@pytest.fixture(autouse=True)
def _only_ours(request):
    """Only ``test_metaestimator_delegation`` builds the rebound classes (from its module
    table ``DELEGATING_METAESTIMATORS``); ``test_meta_estimators_delegate_data_validation``
    builds scikit-learn's own meta-estimators (``all_estimators``), so it is skipped."""
    if request.node.name.startswith("test_meta_estimators_delegate_data_validation"):
        pytest.skip("tests scikit-learn's own meta-estimators")


def test_the_searches_were_swapped():
    import hpsearch

    assert SWAPPED == ["GridSearchCV", "RandomizedSearchCV"]
    built = {d.name: type(d.construct(Ridge())) for d in DELEGATING_METAESTIMATORS}
    assert built["GridSearchCV"] is hpsearch.GridSearchCV
    assert built["RandomizedSearchCV"] is hpsearch.RandomSearchCV


def _hpsearch_delegators():
    """The same delegation contract for hpsearch's other searches (budgeted ones on
    ``resource="n_samples"``: the test's estimator has no epochs)."""
    import hpsearch

    grid = {"param": [5]}
    return [DelegatorData(name, construct, skip_methods=["score"]) for name, construct in [
        ("OptunaSearchCV", lambda est: hpsearch.OptunaSearchCV(est, grid, cv=2, n_trials=1)),
        ("HalvingSearchCV", lambda est: hpsearch.HalvingSearchCV(
            est, grid, cv=2, resource="n_samples", min_resources=20)),
        ("HalvingGridSearchCV", lambda est: hpsearch.HalvingGridSearchCV(
            est, grid, cv=2, min_resources=20)),
        ("HyperbandSearchCV", lambda est: hpsearch.HyperbandSearchCV(
            est, grid, cv=2, resource="n_samples", min_resources=20)),
        ("ASHASearchCV", lambda est: hpsearch.ASHASearchCV(
            est, grid, cv=2, n_trials=1, resource="n_samples", min_resources=20)),
    ]]


def test_metaestimator_delegation_of_every_search(monkeypatch):
    monkeypatch.setitem(test_metaestimator_delegation.__globals__,
                        "DELEGATING_METAESTIMATORS", _hpsearch_delegators())
    test_metaestimator_delegation()


def _text_pipeline_searches():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    import hpsearch

    grid = {"ridge__alpha": [0.1, 1.0]}
    for search, extra in ((hpsearch.GridSearchCV, {}),
                          (hpsearch.RandomizedSearchCV, {"n_iter": 2}),
                          (hpsearch.HalvingGridSearchCV, {}),
                          (hpsearch.HalvingRandomSearchCV, {})):
        yield pytest.param(search(make_pipeline(TfidfVectorizer(), Ridge()), grid, **extra),
                           id=search.__name__)


@pytest.mark.parametrize("estimator", list(_text_pipeline_searches()))
def test_the_searches_delegate_data_validation(estimator):
    """sklearn's ``test_meta_estimators_delegate_data_validation`` (skipped above: it builds
    sklearn's own meta-estimators) on hpsearch's searches with sklearn's names, built as
    that test builds sklearn's (a text pipeline): ``X`` a list of strings, valid for the
    pipeline's first step, and no ``n_features_in_``. (Measured once: hpsearch's other
    searches and ``LogisticRegression`` pipelines pass it too.)"""
    test_meta_estimators_delegate_data_validation(estimator)
