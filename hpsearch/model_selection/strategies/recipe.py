"""The lecture's recipe as a search strategy (``LECTURE.md`` §4, seeds 000-003).

"First check the training score": poor training is an optimization problem (activation,
optimizer, learning rate, depth, init) that regularization cannot fix; only once training
is good is a poor validation score overfitting (alpha, L1, dropout, early stopping). After
any fix, check training again. :class:`RecipeSearchCV` searches in that order:

1. ``"training"`` stage: the training-side parameters are tuned against the **training**
   score, the generalization side held at its least-regularizing values, until a candidate
   trains well (the rule of :mod:`hpsearch.diagnostics._verdict`) or the whole search's
   budget is spent (while training is poor, regularization cannot help).
2. ``"generalization"`` stage: the chosen training side is fixed and the generalization side
   is tuned against the **validation** score; a candidate whose training score falls below
   the floor (training no longer good) is rejected.
3. ``"recheck"`` stage (``recheck=True``): the chosen generalization side is fixed and the
   training side tuned again against validation, under the same floor.

Each stage is one small Optuna study (asked in rounds of ``round_size`` candidates) whose
trials the engine evaluates; only ``_run_search(evaluate)`` of :class:`BaseSearchCV` is used.
"""

import dataclasses
import math
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import indexable
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets

from .._base import BaseSearchCV, Int, _key
from .._docstrings import fill_doc
from ._optuna import SAMPLERS, make_sampler, sampler_seed
from .halving import best_row, rank_rows_first
from ..space import Categorical, Distribution, as_space, condition_holds, suggest

__all__ = ["GENERALIZATION_PARAMS", "TRAINING_PARAMS", "RecipeSearchCV", "least_regularizing"]

#: Parameters tuned in the training stage by default (the lecture's "poor on training
#: data" fixes, §2: activation, adaptive learning rate, depth/width, init...).
TRAINING_PARAMS = (
    "hidden_layer_sizes", "activation", "solver", "learning_rate_init", "learning_rate",
    "init", "batch_size", "momentum", "nesterovs_momentum", "beta_1", "beta_2", "epsilon",
    "rho", "max_iter", "tol", "shuffle", "leaky_slope", "prelu_init", "maxout_pieces",
    "power_t",
)

#: Parameters tuned in the generalization stage by default (the "poor on validation
#: data" fixes, §3: early stopping, regularization, dropout).
GENERALIZATION_PARAMS = (
    "alpha", "l1", "l2", "dropout", "input_dropout", "early_stopping",
    "validation_fraction", "n_iter_no_change", "C", "max_norm",
)

#: Generalization parameters whose *largest* value regularizes least (patience, ``C``, an
#: RBF kernel's ``gamma``, the bound of a max-norm constraint, the share of rows each
#: boosting stage or bagged tree sees, ``subsample`` / ``max_samples``, and capacity: a
#: tree's depth, leaves and features, an MLP's layer sizes, the lecture's "less capacity"
#: fix); for every other one the smallest value does (0 penalty, no dropout, no early
#: stopping, one neighbour, one sample a leaf).
_LARGEST_IS_LEAST = ("n_iter_no_change", "C", "gamma", "max_norm", "subsample",
                     "max_samples", "max_depth", "max_leaf_nodes", "max_features",
                     "hidden_layer_sizes")


def _n_units(sizes):
    """Capacity order of ``hidden_layer_sizes``: its total number of hidden units."""
    return sizes if isinstance(sizes, Integral) else sum(sizes)


#: name -> the order of its values where the values' own is not their capacity's
_ORDER = {"hidden_layer_sizes": _n_units}


def _base_name(name):
    """``"model__alpha"`` -> ``"alpha"`` (sklearn's ``step__param`` names)."""
    return name.rpartition("__")[2]


def least_regularizing(name, dim):
    """The value of a generalization dimension that regularizes least.

    The smallest value (``alpha`` / ``l1`` / ``dropout`` at their lower bound,
    ``early_stopping=False`` as ``False < True``, ``None`` before any number), or the
    largest for the names in ``_LARGEST_IS_LEAST`` (``n_iter_no_change``, ``C``, ``gamma``,
    ``max_norm``, ``subsample``, ``max_samples``, and the capacity ones, ``max_depth``,
    ``max_leaf_nodes``, ``max_features``, ``hidden_layer_sizes`` by total units; ``None``,
    no constraint, after any number). Held at the smallest, an unpruned tree's
    ``max_depth=[1, 3, 20]`` made the training stage fit stumps, call training poor and
    never tune the depth. A categorical dimension whose choices cannot be ordered gives its
    first choice.
    """
    largest = _base_name(name) in _LARGEST_IS_LEAST
    pick = max if largest else min
    order = _ORDER.get(_base_name(name), lambda c: c)
    if isinstance(dim, Categorical):
        choices = list(dim.choices)
        try:
            return pick(choices, key=lambda c: ((c is None) == largest,
                                                c if c is None else order(c)))
        except TypeError:
            return choices[0]
    if isinstance(dim, Distribution):
        dim = dim._as_range()
    return pick(dim.low, dim.high)


