"""Cross-validation splitters: holdout, K-fold, leave-one-out, leave-p-out, Monte Carlo.

The lecture (``LECTURE.md`` §5–§6) names five ways to carve validation data out of the
training data. scikit-learn already implements most of them, so this module re-exports
its classes and adds only what they lack:

* :class:`KFold`, :class:`StratifiedKFold`, :class:`GroupKFold` — sklearn's classes.
* :class:`LeaveOneOut`, :class:`LeavePOut` — sklearn's classes plus a ``max_splits``
  guard that refuses an exhaustive split with more than ``max_splits`` splits
  (``C(n, p)`` for leave-p-out), naming the count and suggesting :class:`MonteCarloCV`.
* :class:`Holdout` — one random (optionally stratified) split as a splitter object,
  ``test_size`` also given as the lecture's ``"validation:training"`` ratio (``"1:4"``).
* :class:`MonteCarloCV` — repeated random two-way splits, optionally stratified, with the
  lecture's *swap*: each split followed by its mirror.
* :func:`make_cv` builds any of them from a name, a dict spec (study files), an int,
  ``None``, a splitter or an iterable of ``(train, test)`` pairs; :func:`check_n_splits`
  and :func:`count_fits` count splits and fits before any work.

Every splitter follows sklearn's ``BaseCrossValidator`` conventions (``split(X, y=None,
groups=None)``, ``get_n_splits``, ``__repr__``), so it works as ``cv=`` in sklearn's
``cross_val_score`` and ``GridSearchCV``, and sklearn's splitters work wherever hpsearch
takes ``cv``.
"""

import inspect
import math
import numbers
import re
import warnings

import numpy as np
from sklearn.model_selection import (
    BaseCrossValidator,
    GroupKFold,
    KFold,
    ShuffleSplit,
    StratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
)
from sklearn.model_selection import LeaveOneOut as _SkLeaveOneOut
from sklearn.model_selection import LeavePOut as _SkLeavePOut
from sklearn.utils import indexable
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _num_samples, check_array

__all__ = [
    "CV_METHODS",
    "DEFAULT_MAX_SPLITS",
    "GroupKFold",
    "Holdout",
    "KFold",
    "LeaveOneOut",
    "LeavePOut",
    "MonteCarloCV",
    "StratifiedKFold",
    "check_n_splits",
    "count_fits",
    "make_cv",
]

#: Default limit on the number of splits of an exhaustive splitter (leave-one-out,
#: leave-p-out). Every split is one full fit *per candidate*: 10,000 fits of a model that
#: takes 0.1 s already cost 17 minutes for a single candidate. Beyond that, a Monte Carlo
#: estimate is as good in practice — the standard error of a mean over ``S`` random splits
#: shrinks like ``1/sqrt(S)``, so 10,000 splits already pin the mean to 1 % of the
#: split-to-split spread. The limit admits leave-one-out on every sklearn toy data set
#: (digits: 1,797 samples) and leave-p-out on small data (``C(20, 2) = 190``,
#: ``C(50, 2) = 1,225``), and refuses what would never finish (``C(1000, 3)`` ≈ 1.7e8).
DEFAULT_MAX_SPLITS = 10_000


# --------------------------------------------------------------------------- helpers
def _param_error(name, owner, rule, value):
    """A ValueError in sklearn's shape: parameter, owner, rule, value."""
    return ValueError(
        f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead."
    )


def _check_int(value, name, owner, low=1, allow_none=False):
    if allow_none and value is None:
        return
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low:
        rule = f"an int in the range [{low}, inf)" + (" or None" if allow_none else "")
        raise _param_error(name, owner, rule, value)


_RATIO = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*:\s*(\d+(?:\.\d*)?)\s*$")
_SIZE_RULE = (
    "a float in the range (0, 1), an int in the range [1, n_samples) or a "
    "'validation:training' ratio string such as '1:4'"
)


