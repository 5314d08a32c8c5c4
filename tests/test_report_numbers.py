"""Numbers of report.md checked against what they are computed from."""

import re

import numpy as np
import pytest

from hpsearch.model_selection import compare
from hpsearch.study.report import how_sure_section


def _results(params, matrix, **more):
    matrix = np.asarray(matrix, dtype=float)
    res = {"params": params, **more}
    for k in range(matrix.shape[1]):
        res[f"split{k}_test_score"] = matrix[:, k]
    res["mean_test_score"] = matrix.mean(axis=1)
    return res


# halving: a=1, a=2, a=3 at 10 samples; a=1, a=2 at 30. The best is a=2 at 30; a=1 is
# compared with it at 30, a=3 (eliminated) with a=2's row at 10
HALVING = _results(
    [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 1}, {"a": 2}],
    [[0.80, 0.84, 0.82], [0.85, 0.86, 0.90], [0.86, 0.82, 0.85],
     [0.88, 0.91, 0.89], [0.90, 0.90, 0.90]],
    iter=np.array([0, 0, 0, 1, 1]), n_resources=np.array([10, 10, 10, 30, 30]))


def test_how_sure_of_a_halving_search_shows_each_rows_budget():
    # was: no budget column, so "best − this" of a=3 (0.86 - 0.843, at 10 samples) could
    # not be read off the table's means (0.9 - 0.843), and the verdict counted a=3,
    # eliminated at 10 samples, among the candidates the choice is "within the noise" of
    frame = compare(HALVING, test_train_ratio=0.5, top=3)
    text = how_sure_section(frame)
    head = next(line for line in text.splitlines() if line.startswith("| rank"))
    assert "| budget |" in head
    rows = {line.split(" | ")[-1].rstrip(" |"): line.split(" | ")
            for line in text.splitlines() if re.match(r"\| \d", line)}
    col = head.split(" | ").index("budget")
    assert {p: r[col] for p, r in rows.items()} == {"a=2": "30", "a=1": "30", "a=3": "10"}
    assert "- 1 of the next 1 candidates at the best's budget (30) are not significantly " \
           "worse" in text
    assert "1 candidate(s) compared at a smaller budget" in text


def test_fits_count_only_the_splits_that_ran():
    # was: "5 candidates x 10 splits = 50 fits" of a racing grid that fitted 45 (the
    # raced-away splits are NaN rows of results.csv), and the search timeout's unrun
    # splits counted as failed fits
    import pandas as pd

    from hpsearch.model_selection._engine import NOT_RUN
    from hpsearch.study.report import _fits_text
    from hpsearch.study.runner import _fit_counts

    tidy = pd.DataFrame({
        "candidate": [0, 0, 0, 1, 1, 1, 2, 2, 2], "split": [0, 1, 2] * 3,
        "test_score": [0.9, 0.8, 0.85, 0.5, np.nan, np.nan, 0.7, np.nan, np.nan],
        "error": [None, None, None, None, None, None, None, "Traceback: boom",
                  NOT_RUN + "10 s expired before this fit started"]})
    counts = _fit_counts(tidy)
    assert counts == {"n_fits": 6, "n_failed": 1, "n_raced": 2, "n_not_run": 1}
    summary = {"n_candidates": 3, "n_splits": 3, **counts}
    assert _fits_text(summary) == ("3 candidates x 3 splits: 6 fits (2 raced away, 1 not "
                                   "run: the search's timeout)")
    summary.update(n_fits=9, n_raced=0, n_not_run=0)
    assert _fits_text(summary) == "3 candidates x 3 splits = 9 fits"


def test_worst_training_candidate_is_chosen_at_the_full_budget():
    # was: a pruned trial's 1-epoch row (train 0.21, poor because of its budget) was
    # "the candidate that trains worst", refit for 9 epochs and shown with 0.21
    from hpsearch.study.runner import _worst_training_row

    cv = {"params": [{"a": 1}, {"a": 2}, {"a": 1}, {"a": 3}],
          "mean_train_score": np.array([0.21, 0.5, 0.3, 0.9]),
          "diagnosis": np.array(["training", "training", "training", "none"], dtype=object),
          "n_resources": np.array([1, 1, 9, 9])}
    assert _worst_training_row(cv, "score") == 2
    cv["diagnosis"][2] = "none"
    assert _worst_training_row(cv, "score") is None
    del cv["n_resources"]
    assert _worst_training_row(cv, "score") == 0


