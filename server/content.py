"""Results as content: an inline preview image and a resource link per full-size PNG.

A tool result that has images carries its structured metadata (the output schema), a JSON mirror of
it as text (server/adapters.py), an inline PNG preview capped at PREVIEW_MAX_SIDE px a side and
GENAI_MCP_PREVIEW_MAX_BYTES, and a link per full-size PNG (genai-mcp://outputs/..., readable with
resources/read). The preview's bytes travel with its PreviewInfo, outside the schema.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp.types import ContentBlock, ImageContent, ResourceLink
from pydantic import PrivateAttr

from genai_mcp.tools import diffusion
from genai_mcp.tools.outputs import OutputStore

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["PREVIEW_MAX_SIDE", "image_blocks", "link", "preview_of", "store_image"]

PREVIEW_MAX_SIDE = diffusion.DEFAULT_MAX_PREVIEW_SIDE


class _InlinePreview(diffusion.PreviewInfo):
    _png: bytes = PrivateAttr(default=b"")


def preview_of(
    images: Sequence[Image], *, max_bytes: int, columns: int | None = None
) -> diffusion.PreviewInfo:
    """A grid preview of `images` as the result's PreviewInfo, its PNG kept for image_blocks()."""
    grid = diffusion.grid_preview(images, columns=columns, max_side=PREVIEW_MAX_SIDE, max_bytes=max_bytes)
    info = _InlinePreview(width=grid.width, height=grid.height, bytes=len(grid.png), columns=grid.columns)
    info._png = grid.png
    return info


def store_image(outputs: OutputStore, image: Image, kind: str) -> diffusion.StoredImage:
    """Save `image` as a full-size PNG output and describe it."""
    stored = outputs.save_png(image, kind)
    return diffusion.StoredImage(
        uri=stored.uri, name=stored.name, width=image.width, height=image.height, bytes=stored.nbytes
    )


def link(image: diffusion.StoredImage, description: str) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=image.uri,
        name=image.name,
        description=description,
        mime_type="image/png",
        size=image.bytes,
    )


def image_blocks(preview: diffusion.PreviewInfo, links: Sequence[ResourceLink]) -> list[ContentBlock]:
    """The preview image (when this process rendered it) followed by the links."""
    blocks: list[ContentBlock] = []
    if isinstance(preview, _InlinePreview) and preview._png:
        data = base64.b64encode(preview._png).decode("ascii")
        blocks.append(ImageContent(type="image", data=data, mime_type="image/png"))
    return [*blocks, *links]