def parse_size(value, name, owner):
    """Normalise a ``test_size``/``train_size`` value (float, int or ratio string).

    A ratio string ``"v:t"`` (the lecture's validation:training ratio, §6) becomes the
    validation fraction

    .. math:: \\text{test\\_size} = \\frac{v}{v + t},

    so ``"1:4"`` -> 0.2, ``"1:3"`` -> 0.25, ``"1:2"`` -> 1/3. Floats must lie in (0, 1) and
    ints be at least 1 (the upper bound, ``n_samples``, is checked in ``split``).
    """
    if isinstance(value, str):
        match = _RATIO.match(value)
        if match is None or float(match.group(1)) <= 0 or float(match.group(2)) <= 0:
            raise _param_error(name, owner, _SIZE_RULE, value)
        part, rest = float(match.group(1)), float(match.group(2))
        return part / (part + rest)
    if isinstance(value, bool):
        raise _param_error(name, owner, _SIZE_RULE, value)
    if isinstance(value, numbers.Integral):
        if value < 1:
            raise _param_error(name, owner, _SIZE_RULE, value)
        return int(value)
    if isinstance(value, numbers.Real):
        if not 0.0 < value < 1.0:
            raise _param_error(name, owner, _SIZE_RULE, value)
        return value  # (its own type: sklearn multiplies a np.float32 in float32)
    raise _param_error(name, owner, _SIZE_RULE, value)


def _n_from_size(size, n_samples, rounding):
    """Rows of a size from :func:`parse_size`: an int as is, a fraction rounded as
    sklearn's ``ShuffleSplit`` rounds it, ``rounding(size * n_samples)`` computed in the
    fraction's own type (``np.float32(0.3) * 10`` is 3 in float32, 3.0000001 in float64:
    3 test rows, not 4)."""
    if isinstance(size, numbers.Integral):
        return size
    with np.errstate(over="ignore"):
        rows = size * n_samples
    if not math.isfinite(rows):  # (a float16 beyond 65504 rows: sklearn overflows)
        rows = float(size) * n_samples
    return int(rounding(rows))


def _resolve_sizes(owner, n_samples, test_size, train_size=None):
    """Absolute (n_train, n_test) for ``n_samples``; errors name parameter and both values.

    ``test_size=None`` with a ``train_size``: every row not trained on is tested on, as
    sklearn's ``ShuffleSplit`` (``n_test = n_samples - n_train``)."""
    if test_size is None and train_size is not None:
        n_train = _n_from_size(parse_size(train_size, "train_size", owner), n_samples,
                               math.floor)
        if n_train >= n_samples:
            raise ValueError(
                f"train_size={train_size!r} ({n_train} samples) must be strictly less than "
                f"the number of samples={n_samples} (test_size=None tests on the rest)."
            )
        if n_train < 1:  # (else sklearn's ShuffleSplit blames a test_size=n_samples)
            raise ValueError(
                f"With n_samples={n_samples}, test_size=None and train_size={train_size!r},"
                f" the training set would be empty ({n_train} samples); increase "
                "train_size."
            )
        return n_train, n_samples - n_train
    test = parse_size(test_size, "test_size", owner)
    train = None if train_size is None else parse_size(train_size, "train_size", owner)
    n_test = _n_from_size(test, n_samples, math.ceil)
    if n_test >= n_samples:
        raise ValueError(
            f"test_size={test_size!r} ({n_test} samples) must be strictly less than "
            f"the number of samples={n_samples}."
        )
    if train is None:
        n_train = n_samples - n_test
    else:
        n_train = _n_from_size(train, n_samples, math.floor)
        if n_train + n_test > n_samples:
            raise ValueError(
                f"test_size={test_size!r} ({n_test} samples) plus "
                f"train_size={train_size!r} ({n_train} samples) must not exceed the "
                f"number of samples={n_samples}."
            )
    if n_train < 1:
        fix = "reduce test_size" if train is None else "increase train_size"
        raise ValueError(
            f"With n_samples={n_samples} and test_size={test_size!r}, the training set "
            f"would be empty (train_size={train_size!r}); {fix}."
        )
    return n_train, n_test


def _check_bool(value, name, owner):
    """A True/False parameter (sklearn's splitters refuse anything else: ``bool("no")``
    is True, so ``stratify="false"`` stratified)."""
    if not isinstance(value, (bool, np.bool_)):
        raise _param_error(name, owner, "an instance of 'bool'", value)


#: type_of_target of a 2-D y -> whether stratify=True accepts it (a row of labels per
#: sample, stratified by each row's combination, as sklearn's StratifiedShuffleSplit)
_ROWS_OF_LABELS = {
    "multilabel-indicator": True,
    "multiclass-multioutput": True,
    "continuous-multioutput": False,
}


