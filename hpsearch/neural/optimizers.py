"""Gradient-descent solvers on one flat parameter vector (LECTURE.md §2).

A base class fixes :meth:`Optimizer.update` (count the step, then call ``_update``); each solver
writes only ``_update(theta, g)``, which changes ``theta`` **in place** and may use ``g`` as
scratch space (the gradient is recomputed for the next batch anyway). All state — moment
arrays and the step count ``t`` — lives on the object, so it pickles and training continues
exactly where it stopped.

The step size is :attr:`Optimizer.learning_rate`, the *current* rate: it starts at
``learning_rate_init`` and a learning-rate schedule (:mod:`hpsearch.neural.schedules`) may
change it between epochs, as scikit-learn's ``SGDOptimizer.learning_rate``.

scikit-learn's ``solver="sgd"`` is SGD with ``momentum`` (0.9) and ``nesterovs_momentum``
(True); :func:`resolve_solver` maps an estimator's ``(solver, momentum, nesterovs_momentum)``
onto the classes here, so that ``"sgd"`` trains as in scikit-learn while plain SGD
(``momentum=0``), Momentum and Nesterov stay reachable by name.
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels

__all__ = ["OPTIMIZERS", "SGD_FAMILY", "resolve_solver", "Optimizer", "SGD", "Momentum", "Nesterov", "Adagrad", "RMSProp", "Adam"]


class Optimizer:
    """Base class: holds the learning rate and the step count ``t`` (steps taken so far)."""

    def __init__(self, n_params, dtype, *, learning_rate_init=1e-3, **options):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = self.learning_rate_init  # current rate (a schedule may change it)
        self.t = 0
        self.dtype = np.dtype(dtype)
        self._tmp = np.zeros(n_params, self.dtype)

    #: names of the state arrays carried from step to step (moments)
    _state = ()

    def state_is_finite(self):
        """Whether every state array is finite. A squared-gradient sum or average that
        overflowed (:math:`g^2` beyond the dtype's range: :math:`|g| > 1.8 \\cdot 10^{19}`
        in float32) makes the adaptive step :math:`g / \\sqrt{\\infty} = 0` for good: the
        weights stay finite but stop moving, which only this check reveals."""
        return all(np.isfinite(getattr(self, name)).all() for name in self._state)

    def _eps(self, value):
        """``value`` (an epsilon, > 0) in the working dtype, or its smallest positive
        number where it rounds to 0 there (e.g. 1e-320, valid in scikit-learn's float64,
        in float32): else a zero gradient's step would be 0/0 = NaN."""
        eps = self.dtype.type(value)
        return eps if eps else np.finfo(self.dtype).smallest_subnormal

    def _scaled_step(self, theta, g, squares):
        r"""Shared step of the adaptive rates: :math:`\theta \leftarrow \theta -
        \eta\, g / (\sqrt{s} + \epsilon)` for the accumulated squares :math:`s`."""
        tmp = self._tmp
        np.sqrt(squares, out=tmp)
        tmp += self._eps(self.epsilon)
        np.divide(g, tmp, out=tmp)
        tmp *= self.dtype.type(self.learning_rate)
        theta -= tmp

    def _zeros(self, n):
        return np.zeros(n, self.dtype)

    def update(self, theta, g):
        """One step: ``t <- t + 1``, then the solver's rule."""
        self.t += 1
        self._update(theta, g)

    def step(self, theta, g, penalties=(), n_penalized=0, scale=1.0):
        """One mini-batch step with weight penalties: :meth:`update` on ``g + penalty gradient``.

        Each penalty adds ``scale`` times its gradient to ``g[:n_penalized]`` (the weights),
        then the solver's rule runs. A solver with a fused kernel (:meth:`_fused_step`) does
        both in one pass, bit-identically.
        """
        self.t += 1
        if self._kernel is not None:  # (one call a step: it also keeps numba's load account)
            kernel = kernels.fused(self._kernel, theta.shape[0], bool(penalties))
            if kernel is not None and self._fused_step(kernel, theta, g, penalties,
                                                       n_penalized, scale):
                return
        if penalties:
            w, gw, scratch = theta[:n_penalized], g[:n_penalized], self._tmp[:n_penalized]
            for pen in penalties:
                pen.add_gradient(w, gw, scratch, scale)
        self._update(theta, g)

    #: solver name for :func:`hpsearch.neural.kernels.fused` (None: NumPy only)
    _kernel = None

    def _kernel_args(self):
        """``(state arrays, constants)`` of the fused kernel for the current step."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _fused_step(self, kernel, theta, g, penalties, n_penalized, scale):
        """Penalties and update in one compiled pass of ``kernel``; False when the
        penalties are not the kernel's."""
        kinds = [pen.kind for pen in penalties]
        if kinds not in ([], ["l2"], ["l1"], ["l2", "l1"]):
            return False  # a combination or order the kernel does not reproduce
        f = self.dtype.type
        coef = {"l2": f(0), "l1": f(0)}
        for pen in penalties:
            coef[pen.kind] = f(pen.strength * scale)  # the constant of pen.add_gradient
        state, constants = self._kernel_args()
        kernel(theta, g, *state, n_penalized, coef["l2"], coef["l1"], "l2" in kinds,
               "l1" in kinds, *constants)
        return True


