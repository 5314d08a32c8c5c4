"""Issue 14: racing across folds. How many fits does it save, and does it choose the same?

For each dataset and seed, a stratified 25 % test set is held out and a 10-fold
(shuffled, seeded) search of small hpsearch ``MLPClassifier`` configurations (15 epochs)
runs on the rest. Even seeds run a 12-point grid (``GridSearchCV``), odd seeds 12 random
candidates (``RandomSearchCV``). Datasets: sklearn's digits, breast_cancer, wine and iris
and a generated 3-class ``make_classification`` problem (1000 rows): from 11 to 135 test
rows per fold, from near-ties everywhere to clearly hopeless configurations.

Each run fits the search twice on one in-memory Optuna storage: with ``racing=True`` at
the searches' default setting, then without racing, resuming that study (so it fits
only the raced-away splits). That gives the full evaluation's (12, 10) split-score
matrix. Racing's decisions depend only on split scores and a fit depends only on its
(candidate, split) (per-fit seeds), so :func:`hpsearch.model_selection._racing.replay`
(the same waves and barrier decisions as ``race``, no second implementation) gives what
a racing search at any other setting would do, at no cost. Checked on every run: the
replay at the default equals the real racing search (raced candidates, fits per
candidate, ``best_index_``), and its finished splits equal the full ones; on seeds
``CHECK_SEEDS`` a fresh full search (no resume) gives the same matrix.

Per setting (``racing_min_splits`` x ``racing_alpha``; and the uncorrected paired t-test
at the default ``racing_min_splits`` for comparison), over all runs:

- fits saved: ``1 - fits(racing) / fits(full)`` (issue target >= 40 %);
- same choice: share of runs whose refit candidate is the full search's (target >= 90 %,
  shown also for the worst dataset);
- where they differ: whether racing's choice is within the corrected test's noise of the
  full best (two-sided corrected t-test on all 10 splits, p >= 0.05), and the CV regret
  (full best's mean minus the chosen one's, averaged over all runs);
- for the real racing searches, the held-out test-score difference of the two refit
  models where the choices differ.

Run::

    python benchmarks/run.py --only racing
"""

from __future__ import annotations

import numpy as np
from _harness import Row, quiet

NAME = "racing"
#: (racing_min_splits, racing_alpha) replayed on every run; DEFAULT also runs for real
SETTINGS = [(m, a) for m in (2, 3, 5) for a in (0.01, 0.05, 0.1, 0.2)]
CHECK_SEEDS = (0, 1)  # also a fresh full search (no resume): the same split scores
DATASETS = ("digits", "breast_cancer", "wine", "iris", "synthetic")
GRID = {
    "mlpclassifier__hidden_layer_sizes": [(16,), (64,)],
    "mlpclassifier__learning_rate_init": [3e-4, 3e-3, 3e-2],
    "mlpclassifier__alpha": [1e-4, 1e-1],
}


def _space():
    from hpsearch.space import Categorical, Float

    return {
        "mlpclassifier__hidden_layer_sizes": Categorical([(8,), (32,), (64,)]),
        "mlpclassifier__learning_rate_init": Float(1e-4, 1e-1, log=True),
        "mlpclassifier__alpha": Float(1e-5, 1.0, log=True),
    }


def _data(name):
    from sklearn import datasets

    if name == "synthetic":  # 1000 rows, 20 features (8 informative), 3 classes
        return datasets.make_classification(n_samples=1000, n_features=20, n_informative=8,
                                            n_redundant=4, n_classes=3, random_state=0)
    return getattr(datasets, f"load_{name}")(return_X_y=True)


def _search(seed, **kw):
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hpsearch import GridSearchCV, MLPClassifier, RandomSearchCV

    estimator = make_pipeline(StandardScaler(), MLPClassifier(max_iter=15))
    common = dict(cv=StratifiedKFold(10, shuffle=True, random_state=seed),
                  random_state=seed, study_name="race", **kw)
    if seed % 2 == 0:
        return GridSearchCV(estimator, GRID, **common)
    return RandomSearchCV(estimator, _space(), n_iter=12, **common)


def _default():
    """``(racing_min_splits, racing_alpha)`` of the searches' signatures."""
    import inspect

    from hpsearch import GridSearchCV

    params = inspect.signature(GridSearchCV).parameters
    return params["racing_min_splits"].default, params["racing_alpha"].default


def _matrix(results, n_splits=10):
    """The ``(n_candidates, n_splits)`` test scores of ``cv_results_`` (NaN: not fitted)."""
    return np.column_stack([np.asarray(results[f"split{k}_test_score"], dtype=np.float64)
                            for k in range(n_splits)])


def _choice(raced, means):
    """The refit candidate: best mean among the complete ones, the first on a tie (as
    ``rank_test_score`` and ``best_index_`` do)."""
    complete = np.flatnonzero(~raced)
    return int(complete[np.argmax(means[complete])])


