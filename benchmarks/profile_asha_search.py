"""CPU time of one fixed ASHA-TPE search on digits: the workload of issue 13's "hp asha-tpe".

Usage::

    python benchmarks/profile_asha_search.py [--trials 30] [--seed 0] [--repeats 5]
        [--fingerprint FILE] [--profile N] [--parts]

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
cProfile of one search (top ``N`` by cumulative and by own time) instead of timing;
``--parts`` times two parts alone instead (:func:`parts`).

To compare two checkouts, alternate them (the machine is shared)::

    for i in 1 2 3 4 5 6; do
      (cd OLD && PYTHONPATH=$PWD python benchmarks/profile_asha_search.py --repeats 1)
      (cd NEW && PYTHONPATH=$PWD python benchmarks/profile_asha_search.py --repeats 1)
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


def make_search(trials, seed, engine="numpy"):
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
        MLPClassifier(max_iter=81, random_state=seed, engine=engine), hpsearch_space(), n_trials=trials,
        sampler="tpe", resource="epochs", min_resources=3, max_resources=81, factor=3,
        scoring=accuracy, cv=cv, refit=False, n_jobs=1, error_score="raise",
        return_train_score=False, random_state=seed, progress=False)
    return search, X_train, y_train


def run_once(trials, seed, engine="numpy"):
    from _harness import quiet

    search, X, y = make_search(trials, seed, engine)
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


def parts(repeats):
    """Two parts of the search's work alone, in microseconds (medians of ``repeats``):

    - ``outside epochs``: a fresh ``fit(X, y, sample_index=...)`` (3 epochs), its
      warm-started continuation (6 epochs) and a ``predict`` of the held-out third, as a
      search does per split, with ``Network.run_epoch`` replaced by a stub (so what is
      left is the per-fit work: validation, parameter checks, targets, initialization);
    - ``per batch``: one mini-batch of ``Network.run_epoch`` (Adam, L2), per net of the
      space at batch 32 and 128, 898 digits rows in float32.
    """
    import warnings

    from sklearn.base import clone
    import _workloads as W
    from hpsearch import MLPClassifier
    from hpsearch.neural import network
    from hpsearch.neural.regularizers import make_penalty

    X, y = W.digits()
    X, y = X[:1347], y[:1347]
    train = np.sort(np.r_[np.arange(0, 1347, 3), np.arange(1, 1347, 3)])
    test = np.arange(2, 1347, 3)
    warnings.simplefilter("ignore")
    base = MLPClassifier((64,), batch_size=32, max_iter=3, random_state=0)

    def one_split():
        est = clone(base).set_params(alpha=1e-3)
        est.fit(X, y, sample_index=train)
        est.set_params(max_iter=6, warm_start=True)
        est.fit(X, y, sample_index=train)
        est.predict(X[test])

    real = network.Network.run_epoch
    network.Network.run_epoch = lambda self, *a, **k: (0.5, np.zeros(len(self.dense_layers)), 1)
    try:
        for _ in range(20):
            one_split()
        times = []
        for _ in range(repeats):
            t0 = time.process_time()
            for _ in range(50):
                one_split()
            times.append((time.process_time() - t0) / 50 * 1e6)
    finally:
        network.Network.run_epoch = real
    print(f"outside epochs (fresh fit + continued fit + predict): "
          f"{statistics.median(times):.0f} us [{min(times):.0f}..{max(times):.0f}]")
    Xf, yf = X[train].astype(np.float32), y[train]
    n = len(yf)
    rows = np.arange(n)
    for hidden in [(32,), (64,), (128,), (64, 64)]:
        line = []
        for batch in (32, 128):
            clf = MLPClassifier(hidden, batch_size=batch, max_iter=1, random_state=0,
                                alpha=1e-3).fit(Xf, yf)
            net, T = clf._network, np.searchsorted(clf.classes_, yf)
            penalties = make_penalty(alpha=1e-3)
            times = []
            with np.errstate(all="ignore"):
                for _ in range(repeats):
                    t0 = time.process_time()
                    net.run_epoch(Xf, T, rows, rows, batch, clf._optimizer, clf._rng,
                                  penalties)
                    times.append((time.process_time() - t0) / -(-n // batch) * 1e6)
            line.append(f"batch {batch}: {statistics.median(times):.1f} us")
        print(f"per batch {str(hidden):9s} " + ", ".join(line))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fingerprint", default=None)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--engine", choices=("numpy", "numba"), default="numpy",
                        help="the MLP's engine (numba: the compiled epoch)")
    parser.add_argument("--parts", action="store_true",
                        help="time the work outside the epochs and one mini-batch alone")
    args = parser.parse_args(argv)
    if args.parts:
        parts(max(args.repeats, 5))
        return

    run_once(3, args.seed, args.engine)  # warm the imports and caches (not timed)
    if args.profile:
        import cProfile
        import pstats

        search, X, y = make_search(args.trials, args.seed, args.engine)
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
        seconds, search = run_once(args.trials, args.seed, args.engine)
        times.append(seconds)
    if args.fingerprint:
        with open(args.fingerprint, "w") as fh:
            fh.write(fingerprint(search))
    med = statistics.median(times)
    print(f"cpu_s {' '.join(f'{t:.3f}' for t in times)} median {med:.3f} "
          f"min {min(times):.3f} max {max(times):.3f} fits {len(search.cv_results_['params'])}")


if __name__ == "__main__":
    main()
