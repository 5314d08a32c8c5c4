"""Weight initializers (LECTURE.md §1: the initialization method is a hyperparameter).

Each takes ``(rng, fan_in, fan_out, shape, dtype)`` and returns an array. Biases start at 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["INITIALIZERS", "glorot", "he", "normal", "resolve_init", "sklearn_uniform"]


def glorot(rng, fan_in, fan_out, shape, dtype):
    r"""Glorot/Xavier uniform: :math:`U(-r, r)`, :math:`r = \sqrt{6 / (n_{in} + n_{out})}`."""
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, size=shape).astype(dtype, copy=False)


def he(rng, fan_in, fan_out, shape, dtype):
    r"""He normal: :math:`N(0, \sigma^2)`, :math:`\sigma = \sqrt{2 / n_{in}}` (ReLU family)."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(dtype, copy=False)


def normal(rng, fan_in, fan_out, shape, dtype):
    r"""Plain small normal: :math:`N(0, 0.01^2)`."""
    return rng.normal(0.0, 0.01, size=shape).astype(dtype, copy=False)


INITIALIZERS = {"glorot": glorot, "he": he, "normal": normal}

def sklearn_uniform(coefs, intercepts, random_state, activation):
    r"""scikit-learn's MLP initialization, in place: for each layer in order, weights then
    biases from :math:`U(-r, r)`, :math:`r = \sqrt{f / (n_{in} + n_{out})}` with
    :math:`f = 2` before a logistic activation and :math:`f = 6` otherwise (Glorot uniform),
    drawn from the legacy ``numpy.random.RandomState`` ``random_state`` exactly as scikit-learn
    draws them — so an integer ``random_state`` starts from scikit-learn's very weights.
    ``n_out`` is the width of the weight matrix (all pieces of a Maxout layer)."""
    factor = 2.0 if activation in ("logistic", "sigmoid") else 6.0
    for W, b in zip(coefs, intercepts):
        bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
        W[...] = random_state.uniform(-bound, bound, W.shape)
        b[...] = random_state.uniform(-bound, bound, b.shape[0])


def resolve_init(init, activation, is_output):
    """Name of the initializer for one layer; ``"auto"`` is Glorot uniform for every layer
    and activation, as scikit-learn's MLP (chosen by measurement, issue 10: at scikit-learn's
    default budgets He normal before ReLU learned more slowly — ``check_regressors_train``
    with ``max_iter=50`` gave a training R² of 0.51 against 0.76 with Glorot, iris lost 3
    points; ``benchmarks/bench_sklearn_parity.py``). ``"he"`` stays available. The MLP
    estimators then overwrite ``"auto"`` weights and biases with :func:`sklearn_uniform`."""
    if init != "auto":
        return init
    return "glorot"
