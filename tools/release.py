"""Release resmix VERSION in one command: checked, bumped, built, recorded and tagged.

    python tools/release.py 0.4.0 --dry-run   # every check and the plan; changes nothing
    python tools/release.py 0.4.0             # = make release VERSION=0.4.0

In order, stopping at the first failure:

1. checks: VERSION is x.y.z and not below the current one, the tag v<VERSION> is new, the
   working tree is clean, CHANGELOG.md has an "## Unreleased" section with entries, and every
   resmix name the chapters use (``book/py/*.py``: ``from resmix.x import y``, ``import
   resmix.x``, ``resmix.x.y``, ``x.y`` after ``from resmix import x``) exists in the package
   as it is in this checkout, which is the code the release will hold (a static check: the
   package's and the chapters' source are parsed, nothing is imported);
2. the version is written in its one place, ``resmix/_version.py``; the chapters' install
   cells (tools/install_cell.py, then ``jupytext --sync``) and CITATION.cff follow it;
3. CHANGELOG.md: "## Unreleased" becomes "## <VERSION> (<date>)" and a new empty
   "## Unreleased" goes above it;
4. the wheel is built into ``dist/`` (as the book ships it, book/_ext/release_book.py);
5. one commit "Release <VERSION>" and an annotated tag ``v<VERSION>``.

Then build the book from the tag (``make book``: the wheel lands in its ``_downloads/``, the
Colab buttons open the tag) and push: ``git push origin HEAD v<VERSION>``.
"""
from __future__ import annotations

import argparse
import ast
import datetime as dt
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "book" / "_ext")]
import install_cell  # noqa: E402
import release_book  # noqa: E402

VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
UNRELEASED_RE = re.compile(r"^## Unreleased[^\n]*\n", re.M)


class ReleaseError(RuntimeError):
    """A check failed; the message says what was expected and what was found."""


# --- the chapters' use of the package -------------------------------------------------------

