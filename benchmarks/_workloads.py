"""MLP workloads shared by several benchmarks and by ``profile_mlp.py``.

Each ``*_epoch_time`` function trains for a few epochs and returns seconds per epoch (total
``fit`` wall divided by the number of epochs actually run), so every implementation is timed
the same way: input checks, initialisation and all mini-batches included.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from _harness import Skip, hp, kwargs_supported, quiet, torch_or_skip

LAYERS = (256, 128)
N_FEATURES = 784
N_CLASSES = 10


@lru_cache(maxsize=4)
def classification_data(n_samples=20000, n_features=N_FEATURES, n_classes=N_CLASSES, seed=0):
    """``make_classification`` data, float64 C-contiguous (and its float32 copy)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=min(64, n_features),
        n_redundant=0, n_classes=n_classes, n_clusters_per_class=1, random_state=seed,
    )
    X = np.ascontiguousarray(X)
    return X, X.astype(np.float32), y


def n_parameters(n_features, layers, n_out, pieces=1):
    """Weights and biases of a dense stack (``pieces`` linear maps per hidden unit for Maxout)."""
    sizes = [n_features, *layers, n_out]
    total = 0
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        k = pieces if i < len(layers) else 1
        total += (a * b + b) * k
    return total


def no_early_stop(max_iter):
    """Parameters that make both MLPs run exactly ``max_iter`` epochs (no tol-based stop)."""
    return {"n_iter_no_change": max_iter + 1, "tol": 0.0}


def numba_kernels(n_params):
    """Load hpsearch's fused numba kernels now (call it in a warm-up) and say whether a
    network of ``n_params`` parameters trains with them.

    Under ``HPSEARCH_NUMBA=auto`` a process imports numba only after enough NumPy work, so
    the ~1 s load would otherwise fall into a warm-up or, worse, a timed repeat. Loading it
    up front makes every timed fit run on the path a long-lived process would use.

    Returns
    -------
    active : bool or None
        True when the fused kernels are used for this size, False when not, None when
        hpsearch has no kernels module.
    text : str
        The same for a table note, with the reason when not active.
    """
    try:
        from hpsearch.neural import kernels
    except ImportError:
        return None, "n/a (no hpsearch.neural.kernels)"
    if not kernels.load():
        return False, "off (numba absent or HPSEARCH_NUMBA=0)"
    if kernels.fused("adam", n_params) is None:
        floor = getattr(kernels, "MIN_FUSED_PARAMS", None)  # hpsearch before stop 26
        return False, (f"off ({n_params} params < {floor})" if floor is not None else
                       f"off (the NumPy step is faster for {n_params} params)")
    return True, "on"


def hpsearch_mlp(**params):
    cls = hp("MLPClassifier")
    unknown = [k for k in params if k not in cls().get_params()]
    if unknown:
        raise Skip(f"hpsearch.MLPClassifier has no parameter(s) {unknown}")
    return cls(**params)


def _epoch_time(est, X, y, **fit_kwargs):
    with quiet():
        t0 = time.perf_counter()
        est.fit(X, y, **fit_kwargs)
        elapsed = time.perf_counter() - t0
    return elapsed / max(1, int(getattr(est, "n_iter_", 1)))


def hpsearch_epoch_time(X, y, *, layers=LAYERS, epochs=5, dtype=np.float32, batch_size=128,
                        activation="relu", solver="adam", **extra):
    est = hpsearch_mlp(
        hidden_layer_sizes=layers, activation=activation, solver=solver,
        batch_size=batch_size, max_iter=epochs, dtype=dtype, random_state=0,
        **{k: v for k, v in no_early_stop(epochs).items()
           if k in hp("MLPClassifier")().get_params()},
        **extra,
    )
    return _epoch_time(est, X, y)


def sklearn_epoch_time(X, y, *, layers=LAYERS, epochs=5, batch_size=128, activation="relu",
                       solver="adam"):
    from sklearn.neural_network import MLPClassifier

    est = MLPClassifier(
        hidden_layer_sizes=layers, activation=activation, solver=solver,
        batch_size=batch_size, max_iter=epochs, random_state=0, **no_early_stop(epochs),
    )
    return _epoch_time(est, X, y)


def torch_epoch_time(X32, y, *, layers=LAYERS, epochs=5, batch_size=128, alpha=1e-4, lr=1e-3):
    """A plain PyTorch float32 loop: same architecture, Adam, L2 as weight decay, shuffling."""
    torch = torch_or_skip()
    torch.manual_seed(0)
    sizes = [X32.shape[1], *layers, int(y.max()) + 1]
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                           weight_decay=alpha)
    loss_fn = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    Xt = torch.from_numpy(X32)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    n = Xt.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return (time.perf_counter() - t0) / epochs


def gemm_square_gflops(n=2048, dtype=np.float32, calls=3):
    """GFLOP/s of the best of ``calls`` ``n x n @ n x n`` products (one warm-up call)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=out)
    best = np.inf
    for _ in range(calls):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


class LayerGemms:
    """The GEMMs of one epoch of a dense MLP, alone, with preallocated operands.

    Per mini-batch and layer (``A``: batch x n_in input, ``W``: n_in x n_out, ``D``: the
    batch x n_out output delta): forward ``A @ W``, weight gradient ``A.T @ D`` and input delta
    ``D @ W.T`` — three GEMMs of ``2 * batch * n_in * n_out`` FLOPs each, i.e. the
    ``6 x weights x samples`` per epoch that the issue counts.
    """

    def __init__(self, n_samples, sizes, batch_size=128, dtype=np.float32):
        rng = np.random.default_rng(0)
        self.n_batches = max(1, n_samples // batch_size)
        self.n_samples = self.n_batches * batch_size
        self.ops = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            A = rng.standard_normal((batch_size, a)).astype(dtype)
            W = rng.standard_normal((a, b)).astype(dtype)
            D = rng.standard_normal((batch_size, b)).astype(dtype)
            self.ops.append((A, W, D, np.empty((batch_size, b), dtype), np.empty((a, b), dtype),
                             np.empty((batch_size, a), dtype)))
        self.flops = 6.0 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * self.n_samples

    def forward_backward(self):
        for A, W, D, Z, G, dA in self.ops:
            np.matmul(A, W, out=Z)
        for A, W, D, Z, G, dA in reversed(self.ops):
            np.matmul(A.T, D, out=G)
            np.matmul(D, W.T, out=dA)

    def epoch_seconds(self):
        self.forward_backward()  # warm-up
        t0 = time.perf_counter()
        for _ in range(self.n_batches):
            self.forward_backward()
        return time.perf_counter() - t0

    def gflops(self):
        return self.flops / self.epoch_seconds() / 1e9


def digits(n=None):
    """sklearn's digits scaled to [0, 1] (optionally the first ``n`` rows)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return (X[:n], y[:n]) if n else (X, y)


def hp_search(cls_name, *args, optional=None, **kwargs):
    """Build ``hpsearch.<cls_name>(*args, **kwargs)``; ``optional`` keywords only if accepted.

    ``optional`` carries hpsearch-only switches (``progress=False``) that a half-landed class
    may not have yet; a missing class raises :class:`Skip`.
    """
    from _harness import kwargs_supported

    cls = hp(cls_name)
    return cls(*args, **kwargs, **kwargs_supported(cls, **(optional or {})))
