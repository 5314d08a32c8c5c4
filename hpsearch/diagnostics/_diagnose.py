"""``hpsearch.diagnose``: the lecture's recipe (LECTURE.md §4) applied to one model."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split

from ._causes import (DETECTORS, Context, active_regularization, describe_fix, fixes_for,
                      training_causes)
from ._curves import final_step, gradient_ratios, loss_curve, loss_trend
from ._remedies import remedies
from ._verdict import check_thresholds, score_verdict

__all__ = ["Diagnosis", "diagnose", "default_references"]

@dataclass
class Diagnosis:
    """The verdict of :func:`diagnose`.

    Attributes
    ----------
    problem : {"training", "overfitting", "none"}
        ``"training"``: poor on the training rows, optimize first (dropout and regularization
        will not help); ``"overfitting"``: good on the training rows, poor on the validation
        rows; ``"none"``: neither.
    causes : list of str
        From :data:`hpsearch.diagnostics.CAUSES`, most pressing first: for ``"training"`` any
        of ``"unstable"``, ``"vanishing_gradients"``, ``"over_regularized"``,
        ``"not_converged"``, ``"stuck"``, ``"too_small"``; for ``"overfitting"``
        ``"large_gap"``; empty for ``"none"``.
    evidence : dict
        Every number behind the verdict: ``train_score``, ``validation_score``, ``gap``, the
        references (``baseline_train``, ``baseline_validation``, ``linear_train``,
        ``linear_validation``, ``reference_train``, ``unit``), the thresholds it was held to
        (``train_threshold``, ``gap_threshold``), the loss trend (``loss_slope``: relative
        change per epoch at the end, ``loss_falling_share``, ``loss_rise``,
        ``loss_oscillation``, ``final_loss``, ``n_epochs``), ``gradient_ratios`` (each
        layer's RMS gradient over the last layer's), ``convergence_warning``, ``diverged``,
        ``regularization``, ``capacity``, ``scoring``, ``n_train``, ``n_validation``,
        ``loss_curve`` (whether the fit recorded a loss curve),
        ``thresholds``, ``network`` (whether the model is an MLP: the text rules out
        "dropout and regularization" for one, "more regularization" for any other),
        ``n_splits`` (1 without ``cv``), ``train_scores`` and ``validation_scores`` (each
        split's; ``train_score`` and ``validation_score`` are their means),
        ``train_score_std`` and ``validation_score_std`` (their spread over the splits,
        NaN for one split), ``weighted`` (whether ``sample_weight`` weighted the fits and
        the scores), ``pairwise`` (whether ``X`` is a precomputed kernel, cut as
        :func:`diagnose` says); with ``cv``, ``n_train`` and ``n_validation`` are the mean
        row counts of a split and every reference score is a mean over the splits.
    fixes : list of dict
        The lecture's fixes for these causes, in order, each a parameter change for
        ``estimator.set_params`` (keys prefixed with the step name for a pipeline).
    model : estimator
        The fitted clone that was diagnosed (its ``history_`` feeds
        :func:`hpsearch.diagnostics.gradient_flow`); with ``cv``, the first split's (the
        first whose fit diverged, if one did): the loss curve and the gradients the causes
        are read from are its.
    """

    problem: str
    causes: list
    evidence: dict
    fixes: list
    model: object = field(default=None, repr=False, compare=False)

    def apply(self, estimator, fix=0):
        """A clone of ``estimator`` with fix number ``fix`` applied (``set_params``)."""
        if not self.fixes:
            raise ValueError(f"This diagnosis (problem={self.problem!r}) suggests no fix.")
        if isinstance(fix, bool) or not isinstance(fix, Integral) \
                or not 0 <= fix < len(self.fixes):
            raise ValueError(f"The 'fix' parameter must be an int in the range "
                             f"[0, {len(self.fixes) - 1}]. Got {fix!r} instead.")
        return clone(estimator).set_params(**self.fixes[fix])

    def to_dict(self):
        """Plain data (JSON/YAML-safe): problem, causes, evidence, fixes."""
        def plain(v):
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            if isinstance(v, (np.floating, np.integer, np.bool_)):
                return v.item()
            return v
        return plain({"problem": self.problem, "causes": self.causes,
                      "evidence": self.evidence, "fixes": self.fixes})

    def __str__(self):
        e = self.evidence
        head = _HEADS[self.problem](e)
        parts = [head, _splits_text(e)]
        if self.causes:
            why = "; ".join(f"{c.replace('_', ' ')} ({_CAUSE_TEXT[c](e)})" for c in self.causes)
            parts.append(f"Causes: {why}.")
        if self.fixes:
            parts.append("Try, in order: " + "; ".join(describe_fix(f) for f in self.fixes) + ".")
        parts.append(_AFTER[self.problem])
        quiet = _no_signal_text(e)  # (then a higher training score is no aim: no
        # "shortfall on the training rows" next to it)
        if self.problem in ("none", "overfitting") and not quiet:
            parts.append(_weak_reference_text(e))
        parts.append(quiet)
        if self.problem == "overfitting" and not quiet:
            parts.append(_split_gap_text(e))
        parts.append(_few_rows_text(e))
        parts.append(_kernel_text(e))
        return " ".join(p for p in parts if p)


def _finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def _reached(score, best):
    """Whether ``score`` is the scorer's best possible value ``best`` up to rounding (a
    perfect tree's neg_log_loss is -2.2e-16, not 0)."""
    return _finite(score) and score >= best - 1e-9 * max(1.0, abs(best))


def no_signal(validation, linear_validation, baseline_validation):
    """Whether neither the model's (or the best candidate's) validation score nor the
    linear reference's is above the trivial baseline's (a NaN linear one is left out;
    False without a finite baseline or model score)."""
    if not (_finite(validation) and _finite(baseline_validation)):
        return False
    return validation <= baseline_validation and not (
        _finite(linear_validation) and linear_validation > baseline_validation)


