"""Issue 13: time to quality, hpsearch's search strategies against the anchors a user would pick.

Every strategy searches the **same space** (mapped to each library's parameter names) under
the **same time budget**, one after the other in this one run (strategies interleaved within
each seed, so a change of machine load hits all of them alike), with ``n_jobs=1`` and BLAS
pinned to one thread:

=================== ============================================================== =========
strategy            what runs                                                       side
=================== ============================================================== =========
hp random           ``RandomSearchCV`` + hpsearch ``MLPClassifier``, full budget     hpsearch
hp halving          ``HalvingSearchCV`` (epochs, continues training), restarted      hpsearch
hp hyperband        ``HyperbandSearchCV`` (epochs, continues training), restarted    hpsearch
hp tpe              ``OptunaSearchCV(sampler="tpe")``, full budget per trial         hpsearch
hp tpe+median       ``OptunaSearchCV(sampler="tpe", pruner="median")``, 4 rungs      hpsearch
hp asha[-tpe]       ``ASHASearchCV`` (random / TPE sampler), when importable         hpsearch
sk random           sklearn ``RandomizedSearchCV`` + sklearn ``MLPClassifier``       anchor
sk halving          sklearn ``HalvingRandomSearchCV`` (``resource="max_iter"``,      anchor
                    refits each rung), restarted
optuna tpe+median   Optuna TPE + ``MedianPruner`` driving sklearn's MLP through      anchor
                    ``partial_fit``: one epoch on every CV split, ``trial.report``
                    of the mean validation accuracy, ``trial.should_prune``
=================== ============================================================== =========

The strategy table :data:`STRATEGIES` maps a name to its side, its refit family and a
function ``run(ctx)``; a strategy whose hpsearch class is not importable is skipped (a note
in the table), so adding one is one entry.

Tasks: sklearn's digits (scaled to [0, 1]) and a generated 20000 x 40 ten-class
``make_classification`` task ("synth"); each split 75 % train / 25 % held-out test
(stratified, per seed), 3-fold stratified CV on the train part (the same folds for every
strategy of a seed). Budgets in epochs: digits 3..81, synth 1..27, factor 3; time budgets
(CPU seconds per run): digits 6, synth 15.

The clock
    Process CPU time (``time.process_time``), not wall time: the benchmark machine is shared,
    and with one process, ``n_jobs=1`` and one BLAS thread, CPU time is what the wall time of
    the same run on an idle core would be, minus the waits for other processes. The wall
    time of every run is recorded beside it (JSON ``extra``) so the load factor shows.

The budget
    A run ends when its estimator's next ``fit``/``partial_fit`` starts after the budget
    (the estimator classes are thin subclasses that raise :class:`BudgetSpent` there; the
    searches run with ``error_score="raise"``, so it ends the search at once). Searches that
    finish early (one halving or Hyperband pass) are started again with the next seed, as a
    user with time left would do. Evaluations completed after the budget are discarded.

The anytime curve
    Every search scores through one callable scorer (accuracy) that logs ``(clock, searched
    parameters, epochs, split score)``; when all splits of a (configuration, epochs) pair are
    in, that is one *evaluation* with the mean CV score, completed at the time of its last
    split. The same logging works for every library, with no callback API needed. The
    **best-so-far** at time t is the evaluation with the highest mean CV score completed by
    t, at whatever epoch budget it was evaluated (a halving rung or a pruned trial's last
    report counts as an evaluation: it is a model the search has scored). Its **test score**
    is measured after the run, outside the budget: the configuration is refit on the whole
    train part with its epochs (hpsearch's continued training is bit-identical to straight
    training, so this is the model the search held; the Optuna anchor's models are refit
    with the same number of ``partial_fit`` epochs) and scored on the held-out test part.
    Each improvement of the best-so-far is refit once.

Figures (means over seeds)
    For each task: every strategy's final best CV score, final test score and its
    **time to target**: the first time the test score of its best-so-far reaches the target,
    which is, per seed, the final test score of the *best anchor* (the anchor with the
    highest mean final test score on that task). A seed that never reaches it counts as the
    budget (a lower bound; rows say in how many seeds it was reached). Ratios are against the
    best anchor's time to its own final score. One plot, ``time_to_quality.png``: the median
    over seeds of the best-so-far test score against time, one line per strategy.
"""

from __future__ import annotations

import argparse
import collections
import functools
import itertools
import math
import os
import pickle
import sys
import time
from dataclasses import dataclass, field

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _workloads as W  # noqa: E402
from _harness import Row, Skip, hp, quiet  # noqa: E402

NAME = "time_to_quality"
N_SPLITS = 3
HIDDEN = [(32,), (64,), (128,), (64, 64)]
BATCH = [32, 64, 128, 256]
#: The one search space, in neutral form: name -> ("log", low, high) or ("choice", values).
SPACE = {
    "alpha": ("log", 1e-6, 1e-1),
    "learning_rate_init": ("log", 1e-4, 1e-1),
    "hidden_layer_sizes": ("choice", HIDDEN),
    "batch_size": ("choice", BATCH),
}
CLOCK = time.process_time
PNG = os.path.join(HERE, "time_to_quality.png")


def default_engine():
    """hpsearch's MLP ``engine`` for the hp strategies: ``"numba"`` (the compiled epoch) when
    numba is installed, else ``"numpy"``; ``--hp-engine`` chooses. Every hp strategy and
    every hp refit use the same one (recorded in each result as ``engine``)."""
    try:
        from hpsearch.neural import compiled
    except Exception:  # a checkout without the compiled epoch
        return None
    return "numba" if compiled.available() else "numpy"


#: the engine of the hp strategies' MLP (None: the MLP has no ``engine`` parameter)
HP_ENGINE = {"value": None, "set": False}


def hp_engine():
    if not HP_ENGINE["set"]:
        HP_ENGINE.update(value=default_engine(), set=True)
    return HP_ENGINE["value"]


