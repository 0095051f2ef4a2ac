"""tools/book_pdf.py: the pages in _toc.yml order and the merge (the printing itself: tests/browser)."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import book_pdf  # noqa: E402

pypdf = pytest.importorskip("pypdf", reason="pip install -r requirements-dev.txt")


def blank_pdf(path: Path, pages: int) -> Path:
    w = pypdf.PdfWriter()
    for _ in range(pages):
        w.add_blank_page(width=595, height=842)
    with open(path, "wb") as f:
        w.write(f)
    return path


def test_merge_keeps_every_page_in_order_with_a_bookmark_each(tmp_path):
    parts = [("Introduction", blank_pdf(tmp_path / "a.pdf", 1)), ("1. The leaky architecture", blank_pdf(tmp_path / "b.pdf", 3)),
             ("Glossary", blank_pdf(tmp_path / "c.pdf", 2))]
    out = tmp_path / "out" / "book.pdf"
    assert book_pdf.merge(parts, out) == 6
    reader = pypdf.PdfReader(out)
    assert len(reader.pages) == 6
    assert [(o.title, reader.get_destination_page_number(o)) for o in reader.outline] == [
        ("Introduction", 0), ("1. The leaky architecture", 1), ("Glossary", 4)]
    assert not list(out.parent.glob("*.tmp"))


def test_the_books_pages_in_reading_order():
    docs = book_pdf.toc_docnames()
    assert docs[0] == "book/index"
    chapters = [d for d in docs if Path(d).name[:2].isdigit()]
    assert chapters == sorted(chapters) and len(chapters) >= 6
    assert all((ROOT / f"{d}.md").exists() or (ROOT / f"{d}.ipynb").exists() for d in docs)


def test_a_missing_page_is_named(tmp_path, monkeypatch):
    if book_pdf.chromium_path() is None:
        pytest.skip("no Chromium: print_book returns before looking at the pages")
    pytest.importorskip("playwright.sync_api")
    (tmp_path / "book").mkdir()
    with pytest.raises(FileNotFoundError, match="book/index"):
        book_pdf.print_book(tmp_path, tmp_path / "x.pdf")
