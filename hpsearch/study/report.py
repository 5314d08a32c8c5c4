"""The human side of a finished study: the dry-run plan, report.md and the final summary."""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = [
    "describe_plan", "top_table", "write_report", "summary_text", "fmt", "how_sure_section",
    "nested_section", "practical_rope",
]


def fmt(value, digits=4):
    """A short readable value: floats to ``digits`` significant digits, tuples as lists."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    return str(value)


def digits_apart(values, digits=4, most=8):
    """The fewest significant digits (``digits`` to ``most``) at which the distinct finite
    ``values`` print distinctly: a table of ranked means must not show two ranks of one
    printed number (0.93334 and 0.93331 are both 0.9333 at 4 digits)."""
    finite = sorted({float(v) for v in values if v is not None and math.isfinite(float(v))})
    for d in range(digits, most + 1):
        if len({f"{v:.{d}g}" for v in finite}) == len(finite):
            return d
    return most


def short(name):
    """A searched parameter's name without the pipeline's ``model__`` prefix."""
    return name[len("model__"):] if name.startswith("model__") else name


def _params_text(params, sep=", "):
    return sep.join(f"{short(k)}={fmt(v)}" for k, v in params.items()) or "(defaults)"


def _plan_budget(plan):
    """(candidates text, fits text, extra lines) of the dry run."""
    from .budget import pruned_budget, rounds_budget

    search, k = plan.search, plan.n_splits
    if hasattr(search, "plan_rounds"):
        budget = rounds_budget(
            search.plan_rounds(plan.X_train, plan.y_train, groups=plan.groups), k)
        ratio = f"{budget.ratio:.0%}"
        cand = (f"{budget.n_candidates}"
                + (f" in {len({r.bracket for r in budget.rounds})} brackets"
                   if budget.rounds[0].bracket is not None else "")
                + f", {len(budget.rounds)} rounds")
        refit = ("on all searched rows" if budget.resource == "n_samples"
                 else f"at {budget.max_budget} {budget.unit}")
        fits = f"{budget.fits} (+1 refit {refit})"
        if _asynchronous(search):
            fits = (f"about {fits}: the count when every score ties; ASHA promotes on the "
                    "scores of the moment, often more")
        extra = [_rounds_table(budget), (
            f"{budget.unit + ':':<11} {budget.trained:,} trained; a random search over the same "
            f"{budget.n_candidates} candidates at {budget.max_budget} {budget.unit} each: "
            f"{budget.full_fits} fits, {budget.full_trained:,} {budget.unit} "
            f"(this plan: {ratio} of that)")]
        return cand, fits, extra
    rungs = search.plan_rungs() if hasattr(search, "plan_rungs") else None
    n = plan.n_candidates
    timeout = getattr(search, "timeout", None)
    limit = f" (fewer if the {fmt(timeout)} s timeout is reached)" if timeout else ""
    if rungs is None:
        if _races(search):
            return str(n), (f"at most {n * k} (+1 refit): racing stops significantly worse "
                            f"candidates after some splits{limit}"), []
        return str(n), f"{n * k} (+1 refit){limit}", []
    b = pruned_budget(n, k, rungs)
    fits = (f"at most {b['max_fits']} (+1 refit): {n} trials x {k} splits x "
            f"{len(rungs)} rungs at {', '.join(map(str, rungs))} epochs, each rung "
            f"continuing the last; pruned trials stop early{limit}")
    return f"{n} trials", fits, [f"epochs:     at most {b['max_epochs']:,} "
                                 f"({n * k} fits x {rungs[-1]} epochs if none is pruned)"]


def _rounds_table(budget):
    """The per-round table of a halving/Hyperband plan."""
    hyperband = budget.rounds[0].bracket is not None
    unit = budget.unit
    head = (["bracket"] if hyperband else []) + [
        "round", "candidates", unit, "fits",
        f"{unit}/fit" + (" (continuing)" if budget.continues else ""), f"{unit} trained"]
    rows = []
    for r in budget.rounds:
        per_fit = f"+{r.per_fit}" if budget.continues and r.iter else str(r.per_fit)
        rows.append(([str(r.bracket)] if hyperband else []) + [
            str(r.iter), str(r.n_candidates), str(r.budget), str(r.fits), per_fit,
            f"{r.trained:,}"])
    total = ([""] if hyperband else []) + [
        "total", str(budget.n_candidates), "", str(budget.fits), "", f"{budget.trained:,}"]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, total)]

    def line(cells):
        return "  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths))

    return "\n".join(["rounds:", line(head), *map(line, rows), line(total)])


def _asynchronous(search):
    """Whether ``search`` is ASHA, whose plan is the tied-scores case, not a count."""
    from hpsearch.model_selection import ASHASearchCV

    return isinstance(search, ASHASearchCV)


def _races(search):
    """Whether ``search`` races its candidates across splits (fewer fits than planned)."""
    from hpsearch.model_selection._racing import racing_enabled

    return racing_enabled(search)


def describe_plan(plan):
    """The dry-run text: data, estimator, splitter, candidates, splits and fits."""
    s = plan.study
    data = s.data.dataset or s.data.path
    n_train, n_test = len(plan.y_train), len(plan.y_test)
    n_features = plan.X_train.shape[1]
    search = plan.search
    est = type(plan.estimator).__name__
    if est == "Pipeline":
        est = "Pipeline(preprocess, " + type(plan.estimator.steps[-1][1]).__name__ + ")"
    cand, fits_text, extra = _plan_budget(plan)
    lines = [
        f"study {plan.name!r}: {s.search.method} search ({type(search).__name__}) "
        f"over {len(plan.space)} parameter(s): {', '.join(map(short, plan.space))}",
        f"data:       {data}: {n_train} rows searched, {n_test} held out for the final "
        f"test, {n_features} features",
        f"estimator:  {est}",
        f"cv:         {plan.cv!r}",
        f"candidates: {cand}",
        f"splits:     {plan.n_splits}",
        f"fits:       {fits_text}",
        *extra,
        *_nested_plan(plan),
        f"scoring:    {s.scoring or 'default (estimator.score)'}",
        f"output:     {plan.out}",
        f"storage:    {plan.storage} (study {plan.study_name!r})",
        *(f"note:       {note}" for note in plan.notes),
    ]
    return "\n".join(lines)


def _nested_plan(plan):
    """The dry-run lines of nested cross-validation (``evaluate``), or none."""
    if plan.outer_cv is None:
        return []
    fits = plan.nested_fits
    if not fits:
        return [f"nested:     {plan.outer_cv!r} (fits not counted: see the note)"]
    pruned = bool(plan.search.plan_rungs()) if hasattr(plan.search, "plan_rungs") else False
    most = "at most " if pruned or _races(plan.search) else ""
    each = (f"{most}{fits[0]} fits + 1 refit each" if len(set(fits)) == 1
            else f"{most}{', '.join(map(str, fits))} fits (+1 refit each)")
    return [
        f"nested:     {plan.outer_cv!r}: {len(fits)} outer splits, each the search above "
        f"on its outer-train rows: {each}",
        f"            = {most}{sum(fits) + len(fits)} fits, run before the final search "
        f"({_nested_engine(plan)})",
    ]


def _nested_engine(plan):
    """How the nested fits will run: one pool for all outer splits, or one after the other."""
    from hpsearch.model_selection.nested import one_pool_workers

    workers = None if plan.backend is not None else one_pool_workers(
        plan.search, plan.X_train, plan.y_train)
    if workers is None:
        return "outer splits one after the other"
    return f"all outer splits at once, their fits in one pool of {workers} workers"


#: what a report and a summary of a ``--smoke`` run say first
SMOKE_NOTE = ("--smoke run: a reduced budget (2 candidates, few epochs) to check the file, "
              "not the study's result; run it again without --smoke (--overwrite)")


def n_failed_splits(error):
    """How many splits of a row failed: the ``split k:`` sections of its ``error`` text
    (``_results.row_error``; a text without sections: 1), 0 without an error; a split the
    search's ``timeout`` left unrun is no failed fit."""
    from hpsearch.model_selection._engine import NOT_RUN

    if not isinstance(error, str):
        return 0
    parts = re.split(r"^split \d+:\n", error, flags=re.M)
    sections = parts[1:] if len(parts) > 1 else [error]
    return sum(1 for text in sections if NOT_RUN not in text)


