"""Issue 14: racing across folds. How many fits does it save, and does it choose the same?

For each dataset (digits, breast_cancer, wine) and seed, a stratified 25 % test set is
held out and a 10-fold (shuffled, seeded) search of small hpsearch ``MLPClassifier``
configurations (15 epochs) runs twice on the rest: with ``racing=True`` (defaults:
``racing_min_splits=3``, ``racing_alpha=0.05``) and without. Even seeds run a 12-point
grid (``GridSearchCV``), odd seeds 12 random candidates (``RandomSearchCV``).

The racing search runs first on an in-memory Optuna storage; the full search then
resumes that study, so it reuses every fit racing made and fits only the raced-away
splits (the numbers are the same as a fresh full search: per-fit seeds depend on the
candidate and split only). Reported:

- fits saved: ``1 - fits(racing) / fits(full)`` over all runs (issue target >= 40 %);
- same choice: share of runs where racing's ``best_params_`` equal the full search's
  (target >= 90 %);
- where they differ: whether the full search's best is significantly better than racing's
  choice on all 10 splits (two-sided corrected t-test, 5 %), and the held-out test-score
  difference of the two refit models (racing minus full; 0 on identical choices).

Run::

    python benchmarks/run.py --only racing
"""

from __future__ import annotations

import numpy as np
from _harness import Row, quiet

NAME = "racing"
DATASETS = ("digits", "breast_cancer", "wine")
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


def _n_fits(results, n_splits=10):
    return sum(int(np.isfinite(results[f"split{k}_test_score"]).sum())
               for k in range(n_splits))


def one_run(dataset, seed):
    """One (dataset, seed): fits of both searches, same choice, noise test, test gap."""
    import optuna
    from sklearn.model_selection import train_test_split

    from hpsearch.model_selection.stats import corrected_ttest

    X, y = _data(dataset)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    storage = optuna.storages.InMemoryStorage()
    with quiet():
        raced = _search(seed, racing=True, storage=storage).fit(X_tr, y_tr)
        full = _search(seed, storage=storage, resume=True).fit(X_tr, y_tr)
    res = full.cv_results_

    def splits(i):
        return np.array([res[f"split{k}_test_score"][i] for k in range(10)])

    same = raced.best_params_ == full.best_params_
    p = 1.0
    if not same:
        p = corrected_ttest(splits(full.best_index_) - splits(raced.best_index_),
                            1 / 9, "two-sided")[1]
    gap = 0.0 if same else raced.score(X_te, y_te) - full.score(X_te, y_te)
    return {"fits_raced": _n_fits(raced.cv_results_), "fits_full": _n_fits(res),
            "same": same, "significant": p < 0.05, "test_gap": gap}


def run(quick=False, repeats=3):
    n_seeds = 2 if quick else 20
    rows, runs = [], []
    for dataset in DATASETS:
        part = [one_run(dataset, seed) for seed in range(n_seeds)]
        runs += part
        rows.append(_rows(dataset, part)[0])
    saved, same, other = _rows("all", runs)
    return rows + [saved, same, other]


def _rows(label, runs):
    n = len(runs)
    fits_raced = sum(r["fits_raced"] for r in runs)
    fits_full = sum(r["fits_full"] for r in runs)
    saved = 1 - fits_raced / fits_full
    n_same = sum(r["same"] for r in runs)
    differ = [r for r in runs if not r["same"]]
    gaps = [r["test_gap"] for r in differ]
    return (
        Row(benchmark=NAME, name=f"fits saved, {label}", hpsearch=saved, unit="share",
            target="", met=saved >= 0.40 if label == "all" else None,
            note=f"{fits_raced} of {fits_full} fits, {n} runs (10-fold; target >= 0.40)"),
        Row(benchmark=NAME, name=f"same choice as full, {label}", hpsearch=n_same / n,
            unit="share", met=n_same / n >= 0.90,
            note=f"{n_same} of {n} runs (target >= 0.90)"),
        Row(benchmark=NAME, name=f"test gap where choices differ, {label}",
            hpsearch=float(np.mean(gaps)) if gaps else 0.0, unit="accuracy",
            met=not any(r["significant"] for r in differ),
            note=f"{len(differ)} runs differ; full best significantly better (corrected "
                 f"t-test, 5 %) in {sum(r['significant'] for r in differ)}; test-score "
                 f"gap racing - full: mean {np.mean(gaps) if gaps else 0:+.4f}, "
                 f"min {min(gaps) if gaps else 0:+.4f}"),
    )
