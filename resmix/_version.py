"""The package version: the one place it is written (pyproject.toml reads it from here).

The book's install cell pins this version, so a reader's fresh kernel gets the code the
book was built with (see ``tools/install_cell.py``).
"""
__version__ = "0.4.0"

# The revision of the package's arithmetic within a version: bumped when a change of code changes a
# run's digits (2: attention written out instead of torch's SDPA kernel; 3: one STFT call per member of
# a cohort's MR-STFT term, whose stacked backward made a member's digits depend on its cohort). Every result records
# the revision that made it (``meta["numerics"]``) and the store recomputes its key with that one, so a
# later bump retrains what it changes and never calls an older file damaged. What the machine
# contributes (device, MKL's code path) is recorded in each result's provenance instead.
NUMERICS = 3
