"""Issue 14: is the corrected test calibrated? False-positive rate and power, side by side.

Each repetition draws a fresh training set of ``n`` rows from a large generated population
(so the null hypothesis "equal expected generalization score" is about the learning
algorithms, as in Nadeau & Bengio 2003), runs one hpsearch ``GridSearchCV`` over two
candidates and applies :func:`hpsearch.model_selection.compare` to its ``cv_results_``.

- Null case: the same decision-tree configuration with two different seeds (fresh seeds
  each repetition): any rejection at 5 % is a false positive. Target for the corrected
  test: false-positive rate <= 0.07. The naive paired t-test's rate is shown beside it.
- Real difference: logistic regression vs a decision stump; the rejection rate is the power.

Both under Monte Carlo CV (15 random 80/20 splits, where the naive test is worst) and
10-fold CV. Rows: ``hpsearch`` = corrected test, ``anchor`` = naive test (ratio =
corrected / naive). Run::

    python benchmarks/run.py --only calibration
"""

from __future__ import annotations

import numpy as np
from _harness import Row, quiet

NAME = "calibration"
ALPHA = 0.05


def _population():
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=50_000, n_features=20, n_informative=6, n_redundant=4, flip_y=0.05,
        random_state=0,
    )


def _rates(cv_factory, candidates, X, y, n, repeats):
    from hpsearch.model_selection import GridSearchCV, compare

    rng = np.random.default_rng(12345)
    rejected = {"corrected": 0, "naive": 0}
    gaps = []
    for rep in range(repeats):
        rows = rng.choice(len(y), size=n, replace=False)
        estimator, grid = candidates(rep)
        search = GridSearchCV(estimator, grid, cv=cv_factory(rep), refit=False)
        with quiet():
            search.fit(X[rows], y[rows])
        frame = compare(search, alternative="two-sided", top=2)
        gaps.append(frame["difference"].iloc[1])
        rejected["corrected"] += bool(frame["p_value"].iloc[1] < ALPHA)
        rejected["naive"] += bool(frame["p_value_naive"].iloc[1] < ALPHA)
    rates = {k: v / repeats for k, v in rejected.items()}
    rates["gap"] = float(np.mean(gaps))
    return rates


def _null(rep):
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=4, max_features="sqrt"), {
        "random_state": [2 * rep, 2 * rep + 1]
    }


def _real(rep):
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    return LogisticRegression(), {
        "estimator": [LogisticRegression(), DecisionTreeClassifier(max_depth=1, random_state=rep)]
    }


def _wrap(candidates):
    """Candidates as a grid over a pipeline step, so one GridSearchCV compares them."""

    def make(rep):
        from sklearn.pipeline import Pipeline

        est, grid = candidates(rep)
        if "estimator" in grid:
            return Pipeline([("model", est)]), {"model": grid["estimator"]}
        return est, grid

    return make


def run(quick=False, repeats=3):
    from hpsearch.model_selection import MonteCarloCV
    from sklearn.model_selection import KFold

    X, y = _population()
    n = 300
    reps = 40 if quick else 400
    splitters = {
        "monte_carlo_15x20%": lambda rep: MonteCarloCV(n_splits=15, test_size=0.2, random_state=rep),
        "kfold_10": lambda rep: KFold(10, shuffle=True, random_state=rep),
    }
    rows = []
    for cv_name, cv in splitters.items():
        null = _rates(cv, _wrap(_null), X, y, n, reps)
        rows.append(Row(
            benchmark=NAME, name=f"false-positive rate, {cv_name}",
            hpsearch=null["corrected"], anchor=null["naive"], unit="rate",
            ratio=None, target="", met=null["corrected"] <= 0.07,
            note=f"corrected (target <= 0.07) vs naive paired t-test, alpha={ALPHA}, "
                 f"{reps} repetitions of n={n}",
        ))
        power = _rates(cv, _wrap(_real), X, y, n, reps // 4)
        rows.append(Row(
            benchmark=NAME, name=f"power, {cv_name}",
            hpsearch=power["corrected"], anchor=power["naive"], unit="rate",
            note=f"logistic regression vs a depth-1 tree (stump), mean CV gap "
                 f"{power['gap']:.3f}, {reps // 4} repetitions (report only)",
        ))
    return rows
