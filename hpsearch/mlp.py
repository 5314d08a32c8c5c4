"""Scikit-learn compatible multi-layer perceptrons with every technique of LECTURE.md §1-§4.

:class:`MLPClassifier` and :class:`MLPRegressor` are the estimator fronts: parameters,
validation, target encoding, the epoch loop with early stopping, and the fitted attributes.
The numerical work lives in :mod:`hpsearch.neural`.

Training state is data: the flat weight vector, the optimizer (moments and step count), the
random generators used for shuffling and dropout, the learning-rate schedule's counters and
the stopping counters are kept on the estimator, so ``warm_start=True`` or :meth:`partial_fit` continue *exactly* where training
stopped — also after a pickle round trip to another process.
"""

from __future__ import annotations

import copy
import inspect
import math
import time
import warnings
import weakref
from numbers import Integral, Real

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import (_check_n_features, _check_sample_weight,
                                      check_is_fitted, column_or_1d, validate_data)

from .neural import compiled
from .neural.activations import ACTIVATIONS
from .neural.initializers import INITIALIZERS, sklearn_uniform
from .neural.compiled import ENGINES
from .neural.losses import LOSSES, report_scale
from .neural.network import Network
from .neural.lbfgs import flat_objective, minimize_lbfgs
from .neural.optimizers import OPTIMIZERS, SGD_FAMILY, resolve_solver
from .neural.regularizers import make_penalty
from .neural.schedules import SCHEDULES, current_rate, on_plateau

__all__ = ["MLPClassifier", "MLPRegressor", "TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite (too large a learning rate, usually)."""


_NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large "
               "values and need to be preprocessed.")  # sklearn's words, then ours


def _labels_seen(y):
    """``unique_labels(y)``, with ``np.unique`` for a non-empty 1-D integer ``y``.

    Such a ``y`` is always a valid binary or multiclass target, whose labels
    ``unique_labels`` gives sorted, as ``np.unique`` does; skipping its target-type checks
    saves about 0.2 ms per fit, which a search that continues training (halving, ASHA)
    pays at every rung of every split. Other targets (strings, floats, 2-D) go through
    ``unique_labels`` and its errors.
    """
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu" and y.size:
        return np.unique(y)
    return unique_labels(y)


def _fit_label_binarizer(lb, y):
    """``lb.fit(y)``; for a non-empty 1-D integer ``y``, the same fitted attributes set directly.

    scikit-learn's ``fit`` takes ``y_type_`` from ``type_of_target`` (``"binary"`` for at
    most two labels, else ``"multiclass"``: all an integer vector can be), ``classes_``
    from ``unique_labels`` (``np.unique``'s values there) and ``sparse_input_`` False;
    its checks cost about 0.3 ms, paid by every fresh fit of a search.
    """
    if (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu" and y.size
            and type(lb) is LabelBinarizer):
        classes = np.unique(y)
        lb.y_type_ = "binary" if len(classes) <= 2 else "multiclass"
        lb.sparse_input_ = False
        lb.classes_ = classes
        return lb
    return lb.fit(y)


def _check_known_classes(y, classes):
    """``y`` may only hold labels of ``classes`` (sklearn's check, also on partial_fit's first
    call, where ``classes`` is the user's list)."""
    seen = _labels_seen(y)
    if len(np.setdiff1d(seen, classes)):
        raise ValueError(
            f"`y` has classes not in `self.classes_`. `self.classes_` has {classes}. "
            f"'y' has {seen}.")


def _is_multilabel(y):
    """Whether ``y`` is a multilabel indicator matrix (one pass over ``y``: called once per
    fit, only where the answer matters)."""
    return type_of_target(y).startswith("multilabel")


def _is_stochastic(est):
    """``partial_fit`` exists for the stochastic solvers only (not ``"lbfgs"``), as sklearn."""
    if est.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic optimizers. "
                             f"{est.solver} is not stochastic.")
    return True


def _refuse_early_stopping(est):
    if est.early_stopping:  # sklearn: early stopping has no meaning for one epoch
        raise ValueError("partial_fit does not support early_stopping=True")


def _first_draw(legacy, random_state):
    """The seed of the generators other than scikit-learn's (split, dropout, ``init`` other
    than ``"auto"``): the first ``randint`` of ``RandomState(random_state)``.

    An int, a ``RandomState`` instance in the same state and ``None`` (NumPy's global
    generator) after ``np.random.seed`` of that int give the same seed and leave ``legacy``
    unadvanced for scikit-learn's weight draws, so ``random_state=3``,
    ``random_state=np.random.RandomState(3)`` and ``np.random.seed(3)`` with
    ``random_state=None`` train identically (as in scikit-learn); a user's instance and
    the global generator are advanced after the weights are drawn, so successive fits
    differ (:meth:`_BaseMLP._initialize`).
    """
    high = np.iinfo(np.int32).max
    if isinstance(random_state, Integral):  # our own generator, fresh from the int: its
        seed = _FIRST_DRAWS.get(int(random_state))  # first draw is a function of the int
        if seed is None:  # draw, then rewind it exactly (200 us less than a deepcopy)
            state = legacy.get_state()
            seed = legacy.randint(high)
            legacy.set_state(state)
            if len(_FIRST_DRAWS) >= 1024:
                _FIRST_DRAWS.clear()
            _FIRST_DRAWS[int(random_state)] = seed
        return seed
    return copy.deepcopy(legacy).randint(high)


#: int ``random_state`` -> :func:`_first_draw` (about 70 us per fresh fit: the state's
#: copy and rewind), bounded.
_FIRST_DRAWS = {}


def _private(legacy, random_state):
    """``legacy`` itself when only this fit holds it (``random_state`` an int:
    ``check_random_state`` made it afresh), else a copy in the same state (the global
    generator or a user's instance, which must not be advanced by our shuffles)."""
    return legacy if isinstance(random_state, Integral) else copy.deepcopy(legacy)


class _Interval(Interval):
    """sklearn's Interval, printing whole-number float bounds as ``[0, inf)`` (not ``[0.0, inf)``)."""

    def __str__(self):
        text = super().__str__()
        return text.replace(".0,", ",").replace(".0]", "]").replace(".0)", ")")


_ACTIVATION_NAMES = set(ACTIVATIONS) | {"prelu", "maxout"}
_FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64}
_SPARSE_FORMATS = ["csr", "csc"]  # others are converted to CSR by validate_data


def _as_csr(X):
    """A sparse ``X`` as CSR (mini-batches are row slices; CSC is converted once, a copy of
    the stored entries only); dense ``X`` unchanged."""
    return X.tocsr() if issparse(X) and X.format != "csr" else X


#: Largest copy (bytes) of the training rows in the working dtype that a fit makes once, so
#: that its mini-batches are gathered without a conversion each (a small ``X`` trained for
#: several epochs); beyond it each mini-batch is converted on the way (no copy of ``X``).
_PRECAST_BYTES = 16 << 20


def _training_rows(X, sample_index, dtype):
    """``(X_rows, by_position)``: the rows a fit trains on, and whether they are indexed by
    position (``X_rows[i]`` is training row ``i``) rather than by row of ``X``.

    A dense ``X`` of another dtype than the working one, small enough
    (:data:`_PRECAST_BYTES`), is gathered and converted once: ``X[sample_index]`` (or
    ``X``) as ``dtype``, the same values each mini-batch would get from its own conversion.
    Otherwise ``X`` itself (a sparse or large ``X``, or one already in ``dtype``).
    """
    if issparse(X) or X.dtype == dtype:
        return X, sample_index is None
    n_rows = X.shape[0] if sample_index is None else sample_index.shape[0]
    if n_rows * X.shape[1] * dtype.itemsize > _PRECAST_BYTES:
        return X, sample_index is None
    rows = X if sample_index is None else X.take(sample_index, axis=0)
    return rows.astype(dtype, order="C"), True


