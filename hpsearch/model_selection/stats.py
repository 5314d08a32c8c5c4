"""Is the best really better? Calibrated comparisons of cross-validated candidates.

Cross-validation scores of one dataset are not independent: every pair of training sets
shares most of its rows, so the split-to-split differences between two candidates vary
less than independent draws would. A paired t-test on them (the *naive* test) treats the
``k`` differences as independent and is badly over-confident. Nadeau & Bengio
("Inference for the Generalization Error", Machine Learning 52, 2003) correct the
variance of the mean difference for that overlap:

.. math::

    \\hat\\sigma^2_{\\text{corr}} = \\Big(\\frac{1}{k} + \\frac{n_\\text{test}}{n_\\text{train}}\\Big)
        \\hat\\sigma^2, \\qquad
    t = \\frac{\\bar d}{\\sqrt{\\hat\\sigma^2_{\\text{corr}}}}, \\qquad \\nu = k - 1,

where :math:`d_j` is the score difference on split :math:`j`, :math:`\\bar d` their mean and
:math:`\\hat\\sigma^2` their sample variance (``ddof=1``). The naive test uses
:math:`\\hat\\sigma^2 / k` instead, so the corrected p-value is never smaller than the
naive one. Bouckaert & Frank (2004) show the corrected test keeps its nominal size for
repeated random subsampling (Monte Carlo CV) and repeated K-fold, where the naive test's
false-positive rate grows with the number of splits.

The Bayesian counterpart (Benavoli, Corani, Demšar & Zaffalon, "Time for a change", JMLR
18, 2017; Corani & Benavoli 2015) is the Student posterior of the mean difference with the
same corrected scale,

.. math::

    \\mu \\mid d \\sim t_{k-1}\\big(\\bar d,\\ \\hat\\sigma_{\\text{corr}}\\big),

from which :math:`P(\\mu > r)` ("better"), :math:`P(|\\mu| \\le r)` ("practically
equivalent", inside the region of practical equivalence ``rope`` = :math:`r`) and
:math:`P(\\mu < -r)` ("worse") are read off.

:func:`compare` applies both to a finished search's ``cv_results_`` (any search, any
splitter) and returns a DataFrame; :func:`one_standard_error` and
:func:`not_significantly_worse` build ``refit=`` callables that pick the *simplest*
candidate within the noise.
"""

import math
import numbers
import re
import warnings

import numpy as np
import pandas as pd
from scipy import stats as _stats

__all__ = [
    "compare",
    "corrected_ttest",
    "naive_ttest",
    "posterior_probabilities",
    "one_standard_error",
    "not_significantly_worse",
    "split_size_ratio",
    "SplitterUnknownWarning",
]

_SPLIT_KEY = re.compile(r"^split(\d+)_test_(.+)$")
_ALTERNATIVES = ("two-sided", "greater", "less")


# ----------------------------------------------------------------------------- tests
def _differences(differences):
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(
            f"differences must be a 1-D array of per-split score differences. "
            f"Got an array of shape {d.shape} instead."
        )
    d = d[~np.isnan(d)]
    if np.isinf(d).any():
        raise ValueError(
            f"differences must be finite (NaN splits are dropped); an infinite score "
            f"difference has no variance to test. Got {d[np.isinf(d)][0]!r} on split "
            f"{int(np.flatnonzero(np.isinf(d))[0])} of the non-NaN ones instead."
        )
    if d.size < 2:
        raise ValueError(
            f"A paired comparison needs at least 2 splits scored by both candidates. "
            f"Got {d.size} instead."
        )
    return d


def _corrected_scale(d, ratio):
    """:math:`\\sqrt{(1/k + r)\\,\\hat\\sigma^2}`; exactly 0 when every difference is equal."""
    if np.all(d == d[0]):
        return 0.0
    return float(np.sqrt((1.0 / d.size + ratio) * d.var(ddof=1)))


def _check_ratio(ratio, owner=""):
    if (
        not isinstance(ratio, numbers.Real)
        or isinstance(ratio, bool)
        or not np.isfinite(ratio)
        or ratio < 0
    ):
        of = f" of {owner}" if owner else ""
        raise ValueError(
            f"The 'test_train_ratio' parameter{of} must be a float in the range [0, inf) "
            f"(n_test / n_train of one split). Got {ratio!r} instead."
        )
    return float(ratio)


def _check_alternative(alternative):
    if not isinstance(alternative, str) or alternative not in _ALTERNATIVES:
        raise ValueError(
            f"The 'alternative' parameter must be a str among {set(_ALTERNATIVES)}. "
            f"Got {alternative!r} instead."
        )
    return alternative


def _check_rope(rope):
    if not isinstance(rope, numbers.Real) or isinstance(rope, bool) or not rope >= 0:
        raise ValueError(
            f"The 'rope' parameter must be a float in the range [0, inf). "
            f"Got {rope!r} instead."
        )
    return rope


def _p_value(t, df, alternative):
    _check_alternative(alternative)
    if alternative == "greater":
        return float(_stats.t.sf(t, df))
    if alternative == "less":
        return float(_stats.t.cdf(t, df))
    return float(2 * _stats.t.sf(abs(t), df))


def _t_statistic(mean, scale):
    """``mean / scale`` with the limits of a zero scale made explicit."""
    if scale > 0:
        return mean / scale
    if mean == 0:
        return 0.0
    return float(np.copysign(np.inf, mean))


def corrected_ttest(differences, test_train_ratio, alternative="two-sided"):
    """Nadeau–Bengio corrected resampled t-test on per-split score differences.

    Parameters
    ----------
    differences : array-like of shape (k,)
        Score of candidate A minus score of candidate B on each split (NaN splits are
        dropped: only splits both candidates finished are compared; an infinite
        difference raises ``ValueError``).
    test_train_ratio : float
        :math:`n_\\text{test} / n_\\text{train}` of one split (``1 / (K - 1)`` for K-fold).
        ``0`` gives the naive test.
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"greater"`` tests whether A is better than B.

    Returns
    -------
    t : float
        :math:`\\bar d / \\sqrt{(1/k + n_\\text{test}/n_\\text{train})\\, \\hat\\sigma^2}`.
    p_value : float
        From Student's t with ``k - 1`` degrees of freedom.
    """
    d = _differences(differences)
    ratio = _check_ratio(test_train_ratio)
    t = _t_statistic(d.mean(), _corrected_scale(d, ratio))
    return float(t), _p_value(t, d.size - 1, alternative)


def naive_ttest(differences, alternative="two-sided"):
    """The paired t-test that treats splits as independent (shown for contrast only).

    Equal to :func:`corrected_ttest` with ``test_train_ratio=0``:
    :math:`t = \\bar d / \\sqrt{\\hat\\sigma^2 / k}`. Over-confident on cross-validation
    scores; do not use it to choose models.
    """
    return corrected_ttest(differences, 0.0, alternative)


