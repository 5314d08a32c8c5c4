"""scikit-learn's ``decomposition/tests/test_kernel_pca.py`` with hpsearch's ``GridSearchCV``.

The tests of that file that use the search run on hpsearch's (2 tests: a KernelPCA +
Perceptron pipeline tuned to a perfect score on circles, with an RBF and with a precomputed
kernel); the others test scikit-learn itself and are skipped
(:func:`_sklearn_suite.only_tests_using`). See ``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("decomposition/tests/test_kernel_pca.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
