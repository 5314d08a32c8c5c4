"""scikit-learn's ``model_selection/tests/test_successive_halving.py`` on hpsearch's halving.

The file is read from the installed scikit-learn; ``GridSearchCV``,
``RandomizedSearchCV`` (-> ``hpsearch.RandomSearchCV``) and the halving searches it
imports are rebound to hpsearch's classes (see ``_sklearn_suite``). Every other name
(including the private ``BaseSearchCV`` a few tests subclass) stays scikit-learn's.
"""

from _sklearn_suite import expected_failures, global_random_seed_fixture, load_suite

_namespace, SWAPPED = load_suite("model_selection/tests/test_successive_halving.py")
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason)
EXPECTED_FAILURES = {
    # resource="c": the budget is in cv_results_["n_resources"] / ["resources"] and the
    # refit's parameters, not added to each candidate's params (no param_c column)
    "test_resource_parameter": (
        "documented difference", "a budget parameter is not added to params"),
    # randint(1, 3) holds 2 values: hpsearch's random candidates are distinct
    "test_random_search_discrete_distributions[param_distributions1-10]": (
        "documented difference", "random candidates are distinct (duplicates redrawn)"),
    # hpsearch draws the splits once per fit, so a shuffling splitter without a
    # random_state gives the same folds to every round and is accepted
    "test_input_errors[params4-must yield consistent folds-HalvingGridSearchCV]": (
        "documented difference", "splits are drawn once per fit"),
    "test_input_errors[params4-must yield consistent folds-HalvingRandomSearchCV]": (
        "documented difference", "splits are drawn once per fit"),
    "test_input_errors[params5-must yield consistent folds-HalvingGridSearchCV]": (
        "documented difference", "splits are drawn once per fit"),
    "test_input_errors[params5-must yield consistent folds-HalvingRandomSearchCV]": (
        "documented difference", "splits are drawn once per fit"),
    # resource="n_samples" subsamples the train folds to n_resources rows and scores on
    # whole test folds; sklearn subsamples the data before splitting
    "test_base_estimator_inputs": (
        "documented difference", "n_samples subsamples train folds only"),
    # compares the exact set of cv_results_ keys
    "test_halving_random_search_list_of_dicts": (
        "documented difference", "extra 'error', 'resources' and (return_train_score=True) "
        "'diagnosis' columns in cv_results_"),
}

_expected = expected_failures(EXPECTED_FAILURES)
