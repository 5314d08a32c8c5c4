r"""Output layers and their losses, with fused output deltas (LECTURE.md §1).

Each entry of :data:`LOSSES` pairs an output activation with its matching loss, so that the
gradient with respect to the output pre-activation ``Z`` takes one cheap form, written in place
over the output buffer (no Jacobian, no separate activation derivative):

.. math::
    \frac{\partial L}{\partial Z} = \frac{1}{m} (P - T)

for softmax + cross-entropy, sigmoid + binary cross-entropy and identity + half squared error,
where ``L`` is the **mean** loss over the ``m`` rows of the batch (LECTURE.md §1: the batch
gradient is the mean of the per-sample gradients).

Interface of an output loss:

- ``activate(Z)``: output activation, in place; returns ``P``;
- ``loss_and_delta(P, T)``: returns the **sum** of the per-sample losses of the batch and
  overwrites ``P`` with :math:`\partial L / \partial Z` of the batch-mean loss;
- ``target_dtype(dtype)``: dtype of the encoded targets ``T`` (class codes for softmax).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["LOSSES", "SoftmaxCrossEntropy", "SigmoidBinaryCrossEntropy", "SquaredError"]

_ROWS = np.arange(256)


def _rows(m):
    """``np.arange(m)`` from a cached array (one fewer allocation per mini-batch)."""
    global _ROWS
    if m > _ROWS.shape[0]:
        _ROWS = np.arange(max(m, 2 * _ROWS.shape[0]))
    return _ROWS[:m]


_TINY = {np.dtype(t).char: np.finfo(t).tiny for t in (np.float32, np.float64)}


class SoftmaxCrossEntropy:
    r"""Softmax output + cross-entropy, targets are integer class codes.

    .. math::
        p_{ik} = \frac{e^{z_{ik}}}{\sum_c e^{z_{ic}}}, \quad
        \ell_i = -\log p_{i,y_i}, \quad
        \frac{\partial \bar\ell}{\partial z_{ik}} = \frac{p_{ik} - [k = y_i]}{m}
    """

    out_activation = "softmax"

    @staticmethod
    def target_dtype(dtype):
        return np.intp

    @staticmethod
    def activate(Z):
        # the ufunc reductions directly: Z.max/Z.sum add a Python wrapper per call
        Z -= np.maximum.reduce(Z, axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= np.add.reduce(Z, axis=1, keepdims=True)
        return Z

    @staticmethod
    def loss_and_delta(P, T):
        m = P.shape[0]
        rows = _rows(m)
        p_true = P[rows, T]  # a copy
        P[rows, T] = p_true - 1
        # clipping at the smallest normal number keeps log finite; p - 1 is unaffected
        # (p < tiny gives p - 1 == tiny - 1 == -1 exactly)
        np.maximum(p_true, _TINY[P.dtype.char], out=p_true)
        loss = -float(np.log(p_true, dtype=np.float64).sum())
        P *= P.dtype.type(1.0 / m)
        return loss


class SigmoidBinaryCrossEntropy:
    r"""Sigmoid outputs + binary cross-entropy (two classes, or one column per label).

    .. math::
        p = \sigma(z), \quad
        \ell_i = -\sum_k \left[t_{ik} \log p_{ik} + (1 - t_{ik}) \log(1 - p_{ik})\right], \quad
        \frac{\partial \bar\ell}{\partial z} = \frac{p - t}{m}
    """

    out_activation = "logistic"

    @staticmethod
    def target_dtype(dtype):
        return dtype

    @staticmethod
    def activate(Z):
        return expit(Z, out=Z)

    @staticmethod
    def loss_and_delta(P, T):
        m = P.shape[0]
        eps = np.finfo(P.dtype).eps
        Pc = np.clip(P, eps, 1 - eps).astype(np.float64, copy=False)
        loss = -float(np.sum(T * np.log(Pc) + (1 - T) * np.log1p(-Pc)))
        P -= T
        P *= P.dtype.type(1.0 / m)
        return loss


class SquaredError:
    r"""Identity output + half squared error (regression, multi-output too).

    .. math::
        \ell_i = \tfrac12 \lVert \hat y_i - y_i \rVert^2, \quad
        \frac{\partial \bar\ell}{\partial z} = \frac{\hat y - y}{m}

    (sklearn reports the squared error averaged over outputs too; here ``loss_`` sums over
    outputs, which is the function whose gradient is actually followed.)
    """

    out_activation = "identity"

    @staticmethod
    def target_dtype(dtype):
        return dtype

    @staticmethod
    def activate(Z):
        return Z

    @staticmethod
    def loss_and_delta(P, T):
        m = P.shape[0]
        P -= T
        r = P.ravel()
        loss = 0.5 * float(np.dot(r, r))
        P *= P.dtype.type(1.0 / m)
        return loss


LOSSES = {
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "binary_cross_entropy": SigmoidBinaryCrossEntropy,
    "squared_error": SquaredError,
}
