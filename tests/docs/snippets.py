"""Finds the Python code blocks of a documentation page, so the tests can run them.

A page's blocks are ``.. code-block:: python`` directives in reStructuredText and
```` ```python ```` fences in Markdown. A block whose first line is
``# not run in CI: <reason>`` is shown to readers but not executed; keep those rare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

_SKIP_MARKER = re.compile(r"#\s*not run in CI:\s*(?P<reason>\S.*)$")
_RST_PYTHON = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block::[ \t]*python[ \t]*$")
_RST_ANY_CODE = re.compile(r"^[ \t]*\.\. (code-block|code|sourcecode)::[ \t]*(?P<lang>\S*)")
_MD_FENCE = re.compile(r"^(?P<indent>[ \t]*)```[ \t]*(?P<lang>[\w+-]*)")
#: Languages the tests cannot run, allowed on purpose (shell commands, output, config,
#: HTTP exchanges).
_NOT_PYTHON = {"bash", "console", "shell", "text", "ini", "toml", "json", "http", "none"}


@dataclass(frozen=True)
class Block:
    """One code block: where it starts (1-based line of its first code line) and its text."""

    page: Path
    line: int
    code: str

    @property
    def skip_reason(self) -> str | None:
        """The reason given by a ``# not run in CI:`` first line, else ``None``."""
        first = self.code.lstrip().split("\n", 1)[0]
        match = _SKIP_MARKER.match(first)
        return match["reason"] if match else None

    def compiled(self) -> object:
        """The block compiled so tracebacks name the page and its own line numbers."""
        padded = "\n" * (self.line - 1) + self.code
        return compile(padded, str(self.page), "exec")


def pages() -> list[Path]:
    """Every source page of the documentation."""
    found = [*DOCS.rglob("*.rst"), *DOCS.rglob("*.md")]
    return sorted(p for p in found if "_build" not in p.relative_to(DOCS).parts)


def python_blocks(page: Path) -> list[Block]:
    """The page's Python blocks in order; raises on a code block of unknown language."""
    lines = page.read_text(encoding="utf-8").splitlines()
    return _markdown_blocks(page, lines) if page.suffix == ".md" else _rst_blocks(page, lines)


def _rst_blocks(page: Path, lines: list[str]) -> list[Block]:
    blocks = []
    for index, line in enumerate(lines):
        match = _RST_PYTHON.match(line)
        if match is None:
            _refuse_unknown_language(page, index, _RST_ANY_CODE.match(line))
            continue
        indent = len(match["indent"].expandtabs())
        body = _rst_body(lines, index + 1, indent)
        if body:
            first, code = body
            blocks.append(Block(page, first + 1, code))
    return blocks


def _rst_body(lines: list[str], start: int, indent: int) -> tuple[int, str] | None:
    """The directive's content (after its options and a blank line), dedented."""
    body_start = start
    while body_start < len(lines) and lines[body_start].strip().startswith(":"):
        body_start += 1  # directive options such as :caption:
    content: list[str] = []
    first = None
    for index in range(body_start, len(lines)):
        line = lines[index]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        if first is None and line.strip():
            first = index
        if first is not None:
            content.append(line)
    if first is None:
        return None
    width = min(len(line) - len(line.lstrip()) for line in content if line.strip())
    return first, "\n".join(line[width:] for line in content).rstrip() + "\n"


def _markdown_blocks(page: Path, lines: list[str]) -> list[Block]:
    blocks = []
    index = 0
    while index < len(lines):
        match = _MD_FENCE.match(lines[index])
        index += 1
        if match is None:
            continue
        end = index
        while end < len(lines) and not lines[end].strip().startswith("```"):
            end += 1
        if match["lang"] == "python":
            blocks.append(Block(page, index + 1, "\n".join(lines[index:end]) + "\n"))
        else:
            _refuse_unknown_language(page, index - 1, match)
        index = end + 1
    return blocks


def _refuse_unknown_language(page: Path, index: int, match: re.Match[str] | None) -> None:
    """A code block that is neither Python nor a known other language would go untested."""
    if match is not None and match["lang"] not in _NOT_PYTHON:
        raise ValueError(
            f"{page}:{index + 1}: code block of language {match['lang']!r}; use 'python' "
            f"(executed by the tests) or one of {sorted(_NOT_PYTHON)}"
        )
