"""A "Diagnosis" section for a study report (Markdown), with its two plots."""

from __future__ import annotations

import math
from pathlib import Path

from ._curves import final_step, gradient_ratios
from ._plots import gradient_flow, recipe_map
from ._remedies import overfitting_text, remedies, training_text
from ._results import diagnose_results, search_best_row
from ._verdict import check_thresholds

__all__ = ["next_step", "report_section"]


def _final_rows(cv_results):
    """Rows that stand for one candidate each, or None when every row is its own candidate.

    A budgeted search (halving, Hyperband, ASHA, a pruned Optuna search: an
    ``n_resources`` or ``iter`` column) has one row per candidate and budget; a candidate
    is its row at its largest budget (its final verdict). A candidate is its ``trial`` or
    ``candidate`` number where the results have one, else its ``bracket`` and parameters.
    """
    import numpy as np

    levels = next((cv_results[k] for k in ("n_resources", "iter") if k in cv_results), None)
    if levels is None:
        return None
    try:
        levels = np.asarray(levels, dtype=float)
    except (TypeError, ValueError):  # budgets without an order
        return None
    ids = next((cv_results[k] for k in ("trial", "candidate") if k in cv_results), None)
    if ids is None:
        brackets = cv_results["bracket"] if "bracket" in cv_results else [None] * len(levels)
        ids = [(b, repr(sorted(p.items()))) for b, p in zip(brackets, cv_results["params"])]
    last = {}
    for i, key in enumerate(map(repr, ids)):
        if key not in last or levels[i] >= levels[last[key]]:
            last[key] = i
    return sorted(last.values())


def _count_line(labels):
    meaning = {"training": "poor on their training folds (optimize first)",
               "overfitting": "good on training, much worse on validation",
               "none": "good on both", "failed": "failed"}
    return [f"- {labels.count(k)} candidate(s) {text}" for k, text in meaning.items()
            if labels.count(k)]


#: what the recipe (LECTURE.md §4) asks next for a verdict of the best candidate
_NEXT = {
    "training": "optimize first (activation, solver or adaptive learning rate, learning "
                "rate, initialization, more epochs, more capacity); dropout and "
                "regularization will not help",
    "overfitting": "more regularization (early stopping, alpha or l1, dropout: stronger "
                   "where it has them already), less capacity or more data, then check the "
                   "training score again",
    "none": "nothing: it trains well and validates close to its training score",
    "failed": "its scores are not finite: see the errors in results.csv",
}


def next_step(verdict, estimator=None):
    """What the recipe asks next for a verdict, in ``estimator``'s own words
    (:mod:`hpsearch.diagnostics._remedies`: a tree's max_depth, a ridge model's alpha, an
    SVC's C and gamma); :data:`_NEXT` (the lecture's words, for a network) when the
    estimator is not known. A tree was told to change its "activation, solver or adaptive
    learning rate" and its "dropout"."""
    if estimator is None or verdict not in ("training", "overfitting"):
        return _NEXT[verdict]
    return training_text(estimator) if verdict == "training" else overfitting_text(estimator)


def _best_line(cv_results, labels, metric, label, estimator=None):
    """'- the best candidate (rank 1): overfitting (training 0.62, validation 0.46); next:
    ...': the recipe's verdict on the candidate the search picked, and what it asks next
    (the counts alone left a student to find the star on the map)."""
    import numpy as np

    found = search_best_row(cv_results, metric)
    if found is None:
        return []
    best, last_round = found
    verdict = labels[best]
    test = float(np.asarray(cv_results[f"mean_test_{metric}"], dtype=float)[best])
    scores = f"validation {test:.4g}"
    if f"mean_train_{metric}" in cv_results:  # (not kept: return_train_score=False)
        train = float(np.asarray(cv_results[f"mean_train_{metric}"], dtype=float)[best])
        scores = f"training {label or metric} {train:.4g}, {scores}"
    which = "the best of the last round" if last_round else "rank 1"
    return [f"- the best candidate ({which}) is {verdict!r}: {scores}; the recipe's next "
            f"step: {next_step(verdict, estimator)}"]


