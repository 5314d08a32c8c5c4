"""scikit-learn's estimator checks on the MLPs' own options, not only their defaults.

``tests/test_mlp_sklearn.py`` runs ``parametrize_with_checks`` on ``MLPClassifier()`` and
``MLPRegressor()``; every option scikit-learn's MLP lacks (PReLU, Maxout, Leaky ReLU,
dropout, input dropout, L1, the momentum / Nesterov / Adagrad / RMSProp rules, the
initializers, full-batch and unshuffled training) and early stopping with its own
``validation_fraction`` / ``n_iter_no_change`` must pass the same checks. Each
configuration below switches several of them on at once (small nets, ``float64``: the
``float32`` default misses scikit-learn's ``rtol=1e-7`` sample-weight equivalence by an
ulp, see ``test_mlp_sklearn.py``). The only failures expected are those scikit-learn's
own MLP fails for the same setting, or that randomness per row makes inevitable.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from hpsearch import MLPClassifier, MLPRegressor

_SMALL = dict(hidden_layer_sizes=(8,), max_iter=60, learning_rate_init=0.01, random_state=0,
              dtype=np.float64)

#: name -> options switched on together (each non-default option of the MLPs appears in
#: one of them; scikit-learn's own parameters are its test_mlp.py's business)
CONFIGURATIONS = {
    "prelu-rmsprop-l1-he-full-batch": dict(activation="prelu", prelu_init=0.1,
                                           solver="rmsprop", rho=0.8, l1=1e-4, init="he",
                                           batch_size="full", learning_rate_init=0.05),
    "maxout-adagrad-normal-dropout": dict(activation="maxout", maxout_pieces=3,
                                          solver="adagrad", init="normal", shuffle=False,
                                          dropout=0.2, input_dropout=0.1,
                                          learning_rate_init=0.1),
    "leaky-relu-glorot": dict(activation="leaky_relu", leaky_slope=0.2, init="glorot"),
    # the compiled epoch (numba): every check of a default-like network on it
    "numba-engine-l1": dict(engine="numba", l1=1e-4, activation="tanh"),
    "nesterov-adaptive-early-stopping": dict(activation="tanh", solver="nesterov",
                                             momentum=0.8, learning_rate="adaptive",
                                             early_stopping=True, validation_fraction=0.2,
                                             n_iter_no_change=10),
}

_DROPOUT = ("dropout masks are drawn per row of each mini-batch: a row repeated twice draws "
            "two masks where the weighted row draws one (random, not weight-equivalent)")
_SPLIT = ("the early-stopping validation rows are drawn among the rows: repeated rows "
          "change which rows are held out (scikit-learn's MLP fails it too)")
_PARTIAL_FIT = ("partial_fit refuses early_stopping=True, as scikit-learn's MLP (the same "
                "check fails for it; see test_partial_fit_refuses_early_stopping_as_sklearn)")
_WEIGHTS = ("check_sample_weight_equivalence_on_dense_data",
            "check_sample_weight_equivalence_on_sparse_data")

#: configuration -> {check: reason}
EXPECTED_FAILURES = {
    "maxout-adagrad-normal-dropout": dict.fromkeys(_WEIGHTS, _DROPOUT),
    "nesterov-adaptive-early-stopping": {
        **dict.fromkeys(_WEIGHTS, _SPLIT),
        **dict.fromkeys(("check_fit_score_takes_y", "check_n_features_in_after_fitting",
                         "check_estimators_partial_fit_n_features"), _PARTIAL_FIT)},
}


def _estimators():
    for options in CONFIGURATIONS.values():
        for cls in (MLPClassifier, MLPRegressor):
            yield cls(**{**_SMALL, **options})


def _expected_failures(estimator):
    params = estimator.get_params()
    name, = (name for name, options in CONFIGURATIONS.items()
             if all(params[key] == value for key, value in options.items()))
    return EXPECTED_FAILURES.get(name, {})


@parametrize_with_checks(list(_estimators()), expected_failed_checks=_expected_failures)
def test_options_pass_sklearns_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_every_option_is_switched_on_in_some_configuration():
    """A new parameter of the MLPs shows up here until a configuration uses it."""
    defaults = MLPRegressor().get_params()
    used = {name for options in CONFIGURATIONS.values() for name in options}
    not_ours = {"verbose", "warm_start", "random_state", "max_fun", "beta_1", "beta_2",
                "epsilon", "tol", "alpha", "loss", "nesterovs_momentum", "dtype", "power_t"}
    # (sklearn's own parameters: its test_mlp.py and the default-configuration checks;
    # warm_start makes a second fit continue, which check_fit_idempotent refuses for
    # scikit-learn's MLP too)
    assert set(defaults) - used - not_ours - set(_SMALL) == set()


@pytest.mark.parametrize("cls", [MLPClassifier, SkMLPClassifier])
def test_partial_fit_refuses_early_stopping_as_sklearn(cls):
    X, y = np.random.RandomState(0).standard_normal((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        cls(early_stopping=True).partial_fit(X, y, classes=[0, 1])