def posterior_probabilities(differences, test_train_ratio, rope=0.0):
    """Bayesian correlated t-test: P(A better), P(practically equivalent), P(A worse).

    The posterior of the mean difference is Student's t with ``k - 1`` degrees of
    freedom, location :math:`\\bar d` and the Nadeau–Bengio corrected scale (Benavoli et
    al. 2017). ``rope`` is the half-width of the region of practical equivalence, in
    score units (``0.01`` = one accuracy point).

    Returns
    -------
    (p_better, p_equivalent, p_worse) : tuple of float, summing to 1.
    """
    d = _differences(differences)
    ratio = _check_ratio(test_train_ratio)
    _check_rope(rope)
    k = d.size
    scale = _corrected_scale(d, ratio)
    mean = float(d.mean())
    if scale == 0:  # a point mass at the mean
        if mean > rope:
            return 1.0, 0.0, 0.0
        if mean < -rope:
            return 0.0, 0.0, 1.0
        return 0.0, 1.0, 0.0
    post = _stats.t(k - 1, loc=mean, scale=scale)
    p_worse = float(post.cdf(-rope))
    p_better = float(post.sf(rope))
    return p_better, max(0.0, 1.0 - p_better - p_worse), p_worse


# ----------------------------------------------------------------------- split sizes
def _fraction_ratio(size):
    """``test/train`` for a float ``test_size`` (train = the rest)."""
    if isinstance(size, numbers.Real) and not isinstance(size, numbers.Integral):
        if 0 < size < 1:
            return size / (1.0 - size)
    return None


def _ratio_from_string(size):
    # the lecture's "validation:training" ratio, e.g. "1:4"
    if isinstance(size, str) and ":" in size:
        a, b = size.split(":", 1)
        try:
            return float(a) / float(b)
        except (ValueError, ZeroDivisionError):
            return None
    return None


def _exact_ratio(cv, size, n_samples):
    """``n_test / n_train`` of a random two-way split of ``n_samples`` rows, or None.

    sklearn's ``ShuffleSplit`` (and hpsearch's ``Holdout``/``MonteCarloCV``, which draw
    through it) round the sizes as :math:`n_\\text{test} = \\lceil \\text{test\\_size}
    \\cdot n \\rceil`, :math:`n_\\text{train} = n - n_\\text{test}` (or
    :math:`\\lfloor \\text{train\\_size} \\cdot n \\rfloor`): with ``n = 23`` and
    ``test_size=0.1`` a split is 3 against 20, ratio 0.15, not 0.1 / 0.9. None for
    ``GroupShuffleSplit``, whose sizes count groups, not rows (the fraction of groups is
    then the expected fraction of rows)."""
    from sklearn.model_selection import GroupShuffleSplit

    from .split import _resolve_sizes

    if not n_samples or isinstance(cv, GroupShuffleSplit):
        return None
    try:
        n_train, n_test = _resolve_sizes(
            type(cv).__name__, int(n_samples), size, getattr(cv, "train_size", None))
    except ValueError:
        return None
    return n_test / n_train


def _train_only_ratio(cv, train_size, n_samples):
    """``test/train`` of a scikit-learn random splitter given ``train_size`` and
    ``test_size=None``: its test part is every row not trained on, as sklearn's
    ``_validate_shuffle_split`` resolves it (:math:`n_\\text{train} = \\lfloor
    \\text{train\\_size} \\cdot n \\rfloor` for a fraction,
    :math:`n_\\text{test} = n - n_\\text{train}`), not the default ``test_size``:
    ``ShuffleSplit(train_size=0.5)`` tests on the other half, ratio 1. Without
    ``n_samples`` (or for ``GroupShuffleSplit``, whose sizes count groups), from a
    fractional ``train_size`` :math:`f` as :math:`(1 - f) / f`; else None."""
    from sklearn.model_selection import GroupShuffleSplit

    from .split import _n_from_size

    if isinstance(train_size, bool) or not isinstance(train_size, numbers.Real):
        return None  # (sklearn refuses it when it splits)
    fraction = isinstance(train_size, numbers.Real) and not isinstance(
        train_size, numbers.Integral)
    if n_samples and not isinstance(cv, GroupShuffleSplit):
        n_train = _n_from_size(train_size, int(n_samples), math.floor)
        return (n_samples - n_train) / n_train if 0 < n_train < n_samples else None
    if fraction and 0 < train_size < 1:
        return (1.0 - train_size) / train_size
    return None


def _two_way_ratio(cv, n_samples):
    """``test/train`` of a random two-way splitter, or None: exact for ``n_samples``
    rows (:func:`_exact_ratio`), else from a fractional ``test_size`` and no
    ``train_size`` (a ``train_size`` alone: :func:`_train_only_ratio`)."""
    size = cv.test_size
    train_size = getattr(cv, "train_size", None)
    if size is None and train_size is not None:  # sklearn: the test part is the rest
        ratio = _train_only_ratio(cv, train_size, n_samples)
    else:
        if size is None:  # sklearn's default: 0.1 (ShuffleSplit), 0.2 (GroupShuffleSplit)
            size = getattr(cv, "_default_test_size", 0.1)
        ratio = _exact_ratio(cv, size, n_samples)
        if ratio is None and getattr(cv, "train_size", None) is not None:
            return None
        if ratio is None:
            ratio = _fraction_ratio(size) or _ratio_from_string(size)
    if ratio is not None and getattr(cv, "swap", False):
        # a split and its mirror partition the data in two: repeated 2-fold, 1 / (2 - 1)
        ratio = _mean_fraction_ratio([ratio / (1.0 + ratio), 1.0 / (1.0 + ratio)])
    return ratio


def _mean_fraction_ratio(fractions):
    """:math:`\\bar\\rho / (1 - \\bar\\rho)` for validation fractions
    :math:`\\rho_j = n_\\text{test} / (n_\\text{test} + n_\\text{train})` of unequal splits.

    Nadeau & Bengio's term :math:`n_\\text{test}/n_\\text{train}` is
    :math:`\\rho/(1-\\rho)` for the correlation :math:`\\rho \\approx n_\\text{test}/n`
    of two splits' differences; with unequal splits the variance of the mean
    difference depends on the mean pairwise correlation, so the fractions are averaged,
    then transformed (equal splits: exactly :math:`n_\\text{test}/n_\\text{train}`).
    """
    rho = float(np.mean(fractions))
    return rho / (1.0 - rho) if rho < 1 else None


def _k_fold_splitters():
    """scikit-learn's K-fold partitions, by exact type: a subclass or another class named
    ``...KFold`` may train on fewer rows (purged or embargoed K-fold drops rows next to
    the test fold), so its ratio is not taken to be ``1 / (K - 1)`` unasked."""
    from sklearn import model_selection as ms

    return (ms.KFold, ms.StratifiedKFold, ms.GroupKFold, ms.StratifiedGroupKFold,
            ms.RepeatedKFold, ms.RepeatedStratifiedKFold)


