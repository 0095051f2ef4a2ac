"""The package version: the one place it is written (pyproject.toml reads it from here).

The book's install cell pins this version, so a reader's fresh kernel gets the code the
book was built with (see ``tools/install_cell.py``).
"""
__version__ = "0.4.0"
