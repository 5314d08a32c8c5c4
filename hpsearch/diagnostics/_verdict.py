"""The score half of the recipe (LECTURE.md §4): is the training score poor, is the gap large?

One rule, used by :func:`hpsearch.diagnose` (one model, one split) and by
:func:`hpsearch.diagnostics.diagnose_results` (every candidate of a search).

Notation (scores are "greater is better", as scikit-learn scorers): on the training part
the model scores :math:`m_{tr}`, the trivial baseline :math:`b_{tr}` and the linear
reference :math:`l_{tr}`; on the validation part :math:`m_{va}`.

.. math::

    R = \\max(b_{tr}, l_{tr}) \\qquad
    u = \\max\\bigl(\\max(R, m_{tr}) - b_{tr},\\; 10^{-3} s\\bigr)

* :math:`R` is the *training reference*: the better of the two reference models.
* :math:`u` is the *unit*: the largest improvement over the trivial baseline seen on the
  training data (floored so that a task where nothing beats the baseline does not turn noise
  into a verdict). The floor's scale :math:`s` (:func:`unit_floor`) is the score's own:
  :math:`s = \\max(1, b_{tr})` for a baseline score of at least 0 (accuracy, r2: scores on
  the scale of 1), :math:`s = \\max(|b_{tr}|, 10^{-9})` for a negative one, a negated loss
  (``neg_mean_squared_error``, ``make_scorer(..., greater_is_better=False)``) whose
  magnitude, the baseline's loss, is measured in the target's units: with
  :math:`\\max(1, |b_{tr}|)` a target in small units (a rate of std 0.008, a baseline MSE
  of 6e-5) had an absolute floor of 1e-3 that dwarfed every improvement, and an unpruned
  tree or a ridge model at the baseline's level was "none".
* training is **poor** when :math:`m_{tr} < R - \\tau_{train}\\,u`: the model fits its own
  training rows worse than the linear reference, by more than :math:`\\tau_{train}` units;
* the gap :math:`g = m_{tr} - m_{va}` is **large** when :math:`g > \\tau_{gap}\\,u`;
* problem: ``"training"`` if training is poor (whatever the validation score: the recipe
  checks training first), else ``"overfitting"`` if the gap is large, else ``"none"``;
  ``"failed"`` when training is good but the validation score is not finite (no gap to
  measure).

Defaults: :math:`\\tau_{train} = \\tau_{gap} = 0.1`. Example, digits (10 balanced classes,
accuracy): :math:`b_{tr} \\approx 0.10`, :math:`l_{tr} = 1.0`, so :math:`u = 0.9`, training
is poor below 0.91 and a gap above 0.09 is large.
"""

from __future__ import annotations

import math
from numbers import Real

__all__ = ["THRESHOLDS", "check_thresholds", "score_verdict", "unit_floor"]

#: Default thresholds of the recipe (each documented where it is used).
THRESHOLDS = {
    # score rule (this module)
    "train": 0.1,          # tau_train: poor training is this many units below R
    "gap": 0.1,            # tau_gap: a large gap is more than this many units
    # curve rules (hpsearch.diagnostics._curves)
    "vanishing": 1e-2,     # first layer's RMS gradient below this fraction of the last layer's
    "falling": 0.8,        # share of the last window's epochs whose loss fell: still falling
    "slow": 1e-2,          # relative loss decrease per epoch below which training is "slow"
    "rising": 0.1,         # final loss more than this fraction above the best loss: rising
    "oscillating": 0.1,    # mean |epoch-to-epoch change| / mean loss above this: oscillating
    "regularized": 1e-2,   # alpha above this (or any dropout / l1) counts as regularized
    "deeper": 0.1,         # deeper-worse note: deeper best train score this many units lower
}


#: key -> (its range as the error says it, the check): a share of epochs ("falling") above 1
#: could never be reached, and a first-layer gradient ratio ("vanishing") of 1 or more would
#: call every net's gradients vanishing. Every other key: :data:`_POSITIVE`.
_RANGES = {
    "falling": ("(0, 1]", lambda v: 0 < v <= 1),
    "vanishing": ("(0, 1)", lambda v: 0 < v < 1),
}
_POSITIVE = ("(0, inf)", lambda v: v > 0)


