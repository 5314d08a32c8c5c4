"""scikit-learn's ``tests/test_metaestimators_metadata_routing.py`` on hpsearch's searches.

The file checks metadata routing for every meta-estimator; its entries for
``GridSearchCV``, ``RandomizedSearchCV`` (-> ``hpsearch.RandomSearchCV``) and the halving
searches run on hpsearch's classes (see ``_sklearn_suite``); the tests of scikit-learn's
other meta-estimators are skipped (:func:`only_tests_using`).
"""

from _sklearn_suite import (expected_failures, global_random_seed_fixture, involves_hpsearch,
                            load_suite, only_tests_using)

_namespace, SWAPPED = load_suite("tests/test_metaestimators_metadata_routing.py")
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason)
EXPECTED_FAILURES = {
    # none: with return_train_score=True (the halving searches' default) the diagnosis
    # column's references are scored with the candidates' score weights (reference_scores)
}

_expected = expected_failures(EXPECTED_FAILURES)
_only_ours = only_tests_using(SWAPPED)


def test_the_searches_were_swapped():
    assert {"GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV",
            "HalvingRandomSearchCV"} <= set(SWAPPED)


def test_the_random_search_runs_every_routing_test():
    # was: the routing tests are parametrized with ids naming the class, and
    # hpsearch.RandomizedSearchCV is RandomSearchCV: "test_default_request[RandomSearchCV]"
    # did not name the rebound "RandomizedSearchCV" and was skipped as not hpsearch's (8
    # tests; all pass)
    test = _namespace["test_default_request"]
    assert "RandomizedSearchCV" not in test.__code__.co_names
    assert involves_hpsearch(test, "test_default_request[RandomSearchCV]", {}, SWAPPED)
