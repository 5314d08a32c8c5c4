"""Run scikit-learn's own test files against hpsearch's classes (issue 10).

:func:`load_suite` reads a test file *from the installed scikit-learn*, runs its leading
block of imports, rebinds the public classes it imported from scikit-learn to hpsearch's
(the only change a user makes: one import), then runs the rest of the file in the same
namespace. Every statement is compiled with the original file name and line numbers, so a
failure points into scikit-learn's file. A thin ``tests/test_sklearn_*_suite.py`` module
copies the namespace into its globals, where pytest collects the tests and fixtures as
its own, and applies its expected-failure list with :func:`expected_failures`.

The expected-failure lists are the contract: each entry names the test id, the reason and
a category, and is a *strict* xfail, so a test that starts passing fails the run until its
entry is removed. The lists only shrink.
"""

import ast
import os
import sys
import types
from pathlib import Path

import pytest
import sklearn

import hpsearch

__all__ = [
    "CATEGORIES",
    "REPLACEMENTS",
    "SKLEARN_DIR",
    "SKLEARN_SERIES",
    "expected_failures",
    "involves_hpsearch",
    "is_sklearn_self_test",
    "load_suite",
    "only_tests_using",
    "require_sklearn_series",
    "suite_globals",
]

SKLEARN_DIR = Path(sklearn.__file__).parent

#: The scikit-learn release series whose test files the expected-failure lists describe.
SKLEARN_SERIES = "1.9"


def require_sklearn_series():
    """Skip the calling test module on another scikit-learn series: its test files (and so
    the expected failures) differ."""
    if not sklearn.__version__.startswith(SKLEARN_SERIES + "."):
        pytest.skip(
            f"the expected-failure lists are for scikit-learn {SKLEARN_SERIES}.x; "
            f"{sklearn.__version__} is installed",
            allow_module_level=True,
        )

#: Why a test of scikit-learn's suite is expected to fail with hpsearch's classes.
CATEGORIES = (
    "private internals",  # the test reads or patches scikit-learn's private code
    "documented difference",  # hpsearch differs on purpose (README, "Differences ...")
    "not yet",  # a gap still to close
)


#: scikit-learn's public class name -> hpsearch's class.
REPLACEMENTS = {
    "GridSearchCV": hpsearch.GridSearchCV,
    "RandomizedSearchCV": hpsearch.RandomizedSearchCV,  # (RandomSearchCV)
    "HalvingGridSearchCV": hpsearch.HalvingGridSearchCV,
    "HalvingRandomSearchCV": hpsearch.HalvingRandomSearchCV,
    "MLPClassifier": hpsearch.MLPClassifier,
    "MLPRegressor": hpsearch.MLPRegressor,
}


def _import_block_end(tree):
    """Index of the first top-level statement after the leading imports."""
    for i, node in enumerate(tree.body):
        is_docstring = (
            i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        )
        if not (is_docstring or isinstance(node, (ast.Import, ast.ImportFrom))):
            return i
    return len(tree.body)


def load_suite(relative_path, replacements=REPLACEMENTS):
    """scikit-learn's test file ``relative_path`` with hpsearch's classes swapped in.

    Parameters
    ----------
    relative_path : str
        Path inside the installed ``sklearn`` package, e.g.
        ``"model_selection/tests/test_search.py"``.
    replacements : dict of str -> class
        Names imported by the file that are rebound right after its imports (only the
        names the file actually imports from ``sklearn``).

    Returns
    -------
    namespace : dict
        The module's globals: tests, fixtures and helpers, to copy into a test module.
    swapped : list of str
        The names that were rebound.
    """
    require_sklearn_series()
    path = SKLEARN_DIR / relative_path
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    end = _import_block_end(tree)
    module = types.ModuleType(
        "sklearn_suite_" + relative_path.replace(os.sep, "_").removesuffix(".py")
    )
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # its classes pickle by reference
    namespace = module.__dict__
    imports = ast.Module(body=tree.body[:end], type_ignores=[])
    exec(compile(imports, str(path), "exec"), namespace)
    imported = {
        alias.asname or alias.name
        for node in tree.body[:end]
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sklearn")
        for alias in node.names
    }
    swapped = sorted(name for name in replacements if name in imported)
    namespace.update({name: replacements[name] for name in swapped})
    rest = ast.Module(body=tree.body[end:], type_ignores=[])
    exec(compile(rest, str(path), "exec"), namespace)
    return namespace, swapped


def expected_failures(table):
    """An autouse fixture marking the listed tests as strict expected failures.

    Parameters
    ----------
    table : dict of str -> (str, str)
        Test id (the name with its parameters, e.g. ``"test_x[GridSearchCV]"``; a bare
        name covers every parametrization) -> (category, reason).

    Returns
    -------
    fixture
    """
    for test_id, (category, reason) in table.items():
        assert category in CATEGORIES, (test_id, category)
        assert reason, test_id

    @pytest.fixture(autouse=True)
    def _sklearn_expected_failure(request):
        name = request.node.name
        entry = table.get(name) or table.get(name.partition("[")[0])
        if entry is not None:
            category, reason = entry
            request.node.add_marker(
                pytest.mark.xfail(reason=f"{category}: {reason}", strict=True)
            )
        yield

    return _sklearn_expected_failure