_FAST_X_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _plain_finite_X(X):
    """Whether ``X`` is a plain 2-D float64/float32 ndarray with at least one row and one
    column and only finite values: what scikit-learn's ``check_array`` (with the MLP's
    options) returns unchanged, the same object. Anything else (a subclass, another
    dtype or byte order, a NaN or inf, a sum that overflows) answers False and goes the
    whole way through ``validate_data``, whose errors and conversions then apply."""
    if type(X) is not np.ndarray or X.ndim != 2 or X.dtype not in _FAST_X_DTYPES \
            or X.shape[0] < 1 or X.shape[1] < 1:
        return False
    with np.errstate(over="ignore", invalid="ignore"):  # (sklearn's own first pass)
        return bool(np.isfinite(np.add.reduce(X, axis=None)))


def _plain_y(y, n_samples):
    """Whether ``y`` is a plain 1-D (or 2-D, at least one column) integer ndarray of
    ``n_samples`` rows: what ``check_X_y(..., multi_output=True)`` returns unchanged."""
    return (type(y) is np.ndarray and y.dtype.kind in "iu" and y.shape[:1] == (n_samples,)
            and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] >= 1)))


def _validate_fast(est, X, y=None, reset=True):
    """``validate_data(est, X[, y], ...)`` with the MLP's options, without its per-call
    cost (about 100-150 us for a small dense array, most of it checking whether ``X`` is a
    dataframe), for the common case alone: a plain finite float ndarray ``X`` (and an
    integer ``y``) on an estimator that has no ``feature_names_in_``. Returns what
    ``validate_data`` returns (``X`` itself, or ``(X, y)``), having done what it does
    (``n_features_in_`` set or checked); None where that case does not apply (the caller
    then calls ``validate_data``)."""
    if not _plain_finite_X(X) or hasattr(est, "feature_names_in_"):
        return None
    if y is not None and not _plain_y(y, X.shape[0]):
        return None
    _check_n_features(est, X, reset=reset)
    return X if y is None else (X, y)


def _check_weights(sample_weight, y, owner="fit"):
    """``(weights, unit)``: ``sample_weight`` as float64, one finite non-negative weight per
    training row (of ``y``) with a positive sum, scaled by a power of two so that the
    largest is in [0.5, 1), and ``unit``, the true weight of a stored 1.

    Only the weights' ratios and (for the penalty) their true sums matter, and scaling by
    a power of two is exact: so weights of 1e300 or 1e-300 train as in scikit-learn instead
    of overflowing or vanishing in the float32 working dtype. ``None`` stays ``None`` (the
    unweighted path), with unit 1. ``owner`` names the method in the errors
    (``"MLPClassifier.fit"``)."""
    if sample_weight is None:
        return None, 1.0
    # sklearn's messages: shape, NaN/inf, all zero; then ours for a negative weight
    weights = _check_sample_weight(sample_weight, y, dtype=np.float64)
    _refuse_negative_weights(weights, owner)
    exponent = int(np.frexp(weights.max())[1])
    return np.ldexp(weights, -exponent), math.ldexp(1.0, exponent)


def _refuse_negative_weights(weights, owner):
    """Refuse a negative weight, naming it (scikit-learn 1.9's MLP accepts them silently).

    A row of weight :math:`w < 0` enters the loss as :math:`w\\,\\ell_i`, which the
    network lowers without bound by fitting that row *worse* (its cross-entropy or
    squared error grows to infinity), and a mini-batch's weight sum
    :math:`\\sum_{i \\in B} w_i`, which normalizes each step, can be zero (scikit-learn
    then stops with ``ZeroDivisionError``) or negative (the step climbs the loss)."""
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise ValueError(
            f"Negative values in data passed to `sample_weight`: the 'sample_weight' "
            f"parameter of {owner} must hold non-negative weights (a negative weight makes "
            "the loss unbounded below and a mini-batch's weight sum zero or negative). "
            f"Got {float(weights[negative[0]])} at index {negative[0]} ({negative.size} negative "
            "values); drop such rows or give them weight 0.")


def _write_weights(owner, named_arrays, views):
    """Write the user's arrays into the network's weight views: ``named_arrays`` is
    ``[(name, arrays), ...]`` over ``coefs_``, ``intercepts_``, ``prelu_alphas_`` (in
    that order; a missing trailing name keeps its views), ``views`` the matching lists of
    views, each array checked against its layer's shape."""
    for (name, arrays), layer_views in zip(named_arrays, views):
        if len(arrays) != len(layer_views):
            raise ValueError(f"{name} of {owner} must hold {len(layer_views)} "
                             f"arrays, one per layer. Got {len(arrays)} instead.")
        for k, (array, view) in enumerate(zip(arrays, layer_views)):
            array = np.asarray(array)
            if array.shape != view.shape:
                raise ValueError(
                    f"{name}[{k}] of {owner} must have the layer's shape "
                    f"{view.shape}. Got shape {array.shape} instead.")
            if array is not view:
                view[...] = array


