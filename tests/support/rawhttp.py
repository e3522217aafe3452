"""Raw HTTP/1.1 over a socket, for requests httpx refuses to send (e.g. a header value
with trailing whitespace such as `Authorization: Bearer `)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class RawResponse:
    status_code: int
    headers: dict[str, str]  # lower-cased names; the last value wins
    content: bytes


def raw_request(base_url: str, method: str, path: str, *, extra_headers: list[tuple[str, str]],
                timeout: float = 30, **kwargs: Any) -> RawResponse:
    """Build the request with httpx (so `json=`, `files=`, `params=` work as usual), then
    send its bytes verbatim with `extra_headers` appended, and read the answer to EOF."""
    request = httpx.Request(method, base_url + path, **kwargs)
    body = request.read()
    split = urlsplit(base_url)
    assert split.hostname is not None and split.port is not None
    target = request.url.raw_path.decode("ascii")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {split.hostname}:{split.port}",
             "Connection: close"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()
              if k.lower() not in ("host", "connection")]
    lines += [f"{k}: {v}" for k, v in extra_headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection((split.hostname, split.port), timeout=timeout) as s:
        s.sendall(head + body)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    header_block, _, content = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, content)
