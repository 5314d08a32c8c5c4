"""Stateless hidden-layer activations: a table of in-place forward and backward functions.

Each entry of :data:`ACTIVATIONS` maps the string a user passes (``activation="relu"``) to an
:class:`Activation` pair of functions, both working **in place** on preallocated buffers
(LECTURE.md §2):

- ``forward(Z, **kw)`` overwrites the pre-activation ``Z`` with ``A = f(Z)``;
- ``backward(A, D, **kw)`` multiplies the incoming gradient ``D = dL/dA`` in place by
  ``f'(Z)``, written as a function of the *output* ``A`` (so ``Z`` need not be kept).
  The derivative at exactly 0 is taken as 0 (ReLU) or ``slope`` (Leaky ReLU): the
  negative side's (PReLU, a layer, takes the positive side's 1 there).

Both receive ``buf=``, a preallocated scratch array of ``Z``'s shape and dtype, so no call
allocates a temporary. (Masked ufuncs, ``np.multiply(..., where=mask)``, are avoided: in
NumPy they run about 20x slower than two plain passes.)

Activations that learn parameters (PReLU, Maxout) are layers, see :mod:`hpsearch.neural.layers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

__all__ = ["ACTIVATIONS", "Activation"]


@dataclass(frozen=True)
class Activation:
    """A stateless activation: in-place ``forward(Z)`` and ``backward(A, D)``."""

    forward: Callable
    backward: Callable


def _identity_forward(Z, **kw):
    r""":math:`f(z) = z`."""
    return Z


def _identity_backward(A, D, **kw):
    r""":math:`f'(z) = 1`."""
    return D


def _sigmoid_forward(Z, **kw):
    r""":math:`f(z) = 1 / (1 + e^{-z})` (LECTURE.md §2)."""
    return expit(Z, out=Z)


def _sigmoid_backward(A, D, *, buf, **kw):
    r""":math:`f'(z) = a (1 - a)`; at most 1/4, the source of vanishing gradients."""
    np.subtract(1, A, out=buf)
    D *= A
    D *= buf
    return D


def _tanh_forward(Z, **kw):
    r""":math:`f(z) = \tanh z`."""
    return np.tanh(Z, out=Z)


def _tanh_backward(A, D, *, buf, **kw):
    r""":math:`f'(z) = 1 - a^2`."""
    np.multiply(A, A, out=buf)
    np.subtract(1, buf, out=buf)
    D *= buf
    return D


def _relu_forward(Z, **kw):
    r""":math:`f(z) = \max(0, z)` (LECTURE.md §2)."""
    return np.maximum(Z, 0, out=Z)


def _relu_backward(A, D, **kw):
    r""":math:`f'(z) = 1` for :math:`z > 0`, else 0 (so also 0 at exactly 0)."""
    # multiplying by a boolean array is one fused pass (no float temporary)
    np.multiply(D, A > 0, out=D)
    return D


def _leaky_relu_forward(Z, *, buf, leaky_slope=0.01, **kw):
    r""":math:`f(z) = z` for :math:`z > 0`, else :math:`s z` with ``s = leaky_slope``.

    Computed as :math:`\max(z, s z)`, which is the same for :math:`0 \le s < 1`.
    """
    np.multiply(Z, leaky_slope, out=buf)
    return np.maximum(Z, buf, out=Z)


def _leaky_relu_backward(A, D, *, buf, leaky_slope=0.01, **kw):
    r""":math:`f'(z) = 1` for :math:`z > 0`, else :math:`s`; ``sign(a) = sign(z)`` as s > 0.

    The factor is :math:`\max([a > 0], s)`: exactly 1 or ``s`` for :math:`0 \le s < 1`.
    """
    np.greater(A, 0, out=buf)
    np.maximum(buf, leaky_slope, out=buf)
    D *= buf
    return D


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(_identity_forward, _identity_backward),
    "sigmoid": Activation(_sigmoid_forward, _sigmoid_backward),
    "logistic": Activation(_sigmoid_forward, _sigmoid_backward),  # sklearn's name
    "tanh": Activation(_tanh_forward, _tanh_backward),
    "relu": Activation(_relu_forward, _relu_backward),
    "leaky_relu": Activation(_leaky_relu_forward, _leaky_relu_backward),
}
