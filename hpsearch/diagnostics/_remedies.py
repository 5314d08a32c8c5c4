"""The recipe's remedies in the words of the model at hand (LECTURE.md §2-§4).

The lecture speaks of networks: poor training is fixed by a new activation, an adaptive
learning rate, more epochs or more capacity; a large gap by early stopping, regularization,
dropout, less capacity. A report on a tree, a ridge model, an SVC or a boosted ensemble must
name that model's own knobs instead (a ridge model told to change its "activation, solver"
or to "lower the learning rate" is told something wrong). :data:`REMEDIES` maps a parameter
name to the words of each side of the recipe; :func:`remedies` looks up the parameters of
the estimator (the final step of a pipeline) in it, and falls back to the neutral words
"capacity" and "regularization" for an estimator none of whose parameters it knows.
"""

from __future__ import annotations

from numbers import Real

__all__ = ["NEUTRAL", "REMEDIES", "final_params", "overfitting_text", "region_labels",
           "remedies", "training_text"]


def _number(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _network(p):
    """An MLP (hpsearch's or scikit-learn's)."""
    return "hidden_layer_sizes" in p


def _boosted(p):
    """A boosted ensemble (GradientBoosting*, HistGradientBoosting*, AdaBoost*): its
    ``learning_rate`` is a number, the shrinkage (an MLP's and SGD's is a schedule's name)."""
    return _number(p.get("learning_rate"))


def _penalized(p):
    """A penalty acts: not ``penalty=None`` (Perceptron's default, SGD's option), which
    leaves ``alpha`` and ``C`` without effect."""
    return p.get("penalty", "l2") is not None


def _plain(p):
    """Neither a network nor a boosted ensemble, and penalized: ``alpha`` is a penalty's
    strength (GradientBoostingRegressor's ``alpha`` is the quantile of its huber/quantile
    loss; Perceptron's does nothing without a ``penalty``)."""
    return not (_network(p) or _boosted(p)) and _penalized(p)


def _kernel(p):
    """``gamma`` is a kernel's width: a kernel other than the linear one (SVC, KernelRidge,
    LabelSpreading's ``"rbf"``). Not for an estimator without a ``kernel`` parameter:
    XGBoost's ``gamma`` is the loss a split must gain, which regularizes the larger it is
    (the other way round)."""
    kernel = p.get("kernel")
    return isinstance(kernel, str) and kernel not in ("linear", "precomputed", "knn")


def _always(p):
    return True


def _is_set(v):
    """A bound that can be raised (None: unlimited already)."""
    return _number(v)


def _positive(v):
    return _number(v) and v > 0


def _above(k):
    return lambda v: _number(v) and v > k


def _not_on(v):
    return v is not True


def _finite(v):
    """A ``C`` that can be raised (``np.inf``: no penalty already)."""
    return _number(v) and v < float("inf")


def _shrinkable_leaf(v):
    """A ``min_samples_leaf`` above one row: a count above 1, or a fraction of the rows."""
    return _number(v) and (v > 1 or 0 < v < 1)


def _full(v):
    return _number(v) and v >= 1


#: parameter -> variants ``(applies(params), poor training, large gap)``: the first variant
#: that applies to the estimator's parameters is used. Each side is None (no remedy there),
#: the words, or ``(words, holds(value))`` where the remedy exists only for some current
#: values (no "a smaller min_samples_leaf" at 1, no "a larger max_depth" at None, which is
#: unlimited). The order of the keys is the order of the words (LECTURE.md §2: activation,
#: then adaptive learning rate; §3: early stopping, regularization, dropout, less capacity).
REMEDIES = {
    "activation": [(_network, "activation", None)],
    "solver": [(_network, "solver or adaptive learning rate", None)],
    "learning_rate_init": [(_network, "learning rate", None)],
    "init": [(_network, "initialization", None)],
    "max_iter": [(_network, "more epochs", None),
                 (_boosted, "more boosting iterations (max_iter)",
                  "fewer boosting iterations (max_iter)")],
    "n_estimators": [(_boosted, "more n_estimators", "fewer n_estimators")],
    "learning_rate": [(_boosted, "a larger learning_rate", "a smaller learning_rate")],
    "early_stopping": [(_always, None, ("early stopping", _not_on))],
    "alpha": [(_network, None, "a larger alpha"),
              (_plain, ("a smaller alpha", _positive), "a larger alpha")],
    "l1": [(_network, None, "l1")],
    "dropout": [(_always, None, "dropout")],
    "l2_regularization": [(_always, ("a smaller l2_regularization", _positive),
                           "a larger l2_regularization")],
    "C": [(_penalized, ("a larger C", _finite), "a smaller C")],
    "gamma": [(_kernel, "a larger gamma", "a smaller gamma")],
    "n_neighbors": [(_always, ("fewer n_neighbors", _above(1)), "more n_neighbors")],
    "max_depth": [(_always, ("a larger max_depth", _is_set), "a smaller max_depth")],
    "max_leaf_nodes": [(_always, ("more max_leaf_nodes", _is_set), "fewer max_leaf_nodes")],
    "min_samples_leaf": [(_always, ("a smaller min_samples_leaf", _shrinkable_leaf),
                          "a larger min_samples_leaf")],
    "min_samples_split": [(_always, ("a smaller min_samples_split", _above(2)),
                           "a larger min_samples_split")],
    "ccp_alpha": [(_always, ("a smaller ccp_alpha", _positive), "a larger ccp_alpha")],
    "subsample": [(_boosted, None, ("subsample below 1", _full))],
    "hidden_layer_sizes": [(_always, "more capacity", "smaller hidden_layer_sizes")],
}

#: the words for an estimator none of whose parameters :data:`REMEDIES` knows
NEUTRAL = ("more capacity or less regularization", "more regularization or less capacity")


def final_params(estimator):
    """``get_params(deep=False)`` of the estimator a pipeline (nested too) ends with."""
    from ._curves import final_step

    get = getattr(final_step(estimator)[0], "get_params", None)
    return get(deep=False) if callable(get) else {}


def _words(params, side, values=True):
    out = []
    for name, variants in REMEDIES.items():
        if name not in params:
            continue
        for applies, *words in variants:
            if applies(params):
                said = words[side]
                if isinstance(said, tuple):
                    said = said[0] if not values or said[1](params[name]) else None
                if said:
                    out.append(said)
                break
    return out


def remedies(estimator, values=True):
    """``{"training": [...], "overfitting": [...], "network": bool}``: the words of the
    remedies for poor training and for a large gap that ``estimator`` (the final step of a
    pipeline) can apply, in the lecture's order (:data:`REMEDIES`); :data:`NEUTRAL` on a
    side where none is known. ``values=False``: whatever the current values (the regions
    of a map hold candidates at many values: "a larger max_depth" for the training region
    of a search over an unlimited tree's depths)."""
    params = final_params(estimator)
    training, gap = _words(params, 0, values), _words(params, 1, values)
    return {"training": training or [NEUTRAL[0]], "overfitting": gap or [NEUTRAL[1]],
            "network": _network(params)}


def training_text(estimator):
    """'optimize first (a larger max_depth, ...); more regularization will not help'."""
    r = remedies(estimator)
    extra = "dropout and regularization" if r["network"] else "more regularization"
    return f"optimize first ({', '.join(r['training'])}); {extra} will not help"


def overfitting_text(estimator):
    """'more regularization or less capacity (a smaller max_depth, ...) or more data, then
    check the training score again'."""
    r = remedies(estimator)
    said = "" if r["overfitting"] == [NEUTRAL[1]] else f" ({', '.join(r['overfitting'])})"
    return (f"more regularization or less capacity{said} or more data, then check the "
            "training score again")


def region_labels(estimator, width=20):
    """The recipe map's two region labels for ``estimator``: what the training-problem
    region and the overfitting region ask for (at most three remedies each)."""
    import textwrap

    r = remedies(estimator, values=False)
    train = textwrap.fill(", ".join(r["training"][:3]), width)
    gap = textwrap.fill(", ".join(r["overfitting"][:3]), width)
    return (f"training problem:\noptimize first\n({train})", f"overfitting:\n{gap}")
