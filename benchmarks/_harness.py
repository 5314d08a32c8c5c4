"""Shared benchmark machinery: rows, skips, interleaved timing, medians, PSS sampling, tables.

Every benchmark module exposes ``run(quick: bool) -> list[Row]``. A benchmark that needs a
part of hpsearch (or PyTorch) that is not importable raises :class:`Skip`, or returns rows
built with :func:`skipped_row`, so the runner never crashes on a missing piece.

Timing rule (issue 7): hpsearch and its anchor are measured side by side in the same run,
interleaved (A, B, A, B, ...), and the median of at least three repeats is reported.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field

# ---------------------------------------------------------------------------------------------
# rows


class Skip(Exception):
    """Raised by a benchmark (or a helper) when a required piece is missing."""


@dataclass
class Row:
    """One line of the results table.

    ``ratio`` is ``hpsearch / anchor`` unless the benchmark states otherwise in ``note``;
    ``target`` is a comparison string such as ``"<= 0.8"``, ``">= 1.8"`` or ``""`` (report only).
    """

    benchmark: str
    name: str
    hpsearch: float | None = None
    anchor: float | None = None
    unit: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.ratio is None and self.hpsearch is not None and self.anchor:
            self.ratio = self.hpsearch / self.anchor
        if self.met is None and self.target and self.ratio is not None:
            self.met = check_target(self.ratio, self.target)


def check_target(value: float, target: str) -> bool:
    """Evaluate ``value`` against ``"<= x"``, ``">= x"`` or ``"a..b"`` (inclusive range)."""
    target = target.strip()
    ops = {
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
    }
    for op in ("<=", ">=", "<", ">"):
        if target.startswith(op):
            return ops[op](value, float(target[len(op):]))
    if ".." in target:
        low, high = (float(v) for v in target.split(".."))
        return low <= value <= high
    raise ValueError(f"Unknown target {target!r}: use '<= x', '>= x' or 'a..b'.")


def skipped_row(benchmark: str, name: str, reason: str, target: str = "") -> Row:
    return Row(benchmark=benchmark, name=name, target=target, note=f"skipped: {reason}")


# ---------------------------------------------------------------------------------------------
# optional pieces


def hp(name: str):
    """Return ``hpsearch.<name>`` or raise :class:`Skip` naming what has not landed."""
    try:
        import hpsearch

        return getattr(hpsearch, name)
    except Exception as exc:  # ImportError, AttributeError, errors inside a half-written module
        raise Skip(f"hpsearch.{name} not available ({type(exc).__name__}: {exc})") from None


def torch_or_skip():
    try:
        import torch
    except Exception:
        raise Skip("PyTorch not installed (optional yardstick)") from None
    torch.set_num_threads(1)
    return torch


def accepts(func_or_cls, name: str) -> bool:
    """Whether a callable (or a class's ``__init__``) accepts keyword ``name``."""
    try:
        sig = inspect.signature(func_or_cls)
    except (TypeError, ValueError):
        return False
    params = sig.parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def kwargs_supported(cls, **kwargs):
    """Keep only the keyword arguments that ``cls`` accepts (e.g. ``progress=False``)."""
    return {k: v for k, v in kwargs.items() if accepts(cls, k)}


@contextlib.contextmanager
def quiet():
    """Silence convergence and user warnings (short runs warn by design)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def blas_threads(n: int = 1):
    """Pin BLAS/OpenMP thread pools of this process to ``n`` threads."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield


# ---------------------------------------------------------------------------------------------
# timing


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def warm_up(cases: dict) -> dict:
    """Run every case once (probe + warm-up); drop those that raise ``Skip``.

    Returns ``{case: reason}`` of the dropped ones; ``cases`` is changed in place.
    """
    missing = {}
    for key in list(cases):
        try:
            cases[key]()
        except Skip as skip:
            missing[key] = str(skip)
            del cases[key]
    return missing


def interleave(cases: dict, repeats: int = 3, warmup: int = 0) -> dict:
    """Run ``cases`` (name -> zero-argument callable) round-robin ``repeats`` times.

    A callable may return a float, which is then taken as its measurement (for example a
    time per epoch computed from a fit); otherwise its wall time is used. Returns name ->
    list of measurements in run order. ``warmup`` rounds are run first and discarded.
    """
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    results = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            elapsed, out = timed(fn)
            results[name].append(float(out) if isinstance(out, (int, float)) else elapsed)
    return results


def median(values) -> float:
    return float(statistics.median(values))


def medians(results: dict) -> dict:
    return {name: median(vals) for name, vals in results.items()}


# ---------------------------------------------------------------------------------------------
# memory: peak PSS of a process tree


def _tree_pss(proc) -> int:
    import psutil

    total = 0
    procs = [proc]
    with contextlib.suppress(psutil.Error):
        procs += proc.children(recursive=True)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_full_info().pss
    return total


class PeakPSS:
    """Sample the PSS of a process and all its descendants every ``interval`` s in a thread."""

    def __init__(self, pid: int, interval: float = 0.02):
        import psutil

        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_pss(self.proc))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_with_peak_pss(argv: list[str], timeout: float = 600, env: dict | None = None) -> dict:
    """Run ``argv`` in a fresh subprocess; return its last stdout JSON line plus ``peak_pss``.

    Memory is sampled from the parent (this process), so the measured tree is only the
    child and its descendants (joblib/loky workers), never the benchmark runner itself.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env
    )
    with PeakPSS(proc.pid) as sampler:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise RuntimeError(f"{argv} timed out after {timeout} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{err[-2000:]}")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    result["peak_pss"] = sampler.peak
    result["pss_samples"] = sampler.samples
    return result


# ---------------------------------------------------------------------------------------------
# output


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        if unit == "B":
            return f"{value / 2**20:.1f} MiB"
        if abs(value) >= 1000:
            text = f"{value:.0f}"
        elif abs(value) >= 1:
            text = f"{value:.3g}"
        else:
            text = f"{value:.3g}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    """A Markdown table of the rows (also readable on a terminal)."""
    header = ["benchmark", "figure", "hpsearch", "anchor", "ratio", "target", "met", "note"]
    lines = []
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        lines.append(
            [
                r.benchmark,
                r.name,
                _fmt(r.hpsearch, r.unit),
                _fmt(r.anchor, r.unit),
                "-" if r.ratio is None else f"{r.ratio:.3f}",
                r.target or "-",
                met,
                r.note,
            ]
        )
    widths = [max(len(h), *(len(str(line[i])) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    fmt = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    out = [fmt.format(*header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def environment() -> dict:
    import numpy

    info = {
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    for mod in ("sklearn", "optuna", "joblib", "torch"):
        with contextlib.suppress(Exception):
            info[mod] = __import__(mod).__version__
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: d.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for d in threadpool_info()
        ]
    with contextlib.suppress(Exception):
        info["loadavg_at_start"] = os.getloadavg()
    return info


def write_json(rows: list[Row], path: str, meta: dict) -> None:
    payload = {"meta": meta, "rows": [asdict(r) for r in rows]}
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2, default=str)
        fh.write("\n")
