"""scikit-learn's ``metrics/tests/test_score_objects.py`` on hpsearch's ``GridSearchCV``.

The tests of that file that use ``GridSearchCV`` (scorers on a search, a scorer returning
a list) run on hpsearch's class (see ``_sklearn_suite``); the rest, scikit-learn testing
its scorers, is skipped (:func:`only_tests_using`).
"""

from _sklearn_suite import suite_globals

globals().update(suite_globals("metrics/tests/test_score_objects.py"))


def test_the_search_was_swapped():
    assert globals()["SWAPPED"] == ["GridSearchCV"]
