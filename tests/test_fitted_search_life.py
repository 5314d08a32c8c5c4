"""The life of a fitted search: fitted again on other data, interrupted and resumed.

A second ``fit`` must leave nothing of the first one (scikit-learn's own searches keep a
stale ``best_estimator_`` / ``n_features_in_`` / ``feature_names_in_``), and a resume
must never reuse fits made on other data. A fitted search pickles as a model: without
its training data, and loads where its study's storage is not.
"""

import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from hpsearch.model_selection import GridSearchCV, OptunaSearchCV

GRID = {"alpha": [0.1, 1.0]}

SEARCHES = {
    "grid": lambda: GridSearchCV(Ridge(), GRID, cv=2),
    "optuna": lambda: OptunaSearchCV(Ridge(), GRID, n_trials=2, cv=2, random_state=0),
}


@pytest.fixture(scope="module")
def data():
    X, y = load_diabetes(return_X_y=True)
    return X[:80], y[:80]


@pytest.mark.parametrize("make", SEARCHES.values(), ids=SEARCHES)
def test_a_second_fit_keeps_no_refit_attribute_of_the_first(make, data):
    X, y = data
    frame = pd.DataFrame(X[:, :4], columns=list("abcd"))
    search = make().fit(frame, y)
    assert list(search.feature_names_in_) == list("abcd")

    search.fit(X[:, :3], y)  # NumPy now: the first fit's column names are gone
    assert not hasattr(search, "feature_names_in_")
    assert search.n_features_in_ == 3

    search.set_params(refit=False).fit(X, y)  # no refit: no model, no n_features_in_
    for name in ("best_estimator_", "refit_time_", "n_features_in_"):
        assert not hasattr(search, name), name
    with pytest.raises(AttributeError, match="has no attribute 'predict'"):
        search.predict(X)

    search.set_params(scoring=["r2", "neg_mean_squared_error"]).fit(X, y)
    for name in ("best_index_", "best_score_", "best_params_"):  # several metrics, no refit
        assert not hasattr(search, name), name


class _Interrupted(Ridge):
    """Ridge whose fit at ``alpha == 1.0`` is a Ctrl-C while ``stop`` is true."""

    stop = True

    def fit(self, X, y, sample_weight=None):
        if self.alpha == 1.0 and _Interrupted.stop:
            raise KeyboardInterrupt
        return super().fit(X, y, sample_weight)


def test_an_interrupted_search_in_memory_is_not_resumed_on_other_data(data):
    # a Ctrl-C'd fit without storage keeps its finished fits for resume=True; a resume
    # on other data reused them as if made on it (a silent wrong score), now refused
    X, y = data
    search = GridSearchCV(_Interrupted(), GRID, cv=2)
    _Interrupted.stop = True
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    _Interrupted.stop = False
    search.set_params(resume=True)
    with pytest.raises(ValueError, match="holds fits made on other data") as info:
        search.fit(X[:60], y[:60])
    assert "set_params(resume=False)" in info.value.__notes__[-1]
    search.fit(X, y)  # the data it ran on: continued
    reference = GridSearchCV(Ridge(), GRID, cv=2).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"])


@pytest.mark.parametrize("suffix", [".db", ".log"])
def test_a_fitted_search_loads_where_its_storage_is_not(data, tmp_path, suffix):
    # unpickling the study reconnected to its storage: a model saved with joblib.dump
    # could not be loaded on another machine (OperationalError / FileNotFoundError)
    X, y = data
    folder = tmp_path / "studies"
    folder.mkdir()
    search = GridSearchCV(Ridge(), GRID, cv=2, storage=str(folder / f"s{suffix}")).fit(X, y)
    saved = pickle.dumps(search)
    assert len(pickle.loads(saved).study_.trials) == 2  # where the storage is: as before
    shutil.rmtree(folder)
    loaded = pickle.loads(saved)
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    assert loaded.best_params_ == search.best_params_
    with pytest.raises(AttributeError, match="study_ of this unpickled GridSearchCV cannot"):
        loaded.study_
    assert not folder.exists()  # loading it touched nothing


def test_a_fitted_asha_on_a_storage_does_not_pickle_its_training_data(tmp_path):
    # the shared-study state it kept held the engine, hence X and y, in the fitted search
    from sklearn.linear_model import SGDRegressor

    from hpsearch.model_selection import ASHASearchCV

    rng = np.random.RandomState(0)
    X = rng.randn(4000, 10)
    y = X[:, 0] + 0.1 * rng.randn(4000)
    search = ASHASearchCV(SGDRegressor(max_iter=4, tol=None, random_state=0), GRID,
                          n_trials=2, cv=2, random_state=0,
                          storage=str(tmp_path / "s.log")).fit(X, y)
    assert len(pickle.dumps(search)) < X.nbytes / 10
