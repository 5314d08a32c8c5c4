"""``python -m hpsearch diagnose STUDY.yaml`` (or a finished run folder): the recipe's verdict
for the study's model, and ``next.yaml``, a follow-up study searching the recipe's next step.

The model diagnosed is the study's estimator (with its preprocessing) at the best parameters
of the study's finished run when ``<output>/best_params.json`` exists, else at the study's
fixed parameters; it is fitted on the study's training rows (the test split stays unseen)
with a validation part carved from them (by group when the study has ``data.groups``);
with ``--cv K`` on every split of K folds of them instead, judged on the means.
``next.yaml`` is a copy of the study named ``<name>_next`` whose search space is the diagnosis's fixes: every parameter a fix changes
becomes a categorical choice between its current value and the suggested ones, the best
parameters of the finished run are kept fixed, and ``return_train_score`` is on so the next
run can be diagnosed again. Nothing is written when the problem is ``"none"``.

Exit codes: 0 done, 1 failed, 2 bad study file or arguments.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import textwrap
import traceback
from pathlib import Path

__all__ = ["main", "make_parser", "next_study"]


def make_parser():
    p = argparse.ArgumentParser(
        prog="hpsearch diagnose",
        description="Diagnose a study's model with the lecture's recipe (training first, then "
        "the gap) and write next.yaml, a study of the recipe's next step.")
    p.add_argument("study", help="a study file (YAML) or a finished run folder")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="where to write the follow-up study (default: <run folder>/next.yaml)")
    p.add_argument("--cv", type=_folds, default=None, metavar="K",
                   help="judge on the means over K cross-validation folds of the training "
                   "rows (stratified for a classifier, by group with data.groups) instead "
                   "of one random split")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return p


def _folds(text):
    """``--cv``: an int of at least 2."""
    try:
        k = int(text)
    except ValueError:
        k = None
    if k is None or k < 2:
        raise argparse.ArgumentTypeError(
            f"must be an int of at least 2 (the number of folds). Got {text!r} instead.")
    return k


def _plain(value):
    """YAML-safe: tuples to lists, numpy scalars to Python."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _paths(arg):
    """(study file, run folder or None) from a study file or a finished run folder."""
    path = Path(arg)
    if path.is_dir():
        return path / "study.yaml", path
    return path, None


def _best_params(run_dir):
    best = run_dir / "best_params.json" if run_dir is not None else None
    if best is None or not best.is_file():
        return {}, None
    return json.loads(best.read_text(encoding="utf-8")), best


def next_study(raw, diagnosis, params, prefix, best_params, *, name, source_dir, out_dir):
    """The follow-up study (plain data) for ``diagnosis`` of the study ``raw``.

    ``params``: the diagnosed final step's parameters; ``prefix``: its pipeline prefix;
    ``best_params``: the finished run's best parameters (search names), kept fixed.
    """
    data = copy.deepcopy(raw)
    data["name"] = f"{name}_next"
    for key in ("output", "storage", "study_name"):
        data.pop(key, None)
    space = {}
    for fix in diagnosis.fixes:
        for key, value in fix.items():
            bare = key[len(prefix):] if key.startswith(prefix) else key
            choices = space.setdefault(bare, [_plain(params.get(bare))])
            if _plain(value) not in choices:
                choices.append(_plain(value))
    estimator = data.setdefault("estimator", {})
    fixed = dict(estimator.get("params") or {})
    for key, value in best_params.items():
        bare = key[len(prefix):] if key.startswith(prefix) else key
        if bare in space:
            continue
        if "__" in bare:            # a preprocessing parameter: a one-choice dimension
            space[bare] = [_plain(value)]
        else:
            fixed[bare] = _plain(value)
    estimator["params"] = {k: v for k, v in fixed.items() if k not in space}
    data.setdefault("search", {})["space"] = space
    data["return_train_score"] = True
    dataset = data.get("data") or {}
    if isinstance(dataset.get("path"), str) and not os.path.isabs(dataset["path"]):
        dataset["path"] = os.path.relpath(Path(source_dir) / dataset["path"], out_dir)
    return data