def _threshold_lines(e, thresholds, name):
    """The thresholds, and the numbers they were computed from (the references' training
    scores, R and the unit u), so that a reader can redo them by hand."""
    lines = [f"- thresholds: training {name} below {e['train_threshold']:.4g} is poor; "
             f"a train - validation gap above {e['gap_threshold']:.4g} is large"]
    tau_train, tau_gap = thresholds["train"], thresholds["gap"]
    rule = (f"poor below R - {tau_train:g}·u = {e['reference_train']:.4g} - {tau_train:g} x "
            f"{e['unit']:.4g}, large above {tau_gap:g}·u")
    unit = (f"the unit u = {e['unit']:.4g} (the best training {name} "
            f"{e['unit_train']:.4g} or R, whichever is higher, less the baseline's)")
    top = max(e["reference_train"], e["unit_train"]) if math.isfinite(e["unit_train"]) \
        else e["reference_train"]
    if not top - e["baseline_train"] >= e["unit"]:  # (nothing beat the baseline)
        scale = ("|baseline|, a negated loss's scale" if e["baseline_train"] < 0
                 else "max(1, baseline)")
        unit = (f"the unit u = {e['unit']:.4g} (its floor, 1e-3 x {scale}: nothing "
                "trained above the baseline)")
    if e.get("references") == "given":
        lines.append(
            f"- computed from the references on the same training folds: the linear "
            f"model's training {name} {e['linear_train']:.4g}, the trivial baseline's "
            f"{e['baseline_train']:.4g} (R = {e['reference_train']:.4g}, the better); "
            f"{unit}: {rule}")
    else:
        lines.append(
            f"- computed from the candidates' own scores (no references): R = "
            f"{e['reference_train']:.4g} (their best training {name}), the unit u = "
            f"{e['unit']:.4g} (R less their lowest score {e['baseline_train']:.4g}): {rule}")
    return lines


def _at_best(cv_results, metric, estimator):
    """``estimator`` at the parameters of the search's best row (rank 1 of
    ``rank_test_<metric>``), so that the remedies are worded for the values the best
    candidate has (a search over ``max_depth`` of an unlimited tree's base estimator: its
    best at ``max_depth=1`` was told "more capacity or less regularization", not "a larger
    max_depth"); ``estimator`` itself where that cannot be done."""
    from sklearn.base import clone

    if estimator is None:
        return estimator
    try:
        found = search_best_row(cv_results, metric)
        if found is None:
            return estimator
        return clone(estimator).set_params(**dict(list(cv_results["params"])[found[0]]))
    except Exception:  # noqa: BLE001 - words only: the estimator's own values then
        return estimator


def _intro(estimator):
    """The recipe in one sentence, with ``estimator``'s own remedies when it is known."""
    if estimator is None:
        train = "activation, adaptive learning rate"
        gap = "early stopping, regularization, dropout"
    else:
        r = remedies(estimator, values=False)  # (the candidates' values vary)
        train, gap = ", ".join(r["training"]), ", ".join(r["overfitting"])
    return ("First check the training score: poor training is an optimization problem "
            f"({train}), only good training with poor validation is overfitting ({gap}).")