def top_table(cv_df, metric, n=10, label=None):
    """Markdown table of the ``n`` best candidates (columns ``*_test_<metric>``); a
    ``failed splits`` column when a fit failed (its mean holds ``error_score``)."""
    mean, std, rank = (f"{p}_test_{metric}" for p in ("mean", "std", "rank"))
    label = label or metric
    df = cv_df.sort_values([rank, mean], ascending=[True, False]).head(n)
    names = []
    for p in df["params"]:
        for k in p:
            if k not in names:
                names.append(k)
    extra = [c for c in ("bracket", "iter", "n_resources", "state", "accepted") if c in df]
    digits = digits_apart(df[mean])
    failed = "error" in df and bool(df["error"].map(n_failed_splits).any())
    head = ["rank", f"mean {label}", "std", *extra, *(["failed splits"] if failed else []),
            *map(short, names)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in df.iterrows():
        cells = [fmt(r[rank]), fmt(r[mean], digits), fmt(r[std]), *(fmt(r[c]) for c in extra)]
        cells += [str(n_failed_splits(r["error"]))] if failed else []
        cells += [fmt(r["params"].get(k, "")) for k in names]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


#: the share of the best's mean a loss's region of practical equivalence spans, and the
#: half-width of a score's (``compare``'s default: one point of accuracy)
ROPE_SHARE = 0.01


def _is_loss(metric):
    """Whether ``metric`` is a loss in the data's units: scikit-learn's ``neg_*`` scorers
    (squared / absolute errors, deviances, log loss), unlike a score such as accuracy,
    F1, ROC AUC or r2, a fraction whose 0.01 is one point."""
    return str(metric).startswith("neg_")


def practical_rope(metric, best_mean):
    """The report's region of practical equivalence: ``(half-width, description)``.

    A score (accuracy, F1, r2, ...: a fraction) keeps :func:`~hpsearch.model_selection.
    compare`'s ``rope=0.01``, one point (Benavoli et al. 2017 use 0.01 for accuracy). A
    loss (:func:`_is_loss`: ``neg_mean_squared_error``...) is in the data's units, where
    0.01 is no practical difference at all (an MSE in the thousands read P(within) = 0 for
    every candidate): its half-width is :data:`ROPE_SHARE` of the best's mean,
    :math:`r = 0.01 |\\bar s_\\text{best}|`, the same one-percent change relative to the
    loss reached.
    """
    if not _is_loss(metric):
        return ROPE_SHARE, f"{fmt(ROPE_SHARE)} {metric} (one point)"
    rope = ROPE_SHARE * abs(float(best_mean)) if math.isfinite(float(best_mean)) else 0.0
    return rope, (f"{fmt(rope)} {metric} ({ROPE_SHARE:.0%} of the best's mean "
                  f"{fmt(float(best_mean))}: a loss has the data's units)")


def _spread_text(summary, its=""):
    """' ± 0.009 (std over 3 splits)' after the best score; with a single split (a
    holdout) there is no spread to measure, and '± 0 (std over 1 splits)' said there was
    none."""
    budget = _best_budget_text(summary)
    if summary["n_splits"] == 1:
        return f" (one split{budget}: no spread measured)"
    return (f" ± {fmt(summary['best_std'])} (std over {its}{summary['n_splits']} "
            f"splits{budget})")


def how_sure_section(frame, plot=None, alpha=0.05, rope_text=None):
    """Markdown "How sure is this?": the top candidates against the best, honestly.

    ``frame`` is :func:`hpsearch.model_selection.compare`'s table; ``plot`` the relative
    path of :func:`hpsearch.plots.comparison`'s figure; ``rope_text`` says what the
    region of practical equivalence (``frame.attrs["rope"]``) is (:func:`practical_rope`).
    """
    rope = frame.attrs.get("rope", 0.0)
    budgets = "budget" in frame  # halving, Hyperband, ASHA: each row at its own budget
    head = ["rank", "mean", *(["budget"] if budgets else []), "best − this", "p (corrected)",
            "p (naive)", "P(best better)", f"P(equivalent: within ±{fmt(rope)})",
            "parameters"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    digits = digits_apart(frame["mean_test"])
    for _, r in frame.iterrows():
        cells = [fmt(r["rank"]), fmt(r["mean_test"], digits),
                 *([fmt(r["budget"])] if budgets else []),
                 fmt(r["difference"]), fmt(r["p_value"]), fmt(r["p_value_naive"]),
                 fmt(r["p_best_better"]), fmt(r["p_equivalent"]), _params_text(r["params"])]
        rows.append("| " + " | ".join("" if c == "nan" else c for c in cells) + " |")
    ratio = frame.attrs["test_train_ratio"]
    subsampled = ("; n_test/b for a row trained on b samples of a train fold"
                  if "test_train_ratio" in frame else "")
    lines = [
        "## How sure is this?", "",
        f"The top candidates against the best on the splits both finished: the Nadeau–Bengio "
        f"corrected resampled t-test (n_test/n_train = {fmt(ratio)}{subsampled}) and the "
        f"Bayesian "
        f"correlated t-test. The naive paired t-test is shown only to see why the correction "
        f"matters: it treats overlapping splits as independent and finds differences that "
        f"are not there.", "",
        *rows, "",
        f"- P(best better) and P(equivalent): posterior probabilities that the best's true "
        f"mean is higher by more than {fmt(rope)}, or that the two differ by at most "
        f"{fmt(rope)}, the region of practical equivalence: "
        f"{rope_text or fmt(rope) + ' in score units'}.", "",
    ]
    if "n_splits" in frame and frame["n_splits"].iloc[1:].max() < 2:
        lines += ["- One split only: no test can say how sure the choice is (each needs the "
                  "spread of at least two splits), so their cells are empty; several splits "
                  "(k-fold, or `cv: {method: monte_carlo, n_splits: 10}`) measure it.", ""]
    lines += _tied_lines(frame, alpha)
    if plot:
        lines += [f"![How sure is this?]({plot})", ""]
    return "\n".join(lines)


def _tied_lines(frame, alpha):
    """The verdict under the "How sure is this?" table: how many of the next candidates
    are not significantly worse than the best (corrected p >= ``alpha``). With budgets,
    only the candidates at the best's budget count (the others were compared at a smaller
    budget, and neither the search nor ``not_significantly_worse`` can choose them)."""
    rest = frame.iloc[1:]
    same = np.ones(len(rest), dtype=bool)
    where = ""
    if "budget" in frame:
        same = np.asarray([b == frame["budget"].iloc[0] for b in rest["budget"]], dtype=bool)
        where = f" at the best's budget ({fmt(frame['budget'].iloc[0])})"
    tied = np.asarray(rest["p_value"] >= alpha, dtype=bool)
    lines = []
    if (tied & same).any():
        lines += [f"- {int((tied & same).sum())} of the next {int(same.sum())} candidates"
                  f"{where} are not significantly worse than the best (corrected p >= "
                  f"{alpha}): the choice among them is within the noise; "
                  f"`refit=not_significantly_worse(simplicity=...)` picks the simplest.", ""]
    if (tied & ~same).any():
        lines += [f"- {int((tied & ~same).sum())} candidate(s) compared at a smaller budget "
                  f"(with the best's row there) are not significantly worse at that budget; "
                  f"the search stopped them there, so they are no choice at the full budget.",
                  ""]
    return lines


def recipe_stages(search):
    """``summary["stages"]`` of a recipe search (:class:`RecipeSearchCV`'s ``stages_``, in
    the order they ran: what each tuned, how many candidates it fitted, its pick's
    scores and diagnosis, and why it ended), or None for other searches."""
    stages = getattr(search, "stages_", None)
    if not stages:
        return None
    keys = ("stage", "tuned", "n_evaluated", "train_score", "validation_score", "diagnosis",
            "reason")
    out = [{k: entry.get(k) for k in keys} for entry in stages]
    for entry in out:
        entry["tuned"] = [short(name) for name in entry["tuned"] or ()]
    return out


def stages_section(stages, metric, floor=None):
    """Markdown "The recipe, stage by stage" of a recipe search: ``stages`` is
    ``summary["stages"]`` (see :func:`recipe_stages`), ``floor`` the training floor F."""
    head = ["stage", "tuned", "candidates", f"pick: training {metric}",
            f"pick: validation {metric}", "pick's diagnosis", "why the stage ended"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in stages:
        rows.append("| " + " | ".join([
            entry["stage"], ", ".join(entry["tuned"]) or "(nothing)",
            str(entry["n_evaluated"]), fmt(entry["train_score"]),
            fmt(entry["validation_score"]), str(entry["diagnosis"]),
            str(entry["reason"]).replace("|", "/")]) + " |")
    floor_text = ("" if floor is None or not math.isfinite(floor) else
                  f" (floor F = {fmt(floor)}: a candidate training below it is not accepted)")
    return "\n".join([
        "## The recipe, stage by stage", "",
        "The search followed the lecture's recipe in order: first the training side, tuned "
        "against the training score until a candidate trains well (while training is poor, "
        "regularization cannot help), then the generalization side, tuned against the "
        f"validation score with training re-checked{floor_text}.", "",
        *rows, "",
    ])


def nested_section(nested, metric):
    """Markdown "Nested cross-validation": per outer split, the outer test score, the
    inner best score beside it (the optimism of a search's own best score) and the
    parameters chosen (how stable the choice is); ``nested`` is ``summary["nested"]``."""
    head = ["outer split", "train / test rows", f"outer test {metric}",
            f"inner best {metric}", "optimism (inner − outer)", "chosen parameters"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k, (score, best, params, n_train, n_test) in enumerate(zip(
            nested["test_scores"], nested["inner_best_scores"], nested["best_params"],
            nested["n_train"], nested["n_test"])):
        rows.append("| " + " | ".join([
            str(k), f"{n_train} / {n_test}", fmt(score), fmt(best), fmt(best - score),
            _params_text(params)]) + " |")
    distinct = {repr(sorted(p.items())) for p in nested["best_params"]}
    n = len(nested["test_scores"])
    return "\n".join([
        "## Nested cross-validation", "",
        f"The whole search (its {nested['inner_cv']} inner cross-validation, the choice of "
        f"the best candidate and its refit) ran again on the training part of each of "
        f"{n} outer splits (`{nested['outer_cv']}`), and the model it chose was scored on "
        "that split's outer-test rows, which its search never saw. "
        + (f"All outer splits' searches ran at once, their fits in one pool of "
           f"{nested['n_workers']} workers"
           if nested.get("engine") == "one pool" else "The outer splits ran one after the other")
        + f": {_nested_fits_text(nested)}.", "",
        *rows, "",
        f"- **unbiased estimate of the whole search procedure: {metric} "
        f"{fmt(nested['mean'])} ± {fmt(nested['std'])}** (mean ± std over the {n} outer "
        "splits)",
        f"- mean inner best {metric}: {fmt(nested['mean_inner_best'])}; mean optimism "
        f"{fmt(nested['mean_optimism'])}: the best CV score of a search is the maximum of "
        "noisy estimates, chosen and scored on the same splits, so it overstates (when "
        "positive) what the chosen model does on new data",
        f"- {len(distinct)} distinct configuration(s) chosen in {n} outer splits"
        + (": the choice is stable" if len(distinct) == 1 else
           ": the choice varies with the training rows (see \"How sure is this?\" for how "
           "far apart the top candidates are)"),
        "- the final search below ran once more on all the training rows; its mean CV score "
        "is the optimistic one, the held-out test score is one more honest number (on a "
        "single split)", "",
    ])


def _nested_fits_text(nested):
    """'21 fits in 1.2 s', or on a resume that found fits of the earlier run in the
    trial store '21 fits, 3 of them run now in 0.4 s (the other 18 by the run resumed)'."""
    n, run = nested["n_fits"], nested.get("n_fits_run", nested["n_fits"])
    time = f"{fmt(nested['fit_time_s'], 3)} s"
    if run >= n:  # (a split the search's timeout left unrun came back as no fit)
        return f"{n} fits in {time}"
    return f"{n} fits, {run} of them run now in {time} (the other {n - run} by the run resumed)"


def write_report(path, plan, summary, cv_df, plots, sections=()):
    """Write ``report.md``: best configuration and score, test score, top 10, the extra
    ``sections`` (Markdown, e.g. "How sure is this?", "Diagnosis"), plots."""
    s = plan.study
    metric = summary["metric"]
    lines = [
        f"# Study `{plan.name}`",
        "",
        f"- data: `{s.data.dataset or s.data.path}` — {summary['n_train']} rows searched, "
        f"{summary['n_test']} held out for the final test",
        f"- estimator: `{s.estimator.name}`" + (" in a preprocessing pipeline" if s.preprocessing else ""),
        f"- search: `{s.search.method}` — {_fits_text(summary, ' × ')} in "
        f"{summary['fit_time_s']:.1f} s" + (f" ({summary['backend']})" if summary.get("backend") else ""),
        f"- cv: `{summary['cv']}`",
        *([f"- **{SMOKE_NOTE}**"] if summary.get("smoke") else []),
        "",
        "## Best configuration",
        "",
        "| parameter | value |",
        "|---|---|",
        *(f"| {short(k)} | {fmt(v)} |" for k, v in summary["best_params"].items()),
        "",
        f"- mean CV {metric}: **{fmt(summary['best_score'])}**{_spread_text(summary, 'its ')}",
    ]
    for name, value in (summary.get("test_scores") or {}).items():
        lines.append(f"- final test {name} (held-out data, never searched): **{fmt(value)}**")
    nested = summary.get("nested")
    if nested:
        lines.append(f"- nested CV {metric} (unbiased estimate of the whole search, see "
                     f"Nested cross-validation): **{fmt(nested['mean'])}** ± "
                     f"{fmt(nested['std'])}; the mean CV score above is the search's own "
                     "best, optimistic")
    if summary.get("n_failed"):
        lines.append(f"- failed fits: {summary['n_failed']} (tracebacks in results.csv, column `error`)")
    lines += ["", "## Top 10", "", top_table(cv_df, summary["metric_key"], label=metric), ""]
    if summary.get("resource"):  # rounds: the plan as --dry-run prints it, and what ran
        _, fits, extra = _plan_budget(plan)
        ran = f"{summary['n_fits']} fits ran"
        if summary.get("n_pruned"):
            ran += f"; {summary['n_pruned']} of {summary['n_candidates']} trials pruned"
        lines += ["## Budget", "", "```", f"fits:       {fits}", *extra, "```", "",
                  f"- {ran}", ""]
    for section in sections:
        lines += [section, ""]
    lines += ["## Plots", ""]
    for title, rel in plots:
        lines += [f"### {title}", "", f"![{title}]({rel})", ""]
    lines += [
        "## Files",
        "",
        "- `results.csv`: one row per (candidate, split); `cv_results.csv`: sklearn's `cv_results_`",
        "- `best_params.json`, `summary.json`, "
        + ("`model.joblib` (refit best model)" if _refit_model(summary)
           else "no `model.joblib` (refit: false)") + ", `study.yaml` (copy)",
        f"- trial store: `{plan.storage}` (study `{plan.study_name}`)",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _refit_model(summary):
    """Whether the run refit a best model (``model.joblib``; it has test scores)."""
    return summary.get("test_scores") is not None


def _fits_text(summary, times=" x "):
    """'8 candidates x 3 splits = 24 fits', with rounds and pruning when there are some."""
    n, rows = summary["n_candidates"], summary.get("n_evaluations", summary["n_candidates"])
    text = f"{n} candidates"
    if summary.get("n_rounds", 1) > 1 or rows != n:
        text += f" in {summary['n_rounds']} rounds ({rows} evaluations"
        text += f", {summary['n_pruned']} pruned)" if summary.get("n_pruned") else ")"
    skipped = [f"{summary[k]} {what}" for k, what in (
        ("n_raced", "raced away"), ("n_not_run", "not run: the search's timeout"))
        if summary.get(k)]
    splits = f"{summary['n_splits']} split{'s' if summary['n_splits'] != 1 else ''}"
    run = summary.get("n_fits_run", summary["n_fits"])
    now = (f"; {run} of them run now, the other {summary['n_fits'] - run} by the run "
           "resumed" if run < summary["n_fits"] else "")
    if skipped:  # fewer fits than candidates x splits
        return (f"{text}{times}{splits}: {summary['n_fits']} fits "
                f"({', '.join(skipped)}{now})")
    return (f"{text}{times}{splits} = {summary['n_fits']} fits"
            + (f" ({now[2:]})" if now else ""))


def _best_budget_text(summary):
    """', at 72 samples' when the best was scored at a budget (halving, Hyperband, ASHA,
    pruned Optuna), else '': a halving search on samples scores its best on fewer rows
    than the refit model is trained on."""
    budget = summary.get("best_budget")
    if budget is None or not summary.get("resource"):
        return ""
    return f", at {fmt(budget)} {summary['resource']}"


def _budget_text(row, summary):
    """'[27 epochs] ' for a row of a search with rounds, else ''."""
    if "n_resources" not in row or not summary.get("resource"):
        return ""
    return f"[{fmt(row['n_resources'])} {summary['resource']}] "


def _state_text(row, metric):
    """'(raced: 3 of 10 splits) ' for a candidate racing stopped (its mean is over the
    splits it finished), '(not accepted) ' for a recipe candidate below the training
    floor, else ''."""
    if row.get("state") == "RACED":
        splits = [k for k in row.index if re.fullmatch(rf"split\d+_test_{re.escape(metric)}",
                                                       str(k))]
        done = sum(1 for k in splits if np.isfinite(float(row[k])))
        return f"(raced: {done} of {len(splits)} splits) "
    if "accepted" in row and not bool(row["accepted"]):
        return "(not accepted) "
    if "error" in row and n_failed_splits(row["error"]):
        return f"({n_failed_splits(row['error'])} failed splits) "
    return ""


#: the printed line on the best candidate's verdict (LECTURE.md §4), by its label
_BEST_VERDICTS = {
    "training": "poor on its training folds: optimize first (activation, solver, learning "
                "rate, more epochs, more capacity), not regularization",
    "overfitting": "good on training, much worse on validation: overfitting (more "
                   "regularization, early stopping, dropout, less capacity)",
    "none": "good on training and on validation",
}


def _best_estimator(estimator, params):
    """``estimator`` at the best ``params`` (its remedies are worded for those values), or
    as it is where they cannot be set."""
    from sklearn.base import clone

    if estimator is None or not params:
        return estimator
    try:
        return clone(estimator).set_params(**params)
    except Exception:  # noqa: BLE001 - words only
        return estimator


def best_verdict_text(verdict, estimator=None):
    """The printed verdict on the best candidate, its remedies in ``estimator``'s own words
    (:mod:`hpsearch.diagnostics._remedies`; a tree was told to change its "activation,
    solver"); :data:`_BEST_VERDICTS` without an estimator."""
    from hpsearch.diagnostics._remedies import remedies

    if estimator is None or verdict not in ("training", "overfitting"):
        return _BEST_VERDICTS[verdict]
    r = remedies(estimator)
    if verdict == "training":
        return (f"poor on its training folds: optimize first ({', '.join(r['training'])}), "
                "not more regularization")
    return (f"good on training, much worse on validation: overfitting "
            f"({', '.join(r['overfitting'])})")


def summary_text(plan, summary, cv_df):
    """The one-screen summary printed at the end of a run."""
    metric = summary["metric"]
    lines = [
        f"study {plan.name!r}: {plan.study.search.method} search, {_fits_text(summary)} in "
        f"{summary['fit_time_s']:.1f} s",
        *([SMOKE_NOTE] if summary.get("smoke") else []),
        f"best CV {metric}: {fmt(summary['best_score'])}{_spread_text(summary)}",
    ]
    for name, value in (summary.get("test_scores") or {}).items():
        lines.append(f"test {name}: {fmt(value)} ({summary['n_test']} held-out rows)")
    nested = summary.get("nested")
    if nested:
        lines.append(f"nested CV {metric}: {fmt(nested['mean'])} ± {fmt(nested['std'])} "
                     f"({len(nested['test_scores'])} outer splits; unbiased estimate of the "
                     f"search; mean optimism of the inner best {fmt(nested['mean_optimism'])})")
    lines.append("best params: " + _params_text(summary["best_params"]))
    if summary.get("best_diagnosis") in _BEST_VERDICTS:
        verdict = best_verdict_text(summary["best_diagnosis"], _best_estimator(
            getattr(plan, "estimator", None), summary.get("best_params")))
        lines.append(f"the recipe on the best: {verdict} (report.md, \"Diagnosis\")")
    for entry in summary.get("stages") or ():  # the recipe search: why each stage ended
        lines.append(f"recipe stage {entry['stage']}: {entry['reason']}")
    mean, rank = f"mean_test_{summary['metric_key']}", f"rank_test_{summary['metric_key']}"
    top = cv_df.sort_values([rank, mean], ascending=[True, False]).head(5)
    digits = digits_apart(top[mean])
    lines.append("top 5:")
    for _, r in top.iterrows():
        lines.append(f"  {fmt(r[rank]):>3}  {fmt(r[mean], digits):<8} {_budget_text(r, summary)}"
                     f"{_state_text(r, summary['metric_key'])}{_params_text(r['params'])}")
    if summary.get("n_failed"):
        lines.append(f"failed fits: {summary['n_failed']} (see results.csv)")
    model = "model.joblib, " if _refit_model(summary) else ""
    lines.append(f"output: {plan.out}/ (report.md, results.csv, best_params.json, {model}plots/)")
    return "\n".join(lines)