def _random_two_way_splitters():
    from sklearn.model_selection import (
        GroupShuffleSplit,
        ShuffleSplit,
        StratifiedShuffleSplit,
    )

    from .split import _RandomTwoWaySplit

    return (ShuffleSplit, StratifiedShuffleSplit, GroupShuffleSplit, _RandomTwoWaySplit)


def split_size_ratio(cv, n_samples=None):
    """:math:`n_\\text{test} / n_\\text{train}` of one split of ``cv``, where it is known.

    K-fold family (scikit-learn's ``KFold``, ``StratifiedKFold``, ``GroupKFold``,
    ``StratifiedGroupKFold``, repeated variants; not their subclasses, see
    :func:`_k_fold_splitters`) and an int ``cv``: ``1 / (K - 1)``, exactly
    :math:`\\bar\\rho / (1 - \\bar\\rho)` for any partition into ``K`` test folds,
    equal or not (:math:`\\bar\\rho = 1/K`). Random two-way splits (``MonteCarloCV``, ``Holdout``,
    ``ShuffleSplit``, ``StratifiedShuffleSplit``, ``GroupShuffleSplit``) with a float,
    ratio-string or (given ``n_samples``) int ``test_size`` and no ``train_size``:
    ``test / (1 - test)`` (``test_size=None``: sklearn's default, 0.1, or 0.2 for
    ``GroupShuffleSplit``); given ``n_samples``, exactly ``n_test / n_train`` as the
    splitter rounds them (:func:`_exact_ratio`; ``train_size`` then allowed), except for
    ``GroupShuffleSplit``, whose sizes count groups; a scikit-learn splitter given
    ``train_size`` and ``test_size=None`` tests on the rest, as it splits
    (:func:`_train_only_ratio`). Splits of unequal sizes count by their mean validation
    fraction :math:`\\bar\\rho` as :math:`\\bar\\rho / (1 - \\bar\\rho)`
    (:func:`_mean_fraction_ratio`): ``MonteCarloCV(swap=True)`` follows each split by its
    mirror, the two a 2-fold partition of the data (:math:`\\bar\\rho = 1/2`), so ``1``,
    as repeated 2-fold. ``LeaveOneOut``/``LeavePOut`` with ``n_samples``:
    ``p / (n - p)``. Anything else (``TimeSeriesSplit``, whose training part grows from
    split to split, a custom splitter, a list of splits) returns None: pass
    ``test_train_ratio=`` to :func:`compare` yourself (a fitted hpsearch search needs
    none: it keeps the ratio of the splits it drew, see :func:`_fitted_ratio`).
    """
    if cv is None:
        return 1.0 / 4.0  # sklearn's default, 5-fold
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        return 1.0 / (cv - 1) if cv > 1 else None
    name = type(cv).__name__
    if type(cv) in _k_fold_splitters():
        k = getattr(cv, "n_splits", None)
        if k is None and hasattr(cv, "cvargs"):  # Repeated(Stratified)KFold
            k = cv.cvargs.get("n_splits")
        return 1.0 / (k - 1) if isinstance(k, numbers.Integral) and k > 1 else None
    if name in ("LeaveOneOut", "LeavePOut"):
        p = getattr(cv, "p", 1)
        return p / (n_samples - p) if n_samples and n_samples > p else None
    if isinstance(cv, _random_two_way_splitters()):
        return _two_way_ratio(cv, n_samples)
    return None


def _search_ratio(search):
    cv = getattr(search, "cv", None)
    if isinstance(cv, (str, dict)):  # a study-file spec
        from .split import make_cv

        cv = make_cv(cv)
    n = getattr(search, "n_samples_", None)
    if n is None:  # the rows a fitted hpsearch halving search was given
        n = getattr(search, "_n_samples_orig", None)
    if n is None and type(cv).__name__ in ("LeaveOneOut", "LeavePOut"):
        n = _n_from_exhaustive_splits(getattr(cv, "p", 1), getattr(search, "n_splits_", None))
    return split_size_ratio(cv, n)


def _n_from_exhaustive_splits(p, n_splits):
    """The ``n`` with :math:`\\binom{n}{p}` = ``n_splits`` (a fitted search's
    ``n_splits_`` under leave-p-out), or None."""
    if not isinstance(n_splits, numbers.Integral) or n_splits < 1:
        return None
    if p == 1:
        return int(n_splits)
    n = p + 1
    while math.comb(n, p) < n_splits:
        n += 1
    return n if math.comb(n, p) == n_splits else None


# --------------------------------------------------------------------- cv_results_
def _results(search_or_results):
    if isinstance(search_or_results, dict):
        return search_or_results, None
    results = getattr(search_or_results, "cv_results_", None)
    if results is None:
        raise ValueError(
            "compare() needs a fitted search (with cv_results_) or a cv_results_ dict. "
            f"Got {type(search_or_results).__name__} instead."
        )
    return results, search_or_results


def _split_columns(results, metric):
    """Column names ``split<k>_test_<metric>`` in split order."""
    found = {}
    for key in results:
        m = _SPLIT_KEY.match(key)
        if m and m.group(2) == metric:
            found[int(m.group(1))] = key
    return [found[k] for k in sorted(found)]


def _score_matrix(results, columns):
    """The ``(n_candidates, n_splits)`` scores of the split ``columns``; every column must
    hold one score per candidate (one per entry of ``params``). Ragged columns gave
    numpy's "inhomogeneous shape" error, columns longer than ``params`` were silently
    cut and shorter ones an IndexError."""
    n = len(results["params"]) if "params" in results else None
    for column in columns:
        size = np.shape(results[column])
        if len(size) != 1 or (n is not None and size[0] != n):
            raise ValueError(
                f"cv_results_ must hold one score per candidate in every split column: "
                f"'params' has {n} entries but {column!r} has shape {size}."
            )
    return np.array([np.asarray(results[c], dtype=np.float64) for c in columns]).reshape(
        len(columns), -1).T


def _metric(results, metric):
    metrics = sorted(
        {m.group(2) for k in results if (m := _SPLIT_KEY.match(k))}
    )
    if not metrics:
        raise ValueError(
            "cv_results_ has no per-split test scores (split<k>_test_<metric> keys)."
        )
    if metric is None:
        if "score" in metrics:
            return "score"
        if len(metrics) == 1:
            return metrics[0]
        raise ValueError(
            f"cv_results_ holds several metrics {metrics}: pass metric= to choose one."
        )
    if metric not in metrics:
        raise ValueError(
            f"The 'metric' parameter must be one of {metrics}. Got {metric!r} instead."
        )
    return metric


