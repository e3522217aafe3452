"""Rendering: versions of one image from one decode, their bytes stored; rows are the
caller's business (ingest puts them in the new asset, VersionService finishes pending
ones).

Both entry points share this path, so an upload's validating decode is the very decode
its versions are made from, and a later render (a convert, an on-demand GET, a job)
reads the original from the blob store as a file, never as one `bytes` copy.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import uuid4

from assetry.domain.converter import OutputFormat, VersionSpec, render_order
from assetry.domain.geometry import Point, Size, decode_scale, plan, srcset
from assetry.domain.media import SAME_FORMAT
from assetry.domain.model import Encoding, Version, VersionStatus
from assetry.domain.placeholder import min_decode_scale
from assetry.domain.ports import (
    BlobStore,
    Database,
    Decoded,
    ImageProcessor,
    OverlaySource,
    Rendered,
    RenderFailure,
    RenderRequest,
)
from assetry.errors import BlobNotFound, InvalidConverter, RenderFailed, UndecodableImage
from assetry.services import keys
from assetry.services.cpu import CpuPool, Lane
from assetry.services.disposal import dispose
from assetry.services.metrics import Metrics
from assetry.services.overlays import overlay_assets, overlay_ids


def focal_point(metadata: Mapping[str, Any]) -> Point | None:
    """The asset's `metadata.focal_point` {x, y} in 0..1, if well-formed."""
    raw = metadata.get("focal_point")
    if not isinstance(raw, Mapping):
        return None
    x, y = raw.get("x"), raw.get("y")
    if all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in (x, y)):
        return Point(float(x), float(y))  # type: ignore[arg-type]
    return None


def output_format(spec: VersionSpec, original_mime: str) -> str:
    """The format a version is written in (`auto` for format auto)."""
    if spec.format is OutputFormat.SAME:
        return SAME_FORMAT.get(original_mime, "jpeg")
    return spec.format.value


