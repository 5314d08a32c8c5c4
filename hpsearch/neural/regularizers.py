"""Weight penalties (LECTURE.md §3). They act on connection weights only, never on biases.

The network keeps every penalized weight in one contiguous block of its flat parameter vector,
so each penalty is one vectorized call on that block.
"""

from __future__ import annotations

import numpy as np

__all__ = ["L2", "L1", "REGULARIZERS", "make_penalty"]


class L2:
    r"""L2 penalty :math:`\frac{\lambda}{2}\lVert w\rVert^2`, gradient :math:`\lambda w`.

    With plain SGD this is the lecture's weight decay
    :math:`w \leftarrow (1 - \eta\lambda) w - \eta\,\partial L/\partial w`.
    The penalty belongs to the *summed* loss of a mini-batch, as in scikit-learn: the network
    adds ``scale=1/m`` times this gradient to the gradient of the batch-mean loss.
    """

    kind = "l2"

    def __init__(self, strength):
        self.strength = float(strength)

    def penalty(self, w):
        return 0.5 * self.strength * float(np.dot(w, w))

    def add_gradient(self, w, g, scratch, scale=1.0):
        np.multiply(w, w.dtype.type(self.strength * scale), out=scratch)
        g += scratch


class L1:
    r"""L1 penalty :math:`\lambda\lVert w\rVert_1`, (sub)gradient :math:`\lambda\,\mathrm{sign}(w)`.

    Drives many weights to (near) zero, unlike L2's uniformly small weights. At
    :math:`w = 0` the subgradient taken is :math:`\mathrm{sign}(0) = 0` (the one of least
    norm), so the penalty alone never moves a weight that is exactly 0. With the same
    ``scale`` as :class:`L2` (scikit-learn's convention for ``alpha``): the penalty belongs to
    the summed loss of a mini-batch, the batch-mean gradient gets ``scale = 1/m`` of it.
    """

    kind = "l1"

    def __init__(self, strength):
        self.strength = float(strength)

    def penalty(self, w):
        return self.strength * float(np.abs(w).sum(dtype=np.float64))

    def add_gradient(self, w, g, scratch, scale=1.0):
        np.sign(w, out=scratch)
        scratch *= w.dtype.type(self.strength * scale)
        g += scratch


REGULARIZERS = {"alpha": L2, "l1": L1}


def make_penalty(**strengths):
    """Penalty objects for the non-zero strengths, e.g. ``make_penalty(alpha=1e-4, l1=0)``."""
    return [REGULARIZERS[name](s) for name, s in strengths.items() if s > 0]
