"""Atomic file writes: a file is either its old version or its complete new one, never half.

Temporary files are named after their target (``<name>.<random><suffix>``), so whoever
owns the target (a run holding its key's claim) knows which leftovers are its own and
may delete them after a kill. Written files get the mode an ordinary ``open`` would
give (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``. A write that fails
because the disk is full raises :class:`DiskFullError` naming the file, whichever writer
(``json.dump``, ``torch.save``, ``soundfile``) it came from.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class DamagedFileWarning(UserWarning):
    """A stored file could not be read; it was set aside (renamed, not deleted)."""


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


class DiskFullError(OSError):
    """A write ran out of space (``ENOSPC``, or over quota); the message names the file and the free space."""


_FULL = (errno.ENOSPC, errno.EDQUOT)
# torch.save's zip writer reports a short write as "[enforce fail at inline_container.cc:...] unexpected pos"
# (or "PytorchStreamWriter failed writing file"), without the errno or the path
_SHORT_WRITE = ("unexpected pos", "PytorchStreamWriter failed writing")


def _disk_full(path: Path, error: BaseException) -> DiskFullError | None:
    """The :class:`DiskFullError` that ``error`` (raised while writing ``path``) stands for, or None."""
    full = isinstance(error, OSError) and error.errno in _FULL
    short = isinstance(error, RuntimeError) and any(m in str(error) for m in _SHORT_WRITE)
    if not (full or short):
        return None
    try:
        free = f"{shutil.disk_usage(path.parent).free / 1e6:.1f} MB free there"
    except OSError:
        free = "free space unknown"
    how = "no space left on the device or over quota" if full else "the write stopped short"
    return DiskFullError(errno.ENOSPC, f"could not write {path}: disk full ({how}; {free}); the old file, if any, "
                                       f"is kept: free some space and run again ({type(error).__name__}: {error})")


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    A full disk (while writing the temporary file, or ``mkstemp`` itself) raises :class:`DiskFullError`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as e:
        raise (_disk_full(path, e) or e) from e
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        full = _disk_full(path, e)
        if full is None:
            raise
        raise full from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def temp_leftovers(path: str | os.PathLike) -> list[Path]:
    """Temporary files that :func:`atomic_path` left beside ``path`` when its writer was killed.

    Only the owner of ``path`` may delete them: another process may be writing one now.
    """
    path = Path(path)
    return sorted(path.parent.glob(f"{path.name}.*.tmp")) if path.parent.is_dir() else []


def set_aside(path: str | os.PathLike, cause: str) -> Path:
    """Rename a damaged ``path`` to ``<name>.damaged`` (or ``.damaged1``, ...), with a warning.

    Nothing is deleted. Where the folder is read-only the file stays, and the warning says so.
    """
    path = Path(path)
    aside = path.with_name(path.name + ".damaged")
    i = 0
    while aside.exists():
        i += 1
        aside = path.with_name(f"{path.name}.damaged{i}")
    try:
        os.replace(path, aside)
    except OSError as e:
        warnings.warn(f"{path}: {cause}; could not set it aside ({e.strerror or e})", DamagedFileWarning,
                      stacklevel=3)
        return path
    warnings.warn(f"{path}: {cause}; set aside as {aside.name}", DamagedFileWarning, stacklevel=3)
    return aside