def _check_stratify_target(y, owner, n_train, n_test):
    """``stratify=True`` needs class labels: >= 2 classes, each with >= 2 members.

    A 2-D ``y`` (multilabel or multiclass-multioutput) is stratified, as by sklearn's
    ``StratifiedShuffleSplit`` and ``train_test_split(stratify=Y)``, by each row's
    combination of labels: the classes checked are the distinct rows.
    """
    if y is None:
        raise ValueError(
            f"stratify=True in {owner} needs the class labels y, but y=None was passed."
        )
    # sklearn's StratifiedShuffleSplit's check first: its errors for a sparse y and NaN
    # (not a bare AxisError, nor a cast warning before "Input y contains NaN.")
    y = check_array(y, input_name="y", ensure_2d=False, dtype=None)
    kind = type_of_target(y, input_name="y")
    labels = kind in ("binary", "multiclass")  # (a column vector too)
    if np.ndim(y) == 2 and not (labels or _ROWS_OF_LABELS.get(kind, False)):
        raise ValueError(
            f"stratify=True in {owner} needs labels y (a 2-D y: a row of labels "
            f"per sample), but y is of type {kind!r}."
        )
    if not labels and np.ndim(y) != 2:
        raise ValueError(
            f"stratify=True in {owner} needs binary or multiclass labels y, "
            f"but y is of type {kind!r}."
        )
    if np.ndim(y) == 2:
        y = np.unique(np.asarray(y), axis=0, return_inverse=True)[1].ravel()
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(
            f"stratify=True in {owner} needs at least 2 classes in y, but y has "
            f"{classes.size} class ({classes.tolist()!r})."
        )
    counts = np.unique(y, return_counts=True)[1]
    if counts.min() < 2:
        raise ValueError(
            f"stratify=True in {owner} needs at least 2 members in every class of y, "
            f"but the least populated class has {counts.min()}."
        )
    for name, n_part in (("test_size", n_test), ("train_size", n_train)):
        if n_part < classes.size:
            raise ValueError(
                f"stratify=True in {owner}: the {name.split('_')[0]} part has "
                f"{n_part} samples ({name}), fewer than the number of classes="
                f"{classes.size}."
            )


# --------------------------------------------------------------------------- guards
def _format_count(n, p):
    """C(n, p) as an exact number with thousands separators (below 10^18), or in powers
    of ten."""
    k = min(p, n - p)
    if k <= 1000 and (exact := math.comb(n, p)) < 10**18:
        return f"{exact:,}"
    log10 = (math.lgamma(n + 1) - math.lgamma(p + 1) - math.lgamma(n - p + 1)) / math.log(10)
    return f"about 10^{log10:.0f}"


def _comb_exceeds(n, p, limit):
    """Whether C(n, p) > limit, computed incrementally (stops as soon as it exceeds)."""
    k = min(p, n - p)
    value = 1
    for i in range(k):
        value = value * (n - i) // (i + 1)
        if value > limit:
            return True
    return value > limit


def _guard(n_samples, p, max_splits, owner):
    """Refuse an exhaustive split with more than ``max_splits`` splits (before any work)."""
    if max_splits is None or not _comb_exceeds(n_samples, p, max_splits):
        return
    raise ValueError(
        f"{owner} on n_samples={n_samples} would make C({n_samples}, {p}) = "
        f"{_format_count(n_samples, p)} splits, more than max_splits={max_splits:,}. "
        f"Use MonteCarloCV(n_splits=..., test_size={p}) to validate on a random "
        f"subset of these splits, or raise max_splits (None disables this guard)."
    )


def _check_p(p, n_samples, owner):
    _check_int(p, "p", owner)
    if p >= n_samples:  # sklearn's LeavePOut's words, to the letter (no final period)
        raise ValueError(
            f"p={p} must be strictly less than the number of samples={n_samples}"
        )


