"""The compiled training epoch (``engine="numba"``): which networks it runs, and its call.

A small network's mini-batch is some 40 NumPy calls of about a microsecond of Python and
dispatch each, around matrix products that take a few microseconds: on scikit-learn's
digits a (64,)-unit MLP spends most of its epoch outside arithmetic. The estimators'
``engine="numba"`` runs each epoch as **one** numba call instead
(:mod:`hpsearch.neural._numba_epoch`): the same BLAS matrix products, the elementwise
steps as compiled loops.

Trade-off, stated: the compiled epoch is deterministic (the same state and data give the
same bits, so a continued fit still equals a straight one) but **not bit-identical with the
NumPy path** (``exp``, ``log`` and ``tanh`` differ in the last bit between the C library and
NumPy's SIMD code; training carries such differences on). That is why it is an explicit
choice of the estimator (a parameter, recorded with every candidate of a search) and never
switched on by itself, unlike the bit-identical fused optimizer step of
:mod:`hpsearch.neural.kernels`.

It covers the common network: dense ``X``, no ``sample_weight``, Dense layers with an
``identity``, ``relu``, ``tanh``, ``logistic``/``sigmoid`` or ``leaky_relu`` hidden
activation, no dropout, a softmax, sigmoid or squared-error output, any stochastic solver,
``alpha`` and ``l1`` penalties. Any other epoch (sparse ``X``, sample weights, PReLU, Maxout,
dropout, the Poisson loss) runs on the NumPy path, whatever ``engine`` says: the choice is
made from the estimator's parameters and data alone, so it is the same for every epoch of a
fit and for every fit of a candidate.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
from scipy.sparse import issparse

from .layers import ActivationLayer, Dense
from .optimizers import OPTIMIZERS

__all__ = ["ENGINES", "available", "covers", "run_epoch"]

#: the values of the estimators' ``engine`` parameter
ENGINES = ("numpy", "numba")

_MODULE = {"loaded": False, "module": None, "error": None}


def _load():
    if not _MODULE["loaded"]:
        _MODULE["loaded"] = True
        try:
            from . import _numba_epoch
        except Exception as exc:  # numba absent or broken
            _MODULE["error"] = exc
        else:
            _MODULE["module"] = _numba_epoch
    return _MODULE["module"]


#: the CBLAS symbols of NumPy's bundled OpenBLAS (its wheels: 64-bit integers, prefixed)
_GEMM_SYMBOLS = {np.dtype(np.float32): "scipy_cblas_sgemm64_",
                 np.dtype(np.float64): "scipy_cblas_dgemm64_"}
_GEMM = {}


def numpy_gemm(dtype):
    """Address of the CBLAS ``?gemm`` that ``np.matmul`` calls for ``dtype``, or 0.

    Found among the BLAS libraries loaded in the process (threadpoolctl) as the one shipped
    inside NumPy's own package, by the symbol names of NumPy's wheels (``scipy-openblas``,
    64-bit integers). numba's ``np.dot`` calls SciPy's BLAS instead, a separate OpenBLAS
    build that is 1.5-2.5x slower on the small products of small networks (128x64 times
    64x64 and its transposes, single thread: 16-26 us against 11 us). Elsewhere (another
    BLAS, another platform) the answer is 0 and the compiled epoch uses ``np.dot``.
    """
    dtype = np.dtype(dtype)
    if dtype not in _GEMM:
        _GEMM[dtype] = 0
        try:
            from threadpoolctl import threadpool_info

            here = os.path.dirname(os.path.realpath(np.__file__))
            root = os.path.dirname(here)
            inside = (os.path.join(root, "numpy.libs"), here)
            for info in threadpool_info():
                path = os.path.realpath(info.get("filepath") or "")
                if info.get("internal_api") == "openblas" and path.startswith(inside):
                    fn = getattr(ctypes.CDLL(path), _GEMM_SYMBOLS[dtype], None)
                    if fn is not None:
                        _GEMM[dtype] = ctypes.cast(fn, ctypes.c_void_p).value or 0
                        break
        except Exception:  # pragma: no cover - any surprise: numba's np.dot
            _GEMM[dtype] = 0
    return _GEMM[dtype]


def available():
    """Whether numba and the compiled epoch can be imported (imports them)."""
    return _load() is not None


def import_error():
    """Why the compiled epoch cannot be imported (``None`` when it can)."""
    _load()
    return _MODULE["error"]


#: solver name of each optimizer class
_SOLVER_OF = {cls: name for name, cls in OPTIMIZERS.items()}


def covers(net, X, sample_weight, optimizer):
    """Whether :func:`run_epoch` runs this network on this data (see the module docstring)."""
    from ._numba_epoch import ACT_CODES, LOSS_CODES  # (only called once numba is loaded)

    if sample_weight is not None or issparse(X) or net.loss_name not in LOSS_CODES \
            or type(optimizer) not in _SOLVER_OF:
        return False
    for k, layer in enumerate(net.layers):
        expected = Dense if k % 2 == 0 else ActivationLayer
        if type(layer) is not expected:
            return False
        if expected is ActivationLayer and layer.name not in ACT_CODES:
            return False
    return len(net.layers) % 2 == 1


def _plan(net):
    """Per-network constants of the call, cached on the network (``_compiled``)."""
    plan = net.__dict__.get("_compiled")
    if plan is None:
        rows, a_off = [], 0
        for i, layer in enumerate(net.layers):
            if isinstance(layer, Dense):
                (wo, _), (bo, _) = net._slots[(i, "W")], net._slots[(i, "b")]
                rows.append((layer.n_in, layer.n_out, wo, bo, a_off))
                a_off += layer.n_out
        meta = np.array(rows, dtype=np.int64)
        act_layer = net.layers[1] if len(net.layers) > 1 else None
        act = act_layer.name if act_layer is not None else "identity"
        slope = (act_layer._options.get("leaky_slope", 0.01) if act_layer is not None
                 else 0.01)
        # dL/dA is computed for the inputs of the Dense layers after the first only (the
        # hidden widths): never n_features wide, which may be by far the largest
        plan = net._compiled = {"meta": meta, "act": act, "slope": float(slope),
                                "width": int(meta[:, 1].sum()),
                                "max_in": int(meta[1:, 0].max(initial=0))}
    return plan


_STATE_ARRAYS = {"sgd": (), "momentum": ("velocity",), "nesterov": ("velocity",),
                 "adagrad": ("sum_sq",), "rmsprop": ("mean_sq",), "adam": ("_m", "_v")}


def run_epoch(net, X, T, rows, positions, batch_size, optimizer, penalties, data_scale):
    """One epoch of ``net`` on the compiled path; the return value of
    :meth:`~hpsearch.neural.network.Network.run_epoch`. The caller has checked
    :func:`covers`; ``X`` is dense."""
    mod = _load()
    plan = _plan(net)
    meta, dtype = plan["meta"], net.dtype
    n = len(positions)
    batch_size = max(1, min(batch_size, n))
    key = (batch_size, X.shape[1])
    bufs = net.__dict__.get("_compiled_bufs")
    if bufs is None or bufs[0] != key:
        bufs = net._compiled_bufs = (key, np.empty(batch_size * X.shape[1], dtype),
                                     np.empty(batch_size * plan["width"], dtype),
                                     np.empty(2 * batch_size * plan["max_in"], dtype),
                                     np.empty(1, dtype))
    _, xbuf, abuf, dbuf, cast = bufs
    # the optimizer's state arrays and hyper-parameters (Adam keeps moments pre-scaled by
    # 1 - beta: rescale them first if beta_1/beta_2 changed, as its NumPy step does)
    name = _SOLVER_OF[type(optimizer)]
    if name == "adam" and optimizer._scaled_by != (optimizer.beta_1, optimizer.beta_2):
        optimizer._rescale()
    state = [getattr(optimizer, attr) for attr in _STATE_ARRAYS[name]]
    dummy = np.zeros(0, dtype)
    s1 = state[0] if state else dummy
    s2 = state[1] if len(state) > 1 else dummy
    hyper = np.array([optimizer.learning_rate, getattr(optimizer, "momentum", 0.0),
                      getattr(optimizer, "beta_1", 0.0), getattr(optimizer, "beta_2", 0.0),
                      getattr(optimizer, "epsilon", 0.0), getattr(optimizer, "rho", 0.0),
                      float(np.finfo(dtype).smallest_subnormal)])
    strength = {pen.kind: pen.strength for pen in penalties}
    if net.loss_name == "softmax_cross_entropy":
        T1, T2 = np.ascontiguousarray(T, np.intp), np.zeros((0, 0), dtype)
    else:
        T1, T2 = np.zeros(0, np.intp), np.ascontiguousarray(T, dtype)
    X = np.ascontiguousarray(X)
    loss_sum, norms, steps = mod.epoch(
        X, T1, T2, np.ascontiguousarray(rows, np.intp),
        np.ascontiguousarray(positions, np.intp), batch_size, net.theta, net.grad, meta,
        mod.ACT_CODES[plan["act"]], dtype.type(plan["slope"]), mod.LOSS_CODES[net.loss_name],
        float(data_scale), net.n_penalized, float(strength.get("l2", 0.0)),
        float(strength.get("l1", 0.0)), mod.SOLVER_CODES[name], s1, s2, hyper,
        optimizer.t, xbuf, abuf, dbuf, cast, float(np.finfo(dtype).tiny),
        float(np.finfo(dtype).eps), numpy_gemm(dtype))
    optimizer.t += steps
    return loss_sum, norms, steps
