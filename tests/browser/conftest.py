"""Fixtures for the browser tests: the built book served on 127.0.0.1, and headless Chromium.

Run after building the book (``make test`` does both). Chromium comes from the system
(Debian: ``apt-get install chromium``), never downloaded; set ``RESMIX_CHROMIUM`` to use
another binary.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from book_pdf import PDF_NAME, READY_JS, toc_docnames  # noqa: E402,F401  (the PDF's page list is the tests' too)

SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("RESMIX_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def book_pages() -> list[Path]:
    """Every page of the book: the documents the table of contents lists, as built HTML, in reading order."""
    return [SITE / f"{d}.html" for d in toc_docnames(ROOT)]


def shot_name(path: Path, suffix: str = "") -> str:
    """A screenshot's file name: the page's path under book/ (api/config -> api-config), then a suffix."""
    rel = path.relative_to(SITE / "book").with_suffix("") if path.is_relative_to(SITE / "book") else Path(path.stem)
    return "-".join(rel.parts) + suffix + ".png"


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "book" / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` (or jupyter-book build .) first")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SITE


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def base_url(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found: install it (Debian/Ubuntu: apt-get install chromium) "
                    "or set RESMIX_CHROMIUM to a Chromium binary")
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements-dev.txt")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
