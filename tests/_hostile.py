"""What the hostile-use tests of the searches share (``test_asha_hostile.py``,
``test_search_hostile.py``): a small regression task, a space and a Ridge whose later
rounds are slow, so that a search ``timeout`` cuts them."""

import time

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

SPACE = {"alpha": [0.01, 0.1, 1.0, 10.0]}
N_ROWS = 150


def diabetes():
    """The first :data:`N_ROWS` rows of the diabetes task."""
    X, y = load_diabetes(return_X_y=True)
    return X[:N_ROWS], y[:N_ROWS]


class SlowAbove(Ridge):
    """Ridge whose fits on 20 to ``N_ROWS - 1`` rows take ``delay`` seconds (the later
    rounds or rungs; the final refit on all rows is quick)."""

    def __init__(self, alpha=1.0, delay=30.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay if 20 <= len(X) < N_ROWS else 0.0)
        return super().fit(X, y)