def _no_signal_text(e):
    """A caveat when nothing beats the trivial baseline on the validation rows (noise-level
    data: a tree memorizing random targets was told only to regularize, a ridge model at
    the noise floor only to "optimize first"); neither remedy of the recipe can then raise
    the validation score above the baseline's."""
    va, lin, base = (e.get(k, math.nan) for k in ("validation_score", "linear_validation",
                                                   "baseline_validation"))
    if not no_signal(va, lin, base):
        return ""
    best = e.get("best_possible")
    if _finite(best) and _reached(base, best):  # (a constant target: the baseline is
        # already perfect, and "more data or more informative features" cannot beat it)
        return (f"Note: the trivial baseline, which ignores the features, already scores "
                f"{_f(base)} on the validation rows, the best possible {e['scoring']}: the "
                "target is predictable without the features (a constant target?), and no "
                "model can score above it.")
    linear = f" nor the linear reference ({_f(lin)})" if _finite(lin) else ""
    return (f"Note: on the validation rows neither this model ({_f(va)}){linear} scores "
            f"above the trivial baseline ({_f(base)}), which ignores the features. If no "
            "model does, these rows hold no signal a model can learn (noise level): neither "
            "the training-side fixes nor regularization will raise the validation "
            f"{e['scoring']} above the baseline's; more data or more informative features "
            "will.")


def _kernel_text(e, fitted="the model"):
    """For a pairwise estimator (``X`` a precomputed kernel or distance matrix, sklearn's tag
    ``input_tags.pairwise``): what ``fitted`` and the references were fitted on, and what
    the linear reference is then (a linear model on kernel columns, not on features)."""
    if not e.get("pairwise"):
        return ""
    linear = ("; the linear reference is a linear model on those kernel columns (one "
              "feature per training row: on a full-rank kernel it fits the training rows "
              "closely, so it asks the model to train as well as these columns allow)"
              if _finite(e.get("linear_train")) else "")
    return ("Note: X is a precomputed kernel or distance matrix (the estimator's tag "
            f"pairwise): {fitted} and the references were fitted on the training rows' columns "
            "K[train][:, train] and scored on K[validation][:, train], as sklearn's "
            f"cross_validate cuts it{linear}.")


def _splits_text(e):
    """With several splits (``cv``), what the scores of the verdict are: means, with their
    spread over the splits."""
    k = e.get("n_splits", 1)
    if not isinstance(k, int) or k < 2:
        return ""
    return (f"These are means over {k} cross-validation splits (the verdict is on the "
            f"means): training {e['scoring']} {_f(e['train_score'])} ± "
            f"{_f(e.get('train_score_std', math.nan))}, validation "
            f"{_f(e['validation_score'])} ± {_f(e.get('validation_score_std', math.nan))} "
            "(standard deviation over the splits).")


def _split_gap_text(e):
    """A caveat when the linear reference, fitted and scored on the same split, has a large
    gap too (a LogisticRegression at C=1e-4 on 300 rows was "Overfitting" and told C=1e-05:
    the 60 validation rows scored lower for every model, and another random_state called
    it "none" or "training")."""
    lin_tr, lin_va, threshold = (e.get(k, math.nan) for k in (
        "linear_train", "linear_validation", "gap_threshold"))
    if not (_finite(lin_tr) and _finite(lin_va) and _finite(threshold)) \
            or lin_tr - lin_va <= threshold:
        return ""
    if e.get("n_splits", 1) > 1:  # (a mean over splits: no one split to blame)
        return (f"Note: on these same splits the linear reference has a mean gap of "
                f"{_f(lin_tr - lin_va)} too ({_f(lin_tr)} training, {_f(lin_va)} "
                "validation), also above the threshold: part of this gap may be the data's "
                "(too few rows for any model to generalize from), not this model's "
                "overfitting alone; more rows narrow both.")
    return (f"Note: on this same split the linear reference has a gap of "
            f"{_f(lin_tr - lin_va)} too ({_f(lin_tr)} training, {_f(lin_va)} validation), "
            "also above the threshold: part of this gap may be the split's (its validation "
            "rows score lower for every model), not this model's overfitting; diagnose "
            "again with another random_state, with cv=5, or with more rows before "
            "regularizing.")


#: fewer validation rows than this: the verdict's validation side is said to be uncertain
_FEW_ROWS = 10


def _few_rows_text(e):
    """A caveat when the validation part is tiny (10 rows, a 2-row validation part: "No
    problem" at validation accuracy 1.000 with nothing said about its 2 rows)."""
    n, k = e.get("n_validation"), e.get("n_splits", 1)
    if isinstance(n, int) and isinstance(k, int) and k > 1:
        if n * k >= _FEW_ROWS:  # (each row validates once over K folds: the mean is
            return ""          # measured on them all)
        return (f"Note: the validation {e['scoring']} is measured on only about {n} row(s) "
                f"per split over {k} splits: one row more or less right moves it a lot, so "
                "the gap (and the verdict on it) is uncertain; pass more rows.")
    if not isinstance(n, int) or n >= _FEW_ROWS:
        return ""
    return (f"Note: the validation {e['scoring']} is measured on only {n} row(s): one row "
            "more or less right moves it a lot, so the gap (and the verdict on it) is "
            "uncertain; pass more rows (X_val, y_val) or a larger validation_fraction.")


def _weak_reference_text(e):
    """A caveat when the linear reference improves on the baseline's training score by
    less than half as much as the model (``y = |x1| + |x2|``: r2 0.01 vs the MLP's 0.49):
    "good training" then only means "better than a linear model"."""
    base, linear, train = (e.get(k, math.nan) for k in ("baseline_train", "linear_train",
                                                         "train_score"))
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (base, train)) \
            or train - base <= 0:
        return ""
    measured = _finite(linear)  # (without one, the rule is the baseline's alone: the note
    # said "fits the training rows little better than the trivial baseline (-7.134 vs
    # -7.134)", a linear score never measured)
    if measured and linear - base >= 0.5 * (train - base):
        return ""
    best = e.get("best_possible")
    if _finite(best) and _reached(train, best):  # (was: a tree at training r2 1.000 was told
        return ""  # of a "shortfall on the training rows"; at neg_log_loss -2.2e-16 too)
    knobs = e.get("knobs", "activation, solver or size")
    reach = "a network" if e.get("network", True) else "a more flexible model"
    head = (f"Note: the linear reference fits the training rows little better than the "
            f"trivial baseline ({_f(linear)} vs {_f(base)}), so the threshold measures "
            f"against little: the training {e['scoring']} {_f(train)} is good next to a "
            "linear model") if measured else (
            "Note: the linear reference has no training score (it could not be fitted or "
            "scored with this scoring), so the threshold measures against the trivial "
            f"baseline alone ({_f(base)}): the training {e['scoring']} {_f(train)} is good "
            "next to a model that ignores the features")
    return (f"{head}, not necessarily next to what {reach} can reach; if another "
            f"{knobs} trains higher, this shortfall on the training rows "
            "is a training problem (optimize first).")


