"""book/_ext/offline_book.py: the zips of the executed notebooks and of the HTML book."""
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
import offline_book  # noqa: E402


def test_zips_hold_the_notebooks_and_every_page(tmp_path):
    html, executed = tmp_path / "html", tmp_path / "jupyter_execute"
    for name in ("index.html", "book/01_leaky.html", "_static/style.css", "_images/fig.png"):
        (html / name).parent.mkdir(parents=True, exist_ok=True)
        (html / name).write_text(name)
    (executed / "book").mkdir(parents=True)
    (executed / "book" / "01_leaky.ipynb").write_text("{}")
    for _ in range(2):  # a rebuild replaces the zips; the HTML zip never holds itself
        notebooks, book = offline_book.zip_downloads(html, executed)
    assert zipfile.ZipFile(notebooks).namelist() == ["resmix-notebooks/01_leaky.ipynb"]
    names = zipfile.ZipFile(book).namelist()
    assert {"resmix-book/index.html", "resmix-book/book/01_leaky.html", "resmix-book/_static/style.css",
            "resmix-book/_images/fig.png", "resmix-book/_downloads/resmix-notebooks.zip"} == set(names)
    assert zipfile.ZipFile(book).read("resmix-book/index.html") == b"index.html"


def test_the_ipynb_download_is_the_executed_notebook(tmp_path):
    html, executed = tmp_path / "html", tmp_path / "jupyter_execute"
    (html / "_sources" / "book").mkdir(parents=True)
    (executed / "book").mkdir(parents=True)
    (html / "_sources" / "book" / "01_leaky.ipynb").write_text('{"outputs": []}')
    (html / "_sources" / "book" / "02_algebra.ipynb.txt").write_text('{"outputs": []}')  # a link suffix
    (html / "_sources" / "book" / "glossary.md").write_text("# glossary")
    (html / "_sources" / "book" / "03_fixed.ipynb").write_text("unexecuted, no twin")
    for name in ("01_leaky", "02_algebra"):
        (executed / "book" / f"{name}.ipynb").write_text('{"outputs": ["executed"]}')
    replaced = offline_book.executed_sources(html, executed)
    assert sorted(p.name for p in replaced) == ["01_leaky.ipynb", "02_algebra.ipynb.txt"]
    assert "executed" in (html / "_sources" / "book" / "02_algebra.ipynb.txt").read_text()
    assert (html / "_sources" / "book" / "03_fixed.ipynb").read_text() == "unexecuted, no twin"
    assert not list(html.rglob("*.tmp"))


def test_the_download_button_says_executed():
    context = {"page_source_suffix": ".ipynb", "header_buttons": [
        {"type": "group", "buttons": [{"label": "download-source-button", "text": ".ipynb", "tooltip": "x"},
                                      {"label": "download-pdf-button", "text": ".pdf"}]}]}
    offline_book._label_executed_download(None, "book/01_leaky", "page.html", context, None)
    source, pdf = context["header_buttons"][0]["buttons"]
    assert source["text"] == ".ipynb (executed)" and "executed" in source["tooltip"] and pdf["text"] == ".pdf"
    md = {"page_source_suffix": ".md", "header_buttons": [{"buttons": [{"label": "download-source-button", "text": ".md"}]}]}
    offline_book._label_executed_download(None, "book/glossary", "page.html", md, None)
    assert md["header_buttons"][0]["buttons"][0]["text"] == ".md"
