"""Run a built study: fit its search and write its results into the run folder.

The run folder (its layout, the marker recording the files written, the lock, and the
refusals that keep a user's files safe) is :mod:`hpsearch.study.run_folder`; what a run
asks of the trial store is :mod:`hpsearch.study.trial_store`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import report
from .errors import StudyError, UsageError, exception_chain
from .run_folder import (  # noqa: F401  (re-exported: hpsearch.study.runner's names)
    LOCK_FILE, OUTPUT_FILES, RUN_MARKER, FolderReplaced, _FolderHold, _check_prepare,
    _marker_data, _name_final,
    _new_stage, _read_small, _record_and_publish, _refuse, _refuse_foreign,
    _refuse_unrecorded, _remove_stage, _sort_own, _write_copy, _write_marker, _writing,
    check_output, check_writable, folder_replaced_under, guard_store, check_storage_dir,
    prepare_output)
from .trial_store import (  # noqa: F401  (re-exported)
    _study_names, finished_trials, kept_trials, stored_trials, trials_in_progress)

__all__ = ["run", "OUTPUT_FILES", "RUN_MARKER", "RunFailed", "check_output", "check_storage_dir",
           "finished_trials", "kept_trials", "prepare_output", "stored_trials",
           "trials_in_progress"]


class RunFailed(RuntimeError):
    """The search ran but produced nothing usable (exit code 1)."""


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


#: its dashboards on a free loopback port (Dask's default, ``:8787`` and a worker port on
#: every interface, showed the study to the network)
LOCAL_DASK = {"processes": False, "dashboard_address": "127.0.0.1:0",
              "worker_dashboard_address": "127.0.0.1:0"}


def _scheduler_source(plan):
    """What named the Dask scheduler of ``plan``: ``"backend.scheduler"`` (the study
    file) or ``"--scheduler"`` (the command line, which replaces the file's backend)."""
    backend = getattr(plan.study, "backend", None)
    named = getattr(plan.backend, "scheduler", None)
    return ("backend.scheduler" if named is not None
            and named == getattr(backend, "scheduler", None) else "--scheduler")


#: how to run without the scheduler, by what named it (:func:`_scheduler_source`)
_WITHOUT_SCHEDULER = {"backend.scheduler": "remove 'scheduler' to run a local Dask cluster",
                      "--scheduler": "leave --scheduler out to run as the study file says"}


@contextlib.contextmanager
def _backend(spec, source="backend.scheduler"):
    """joblib backend of the study (``dask`` connects to ``scheduler`` when given;
    ``source``: what named it, for the message when it cannot be reached)."""
    if spec is None:
        yield
        return
    import joblib

    if spec.name != "dask":
        with joblib.parallel_config(backend=spec.name):
            yield
        return
    from distributed import Client

    try:
        client = Client(spec.scheduler) if spec.scheduler else Client(**LOCAL_DASK)
    except OSError as exc:  # unreachable scheduler: dask's connect timeout (30 s by default)
        raise RunFailed(
            f"{source}: cannot connect to the Dask scheduler at {spec.scheduler!r} "
            f"({exc}); start it with 'dask scheduler' and workers with 'dask worker "
            f"{spec.scheduler}', or {_WITHOUT_SCHEDULER[source]}"
        ) from exc
    try:
        with joblib.parallel_config(backend="dask"):
            yield
    finally:
        client.close()


def _metric_key(search, plan):
    if getattr(search, "multimetric_", False):
        return plan.refit_metric or plan.study.scoring[0]
    return "score"


def _test_scores(plan, model):
    from sklearn.metrics import get_scorer

    scoring = plan.study.scoring
    if scoring is None:
        name = _default_metric(plan)
        return {name: float(model.score(plan.X_test, plan.y_test))}
    names = [scoring] if isinstance(scoring, str) else scoring
    return {n: float(get_scorer(n)(model, plan.X_test, plan.y_test)) for n in names}


def _plots(plan, cv_df, metric, out, model):
    from hpsearch import plots

    label = _metric_label(plan, metric)
    made = []
    with _writing(out / "plots" / "history.png") as path:
        made.append(("Search history", plots.search_history(cv_df, path, metric=metric,
                                                              label=label)))
    for name, dim in plan.space.items():
        log = bool(getattr(dim, "log", False))
        safe = report.short(name).replace("__", ".")
        with _writing(out / "plots" / f"param_{safe}.png") as path:
            made.append((f"Score vs {report.short(name)}", plots.param_effect(
                cv_df, name, path, metric=metric, log=log, label=label)))
    if model is not None:
        try:
            frame = plots.epoch_curves(model, plan.X_train, plan.y_train,
                                       classifier=plan.classifier, random_state=plan.study.seed)
        except Exception:  # a plot must never fail a finished run; fall back to history_
            frame = None
        if frame is not None:
            with _writing(out / "learning_curves.csv") as path:
                frame.to_csv(path)
        with _writing(out / "plots" / "learning_curves.png") as path:
            path = plots.learning_curves(model, path, frame=frame)
        if path is not None:
            made.append(("Learning curves of the best model", path))
    return [(title, str(Path(p).relative_to(out))) for title, p in made]


def _counts(cv):
    """Distinct candidates, rows of ``cv_results_``, rounds and pruned trials.

    Halving, Hyperband, ASHA and pruned Optuna searches give a candidate one row per round
    (budget): a candidate is a trial (Optuna) or ASHA's ``candidate`` number (two may draw
    the same parameters), else a parameter set within its bracket, as
    :func:`~hpsearch.model_selection.compare` and the diagnosis count them.
    """
    n_rows = len(cv["params"])
    counts = {"n_candidates": n_rows, "n_evaluations": n_rows, "n_rounds": 1, "n_pruned": 0}
    if "iter" not in cv:
        return counts
    ids = next((k for k in ("trial", "candidate") if k in cv), None)
    if ids is not None:
        keys = [int(t) for t in cv[ids]]
    else:
        brackets = cv["bracket"] if "bracket" in cv else [None] * n_rows
        keys = [(b, json.dumps(_jsonable(p), sort_keys=True))
                for b, p in zip(brackets, cv["params"])]
    rounds = cv["bracket"] if "bracket" in cv else [None] * n_rows
    counts["n_candidates"] = len(set(keys))
    counts["n_rounds"] = len(set(zip(rounds, (int(i) for i in cv["iter"]))))
    if "state" in cv:
        counts["n_pruned"] = len({k for k, st in zip(keys, cv["state"]) if st == "PRUNED"})
    return counts


def _recorded_errors(storage, study_name):
    """``(rows, errors)`` of a stored study: how many candidate rows it holds (failed
    ones too: a resume keeps them as they are) and the error of every recorded fit that
    failed; ``(0, [])`` when there is no such study."""
    try:
        import optuna

        from hpsearch.model_selection.store import make_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=study_name, storage=make_storage(storage))
        trials = study.get_trials(deepcopy=False)
    except Exception:  # no store yet, or no such study
        return 0, []
    rows, errors = set(), {}  # (row key, split) -> error: a fit is in its row and alone
    for trial in trials:
        for name, payload in trial.user_attrs.items():
            kind, _, rest = name.partition(":")
            if kind == "hpsearch_row" and isinstance(payload, dict):
                rows.add(rest)
                errors.update(((rest, i), e) for i, e in enumerate(payload.get("error") or []))
            elif kind == "hpsearch_fit" and isinstance(payload, dict):
                key, _, split = rest.rpartition(":")
                errors[(key, int(split) if split.isdigit() else split)] = payload.get("error")
    return len(rows), [e for e in errors.values() if e]


