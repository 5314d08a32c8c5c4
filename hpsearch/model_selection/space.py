"""Search spaces: one vocabulary for grid, random and Optuna searches and for study files.

A search space is a dict (or a list of dicts, as in sklearn) mapping parameter names —
pipeline parameters use sklearn's ``step__param`` names — to *dimensions*:

* :class:`Float` ``(low, high, log=False, n=None, step=None)`` — a real interval;
  ``log=True`` samples and discretizes evenly in :math:`\\log x`, as the lecture recommends
  for learning rates (``LECTURE.md`` §7); ``n`` is the number of grid points when the
  dimension is used in a grid search (a continuous dimension has no grid otherwise);
  ``step`` keeps only ``low + k * step`` (Optuna's ``step``).
* :class:`Int` ``(low, high, log=False, n=None, step=None)`` — integers ``low..high``
  inclusive (every ``step``-th).
* :class:`Categorical` ``(choices)`` — any values, tuples (``hidden_layer_sizes``),
  ``None`` and estimators included.

Every dimension takes ``when=``, a condition on other parameters, e.g.
``Int(2, 5, when={"activation": "maxout"})``: the parameter exists only in candidates
whose other parameters satisfy it (a list value means "any of").

sklearn-style lists and tuples become :class:`Categorical`, scipy.stats frozen
distributions are kept for random sampling (:class:`Distribution`).

Functions: :func:`as_space` (normalise and validate), :func:`grid_candidates`
(``ParameterGrid``), :func:`sample_candidates` (``ParameterSampler``), :func:`suggest`
(Optuna define-by-run), :func:`optuna_distributions`, :func:`decode_params`,
:func:`from_spec` (study files).
"""

import dataclasses
import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field

import numpy as np
from sklearn.model_selection import ParameterGrid, ParameterSampler
from sklearn.utils import check_random_state

__all__ = [
    "SPACE_INDEX_PARAM",
    "Categorical",
    "Dimension",
    "Distribution",
    "Float",
    "Int",
    "as_space",
    "condition_holds",
    "decode_params",
    "from_spec",
    "grid_candidates",
    "optuna_distributions",
    "sample_candidates",
    "suggest",
]

#: Name of the Optuna parameter that picks the sub-space when a space is a list of
#: several dicts (removed from the parameters :func:`suggest` returns).
SPACE_INDEX_PARAM = "__space_index__"

#: Largest grid an :class:`Int` without ``n`` enumerates.
MAX_INT_GRID = 10_000

_PRIMITIVES = (type(None), bool, int, float, str)


def _where(name):
    return f" for parameter {name!r}" if name is not None else ""


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# --------------------------------------------------------------------------- conditions
def _check_when(when, name):
    if when is None:
        return
    if not isinstance(when, dict) or not when or not all(isinstance(k, str) for k in when):
        raise ValueError(
            f"`when` must be a non-empty dict mapping parameter names to values, but got "
            f"(when={when!r}){_where(name)}."
        )
    if name is not None and name in when:
        raise ValueError(f"Parameter {name!r} cannot be conditional on itself (when={when!r}).")


def _equal(a, b):
    """``a == b`` as a bool; False where the comparison raises or is ambiguous (arrays)."""
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays
        return False


def _matches(expected, value):
    if isinstance(expected, list):
        return any(_matches(e, value) for e in expected)
    return _equal(expected, value)


def condition_holds(when, params):
    """Whether ``params`` satisfies the condition dict ``when`` (``None`` always holds).

    Every key must be present in ``params`` and equal to the value (a list value means
    "any of these").
    """
    if not when:
        return True
    return all(k in params and _matches(v, params[k]) for k, v in when.items())


