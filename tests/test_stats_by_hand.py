"""The model-comparison statistics against numbers computed here, independently.

Every expected value is computed in the test with plain numpy/scipy from the papers'
definitions (Nadeau & Bengio 2003; Corani & Benavoli 2015), never by calling the code
under test.
"""

import numpy as np
import pytest
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

from hpsearch.model_selection.stats import split_size_ratio


@pytest.mark.parametrize("cv", [
    ShuffleSplit(5, train_size=0.5, random_state=0),
    ShuffleSplit(5, train_size=0.37, random_state=0),
    ShuffleSplit(5, train_size=15, random_state=0),
    StratifiedShuffleSplit(5, train_size=0.6, random_state=0),
])
@pytest.mark.parametrize("n", [23, 100])
def test_ratio_of_a_train_size_only_splitter_is_the_rest_of_the_data(cv, n):
    # sklearn's ShuffleSplit(train_size=f) with test_size=None tests on every row not
    # trained on. Was: the default test_size 0.1 was put against the train part,
    # ShuffleSplit(train_size=0.5) on 100 rows read 10/50 = 0.2 instead of 50/50 = 1,
    # a five times too small correction (p-values far too small)
    X, y = np.zeros((n, 1)), np.arange(n) % 2
    sizes = {(len(tr), len(te)) for tr, te in cv.split(X, y)}
    (n_train, n_test), = sizes
    assert split_size_ratio(cv, n) == pytest.approx(n_test / n_train)
    if isinstance(cv.train_size, float):  # without n: the fraction's (1 - f) / f
        expected = (1 - cv.train_size) / cv.train_size
        assert split_size_ratio(cv) == pytest.approx(expected)
    else:
        assert split_size_ratio(cv) is None


def test_ratio_of_a_train_size_only_group_splitter_is_the_expected_fraction():
    # GroupShuffleSplit's sizes count groups: the ratio is that of the group fraction
    cv = GroupShuffleSplit(3, train_size=0.75)
    assert split_size_ratio(cv, 57) == pytest.approx(0.25 / 0.75)
