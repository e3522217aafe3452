"""Outages of the back-ends, for real: a server on PostgreSQL and SeaweedFS whose database
or store is stopped and started again. /health/live stays 200; /health/ready turns 503
naming the part and back to 200 by itself; requests that need the missing part answer a
503 problem quickly; nothing is half-written; afterwards everything works again."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import obstore
import pytest
from obstore.store import S3Store

from tests.e2e.test_upload import upload
from tests.support.images import load, solid
from tests.support.postgres import PostgresServer, create_database, drop_database, unique_name
from tests.support.seaweed import ACCESS_KEY, BUCKET, REGION, SECRET_KEY, SeaweedServer
from tests.support.server import live_server
from tests.support.tokens import bearer, make_tokens

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"
#: what "quickly" means here: generous for a loaded 2-core machine, far below a hang
QUICK = 10.0
#: how long a back-end may take to be seen again once it is back
RECOVERY = 60.0


def bucket_keys(seaweed: SeaweedServer, prefix: str) -> set[str]:
    store = S3Store(BUCKET, endpoint=seaweed.endpoint, region=REGION,
                    access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
                    client_options={"allow_http": True}, virtual_hosted_style_request=False)
    return {m["path"] for batch in obstore.list(store, prefix=prefix) for m in batch}


def quickly(request: Callable[..., httpx.Response], *args: Any, **kwargs: Any
            ) -> httpx.Response:
    """The answer to one request, which must come within QUICK seconds."""
    started = time.monotonic()
    answer = request(*args, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < QUICK, f"{args} took {elapsed:.1f} s"
    return answer


def assert_unavailable(answer: httpx.Response, part: str) -> None:
    """A 503 problem+json naming the part that failed: never a 500, never a hang."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert part in answer.json()["detail"], answer.json()


def assert_unready(client: httpx.Client, *, down: str, up: str) -> None:
    """/health/ready and /health: a quick 503 naming the part that is down; /health/live:
    200, since the process itself is fine."""
    for path in ("/health/ready", "/health"):
        answer = quickly(client.get, path)
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["status"] == "unavailable" and body[up] == "ok"
        assert body[down].startswith("unavailable: ")
    live = quickly(client.get, "/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})


def wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + RECOVERY
    while (answer := client.get("/health/ready")).status_code != 200:
        assert time.monotonic() < deadline, f"not ready {RECOVERY} s after: {answer.text}"
        time.sleep(0.2)
    assert answer.json() == {"status": "ok", "database": "ok", "storage": "ok"}


@dataclass
class Service:
    """A server on one database and a fresh prefix of one store, with an admin's and an
    anonymous client."""

    admin: httpx.Client
    anonymous: httpx.Client
    prefix: str


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str, SeaweedServer], Service]]:
    """Starts a live server on a database URL and a SeaweedFS server."""
    with ExitStack() as stack:

        def start(database_url: str, seaweed: SeaweedServer) -> Service:
            prefix = unique_name("outage")
            settings = {"database_url": database_url, "storage_url": seaweed.url(prefix),
                        "render_workers": 1}
            secret = make_tokens(tmp_path, {"admin": "admin"}, **settings)["admin"]
            url = stack.enter_context(live_server(tmp_path, **settings))
            return Service(
                admin=stack.enter_context(
                    httpx.Client(base_url=url, timeout=60, headers=bearer(secret))),
                anonymous=stack.enter_context(httpx.Client(base_url=url, timeout=60)),
                prefix=prefix)

        yield start


def one_asset(service: Service, seaweed: SeaweedServer, image: bytes
              ) -> tuple[dict[str, Any], set[str]]:
    """Before the outage: one image uploaded (its JSON) and the keys in the bucket."""
    kept: dict[str, Any] = upload(service.admin, image).json()
    stored = bucket_keys(seaweed, service.prefix)
    assert len(stored) == 3  # the original and its two versions
    assert service.anonymous.get("/health/ready").status_code == 200
    return kept, stored


