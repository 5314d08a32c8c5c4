"""Plots of the recipe: the recipe map of a search and the gradient flow of one MLP (PNG files)."""

from __future__ import annotations

import math

import numpy as np

from ._curves import final_step, gradient_rms
from ._diagnose import Diagnosis
from ._remedies import region_labels
from ._results import diagnose_results, search_best_row

__all__ = ["recipe_map", "gradient_flow"]

#: the regions' labels without an estimator: the lecture's words for a network
_REGIONS = ("training problem:\noptimize first\n(activation, solver,\nlearning rate)",
            "overfitting:\nearly stopping,\nregularization, dropout")

_COLORS = {"training": "C3", "overfitting": "C1", "none": "C2", "failed": "0.5"}


def _plt():
    from hpsearch.plots import _pyplot

    return _pyplot()


def _save(fig, path):
    from hpsearch.plots import _save as save

    return save(fig, path)


def _from_diagnosis(d):
    e = d.evidence
    cv = {"params": [{}], "mean_train_score": np.array([e["train_score"]]),
          "mean_test_score": np.array([e["validation_score"]])}
    refs = {name: {"train_score": e[f"{name}_train"], "test_score": e[f"{name}_validation"]}
            for name in ("baseline", "linear")}
    return cv, refs, "score"


def _best_row(source, metric, y):
    """``(row, legend label)`` of the candidate the star marks, or ``(None, None)``: the
    search's best (the first row of rank 1 of ``rank_test_<metric>``, its ``best_index_``:
    at the full budget of a halving search, accepted by a recipe search), else the best
    validation score. The highest validation score over all rows was starred, an early
    halving round's row at a smaller budget among them."""
    finite = np.isfinite(y)
    if not finite.any() or len(y) < 2:
        return None, None
    found = search_best_row(source, metric)  # (scikit-learn's halving rows: the best of
    # the last round, its best_index_; its rank 1 may be an early round's row)
    if found is not None:
        return found[0], "best (last round)" if found[1] else "best (rank 1)"
    return int(np.nanargmax(np.where(finite, y, -np.inf))), "best validation"


