"""The recipe's vocabulary: causes, how each is detected, and the fixes for each, in order.

Everything is a table keyed by the cause's name (the string in ``Diagnosis.causes``):
:data:`CAUSES` explains it, :data:`DETECTORS` decides it from the evidence and :data:`FIXES`
lists the lecture's fixes as functions ``(params, ctx) -> dict | None`` that turn the model's
current parameters into one concrete change (None where it does not apply, e.g. a parameter
the estimator lacks). The order of :data:`CAUSES` is the order of the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

from ._remedies import _boosted, _kernel, _number, _penalized, _plain

__all__ = ["CAUSES", "TRAINING_CAUSES", "DETECTORS", "FIXES", "Context", "fixes_for",
           "training_causes",
           "active_regularization", "describe_fix"]

#: cause -> what it means (the documented vocabulary of ``Diagnosis.causes``)
CAUSES = {
    "unstable": "the training loss rises, oscillates or diverged: the learning rate is too "
                "high for this solver",
    "vanishing_gradients": "the first layer's gradients are orders of magnitude below the last "
                           "layer's: the early layers barely learn (saturating activations in a "
                           "deep stack, or a tiny initialization)",
    "over_regularized": "dropout, L1, a strong L2 penalty or early stopping is active while "
                        "training is poor: these fight overfitting and only lower the "
                        "training score",
    "not_converged": "the training loss is still falling at the end (or the estimator warned "
                     "that it did not converge): train longer or faster",
    "stuck": "an MLP whose loss settled at a poor value without the causes above although "
             "no layer is narrower than the outputs and a linear model fits the same rows: "
             "the optimizer is stuck (saturated units, a plateau), not short of capacity",
    "too_small": "too little capacity: a layer narrower than the number of outputs, or (not "
                 "an MLP, or an MLP where even the linear model fits poorly) none of the "
                 "causes above",
    "large_gap": "good on the training rows, much worse on the validation rows: overfitting",
}

#: the causes looked for when the problem is "training" (all but large_gap)
TRAINING_CAUSES = tuple(c for c in CAUSES if c != "large_gap")

_ADAPTIVE = {"adam", "rmsprop", "adagrad"}
_SATURATING = {"sigmoid", "logistic", "tanh"}
_RELU_FAMILY = {"relu", "leaky_relu", "prelu", "maxout"}


@dataclass
class Context:
    """What the detectors and fix functions see."""

    params: dict
    thresholds: dict
    trend: dict = field(default_factory=dict)   # loss_trend(...) or {}
    ratios: list | None = None                  # gradient_ratios(...) or None
    warned: bool = False                        # a ConvergenceWarning during fit
    diverged: bool = False                      # the fit raised on a non-finite loss
    stopped: bool = False                       # the estimator stopped before max_iter
    n_outputs: int | None = None
    linear_fits: bool = False                   # the linear reference trains well
    below_baseline: bool = False                # training score < baseline's - the unit
    model: object = None                        # the fitted final step


# ---------------------------------------------------------------- detectors
def _unstable(c):
    """The fit diverged, or its loss rose or oscillated; or, for an estimator taking steps
    of a size it is given (``learning_rate_init``, SGD's ``eta0``), a training score more
    than a whole unit below the trivial baseline's: it fits its own rows far worse than
    predicting the mean, its steps overshot (an SGDRegressor at ``eta0=10``, r2 -4e18, was
    "too small" and told to weaken its penalty). The score tells it only for a fit without
    a loss curve: one whose loss neither rose nor oscillated did not overshoot (an MLP
    still far from a target of mean 1000 after 5 epochs, its loss falling in every one, was
    "unstable (the loss moved 0% per epoch, up and down)" and told a smaller step)."""
    return c.diverged or bool(c.trend.get("rising")) or bool(c.trend.get("oscillating")) \
        or (c.below_baseline and not c.trend
            and (_has_step_size(c.params) or _has_eta0(c.params)))


def _vanishing(c):
    return bool(c.ratios) and c.ratios[0] < c.thresholds["vanishing"]


def _lbfgs(params):
    """``solver="lbfgs"``: full-batch L-BFGS, which ignores ``learning_rate_init`` and
    ``early_stopping`` (hpsearch's MLP and scikit-learn's) and refuses dropout (hpsearch's),
    so fixes changing those would change nothing or fail."""
    return params.get("solver") == "lbfgs"


def active_regularization(params, thresholds):
    """The regularization that counts against training: dropout, input_dropout or l1 above
    0, an MLP's alpha above ``thresholds["regularized"]`` and an MLP's early stopping (on a
    small, noisy validation set it stops before the net has learned; not with
    ``solver="lbfgs"``, which ignores it); as ``{name: value}``."""
    out = {k: params[k] for k in ("dropout", "input_dropout", "l1") if (params.get(k) or 0) > 0}
    if "hidden_layer_sizes" in params and (params.get("alpha") or 0) > thresholds["regularized"]:
        out["alpha"] = params["alpha"]
    if "hidden_layer_sizes" in params and params.get("early_stopping") is True \
            and not _lbfgs(params):
        out["early_stopping"] = True
    return out


def _over_regularized(c):
    return bool(active_regularization(c.params, c.thresholds))


def _not_converged(c):
    """Still falling at the end of all ``max_iter`` epochs, or before the estimator warned
    that it did not converge (L-BFGS stopped by ``max_fun`` runs fewer than ``max_iter``
    iterations and warns: it did not stop by itself); a curve too short for a trend (under
    2 epochs) that ran all its epochs, or a ConvergenceWarning, counts too. A loss still
    falling at the end, but by less than ``thresholds["slow"]`` per epoch, counts even when
    the estimator stopped before ``max_iter``: its ``tol`` rule stopped a training that was
    still improving in (almost) every epoch, only in steps too small (a learning rate far too
    small: ``learning_rate_init=1e-6`` was "stuck" and told to lower it to ``1e-7``); not a
    stop by ``early_stopping`` (the validation score stopped it: over_regularized's case), nor
    L-BFGS's (its line search picks its own steps; it stops at a flat point)."""
    if c.trend.get("n_epochs", 0) >= 2:
        tol_stop = (bool(c.trend.get("slow")) and c.params.get("early_stopping") is not True
                    and _has_step_size(c.params))
        return bool(c.trend.get("falling")) and (not c.stopped or c.warned or tol_stop)
    return c.warned or (bool(c.trend) and not c.stopped)


def _hidden(p):
    sizes = p.get("hidden_layer_sizes")
    if sizes is None:
        return None
    return [sizes] if isinstance(sizes, Integral) else list(sizes)


def _bottleneck(c):
    sizes = _hidden(c.params)
    return sizes is not None and c.n_outputs is not None and \
        (len(sizes) == 0 or min(sizes) < c.n_outputs)


#: cause -> detector(ctx) -> bool. stuck and too_small are decided last by
#: :func:`training_causes`: a bottleneck is too_small; with no other cause an MLP is stuck
#: when the linear reference trains well, and anything else is too_small.
DETECTORS = {
    "unstable": _unstable,
    "vanishing_gradients": _vanishing,
    "over_regularized": _over_regularized,
    "not_converged": _not_converged,
    "stuck": lambda c: "hidden_layer_sizes" in c.params and c.linear_fits and not _bottleneck(c),
    "too_small": _bottleneck,
    "large_gap": lambda c: True,
}

_FALLBACK = ("stuck", "too_small")


def training_causes(ctx):
    """The causes of a poor training score, in the order of :data:`CAUSES`."""
    found = [c for c in TRAINING_CAUSES if c not in _FALLBACK and DETECTORS[c](ctx)]
    if DETECTORS["too_small"](ctx):
        found.append("too_small")
    elif not found:
        found.append("stuck" if DETECTORS["stuck"](ctx) else "too_small")
    return found


# ---------------------------------------------------------------- fixes
def _tidy(x):
    return float(f"{x:.3g}")


def _relu(p, c):
    if p.get("activation") in _SATURATING:
        return {"activation": "relu", **({"init": "he"} if p.get("init") == "normal" else {})}
    return None


def _he_init(p, c):
    if p.get("activation") in _RELU_FAMILY and p.get("init") in {"normal", "glorot"}:
        return {"init": "he"}
    return None


def _maxout(p, c):
    if "maxout_pieces" in p and p.get("activation") not in {"maxout", "relu"}:
        return {"activation": "maxout"}
    return None


def _adam(p, c):
    """An adaptive learning rate, for an MLP only: other estimators' ``solver`` (e.g.
    LogisticRegression's, Ridge's) has no ``"adam"`` and the fix would not fit."""
    if "hidden_layer_sizes" in p and "solver" in p and p["solver"] not in _ADAPTIVE:
        return {"solver": "adam"}
    return None


def _has_step_size(p):
    """Whether ``learning_rate_init`` acts: not with ``solver="lbfgs"``, whose line search
    picks its own steps (hpsearch's MLP and scikit-learn's ignore the parameter then)."""
    return "learning_rate_init" in p and not _lbfgs(p)


def _has_eta0(p):
    """Whether SGD's ``eta0`` sets its step size (not with ``learning_rate="optimal"``,
    scikit-learn's default for SGDClassifier, which ignores it)."""
    return _number(p.get("eta0")) and p.get("learning_rate") != "optimal"


def _lower_eta0(p, c):
    if _has_eta0(p):
        return {"eta0": _tidy(p["eta0"] / 10)}
    return None


def _lower_lr(p, c):
    if _has_step_size(p):
        return {"learning_rate_init": _tidy(p["learning_rate_init"] / 10)}
    return None


def _raise_lr(p, c):
    if _has_step_size(p) and c.trend.get("slow"):
        return {"learning_rate_init": _tidy(p["learning_rate_init"] * 10)}
    return None


def _more_epochs(p, c):
    """More iterations; for L-BFGS stopped by its budget of loss evaluations before
    ``max_iter`` (``max_fun``), more evaluations (more iterations would change nothing);
    none for an estimator that stopped itself before ``max_iter`` without warning (its
    ``tol`` rule: a larger ``max_iter`` would end at the same epoch)."""
    if _lbfgs(p) and c.stopped and c.warned and isinstance(p.get("max_fun"), Integral):
        return {"max_fun": max(10 * int(p["max_fun"]), 15000)}
    if c.stopped and not c.warned:  # its tol rule stopped it: more max_iter changes nothing
        return None
    if isinstance(p.get("max_iter"), Integral):
        return {"max_iter": max(10 * int(p["max_iter"]), 200)}
    return None


def _no_dropout(p, c):
    fix = {k: 0.0 for k in ("dropout", "input_dropout") if (p.get(k) or 0) > 0}
    return fix or None


def _less_penalty(p, c):
    fix = {}
    if (p.get("l1") or 0) > 0:
        fix["l1"] = 0.0
    if "hidden_layer_sizes" in p and (p.get("alpha") or 0) > c.thresholds["regularized"]:
        fix["alpha"] = _tidy(p["alpha"] / 10)
    return fix or None


def _more_patience(p, c):
    if p.get("early_stopping") is True and not _lbfgs(p) \
            and isinstance(p.get("n_iter_no_change"), Integral):
        return {"n_iter_no_change": 3 * int(p["n_iter_no_change"])}
    return None


def _wider(p, c):
    sizes = _hidden(p)
    if sizes is None:
        return None
    floor = 2 * (c.n_outputs or 1)
    return {"hidden_layer_sizes": tuple(max(2 * s, floor) for s in sizes) or (100,)}


def _scaled(name, factor, *, kind=float, when=lambda v: True, none=None):
    """Fix that multiplies parameter ``name`` by ``factor`` (``none``: value replacing None)."""
    def fix(p, c):
        if name not in p or isinstance(p[name], bool):
            return None
        value = p[name]
        if value is None:
            return None if none is None else {name: none(c)}
        if not isinstance(value, Real) or not when(value):
            return None
        new = max(1, int(round(value * factor))) if kind is int else _tidy(value * factor)
        return None if new == value else {name: new}
    return fix


def _less_alpha(p, c):
    """Weaker penalty of a non-MLP estimator (for an MLP, over_regularized handles alpha);
    not of a boosted ensemble, whose ``alpha`` (GradientBoostingRegressor's) is the
    quantile of its huber/quantile loss, no penalty (``alpha=0.09`` was suggested)."""
    if not _plain(p):
        return None
    return _scaled("alpha", 0.1, when=lambda v: v > 0)(p, c)


def _early_stopping(p, c):
    if p.get("early_stopping") is False and not _lbfgs(p):
        return {"early_stopping": True}
    return None


def _more_l2(p, c):
    """A stronger ``alpha`` penalty; not for a boosted ensemble (``alpha`` of
    GradientBoostingRegressor is a quantile in (0, 1): ``alpha=9.0`` was suggested, which
    its ``fit`` refuses), nor with ``penalty=None`` (Perceptron's default: no effect)."""
    if "alpha" in p and isinstance(p["alpha"], Real) and not _boosted(p) and _penalized(p):
        return {"alpha": _tidy(p["alpha"] * 10) if p["alpha"] > 0 else 1e-3}
    return None


def _dropout(p, c):
    if "dropout" in p and (p["dropout"] or 0) < 0.5 and not _lbfgs(p):
        return {"dropout": _tidy(min((p["dropout"] or 0) + 0.2, 0.5))}
    return None


def _narrower(p, c):
    sizes = _hidden(p)
    if sizes and max(sizes) > 1:
        return {"hidden_layer_sizes": tuple(max(1, s // 2) for s in sizes)}
    return None


def _gamma(factor):
    """An RBF/poly/sigmoid kernel's numeric ``gamma`` times ``factor`` (none for a linear
    kernel, which ignores it, nor for ``"scale"``/``"auto"``, which name no number)."""
    scaled = _scaled("gamma", factor, when=lambda v: v > 0)
    return lambda p, c: scaled(p, c) if _kernel(p) else None


def _penalty_c(factor):
    """``C`` (the inverse penalty) times ``factor``; none with ``penalty=None``, where it
    does nothing. An infinite ``C`` (no penalty: scikit-learn's replacement for
    LogisticRegression's deprecated ``penalty=None``) stays infinite when scaled: a weaker
    penalty is none, a stronger one starts at ``C=1.0``, scikit-learn's default."""
    scaled = _scaled("C", factor)

    def fix(p, c):
        if not _penalized(p):
            return None
        value = p.get("C")
        if _number(value) and value == float("inf"):
            return {"C": 1.0} if factor < 1 else None
        return scaled(p, c)
    return fix


def _boosting(name, factor, kind=float):
    """``name`` times ``factor`` for a boosted ensemble only (its numeric
    ``learning_rate`` is the shrinkage; an MLP's is a schedule, and a random forest's
    ``n_estimators`` is no capacity: more trees do not fit the training rows closer)."""
    scaled = _scaled(name, factor, kind=kind, when=lambda v: v > 0)
    return lambda p, c: scaled(p, c) if _boosted(p) else None


def _stronger(name, start):
    """A penalty ``name`` ten times stronger, or ``start`` where it is 0 (off)."""
    def fix(p, c):
        value = p.get(name)
        if not isinstance(value, Real) or isinstance(value, bool) or value < 0:
            return None
        return {name: _tidy(value * 10) if value > 0 else start}
    return fix


def _leaf(factor):
    """``min_samples_leaf`` times ``factor``: a count as a count (at least 1), a fraction of
    the rows (a float in (0, 1)) as a fraction, at most 0.5 (a larger one leaves no split).
    A fraction read as a count made ``min_samples_leaf=0.05`` a large gap's fix
    ``min_samples_leaf=1``: one row a leaf, less regularization, not more."""
    count = _scaled("min_samples_leaf", factor, kind=int)

    def fix(p, c):
        value = p.get("min_samples_leaf")
        if isinstance(value, Integral) or not _number(value) or not 0 < value < 1:
            return count(p, c)
        new = min(_tidy(value * factor), 0.5)
        return None if new == value or new <= 0 else {"min_samples_leaf": new}
    return fix


def _fitted_depth(c):
    depth = getattr(c.model, "get_depth", None)
    return max(1, depth() // 2) if callable(depth) else 5


#: cause -> the lecture's fixes in order (LECTURE.md §2 for the training side: new activation,
#: then adaptive learning rate; §3 for the generalization side: early stopping,
#: regularization, dropout, less capacity). Generic sklearn knobs (C, an RBF kernel's gamma,
#: max_depth, a boosted ensemble's n_estimators / max_iter / learning_rate, n_neighbors,
#: min_samples_leaf, l2_regularization) follow the same two directions; the words of the
#: texts for each are :data:`hpsearch.diagnostics._remedies.REMEDIES`.
FIXES = {
    "unstable": [_lower_lr, _lower_eta0, _adam],
    "vanishing_gradients": [_relu, _he_init, _maxout, _adam],
    "over_regularized": [_no_dropout, _less_penalty, _more_patience],
    "not_converged": [_raise_lr, _more_epochs, _adam],
    "stuck": [_relu, _adam, _lower_lr, _he_init],
    "too_small": [_wider, _penalty_c(10), _gamma(10), _scaled("max_depth", 2, kind=int),
                  _boosting("n_estimators", 3, kind=int), _boosting("max_iter", 3, kind=int),
                  _boosting("learning_rate", 3),
                  _scaled("n_neighbors", 1 / 3, kind=int),
                  _leaf(1 / 3),
                  _less_alpha, _scaled("l2_regularization", 0.1, when=lambda v: v > 0)],
    "large_gap": [_early_stopping, _more_l2, _penalty_c(0.1), _gamma(0.1), _dropout,
                  _narrower, _scaled("max_depth", 0.5, kind=int, none=_fitted_depth),
                  _boosting("learning_rate", 1 / 3),
                  _scaled("n_neighbors", 5, kind=int), _leaf(5),
                  _stronger("l2_regularization", 1.0)],
}


def _refused(model, fix):
    """Whether ``model``'s class refuses a value of ``fix`` by its scikit-learn parameter
    constraints (``_parameter_constraints``; nothing is refused without them)."""
    constraints = getattr(type(model), "_parameter_constraints", None)
    if model is None or not isinstance(constraints, dict):
        return False
    from sklearn.utils._param_validation import (InvalidParameterError,
                                                 validate_parameter_constraints)

    known = {k: v for k, v in fix.items() if k in constraints}
    try:
        validate_parameter_constraints({k: constraints[k] for k in known}, known,
                                       caller_name=type(model).__name__)
    except InvalidParameterError:
        return True
    return False


def fixes_for(causes, ctx, prefix=""):
    """The fixes of ``causes`` in order, without duplicates, keys prefixed for a pipeline."""
    out = []
    for cause in causes:
        for make in FIXES.get(cause, ()):
            fix = make(ctx.params, ctx)
            if fix and _refused(ctx.model, fix):
                continue  # (LabelSpreading's alpha in (0, 1) was told alpha=2.0)
            if fix:
                fix = {prefix + k: v for k, v in fix.items()}
                if fix not in out:
                    out.append(fix)
    return out


def describe_fix(fix):
    """``{"activation": "relu"}`` -> ``activation='relu'``."""
    return ", ".join(f"{k}={v!r}" for k, v in fix.items())
