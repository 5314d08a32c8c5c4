r"""Optional fused single-pass kernels (numba) for the per-batch parameter update.

The NumPy optimizers of :mod:`hpsearch.neural.optimizers` make one pass over the whole flat
parameter vector per ufunc call: Adam with an L2 penalty is 12 passes touching 5 arrays of
``n_params`` elements per mini-batch, which for a 235k-parameter network costs about as much
as a third of the batch's matrix products (the arrays do not fit in L2 cache, so every pass
streams from memory). A compiled loop does the same arithmetic in **one** pass.

The kernels here perform *exactly* the floating-point operations of the NumPy code, in the
same order and in the working dtype (every constant is passed already converted to it, and
numba is asked for no fast-math and no error checks, so LLVM neither reassociates nor fuses
multiply-adds). Results are therefore **bit-identical** with and without numba — a fit
started in a process with numba continues exactly in one without it — and
``tests/test_neural_perf_kernels.py`` checks that equality on random arrays.

numba is optional, and costs a fresh process about 0.3 s of CPU to import and to load a
kernel from numba's on-disk cache (``python benchmarks/bench_fused_step.py``: 0.31 s, median
of 7 processes, warm file cache; each further kernel or dtype about 0.1-0.2 s more; the first
compilation on a machine takes a few seconds). Once loaded, the fused step is faster than the
NumPy passes at **every** network size for Adam, RMSProp, Adagrad and Nesterov, and for SGD
and momentum with a weight penalty: the NumPy path pays about 0.4-0.6 us of Python and ufunc
dispatch per pass even on 100 parameters, numba one dispatch of 2-3.5 us. Median CPU us per
step, float32, L2 penalty (scikit-learn's ``alpha``), same script::

    params     100          2 410         9 610          50 000
    Adam      5.7 -> 3.4   11.0 -> 5.0   13.9 -> 5.4    52.2 -> 16.6
    RMSProp   5.6 -> 3.1    7.7 -> 3.7   12.6 -> 5.1    45.6 -> 14.3
    Adagrad   4.3 -> 3.1    6.1 -> 3.6   10.9 -> 5.2    42.2 -> 14.3
    Nesterov  4.2 -> 2.6    5.5 -> 2.9    8.3 -> 3.8    24.7 -> 8.9
    Momentum  3.2 -> 2.6    4.1 -> 2.9    6.2 -> 3.8    18.5 -> 8.7
    SGD       2.4 -> 2.3    3.1 -> 2.5    4.4 -> 3.1    11.8 -> 6.0

Without a penalty plain SGD (two passes) and classical momentum (four) are faster on the
NumPy path for small networks (SGD 1.15 vs 2.0 us at 100 parameters, break-even about 36k
parameters; momentum between 2.4k and 9.6k, the model says 7k). float64 saves 1.5-3x more
per element (the figures here are a lower bound there). :data:`SAVING` holds the fitted
saving per step, ``a + b n`` for ``n`` parameters, of each solver with and without a
penalty; a step uses the fused kernel exactly when that estimate is positive.

A short fit must not pay the load, so the choice follows the environment variable
``HPSEARCH_NUMBA`` (read at a process's first step):

- ``auto`` (default): a process trains on the NumPy path, adds up the estimated saving each
  step would have had with the fused kernel, and imports numba once that sum reaches
  :data:`LOAD_COST` — the ski-rental rule: no process pays more than about twice the best
  choice, and a short fit or search never imports numba (numba already imported by
  something else: loaded at once). Afterwards every step whose fused kernel is faster uses
  it. Results are bit-identical either way, so switching in the middle of a fit changes
  nothing but speed;
- ``1``: load at the first step whose fused kernel is faster (or call :func:`load`, e.g. in
  a worker initializer);
- ``0``: never (pure NumPy).

The variable governs these fused steps of the NumPy path only. The estimators'
``engine="numba"`` (:mod:`hpsearch.neural.compiled`, whole compiled epochs) is an explicit
choice of a parameter and runs whatever ``HPSEARCH_NUMBA`` says; the epochs it leaves to
the NumPy path (sparse ``X``, sample weights, ...) follow the variable as any other.
"""

from __future__ import annotations

import os
import sys

__all__ = ["KERNEL_OF", "LOAD_COST", "SAVING", "estimated_saving", "fused", "load",
           "numba_available"]

#: Kernel names of :mod:`hpsearch.neural._numba_kernels` (one per family of solvers).
KERNELS = ("sgd", "momentum", "scaled", "adam")

