"""numba-compiled kernels; imported only by :mod:`hpsearch.neural.kernels` (numba optional).

Each loop repeats the NumPy code's floating-point operations in the same order and dtype (no
fast-math, no contraction into fused multiply-adds), so its results are bit-identical to it.
"""

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)


@_jit
def _adam_segment(theta, g, m, v, lo, hi, l2, l1, has_l2, has_l1, b1, b2, eps, step):
    for i in range(lo, hi):
        gi = g[i]
        if has_l2:
            gi = gi + theta[i] * l2  # L2.add_gradient: g += w * l2
        if has_l1:
            gi = gi + np.sign(theta[i]) * l1  # L1.add_gradient: g += sign(w) * l1
        mi = m[i] * b1 + gi
        vi = v[i] * b2 + gi * gi
        m[i] = mi
        v[i] = vi
        theta[i] = theta[i] - (mi / (math.sqrt(vi) + eps)) * step


@_jit
def adam(theta, g, m, v, n_penalized, l2, l1, has_l2, has_l1, b1, b2, eps, step):
    """Penalty gradient + Adam's scaled-moment step, one pass (see ``optimizers.Adam``)."""
    _adam_segment(theta, g, m, v, 0, n_penalized, l2, l1, has_l2, has_l1, b1, b2, eps, step)
    _adam_segment(theta, g, m, v, n_penalized, theta.shape[0], l2, l1, False, False,
                  b1, b2, eps, step)
