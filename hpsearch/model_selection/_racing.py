"""Racing across splits: stop fitting a candidate once it is significantly worse.

``racing=True`` on :class:`~hpsearch.GridSearchCV`, :class:`~hpsearch.RandomSearchCV`
and :class:`~hpsearch.OptunaSearchCV` runs the splits of the candidates of one
``evaluate`` call in *waves*, with decisions only at the barrier between two waves
(so the result is the same for any ``n_jobs`` and backend; OptunaSearchCV asks trials in
batches of as many as the engine has workers, so its candidates, not its racing, depend
on ``n_jobs``, as without racing):

1. wave 1 fits the first ``m = racing_min_splits`` splits of every candidate;
2. at each barrier the *incumbent* is chosen among the candidates with the most
   finished splits (also complete candidates of earlier ``evaluate`` calls, e.g.
   earlier Optuna trials): the best mean test score (refit metric) over its finished
   splits, the first in order on a tie;
3. every other unfinished candidate sharing at least ``m`` finished splits with the
   incumbent is tested on the splits they share, with the one-sided Nadeau–Bengio
   corrected resampled t-test (:func:`~hpsearch.model_selection.stats.corrected_ttest`)
   of :math:`H_0: \\mu_{\\text{inc}} - \\mu_{\\text{cand}} \\le 0`:

   .. math::

       d_j = s^{\\text{inc}}_j - s^{\\text{cand}}_j,\\quad
       t = \\frac{\\bar d}{\\sqrt{(1/k + n_\\text{test}/n_\\text{train})\\,\\hat\\sigma^2_d}},
       \\quad p = P(T_{k-1} \\ge t),

   and is *raced* (its remaining splits are not fitted) when ``p < racing_alpha``.
   :math:`n_\\text{test}/n_\\text{train}` is
   :func:`~hpsearch.model_selection.stats.split_size_ratio` of the search's ``cv``
   (when it is unknown, e.g. leave-p-out or an int ``test_size``: from the mean
   validation fraction of the search's splits);
4. the survivors get one more split per wave until they are complete.

Each test has level ``racing_alpha`` against an incumbent that is itself only an
estimate, so the family of decisions has no overall guarantee: racing trades a chance
of dropping a near-tie for the fits it saves (see ``benchmarks/README.md``). How large
that chance is, measured by seeded Monte Carlo in the model where the corrected test is
exact (equicorrelated split scores, correlation :math:`n_\\text{test}/n`;
``tests/test_racing_error_rates.py``), with 10-fold CV, ``racing_min_splits=3`` and
``racing_alpha=0.1``: one test at one barrier rejects a true tie with probability
exactly 0.1, but a candidate is tested at every barrier (7 here) against the leader of
the moment, so a candidate *as good as the best* is raced in about 22 % of races with
one equal rival, 45 % with four and 65 % with eleven; a best ahead of eleven equal
rivals by one standard deviation of a split score (about 2.3 standard errors of the
10-split mean) is still raced in about 14 %, by two in under 1 %. ``racing_alpha`` is
the level of each test, not the probability of racing the true best.

In ``cv_results_`` a raced candidate has ``state == "RACED"`` and ``raced == True``
(one the search's ``timeout`` cut: ``"not run"``, the others ``"COMPLETE"``);
its unfinished splits are NaN and its ``mean_``/``std_`` columns are over its finished
splits only. Raced candidates are ranked after every complete one with a score and
before every failed one (NaN mean, ``error_score=np.nan``) (``rank_test_*``), so the
refit (``refit=True`` or a metric name) uses a complete candidate when one has a
score. In the trial store a raced candidate is a PRUNED trial with the user attribute
``hpsearch_state = "RACED"`` and its finished fits kept: ``resume=True`` neither refits
them nor runs its raced-away splits (a search without racing resuming the study fits
just those). A race resumed after a killed run decides on the splits of its waves
only, as the uninterrupted race did; a raced candidate's ``mean_`` is over all its
finished splits, those the killed run fitted beyond its waves included. ``evaluate``
returns NaN ``scores`` for raced candidates (their ``split_scores`` hold the finished
splits); OptunaSearchCV tells their trials PRUNED.

With ``verbose > 0`` sklearn's opening line says ``totalling at most M fits (racing stops
significantly worse candidates early)`` and a closing line gives the fits actually run;
the progress bar's total drops by a candidate's unfitted splits when it is raced, so it
ends at the fits run.

Since fits are seeded per (candidate, split), a racing search's decisions are a function
of the full evaluation's split scores: :func:`replay` runs the same waves and barrier
decisions on such a matrix without fitting (``benchmarks/bench_racing.py`` measures every
setting that way).
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from .stats import corrected_ttest

__all__ = ["RACING_CONSTRAINTS", "racing_enabled", "race", "replay", "mark_raced_results",
           "warn_non_finite"]

#: ``_parameter_constraints`` of the racing parameters (grid, random, Optuna searches)
RACING_CONSTRAINTS = {
    "racing": ["boolean"],
    "racing_min_splits": [Interval(Integral, 2, None, closed="left")],
    "racing_alpha": [Interval(Real, 0, 1, closed="neither")],
}


def racing_enabled(search):
    """Whether ``search`` races its candidates (searches without the parameter do not)."""
    return bool(getattr(search, "racing", False))


def _ratio(search, n_splits, splits=None):
    """:math:`n_\\text{test}/n_\\text{train}` of the search's cv (of the ``splits`` drawn by a
    random two-way splitter: ``ShuffleSplit``, ``MonteCarloCV``...); when it is unknown, from
    the mean validation fraction of the search's ``splits`` (leave-p-out, an int
    ``test_size``, a custom splitter or list of splits; see
    :func:`~hpsearch.model_selection.stats._mean_fraction_ratio`), else ``1 / (K - 1)``."""
    from .stats import _mean_fraction_ratio, _random_two_way_splitters, _search_ratio

    if splits and isinstance(getattr(search, "cv", None), _random_two_way_splitters()):
        # random splits: the sizes drawn (sklearn rounds n_test up; GroupShuffleSplit's
        # test_size counts groups), not the nominal test_size / (1 - test_size)
        return float(_mean_fraction_ratio(
            [len(test) / max(len(train) + len(test), 1) for train, test in splits]))
    try:
        ratio = _search_ratio(search)
    except Exception:  # an iterable of splits, a custom splitter
        ratio = None
    if ratio is None and splits:
        ratio = _mean_fraction_ratio(
            [len(test) / max(len(train) + len(test), 1) for train, test in splits])
    if ratio is None or not np.isfinite(ratio) or ratio < 0:
        ratio = 1.0 / max(n_splits - 1, 1)
    return float(ratio)


def _finished(row):
    """Splits of ``row`` with a score (failed and unrun splits excluded)."""
    return [s for s, scores in enumerate(row["test_scores"]) if scores is not None]


def _complete(row):
    return not row.get("raced") and all(
        s is not None or e is not None for s, e in zip(row["test_scores"], row["error"])
    )


def _incumbent(pool, scores, finished=_finished):
    """The row with the most finished splits, best mean over them (first on a tie)."""
    most = max(len(finished(r)) for r in pool)
    best, best_mean = None, -np.inf
    for r in pool:
        done = finished(r)
        if len(done) != most or not done:
            continue
        mean = scores(r)[done].mean()
        if best is None or mean > best_mean:
            best, best_mean = r, mean
    return best


def _decide_rows(pool, alive, scores, min_splits, alpha, ratio, allowed=None):
    """Mark ``raced`` the unfinished rows of ``alive`` significantly worse than the
    incumbent of ``pool`` (steps 2 and 3 of the module docstring); returns the survivors.
    ``scores(row)`` is a row's refit-metric score per split. With ``allowed`` (the
    splits of the waves so far), a row of ``alive`` counts only those of its finished
    splits: a resumed race finds the fits of a killed run beyond its waves, and takes
    the decisions the uninterrupted race took."""
    ids = {id(r) for r in alive}

    def finished(row):
        done = _finished(row)
        if allowed is None or id(row) not in ids:
            return done
        return [s for s in done if s in allowed]

    incumbent = _incumbent(pool, scores, finished)
    if incumbent is None:
        return alive
    inc_done, inc_scores = set(finished(incumbent)), scores(incumbent)
    survivors = []
    for row in alive:
        shared = sorted(inc_done.intersection(finished(row)))
        if row is not incumbent and row["pending"] and len(shared) >= min_splits:
            d = inc_scores[shared] - scores(row)[shared]
            if np.all(np.isfinite(d)) and corrected_ttest(d, ratio, "greater")[1] < alpha:
                row["raced"] = True
                continue
        survivors.append(row)
    return survivors


def _decide(evaluator, alive, min_splits, alpha, ratio, allowed=None):
    """:func:`_decide_rows` with the evaluator's complete rows of earlier calls in the
    incumbent's pool."""
    earlier = [r for r in evaluator.rows if r.get("resources") is None and _complete(r)]
    return _decide_rows(earlier + alive, alive, evaluator._refit_scores, min_splits,
                        alpha, ratio, allowed)


