"""Sphinx configuration for the qiskit-divi documentation (``tox -e docs``)."""

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
