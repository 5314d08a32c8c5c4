"""What the study-file tests share (``test_study_safety.py``, ``test_study_asha.py``,
``test_study_hostile_files.py``): the smallest runnable study, a grid on iris."""

import textwrap

#: A grid of two k-nearest-neighbours candidates on iris, 3-fold: a run takes a second.
GRID_STUDY = textwrap.dedent(
    """\
    data: {dataset: iris}
    estimator: {name: knn_classifier}
    search:
      method: grid
      space:
        n_neighbors: [1, 3]
    cv: 3
    """
)
