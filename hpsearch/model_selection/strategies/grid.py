"""Exhaustive grid search: every candidate of the grid, all at once."""

from .._base import BaseSearchCV
from .._docstrings import fill_doc
from .._racing import RACING_CONSTRAINTS
from ..space import as_space, check_param_grid, grid_candidates

__all__ = ["GridSearchCV", "grid_candidate_list"]


def grid_candidate_list(param_grid):
    """Candidates of ``param_grid`` in sklearn's ``ParameterGrid`` order.

    Built by :func:`hpsearch.space.grid_candidates` (``Float(..., n=)`` dimensions,
    conditional parameters). Plain values get sklearn's checks first (``TypeError`` for a
    single value, ``ValueError`` for an empty list or a 2-D array).
    """
    check_param_grid(param_grid)
    return grid_candidates(as_space(param_grid))


@fill_doc
class GridSearchCV(BaseSearchCV):
    """Exhaustive search over a parameter grid, on hpsearch's engine.

    Same parameters and attributes as :class:`sklearn.model_selection.GridSearchCV`,
    plus ``random_state``, ``progress``, ``storage``, ``study_name``, ``resume``,
    ``backend``, ``fit_timeout``, ``max_retries`` and ``timeout`` (see
    :class:`~hpsearch.model_selection._base.BaseSearchCV`).

    Parameters
    ----------
    estimator : estimator object
    param_grid : dict or list of dicts
        Lists of values, or ``hpsearch.space`` dimensions (a ``Float``/``Int`` needs
        ``n=`` points to be put on a grid). Pipeline parameters use ``step__param``.
    **kwargs
        The common search parameters of ``BaseSearchCV``.
    racing : bool, default=False
        Race the candidates across splits: after ``racing_min_splits`` splits, a
        candidate significantly worse than the best one so far on the splits they share
        (one-sided corrected resampled t-test at level ``racing_alpha``) is not fitted on
        its remaining splits; ``cv_results_`` marks it (``state == "RACED"``, ``raced``)
        and ranks it after every complete candidate with a score (before failed
        ones). Results are identical for any ``n_jobs``.
        See :mod:`hpsearch.model_selection._racing`.
    racing_min_splits : int, default=3
        Splits every candidate is fitted on before it can be raced (at least 2).
    racing_alpha : float, default=0.1
        Level of each one-sided test, in (0, 1). The default (Optuna's
        ``WilcoxonPruner`` uses 0.1 too) is the knee of the racing benchmark
        (``benchmarks/README.md``): as often the full search's choice as 0.05, with more
        fits saved; 0.2 starts dropping near-ties. It is not the chance of racing the
        best: a candidate is tested at every barrier, so one as good as the best is
        raced more often (at 0.1 with 10 splits, in about 22 % of races against one
        equal rival, 65 % against eleven; see :mod:`hpsearch.model_selection._racing`).

    Attributes
    ----------
    {candidate_attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from hpsearch import GridSearchCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3).fit(X, y)
    >>> search.best_params_
    {'alpha': 0.1}
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_grid": [dict, list],
        **RACING_CONSTRAINTS,
    }

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        random_state=None,
        error_score=float("nan"),
        return_train_score=False,
        progress=None,
        storage=None,
        study_name=None,
        resume=False,
        backend=None,
        fit_timeout=None,
        max_retries=1,
        timeout=None,
        racing=False,
        racing_min_splits=3,
        racing_alpha=0.1,
    ):
        super().__init__(
            estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            random_state=random_state,
            error_score=error_score,
            return_train_score=return_train_score,
            progress=progress,
            storage=storage,
            study_name=study_name,
            resume=resume,
            backend=backend,
            fit_timeout=fit_timeout,
            max_retries=max_retries,
            timeout=timeout,
        )
        self.param_grid = param_grid
        self.racing = racing
        self.racing_min_splits = racing_min_splits
        self.racing_alpha = racing_alpha

    def _store_space(self):
        return self.param_grid

    #: its candidates do not depend on random_state: a resume with another is refused
    _draws_candidates = False

    def _max_n_fits(self, n_splits):
        """Every candidate of the grid on every split (racing fits fewer)."""
        return len(grid_candidate_list(self.param_grid)) * n_splits

    def _run_search(self, evaluate):
        evaluate(grid_candidate_list(self.param_grid))
