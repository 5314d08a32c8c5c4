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


def _add_by_hand(db, name="s"):
    """A finished trial hpsearch did not record (added by hand, or by Optuna's own
    ``study.optimize``): no hpsearch_key, no hpsearch_slot."""
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    study.add_trial(optuna.trial.create_trial(
        params={"n_neighbors": 3}, value=0.99,
        distributions={"n_neighbors": optuna.distributions.IntDistribution(1, 40)}))


@pytest.mark.parametrize("cls, param, extra", [
    (RandomSearchCV, "n_iter", {}), (OptunaSearchCV, "n_trials", {}),
    (ASHASearchCV, "n_trials", {"resource": "n_samples"})])
def test_api_resume_does_not_count_trials_hpsearch_did_not_record(tmp_path, cls, param,
                                                                   extra):
    """Was: a trial added to the study by hand counted as a candidate, so a resume with the
    same budget warned '6 finished candidates, more than 5', advising a budget of 6 that
    would not have reported it either (no search reports a trial it did not record)."""
    import warnings

    X, y = load_iris(return_X_y=True)
    kw = dict(param_distributions={"n_neighbors": Int(1, 40)}, cv=3, random_state=0,
              storage=f"sqlite:///{tmp_path / 'store.db'}", study_name="s", **extra)
    cls(KNeighborsClassifier(), **{param: 5}, **kw).fit(X, y)
    _add_by_hand(tmp_path / "store.db")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*finished candidates of study")
        cls(KNeighborsClassifier(), **{param: 5}, resume=True, **kw).fit(X, y)
    with pytest.warns(UserWarning, match=rf"holds 5 finished candidates .* {param}=4"):
        cls(KNeighborsClassifier(), **{param: 4}, resume=True, **kw).fit(X, y)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_cli_resume_does_not_count_trials_hpsearch_did_not_record(tmp_path, monkeypatch,
                                                                  capsys, method):
    """Was: the CLI refused a --resume with the unchanged study file (exit 2) once a trial
    was added to its store by hand."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(_study(method, 4))
    assert main(["s.yaml", "--out", "run", "--quiet"]) == 0
    _add_by_hand(tmp_path / "run" / "study.db")
    capsys.readouterr()
    assert main(["s.yaml", "--out", "run", "--resume", "--quiet"]) == 0, (
        capsys.readouterr().err)


def test_optuna_resume_counts_slots_not_distinct_candidates(tmp_path):
    """OptunaSearchCV's n_trials counts the study's slots (a candidate asked twice takes two
    slots, two rows): was counted by distinct parameters, so a resume with n_trials=3 of 6
    slots asking 2 distinct values reported 3 of the 6 rows without a word."""
    from hpsearch.space import Categorical

    X, y = load_iris(return_X_y=True)
    kw = dict(param_distributions={"n_neighbors": Categorical([1, 15])}, cv=3,
              random_state=0, storage=f"sqlite:///{tmp_path / 'store.db'}", study_name="s")
    first = OptunaSearchCV(KNeighborsClassifier(), n_trials=6, **kw).fit(X, y)
    assert len(first.cv_results_["params"]) == 6
    with pytest.warns(UserWarning, match=r"holds 6 finished candidates .* n_trials=3"):
        OptunaSearchCV(KNeighborsClassifier(), n_trials=3, resume=True, **kw).fit(X, y)


_TOGETHER = """
import sys, warnings
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier
from hpsearch.model_selection import ASHASearchCV, OptunaSearchCV, RandomSearchCV
from hpsearch.space import Int
warnings.filterwarnings("error", message=".*finished candidates of study")
cls = {"random": RandomSearchCV, "optuna": OptunaSearchCV, "asha": ASHASearchCV}[sys.argv[1]]
extra = {"resource": "n_samples"} if sys.argv[1] == "asha" else {}
cls(KNeighborsClassifier(), {"n_neighbors": Int(1, 40)}, cv=3, random_state=0,
    storage=sys.argv[2], study_name="s", resume=True, **{sys.argv[3]: int(sys.argv[4])},
    **extra).fit(*load_iris(return_X_y=True))
