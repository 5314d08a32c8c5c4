"""hpsearch: hyperparameter search and cross-validation with a scikit-learn compatible MLP.

The public names are imported lazily (PEP 562) so that ``import hpsearch`` stays cheap
(no Optuna, pandas or matplotlib import until a search or plot is used).
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "MLPClassifier": "hpsearch.mlp",
    "MLPRegressor": "hpsearch.mlp",
    # splitters (issue: cross-validation splitters)
    "Holdout": "hpsearch.model_selection.split",
    "MonteCarloCV": "hpsearch.model_selection.split",
    "KFold": "hpsearch.model_selection.split",
    "StratifiedKFold": "hpsearch.model_selection.split",
    "LeaveOneOut": "hpsearch.model_selection.split",
    "LeavePOut": "hpsearch.model_selection.split",
    "GroupKFold": "hpsearch.model_selection.split",
    "make_cv": "hpsearch.model_selection.split",
    "count_fits": "hpsearch.model_selection.split",
    "check_n_splits": "hpsearch.model_selection.split",
    # searches
    "GridSearchCV": "hpsearch.model_selection.strategies.grid",
    "RandomSearchCV": "hpsearch.model_selection.strategies.random",
    "RandomizedSearchCV": "hpsearch.model_selection.strategies.random",
    "OptunaSearchCV": "hpsearch.model_selection.strategies.bayes",
    "HalvingSearchCV": "hpsearch.model_selection.strategies.halving",
    "HyperbandSearchCV": "hpsearch.model_selection.strategies.halving",
    "RecipeSearchCV": "hpsearch.model_selection.strategies.recipe",
    "ASHASearchCV": "hpsearch.model_selection.strategies.asha",
    # the lecture's recipe (issue 12)
    "diagnose": "hpsearch.diagnostics",
    "Diagnosis": "hpsearch.diagnostics",
    "HalvingGridSearchCV": "hpsearch.model_selection.strategies.halving",
    "HalvingRandomSearchCV": "hpsearch.model_selection.strategies.halving",
}

__all__ = sorted(_EXPORTS) + ["space", "model_selection"]


def __getattr__(name):
    if name == "space":
        return import_module("hpsearch.space")
    if name == "model_selection":
        return import_module("hpsearch.model_selection")
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'hpsearch' has no attribute {name!r}") from None
    return getattr(import_module(module), name)


def __dir__():
    return __all__
