"""Rows of finished candidates -> ``cv_results_`` in scikit-learn's layout -> DataFrame.

A *row* is one evaluated candidate (one candidate at one budget): a plain dict with
``params``, per-split lists ``test_scores`` / ``train_scores`` (dict metric -> float, or
None for a failed fit), ``fit_time``, ``score_time``, ``n_test_samples``, ``error``
(traceback or None per split) and ``resources`` (dict or None).

:func:`format_results` turns the list of rows into exactly the keys of sklearn's
``BaseSearchCV._format_results`` (``params``, ``param_<name>`` masked arrays,
``split<k>_test_<metric>``, ``mean_/std_/rank_test_<metric>``, ``split<k>_train_<metric>``,
``mean_/std_fit_time``, ``mean_/std_score_time``) plus hpsearch's ``error`` (one traceback
text per row, None when every split succeeded) and, for budgeted searches, ``resources``.
"""

import re
import warnings

import numpy as np
from scipy.stats import rankdata
from sklearn.model_selection._search import _yield_masked_array_for_each_param

__all__ = ["metric_names", "format_results", "row_error", "results_frame", "failed_splits"]


def metric_names(rows, scorer_names=None):
    """Metric names in order: from the first successful split, else ``scorer_names``."""
    for row in rows:
        for scores in row["test_scores"]:
            if scores is not None:
                return list(scores)
    return list(scorer_names or ["score"])


def row_error(row):
    """One text with the traceback of every failed split of a row (None if none failed)."""
    parts = [
        f"split {k}:\n{err}" for k, err in enumerate(row["error"]) if err is not None
    ]
    return "\n".join(parts) if parts else None


#: a split's section of a row's error text (:func:`row_error`), and a failed metric's
#: header within it (``_engine._score``: several metrics, one scorer failed)
_SPLIT_SECTION = re.compile(r"^split (\d+):\n", re.M)
_METRIC_HEAD = re.compile(r"^scorer '(.+?)':$", re.M)


def failed_splits(error, metric=None):
    """The splits of a row whose ``metric`` score is no measurement, read off the row's
    ``error`` text (:func:`row_error`): a section per failed split; one whose text starts
    with ``scorer '<name>':`` headers failed only those metrics (the others kept their
    scores), any other (a failed fit, a scorer that raised) every metric. A split the
    search's ``timeout`` left unrun counts too (its score is NaN anyway).

    Returns
    -------
    set of int
    """
    if not isinstance(error, str):
        return set()
    heads = list(_SPLIT_SECTION.finditer(error))
    found = set()
    for head, after in zip(heads, [*heads[1:], None]):
        text = error[head.end():after.start() if after else len(error)]
        names = _METRIC_HEAD.findall(text) if text.startswith("scorer '") else None
        if names is None or metric is None or metric in names:
            found.add(int(head.group(1)))
    return found


def missing_score(error, error_score, not_run=None):
    """The score of a split without one: NaN when the search's ``timeout`` left it unrun
    (its error is ``not_run``: no fit, no score to make up), else ``error_score``."""
    return np.nan if not_run is not None and error == not_run else error_score


def _split_matrix(rows, key, metric, error_score, not_run=None):
    """Scores per (row, split): ``error_score`` for a failed split, NaN for one the
    search's ``timeout`` left unrun (error ``not_run``: no fit, no score to make up)."""
    return np.array(
        [
            [
                missing_score(e, error_score, not_run) if s is None else s[metric]
                for s, e in zip(row[key], row["error"])
            ]
            for row in rows
        ],
        dtype=np.float64,
    )


def _rank(means):
    """sklearn's ranking: 1 is best (ties share the smallest rank), failed (NaN)
    candidates all rank after every scored one, also after a mean of -inf (sklearn fills
    NaN with ``nanmin - 1``, which stays below -inf; filling and ranking here tied a
    failed candidate with a -inf one, and ``best_index_`` could pick the failed one)."""
    nan = np.isnan(means)
    if nan.all():
        return np.ones_like(means, dtype=np.int32)
    ranks = np.full(means.shape, np.count_nonzero(~nan) + 1, dtype=np.int32)
    ranks[~nan] = rankdata(-means[~nan], method="min")
    return ranks


