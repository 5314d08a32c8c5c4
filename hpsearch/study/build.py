"""Turn a validated :class:`~hpsearch.study.schema.Study` into the Python objects a user
would build by hand: data splits, the estimator (or pipeline), the space, the splitter and
the search.  Every failure is a :class:`~hpsearch.study.errors.StudyError` with its key
path and line.
"""

from __future__ import annotations

import importlib
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import StudyError, did_you_mean
from .limits import MAX_FITS, MAX_GRID, available_cpus, check_nested_fits, check_study
from .registry import DEFAULT_ALLOWED_MODULES, load_dataset, make_preprocessor, resolve_estimator

__all__ = ["Options", "Plan", "build", "output_folder", "SEARCHES", "SMOKE"]

MODEL_STEP = "model"

#: method -> (class import path, name of its space argument)
SEARCHES = {
    "grid": ("hpsearch.model_selection.strategies.grid:GridSearchCV", "param_grid"),
    "random": ("hpsearch.model_selection.strategies.random:RandomSearchCV", "param_distributions"),
    "optuna": ("hpsearch.model_selection.strategies.bayes:OptunaSearchCV", "param_distributions"),
    "halving": ("hpsearch.model_selection.strategies.halving:HalvingSearchCV", "param_distributions"),
    "hyperband": ("hpsearch.model_selection.strategies.halving:HyperbandSearchCV", "param_distributions"),
    "recipe": ("hpsearch.model_selection.strategies.recipe:RecipeSearchCV", "param_distributions"),
    "asha": ("hpsearch.model_selection.strategies.asha:ASHASearchCV", "param_distributions"),
}

#: the reduced budget of ``--smoke`` (tests, trying a file out)
SMOKE = {"candidates": 2, "max_iter": 4, "max_resources": 4, "n_estimators": 10}

#: search options passed on unchanged when given (method -> options)
_OPTION_DEFAULTS = {"random": {"n_iter": 10}, "optuna": {"n_trials": 10},
                    "asha": {"n_trials": 20}}


@dataclass
class Options:
    """Command-line overrides of a study file."""

    n_jobs: int | None = None
    out: str | None = None
    storage: str | None = None
    resume: bool = False
    overwrite: bool = False
    dry_run: bool = False
    smoke: bool = False
    quiet: bool = False
    allowed_modules: tuple = DEFAULT_ALLOWED_MODULES
    fit_timeout: float | None = None
    scheduler: str | None = None  # a Dask scheduler: runs the fits there (backend dask)


@dataclass
class Plan:
    """Everything needed to run a study, built from the file."""

    study: Any
    name: str
    out: Path
    storage: str
    study_name: str
    estimator: Any
    space: dict
    cv: Any
    search: Any
    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any
    groups: Any
    n_candidates: int | None
    n_splits: int
    classifier: bool
    refit_metric: str | None
    backend: Any = None
    notes: list = field(default_factory=list)
    #: nested cross-validation (``evaluate``): the outer splitter, or None
    outer_cv: Any = None
    #: fits of the inner search of each outer split (its refit not included)
    nested_fits: list = field(default_factory=list)
    #: ``--smoke``: the reduced budget of :data:`SMOKE` (its results are no study result)
    smoke: bool = False
    #: whether ``storage`` comes from ``--storage`` (errors name the option, not the key
    #: ``storage`` of the study file, even when both give the same value)
    storage_option: bool = False


