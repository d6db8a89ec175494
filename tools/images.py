"""The one way an image enters genai_mcp.tools: `load_image(spec, policy) -> RGB PIL image`.

`spec` is a string in one of these forms, recognised in this order:

    data:image/png;base64,iVBOR...    a data: URI (any image media type, base64-encoded)
    scheme://.../<name>.png           a URI of any other scheme (e.g. a server's resource URI of an
                                      image it produced): passed to `policy.resolve_output`, which
                                      returns its bytes
    https://host/cat.png              a URL, fetched only when `policy.allow_url_fetch` is on
    file:///data/cat.png              the path /data/cat.png (see below)
    iVBORw0KGgo...                    raw base64: a string of base64 characters that is at least 64
                                      long, or that starts like an encoded image (PNG, JPEG, GIF, WebP, BMP)
    photos/cat.png, /data/cat.png     anything else of at most 4096 characters: a file path (a short
                                      base64 string that names no file is decoded as base64 after all)

Paths: only under `policy.roots` (setting files.roots). A relative path is looked up in each root in turn; an absolute
one must lie inside a root. A path with a `..` component is refused outright, and so is one that
resolves (through symlinks) to a place outside every root.

What is accepted: PNG, JPEG, WebP, GIF and BMP, one frame only (an animated GIF, APNG or WebP is
refused: which frame a classifier should see is the caller's choice, not ours). Limits, each
refusal naming it: encoded size (`policy.limits.max_bytes`), decoded size in pixels
(`policy.limits.max_pixels`, checked on the header before any pixel is decoded; Pillow's own
decompression-bomb guard stays on as well), and the shorter side (`policy.min_side`); an image
whose header declares no pixels (0 wide or 0 high) is refused as empty. Every refusal raises
InvalidInputError or LimitExceededError, carrying the key of the setting that would allow it
(images.max_bytes, images.max_pixels, files.roots, images.allow_url_fetch) where there is one.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genai_mcp.tools.errors import GenAIError, InvalidInputError, LimitExceededError
from genai_mcp.tools.limits import limit
from genai_mcp.tools.paths import NoSuchPathError, resolve_under_roots

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "FORMATS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_PATH_CHARS",
    "MIN_IMAGE_SIDE",
    "ImageLimits",
    "ImagePolicy",
    "decode_image",
    "load_image",
    "load_images",
]

logger = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20 * 2**20
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 8
"""Shorter side in pixels below which an image carries too little to classify (a 1x1 is a mistake)."""
MAX_PATH_CHARS = 4096
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
_FETCH_TIMEOUT_S = 10.0

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-\s]+$")
# How the base64 of each accepted format begins (PNG, JPEG, GIF, WebP's RIFF, BMP).
_BASE64_MAGIC = ("iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR", "Qk")


@dataclass(frozen=True)
class ImageLimits:
    """How large an input image may be; a refusal carries the key of the limit it hit."""

    max_bytes: int = limit("images.max_bytes", MAX_IMAGE_BYTES)  # encoded size
    max_pixels: int = limit("images.max_pixels", MAX_IMAGE_PIXELS)  # decoded width x height


@dataclass(frozen=True)
class ImagePolicy:
    """Where images may come from and how large they may be.

    `roots` (setting files.roots): folders image paths may name. `allow_url_fetch` (setting
    images.allow_url_fetch): whether http(s) URLs are fetched. `resolve_output(uri) -> bytes` turns
    a resource URI of a server-produced image into its bytes (and raises InvalidInputError for an
    unknown one); None refuses such URIs.
    """

    limits: ImageLimits = ImageLimits()
    roots: tuple[Path, ...] = ()
    min_side: int = MIN_IMAGE_SIDE
    allow_url_fetch: bool = False
    resolve_output: Callable[[str], bytes] | None = None


def load_image(spec: str, policy: ImagePolicy) -> Image:
    """The image `spec` names (see the module docstring), decoded to RGB within `policy`'s limits."""
    if not isinstance(spec, str):
        raise InvalidInputError(f"an image must be given as a string, not {type(spec).__name__}")
    text = spec.strip()
    if not text:
        raise InvalidInputError("the image is an empty string; pass base64, a data: URI, a path or a URI")
    if text[:5].lower() == "data:":
        return decode_image(_data_uri_bytes(text, policy), policy)
    scheme = _SCHEME.match(text)
    if scheme:
        name = scheme.group(1).lower()
        if name == "file":
            return decode_image(_file_bytes(text[len("file://") :], policy), policy)
        if name in ("http", "https"):
            return decode_image(_fetch(text, policy), policy)
        if policy.resolve_output is None:
            raise InvalidInputError(f"{name}:// URIs are not accepted as images here")
        return decode_image(policy.resolve_output(text), policy)
    if _looks_like_base64(text):
        return decode_image(_base64_bytes(text, policy), policy)
    if len(text) <= MAX_PATH_CHARS and "\n" not in text:
        try:
            return decode_image(_file_bytes(text, policy), policy)
        except _NoSuchFile:
            # A short string of base64 characters that names no file: most likely a small encoded image.
            data = _strict_base64(text) if _BASE64_CHARS.match(text) else None
            if data is None:
                raise
            return decode_image(data, policy)
    return decode_image(_base64_bytes(text, policy), policy)


