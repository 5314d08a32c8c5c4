"""Target 7 and issue 5's figures: Optuna search overhead, TPE vs random, n_jobs.

- Overhead per trial: a trivially cheap estimator (``RidgeClassifier`` on iris, 3-fold
  ``KFold``) and a one-dimensional log-uniform space, random sampler, in-memory storage,
  ``n_jobs=1``, no refit. The anchor is a hand-written Optuna loop doing the same work:
  ``study.ask`` -> clone/set_params -> fit/score on each split -> ``study.tell``. The ratio
  column holds the difference ``(hpsearch - plain) / trial`` in milliseconds; target <= 2.
- TPE vs random (issue 5): ``OptunaSearchCV`` with hpsearch's MLP on digits, the same budget
  of N trials, ``sampler="tpe"`` vs ``sampler="random"``, mean ``best_score_`` over 5 seeds;
  target ratio >= 1.0 (TPE at least as good on average).
- Parallel trials (issue 5): the same TPE budget at ``n_jobs=2`` vs ``n_jobs=1``; the ratio
  column holds the speed-up; target > 1.0.
"""

from __future__ import annotations

import numpy as np

import _workloads as W
from _harness import Row, Skip, hp, interleave, medians, quiet

NAME = "optuna"


def _overhead_rows(quick, repeats):
    import optuna
    from sklearn.base import clone
    from sklearn.datasets import load_iris
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import KFold

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = load_iris(return_X_y=True)
    n_trials = 20 if quick else 200
    cv = KFold(3, shuffle=True, random_state=0)
    splits = list(cv.split(X, y))
    base = RidgeClassifier()
    dists = {"alpha": optuna.distributions.FloatDistribution(1e-3, 1e3, log=True)}

    def plain():
        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(n_trials):
            trial = study.ask(dists)
            est = clone(base).set_params(**trial.params)
            scores = [est.fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in splits]
            study.tell(trial, float(np.mean(scores)))

    def ours():
        space = hp("space")
        search = W.hp_search("OptunaSearchCV", base,
                             {"alpha": space.Float(1e-3, 1e3, log=True)}, n_trials=n_trials,
                             sampler="random", cv=cv, n_jobs=1, refit=False, random_state=0,
                             optional={"progress": False})
        with quiet():
            search.fit(X, y)

    cases = {"plain": plain}
    note = f"{n_trials} trials, RidgeClassifier/iris, 3 folds, random sampler, in memory"
    try:
        ours()  # probe + warm-up
        cases = {"hp": ours, **cases}
    except Skip as skip:
        note = f"skipped: {skip}"
    plain()
    m = medians(interleave(cases, repeats=repeats))
    per = {k: v / n_trials * 1e3 for k, v in m.items()}
    added = per["hp"] - per["plain"] if "hp" in per else None
    return [Row(NAME, "ms per trial added beyond ask/tell + fits", per.get("hp"), per["plain"],
                "ms", ratio=added, target="<= 2",
                note=note + ("; ratio column = added ms/trial" if added is not None else ""))]


def _mlp_search(sampler, seed, n_trials, n_jobs, quick):
    space = hp("space")
    est = W.hpsearch_mlp(hidden_layer_sizes=(32,), max_iter=3 if quick else 20, random_state=0)
    dists = {
        "learning_rate_init": space.Float(1e-4, 1e-1, log=True),
        "alpha": space.Float(1e-6, 1e-1, log=True),
        "batch_size": space.Int(16, 256, log=True),
    }
    return W.hp_search("OptunaSearchCV", est, dists, n_trials=n_trials, sampler=sampler,
                       cv=3, n_jobs=n_jobs, refit=False, random_state=seed,
                       optional={"progress": False})


def _tpe_rows(quick, repeats):
    X, y = W.digits(300 if quick else None)
    n_trials = 4 if quick else 20
    seeds = range(2 if quick else 5)
    best = {"tpe": [], "random": []}
    try:
        for seed in seeds:
            for sampler in best:
                search = _mlp_search(sampler, seed, n_trials, 1, quick)
                with quiet():
                    search.fit(X, y)
                best[sampler].append(float(search.best_score_))
    except Skip as skip:
        return [Row(NAME, "TPE vs random, mean best CV score", target=">= 1.0",
                    note=f"skipped: {skip}"),
                Row(NAME, "TPE n_jobs=2 speed-up vs n_jobs=1", target="> 1.0",
                    note=f"skipped: {skip}")]
    rows = [Row(NAME, "TPE vs random, mean best CV score", float(np.mean(best["tpe"])),
                float(np.mean(best["random"])), "", target=">= 1.0",
                note=f"{n_trials} trials x {len(best['tpe'])} seeds, hpsearch MLP (32,), digits; "
                     f"tpe {np.round(best['tpe'], 4).tolist()} random "
                     f"{np.round(best['random'], 4).tolist()}")]

    def timed_search(j):
        def fn():
            with quiet():
                _mlp_search("tpe", 0, n_trials, j, quick).fit(X, y)
        return fn

    cases = {"j1": timed_search(1), "j2": timed_search(2)}
    cases["j2"]()  # warm-up (worker pool)
    m = medians(interleave(cases, repeats=repeats))
    rows.append(Row(NAME, "TPE n_jobs=2 speed-up vs n_jobs=1", m["j1"] / m["j2"], None, "x",
                    ratio=m["j1"] / m["j2"], target="> 1.0",
                    note=f"{n_trials} TPE trials: {m['j1']:.3g} s -> {m['j2']:.3g} s"))
    return rows


def run(quick=False, repeats=3):
    return _overhead_rows(quick, repeats) + _tpe_rows(quick, repeats)
