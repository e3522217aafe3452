"""Notices as NOTIFY payloads: merged, split under PostgreSQL's limit, read back."""

from __future__ import annotations

from uuid import uuid4

import pytest

from assetry.domain.notices import MAX_PAYLOAD, Notice, Topic, decode, encode


def test_notices_merge_into_one_payload_per_topic() -> None:
    a, b = uuid4(), uuid4()
    payloads = encode([Notice(Topic.JOB), Notice(Topic.ASSETS, frozenset({a})),
                       Notice(Topic.JOB), Notice(Topic.ASSETS, frozenset({b, a})),
                       Notice(Topic.POOLS), Notice(Topic.RESYNC)])
    assert payloads[:2] == ["job", "pools"]
    assert len(payloads) == 3
    assert decode(payloads[2]) == Notice(Topic.ASSETS, frozenset({a, b}))
    assert [decode(p) for p in payloads[:2]] == [Notice(Topic.JOB), Notice(Topic.POOLS)]


def test_many_assets_are_split_under_the_payload_limit() -> None:
    ids = [uuid4() for _ in range(1000)]
    payloads = encode([Notice(Topic.ASSETS, frozenset({i})) for i in ids])
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    back: set[object] = set()
    for payload in payloads:
        notice = decode(payload)
        assert notice is not None and notice.topic is Topic.ASSETS
        back |= notice.assets
    assert back == set(ids)


def test_nothing_to_send_is_no_payload() -> None:
    assert encode([]) == []
    assert encode([Notice(Topic.RESYNC)]) == []  # made up by the receiver, never sent


@pytest.mark.parametrize("payload", [
    "", "   ", "jobs", "job extra", "resync", "assets", "assets not-a-uuid", "pools 1",
])
def test_payloads_this_build_does_not_understand_are_ignored(payload: str) -> None:
    assert decode(payload) is None
