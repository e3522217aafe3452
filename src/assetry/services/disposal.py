"""Deleting blobs after the rows that pointed at them are gone: best effort, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from assetry.domain.ports import BlobStore
from assetry.errors import BackendUnavailable

log = logging.getLogger(__name__)


async def dispose(blobs: BlobStore, keys: Iterable[str | None]) -> None:
    """Delete every key. The rows are already committed, so a store that fails now must
    not fail the request: the blob is left for `assetry gc`, which finds unreferenced
    blobs, and the failure is logged."""
    for key in keys:
        if not key:
            continue
        try:
            await blobs.delete(key)
        except BackendUnavailable as exc:
            log.warning("could not delete blob %s (left for `assetry gc`): %s", key, exc)
