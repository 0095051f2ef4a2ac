"""``python -m resmix``: the ``resmix`` command (see :mod:`resmix.study.cli`)."""
import sys

from resmix.study.cli import main

sys.exit(main())