class SGD(Optimizer):
    r"""Plain (mini-batch) gradient descent: :math:`\theta \leftarrow \theta - \eta g`."""

    _kernel = "sgd"

    def _update(self, theta, g):
        g *= self.dtype.type(self.learning_rate)
        theta -= g

    def _kernel_args(self):
        return (), (self.dtype.type(self.learning_rate),)


class Momentum(Optimizer):
    r"""Momentum (LECTURE.md §2), with :math:`\lambda` = ``momentum``:

    .. math::
        v_0 = 0, \quad v_{t+1} = \lambda v_t - \eta g_t, \quad \theta_{t+1} = \theta_t + v_{t+1}
    """

    _state = ("velocity",)

    def __init__(self, n_params, dtype, *, momentum=0.9, **options):
        super().__init__(n_params, dtype, **options)
        self.momentum = float(momentum)
        self.velocity = self._zeros(n_params)

    _kernel, _nesterov = "momentum", False

    def _update(self, theta, g):
        v = self.velocity
        v *= self.dtype.type(self.momentum)
        g *= self.dtype.type(self.learning_rate)
        v -= g
        theta += v

    def _kernel_args(self):
        f = self.dtype.type
        return (self.velocity,), (f(self.momentum), f(self.learning_rate), self._nesterov)


class Nesterov(Momentum):
    r"""Nesterov momentum in the look-ahead form of Sutskever et al. (2013), as in sklearn:

    .. math::
        v_{t+1} = \lambda v_t - \eta g_t, \quad
        \theta_{t+1} = \theta_t + \lambda v_{t+1} - \eta g_t

    which equals evaluating the gradient at the look-ahead point :math:`\theta + \lambda v`.
    """

    _kernel, _nesterov = "nesterov", True

    def _update(self, theta, g):
        v, tmp = self.velocity, self._tmp
        v *= self.dtype.type(self.momentum)
        g *= self.dtype.type(self.learning_rate)
        v -= g
        np.multiply(v, self.dtype.type(self.momentum), out=tmp)
        tmp -= g
        theta += tmp


class Adagrad(Optimizer):
    r"""Adagrad (LECTURE.md §2): per-parameter rate from the sum of all past squared gradients.

    .. math::
        G_t = \sum_{s \le t} g_s^2, \quad
        \theta \leftarrow \theta - \frac{\eta}{\sqrt{G_t} + \epsilon}\, g_t
    """

    _state = ("sum_sq",)

    def __init__(self, n_params, dtype, *, epsilon=1e-8, **options):
        super().__init__(n_params, dtype, **options)
        self.epsilon = float(epsilon)
        self.sum_sq = self._zeros(n_params)

    def _update(self, theta, g):
        G, tmp = self.sum_sq, self._tmp
        np.multiply(g, g, out=tmp)
        G += tmp
        self._scaled_step(theta, g, G)

    _kernel = "adagrad"

    def _kernel_args(self):
        f = self.dtype.type
        return (self.sum_sq,), (f(0), f(0), False, self._eps(self.epsilon), f(self.learning_rate),
                                False)