def recipe_map(source, path, *, metric="score", references=None, thresholds=None,
               title="Recipe map", label=None, best_train=None, estimator=None):
    """Every candidate at (training score, validation score), on the recipe's regions.

    Left of the training threshold: *training problem* (optimize first: activation, adaptive
    learning rate); right of it and more than the gap threshold below the diagonal:
    *overfitting* (early stopping, regularization, dropout); the rest: *good*. Thresholds as
    in :func:`hpsearch.diagnostics.diagnose_results`; the references (when given) are drawn
    as points too. A star marks the search's best (rank 1 of ``rank_test_<metric>``, else
    the best validation score).

    Parameters
    ----------
    source : dict, DataFrame or Diagnosis
        A search's ``cv_results_`` (with train scores), or one :class:`Diagnosis`.
    path : str or Path
        The PNG file to write.
    metric, references, thresholds, best_train
        As for :func:`hpsearch.diagnostics.diagnose_results` (a :class:`Diagnosis` is drawn
        with its own thresholds unless ``thresholds`` is given).
    label : str, default=None
        The metric's name on the axes (default ``metric``).
    estimator : estimator, default=None
        The searched estimator (a :class:`Diagnosis`: its model): the regions name its own
        remedies (:func:`hpsearch.diagnostics._remedies.region_labels`: a tree's max_depth,
        an SVC's C and gamma); None: the lecture's words for a network.

    Returns
    -------
    Path
    """
    name = label or metric
    if isinstance(source, Diagnosis):
        name = source.evidence["scoring"]
        if thresholds is None:  # the diagnosis's own (the defaults drew its point in a
            # region other than its verdict's: thresholds={"gap": 5} 'none', map 'overfitting')
            thresholds = source.evidence.get("thresholds")
        estimator = source.model if estimator is None else estimator
        source, references, metric = _from_diagnosis(source)
    result = diagnose_results(source, metric=metric, references=references, thresholds=thresholds,
                              best_train=best_train, estimator=estimator)
    x = np.asarray(source[f"mean_train_{metric}"], dtype=float)
    y = np.asarray(source[f"mean_test_{metric}"], dtype=float)
    t_train, t_gap = result.evidence["train_threshold"], result.evidence["gap_threshold"]
    ref_pts = {name: (r.get(f"train_{metric}", math.nan), r.get(f"test_{metric}", math.nan))
               for name, r in (references or {}).items()}
    values = [v for v in (*x, *y, t_train, *(p for pt in ref_pts.values() for p in pt))
              if math.isfinite(v)]
    lo, hi = min(values), max(values)
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    grid = np.linspace(lo, hi, 200)
    ax.axvspan(lo, t_train, color="C3", alpha=0.10, lw=0)
    right = grid[grid >= t_train]
    ax.fill_between(right, lo, right - t_gap, color="C1", alpha=0.12, lw=0)
    ax.fill_between(right, right - t_gap, hi, color="C2", alpha=0.10, lw=0)
    ax.plot(grid, grid, color="0.4", ls=":", lw=1, label="no gap (validation = training)")
    ax.axvline(t_train, color="C3", lw=1)
    ax.plot(right, right - t_gap, color="C1", lw=1)
    poor_text, gap_text = _REGIONS if estimator is None else region_labels(estimator)
    if t_train - lo > 0.3 * (hi - lo):
        ax.text(lo + pad * 0.4, hi - pad * 0.6, poor_text, va="top", fontsize=8, color="C3")
    else:  # a narrow strip (a linear reference that fits badly): along it, clear of "good"
        ax.text((lo + t_train) / 2, hi - pad * 0.6, "training problem",
                rotation=90, ha="center", va="top", fontsize=7, color="C3")
    ax.text(hi - pad * 0.4, lo + pad * 0.4, gap_text, ha="right", va="bottom", fontsize=8,
            color="C1")
    ax.text(t_train + pad * 0.4, hi - pad * 0.6, "good", va="top", fontsize=9, color="C2")
    labels = np.asarray(result.labels)
    for label, color in _COLORS.items():
        keep = (labels == label) & np.isfinite(x) & np.isfinite(y)
        if keep.any():
            ax.scatter(x[keep], y[keep], s=22, color=color, edgecolor="k", lw=0.3,
                       label=f"{label} ({int(keep.sum())})", zorder=3)
    best, what = _best_row(source, metric, y)
    if best is not None:
        ax.scatter([x[best]], [y[best]], marker="*", s=260, facecolor="none",
                   edgecolor="goldenrod", lw=1.4, label=what, zorder=4)
    for (ref, (rx, ry)), marker in zip(ref_pts.items(), ("s", "D")):
        if math.isfinite(rx) and math.isfinite(ry):
            ax.scatter([rx], [ry], marker=marker, s=40, facecolor="none", edgecolor="k",
                       label=f"{ref} reference", zorder=3)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"training {name}")
    ax.set_ylabel(f"validation {name}")
    ax.set_title(title)
    ax.legend(loc="center left", fontsize=7, framealpha=0.9)
    return _save(fig, path)


def gradient_flow(model, path, *, title="Gradient flow per layer"):
    """RMS weight gradient of every layer per epoch (log scale), from an MLP's ``history_``.

    The lecture's vanishing gradient shows as the first layers' curves orders of magnitude
    below the output layer's. ``model`` is a fitted hpsearch MLP (or a pipeline ending in
    one) or a :class:`Diagnosis`; returns None when it recorded no gradient norms.
    """
    if isinstance(model, Diagnosis):
        model = model.model
    rms = gradient_rms(final_step(model)[0])
    if rms is None:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    epochs = np.arange(1, rms.shape[0] + 1)
    n = rms.shape[1]
    cmap = plt.get_cmap("viridis")
    for k in range(n):
        name = "output layer" if k == n - 1 else f"layer {k} (weights into hidden {k + 1})"
        ax.plot(epochs, np.where(rms[:, k] > 0, rms[:, k], np.nan),
                color=cmap(k / max(n - 1, 1)), label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMS weight gradient")
    last = rms[-1]
    if last[-1] > 0 and last[0] > 0:
        title = f"{title}\nfirst / output layer at the end: {last[0] / last[-1]:.1e}"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, path)
