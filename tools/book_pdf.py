"""Print the built book to one PDF: every page of ``_toc.yml`` in order, with Chromium, merged.

    python tools/book_pdf.py            # after `jupyter-book build .`: writes _build/html/_downloads/resmix-book.pdf

The book is served on 127.0.0.1 and opened in the system's headless Chromium through
Playwright, the browser the browser tests use (``RESMIX_CHROMIUM`` picks another binary), with
requests to other hosts blocked. Each page is printed (``page.pdf``, the print stylesheet,
backgrounds on) once its images have loaded and MathJax has finished typesetting, then the
pages are merged with pypdf, one bookmark per page. Without Chromium or Playwright it says so
and writes nothing (exit 0), so `make book` works without them; the introduction's link to the
PDF then points nowhere, and the browser tests (which need Chromium too) skip.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
PDF_NAME = "resmix-book.pdf"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Wait for the page to be what a reader sees: images decoded, MathJax's typesetting done.
READY_JS = """async () => {
  await Promise.all([...document.images].map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) await MathJax.typesetPromise();
  }
  return document.querySelectorAll('.math:not(:has(mjx-container))').length;
}"""


def chromium_path() -> str | None:
    for candidate in (os.environ.get("RESMIX_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def toc_docnames(root: Path = ROOT) -> list[str]:
    """The documents of ``_toc.yml`` in reading order (root first, then every chapter and its sections)."""
    import yaml
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                names.append(e["file"])
            walk(e.get("sections"))
            walk(e.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [str(Path(n).with_suffix("")) if Path(n).suffix in {".md", ".ipynb"} else n for n in names]


def merge(parts: list[tuple[str, Path]], out: Path) -> int:
    """Merge ``[(title, pdf), ...]`` into ``out`` (written atomically) with one bookmark per part; returns the page count."""
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter()
    for title, path in parts:
        start = len(writer.pages)
        for page in PdfReader(path).pages:
            writer.add_page(page)
        writer.add_outline_item(title=title, page_number=start)
    writer.add_metadata({"/Title": "resmix: when residual shortcuts leak"})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        writer.write(f)
    tmp.replace(out)
    return len(writer.pages)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(site: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def print_book(site: Path = SITE, out: Path | None = None, root: Path = ROOT) -> tuple[Path, int] | None:
    """Print every page of the book to ``out`` (default ``site/_downloads/resmix-book.pdf``).

    Returns ``(out, pages)``, or None when Chromium or Playwright is missing.
    """
    out = out or site / "_downloads" / PDF_NAME
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if path is None or sync_playwright is None:
        return None
    docs = toc_docnames(root)
    missing = [d for d in docs if not (site / f"{d}.html").exists()]
    if missing:
        raise FileNotFoundError(f"the built book at {site} lacks pages of _toc.yml: {missing}; build it first")
    with tempfile.TemporaryDirectory() as tmp, serve(site) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1000, "height": 1400})
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith((base, "data:", "blob:")) else r.abort())
        page = context.new_page()
        parts = []
        for i, doc in enumerate(docs):
            page.goto(f"{base}/{doc}.html", wait_until="load")
            raw = page.evaluate(READY_JS)
            if raw:
                raise RuntimeError(f"{doc}: {raw} equations left untypeset; the PDF would show raw TeX")
            page.emulate_media(media="print")
            target = Path(tmp) / f"{i:03d}.pdf"
            page.pdf(path=str(target), format="A4", print_background=True,
                     margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
            page.emulate_media(media="screen")
            parts.append((page.title().split(" — ")[0].split(" | ")[0].strip() or doc, target))
        browser.close()
        return out, merge(parts, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", type=Path, default=SITE, help="the built HTML book (default: _build/html)")
    ap.add_argument("--out", type=Path, help=f"the PDF (default: SITE/_downloads/{PDF_NAME})")
    args = ap.parse_args(argv)
    done = print_book(args.site, args.out)
    if done is None:
        print("book_pdf: no Chromium or Playwright here (Debian: apt-get install chromium; "
              "pip install -r requirements-dev.txt); the whole-book PDF was not written", file=sys.stderr)
        return 0
    print(f"book_pdf: {done[1]} pages -> {done[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
