"""Target 3: every lecture activation and solver per epoch, relative to ReLU + Adam.

hpsearch float32, ``make_classification`` data (10000 x 784 by default), layers (256, 128),
batch 128, 2 epochs; every configuration interleaved with the ReLU + Adam reference in the
same rounds. Target: each within 1.5x of ReLU + Adam. Maxout (k pieces per unit) computes k
times the hidden-layer work, so its row reports the time per piece (time / k) against the
target, and the raw time in the note. hpsearch's fused numba kernels (optional) are loaded
before the probes; each row says whether they were active (same net size for all rows).
"""

from __future__ import annotations

import numpy as np

import _workloads as W
from _harness import Row, Skip, interleave, medians, skipped_row

NAME = "activations"
ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "maxout"]
SOLVERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
MAXOUT_PIECES = 2


def run(quick=False, repeats=3):
    if quick:
        n, d, layers, epochs = 512, 32, (16, 8), 1
    else:
        n, d, layers, epochs = 10000, W.N_FEATURES, W.LAYERS, 2
    _, X32, y = W.classification_data(n, d)

    def case(activation="relu", solver="adam", **extra):
        return lambda: W.hpsearch_epoch_time(X32, y, layers=layers, epochs=epochs,
                                             dtype=np.float32, activation=activation,
                                             solver=solver, **extra)

    n_params = W.n_parameters(d, layers, W.N_CLASSES)
    numba_on, numba_text = W.numba_kernels(n_params)  # load before the probes, never timed
    configs = {("relu", "adam"): case()}
    for act in ACTIVATIONS:
        extra = {"maxout_pieces": MAXOUT_PIECES} if act == "maxout" else {}
        configs.setdefault((act, "adam"), case(act, "adam", **extra))
    for solver in SOLVERS:  # "sgd" is the lecture's plain SGD: sklearn's "sgd" with momentum=0
        extra = {"momentum": 0.0} if solver == "sgd" else {}
        configs.setdefault(("relu", solver), case("relu", solver, **extra))
    cases = {f"{a}+{s}": fn for (a, s), fn in configs.items()}

    missing = {}
    for key in list(cases):  # probe (doubles as warm-up); a missing option skips its row only
        try:
            cases[key]()
        except Skip as skip:
            missing[key] = str(skip)
            del cases[key]
        except Exception as exc:  # e.g. an activation name the MLP refuses
            missing[key] = f"error: {type(exc).__name__}: {exc}"
            del cases[key]
    if "relu+adam" in missing:
        return [skipped_row(NAME, "all", missing["relu+adam"], "<= 1.5")]
    m = medians(interleave(cases, repeats=repeats))
    ref = m["relu+adam"]
    rows = []
    for key in [f"{a}+{s}" for (a, s) in configs]:
        if key == "relu+adam":
            continue
        label = f"{key} s/epoch vs relu+adam"
        if key in missing and missing[key].startswith("error"):
            rows.append(Row(NAME, label, target="<= 1.5", note=missing[key]))
        elif key in missing:
            rows.append(skipped_row(NAME, label, missing[key], "<= 1.5"))
        elif key.startswith("maxout"):
            rows.append(Row(NAME, f"{key} s/epoch per piece vs relu+adam",
                            m[key] / MAXOUT_PIECES, ref, "s", target="<= 1.5",
                            note=f"k={MAXOUT_PIECES}, raw {m[key]:.3g} s/epoch "
                                 f"({m[key] / ref:.2f}x)"))
        else:
            rows.append(Row(NAME, label, m[key], ref, "s", target="<= 1.5",
                            note=f"{n}x{d}, {layers}, f32"))
    for row in rows:
        if row.hpsearch is not None:
            row.note += f"; numba kernels: {numba_text}"
            row.extra["numba"] = numba_on
    return rows
