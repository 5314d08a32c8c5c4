"""The typed schema of a study file (pydantic v2).

Every section forbids unknown keys (with a did-you-mean suggestion) and every rule is
stated once, here, as a field type or a small validator.  The loader turns pydantic's
errors into ``key.path: rule, got value (line N)``.  Nothing is imported or executed from
the file: names are looked up in tables (:mod:`hpsearch.study.registry`) only later, when
the study is built.

Why pydantic rather than dataclasses: a study file is untrusted, nested user input. pydantic
gives, per field and for free, type checking without silent coercion (``strict``), bounds
(``gt``/``ge``), enumerations (``Literal``), nested sections and lists, and *every* error
at once with its location tuple -- which is exactly the key path a user needs.  With
dataclasses all of that (and the location bookkeeping) would be hand-written.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import did_you_mean

__all__ = [
    "DATASETS",
    "SEARCH_OPTIONS",
    "CV_OPTIONS",
    "Study",
    "DataSpec",
    "PreprocessingSpec",
    "EstimatorSpec",
    "DimensionSpec",
    "SearchSpec",
    "CVSpec",
    "BackendSpec",
    "EvaluateSpec",
]

DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")

#: options each search method accepts besides ``method`` and ``space``
SEARCH_OPTIONS = {
    "grid": ("racing", "racing_min_splits", "racing_alpha"),
    "random": ("n_iter", "racing", "racing_min_splits", "racing_alpha"),
    "optuna": ("n_trials", "timeout", "sampler", "pruner", "racing", "racing_min_splits",
               "racing_alpha"),
    "halving": ("n_candidates", "resource", "min_resources", "max_resources", "factor",
                "aggressive_elimination"),
    "hyperband": ("resource", "min_resources", "max_resources", "factor"),
    "recipe": ("n_iter", "sampler"),
    "asha": ("n_trials", "sampler", "resource", "min_resources", "max_resources", "factor",
             "reproducible"),
}

#: options every search method accepts (the engine's time limits and retries) but those
#: of :data:`WITHOUT_COMMON_OPTIONS`
COMMON_SEARCH_OPTIONS = ("timeout", "fit_timeout", "max_retries")
#: methods whose search takes none of :data:`COMMON_SEARCH_OPTIONS` (RecipeSearchCV runs
#: its stages itself: ``timeout: 60`` passed the file's checks, then the run failed with
#: "TypeError: RecipeSearchCV.__init__() got an unexpected keyword argument 'timeout'")
WITHOUT_COMMON_OPTIONS = ("recipe",)

#: options each splitter accepts besides ``method`` (``random_state`` comes from ``seed``)
CV_OPTIONS = {
    "holdout": ("test_size", "shuffle", "stratify"),
    "kfold": ("n_splits", "shuffle"),
    "stratified_kfold": ("n_splits", "shuffle"),
    "group_kfold": ("n_splits",),
    "loo": ("max_splits",),
    "lpo": ("p", "max_splits"),
    "monte_carlo": ("n_splits", "test_size", "train_size", "swap", "stratify"),
}

TAG = "§"  # prefix of union tags; the loader drops them from key paths


_NO_VALUE = object()


def fail(rule, *, key=None, value=_NO_VALUE, hint="", note="", **ctx):
    """Raise a schema error read by the loader as ``<key>: <rule>, got <value><hint><note>``.

    ``rule`` may hold ``{name}`` fields filled from ``ctx``; ``key`` is a sub-key (or tuple
    of sub-keys) of the section that failed; ``hint`` a did-you-mean, ``note`` a
    parenthetical such as the list of valid names.
    """
    context = dict(ctx, hint=hint, note=note)
    if key is not None:
        context["key"] = key
    if value is not _NO_VALUE:
        context["value"] = value
    raise PydanticCustomError("study", rule, context)


class Section(BaseModel):
    """A mapping of the study file: strict types, unknown keys refused.

    (The loader adds the did-you-mean suggestion, from :data:`SECTIONS`.)
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)



#: YAML value type -> union tag; bool before int (a bool is an int in Python)
_TYPE_TAGS = ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list"),
              (dict, "dict"))


def by_type(value):
    """Callable discriminator: the tag of a union branch chosen by the YAML value's type."""
    return TAG + next((tag for typ, tag in _TYPE_TAGS if isinstance(value, typ)), "other")


