"""Nested CV: the outer splits one after the other (a fork pool per outer split) vs all
of them through one pool (issue 14).

Usage::

    python benchmarks/bench_nested.py [--repeats N] [--n-jobs N] [--search grid|halving]

5 outer x 3 inner splits of a grid of 4 hpsearch MLPs (or a halving search of 9) on 600
digits, with ``n_jobs`` workers; the two ways are run in turn (interleaved repeats) and
the median wall time of each is printed, with the outer scores checked equal.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("PYTHONWARNINGS", "ignore")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from hpsearch.mlp import MLPClassifier  # noqa: E402
from hpsearch.model_selection import (  # noqa: E402
    GridSearchCV,
    HalvingSearchCV,
    nested_cross_validate,
)
from hpsearch.model_selection import space as sp  # noqa: E402
from hpsearch.model_selection.nested import _sequential  # noqa: E402


def _search(kind, n_jobs):
    mlp = MLPClassifier((32,), max_iter=40, batch_size=64, random_state=0)
    if kind == "halving":
        return HalvingSearchCV(mlp, {"learning_rate_init": sp.Float(1e-3, 1e-1, log=True)},
                               n_candidates=9, factor=3, cv=3, random_state=0, n_jobs=n_jobs)
    return GridSearchCV(mlp, {"alpha": [1e-4, 1e-2], "learning_rate_init": [0.003, 0.03]},
                        cv=3, n_jobs=n_jobs)


def _measure(kind, n_jobs, repeats, X, y):
    """Wall times of each way (interleaved repeats) and the outer scores, checked equal."""
    ways = {"sequential": _sequential, "one pool": nested_cross_validate}
    times = {name: [] for name in ways}
    scores = {}
    for _ in range(repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            result = way(_search(kind, n_jobs), X, y, cv=5, random_state=0)
            times[name].append(time.perf_counter() - start)
            scores[name] = result.test_score
    assert np.array_equal(scores["sequential"], scores["one pool"]), scores
    return times, scores


def _data(quick=False):
    X, y = load_digits(return_X_y=True)
    n = 300 if quick else 600
    return X[:n] / 16.0, y[:n]


def run(quick=False, repeats=3):
    """Rows for ``benchmarks/run.py --only nested``: one pool / sequential wall time."""
    from _harness import Row

    X, y = _data(quick)
    rows = []
    for kind in ("grid", "halving"):
        times, _ = _measure(kind, 2, max(1, repeats), X, y)
        seq, one = (statistics.median(times[n]) for n in ("sequential", "one pool"))
        rows.append(Row(
            benchmark="nested", name=f"{kind}, 5 outer x 3 inner, n_jobs=2",
            hpsearch=one, anchor=seq, unit="s", target="< 1",
            note="one pool (all outer splits at once) vs the outer splits one after the "
                 "other; outer scores asserted equal",
        ))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--search", choices=["grid", "halving"], default="grid")
    args = parser.parse_args(argv)
    times, scores = _measure(args.search, args.n_jobs, args.repeats, *_data())
    ways = times
    seq, one = (statistics.median(times[n]) for n in ways)
    print(f"{args.search}, 5 outer x 3 inner, n_jobs={args.n_jobs}, "
          f"median of {args.repeats}:")
    for name in ways:
        print(f"  {name:<10} {statistics.median(times[name]):7.2f} s   "
              f"(runs: {', '.join(f'{t:.2f}' for t in times[name])})")
    print(f"  one pool / sequential = {one / seq:.2f} (wall time saved {1 - one / seq:.0%}); "
          f"outer scores equal: {np.round(scores['one pool'], 4).tolist()}")


if __name__ == "__main__":
    main()
