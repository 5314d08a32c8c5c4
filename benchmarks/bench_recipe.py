"""Issue 12: the lecture's recipe as a search (RecipeSearchCV) vs TPE over the joint space.

For each bundled dataset (digits, breast_cancer, wine; and digits again over a "hard" space
where most training-side choices do not train) and seed, a stratified 75/25 split
holds out a test set. :class:`hpsearch.RecipeSearchCV` (``n_iter`` per stage, sampler TPE:
stage 1 tunes the training side against the training score, stage 2 the generalization side
against validation with the training floor) runs first; :class:`hpsearch.OptunaSearchCV`
(TPE, the product's defaults) then gets exactly as many trials as the recipe fitted
candidates (duplicates the recipe did not refit do not count), so both make the same number
of fits over the same joint space. Each refits its best candidate on the whole training part;
reported: the mean held-out test accuracy and the mean best CV accuracy over the seeds, and
how many (dataset, seed) pairs each wins on test.

Rows: ``hpsearch`` = RecipeSearchCV, ``anchor`` = joint TPE, ratio = recipe / TPE (report
only: whichever wins is the result). Run::

    python benchmarks/run.py --only recipe
"""

from __future__ import annotations

import math
import time

import numpy as np
from _harness import Row, hp, quiet

NAME = "recipe"
LABELS = {"test": "held-out test", "cv": "best CV"}


def _easy():
    from hpsearch.space import Categorical, Float

    return {
        # training side (LECTURE.md §2)
        "model__hidden_layer_sizes": Categorical([(16,), (64,), (32, 32), (16, 16, 16)]),
        "model__activation": ["relu", "tanh", "sigmoid"],
        "model__solver": ["adam", "sgd"],
        "model__learning_rate_init": Float(1e-4, 0.3, log=True),
        # generalization side (§3)
        "model__alpha": Float(1e-6, 1.0, log=True),
        "model__dropout": Float(0.0, 0.6),
    }


def _hard():
    """Most of the training side does not train (seeds 000-003: deep sigmoid stacks, plain
    SGD, a normal init, small learning rates, 10 epochs)."""
    from hpsearch.space import Categorical, Float

    return {
        "model__hidden_layer_sizes": Categorical([(32,) * 4, (16,) * 6, (64,)]),
        "model__activation": ["sigmoid", "tanh", "relu"],
        "model__solver": ["sgd", "adam"],
        "model__init": ["normal", "glorot", "he"],
        "model__learning_rate_init": Float(1e-4, 0.1, log=True),
        "model__alpha": Float(1e-6, 1.0, log=True),
        "model__dropout": Float(0.0, 0.6),
    }


#: row label -> (bundled dataset, space, epochs)
CASES = {
    "digits": ("digits", _easy, 30),
    "breast_cancer": ("breast_cancer", _easy, 30),
    "wine": ("wine", _easy, 30),
    "digits, hard space": ("digits", _hard, 10),
}


def _estimator(max_iter):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = hp("MLPClassifier")
    return Pipeline([("scale", StandardScaler()),
                     ("model", mlp(max_iter=max_iter, batch_size=32))])


def _data(name, seed):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)


def _pair(case, seed, n_iter, epochs=None):
    """(recipe, tpe) dicts of test score, CV score and fits for one case and seed."""
    Recipe, Optuna = hp("RecipeSearchCV"), hp("OptunaSearchCV")
    name, space, max_iter = CASES[case]
    max_iter = epochs or max_iter
    X_tr, X_te, y_tr, y_te = _data(name, seed)
    common = dict(cv=3, scoring="accuracy", random_state=seed, n_jobs=1, progress=False)
    out = {}
    with quiet():
        start = time.perf_counter()
        recipe = Recipe(_estimator(max_iter), space(), n_iter=n_iter, **common).fit(X_tr, y_tr)
        n_fitted = len(recipe.cv_results_["params"])
        out["recipe"] = _scores(recipe, X_te, y_te, time.perf_counter() - start)
        out["recipe"]["stages"] = [s["n_evaluated"] for s in recipe.stages_]
        out["recipe"]["trained_well_at"] = recipe.stages_[0]["reason"]
        start = time.perf_counter()
        tpe = Optuna(_estimator(max_iter), space(), n_trials=n_fitted, **common).fit(X_tr, y_tr)
        out["tpe"] = _scores(tpe, X_te, y_te, time.perf_counter() - start)
    return out


def _scores(search, X_te, y_te, seconds):
    return {"test": float(search.score(X_te, y_te)), "cv": float(search.best_score_),
            "candidates": len(search.cv_results_["params"]), "seconds": seconds}


def _standard_error(values):
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else math.nan


def run(quick=False, repeats=3):
    """``repeats`` is unused: every (dataset, seed) pair is one measurement."""
    import os

    names = list(CASES)[:1] if quick else list(CASES)
    seeds = range(1 if quick else 5)
    n_iter, epochs = (3, 5) if quick else (8, None)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = {name: [_pair(name, seed, n_iter, epochs) for seed in seeds] for name in names}
    rows, diffs, wins = [], [], {"recipe": 0, "tpe": 0, "tie": 0}
    for name, pairs in results.items():
        for what in ("test", "cv"):
            a = np.mean([p["recipe"][what] for p in pairs])
            b = np.mean([p["tpe"][what] for p in pairs])
            rows.append(Row(
                benchmark=NAME, name=f"{name}: mean {LABELS[what]} accuracy",
                hpsearch=float(a), anchor=float(b), unit="acc",
                note=f"RecipeSearchCV vs joint TPE, {len(pairs)} seeds, "
                     f"{np.mean([p['recipe']['candidates'] for p in pairs]):.1f} candidates x 3 "
                     f"folds each (report only)",
                extra={"recipe": [p["recipe"][what] for p in pairs],
                       "tpe": [p["tpe"][what] for p in pairs]},
            ))
        for p in pairs:
            diff = p["recipe"]["test"] - p["tpe"]["test"]
            diffs.append(diff)
            wins["recipe" if diff > 0 else "tpe" if diff < 0 else "tie"] += 1
    seconds = {k: sum(p[k]["seconds"] for ps in results.values() for p in ps)
               for k in ("recipe", "tpe")}
    rows.append(Row(
        benchmark=NAME, name="(dataset, seed) pairs won on held-out test",
        hpsearch=float(wins["recipe"]), anchor=float(wins["tpe"]), unit="pairs",
        note=f"{wins['tie']} ties; paired test difference (recipe - TPE) {np.mean(diffs):+.4f} "
             f"+/- {_standard_error(diffs):.4f} (SE); search time {seconds['recipe']:.0f} s recipe vs "
             f"{seconds['tpe']:.0f} s TPE (n_jobs=1); 1-min load average at start {load:.1f}",
        extra={"stage_fits": {n: [p["recipe"]["stages"] for p in ps] for n, ps in results.items()},
               "stage_1_end": {n: [p["recipe"]["trained_well_at"] for p in ps]
                               for n, ps in results.items()}},
    ))
    return rows
