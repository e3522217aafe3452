"""Content negotiation: which stored rendition of a version answers a GET.

A version may be stored several times: in several formats (`format: auto`) and at
several widths (`widths`). `?w=` picks the width, `?format=` a format explicitly; without
`?format=`, the `Accept` header picks among the formats stored at that width (RFC 9110
§12.5.1, q-values included).

A URL that negotiates may answer any of several encodings, so its immutable-URL digest
(`?v=`, domain/caching.py) names all of them at once: `variants_sha256`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from assetry.domain.formats import NEGOTIATED_FORMATS
from assetry.domain.media import FORMAT_MIME
from assetry.domain.model import Encoding, Version
from assetry.errors import Invalid, VersionNotFound

#: bounds on the work one Accept header may cause
MAX_ACCEPT_LENGTH = 4096
MAX_MEDIA_RANGES = 64


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One entry of an Accept header: `type/subtype` (either may be `*`) and its q."""

    type: str
    subtype: str
    q: float

    def matches(self, mime: str) -> int | None:
        """How specifically this range names `mime` (2 exact, 1 `type/*`, 0 `*/*`), or
        None when it does not match."""
        kind, _, sub = mime.partition("/")
        if self.type == kind and self.subtype == sub:
            return 2
        if self.type == kind and self.subtype == "*":
            return 1
        if self.type == "*" and self.subtype == "*":
            return 0
        return None


def parse_accept(header: str | None) -> tuple[MediaRange, ...]:
    """The media ranges of an Accept header, lower-cased. Malformed entries (no `/`, a
    q that is not a number from 0 to 1) are left out, as if not sent; so is everything
    past the first MAX_MEDIA_RANGES entries or MAX_ACCEPT_LENGTH characters."""
    if not header:
        return ()
    ranges: list[MediaRange] = []
    for entry in header[:MAX_ACCEPT_LENGTH].split(",")[:MAX_MEDIA_RANGES]:
        mime, *params = (part.strip() for part in entry.split(";"))
        kind, slash, sub = mime.lower().partition("/")
        if not slash or not kind or not sub or (kind == "*" and sub != "*"):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append(MediaRange(kind, sub, q))
    return tuple(ranges)


def quality(ranges: Sequence[MediaRange], mime: str, *, named_only: bool = False) -> float:
    """The q the client gives `mime`: that of the most specific range matching it, 0 when
    none does. `named_only` counts only ranges that name `mime` exactly (wildcards are
    not taken as asking for it)."""
    best: tuple[int, float] | None = None
    for r in ranges:
        specificity = r.matches(mime)
        if specificity is None or (named_only and specificity < 2):
            continue
        if best is None or specificity > best[0]:
            best = (specificity, r.q)
    return best[1] if best else 0.0


def negotiate(accept: str | None, offers: Sequence[str]) -> str:
    """The one of `offers` (MIME types, most preferred first; the last is the fallback)
    to send for `accept`. AVIF and WebP count only when Accept names them with q > 0, so
    `*/*` alone gets the fallback. The highest q wins, ties going to the earlier offer;
    with no Accept header, or when every offer has q = 0, the fallback (never 406: an
    image the client did not rank beats no image)."""
    ranges = parse_accept(accept)
    negotiated = {FORMAT_MIME[f] for f in NEGOTIATED_FORMATS}
    best, best_q = offers[-1], 0.0
    for offer in offers:
        q = quality(ranges, offer, named_only=offer in negotiated)
        if q > best_q:
            best, best_q = offer, q
    return best


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a GET of a version asks for beyond its name: `?w=`, `?format=`, `Accept`."""

    width: int | None = None
    format: str | None = None
    accept: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """The rendition that answers a request, whether another Accept could have changed
    it (then the answer must say `Vary: Accept`), and the SHA-256 a `v` must pin for
    the answer to be immutable (the rendition's own, or `variants_sha256` of the ones
    the URL negotiates among)."""

    rendition: Encoding
    negotiated: bool
    pin: str


def variants_sha256(renditions: Sequence[Encoding]) -> str:
    """The SHA-256 that stands for a URL answering any of `renditions`: the rendition's
    own for one; else the SHA-256 of their sorted SHA-256s, which changes when any of
    them does (a re-render makes every one anew)."""
    hashes = sorted(r.sha256 for r in renditions)
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def url_sha256(version: Version, width: int | None = None) -> str | None:
    """What the `v` of the version's URL (or of its `?w=width` URL, without `format`)
    pins: `variants_sha256` of what that URL may answer; None while nothing is stored."""
    at_width = [r for r in version.all_encodings if r.srcset_width == width]
    return variants_sha256(at_width) if at_width else None


def choose(version: Version, wanted: Wanted) -> Choice:
    """Which stored rendition of a ready `version` answers `wanted`. Raises Invalid
    (field `format`) for a format name we do not write, VersionNotFound for a width or
    format the version is not stored in."""
    width, fmt, accept = wanted.width, wanted.format, wanted.accept
    if fmt is not None and fmt not in FORMAT_MIME:
        raise Invalid(f"must be one of {', '.join(FORMAT_MIME)}", field="format")
    at_width = [r for r in version.all_encodings if r.srcset_width == width]
    if width is not None and not at_width:
        kept = sorted({r.srcset_width for r in version.all_encodings if r.srcset_width})
        raise VersionNotFound(f"version {version.name!r} has no width {width}; its widths: "
                              f"{', '.join(map(str, kept)) or 'none'}")
    if fmt is not None:
        chosen = next((r for r in at_width if r.format == fmt), None)
        if chosen is None:
            stored = ", ".join(r.format for r in at_width)
            raise VersionNotFound(f"version {version.name!r} is not stored as {fmt} "
                                  f"(only {stored})")
        return Choice(chosen, negotiated=False, pin=chosen.sha256)
    if len(at_width) == 1:
        return Choice(at_width[0], negotiated=False, pin=at_width[0].sha256)
    order = {f: i for i, f in enumerate(NEGOTIATED_FORMATS)}
    offers = sorted(at_width, key=lambda r: order.get(r.format, len(order)))
    mime = negotiate(accept, [r.mime_type for r in offers])
    return Choice(next(r for r in offers if r.mime_type == mime), negotiated=True,
                  pin=variants_sha256(offers))
