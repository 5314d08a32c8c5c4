"""Name -> implementation tables for study files: estimators, datasets, preprocessing.

A study file names things; only these tables (and an allow-listed ``module:Class`` import
path) turn names into Python objects.  Nothing from the file is evaluated.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np

from .errors import StudyError, did_you_mean

__all__ = [
    "ESTIMATORS",
    "DEFAULT_ALLOWED_MODULES",
    "IMPORT_PATH",
    "resolve_estimator",
    "load_dataset",
    "make_preprocessor",
]

#: registry name -> "module:Class"
ESTIMATORS = {
    "mlp_classifier": "hpsearch.mlp:MLPClassifier",
    "mlp_regressor": "hpsearch.mlp:MLPRegressor",
    "logistic_regression": "sklearn.linear_model:LogisticRegression",
    "ridge": "sklearn.linear_model:Ridge",
    "ridge_classifier": "sklearn.linear_model:RidgeClassifier",
    "lasso": "sklearn.linear_model:Lasso",
    "elastic_net": "sklearn.linear_model:ElasticNet",
    "linear_regression": "sklearn.linear_model:LinearRegression",
    "sgd_classifier": "sklearn.linear_model:SGDClassifier",
    "sgd_regressor": "sklearn.linear_model:SGDRegressor",
    "svc": "sklearn.svm:SVC",
    "svr": "sklearn.svm:SVR",
    "knn_classifier": "sklearn.neighbors:KNeighborsClassifier",
    "knn_regressor": "sklearn.neighbors:KNeighborsRegressor",
    "decision_tree_classifier": "sklearn.tree:DecisionTreeClassifier",
    "decision_tree_regressor": "sklearn.tree:DecisionTreeRegressor",
    "random_forest_classifier": "sklearn.ensemble:RandomForestClassifier",
    "random_forest_regressor": "sklearn.ensemble:RandomForestRegressor",
    "extra_trees_classifier": "sklearn.ensemble:ExtraTreesClassifier",
    "extra_trees_regressor": "sklearn.ensemble:ExtraTreesRegressor",
    "gradient_boosting_classifier": "sklearn.ensemble:GradientBoostingClassifier",
    "gradient_boosting_regressor": "sklearn.ensemble:GradientBoostingRegressor",
    "hist_gradient_boosting_classifier": "sklearn.ensemble:HistGradientBoostingClassifier",
    "hist_gradient_boosting_regressor": "sklearn.ensemble:HistGradientBoostingRegressor",
    "sklearn_mlp_classifier": "sklearn.neural_network:MLPClassifier",
    "sklearn_mlp_regressor": "sklearn.neural_network:MLPRegressor",
}

#: module prefixes an explicit ``module:Class`` path may come from (CLI: --allow-module)
DEFAULT_ALLOWED_MODULES = ("sklearn", "hpsearch")

IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def _allowed(module, allowed_modules):
    return any(module == m or module.startswith(m + ".") for m in allowed_modules)


def resolve_estimator(name, *, allowed_modules=DEFAULT_ALLOWED_MODULES, path=("estimator", "name")):
    """The estimator class for a registry ``name`` or an allow-listed ``module:Class`` path.

    Raises
    ------
    StudyError
        For a name outside the registry, a module outside ``allowed_modules``, an import
        that fails or an attribute that is not a scikit-learn estimator class.
    """
    if ":" not in name:
        if name not in ESTIMATORS:
            raise StudyError(path, f"unknown estimator{did_you_mean(name, ESTIMATORS)}, got {name!r}")
        target = ESTIMATORS[name]
    else:
        target = name
        module_name = name.split(":")[0]
        if not _allowed(module_name, allowed_modules):
            raise StudyError(
                path,
                f"import path {name!r} is outside the allowed modules "
                f"({', '.join(allowed_modules)}); allow it with --allow-module "
                f"{module_name.split('.')[0]}",
            )
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StudyError(path, f"cannot import module {module_name!r} ({exc}), got {name!r}") from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        public = [n for n in dir(module) if not n.startswith("_")]
        raise StudyError(
            path,
            f"module {module_name!r} has no class {class_name!r}"
            f"{did_you_mean(class_name, public)}, got {name!r}",
        )
    if not (isinstance(cls, type) and hasattr(cls, "get_params") and hasattr(cls, "fit")):
        raise StudyError(path, f"not a scikit-learn estimator class, got {name!r}")
    return cls


# ---------------------------------------------------------------------------- data
def _bundled(name):
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=False)
    return bunch.data, bunch.target


#: column names an error lists at most
_MAX_COLUMNS_SHOWN = 30


def _columns_text(columns):
    """The column names of a data file for an error: at most :data:`_MAX_COLUMNS_SHOWN`,
    each as written unless it holds a control character (then as ``repr``: a header with
    terminal escape sequences must not reach the terminal raw)."""
    names = [str(c) if str(c).isprintable() else repr(str(c))
             for c in columns[:_MAX_COLUMNS_SHOWN]]
    more = len(columns) - len(names)
    return ", ".join(names) + (f", ... ({more:,} more)" if more > 0 else "")


#: top folders of the kernel's files (a symlink ``data.csv -> /proc/self/environ``)
_SYSTEM_FOLDERS = (("proc",), ("sys",), ("dev",))


def _data_file(spec, base_dir):
    """The file ``data.path`` names: relative to the working directory or to the study
    file's folder (``base_dir``); a relative path naming a file in both is refused unless
    both are the same file (either could be meant: reading one silently would search and
    test on the other's rows)."""
    path = Path(spec.path)
    if path.is_absolute():
        return path
    here, there = path, Path(base_dir) / path
    if here.exists() and there.exists() and not here.samefile(there):
        raise StudyError(("data", "path"), (
            f"names two different files: {str(here.resolve())!r} (in the working directory) "
            f"and {str(there.resolve())!r} (next to the study file); write the absolute path "
            f"of the one you mean, got {spec.path!r}"))
    return here if here.exists() else there


def _check_link_target(spec, path):
    """The data file name rule (:data:`~hpsearch.study.limits.DATA_SUFFIXES`) holds for
    the file a symbolic link leads to as well: ``data.csv -> ~/.aws/credentials`` was
    read, its first line shown as the column names of an error."""
    from .limits import DATA_SUFFIXES

    target = path.resolve()
    if spec.format == "parquet" or target.name.lower().endswith(DATA_SUFFIXES):
        return
    raise StudyError(("data", "path"), (
        f"must be a CSV or Parquet file (a name ending in {', '.join(DATA_SUFFIXES[:5])}...), "
        f"and so must the file a symbolic link leads to, got {spec.path!r} (a link to "
        f"{str(target)!r})"))


#: file name endings of tab-separated data files (every other CSV name: commas)
_TAB_SEPARATED = (".tsv", ".tsv.gz")


def _header(path, sep):
    """The column names of a CSV file as written (pandas renames a repeated ``a`` to
    ``a.1``): its first row, read as text."""
    import pandas as pd

    first = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str)
    return [c for c in first.iloc[0].tolist() if isinstance(c, str)] if len(first) else []


