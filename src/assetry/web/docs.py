"""The interactive API documentation at /api/docs, working offline.

Swagger UI's files come from the `swagger-ui-bundle-v2` package installed with Assetry
and are served by the service itself: the page loads nothing from another origin (no
CDN), so it works on a machine without Internet access and under a strict
Content-Security-Policy (no inline script; Swagger UI's style attributes need inline
styles).
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException
from swagger_ui_bundle import swagger_ui_path

_BUNDLE = Path(str(swagger_ui_path))
PAGE = "/api/docs"
#: versioned (swagger-ui-5.31.0), so browsers may keep the files as long as they like
ASSETS = f"{PAGE}/{_BUNDLE.name}"
OPENAPI = "/api/openapi.json"
#: the only files of the bundle the page uses (its index.html points at a remote demo)
FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui-bundle.js.map", "swagger-ui.css",
                   "swagger-ui.css.map", "favicon-32x32.png"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

IMMUTABLE = "public, max-age=31536000, immutable"
_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Assetry API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{PAGE}/init.js"></script>
</body>
</html>
"""
_OPTIONS = {
    "url": OPENAPI, "dom_id": "#swagger-ui", "layout": "BaseLayout", "deepLinking": True,
    "showExtensions": True, "showCommonExtensions": True,
    "validatorUrl": None,  # the default badge asks a remote validator about the document
}
_INIT = f"""window.addEventListener("load", function () {{
  var options = {json.dumps(_OPTIONS)};
  options.presets = [SwaggerUIBundle.presets.apis];
  window.ui = SwaggerUIBundle(options);
}});
"""

router = APIRouter(include_in_schema=False)


@router.get(PAGE)
async def page() -> HTMLResponse:
    return HTMLResponse(_HTML, headers={"Content-Security-Policy": CSP})


@router.get(f"{PAGE}/init.js")
async def init_script() -> Response:
    return Response(_INIT, media_type="text/javascript")


@router.get(ASSETS + "/{name}")
async def bundle_file(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404, f"no documentation file {name!r}")
    return FileResponse(_BUNDLE / name, headers={"Cache-Control": IMMUTABLE})
