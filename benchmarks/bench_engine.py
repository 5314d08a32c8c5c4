"""Fit time of hpsearch's MLP with ``engine="numba"`` (the compiled epoch) against
``engine="numpy"`` and scikit-learn's ``MLPClassifier``, on the nets of issue 13's search.

``python benchmarks/bench_engine.py`` fits each of the time-to-quality space's networks
(``(32,)``, ``(64,)``, ``(128,)``, ``(64, 64)``; batch 32, 64, 128, 256; Adam, ``alpha``
1e-4) for a fixed number of epochs (``tol=0``) on the 898 rows of one digits CV training
part (2/3 of the 1347-row train split), one BLAS thread, in one process after warming all
three. The three fits of a configuration alternate ``--rounds`` times; the figure is the
median process CPU time of each, and the ratios are numba / numpy and numba / scikit-learn.
It also times, in ``--load-runs`` fresh processes, what ``engine="numba"`` costs a process
once: numba's import and the kernels' load from numba's on-disk cache (the first fit
minus a second one).

Options: ``--epochs`` (20), ``--rounds`` (7), ``--load-runs`` (5; 0 skips).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HIDDEN = [(32,), (64,), (128,), (64, 64)]
BATCH = [32, 64, 128, 256]

_LOAD = ("import time, warnings, numpy as np; warnings.simplefilter('ignore');"
         "from hpsearch import MLPClassifier; X = np.random.rand(60, 64); y = np.arange(60) % 10;"
         "t0 = time.process_time(); MLPClassifier((8,), max_iter=1, engine='numba').fit(X, y);"
         "t1 = time.process_time(); MLPClassifier((8,), max_iter=1, engine='numba').fit(X, y);"
         "t2 = time.process_time(); print((t1 - t0) - (t2 - t1))")


def data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X / 16.0, y, test_size=0.25, stratify=y,
                                              random_state=0)
    n = 2 * X_train.shape[0] // 3
    return X_train[:n], y_train[:n]


def fitters(hidden, batch, epochs):
    from sklearn.neural_network import MLPClassifier as SkMLP

    from hpsearch import MLPClassifier

    common = dict(hidden_layer_sizes=hidden, batch_size=batch, max_iter=epochs, tol=0.0,
                  random_state=0)
    return {"numpy": lambda: MLPClassifier(engine="numpy", **common),
            "numba": lambda: MLPClassifier(engine="numba", **common),
            "sklearn": lambda: SkMLP(n_iter_no_change=epochs + 1, **common)}


def time_fits(X, y, epochs, rounds):
    rows = []
    for hidden in HIDDEN:
        for batch in BATCH:
            makers = fitters(hidden, batch, epochs)
            times = {name: [] for name in makers}
            for _ in range(rounds):
                for name, make in makers.items():
                    est = make()
                    t0 = time.process_time()
                    est.fit(X, y)
                    times[name].append(time.process_time() - t0)
            med = {name: statistics.median(ts) for name, ts in times.items()}
            rows.append((hidden, batch, med))
    return rows


def load_cost(runs):
    out = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, text=True,
                              check=True)
        out.append(float(proc.stdout.strip().splitlines()[-1]))
    return out


def main(argv=None):
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--load-runs", type=int, default=5)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    X, y = data()
    with threadpool_limits(1):
        time_fits(X, y, 1, 1)  # warm every path (numba: load or compile)
        rows = time_fits(X, y, args.epochs, args.rounds)
    print(f"digits, {X.shape[0]} rows, {args.epochs} epochs, Adam, one BLAS thread; median "
          f"CPU s of {args.rounds} alternated fits")
    print("| hidden | batch | numpy | numba | sklearn | numba / numpy | numba / sklearn |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ratios = []
    for hidden, batch, med in rows:
        r = med["numba"] / med["numpy"]
        ratios.append(r)
        print(f"| {hidden} | {batch} | {med['numpy']:.4f} | {med['numba']:.4f} | "
              f"{med['sklearn']:.4f} | {r:.2f} | {med['numba'] / med['sklearn']:.2f} |")
    print(f"numba / numpy: median {statistics.median(ratios):.2f}, "
          f"range {min(ratios):.2f}..{max(ratios):.2f}")
    if args.load_runs:
        costs = load_cost(args.load_runs)
        print(f"engine='numba' load per process (import + cached kernels), CPU s: median "
              f"{statistics.median(costs):.2f} ({', '.join(f'{c:.2f}' for c in costs)})")


if __name__ == "__main__":
    main()
