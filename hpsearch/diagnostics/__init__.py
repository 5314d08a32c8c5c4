"""The lecture's recipe as a tool (LECTURE.md §4): check training first, then the gap.

* :func:`diagnose` — one model: ``"training"`` / ``"overfitting"`` / ``"none"``, the causes
  (vocabulary :data:`CAUSES`), the evidence and the lecture's fixes as parameter changes.
* :func:`diagnose_results` — every candidate of a search (``cv_results_`` with train scores),
  plus a note when deeper candidates train worse than shallower ones (seed 003).
* :func:`recipe_map`, :func:`gradient_flow` — the plots.

Thresholds: :data:`THRESHOLDS` (the score rule is documented in :func:`diagnose`).
"""

from ._causes import CAUSES, FIXES
from ._diagnose import Diagnosis, default_references, diagnose
from ._plots import gradient_flow, recipe_map
from ._remedies import REMEDIES
from ._report import report_section
from ._results import ResultsDiagnosis, diagnose_results, diagnosis_column, reference_scores
from ._verdict import THRESHOLDS

__all__ = ["CAUSES", "FIXES", "REMEDIES", "THRESHOLDS", "Diagnosis", "ResultsDiagnosis",
           "default_references", "diagnose", "diagnose_results", "diagnosis_column", "gradient_flow", "recipe_map",
           "reference_scores", "report_section"]
