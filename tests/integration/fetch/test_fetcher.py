"""SafeFetcher against real HTTP(S) servers on 127.0.0.1: redirects, rebinding, limits.

Each server is a ThreadingHTTPServer on a random free port whose routes are plain
functions; it records every request it sees, so tests can assert what reached it (and
what never did). Handlers wait at most a few seconds on anything, so no thread outlives
its test by much.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assetry.blobs.spool import DiskSpool
from assetry.domain.ports import StagedFile
from assetry.errors import TooLarge, UnsafeUrl, UpstreamError, UpstreamTimeout
from assetry.fetch.fetcher import Fetched, SafeFetcher, Sink
from assetry.fetch.policy import AddressPolicy

# Longest any handler blocks: bounds every server thread.
HANDLER_WAIT = 5.0
LIMIT = 1024 * 1024

Route = Callable[["Handler"], None]


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return any(k.lower() == name.lower() for k, _ in self.headers)


@dataclass
class Server:
    """A test HTTP server: routes by path (without query), records what it sees."""

    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    httpd: ThreadingHTTPServer | None = None
    scheme: str = "http"

    @property
    def port(self) -> int:
        assert self.httpd is not None
        return int(self.httpd.server_address[1])

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: Server

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hang up mid-body on purpose here (TooLarge, timeouts): not a failure.
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = HANDLER_WAIT  # socket timeout: a silent client cannot pin a thread
    server: _HTTPServer

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.seen.append(Seen(self.path, list(self.headers.items())))
        route = owner.routes.get(self.path.split("?", 1)[0])
        if route is None:
            reply(self, 404, b"not found")
        else:
            route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


def reply(
    handler: Handler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def body(data: bytes, **headers: str) -> Route:
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    return lambda h: reply(h, 200, data, extra)


def redirect(location: str, status: int = 302, **headers: str) -> Route:
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    return lambda h: reply(h, status, b"", {"Location": location, **extra})


def never_answer(handler: Handler) -> None:
    handler.server.owner.release.wait(HANDLER_WAIT)
    handler.close_connection = True


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start servers on 127.0.0.1 (random free ports); all are stopped after the test."""
    started: list[tuple[Server, threading.Thread]] = []

    def start(routes: dict[str, Route] | None = None, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(routes=dict(routes or {}))
        httpd = _HTTPServer(("127.0.0.1", 0), Handler)
        httpd.owner = server
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: server.sni.append(name)
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
            server.scheme = "https"
        server.httpd = httpd
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.release.set()
        assert server.httpd is not None
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=HANDLER_WAIT)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def spool_sink(directory: Path, limit: int = LIMIT) -> Sink:
    spool = DiskSpool(directory)

    async def sink(chunks: AsyncIterator[bytes]) -> StagedFile:
        return await spool.receive(chunks, limit=limit)

    return sink