def warm_engine():
    """Load the compiled epoch before any clock runs (``engine="numba"`` only): numba's
    import and its kernels' load from the on-disk cache cost a process about 0.3 s of CPU
    once (``python benchmarks/bench_fused_step.py``-style measurement in the README), like
    the imports of scikit-learn, Optuna and hpsearch, which this process also pays before
    its first run. One tiny fit on digits-shaped data compiles or loads the very
    specialization the runs use (float64 ``X``, precast to float32; integer classes)."""
    if hp_engine() != "numba":
        return
    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 64), np.arange(60) % 10
    with quiet():
        hp("MLPClassifier")((8,), max_iter=1, engine="numba").fit(X, y)


def _engine_params():
    engine = hp_engine()
    return {} if engine is None else {"engine": engine}


class BudgetSpent(Exception):
    """Raised by a budgeted estimator's ``fit``/``partial_fit`` once the run's time is up."""


# ---------------------------------------------------------------------------------------------
# the search space, per library


def hpsearch_space():
    space = hp("space")
    table = {"log": lambda lo, hi: space.Float(lo, hi, log=True),
             "choice": lambda values: space.Categorical(values)}
    return {k: table[kind](*args) for k, (kind, *args) in SPACE.items()}


def sklearn_space():
    from scipy.stats import loguniform

    table = {"log": lambda lo, hi: loguniform(lo, hi), "choice": lambda values: list(values)}
    return {k: table[kind](*args) for k, (kind, *args) in SPACE.items()}


def optuna_suggest(trial):
    """Optuna's own API; tuple choices go through their index (Optuna stores primitives)."""
    table = {
        "log": lambda name, lo, hi: trial.suggest_float(name, lo, hi, log=True),
        "choice": lambda name, values: values[trial.suggest_categorical(
            name, list(range(len(values))))],
    }
    return {k: table[kind](k, *args) for k, (kind, *args) in SPACE.items()}


# ---------------------------------------------------------------------------------------------
# the run: clock, budget, logging scorer


