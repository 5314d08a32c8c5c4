"""Target 5: peak memory (PSS) of the whole process tree, ``n_jobs=2`` against ``n_jobs=1``.

X is 200000 x 100 float64 (160 MB), binary y; a grid of 4 candidates (``alpha``) x 5 folds
(``KFold``), hpsearch ``GridSearchCV`` + hpsearch ``MLPClassifier((16,), max_iter=1)``;
the anchor line is sklearn ``GridSearchCV`` + sklearn ``MLPClassifier`` on the same task.

Every configuration runs in a fresh subprocess (``python bench_memory.py --worker ...``)
so the measurements are independent; this process samples
``psutil.Process.memory_full_info().pss`` of the subprocess and all its descendants
(joblib/loky workers, resource tracker) every 20 ms in a background thread and keeps the
peak. PSS splits shared pages (memory-mapped X, shared libraries) between the processes
that map them, so the sum over the tree counts each page once. Repeats are interleaved
(hp j1, hp j2, sk j1, sk j2, ...) and the median peak is reported.
Target: hpsearch peak(n_jobs=2) <= 1.5 x peak(n_jobs=1).
"""

from __future__ import annotations

import json
import os
import sys
import time

NAME = "memory"
N_FEATURES = 100
N_CANDIDATES = 4
N_FOLDS = 5


def worker(impl, n_jobs, n_samples, epochs):
    """Run one search in this process and print a JSON line (wall, own PSS before search)."""
    import warnings

    import numpy as np
    import psutil
    from sklearn.model_selection import KFold
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, N_FEATURES))
    y = (X[:, :5].sum(axis=1) > 0).astype(np.int64)
    grid = {"alpha": list(np.logspace(-5, -2, N_CANDIDATES))}
    cv = KFold(N_FOLDS, shuffle=True, random_state=0)
    if impl == "hp":
        import hpsearch

        est = hpsearch.MLPClassifier(hidden_layer_sizes=(16,), max_iter=epochs, random_state=0)
        from _harness import kwargs_supported

        kwargs = kwargs_supported(hpsearch.GridSearchCV, progress=False)
        search = hpsearch.GridSearchCV(est, grid, cv=cv, n_jobs=n_jobs, refit=False, **kwargs)
    else:
        from sklearn.model_selection import GridSearchCV
        from sklearn.neural_network import MLPClassifier

        est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=epochs, random_state=0)
        search = GridSearchCV(est, grid, cv=cv, n_jobs=n_jobs, refit=False)
    base = psutil.Process().memory_full_info().pss
    with threadpool_limits(1):
        t0 = time.perf_counter()
        search.fit(X, y)
        wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "base_pss": base, "x_bytes": X.nbytes}), flush=True)


def _hp_available():
    from _harness import Skip, hp

    try:
        hp("MLPClassifier")
        hp("GridSearchCV")
        return None
    except Skip as skip:
        return str(skip)


def run(quick=False, repeats=3):
    from _harness import Row, median, run_with_peak_pss

    n_samples, epochs = (20000, 1) if quick else (200000, 1)
    missing = _hp_available()
    impls = ["sk"] if missing else ["hp", "sk"]
    runs = {(impl, j): [] for impl in impls for j in (1, 2)}
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    for _ in range(repeats):
        for impl, j in runs:
            argv = [sys.executable, os.path.abspath(__file__), "--worker", impl, str(j),
                    str(n_samples), str(epochs)]
            runs[(impl, j)].append(run_with_peak_pss(argv, env=env))
    peak = {k: median([r["peak_pss"] for r in v]) for k, v in runs.items()}
    wall = {k: median([r["wall"] for r in v]) for k, v in runs.items()}
    base = {k: median([r["base_pss"] for r in v]) for k, v in runs.items()}
    x_mb = n_samples * N_FEATURES * 8 / 2**20
    shape = f"X {n_samples}x{N_FEATURES} f64 ({x_mb:.0f} MiB), {N_CANDIDATES}x{N_FOLDS} fits"

    def info(k):
        return f"wall {wall[k]:.3g} s, parent PSS before fit {base[k] / 2**20:.0f} MiB"

    rows = []
    if missing:
        rows.append(Row(NAME, "peak PSS n_jobs=2 vs 1, hpsearch", None, None, "B",
                        target="<= 1.5", note=f"skipped: {missing}"))
    else:
        rows.append(Row(NAME, "peak PSS n_jobs=2 vs 1, hpsearch", peak[("hp", 2)],
                        peak[("hp", 1)], "B", target="<= 1.5",
                        note=f"{shape}; j2 {info(('hp', 2))}; j1 {info(('hp', 1))}"))
    rows.append(Row(NAME, "peak PSS n_jobs=2 vs 1, sklearn (anchor line)", peak[("sk", 2)],
                    peak[("sk", 1)], "B",
                    note=f"sklearn GridSearchCV + MLP in both columns; j2 {info(('sk', 2))}; "
                         f"j1 {info(('sk', 1))}"))
    if not missing:
        for j in (1, 2):
            rows.append(Row(NAME, f"peak PSS n_jobs={j}, hpsearch vs sklearn", peak[("hp", j)],
                            peak[("sk", j)], "B", note=f"wall hp {wall[('hp', j)]:.3g} s vs "
                                                       f"sk {wall[('sk', j)]:.3g} s"))
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("usage: bench_memory.py --worker {hp,sk} N_JOBS N_SAMPLES EPOCHS "
                 "(called by benchmarks/run.py)")
