"""Budgets of successive halving and Hyperband, as small pure functions.

Dynamic resource allocation (``LECTURE.md`` §7; Jamieson & Talwalkar, 2016): judge many
configurations on a small budget, keep the best ``1/factor`` of them, multiply the budget
by ``factor``, repeat. Hyperband (Li et al., 2018) runs several such *brackets* that trade
the number of configurations against the budget each one starts with.

Nothing here fits or samples anything: the functions only compute the numbers, so they are
tested on their own and shared by :class:`~hpsearch.HalvingSearchCV` and
:class:`~hpsearch.HyperbandSearchCV`. The names and meanings follow scikit-learn's
``HalvingRandomSearchCV`` (``min_resources``, ``max_resources``, ``factor``,
``n_candidates``, ``aggressive_elimination``, ``n_required_iterations_``,
``n_possible_iterations_``), except that logarithms are computed exactly: scikit-learn's
``floor(log(243, 3))`` is 4 in floating point, ours is 5.
"""

from dataclasses import dataclass
from math import ceil, floor

__all__ = [
    "Bracket",
    "HalvingSchedule",
    "floor_log",
    "halving_schedule",
    "hyperband_brackets",
    "resolve_min_resources",
    "resolve_n_candidates",
    "smallest_resources",
]

_REL_TOL = 1e-9


def floor_log(x, base):
    """Largest integer ``k >= 0`` with ``base**k <= x``, exact at powers of ``base``.

    Parameters
    ----------
    x : float
        At least 1.
    base : float
        Greater than 1.

    Returns
    -------
    int
    """
    if base <= 1:
        raise ValueError(f"base must be greater than 1, got base={base!r}.")
    if x < 1:
        raise ValueError(f"x must be at least 1, got x={x!r}.")
    k = 0
    while base ** (k + 1) <= x * (1 + _REL_TOL):
        k += 1
    return k


def smallest_resources(resource, *, n_splits, n_classes=None):
    """``min_resources="smallest"`` as scikit-learn resolves it.

    For ``resource="n_samples"``: ``2 * n_splits`` samples, times the number of classes for
    a classifier (so every class can appear in every split). For any other resource
    (epochs, ``n_estimators``...): 1.

    Parameters
    ----------
    resource : str
    n_splits : int
    n_classes : int or None
        Number of classes for a classifier, ``None`` otherwise.

    Returns
    -------
    int
    """
    if resource != "n_samples":
        return 1
    return 2 * n_splits * (n_classes if n_classes else 1)