#: scorers whose best possible value is 1 (``neg_*`` scorers: 0): a training score there
#: leaves nothing to optimize
_BEST_IS_ONE = {"accuracy", "balanced_accuracy", "r2", "explained_variance", "roc_auc",
                "roc_auc_ovr", "roc_auc_ovo", "roc_auc_ovr_weighted", "roc_auc_ovo_weighted",
                "average_precision", "f1", "f1_macro", "f1_micro", "f1_weighted",
                "precision", "recall", "jaccard"}


def _best_possible(scoring, estimator):
    """The best value ``scoring`` can take (None where unknown): 1 for the scorers of
    :data:`_BEST_IS_ONE` and for a scikit-learn classifier's or regressor's own ``score``
    (accuracy, r2), 0 for ``neg_*`` scorers."""
    from sklearn.base import is_classifier, is_regressor

    if not isinstance(scoring, str):
        return 1.0 if scoring is None and (is_classifier(estimator)
                                           or is_regressor(estimator)) else None
    if scoring.startswith("neg_"):
        return 0.0
    return 1.0 if scoring in _BEST_IS_ONE else None


def _knobs(estimator):
    """What of ``estimator`` could train higher, in the weak-reference note's words."""
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    if "activation" in params:
        return "activation, solver or size"
    return "setting or a larger model"


def _f(x):
    """A number of the verdict's text: 3 decimals, or 3 significant digits where 3 decimals
    would round a non-zero number to 0 (a loss in small units: "threshold -0.000" told
    nothing)."""
    if not isinstance(x, (int, float)) or math.isnan(x):
        return "nan"
    return f"{x:.3g}" if x != 0 and abs(x) < 5e-4 else f"{x:.3f}"


def _refs(e):
    return (f"the linear reference scores {_f(e['linear_train'])} and the trivial baseline "
            f"{_f(e['baseline_train'])} on the same training rows")


_HEADS = {
    "training": lambda e: (
        f"Training problem: the training {e['scoring']} {_below(e)} ({_refs(e)}), so "
        f"optimize first; {_not_helping(e)} will not help."),
    "overfitting": lambda e: (
        f"Overfitting: the training {e['scoring']} {_f(e['train_score'])} is good (threshold "
        f"{_f(e['train_threshold'])}) but the validation {e['scoring']} is "
        f"{_f(e['validation_score'])}, a gap of {_f(e['gap'])} (large above "
        f"{_f(e['gap_threshold'])})."),
    "none": lambda e: (
        f"No problem: the training {e['scoring']} {_f(e['train_score'])} is good (threshold "
        f"{_f(e['train_threshold'])}) and the validation {e['scoring']} "
        f"{_f(e['validation_score'])} is {_distance(e['gap'])} (a gap above "
        f"{_f(e['gap_threshold'])} would be overfitting)."),
}


def _not_helping(e):
    """What the recipe rules out for poor training: 'dropout and regularization' for a
    network (the lecture's words), 'more regularization' for any other model (a ridge
    model or a tree has no dropout; a ridge model held back by its alpha needs less)."""
    return "dropout and regularization" if e.get("network", True) else "more regularization"


def _below(e):
    """'is 0.376, below the threshold 0.909', or for no training score (a diverged fit:
    it read 'is nan, below the threshold') why there is none."""
    train, threshold = e["train_score"], _f(e["train_threshold"])
    if isinstance(train, (int, float)) and math.isfinite(train):
        return f"is {_f(train)}, below the threshold {threshold}"
    why = "the fit diverged" if e.get("diverged") else "the scorer returned no number"
    return f"is not a number ({why}) where the threshold is {threshold}"


def _distance(gap):
    """The validation score's place relative to the training score, in words."""
    return f"{_f(-gap)} above it" if gap < 0 else f"within {_f(gap)} of it"


_AFTER = {
    "training": "After a fix, diagnose again: the training score must be good before the "
                "validation score means anything.",
    # (more data is the lecture's fix no parameter holds, seed 004)
    "overfitting": "More training data, where it can be had, narrows the gap too. After a "
                   "fix, diagnose again: the training score must stay good.",
    "none": "",
}


def _unstable_text(e):
    if e["diverged"]:
        return f"training diverged: {e['diverged']}"
    rise = e["loss_rise"]
    if e.get("loss_curve") is False:  # no loss curve: the score told it
        return (f"the training {e['scoring']} {_f(e['train_score'])} is more than the unit "
                f"u = {_f(e['unit'])} below the trivial baseline's {_f(e['baseline_train'])}:"
                " the steps overshoot")
    if math.isnan(rise):  # loss_trend leaves it NaN for a curve with a NaN or inf loss
        return f"the training loss became non-finite (final loss {e['final_loss']:.3g})"
    if rise > 9:
        return f"the loss ended at {rise + 1:.2g} times its best"
    if rise > e["thresholds"]["rising"]:
        return f"the loss ended {rise:.0%} above its best"
    return f"the loss moved {e['loss_oscillation']:.0%} per epoch, up and down"


def _not_converged_text(e):
    if math.isnan(e["loss_slope"]) and isinstance(e["n_epochs"], int) and e["n_epochs"] < 2:
        return (f"it ran all of its {e['n_epochs']} epoch(s): too few for the loss to settle")
    if math.isnan(e["loss_slope"]):
        return "the estimator warned that it did not converge"
    return (f"the loss fell in {e['loss_falling_share']:.0%} of the last epochs, "
            f"{-e['loss_slope']:.2%} per epoch at the end")


_CAUSE_TEXT = {
    "unstable": _unstable_text,
    "vanishing_gradients": lambda e: (
        f"the first layer's RMS gradient is {e['gradient_ratios'][0]:.1e} of the last "
        "layer's"),
    "over_regularized": lambda e: "active: " + ", ".join(
        f"{k}={v}" for k, v in e["regularization"].items()),
    "not_converged": _not_converged_text,
    "stuck": lambda e: (
        f"the loss settled near {e['final_loss']:.3g} while the linear reference fits these "
        f"rows ({_f(e['linear_train'])})"),
    "too_small": lambda e: e["capacity"],
    "large_gap": lambda e: f"gap {_f(e['gap'])} > {_f(e['gap_threshold'])}",
}


