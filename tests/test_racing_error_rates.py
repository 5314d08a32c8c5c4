"""Racing's error rates under the null, by seeded Monte Carlo (Nadeau & Bengio's model).

Cross-validated score differences of two candidates are correlated across splits (the
training sets overlap). In the model behind the corrected resampled t-test, each
candidate's score on split ``j`` is its true score plus a part common to every split
and a part of its own,

    s_j = mu + sqrt(rho) z_0 + sqrt(1 - rho) z_j,    z ~ N(0, 1) i.i.d.,

so two candidates' differences have variance 2 and pairwise correlation ``rho``. With
``test_train_ratio = rho / (1 - rho)`` the corrected statistic is then *exactly*
Student's t with ``k - 1`` degrees of freedom (the common part is a shift of the mean
difference that the sample variance does not see, and the correction adds just its
variance), so each test of racing has size ``racing_alpha`` exactly, while the naive
paired test does not. Racing repeats the test at every barrier from ``racing_min_splits``
to ``K - 1`` splits against the incumbent of the moment, so the chance that a candidate
as good as the best is raced is larger than ``racing_alpha``: the numbers the racing
module docstring states are measured here (``_racing.replay``: racing's own decisions).
"""

import numpy as np
import pytest
from scipy import stats

from hpsearch.model_selection._racing import replay
from hpsearch.model_selection.stats import corrected_ttest, naive_ttest

K = 10
RHO = 1.0 / K  # 10-fold: n_test / n
RATIO = RHO / (1.0 - RHO)  # = 1 / (K - 1), split_size_ratio(KFold(10))


def _scores(rng, means, n_splits=K):
    """One evaluation's (n_candidates, n_splits) split scores under the model above."""
    means = np.asarray(means, dtype=float)
    common = rng.standard_normal((len(means), 1))
    own = rng.standard_normal((len(means), n_splits))
    return means[:, None] + np.sqrt(RHO) * common + np.sqrt(1.0 - RHO) * own


def _binomial_band(p, n, z=4.0):
    half = z * np.sqrt(p * (1 - p) / n)
    return p - half, p + half


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_each_decision_has_level_alpha_and_the_naive_test_does_not(alpha):
    rng = np.random.default_rng(0)
    n = 3000
    corrected = naive = 0
    for _ in range(n):
        scores = _scores(rng, [0.0, 0.0])
        d = scores[0] - scores[1]
        corrected += corrected_ttest(d, RATIO, "greater")[1] < alpha
        naive += naive_ttest(d, "greater")[1] < alpha
    low, high = _binomial_band(alpha, n)
    assert low <= corrected / n <= high
    # the naive test's real size: P(T > t_alpha / sqrt(1 + K * RATIO)), 0.18 at 0.1
    naive_size = stats.t(K - 1).sf(stats.t(K - 1).isf(alpha) / np.sqrt(1 + K * RATIO))
    low, high = _binomial_band(naive_size, n)
    assert low <= naive / n <= high and naive_size > 1.5 * alpha


def test_the_statistic_is_students_t_with_k_minus_1_degrees_of_freedom():
    rng = np.random.default_rng(1)
    t = np.array([corrected_ttest(s[0] - s[1], RATIO)[0]
                  for s in (_scores(rng, [0.0, 0.0]) for _ in range(2000))])
    assert stats.kstest(t, stats.t(K - 1).cdf).pvalue > 0.01


def test_one_barrier_races_one_of_two_tied_candidates_at_alpha():
    # K = min_splits + 1: a single barrier. The candidate behind is raced exactly when
    # the one-sided test of the leader against it is significant: probability alpha for
    # each of the two (the leader is the one with the larger mean over the shared splits)
    rng = np.random.default_rng(2)
    n, alpha, m = 3000, 0.1, 3
    raced = np.array([replay(_scores(rng, [0.0, 0.0], m + 1), m, alpha, RATIO)[0]
                      for _ in range(n)])
    low, high = _binomial_band(alpha, n)
    assert low <= raced[:, 0].mean() <= high
    assert low <= raced[:, 1].mean() <= high
    assert not raced.all(axis=1).any()  # the incumbent is never raced


def test_repeated_barriers_race_a_tied_best_more_often_than_alpha():
    # the documented rates (module docstring of _racing): 10 splits, min 3, alpha 0.1
    rng = np.random.default_rng(3)
    n = 1500
    raced = np.array([replay(_scores(rng, [0.0, 0.0]), 3, 0.1, RATIO)[0][0]
                      for _ in range(n)])
    assert 0.17 < raced.mean() < 0.27  # about 0.22: seven looks at level 0.1


def test_a_clearly_better_best_is_raced_less_often_than_alpha():
    # 12 candidates, the best 2 per-split standard deviations ahead (about 4.5 standard
    # errors of the 10-split mean): raced in well under alpha of the races
    rng = np.random.default_rng(4)
    n = 300
    raced = sum(replay(_scores(rng, [2.0] + [0.0] * 11), 3, 0.1, RATIO)[0][0]
                for _ in range(n))
    assert raced / n < 0.1 / 2
