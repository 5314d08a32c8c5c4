"""Splitters, search spaces and the searches (lazily imported, see ``hpsearch/__init__``)."""

from importlib import import_module

_EXPORTS = {
    "Holdout": "split",
    "MonteCarloCV": "split",
    "KFold": "split",
    "StratifiedKFold": "split",
    "LeaveOneOut": "split",
    "LeavePOut": "split",
    "GroupKFold": "split",
    "make_cv": "split",
    "count_fits": "split",
    "check_n_splits": "split",
    "GridSearchCV": "strategies.grid",
    "RandomSearchCV": "strategies.random",
    "RandomizedSearchCV": "strategies.random",
    "OptunaSearchCV": "strategies.bayes",
    "HalvingSearchCV": "strategies.halving",
    "HyperbandSearchCV": "strategies.halving",
    "RecipeSearchCV": "strategies.recipe",
    "ASHASearchCV": "strategies.asha",
    "compare": "stats",
    "one_standard_error": "stats",
    "not_significantly_worse": "stats",
    "nested_cross_validate": "nested",
    "HalvingGridSearchCV": "strategies.halving",
    "HalvingRandomSearchCV": "strategies.halving",
}

__all__ = sorted(_EXPORTS) + ["space"]


def __getattr__(name):
    if name == "space":
        return import_module(f"{__name__}.space")
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(import_module(f"{__name__}.{module}"), name)


def __dir__():
    return __all__
