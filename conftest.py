"""Root pytest configuration: lets ``pytest --doctest-modules hpsearch`` collect the package.

``hpsearch/space.py`` replaces itself in ``sys.modules`` by
:mod:`hpsearch.model_selection.space` (an alias with no examples of its own, doctested under
its real name), which pytest's import check reports as an "import file mismatch".
``tests/test_docs.py`` runs the same doctests in the normal test run.
"""

collect_ignore = ["hpsearch/space.py"]
