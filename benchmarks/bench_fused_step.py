"""Per-step time of the NumPy optimizer passes vs numba's fused kernel, by network size.

``python benchmarks/bench_fused_step.py`` times ``Optimizer.step`` (the L2 penalty of
``alpha`` and the solver's update, as ``Network.run_epoch`` calls it once per mini-batch)
on both paths, for every solver family and several parameter counts, in one process after
numba is loaded: blocks of steps alternate between the paths, the figure is the median
over the blocks of process CPU time per step, minus the cost of restoring the gradient
(timed alone, in the same alternation). It also times numba's import in a fresh process
(the figures of :data:`hpsearch.neural.kernels.SAVING` and ``LOAD_COST``).

Options: ``--sizes``, ``--solvers``, ``--dtype``, ``--blocks``, ``--steps`` (per block),
``--no-penalty``, ``--import-runs`` (fresh processes timing ``kernels.load()``; 0 skips),
``--epochs ROUNDS`` (whole epochs of digits nets of 2410-9610 parameters, Adam, batch 32
and 128, in ROUNDS alternated pairs of fresh processes with ``HPSEARCH_NUMBA=0`` and ``1``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hpsearch.neural import kernels  # noqa: E402
from hpsearch.neural.optimizers import OPTIMIZERS  # noqa: E402
from hpsearch.neural.regularizers import make_penalty  # noqa: E402

SIZES = (100, 1_000, 2_410, 9_610, 50_000, 235_000)
SOLVERS = ("adam", "sgd", "nesterov", "momentum", "rmsprop", "adagrad")

# numba's import and the first call of the Adam kernel (loaded from numba's on-disk cache,
# compiled on a machine's first run), after hpsearch itself is imported
_IMPORT = ("import time, numpy as np; from hpsearch.neural import kernels, optimizers;"
           "t0 = time.process_time(); w0 = time.perf_counter(); ok = kernels.load();"
           "opt = optimizers.Adam(100, np.float32);"
           "opt.step(np.ones(100, np.float32), np.ones(100, np.float32));"
           "print(ok, time.process_time() - t0, time.perf_counter() - w0)")


def _setup(solver, n, dtype, penalty):
    rng = np.random.default_rng(0)
    theta = (rng.standard_normal(n) * 0.1).astype(dtype)
    g0 = (rng.standard_normal(n) * 0.01).astype(dtype)
    opt = OPTIMIZERS[solver](n, dtype, learning_rate_init=1e-3)
    pens = make_penalty(alpha=1e-4) if penalty else ()
    return theta, g0, g0.copy(), opt, pens, int(n * 0.95)


def _block(path, solver, n, dtype, penalty, steps):
    theta, g0, g, opt, pens, npen = _setup(solver, n, dtype, penalty)
    table = kernels._STATE["kernels"]
    if path == "numpy":  # as in a process without numba (the kernel lookup included)
        kernels._STATE["kernels"] = None
    try:
        return _steps(path, theta, g0, g, opt, pens, npen, steps)
    finally:
        kernels._STATE["kernels"] = table


def _steps(path, theta, g0, g, opt, pens, npen, steps):
    step, copyto, scale = opt.step, np.copyto, 1.0 / 32
    if path == "copy":  # the gradient's restore alone
        t0 = time.process_time()
        for _ in range(steps):
            copyto(g, g0)
        return time.process_time() - t0
    t0 = time.process_time()
    for _ in range(steps):
        copyto(g, g0)  # the NumPy path uses g as scratch: a fresh gradient every step
        step(theta, g, pens, npen, scale)
    return time.process_time() - t0


def measure(solver, n, dtype, penalty, blocks, steps):
    times = {"numpy": [], "fused": [], "copy": []}
    for path in times:  # warm-up (the kernel's first call loads it from numba's cache)
        _block(path, solver, n, dtype, penalty, 2)
    for b in range(blocks):
        order = ("numpy", "fused", "copy") if b % 2 == 0 else ("fused", "copy", "numpy")
        for path in order:
            times[path].append(_block(path, solver, n, dtype, penalty, steps) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    return med["numpy"] - med["copy"], med["fused"] - med["copy"]


# one process: CPU seconds per epoch of digits nets (1198 rows, Adam, alpha=1e-4, 15
# epochs, second-fastest of 4 fits after a warm-up fit), under the process's HPSEARCH_NUMBA
_EPOCHS = """
import json, sys, time, warnings
import numpy as np
from sklearn.datasets import load_digits
from hpsearch import MLPClassifier
warnings.filterwarnings("ignore")
X, y = load_digits(return_X_y=True)
X, y = X[:1198] / 16.0, y[:1198]
out = {}
for h in (32, 64, 128):
    for bs in (32, 128):
        est = MLPClassifier(hidden_layer_sizes=(h,), batch_size=bs, max_iter=15,
                            random_state=0, tol=0, n_iter_no_change=1000).fit(X, y)
        ts = []
        for _ in range(4):
            t0 = time.process_time()
            est.fit(X, y)
            ts.append((time.process_time() - t0) / est.n_iter_)
        out[f"({h},) {64 * h + h + 10 * h + 10} params, batch {bs}"] = sorted(ts)[1]