def _timed_out_note(plan, errors):
    """The note on fits of the resumed run stopped by a ``fit_timeout`` shorter than this
    run's: the search fits them again (``TrialStore.retry_timed_out``); a search that
    keeps them as failed fits (``_retries_timed_out`` False; none of hpsearch's) gets a
    warning."""
    from hpsearch.model_selection._engine import stopped_sooner, timed_out_limit

    now = getattr(plan.search, "fit_timeout", None)
    limits = [timed_out_limit(e) for e in errors if stopped_sooner(e, now)]
    if not limits:
        return None
    limit = "no fit_timeout" if now is None else f"fit_timeout={now:g}s"
    if getattr(plan.search, "_retries_timed_out", False):
        return (f"hpsearch: {len(limits)} fit(s) of the run being resumed stopped by a "
                f"shorter fit_timeout (at most {max(limits):g}s) will run again with {limit}")
    return (f"hpsearch: warning: {len(limits)} fit(s) of the run being resumed exceeded "
            f"fit_timeout={max(limits):g}s; a resume keeps them as failed fits and does not "
            f"fit them again with {limit}: use --overwrite to run every fit again")


def _check_resume(plan, source_text, echo):
    """Say when ``--resume`` has nothing to resume and how many fits stopped by a shorter
    ``fit_timeout`` run again, warn when the study file changed."""
    kept = sum(finished_trials(plan.storage, name) or 0 for name in _study_names(plan))
    recorded = [_recorded_errors(plan.storage, name) for name in _study_names(plan)]
    failed_rows = sum(rows for rows, _ in recorded)
    if not (kept or failed_rows) and echo:
        running = sum(finished_trials(plan.storage, name, running=True) or 0
                      for name in _study_names(plan))
        if running:  # another process's (or an interrupted run's) candidates
            echo(f"resuming {plan.storage} (study {plan.study_name!r}): no finished "
                 f"candidate yet, {running} being fitted or interrupted")
        else:
            echo(f"nothing to resume in {plan.storage} (study {plan.study_name!r}): "
                 "starting a new run")
    note = _timed_out_note(plan, [e for _, errors in recorded for e in errors])
    if note:
        print(note, file=sys.stderr)
    copy = plan.out / "study.yaml"
    if (kept or failed_rows) and copy.is_file() and _read_small(copy) != source_text:
        print(f"hpsearch: warning: the study file differs from {copy}, the copy of the run "
              "being resumed; finished candidates are kept as they are", file=sys.stderr)


