"""Signed URLs: an expiring HMAC that lets one URL of a non-public pool be read without a
token (so `<img src>` works). Signatures cover the path and the expiry, nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

from assetry.errors import Forbidden


class UrlSigner:
    """`sign(path)` gives `path?exp=…&sig=…`; `verify(path, exp, sig)` checks one.

    Expiries are rounded up to the next `ttl` boundary plus one `ttl`, so every URL of a
    page rendered within the same window is identical (browser and CDN caches hit) and
    stays valid for between `ttl` and `2 * ttl` seconds.
    """

    def __init__(self, secret: bytes, ttl: int, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the URL signing secret must be at least 16 bytes")
        self._secret = secret
        self.ttl = ttl
        self._clock = clock

    def _mac(self, path: str, exp: int) -> str:
        return self.mac(f"{path}\n{exp}")

    def mac(self, message: str) -> str:
        """HMAC-SHA256 of `message` under the signing key, base64url without padding."""
        mac = hmac.new(self._secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def check(self, message: str, sig: str | None) -> None:
        """Raise Forbidden unless `sig` is the MAC of `message`. Constant time."""
        if not sig:
            raise Forbidden("the URL is not signed")
        if not hmac.compare_digest(self.mac(message), sig):
            raise Forbidden("the URL signature does not match this URL")

    def sign(self, path: str) -> str:
        exp = (int(self._clock()) // self.ttl + 2) * self.ttl
        return f"{path}?exp={exp}&sig={self._mac(path, exp)}"

    def verify(self, path: str, exp: str | None, sig: str | None) -> None:
        """Raise Forbidden unless `sig` is this service's signature of `path` and `exp`
        and `exp` is in the future. Compared in constant time."""
        if not exp or not sig or not exp.isdigit():
            raise Forbidden("the URL signature is incomplete")
        if not hmac.compare_digest(self._mac(path, int(exp)), sig):
            raise Forbidden("the URL signature does not match this URL")
        if int(exp) < self._clock():
            raise Forbidden("the signed URL has expired")
