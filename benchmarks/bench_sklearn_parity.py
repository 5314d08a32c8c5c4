"""Accuracy parity (issue 10): hpsearch's MLPs against scikit-learn's at scikit-learn's defaults.

Not a timing benchmark: both estimators run with every parameter at its default (scikit-learn's
budgets: ``hidden_layer_sizes=(100,)``, ``solver="adam"``, ``max_iter=200``, ``tol=1e-4``, ...),
behind a ``StandardScaler``, on the five bundled datasets, over several seeds (the seed is
both the ``random_state`` of the estimator and of a 75/25 train/test split, stratified for
the classifiers). Figures are the mean test accuracy (classifiers) or test R² (diabetes, whose
target is standardized too, through ``TransformedTargetRegressor``). A sixth row repeats
scikit-learn's ``check_regressors_train`` with ``max_iter=50`` (training R² on its
``make_regression`` data; the check demands > 0.5).

Target: hpsearch's mean >= scikit-learn's mean on every row. With ``init="auto"`` an integer
``random_state`` gives scikit-learn's initial weights and shuffles, so the two trajectories
agree up to float32 rounding (hpsearch's default dtype) and Adam's epsilon placement: the
rows tie to about 1e-5 per seed, hence the table's target ``ratio >= 0.999``. Run alone (``python benchmarks/bench_sklearn_parity.py``) it prints
a side-by-side table with per-seed spreads and the difference column.
"""

from __future__ import annotations

import statistics
import sys

from _harness import Row, hp, quiet

NAME = "sklearn_parity"
DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")


def _load(name):
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def _model(cls, seed, regressor, **params):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), cls(random_state=seed, **params))
    if regressor:
        return TransformedTargetRegressor(regressor=pipe, transformer=StandardScaler())
    return pipe


def dataset_scores(name, seed, hp_params=None):
    """``{"hp": score, "sk": score}`` on one dataset and seed (test accuracy or R²)."""
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, y = _load(name)
    regressor = name == "diabetes"
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=None if regressor else y)
    kind = "MLPRegressor" if regressor else "MLPClassifier"
    pair = {"hp": (hp(kind), hp_params or {}),
            "sk": (MLPRegressor if regressor else MLPClassifier, {})}
    out = {}
    with quiet():
        for key, (cls, params) in pair.items():
            model = _model(cls, seed, regressor, **params).fit(X_tr, y_tr)
            out[key] = float(model.score(X_te, y_te))
    return out


def check_train_scores(seed, hp_params=None, max_iter=50):
    """Training R² on ``check_regressors_train``'s data, ``max_iter=50``, as the check does."""
    from sklearn.datasets import make_regression
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler, scale

    X, y = make_regression(n_samples=200, n_features=10, n_informative=1, bias=5.0, noise=20,
                           random_state=42)
    X, y = StandardScaler().fit_transform(X), scale(y)
    out = {}
    with quiet():
        for key, cls, params in (("hp", hp("MLPRegressor"), hp_params or {}),
                                 ("sk", MLPRegressor, {})):
            est = cls(max_iter=max_iter, random_state=seed, **params).fit(X, y)
            out[key] = float(est.score(X, y))
    return out


def measure(seeds, hp_params=None, names=DATASETS):
    """``{row name: {"hp": [per seed], "sk": [per seed]}}`` for every dataset and the check."""
    results = {}
    for name in names:
        per = [dataset_scores(name, s, hp_params) for s in seeds]
        metric = "R²" if name == "diabetes" else "accuracy"
        results[f"{name} test {metric}"] = {k: [p[k] for p in per] for k in ("hp", "sk")}
    per = [check_train_scores(s, hp_params) for s in seeds]
    results["check_regressors_train R², max_iter=50"] = {k: [p[k] for p in per]
                                                          for k in ("hp", "sk")}
    return results


def run(quick=False, repeats=3):
    seeds = range(2) if quick else range(10)
    names = ("iris", "wine") if quick else DATASETS
    rows = []
    for name, got in measure(seeds, names=names).items():
        hp_mean, sk_mean = statistics.mean(got["hp"]), statistics.mean(got["sk"])
        row = Row(NAME, f"{name}, mean of {len(seeds)} seeds", hp_mean, sk_mean, "",
                  target=">= 0.999",
                  note=f"difference {hp_mean - sk_mean:+.4f}; hp min {min(got['hp']):.3f}, "
                       f"sklearn min {min(got['sk']):.3f}")
        row.extra.update(hp=got["hp"], sklearn=got["sk"])
        rows.append(row)
    return rows


def side_by_side(results):
    """Markdown table: mean (min-max) of each side, ratio and difference."""
    lines = ["| figure | hpsearch mean (min-max) | sklearn mean (min-max) | ratio | difference "
             "± s.e. (paired by seed) |", "|---|---|---|---|---|"]
    for name, got in results.items():
        h, s = got["hp"], got["sk"]
        hm, sm = statistics.mean(h), statistics.mean(s)
        diffs = [a - b for a, b in zip(h, s)]
        se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
        lines.append(f"| {name} | {hm:.4f} ({min(h):.3f}-{max(h):.3f}) | {sm:.4f} "
                     f"({min(s):.3f}-{max(s):.3f}) | {hm / sm:.3f} | {hm - sm:+.4f} ± {se:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    n_seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(side_by_side(measure(range(n_seeds))))
