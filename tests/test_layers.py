"""The package's layers, read from its own imports: no import runs upward, and no modules import each other in a circle.

Every import counts, the ones inside functions too (a lazy import is still a dependency). The layers, from
the ground up, are those ``resmix/__init__.py`` names; each subpackage's ``__init__`` says in its docstring
("Imports from: ...") which layers it may use, and the test holds the code to that sentence.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "resmix"
#: the layers from the ground up; a module may import from a lower layer or from its own subpackage
LAYERS = ("foundation", "data|models", "losses", "measure", "training", "study", "registrations", "book")
FOUNDATION = {"config", "criteria", "_checks", "_io", "_mkl", "_version"}
TOP = {"resmix", "resmix.__main__"}  # the package's face and ``python -m resmix``: above every layer


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports(root: Path) -> dict[str, set[str]]:
    """``{module: the resmix modules it imports}``, every import statement of the file, lazy ones included."""
    known = modules(root)
    out: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known}
                deps |= subs  # "from . import keys" uses keys, not the package's face
                if len(subs) < len(node.names):
                    deps.add(target)
        out[name] = {d for d in deps if d in known and d != name}
    return out


def layer(module: str) -> int:
    """The rank of a module's layer (0: the foundation); the package's face is above them all."""
    if module in TOP:
        return len(LAYERS)
    part = module.split(".")[1]
    if part in FOUNDATION:
        return 0
    return next(i for i, names in enumerate(LAYERS) if part in names.split("|"))


def subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] not in FOUNDATION and module not in TOP else None


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import that is not of a lower layer or of the module's own subpackage."""
    bad = []
    for m, deps in sorted(graph.items()):
        for d in sorted(deps):
            same = subpackage(m) is not None and subpackage(m) == subpackage(d)
            if not same and layer(d) >= layer(m):
                bad.append(f"{m} imports {d} (layer {LAYERS[min(layer(d), len(LAYERS) - 1)]!r} is not below "
                           f"{LAYERS[min(layer(m), len(LAYERS) - 1)]!r})")
    return bad


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v), on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def declared(face: Path) -> set[str]:
    """The layers a subpackage's ``__init__`` docstring says it may import ("Imports from: ...")."""
    doc = ast.get_docstring(ast.parse(face.read_text())) or ""
    m = re.search(r"Imports from: (.*?)(?:\.\s|\.$)", doc.replace("\n", " "))
    assert m, f"{face}: the docstring does not say what the subpackage may import ('Imports from: ...')"
    text = m.group(1)
    allowed = {f"resmix.{x}" for x in re.findall(r"resmix\.(\w+)", text)}
    if "foundation" in text:
        allowed |= {f"resmix.{x}" for x in FOUNDATION}
    if "every layer below" in text:
        own = layer(module_name(face, PACKAGE))
        allowed |= {f"resmix.{p}" for i, names in enumerate(LAYERS[1:own], 1) for p in names.split("|")}
        allowed |= {f"resmix.{x}" for x in FOUNDATION}
    return allowed


def test_no_import_runs_upward():
    bad = upward(imports(PACKAGE))
    assert not bad, "imports that run upward:\n" + "\n".join(bad)


def test_no_modules_import_each_other_in_a_circle():
    found = circles(imports(PACKAGE))
    assert not found, f"import circles: {found}"


@pytest.mark.parametrize("face", sorted(p for p in PACKAGE.glob("*/__init__.py")), ids=lambda p: p.parent.name)
def test_each_subpackage_imports_what_its_docstring_says(face):
    allowed = declared(face)
    own = f"resmix.{face.parent.name}"
    graph = imports(PACKAGE)
    used = {".".join(d.split(".")[:2]) for m, deps in graph.items() if m == own or m.startswith(own + ".")
            for d in deps}
    extra = sorted(used - allowed - {own})
    assert not extra, f"{own} imports {extra}, which its docstring does not allow ({sorted(allowed)})"


def test_every_module_is_in_a_layer():
    for m in modules(PACKAGE):
        layer(m)  # raises StopIteration for a subpackage no layer names


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "resmix"
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_the_checks_catch_an_upward_import_a_lazy_one_and_a_circle(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "", "config.py": "", "data/__init__.py": "", "models/__init__.py": "",
        "data/wav.py": "def f():\n    from resmix.study.grids import g\n",  # lazy and upward
        "data/framing.py": "from .wav import x\n", "data/sources.py": "from . import framing\n",
        "models/two_stage.py": "from resmix.config import Y\n",
        "study/__init__.py": "", "study/grids.py": "from resmix.data.framing import frame\n",
        "study/keys.py": "from .runner import r\n", "study/runner.py": "from . import keys\n",  # a circle
    })
    graph = imports(root)
    assert graph["resmix.data.sources"] == {"resmix.data.framing"}
    assert graph["resmix.data.wav"] == {"resmix.study.grids"}
    assert upward(graph) == ["resmix.data.wav imports resmix.study.grids (layer 'study' is not below 'data|models')"]
    assert sorted(circles(graph)) == [["resmix.data.framing", "resmix.data.wav", "resmix.study.grids"],
                                      ["resmix.study.keys", "resmix.study.runner"]]
    ok = {k: v for k, v in graph.items() if k != "resmix.data.wav"}
    assert upward(ok) == []
