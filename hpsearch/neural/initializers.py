"""Weight initializers (LECTURE.md §1: the initialization method is a hyperparameter).

Each takes ``(rng, fan_in, fan_out, shape, dtype)`` and returns an array. Biases start at 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["INITIALIZERS", "glorot", "he", "normal", "resolve_init"]


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

_HE_FAMILY = {"relu", "leaky_relu", "prelu", "maxout"}


def resolve_init(init, activation, is_output):
    """Name of the initializer for one layer; ``"auto"`` is He before a ReLU-family or Maxout
    activation and Glorot otherwise (including the output layer)."""
    if init != "auto":
        return init
    return "he" if (activation in _HE_FAMILY and not is_output) else "glorot"
