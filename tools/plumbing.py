"""How much of the code a reader sees on each page of the book is plumbing.

    python tools/plumbing.py                 # one line per page, in _toc.yml order
    python tools/plumbing.py --show 04_collapse   # every visible line of a page with its kind
    python tools/plumbing.py --check         # exit 1 if a page is over PLUMBING_MAX_SHARE

**Visible code.** A page is a notebook of ``_toc.yml`` (Markdown pages hold no code cells and
count 0 of 0). A code cell is visible unless it is tagged ``remove-cell``, ``remove-input`` or
``hide-input``: ``hide-input`` collapses the code behind a toggle, so a reader who does not ask
for it sees none of it (and the PDF prints it collapsed). ``hide-output`` hides the output, not
the code, so such a cell is visible. A visible line is a non-blank line of a visible cell.

**Plumbing.** Each top-level statement of a visible cell gets one kind, and all its lines with
it; a comment line goes with the statement after it (or, at the end of a cell, the one before).
The first rule that matches wins:

==============  ===========================================================================
``import``      ``import`` / ``from ... import``
``setup``       the profile, its data and the machine: an assignment or call made only of the
                calls in :data:`SETUP_CALLS` (``get_profile``, ``held_out``, ``frame``,
                ``manual_seed``, ``os.cpu_count``, ...), attribute reads and names; naming a
                part of the profile (``cfg = exp.data``); a ``print`` that reports ``.profile``
``paths``       an assignment of a string literal holding a ``/`` (``out_dir = "_output/x"``),
                or of ``os.path`` / ``Path`` / ``makedirs`` calls
``run plan``    building the experiments to train: a statement calling one of
                :data:`PLAN_CALLS` (``grid``, ``replicate``, ``with_``, ``scaled``,
                ``collapse_configs``, ...) outside a training call, or an assignment of a literal
                (number, string, or list/tuple/dict of them) to ALL-CAPS names or to ``seeds``
                (the plan's parameters: ``LRS = [1e-3, 3e-3]``, ``SEEDS = [0]``), or of a
                value chosen by profile (``EPOCHS = 32 if exp.profile == "quick" else 96``)
``players``     a call to ``players(...)`` and every statement that builds the mapping it is
                given (assigning or filling the name passed to it, loops that fill it)
``bookkeeping`` ``glue``, ``glue_all``, ``require``, ``assert``, and building ``Claim`` rows
``science``     everything else: the calls the prose describes, figures, tables, training
==============  ===========================================================================

The classes follow issue 19's count (imports and set-up, run lists, player dictionaries,
glue/claims bookkeeping, path handling). The rules read names, not meaning, so they are a
measure, not a judge: a figure cell that also builds its runs counts those lines as plan. What
a page should do about plumbing is move it into ``resmix`` (one call) or into a hidden cell.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLUMBING_MAX_SHARE = 0.10  # issue 19: at most a tenth of a page's visible code lines are plumbing
HIDDEN_TAGS = frozenset({"remove-cell", "remove-input", "hide-input"})
PLUMBING_KINDS = ("import", "setup", "paths", "run plan", "players", "bookkeeping")
KINDS = PLUMBING_KINDS + ("science",)

SETUP_CALLS = frozenset({"get_profile", "held_out", "frame", "manual_seed", "cpu_count", "set_num_threads",
                         "seed", "default_rng", "Generator", "resolve_device", "device"})
PROFILE_PARTS = frozenset({"data", "model", "loss", "train"})  # the parts of a resmix.config.Experiment
PLAN_CALLS = frozenset({"grid", "replicate", "with_", "scaled", "collapse_configs", "remedy_configs",
                        "chapter_runs", "runs_for"})
TRAIN_CALLS = frozenset({"run_grid", "run_groups", "run_one", "train"})  # a plan inside these is training
BOOKKEEPING_CALLS = frozenset({"glue", "glue_all", "require", "Claim"})


@dataclass
class PageCount:
    """What one page shows: visible code cells and lines, and the lines of each kind."""

    page: str
    cells: int = 0  # visible code cells
    lines: int = 0  # visible non-blank code lines
    by_kind: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})

    @property
    def plumbing(self) -> int:
        return sum(self.by_kind[k] for k in PLUMBING_KINDS)

    @property
    def share(self) -> float:
        """Plumbing lines over visible lines (0 for a page without visible code)."""
        return self.plumbing / self.lines if self.lines else 0.0


# --- classifying one cell ---------------------------------------------------------------

def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _calls(node: ast.AST) -> list[str]:
    return [_call_name(n) for n in ast.walk(node) if isinstance(n, ast.Call)]


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return _is_literal(node.operand)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_literal(k) for k in node.keys) and all(_is_literal(v) for v in node.values)
    return False


def _only_setup(node: ast.AST) -> bool:
    """True when ``node`` is made of set-up calls, attribute reads, names and constants only."""
    calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
    allowed = (ast.Call, ast.Attribute, ast.Name, ast.Constant, ast.Load, ast.Tuple, ast.keyword, ast.Subscript,
               ast.Slice, ast.Store, ast.BinOp, ast.operator, ast.UnaryOp, ast.unaryop)
    return bool(calls) and all(_call_name(c) in SETUP_CALLS for c in calls) \
        and all(isinstance(n, allowed) for n in ast.walk(node))


def _is_profile_part(node: ast.AST) -> bool:
    """``exp.data``, ``exp.model``, ...: naming a part of the profile."""
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr in PROFILE_PARTS


def _is_profile_switch(node: ast.AST) -> bool:
    """``32 if exp.profile == "quick" else exp.train.epochs``: a plan parameter set per profile."""
    return isinstance(node, ast.IfExp) and any(isinstance(n, ast.Attribute) and n.attr == "profile"
                                               for n in ast.walk(node.test))


def _targets(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, ast.Assign):
        return stmt.targets
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        return [stmt.target]
    return []


def _target_names(stmt: ast.stmt) -> set[str]:
    """Names a statement assigns to, directly or through a subscript (``listen[k] = ...``)."""
    names = set()
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for t in _targets(node):
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
    return names


def _player_inputs(tree: ast.Module) -> set[str]:
    return {c.args[0].id for c in ast.walk(tree) if isinstance(c, ast.Call) and _call_name(c) == "players"
            and c.args and isinstance(c.args[0], ast.Name)}


def _handles_paths(stmt: ast.stmt) -> bool:
    """Calls of ``Path(...)``, ``os.path.*``, ``os.makedirs`` or ``.mkdir()``."""
    for n in ast.walk(stmt):
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Name) and f.id in {"Path", "PurePath"}:
                return True
            if isinstance(f, ast.Attribute) and (f.attr in {"makedirs", "mkdir"} or ast.unparse(f.value) == "os.path"):
                return True
    return False


def _is_profile_print(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and _call_name(stmt.value) == "print"
            and any(isinstance(n, ast.Attribute) and n.attr == "profile" for n in ast.walk(stmt)))


def classify_statement(stmt: ast.stmt, player_inputs: set[str] = frozenset()) -> str:
    """The kind of one top-level statement (the table in the module docstring)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return "import"
    calls = _calls(stmt)
    value = stmt.value if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)) else None
    if value is not None and (_only_setup(value) or _is_profile_part(value)) or _is_profile_print(stmt):
        return "setup"
    if isinstance(stmt, ast.Assign) and isinstance(value, ast.Constant) and isinstance(value.value, str) \
            and "/" in value.value:
        return "paths"
    if _handles_paths(stmt) and not set(calls) & TRAIN_CALLS:
        return "paths"
    if "players" in calls or (_target_names(stmt) & player_inputs):
        return "players"
    if isinstance(stmt, ast.Assert) or set(calls) & BOOKKEEPING_CALLS:
        return "bookkeeping"
    if set(calls) & PLAN_CALLS and not set(calls) & TRAIN_CALLS:
        return "run plan"
    if isinstance(stmt, ast.Assign) and value is not None and (_is_literal(value) or _is_profile_switch(value)):
        names = [n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        if names and all(n.isupper() or n.lower() in {"seeds", "seed_list"} for n in names):
            return "run plan"
    return "science"


def classify_cell(source: str) -> list[tuple[str, str]]:
    """Every non-blank line of a code cell with its kind, in order: ``[(kind, line), ...]``."""
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics, shell escapes: counted, never plumbing by rule
        return [("science", line) for line in lines if line.strip()]
    players_in = _player_inputs(tree)
    kind_of_line: dict[int, str] = {}
    for stmt in tree.body:
        kind = classify_statement(stmt, players_in)
        start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        for i in range(start, (stmt.end_lineno or stmt.lineno) + 1):
            kind_of_line[i] = kind
    out, pending = [], []  # comment lines wait for the statement after them
    last = "science"
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if i in kind_of_line:
            last = kind_of_line[i]
            out.extend((last, c) for c in pending)
            pending = []
            out.append((last, line))
        else:
            pending.append(line)
    out.extend((last, c) for c in pending)
    return out


# --- pages ------------------------------------------------------------------------------

def visible_code_cells(notebook: Path) -> list[str]:
    """The sources of a notebook's code cells that a reader sees (not hidden by a tag)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        src = cell.get("source", "")
        out.append("".join(src) if isinstance(src, list) else src)
    return out


def page_name(path: Path) -> str:
    """A page's name for the table: its path under book/ without the suffix (``04_collapse``, ``api/config``)."""
    parts = path.with_suffix("").parts
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("book") + 1:]) if "book" in parts else path.stem