def _preprocessing(estimator):
    """Clones of the preprocessing steps of a pipeline, those of a pipeline it ends with
    too (a nested pipeline's imputer was left out: the linear reference failed on the rows
    with missing values, and the model was judged against the trivial baseline alone)."""
    steps = getattr(estimator, "steps", None)
    if not steps:
        return []
    pre = [clone(s) for _, s in steps[:-1] if s not in (None, "passthrough")]
    return pre + _preprocessing(steps[-1][1])


def default_references(estimator, X=None, y=None):
    """The references a score is judged against: ``{"baseline": ..., "linear": ...}``.

    Baseline: ``DummyClassifier(strategy="prior")`` or ``DummyRegressor()`` (mean).
    Linear: the estimator's own preprocessing steps (for a pipeline), then
    ``StandardScaler`` and ``LogisticRegression(max_iter=1000)`` or ``Ridge()``; for a
    classifier with a 2-D ``y`` of several columns (multilabel or multi-output targets,
    which ``LogisticRegression`` refuses) one ``LogisticRegression`` per column
    (``MultiOutputClassifier``) — without it the linear reference was NaN and a multilabel
    net under-trained for 2 epochs was judged against the trivial baseline alone. The scaler
    centres only raw dense data: not after the estimator's own preprocessing, and not a
    sparse ``X`` (centring would densify it, and ``StandardScaler`` refuses: the linear
    reference failed on every sparse ``X``, so a model was judged against the trivial
    baseline alone and an under-trained net passed as training well).

    For a pairwise estimator (sklearn's tag ``input_tags.pairwise``: ``X`` a precomputed
    kernel or distance matrix) the same linear pipeline is fitted on the kernel columns of
    the training rows, ``K[train][:, train]``, and scored on ``K[test][:, train]``: the
    columns the estimator sees (:func:`diagnose`, :func:`reference_scores`), one feature
    per training row, never a test row's. It is a linear model on the kernel's features:
    for a linear kernel ``X @ X.T`` it scores as the linear reference on ``X``; for a
    full-rank kernel it can fit the training rows closely, and a kernel model whose
    training score stays well below it trains poorly on these inputs. (Without a linear
    reference the model would be judged against the trivial baseline alone, and a kernel
    SVC predicting the majority class would pass as training well.)
    """
    from scipy.sparse import issparse
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.multioutput import MultiOutputClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = is_classifier(estimator)
    pre = _preprocessing(estimator)
    linear = LogisticRegression(max_iter=1000) if classifier else Ridge()
    if classifier and np.ndim(y) == 2 and np.shape(y)[1] > 1:
        linear = MultiOutputClassifier(linear)
    return {
        "baseline": DummyClassifier(strategy="prior") if classifier else DummyRegressor(),
        "linear": make_pipeline(*pre, StandardScaler(with_mean=not (pre or issparse(X))),
                                linear),
    }


def _check_y(y, X_val, y_val):
    if y is None:
        raise ValueError("The 'y' parameter of diagnose must be the training targets (the "
                         "recipe compares training and validation scores). Got None instead.")
    if (X_val is None) != (y_val is None):
        raise ValueError("The 'X_val' and 'y_val' parameters of diagnose must be given "
                         "together. Got only "
                         f"{'X_val' if y_val is None else 'y_val'} instead.")


def _split(estimator, X, y, validation_fraction, random_state, groups=None):
    """``(train, validation)`` row indices of one split carved from ``X, y``."""
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, float) \
            or not 0 < validation_fraction < 1:
        raise ValueError("The 'validation_fraction' parameter of diagnose must be a float in "
                         f"the range (0, 1). Got {validation_fraction!r} instead.")
    y_arr = np.asarray(y)
    stratify = y if is_classifier(estimator) and y_arr.ndim == 1 else None
    rows = np.arange(len(y_arr))
    try:
        if groups is not None:
            return _group_split(X, y, groups, validation_fraction, random_state)
        # (the same split train_test_split(X, y, ...) draws: it depends on the number of
        # rows and the strata only)
        return tuple(train_test_split(rows, test_size=validation_fraction,
                                      random_state=random_state, stratify=stratify))
    except ValueError as exc:
        raise ValueError(
            f"The validation split of diagnose cannot be drawn: validation_fraction="
            f"{validation_fraction} of {len(y_arr)} samples ({exc}). Change "
            "'validation_fraction' or pass X_val and y_val.") from exc


def _group_split(X, y, groups, validation_fraction, random_state):
    """``(train, validation)`` row indices with no group on both sides
    (``GroupShuffleSplit``: ``validation_fraction`` of the groups held out)."""
    from sklearn.model_selection import GroupShuffleSplit
    from sklearn.utils import indexable

    X, y, groups = indexable(X, y, groups)
    return next(GroupShuffleSplit(
        n_splits=1, test_size=validation_fraction, random_state=random_state).split(
            X, y, groups))


def _cv_splits(estimator, X, y, cv, groups):
    """The ``(train, validation)`` row indices of ``cv``, resolved as
    :func:`sklearn.model_selection.cross_validate` resolves it (``check_cv``: an int is
    ``StratifiedKFold`` for a classifier with a binary or multiclass ``y``, else ``KFold``;
    unshuffled), except that an int with ``groups`` is ``GroupKFold`` (no group on both
    sides of any split, as the one-split diagnosis promises)."""
    from sklearn.model_selection import GroupKFold, check_cv

    if isinstance(cv, bool) or (isinstance(cv, Integral) and cv < 2):
        raise ValueError("The 'cv' parameter of diagnose must be None (one split), an int of "
                         "at least 2, a cross-validation splitter or an iterable of (train, "
                         f"validation) index arrays. Got {cv!r} instead.")
    try:
        if isinstance(cv, Integral) and groups is not None:
            splitter = GroupKFold(n_splits=int(cv))
        else:
            splitter = check_cv(cv, y, classifier=is_classifier(estimator))
        splits = [(np.asarray(tr), np.asarray(va))
                  for tr, va in splitter.split(X, y, groups)]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The 'cv' parameter of diagnose cannot split these {len(np.asarray(y))} samples: "
            f"{exc} Got cv={cv!r}.") from exc
    n = len(np.asarray(y))
    for tr, va in splits:
        if tr.size == 0 or va.size == 0 or max(tr.max(), va.max()) >= n:
            raise ValueError(
                "The 'cv' parameter of diagnose must give every split non-empty training "
                f"and validation row indices below n_samples={n}. Got a split of "
                f"{tr.size} training and {va.size} validation rows instead.")
    if not splits:
        raise ValueError(f"The 'cv' parameter of diagnose gave no split. Got {cv!r} instead.")
    return splits


