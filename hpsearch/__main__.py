"""``python -m hpsearch STUDY.yaml``: see :mod:`hpsearch.cli`."""

import sys

from hpsearch.cli import main

if __name__ == "__main__":
    sys.exit(main())
