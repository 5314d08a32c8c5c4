"""Name -> factory tables for Optuna samplers and pruners.

A search receives ``sampler="tpe"`` or ``pruner="median"`` (the same strings a study file
uses) and looks the factory up here; an Optuna instance passes through unchanged. Each
factory is one small function, so adding a strategy is one entry in a table.

The samplers are the lecture's Bayesian optimization / SMBO (``LECTURE.md`` §7): TPE
models :math:`p(x \\mid y)` with two densities split at a quantile of the scores so far,
the GP sampler models :math:`p(y \\mid x)` with a Gaussian process (the :math:`O(n^3)`
form of the notes), CMA-ES adapts a search distribution, QMC and random sampling spread
points without a model. The pruners are dynamic resource allocation (§7): judge a trial
on a small budget and stop it early when it is worse than its peers.
"""

import functools
from importlib.util import find_spec
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "make_pruner",
    "make_sampler",
    "sampler_seed",
]


def sampler_seed(random_state):
    """Integer seed for an Optuna sampler from a scikit-learn ``random_state``.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        ``None`` gives ``None`` (Optuna seeds itself), an int is used as is, a
        ``RandomState`` instance draws one integer (so it advances, as in sklearn).

    Returns
    -------
    seed : int or None
    """
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _require(module, what, install):
    if find_spec(module) is None:
        raise ImportError(
            f"{what} needs the '{module}' package, which is not installed. "
            f"Install it with `pip install {install}`."
        )


def _tpe(seed, n_jobs):
    """Multivariate TPE; constant liar when trials run in parallel (``n_jobs != 1``)."""
    import optuna

    return optuna.samplers.TPESampler(
        seed=seed,
        multivariate=True,
        constant_liar=n_jobs not in (None, 1),
    )


def _gp(seed, n_jobs):
    """Gaussian-process sampler on scikit-learn (:class:`._gp_sampler.GPSampler`).

    Always this one, so results do not depend on whether PyTorch is installed; it uses
    the constant liar for trials still running, so parallel batches need no switch.
    Users with torch may pass ``optuna.samplers.GPSampler()`` as an instance instead.
    """
    from ._gp_sampler import GPSampler

    return GPSampler(seed=seed)


def _cmaes(seed, n_jobs):
    """CMA-ES sampler (needs the ``cmaes`` package)."""
    import optuna

    _require("cmaes", "sampler='cmaes' (optuna.samplers.CmaEsSampler)", "cmaes")
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def _qmc(seed, n_jobs):
    """Scrambled Sobol sequence (quasi-Monte Carlo)."""
    import optuna

    return optuna.samplers.QMCSampler(
        seed=seed,
        scramble=True,
        warn_asynchronous_seeding=False,
        warn_independent_sampling=False,
    )


def _random(seed, n_jobs):
    """Independent uniform sampling: random search driven through Optuna."""
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


#: sampler name -> factory(seed, n_jobs)
SAMPLERS = {
    "tpe": _tpe,
    "gp": _gp,
    "cmaes": _cmaes,
    "qmc": _qmc,
    "random": _random,
}


def _median(random_state):
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


def _successive_halving(random_state):
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource="auto", reduction_factor=3
    )


def _hyperband(random_state):
    """Optuna's Hyperband; with a ``random_state``, its brackets follow the seed instead
    of the study name (:func:`_seeded_hyperband`)."""
    import optuna

    seed = sampler_seed(random_state)
    kwargs = {"min_resource": 1, "max_resource": "auto", "reduction_factor": 3}
    if seed is None:
        return optuna.pruners.HyperbandPruner(**kwargs)
    return _seeded_hyperband()(seed, **kwargs)


class _Named:
    """Stands for a study in ``HyperbandPruner._get_bracket_id``, which reads only its
    name."""

    def __init__(self, study_name):
        self.study_name = study_name


@functools.cache
def _seeded_hyperband():
    """``HyperbandPruner`` whose brackets follow a seed rather than the study name.

    Optuna puts trial :math:`n` in the bracket picked by
    :math:`\\mathrm{crc32}(\\text{"<study name>_<n>"})`; a search without
    ``study_name`` gets a new generated name at each fit, so its trials were pruned
    differently at each run whatever its ``random_state``. Here the name is
    ``"hpsearch-<seed>_<n>"`` (the same rule otherwise)."""
    import optuna

    class SeededHyperbandPruner(optuna.pruners.HyperbandPruner):
        __doc__ = _seeded_hyperband.__doc__

        def __init__(self, seed, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed

        def _get_bracket_id(self, study, trial):
            return super()._get_bracket_id(_Named(f"hpsearch-{self.seed}"), trial)

        def __reduce__(self):  # a class made here: pickled by what rebuilds it
            return _rebuild_seeded_hyperband, (self.__dict__,)

    return SeededHyperbandPruner


def _rebuild_seeded_hyperband(state):
    cls = _seeded_hyperband()
    pruner = cls.__new__(cls)
    pruner.__dict__.update(state)
    return pruner


#: pruner name -> factory(random_state)
PRUNERS = {
    "median": _median,
    "successive_halving": _successive_halving,
    "hyperband": _hyperband,
}


def _bad_value(param, owner, table, base, value, *, none=False):
    names = ", ".join(repr(name) for name in sorted(table))
    none_text = "None, " if none else ""
    return ValueError(
        f"The {param!r} parameter of {owner} must be {none_text}a str among "
        f"{{{names}}} or an instance of {base}. Got {value!r} instead."
    )


def make_sampler(sampler="tpe", *, random_state=None, n_jobs=None, owner="OptunaSearchCV"):
    """Build the Optuna sampler a search asks for.

    Parameters
    ----------
    sampler : str or optuna.samplers.BaseSampler, default="tpe"
        A name of :data:`SAMPLERS` or an instance (returned unchanged).
    random_state : None, int or numpy.random.RandomState
        Seeds the sampler (see :func:`sampler_seed`).
    n_jobs : int or None
        Trials asked in parallel; TPE uses the constant liar when it is not 1.
    owner : str
        Class name used in error messages.

    Returns
    -------
    optuna.samplers.BaseSampler
    """
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise _bad_value(
            "sampler", owner, SAMPLERS, "optuna.samplers.BaseSampler", sampler
        )
    return SAMPLERS[sampler](sampler_seed(random_state), n_jobs)


def make_pruner(pruner=None, *, owner="OptunaSearchCV", random_state=None):
    """Build the Optuna pruner a search asks for.

    Parameters
    ----------
    pruner : None, str or optuna.pruners.BasePruner, default=None
        ``None`` (no pruning), a name of :data:`PRUNERS` or an instance (returned
        unchanged).
    owner : str
        Class name used in error messages.
    random_state : None, int or numpy.random.RandomState, default=None
        ``"hyperband"``: seeds the assignment of trials to brackets (None: Optuna's,
        from the study name).

    Returns
    -------
    optuna.pruners.BasePruner or None
    """
    import optuna

    if pruner is None or isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if not isinstance(pruner, str) or pruner not in PRUNERS:
        raise _bad_value(
            "pruner", owner, PRUNERS, "optuna.pruners.BasePruner", pruner, none=True
        )
    return PRUNERS[pruner](random_state)
