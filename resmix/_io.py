"""Atomic file writes: a file is either its old version or its complete new one, never half.

Temporary files are named after their target (``<name>.<random><suffix>``), so whoever
owns the target (a run holding its key's claim) knows which leftovers are its own and
may delete them after a kill. Written files get the mode an ordinary ``open`` would
give (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.
"""
from __future__ import annotations

import os
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


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
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
