"""What upload and replace share: receiving the form, and `?wait=true`."""

from __future__ import annotations

from fastapi import Request

from assetry.bootstrap import Services
from assetry.domain.model import Actor, Asset
from assetry.domain.ports import StagedFile
from assetry.errors import Invalid
from assetry.services.cpu import Lane
from assetry.services.ingest import Submission
from assetry.web.multipart import check_content_length, read_form

UPLOAD_DOC = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"},
            "type": {"type": "string", "enum": ["image", "file"]},
            "gallery": {"type": "string"}, "converter": {"type": "string"},
            "metadata": {"type": "string", "description": "a JSON object"},
            "mime_type": {"type": "string"},
        }}}}},
}


async def receive(request: Request, services: Services, limit: int
                  ) -> tuple[StagedFile, Submission]:
    """Stream the multipart body into the spool (at most `limit` file bytes) and return
    the staged file with the form's fields. Raises TooLarge, Invalid (no `file` part)."""
    check_content_length(request, limit)
    form = await read_form(request, lambda chunks: services.ingest.stage(chunks, limit=limit),
                           services.ingest.discard)
    if form.staged is None:
        raise Invalid("required", field="file")
    f = form.fields
    return form.staged, Submission(
        filename=form.filename, type=f.get("type") or None, gallery=f.get("gallery"),
        converter=f.get("converter") or None, metadata=f.get("metadata"),
        mime_type=f.get("mime_type") or None)


async def settled(services: Services, asset: Asset, actor: Actor, wait: bool) -> Asset:
    """With `wait`, the asset once every pending version is rendered; else as it is."""
    if not wait or not asset.versions:
        return asset
    # The client waits on the line, as for an upload: served in the same lane.
    await services.versions.render_pending(asset.id, lane=Lane.INGEST)
    return await services.assets.get(asset.id, actor)
