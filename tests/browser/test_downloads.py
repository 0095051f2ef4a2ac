"""What the built book gives a reader to take away: its wheel, executed notebooks, launch links at the release tag.

These read the built files and the local server only (no browser), after `make book`.
"""
from __future__ import annotations

import html
import json
import re
import urllib.request
import zipfile

import pytest
from conftest import ROOT, book_pages

CHAPTERS = [p for p in book_pages() if re.match(r"\d\d_", p.name)]


def _version() -> str:
    return re.search(r'__version__\s*=\s*"([^"]+)"', (ROOT / "resmix" / "_version.py").read_text()).group(1)


def test_the_book_serves_the_wheel_of_its_version(site, base_url, tmp_path):
    v = _version()
    name = f"resmix-{v}-py3-none-any.whl"
    assert [p.name for p in (site / "_downloads").glob("resmix-*.whl")] == [name]
    with urllib.request.urlopen(f"{base_url}/_downloads/{name}") as r:
        assert r.status == 200
        (tmp_path / name).write_bytes(r.read())
    wheel = zipfile.ZipFile(tmp_path / name)
    assert f"Version: {v}" in wheel.read(f"resmix-{v}.dist-info/METADATA").decode()
    assert "resmix/py.typed" in wheel.namelist()
    assert f"resmix-book/_downloads/{name}" in zipfile.ZipFile(site / "_downloads" / "resmix-book-html.zip").namelist()


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.name)
def test_a_chapter_downloads_as_its_executed_notebook_and_launches_at_the_release_tag(site, page):
    text = page.read_text(encoding="utf-8")
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', text)]
    source = f"_sources/book/{page.stem}.ipynb"
    assert any(h.endswith(source) for h in hrefs), f"{page.name}: no download link to {source}"
    nb = json.loads((site / source).read_text())
    outputs = sum(len(c.get("outputs", [])) for c in nb["cells"] if c["cell_type"] == "code")
    assert outputs > 0, f"{source} is the unexecuted notebook"
    colab = [h for h in hrefs if "colab.research.google.com" in h]
    assert colab and all(h.endswith(f"/blob/v{_version()}/book/{page.stem}.ipynb") for h in colab), colab


def test_the_introduction_says_how_to_cite_this_version(site):
    page = (site / "book" / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))  # the BibTeX block is highlighted span by span
    assert 'id="cite"' in page and f"version = {{{_version()}}}" in text
    assert "CC BY 4.0" in text and "MIT license" in text
