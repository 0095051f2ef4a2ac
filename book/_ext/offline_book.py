"""Make the rendered book work offline, as the browser tests require.

1. MathJax: serve MathJax 3 from the built book instead of a CDN. It comes from the
   ``django-static-mathjax`` wheel (no dependencies; the name is historical); its
   ``tex-svg.js`` is one file with the fonts inside, so copying it into ``_static`` is enough.
2. Thebe: Jupyter Book 1 adds sphinx-thebe's inline config script twice, which raises
   "Identifier 'THEBE_JS_URL' has already been declared" on every page. Thebe needs a
   remote kernel and this book launches none (Colab is its launch button), so its scripts
   are dropped from the pages.
"""
from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path


def _copy_mathjax(app, config) -> None:
    spec = find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax for offline math is missing: pip install django-static-mathjax")
    source = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5" / "tex-svg.js"
    static = Path(app.outdir).parent / "_offline_static"
    (static / "mathjax").mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, static / "mathjax" / "tex-svg.js")
    config.html_static_path = list(config.html_static_path) + [str(static)]
    config.mathjax_path = "mathjax/tex-svg.js"


def _is_thebe(script) -> bool:
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "sphinx-thebe" in str(script) or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]


def setup(app):
    app.connect("config-inited", _copy_mathjax)
    app.connect("html-page-context", _drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
