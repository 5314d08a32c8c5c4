r"""numba-compiled training epoch; imported only by :mod:`hpsearch.neural.compiled`.

One call runs a whole epoch of mini-batch training of a plain feed-forward network — gather
the batch, forward, loss, backward, weight penalties, solver step, for every batch — with the
same arithmetic as :meth:`hpsearch.neural.network.Network.run_epoch`: the matrix products
are the same BLAS calls (NumPy's own ``?gemm``, called from the compiled code), the
elementwise loops repeat the NumPy formulas. It is **not** bit-identical with the NumPy path: ``exp``, ``log`` and ``tanh``
come from the C library here and from NumPy's own SIMD code there, and a few sums are
accumulated in float64 here (differences in the last bit of a float32, which training then
carries on). It is deterministic: the same state and batches give the same bits, so a
continued fit equals a straight one on this path too.

Layout of the arguments (all prepared by :func:`hpsearch.neural.compiled.run_epoch`):

- ``meta``: one row per Dense layer, ``(n_in, n_out, W offset, b offset, A offset)``, the
  offsets into ``theta``/``grad`` and the sum ``A offset`` of the earlier layers' widths:
  the activation buffer ``abuf`` holds each layer's output as a C-ordered block of
  ``batch_size`` rows starting at ``A offset * batch_size`` (a shorter last batch uses the
  first rows of its block);
- ``xbuf``: the gathered batch of ``X`` (``batch_size * n_features``); ``dbuf``: two halves
  of ``batch_size`` times the widest input of a Dense layer after the first, used in turn
  for :math:`\partial L/\partial A` of each hidden layer; ``cast``: one element of the
  working dtype (:func:`_as`);
- ``act``: hidden activation code (:data:`ACT_CODES`), ``slope`` the Leaky ReLU slope;
- ``loss``: output loss code (:data:`LOSS_CODES`); ``T1`` integer class codes (softmax) or
  ``T2`` the float target matrix (the other one is a dummy);
- ``solver``: solver code (:data:`SOLVER_CODES`); ``s1``, ``s2`` its state arrays (dummies
  where unused); ``hyper`` float64 ``(lr, momentum, beta_1, beta_2, epsilon, rho,
  smallest subnormal)``; ``t0`` the steps taken before this epoch;
- ``gemm``: the address of NumPy's own CBLAS ``sgemm``/``dgemm`` for the working dtype (0:
  use numba's ``np.dot``), see :func:`hpsearch.neural.compiled.numpy_gemm`;
- ``l2``, ``l1``: penalty strengths (scikit-learn's ``alpha``, hpsearch's ``l1``) on the
  first ``n_pen`` parameters (the weights).
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._numba_kernels import adam, momentum, scaled, sgd

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)

#: hidden activation codes
ACT_CODES = {"identity": 0, "relu": 1, "tanh": 2, "logistic": 3, "sigmoid": 3,
             "leaky_relu": 4}
#: output loss codes
LOSS_CODES = {"softmax_cross_entropy": 0, "binary_cross_entropy": 1, "squared_error": 2}
#: solver codes
SOLVER_CODES = {"sgd": 0, "momentum": 1, "nesterov": 2, "adagrad": 3, "rmsprop": 4,
                "adam": 5}


@intrinsic
def _gemm_at(typingctx, addr, ta, tb, M, N, K, A, lda, B, ldb, C, ldc):
    """``C = op(A) @ op(B)`` by the CBLAS ``?gemm`` at address ``addr`` (row-major; ``ta``,
    ``tb``: 111 no transpose, 112 transpose; 64-bit integers, as NumPy's own OpenBLAS).

    An address, not a ctypes object: numba caches no function that holds one."""
    dt = A.dtype
    sig = types.void(addr, ta, tb, M, N, K, A, lda, B, ldb, C, ldc)

    def codegen(context, builder, signature, args):
        addr, ta, tb, M, N, K, A, lda, B, ldb, C, ldc = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        fp = ir.FloatType() if dt == types.float32 else ir.DoubleType()
        vp = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, fp, vp, i64, vp,
                                               i64, fp, vp, i64])
        fn = builder.inttoptr(addr, fnty.as_pointer())

        def data(k, val):
            arr = context.make_array(signature.args[k])(context, builder, val)
            return builder.bitcast(arr.data, vp)

        def wide(v):
            return builder.sext(v, i64) if v.type.width < 64 else v

        builder.call(fn, [ir.Constant(i32, 101), builder.trunc(ta, i32), builder.trunc(tb, i32),
                          wide(M), wide(N), wide(K), ir.Constant(fp, 1.0), data(6, A), wide(lda),
                          data(8, B), wide(ldb), ir.Constant(fp, 0.0), data(10, C), wide(ldc)])
        return context.get_dummy_value()

    return sig, codegen


@_jit
def _matmul(gemm, A, B, C, ta, tb):
    """``C = op(A) @ op(B)`` (``ta``/``tb``: transpose A/B): NumPy's BLAS when its address
    ``gemm`` is known (the very call of ``np.matmul``), else numba's ``np.dot`` (SciPy's
    BLAS, slower on small matrices)."""
    if gemm != 0:
        M = A.shape[1] if ta else A.shape[0]
        K = A.shape[0] if ta else A.shape[1]
        N = B.shape[0] if tb else B.shape[1]
        _gemm_at(gemm, 112 if ta else 111, 112 if tb else 111, M, N, K, A, A.shape[1], B,
                 B.shape[1], C, C.shape[1])
    elif ta:
        np.dot(A.T, B, C)
    elif tb:
        np.dot(A, B.T, C)
    else:
        np.dot(A, B, C)


@_jit
def _bias_act(Z, b, act, slope):
    """``Z += b`` and the hidden activation, in place (one loop per activation, in the
    working dtype: ``slope`` has it)."""
    m, n = Z.shape
    zero = slope * 0
    one = zero + 1
    for i in range(m):
        if act == 1:
            for j in range(n):
                z = Z[i, j] + b[j]
                Z[i, j] = zero if z < zero else z
        elif act == 2:
            for j in range(n):
                Z[i, j] = math.tanh(Z[i, j] + b[j])
        elif act == 3:
            for j in range(n):
                Z[i, j] = one / (one + math.exp(-(Z[i, j] + b[j])))
        elif act == 4:
            for j in range(n):
                z = Z[i, j] + b[j]
                Z[i, j] = z if z > zero else z * slope
        else:
            for j in range(n):
                Z[i, j] = Z[i, j] + b[j]


@_jit
def _act_backward(A, D, act, slope):
    """``D *= f'(z)`` from the activation's output ``A``, in place."""
    m, n = A.shape
    zero = slope * 0
    one = zero + 1
    for i in range(m):
        if act == 1:
            for j in range(n):
                D[i, j] = D[i, j] * (one if A[i, j] > zero else zero)
        elif act == 2:
            for j in range(n):
                D[i, j] = D[i, j] * (one - A[i, j] * A[i, j])
        elif act == 3:
            for j in range(n):
                D[i, j] = D[i, j] * (A[i, j] * (one - A[i, j]))
        elif act == 4:
            for j in range(n):
                D[i, j] = D[i, j] * (one if A[i, j] > zero else slope)


@_jit
def _as(cast, x):
    """``x`` in the working dtype (the dtype of the 1-element array ``cast``)."""
    cast[0] = x
    return cast[0]


@_jit
def _output(Z, b, loss, T1, T2, positions, start, inv_m, tiny, eps, cast):
    """Bias, output activation, the batch's summed loss (float64) and, in place of ``Z``,
    the delta of the batch-mean loss :math:`(P - T)/m` (:mod:`hpsearch.neural.losses`); the
    batch's targets are the rows ``positions[start:start + m]`` of ``T1`` or ``T2``.

    The squared error's sum of squares is accumulated in float64 and then rounded to the
    working dtype (``cast``), as the NumPy path's ``np.dot(r, r)`` returns it: in float32 a
    sum beyond its range is ``inf`` there, and must be here too (the fit then stops as
    diverged at the same epoch, instead of training on with a finite float64 loss)."""
    m, n = Z.shape
    total = 0.0
    squares = 0.0
    for i in range(m):
        for j in range(n):
            Z[i, j] = Z[i, j] + b[j]
        if loss == 0:  # softmax + cross-entropy
            at = 0
            for j in range(1, n):
                if Z[i, j] > Z[i, at]:
                    at = j
            mx = Z[i, at]
            s = 0.0
            for j in range(n):
                e = math.exp(Z[i, j] - mx)
                Z[i, j] = e
                s += e
            for j in range(n):
                Z[i, j] = Z[i, j] / s
            t = T1[positions[start + i]]
            p = Z[i, t]
            total -= math.log(max(float(p), tiny))
            Z[i, t] = p - 1
            for j in range(n):
                Z[i, j] = Z[i, j] * inv_m
        elif loss == 1:  # sigmoid + binary cross-entropy
            for j in range(n):
                p = 1.0 / (1.0 + math.exp(-Z[i, j]))
                Z[i, j] = p
                t = T2[positions[start + i], j]
                pc = min(max(float(Z[i, j]), eps), 1.0 - eps)
                total -= t * math.log(pc) + (1.0 - t) * math.log1p(-pc)
                Z[i, j] = (Z[i, j] - t) * inv_m
        else:  # identity + half squared error
            for j in range(n):
                r = Z[i, j] - T2[positions[start + i], j]
                squares += float(r) * float(r)
                Z[i, j] = r * inv_m
    if loss == 2:
        total = 0.5 * float(_as(cast, squares))
    return total


@_jit
def _step(theta, grad, s1, s2, n_pen, l2c, l1c, solver, hyper, t, cast):
    """One solver step with its penalty gradient (the fused kernels of
    :mod:`hpsearch.neural._numba_kernels`), constants as the NumPy optimizers compute them."""
    has_l2, has_l1 = l2c != 0, l1c != 0
    lr = _as(cast, hyper[0])
    if solver == 0:
        sgd(theta, grad, n_pen, l2c, l1c, has_l2, has_l1, lr)
    elif solver == 1 or solver == 2:
        momentum(theta, grad, s1, n_pen, l2c, l1c, has_l2, has_l1, _as(cast, hyper[1]), lr,
                 solver == 2)
    elif solver == 3 or solver == 4:
        eps = _as(cast, hyper[4])
        if eps == 0:
            eps = _as(cast, hyper[6])
        rms = solver == 4
        scaled(theta, grad, s1, n_pen, l2c, l1c, has_l2, has_l1, _as(cast, hyper[5]),
               _as(cast, 1.0 - hyper[5]), rms and t == 1, eps, lr, rms)
    else:
        b1, b2 = hyper[2], hyper[3]
        c2 = math.sqrt((1.0 - b2 ** t) / (1.0 - b2))
        eps = _as(cast, hyper[4] * c2)
        if eps == 0:
            eps = _as(cast, hyper[6])
        step = _as(cast, hyper[0] * (1.0 - b1) * c2 / (1.0 - b1 ** t))
        adam(theta, grad, s1, s2, n_pen, l2c, l1c, has_l2, has_l1, _as(cast, b1),
             _as(cast, b2), eps, step)


@_jit
def epoch(X, T1, T2, rows, positions, batch_size, theta, grad, meta, act, slope, loss,
          data_scale, n_pen, l2, l1, solver, s1, s2, hyper, t0, xbuf, abuf, dbuf, cast,
          tiny, eps, gemm):
    """One epoch; returns ``(loss sum, per-layer sums of weight-gradient norms, steps)``
    as :meth:`Network.run_epoch` (no sample weights)."""
    n = positions.shape[0]
    n_dense = meta.shape[0]
    n_feat = X.shape[1]
    # numba checks no index: refuse, before any step, what would read or write outside an
    # array (only a direct caller of Network.run_epoch can pass it; the estimators do not)
    n_out = meta[n_dense - 1, 1]
    n_t = T1.shape[0] if loss == 0 else T2.shape[0]
    if n_feat != meta[0, 0] or rows.shape[0] != n or (loss != 0 and T2.shape[1] != n_out):
        raise ValueError("compiled epoch: the shapes of X, rows or T do not match the "
                         "network (n_features columns, one row per position, n_outputs "
                         "target columns)")
    for i in range(n):
        if rows[i] < 0 or rows[i] >= X.shape[0] or positions[i] < 0 or positions[i] >= n_t:
            raise IndexError("compiled epoch: a row or position indexes outside X or T")
        if loss == 0 and (T1[positions[i]] < 0 or T1[positions[i]] >= n_out):
            raise IndexError("compiled epoch: a class code is outside [0, n_outputs)")
    norms = np.zeros(n_dense)
    loss_sum = 0.0
    steps = 0
    half = dbuf.shape[0] // 2
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        m = stop - start
        xb = xbuf[: m * n_feat].reshape(m, n_feat)
        for i in range(m):
            r = rows[start + i]
            for j in range(n_feat):
                xb[i, j] = X[r, j]
        # ------------------------------------------------------------- forward
        A = xb
        for k in range(n_dense):
            n_in, n_out, wo, bo = meta[k, 0], meta[k, 1], meta[k, 2], meta[k, 3]
            ao = meta[k, 4] * batch_size
            W = theta[wo: wo + n_in * n_out].reshape(n_in, n_out)
            Z = abuf[ao: ao + m * n_out].reshape(m, n_out)
            _matmul(gemm, A, W, Z, False, False)
            if k < n_dense - 1:
                _bias_act(Z, theta[bo: bo + n_out], act, slope)
            A = Z
        # -------------------------------------------------------------- loss
        n_out = meta[n_dense - 1, 1]
        bo = meta[n_dense - 1, 3]
        inv_m = _as(cast, 1.0 / m)
        batch = _output(A, theta[bo: bo + n_out], loss, T1, T2, positions, start, inv_m,
                        tiny, eps, cast)
        batch = data_scale * batch
        if n_pen > 0 and l2 != 0:  # (BLAS dot products, as the NumPy path's penalties)
            w = theta[:n_pen]
            batch += 0.5 * l2 * float(np.dot(w, w))
        if n_pen > 0 and l1 != 0:
            ab = 0.0
            for i in range(n_pen):
                ab += abs(float(theta[i]))
            batch += l1 * ab
        loss_sum += batch
        # ------------------------------------------------------------ backward
        D = A
        flip = 0
        for k in range(n_dense - 1, -1, -1):
            n_in, n_out, wo, bo = meta[k, 0], meta[k, 1], meta[k, 2], meta[k, 3]
            if k == 0:
                A_in = xb
            else:
                pk = meta[k - 1, 4] * batch_size
                A_in = abuf[pk: pk + m * n_in].reshape(m, n_in)
            gW = grad[wo: wo + n_in * n_out].reshape(n_in, n_out)
            _matmul(gemm, A_in, D, gW, True, False)
            for j in range(n_out):
                grad[bo + j] = 0
            for i in range(m):
                for j in range(n_out):
                    grad[bo + j] += D[i, j]
            gw = grad[wo: wo + n_in * n_out]
            norms[k] += math.sqrt(float(np.dot(gw, gw)))
            if k > 0:
                W = theta[wo: wo + n_in * n_out].reshape(n_in, n_out)
                dA = dbuf[flip * half: flip * half + m * n_in].reshape(m, n_in)
                _matmul(gemm, D, W, dA, False, True)
                _act_backward(A_in, dA, act, slope)
                D = dA
                flip = 1 - flip
        # --------------------------------------------------------------- step
        steps += 1
        _step(theta, grad, s1, s2, n_pen, _as(cast, l2 * (1.0 / m)), _as(cast, l1 * (1.0 / m)),
              solver, hyper, t0 + steps, cast)
    return loss_sum, norms, steps
