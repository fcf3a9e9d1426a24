"""The API reference documents every public name, each under a path users can import."""

from __future__ import annotations

import importlib
import inspect
import re
from types import ModuleType

import pytest

from .snippets import DOCS

#: The modules users import from; every name they export must be in the reference.
PUBLIC_MODULES = [
    "qiskit_divi",
    "qiskit_divi.backends",
    "qiskit_divi.exceptions",
    "qiskit_divi.server",
]

_DIRECTIVE = re.compile(
    r"^\s*\.\. (?P<kind>auto(?:class|exception|function|data|module))::\s*(?P<target>\S+)",
    re.MULTILINE,
)


def _public_names(module: ModuleType) -> list[str]:
    """``__all__``, or else the public classes and functions the module defines."""
    if hasattr(module, "__all__"):
        return [name for name in module.__all__ if name != "__version__"]
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    ]


def _resolve(target: str) -> object:
    module_name, _, attribute = target.rpartition(".")
    try:
        return importlib.import_module(target)
    except ImportError:
        return getattr(importlib.import_module(module_name), attribute)


def _documented() -> list[object]:
    """Every object an autodoc directive of the reference names (a module: its names)."""
    objects: list[object] = []
    for page in sorted((DOCS / "api").glob("*.rst")):
        for match in _DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            target = _resolve(match["target"])
            if match["kind"] == "automodule":
                assert isinstance(target, ModuleType)
                objects += [getattr(target, name) for name in _public_names(target)]
            else:
                objects.append(target)
    return objects


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_the_reference(module_name: str) -> None:
    module = importlib.import_module(module_name)
    documented = _documented()
    missing = [
        name
        for name in _public_names(module)
        if not any(getattr(module, name) is obj for obj in documented)
    ]
    assert not missing, f"{module_name} exports names the API reference lacks: {missing}"
