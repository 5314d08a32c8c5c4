"""``--dry-run`` prints the real budget of halving, Hyperband and pruned Optuna searches,
computed by the searches' own strategies (``plan_rounds``, ``plan_rungs``)."""

import re
import textwrap
from pathlib import Path

import pytest

from hpsearch.cli import main
from hpsearch.study.budget import pruned_budget, rounds_budget

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def _dry_run(capsys, name, *extra):
    assert main([str(STUDIES / f"{name}.yaml"), "--dry-run", *extra]) == 0
    return capsys.readouterr().out


def _table(out):
    """Rows of the 'rounds:' table as lists of cells (header and total included)."""
    lines = out.split("rounds:\n", 1)[1].splitlines()
    rows = []
    for line in lines:
        if not line.startswith("  "):
            break
        rows.append(line.split())
    return rows


def test_halving_plan(capsys):
    # studies/halving.yaml: n_candidates 9, min_resources 3, max_resources 27, factor 3, cv 3.
    # Rounds (sklearn's schedule): n = 9, 3, 1 candidates at r = 3, 9, 27 epochs.
    # Fits: 3 splits x (9 + 3 + 1) = 39 (+1 refit).
    # Epochs, continuing: 9*3*3 = 81, then 3*3*(9-3) = 54, then 1*3*(27-9) = 54 -> 189.
    # Full-budget random search over the same 9: 9*3 = 27 fits, 27 fits * 27 = 729 epochs;
    # 189 / 729 = 25.9% -> "26%".
    out = _dry_run(capsys, "halving")
    assert "candidates: 9, 3 rounds" in out
    assert "fits:       39 (+1 refit at 27 epochs)" in out
    assert _table(out) == [
        ["round", "candidates", "epochs", "fits", "epochs/fit", "(continuing)", "epochs",
         "trained"],
        ["0", "9", "3", "27", "3", "81"],
        ["1", "3", "9", "9", "+6", "54"],
        ["2", "1", "27", "3", "+18", "54"],
        ["total", "9", "39", "189"],
    ]
    assert ("epochs:     189 trained; a random search over the same 9 candidates at 27 epochs "
            "each: 27 fits, 729 epochs (this plan: 26% of that)") in out
    assert "(+1 refit)" not in out


def test_hyperband_plan(capsys):
    # studies/hyperband.yaml: R = 27 epochs, r = 1 ("smallest"), eta = 3, cv 3.
    # s_max = log3(27) = 3; n_s = ceil(4/(s+1) * 3^s): 27, 12, 6, 4 (49 candidates);
    # bracket s runs rounds i = 0..s with floor(n_s / 3^i) candidates at 27 * 3^(i-s):
    #   s=3: 27@1, 9@3, 3@9, 1@27   epochs/split 27*1 + 9*2 + 3*6 + 1*18 = 81
    #   s=2: 12@3, 4@9, 1@27        12*3 + 4*6 + 1*18 = 78
    #   s=1: 6@9, 2@27              6*9 + 2*18 = 90
    #   s=0: 4@27                   4*27 = 108
    # candidate-rounds 40 + 17 + 8 + 4 = 69 -> 207 fits; epochs (81+78+90+108) * 3 = 1071.
    # Full budget: 49 * 3 = 147 fits, 147 * 27 = 3969 epochs; 1071 / 3969 = 27.0%.
    out = _dry_run(capsys, "hyperband")
    assert "candidates: 49 in 4 brackets, 10 rounds" in out
    assert "fits:       207 (+1 refit at 27 epochs)" in out
    rows = _table(out)[1:]
    assert rows == [
        ["3", "0", "27", "1", "81", "1", "81"],
        ["3", "1", "9", "3", "27", "+2", "54"],
        ["3", "2", "3", "9", "9", "+6", "54"],
        ["3", "3", "1", "27", "3", "+18", "54"],
        ["2", "0", "12", "3", "36", "3", "108"],
        ["2", "1", "4", "9", "12", "+6", "72"],
        ["2", "2", "1", "27", "3", "+18", "54"],
        ["1", "0", "6", "9", "18", "9", "162"],
        ["1", "1", "2", "27", "6", "+18", "108"],
        ["0", "0", "4", "27", "12", "27", "324"],
        ["total", "49", "207", "1,071"],
    ]
    assert "147 fits, 3,969 epochs (this plan: 27% of that)" in out


