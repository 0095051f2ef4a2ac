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