def _number(text):
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _layout_hint(columns, sep):
    """Why a data file may lack a named column: no header row (every name a number), or
    another separator than the one read (one column whose name holds ``;`` or a tab)."""
    names = [str(c) for c in columns]
    if names and all(_number(n) for n in names):
        return ("; its first row is all numbers: the file seems to have no header row, "
                "add one naming the columns")
    other = {";": "';'", "\t": "tabs", ",": "','"}
    if len(names) == 1:
        for mark, words in other.items():
            if mark != sep and mark in names[0]:
                return (f"; the file seems separated by {words}: a .csv file is read "
                        "comma-separated, a .tsv file tab-separated")
    return ""


def _check_columns(columns, names, path, sep=","):
    """Refuse a data file with a column name twice (pandas would rename the second
    ``y`` to ``y.1`` and keep it as a feature: a copy of the target among the features)."""
    seen = set()
    twice = [c for c in names if c in seen or seen.add(c)]
    if twice:
        raise StudyError(("data", "path"), (
            f"column names must be distinct: {twice[0]!r} is the name of more than one "
            f"column of {path.name} (columns: {_columns_text(list(names))}); rename them"
            f"{_layout_hint(list(names), sep)}"))


def _check_complete(values, key, column, path):
    """Refuse a target or groups column with missing values (NaN / empty cells): the split
    and every fit would fail on them, far from the key that names the column."""
    import pandas as pd

    missing = np.flatnonzero(pd.isna(values))
    if missing.size:
        raise StudyError(("data", key), (
            f"column {column!r} of {path.name} has {missing.size:,} missing value(s) "
            f"(first in data row {missing[0] + 1}); every row needs a {key}: remove those "
            f"rows or fill them in, got {column!r}"))


def _check_finite(frame, columns, key, path, spec_value):
    """Refuse a number column holding an infinite value (``inf``, or ``1e999`` read as
    one): scikit-learn's estimators refuse infinity in ``X`` and ``y``, so every fit
    failed and the run ended "run failed: ValueError: Input X contains infinity or a
    value too large for dtype('float64')" (exit 1), naming neither file nor column."""
    for col in columns:
        values = frame[col]
        if not _is_numeric(values.dtype):
            continue
        infinite = np.flatnonzero(np.isinf(values.to_numpy(dtype=float, na_value=np.nan)))
        if infinite.size:
            raise StudyError(key, (
                f"column {col!r} of {path.name} has {infinite.size:,} infinite value(s) "
                f"(first in data row {infinite[0] + 1}: {float(values.iloc[infinite[0]]):g}), "
                "which no estimator can fit on: remove those rows or replace the values, "
                f"got {spec_value!r}"))


