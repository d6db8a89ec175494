"""MCP Apps views (server/apps.py) through an in-memory client: the tools that name a view, the
ui:// resources as listed and read, and results that do not change for hosts without the extension.
The views in a real browser: tests/e2e/test_apps_views.py."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import TextResourceContents

from genai_mcp.server import apps
from genai_mcp.server.adapters import ToolPublisher
from genai_mcp.server.app import create_server
from genai_mcp.server.metrics_tools import CLASSIFICATION_METRICS
from genai_mcp.server.settings import ServerSettings
from genai_mcp.tools import metrics
from tests.helpers.results import run_client

VIEWED = {
    apps.IMAGES: {"sample_images", "denoise_image"},
    apps.CLASSIFICATION: {"classify_image", "zero_shot_classify", "describe_image"},
    apps.METRICS: {"classification_metrics", "retrieval_metrics", "text_metrics"},
    apps.RETRIEVAL: {"rag_search", "rag_answer"},
    apps.TRAINING: {"lora_finetune", "job_status", "cancel_job"},
}
NO_DOMAINS: dict[str, list[str]] = {
    "connectDomains": [],
    "resourceDomains": [],
    "frameDomains": [],
    "baseUriDomains": [],
}
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name, not a fetch


def test_tools_name_their_view_in_meta_and_the_rest_name_none(tmp_path: Path) -> None:
    async def check(client: Client) -> None:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        for uri, names in VIEWED.items():
            assert uri in listed
            for name in names:
                assert tools[name].meta == {"ui": {"resourceUri": uri}}, name
        viewed = set().union(*VIEWED.values())
        assert all(tool.meta is None for name, tool in tools.items() if name not in viewed)

    run_client(create_server(ServerSettings(data_dir=tmp_path)), check)


def test_views_are_self_contained_mcp_app_pages_with_an_empty_csp(tmp_path: Path) -> None:
    async def check(client: Client) -> None:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        for view in apps.VIEWS:
            entry = listed[view.uri]
            assert entry.mime_type == apps.MIME_TYPE == "text/html;profile=mcp-app"
            assert entry.meta == {"ui": {"csp": NO_DOMAINS, "prefersBorder": True}}
            [content] = (await client.read_resource(view.uri)).contents
            assert content.mime_type == apps.MIME_TYPE and content.meta == entry.meta
            assert isinstance(content, TextResourceContents)
            html = content.text
            assert html.lower().startswith("<!doctype html>")
            assert apps.RUNTIME_MARK not in html and "const genai = " in html and ":root[data-theme" in html
            # Nothing is fetched: no external script, style, image or frame, no network API.
            assert re.findall(r"https?://[^\s\"'`)]+", html) in ([], [SVG_NAMESPACE])
            for banned in ("<link", ' src="/', "fetch(", "XMLHttpRequest", "WebSocket", "import(", "@import"):
                assert banned not in html, (view.uri, banned)

    run_client(create_server(ServerSettings(data_dir=tmp_path)), check)


def _published(spec: Any) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("views-check")
    ToolPublisher(server, {}).add(spec, metrics.classification_metrics)
    return server


def test_a_client_without_the_extension_sees_the_same_tool_and_result() -> None:
    """The same tool published with and without its view: only the listing's `_meta` differs."""
    args = {"y_true": ["cat", "dog", "dog", "bird"], "y_pred": ["cat", "dog", "bird", "bird"]}
    seen: dict[str, Any] = {}

    for label, spec in (
        ("view", CLASSIFICATION_METRICS),
        ("plain", dataclasses.replace(CLASSIFICATION_METRICS, view=None)),
    ):

        async def check(client: Client, label: str = label) -> None:
            [tool] = (await client.list_tools()).tools
            result = await client.call_tool(tool.name, args)
            seen[label] = (tool, result.model_dump(by_alias=True))

        run_client(_published(spec), check)

    (viewed, viewed_result), (plain, plain_result) = seen["view"], seen["plain"]
    assert viewed.meta == {"ui": {"resourceUri": apps.METRICS}} and plain.meta is None
    assert viewed.model_dump(exclude={"meta"}) == plain.model_dump(exclude={"meta"})
    assert viewed_result == plain_result and not viewed_result["isError"]
    assert viewed_result["structuredContent"]["classification"]["confusion_matrix"] == [
        [1, 0, 0],
        [0, 1, 0],
        [1, 0, 1],
    ]


def test_a_view_without_its_runtime_mark_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("base.css", "bridge.js"):
        (tmp_path / name).write_text((apps.VIEWS_DIR / name).read_text())
    (tmp_path / "broken.html").write_text("<!doctype html><html><head></head><body></body></html>")
    monkeypatch.setattr(apps, "VIEWS_DIR", tmp_path)
    apps.page.cache_clear()
    try:
        with pytest.raises(
            ValueError, match=r"server/views/broken.html must hold <!-- genai-mcp:runtime -->"
        ):
            apps.page("broken.html")
    finally:
        apps.page.cache_clear()  # later tests read the real views