@dataclass(frozen=True)
class Use:
    """A resmix name a chapter uses: ``module.name`` (``name`` empty for an import of the module)."""

    path: Path
    line: int
    module: str  # "resmix" or "resmix.<module>"
    name: str

    def __str__(self) -> str:
        what = f"{self.module}.{self.name}" if self.name else self.module
        return f"{self.path.name}:{self.line}: {what}"


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module defines at its top level (also inside top-level if/try blocks)."""
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    targets(t)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets(node.target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(block)
    visit(tree.body)
    return names


def package_api(root: Path = ROOT) -> dict[str, set[str]]:
    """``{"resmix": names, "resmix.<layer>": names, "resmix.<layer>.<module>": names}`` of the package's
    source in ``root/resmix`` (a subpackage's names are those its ``__init__`` binds)."""
    api = {}
    for path in sorted((root / "resmix").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        api[module] = _top_level_names(ast.parse(path.read_text(), str(path)))
    if "resmix" not in api:
        raise ReleaseError(f"{root / 'resmix' / '__init__.py'} is missing: no package to check against")
    return api


def chapter_uses(path: Path, modules: set[str]) -> list[Use]:
    """Every resmix name the chapter ``path`` (py:percent) imports or reads as an attribute.

    ``modules`` are the package's module names, to tell ``from resmix import plots`` (a
    module, whose attributes are then checked) from ``from resmix import train`` (a function).
    """
    tree = ast.parse(path.read_text(), str(path))
    aliases: dict[str, str] = {}  # local name -> module it is bound to
    uses: list[Use] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "resmix" or a.name.startswith("resmix."):
                    uses.append(Use(path, node.lineno, a.name, ""))
                    aliases[a.asname or "resmix"] = a.name if a.asname else "resmix"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "resmix" or node.module.startswith("resmix.")):
            uses.append(Use(path, node.lineno, node.module, ""))
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                if sub in modules:
                    aliases[a.asname or a.name] = sub
                else:
                    uses.append(Use(path, node.lineno, node.module, a.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, base = [], node
            while isinstance(base, ast.Attribute):
                chain.insert(0, base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases and chain:
                module = aliases[base.id]
                while chain and f"{module}.{chain[0]}" in modules:  # resmix.study.grids.run_groups
                    module = f"{module}.{chain.pop(0)}"
                if chain:  # ast.walk visits a.b and a.b.c alike: the set below keeps one use per name
                    uses.append(Use(path, node.lineno, module, chain[0]))
    return sorted(set(uses), key=lambda u: (u.line, u.module, u.name))


def missing_api(root: Path = ROOT, chapters: list[Path] | None = None) -> list[Use]:
    """The uses in ``chapters`` (default ``root/book/py/*.py``) of names the package at ``root`` lacks."""
    api = package_api(root)
    modules = set(api)
    missing = []
    for path in chapters or sorted((root / "book" / "py").glob("*.py")):
        for use in chapter_uses(path, modules):
            if use.module not in api or (use.name and use.name not in api[use.module]):
                missing.append(use)
    return list(dict.fromkeys(missing))


# --- the files a release rewrites -----------------------------------------------------------

def parse_version(text: str) -> tuple[int, int, int]:
    found = VERSION_RE.match(text)
    if not found:
        raise ReleaseError(f"the version must be MAJOR.MINOR.PATCH, e.g. 0.4.0; got {text!r}")
    return tuple(int(g) for g in found.groups())  # type: ignore[return-value]


def with_version(text: str, version: str) -> str:
    """``resmix/_version.py``'s text with ``__version__ = "<version>"``."""
    new, n = re.subn(r'^__version__\s*=\s*"[^"]*"', f'__version__ = "{version}"', text, flags=re.M)
    if n != 1:
        raise ReleaseError(f'resmix/_version.py must hold exactly one line __version__ = "x.y.z"; found {n}')
    return new


def changelog_entries(text: str) -> str:
    """The text of CHANGELOG.md's "## Unreleased" section (between its header and the next "## ")."""
    found = UNRELEASED_RE.search(text)
    if not found:
        raise ReleaseError('CHANGELOG.md has no "## Unreleased" section; write what this release changes there first')
    rest = text[found.end():]
    following = re.search(r"^## ", rest, re.M)
    return rest[:following.start() if following else len(rest)].strip()


def with_release_header(text: str, version: str, date: dt.date) -> str:
    """CHANGELOG.md with "## Unreleased..." retitled "## <version> (<date>)" under a new empty "## Unreleased"."""
    if not changelog_entries(text):
        raise ReleaseError('CHANGELOG.md\'s "## Unreleased" section is empty; say what this release changes')
    if re.search(rf"^## {re.escape(version)}\b", text, re.M):
        raise ReleaseError(f"CHANGELOG.md already has a section for {version}")
    return UNRELEASED_RE.sub(f"## Unreleased\n\n## {version} ({date.isoformat()})\n", text, count=1)


def with_citation_version(text: str, version: str, date: dt.date) -> str:
    """CITATION.cff's text with ``version`` and ``date-released`` of this release (other lines untouched)."""
    for key, value in (("version", version), ("date-released", date.isoformat())):
        text, n = re.subn(rf'^{key}:.*$', f'{key}: "{value}"', text, flags=re.M)
        if n != 1:
            raise ReleaseError(f"CITATION.cff must hold one top-level '{key}:' line; found {n}")
    return text


# --- git ------------------------------------------------------------------------------------

def _git(root: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if check and done.returncode:
        raise ReleaseError(f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def _tag_exists(root: Path, tag: str) -> bool:
    return subprocess.run(["git", "rev-parse", "-q", "--verify", f"refs/tags/{tag}"], cwd=root,
                          capture_output=True).returncode == 0


def _sync_notebooks(root: Path) -> None:
    notebooks = [str(p) for p in sorted((root / "book").glob("*.ipynb"))]
    done = subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", *notebooks], cwd=root,
                          capture_output=True, text=True)
    if done.returncode:
        raise ReleaseError(f"jupytext --sync failed:\n{done.stdout}{done.stderr}")


# --- the release ----------------------------------------------------------------------------

def check(root: Path, version: str, dirty_ok: bool = False) -> list[str]:
    """Every check of a release of ``version`` from ``root``; returns the problems found (empty: go)."""
    problems = []
    current = install_cell.version(root)
    try:
        if parse_version(version) < parse_version(current):
            problems.append(f"{version} is below the current version {current}")
    except ReleaseError as e:
        problems.append(str(e))
    if _tag_exists(root, f"v{version}"):
        problems.append(f"the tag v{version} exists already")
    status = _git(root, "status", "--porcelain")
    if status and not dirty_ok:
        problems.append("the working tree has uncommitted changes (commit or stash them):\n  "
                        + "\n  ".join(status.splitlines()[:10]))
    try:
        changelog = (root / "CHANGELOG.md").read_text()
        if not changelog_entries(changelog):
            problems.append('CHANGELOG.md\'s "## Unreleased" section is empty; say what this release changes')
    except (FileNotFoundError, ReleaseError) as e:
        problems.append(str(e))
    missing = missing_api(root)
    if missing:
        problems.append(f"the chapters use names that resmix {current} (this checkout) does not have:\n  "
                        + "\n  ".join(str(u) for u in missing))
    return problems


def release(root: Path, version: str, dry_run: bool = False, date: dt.date | None = None) -> list[str]:
    """Release ``version`` from the checkout ``root``; returns the lines it reports.

    With ``dry_run`` every check runs and the wheel is built in a temporary folder, but no
    file, commit or tag is written.
    """
    date = date or dt.date.today()
    report = []
    problems = check(root, version)
    if problems:
        raise ReleaseError("cannot release:\n- " + "\n- ".join(problems))
    current = install_cell.version(root)
    tag = f"v{version}"
    report.append(f"checks passed: {version} >= {current}, {tag} is new, the tree is clean, the chapters "
                  f"use only names resmix has, CHANGELOG.md has entries for it")
    files = {
        "resmix/_version.py": with_version((root / "resmix/_version.py").read_text(), version),
        "CHANGELOG.md": with_release_header((root / "CHANGELOG.md").read_text(), version, date),
        "CITATION.cff": with_citation_version((root / "CITATION.cff").read_text(), version, date),
    }
    if dry_run:
        for name, text in files.items():
            report.append(f"would write {name}" + ("" if text != (root / name).read_text() else " (unchanged)"))
        with tempfile.TemporaryDirectory() as tmp:
            wheel = release_book.build_wheel(root, Path(tmp), version_override=version)
            report.append(f"would build dist/{wheel.name} (built and checked in a temporary folder)")
        report.append(f"would rewrite the chapters' install cells for {version} and pair the notebooks")
        report.append(f'would commit "Release {version}" and tag {tag} (annotated)')
        return report
    for name, text in files.items():
        (root / name).write_text(text)
    stale = install_cell.write_cells(root)
    _sync_notebooks(root)
    if install_cell.write_cells(root, check=True):
        raise ReleaseError("the install cells are still stale after rewriting them")
    report.append(f"wrote {', '.join(files)}; install cells of {len(stale)} chapters and their notebooks")
    wheel = release_book.build_wheel(root, root / "dist")
    if wheel.name != release_book.wheel_name(version):
        raise ReleaseError(f"built {wheel.name}; expected {release_book.wheel_name(version)}")
    report.append(f"built {wheel.relative_to(root)}")
    _git(root, "add", *files, "book")
    _git(root, "commit", "-q", "-m", f"Release {version}", "-m",
         f"The version, CHANGELOG.md's {version} section, CITATION.cff and the chapters' install cells "
         f"(tools/release.py).")
    _git(root, "tag", "-a", tag, "-m", f"resmix {version}")
    report.append(f'committed "Release {version}" ({_git(root, "rev-parse", "--short", "HEAD")}) and tagged {tag}')
    report.append(f"next: make book (the book of {tag}, its wheel in _build/html/_downloads), "
                  f"then git push origin HEAD {tag}")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("version", help="the new version, MAJOR.MINOR.PATCH (e.g. 0.4.0)")
    ap.add_argument("--dry-run", action="store_true", help="run every check and print the plan; change nothing")
    ap.add_argument("--check-api", action="store_true",
                    help="only check that the chapters use names the package has (exit 1 if not)")
    args = ap.parse_args(argv)
    if args.check_api:
        missing = missing_api(ROOT)
        for use in missing:
            print(f"missing: {use}", file=sys.stderr)
        return 1 if missing else 0
    try:
        for line in release(ROOT, args.version, dry_run=args.dry_run):
            print(line)
    except ReleaseError as e:
        print(f"release {args.version}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