class LeaveOneOut(_SkLeaveOneOut):
    """sklearn's :class:`~sklearn.model_selection.LeaveOneOut` with a split-count guard.

    Exhaustive cross-validation with validation sets of one sample (``LECTURE.md`` §6):
    ``n`` splits, each sample validates exactly once.

    Parameters
    ----------
    max_splits : int or None, default=DEFAULT_MAX_SPLITS (10,000)
        Refuse (``ValueError``) data with more samples than this, before any work:
        ``get_n_splits`` and ``split`` raise, naming ``C(n, 1)``, the limit and suggesting
        :class:`MonteCarloCV`. ``None`` disables the guard.
    """

    def __init__(self, *, max_splits=DEFAULT_MAX_SPLITS):
        self.max_splits = max_splits

    def _check(self, X):
        if X is None:
            raise ValueError("The 'X' parameter should not be None.")
        _check_int(self.max_splits, "max_splits", "LeaveOneOut", allow_none=True)
        n_samples = _num_samples(X)
        if n_samples <= 1:
            raise ValueError(  # scikit-learn's words, then the rule
                f"Cannot perform LeaveOneOut with n_samples={n_samples}: LeaveOneOut "
                f"needs at least 2 samples."
            )
        _guard(n_samples, 1, self.max_splits, "LeaveOneOut()")
        return n_samples

    def get_n_splits(self, X, y=None, groups=None):
        """Number of splits, ``n_samples``; raises if it exceeds ``max_splits``."""
        return self._check(X)

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` index arrays; the guard runs at call time."""
        self._check(X)
        return super().split(X, y, groups)


class LeavePOut(_SkLeavePOut):
    """sklearn's :class:`~sklearn.model_selection.LeavePOut` with a split-count guard.

    Exhaustive cross-validation (``LECTURE.md`` §6): each of the

    .. math:: \\binom{n}{p} = \\frac{n!}{p!\\,(n-p)!}

    subsets of ``p`` samples is the validation set once.

    Parameters
    ----------
    p : int
        Size of the validation sets, ``1 <= p < n_samples``.
    max_splits : int or None, default=DEFAULT_MAX_SPLITS (10,000)
        Refuse (``ValueError``) when ``C(n, p)`` exceeds this, before any work:
        ``get_n_splits`` and ``split`` raise, naming ``C(n, p)``, the limit and suggesting
        :class:`MonteCarloCV`. ``None`` disables the guard.
    """

    def __init__(self, p, *, max_splits=DEFAULT_MAX_SPLITS):
        super().__init__(p)
        self.max_splits = max_splits

    def _check(self, X):
        if X is None:
            raise ValueError("The 'X' parameter should not be None.")
        _check_int(self.max_splits, "max_splits", "LeavePOut", allow_none=True)
        n_samples = _num_samples(X)
        _check_p(self.p, n_samples, "LeavePOut")
        _guard(n_samples, self.p, self.max_splits, f"LeavePOut(p={self.p})")
        return n_samples

    def get_n_splits(self, X, y=None, groups=None):
        """Number of splits, ``C(n_samples, p)``; raises if it exceeds ``max_splits``."""
        return math.comb(self._check(X), self.p)

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` index arrays; the guard runs at call time."""
        self._check(X)
        return super().split(X, y, groups)


# --------------------------------------------------------------------------- random splits
class _RandomTwoWaySplit(BaseCrossValidator):
    """Shared machinery of :class:`Holdout` and :class:`MonteCarloCV`.

    Subclasses set the parameters; the random draws are sklearn's ``ShuffleSplit`` /
    ``StratifiedShuffleSplit`` on the resolved absolute sizes.
    """

    _n_draws = 1
    _swap = False
    _shuffle = True
    train_size = None

    def _check_params(self):
        owner = type(self).__name__
        for flag in sorted(_BOOL_PARAMETERS):
            if flag in self.__dict__:
                _check_bool(getattr(self, flag), flag, owner)
        if self.test_size is None and self.train_size is not None:  # (the rest is tested)
            parse_size(self.train_size, "train_size", owner)
            test = None
        elif self.test_size is None and "train_size" in self.__dict__:
            raise _param_error("test_size", owner, _SIZE_RULE + ", or None with a "
                               "train_size (the samples not trained on)", None)
        else:
            test = parse_size(self.test_size, "test_size", owner)
        if test is not None and self.train_size is not None:
            train = parse_size(self.train_size, "train_size", owner)
            fractions = not isinstance(test, numbers.Integral) and not isinstance(
                train, numbers.Integral)
            if fractions and test + train > 1:  # (sklearn's ShuffleSplit refuses it too)
                raise ValueError(
                    f"The sum of the fractions test_size and train_size of {owner} must "
                    f"be at most 1. Got test_size={self.test_size!r} + train_size="
                    f"{self.train_size!r} = {float(test + train):g} instead."
                )
        if self.stratify and not self._shuffle:
            raise ValueError(
                f"stratify=True in {owner} needs shuffle=True, got shuffle=False."
            )

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` index arrays.

        Parameters and sizes are checked when ``split`` is called, before the first split
        is drawn. ``groups`` is ignored (a ``UserWarning`` says so when given).
        """
        owner = type(self).__name__
        if groups is not None:
            warnings.warn(f"The groups parameter is ignored by {owner}", UserWarning)
        self._check_params()
        X, y = indexable(X, y)
        n_samples = _num_samples(X)
        n_train, n_test = _resolve_sizes(owner, n_samples, self.test_size, self.train_size)
        if self.stratify:
            _check_stratify_target(y, owner, n_train, n_test)
        return self._iter_splits(X, y, n_samples, n_train, n_test)

    def _iter_splits(self, X, y, n_samples, n_train, n_test):
        if not self._shuffle:
            yield np.arange(n_train), np.arange(n_train, n_train + n_test)
            return
        splitter_class = StratifiedShuffleSplit if self.stratify else ShuffleSplit
        splitter = splitter_class(
            n_splits=self._n_draws,
            test_size=n_test,
            train_size=n_train,
            random_state=self.random_state,
        )
        for train, test in splitter.split(X, y):
            yield train, test
            if self._swap:
                yield test, train


