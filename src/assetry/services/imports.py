"""URL imports: fetch through the SSRF-safe fetcher, then the very same ingest as uploads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assetry.domain.model import Actor, Asset
from assetry.domain.ports import Fetcher
from assetry.errors import Invalid, TooLarge
from assetry.services.ingest import (
    IngestService,
    Submission,
    parse_gallery,
    parse_metadata,
    parse_resource,
)

_FIELDS = {"url", "gallery", "converter", "metadata", "attach_to"}


class ImportService:
    def __init__(self, fetcher: Fetcher, ingest: IngestService) -> None:
        self._fetcher = fetcher
        self._ingest = ingest

    async def import_url(self, pool: str, body: Mapping[str, Any], actor: Actor) -> Asset:
        """Fetch `body["url"]` into `pool` exactly as if its bytes had been uploaded;
        `attach_to` (a resource or a list) is attached in the same transaction.

        Raises Invalid (400), UnsafeUrl (422), UpstreamError (502), UpstreamTimeout (504),
        TooLarge (413), and every error of an upload. Nothing is stored on failure."""
        unknown = set(body) - _FIELDS
        if unknown:
            raise Invalid(f"unknown field(s) {sorted(unknown)}", field=sorted(unknown)[0])
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise Invalid("required: the http(s) URL to import", field="url")
        attach = body.get("attach_to") or []
        attach_to = (attach,) if isinstance(attach, str) else attach
        if not isinstance(attach_to, list | tuple):
            raise Invalid("must be a resource or a list of resources", field="attach_to")
        if body.get("converter") is not None and not isinstance(body["converter"], str):
            raise Invalid("must be a string", field="converter")
        # Everything that can be checked without the bytes is checked before fetching.
        parse_metadata(body.get("metadata"))
        parse_gallery(body.get("gallery"))
        attach_to = [parse_resource(r, "attach_to") for r in attach_to]
        admission = await self._ingest.admit(pool, actor)
        limit = admission.limit
        try:
            fetched = await self._fetcher.fetch(
                url, limit=limit, sink=lambda chunks: self._ingest.stage(chunks, limit=limit)
            )
        except TooLarge as exc:
            exc.field = "url"
            raise
        return await self._ingest.create(admission, fetched.staged, Submission(
            filename=fetched.filename, gallery=body.get("gallery"),
            converter=body.get("converter"), metadata=body.get("metadata"),
            attach_to=tuple(attach_to)), actor)