def _restrict(sub, names, fixed):
    """The dimensions of ``sub`` named in ``names``, their conditions on ``fixed`` resolved.

    A condition part on a fixed parameter is checked against its value: a dimension whose
    condition fails is inactive (dropped), otherwise the part is removed.
    """
    out = {}
    for name in names:
        dim = sub[name]
        when = dict(dim.when or {})
        on_fixed = {k: v for k, v in when.items() if k not in names}
        if not condition_holds(on_fixed, fixed):
            continue
        rest = {k: v for k, v in when.items() if k in names}
        out[name] = dim if rest == when else dataclasses.replace(dim, when=rest or None)
    return out


def _active(sub, params):
    """Drop the parameters whose condition fails (targets come first in ``sub``)."""
    active = {}
    for name in sub:
        if name in params and condition_holds(sub[name].when, active):
            active[name] = params[name]
    return active


class _DrawnSplits:
    """The splits a :class:`RecipeSearchCV` fit drew from its ``cv`` (for its references),
    given again to its stages: sklearn draws ``cv.split`` once per fit, and a generator of
    splits or a splitter that yields once (sklearn's ``OneTimeSplitter``) has nothing left
    for a second draw ("No fits were performed"). It stands for ``cv`` in metadata routing
    and in the trial store's description (``repr``)."""

    def __init__(self, cv, splits):
        self.cv = cv
        self.splits = splits

    def split(self, X=None, y=None, groups=None, **params):
        return iter(self.splits)

    def get_n_splits(self, X=None, y=None, groups=None, **params):
        # cv's own count: the stages check it against the splits, as sklearn does ("cv.split
        # and cv.get_n_splits return inconsistent results")
        return self.cv.get_n_splits(X, y, groups, **params)

    def get_metadata_routing(self):
        from sklearn.utils.metadata_routing import get_routing_for_object

        return get_routing_for_object(self.cv)

    def __repr__(self):
        return repr(self.cv)


