"""tools/plain_pip_check.sh runs the README's plain-pip lines as written (CI: make plain-pip)."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_check_runs_the_readmes_install_lines_and_chapter_1_as_typed():
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    plan = subprocess.run([str(ROOT / "tools" / "plain_pip_check.sh"), "--plan"], check=True,
                          capture_output=True, text=True).stdout.splitlines()
    run = [line for line in plan if not line.startswith("(left to make test)")]
    assert run == ["python3 -m venv .venv && . .venv/bin/activate",
                   "pip install -r requirements.txt -r requirements-dev.txt && pip install -e .",
                   "python -m resmix --help", "pytest --nbmake book/01_leaky.ipynb"]
    # the README's own test line is typed without nbmake options: pyproject.toml supplies them
    assert "(left to make test) pytest tests/ --ignore=tests/browser && pytest --nbmake book/" in plan
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme


def test_pytest_nbmake_as_typed_gets_the_projects_timeout_and_kernel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "--nbmake-timeout=1800" in addopts and "--nbmake-kernel=python3" in addopts
    makefile = (ROOT / "Makefile").read_text()
    assert "--nbmake-timeout" not in makefile  # make test uses the same settings as a user's pytest
    import yaml  # and make book's execution of the chapters gives a cell as long
    assert yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]["timeout"] >= 1800
