"""AddressPolicy: which addresses and URLs a URL import may reach, and why not."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from assetry.errors import Unprocessable, UnsafeUrl
from assetry.fetch.policy import AddressPolicy, Target

STRICT = AddressPolicy()
LOOPBACK = AddressPolicy(allow_loopback=True)

# (address, a fragment of the refusal reason)
REFUSED: list[tuple[str, str]] = [
    ("127.0.0.1", "loopback"),
    ("127.1.2.3", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "this network"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("169.254.169.254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("169.254.1.1", "link-local"),
    ("192.0.0.192", "IETF"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.1", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "scoped"),
    ("fec0::1", "site-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fd00:ec2::254", "metadata"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("100::1", "discard"),
    ("2001:db8::1", "documentation"),
    ("5f00::1", "reserved"),
    # IPv4 embedded in IPv6 (Directus CVE-2026-35409, imgproxy 4.0.12)
    ("::ffff:127.0.0.1", "IPv4-mapped address of 127.0.0.1, a loopback"),
    ("::ffff:10.0.0.1", "IPv4-mapped address of 10.0.0.1, a private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::a00:1", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"),
    ("::ffff:0:7f00:1", "IPv4-translated"),
    ("2002:7f00:1::1", "6to4 address (of 127.0.0.1)"),
    ("2002:0a00:0001::1", "6to4 address (of 10.0.0.1)"),
    ("2002:808:808::1", "6to4"),  # refused even when the embedded address is public
    ("64:ff9b::7f00:1", "NAT64 address of 127.0.0.1"),
    ("64:ff9b::a00:1", "NAT64 address of 10.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo address (of client 192.0.2.45"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo address (of client 10.0.0.1"),
    ("fe80::5efe:a00:1", "ISATAP address embedding 10.0.0.1"),
    ("fe80::200:5efe:7f00:1", "ISATAP address embedding 127.0.0.1"),
    ("2606:4700::5efe:a9fe:a9fe", "ISATAP address embedding 169.254.169.254"),
    ("not-an-address", "not an IP address"),
    ("", "not an IP address"),
]

ALLOWED: list[str] = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",  # on a dual-stack socket this is 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of a public address: how IPv6-only networks reach IPv4
    "2606:4700::5efe:808:808",  # ISATAP-shaped, public prefix and public embedded address
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses(address: str, reason: str) -> None:
    refusal = STRICT.check_address(address)

    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert STRICT.check_address(address) is None
    assert LOOPBACK.check_address(address) is None


def test_address_objects_are_accepted() -> None:
    assert STRICT.check_address(IPv4Address("8.8.8.8")) is None
    assert STRICT.check_address(IPv6Address("::1")) == "a loopback address"


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_allow_loopback_allows_only_loopback(address: str) -> None:
    assert LOOPBACK.check_address(address) is None
    assert STRICT.check_address(address) is not None


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "::",
        "100.64.0.1",
        "fc00::1",
        "fe80::1",
        "::127.0.0.1",  # deprecated form: not loopback on any modern stack
        "2002:7f00:1::1",
        "64:ff9b::7f00:1",  # the NAT64 gateway's loopback, not ours
        "fe80::5efe:7f00:1",
        "::ffff:10.0.0.1",
    ],
)
def test_allow_loopback_still_refuses_everything_else(address: str) -> None:
    assert LOOPBACK.check_address(address) is not None


# (URL, a fragment of the refusal reason)
REFUSED_URLS: list[tuple[str, str]] = [
    ("ftp://example.com/a.jpg", "not ftp:"),
    ("file:///etc/passwd", "not file:"),
    ("gopher://example.com/", "not gopher:"),
    ("javascript:alert(1)", "not javascript:"),
    ("data:image/png;base64,iVBORw0KGgo=", "not data:"),
    ("//example.com/a.jpg", "relative"),
    ("/a.jpg", "relative"),
    ("http://user:pass@example.com/", "credentials"),
    ("http://user@example.com/", "credentials"),
    ("http://:pass@example.com/", "credentials"),
    ("http://example.com:22/", "port 22"),
    ("https://example.com:8443/", "port 8443"),
    ("http://example.com:443/", "port 443"),  # the default port of the *other* scheme
    ("http://example.com:99999/", "invalid port"),
    ("http://example.com:0/", "invalid port"),
    ("http://example.com:+80/", "invalid port"),
    ("http://example.com:8o/", "invalid port"),
    ("http:///a.jpg", "no host"),
    ("http://", "no host"),
    ("http://:80/", "no host"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[fe80::1%25eth0]/", "zoned"),
    ("http://[v1.abc]/", "malformed"),
    ("http://[::1/", "IPv6"),
    ("http://[::1]x/", "malformed"),
    ("http://127.0.0.1/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://10.0.0.1/", "private"),
    ("http://0.0.0.0/", "unspecified"),
    # integer, hex, octal and short IPv4 forms that inet_aton and browsers accept
    ("http://2130706433/", "canonical"),
    ("http://0x7f000001/", "canonical"),
    ("http://0X7F000001/", "canonical"),
    ("http://0177.0.0.1/", "canonical"),
    ("http://0x7f.0.0.1/", "canonical"),
    ("http://127.1/", "canonical"),
    ("http://0/", "canonical"),
    ("http://example.0x10/", "canonical"),
    # full-width digits and ideographic full stops: IDNA maps them to 127.0.0.1
    ("http://\uff11\uff12\uff17\u3002\uff10\u3002\uff10\u3002\uff11/", "loopback"),
    ("http://%31%32%37.0.0.1/", "percent"),
    ("http://exa mple.com/", "whitespace"),
    ("http://example.com/a b", "whitespace"),
    (" http://example.com/", "whitespace"),
    ("http://example.com\\@127.0.0.1/", "backslashes"),
    ("http://example.com/\r\nX-Injected: 1", "control"),
    ("http://example.com\t/", "whitespace"),
    ("http://exa..mple.com/", "host"),
    ("http://exa!mple.com/", "malformed"),
    ("http://" + "a" * 64 + ".com/", "host"),
    ("http://example.com/" + "a" * 2048, "longer than 2048"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_URLS)
def test_refused_urls(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        STRICT.check_url(url)

    assert reason in caught.value.message
    assert caught.value.field == "url"
    assert isinstance(caught.value, Unprocessable)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        (
            "https://example.com/a/b.jpg?x=1&y=2#frag",
            Target("https", "example.com", 443, "/a/b.jpg?x=1&y=2"),
        ),
        ("http://EXAMPLE.com./", Target("http", "example.com", 80, "/")),
        ("HTTP://example.com", Target("http", "example.com", 80, "/")),
        ("http://example.com:80/a", Target("http", "example.com", 80, "/a")),
        ("http://example.com:/a", Target("http", "example.com", 80, "/a")),
        ("http://example.com/a?", Target("http", "example.com", 80, "/a?")),
        ("http://example.com?q", Target("http", "example.com", 80, "/?q")),
        ("https://münchen.de/bild.jpg", Target("https", "xn--mnchen-3ya.de", 443, "/bild.jpg")),
        ("http://img_1.cdn-2.example.com/x", Target("http", "img_1.cdn-2.example.com", 80, "/x")),
        ("http://93.184.216.34/x", Target("http", "93.184.216.34", 80, "/x")),
        (
            "https://[2606:4700:4700:0::1111]/x",
            Target("https", "2606:4700:4700::1111", 443, "/x"),
        ),
        ("http://example.com/%2e%2e/a%20b", Target("http", "example.com", 80, "/%2e%2e/a%20b")),
        ("http://example.com/" + "a" * 2029, Target("http", "example.com", 80, "/" + "a" * 2029)),
    ],
)
def test_allowed_urls(url: str, target: Target) -> None:
    assert STRICT.check_url(url) == target


def test_a_name_is_not_resolved_by_check_url() -> None:
    # Names are resolved (once per hop) by the fetcher, which checks every answer.
    assert STRICT.check_url("http://localhost/").host == "localhost"


@pytest.mark.parametrize(
    ("target", "authority"),
    [
        (Target("http", "example.com", 80, "/"), "example.com"),
        (Target("https", "example.com", 443, "/"), "example.com"),
        (Target("http", "example.com", 8080, "/"), "example.com:8080"),
        (Target("https", "2606:4700:4700::1111", 443, "/"), "[2606:4700:4700::1111]"),
        (Target("https", "2606:4700:4700::1111", 8443, "/"), "[2606:4700:4700::1111]:8443"),
    ],
)
def test_authority_is_the_host_header(target: Target, authority: str) -> None:
    assert target.authority == authority


def test_target_ip_only_for_literals() -> None:
    assert Target("http", "93.184.216.34", 80, "/").ip == IPv4Address("93.184.216.34")
    assert Target("http", "example.com", 80, "/").ip is None


def test_allowed_ports_replace_the_defaults() -> None:
    policy = AddressPolicy(allowed_ports=frozenset({8443, 8080}))

    assert policy.check_url("https://example.com:8443/").port == 8443
    assert policy.check_url("http://example.com:8080/").port == 8080
    for url in ("https://example.com/", "http://example.com/", "https://example.com:22/"):
        with pytest.raises(UnsafeUrl, match="port"):
            policy.check_url(url)


def test_allowed_hosts_narrow_but_never_widen() -> None:
    policy = AddressPolicy(allowed_hosts=frozenset({"Images.Example.com.", "127.0.0.1"}))

    assert policy.check_url("https://images.example.com/a.jpg").host == "images.example.com"
    assert policy.check_url("https://IMAGES.example.com./a.jpg").host == "images.example.com"
    with pytest.raises(UnsafeUrl, match="not in the list of allowed hosts"):
        policy.check_url("https://example.com/a.jpg")
    with pytest.raises(UnsafeUrl, match="not in the list of allowed hosts"):
        policy.check_url("https://evil.images.example.com/a.jpg")
    with pytest.raises(UnsafeUrl, match="loopback"):
        policy.check_url("https://127.0.0.1/")


def test_allow_loopback_urls() -> None:
    policy = AddressPolicy(allow_loopback=True, allowed_ports=frozenset({8080}))

    assert policy.check_url("http://127.0.0.1:8080/a").host == "127.0.0.1"
    assert policy.check_url("http://[::1]:8080/a").host == "::1"
    for url in ("http://10.0.0.1:8080/", "http://169.254.169.254:8080/", "http://0x7f000001:8080/"):
        with pytest.raises(UnsafeUrl):
            policy.check_url(url)
