"""numba-compiled solver kernels; imported only by :mod:`hpsearch.neural.kernels`.

Each kernel adds the weight penalties' gradient and applies one solver step in a single pass
over the flat parameter vector. Every loop repeats the NumPy code of
:mod:`hpsearch.neural.optimizers` operation by operation, in the same order and dtype (the
constants arrive already converted to it; no fast-math, so no reassociation and no fused
multiply-adds), which makes its results bit-identical to the NumPy path. Each kernel runs two
segments: the penalized weights ``[0, n_penalized)`` and the rest, so that the loops carry no
per-element branch and vectorize. The gradient ``g`` is only read.
"""

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)


@_jit
def _penalized(gi, wi, l2, l1, has_l2, has_l1):
    """``L2.add_gradient`` then ``L1.add_gradient`` for one element."""
    if has_l2:
        gi = gi + wi * l2
    if has_l1:
        gi = gi + np.sign(wi) * l1
    return gi


# ----------------------------------------------------------------------------- SGD
@_jit
def _sgd_segment(theta, g, lo, hi, l2, l1, has_l2, has_l1, lr):
    for i in range(lo, hi):
        gi = _penalized(g[i], theta[i], l2, l1, has_l2, has_l1)
        theta[i] = theta[i] - gi * lr


@_jit
def sgd(theta, g, n_pen, l2, l1, has_l2, has_l1, lr):
    _sgd_segment(theta, g, 0, n_pen, l2, l1, has_l2, has_l1, lr)
    _sgd_segment(theta, g, n_pen, theta.shape[0], l2, l1, False, False, lr)


# ------------------------------------------------------------------------ momentum
@_jit
def _momentum_segment(theta, g, vel, lo, hi, l2, l1, has_l2, has_l1, mom, lr, nesterov):
    for i in range(lo, hi):
        gi = _penalized(g[i], theta[i], l2, l1, has_l2, has_l1) * lr
        vi = vel[i] * mom - gi
        vel[i] = vi
        if nesterov:
            theta[i] = theta[i] + (vi * mom - gi)
        else:
            theta[i] = theta[i] + vi


@_jit
def momentum(theta, g, vel, n_pen, l2, l1, has_l2, has_l1, mom, lr, nesterov):
    _momentum_segment(theta, g, vel, 0, n_pen, l2, l1, has_l2, has_l1, mom, lr, nesterov)
    _momentum_segment(theta, g, vel, n_pen, theta.shape[0], l2, l1, False, False, mom, lr,
                      nesterov)


# ------------------------------------------------------------------ adagrad/rmsprop
@_jit
def _scaled_segment(theta, g, acc, lo, hi, l2, l1, has_l2, has_l1, decay, keep, first, eps,
                    lr, rmsprop):
    for i in range(lo, hi):
        gi = _penalized(g[i], theta[i], l2, l1, has_l2, has_l1)
        sq = gi * gi
        if not rmsprop:
            ai = acc[i] + sq  # Adagrad: G += g^2
        elif first:
            ai = sq  # RMSProp, t = 1: sigma_0^2 = g_0^2
        else:
            ai = acc[i] * decay + sq * keep  # rho * S + (1 - rho) * g^2
        acc[i] = ai
        theta[i] = theta[i] - (gi / (math.sqrt(ai) + eps)) * lr


@_jit
def scaled(theta, g, acc, n_pen, l2, l1, has_l2, has_l1, decay, keep, first, eps, lr, rmsprop):
    _scaled_segment(theta, g, acc, 0, n_pen, l2, l1, has_l2, has_l1, decay, keep, first, eps,
                    lr, rmsprop)
    _scaled_segment(theta, g, acc, n_pen, theta.shape[0], l2, l1, False, False, decay, keep,
                    first, eps, lr, rmsprop)


# ----------------------------------------------------------------------------- Adam
@_jit
def _adam_segment(theta, g, m, v, lo, hi, l2, l1, has_l2, has_l1, b1, b2, eps, step):
    for i in range(lo, hi):
        gi = _penalized(g[i], theta[i], l2, l1, has_l2, has_l1)
        mi = m[i] * b1 + gi
        vi = v[i] * b2 + gi * gi
        m[i] = mi
        v[i] = vi
        theta[i] = theta[i] - (mi / (math.sqrt(vi) + eps)) * step


@_jit
def adam(theta, g, m, v, n_pen, l2, l1, has_l2, has_l1, b1, b2, eps, step):
    _adam_segment(theta, g, m, v, 0, n_pen, l2, l1, has_l2, has_l1, b1, b2, eps, step)
    _adam_segment(theta, g, m, v, n_pen, theta.shape[0], l2, l1, False, False, b1, b2, eps,
                  step)