# --------------------------------------------------------------------------- dimensions
@dataclass(frozen=True)
class Dimension:
    """Base of the search-space dimensions (``when`` condition and parameter ``name``)."""

    def _validate(self):
        _check_when(self.when, self.name)

    def named(self, name):
        """A validated copy that knows its parameter name (used in error messages)."""
        dim = dataclasses.replace(self, name=name)
        dim._validate()
        return dim

    def grid(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def rvs(self, random_state=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def to_optuna(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def to_spec(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _spec_extras(self, spec):
        if self.when is not None:
            spec["when"] = dict(self.when)
        return spec

    def _suggest(self, trial, name):  # pragma: no cover - abstract
        """Optuna define-by-run: suggest this dimension as ``name``, decoded."""
        raise NotImplementedError


@dataclass(frozen=True)
class _Range(Dimension):
    low: float
    high: float
    _: KW_ONLY
    log: bool = False
    n: int = None
    step: float = None
    when: dict = None
    name: str = field(default=None, repr=False, compare=False)

    _kind = "float"

    def _validate(self):
        super()._validate()
        low, high, where = self.low, self.high, _where(self.name)
        ok_type = _is_int if self._kind == "int" else _is_real
        if not (ok_type(low) and ok_type(high)):
            kind = "integers" if self._kind == "int" else "real numbers"
            raise ValueError(
                f"`low` and `high` must be {kind}, but got (low={low!r}, high={high!r})"
                f"{where}."
            )
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(
                f"`low` and `high` must be finite, but got (low={low!r}, high={high!r})"
                f"{where}."
            )
        if not low <= high:
            raise ValueError(
                f"`low <= high` must hold, but got (low={low!r}, high={high!r}){where}."
            )
        if not isinstance(self.log, bool):
            raise ValueError(f"`log` must be a bool, but got (log={self.log!r}){where}.")
        if self.log and low <= 0:
            raise ValueError(
                f"`low > 0` must hold for log=True, but got (low={low!r}, high={high!r})"
                f"{where}."
            )
        if self.n is not None and not (_is_int(self.n) and self.n >= 1):
            raise ValueError(f"`n >= 1` must hold, but got (n={self.n!r}){where}.")
        if self.step is not None:
            self._validate_step(where)

    def _validate_step(self, where):
        """``step > 0`` (an integer for Int), not with ``log`` (as in Optuna), and
        ``high - low`` a multiple of it (so both bounds are values)."""
        step, low, high = self.step, self.low, self.high
        ok_type = _is_int if self._kind == "int" else _is_real
        if not (ok_type(step) and math.isfinite(step) and step > 0):
            kind = "an integer" if self._kind == "int" else "a real number"
            raise ValueError(f"`step` must be {kind} > 0, but got (step={step!r}){where}.")
        if self.log:
            raise ValueError(
                f"`step` cannot be combined with log=True (Optuna samples a log scale "
                f"without steps), but got (step={step!r}, log=True){where}."
            )
        k = (high - low) / step
        if abs(k - round(k)) > 1e-8 * max(1.0, k):
            raise ValueError(
                f"`high - low` must be a multiple of `step`, but got (low={low!r}, "
                f"high={high!r}, step={step!r}){where}."
            )

    def _steps_count(self):
        return int(round((self.high - self.low) / self.step)) + 1

    def _steps(self):
        """The values ``low + k * step``, ``k = 0 .. (high - low) / step``."""
        return [self.low + k * self.step for k in range(self._steps_count())]

    def _snap(self, values):
        """``values`` moved to the nearest multiple of ``step`` from ``low``."""
        if self.step is None:
            return values
        k = np.rint((np.asarray(values, dtype=float) - self.low) / self.step)
        return np.clip(self.low + k * self.step, self.low, self.high)

    def to_spec(self):
        """Plain dict for study files: ``{"type", "low", "high"[, "log", "n", "step",
        "when"]}``."""
        cast = int if self._kind == "int" else float
        spec = {"type": self._kind, "low": cast(self.low), "high": cast(self.high)}
        if self.log:
            spec["log"] = True
        if self.n is not None:
            spec["n"] = self.n
        if self.step is not None:
            spec["step"] = cast(self.step)
        return self._spec_extras(spec)

    def _points(self, n):
        """``n`` points from ``low`` to ``high``, log-spaced when ``log=True``.

        .. math:: x_i = \\exp\\Big(\\log l + \\tfrac{i}{n-1}(\\log h - \\log l)\\Big)
           \\quad (\\text{log}), \\qquad x_i = l + \\tfrac{i}{n-1}(h - l)

        (``LECTURE.md`` §7: discretize according to the likely distribution, e.g.
        log-spaced learning rates.)
        """
        space = np.geomspace if self.log else np.linspace
        # as floats: a Python int beyond int64 (a study file's ``high: 1000000000000000000000``)
        # made NumPy an object array ("loop of ufunc does not support ... log10")
        return space(float(self.low), float(self.high), n)


@dataclass(frozen=True)
class Float(_Range):
    """Real interval ``[low, high]``.

    Parameters
    ----------
    low, high : float
        Bounds, ``low <= high``.
    log : bool, default=False
        Sample uniformly in :math:`\\log x` (``rvs``, Optuna) and log-space the grid.
        Requires ``low > 0``.
    n : int or None, default=None
        Number of grid points for :meth:`grid` (grid search only). Without ``n`` (and
        ``step``) a Float has no grid and grid search refuses it.
    step : float or None, default=None
        Only the values ``low + k * step`` (Optuna's ``step``; ``high - low`` a multiple
        of it, not with ``log``); the grid is all of them (at most ``MAX_INT_GRID``)
        unless ``n`` is given.
    when : dict or None
        Condition on other parameters (see the module docstring).
    """

    def grid(self):
        """``n`` values from ``low`` to ``high`` (log-spaced when ``log=True``; on the
        ``step`` grid), or every ``step`` value without ``n``."""
        self._validate()
        if self.n is None and self.step is not None:
            size = self._steps_count()
            if size > MAX_INT_GRID:  # as Int: was every value listed (step=1e-12: 9e11
                raise ValueError(  # floats, a MemoryError after minutes)
                    f"Float({self.low!r}, {self.high!r}, step={self.step!r})"
                    f"{_where(self.name)} has {size:,} values, more than {MAX_INT_GRID:,} "
                    f"for a grid; give the number of grid points, e.g. n=5."
                )
            return [float(v) for v in self._steps()]
        if self.n is None:
            raise ValueError(
                f"A continuous Float{_where(self.name)} has no grid; give the number of "
                f"grid points, e.g. Float({self.low!r}, {self.high!r}, "
                f"log={self.log!r}, n=5)."
            )
        values = self._points(self.n)
        values[0], values[-1] = self.low, self.high  # exact ends despite rounding
        if self.step is not None:
            return [float(v) for v in np.unique(self._snap(values))]
        return [float(v) for v in values] if self.n > 1 else [float(self.low)]

    def rvs(self, random_state=None):
        """One draw: uniform on ``[low, high]``, or log-uniform when ``log=True``.

        .. math:: x = \\exp(u), \\quad u \\sim \\mathcal{U}(\\log l, \\log h)
        """
        self._validate()
        rng = check_random_state(random_state)
        if self.step is not None:  # each step value equally likely, as Optuna samples
            values = self._steps()
            return float(values[rng.randint(len(values))])
        if self.log:
            value = float(np.exp(rng.uniform(np.log(float(self.low)), np.log(float(self.high)))))
            return min(max(value, float(self.low)), float(self.high))  # exp/log rounding
        return float(rng.uniform(self.low, self.high))

    def to_optuna(self):
        """``optuna.distributions.FloatDistribution(low, high, log=log, step=step)``."""
        from optuna.distributions import FloatDistribution

        self._validate()
        step = None if self.step is None else float(self.step)
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=step)

    def _suggest(self, trial, name):
        step = None if self.step is None else float(self.step)
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log,
                                   step=step)


@dataclass(frozen=True)
class Int(_Range):
    """Integers ``low..high`` (both included).

    Parameters
    ----------
    low, high : int
        Bounds, ``low <= high``.
    log : bool, default=False
        Sample uniformly in :math:`\\log x` (requires ``low >= 1``); log-space the grid.
    n : int or None, default=None
        Number of grid points (rounded, duplicates removed, so a log grid may have fewer).
        Without ``n`` the grid is every integer (every ``step``-th; at most
        ``MAX_INT_GRID``).
    step : int or None, default=None
        Only the integers ``low + k * step`` (Optuna's ``step``; ``high - low`` a
        multiple of it, not with ``log``).
    when : dict or None
        Condition on other parameters.
    """

    _kind = "int"

    def grid(self):
        """Every integer from ``low`` to ``high``, or ``n`` rounded (log-)spaced ones."""
        self._validate()
        step = self.step or 1
        if self.n is None:
            size = (self.high - self.low) // step + 1
            if size > MAX_INT_GRID:
                raise ValueError(
                    f"Int({self.low}, {self.high}){_where(self.name)} has {size:,} values, "
                    f"more than {MAX_INT_GRID:,} for a grid; give the number of grid "
                    f"points, e.g. n=5."
                )
            return list(range(self.low, self.high + 1, step))
        values = np.rint(self._snap(self._points(self.n))).astype(np.int64)
        return [int(v) for v in np.unique(np.clip(values, self.low, self.high))]

    def rvs(self, random_state=None):
        """One draw, uniform over the integers, or log-uniform when ``log=True``.

        With ``log=True``, as Optuna does,

        .. math:: x = \\operatorname{round}(\\exp(u)), \\quad
           u \\sim \\mathcal{U}(\\log(l - \\tfrac12), \\log(h + \\tfrac12)).
        """
        self._validate()
        rng = check_random_state(random_state)
        if not self.log and self.step is not None:
            return int(self.low + self.step * rng.randint(self._steps_count()))
        if not self.log:
            return int(rng.randint(self.low, self.high + 1))
        u = rng.uniform(np.log(self.low - 0.5), np.log(self.high + 0.5))
        return int(min(max(round(float(np.exp(u))), self.low), self.high))

    def to_optuna(self):
        """``optuna.distributions.IntDistribution(low, high, log=log, step=step)``."""
        from optuna.distributions import IntDistribution

        self._validate()
        return IntDistribution(int(self.low), int(self.high), log=self.log,
                               step=int(self.step or 1))

    def _suggest(self, trial, name):
        return trial.suggest_int(name, int(self.low), int(self.high), log=self.log,
                                 step=int(self.step or 1))


@dataclass(frozen=True)
class Categorical(Dimension):
    """A finite set of choices of any type (tuples, ``None``, estimators...).

    Parameters
    ----------
    choices : sequence
        At least one value; stored as a tuple.
    when : dict or None
        Condition on other parameters.

    Notes
    -----
    For Optuna, choices that are not all ``None``/bool/int/float/str (e.g. tuples for
    ``hidden_layer_sizes``), or that hold equal values of different types (``[1, True]``,
    ``[1, 1.0]``: Optuna would store one as the other) are encoded as stable strings
    (their ``repr``, made unique with ``#index`` when needed); :func:`suggest` and
    :func:`decode_params` decode them, so the estimator always receives the real value.
    """

    choices: tuple
    _: KW_ONLY
    when: dict = None
    name: str = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        choices = self.choices
        if isinstance(choices, np.ndarray):
            choices = choices.tolist()  # NumPy scalars -> Python values
        if isinstance(choices, (list, tuple, range)):
            object.__setattr__(self, "choices", tuple(choices))

    def _validate(self):
        super()._validate()
        if not isinstance(self.choices, tuple) or not self.choices:
            raise ValueError(
                f"`choices` must be a non-empty list, but got (choices={self.choices!r})"
                f"{_where(self.name)}."
            )

    def grid(self):
        """The choices, in order."""
        self._validate()
        return list(self.choices)

    def rvs(self, random_state=None):
        """One choice, uniformly at random."""
        self._validate()
        rng = check_random_state(random_state)
        return self.choices[rng.randint(len(self.choices))]

    @property
    def _primitive(self):
        """Whether Optuna can hold the choices themselves: all None/bool/int/float/str
        and no two equal ones of different types (Optuna finds a choice with
        ``tuple.index``, so of ``[1, True, 1.0]`` it would store every one as ``1``)."""
        if not all(type(c) in _PRIMITIVES for c in self.choices):
            return False
        first = {}
        return all(type(first.setdefault(c, c)) is type(c) for c in self.choices)

    @property
    def _encoded(self):
        """Optuna-safe choices: the choices themselves, or their unique string codes."""
        if self._primitive:
            return list(self.choices)
        codes = [repr(c) for c in self.choices]
        if len(set(codes)) < len(codes):
            codes = [f"{code} #{i}" for i, code in enumerate(codes)]
        return codes

    def decode(self, value):
        """Map an Optuna value (maybe a string code) back to the real choice."""
        if self._primitive:
            return value
        encoded = self._encoded
        for code, choice in zip(encoded, self.choices):
            if code == value:
                return choice
        raise ValueError(
            f"Value {value!r} is not one of the encoded choices {encoded}"
            f"{_where(self.name)}."
        )

    def to_optuna(self):
        """``optuna.distributions.CategoricalDistribution`` over the (encoded) choices."""
        from optuna.distributions import CategoricalDistribution

        self._validate()
        return CategoricalDistribution(self._encoded)

    def _suggest(self, trial, name):
        return self.decode(trial.suggest_categorical(name, self._encoded))

    def to_spec(self):
        """``{"type": "categorical", "choices": [...]}`` (tuples written as lists)."""
        return self._spec_extras({"type": "categorical", "choices": _to_lists(self.choices)})


@dataclass(frozen=True)
class Distribution(Dimension):
    """A scipy.stats distribution (or any object with an ``rvs(random_state=)`` method,
    as sklearn's ``ParameterSampler`` accepts), kept for random sampling.

    ``rvs`` delegates to it. Grid search refuses it; for Optuna, ``uniform``,
    ``loguniform`` and ``randint`` map to Float/Int, other distributions are refused.
    """

    dist: object
    _: KW_ONLY
    when: dict = None
    name: str = field(default=None, repr=False, compare=False)

    def grid(self):
        raise ValueError(
            f"A scipy.stats distribution{_where(self.name)} cannot be enumerated for grid "
            f"search; use Float(low, high, n=...), Int(low, high) or a list of values."
        )

    def rvs(self, random_state=None):
        """One draw from the scipy distribution."""
        value = self.dist.rvs(random_state=random_state)
        return value.item() if isinstance(value, np.generic) else value

    def _as_range(self):
        name = getattr(getattr(self.dist, "dist", None), "name", None)
        if name not in ("uniform", "loguniform", "reciprocal", "randint"):
            name = name or type(self.dist).__name__
            raise ValueError(
                f"The scipy.stats distribution {name!r}{_where(self.name)} has no Optuna "
                f"equivalent; use Float(low, high, log=...) or Int(low, high)."
            )
        low, high = self.dist.support()
        if name == "uniform":
            return Float(float(low), float(high), when=self.when, name=self.name)
        if name in ("loguniform", "reciprocal"):
            return Float(float(low), float(high), log=True, when=self.when, name=self.name)
        if name == "randint":
            return Int(int(low), int(high), when=self.when, name=self.name)
        raise ValueError(
            f"The scipy.stats distribution {name!r}{_where(self.name)} has no Optuna "
            f"equivalent; use Float(low, high, log=...) or Int(low, high)."
        )

    def to_optuna(self):
        """The Optuna distribution of the equivalent Float/Int (uniform, loguniform, randint)."""
        return self._as_range().to_optuna()

    def _suggest(self, trial, name):
        return self._as_range()._suggest(trial, name)

    def to_spec(self):
        raise ValueError(
            f"A scipy.stats distribution{_where(self.name)} has no study-file form; use "
            f"Float/Int/Categorical."
        )


def _float_or_same(value):
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _to_lists(value):
    if isinstance(value, (list, tuple)):
        return [_to_lists(v) for v in value]
    return value


def _to_tuples(value):
    if isinstance(value, (list, tuple)):
        return tuple(_to_tuples(v) for v in value)
    return value


def _decode_value(dim, value):
    return dim.decode(value) if isinstance(dim, Categorical) else value


# --------------------------------------------------------------------------- as_space
def _from_optuna(name, dist):
    """The dimension of an Optuna distribution (the ``param_distributions`` of
    ``optuna_integration.OptunaSearchCV``): ``FloatDistribution`` -> :class:`Float`,
    ``IntDistribution`` -> :class:`Int`, ``CategoricalDistribution`` ->
    :class:`Categorical` (``log`` and ``step`` kept)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(dist, CategoricalDistribution):
        return Categorical(dist.choices)
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        integral = isinstance(dist, IntDistribution)
        step = None if integral and dist.step == 1 else dist.step
        return (Int if integral else Float)(dist.low, dist.high, log=dist.log, step=step)
    raise ValueError(
        f"Parameter {name!r}: the Optuna distribution {dist!r} has no hpsearch dimension; "
        f"use FloatDistribution, IntDistribution or CategoricalDistribution, or "
        f"Float/Int/Categorical."
    )


def _as_dimension(name, value):
    if not isinstance(name, str):
        raise ValueError(f"Parameter names must be strings, got {name!r}.")
    if isinstance(value, Dimension):
        return value.named(name)
    if type(value).__module__.startswith("optuna.distributions"):
        return _from_optuna(name, value).named(name)
    if hasattr(value, "rvs") and not isinstance(value, type):
        return Distribution(value, name=name)
    if isinstance(value, (list, tuple, range, np.ndarray)):
        return Categorical(value).named(name)
    raise ValueError(
        f"Parameter {name!r}: a single value {value!r} is not a search dimension; give a "
        f"list of choices ([{value!r}]), Float(low, high), Int(low, high), "
        f"Categorical(choices) or a scipy.stats distribution."
    )


def _order(space):
    """Parameter names with every condition target before the parameters it conditions."""
    names = list(space)
    for name, dim in space.items():
        for target in dim.when or {}:
            if target not in space:
                raise ValueError(
                    f"Parameter {name!r} has a condition on unknown parameter {target!r} "
                    f"(when={dim.when!r}); parameters are {sorted(names)}."
                )
    ordered, state = [], {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join(path[path.index(name):] + [name])
            raise ValueError(f"Conditions form a cycle: {cycle}.")
        state[name] = "visiting"
        for target in space[name].when or {}:
            visit(target, path + [name])
        state[name] = "done"
        ordered.append(name)

    for name in names:
        visit(name, [])
    return ordered


def as_space(param_distributions):
    """Normalise a search space to a list of ``{name: Dimension}`` dicts.

    Parameters
    ----------
    param_distributions : dict or list of dict
        Values: :class:`Dimension` objects, lists/tuples/arrays (-> :class:`Categorical`),
        scipy.stats frozen distributions (-> :class:`Distribution`) or Optuna
        distributions (``FloatDistribution`` -> :class:`Float`, ``IntDistribution`` ->
        :class:`Int`, ``CategoricalDistribution`` -> :class:`Categorical`, as
        ``optuna_integration.OptunaSearchCV`` takes them). Scalars are refused.

    Returns
    -------
    space : list of dict
        Each dict maps names to validated dimensions that know their names, in an order
        where every condition target comes before the parameters it conditions.

    Raises
    ------
    ValueError
        A bad dimension (the message names the parameter, the rule and the values), a
        scalar, a condition on an unknown parameter, or a cycle of conditions.
    """
    if isinstance(param_distributions, dict):
        param_distributions = [param_distributions]
    if not isinstance(param_distributions, (list, tuple)) or not param_distributions:
        raise ValueError(
            f"A search space must be a dict or a non-empty list of dicts, got "
            f"{param_distributions!r}."
        )
    spaces = []
    for sub in param_distributions:
        if not isinstance(sub, dict):
            raise ValueError(f"A search space must be a dict of parameters, got {sub!r}.")
        dims = {name: _as_dimension(name, value) for name, value in sub.items()}
        spaces.append({name: dims[name] for name in _order(dims)})
    return spaces


def _apply_conditions(space, params):
    """Drop the parameters whose condition fails (targets first, so chains propagate).

    The candidate keeps the order of ``params`` (sklearn's ``ParameterGrid`` and
    ``ParameterSampler`` sort the names), so its ``param_*`` columns in ``cv_results_``
    and the keys of ``best_params_`` come in sklearn's order, not the space's."""
    active = {}
    for name, dim in space.items():
        if name in params and condition_holds(dim.when, active):
            active[name] = params[name]
    return {name: value for name, value in params.items() if name in active}


def _freeze(value):
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, np.ndarray):
        return ("ndarray", value.tobytes(), value.shape)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (type(value).__name__, value)


def _dedupe(candidates, droppable=None):
    """First occurrence of each candidate; with ``droppable`` (one bool per candidate)
    only those candidates may be dropped as duplicates of an earlier one."""
    seen, unique = set(), []
    for i, cand in enumerate(candidates):
        key = tuple(sorted((k, _freeze(v)) for k, v in cand.items()))
        if key not in seen or (droppable is not None and not droppable[i]):
            seen.add(key)
            unique.append(cand)
    return unique


def _plain_values(space):
    """``space`` with hpsearch's dimensions left out: what sklearn's own checks see."""
    subs = [space] if isinstance(space, Mapping) else space
    if not isinstance(subs, (list, tuple)):
        return space
    return [
        {k: v for k, v in sub.items() if not isinstance(v, Dimension)}
        if isinstance(sub, Mapping) else sub
        for sub in subs
    ]


def check_param_grid(param_grid):
    """sklearn's ``ParameterGrid`` checks, with its errors and messages, on the values
    that are not hpsearch dimensions: a single value or a string is a ``TypeError``, an
    empty list or an array with more than one dimension a ``ValueError``."""
    ParameterGrid(_plain_values(param_grid))


def check_param_distributions(param_distributions):
    """sklearn's ``ParameterSampler`` checks (``TypeError`` for a value that is neither
    iterable nor has ``rvs``) on the values that are not hpsearch dimensions; and, when
    every value is a list (no distribution, no hpsearch dimension), the ``ParameterGrid``
    checks sklearn's sampler then runs: a string is a ``TypeError``, an empty list or an
    array with more than one dimension a ``ValueError``. (A 2-D array used to pass and
    every candidate got one of its rows: "All the fits failed".)"""
    plain = _plain_values(param_distributions)
    ParameterSampler(plain, 1)
    subs = [param_distributions] if isinstance(param_distributions, Mapping) \
        else param_distributions
    if all(isinstance(sub, Mapping) for sub in subs) and not any(
            isinstance(v, Dimension) or hasattr(v, "rvs")
            for sub in subs for v in sub.values()):
        ParameterGrid(plain)


def grid_candidates(space):
    """Every combination of the grid values (``ParameterGrid``), conditions applied.

    Parameters whose condition fails are dropped from a candidate and the duplicates this
    creates are removed (first occurrence kept, ``ParameterGrid`` order otherwise).
    Duplicates the grid itself holds (``{"C": [1, 1]}``) are kept, as sklearn's
    ``ParameterGrid`` keeps them.

    Raises ``ValueError`` for a :class:`Float` without ``n`` (suggesting ``n=``) or a
    scipy distribution.
    """
    candidates, reduced = [], []
    for sub in as_space(space):
        grid = {name: dim.grid() for name, dim in sub.items()}
        for params in ParameterGrid(grid):
            candidates.append(_apply_conditions(sub, params))
            reduced.append(len(candidates[-1]) < len(params))
    return _dedupe(candidates, reduced)


def _is_discrete(space):
    return all(isinstance(dim, Categorical) for sub in space for dim in sub.values())


def _drawn_type(dimension):
    """The numpy scalar type ``dimension.dist.rvs`` returns (scipy's continuous
    distributions: ``np.float64``), or None (a Python scalar, as scipy's discrete ones
    give, or a draw that fails on a fresh generator)."""
    try:
        value = dimension.dist.rvs(random_state=np.random.RandomState(0))
    except Exception:
        return None
    return type(value) if isinstance(value, np.generic) and np.ndim(value) == 0 else None


def as_drawn_types(space, params_list):
    """``params_list`` with each value drawn from a scipy distribution as the numpy scalar
    that distribution returns (``np.float64`` for ``loguniform``), as sklearn's
    ``RandomizedSearchCV`` gives it in ``cv_results_['params']`` and ``best_params_``.

    :meth:`Distribution.rvs` gives Python scalars (``.item()``), which the candidates,
    their store keys and seeds are made of; equal values encode alike
    (:func:`~hpsearch.model_selection.store.encode_value`), so only the type the user
    sees changes, never a value. A name that is not a distribution in every sub-space
    holding it keeps its value as is. New dicts: ``params_list``'s are not changed."""
    spaces = as_space(space)
    types = {}
    for sub in spaces:
        for name, dim in sub.items():
            types.setdefault(name, []).append(
                _drawn_type(dim) if isinstance(dim, Distribution) else None)
    types = {name: kinds[0] for name, kinds in types.items()
             if kinds[0] is not None and all(k is kinds[0] for k in kinds)}
    if not types:
        return list(params_list)
    return [{k: types[k](v) if k in types and type(v) in (int, float) else v
             for k, v in params.items()} for params in params_list]


def sample_candidates(space, n_iter, random_state=None):
    """``n_iter`` random candidates (sklearn's ``ParameterSampler``), conditions applied.

    If every dimension is categorical, candidates are drawn **without replacement** from
    :func:`grid_candidates` (sklearn's behaviour for lists; fewer than ``n_iter`` with a
    ``UserWarning`` when the grid is smaller). Otherwise each draw samples every
    dimension (``rvs``), inactive parameters are dropped and duplicates removed; more
    draws are made from the same generator until ``n_iter`` distinct candidates are found
    (at most ``20 * n_iter`` draws; a ``UserWarning`` says when fewer were found). The
    result depends only on ``random_state``.
    """
    if not (_is_int(n_iter) and n_iter >= 1):
        raise ValueError(
            f"The 'n_iter' parameter of sample_candidates must be an int in the range "
            f"[1, inf). Got {n_iter!r} instead."
        )
    spaces = as_space(space)
    rng = check_random_state(random_state)
    if _is_discrete(spaces):
        grid = grid_candidates(spaces)
        points = [{"index": [i]} for i in range(len(grid))]  # one point per candidate
        # (names in the order of sklearn's ParameterGrid.__getitem__, which
        # RandomizedSearchCV draws lists from: reverse-sorted)
        return [dict(sorted(grid[p["index"]].items(), key=lambda kv: kv[0], reverse=True))
                for p in ParameterSampler(points, n_iter, random_state=rng)]
    # lists for categorical dimensions (sklearn samples them with rng.randint), the
    # dimensions themselves (rvs) otherwise; a one-value tag tells the sub-space.
    distributions = [
        {
            SPACE_INDEX_PARAM: [i],
            **{k: list(d.choices) if isinstance(d, Categorical) else d for k, d in s.items()},
        }
        for i, s in enumerate(spaces)
    ]
    candidates, drawn = [], 0
    while len(candidates) < n_iter and drawn < 20 * n_iter:
        batch = n_iter - len(candidates)
        drawn += batch
        for params in ParameterSampler(distributions, batch, random_state=rng):
            sub = spaces[params.pop(SPACE_INDEX_PARAM)]
            candidates.append(_apply_conditions(sub, params))
        candidates = _dedupe(candidates)
    if len(candidates) < n_iter:  # (sklearn's ParameterSampler would repeat candidates)
        warnings.warn(
            f"Only {len(candidates)} distinct candidates were found in {drawn} draws from "
            f"the search space (its dimensions hold few distinct values); running "
            f"{len(candidates)} candidates instead of the {n_iter} asked.",
            UserWarning,
        )
    return candidates[:n_iter]


# --------------------------------------------------------------------------- Optuna
def _optuna_names(spaces):
    """Per sub-space ``{name: Optuna parameter name}``.

    Optuna needs one distribution per parameter name in a study; a name whose
    distribution differs between sub-spaces is written ``"name[space i]"`` there.
    """
    dists = {}
    for sub in spaces:
        for name, dim in sub.items():
            dists.setdefault(name, []).append(dim.to_optuna())
    shared = {name for name, ds in dists.items() if all(d == ds[0] for d in ds)}
    return [
        {name: name if name in shared else f"{name}[space {i}]" for name in sub}
        for i, sub in enumerate(spaces)
    ]


def suggest(trial, space):
    """Suggest one candidate from an Optuna trial (define-by-run).

    Parameters are suggested in an order where every condition target comes first; a
    conditional parameter is suggested only when its condition holds. With several
    sub-spaces, a categorical :data:`SPACE_INDEX_PARAM` picks one first, and a name whose
    distribution differs between sub-spaces is suggested as ``"name[space i]"``; the
    returned dict uses the real names. Encoded categorical choices are decoded, so the
    dict holds real values (tuples, None, objects).

    Returns
    -------
    params : dict
        ``{parameter name: value}`` of the active parameters.
    """
    spaces = as_space(space)
    index = 0
    if len(spaces) > 1:
        index = trial.suggest_categorical(SPACE_INDEX_PARAM, list(range(len(spaces))))
    names = _optuna_names(spaces)[index] if len(spaces) > 1 else None
    params = {}
    for name, dim in spaces[index].items():
        if condition_holds(dim.when, params):
            params[name] = dim._suggest(trial, names[name] if names else name)
    return params


def optuna_distributions(space):
    """``{Optuna parameter name: distribution}`` of every parameter (conditional included).

    With several sub-spaces, :data:`SPACE_INDEX_PARAM` is included and names follow
    :func:`suggest` (``"name[space i]"`` where distributions differ).
    """
    from optuna.distributions import CategoricalDistribution

    spaces = as_space(space)
    out = {}
    if len(spaces) > 1:
        out[SPACE_INDEX_PARAM] = CategoricalDistribution(list(range(len(spaces))))
    for sub, names in zip(spaces, _optuna_names(spaces)):
        for name, dim in sub.items():
            out[names[name]] = dim.to_optuna()
    return out


def decode_params(params, space):
    """Map Optuna trial params back to estimator parameters with real values.

    Inverse of :func:`suggest`: drops :data:`SPACE_INDEX_PARAM`, restores names written
    ``"name[space i]"`` and decodes encoded categorical choices.
    """
    spaces = as_space(space)
    index = params.get(SPACE_INDEX_PARAM, 0)
    to_real = {v: k for k, v in _optuna_names(spaces)[index].items()}
    sub = spaces[index]
    out = {}
    for key, value in params.items():
        if key == SPACE_INDEX_PARAM:
            continue
        name = to_real.get(key, key)
        out[name] = _decode_value(sub[name], value) if name in sub else value
    return out


# --------------------------------------------------------------------------- study files
_SPEC_KEYS = {
    "float": ("type", "low", "high", "log", "n", "step", "when"),
    "int": ("type", "low", "high", "log", "n", "step", "when"),
    "categorical": ("type", "choices", "when"),
}
_SPEC_CLASSES = {"float": Float, "int": Int, "categorical": Categorical}


def from_spec(obj, name=None):
    """Build a dimension from a study-file (YAML) value.

    Parameters
    ----------
    obj : list, dict or Dimension
        A list -> :class:`Categorical` (nested lists become tuples, so
        ``[[10], [20, 10]]`` gives ``hidden_layer_sizes`` tuples); a dict
        ``{"type": "float"|"int"|"categorical", "low", "high", "log", "n", "choices",
        "when"}`` (``type`` may be left out when ``choices`` is given).
    name : str, optional
        The parameter name, for error messages.

    Returns
    -------
    Dimension
        Validated; ``from_spec(dim.to_spec(), name) == dim``.
    """
    if isinstance(obj, Dimension):
        return obj.named(name)
    if isinstance(obj, list):
        return Categorical(_to_tuples(obj)).named(name)
    if not isinstance(obj, dict):
        return _as_dimension(name if name is not None else "?", obj)
    spec = dict(obj)
    kind = spec.get("type", "categorical" if "choices" in spec else None)
    if kind not in _SPEC_CLASSES:
        raise ValueError(
            f"`type` must be one of {sorted(_SPEC_CLASSES)}, but got (type={kind!r})"
            f"{_where(name)}."
        )
    a_kind = f"{'an' if kind == 'int' else 'a'} {kind}"  # (was: "a int dimension")
    unknown = sorted(set(spec) - set(_SPEC_KEYS[kind]))
    if unknown:
        raise ValueError(
            f"Unknown key(s) {unknown} for {a_kind} dimension{_where(name)}; valid keys "
            f"are {list(_SPEC_KEYS[kind])}."
        )
    spec.pop("type", None)
    if kind == "categorical":
        if not isinstance(spec.get("choices"), list):
            raise ValueError(
                f"`choices` must be a non-empty list, but got "
                f"(choices={spec.get('choices')!r}){_where(name)}."
            )
        return Categorical(_to_tuples(spec["choices"]), when=spec.get("when")).named(name)
    missing = [key for key in ("low", "high") if key not in spec]
    if missing:
        raise ValueError(f"Missing key(s) {missing} for {a_kind} dimension{_where(name)}.")
    if kind == "float":  # PyYAML reads 1e-3 (no dot) as a string
        for key in ("low", "high", "step"):
            if key not in spec:
                continue
            spec[key] = _float_or_same(spec[key])
    return _SPEC_CLASSES[kind](**spec).named(name)
