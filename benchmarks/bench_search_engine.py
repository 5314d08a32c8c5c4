"""Target 4: the search engine against sklearn's ``GridSearchCV``.

24 candidates (6 ``alpha`` x 4 ``learning_rate_init``) x 5 stratified folds on digits.

- With sklearn's own ``MLPClassifier((16,), max_iter=20)``: hpsearch ``GridSearchCV`` wall
  vs sklearn ``GridSearchCV`` wall, at ``n_jobs=1`` and ``n_jobs=2`` (targets <= 1.0). Same
  estimator, grid, folds and ``refit=True`` on both sides, so the difference is the engine.
- With hpsearch's ``MLPClassifier((16,), max_iter=20)``: the speed-up of ``n_jobs=2`` over
  ``n_jobs=1`` (target >= 1.8; the ratio column holds the speed-up itself), with sklearn's
  speed-up on its own MLP in the anchor column for reference.

BLAS is one thread in the parent; joblib workers get their own limits (hpsearch pins one
thread per worker; loky gives sklearn's workers cpu_count // n_jobs). Every configuration
runs once before the timed rounds (warm-up: imports, worker pool start).

A speed-up needs two free cores. To tell a busy machine from engine overhead, the same
rounds also time a fixed amount of fitting (the hpsearch MLP fits of one fold) run in one
process and in two forked processes at once: ``capacity = 2 x t(1 process) / t(2 processes)``
is what two processes can gain on this machine right now (2.0 on two idle cores), and the
speed-up row's note gives the engine's efficiency, speed-up / capacity.
"""

from __future__ import annotations

import multiprocessing
import sys

import numpy as np

import _workloads as W
from _harness import Row, Skip, interleave, medians, quiet, warm_up

NAME = "search_engine"


def _fixed_work(make, X, y, n_fits):
    """``n_fits`` fits of a fresh estimator on ``X, y`` (one BLAS thread)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), quiet():
        for i in range(n_fits):
            make(i).fit(X, y)


def _in_two_processes(fn):
    """Run ``fn`` in two forked processes at once; return when both are done."""
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=fn) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"capacity probe process failed with exit code {proc.exitcode}")


def run(quick=False, repeats=3):
    from sklearn.model_selection import GridSearchCV as SkGrid
    from sklearn.neural_network import MLPClassifier as SkMLP

    if quick:
        X, y = W.digits(300)
        grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2]}
        cv, max_iter = 3, 2
    else:
        X, y = W.digits()
        grid = {"alpha": list(np.logspace(-6, -1, 6)),
                "learning_rate_init": [1e-3, 3e-3, 1e-2, 3e-2]}
        cv, max_iter = 5, 20
    n_cand = int(np.prod([len(v) for v in grid.values()]))
    shape = f"{n_cand} cand x {cv} folds, digits {X.shape[0]}"
    sk_mlp = SkMLP(hidden_layer_sizes=(16,), max_iter=max_iter, random_state=0)

    def fit(search):
        with quiet():
            search.fit(X, y)

    cases = {}
    for j in (1, 2):
        cases[f"sk grid sk-mlp j{j}"] = lambda j=j: fit(SkGrid(sk_mlp, grid, cv=cv, n_jobs=j))
        cases[f"hp grid sk-mlp j{j}"] = lambda j=j: fit(W.hp_search(
            "GridSearchCV", sk_mlp, grid, cv=cv, n_jobs=j, optional={"progress": False}))
        cases[f"hp grid hp-mlp j{j}"] = lambda j=j: fit(W.hp_search(
            "GridSearchCV", W.hpsearch_mlp(hidden_layer_sizes=(16,), max_iter=max_iter,
                                           random_state=0),
            grid, cv=cv, n_jobs=j, optional={"progress": False}))
    fork_ok = sys.platform.startswith("linux")
    if fork_ok:
        try:
            make = lambda i: W.hpsearch_mlp(hidden_layer_sizes=(16,), max_iter=max_iter,
                                            random_state=i)
            make(0)
        except Skip:
            make = lambda i: SkMLP(hidden_layer_sizes=(16,), max_iter=max_iter, random_state=i)
        n_train = X.shape[0] - X.shape[0] // cv
        Xf, yf, n_fits = X[:n_train], y[:n_train], max(4, n_cand)
        work = lambda: _fixed_work(make, Xf, yf, n_fits)
        cases["capacity 1 process"] = work
        cases["capacity 2 processes"] = lambda: _in_two_processes(work)
    missing = warm_up(cases)  # probe + warm-up
    m = medians(interleave(cases, repeats=repeats))

    rows = []
    for j in (1, 2):
        hp_key, sk_key = f"hp grid sk-mlp j{j}", f"sk grid sk-mlp j{j}"
        rows.append(Row(NAME, f"GridSearchCV wall, sklearn MLP, n_jobs={j}", m.get(hp_key),
                        m.get(sk_key), "s", target="<= 1.0",
                        note=f"skipped: {missing[hp_key]}" if hp_key in missing else shape))
    sk_speedup = m["sk grid sk-mlp j1"] / m["sk grid sk-mlp j2"]
    capacity = (2.0 * m["capacity 1 process"] / m["capacity 2 processes"]
                if "capacity 2 processes" in m else None)
    if "hp grid hp-mlp j1" in m and "hp grid hp-mlp j2" in m:
        speedup = m["hp grid hp-mlp j1"] / m["hp grid hp-mlp j2"]
        efficiency = (f"; engine efficiency {speedup / capacity:.0%} of the machine's "
                      f"capacity {capacity:.2f}x" if capacity else "")
        rows.append(Row(NAME, "speed-up n_jobs=2 vs 1, hpsearch MLP", speedup, sk_speedup, "x",
                        ratio=speedup, target=">= 1.8",
                        note=f"ratio = hpsearch speed-up ({m['hp grid hp-mlp j1']:.3g} s -> "
                             f"{m['hp grid hp-mlp j2']:.3g} s); anchor = sklearn's on its MLP"
                             + efficiency,
                        extra={"capacity": capacity}))
    else:
        reason = missing.get("hp grid hp-mlp j1") or missing.get("hp grid hp-mlp j2")
        rows.append(Row(NAME, "speed-up n_jobs=2 vs 1, hpsearch MLP", None, sk_speedup, "x",
                        target=">= 1.8", note=f"skipped: {reason}"))
    if capacity is not None:
        rows.append(Row(NAME, "machine capacity: 2 processes vs 1, same fits", capacity, 2.0,
                        "x", ratio=capacity,
                        note=f"{m['capacity 1 process']:.3g} s in 1 process, "
                             f"{m['capacity 2 processes']:.3g} s for twice the work in 2; "
                             "2.0 on two idle cores, no target (context for the speed-up)"))
    return rows
