"""The image-input path: every accepted form, and a refusal (naming the problem and the limit) for each bad one."""

from __future__ import annotations

import base64
import http.server
import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.images import MIN_IMAGE_SIDE, ImageLimits, ImagePolicy, load_image
from genai_mcp.tools.outputs import OutputStore
from tests.helpers.images import animated_gif, b64, encode, png_header_only


def digit_like(size: tuple[int, int] = (16, 16)) -> Image.Image:
    image = Image.new("RGB", size)
    ImageDraw.Draw(image).line([(4, 2), (4, size[1] - 3)], fill=(255, 255, 255), width=2)
    return image


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ (the allowed root) with ok.png and a symlink to ../outside.png, which is outside it."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.png").write_bytes(encode(digit_like((20, 12))))
    (tmp_path / "outside.png").write_bytes(encode(digit_like()))
    os.symlink(tmp_path / "outside.png", root / "escape.png")
    os.symlink(root / "sub" / "ok.png", root / "inside-link.png")
    return root


# ---- accepted forms


@pytest.mark.parametrize(
    ("fmt", "save"),
    [("PNG", {}), ("JPEG", {"quality": 95}), ("WEBP", {"lossless": True}), ("GIF", {}), ("BMP", {})],
)
def test_each_format_decodes_to_rgb_as_base64_and_data_uri(fmt: str, save: dict[str, object]) -> None:
    data = encode(digit_like((24, 16)), fmt, **save)
    for spec in (
        b64(data),
        f"data:image/{fmt.lower()};base64,{b64(data)}",
        "\n".join(b64(data)[i : i + 60] for i in range(0, len(b64(data)), 60)),
    ):
        image = load_image(spec, ImagePolicy())
        assert (image.mode, image.size) == ("RGB", (24, 16))
        red = image.getchannel("R")
        assert red.getpixel((4, 8)) > 200 and red.getpixel((15, 8)) < 60  # type: ignore[operator]  # line, dark


def test_url_safe_base64_without_padding_is_accepted() -> None:
    data = encode(digit_like())
    spec = base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert load_image(spec, ImagePolicy()).size == (16, 16)


def test_paths_relative_absolute_file_uri_and_inner_symlink(tree: Path) -> None:
    policy = ImagePolicy(roots=(tree,))
    for spec in ("sub/ok.png", str(tree / "sub" / "ok.png"), f"file://{tree}/sub/ok.png", "inside-link.png"):
        assert load_image(spec, policy).size == (20, 12), spec


def test_a_server_output_uri_goes_through_the_resolver(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "outputs", uri_prefix="test://outputs/")
    saved = store.save_png(digit_like((32, 32)), "sample")
    policy = ImagePolicy(resolve_output=lambda uri: store.read(store.name_from_uri(uri)))
    assert saved.uri.startswith("test://outputs/sample-")
    assert load_image(saved.uri, policy).size == (32, 32)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_image("test://outputs/sample-000000000000.png", policy)
    with pytest.raises(InvalidInputError, match="not accepted"):
        load_image(saved.uri, ImagePolicy())


def test_transparent_palette_and_16_bit_grey_convert_without_warnings() -> None:
    palette = Image.new("P", (16, 16), 1)
    grey16 = Image.new("I;16", (16, 16), 65535)
    assert load_image(b64(encode(palette, transparency=0)), ImagePolicy()).mode == "RGB"
    assert load_image(b64(encode(grey16)), ImagePolicy()).getpixel((0, 0)) == (255, 255, 255)


