"""Test images made on the fly with libvips (the corpus photos are only for a few cases)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pyvips

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def corpus(name: str) -> Path:
    """A corpus photo; skipped loudly (never in CI) when the corpus is not beside the repo."""
    path = CORPUS / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            raise FileNotFoundError(f"corpus photo {path} is missing in CI")
        print(f"\n!! SKIPPING: corpus photo {path} is missing")
        pytest.skip(f"corpus photo {path} is missing")
    return path


def noise(width: int, height: int, *, seed: int = 0) -> bytes:
    """A JPEG of random noise: as slow to decode as a detailed photo (a solid colour
    decodes in next to no time), distinct per `seed`."""
    image = pyvips.Image.gaussnoise(width, height, mean=128 + seed, sigma=40, seed=seed)
    image = image.cast("uchar").bandjoin([image.cast("uchar")] * 2).copy(interpretation="srgb")
    return bytes(image.jpegsave_buffer(Q=90))


def solid(width: int, height: int, rgb: tuple[int, int, int] = (40, 120, 200),
          fmt: str = ".jpg", **save: object) -> bytes:
    """A solid-colour image in format `fmt`."""
    image = (pyvips.Image.black(width, height, bands=3) + list(rgb)).cast("uchar")
    image = image.copy(interpretation="srgb")
    return bytes(image.write_to_buffer(fmt, **save))


def banded(width: int, height: int, box: tuple[int, int, int, int], fmt: str = ".png") -> bytes:
    """Red everywhere except `box` (left, top, width, height), which is blue: a crop
    that keeps exactly the box comes out all blue."""
    red = (pyvips.Image.black(width, height, bands=3) + [255, 0, 0]).cast("uchar")
    left, top, w, h = box
    blue = (pyvips.Image.black(w, h, bands=3) + [0, 0, 255]).cast("uchar")
    image = red.insert(blue, left, top).copy(interpretation="srgb")
    return bytes(image.write_to_buffer(fmt))


def with_alpha(width: int, height: int) -> bytes:
    """A PNG whose corners are fully transparent and centre opaque green."""
    rgb = (pyvips.Image.black(width, height, bands=3) + [0, 200, 0]).cast("uchar")
    alpha = pyvips.Image.black(width, height).cast("uchar")
    inner = (pyvips.Image.black(width // 2, height // 2) + 255).cast("uchar")
    alpha = alpha.insert(inner, width // 4, height // 4)
    return bytes(rgb.bandjoin(alpha).copy(interpretation="srgb").write_to_buffer(".png"))


def load(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def photo_crops(count: int, *, width: int = 960, height: int = 720) -> list[bytes]:
    """`count` JPEGs cut from the two corpus photos (different regions, shapes and tones),
    for pages that should look like a real photo library (the README's screenshot)."""
    sources = [pyvips.Image.new_from_file(str(corpus(name)), shrink=2)
               for name in ("photo_12mp.jpg", "photo_b_12mp.jpg")]
    out = []
    for i in range(count):
        image = sources[i % 2]
        w = min(image.width, int(width * (1.0 + (i % 3) * 0.35)))
        h = min(image.height, int(w * height / width))
        left = (i * 397) % (image.width - w + 1)
        top = (i * 211) % (image.height - h + 1)
        crop = image.crop(left, top, w, h).thumbnail_image(width, height=height)
        if i % 4 == 3:  # a few warmer ones, so the grid is not all blue and green
            crop = (crop * [1.25, 1.0, 0.8]).cast("uchar")
        out.append(bytes(crop.jpegsave_buffer(Q=85)))
    return out


def animated(colours: list[tuple[int, int, int]], width: int, height: int, *,
             delays: list[int], loop: int = 0, fmt: str = ".gif") -> bytes:
    """An animation (GIF or WebP) of solid-colour frames, with these delays (ms) and loop
    count (0 = forever)."""
    frames = [(pyvips.Image.black(width, height, bands=3) + list(c)).cast("uchar")
              for c in colours]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", delays)
    strip.set_type(pyvips.GValue.gint_type, "loop", loop)
    return bytes(strip.write_to_buffer(fmt))


def frames(data: bytes) -> tuple[pyvips.Image, int, list[int], int]:
    """An animation as a browser reads it: (every frame stacked, frame count, delays in
    ms, loop count); a still image is one frame with no delays."""
    image = pyvips.Image.new_from_buffer(data, "", n=-1) if data[:3] == b"GIF" or \
        data[8:12] == b"WEBP" else pyvips.Image.new_from_buffer(data, "")
    count = int(image.get("n-pages")) if image.get_typeof("n-pages") else 1
    delays = list(image.get("delay")) if image.get_typeof("delay") else []
    loop = int(image.get("loop")) if image.get_typeof("loop") else 0
    return image, count, delays, loop


#: magic bytes of the formats versions are written in
MAGIC = {
    "image/jpeg": lambda b: b[:3] == b"\xff\xd8\xff",
    "image/png": lambda b: b[:8] == b"\x89PNG\r\n\x1a\n",
    "image/webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    "image/avif": lambda b: b[4:12] in (b"ftypavif", b"ftypavis"),
    "image/gif": lambda b: b[:6] in (b"GIF87a", b"GIF89a"),
}
