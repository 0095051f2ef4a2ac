"""tools/plumbing.py: what counts as visible code, how each line is classified, the threshold."""
import json
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import plumbing  # noqa: E402


def notebook(tmp_path: Path, cells: list[tuple[str, list[str]]], name: str = "page") -> Path:
    """A minimal .ipynb of code cells: ``[(source, tags), ...]``, plus one Markdown cell."""
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# A page\n\nimport os  # prose"}]
          + [{"cell_type": "code", "metadata": {"tags": tags}, "source": textwrap.dedent(src).strip("\n"),
              "outputs": [], "execution_count": None} for src, tags in cells]}
    path = tmp_path / f"{name}.ipynb"
    path.write_text(json.dumps(nb))
    return path


def kinds(source: str) -> list[str]:
    return [k for k, _ in plumbing.classify_cell(textwrap.dedent(source).strip("\n"))]


def test_hidden_cells_are_not_visible_and_hide_output_is(tmp_path):
    page = notebook(tmp_path, [("x = 1", ["remove-cell"]), ("x = 2", ["remove-input"]), ("x = 3", ["hide-input"]),
                               ("x = 4", ["hide-output"]), ("x = 5\n\n\ny = 6", [])])
    count = plumbing.count_page(page)
    assert (count.cells, count.lines) == (2, 3)  # blank lines are not lines a reader reads
    assert count.by_kind["science"] == 3 and count.plumbing == 0


def test_markdown_pages_and_empty_cells_count_nothing(tmp_path):
    md = tmp_path / "glossary.md"
    md.write_text("```python\nimport os\n```\n")
    assert plumbing.count_page(md).lines == 0
    assert plumbing.count_page(notebook(tmp_path, [("", []), ("\n  \n", [])])).cells == 0


@pytest.mark.parametrize("source, expected", [
    ("import os\nfrom resmix import plots", ["import", "import"]),
    ("exp = get_profile()\ncfg = exp.data\ntorch.manual_seed(exp.train.seed)\nx, y = held_out(cfg)\n"
     "xf = frame(x, cfg.frame_size)\nworkers = os.cpu_count()", ["setup"] * 6),
    ('print(f"profile {exp.profile}: {n} clips")', ["setup"]),
    ('OUT = "_output/results/ch2"\nfolder = Path(OUT) / "pairs"', ["paths", "paths"]),
    ("LRS = [1e-3, 3e-3]\nseeds = [0, 1]\nEPOCHS = 32 if exp.profile == 'quick' else 96\n"
     "exps = study.grid(base, {'train.lr': LRS}, seeds=seeds)\nexps += [e for e in protocol.replicate(b)]",
     ["run plan"] * 5),
    ('glue_all({"a": a})\nglue("b", b, display=False)\nrequire(claims, {"C1": "supported"})\nassert a < 1\n'
     'claims = [Claim("C1", "x", "y", f"{a:.2f}", "supported")]', ["bookkeeping"] * 5),
    ("fig = plots.curves(runs, ['val_loss'], ['loss'])\nfig.axes[0].axhline(0)\nfig", ["science"] * 3),
])
def test_each_kind(source, expected):
    assert kinds(source) == expected


def test_training_is_science_even_when_it_builds_its_plan_inline():
    assert kinds("runs = study.run_grid(study.grid(base, {'a': [1, 2]}), OUT, workers=2)") == ["science"]


def test_string_join_and_plain_constants_are_not_plumbing():
    assert kinds('label = ", ".join(names)\nthreshold = 0.5\nratio = a / b') == ["science"] * 3


def test_player_dictionaries_follow_the_name_handed_to_players():
    src = """
    listen = {"target": y[0]}
    for name, es in exps.items():
        with torch.no_grad():
            listen[name] = unframe(model(xf[:1], yf[:1]))[0]
    players(listen, sr, out_dir)
    other = {"a": 1}
    """
    assert kinds(src) == ["players"] * 5 + ["science"]


def test_comments_go_with_the_statement_after_them_and_trailing_ones_with_the_last():
    src = """
    # the seeds the time budget allows
    SEEDS = [0, 1]
    # now the science
    out = model(x, y)
    # a closing remark
    """
    assert kinds(src) == ["run plan", "run plan", "science", "science", "science"]


def test_a_cell_that_is_not_python_is_counted_as_science():
    assert kinds("%timeit f()\n!ls") == ["science", "science"]


def test_share_and_threshold_boundary(tmp_path):
    science = "\n".join(f"y{i} = f({i})" for i in range(9))
    at = plumbing.count_page(notebook(tmp_path, [("import os", []), (science, [])], "at"))
    over = plumbing.count_page(notebook(tmp_path, [("import os\nimport sys", []), (science, [])], "over"))
    assert at.share == pytest.approx(0.10) and over.share == pytest.approx(2 / 11)
    assert plumbing.over_threshold([at, over]) == [over]  # at the threshold passes, above fails
    assert plumbing.over_threshold([at, over], max_share=0.2) == []


def test_toc_pages_in_reading_order_and_missing_files_named(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "index.md").write_text("# x")
    (tmp_path / "book" / "b.md").write_text("# b")
    notebook(tmp_path / "book", [("x = 1", [])], "a")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/index\nparts:\n  - caption: c\n    chapters:\n"
                                       "      - file: book/a\n        sections:\n          - file: book/b\n")
    assert [p.name for p in plumbing.toc_pages(tmp_path)] == ["index.md", "a.ipynb", "b.md"]
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/gone\n")
    with pytest.raises(FileNotFoundError, match="book/gone"):
        plumbing.toc_pages(tmp_path)


def test_check_exits_nonzero_when_a_page_is_over(tmp_path, monkeypatch, capsys):
    over = plumbing.PageCount("p", 1, 10, {k: 0 for k in plumbing.KINDS} | {"import": 5, "science": 5})
    monkeypatch.setattr(plumbing, "book_counts", lambda root=plumbing.ROOT: [over])
    assert plumbing.main(["--check"]) == 1
    assert "p (50%)" in capsys.readouterr().err
    assert plumbing.main([]) == 0


def test_the_book_is_counted():
    counts = plumbing.book_counts()
    chapters = [c for c in counts if c.page[:2].isdigit()]
    assert chapters and all(c.lines > 0 for c in chapters), "every chapter shows some code"


def test_chapters_under_threshold():
    over = plumbing.over_threshold(plumbing.book_counts())
    assert not over, ("pages over {:.0%} plumbing (python tools/plumbing.py --show PAGE lists the lines): ".format(
        plumbing.PLUMBING_MAX_SHARE) + ", ".join(f"{c.page} {c.plumbing}/{c.lines} ({c.share:.0%})" for c in over))