_PARAMS_DOC = """
    hidden_layer_sizes : array-like of int, default=(100,)
        Width of each hidden layer; ``()`` gives a linear/logistic model.
    activation : {"relu", "identity", "sigmoid", "logistic", "tanh", "leaky_relu", "prelu", \
"maxout"}, default="relu"
        Hidden activation (LECTURE.md §2). ``"logistic"`` is an alias of ``"sigmoid"``;
        ``"leaky_relu"`` uses slope ``leaky_slope``; ``"prelu"`` learns one slope per neuron,
        starting at ``prelu_init``; ``"maxout"`` outputs the max of ``maxout_pieces`` linear
        pieces per unit (layout of ``coefs_`` in :class:`hpsearch.neural.layers.Maxout`).
    solver : {"adam", "sgd", "lbfgs", "momentum", "nesterov", "adagrad", "rmsprop"}, \
default="adam"
        Update rule (LECTURE.md §2; formulas in :mod:`hpsearch.neural.optimizers`).
        ``"sgd"`` has scikit-learn's meaning: SGD with ``momentum`` (default 0.9) and, if
        ``nesterovs_momentum``, Nesterov's; plain SGD is ``solver="sgd", momentum=0``.
        ``"momentum"`` and ``"nesterov"`` name the lecture's two momentum rules directly.
        ``"lbfgs"`` is full-batch L-BFGS through :func:`scipy.optimize.minimize`
        (:mod:`hpsearch.neural.lbfgs`; no mini-batches, no dropout, no ``partial_fit``).
    alpha : float, default=1e-4
        L2 strength :math:`\\lambda` of the penalty :math:`\\frac{\\lambda}{2}\\lVert w
        \\rVert^2` (LECTURE.md §3), with scikit-learn's meaning: it is added to the summed
        loss of each mini-batch of :math:`m` samples, i.e. :math:`\\lambda/m` acts on the
        batch-mean gradient, so a value tuned for ``sklearn.neural_network.MLPClassifier``
        regularizes the same here. Biases and PReLU slopes are never penalized.
    l1 : float, default=0.0
        L1 strength :math:`\\lambda` of :math:`\\lambda\\lVert w\\rVert_1` (weights only),
        added to the summed batch loss like ``alpha``.
    batch_size : int, "auto" or "full", default="auto"
        Mini-batch size: 1 is plain SGD, ``"auto"`` is ``min(200, n_samples)``, ``"full"`` is
        batch gradient descent.
    learning_rate_init : float, default=1e-3
        Step size :math:`\\eta`.
    max_iter : int, default=200
        Epochs (passes over the training rows) of one call to ``fit``.
    shuffle : bool, default=True
        Reshuffle the rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, the early-stopping split, shuffling and dropout masks.
        An int and a ``RandomState`` in that int's fresh state train identically (as
        scikit-learn); a reused ``RandomState`` instance gives a new model each fit.
    tol : float, default=1e-4
        Minimal improvement of the training loss (or validation score with
        ``early_stopping``) that resets the patience counter.
    verbose : bool, default=False
        Print the loss of every epoch.
    warm_start : bool, default=False
        Continue from the previous fit's complete training state (weights, optimizer moments
        and step count, random generator): ``fit`` with ``max_iter=a`` then with
        ``warm_start=True, max_iter=b`` equals one ``fit`` with ``max_iter=a+b`` bit for bit.
        Not with ``solver="lbfgs"``: each ``fit`` starts a fresh L-BFGS run from the
        current weights (as scikit-learn), so the searches refit such a candidate at
        each higher budget instead of continuing it.
    momentum : float, default=0.9
        :math:`\\lambda` of the ``"sgd"``, ``"momentum"`` and ``"nesterov"`` solvers.
    nesterovs_momentum : bool, default=True
        With ``solver="sgd"`` and ``momentum > 0``: Nesterov's momentum (else classical).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of the step size of the SGD family (``"sgd"``, ``"momentum"``,
        ``"nesterov"``; the other solvers adapt their own rates and ignore it), with
        scikit-learn's meaning (:mod:`hpsearch.neural.schedules`): ``"invscaling"`` is
        :math:`\\eta_0/(t+1)^{p}` after :math:`t` training samples; ``"adaptive"`` divides
        the rate by 5 instead of stopping each time the training loss (validation score with
        ``early_stopping``) has not improved by ``tol`` for more than ``n_iter_no_change``
        epochs, and stops once the rate is at most 1e-6.
    power_t : float, default=0.5
        Exponent :math:`p` of ``"invscaling"``.
    max_fun : int, default=15000
        ``"lbfgs"`` only: most loss evaluations (``max_iter`` bounds its iterations).
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decays.
    epsilon : float, default=1e-8
        Stabilizer of Adam, Adagrad and RMSProp, added to the root of the (bias-corrected)
        squared-gradient average, as in the lecture's formulas; scikit-learn's Adam adds it
        before the bias correction, which only matters when gradients are near ``epsilon``
        (:class:`hpsearch.neural.optimizers.Adam`).
    rho : float, default=0.9
        RMSProp's decay of the squared-gradient average.
    leaky_slope : float, default=0.01
        Negative-side slope of ``"leaky_relu"``.
    prelu_init : float, default=0.25
        Initial slope of every ``"prelu"`` neuron.
    maxout_pieces : int, default=2
        Linear pieces per ``"maxout"`` unit (at least 2).
    dropout : float, default=0.0
        Probability of dropping each hidden unit, a fresh mask for every mini-batch and none
        at prediction. Inverted dropout: kept units are scaled by :math:`1/(1-p)` while
        training, which equals the lecture's multiplying the weights by :math:`1-p` at test
        time (see :class:`hpsearch.neural.layers.Dropout`).
    input_dropout : float, default=0.0
        The same for the input features (on sparse ``X``: for its stored entries, which is
        the same distribution, a zero staying zero).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (stratified for single-label
        classification where every class can be represented; otherwise unstratified, with
        a warning, as scikit-learn's MLP does for every multiclass target), stop when the validation score has not improved by ``tol`` for
        more than ``n_iter_no_change`` epochs, and keep the best validation weights.
    validation_fraction : float in [0, 1), default=0.1
        Share of the training rows held out for early stopping (which needs at least 2
        held-out rows and 1 training row; the value is unused without early stopping).
    n_iter_no_change : int, default=10
        Patience, in epochs.
    init : {"auto", "glorot", "he", "normal"}, default="auto"
        Weight initialization. ``"auto"`` is scikit-learn's: Glorot uniform weights *and*
        biases drawn from ``RandomState(random_state)`` in scikit-learn's order
        (:func:`hpsearch.neural.initializers.sklearn_uniform`), so an integer
        ``random_state`` starts from the very weights of ``sklearn.neural_network``'s MLP
        (chosen by measurement: He normal learned more slowly at scikit-learn's default
        budgets, see ``benchmarks/README.md``). ``"glorot"`` (uniform), ``"he"`` (normal)
        and ``"normal"`` (:math:`N(0, 0.01^2)`) draw weights only, biases start at 0.
    dtype : {numpy.float32, numpy.float64, "float32", "float64"} or numpy.dtype, \
default=numpy.float32
        Working precision of weights and computation. The default float32 is deliberate: the
        matrix products run about twice as fast and the batch buffers take half the memory,
        which matters because a search trains thousands of networks, while stochastic
        gradient noise dwarfs float32 rounding (accuracy is unchanged in our tests). Use
        float64 for gradient checking or very small learning rates. Predictions are computed
        in float64 either way and returned in scikit-learn's dtype: float32 when both the ``X``
        of the first fit and the ``X`` predicted are float32 (scikit-learn's weights take the
        training ``X``'s dtype), float64 otherwise.
    engine : {"numpy", "numba"}, default="numpy"
        How each training epoch runs. ``"numpy"``: one NumPy call per step of every
        mini-batch (numba, when installed, fuses the optimizer step bit-identically:
        :mod:`hpsearch.neural.kernels`). ``"numba"``: the whole epoch as one compiled call
        (:mod:`hpsearch.neural.compiled`; needs ``pip install "hpsearch[fast]"``), fits of
        small networks 1.3-3.8x faster (median 2x on the digits nets of
        ``benchmarks/bench_engine.py``; most at small batches), whose mini-batches are
        mostly Python and dispatch around short matrix products. Same formulas, same BLAS products, but **not
        bit-identical** with ``"numpy"`` (``exp``/``log``/``tanh`` differ in the last bit
        between the C library and NumPy): deterministic, so a fixed ``random_state``
        reproduces, and a continued fit still equals a straight one. Epochs it does not
        cover (sparse ``X``, ``sample_weight``, PReLU, Maxout, dropout, the Poisson loss,
        L-BFGS) run on the NumPy path; without numba, ``"numba"`` is an ``ImportError``
        for every solver. The first use on a machine compiles for several seconds (then
        cached on disk; again for each working dtype, ``X`` dtype and a read-only ``X``
        such as a memory map); a process pays about 0.5 s to load it. The
        environment variable ``HPSEARCH_NUMBA`` governs only the fused optimizer step of
        the NumPy path (``0``: pure NumPy there); ``"numba"`` is an explicit choice and
        runs compiled epochs whatever it says. An epoch is one compiled call: Ctrl-C, and
        a ``fit_timeout`` enforced by an alarm inside the worker, act when it ends."""

_ATTRS_DOC = """
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weight matrices (views into one flat vector; with Maxout ``n_out`` is
        ``maxout_pieces * units``, piece-major). With early stopping these are the best
        validation weights. As in scikit-learn they may be edited or replaced
        (``est.coefs_[0] = W``): prediction, ``partial_fit`` / ``warm_start`` and pickling
        use the arrays found here (so do ``intercepts_`` and ``prelu_alphas_``). Set
        with ``intercepts_`` on an untrained estimator, they are the starting weights of
        ``partial_fit`` and of a ``warm_start`` fit (a plain ``fit`` draws its own).
    intercepts_ : list of ndarray of shape (n_out,)
        Bias vectors.
    prelu_alphas_ : list of ndarray of shape (units,)
        Learned PReLU slopes of each hidden layer (empty unless ``activation="prelu"``).
    n_iter_ : int
        Epochs of the last call (``fit``: at most ``max_iter``; ``partial_fit``: 1), or
        L-BFGS iterations with ``solver="lbfgs"``, as scikit-learn. ``history_["epoch"]``
        counts across warm starts and partial fits.
    t_ : int
        Training samples seen in total.
    loss_ : float
        Training loss of the last epoch as scikit-learn reports it, so ``tol`` stops at
        scikit-learn's epoch: the mean over the training rows of each mini-batch's loss
        (its weighted mean with ``sample_weight``) plus the penalty at the weights the
        batch started from divided by the batch's size (weight sum); the squared error of
        a multi-output regressor is averaged over the outputs (the gradient followed is
        that of their sum, as scikit-learn's).
    loss_curve_ : list of float
        ``loss_`` of every epoch (of every L-BFGS iteration with ``"lbfgs"``), across warm
        starts.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    validation_scores_ : list of float or None
        Validation score (accuracy or R²) of every epoch with early stopping, else None.
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    history_ : dict of lists
        Per epoch: ``epoch``, ``loss``, ``validation_score`` (NaN when not measured),
        ``time`` (seconds) and ``grad_norm_<l>`` for each layer ``l`` (mean over the epoch's
        mini-batches of the L2 norm of the data-loss gradient of ``coefs_[l]``: the lecture's
        vanishing-gradient signal). ``pandas.DataFrame(est.history_)`` gives a table.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has feature names.
    n_layers_ : int
        Layers counting input and output (``len(hidden_layer_sizes) + 2``), as sklearn.
    n_outputs_ : int
    out_activation_ : str
        ``"softmax"``, ``"logistic"``, ``"identity"`` or ``"exp"`` (``loss="poisson"``)."""


