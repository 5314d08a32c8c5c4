"""Target 8: how cost grows.

- hpsearch float32 epoch time against n_samples (x1, x4, x16) and against width (x1, x2,
  x4 of every hidden layer); the anchor column is the linear prediction from the x1 point
  (x k samples, or x the FLOP ratio for width), so ratio = measured / linear: <= 1.25 means
  the growth is at most linear (a ratio below 1 is fixed overhead being amortised).
- hpsearch ``GridSearchCV`` wall time (hpsearch MLP on digits, equal-size ``ShuffleSplit``
  folds) against candidates x splits / n_jobs, the anchor being the base configuration's
  wall scaled linearly by that work unit.
"""

from __future__ import annotations

import numpy as np

import _workloads as W
from _harness import Row, Skip, interleave, medians, quiet, skipped_row

NAME = "scaling"
LINEAR = "<= 1.25"


def _epoch_rows(quick, repeats):
    if quick:
        n0, d, base, epochs = 128, 32, (16, 8), 1
    else:
        n0, d, base, epochs = 1250, W.N_FEATURES, (128, 64), 2
    _, X32, y = W.classification_data(16 * n0, d)
    cases = {}
    for k in (1, 4, 16):
        cases[f"n x{k}"] = (lambda k=k: W.hpsearch_epoch_time(
            X32[: k * n0], y[: k * n0], layers=base, epochs=epochs, dtype=np.float32))
    Xw, yw = X32[: 4 * n0], y[: 4 * n0]
    for w in (1, 2, 4):
        cases[f"width x{w}"] = (lambda w=w: W.hpsearch_epoch_time(
            Xw, yw, layers=tuple(w * h for h in base), epochs=epochs, dtype=np.float32))
    # load the optional numba kernels now, so no timed fit pays their one-off load
    numba_on, numba_text = W.numba_kernels(W.n_parameters(d, base, W.N_CLASSES))
    try:
        for fn in cases.values():
            fn()  # probe + warm-up
    except Skip as skip:
        return [skipped_row(NAME, "epoch time vs n_samples / width", str(skip), LINEAR)]
    m = medians(interleave(cases, repeats=repeats))
    rows = []
    for k in (4, 16):
        rows.append(Row(NAME, f"epoch time, n_samples x{k} vs linear", m[f"n x{k}"],
                        k * m["n x1"], "s", target=LINEAR,
                        note=f"x1 = {n0} samples ({m['n x1']:.3g} s), {base}, f32"))
    f1 = W.n_parameters(d, base, W.N_CLASSES)
    for w in (2, 4):
        fw = W.n_parameters(d, tuple(w * h for h in base), W.N_CLASSES)
        rows.append(Row(NAME, f"epoch time, width x{w} vs linear in FLOPs", m[f"width x{w}"],
                        m["width x1"] * fw / f1, "s", target=LINEAR,
                        note=f"FLOPs x{fw / f1:.2f}; x1 = {base} ({m['width x1']:.3g} s)"))
    for row in rows:
        row.note += f"; numba kernels: {numba_text}"
        row.extra["numba"] = numba_on
    return rows


def _search_rows(quick, repeats):
    from sklearn.model_selection import ShuffleSplit

    X, y = W.digits(300 if quick else None)
    max_iter = 2 if quick else 10
    # (candidates, splits, n_jobs); the first is the base
    configs = [(2, 2, 1), (4, 2, 1), (4, 4, 1), (4, 4, 2)] if quick else \
        [(4, 2, 1), (8, 2, 1), (8, 4, 1), (16, 4, 1), (8, 4, 2), (16, 4, 2)]

    def search(c, s, j):
        est = W.hpsearch_mlp(hidden_layer_sizes=(16,), max_iter=max_iter, random_state=0)
        grid = {"alpha": list(np.logspace(-5, -1, c))}
        cv = ShuffleSplit(n_splits=s, test_size=0.2, random_state=0)
        return W.hp_search("GridSearchCV", est, grid, cv=cv, n_jobs=j, refit=False,
                           optional={"progress": False})

    def case(c, s, j):
        def fn():
            with quiet():
                search(c, s, j).fit(X, y)
        return fn

    cases = {cfg: case(*cfg) for cfg in configs}
    try:
        for fn in cases.values():
            fn()  # probe + warm-up (also starts the worker pool)
    except Skip as skip:
        return [skipped_row(NAME, "search wall vs candidates x splits / n_jobs", str(skip),
                            LINEAR)]
    m = medians(interleave(cases, repeats=repeats))
    base = configs[0]
    unit = base[0] * base[1] / base[2]
    rows = []
    for cfg in configs[1:]:
        c, s, j = cfg
        work = c * s / j
        rows.append(Row(NAME, f"search wall, {c} cand x {s} splits / {j} jobs vs linear",
                        m[cfg], m[base] * work / unit, "s", target=LINEAR,
                        note=f"base {base[0]}x{base[1]}/{base[2]} = {m[base]:.3g} s; "
                             f"work x{work / unit:g}"))
    return rows


def run(quick=False, repeats=3):
    return _epoch_rows(quick, repeats) + _search_rows(quick, repeats)
