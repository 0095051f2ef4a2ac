"""The results store's safety: claims on run keys, damaged and stale files, a usable folder.

A results folder holds ``<key>.json`` (a run's :class:`~resmix.training.history.History`),
``<key>.model.pt`` (its weights), ``ckpt/<key>.pt`` (the checkpoint of a run in
progress) and ``locks/<key>.lock`` (its claim). :mod:`resmix.study` runs grids on it.

A stored result is served only after :func:`read_result` has checked it: readable UTF-8
JSON, the shape of a run (a valid experiment, non-empty numeric records numbered by epoch,
provenance) and settings that hash to the key it is stored under. Anything else is set
aside as ``<name>.damaged`` with a :class:`~resmix._io.DamagedFileWarning` and recomputed,
so no file blocks a grid until someone deletes it.
"""
from __future__ import annotations

import json
import numbers
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from resmix._io import DamagedFileWarning, set_aside, temp_leftovers
from resmix._version import __version__
from resmix.config import Experiment
from resmix.training.history import History

from .keys import UNRECORDED_NUMERICS, settings_key


class StoreError(OSError):
    """A results folder cannot be used (not a directory, or not writable)."""


KEY_NAME = re.compile(r"[0-9a-f]{16}\.json")  # what run_key names a result file
# what the package reads from every stored record (the CLI's summary line, the protocol's rules)
REQUIRED_METRICS = ("epoch", "val_rms_ratio_db", "val_corr_target", "val_corr_input")


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
    for sub in ("locks", "ckpt"):  # a file in their place failed every run with FileExistsError
        if (results / sub).exists() and not (results / sub).is_dir():
            set_aside(results / sub, f"a file where the store keeps its {sub} folder")


class _Unusable(ValueError):
    """Why a stored file cannot be served (the reason given when it is set aside)."""


class _WrongKey(_Unusable):
    """A valid run stored under another run's key."""


def _read_json(path: Path) -> Any:
    """The JSON in ``path`` (``FileNotFoundError`` when absent); :class:`_Unusable` for whatever
    cannot be read as UTF-8 JSON: bytes of another encoding, a cut-short or nested-too-deep text, a
    directory or an unreadable file in its place."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(path) from None
    except OSError as e:  # a directory of that name, no permission to read, an I/O error
        raise _Unusable(f"unreadable ({type(e).__name__}: {e.strerror or e})") from None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise _Unusable(f"damaged result ({type(e).__name__}: {e})") from None


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _check_records(records: list, epochs: int) -> None:
    if not records:
        raise _Unusable("no records (a stored run has one per epoch)")
    if len(records) > epochs:
        raise _Unusable(f"{len(records)} records for a run of {epochs} epochs")
    keys = None
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise _Unusable(f"record {i + 1} is a {type(r).__name__}; expected an object of metrics")
        bad = [k for k, v in r.items() if not _number(v)]
        if bad:
            raise _Unusable(f"record {i + 1}: {bad[0]!r} is {r[bad[0]]!r}; expected a number")
        missing = [k for k in REQUIRED_METRICS if k not in r]
        if missing:
            raise _Unusable(f"record {i + 1} lacks {missing}")
        if keys is not None and set(r) != keys:
            raise _Unusable(f"record {i + 1} has other metrics than record 1 "
                            f"({sorted(set(r) ^ keys)[:3]} ...)")
        keys = set(r)
        if r["epoch"] != i + 1:
            raise _Unusable(f"record {i + 1} says epoch {r['epoch']!r}; expected {i + 1}")


def _history(d: Any, key: str | None) -> History:
    """The :class:`History` a stored JSON holds, checked; :class:`_Unusable` says why it cannot be served."""
    if not (isinstance(d, dict) and isinstance(d.get("experiment"), dict) and isinstance(d.get("records"), list)
            and isinstance(d.get("meta"), dict)):
        raise _Unusable("not a stored run (expected an object with experiment, records and meta)")
    try:
        exp = Experiment.from_dict(d["experiment"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # a missing section, unknown field, bad value
        raise _Unusable(f"its experiment is not valid ({type(e).__name__}: {e})") from None
    _check_records(d["records"], exp.train.epochs)
    meta = d["meta"]
    version = meta.get("resmix", __version__)
    if not isinstance(version, str):
        raise _Unusable(f"meta.resmix is {version!r}; expected a version string")
    if "seed" in meta and meta["seed"] != exp.train.seed:
        raise _Unusable(f"meta.seed {meta['seed']!r} differs from its experiment's train.seed {exp.train.seed}")
    numerics = meta.get("numerics", UNRECORDED_NUMERICS)
    if not isinstance(numerics, int) or isinstance(numerics, bool):
        raise _Unusable(f"meta.numerics is {numerics!r}; expected an integer revision")
    if key is not None and (own := settings_key(d["experiment"], version, numerics)) != key:
        raise _WrongKey(f"it holds the run of key {own} ({exp.name!r}), not of {key}: a copied, merged or "
                        "swapped file")
    return History(exp, d["records"], meta)


def read_result(path: Path, foreign: str = "set aside") -> History | None:
    """The :class:`History` stored at ``path``, checked before it is served; ``None`` when absent or unusable.

    Unusable (set aside as ``<name>.damaged`` with a :class:`~resmix._io.DamagedFileWarning`):
    bytes that are not UTF-8 JSON, a directory or unreadable file in its place, a run whose
    experiment is invalid (missing sections, unknown fields, out-of-range values), whose records
    are empty, non-numeric, unnumbered or more than its epochs, or whose settings do not hash to
    the key in its file name (a result copied over another run's). With ``foreign="skip"`` (a
    folder scan) a file not named like a key (``<16 hex digits>.json``) is never renamed: it is
    skipped with a warning and left untouched, whatever it holds.
    """
    name_is_key = bool(KEY_NAME.fullmatch(path.name))
    ours = foreign != "skip" or name_is_key
    try:
        d = _read_json(path)
        h = _history(d, path.stem if name_is_key else None)
        if not ours:
            own = settings_key(d["experiment"], h.meta.get("resmix", __version__), h.meta.get("numerics", UNRECORDED_NUMERICS))
            raise _Unusable(f"a run not stored under its key (that is {own}.json)")
        return h
    except FileNotFoundError:
        return None
    except _Unusable as e:
        if ours:
            set_aside(path, f"{e}; it will be recomputed")
            if isinstance(e, _WrongKey):  # the weights beside it came with it: keep them, apart
                weights = path.with_name(f"{path.stem}.model.pt")
                if weights.exists():
                    set_aside(weights, "the weights beside a result of another run's key")
        else:
            warnings.warn(f"{path}: {e}; skipped and left untouched", DamagedFileWarning, stacklevel=3)
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
    locks = results / "locks"
    if locks.exists() and not locks.is_dir():
        set_aside(locks, "a file where the store keeps its locks folder")
    locks.mkdir(exist_ok=True)
    if (locks / f"{key}.lock").is_dir():  # a folder of that name: IsADirectoryError on every run
        set_aside(locks / f"{key}.lock", "a folder in place of a run's lock file")
    return FileLock(locks / f"{key}.lock")
