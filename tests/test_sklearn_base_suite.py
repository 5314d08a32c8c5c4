"""scikit-learn's ``tests/test_base.py`` on hpsearch's ``GridSearchCV``.

The file's tests of ``is_classifier`` / ``is_regressor`` / ``is_clusterer`` (a search
over ``SVC``, ``SVR``, ``KMeans``, alone and inside a ``Pipeline``) and of ``set_params``
on a search run on hpsearch's class (see ``_sklearn_suite``): they are parametrized over
estimator *instances* (ids ``estimator0``, ...), which :func:`only_tests_using` finds in
the parameters. The rest, scikit-learn testing ``BaseEstimator``, is skipped.
"""

from _sklearn_suite import (expected_failures, global_random_seed_fixture, involves_hpsearch,
                            load_suite, only_tests_using)

_namespace, SWAPPED = load_suite("tests/test_base.py")
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason)
EXPECTED_FAILURES = {
    # none: every test of the file that involves hpsearch's GridSearchCV passes
}

_expected = expected_failures(EXPECTED_FAILURES)
_only_ours = only_tests_using(SWAPPED)


def test_the_search_was_swapped():
    import hpsearch

    assert SWAPPED == ["GridSearchCV"]
    assert _namespace["GridSearchCV"] is hpsearch.GridSearchCV


def test_a_search_in_a_parametrization_counts_as_involved():
    # was: only a test whose body names a rebound class, or whose id does, ran; the
    # is_classifier / is_regressor / is_clusterer tests (ids estimator0 ...) were skipped
    import hpsearch
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    def body(estimator, expected):
        return estimator, expected

    search = hpsearch.GridSearchCV(SVC(), {"C": [0.1, 1]})
    for value in (search, Pipeline([("svc_cv", search)]), {"metaestimator": type(search)}):
        assert involves_hpsearch(body, "test_x[estimator1-True]",
                                 {"estimator": value, "expected": True}, SWAPPED)
    assert not involves_hpsearch(body, "test_x[estimator0-True]",
                                 {"estimator": SVC(), "expected": True}, SWAPPED)
