"""tools/release.py: the chapters' use of the API, the files a release rewrites, and a release end to end."""
import datetime as dt
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import release  # noqa: E402

CHAPTERS = sorted((ROOT / "book" / "py").glob("*.py"))


def test_every_chapter_uses_only_names_the_package_has():
    missing = release.missing_api(ROOT)
    assert not missing, "the chapters use names resmix lacks:\n" + "\n".join(map(str, missing))


def test_the_check_sees_every_way_a_chapter_names_resmix(tmp_path):
    chapter = tmp_path / "99_new.py"
    chapter.write_text(
        "# %%\nimport resmix\nimport resmix.study as st\nfrom resmix.book import plots\nfrom resmix import train, no_such_top\n"
        "from resmix.study import run_groups, no_such_fn\nfrom resmix.no_such_module import x\n"
        "plots.curves(1); plots.no_such_plot(2).savefig('f')\nst.grid; st.no_such_attr\n"
        "resmix.measure.metrics.pearson; resmix.measure.metrics.no_such_metric\nresmix.__version__\n"
        "h = train(None); h.anything_goes\n")
    missing = {str(u).split(": ", 1)[1] for u in release.missing_api(ROOT, [chapter])}
    assert missing == {"resmix.no_such_top", "resmix.study.no_such_fn", "resmix.no_such_module",
                       "resmix.no_such_module.x", "resmix.book.plots.no_such_plot", "resmix.study.no_such_attr",
                       "resmix.measure.metrics.no_such_metric"}
    assert all(str(u).startswith("99_new.py:") for u in release.missing_api(ROOT, [chapter]))


def test_regression_the_chapters_cannot_run_on_a_package_without_run_groups(tmp_path):
    """Issue 18: 0.3.0 was set before the chapters called study.run_groups; the check must say so."""
    shutil.copytree(ROOT / "resmix", tmp_path / "resmix", ignore=shutil.ignore_patterns("__pycache__"))
    grid, face = tmp_path / "resmix" / "study" / "grids.py", tmp_path / "resmix" / "study" / "__init__.py"
    grid.write_text(grid.read_text().replace("def run_groups(", "def _gone_run_groups("))
    face.write_text(face.read_text().replace("run_groups, ", "").replace('"run_groups", ', ""))
    missing = release.missing_api(tmp_path, CHAPTERS)
    assert missing and {(u.module, u.name) for u in missing} == {("resmix.study", "run_groups")}
    assert {u.path.name for u in missing} >= {"04_collapse.py", "05_remedy.py"}


def test_version_rules():
    assert release.parse_version("0.4.0") == (0, 4, 0) and release.parse_version("0.10.0") > (0, 9, 9)
    for bad in ("0.4", "v0.4.0", "0.4.0rc1", ""):
        with pytest.raises(release.ReleaseError, match="MAJOR.MINOR.PATCH"):
            release.parse_version(bad)
    text = '"""doc"""\n__version__ = "0.3.0"\n'
    assert release.with_version(text, "0.4.0") == '"""doc"""\n__version__ = "0.4.0"\n'
    with pytest.raises(release.ReleaseError, match="exactly one"):
        release.with_version("version = 1\n", "0.4.0")


CHANGELOG = "# Changelog\n\nIntro.\n\n## Unreleased (0.4.0)\n\n- new thing\n\n## 0.3.0 (2026-11-26)\n\n- old\n"


def test_changelog_header():
    assert release.changelog_entries(CHANGELOG) == "- new thing"
    new = release.with_release_header(CHANGELOG, "0.4.0", dt.date(2026, 12, 1))
    assert new == ("# Changelog\n\nIntro.\n\n## Unreleased\n\n## 0.4.0 (2026-12-01)\n\n- new thing\n\n"
                   "## 0.3.0 (2026-11-26)\n\n- old\n")
    assert release.changelog_entries(new) == ""
    with pytest.raises(release.ReleaseError, match="empty"):
        release.with_release_header(new, "0.5.0", dt.date(2026, 12, 2))
    with pytest.raises(release.ReleaseError, match="already has a section"):
        release.with_release_header(CHANGELOG, "0.3.0", dt.date(2026, 12, 2))
    with pytest.raises(release.ReleaseError, match="no \"## Unreleased\""):
        release.changelog_entries("# Changelog\n")
    assert release.changelog_entries((ROOT / "CHANGELOG.md").read_text())  # the next release has entries