def one_of(*branches, what):
    """A union chosen by YAML type; any other type is an error saying ``what`` is expected."""
    tagged = [Annotated[typ, Tag(TAG + tag)] for tag, typ in branches]
    return Annotated[
        Union[tuple(tagged)],
        Discriminator(by_type, custom_error_type="wrong_kind", custom_error_message=what),
    ]


def _check_distinct(values, what, key=()):
    """Refuse a list naming one thing twice: the error names the second item (sub-key
    ``key + (i,)`` of the section that failed), the first one and the value."""
    if not isinstance(values, list):
        return
    for i, value in enumerate(values):
        if value in values[:i]:
            fail("{what} must be distinct (the same as item [{first}])", key=(*key, i),
                 value=value, what=what, first=values.index(value))


PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


# --------------------------------------------------------------------------- data
class DataSpec(Section):
    """Where the data comes from and how much of it is held out for the final test."""

    dataset: Literal[DATASETS] | None = None
    path: str | None = None
    target: str | None = None
    format: Literal["csv", "parquet"] | None = None
    drop: list[str] = []
    groups: str | None = None
    subset: PositiveInt | None = None
    test_size: Annotated[float, Field(gt=0, lt=1)] = 0.2
    stratify: bool | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.dataset is None) == (self.path is None):
            fail("give exactly one of 'dataset' (a bundled name) or 'path' (a CSV/Parquet file)")
        if self.path is not None and self.target is None:
            fail("required key is missing (the target column of {path})", key="target",
                 path=self.path)
        if self.dataset is not None:
            for key in ("target", "format", "drop", "groups"):
                if key in self.model_fields_set:
                    fail("only with 'path' (a bundled dataset has its own target)", key=key,
                         value=getattr(self, key))
        if self.groups is not None and self.groups == self.target:
            fail("must be another column than the target (data.target): a group of rows "
                 "per class would put every class in one fold only", key="groups",
                 value=self.groups)
        _check_distinct(self.drop, "the columns of 'drop'", key=("drop",))
        for i, column in enumerate(self.drop):
            for key in ("target", "groups"):
                if column == getattr(self, key):
                    fail(f"names the {key} column (data.{key}), which is never a feature; "
                         "remove it from drop", key=("drop", i), value=column)
        return self


# ------------------------------------------------------------------ preprocessing
class CategoricalSpec(Section):
    """Which columns are categorical and how they are encoded."""

    columns: one_of(("str", str), ("list", list[str]),
                    what="must be 'auto' or a list of column names") = "auto"
    encoder: Literal["one_hot", "ordinal"] = "one_hot"

    @field_validator("columns")
    @classmethod
    def _auto_or_distinct(cls, value):
        if isinstance(value, str) and value != "auto":  # a single name: a list of one
            fail("must be 'auto' or a list of column names", value=value,
                 hint=f"; for one column write [{value}]")
        _check_distinct(value, "column names")
        return value


class PreprocessingSpec(Section):
    """Steps of the ``preprocess`` part of the pipeline (a ColumnTransformer)."""

    scaler: Literal["standard", "minmax", "robust", "maxabs", "none"] = "standard"
    impute: Literal["none", "mean", "median", "most_frequent"] = "none"
    categorical: CategoricalSpec = CategoricalSpec()


# ----------------------------------------------------------------------- estimator
class EstimatorSpec(Section):
    """A registry name (``mlp_classifier``) or an allow-listed ``module:Class`` path."""

    name: str
    params: dict[str, Any] = {}

    @field_validator("name")
    @classmethod
    def _known_name(cls, name):
        from .registry import ESTIMATORS, IMPORT_PATH

        if ":" in name:
            if not IMPORT_PATH.fullmatch(name):
                fail("an import path must look like 'package.module:ClassName'", value=name)
        elif name not in ESTIMATORS:
            fail(
                "unknown estimator",
                value=name,
                hint=did_you_mean(name, ESTIMATORS),
                note=f" (registry names: {', '.join(ESTIMATORS)}; or 'module:Class')",
            )
        return name


