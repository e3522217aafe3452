"""Notices between the processes of one service: a job became due, assets changed, the
pools changed. Pure: what a notice is and how it travels as text (PostgreSQL's NOTIFY
payload); the sending and hearing live in the database adapter."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

#: The LISTEN/NOTIFY channel. Notifications are per database, so two services on one
#: PostgreSQL server with different databases never hear each other.
CHANNEL = "assetry"
#: PostgreSQL refuses payloads of 8000 bytes or more; stay well below.
MAX_PAYLOAD = 7000


class Topic(StrEnum):
    JOB = "job"  #: a job is due now: idle workers should claim
    ASSETS = "assets"  #: these assets changed: forget what is cached about them
    POOLS = "pools"  #: a pool changed (e.g. made private): forget every cached asset
    #: notices may have been missed (the channel was just (re)opened): treat everything as
    #: changed. Never sent; the receiving side makes it up.
    RESYNC = "resync"


@dataclass(frozen=True, slots=True)
class Notice:
    topic: Topic
    assets: frozenset[UUID] = frozenset()  #: for ASSETS


def encode(notices: Iterable[Notice]) -> list[str]:
    """Payloads that carry `notices`: at most one per topic, except ASSETS, split into
    payloads under MAX_PAYLOAD. RESYNC is not sent."""
    topics: set[Topic] = set()
    assets: dict[UUID, None] = {}  # ordered and without repeats
    for notice in notices:
        if notice.topic is Topic.ASSETS:
            assets.update(dict.fromkeys(notice.assets))
        elif notice.topic is not Topic.RESYNC:
            topics.add(notice.topic)
    payloads = [t.value for t in (Topic.JOB, Topic.POOLS) if t in topics]
    ids = [str(asset_id) for asset_id in assets]
    per_payload = (MAX_PAYLOAD - len(Topic.ASSETS.value)) // 37  # " " + 36 characters each
    for start in range(0, len(ids), per_payload):
        payloads.append(" ".join([Topic.ASSETS.value, *ids[start:start + per_payload]]))
    return payloads


def decode(payload: str) -> Notice | None:
    """The notice a payload carries; None for anything this build does not understand
    (a newer or older process may send more)."""
    parts = payload.split()
    if not parts:
        return None
    head, *rest = parts
    try:
        topic = Topic(head)
    except ValueError:
        return None
    if topic is Topic.RESYNC:
        return None
    if topic is not Topic.ASSETS:
        return None if rest else Notice(topic)
    try:
        ids = frozenset(UUID(part) for part in rest)
    except ValueError:
        return None
    return Notice(Topic.ASSETS, ids) if ids else None
