"""Which URLs and which IP addresses a URL import may reach."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import NamedTuple
from urllib.parse import urlsplit

from assetry.errors import UnsafeUrl

IPAddress = IPv4Address | IPv6Address

#: longer URLs are refused outright (the same bound browsers and most servers apply)
MAX_URL_LENGTH = 2048
DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}

# Whitespace and control characters are stripped or reinterpreted differently by every
# URL parser, and WHATWG parsers read "\" as "/": refusing them removes parser confusion.
_CONFUSING = re.compile(r"[\x00-\x20\x7f\\]")
_LABEL = r"[a-z0-9_-]{1,63}"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")
# A last label that is a number makes a WHATWG parser (and inet_aton) read the whole
# host as an IPv4 address: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
_NUMERIC_LABEL = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)")

_V4_REFUSED: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        # Specific entries first: the first match gives the reason.
        ("0.0.0.0/32", "the unspecified address"),
        ("0.0.0.0/8", "a 'this network' address"),
        ("169.254.169.254/32", "a cloud metadata address"),
        ("100.100.100.200/32", "a cloud metadata address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("100.64.0.0/10", "a shared (CGNAT) address"),
        ("169.254.0.0/16", "a link-local address"),
        ("192.0.0.0/24", "an IETF protocol assignment"),
        ("192.0.2.0/24", "a documentation address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)

_V6_REFUSED: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("fd00:ec2::254/128", "a cloud metadata address"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
        ("100::/64", "a discard-only address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
    )
)

_IPV4_COMPATIBLE = IPv6Network("::/96")
_IPV4_TRANSLATED = IPv6Network("::ffff:0:0:0/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")
_GLOBAL_UNICAST = IPv6Network("2000::/3")
# ISATAP interface identifier: 0000:5efe or 0200:5efe (u/l bit) before the IPv4 address.
_ISATAP_MASK = 0xFDFFFFFF
_ISATAP_ID = 0x00005EFE


class Target(NamedTuple):
    """A URL that passed `AddressPolicy.check_url`, split into what a request needs."""

    scheme: str  #: "http" or "https"
    host: str  #: lower-case ASCII (IDNA) host name, or an IP literal without brackets
    port: int
    path: str  #: path and query, never empty, starting with "/"; no fragment

    @property
    def ip(self) -> IPAddress | None:
        """The host as an address when the URL names an IP literal, else None."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    @property
    def authority(self) -> str:
        """The Host header: host, bracketed when IPv6, with the port unless default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What a URL import may reach.

    By default only public (globally routable) unicast addresses on ports 80 (http) and
    443 (https). `allow_loopback` admits 127.0.0.0/8 and ::1 (and their IPv4-mapped
    form), nothing else. `allowed_ports`, when given, is the complete set of allowed
    ports for both schemes (the defaults are not added). `allowed_hosts`, when given,
    narrows further: only these host names (compared case-insensitively, without a
    trailing dot) may be fetched, and their addresses are still checked.

    IPv6 forms that embed an IPv4 address: IPv4-mapped (::ffff:a.b.c.d) and NAT64
    (64:ff9b::/96) are judged by the embedded address (mapped loopback follows
    `allow_loopback`, NAT64 loopback never does, since it is the gateway's loopback);
    ISATAP needs both a public embedded address and a public prefix. IPv4-compatible
    (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), 6to4 (2002::/16), Teredo
    (2001::/32) and local-use NAT64 (64:ff9b:1::/48) are always refused: they are
    deprecated or ambiguous, and no legitimate image host needs them.
    """

    allow_loopback: bool = False
    allowed_ports: frozenset[int] | None = None
    allowed_hosts: frozenset[str] | None = None

    def check_address(self, ip: str | IPAddress) -> str | None:
        """Why connecting to `ip` is refused, or None when it is allowed."""
        try:
            address = ip if isinstance(ip, IPv4Address | IPv6Address) else ipaddress.ip_address(ip)
        except ValueError:
            return f"{ip!r} is not an IP address"
        if isinstance(address, IPv4Address):
            return _check_v4(address, allow_loopback=self.allow_loopback)
        return self._check_v6(address)

    def check_url(self, url: str) -> Target:
        """Split `url` into what to connect to, or raise UnsafeUrl saying why not.

        Refuses anything but absolute http(s) URLs, URLs over 2048 characters, with
        credentials, whitespace, control characters or backslashes, empty or malformed
        hosts, non-canonical numeric IPv4 hosts (0x7f000001, 2130706433, 0177.0.0.1),
        IPv6 zone ids, ports not allowed and hosts not in `allowed_hosts`. An IP-literal
        host is also checked with `check_address`; names are resolved and checked by the
        fetcher.
        """
        if len(url) > MAX_URL_LENGTH:
            raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
        if _CONFUSING.search(url):
            raise UnsafeUrl("the URL contains whitespace, control characters or backslashes")
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise UnsafeUrl(f"the URL cannot be parsed: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            given = f"{scheme}:" if scheme else "a relative URL"
            raise UnsafeUrl(f"only http and https URLs may be fetched, not {given}")
        if "@" in parts.netloc:
            raise UnsafeUrl("the URL may not carry credentials")
        host, port = _split_authority(parts.netloc, default_port=DEFAULT_PORTS[scheme])

        allowed_ports = self.allowed_ports
        if (allowed_ports is None and port != DEFAULT_PORTS[scheme]) or (
            allowed_ports is not None and port not in allowed_ports
        ):
            raise UnsafeUrl(f"port {port} may not be fetched")
        if self.allowed_hosts is not None and host not in {
            allowed.lower().removesuffix(".") for allowed in self.allowed_hosts
        }:
            raise UnsafeUrl(f"host {host} is not in the list of allowed hosts")

        target = Target(scheme, host, port, (parts.path or "/") + _query(parts.query, url))
        if (ip := target.ip) is not None and (reason := self.check_address(ip)) is not None:
            raise UnsafeUrl(f"{host} is {reason}")
        return target

    def _check_v6(self, address: IPv6Address) -> str | None:
        if address.scope_id:
            return "a scoped IPv6 address"
        if address == IPv6Address("::1"):
            return None if self.allow_loopback else "a loopback address"
        if address == IPv6Address("::"):
            return "the unspecified address"
        if (mapped := address.ipv4_mapped) is not None:
            # On a dual-stack socket this *is* the IPv4 address, loopback included.
            reason = _check_v4(mapped, allow_loopback=self.allow_loopback)
            return None if reason is None else f"an IPv4-mapped address of {mapped}, {reason}"
        embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if address in _IPV4_COMPATIBLE:
            return f"a deprecated IPv4-compatible address (of {embedded})"
        if address in _IPV4_TRANSLATED:
            return f"an IPv4-translated address (of {embedded})"
        if address in _NAT64:
            # The gateway's loopback is not ours to allow.
            reason = _check_v4(embedded, allow_loopback=False)
            return None if reason is None else f"a NAT64 address of {embedded}, {reason}"
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        if (six_to_four := address.sixtofour) is not None:
            return f"a 6to4 address (of {six_to_four})"
        if (teredo := address.teredo) is not None:
            return f"a Teredo address (of client {teredo[1]} via server {teredo[0]})"
        if (int(address) >> 32) & _ISATAP_MASK == _ISATAP_ID:
            reason = _check_v4(embedded, allow_loopback=False)
            if reason is not None:
                return f"an ISATAP address embedding {embedded}, {reason}"
        for network, reason in _V6_REFUSED:
            if address in network:
                return reason
        if address not in _GLOBAL_UNICAST:
            return "a reserved address"
        if not address.is_global:
            return "not a globally routable address"
        return None


def _check_v4(address: IPv4Address, *, allow_loopback: bool) -> str | None:
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    for network, reason in _V4_REFUSED:
        if address in network:
            return reason
    # Catches whatever the IANA special-purpose registry adds after this table was made.
    if not address.is_global:
        return "not a globally routable address"
    return None


def _split_authority(netloc: str, *, default_port: int) -> tuple[str, int]:
    """Host and port of a netloc without userinfo; raises UnsafeUrl when malformed."""
    if netloc.startswith("["):
        literal, bracket, rest = netloc[1:].partition("]")
        if not bracket or "%" in literal:
            raise UnsafeUrl("the URL has a malformed or zoned IPv6 host")
        try:
            host = str(IPv6Address(literal))
        except ValueError:
            raise UnsafeUrl("the URL has a malformed IPv6 host") from None
        if rest and not rest.startswith(":"):
            raise UnsafeUrl("the URL has a malformed host")
        raw_port = rest[1:] if rest else ""
    else:
        raw_host, _, raw_port = netloc.partition(":")
        host = _normalise_name(raw_host)
    if not raw_port:
        return host, default_port
    if not _PORT.fullmatch(raw_port) or not 0 < int(raw_port) < 65536:
        raise UnsafeUrl("the URL has an invalid port")
    return host, int(raw_port)


def _normalise_name(raw: str) -> str:
    """A host name or dotted-quad IPv4 address, lower-case ASCII, no trailing dot."""
    if not raw:
        raise UnsafeUrl("the URL has no host")
    if "%" in raw:
        raise UnsafeUrl("the URL host may not be percent-encoded")
    try:
        # The IDNA codec also maps full-width digits and ideographic full stops, so a
        # full-width "127.0.0.1" becomes the ASCII address here and is checked as one.
        host = raw.lower() if raw.isascii() else raw.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnsafeUrl("the URL host is not a valid international domain name") from None
    host = host.removesuffix(".")
    if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        try:
            return str(IPv4Address(host))
        except ValueError:
            raise UnsafeUrl(f"{raw} is not a canonical IPv4 address") from None
    if len(host) > 253 or not _HOST_NAME.fullmatch(host):
        raise UnsafeUrl("the URL has a malformed host")
    return host


def _query(query: str, url: str) -> str:
    # urlsplit drops an empty query ("?"), which some servers distinguish.
    return f"?{query}" if query or "?" in url.split("#", 1)[0] else ""
