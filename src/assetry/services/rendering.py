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
from dataclasses import replace
from pathlib import Path
from typing import Any

from assetry.domain.converter import OutputFormat
from assetry.domain.geometry import Point, Size, decode_scale, plan
from assetry.domain.media import SAME_FORMAT
from assetry.domain.model import Version, VersionStatus
from assetry.domain.placeholder import min_decode_scale
from assetry.domain.ports import BlobStore, Decoded, ImageProcessor, RenderFailure, RenderRequest
from assetry.errors import RenderFailed, UndecodableImage
from assetry.services import keys
from assetry.services.cpu import CpuPool, Lane
from assetry.services.disposal import dispose
from assetry.services.metrics import Metrics


def focal_point(metadata: Mapping[str, Any]) -> Point | None:
    """The asset's `metadata.focal_point` {x, y} in 0..1, if well-formed."""
    raw = metadata.get("focal_point")
    if not isinstance(raw, Mapping):
        return None
    x, y = raw.get("x"), raw.get("y")
    if all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in (x, y)):
        return Point(float(x), float(y))  # type: ignore[arg-type]
    return None


def output_format(version: Version, original_mime: str) -> str:
    if version.spec.format is OutputFormat.SAME:
        return SAME_FORMAT.get(original_mime, "jpeg")
    return version.spec.format.value


class Renderer:
    """Makes versions from one decode of an original and stores their bytes."""

    def __init__(self, processor: ImageProcessor, cpu: CpuPool, blobs: BlobStore,
                 metrics: Metrics) -> None:
        self._processor = processor
        self._cpu = cpu
        self._blobs = blobs
        self._metrics = metrics

    async def render(
        self,
        path: Path,
        mime_type: str,
        source: Size,
        metadata: Mapping[str, Any],
        versions: Sequence[Version],
        *,
        lane: Lane,
        placeholder: bool = False,
    ) -> Decoded[Version]:
        """Decode the original at `path` once and make `versions` from it (all of them
        with an empty list: then the decode only proves the image whole); with
        `placeholder`, also the image's placeholders, from the same decode.

        Returns each version as it should now be stored, in order: READY with its blob
        key (the one it came with, if any) and facts (the bytes are already in the blob
        store), or FAILED with the reason when that version alone could not be made; and
        the placeholders (None if not asked for or not made). Raises UndecodableImage (the
        image does not decode; nothing was stored), RenderFailed (over the time limit),
        Overloaded (an ON_DEMAND lane at capacity)."""
        focal = focal_point(metadata)
        requests = [
            RenderRequest(version_id=v.id, plan=plan(source, v.spec, focal),
                          format=output_format(v, mime_type), quality=v.spec.quality)
            for v in versions
        ]
        # With no version to make, the smallest decode still reads the whole stream.
        scale = decode_scale([r.plan for r in requests]) if requests else 1e-9
        if placeholder:
            scale = max(scale, min_decode_scale(source))
        started = time.perf_counter()
        # The specs' names of the versions made, for the duration by version: a converter
        # version's own name, "transform" for every on-the-fly transform (whose version
        # names are as many as the URLs signed: too many for a metric's label).
        made: list[str] = []
        try:
            results = await self._cpu.run(self._processor.render, path, mime_type, requests,
                                          scale, placeholder, lane=lane)
            made = [v.spec.name for v, r in zip(versions, results, strict=True)
                    if not isinstance(r, RenderFailure)]
        except UndecodableImage:
            self._metrics.render_failed("undecodable")
            raise
        except RenderFailed:
            self._metrics.render_failed("timeout")
            raise
        finally:
            self._metrics.observe_render(time.perf_counter() - started, made)
        self._metrics.bump("renders")
        if len(made) < len(versions):
            self._metrics.render_failed("version", len(versions) - len(made))
        finished = Decoded[Version](placeholder=results.placeholder)
        try:
            for version, result in zip(versions, results, strict=True):
                if isinstance(result, RenderFailure):
                    finished.append(replace(version, status=VersionStatus.FAILED,
                                            error=result.reason))
                    continue
                # A key the caller reserved on the pending row, else a fresh one.
                key = version.blob_key or keys.version_key(version.asset_id, version.id)
                await self._blobs.put_bytes(key, result.data)
                finished.append(replace(
                    version, status=VersionStatus.READY, blob_key=key, error=None,
                    width=result.width, height=result.height, mime_type=result.mime_type,
                    size=len(result.data), sha256=hashlib.sha256(result.data).hexdigest()))
        except BaseException:
            await dispose(self._blobs, [v.blob_key for v in finished])
            raise
        return finished