class Run:
    """The clock, budget and evaluation log of one (strategy, task, seed) run."""

    current = None  # the run in progress (the scorer and the estimators look it up)

    def __init__(self, budget):
        self.budget = budget
        self.evaluations = []  # (time, mean CV score, params, epochs)
        self._splits = {}
        self.t0 = CLOCK()
        self.wall0 = time.perf_counter()

    def now(self):
        return CLOCK() - self.t0

    def check(self):
        if self.now() >= self.budget:
            raise BudgetSpent

    def record(self, params, epochs, score):
        """One split's validation score; an evaluation once all splits of it are in.

        Scores are grouped per configuration in arrival order: every search finishes all
        splits of a (configuration, budget) before it raises that configuration's budget,
        so the k-th ``N_SPLITS`` scores of a configuration are its k-th evaluation. Its
        epochs are the most any split trained (:func:`trained_epochs`, cumulative across
        continued training; less than the budget only when the tol-based stop ended a fit).
        """
        t = self.now()
        key = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
        splits = self._splits.setdefault(key, [])
        splits.append((float(score), int(epochs)))
        if len(splits) % N_SPLITS == 0 and t <= self.budget:
            last = splits[-N_SPLITS:]
            self.evaluations.append((t, float(np.mean([s for s, _ in last])), dict(params),
                                     max(e for _, e in last)))

    def __enter__(self):
        Run.current = self
        self.t0, self.wall0 = CLOCK(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        Run.current = None
        self.wall = time.perf_counter() - self.wall0
        self.cpu = self.now()


def _freeze(value):
    return tuple(value) if isinstance(value, list) else value


def trained_epochs(estimator):
    """Epochs the model has trained in all: ``len(loss_curve_)``.

    Not ``n_iter_``: hpsearch's MLP (as sklearn's) counts in ``n_iter_`` the epochs of the
    last ``fit`` call only, so a candidate continued from 27 to 81 epochs has
    ``n_iter_ == 54``; ``loss_curve_`` (and ``t_``) accumulate over continued training.
    ``n_iter_`` (then ``max_iter``) only where there is no loss curve.
    """
    curve = getattr(estimator, "loss_curve_", None)
    if curve is not None:
        return len(curve)
    return getattr(estimator, "n_iter_", estimator.get_params()["max_iter"])


def logged_accuracy(estimator, X, y):
    """The scorer of every search: accuracy, logged with the searched params and the epochs
    the model has trained (:func:`trained_epochs`: with continued training ``max_iter``
    and ``n_iter_`` hold only the epochs added by the last ``fit``)."""
    from sklearn.metrics import accuracy_score

    score = accuracy_score(y, estimator.predict(X))
    params = estimator.get_params()
    Run.current.record({k: params[k] for k in SPACE}, trained_epochs(estimator), score)
    return score


def budgeted(cls):
    """A subclass of estimator class ``cls`` whose ``fit``/``partial_fit`` check the budget.

    The methods keep their signatures (``functools.wraps``), so a search that inspects them
    (hpsearch passes ``sample_index`` to a ``fit`` that takes it) sees the original.
    """

    def check_first(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if Run.current is not None:
                Run.current.check()
            return method(self, *args, **kwargs)

        return wrapper

    body = {"fit": check_first(cls.fit)}
    if hasattr(cls, "partial_fit"):
        body["partial_fit"] = check_first(cls.partial_fit)
    return type(f"Budgeted{cls.__name__}", (cls,), body)


# ---------------------------------------------------------------------------------------------
# tasks


@dataclass
class Task:
    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    min_epochs: int
    max_epochs: int
    budget: float
    seed: int
    cv: object = field(repr=False, default=None)


def _synth(n_samples):
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=n_samples, n_features=40, n_informative=20, n_redundant=5, n_classes=10,
        n_clusters_per_class=2, class_sep=1.0, flip_y=0.02, random_state=0,
    )


def make_tasks(seed, quick):
    """Digits and the generated task, split for ``seed``; budgets in CPU seconds."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    if quick:
        specs = {"digits": (W.digits(600), 1, 9, 0.6)}
    else:
        specs = {"digits": (W.digits(), 3, 81, 6.0), "synth": (_synth(20000), 1, 27, 15.0)}
    tasks = []
    for name, ((X, y), lo, hi, budget) in specs.items():
        parts = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
        cv = StratifiedKFold(N_SPLITS, shuffle=True, random_state=seed)
        tasks.append(Task(name, *parts, lo, hi, budget, seed, cv))
    return tasks


# ---------------------------------------------------------------------------------------------
# strategies: each runs until the budget is spent


def _until_spent(make_search, task):
    """Fit ``make_search(restart)`` again and again (next seed each time) until the budget."""
    for restart in itertools.count():
        search = make_search(task.seed * 1000 + restart)
        try:
            with quiet():
                search.fit(task.X_train, task.y_train)
        except BudgetSpent:
            return


#: Every search: the logging scorer, no refit (done after the run), no train scores (sklearn's
#: halving scores the train part by default, which the scorer would log as splits).
COMMON = {"scoring": logged_accuracy, "cv": None, "refit": False, "n_jobs": 1,
          "error_score": "raise", "return_train_score": False}


def _common(task):
    return {**COMMON, "cv": task.cv}


def _hp_mlp(task):
    cls = budgeted(hp("MLPClassifier"))
    return cls(max_iter=task.max_epochs, random_state=task.seed, **_engine_params())


def _sk_mlp(task):
    from sklearn.neural_network import MLPClassifier

    return budgeted(MLPClassifier)(max_iter=task.max_epochs, random_state=task.seed)


def _hp(cls_name, **kwargs):
    def run(task):
        def make(seed):
            return W.hp_search(cls_name, _hp_mlp(task), hpsearch_space(), random_state=seed,
                               **_common(task), **kwargs, optional={"progress": False})
        _until_spent(make, task)

    return run


def _rungs(task):
    return {"min_resources": task.min_epochs, "max_resources": task.max_epochs, "factor": 3}


#: Candidates per restart of a random search: sampling 10000 up front costs seconds.
RANDOM_BATCH = 16


def hp_random(task):
    _hp("RandomSearchCV", n_iter=RANDOM_BATCH)(task)


def hp_halving(task):
    _hp("HalvingSearchCV", resource="epochs", **_rungs(task))(task)


def hp_hyperband(task):
    _hp("HyperbandSearchCV", resource="epochs", **_rungs(task))(task)


def hp_tpe(task):
    _hp("OptunaSearchCV", n_trials=10_000, sampler="tpe")(task)


def hp_tpe_median(task):
    _hp("OptunaSearchCV", n_trials=10_000, sampler="tpe", pruner="median")(task)


def _hp_asha(sampler):
    def run(task):
        _hp("ASHASearchCV", n_trials=10_000, sampler=sampler, resource="epochs",
            **_rungs(task))(task)

    return run


def sk_random(task):
    from sklearn.model_selection import RandomizedSearchCV

    _until_spent(lambda seed: RandomizedSearchCV(
        _sk_mlp(task), sklearn_space(), n_iter=RANDOM_BATCH, random_state=seed, **_common(task)),
        task)


def sk_halving(task):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV

    _until_spent(lambda seed: HalvingRandomSearchCV(
        _sk_mlp(task), sklearn_space(), n_candidates="exhaust", resource="max_iter",
        random_state=seed, **_rungs(task), **_common(task)), task)


def optuna_partial_fit(task):
    """Optuna's documented pruning pattern, cross-validated: each epoch is one
    ``partial_fit`` on every split, the mean validation accuracy is reported."""
    import optuna
    from sklearn.neural_network import MLPClassifier

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the budget fails the last trial
    Model = budgeted(MLPClassifier)
    splits = list(task.cv.split(task.X_train, task.y_train))
    classes = np.unique(task.y_train)
    X, y = task.X_train, task.y_train

    def objective(trial):
        params = optuna_suggest(trial)
        models = [Model(**params, random_state=task.seed) for _ in splits]
        score = float("nan")
        for epoch in range(1, task.max_epochs + 1):
            scores = []
            for model, (train, test) in zip(models, splits):
                model.partial_fit(X[train], y[train], classes=classes)
                scores.append(model.score(X[test], y[test]))
                Run.current.record(params, epoch, scores[-1])
            score = float(np.mean(scores))
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned
        return score

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=task.seed),
                                pruner=optuna.pruners.MedianPruner())
    try:
        with quiet():
            study.optimize(objective, n_trials=10_000)
    except BudgetSpent:
        pass


@dataclass(frozen=True)
class Strategy:
    run: object
    side: str  # "hpsearch" or "anchor"
    family: str  # how a (params, epochs) evaluation is refit: a key of REFIT
    requires: str = None  # the hpsearch class it needs (skipped when not importable)


#: name -> strategy. Add a line to compare one more; a missing hpsearch class is skipped.
STRATEGIES = {
    "hp random": Strategy(hp_random, "hpsearch", "hp", "RandomSearchCV"),
    "hp halving": Strategy(hp_halving, "hpsearch", "hp", "HalvingSearchCV"),
    "hp hyperband": Strategy(hp_hyperband, "hpsearch", "hp", "HyperbandSearchCV"),
    "hp tpe": Strategy(hp_tpe, "hpsearch", "hp", "OptunaSearchCV"),
    "hp tpe+median": Strategy(hp_tpe_median, "hpsearch", "hp", "OptunaSearchCV"),
    "hp asha": Strategy(_hp_asha("random"), "hpsearch", "hp", "ASHASearchCV"),
    "hp asha-tpe": Strategy(_hp_asha("tpe"), "hpsearch", "hp", "ASHASearchCV"),
    "sk random": Strategy(sk_random, "anchor", "sk"),
    "sk halving": Strategy(sk_halving, "anchor", "sk"),
    "optuna tpe+median": Strategy(optuna_partial_fit, "anchor", "sk-partial"),
}


# ---------------------------------------------------------------------------------------------
# refit: the test score of an evaluation's configuration


def _refit_hp(task, params, epochs):
    return hp("MLPClassifier")(**params, max_iter=epochs, random_state=task.seed,
                               **_engine_params())


def _refit_sk(task, params, epochs):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(**params, max_iter=epochs, random_state=task.seed)


def _refit_sk_partial(task, params, epochs):
    from sklearn.neural_network import MLPClassifier

    class Epochs:  # ``epochs`` partial_fit calls, as the trial trained it
        def fit(self, X, y):
            self.model = MLPClassifier(**params, random_state=task.seed)
            for _ in range(epochs):
                self.model.partial_fit(X, y, classes=np.unique(y))
            return self.model

    return Epochs()


REFIT = {"hp": _refit_hp, "sk": _refit_sk, "sk-partial": _refit_sk_partial}


def test_score(task, family, params, epochs):
    with quiet():
        model = REFIT[family](task, params, epochs).fit(task.X_train, task.y_train)
    return float(model.score(task.X_test, task.y_test))


def trajectory(task, family, evaluations):
    """Improvements of the best-so-far: list of (time, CV score, test score, params, epochs)."""
    out, best = [], -np.inf
    for t, cv, params, epochs in sorted(evaluations, key=lambda e: e[0]):
        if cv > best:
            best = cv
            out.append((t, cv, test_score(task, family, params, epochs), params, epochs))
    return out


def score_at(traj, t, column=2):
    """Best-so-far figure (2: test, 1: CV) at time ``t``; NaN before the first evaluation."""
    value = np.nan
    for point in traj:
        if point[0] > t:
            break
        value = point[column]
    return value


def time_to(traj, target):
    """First time the best-so-far test score reaches ``target`` (None: never)."""
    return next((p[0] for p in traj if p[2] >= target - 1e-12), None)


# ---------------------------------------------------------------------------------------------
# the measurement


def available(names):
    """Strategies whose pieces import, and {name: reason} for the others."""
    ok, missing = {}, {}
    for name in names:
        strategy = STRATEGIES[name]
        try:
            for piece in ("MLPClassifier", strategy.requires) if strategy.requires else ():
                hp(piece)
        except Skip as skip:
            missing[name] = str(skip)
            continue
        ok[name] = strategy
    return ok, missing


def measure(quick=False, seeds=None, names=None, log=None, save=None, tasks=None):
    """Run every (seed, task, strategy); return ``{task: {strategy: [per-seed result]}}``.

    ``tasks`` (names) keeps only those tasks (default: all), e.g. to add seeds to one task.

    A per-seed result is a dict: ``traj`` (see :func:`trajectory`), ``n_eval``, ``cpu``,
    ``wall``, ``budget``, ``rungs`` (evaluations per epoch count: how many results each
    rung got); a strategy that raised (other than the budget) gets ``error``. With ``save``
    (a path) the results so far are pickled after every seed, for ``--load``.
    """
    seeds = seeds if seeds is not None else ((0,) if quick else (0, 1, 2))
    strategies, missing = available(names or list(STRATEGIES))
    warm_engine()
    results = {}
    for seed in seeds:
        for task in make_tasks(seed, quick):
            if tasks is not None and task.name not in tasks:
                continue
            for name, strategy in strategies.items():
                out = results.setdefault(task.name, {}).setdefault(name, [])
                with Run(task.budget) as run:
                    try:
                        strategy.run(task)
                        error = None
                    except Skip as skip:  # e.g. a parameter a half-landed class lacks
                        error = f"skipped: {skip}"
                    except TypeError as exc:  # a constructor with another signature
                        error = f"skipped: {type(exc).__name__}: {exc}"
                refit_start = time.perf_counter()
                rungs = collections.Counter(e[3] for e in run.evaluations)
                out.append({"traj": trajectory(task, strategy.family, run.evaluations),
                            "rungs": dict(sorted(rungs.items())),
                            "n_eval": len(run.evaluations), "cpu": run.cpu,
                            "wall": run.wall, "budget": task.budget, "error": error,
                            "seed": seed,
                            "engine": hp_engine() if strategy.side == "hpsearch" else None})
                refit = time.perf_counter() - refit_start
                if log:
                    print(f"[ttq] seed {seed} {task.name:6s} {name:18s} "
                          f"{len(run.evaluations):4d} evals, cpu {run.cpu:5.1f} s, "
                          f"wall {run.wall:5.1f} s (+ refits {refit:4.1f} s), best test "
                          f"{out[-1]['traj'][-1][2] if out[-1]['traj'] else float('nan'):.4f}"
                          f"{'  ' + error if error else ''}", file=log, flush=True)
        if save:
            with open(save, "wb") as fh:
                pickle.dump((results, missing, list(strategies)), fh)
    return results, missing, strategies


def summarize(results, strategies):
    """Per task: target, best anchor and one summary dict per strategy."""
    summary = {}
    for task, per in results.items():
        per = {n: r for n, r in per.items() if all(x["error"] is None for x in r)}
        final = {n: [x["traj"][-1][2] if x["traj"] else np.nan for x in r]
                 for n, r in per.items()}
        anchors = [n for n in per if strategies[n].side == "anchor"]
        best_anchor = max(anchors, key=lambda n: np.nanmean(final[n])) if anchors else None
        targets = final[best_anchor] if best_anchor else None
        rows = {}
        for n, r in per.items():
            budget = r[0]["budget"]
            times = ([time_to(x["traj"], tgt) for x, tgt in zip(r, targets)]
                     if targets else [None] * len(r))
            rows[n] = {
                "side": strategies[n].side,
                "final_cv": float(np.nanmean([x["traj"][-1][1] if x["traj"] else np.nan
                                              for x in r])),
                "final_test": float(np.nanmean(final[n])),
                "test_spread": (float(np.nanmin(final[n])), float(np.nanmax(final[n]))),
                "ttt": float(np.mean([budget if t is None else t for t in times])),
                "ttt_seeds": [t for t in times],
                "reached": sum(t is not None for t in times),
                "n_seeds": len(r),
                "n_eval": float(np.mean([x["n_eval"] for x in r])),
                "wall": float(np.mean([x["wall"] for x in r])),
                "budget": budget,
            }
        errors = {n: next((x["error"] for x in r if x["error"]), None)
                  for n, r in results[task].items()}
        summary[task] = {"best_anchor": best_anchor, "rows": rows,
                         "errors": {n: e for n, e in errors.items() if e}}
    return summary


#: Bootstrap resamples of the seeds for the spread of the mean-curve ratios.
N_BOOTSTRAP = 2000


def per_seed_bootstrap(results, strategies, n_boot=N_BOOTSTRAP, seed=0):
    """The per-seed reading with a bootstrap over the seeds: for each hpsearch strategy,
    mean per-seed time to the best anchor's per-seed final test score (a miss counts the
    budget) over the best anchor's mean per-seed time to its own final score; 90 %
    interval and share of resamples <= 1/3 from ``n_boot`` paired resamples of the seeds.
    Returns ``{task: (best anchor, [(strategy, ratio, lo, hi, share, median time)])}``."""
    out = {}
    summary = summarize(results, strategies)
    rng = np.random.RandomState(seed)
    for task, s in summary.items():
        best = s["best_anchor"]
        if best is None:  # (no anchor run, e.g. --only "hp asha" "hp asha-tpe")
            continue
        runs = results[task]

        def times(name):
            row = []
            for anchor_run, run in zip(runs[best], runs[name]):
                target = anchor_run["traj"][-1][2] if anchor_run["traj"] else np.nan
                t = time_to(run["traj"], target)
                row.append(run["budget"] if t is None else t)
            return np.array(row)

        anchor = times(best)
        picks = rng.randint(0, len(anchor), (n_boot, len(anchor)))
        rows = []
        for name in runs:
            if strategies[name].side != "hpsearch":
                continue
            t = times(name)
            boot = t[picks].mean(axis=1) / anchor[picks].mean(axis=1)
            lo, hi = np.percentile(boot, [5, 95])
            rows.append((name, t.mean() / anchor.mean(), lo, hi, float(np.mean(boot <= 1 / 3)),
                         float(np.median(t))))
        out[task] = (best, float(np.median(anchor)), rows)
    return out


def per_seed_bootstrap_table(boot):
    lines = ["| task | strategy | per-seed ratio | 90 % bootstrap | resamples <= 1/3 | "
             "median per-seed time (best anchor's) |", "|---|---|---:|---:|---:|---:|"]
    for task, (best, anchor_median, rows) in boot.items():
        for name, ratio, lo, hi, share, median in rows:
            lines.append(f"| {task} | {name} | {ratio:.2f} | {lo:.2f}..{hi:.2f} | "
                         f"{share:.0%} | {median:.2f} s ({best}: {anchor_median:.2f} s) |")
    return "\n".join(lines)


def curve_matrix(runs, grid):
    """Best-so-far test scores of every seed (rows) at the times ``grid`` (columns); 0
    before a seed's first model (no model yet: no accuracy)."""
    return np.nan_to_num(np.array([[score_at(x["traj"], t) for t in grid] for x in runs],
                                  dtype=float), nan=0.0)