def _check_weights(sample_weight, params, X, y, X_val):
    """``sample_weight`` as a float array of shape (n_samples,) (or None) and ``params``
    as a dict, each refused with the rule and the value got."""
    if params is not None and not isinstance(params, dict):
        raise ValueError("The 'params' parameter of diagnose must be a dict of fit "
                         f"parameters or None. Got {type(params).__name__} instead.")
    params = dict(params or {})
    if sample_weight is None:
        return None, params
    if "sample_weight" in params:
        raise ValueError("The 'params' parameter of diagnose must not hold 'sample_weight' "
                         "when the 'sample_weight' parameter is given (pass the weights "
                         "once). Got both instead.")
    if X_val is not None:
        raise ValueError(
            "The 'sample_weight' parameter of diagnose weights the rows of X, y, from which "
            "the validation part is carved; it must be None when X_val and y_val are given "
            "(their rows have no weights). Got sample_weight and X_val instead; to weight "
            "both, stack the rows and pass cv=[(train_indices, validation_indices)].")
    n = len(np.asarray(y))
    try:
        w = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError):
        w = None
    if w is None or w.shape != (n,):
        got = f"shape {np.shape(sample_weight)}" if w is not None else repr(sample_weight)
        raise ValueError(
            f"The 'sample_weight' parameter of diagnose must be an array-like of shape "
            f"(n_samples,) = ({n},) of numbers, one weight per row of X. Got {got} instead.")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(
            "The 'sample_weight' parameter of diagnose must hold finite, non-negative "
            "weights with a positive sum. Got min={:.3g}, max={:.3g}, sum={:.3g} "
            "instead.".format(np.min(w), np.max(w), np.sum(w)))
    return w, params


def _model_fit_params(model, sample_weight, params):
    """The fit parameters of the diagnosed model: ``params``, and ``sample_weight`` given
    to the model's ``fit`` (to the final step of a pipeline, as
    :func:`~hpsearch.diagnostics.reference_scores` weights the references)."""
    from ._results import _reference_fit_params

    if sample_weight is None:
        return params
    found = _reference_fit_params(model, sample_weight)
    if not found:
        final, _ = final_step(model)
        raise ValueError(
            "The 'sample_weight' parameter of diagnose is passed to the fit of the final "
            f"estimator, {type(final).__name__}, whose fit takes no sample_weight. Got "
            "sample_weight instead; pass None.")
    return {**params, **found}


def _parts(estimator, X, y, X_val, y_val, validation_fraction, random_state, groups, cv,
           sample_weight, params):
    """The parts the model is judged on: a list of ``(X_tr, y_tr, X_va, y_va, fit_params,
    w_tr, w_va)``, one per split (``fit_params`` cut to the training rows). ``X`` is cut as
    the searches and sklearn's ``cross_validate`` cut it: for a pairwise estimator (a
    precomputed kernel) ``K[train][:, train]`` and ``K[test][:, train]``, which the
    references are fitted and scored on too (it raised "Precomputed matrix must be a
    square matrix": the rows were cut, not the columns)."""
    from sklearn.utils import _safe_indexing, indexable
    from sklearn.utils.validation import _check_method_params

    from hpsearch.model_selection._engine import _take_x

    model_params = _model_fit_params(estimator, sample_weight, params)
    if X_val is not None:
        if cv is not None:
            raise ValueError("The 'cv' parameter of diagnose carves the validation parts "
                             "from X, y; it must be None when X_val and y_val are given. Got "
                             f"cv={cv!r} and X_val instead.")
        return [(X, y, X_val, y_val, model_params, None, None)]
    X, y = indexable(X, y)
    if cv is None:
        splits = [_split(estimator, X, y, validation_fraction, random_state, groups)]
    elif validation_fraction != 0.2:
        raise ValueError(
            "The 'validation_fraction' parameter of diagnose sizes the one validation part "
            "drawn without cv; with cv the splits are cv's, so it must be left at its "
            f"default 0.2. Got validation_fraction={validation_fraction!r} and cv={cv!r} "
            "instead.")
    else:
        splits = _cv_splits(estimator, X, y, cv, groups)
    parts = []
    for train, test in splits:  # (a precomputed kernel: K[train][:, train], K[test][:, train])
        parts.append((
            _take_x(estimator, X, train, train), _safe_indexing(y, train),
            _take_x(estimator, X, test, train), _safe_indexing(y, test),
            _check_method_params(X, params=model_params, indices=train),
            None if sample_weight is None else sample_weight[train],
            None if sample_weight is None else sample_weight[test]))
    return parts


def _non_finite_weights(model):
    """Whether the final step of ``model`` holds MLP weights (``coefs_``, ``intercepts_``)
    that are not all finite."""
    final, _ = final_step(model)
    arrays = [*(getattr(final, "coefs_", None) or ()),
              *(getattr(final, "intercepts_", None) or ())]
    return any(not np.all(np.isfinite(a)) for a in arrays)


