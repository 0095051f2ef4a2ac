"""The book's notebooks: committed without outputs, and in sync with their py:percent pairs."""
from pathlib import Path

import jupytext
import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def test_every_chapter_has_a_pair():
    assert NOTEBOOKS, "no notebooks in book/"
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(p.stem for p in (BOOK / "py").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; clear them before committing"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_pair_in_sync(path):
    nb = jupytext.read(path)
    py = jupytext.read(BOOK / "py" / f"{path.stem}.py")
    cells = lambda n: [(c.cell_type, c.source.strip()) for c in n.cells]  # noqa: E731
    assert cells(nb) == cells(py), f"{path.name} and py/{path.stem}.py differ: run `jupytext --sync book/{path.name}`"
