"""The budget of a search before it runs: fits, rounds and epochs (``--dry-run``).

The numbers come from the searches themselves, never recomputed here:
:meth:`HalvingSearchCV.plan_rounds <hpsearch.HalvingSearchCV.plan_rounds>` (and
Hyperband's) runs the search's own strategy with an ``evaluate`` that fits nothing, and
:meth:`OptunaSearchCV.plan_rungs <hpsearch.OptunaSearchCV.plan_rungs>` gives the rungs a
pruned trial climbs. This module only multiplies by the number of splits and adds up.

Cost of a round of successive halving (``LECTURE.md`` §7) with :math:`n_i` candidates,
budget :math:`r_i` and :math:`K` splits:

.. math::

    \\text{fits}_i = n_i K, \\qquad
    \\text{trained}_i = n_i K\\,(r_i - r_{i-1})

when each (candidate, split) continues from the previous round (:math:`r_{-1} = 0`), and
:math:`n_i K r_i` when it is refitted. A random search over the same :math:`N`
candidates, each at the largest budget :math:`R` of the plan, costs :math:`N K R`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Round", "RoundsBudget", "rounds_budget", "pruned_budget", "RESOURCE_UNITS"]

#: the unit a budget counts, per resource
RESOURCE_UNITS = {"epochs": "epochs", "n_samples": "samples"}


@dataclass(frozen=True)
class Round:
    """One round of a halving plan, with its cost.

    Attributes
    ----------
    bracket : int or None
        Hyperband bracket ``s`` (None for plain successive halving).
    iter : int
        Round within its bracket.
    n_candidates, budget, fits : int
        Candidates, budget per (candidate, split), fits (candidates x splits).
    per_fit : int
        Resource units each fit trains: the increment over the previous round when it
        continues, else the whole budget.
    trained : int
        ``fits * per_fit``.
    """

    bracket: int | None
    iter: int
    n_candidates: int
    budget: int
    fits: int
    per_fit: int
    trained: int


@dataclass(frozen=True)
class RoundsBudget:
    """Totals of a halving/Hyperband plan and of random search at its largest budget.

    Attributes
    ----------
    rounds : tuple of Round
    resource : str
        ``"epochs"``, ``"n_samples"`` or the name of the budget parameter.
    unit : str
        What ``trained`` counts (``"epochs"``, ``"samples"`` or the parameter name).
    continues : bool
        Whether survivors continue training instead of being refitted.
    n_candidates : int
        Distinct candidates sampled (first rounds of all brackets).
    max_budget : int
    fits, trained : int
        Totals over the rounds (the final refit not included).
    full_fits, full_trained : int
        The same candidates, each fitted on every split at ``max_budget``.
    """

    rounds: tuple
    resource: str
    unit: str
    continues: bool
    n_candidates: int
    max_budget: int
    fits: int
    trained: int
    full_fits: int
    full_trained: int

    @property
    def ratio(self):
        """``trained / full_trained``."""
        return self.trained / self.full_trained if self.full_trained else float("nan")


def rounds_budget(rounds, n_splits):
    """Fits and training cost of each round of ``plan_rounds``.

    Parameters
    ----------
    rounds : list of dict
        What :meth:`HalvingSearchCV.plan_rounds` returns.
    n_splits : int

    Returns
    -------
    RoundsBudget
    """
    out, previous = [], 0
    for r in rounds:
        budget = int(r["n_resources"])
        if r["iter"] == 0:
            previous = 0
        per_fit = budget - previous if r["continue_training"] else budget
        previous = budget
        fits = int(r["n_candidates"]) * n_splits
        out.append(Round(r.get("bracket"), int(r["iter"]), int(r["n_candidates"]), budget,
                         fits, per_fit, fits * per_fit))
    resource = rounds[0]["resource"] if rounds else "epochs"
    n_candidates = sum(r.n_candidates for r in out if r.iter == 0)
    max_budget = max((r.budget for r in out), default=0)
    return RoundsBudget(
        rounds=tuple(out),
        resource=resource,
        unit=RESOURCE_UNITS.get(resource, resource),
        continues=any(r["continue_training"] for r in rounds),
        n_candidates=n_candidates,
        max_budget=max_budget,
        fits=sum(r.fits for r in out),
        trained=sum(r.trained for r in out),
        full_fits=n_candidates * n_splits,
        full_trained=n_candidates * n_splits * max_budget,
    )


def pruned_budget(n_trials, n_splits, rungs):
    """Largest cost of a pruned Optuna search: every trial climbs every rung.

    Each rung is one fit per (trial, split) that continues the previous rung's training,
    so the epochs are those of unpruned trials; pruning only lowers both numbers.

    Parameters
    ----------
    n_trials, n_splits : int
    rungs : list of int
        Epoch budget of each rung (the last is the full budget).

    Returns
    -------
    dict
        ``max_fits`` and ``max_epochs``.
    """
    return {
        "max_fits": n_trials * n_splits * len(rungs),
        "max_epochs": n_trials * n_splits * rungs[-1],
    }