def _waves(alive, n_splits, min_splits, fit, decide, stop=lambda: False):
    """The schedule of steps 1 and 4: ``fit(wave, allowed)`` fits the splits in
    ``allowed`` (the first ``m``, then one more per wave) of the unfinished rows ``wave``
    (possibly none) and may mark rows ``raced``; ``decide(alive, allowed)`` returns the
    survivors of a barrier. Stops after the wave of the last split or when ``stop()``."""
    n_allowed = min_splits
    while True:
        allowed = set(range(n_allowed))
        fit([r for r in alive if r["pending"] and allowed - r["done"]], allowed)
        alive = [r for r in alive if not r.get("raced")]
        if n_allowed >= n_splits or stop():
            return
        alive = decide(alive, allowed)
        n_allowed += 1


def race(evaluator, new_rows, todo, run, trials=None):
    """Fit ``todo`` (rows of one ``evaluate`` call) in waves, racing them (see the module
    docstring). Raced rows keep ``pending > 0`` and get ``raced = True``; they are
    recorded in the store as RACED (their claimed trial closed PRUNED; an Optuna trial
    is told PRUNED by its strategy)."""
    search, store = evaluator.search, evaluator.store
    n_splits = len(evaluator.splits)
    min_splits = min(int(search.racing_min_splits), n_splits)
    if min_splits == n_splits:  # (was silent: racing=True did nothing)
        warnings.warn(
            f"racing_min_splits={search.racing_min_splits} is not below the {n_splits} "
            f"splits of cv: every candidate is fitted on every split, so none can be "
            f"raced out; set racing_min_splits below {n_splits}, use more splits, or "
            "racing=False", UserWarning, stacklevel=2)
    alpha = float(search.racing_alpha)
    ratio = _ratio(search, n_splits, evaluator.splits)
    if trials is not None:
        for row in todo:
            row["trial_id"] = trials[row["index"]]._trial_id

        def dispatch(rows):  # (a wave another process fits too is waited for)
            evaluator._dispatch_trials(rows, run)
    else:
        def dispatch(rows):  # claim a candidate once, at its first wave
            claimed = [r for r in rows if r.get("trial_id") is not None]
            if claimed:
                evaluator._dispatch(claimed, **run)
            evaluator._claim_and_dispatch(
                [r for r in rows if r.get("trial_id") is None], run
            )
    store.racing = True
    n_tasks = sum(r["pending"] for r in todo)
    counted = set()  # raced rows whose unfitted splits left the progress bar's total

    def uncount():
        raced = [r for r in new_rows if r.get("raced") and id(r) not in counted]
        counted.update(id(r) for r in raced)
        n = sum(r["pending"] for r in raced)
        if n:
            evaluator._plan_progress(-n, n)

    for row in new_rows:  # raced in an earlier run (resume) or by another process
        if row["pending"] and store.raced(row["key"]):
            row["raced"] = True
    uncount()

    def fit(wave, allowed):
        for row in wave:
            row["allowed"] = allowed
        if wave:
            dispatch(wave)
        for row in new_rows:  # raced meanwhile by another process on the study
            if row["pending"] and store.raced(row["key"]):
                row["raced"] = True
        uncount()

    published = set()  # raced rows recorded in the store at their barrier

    def decide(alive, allowed):
        survivors = _decide(evaluator, alive, min_splits, alpha, ratio, allowed)
        uncount()
        for row in alive:
            # at once (was: once the race ended): another process waiting for this
            # row's next wave stops waiting (it waited for this race's end, which could
            # wait on that process: two processes hung for ever)
            if row.get("raced") and row.get("trial_id") is not None and store.shared:
                store.record_raced(row, row["trial_id"], close=trials is None)
                published.add(id(row))
        return survivors

    _waves([r for r in new_rows if not r.get("raced")], n_splits, min_splits, fit, decide,
           stop=lambda: evaluator.engine.expired)
    for row in new_rows:
        row.pop("allowed", None)
    if trials is None:  # raced on a killed run's fits alone: claim it to record it
        unclaimed = [r for r in new_rows if r.get("raced") and r.get("trial_id") is None
                     and not store.raced(r["key"])]
        for row, state in zip(unclaimed, store.claim(unclaimed) if unclaimed else ()):
            if state != "done" and state[0] == "mine":
                row["trial_id"] = state[1]
    for row in new_rows:
        if (row.get("raced") and row.get("trial_id") is not None
                and id(row) not in published):
            store.record_raced(row, row["trial_id"], close=trials is None)
    if search.verbose > 0 and n_tasks:
        n_fitted = n_tasks - sum(r["pending"] for r in todo)
        n_raced = sum(bool(r.get("raced")) for r in todo)
        print(f"Racing stopped {n_raced} of {len(todo)} candidates early, totalling "
              f"{n_fitted} fits ({n_tasks - n_fitted} not fitted)")


