"""Caching byte URLs: the digest that pins a URL to the bytes it serves, and the
Cache-Control each answer earns.

The Asset JSON hands out content and version URLs with `?v=<digest of the bytes>`. While
`v` matches the bytes, the URL can only ever answer those bytes, so a public one may be
cached for a year without asking again; a replace or re-render changes the digest and so
the URL. Without `v`, or with an old one, the short max-age and the ETag apply.
"""

from __future__ import annotations

DIGEST_HEX = 16  #: hex digits of the SHA-256 kept in `v` (64 bits)
IMMUTABLE_MAX_AGE = 31_536_000  #: a year, the longest RFC 9111 caches honour in practice


def digest(sha256: str) -> str:
    """The `v` value of bytes with this hex SHA-256."""
    return sha256[:DIGEST_HEX].lower()


def pinned(url: str, sha256: str | None) -> str:
    """`url` with `v=<digest>` added to its query (unchanged without a hash: a version
    not rendered yet has no bytes to pin)."""
    if not sha256:
        return url
    return f"{url}{'&' if '?' in url else '?'}v={digest(sha256)}"


def pins(v: str | None, sha256: str) -> bool:
    """Whether a request's `v` names exactly these bytes."""
    return v is not None and len(v) == DIGEST_HEX and bool(sha256) and v == digest(sha256)


def cache_control(*, public: bool, max_age: int, pinned: bool) -> str:
    """Public and pinned: cacheable by anyone for a year, never revalidated. Otherwise
    `public` or `private` (anyone, or only the caller's browser) for `max_age` seconds."""
    if public and pinned:
        return f"public, max-age={IMMUTABLE_MAX_AGE}, immutable"
    return f"{'public' if public else 'private'}, max-age={max_age}"