"""


@pytest.mark.parametrize("method, budget", [("random", 5), ("optuna", 5), ("asha", 6)])
def test_processes_sharing_a_store_with_the_same_budget_never_warn(tmp_path, method,
                                                                   budget):
    """Two processes started together on one storage (``resume=True``), then a third
    resuming the finished study, all with the same budget: none warns (Optuna's n_trials
    and ASHA's are the study's, shared; random's processes draw the same candidates)."""
    import os
    import subprocess
    import sys

    storage = f"sqlite:///{tmp_path / 'store.db'}"
    cmd = [sys.executable, "-c", _TOGETHER, method, storage, METHODS[method][0], str(budget)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
         os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    done = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _left_out_cases():
    from sklearn.linear_model import LogisticRegression

    from hpsearch.model_selection import HalvingSearchCV, HyperbandSearchCV
    from hpsearch.model_selection.strategies.recipe import RecipeSearchCV
    from hpsearch.space import Float

    knn = {"n_neighbors": Int(1, 40)}
    return {
        # 9 candidates, then 3 (of them): best CV score 0.9667 in the store, 0.96 reported
        "halving": (lambda n: HalvingSearchCV(
            KNeighborsClassifier(), knn, n_candidates=n, resource="n_samples"),
            9, 3, "9 finished candidates of study 's', 6 of which this fit did not report "
            r"\(its candidates: 3, with n_candidates=3,"),
        # 14 candidates in 3 brackets, then the first 5 of them: 0.9867 / 0.9467
        "hyperband": (lambda n: HyperbandSearchCV(
            KNeighborsClassifier(), knn, max_resources=n, min_resources=15,
            resource="n_samples"),
            135, 45, "14 finished candidates of study 's', 9 of which this fit did not "
            r"report \(its candidates: 5, with min_resources=15, max_resources=45,"),
        # 4 + 8 candidates in 2 stages, then 3 + 3
        "recipe": (lambda n: RecipeSearchCV(
            LogisticRegression(max_iter=200),
            {"C": Float(1e-3, 10, log=True), "tol": Float(1e-5, 1e-2, log=True)}, n_iter=n),
            6, 3, "12 finished candidates of study 's', 6 of which this fit did not report "
            r"\(its candidates: 6, with n_iter=3\)"),
    }


@pytest.mark.parametrize("kind", ["halving", "hyperband", "recipe"])
def test_api_resume_leaving_stored_candidates_out_warns(tmp_path, kind):
    """Halving, Hyperband and the recipe draw their candidates from settings that are no
    count of the study's (n_candidates, min/max_resources, factor; n_iter per stage): a
    resume with fewer candidates than the store holds reported a subset of them without a
    word (halving: the store's best CV score 0.9667, 0.96 reported; Hyperband 0.9867,
    0.9467). Now it warns, naming the settings; a resume with the run's settings is
    silent."""
    import warnings

    make, big, small, match = _left_out_cases()[kind]
    X, y = load_iris(return_X_y=True)
    kw = dict(cv=3, random_state=0, storage=f"sqlite:///{tmp_path / 'store.db'}",
              study_name="s", resume=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*finished candidates of study")
        make(big).set_params(**kw).fit(X, y)
    with pytest.warns(UserWarning, match=match) as record:
        make(small).set_params(**kw).fit(X, y)
    assert [w.filename for w in record if "finished candidates" in str(w.message)] == [
        __file__]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*finished candidates of study")
        make(big).set_params(**kw).fit(X, y)


@pytest.mark.parametrize("method, key, before, after, message", [
    ("halving", "n_candidates", 9, 3,
     "holds 9 finished candidates of study 's', more than n_candidates=3:"),
    ("recipe", "n_iter", 6, 1, "holds 3 finished candidates of study 's', more than the 2 "
     "candidates of n_iter=1 (n_iter per stage, 2 stages)")])
def test_cli_resume_of_halving_or_recipe_with_fewer_candidates_refused(
        tmp_path, monkeypatch, capsys, method, key, before, after, message):
    """Was: --resume of a halving study edited from n_candidates 9 to 3 ran, and replaced
    best_params.json ({"n_neighbors": 1} -> 4) with the pick among 3 of the 9 stored
    candidates (a warning that the study file differs, nothing more)."""
    monkeypatch.chdir(tmp_path)
    extra = "  resource: n_samples\n" if method == "halving" else ""

    def study(n):
        return (f"data: {{dataset: iris}}\nestimator: {{name: knn_classifier}}\nsearch:\n"
                f"  method: {method}\n{extra}  {key}: {n}\n  space:\n"
                "    n_neighbors: {type: int, low: 1, high: 40}\ncv: 3\nseed: 0\n")

    (tmp_path / "s.yaml").write_text(study(before))
    assert main(["s.yaml", "--out", "run", "--quiet"]) == 0
    run = tmp_path / "run"
    files = _files(run)
    capsys.readouterr()
    (tmp_path / "s.yaml").write_text(study(after))
    assert main(["s.yaml", "--out", "run", "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"search.{key}: the trial store" in err and message in err, err
    assert f"got {after}" in err, err
    assert _files(run) == files
    (tmp_path / "s.yaml").write_text(study(before))
    assert main(["s.yaml", "--out", "run", "--resume", "--quiet"]) == 0


@pytest.mark.parametrize("cls, param, extra", [
    (RandomSearchCV, "n_iter", {}), (OptunaSearchCV, "n_trials", {}),
    (ASHASearchCV, "n_trials", {"resource": "n_samples"})])
def test_enqueued_trials_and_other_studies_do_not_count(tmp_path, cls, param, extra):
    """Trials enqueued in the study (run as candidates by Optuna and ASHA, closed FAIL by
    the random search) and a finished study of another name in the same storage: a resume
    with the same budget stays silent."""
    import warnings

    X, y = load_iris(return_X_y=True)
    storage = f"sqlite:///{tmp_path / 'store.db'}"
    kw = dict(param_distributions={"n_neighbors": Int(1, 40)}, cv=3, random_state=0,
              storage=storage, **extra)
    cls(KNeighborsClassifier(), **{param: 6}, study_name="other", **kw).fit(X, y)
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    for k in (2, 3):
        study.enqueue_trial({"n_neighbors": k})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*finished candidates of study")
        for _ in range(2):
            cls(KNeighborsClassifier(), **{param: 4}, study_name="s", resume=True,
                **kw).fit(X, y)
