"""Metadata routing of a continuation by ``partial_fit`` (halving, Hyperband, ASHA and the
pruned Optuna search, ``resource="epochs"``, on an estimator with ``partial_fit`` and no
``warm_start``): each call gets what was requested for that very method, as sklearn's
meta-estimators that call ``partial_fit`` route it (``set_partial_fit_request``).

Was: the continuation got what was routed to ``fit``: a ``sample_weight`` requested for
``fit`` and explicitly not for ``partial_fit`` reached ``partial_fit`` anyway; one
requested for ``partial_fit`` only raised "HalvingSearchCV.fit got unexpected
argument(s) {'sample_weight'}"; one whose ``partial_fit`` request was never set went
there silently instead of sklearn's UnsetMetadataPassedError.
"""

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import UnsetMetadataPassedError

from hpsearch.model_selection import (ASHASearchCV, GridSearchCV, HalvingSearchCV,
                                      HyperbandSearchCV, OptunaSearchCV, nested_cross_validate)

#: (method, whether it got a sample_weight, its length) of every call, in this process
CALLS = []


class Continued(ClassifierMixin, BaseEstimator):
    """A classifier with an epoch budget continued by ``partial_fit`` (no warm_start)."""

    def __init__(self, max_iter=4, alpha=0.0):
        self.max_iter = max_iter
        self.alpha = alpha

    def fit(self, X, y, sample_weight=None):
        CALLS.append(("fit", None if sample_weight is None else len(sample_weight), len(X)))
        self.classes_ = np.unique(y)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        CALLS.append(("partial_fit", None if sample_weight is None else len(sample_weight),
                      len(X)))
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


X = np.random.RandomState(0).randn(60, 3)
y = np.arange(60) % 2
W = np.linspace(0.5, 1.5, 60)
SPACE = {"alpha": [0.1, 0.2, 0.3]}

SEARCHES = {
    "halving": lambda est: HalvingSearchCV(est, SPACE, resource="epochs", min_resources=1,
                                           max_resources=4, factor=2),
    "hyperband": lambda est: HyperbandSearchCV(est, SPACE, resource="epochs",
                                               min_resources=1, max_resources=4, factor=2),
    "asha": lambda est: ASHASearchCV(est, SPACE, resource="epochs", min_resources=1,
                                     max_resources=4, factor=2, n_trials=4),
    "optuna_pruned": lambda est: OptunaSearchCV(est, SPACE, n_trials=3, pruner="median",
                                                rungs=[1, 2, 4]),
}


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def _search(name, estimator):
    return SEARCHES[name](estimator).set_params(cv=2, n_jobs=1, random_state=0,
                                                progress=False, refit=False)


def _calls(search):
    CALLS.clear()
    search.fit(X, y, sample_weight=W)
    fits = {w for m, w, _ in CALLS if m == "fit"}
    partial = {w for m, w, _ in CALLS if m == "partial_fit"}
    assert partial, "no candidate was continued by partial_fit"
    # a per-sample weight is sliced to the train rows, as for fit
    assert all(w in (None, n) for _, w, n in CALLS)
    return fits, partial


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_a_weight_requested_for_fit_only_does_not_reach_partial_fit(name, routing):
    est = (Continued().set_fit_request(sample_weight=True)
           .set_partial_fit_request(sample_weight=False).set_score_request(sample_weight=False))
    fits, partial = _calls(_search(name, est))
    assert None not in fits
    assert partial == {None}  # was: partial_fit got the weights too


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_a_weight_requested_for_partial_fit_only_reaches_it_alone(name, routing):
    est = (Continued().set_fit_request(sample_weight=False)
           .set_partial_fit_request(sample_weight=True).set_score_request(sample_weight=False))
    fits, partial = _calls(_search(name, est))  # was: "got unexpected argument(s)"
    assert fits == {None}
    assert None not in partial


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_an_unset_partial_fit_request_raises_sklearns_error_naming_it(name, routing):
    est = Continued().set_fit_request(sample_weight=True).set_score_request(
        sample_weight=False)
    search = _search(name, est)
    with pytest.raises(UnsetMetadataPassedError,
                       match=r"\[sample_weight\].*Continued\.partial_fit.*"
                             r"set_partial_fit_request"):
        search.fit(X, y, sample_weight=W)


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_without_routing_partial_fit_gets_fits_parameters_as_before(name):
    fits, partial = _calls(_search(name, Continued()))
    assert None not in fits and None not in partial


