"""``python -m resmix.study``: run a grid of experiments (the ``resmix study`` command)."""
from .cli import study_main

study_main()
