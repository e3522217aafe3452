"""Accept parsing with q-values, and which stored rendition of a version a GET gets."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from assetry.domain.converter import VersionSpec
from assetry.domain.model import Encoding, Version, VersionStatus
from assetry.domain.negotiation import (
    MAX_MEDIA_RANGES,
    MediaRange,
    Wanted,
    choose,
    negotiate,
    parse_accept,
    quality,
)
from assetry.errors import Invalid, VersionNotFound

AVIF, WEBP, JPEG, PNG = "image/avif", "image/webp", "image/jpeg", "image/png"
AUTO = [AVIF, WEBP, JPEG]

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
FIREFOX = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
SAFARI = ("image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
          "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5")
OLD_SAFARI = "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"


def test_parse_accept_reads_ranges_and_q() -> None:
    assert parse_accept(" Image/WebP ;q=0.5 , */*, text/html;level=1;q=0") == (
        MediaRange("image", "webp", 0.5), MediaRange("*", "*", 1.0),
        MediaRange("text", "html", 0.0))


@pytest.mark.parametrize("header", [None, "", "webp", "image/", "/webp", "*/webp",
                                    "image/webp;q=2", "image/webp;q=-1", "image/webp;q=x"])
def test_parse_accept_leaves_malformed_entries_out(header: str | None) -> None:
    assert parse_accept(header) == ()


def test_parse_accept_is_bounded() -> None:
    assert len(parse_accept(",".join(["image/png"] * 1000))) == MAX_MEDIA_RANGES


def test_quality_takes_the_most_specific_range() -> None:
    ranges = parse_accept("image/*;q=0.3, image/webp;q=0.9, */*;q=0.1")
    assert quality(ranges, WEBP) == 0.9
    assert quality(ranges, JPEG) == 0.3
    assert quality(ranges, "text/plain") == 0.1
    assert quality(ranges, AVIF, named_only=True) == 0.0


@pytest.mark.parametrize(("accept", "chosen"), [
    (CHROME, AVIF), (FIREFOX, AVIF), (SAFARI, AVIF), (OLD_SAFARI, JPEG),
    ("image/webp,*/*", WEBP),
    ("*/*", JPEG),  # wildcards never ask for AVIF or WebP
    ("image/*", JPEG),
    (None, JPEG), ("", JPEG),
    ("image/avif;q=0,image/webp,*/*", WEBP),  # q=0 refuses
    ("image/avif;q=0.5,image/webp;q=0.9,*/*;q=0.8", WEBP),  # the highest q wins
    ("image/avif;q=0.5,*/*", JPEG),
    ("image/avif;q=0.8,image/webp;q=0.8,image/jpeg;q=0.8", AVIF),  # ties: our order
    ("image/jpeg;q=0, image/png", JPEG),  # nothing acceptable: the fallback, not a 406
    ("text/html", JPEG),
])
def test_negotiate(accept: str | None, chosen: str) -> None:
    assert negotiate(accept, AUTO) == chosen


def test_negotiate_among_an_animations_formats() -> None:
    assert negotiate(CHROME, [WEBP, "image/gif"]) == WEBP
    assert negotiate("*/*", [WEBP, "image/gif"]) == "image/gif"


def rendition(fmt: str, width: int | None, mime: str, px: int) -> Encoding:
    return Encoding(format=fmt, srcset_width=width, blob_key=f"k-{fmt}-{width}",
                    mime_type=mime, width=px, height=px, size=px, sha256=f"{fmt}{width}")


def version(*extras: Encoding, main: tuple[str, str] = ("jpeg", JPEG)) -> Version:
    return Version(id=uuid4(), asset_id=uuid4(), name="hero",
                   spec=VersionSpec(name="hero", width=800, height=800),
                   status=VersionStatus.READY, created_at=datetime.now(UTC), width=800,
                   height=800, mime_type=main[1], size=800, sha256="main", blob_key="k-main",
                   encodings=extras)


AUTO_VERSION = version(
    rendition("avif", None, AVIF, 800), rendition("webp", None, WEBP, 800),
    rendition("avif", 320, AVIF, 320), rendition("webp", 320, WEBP, 320),
    rendition("jpeg", 320, JPEG, 320))


def test_choose_negotiates_an_auto_version() -> None:
    chosen = choose(AUTO_VERSION, Wanted(accept=CHROME))
    assert (chosen.rendition.format, chosen.rendition.width, chosen.negotiated) == \
        ("avif", 800, True)
    fallback = choose(AUTO_VERSION, Wanted(accept="*/*"))
    assert (fallback.rendition.blob_key, fallback.negotiated) == ("k-main", True)


def test_choose_a_width_and_a_format() -> None:
    r = choose(AUTO_VERSION, Wanted(width=320, accept="image/webp")).rendition
    assert (r.format, r.width) == ("webp", 320)
    explicit = choose(AUTO_VERSION, Wanted(width=320, format="jpeg", accept=CHROME))
    assert (explicit.rendition.format, explicit.negotiated) == ("jpeg", False)


def test_a_single_format_version_is_not_negotiated() -> None:
    plain = version(rendition("jpeg", 320, JPEG, 320))
    chosen = choose(plain, Wanted(accept=CHROME))
    assert (chosen.rendition.blob_key, chosen.negotiated) == ("k-main", False)
    assert choose(plain, Wanted(width=320)).rendition.width == 320
    assert choose(plain, Wanted(format="jpeg")).rendition.blob_key == "k-main"


@pytest.mark.parametrize(("wanted", "message"), [
    (Wanted(width=640), "has no width 640; its widths: 320"),
    (Wanted(format="png"), "is not stored as png (only jpeg, avif, webp)"),
    (Wanted(width=320, format="gif"), "is not stored as gif"),
])
def test_choose_refuses_what_is_not_stored(wanted: Wanted, message: str) -> None:
    with pytest.raises(VersionNotFound, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose(AUTO_VERSION, wanted)


def test_choose_refuses_an_unknown_format_name() -> None:
    with pytest.raises(Invalid) as caught:
        choose(AUTO_VERSION, Wanted(format="bmp"))
    assert caught.value.field == "format"
