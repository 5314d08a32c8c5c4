"""Record the fit durations (and validation curves) that drive the scheduling simulator.

``benchmarks/sim_schedulers.py`` replays the schedulers against *recorded* fit durations
rather than a made-up speed spread. This script records them and writes
``benchmarks/fit_durations.json``::

    PYTHONPATH=$PWD python benchmarks/record_fit_durations.py            # ~2-4 min, 1 core

What is recorded
    ``N_CONFIGS`` configurations of hpsearch's ``MLPClassifier`` sampled (seed 0) from the
    time-to-quality benchmark's search space (``bench_time_to_quality.SPACE``: hidden layer
    sizes, batch size, ``alpha``, ``learning_rate_init``), on its larger task (``synth``:
    20000 x 40, ten classes; the train part of seed 0's split, CV fold 0 of 3: about 10000
    training and 5000 validation rows), each trained ``MAX_EPOCHS`` epochs one at a time
    (``warm_start=True, max_iter=1``: hpsearch's continued training, bit-identical to one
    fit) with ``random_state`` 0 and 1 (``INITS``). Per run: the CPU time
    (``time.process_time``, BLAS pinned to one thread) of every epoch, the CPU time of one
    validation scoring (what an engine task adds after its fit), and the validation
    accuracy at every epoch (the run's learning curve).

Noise
    The two inits of a configuration cost the same work, so the ratio of their total
    times is run-to-run timing noise (plus the small effect of a different tol-based
    stop). ``noise_sigma`` is :math:`\\operatorname{sd}(\\ln(t_0 / t_1)) / \\sqrt 2`, the
    standard deviation of the log duration of one run, over configurations whose two
    runs trained every epoch. It includes the load of the shared recording machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

OUT = os.path.join(HERE, "fit_durations.json")
N_CONFIGS = 40
MAX_EPOCHS = 81
INITS = (0, 1)
COMMAND = "PYTHONPATH=$PWD python benchmarks/record_fit_durations.py"


def configurations(n, seed=0):
    """``n`` configurations of the time-to-quality space (JSON-friendly values)."""
    from sklearn.model_selection import ParameterSampler

    import bench_time_to_quality as ttq

    out = []
    for params in ParameterSampler(ttq.sklearn_space(), n, random_state=seed):
        out.append({k: (list(v) if isinstance(v, tuple) else
                        (float(v) if isinstance(v, float) else v)) for k, v in params.items()})
    return out


def fold(seed=0):
    """Training and validation rows of CV fold 0 of the synth task's train part."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    import bench_time_to_quality as ttq

    X, y = ttq._synth(20000)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    train, val = next(StratifiedKFold(ttq.N_SPLITS, shuffle=True, random_state=seed)
                      .split(X_train, y_train))
    return X_train[train], y_train[train], X_train[val], y_train[val]


def record_run(params, init, data, epochs):
    """One run: per-epoch CPU seconds, scoring CPU seconds, validation accuracy per epoch."""
    from hpsearch import MLPClassifier

    X, y, X_val, y_val = data
    kwargs = dict(params, hidden_layer_sizes=tuple(params["hidden_layer_sizes"]))
    model = MLPClassifier(**kwargs, max_iter=1, warm_start=True, random_state=init)
    epoch_s, scores, score_s = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            t = time.process_time()
            model.fit(X, y)
            epoch_s.append(time.process_time() - t)
            t = time.process_time()
            scores.append(float(model.score(X_val, y_val)))
            score_s.append(time.process_time() - t)
    return {"init": init, "epoch_s": [round(v, 6) for v in epoch_s],
            "score_s": round(float(np.median(score_s)), 6),
            "val_score": [round(v, 5) for v in scores]}


def noise_sigma(configs):
    """sd of ln(t_init0 / t_init1) / sqrt(2) over configurations (see the docstring)."""
    logs = []
    for config in configs:
        totals = [sum(run["epoch_s"]) for run in config["runs"]]
        if len(totals) == 2 and min(totals) > 0:
            logs.append(math.log(totals[0] / totals[1]))
    return float(np.std(logs) / math.sqrt(2)) if logs else 0.0


def record(n_configs=N_CONFIGS, epochs=MAX_EPOCHS, inits=INITS, log=sys.stderr):
    from _harness import blas_threads

    data = fold()
    configs = []
    started = time.perf_counter()
    with blas_threads(1):
        for i, params in enumerate(configurations(n_configs)):
            runs = [record_run(params, init, data, epochs) for init in inits]
            configs.append({"params": params, "runs": runs})
            if log:
                print(f"[record] {i + 1}/{n_configs} {params['hidden_layer_sizes']} "
                      f"batch {params['batch_size']}: "
                      f"{[round(sum(r['epoch_s']), 2) for r in runs]} s, "
                      f"val {[r['val_score'][-1] for r in runs]}", file=log, flush=True)
    return {
        "command": COMMAND,
        "task": "bench_time_to_quality synth (20000 x 40, 10 classes), seed-0 split, "
                "CV fold 0 of 3",
        "n_train": int(len(data[1])), "n_val": int(len(data[3])),
        "clock": "time.process_time, BLAS pinned to 1 thread",
        "recorded_on": f"{os.uname().sysname} {os.uname().machine}, "
                       f"load average {os.getloadavg()[0]:.2f} at the end",
        "wall_s": round(time.perf_counter() - started, 1),
        "max_epochs": epochs,
        "noise_sigma": noise_sigma(configs),
        "configs": configs,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=N_CONFIGS)
    parser.add_argument("--epochs", type=int, default=MAX_EPOCHS)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    result = record(args.configs, args.epochs)
    with open(args.out, "w") as fh:
        json.dump(result, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"written {args.out}: {len(result['configs'])} configurations, noise_sigma "
          f"{result['noise_sigma']:.3f}, {result['wall_s']} s")


if __name__ == "__main__":
    main()
