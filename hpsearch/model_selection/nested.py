"""Nested cross-validation: an unbiased estimate of a whole search procedure.

The best mean score of a search is optimistic: it is the *maximum* over candidates of
noisy estimates, and the same splits chose the candidate and scored it. Nested
cross-validation (Varma & Simon 2006; Cawley & Talbot 2010) scores the *procedure*
instead: for each outer split :math:`(T_k, V_k)`, :math:`k = 1..K`,

1. a fresh clone of the search runs on :math:`T_k` only (its own ``cv`` is the inner
   cross-validation) and refits its best candidate on all of :math:`T_k`;
2. that refit model is scored on :math:`V_k`, never seen by the search:
   :math:`s_k = \\text{score}(\\hat f_{T_k}, V_k)`.

The estimate is :math:`\\bar s = \\frac1K \\sum_k s_k` (spread
:math:`\\sqrt{\\frac1K \\sum_k (s_k - \\bar s)^2}`, as sklearn's ``std_test_score``). The
*optimism* of split :math:`k` is :math:`b_k - s_k`, with :math:`b_k` the inner best mean
score (``best_score_``) of the search on :math:`T_k`; its mean shows how much the search's
own best score overstates what the chosen model does on new data. The parameters chosen
per split show how stable the choice is.

The outer splits run one after the other; each inner search uses its own ``n_jobs``
(one pool per outer split, each with its own progress bar and trial store). This is
:func:`sklearn.model_selection.cross_validate` with ``return_estimator=True`` and
``n_jobs=1`` (the tests check it gives the same numbers), plus what it cannot do: give
each inner search a trial store of its own when a ``storage`` is set (the study name is
suffixed ``-outer<k>``, so a resumed run continues each split's search), and collect the
inner best scores and chosen parameters.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils import Bunch, _safe_indexing, indexable

from .split import make_cv

__all__ = ["nested_cross_validate", "outer_study_name"]


def outer_study_name(study_name, k):
    """Study name of the inner search of outer split ``k`` (0-based): ``<name>-outer<k>``."""
    return f"{study_name}-outer{k}"


def _outer_cv(cv, y, classifier, random_state):
    """The outer splitter; an int/None spec is shuffled with ``random_state`` when given."""
    if (cv is None or isinstance(cv, numbers.Integral)) and random_state is not None:
        return make_cv(cv, y=y, classifier=classifier, shuffle=True, random_state=random_state)
    return make_cv(cv, y=y, classifier=classifier)


def _inner_search(search, k, n_jobs):
    inner = clone(search)
    params = {}
    if n_jobs is not None:
        params["n_jobs"] = n_jobs
    store = inner.get_params().get("storage")
    name = inner.get_params().get("study_name")
    if store is not None and name is not None:
        params["study_name"] = outer_study_name(name, k)
    return inner.set_params(**params)


def _inner_best(search):
    """The inner best mean score (``best_score_``; with a callable ``refit``, the mean
    score of the chosen candidate when there is one metric), or nan."""
    if hasattr(search, "best_score_"):
        return float(search.best_score_)
    results = getattr(search, "cv_results_", {})
    if hasattr(search, "best_index_") and "mean_test_score" in results:
        return float(results["mean_test_score"][search.best_index_])
    return float("nan")


def _check_params(cv, n_jobs, return_searches):
    if isinstance(cv, bool):
        raise ValueError(f"The 'cv' parameter of nested_cross_validate must be an int >= 2, "
                         f"a splitter or an iterable of splits. Got {cv!r} instead.")
    if n_jobs is not None and (not isinstance(n_jobs, numbers.Integral) or n_jobs == 0
                               or n_jobs < -1):
        raise ValueError("The 'n_jobs' parameter of nested_cross_validate must be None, -1 or "
                         f"a positive int. Got {n_jobs!r} instead.")
    if not isinstance(return_searches, (bool, np.bool_)):
        raise ValueError("The 'return_searches' parameter of nested_cross_validate must be a "
                         f"bool. Got {return_searches!r} instead.")


def nested_cross_validate(search, X, y=None, *, cv=5, groups=None, scoring=None, n_jobs=None,
                          random_state=None, return_searches=False):
    """Estimate the generalization score of a whole search procedure by nested CV.

    For each outer split, a clone of ``search`` is fitted on the outer-train rows (the
    search's own ``cv`` is the inner cross-validation; it refits its best candidate on
    those rows) and its refit model is scored on the outer-test rows. See the module
    docstring for the formulas.

    The outer splits run sequentially, each inner search in its own pool of
    ``n_jobs`` workers with its own progress bar and trial store (one engine for all
    outer x inner fits is not offered).

    Parameters
    ----------
    search : search estimator
        An unfitted search (``GridSearchCV``, ``OptunaSearchCV``, ... or any sklearn
        ``BaseSearchCV``) with ``refit`` enabled. It is cloned, never fitted itself.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), default=None
    cv : int, str, dict, splitter or iterable, default=5
        The outer splitter, any spec of :func:`hpsearch.model_selection.make_cv`
        (an int: ``StratifiedKFold`` for a classifier, else ``KFold``).
    groups : array-like of shape (n_samples,), default=None
        Group labels for the outer splitter, and (their outer-train part) for the inner
        search's splitter.
    scoring : str, callable, list, dict or None, default=None
        Outer score(s), as ``cross_validate``'s ``scoring``. None: the search's own
        ``score`` (its refit metric), the only setting where ``optimism`` is given.
    n_jobs : int or None, default=None
        Workers of each inner search; None keeps the search's own ``n_jobs``.
    random_state : int or None, default=None
        Shuffles the outer folds when ``cv`` is an int or None (else the splitter's own
        ``random_state`` rules). The inner searches keep the search's ``random_state``:
        the same seed gives the same result.
    return_searches : bool, default=False
        Also return the fitted inner searches (``searches``).

    Returns
    -------
    result : sklearn.utils.Bunch
        ``test_score`` (or ``test_<name>`` per metric), array of shape (n_outer,): outer
        scores; ``mean_test_score`` / ``std_test_score`` (or ``..._<name>``): their mean
        and standard deviation; ``inner_best_score``: the inner best mean score per
        split; ``optimism`` (scoring None only): ``inner_best_score - test_score`` per
        split, and ``mean_optimism``; ``best_params``: list of the parameters chosen per
        split; ``fit_time`` / ``score_time``: seconds per split (search with refit, and
        outer scoring); ``n_train`` / ``n_test``: rows per split; ``searches`` when
        ``return_searches``.

    Raises
    ------
    ValueError
        A bad parameter, a search without ``refit`` (nothing to score on the outer test).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from hpsearch.model_selection import GridSearchCV, nested_cross_validate
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 1.0]}, cv=3)
    >>> result = nested_cross_validate(search, X, y, cv=3)
    >>> result.test_score.shape, len(result.best_params)
    ((3,), 3)
    """
    from sklearn.metrics import check_scoring

    _check_params(cv, n_jobs, return_searches)
    if not search.get_params().get("refit", True):
        raise ValueError("nested_cross_validate needs a search with refit enabled (the "
                         "refit best model is what the outer split scores); got refit=False.")
    X, y, groups = indexable(X, y, groups)
    outer = _outer_cv(cv, y, is_classifier(search), random_state)
    scorer = check_scoring(search, scoring=scoring)
    rows, searches = [], []
    for k, (train, test) in enumerate(outer.split(X, y, groups)):
        inner = _inner_search(search, k, n_jobs)
        fit_kw = {} if groups is None else {"groups": _safe_indexing(groups, train)}
        y_train = None if y is None else _safe_indexing(y, train)
        y_test = None if y is None else _safe_indexing(y, test)
        start = time.perf_counter()
        inner.fit(_safe_indexing(X, train), y_train, **fit_kw)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        scores = scorer(inner, _safe_indexing(X, test), y_test)
        score_time = time.perf_counter() - start
        scores = scores if isinstance(scores, dict) else {"score": scores}
        rows.append(dict(scores=scores, best=_inner_best(inner), params=inner.best_params_,
                         fit_time=fit_time, score_time=score_time, n_train=len(train),
                         n_test=len(test)))
        if return_searches:
            searches.append(inner)
    return _collect(rows, searches if return_searches else None, optimism=scoring is None)


def _collect(rows, searches, optimism):
    result = Bunch()
    for name in rows[0]["scores"]:
        values = np.array([float(r["scores"][name]) for r in rows])
        result[f"test_{name}"] = values
        result[f"mean_test_{name}"] = float(np.mean(values))
        result[f"std_test_{name}"] = float(np.std(values))
    result.inner_best_score = np.array([r["best"] for r in rows])
    if optimism:
        result.optimism = result.inner_best_score - result.test_score
        result.mean_optimism = float(np.mean(result.optimism))
    result.best_params = [r["params"] for r in rows]
    for key in ("fit_time", "score_time", "n_train", "n_test"):
        result[key] = np.array([r[key] for r in rows])
    if searches is not None:
        result.searches = searches
    return result
