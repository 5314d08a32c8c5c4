"""Target 2: a tiny, overhead-bound MLP: digits, (64,), Adam, default batch, 200 epochs.

Whole ``fit`` wall of hpsearch's ``MLPClassifier`` against sklearn's, both forced to run all
200 epochs (no tol-based early stop), float64 X as loaded. hpsearch runs at its default dtype
(reported in the note). Target: hpsearch <= 0.6x sklearn. The figure is normalised to
``epochs`` epochs (wall / n_iter_ x epochs) so an early stop could not flatter either side.
"""

from __future__ import annotations

import time

import _workloads as W
from _harness import Row, Skip, hp, interleave, medians, quiet, skipped_row

NAME = "mlp_tiny"


def _fit_wall(est, X, y, epochs):
    with quiet():
        t0 = time.perf_counter()
        est.fit(X, y)
        elapsed = time.perf_counter() - t0
    return elapsed / max(1, est.n_iter_) * epochs


def run(quick=False, repeats=3):
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    epochs = 10 if quick else 200
    if quick:
        X, y = X[:400], y[:400]
    params = dict(hidden_layer_sizes=(64,), solver="adam", max_iter=epochs, random_state=0)
    sk = SkMLP(**params, **W.no_early_stop(epochs))
    cases = {"sk": lambda: _fit_wall(sk, X, y, epochs)}
    note = f"digits {X.shape}, batch auto, {epochs} epochs"
    try:
        cls = hp("MLPClassifier")
        extra = {k: v for k, v in W.no_early_stop(epochs).items() if k in cls().get_params()}
        ours = cls(**params, **extra)
        cases = {"hp": lambda: _fit_wall(ours, X, y, epochs), **cases}
        dtype = ours.get_params().get("dtype")
        note += f", hpsearch dtype={getattr(dtype, '__name__', dtype)}"
    except Skip as skip:
        note = f"skipped: {skip}"
    n_params = W.n_parameters(X.shape[1], (64,), 10)
    numba_on, numba_text = W.numba_kernels(n_params)  # load in the warm-up, never timed
    if "hp" in cases:
        note += f", numba kernels: {numba_text}"
    for fn in cases.values():  # warm-up round
        fn()
    m = medians(interleave(cases, repeats=repeats))
    row = Row(NAME, f"fit wall, {epochs} epochs, vs sklearn", m.get("hp"), m["sk"], "s",
              target="<= 0.6", note=note)
    if "hp" in m:
        with quiet():
            ours.fit(X, y)
        row.extra["n_iter_"] = int(ours.n_iter_)
        row.extra["numba"] = numba_on
    return [row]