def _param_keys(results):
    """A candidate's identity per row: its Optuna ``trial`` or ASHA ``candidate`` number
    where the results have one (two trials may sample the same parameters), else its
    Hyperband ``bracket`` (where there is one) and parameters: the same parameters drawn
    in two brackets are two candidates the search ran, each with its own rounds (the
    study's summary and diagnosis count them so)."""
    for key in ("trial", "candidate"):
        if key in results:
            return [repr(v) for v in results[key]]
    brackets = results["bracket"] if "bracket" in results else [None] * len(results["params"])
    return [repr((b, sorted(p.items(), key=lambda kv: kv[0])))
            for b, p in zip(brackets, results["params"])]


def _final_rows(results, scores):
    """Row indices that stand for a candidate's final evaluation.

    Budgeted searches (halving, Hyperband, ASHA) have one row per candidate and budget;
    only a candidate's last (largest-budget) *complete* row (every split finite) is
    listed, or its last row when none is complete: a job whose fit failed on a split at
    a larger budget (``error_score=np.nan``) has no score there, so the search ranks the
    candidate by its last complete budget (ASHA's ``best_index_`` is of the highest rung
    with a score).
    """
    level = _levels(results)
    if level is None:
        return np.arange(len(results["params"]))
    complete = np.isfinite(scores).all(axis=1)
    last = {}
    for i, key in enumerate(_param_keys(results)):
        j = last.get(key)
        if j is None or (complete[i], level[i]) >= (complete[j], level[j]):
            last[key] = i
    return np.array(sorted(last.values()))


def _budgets(results):
    """The budget of every row as a number (``n_resources``, or ``resources`` when it
    holds numbers), or None (``resources`` dicts have no order)."""
    for key in ("n_resources", "resources"):
        if key in results:
            try:
                return np.asarray(results[key], dtype=np.float64)
            except (TypeError, ValueError):
                continue
    return None


def _levels(results):
    """Every row's budget (:func:`_budgets`), else its round (``iter``), else None."""
    budgets = _budgets(results)
    if budgets is None and "iter" in results:
        budgets = np.asarray(results["iter"], dtype=np.float64)
    return budgets


def _budget(results, i):
    for key in ("n_resources", "resources"):
        if key in results:
            return results[key][i]
    return None


def _tiers(results, scores, rows):
    """Sort key parts of ``rows``: (below the top budget, tier, -mean).

    A candidate is *complete* (tier 0) when every split has a finite score; a failed
    split (``error_score=np.nan``) or a raced one is not, and ranks after every complete
    candidate, as scikit-learn ranks a NaN ``mean_test_score`` last and racing ranks a
    raced candidate after the complete ones. In a racing search's results (a ``raced``
    column) a raced candidate (tier 1) ranks before an incomplete one that was not raced
    (tier 2: a failed or unrun split, a NaN mean), as its ``rank_test_*`` do; elsewhere
    every incomplete candidate is tier 1. In a budgeted search a candidate that
    stopped below the top budget reached ranks after every one that reached it (the best
    of a halving search is chosen in its last round); the top budget is the largest of a
    complete row (when there is one: a row with a failed split at a larger budget has no
    score there, and ASHA's ``best_index_`` is of the highest rung with a score). The
    mean is over finite splits. A recipe search's candidate that is not ``accepted`` (its
    training score below the search's floor) ranks after every accepted one, as its
    ``rank_test_*`` and ``best_index_`` do (it counts as below the top budget), unless
    no accepted one has a score on every split (the recipe then chooses among all).
    """
    finite = np.isfinite(scores[rows])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a candidate with no finite split
        means = np.nanmean(np.where(finite, scores[rows], np.nan), axis=1)
    budgets = _levels(results)
    below = np.zeros(len(rows), dtype=bool)
    incomplete = ~finite.all(axis=1)
    if budgets is not None:
        ran = ~incomplete if (~incomplete).any() else finite.any(axis=1)
        if ran.any():
            below = budgets[rows] < budgets[rows][ran].max()
    if "accepted" in results:
        accepted = np.asarray(results["accepted"], dtype=bool)[rows]
        if (accepted & ~incomplete).any():  # (every accepted one NaN: the recipe's
            below = below | ~accepted  # best_index_ is then chosen among all, too)
    tier = incomplete.astype(np.int64)
    if "raced" in results:
        tier[incomplete & ~np.asarray(results["raced"], dtype=bool)[rows]] = 2
    return below, tier, np.where(np.isnan(means), np.inf, -means)


def _ordered(results, scores, rows):
    """``rows`` best first (:func:`_tiers`), stable."""
    below, tier, neg_mean = _tiers(results, scores, rows)
    return rows[np.lexsort((neg_mean, tier, below))]


def _tie_ranks(results, scores, order):
    """Ranks of the ``order``ed rows, ties sharing the smallest (scikit-learn's
    ``rankdata(method="min")``): equal sort keys (:func:`_tiers`) share a rank."""
    keys = list(zip(*(part.tolist() for part in _tiers(results, scores, order))))
    ranks = []
    for k, key in enumerate(keys):
        ranks.append(ranks[-1] if k and key == keys[k - 1] else k + 1)
    return ranks


def _without_failed_splits(results, scores, metric=None):
    """``scores`` with NaN where a split's ``metric`` score failed (hpsearch's ``error``
    column, :func:`~hpsearch.model_selection._results.failed_splits`): with a numeric
    ``error_score`` that score is made up, no measurement to compare."""
    from ._results import failed_splits

    if "error" not in results:
        return scores
    scores = scores.copy()
    for i, text in enumerate(results["error"]):
        for k in failed_splits(text, metric):
            if k < scores.shape[1]:
                scores[i, k] = np.nan
    return scores


def _reference_row(results, best, i):
    """The row of the best candidate at candidate ``i``'s budget (the best's own row
    without budgets), else (Hyperband) the row of the best's parameters at that budget in
    another bracket (the same configuration, splits and resources; not ``i``'s own), or
    None."""
    budgets = _levels(results)
    if budgets is None:
        return best
    keys = _param_keys(results)
    at_budget = [j for j in range(len(keys)) if budgets[j] == budgets[i]]
    for j in at_budget:
        if keys[j] == keys[best]:
            return j
    if "bracket" in results:
        params = results["params"]
        return next((j for j in at_budget if params[j] == params[best] and j != i), None)
    return None


