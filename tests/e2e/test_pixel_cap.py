"""The pixel cap counts every frame and is checked before decoding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import pyvips

from tests.e2e.test_upload import upload
from tests.support.images import solid
from tests.support.server import admin_client


def animated_gif(width: int, height: int, frames: int) -> bytes:
    # Each frame its own colour: identical frames would be merged by the encoder.
    pages = [(pyvips.Image.black(width, height, bands=3) + [40 * i, 20, 30]).cast("uchar")
             for i in range(frames)]
    strip = pyvips.Image.arrayjoin(pages, across=1).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    return bytes(strip.gifsave_buffer())


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data = tmp_path_factory.mktemp("capped")
    with admin_client(data, max_pixels=1_000_000, render_workers=0) as client:
        yield client


def test_image_over_the_pixel_cap_is_422(capped: httpx.Client) -> None:
    r = upload(capped, solid(1200, 900))
    assert r.status_code == 422
    assert "1080000" in r.json()["detail"].replace(",", "")
    assert upload(capped, solid(1000, 1000)).status_code == 201


def test_animation_frames_count_towards_the_cap(capped: httpx.Client) -> None:
    assert upload(capped, animated_gif(600, 600, 2), filename="a.gif").status_code == 201
    r = upload(capped, animated_gif(600, 600, 3), filename="b.gif")
    assert r.status_code == 422


def test_header_bomb_is_refused_without_decoding(capped: httpx.Client, tmp_path: Path) -> None:
    # A PNG that claims 30000x30000 but is only a few KB: refused from its header.
    big = pyvips.Image.black(30000, 30000).cast("uchar")
    data = bytes(big.pngsave_buffer(compression=9))
    assert len(data) < 2_000_000
    r = upload(capped, data, filename="bomb.png")
    assert r.status_code == 422 and "pixels" in r.json()["detail"]
