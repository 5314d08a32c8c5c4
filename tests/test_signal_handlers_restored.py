"""A search or a nested CV run gives back the SIGINT and SIGTERM handlers it found,
whether it ran to its end, failed or was interrupted, with fits in this process
(``n_jobs=1``) or in fork workers (``n_jobs=2``).

Was: with fork workers, an exception raised in the search's own code while it took a
result (a store write that failed, a callback, a ``print``) left the pool's result
generator suspended, held by the exception's traceback; the engine gave the handlers
back, and the generator, closed later (when the traceback was dropped: at the end of a
``pytest.raises`` block, a test or a notebook cell), put back the handlers it had
found inside the search: hpsearch's ``_raise_interrupt`` for SIGINT *and* SIGTERM. From
then on a SIGTERM raised ``SearchTerminated`` in any code of the process instead of
ending it, and a later test that checks the handler is given back failed."""

import gc
import signal

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from hpsearch.model_selection import GridSearchCV, _base, _engine, nested_cross_validate

fork_only = pytest.mark.skipif(
    not _engine._fork_available(), reason="workers cannot be started by fork here"
)
N_JOBS = [1, pytest.param(2, marks=fork_only)]


def _handlers():
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


@pytest.fixture
def python_handlers():
    """Python's own handlers to begin with (the ones a script starts with); still them
    once the test and all it made are gone (a generator of the search closed late)."""
    previous = _handlers()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield (signal.default_int_handler, signal.SIG_DFL)
        gc.collect()
        assert _handlers() == (signal.default_int_handler, signal.SIG_DFL)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


def _data():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3)
    return X, X @ np.array([1.0, 2.0, 3.0]) + 0.01 * rng.rand(40)


class _Failing(Ridge):
    def fit(self, X, y, sample_weight=None):
        raise ArithmeticError("this fit fails")


def _in_own_code(monkeypatch, what):
    """Run ``what()`` in the search's own code as it takes its first result (in the
    parent process: where it prints the fit's line)."""
    calls = []

    def take(self, row, out, n):
        if not calls:
            calls.append(1)
            what()

    monkeypatch.setattr(_base._Evaluator, "_print_fit", take)
    return calls


def _raise(exc):
    def what():
        raise exc
    return what


def _check(run, expected, raises):
    """``run()`` raises ``raises`` (None: nothing); the handlers are ``expected`` while
    its exception is held and once it is dropped."""
    if raises is None:
        run()
    else:
        with pytest.raises(raises) as info:
            run()
        assert _handlers() == expected  # (the traceback still holds the search's frames)
        assert issubclass(info.type, raises)
        del info
    gc.collect()
    assert _handlers() == expected


OUTCOMES = {
    "normal": (None, None),
    "failed in its own code": (lambda: _raise(RuntimeError("own code")), RuntimeError),
    "KeyboardInterrupt in its own code": (lambda: _raise(KeyboardInterrupt()),
                                          KeyboardInterrupt),
    "Ctrl-C": (lambda: (lambda: signal.raise_signal(signal.SIGINT)), KeyboardInterrupt),
    "a fit failed": ("fit", ArithmeticError),
}


def _search(outcome, n_jobs, monkeypatch):
    """The grid search of ``outcome`` (its estimator fails, or its own code is patched to
    fail or be interrupted) and the exception its run should raise."""
    what, raises = OUTCOMES[outcome]
    estimator = Ridge()
    if what == "fit":
        estimator = _Failing()
    elif what is not None:
        _in_own_code(monkeypatch, what())
    search = GridSearchCV(estimator, {"alpha": [0.1, 1.0]}, cv=2, n_jobs=n_jobs,
                          error_score="raise")
    return search, raises


@pytest.mark.parametrize("n_jobs", N_JOBS)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_a_search_gives_back_the_handlers(outcome, n_jobs, python_handlers, monkeypatch):
    search, raises = _search(outcome, n_jobs, monkeypatch)
    _check(lambda: search.fit(*_data()), python_handlers, raises)


@pytest.mark.parametrize("n_jobs", N_JOBS)
@pytest.mark.parametrize("outcome", ["normal", "failed in its own code", "Ctrl-C",
                                     "a fit failed"])
def test_a_nested_run_gives_back_the_handlers(outcome, n_jobs, python_handlers,
                                              monkeypatch):
    search, raises = _search(outcome, n_jobs, monkeypatch)
    _check(lambda: nested_cross_validate(search, *_data(), cv=2, random_state=0),
           python_handlers, raises)
