"""The one error type of the study layer: a key path, a rule, a value and a line."""

from __future__ import annotations

import difflib

__all__ = ["StudyError", "UsageError", "did_you_mean", "exception_chain", "format_path",
           "MAX_SHOWN_ERRORS", "capped_errors"]

#: how many errors of one study file are printed; the others are counted in one last line
#: (was: a file with 2,000 bad keys printed 2,000 lines)
MAX_SHOWN_ERRORS = 20


def format_path(path) -> str:
    """``("search", "space", "lr", "low")`` -> ``"search.space.lr.low"``; list items as ``[i]``.

    A key holding a control character is shown as its ``repr`` (``'n\\x1b[2J'``): a study
    file's key ``"\\x1b[2J"`` reached the terminal raw in the error naming it, and cleared
    the screen (or set its title, ``\\x1b]0;...``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            out += ("." if out else "") + (text if text.isprintable() else repr(text))
    return out or "<study>"


def capped_errors(errors, limit=MAX_SHOWN_ERRORS) -> list:
    """The texts of ``errors`` to print: all of them, or the first ``limit`` and
    ``"... and N more errors"`` when there are more than ``limit + 1``."""
    texts = [str(e) for e in errors[:limit + 1]]
    if len(errors) <= limit + 1:
        return texts
    more = len(errors) - limit
    return texts[:limit] + [f"... and {more:,} more errors (fix those above first)"]


def exception_chain(exc) -> list:
    """``exc`` and the exceptions it was raised from or during (``__cause__`` /
    ``__context__``), each once."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def did_you_mean(word, choices) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close.

    Letter case is not a difference (``IRIS`` -> ``iris``, ``KNN_classifier`` ->
    ``knn_classifier``, not ``sgd_classifier``); the choice is shown as written."""
    names = {}
    for choice in map(str, choices):
        names.setdefault(choice.lower(), choice)
    close = difflib.get_close_matches(str(word).lower(), list(names), n=1, cutoff=0.6)
    return f"; did you mean {names[close[0]]!r}?" if close else ""


class StudyError(ValueError):
    """A bad study file (exit code 2): ``key.path: rule, got value (line N)``.

    Parameters
    ----------
    path : tuple
        Key path inside the study file (strings for mapping keys, ints for list items).
    message : str
        The rule that was broken, already including the offending value.
    line : int or None
        1-based line of the key in the study file, when known.
    source : str or None
        The study file name, used only when printing.
    """

    def __init__(self, path=(), message="", line=None, source=None):
        self.path = tuple(path)
        self.message = message
        self.line = line
        self.source = source
        super().__init__(str(self))

    def __str__(self):
        text = f"{format_path(self.path)}: {self.message}" if self.path else self.message
        if self.line is not None:
            text += f" (line {self.line})"
        return text


class UsageError(StudyError):
    """A run refused before any work because of where it would write (exit code 2): an
    output folder hpsearch did not make, a store that already holds trials, a storage
    directory that does not exist. Printed without the study file's name."""

    def __init__(self, message):
        super().__init__((), message)
