"""The page as a reader sees it (issue 19): on a 390 px phone and a 1280 px desktop, nothing is wider
than the page, figures fill their column, tables show no NaN; the slider works offline; the PDF is whole.

Requests to hosts other than the local server are blocked, as in test_pages.py. Screenshots of
both viewports (and of each chapter in dark mode) land in ``_build/screenshots/`` as
``<page>-390.png``, ``<page>-1280.png`` and ``<page>-dark.png``.

What "fits" means here:
- no element of the page's main area reaches beyond the viewport, or beyond an ancestor that
  cuts or hides overflow (a code cell whose long lines sit in a box with an invisible scrollbar
  counts as cut), unless that ancestor is a box that scrolls sideways on purpose (a wide
  equation or table) and itself fits; and the page as a whole never scrolls sideways;
- a figure (an image in a cell's output, or a slider's frame) is shown at least as wide as its
  column, or at its natural width when that is smaller (an image is never upscaled to pass);
  resmix.book.plots draws every figure 900 px wide, wider than any column, so a figure fills its column.
"""
from __future__ import annotations

import re

import pytest
from conftest import PDF_NAME, READY_JS, SHOTS, SITE, book_pages, shot_name

PAGES = book_pages()
NAMES = [p.relative_to(SITE).as_posix() for p in PAGES]
CHAPTERS = [n for n, p in zip(NAMES, PAGES) if re.match(r"\d\d_", p.name)]
VIEWPORTS = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 900}}

OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  // boxes that scroll sideways on purpose: a wide equation or table, with the scrolled part in view once scrolled
  const SCROLLERS = 'mjx-container, div.math, .resmix-table, .table-wrapper, .output.text_html, .pasted-block, .pst-scrollable-table-container';
  const main = document.querySelector('main') || document.body;
  const bad = [];
  for (const el of main.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.closest('mjx-assistive-mml, .visually-hidden, .sr-only')) continue;  // for screen readers, hidden on purpose
    let box = null;  // the nearest ancestor that does not let overflow show: what cuts (or hides) el
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') { box = a; break; }
    }
    const b = box ? box.getBoundingClientRect() : {left: 0, right: vw};
    if (r.left >= Math.max(b.left, 0) - 1 && r.right <= Math.min(b.right, vw) + 1) continue;
    if (box && box.matches(SCROLLERS) && b.left >= -1 && b.right <= vw + 1) continue;
    const where = box ? ` cut by ${box.tagName.toLowerCase()}.${[...box.classList].join('.')}` : '';
    bad.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} [${Math.round(r.left)}, ${Math.round(r.right)}]${where}`);
  }
  return {bad: bad.slice(0, 10), n: bad.length, page: document.documentElement.scrollWidth, vw};
}"""

FIGURES_JS = """() => [...document.querySelectorAll('div.cell_output img, .resmix-frames img')]
  .filter(i => i.getBoundingClientRect().width > 0)
  .map(i => {
    const box = i.closest('figure, .cell_output, article') || document.body;
    const s = getComputedStyle(box);
    const column = box.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    return {alt: (i.alt || '').slice(0, 50), width: i.getBoundingClientRect().width, natural: i.naturalWidth, column};
  })"""

TABLES_JS = """() => [...document.querySelectorAll('main table')].flatMap(t =>
  [...t.querySelectorAll('td, th')].filter(c => /^\\s*(NaN|nan|None|<NA>|NaT)\\s*$/.test(c.textContent) || /\\bNaN\\b/.test(c.textContent))
   .map(c => c.textContent.trim().slice(0, 40)))"""

BACKGROUND_JS = """() => [...document.querySelectorAll('div.cell_output img')].slice(0, 5).map(i => getComputedStyle(i).backgroundColor)"""


def _route(base_url):
    def route(r):
        url = r.request.url
        r.continue_() if url.startswith((base_url, "data:", "blob:")) else r.abort()
    return route


@pytest.fixture(scope="module")
def layout(browser, base_url):
    """Open every page at both viewports (and each chapter in dark mode); keep what the checks need."""
    out = {}
    for path, name in zip(PAGES, NAMES):
        for vp, size in VIEWPORTS.items():
            context = browser.new_context(viewport=size)
            context.route("**/*", _route(base_url))
            page = context.new_page()
            page.goto(f"{base_url}/{name}", wait_until="load")
            page.evaluate(READY_JS)
            out[name, vp] = {"overflow": page.evaluate(OVERFLOW_JS), "figures": page.evaluate(FIGURES_JS),
                             "tables": page.evaluate(TABLES_JS)}
            page.screenshot(path=str(SHOTS / shot_name(path, f"-{vp}")), full_page=True)
            context.close()
        if name in CHAPTERS:
            context = browser.new_context(viewport=VIEWPORTS["1280"], color_scheme="dark")
            context.route("**/*", _route(base_url))
            page = context.new_page()
            page.goto(f"{base_url}/{name}", wait_until="load")
            page.evaluate(READY_JS)
            out[name, "dark"] = {"theme": page.evaluate("document.documentElement.dataset.theme"),
                                 "backgrounds": page.evaluate(BACKGROUND_JS)}
            page.screenshot(path=str(SHOTS / shot_name(path, "-dark")), full_page=True)
            context.close()
    return out


CASES = [(n, vp) for n in NAMES for vp in VIEWPORTS]


@pytest.mark.parametrize("name, vp", CASES)
def test_nothing_is_wider_than_the_page(layout, name, vp):
    o = layout[name, vp]["overflow"]
    assert o["page"] <= o["vw"] + 1, f"{name} at {vp} px: the page scrolls sideways ({o['page']} px > {o['vw']} px)"
    assert not o["bad"], f"{name} at {vp} px: {o['n']} elements reach beyond the page: {o['bad']}"
    assert (SHOTS / shot_name(SITE / name, f"-{vp}")).stat().st_size > 0


@pytest.mark.parametrize("name, vp", CASES)
def test_figures_fill_their_column(layout, name, vp):
    small = [f for f in layout[name, vp]["figures"] if f["width"] < min(f["natural"], f["column"]) - 2]
    assert not small, f"{name} at {vp} px: figures narrower than their column (or their natural width): {small}"
    too_wide = [f for f in layout[name, vp]["figures"] if f["width"] > f["column"] + 2]
    assert not too_wide, f"{name} at {vp} px: figures wider than their column: {too_wide}"


@pytest.mark.parametrize("name", NAMES)
def test_tables_show_no_nan(layout, name):
    cells = layout[name, "1280"]["tables"]
    assert not cells, f"{name}: table cells that read NaN/None instead of a dash: {cells[:5]}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_figures_read_in_dark_mode(layout, name):
    d = layout[name, "dark"]
    assert d["theme"] == "dark", f"{name}: the page did not follow the dark colour scheme"
    light = [b for b in d["backgrounds"] if _luminance(b) > 0.8]
    assert len(light) == len(d["backgrounds"]), f"{name}: figures with black text on a dark background: {d['backgrounds']}"


def _luminance(css: str) -> float:
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    if len(values) == 4 and values[3] == 0:
        return 0.0  # transparent: the dark page shows through
    return sum(values[:3]) / (3 * 255)


def test_the_slider_responds_offline(browser, base_url):
    """Chapter 2's correlation explorer: the range input switches the frame, with other hosts blocked."""
    blocked = []
    context = browser.new_context(viewport=VIEWPORTS["390"])
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith((base_url, "data:"))
                  else (blocked.append(r.request.url), r.abort()))
    page = context.new_page()
    page.goto(f"{base_url}/book/02_algebra.html", wait_until="load")
    frames = page.locator(".resmix-frames")
    assert frames.count() == 1, "chapter 2 has no slider"
    shown = lambda: page.evaluate("""() => [...document.querySelectorAll('.resmix-frames img')]
        .filter(i => getComputedStyle(i).display !== 'none').map(i => i.dataset.value)""")  # noqa: E731
    assert shown() == ["+0.0"]
    slider = frames.locator("input[type=range]")
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # what a reader's keyboard does; fires 'input' like a drag
    assert shown() == ["+0.3"] and frames.locator("output").inner_text() == "+0.3"
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)  # the left end: r = -0.9
    assert shown() == ["-0.9"]
    frames.screenshot(path=str(SHOTS / "02_algebra-slider.png"))
    context.close()
    assert not blocked, f"the slider page asked other hosts for: {blocked}"


@pytest.fixture(scope="module")
def pdf(site):
    pypdf = pytest.importorskip("pypdf", reason="pip install -r requirements-dev.txt")
    path = site / "_downloads" / PDF_NAME
    assert path.exists(), f"no {path}: run `python tools/book_pdf.py` after the build (make book does)"
    return pypdf.PdfReader(path)


def test_the_pdf_opens_and_has_every_page(pdf):
    titles = [o.title for o in pdf.outline]
    assert len(titles) == len(PAGES), f"bookmarks {titles} for {len(PAGES)} pages of _toc.yml"
    chapters = [t for t in titles if re.match(r"\d\.", t)]
    assert len(chapters) >= 6 and len(pdf.pages) >= len(CHAPTERS) + 1


def test_the_pdf_keeps_figures_tables_and_equations(pdf):
    starts = [pdf.get_destination_page_number(o) for o in pdf.outline] + [len(pdf.pages)]
    for o, a, b in zip(pdf.outline, starts, starts[1:]):
        if not re.match(r"\d\.", o.title):
            continue
        pages = pdf.pages[a:b]
        text = "".join(p.extract_text() for p in pages)
        assert sum(len(p.images) for p in pages) >= 1, f"{o.title}: no figure in the PDF"
        assert "\\frac" not in text and "\\tfrac" not in text and "$$" not in text, f"{o.title}: raw TeX in the PDF"
        assert "NaN" not in text, f"{o.title}: NaN in the PDF"
    assert any("What we measured" in p.extract_text() for p in pdf.pages)
