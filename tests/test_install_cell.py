"""The chapters' install cell (tools/install_cell.py): present, current, and working in a fresh kernel
that installs resmix from the published book's wheel, as a reader's would."""
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import install_cell  # noqa: E402

CHAPTERS = sorted((ROOT / "book" / "py").glob("*.py"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_is_the_current_install_cell(path):
    first = next(c for c in jupytext.read(path).cells if c.cell_type == "code")
    assert first.source.strip() == install_cell.cell_source().strip(), (
        f"{path.name}: the first code cell is not the current install cell; run "
        "`python tools/install_cell.py && jupytext --sync book/*.ipynb`")
    assert "hide-input" in first.metadata.get("tags", [])


def test_source_is_this_version_from_the_published_book_or_the_release_tag():
    from resmix import __version__
    assert install_cell.version() == __version__
    base = install_cell.baseurl()
    expected = (f"{base}_downloads/resmix-{__version__}-py3-none-any.whl" if base
                else f"git+{install_cell.repository_url()}@v{__version__}")
    assert install_cell.install_source() == expected
    assert install_cell.install_source() in install_cell.cell_source()


def test_insert_then_update_is_idempotent():
    text = "# %% [markdown]\n# Title\n\n# %%\nimport torch\n\n# %%\nx = 1\n"
    once = install_cell.with_install_cell(text, "# Colab or a fresh kernel: install resmix, old")
    assert once.count(install_cell.MARKER) == 1 and once.index(install_cell.MARKER) < once.index("import torch")
    new = install_cell.cell_source()
    twice = install_cell.with_install_cell(once, new)
    assert install_cell.with_install_cell(twice, new) == twice
    assert install_cell.first_code_cell(twice) == new.strip() and "old" not in twice
    assert twice.endswith("# %%\nimport torch\n\n# %%\nx = 1\n")


def test_cell_does_nothing_where_resmix_imports(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the install cell ran {args} although resmix imports")
    monkeypatch.setattr(subprocess, "check_call", refuse)
    exec(compile(install_cell.cell_source(), "<install cell>", "exec"), {})


@pytest.mark.parametrize("override", [None, "https://example.org/resmix-9.9.9-py3-none-any.whl"])
def test_cell_installs_resmix_book_from_its_source_or_the_override(monkeypatch, override):
    calls = []
    monkeypatch.setitem(sys.modules, "resmix", None)  # `import resmix` fails, as in a fresh kernel
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **kw: calls.append(cmd))
    if override:
        monkeypatch.setenv("RESMIX_INSTALL_SOURCE", override)
    else:
        monkeypatch.delenv("RESMIX_INSTALL_SOURCE", raising=False)
    exec(compile(install_cell.cell_source(), "<install cell>", "exec"), {})
    assert calls == [[sys.executable, "-m", "pip", "install", "-q",
                      f"resmix[book] @ {override or install_cell.install_source()}"]]


def _fresh_venv(path: Path) -> Path:
    """A venv without resmix that sees this interpreter's packages (torch, jupyter, ...).

    A ``.pth`` line adds this environment's site-packages to the venv's path; a folder added
    that way is not itself scanned for ``.pth`` files, so an editable resmix there stays invisible.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "_heavy_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


class _Log(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, fmt, *args):
        type(self).requests.append(self.path)


@pytest.fixture
def published(wheel):
    """The folder holding ``_downloads/<wheel>`` served over HTTP on 127.0.0.1, as a published book."""
    _Log.requests = []
    site = wheel.parents[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Log, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_source_is_the_published_wheel_when_the_book_has_a_baseurl(tmp_path):
    shutil.copy2(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "resmix").mkdir()
    shutil.copy2(ROOT / "resmix" / "_version.py", tmp_path / "resmix" / "_version.py")
    from resmix import __version__
    assert install_cell.install_source(tmp_path).startswith("git+")
    config = (tmp_path / "_config.yml").read_text().replace("\nhtml:\n", "\nhtml:\n  baseurl: https://example.org/book\n")
    (tmp_path / "_config.yml").write_text(config)
    assert install_cell.install_source(tmp_path) == (
        f"https://example.org/book/_downloads/resmix-{__version__}-py3-none-any.whl")
    assert install_cell.install_source(tmp_path, base=None).startswith("git+")


def test_chapter_1_runs_in_a_fresh_kernel_and_installs_the_published_wheel(tmp_path, wheel, published):
    """A reader's kernel: no resmix; the install cell fetches the book's wheel from its web server."""
    from resmix import __version__
    assert wheel.name == install_cell.wheel_name(__version__)
    python = _fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RESMIX_INSTALL_SOURCE")}
    env |= {"JUPYTER_PATH": str(tmp_path / "jupyter"), "RESMIX_PROFILE": "quick", "PIP_NO_INDEX": "1"}
    probe = "import importlib.util; print(importlib.util.find_spec('resmix'))"
    assert subprocess.run([str(python), "-c", probe], env=env, cwd=tmp_path, capture_output=True,
                          text=True).stdout.strip() == "None"

    # a python3 kernel that is the fresh venv's interpreter, found before any other
    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh venv", "language": "python"}))
    # chapter 1 as a book published at the local server would have it: the cell's own source,
    # no RESMIX_INSTALL_SOURCE
    notebook = tmp_path / "run" / "01_leaky.ipynb"
    notebook.parent.mkdir()
    text = install_cell.with_install_cell((ROOT / "book" / "py" / "01_leaky.py").read_text(),
                                          install_cell.cell_source(base=published))
    jupytext.write(jupytext.reads(text, fmt="py:percent"), notebook)
    run = textwrap.dedent(f"""
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({str(notebook)!r}, as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=600, resources={{"metadata": {{"path": {str(notebook.parent)!r}}}}}).execute()
        nbformat.write(nb, {str(notebook)!r})
    """)
    subprocess.run([str(python), "-c", run], env=env, check=True, cwd=notebook.parent)

    url = f"{published}_downloads/{wheel.name}"
    assert f"/_downloads/{wheel.name}" in _Log.requests, f"the cell did not fetch the wheel; server saw {_Log.requests}"
    check = ("import importlib.metadata as m, json, resmix; "
             "print(json.dumps([resmix.__file__, resmix.__version__, "
             "json.loads(m.distribution('resmix').read_text('direct_url.json'))['url']]))")
    where, got_version, got_url = json.loads(subprocess.run(
        [str(python), "-c", check], env=env, cwd=tmp_path, check=True, capture_output=True, text=True).stdout)
    assert Path(where).is_relative_to(tmp_path / "venv") and got_version == __version__ and got_url == url
