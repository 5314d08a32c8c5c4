"""Gaussian-process Bayesian optimization as an Optuna sampler, on scikit-learn.

The lecture's SMBO form (``LECTURE.md`` §7): model the results so far with a Gaussian
process :math:`f \\sim \\mathcal{GP}(m, k)` and try next the configuration that maximizes
the expected improvement. Built on :class:`sklearn.gaussian_process.GaussianProcessRegressor`
so it needs no PyTorch; users who have torch may pass ``optuna.samplers.GPSampler()`` as an
instance instead.
"""

import warnings

import numpy as np
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import intersection_search_space
from optuna.study import StudyDirection
from optuna.trial import TrialState
from scipy.special import erfcx, ndtr
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits

__all__ = ["GPSampler", "log_expected_improvement"]

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def log_expected_improvement(mean, std, best, xi=0.0):
    """Logarithm of the expected improvement below ``best`` (minimization).

    .. math::

        z = \\frac{f^* - \\xi - \\mu(x)}{\\sigma(x)}, \\qquad
        \\mathrm{EI}(x) = \\sigma(x)\\,\\bigl(z\\,\\Phi(z) + \\varphi(z)\\bigr)

    computed in log space so that it does not underflow far from the incumbent: for
    :math:`z < -1`, :math:`z\\Phi(z) + \\varphi(z) = \\varphi(z)\\,(1 + z\\,\\Phi(z)/\\varphi(z))`
    with the Mills ratio :math:`\\Phi(z)/\\varphi(z) = \\sqrt{\\pi/2}\\,
    \\operatorname{erfcx}(-z/\\sqrt 2)`.
    """
    std = np.maximum(std, 1e-12)
    z = (best - xi - mean) / std
    out = np.empty_like(z)
    near = z > -1
    zn = z[near]
    out[near] = np.log(zn * ndtr(zn) + np.exp(-0.5 * zn**2 - _LOG_SQRT_2PI))
    zf = z[~near]
    with np.errstate(divide="ignore"):
        tail = np.log1p(zf * np.sqrt(np.pi / 2) * erfcx(-zf / np.sqrt(2)))
    out[~near] = -0.5 * zf**2 - _LOG_SQRT_2PI + tail
    return np.log(std) + out


class _Encoding:
    """Parameters <-> points of the unit cube (one column per number, one-hot categories).

    A number :math:`v \\in [a, b]` maps to :math:`u = (t(v) - t(a')) / (t(b') - t(a'))`,
    :math:`t = \\log` when ``log=True``; a discrete one (int, float with ``step``
    :math:`s`) widens its bounds to :math:`a' = a - s/2, b' = b + s/2` so every value owns
    an equal share of the cube, and rounds back to the step grid on decoding.
    """

    def __init__(self, space):
        self.space, self.columns, width = space, {}, 0
        for name, dist in space.items():
            size = len(dist.choices) if isinstance(dist, CategoricalDistribution) else 1
            self.columns[name] = slice(width, width + size)
            width += size
        self.width = width

    def _bounds(self, dist):
        half = 0.5 * dist.step if dist.step is not None else 0.0
        lo, hi = dist.low - half, dist.high + half
        return (np.log(lo), np.log(hi)) if dist.log else (lo, hi)

    def _unit(self, dist, values):
        lo, hi = self._bounds(dist)
        t = np.log(values) if dist.log else np.asarray(values, dtype=float)
        return (t - lo) / (hi - lo)

    def _value(self, dist, u):
        lo, hi = self._bounds(dist)
        v = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
        v = np.exp(v) if dist.log else v
        if dist.step is not None:
            v = dist.low + np.round((v - dist.low) / dist.step) * dist.step
        return np.clip(v, dist.low, dist.high)

    def encode(self, params):
        row = np.zeros(self.width)
        for name, dist in self.space.items():
            cols = self.columns[name]
            if isinstance(dist, CategoricalDistribution):
                row[cols.start + dist.to_internal_repr(params[name])] = 1.0
            else:
                row[cols.start] = self._unit(dist, params[name])
        return row

    def decode(self, row):
        params = {}
        for name, dist in self.space.items():
            cols = self.columns[name]
            if isinstance(dist, CategoricalDistribution):
                params[name] = dist.to_external_repr(int(np.argmax(row[cols])))
            else:
                value = self._value(dist, row[cols.start])
                params[name] = int(value) if isinstance(dist, IntDistribution) else float(value)
        return params

    def snap(self, X):
        """Move points onto the values they decode to (step grids, one-hot vertices)."""
        X = X.copy()
        for name, dist in self.space.items():
            cols = self.columns[name]
            if isinstance(dist, CategoricalDistribution):
                pick = np.argmax(X[:, cols], axis=1)
                X[:, cols] = np.eye(cols.stop - cols.start)[pick]
            else:
                X[:, cols.start] = self._unit(dist, self._value(dist, X[:, cols.start]))
        return X

    def perturb(self, X, scale, rng, p_flip=0.2):
        """Gaussian steps of ``scale`` on numbers; each category redrawn with ``p_flip``."""
        X = X + rng.normal(0.0, scale, X.shape)
        for name, dist in self.space.items():
            cols = self.columns[name]
            if isinstance(dist, CategoricalDistribution):
                flip = rng.random(len(X)) < p_flip
                X[flip, cols] = rng.random((flip.sum(), cols.stop - cols.start))
        return self.snap(np.clip(X, 0.0, 1.0))

    def sample(self, n, rng):
        return self.snap(rng.random((n, self.width)))


