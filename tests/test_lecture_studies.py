"""Every lecture study (``studies/lecture/``) reproduces its lecture claim.

Each study runs as written (its full budget, which is small) through the same loader, builder
and runner as ``python -m hpsearch STUDY.yaml`` (in process, one worker); the claim is then
checked on what the run recorded: ``cv_results_`` (mean train vs validation scores of every
candidate) and, for claims about weights and curves, the fitted candidates' ``coefs_``,
``prelu_alphas_`` and ``history_``. The ``--smoke`` form of every study (CLI, exit code,
output folder) runs in ``tests/test_study_bundled.py``, which covers every file under
``studies/``; at 4 epochs most of these claims cannot show yet, hence the full runs here.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from hpsearch.diagnostics import THRESHOLDS, diagnose_results, reference_scores
from hpsearch.diagnostics._curves import final_step, gradient_ratios
from hpsearch.study import load_study
from hpsearch.study.build import Options, build
from hpsearch.study.runner import run

LECTURE = Path(__file__).resolve().parents[1] / "studies" / "lecture"
NAMES = ("sigmoid_vs_relu", "learned_activations", "optimizers", "dropout", "l1_vs_l2",
         "early_stopping", "batch_and_lr", "deeper_worse")


def test_every_lecture_claim_has_a_study_and_a_readme_line():
    files = {p.stem for p in LECTURE.glob("*.yaml")}
    assert files == set(NAMES)
    readme = (LECTURE / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"python -m hpsearch studies/lecture/{name}.yaml" in readme, name


class Ran:
    """A finished study: its plan, summary and ``cv_results_`` (DataFrame)."""

    def __init__(self, name, out):
        path = LECTURE / f"{name}.yaml"
        study, _, text = load_study(path)
        self.plan = build(study, source=str(path),
                          options=Options(n_jobs=1, quiet=True, out=str(out)))
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.summary = run(self.plan, source_text=text, echo=None)
        self.cv = pd.DataFrame(self.plan.search.cv_results_)
        self.prefix = final_step(self.plan.estimator)[1]

    def row(self, **params):
        """The ``cv_results_`` row of the candidate with these (unprefixed) parameters."""
        want = {self.prefix + k: v for k, v in params.items()}
        hits = [i for i, p in enumerate(self.cv["params"])
                if all(p.get(k) == v for k, v in want.items())]
        assert len(hits) == 1, (params, list(self.cv["params"]))
        return self.cv.iloc[hits[0]]

    def train(self, **params):  # mean training score over the splits
        return float(self.row(**params)["mean_train_score"])

    def test(self, **params):
        return float(self.row(**params)["mean_test_score"])

    def fit(self, **params):
        """The candidate with these parameters (and its conditional ones), fitted on the
        study's training rows as the refit would be; returns the MLP (the pipeline's last
        step)."""
        est = clone(self.plan.estimator).set_params(**self.row(**params)["params"])
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(self.plan.X_train, self.plan.y_train)
        return final_step(est)[0]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    done = {}

    def get(name):
        if name not in done:
            done[name] = Ran(name, tmp_path_factory.mktemp(name))
        return done[name]

    return get


def test_deep_sigmoid_does_not_train_and_its_gradients_vanish(ran):
    r = ran("sigmoid_vs_relu")
    assert r.train(activation="sigmoid") < 0.2              # chance on 10 classes is 0.1
    assert r.train(activation="relu") > 0.95
    assert r.test(activation="relu") > r.test(activation="sigmoid") + 0.5
    sigmoid = gradient_ratios(r.fit(activation="sigmoid"))  # per layer / output layer
    relu = gradient_ratios(r.fit(activation="relu"))
    assert sigmoid[0] < THRESHOLDS["vanishing"] < relu[0]
    assert sigmoid[0] < relu[0] / 100
    # the gradient shrinks at every layer on the way back to the input
    assert np.all(np.diff(np.log(sigmoid)) > 0)


def test_prelu_and_maxout_learn_their_activation(ran):
    r = ran("learned_activations")
    fixed = max(r.train(activation="relu"), r.train(activation="leaky_relu"))
    assert fixed < 0.7
    for learned in ("prelu", "maxout"):
        assert r.train(activation=learned) > 0.9 > fixed + 0.2
        assert r.test(activation=learned) > 0.9
    assert r.summary["best_params"]["activation"] in ("prelu", "maxout")
    prelu = r.fit(activation="prelu")
    alphas = prelu.prelu_alphas_[0]
    init = r.plan.estimator.prelu_init
    # every neuron learned its own slope, far from where it started: about -1, i.e. a = |z|
    assert np.all(np.abs(alphas - init) > 0.5)
    np.testing.assert_allclose(alphas, -1.0, atol=0.25)
    maxout = r.fit(activation="maxout")
    W = maxout.coefs_[0]                                    # (2 inputs, 2 pieces x 2 units)
    units = W.shape[1] // 2
    for u in range(units):                                  # max(w.x, -w.x)-like: a V shape
        a, b = W[:, u], W[:, units + u]
        assert a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) < -0.5


def test_momentum_and_adaptive_learning_rates_train_further_than_sgd(ran):
    r = ran("optimizers")
    sgd = r.train(solver="sgd")
    others = {s: r.train(solver=s) for s in ("momentum", "adagrad", "rmsprop", "adam")}
    assert all(v > sgd + 0.3 for v in others.values()), (sgd, others)
    assert min(others["rmsprop"], others["adam"]) > 0.95
    assert min(others["rmsprop"], others["adam"]) > others["momentum"]


def test_dropout_lowers_training_score_and_raises_validation_score(ran):
    r = ran("dropout")
    train = [r.train(dropout=p) for p in (0.0, 0.5)]
    test = [r.test(dropout=p) for p in (0.0, 0.5)]
    assert train[0] > 0.9 and test[0] < 0.35                 # overfitting without dropout
    assert train[1] < train[0] - 0.2                          # dropout: worse on training,
    assert test[1] > test[0] + 0.15                           # better on validation
    # the recipe puts the unregularized net on the overfitting side (good train, large gap)
    p = r.plan
    refs = reference_scores(p.estimator, p.X_train, p.y_train, cv=p.cv, scoring="r2")
    labels = diagnose_results(r.cv, references=refs).labels
    assert labels[r.row(dropout=0.0).name] == "overfitting"


def _weight_stats(model):
    w = np.abs(np.concatenate([c.ravel() for c in model.coefs_]))
    return {"near_zero": float(np.mean(w < 1e-2)), "max": float(w.max()),
            "rms": float(np.sqrt(np.mean(w ** 2)))}


def test_l1_gives_sparse_weights_l2_uniformly_small_ones(ran):
    r = ran("l1_vs_l2")
    none = _weight_stats(r.fit(alpha=0.0, l1=0.0))
    l1 = _weight_stats(r.fit(alpha=0.0, l1=0.01))
    l2 = _weight_stats(r.fit(alpha=1.0, l1=0.0))
    assert l1["near_zero"] > 2 * l2["near_zero"] and l1["near_zero"] > 5 * none["near_zero"]
    assert l1["max"] > 1.3 * l2["max"]                       # L1 keeps some large weights
    assert l2["rms"] < 0.5 * none["rms"] and l2["max"] < 0.8 * none["max"]
    for params in ({"alpha": 0.0, "l1": 0.01}, {"alpha": 1.0, "l1": 0.0}):
        assert r.test(**params) > r.test(alpha=0.0, l1=0.0) - 0.02   # at no cost in score


def test_early_stopping_stops_early_and_validates_better(ran):
    r = ran("early_stopping")
    assert r.test(early_stopping=True) > r.test(early_stopping=False) + 0.03
    assert r.train(early_stopping=True) < r.train(early_stopping=False)
    est = r.fit(early_stopping=True)
    budget = r.plan.estimator[-1].max_iter
    assert est.n_iter_ < budget / 2
    best_epoch = int(np.argmax(est.validation_scores_)) + 1
    assert est.n_iter_ - best_epoch >= est.n_iter_no_change   # stopped after the patience
    assert r.fit(early_stopping=False).n_iter_ == budget


def _ups(loss):
    return int(np.sum(np.diff(loss) > 0))


def test_learning_rate_and_batch_size_shape_the_loss_curve(ran):
    r = ran("batch_and_lr")
    curve = {}
    for bs, lr in (("full", 0.003), ("full", 0.1), ("full", 0.5), (64, 0.5), (8, 0.1),
                   (8, 0.5)):
        curve[bs, lr] = np.asarray(r.fit(batch_size=bs, learning_rate_init=lr).loss_curve_)
    # too small a learning rate: batch GD barely moves; larger: it falls further
    assert curve["full", 0.003][-1] > 0.9 * curve["full", 0.003][0]
    assert curve["full", 0.003][-1] > curve["full", 0.1][-1] > curve["full", 0.5][-1]
    # batch GD is smooth (never goes up); small batches swing, and at a large learning rate
    # the loss of batch size 8 rises far above its minimum while 64 and full do not
    assert _ups(curve["full", 0.5]) == 0 and _ups(curve["full", 0.1]) == 0
    assert _ups(curve[8, 0.5]) > _ups(curve[64, 0.5]) >= _ups(curve["full", 0.5])
    assert curve[8, 0.5][-1] > 2 * curve[8, 0.5].min()
    assert curve[64, 0.5][-1] < 1.5 * curve[64, 0.5].min()
    # at a good learning rate the small batch (more steps per epoch) ends lowest
    assert curve[8, 0.1][-1] < curve["full", 0.1][-1]
    assert r.train(batch_size=8, learning_rate_init=0.5) < \
        r.train(batch_size=64, learning_rate_init=0.5) - 0.05
    assert r.train(batch_size="full", learning_rate_init=0.003) < 0.3


def test_a_deeper_net_training_worse_is_an_optimization_problem(ran):
    r = ran("deeper_worse")
    depth = [len(p[r.prefix + "hidden_layer_sizes"]) for p in r.cv["params"]]
    train = dict(zip(depth, r.cv["mean_train_score"]))
    assert sorted(train) == [2, 6, 30]
    assert train[30] < min(train[2], train[6]) - 0.1
    p = r.plan
    refs = reference_scores(p.estimator, p.X_train, p.y_train, cv=p.cv, scoring="accuracy")
    result = diagnose_results(r.cv, references=refs)
    assert any(note.startswith("Deeper candidates train worse") for note in result.notes)
    assert result.labels[depth.index(30)] == "training"      # not "overfitting"
