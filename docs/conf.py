"""Sphinx configuration for the qiskit-divi documentation (``tox -e docs``)."""

from __future__ import annotations

import contextlib
import inspect
import typing
from typing import Any

from qiskit.exceptions import QiskitError

from qiskit_divi import __version__

project = "qiskit-divi"
author = "the qiskit-divi authors"
copyright = "2025, the qiskit-divi authors"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

# The docs build offline: no intersphinx, so references to Qiskit render as plain text.
html_theme = "furo"
html_title = f"qiskit-divi {release}"
exclude_patterns = ["_build"]

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autoclass_content = "both"

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False


def _evaluate_annotations(app: Any, obj: Any, bound_method: bool) -> None:
    """Turn string annotations (``from __future__ import annotations``) into the types.

    Autodoc evaluates a function's annotations but not those of a class's ``__init__``,
    so a parameter typed ``Options`` would link to whichever class of that name it found
    first; evaluated, it links to the right one.
    """
    function = getattr(obj, "__func__", obj)  # a classmethod's function
    if callable(function) and hasattr(function, "__annotations__"):
        # A name imported only for type checking cannot be evaluated: keep the text.
        with contextlib.suppress(NameError, TypeError):
            function.__annotations__ = typing.get_type_hints(function)


def _drop_qiskit_error_init_doc(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Every error is a ``QiskitError``, whose ``__init__`` docstring ("Set the error
    message.") ``autoclass_content = "both"`` would add to each error's entry."""
    if what == "exception" and "\n".join(lines).strip() == inspect.cleandoc(
        QiskitError.__init__.__doc__ or ""
    ):
        lines.clear()


def setup(app: Any) -> None:
    app.connect("autodoc-before-process-signature", _evaluate_annotations)
    app.connect("autodoc-process-docstring", _drop_qiskit_error_init_doc)
