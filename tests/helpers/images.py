"""Encoded test images: the bytes a caller sends, including the malformed ones the limits must refuse."""

from __future__ import annotations

import base64
import io
import random
import struct
import zlib

from PIL import Image, ImageDraw

__all__ = ["animated_gif", "b64", "encode", "noise_png", "png_header_only"]


def encode(image: Image.Image, fmt: str = "PNG", **save: object) -> bytes:
    """`image` saved in format `fmt` (PNG, GIF, TIFF...) with Pillow's `save` options."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def noise_png(width: int, height: int, seed: int = 0) -> bytes:
    """A PNG of uniform random RGB pixels: incompressible, so about 3 x width x height bytes."""
    pixels = random.Random(seed).randbytes(3 * width * height)
    return encode(Image.frombytes("RGB", (width, height), pixels))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but which holds almost no pixel data: decoding it
    would fail as truncated, so a size refusal proves the header was checked first."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def animated_gif() -> bytes:
    """A 16x16 GIF of 3 frames (a white bar moving right)."""
    frames = []
    for i in range(3):
        frame = Image.new("RGB", (16, 16))
        ImageDraw.Draw(frame).rectangle([i * 4, 0, i * 4 + 3, 15], fill=(255, 255, 255))
        frames.append(frame)
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
