"""``hpsearch.space`` is :mod:`hpsearch.model_selection.space`, the search-space vocabulary
(``Float``, ``Int``, ``Categorical``) shared by every search and by study files."""

import sys

from .model_selection import space as _space

sys.modules[__name__] = _space
