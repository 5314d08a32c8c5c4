r"""Learning-rate schedules of the SGD family, with scikit-learn's meanings (``learning_rate``).

A schedule is a pure function of the training state, so the state *is* data already kept on
the estimator — the number of training samples seen ``t_`` and the number of times the
adaptive schedule has divided the rate — and a warm-started or unpickled fit continues
bit-identically. The rate changes only between epochs (never inside the per-batch loop):
:func:`current_rate` gives the rate of the next epoch, after the estimator has counted the
finished epoch's samples into ``t_``, exactly where scikit-learn's
``SGDOptimizer.iteration_ends`` and ``trigger_stopping`` act.

- ``"constant"``: :math:`\eta_t = \eta_0`.
- ``"invscaling"``: :math:`\eta_t = \eta_0 / (t + 1)^{p}` with :math:`t` the training samples
  seen so far and :math:`p` = ``power_t`` (scikit-learn's formula: the first epoch uses
  :math:`\eta_0`, the next :math:`\eta_0/(n+1)^p` for :math:`n` samples per epoch, ...).
- ``"adaptive"``: :math:`\eta = \eta_0 / 5^k`, where :math:`k` counts the times the stopping
  rule fired (the training loss, or the validation score with early stopping, did not
  improve by ``tol`` for more than ``n_iter_no_change`` epochs): instead of stopping,
  the rate is divided by 5 and the patience counter reset; training stops once the rate is
  at most :data:`MIN_ADAPTIVE_RATE` when the rule fires.
"""

from __future__ import annotations

__all__ = ["MIN_ADAPTIVE_RATE", "SCHEDULES", "current_rate", "on_plateau"]

#: The adaptive schedule stops training (as scikit-learn) once the rate is this small.
MIN_ADAPTIVE_RATE = 1e-6


def _constant(eta0, *, power_t, t, reductions):
    return eta0


def _invscaling(eta0, *, power_t, t, reductions):
    return eta0 / (t + 1) ** power_t if t > 0 else eta0


def _adaptive(eta0, *, power_t, t, reductions):
    rate = eta0
    for _ in range(reductions):  # repeated division, as scikit-learn's ``rate /= 5``
        rate /= 5.0
    return rate


SCHEDULES = {"constant": _constant, "invscaling": _invscaling, "adaptive": _adaptive}


def current_rate(name, eta0, *, power_t=0.5, t=0, reductions=0):
    """The learning rate for the next epoch under schedule ``name``.

    Parameters
    ----------
    name : {"constant", "invscaling", "adaptive"}
    eta0 : float
        ``learning_rate_init``.
    power_t : float
        Exponent of ``"invscaling"``.
    t : int
        Training samples seen so far (the estimator's ``t_``).
    reductions : int
        Divisions by 5 so far (``"adaptive"``).
    """
    return float(SCHEDULES[name](float(eta0), power_t=power_t, t=t, reductions=reductions))


def on_plateau(name, rate):
    """What the stopping rule does under schedule ``name`` at the current ``rate``.

    Returns ``"stop"`` (every schedule but ``"adaptive"``, or ``"adaptive"`` whose rate is
    already at most :data:`MIN_ADAPTIVE_RATE`) or ``"reduce"`` (divide the rate by 5 and reset
    the patience counter).
    """
    if name == "adaptive" and rate > MIN_ADAPTIVE_RATE:
        return "reduce"
    return "stop"
