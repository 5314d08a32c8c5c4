"""Layers of the NumPy network: forward and backward side by side (LECTURE.md §1-§3).

Every layer is a small object with the same four members:

- ``param_specs``: ``[(name, shape, penalized), ...]`` — the arrays it learns (the network packs
  all of them into one flat vector; ``penalized`` marks the weights that L1/L2 act on);
- ``workspace(capacity, dtype)``: preallocated buffers for batches of up to ``capacity`` rows;
- ``forward(X, p, ws, training, rng)``: writes the output into a workspace buffer (views
  ``[:m]`` of it for a batch of ``m`` rows) and returns it;
- ``backward(D, p, g, ws, need_dx)``: given ``D = dL/d(output)``, writes the parameter gradients
  into the views ``g`` and returns ``dL/d(input)`` (or ``None`` when ``need_dx`` is false).

``p`` and ``g`` are tuples of views into the network's flat parameter and gradient vectors, in
the order of ``param_specs``. Layers hold no arrays themselves, so one layer object serves the
training workspace and any number of prediction workspaces.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import issparse

from .activations import ACTIVATIONS

__all__ = ["Dense", "ActivationLayer", "PReLU", "Maxout", "Dropout"]


class Dense:
    r"""Fully connected layer :math:`Z = A W + b` (LECTURE.md §1, row-major form).

    Backward, for the batch-mean loss whose ``1/m`` is already folded into ``D``:

    .. math::
        \frac{\partial L}{\partial W} = A^\top D, \quad
        \frac{\partial L}{\partial b} = \textstyle\sum_i D_i, \quad
        \frac{\partial L}{\partial A} = D W^\top .

    The first layer skips the last product (``need_dx=False``): nobody needs dL/dX. A sparse
    (CSR) input ``A`` is never densified: ``A W`` and ``A^\top D`` are SciPy's sparse-dense
    products (each returns a new dense array of the output's shape).
    """

    def __init__(self, n_in, n_out):
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.param_specs = [("W", (self.n_in, self.n_out), True), ("b", (self.n_out,), False)]

    def workspace(self, capacity, dtype, need_dx=True):
        return {
            "Z": np.empty((capacity, self.n_out), dtype),
            "dX": np.empty((capacity, self.n_in), dtype) if need_dx else None,
            "X": None,
            "ones": np.ones(capacity, dtype),
        }

    def forward(self, X, p, ws, training, rng):
        W, b = p
        if isinstance(X, np.ndarray):
            Z = ws["Z"][: X.shape[0]]
            np.matmul(X, W, out=Z)
        else:  # sparse
            Z = X @ W
        Z += b
        ws["X"] = X
        return Z

    def backward(self, D, p, g, ws, need_dx):
        W, _ = p
        gW, gb = g
        X = ws["X"]
        if isinstance(X, np.ndarray):
            np.matmul(X.T, D, out=gW)
        else:  # sparse
            gW[...] = X.T @ D
        np.matmul(ws["ones"][: D.shape[0]], D, out=gb)  # column sums: a GEMV, 4x np.sum's speed
        if not need_dx:
            return None
        dX = ws["dX"][: D.shape[0]]
        np.matmul(D, W.T, out=dX)
        return dX


class ActivationLayer:
    """A stateless activation from :data:`~hpsearch.neural.activations.ACTIVATIONS`, in place."""

    param_specs = []

    def __init__(self, name, n_units, **options):
        self.name = name
        self.n_in = self.n_out = int(n_units)
        self._fun = ACTIVATIONS[name]
        self._options = options

    def workspace(self, capacity, dtype):
        return {"A": None, "buf": np.empty((capacity, self.n_out), dtype)}

    def forward(self, X, p, ws, training, rng):
        ws["A"] = A = self._fun.forward(X, buf=ws["buf"][: X.shape[0]], **self._options)
        return A

    def backward(self, D, p, g, ws, need_dx):
        return self._fun.backward(ws["A"], D, buf=ws["buf"][: D.shape[0]], **self._options)


class PReLU:
    r"""Parametric ReLU with one learned slope per unit (LECTURE.md §2).

    .. math::
        a = \max(z, 0) + \alpha \min(z, 0), \quad
        \frac{\partial L}{\partial \alpha_j} = \sum_i \frac{\partial L}{\partial a_{ij}}
        \min(z_{ij}, 0), \quad
        \frac{\partial a}{\partial z} = 1 \text{ if } z \ge 0 \text{ else } \alpha .

    At exactly :math:`z = 0` the derivative taken is 1, the positive side's (either side's is
    a valid subgradient, LECTURE.md §2); Leaky ReLU takes its slope there instead
    (:mod:`hpsearch.neural.activations`), so the two differ only for units at exactly 0.

    The slopes are not penalized by ``alpha``/``l1`` (they are not connection weights).
    """

    def __init__(self, n_units, init=0.25):
        self.n_in = self.n_out = int(n_units)
        self.init = float(init)
        self.param_specs = [("alpha", (self.n_out,), False)]

    def workspace(self, capacity, dtype):
        return {"N": np.empty((capacity, self.n_out), dtype),
                "T": np.empty((capacity, self.n_out), dtype),
                "neg": np.empty((capacity, self.n_out), dtype)}

    def forward(self, X, p, ws, training, rng):
        (alpha,) = p
        m = X.shape[0]
        N, T = ws["N"][:m], ws["T"][:m]
        np.minimum(X, 0, out=N)  # min(z, 0), kept for the slope gradient
        np.multiply(N, alpha - 1, out=T)
        X += T  # z + (alpha - 1) min(z, 0)  ==  max(z, 0) + alpha min(z, 0)
        ws["m"] = m
        return X

    def backward(self, D, p, g, ws, need_dx):
        (alpha,) = p
        (galpha,) = g
        m = D.shape[0]
        N, T = ws["N"][:m], ws["T"][:m]
        np.multiply(D, N, out=T)
        np.sum(T, axis=0, out=galpha)
        # dA/dZ = alpha where z < 0, else 1, built without a masked ufunc (20x slower):
        # [z < 0] * alpha + [z >= 0] is exactly alpha or 1
        neg = ws["neg"][:m]
        np.less(N, 0, out=neg)
        np.greater_equal(N, 0, out=T)
        neg *= alpha
        neg += T
        D *= neg
        return D


class Maxout:
    r"""Maxout: ``k`` linear pieces per unit, output their maximum (LECTURE.md §2).

    The preceding :class:`Dense` layer has ``k * n_units`` outputs laid out **piece-major**:
    column ``j * n_units + u`` is piece ``j`` of unit ``u``. So in ``coefs_[l]`` (shape
    ``(n_in, k * n_units)``) the block ``[:, j*n_units:(j+1)*n_units]`` holds the weights of
    piece ``j`` of every unit, and likewise for ``intercepts_[l]``.

    .. math::
        a_{u} = \max_j z_{j,u}, \qquad
        \frac{\partial L}{\partial z_{j,u}} =
        \frac{\partial L}{\partial a_u}\,[\,j = \operatorname{argmax}_{j'} z_{j',u}\,]

    The gradient flows only through the winning piece of each unit, per sample (ties go to the
    lowest piece index).
    """

    param_specs = []

    def __init__(self, n_units, pieces=2):
        self.n_out = int(n_units)
        self.k = int(pieces)
        self.n_in = self.k * self.n_out

    def workspace(self, capacity, dtype):
        return {
            "A": np.empty((capacity, self.n_out), dtype),
            "arg": np.empty((capacity, self.n_out), np.intp),
            "dZ": np.empty((capacity, self.n_in), dtype),
            "mask": np.empty((capacity, self.n_out), bool),
        }

    def forward(self, X, p, ws, training, rng):
        m, n, k = X.shape[0], self.n_out, self.k
        A = ws["A"][:m]
        np.maximum(X[:, :n], X[:, n : 2 * n], out=A)
        for j in range(2, k):
            np.maximum(A, X[:, j * n : (j + 1) * n], out=A)
        if training:
            np.argmax(X.reshape(m, k, n), axis=1, out=ws["arg"][:m])
        return A

    def backward(self, D, p, g, ws, need_dx):
        m, n = D.shape[0], self.n_out
        arg, mask, dZ = ws["arg"][:m], ws["mask"][:m], ws["dZ"][:m]
        for j in range(self.k):
            np.equal(arg, j, out=mask)
            np.multiply(D, mask, out=dZ[:, j * n : (j + 1) * n])
        return dZ


class Dropout:
    r"""Inverted dropout with rate ``p`` (LECTURE.md §3).

    While training, a fresh mask is drawn for every mini-batch from the training generator:
    each unit is kept with probability :math:`1-p` and kept units are scaled by
    :math:`1/(1-p)`, so :math:`E[\tilde a] = a`. At prediction nothing is dropped or scaled.

    The lecture instead trains unscaled and multiplies the weights by :math:`(1-p)` at test
    time. Both give the same expected pre-activation of the next layer,
    :math:`E[\tilde a W] = a W`; inverted dropout simply moves the factor into training, so
    the learned ``coefs_`` are already the test-time weights (they equal the lecture's
    weights after its ``(1-p)`` multiplication).

    On a sparse (CSR) input the mask acts on the stored entries only: a zero stays zero
    whether dropped or scaled, so this is the same distribution as on the dense matrix (with
    other random draws), and the batch stays sparse. It is only used as input dropout, the
    layer before the first :class:`Dense`, whose input gradient nobody needs.
    """

    param_specs = []

    def __init__(self, n_units, rate):
        self.n_in = self.n_out = int(n_units)
        self.rate = float(rate)

    def workspace(self, capacity, dtype):
        return {
            "R": np.empty((capacity, self.n_out), dtype),
            "keep": np.empty((capacity, self.n_out), bool),
            "out": np.empty((capacity, self.n_out), dtype),
        }

    def forward(self, X, p, ws, training, rng):
        if not training or self.rate == 0.0:
            return X
        if issparse(X):
            keep = rng.random(X.data.shape[0], dtype=X.dtype) >= self.rate
            data = X.data * (keep * X.dtype.type(1.0 / (1.0 - self.rate)))
            return type(X)((data, X.indices, X.indptr), shape=X.shape)
        m = X.shape[0]
        R = ws["R"][:m]
        rng.random(dtype=R.dtype, out=R)
        keep = ws["keep"][:m]
        np.greater_equal(R, self.rate, out=keep)
        np.multiply(keep, R.dtype.type(1.0 / (1.0 - self.rate)), out=R)  # R: the scaled mask
        out = ws["out"][:m]
        np.multiply(X, R, out=out)
        ws["mask"] = R
        return out

    def backward(self, D, p, g, ws, need_dx):
        D *= ws["mask"]
        return D