def test_top_table_of_a_recipe_search_shows_why_a_lower_mean_ranks_first():
    # a recipe search ranks accepted candidates (training at least its floor) first: rank
    # 1 at 0.90 above rank 2 at 0.95 read as a wrong ranking without the column
    import pandas as pd

    from hpsearch.study.report import top_table

    cv = pd.DataFrame({"params": [{"a": 1}, {"a": 2}], "mean_test_score": [0.95, 0.90],
                       "std_test_score": [0.01, 0.02], "rank_test_score": [2, 1],
                       "accepted": [False, True]})
    lines = top_table(cv, "score").splitlines()
    assert lines[0] == "| rank | mean score | std | accepted | a |"
    assert lines[2:] == ["| 1 | 0.9 | 0.02 | true | 2 |", "| 2 | 0.95 | 0.01 | false | 1 |"]


def test_terminal_top_5_says_which_means_are_over_fewer_splits():
    # a raced candidate's mean is over the splits it finished: the terminal's top 5
    # showed it as any other mean
    from types import SimpleNamespace

    import pandas as pd

    from hpsearch.study.report import summary_text

    cv = pd.DataFrame({"params": [{"a": 1}, {"a": 2}], "mean_test_score": [0.9, 0.8],
                       "rank_test_score": [1, 2], "state": ["COMPLETE", "RACED"],
                       "split0_test_score": [0.9, 0.8], "split1_test_score": [0.9, np.nan],
                       "split2_test_score": [0.9, np.nan]})
    plan = SimpleNamespace(name="s", out="out", study=SimpleNamespace(
        search=SimpleNamespace(method="grid")))
    summary = {"metric": "accuracy", "metric_key": "score", "best_score": 0.9,
               "best_std": 0.0, "best_params": {"a": 1}, "n_candidates": 2, "n_splits": 3,
               "n_fits": 4, "n_raced": 2, "fit_time_s": 1.0}
    lines = summary_text(plan, summary, cv).splitlines()
    assert "2 candidates x 3 splits: 4 fits (2 raced away)" in lines[0]
    assert lines[1] == "best CV accuracy: 0.9 ± 0 (std over 3 splits)"  # not a standard error
    assert lines[lines.index("top 5:") + 2] == "    2  0.8      (raced: 1 of 3 splits) a=2"


def test_best_cv_score_of_a_budgeted_search_names_its_budget():
    # halving on samples: the best was scored at 72 samples, the model refit on all rows
    from hpsearch.study.report import _best_budget_text

    assert _best_budget_text({"best_budget": 72, "resource": "samples"}) == ", at 72 samples"
    assert _best_budget_text({"best_budget": None, "resource": None}) == ""


def test_results_csv_rows_name_their_budget():
    # was: a halving search's results.csv listed a=1 at 10 and at 30 samples as two rows
    # with the same parameters, different scores and no budget
    from hpsearch.model_selection._results import results_frame

    frame = results_frame(HALVING)
    assert list(frame.columns[:5]) == ["candidate", "split", "a", "iter", "n_resources"]
    rows = frame[(frame["a"] == 1) & (frame["split"] == 0)]
    assert rows[["n_resources", "test_score"]].values.tolist() == [[10, 0.80], [30, 0.88]]


def test_tables_show_enough_digits_to_tell_ranked_means_apart():
    # was: 0.93334 (rank 1) and 0.93331 (rank 2) both read 0.9333: a tie with two ranks
    import pandas as pd

    from hpsearch.study.report import top_table

    cv = pd.DataFrame({"params": [{"a": 1}, {"a": 2}, {"a": 3}],
                       "mean_test_score": [0.93331, 0.93334, 0.5],
                       "std_test_score": [0.01, 0.01, 0.01], "rank_test_score": [2, 1, 3]})
    means = [line.split(" | ")[1] for line in top_table(cv, "score").splitlines()[2:]]
    assert means == ["0.93334", "0.93331", "0.5"]


def test_top_table_counts_the_failed_splits_of_a_mean():
    # with error_score=0 a candidate that never fitted read "rank 3 | 0 | 0": a mean of
    # made-up scores, nothing said
    import pandas as pd

    from hpsearch.study.report import top_table

    cv = pd.DataFrame({"params": [{"k": 9}, {"k": 200}], "mean_test_score": [0.93, 0.0],
                       "std_test_score": [0.01, 0.0], "rank_test_score": [1, 2],
                       "error": [None, "split 0:\nE\nsplit 1:\nE\nsplit 2:\nE"]})
    lines = top_table(cv, "score").splitlines()
    assert lines[0] == "| rank | mean score | std | failed splits | k |"
    assert lines[2:] == ["| 1 | 0.93 | 0.01 | 0 | 9 |", "| 2 | 0 | 0 | 3 | 200 |"]
    from hpsearch.model_selection._engine import NOT_RUN
    from hpsearch.study.report import n_failed_splits as failed_splits

    assert failed_splits("split 0:\nE\nsplit 2:\n" + NOT_RUN + "5 s") == 1
    assert failed_splits("Traceback: E") == 1 and failed_splits(None) == 0