def load_dataset(spec, *, base_dir=Path(".")):
    """``(X, y, groups)`` for a :class:`~hpsearch.study.schema.DataSpec`.

    ``X`` is a NumPy array for bundled datasets and a pandas DataFrame (column names and
    dtypes kept, for the categorical encoder) for CSV / Parquet files; ``.tsv`` files
    are tab-separated, other CSV files comma-separated.
    """
    if spec.dataset is not None:
        return (*_bundled(spec.dataset), None)
    import pandas as pd

    path = _data_file(spec, base_dir)
    if not path.exists():
        raise StudyError(("data", "path"), f"file not found, got {spec.path!r}")
    if not path.is_file() or path.resolve().parts[1:2] in _SYSTEM_FOLDERS:
        raise StudyError(("data", "path"), "must be a regular data file (not a folder, a "
                         "device, a pipe or a file of /proc, /sys or /dev: those never end or "
                         f"hold the system's secrets), got {spec.path!r}")
    fmt = spec.format or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    _check_link_target(spec, path)
    if fmt == "csv":
        from .limits import check_expansion

        check_expansion(path, spec.path)
    sep = "\t" if path.name.lower().endswith(_TAB_SEPARATED) else ","
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
            names = [str(c) for c in frame.columns]
        else:
            frame = pd.read_csv(path, sep=sep)
            names = _header(path, sep)
    except Exception as exc:  # pandas raises many types; the user needs the file and why
        raise StudyError(("data", "path"), f"cannot read {fmt} file {str(path)!r}: {exc}") from exc
    _check_columns(list(frame.columns), names, path, sep)
    if len(frame) == 0:
        raise StudyError(("data", "path"), f"{path.name} has no data rows (a header only), "
                         f"got {spec.path!r}")
    columns = list(frame.columns)
    named = [("target", [spec.target]), ("drop", spec.drop)]
    if spec.groups is not None:
        named.append(("groups", [spec.groups]))
    for key, names in named:
        for i, col in enumerate(names):
            if col not in columns:
                where = ("data", key) if key != "drop" else ("data", key, i)
                raise StudyError(
                    where,
                    f"no column {col!r} in {path.name}{did_you_mean(col, columns)} "
                    f"(columns: {_columns_text(columns)}){_layout_hint(columns, sep)}",
                )
    y = frame[spec.target].to_numpy()
    _check_complete(y, "target", spec.target, path)
    _check_finite(frame, [spec.target], ("data", "target"), path, spec.target)
    groups = frame[spec.groups].to_numpy() if spec.groups is not None else None
    if groups is not None:
        _check_complete(groups, "groups", spec.groups, path)
    removed = [spec.target, *spec.drop] + ([spec.groups] if spec.groups else [])
    X = frame.drop(columns=list(dict.fromkeys(removed)))
    if X.shape[1] == 0:
        raise StudyError(("data",), "no feature columns left after removing target and drop")
    _check_finite(X, list(X.columns), ("data", "path"), path, spec.path)
    return X, y, groups


# ------------------------------------------------------------------- preprocessing
def _scalers():
    from sklearn import preprocessing as p

    return {
        "standard": p.StandardScaler,
        "minmax": p.MinMaxScaler,
        "robust": p.RobustScaler,
        "maxabs": p.MaxAbsScaler,
    }


def _encoders():
    from sklearn import preprocessing as p

    return {
        "one_hot": lambda: p.OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        "ordinal": lambda: p.OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1
        ),
    }


def _is_numeric(dtype):
    """A number column (not bool); pandas' own test, since ``np.issubdtype`` raises on
    pandas' extension dtypes (``StringDtype``: the default for text columns from pandas 3)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(dtype) and not is_bool_dtype(dtype)


def categorical_columns(spec, X):
    """Names of the categorical columns of a DataFrame ``X`` (``[]`` for arrays)."""
    if not hasattr(X, "columns"):
        if spec.categorical.columns != "auto":
            raise StudyError(
                ("preprocessing", "categorical", "columns"),
                "column names need a CSV/Parquet dataset (bundled datasets are all "
                f"numeric), got {spec.categorical.columns!r}",
            )
        return []
    if spec.categorical.columns == "auto":  # pandas' test: its string/nullable dtypes too
        return [c for c in X.columns if not _is_numeric(X[c].dtype)]
    columns = list(X.columns)
    for i, col in enumerate(spec.categorical.columns):
        if col not in columns:
            raise StudyError(
                ("preprocessing", "categorical", "columns", i),
                f"no column {col!r}{did_you_mean(col, columns)} "
                f"(columns: {_columns_text(columns)})",
            )
    return list(spec.categorical.columns)


def make_preprocessor(spec, X):
    """The ``preprocess`` step: a ColumnTransformer (numeric: impute + scale; categorical:
    impute most frequent + encode), or a plain scaler for all-numeric arrays."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    numeric_steps = []
    if spec.impute != "none":
        numeric_steps.append(SimpleImputer(strategy=spec.impute))
    if spec.scaler != "none":
        numeric_steps.append(_scalers()[spec.scaler]())
    numeric = make_pipeline(*numeric_steps) if numeric_steps else "passthrough"
    cats = categorical_columns(spec, X)
    if not cats:
        return numeric
    nums = [c for c in X.columns if c not in cats]
    encoder = make_pipeline(SimpleImputer(strategy="most_frequent"), _encoders()[spec.categorical.encoder]())
    return ColumnTransformer(
        [("num", numeric, nums), ("cat", encoder, cats)], remainder="drop", verbose_feature_names_out=False
    )
