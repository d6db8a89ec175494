"""Printing host results for people (rich tables) and for scripts (JSON), saving binary content to files.

Images, audio and blob resources are written to a folder (atomically: temp name, then rename)
and only their paths are printed; a result's text that merely mirrors its structured content
as JSON is not printed twice.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    ReadResourceResult,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from rich.console import Console
from rich.json import JSON
from rich.table import Table

from genai_mcp.client.catalog import HostPrompt, HostResource, HostResourceTemplate, HostTool

__all__ = [
    "call_result_json",
    "print_call_result",
    "print_prompt",
    "print_prompts",
    "print_resource",
    "print_resources",
    "print_tools",
    "save_bytes",
]

_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "audio/wav": ".wav"}


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0]


def save_bytes(data: bytes, folder: Path, stem: str, mime_type: str | None) -> Path:
    """Write `data` to a new file `folder/stem[-n].ext` (never overwriting) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    ext = _EXTENSIONS.get(mime_type or "") or mimetypes.guess_extension(mime_type or "") or ".bin"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-") or "output"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{safe}-", suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    for n in range(10_000):
        path = folder / f"{safe}{'-' + str(n) if n else ''}{ext}"
        try:
            os.link(tmp, path)  # fails if the name is taken: no overwrite, no race
        except FileExistsError:
            continue
        os.unlink(tmp)
        return path
    os.unlink(tmp)
    raise FileExistsError(f"no free file name for {safe}{ext} in {folder}")


def _inline(value: Any) -> str | None:
    """A table cell for scalars and short lists without mappings (`[[1, 0], [1, 2]]`), else None."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None or isinstance(value, str | int | bool):
        return "" if value is None else str(value)
    if isinstance(value, list) and "{" not in (text := json.dumps(_rounded(value))) and len(text) <= 60:
        return text
    return None


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def print_structured(console: Console, value: Any, title: str | None = None) -> None:
    """Mappings as key/value tables, lists of flat mappings as tables, anything else as JSON."""
    if isinstance(value, dict):
        cells = {k: c for k, v in value.items() if (c := _inline(v)) is not None}
        if cells:
            table = Table("key", "value", title=title, title_justify="left")
            for key, cell in cells.items():
                table.add_row(str(key), cell)
            console.print(table)
        for key, item in value.items():
            if key not in cells:
                print_structured(console, item, f"{title}.{key}" if title else str(key))
        return
    rows = value if isinstance(value, list) and value and all(isinstance(r, dict) for r in value) else []
    if rows and all(_inline(cell) is not None for row in rows for cell in row.values()):
        columns = list(dict.fromkeys(key for row in rows for key in row))
        table = Table(*columns, title=title, title_justify="left")
        for row in rows:
            table.add_row(*(_inline(row.get(c)) or "" for c in columns))
        console.print(table)
        return
    if title:
        console.print(f"[bold]{title}[/bold]")
    console.print(JSON.from_data(value))


def print_tools(console: Console, tools: Sequence[HostTool]) -> None:
    table = Table("tool", "description")
    for tool in tools:
        table.add_row(tool.name, _first_line(tool.tool.title or tool.tool.description))
    console.print(table)


def print_prompts(console: Console, prompts: Sequence[HostPrompt]) -> None:
    table = Table("prompt", "arguments", "description")
    for p in prompts:
        args = ", ".join(a.name + ("" if a.required else "?") for a in p.prompt.arguments or [])
        table.add_row(p.name, args, _first_line(p.prompt.title or p.prompt.description))
    console.print(table)


def print_resources(
    console: Console, resources: Sequence[HostResource], templates: Sequence[HostResourceTemplate]
) -> None:
    table = Table("server", "uri", "mime type", "description")
    for r in resources:
        table.add_row(r.server, r.uri, r.resource.mime_type or "", _first_line(r.resource.description))
    for t in templates:
        desc = _first_line(t.template.description)
        table.add_row(t.server, t.template.uri_template, t.template.mime_type or "", f"(template) {desc}")
    console.print(table)


def _mirrors(text: str, structured: Any) -> bool:
    try:
        return bool(json.loads(text) == structured)
    except ValueError:
        return False


def _block_json(block: ContentBlock, folder: Path, stem: str) -> dict[str, Any]:
    if isinstance(block, ImageContent | AudioContent):
        path = save_bytes(base64.b64decode(block.data), folder, stem, block.mime_type)
        return {"type": block.type, "mime_type": block.mime_type, "path": str(path)}
    if isinstance(block, EmbeddedResource) and isinstance(block.resource, BlobResourceContents):
        contents = block.resource
        path = save_bytes(base64.b64decode(contents.blob), folder, stem, contents.mime_type)
        return {
            "type": "resource",
            "uri": str(contents.uri),
            "mime_type": contents.mime_type,
            "path": str(path),
        }
    return block.model_dump(mode="json", by_alias=True, exclude_none=True)


def call_result_json(result: CallToolResult, folder: Path, stem: str) -> dict[str, Any]:
    """The result as JSON-ready data, binary blocks replaced by the paths they were saved to."""
    return {
        "is_error": result.is_error,
        "structured_content": result.structured_content,
        "content": [_block_json(b, folder, stem) for b in result.content],
    }


def print_call_result(console: Console, result: CallToolResult, folder: Path, stem: str) -> None:
    if result.is_error:
        console.print("[bold red]the tool reported an error:[/bold red]")
    structured = result.structured_content
    for block in result.content:
        if isinstance(block, TextContent):
            if structured is None or not _mirrors(block.text, structured):
                console.print(block.text, markup=False, highlight=False)
        elif isinstance(block, ResourceLink):
            console.print(f"link: {block.uri} ({block.name})", markup=False, highlight=False)
        elif isinstance(block, EmbeddedResource) and isinstance(block.resource, TextResourceContents):
            console.print(f"resource {block.resource.uri}:", markup=False, highlight=False)
            console.print(block.resource.text, markup=False, highlight=False)
        else:
            saved = _block_json(block, folder, stem)
            console.print(f"{saved['type']} saved: {saved['path']}", markup=False, highlight=False)
    if structured is not None:
        print_structured(console, structured)


def print_resource(console: Console, result: ReadResourceResult, folder: Path, stem: str) -> None:
    for contents in result.contents:
        if isinstance(contents, TextResourceContents):
            console.print(contents.text, markup=False, highlight=False)
        else:
            path = save_bytes(base64.b64decode(contents.blob), folder, stem, contents.mime_type)
            console.print(f"{contents.mime_type or 'blob'} saved: {path}", markup=False, highlight=False)


def print_prompt(console: Console, result: GetPromptResult) -> None:
    for message in result.messages:
        content = message.content
        text = content.text if isinstance(content, TextContent) else f"<{content.type}>"
        console.print(f"{message.role}: {text}", markup=False, highlight=False)