def test_a_search_that_never_calls_partial_fit_does_not_route_to_it(routing):
    # the grid search refits: no partial_fit request is needed (nor routed)
    est = Continued().set_fit_request(sample_weight=True).set_score_request(
        sample_weight=False)
    for search in (GridSearchCV(est, SPACE, cv=2, progress=False),
                   HalvingSearchCV(est, SPACE, resource="n_samples", cv=2, progress=False),
                   OptunaSearchCV(est, SPACE, n_trials=2, cv=2, progress=False)):
        callees = {m.callee for m in
                   search.get_metadata_routing()._route_mappings["estimator"].mapping}
        assert callees == {"fit"}, type(search).__name__
    routed = _search("halving", est).get_metadata_routing()
    assert {m.callee for m in routed._route_mappings["estimator"].mapping} == {
        "fit", "partial_fit"}
    CALLS.clear()
    GridSearchCV(est, SPACE, cv=2, progress=False, n_jobs=1).fit(X, y, sample_weight=W)
    assert {m for m, _, _ in CALLS} == {"fit"}


def test_nested_cross_validate_routes_partial_fit_as_the_inner_search(routing):
    est = (Continued().set_fit_request(sample_weight=True)
           .set_partial_fit_request(sample_weight=False).set_score_request(sample_weight=False))
    CALLS.clear()
    nested_cross_validate(_search("halving", est).set_params(refit=True), X, y, cv=2,
                          params={"sample_weight": W})
    assert {w is None for m, w, _ in CALLS if m == "partial_fit"} == {True}
    assert {w is None for m, w, _ in CALLS if m == "fit"} == {False}


class ScoresItsPartialFits(Continued):
    """Scores the share of its partial_fit calls that got a sample_weight (-1: none
    made), so cv_results_ shows what the continuations got, from any worker."""

    def fit(self, X, y, sample_weight=None):
        self.classes_, self.weighted_ = np.unique(y), []
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        self.weighted_.append(sample_weight is not None)
        return self

    def score(self, X, y, sample_weight=None):
        return float(np.mean(self.weighted_)) if self.weighted_ else -1.0


@pytest.mark.parametrize("requested", [True, False])
def test_fork_workers_route_partial_fit_as_requested(requested, routing):
    est = (ScoresItsPartialFits().set_fit_request(sample_weight=True)
           .set_partial_fit_request(sample_weight=requested)
           .set_score_request(sample_weight=False))
    search = _search("halving", est).set_params(n_jobs=2).fit(X, y, sample_weight=W)
    continued = search.cv_results_["iter"] > 0
    assert continued.any()
    assert set(search.cv_results_["mean_test_score"][continued]) == {float(requested)}


@pytest.mark.parametrize("requested", [True, False])
def test_nested_one_pool_routes_partial_fit_as_requested(requested, routing):
    # the one pool's engine is built from the inner search's routing (partial_fit too)
    est = (ScoresItsPartialFits().set_fit_request(sample_weight=True)
           .set_partial_fit_request(sample_weight=requested)
           .set_score_request(sample_weight=False))
    search = _search("halving", est).set_params(refit=True, n_jobs=2)
    result = nested_cross_validate(search, X, y, cv=2, params={"sample_weight": W},
                                   return_searches=True)
    if result.engine != "one pool":
        pytest.skip("no fork workers here")
    for inner in result.searches:
        continued = inner.cv_results_["iter"] > 0
        assert set(inner.cv_results_["mean_test_score"][continued]) == {float(requested)}