def test_citation_cff_is_valid_cff_1_2_0_and_a_release_updates_it():
    jsonschema = pytest.importorskip("jsonschema")
    # the CFF 1.2.0 schema (citation-file-format.github.io/1.2.0/schema.json, as cffconvert 2.0.0 ships it)
    schema = json.loads((ROOT / "tests" / "fixtures" / "cff-1.2.0.schema.json").read_text())
    text = (ROOT / "CITATION.cff").read_text()
    cff = yaml.safe_load(text)
    jsonschema.validate(cff, schema)
    from resmix import __version__
    assert release.parse_version(cff["version"]) <= release.parse_version(__version__)
    new = yaml.safe_load(release.with_citation_version(text, "9.9.9", dt.date(2027, 1, 2)))
    jsonschema.validate(new, schema)
    assert (new["version"], new["date-released"]) == ("9.9.9", "2027-01-02")
    assert {k: v for k, v in new.items() if k not in ("version", "date-released")} == \
        {k: v for k, v in cff.items() if k not in ("version", "date-released")}
    bad = dict(cff, authors=[{"nmae": "typo"}])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_package_metadata_names_the_configured_repository_and_both_licenses():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    assert project["urls"]["Repository"] == url and all(u.startswith(url) for u in project["urls"].values())
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["repository-code"] == url
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "Attribution 4.0 International" in (ROOT / "LICENSE-BOOK").read_text()
    assert project["authors"] == [{"name": "resmix maintainers"}]
    assert "pandas>=2" in project["dependencies"]  # study.summarise needs it
    assert project["scripts"]["resmix"] == "resmix.study.cli:main"


def _copy_of_the_checkout(tmp_path: Path) -> Path:
    """The checkout's tracked and unignored files as a fresh git repository (its working tree as committed)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split("\0")
    repo = tmp_path / "repo"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "state"], cwd=repo, check=True)
    return repo


def _state(repo: Path) -> tuple:
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, capture_output=True, text=True).stdout  # noqa: E731
    return git("rev-parse", "HEAD"), git("status", "--porcelain"), git("tag"), (repo / "dist").exists()


def test_a_release_end_to_end_in_a_copy_of_the_checkout(tmp_path, monkeypatch):
    pytest.importorskip("jupytext")
    repo = _copy_of_the_checkout(tmp_path)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.org")
    before = _state(repo)
    day = dt.date(2027, 1, 2)

    with pytest.raises(release.ReleaseError, match="below the current version"):
        release.release(repo, "0.0.1", dry_run=True)
    plan = release.release(repo, "9.9.9", dry_run=True, date=day)
    assert _state(repo) == before, "the dry run changed the repository"
    assert any("resmix-9.9.9-py3-none-any.whl" in line for line in plan)

    (repo / "scratch.txt").write_text("uncommitted")
    with pytest.raises(release.ReleaseError, match="uncommitted changes"):
        release.release(repo, "9.9.9", date=day)
    (repo / "scratch.txt").unlink()

    release.release(repo, "9.9.9", date=day)
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True).stdout  # noqa: E731
    assert git("status", "--porcelain") == "" and git("log", "-1", "--format=%s").strip() == "Release 9.9.9"
    assert git("cat-file", "-t", "v9.9.9").strip() == "tag"  # annotated
    assert git("rev-parse", "v9.9.9^{commit}") == git("rev-parse", "HEAD")
    assert '__version__ = "9.9.9"' in (repo / "resmix" / "_version.py").read_text()
    assert "## Unreleased\n\n## 9.9.9 (2027-01-02)\n" in (repo / "CHANGELOG.md").read_text()
    assert yaml.safe_load((repo / "CITATION.cff").read_text())["version"] == "9.9.9"
    for chapter in (repo / "book" / "py").glob("*.py"):
        assert "@v9.9.9" in chapter.read_text() and "@v9.9.9" in (repo / "book" / f"{chapter.stem}.ipynb").read_text()
    wheel = repo / "dist" / "resmix-9.9.9-py3-none-any.whl"
    assert "Version: 9.9.9" in zipfile.ZipFile(wheel).read("resmix-9.9.9.dist-info/METADATA").decode()
    with pytest.raises(release.ReleaseError, match="v9.9.9 exists already"):
        release.release(repo, "9.9.9", dry_run=True)
