"""The trial store: every finished candidate of a search as a trial of an Optuna study.

One standard Optuna study per search (``DESIGN.md`` decision 6), so
``optuna-dashboard sqlite:///search.db`` opens it and ``optuna.load_study`` reads it:

- **params**: the candidate's parameters. When the search declares its space
  (:meth:`TrialStore.declare_space`), each parameter of an ``hpsearch.space`` dimension
  (lists are :class:`~hpsearch.space.Categorical`) is stored with that dimension's own
  Optuna distribution (``dim.to_optuna()``; non-primitive choices as the string codes of
  :func:`hpsearch.space.suggest`, so :func:`hpsearch.space.decode_params` gives the
  exact values back): every trial of the study shares one search space, which
  ``optuna.importance`` and the dashboard need. Otherwise (scipy.stats distributions
  without an Optuna equivalent, choices Optuna cannot tell apart such as ``[True, 1]``,
  a name whose dimension differs between sub-spaces, parameters outside the space,
  searches that declare no space) Optuna keeps only primitive categorical choices, so
  numbers become one-point ``Int``/``FloatDistribution``s, strings, bools and None
  ``CategoricalDistribution`` s (choices declared from the candidates of the search),
  and any other value (tuples, estimators, callables) its text form. The exact
  parameters are kept as JSON in the user attribute ``params``.
- **value**: the mean test score of the refit metric (the study maximizes it); a candidate
  whose every split failed is a FAIL trial.
- **user attributes**: ``split_test_<metric>`` / ``split_train_<metric>`` (per split),
  ``fit_time``, ``score_time``, ``errors`` (per-split tracebacks, when any), and the
  engine's own ``hpsearch_key`` / ``hpsearch_row:<key>`` records used by ``resume``.
- **budgeted searches** (halving, pruning): one trial per candidate, RUNNING while it
  climbs rungs, the rung scores as intermediate values (step = the budget), then
  COMPLETE or PRUNED.

``resume=True`` loads every ``hpsearch_row:<key>`` of the study: a row whose key (a hash
of the parameters, the budget and the cross-validation configuration) matches is reused
instead of fitted again.
"""

import json
import math
import numbers

import numpy as np

__all__ = ["TrialStore", "encode_value", "make_storage"]

_PRIMITIVES = (type(None), bool, str)


def encode_value(value):
    """A JSON-able stand-in for ``value``, equal for equal values and stable across runs."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray):
        return {"__array__": encode_value(value.tolist())}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if callable(value) and hasattr(value, "__qualname__"):
        return {"__callable__": f"{value.__module__}.{value.__qualname__}"}
    return {"__repr__": repr(value)}


def _choice(value):
    """Value as an Optuna categorical choice (None, bool, int, float or str): a flat
    tuple/list as its repr, any other non-primitive as the JSON of :func:`encode_value`."""
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, (numbers.Number, str, type(None))) for v in value
    ):
        return repr(value)
    encoded = encode_value(value)
    if isinstance(encoded, (*_PRIMITIVES, int, float)):
        return encoded
    return json.dumps(encoded, sort_keys=True)


def _kind(values):
    """'int', 'float' or 'categorical': how Optuna should hold a parameter's values."""
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return "int"
    if all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        for v in values
    ):
        return "float"
    return "categorical"


class _MissingType:
    """Marker: a value its declared distribution cannot hold."""


_MISSING = _MissingType()