# --------------------------------------------------------------------------- space
def _finite(value):
    """Whether the number ``value`` is finite as a float (an integer of 400 digits is
    not: ``float()`` overflows)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


Number = one_of(("int", int), ("float", float), what="must be a number")


class DimensionSpec(Section):
    """One searched parameter in the shared vocabulary of ``hpsearch.space.from_spec``."""

    type: Literal["float", "int", "categorical"]
    low: Number | None = None
    high: Number | None = None
    log: bool = False
    n: Annotated[int, Field(ge=1)] | None = None
    step: Number | None = None
    choices: Annotated[list[Any], Field(min_length=1)] | None = None
    when: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.type == "categorical":
            if self.choices is None:
                fail("required key is missing for type 'categorical'", key="choices")
            for key in ("low", "high", "log", "n", "step"):
                if key in self.model_fields_set:
                    fail("not an option of type 'categorical' (use 'choices')", key=key,
                         value=getattr(self, key))
            return self
        if self.choices is not None:
            fail("only with type 'categorical'", key="choices", value=self.choices)
        for key in ("low", "high"):
            value = getattr(self, key)
            if value is None:
                fail("required key is missing for type '{type}'", key=key, type=self.type)
            if self.type == "int" and not isinstance(value, int):
                fail("must be an integer for type 'int'", key=key, value=value)
            if self.type == "int" and not -(2**63) <= value <= 2**63 - 2:
                # NumPy draws int64 values: 10**21 failed the run ("high is out of bounds")
                fail("must be a 64-bit integer, in [-2**63, 2**63 - 2], for type 'int'",
                     key=key, value=value)
            if not _finite(value):
                fail("must be finite", key=key, value=value)
        if self.step is not None and not (_finite(self.step) and abs(self.step) < 2**63):
            fail("must be a finite number, at most 2**63 - 1", key="step", value=self.step)
        if self.low >= self.high:
            fail("must be < high={high}", key="low", value=self.low, high=self.high)
        if self.log and self.low <= 0:
            fail("must be > 0 when log is true", key="low", value=self.low)
        return self


SpaceEntry = one_of(
    ("list", Annotated[list[Any], Field(min_length=1)]),
    ("dict", DimensionSpec),
    what=(
        "must be a list of choices or a mapping with a 'type' key "
        "(a fixed value belongs under estimator.params)"
    ),
)


# -------------------------------------------------------------------------- search
class SearchSpec(Section):
    """The search method, its options and its space."""

    method: Literal[tuple(SEARCH_OPTIONS)]
    space: Annotated[dict[str, SpaceEntry], Field(min_length=1)]
    n_iter: PositiveInt | None = None
    n_trials: PositiveInt | None = None
    timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    sampler: Literal["tpe", "gp", "cmaes", "qmc", "random"] | None = None
    pruner: Literal["none", "median", "successive_halving", "hyperband"] | None = None
    n_candidates: one_of(("str", Literal["exhaust"]), ("int", PositiveInt),
                         what="must be a positive integer or 'exhaust'") | None = None
    resource: str | None = None
    min_resources: one_of(("str", Literal["smallest", "exhaust"]), ("int", PositiveInt),
                          what="must be a positive integer, 'smallest' or 'exhaust'"
                          ) | None = None
    max_resources: one_of(("str", Literal["auto"]), ("int", PositiveInt),
                          what="must be a positive integer or 'auto'") | None = None
    factor: Annotated[float, Field(gt=1)] | None = None
    aggressive_elimination: bool | None = None
    #: asha: decisions reproducible for a seed and worker count (true) or live (false)
    reproducible: bool | None = None
    fit_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    max_retries: NonNegativeInt | None = None
    #: racing across splits (grid, random, optuna): see hpsearch.model_selection._racing
    racing: bool | None = None
    racing_min_splits: Annotated[int, Field(ge=2)] | None = None
    racing_alpha: Annotated[float, Field(gt=0, lt=1)] | None = None

    @model_validator(mode="after")
    def _options_of_method(self):
        allowed = SEARCH_OPTIONS[self.method]
        common = set() if self.method in WITHOUT_COMMON_OPTIONS else set(COMMON_SEARCH_OPTIONS)
        for key in sorted(self.model_fields_set - {"method", "space"} - common):
            if key not in allowed:
                fail(
                    "not an option of method '{method}' (its options: {options})",
                    key=key,
                    value=getattr(self, key),
                    method=self.method,
                    options=", ".join(allowed) or "none besides space",
                )
        for key in ("racing_min_splits", "racing_alpha"):
            if key in self.model_fields_set and not self.racing:  # else silently unused
                fail("only with racing: true (it sets how racing stops candidates)", key=key,
                     value=getattr(self, key))
        if self.racing and self.pruner not in (None, "none"):
            fail("cannot be combined with a pruner: racing stops candidates across splits, "
                 "pruner '{pruner}' across epochs; use one of them", key="racing",
                 value=True, pruner=self.pruner)
        for name, entry in self.space.items():
            if isinstance(entry, DimensionSpec) and entry.when:
                for other in entry.when:
                    if other not in self.space or other == name:
                        others = [k for k in self.space if k != name]
                        fail(
                            "a condition must name another searched parameter",
                            key=("space", name, "when", other),
                            value=other,
                            hint=did_you_mean(other, others),
                        )
        return self


# ----------------------------------------------------------------------------- cv
class _SplitterOptions(Section):
    """The options of a splitter spec (``cv`` or ``evaluate``); a subclass adds the key
    that names the splitter (:attr:`_name_key`) and the options must be that
    splitter's."""

    _name_key: ClassVar[str]

    n_splits: PositiveInt | None = None
    shuffle: bool | None = None
    test_size: Number | None = None
    train_size: Number | None = None
    stratify: bool | None = None
    swap: bool | None = None
    p: PositiveInt | None = None
    max_splits: PositiveInt | None = None

    @model_validator(mode="after")
    def _options_of_splitter(self):
        _check_splitter_options(self, getattr(self, self._name_key), self._name_key)
        return self

    def options(self):
        """The options given, as keyword arguments for ``make_cv``."""
        return {k: getattr(self, k) for k in self.model_fields_set - {self._name_key}}