@fill_doc
class RecipeSearchCV(BaseSearchCV):
    """The lecture's recipe as a search: fix training first, then generalization.

    **Stage 1, "training"**: the training-side parameters (``training_params``) are tuned
    against the mean *training* score, every generalization-side parameter held at its
    least-regularizing value (:func:`least_regularizing`). The stage ends at the end of
    the first round in which a candidate trains well; until then it may spend the whole
    search's budget (``n_iter`` per stage, all stages together), since the recipe does not
    regularize a model that does not train (a generalization stage left without candidates
    is recorded as skipped). Later stages share what is left equally (the generalization
    stage gets it all without ``recheck``). "Trains well" is the recipe's rule
    (:mod:`hpsearch.diagnostics._verdict`), with the references of
    :func:`hpsearch.diagnostics.reference_scores` on the search's own splits (a trivial
    baseline :math:`b_{tr}` and a linear model :math:`l_{tr}`, two cheap extra fits per
    split) and the best training score seen :math:`m^*_{tr}`:

    .. math::

        R = \\max(b_{tr}, l_{tr}), \\quad
        u = \\max(\\max(R, m^*_{tr}) - b_{tr},\\; 10^{-3} s), \\quad
        \\text{good} \\iff m_{tr} \\ge R - \\tau_{train}\\, u

    (:math:`\\tau_{train}` = ``thresholds["train"]``, 0.1; :math:`s` the score's scale,
    :func:`hpsearch.diagnostics._verdict.unit_floor`: 1 for accuracy or r2, the baseline's
    loss for a ``neg_*`` scorer, so that the verdicts do not depend on the target's
    units). The stage picks, among the
    candidates that train well, the best validation score (ties: the earliest candidate, as
    for ``best_index_``; none trains well: the best training score).

    **Stage 2, "generalization"**: the picked training side is fixed; the generalization
    side is tuned against the mean *validation* score. The recipe re-checks training after
    each fix: a candidate is *rejected* when its training score falls below the floor
    :math:`F = R - \\tau_{train} u` (or :math:`F = m^{(1)}_{tr} - \\tau_{train} u`, the
    stage-1 pick's training score less the same margin, when stage 1 never trained well
    but measured one; a failed candidate, whatever ``error_score``, has no score);
    the sampler is told :math:`v - (F - m_{tr})` for it (its validation score less the
    training shortfall). **Stage 3, "recheck"** (``recheck=True``) fixes the picked
    generalization side and tunes the training side again against validation, same floor.

    ``best_index_`` is the best validation score among all candidates whose training score
    reaches :math:`F` (``cv_results_["accepted"]``; rank 1 of ``rank_test_<metric>``).

    Parameters
    ----------
    estimator : estimator object
        Typically hpsearch's ``MLPClassifier``/``MLPRegressor`` (or a pipeline ending in one);
        any estimator works.
    param_distributions : dict
        One search space (``hpsearch.space`` dimensions, lists or scipy.stats
        distributions) holding both sides; conditions (``when=``) may cross sides.
    n_iter : int, default=10
        Candidates asked per stage: ``n_iter`` x the number of stages in all, shared as
        described above (duplicates are not refitted but count).
    training_params, generalization_params : list of str or None, default=None
        Names (``step__param`` or the bare parameter name) of each side. None:
        :data:`TRAINING_PARAMS` / :data:`GENERALIZATION_PARAMS` present in the space. A
        space name in neither list goes with the training side (it is tuned first).
    thresholds : dict or None, default=None
        Overrides of :data:`hpsearch.diagnostics.THRESHOLDS` (``"train"`` is
        :math:`\\tau_{train}`).
    sampler : {"tpe", "random", "gp", "qmc", "cmaes"}, default="tpe"
        Optuna sampler of every stage (one study per stage, seeded from
        ``random_state`` and the stage's number).
    round_size : int, default=4
        Candidates asked per round (TPE uses the constant liar within a round), at most
        ``n_iter``: a training stage that trains well in its first round then leaves the
        later stages their share (with ``n_iter=2`` its first round of 4 took the whole
        budget of both stages, and an overfitting model's regularization was never tuned).
        Fixed, so the candidates do not depend on ``n_jobs``.
    recheck : bool, default=False
        Run stage 3.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, random_state, error_score, \
return_train_score, progress, storage, study_name, resume, backend
        The common search parameters (see ``BaseSearchCV``). Train scores are always
        computed (the recipe needs them); ``return_train_score=False`` only leaves them
        out of ``cv_results_``.

    Attributes
    ----------
    cv_results_ : dict
        sklearn's layout plus ``error``, ``stage`` (the stage that proposed the
        candidate), ``accepted`` (training score at least the floor :math:`F`) and
        ``diagnosis`` (:func:`hpsearch.diagnostics.diagnose_results` with the references,
        the thresholds and the :math:`m^*_{tr}` of :math:`F`: when the training stage
        trained well, a candidate with finite scores is labelled ``"training"`` exactly
        when it is not accepted, :math:`m_{tr} < F`; when it never did, :math:`F` is
        below the recipe's threshold and an accepted candidate may still be labelled
        ``"training"``). The train scores are left out with ``return_train_score=False``.
    best_index_ : int
        Index in ``cv_results_`` of the best validation score among the accepted
        candidates (rank 1 of ``rank_test_<metric>``); sklearn's rule over every row
        (NaN ranking last) when none is accepted or every accepted one's validation score
        is NaN (a ``UserWarning`` then says so), or the index a callable ``refit``
        returns (given the ``accepted`` column: hpsearch's refit rules choose among the
        accepted). With several metrics, only set when ``refit`` is not False.
    stages_ : list of dict
        Per stage: ``stage``, ``tuned`` (parameter names), ``fixed`` (held values),
        ``n_candidates`` (asked), ``n_evaluated`` (rows fitted), ``best_params``,
        ``train_score`` and ``validation_score`` of the stage's pick, ``diagnosis`` of the
        pick and ``reason`` (why the stage ended, in words).
    references_ : dict
        :func:`hpsearch.diagnostics.reference_scores` on the search's splits. A linear
        reference without a finite training score (the scoring cannot score it) leaves
        :math:`R = b_{tr}`, the trivial baseline alone: ``fit`` warns (``UserWarning``).
    train_floor_ : float
        :math:`F`.
    diagnosis_ : hpsearch.diagnostics.ResultsDiagnosis
        The recipe's verdict on every candidate, with this search's ``references_`` and
        ``thresholds`` (its labels are ``cv_results_["diagnosis"]``). Set whatever
        ``return_train_score``, unless the diagnosis could not be made.
    diagnosis_error_ : str
        Why the diagnosis could not be made (no ``diagnosis_`` then). Only set when it
        could not.
    study_ : optuna.Study
        The trial store's study (in ``storage`` under ``study_name``, else in memory):
        one trial per candidate evaluated, valued its mean test score, its per-split
        results as user attributes. The stages' samplers ask their candidates from
        studies of their own, in memory.
    {search_attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from hpsearch import MLPClassifier, RecipeSearchCV
    >>> from hpsearch.space import Float
    >>> X, y = load_iris(return_X_y=True)
    >>> search = RecipeSearchCV(
    ...     MLPClassifier((8,), max_iter=30, random_state=0),
    ...     {"learning_rate_init": Float(1e-3, 1e-1, log=True),
    ...      "alpha": Float(1e-5, 1.0, log=True)},
    ...     n_iter=4, cv=3, random_state=0,
    ... ).fit(X, y)
    >>> [s["stage"] for s in search.stages_]
    ['training', 'generalization']
    """

    # (not fit_timeout, max_retries, timeout: RecipeSearchCV does not take them, and
    # sklearn's check_param_validation wants one constraint per parameter, no more)
    _parameter_constraints: dict = {
        **{k: v for k, v in BaseSearchCV._parameter_constraints.items()
           if k not in ("fit_timeout", "max_retries", "timeout")},
        "param_distributions": [dict],
        "n_iter": [Int(1, None, closed="left")],
        "training_params": [None, list, tuple],
        "generalization_params": [None, list, tuple],
        "thresholds": [None, dict],
        "sampler": [StrOptions(set(SAMPLERS))],
        "round_size": [Int(1, None, closed="left")],
        "recheck": ["boolean"],
    }

    _left_out_params = ("n_iter",)  # (a resume leaving stored candidates out warns)

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_iter=10,
        training_params=None,
        generalization_params=None,
        thresholds=None,
        sampler="tpe",
        round_size=4,
        recheck=False,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        random_state=None,
        error_score=np.nan,
        return_train_score=False,
        progress=None,
        storage=None,
        study_name=None,
        resume=False,
        backend=None,
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
        )
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.training_params = training_params
        self.generalization_params = generalization_params
        self.thresholds = thresholds
        self.sampler = sampler
        self.round_size = round_size
        self.recheck = recheck

    # -- set-up ---------------------------------------------------------------------
    def _sides(self, sub):
        """``(training names, generalization names)`` of the space ``sub``."""
        given = {"training_params": self.training_params,
                 "generalization_params": self.generalization_params}
        for param, names in given.items():
            for name in names or ():
                if name not in sub and not any(_base_name(k) == name for k in sub):
                    raise ValueError(
                        f"The {param!r} parameter of RecipeSearchCV must name parameters of "
                        f"param_distributions ({sorted(sub)}). Got {name!r} instead.")

        def named(names, default):
            wanted = set(default if names is None else names)
            return [k for k in sub if k in wanted or _base_name(k) in wanted]

        general = named(self.generalization_params, GENERALIZATION_PARAMS)
        if self.generalization_params is None and self.training_params is not None:
            # (the user's training side wins over the default generalization side)
            mine = set(named(self.training_params, ()))
            general = [k for k in general if k not in mine]
        if self.training_params is None:
            training = [k for k in sub if k not in general]
        else:
            training = named(self.training_params, ())
            both = sorted(set(training) & set(general))
            if both:
                raise ValueError(
                    f"The 'training_params' and 'generalization_params' parameters of "
                    f"RecipeSearchCV must not share names. Got {both} in both.")
            training += [k for k in sub if k not in training and k not in general]
        return training, general

    def _space(self):
        space = as_space(self.param_distributions)
        if len(space) != 1:  # pragma: no cover - the constraint asks for a dict
            raise ValueError("The 'param_distributions' parameter of RecipeSearchCV must be "
                             f"one dict. Got {len(space)} sub-spaces instead.")
        return space[0]

    def _expected_n_fits(self, X, y, groups, n_splits):
        """``n_iter`` per stage x splits (an upper bound: duplicates are not refitted)."""
        return self.n_iter * (3 if self.recheck else 2) * n_splits

    def fit(self, X, y=None, *, groups=None, **fit_params):
        """Run the stages, then refit the best accepted candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
        groups : array-like of shape (n_samples,), default=None
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed as in ``BaseSearchCV.fit``); a
            ``sample_weight`` weights the references as it weights the candidates
            (:func:`hpsearch.diagnostics.reference_scores`).

        Returns
        -------
        self : object
        """
        from hpsearch.diagnostics import reference_scores
        from hpsearch.diagnostics._results import _final_sample_weight
        from hpsearch.diagnostics._verdict import check_thresholds

        from .._base import _as_indices
        from ..split import check_n_splits, make_cv

        self._validate_params()
        self._thresholds = check_thresholds(self.thresholds)
        self._sides(self._space())  # bad names fail before any fit
        # sklearn's scoring / refit errors first, as its searches raise them (they came
        # after the references' splits: a 4-row X got "n_splits=5 greater than ...")
        self._get_scorers()
        if y is None:  # (was DummyRegressor's TypeError "missing ... argument: 'y'")
            raise ValueError(
                "RecipeSearchCV needs a target y: the recipe judges each candidate against "
                "a trivial baseline and a linear model fitted on y, so an unsupervised "
                "estimator is searched with GridSearchCV or RandomSearchCV. Got y=None.")
        X, y, groups = indexable(X, y, groups)
        if is_classifier(self.estimator) and y is not None:
            # the references are scored first: a target no classifier can fit gets
            # sklearn's error ("Unknown label type"), not a failed baseline's
            check_classification_targets(y)
        cv = make_cv(self.cv, y=y, classifier=is_classifier(self.estimator))
        # the splitter's metadata as the search routes it (every requested parameter)
        routed = self._routed_params(X, groups, fit_params)
        split_params = dict(routed.splitter.split)
        split_groups = split_params.pop("groups", None)
        # the leave-p-out guard before the references draw the splits (it fired only
        # after them, in the stages)
        check_n_splits(cv, X, y, split_groups, **split_params)
        splits = [(_as_indices(a), _as_indices(b))
                  for a, b in cv.split(X, y, split_groups, **split_params)]
        if not splits:  # (sklearn's error; the references' refit used to hit IndexError)
            raise ValueError("No fits were performed. Was the CV iterator empty? Were "
                             "there no candidates?")
        # weighted as the candidates are (fit and score sample_weight), see reference_scores
        weight = _final_sample_weight(self.estimator, routed.estimator.fit)
        self.references_ = reference_scores(
            self.estimator, X, y, cv=splits, scoring=self.scoring, groups=groups,
            sample_weight=weight, score_params=routed.scorer.score)
        self._check_references(X, y, splits, weight)
        shown, given_cv = self.return_train_score, self.cv
        self.return_train_score = True  # the recipe reads train scores; restored below
        self.cv = _DrawnSplits(cv, splits)  # (restored below)
        self._shows_train_scores = shown  # (read by _complete_results)
        try:
            super().fit(X, y, groups=groups, **fit_params)
        finally:
            self.return_train_score, self.cv = shown, given_cv
            del self._shows_train_scores
        return self

    def _complete_results(self, results):
        """``accepted``, the ``diagnosis`` by the stages' rule, the accepted rows ranked
        first (:func:`rank_rows_first`), and the train scores dropped unless
        ``return_train_score``."""
        accepted = np.zeros(len(results["params"]), dtype=bool)
        accepted[self._accepted_rows()] = True
        results["accepted"] = accepted
        if "diagnosis" not in results:
            labels = self._diagnose(results).labels
            results["diagnosis"] = np.asarray(labels, dtype=object)
        rows = self._accepted_rows()
        for metric in self._metrics(results):
            # a metric where every accepted row is NaN keeps sklearn's ranks (NaN last),
            # as best_index_ by it is then chosen (_select_best_index)
            if f"rank_test_{metric}" in results and \
                    self._scored_accepted_rows(results, metric).size:
                one = {k: results[k] for k in (f"rank_test_{metric}", f"mean_test_{metric}")}
                one["params"] = results["params"]
                rank_rows_first(one, rows)
                results[f"rank_test_{metric}"] = one[f"rank_test_{metric}"]
        if not self._shows_train_scores:
            for key in [k for k in results if "_train_" in k and k.endswith(
                    tuple(f"_train_{m}" for m in self._metrics(results)))]:
                del results[key]

    def _add_diagnosis(self, results, X, y, groups, splits, routed=None):
        """The ``diagnosis`` column by the stages' own rule: this search's references
        (``references_``, already scored on its splits, so no second pair of reference fits)
        and its ``thresholds``. The generic column of ``BaseSearchCV`` uses the default
        thresholds, so with ``thresholds={"train": ...}`` it called candidates the search had
        accepted as training well ``"training"``."""
        for stale in ("diagnosis_", "diagnosis_error_"):  # (of an earlier fit)
            self.__dict__.pop(stale, None)
        try:
            result = self._diagnose(results)
        except Exception as exc:  # noqa: BLE001 - an analysis never fails a finished search
            self.diagnosis_error_ = (f"No 'diagnosis' column: the lecture's recipe could not "
                                     f"be applied ({type(exc).__name__}: {exc}).")
            return
        result.references = self.references_
        self.diagnosis_ = result
        results["diagnosis"] = np.asarray(result.labels, dtype=object)

    def _diagnose(self, results):
        """:func:`~hpsearch.diagnostics.diagnose_results` by the rule the stages applied:
        this search's references and thresholds, and the unit measured with the training
        score its floor was set with (the training stage's best): with the best of all
        candidates, a later stage that trained better lowered the column's threshold below
        :math:`F`, and a candidate between the two was labelled as training well while
        the search rejected it."""
        from hpsearch.diagnostics import diagnose_results
        from hpsearch.diagnostics._results import best_of_scoring

        return diagnose_results(results, metric=self._metric, references=self.references_,
                                thresholds=self.thresholds,
                                best_train=getattr(self, "_unit_train", None),
                                estimator=self.estimator, best_possible=best_of_scoring(
                                    self.scoring, self._metric, self.estimator))

    @staticmethod
    def _metrics(results):
        return [k[len("mean_test_"):] for k in results if k.startswith("mean_test_")]

    # -- the recipe's rule ---------------------------------------------------------
    def _check_references(self, X, y, splits, sample_weight=None):
        """'Trains well' needs the baseline's finite training score: without it the unit
        falls to its floor (or the threshold is NaN and every candidate passes). A baseline
        that cannot even be fitted raises its own error (:meth:`_raise_baseline_fit_error`)."""
        names = {k[len("train_"):] for ref in self.references_.values() for k in ref
                 if k.startswith("train_")}
        metric = self._train_metric({f"mean_train_{n}": None for n in sorted(names)}) \
            if names else "score"
        if math.isfinite((self.references_.get("baseline") or {}).get(f"train_{metric}",
                                                                       math.nan)):
            self._check_validation_reference(metric)
            self._warn_without_linear(metric)
            return
        self._raise_baseline_fit_error(X, y, splits, sample_weight)
        from hpsearch.diagnostics._diagnose import default_references

        baseline = default_references(self.estimator)["baseline"]
        kind = "a classifier" if is_classifier(self.estimator) else \
            "not a classifier (sklearn's is_classifier), so the references are regressors"
        raise ValueError(
            "The 'scoring' parameter of RecipeSearchCV must be one that the recipe's trivial "
            f"baseline {baseline!r} (scored on the search's splits) can be scored with: it "
            f"gave no finite training {metric!r} with scoring={self.scoring!r}, so whether a "
            f"candidate trains well cannot be judged. The estimator is {kind}.")

    def _warn_without_linear(self, metric):
        """A ``UserWarning`` when the linear reference has no finite mean training score
        (it could not be fitted or scored: ``neg_mean_squared_log_error`` refuses a ridge
        model's negative predictions): "trains well" is then judged against the trivial
        baseline alone, as :func:`hpsearch.diagnose` warns (the search said nothing, and a
        stump at half the best candidate's training score was accepted as training well)."""
        from hpsearch.diagnostics._diagnose import default_references

        train = (self.references_.get("linear") or {}).get(f"train_{metric}", math.nan)
        if math.isfinite(train):
            return
        linear = type(default_references(self.estimator)["linear"]).__name__
        warnings.warn(
            f"The linear reference of RecipeSearchCV ({linear}) has no finite training "
            f"{metric!r} with scoring={self.scoring!r} on the search's splits (it could not "
            "be fitted or scored), so whether a candidate trains well is judged against the "
            "trivial baseline alone, a weak rule: a candidate barely above the baseline "
            "trains 'well'. Use a scoring the linear reference can be scored with.",
            UserWarning, stacklevel=4)

    def _check_validation_reference(self, metric):
        """The recipe compares training and validation scores: when the trivial baseline's
        mean validation score is not finite, no candidate's is (r2 of LeaveOneOut's
        one-sample folds is NaN for every model), and every stage would pick and label
        candidates by a NaN validation score ("failed" rows, a pick "validation nan")."""
        from hpsearch.diagnostics._diagnose import default_references

        test = (self.references_.get("baseline") or {}).get(f"test_{metric}", math.nan)
        if math.isfinite(test):
            return
        baseline = default_references(self.estimator)["baseline"]
        raise ValueError(
            f"The 'cv' and 'scoring' parameters of RecipeSearchCV must give every validation "
            f"split a finite score: the recipe's trivial baseline {baseline!r} has a mean "
            f"validation {metric!r} of {test} with cv={self.cv!r} and scoring="
            f"{self.scoring!r} (e.g. r2 of LeaveOneOut's one-sample folds), so no candidate's "
            "gap between training and validation can be measured. Use larger validation "
            "folds (e.g. cv=5) or a scoring defined on one sample (e.g. "
            "'neg_mean_squared_error').")

    def _raise_baseline_fit_error(self, X, y, splits, sample_weight=None):
        """Refit the trivial baseline on the first training split, with the search's
        ``sample_weight``, and let its error (data no estimator takes, e.g. complex ``X``:
        sklearn's "Complex data not supported"; weights that are all zero: "Sample weights
        must contain at least one non-zero number", which the unweighted refit used to miss,
        blaming the scoring) propagate, with a note naming where it came from; nothing when
        it fits (then the scoring is at fault)."""
        from sklearn.base import clone

        from hpsearch.diagnostics._diagnose import default_references

        from .._engine import _fit

        baseline = default_references(self.estimator)["baseline"]
        try:
            weights = {} if sample_weight is None else {"sample_weight": sample_weight}
            _fit(clone(baseline), X, y, splits[0][0], weights)
        except Exception as exc:
            exc.add_note(f"(raised by RecipeSearchCV's trivial baseline {baseline!r}, "
                         "fitted on the search's first split before any candidate)")
            raise

    def _reference(self, name):
        ref = self.references_.get(name) or {}
        return float(ref.get(f"train_{self._metric}", math.nan))

    def _verdict(self, train, validation, best_train):
        from hpsearch.diagnostics._verdict import score_verdict

        return score_verdict(train, validation, self._reference("baseline"),
                             self._reference("linear"), self._thresholds, best_train)

    def _accepted_rows(self):
        return np.asarray([r for r, (tr, _) in self._rows.items()
                           if np.isfinite(tr) and tr >= self.train_floor_], dtype=int)

    def _scored_accepted_rows(self, results, metric):
        """The accepted rows with a validation score (a finite ``mean_test_<metric>``)."""
        rows = self._accepted_rows()
        if not rows.size:
            return rows
        means = np.asarray(results[f"mean_test_{metric}"], dtype=float)[rows]
        return rows[np.isfinite(means)]

    def _select_best_index(self, refit, refit_metric, results):
        """The best validation score among accepted candidates (sklearn's rule when none is).

        An accepted candidate whose validation score is NaN (its fits or its scorer failed
        on the validation folds) has no score to be the best by: when every accepted one
        is NaN, a ``UserWarning`` says so and ``best_index_`` is chosen as when none is
        accepted, by scikit-learn's rule over every candidate (the best finite
        ``mean_test_<metric>``, NaN ranking last; the first candidate when every one is
        NaN), as ``rank_test_<metric>`` then ranks them (it ranked the NaN rows first, and
        ``best_index_`` was one of them, ``best_score_`` NaN).

        A callable ``refit`` is given the ``accepted`` column (when a candidate is
        accepted): hpsearch's refit rules (:class:`~hpsearch.model_selection.
        one_standard_error`, :class:`~hpsearch.model_selection.not_significantly_worse`)
        choose among the accepted candidates by it, as ``best_index_`` does (without it,
        they chose the simplest candidate near the best validation score, one the recipe
        had rejected for training below the floor)."""
        rows = self._accepted_rows()
        if callable(refit) and rows.size:
            accepted = np.zeros(len(results["params"]), dtype=bool)
            accepted[rows] = True
            results["accepted"] = accepted
        if callable(refit) or rows.size == 0:
            return super()._select_best_index(refit, refit_metric, results)
        if not self._scored_accepted_rows(results, refit_metric).size:
            warnings.warn(
                f"Every candidate RecipeSearchCV accepted (training score at least the "
                f"floor {self.train_floor_:.4g}: rows {rows.tolist()} of cv_results_) has a "
                f"NaN validation {refit_metric!r} (its fits or its scorer failed on the "
                "validation folds), so none can be the best: best_index_ is chosen as when "
                "none is accepted, by the best finite mean_test score of every candidate "
                "(scikit-learn's rule, NaN ranking last).", UserWarning, stacklevel=4)
            return super()._select_best_index(refit, refit_metric, results)
        return best_row(results, refit_metric, rows)

    # -- the search -----------------------------------------------------------------
    def _run_search(self, evaluate):
        sub = self._space()
        training, general = self._sides(sub)
        self._rows = {}  # cv_results_ row -> (mean train, mean validation)
        self._seen = {}  # candidate key -> (train, validation)
        self._row_of = {}  # candidate key -> its cv_results_ row
        self._metric = None
        self.stages_ = []
        self.train_floor_ = -math.inf
        self._unit_train = None  # m*_tr, fixed at the end of the training stage
        seed = sampler_seed(self.random_state)
        least = {k: least_regularizing(k, sub[k]) for k in general}
        plan = [("training", training, least), ("generalization", general, None)]
        if self.recheck:
            plan.append(("recheck", training, None))
        left, previous = self.n_iter * len(plan), None
        for number, (stage, tuned, fixed) in enumerate(plan):
            if fixed is None:  # hold what the previous stage picked, tune the rest
                fixed = {k: v for k, v in previous[0].items() if k not in tuned}
            # the training stage may use everything until training is good; later stages
            # share what is left
            budget = left if number == 0 else -(-left // (len(plan) - number))
            stage_seed = None if seed is None else (seed + 7919 * number) % (2**31 - 1)
            entry, spent = self._stage(evaluate, stage, sub, tuned, fixed, budget, stage_seed,
                                       previous)
            left -= spent
            previous = (entry["best_params"], (entry["train_score"], entry["validation_score"]))
            if stage == "training":
                self._set_floor(entry)
            self.stages_.append(entry)

    def _set_floor(self, entry):
        """:math:`F` from the training stage (see the class docstring); the recipe's
        threshold :math:`R - \\tau_{train} u` also when the stage's pick has no training
        score (every fit of the stage failed: the floor was NaN, so no later candidate,
        however well it trained, was accepted)."""
        best = self._unit_train = self._best_train()  # the later stages' and the
        # diagnosis column's m*_tr too (_best_train, _diagnose)
        _, evidence = self._verdict(entry["train_score"], entry["validation_score"], best)
        margin = self._thresholds["train"] * evidence["unit"]
        if entry["trains_well"] or not np.isfinite(entry["train_score"]):
            self.train_floor_ = float(evidence["train_threshold"])
        else:
            self.train_floor_ = float(entry["train_score"] - margin)

    def _stage(self, evaluate, stage, sub, tuned, fixed, budget, seed, previous):
        """Ask, evaluate and tell one stage's candidates in rounds; returns (entry, asked).

        ``previous`` (the last stage's pick and its scores) competes for this stage's pick,
        so a stage never hands on a worse choice than it received.
        """
        import optuna

        n_rows = len(self._rows)

        space = _restrict(sub, tuned, fixed)
        if not space:
            budget = min(budget, 1)  # nothing to tune: the fixed candidate once
        study = optuna.create_study(direction="maximize", sampler=make_sampler(
            self.sampler, random_state=seed, n_jobs=self.round_size, owner="RecipeSearchCV"))
        asked, scores, reason = 0, [], None
        while asked < budget and reason is None:
            k = min(self.round_size, self.n_iter, budget - asked)
            trials = [study.ask() for _ in range(k)]
            params = [_active(sub, {**fixed, **suggest(t, [space])}) if space else dict(fixed)
                      for t in trials]
            outcome = self._evaluate(evaluate, stage, params)
            for trial, (train, validation) in zip(trials, outcome):
                value = self._objective(stage, train, validation)
                study.tell(trial, value if np.isfinite(value) else None,
                           state=None if np.isfinite(value) else
                           optuna.trial.TrialState.FAIL)
            scores += list(zip(params, outcome))
            asked += k
            reason = self._stop(stage, scores)
        entry = self._pick(stage, fixed, scores + ([previous] if previous else []), space)
        entry.update(n_candidates=asked, n_evaluated=len(self._rows) - n_rows)
        entry["reason"] = reason or self._end_reason(stage, entry, space, asked)
        return entry, asked

    def _evaluate(self, evaluate, stage, params):
        """(train, validation) of each candidate; one already seen is not refitted.

        A candidate with a failed fit or score on some split is ``(nan, nan)``: its means
        hold ``error_score`` values, no measurement (with ``error_score=0`` and a ``neg_*``
        scoring a candidate whose every fit failed "trained" and validated at 0, the best
        possible, and was accepted and picked as ``best_index_``)."""
        from hpsearch.diagnostics._results import _failed_fits

        keys = [_key(p) for p in params]
        new = [i for i, key in enumerate(keys) if key not in self._seen
               and key not in keys[:i]]
        if new:
            result = evaluate([params[i] for i in new], more_results={"stage": [stage] * len(new)})
            self._metric = self._metric or self._train_metric(result.results)
            train = np.asarray(result.results[f"mean_train_{self._metric}"], dtype=float)
            failed = _failed_fits(result.results, len(train), self._metric)
            for i, row, score in zip(new, result.rows, result.scores):
                self._seen[keys[i]] = (math.nan, math.nan) if failed[row] else (
                    float(train[row]), float(score))
                self._row_of[keys[i]] = row
                self._rows[row] = self._seen[keys[i]]
        return [self._seen[key] for key in keys]

    def _train_metric(self, results):
        from ..stats import _refit_metric  # (a refit rule's metric too)

        names = [k[len("mean_train_"):] for k in results if k.startswith("mean_train_")]
        if "score" in names:
            return "score"
        refit = _refit_metric(self.refit)
        return refit if refit in names else names[0]

    def _best_train(self):
        """:math:`m^*_{tr}` of the unit: the best training score so far in the training
        stage, then the one the floor was set with (:meth:`_set_floor`), so that a later
        stage's verdicts (``stages_``' ``diagnosis`` and ``trains_well``) are those of
        the floor and of the ``diagnosis`` column."""
        if getattr(self, "_unit_train", None) is not None:
            return self._unit_train
        return float(max((tr for tr, _ in self._rows.values() if np.isfinite(tr)),
                         default=math.nan))

    def _trains_well(self, train, validation):
        best = self._best_train()
        return np.isfinite(train) and not self._verdict(train, validation, best)[1][
            "poor_training"]

    def _objective(self, stage, train, validation):
        """Training stage: the training score. Later stages: validation, less the
        training shortfall below the floor; NaN (a failed trial for the sampler) without
        a training score: ``max(0.0, nan)`` is ``0.0``, so a candidate the search rejects
        for having none was told its whole validation score."""
        if stage == "training" or not np.isfinite(train):
            return train
        return validation - max(0.0, self.train_floor_ - train)

    def _stop(self, stage, scores):
        if stage != "training":
            return None
        n_good = sum(self._trains_well(tr, va) for _, (tr, va) in scores)
        if n_good:
            return (f"training is good after {len(scores)} candidates ({n_good} train at or "
                    f"above the recipe's threshold)")
        return None

    def _pick(self, stage, fixed, scores, space):
        """The stage's choice: the best validation score among candidates that train well
        (training stage) or that reach the floor (later stages); else the best training
        score."""
        if stage == "training":
            ok = [self._trains_well(tr, va) for _, (tr, va) in scores]
        else:
            ok = [np.isfinite(tr) and tr >= self.train_floor_ for _, (tr, _) in scores]

        def rank(i):
            train, validation = scores[i][1]
            validation, train = (np.nan_to_num(v, nan=-np.inf) for v in (validation, train))
            # validation ties go to the earliest row, as best_index_ (sklearn's rank) breaks
            # them: the higher training score won, so the last stage's pick was another row
            # than best_params_ at the same validation score
            first = -self._row_of.get(_key(scores[i][0]), math.inf)
            return (ok[i], validation, first) if any(ok) else (ok[i], train, validation, first)

        best = max(range(len(scores)), key=rank)
        params, (train, validation) = scores[best]
        problem = self._verdict(train, validation, self._best_train())[0]
        if not (np.isfinite(train) and np.isfinite(validation)):
            problem = "failed"  # no measurement: the diagnosis column's label (it said
            # "training" for a failed fit, the column "failed")
        return {
            "stage": stage, "tuned": sorted(space), "fixed": dict(fixed),
            "best_params": dict(params),
            "train_score": train, "validation_score": validation, "trains_well": bool(
                self._trains_well(train, validation)), "diagnosis": problem,
        }

    def _end_reason(self, stage, entry, space, asked):
        # no training score at all (every candidate's fits, or the scorer on the training
        # folds, failed): "training still poor (best training score nan)" said poor, a
        # measurement the search never made
        unmeasured = not np.isfinite(entry["train_score"])
        if asked == 0 and not entry["trains_well"] and unmeasured:
            return ("skipped: no candidate of the training stage has a training score (their "
                    "fits or the scorer failed on the training folds), and the recipe does "
                    "not tune regularization before training is known to be good "
                    "(LECTURE.md §4)")
        if asked == 0 and not entry["trains_well"]:
            return ("skipped: training never became good, and the recipe does not tune "
                    "regularization for a model that does not train (LECTURE.md §4)")
        if asked == 0:
            return "skipped: no candidates left"
        if not space and unmeasured and stage == "training":  # (it read as a good stage)
            return ("no training-side parameter to tune: the fixed candidate was evaluated, "
                    "and no candidate has a training score (not a number: its fits or the "
                    "scorer failed on the training folds, see cv_results_['error'] and the "
                    "warnings), so whether it trains well cannot be judged")
        if not space:
            return f"no {stage}-side parameter to tune: the fixed candidate was evaluated"
        if stage == "training" and unmeasured:
            return (f"budget of {asked} candidates spent (the whole search's); no candidate "
                    "has a training score (not a number: their fits or the scorer failed on "
                    "the training folds, see cv_results_['error'] and the warnings), so "
                    "whether one trains well cannot be judged")
        if stage == "training":
            return (f"budget of {asked} candidates spent (the whole search's); training "
                    f"still poor (best training score {entry['train_score']:.4g})")
        # (the training stage never trained well but had nothing to tune, so this stage
        # ran: its pick is still a training problem, which the reason must not hide)
        poor = "" if entry["trains_well"] else (
            "; training still poor by the recipe's rule: a training problem, which the "
            "generalization side cannot fix") if not unmeasured else (
            "; it has no training score (its fits or the scorer failed on the training "
            "folds), so whether it trains well is not known")
        return (f"budget of {asked} candidates spent; picked validation "
                f"{entry['validation_score']:.4g} with training {entry['train_score']:.4g} "
                f"(floor {self.train_floor_:.4g}){poor}")
