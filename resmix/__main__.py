"""``python -m resmix``: the ``resmix`` command (see :mod:`resmix.cli`)."""
import sys

from .cli import main

sys.exit(main())