class _RowRatios:
    """:math:`n_\\text{test}/n_\\text{train}` of each row's splits (a callable on the row).

    ``ratio`` is that of one full split. A search with ``resource="n_samples"`` trains a
    row of budget :math:`b` on :math:`\\min(b, n_{\\text{train},j})` rows of train part
    :math:`j` (the validation part whole), so below the largest train part its ratio is
    the mean validation fraction (:func:`_mean_fraction_ratio`) of
    :math:`\\bar n_\\text{test} / (\\bar n_\\text{test} + \\min(b, n_{\\text{train},j}))`
    over the ``sizes`` :math:`(n_{\\text{train},j}, n_{\\text{test},j})` of the splits the
    search drew, :math:`\\bar n_\\text{test}` their mean validation size (exactly
    :math:`n_\\text{test}/b` when every train part has more than :math:`b` rows), times
    ``ratio / full`` (``full``: the search's own ratio of a full split, so that a ratio
    given is that of a full split). Without ``sizes`` (a search fitted before they were
    kept), one split of :math:`n_\\text{train} = n / (1 + \\text{ratio})` and
    :math:`n_\\text{test} = n - n_\\text{train}` of the :math:`n` rows it was fitted on:
    true of a partition only (``ShuffleSplit(test_size=0.2, train_size=0.5)`` leaves 30 %
    of the rows out of both parts; ``TimeSeriesSplit``'s train parts grow). ``varies``
    says whether any row differs from ``ratio``."""

    def __init__(self, ratio, budgets=None, n_samples=None, sizes=None, full=None):
        self.ratio = ratio
        self.budgets = budgets
        if budgets is not None and not sizes:
            n_train = n_samples / (1.0 + ratio)
            sizes, full = [(n_train, n_samples - n_train)], ratio
        self.sizes = sizes
        self.full = ratio if full is None else full
        self.varies = budgets is not None and any(
            self(i) != ratio for i in range(len(budgets)))

    def __call__(self, i):
        if self.budgets is None or not np.isfinite(self.budgets[i]):
            return self.ratio
        budget = self.budgets[i]
        trains = [train for train, _ in self.sizes]
        if budget >= max(trains) or budget <= 0:
            return self.ratio
        n_test = float(np.mean([test for _, test in self.sizes]))
        ratio = _mean_fraction_ratio([n_test / (n_test + min(budget, train))
                                      for train in trains])
        return float(ratio * (self.ratio / self.full))


def _split_sizes(splits):
    """``(n_train, n_test)`` of every split drawn (kept by a fitted search as
    ``_split_sizes_``, for :class:`_RowRatios`), or None."""
    if not splits:
        return None
    return [(len(train), len(test)) for train, test in splits]


def _subsample_ratios(owner, results, ratio):
    """:class:`_RowRatios` of a fitted hpsearch search whose budget is ``n_samples``
    (train folds subsampled, validation folds whole), else every row at ``ratio``."""
    plan = getattr(owner, "_plan", None)
    n = getattr(owner, "_n_samples_orig", None)
    budgets = _budgets(results)
    if getattr(plan, "resource", None) != "n_samples" or not n or budgets is None:
        return _RowRatios(ratio)
    sizes = getattr(owner, "_split_sizes_", None)
    full = getattr(owner, "_test_train_ratio_", None)
    if not sizes or full is None or not np.isfinite(full) or full <= 0:
        sizes = full = None
    return _RowRatios(ratio, budgets, n, sizes, full)


def compare(
    search,
    metric=None,
    *,
    top=10,
    rope=0.01,
    test_train_ratio=None,
    alternative="greater",
):
    """Compare the top candidates of a search with the best one, honestly.

    Parameters
    ----------
    search : fitted search or dict
        Any hpsearch (or scikit-learn) search with ``cv_results_``, or the dict itself.
    metric : str, optional
        Which ``split<k>_test_<metric>`` scores to use; default the single metric (or
        ``"score"``), or the ``refit`` metric of a fitted multi-metric search (a refit
        rule's ``metric``).
    top : int, default=10
        How many candidates to list (the best included), by mean test score.
    rope : float, default=0.01
        Half-width of the region of practical equivalence in score units: differences
        smaller than this are "practically equivalent". ``0.01`` is one point of a
        score in [0, 1] (accuracy, F1, r2); a loss in the data's units
        (``neg_mean_squared_error`` in the thousands) needs its own: a study report
        uses 1 % of the best's mean there
        (:func:`hpsearch.study.report.practical_rope`).
    test_train_ratio : float, optional
        :math:`n_\\text{test}/n_\\text{train}` of one split. Default: read off the search's
        splitter (:func:`split_size_ratio`); a fitted hpsearch search gives the ratio
        its racing and refit rule tested with, of the splits it drew (a random
        two-way splitter's drawn sizes, ``GroupShuffleSplit``'s rows rather than its
        nominal group fraction; a custom splitter's or list of splits' mean validation
        fraction: see :func:`_fitted_ratio`). Required when it cannot be (a custom
        splitter or a list of splits of a scikit-learn search, a bare cv_results_
        dict).
        In a fitted hpsearch search with ``resource="n_samples"``, a row trained on
        :math:`b` rows fewer than a train fold's is tested with
        :math:`n_\\text{test}/b` (its train folds were subsampled, its validation folds
        not; of the sizes of the splits it drew, :class:`_RowRatios`); the frame then
        has a ``test_train_ratio`` column.
    alternative : {"greater", "two-sided", "less"}, default="greater"
        The tests' alternative for "the best is better than this candidate".

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first, indexed by its row in ``cv_results_``:
        ``rank`` (equal means share the smallest, as ``rank_test_*``), ``params``,
        ``mean_test`` (over shared splits), ``n_splits`` (shared
        with the best), ``difference`` (best minus candidate, mean over shared splits),
        ``t``, ``p_value`` (Nadeau–Bengio corrected), ``p_value_naive`` (the
        uncorrected paired t-test, for contrast only), ``p_best_better``,
        ``p_equivalent``, ``p_candidate_better`` (Bayesian correlated t-test with
        ``rope``). The best's own row has NaN in the test columns.

    Notes
    -----
    Only splits both candidates finished are compared (failed, pruned or raced splits are
    NaN). With fewer than 2 shared splits the test columns are NaN.

    The best is the candidate with the highest mean test score among those with a
    finite score on every split (a candidate with a failed or raced split ranks after
    every complete one, as in the search's ``rank_test_*``), and, in a budgeted search
    (halving, Hyperband, ASHA), among those that reached the largest budget of a
    complete row. A budgeted candidate is listed by its last (largest-budget) complete
    row (its last row when none is complete: a fit that failed on a split at a larger
    budget gave no score there) and compared with the best
    candidate's row **at that same budget** (same splits, same resources):
    ``difference`` is then the best minus the candidate at the candidate's budget (in
    Hyperband, where the best has no row there, the best's parameters' row of another
    bracket at that budget); NaN test columns when there is none. A candidate is a trial
    (Optuna), an ASHA ``candidate`` number or, in Hyperband, a parameter set within its
    bracket: the same parameters drawn in two brackets are listed twice, as the search ran
    them.
    """
    results, owner = _results(search)
    refit = _refit_metric(getattr(owner, "refit", None))
    if metric is None and isinstance(refit, str) and f"mean_test_{refit}" in results:
        metric = refit  # a multi-metric search: the metric it chose its best by
    metric = _metric(results, metric)
    if not isinstance(top, numbers.Integral) or isinstance(top, bool) or top < 1:
        raise ValueError(
            f"The 'top' parameter must be an int in the range [1, inf). Got {top!r} instead."
        )
    # (checked here: inside the tests only, a search with one candidate or one split
    # returned a frame with rope=nan in its attrs and no error)
    _check_rope(rope)
    _check_alternative(alternative)
    if test_train_ratio is None and owner is not None:
        test_train_ratio = _owner_ratio(owner)
    if test_train_ratio is None:
        raise ValueError(
            "The split sizes of this search's splitter are unknown: pass "
            "test_train_ratio= (n_test / n_train of one split, e.g. 0.25 for 5-fold)."
        )
    ratio = _check_ratio(test_train_ratio)

    columns = _split_columns(results, metric)
    scores = _without_failed_splits(
        results, _score_matrix(results, columns),
        metric)
    if not np.isfinite(scores).any():  # (a frame of NaN, every candidate "rank 1")
        raise ValueError(
            f"compare() needs a candidate with a finite test score: every split score of "
            f"the metric {metric!r} is NaN or infinite (every fit failed, or its scorer "
            "did), so there is no best to compare with."
        )
    order = _ordered(results, scores, _final_rows(results, scores))
    best = order[0]

    row_ratio = _subsample_ratios(owner, results, ratio)
    records = []
    for rank, i in zip(_tie_ranks(results, scores, order)[:top], order[:top]):
        ref = _reference_row(results, best, i)
        shared = np.isfinite(scores[i]) & (
            np.isfinite(scores[ref]) if ref is not None else False)
        diff = scores[ref][shared] - scores[i][shared] if ref is not None else np.empty(0)
        record = {
            "rank": rank,
            "params": results["params"][i],
            "mean_test": float(np.mean(scores[i][shared])) if shared.any() else np.nan,
            "n_splits": int(shared.sum()),
            "difference": float(diff.mean()) if diff.size else np.nan,
        }
        if i != best and diff.size >= 2:
            record["t"], record["p_value"] = corrected_ttest(diff, row_ratio(i), alternative)
            record["p_value_naive"] = naive_ttest(diff, alternative)[1]
            (
                record["p_best_better"],
                record["p_equivalent"],
                record["p_candidate_better"],
            ) = posterior_probabilities(diff, row_ratio(i), rope)
        budget = _budget(results, i)
        if budget is not None:
            record["budget"] = budget
        if row_ratio.varies:
            record["test_train_ratio"] = row_ratio(i)
        records.append(record)
    columns_out = [
        "rank", "params", "mean_test", "n_splits", "difference", "t", "p_value",
        "p_value_naive", "p_best_better", "p_equivalent", "p_candidate_better",
    ]
    frame = pd.DataFrame.from_records(records, index=order[:top])
    frame = frame.reindex(columns=columns_out + [c for c in frame if c not in columns_out])
    frame.index.name = "candidate"
    frame.attrs.update(metric=metric, test_train_ratio=ratio, rope=rope)
    return frame