def count_page(path: Path) -> PageCount:
    """The counts of one page: a notebook (``.ipynb``); other pages have no code cells."""
    count = PageCount(page_name(path))
    if path.suffix != ".ipynb":
        return count
    for source in visible_code_cells(path):
        classified = classify_cell(source)
        if not classified:
            continue
        count.cells += 1
        for kind, _ in classified:
            count.lines += 1
            count.by_kind[kind] += 1
    return count


def toc_pages(root: Path = ROOT) -> list[Path]:
    """Every page of ``_toc.yml``, in reading order, as the source file that exists."""
    import yaml
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))
            walk(e.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    pages = []
    for f in files:
        matches = [root / f"{f}{ext}" for ext in (".ipynb", ".md", ".rst") if (root / f"{f}{ext}").exists()]
        if not matches:
            raise FileNotFoundError(f"_toc.yml lists {f!r}; expected {f}.ipynb, .md or .rst in {root}")
        pages.append(matches[0])
    return pages


def book_counts(root: Path = ROOT) -> list[PageCount]:
    return [count_page(p) for p in toc_pages(root)]


def over_threshold(counts: list[PageCount], max_share: float = PLUMBING_MAX_SHARE) -> list[PageCount]:
    """The pages whose plumbing share is above ``max_share``: what a hard test asserts is empty."""
    return [c for c in counts if c.share > max_share]


def format_table(counts: list[PageCount]) -> str:
    head = f"{'page':<18} {'cells':>5} {'lines':>5} {'plumbing':>8} {'share':>6}  " + "  ".join(
        f"{k:>{max(len(k), 3)}}" for k in PLUMBING_KINDS)
    rows = [head]
    for c in counts + [_total(counts)]:
        rows.append(f"{c.page:<18} {c.cells:>5} {c.lines:>5} {c.plumbing:>8} {c.share:>6.0%}  " + "  ".join(
            f"{c.by_kind[k]:>{max(len(k), 3)}}" for k in PLUMBING_KINDS))
    return "\n".join(rows)


def _total(counts: list[PageCount]) -> PageCount:
    total = PageCount("all pages", sum(c.cells for c in counts), sum(c.lines for c in counts))
    for k in KINDS:
        total.by_kind[k] = sum(c.by_kind[k] for c in counts)
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help=f"exit 1 if a page's plumbing share is above "
                                                         f"{PLUMBING_MAX_SHARE:.0%}")
    ap.add_argument("--show", metavar="PAGE", help="list every visible line of PAGE (e.g. 04_collapse) with its kind")
    args = ap.parse_args(argv)
    if args.show:
        page = next((p for p in toc_pages() if page_name(p) == args.show), None)
        if page is None:
            ap.error(f"no page {args.show!r} in _toc.yml; pages: {[page_name(p) for p in toc_pages()]}")
        for i, source in enumerate(visible_code_cells(page) if page.suffix == ".ipynb" else []):
            print(f"--- visible cell {i}")
            for kind, line in classify_cell(source):
                print(f"{'' if kind == 'science' else kind:>11} | {line}")
        return 0
    counts = book_counts()
    print(format_table(counts))
    over = over_threshold(counts)
    if args.check and over:
        print(f"\nover {PLUMBING_MAX_SHARE:.0%} plumbing: " + ", ".join(f"{c.page} ({c.share:.0%})" for c in over),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