def load_images(specs: list[str], policy: ImagePolicy) -> list[Image]:
    """load_image of each spec; with several, a refusal says which image (counting from 0)."""
    images = []
    for i, spec in enumerate(specs):
        try:
            images.append(load_image(spec, policy))
        except GenAIError as exc:
            if len(specs) > 1:
                exc.args = (f"image {i} (counting from 0): {exc}",)
            raise
    return images


def decode_image(data: bytes, policy: ImagePolicy) -> Image:
    """Decode encoded image bytes to an RGB image, refusing what `policy` does not allow."""
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    _check_bytes(len(data), policy)
    if not data:
        raise InvalidInputError("the image is empty (0 bytes)")
    try:
        # Opening reads only the header; Pillow's bomb guard may already refuse the size here.
        image = PILImage.open(io.BytesIO(data), formats=list(FORMATS))
    except UnidentifiedImageError:
        size = _declared_size(data)  # Pillow identifies no image with no pixels
        if size is not None and 0 in size[1:]:
            raise InvalidInputError(
                f"the image is empty: its {size[0]} header declares {size[1]}x{size[2]} pixels"
            ) from None
        raise InvalidInputError(
            f"the data is not a PNG, JPEG, WebP, GIF or BMP image (it starts with {data[:8]!r})"
        ) from None
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise _bomb_refusal(str(exc), policy) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInputError(f"the image header is corrupt: {_first_line(exc)}") from None
    with image:
        width, height = image.size
        if width * height > policy.limits.max_pixels:
            raise LimitExceededError(
                f"the image's size in pixels ({width}x{height})",
                width * height,
                policy.limits.max_pixels,
                "images.max_pixels",
            )
        if min(width, height) < policy.min_side:
            raise InvalidInputError(
                f"the image is {width}x{height} pixels; its shorter side must be at least "
                f"{policy.min_side} pixels"
            )
        frames = int(getattr(image, "n_frames", 1))
        if frames > 1:
            raise InvalidInputError(
                f"the image is animated ({image.format}, {frames} frames); send a single frame "
                "(e.g. the frame you want as PNG)"
            )
        try:
            image.load()
            rgb = _to_rgb(ImageOps.exif_transpose(image))
        except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as exc:
            raise InvalidInputError(
                f"the {image.format} image data is corrupt or truncated: {_first_line(exc)}"
            ) from None
    return rgb


def _declared_size(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) as a PNG, GIF, BMP or JPEG header states it; None if it states none."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return "PNG", width, height
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return "GIF", width, height
        if data[:2] == b"BM":
            core = struct.unpack("<I", data[14:18])[0] == 12  # OS/2 1.x: 16-bit sizes
            width, height = struct.unpack("<HH" if core else "<ii", data[18:22] if core else data[18:26])
            return "BMP", abs(width), abs(height)  # a negative height means top-down rows
        if data[:2] == b"\xff\xd8":
            at = 2
            while data[at] == 0xFF:  # segments up to the first start-of-frame
                marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                    return "JPEG", width, height
                at += 2 + length
    except (struct.error, IndexError):
        pass  # a header cut short states nothing
    return None