#: the study keys each setting a stored study checks on resume comes from (the first is
#: named when the copy of the resumed run cannot tell which key changed)
_MISMATCH_KEYS = {
    "data": (("data",), ("seed",)),
    "cv": (("cv",), ("seed",), ("data",)),
    "estimator": (("estimator", "params"), ("estimator",), ("preprocessing",), ("seed",)),
    "scoring": (("scoring",),),
    "refit": (("refit",), ("scoring",)),
    "rungs": (("search", "rungs"), ("estimator", "params", "max_iter"), ("search", "pruner")),
    "pruner": (("search", "pruner"), ("search", "rungs")),
    "return_train_score": (("return_train_score",),),
    "random_state": (("seed",),),
    "search": (("search", "method"),),
    # the settings processes sharing one ASHA must agree on (asha._SHARED_SETTINGS)
    "param_distributions": (("search", "space"),),
    "n_trials": (("search", "n_trials"),),
    "resource": (("search", "resource"),),
    "factor": (("search", "factor"),),
    "n_resources": (("search", "min_resources"), ("search", "max_resources"),
                    ("search", "factor")),
}


def _changes(old, new, path=()):
    """Key paths (leaves) whose values differ between two YAML documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in dict.fromkeys([*old, *new])
                for c in _changes(old.get(k), new.get(k), (*path, k))]
    return [] if old == new else [path]


def _value_at(data, path):
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _started_elsewhere(exc):
    """Whether ``exc`` is the store's refusal to create a study that exists: created by
    another process between this run's check of the store and its search's start."""
    import optuna

    return any(isinstance(e, optuna.exceptions.DuplicatedStudyError)
               for e in exception_chain(exc))


def _changed_keys(copy_text, source_text, prefixes):
    """``(changed key paths under one of prefixes, old document, new document)`` between
    the copy of the resumed run's study file and this one; no paths when there is no copy
    or it cannot be read."""
    from .loader import read_yaml

    if copy_text is None:
        return [], None, None
    try:
        old, _ = read_yaml(copy_text, "study.yaml")
        new, _ = read_yaml(source_text, "study.yaml")
    except StudyError:  # an unreadable copy: name the setting's key only
        return [], None, None
    changed = [c for c in _changes(old, new) if any(c[:len(p)] == p for p in prefixes)]
    return changed, old, new


def _option_changed(plan):
    """How to go on when a resumed study's fits differ from this run's while the study
    file is the one the fits were made with: ``--smoke`` (a reduced budget) differs."""
    import json

    smoke = getattr(plan, "smoke", False)
    try:
        earlier = json.loads(_read_small(Path(plan.out) / "summary.json") or "{}").get("smoke")
    except (OSError, ValueError, AttributeError):
        earlier = None
    if smoke and earlier is not True:
        cause = "but this run has --smoke (a reduced budget, other fits): resume without --smoke"
    elif earlier is True and not smoke:
        cause = ("but that run was a --smoke run (a reduced budget, other fits): resume it "
                 "with --smoke")
    else:
        cause = ("so an option of the command line differs (--smoke, a reduced budget, "
                 "makes other fits): resume with the options of that run")
    return (f"the study file is the one it ran on, {cause}, or start another search: "
            "another study_name (and output folder), or --overwrite to replace this one")


def _mismatch_error(exc, plan, copy_text, source_text):
    """The :class:`StudyError` for a resumed study whose store holds fits made with other
    data, splits or settings (:class:`~hpsearch.model_selection.store.StudyMismatch`):
    named by the study key that changed since the run being resumed (from the copy of its
    study file), with the recorded and the new value and how to go on."""
    prefixes = _MISMATCH_KEYS.get(exc.setting, ((exc.setting,),))
    changed, old, new = _changed_keys(copy_text, source_text, prefixes)
    how = (f"resume with the study file it ran on ({plan.out / 'study.yaml'}), or start "
           "another search: another study_name (and output folder), or --overwrite to "
           "replace this one")
    head = (f"the study {plan.study_name!r} in {plan.storage} holds fits made with another "
            f"{exc.setting}, which must not mix with this file's")
    if not changed and old is not None and old == new:  # the same file: an option differs
        # (was "resume with the study file it ran on", the very file given, after a
        # --smoke run resumed without --smoke, or the other way round)
        how = _option_changed(plan)
    if changed:
        key = changed[0]
        more = (f" (also changed: {', '.join('.'.join(map(str, c)) for c in changed[1:])})"
                if len(changed) > 1 else "")
        return StudyError(key, f"{head}: was {_value_at(old, key)!r}, got "
                          f"{_value_at(new, key)!r}{more}; {how}")
    return StudyError(prefixes[0], f"{head} ({exc}); {how}")


def run(plan, *, source_text, resume=False, overwrite=False, echo=print, output_key=None):
    """Fit the search of ``plan`` and write the output folder; returns the summary dict.

    The folder is prepared by :func:`prepare_output`: ``resume`` continues the trials of
    the store, ``overwrite`` replaces an earlier run (its files and its study); without
    either, an earlier run's trials or results are an error. ``output_key`` is
    ``("output",)`` when the folder comes from the study file (errors name the key).

    Raises
    ------
    StudyError
        From :func:`prepare_output`, before anything is written; a :class:`UsageError`
        also when another live process runs in the folder (``--overwrite``, or a run
        without ``--resume``) or, with ``overwrite``, runs the study in the store.
    KeyboardInterrupt
        Propagated after the trial store has kept every finished fit.
    RunFailed
        When every fit failed.
    """
    out = Path(plan.out)
    check_writable(out, output_key, storage=plan.storage)  # before the lock file is opened
    if not (out / RUN_MARKER).is_file():  # a new or empty folder, or one not hpsearch's:
        # refused before the folder (and its lock file) is made or touched
        _check_prepare(plan, resume=resume, overwrite=overwrite, key=output_key,
                       source_text=source_text)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # /proc/x, a read-only file system: before any work
            raise _refuse(f"the output folder {out} cannot be made: "
                          f"{exc.strerror or exc}", output_key) from exc
        if not (out / RUN_MARKER).is_file():
            _write_marker(out, first=True)
    elif not (out / LOCK_FILE).is_file() or (out / LOCK_FILE).is_symlink():
        # no live run holds the folder (each holds its lock file): every refusal now,
        # before the lock file is made (a run folder copied without it, a shipped marker)
        _check_prepare(plan, resume=resume, overwrite=overwrite, key=output_key,
                       source_text=source_text)
    elif overwrite:  # refused before the hold is taken (checked again, held, there)
        check_output(out, output_key)
        _refuse_foreign(out, _sort_own(out, plan.storage)[1], output_key)
    elif _marker_data(out) is not None:  # the same, for a run or --resume
        _refuse_unrecorded(out, output_key, resume, source_text)
    hold = _FolderHold(out)
    try:
        with contextlib.ExitStack() as guarded:  # the store, once the folder is open
            with hold.preparing(resume=resume, overwrite=overwrite, plan=plan), hold.recording():
                guarded.enter_context(guard_store(plan, hold))
                kept = []
                removed = prepare_output(plan, resume=resume, overwrite=overwrite, key=output_key,
                                         kept=kept, source_text=source_text, dir_fd=hold.dir_fd)
                if overwrite and echo:
                    echo(f"--overwrite: starting over in {out}/ ({len(removed)} file(s) of the "
                         f"earlier run removed; study {plan.study_name!r} replaced)")
                if kept and echo:
                    echo(f"--overwrite: kept {len(kept)} file(s) no run of hpsearch recorded "
                         f"writing: {', '.join(kept)}")
                if resume:
                    _check_resume(plan, source_text, echo)
                copy = out / "study.yaml"
                # a resumed run keeps the copy of the file its fits were made with until the
                # search accepts the new file (a refused resume leaves it as it was)
                copy_text = _read_small(copy) if resume and copy.is_file() else None
                if copy_text is None:
                    _write_copy(out, source_text, hold.dir_fd)
            nested, fit_time = _fit(plan, copy_text, source_text, echo)
            if copy_text is not None and copy_text != source_text:
                with hold.recording():
                    _write_copy(out, source_text, hold.dir_fd)
            return _write_output(plan, fit_time, nested, echo, hold)
    except Exception as exc:
        # the run folder deleted (or moved) under the run: SQLite's "disk I/O error" on
        # its store was the run's error, "StorageInternalError: An exception is raised
        # during the commit ... e.g. exceeding max length", and "resume with" a store
        # deleted with the folder; the cause is named instead
        replaced = None if isinstance(exc, FolderReplaced) else folder_replaced_under(
            out, hold.dir_fd)
        if replaced is not None:
            raise replaced from exc
        raise
    finally:
        hold.release()


def _fit(plan, copy_text, source_text, echo):
    """Fit the search (and the nested CV of ``evaluate``): ``(nested, fit seconds)``. A
    store holding another search's fits, or a study another process created meanwhile,
    is a :class:`StudyError` / :class:`UsageError` saying how to go on."""
    from hpsearch.model_selection.store import StudyMismatch

    fit_kw = {"groups": plan.groups} if plan.groups is not None else {}
    try:
        nested = _nested(plan, echo) if plan.outer_cv is not None else None
        t0 = time.perf_counter()
        with _backend(plan.backend, _scheduler_source(plan)):
            plan.search.fit(plan.X_train, plan.y_train, **fit_kw)
    except StudyMismatch as exc:
        raise _mismatch_error(exc, plan, copy_text, source_text) from exc
    except ValueError as exc:
        if _started_elsewhere(exc):
            raise UsageError(
                f"the trial store {plan.storage} already holds study {plan.study_name!r}: "
                "another process started this study at the same time; this one changed "
                "nothing. Start every process with --resume to run one search together, "
                "or use --overwrite to replace it") from exc
        raise
    return nested, time.perf_counter() - t0


def _write_output(plan, fit_time, nested, echo, hold=None):
    """Write the output files into a private folder and move them into the run folder
    (:func:`_record_and_publish`: the marker recording them first); returns the summary
    dict. ``hold``: the run's :class:`_FolderHold` (its marker lock is held while
    recording and publishing)."""
    out = plan.out
    dir_fd = hold.dir_fd if hold is not None else None
    stage = _new_stage(out, dir_fd)
    try:
        summary, _ = _write_results(plan, plan.search, stage, out, fit_time, nested, echo)
    except RunFailed:  # results.csv shows the errors
        _say_kept(_record_and_publish(plan, stage, hold), out)
        raise
    except BaseException as exc:
        _remove_stage(stage, dir_fd)
        _name_final(exc, stage, out)
        raise
    _say_kept(_record_and_publish(plan, stage, hold), out)
    return summary


def _say_kept(kept, out):
    """Say where each file found in place of a folder of the results (a file ``plots``
    put in the run folder during the search) was kept (:func:`_publish`), quiet or not."""
    for name in kept:
        folder = Path(out) / name.rsplit("/", 1)[0]
        print(f"hpsearch: warning: a file stood at {folder}, the folder of the run's "
              f"figures, when they were moved into place; it is kept, moved to "
              f"{Path(out) / name}", file=sys.stderr)


def _write_results(plan, search, out, final, fit_time, nested, echo):
    """Write the output files into ``out`` (the run's staging folder; ``final`` is the
    run folder they are moved to): ``(summary, files written)``."""
    import joblib
    import pandas as pd

    cv = search.cv_results_
    cv_df = pd.DataFrame(cv)
    metric = _metric_key(search, plan)
    means = np.asarray(cv[f"mean_test_{metric}"], dtype=float)
    tidy = search.results_frame() if hasattr(search, "results_frame") else None
    if tidy is None:
        from hpsearch.model_selection._results import results_frame

        tidy = results_frame(cv)
    if "error" in tidy:  # each (candidate, split) row: its own split's error only
        tidy["error"] = [_split_error(e, k) for e, k in zip(tidy["error"], tidy["split"])]
    with _writing(out / "results.csv") as path:
        tidy.to_csv(path, index=False)
    with _writing(out / "cv_results.csv") as path:
        cv_df.assign(params=[json.dumps(_jsonable(p)) for p in cv["params"]]).to_csv(
            path, index=False)
    counts = _fit_counts(tidy)
    n_failed = counts["n_failed"]
    if not np.isfinite(means).any():
        first = tidy["error"].dropna().iloc[0] if n_failed else "no finite score"
        last = str(first).strip().splitlines()[-1] if first else "?"
        if n_failed == len(tidy):
            what = f"every fit failed ({n_failed} errors"
        elif n_failed:
            what = (f"no candidate has a mean score, each has a failed fit ({n_failed} of "
                    f"{len(tidy)} fits failed")
        else:  # r2 of a leave-one-out split's one row...
            what = (f"no candidate has a finite mean score, though no fit failed: the metric "
                    f"is undefined on these splits ({len(tidy)} fits")
        raise RunFailed(f"{what}, see {final / 'results.csv'})"
                        + (f"; first error: {last}" if n_failed else ""))

    best = _best_index(search, cv, metric)
    best_params = dict(cv["params"][best])
    model = getattr(search, "best_estimator_", None)
    test_scores = None
    if model is not None:
        with _writing(out / "model.joblib") as path:
            joblib.dump(model, path)
        test_scores = _test_scores(plan, model)
    with _writing(out / "best_params.json") as path:
        path.write_text(json.dumps(_jsonable(best_params), indent=2) + "\n")
    summary = {
        "study": plan.name,
        "method": plan.study.search.method,
        "estimator": plan.study.estimator.name,
        "metric": _metric_label(plan, metric),
        "metric_key": metric,
        "best_score": float(means[best]),
        "best_std": float(cv[f"std_test_{metric}"][best]),
        "best_params": best_params,
        "test_scores": test_scores,
        **_counts(cv),
        "resource": _resource_unit(search),
        "best_budget": _best_budget(cv, best),
        "n_splits": plan.n_splits,
        **counts,
        "n_fits_run": (search._n_fits_run if _resumed(search)  # a --resume: this run's
                       else counts["n_fits"]),
        "n_train": int(len(plan.y_train)),
        "n_test": int(len(plan.y_test)),
        "cv": repr(plan.cv),
        "fit_time_s": fit_time,
        "backend": getattr(search, "backend_", None),
        "storage": plan.storage,
        "study_name": plan.study_name,
        "smoke": plan.smoke,
    }
    if nested is not None:
        summary["nested"] = nested
    stages = report.recipe_stages(search)
    if stages is not None:  # the recipe search: its stages and why each ended
        summary["stages"] = stages
    if "diagnosis" in cv:  # the recipe's verdict on the best (train scores were kept)
        summary["best_diagnosis"] = str(cv["diagnosis"][best])
    with _writing(out / "summary.json") as path:
        path.write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    plot_files = _plots(plan, cv_df, metric, out, model)
    sections, section_files = _sections(plan, search, cv, metric, out, model, echo)
    if stages is not None:
        sections.insert(0, report.stages_section(stages, summary["metric"],
                                                 getattr(search, "train_floor_", None)))
    if nested is not None:
        sections.insert(0, report.nested_section(nested, summary["metric"]))
    with _writing(out / "report.md") as path:
        report.write_report(path, plan, summary, cv_df, plot_files, sections)
    written = [*(f for f in OUTPUT_FILES if f != "study.db"), *(p for _, p in plot_files),
               *section_files]
    if (out / "learning_curves.csv").is_file():
        written.append("learning_curves.csv")
    summary["text"] = report.summary_text(plan, summary, cv_df)
    return summary, [f for f in written if (out / f).is_file()]


def _fit_counts(tidy):
    """How the (candidate, split) rows of ``results.csv`` ended: ``n_fits`` (fitted:
    a score or an error), ``n_failed`` (an error; not a split the search's ``timeout``
    left unrun), ``n_raced`` (no score, no error: racing stopped its candidate first) and
    ``n_not_run`` (the search's ``timeout`` came first)."""
    from hpsearch.model_selection._engine import NOT_RUN

    errors = tidy["error"] if "error" in tidy else [None] * len(tidy)
    has_error = np.array([isinstance(e, str) for e in errors], dtype=bool)
    not_run = np.array([isinstance(e, str) and NOT_RUN in e for e in errors], dtype=bool)
    tests = [c for c in tidy.columns if str(c).startswith("test_")]
    scored = (tidy[tests].notna().any(axis=1).to_numpy() if tests
              else np.zeros(len(tidy), dtype=bool))
    failed = has_error & ~not_run
    return {"n_fits": int(((scored & ~not_run) | failed).sum()), "n_failed": int(failed.sum()),
            "n_raced": int((~scored & ~has_error).sum()), "n_not_run": int(not_run.sum())}


#: the head of one split's part of a candidate's error (``_results.row_error``)
_SPLIT_HEAD = re.compile(r"^split (\d+):\n", re.M)


def _split_error(text, split):
    """The part of a candidate's error text about one ``split`` (``row_error`` writes a
    ``split k:`` section per failed split), None when that split did not fail; a text
    without sections is the whole candidate's."""
    if not isinstance(text, str):
        return None
    heads = list(_SPLIT_HEAD.finditer(text))
    if not heads:
        return text
    for head, after in zip(heads, [*heads[1:], None]):
        if int(head.group(1)) == split:
            return text[head.end():after.start() - 1 if after else len(text)]
    return None


def _best_budget(cv, best):
    """The budget (``n_resources``) the best row was scored at, or None."""
    try:
        budget = float(cv["n_resources"][best]) if "n_resources" in cv else math.nan
    except (TypeError, ValueError):  # budgets that are no numbers
        return None
    return int(budget) if math.isfinite(budget) else None


def _best_index(search, cv, metric):
    """The search's best row: its ``best_index_``, or (several metrics and ``refit:
    false``, where a search sets none) the row it would pick by ``metric``: the search's
    own rule (``_select_best_index``: rank 1, the largest budget of halving / Hyperband /
    ASHA, a complete candidate before a raced one, an accepted recipe candidate), never
    the highest mean over all rows (an early halving round's row)."""
    if hasattr(search, "best_index_"):
        return int(search.best_index_)
    return int(search._select_best_index(metric, metric, cv))


def _nested(plan, echo):
    """Nested cross-validation of the study's search (``evaluate``) on the training rows:
    :func:`~hpsearch.model_selection.nested_cross_validate`: with fork workers (Linux,
    ``n_jobs > 1``, no ``backend``) every outer split's search at once through one pool of
    the study's ``n_jobs`` workers, else the outer splits one after the other; each inner
    search is its own study ``<study_name>-outer<k>`` in the trial store (``--resume``
    continues each, fitting only what is missing)."""
    from hpsearch.model_selection.nested import nested_cross_validate

    if echo:
        echo(f"nested cross-validation: {len(plan.nested_fits)} outer splits "
             f"({plan.outer_cv!r}), then the final search")
    t0 = time.perf_counter()
    with _backend(plan.backend, _scheduler_source(plan)):
        result = nested_cross_validate(plan.search, plan.X_train, plan.y_train,
                                       cv=plan.outer_cv, groups=plan.groups,
                                       return_searches=True)
    return {
        "outer_cv": repr(plan.outer_cv),
        "inner_cv": repr(plan.cv),
        "test_scores": result.test_score.tolist(),
        "mean": result.mean_test_score,
        "std": result.std_test_score,
        "inner_best_scores": result.inner_best_score.tolist(),
        "mean_inner_best": float(np.mean(result.inner_best_score)),
        "mean_optimism": result.mean_optimism,
        "best_params": result.best_params,
        "n_train": result.n_train.tolist(),
        "n_test": result.n_test.tolist(),
        "n_fits": _nested_fits(result.searches),
        "n_fits_run": _nested_fits(result.searches, run=True),
        "fit_time_s": time.perf_counter() - t0,
        "engine": result.engine,
        "n_workers": result.n_workers,
    }


def _nested_fits(searches, run=False):
    """Fits the inner searches ran (:func:`_fit_counts`: a raced or pruned split, one the
    timeout left unrun, is no fit), plus one refit each; the plan's count was shown, with
    the fits racing skipped. ``run``: only the fits of this run (a ``--resume`` finds the
    others in the trial store; the search's ``_n_fits_run``), plus the refits."""
    from hpsearch.model_selection._results import results_frame

    def count(search):
        if run and _resumed(search):
            return search._n_fits_run
        return _fit_counts(results_frame(search.cv_results_))["n_fits"]

    return int(sum(count(s) for s in searches) + len(searches))


def _resumed(search):
    """Whether ``search`` resumed a stored study and counted the fits it ran itself
    (``_n_fits_run``: the others were found in the store)."""
    return bool(getattr(search, "resume", False)) and hasattr(search, "_n_fits_run")


def _how_sure(search, cv, metric, out, label=None):
    from hpsearch import plots
    from hpsearch.model_selection import compare

    frame = compare(search, metric, top=5, alternative="greater")
    if len(frame) < 2:
        return None, []
    rope, rope_text = report.practical_rope(label or metric, frame["mean_test"].iloc[0])
    if rope != frame.attrs["rope"]:  # a loss: 1 % of the best's mean (practical_rope)
        frame = compare(search, metric, top=5, alternative="greater", rope=rope)
    rel = "plots/how_sure.png"
    with _writing(out / rel) as path:
        plots.comparison(cv, frame, path, label=label)
    return report.how_sure_section(frame, rel, rope_text=rope_text), [rel]


def _diagnosis(plan, search, cv, metric, out, model):
    """The report's "Diagnosis" section: the search's own labels and references (its
    ``diagnosis_``), the best model's gradient flow, and the gradient flow of the
    candidate that trains worst when the recipe calls it a training problem."""
    from hpsearch.diagnostics import report_section

    diagnosis = getattr(search, "diagnosis_", None)
    refs = getattr(diagnosis, "references", None)
    # a recipe search's own rule (its thresholds and the m*_tr of its floor): the section
    # recounted its labels with the defaults and the best of all candidates
    recipe = hasattr(search, "train_floor_") and diagnosis is not None
    text = report_section(cv, out, best_model=model, metric=metric, references=refs,
                          label=_metric_label(plan, metric),
                          thresholds=search.thresholds if recipe else None,
                          best_train=diagnosis.evidence.get("unit_train") if recipe else None,
                          diagnosis=diagnosis if recipe else None,
                          estimator=getattr(search, "estimator", None),
                          best_possible=getattr(diagnosis, "evidence", {}).get("best_possible"))
    made = [p for p in ("plots/recipe_map.png", "plots/gradient_flow.png")
            if (out / p).is_file()]
    extra = _worst_training_flow(plan, cv, metric, out)
    if extra:
        text += "\n" + extra[0]
        made.append(extra[1])
    return text, made


def _worst_training_row(cv, metric):
    """The row with the lowest mean training score among those diagnosed ``"training"``,
    or None. With budgets (halving, Hyperband, ASHA, a pruned Optuna search) only rows at
    the largest budget count: the candidate is refit with the estimator's own (full)
    training, and a row of an early round (one epoch of a pruned trial) trains poorly
    because of its budget, not its parameters."""
    labels = cv.get("diagnosis")
    train = cv.get(f"mean_train_{metric}")
    if labels is None or train is None:
        return None
    rows = np.arange(len(labels))
    budgets = cv.get("n_resources")
    if budgets is not None:
        try:
            budgets = np.asarray(budgets, dtype=float)
            rows = rows[budgets == np.nanmax(budgets)]
        except (TypeError, ValueError):  # budgets without an order
            pass
    poor = [i for i in rows if labels[i] == "training" and np.isfinite(train[i])]
    return int(min(poor, key=lambda i: train[i])) if poor else None


def _worst_training_flow(plan, cv, metric, out):
    """(Markdown, plot) of the gradient flow of the candidate with the lowest training
    score among those diagnosed ``"training"`` (refit on the training rows, one thread),
    or None: no such candidate, or an estimator that records no gradients."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from hpsearch.diagnostics import gradient_flow

    worst = _worst_training_row(cv, metric)
    if worst is None:
        return None
    train = cv[f"mean_train_{metric}"]
    rel = "plots/gradient_flow_diagnosed.png"
    estimator = clone(plan.search.estimator).set_params(**cv["params"][worst])
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(plan.X_train, plan.y_train)
    title = "Gradient flow of the candidate that trains worst"
    with _writing(out / rel) as path:
        if gradient_flow(estimator, path, title=title) is None:
            return None
    at = f", n_resources={report.fmt(cv['n_resources'][worst])}" if "n_resources" in cv else ""
    name = _metric_label(plan, metric)
    return (f"### {title}\n\nDiagnosed a training problem (mean training {name} "
            f"{train[worst]:.4g}{at}): {report._params_text(cv['params'][worst])}.\n\n"
            f"![{title}]({rel})\n"), rel


#: a grid study with at most this many candidates gets them side by side in its report
#: (a grid compares a few chosen values, as the lecture's studies do)
SIDE_BY_SIDE_MAX = 9


def _side_by_side(plan, cv, out):
    """The "Candidates side by side" section of a small study of hpsearch MLPs: every
    candidate refit on the training rows (one BLAS thread each), its loss curve, its
    weights and learned activation slopes in one figure (:func:`hpsearch.plots.
    candidates`), so a lecture claim about curves or weights shows in the report."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from hpsearch import plots
    from hpsearch.mlp import MLPClassifier, MLPRegressor

    params = cv["params"]
    final = plots._final_step(plan.search.estimator)
    if not (plan.study.search.method == "grid" and 1 < len(params) <= SIDE_BY_SIDE_MAX
            and isinstance(final, (MLPClassifier, MLPRegressor))):
        return None, []
    models = {}
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in params:
            label = report._params_text(p) or "default"
            try:
                models[label] = clone(plan.search.estimator).set_params(**p).fit(
                    plan.X_train, plan.y_train)
            except Exception:  # noqa: BLE001 - a candidate that fails is left out
                continue
    rel = "plots/candidates.png"
    with _writing(out / rel) as path:
        if plots.candidates(models, path) is None:
            return None, []
    text = ("## Candidates side by side\n\nEvery candidate refit on the training rows: its "
            "training loss per epoch, the distribution of its weights (the share below 0.01 "
            "in the legend) and, for PReLU, its learned slopes.\n\n"
            f"![Candidates side by side]({rel})\n")
    return text, [rel]


def _sections(plan, search, cv, metric, out, model, echo):
    """The report's analysis sections, each optional: a section that cannot be computed
    (a custom splitter of unknown split sizes, one candidate) is left out with a note,
    never failing a finished run."""
    sections, files = [], []
    label = _metric_label(plan, metric)
    for name, make in (("How sure is this?", lambda: _how_sure(search, cv, metric, out, label)),
                       ("Diagnosis", lambda: _diagnosis(plan, search, cv, metric, out, model)),
                       ("Candidates side by side", lambda: _side_by_side(plan, cv, out))):
        try:
            text, made = make()
        except Exception as exc:  # noqa: BLE001 - an analysis must never fail the run
            if echo:
                echo(f"note: report section {name!r} left out: {type(exc).__name__}: {exc}")
            continue
        if text:
            sections.append(text)
            files += made
    return sections, files


def _resource_unit(search):
    """What ``n_resources`` counts (None for searches without rounds)."""
    from .budget import RESOURCE_UNITS

    if hasattr(search, "plan_rounds"):
        return RESOURCE_UNITS.get(search.resource, search.resource)
    return "epochs" if getattr(search, "rungs_", None) else None


def _metric_label(plan, metric):
    """The metric's name for a reader: ``metric`` (a ``cv_results_`` key), or for the
    single-metric key ``"score"`` the study's scoring (else the estimator's own score)."""
    return metric if metric != "score" else (plan.refit_metric or _default_metric(plan))


def _default_metric(plan):
    """Name of the estimator's own ``score``: accuracy (classifiers) or r2 (regressors)."""
    return "accuracy" if plan.classifier else "r2"
