"""book/_ext/release_book.py: the wheel the book ships, executed notebooks as downloads, the launch tag, the citation."""
import json
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import release_book  # noqa: E402


def test_the_wheel_holds_the_package_its_types_and_license_at_this_version(wheel):
    from resmix import __version__
    assert wheel.name == f"resmix-{__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert {"resmix/__init__.py", "resmix/study/cli.py", "resmix/data/__init__.py", "resmix/__main__.py", "resmix/py.typed"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "book/", "benchmarks/"))]
    dist = f"resmix-{__version__}.dist-info"
    meta = zipfile.ZipFile(wheel).read(f"{dist}/METADATA").decode()
    assert f"Version: {__version__}" in meta and "License-Expression: MIT" in meta
    assert f"{dist}/licenses/LICENSE" in names
    assert "resmix = resmix.study.cli:main" in zipfile.ZipFile(wheel).read(f"{dist}/entry_points.txt").decode()


def test_the_checkout_gets_no_build_leftovers(wheel):
    assert not (ROOT / "build").exists() and not list(ROOT.glob("*.egg-info"))


def test_a_dry_run_wheel_carries_the_new_version_and_the_checkout_keeps_its_own(tmp_path):
    before = (ROOT / "resmix" / "_version.py").read_text()
    built = release_book.build_wheel(ROOT, tmp_path, version_override="9.8.7")
    assert built.name == "resmix-9.8.7-py3-none-any.whl"
    assert (ROOT / "resmix" / "_version.py").read_text() == before


def test_shipping_replaces_wheels_of_other_versions(tmp_path, wheel, monkeypatch):
    downloads = tmp_path / "_downloads"
    downloads.mkdir()
    (downloads / "resmix-0.0.1-py3-none-any.whl").write_text("old")
    (downloads / "resmix-notebooks.zip").write_text("kept")
    monkeypatch.setattr(release_book, "build_wheel", lambda root, out: Path(out, wheel.name).write_bytes(
        wheel.read_bytes()) and Path(out, wheel.name))
    shipped = release_book.ship_wheel(ROOT, tmp_path)
    assert sorted(p.name for p in downloads.iterdir()) == sorted([wheel.name, "resmix-notebooks.zip"])
    assert shipped == downloads / wheel.name


def test_downloads_of_chapters_are_the_executed_notebooks(tmp_path):
    html, executed = tmp_path / "html", tmp_path / "jupyter_execute"
    for folder, outputs in ((html / "_sources" / "book", []), (executed / "book", [{"output_type": "stream"}])):
        folder.mkdir(parents=True)
        (folder / "01_leaky.ipynb").write_text(json.dumps({"cells": [{"outputs": outputs}]}))
    (html / "_sources" / "book" / "02_algebra.ipynb").write_text("{}")  # no executed copy: left alone
    (html / "_sources" / "book" / "index.md").write_text("# intro")
    import offline_book  # the one place that does it (both extensions used to)
    done = offline_book.executed_sources(html, executed)
    assert done == [html / "_sources" / "book" / "01_leaky.ipynb"]
    assert json.loads(done[0].read_text())["cells"][0]["outputs"] == [{"output_type": "stream"}]
    assert (html / "_sources" / "book" / "02_algebra.ipynb").read_text() == "{}"


def _config(theme_options):
    return SimpleNamespace(html_theme_options=theme_options, myst_substitutions={"other": "x"})


def test_launch_buttons_open_the_release_tag_unless_the_config_names_a_branch(tmp_path):
    from resmix import __version__
    assert "branch" not in yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    # Jupyter Book hands extensions its default branch when _config.yml names none
    config = _config({"repository_url": "https://github.com/resmix/resmix", "repository_branch": "master"})
    release_book._set_release(SimpleNamespace(srcdir=str(ROOT)), config)
    assert config.html_theme_options["repository_branch"] == f"v{__version__}"
    assert config.myst_substitutions["resmix_version"] == __version__ and config.myst_substitutions["other"] == "x"
    assert f"../_downloads/resmix-{__version__}-py3-none-any.whl" in config.myst_substitutions["resmix_wheel_link"]

    (tmp_path / "resmix").mkdir()
    (tmp_path / "resmix" / "_version.py").write_text('__version__ = "1.2.3"\n')
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/me/fork\n  branch: develop\n")
    fork = _config({"repository_branch": "develop"})
    release_book._set_release(SimpleNamespace(srcdir=str(tmp_path)), fork)
    assert fork.html_theme_options["repository_branch"] == "develop"
    assert fork.myst_substitutions["resmix_version"] == "1.2.3"


def test_citation_is_this_version_from_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    bib = release_book.citation_bibtex(cff, "1.2.3")
    assert bib.startswith("@software{resmix123,") and bib.endswith("}")
    assert "version = {1.2.3}" in bib and "author = {{resmix maintainers}}" in bib
    assert f"url = {{{cff['repository-code']}}}" in bib and f"title = {{{cff['title']}}}" in bib
    assert "year" not in bib  # CITATION.cff's date is another version's
    same = release_book.citation_bibtex(cff, cff["version"])
    assert f"year = {{{str(cff['date-released'])[:4]}}}" in same
