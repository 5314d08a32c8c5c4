"""scikit-learn's ``neural_network/tests/test_mlp.py`` on hpsearch's MLPs.

The file is read from the installed scikit-learn; ``GridSearchCV``,
``RandomizedSearchCV`` (-> ``hpsearch.RandomSearchCV``) and the halving searches it
imports are rebound to hpsearch's classes (see ``_sklearn_suite``). Every other name
(including the private ``BaseSearchCV`` a few tests subclass) stays scikit-learn's.
"""

from _sklearn_suite import expected_failures, global_random_seed_fixture, load_suite

_namespace, SWAPPED = load_suite("neural_network/tests/test_mlp.py")
globals().update({k: v for k, v in _namespace.items() if not k.startswith("__")})
global_random_seed = global_random_seed_fixture()

#: test id (bare name: every parametrization) -> (category, reason)
EXPECTED_FAILURES = {}

_expected = expected_failures(EXPECTED_FAILURES)