def _header(diagnosis, source):
    text = textwrap.fill(str(diagnosis), width=92, initial_indent="# ",
                         subsequent_indent="# ")
    return (f"{HEADER}{source} "
            f"(python -m hpsearch diagnose):\n{text}\n")


HEADER = "# The lecture's recipe, next step after diagnosing "


def _check_out(path):
    """``--out`` may replace a follow-up study this command wrote (its header), never
    another file: ``--out study.yaml`` would have overwritten the user's own study."""
    from hpsearch.study.errors import UsageError

    if path is None or not os.path.lexists(path):
        return
    try:
        with open(path, encoding="utf-8") as f:
            ours = os.path.isfile(path) and f.read(len(HEADER)) == HEADER
    except (OSError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise UsageError(
            f"--out: {path} exists and is not a follow-up study written by hpsearch diagnose; "
            "give a new file name (or delete that file first)")


def run(args, echo=print):
    import yaml

    from hpsearch.study.build import build
    from hpsearch.study.loader import load_study

    _check_out(args.out)

    from ._curves import final_step
    from ._diagnose import diagnose

    study_path, run_dir = _paths(args.study)
    study, _, text = load_study(study_path)
    plan = build(study, source=str(study_path))
    run_dir = run_dir or plan.out
    best, best_file = _best_params(run_dir)
    estimator = plan.estimator
    if best:
        from sklearn.base import clone

        estimator = clone(estimator).set_params(**best)
    scoring = plan.refit_metric if isinstance(plan.refit_metric, str) else None
    d = diagnose(estimator, plan.X_train, plan.y_train, scoring=scoring,
                 random_state=study.seed, groups=plan.groups, cv=getattr(args, "cv", None))
    what = f"the best parameters of {best_file}" if best_file else "the study's fixed parameters"
    echo(f"{plan.name}: the model at {what}")
    echo(textwrap.fill(str(d), width=92))
    if d.problem == "none":
        echo("Nothing to fix: no next.yaml written.")
        return d, None
    final, prefix = final_step(estimator)
    out = Path(args.out) if args.out else Path(run_dir) / "next.yaml"
    _check_out(out)
    folder = out.parent
    fresh = not args.out and (not folder.exists() or not any(folder.iterdir()))
    folder.mkdir(parents=True, exist_ok=True)
    if fresh:  # the study's own run folder, made here: marked hpsearch's, so that running
        # the study next (the lecture's order: diagnose, then run) is not refused as a
        # folder of someone else's files; next.yaml is no run output: a run keeps it
        from hpsearch.study.runner import _write_marker

        _write_marker(folder, first=True)
    data = next_study(yaml.safe_load(text), d, final.get_params(deep=False), prefix, best,
                      name=plan.name, source_dir=study_path.parent, out_dir=out.parent)
    out.write_text(_header(d, study_path) + yaml.safe_dump(data, sort_keys=False),
                   encoding="utf-8")
    load_study(out)                  # the follow-up must be runnable as is
    echo(f"wrote {out}: search space {data['search']['space']}")
    echo(f"run it with: python -m hpsearch {out}")
    return d, out


def main(argv=None):
    """Entry point of the subcommand; returns the exit code."""
    from hpsearch.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _err, _quiet_warnings

    try:
        args = make_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not args.debug:
        _quiet_warnings()
    from hpsearch.study.errors import StudyError

    try:
        run(args)
    except StudyError as exc:
        if args.debug:
            traceback.print_exc()
        _err(f"hpsearch diagnose: error in {args.study}: {exc}")
        return EXIT_USAGE
    except Exception as exc:  # the boundary: one clear line, or the traceback with --debug
        if args.debug:
            traceback.print_exc()
        _err(f"hpsearch diagnose: failed: {type(exc).__name__}: {exc} "
             "(--debug shows the traceback)")
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
