"""Smoke tests of the recipe's plots (PNG files written to tmp_path)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from hpsearch import MLPClassifier, diagnose
from hpsearch.diagnostics import gradient_flow, recipe_map

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def deep_sigmoid():
    X, y = load_digits(return_X_y=True)
    X, y = StandardScaler().fit_transform(X)[:500], y[:500]
    est = MLPClassifier((16,) * 4, activation="sigmoid", init="normal", solver="sgd", momentum=0.0,
                        learning_rate_init=0.1, max_iter=10, random_state=0)
    return diagnose(est, X, y, random_state=0)


def test_recipe_map_of_a_search(tmp_path):
    cv = {"params": [{"hidden_layer_sizes": (8,)}, {"hidden_layer_sizes": (8,) * 4}, {}, {}],
          "mean_train_score": np.array([0.99, 0.4, 1.0, np.nan]),
          "mean_test_score": np.array([0.95, 0.38, 0.7, np.nan])}
    refs = {"baseline": {"train_score": 0.1, "test_score": 0.1},
            "linear": {"train_score": 1.0, "test_score": 0.93}}
    path = recipe_map(cv, tmp_path / "plots" / "recipe_map.png", references=refs)
    assert path.read_bytes().startswith(PNG)
    assert recipe_map(cv, tmp_path / "self.png").stat().st_size > 1000   # no references


def test_recipe_map_and_gradient_flow_of_a_diagnosis(tmp_path, deep_sigmoid):
    assert recipe_map(deep_sigmoid, tmp_path / "one.png").read_bytes().startswith(PNG)
    path = gradient_flow(deep_sigmoid, tmp_path / "flow.png")
    assert path.read_bytes().startswith(PNG)
    assert gradient_flow(deep_sigmoid.model, tmp_path / "flow2.png").exists()


def test_gradient_flow_without_history_is_none(tmp_path):
    X, y = load_digits(return_X_y=True)
    knn = KNeighborsClassifier().fit(X[:50], y[:50])
    assert gradient_flow(knn, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_report_section(tmp_path, deep_sigmoid):
    import pandas as pd

    from hpsearch.diagnostics import report_section

    cv = pd.DataFrame({"params": [{"hidden_layer_sizes": (8,)}, {"hidden_layer_sizes": (8,) * 4}],
                       "mean_train_score": [0.99, 0.4], "mean_test_score": [0.95, 0.38]})
    text = report_section(cv, tmp_path, best_model=deep_sigmoid.model)
    assert text.startswith("## Diagnosis (the lecture's recipe)")
    assert "- 1 candidate(s) poor on their training folds (optimize first)" in text
    assert "> Deeper candidates train worse" in text
    assert "![Recipe map](plots/recipe_map.png)" in text
    assert "(vanishing; vanishing below 0.01)" in text
    assert (tmp_path / "plots" / "recipe_map.png").exists()
    assert (tmp_path / "plots" / "gradient_flow.png").exists()
    text = report_section(cv.drop(columns="mean_train_score"), tmp_path / "b")
    assert "set `return_train_score: true`" in text and "Recipe map" not in text


def test_report_section_does_not_call_an_undefined_gradient_ratio_healthy(tmp_path):
    from hpsearch.diagnostics import report_section

    X, y = load_digits(return_X_y=True)
    model = MLPClassifier((8, 8), max_iter=3, random_state=0).fit(X[:200] / 16, y[:200])
    model.history_["grad_norm_0"] = [np.nan] * len(model.history_["loss"])
    cv = {"params": [{}, {}], "mean_train_score": np.array([0.99, 0.5]),
          "mean_test_score": np.array([0.95, 0.49])}
    text = report_section(cv, tmp_path, best_model=model)
    assert "nan (undefined; vanishing below 0.01)" in text and "healthy" not in text


def test_recipe_map_stars_the_searchs_best_not_an_early_round(tmp_path, monkeypatch):
    # a halving search: row 0 (3 epochs) has the highest validation score, but the best
    # (rank 1, best_index_) is row 2 at the full budget; the star marked row 0
    import hpsearch.plots

    figures = []
    monkeypatch.setattr(hpsearch.plots, "_save", lambda fig, path: figures.append(fig) or path)
    cv = {"params": [{"a": 1}, {"a": 2}, {"a": 1}],
          "mean_train_score": np.array([0.99, 0.95, 0.97]),
          "mean_test_score": np.array([0.96, 0.90, 0.94]),
          "rank_test_score": np.array([2, 3, 1]), "n_resources": np.array([3, 3, 9])}
    recipe_map(cv, tmp_path / "map.png")
    ax = figures[0].axes[0]
    star = [c for c in ax.collections if c.get_label().startswith("best")]
    assert len(star) == 1 and star[0].get_label() == "best (rank 1)"
    assert star[0].get_offsets().tolist() == [[0.97, 0.94]]


def test_recipe_map_of_a_diagnosis_draws_its_own_thresholds(tmp_path, monkeypatch):
    # a diagnosis made with thresholds={"gap": 5.0} ('none') was drawn with the default
    # thresholds: its point labelled and coloured 'overfitting'
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    from hpsearch.diagnostics import _plots

    X, y = make_classification(n_samples=200, n_features=20, n_informative=5, flip_y=0.2,
                               random_state=0)
    d = diagnose(DecisionTreeClassifier(random_state=0), X, y, random_state=0,
                 thresholds={"gap": 5.0})
    assert d.problem == "none"
    drawn, real = [], _plots.diagnose_results
    monkeypatch.setattr(_plots, "diagnose_results",
                        lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    assert recipe_map(d, tmp_path / "map.png").read_bytes().startswith(PNG)
    assert drawn[0].labels == ["none"]
    assert drawn[0].evidence["gap_threshold"] == pytest.approx(d.evidence["gap_threshold"])