class Holdout(_RandomTwoWaySplit):
    """One random split of the data into training and validation parts (``LECTURE.md`` §6).

    A splitter object with ``get_n_splits() == 1``, usable as ``cv=`` anywhere.

    Parameters
    ----------
    test_size : float, int or str, default=0.2
        Validation part: a fraction in (0, 1), a number of samples in
        ``[1, n_samples)``, or the lecture's ``"validation:training"`` ratio — ``"1:4"``
        (= 0.2), ``"1:3"`` (= 0.25), ``"1:2"`` (= 1/3). Fractions round the validation
        size up, as sklearn does.
    shuffle : bool, default=True
        Shuffle before splitting. ``shuffle=False`` validates on the last ``n_test``
        samples (as ``train_test_split(shuffle=False)``).
    stratify : bool, default=False
        Keep the class proportions of ``y`` in both parts (needs ``shuffle=True`` and at
        least two classes). A 2-D ``y`` (multilabel, multi-output) is stratified by
        each row's combination of labels, as ``train_test_split(stratify=Y)``.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle; an int gives the same split on every call, a
        ``RandomState`` instance a new one on each call (as sklearn's ``ShuffleSplit``).
    """

    def __init__(self, test_size=0.2, shuffle=True, stratify=False, random_state=None):
        self.test_size = test_size
        self.shuffle = shuffle
        self.stratify = stratify
        self.random_state = random_state

    @property
    def _shuffle(self):
        return bool(self.shuffle)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: always 1."""
        self._check_params()
        return 1


class MonteCarloCV(_RandomTwoWaySplit):
    """Monte Carlo cross-validation: repeated random two-way splits (``LECTURE.md`` §6).

    Each of the ``n_splits`` draws partitions the data at random into a training and a
    validation part (sklearn's ``ShuffleSplit``, or ``StratifiedShuffleSplit`` with
    ``stratify=True``). With ``swap=True`` every split is followed by its mirror — the
    two parts exchanged, as the lecture notes do — so ``get_n_splits() == 2 * n_splits``.
    The cross-validated score is the mean over all splits.

    Unlike K-fold, the number of splits is not tied to the validation size, validation
    sets of different splits may overlap, and **some samples may never be chosen for
    validation** (with ``S`` draws of a fraction ``f``, a given sample is never validated
    with probability about :math:`(1 - f)^S`).

    Parameters
    ----------
    n_splits : int, default=10
        Number of random draws (``>= 1``).
    test_size : float, int, str or None, default=0.2
        Validation part, as in :class:`Holdout` (fraction, count or ``"1:4"`` ratio), or
        ``None`` with a ``train_size``: every sample not trained on (as sklearn's
        ``ShuffleSplit(test_size=None, train_size=...)``).
    train_size : float, int, str or None, default=None
        Training part; ``None`` uses every sample not validated. A smaller training part
        leaves the rest unused in that split.
    swap : bool, default=False
        Follow each split by its mirror (train and validation exchanged). With
        ``train_size=None`` a split and its mirror are complementary.
    stratify : bool, default=False
        Keep the class proportions of ``y`` in both parts (a 2-D ``y``: of each row's
        combination of labels, as sklearn's ``StratifiedShuffleSplit``).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws; an int gives the same splits on every call, a
        ``RandomState`` instance new ones on each call (as sklearn's ``ShuffleSplit``).
    """

    def __init__(
        self,
        n_splits=10,
        test_size=0.2,
        train_size=None,
        swap=False,
        stratify=False,
        random_state=None,
    ):
        self.n_splits = n_splits
        self.test_size = test_size
        self.train_size = train_size
        self.swap = swap
        self.stratify = stratify
        self.random_state = random_state

    @property
    def _n_draws(self):
        return self.n_splits

    @property
    def _swap(self):
        return bool(self.swap)

    def _check_params(self):
        _check_int(self.n_splits, "n_splits", "MonteCarloCV")
        super()._check_params()

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: ``n_splits``, doubled with ``swap=True``."""
        self._check_params()
        return self.n_splits * (2 if self.swap else 1)


# --------------------------------------------------------------------------- make_cv
#: name -> splitter class, the names used in study files and :func:`make_cv`.
CV_METHODS = {
    "holdout": Holdout,
    "kfold": KFold,
    "stratified_kfold": StratifiedKFold,
    "loo": LeaveOneOut,
    "lpo": LeavePOut,
    "monte_carlo": MonteCarloCV,
    "group_kfold": GroupKFold,
}

_INT_SPEC_PARAMS = ("shuffle", "random_state")


def _parameters_of(cls):
    return [
        name
        for name, par in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and par.kind not in (par.VAR_KEYWORD, par.VAR_POSITIONAL)
    ]


#: splitter parameters that take True or False only (sklearn raises TypeError for others)
_BOOL_PARAMETERS = {"shuffle", "stratify", "swap"}


def _from_name(name, params):
    try:
        cls = CV_METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown cross-validation method {name!r}; valid methods are "
            f"{sorted(CV_METHODS)}."
        ) from None
    valid = _parameters_of(cls)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            f"Unknown parameter(s) {unknown} for cross-validation method {name!r} "
            f"({cls.__name__}); valid parameters are {valid}."
        )
    signature = inspect.signature(cls.__init__).parameters.values()
    missing = [
        p.name for p in signature
        if p.name != "self" and p.default is p.empty and p.name not in params
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if missing:
        raise ValueError(
            f"Missing parameter(s) {missing} for cross-validation method {name!r} "
            f"({cls.__name__}); valid parameters are {valid}."
        )
    for flag in sorted(_BOOL_PARAMETERS.intersection(params)):
        _check_bool(params[flag], flag, cls.__name__)
    cv = cls(**params)
    if hasattr(cv, "_check_params"):
        cv._check_params()
    elif isinstance(cv, (LeaveOneOut, LeavePOut)):
        _check_int(cv.max_splits, "max_splits", cls.__name__, allow_none=True)
        if isinstance(cv, LeavePOut):
            _check_int(cv.p, "p", cls.__name__)
    return cv


def make_cv(spec=5, *, y=None, classifier=False, **params):
    """Build a cross-validation splitter from a plain specification.

    Parameters
    ----------
    spec : None, int, str, dict, splitter or iterable, default=5
        - ``None`` or an int: as sklearn's ``check_cv`` — ``StratifiedKFold`` when
          ``classifier`` is true and ``y`` is binary or multiclass, else ``KFold``
          (``params`` may give ``shuffle`` and ``random_state``);
        - a name from :data:`CV_METHODS` (``holdout``, ``kfold``, ``stratified_kfold``,
          ``loo``, ``lpo``, ``monte_carlo``, ``group_kfold``), built with ``**params``;
        - a dict with a ``"method"`` key and the parameters, e.g.
          ``{"method": "monte_carlo", "n_splits": 20, "swap": True}`` (study files);
        - a splitter object (anything with ``split``): returned unchanged;
        - an iterable of ``(train, test)`` index pairs: wrapped as sklearn does.
    y : array-like, default=None
        Targets, only used for ``None``/int specs (stratification choice).
    classifier : bool, default=False
        Whether the estimator is a classifier (``None``/int specs).
    **params
        Parameters of the named splitter.

    Returns
    -------
    cv : splitter
        An object with ``split(X, y=None, groups=None)`` and ``get_n_splits``.

    Raises
    ------
    ValueError
        Unknown method name or parameter (the message lists the valid ones), a dict
        without ``"method"``, or a bad parameter value.

    Examples
    --------
    >>> make_cv("kfold", n_splits=3)
    KFold(n_splits=3, random_state=None, shuffle=False)
    >>> make_cv({"method": "monte_carlo", "n_splits": 20, "swap": True}).get_n_splits()
    40
    """
    if isinstance(spec, dict):
        spec = dict(spec)
        if "method" not in spec:
            raise ValueError(
                f"A cross-validation spec dict needs a 'method' key (one of "
                f"{sorted(CV_METHODS)}); got keys {sorted(spec)}."
            )
        name = spec.pop("method")
        clash = sorted(set(spec) & set(params))
        if clash:
            raise ValueError(f"Parameter(s) {clash} given both in the spec and as keywords.")
        return _from_name(name, {**spec, **params})
    if isinstance(spec, str):
        return _from_name(spec, params)
    if spec is None or (isinstance(spec, numbers.Integral) and not isinstance(spec, bool)):
        unknown = sorted(set(params) - set(_INT_SPEC_PARAMS))
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {unknown} for cv={spec!r}; valid parameters are "
                f"{list(_INT_SPEC_PARAMS)}."
            )
        return check_cv(spec, y, classifier=classifier, **params)
    if isinstance(spec, bool) or not (hasattr(spec, "split") or np.iterable(spec)):
        raise ValueError(
            f"Expected cv as None, an int, a method name from {sorted(CV_METHODS)}, a "
            f"dict with a 'method' key, a splitter or an iterable of (train, test) "
            f"pairs. Got {spec!r}."
        )
    if params:
        raise ValueError(
            f"Parameter(s) {sorted(params)} cannot be applied to an existing splitter "
            f"{spec!r}; pass a method name or a dict spec instead."
        )
    return check_cv(spec)


