"""Placeholders in the Asset JSON: made at upload from the one decode, remade by replace."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx

from tests.e2e.test_upload import upload
from tests.support.images import corpus, solid, with_alpha


def test_an_image_upload_has_placeholders(client: httpx.Client) -> None:
    body = upload(client, solid(640, 480, (40, 120, 200), fmt=".png"), "blue.png").json()
    placeholder = body["placeholder"]
    assert set(placeholder) == {"thumbhash", "blurhash", "color"}
    assert placeholder["color"] == "#2878c8"
    assert placeholder["blurhash"] == "L74r1CkufQkupMflfQflfQfQfQfQ"  # the reference's hash
    thumbhash = base64.b64decode(placeholder["thumbhash"], validate=True)
    assert 20 <= len(thumbhash) <= 25
    assert thumbhash[4] >> 7 == 1  # landscape
    # stored, not only computed for the answer
    assert client.get(body["url"]).json()["placeholder"] == placeholder
    listed = client.get(f"/api/pools/default/assets?sha256={body['sha256']}").json()
    assert listed["items"][0]["placeholder"] == placeholder


def test_a_transparent_image_has_an_alpha_thumbhash(client: httpx.Client) -> None:
    placeholder = upload(client, with_alpha(200, 100), "alpha.png").json()["placeholder"]
    assert placeholder["color"] == "#00c800"  # the opaque centre, not the clear corners
    assert base64.b64decode(placeholder["thumbhash"])[2] >> 7 == 1


def test_a_file_has_no_placeholder(client: httpx.Client) -> None:
    assert upload(client, b"just words", "notes.txt").json()["placeholder"] is None


def test_replace_remakes_the_placeholder(client: httpx.Client) -> None:
    body = upload(client, solid(300, 200, (200, 0, 0), fmt=".png"), "red.png").json()
    assert body["placeholder"]["color"] == "#c80000"
    replaced = client.put(body["url"], files={"file": ("green.png", solid(
        200, 300, (0, 200, 0), fmt=".png"))}).json()
    assert replaced["placeholder"]["color"] == "#00c800"
    assert replaced["placeholder"]["thumbhash"] != body["placeholder"]["thumbhash"]
    assert base64.b64decode(replaced["placeholder"]["thumbhash"])[4] >> 7 == 0  # portrait now
    assert client.get(body["url"]).json()["placeholder"] == replaced["placeholder"]


def test_a_heic_photo_has_placeholders(client: httpx.Client) -> None:
    path: Path = corpus("photo_12mp.heic")
    body = upload(client, path.read_bytes(), "photo.heic").json()
    assert body["mime_type"] == "image/heic"
    jpeg = upload(client, corpus("photo_12mp.jpg").read_bytes(), "photo.jpg").json()
    # the same photo in two formats: the same look, up to codec noise
    assert body["placeholder"]["blurhash"][:2] == jpeg["placeholder"]["blurhash"][:2]
    colours = [int(p["placeholder"]["color"][i:i + 2], 16)
               for p in (body, jpeg) for i in (1, 3, 5)]
    assert all(abs(a - b) <= 24 for a, b in zip(colours[:3], colours[3:], strict=True))