def _import(path):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _tuples(value):
    """YAML lists -> tuples (hashable, as sklearn parameters such as hidden_layer_sizes)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------ data
def _check_classes(study, y):
    """Refuse a stratified split of a target with classes of a single row, naming the
    target, how many classes and a few of them (scikit-learn's error named
    ``data.test_size`` and listed every class: a quantity given to a classifier)."""
    values, counts = np.unique(y, return_counts=True)
    single = values[counts < 2]
    if single.size:
        from .report import fmt

        shown = ", ".join(fmt(v) for v in single[:5]) + (", ..." if single.size > 5 else "")
        key = ("data", "target") if study.data.path else ("data", "dataset")
        raise StudyError(key, (
            f"{single.size:,} of the {values.size:,} classes of the target have a single row "
            f"({shown}): a stratified split needs at least 2 rows per class; if the target "
            f"is a quantity use a regressor, else remove those rows or set data.stratify: "
            f"false, got {study.data.target or study.data.dataset!r}"))


def _split_data(study, X, y, groups, classifier):
    from sklearn.model_selection import train_test_split
    from sklearn.utils.multiclass import type_of_target

    data = study.data
    kind = type_of_target(y)
    if classifier and kind.startswith("continuous"):
        raise StudyError(
            ("estimator", "name"),
            f"{study.estimator.name} is a classifier but the target of "
            f"{data.dataset or data.target} is continuous; use a regressor",
        )
    if classifier and np.unique(y).size < 2:  # it "learns" the class: accuracy 1, silently
        from .report import fmt

        raise StudyError(("data", "target") if data.path else ("data", "dataset"), (
            f"the target has a single class ({fmt(np.unique(y)[0]) if len(y) else 'none'}) "
            f"in its {len(y):,} row(s): a classifier has nothing to tell apart and would "
            "score perfectly; check the data file (a filter that kept one class?), got "
            f"{data.target or data.dataset!r}"))
    stratify = data.stratify if data.stratify is not None else classifier
    if stratify:
        _check_classes(study, y)
    strat = y if stratify else None
    n = len(y)
    idx = np.arange(n)
    if data.subset is not None and data.subset < n:
        try:
            idx, _ = train_test_split(idx, train_size=data.subset, stratify=strat,
                                      random_state=study.seed)
        except ValueError as exc:
            raise StudyError(("data", "subset"), f"{exc}, got {data.subset}") from exc
        idx = np.sort(idx)
    strat = y[idx] if stratify else None
    try:
        train, test = train_test_split(idx, test_size=data.test_size, stratify=strat,
                                       random_state=study.seed)
    except ValueError as exc:
        kept = (f" (of the {len(idx):,} rows data.subset keeps: a larger subset may do)"
                if data.subset is not None and data.subset < n else "")
        raise StudyError(("data", "test_size"),
                         f"{str(exc).rstrip('.')}{kept}, got {data.test_size}") from exc
    train, test = np.sort(train), np.sort(test)

    def rows(A, i):
        return A.iloc[i].reset_index(drop=True) if hasattr(A, "iloc") else A[i]

    g = groups[train] if groups is not None else None
    return rows(X, train), rows(X, test), y[train], y[test], g


def _is_text(dtype):
    """A column of text (object, string or category dtype): no estimator takes it raw."""
    import pandas as pd

    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def _first_missing(X, columns):
    """``(column, count, first data row)`` of the first of ``columns`` with missing cells."""
    import pandas as pd

    for col in columns:
        missing = np.flatnonzero(pd.isna(X[col].to_numpy()))
        if missing.size:
            return col, missing.size, missing[0] + 1
    return None


def _numbers_read_as_text(column, name, file):
    """A note when a text column is numbers but for a few cells (``3.1, 2.7, oops``):
    it would be one-hot encoded, each number a category of its own, without a word."""
    import pandas as pd

    if not _is_text(column.dtype):
        return None
    values = column.dropna()
    bad = pd.to_numeric(values, errors="coerce").isna().to_numpy()
    if not values.size or bad.all() or bad.mean() > 0.1:
        return None
    first = np.flatnonzero(bad)[0]
    row = column.index.get_loc(values.index[first]) + 1
    return (f"column {name!r} of {file} is numbers but for {int(bad.sum()):,} cell(s) that "
            f"are not (first {str(values.iloc[first])[:40]!r} in data row {row}), so it is "
            "read as text: categories, not a number; fix those cells, or list it under "
            "data.drop")


def _example(column):
    """The first value of a text column, cut and quoted, for an error."""
    values = column.dropna()
    return repr(str(values.iloc[0])[:40]) if len(values) else "only empty cells"


def _check_features(study, X, estimator, notes=None):
    """Refuse feature columns the estimator would get unusable, before any fit (every fit
    would fail, the run would end with exit 1 and the traceback of each): a text column
    without ``preprocessing`` (nothing encodes it), and missing cells (NaN / empty) of a
    column ``preprocessing.impute`` does not fill, for an estimator that does not take
    NaN (scikit-learn's ``allow_nan`` tag; categorical columns of a ``preprocessing``
    are filled by their encoder's imputer). A column of numbers read as text because of a
    few cells that are not numbers gets a note in ``notes``."""
    from sklearn.utils import get_tags

    from .registry import categorical_columns

    if not hasattr(X, "columns"):  # bundled datasets: complete numbers
        return
    path = study.data.path
    pre = study.preprocessing
    for col in X.columns:
        note = _numbers_read_as_text(X[col], col, Path(path).name)
        if note and notes is not None:
            notes.append(note)
    if pre is None:
        text = [c for c in X.columns if _is_text(X[c].dtype)]
        if text:
            raise StudyError(("data", "path"), (
                f"column {text[0]!r} of {Path(path).name} holds text (e.g. "
                f"{_example(X[text[0]])}) and nothing encodes it: add "
                "preprocessing: {categorical: {encoder: one_hot}} (or ordinal), or list it "
                f"under data.drop, got {path!r}"))
    elif pre.categorical.columns != "auto":  # listed columns: the others are numbers
        cats = set(categorical_columns(pre, X))
        text = [c for c in X.columns if _is_text(X[c].dtype) and c not in cats]
        if text:  # every fit failed ("could not convert string to float"): exit 1
            raise StudyError(("preprocessing", "categorical", "columns"), (
                f"column {text[0]!r} of {Path(path).name} holds text (e.g. "
                f"{_example(X[text[0]])}) but is not listed, so the numeric steps "
                "(impute, scaler) get it and every fit fails: list it here, use 'auto', or "
                f"list it under data.drop, got {pre.categorical.columns!r}"))
    model = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    try:
        allow_nan = get_tags(model).input_tags.allow_nan
    except Exception:  # an estimator without tags: let its own fit decide
        return
    if allow_nan:
        return
    if pre is None:
        unfilled = list(X.columns)
    elif pre.impute == "none":
        cats = set(categorical_columns(pre, X))
        unfilled = [c for c in X.columns if c not in cats]
    else:
        return
    found = _first_missing(X, unfilled)
    if found:
        col, count, row = found
        key = ("preprocessing", "impute") if pre is not None else ("preprocessing",)
        raise StudyError(key, (
            f"column {col!r} of {Path(path).name} has {count:,} missing value(s) (first in "
            f"data row {row}), which {study.estimator.name} cannot take: set "
            "preprocessing.impute to mean, median or most_frequent, or remove those rows, "
            f"got {pre.impute if pre is not None else None!r}"))


#: the multiclass variants a binary-only metric name is tried against, in order
_MULTICLASS_SUFFIXES = ("_macro", "_ovr", "_weighted")


def _with_choices(study, estimator):
    """Copies of ``estimator`` with one searched choice each (lists and categorical
    entries; 100 per parameter at most): what a candidate may change."""
    from sklearn.base import clone

    prefix = MODEL_STEP + "__" if study.preprocessing is not None else ""
    for name, entry in study.search.space.items():
        full = name if "__" in name else prefix + name
        choices = entry if isinstance(entry, list) else entry.choices or []
        for value in choices[:100]:
            try:
                yield clone(estimator).set_params(**{full: _tuples(value)})
            except (ValueError, TypeError):
                continue


def _check_response(study, estimator, i, name, scorer):
    """Refuse a metric that needs a method the estimator does not have with its
    parameters, nor with any searched choice (``neg_log_loss`` needs ``predict_proba``:
    ``svc`` without ``probability: true``); every fit would train, then fail to score."""
    methods = getattr(scorer, "_response_method", None)
    methods = (methods,) if isinstance(methods, str) else tuple(methods or ())

    def has(est):
        return any(hasattr(est, m) for m in methods)

    if methods and not has(estimator) and not any(
            has(e) for e in _with_choices(study, estimator)):
        from sklearn.base import is_regressor

        why = (_REGRESSION_HINT[2:] if is_regressor(estimator)
               else "e.g. svc needs probability: true")
        raise StudyError(("scoring",) + ((i,) if isinstance(study.scoring, list) else ()), (
            f"needs the estimator's {' or '.join(methods)}, which {study.estimator.name} "
            f"does not have with its parameters ({why}), got {name!r}"))


#: what a regressor given a classification metric is told (no classification metric
#: variant, ``f1_macro`` for ``f1``, can score it)
_REGRESSION_HINT = ("; a classification metric cannot score a regressor: use a regression "
                    "metric, e.g. 'r2' or 'neg_mean_squared_error'")


def _regression_metric_note(study, y, classifier, notes):
    """A note when a classifier of more than two classes is scored with a regression
    metric (``r2`` on iris' labels 0, 1, 2): it scores the distance between label numbers
    (class 2 for a 0 costs more than a 1), which classes do not have. Not refused:
    scikit-learn computes it, and ordered classes may want it."""
    from sklearn.metrics import get_scorer

    if not classifier or np.unique(y).size <= 2:
        return
    names = [study.scoring] if isinstance(study.scoring, str) else (study.scoring or [])
    for name in names:
        func = getattr(get_scorer(name), "_score_func", None)
        if getattr(func, "__module__", "") == "sklearn.metrics._regression":
            notes.append(
                f"scoring: {name!r} is a regression metric: on the {np.unique(y).size} class "
                "labels of a classifier it scores the distance between their numbers (class "
                "2 for a 0 costs more than a 1), which classes do not have; a classification "
                "metric (accuracy, balanced_accuracy, f1_macro) scores them as classes")


def _check_scoring(study, X, y, classifier, estimator=None):
    """Refuse a metric that cannot score this kind of estimator on this target, before
    any fit (each fit would train, then fail to score: ``accuracy`` for a regressor,
    ``f1`` or ``roc_auc`` on a multiclass target): every metric scores a trivial model
    (``DummyClassifier`` / ``DummyRegressor``, as the references of the lecture's
    recipe) fitted on the searched rows. A regressor's target must be numeric."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.metrics import get_scorer, get_scorer_names
    from sklearn.utils.multiclass import type_of_target

    dummy = DummyClassifier(strategy="prior") if classifier else DummyRegressor()
    try:
        dummy.fit(X, y)
    except (ValueError, TypeError) as exc:
        raise StudyError(("data", "target"), (
            f"{study.estimator.name} is a regressor and needs a numeric target: "
            f"{str(exc).rstrip('.')}, got {study.data.dataset or study.data.target!r}")) from exc
    names = [study.scoring] if isinstance(study.scoring, str) else (study.scoring or [])
    what = (f"a classifier on a {type_of_target(y)} target of {len(np.unique(y))} classes"
            if classifier else "a regressor")
    for i, name in enumerate(names):
        if estimator is not None:
            _check_response(study, estimator, i, name, get_scorer(name))
        try:
            with warnings.catch_warnings():  # a trivial model's undefined precision...
                warnings.simplefilter("ignore")
                get_scorer(name)(dummy, X, y)
        except (ValueError, TypeError, AttributeError) as exc:
            close = [name + s for s in _MULTICLASS_SUFFIXES if name + s in get_scorer_names()]
            hint = (f"; did you mean {close[0]!r}?" if close else "") if classifier \
                else _REGRESSION_HINT
            raise StudyError(("scoring",) + ((i,) if isinstance(study.scoring, list) else ()), (
                f"cannot score {what} ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0].rstrip('.')}), got {name!r}{hint}")) from exc


# ------------------------------------------------------------------------- estimator
def _check_params(estimator, params, path, prefix=""):
    """Unknown parameter names -> StudyError with a suggestion."""
    valid = estimator.get_params(deep=True)
    for name in params:
        full = prefix + name if "__" not in name else name
        if full not in valid:
            choices = [k[len(prefix):] if k.startswith(prefix) else k for k in valid]
            raise StudyError(
                (*path, name),
                f"not a parameter of {type(estimator).__name__}"
                f"{did_you_mean(name, choices)}",
            )


def _make_estimator(study, X, options):
    spec = study.estimator
    cls = resolve_estimator(spec.name, allowed_modules=options.allowed_modules)
    try:
        est = cls()
    except TypeError as exc:  # a required argument (Pipeline's steps): not from a file
        raise StudyError(("estimator", "name"), (
            f"{cls.__name__} cannot be made from a study file: it needs arguments, not "
            f"parameters ({exc}); use an estimator whose parameters all have defaults, got "
            f"{spec.name!r}")) from exc
    params = _tuples(dict(spec.params))
    _check_params(est, params, ("estimator", "params"))
    if "random_state" in est.get_params() and "random_state" not in params:
        params["random_state"] = study.seed
    if options.smoke:
        for key in ("max_iter", "n_estimators"):
            if key in est.get_params():
                current = params.get(key, est.get_params()[key])
                if isinstance(current, int):
                    params[key] = min(current, SMOKE[key])
    est.set_params(**params)
    # sklearn's own check, for estimators that declare their constraints (a custom
    # estimator need not: BaseEstimator._validate_params needs _parameter_constraints)
    validate = getattr(est, "_validate_params", None)
    if validate is not None and hasattr(type(est), "_parameter_constraints"):
        try:
            validate()
        except ValueError as exc:  # sklearn's InvalidParameterError names the parameter
            # (the key of that parameter, when the file gives it: was always
            # "estimator.params", for 'n_neighbors: false' too)
            named = re.match(r"The '(\w+)' parameter of ", str(exc))
            key = named.group(1) if named and named.group(1) in params else None
            raise StudyError(("estimator", "params") + ((key,) if key else ()),
                             str(exc).rstrip(".")) from exc
    for param in params:
        _deep_check(est, param, params[param], ("estimator", "params", param))
    if study.preprocessing is None:
        return est, ""
    from sklearn.pipeline import Pipeline

    pre = make_preprocessor(study.preprocessing, X)
    return Pipeline([("preprocess", pre), (MODEL_STEP, est)]), MODEL_STEP + "__"


#: parameter -> the method of hpsearch's estimators that checks its value in full, where
#: scikit-learn's ``_parameter_constraints`` cannot ("array-like" takes ``{a: 1}``, and an
#: int rule takes ``true``): called with the value set, it raises the estimator's own
#: ValueError, which ``fit`` would raise on every fit of the search
_DEEP_CHECKS = {"hidden_layer_sizes": "_hidden_sizes"}


def _deep_check(owner, param, value, path):
    """Refuse ``value`` of ``param`` by the owner's own full check (:data:`_DEEP_CHECKS`)."""
    from sklearn.base import clone

    method = _DEEP_CHECKS.get(param)
    if method is None or not hasattr(owner, method):
        return
    try:
        getattr(clone(owner).set_params(**{param: value}), method)()
    except (ValueError, TypeError) as exc:
        raise StudyError(path, str(exc).rstrip(".")) from exc


# ----------------------------------------------------------------------------- space
def _make_space(study, estimator, prefix):
    from hpsearch.model_selection import space as sp

    def full(name):
        return name if "__" in name else prefix + name

    _check_params(estimator, study.search.space, ("search", "space"), prefix)
    dims = {}
    for name, entry in study.search.space.items():
        if isinstance(entry, list):
            obj = {"type": "categorical", "choices": list(_tuples(entry))}
        else:
            obj = entry.model_dump(exclude_none=True, exclude_defaults=False)
            if obj.get("choices") is not None:
                obj["choices"] = list(_tuples(obj["choices"]))
            if obj.get("when"):  # a list stays a list: "any of these" (was a tuple, which
                # no choice equals: the parameter was never searched)
                obj["when"] = {full(k): [_tuples(x) for x in v] if isinstance(v, list)
                               else _tuples(v) for k, v in obj["when"].items()}
            if not obj.get("log"):
                obj.pop("log", None)
        if study.search.method == "grid" and obj.get("choices") is not None:
            _check_distinct(obj["choices"], ("search", "space", name)
                            + (() if isinstance(entry, list) else ("choices",)))
        try:
            dims[full(name)] = sp.from_spec(obj, full(name))
        except (ValueError, TypeError) as exc:
            raise StudyError(("search", "space", name), str(exc).rstrip(".")) from exc
    _check_conditions(study, dims, full)
    return dims


def _check_distinct(choices, path):
    """Refuse a grid's choice listed twice: each choice is a candidate, so the grid
    fitted the same candidate twice (a copy-paste slip, never a weighting: weights are a
    random search's idiom)."""
    from hpsearch.model_selection.space import _equal

    for i, value in enumerate(choices):
        for j in range(i):
            if type(choices[j]) is type(value) and _equal(choices[j], value):
                raise StudyError(path, (
                    f"a choice listed twice in a grid (items {j} and {i}), got {value!r}: "
                    "the grid would fit the same candidates twice"))


def _check_conditions(study, dims, full):
    """Refuse conditions (``when``) that no candidate can meet, before any fit: a cycle
    (``a`` when ``b``, ``b`` when ``a``: the search failed with exit 1, after making the
    run folder), and a value the named parameter never takes (``when: {activation:
    Maxout}`` of choices ``[relu, maxout]``, or on a float range: the parameter was
    silently never searched)."""
    from hpsearch.model_selection import space as sp

    try:
        sp.as_space(dims)
    except ValueError as exc:  # a cycle
        raise StudyError(("search", "space"), str(exc).rstrip(".")) from exc
    for name, entry in study.search.space.items():
        for other, wanted in (getattr(entry, "when", None) or {}).items():
            target = dims[full(other)]
            values = [_tuples(v) for v in wanted] if isinstance(wanted, list) else [
                _tuples(wanted)]
            if isinstance(target, sp.Categorical):
                taken = list(target.choices)
                if any(any(sp._equal(v, c) for c in taken) for v in values):
                    continue
                shown = ", ".join(map(repr, taken[:10])) + (", ..." if len(taken) > 10 else "")
                rule = f"not a choice of {other} ({shown})"
            elif isinstance(target, sp.Int):
                if any(isinstance(v, int) and not isinstance(v, bool)
                       and target.low <= v <= target.high for v in values):
                    continue
                rule = f"not an integer of the range of {other} [{target.low}, {target.high}]"
            else:
                rule = (f"{other} is a float range, which takes one given value almost never "
                        "(a condition needs a parameter of choices or an int range)")
            raise StudyError(("search", "space", name, "when", other),
                             f"a condition that never holds: {rule}, got {wanted!r}")


def _space_values(entry):
    """``(sub-path, value)`` of every value of a space entry that can be checked alone:
    each choice of a list, the bounds of a range."""
    if isinstance(entry, list):
        return [((i,), v) for i, v in enumerate(entry)]
    if entry.choices is not None:
        return [(("choices", i), v) for i, v in enumerate(entry.choices)]
    return [(("low",), entry.low), (("high",), entry.high)]


def _check_space_values(study, estimator, prefix):
    """Refuse a searched value the estimator's own rules refuse (scikit-learn's
    ``_parameter_constraints``: ``activation: [relu, rleu]``, ``alpha`` from -1) before
    any fit: each value is checked against the constraint of the object that holds the
    parameter (a pipeline step), with scikit-learn's own check and message; otherwise
    every fit of its candidates fails, after the others ran."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    for name, entry in study.search.space.items():
        full = name if "__" in name else prefix + name
        head, _, param = full.rpartition("__")
        owner = estimator.get_params(deep=True).get(head) if head else estimator
        constraints = getattr(type(owner), "_parameter_constraints", None)
        if not (isinstance(constraints, dict) and param in constraints):
            continue
        rule = {param: constraints[param]}
        for sub, value in _space_values(entry):
            try:
                validate_parameter_constraints(rule, {param: _tuples(value)},
                                               caller_name=type(owner).__name__)
            except ValueError as exc:  # sklearn's InvalidParameterError names the parameter
                raise StudyError(("search", "space", name, *sub),
                                 str(exc).rstrip(".")) from exc
            if isinstance(entry, list) or entry.choices is not None:  # (an int range: ints)
                _deep_check(owner, param, _tuples(value), ("search", "space", name, *sub))


def _n_candidates(study, space, options):
    from hpsearch.model_selection import space as sp

    search = study.search
    cap = SMOKE["candidates"] if options.smoke else None
    if search.method == "grid":
        for name, dim in space.items():
            try:
                dim.grid()
            except ValueError as exc:
                short = name[len(MODEL_STEP) + 2:] if name.startswith(MODEL_STEP + "__") else name
                raise StudyError(("search", "space", short),
                                 f"{str(exc).rstrip('.')} (in a study file: add 'n: 5')") from exc
        size = math.prod(len(dim.grid()) for sub in sp.as_space(space) for dim in sub.values())
        if size > MAX_GRID:  # --dry-run only (a run is refused before): count, never build
            return size
        try:
            n = len(sp.grid_candidates(space))
        except ValueError as exc:
            raise StudyError(("search", "space"), str(exc).rstrip(".")) from exc
    elif search.method in ("random", "recipe"):  # recipe: n_iter per stage, 2 stages at most
        n = (search.n_iter or _OPTION_DEFAULTS["random"]["n_iter"]) * (
            2 if search.method == "recipe" else 1)
    elif search.method in ("optuna", "asha"):
        n = search.n_trials or _OPTION_DEFAULTS[search.method]["n_trials"]
    else:
        n = search.n_candidates if isinstance(search.n_candidates, int) else None
    if cap is not None and n is not None:
        n = min(n, cap)
    return n


#: the key that asks a random or halving search for its number of candidates
_COUNT_KEYS = {"random": "n_iter", "halving": "n_candidates"}


def _halving_reach(study, search, X, y, groups, notes):
    """A note when a halving search never reaches the ``max_resources`` the file asks
    for: with few candidates (``n_candidates: 2`` at ``factor: 3``) it ends after one
    round at ``min_resources``, and its best is refit at that budget (1 epoch of the 9
    asked), which the plan showed only as "+1 refit at 1 epochs"."""
    from .budget import RESOURCE_UNITS

    high = study.search.max_resources
    if study.search.method != "halving" or not isinstance(high, int) \
            or isinstance(high, bool):
        return
    try:
        rounds = search.plan_rounds(X, y, groups=groups)
    except Exception:  # noqa: BLE001 - the run reports its own refusal
        return
    last = rounds[-1]["n_resources"] if rounds else high
    if last < high:
        unit = RESOURCE_UNITS.get(search.resource, search.resource)
        notes.append(
            f"search.max_resources: {high} is not reached: {rounds[0]['n_candidates']} "
            f"candidate(s) at factor {search.factor:g} make {len(rounds)} round(s), the last "
            f"at {last} {unit}, and the best is refit at {last} {unit}; ask for more "
            "candidates (n_candidates: exhaust) or a larger min_resources")


def _finite_space(study, space, n, notes):
    """A random or halving search asking more candidates than a space of lists holds
    draws each once (scikit-learn's ``ParameterSampler`` warns "The total space of
    parameters 2 is smaller than n_iter=10", naming ``n_iter`` also for a halving
    search's ``n_candidates``): the plan counts what it draws, and a note names the key."""
    from hpsearch.model_selection import space as sp

    key = _COUNT_KEYS.get(study.search.method)
    if key is None or not isinstance(n, int) or not space or not all(
            isinstance(dim, sp.Categorical) for dim in space.values()):
        return n
    try:
        size = len(sp.grid_candidates(space))
    except ValueError:
        return n
    if size < n:
        notes.append(f"search.{key}: {n} candidates asked, but the space (lists only) holds "
                     f"{size}: each is searched once, {size} in all")
        return size
    return n


# ---------------------------------------------------------------------------- search
def _search_options(study, space, options, n_candidates):
    search = study.search
    method = search.method
    opts = dict(_OPTION_DEFAULTS.get(method, {}))
    for key in search.model_fields_set - {"method", "space"}:
        opts[key] = getattr(search, key)
    if options.fit_timeout is not None:  # --fit-timeout overrides search.fit_timeout
        from .errors import UsageError
        from .schema import WITHOUT_COMMON_OPTIONS

        if method in WITHOUT_COMMON_OPTIONS:  # was "run failed: TypeError" (exit 1)
            raise UsageError(f"--fit-timeout: search method {method!r} has no time limit "
                             f"per fit, got {options.fit_timeout:g}")
        opts["fit_timeout"] = options.fit_timeout
    if method == "optuna" and opts.get("pruner") == "none":
        opts["pruner"] = None
    space_arg = space
    if method == "grid" and options.smoke and n_candidates <= MAX_GRID:
        from hpsearch.model_selection import space as sp

        # the first candidates of the grid, each as a one-point grid
        space_arg = [{k: [v] for k, v in c.items()} for c in sp.grid_candidates(space)[:n_candidates]]
    if options.smoke:
        if method in ("random", "recipe"):
            opts["n_iter"] = n_candidates
        elif method == "optuna":
            opts["n_trials"] = n_candidates
            opts.pop("timeout", None)
        elif method in ("halving", "hyperband", "asha"):
            if method == "asha":  # enough candidates that one is promoted
                opts["n_trials"] = min(opts["n_trials"], 4)
                opts.pop("timeout", None)
            # the samples keep their budget (was: capped at 4 samples, below the
            # search's own smallest budget, so every --smoke run of such a study failed
            # with "search.min_resources: min_resources_=18 is greater than
            # max_resources_=4", a key the study file did not set); the fewer candidates
            # make that run short
            if opts.get("resource") != "n_samples":
                opts["max_resources"] = min(
                    opts["max_resources"] if isinstance(opts.get("max_resources"), int)
                    else math.inf, SMOKE["max_resources"])
                if isinstance(opts.get("min_resources"), int):
                    # low enough that the smoke run still has rounds that continue training
                    factor = opts.get("factor", 3)
                    opts["min_resources"] = min(opts["min_resources"],
                                                max(1, int(opts["max_resources"] // factor)))
            if method == "halving":
                given = opts.get("n_candidates")
                opts["n_candidates"] = min(given if isinstance(given, int) else 4, 4)
    return space_arg, opts


def _scoring(study):
    return study.scoring


def _refit(study):
    if isinstance(study.refit, str):
        return study.refit
    if study.refit and isinstance(study.scoring, list) and len(study.scoring) == 1:
        return study.scoring[0]
    return study.refit


def _make_search(study, estimator, space_arg, cv, opts, plan_kw, options):
    path, arg = SEARCHES[study.search.method]
    cls = _import(path)
    error_score = study.error_score
    if error_score == "nan":
        error_score = np.nan
    kwargs = dict(
        scoring=_scoring(study),
        refit=_refit(study),
        cv=cv,
        n_jobs=plan_kw["n_jobs"],
        random_state=study.seed,
        error_score=error_score,
        return_train_score=study.return_train_score,
        progress=False if options.quiet else None,
        storage=plan_kw["storage"],
        study_name=plan_kw["study_name"],
        resume=options.resume,
        **opts,
    )
    if getattr(study.backend, "name", None) == "multiprocessing" and not options.scheduler:
        kwargs["backend"] = _multiprocessing_backend()
    return cls(estimator, **{arg: space_arg}, **kwargs)


def _multiprocessing_backend():
    """``backend: multiprocessing``: the standard library's ``multiprocessing`` workers
    (started by fork; the search's ``backend="fork"``), or joblib's loky where this platform
    cannot fork. joblib's own ``"multiprocessing"`` backend cannot hand results back as
    they finish, which the search needs."""
    import multiprocessing

    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "loky"


def _make_cv(study, y, classifier):
    from hpsearch.model_selection.split import make_cv

    cv = study.cv
    try:
        if isinstance(cv, int):
            return make_cv(cv, y=y, classifier=classifier, shuffle=True, random_state=study.seed)
        if isinstance(cv, str):
            kwargs = _seeded(cv, {}, study.seed)
            return make_cv(cv, **kwargs)
        kwargs = _seeded(cv.method, cv.options(), study.seed)
        return make_cv(cv.method, **kwargs)
    except (ValueError, TypeError) as exc:
        raise StudyError(_splitter_key("cv", str(exc), cv), str(exc).rstrip(".")) from exc


def _splitter_key(section, message, spec):
    """The key path of a ``cv`` splitter's error: the option of the mapping ``spec`` that
    the splitter's message names as scikit-learn does (``The 'test_size' parameter``,
    ``got n_splits=1``), else ``cv`` itself (was always ``cv``)."""
    import re

    given = sorted(spec.model_fields_set - {spec._name_key}) if hasattr(spec, "options") else []
    for key in given:
        if re.search(rf"'{key}' parameter|got {key}=|{_OTHER_WORDS.get(key, '^$')}", message):
            return (section, key)
    return (section,)


#: how a splitter's message names an option other than by its name: scikit-learn's
#: KFold says "The number of folds must be of Integral type. None of type ..." of
#: ``n_splits: null`` (was named ``cv``, not ``cv.n_splits``)
_OTHER_WORDS = {"n_splits": "number of folds"}


def _seeded(method, kwargs, seed):
    """Add ``random_state=seed`` where the splitter draws at random."""
    shuffles = {"holdout": True, "monte_carlo": True, "kfold": False, "stratified_kfold": False}
    if method in shuffles:
        if kwargs.get("shuffle", shuffles[method]):
            kwargs = dict(kwargs, random_state=seed)
        elif method in ("kfold", "stratified_kfold") and "shuffle" not in kwargs:
            kwargs = dict(kwargs, shuffle=True, random_state=seed)
    return kwargs


def _n_jobs(study, options, notes):
    """``n_jobs`` of the search: local workers beyond the CPUs available are capped (a
    note says so); a Dask cluster's workers are not local, so its value is kept."""
    n_jobs = options.n_jobs if options.n_jobs is not None else study.n_jobs
    dask = options.scheduler or getattr(study.backend, "name", None) == "dask"
    if n_jobs is None or n_jobs == -1 or dask:
        return n_jobs
    cpus = available_cpus()
    if n_jobs > cpus:
        notes.append(f"n_jobs={n_jobs} is more than the {cpus} CPU(s) available: "
                     f"using n_jobs={cpus}")
        return cpus
    return n_jobs


def _fit_timeout_note(study, options, opts, search, notes):
    """A note when the fits run where ``fit_timeout`` cannot stop them: on Dask (the
    file's ``backend: dask`` or ``--scheduler``) or in threads (``backend: threading``
    with more than one worker). The search's own warning said "is not enforced on joblib's
    DaskDistributedBackend (fits run in threads or on a cluster); use backend=None, ..."
    (the Python API's words, not the study file's) and left a user to guess what
    happens to a long fit: it runs to its end, however long."""
    fit_timeout = opts.get("fit_timeout")
    if fit_timeout is None:
        return
    backend = _backend(study, options)
    name = getattr(backend, "name", None)
    n_jobs = getattr(search, "n_jobs", None)
    threads = name == "threading" and (
        n_jobs is not None and (n_jobs > 1 or (n_jobs == -1 and available_cpus() > 1)))
    if name != "dask" and not threads:
        return
    given = (f"--fit-timeout {fit_timeout:g}" if options.fit_timeout is not None
             else f"search.fit_timeout={fit_timeout:g}")
    where = ("--scheduler" if options.scheduler else "backend: dask") if name == "dask" \
        else "backend: threading"
    why = ("hpsearch cannot stop a fit on a Dask worker" if name == "dask"
           else "a fit in a thread cannot be stopped")
    notes.append(f"{given} is not enforced with {where} ({why}): no fit is stopped, each "
                 "runs to its end however long it takes, and none fails for its time; "
                 "for a time limit per fit run on this machine's processes (backend: "
                 "loky or multiprocessing, or no backend key)")


def _first_split(cv, X, y, groups):
    """Draw the first split (a generator: one split, not all): a splitter that cannot
    split these rows (``n_splits=5`` of 3 rows) raises here, with its own message, not
    in the first fit of the run (exit 1 after the plan was printed)."""
    with warnings.catch_warnings():  # (StratifiedKFold's "least populated class" warning)
        warnings.simplefilter("ignore")
        next(iter(cv.split(X, y, groups)), None)


def output_folder(study, source, options):
    """The run folder: ``--out``, else the file's ``output``, else ``runs/<name>``.

    Raises
    ------
    UsageError
        ``runs/<name>`` with a name taken from a study file named ``..yaml`` or
        ``...yaml`` (``.`` or ``..``: ``runs`` itself or the working directory), or a
        study name taken from a file name that is no printable text."""
    from .errors import UsageError

    name = study.name or Path(source).stem
    if not study.name and not name.isprintable():  # the study's name in the trial store
        raise UsageError(
            f"the study takes its name from the study file's name, and {Path(source).name!r} "
            "is no printable text (a control character, or bytes that are not UTF-8: the "
            "trial store refused it after the search began): add 'name: <a name>' to the "
            "study file")
    if not (options.out or study.output) and name in (".", ".."):
        raise UsageError(
            f"the run folder runs/<name> takes its name from the study file's name, and "
            f"{Path(source).name!r} gives {name!r}, which names no folder of its own: add "
            "'name: <a name>' to the study file, or use --out")
    return Path(options.out or study.output or Path("runs") / name)


def _backend(study, options):
    """The joblib backend the runner enters (None: the search's own); ``--scheduler``
    replaces the file's ``backend`` by a Dask one on that scheduler."""
    if options.scheduler:
        from .schema import BackendSpec

        return BackendSpec(name="dask", scheduler=options.scheduler)
    spec = study.backend
    if spec is None or spec.name in ("loky", "multiprocessing"):  # the search's own backend
        return None
    return spec


#: option keys of a search that its own checks may name
_SEARCH_KEYS = ("min_resources", "max_resources", "n_candidates", "factor", "rungs")


def _search_key(message):
    """The study key a search's ValueError is about (None: the search section itself)."""
    import re

    named = re.search(r"'(\w+)' parameter of \w+SearchCV", message)
    if named:
        return named.group(1)
    if "searched parameters" in message:
        return "space"
    return next((key for key in _SEARCH_KEYS if key in message), None)


def _check_search(search, X, y, groups):
    """Refuse a budget that ``fit`` would refuse (resource, pruner, min > max...) as a bad
    study file, before any fit: the searches' own plans (``plan_rounds``, ``plan_rungs``)
    run their checks without fitting."""
    try:
        if hasattr(type(search), "_parameter_constraints"):  # sklearn's own rules, e.g.
            search._validate_params()  # a finite timeout (a study file's YAML .inf)
        if hasattr(search, "plan_rounds"):
            search.plan_rounds(X, y, groups=groups)
        elif hasattr(search, "plan_rungs"):
            search.plan_rungs()
    except (ValueError, TypeError) as exc:
        key, message = _search_key(str(exc)), str(exc).rstrip(".")
        if key == "resource" and not hasattr(search, "plan_rounds"):  # Optuna: the pruner's
            key, message = "pruner", f"a pruner trains in rungs of epochs: {message}"
        raise StudyError(("search",) + ((key,) if key else ()), message) from exc


def _check_auto_budget(study, search, n_rows):
    """``max_resources: auto`` (the default) of halving, Hyperband and ASHA resolved on the
    estimator (its ``max_iter`` for ``resource: epochs``, or the resource parameter's
    value) or on the ``n_rows`` training rows, then held to the limits a number there
    is held to, before the search plans anything (``max_iter: 1000000`` made a halving
    plan of a million candidates: the dry run hung)."""
    from hpsearch.model_selection.strategies._halving_resource import resource_plan

    from .limits import check_auto_budget

    if study.search.method not in ("halving", "hyperband", "asha") or isinstance(
            study.search.max_resources, int):
        return
    try:
        plan = resource_plan(search.estimator, search.resource, owner=type(search).__name__)
    except (ValueError, TypeError):
        return  # the search's own check (_check_search) names it
    if plan.resource == "n_samples":
        high, auto = n_rows, "the training rows"
    else:
        high, auto = plan.default_max, f"the estimator's {plan.param.rsplit('__', 1)[-1]}"
    if isinstance(high, int) and not isinstance(high, bool):
        check_auto_budget(study.search, high, auto)


def _check_sample_budget(study, n_rows):
    """``resource: n_samples``: a budget above the rows the search trains on would be
    the same rows at every larger budget (the search takes at most all of them), while
    the plan, the results and the report call them ``max_resources`` samples; scikit-
    learn's halving refuses it in ``fit``. Refused here, before any fit."""
    search = study.search
    high = search.max_resources
    if (search.method in ("halving", "hyperband", "asha") and search.resource == "n_samples"
            and isinstance(high, int) and high > n_rows):
        raise StudyError(
            ("search", "max_resources"),
            f"with resource 'n_samples' must be <= the {n_rows} rows the search trains on "
            f"(the data less its test_size part), got {high}; use max_resources: auto "
            "(all of them) or a smaller number")


def _hidden_candidates(study):
    """``(key path, hidden_layer_sizes)`` of the file: the fixed one and every searched
    choice (an int range counts by its largest width)."""
    spec = study.estimator.params.get("hidden_layer_sizes")
    found = [] if spec is None else [(("estimator", "params", "hidden_layer_sizes"), spec)]
    for name, entry in study.search.space.items():
        if name.rsplit("__", 1)[-1] != "hidden_layer_sizes":
            continue
        path = ("search", "space", name)
        if isinstance(entry, list):
            found += [((*path, i), v) for i, v in enumerate(entry)]
        elif entry.choices is not None:
            found += [((*path, "choices", i), v) for i, v in enumerate(entry.choices)]
        elif entry.type == "int":
            found.append(((*path, "high"), entry.high))
    return found


def _check_network_size(study, X, y, classifier):
    """Refuse a network too large to hold (``hidden_layer_sizes: [200000, 200000]``: 40
    billion weights, an out-of-memory kill of the machine's processes), counted from the
    data's columns and the targets before any fit."""
    from .limits import MAX_WEIGHTS, network_weights

    n_in = X.shape[1]
    n_out = len(np.unique(y)) if classifier else (y.shape[1] if np.ndim(y) > 1 else 1)
    for path, hidden in _hidden_candidates(study):
        n = network_weights(_tuples(hidden), n_in, n_out)
        if n is not None and n > MAX_WEIGHTS:
            raise StudyError(path, (
                f"a network of {n:,} weights ({n_in} inputs, {n_out} outputs), more than the "
                f"limit of {MAX_WEIGHTS:,}; use narrower or fewer layers, got {hidden!r}"))


def build(study, *, source="study.yaml", options=None):
    """A :class:`Plan` for ``study`` (file name ``source``; ``options`` from the CLI)."""
    from sklearn.base import is_classifier

    options = options or Options()
    check_study(study, options, dry_run=options.dry_run)  # the limits, before any work
    name = study.name or Path(source).stem
    out = output_folder(study, source, options)
    notes = []
    storage = options.storage or study.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    study_name = study.study_name or name

    X, y, groups = load_dataset(study.data, base_dir=Path(source).parent)
    if study.data.subset is not None and study.data.subset > len(y):
        notes.append(f"data.subset={study.data.subset:,} is more than the {len(y):,} rows of "
                     "the data: all of them are used")
    estimator, prefix = _make_estimator(study, X, options)
    _check_features(study, X, estimator, notes)
    classifier = is_classifier(estimator)
    X_train, X_test, y_train, y_test, g_train = _split_data(study, X, y, groups, classifier)
    _check_network_size(study, X_train, y_train, classifier)
    _check_scoring(study, X_train, y_train, classifier, estimator)
    _regression_metric_note(study, y_train, classifier, notes)
    cv = _make_cv(study, y_train, classifier)
    if getattr(study.cv, "method", study.cv) == "group_kfold" and g_train is None:
        raise StudyError(("cv",), "group_kfold needs data.groups (a column of the data file)")
    from hpsearch.model_selection.split import check_n_splits

    try:
        n_splits = check_n_splits(cv, X_train, y_train, g_train)
        _first_split(cv, X_train, y_train, g_train)
    except ValueError as exc:
        raise StudyError(_splitter_key("cv", str(exc), study.cv), str(exc).rstrip(".")) from exc
    _check_sample_budget(study, len(y_train))
    space = _make_space(study, estimator, prefix)
    _check_space_values(study, estimator, prefix)
    n_candidates = _n_candidates(study, space, options)
    n_candidates = _finite_space(study, space, n_candidates, notes)
    if study.search.method == "grid" and n_candidates > MAX_GRID:
        notes.append(f"the grid has {n_candidates:,} candidates, more than the limit of "
                     f"{MAX_GRID:,}: a run refuses it")
    else:
        _check_fits(study, n_candidates, n_splits)
    space_arg, opts = _search_options(study, space, options, n_candidates)
    search = _make_search(
        study, estimator, space_arg, cv, opts,
        {"storage": storage, "study_name": study_name,
         "n_jobs": _n_jobs(study, options, notes)}, options,
    )
    _check_auto_budget(study, search, len(y_train))
    _check_racing(study, search, n_splits)
    _check_search(search, X_train, y_train, g_train)
    _fit_timeout_note(study, options, opts, search, notes)
    _halving_reach(study, search, X_train, y_train, g_train, notes)
    outer_cv, nested_fits = _make_outer(study, search, X_train, y_train, g_train, classifier,
                                        n_candidates, options, notes)
    refit = _refit(study)
    refit_metric = refit if isinstance(refit, str) else (
        study.scoring if isinstance(study.scoring, str) else None
    )
    return Plan(
        study=study, name=name, out=out, storage=storage, study_name=study_name,
        estimator=estimator, space=space, cv=cv, search=search,
        X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test, groups=g_train,
        n_candidates=n_candidates, n_splits=n_splits, classifier=classifier,
        refit_metric=refit_metric, backend=_backend(study, options), notes=notes,
        outer_cv=outer_cv, nested_fits=nested_fits, smoke=options.smoke,
        storage_option=bool(options.storage),
    )


#: the key of a search's number of candidates, by method (grid: its space)
_CANDIDATES_KEY = {"random": "n_iter", "recipe": "n_iter", "optuna": "n_trials",
                   "asha": "n_trials", "halving": "n_candidates", "hyperband": "n_candidates"}


def _check_fits(study, n_candidates, n_splits):
    """Refuse a search of more than :data:`~hpsearch.study.limits.MAX_FITS` fits
    (candidates x splits), each count within its own limit: ``n_iter: 100000`` with
    ``cv: {method: monte_carlo, n_splits: 10000}`` ended in a MemoryError, 10,000 x 1,000
    held 1.7 GB and ran for minutes, neither with a fit done."""
    if not isinstance(n_candidates, int) or not isinstance(n_splits, int):
        return
    total = n_candidates * n_splits
    if total <= MAX_FITS:
        return
    key = _CANDIDATES_KEY.get(study.search.method)
    given = key is not None and getattr(study.search, key, None) is not None
    raise StudyError(
        ("search", key) if given else ("search", "space") if key is None else ("cv",),
        f"{n_candidates:,} candidates x {n_splits:,} splits of cv make {total:,} fits, more "
        f"than the limit of {MAX_FITS:,}; ask for fewer candidates or splits, got "
        f"{getattr(study.search, key) if given else n_candidates:,}")


def _check_racing(study, search, n_splits):
    """Refuse ``racing: true`` that cannot race: racing stops a candidate only after
    ``racing_min_splits`` splits (3 by default), so with as many splits or fewer in
    ``cv`` every candidate is fitted on every split (was: the search's UserWarning,
    "racing_min_splits=3 is not below the 2 splits of cv ... or racing=False", in the
    words of the Python API, with its file and line)."""
    if not study.search.racing or not isinstance(n_splits, int):
        return
    min_splits = getattr(search, "racing_min_splits", None)
    if not isinstance(min_splits, int) or min_splits < n_splits:
        return
    given = study.search.racing_min_splits is not None
    smaller = ", or a smaller racing_min_splits (at least 2)" if n_splits > 2 else ""
    raise StudyError(
        ("search", "racing_min_splits" if given else "racing"),
        f"racing stops a candidate only after {'' if given else 'racing_min_splits='}"
        f"{min_splits:,} splits{'' if given else ' (its default)'}, and cv has {n_splits}: "
        "every candidate would be fitted on every split and racing would do nothing; use "
        f"more splits in cv{smaller}, or leave racing out, got {min_splits if given else 'true'}")


# ----------------------------------------------------------------- nested evaluation
def _outer_key(message, spec):
    """The ``evaluate`` sub-key a splitter's error is about (default: ``outer``)."""
    named = [k for k in sorted(spec.model_fields_set - {"outer"})
             if k in message or _OTHER_WORDS.get(k, "\0") in message]
    return ("evaluate", named[0] if named else "outer")


def _search_fits(search, n_candidates, X, y, groups):
    """Fits of ``search`` on ``(X, y)`` (its refit not included), counted without fitting:
    candidates x inner splits, or the halving rounds / pruning rungs of its own plan."""
    from hpsearch.model_selection.split import check_n_splits, make_cv

    from .budget import pruned_budget, rounds_budget

    k = check_n_splits(search.cv, X, y, groups)
    for _ in make_cv(search.cv, y=y).split(X, y, groups):  # the splitter's own checks of
        break  # the rows (more folds than rows...), without listing every split
    if hasattr(search, "plan_rounds"):
        return rounds_budget(search.plan_rounds(X, y, groups=groups), k).fits
    rungs = search.plan_rungs() if hasattr(search, "plan_rungs") else None
    if rungs:
        return pruned_budget(n_candidates, k, rungs)["max_fits"]
    return (n_candidates or 0) * k


def _make_outer(study, search, X, y, groups, classifier, n_candidates, options, notes):
    """``evaluate``: the outer splitter and the inner search's fits on each outer-train
    part, checked (splitter options, inner splits that fit the outer-train rows, the
    limit on all fits) before any work. ``(None, [])`` without ``evaluate``."""
    from hpsearch.model_selection.split import check_n_splits, make_cv
    from sklearn.utils import _safe_indexing

    spec = study.evaluate
    if spec is None:
        return None, []
    if spec.outer == "group_kfold" and groups is None:
        raise StudyError(("evaluate", "outer"),
                         "group_kfold needs data.groups (a column of the data file)")
    try:
        outer = make_cv(spec.outer, **_seeded(spec.outer, spec.options(), study.seed))
        n_outer = check_n_splits(outer, X, y, groups)
    except (ValueError, TypeError) as exc:
        raise StudyError(_outer_key(str(exc), spec), str(exc).rstrip(".")) from exc
    note = check_nested_fits(n_outer, None, dry_run=options.dry_run)  # before counting
    if note:  # --dry-run of too many outer splits: not counted per split
        notes.append(note)
        return outer, []
    fits = []
    for k, (train, _) in enumerate(outer.split(X, y, groups)):
        Xk, yk = _safe_indexing(X, train), _safe_indexing(y, train)
        gk = None if groups is None else _safe_indexing(groups, train)
        try:
            fits.append(_search_fits(search, n_candidates, Xk, yk, gk))
        except (ValueError, TypeError) as exc:
            raise StudyError(
                ("evaluate", "outer"),
                f"the search cannot run on outer split {k} ({len(train)} training rows): "
                f"{str(exc).rstrip('.')}; use fewer outer or inner splits") from exc
    total = sum(fits) + n_outer  # + one refit per outer split
    note = check_nested_fits(n_outer, total, dry_run=options.dry_run)
    if note:
        notes.append(note)
    return outer, fits
