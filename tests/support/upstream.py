"""A tiny real HTTP server on 127.0.0.1 standing in for a remote site in import tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: path -> (status, headers, body); a callable body is called with the handler
Route = tuple[int, dict[str, str], bytes]


@contextmanager
def upstream(routes: dict[str, Route | Callable[[BaseHTTPRequestHandler], None]]
             ) -> Iterator[tuple[str, int, list[dict[str, str]]]]:
    """Serve `routes`; yield (base URL, port, the headers of every request received)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404)
                return
            if callable(route):
                route(self)
                return
            status, headers, body = route
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.server_port, seen
    finally:
        server.shutdown()
        server.server_close()
