"""Plots of a search and of a trained MLP (matplotlib, written to PNG files).

Each function takes plain data (a ``cv_results_`` dict or DataFrame, a fitted estimator)
and a file name, draws one figure with the non-interactive Agg backend and returns the path.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

__all__ = [
    "search_history", "param_effect", "learning_curves", "history_frame", "epoch_curves",
    "comparison", "candidates",
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # a layout it cannot tighten is drawn as it is: a
        # warning on the terminal of a finished study would only alarm its reader
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()
    fig.savefig(path, dpi=90)
    _pyplot().close(fig)
    return path


def _frame(cv_results):
    import pandas as pd

    return cv_results if isinstance(cv_results, pd.DataFrame) else pd.DataFrame(cv_results)


def search_history(cv_results, path, *, metric="score", label=None):
    """Score of every candidate in evaluation order, with the best so far.

    ``label`` names the metric on the axis (default ``metric``, the ``cv_results`` key:
    ``"score"`` for a single metric, whatever it is). Halving searches (an ``iter``
    column) colour their rounds; their "best so far" is over
    every budget (an early round's row at a small budget may top it), so a star marks the
    search's best: the first row of rank 1 of ``rank_test_<metric>`` (its ``best_index_``).
    """
    plt = _pyplot()
    df = _frame(cv_results)
    y = np.asarray(df[f"mean_test_{metric}"], dtype=float)
    x = np.arange(1, len(y) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    if "iter" in df:
        sc = ax.scatter(x, y, c=df["iter"], cmap="viridis", s=18, label="candidate")
        fig.colorbar(sc, ax=ax, label="round (iter)")
    else:
        ax.scatter(x, y, s=18, label="candidate")
    finite = np.where(np.isfinite(y), y, -np.inf)
    best = np.maximum.accumulate(finite)
    several = _several_budgets(df) is not None
    ax.step(x, np.where(np.isfinite(best), best, np.nan), where="post", color="C3",
            label="best so far (any budget)" if several else "best so far")
    _star_best(ax, df, metric, x, y)
    _mark_failed(ax, x, y)
    ax.set_xlabel("candidate (evaluation order)")
    ax.set_ylabel(f"mean CV {label or metric}")
    ax.set_title("Search history")
    ax.legend(loc="best")  # (lower right hid the worst candidates of a neg_* metric)
    return _save(fig, path)


def _several_budgets(df):
    """Every row's budget (``n_resources``, else ``iter``) when the rows have several,
    else None."""
    for key in ("n_resources", "iter"):
        if key in df:
            try:
                budgets = np.asarray(df[key], dtype=float)
            except (TypeError, ValueError):
                continue
            return budgets if len(np.unique(budgets)) > 1 else None
    return None


def _star_best(ax, df, metric, x, y, rows=None):
    """Mark the search's best (the first row of rank 1 of ``rank_test_<metric>``, its
    ``best_index_``) among the plotted ``rows`` (all by default) at ``(x, y)``."""
    key = f"rank_test_{metric}"
    if key not in df or not np.isfinite(y).any():
        return
    rows = list(range(len(df))) if rows is None else list(rows)
    ranks = np.asarray(df[key])[rows]
    if not (ranks == 1).any():
        return
    top = int(np.flatnonzero(ranks == 1)[0])
    ax.scatter([x[top]], [y[top]], marker="*", s=200, facecolor="none",
               edgecolor="goldenrod", lw=1.4, label="best (rank 1)", zorder=4)


def _mark_failed(ax, x, y):
    """Draw the rows without a score (every fit failed: NaN mean) as crosses on the lowest
    score, so that a value whose fits all fail shows instead of vanishing from the plot."""
    failed = ~np.isfinite(y)
    if failed.any() and (~failed).any():
        ax.scatter(np.asarray(x)[failed], np.full(failed.sum(), np.nanmin(y[~failed])),
                   marker="x", color="C3", s=30, label=f"no score ({int(failed.sum())} "
                   "failed)", zorder=3)


def _is_numeric(values):
    return all(
        isinstance(v, numbers.Number) and not isinstance(v, bool) for v in values if v is not None
    ) and any(v is not None for v in values)


def _label_order(value):
    """Sort key of a value's axis label: numbers first, by value, then the other labels
    (``None`` among them) by text: ``3 < 10 < None``, not ``10 < 3 < None``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return (0, float(value), str(value))
    return (1, 0.0, str(value))


