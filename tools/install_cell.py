"""Write the install cell as the first code cell of every chapter (book/py/*.py).

In Colab, or any fresh kernel, nothing provides ``resmix``: the cell installs it, pinned
to the version the book was built from, and does nothing where ``import resmix`` works
(the book build, nbmake, a clone with ``pip install -e .``). Where it installs from comes
from ``_config.yml``, from a source that exists once the book is published:

- with ``html.baseurl``: the wheel the built book ships,
  ``<baseurl>/_downloads/resmix-<version>-py3-none-any.whl`` (book/_ext/release_book.py);
- otherwise the release tag of the repository, ``git+<repository.url>@v<version>``
  (tools/release.py makes the tag).

The environment variable ``RESMIX_INSTALL_SOURCE`` (any URL pip takes: ``git+https://...@tag``,
``https://.../resmix-0.4.0-py3-none-any.whl``, ``file:///...whl``) overrides it in the reader's kernel.

Run after changing the repository url, the baseurl or the version (tools/release.py does it
for a release), then pair the notebooks:

    python tools/install_cell.py            # rewrites book/py/*.py (idempotent)
    python tools/install_cell.py --check    # exit 1 when a chapter's cell is missing or stale
    jupytext --sync book/*.ipynb
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# Colab or a fresh kernel: install resmix"  # first line: how the cell is recognised
HEADER = '# %% tags=["hide-input"]'  # readers see a collapsed cell; nbmake and the build run it

TEMPLATE = '''\
{marker}, the version this book was built with, when it is missing.
# tools/install_cell.py writes the source from _config.yml; RESMIX_INSTALL_SOURCE overrides it.
try:
    import resmix  # noqa: F401
except ImportError:
    import importlib, os, subprocess, sys  # noqa: E401
    source = os.environ.get("RESMIX_INSTALL_SOURCE", "{source}")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"resmix[book] @ {{source}}"])
    importlib.invalidate_caches()'''


def version(root: Path = ROOT) -> str:
    """``resmix._version.__version__``, read as text so the tool works without resmix installed."""
    text = (root / "resmix" / "_version.py").read_text()
    return re.search(r'__version__\s*=\s*"([^"]+)"', text).group(1)


def repository_url(root: Path = ROOT) -> str:
    """``repository.url`` of ``_config.yml`` (the same url the book's buttons use)."""
    import yaml
    url = (yaml.safe_load((root / "_config.yml").read_text()).get("repository") or {}).get("url")
    if not url:
        raise ValueError(f"{root / '_config.yml'} has no repository.url; set it to the repository readers install from")
    return url.rstrip("/")


def baseurl(root: Path = ROOT) -> str | None:
    """``html.baseurl`` of ``_config.yml`` (where the book is published), or ``None``."""
    import yaml
    url = (yaml.safe_load((root / "_config.yml").read_text()).get("html") or {}).get("baseurl")
    return url.rstrip("/") + "/" if url else None


def wheel_name(v: str) -> str:
    """The file name of resmix ``v``'s wheel (as book/_ext/release_book.py ships it)."""
    return f"resmix-{v}-py3-none-any.whl"


_CONFIGURED = object()


def install_source(root: Path = ROOT, base: str | None | object = _CONFIGURED) -> str:
    """The pip URL the cell installs from.

    The book's own wheel under ``<base>/_downloads/`` when there is a base url (by default
    ``html.baseurl``), else the release tag ``v<version>`` of the repository.
    """
    base = baseurl(root) if base is _CONFIGURED else base
    if base:
        return f"{base.rstrip('/')}/_downloads/{wheel_name(version(root))}"
    return f"git+{repository_url(root)}@v{version(root)}"


def cell_source(root: Path = ROOT, base: str | None | object = _CONFIGURED) -> str:
    """The install cell's code, without its ``# %%`` header (``base``: as for :func:`install_source`)."""
    return TEMPLATE.format(marker=MARKER, source=install_source(root, base))


def write_cells(root: Path = ROOT, check: bool = False, paths: list[Path] | None = None) -> list[Path]:
    """Write the current cell into the chapters (default ``root/book/py/*.py``).

    Returns the chapters that were stale (with ``check``: that are, left unchanged).
    """
    source = cell_source(root)
    stale = []
    for path in paths or sorted((root / "book" / "py").glob("*.py")):
        text = path.read_text()
        new = with_install_cell(text, source)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new)
    return stale


def _cells(text: str) -> list[tuple[int, str]]:
    """(line index, header) of every ``# %%`` cell header in a py:percent file."""
    return [(i, line) for i, line in enumerate(text.splitlines()) if line.startswith("# %%")]


def first_code_cell(text: str) -> str:
    """The source of the first code cell of a py:percent file (stripped)."""
    lines = text.splitlines()
    heads = _cells(text)
    for k, (i, head) in enumerate(heads):
        if "[markdown]" not in head and "[md]" not in head and "[raw]" not in head:
            end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
            return "\n".join(lines[i + 1:end]).strip()
    raise ValueError("no code cell")


def with_install_cell(text: str, source: str) -> str:
    """``text`` with the install cell as its first code cell: replaced if present, else inserted."""
    lines = text.splitlines()
    heads = _cells(text)
    block = [HEADER, *source.splitlines(), ""]
    for k, (i, head) in enumerate(heads):
        if "[markdown]" in head or "[md]" in head or "[raw]" in head:
            continue
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        if i + 1 < len(lines) and lines[i + 1].startswith(MARKER):
            lines[i:end] = block
        else:
            lines[i:i] = block
        return "\n".join(lines) + "\n"
    raise ValueError("no code cell to put the install cell before")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report chapters whose cell is missing or stale")
    ap.add_argument("paths", nargs="*", type=Path, help="py:percent chapters (default: book/py/*.py)")
    args = ap.parse_args(argv)
    stale = write_cells(check=args.check, paths=args.paths)
    verb = "stale" if args.check else "updated"
    for path in stale:
        print(f"{verb}: {path}")
    if stale and not args.check:
        print("now pair the notebooks: jupytext --sync book/*.ipynb")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