def _fit(model, X, y, fit_params=None):
    """Fit (with ``fit_params``), noting a ConvergenceWarning and a diverged training: hpsearch's
    FloatingPointError, or scikit-learn's MLP refusing the non-finite weights its solver
    produced (a ValueError raised after the weights were set: they are checked, not the
    message; any other ValueError propagates)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            model.fit(X, y, **(fit_params or {}))
            diverged = ""
        except FloatingPointError as exc:  # hpsearch's TrainingDivergedError and the like
            text = str(exc)  # hpsearch's sentence, after scikit-learn's generic one
            start = text.find("The training loss became")
            diverged = (text[start:] if start >= 0 else text).split(". ")[0]
        except ValueError as exc:  # scikit-learn's MLP: "Solver produced non-finite ..."
            if not _non_finite_weights(model):
                raise
            diverged = (f"the weights became non-finite ({type(exc).__name__}: "
                        f"{str(exc).split('. ')[0]})")
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return warned, diverged


def _weights(w):
    return {} if w is None else {"sample_weight": w}


def _score(scorer, model, X, y, w=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(scorer(model, X, y, **_weights(w)))
        except Exception:  # a reference that cannot score this data: no reference
            return math.nan


def _reference_scores(references, X_tr, y_tr, X_va, y_va, scorer, w_tr=None, w_va=None):
    """Each reference's (training, validation) score on one split; fitted and scored with
    the rows' weights when there are any (as :func:`reference_scores` weights them)."""
    from ._results import _reference_fit_params, _weighted

    out = {}
    for name in ("baseline", "linear"):
        ref = references.get(name)
        if ref is None:
            out[name] = (math.nan, math.nan)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ref = _weighted(ref, w_tr is not None, w_tr is not None)
                ref.fit(X_tr, y_tr, **_reference_fit_params(ref, w_tr))
            except Exception:
                out[name] = (math.nan, math.nan)
                continue
        out[name] = (_score(scorer, ref, X_tr, y_tr, w_tr), _score(scorer, ref, X_va, y_va, w_va))
    return out


def _scorer(estimator, scoring):
    """One scorer: the recipe judges one score (a list or dict would score several)."""
    if isinstance(scoring, (list, tuple, set, dict)):
        raise ValueError(
            "The 'scoring' parameter of diagnose must be a str, a callable or None (the "
            f"recipe judges one score). Got {scoring!r} instead.")
    if isinstance(scoring, str):
        from sklearn.metrics import get_scorer_names

        if scoring not in get_scorer_names():  # (sklearn's error named check_scoring)
            raise ValueError(
                "The 'scoring' parameter of diagnose must be a str among "
                "sklearn.metrics.get_scorer_names(), a callable or None. Got "
                f"{scoring!r} instead.")
    return check_scoring(estimator, scoring=scoring)


def _check_references(scores, refs):
    """The rule needs the baseline on the training rows: the unit is measured from it (without
    it the unit falls to its 1e-3 floor and every tiny gap would be overfitting). A linear
    reference that was asked for but cannot be fitted or scored is a warning: the model is
    then judged against the trivial baseline alone, a much weaker rule."""
    if refs.get("linear") is not None and not math.isfinite(scores["linear"][0]):
        warnings.warn(
            f"The linear reference of diagnose ({type(refs['linear']).__name__}) could not be "
            "fitted or scored on the training rows, so training is judged against the trivial "
            "baseline alone (a weak rule: a model barely above the baseline passes). Pass "
            "references={'linear': <an estimator that fits this data>}.", UserWarning,
            stacklevel=3)
    if math.isfinite(scores["baseline"][0]):
        return
    given = {k: type(v).__name__ if v is not None else None for k, v in refs.items()}
    raise ValueError(
        "The 'references' parameter of diagnose must leave a 'baseline' that can be fitted "
        "and scored on the training rows (the recipe measures the training score and the gap "
        f"in units of the improvement over it). Got {given}, and the baseline gave no finite "
        "training score.")


def _capacity_text(ctx):
    sizes = ctx.params.get("hidden_layer_sizes")
    if DETECTORS["too_small"](ctx):
        return (f"hidden_layer_sizes={sizes!r} has a layer narrower than the "
                f"{ctx.n_outputs} outputs")
    return "the training score stays poor with none of the other causes"


def _context(final, curve, thresholds, warned, diverged, linear_fits, below_baseline=False):
    """What the detectors see of the fitted final step."""
    params = final.get_params(deep=False)
    max_iter, n_iter = params.get("max_iter"), getattr(final, "n_iter_", None)
    return Context(
        params=params, thresholds=thresholds,
        trend=loss_trend(curve, thresholds) if curve is not None else {},
        ratios=gradient_ratios(final), warned=warned, diverged=bool(diverged),
        stopped=isinstance(n_iter, Integral) and isinstance(max_iter, Integral)
        and n_iter < max_iter,
        n_outputs=getattr(final, "n_outputs_", None), linear_fits=linear_fits, model=final,
        below_baseline=below_baseline)


def _judge_split(estimator, refs, scorer, part):
    """Fit a clone on one split; ``(model, warned, diverged, (train, validation) score,
    reference scores)``."""
    X_tr, y_tr, X_va, y_va, fit_params, w_tr, w_va = part
    model = clone(estimator)
    warned, diverged = _fit(model, X_tr, y_tr, fit_params)
    scores = (math.nan, math.nan) if diverged else (
        float(scorer(model, X_tr, y_tr, **_weights(w_tr))),
        float(scorer(model, X_va, y_va, **_weights(w_va))))
    ref = _reference_scores(refs, X_tr, y_tr, X_va, y_va, scorer, w_tr, w_va)
    return model, warned, diverged, scores, ref


def _mean(scores):
    """The mean over the splits; NaN when one split has none (as a search's mean)."""
    return float(np.mean(scores))


def _std(scores):
    """The spread over the splits (population standard deviation, as a search's
    ``std_test_score``); NaN for one split, which measures none."""
    return float(np.std(scores)) if len(scores) > 1 else math.nan


def _detect(problem, ctx):
    if problem == "overfitting":
        return ["large_gap"]
    return training_causes(ctx) if problem == "training" else []


