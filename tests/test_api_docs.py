"""The API reference: a page per module, and docstrings that napoleon reads as they are meant."""
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import yaml

import resmix

ROOT = Path(__file__).resolve().parents[1]
#: every public module and subpackage, by its dotted name after "resmix." ("measure.metrics", "measure")
PUBLIC = sorted(m.name.removeprefix("resmix.") for m in pkgutil.walk_packages(resmix.__path__, "resmix.")
                if not any(part.startswith("_") for part in m.name.split(".")))
FOUNDATION = {"config", "criteria"}  # the root's modules: one page for both, book/api/foundation.md


def _page(name: str) -> str:
    """The API page of a module: its layer's (``measure.metrics`` -> ``measure``), or the foundation's."""
    return "foundation" if name in FOUNDATION else name.split(".")[0]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_module_has_its_layer_page_in_the_toc(name):
    page = ROOT / "book" / "api" / f"{_page(name)}.md"
    assert page.exists(), f"no API page for resmix.{name}: add book/api/{_page(name)}.md"
    assert f".. automodule:: resmix.{name}\n" in page.read_text(), f"{page} does not document resmix.{name}"
    assert f"file: book/api/{_page(name)}\n" in (ROOT / "_toc.yml").read_text(), f"book/api/{_page(name)} is not in _toc.yml"
    assert f"(api/{_page(name)}.md)" in (ROOT / "book" / "api.md").read_text(), f"book/api.md does not link {page.name}"


def test_the_modules_are_found_in_their_layers():
    assert {"config", "data", "data.framing", "measure.metrics", "registrations.first", "study.cli"} <= set(PUBLIC)


def properties():
    for name in PUBLIC:
        if name == "study.ray_backend" and importlib.util.find_spec("ray") is None:
            continue
        module = importlib.import_module(f"resmix.{name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for attr, value in vars(cls).items():
                if isinstance(value, property) and value.__doc__:
                    yield f"resmix.{name}.{cls_name}.{attr}", value.__doc__


@pytest.mark.parametrize("name, doc", list(properties()), ids=lambda x: x if x.startswith("resmix") else "")
def test_napoleon_reads_no_type_into_a_property_docstring(name, doc):
    """Regression: "N: samples per clip." was rendered as "Type: N" (napoleon reads "X: ..." as a type)."""
    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import GoogleDocstring
    parsed = str(GoogleDocstring(inspect.cleandoc(doc), Config(), what="property", name=name))
    assert ":type:" not in parsed, f"{name}: napoleon reads a type from {doc.splitlines()[0]!r}; start with prose"


def test_the_regression_would_be_caught():
    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import GoogleDocstring
    assert ":type: N" in str(GoogleDocstring("N: samples per clip.", Config(), what="property", name="n_samples"))


def test_types_are_rendered_as_types():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["autodoc_typehints"] == "description"


def test_no_class_is_documented_by_its_generated_signature():
    """Regression: a dataclass without a docstring gets 'Name(x: 'int' = 1, ...)' as one, which the API page
    showed as its signature, with every type quoted ('int')."""
    bare = []
    for name in PUBLIC:
        if name == "study.ray_backend" and importlib.util.find_spec("ray") is None:
            continue
        module = importlib.import_module(f"resmix.{name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and (cls.__doc__ or "").startswith(f"{cls_name}("):
                bare.append(f"resmix.{name}.{cls_name}")
    assert not bare, f"classes without a docstring of their own: {bare}"
