"""Numbers of report.md checked against what they are computed from."""

import re

import numpy as np

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
