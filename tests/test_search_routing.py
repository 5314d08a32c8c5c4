"""Metadata routing of the searches against scikit-learn's ``GridSearchCV``.

``sklearn.set_config(enable_metadata_routing=True)`` makes a search route ``fit``'s
parameters (``sample_weight``, ``groups``, ...) to the estimator, the scorer and the
splitter as each requested them. The split scores must be sklearn's, whatever runs the
fits.
"""

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from hpsearch.model_selection.strategies.grid import GridSearchCV

GRID = {"C": [0.1, 1.0]}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = (X[:, 0] + 0.8 * rng.randn(60) > 0).astype(int)
    return X, y, rng.rand(60) * 3, np.repeat(np.arange(6), 10)


def _split_scores(search, metric):
    return np.array([search.cv_results_[f"split{k}_test_{metric}"]
                     for k in range(search.n_splits_)])


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_a_scorer_that_did_not_request_weights_is_unweighted_on_every_backend(data,
                                                                               backend):
    # sklearn's config is thread-local: the fits of backend="threading" or "loky" (and
    # Dask) ran with routing disabled, where sklearn's multi-metric scorer hands
    # sample_weight to every metric. The "unweighted" metric was silently weighted
    # (mean_test_unweighted 0.818, 0.812 for sklearn's 0.817, 0.817 here on threads);
    # fork workers and n_jobs=1 were right
    X, y, w, _ = data
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = LogisticRegression().set_fit_request(sample_weight=True)
        scoring = {
            "weighted": make_scorer(accuracy_score).set_score_request(sample_weight=True),
            "unweighted": make_scorer(accuracy_score).set_score_request(
                sample_weight=False),
        }
        ours = GridSearchCV(estimator, GRID, scoring=scoring, refit="weighted", cv=3,
                            n_jobs=2, backend=backend, progress=False)
        ours.fit(X, y, sample_weight=w)
        theirs = SkGridSearchCV(estimator, GRID, scoring=scoring, refit="weighted", cv=3)
        theirs.fit(X, y, sample_weight=w)
    for metric in scoring:
        np.testing.assert_allclose(_split_scores(ours, metric),
                                   _split_scores(theirs, metric))


def test_a_pipeline_gets_its_routed_weights_on_a_thread_backend(data):
    # was: "Pipeline.fit does not accept the sample_weight parameter" on every fit (the
    # thread ran the Pipeline with routing disabled), so every fit failed
    X, y, w, groups = data
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([
            ("scale", StandardScaler().set_fit_request(sample_weight=False)),
            ("lr", LogisticRegression().set_fit_request(sample_weight=True)),
        ])
        scoring = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        grid = {"lr__C": GRID["C"]}
        ours = GridSearchCV(pipe, grid, scoring=scoring, cv=GroupKFold(3), n_jobs=2,
                            backend="threading", error_score="raise", progress=False)
        ours.fit(X, y, sample_weight=w, groups=groups)
        theirs = SkGridSearchCV(pipe, grid, scoring=scoring, cv=GroupKFold(3))
        theirs.fit(X, y, sample_weight=w, groups=groups)
    np.testing.assert_allclose(_split_scores(ours, "score"), _split_scores(theirs, "score"))


def test_nested_cv_routes_groups_to_the_inner_search_only_when_it_requests_them(data):
    # with routing, nested_cross_validate(groups=) handed the outer-train groups to an
    # inner search on cv=3, which raised "GridSearchCV.fit got unexpected argument(s)
    # {'groups'}, which are not routed to any object"; sklearn's cross_validate routes
    # params={"groups": ...} to the search only when it requests them
    from sklearn.model_selection import cross_validate

    from hpsearch.model_selection import nested_cross_validate

    X, y, _, groups = data
    search = GridSearchCV(LogisticRegression(), GRID, cv=3, progress=False)
    with sklearn.config_context(enable_metadata_routing=True):
        ours = nested_cross_validate(search, X, y, cv=GroupKFold(3), groups=groups)
        theirs = cross_validate(SkGridSearchCV(LogisticRegression(), GRID, cv=3), X, y,
                                cv=GroupKFold(3), params={"groups": groups})
        # an inner group splitter still gets them
        inner = GridSearchCV(LogisticRegression(), GRID, cv=GroupKFold(2), progress=False)
        grouped = nested_cross_validate(inner, X, y, cv=GroupKFold(3), groups=groups)
    np.testing.assert_allclose(ours.test_score, theirs["test_score"])
    assert len(grouped.test_score) == 3


