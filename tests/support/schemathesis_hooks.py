"""Schemathesis hooks for the fuzz test (loaded through SCHEMATHESIS_HOOKS).

tus PATCH bodies are `application/offset+octet-stream`: raw bytes, sent like
`application/octet-stream`, which schemathesis knows."""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
