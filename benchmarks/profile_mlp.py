"""Break one epoch of benchmark 1 into GEMM time and everything else.

Usage::

    python benchmarks/profile_mlp.py [--quick] [--n-samples 20000] [--dtype float32]
                                     [--layers 256 128] [--batch-size 128] [--top 15]

One BLAS thread. It measures, for the same shapes as the hpsearch epoch:

1. the steady-state hpsearch epoch (``partial_fit`` after a first epoch, median of 3);
2. the GEMMs of that epoch alone (forward ``A @ W``, ``A.T @ D``, ``D @ W.T`` per layer and
   batch, preallocated operands) — the kernel floor;
3. reference costs of the other unavoidable work, each alone in plain NumPy: gathering the
   mini-batches by index (``np.take`` into a buffer), converting them to the working dtype
   when X has another dtype, the library's own optimizer step over all parameters (the
   solver and L2 penalty of the fit, on whichever path is active: the fused numba kernel or
   the NumPy passes), and the elementwise activation/softmax passes;
4. a cProfile of one epoch (top functions by own time) to see where the rest goes.

The gap ``epoch - (GEMM + references)`` is Python/dispatch overhead and copies that the
reference loop does not make; a GEMM share far below the GEMM-alone figure means the GEMMs
inside the epoch run slower than alone (non-contiguous operands, transposed copies, odd
shapes).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _workloads as W  # noqa: E402
from _harness import blas_threads, hp, quiet  # noqa: E402


def _best(fn, repeats=3):
    fn()
    return statistics.median(_timed(fn) for _ in range(repeats))


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def optimizer_step_seconds(n_params, n_weights, n_batches, batch, dtype, solver, alpha, rng):
    """Seconds per epoch of the library's own optimizer step (``Optimizer.step`` with the
    fit's L2 penalty), on the path the fit uses: the fused numba kernel when
    :mod:`hpsearch.neural.kernels` has it for this size, else the NumPy passes.

    The NumPy solvers use the gradient as scratch space, so each step gets a fresh copy of
    it; the copies are timed alone and subtracted.
    """
    from hpsearch.neural import kernels
    from hpsearch.neural.optimizers import OPTIMIZERS
    from hpsearch.neural.regularizers import make_penalty

    opt = OPTIMIZERS[solver](n_params, dtype, learning_rate_init=1e-3)
    penalties = make_penalty(alpha=alpha)
    theta = (0.05 * rng.standard_normal(n_params)).astype(dtype)
    g0 = (0.01 * rng.standard_normal(n_params)).astype(dtype)
    g = np.empty_like(g0)

    def copies():
        for _ in range(n_batches):
            np.copyto(g, g0)

    def steps():
        for _ in range(n_batches):
            np.copyto(g, g0)
            opt.step(theta, g, penalties, n_weights, 1.0 / batch)

    fused = kernels.fused(opt._kernel, n_params) if opt._kernel else None
    path = "fused numba kernel" if fused is not None else "NumPy passes"
    return max(0.0, _best(steps) - _best(copies)), path


def reference_costs(n, d, sizes, batch, dtype, x_dtype, solver="adam", alpha=1e-4):
    """Seconds per epoch of each non-GEMM piece, alone (plain NumPy, except the optimizer
    step, which is the library's own)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(x_dtype)
    n_batches = n // batch
    perm = rng.permutation(n)
    buf = np.empty((batch, d), dtype=x_dtype)
    buf_w = np.empty((batch, d), dtype=dtype)

    def gather():
        for b in range(n_batches):
            np.take(X, perm[b * batch:(b + 1) * batch], axis=0, out=buf)

    def convert():
        for _ in range(n_batches):
            buf_w[...] = buf

    n_params = W.n_parameters(sizes[0], sizes[1:-1], sizes[-1])
    n_weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))  # weights come first
    opt_seconds, opt_path = optimizer_step_seconds(n_params, n_weights, n_batches, batch,
                                                   dtype, solver, alpha, rng)

    acts = [rng.standard_normal((batch, s)).astype(dtype) for s in sizes[1:]]

    def elementwise():
        for _ in range(n_batches):
            for Z in acts[:-1]:
                np.maximum(Z, 0, out=Z)  # forward relu
                Z *= Z > 0  # backward mask
            out = acts[-1]
            out -= out.max(axis=1, keepdims=True)
            np.exp(out, out=out)
            out /= out.sum(axis=1, keepdims=True)

    costs = {"gather batches by index": _best(gather)}
    if np.dtype(x_dtype) != np.dtype(dtype):
        costs[f"convert {np.dtype(x_dtype).name} -> {np.dtype(dtype).name}"] = _best(convert)
    costs[f"optimizer step ({solver} + L2, {opt_path})"] = opt_seconds
    costs["relu fwd/bwd + softmax"] = _best(elementwise)
    return costs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-samples", type=int, default=20000)
    parser.add_argument("--n-features", type=int, default=W.N_FEATURES)
    parser.add_argument("--layers", type=int, nargs="+", default=list(W.LAYERS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--x-dtype", choices=["float32", "float64"], default=None,
                        help="dtype of X given to fit (default: the working dtype)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.n_features, args.layers = 1024, 64, [32, 16]
    dtype = np.dtype(args.dtype).type
    x_dtype = np.dtype(args.x_dtype or args.dtype).type
    n, d, layers, batch = args.n_samples, args.n_features, tuple(args.layers), args.batch_size
    sizes = [d, *layers, W.N_CLASSES]

    X64, X32, y = W.classification_data(n, d)
    X = X32 if x_dtype is np.float32 else X64
    with blas_threads(1):
        numba_state = W.numba_kernels(W.n_parameters(d, layers, W.N_CLASSES))
        est = hp("MLPClassifier")(hidden_layer_sizes=layers, batch_size=batch, max_iter=1,
                                  dtype=dtype, random_state=0)
        with quiet():
            est.fit(X, y)
            epoch = _best(lambda: est.partial_fit(X, y))
        gemm = W.LayerGemms(n, sizes, batch_size=batch, dtype=dtype)
        gemm_s = statistics.median(gemm.epoch_seconds() for _ in range(3))
        params = est.get_params()
        refs = reference_costs(n, d, sizes, batch, dtype, x_dtype, params["solver"],
                               params["alpha"])

        prof = cProfile.Profile()
        with quiet():
            prof.enable()
            est.partial_fit(X, y)
            prof.disable()

    flops = 6.0 * W.n_parameters(d, layers, W.N_CLASSES) * n
    print(f"hpsearch epoch: {n}x{d}, layers {layers}, batch {batch}, working {args.dtype}, "
          f"X {np.dtype(x_dtype).name}, 1 BLAS thread, numba kernels: {numba_state[1]}")
    print(f"{'piece':48s} {'s/epoch':>9s} {'share':>7s}")
    print(f"{'full epoch (partial_fit, steady state)':48s} {epoch:9.4f} {1:7.1%}  "
          f"({flops / epoch / 1e9:.1f} GFLOP/s)")
    print(f"{'GEMMs alone (same shapes)':48s} {gemm_s:9.4f} {gemm_s / epoch:7.1%}  "
          f"({gemm.flops / gemm_s / 1e9:.1f} GFLOP/s)")
    for name, secs in refs.items():
        print(f"{name:48s} {secs:9.4f} {secs / epoch:7.1%}")
    rest = epoch - gemm_s - sum(refs.values())
    print(f"{'unexplained (overhead, extra copies)':48s} {rest:9.4f} {rest / epoch:7.1%}")
    stream = io.StringIO()
    pstats.Stats(prof, stream=stream).sort_stats("tottime").print_stats(args.top)
    print("\ncProfile of one epoch, by own time (GEMMs written with @ count in their caller):")
    print(stream.getvalue().split("\n\n", 1)[-1].strip())


if __name__ == "__main__":
    main()