# --------------------------------------------------------------------------- counting
def check_n_splits(cv, X, y=None, groups=None, **split_params):
    """Number of splits of ``cv`` on ``X``, computed without fitting anything.

    The leave-p-out guard fires here, before any work: hpsearch's :class:`LeavePOut` /
    :class:`LeaveOneOut` raise for more than ``max_splits`` splits, and sklearn's own
    ``LeavePOut``/``LeaveOneOut`` are held to :data:`DEFAULT_MAX_SPLITS`.

    Parameters
    ----------
    cv : anything :func:`make_cv` accepts
        An iterable of ``(train, test)`` pairs is materialised (a generator is consumed).
    X, y, groups : array-like
        The data the splitter will see.
    **split_params : dict
        Further metadata the splitter requested (scikit-learn's metadata routing), passed
        to its ``get_n_splits``.

    Returns
    -------
    n_splits : int
    """
    cv = make_cv(cv, y=y)
    if isinstance(cv, _SkLeavePOut) and not isinstance(cv, LeavePOut):
        n_samples = _num_samples(X)
        _check_p(cv.p, n_samples, "LeavePOut")
        _guard(n_samples, cv.p, DEFAULT_MAX_SPLITS, f"LeavePOut(p={cv.p})")
    elif isinstance(cv, _SkLeaveOneOut) and not isinstance(cv, LeaveOneOut):
        _guard(_num_samples(X), 1, DEFAULT_MAX_SPLITS, "LeaveOneOut()")
    return int(cv.get_n_splits(X, y, groups, **split_params))


def count_fits(cv, X, y=None, groups=None, n_candidates=1, *, refit=False):
    """Number of fits a search will run: ``n_candidates * n_splits`` (+1 with ``refit``).

    Nothing is fitted; for the CLI's dry run and cost check.

    Parameters
    ----------
    cv : anything :func:`make_cv` accepts
    X, y, groups : array-like
    n_candidates : int, default=1
        Number of candidate parameter settings (``>= 0``).
    refit : bool, default=False
        Count the final refit of the best candidate on the whole data.

    Returns
    -------
    n_fits : int

    Examples
    --------
    >>> import numpy as np
    >>> count_fits(KFold(5), np.zeros((20, 2)), n_candidates=3, refit=True)
    16
    """
    _check_int(n_candidates, "n_candidates", "count_fits", low=0)
    if groups is not None and np.ndim(groups) == 0:  # count_fits(cv, X, y, 3): not a count
        raise ValueError(
            f"The 'groups' parameter of count_fits must be an array-like or None. Got "
            f"{groups!r} instead (the number of candidates is the keyword argument "
            f"n_candidates={groups!r}).")
    return n_candidates * check_n_splits(cv, X, y, groups) + (1 if refit else 0)