def report_section(cv_results, out_dir, *, best_model=None, metric="score", references=None,
                   thresholds=None, plots_dir="plots", label=None, best_train=None,
                   diagnosis=None, estimator=None, best_possible=None):
    """Markdown of a report's "Diagnosis" section; writes its plots under ``out_dir``.

    With train scores in ``cv_results`` (``return_train_score``): the candidates' labels
    (:func:`hpsearch.diagnostics.diagnose_results`), its notes (e.g. deeper candidates
    training worse) and the recipe map (``<plots_dir>/recipe_map.png``). Without them, one
    line saying how to get them. With ``best_model`` (a fitted hpsearch MLP or a pipeline
    ending in one): its gradient flow (``<plots_dir>/gradient_flow.png``) and the first
    layer's gradient relative to the output layer's. ``label`` names the metric in the
    text and on the map's axes (default ``metric``, the ``cv_results`` key: ``"score"``
    for a single metric, whatever it is). ``thresholds`` and ``best_train`` are those of
    :func:`~hpsearch.diagnostics.diagnose_results` (a study report passes its search's:
    a :class:`~hpsearch.RecipeSearchCV`'s ``thresholds`` and the :math:`m^*_{tr}` of its
    floor, so that the section counts the labels of its ``diagnosis`` column).
    ``diagnosis`` (a :class:`~hpsearch.diagnostics.ResultsDiagnosis` of these candidates,
    e.g. a :class:`~hpsearch.RecipeSearchCV`'s ``diagnosis_``) is used when ``cv_results``
    holds no train scores: the search computed them and labelled its candidates, but
    ``return_train_score=False`` left them out (the section said "Train scores were not
    kept" while the summary printed the best candidate's verdict); the map needs them.
    ``estimator`` (the searched estimator; default ``best_model``) words the recipe's next
    steps and the map's regions with its own parameters
    (:mod:`hpsearch.diagnostics._remedies`); without either, the lecture's words for a
    network. ``best_possible`` is that of :func:`~hpsearch.diagnostics.diagnose_results`
    (a search's ``diagnosis_.evidence["best_possible"]``, from its scoring): whether a
    baseline at the top is a constant target.

    Returns
    -------
    str
        The section, starting with ``## Diagnosis``.
    """
    thresholds = check_thresholds(thresholds)
    out_dir = Path(out_dir)
    estimator = _at_best(cv_results, metric, best_model if estimator is None else estimator)
    lines = ["## Diagnosis (the lecture's recipe)", "", _intro(estimator), ""]
    result = None
    has_train = f"mean_train_{metric}" in cv_results
    if has_train:
        try:
            result = diagnose_results(cv_results, metric=metric, references=references,
                                      thresholds=thresholds, best_train=best_train,
                                      estimator=estimator, best_possible=best_possible)
        except ValueError as exc:  # e.g. one candidate and no references: say why, go on
            lines += [f"The candidates are not labelled: {exc}", ""]
    elif diagnosis is not None and len(diagnosis.labels) == len(cv_results["params"]):
        result = diagnosis  # labelled by the search from the train scores it computed
    if result is not None:
        e = result.evidence
        rows = _final_rows(cv_results)
        if rows is None:
            lines += _count_line(result.labels)
        else:  # one count per candidate, not per (candidate, budget) row
            lines += _count_line([result.labels[i] for i in rows])
            lines += [f"- (each at its largest budget; the recipe map shows all "
                      f"{len(result.labels)} rows, one per candidate and budget)"]
        lines += _best_line(cv_results, result.labels, metric, label, estimator)
        lines += [*_threshold_lines(e, thresholds, label or metric), ""]
        lines += [*(f"> {note}" for note in result.notes), ""] if result.notes else []
        if has_train:
            rel = f"{plots_dir}/recipe_map.png"
            recipe_map(cv_results, out_dir / rel, metric=metric, references=references,
                       thresholds=thresholds, label=label, best_train=best_train,
                       estimator=estimator)
            lines += ["### Recipe map", "", f"![Recipe map]({rel})", ""]
        else:
            lines += ["The search labelled its candidates from the train scores it "
                      "computed, but `return_train_score: false` left them out of the "
                      "results: set `return_train_score: true` to see them and draw the "
                      "recipe map.", ""]
    elif not has_train:
        lines += ["Train scores were not kept: set `return_train_score: true` to label every "
                  "candidate (training / overfitting / none) and draw the recipe map.", ""]
    if best_model is not None:
        rel = f"{plots_dir}/gradient_flow.png"
        if gradient_flow(best_model, out_dir / rel) is not None:
            ratios = gradient_ratios(final_step(best_model)[0])
            lines += ["### Gradient flow of the best model", ""]
            if ratios:
                verdict = ("undefined" if not math.isfinite(ratios[0]) else "vanishing"
                           if ratios[0] < thresholds["vanishing"] else "healthy")
                lines += [f"First layer's RMS gradient / output layer's (last epochs): "
                          f"{ratios[0]:.2g} ({verdict}; vanishing below "
                          f"{thresholds['vanishing']:g}).", ""]
            lines += [f"![Gradient flow]({rel})", ""]
    return "\n".join(lines)