class CVSpec(_SplitterOptions):
    """A splitter given by name and options (``hpsearch.model_selection.split.make_cv``)."""

    _name_key: ClassVar[str] = "method"
    method: Literal[tuple(CV_OPTIONS)]


def _check_splitter_options(spec, method, name_key):
    """The options of a splitter spec (``cv`` or ``evaluate``) must be ``method``'s."""
    allowed = CV_OPTIONS[method]
    for key in sorted(spec.model_fields_set - {name_key}):
        if key not in allowed:
            fail(
                "not an option of splitter '{method}' (its options: {options})",
                key=key,
                value=getattr(spec, key),
                method=method,
                options=", ".join(allowed),
            )
    for key in ("test_size", "train_size"):
        value = getattr(spec, key)
        if value is not None and isinstance(value, float) and not 0 < value < 1:
            fail("a fraction must be in (0, 1)", key=key, value=value)
    if method == "lpo" and spec.p is None:
        fail("required key is missing for splitter 'lpo'", key="p")


class EvaluateSpec(_SplitterOptions):
    """Nested cross-validation of the whole search: ``outer`` names the outer splitter
    (the names of ``cv``), the other keys are its options, as in a ``cv`` mapping.
    For each outer split the study's search runs on the outer-train part (inner CV: the
    ``cv`` key) and its refit best model is scored on the outer-test part
    (:func:`hpsearch.model_selection.nested_cross_validate`)."""

    _name_key: ClassVar[str] = "outer"
    outer: Literal[tuple(CV_OPTIONS)]


CVName = Annotated[Literal[tuple(CV_OPTIONS)], Field()]


# -------------------------------------------------------------------------- backend
class BackendSpec(Section):
    """The joblib backend; ``dask`` with ``scheduler`` runs the fits on a Dask cluster."""

    name: Literal["loky", "threading", "multiprocessing", "dask"] = "loky"
    scheduler: str | None = None

    @model_validator(mode="after")
    def _scheduler_only_for_dask(self):
        if self.scheduler is not None and self.name != "dask":
            fail("only with name 'dask'", key="scheduler", value=self.scheduler)
        return self


# ---------------------------------------------------------------------------- study
def _scorer_names():
    from sklearn.metrics import get_scorer_names

    return get_scorer_names()


