"""Run the hpsearch performance benchmarks (issue 7) and print one table of ratios.

Usage::

    python benchmarks/run.py [--quick] [--only NAME ...] [--json PATH] [--repeats N]

Every benchmark measures hpsearch and its anchor side by side in this one run (interleaved
repeats, median of at least 3) with BLAS pinned to one thread unless the benchmark says
otherwise. Rows whose hpsearch piece (or the optional PyTorch yardstick) is missing are
reported as skipped, never as a crash. The exit status is 1 when a benchmark raised an
unexpected error, 0 otherwise (unmet targets are results, not failures).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# Workers spawned by joblib/loky inherit the environment: keep their ConvergenceWarnings quiet.
os.environ.setdefault("PYTHONWARNINGS", "ignore")

import _harness as H  # noqa: E402

# benchmark name -> module in this folder exposing ``run(quick, repeats) -> list[Row]``
BENCHMARKS = {
    "mlp_large": "bench_mlp_large",  # target 1
    "mlp_tiny": "bench_mlp_tiny",  # target 2
    "activations": "bench_activations",  # target 3
    "search_engine": "bench_search_engine",  # target 4
    "memory": "bench_memory",  # target 5
    "halving": "bench_halving",  # target 6
    "optuna": "bench_optuna",  # target 7 + issue 5 figures
    "scaling": "bench_scaling",  # target 8
    "calibration": "bench_calibration",  # issue 14: corrected vs naive test
    "racing": "bench_racing",  # issue 14: racing across folds, fits saved vs same choice
    "nested": "bench_nested",  # issue 14: nested CV in one pool vs outer splits in turn
    "schedulers": "sim_schedulers",  # issue 13: simulated 2..256 workers
    "asha_utilization": "bench_asha_utilization",  # issue 13: the real ASHA on 2 workers
    "recipe": "bench_recipe",  # issue 12: RecipeSearchCV vs joint TPE
    "time_to_quality": "bench_time_to_quality",  # issue 13: anytime curves vs the anchors
    "sklearn_parity": "bench_sklearn_parity",  # issue 10: accuracy, not time
}


def run_one(name: str, quick: bool, repeats: int) -> tuple[list[H.Row], bool]:
    """Run one benchmark; return its rows and whether it failed unexpectedly."""
    try:
        module = importlib.import_module(BENCHMARKS[name])
        with H.blas_threads(1):
            return list(module.run(quick=quick, repeats=repeats)), False
    except H.Skip as skip:
        return [H.skipped_row(name, "all", str(skip))], False
    except Exception as exc:  # report and go on with the other benchmarks
        traceback.print_exc()
        return [H.Row(benchmark=name, name="all", note=f"error: {type(exc).__name__}: {exc}")], True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
        help=f"run only these benchmarks ({', '.join(BENCHMARKS)})",
    )
    parser.add_argument("--json", default=os.path.join(HERE, "results.json"), metavar="PATH")
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved repeats per figure (median; >= 3)"
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1. Got {args.repeats} instead.")

    names = args.only or list(BENCHMARKS)
    rows, failed = [], False
    started = time.time()
    meta = {"command": " ".join([os.path.basename(sys.argv[0])] + list(argv or sys.argv[1:])),
            "quick": args.quick, "repeats": args.repeats, "environment": H.environment()}
    meta["bench_wall_s"] = {}
    for name in names:
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        got, err = run_one(name, args.quick, args.repeats)
        rows += got
        failed |= err
        meta["bench_wall_s"][name] = round(time.perf_counter() - t0, 1)
        print(f"[bench] {name} done in {meta['bench_wall_s'][name]} s", file=sys.stderr,
              flush=True)
    meta["wall_s"] = round(time.time() - started, 1)
    print(H.table(rows))
    H.write_json(rows, args.json, meta)
    per = ", ".join(f"{k} {v:g} s" for k, v in meta["bench_wall_s"].items())
    print(f"\nwritten {args.json}\ntotal wall time: {meta['wall_s']:g} s "
          f"({meta['wall_s'] / 60:.1f} min; {per})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