#: class -> (its ``__init__``, its parameter names): :meth:`_BaseMLP._get_param_names`.
_PARAM_NAMES = weakref.WeakKeyDictionary()

#: Parameter sets that passed scikit-learn's validation (:meth:`_BaseMLP._validate_params`):
#: ``(class, its constraints, frozen parameters)`` keys, bounded.
_VALIDATED = {}
_VALIDATED_MAX = 1024
_PLAIN_VALUES = (type(None), bool, int, float, str, np.integer, np.floating, np.bool_,
                 np.dtype)


def _frozen(value):
    """A hashable stand-in for a parameter value that determines its validation: the
    value with its type (and its items' types), or None when there is none (an object
    such as a ``RandomState``, a NaN, a nested sequence)."""
    if isinstance(value, (tuple, list)):
        items = tuple(_frozen(v) for v in value)
        if any(item is None or isinstance(item[1], tuple) for item in items):
            return None
        return (type(value), items)
    if isinstance(value, _PLAIN_VALUES) or value is np.float32 or value is np.float64:
        if value != value:  # NaN
            return None
        return (type(value), value)
    return None


#: parameters added after the first release, with the default that reproduces the old
#: behaviour (for estimators pickled before them: ``__setstate__``)
_ADDED_PARAMS = {"engine": "numpy"}