def _first_reach(curve, grid, level):
    """First time of ``grid`` from which on ``curve`` stays at or above ``level`` up to the
    end (None: it ends below). A best-so-far curve can drop (a better CV score at a low rung
    or on a lucky split may test worse), so a curve that touches the level and falls back
    has not reached it."""
    below = np.flatnonzero(curve < level - 1e-12)
    if below.size == 0:
        return float(grid[0])
    if below[-1] == len(grid) - 1:
        return None
    return float(grid[below[-1] + 1])


def mean_curve_times(results, strategies, n_boot=N_BOOTSTRAP, seed=0):
    """Time to the best anchor's final test score on the **mean over seeds**.

    The issue's figure, read with its "(mean over seeds)": the best anchor ends with a mean
    final test score :math:`\bar S_a`; a strategy's time is the first time from which on
    its mean (over seeds) best-so-far test score stays at or above :math:`\bar S_a` to the
    end of the budget, and the anchor's own time is the first time from which on *its*
    mean curve stays there (when it had found, on average, the models it ends with; not
    its whole budget, which would flatter every other strategy). Per-seed times (:func:`summarize`) compare two noisy maxima on one small test
    part and count a seed that never reaches the other's as the whole budget, so on a
    saturated task they measure a coin flip; the mean curves compare what each strategy
    gives on average at each time.

    The spread is a paired bootstrap over seeds (seeds share their splits, so every
    resample takes the same seeds for every strategy), ``n_boot`` resamples: per strategy
    the 5th and 95th percentiles of the ratio (a resample in which the strategy never
    reaches the target counts as ``budget / T_a``, a lower bound) and the share of
    resamples in which the ratio is at most 1/3.

    Returns ``{task: {"best_anchor", "target", "anchor_time", "budget", "n_seeds",
    "rows": {strategy: {"side", "time", "ratio", "ratio_lo", "ratio_hi", "p_third"}}}}``.
    """
    out = {}
    rng = np.random.default_rng(seed)
    for task, per in results.items():
        per = {n: r for n, r in per.items() if all(x["error"] is None for x in r)}
        anchors = [n for n in per if strategies[n].side == "anchor"]
        if not anchors:
            continue
        finals = {n: np.array([x["traj"][-1][2] if x["traj"] else 0.0 for x in r])
                  for n, r in per.items()}
        best = max(anchors, key=lambda n: finals[n].mean())
        budget = per[best][0]["budget"]
        grid = np.unique(np.array([p[0] for r in per.values() for x in r for p in x["traj"]]
                                  + [budget]))
        grid = grid[grid <= budget]
        curves = {n: curve_matrix(r, grid) for n, r in per.items()}
        n_seeds = len(per[best])
        draws = rng.integers(n_seeds, size=(n_boot, n_seeds))

        def times(rows):
            target = finals[best][rows].mean()
            anchor_time = _first_reach(curves[best][rows].mean(axis=0), grid, target)
            return target, anchor_time, {
                n: _first_reach(c[rows].mean(axis=0), grid, target) for n, c in curves.items()}

        target, anchor_time, point = times(np.arange(n_seeds))
        boot = [times(rows) for rows in draws]
        rows = {}
        for n in per:
            ratios = np.array([(budget if t[n] is None else t[n]) / a
                               for _, a, t in boot if a])
            time = point[n]
            rows[n] = {
                "side": strategies[n].side, "time": time,
                "ratio": None if time is None or not anchor_time else time / anchor_time,
                "ratio_lo": float(np.percentile(ratios, 5)),
                "ratio_hi": float(np.percentile(ratios, 95)),
                "p_third": float(np.mean(ratios <= 1 / 3)),
            }
        out[task] = {"best_anchor": best, "target": float(target), "anchor_time": anchor_time,
                     "budget": budget, "n_seeds": n_seeds, "rows": rows}
    return out


