"""The recipe over a whole search: one label per candidate, and the deeper-worse note (seed 003)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from ._diagnose import default_references
from ._remedies import remedies
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
        score, or a failed fit: a traceback in hpsearch's ``error`` column, whose mean
        holds ``error_score`` values). This is the ``diagnosis`` column.
    notes : list of str
        Search-level remarks: where "poor" came from, and whether deeper candidates train
        worse than shallower ones.
    evidence : dict
        ``baseline_train``, ``linear_train``, ``best_train``, ``unit_train`` (the
        :math:`m^*_{tr}` of the unit: ``best_train`` unless given), ``reference_train``, ``unit``,
        ``train_threshold``, ``gap_threshold`` (the same for every candidate), ``references``
        (``"given"`` or ``"candidates"``) and ``best_train_by_depth`` (number of hidden
        layers -> best mean train score; for halving rows, at the budget compared),
        ``best_possible`` (the metric's best value, None where unknown), ``pairwise``
        (True when ``references`` were given for a pairwise ``estimator``: ``X`` a
        precomputed kernel, a note says what the references were fitted on); with
        ``references``, also ``baseline_validation``, ``linear_validation`` (their mean
        test scores) and ``best_validation`` (the best finite mean test score of a
        candidate).
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
                     references=None, sample_weight=None, score_params=None):
    """Cross-validated train and test scores of the recipe's references, on the search's splits.

    The trivial baseline and the linear reference of :func:`hpsearch.diagnostics.diagnose`
    (``default_references(estimator, X, y)``, overridable with ``references``) are fitted on
    the training rows of every split and scored on its training and test rows, by the
    same functions that fit and score a search's candidates (``return_train_score=True``,
    ``error_score=np.nan``, as :func:`sklearn.model_selection.cross_validate`): two extra
    fits per split (a dummy and a linear model), nothing else. For a pairwise ``estimator``
    (``X`` a precomputed kernel) a reference that is not pairwise is fitted on
    ``K[train][:, train]`` and scored on ``K[test][:, train]``, the columns the estimator
    sees (:func:`default_references`), never on a test row's column.

    A search fitted with ``sample_weight`` scores its candidates with weights; so are the
    references, on the same metric:

    * ``score_params`` (e.g. ``{"sample_weight": w}``) go to the scorer on every split,
      cut to the rows scored, exactly as the search passes them to its scorer.
    * ``sample_weight`` (the weights the search's estimator, or its final step, is fitted
      with) fits every reference: an estimator whose ``fit`` takes ``sample_weight`` gets
      the training rows' weights; a :class:`~sklearn.pipeline.Pipeline` gives them to its
      final step only (``<last step>__sample_weight``, as one weights the searched model
      of a pipeline), the preprocessing steps are fitted unweighted. With metadata routing
      enabled (``sklearn.set_config(enable_metadata_routing=True)``) the pipeline routes
      them instead: a step's request the user set is kept (the estimator's own
      preprocessing steps, cloned into the linear reference, are weighted where the
      candidates' are), an unset one is set to the same rule (final step ``fit``:
      ``True``, other steps: ``False``; final step ``score``: ``True`` when
      ``score_params`` hold ``sample_weight``).

    Parameters
    ----------
    estimator : estimator
        The searched estimator (decides classifier/regressor and the preprocessing the linear
        reference reuses).
    X, y, groups : array-like
    cv : int, splitter or iterable of (train, test) index arrays, default=5
    scoring : str, callable, list or dict, default=None
        As in ``cross_validate`` (None: each reference's own ``score``).
    references : dict, default=None
        Override ``"baseline"`` / ``"linear"`` (None drops one; :func:`diagnose_results`
        needs the baseline).
    sample_weight : array-like of shape (n_samples,), default=None
        Weights every reference is fitted with (see above). None: unweighted fits.
    score_params : dict, default=None
        Parameters of the scorer (per-sample ones are cut to the rows scored).

    Returns
    -------
    dict
        ``{"baseline": {"train_score": .., "test_score": ..}, "linear": {...}}`` (keys
        ``train_<metric>`` / ``test_<metric>`` for several metrics); NaN where a reference
        cannot be fitted or scored.

    Raises
    ------
    ValueError
        When the scorer returns something other than one number ("scoring must return a
        number", as the search and ``cross_validate`` raise it).
    """
    import warnings

    from sklearn.base import is_classifier
    from sklearn.model_selection import check_cv
    from sklearn.utils import indexable

    X, y, groups = indexable(X, y, groups)
    if isinstance(cv, (Integral, type(None))) or hasattr(cv, "split"):
        cv = check_cv(cv, y, classifier=is_classifier(estimator)).split(X, y, groups)
    splits = [(np.asarray(train), np.asarray(test)) for train, test in cv]
    refs = default_references(estimator, X, y)
    refs.update(references or {})
    out = {}
    for name, ref in refs.items():
        if ref is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = _weighted(ref, sample_weight is not None,
                            "sample_weight" in (score_params or {}))
            try:  # several metrics: one that fails is NaN, the others are kept
                scorer = _check_scoring(ref, scoring)  # (a failed metric: NaN, _score)
            except (TypeError, ValueError):  # a scoring the reference cannot use
                out[name] = {}
                continue
            fit_params = _reference_fit_params(ref, sample_weight)
            folds = [_split_scores(ref, *_split_view(estimator, ref, X, y, train, test,
                                                     fit_params, score_params), scorer)
                     for train, test in splits]
        out[name] = _mean_scores(folds)
    keys = {k for scores in out.values() for k in scores}
    return {name: {k: scores.get(k, math.nan) for k in sorted(keys)}
            for name, scores in out.items()}


def _routing():
    from sklearn import get_config

    return bool(get_config().get("enable_metadata_routing", False))


def _steps(estimator, prefix=""):
    """``(name path, step, is the final step)`` of every step of a (nested) pipeline; a
    plain estimator is its own final step (path ``""``)."""
    steps = getattr(estimator, "steps", None)
    if not steps:
        return [(prefix, estimator, True)]
    found = []
    for i, (name, step) in enumerate(steps):
        if step in (None, "passthrough"):
            continue
        inner = _steps(step, f"{prefix}{name}__")
        last = i == len(steps) - 1
        found += [(path, s, final and last) for path, s, final in inner]
    return found


def _accepts_weight(method):
    """Whether ``method`` takes ``sample_weight`` (the search engine's signature check)."""
    from hpsearch.model_selection._engine import _accepts

    return _accepts(method, "sample_weight")


def _weighted(ref, fit_weights, score_weights):
    """A clone of ``ref``; with metadata routing enabled, the unset ``sample_weight``
    requests of a pipeline's steps set (requests the user set are kept): with weights in
    ``fit``, ``True`` for the final step's ``fit`` and ``False`` for the other steps';
    with weights in the score, ``True`` for the final step's ``score`` (the reference's
    own ``score`` is the scorer when ``scoring`` is None)."""
    from sklearn.base import clone

    ref = clone(ref)
    if not ((fit_weights or score_weights) and _routing() and hasattr(ref, "steps")):
        return ref
    for _, step, final in _steps(ref):
        wanted = {"fit": final} if fit_weights else {}
        if score_weights and final:
            wanted["score"] = True
        for method, value in wanted.items():
            setter = getattr(step, f"set_{method}_request", None)
            if setter is None or not _accepts_weight(getattr(step, method, None)):
                continue
            requests = getattr(step.get_metadata_routing(), method).requests
            if requests.get("sample_weight") is None:
                setter(sample_weight=value)
    return ref


def _check_scoring(estimator, scoring):
    """sklearn's scorer of ``scoring`` for ``estimator``, several metrics not raising
    (``check_scoring(..., raise_exc=False)``; before scikit-learn 1.6, which lacks it,
    the ``_MultimetricScorer`` ``cross_validate`` builds)."""
    from sklearn.metrics import check_scoring

    try:
        return check_scoring(estimator, scoring, raise_exc=False)
    except TypeError as exc:
        if "raise_exc" not in str(exc):
            raise
    if not isinstance(scoring, (list, tuple, set, dict)):
        return check_scoring(estimator, scoring)
    from sklearn.metrics._scorer import _check_multimetric_scoring, _MultimetricScorer

    return _MultimetricScorer(scorers=_check_multimetric_scoring(estimator, scoring),
                              raise_exc=False)


def _reference_fit_params(ref, sample_weight):
    """The fit parameters that give ``ref`` the weights (see :func:`reference_scores`)."""
    if sample_weight is None:
        return {}
    if _routing() and hasattr(ref, "steps"):
        return {"sample_weight": sample_weight}  # the pipeline routes them
    for path, step, final in _steps(ref):
        if final and _accepts_weight(getattr(step, "fit", None)):
            return {f"{path}sample_weight": sample_weight}
    return {}


def _split_view(estimator, ref, X, y, train, test, fit_params, score_params):
    """``(X, y, train, test, fit_params, score_params)`` that ``ref`` is fitted and scored
    on for the split ``(train, test)``: as given, unless ``estimator`` is pairwise (its
    ``X`` a precomputed kernel) and ``ref`` is not. Then the kernel as the estimator sees
    it (:func:`~hpsearch.model_selection._engine._take_x`): the rows ``train`` then
    ``test``, the columns of the training rows only, ``K[train + test][:, train]``, with
    ``y`` and the per-sample parameters cut to those rows, and the indices of the two
    parts in it. The linear reference is then a linear model on the training rows' kernel
    columns, fitted on ``K[train][:, train]`` and scored on ``K[test][:, train]`` (before,
    it was fitted on ``K[train]`` with every column: the test rows' too)."""
    from sklearn.utils.validation import _check_method_params

    from hpsearch.model_selection._engine import _pairwise, _take, _take_x

    if not _pairwise(estimator) or _pairwise(ref):
        return X, y, train, test, fit_params, score_params
    rows = np.concatenate([train, test])
    cut = {name: _check_method_params(X, params=params, indices=rows) if params else params
           for name, params in (("fit", fit_params), ("score", score_params))}
    return (_take_x(estimator, X, rows, train), None if y is None else _take(y, rows),
            np.arange(len(train)), np.arange(len(train), len(rows)), cut["fit"], cut["score"])


def _split_scores(ref, X, y, train, test, fit_params, score_params, scorer):
    """Fit a clone of ``ref`` on ``train`` and score it on ``train`` and ``test`` with the
    search engine's own functions; None when the fit fails, a missing metric when the
    scoring does (a scorer returning several numbers is raised, as by the search)."""
    from sklearn.base import clone

    from hpsearch.model_selection._engine import ScoringNotANumber, _fit, _score

    est = clone(ref)
    try:
        _fit(est, X, y, train, fit_params)
    except Exception:  # noqa: BLE001 - a reference that cannot be fitted is NaN
        return None
    scores = {}
    for part, rows in (("train", train), ("test", test)):
        try:
            found, _ = _score(scorer, est, X, y, rows, train, score_params)  # (a failed
            # metric of several is error_score, NaN; its error text is not needed here)
        except ScoringNotANumber:  # a mistake in scoring: raised, as the search does
            raise
        except Exception:  # noqa: BLE001 - nor one that cannot be scored
            continue
        scores.update({f"{part}_{k}": v for k, v in found.items()})
    return scores


def _mean_scores(folds):
    """Mean per key over the splits (NaN where a split has none); ``{}`` when no fit
    succeeded."""
    fitted = [f for f in folds if f is not None]
    if not fitted:
        return {}
    keys = sorted({k for f in fitted for k in f})
    return {k: float(np.mean([f.get(k, math.nan) if f is not None else math.nan
                              for f in folds])) for k in keys}


def _final_sample_weight(estimator, fit_params):
    """The ``sample_weight`` the final estimator of ``estimator`` is fitted with, given
    the fit parameters a search passes to ``estimator.fit`` (routed ones with metadata
    routing enabled); None when unweighted.

    Without routing: ``sample_weight``, or for a :class:`~sklearn.pipeline.Pipeline`
    ``<last step>__sample_weight`` (nested pipelines: the path of names). With routing:
    what the pipeline routes to its final step's ``fit`` (aliases resolved).
    """
    fit_params = dict(fit_params or {})
    steps = getattr(estimator, "steps", None)
    if not steps:
        return fit_params.get("sample_weight")
    name, last = steps[-1]
    if last in (None, "passthrough"):
        return None
    if _routing():
        routed = estimator.get_metadata_routing().route_params(caller="fit",
                                                               params=fit_params)
        inner = routed[name].get("fit", {}) if name in routed else {}
    else:
        inner = {k[len(name) + 2:]: v for k, v in fit_params.items()
                 if k.startswith(f"{name}__")}
    return _final_sample_weight(last, inner)


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


def _deep_fixes(estimator):
    """The training-side fixes the deeper-worse note names: those ``estimator`` (the final
    step of a pipeline) has; scikit-learn's MLP has no ``init`` and no ``"maxout"``
    activation (it was told ``init='he'`` and ``activation='maxout'``)."""
    if estimator is None:
        return "activation='relu' or 'maxout', solver='adam', init='he'"
    from ._remedies import final_params

    p = final_params(estimator)
    maxout = " or 'maxout'" if "maxout_pieces" in p else ""
    said = [f"activation='relu'{maxout}" if "activation" in p else "",
            "solver='adam'" if "solver" in p else "", "init='he'" if "init" in p else ""]
    return ", ".join(s for s in said if s) or "another setting"


def _deeper_note(params_list, train, unit, thresholds, resources=None, estimator=None):
    """Seed 003: a deeper net scoring worse on TRAINING data is an optimization problem."""
    best, level = _same_budget(params_list, train, resources)
    if len(best) < 2:
        return best, None
    top = max(best, key=lambda d: (best[d], -d))        # the best-training depth (shallowest tie)
    margin = thresholds["deeper"] * unit
    worse = [d for d in sorted(best) if d > top and best[d] < best[top] - margin]
    if not worse:
        return best, None
    from ._diagnose import _f  # (3 decimals, or 3 significant digits where those round
    # a non-zero score to 0: a loss in small units read "-0.000 ... only -0.000")

    listed = ", ".join(f"{_f(best[d])} with {d}" for d in worse)
    at = "" if level is None else f" (at the same budget, n_resources={level})"
    return best, (
        f"Deeper candidates train worse{at}: the best training score is {_f(best[top])} with "
        f"{top} hidden layer{'s' if top != 1 else ''}, only {listed}. A deeper net that "
        "scores worse on TRAINING data is an optimization problem, not overfitting (seed "
        f"003): for the deep candidates try {_deep_fixes(estimator)}; dropout or "
        "regularization would only make it worse.")


def _weak_reference_note(train, labels, evidence, thresholds, resources=None,
                         estimator=None):
    """A note when the linear reference fits the training rows little better than the
    trivial baseline (less than half the best candidate's improvement over it): the
    threshold then flags only candidates worse than a linear model, and a candidate
    training far below the best one (``y = |x1| + |x2|``: ReLU 0.46, PReLU 0.98) is
    labelled good. The lecture checks the training score first: that shortfall is on
    the training rows, a training-side matter, not one regularization can fix. Rows of
    a search with budgets are compared at the largest one. A linear reference without a
    training score (NaN: it could not be fitted or scored) is no reference at all: the
    threshold is then the trivial baseline's alone, and the note says so."""
    base, linear, best = (evidence["baseline_train"], evidence["linear_train"],
                          evidence["best_train"])
    if not all(math.isfinite(v) for v in (base, best)) or best - base <= 0:
        return None
    measured = math.isfinite(linear)  # (without one, the rule is the baseline's alone: the
    # note said "training score -7.1 vs -7.1", a linear score never measured)
    if measured and linear - base >= 0.5 * (best - base):
        return None
    margin = thresholds["train"] * evidence["unit"]
    rows = range(len(train)) if resources is None else [
        i for i, r in enumerate(resources) if r == max(resources)]
    far = sorted(float(train[i]) for i in rows if labels[i] in ("none", "overfitting")
                 and math.isfinite(train[i]) and train[i] < best - margin)
    if not far:
        return None
    shown = ", ".join(f"{v:.3g}" for v in far[:5]) + (", ..." if len(far) > 5 else "")
    side = ("activation, solver, learning rate, capacity" if estimator is None
            else ", ".join(remedies(estimator)["training"]))
    head = (f"The linear reference fits the training rows little better than the trivial "
            f"baseline (training score {linear:.3g} vs {base:.3g}; the best candidate "
            f"{best:.3g}), so 'poor training' (below {evidence['train_threshold']:.3g}) flags "
            "only candidates worse than a linear model") if measured else (
            "The linear reference has no training score (it could not be fitted or scored "
            "on these folds with this scoring), so 'poor training' (below "
            f"{evidence['train_threshold']:.3g}) is judged against the trivial baseline "
            f"alone (training score {base:.3g}; the best candidate {best:.3g})")
    return (f"{head}: {len(far)} candidate(s) labelled "
            f"good on training still train far below the best one ({shown}). That shortfall "
            "is on the TRAINING rows: by the lecture's recipe its fix is on the training "
            f"side ({side}), not {'' if estimator is None else 'more '}regularization.")


def best_of_scoring(scoring, metric, estimator=None):
    """The best value the search's ``metric`` can take (its scorer in ``scoring``, a
    search's parameter), or None where unknown: 1 for accuracy, r2 and the scorers of
    :data:`hpsearch.diagnostics._diagnose._BEST_IS_ONE` (and a classifier's or regressor's
    own ``score``), 0 for ``neg_*`` scorers."""
    from ._diagnose import _best_possible

    if isinstance(scoring, dict):
        scoring = scoring.get(metric)
        return _best_possible(scoring, estimator) if isinstance(scoring, str) else None
    if isinstance(scoring, (list, tuple, set, frozenset)):
        return _best_possible(metric, estimator) if metric in scoring else None
    if scoring is None or isinstance(scoring, str):
        return _best_possible(scoring, estimator) if metric == "score" else None
    return None  # a callable: its best is not known


def _no_signal_note(evidence, metric, best_possible=None):
    """A note when no candidate's mean validation score, nor the linear reference's, is
    above the trivial baseline's (noise-level data): neither remedy of the recipe can then
    raise the validation score above the baseline's. A baseline at ``best_possible`` (the
    metric's best value; None: unknown) is a constant target."""
    from ._diagnose import _reached, no_signal

    best, linear, base = (evidence[k] for k in ("best_validation", "linear_validation",
                                                "baseline_validation"))
    if not no_signal(best, linear, base):
        return None
    trained = [v for v in (evidence["best_train"], evidence["linear_train"]) if math.isfinite(v)]
    # (a constant target: "noise level" and "more data or more informative features will"
    # beat a baseline already at the ceiling. Only there: a disk of 12 % positives, where
    # stumps and the linear reference train at the majority's accuracy 0.88, was called
    # one, "no model can score above the baseline", and a depth-4 tree scores 0.95)
    if trained and max(trained) <= base and best_possible is not None \
            and _reached(base, best_possible):
        return (f"On the validation folds the trivial baseline, which ignores the features, "
                f"scores {base:.4g}: as much as any candidate (best {max(trained):.4g}) or "
                "the linear reference scores on its own training folds. The target is "
                "predictable without the features (a constant target?): no model can score "
                "above the baseline.")
    shown = f" nor the linear reference ({linear:.4g})" if math.isfinite(linear) else ""
    return (f"On the validation folds no candidate (the best: {best:.4g}){shown} scores "
            f"above the trivial baseline ({base:.4g}), which ignores the features. If no model "
            f"does, these rows hold no signal a model can learn (noise level): neither the "
            f"training-side fixes nor regularization will raise the validation {metric} above "
            "the baseline's; more data or more informative features will.")


def search_best_row(cv_results, metric="score"):
    """``(row, last_round)``: the row a search picked, read from its ``cv_results_``; None
    without a ``rank_test_<metric>`` column (or no rank).

    The first row of the lowest rank. hpsearch's searches (their results hold an ``error``
    column) rank the rows they can pick first, so that is their ``best_index_``.
    scikit-learn's successive halving (``HalvingGridSearchCV``, ``HalvingRandomSearchCV``:
    an ``iter`` column, no ``error`` column) ranks every row whatever its budget, so its
    rank 1 may be a row of an early round (the report named that row "the best candidate
    (rank 1)" and the map starred it): there the row is chosen among the rows of the last
    round with a finite ``mean_test_<metric>``, as scikit-learn picks ``best_index_``.
    ``last_round`` says whether it was so chosen though not of rank 1.
    """
    rank = cv_results.get(f"rank_test_{metric}") if hasattr(cv_results, "get") else None
    if rank is None:
        return None
    rank = np.asarray(rank, dtype=float)
    rows = np.flatnonzero(np.isfinite(rank))
    if "iter" in cv_results and "error" not in cv_results and rows.size:
        try:
            rounds = np.asarray(cv_results["iter"], dtype=float)
        except (TypeError, ValueError):
            rounds = None
        test = np.asarray(cv_results[f"mean_test_{metric}"], dtype=float)
        scored = rows[np.isfinite(test[rows])]
        if rounds is not None and scored.size:
            rows = rows[rounds[rows] == rounds[scored].max()]
    if not rows.size:
        return None
    best = int(rows[np.argmin(rank[rows])])
    return best, bool(rank[best] != rank[np.isfinite(rank)].min())


def _reference(references, name, part, metric):
    if not references or name not in references:
        return math.nan
    return float(references[name].get(f"{part}_{metric}", math.nan))


def _failed_fits(cv_results, n, metric):
    """Rows with a failed fit or ``metric`` score on some split (hpsearch's ``error``
    column, :func:`~hpsearch.model_selection._results.failed_splits`): their means hold
    ``error_score`` values, no measurement (with ``error_score=0`` a candidate that never
    fitted "trained" at 0 and was called a training problem). Another metric's failed
    scorer leaves ``metric`` measured."""
    from hpsearch.model_selection._results import failed_splits

    errors = cv_results["error"] if "error" in cv_results else [None] * n
    return np.array([bool(failed_splits(e, metric)) for e in errors], dtype=bool)


def _check_best_train(best_train):
    """``best_train`` as a float (NaN allowed: no score), or None."""
    from numbers import Real

    if best_train is None:
        return None
    if isinstance(best_train, bool) or not isinstance(best_train, Real) \
            or math.isinf(best_train):
        raise ValueError(
            "The 'best_train' parameter of diagnose_results must be a finite float, NaN or "
            f"None. Got {best_train!r} instead.")
    return float(best_train)


def diagnose_results(cv_results, *, metric="score", references=None, thresholds=None,
                     best_train=None, estimator=None, best_possible=None):
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
    largest at which at least two depths were scored. With ``references``, a note is
    added when the linear reference improves on the baseline's training score by less
    than half as much as the best candidate does and some candidate not labelled
    ``"training"`` trains more than ``thresholds["train"]`` units below the best: the
    threshold then measures against little, and their shortfall is a training-side one.
    With ``references``, a note is also added when no candidate's mean validation score,
    nor the linear reference's, is above the trivial baseline's: noise-level data, where
    neither the training-side fixes nor regularization can beat the baseline.

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
    best_train : float, default=None
        The training score :math:`m^*_{tr}` the unit is measured with (it stands for
        :math:`m_{tr}` in :math:`u`). None: the best finite mean train score of a
        candidate with a finite test score. A :class:`~hpsearch.RecipeSearchCV` passes
        the one its ``train_floor_`` was set with (the best of its training stage), so
        that its ``diagnosis`` column calls "training" exactly the candidates below the
        floor that it rejects (a later stage training better raised the unit, lowered
        the threshold, and a candidate between the two was labelled good but rejected).
        NaN: no candidate's score (the unit from the references alone).
    estimator : estimator, default=None
        The searched estimator: the notes name its own training-side remedies
        (:mod:`hpsearch.diagnostics._remedies`); None: the lecture's words for a network.
    best_possible : float, default=None
        The best value ``metric`` can take (:func:`best_of_scoring`): a trivial baseline
        that reaches it on the validation folds means a constant target (a note says so).
        None: from the metric's name where it names a scorer (``neg_*``: 0, ``accuracy``,
        ``r2``...: 1), else unknown (``"score"``), and no such note.

    Returns
    -------
    ResultsDiagnosis
        ``.labels`` is the ``diagnosis`` column.
    """
    thresholds = check_thresholds(thresholds)
    best_train_given = _check_best_train(best_train)
    kept = [k[len("mean_train_"):] for k in cv_results if str(k).startswith("mean_train_")]
    train = _column(cv_results, f"mean_train_{metric}",
                    f"the 'metric' parameter of diagnose_results must be one of {kept}. Got "
                    f"{metric!r} instead." if kept else
                    "fit the search with return_train_score=True (the recipe checks the "
                    "training score first).")
    test = _column(cv_results, f"mean_test_{metric}", f"is {metric!r} the right metric?")
    params = list(cv_results["params"])
    finite = (np.isfinite(train) & np.isfinite(test)
              & ~_failed_fits(cv_results, len(params), metric))
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
    unit_train = best_train if best_train_given is None else best_train_given
    labels = []
    for tr, te, ok in zip(train, test, finite):
        problem, _ = score_verdict(float(tr), float(te), base, linear, thresholds, unit_train)
        labels.append(problem if ok else "failed")
    _, evidence = score_verdict(best_train, best_train, base, linear, thresholds, unit_train)
    resources = cv_results["n_resources"] if "n_resources" in cv_results else None
    best, note = _deeper_note(params, train, evidence["unit"], thresholds, resources,
                              estimator)
    if note:
        notes.append(note)
    if best_possible is None and metric != "score":  # (the metric's name: a scorer's)
        from ._diagnose import _best_possible

        best_possible = _best_possible(metric, None)
    evidence = {"references": source, "baseline_train": base, "linear_train": linear,
                "best_train": best_train, "unit_train": unit_train,
                "best_possible": best_possible,
                "best_train_by_depth": best,
                **{k: evidence[k] for k in ("reference_train", "unit", "train_threshold",
                                            "gap_threshold")}}
    quiet = None
    if source == "given":
        evidence.update(
            baseline_validation=_reference(references, "baseline", "test", metric),
            linear_validation=_reference(references, "linear", "test", metric),
            best_validation=float(test[finite].max()) if finite.any() else math.nan)
        quiet = _no_signal_note(evidence, metric, best_possible)
    # (on noise a higher training score is no aim: no "shortfall on the TRAINING rows")
    weak = _weak_reference_note(train, labels, evidence, thresholds,
                                None if resources is None else list(resources),
                                estimator) \
        if source == "given" and not quiet else None
    notes += [note for note in (weak, quiet) if note]
    from hpsearch.model_selection._engine import _pairwise

    if source == "given" and estimator is not None and _pairwise(estimator):
        from ._diagnose import _kernel_text

        evidence["pairwise"] = True  # (the references saw the candidates' kernel columns)
        notes.append(_kernel_text(evidence, "the candidates"))
    return ResultsDiagnosis(labels=labels, notes=notes, evidence=evidence)


def _metric(cv_results, refit):
    """The metric a search's diagnosis is about: ``score``, else the refit metric, else the
    first metric with train scores."""
    from hpsearch.model_selection.stats import _refit_metric  # (a refit rule's metric too)

    keys = [k[len("mean_train_"):] for k in cv_results if k.startswith("mean_train_")]
    if "score" in keys or not keys:
        return "score"
    refit = _refit_metric(refit)
    return refit if refit in keys else keys[0]


def diagnosis_column(cv_results, estimator, X, y=None, *, cv, scoring=None, refit=True,
                     groups=None, fit_params=None, score_params=None):
    """The ``diagnosis`` column of a search's ``cv_results_`` (one call for a search's ``fit``).

    Runs :func:`reference_scores` on the search's own splits ``cv`` (two cheap extra fits
    per split) and :func:`diagnose_results` on the refit metric; returns
    ``(labels, ResultsDiagnosis)``: ``labels`` is an object array, one verdict per candidate.
    ``cv_results`` must hold train scores (``return_train_score=True``).

    ``fit_params`` and ``score_params`` are what the search passed to ``estimator.fit``
    and to its scorer (after routing): the references are fitted with the final
    estimator's ``sample_weight`` (:func:`_final_sample_weight`) and scored with the same
    ``score_params``, so that they are judged on the candidates' metric.
    """
    metric = _metric(cv_results, refit)
    refs = reference_scores(estimator, X, y, cv=cv, scoring=scoring, groups=groups,
                            sample_weight=_final_sample_weight(estimator, fit_params),
                            score_params=score_params)
    base = refs.get("baseline", {}).get(f"train_{metric}", math.nan)
    if not math.isfinite(base):  # (the error named a 'references' parameter never given)
        raise ValueError(
            f"the search's references must hold a finite training {metric!r} of the trivial "
            f"baseline ({type(default_references(estimator)['baseline']).__name__}), which "
            f"has none with scoring={scoring!r} on these splits: there is nothing to measure "
            "the candidates against (a scorer that fails on every model, e.g. 'f1' with "
            "string class labels, whose pos_label=1 is not a class, fails on it too)")
    result = diagnose_results(cv_results, metric=metric, references=refs, estimator=estimator,
                              best_possible=best_of_scoring(scoring, metric, estimator))
    result.references = refs
    return np.asarray(result.labels, dtype=object), result