@pytest.mark.parametrize("cv", ["group_kfold", {"method": "group_kfold", "n_splits": 3}])
def test_a_cv_spec_routes_groups_as_the_splitter_it_builds(data, cv):
    # with routing, a search on cv="group_kfold" (or its dict spec) routed groups to the
    # string, which requests nothing: "GridSearchCV.fit got unexpected argument(s)
    # {'groups'}, which are not routed to any object"
    X, y, _, groups = data
    n_splits = 5 if isinstance(cv, str) else 3
    with sklearn.config_context(enable_metadata_routing=True):
        ours = GridSearchCV(LogisticRegression(), GRID, cv=cv, progress=False)
        ours.fit(X, y, groups=groups)
        theirs = SkGridSearchCV(LogisticRegression(), GRID, cv=GroupKFold(n_splits))
        theirs.fit(X, y, groups=groups)
    np.testing.assert_allclose(_split_scores(ours, "score"), _split_scores(theirs, "score"))


def test_the_search_callback_hooks_get_the_weights_given_to_fit_as_sklearn(data):
    # sklearn's search hands its own hooks (fit, refit) the sample_weight given to fit;
    # ours handed the estimator's routed ones: None when the estimator did not request
    # them (the scorer did), sklearn's (sample_weight,)
    from sklearn.callback.tests._utils import RecordingCallback

    X, y, w, _ = data

    def hooks(search_class, **options):
        callback = RecordingCallback()
        estimator = LogisticRegression().set_fit_request(sample_weight=False)
        scoring = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        search = search_class(estimator, GRID, scoring=scoring, cv=2, **options)
        search.set_callbacks(callback).fit(X, y, sample_weight=w)
        seen = {}
        for entry in callback.record:
            metadata = (entry.get("kwargs") or {}).get("metadata")
            seen.setdefault(entry["context"].task_name, set()).add(
                None if metadata is None else tuple(sorted(metadata)))
        return seen

    with sklearn.config_context(enable_metadata_routing=True):
        ours = hooks(GridSearchCV, progress=False)
        theirs = hooks(SkGridSearchCV)
    assert ours == theirs
    assert ours["refit-with-best-params"] == {("sample_weight",)}


def _searches():
    from hpsearch import (ASHASearchCV, HalvingSearchCV, HyperbandSearchCV,
                          OptunaSearchCV, RandomSearchCV, RecipeSearchCV)

    common = {"random_state": 0, "progress": False}
    # (budgets in samples: min_resources=60, all the rows, for rows on the full train)
    return {
        "GridSearchCV": lambda e, s: GridSearchCV(e, GRID, scoring=s, cv=GroupKFold(3),
                                                  progress=False),
        "RandomSearchCV": lambda e, s: RandomSearchCV(e, GRID, n_iter=2, scoring=s,
                                                      cv=GroupKFold(3), **common),
        "OptunaSearchCV": lambda e, s: OptunaSearchCV(e, GRID, n_trials=2, scoring=s,
                                                      cv=GroupKFold(3), **common),
        "HalvingSearchCV": lambda e, s: HalvingSearchCV(
            e, GRID, resource="n_samples", min_resources=60, scoring=s, cv=GroupKFold(3),
            **common),
        "HyperbandSearchCV": lambda e, s: HyperbandSearchCV(
            e, GRID, resource="n_samples", scoring=s, cv=GroupKFold(3), **common),
        "ASHASearchCV": lambda e, s: ASHASearchCV(
            e, GRID, resource="n_samples", min_resources=60, n_trials=2, scoring=s,
            cv=GroupKFold(3), **common),
        "RecipeSearchCV": lambda e, s: RecipeSearchCV(e, GRID, n_iter=2, scoring=s,
                                                      cv=GroupKFold(3), **common),
    }


@pytest.mark.parametrize("fit_weights, score_weights",
                         [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("name", sorted(_searches()))
def test_every_search_weights_the_fits_and_scores_as_requested(data, name, fit_weights,
                                                               score_weights):
    # each (candidate, split) score of a full-data row is the one of a fit on the train
    # rows (weighted as the estimator requests) scored on the test rows (weighted as
    # the scorer requests), on the GroupKFold splits of the routed groups
    X, y, w, groups = data
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = LogisticRegression().set_fit_request(sample_weight=fit_weights)
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=score_weights)
        search = _searches()[name](estimator, scorer)
        search.fit(X, y, sample_weight=w, groups=groups)
    splits = list(GroupKFold(3).split(X, y, groups))
    results = search.cv_results_
    budgets = results.get("n_resources")
    checked = 0
    for row, params in enumerate(results["params"]):
        if budgets is not None and budgets[row] < len(splits[0][0]):
            continue  # (a subsample of the train rows)
        expected = []
        for train, test in splits:
            model = LogisticRegression(**params).fit(
                X[train], y[train], sample_weight=w[train] if fit_weights else None)
            expected.append(accuracy_score(y[test], model.predict(X[test]),
                                           sample_weight=w[test] if score_weights else None))
        np.testing.assert_allclose(
            [results[f"split{k}_test_score"][row] for k in range(len(splits))], expected)
        checked += 1
    assert checked