def mean_curve_table(mean_times):
    """Markdown: the mean-curve times and ratios with their bootstrap spread."""
    lines = ["| task | strategy | side | time to the best anchor's mean final | ratio | "
             "90 % bootstrap interval | resamples <= 1/3 |", "|---|---|---|---:|---:|---:|---:|"]
    for task, m in mean_times.items():
        for n, r in m["rows"].items():
            star = " (best)" if n == m["best_anchor"] else ""
            time = "never" if r["time"] is None else f"{r['time']:.2f} s"
            ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
            lines.append(f"| {task} | {n}{star} | {r['side']} | {time} | {ratio} | "
                         f"{r['ratio_lo']:.2f}..{r['ratio_hi']:.2f} | {r['p_third']:.0%} |")
    return "\n".join(lines)


def mean_curve_rows(mean_times):
    """House rows: the best hpsearch strategy on the mean curves (target <= 1/3)."""
    rows = []
    for task, m in mean_times.items():
        hp_rows = {n: r for n, r in m["rows"].items()
                   if r["side"] == "hpsearch" and r["time"] is not None}
        if not hp_rows or not m["anchor_time"]:
            rows.append(Row(NAME, f"{task}: best hpsearch strategy, mean curve",
                            note="no hpsearch strategy reached the target on the mean curve"))
            continue
        best = min(hp_rows, key=lambda n: hp_rows[n]["time"])
        r = hp_rows[best]
        rows.append(Row(
            NAME, f"{task}: best hpsearch strategy time to target, mean over seeds", r["time"],
            m["anchor_time"], "s", target="<= 0.333",
            note=f"{best}; target {m['target']:.4f} = {m['best_anchor']}'s mean final test "
                 f"score, reached by its mean curve at {m['anchor_time']:.2f} s; 90 % "
                 f"bootstrap interval {r['ratio_lo']:.2f}..{r['ratio_hi']:.2f}, <= 1/3 in "
                 f"{r['p_third']:.0%} of resamples; {m['n_seeds']} seeds"))
    return rows


