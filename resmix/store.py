"""The results store's safety: claims on run keys, damaged and stale files, a usable folder.

A results folder holds ``<key>.json`` (a run's :class:`~resmix.train.History`),
``<key>.model.pt`` (its weights), ``ckpt/<key>.pt`` (the checkpoint of a run in
progress) and ``locks/<key>.lock`` (its claim). :mod:`resmix.study` runs grids on it.
"""
from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

from ._io import DamagedFileWarning, set_aside, temp_leftovers
from .history import History


class StoreError(OSError):
    """A results folder cannot be used (not a directory, or not writable)."""


def writable_folder(results: Path) -> None:
    """Require ``results`` to be (or become) a writable directory: checked before any training."""
    if results.exists() and not results.is_dir():
        raise StoreError(f"results folder {results} is a file; expected a directory")
    try:
        results.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=results):
            pass
    except OSError as e:
        raise StoreError(f"results folder {results} is not a writable directory ({e.strerror or e}); "
                         "expected a folder this process can write") from None


def read_result(path: Path, foreign: str = "set aside") -> History | None:
    """The :class:`History` stored at ``path``; ``None`` when absent or unusable.

    An unreadable file (cut short, not JSON) is set aside as ``<name>.damaged`` with a
    :class:`~resmix._io.DamagedFileWarning`. A readable JSON that is not a stored run is
    set aside too with ``foreign="set aside"`` (at a run's own path), or skipped with a
    warning and left untouched with ``foreign="skip"`` (a stray file in the folder).
    """
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        d = json.loads(text)
    except ValueError as e:  # JSONDecodeError, or bytes that are not text
        set_aside(path, f"damaged result ({type(e).__name__}: {e}); it will be recomputed")
        return None
    if isinstance(d, dict) and isinstance(d.get("experiment"), dict) and isinstance(d.get("records"), list) \
            and isinstance(d.get("meta"), dict):
        return History.from_dict(d)
    why = "not a stored run (expected an object with experiment, records and meta)"
    if foreign == "skip":
        warnings.warn(f"{path}: {why}; skipped and left untouched", DamagedFileWarning, stacklevel=3)
    else:
        set_aside(path, f"{why}; it will be recomputed")
    return None


def stale_leftovers(results: Path, key: str) -> list[Path]:
    """Leftovers of a finished or killed run: temporary files of its writes, and its checkpoint
    once its result is stored. Only the holder of the key's claim may delete them."""
    ckpt = results / "ckpt" / f"{key}.pt"
    out = [t for p in (results / f"{key}.json", results / f"{key}.model.pt", ckpt) for t in temp_leftovers(p)]
    return out + [ckpt] * (ckpt.exists() and (results / f"{key}.json").exists())


def claim(results: Path, key: str):
    """A lock on the run's key: a second process on the same folder waits for the first.

    The OS releases the lock when its process ends, killed or not, so a claim never goes stale.
    """
    from filelock import FileLock
    (results / "locks").mkdir(exist_ok=True)
    return FileLock(results / "locks" / f"{key}.lock")
