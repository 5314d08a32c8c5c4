"""Random search: ``n_iter`` candidates sampled from the space, all at once."""

import numpy as np

from .._base import BaseSearchCV, Int
from .._docstrings import fill_doc
from .._racing import RACING_CONSTRAINTS
from ..space import as_drawn_types, as_space, check_param_distributions, sample_candidates

__all__ = ["RandomSearchCV", "RandomizedSearchCV", "random_candidate_list"]


def random_candidate_list(param_distributions, n_iter, random_state):
    """``n_iter`` candidates drawn as sklearn's ``ParameterSampler`` draws them.

    Drawn by :func:`hpsearch.space.sample_candidates` (``Float``/``Int``/``Categorical``,
    scipy.stats distributions, conditional parameters).
    """
    check_param_distributions(param_distributions)
    return sample_candidates(as_space(param_distributions), n_iter, random_state)


@fill_doc
class RandomSearchCV(BaseSearchCV):
    """Random search over parameter distributions, on hpsearch's engine.

    Same parameters and attributes as :class:`sklearn.model_selection.RandomizedSearchCV`,
    plus ``progress``, ``storage``, ``study_name``, ``resume``, ``backend``,
    ``fit_timeout``, ``max_retries`` and ``timeout`` (see
    :class:`~hpsearch.model_selection._base.BaseSearchCV`). ``random_state`` seeds both
    the sampling of candidates (exactly as sklearn's ``ParameterSampler`` with that seed)
    and the per-fit seeds.

    Parameters
    ----------
    estimator : estimator object
    param_distributions : dict or list of dicts
        Lists, scipy.stats distributions or ``hpsearch.space`` dimensions.
    n_iter : int, default=10
        Number of candidates sampled.
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
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
        "n_iter": [Int(1, None, closed="left")],
        **RACING_CONSTRAINTS,
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_iter=10,
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
        self.param_distributions = param_distributions
        self.racing = racing
        self.racing_min_splits = racing_min_splits
        self.racing_alpha = racing_alpha
        self.n_iter = n_iter

    def _store_space(self):
        return self.param_distributions

    def _max_n_fits(self, n_splits):
        """At most ``n_iter`` candidates (fewer from a small grid) on every split."""
        return self.n_iter * n_splits

    _seed_without_drawing = True  # (a RandomState draws sklearn's candidates)
    _budget_param = "n_iter"  # (a resume with a smaller one warns)

    def _draw_before_splits(self):
        if isinstance(self.random_state, np.random.RandomState):
            return random_candidate_list(self.param_distributions, self.n_iter,
                                         self.random_state)
        return None

    def _complete_results(self, results):
        """Values drawn from scipy distributions as the numpy scalars sklearn's
        ``RandomizedSearchCV`` gives (``np.float64``; was a Python ``float``) in
        ``cv_results_['params']``, hence ``best_params_`` and the refit's parameters
        (:func:`~hpsearch.model_selection.space.as_drawn_types`: same values, same store
        keys and seeds)."""
        super()._complete_results(results)
        results["params"] = as_drawn_types(self.param_distributions, results["params"])

    def _run_search(self, evaluate):
        candidates = self.__dict__.pop("_drawn_first", None)
        if candidates is None:
            candidates = random_candidate_list(self.param_distributions, self.n_iter,
                                               self._drawing_random_state(evaluate))
        evaluate(candidates)


#: scikit-learn's name, so that ``from hpsearch import RandomizedSearchCV`` replaces
#: ``from sklearn.model_selection import RandomizedSearchCV``.
RandomizedSearchCV = RandomSearchCV