def suite_globals(relative_path, expected=None):
    """Everything a thin ``test_sklearn_*_suite.py`` module puts in its globals.

    scikit-learn's test file ``relative_path`` with hpsearch's classes swapped in
    (:func:`load_suite`), the ``global_random_seed`` fixture, the strict expected
    failures of ``expected`` (:func:`expected_failures`; ``EXPECTED_FAILURES``), the skip
    of the tests that do not involve hpsearch's classes (:func:`only_tests_using`) and
    ``SWAPPED``, the names swapped. Usage: ``globals().update(suite_globals(path))``.
    """
    namespace, swapped = load_suite(relative_path)
    table = dict(expected or {})
    found = {k: v for k, v in namespace.items() if not k.startswith("__")}
    found.update(SWAPPED=swapped, EXPECTED_FAILURES=table,
                 global_random_seed=global_random_seed_fixture(),
                 _expected=expected_failures(table), _only_ours=only_tests_using(swapped))
    return found


def global_random_seed_fixture():
    """scikit-learn's ``global_random_seed`` fixture at its default seed, 42."""

    @pytest.fixture
    def global_random_seed():
        return 42

    return global_random_seed


def _involves(value, classes, depth=0):
    """Whether a parametrization value is one of ``classes``, an instance of one, or holds
    one (in a dict, list or tuple: scikit-learn's tables of meta-estimators; or as a
    parameter of an estimator: a search in a ``Pipeline``)."""
    if isinstance(value, type):
        return issubclass(value, classes)
    if isinstance(value, classes):
        return True
    if depth < 3 and hasattr(value, "get_params"):
        value = list(value.get_params(deep=False).values())
    if depth < 3 and isinstance(value, dict):
        value = list(value.values())
    if depth < 3 and isinstance(value, (list, tuple)):
        return any(_involves(item, classes, depth + 1) for item in value)
    return False


def only_tests_using(swapped, replacements=REPLACEMENTS):
    """An autouse fixture skipping the tests of a scikit-learn file that do not involve
    hpsearch's classes: for the files that test every estimator (metadata routing, the
    scorers), where the rest is scikit-learn testing itself.

    A test involves them when its body uses one of the rebound names, its id names one
    (scikit-learn's name or hpsearch's class name: ``RandomizedSearchCV`` is
    ``RandomSearchCV``) or one of its parameters is (or holds) one of the classes or an
    instance of one (a parametrization over instances, ids such as ``estimator0``).

    Parameters
    ----------
    swapped : list of str
        The names :func:`load_suite` rebound.
    replacements : dict of str -> class
        The mapping given to :func:`load_suite`.

    Returns
    -------
    fixture
    """
    @pytest.fixture(autouse=True)
    def _only_hpsearch_classes(request):
        own = request.function.__module__ == request.module.__name__  # the thin module's
        callspec = getattr(request.node, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if not own and not involves_hpsearch(request.function, request.node.name, params,
                                             swapped, replacements):
            pytest.skip("does not involve hpsearch's classes")
        yield

    _RULES[id(_only_hpsearch_classes)] = (_only_hpsearch_classes, swapped, replacements)
    return _only_hpsearch_classes


#: id of each fixture :func:`only_tests_using` made -> (the fixture, swapped, replacements)
_RULES = {}


def is_sklearn_self_test(item):
    """Whether the collected test ``item`` belongs to a suite module that keeps only the
    tests involving hpsearch's classes (its ``_only_ours`` fixture, from
    :func:`only_tests_using`) and does not involve them: the
    collection-time form of that fixture's skip (``tests/conftest.py`` deselects these)."""
    module = getattr(item, "module", None)
    function = getattr(item, "function", None)
    rule = _RULES.get(id(getattr(module, "_only_ours", None)))
    if rule is None or function is None or rule[0] is not module._only_ours:
        return False
    if function.__module__ == module.__name__:  # the thin module's own tests
        return False
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return not involves_hpsearch(function, item.name, params, rule[1], rule[2])


def involves_hpsearch(function, test_id, params, swapped, replacements=REPLACEMENTS):
    """Whether a test of a scikit-learn file involves the rebound classes (the rule of
    :func:`only_tests_using`).

    Parameters
    ----------
    function : function
        The test function.
    test_id : str
        Its id, e.g. ``"test_default_request[RandomSearchCV]"``.
    params : dict
        Its parametrization (``request.node.callspec.params``), empty when none.
    swapped : list of str
        The names :func:`load_suite` rebound.
    replacements : dict of str -> class
        The mapping given to :func:`load_suite`.

    Returns
    -------
    bool
    """
    classes = tuple(replacements[name] for name in swapped)
    names = set(swapped) | {cls.__name__ for cls in classes}
    return bool(set(function.__code__.co_names) & set(swapped)
                or any(name in test_id for name in names)
                or any(_involves(value, classes) for value in params.values()))