def param_effect(cv_results, param, path, *, metric="score", log=False, label=None):
    """Mean CV score against one hyperparameter (scatter, or strips for categories).

    Rows at several budgets (halving, Hyperband, ASHA) are coloured by their budget, and
    a star marks the search's best (rank 1 of ``rank_test_<metric>``). ``label`` names
    the metric on the axis (default ``metric``).
    """
    plt = _pyplot()
    df = _frame(cv_results)
    values = [p.get(param) if isinstance(p, dict) else None for p in df["params"]]
    y = np.asarray(df[f"mean_test_{metric}"], dtype=float)
    keep = [i for i, v in enumerate(values) if v is not None or param in df["params"][i]]
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    vals = [values[i] for i in keep]
    budgets = _several_budgets(df)
    colour = {} if budgets is None else {"c": budgets[keep], "cmap": "viridis"}
    if _is_numeric(vals) and None not in vals:
        xs = np.asarray(vals, dtype=float)
        if log:
            ax.set_xscale("log")
    else:
        labels = list(dict.fromkeys(str(v) for v in sorted(vals, key=_label_order)))
        pos = {label: i for i, label in enumerate(labels)}
        rng = np.random.default_rng(0)
        xs = np.array([pos[str(v)] + rng.uniform(-0.12, 0.12) for v in vals])
        ticks = [_compact(label, 30) for label in labels]  # (32, 32, ..., 32): (32)*30
        if len(set(ticks)) < len(ticks):  # two cut alike: whole labels
            ticks = labels
        ax.set_xticks(range(len(labels)), ticks, rotation=30 if len(labels) > 4 else 0)
        ax.set_xlim(-0.5, len(labels) - 0.5)  # every category's tick in view (the jittered
        # points alone set limits that could leave out the last one's label)
    sc = ax.scatter(xs, y[keep], s=18, alpha=0.8, **colour)
    if budgets is not None:  # a score at a small budget is no score of the value
        fig.colorbar(sc, ax=ax, label="budget (n_resources)")
    _star_best(ax, df, metric, xs, y[keep], keep)
    _mark_failed(ax, xs, y[keep])
    if np.isnan(y[keep]).any():
        ax.legend(loc="best", fontsize=7)
    ax.set_xlabel(param)
    ax.set_ylabel(f"mean CV {label or metric}")
    ax.set_title(f"Score vs {param}")
    return _save(fig, path)


def comparison(cv_results, frame, path, *, level=0.95, label=None):
    """Split scores of the top candidates with their corrected intervals.

    ``frame`` is :func:`hpsearch.model_selection.compare`'s table (best first); ``label``
    names the metric on the axis (default the frame's metric key). Each
    candidate's split scores are dots; the bar is its mean over the splits shared with
    the best, with the Nadeau–Bengio corrected interval
    :math:`\\bar s \\pm t_{k-1,(1+\\text{level})/2}\\sqrt{(1/k + n_\\text{test}/n_\\text{train})\\,
    \\hat\\sigma^2}` (the naive interval drops the ratio term and is much narrower).
    """
    from scipy import stats as sps

    from hpsearch.model_selection.stats import _without_failed_splits

    plt = _pyplot()
    metric, ratio = frame.attrs["metric"], frame.attrs["test_train_ratio"]
    columns = sorted(
        (k for k in cv_results if k.startswith("split") and k.endswith(f"_test_{metric}")),
        key=lambda k: int(k[5 : k.index("_")]),
    )
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.45 * len(frame)))
    table = _without_failed_splits(  # a failed split's error_score is no score (as compare)
        cv_results, np.array([np.asarray(cv_results[c], dtype=float) for c in columns]).T,
        metric)
    for pos, (row, rank) in enumerate(zip(frame.index, frame["rank"])):
        scores = table[row]
        scores = scores[np.isfinite(scores)]
        y = len(frame) - 1 - pos
        ax.scatter(scores, np.full(scores.size, y), s=10, color="0.6", zorder=1)
        if scores.size > 1:
            k = scores.size
            row_ratio = frame["test_train_ratio"][row] if "test_train_ratio" in frame else ratio
            half = sps.t.ppf((1 + level) / 2, k - 1) * np.sqrt(
                (1 / k + row_ratio) * scores.var(ddof=1))
            ax.errorbar(scores.mean(), y, xerr=half, fmt="o", color="C3" if pos == 0 else "C0",
                        capsize=3, zorder=2)
    ax.set_yticks(range(len(frame)), [f"#{r}" for r in frame["rank"]][::-1])
    ax.set_xlabel(f"CV {label or metric} per split; bar: mean with corrected {level:.0%} "
                  "interval")
    ax.set_title("How sure is this? (best in red)")
    return _save(fig, path)