class RMSProp(Optimizer):
    r"""RMSProp in the lecture's form (LECTURE.md §2), decay :math:`\rho` = ``rho``:

    .. math::
        \sigma_0 = |g_0|, \quad
        \sigma_t = \sqrt{\rho\,\sigma_{t-1}^2 + (1-\rho)\,g_t^2}, \quad
        \theta \leftarrow \theta - \frac{\eta}{\sigma_t + \epsilon}\, g_t

    Smaller :math:`\rho` trusts recent gradients more. ``mean_sq`` stores :math:`\sigma_t^2`.
    """

    _state = ("mean_sq",)

    def __init__(self, n_params, dtype, *, rho=0.9, epsilon=1e-8, **options):
        super().__init__(n_params, dtype, **options)
        self.rho = float(rho)
        self.epsilon = float(epsilon)
        self.mean_sq = self._zeros(n_params)

    def _update(self, theta, g):
        S, tmp = self.mean_sq, self._tmp
        np.multiply(g, g, out=tmp)
        if self.t == 1:  # sigma_0 = |g_0|
            S[...] = tmp
        else:
            S *= self.dtype.type(self.rho)
            tmp *= self.dtype.type(1.0 - self.rho)
            S += tmp
        self._scaled_step(theta, g, S)

    _kernel = "rmsprop"

    def _kernel_args(self):
        f = self.dtype.type
        return (self.mean_sq,), (f(self.rho), f(1.0 - self.rho), self.t == 1, self._eps(self.epsilon),
                                 f(self.learning_rate), True)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, Algorithm 1; LECTURE.md §2):

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,

        \hat m_t = \frac{m_t}{1-\beta_1^t}, \quad \hat v_t = \frac{v_t}{1-\beta_2^t}, \quad
        \theta \leftarrow \theta - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    The same numbers with fewer passes over memory: the stored moments are
    :math:`m' = m/(1-\beta_1)` and :math:`v' = v/(1-\beta_2)`, whose updates
    :math:`m' \leftarrow \beta_1 m' + g`, :math:`v' \leftarrow \beta_2 v' + g^2` need no
    scaling of ``g``, and the step is
    :math:`\theta \leftarrow \theta - \frac{\eta (1-\beta_1)\sqrt{1-\beta_2^t}}
    {(1-\beta_1^t)\sqrt{1-\beta_2}} \cdot \frac{m'}{\sqrt{v'} + \epsilon
    \sqrt{1-\beta_2^t}/\sqrt{1-\beta_2}}`.
    The lecture's moments are the properties :attr:`m` and :attr:`v`.

    This differs from scikit-learn's ``AdamOptimizer`` in :math:`\epsilon` only, a
    deliberate choice (the lecture quotes Algorithm 1): scikit-learn uses Kingma & Ba's
    "efficient" form :math:`\theta \leftarrow \theta - \eta_t\, m_t/(\sqrt{v_t} +
    \epsilon)` with :math:`\eta_t = \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)`, which is
    Algorithm 1 with :math:`\epsilon` replaced by :math:`\epsilon/\sqrt{1-\beta_2^t}`
    (about 32 times larger at :math:`t = 1`, equal for large :math:`t`). The steps agree
    whenever :math:`|g| \gg \epsilon`, i.e. in practice with the default 1e-8.
    """

    _state = ("_m", "_v")

    def __init__(self, n_params, dtype, *, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **options):
        super().__init__(n_params, dtype, **options)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self._m = self._zeros(n_params)
        self._v = self._zeros(n_params)
        self._scaled_by = (self.beta_1, self.beta_2)

    @property
    def m(self):
        """First moment :math:`m_t` of the lecture's formula."""
        return self._m * (1.0 - self._scaled_by[0])

    @property
    def v(self):
        """Second moment :math:`v_t` of the lecture's formula."""
        return self._v * (1.0 - self._scaled_by[1])

    def _rescale(self):
        """Keep the stored moments consistent when beta_1/beta_2 change (warm start)."""
        (o1, o2), (b1, b2) = self._scaled_by, (self.beta_1, self.beta_2)
        self._m *= self.dtype.type((1.0 - o1) / (1.0 - b1))
        self._v *= self.dtype.type((1.0 - o2) / (1.0 - b2))
        self._scaled_by = (b1, b2)

    def _constants(self):
        """``(beta_1, beta_2, epsilon', step)`` of step ``t`` in the working dtype."""
        f = self.dtype.type
        if self._scaled_by != (self.beta_1, self.beta_2):
            self._rescale()
        b1, b2, t = self.beta_1, self.beta_2, self.t
        c2 = math.sqrt((1.0 - b2**t) / (1.0 - b2))
        return (f(b1), f(b2), self._eps(self.epsilon * c2),
                f(self.learning_rate * (1.0 - b1) * c2 / (1.0 - b1**t)))

    def _update(self, theta, g):
        b1, b2, eps, step = self._constants()
        m, v, tmp = self._m, self._v, self._tmp
        m *= b1
        m += g
        v *= b2
        np.multiply(g, g, out=g)
        v += g
        np.sqrt(v, out=tmp)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= step
        theta -= tmp

    _kernel = "adam"

    def _kernel_args(self):
        return (self._m, self._v), self._constants()


SGD_FAMILY = {"sgd", "momentum", "nesterov"}
"""Solvers whose rate follows the ``learning_rate`` schedule (scikit-learn's ``"sgd"``)."""


def resolve_solver(solver, momentum=0.9, nesterovs_momentum=True):
    r"""Key of :data:`OPTIMIZERS` for an estimator's solver parameters.

    ``"sgd"`` has scikit-learn's meaning: Nesterov momentum when ``momentum > 0`` and
    ``nesterovs_momentum``, classical momentum when ``momentum > 0`` without it, plain SGD
    when ``momentum == 0`` (:math:`v \leftarrow 0\cdot v - \eta g` is the plain step, so
    the velocity is dropped). ``"momentum"`` and ``"nesterov"`` name the lecture's rules
    directly (``nesterovs_momentum`` is then ignored); every other name is its own class.
    """
    if solver != "sgd":
        return solver
    if momentum == 0:
        return "sgd"
    return "nesterov" if nesterovs_momentum else "momentum"


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSProp,
    "adam": Adam,
}