def check_thresholds(thresholds):
    """Merge user overrides into :data:`THRESHOLDS`; unknown keys or bad values raise.

    Every value must be a finite float above 0; ``"falling"`` (a share of epochs) at most
    1 and ``"vanishing"`` (a gradient ratio) below 1.
    """
    if thresholds is not None and not isinstance(thresholds, dict):
        raise ValueError(
            f"The 'thresholds' parameter must be a dict with keys among {sorted(THRESHOLDS)} "
            f"or None. Got {thresholds!r} instead.")
    merged = dict(THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in THRESHOLDS:
            raise ValueError(
                f"The 'thresholds' parameter got an unknown key {key!r}; the keys are "
                f"{sorted(THRESHOLDS)}.")
        if isinstance(value, bool) or not isinstance(value, Real) \
                or not math.isfinite(value) or not _RANGES.get(key, _POSITIVE)[1](value):
            raise ValueError(
                f"The 'thresholds' parameter's {key!r} must be a float in the range "
                f"{_RANGES.get(key, _POSITIVE)[0]}. Got {value!r} instead.")
        merged[key] = float(value)
    return merged


def _finite(x):
    return x is not None and isinstance(x, Real) and math.isfinite(x)


def unit_floor(baseline_train):
    """The floor of the unit :math:`u`: :math:`10^{-3} s` (module docstring), 1e-3 without
    a finite baseline score.

    :math:`s = \\max(1, b_{tr})` when the baseline's training score is at least 0 (a score
    on the scale of 1: accuracy, r2, whose baseline scores exactly 0 on its training rows),
    :math:`s = \\max(|b_{tr}|, 10^{-9})` when it is negative: a negated loss, whose
    magnitude is the baseline's loss in the target's units (the :math:`10^{-9}` is the
    tolerance below which a ``neg_*`` score counts as its best, 0: a constant target's
    rounding noise gets no verdict).
    """
    if not _finite(baseline_train):
        return 1e-3
    scale = max(-baseline_train, 1e-9) if baseline_train < 0 else max(1.0, baseline_train)
    return 1e-3 * scale


def score_verdict(train, validation, baseline_train, linear_train, thresholds, best_train=None):
    """Apply the score rule of this module; returns ``(problem, evidence)``.

    ``linear_train`` may be None or NaN (no linear reference): then :math:`R = b_{tr}`.
    A non-finite ``train`` score (the fit failed or diverged) counts as poor training.
    Good training with a non-finite ``validation`` score is ``"failed"``: the gap is
    unknown, and calling it ``"none"`` would claim no overfitting without a measurement.
    ``best_train`` replaces :math:`m_{tr}` in the unit (a search passes its best candidate's
    training score, so that every candidate is held to the same thresholds).
    """
    refs = [x for x in (baseline_train, linear_train) if _finite(x)]
    reference = max(refs) if refs else math.nan
    base = baseline_train if _finite(baseline_train) else reference
    top_model = train if best_train is None else best_train
    top = max(reference, top_model) if _finite(top_model) else reference
    floor = unit_floor(base)
    unit = max(top - base, floor) if _finite(top - base) else floor
    train_threshold = reference - thresholds["train"] * unit
    gap = train - validation if _finite(train) and _finite(validation) else math.nan
    gap_threshold = thresholds["gap"] * unit
    poor_training = not _finite(train) or (_finite(train_threshold) and train < train_threshold)
    large_gap = _finite(gap) and gap > gap_threshold
    if poor_training:
        problem = "training"
    elif not _finite(gap):  # good training, no validation score: the gap is unknown
        problem = "failed"
    else:
        problem = "overfitting" if large_gap else "none"
    evidence = {
        "train_score": train, "validation_score": validation, "gap": gap,
        "reference_train": reference, "unit": unit,
        "train_threshold": train_threshold, "gap_threshold": gap_threshold,
        "poor_training": bool(poor_training), "large_gap": bool(large_gap),
    }
    return problem, evidence