def _final_step(estimator):
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def _compact(label, width=60):
    """A legend label of readable width: a list of one repeated value is written as
    Python would build it (``[32, 32, ..., 32]``, 30 layers: ``[32]*30``), then cut."""
    import re

    def repeat(match):
        items = match.group(2).split(", ")
        return (f"{match.group(1)}{items[0]}{match.group(3)}*{len(items)}"
                if len(items) >= 4 and len(set(items)) == 1 else match.group(0))

    label = re.sub(r"([\[(])([^\[\]()]*)([\])])", repeat, label)  # lists and tuples
    return label if len(label) <= width else label[:width - 1] + "…"


def candidates(models, path, *, small=0.01):
    """The candidates of a small study side by side, each refit on the training rows.

    Three panels (``LECTURE.md`` §1–§4): the training loss per epoch of every candidate
    (the learning rate and batch size shaping the curve), the distribution of its weights
    :math:`|w|` on a log scale with the share below ``small`` in the legend (L1 makes many
    weights near 0 and keeps some large, L2 makes all of them small), and, when a
    candidate learns its activation (PReLU), its learned slopes.

    ``models``: ``{label: fitted hpsearch MLP or pipeline ending in one}``. Returns None
    when no model has a loss curve.
    """
    plt = _pyplot()
    short = {label: _compact(label) for label in models}
    if len(set(short.values())) < len(short):  # two labels cut alike: keep them whole
        short = {label: label for label in models}
    finals = {short[label]: _final_step(m) for label, m in models.items()}
    finals = {k: m for k, m in finals.items() if getattr(m, "loss_curve_", None)}
    if not finals:
        return None
    slopes = {k: np.concatenate([np.ravel(a) for a in m.prelu_alphas_ if a is not None])
              for k, m in finals.items() if any(a is not None for a in
                                                (getattr(m, "prelu_alphas_", None) or []))}
    n_panels = 3 if slopes else 2
    fig, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, 3.6))
    colors = {label: f"C{i % 10}" for i, label in enumerate(finals)}
    for label, m in finals.items():
        curve = np.asarray(m.loss_curve_, dtype=float)
        axes[0].plot(np.arange(1, len(curve) + 1), curve, label=label, color=colors[label])
        w = np.abs(np.concatenate([np.ravel(c) for c in m.coefs_]))
        share = float(np.mean(w < small))
        bins = np.logspace(-6, max(0.0, np.log10(max(w.max(), 1e-6))) + 0.1, 40)
        axes[1].hist(np.clip(w, 1e-6, None), bins=bins, histtype="step",
                     color=colors[label], label=f"{label} ({share:.0%} < {small:g})")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[0].set_title("Loss curves")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("|weight|")
    axes[1].set_ylabel("count")
    axes[1].set_title("Weights")
    if slopes:
        for label, a in slopes.items():
            axes[2].hist(a, bins=20, histtype="step", color=colors[label], label=label)
        axes[2].set_xlabel("learned PReLU slope")
        axes[2].set_title("Learned activations")
        axes[2].legend(fontsize=7)
    for ax in axes[:2]:
        ax.legend(fontsize=7)
    return _save(fig, path)


def history_frame(estimator):
    """Per-epoch training history of a (pipeline ending in a) fitted MLP, or None.

    Uses ``history_`` when present, else sklearn's ``loss_curve_`` and
    ``validation_scores_``.
    """
    import pandas as pd

    est = _final_step(estimator)
    history = getattr(est, "history_", None)
    if history:
        frame = pd.DataFrame(history)
        keep = [c for c in frame if ("loss" in c or "score" in c)
                and np.issubdtype(frame[c].dtype, np.number) and frame[c].notna().any()]
        if keep:
            return frame[keep]
    curve = getattr(est, "loss_curve_", None)
    if curve is None:
        return None
    frame = pd.DataFrame({"train_loss": curve})
    val = getattr(est, "validation_scores_", None)
    if val is not None and len(val) == len(curve) and np.isfinite(val).any():
        frame["validation_score"] = val
    return frame


