"""A resume with a smaller budget (``n_iter`` / ``n_trials``) than the finished candidates
of its trial store is never silent.

Was: the resumed search reported only the first ``n_iter`` / ``n_trials`` of the stored
candidates, without a word: after a run of 6 candidates, ``--resume`` of the study file
edited to 3 wrote a report, best_params.json and model.joblib of 3 of them over the run
folder's, and the store's best could be among the 3 left out (Optuna here: best CV score
0.98 of the store, 0.9667 reported; ASHA 0.9867 and 0.96).

Now the Python API warns (naming the parameter, the stored count, the value given, and how
to include the others), and the CLI refuses the resume (exit 2, naming the study key) and
changes nothing: the study file changed between the runs, and raising the key costs no fit.
"""

import optuna
import pytest
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier

from hpsearch.cli import main
from hpsearch.model_selection import ASHASearchCV, OptunaSearchCV, RandomSearchCV
from hpsearch.space import Int

METHODS = {"random": ("n_iter", ""), "optuna": ("n_trials", ""),
           "asha": ("n_trials", "  resource: n_samples\n")}


def _study(method, budget):
    key, extra = METHODS[method]
    return (f"data: {{dataset: iris}}\nestimator: {{name: knn_classifier}}\nsearch:\n"
            f"  method: {method}\n{extra}  {key}: {budget}\n"
            "  space:\n    n_neighbors: {type: int, low: 1, high: 40}\ncv: 3\nseed: 0\n")


def _finished(db, name):
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(states=states))


def _files(run):
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_cli_resume_with_smaller_budget_refused(tmp_path, monkeypatch, capsys, method):
    monkeypatch.chdir(tmp_path)
    study = tmp_path / "s.yaml"
    study.write_text(_study(method, 6))
    assert main(["s.yaml", "--out", "run", "--quiet"]) == 0
    run = tmp_path / "run"
    before = _files(run)
    assert _finished(run / "study.db", "s") == 6
    capsys.readouterr()
    study.write_text(_study(method, 3))
    assert main(["s.yaml", "--out", "run", "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    key = METHODS[method][0]
    assert f"search.{key}: the trial store" in err, err
    assert f"holds 6 finished candidates of study 's', more than {key}=3" in err, err
    assert f"set {key} to 6 or more" in err and "got 3" in err, err
    assert _files(run) == before  # nothing changed, nothing deleted
    assert _finished(run / "study.db", "s") == 6
    study.write_text(_study(method, 6))
    # --smoke (fewer candidates) on the full run's folder: refused too, naming --smoke
    assert main(["s.yaml", "--out", "run", "--resume", "--smoke", "--quiet"]) == 2
    assert "--smoke --resume: the trial store" in capsys.readouterr().err
    assert _files(run) == before
    if method == "random":  # the budget of the store: resumed, nothing lost
        assert main(["s.yaml", "--out", "run", "--resume", "--quiet"]) == 0
        assert _finished(run / "study.db", "s") == 6


@pytest.mark.parametrize("cls, param, extra", [
    (RandomSearchCV, "n_iter", {}), (OptunaSearchCV, "n_trials", {}),
    (ASHASearchCV, "n_trials", {"resource": "n_samples"})])
def test_api_resume_with_smaller_budget_warns(tmp_path, cls, param, extra):
    X, y = load_iris(return_X_y=True)
    kw = dict(param_distributions={"n_neighbors": Int(1, 40)}, cv=3, random_state=0,
              storage=f"sqlite:///{tmp_path / 'store.db'}", study_name="s", **extra)
    cls(KNeighborsClassifier(), **{param: 6}, **kw).fit(X, y)
    with pytest.warns(UserWarning, match=(
            rf"holds 6 finished candidates of study 's', more than {param}=3: .* The other "
            rf"3 stay in the store; fit again with resume=True and {param}=6")) as record:
        cls(KNeighborsClassifier(), **{param: 3}, resume=True, **kw).fit(X, y)
    assert [w.filename for w in record if "finished candidates" in str(w.message)] == [
        __file__]  # (the user's fit, not a line of hpsearch)
    assert _finished(tmp_path / "store.db", "s") == 6
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*finished candidates of study")
        cls(KNeighborsClassifier(), **{param: 6}, resume=True, **kw).fit(X, y)
