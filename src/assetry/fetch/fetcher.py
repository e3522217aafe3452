"""SafeFetcher: GET one URL for an import without letting it reach anything internal."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import anyio
import httpx

from assetry.domain.media import sanitize_filename
from assetry.domain.ports import Fetched, StagedFile
from assetry.errors import TooLarge, UnsafeUrl, UpstreamError, UpstreamTimeout
from assetry.fetch.policy import AddressPolicy, Target

#: host name and port -> the addresses (as strings) it resolves to
Resolver = Callable[[str, int], Awaitable[list[str]]]
#: receives the body's chunks; the spool, bound to the caller's size limit
Sink = Callable[[AsyncIterator[bytes]], Awaitable[StagedFile]]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Addresses tried per hop when connecting fails (a host may list IPv6 first on an
# IPv4-only machine); every resolved address was checked, so any of them may be used.
_MAX_ADDRESSES = 4
_CHUNK = 64 * 1024
# Closing is shielded from the total timeout (so nothing leaks), but bounded itself.
_CLOSE_GRACE = 2.0
_FILENAME_STAR = re.compile(
    r"""(?:^|;)\s*filename\*\s*=\s*([^';\s]*)'[^']*'([^;\s]*)""", re.IGNORECASE
)
_FILENAME = re.compile(r"""(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))""",
                       re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Body:
    staged: StagedFile
    content_type: str | None
    disposition: str | None


async def resolve(host: str, port: int) -> list[str]:
    """Every address (IPv4 and IPv6) `host` resolves to, without duplicates, in order."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class SafeFetcher:
    """Fetches http(s) URLs so that only addresses the policy allows are ever connected to.

    Per hop the host is resolved once, every resolved address is checked, and the socket
    connects to a checked address itself (the request carries the real Host header and,
    for https, the real name for SNI and certificate verification), so DNS rebinding
    between check and connect is impossible. Redirects are followed by hand, each one
    checked from scratch. No cookies, credentials, proxies or environment settings are
    ever used; bodies are requested unencoded so the size cap counts real bytes.
    """

    def __init__(
        self,
        policy: AddressPolicy = AddressPolicy(),
        *,
        connect_timeout: float = 5.0,
        total_timeout: float = 30.0,
        max_redirects: int = 5,
        user_agent: str = "Assetry/0.1 (+url-import)",
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`resolver` replaces DNS (tests, custom resolvers); `ssl_context` replaces the
        default verification (certifi's CAs, host names checked), e.g. for a private CA."""
        self._policy = policy
        self._timeout = httpx.Timeout(total_timeout, connect=connect_timeout)
        self._total_timeout = total_timeout
        self._max_redirects = max_redirects
        self._user_agent = user_agent
        self._resolve = resolver or resolve
        self._ssl_context = ssl_context

    @property
    def _ssl(self) -> ssl.SSLContext:
        # Made on first use: loading the CA bundle costs every serving process ~1.6 MB,
        # and most never import a URL.
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context(trust_env=False)
        return self._ssl_context

    async def fetch(self, url: str, *, limit: int, sink: Sink) -> Fetched:
        """GET `url` (following at most `max_redirects` redirects) into `sink`.

        Raises UnsafeUrl (the policy refuses a URL, address, port or the redirect count),
        UpstreamError (an error status after redirects, a redirect without Location, a
        Content-Encoding other than identity, a host that does not resolve, a refused
        or broken connection, a TLS failure), UpstreamTimeout (the connect timeout or
        the total timeout, which covers resolution, every hop and the whole body), and
        TooLarge (Content-Length over `limit`, checked before the body is read, or
        more than `limit` bytes arriving). `sink` is given only 2xx bodies; should
        anything fail after it returned, its file is removed, so every failure leaves
        nothing behind.
        """
        staged: StagedFile | None = None

        async def keeping(chunks: AsyncIterator[bytes]) -> StagedFile:
            nonlocal staged
            staged = await sink(chunks)
            return staged

        try:
            try:
                with anyio.fail_after(self._total_timeout):
                    return await self._follow(url, limit, keeping)
            except TimeoutError:
                raise UpstreamTimeout(
                    f"the remote server did not answer within {self._total_timeout:g} s"
                ) from None
        except BaseException:
            if staged is not None:
                # The same as Spool.discard; the fetcher only knows the sink.
                staged.path.unlink(missing_ok=True)
            raise

    async def _follow(self, url: str, limit: int, sink: Sink) -> Fetched:
        current = url
        for _hop in range(self._max_redirects + 1):
            target = self._policy.check_url(current)
            addresses = await self._addresses(target)
            outcome = await self._connect(target, addresses, limit, sink)
            if isinstance(outcome, _Body):
                return Fetched(
                    staged=outcome.staged,
                    filename=_filename(outcome.disposition, current),
                    content_type=outcome.content_type,
                    url=current,
                )
            current = urljoin(current, outcome)
        raise UnsafeUrl(f"more than {self._max_redirects} redirects")

    async def _addresses(self, target: Target) -> list[str]:
        """The checked addresses to connect to: one resolution, every answer checked."""
        if target.ip is not None:
            return [target.host]  # check_url has checked it already
        try:
            addresses = await self._resolve(target.host, target.port)
        except OSError as exc:
            raise UpstreamError(f"{target.host} could not be resolved: {exc}") from None
        if not addresses:
            raise UpstreamError(f"{target.host} resolves to no address")
        for address in addresses:
            # One bad answer refuses the host: which address gets used is not ours to pick.
            if (reason := self._policy.check_address(address)) is not None:
                raise UnsafeUrl(f"{target.host} resolves to {address}, {reason}")
        return addresses

    async def _connect(
        self, target: Target, addresses: Sequence[str], limit: int, sink: Sink
    ) -> _Body | str:
        """The staged body, or the Location of a redirect; tries addresses in turn."""
        failure: httpx.ConnectError | None = None
        for address in addresses[:_MAX_ADDRESSES]:
            try:
                return await self._exchange(target, address, limit, sink)
            except httpx.ConnectError as exc:
                failure = exc
        raise UpstreamError(f"could not connect to {target.host}: {failure}")

    async def _exchange(
        self, target: Target, address: str, limit: int, sink: Sink
    ) -> _Body | str:
        """One request to one checked address. Raises httpx.ConnectError when connecting
        (or the TLS handshake) fails; every other failure as a domain error."""
        host = f"[{address}]" if ":" in address else address
        try:
            request = httpx.Request(
                "GET",
                f"{target.scheme}://{host}:{target.port}{target.path}",
                headers={
                    # Exactly these: no Cookie, Authorization or Proxy-* header is ever sent.
                    "Host": target.authority,
                    "User-Agent": self._user_agent,
                    "Accept": "*/*",
                    "Accept-Encoding": "identity",
                    "Connection": "close",
                },
                # The socket connects to `address`; TLS sends and verifies the real name.
                extensions={"timeout": self._timeout.as_dict(), "sni_hostname": target.host},
            )
        except httpx.InvalidURL as exc:
            raise UnsafeUrl(f"the URL cannot be requested: {exc}") from None
        # A fresh client per hop: no cookie jar or pooled connection (whose TLS session
        # was verified for another name) carries over; trust_env=False ignores proxy
        # variables, netrc and SSL_CERT_FILE.
        client = httpx.AsyncClient(
            verify=self._ssl, trust_env=False, follow_redirects=False, timeout=self._timeout
        )
        try:
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectError:
                raise
            except httpx.TimeoutException:
                raise UpstreamTimeout(f"{target.host} did not answer in time") from None
            except httpx.HTTPError as exc:
                raise UpstreamError(f"the request to {target.host} failed: {exc}") from None
            try:
                return await self._receive(response, target, limit, sink)
            except httpx.TimeoutException:
                raise UpstreamTimeout(f"{target.host} stopped sending in time") from None
            except httpx.HTTPError as exc:
                raise UpstreamError(f"reading from {target.host} failed: {exc}") from None
            finally:
                with anyio.move_on_after(_CLOSE_GRACE, shield=True):
                    await response.aclose()
        finally:
            with anyio.move_on_after(_CLOSE_GRACE, shield=True):
                await client.aclose()

    async def _receive(
        self, response: httpx.Response, target: Target, limit: int, sink: Sink
    ) -> _Body | str:
        status = response.status_code
        if status in _REDIRECTS:
            location = str(response.headers.get("location", "")).strip()
            if not location:
                raise UpstreamError(f"{target.host} redirected without a Location", status=status)
            return location
        if not 200 <= status < 300:
            raise UpstreamError(
                f"the remote server answered {status} {response.reason_phrase}".rstrip(),
                status=status,
            )
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            # Only an unencoded body lets the size cap count what is stored; a compressed
            # one could inflate far past it. We asked for identity, so this is an error.
            raise UpstreamError(f"the remote server sent a {encoding}-encoded body")
        declared = response.headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise TooLarge(
                f"the body is {declared} bytes; at most {limit} are accepted",
                limit=limit,
                size=int(declared),
            )
        async with aclosing(_capped(response.aiter_raw(_CHUNK), limit)) as chunks:
            staged = await sink(chunks)
        return _Body(
            staged,
            content_type=response.headers.get("content-type"),
            disposition=response.headers.get("content-disposition"),
        )


async def _capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    """`chunks`, raising TooLarge past `limit` even if the sink does not count."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"the body is larger than {limit} bytes; at most {limit} are accepted",
                limit=limit,
            )
        yield chunk


def _filename(disposition: str | None, url: str) -> str:
    """Content-Disposition's filename* (RFC 6266/5987), else its filename, else the last
    segment of the URL path, percent-decoded; sanitised, "download" when none is usable."""
    raw: str | None = None
    if disposition:
        if (star := _FILENAME_STAR.search(disposition)) is not None:
            charset = star.group(1).lower() or "utf-8"
            try:
                raw = unquote(star.group(2), encoding=charset, errors="replace")
            except LookupError:  # a charset Python does not know
                raw = None
        if not raw and (plain := _FILENAME.search(disposition)) is not None:
            quoted, token = plain.group(1), plain.group(2)
            raw = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
    if not raw:
        raw = unquote(urlsplit(url).path.rsplit("/", 1)[-1], errors="replace")
    return sanitize_filename(raw, fallback="download")
