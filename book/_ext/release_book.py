"""Make the built book a release readers can launch, install, download and cite.

1. The package's wheel, built from this checkout (the code the chapters ran), is written to
   ``_downloads/resmix-<version>-py3-none-any.whl`` of the built book when the build starts
   (a build that cannot make it fails at once, not after the chapters ran). The chapters'
   install cell installs it from ``<html.baseurl>/_downloads/`` when ``_config.yml`` has
   ``html.baseurl`` (``tools/install_cell.py``), and the offline zip of the book holds it.
2. The launch buttons (Colab) open each notebook at the release tag ``v<version>``, the
   commit whose install cells pin that same version, unless ``_config.yml`` sets
   ``repository.branch`` itself: sphinx-book-theme builds the Colab link as
   ``<colab>/github/<org>/<repo>/blob/<repository_branch>/<path>``, and Jupyter Book would
   otherwise fill in its default branch, ``master``.
3. The per-page download of a chapter is its executed notebook: sphinx-book-theme links
   ``_sources/<page>.ipynb``, which Sphinx fills with the unexecuted source; when the build
   has finished, it is replaced by myst-nb's executed copy from ``jupyter_execute/``.
4. Citing: the substitutions ``{{ resmix_version }}`` and ``{{ resmix_wheel_link }}`` and the
   ``{resmix-citation}`` directive (a BibTeX entry from ``CITATION.cff`` at this version).

The version is read from ``resmix/_version.py``, the one place it is written.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOWNLOADS = "_downloads"
# what the wheel is built from: the package and the files pyproject.toml names
WHEEL_SOURCES = ("resmix", "pyproject.toml", "README.md", "LICENSE")


def version(root: Path) -> str:
    """``__version__`` of ``root/resmix/_version.py``, read as text (no import of resmix or torch)."""
    path = root / "resmix" / "_version.py"
    found = re.search(r'^__version__\s*=\s*"([^"]+)"', path.read_text(), re.M)
    if not found:
        raise ValueError(f'{path} has no line __version__ = "x.y.z"')
    return found.group(1)


def wheel_name(v: str) -> str:
    """The file name pip gives a pure-Python wheel of resmix ``v``."""
    return f"resmix-{v}-py3-none-any.whl"


def build_wheel(root: Path, out: Path, version_override: str | None = None) -> Path:
    """Build the wheel of the checkout ``root`` into ``out``; return its path.

    Built from a copy of the package's sources, so the checkout gets no ``build/`` or
    ``*.egg-info``; without network (``--no-build-isolation``: this environment's setuptools).
    ``version_override`` writes another version into the copy (a release's dry run).
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="resmix-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in WHEEL_SOURCES:
            if (root / name).is_dir():
                shutil.copytree(root / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif (root / name).is_file():
                shutil.copy2(root / name, src / name)
            else:
                raise FileNotFoundError(f"{root / name} is missing; the wheel is built from {', '.join(WHEEL_SOURCES)}")
        if version_override is not None:
            vfile = src / "resmix" / "_version.py"
            vfile.write_text(re.sub(r'^__version__\s*=\s*"[^"]+"', f'__version__ = "{version_override}"',
                                    vfile.read_text(), flags=re.M))
        v = version(src)
        built = Path(tmp) / "dist"
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                               "--no-index", "-w", str(built), str(src)], capture_output=True, text=True)
        wheel = built / wheel_name(v)
        if done.returncode or not wheel.exists():
            raise RuntimeError(f"building {wheel_name(v)} failed (pip wheel exit {done.returncode}; it needs "
                               f"setuptools>=77 in this environment):\n{done.stdout}{done.stderr}")
        target = out / wheel.name
        tmp_target = target.with_name(target.name + ".tmp")
        shutil.copy2(wheel, tmp_target)
        tmp_target.replace(target)
    return target


def ship_wheel(root: Path, html: Path) -> Path:
    """The checkout's wheel in ``html/_downloads``, replacing wheels of other versions (build outputs)."""
    downloads = html / DOWNLOADS
    wheel = build_wheel(root, downloads)
    for old in downloads.glob("resmix-*.whl"):
        if old != wheel:
            old.unlink()
    return wheel


def citation_bibtex(cff: dict, v: str) -> str:
    """A BibTeX ``@software`` entry for resmix ``v`` from a parsed ``CITATION.cff``."""
    authors = " and ".join("{" + a["name"] + "}" if "name" in a else f"{a['family-names']}, {a['given-names']}"
                           for a in cff["authors"])
    fields = {"title": cff["title"], "author": authors, "version": v,
              "url": cff.get("repository-code") or cff.get("url", "")}
    if cff.get("date-released") and cff.get("version") == v:
        fields["year"] = str(cff["date-released"])[:4]
    key = "resmix" + v.replace(".", "")
    body = ",\n".join(f"  {k} = {{{val}}}" for k, val in fields.items() if val)
    return f"@software{{{key},\n{body}\n}}"


def _root(app) -> Path:
    return Path(app.srcdir)


def configured_branch(root: Path) -> str | None:
    """``repository.branch`` as ``root/_config.yml`` writes it, or ``None``.

    Read from the file because Jupyter Book fills a missing branch with its default
    ("master") before any extension sees the configuration.
    """
    import yaml
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    return (config.get("repository") or {}).get("branch")


def _set_release(app, config) -> None:
    root = _root(app)
    v = version(root)
    config.html_theme_options["repository_branch"] = configured_branch(root) or f"v{v}"
    link = f'<a href="../{DOWNLOADS}/{wheel_name(v)}">{wheel_name(v)}</a>'
    config.myst_substitutions = {**config.myst_substitutions, "resmix_version": v, "resmix_wheel_link": link}


def _wheel_first(app) -> None:
    if app.builder.format == "html":
        ship_wheel(_root(app), Path(app.outdir))


def _build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        # the executed notebooks as downloads: offline_book's build-finished does it
        wheel = Path(app.outdir) / DOWNLOADS / wheel_name(version(_root(app)))
        if not wheel.exists():
            raise RuntimeError(f"{wheel} disappeared during the build; the book must ship it")


def _citation_directive():
    import yaml
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class Citation(SphinxDirective):
        """``{resmix-citation}``: the BibTeX entry of this version, from ``CITATION.cff``."""

        def run(self):
            root = Path(self.env.srcdir)
            self.env.note_dependency(str(root / "CITATION.cff"))
            text = citation_bibtex(yaml.safe_load((root / "CITATION.cff").read_text()), version(root))
            block = nodes.literal_block(text, text, language="bibtex")
            return [block]

    return Citation


def setup(app):
    app.connect("config-inited", _set_release)
    app.connect("builder-inited", _wheel_first)
    # before offline_book's zips (priority 500), so the offline HTML zip holds the wheel and the
    # executed notebooks
    app.connect("build-finished", _build_finished, priority=400)
    app.add_directive("resmix-citation", _citation_directive())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