# ----------------------------------------------------------------------- refit rules
class SplitterUnknownWarning(UserWarning):
    """A refit rule assumed plain K-fold's split sizes: it could not see the splitter.

    Raised by :class:`not_significantly_worse` with no ``test_train_ratio`` when it is
    not applied by an hpsearch search (that passes its own): ``refit=`` of
    scikit-learn's ``GridSearchCV`` gives a refit callable ``cv_results_`` only.
    """


def _assumed_k_fold_ratio(k):
    """``1 / (k - 1)`` for ``k`` split columns, with a :class:`SplitterUnknownWarning`
    saying so and how to pass the real ratio."""
    warnings.warn(
        f"not_significantly_worse got no test_train_ratio and cannot see the splitter "
        f"(a refit callable of a scikit-learn search is given cv_results_ only): it "
        f"assumes plain K-fold with K = {k} split columns, test_train_ratio = 1/{k - 1}. "
        "That is wrong for any other splitter (RepeatedKFold, ShuffleSplit, "
        "LeaveOneOut, GroupShuffleSplit...), whose test it makes over- or "
        "under-confident. Pass not_significantly_worse(..., test_train_ratio="
        "split_size_ratio(cv, n_samples=len(X))) (hpsearch.model_selection.stats), or "
        "use an hpsearch search, which reads it off its cv.",
        SplitterUnknownWarning, stacklevel=3)
    return 1.0 / (k - 1)


#: refit rule -> what it needs two splits for
_NEEDS_SPLITS = {
    "one_standard_error": "the standard error of the best's mean score",
    "not_significantly_worse": "a paired test of the best against a candidate",
}


def _check_splits(scores, metric, rule):
    """A refit rule's results must have at least 2 split columns (:data:`_NEEDS_SPLITS`)."""
    if scores.shape[1] < 2:
        raise ValueError(
            f"{rule} needs cv_results_ with at least 2 splits ({_NEEDS_SPLITS[rule]}): "
            f"cv_results_ has {scores.shape[1]} split column(s) of the metric {metric!r}. "
            "Use a cv with n_splits >= 2 (e.g. cv=5), or refit=True to refit the best."
        )


def _check_refit_splits(refit, n_splits):
    """An hpsearch search refuses a refit rule with fewer than 2 splits before any fit
    (the rule itself refuses them only once every candidate is fitted)."""
    if isinstance(refit, (one_standard_error, not_significantly_worse)) and n_splits < 2:
        raise ValueError(
            f"The 'refit' parameter {refit!r} needs at least 2 splits "
            f"({_NEEDS_SPLITS[type(refit).__name__]}). Got a cv with {n_splits} split instead: use "
            "n_splits >= 2 (e.g. cv=5), or refit=True to refit the best."
        )


def _simplicity_key(simplicity):
    """A function params -> number, smaller meaning simpler.

    ``simplicity`` is a callable of the parameter dict, or a parameter name (smaller
    value = simpler, e.g. ``"n_estimators"``), or ``"-name"`` (larger = simpler, e.g.
    ``"-alpha"``: a stronger penalty is the simpler model). Tuples (layer sizes) count by
    their total number of units.
    """
    if callable(simplicity):
        return simplicity
    if not isinstance(simplicity, str) or not simplicity.lstrip("-"):
        raise ValueError(
            "The 'simplicity' parameter must be a callable params -> number or a "
            f"parameter name (\"-name\": larger is simpler). Got {simplicity!r} instead."
        )
    sign = -1.0 if simplicity.startswith("-") else 1.0
    name = simplicity.lstrip("-")

    def key(params):
        if name not in params:
            raise ValueError(
                f"simplicity={simplicity!r} names a parameter the candidates do not "
                f"have. Candidate parameters: {sorted(params)}."
            )
        value = params[name]
        try:
            return sign * float(sum(value) if isinstance(value, (tuple, list)) else value)
        except (TypeError, ValueError):
            raise ValueError(
                f"simplicity={simplicity!r} needs a number (or a tuple of numbers) in "
                f"{name!r}. Got {value!r} in the candidate {params!r}: pass a callable "
                "params -> number (smaller = simpler) instead."
            ) from None

    return key