def diagnose(estimator, X, y, *, X_val=None, y_val=None, scoring=None,
             validation_fraction=0.2, random_state=None, references=None, thresholds=None,
             groups=None, cv=None, sample_weight=None, params=None):
    """Apply the lecture's recipe to one model: check training first, then the gap.

    Fits a clone of ``estimator`` on the training part, scores it on the training and the
    validation part, scores two references on the same split, reads the loss curve and the
    per-layer gradients the fit recorded, and returns a :class:`Diagnosis`: which side of
    the recipe the model is on, why, and the lecture's fixes as parameter changes.

    With ``cv`` it does so on every split of a cross-validation (the lecture's K-fold:
    each part validates once, the score is the mean): the scores below are then the means
    over the splits (``evidence["train_score_std"]``, ``["validation_score_std"]`` their
    spread, ``["train_scores"]``, ``["validation_scores"]`` each split's), and the verdict
    is on the means. One random split of a small data set is noisy: its validation rows
    may score lower for every model, and another ``random_state`` may give another verdict.

    **Poor training and a large gap** (module :mod:`hpsearch.diagnostics._verdict`):
    with the model's training score :math:`m_{tr}`, the trivial baseline's :math:`b_{tr}`
    and the linear reference's :math:`l_{tr}` on the same training rows,
    :math:`R = \\max(b_{tr}, l_{tr})` and the unit
    :math:`u = \\max(\\max(R, m_{tr}) - b_{tr}, 10^{-3} s)` (:math:`s`: 1 for a score on the
    scale of 1, accuracy or r2; the baseline's loss :math:`|b_{tr}|` for a negated loss,
    a ``neg_*`` scorer, so that the verdict does not depend on the target's units;
    :func:`hpsearch.diagnostics._verdict.unit_floor`):

    * training is poor when :math:`m_{tr} < R - 0.1\\,u` (``thresholds["train"]``);
    * the gap :math:`m_{tr} - m_{va}` is large when it exceeds :math:`0.1\\,u`
      (``thresholds["gap"]``);
    * ``problem`` is ``"training"`` if training is poor, else ``"overfitting"`` if the gap
      is large, else ``"none"``.

    E.g. on digits (accuracy) :math:`b_{tr} \\approx 0.10, l_{tr} = 1`: training below 0.91
    is poor, a gap above 0.09 is large.

    **Causes** (for ``"training"``, in this order; thresholds are keys of
    :data:`hpsearch.diagnostics.THRESHOLDS`), read from the MLP's ``history_`` (hpsearch) or
    ``loss_curve_`` (scikit-learn); over the last quarter of the epochs (at least 3):

    * ``"unstable"``: the fit diverged, or the last loss is more than 10 % above the best
      (``"rising"``), or the mean absolute epoch-to-epoch change exceeds 10 % of the loss
      with at least one step in four going up (``"oscillating"``); or, for an estimator
      with a step size (``learning_rate_init``, SGD's ``eta0``), a training score more than
      the unit :math:`u` below the trivial baseline's (fix: a smaller step);
    * ``"vanishing_gradients"``: the first layer's RMS weight gradient (``grad_norm_0`` over
      the square root of the layer's size), geometric mean over the window, is below
      ``1e-2`` of the output layer's (``"vanishing"``);
    * ``"over_regularized"``: ``dropout``, ``input_dropout`` or ``l1`` above 0, an MLP's
      ``alpha`` above ``1e-2`` (``"regularized"``), or an MLP's ``early_stopping``;
    * ``"not_converged"``: the loss fell in at least 80 % of the window's epochs
      (``"falling"``) and the estimator ran all ``max_iter`` epochs (or warned that it did
      not converge, e.g. L-BFGS stopped by ``max_fun``, whose fix is then ``max_fun``, or
      stopped by its ``tol`` rule while still falling by less than 1 % per epoch,
      ``"slow"``: a step too small, whose fix is a larger ``learning_rate_init``, not
      ``max_iter``; not for ``early_stopping`` or L-BFGS); a loss curve of fewer
      than 2 epochs that ran all ``max_iter`` (too short for a trend); for estimators
      without a loss curve (or a curve that short), a ``ConvergenceWarning`` during fit;
    * ``"stuck"``: an MLP with none of the causes above, no layer narrower than the outputs,
      and a linear reference that trains well (its training score reaches the threshold):
      not capacity but an optimizer stuck on a plateau or with saturated units;
    * ``"too_small"``: a hidden layer narrower than the number of outputs, or none of the
      causes above (and not ``"stuck"``).

    For ``"overfitting"`` the cause is ``"large_gap"``.

    Parameters
    ----------
    estimator : estimator or Pipeline
        Not fitted in place: a clone is fitted (kept as ``Diagnosis.model``).
    X, y : array-like
        The training data. The validation part is carved from it unless ``X_val, y_val``
        are given (the lecture: the validation set comes from the training data, never
        from the test set). For a pairwise estimator (sklearn's tag
        ``input_tags.pairwise``: ``SVC(kernel="precomputed")``), ``X`` is the
        (n_samples, n_samples) kernel or distance matrix, cut as sklearn's
        ``cross_validate`` cuts it: the model and the references are fitted on
        ``K[train][:, train]`` and scored on ``K[validation][:, train]``
        (:func:`default_references`: the linear reference is then a linear model on those
        kernel columns).
    X_val, y_val : array-like, default=None
        An explicit validation set (then all of ``X, y`` is used for training; for a
        pairwise estimator ``X_val`` is the (n_val, n_samples) kernel against the rows of
        ``X``).
    scoring : str or callable, default=None
        A scikit-learn scorer (greater is better); default ``estimator.score``.
    validation_fraction : float in (0, 1), default=0.2
        Share of ``X, y`` held out for validation (stratified for classifiers; with
        ``groups``, the share of the groups).
    random_state : int or None, default=None
        Seed of the validation split.
    references : dict, default=None
        Override ``"baseline"`` and/or ``"linear"`` of :func:`default_references` with
        unfitted estimators (None drops the linear reference; the baseline is required: the
        unit is measured from it).
    thresholds : dict, default=None
        Override entries of :data:`hpsearch.diagnostics.THRESHOLDS`.
    groups : array-like of shape (n_samples,), default=None
        Group labels of ``X, y``: the validation part is then carved by
        :class:`~sklearn.model_selection.GroupShuffleSplit`, so that no group has rows on
        both sides (rows of one group share what a model can memorize, and a random split
        hides that overfitting, as ``GroupKFold`` does not). Not used with ``X_val, y_val``
        (a ValueError then). With ``cv``: passed to its ``split``; an int ``cv`` is then
        :class:`~sklearn.model_selection.GroupKFold`.
    cv : int, cross-validation splitter or iterable, default=None
        None: one split (``validation_fraction``, ``random_state``). Otherwise the
        cross-validation whose every split is diagnosed, resolved as
        :func:`sklearn.model_selection.cross_validate` resolves it
        (:func:`~sklearn.model_selection.check_cv`): an int is the number of folds of
        :class:`~sklearn.model_selection.StratifiedKFold` for a classifier with a binary or
        multiclass ``y``, else of :class:`~sklearn.model_selection.KFold`, unshuffled as
        there (pass ``StratifiedKFold(5, shuffle=True, random_state=0)`` for shuffled
        folds); ``GroupKFold`` with ``groups``; a splitter (``split(X, y, groups)``) or an
        iterable of ``(train, validation)`` index arrays is used as given.
        ``random_state`` is then not used, nor ``validation_fraction`` (left at its
        default: another value is a ValueError); not with
        ``X_val, y_val`` (a ValueError). A ``ConvergenceWarning`` on any split counts; the
        loss curve and gradients are read from :attr:`Diagnosis.model`.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows of ``X, y`` (finite, non-negative, with a positive sum): the
        model is fitted with the training rows' weights (``fit(..., sample_weight=...)``;
        a :class:`~sklearn.pipeline.Pipeline` gives them to its final step,
        ``<last step>__sample_weight``, or routes them with metadata routing enabled) and
        every score, training and validation, is weighted (the scorer's
        ``sample_weight``); the references are fitted and scored with the same weights.
        Not with ``X_val, y_val`` (their rows have no weights: stack the rows and pass
        ``cv=[(train, validation)]``); a final estimator whose ``fit`` takes no
        ``sample_weight`` is a ValueError.
    params : dict, default=None
        Other parameters of ``estimator.fit`` (per-sample ones are cut to the training
        rows of each split), as ``cross_validate(params=...)`` passes them without
        metadata routing; they go to the fit only, not to the scorer or the references
        (use ``sample_weight`` for weights, which go to all three).

    Returns
    -------
    Diagnosis
        ``str(diagnosis)`` is a short paragraph; ``diagnosis.apply(estimator)`` applies the
        first fix.
    """
    from hpsearch.model_selection._engine import _pairwise

    thresholds = check_thresholds(thresholds)
    refs = default_references(estimator, X, y)
    if references is not None:
        unknown = set(references) - set(refs)
        if unknown:
            raise ValueError(f"The 'references' parameter of diagnose takes the keys "
                             f"['baseline', 'linear']. Got {sorted(unknown)} instead.")
        refs.update(references)
    _check_y(y, X_val, y_val)
    if groups is not None and X_val is not None:
        raise ValueError("The 'groups' parameter of diagnose carves the validation part "
                         "from X, y; it must be None when X_val and y_val are given. Got "
                         "groups and X_val instead.")
    sample_weight, params = _check_weights(sample_weight, params, X, y, X_val)
    parts = _parts(estimator, X, y, X_val, y_val, validation_fraction, random_state, groups,
                   cv, sample_weight, params)
    scorer = _scorer(estimator, scoring)
    fits = [_judge_split(estimator, refs, scorer, part) for part in parts]
    # (the verdict is on the means over the splits; the loss curve and the gradients are
    # read from one model: the first whose fit diverged, else the first split's)
    model, _, _, _, _ = next((f for f in fits if f[2]), fits[0])
    warned = any(f[1] for f in fits)
    diverged = next((f[2] for f in fits if f[2]), "")
    train_scores = [f[3][0] for f in fits]
    validation_scores = [f[3][1] for f in fits]
    m_tr, m_va = _mean(train_scores), _mean(validation_scores)
    ref = {name: (_mean([f[4][name][0] for f in fits]), _mean([f[4][name][1] for f in fits]))
           for name in ("baseline", "linear")}
    _check_references(ref, refs)
    problem, evidence = score_verdict(m_tr, m_va, ref["baseline"][0], ref["linear"][0],
                                      thresholds)
    n_train = [len(p[1]) for p in parts]
    n_validation = [len(p[3]) for p in parts]
    if problem == "failed":
        where = (f"on {n_validation[0]} validation samples" if len(parts) == 1 else
                 f"(mean over {len(parts)} splits of {min(n_validation)} to "
                 f"{max(n_validation)} validation samples)")
        raise ValueError(
            f"The validation {scoring if isinstance(scoring, str) else 'score'} of diagnose is "
            f"{m_va} {where} (training {m_tr:.4g}), so the gap "
            "between training and validation cannot be measured (e.g. r2 of fewer than 2 "
            "samples). Use a larger 'validation_fraction' or pass more rows in X_val, y_val"
            + (", or use fewer splits in 'cv'." if len(parts) > 1 else "."))

    final, prefix = final_step(model)
    curve = loss_curve(final)
    ctx = _context(final, curve, thresholds, warned, diverged,
                   linear_fits=math.isfinite(ref["linear"][0])
                   and ref["linear"][0] >= evidence["train_threshold"],
                   below_baseline=math.isfinite(m_tr)
                   and m_tr < ref["baseline"][0] - evidence["unit"])
    params, trend = ctx.params, ctx.trend
    causes = _detect(problem, ctx)
    evidence.update({
        "baseline_train": ref["baseline"][0], "baseline_validation": ref["baseline"][1],
        "linear_train": ref["linear"][0], "linear_validation": ref["linear"][1],
        "final_loss": float(curve[-1]) if curve is not None and curve.size else math.nan,
        "loss_curve": curve is not None,
        "loss_slope": trend.get("slope", math.nan),
        "loss_falling_share": trend.get("falling_share", math.nan),
        "loss_rise": trend.get("rise", math.nan),
        "loss_oscillation": trend.get("oscillation", math.nan),
        "n_epochs": trend.get("n_epochs", getattr(final, "n_iter_", None)),
        "gradient_ratios": ctx.ratios, "convergence_warning": warned, "diverged": diverged,
        "regularization": active_regularization(params, thresholds),
        "capacity": _capacity_text(ctx),
        "scoring": scoring if isinstance(scoring, str) else "score",
        "best_possible": _best_possible(scoring, model), "knobs": _knobs(final),
        "network": remedies(final)["network"],
        "n_train": int(round(np.mean(n_train))),
        "n_validation": int(round(np.mean(n_validation))),
        "n_splits": len(parts), "train_scores": train_scores,
        "validation_scores": validation_scores,
        "train_score_std": _std(train_scores), "validation_score_std": _std(validation_scores),
        "weighted": sample_weight is not None, "pairwise": _pairwise(estimator),
        "thresholds": thresholds,
    })
    return Diagnosis(problem=problem, causes=causes, evidence=evidence,
                     fixes=fixes_for(causes, ctx, prefix), model=model)
