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

numba is optional: without it (or with the environment variable ``HPSEARCH_NO_NUMBA=1``)
:func:`fused_adam` returns ``None`` and the optimizers use their NumPy path. It is imported
lazily, the first time a network large enough to profit trains (see
:data:`MIN_FUSED_PARAMS`): importing numba costs about half a second, more than a small
network's whole fit saves.
"""

from __future__ import annotations

import os

__all__ = ["MIN_FUSED_PARAMS", "fused", "numba_available"]

#: Smallest parameter count for which the fused kernels are used. Below it the NumPy passes
#: run from cache and cost less than the import of numba a fresh process would pay.
MIN_FUSED_PARAMS = 50_000

#: Kernel names of :mod:`hpsearch.neural._numba_kernels` (one per family of solvers).
KERNELS = ("sgd", "momentum", "scaled", "adam")

_STATE = {"loaded": False, "kernels": None}


def _compile():
    """The numba kernels (compiled once, cached on disk by numba); ``None`` without numba."""
    try:
        from . import _numba_kernels
    except Exception:  # numba absent or broken: the NumPy path
        return None
    return {name: getattr(_numba_kernels, name) for name in KERNELS}


def _load():
    if not _STATE["loaded"]:
        _STATE["loaded"] = True
        if os.environ.get("HPSEARCH_NO_NUMBA", "").strip() not in ("", "0"):
            return
        _STATE["kernels"] = _compile()


def numba_available():
    """Whether the fused kernels can be used in this process (numba importable, not disabled)."""
    _load()
    return _STATE["kernels"] is not None


def fused(name, n_params):
    r"""The fused penalty + solver kernel ``name``, or ``None`` (no numba, disabled, small net).

    Every kernel is called as ``kernel(theta, g, *state, n_penalized, l2, l1, has_l2, has_l1,
    *constants)`` and does, for each parameter ``i`` (the penalty only for
    ``i < n_penalized``), :math:`g_i \leftarrow g_i + l_2 \theta_i + l_1
    \operatorname{sign}\theta_i` followed by the solver's update of ``theta`` and ``state``
    — exactly the arithmetic of the solver's NumPy ``_update`` (``g`` is left unchanged).
    """
    if n_params < MIN_FUSED_PARAMS:
        return None
    _load()
    table = _STATE["kernels"]
    return None if table is None else table[name]
