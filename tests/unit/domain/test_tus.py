"""Table tests of domain.tus: the tus headers a client sends, parsed or refused."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from assetry.domain import tus
from assetry.errors import Invalid


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("100", 100), (" 7 ", 7),
                                            ("999999999999999999", 10**18 - 1)])
def test_parse_integer_reads_non_negative_integers(raw: str, value: int) -> None:
    assert tus.parse_integer(raw, "Upload-Offset") == value


@pytest.mark.parametrize("raw", ["", "-1", "+1", "1.0", "1e3", "0x10", "١٢", "²",
                                 "1 2", "1000000000000000000"])
def test_parse_integer_refuses_anything_else(raw: str) -> None:
    with pytest.raises(Invalid) as caught:
        tus.parse_integer(raw, "Upload-Length")
    assert caught.value.field == "Upload-Length"


def test_parse_integer_requires_the_header() -> None:
    with pytest.raises(Invalid, match="the Upload-Offset header is required"):
        tus.parse_integer(None, "Upload-Offset")


def test_parse_metadata_keeps_pairs_in_order_and_values_as_sent() -> None:
    raw = f"filename {b64('photo.jpg')},is_confidential, gallery {b64('trip')}"
    assert tus.parse_metadata(raw) == {
        "filename": b64("photo.jpg"), "is_confidential": "", "gallery": b64("trip")}
    assert list(tus.parse_metadata(raw)) == ["filename", "is_confidential", "gallery"]


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_parse_metadata_of_nothing_is_empty(raw: str | None) -> None:
    assert tus.parse_metadata(raw) == {}


@pytest.mark.parametrize(("raw", "message"), [
    ("filename cGhvdG8=,filename cGhvdG8=", "names 'filename' twice"),
    ("filename not*base64", "not base64"),
    ("filename cGhvdG8", "not base64"),  # padding missing
    ("filename  cGhvdG8=", "not base64"),  # two spaces
    (",filename cGhvdG8=", "keys must be"),
    ("na\u00efve cGhvdG8=", "keys must be"),  # not ASCII
    ("a\x01 cGhvdG8=", "keys must be"),  # a control character would be echoed in HEAD
])
def test_parse_metadata_refuses_what_tus_forbids(raw: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as caught:
        tus.parse_metadata(raw)
    assert caught.value.field == "Upload-Metadata"


def test_parse_metadata_refuses_a_huge_header() -> None:
    with pytest.raises(Invalid, match="longer than"):
        tus.parse_metadata("k " + "A" * (tus.MAX_METADATA_HEADER + 4))


def test_encode_metadata_round_trips() -> None:
    raw = f"filename {b64('a b,c.jpg')},flag,type {b64('image')}"
    assert tus.encode_metadata(tus.parse_metadata(raw)) == raw


def test_submission_fields_decodes_only_the_known_keys() -> None:
    alt = b64('{"alt": "x"}')
    pairs = tus.parse_metadata(
        f"filename {b64('Élan.jpg')},type {b64('image')},gallery {b64('g1')},"
        f"converter {b64('default')},metadata {alt},"
        f"mime_type {b64('image/jpeg')},filetype {b64('image/jpeg')},name {b64('x')},empty")
    assert tus.submission_fields(pairs) == {
        "filename": "Élan.jpg", "type": "image", "gallery": "g1", "converter": "default",
        "metadata": '{"alt": "x"}', "mime_type": "image/jpeg"}


def test_submission_fields_refuses_a_known_key_that_is_not_utf8() -> None:
    pairs = {"filename": base64.b64encode(b"\xff\xfe").decode(),
             "other": base64.b64encode(b"\xff").decode()}
    with pytest.raises(Invalid) as caught:
        tus.submission_fields(pairs)
    assert caught.value.field == "filename"
    assert tus.submission_fields({"other": pairs["other"]}) == {}


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_parse_checksum_and_match(algorithm: str) -> None:
    digest = hashlib.new(algorithm, b"hello world").digest()
    checksum = tus.parse_checksum(f"{algorithm} {base64.b64encode(digest).decode()}")
    assert checksum == tus.Checksum(algorithm, digest)
    hasher = checksum.hasher()
    hasher.update(b"hello ")
    hasher.update(b"world")
    assert checksum.matches(hasher)
    other = checksum.hasher()
    other.update(b"hello")
    assert not checksum.matches(other)


def test_parse_checksum_of_the_spec_example() -> None:
    checksum = tus.parse_checksum("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
    assert checksum is not None
    assert checksum.digest == hashlib.sha1(b"hello world").digest()


def test_parse_checksum_absent_is_none() -> None:
    assert tus.parse_checksum(None) is None


@pytest.mark.parametrize(("raw", "message"), [
    ("md5 XrY7u+Ae7tCTyyK7j1rNww==", "'md5' is not supported"),
    ("SHA1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", "'SHA1' is not supported"),
    ("sha1", "must be 20 bytes"),
    ("sha1 !!!!", "must be 20 bytes"),
    ("sha256 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", "must be 32 bytes"),
])
def test_parse_checksum_refusals_are_400s(raw: str, message: str) -> None:
    with pytest.raises(Invalid, match=message) as caught:
        tus.parse_checksum(raw)
    assert caught.value.field == "Upload-Checksum"


@pytest.mark.parametrize(("raw", "ok"), [
    ("application/offset+octet-stream", True),
    ("Application/Offset+Octet-Stream; charset=x", True),
    ("application/octet-stream", False), ("", False), (None, False)])
def test_is_offset_stream(raw: str | None, ok: bool) -> None:
    assert tus.is_offset_stream(raw) is ok


def test_expiry_and_progress() -> None:
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert tus.expiry(at, 90) == at + timedelta(seconds=90)
    upload = tus.Upload(id=uuid4(), pool="default", creator="a", length=10, offset=4,
                        created_at=at, expires_at=tus.expiry(at, 90))
    assert (upload.remaining, upload.complete) == (6, False)
    assert tus.Upload(id=uuid4(), pool="p", creator=None, length=0, offset=0, created_at=at,
                      expires_at=at).complete
