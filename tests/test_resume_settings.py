"""A resumed search whose settings changed is refused naming the setting, or reports the
new search alone: never old and new results mixed as one search (API and CLI)."""

import textwrap
import warnings

import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from hpsearch.cli import main
from hpsearch.model_selection import GridSearchCV, OptunaSearchCV
from hpsearch.model_selection.space import Float
from hpsearch.model_selection.store import StudyMismatch

X, y = make_classification(60, 5, random_state=0)
SPACE = {"C": [0.001, 0.01, 0.1, 1.0]}


def _optuna(url, space=SPACE, **params):
    params = {"n_trials": 3, "cv": 3, "random_state": 0, "storage": url,
              "study_name": "s", **params}
    return OptunaSearchCV(LogisticRegression(), space, **params)


def _fit(search):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y)


OLD_C = "C={'type': 'categorical', 'choices': [0.001, 0.01, 0.1, 1.0]}"


@pytest.mark.parametrize("new_space, old, new", [
    ({"C": [0.001, 0.01]}, OLD_C, "C={'type': 'categorical', 'choices': [0.001, 0.01]}"),
    ({"C": [0.001, 0.01, 0.1, 1.0, 5.0]}, OLD_C, "1.0, 5.0]}"),  # a value added
    ({"C": [0.001, 0.01, 0.1, 1.0], "tol": [1e-4, 1e-3]},  # a dimension added
     "from tol=(none)", "tol={'type': 'categorical', 'choices': [0.0001, 0.001]}"),
])
def test_optuna_resumed_with_another_space_is_refused_by_name(tmp_path, new_space, old, new):
    """Was: the resumed OptunaSearchCV counted and ranked the study's trials drawn from
    the old space with its own (cv_results_ and best_params_ outside the new space)."""
    url = f"sqlite:///{tmp_path}/s.db"
    _fit(_optuna(url))
    with pytest.raises(StudyMismatch, match="The 'param_distributions' parameter of "
                                            "OptunaSearchCV must be the same") as info:
        _fit(_optuna(url, new_space, n_trials=5, resume=True))
    assert info.value.setting == "param_distributions"
    message = str(info.value)
    assert old in message.split("Got")[0] and new in message.split("Got")[1], message


def test_optuna_resumed_with_other_bounds_is_refused_and_same_space_continues(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    _fit(_optuna(url, {"C": Float(1e-3, 1.0, log=True)}))
    with pytest.raises(StudyMismatch, match=r"'high': 1\.0.*Got .*'high': 10\.0"):
        _fit(_optuna(url, {"C": Float(1e-3, 10.0, log=True)}, n_trials=5, resume=True))
    # the same space with a larger n_trials continues the study
    search = _fit(_optuna(url, {"C": Float(1e-3, 1.0, log=True)}, n_trials=5, resume=True))
    assert len(search.cv_results_["params"]) == 5
    assert all(1e-3 <= p["C"] <= 1.0 for p in search.cv_results_["params"])


def test_optuna_resumed_with_another_refit_metric_is_refused(tmp_path):
    """Was: the study's trial values were mean accuracies, the resumed run told mean log
    losses beside them: the sampler compared both and study_.best_trial was not the
    search's best_params_."""
    url = f"sqlite:///{tmp_path}/s.db"
    scoring = ["accuracy", "neg_log_loss"]
    _fit(_optuna(url, scoring=scoring, refit="accuracy"))
    with pytest.raises(StudyMismatch, match="The 'refit' parameter of OptunaSearchCV must "
                                            "select the metric.*'accuracy'") as info:
        _fit(_optuna(url, scoring=scoring, refit="neg_log_loss", n_trials=5, resume=True))
    assert info.value.setting == "refit"
    assert "Got refit='neg_log_loss' instead" in str(info.value)
    search = _fit(_optuna(url, scoring=scoring, refit="accuracy", n_trials=4, resume=True))
    assert len(search.study_.trials) == 4


def test_narrowed_grid_reports_the_new_grid_alone(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    grid = dict(cv=3, storage=url, study_name="g")
    _fit(GridSearchCV(LogisticRegression(), {"C": [0.01, 0.1, 1.0]}, **grid))
    search = _fit(GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, resume=True, **grid))
    assert [p["C"] for p in search.cv_results_["params"]] == [0.1, 1.0]
    assert search.best_params_["C"] in (0.1, 1.0)


STUDY = textwrap.dedent(
    """\
    name: changed
    data: {dataset: iris, test_size: 0.3}
    estimator: {name: knn_classifier}
    search:
      method: optuna
      n_trials: 2
      space:
        n_neighbors: [1, 5, 9]
    scoring: [accuracy, f1_macro]
    refit: accuracy
    cv: 3
    seed: 0
    backend: {name: threading}
    """
)


def test_cli_resume_with_another_refit_names_the_key(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text(STUDY)
    out = tmp_path / "o"
    assert main([str(study), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    study.write_text(STUDY.replace("refit: accuracy", "refit: f1_macro")
                     .replace("n_trials: 2", "n_trials: 3"))
    assert main([str(study), "--out", str(out), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "refit" in err and "was 'accuracy', got 'f1_macro'" in err, err


def _wide_pipeline(degree):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    columns = ColumnTransformer([
        (f"t{i}", PolynomialFeatures(degree=degree if i == 2 else 2, include_bias=False,
                                     interaction_only=True, order="F"), [i % 5])
        for i in range(10)])
    return make_pipeline(columns, LogisticRegression())


def test_a_fixed_parameter_changed_inside_a_long_estimator_is_refused(tmp_path):
    """scikit-learn's repr elides an estimator past 700 characters in the middle: was,
    the settings' text of the pipeline was the same with degree 2 or 3 at t2, and the
    resumed grid reused the fits made with degree 2 for degree 3."""
    url = f"sqlite:///{tmp_path}/s.db"
    grid = dict(cv=3, storage=url, study_name="g")
    space = {"logisticregression__C": [0.1, 1.0]}
    _fit(GridSearchCV(_wide_pipeline(2), space, **grid))
    with pytest.raises(StudyMismatch, match=r"The 'estimator' parameter of GridSearchCV "
                                            r"must be the same") as info:
        _fit(GridSearchCV(_wide_pipeline(3), space, resume=True, **grid))
    message = str(info.value)
    assert "columntransformer__t2__degree=2" in message
    assert "Got columntransformer__t2__degree=3" in message
    assert "columntransformer__transformers" not in message
    _fit(GridSearchCV(_wide_pipeline(2), space, resume=True, **grid))  # same: resumes


def test_optuna_resumed_with_other_rungs_is_refused(tmp_path):
    """Was: trials told their score at 8 epochs ranked with trials told theirs at 16."""
    from hpsearch import MLPClassifier

    url = f"sqlite:///{tmp_path}/s.db"
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=16)
    space = {"alpha": [1e-4, 1e-2]}
    kw = dict(cv=2, random_state=0, storage=url, study_name="p", pruner="median")
    _fit(OptunaSearchCV(mlp, space, n_trials=2, rungs=[2, 8], **kw))
    with pytest.raises(StudyMismatch, match=r"The 'rungs' parameter of OptunaSearchCV.*"
                                            r"rungs \[2, 8\].*Got rungs \[2, 16\]") as info:
        _fit(OptunaSearchCV(mlp, space, n_trials=3, rungs=[2, 16], resume=True, **kw))
    assert info.value.setting == "rungs"
    with pytest.raises(StudyMismatch, match="The 'pruner' parameter"):
        _fit(OptunaSearchCV(mlp, space, n_trials=3, resume=True,
                            **{**kw, "pruner": None}))
