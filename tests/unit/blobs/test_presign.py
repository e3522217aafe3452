"""Presigned S3 URLs: the same signature obstore (AWS's canonical rules) makes for what
both can sign; headers and response overrides on top; nothing secret in reprs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import obstore
import pytest
from obstore.store import S3Store

from assetry.blobs import open_blob_store
from assetry.blobs.presign import S3Presigner


def s3(**config: str) -> S3Store:
    settings = {"endpoint": "http://127.0.0.1:9000", "region": "eu-west-1",
                "access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI"} | config
    return S3Store("photos", virtual_hosted_style_request=False,
                   client_options={"allow_http": True}, **settings)  # type: ignore[arg-type]


def signed_at(url: str) -> tuple[datetime, int]:
    query = parse_qs(urlsplit(url).query)
    at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return at, int(query["X-Amz-Expires"][0])


@pytest.mark.parametrize(("method", "key", "config", "prefix"), [
    ("GET", "originals/ab/0f1e-2d/9a8b", {}, None),
    ("PUT", "direct-uploads/cd/id/token", {}, None),
    ("GET", "a key/with+odd=chars~", {}, None),
    ("GET", "versions/ab/x", {"session_token": "FwoGZXIvYXdzEJr//token=="}, None),
    ("GET", "originals/ab/x", {"endpoint": "https://s3.example.org:443"}, None),
    ("GET", "originals/ab/x", {}, "tenant/a"),
])
def test_presigner_signs_exactly_as_obstore(method: str, key: str, config: dict[str, str],
                                            prefix: str | None) -> None:
    store = S3Store("photos", virtual_hosted_style_request=False, prefix=prefix,
                    client_options={"allow_http": True},
                    **({"endpoint": "http://127.0.0.1:9000", "region": "eu-west-1",
                        "access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI"}
                       | config))  # type: ignore[arg-type]
    theirs = obstore.sign(store, method, key, timedelta(seconds=900))  # type: ignore[arg-type]
    at, expires = signed_at(theirs)
    presigner = S3Presigner.for_store(store)
    assert presigner is not None
    ours = presigner.url(method, key, issued_at=at, expires_in=expires)
    # The same URL up to the order of its query parameters (obstore puts the token last).
    assert urlsplit(ours)[:3] == urlsplit(theirs)[:3]
    assert parse_qs(urlsplit(ours).query) == parse_qs(urlsplit(theirs).query)


def test_presigner_signs_headers_and_response_overrides() -> None:
    presigner = S3Presigner.for_store(s3())
    assert presigner is not None
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    put = presigner.url("PUT", "k", issued_at=at, expires_in=60,
                        headers={"Content-Length": "123"})
    query = parse_qs(urlsplit(put).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;host"]
    get = presigner.url("GET", "k", issued_at=at, expires_in=60, response={
        "Content-Type": "image/png", "content-disposition": 'inline; filename="a b.png"',
        "cache-control": "public, max-age=60"})
    query = parse_qs(urlsplit(get).query)
    assert query["response-content-type"] == ["image/png"]
    assert query["response-content-disposition"] == ['inline; filename="a b.png"']
    assert query["response-cache-control"] == ["public, max-age=60"]
    # Signed: a different override is a different signature.
    other = presigner.url("GET", "k", issued_at=at, expires_in=60,
                          response={"Content-Type": "text/html"})
    assert parse_qs(urlsplit(other).query)["X-Amz-Signature"] != query["X-Amz-Signature"]


def test_presigner_refuses_bad_expiries_and_unknown_overrides() -> None:
    presigner = S3Presigner.for_store(s3())
    assert presigner is not None
    at = datetime(2026, 12, 1, tzinfo=UTC)
    for expires in (0, 7 * 24 * 3600 + 1):
        with pytest.raises(ValueError, match="1 to"):
            presigner.url("GET", "k", issued_at=at, expires_in=expires)
    with pytest.raises(ValueError, match="x-frame-options"):
        presigner.url("GET", "k", issued_at=at, expires_in=60,
                      response={"x-frame-options": "DENY"})


def test_presigner_needs_static_credentials_and_never_shows_the_secret() -> None:
    assert S3Presigner.for_store(S3Store("photos", region="eu-west-1")) is None
    presigner = S3Presigner.for_store(s3())
    assert presigner is not None and "wJalrXUtnFEMI" not in repr(presigner)


def test_blob_stores_presign_only_on_s3_with_credentials(tmp_path: object) -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    url = ("s3://photos?endpoint=http://127.0.0.1:9000&region=eu-west-1"
           "&access_key_id=AKIDEXAMPLE&secret_access_key=wJalrXUtnFEMI")
    store = open_blob_store(url)
    assert store.signs_urls
    signed = store.presign("originals/ab/c", "GET", issued_at=at, expires_in=60)
    assert signed is not None and signed.startswith("http://127.0.0.1:9000/photos/originals/ab/c?")
    for local in (open_blob_store("memory://"), open_blob_store(f"file://{tmp_path}")):
        assert not local.signs_urls
        assert local.presign("originals/ab/c", "GET", issued_at=at, expires_in=60) is None
    with pytest.raises(ValueError, match="invalid blob key"):
        store.presign("../x", "GET", issued_at=at, expires_in=60)