def one_run(dataset, seed):
    """One (dataset, seed): the full evaluation's split scores, and the real racing search
    at the default setting checked against its replay."""
    import optuna
    from sklearn.model_selection import train_test_split

    from hpsearch.model_selection._racing import _ratio, replay

    X, y = _data(dataset)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    storage = optuna.storages.InMemoryStorage()
    with quiet():
        raced = _search(seed, racing=True, storage=storage).fit(X_tr, y_tr)
        full = _search(seed, storage=storage, resume=True).fit(X_tr, y_tr)
        fresh = _search(seed).fit(X_tr, y_tr) if seed in CHECK_SEEDS else None
    matrix, means = _matrix(full.cv_results_), np.asarray(full.cv_results_["mean_test_score"])
    if fresh is not None:  # the assumption of the replay: a fit depends on (candidate, split)
        np.testing.assert_array_equal(matrix, _matrix(fresh.cv_results_))
    ratio = _ratio(full, 10)
    real = _matrix(raced.cv_results_)
    done = np.isfinite(real)
    np.testing.assert_array_equal(real[done], matrix[done])  # the same fits
    again, n_fits = replay(matrix, *_default(), ratio)
    np.testing.assert_array_equal(again, raced.cv_results_["raced"])
    np.testing.assert_array_equal(n_fits, done.sum(axis=1))
    assert _choice(again, means) == raced.best_index_
    same = raced.best_index_ == full.best_index_
    assert same == (raced.best_params_ == full.best_params_)
    gap = 0.0 if same else raced.score(X_te, y_te) - full.score(X_te, y_te)
    return {"dataset": dataset, "seed": seed, "matrix": matrix, "means": means,
            "best": int(full.best_index_), "ratio": ratio, "same": same,
            "test_gap": gap}


def evaluate_setting(runs, min_splits, alpha, naive=False):
    """Replay one setting on every run: fits, choice, whether a different choice is
    within the corrected test's noise of the full evaluation's best, and the CV regret.
    ``naive``: decide with the uncorrected paired t-test (test/train ratio 0)."""
    from hpsearch.model_selection._racing import replay
    from hpsearch.model_selection.stats import corrected_ttest

    out = []
    for r in runs:
        raced, n_fits = replay(r["matrix"], min_splits, alpha, 0.0 if naive else r["ratio"])
        chosen = _choice(raced, r["means"])
        p = 1.0
        if chosen != r["best"]:
            p = corrected_ttest(r["matrix"][r["best"]] - r["matrix"][chosen], r["ratio"],
                                "two-sided")[1]
        out.append({"dataset": r["dataset"], "fits": int(n_fits.sum()),
                    "full": r["matrix"].size, "same": chosen == r["best"],
                    "noise": p >= 0.05,
                    "regret": float(r["means"][r["best"]] - r["means"][chosen])})
    return out


def run(quick=False, repeats=3):
    n_seeds = 2 if quick else 20
    runs = [one_run(dataset, seed) for dataset in DATASETS for seed in range(n_seeds)]
    default = _default()
    rows = [_setting_row(m, a, evaluate_setting(runs, m, a), default)
            for m, a in SETTINGS]
    rows += [_setting_row(default[0], a, evaluate_setting(runs, default[0], a, naive=True),
                          default, naive=True) for a in (0.05, 0.1)]
    rows += list(_default_rows(runs))
    return rows


def _share(part, key):
    return sum(r[key] for r in part) / len(part)


def _saved(part):
    return 1 - sum(r["fits"] for r in part) / sum(r["full"] for r in part)


def _setting_row(min_splits, alpha, results, default, naive=False):
    """One line of the settings table: fits saved, same choice (all runs and the worst
    dataset), differing choices within noise, CV regret."""
    saved = _saved(results)
    per = {d: [r for r in results if r["dataset"] == d] for d in DATASETS}
    per = {d: p for d, p in per.items() if p}
    worst = min(_share(p, "same") for p in per.values())
    differ = [r for r in results if not r["same"]]
    n_noise = sum(r["noise"] for r in differ)
    regret = float(np.mean([r["regret"] for r in results]))
    label = f"min_splits={min_splits}, alpha={alpha}"
    if naive:
        label += ", uncorrected t-test"
    elif (min_splits, alpha) == tuple(default):
        label += " (default)"
    return Row(
        benchmark=NAME, name=label, hpsearch=saved, unit="share saved",
        met=None if naive else (saved >= 0.40 and worst >= 0.90 and n_noise == len(differ)),
        extra={"min_splits": min_splits, "alpha": alpha, "naive": naive, "saved": saved,
               "fits": sum(r["fits"] for r in results),
               "full": sum(r["full"] for r in results), "runs": len(results),
               "same": _share(results, "same"), "same_worst": worst,
               "differ": len(differ), "within_noise": n_noise, "cv_regret": regret,
               "per_dataset": {d: {"saved": _saved(p), "same": _share(p, "same")}
                               for d, p in per.items()}},
        note=f"same choice {sum(r['same'] for r in results)}/{len(results)} "
             f"(worst dataset {worst:.0%}); {len(differ)} differ, {n_noise} within noise; "
             f"CV regret {regret:.1e}; "
             + ", ".join(f"{d} {_saved(p):.0%} saved / {_share(p, 'same'):.0%} same"
                         for d, p in per.items()),
    )


def _default_rows(runs):
    """The real racing searches at the default setting (checked equal to their replay):
    held-out test-score gap of the refit models where the choice differs."""
    gaps = [r["test_gap"] for r in runs if not r["same"]]
    yield Row(benchmark=NAME, name="held-out test gap where choices differ (real racing)",
              hpsearch=float(np.mean(gaps)) if gaps else 0.0, unit="accuracy",
              note=f"{len(runs)} real racing searches, fits and choices equal to the "
                   f"replay's; {len(gaps)} with a different refit model, test gap "
                   f"racing - full: min {min(gaps) if gaps else 0:+.4f}")
