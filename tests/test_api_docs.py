"""The API reference: a page per module, and docstrings that napoleon reads as they are meant."""
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest
import yaml

import resmix

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = sorted(m.name for m in pkgutil.iter_modules(resmix.__path__) if not m.name.startswith("_"))
UNDOCUMENTED = {"store"}  # the results store's locks and set-aside files: internal to resmix.study


@pytest.mark.parametrize("name", [m for m in PUBLIC if m not in UNDOCUMENTED])
def test_every_module_has_its_page_in_the_toc(name):
    page = ROOT / "book" / "api" / f"{name}.md"
    assert page.exists(), f"no API page for resmix.{name}: add book/api/{name}.md"
    assert f".. automodule:: resmix.{name}" in page.read_text()
    assert f"file: book/api/{name}\n" in (ROOT / "_toc.yml").read_text(), f"book/api/{name} is not in _toc.yml"
    assert f"(api/{name}.md)" in (ROOT / "book" / "api.md").read_text(), f"book/api.md does not link resmix.{name}"


def properties():
    for name in PUBLIC:
        if name == "ray_backend" and importlib.util.find_spec("ray") is None:
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
        if name == "ray_backend" and importlib.util.find_spec("ray") is None:
            continue
        module = importlib.import_module(f"resmix.{name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and (cls.__doc__ or "").startswith(f"{cls_name}("):
                bare.append(f"resmix.{name}.{cls_name}")
    assert not bare, f"classes without a docstring of their own: {bare}"