def epoch_curves(estimator, X, y, *, classifier, validation_fraction=0.2, random_state=0):
    """Train a clone of ``estimator`` epoch by epoch on part of ``(X, y)`` and record the
    training loss, the validation loss and the validation score of every epoch.

    For a (pipeline ending in an) estimator with ``partial_fit`` and ``loss_`` such as the
    MLP; the number of epochs is the fitted estimator's ``n_iter_``.  Returns a DataFrame,
    or None when the estimator cannot be trained this way.

    Both losses are the same function of the model at the end of the epoch, on its part of
    the rows: the log loss (classifiers) or half the mean squared error (regressors, the
    MLP's squared loss). The training loss is not the MLP's ``loss_``, which adds the
    ``alpha``/``l1`` penalty and is measured with dropout during the epoch: beside an
    unpenalised validation loss it put the training curve above the validation curve of a
    regularized model.
    """
    import pandas as pd
    from sklearn.base import clone
    from sklearn.metrics import log_loss, mean_squared_error
    from sklearn.model_selection import train_test_split

    final = _final_step(estimator)
    n_epochs = int(getattr(final, "n_iter_", 0) or 0)
    if not (hasattr(final, "partial_fit") and hasattr(final, "loss_")) or n_epochs < 1:
        return None
    Xa, Xb, ya, yb = train_test_split(
        X, y, test_size=validation_fraction, random_state=random_state,
        stratify=y if classifier else None,
    )
    steps = getattr(estimator, "steps", None)
    if steps:
        pre = clone(estimator[:-1]).fit(Xa, ya)
        Xa, Xb = pre.transform(Xa), pre.transform(Xb)
    model = clone(final)
    if getattr(model, "early_stopping", False):  # partial_fit refuses it (as sklearn's MLP);
        model.set_params(early_stopping=False)    # the split above plays its part here
    kw = {"classes": np.unique(y)} if classifier else {}

    def data_loss(X_part, y_part):
        if classifier:
            return float(log_loss(y_part, model.predict_proba(X_part), labels=kw["classes"]))
        return float(0.5 * mean_squared_error(y_part, model.predict(X_part)))

    rows = []
    for epoch in range(1, n_epochs + 1):
        model.partial_fit(Xa, ya, **kw)
        rows.append({"epoch": epoch, "train_loss": data_loss(Xa, ya),
                     "validation_loss": data_loss(Xb, yb),
                     "validation_score": float(model.score(Xb, yb))})
    return pd.DataFrame(rows).set_index("epoch")


#: the legend of the training loss an estimator recorded while it fitted (``history_``'s
#: ``loss``, sklearn's ``loss_curve_``): the objective it minimised, with its penalty
OBJECTIVE_LABEL = "training objective (loss + penalty)"


def learning_curves(estimator, path, *, frame=None):
    """Training and validation loss (left axis) and validation score (right axis) per epoch.

    ``frame``: per-epoch columns (from :func:`epoch_curves`); by default the estimator's
    own ``history_`` (an estimator without ``partial_fit``, e.g. ``solver="lbfgs"``). The
    loss recorded there is the fit's objective, the data loss plus the ``alpha`` / ``l1``
    penalty (under dropout): its legend says so (:data:`OBJECTIVE_LABEL`), since
    :func:`epoch_curves`' ``train_loss`` is the data loss alone. Returns None when there
    is no per-epoch history.
    """
    own = frame is None
    frame = history_frame(estimator) if frame is None else frame
    if frame is None or frame.empty:
        return None
    if own:
        frame = frame.rename(columns={c: OBJECTIVE_LABEL for c in ("loss", "train_loss")})
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    epochs = np.arange(1, len(frame) + 1)
    losses = [c for c in frame if "loss" in c]
    scores = [c for c in frame if c not in losses]
    for i, col in enumerate(losses):
        ax.plot(epochs, frame[col], color=f"C{i}", label=col)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if scores:
        ax2 = ax.twinx()
        for i, col in enumerate(scores):
            ax2.plot(epochs, frame[col], color=f"C{i + len(losses)}", linestyle="--", label=col)
        ax2.set_ylabel("score")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="center right")
    ax.set_title("Learning curves of the best model")
    return _save(fig, path)
