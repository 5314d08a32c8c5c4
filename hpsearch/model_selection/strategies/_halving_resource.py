"""What a budget means for an estimator: epochs, samples, or any integer parameter.

Halving, Hyperband and pruned Optuna trials all raise a *resource* rung by rung
(``LECTURE.md`` §7, dynamic resource allocation). :func:`resource_plan` looks once at the
estimator and says which parameter carries the budget and whether a (candidate, split) can
continue from its saved training state (``DESIGN.md`` decision 2) instead of refitting:

============== ================================ =========================================
resource       budget given to the engine       continues training
============== ================================ =========================================
``"epochs"``   ``{"max_iter": r}`` (or           when the estimator (the last step of a
               ``"<step>__max_iter"``)           Pipeline) has ``warm_start``, or it has
                                                ``partial_fit``
``"n_samples"`` ``{"n_samples": r}`` (train      never
               folds subsampled to r rows)
any name       ``{name: r}``                    never (refit at each budget)
============== ================================ =========================================
"""

from dataclasses import dataclass
from numbers import Integral

__all__ = ["ResourcePlan", "continues_by_partial_fit", "resource_plan", "warm_start_param"]

EPOCH_PARAM = "max_iter"


@dataclass(frozen=True)
class ResourcePlan:
    """How a search spends a budget on an estimator.

    Attributes
    ----------
    resource : str
        What the user asked for (``"epochs"``, ``"n_samples"`` or a parameter name).
    param : str
        Key of the budget dict handed to ``evaluate(resources=...)``.
    continues : bool
        Raise the budget with ``continue_training=True``.
    default_max : int or None
        The estimator's own value of ``param`` (what ``max_resources="auto"`` means for a
        parameter); None for ``"n_samples"``.
    """

    resource: str
    param: str
    continues: bool
    default_max: int | None

    def budget(self, n_resources):
        """The ``resources`` dict of one rung."""
        return {self.param: int(n_resources)}

    def check_not_searched(self, spaces):
        """Refuse a budget parameter that is also searched (as sklearn's halving does).

        Parameters
        ----------
        spaces : iterable of dict
            Candidates or sub-spaces, keyed by parameter name.
        """
        if self.resource != "n_samples" and any(self.param in s for s in spaces):
            raise ValueError(
                f"Cannot use parameter {self.param} as the resource since it is part of "
                "the searched parameters."
            )


def _last_step_prefix(estimator):
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        return f"{steps[-1][0]}__"
    return ""


def resource_plan(estimator, resource, *, owner):
    """Resolve ``resource`` for ``estimator``.

    Parameters
    ----------
    estimator : estimator object
    resource : str
        ``"epochs"``, ``"n_samples"`` or an integer parameter of the estimator
        (``step__param`` names for pipelines).
    owner : str
        Class name for error messages.

    Returns
    -------
    ResourcePlan
    """
    params = estimator.get_params(deep=True)
    if resource == "n_samples":
        return ResourcePlan("n_samples", "n_samples", False, None)
    if resource == "epochs":
        prefix = _last_step_prefix(estimator)
        name = f"{prefix}{EPOCH_PARAM}"
        if name not in params:
            name = EPOCH_PARAM if EPOCH_PARAM in params else None
            prefix = ""
        if name is None:
            raise ValueError(
                f"The 'resource' parameter of {owner} is 'epochs', which needs an "
                f"estimator with a '{EPOCH_PARAM}' parameter (itself or the last step of a "
                f"Pipeline); {type(estimator).__name__} has none. Use resource='n_samples' "
                "or the name of an integer parameter."
            )
        continues = f"{prefix}warm_start" in params or hasattr(estimator, "partial_fit")
        return ResourcePlan("epochs", name, continues, _int_or_none(params[name]))
    if not isinstance(resource, str) or resource not in params:
        raise ValueError(
            f"Cannot use resource={resource} which is not supported by estimator "
            f"{type(estimator).__name__}. The 'resource' parameter of {owner} must be "
            "'epochs', 'n_samples' or the name of an integer parameter of "
            f"{type(estimator).__name__}. Got {resource!r} instead."
        )
    return ResourcePlan(resource, resource, False, _int_or_none(params[resource]))


def warm_start_param(name):
    """The ``warm_start`` parameter that goes with the budget parameter ``name``
    (``"clf__max_iter"`` -> ``"clf__warm_start"``)."""
    prefix = name.rpartition("__")[0]
    return f"{prefix}__warm_start" if prefix else "warm_start"


def continues_by_partial_fit(estimator, resource, *, owner):
    """Whether a search with ``resource`` continues ``estimator`` by ``partial_fit`` (the
    engine's rule, ``BaseSearchCV``'s ``_Evaluate._continuation``): its plan
    (:func:`resource_plan`) continues training and no ``warm_start`` goes with the
    budget parameter (then ``fit`` is called again with ``warm_start=True``). Metadata
    routing then routes ``fit``'s parameters to ``partial_fit`` too, as ``partial_fit``
    requests them. False for a ``resource`` the estimator does not take (``fit``
    raises that error)."""
    try:
        plan = resource_plan(estimator, resource, owner=owner)
    except (ValueError, TypeError, AttributeError):
        return False
    if plan is None or not plan.continues or not hasattr(estimator, "partial_fit"):
        return False
    return warm_start_param(plan.param) not in estimator.get_params(deep=True)


def _int_or_none(value):
    if isinstance(value, Integral) and not isinstance(value, bool):
        return int(value)
    return None
