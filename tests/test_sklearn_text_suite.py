"""scikit-learn's ``feature_extraction/tests/test_text.py`` with hpsearch's ``GridSearchCV``.

The tests of that file that use the search run on hpsearch's (2 tests: count and TF-IDF
vectorizer pipelines tuned on raw documents, ties of perfect scores resolved to the first
candidate); the others test scikit-learn itself and are skipped
(:func:`_sklearn_suite.only_tests_using`). See ``_sklearn_suite`` for the machinery.
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("feature_extraction/tests/test_text.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