# ---- refusals


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        ("", InvalidInputError, "empty string"),
        ("%%not base64%%" * 400, InvalidInputError, "not valid base64"),
        (
            b64(b"plain text, certainly not an image file"),
            InvalidInputError,
            "not a PNG, JPEG, WebP, GIF or BMP",
        ),
        (b64(encode(digit_like())[:60]), InvalidInputError, "corrupt or truncated"),
        (b64(encode(Image.new("RGB", (1, 1)))), InvalidInputError, f"at least {MIN_IMAGE_SIDE} pixels"),
        (b64(png_header_only(30000, 30000)), LimitExceededError, "is 900000000, over the limit of 40000000"),
        (b64(png_header_only(8000, 8000)), LimitExceededError, r"\(8000x8000\) is 64000000, over the limit"),
        (b64(animated_gif()), InvalidInputError, "animated .GIF, 3 frames"),
        (b64(encode(digit_like(), "TIFF")), InvalidInputError, "not a PNG"),
        ("data:text/plain;base64,aGVsbG8=", InvalidInputError, "media type 'text/plain'"),
        ("data:image/png,rawbytes", InvalidInputError, "not base64-encoded"),
        ("https://example.com/cat.png", InvalidInputError, "URLs is turned off; send the image as base64"),
        ("ftp://example.com/cat.png", InvalidInputError, "ftp:// URIs are not accepted"),
        ("cat.png", InvalidInputError, "no file roots are configured; other forms: base64"),
    ],
)
def test_bad_inputs_are_refused_with_the_reason(spec: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        load_image(spec, ImagePolicy())


@pytest.mark.parametrize(
    ("spec", "setting"),
    [
        (b64(png_header_only(8000, 8000)), "images.max_pixels"),
        ("https://example.com/cat.png", "images.allow_url_fetch"),
        ("cat.png", "files.roots"),
        ("/etc/cat.png", "files.roots"),
        (b64(animated_gif()), None),
    ],
)
def test_refusals_carry_the_key_of_the_setting_that_would_allow_them(spec: str, setting: str | None) -> None:
    with pytest.raises((InvalidInputError, LimitExceededError)) as refused:
        load_image(spec, ImagePolicy())
    assert refused.value.setting == setting
    assert "GENAI_MCP" not in str(refused.value)  # messages name no environment variable


def test_the_pixel_limit_applies_before_any_pixel_is_decoded() -> None:
    spec = b64(png_header_only(30000, 30000))
    started = time.perf_counter()
    with pytest.raises(LimitExceededError, match=r"over the limit of 40000000$"):
        load_image(spec, ImagePolicy())
    assert time.perf_counter() - started < 1.0
    # Raising our limit above Pillow's does not switch off Pillow's decompression-bomb guard.
    guard = Image.MAX_IMAGE_PIXELS
    assert guard is not None
    with pytest.raises(LimitExceededError, match=f"over the limit of {guard}"):
        load_image(spec, ImagePolicy(limits=ImageLimits(max_pixels=10**10)))


def test_the_byte_limit_names_its_setting_for_base64_and_files(tree: Path) -> None:
    data = encode(Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)))
    (tree / "big.png").write_bytes(data)
    policy = ImagePolicy(roots=(tree,), limits=ImageLimits(max_bytes=len(data) - 1))
    for spec in (b64(data), "big.png"):
        with pytest.raises(
            LimitExceededError, match=f"is {len(data)}, over the limit of {len(data) - 1}$"
        ) as refused:
            load_image(spec, policy)
        assert refused.value.setting == "images.max_bytes"
    assert load_image(
        "big.png", ImagePolicy(roots=(tree,), limits=ImageLimits(max_bytes=len(data)))
    ).size == (64, 64)


def test_paths_cannot_leave_the_roots(tree: Path) -> None:
    policy = ImagePolicy(roots=(tree,))
    cases = {
        str(tree.parent / "outside.png"): "outside the allowed roots",
        "../outside.png": "contains '..'",
        "sub/../../outside.png": "contains '..'",
        "escape.png": "through a symlink outside the allowed roots",
        str(tree / "escape.png"): "through a symlink outside the allowed roots",
        "missing.png": "no image .missing.png. exists under the allowed roots",
        "sub": "not a regular file",
    }
    for spec, words in cases.items():
        with pytest.raises(InvalidInputError, match=words):
            load_image(spec, policy)


def _empty_jpeg() -> bytes:
    # Pillow will not save a JPEG with no pixels: a real one with its frame header's size zeroed.
    data = bytearray(encode(digit_like(), "JPEG"))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", 0, 0)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        # Pillow refuses to save any of these: the headers are written by hand.
        (png_header_only(0, 0), "its PNG header declares 0x0 pixels"),
        (png_header_only(0, 16), "its PNG header declares 0x16 pixels"),
        (b"GIF89a" + struct.pack("<HH", 16, 0) + b"\0\0\0;", "its GIF header declares 16x0 pixels"),
        (
            b"BM" + struct.pack("<IHHIIiiHH", 62, 0, 0, 54, 40, 0, -16, 1, 24) + bytes(32),
            "its BMP header declares 0x16 pixels",
        ),
        (_empty_jpeg(), "its JPEG header declares 0x0 pixels"),
    ],
)
def test_an_image_with_no_pixels_is_refused_as_empty(data: bytes, words: str) -> None:
    for spec in (b64(data), "data:image/png;base64," + b64(data)):
        with pytest.raises(InvalidInputError, match=f"the image is empty: {words}") as refused:
            load_image(spec, ImagePolicy())
        assert "not a PNG" not in str(refused.value)
    # Cut short before its size, the same header states none: refused, not empty, not a crash.
    with pytest.raises(InvalidInputError, match=r"not a PNG, JPEG, WebP, GIF or BMP|corrupt"):
        load_image(b64(data[:7]), ImagePolicy())


def test_the_minimum_side_is_a_policy_value() -> None:
    tiny = b64(encode(digit_like((4, 4))))
    with pytest.raises(InvalidInputError, match="4x4 pixels"):
        load_image(tiny, ImagePolicy())
    assert load_image(tiny, ImagePolicy(min_side=1)).size == (4, 4)


# ---- URL fetching, when the operator allows it


@pytest.fixture
def image_server() -> Iterator[str]:
    body = encode(digit_like((16, 16)))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/digit.png":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_urls_are_fetched_only_when_allowed_and_within_the_byte_limit(image_server: str) -> None:
    url = image_server + "/digit.png"
    with pytest.raises(InvalidInputError, match="turned off"):
        load_image(url, ImagePolicy())
    assert load_image(url, ImagePolicy(allow_url_fetch=True)).size == (16, 16)
    with pytest.raises(LimitExceededError, match="over the limit of 10"):
        load_image(url, ImagePolicy(allow_url_fetch=True, limits=ImageLimits(max_bytes=10)))
    with pytest.raises(InvalidInputError, match="HTTP 404"):
        load_image(image_server + "/nope.png", ImagePolicy(allow_url_fetch=True))
