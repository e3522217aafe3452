"""The library API: Assetry's services in-process, without HTTP.

    async with Assetry.open(data_dir="var") as assetry:
        original, *versions = await assetry.convert_from_file("photo.jpg")
        gallery = await assetry.get_gallery(original.gallery)

Method names follow the original image service (convert_from_file, convert_image,
get_gallery, delete_versions) plus create/get/list/update/delete. Everything runs as a
trusted local caller (the `library` actor), the same rules and errors as over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio

from assetry.bootstrap import Services, open_services
from assetry.config import Settings
from assetry.domain.model import Actor, Asset, Gallery, Page, Role, Version, VersionStatus
from assetry.services.cpu import Lane
from assetry.services.ingest import Submission

Source = str | Path | bytes
CHUNK = 1024 * 1024


async def _chunks(source: Source) -> AsyncIterator[bytes]:
    if isinstance(source, bytes):
        yield source
        return
    async with await anyio.open_file(source, "rb") as f:
        while chunk := await f.read(CHUNK):
            yield chunk


class Assetry:
    """An open Assetry instance. Build it with `Assetry.open(...)`."""

    def __init__(self, services: Services, *, actor: Actor | None = None) -> None:
        self.services = services
        self.actor = actor or Actor(name="library", role=Role.ADMIN)

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings | None = None, *, run_worker: bool = True,
                   **overrides: Any) -> AsyncIterator[Assetry]:
        """Open the services from `settings` (or `Settings(**overrides)`, e.g. data_dir)."""
        async with open_services(settings or Settings(**overrides),
                                 run_worker=run_worker) as services:
            yield cls(services)

    async def create(
        self,
        source: Source,
        *,
        pool: str = "default",
        filename: str | None = None,
        type: str | None = None,
        gallery: str | None = None,
        converter: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        wait: bool = False,
    ) -> Asset:
        """Store a file or image (a path or bytes). With `wait`, versions are rendered
        before returning. Raises the same errors as an upload."""
        admission = await self.services.ingest.admit(pool, self.actor)
        staged = await self.services.ingest.stage(_chunks(source), limit=admission.limit)
        name = filename or (Path(source).name if not isinstance(source, bytes) else None)
        asset = await self.services.ingest.create(admission, staged, Submission(
            filename=name, type=type, gallery=gallery, converter=converter,
            metadata=dict(metadata) if metadata is not None else None), self.actor)
        if wait:
            await self.services.versions.render_pending(asset.id, lane=Lane.INGEST)
            asset = await self.get(asset.id)
        return asset

    async def convert_from_file(
        self,
        source: Source,
        converter_id: str | None = None,
        converter_settings: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        *,
        pool: str = "default",
    ) -> list[Asset | Version]:
        """Store an image and render its versions: `[original, *versions]` like the
        original service. `correlation_id` puts it into an existing gallery."""
        asset = await self.create(source, pool=pool, gallery=correlation_id,
                                  converter=converter_id, metadata=metadata,
                                  wait=converter_settings is None)
        if converter_settings is not None:
            return await self.convert_image(asset.id, converter_id, converter_settings)
        return [asset, *asset.versions]

    async def convert_image(
        self,
        id: UUID,
        converter_id: str | None = None,
        converter_settings: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Asset | Version]:
        """(Re)render an image's versions with a converter; `[original, *versions]`."""
        if metadata is not None:
            await self.update(id, metadata=dict(metadata))
        await self.services.versions.convert(id, converter_id,
                                             dict(converter_settings or {}), self.actor)
        await self.services.versions.render_pending(id, lane=Lane.INGEST)
        asset = await self.get(id)
        return [asset, *asset.versions]

    async def get_gallery(self, id: str | Sequence[str]) -> Gallery | list[Gallery] | None:
        """One gallery (None if unknown) for one id; for a list, the known ones in order."""
        if isinstance(id, str | UUID):
            found = await self.services.galleries.many([str(id)], self.actor)
            return found[0] if found else None
        return await self.services.galleries.many([str(i) for i in id], self.actor)

    async def delete_versions(self, id: UUID, versions: Sequence[str]) -> Asset:
        """Remove the named versions (never the original). Raises VersionNotFound."""
        asset = await self.get(id)
        for name in versions:
            asset = await self.services.versions.delete(id, name, self.actor)
        return asset

    async def get(self, id: UUID) -> Asset:
        return await self.services.assets.get(id, self.actor)

    async def list(self, pool: str = "default", **filters: Any) -> Page:
        return await self.services.assets.list(pool, self.actor, **filters)

    async def update(self, id: UUID, **fields: Any) -> Asset:
        """Change filename, metadata, gallery or hidden."""
        return await self.services.assets.patch(id, fields, self.actor)

    async def delete(self, id: UUID) -> Asset:
        return await self.services.assets.delete(id, self.actor)

    async def read(self, id: UUID, version: str | None = None) -> bytes:
        """The original's bytes, or a version's (rendered first if pending)."""
        return b"".join([c async for c in self.stream(id, version)])

    def transform_url(self, id: UUID, *, w: int | None = None, h: int | None = None,
                      fit: str | None = None, gravity: str | None = None,
                      format: str | None = None, q: int | None = None,
                      exp: int | None = None) -> str:
        """A signed on-the-fly transform URL (path and query) of an image in a pool with
        `transforms: signed`, e.g. `transform_url(id, w=640, format="webp")`. `exp` is an
        optional Unix time after which it is refused. Raises InvalidTransform."""
        return self.services.transforms.url(id, {"w": w, "h": h, "fit": fit,
                                                 "gravity": gravity, "format": format,
                                                 "q": q, "exp": exp})

    async def stream(self, id: UUID, version: str | None = None) -> AsyncIterator[bytes]:
        """The same bytes as `read`, in chunks, never all in memory at once."""
        if version is None:
            content = await self.services.assets.content(id, self.actor)
        else:
            content = await self.services.versions.content(id, version, self.actor)
        async for chunk in self.services.content.stream(content):
            yield chunk


__all__ = ["Asset", "Assetry", "Gallery", "Version", "VersionStatus"]
