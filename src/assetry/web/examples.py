"""Example bodies for the OpenAPI document, by operation id, shaped as the service really
answers (a test checks each against its schema). One photo runs through them: uploaded,
rendered, listed, in its gallery."""

from __future__ import annotations

from typing import Any

_ID = "a1725a73-cb35-4960-a7b3-9d85e778e858"
_URL = f"/api/assets/{_ID}"
_AT = "2026-11-22T02:27:48.729Z"


def _version(name: str, version_id: str, *, ready: bool, side: int, size: int,
             digest: str) -> dict[str, Any]:
    return {
        "id": version_id, "url": f"{_URL}/versions/{name}" + (f"?v={digest}" if ready else ""),
        "width": side if ready else None, "height": side if ready else None,
        "mime_type": "image/jpeg" if ready else None, "size": size if ready else None,
        "status": "ready" if ready else "pending", "created_at": _AT, "error": None,
        "formats": None, "srcset": None,
    }


def _asset(*, ready: bool) -> dict[str, Any]:
    return {
        "id": _ID, "pool": "default", "type": "image", "filename": "photo.jpg",
        "mime_type": "image/jpeg", "size": 4686206,
        "sha256": "4c011d0d4fdb4e6c0a1ffe4a4f5e1f7d0b6c9f0b2a0e3c1d5e7f9a1b3c5fe3ffd5d0",
        "width": 4000, "height": 3000, "gallery": "trip-2026", "converter": "default",
        "metadata": {"alt": "elephants"}, "attached_to": [], "hidden": False,
        "creator": "editor", "modified_by": "editor", "created_at": _AT, "modified_at": _AT,
        "url": _URL, "content_url": f"{_URL}/content?v=4c011d0d4fdb4e6c",
        "versions": {
            "detail": _version("detail", "208cdc6b-5f0e-4f7c-9a35-2f1d5b0c8e11", ready=ready,
                               side=800, size=175491, digest="815c1dab7461a0c2"),
            "thumbnail": _version("thumbnail", "191d0faf-0b7e-4d8e-8f43-6c2b9e7a1d22",
                                  ready=ready, side=100, size=3949, digest="2d3b99e07c1f4a58"),
        },
        "placeholder": {"thumbhash": "4cYJFYJ5d4iPeHh4mId4eJhv1/tz",
                        "blurhash": "LPDTq_xvn$bK~qozoday%LWVoftQ", "color": "#506f8f"},
    }


#: GET /api/assets/{id} once the versions are rendered
ASSET = _asset(ready=True)

#: POST /api/pools/{pool}/assets without `wait`: stored, versions still pending
UPLOADED = {**_asset(ready=False), "updated_resources": {
    "created": [_URL, f"{_URL}/versions/detail", f"{_URL}/versions/thumbnail"],
    "modified": [], "removed": [], "changed_descendants": ["/api/pools/default"],
}, "duplicate_of": None}

#: GET /api/pools/{pool}/assets
PAGE = {"items": [ASSET], "next_cursor": "MjAyNi0xMS0yMlQwMjoyNzo0OC43MjlafGExNzI1YTcz"}

#: GET /api/galleries/{gallery_id}
GALLERY = {"id": "trip-2026", "images": [ASSET]}

#: PUT /api/converters/{name}: the request, and the stored converter it answers
CONVERTER_REQUEST = {"versions": [
    {"name": "square", "width": 300, "height": 300, "format": "webp", "quality": 70,
     "operations": [{"op": "grayscale"}]},
    {"name": "banner", "width": 1200, "height": 400, "gravity": "focal", "format": "auto",
     "widths": [600, 1200]},
]}
CONVERTER = {"name": "cards", "versions": [
    {"name": "square", "width": 300, "height": 300, "fit": "cover", "gravity": "centre",
     "format": "webp", "quality": 70, "upscale": False, "operations": [{"op": "grayscale"}],
     "widths": [], "source": None},
    {"name": "banner", "width": 1200, "height": 400, "fit": "cover", "gravity": "focal",
     "format": "auto", "quality": 80, "upscale": False, "operations": [],
     "widths": [600, 1200], "source": None},
]}

#: (operation id, status) -> an example body of that answer
RESPONSES: dict[tuple[str, int], Any] = {
    ("uploadAsset", 201): UPLOADED,
    ("getAsset", 200): ASSET,
    ("listAssets", 200): PAGE,
    ("getGallery", 200): GALLERY,
    ("createOrReplaceConverter", 201): CONVERTER,
    ("createOrReplaceConverter", 200): CONVERTER,
}
#: operation id -> an example JSON request body
REQUESTS: dict[str, Any] = {
    "createOrReplaceConverter": CONVERTER_REQUEST,
}
