"""The layer stack: parameters packed in one flat vector, forward, backward, one epoch.

All learned arrays live in one contiguous vector ``theta`` (and their gradients in ``grad``):
first every penalized weight matrix, then the biases and PReLU slopes. Layers see views into
it. So an optimizer step, a penalty, a weight snapshot for early stopping or a pickle is one
vectorized operation on one array, whatever the depth — which is what keeps small networks
fast (few NumPy calls per batch) and big ones at the speed of their matrix products.

Inputs may be dense arrays or SciPy sparse CSR matrices (the estimators convert CSC and other
formats to CSR once). A sparse matrix is never densified: a mini-batch is its rows gathered as
a (small) CSR matrix, the first :class:`~hpsearch.neural.layers.Dense` layer computes
``X @ W`` and ``X.T @ D`` as sparse-dense products, and input dropout acts on the stored
entries (see :class:`~hpsearch.neural.layers.Dropout`). Everything after the first layer is
dense and unchanged.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import issparse

from . import compiled
from .initializers import INITIALIZERS, resolve_init
from .layers import ActivationLayer, Dense, Dropout, Maxout, PReLU
from .losses import LOSSES

__all__ = ["Network", "gather_rows", "as_batch"]


def as_batch(X, dtype):
    """``X`` (a block of rows) in ``dtype``: C-contiguous if dense, CSR if sparse."""
    if issparse(X):
        return X.tocsr(copy=False).astype(dtype, copy=False)
    return np.ascontiguousarray(X, dtype=dtype)


def gather_rows(X, rows, out, stage=None):
    """``out[:] = X[rows]`` (cast to ``out.dtype``) without allocating.

    ``np.take`` into ``out`` directly when the dtypes agree; otherwise into ``stage`` (a
    buffer of ``X``'s dtype and ``out``'s shape) and then a casting copy — ``np.take`` itself
    would allocate a temporary of ``X``'s dtype per call, and refuses an upcasting ``out``.
    """
    if stage is None:  # (the method: np.take adds a Python wrapper per mini-batch)
        X.take(rows, axis=0, out=out, mode="clip")
    else:
        X.take(rows, axis=0, out=stage, mode="clip")
        np.copyto(out, stage, casting="same_kind")
    return out


def _hidden_layers(activation, n_in, n_units, *, leaky_slope, prelu_init, maxout_pieces):
    """The Dense layer and activation of one hidden layer (Maxout: k pieces per unit)."""
    if activation == "maxout":
        return [Dense(n_in, n_units * maxout_pieces), Maxout(n_units, maxout_pieces)]
    if activation == "prelu":
        return [Dense(n_in, n_units), PReLU(n_units, init=prelu_init)]
    options = {"leaky_slope": leaky_slope} if activation == "leaky_relu" else {}
    return [Dense(n_in, n_units), ActivationLayer(activation, n_units, **options)]


class Network:
    """A feed-forward network with its flat parameter vector.

    Parameters
    ----------
    sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : str
        Hidden activation name (a key of ``ACTIVATIONS``, ``"prelu"`` or ``"maxout"``).
    loss : str
        Key of :data:`~hpsearch.neural.losses.LOSSES`.
    dtype : numpy dtype
        Working dtype of parameters and buffers.
    """

    def __init__(self, sizes, activation, loss, dtype, *, leaky_slope=0.01, prelu_init=0.25,
                 maxout_pieces=2, dropout=0.0, input_dropout=0.0):
        self.sizes = tuple(int(s) for s in sizes)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self.loss = LOSSES[loss]
        self.loss_name = loss
        layers = []
        if input_dropout > 0:
            layers.append(Dropout(self.sizes[0], input_dropout))
        n_in = self.sizes[0]
        for n_units in self.sizes[1:-1]:
            layers += _hidden_layers(activation, n_in, n_units, leaky_slope=leaky_slope,
                                     prelu_init=prelu_init, maxout_pieces=maxout_pieces)
            if dropout > 0:
                layers.append(Dropout(n_units, dropout))
            n_in = n_units
        layers.append(Dense(n_in, self.sizes[-1]))
        self.layers = layers
        self.dense_layers = [layer for layer in layers if isinstance(layer, Dense)]
        self._first_dense = layers.index(self.dense_layers[0])
        self._layout()
        self.theta = np.zeros(self.n_params, self.dtype)
        self.grad = np.zeros(self.n_params, self.dtype)
        self._bind()
        self._ws = None
        self._capacity = 0

    # ------------------------------------------------------------------ layout
    def _layout(self):
        """Offsets of every parameter: penalized weights first, then the rest."""
        specs = [(i, name, shape, pen) for i, layer in enumerate(self.layers)
                 for name, shape, pen in layer.param_specs]
        ordered = [s for s in specs if s[3]] + [s for s in specs if not s[3]]
        self._slots, offset = {}, 0
        for i, name, shape, pen in ordered:
            size = math.prod(shape)
            self._slots[(i, name)] = (offset, shape)
            offset += size
            if pen:
                self.n_penalized = offset
        self.n_params = offset
        if not any(s[3] for s in specs):
            self.n_penalized = 0
        # per layer, (start, stop, shape) of each array: views() runs at every fit and
        # prediction, and np.prod per array cost more than the slicing
        self._spans = [tuple((o, o + math.prod(s), s) for o, s in
                             (self._slots[(i, name)] for name, _, _ in layer.param_specs))
                       for i, layer in enumerate(self.layers)]

    def views(self, flat):
        """Per-layer tuples of views of ``flat`` (in each layer's ``param_specs`` order)."""
        spans = self.__dict__.get("_spans")
        if spans is None:  # a network pickled before _spans existed
            self._layout()
            spans = self._spans
        return [tuple(flat[a:b].reshape(s) for a, b, s in layer) for layer in spans]

    def _bind(self):
        self._p = self.views(self.theta)
        self._g = self.views(self.grad)

    def unpack(self, flat):
        """``(coefs, intercepts, prelu_alphas)`` lists of views of ``flat``."""
        views = self.views(flat)
        coefs = [views[i][0] for i, l in enumerate(self.layers) if isinstance(l, Dense)]
        intercepts = [views[i][1] for i, l in enumerate(self.layers) if isinstance(l, Dense)]
        alphas = [views[i][0] for i, l in enumerate(self.layers) if isinstance(l, PReLU)]
        return coefs, intercepts, alphas

    def initialize(self, rng, init, weights=True):
        """Draw initial weights into ``theta`` (biases 0, PReLU slopes ``prelu_init``);
        ``weights=False``: the slopes only (``rng`` unused), for a caller that writes every
        weight and bias itself."""
        n_dense = len(self.dense_layers)
        for k, layer in enumerate(self.dense_layers if weights else ()):
            i = self.layers.index(layer)
            W, b = self._p[i]
            name = resolve_init(init, self.activation, is_output=(k == n_dense - 1))
            fan_out = layer.n_out
            if self.activation == "maxout" and k < n_dense - 1:
                fan_out = self.layers[i + 1].n_out  # one piece's fan-out
            W[...] = INITIALIZERS[name](rng, layer.n_in, fan_out, W.shape, self.dtype)
            b[...] = 0
        for i, layer in enumerate(self.layers):
            if isinstance(layer, PReLU):
                self._p[i][0][...] = layer.init

    # --------------------------------------------------------------- buffers
    def workspace(self, capacity, dtype=None, training=True):
        """Every layer's buffers for batches of up to ``capacity`` rows, except those nobody
        uses: the first Dense layer's ``dX`` (no dL/dX is computed for the input) and, for
        prediction (``training=False``), the dropout buffers. With many input features these
        would be the largest buffers of all."""
        dtype = self.dtype if dtype is None else dtype
        ws = []
        for i, layer in enumerate(self.layers):
            if not training and isinstance(layer, Dropout):
                ws.append(None)
                continue
            options = {"need_dx": False} if i == self._first_dense else {}
            ws.append(layer.workspace(capacity, dtype, **options))
        return ws

    def _ensure_capacity(self, capacity):
        if self._ws is None or capacity > self._capacity:
            self._ws = self.workspace(capacity)
            self._capacity = capacity
            self._x_buf = None  # allocated by run_epoch for dense input only
            self._t_buf = None
        return self._ws

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in ("_ws", "_p", "_g", "_x_buf", "_t_buf", "_compiled", "_compiled_bufs"):
            state.pop(key, None)
        state["_capacity"] = 0
        state["grad"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.grad = np.zeros(self.n_params, self.dtype)
        self._ws, self._x_buf, self._t_buf = None, None, None
        self._bind()

    # --------------------------------------------------------- forward/backward
    def forward(self, X, params, ws, training, rng=None):
        """Output-layer activations ``P`` for the rows of ``X`` (a buffer of ``ws``)."""
        A = X
        for layer, p, w in zip(self.layers, params, ws):
            A = layer.forward(A, p, w, training, rng)
        return self.loss.activate(A)

    def backward(self, D):
        """Back-propagate ``D = dL/dZ_out`` into ``grad`` (no dL/dX for the first layer)."""
        first = self._first_dense
        for i in range(len(self.layers) - 1, first - 1, -1):
            D = self.layers[i].backward(D, self._p[i], self._g[i], self._ws[i], need_dx=(i > first))

    def loss_and_grad(self, X, T, rng=None, training=True, sample_weight=None):
        """Mean (or ``sample_weight``-weighted mean) loss of one batch, no penalty, and its
        gradient in ``grad`` (for tests). ``X`` may be dense or sparse."""
        self._ensure_capacity(X.shape[0])
        X = as_batch(X, self.dtype)
        sw = None if sample_weight is None else np.asarray(sample_weight, self.dtype)
        P = self.forward(X, self._p, self._ws, training, rng)
        total = X.shape[0] if sw is None else float(np.sum(sw, dtype=np.float64))
        loss = self.loss.loss_and_delta(P, T, sw) / total
        self.backward(P)
        return loss

    def predict(self, X, flat=None, chunk=2048, dtype=None):
        """Output activations for all rows of ``X``.

        Uses the parameters ``flat`` (default ``theta``), computing in ``dtype`` (default the
        working dtype), in chunks of ``chunk`` rows with private buffers (so prediction never
        touches the training workspace).
        """
        flat = self.theta if flat is None else flat
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        params = self.views(flat.astype(dtype, copy=False))
        n = X.shape[0]
        out = np.empty((n, self.sizes[-1]), dtype)
        cap = max(1, min(n, chunk))
        ws = self.workspace(cap, dtype, training=False)
        for start in range(0, n, cap):
            stop = min(start + cap, n)
            Xc = as_batch(X[start:stop], dtype)
            out[start:stop] = self.forward(Xc, params, ws, training=False)
        return out

    # ----------------------------------------------------------------- epoch
    def run_epoch(self, X, T, rows, positions, batch_size, optimizer, rng, penalties,
                  sample_weight=None, data_scale=1.0, weight_unit=1.0, engine="numpy"):
        r"""One pass over the training rows in the given order; returns statistics.

        ``rows`` index ``X`` and ``positions`` index the encoded targets ``T`` and the
        ``sample_weight`` (they differ when training on a subset of ``X``; ``rows`` may be
        ``positions``). Each mini-batch is gathered by index into a preallocated buffer,
        converted to the working dtype on the way (the estimators pass a small ``X`` already
        converted: ``hpsearch.mlp._training_rows``); a sparse (CSR) ``X`` gives a CSR batch.

        With ``sample_weight`` (float64, non-negative) each step follows the gradient of the
        batch's weighted-mean loss plus the penalty divided by the batch's weight sum
        (scikit-learn's normalization; the unweighted case is all weights 1); a batch whose
        weights sum to 0 carries no information and is skipped (no step, no penalty).

        Returns ``(loss sum, per-layer sums of weight-gradient norms, number of steps
        taken)``. The loss sum is scikit-learn's accumulated loss, so that ``loss sum / n``
        is its ``loss_``:

        .. math::
            \sum_b m_b \, \frac{c\, S_b + \Omega(w_b)}{W_b}

        over the batches :math:`b` of :math:`m_b` rows, with :math:`S_b` the (weighted)
        sum of the per-sample losses, :math:`W_b` the batch's weight sum (:math:`m_b`
        without weights), :math:`\Omega(w_b)` the penalty at the weights the batch starts
        from and :math:`c` = ``data_scale`` (scikit-learn's report of a multi-output
        squared error, averaged over outputs).

        The true weights are ``sample_weight`` times ``weight_unit`` (the estimators store
        them scaled by a power of two, exactly, so that float32 holds them whatever their
        magnitude): the data terms are scale-free, and :math:`\Omega(w_b)` and its gradient
        are divided by the true :math:`W_b`, i.e. by ``weight_unit`` once more.

        ``engine="numba"`` runs the epoch as one compiled call where
        :func:`hpsearch.neural.compiled.covers` says it can (same formulas, not
        bit-identical: see :mod:`hpsearch.neural.compiled`); the caller has checked that
        numba is available.
        """
        if engine == "numba" and compiled.covers(self, X, sample_weight, optimizer):
            return compiled.run_epoch(self, X, T, rows, positions, batch_size, optimizer,
                                      penalties, data_scale)
        n = len(positions)
        batch_size = max(1, min(batch_size, n))
        ws = self._ensure_capacity(batch_size)
        if self._t_buf is None or self._t_buf.dtype != T.dtype or self._t_buf.shape[1:] != T.shape[1:] \
                or self._t_buf.shape[0] < self._capacity:
            self._t_buf = np.empty((self._capacity,) + T.shape[1:], T.dtype)
        sparse = issparse(X)
        if not sparse and self._x_buf is None:
            self._x_buf = np.empty((self._capacity, self.sizes[0]), self.dtype)
        xbuf, tbuf = self._x_buf, self._t_buf
        stage = None if (sparse or X.dtype == self.dtype) \
            else np.empty((batch_size, X.shape[1]), X.dtype)
        theta, grad, p = self.theta, self.grad, self._p
        npen = self.n_penalized
        dense_idx = [self.layers.index(layer) for layer in self.dense_layers]
        gW = [self._g[i][0].reshape(-1) for i in dense_idx]
        norms = [0.0] * len(gW)  # float64 sums of the float32 norms, as NumPy's += did
        loss_sum, n_batches = 0.0, 0
        swb, scale = None, None
        # the per-batch calls bound once per epoch (a small network's batch is some 40
        # NumPy calls of about 1 us: the Python around them counts): forward and backward
        # as flat loops over (layer, params, grads, buffers), the full batches' buffers
        # sliced once, the weights' penalty on a view taken once (Network.penalty's sum)
        fwd = list(zip(self.layers, p, ws))
        first = self._first_dense
        bwd = [(layer.backward, p[i], self._g[i], ws[i], i > first)
               for i, layer in reversed(list(enumerate(self.layers))) if i >= first]
        activate, loss_and_delta = self.loss.activate, self.loss.loss_and_delta
        w_pen = theta[:npen]
        pen_of = penalties[0].penalty if len(penalties) == 1 else None
        full = (xbuf[:batch_size] if not sparse else None, tbuf[:batch_size],
                None if stage is None else stage[:batch_size])
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            m = stop - start
            if sample_weight is not None:
                swb = sample_weight[positions[start:stop]]
                total = float(swb.sum())
                if total == 0:
                    continue
                swb, scale = swb.astype(self.dtype), 1.0 / total
            xb, Tb, sb = full if m == batch_size else (
                None if sparse else xbuf[:m], tbuf[:m], None if stage is None else stage[:m])
            if sparse:
                Xb = as_batch(X[rows[start:stop]], self.dtype)
            elif sb is None:  # (gather_rows, inlined)
                Xb = X.take(rows[start:stop], axis=0, out=xb, mode="clip")
            else:
                Xb = gather_rows(X, rows[start:stop], xb, sb)
            T.take(positions[start:stop], axis=0, out=Tb, mode="clip")
            A = Xb
            for layer, pl, wl in fwd:  # (Network.forward, inlined)
                A = layer.forward(A, pl, wl, True, rng)
            P = activate(A)
            batch_loss = data_scale * loss_and_delta(P, Tb, swb)
            if penalties:  # sklearn's batch loss has the penalty at the current weights
                # (Network.penalty: the sum of one penalty is 0 + it, the same number)
                batch_loss += (pen_of(w_pen) if pen_of is not None else
                               sum(pen.penalty(w_pen) for pen in penalties)) / weight_unit
            loss_sum += batch_loss if scale is None else batch_loss * m * scale
            D = P
            for backward, pl, gl, wl, need_dx in bwd:  # (Network.backward, inlined)
                D = backward(D, pl, gl, wl, need_dx)
            for k, g in enumerate(gW):
                norms[k] += float(np.sqrt(np.dot(g, g)))
            # penalty of the summed batch loss (sklearn's alpha), then the solver's step
            optimizer.step(theta, grad, penalties, npen,
                           1.0 / m if scale is None else scale / weight_unit)
            n_batches += 1
        return loss_sum, np.array(norms), n_batches

    def penalty(self, penalties, flat=None):
        w = (self.theta if flat is None else flat)[: self.n_penalized]
        return sum(pen.penalty(w) for pen in penalties)
