"""AssetCache: per-process entries kept in step with other processes through notices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

from assetry.domain.model import Asset, AssetType, Pool
from assetry.domain.notices import Notice, Topic
from assetry.services.cache import AssetCache

T0 = datetime(2026, 11, 22, tzinfo=UTC)


class FakeNotices:
    """The Notices port in memory: what was published, and a way to 'hear' a notice."""

    def __init__(self) -> None:
        self.live = True
        self.published: list[Notice] = []
        self._handlers: list[Callable[[Notice], None]] = []

    def publish(self, notice: Notice) -> None:
        self.published.append(notice)

    def subscribe(self, handler: Callable[[Notice], None]) -> None:
        self._handlers.append(handler)

    def hear(self, notice: Notice) -> None:
        for handler in self._handlers:
            handler(notice)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def asset() -> Asset:
    asset_id = uuid4()
    return Asset(id=asset_id, pool="default", type=AssetType.IMAGE, filename="a.jpg",
                 mime_type="image/jpeg", size=1, sha256="0" * 64, blob_key=f"o/{asset_id}",
                 gallery=str(asset_id), converter="default", created_at=T0, modified_at=T0)


POOL = Pool(name="default", public=True)


def cache_with(notices: FakeNotices, clock: Clock | None = None) -> AssetCache:
    return AssetCache(60, clock=clock or Clock(), notices=notices)


def test_an_entry_is_served_until_its_ttl_passes() -> None:
    clock = Clock()
    cache = cache_with(FakeNotices(), clock)
    a = asset()
    cache.put(a, POOL, ticket=cache.ticket())
    assert cache.get(a.id) == (a, POOL)
    clock.now += 61
    assert cache.get(a.id) is None


def test_a_change_here_is_forgotten_and_announced() -> None:
    notices = FakeNotices()
    cache = cache_with(notices)
    a = asset()
    cache.put(a, POOL, ticket=cache.ticket())
    cache.forget(a.id)
    assert cache.get(a.id) is None
    cache.clear()
    assert notices.published == [Notice(Topic.ASSETS, frozenset({a.id})), Notice(Topic.POOLS)]


def test_a_change_heard_from_another_process_is_forgotten() -> None:
    notices = FakeNotices()
    cache = cache_with(notices)
    a, b, c = asset(), asset(), asset()
    for x in (a, b, c):
        cache.put(x, POOL, ticket=cache.ticket())
    notices.hear(Notice(Topic.ASSETS, frozenset({a.id})))
    assert cache.get(a.id) is None
    assert cache.get(b.id) == (b, POOL)
    notices.hear(Notice(Topic.POOLS))
    assert cache.get(b.id) is None and cache.get(c.id) is None
    assert notices.published == []  # heard, not re-announced


def test_a_read_that_began_before_a_change_is_not_cached() -> None:
    notices = FakeNotices()
    cache = cache_with(notices)
    a, b = asset(), asset()
    ticket = cache.ticket()  # a delivery starts reading a from the database...
    notices.hear(Notice(Topic.ASSETS, frozenset({a.id})))  # ...a changes meanwhile
    cache.put(a, POOL, ticket=ticket)
    cache.put(b, POOL, ticket=ticket)  # another asset's read is still good
    assert cache.get(a.id) is None
    assert cache.get(b.id) == (b, POOL)
    cache.put(a, POOL, ticket=cache.ticket())  # a read after the change is
    assert cache.get(a.id) == (a, POOL)


def test_a_read_that_began_before_a_resync_is_not_cached() -> None:
    notices = FakeNotices()
    cache = cache_with(notices)
    a = asset()
    ticket = cache.ticket()
    notices.hear(Notice(Topic.RESYNC))
    cache.put(a, POOL, ticket=ticket)
    assert cache.get(a.id) is None


def test_changes_older_than_the_remembered_ones_still_refuse_old_reads() -> None:
    notices = FakeNotices()
    cache = AssetCache(60, size=2, clock=Clock(), notices=notices)
    a = asset()
    ticket = cache.ticket()
    notices.hear(Notice(Topic.ASSETS, frozenset({a.id})))
    notices.hear(Notice(Topic.ASSETS, frozenset({uuid4(), uuid4()})))  # a's change falls out
    cache.put(a, POOL, ticket=ticket)
    assert cache.get(a.id) is None


def test_while_the_channel_is_down_the_cache_is_not_used() -> None:
    notices = FakeNotices()
    cache = cache_with(notices)
    a = asset()
    cache.put(a, POOL, ticket=cache.ticket())
    notices.live = False
    assert cache.get(a.id) is None


def test_ttl_zero_caches_nothing() -> None:
    cache = AssetCache(0, notices=FakeNotices())
    a = asset()
    cache.put(a, POOL, ticket=cache.ticket())
    assert cache.get(a.id) is None


def test_the_pools_publicity_is_kept_until_its_ttl_or_a_pool_change() -> None:
    clock, notices = Clock(), FakeNotices()
    cache = cache_with(notices, clock)
    assert cache.publicity() is None
    cache.keep_publicity({"default": True}, ticket=cache.ticket())
    notices.hear(Notice(Topic.ASSETS, frozenset({uuid4()})))  # an asset change keeps it
    assert cache.publicity() == {"default": True}
    clock.now += 61
    assert cache.publicity() is None
    for change in (cache.clear, lambda: notices.hear(Notice(Topic.POOLS)),
                   lambda: notices.hear(Notice(Topic.RESYNC))):
        cache.keep_publicity({"default": True}, ticket=cache.ticket())
        change()
        assert cache.publicity() is None


def test_a_publicity_read_that_began_before_a_pool_change_is_not_kept() -> None:
    notices = FakeNotices()
    cache = cache_with(notices)
    ticket = cache.ticket()  # a request starts listing the pools...
    notices.hear(Notice(Topic.POOLS))  # ...one is made private meanwhile
    cache.keep_publicity({"default": True}, ticket=ticket)
    assert cache.publicity() is None
    notices.hear(Notice(Topic.ASSETS, frozenset({uuid4()})))
    cache.keep_publicity({"default": False}, ticket=ticket)  # still before the change
    assert cache.publicity() is None


def test_the_publicity_is_not_used_while_the_channel_is_down_or_with_ttl_zero() -> None:
    notices = FakeNotices()
    cache = cache_with(notices)
    cache.keep_publicity({"default": True}, ticket=cache.ticket())
    notices.live = False
    assert cache.publicity() is None
    off = AssetCache(0, notices=FakeNotices())
    off.keep_publicity({"default": True}, ticket=off.ticket())
    assert off.publicity() is None