class _RangeParam:
    """A Float/Int dimension as an Optuna ``Float``/``IntDistribution``."""

    def __init__(self, dist):
        from optuna.distributions import IntDistribution

        self.dist = dist
        self.integral = isinstance(dist, IntDistribution)
        self.choices = None

    def encode(self, value):
        """The value as Optuna stores it, or ``_MISSING`` when outside the range."""
        if self.integral:
            if not (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
                return _MISSING
            value = int(value)
        else:
            if not (isinstance(value, numbers.Real) and not isinstance(value, bool)):
                return _MISSING
            value = float(value)
        return value if self.dist.low <= value <= self.dist.high else _MISSING


class _ChoiceParam:
    """A Categorical dimension as an Optuna ``CategoricalDistribution`` over its codes
    (the choices, or their string codes when not all primitive, as ``suggest`` does)."""

    def __init__(self, dim):
        self.dist = dim.to_optuna()
        self.choices = dim.choices  # kept alive: the ids below stay theirs
        self.codes = list(dim._encoded)
        self.by_id = {id(c): code for c, code in zip(self.choices, self.codes)}

    def exact(self):
        """Whether Optuna gives every code back as itself (not so for ``[True, 1]``)."""
        for index, code in enumerate(self.codes):
            try:
                back = self.dist.to_external_repr(self.dist.to_internal_repr(code))
            except ValueError:
                return False
            if back is not code and (type(back) is not type(code) or back != code):
                return False
        return True

    def encode(self, value):
        """The code of the choice ``value`` is, or ``_MISSING``."""
        code = self.by_id.get(id(value), _MISSING)
        if code is not _MISSING:
            return code
        for choice, code in zip(self.choices, self.codes):
            if type(choice) is type(value) and _equal(choice, value):
                return code
        return _MISSING


def _equal(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays and the like
        return False


def _dimension_param(dim):
    """The stored form of a dimension (``_RangeParam``/``_ChoiceParam``), or None when it
    has no exact Optuna distribution."""
    from .space import Categorical

    if isinstance(dim, Categorical):
        param = _ChoiceParam(dim)
        return param if param.exact() else None
    try:
        return _RangeParam(dim.to_optuna())
    except (ValueError, TypeError, NotImplementedError):  # scipy.stats without equivalent
        return None


def _same_param(a, b):
    if a.dist != b.dist:
        return False
    if a.choices is None or b.choices is None:
        return a.choices is b.choices
    return len(a.choices) == len(b.choices) and all(
        type(x) is type(y) and _equal(x, y) for x, y in zip(a.choices, b.choices)
    )


def space_params(space):
    """``{name: stored form}`` of the parameters of ``space`` that have one Optuna
    distribution, the same in every sub-space (others are left out)."""
    from .space import as_space

    try:
        spaces = as_space(space)
    except (ValueError, TypeError):  # the search reports it when it builds candidates
        return {}
    found, mixed = {}, set()
    for sub in spaces:
        for name, dim in sub.items():
            if name in mixed:
                continue
            param = _dimension_param(dim)
            if param is None or (name in found and not _same_param(found[name], param)):
                mixed.add(name)
                found.pop(name, None)
            else:
                found.setdefault(name, param)
    return found


def make_storage(storage):
    """An Optuna storage from None (in memory), a ``.db``/``.sqlite`` path, a ``.log`` /
    ``.jsonl`` path (journal file), a SQLAlchemy URL, or a storage object."""
    import optuna

    if storage is None:
        return optuna.storages.InMemoryStorage()
    if not isinstance(storage, str):
        return storage
    if "://" in storage:
        return storage
    if storage.endswith((".log", ".jsonl")):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(storage))
    return f"sqlite:///{storage}"


class TrialStore:
    """Records the rows of a search in an Optuna study (see the module docstring).

    Parameters
    ----------
    storage : None, str or optuna storage
        See :func:`make_storage`.
    study_name : str or None
        None generates a name (not resumable).
    resume : bool, default=False
        Load the finished rows of an existing study of that name. Without it, an
        existing study of that name is an error (results would mix).
    direction : str, default="maximize"
    **study_options
        More ``optuna.create_study`` arguments (``sampler``, ``pruner``).
    """

    def _check_direction(self, storage, study_name, direction):
        """A resumed study must optimize the way the search does (``maximize``: sklearn's
        scores are greater-is-better); otherwise its best trial would be the worst."""
        import optuna

        expected = [optuna.study.StudyDirection[direction.upper()]]
        if self.study.directions != expected:
            found = ", ".join(d.name.lower() for d in self.study.directions)
            raise ValueError(
                f"The study {study_name!r} in storage {storage!r} has direction(s) "
                f"{found}, but this search needs direction {direction!r} (it maximizes "
                "sklearn's greater-is-better scores). Resume a study created by an "
                "hpsearch search, or choose another study_name."
            )

    def __init__(self, storage=None, study_name=None, *, resume=False,
                 direction="maximize", **study_options):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if resume and study_name is None:
            raise ValueError(
                "resume=True needs the study_name of the search to resume; got "
                "study_name=None."
            )
        try:
            self.study = optuna.create_study(
                storage=make_storage(storage),
                study_name=study_name,
                direction=direction,
                load_if_exists=resume,
                **study_options,
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise ValueError(
                f"A study named {study_name!r} already exists in storage {storage!r}. "
                "Pass resume=True to continue it, or choose another study_name."
            ) from None
        self._check_direction(storage, study_name, direction)
        self._storage = self.study._storage
        self._study_id = self.study._study_id
        self._rows = {}
        self._trial_ids = {}  # candidate key -> trial id (budgeted rows)
        self._last = {}  # trial id -> last value
        self._open = set()  # RUNNING trials this store created or reopened
        self._kinds = {}
        self._space = {}  # name -> _RangeParam / _ChoiceParam (declare_space)
        self._stored = {}  # name -> distribution already in the study (resume)
        if resume:
            self._load()

    # -- resume ------------------------------------------------------------------
    def _load(self):
        for trial in self.study.get_trials(deepcopy=False):
            for name, dist in trial.distributions.items():
                self._stored.setdefault(name, dist)
            for name, payload in trial.user_attrs.items():
                if name.startswith("hpsearch_row:"):
                    self._rows[name.partition(":")[2]] = payload
            key = trial.user_attrs.get("hpsearch_key")
            if key is not None and trial.state.name == "RUNNING":
                self._trial_ids[key] = trial._trial_id
                self._open.add(trial._trial_id)

    def lookup(self, row_key):
        """The recorded row of that key (``resume``), or None."""
        return self._rows.get(row_key)

    # -- params --------------------------------------------------------------------
    def declare_space(self, space):
        """Store the parameters of ``space`` with their dimensions' Optuna distributions.

        Called once per search, before its first candidate. A parameter without an
        exact Optuna distribution (see :func:`space_params`), or whose distribution
        differs from the one a resumed study already holds for it, keeps the per-value
        form of :meth:`declare`.

        Parameters
        ----------
        space : dict, list of dict or None
            The search space (``param_grid`` / ``param_distributions``); None: nothing.
        """
        if space is None:
            return
        from optuna.distributions import check_distribution_compatibility

        for name, param in space_params(space).items():
            stored = self._stored.get(name)
            if stored is not None:
                try:
                    check_distribution_compatibility(stored, param.dist)
                except ValueError:
                    continue
            self._space[name] = param

    def declare(self, candidate_params):
        """Fix how each parameter outside the declared space is stored, from every
        candidate the search will try."""
        from collections import defaultdict

        values = defaultdict(list)
        for params in candidate_params:
            for name, value in params.items():
                if name not in self._space:
                    values[name].append(value)
        for name, vals in values.items():
            if name in self._kinds:
                continue
            kind = _kind(vals)
            if kind == "categorical":
                kind = tuple(dict.fromkeys(_choice(v) for v in vals))
            self._kinds[name] = kind

    def _optuna_params(self, params):
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        self.declare([params])
        out, dists = {}, {}
        for name, value in params.items():
            param = self._space.get(name)
            if param is not None:
                code = param.encode(value)
                if code is not _MISSING:  # (a value outside the space is left out)
                    out[name], dists[name] = code, param.dist
                continue
            kind = self._kinds[name]
            if kind == "int" and _kind([value]) == "int":
                out[name], dists[name] = int(value), IntDistribution(int(value), int(value))
            elif kind == "float" and _kind([value]) in ("int", "float"):
                v = float(value)
                out[name], dists[name] = v, FloatDistribution(v, v)
            elif isinstance(kind, tuple) and _choice(value) in kind:
                out[name], dists[name] = _choice(value), CategoricalDistribution(kind)
        return out, dists

    # -- recording ---------------------------------------------------------------
    @staticmethod
    def _payload(row):
        keys = ("test_scores", "train_scores", "fit_time", "score_time",
                "n_test_samples", "error", "resources")
        return {key: row.get(key) for key in keys}

    @staticmethod
    def _readable(row):
        attrs = {"fit_time": row["fit_time"], "score_time": row["score_time"]}
        for part in ("test", "train"):
            scores = row[f"{part}_scores"]
            names = next((list(s) for s in scores if s is not None), [])
            for metric in names:
                attrs[f"split_{part}_{metric}"] = [
                    None if s is None else s[metric] for s in scores
                ]
        if any(e is not None for e in row["error"]):
            attrs["errors"] = row["error"]
        return attrs

    def _new_trial(self, row, candidate_key, state, value, user_attrs):
        import optuna

        params, dists = self._optuna_params(row["params"])
        attrs = {"params": encode_value(row["params"]), "hpsearch_key": candidate_key,
                 **user_attrs}
        kwargs = dict(state=state, user_attrs=attrs)
        if state == optuna.trial.TrialState.COMPLETE:
            kwargs["value"] = value
        try:
            frozen = optuna.trial.create_trial(params=params, distributions=dists, **kwargs)
            return self._storage.create_new_trial(self._study_id, template_trial=frozen)
        except ValueError:  # a distribution clash (new categorical value): attrs only
            frozen = optuna.trial.create_trial(params={}, distributions={}, **kwargs)
            return self._storage.create_new_trial(self._study_id, template_trial=frozen)

    def record(self, row, candidate_key, *, value, trial=None):
        """Record one finished row (all its splits done).

        Parameters
        ----------
        row : dict
            The engine's row (params, per-split scores, times, errors, resources, key).
        candidate_key : str
            Stable key of the candidate (params + cv configuration), without the budget.
        value : float
            Mean test score of the refit metric (NaN when every split failed).
        trial : optuna.Trial or FrozenTrial, default=None
            A trial the strategy asked for: the row is written into it, and the strategy
            tells the study its value. None: this store creates (or extends) the trial.
        """
        import optuna

        State = optuna.trial.TrialState
        budget = row.get("resources")
        row_attr = {f"hpsearch_row:{row['key']}": self._payload(row)}
        finite = value is not None and math.isfinite(value)
        if trial is None and budget is None:
            state = State.COMPLETE if finite else State.FAIL
            self._new_trial(
                row, candidate_key, state, value, {**self._readable(row), **row_attr}
            )
            return
        if trial is not None:
            trial_id = trial._trial_id
            attrs = dict(row_attr)
            if trial_id not in self._last:  # its first row (later rungs: key written)
                attrs["hpsearch_key"] = candidate_key
            if budget is None:
                attrs.update(self._readable(row))
        else:
            trial_id = self._trial_ids.get(candidate_key)
            attrs = row_attr
            if trial_id is None:
                trial_id = self._new_trial(row, candidate_key, State.RUNNING, None, {})
                self._trial_ids[candidate_key] = trial_id
                self._open.add(trial_id)
        for name, attr in attrs.items():
            self._storage.set_trial_user_attr(trial_id, name, attr)
        if budget is not None and finite:
            self._storage.set_trial_intermediate_value(trial_id, _step(budget), value)
        self._last[trial_id] = value

    def finish(self, candidate_key, state="COMPLETE"):
        """Close the RUNNING trial of a budgeted candidate as COMPLETE or PRUNED."""
        import optuna

        trial_id = self._trial_ids.pop(candidate_key, None)
        if trial_id is None or trial_id not in self._open:
            return
        self._open.discard(trial_id)
        state = optuna.trial.TrialState[state]
        value = self._last.get(trial_id)
        if state == optuna.trial.TrialState.COMPLETE:
            if value is None or not math.isfinite(value):
                state = optuna.trial.TrialState.FAIL
                value = None
        else:
            value = None
        self._storage.set_trial_state_values(
            trial_id, state, values=None if value is None else [value]
        )

    def finish_all(self):
        """Mark every still-RUNNING trial of this store COMPLETE with its last score."""
        for key in list(self._trial_ids):
            self.finish(key, "COMPLETE")


def _step(budget):
    """Intermediate-value step of a budget: its (first) integer resource."""
    for name in sorted(budget):
        value = budget[name]
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    return 0