#: The pair compared at equal time: BOHB-style ASHA against random ASHA.
PAIR = ("hp asha-tpe", "hp asha")
#: Fractions of the budget at which the pair is compared.
FRACTIONS = (0.25, 0.5, 1.0)


def equal_time(results, pair=PAIR, fractions=FRACTIONS):
    """Per task and budget fraction: the pair's best-so-far test scores at equal time.

    Returns ``{task: [{"fraction", "t", "a", "b", "diff", "wins"}]}`` where ``a`` and ``b``
    are the per-seed test scores of ``pair[0]`` and ``pair[1]`` at time ``t`` (NaN before a
    first model), ``diff`` the per-seed differences and ``wins`` ``(a > b, a == b, a < b)``
    seed counts. Tasks where either strategy is missing or failed are left out.
    """
    out = {}
    for task, per in results.items():
        a_runs, b_runs = per.get(pair[0]), per.get(pair[1])
        if not a_runs or not b_runs or any(x["error"] for x in a_runs + b_runs):
            continue
        budget = a_runs[0]["budget"]
        rows = []
        for fraction in fractions:
            t = fraction * budget
            a = np.array([score_at(x["traj"], t) for x in a_runs])
            b = np.array([score_at(x["traj"], t) for x in b_runs])
            diff = a - b
            rows.append({"fraction": fraction, "t": t, "a": a, "b": b, "diff": diff,
                         "wins": (int(np.sum(diff > 0)), int(np.sum(diff == 0)),
                                  int(np.sum(diff < 0)))})
        out[task] = rows
    return out


def _spread(values):
    values = np.asarray(values, dtype=float)
    return (f"{np.nanmean(values):.4f} ({np.nanmin(values):.3f}..{np.nanmax(values):.3f})"
            if np.isfinite(values).any() else "-")


def equal_time_table(results, pair=PAIR, fractions=FRACTIONS):
    """Markdown: the pair at equal time (mean and min..max over seeds, wins per seed)."""
    lines = [f"| task | time | {pair[0]} test | {pair[1]} test | difference | "
             f"seeds {pair[0]} better / tie / worse |", "|---|---:|---:|---:|---:|---:|"]
    for task, rows in equal_time(results, pair, fractions).items():
        for r in rows:
            lines.append(f"| {task} | {r['t']:.1f} s ({r['fraction']:.0%}) | {_spread(r['a'])} "
                         f"| {_spread(r['b'])} | {_spread(r['diff'])} | "
                         f"{' / '.join(map(str, r['wins']))} |")
    return "\n".join(lines)


def rung_table(results, names=PAIR):
    """Markdown: mean evaluations per epoch budget (ASHA's rung results) at the end."""
    lines = ["| task | strategy | evaluations per epochs (mean over seeds) |", "|---|---|---|"]
    for task, per in results.items():
        for name in names:
            runs = [x for x in per.get(name, []) if not x["error"] and "rungs" in x]
            if not runs:
                continue
            epochs = sorted({e for x in runs for e in x["rungs"]})
            counts = ", ".join(f"{e}: {np.mean([x['rungs'].get(e, 0) for x in runs]):.1f}"
                               for e in epochs)
            lines.append(f"| {task} | {name} | {counts} |")
    return "\n".join(lines)


