"""Docstring fragments shared by the search classes, and the decorator that inserts them.

Every search sets the fitted attributes of :class:`~hpsearch.model_selection._base.
BaseSearchCV` (``best_score_``, ``refit_time_``, ``classes_``...) and documents them in
its numpydoc "Attributes" section, one name per entry, as scikit-learn's
``test_fit_docstring_attributes`` requires (every attribute ``fit`` sets documented,
every documented one set unless its description says "only"). Those entries are written
once, here; a class docstring holds a line with only ``{search_attributes}`` (or another
fragment's name in braces) where its section needs them, and :func:`fill_doc` replaces
that line with the fragment at the line's indentation::

    @fill_doc
    class GridSearchCV(BaseSearchCV):
        '''...

        Attributes
        ----------
        cv_results_ : dict
            ...
        {search_attributes}
        '''

What differs between the searches (``cv_results_``'s columns, which rows ``best_index_``
chooses from, what the study's trials hold) stays in each class's own docstring.
"""

import re
import textwrap

__all__ = ["CANDIDATE_ATTRIBUTES", "DIAGNOSIS_ATTRIBUTES", "SEARCH_ATTRIBUTES", "fill_doc"]

#: The fitted attributes every search sets the same way (``BaseSearchCV._fit`` and
#: ``_finish``, scikit-learn's ``classes_`` and ``n_features_in_`` properties).
SEARCH_ATTRIBUTES = """\
best_score_ : float
    Mean cross-validated score of the ``best_index_`` row in the refit metric
    (``cv_results_["mean_test_<metric>"][best_index_]``). Not set when ``refit`` is a
    callable; with several metrics, only set when ``refit`` names one of them.
best_params_ : dict
    Parameter setting of the ``best_index_`` row
    (``cv_results_["params"][best_index_]``). With several metrics, only set when
    ``refit`` is not False.
best_estimator_ : estimator
    A clone of ``estimator`` set to ``best_params_`` and refitted on the whole data
    given to ``fit``; a budgeted search also sets the best row's budget parameter
    (``max_iter`` for epochs; an ``n_samples`` budget is not applied: the refit uses
    every row). Only set when ``refit`` is not False.
refit_time_ : float
    Seconds spent refitting ``best_estimator_`` on the whole data. Only set when
    ``refit`` is not False.
scorer_ : function or dict
    Scorer used on the held-out folds; with several metrics, the validated dict mapping
    each metric's name to its scorer.
n_splits_ : int
    The number of cross-validation splits (folds/iterations).
multimetric_ : bool
    Whether the scorers compute several metrics.
classes_ : ndarray of shape (n_classes,)
    The class labels (``best_estimator_.classes_``). Present only if ``refit`` is not
    False and the estimator is a classifier.
n_features_in_ : int
    Number of features seen during :term:`fit`. Only defined if ``best_estimator_`` is
    defined (``refit`` not False) and exposes ``n_features_in_`` when fit.
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of features seen during :term:`fit`. Only defined if ``best_estimator_`` is
    defined and exposes ``feature_names_in_`` when fit (``X`` with string column names,
    such as a pandas DataFrame).
backend_ : str
    What ran the fits: ``"in-process"``, ``"fork"`` (hpsearch's fork workers, also a
    search inside nested CV's one pool) or ``"joblib:<backend class>"`` (e.g.
    ``"joblib:LokyBackend"``).
"""

#: The lecture's diagnosis ``BaseSearchCV._add_diagnosis`` adds when train scores are kept.
DIAGNOSIS_ATTRIBUTES = """\
diagnosis_ : hpsearch.diagnostics.ResultsDiagnosis
    The lecture's recipe applied to every candidate (``LECTURE.md`` §4), with the
    references it was judged against (a trivial baseline and a linear model, scored on
    the search's splits); its labels are ``cv_results_["diagnosis"]``. Only set with
    ``return_train_score=True`` when the diagnosis could be made.
diagnosis_error_ : str
    Why the diagnosis could not be made (no ``diagnosis`` column then). Only set with
    ``return_train_score=True`` when it could not.
"""

#: The Attributes of a search whose ``cv_results_`` rows are its candidates, one each
#: (:class:`~hpsearch.model_selection.GridSearchCV`,
#: :class:`~hpsearch.model_selection.RandomSearchCV`).
CANDIDATE_ATTRIBUTES = """\
cv_results_ : dict
    sklearn's layout (one row per candidate) plus ``error`` (the traceback text of a
    candidate's failed fits, or None); with ``racing=True`` also ``state``
    (``"COMPLETE"`` or ``"RACED"``) and ``raced`` (bool).
best_index_ : int
    Index in ``cv_results_`` of the best candidate: rank 1 of ``rank_test_<metric>``
    in the refit metric (a raced candidate ranks after every complete one with a
    score), or the index a callable ``refit`` returns. With several metrics, only set
    when ``refit`` is not False.
""" + SEARCH_ATTRIBUTES + DIAGNOSIS_ATTRIBUTES + """\
study_ : optuna.Study
    The trial store's study (in ``storage`` under ``study_name``, else in memory):
    one trial per candidate, valued its mean test score, its per-split results as
    user attributes. A search unpickled elsewhere loads it from ``storage`` when first
    read (an ``AttributeError`` where that storage is not reachable; predicting needs it
    not).
"""

#: A line holding only ``{name}``: where fragment ``name`` goes (dict literals in examples
#: never match: they hold quotes or colons).
_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>[a-z_]+)\}[ \t]*$", re.M)

_FRAGMENTS = {
    "search_attributes": SEARCH_ATTRIBUTES,
    "diagnosis_attributes": DIAGNOSIS_ATTRIBUTES,
    "candidate_attributes": CANDIDATE_ATTRIBUTES,
}


def fill_doc(cls=None, /, **fragments):
    """Class decorator: each ``{name}`` line of the class docstring becomes fragment
    ``name`` (:data:`SEARCH_ATTRIBUTES`, :data:`DIAGNOSIS_ATTRIBUTES` or one of
    ``fragments``), indented as the line was.

    Use it bare (``@fill_doc``) or with a class family's own fragments
    (``@fill_doc(halving_attributes=_HALVING_ATTRIBUTES)``). A placeholder naming no
    fragment is an error at import time, so a misspelt one cannot reach the docs.
    """
    table = {**_FRAGMENTS, **fragments}

    def insert(match):
        name = match["name"]
        if name not in table:
            raise KeyError(f"Docstring placeholder {{{name}}} names no fragment; known: "
                           f"{sorted(table)}.")
        return textwrap.indent(table[name].rstrip("\n"), match["indent"])

    def fill(klass):
        if klass.__doc__:  # (None under python -OO)
            klass.__doc__ = _PLACEHOLDER.sub(insert, klass.__doc__)
        return klass

    return fill if cls is None else fill(cls)
