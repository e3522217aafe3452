"""Presigned S3 URLs (AWS Signature Version 4, query-string authentication).

obstore signs URLs too (`obstore.sign`), but only the bare method and path: it can
neither sign a header the client must send (`Content-Length`, which is what limits a
direct upload to its announced size) nor `response-*` parameters (the Content-Type,
Content-Disposition and Cache-Control a redirected GET must be answered with). So the
URLs are signed here, with the store's static credentials; for a plain GET the result is
byte for byte what obstore makes (tests/unit/blobs/test_presign.py checks that).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from obstore.store import S3Store

_ALGORITHM = "AWS4-HMAC-SHA256"
#: presigned URLs never sign the body: the client may send any bytes (within the
#: signed Content-Length)
_UNSIGNED = "UNSIGNED-PAYLOAD"
#: the longest validity S3 accepts for a presigned URL (seven days)
MAX_EXPIRES = 7 * 24 * 3600
#: response headers a presigned GET may override, by header name
RESPONSE_OVERRIDES = {
    "content-type": "response-content-type",
    "content-disposition": "response-content-disposition",
    "cache-control": "response-cache-control",
}


def _quote(text: str, safe: str = "-_.~") -> str:
    # SigV4 percent-encodes every byte but the RFC 3986 unreserved characters.
    return quote(text, safe=safe)


@dataclass(frozen=True, slots=True)
class S3Presigner:
    """Signs URLs for one bucket (path-style, like every request the store makes)."""

    endpoint: str  #: scheme://host[:port][/path]
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str  #: never printed (see __repr__)
    session_token: str | None = None
    prefix: str | None = None  #: key prefix inside the bucket, without slashes around it

    def __repr__(self) -> str:
        return f"S3Presigner({self.endpoint!r}, bucket={self.bucket!r})"

    @classmethod
    def for_store(cls, store: S3Store) -> S3Presigner | None:
        """A presigner with the store's own settings, or None when the store has no static
        credentials (they come from instance metadata or web identity, which only obstore
        sees)."""
        config = store.config
        key_id, secret = config.get("access_key_id"), config.get("secret_access_key")
        if not key_id or not secret:
            return None
        region = str(config.get("region") or "us-east-1")
        endpoint = config.get("endpoint") or f"https://s3.{region}.amazonaws.com"
        token = config.get("session_token")
        return cls(endpoint=str(endpoint).rstrip("/"), bucket=str(config["bucket"]),
                   region=region, access_key_id=str(key_id), secret_access_key=str(secret),
                   session_token=str(token) if token else None,
                   prefix=store.prefix.strip("/") if store.prefix else None)

    def url(self, method: str, key: str, *, issued_at: datetime, expires_in: int,
            headers: Mapping[str, str] | None = None,
            response: Mapping[str, str] | None = None) -> str:
        """A URL that lets its holder make one `method` request for `key` from `issued_at`
        until `expires_in` seconds later. Every header in `headers` is signed: the request
        must carry exactly these values. `response` maps header names of
        RESPONSE_OVERRIDES to the values the store must answer a GET with. Raises
        ValueError for an expiry outside 1 s .. 7 days or an unknown override."""
        if not 1 <= expires_in <= MAX_EXPIRES:
            raise ValueError(f"a presigned URL lasts 1 to {MAX_EXPIRES} seconds, "
                             f"not {expires_in}")
        parts = urlsplit(self.endpoint)
        host = parts.netloc
        if (parts.scheme, parts.port) in (("http", 80), ("https", 443)):
            host = parts.hostname or host  # clients leave a default port out of Host
        at = issued_at.astimezone(UTC)
        day, stamp = at.strftime("%Y%m%d"), at.strftime("%Y%m%dT%H%M%SZ")
        scope = f"{day}/{self.region}/s3/aws4_request"
        signed_headers = {"host": host,
                          **{k.lower(): " ".join(v.split()) for k, v in (headers or {}).items()}}
        names = ";".join(sorted(signed_headers))
        query = {
            "X-Amz-Algorithm": _ALGORITHM,
            "X-Amz-Credential": f"{self.access_key_id}/{scope}",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": str(expires_in),
            "X-Amz-SignedHeaders": names,
        }
        if self.session_token:
            query["X-Amz-Security-Token"] = self.session_token
        for name, value in (response or {}).items():
            if (parameter := RESPONSE_OVERRIDES.get(name.lower())) is None:
                raise ValueError(f"cannot override the response header {name!r}")
            query[parameter] = value
        canonical_query = "&".join(
            f"{_quote(k)}={_quote(v)}" for k, v in sorted(query.items()))
        object_path = f"{self.prefix}/{key}" if self.prefix else key
        path = (f"{parts.path.rstrip('/')}/{_quote(self.bucket)}/"
                f"{_quote(object_path, safe='-_.~/')}")
        canonical_request = "\n".join([
            method, path, canonical_query,
            "".join(f"{k}:{signed_headers[k]}\n" for k in sorted(signed_headers)),
            names, _UNSIGNED,
        ])
        to_sign = "\n".join([_ALGORITHM, stamp, scope,
                             hashlib.sha256(canonical_request.encode()).hexdigest()])
        signing_key = ("AWS4" + self.secret_access_key).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        return (f"{parts.scheme}://{host}{path}?{canonical_query}"
                f"&X-Amz-Signature={signature}")
