"""The real ASHASearchCV on this machine's workers: utilization of each decision rule (issue 13).

The scheduling simulator (``sim_schedulers.py``) models many workers; this runs the real
search on ``n_jobs`` fork workers (2 here) for the three decision rules, on the same
candidates (same ``random_state``):

- ``reproducible=True`` (default): per-rung lags ``decision_lags``;
- ``reproducible=False``: every result used as it arrives;
- the former rule, one lag ``W`` for every rung (``decision_lags`` patched to ``[W] * K``).

Utilization = the workers' busy time (the sum over rows and splits of fit + score time, as
``cv_results_`` records them) / (``n_jobs`` x the search's wall time). What is not busy is
waiting for a decision or the engine's own work (dispatch, pickling the kept training
states), which the simulator does not model.

Usage::

    python benchmarks/bench_asha_utilization.py [--n-jobs 2] [--n-trials 90]
"""

import argparse
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402

from hpsearch import ASHASearchCV, MLPClassifier  # noqa: E402
from hpsearch.model_selection.space import Categorical, Float  # noqa: E402

SPACE = {
    "learning_rate_init": Float(1e-4, 1e-1, log=True),
    "alpha": Float(1e-6, 1e-1, log=True),
    "hidden_layer_sizes": Categorical([(32,), (64,), (128,), (64, 64)]),
    "batch_size": Categorical([32, 64, 128, 256]),
}
RULES = ("per-rung lags (default)", "live (reproducible=False)", "former lag W")


def _data(quick):
    n = 3000 if quick else 20000
    return make_classification(n, 40, n_informative=20, n_classes=10,
                               n_clusters_per_class=2, random_state=0)


def measure(rule, X, y, n_jobs=2, n_trials=90, max_resources=27):
    """``(utilization, wall seconds, jobs)`` of one search with ``rule``."""
    import hpsearch.model_selection.strategies.asha as asha

    original = asha.decision_lags
    if rule == "former lag W":
        asha.decision_lags = lambda budgets, factor, w, n: [w] * len(budgets)
    try:
        search = ASHASearchCV(MLPClassifier(random_state=0), SPACE, n_trials=n_trials,
                              min_resources=1, max_resources=max_resources, cv=3,
                              n_jobs=n_jobs, random_state=0, refit=False,
                              reproducible=rule != "live (reproducible=False)")
        start = time.perf_counter()
        search.fit(X, y)
        wall = time.perf_counter() - start
    finally:
        asha.decision_lags = original
    res = search.cv_results_
    busy = float(np.sum(res["mean_fit_time"]) + np.sum(res["mean_score_time"])) * 3
    return busy / (n_jobs * wall), wall, len(res["params"])


def run(quick=False, repeats=3):
    """Rows for ``benchmarks/run.py --only asha_utilization``."""
    from _harness import Row

    X, y = _data(quick)
    n_trials = 20 if quick else 90
    figures = {rule: [] for rule in RULES}
    for _ in range(max(1, repeats)):  # interleaved
        for rule in RULES:
            figures[rule].append(measure(rule, X, y, n_trials=n_trials))
    rows = []
    former = float(np.median([f[0] for f in figures["former lag W"]]))
    for rule in RULES[:2]:
        util = float(np.median([f[0] for f in figures[rule]]))
        wall = float(np.median([f[1] for f in figures[rule]]))
        rows.append(Row(
            benchmark="asha_utilization", name=f"2 workers, {rule}", hpsearch=util,
            anchor=former, unit="share", target=">= 1",
            note=f"real ASHASearchCV(n_jobs=2, n_trials={n_trials}, rungs 1..27, cv=3), "
                 f"median of {len(figures[rule])}; anchor: the former lag W; wall {wall:.1f} s",
        ))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--n-trials", type=int, default=90)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    X, y = _data(args.quick)
    for rule in RULES:
        util, wall, jobs = measure(rule, X, y, n_jobs=args.n_jobs, n_trials=args.n_trials)
        print(f"{rule:<28} {jobs} jobs, wall {wall:5.1f} s, utilization {util:.1%}")


if __name__ == "__main__":
    main()