def spooled(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


def loopback(*servers: Server) -> AddressPolicy:
    """Loopback allowed, on these servers' ports only."""
    return AddressPolicy(
        allow_loopback=True, allowed_ports=frozenset(server.port for server in servers)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StubResolver:
    """Answers from a table (or a sequence of answers per name); records every call."""

    answers: dict[str, list[list[str]]]
    calls: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answers = self.answers[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


# --- the happy path ---------------------------------------------------------------------


async def test_body_is_streamed_into_the_spool(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    data = os.urandom(300_000)
    server = serve({"/photos/cat%20pic.jpg": body(data, Content_Type="image/jpeg")})
    fetcher = SafeFetcher(loopback(server))

    fetched = await fetcher.fetch(
        server.url("/photos/cat%20pic.jpg?size=big"), limit=LIMIT, sink=spool_sink(spool_dir)
    )

    assert fetched.staged.size == len(data)
    assert fetched.staged.sha256 == hashlib.sha256(data).hexdigest()
    assert fetched.staged.path.read_bytes() == data
    assert fetched.staged.path.parent == spool_dir
    assert fetched.filename == "cat pic.jpg"
    assert fetched.content_type == "image/jpeg"
    assert fetched.url == server.url("/photos/cat%20pic.jpg?size=big")
    [seen] = server.seen
    assert seen.path == "/photos/cat%20pic.jpg?size=big"
    assert seen.header("Host") == f"127.0.0.1:{server.port}"
    assert seen.header("Accept-Encoding") == "identity"
    assert seen.header("User-Agent") == "Assetry/0.1 (+url-import)"
    for name in ("Cookie", "Authorization", "Proxy-Authorization"):
        assert not seen.has(name)


async def test_exactly_the_limit_is_accepted(serve: Callable[..., Server], spool_dir: Path) -> None:
    server = serve({"/a.bin": body(b"x" * 1000)})

    fetched = await SafeFetcher(loopback(server)).fetch(
        server.url("/a.bin"), limit=1000, sink=spool_sink(spool_dir, 1000)
    )

    assert fetched.staged.size == 1000


@pytest.mark.parametrize(
    ("path", "disposition", "filename"),
    [
        ("/get", 'attachment; filename="report.pdf"', "report.pdf"),
        ("/get", "attachment; filename=plain.png", "plain.png"),
        (
            "/get",
            "attachment; filename*=UTF-8''na%C3%AFve%20photo.jpg; filename=\"fallback.jpg\"",
            "naïve photo.jpg",
        ),
        ("/get", "attachment; filename=\"fallback.jpg\"; filename*=utf-8''%E2%82%AC.jpg", "€.jpg"),
        ("/get", 'attachment; filename="../../etc/passwd"', "passwd"),
        ("/get", 'attachment; filename="a\\"b.txt"', "a_b.txt"),
        ("/img/from-path.webp", "inline", "from-path.webp"),
        ("/img/from-path.webp", None, "from-path.webp"),
        ("/img/..%2F..%2Fsecret.txt", None, "secret.txt"),
        ("/", None, "download"),
    ],
)
async def test_filename_from_disposition_or_path(
    serve: Callable[..., Server],
    spool_dir: Path,
    path: str,
    disposition: str | None,
    filename: str,
) -> None:
    headers = {} if disposition is None else {"Content_Disposition": disposition}
    server = serve({path: body(b"data", **headers)})

    fetched = await SafeFetcher(loopback(server)).fetch(
        server.url(path), limit=LIMIT, sink=spool_sink(spool_dir)
    )

    assert fetched.filename == filename
    assert fetched.content_type is None


# --- redirects ----------------------------------------------------------------------------


async def test_redirect_chain_of_three_is_followed(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    second = serve({"/two": redirect("/three?x=1", 307), "/final.gif": body(b"GIF89a")})
    first = serve(
        {
            "/one": redirect(second.url("/two"), 301),
        }
    )
    second.routes["/three"] = redirect("final.gif", 308)

    fetched = await SafeFetcher(loopback(first, second)).fetch(
        first.url("/one"), limit=LIMIT, sink=spool_sink(spool_dir)
    )

    assert fetched.url == second.url("/final.gif")
    assert fetched.filename == "final.gif"
    assert fetched.staged.path.read_bytes() == b"GIF89a"
    assert [s.path for s in first.seen] == ["/one"]
    assert [s.path for s in second.seen] == ["/two", "/three?x=1", "/final.gif"]
    assert second.seen[0].header("Host") == f"127.0.0.1:{second.port}"


def _redirect_chain(server: Server, hops: int) -> None:
    for hop in range(hops):
        server.routes[f"/hop/{hop}"] = redirect(f"/hop/{hop + 1}")
    server.routes[f"/hop/{hops}"] = body(b"end")


async def test_five_redirects_are_followed(serve: Callable[..., Server], spool_dir: Path) -> None:
    server = serve()
    _redirect_chain(server, 5)

    fetched = await SafeFetcher(loopback(server)).fetch(
        server.url("/hop/0"), limit=LIMIT, sink=spool_sink(spool_dir)
    )

    assert fetched.url == server.url("/hop/5")
    assert len(server.seen) == 6


async def test_six_redirects_are_refused(serve: Callable[..., Server], spool_dir: Path) -> None:
    server = serve()
    _redirect_chain(server, 6)

    with pytest.raises(UnsafeUrl, match="more than 5 redirects"):
        await SafeFetcher(loopback(server)).fetch(
            server.url("/hop/0"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert [s.path for s in server.seen] == [f"/hop/{hop}" for hop in range(6)]
    assert spooled(spool_dir) == []


async def test_redirect_to_a_port_not_allowed_is_refused(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    other = serve({"/x": body(b"secret")})
    server = serve({"/": redirect(other.url("/x"))})

    with pytest.raises(UnsafeUrl, match=f"port {other.port}"):
        await SafeFetcher(loopback(server)).fetch(
            server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert other.seen == []
    assert spooled(spool_dir) == []


async def test_redirect_to_a_name_resolving_to_a_private_address_is_refused(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    server = serve()
    server.routes["/"] = redirect(f"http://evil.test:{server.port}/x")
    resolver = StubResolver({"evil.test": [["10.0.0.1"]]})

    with pytest.raises(UnsafeUrl, match=r"evil\.test resolves to 10\.0\.0\.1, a private address"):
        await SafeFetcher(loopback(server), resolver=resolver).fetch(
            server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert resolver.calls == [("evil.test", server.port)]
    assert [s.path for s in server.seen] == ["/"]


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://0xa9fea9fe/latest/meta-data/",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1/",
    ],
)
async def test_redirect_to_a_refused_url_is_refused(
    serve: Callable[..., Server], spool_dir: Path, location: str
) -> None:
    server = serve({"/": redirect(location)})
    policy = AddressPolicy(allow_loopback=True, allowed_ports=frozenset({server.port, 80}))

    with pytest.raises(UnsafeUrl):
        await SafeFetcher(policy).fetch(server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir))

    assert spooled(spool_dir) == []


async def test_redirect_without_location_is_an_upstream_error(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    server = serve({"/": lambda h: reply(h, 302)})

    with pytest.raises(UpstreamError) as caught:
        await SafeFetcher(loopback(server)).fetch(
            server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert caught.value.status == 302


# --- DNS: resolved once per hop, every answer checked, the checked address connected ----


async def test_dns_rebinding_cannot_swap_the_address(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    server = serve()

    def only_for_rebind(handler: Handler) -> None:
        ok = handler.headers.get("Host") == f"rebind.test:{server.port}"
        reply(handler, 200 if ok else 400, b"image")

    server.routes["/img.png"] = only_for_rebind
    # A second lookup would answer 10.0.0.1: it must never happen.
    resolver = StubResolver({"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]})
    url = f"http://rebind.test:{server.port}/img.png"

    fetched = await SafeFetcher(loopback(server), resolver=resolver).fetch(
        url, limit=LIMIT, sink=spool_sink(spool_dir)
    )

    assert fetched.staged.path.read_bytes() == b"image"
    assert fetched.url == url
    assert resolver.calls == [("rebind.test", server.port)]
    [seen] = server.seen
    assert seen.header("Host") == f"rebind.test:{server.port}"


async def test_each_hop_is_resolved_and_checked_again(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    server = serve()
    server.routes["/first"] = redirect(f"http://rebind.test:{server.port}/second")
    server.routes["/second"] = body(b"secret")
    resolver = StubResolver({"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]})

    with pytest.raises(UnsafeUrl, match=r"10\.0\.0\.1"):
        await SafeFetcher(loopback(server), resolver=resolver).fetch(
            f"http://rebind.test:{server.port}/first", limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert resolver.calls == [("rebind.test", server.port)] * 2
    assert [s.path for s in server.seen] == ["/first"]
    assert spooled(spool_dir) == []


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1", "10.0.0.1"],
        ["10.0.0.1", "127.0.0.1"],
        ["127.0.0.1", "::ffff:169.254.169.254"],
        ["127.0.0.1", "fd00:ec2::254"],
    ],
)
async def test_one_bad_answer_refuses_the_host(
    serve: Callable[..., Server], spool_dir: Path, answer: list[str]
) -> None:
    server = serve({"/": body(b"x")})
    resolver = StubResolver({"mixed.test": [answer]})

    with pytest.raises(UnsafeUrl, match=r"mixed\.test resolves to"):
        await SafeFetcher(loopback(server), resolver=resolver).fetch(
            f"http://mixed.test:{server.port}/", limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert server.seen == []


async def test_public_and_private_answers_are_refused(spool_dir: Path) -> None:
    resolver = StubResolver({"cdn.test": [["93.184.216.34", "192.168.0.10"]]})

    with pytest.raises(UnsafeUrl, match=r"192\.168\.0\.10, a private address"):
        await SafeFetcher(resolver=resolver).fetch(
            "https://cdn.test/a.jpg", limit=LIMIT, sink=spool_sink(spool_dir)
        )


async def test_a_name_that_does_not_resolve_is_an_upstream_error(spool_dir: Path) -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def empty(host: str, port: int) -> list[str]:
        return []

    for resolver in (failing, empty):
        with pytest.raises(UpstreamError) as caught:
            await SafeFetcher(resolver=resolver).fetch(
                "https://nowhere.test/", limit=LIMIT, sink=spool_sink(spool_dir)
            )
        assert caught.value.status is None


async def test_default_resolver_answers_for_localhost(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    server = serve({"/": body(b"x")})

    # localhost resolves (with the real resolver) to loopback: refused by a strict policy.
    with pytest.raises(UnsafeUrl, match=r"localhost resolves to .*loopback"):
        await SafeFetcher(AddressPolicy(allowed_ports=frozenset({server.port}))).fetch(
            server.url("/", host="localhost"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert server.seen == []


# --- upstream failures ------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500, 403, 304])
async def test_error_status_is_an_upstream_error(
    serve: Callable[..., Server], spool_dir: Path, status: int
) -> None:
    server = serve({"/": lambda h: reply(h, status, b"error page")})

    with pytest.raises(UpstreamError) as caught:
        await SafeFetcher(loopback(server)).fetch(
            server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert caught.value.status == status
    assert str(status) in caught.value.message
    assert spooled(spool_dir) == []


async def test_unknown_path_is_404(serve: Callable[..., Server], spool_dir: Path) -> None:
    server = serve()

    with pytest.raises(UpstreamError) as caught:
        await SafeFetcher(loopback(server)).fetch(
            server.url("/missing.jpg"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert caught.value.status == 404


async def test_server_that_never_answers_times_out(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    server = serve({"/": never_answer})
    started = time.monotonic()

    with pytest.raises(UpstreamTimeout):
        await SafeFetcher(loopback(server), total_timeout=0.5).fetch(
            server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert time.monotonic() - started < 3.0
    assert spooled(spool_dir) == []


async def test_slow_body_times_out_and_leaves_nothing(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    def trickle(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.write(b"x" * 1000)
        handler.wfile.flush()
        never_answer(handler)

    server = serve({"/": trickle})
    started = time.monotonic()

    with pytest.raises(UpstreamTimeout):
        await SafeFetcher(loopback(server), total_timeout=0.5).fetch(
            server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert time.monotonic() - started < 3.0
    assert spooled(spool_dir) == []


async def test_slow_resolver_times_out(spool_dir: Path) -> None:
    import anyio

    async def hanging(host: str, port: int) -> list[str]:
        await anyio.sleep(10)
        return ["93.184.216.34"]

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await SafeFetcher(resolver=hanging, total_timeout=0.3).fetch(
            "https://slow.test/", limit=LIMIT, sink=spool_sink(spool_dir)
        )
    assert time.monotonic() - started < 3.0


async def test_connection_refused_is_an_upstream_error(spool_dir: Path) -> None:
    port = free_port()  # nothing listens there any more
    policy = AddressPolicy(allow_loopback=True, allowed_ports=frozenset({port}))

    with pytest.raises(UpstreamError) as caught:
        await SafeFetcher(policy).fetch(
            f"http://127.0.0.1:{port}/", limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert caught.value.status is None


async def test_connection_closed_mid_body_is_an_upstream_error(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    def short(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "5000")
        handler.end_headers()
        handler.wfile.write(b"x" * 100)
        handler.close_connection = True

    server = serve({"/": short})

    with pytest.raises(UpstreamError):
        await SafeFetcher(loopback(server)).fetch(
            server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert spooled(spool_dir) == []


# --- size and encoding --------------------------------------------------------------------


async def test_content_length_over_the_limit_is_refused_before_reading(
    serve: Callable[..., Server],
) -> None:
    def huge(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "10000000")
        handler.end_headers()
        handler.wfile.write(b"x" * 1000)
        handler.wfile.flush()
        never_answer(handler)

    server = serve({"/": huge})
    sink_calls = 0

    async def sink(chunks: AsyncIterator[bytes]) -> StagedFile:
        nonlocal sink_calls
        sink_calls += 1
        raise AssertionError("the body must not be read")

    started = time.monotonic()
    with pytest.raises(TooLarge) as caught:
        await SafeFetcher(loopback(server), total_timeout=5).fetch(
            server.url("/"), limit=1000, sink=sink
        )

    assert time.monotonic() - started < 2.0
    assert caught.value.size == 10_000_000
    assert caught.value.limit == 1000
    assert sink_calls == 0


def _chunked(handler: Handler, chunks: int, size: int, **headers: str) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    for _ in range(chunks):
        handler.wfile.write(b"%x\r\n%s\r\n" % (size, b"y" * size))
    handler.wfile.write(b"0\r\n\r\n")


async def test_chunked_body_over_the_limit_leaves_nothing(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    server = serve({"/": lambda h: _chunked(h, chunks=20, size=4096)})

    with pytest.raises(TooLarge):
        await SafeFetcher(loopback(server)).fetch(
            server.url("/"), limit=10_000, sink=spool_sink(spool_dir, 10_000)
        )

    assert spooled(spool_dir) == []


async def test_chunked_body_within_the_limit(serve: Callable[..., Server], spool_dir: Path) -> None:
    server = serve({"/a.bin": lambda h: _chunked(h, chunks=5, size=1000)})

    fetched = await SafeFetcher(loopback(server)).fetch(
        server.url("/a.bin"), limit=10_000, sink=spool_sink(spool_dir, 10_000)
    )

    assert fetched.staged.size == 5000


async def test_the_fetcher_caps_even_a_sink_that_does_not_count(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve({"/": lambda h: _chunked(h, chunks=20, size=4096)})
    received = 0

    async def careless(chunks: AsyncIterator[bytes]) -> StagedFile:
        nonlocal received
        async for chunk in chunks:
            received += len(chunk)
        return StagedFile(path=tmp_path / "never", size=received, sha256="")

    with pytest.raises(TooLarge):
        await SafeFetcher(loopback(server)).fetch(server.url("/"), limit=10_000, sink=careless)

    assert received <= 10_000


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "x-custom"])
async def test_encoded_body_is_refused(
    serve: Callable[..., Server], spool_dir: Path, encoding: str
) -> None:
    server = serve({"/": body(b"\x1f\x8b" + b"\0" * 100, Content_Encoding=encoding)})

    with pytest.raises(UpstreamError, match=f"{encoding}-encoded"):
        await SafeFetcher(loopback(server)).fetch(
            server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert server.seen[0].header("Accept-Encoding") == "identity"
    assert spooled(spool_dir) == []


async def test_identity_encoding_is_accepted(serve: Callable[..., Server], spool_dir: Path) -> None:
    server = serve({"/": body(b"plain", Content_Encoding="identity")})

    fetched = await SafeFetcher(loopback(server)).fetch(
        server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
    )

    assert fetched.staged.size == 5


# --- nothing of ours is sent ----------------------------------------------------------------


async def test_cookies_set_on_one_hop_are_never_sent(
    serve: Callable[..., Server], spool_dir: Path
) -> None:
    second = serve({"/end": body(b"ok")})
    first = serve()
    cookie = "sid=secret; Path=/"
    first.routes["/start"] = redirect("/again", Set_Cookie=cookie)
    first.routes["/again"] = redirect(second.url("/end"), Set_Cookie="other=1; Domain=127.0.0.1")

    await SafeFetcher(loopback(first, second)).fetch(
        first.url("/start"), limit=LIMIT, sink=spool_sink(spool_dir)
    )

    seen = first.seen + second.seen
    assert [s.path for s in seen] == ["/start", "/again", "/end"]
    for request in seen:
        for name in ("Cookie", "Authorization", "Proxy-Authorization"):
            assert not request.has(name), (request.path, name)


async def test_proxy_environment_is_ignored(
    serve: Callable[..., Server], spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve({"/": body(b"direct")})
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    fetched = await SafeFetcher(loopback(server)).fetch(
        server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir)
    )

    assert fetched.staged.path.read_bytes() == b"direct"


# --- the strict default policy -------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (None, "port"),
        ("ports-only", "loopback"),
    ],
)
async def test_strict_policy_refuses_loopback_and_stores_nothing(
    serve: Callable[..., Server], spool_dir: Path, policy: str | None, reason: str
) -> None:
    server = serve({"/": body(b"internal")})
    fetcher = (
        SafeFetcher()
        if policy is None
        else SafeFetcher(AddressPolicy(allowed_ports=frozenset({server.port})))
    )

    with pytest.raises(UnsafeUrl, match=reason) as caught:
        await fetcher.fetch(server.url("/"), limit=LIMIT, sink=spool_sink(spool_dir))

    assert caught.value.field == "url"
    assert server.seen == []
    assert spooled(spool_dir) == []


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[::1]"]
)
async def test_other_spellings_of_loopback_are_refused(
    serve: Callable[..., Server], spool_dir: Path, host: str
) -> None:
    server = serve({"/": body(b"internal")})
    fetcher = SafeFetcher(AddressPolicy(allowed_ports=frozenset({server.port})))

    with pytest.raises(UnsafeUrl):
        await fetcher.fetch(
            f"http://{host}:{server.port}/", limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert server.seen == []


# --- TLS: the socket goes to the checked IP, the certificate is checked for the name -----


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=tls.test", "-addext", "subjectAltName=DNS:tls.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
def tls_server(serve: Callable[..., Server], certificate: tuple[Path, Path]) -> Server:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return serve({"/a.jpg": body(b"over tls")}, tls=context)


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


async def test_tls_verifies_the_real_name_on_the_checked_address(
    tls_server: Server, client_tls: ssl.SSLContext, spool_dir: Path
) -> None:
    resolver = StubResolver({"tls.test": [["127.0.0.1"]]})
    fetcher = SafeFetcher(loopback(tls_server), resolver=resolver, ssl_context=client_tls)

    fetched: Fetched = await fetcher.fetch(
        tls_server.url("/a.jpg", host="tls.test"), limit=LIMIT, sink=spool_sink(spool_dir)
    )

    assert fetched.staged.path.read_bytes() == b"over tls"
    assert tls_server.sni == ["tls.test"]
    assert tls_server.seen[0].header("Host") == f"tls.test:{tls_server.port}"
    assert resolver.calls == [("tls.test", tls_server.port)]


@pytest.mark.parametrize("host", ["127.0.0.1", "other.test"])
async def test_tls_refuses_a_certificate_for_another_name(
    tls_server: Server, client_tls: ssl.SSLContext, spool_dir: Path, host: str
) -> None:
    resolver = StubResolver({"other.test": [["127.0.0.1"]]})
    fetcher = SafeFetcher(loopback(tls_server), resolver=resolver, ssl_context=client_tls)

    with pytest.raises(UpstreamError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        await fetcher.fetch(
            tls_server.url("/a.jpg", host=host), limit=LIMIT, sink=spool_sink(spool_dir)
        )

    assert tls_server.seen == []
    assert spooled(spool_dir) == []
