"""The numbers behind the run folder's plots (read off the matplotlib figure, not eyeballed)."""

import numpy as np
import pytest

import hpsearch.plots
from hpsearch.plots import search_history


@pytest.fixture
def figures(monkeypatch):
    made = []
    monkeypatch.setattr(hpsearch.plots, "_save", lambda fig, path: made.append(fig) or path)
    return made


# a halving search: round 0 at 3 epochs, round 1 at 9; row 0 (3 epochs) has the highest
# mean, the best (rank 1, best_index_) is row 3 at the full budget
HALVING = {"params": [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 1}],
           "mean_test_score": np.array([0.96, 0.90, 0.80, 0.94]),
           "rank_test_score": np.array([2, 3, 4, 1]),
           "iter": np.array([0, 0, 0, 1]), "n_resources": np.array([3, 3, 3, 9])}


def test_search_history_marks_the_searchs_best(tmp_path, figures):
    # was: only a "best so far" line, topping out at row 0's 0.96 (3 epochs), never the
    # best the report names (0.94 at 9 epochs)
    search_history(HALVING, tmp_path / "h.png")
    ax = figures[0].axes[0]
    star = [c for c in ax.collections if c.get_label() == "best (rank 1)"]
    assert len(star) == 1 and star[0].get_offsets().tolist() == [[4.0, 0.94]]
    line = [ln for ln in ax.lines if ln.get_label().startswith("best so far")]
    assert line[0].get_label() == "best so far (any budget)"
    assert line[0].get_ydata().tolist() == [0.96] * 4


def test_search_history_of_a_plain_search(tmp_path, figures):
    cv = {"params": [{"a": 1}, {"a": 2}, {"a": 3}],
          "mean_test_neg_mean_squared_error": np.array([-5.0, -2.0, np.nan]),
          "rank_test_neg_mean_squared_error": np.array([2, 1, 3])}
    search_history(cv, tmp_path / "h.png", metric="neg_mean_squared_error")
    ax = figures[0].axes[0]
    assert ax.get_ylabel() == "mean CV neg_mean_squared_error"
    line = [ln for ln in ax.lines if ln.get_label() == "best so far"][0]
    assert line.get_ydata().tolist() == [-5.0, -2.0, -2.0]
    star = [c for c in ax.collections if c.get_label() == "best (rank 1)"]
    assert star[0].get_offsets().tolist() == [[2.0, -2.0]]


def test_param_effect_keeps_a_none_value(tmp_path, figures):
    # was: max_depth None next to numbers was drawn as NaN on a numeric axis: the
    # unlimited tree (here the best) was silently missing from the plot
    from hpsearch.plots import param_effect

    cv = {"params": [{"max_depth": None}, {"max_depth": 3}, {"max_depth": 10}],
          "mean_test_score": np.array([0.9, 0.7, 0.8])}
    param_effect(cv, "max_depth", tmp_path / "p.png")
    ax = figures[0].axes[0]
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == 3 and sorted(points[:, 1].tolist()) == [0.7, 0.8, 0.9]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3", "10", "None"]
    x_of = dict(zip(points[:, 1].round(3).tolist(), points[:, 0]))
    assert round(x_of[0.7]) == 0 and round(x_of[0.8]) == 1 and round(x_of[0.9]) == 2


def test_param_effect_colours_budgets_and_stars_the_best(tmp_path, figures):
    # was: a halving search's 3-epoch and 9-epoch scores on one scale, unmarked: a=1's
    # 0.96 at 3 epochs looked like the best value
    from hpsearch.plots import param_effect

    param_effect(HALVING, "a", tmp_path / "p.png")
    ax = figures[0].axes[0]
    dots, star = ax.collections[0], [c for c in ax.collections
                                     if c.get_label() == "best (rank 1)"]
    assert dots.get_array().tolist() == [3, 3, 3, 9]
    assert star[0].get_offsets().tolist() == [[1.0, 0.94]]


