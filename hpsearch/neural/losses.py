r"""Output layers and their losses, with fused output deltas (LECTURE.md §1).

Each entry of :data:`LOSSES` pairs an output activation with its matching loss, so that the
gradient with respect to the output pre-activation ``Z`` takes one cheap form, written in place
over the output buffer (no Jacobian, no separate activation derivative):

.. math::
    \frac{\partial L}{\partial Z} = \frac{1}{m} (P - T)

for softmax + cross-entropy, sigmoid + binary cross-entropy, identity + half squared error and
exponential + half Poisson deviance (each output activation is its loss's canonical inverse
link), where ``L`` is the **mean** loss over the ``m`` rows of the batch (LECTURE.md §1: the
batch gradient is the mean of the per-sample gradients).

With sample weights :math:`s_i` (scikit-learn's ``sample_weight``) ``L`` is the weighted mean
:math:`L = \sum_i s_i \ell_i / \sum_i s_i` and the fused delta becomes

.. math::
    \frac{\partial L}{\partial Z_i} = \frac{s_i}{\sum_j s_j} (P_i - T_i),

so integer weights equal repeated rows and zero weights equal dropped rows (within a batch).

Interface of an output loss:

- ``activate(Z)``: output activation, in place; returns ``P``;
- ``loss_and_delta(P, T, sw=None)``: returns the **sum** of the per-sample losses of the batch
  (weighted by ``sw`` when given: :math:`\sum_i s_i \ell_i`) and overwrites ``P`` with
  :math:`\partial L / \partial Z` of the batch-mean (or weighted-mean) loss; a given ``sw``
  must have a positive sum;
- ``target_dtype(dtype)``: dtype of the encoded targets ``T`` (class codes for softmax).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

__all__ = ["LOSSES", "SoftmaxCrossEntropy", "SigmoidBinaryCrossEntropy", "SquaredError",
           "PoissonDeviance", "report_scale"]

_ROWS = np.arange(256)


def _rows(m):
    """``np.arange(m)`` from a cached array (one fewer allocation per mini-batch)."""
    global _ROWS
    if m > _ROWS.shape[0]:
        _ROWS = np.arange(max(m, 2 * _ROWS.shape[0]))
    return _ROWS[:m]


_FLAT_ROWS = {}


def _flat_rows(m, k):
    """``np.arange(m) * k`` (the flat offset of each row of an ``(m, k)`` C array), cached
    per ``k`` as :func:`_rows`."""
    cached = _FLAT_ROWS.get(k)
    if cached is None or m > cached.shape[0]:
        cached = _FLAT_ROWS[k] = np.arange(max(m, 256)) * k
    return cached[:m]


_TINY = {np.dtype(t).char: np.finfo(t).tiny for t in (np.float32, np.float64)}


def _mean_delta(P, sw):
    r"""``P *= 1/m`` (batch mean), or row ``i`` times :math:`s_i / \sum_j s_j` (weighted mean)."""
    if sw is None:
        P *= P.dtype.type(1.0 / P.shape[0])
    else:
        P *= (sw * P.dtype.type(1.0 / float(np.sum(sw, dtype=np.float64))))[:, None]
    return P


def _total(per_sample, sw):
    """Sum of the (float64) per-sample losses, weighted by ``sw`` when given."""
    if sw is None:
        return float(per_sample.sum())
    return float(np.dot(sw.astype(np.float64, copy=False), per_sample))


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
        if Z.flags.c_contiguous:
            # each row's maximum picked by argmax (NaN counts as the largest, as in
            # np.maximum): 3-4x faster than np.maximum.reduce along rows of a few columns
            # (4 us of a 32-row batch's 40). The same number: a maximum is exact, and only
            # the sign of a zero maximum could differ, which leaves z - max unchanged
            # except for a zero z, whose exp is 1 either way.
            at = Z.argmax(axis=1)
            at += _flat_rows(Z.shape[0], Z.shape[1])
            Z -= Z.reshape(-1)[at][:, None]
        else:
            Z -= np.maximum.reduce(Z, axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= np.add.reduce(Z, axis=1, keepdims=True)
        return Z

    @staticmethod
    def loss_and_delta(P, T, sw=None):
        m = P.shape[0]
        if P.flags.c_contiguous:  # (a mini-batch's buffer) one flat index: 1 us less per
            idx = _flat_rows(m, P.shape[1]) + T  # batch than P[rows, T], same values
            flat = P.reshape(-1)
            p_true = flat[idx]  # a copy
            flat[idx] -= 1
        else:
            rows = _rows(m)
            p_true = P[rows, T]  # a copy
            P[rows, T] = p_true - 1
        # clipping at the smallest normal number keeps log finite; p - 1 is unaffected
        # (p < tiny gives p - 1 == tiny - 1 == -1 exactly)
        np.maximum(p_true, _TINY[P.dtype.char], out=p_true)
        if sw is None:  # the hot path, inlined
            loss = -float(np.log(p_true, dtype=np.float64).sum())
            P *= P.dtype.type(1.0 / m)
            return loss
        loss = -_total(np.log(p_true, dtype=np.float64), sw)
        _mean_delta(P, sw)
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
    def loss_and_delta(P, T, sw=None):
        eps = np.finfo(P.dtype).eps
        Pc = np.clip(P, eps, 1 - eps).astype(np.float64, copy=False)
        E = T * np.log(Pc) + (1 - T) * np.log1p(-Pc)
        loss = -_total(E if sw is None else E.sum(axis=1), sw)
        P -= T
        _mean_delta(P, sw)
        return loss


class SquaredError:
    r"""Identity output + half squared error (regression, multi-output too).

    .. math::
        \ell_i = \tfrac12 \lVert \hat y_i - y_i \rVert^2, \quad
        \frac{\partial \bar\ell}{\partial z} = \frac{\hat y - y}{m}

    The gradient followed is that of the sum over outputs (as scikit-learn's). The loss
    *reported* (``loss_``, ``loss_curve_``, and so the ``tol`` stopping rule and the
    ``"adaptive"`` schedule) is scikit-learn's ``squared_loss``, averaged over the
    :math:`k` outputs: :func:`report_scale` is :math:`1/k`, so a multi-output regressor
    stops at scikit-learn's epoch.
    """

    out_activation = "identity"

    @staticmethod
    def report_scale(n_outputs):
        r"""Factor of the data loss in the reported loss: scikit-learn's ``squared_loss``
        is the mean over outputs, :math:`\tfrac{1}{2k}\sum_k (\hat y_k - y_k)^2`."""
        return 1.0 / n_outputs

    @staticmethod
    def target_dtype(dtype):
        return dtype

    @staticmethod
    def activate(Z):
        return Z

    @staticmethod
    def loss_and_delta(P, T, sw=None):
        P -= T
        if sw is None:  # the hot path, inlined
            r = P.ravel()
            loss = 0.5 * float(np.dot(r, r))
            P *= P.dtype.type(1.0 / P.shape[0])
            return loss
        loss = 0.5 * _total(np.einsum("ij,ij->i", P, P, dtype=np.float64), sw)
        _mean_delta(P, sw)
        return loss


class PoissonDeviance:
    r"""Exponential output (log link) + half Poisson deviance, scikit-learn's ``loss="poisson"``.

    .. math::
        \hat y = e^{z}, \quad
        \ell_i = \sum_k \left[y_{ik} \log\frac{y_{ik}}{\hat y_{ik}} - y_{ik}
        + \hat y_{ik}\right], \quad
        \frac{\partial \bar\ell}{\partial z} = \frac{\hat y - y}{m}

    with :math:`0 \log 0 = 0`; targets must be non-negative. The term
    :math:`y \log y - y` does not depend on the network: it makes a perfect fit cost 0 (it
    is what scikit-learn's ``loss_`` reports too).
    """

    out_activation = "exp"

    @staticmethod
    def target_dtype(dtype):
        return dtype

    @staticmethod
    def activate(Z):
        return np.exp(Z, out=Z)

    @staticmethod
    def loss_and_delta(P, T, sw=None):
        P64 = P.astype(np.float64, copy=False)
        E = xlogy(T, T) - xlogy(T, P64) - T + P64
        loss = _total(E if sw is None else E.sum(axis=1), sw)
        P -= T
        _mean_delta(P, sw)
        return loss


def report_scale(loss, n_outputs):
    """Factor between the summed per-sample loss a loss class returns and the data term of
    scikit-learn's reported ``loss_`` (``1/n_outputs`` for the squared error, else 1:
    scikit-learn's log losses and Poisson deviance sum over outputs)."""
    scale = getattr(loss, "report_scale", None)
    return 1.0 if scale is None else float(scale(n_outputs))


LOSSES = {
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "binary_cross_entropy": SigmoidBinaryCrossEntropy,
    "squared_error": SquaredError,
    "poisson": PoissonDeviance,
}