def replay(split_scores, min_splits, alpha, test_train_ratio):
    """Racing's decisions on a complete evaluation's split scores, without fitting.

    Runs the same waves and barrier decisions as :func:`race` (:func:`_waves`,
    :func:`_decide_rows`) on a ``(n_candidates, K)`` matrix of refit-metric split scores
    (NaN: a failed split), revealing the splits of a wave from the matrix instead of
    fitting them. With deterministic fits (hpsearch seeds each fit from the candidate and
    the split only) a racing search of one ``evaluate`` call takes exactly these
    decisions, so one full search measures racing at any setting.

    Parameters
    ----------
    split_scores : array-like of shape (n_candidates, K)
    min_splits, alpha : int, float
        ``racing_min_splits`` and ``racing_alpha``.
    test_train_ratio : float
        :math:`n_\\text{test}/n_\\text{train}` of one split, as :func:`race` uses.

    Returns
    -------
    raced : ndarray of bool, shape (n_candidates,)
    n_fits : ndarray of int, shape (n_candidates,)
        Splits each candidate is fitted on (failed ones included).
    """
    from .stats import _check_ratio

    # (unchecked: alpha=nan raced nothing and alpha=2 everything, silently; checked by
    # hand, as RACING_CONSTRAINTS says: sklearn's validator per call cost Monte Carlo
    # runs of thousands of replays 20 % of their time)
    if isinstance(min_splits, bool) or not isinstance(min_splits, Integral) or min_splits < 2:
        raise ValueError("The 'min_splits' parameter of replay must be an int in the range "
                         f"[2, inf). Got {min_splits!r} instead.")
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < alpha < 1:
        raise ValueError("The 'alpha' parameter of replay must be a float in the range "
                         f"(0, 1). Got {alpha!r} instead.")
    test_train_ratio = _check_ratio(test_train_ratio, "replay")
    matrix = np.asarray(split_scores, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(
            "The 'split_scores' parameter of replay must be a 2-D array of shape "
            f"(n_candidates, K). Got an array of shape {matrix.shape} instead.")
    n_splits = matrix.shape[1]
    rows = [{"test_scores": [None] * n_splits, "error": [None] * n_splits,
             "pending": n_splits, "done": set(), "i": i} for i in range(len(matrix))]

    def fit(wave, allowed):
        for row in wave:
            for s in allowed - row["done"]:
                score = matrix[row["i"], s]
                failed = np.isnan(score)
                row["test_scores"][s] = None if failed else score
                row["error"][s] = "failed" if failed else None
                row["done"].add(s)
                row["pending"] -= 1

    def scores(row):
        return np.array([np.nan if s is None else s for s in row["test_scores"]])

    min_splits = min(int(min_splits), n_splits)
    _waves(rows, n_splits, min_splits, fit,
           lambda alive, allowed: _decide_rows(alive, alive, scores, min_splits,
                                               float(alpha), float(test_train_ratio)))
    raced = np.array([bool(r.get("raced")) for r in rows])
    return raced, np.array([len(r["done"]) for r in rows])


def warn_non_finite(results):
    """sklearn's warning about non-finite mean scores, on the marked ``cv_results_`` (a
    raced row's mean is over its finished splits, so it does not warn by itself)."""
    for part in ("train", "test"):
        for key in sorted(k for k in results if k.startswith(f"mean_{part}_")):
            means = np.asarray(results[key], dtype=np.float64)
            if np.any(~np.isfinite(means)):
                warnings.warn(f"One or more of the {part} scores are non-finite: {means}",
                              category=UserWarning)
                break


def _tiered_rank(means, raced):
    """Ranks in three tiers: complete candidates, then raced ones, then those with a
    NaN mean (failed fits, ``error_score=np.nan``), as sklearn ranks failed candidates
    last; sklearn's ranking within each tier."""
    from ._results import _rank

    failed = np.isnan(means)
    rank = np.empty(len(means), dtype=np.int32)
    offset = 0
    for tier in (~raced & ~failed, raced & ~failed, failed):
        if tier.any():
            rank[tier] = offset + _rank(means[tier])
            offset += int(tier.sum())
    return rank


def mark_raced_results(results, rows, n_splits, not_run=None):
    """Turn ``cv_results_`` of a racing search into its documented form: ``raced`` and
    ``state`` columns, NaN for the raced rows' unfinished splits, their ``mean_``/
    ``std_`` over finished splits, raced rows ranked after every complete one with a
    score and before the failed ones (:func:`_tiered_rank`). A row that is not raced
    and has a split the search's ``timeout`` left unrun (error ``not_run``) is
    ``"not run"``, not ``"COMPLETE"``."""
    raced = np.array([bool(r.get("raced")) for r in rows])
    results["raced"] = raced
    state = np.empty(len(rows), dtype=object)
    cut = [not_run is not None and not_run in r["error"] for r in rows]
    state[:] = ["RACED" if x else "not run" if c else "COMPLETE"
                for x, c in zip(raced, cut)]
    results["state"] = state
    if not raced.any():
        return results
    unfinished = np.array(
        [[s is None and e is None for s, e in zip(r["test_scores"], r["error"])]
         for r in rows]
    )
    prefixes = {k[len("split0_"):] for k in results if k.startswith("split0_")}
    for key in sorted(prefixes) + ["fit_time", "score_time"]:
        if key.startswith(("test_", "train_")):
            matrix = np.column_stack([results[f"split{k}_{key}"] for k in range(n_splits)])
            matrix = np.where(unfinished, np.nan, matrix)
            for k in range(n_splits):
                results[f"split{k}_{key}"] = matrix[:, k]
        else:  # times: kept per split only in the store
            matrix = np.array([r[key] for r in rows], dtype=np.float64)
            matrix = np.where(unfinished, np.nan, matrix)
        sub = matrix[raced]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a row with no finished split
            results[f"mean_{key}"][raced] = np.nanmean(sub, axis=1)
            results[f"std_{key}"][raced] = np.nanstd(sub, axis=1)
        if f"rank_{key}" in results:
            means = results[f"mean_{key}"]
            results[f"rank_{key}"] = _tiered_rank(means, raced)
    return results

