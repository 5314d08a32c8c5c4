r"""Full-batch L-BFGS training (scikit-learn's ``solver="lbfgs"``) through SciPy.

The objective is scikit-learn's: the mean data loss of all :math:`n` training rows plus the
weight penalties of the summed loss divided by :math:`n`,

.. math::
    J(\theta) = \frac{1}{n}\sum_{i=1}^{n} L(f_\theta(x_i), y_i)
              + \frac{1}{n}\Big(\frac{\lambda_2}{2}\lVert w\rVert^2 + \lambda_1\lVert w\rVert_1\Big),

minimized over the network's flat parameter vector by
``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` with ``maxiter=max_iter``,
``maxfun=max_fun`` and ``gtol=tol``. Each evaluation is one forward and one backward pass
over all rows (:meth:`hpsearch.neural.network.Network.loss_and_grad`).

L-BFGS keeps no state between calls (as in scikit-learn, a warm start begins a fresh
L-BFGS run from the current weights), so there is nothing to save for continuation.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

__all__ = ["flat_objective", "minimize_lbfgs"]


def flat_objective(net, X, T, penalties, sample_weight=None, weight_unit=1.0):
    """``fun(theta) -> (J, dJ/dtheta)`` of the network on ``(X, T)`` (float64 in and out).

    .. math::

        J(\\theta) = \\frac{1}{S}\\Big(\\sum_i s_i\\, \\ell_i(\\theta) + \\Omega(W)\\Big),
        \\qquad S = \\sum_i s_i,

    with ``s_i = 1`` (``S = n``) without ``sample_weight``, as scikit-learn normalizes a
    weighted loss and its penalty :math:`\\Omega`. The true weights are ``sample_weight``
    times ``weight_unit`` (the estimators store them scaled by a power of two, see
    :func:`hpsearch.mlp._check_weights`): only :math:`S` in the penalty term depends on
    it. ``X`` (dense, or sparse CSR kept sparse) is converted to the network's working
    dtype once; ``theta`` is copied into the network before each evaluation, so the
    network ends holding the last point evaluated.
    """
    if sp.issparse(X):
        X = X.astype(net.dtype)
    else:
        X = np.ascontiguousarray(X, dtype=net.dtype)
    if sample_weight is None:
        n = X.shape[0]
    else:
        n = float(np.sum(sample_weight, dtype=np.float64)) * weight_unit
    n_pen = net.n_penalized
    scratch = np.empty(n_pen, net.dtype)

    def fun(theta):
        net.theta[...] = theta
        loss = float(net.loss_and_grad(X, T, sample_weight=sample_weight))
        w, gw = net.theta[:n_pen], net.grad[:n_pen]
        for pen in penalties:
            loss += pen.penalty(w) / n
            pen.add_gradient(w, gw, scratch, 1.0 / n)
        return loss, net.grad.astype(np.float64)

    return fun


def _check_result(result, max_iter):
    """``n_iter_`` of an L-BFGS result, warning as scikit-learn when it did not converge."""
    n_iter = min(int(result.nit), max_iter)
    if result.status != 0:
        message = (f"lbfgs failed to converge after {n_iter} iteration(s) "
                   f"(status={result.status}):\n{result.message}\n")
        if n_iter == max_iter:
            message += ("\nIncrease the number of iterations to improve the convergence "
                        f"(max_iter={max_iter}).")
        message += ("\nYou might also want to scale the data as shown in:\n"
                    "    https://scikit-learn.org/stable/modules/preprocessing.html")
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return n_iter


def minimize_lbfgs(net, X, T, penalties, *, max_iter, max_fun, tol, verbose=False,
                   sample_weight=None, data_scale=1.0, weight_unit=1.0):
    """Minimize :func:`flat_objective` from the network's current weights.

    Returns ``(n_iter, loss, curve)``: the iterations done (at most ``max_iter``; a
    :class:`~sklearn.exceptions.ConvergenceWarning` as scikit-learn's when L-BFGS stopped
    on a limit), the final loss, and the loss after every iteration. The network's
    ``theta`` holds the solution afterwards. The loss returned is the objective with its
    data term times ``data_scale`` (scikit-learn's report of a multi-output squared
    error, averaged over outputs: ``1/n_outputs``); the objective minimized is unchanged.
    ``weight_unit``: the true weight of a stored weight 1, as in :func:`flat_objective`.
    """
    objective = flat_objective(net, X, T, penalties, sample_weight, weight_unit)
    curve, last = [], [np.nan]
    n = X.shape[0] if sample_weight is None else float(np.sum(sample_weight,
                                                              dtype=np.float64)) * weight_unit

    def reported(value):
        if data_scale == 1.0:
            return value
        pen = float(net.penalty(penalties)) / n  # (the network holds the point evaluated)
        return (value - pen) * data_scale + pen

    def fun(theta):
        value, grad = objective(theta)
        last[0] = reported(value)
        return value, grad

    def record(xk):  # after each iteration; its last evaluation was at the new iterate xk
        curve.append(float(last[0]))  # (the old-style callback: scipy >= 1.10)
        if verbose:
            print(f"Iteration {len(curve)}, loss = {curve[-1]:.8f}")

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        result = scipy.optimize.minimize(
            fun, net.theta.astype(np.float64), method="L-BFGS-B", jac=True, callback=record,
            options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol})
    net.theta[...] = result.x
    loss = float(result.fun) if data_scale == 1.0 else reported(objective(result.x)[0])
    return _check_result(result, max_iter), loss, curve
