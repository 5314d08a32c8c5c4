"""The curve half of the recipe: what the loss curve and the gradient flow of a fitted MLP say.

Both read only what training recorded: ``history_`` of hpsearch's MLPs (loss and per-layer
gradient norms of every epoch) or ``loss_curve_`` of scikit-learn's MLPs (loss only).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["final_step", "loss_curve", "loss_trend", "gradient_rms", "gradient_ratios"]


def final_step(estimator):
    """The last step of a pipeline (the estimator itself otherwise) and its parameter prefix;
    of a pipeline ending in a pipeline, the inner one's last step (``"outer__inner__"``: the
    inner pipeline itself was diagnosed, whose parameters no fix knows, so a nested tree or
    MLP was given no fix at all)."""
    prefix = ""
    while getattr(estimator, "steps", None):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    return estimator, prefix


def loss_curve(model):
    """Training loss of every epoch (``history_["loss"]`` or ``loss_curve_``), or None."""
    history = getattr(model, "history_", None)
    curve = history.get("loss") if isinstance(history, dict) else None
    if curve is None:
        curve = getattr(model, "loss_curve_", None)
    return None if curve is None else np.asarray(curve, dtype=float)


def _window(n):
    """The last quarter of the epochs, at least 3 (or all when fewer)."""
    return min(n, max(3, math.ceil(n / 4)))


def loss_trend(loss, thresholds):
    """Describe the end of a loss curve.

    Over the window :math:`W` = the last quarter of the epochs (at least 3, or all when fewer),
    with :math:`\\Delta_t = L_t - L_{t-1}` and :math:`\\bar L` the window's mean loss:

    * ``slope``: least-squares slope of :math:`L` over :math:`W` divided by :math:`\\bar L`
      (relative change per epoch; negative = falling);
    * ``falling_share``: share of the window's steps with :math:`\\Delta_t < 0`;
    * ``rise``: :math:`L_{last} / \\min_t L_t - 1` over the whole curve;
    * ``oscillation``: :math:`\\mathrm{mean}|\\Delta_t| / \\bar L` over the window.

    Verdicts: ``falling`` (still falling: ``falling_share >= thresholds["falling"]`` and
    ``slope < 0``), ``slow`` (``-slope < thresholds["slow"]``: less than 1 % per epoch),
    ``rising`` (``rise > thresholds["rising"]``, or a non-finite loss),
    ``oscillating`` (``oscillation > thresholds["oscillating"]`` and at least one step in
    four of the window going up).
    """
    loss = np.asarray(loss, dtype=float)
    n = loss.size
    out = {"n_epochs": int(n), "slope": math.nan, "falling_share": math.nan, "rise": math.nan,
           "oscillation": math.nan, "falling": False, "slow": False, "rising": False,
           "oscillating": False}
    if n == 0:
        return out
    if not np.all(np.isfinite(loss)):
        out["rising"] = True
        return out
    w = loss[-_window(n):]
    best = float(loss.min())
    if best > 0:
        out["rise"] = float(loss[-1] / best - 1)
    else:
        out["rise"] = 0.0 if loss[-1] <= best else math.inf
    out["rising"] = out["rise"] > thresholds["rising"]
    if w.size < 2:
        return out
    mean = max(float(np.mean(np.abs(w))), 1e-300)
    steps = np.diff(w)
    out["slope"] = float(np.polyfit(np.arange(w.size), w, 1)[0] / mean)
    out["falling_share"] = float(np.mean(steps < 0))
    out["oscillation"] = float(np.mean(np.abs(steps)) / mean)
    out["falling"] = out["falling_share"] >= thresholds["falling"] and out["slope"] < 0
    out["slow"] = -out["slope"] < thresholds["slow"]
    out["oscillating"] = (out["oscillation"] > thresholds["oscillating"]
                          and float(np.mean(steps > 0)) >= 0.25)
    return out


def gradient_rms(model):
    """Per-layer RMS gradient per epoch, shape (n_epochs, n_layers), or None.

    ``history_["grad_norm_<l>"]`` is the L2 norm of the gradient of ``coefs_[l]``; dividing
    by :math:`\\sqrt{\\text{coefs\\_[l].size}}` gives the root-mean-square gradient of one
    weight, so that layers of different shapes compare.
    """
    history = getattr(model, "history_", None)
    coefs = getattr(model, "coefs_", None)
    if not isinstance(history, dict) or coefs is None:
        return None
    keys = [f"grad_norm_{k}" for k in range(len(coefs))]
    if not all(k in history for k in keys) or not history[keys[0]]:
        return None
    norms = np.column_stack([np.asarray(history[k], dtype=float) for k in keys])
    return norms / np.sqrt([np.asarray(c).size for c in coefs])


def gradient_ratios(model):
    """Each layer's RMS gradient relative to the last (output) layer's, or None.

    Geometric mean over the last quarter of the epochs (at least 3) of
    :math:`\\mathrm{rms}_l / \\mathrm{rms}_{last}`; the last entry is 1. The lecture's
    vanishing gradient is the first entry orders of magnitude below 1. A layer whose
    gradient is exactly 0 in the window has ratio 0; epochs where a ratio is undefined
    (0/0, a NaN norm) are left out, and a layer with no defined epoch is NaN.
    """
    rms = gradient_rms(model)
    if rms is None or rms.shape[1] < 2:
        return None
    w = rms[-_window(rms.shape[0]):]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # (a layer with no defined epoch, e.g. L-BFGS records no gradients: NaN, quietly)
        warnings.simplefilter("ignore", RuntimeWarning)
        logs = np.log(w) - np.log(w[:, -1:])
        # a layer whose gradient is exactly 0 (log -inf) has vanished completely: ratio 0;
        # only undefined epochs (0/0, a NaN norm) are left out
        ratios = np.exp(np.nanmean(logs, axis=0))
    return [float(r) for r in ratios]
