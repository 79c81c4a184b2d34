"""Descriptions (CommonMark) to safe HTML, and text fitted for GitHub-flavoured Markdown tables.

The renderer is ``markdown-it-py`` (already installed as a dependency of ``rich``), with raw HTML off so that
anything that looks like a tag is escaped, and images off so that a description can never make the page load
a remote resource. Its link validation already refuses ``javascript:``, ``vbscript:`` and ``data:`` URLs.
"""

from __future__ import annotations

import functools
import re

from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["demote_headings", "markdown_html", "markdown_inline_html", "table_cell"]


@functools.cache
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def markdown_html(text: object, shift: int = 0) -> Markup:
    """Block Markdown (paragraphs, lists, headings, code, emphasis, links) as HTML; everything else escaped.

    ``shift`` demotes headings (``## A`` with shift 1 is an ``h3``) so they nest under the page's own.
    """
    if not text:
        return Markup("")
    renderer = _renderer()
    tokens = renderer.parse(str(text))
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + shift)}"
    return Markup(renderer.renderer.render(tokens, renderer.options, {}).strip())  # safe: raw HTML is escaped


def markdown_inline_html(text: object) -> Markup:
    """One line of Markdown (code, emphasis, links) as HTML, for table cells and titles."""
    if not text:
        return Markup("")
    flat = " ".join(str(text).split())
    return Markup(_renderer().renderInline(flat))  # safe: raw HTML is escaped


def demote_headings(text: object, shift: int) -> str:
    """Markdown with its ATX headings ``shift`` levels deeper (at most ``######``), code fences left alone."""
    lines, fence = [], ""
    for line in str(text or "").strip().splitlines():
        marker = re.match(r"^\s{0,3}(`{3,}|~{3,})", line)
        if marker and (not fence or marker.group(1).startswith(fence)):
            fence = "" if fence else marker.group(1)
        elif not fence and (heading := re.match(r"^(#{1,6})(?=\s|$)", line)):
            line = "#" * min(6, len(heading.group(1)) + shift) + line[len(heading.group(1)) :]
        lines.append(line)
    return "\n".join(lines)


def table_cell(text: object) -> str:
    """Text that stays inside one cell of a Markdown table: one line, pipes escaped."""
    if text is None:
        return ""
    return " ".join(str(text).split()).replace("|", "\\|")