def test_how_sure_of_a_loss_has_a_region_of_equivalence_in_its_units(tmp_path, monkeypatch):
    # was: "P(within ±0.01)" of an MSE near 3000: 0.01 squared units is no practical
    # difference, and every candidate read P(within) = 0.0005 or less, even one 4.6 apart
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    import hpsearch.plots
    from hpsearch import GridSearchCV
    from hpsearch.study.report import practical_rope
    from hpsearch.study.runner import _how_sure

    monkeypatch.setattr(hpsearch.plots, "comparison", lambda *a, **k: None)
    X, y = load_diabetes(return_X_y=True)
    search = GridSearchCV(Ridge(), {"alpha": [0.001, 0.01, 1.0]}, cv=5,
                          scoring="neg_mean_squared_error").fit(X, y)
    assert compare(search)["p_equivalent"].max() < 0.001  # compare's default rope, 0.01
    text, _ = _how_sure(search, search.cv_results_, "score", tmp_path,
                        label="neg_mean_squared_error")
    head = next(line for line in text.splitlines() if line.startswith("| rank"))
    assert "P(equivalent: within ±29.93)" in head
    assert "29.93 neg_mean_squared_error (1% of the best's mean -2993" in text
    row = next(line for line in text.splitlines() if line.endswith("alpha=0.01 |"))
    assert float(row.split(" | ")[6]) > 0.8  # 4.6 apart, well within 30
    # a score (accuracy, r2: a fraction) keeps one point
    assert practical_rope("accuracy", 0.95)[0] == 0.01
    assert practical_rope("r2", -3.0)[0] == 0.01
    assert practical_rope("neg_log_loss", -0.5)[0] == pytest.approx(0.005)


def test_candidates_are_counted_as_the_search_ran_them():
    # was: compare() merged a=1 of Hyperband's two brackets into one candidate (the run
    # summary counted 2), and the summary merged two ASHA candidates (ids 0 and 1) that
    # drew the same parameters (compare listed 2)
    from hpsearch.study.runner import _counts

    hyperband = _results(
        [{"a": 1}, {"a": 2}, {"a": 1}, {"a": 1}, {"a": 3}],
        [[0.80, 0.84, 0.82], [0.70, 0.72, 0.71], [0.88, 0.91, 0.89],
         [0.90, 0.90, 0.91], [0.92, 0.93, 0.92]],
        bracket=np.array([1, 1, 1, 0, 0]), iter=np.array([0, 0, 1, 0, 0]),
        n_resources=np.array([10, 10, 30, 30, 30]))
    frame = compare(hyperband, test_train_ratio=0.5)
    assert sorted(frame.index) == [1, 2, 3, 4] and _counts(hyperband)["n_candidates"] == 4
    asha = _results([{"a": 1}, {"a": 1}, {"a": 1}],
                    [[0.8, 0.8, 0.9], [0.7, 0.8, 0.8], [0.9, 0.9, 0.8]],
                    candidate=np.array([0, 1, 0]), iter=np.array([0, 0, 1]),
                    n_resources=np.array([10, 10, 30]))
    assert _counts(asha)["n_candidates"] == 2 == len(compare(asha, test_train_ratio=0.5))


def test_fits_of_a_resumed_run_say_how_many_ran_now():
    from hpsearch.study.report import _fits_text

    summary = {"n_candidates": 3, "n_splits": 3, "n_fits": 9, "n_fits_run": 4}
    assert _fits_text(summary) == ("3 candidates x 3 splits = 9 fits (4 of them run now, "
                                   "the other 5 by the run resumed)")
    summary.update(n_fits=6, n_raced=3)
    assert _fits_text(summary) == ("3 candidates x 3 splits: 6 fits (3 raced away; 4 of them "
                                   "run now, the other 2 by the run resumed)")
    summary.update(n_fits_run=6)
    assert _fits_text(summary) == "3 candidates x 3 splits: 6 fits (3 raced away)"


def test_hyperband_candidate_is_compared_with_the_best_parameters_in_its_bracket():
    # a=3 (bracket 1, stopped at 10) against a=1's row at 10 in bracket 1: the best's
    # parameters, another candidate (a=1 of bracket 0 is the best); a=1 of bracket 1 at
    # 10 would be compared with itself, so it has no reference there
    cv = _results([{"a": 1}, {"a": 3}, {"a": 1}],
                  [[0.80, 0.84, 0.82], [0.70, 0.72, 0.71], [0.90, 0.90, 0.91]],
                  bracket=np.array([1, 1, 0]), iter=np.array([0, 0, 0]),
                  n_resources=np.array([10, 10, 30]))
    frame = compare(cv, test_train_ratio=0.5)
    assert frame.loc[1, "difference"] == pytest.approx(0.11)
    assert np.isnan(frame.loc[0, "difference"]) and frame.loc[0, "n_splits"] == 0
