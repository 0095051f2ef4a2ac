"""Make the rendered book work offline, as the browser tests require.

1. MathJax: serve MathJax 3 from the built book instead of a CDN. It comes from the
   ``django-static-mathjax`` wheel (no dependencies; the name is historical); its
   ``tex-svg.js`` is one file with the fonts inside, so copying it into ``_static`` is enough.
2. Thebe: Jupyter Book 1 adds sphinx-thebe's inline config script twice, which raises
   "Identifier 'THEBE_JS_URL' has already been declared" on every page. Thebe needs a
   remote kernel and this book launches none (Colab is its launch button), so its scripts
   are dropped from the pages.
3. Downloads for offline reading: when the build has finished, the executed notebooks and
   the whole HTML book are zipped into ``_downloads/`` of the built book, which the
   introduction links to (``resmix-notebooks.zip``, ``resmix-book-html.zip``). The whole
   book as one PDF (``resmix-book.pdf``) is printed after the build by ``tools/book_pdf.py``.
4. Per-page downloads of the executed notebook: sphinx-book-theme's download button links a
   notebook page's ``.ipynb`` to its copy under ``_sources/``, which Sphinx takes from the
   unexecuted source; it is replaced by the executed notebook, and the button says so.
5. The page as a reader sees it: ``resmix.css`` (beside this file) makes code and output
   wrap, wide equations and tables scroll inside the column, and figures fit it.
"""
from __future__ import annotations

import shutil
import zipfile
from importlib.util import find_spec
from pathlib import Path

DOWNLOADS = "_downloads"  # a folder of the built book; Sphinx puts {download} files there too
NOTEBOOKS_ZIP = "resmix-notebooks.zip"
HTML_ZIP = "resmix-book-html.zip"


HERE = Path(__file__).resolve().parent
CSS = "resmix.css"
EXECUTED_TOOLTIP = "Download the executed notebook (with its outputs)"


def _copy_mathjax(app, config) -> None:
    spec = find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax for offline math is missing: pip install django-static-mathjax")
    source = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5" / "tex-svg.js"
    static = Path(app.outdir).parent / "_offline_static"
    (static / "mathjax").mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, static / "mathjax" / "tex-svg.js")
    shutil.copy2(HERE / CSS, static / CSS)
    config.html_static_path = list(config.html_static_path) + [str(static)]
    config.mathjax_path = "mathjax/tex-svg.js"


def _is_thebe(script) -> bool:
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "sphinx-thebe" in str(script) or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]


def _label_executed_download(app, pagename, templatename, context, doctree) -> None:
    """Say on a notebook page's download button that its .ipynb is the executed notebook."""
    if context.get("page_source_suffix") != ".ipynb":
        return
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("label") == "download-source-button":
                button["tooltip"], button["text"] = EXECUTED_TOOLTIP, ".ipynb (executed)"


def executed_sources(html: Path, executed: Path) -> list[Path]:
    """Replace each notebook under ``html/_sources`` by its executed twin in ``executed`` (same relative path).

    Returns the files replaced. A notebook with no executed twin is left as it is.
    """
    replaced = []
    sources = html / "_sources"
    for src in sorted(sources.rglob("*.ipynb*")) if sources.exists() else []:
        rel = src.relative_to(sources)
        name = rel.name[:rel.name.index(".ipynb") + len(".ipynb")]  # Sphinx may append a link suffix (.txt)
        twin = executed / rel.parent / name
        if twin.exists():
            tmp = src.with_name(src.name + ".tmp")
            shutil.copy2(twin, tmp)
            tmp.replace(src)
            replaced.append(src)
    return replaced


def _zip(files: list[tuple[Path, str]], target: Path) -> None:
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path, name in sorted(files, key=lambda f: f[1]):
            z.write(path, name)
    tmp.replace(target)


def zip_downloads(html: Path, executed: Path) -> tuple[Path, Path]:
    """Zip the executed notebooks (``executed/**/*.ipynb``) and the book ``html`` into ``html/_downloads``.

    The HTML zip unpacks to a folder ``resmix-book/`` whose ``index.html`` opens offline.
    Returns the two zip files.
    """
    out = html / DOWNLOADS
    out.mkdir(parents=True, exist_ok=True)
    notebooks = [(p, f"resmix-notebooks/{p.name}") for p in executed.rglob("*.ipynb")]
    _zip(notebooks, out / NOTEBOOKS_ZIP)
    pages = [(p, f"resmix-book/{p.relative_to(html).as_posix()}") for p in html.rglob("*")
             if p.is_file() and p != out / HTML_ZIP and p.suffix != ".tmp"]
    _zip(pages, out / HTML_ZIP)
    return out / NOTEBOOKS_ZIP, out / HTML_ZIP


def _build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        # the book's stylesheet, current: Sphinx leaves an older copy in place in a rebuild
        (Path(app.outdir) / "_static").mkdir(parents=True, exist_ok=True)
        shutil.copy2(HERE / CSS, Path(app.outdir) / "_static" / CSS)
        executed_sources(Path(app.outdir), Path(app.outdir).parent / "jupyter_execute")
        zip_downloads(Path(app.outdir), Path(app.outdir).parent / "jupyter_execute")


def setup(app):
    app.connect("config-inited", _copy_mathjax)
    app.add_css_file(CSS)
    app.connect("html-page-context", _drop_thebe)
    app.connect("html-page-context", _label_executed_download, priority=900)  # after the theme's buttons
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
