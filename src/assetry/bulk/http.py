"""HttpClient: the AssetClient of a running Assetry server, over its HTTP API (httpx)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from assetry.bulk.ports import LISTING_PAGE, Refused
from assetry.domain.bulk import PoolInfo, StoredAsset

T = TypeVar("T")

class HttpClient:
    """Talks to `base_url` with a bearer token (none: anonymous, reads of public pools).

    Every error answer becomes Refused with its status and the problem+json `detail`;
    no answer at all (refused connection, timeout) becomes Refused with status None."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    @classmethod
    @asynccontextmanager
    async def open(cls, base_url: str, token: str | None, *, io_timeout: float = 60
                   ) -> AsyncIterator[HttpClient]:
        """A client for `base_url` (http or https; a path prefix is kept). `io_timeout`
        bounds each wait for the server to read or answer, not a whole transfer."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Redirects are followed for byte downloads (an S3 deployment may redirect to a
        # presigned URL); httpx drops the Authorization header when the host changes.
        async with httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers,
                                     timeout=httpx.Timeout(io_timeout, connect=10),
                                     follow_redirects=True) as http:
            yield cls(http)

    async def pool(self, name: str) -> PoolInfo:
        body = await self._json("GET", f"/api/pools/{quote(name, safe='')}")
        return _parsed(PoolInfo.from_json, body)

    async def has(self, pool: str, sha256: str) -> bool:
        page = await self._json("GET", f"/api/pools/{quote(pool, safe='')}/assets",
                                params={"sha256": sha256, "limit": 1})
        return bool(isinstance(page, dict) and page.get("items"))

    async def upload(self, pool: str, path: Path, *, filename: str,
                     gallery: str | None, converter: str | None) -> str:
        fields = {k: v for k, v in (("gallery", gallery), ("converter", converter)) if v}
        with path.open("rb") as f:  # httpx streams it; the size comes from fstat
            body = await self._json(
                "POST", f"/api/pools/{quote(pool, safe='')}/assets", data=fields,
                files={"file": (filename, f, "application/octet-stream")})
        return _parsed(StoredAsset.from_json, body).id

    async def assets(self, pool: str) -> AsyncGenerator[StoredAsset, None]:
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": LISTING_PAGE}
            if cursor is not None:
                params["cursor"] = cursor
            page = await self._json("GET", f"/api/pools/{quote(pool, safe='')}/assets",
                                    params=params)
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise Refused(502, f"the listing is not a page of assets: {page!r}"[:300])
            for item in page["items"]:
                yield _parsed(StoredAsset.from_json, item)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def content(self, asset_id: str) -> AsyncGenerator[bytes, None]:
        try:
            async with self._http.stream(
                    "GET", f"/api/assets/{quote(asset_id, safe='')}/content") as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _refusal(response)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.HTTPError as exc:
            raise _unreachable(self._http, exc) from None

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _unreachable(self._http, exc) from None
        if not response.is_success:
            raise _refusal(response)
        try:
            return response.json()
        except ValueError:
            raise Refused(502, f"{method} {path} answered {response.status_code} "
                               "with a body that is not JSON") from None


def _refusal(response: httpx.Response) -> Refused:
    """The error answer as Refused: its problem+json `detail`, else the start of its body."""
    detail = None
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            detail = body["detail"]
    except ValueError:
        pass
    if detail is None:
        detail = response.text.strip()[:200] or response.reason_phrase
    return Refused(response.status_code, detail)


def _unreachable(http: httpx.AsyncClient, exc: httpx.HTTPError) -> Refused:
    return Refused(None, f"no answer from {http.base_url}: {type(exc).__name__}: {exc}")


def _parsed(read: Callable[[Any], T], body: Any) -> T:
    """`read(body)`, a server answer of the wrong shape being a Refused (502)."""
    try:
        return read(body)
    except ValueError as exc:
        raise Refused(502, f"unexpected answer from the server: {exc}") from None
