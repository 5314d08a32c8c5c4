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

numba is optional, and costs about one second per fresh process to import and to load its
compiled kernels from the on-disk cache (the first compilation on a machine takes a few
seconds more). A short fit must not pay that, so the choice follows the environment variable
``HPSEARCH_NUMBA``:

- ``auto`` (default): a process first trains on the NumPy path and imports numba once it has
  done :data:`LOAD_AFTER` parameter updates of networks with at least
  :data:`MIN_FUSED_PARAMS` parameters — about the work whose NumPy overhead equals the load
  cost, so no process pays more than twice the best choice (numba already imported by
  something else: loaded at once). Results are bit-identical either way, so switching in the
  middle of a fit changes nothing but speed;
- ``1``: load at the first network of at least :data:`MIN_FUSED_PARAMS` parameters (or call
  :func:`load`, e.g. in a worker initializer);
- ``0``: never (pure NumPy).
"""

from __future__ import annotations

import os
import sys

__all__ = ["LOAD_AFTER", "MIN_FUSED_PARAMS", "fused", "load", "numba_available"]

#: Smallest parameter count for which the fused kernels are used. Below it the NumPy passes
#: run from cache and cost less than the import of numba a fresh process would pay.
MIN_FUSED_PARAMS = 50_000

#: Kernel names of :mod:`hpsearch.neural._numba_kernels` (one per family of solvers).
KERNELS = ("sgd", "momentum", "scaled", "adam")

#: Parameter updates (parameters x steps) done on the NumPy path before ``auto`` mode imports
#: numba: the fused kernels save about 4 ns per update, the load costs about 1 s.
LOAD_AFTER = 250_000_000

_STATE = {"loaded": False, "kernels": None, "work": 0}


def _mode():
    return os.environ.get("HPSEARCH_NUMBA", "auto").strip().lower() or "auto"


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
    if not _STATE["loaded"]:
        _STATE["work"] += n_params
        if (_STATE["work"] < LOAD_AFTER and _mode() == "auto"
                and "numba" not in sys.modules):
            return None
        load()
    table = _STATE["kernels"]
    return None if table is None else table[name]
