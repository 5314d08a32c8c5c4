"""The NumPy neural-network core behind :class:`hpsearch.MLPClassifier` and
:class:`hpsearch.MLPRegressor`: one job per module.

- :mod:`~hpsearch.neural.activations` — stateless activations (name -> in-place f, f')
- :mod:`~hpsearch.neural.layers` — Dense, PReLU, Maxout, Dropout (forward/backward)
- :mod:`~hpsearch.neural.losses` — output activation + loss with fused output delta
- :mod:`~hpsearch.neural.regularizers` — L2 and L1 weight penalties
- :mod:`~hpsearch.neural.initializers` — Glorot, He, normal
- :mod:`~hpsearch.neural.optimizers` — SGD, momentum, Nesterov, Adagrad, RMSProp, Adam
- :mod:`~hpsearch.neural.network` — the stack, its flat parameter vector and one epoch
"""

from .activations import ACTIVATIONS
from .initializers import INITIALIZERS
from .layers import ActivationLayer, Dense, Dropout, Maxout, PReLU
from .losses import LOSSES
from .network import Network
from .optimizers import OPTIMIZERS
from .regularizers import L1, L2, REGULARIZERS

__all__ = [
    "ACTIVATIONS", "INITIALIZERS", "LOSSES", "OPTIMIZERS", "REGULARIZERS",
    "ActivationLayer", "Dense", "Dropout", "Maxout", "PReLU", "Network", "L1", "L2",
]