def matrix(summary):
    """Markdown table of every strategy and task (the README's table)."""
    lines = ["| task | strategy | side | evals | final CV | final test (min..max) | "
             "time to target | reached | ratio vs best anchor |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for task, s in summary.items():
        anchor = s["rows"].get(s["best_anchor"])
        for n, r in s["rows"].items():
            ratio = r["ttt"] / anchor["ttt"] if anchor and anchor["ttt"] > 0 else None
            lo, hi = r["test_spread"]
            star = " (best)" if n == s["best_anchor"] else ""
            lines.append(
                f"| {task} | {n}{star} | {r['side']} | {r['n_eval']:.0f} | "
                f"{r['final_cv']:.4f} | {r['final_test']:.4f} ({lo:.3f}..{hi:.3f}) | "
                f"{'>=' if r['reached'] < r['n_seeds'] else ''}{r['ttt']:.2f} s | "
                f"{r['reached']}/{r['n_seeds']} | {'-' if ratio is None else f'{ratio:.2f}'} |")
        for n, err in s["errors"].items():
            lines.append(f"| {task} | {n} | - | - | - | - | - | - | {err} |")
    return "\n".join(lines)


def rows_from(summary, missing):
    """The house table: time to target and final test score per strategy and task."""
    rows = []
    for task, s in summary.items():
        ba = s["best_anchor"]
        anchor = s["rows"].get(ba)
        if anchor is None:
            rows.append(Row(NAME, f"{task}: all", note="skipped: no anchor ran"))
            continue
        budget = anchor["budget"]
        common = f"budget {budget:g} s CPU, {anchor['n_seeds']} seeds; best anchor: {ba}"
        for n, r in s["rows"].items():
            reached = f"target reached in {r['reached']}/{r['n_seeds']} seeds"
            if r["side"] == "hpsearch":
                rows.append(Row(NAME, f"{task}: time to target, {n}", r["ttt"], anchor["ttt"],
                                "s", note=f"{reached}; {common}"))
            else:
                rows.append(Row(NAME, f"{task}: time to target, {n} (anchor)", None, r["ttt"],
                                "s", ratio=r["ttt"] / anchor["ttt"] if anchor["ttt"] else None,
                                note=f"{reached}; ratio vs {ba}"))
        hp_rows = {n: r for n, r in s["rows"].items() if r["side"] == "hpsearch"}
        if hp_rows:
            best = min(hp_rows, key=lambda n: (hp_rows[n]["ttt"], -hp_rows[n]["final_test"]))
            r = hp_rows[best]
            rows.append(Row(NAME, f"{task}: best hpsearch strategy time to target", r["ttt"],
                            anchor["ttt"], "s", target="<= 0.333",
                            note=f"{best}; per seed {_seconds(r['ttt_seeds'])} vs "
                                 f"{_seconds(anchor['ttt_seeds'])}; {common}"))
            best = max(hp_rows, key=lambda n: hp_rows[n]["final_test"])
            r = hp_rows[best]
            lo, hi = r["test_spread"]
            alo, ahi = anchor["test_spread"]
            rows.append(Row(NAME, f"{task}: best hpsearch final test score", r["final_test"],
                            anchor["final_test"], "", target=">= 1.0",
                            note=f"{best} {lo:.3f}..{hi:.3f} vs {ba} {alo:.3f}..{ahi:.3f}"))
        if "hp asha" in s["rows"] and "hp asha-tpe" in s["rows"]:
            a, b = s["rows"]["hp asha-tpe"], s["rows"]["hp asha"]
            rows.append(Row(NAME, f"{task}: ASHA tpe vs random, final test at equal time",
                            a["final_test"], b["final_test"], "", target=">= 1.0",
                            note=f"tpe {_pair(a['test_spread'])} vs random "
                                 f"{_pair(b['test_spread'])} (min..max over seeds)"))
        for n, err in s["errors"].items():
            rows.append(Row(NAME, f"{task}: {n}", note=err))
    for n, reason in missing.items():
        rows.append(Row(NAME, n, note=f"skipped: {reason}"))
    return rows


def _pair(spread):
    return f"{spread[0]:.3f}..{spread[1]:.3f}"


def _seconds(values):
    return "[" + ", ".join("-" if v is None else f"{v:.1f}" for v in values) + "]"


# ---------------------------------------------------------------------------------------------
# the plot


def plot(results, strategies, path):
    """Median over seeds of the best-so-far test score against time, one panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(results)
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.5 * len(tasks), 4.8), squeeze=False)
    colors = dict(zip(STRATEGIES, plt.get_cmap("tab10").colors))
    for ax, task in zip(axes[0], tasks):
        per = {n: r for n, r in results[task].items() if all(x["error"] is None for x in r)}
        budget = next(iter(per.values()))[0]["budget"]
        grid = np.geomspace(budget / 200, budget, 300)
        lows = []
        for n, r in per.items():
            curves = np.array([[score_at(x["traj"], t) for t in grid] for x in r])
            med = np.median(curves, axis=0)  # NaN until every seed has a model
            anchor = strategies[n].side == "anchor"
            ax.step(grid, med, where="post", label=n + (" (anchor)" if anchor else ""),
                    color=colors.get(n), linestyle="--" if anchor else "-",
                    linewidth=2.2 if anchor else 1.6)
            finite = med[np.isfinite(med)]
            if finite.size:
                lows.append(np.percentile(finite, 10))
        ax.set_xscale("log")
        ax.set_xlim(grid[0], budget)
        if lows:
            top = max(np.nanmax([score_at(x["traj"], budget) for r in per.values() for x in r]),
                      0)
            ax.set_ylim(min(lows) - 0.01, top + 0.01)
        n_seeds = len(next(iter(per.values())))
        ax.set_title(f"{task}: best-so-far test accuracy (median of {n_seeds} seeds)")
        ax.set_xlabel("CPU time of the search (s, log scale; one core)")
        ax.set_ylabel("test accuracy of the best-CV model so far")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# entry points


def diagnose_model_proposals(seed=0, quick=False, log=sys.stdout):
    """Where ASHA-TPE's new candidates come from: one ``hp asha-tpe`` run per task.

    Wraps ``asha._ModelProposals`` (a private class: skipped when it is gone) to count,
    per proposal, the rung whose results the sampler was told (``None``: fewer than
    ``n_min`` results in every rung, a random start-up proposal) and prints the counts,
    the first model proposal and the rung sizes at the end.
    """
    try:
        from hpsearch.model_selection.strategies import asha

        proposals = asha._ModelProposals
    except (ImportError, AttributeError) as exc:
        print(f"skipped: {exc}", file=log)
        return
    calls = []
    original = proposals.__call__

    def counting(self, schedule, optuna_params):
        found = schedule.model_results(self.n_min)
        calls.append((tuple(schedule.n_results(finite=True)), self.n_min,
                      None if found is None else found[0]))
        return original(self, schedule, optuna_params)

    proposals.__call__ = counting
    warm_engine()
    try:
        for task in make_tasks(seed, quick):
            calls.clear()
            with Run(task.budget):
                STRATEGIES["hp asha-tpe"].run(task)
            rungs = collections.Counter(rung for _, _, rung in calls)
            first = next((i for i, (_, _, rung) in enumerate(calls) if rung is not None), None)
            print(f"{task.name} seed {seed}: {len(calls)} proposals, n_min "
                  f"{calls[0][1] if calls else '-'}; told rung -> proposals "
                  f"{dict(sorted(rungs.items(), key=lambda kv: (kv[0] is not None, kv[0])))}; "
                  f"first model proposal #{first}; results per rung at the end "
                  f"{calls[-1][0] if calls else '-'}", file=log, flush=True)
    finally:
        proposals.__call__ = original


def run(quick=False, repeats=3, png=None):
    """House entry point (``benchmarks/run.py --only time_to_quality``).

    ``repeats`` is unused: the seeds are the repeats (1 in quick mode, 3 otherwise). The
    full run writes :data:`PNG`; the quick run writes no plot unless ``png`` is given.
    """
    results, missing, strategies = measure(quick, log=sys.stderr)
    summary = summarize(results, strategies)
    mean_times = mean_curve_times(results, strategies)
    print(matrix(summary), file=sys.stderr)
    print(mean_curve_table(mean_times), file=sys.stderr)
    print(equal_time_table(results), file=sys.stderr)
    png = png or (None if quick else PNG)
    if png:
        plot(results, strategies, png)
    return rows_from(summary, missing) + mean_curve_rows(mean_times)


def n_of(per, runs):
    """The strategy name under which ``runs`` are filed in ``per``."""
    return next(name for name, r in per.items() if r is runs)


def load_results(paths):
    """The saved results of ``paths`` (``--save`` files) as one run: per task and strategy
    the per-seed results of every file, in the order given; strategies must agree."""
    results, missing, names = {}, {}, None
    for path in paths:
        with open(path, "rb") as fh:
            part, part_missing, part_names = pickle.load(fh)
        if names is not None and list(part_names) != list(names):
            raise ValueError(f"{path} has strategies {part_names}, the first file {names}.")
        names = part_names
        missing.update(part_missing)
        for task, per in part.items():
            for name, runs in per.items():
                results.setdefault(task, {}).setdefault(name, []).extend(runs)
    return results, missing, names


def main(argv=None):
    from _harness import blas_threads, table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits subset, one seed")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3)")
    parser.add_argument("--first-seed", type=int, default=0, metavar="K",
                        help="seeds K, K+1, ... (to split a run over processes)")
    parser.add_argument("--only", nargs="+", choices=sorted(STRATEGIES), metavar="STRATEGY")
    parser.add_argument("--tasks", nargs="+", choices=("digits", "synth"), metavar="TASK",
                        help="only these tasks (digits, synth; default both)")
    parser.add_argument("--png", default=PNG, help=f"plot path (default {PNG})")
    parser.add_argument("--save", metavar="PATH",
                        help="pickle the raw results after every seed (for --load)")
    parser.add_argument("--load", metavar="PATH", nargs="+",
                        help="no measurement: tables and plot from results saved by --save "
                             "(several files: their seeds together)")
    parser.add_argument("--hp-engine", choices=("numpy", "numba"), default=None,
                        help="engine of hpsearch's MLP in the hp strategies (default: numba "
                             "when installed, else numpy)")
    parser.add_argument("--diagnose", action="store_true",
                        help="only count where ASHA-TPE's proposals come from (each seed)")
    args = parser.parse_args(argv)
    if args.hp_engine:
        HP_ENGINE.update(value=args.hp_engine, set=True)
    if args.diagnose:
        with blas_threads(1):
            for seed in range(args.seeds or 1):
                diagnose_model_proposals(seed, args.quick)
        return
    seeds = (None if args.seeds is None
             else tuple(range(args.first_seed, args.first_seed + args.seeds)))
    started = time.perf_counter()
    if args.load:
        results, missing, names = load_results(args.load)
        strategies = {n: STRATEGIES[n] for n in names}
    else:
        with blas_threads(1):
            results, missing, strategies = measure(args.quick, seeds, args.only,
                                                   log=sys.stderr, save=args.save,
                                                   tasks=args.tasks)
    summary = summarize(results, strategies)
    mean_times = mean_curve_times(results, strategies)
    engines = sorted({str(r.get("engine", "numpy (before engine existed)"))
                      for per in results.values() for runs in per.values() for r in runs
                      if STRATEGIES[n_of(per, runs)].side == "hpsearch"} - {"None"})
    print(f"hp strategies' MLP engine: {', '.join(engines) or '-'}")
    print(matrix(summary))
    print()
    print(mean_curve_table(mean_times))
    print()
    print(per_seed_bootstrap_table(per_seed_bootstrap(results, strategies)))
    print()
    print(equal_time_table(results))
    print()
    print(rung_table(results))
    print()
    print(table(rows_from(summary, missing) + mean_curve_rows(mean_times)))
    if args.png:
        plot(results, strategies, args.png)
        print(f"\nwritten {args.png}")
    print(f"total wall time {time.perf_counter() - started:.0f} s, "
          f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