def resolve_n_candidates(n_candidates, *, min_resources, max_resources):
    """Number of first-round candidates; ``"exhaust"`` gives ``max_resources // min_resources``.

    Parameters
    ----------
    n_candidates : "exhaust" or int
    min_resources, max_resources : int

    Returns
    -------
    int
    """
    if n_candidates == "exhaust":
        if min_resources == "exhaust":
            raise ValueError(
                "n_candidates and min_resources cannot be both set to 'exhaust'."
            )
        return max(1, max_resources // min_resources)
    return int(n_candidates)


def resolve_min_resources(min_resources, *, smallest, n_candidates, max_resources, factor):
    """Resources of the first round.

    ``"smallest"`` gives ``smallest``; ``"exhaust"`` the largest start such that the last
    required round still fits in ``max_resources``:

    .. math::

        r_0 = \\max\\left(r_{\\text{smallest}},
              \\left\\lfloor R / \\eta^{\\,n_{\\text{req}} - 1} \\right\\rfloor\\right),
        \\qquad n_{\\text{req}} = 1 + \\lfloor \\log_\\eta n_0 \\rfloor

    Parameters
    ----------
    min_resources : "smallest", "exhaust" or int
    smallest : int
        What ``"smallest"`` means for this resource (see :func:`smallest_resources`).
    n_candidates : int
        First-round candidates.
    max_resources : int
    factor : float

    Returns
    -------
    int
    """
    if min_resources == "smallest":
        return int(smallest)
    if min_resources == "exhaust":
        last_iteration = floor_log(n_candidates, factor)
        return max(int(smallest), int(max_resources // factor**last_iteration))
    return int(min_resources)


@dataclass(frozen=True)
class HalvingSchedule:
    """The rounds of one successive-halving run.

    Attributes
    ----------
    n_candidates : tuple of int
        Candidates evaluated in each round (scikit-learn's ``n_candidates_``).
    n_resources : tuple of int
        Resources of each round (``n_resources_``).
    min_resources, max_resources : int
    n_required_iterations : int
        Rounds needed so that the last one evaluates fewer than ``factor`` candidates.
    n_possible_iterations : int
        Rounds that fit between ``min_resources`` and ``max_resources``.
    """

    n_candidates: tuple
    n_resources: tuple
    min_resources: int
    max_resources: int
    n_required_iterations: int
    n_possible_iterations: int

    @property
    def n_iterations(self):
        """Number of rounds actually run."""
        return len(self.n_resources)


def _keep_each_budget_once(n_candidates, n_resources):
    """Rounds at the budget of the round before dropped (the budgets never decrease).

    A small :math:`\\eta` or aggressive elimination repeats a budget (:math:`\\lfloor
    9 \\cdot 1.5^{-5} \\rfloor = \\lfloor 9 \\cdot 1.5^{-4} \\rfloor = 1`). Continuing
    training to the same budget trains nothing more: such a round would score the
    survivors again with the same scores and keep the best of them, which the first
    round of the budget does at once by keeping the candidates of the next budget's
    round. So each run of rounds at one budget is its first round (its candidates).
    """
    keep = [i for i, budget in enumerate(n_resources)
            if i == 0 or budget != n_resources[i - 1]]
    return tuple(n_candidates[i] for i in keep), tuple(n_resources[i] for i in keep)


def halving_schedule(
    n_candidates, *, min_resources, max_resources, factor=3, aggressive_elimination=False,
    distinct_budgets=False,
):
    """Rounds of successive halving, as scikit-learn's ``HalvingRandomSearchCV`` runs them.

    Round :math:`i` evaluates :math:`n_i` candidates with :math:`r_i` resources each and
    keeps the best :math:`\\lceil n_i / \\eta \\rceil` (``LECTURE.md`` §7):

    .. math::

        n_0 = n, \\qquad n_{i+1} = \\lceil n_i / \\eta \\rceil, \\qquad
        r_i = \\min(R,\\; r_0\\, \\eta^{\\,p_i})

    with :math:`p_i = i`, or with ``aggressive_elimination`` :math:`p_i = \\max(0,
    i - n_{\\text{req}} + n_{\\text{pos}})` (stay at :math:`r_0` until few enough
    candidates remain). The number of rounds is :math:`\\min(n_{\\text{req}},
    n_{\\text{pos}})` (:math:`n_{\\text{req}}` with aggressive elimination), where
    :math:`n_{\\text{req}} = 1 + \\lfloor \\log_\\eta n \\rfloor` and
    :math:`n_{\\text{pos}} = 1 + \\lfloor \\log_\\eta \\lfloor R / r_0 \\rfloor \\rfloor`.

    Parameters
    ----------
    n_candidates : int
        First-round candidates, at least 1.
    min_resources : int
        :math:`r_0`, at least 1 (resolve ``"smallest"``/``"exhaust"`` first with
        :func:`resolve_min_resources`).
    max_resources : int
        :math:`R`, at least ``min_resources``.
    factor : float, default=3
        :math:`\\eta`, greater than 1.
    aggressive_elimination : bool, default=False
    distinct_budgets : bool, default=False
        Keep each budget once: a round at the budget of the round before is dropped
        (scikit-learn's schedule repeats a budget with a small :math:`\\eta` or
        aggressive elimination; training that continues cannot go to the same budget
        again). ``n_required_iterations`` and ``n_possible_iterations`` stay
        scikit-learn's.

    Returns
    -------
    HalvingSchedule
    """
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be at least 1, got n_candidates={n_candidates}.")
    if min_resources < 1:
        raise ValueError(
            f"min_resources_={min_resources}: it must be at least 1 "
            "(you might have passed an empty dataset X)."
        )
    if min_resources > max_resources:
        raise ValueError(
            f"min_resources_={min_resources} is greater than max_resources_={max_resources}."
        )
    if factor <= 1:
        raise ValueError(f"factor must be greater than 1, got factor={factor!r}.")
    n_required = 1 + floor_log(n_candidates, factor)
    n_possible = 1 + floor_log(max_resources // min_resources, factor)
    n_iterations = n_required if aggressive_elimination else min(n_required, n_possible)
    candidates, resources = [], []
    n = n_candidates
    for itr in range(n_iterations):
        power = itr
        if aggressive_elimination:
            power = max(0, itr - n_required + n_possible)
        resources.append(min(int(factor**power * min_resources), max_resources))
        candidates.append(n)
        n = ceil(n / factor)
    if distinct_budgets:
        candidates, resources = _keep_each_budget_once(candidates, resources)
    return HalvingSchedule(
        n_candidates=tuple(candidates),
        n_resources=tuple(resources),
        min_resources=int(min_resources),
        max_resources=int(max_resources),
        n_required_iterations=n_required,
        n_possible_iterations=n_possible,
    )


@dataclass(frozen=True)
class Bracket:
    """One Hyperband bracket: a successive-halving run.

    Attributes
    ----------
    s : int
        Bracket index, :math:`s_{\\max}` (most configurations, smallest budget) down to 0
        (plain full-budget evaluation of few configurations).
    n_candidates : tuple of int
        Configurations evaluated in each round.
    n_resources : tuple of int
        Resources of each round; the last is always ``max_resources``.
    """

    s: int
    n_candidates: tuple
    n_resources: tuple


def _int_resource(value):
    return int(floor(value * (1 + _REL_TOL)))


def hyperband_brackets(max_resources, min_resources=1, factor=3):
    """Hyperband's brackets (Li et al., 2018, Algorithm 1).

    With :math:`R` = ``max_resources`` counted in units of :math:`r` = ``min_resources``
    and :math:`\\eta` = ``factor``:

    .. math::

        s_{\\max} = \\lfloor \\log_\\eta (R / r) \\rfloor, \\qquad
        n_s = \\left\\lceil \\frac{s_{\\max} + 1}{s + 1}\\, \\eta^{s} \\right\\rceil,
        \\qquad r_s = R\\, \\eta^{-s}

    and bracket :math:`s` runs successive halving for :math:`i = 0, \\dots, s` rounds with
    :math:`n_i = \\lfloor n_s \\eta^{-i} \\rfloor` configurations at
    :math:`r_i = r_s \\eta^{i}` resources (rounded down to an integer, at least :math:`r`),
    keeping the best :math:`\\lfloor n_i / \\eta \\rfloor` each time. Every bracket spends
    about the same total budget, :math:`(s_{\\max} + 1) R`. A budget the rounding
    repeats (a small :math:`\\eta`: :math:`\\lfloor 9 \\cdot 1.5^{-5} \\rfloor =
    \\lfloor 9 \\cdot 1.5^{-4} \\rfloor = 1`) is kept once, by its first round
    (:func:`_keep_each_budget_once`), so the budgets of a bracket strictly increase.

    Parameters
    ----------
    max_resources : int
        :math:`R`, at least ``min_resources``.
    min_resources : int, default=1
        :math:`r`, at least 1.
    factor : float, default=3
        :math:`\\eta`, greater than 1.

    Returns
    -------
    list of Bracket
        From :math:`s = s_{\\max}` down to :math:`s = 0`.
    """
    if min_resources < 1:
        raise ValueError(f"min_resources must be at least 1, got min_resources={min_resources}.")
    if max_resources < min_resources:
        raise ValueError(
            f"max_resources={max_resources} must be at least min_resources={min_resources}."
        )
    if factor <= 1:
        raise ValueError(f"factor must be greater than 1, got factor={factor!r}.")
    s_max = floor_log(max_resources / min_resources, factor)
    brackets = []
    for s in range(s_max, -1, -1):
        n = ceil((s_max + 1) / (s + 1) * factor**s * (1 - _REL_TOL))
        n_candidates = tuple(
            max(1, _int_resource(n * factor**-i)) for i in range(s + 1)
        )
        n_resources = tuple(
            max(min_resources, _int_resource(max_resources * factor ** (i - s)))
            for i in range(s + 1)
        )
        n_candidates, n_resources = _keep_each_budget_once(n_candidates, n_resources)
        brackets.append(Bracket(s=s, n_candidates=n_candidates, n_resources=n_resources))
    return brackets