class GPSampler(BaseSampler):
    """Bayesian optimization with a scikit-learn Gaussian process (``sampler="gp"``).

    The first ``n_startup_trials`` trials, and every parameter outside the *intersection
    search space* (the parameters all finished trials share, e.g. conditional ones), are
    sampled at random. Then each trial fits, on the finished trials encoded in the unit
    cube (see ``_Encoding``; objective negated when maximizing and standardized,
    ``normalize_y=True``),

    .. math::

        k(x, x') = c\\,\\mathrm{Matern}_{\\nu=5/2}\\!\\left(
        \\sqrt{\\textstyle\\sum_j (x_j - x'_j)^2 / \\ell_j^2}\\right)
        + \\sigma_n^2\\,\\delta_{x x'}

    (one length scale :math:`\\ell_j` per column, kernel hyperparameters by maximum
    marginal likelihood, started from the previous trial's), and returns the candidate maximizing :math:`\\log\\mathrm{EI}`
    (:func:`log_expected_improvement`, :math:`\\xi = 0.01\\,\\mathrm{sd}(y)`) among
    ``n_candidates`` uniform points plus Gaussian perturbations of the best observed
    points, then of the best candidates (no gradients). Fitting costs :math:`O(n^3)` in
    the number of trials :math:`n` (a Cholesky factorization per optimizer step, the
    cost the lecture's notes mention) - fine for the hundreds of trials a search runs.

    Parallel batches (trials asked before earlier ones are told): each RUNNING trial is
    added with the *constant liar* value :math:`\\min y` (the best objective so far) to
    the model fitted on the finished ones (kernel kept), so the posterior variance
    collapses there and the batch spreads out. Failed trials are
    ignored; a pruned trial counts, when ``consider_pruned_trials``, with the worse of its
    last intermediate value and the worst completed value (pruned = judged poor), else it
    is ignored.

    With torch installed, ``optuna.samplers.GPSampler()`` may be passed as an instance
    instead (Optuna's own GP, gradient-based acquisition); ``"gp"`` is always this one.

    Parameters
    ----------
    seed : int or None, default=None
        Seeds the candidate generator, the kernel optimizer restarts and the random
        sampler; a fixed seed reproduces the same trials.
    n_startup_trials : int, default=10
        Finished trials sampled at random before the model is used.
    n_candidates : int, default=2048
        Uniform candidates per trial (plus as many local perturbations).
    n_restarts_optimizer : int, default=2
        Restarts of the kernel hyperparameter optimizer.
    consider_pruned_trials : bool, default=True
        Count pruned trials as poor observations (see above) instead of ignoring them.
    """

    def __init__(self, *, seed=None, n_startup_trials=10, n_candidates=2048,
                 n_restarts_optimizer=2, consider_pruned_trials=True):
        self._rng = np.random.default_rng(seed)
        self._random = RandomSampler(seed=seed)
        self._theta = None
        self.n_startup_trials = n_startup_trials
        self.n_candidates = n_candidates
        self.n_restarts_optimizer = n_restarts_optimizer
        self.consider_pruned_trials = consider_pruned_trials

    def reseed_rng(self):
        self._rng = np.random.default_rng()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study, trial):
        self._raise_error_if_multi_objective(study)
        trials = study.get_trials(deepcopy=False)
        space = intersection_search_space(trials, include_pruned=self.consider_pruned_trials)
        return {name: dist for name, dist in space.items() if not dist.single()}

    def _observations(self, study, trial, space):
        """Encoded finished trials, objective to minimize, and liars for running ones."""
        sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
        enc, X, y, pruned, running = _Encoding(space), [], [], [], []
        for t in study.get_trials(deepcopy=False):
            if not all(name in t.params for name in space):
                continue
            if t.state == TrialState.COMPLETE and np.isfinite(t.value):
                X.append(enc.encode(t.params))
                y.append(sign * t.value)
            elif t.state == TrialState.PRUNED and self.consider_pruned_trials:
                last = t.intermediate_values.get(t.last_step) if t.last_step is not None else None
                if last is not None and np.isfinite(last):
                    pruned.append((enc.encode(t.params), sign * last))
            elif t.state == TrialState.RUNNING and t.number != trial.number:
                running.append(enc.encode(t.params))
        if not y:
            return enc, np.empty((0, enc.width)), np.empty(0), 0
        worst = max(y)
        X += [x for x, _ in pruned] + running
        y += [max(v, worst) for _, v in pruned]
        n_done = len(y)
        y += [min(y)] * len(running)
        return enc, np.array(X), np.array(y), n_done

    def sample_relative(self, study, trial, search_space):
        if not search_space:
            return {}
        enc, X, y, n_done = self._observations(study, trial, search_space)
        if n_done < max(1, self.n_startup_trials):
            return {}
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
            np.full(enc.width, 0.5), (1e-2, 1e2), nu=2.5
        ) + WhiteKernel(1e-3, (1e-6, 1.0))
        if self._theta is not None and self._theta.shape == kernel.theta.shape:
            kernel.theta = self._theta  # warm start: the last fit's hyperparameters
        gp = GaussianProcessRegressor(
            kernel, normalize_y=True, n_restarts_optimizer=self.n_restarts_optimizer,
            random_state=int(self._rng.integers(2**31 - 1)),
        )
        with warnings.catch_warnings(), threadpool_limits(1):
            # one BLAS thread: the matrices are small (n trials), threads only add overhead;
            # the kernel optimizer hitting a hyperparameter bound is expected on few
            # points (e.g. an irrelevant dimension's length scale at its upper bound)
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(X[:n_done], y[:n_done])
            self._theta = gp.kernel_.theta
            if len(y) > n_done:  # the liars condition the fitted model, not its kernel
                gp = GaussianProcessRegressor(gp.kernel_, optimizer=None, normalize_y=True)
                gp.fit(X, y)
            return self._maximize(gp, enc, X, y, n_done)

    def _maximize(self, gp, enc, X, y, n_done):
        """Best candidate by log-EI: uniform points and perturbations of the best ones."""
        best, xi = y[:n_done].min(), 0.01 * (y[:n_done].std() or 1.0)

        def score(C):
            mean, std = gp.predict(C, return_std=True)
            return log_expected_improvement(mean, std, best, xi)

        top = X[np.argsort(y[:n_done])[:5]]
        C = np.vstack([enc.sample(self.n_candidates, self._rng),
                       enc.perturb(np.repeat(top, self.n_candidates // 10, axis=0),
                                   0.05, self._rng)])
        a = score(C)
        local = C[np.argsort(a)[-10:]]
        C2 = enc.perturb(np.repeat(local, self.n_candidates // 20, axis=0), 0.01, self._rng)
        C, a = np.vstack([C, C2]), np.concatenate([a, score(C2)])
        return enc.decode(C[int(np.argmax(a))])

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):
        self._random.before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self._random.after_trial(study, trial, state, values)