out["numba imported"] = "numba" in sys.modules
print(json.dumps(out))
"""


def epoch_ratios(rounds):
    """Fresh processes alternating ``HPSEARCH_NUMBA=0`` and ``1``; per net and batch size:
    the median per-epoch CPU time of each and the median of the paired ratios."""
    import json
    import os

    root = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    got = {"0": [], "1": []}
    for r in range(rounds):
        for mode in (("0", "1") if r % 2 == 0 else ("1", "0")):
            proc = subprocess.run([sys.executable, "-c", _EPOCHS], capture_output=True,
                                  text=True, check=True, cwd=root,
                                  env=dict(env, HPSEARCH_NUMBA=mode))
            got[mode].append(json.loads(proc.stdout))
    print(f"epochs, {rounds} alternated process pairs (HPSEARCH_NUMBA=0 vs 1), median CPU ms"
          f" per epoch; numba imported: {got['1'][0]['numba imported']}")
    for key in got["0"][0]:
        if key == "numba imported":
            continue
        a = [g[key] for g in got["0"]]
        b = [g[key] for g in got["1"]]
        ratio = statistics.median(y / x for x, y in zip(a, b))
        print(f"  {key:32s} numpy {statistics.median(a) * 1e3:7.3f}  fused "
              f"{statistics.median(b) * 1e3:7.3f}  ratio {ratio:.3f}")


def import_cost(runs):
    out = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", _IMPORT], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).resolve().parents[1])
        ok, cpu, wall = proc.stdout.split()
        out.append((ok == "True", float(cpu), float(wall)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    ap.add_argument("--solvers", nargs="+", default=SOLVERS, choices=sorted(OPTIMIZERS))
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--no-penalty", action="store_true")
    ap.add_argument("--import-runs", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=0, metavar="ROUNDS",
                    help="also time whole epochs of digits nets in ROUNDS process pairs")
    args = ap.parse_args(argv)
    if args.epochs:
        epoch_ratios(args.epochs)
    if args.import_runs:
        runs = import_cost(args.import_runs)
        cpu = statistics.median(r[1] for r in runs)
        wall = statistics.median(r[2] for r in runs)
        print(f"numba load in a fresh process (median of {len(runs)}): CPU {cpu:.3f} s, "
              f"wall {wall:.3f} s (available: {runs[0][0]})")
    kernels._STATE["loaded"] = False
    if not kernels.load():
        sys.exit("numba is not available (pip install numba, HPSEARCH_NUMBA != 0)")
    # time the kernel at every size (hpsearch before this script: MIN_FUSED_PARAMS)
    kernels.MIN_FUSED_PARAMS = 0
    if hasattr(kernels, "SAVING"):
        kernels.SAVING = {key: (1.0, 0.0) for key in kernels.SAVING}
    dtype = np.dtype(args.dtype)
    print(f"dtype {dtype}, penalty {'none' if args.no_penalty else 'L2 (alpha=1e-4)'}, "
          f"{args.blocks} alternated blocks of {args.steps} steps, median CPU us/step")
    print(f"{'solver':9s} {'params':>8s} {'numpy':>9s} {'fused':>9s} {'ratio':>6s} "
          f"{'saving':>8s} {'ns/elem':>8s}")
    for solver in args.solvers:
        for n in args.sizes:
            t_np, t_fu = measure(solver, n, dtype, not args.no_penalty, args.blocks,
                                 args.steps)
            save = t_np - t_fu
            print(f"{solver:9s} {n:8d} {t_np * 1e6:9.2f} {t_fu * 1e6:9.2f} "
                  f"{t_fu / t_np:6.2f} {save * 1e6:8.2f} {save / n * 1e9:8.3f}", flush=True)


if __name__ == "__main__":
    main()
