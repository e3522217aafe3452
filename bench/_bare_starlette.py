"""The ceiling for a Python process: bare Starlette serving one file with FileResponse."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route

PATH = os.environ["BENCH_FILE"]


async def serve(request: object) -> FileResponse:
    return FileResponse(PATH, media_type="image/jpeg")


app = Starlette(routes=[Route("/file", serve)])