class Renderer:
    """Makes versions from one decode of an original and stores their bytes."""

    def __init__(self, processor: ImageProcessor, cpu: CpuPool, blobs: BlobStore,
                 metrics: Metrics, db: Database, *, scratch: Path) -> None:
        self._processor = processor
        self._cpu = cpu
        self._blobs = blobs
        self._metrics = metrics
        self._db = db
        self._scratch = scratch

    async def render(
        self,
        path: Path,
        mime_type: str,
        source: Size,
        metadata: Mapping[str, Any],
        versions: Sequence[Version],
        *,
        lane: Lane,
        sources: Sequence[Version] = (),
        placeholder: bool = False,
    ) -> Decoded[Version]:
        """Decode the original at `path` once and make `versions` from it (all of them
        with an empty list: then the decode only proves the image whole); with
        `placeholder`, also the image's placeholders, from the same decode.

        A version whose spec names a `source` is made from that version's pixels, found
        among `versions` or else `sources` (the asset's other versions), which is then
        carried out too, from the same decode, but not stored. Overlay images are read
        from their assets' originals.

        Returns each version as it should now be stored, in order: READY with its blob
        key (the one it came with, if any; its other renditions' keys are derived from
        it) and facts (the bytes are already in the blob store), or FAILED with the
        reason when that version alone could not be made; and the placeholders (None if
        not asked for or not made). Raises UndecodableImage (the image does not decode;
        nothing was stored), RenderFailed (over the time limit), Overloaded (an
        ON_DEMAND lane at capacity)."""
        wanted = {v.name: v for v in versions}
        specs = {v.name: v.spec for v in (*sources, *versions)}
        refused: dict[str, str] = {}
        ordered: list[str] = []  # version names, sources first
        for v in versions:
            try:
                ordered += [n for n in render_order([v.name], specs) if n not in ordered]
            except InvalidConverter as exc:
                refused[v.name] = exc.message
        started = time.perf_counter()
        # The specs' names of the versions made, for the duration by version: a converter
        # version's own name, "transform" for every on-the-fly transform (whose version
        # names are as many as the URLs signed: too many for a metric's label).
        made_names: list[str] = []
        try:
            async with AsyncExitStack() as files:
                marks = await self._overlays(files, overlay_ids(specs[n] for n in ordered))
                requests = self._requests([(n, specs[n]) for n in ordered], wanted, mime_type,
                                          source, metadata,
                                          {a: m.size for a, m in marks.items()}, refused)
                # With no version to make, the smallest decode still reads the whole stream.
                from_original = [p for r in requests if r.source is None
                                 for p in (r.plan, *(q for _, q in r.srcset))]
                scale = decode_scale(from_original) if requests else 1e-9
                if placeholder:
                    scale = max(scale, min_decode_scale(source))
                results = await self._cpu.run(self._processor.render, path, mime_type,
                                               requests, scale, placeholder, marks, lane=lane)
            made = dict(zip([r.version_id for r in requests if r.keep], results, strict=True))
            made_names = [v.spec.name for v in versions
                          if isinstance(made.get(v.id), Rendered)]
        except UndecodableImage:
            self._metrics.render_failed("undecodable")
            raise
        except RenderFailed:
            self._metrics.render_failed("timeout")
            raise
        finally:
            self._metrics.observe_render(time.perf_counter() - started, made_names)
        self._metrics.bump("renders")
        if len(made_names) < len(versions):
            self._metrics.render_failed("version", len(versions) - len(made_names))
        finished = Decoded[Version](placeholder=results.placeholder)
        try:
            for version in versions:
                result = made.get(version.id)
                if result is None or isinstance(result, RenderFailure):
                    reason = (refused.get(version.name) or getattr(result, "reason", None)
                              or "it could not be planned")
                    finished.append(replace(version, status=VersionStatus.FAILED,
                                            error=reason))
                    continue
                finished.append(await self._store(version, result))
        except BaseException:
            await dispose(self._blobs, [k for v in finished for k in v.blob_keys])
            raise
        return finished

    async def _overlays(self, files: AsyncExitStack, ids: set[str]
                        ) -> dict[str, OverlaySource]:
        """The original of each overlay asset among `ids` as a local file (for as long
        as `files` is open), by asset id; assets gone, or whose bytes are, are left out."""
        found: dict[str, OverlaySource] = {}
        for asset_id, asset in (await overlay_assets(self._db, ids)).items():
            try:
                path = await files.enter_async_context(
                    self._blobs.local_file(asset.blob_key, self._scratch))
            except BlobNotFound:
                continue
            assert asset.width is not None and asset.height is not None
            found[asset_id] = OverlaySource(path=path, mime_type=asset.mime_type,
                                            size=Size(asset.width, asset.height))
        return found

    @staticmethod
    def _requests(ordered: Sequence[tuple[str, VersionSpec]], wanted: Mapping[str, Version],
                  mime_type: str, source: Size, metadata: Mapping[str, Any],
                  sizes: Mapping[str, Size], refused: dict[str, str]
                  ) -> list[RenderRequest]:
        """A request per (version name, spec) of `ordered`: planned on the original, or
        on the output of its source. Those that cannot be planned (an overlay image
        missing, a source refused) are left out, and recorded in `refused`."""
        focal = focal_point(metadata)
        requests: dict[str, RenderRequest] = {}
        for name, spec in ordered:
            missing = sorted(overlay_ids([spec]) - set(sizes))
            if spec.source is not None and spec.source not in requests:
                reason = (f"its source version {spec.source!r} failed: "
                          + refused.get(spec.source, "it could not be planned"))
            elif missing:
                reason = f"overlay asset {missing[0]} no longer exists or is not an image"
            else:
                base = (source if spec.source is None
                        else requests[spec.source].plan.output)
                main = plan(base, spec, focal, sizes)
                version = wanted.get(name)
                requests[name] = RenderRequest(
                    version_id=version.id if version else uuid4(), plan=main,
                    format=output_format(spec, mime_type), quality=spec.quality,
                    srcset=srcset(base, spec, main, focal, sizes),
                    source=None if spec.source is None else requests[spec.source].version_id,
                    keep=version is not None)
                continue
            refused[name] = reason
        return list(requests.values())

    async def _store(self, version: Version, result: Rendered) -> Version:
        """`version` READY, every rendition of `result` stored: the main one under the
        key reserved on the pending row (else a fresh one), the others under keys
        derived from it (keys.encoding_key), one blob per distinct bytes (a srcset width
        equal to the version's own size shares its blob)."""
        main = version.blob_key or keys.version_key(version.asset_id, version.id)
        by_data: dict[int, str] = {}

        async def put(data: bytes, key: str) -> str:
            if id(data) not in by_data:
                by_data[id(data)] = key
                await self._blobs.put_bytes(key, data)
            return by_data[id(data)]

        stored: list[str] = []
        try:
            main_key = await put(result.data, main)
            stored.append(main_key)
            encodings = []
            for e in result.extras:
                width = f"{e.srcset_width}w." if e.srcset_width else ""
                key = await put(e.data, keys.encoding_key(main, f"{width}{e.format}"))
                stored.append(key)
                encodings.append(Encoding(
                    format=e.format, srcset_width=e.srcset_width, blob_key=key,
                    mime_type=e.mime_type, width=e.width, height=e.height,
                    size=len(e.data), sha256=hashlib.sha256(e.data).hexdigest()))
        except BaseException:
            await dispose(self._blobs, list(dict.fromkeys(stored)))
            raise
        return replace(
            version, status=VersionStatus.READY, blob_key=main_key, error=None,
            width=result.width, height=result.height, mime_type=result.mime_type,
            size=len(result.data), sha256=hashlib.sha256(result.data).hexdigest(),
            encodings=tuple(encodings))