def format_results(
    rows,
    n_splits,
    *,
    error_score=np.nan,
    return_train_score=False,
    more_results=None,
    scorer_names=None,
    warn=True,
    not_run=None,
):
    """Build ``cv_results_`` from the rows of every evaluated candidate.

    Parameters
    ----------
    rows : list of dict
        See the module docstring.
    n_splits : int
    error_score : float
        Score given to failed splits.
    return_train_score : bool
    more_results : dict of str -> list, default=None
        Extra keys given by the strategy (e.g. ``iter``, ``n_resources``), one value per row.
    scorer_names : list of str, default=None
        Metric names to use when no fit succeeded.
    warn : bool, default=True
        Warn about non-finite mean scores (as sklearn does).
    not_run : str or None, default=None
        Error text of a split the search's ``timeout`` left unrun: its score is NaN,
        not ``error_score`` (which would give a row that never ran a made-up mean, and
        with it a rank above rows that ran).

    Returns
    -------
    results : dict of str -> ndarray or list
    """
    results = {key: np.asarray(value) for key, value in (more_results or {}).items()}

    def store(key, array, splits=False, rank=False):
        array = np.asarray(array, dtype=np.float64).reshape(len(rows), n_splits)
        if splits:
            for k in range(n_splits):
                results[f"split{k}_{key}"] = array[:, k]
        means = array.mean(axis=1)
        results[f"mean_{key}"] = means
        if warn and key.startswith(("train_", "test_")) and np.any(~np.isfinite(means)):
            warnings.warn(
                f"One or more of the {key.split('_')[0]} scores are non-finite: {means}",
                category=UserWarning,
            )
        results[f"std_{key}"] = np.sqrt(((array - means[:, np.newaxis]) ** 2).mean(axis=1))
        if rank:
            results[f"rank_{key}"] = _rank(means)

    store("fit_time", [row["fit_time"] for row in rows])
    store("score_time", [row["score_time"] for row in rows])
    candidate_params = [row["params"] for row in rows]
    for name, masked in _yield_masked_array_for_each_param(candidate_params):
        results[name] = masked
    results["params"] = candidate_params
    for metric in metric_names(rows, scorer_names):
        store(
            f"test_{metric}",
            _split_matrix(rows, "test_scores", metric, error_score, not_run),
            splits=True,
            rank=True,
        )
        if return_train_score:
            store(
                f"train_{metric}",
                _split_matrix(rows, "train_scores", metric, error_score, not_run),
                splits=True,
            )
    errors = np.empty(len(rows), dtype=object)
    errors[:] = [row_error(row) for row in rows]
    results["error"] = errors
    if any(row.get("resources") is not None for row in rows):
        resources = np.empty(len(rows), dtype=object)
        resources[:] = [row.get("resources") for row in rows]
        results["resources"] = resources
    return results


#: per-row keys of budgeted searches that ``results_frame`` keeps (halving, Hyperband,
#: ASHA, pruned Optuna): without them two rows of one candidate at two budgets read as
#: the same parameters with two different scores
_BUDGET_KEYS = ("bracket", "iter", "n_resources", "state")


def results_frame(cv_results):
    """A tidy DataFrame: one row per (candidate, split) with its params and scores.

    Columns: ``candidate`` (row of ``cv_results_``), ``split``, one column per parameter
    (``param_`` prefix dropped), ``bracket`` / ``iter`` / ``n_resources`` / ``state`` where
    ``cv_results_`` has them, ``<set>_<metric>`` scores (``test_`` and, when recorded,
    ``train_``), ``rank_test_<metric>``
    of the candidate and ``error`` (the candidate's traceback text or None).
    Per-split fit times are in the trial store (``study_``), not here.

    Parameters
    ----------
    cv_results : dict
        A search's ``cv_results_``.

    Returns
    -------
    frame : pandas.DataFrame
    """
    import pandas as pd

    n_splits = 1 + max(
        int(key[5:].split("_", 1)[0]) for key in cv_results if key.startswith("split")
    )
    params = cv_results["params"]
    score_keys = sorted(
        {key.split("_", 1)[1] for key in cv_results if key.startswith("split0_")}
    )
    records = []
    for i, candidate in enumerate(params):
        for k in range(n_splits):
            record = {"candidate": i, "split": k, **candidate}
            for key in _BUDGET_KEYS:  # the budget of a row of a budgeted search
                if key in cv_results and key not in record:
                    record[key] = cv_results[key][i]
            for key in score_keys:
                record[key] = cv_results[f"split{k}_{key}"][i]
            for key in cv_results:
                if key.startswith("rank_"):
                    record[key] = cv_results[key][i]
            record["error"] = cv_results.get("error", [None] * len(params))[i]
            records.append(record)
    return pd.DataFrame.from_records(records)
