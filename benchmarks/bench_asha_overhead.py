"""CPU time of one fixed ASHA-TPE search on digits: the workload of issue 13's "hp asha-tpe".

Usage::

    python benchmarks/bench_asha_overhead.py [--trials 30] [--seed 0] [--repeats 5]
        [--fingerprint FILE] [--profile N]

The search is the benchmark's (``bench_time_to_quality.py``): hpsearch's ``MLPClassifier``
(``max_iter=81``, ``random_state=seed``) on digits scaled to [0, 1], 75 % train part
(stratified), ``ASHASearchCV(sampler="tpe", resource="epochs", min_resources=3,
max_resources=81, factor=3)``, 3-fold stratified CV, ``n_jobs=1``, the benchmark's scorer
(accuracy of ``predict``: :func:`accuracy`), no refit, one BLAS thread; but a fixed number
of trials (``--trials``) instead of a time budget, so that
the same work is timed each time. It prints the process CPU time (``time.process_time``)
of every repeat, their median and spread.

``--fingerprint FILE`` writes the search's results (every ``cv_results_`` score and
parameter, in order) to ``FILE`` as text, so two checkouts can be compared byte for byte:
a speed-up that keeps training bit-identical gives the same file. ``--profile N`` prints a
cProfile of one search (top ``N`` by cumulative time) instead of timing.

To compare two checkouts, alternate them (the machine is shared)::

    for i in 1 2 3 4 5 6; do
      (cd OLD && PYTHONPATH=$PWD python benchmarks/bench_asha_overhead.py --repeats 1)
      (cd NEW && PYTHONPATH=$PWD python benchmarks/bench_asha_overhead.py --repeats 1)
    done
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402


def accuracy(estimator, X, y):
    """The benchmark's scorer (``bench_time_to_quality.logged_accuracy``) without its log:
    sklearn's ``accuracy_score`` of ``predict``."""
    from sklearn.metrics import accuracy_score

    return accuracy_score(y, estimator.predict(X))


def make_search(trials, seed):
    from sklearn.model_selection import StratifiedKFold, train_test_split

    import _workloads as W
    from bench_time_to_quality import hpsearch_space
    from hpsearch import MLPClassifier
    from hpsearch.model_selection import ASHASearchCV

    X, y = W.digits()
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    cv = StratifiedKFold(3, shuffle=True, random_state=seed)
    search = ASHASearchCV(
        MLPClassifier(max_iter=81, random_state=seed), hpsearch_space(), n_trials=trials,
        sampler="tpe", resource="epochs", min_resources=3, max_resources=81, factor=3,
        scoring=accuracy, cv=cv, refit=False, n_jobs=1, error_score="raise",
        return_train_score=False, random_state=seed, progress=False)
    return search, X_train, y_train


def run_once(trials, seed):
    from _harness import quiet

    search, X, y = make_search(trials, seed)
    t0 = time.process_time()
    with quiet():
        search.fit(X, y)
    return time.process_time() - t0, search


def fingerprint(search):
    res = search.cv_results_
    keys = sorted(k for k in res if k.startswith(("split", "mean_test", "param_", "iter",
                                                     "n_resources", "rank")))
    lines = []
    for k in keys:
        lines.append(f"{k}: " + " ".join(repr(v) for v in np.asarray(res[k], dtype=object)))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fingerprint", default=None)
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args(argv)

    run_once(3, args.seed)  # warm the imports and caches (not timed)
    if args.profile:
        import cProfile
        import pstats

        search, X, y = make_search(args.trials, args.seed)
        from _harness import quiet

        prof = cProfile.Profile()
        with quiet():
            prof.enable()
            search.fit(X, y)
            prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.profile)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
        return
    times = []
    for _ in range(args.repeats):
        seconds, search = run_once(args.trials, args.seed)
        times.append(seconds)
    if args.fingerprint:
        with open(args.fingerprint, "w") as fh:
            fh.write(fingerprint(search))
    med = statistics.median(times)
    print(f"cpu_s {' '.join(f'{t:.3f}' for t in times)} median {med:.3f} "
          f"min {min(times):.3f} max {max(times):.3f} fits {len(search.cv_results_['params'])}")


if __name__ == "__main__":
    main()