def test_learning_curves_compare_the_same_loss_on_both_parts():
    # was: train_loss was the MLP's loss_ (with the alpha penalty, under dropout), beside
    # an unpenalised validation loss: a regularized net's training curve lay above its
    # validation curve (0.90 vs 0.85 here), the gap the recipe reads turned upside down
    import warnings

    from sklearn.base import clone
    from sklearn.datasets import load_iris
    from sklearn.metrics import log_loss
    from sklearn.model_selection import train_test_split

    from hpsearch.mlp import MLPClassifier
    from hpsearch.plots import epoch_curves

    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(16,), dropout=0.5, alpha=1.0, max_iter=5,
                            random_state=0).fit(X, y)
        frame = epoch_curves(mlp, X, y, classifier=True)
        Xa, _, ya, _ = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
        model = clone(mlp)
        for _ in range(5):
            model.partial_fit(Xa, ya, classes=np.unique(y))
    assert frame["train_loss"].iloc[-1] == pytest.approx(
        log_loss(ya, model.predict_proba(Xa), labels=np.unique(y)))
    assert frame["train_loss"].iloc[-1] < model.loss_


def test_axes_name_the_studys_metric(tmp_path, figures):
    # a single-metric search's key is "score": the axes read "mean CV score" for an MSE
    from hpsearch.plots import param_effect

    cv = {"params": [{"a": 1}, {"a": 2}], "mean_test_score": np.array([-5.0, -2.0]),
          "rank_test_score": np.array([2, 1])}
    search_history(cv, tmp_path / "h.png", label="neg_mean_squared_error")
    param_effect(cv, "a", tmp_path / "p.png", label="neg_mean_squared_error")
    assert [f.axes[0].get_ylabel() for f in figures] == ["mean CV neg_mean_squared_error"] * 2


def test_a_value_whose_fits_all_failed_shows(tmp_path, figures):
    # was: a NaN mean (every fit of n_neighbors=25 failed) was no point at all: the value
    # vanished from "Score vs n_neighbors" and from the history
    from hpsearch.plots import param_effect

    cv = {"params": [{"k": 1}, {"k": 5}, {"k": 25}],
          "mean_test_score": np.array([0.9, 0.95, np.nan]),
          "rank_test_score": np.array([2, 1, 3])}
    param_effect(cv, "k", tmp_path / "p.png")
    search_history(cv, tmp_path / "h.png")
    for fig, x in zip(figures, (25.0, 3.0)):
        crosses = [c for c in fig.axes[0].collections if c.get_label() == "no score (1 failed)"]
        assert crosses[0].get_offsets().tolist() == [[x, 0.9]]


def test_comparison_plot_leaves_out_failed_splits(tmp_path, figures):
    # the table left them out (compare), the plot drew error_score=0 as three scores of 0
    from hpsearch.model_selection import compare
    from hpsearch.plots import comparison

    cv = {"params": [{"k": 3}, {"k": 200}], "mean_test_score": np.array([0.93, 0.0]),
          "split0_test_score": np.array([0.94, 0.0]), "split1_test_score": np.array([0.92, 0.0]),
          "split2_test_score": np.array([0.93, 0.0]),
          "error": np.array([None, "split 0:\nE\nsplit 1:\nE\nsplit 2:\nE"], dtype=object)}
    comparison(cv, compare(cv, test_train_ratio=0.5), tmp_path / "c.png")
    from matplotlib.collections import PathCollection

    dots = [c.get_offsets()[:, 0].tolist() for c in figures[0].axes[0].collections
            if isinstance(c, PathCollection)]
    assert sorted(x for d in dots for x in d) == pytest.approx([0.92, 0.93, 0.94])


def test_learning_curves_of_an_estimator_without_partial_fit_name_its_objective(
        tmp_path, figures):
    # was: an lbfgs net's curve (its history_ loss: log loss + alpha penalty) was labelled
    # "loss" beside the partial_fit path's "train_loss", the log loss alone
    import warnings

    from sklearn.datasets import load_iris

    from hpsearch.mlp import MLPClassifier
    from hpsearch.plots import OBJECTIVE_LABEL, epoch_curves, learning_curves

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier((4,), solver="lbfgs", alpha=1.0, max_iter=5,
                            random_state=0).fit(X, y)
    assert epoch_curves(mlp, X, y, classifier=True) is None  # no partial_fit: the fallback
    learning_curves(mlp, tmp_path / "l.png")
    line = figures[0].axes[0].lines[0]
    assert line.get_label() == OBJECTIVE_LABEL == "training objective (loss + penalty)"
    assert line.get_ydata()[-1] == pytest.approx(mlp.loss_)