class _BaseMLP(BaseEstimator):
    """Shared parameters, validation and training loop of the two estimators."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", _Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(_ACTIVATION_NAMES)],
        "solver": [StrOptions(set(OPTIMIZERS) | {"lbfgs"})],
        "alpha": [_Interval(Real, 0, None, closed="left")],
        "l1": [_Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto", "full"}), _Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [_Interval(Real, 0, None, closed="neither")],
        "max_iter": [_Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [_Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [_Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "power_t": [_Interval(Real, 0, None, closed="left")],
        "max_fun": [_Interval(Integral, 1, None, closed="left")],
        "beta_1": [_Interval(Real, 0, 1, closed="left")],
        "beta_2": [_Interval(Real, 0, 1, closed="left")],
        "epsilon": [_Interval(Real, 0, None, closed="neither")],
        "rho": [_Interval(Real, 0, 1, closed="left")],
        "leaky_slope": [_Interval(Real, 0, 1, closed="left")],
        "prelu_init": [_Interval(Real, None, None, closed="neither")],
        "maxout_pieces": [_Interval(Integral, 2, None, closed="left")],
        "dropout": [_Interval(Real, 0, 1, closed="left")],
        "input_dropout": [_Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        # [0, 1) as sklearn: 0 is valid without early stopping (with it, the split is refused)
        "validation_fraction": [_Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [_Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "init": [StrOptions({"auto"} | set(INITIALIZERS))],
        "dtype": [StrOptions(set(_FLOAT_DTYPES)), Options(type, {np.float32, np.float64}),
                  Options(np.dtype, {np.dtype(np.float32), np.dtype(np.float64)})],
        "engine": [StrOptions(set(ENGINES))],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=1e-4, l1=0.0, batch_size="auto", learning_rate_init=1e-3, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, learning_rate="constant",
                 power_t=0.5, max_fun=15000, beta_1=0.9, beta_2=0.999, epsilon=1e-8, rho=0.9,
                 leaky_slope=0.01, prelu_init=0.25, maxout_pieces=2, dropout=0.0,
                 input_dropout=0.0, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, init="auto", dtype=np.float32, engine="numpy"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.l1 = l1
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.max_fun = max_fun
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.rho = rho
        self.leaky_slope = leaky_slope
        self.prelu_init = prelu_init
        self.maxout_pieces = maxout_pieces
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.init = init
        self.dtype = dtype
        self.engine = engine

    @classmethod
    def _get_param_names(cls):
        """scikit-learn's parameter names (from the ``__init__`` signature), computed once per
        class: ``get_params``, ``set_params`` and ``clone`` ask for them several times per
        fit of a search, and building the signature of 33 parameters costs about 50 us."""
        names = _PARAM_NAMES.get(cls)
        if names is None or names[0] is not cls.__init__:
            names = _PARAM_NAMES[cls] = (cls.__init__, tuple(super()._get_param_names()))
        return list(names[1])

    def _validate_params(self):
        """scikit-learn's parameter validation, once per distinct set of parameter values
        (by value and type) of this class: a search validates each fit of every (candidate,
        split) and each continued fit, about 100-150 us each, with parameters seen before.
        A set holding a value without a plain form (:func:`_frozen`) is validated every
        time, as is any set that failed."""
        cls = type(self)
        frozen = tuple(_frozen(getattr(self, name)) for name in self._get_param_names())
        key = None if None in frozen else (cls, id(cls._parameter_constraints), frozen)
        if key is not None and key in _VALIDATED:
            return
        super()._validate_params()
        if key is not None:
            if len(_VALIDATED) >= _VALIDATED_MAX:
                _VALIDATED.clear()
            _VALIDATED[key] = True

    # ------------------------------------------------------------ hooks
    def _encode_targets(self, y, classes=None, first=True, incremental=False):  # pragma: no cover
        raise NotImplementedError

    def _validation_score(self, y_true, output, sample_weight=None):  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------ helpers
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        error = ValueError(
            f"The 'hidden_layer_sizes' parameter of {type(self).__name__} must be a "
            f"sequence of int in the range [1, inf). Got {sizes!r} instead.")
        try:  # (a 0-d array passes as array-like but cannot be iterated)
            sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        except TypeError:
            raise error from None
        for s in sizes:
            if not isinstance(s, Integral) or isinstance(s, bool) or s < 1:
                raise error
        return [int(s) for s in sizes]

    def _working_dtype(self):
        return np.dtype(_FLOAT_DTYPES.get(self.dtype, self.dtype))

    def _structure(self, n_features, n_outputs):
        return ((n_features, *self._hidden_sizes(), n_outputs), self.activation,
                self.maxout_pieces if self.activation == "maxout" else None,
                self._working_dtype(), self._loss_name)

    def _build_network(self, structure):
        sizes, activation, pieces, dtype, loss = structure
        return Network(sizes, activation, loss, dtype, leaky_slope=self.leaky_slope,
                       prelu_init=self.prelu_init, maxout_pieces=pieces or 2,
                       dropout=self.dropout, input_dropout=self.input_dropout)

    def _optimizer_options(self):
        return dict(learning_rate_init=self.learning_rate_init, momentum=self.momentum,
                    beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, rho=self.rho)

    def _solver_key(self):
        """The update rule the solver parameters select (:func:`resolve_solver`)."""
        return resolve_solver(self.solver, self.momentum, self.nesterovs_momentum)

    def _new_optimizer(self, net):
        key = self._solver_key()
        self._solver = key
        if key not in OPTIMIZERS:  # "lbfgs": no state between fits
            return None
        return OPTIMIZERS[key](net.n_params, net.dtype, **self._optimizer_options())

    def _schedule(self):
        """The learning-rate schedule in force (only the SGD family has one, as sklearn)."""
        return self.learning_rate if self._solver in SGD_FAMILY else "constant"

    def _set_rate(self):
        """Put the schedule's current rate on the optimizer (state: ``t_`` and reductions)."""
        self._optimizer.learning_rate = current_rate(
            self._schedule(), self.learning_rate_init, power_t=self.power_t, t=self.t_,
            reductions=self._lr_reductions)

    def _initialize(self, structure, given=None):
        """Fresh weights (``given``: the user's, :meth:`_weights_set_before_training`),
        optimizer, generators and bookkeeping."""
        legacy = check_random_state(self.random_state)  # sklearn's generator and stream
        seed = _first_draw(legacy, self.random_state)
        init_seq, split_seq, train_seq = np.random.SeedSequence(seed).spawn(3)
        net = self._build_network(structure)
        # "auto": sklearn_uniform below draws every weight and bias, so the network's own
        # draw (overwritten) is skipped
        auto = given is None and self.init == "auto"
        net.initialize(None if auto else np.random.default_rng(init_seq), self.init,
                       weights=not auto)
        if given is not None:  # sklearn draws nothing then (its shuffles start afresh)
            _write_weights(type(self).__name__, given, net.unpack(net.theta))
        elif self.init == "auto":  # sklearn's draws (weights and biases)
            coefs, intercepts, _ = net.unpack(net.theta)
            sklearn_uniform(coefs, intercepts, legacy, self.activation)
        self._shuffle_rs = _private(legacy, self.random_state)  # then sklearn's shuffles
        if not isinstance(self.random_state, Integral):
            legacy.randint(2)  # the user's or the global generator moves on: a new model
        self._order = None
        self._network = net
        self._structure_ = structure
        self._optimizer = self._new_optimizer(net)
        self._lr_reductions = 0
        self._epoch = 0
        self._rng = np.random.default_rng(train_seq)
        self._split_seed = int(split_seq.generate_state(1)[0])
        self._no_improvement_count = 0
        self._best_theta = None
        self._val_scores = []
        self._best_score = -np.inf
        self._min_loss = np.inf
        self.n_layers_ = len(structure[0])
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.history_ = {"epoch": [], "loss": [], "validation_score": [], "time": []}
        self.history_.update({f"grad_norm_{k}": [] for k in range(len(net.dense_layers))})

    def _refresh(self):
        """Apply parameters that may change between warm-started fits."""
        net = self._network
        if (self.dropout, self.input_dropout, self.leaky_slope) != self._net_options:
            new = self._build_network(self._structure_)
            new.theta[...] = net.theta
            self._network = net = new
        self._net_options = (self.dropout, self.input_dropout, self.leaky_slope)
        if self._solver_key() != self._solver:  # a new solver starts with fresh moments
            self._optimizer = self._new_optimizer(net)
        if self._optimizer is None:
            return
        for name, value in self._optimizer_options().items():
            if hasattr(self._optimizer, name):
                setattr(self._optimizer, name, float(value))
        self._set_rate()

    def _set_public_weights(self):
        best = self.early_stopping and self._best_theta is not None and self._solver != "lbfgs"
        self._publish(self._best_theta if best else self._network.theta)

    def _publish(self, flat):
        """Predict with ``flat``; ``coefs_``, ``intercepts_``, ``prelu_alphas_`` are views
        of it (remembered, so that :meth:`_sync_public_weights` sees them replaced)."""
        self._final_theta = flat
        self.coefs_, self.intercepts_, self.prelu_alphas_ = self._network.unpack(flat)
        self._public_views = (tuple(self.coefs_), tuple(self.intercepts_),
                              tuple(self.prelu_alphas_))

    def _sync_public_weights(self):
        """Take in the weight arrays the user put in ``coefs_``, ``intercepts_`` or
        ``prelu_alphas_`` (``est.coefs_[0] = W`` or ``est.coefs_ = [...]``, model surgery):
        scikit-learn's MLP predicts and continues training from its public attributes, so
        their values are written into the weights prediction uses (and, after early
        stopping, into the weights training continues from). Nothing to do while they are
        still the views set by ``fit`` (edits in place already act)."""
        if "_public_views" not in self.__dict__:  # no fit has finished yet
            return
        names = ("coefs_", "intercepts_", "prelu_alphas_")
        public = [getattr(self, name) for name in names]
        if all(len(p) == len(v) and all(a is b for a, b in zip(p, v))
               for p, v in zip(public, self._public_views)):
            return
        _write_weights(type(self).__name__, list(zip(names, public)), self._public_views)
        if self._final_theta is not self._network.theta:  # edited best (early stopping)
            self._network.theta[...] = self._final_theta
        self._publish(self._final_theta)

    def _weights_set_before_training(self, incremental):
        """The ``coefs_`` and ``intercepts_`` (and ``prelu_alphas_``) a user set on an
        estimator not yet trained, as ``[(name, arrays), ...]``: scikit-learn's
        ``partial_fit`` and warm-started ``fit`` start from them instead of drawing weights.
        ``None`` when none are set, or for a plain ``fit`` (which ignores them, as
        scikit-learn)."""
        if not (incremental or self.warm_start) or "coefs_" not in self.__dict__:
            return None
        if "intercepts_" not in self.__dict__:
            raise ValueError(
                f"coefs_ was set on an untrained {type(self).__name__} to start training "
                "from, but intercepts_ was not: set both (one bias vector per layer).")
        return [(name, self.__dict__[name]) for name in ("coefs_", "intercepts_",
                                                          "prelu_alphas_")
                if name in self.__dict__]

    def __getstate__(self):
        self._sync_public_weights()
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__
        if "_network" not in state:  # untrained: weights a user set to start from stay
            return state
        for key in ("coefs_", "intercepts_", "prelu_alphas_", "_final_theta", "_public_views"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        # an estimator pickled before a parameter existed (a study's saved fit, resumed
        # after an upgrade) continues with the parameter's default, the behaviour it had
        for name, default in _ADDED_PARAMS.items():
            self.__dict__.setdefault(name, default)
        if "_network" in self.__dict__:
            self._set_public_weights()

    @staticmethod
    def _check_sample_index(sample_index, n_samples):
        idx = np.asarray(sample_index)
        if idx.ndim != 1 or idx.size == 0 or not (np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(
                "The 'sample_index' parameter of fit must be a non-empty 1-D array of integer "
                f"row indices. Got an array of dtype {idx.dtype} and shape {idx.shape} instead."
            )
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= n_samples:
            raise ValueError(
                f"The 'sample_index' parameter of fit must index rows of X in [0, {n_samples}). "
                f"Got values from {lo} to {hi} instead."
            )
        return idx.astype(np.intp, copy=False)

    # ------------------------------------------------------------ training
    def _fit(self, X, y, sample_index=None, incremental=False, classes=None, sample_weight=None):
        # before anything changes (a warm-started estimator stays as it was), whatever the
        # solver (L-BFGS has no epochs, but engine="numba" without numba is an error there too)
        engine = self._engine()
        first = not (incremental or self.warm_start) or not hasattr(self, "_network")
        Xy = None if y is None else _validate_fast(self, X, y, reset=first)
        if Xy is None:
            Xy = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32),
                               y_numeric=self._is_regressor, accept_sparse=_SPARSE_FORMATS,
                               reset=first)
        X, y = Xy
        X = _as_csr(X)
        if first:
            self._fit_X_dtype = X.dtype  # the dtype of sklearn's weights: of its predictions
        if self._is_regressor and issparse(y):  # (sklearn's MLP fails in its matrix products)
            raise ValueError(
                f"{type(self).__name__} does not accept a sparse y: got a sparse matrix of "
                f"shape {y.shape}. Pass a dense array (e.g. y.toarray()).")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if sample_index is not None:
            sample_index = self._check_sample_index(sample_index, X.shape[0])
            y = y[sample_index]
        sample_weight, weight_unit = _check_weights(
            sample_weight, y, f"{type(self).__name__}.{'partial_fit' if incremental else 'fit'}")
        T = self._encode_targets(y, classes=classes, first=first, incremental=incremental)
        structure = self._structure(X.shape[1], self.n_outputs_)
        if first:
            self._initialize(structure, self._weights_set_before_training(incremental))
            self._net_options = (self.dropout, self.input_dropout, self.leaky_slope)
        else:
            self._sync_public_weights()  # weights the user set continue training
        if not first and structure != self._structure_:
            raise ValueError(
                f"warm_start/partial_fit cannot change the network structure: it was "
                f"{self._structure_[:4]}, the current parameters give {structure[:4]}. "
                "Set warm_start=False to start afresh."
            )
        self._refresh()
        dtype = self._network.dtype
        T = T.astype(self._network.loss.target_dtype(dtype), copy=False)
        self.n_iter_ = 0  # epochs of this call, as sklearn (t_ and loss_curve_ accumulate)
        if self._solver == "lbfgs":
            return self._fit_lbfgs(X if sample_index is None else X[sample_index], T,
                                   sample_weight, weight_unit)
        n = T.shape[0]

        early_stopping = self.early_stopping and not incremental
        positions = np.arange(n)
        X_val = y_val = sw_val = None
        if early_stopping:
            positions, val_pos, X_val, y_val = self._validation_split(X, y, positions,
                                                                      sample_index)
            sw_val = None if sample_weight is None else sample_weight[val_pos]
        n_train = positions.shape[0]
        # the epoch loss is the (weighted) mean over the training rows
        w_train = n_train if sample_weight is None else float(sample_weight[positions].sum())
        if w_train == 0:
            raise ValueError(
                "The 'sample_weight' of the training rows are all zero once early_stopping "
                f"holds out validation_fraction={self.validation_fraction} of the rows: "
                "there is nothing to train on. Give some training rows a positive weight.")
        if sw_val is not None and not sw_val.any():  # else the metric's "at least one
            raise ValueError(                      # non-zero number" blames all the weights
                "The 'sample_weight' of the validation rows that early_stopping holds out "
                f"(validation_fraction={self.validation_fraction}) are all zero: the "
                "validation score is undefined. Give some held-out rows a positive weight "
                "or change 'random_state' or 'validation_fraction'.")
        batch_size = self._batch_size(n_train)

        penalties = make_penalty(alpha=self.alpha, l1=self.l1)
        net, opt, rng = self._network, self._optimizer, self._rng
        data_scale = report_scale(net.loss, self.n_outputs_)
        n_epochs = 1 if incremental else self.max_iter
        stopped = False
        X_rows, by_position = _training_rows(X, sample_index, dtype)
        if engine == "numba" and not issparse(X_rows) and not X_rows.flags.c_contiguous:
            # the compiled epoch reads C-ordered rows: one copy for the fit (an F-ordered X,
            # e.g. a pandas frame's values), not one at every epoch
            X_rows = np.ascontiguousarray(X_rows)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for _ in range(n_epochs):
                tic = time.perf_counter()
                order = self._epoch_order(n_train)
                pos = positions[order] if early_stopping else order
                rows = pos if by_position else sample_index[pos]
                loss_sum, norms, n_batches = net.run_epoch(X_rows, T, rows, pos, batch_size,
                                                           opt, rng, penalties, sample_weight,
                                                           data_scale, weight_unit, engine)
                # sklearn's loss_: each batch's (weighted-mean) loss plus its penalty, times
                # its rows, over the training rows (Network.run_epoch)
                loss = loss_sum / n_train
                self.n_iter_ += 1
                self._epoch += 1
                self.t_ += n_train
                if not np.isfinite(loss):
                    raise self._diverged(f"The training loss became {loss}")
                self.loss_ = float(loss)
                self.loss_curve_.append(self.loss_)
                score = np.nan
                if early_stopping:
                    output = net.predict(X_val)
                    if not np.isfinite(output).all():  # (a finite loss, an overflowed output)
                        raise self._diverged("The validation outputs became non-finite")
                    score = self._validation_score(y_val, output, sw_val)
                plateau = self._update_stopping(score if early_stopping else None)
                self._log_epoch(score, norms / max(n_batches, 1), time.perf_counter() - tic,
                                early_stopping)
                self._set_rate()  # the schedule acts between epochs, as sklearn's
                stopped = plateau and self._on_plateau(early_stopping) and not incremental
                if stopped:
                    break
        if not np.isfinite(net.theta).all():  # the epoch's loss is measured before its steps
            raise self._diverged("The weights became non-finite in the last steps")
        if not opt.state_is_finite():  # finite weights that an overflowed g**2 froze
            raise self._diverged("The optimizer's squared gradients overflowed (the weights "
                                 "they scale stopped moving)")
        if early_stopping:
            self.validation_scores_ = list(self._val_scores)
            self.best_validation_score_ = float(self._best_score)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = float(self._min_loss)
        self._set_public_weights()
        if not incremental and not stopped:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _engine(self):
        """``engine``, checked: ``"numba"`` needs the compiled epoch to import."""
        if self.engine == "numba" and not compiled.available():
            raise ImportError(
                f"The 'engine' parameter of {type(self).__name__} is 'numba', which needs "
                f"numba: importing it failed ({compiled.import_error()!r}). Install it with "
                "pip install \"hpsearch[fast]\", or use engine='numpy'.")
        return self.engine

    def _epoch_order(self, n):
        """Training positions in this epoch's order: scikit-learn's shuffle, which permutes
        the previous epoch's order with ``RandomState.shuffle`` (state kept for warm starts)."""
        if not self.shuffle:
            return np.arange(n)
        if self._order is None or self._order.shape[0] != n:
            self._order = np.arange(n)
        perm = np.arange(n)
        self._shuffle_rs.shuffle(perm)
        self._order = self._order[perm]
        return self._order

    def _on_plateau(self, early_stopping):
        """No improvement for more than ``n_iter_no_change`` epochs: True to stop, or (the
        ``"adaptive"`` schedule) divide the rate by 5, reset the patience and go on."""
        what = "Validation score" if early_stopping else "Training loss"
        # scikit-learn's words and %-formats (tol=0.010000), so logs read the same
        msg = ("%s did not improve more than tol=%f for %d consecutive epochs."
               % (what, self.tol, self.n_iter_no_change))
        schedule, rate = self._schedule(), self._optimizer.learning_rate
        if on_plateau(schedule, rate) == "stop":
            if self.verbose:
                small = " Learning rate too small." if schedule == "adaptive" else ""
                print(f"{msg}{small} Stopping.")
            return True
        self._lr_reductions += 1
        self._no_improvement_count = 0
        self._set_rate()
        if self.verbose:
            print(f"{msg} Setting learning rate to {self._optimizer.learning_rate:f}")
        return False

    def _fit_lbfgs(self, X, T, sample_weight=None, weight_unit=1.0):
        """Full-batch L-BFGS from the current weights (:mod:`hpsearch.neural.lbfgs`)."""
        if self.dropout or self.input_dropout:
            raise ValueError(
                "solver='lbfgs' minimizes the deterministic full-batch loss and does not "
                f"support dropout: got dropout={self.dropout}, input_dropout="
                f"{self.input_dropout}. Set both to 0 or use a stochastic solver.")
        net = self._network
        tic = time.perf_counter()
        self.n_iter_, loss, curve = minimize_lbfgs(
            net, X, T, make_penalty(alpha=self.alpha, l1=self.l1), max_iter=self.max_iter,
            max_fun=self.max_fun, tol=self.tol, verbose=self.verbose,
            sample_weight=sample_weight, data_scale=report_scale(net.loss, self.n_outputs_),
            weight_unit=weight_unit)
        if not (np.isfinite(loss) and np.isfinite(net.theta).all()):
            raise TrainingDivergedError(
                f"{_NON_FINITE} L-BFGS ended at a non-finite loss or weights (loss {loss})."
                f"{self._float32_hint()}")
        seconds = (time.perf_counter() - tic) / max(len(curve), 1)
        no_norms = [np.nan] * len(net.dense_layers)
        for value in curve:  # one history row per L-BFGS iteration
            self._epoch += 1
            self.loss_ = value
            self._log_epoch(np.nan, no_norms, seconds, early_stopping=False, quiet=True)
        self.loss_ = loss
        self.loss_curve_.extend(curve)
        self.best_loss_ = float(min(curve, default=loss))
        self.validation_scores_ = self.best_validation_score_ = None
        self._set_public_weights()
        return self

    def _loss_grad_lbfgs(self, packed, X, Y, sample_weight=None, *buffers):
        """scikit-learn's private flat objective, which its own test suite calls: the L-BFGS
        loss and gradient at ``packed`` (weights then biases, scikit-learn's order and ours
        for Dense layers) for indicator targets ``Y``, computed in float64."""
        sizes, activation, pieces, _, loss = self._structure_
        net = self._build_network((sizes, activation, pieces, np.dtype(np.float64), loss))
        T = np.argmax(Y, axis=1) if loss == "softmax_cross_entropy" else Y
        penalties = make_penalty(alpha=self.alpha, l1=self.l1)
        return flat_objective(net, X, T, penalties)(np.asarray(packed, dtype=np.float64))

    def _validation_split(self, X, y, positions, sample_index):
        """Hold out ``validation_fraction`` of the training positions (stratified for
        single-label classification); returns the kept and held-out positions and the
        held-out data."""
        self._check_split_sizes(len(positions))
        stratify = y if (not self._is_regressor and y.ndim == 1) else None
        try:
            positions, val_pos = train_test_split(
                positions, test_size=self.validation_fraction,
                random_state=self._split_seed, stratify=stratify)
        except ValueError as exc:
            if stratify is None:
                raise
            # too few rows of some class to stratify (a small CV fold): scikit-learn's MLP,
            # which never stratifies a multiclass target, trains here; so do we, unstratified
            warnings.warn(
                "The validation set of early_stopping cannot be stratified with "
                f"validation_fraction={self.validation_fraction} of {len(y)} samples ({exc}); "
                "it is drawn unstratified. Increase 'validation_fraction' or the size of your "
                "dataset for a stratified one.", UserWarning)
            positions, val_pos = train_test_split(
                positions, test_size=self.validation_fraction, random_state=self._split_seed)
        val_rows = val_pos if sample_index is None else sample_index[val_pos]
        return positions, val_pos, X[val_rows], y[val_pos]

    def _check_split_sizes(self, n):
        """The early-stopping split of ``n`` rows must leave at least 2 validation rows
        and 1 training row (sizes as :func:`~sklearn.model_selection.train_test_split`
        draws them: ``ceil(f n)`` held out, the rest kept)."""
        fraction = self.validation_fraction
        n_val = math.ceil(fraction * n)
        n_train = n - n_val
        if n_val < 2:
            raise ValueError(
                f"The validation set is too small: validation_fraction={fraction} of {n} "
                f"samples gives {n_val}. Increase 'validation_fraction' or the size of your "
                "dataset.")
        if n_train < 1:
            raise ValueError(
                f"The training set is empty: validation_fraction={fraction} of {n} samples "
                f"holds out {n_val} and leaves {n_train} to train on. Decrease "
                "'validation_fraction' or increase the size of your dataset.")

    def _batch_size(self, n_train):
        if self.batch_size == "auto":
            return min(200, n_train)
        if self.batch_size == "full":
            return n_train
        if self.batch_size > n_train:  # sklearn's warning (e.g. a small CV fold)
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped")
        return min(self.batch_size, n_train)

    def _log_epoch(self, score, grad_norms, seconds, early_stopping, quiet=False):
        """Append the epoch to ``history_`` (and print it when ``verbose``)."""
        h = self.history_
        h["epoch"].append(self._epoch)
        h["loss"].append(self.loss_)
        h["validation_score"].append(float(score))
        h["time"].append(seconds)
        for k, v in enumerate(grad_norms):
            h[f"grad_norm_{k}"].append(float(v))
        if self.verbose and not quiet:
            msg = f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}"
            if early_stopping:  # on a line of its own, as scikit-learn prints it
                msg += f"\nValidation score: {score:f}"
            print(msg)

    def _update_stopping(self, score):
        """Patience bookkeeping (as sklearn); returns True when training should stop."""
        if score is not None:
            self._val_scores.append(float(score))
            if score < self._best_score + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self._best_score or self._best_theta is None:
                self._best_score = score
                if self._best_theta is None:
                    self._best_theta = self._network.theta.copy()
                else:
                    self._best_theta[...] = self._network.theta
        else:
            loss = self.loss_
            if loss > self._min_loss - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self._min_loss = min(self._min_loss, loss)
        return self._no_improvement_count > self.n_iter_no_change

    def _forward(self, X, sklearn_dtype=True):
        """The network's outputs for ``X``, in scikit-learn's dtype (:meth:`_output_dtype`)
        or, with ``sklearn_dtype=False``, in float64 (labels are decided on these)."""
        check_is_fitted(self)
        self._sync_public_weights()
        X_checked = _validate_fast(self, X, reset=False)
        if X_checked is None:
            X_checked = validate_data(self, X, dtype=(np.float64, np.float32),
                                      accept_sparse=_SPARSE_FORMATS, reset=False)
        X = _as_csr(X_checked)
        with np.errstate(over="ignore", under="ignore"):
            # computed in float64 whatever the working dtype: a row's prediction then does not
            # depend on which other rows share its matrix product (BLAS picks kernels by
            # shape), and the weights are used at full precision; training speed is unchanged
            P = self._network.predict(X, self._final_theta, dtype=np.float64)
        return P.astype(self._output_dtype(X), copy=False) if sklearn_dtype else P

    def _output_dtype(self, X):
        """scikit-learn's dtype of the predictions of ``X``: its MLP keeps its weights in
        the dtype of the first training ``X`` and multiplies ``X`` by them, so its outputs
        are float32 when both are float32 and float64 otherwise, whatever our working
        ``dtype`` (a model pickled before this was recorded predicts float64)."""
        fitted = self.__dict__.get("_fit_X_dtype", np.dtype(np.float64))
        return np.result_type(X.dtype, fitted)

    def _diverged(self, what):
        """The :class:`TrainingDivergedError` of an epoch whose ``what`` (the training
        loss, the validation outputs) became NaN or infinite."""
        return TrainingDivergedError(
            f"{_NON_FINITE} {what} at epoch {self._epoch} of {type(self).__name__}: "
            f"training diverged. Try a smaller learning_rate_init (it is "
            f"{self.learning_rate_init}) or scale the features (e.g. StandardScaler)."
            f"{self._float32_hint()}")

    def _float32_hint(self):
        """What to add to a divergence message when the working dtype is float32, whose
        range (3.4e38) is far below scikit-learn's float64 (1.8e308)."""
        if self._network.dtype != np.float32:
            return ""
        return (f" The working dtype is float32 (largest value {np.finfo(np.float32).max:.3g}"
                "; inputs, learning rates and activations beyond it overflow): "
                "dtype=np.float64 computes in scikit-learn's range.")

    def _continues_exactly(self):
        """Whether ``warm_start=True`` continues bit for bit (the searches' continued
        training asks, :func:`hpsearch.model_selection._base._continues_exactly`): not
        with ``solver="lbfgs"``, where each ``fit`` starts a fresh L-BFGS run from the
        weights (:mod:`hpsearch.neural.lbfgs`), so 1 then 2 iterations differ from 3."""
        return self.solver != "lbfgs"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = f"""Multi-layer perceptron classifier (NumPy, LECTURE.md §1-§4).

    Softmax + cross-entropy for more than two classes, one sigmoid unit + binary cross-entropy
    for two, one sigmoid per label for multilabel indicator targets.

    Parameters
    ----------{_PARAMS_DOC}

    Attributes
    ----------
    classes_ : ndarray
        Class labels (for multilabel targets, the label indices).{_ATTRS_DOC}

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from hpsearch import MLPClassifier
    >>> from sklearn.model_selection import train_test_split
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=30, random_state=0))
    >>> clf.fit(X_train, y_train).score(X_test, y_test) > 0.94  # 0.958
    True
    """

    _is_regressor = False

    def _encode_targets(self, y, classes=None, first=True, incremental=False):
        if first:
            self._label_binarizer = LabelBinarizer()
            if incremental and classes is not None and not _is_multilabel(y):
                self._label_binarizer.fit(classes)
                _check_known_classes(y, self._label_binarizer.classes_)
            else:
                if incremental and classes is not None:  # label columns beyond the declared
                    _check_known_classes(y, unique_labels(classes))  # classes (sklearn's)
                _fit_label_binarizer(self._label_binarizer, y)
            self.classes_ = self._label_binarizer.classes_
        else:
            if (self._label_binarizer.y_type_ != "multilabel-indicator" and y.ndim > 1
                    and _is_multilabel(y)):  # (a 1-D y never is: no type_of_target pass)
                raise ValueError(  # (sklearn's LabelBinarizer: "not fitted with multilabel")
                    f"y is a multilabel indicator matrix, but {type(self).__name__} was "
                    f"trained on a {self._label_binarizer.y_type_} target with classes "
                    f"{self.classes_}. Pass y of the same kind, or fit afresh "
                    "(warm_start=False).")
            seen = _labels_seen(y)
            if self.warm_start and not incremental:
                if set(seen) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {seen}")
            else:
                _check_known_classes(y, self.classes_)
        lb = self._label_binarizer
        if lb.y_type_ == "multiclass":
            self._loss_name = "softmax_cross_entropy"
            self.n_outputs_ = len(self.classes_)
            self.out_activation_ = "softmax"
            return np.searchsorted(self.classes_, y)
        self._loss_name = "binary_cross_entropy"
        self.out_activation_ = "logistic"
        T = lb.transform(y)
        self.n_outputs_ = T.shape[1]
        return T

    def _validation_score(self, y_true, output, sample_weight=None):
        return accuracy_score(y_true, self._decode(output), sample_weight=sample_weight)

    def _decode(self, P):
        if self._loss_name == "softmax_cross_entropy":
            return self.classes_[np.argmax(P, axis=1)]
        return self._label_binarizer.inverse_transform(P)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, sample_index=None):
        """Train for ``max_iter`` epochs (continuing the saved state if ``warm_start``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Dense, or sparse CSR/CSC (never densified, see :mod:`hpsearch.neural.network`).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the training rows (of ``sample_index`` when given), with
            scikit-learn's normalization: each step follows the gradient of the batch's
            weighted-mean loss plus the penalty divided by the batch's weight sum (formulas
            in :mod:`hpsearch.neural.losses`), and the early-stopping validation score is
            weighted. Integer weights equal repeated rows and zero weights dropped rows
            (exactly so with ``batch_size="full"``: mini-batches otherwise group the rows
            differently).
        sample_index : array-like of int, default=None
            Train only on these rows of ``X``/``y``. Mini-batches are gathered by index from
            ``X``, so a cross-validation fold never copies a large ``X`` (a small one, up to
            16 MiB in the working dtype, has its rows converted once per fit rather than per
            mini-batch); the result equals
            ``fit(X[sample_index], y[sample_index], sample_weight=sample_weight)`` exactly.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_index=sample_index, sample_weight=sample_weight)

    @available_if(_is_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for exactly one epoch, continuing the saved state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows, as in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            All classes; required on the first call (``y`` may hold only these), and the
            same on later calls if given.

        Not with ``early_stopping=True`` (a ValueError, as sklearn: there is no validation
        split in one epoch), and not with ``solver="lbfgs"`` (no such method).

        Returns
        -------
        self
        """
        _refuse_early_stopping(self)
        if not _check_partial_fit_first_call(self, classes) and "_network" not in self.__dict__:
            classes = self.classes_  # a first call that failed: keep the classes it declared
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted class labels (or label indicator matrix for multilabel)."""
        y = self._decode(self._forward(X, sklearn_dtype=False))
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ != "multilabel-indicator":
            y = y.ravel()
        return y

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``."""
        P = self._forward(X)
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ != "multilabel-indicator":
            P = np.hstack([1 - P, P])
        return P

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        P = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(P, out=P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _signature_plus(init, parameter):
    """The signature of ``init`` with ``parameter`` inserted after the positional ones."""
    params = list(inspect.signature(init).parameters.values())
    n_positional = sum(p.kind == p.POSITIONAL_OR_KEYWORD for p in params)
    return inspect.signature(init).replace(
        parameters=[*params[:n_positional], parameter, *params[n_positional:]])


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = f"""Multi-layer perceptron regressor (NumPy, LECTURE.md §1-§4).

    One output unit per target column: identity output + half squared error, or
    exponential output + half Poisson deviance (``loss="poisson"``).

    Parameters
    ----------
    loss : {{"squared_error", "poisson"}}, default="squared_error"
        scikit-learn's meaning: ``"squared_error"`` is the half squared error with identity
        output, ``"poisson"`` the half Poisson deviance with exponential output (log link;
        requires ``y >= 0``; formulas in :class:`hpsearch.neural.losses.PoissonDeviance`).
        Keyword-only here (sklearn also accepts it as the first positional argument).{_PARAMS_DOC}

    Attributes
    ----------{_ATTRS_DOC}

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from hpsearch import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor((32,), learning_rate_init=0.01, max_iter=100, random_state=0)
    >>> reg.fit(X[:350], y[:350] / 100).score(X[350:], y[350:] / 100) > 0.3
    True
    """

    _is_regressor = True
    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error",
                 **params):
        super().__init__(hidden_layer_sizes, activation, **params)
        self.loss = loss

    # the parameter list is written once, in _BaseMLP.__init__; sklearn's get_params/clone
    # read this signature (the base's parameters plus the keyword ``loss``)
    __init__.__signature__ = _signature_plus(
        _BaseMLP.__init__, inspect.Parameter("loss", inspect.Parameter.KEYWORD_ONLY,
                                             default="squared_error"))

    def _encode_targets(self, y, classes=None, first=True, incremental=False):
        if y.dtype.kind in "US":  # (numpy would parse '1.5' silently; sklearn's MLP fails)
            raise ValueError(
                f"The target y of {type(self).__name__} must be numeric. Got an array of "
                f"strings (dtype {y.dtype}), e.g. {y.flat[0].item()!r}. Convert it, e.g. with "
                "y.astype(float), or use MLPClassifier for class labels.")
        T = y.reshape(y.shape[0], -1)
        if self.loss == "poisson" and T.size and T.min() < 0:
            raise ValueError(
                "The target y of MLPRegressor with loss='poisson' must be non-negative (the "
                f"Poisson deviance is defined for y >= 0). Got a minimum of {T.min()}.")
        self._loss_name = self.loss
        if first:
            self.n_outputs_ = T.shape[1]
            self.out_activation_ = LOSSES[self.loss].out_activation
            self._y_ndim = y.ndim
        elif T.shape[1] != self.n_outputs_:
            raise ValueError(  # (sklearn's MLP trains its old outputs on a broadcast y)
                f"y has {T.shape[1]} output columns, but the network was trained with "
                f"{self.n_outputs_}: warm_start and partial_fit continue the same network. "
                f"Pass y with {self.n_outputs_} columns, or fit afresh (warm_start=False).")
        return T

    def _validation_score(self, y_true, output, sample_weight=None):
        return r2_score(y_true, output.reshape(y_true.shape), sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, sample_index=None):
        """Train for ``max_iter`` epochs (continuing the saved state if ``warm_start``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Dense, or sparse CSR/CSC (never densified).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Non-negative with ``loss="poisson"``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the training rows (of ``sample_index`` when given), as
            in :meth:`MLPClassifier.fit`; the early-stopping R² is weighted too.
        sample_index : array-like of int, default=None
            Train only on these rows (gathered by index, no copy of a large ``X``); equals
            ``fit(X[sample_index], y[sample_index], sample_weight=sample_weight)`` exactly.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_index=sample_index, sample_weight=sample_weight)

    @available_if(_is_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for exactly one epoch, continuing the saved state.

        Not with ``early_stopping=True`` (a ValueError, as sklearn).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows, as in :meth:`fit`.

        Returns
        -------
        self
        """
        _refuse_early_stopping(self)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted targets, shape ``(n_samples,)`` or ``(n_samples, n_targets)``."""
        P = self._forward(X)
        return P.ravel() if self._y_ndim == 1 else P

