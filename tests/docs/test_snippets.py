"""Every Python block of every documentation page runs, in order, as a reader would run it.

A page's blocks share one namespace, like cells of a notebook, so a page may build on
its earlier blocks. A broken snippet fails here, naming the page and line.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from .snippets import DOCS, pages, python_blocks


def _stop_servers(namespace: dict[str, object]) -> None:
    """Stop any local server a page left running (pages should stop their own)."""
    from qiskit_divi.server import LocalServer

    for value in namespace.values():
        if isinstance(value, LocalServer):
            value.stop()


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_snippets_run(page: Path, clean_env: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    try:
        for block in python_blocks(page):
            code = block.compiled()
            if block.skip_reason is None:
                exec(code, namespace)
    finally:
        _stop_servers(namespace)


def test_a_skipped_block_must_say_why(tmp_path: Path) -> None:
    page = tmp_path / "page.rst"
    page.write_text(
        ".. code-block:: python\n\n   # not run in CI: needs a real token\n   x = 1\n\n"
        ".. code-block:: python\n\n   # not run in CI:\n   y = 2\n"
    )
    first, second = python_blocks(page)
    assert first.skip_reason == "needs a real token"
    assert second.skip_reason is None


def test_blocks_keep_their_page_line_numbers(tmp_path: Path) -> None:
    page = tmp_path / "page.rst"
    page.write_text(
        "Title\n=====\n\n.. code-block:: python\n   :caption: demo\n\n   a = (\n       1\n   )\n\n"
        "   a / 0\nNot code.\n"
    )
    (block,) = python_blocks(page)
    assert (block.line, block.code) == (7, "a = (\n    1\n)\n\na / 0\n")
    with pytest.raises(ZeroDivisionError) as info:
        exec(block.compiled(), {})
    where = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (where.filename, where.lineno) == (str(page), 11)


def test_markdown_fences_and_unknown_languages(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# T\n\n```python\nx = 1\n```\n\n```bash\nls\n```\n")
    (block,) = python_blocks(page)
    assert (block.line, block.code) == (4, "x = 1\n")
    page.write_text("```\nx = 1\n```\n")
    with pytest.raises(ValueError, match=r"page\.md:1"):
        python_blocks(page)
