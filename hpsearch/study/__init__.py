"""Study files: a YAML description of a search, validated, built and run.

``load_study(path)`` reads and validates a file (:mod:`.loader`, :mod:`.schema`);
``build(study)`` makes the Python objects a user would write by hand (:mod:`.build`,
:mod:`.registry`) after ``check_study`` (:mod:`.limits`) has refused anything too large or
writing outside its place; ``run(plan)`` fits and writes the output folder (:mod:`.runner`,
:mod:`.report`; the folder's layout and safety: :mod:`.run_folder`, the trial store's
queries: :mod:`.trial_store`).  The command line is :mod:`hpsearch.cli`.
"""

from .build import Options, Plan, build
from .errors import StudyError
from .limits import check_study
from .loader import load_study, read_yaml, validate
from .runner import run

__all__ = ["Options", "Plan", "StudyError", "build", "check_study", "load_study", "read_yaml",
           "run", "validate"]