def _to_rgb(image: Image) -> Image:
    if image.mode != "RGB":
        alpha = "A" in image.getbands() or "transparency" in image.info
        lossy = alpha or image.mode.startswith("I")  # transparency dropped, or 16/32-bit to 8-bit
        logger.log(
            logging.WARNING if lossy else logging.DEBUG,
            "image converted from mode %s to RGB%s",
            image.mode,
            " (its transparency dropped)" if alpha else "",
            extra={"figures": {"from_mode": image.mode, "width": image.width, "height": image.height}},
        )
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # converting straight to RGB warns about the palette's alpha
    elif image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda v: v * (1 / 256))  # 16-bit grey -> 8-bit range
    return image.convert("RGB")


# ---- sources


def _data_uri_bytes(text: str, policy: ImagePolicy) -> bytes:
    header, sep, payload = text.partition(",")
    if not sep:
        raise InvalidInputError("the data: URI has no ',' between its header and its data")
    params = header[5:].lower().split(";")
    if "base64" not in params[1:]:
        raise InvalidInputError("the data: URI is not base64-encoded (expected data:image/...;base64,...)")
    if params[0] and not params[0].startswith("image/"):
        raise InvalidInputError(f"the data: URI has media type {params[0]!r}; expected image/...")
    return _base64_bytes(payload, policy)


def _looks_like_base64(text: str) -> bool:
    return bool(_BASE64_CHARS.match(text)) and (len(text) >= 64 or text.startswith(_BASE64_MAGIC))


def _base64_bytes(text: str, policy: ImagePolicy) -> bytes:
    # 4 characters carry 3 bytes: refuse an oversized payload before decoding any of it.
    _check_bytes(len(text) * 3 // 4 - 2, policy)
    compact = re.sub(r"\s+", "", text)
    if "-" in compact or "_" in compact:
        compact = compact.replace("-", "+").replace("_", "/")  # the URL-safe alphabet
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            f"the image is not valid base64 (and not a data: URI, a resource URI, or a file path of at most "
            f"{MAX_PATH_CHARS} characters)"
        ) from None


class _NoSuchFile(InvalidInputError):
    """The path names nothing under the roots (or there are no roots): not a refusal of a real file."""


def _strict_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _file_bytes(raw: str, policy: ImagePolicy) -> bytes:
    try:
        real = resolve_under_roots(raw, policy.roots, what="image")
    except NoSuchPathError as exc:
        raise _NoSuchFile(
            f"{exc}; other forms: base64, a data: URI, or a resource URI of a server-produced image",
            setting=exc.setting,
        ) from None
    if not real.is_file():
        raise InvalidInputError(f"the image path {_short(raw)} is not a regular file")
    _check_bytes(real.stat().st_size, policy)
    with open(real, "rb") as f:
        data = f.read(policy.limits.max_bytes + 1)  # the file may have grown since stat
    _check_bytes(len(data), policy)
    return data


def _fetch(url: str, policy: ImagePolicy) -> bytes:
    if not policy.allow_url_fetch:
        raise InvalidInputError(
            "fetching images from URLs is turned off; send the image as base64 or a data: URI",
            setting="images.allow_url_fetch",
        )
    import httpx2

    chunks: list[bytes] = []
    size = 0
    try:
        with httpx2.stream("GET", url, timeout=_FETCH_TIMEOUT_S, follow_redirects=True) as response:
            if response.status_code != 200:
                raise InvalidInputError(f"fetching {_short(url)} returned HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit():
                _check_bytes(int(declared), policy)
            for chunk in response.iter_bytes():
                size += len(chunk)
                _check_bytes(size, policy)
                chunks.append(chunk)
    except httpx2.HTTPError as exc:
        raise InvalidInputError(f"fetching {_short(url)} failed: {_first_line(exc)}") from None
    return b"".join(chunks)


# ---- helpers


def _check_bytes(n: int, policy: ImagePolicy) -> None:
    if n > policy.limits.max_bytes:
        raise LimitExceededError(
            "the encoded image's size in bytes", n, policy.limits.max_bytes, "images.max_bytes"
        )


def _bomb_refusal(message: str, policy: ImagePolicy) -> Exception:
    # Pillow says "Image size (900000000 pixels) exceeds limit of ..." from the header alone.
    from PIL import Image as PILImage

    found = re.search(r"\((\d+) pixels\)", message)
    if found is None:
        return InvalidInputError(f"the image is too large to decode safely: {message[:200]}")
    guard = PILImage.MAX_IMAGE_PIXELS
    allowed = min(policy.limits.max_pixels, guard) if guard else policy.limits.max_pixels
    return LimitExceededError("the image's size in pixels", int(found.group(1)), allowed, "images.max_pixels")


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]