def _refit_scores(cv_results, metric, rule):
    """The metric's split scores, NaN where the split's fit (or its scorer) failed: with
    a numeric ``error_score`` such a score is made up, and the rules, like :func:`compare`,
    consider only measured splits (``cv_results`` of an hpsearch search say which failed
    in their ``error`` column; other searches' results are taken as they are). A metric
    that is not one of the results' (or None for several) is an error naming ``rule``."""
    metrics = sorted({m.group(2) for k in cv_results if (m := _SPLIT_KEY.match(k))})
    if metrics and metric not in metrics and (metric is not None or (
            "score" not in metrics and len(metrics) > 1)):
        raise ValueError(
            f"The 'metric' parameter of {rule} must be one of {metrics} (the metrics of "
            f"the search's cv_results_; several need one named). Got {metric!r} instead."
        )
    metric = _metric(cv_results, metric)
    columns = _split_columns(cv_results, metric)
    scores = _score_matrix(cv_results, columns)
    return metric, _without_failed_splits(cv_results, scores, metric)


def _eligible(cv_results, scores):
    """Rows a refit rule may choose from, best first, and their means.

    The rows of the largest budget of a complete row (budgeted searches; as their
    ``best_index_``: a row with a failed split at a larger budget has no score there),
    and among them those with a finite score on every split when there is one (a failed or
    raced split is NaN: such a candidate's mean is over fewer, luckier splits, and
    the search ranks it after every complete one), else the raced ones of a racing
    search (it ranks them before a failed one, :func:`_tiers`); the mean is over finite
    splits.
    """
    rows = np.arange(scores.shape[0])
    below, tier, neg_mean = _tiers(cv_results, scores, rows)
    scored = np.isfinite(neg_mean)
    for ok in (~below & (tier == 0), ~below & (tier == 1) & scored, ~below & scored,
               scored):
        if ok.any():
            break
    else:
        raise ValueError("cv_results_ has no candidate with a finite test score.")
    chosen = rows[ok]
    return chosen[np.argsort(neg_mean[ok], kind="stable")], -neg_mean


def _simplest(candidates, cv_results, key, means):
    """The simplest of ``candidates``; ties go to the higher mean score. A simplicity that
    is not a number, or is NaN, is refused: ``min`` over NaN keys returns whatever came
    first."""
    params = cv_results["params"]

    def order(i):
        value = key(params[i])
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or math.isnan(value):
            raise ValueError(
                f"The 'simplicity' parameter must give a number (smaller = simpler) for "
                f"every candidate. Got {value!r} for the candidate {params[i]!r} instead."
            )
        return value, -means[i], i

    return int(min(candidates, key=order))


class one_standard_error:
    """``refit=`` rule: the simplest candidate within one standard error of the best.

    Breiman et al.'s one-standard-error rule (CART, 1984; Hastie, Tibshirani & Friedman,
    *ESL* §7.10): among candidates whose mean test score is at least
    :math:`\\bar s_\\text{best} - \\mathrm{SE}_\\text{best}`, with
    :math:`\\mathrm{SE} = \\hat\\sigma / \\sqrt{k}` over the best's ``k`` splits, pick the
    simplest. Only candidates with a finite score on every split (and, in a budgeted
    search, at the largest budget) are considered, when there is one: a candidate with a
    failed or raced split is not (see :func:`_eligible`). Works as ``refit=`` of any
    hpsearch or scikit-learn search::

        GridSearchCV(est, grid, refit=one_standard_error(simplicity="-alpha"))

    Parameters
    ----------
    simplicity : callable or str
        See :func:`_simplicity_key`: a callable ``params -> number`` (smaller = simpler)
        or a parameter name (``"-alpha"``: larger alpha is simpler).
    metric : str, optional
        The metric for multi-metric searches (default: the only one, or ``"score"``).

    Raises
    ------
    ValueError
        For results with fewer than 2 split columns (one split has no standard error),
        a ``metric`` the results do not have (or None for several), and a
        ``simplicity`` that gives no number (NaN, a string, a parameter set to None).
    """

    def __init__(self, simplicity, metric=None):
        self.simplicity = simplicity
        self.metric = metric

    def __call__(self, cv_results):
        key = _simplicity_key(self.simplicity)
        metric, scores = _refit_scores(cv_results, self.metric, "one_standard_error")
        _check_splits(scores, metric, "one_standard_error")
        eligible, means = _eligible(cv_results, scores)
        best = int(eligible[0])
        finite = scores[best][np.isfinite(scores[best])]
        se = finite.std(ddof=1) / np.sqrt(finite.size) if finite.size > 1 else 0.0
        within = eligible[means[eligible] >= means[best] - se]
        return _simplest(within, cv_results, key, means)

    def __repr__(self):
        return f"one_standard_error(simplicity={self.simplicity!r}, metric={self.metric!r})"


