"""The recipe over a whole search: one label per candidate, and the deeper-worse note (seed 003)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from ._diagnose import default_references
from ._verdict import check_thresholds, score_verdict

__all__ = ["ResultsDiagnosis", "diagnose_results", "diagnosis_column", "reference_scores"]


@dataclass
class ResultsDiagnosis:
    """What :func:`diagnose_results` found.

    Attributes
    ----------
    labels : list of str
        Per candidate (the order of ``cv_results["params"]``): ``"training"``,
        ``"overfitting"``, ``"none"``, or ``"failed"`` (a non-finite mean train or test
        score). This is the ``diagnosis`` column.
    notes : list of str
        Search-level remarks: where "poor" came from, and whether deeper candidates train
        worse than shallower ones.
    evidence : dict
        ``baseline_train``, ``linear_train``, ``best_train``, ``reference_train``, ``unit``,
        ``train_threshold``, ``gap_threshold`` (the same for every candidate), ``references``
        (``"given"`` or ``"candidates"``) and ``best_train_by_depth`` (number of hidden
        layers -> best mean train score; for halving rows, at the budget compared).
    """

    labels: list
    notes: list = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    #: the :func:`reference_scores` the labels were judged against (None: the search's own)
    references: dict | None = None

    def __str__(self):
        counts = {k: self.labels.count(k) for k in ("training", "overfitting", "none", "failed")}
        head = f"{len(self.labels)} candidates: " + ", ".join(
            f"{n} {k}" for k, n in counts.items() if n) + "."
        return " ".join([head, *self.notes])


def reference_scores(estimator, X, y=None, *, cv=5, scoring=None, groups=None,
                     references=None):
    """Cross-validated train and test scores of the recipe's references, on the search's splits.

    The trivial baseline and the linear reference of :func:`hpsearch.diagnostics.diagnose`
    (``default_references(estimator)``, overridable with ``references``) go through
    :func:`sklearn.model_selection.cross_validate` with ``return_train_score=True``: two
    extra fits per split (a dummy and a linear model), nothing else.

    Parameters
    ----------
    estimator : estimator
        The searched estimator (decides classifier/regressor and the preprocessing the linear
        reference reuses).
    X, y, groups : array-like
    cv : int, splitter or iterable of (train, test) index arrays, default=5
    scoring : str, callable, list or dict, default=None
        As in ``cross_validate``.
    references : dict, default=None
        Override ``"baseline"`` / ``"linear"`` (None drops one; :func:`diagnose_results`
        needs the baseline).

    Returns
    -------
    dict
        ``{"baseline": {"train_score": .., "test_score": ..}, "linear": {...}}`` (keys
        ``train_<metric>`` / ``test_<metric>`` for several metrics); NaN where a reference
        cannot be fitted.
    """
    import warnings

    from sklearn.model_selection import cross_validate

    refs = default_references(estimator)
    refs.update(references or {})
    splits = cv if isinstance(cv, (Integral, type(None))) or hasattr(cv, "split") else list(cv)
    out = {}
    for name, ref in refs.items():
        if ref is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = cross_validate(ref, X, y, groups=groups, cv=splits, scoring=scoring,
                                     return_train_score=True, error_score=np.nan)
            except ValueError:  # every fit failed (e.g. one class, 2-D y): no such reference
                out[name] = {}
                continue
        out[name] = {k: float(np.mean(v)) for k, v in res.items()
                     if k.startswith(("train_", "test_"))}
    keys = {k for scores in out.values() for k in scores}
    return {name: {k: scores.get(k, math.nan) for k in sorted(keys)}
            for name, scores in out.items()}


def _column(cv_results, key, hint):
    try:
        return np.asarray(cv_results[key], dtype=float)
    except KeyError:
        raise ValueError(f"cv_results has no {key!r} column: {hint}") from None


def _depth(params):
    if not isinstance(params, dict):
        return None
    for key, value in params.items():
        if key == "hidden_layer_sizes" or key.endswith("__hidden_layer_sizes"):
            return 1 if isinstance(value, Integral) else len(tuple(value))
    return None


def _best_by_depth(params_list, train):
    best = {}
    for params, score in zip(params_list, train):
        depth = _depth(params)
        if depth is not None and math.isfinite(score):
            best[depth] = max(best.get(depth, -math.inf), float(score))
    return best


def _same_budget(params_list, train, resources):
    """Best train score per depth, compared at one budget: with ``n_resources`` (halving,
    ASHA, Hyperband rows), the largest budget at which at least two depths were scored
    (a deep candidate stopped at a small budget would otherwise be compared with shallow
    ones trained at the full budget); returns ``(best, budget or None)``."""
    if resources is None:
        return _best_by_depth(params_list, train), None
    resources = list(resources)
    best, level = {}, None
    for budget in sorted(set(resources)):
        rows = [i for i, r in enumerate(resources) if r == budget]
        found = _best_by_depth([params_list[i] for i in rows], [train[i] for i in rows])
        if len(found) >= 2 or not best:
            best, level = found, budget
    return best, level


def _deeper_note(params_list, train, unit, thresholds, resources=None):
    """Seed 003: a deeper net scoring worse on TRAINING data is an optimization problem."""
    best, level = _same_budget(params_list, train, resources)
    if len(best) < 2:
        return best, None
    top = max(best, key=lambda d: (best[d], -d))        # the best-training depth (shallowest tie)
    margin = thresholds["deeper"] * unit
    worse = [d for d in sorted(best) if d > top and best[d] < best[top] - margin]
    if not worse:
        return best, None
    listed = ", ".join(f"{best[d]:.3f} with {d}" for d in worse)
    at = "" if level is None else f" (at the same budget, n_resources={level})"
    return best, (
        f"Deeper candidates train worse{at}: the best training score is {best[top]:.3f} with "
        f"{top} hidden layer{'s' if top != 1 else ''}, only {listed}. A deeper net that "
        "scores worse on TRAINING data is an optimization problem, not overfitting (seed "
        "003): for the deep candidates try activation='relu' or 'maxout', solver='adam', "
        "init='he'; dropout or regularization would only make it worse.")


def _reference(references, name, part, metric):
    if not references or name not in references:
        return math.nan
    return float(references[name].get(f"{part}_{metric}", math.nan))


def diagnose_results(cv_results, *, metric="score", references=None, thresholds=None):
    """Label every candidate of a search with the recipe's verdict.

    Each candidate's ``mean_train_<metric>`` and ``mean_test_<metric>`` go through the same
    rule as :func:`hpsearch.diagnostics.diagnose` (the module docstring of
    :mod:`hpsearch.diagnostics._verdict`): training poor below :math:`R - 0.1u`, gap large
    above :math:`0.1u`.

    * With ``references`` (from :func:`reference_scores` on the search's splits):
      :math:`b_{tr}` is the baseline's mean train score, :math:`l_{tr}` the linear model's;
      the unit uses the best candidate's mean train score in place of :math:`m_{tr}`, so
      that every candidate is held to the same two thresholds.
    * Without: the search judges itself. :math:`l_{tr}` := the best mean train score of any
      candidate and :math:`b_{tr}` := the lowest mean train or test score of any candidate
      (a weaker rule, said in ``notes``: a search whose candidates are all poor looks fine,
      and one whose candidates all score alike calls small gaps large). It needs at least
      two candidates with finite scores (a ValueError otherwise).

    A note is added when deeper candidates (more entries in ``hidden_layer_sizes``) reach a
    best training score more than ``thresholds["deeper"]`` (0.1) units below the best
    depth's: the lecture's "deeper is worse on training data" (seed 003). Rows of a
    successive-halving search (an ``n_resources`` column) are compared at one budget: the
    largest at which at least two depths were scored.

    Parameters
    ----------
    cv_results : dict or DataFrame
        A search's ``cv_results_``, fitted with ``return_train_score=True``.
    metric : str, default="score"
        The metric suffix (the ``refit`` metric of a multi-metric search).
    references : dict, default=None
        Output of :func:`reference_scores`.
    thresholds : dict, default=None
        Overrides of :data:`hpsearch.diagnostics.THRESHOLDS`.

    Returns
    -------
    ResultsDiagnosis
        ``.labels`` is the ``diagnosis`` column.
    """
    thresholds = check_thresholds(thresholds)
    kept = [k[len("mean_train_"):] for k in cv_results if str(k).startswith("mean_train_")]
    train = _column(cv_results, f"mean_train_{metric}",
                    f"the 'metric' parameter of diagnose_results must be one of {kept}. Got "
                    f"{metric!r} instead." if kept else
                    "fit the search with return_train_score=True (the recipe checks the "
                    "training score first).")
    test = _column(cv_results, f"mean_test_{metric}", f"is {metric!r} the right metric?")
    params = list(cv_results["params"])
    finite = np.isfinite(train) & np.isfinite(test)
    notes = []
    if references:
        base, linear, source = (_reference(references, "baseline", "train", metric),
                                _reference(references, "linear", "train", metric), "given")
        if not math.isfinite(base):
            raise ValueError(
                "The 'references' parameter of diagnose_results must hold a finite training "
                f"{metric!r} of the 'baseline' (the recipe measures the training score and the "
                f"gap in units of the improvement over it). Got {references!r} instead.")
    else:
        if finite.sum() < 2:
            raise ValueError(
                "The 'references' parameter of diagnose_results is needed for a search with "
                f"{int(finite.sum())} candidate(s) with finite scores: one candidate cannot "
                "judge itself (its own validation score would be the baseline, so any gap "
                "would be large). Pass references=reference_scores(estimator, X, y, cv=...).")
        seen = np.concatenate([train[finite], test[finite]])
        base = float(seen.min()) if seen.size else math.nan
        linear = float(train[finite].max()) if finite.any() else math.nan
        source = "candidates"
        notes.append("No reference scores were given: 'poor' is judged against this search's "
                     f"own best training score ({linear:.4g}) and its lowest score ({base:.4g}), "
                     "so when every candidate scores alike a small gap already counts as large; "
                     "pass references=reference_scores(...) for the lecture's rule.")
    best_train = float(train[finite].max()) if finite.any() else math.nan
    labels = []
    for tr, te, ok in zip(train, test, finite):
        problem, _ = score_verdict(float(tr), float(te), base, linear, thresholds, best_train)
        labels.append(problem if ok else "failed")
    _, evidence = score_verdict(best_train, best_train, base, linear, thresholds, best_train)
    resources = cv_results["n_resources"] if "n_resources" in cv_results else None
    best, note = _deeper_note(params, train, evidence["unit"], thresholds, resources)
    if note:
        notes.append(note)
    evidence = {"references": source, "baseline_train": base, "linear_train": linear,
                "best_train": best_train, "best_train_by_depth": best,
                **{k: evidence[k] for k in ("reference_train", "unit", "train_threshold",
                                            "gap_threshold")}}
    return ResultsDiagnosis(labels=labels, notes=notes, evidence=evidence)


def _metric(cv_results, refit):
    """The metric a search's diagnosis is about: ``score``, else the refit metric, else the
    first metric with train scores."""
    keys = [k[len("mean_train_"):] for k in cv_results if k.startswith("mean_train_")]
    if "score" in keys or not keys:
        return "score"
    return refit if isinstance(refit, str) and refit in keys else keys[0]


def diagnosis_column(cv_results, estimator, X, y=None, *, cv, scoring=None, refit=True,
                     groups=None):
    """The ``diagnosis`` column of a search's ``cv_results_`` (one call for a search's ``fit``).

    Runs :func:`reference_scores` on the search's own splits ``cv`` (two cheap extra fits
    per split) and :func:`diagnose_results` on the refit metric; returns
    ``(labels, ResultsDiagnosis)``: ``labels`` is an object array, one verdict per candidate.
    ``cv_results`` must hold train scores (``return_train_score=True``).
    """
    metric = _metric(cv_results, refit)
    refs = reference_scores(estimator, X, y, cv=cv, scoring=scoring, groups=groups)
    result = diagnose_results(cv_results, metric=metric, references=refs)
    result.references = refs
    return np.asarray(result.labels, dtype=object), result
