"""Byte responses: strong ETags from content hashes, 304, HEAD, one Range, safe headers;
or, by ASSETRY_DELIVERY, a redirect to the store or an X-Accel-Redirect to nginx."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Mapping
from email.utils import format_datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from assetry.domain.caching import cache_control, pins
from assetry.domain.media import SAFE_INLINE
from assetry.domain.model import AssetType
from assetry.services.content import Accel, Content, ContentReader, Redirect
from assetry.web.errors import problem

#: bodies up to this size are read whole and sent as one Response
_WHOLE = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: asset bytes are never a document: no scripts, no plugins, no same-origin powers
CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; sandbox"


def etag(content: Content) -> str:
    return f'"{content.sha256}"'


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/") == tag for t in header.split(","))


def _range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end_exclusive) for one satisfiable range; None to send everything; or
    "unsatisfiable". Several ranges are answered with the whole body (RFC 9110 allows it),
    which also removes the many-ranges denial of service."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None
    first, last = m.groups()
    if first == "" and last == "":
        return None
    if first == "":
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end


def _headers(content: Content, max_age: int, *, pinned: bool) -> dict[str, str]:
    return dict(_content_headers(content, max_age, pinned))


# A hot URL serves the same Content again and again; its date and quoted filename cost
# a twentieth of a small version's delivery when made for every request.
@functools.lru_cache(maxsize=1024)
def _content_headers(content: Content, max_age: int, pinned: bool) -> Mapping[str, str]:
    """The headers every answer about `content` carries (shared: copy before changing)."""
    inline = content.asset_type is AssetType.IMAGE or content.mime_type in SAFE_INLINE
    disposition = "inline" if inline else "attachment"
    quoted = quote(content.filename, safe="")
    ascii_name = content.filename.encode("ascii", "replace").decode().replace('"', "_")
    # Caches must key negotiated bytes by the header that chose them (304s too).
    vary = {"Vary": content.vary} if content.vary else {}
    return {**vary,
        "ETag": etag(content),
        "Cache-Control": cache_control(public=content.public, max_age=max_age, pinned=pinned),
        "Last-Modified": format_datetime(content.modified_at, usegmt=True),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quoted}",
    }


async def _prefetched(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    # Pull the first chunk before answering, so a missing blob becomes an error response
    # instead of a 200 cut short after its headers were sent.
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""

    async def rest() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return rest()


async def respond(request: Request, content: Content, reader: ContentReader,
                  max_age: int) -> Response:
    """The response for GET or HEAD of `content`, honouring If-None-Match and Range; a
    `v` that names the bytes makes a public answer immutable (domain/caching.py).

    A 304 and a HEAD are always answered here. Otherwise a GET may be handed off
    (services/content.py): a 302 to a presigned URL of the store, whose answer carries
    the Content-Type, Content-Disposition and Cache-Control this one would have (the
    store handles Range); or every header of this answer with X-Accel-Redirect and no
    body, for nginx to add the file (nginx handles Range)."""
    headers = _headers(content, max_age,
                       pinned=pins(request.query_params.get("v"), content.pin or content.sha256))
    if _matches(request.headers.get("if-none-match"), etag(content)):
        return Response(status_code=304, headers=headers)
    if request.method == "GET":
        handoff = reader.handoff(content, {
            "content-type": content.mime_type,
            "content-disposition": headers["Content-Disposition"],
            "cache-control": headers["Cache-Control"]})
        if isinstance(handoff, Redirect):
            scope = "public" if content.public else "private"
            # The redirect names one rendition chosen by Accept: a cache must keep one per
            # Accept, as it would the bytes.
            vary = {"Vary": content.vary} if content.vary else {}
            return Response(status_code=302, headers={
                **vary, "Location": handoff.url,
                "Cache-Control": f"{scope}, max-age={min(max_age, handoff.max_age)}"})
        if isinstance(handoff, Accel):
            # Content-Type verbatim (see below); nginx sets the length of the file it sends.
            return Response(status_code=200, headers={
                **headers, "Content-Type": content.mime_type,
                "X-Accel-Redirect": handoff.uri})
    wanted = _range(request.headers.get("range"), content.size)
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag(content):
        wanted = None
    if wanted == "unsatisfiable":
        response = problem(416, f"the range is outside the {content.size} bytes of the content")
        response.headers["Content-Range"] = f"bytes */{content.size}"
        return response
    status, start, end = 200, 0, content.size
    if isinstance(wanted, tuple):
        status, (start, end) = 206, wanted
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{content.size}"
    headers["Content-Length"] = str(end - start)
    # Set verbatim: Starlette would append "; charset=utf-8" to text/* types, a claim about
    # bytes we never decoded.
    headers["Content-Type"] = content.mime_type
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    if end - start <= _WHOLE:
        # Small bodies (every thumbnail) in one piece: a plain Response skips the
        # streaming machinery (a task group watching for disconnects), which cost a
        # tenth of a small version's delivery. A missing blob still raises before
        # anything is sent.
        data = b"".join([chunk async for chunk in reader.stream(content, start, end)]
                        ) if end > start else b""
        return Response(data, status_code=status, headers=headers)
    body = await _prefetched(reader.stream(content, start, end))
    return StreamingResponse(body, status_code=status, headers=headers)
