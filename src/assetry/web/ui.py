"""The web UI at `/`: one HTML page and its ES modules and stylesheet, served from the
package (src/assetry/web/ui/), written by hand: no node toolchain builds or runs it.

The page talks to the service only through the public HTTP API, with the bearer token
the user signs in with kept in the tab's sessionStorage (never a cookie). Its files are
served under `/ui/{build}/`, where `build` is a digest of all of them: the URLs change
whenever a file does, so browsers may keep them for a year, and the page itself is
revalidated on every load. It runs under a strict Content-Security-Policy: scripts,
styles, requests and images only from this origin (plus `blob:`/`data:` images for
previews and placeholders), no inline script or style, no frames, no form posts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

_ROOT = Path(__file__).with_name("ui")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml"}
#: every file the page may load, by its path under ui/ (read once: they are small)
FILES: dict[str, bytes] = {
    path.relative_to(_ROOT).as_posix(): path.read_bytes()
    for path in sorted(_ROOT.rglob("*")) if path.is_file() and path.suffix in _TYPES
}
BUILD = hashlib.sha256(b"".join(
    name.encode() + b"\0" + data + b"\0" for name, data in FILES.items())).hexdigest()[:16]
ASSETS = f"/ui/{BUILD}"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data: blob:; connect-src 'self'; manifest-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_IMMUTABLE = "public, max-age=31536000, immutable"


def page_html() -> str:
    """index.html with the build's asset path filled in, and every module preloaded so the
    browser fetches them in parallel rather than import by import."""
    preload = "\n".join(f'<link rel="modulepreload" href="{ASSETS}/{name}">'
                        for name in FILES if name.endswith(".js") and name != "main.js")
    html = (_ROOT / "index.html").read_text(encoding="utf-8")
    return html.replace("{{assets}}", ASSETS).replace("{{preload}}", preload)


_HTML = page_html()

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> HTMLResponse:
    return HTMLResponse(_HTML, headers=_PAGE_HEADERS)


@router.get("/ui/{build}/{name:path}")
async def ui_file(build: str, name: str) -> Response:
    """A file of this build; another build's URL is 404 (the page that asked is stale and
    a reload fixes it), never the wrong bytes under an immutable URL."""
    data = FILES.get(name)
    if build != BUILD or data is None:
        raise HTTPException(404, f"no UI file {name!r} in build {build!r}")
    return Response(data, media_type=_TYPES[Path(name).suffix],
                     headers={"Cache-Control": _IMMUTABLE})
