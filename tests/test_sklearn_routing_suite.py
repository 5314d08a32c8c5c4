"""scikit-learn's ``tests/test_metaestimators_metadata_routing.py`` on hpsearch's searches.

The file checks metadata routing for every meta-estimator; its entries for
``GridSearchCV``, ``RandomizedSearchCV`` (-> ``hpsearch.RandomSearchCV``) and the halving
searches run on hpsearch's classes (see ``_sklearn_suite``); the tests of scikit-learn's
other meta-estimators are skipped (:func:`only_tests_using`). Its routing tests also run
on the searches scikit-learn has no class for (Optuna, halving on a space, Hyperband,
ASHA, the recipe), with rows built like its ``RandomizedSearchCV`` row.
"""

import inspect

import pytest
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


#: hpsearch's searches scikit-learn has no class for, described as the file's METAESTIMATORS
#: rows of its searches (budgets in samples: the file's estimators have no max_iter)
_OTHER_SEARCHES = {
    "OptunaSearchCV": ("OptunaSearchCV", {"n_trials": 2}),
    "HalvingSearchCV": ("HalvingSearchCV", {"resource": "n_samples"}),
    "HyperbandSearchCV": ("HyperbandSearchCV", {"resource": "n_samples"}),
    "ASHASearchCV": ("ASHASearchCV", {"resource": "n_samples", "n_trials": 3}),
    "RecipeSearchCV": ("RecipeSearchCV", {"n_iter": 2}),
}
_ROUTING_TESTS = sorted(
    name for name, value in _namespace.items()
    if name.startswith("test_") and callable(value)
    and list(inspect.signature(value).parameters) == ["metaestimator"]
)


def _row(name):
    import hpsearch

    class_name, init_args = _OTHER_SEARCHES[name]
    grid_row = next(row for row in _namespace["METAESTIMATORS"]
                    if row["metaestimator"] is _namespace["RandomizedSearchCV"])
    return {**grid_row, "metaestimator": getattr(hpsearch, class_name),
            "init_args": {**grid_row["init_args"], "random_state": 0, "progress": False,
                          **init_args}}


def test_every_routing_test_of_the_file_runs_on_the_other_searches():
    # the file's routing tests taking a METAESTIMATORS row (8 in scikit-learn 1.9)
    assert len(_ROUTING_TESTS) >= 8, _ROUTING_TESTS
    assert "test_metadata_is_routed_correctly_to_scorer" in _ROUTING_TESTS


@pytest.mark.parametrize("test_name", _ROUTING_TESTS)
@pytest.mark.parametrize("search", sorted(_OTHER_SEARCHES))
def test_sklearn_routing_tests_on_the_other_searches(search, test_name):
    # was: the file's rows name only the four searches scikit-learn has; Optuna, halving
    # on a parameter space, Hyperband, ASHA and the recipe had no routing test of its
    # (they pass: each is hpsearch's one BaseSearchCV.fit)
    _namespace[test_name](_row(search))
