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

__all__ = ["MIN_FUSED_PARAMS", "fused_adam", "numba_available"]

#: Smallest parameter count for which the fused kernel is used. Below it the NumPy passes
#: run from cache and cost less than the import of numba a fresh process would pay.
MIN_FUSED_PARAMS = 50_000

_STATE = {"loaded": False, "adam": None}


def _compile():
    """The numba kernels (compiled once, cached on disk by numba); ``None`` without numba."""
    try:
        from . import _numba_kernels
    except Exception:  # numba absent or broken: the NumPy path
        return None
    return _numba_kernels.adam


def numba_available():
    """Whether the fused kernels can be used in this process (numba importable, not disabled)."""
    _load()
    return _STATE["adam"] is not None


def _load():
    if not _STATE["loaded"]:
        _STATE["loaded"] = True
        if os.environ.get("HPSEARCH_NO_NUMBA", "").strip() not in ("", "0"):
            return
        _STATE["adam"] = _compile()


def fused_adam(n_params):
    r"""The fused Adam(+penalty) kernel, or ``None`` (no numba, disabled, or a small network).

    The kernel ``adam(theta, g, m, v, n_penalized, l2, l1, has_l2, has_l1, b1, b2, eps,
    step)`` does, for each parameter ``i`` (``l2``/``l1`` only for ``i < n_penalized``):

    .. math::
        g_i \leftarrow g_i + l_2 \theta_i + l_1 \operatorname{sign}\theta_i, \quad
        m_i \leftarrow b_1 m_i + g_i, \quad v_i \leftarrow b_2 v_i + g_i^2, \quad
        \theta_i \leftarrow \theta_i - s\,\frac{m_i}{\sqrt{v_i} + \epsilon'}

    which is :class:`~hpsearch.neural.optimizers.Adam`'s scaled-moment step (``g`` itself
    is left unchanged).
    """
    if n_params < MIN_FUSED_PARAMS:
        return None
    _load()
    return _STATE["adam"]
