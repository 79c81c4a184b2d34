"""``voxcontract docs``: a self-contained HTML reference of an OpenAPI document, and the same as Markdown.

The page loads nothing from anywhere: CSS is inline, there is no script, code is highlighted at build time
(Pygments) and descriptions are rendered from Markdown with raw HTML and images off. Output is a pure
function of the document, so the same document always gives the same bytes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from pygments import highlight  # Pygments ships no stubs
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name

from voxcontract.spec import iter_operations
from voxcontract.tools.error_view import ErrorsView, errors_view
from voxcontract.tools.markdown_text import demote_headings, markdown_html, markdown_inline_html, table_cell
from voxcontract.tools.operation_view import OperationView, operation_anchor, operation_view
from voxcontract.tools.schema_view import SchemaView, TypeInfo, schema_anchor, schema_views
from voxcontract.tools.sdk_samples import operation_samples
from voxcontract.tools.webhook_samples import TOLERANCE_SECONDS, verification_samples
from voxcontract.tools.webhook_view import WebhookView, webhook_views

__all__ = ["HTML_FILENAME", "MARKDOWN_FILENAME", "Page", "build_page", "render_html", "render_markdown", "write_docs"]

HTML_FILENAME = "index.html"
MARKDOWN_FILENAME = "voxscriber.md"
UNTAGGED = "Operations"
_CODE_STYLE = "github-dark"


@dataclass(frozen=True, slots=True)
class TagGroup:
    name: str
    description: str
    operations: tuple[OperationView, ...]


@dataclass(frozen=True, slots=True)
class NamedText:
    name: str
    kind: str
    description: str


@dataclass(frozen=True, slots=True)
class Page:
    """Everything the templates show, built once from the document."""

    title: str
    version: str
    description: str
    servers: tuple[NamedText, ...]
    security_schemes: tuple[NamedText, ...]
    groups: tuple[TagGroup, ...]
    schemas: tuple[SchemaView, ...]
    webhooks: tuple[WebhookView, ...]
    verification: dict[str, str]
    tolerance_minutes: int
    errors: ErrorsView


def _groups(document: Mapping[str, Any], operations: list[OperationView]) -> tuple[TagGroup, ...]:
    declared = {
        str(tag["name"]): str(tag.get("description") or "")
        for tag in document.get("tags") or []
        if isinstance(tag, Mapping) and "name" in tag
    }
    order = list(declared)
    for view in operations:
        first = view.tags[0] if view.tags else UNTAGGED
        if first not in order:
            order.append(first)
    groups = []
    for name in order:
        members = tuple(view for view in operations if (view.tags[0] if view.tags else UNTAGGED) == name)
        if members:
            groups.append(TagGroup(name, declared.get(name, ""), members))
    return tuple(groups)


def _servers(document: Mapping[str, Any]) -> tuple[NamedText, ...]:
    return tuple(
        NamedText(str(server.get("url", "")), "", str(server.get("description") or ""))
        for server in document.get("servers") or []
        if isinstance(server, Mapping)
    )


def _security_schemes(document: Mapping[str, Any]) -> tuple[NamedText, ...]:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    found = []
    for name, scheme in schemes.items():
        if isinstance(scheme, Mapping):
            kind = ", ".join(str(scheme[key]) for key in ("type", "scheme", "bearerFormat", "in") if key in scheme)
            found.append(NamedText(str(name), kind, str(scheme.get("description") or "")))
    return tuple(found)


def build_page(document: Mapping[str, Any]) -> Page:
    """The view model of the reference."""
    info = document.get("info") or {}
    webhooks = webhook_views(document)
    operations = []
    for operation in iter_operations(document):
        anchor = operation_anchor(operation)
        sent = tuple((hook.anchor, hook.name) for hook in webhooks if hook.source_anchor == anchor)
        operations.append(operation_view(document, operation, operation_samples(document, operation), sent))
    return Page(
        title=str(info.get("title") or "API reference"),
        version=str(info.get("version") or ""),
        description=str(info.get("description") or ""),
        servers=_servers(document),
        security_schemes=_security_schemes(document),
        groups=_groups(document, operations),
        schemas=tuple(schema_views(document)),
        webhooks=tuple(webhooks),
        verification=verification_samples(),
        tolerance_minutes=TOLERANCE_SECONDS // 60,
        errors=errors_view(document),
    )


def _code_html(code: str, language: str = "text") -> Markup:
    formatter = HtmlFormatter(nowrap=True)
    highlighted = highlight(code, get_lexer_by_name(language), formatter)
    return Markup(f'<pre class="code hl"><code>{highlighted.rstrip()}</code></pre>')  # Pygments escapes


def _type_html(info: TypeInfo) -> Markup:
    parts = [
        Markup('<a class="ref" href="#{}">{}</a>').format(schema_anchor(ref), text) if ref else escape(text)
        for text, ref in info.tokens
    ]
    chips = [Markup('<span class="chip">{}</span>').format(item) for item in info.constraints]
    return Markup('<code class="type">{}</code>').format(Markup("").join(parts)) + Markup(" ").join(chips)


def _type_markdown(info: TypeInfo) -> str:
    parts = [f"[{text}](#{schema_anchor(ref).lower()})" if ref else table_cell(text) for text, ref in info.tokens]
    return " ".join(["".join(parts), *(_inline_code(item) for item in info.constraints)])


def _fence(text: str, language: str = "") -> str:
    """A fenced code block, its fence longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _inline_code(text: object) -> str:
    """Inline code for a Markdown table cell (empty stays empty)."""
    flat = table_cell(text)
    if not flat:
        return ""
    ticks = "``" if "`" in flat else "`"
    return f"{ticks} {flat} {ticks}" if ticks == "``" else f"`{flat}`"


def _tidy_markdown(text: str) -> str:
    """At most one blank line in a row outside code fences, and one newline at the end."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        marker = re.match(r"^(`{3,})", line)
        if fence is None and marker:
            fence = marker.group(1)
        elif fence is not None and line.rstrip() == fence:
            fence = None
        elif fence is None and not line.strip() and (not lines or not lines[-1].strip()):
            continue
        lines.append(line.rstrip() if fence is None else line)
    return "\n".join(lines).strip() + "\n"


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("voxcontract.tools", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        md=markdown_html,
        mdi=markdown_inline_html,
        code=_code_html,
        type_html=_type_html,
        type_md=_type_markdown,
        cell=table_cell,
        demote=demote_headings,
        fence=_fence,
        icode=_inline_code,
    )
    environment.globals["code_css"] = Markup(HtmlFormatter(style=_CODE_STYLE).get_style_defs(".hl"))
    return environment


def render_html(document: Mapping[str, Any]) -> str:
    """The reference as one self-contained HTML page."""
    return _environment().get_template("index.html.j2").render(page=build_page(document))


def render_markdown(document: Mapping[str, Any]) -> str:
    """The reference as GitHub-flavoured Markdown."""
    return _tidy_markdown(_environment().get_template("reference.md.j2").render(page=build_page(document)))


def write_docs(document: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write ``index.html`` and ``voxscriber.md`` into ``out_dir`` (created if missing); their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in ((HTML_FILENAME, render_html(document)), (MARKDOWN_FILENAME, render_markdown(document))):
        path = out_dir / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written