def test_a_database_outage_is_a_quick_503_and_heals_by_itself(
        own_postgres: PostgresServer, seaweed: SeaweedServer,
        serve: Callable[[str, SeaweedServer], Service]) -> None:
    service = serve(create_database(own_postgres.url(), "assetry"), seaweed)
    admin, anonymous = service.admin, service.anonymous
    kept, stored = one_asset(service, seaweed, solid(640, 480))

    own_postgres.halt()
    try:
        assert_unready(anonymous, down="database", up="storage")

        # With a token: the token check itself needs the database (this was a 500).
        assert_unavailable(quickly(upload, admin, solid(320, 240)), "database")
        assert_unavailable(quickly(admin.delete, kept["url"]), "database")
        assert_unavailable(quickly(admin.get, "/api/pools"), "database")
        # Without one: the route's own reads.
        assert_unavailable(quickly(anonymous.get, kept["url"]), "database")
        assert_unavailable(quickly(anonymous.get, "/api/galleries/" + kept["gallery"]), "database")
        # /metrics still answers, without the job gauge it reads from the database.
        scraped = quickly(anonymous.get, "/metrics")
        assert scraped.status_code == 200 and "assetry_http_requests_total" in scraped.text
        assert "assetry_jobs" not in scraped.text
    finally:
        assert own_postgres.start(), "PostgreSQL did not start again"

    wait_ready(anonymous)
    # Nothing was half-written: the one asset, its three blobs, nothing else.
    listing = admin.get("/api/pools/default/assets").json()["items"]
    assert [a["id"] for a in listing] == [kept["id"]]
    assert bucket_keys(seaweed, service.prefix) == stored
    # And everything works again, with the pooled connections of before the restart gone.
    again = upload(admin, solid(320, 240))
    assert again.status_code == 201, again.text
    thumb = anonymous.get(again.json()["versions"]["thumbnail"]["url"])
    assert thumb.status_code == 200 and load(thumb.content).width == 100
    assert admin.delete(kept["url"]).status_code == 200
    assert anonymous.get(kept["url"]).status_code == 404


def test_a_store_outage_is_a_quick_503_and_heals_by_itself(
        postgres: str, own_seaweed: SeaweedServer,
        serve: Callable[[str, SeaweedServer], Service]) -> None:
    name = unique_name("assetry_outage")
    try:
        service = serve(create_database(postgres, name), own_seaweed)
        admin, anonymous = service.admin, service.anonymous
        original = solid(640, 480)
        kept, stored = one_asset(service, own_seaweed, original)

        own_seaweed.halt()
        try:
            assert_unready(anonymous, down="storage", up="database")

            # What needs the store's bytes is a 503 ...
            assert_unavailable(quickly(upload, admin, solid(320, 240)), "blob store")
            assert_unavailable(quickly(anonymous.get, kept["content_url"]), "blob store")
            detail = kept["versions"]["detail"]["url"]
            assert_unavailable(quickly(anonymous.get, detail), "blob store")
            # ... what needs only the database still works.
            assert quickly(anonymous.get, kept["url"]).json()["id"] == kept["id"]
            assert quickly(admin.get, "/api/pools/default/assets").status_code == 200
        finally:
            own_seaweed.resume()

        wait_ready(anonymous)
        # The refused upload left no row and no blob.
        listing = admin.get("/api/pools/default/assets").json()["items"]
        assert [a["id"] for a in listing] == [kept["id"]]
        assert bucket_keys(own_seaweed, service.prefix) == stored
        # The bytes stored before the outage are still there, and uploads work again.
        assert anonymous.get(kept["content_url"]).content == original
        again = upload(admin, solid(320, 240))
        assert again.status_code == 201, again.text
        assert anonymous.get(again.json()["versions"]["thumbnail"]["url"]).status_code == 200
    finally:
        drop_database(postgres, name)