class Study(Section):
    """A whole study file."""

    name: str | None = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0  # numpy's seed range
    data: DataSpec
    preprocessing: PreprocessingSpec | None = None
    estimator: EstimatorSpec
    search: SearchSpec
    cv: one_of(
        ("int", Annotated[int, Field(ge=2)]),
        ("str", CVName),
        ("dict", CVSpec),
        what="must be a number of folds, a splitter name or a mapping with 'method'",
    ) = 5
    scoring: one_of(
        ("str", str),
        ("list", Annotated[list[str], Field(min_length=1)]),
        what="must be a metric name or a list of metric names",
    ) | None = None
    refit: one_of(
        ("bool", bool), ("str", str), what="must be true/false or a metric name"
    ) = True
    error_score: one_of(
        ("str", Literal["raise", "nan"]),
        ("int", int),
        ("float", float),
        what="must be 'raise', 'nan' or a number",
    ) = "nan"
    return_train_score: bool = False
    n_jobs: int | None = None
    storage: str | None = None
    study_name: str | None = None
    output: str | None = None
    backend: BackendSpec | None = None
    evaluate: EvaluateSpec | None = None

    @field_validator("n_jobs")
    @classmethod
    def _n_jobs(cls, value):
        from .limits import MAX_N_JOBS

        if value is not None and (value == 0 or value < -1):
            fail("must be a positive integer or -1 (all cores)", value=value)
        if value is not None and value > MAX_N_JOBS:
            fail("must be <= {limit} (local workers are capped at the CPUs available)",
                 value=value, limit=MAX_N_JOBS)
        return value

    @field_validator("storage", "output")
    @classmethod
    def _not_empty(cls, value):
        if value is not None and not value.strip():  # '' quietly meant the default
            fail("must not be empty (leave the key out for the default)", value=value)
        return value

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value):
        from .limits import PLAIN_NAME

        if value is not None and (not PLAIN_NAME.fullmatch(value) or value in (".", "..")):
            fail("must be a plain name (letters, digits, '_', '-', '.', '+'; no path "
                 "separators, no '..', at most 100 characters)", value=value)
        return value

    @field_validator("study_name")
    @classmethod
    def _printable_study_name(cls, value):
        from .limits import MAX_STUDY_NAME

        if value is not None and not (0 < len(value) <= MAX_STUDY_NAME
                                      and value.isprintable()):
            fail("must be 1 to {limit} printable characters (no newline or control "
                 "character; a database server's study names hold at most 512)",
                 value=value, limit=MAX_STUDY_NAME)
        return value

    @field_validator("scoring")
    @classmethod
    def _known_metrics(cls, value):
        names = [value] if isinstance(value, str) else (value or [])
        known = _scorer_names()
        for i, name in enumerate(names):
            if name not in known:
                fail(
                    "unknown metric",
                    key=None if isinstance(value, str) else i,
                    value=name,
                    hint=did_you_mean(name, known),
                    note=" (see sklearn.metrics.get_scorer_names())",
                )
        if isinstance(value, list) and len(set(value)) != len(value):
            fail("metric names must be distinct", value=value)
        return value

    @model_validator(mode="after")
    def _refit_metric(self):
        multi = isinstance(self.scoring, list) and len(self.scoring) > 1
        if isinstance(self.refit, str) and self.scoring is None:  # was "... metrics (None)"
            fail("a metric name needs 'scoring' naming that metric (without scoring, the "
                 "estimator's score method picks the best): add scoring, or use refit: true",
                 key="refit", value=self.refit)
        if isinstance(self.refit, str):
            metrics = self.scoring if isinstance(self.scoring, list) else [self.scoring]
            if self.refit not in metrics:
                fail(
                    "must be one of the scoring metrics ({metrics})",
                    key="refit",
                    value=self.refit,
                    hint=did_you_mean(self.refit, [m for m in metrics if m]),
                    metrics=", ".join(str(m) for m in metrics),
                )
        elif self.refit is False and self.evaluate is not None:
            fail("must be true or a metric name with 'evaluate': nested cross-validation "
                 "scores the refit best model of each outer split", key="refit", value=False)
        elif multi and self.refit is True:
            fail("with several scoring metrics, name the one to select the best model by "
                 "(one of {metrics})", key="refit", value=True,
                 metrics=", ".join(self.scoring))
        return self


#: key path (``*`` = any key) -> the section found there, to list its keys in errors
SECTIONS = {
    (): Study,
    ("data",): DataSpec,
    ("preprocessing",): PreprocessingSpec,
    ("preprocessing", "categorical"): CategoricalSpec,
    ("estimator",): EstimatorSpec,
    ("search",): SearchSpec,
    ("search", "space", "*"): DimensionSpec,
    ("cv",): CVSpec,
    ("backend",): BackendSpec,
    ("evaluate",): EvaluateSpec,
}


def section_at(path):
    """The :class:`Section` class at a key path of a study file, or None."""
    for pattern, cls in SECTIONS.items():
        if len(pattern) == len(path) and all(p in ("*", q) for p, q in zip(pattern, path)):
            return cls
    return None
