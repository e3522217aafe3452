"""A fleet as on several hosts: two `assetry serve` processes (embedded workers off) on one
PostgreSQL database and one S3 bucket (SeaweedFS), joined by `assetry worker` processes;
every one a separate OS process with default settings. One render per version however
many ask, changes obeyed everywhere within 100 ms, jobs picked up through LISTEN/NOTIFY,
and a worker killed mid-render losing nothing.

The servers are shared by the module's tests, which run in file order: the cluster test
comes last, since it ends by stopping one of them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from assetry.db.session import JOB_LOCKS, RENDER_LOCKS
from tests.e2e.test_rendering_flow import counter
from tests.e2e.test_upload import upload
from tests.support.fleet import Fleet, fleet
from tests.support.images import load, noise, solid
from tests.support.seaweed import SeaweedServer
from tests.support.server import ServedProcess, stop_process

pytestmark = pytest.mark.slow


@dataclass
class Pair:
    fleet: Fleet
    servers: list[ServedProcess]
    a: httpx.Client  #: an admin's client of server A
    b: httpx.Client  #: of server B
    anonymous_b: httpx.Client


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, postgres: str, seaweed: SeaweedServer
         ) -> Iterator[Pair]:
    with fleet(tmp_path_factory.mktemp("fleet"), postgres, seaweed) as f:
        servers = f.servers("server-a", "server-b")
        anonymous_b = httpx.Client(base_url=servers[1].url, timeout=60)
        f.stack.callback(anonymous_b.close)
        yield Pair(f, servers, f.client(servers[0]), f.client(servers[1]), anonymous_b)


def slow_converter(client: httpx.Client) -> str:
    """A converter whose version takes a while to make (a PNG of 2 MP, about half a
    second): long enough for other requests to arrive while it renders."""
    r = client.put("/api/converters/poster", json={"versions": [
        {"name": "poster", "width": 1600, "height": 1200, "fit": "contain",
         "upscale": True, "format": "png"}]})
    assert r.status_code in (200, 201), r.text
    return "poster"


def test_eight_gets_of_one_pending_version_over_two_servers_render_it_once(
    pair: Pair, summary: Callable[[str], None],
) -> None:
    a, b = pair.a, pair.b
    asset = upload(a, noise(1200, 900, seed=7)).json()
    body = a.post(f"{asset['url']}/convert", json={"converter": slow_converter(a)}).json()
    assert body["versions"]["poster"]["status"] == "pending"
    url = body["versions"]["poster"]["url"]
    before = {"a": counter(a, "renders"), "b": counter(b, "renders")}
    start = threading.Barrier(8)

    def get(client: httpx.Client) -> httpx.Response:
        start.wait()
        return client.get(url)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(get, [a, b] * 4))
    assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
    assert len({r.content for r in answers}) == 1  # the one render, served by both
    image = load(answers[0].content)
    assert (image.width, image.height) == (1600, 1200)
    rendered = {"a": counter(a, "renders") - before["a"],
                "b": counter(b, "renders") - before["b"]}
    assert sum(rendered.values()) == 1, rendered
    summary(f"fleet single-flight: 8 GETs over 2 servers, renders by server {rendered}")
    assert a.get(asset["url"]).json()["versions"]["poster"]["status"] == "ready"


def _obeyed_after(check: Callable[[], bool], changed_at: float) -> float:
    """Seconds from the change until the first request (sent then) that saw it."""
    deadline = changed_at + 5
    while time.monotonic() < deadline:
        sent = time.monotonic()
        if check():
            return sent - changed_at
        time.sleep(0.005)
    raise AssertionError("the other server never obeyed the change")


def test_a_hide_delete_or_replace_through_one_server_is_obeyed_by_the_other_in_100_ms(
    pair: Pair, summary: Callable[[str], None],
) -> None:
    # Each change follows a read through B at once: B has the asset in its delivery cache
    # (2 s by default), so only being told makes it obey within 100 ms.
    a, anonymous_b = pair.a, pair.anonymous_b
    hidden, deleted, replaced = (upload(a, solid(400, 300, (i * 60, 90, 30))).json()
                                 for i in range(3))

    assert anonymous_b.get(hidden["versions"]["thumbnail"]["url"]).status_code == 200
    assert a.patch(hidden["url"], json={"hidden": True}).status_code == 200
    lag_hide = _obeyed_after(
        lambda: anonymous_b.get(hidden["versions"]["thumbnail"]["url"]).status_code == 410,
        time.monotonic())

    assert anonymous_b.get(deleted["content_url"]).status_code == 200
    assert a.delete(deleted["url"]).status_code == 200
    # Not just any 404: with a stale entry B would look for the deleted bytes and fail.
    gone = {"status": 404, "detail": f"no asset with id {deleted['id']}"}
    lag_delete = _obeyed_after(
        lambda: gone.items() <= anonymous_b.get(deleted["content_url"]).json().items(),
        time.monotonic())

    new_bytes = solid(640, 480, (250, 250, 0), fmt=".png")
    assert anonymous_b.get(replaced["content_url"]).status_code == 200
    r = a.put(replaced["url"], files={"file": ("new.png", new_bytes)})
    assert r.status_code == 200, r.text
    lag_replace = _obeyed_after(
        lambda: anonymous_b.get(replaced["content_url"]).content == new_bytes, time.monotonic())

    lags = {"hide": lag_hide, "delete": lag_delete, "replace": lag_replace}
    assert max(lags.values()) <= 0.1, lags
    summary("fleet cache: obeyed by the other server after " + ", ".join(
        f"{change} {lag * 1000:.0f} ms" for change, lag in lags.items()))


def test_a_worker_picks_up_a_job_when_it_is_enqueued_not_when_it_polls(
    pair: Pair, summary: Callable[[str], None],
) -> None:
    # It looks for due jobs once a minute by itself: only the notice can make it quick.
    (worker,) = pair.fleet.workers("listening-worker", job_poll_interval="60")
    try:
        a, b = pair.a, pair.b
        asset = upload(a, noise(320, 240, seed=3)).json()
        time.sleep(1)  # the worker has looked and found nothing; it now waits a minute
        converted = b.post(f"{asset['url']}/convert", json={}).json()
        assert {v["status"] for v in converted["versions"].values()} == {"pending"}
        enqueued = time.monotonic()
        while True:  # the asset's JSON only reads: no render on demand
            versions = a.get(asset["url"]).json()["versions"]
            done = pair.fleet.sql("SELECT count(*) FROM jobs") == [(0,)]
            if done and all(v["status"] == "ready" for v in versions.values()):
                break
            assert time.monotonic() - enqueued < 10, versions
            time.sleep(0.05)
        summary(f"fleet pickup: a job rendered by a worker polling once a minute "
                f"{time.monotonic() - enqueued:.2f} s after its commit")

        # Stopped mid-job (systemctl stop), it hands the job back at once.
        b.post(f"{asset['url']}/convert", json={"converter": slow_converter(b)})
        started = time.monotonic()
        while not held_locks(pair.fleet, worker.pid)["renders"]:
            assert time.monotonic() - started < 30, "the worker never started the job"
            time.sleep(0.01)
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(30) == 0
        assert pair.fleet.sql("SELECT status, last_error FROM jobs") == [
            ("queued", "interrupted by shutdown")]
    finally:
        stop_process(worker.proc)


UPLOADS = 50
#: every upload's versions (the default converter: 800x800 and 100x100 `cover`, never
#: upscaled, of a 640x480 photo), then the one the convert adds
DEFAULT_VERSIONS = {"detail": (480, 480), "thumbnail": (100, 100)}
#: a version that takes a noticeable while to make (an upscaled 0.8 MP JPEG: a tenth of a
#: second or more here), so that a worker is caught rendering
PRINT = {"name": "print", "width": 1024, "height": 768, "fit": "contain", "upscale": True,
         "format": "jpeg", "quality": 90}
#: the issue's bound: the surviving worker finishes every job this soon after the kill
RECOVERY_LIMIT = 30.0


def held_locks(f: Fleet, pid: int) -> dict[str, int]:
    """Advisory locks the lock session of process `pid` holds, by kind."""
    rows = f.sql(
        "SELECT l.classid::bigint, count(*) FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = %(name)s "
        "GROUP BY 1", name=f"assetry {pid} locks")
    by_class = dict(rows)
    return {"jobs": by_class.get(JOB_LOCKS, 0), "renders": by_class.get(RENDER_LOCKS, 0)}


def jobs_held_by(f: Fleet, pid: int) -> list[str]:
    """Ids of the jobs whose claim the lock session of process `pid` holds."""
    rows = f.sql(
        "SELECT j.id::text FROM jobs j JOIN pg_locks l ON l.locktype = 'advisory' "
        "AND l.granted AND l.classid::bigint = %(ns)s "
        "AND l.objid::bigint = (hashtext(j.id::text)::bigint & 4294967295) "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = %(name)s",
        ns=JOB_LOCKS, name=f"assetry {pid} locks")
    return [r[0] for r in rows]


def wait_for(condition: Callable[[], bool], limit: float, what: str) -> float:
    """Poll `condition` every 50 ms; return the seconds it took, or fail after `limit`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            raise AssertionError(f"{what}: not within {limit:g} s")
        time.sleep(0.05)
    return time.monotonic() - started


