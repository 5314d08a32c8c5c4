"""What a run asks of the trial store of its study: the trials it holds (and its nested
searches'), the other studies in it, the live processes running the study, and removing
the study (``--overwrite``)."""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError
from .limits import _storage_path


def _local_file(storage):
    """The local file of a SQLite URL or a storage path, or None (a database server);
    ``:memory:`` for SQLite's memory (``sqlite://`` too: its ``Path("")`` was ``.``, the
    working directory, and the run was refused as "the trial store . is the output
    folder ... or a folder above it")."""
    path = _storage_path(storage)
    return None if path is None else Path(path or ":memory:")


def stored_trials(storage, study_name):
    """Trials (any state) of ``study_name`` in ``storage``; 0 when there is no such study.

    A store file that does not exist yet is not created.
    """
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return 0
    import optuna

    from hpsearch.model_selection.store import make_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=make_storage(storage))
    except KeyError:  # no study of that name
        return 0
    return len(study.get_trials(deepcopy=False))


def _delete_study(storage, study_name):
    """Remove ``study_name`` from a storage outside the run folder, if it is there."""
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return
    import optuna

    from hpsearch.model_selection.store import make_storage

    try:
        optuna.delete_study(study_name=study_name, storage=make_storage(storage))
    except KeyError:
        pass


def _live_owners(storage, study_name):
    """Owners (:func:`~hpsearch.model_selection.store.owner_id`) of the live processes
    running a search in ``study_name``: announced holders (``hpsearch_holder:<owner>``,
    False once ended) and owners of RUNNING trials whose process still runs (this machine)
    or wrote a heartbeat recently (another one). Empty when there is no such study."""
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return []
    import optuna

    from hpsearch.model_selection.store import HOLDER_ATTR, make_storage, owner_alive

    store = make_storage(storage)
    try:
        study_id = store.get_study_id_from_name(study_name)
    except KeyError:
        return []
    attrs = store.get_study_system_attrs(study_id)
    beats = {n.partition(":")[2]: t for n, t in attrs.items() if n.startswith("hpsearch_alive:")}
    owners = {n.partition(":")[2] for n, v in attrs.items()
              if n.startswith(HOLDER_ATTR + ":") and v}
    running = store.get_all_trials(study_id, deepcopy=False,
                                   states=(optuna.trial.TrialState.RUNNING,))
    owners |= {t.user_attrs.get("hpsearch_owner") for t in running} - {None}
    return sorted(o for o in owners if owner_alive(o, beats))


def _refuse_live_holder(plan):
    """``--overwrite`` while another live process runs the study (or one of its nested
    searches) in the trial store: replacing it would delete the trials that process is
    writing (its work lost, or the process ended by a missing store). UsageError naming
    the process, changing nothing."""
    for name in _study_names(plan):
        owners = _live_owners(plan.storage, name)
        if owners:
            host, _, pid = owners[0].split("/")[:3]
            raise UsageError(
                f"--overwrite refused: process {pid} on host {host!r} is running study "
                f"{name!r} in the trial store {plan.storage}; replacing it now would delete "
                "its work. Nothing was changed. Wait for it to end (or stop it) before "
                "--overwrite, or join it with --resume")


def _foreign_trials(storage, study_name):
    """Trials (any state, enqueued ones too) of ``study_name`` in ``storage`` when no
    hpsearch search made that study (none of its attributes is hpsearch's: a study of
    Optuna itself, or of another program), else 0."""
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return 0
    from hpsearch.model_selection.store import make_storage

    store = make_storage(storage)
    try:
        study_id = store.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    if any(n.startswith("hpsearch_") for n in store.get_study_system_attrs(study_id)):
        return 0
    trials = store.get_all_trials(study_id, deepcopy=False)
    if any(n.startswith("hpsearch_") for t in trials for n in t.user_attrs):
        return 0
    return len(trials)


def _refuse_foreign_study(plan):
    """``--overwrite`` of a study no hpsearch search made (``storage: optuna.db`` and
    ``study_name: exp`` of a study file naming the user's own Optuna study): it deleted
    that study and its trials, while ``--overwrite`` removes only what hpsearch made.
    UsageError naming the study and the trials, changing nothing."""
    for name in _study_names(plan):
        count = _foreign_trials(plan.storage, name)
        if count:
            raise UsageError(
                f"--overwrite refused: study {name!r} in the trial store {plan.storage} holds "
                f"{count} trial(s) that no hpsearch search made (the study has no record of "
                "hpsearch: made by Optuna itself or another program), and --overwrite removes "
                "only what hpsearch made. Nothing was changed. Use another study_name, or "
                "delete that study yourself (optuna delete-study)")


def _other_studies(storage, plan):
    """Names of the studies of ``storage`` that are not this plan's (nor its nested
    searches', ``<study_name>-outer<k>``)."""
    path = _local_file(storage)
    if path is not None and not path.is_file():
        return []
    import optuna

    from hpsearch.model_selection.store import make_storage

    ours = set(_study_names(plan))
    return [n for n in optuna.get_all_study_names(make_storage(storage))
            if n not in ours and not n.startswith(f"{plan.study_name}-outer")]


def _study_names(plan):
    """The study of the search and those of its nested searches (``evaluate``), one per
    outer split: ``<study_name>-outer<k>``."""
    from hpsearch.model_selection.nested import outer_study_name

    n_outer = len(plan.nested_fits) if plan.outer_cv is not None else 0
    return [plan.study_name, *(outer_study_name(plan.study_name, k) for k in range(n_outer))]


def kept_trials(plan):
    """Finished trials of the study and its nested searches (``evaluate``), or None when
    the store holds none of them."""
    counts = [finished_trials(plan.storage, name) for name in _study_names(plan)]
    return None if all(c is None for c in counts) else sum(c or 0 for c in counts)


def trials_in_progress(plan):
    """RUNNING trials of the study and its nested searches (candidates being fitted:
    ASHA keeps every candidate below the top rung open until the search ends, with its
    finished fits in the store), or None when unknown."""
    counts = [finished_trials(plan.storage, name, running=True)
              for name in _study_names(plan)]
    return None if all(c is None for c in counts) else sum(c or 0 for c in counts)


def finished_trials(storage, study_name, *, running=False):
    """Number of finished (complete or pruned) trials in the store, or None if unknown;
    ``running=True``: the RUNNING ones instead (candidates being fitted, by this
    study's other processes or by an interrupted one)."""
    try:
        import optuna

        from hpsearch.model_selection.store import make_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=study_name, storage=make_storage(storage))
        states = ((optuna.trial.TrialState.RUNNING,) if running else
                  (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
        return len(study.get_trials(deepcopy=False, states=states))
    except Exception:  # no store yet, or nothing was recorded before the interrupt
        return None


#: the local Dask cluster of ``backend: {name: dask}`` without a scheduler: in this process,