class not_significantly_worse:
    """``refit=`` rule: the simplest candidate not significantly worse than the best.

    A candidate qualifies when the one-sided Nadeau–Bengio corrected t-test of "the best
    is better" on the splits both finished has ``p >= alpha``; the simplest qualifying
    candidate is refitted. The best and the candidates are those of
    :class:`one_standard_error` (complete candidates at the largest budget).

    Parameters
    ----------
    simplicity : callable or str
        As for :class:`one_standard_error`.
    alpha : float, default=0.05
        The test's level.
    test_train_ratio : float, optional
        :math:`n_\\text{test}/n_\\text{train}` of one split. As ``refit=`` of an
        hpsearch search the default is the search's own ratio (:func:`split_size_ratio`
        of its ``cv``; for a custom splitter or a list of splits, from the mean
        validation fraction of the splits it drew, :func:`_mean_fraction_ratio`).
        Elsewhere (``refit=`` of a scikit-learn search, or called on a ``cv_results_``
        dict) the rule sees only ``cv_results_``, which do not say what the splitter
        was: it then assumes plain K-fold, ``1 / (k - 1)`` for the ``k`` split columns,
        and warns (:class:`SplitterUnknownWarning`) that it did, since the assumption is
        wrong for any other splitter: ``RepeatedKFold(n_splits=5, n_repeats=10)`` has 50
        columns but ratio ``0.25``, not ``1/49`` (the test far too confident),
        ``ShuffleSplit(10, test_size=0.5)`` has ratio ``1``, ``LeaveOneOut`` ``1 / (n -
        1)``. Pass ``test_train_ratio=split_size_ratio(cv, n_samples=len(X))`` there.
        In an hpsearch search whose budget is ``n_samples``, rows trained on :math:`b`
        rows fewer than a train fold's are tested with :math:`n_\\text{test}/b`, as by
        :func:`compare` (the ratio, given or not, is that of a full split).
    metric : str, optional
        The metric for multi-metric searches.

    Raises
    ------
    ValueError
        For a bad ``alpha`` or ``test_train_ratio``, for results with fewer than 2
        split columns (one split: there is no test), and as :class:`one_standard_error`
        for ``metric`` and ``simplicity``.

    Warns
    -----
    SplitterUnknownWarning
        When it assumes plain K-fold's ratio (see ``test_train_ratio``).
    """

    def __init__(self, simplicity, alpha=0.05, test_train_ratio=None, metric=None):
        self.simplicity = simplicity
        self.alpha = alpha
        self.test_train_ratio = test_train_ratio
        self.metric = metric

    def __call__(self, cv_results):
        key = _simplicity_key(self.simplicity)
        if not (isinstance(self.alpha, numbers.Real) and not isinstance(self.alpha, bool)
                and 0 < self.alpha < 1):
            raise ValueError(
                f"The 'alpha' parameter of not_significantly_worse must be a float in "
                f"the range (0, 1). Got {self.alpha!r} instead."
            )
        ratio = self.test_train_ratio
        if ratio is not None:  # (checked only when a test ran: a bad one passed unseen)
            ratio = _check_ratio(ratio, "not_significantly_worse")
        metric, scores = _refit_scores(cv_results, self.metric, "not_significantly_worse")
        _check_splits(scores, metric, "not_significantly_worse")
        eligible, means = _eligible(cv_results, scores)
        best = int(eligible[0])
        keep = [best]
        for i in eligible:
            shared = np.isfinite(scores[best]) & np.isfinite(scores[i])
            if i == best or shared.sum() < 2:
                continue
            if ratio is None:
                ratio = _assumed_k_fold_ratio(scores.shape[1])
            diff = scores[best][shared] - scores[i][shared]
            # (a search subsampling its train folds: the ratio of the rows compared, all
            # at one budget; see _refit_rule_of)
            row_ratio = getattr(self, "_row_ratios", None)
            r = ratio if row_ratio is None else row_ratio(i)
            if corrected_ttest(diff, r, "greater")[1] >= self.alpha:
                keep.append(i)
        return _simplest(keep, cv_results, key, means)

    def __repr__(self):
        return (
            f"not_significantly_worse(simplicity={self.simplicity!r}, "
            f"alpha={self.alpha!r}, test_train_ratio={self.test_train_ratio!r}, "
            f"metric={self.metric!r})"
        )


def _refit_metric(refit):
    """The metric a search with this ``refit`` chooses by: a metric name, a refit rule's
    ``metric`` (:class:`one_standard_error`, :class:`not_significantly_worse`), else
    None (True, False, another callable). An OptunaSearchCV with several metrics and a
    rule by ``"r2"`` optimized, raced and diagnosed the first metric instead."""
    if isinstance(refit, (one_standard_error, not_significantly_worse)):
        return refit.metric
    return refit if isinstance(refit, str) else None


def _refit_rule_of(refit, search, splits=None, results=None):
    """``refit`` as a search applies it: a :class:`not_significantly_worse` with no
    ``test_train_ratio`` gets the search's (a copy, the parameter is left as given),
    the one its racing tests with (:func:`~hpsearch.model_selection._racing._ratio` of
    the ``splits`` it drew): a random two-way splitter's drawn sizes, else
    :func:`split_size_ratio` of its ``cv``, else (a custom splitter, a list of splits,
    leave-p-out without ``n_samples``) the splits' mean validation fraction
    (:func:`_mean_fraction_ratio`). The rule's own fallback, K-fold's
    ``1 / (k - 1)`` for the ``k`` split columns, is right for plain K-fold only:
    ``RepeatedKFold(5, 4)`` has 20 columns but ratio ``1/4`` (Bouckaert & Frank 2004),
    not ``1/19``. A search whose budget is ``n_samples`` (``results``: its
    ``cv_results_``) trains a row of budget :math:`b` below a train fold's size on
    :math:`b` rows of it: the rule tests rows of one budget with their own
    :math:`n_\\text{test}/b` (:class:`_RowRatios`, as :func:`compare`; with
    ``max_resources=80`` of 442 rows, 5-fold, ``88/80``, not ``1/4``); a
    ``test_train_ratio`` given is then that of a full split."""
    if not isinstance(refit, not_significantly_worse):
        return refit
    if refit.test_train_ratio is not None:
        return _with_row_ratios(refit, refit.test_train_ratio, search, results)
    ratio = _fitted_ratio(search, splits)
    if ratio is None or not np.isfinite(ratio):
        return refit  # (the rule warns that it assumes K-fold)
    return _with_row_ratios(
        not_significantly_worse(refit.simplicity, alpha=refit.alpha,
                                test_train_ratio=ratio, metric=refit.metric),
        ratio, search, results)


def _fitted_ratio(search, splits=None):
    """:math:`n_\\text{test}/n_\\text{train}` of the ``splits`` a search drew, the one
    source of truth of its racing, its :class:`not_significantly_worse` refit rule and
    :func:`compare` after the fit (kept as the search's private ``_test_train_ratio_``,
    pickled with it): :func:`~hpsearch.model_selection._racing._ratio` of the
    ``splits``, i.e. a random two-way splitter's drawn row sizes (``GroupShuffleSplit``'s
    ``test_size`` counts groups, not rows), else :func:`split_size_ratio` of its ``cv``,
    else (a custom splitter, a list of splits, leave-p-out without ``n_samples``) the
    splits' mean validation fraction :math:`\\bar\\rho` as
    :math:`\\bar\\rho/(1-\\bar\\rho)` (:func:`_mean_fraction_ratio`). Without
    ``splits``, :func:`split_size_ratio` of its ``cv``, or None when unknown."""
    if splits:
        from ._racing import _ratio

        return _ratio(search, len(splits), splits)
    try:
        return _search_ratio(search)
    except Exception:  # a custom splitter, an iterable of splits
        return None


def _owner_ratio(search):
    """The ratio :func:`compare` reads off a search: the one its fit tested with
    (``_test_train_ratio_``, :func:`_fitted_ratio` of the splits it drew), else (a
    scikit-learn search, one pickled before it was kept) its splitter's."""
    ratio = getattr(search, "_test_train_ratio_", None)
    if ratio is not None and np.isfinite(ratio):
        return float(ratio)
    return _search_ratio(search)


def _with_row_ratios(rule, ratio, search, results):
    """``rule``, or a copy testing each row with its own ratio (:class:`_RowRatios`) when
    the search subsampled its train folds for some row."""
    if results is None:
        return rule
    ratio = _check_ratio(ratio, "not_significantly_worse")
    rows = _subsample_ratios(search, results, ratio)
    if not rows.varies:
        return rule
    copy = not_significantly_worse(rule.simplicity, alpha=rule.alpha,
                                   test_train_ratio=ratio, metric=rule.metric)
    copy._row_ratios = rows
    return copy