#: The kernel of each solver (keys of :data:`hpsearch.neural.optimizers.OPTIMIZERS`).
KERNEL_OF = {"sgd": "sgd", "momentum": "momentum", "nesterov": "momentum",
             "adagrad": "scaled", "rmsprop": "scaled", "adam": "adam"}

#: Estimated CPU seconds one fused step saves over the NumPy passes, ``a + b * n_params``:
#: ``(a, b)`` by ``(solver, penalized)``, fitted to the float32 medians of
#: ``benchmarks/bench_fused_step.py`` (10 to 50 000 parameters; a negative ``a``: the NumPy
#: path is faster for small networks). A weight penalty (``alpha``, ``l1``) adds passes to
#: the NumPy path only.
SAVING = {
    ("adam", True): (2.2e-6, 0.67e-9), ("adam", False): (1.25e-6, 0.48e-9),
    ("rmsprop", True): (2.3e-6, 0.59e-9), ("rmsprop", False): (1.4e-6, 0.48e-9),
    ("adagrad", True): (1.1e-6, 0.55e-9), ("adagrad", False): (0.25e-6, 0.42e-9),
    ("nesterov", True): (1.6e-6, 0.28e-9), ("nesterov", False): (0.5e-6, 0.21e-9),
    ("momentum", True): (0.56e-6, 0.18e-9), ("momentum", False): (-0.37e-6, 0.05e-9),
    ("sgd", True): (0.07e-6, 0.11e-9), ("sgd", False): (-0.87e-6, 0.024e-9),
}

#: Estimated saving (CPU seconds, summed over the steps of a process) at which ``auto`` mode
#: imports numba: about its measured load cost (0.3 s, plus another kernel or a slower disk).
LOAD_COST = 0.5

_STATE = {"loaded": False, "kernels": None, "saved": 0.0, "mode": None}


def _mode():
    return os.environ.get("HPSEARCH_NUMBA", "auto").strip().lower() or "auto"


def _read_mode():
    """``HPSEARCH_NUMBA``, read once (the environment costs 0.5 us a look-up, per step)."""
    _STATE["mode"] = _mode()
    return _STATE["mode"]


def _compile():
    """The numba kernels (compiled once, cached on disk by numba); ``None`` without numba."""
    try:
        from . import _numba_kernels
    except Exception:  # numba absent or broken: the NumPy path
        return None
    return {name: getattr(_numba_kernels, name) for name in KERNELS}


def load():
    """Import numba and the kernels now (unless ``HPSEARCH_NUMBA=0``); True when available."""
    if not _STATE["loaded"]:
        _STATE["loaded"] = True
        if _mode() not in ("0", "never", "false", "no"):
            _STATE["kernels"] = _compile()
    return _STATE["kernels"] is not None


def numba_available():
    """Whether the fused kernels can be used in this process (loads them; see :func:`load`)."""
    return load()


def estimated_saving(solver, n_params, penalized=True):
    """Estimated CPU seconds one fused step of ``solver`` saves on ``n_params`` parameters
    (negative: the NumPy passes are faster); see :data:`SAVING`."""
    a, b = SAVING[solver, bool(penalized)]
    return a + b * n_params


def fused(solver, n_params, penalized=True):
    r"""The fused penalty + update kernel of ``solver`` (a key of :data:`KERNEL_OF`), or
    ``None``: no numba, disabled, not loaded yet, or a step the NumPy passes do faster.

    Called once per step (it keeps the ``auto`` mode's account). Every kernel is called as
    ``kernel(theta, g, *state, n_penalized, l2, l1, has_l2, has_l1, *constants)`` and does,
    for each parameter ``i`` (the penalty only for ``i < n_penalized``), :math:`g_i
    \leftarrow g_i + l_2 \theta_i + l_1 \operatorname{sign}\theta_i` followed by the
    solver's update of ``theta`` and ``state`` — exactly the arithmetic of the solver's NumPy
    ``_update`` (``g`` is left unchanged).
    """
    a, b = SAVING[solver, penalized]
    saving = a + b * n_params
    if saving <= 0:
        return None
    if not _STATE["loaded"]:
        _STATE["saved"] += saving
        if (_STATE["saved"] < LOAD_COST and "numba" not in sys.modules
                and (_STATE["mode"] or _read_mode()) == "auto"):
            return None
        load()
    table = _STATE["kernels"]
    return None if table is None else table[KERNEL_OF[solver]]
