"""Every page of the rendered book, opened in headless Chromium as a reader would, offline.

Requests to hosts other than the local server are blocked on purpose; everything a page
needs to display must come from the book itself.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from conftest import SHOTS, SITE, book_pages, shot_name

PAGES = book_pages()
NAMES = [p.relative_to(SITE).as_posix() for p in PAGES]
CHAPTERS = {n for n, p in zip(NAMES, PAGES) if re.match(r"\d\d_", p.name)}

AUDIO_JS = """async () => {
  const wait = a => new Promise(resolve => {
    if (a.readyState >= 1) return resolve(a.duration);
    a.addEventListener('loadedmetadata', () => resolve(a.duration), {once: true});
    a.addEventListener('error', () => resolve(-1), {once: true});
    setTimeout(() => resolve(-2), 10000);
    a.load();
  });
  return Promise.all([...document.querySelectorAll('audio')].map(wait));
}"""

IMAGES_JS = """async () => {
  const imgs = [...document.querySelectorAll('img')];
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  return imgs.map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt') || '', width: i.naturalWidth}));
}"""

WIDGETS_JS = """() => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')].map(s => {
  const cell = s.closest('.cell');
  const rendered = !!(cell && cell.querySelector('.jupyter-widgets, .widget-container'));
  let next = cell ? cell.nextElementSibling : null;
  while (next && !next.classList.contains('cell')) next = next.nextElementSibling;
  const twin = !!(next && next.querySelector('.cell_output img'));
  return {rendered, twin};
})"""


FIGURE_CELLS_JS = """() => [...document.querySelectorAll('.cell')]
  .filter(c => /plots\\.\\w+\\(/.test((c.querySelector('.cell_input') || {}).textContent || ''))
  .map(c => ({source: c.querySelector('.cell_input').textContent.slice(0, 60),
              shown: !!c.querySelector('.cell_output img')}))"""


TRY_IT_JS = """() => [...document.querySelectorAll('.cell.tag_try-it')].map(c => !!c.querySelector('.cell_output'))"""


@lru_cache(maxsize=None)
def _ids(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


def _router(base_url: str, blocked: list[str]):
    """Let the local server's requests through; abort and record every other host's."""
    def route(r):
        url = r.request.url
        if url.startswith(base_url) or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()
    return route


@pytest.fixture(scope="module")
def pages(browser, base_url):
    """Open every page once; keep what the checks need."""
    out = {}
    for path in PAGES:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        blocked, errors = [], []

        context.route("**/*", _router(base_url, blocked))
        page = context.new_page()
        page.on("pageerror", lambda e, errors=errors: errors.append(f"pageerror: {e}"))
        page.on("console", lambda m, errors=errors: errors.append(f"console: {m.text}") if m.type == "error" else None)
        url = f"{base_url}/{path.relative_to(SITE).as_posix()}"
        response = page.goto(url, wait_until="load")
        page.wait_for_timeout(500)  # MathJax typesets after load
        info = {
            "status": response.status if response else None,
            "blocked": blocked,
            "errors": errors,
            "images": page.evaluate(IMAGES_JS),
            "audio": page.evaluate(AUDIO_JS),
            "widgets": page.evaluate(WIDGETS_JS),
            "figure_cells": page.evaluate(FIGURE_CELLS_JS),
            "links": page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"),
            "glue": page.eval_on_selector_all(".pasted-text, .pasted-inline", "els => els.map(e => e.textContent)"),
            "raw_math": page.evaluate("() => [...document.querySelectorAll('.math')].filter("
                                      "m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60))"),
            "try_it": page.evaluate(TRY_IT_JS),
            "text": page.inner_text("article") if page.query_selector("article") else page.inner_text("body"),
        }
        page.screenshot(path=str(SHOTS / shot_name(path)), full_page=True)
        context.close()
        out[path.relative_to(SITE).as_posix()] = (url, info)
    return out


def _blocked_request_error(message: str) -> bool:
    return "net::ERR_FAILED" in message or "Failed to load resource" in message


@pytest.mark.parametrize("name", NAMES)
def test_page_loads_without_errors(pages, name):
    url, info = pages[name]
    assert info["status"] == 200, f"{url}: HTTP {info['status']}"
    real = [e for e in info["errors"] if not _blocked_request_error(e)]
    assert not real, f"{url}: JavaScript errors: {real}"
    assert (SHOTS / shot_name(SITE / name)).stat().st_size > 0


@pytest.mark.parametrize("name", NAMES)
def test_images_load_and_have_alt_text(pages, name):
    url, info = pages[name]
    broken = [i["src"] for i in info["images"] if i["width"] == 0]
    assert not broken, f"{url}: images that did not load: {broken}"
    no_alt = [i["src"] for i in info["images"] if not i["alt"].strip() or i["alt"] == i["src"]]
    assert not no_alt, f"{url}: images without alt text (or with their file name as alt): {no_alt}"


@pytest.mark.parametrize("name", NAMES)
def test_every_plotting_cell_shows_its_figure(pages, name):
    url, info = pages[name]
    missing = [c["source"] for c in info["figure_cells"] if not c["shown"]]
    assert not missing, f"{url}: cells that call resmix.book.plots but show no figure: {missing}"
    if name in CHAPTERS:
        assert info["figure_cells"], f"{url}: a chapter page without a figure"


@pytest.mark.parametrize("name", NAMES)
def test_audio_players_decode(pages, name):
    url, info = pages[name]
    bad = [i for i, d in enumerate(info["audio"]) if not d or d <= 0]
    assert not bad, f"{url}: audio players {bad} have no decodable source (durations {info['audio']})"
    if name in CHAPTERS:
        assert info["audio"], f"{url}: a chapter page without an audio player"


@pytest.mark.parametrize("name", NAMES)
def test_no_dead_widgets(pages, name):
    """A widget must render on the static page: one that needs a kernel shows nothing to a reader (issue 19)."""
    url, info = pages[name]
    dead = [i for i, w in enumerate(info["widgets"]) if not w["rendered"]]
    assert not dead, f"{url}: widgets {dead} do not render without a kernel; use a resmix.book.plots.Frames slider"


@pytest.mark.parametrize("name", NAMES)
def test_internal_links_resolve(pages, base_url, name):
    url, info = pages[name]
    broken = []
    for href in info["links"]:
        if not href.startswith(base_url):
            continue
        parsed = urlparse(href)
        target = SITE / unquote(parsed.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(href)
        elif parsed.fragment and target.suffix == ".html" and unquote(parsed.fragment) not in _ids(target):
            broken.append(href)
    assert not broken, f"{url}: links to missing pages or anchors: {sorted(set(broken))}"


@pytest.mark.parametrize("name", NAMES)
def test_glued_values_and_math_are_rendered(pages, name):
    url, info = pages[name]
    empty = [i for i, t in enumerate(info["glue"]) if not t.strip()]
    assert not empty, f"{url}: empty glued values at positions {empty}"
    assert "{glue" not in info["text"], f"{url}: an unrendered glue role is visible"
    assert not info["raw_math"], f"{url}: math left as raw TeX: {info['raw_math'][:3]}"
    if name in CHAPTERS and not name.endswith("06_diagnose.html"):
        assert info["glue"], f"{url}: a chapter page with no glued numbers"


TRY_IT_CHAPTERS = sorted(n for n in CHAPTERS if re.match(r"(.*/)?0[1-6]_", n))


@pytest.mark.parametrize("name", TRY_IT_CHAPTERS)
def test_chapters_1_to_6_each_have_a_try_it_cell_that_ran(pages, name):
    """Each of chapters 1-6 has a "Try it" box, and the cell after it shows its output."""
    url, info = pages[name]
    assert re.search(r"^Try it: ", info["text"], re.M), f"{url}: no 'Try it' box"
    assert info["try_it"] and all(info["try_it"]), f"{url}: a try-it cell shows no output: {info['try_it']}"
