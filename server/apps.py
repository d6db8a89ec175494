"""MCP Apps (SEP-1865): views that hosts with the extension render next to a tool's result.

A view is a `ui://` resource of MIME type `text/html;profile=mcp-app`: one self-contained HTML page
that the host shows in a sandboxed iframe and talks to over postMessage JSON-RPC (ui/initialize,
then the call's tool-input and tool-result; the view may ask the host to call tools and read
resources on this server). A tool names its view in its ToolSpec (`view=apps.IMAGES`), which the
publisher (server/adapters.py) puts in the tool's `_meta.ui.resourceUri`. Hosts without the
extension never read it: the result (structured content, its JSON text, capped previews, links)
is the same for everyone.

    ui://genai-mcp/images.html          sample_images, denoise_image
    ui://genai-mcp/classification.html  classify_image, zero_shot_classify, describe_image
    ui://genai-mcp/metrics.html         classification_metrics, retrieval_metrics, text_metrics
    ui://genai-mcp/retrieval.html       rag_search, rag_answer
    ui://genai-mcp/training.html        lora_finetune, job_status, cancel_job

The pages live in server/views/; each gets the shared style (base.css: light and dark host
themes) and the view runtime (bridge.js) inlined where it says `<!-- genai-mcp:runtime -->`.
Views fetch nothing: no CDN, no network; images come through the host (resources/read of the
full-size PNGs), so the CSP they declare allows no domain at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.resources import TextResource

__all__ = [
    "CLASSIFICATION",
    "IMAGES",
    "METRICS",
    "MIME_TYPE",
    "RETRIEVAL",
    "TRAINING",
    "VIEWS",
    "page",
    "register",
]

MIME_TYPE = "text/html;profile=mcp-app"
RUNTIME_MARK = "<!-- genai-mcp:runtime -->"
VIEWS_DIR = Path(__file__).with_name("views")

IMAGES = "ui://genai-mcp/images.html"
CLASSIFICATION = "ui://genai-mcp/classification.html"
METRICS = "ui://genai-mcp/metrics.html"
RETRIEVAL = "ui://genai-mcp/retrieval.html"
TRAINING = "ui://genai-mcp/training.html"

# No connect, resource, frame or base-uri domains: the host's strictest sandbox fits the views.
_UI_META: dict[str, Any] = {
    "ui": {
        "csp": {"connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []},
        "prefersBorder": True,
    }
}


@dataclass(frozen=True)
class View:
    uri: str
    title: str
    description: str

    @property
    def file(self) -> str:
        return self.uri.rsplit("/", 1)[1]


VIEWS = (
    View(IMAGES, "Images", "Generated and denoised images full size, with seeds and MSE; click to enlarge."),
    View(CLASSIFICATION, "Classification", "The classified image beside its top-k probability bars."),
    View(
        METRICS,
        "Metrics",
        "Confusion-matrix heatmap with per-class P/R/F1; retrieval and text metric tables.",
    ),
    View(
        RETRIEVAL,
        "Retrieval",
        "Search hits with scores and per-list ranks; an answer with its cited passages.",
    ),
    View(
        TRAINING, "Training", "A fine-tuning job's live loss curve, before/after metric and a cancel button."
    ),
)


@cache
def page(file: str) -> str:
    """The view's HTML with the shared style and runtime inlined: what resources/read returns."""
    html = (VIEWS_DIR / file).read_text(encoding="utf-8")
    if html.count(RUNTIME_MARK) != 1:
        raise ValueError(f"server/views/{file} must hold {RUNTIME_MARK} exactly once")
    style = (VIEWS_DIR / "base.css").read_text(encoding="utf-8")
    script = (VIEWS_DIR / "bridge.js").read_text(encoding="utf-8")
    return html.replace(RUNTIME_MARK, f"<style>\n{style}</style>\n<script>\n{script}</script>")


def register(server: MCPServer[Any]) -> None:
    for view in VIEWS:
        server.add_resource(
            TextResource(
                uri=view.uri,
                name=f"{view.file.removesuffix('.html')}-view",
                title=f"{view.title} view",
                description=f"MCP Apps view: {view.description}",
                mime_type=MIME_TYPE,
                text=page(view.file),
                meta=_UI_META,
            )
        )