def check_version(client: httpx.Client, version: dict, size: tuple[int, int]) -> None:
    r = client.get(version["url"])
    assert r.status_code == 200, r.text
    assert len(r.content) == version["size"]
    image = load(r.content)
    assert (image.width, image.height) == (version["width"], version["height"]) == size


def test_two_servers_two_workers_one_killed_mid_render_lose_nothing(
    pair: Pair, summary: Callable[[str], None],
) -> None:
    f, (a, b) = pair.fleet, (pair.a, pair.b)
    started = time.monotonic()
    doomed, survivor = f.workers("worker-1", "worker-2")  # default settings: 2 loops each
    workers_seconds = time.monotonic() - started
    pool = "cluster"
    assert a.put(f"/api/pools/{pool}", json={"asset_types": ["image"]}).status_code == 201

    def in_pool(query: str) -> int:
        return int(f.sql(query, pool=pool)[0][0])

    def jobs_left() -> int:
        return int(f.sql("SELECT count(*) FROM jobs")[0][0])

    # 1. Uploads spread over both servers at once; each version read through the other.
    started = time.monotonic()
    with ThreadPoolExecutor(8) as threads:
        answers = list(threads.map(
            lambda i: upload((a, b)[i % 2], noise(640, 480, seed=i), f"p{i}.jpg", pool),
            range(UPLOADS)))
    upload_seconds = time.monotonic() - started
    assert [r.status_code for r in answers] == [201] * UPLOADS
    assets = [r.json() for r in answers]
    with ThreadPoolExecutor(8) as threads:
        list(threads.map(
            lambda i: [check_version((b, a)[i % 2], assets[i]["versions"][name], size)
                       for name, size in DEFAULT_VERSIONS.items()],
            range(UPLOADS)))

    # 2. A convert of every asset: one job each, for the two workers.
    assert a.put("/api/converters/print", json={"versions": [PRINT]}).status_code == 201
    convert_started = time.monotonic()
    with ThreadPoolExecutor(8) as threads:
        converted = list(threads.map(
            lambda i: (a, b)[i % 2].post(f"{assets[i]['url']}/convert",
                                         json={"converter": "print"}),
            range(UPLOADS)))
    assert [r.status_code for r in converted] == [200] * UPLOADS

    # 3. Half way through, SIGKILL worker 1 while it renders: it holds a claimed job and
    # a render lock at that moment.
    wait_for(lambda: jobs_left() <= UPLOADS // 2, 60, "half the jobs done")
    wait_for(lambda: held_locks(f, doomed.pid)["renders"] > 0, 30, "worker 1 rendering")
    orphaned = jobs_held_by(f, doomed.pid)
    os.kill(doomed.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    remaining = jobs_left()
    assert orphaned, "worker 1 held no job when it was killed"
    doomed.proc.wait(10)

    # 4. Worker 2 takes over the dead worker's jobs and finishes every one.
    requeued_after = wait_for(  # back in the queue (and perhaps claimed again), or done
        lambda: not f.sql("SELECT 1 FROM jobs WHERE id::text = ANY(%(ids)s) AND "
                          "coalesce(last_error, '') NOT LIKE 'requeued%%'", ids=orphaned),
        RECOVERY_LIMIT, "the dead worker's jobs put back")
    wait_for(lambda: jobs_left() == 0 and in_pool(
        "SELECT count(*) FROM versions v JOIN assets a ON a.id = v.asset_id WHERE "
        "a.pool = %(pool)s AND v.name = 'print' AND v.status = 'ready'") == UPLOADS,
        RECOVERY_LIMIT - (time.monotonic() - killed_at), "every job finished")
    recovered_after = time.monotonic() - killed_at
    convert_seconds = time.monotonic() - convert_started
    assert survivor.proc.poll() is None

    # 5. Nothing lost, nothing twice, nothing left over. verify and gc start now and run
    # beside the reads (neither writes; nothing else is written until they are done).
    checks = [f.spawn_cli("verify"), f.spawn_cli("gc", "--dry-run")]
    assert f.sql("SELECT count(*) FROM jobs") == [(0,)]  # none failed either
    assert f.sql("SELECT asset_id, name FROM versions GROUP BY 1, 2 "
                 "HAVING count(*) > 1") == []
    assert f.sql("SELECT v.status, count(*) FROM versions v JOIN assets a ON "
                 "a.id = v.asset_id WHERE a.pool = %(pool)s GROUP BY 1",
                 pool=pool) == [("ready", UPLOADS * 3)]
    with ThreadPoolExecutor(8) as threads:
        list(threads.map(
            lambda i: check_version(
                (b, a)[i % 2], (a, b)[i % 2].get(assets[i]["url"]).json()
                ["versions"]["print"], (PRINT["width"], PRINT["height"])),
            range(UPLOADS)))
    verify, gc = (f.finish_cli(c) for c in checks)
    assert (verify.returncode, verify.stdout) == (0, "0 missing blob(s)\n"), verify
    # Nothing listed, every count 0 (orphaned blobs, and what else gc collects).
    assert gc.returncode == 0, gc
    assert "0 orphaned blob(s) found" in gc.stdout.splitlines(), gc.stdout
    assert all(line.startswith("0 ") for line in gc.stdout.splitlines()), gc.stdout

    # 6. One server stops; the other keeps serving, reads and writes.
    server_a = pair.servers[0]
    server_a.proc.send_signal(signal.SIGTERM)
    assert server_a.proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises it
    assert "Application shutdown complete" in server_a.log_tail()
    with pytest.raises(httpx.TransportError):
        a.get("/health")
    assert b.get("/health").status_code == 200
    check_version(b, assets[0]["versions"]["thumbnail"], DEFAULT_VERSIONS["thumbnail"])
    late = upload(b, noise(320, 240, seed=99), pool=pool)
    assert late.status_code == 201, late.text
    check_version(b, late.json()["versions"]["detail"], (240, 240))

    summary(
        f"cluster: 2 servers + 2 workers (workers up in {workers_seconds:.1f} s); "
        f"{UPLOADS} uploads over both servers in {upload_seconds:.1f} s, "
        f"{UPLOADS * len(DEFAULT_VERSIONS)} versions read back through the other; "
        f"{UPLOADS} convert jobs; worker 1 SIGKILLed mid-render holding "
        f"{len(orphaned)} claimed job(s), {remaining} jobs not done; its jobs were back in "
        f"the queue {requeued_after:.1f} s later and worker 2 finished every job "
        f"{recovered_after:.1f} s after the kill ({convert_seconds:.1f} s for all the "
        f"converts); {UPLOADS * 3} versions ready, no job lost or failed, no duplicate "
        f"row, verify and gc --dry-run clean; server A stopped, server B kept serving")