def test_pruned_optuna_plan(capsys):
    # studies/optuna_tpe.yaml: 12 trials, cv 3, max_iter 20, median pruner; default rungs
    # 20 // 3^k for k = 3..0 -> 0 (clipped to 1), 2, 6, 20 -> [1, 2, 6, 20].
    # At most 12 * 3 * 4 = 144 fits; epochs at most 12 * 3 * 20 = 720.
    out = _dry_run(capsys, "optuna_tpe")
    assert "candidates: 12 trials" in out
    assert ("fits:       at most 144 (+1 refit): 12 trials x 3 splits x 4 rungs at "
            "1, 2, 6, 20 epochs") in out
    assert "epochs:     at most 720 (36 fits x 20 epochs if none is pruned)" in out


def test_plan_without_continuation_counts_whole_budgets():
    rounds = [
        {"iter": 0, "n_candidates": 4, "n_resources": 10, "continue_training": False,
         "resource": "n_samples"},
        {"iter": 1, "n_candidates": 2, "n_resources": 30, "continue_training": False,
         "resource": "n_samples"},
    ]
    b = rounds_budget(rounds, n_splits=2)
    assert b.unit == "samples" and not b.continues
    assert [r.per_fit for r in b.rounds] == [10, 30]
    assert (b.fits, b.trained) == (8 + 4, 80 + 120)
    assert (b.full_fits, b.full_trained) == (8, 240)
    assert pruned_budget(5, 3, [1, 3, 9]) == {"max_fits": 45, "max_epochs": 135}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", ["halving", "hyperband"])
def test_plan_rounds_equal_what_fit_runs(name, capsys):
    """The smoke plan's rounds are the rounds the search then runs."""
    from hpsearch.study import load_study
    from hpsearch.study.build import Options, build

    path = STUDIES / f"{name}.yaml"
    study, _, _ = load_study(path)
    plan = build(study, source=str(path), options=Options(smoke=True, quiet=True,
                                                          out="unused", storage="sqlite://"))
    rounds = plan.search.plan_rounds(plan.X_train, plan.y_train)
    search = plan.search.set_params(n_jobs=1, refit=False).fit(plan.X_train, plan.y_train)
    assert [r["n_candidates"] for r in rounds] == search.n_candidates_
    assert [r["n_resources"] for r in rounds] == search.n_resources_
    assert len(search.cv_results_["params"]) == sum(search.n_candidates_)
    out = _dry_run(capsys, name, "--smoke")
    fits = int(re.search(r"fits: +(\d+)", out).group(1))
    assert fits == sum(search.n_candidates_) * plan.n_splits


def test_a_step_in_the_study_file_is_optunas_step(tmp_path, capsys):
    """``step`` (Optuna's, and ``Float``/``Int``'s) is a key of a study file's space: the
    grid holds every step-th value and the plan counts them; a step that does not divide
    the range or comes with ``log`` is refused naming the key (it was 'unknown key')."""
    from hpsearch.study import load_study
    from hpsearch.study.build import Options, build
    from hpsearch.study.errors import StudyError

    text = textwrap.dedent("""\
        name: steps
        data: {dataset: iris}
        estimator: {name: logistic_regression}
        search:
          method: grid
          space:
            C: {type: float, low: 0.5, high: 2.0, step: 0.5}
            max_iter: {type: int, low: 100, high: 300, step: 100}
        cv: 3
        """)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    study, _, _ = load_study(path)
    plan = build(study, source=str(path),
                 options=Options(quiet=True, out=str(tmp_path / "out"), storage="sqlite://"))
    assert sorted(plan.search.param_grid["C"].grid()) == [0.5, 1.0, 1.5, 2.0]
    assert plan.search.param_grid["max_iter"].grid() == [100, 200, 300]
    assert main([str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"candidates: +12\b", out), out
    for bad, message in [("step: 0.7", "must be a multiple of `step`"),
                         ("log: true, step: 0.5", "cannot be combined with log=True")]:
        path.write_text(text.replace("step: 0.5", bad))
        study, _, _ = load_study(path)
        with pytest.raises(StudyError, match=rf"search\.space\.C: .*{re.escape(message)}"):
            build(study, source=str(path), options=Options(quiet=True, out="unused",
                                                           storage="sqlite://"))
