"""Metadata at scale: the same requests at 10,000 and at 1,000,000 assets, SQLite and PostgreSQL.

Loads a realistic catalogue (bench/_scale_data.py) into a migrated SQLite file and into a
throwaway PostgreSQL cluster: the first 10,000 assets, a snapshot of that, then 990,000
older ones. Then one real `assetry serve` process per database and size answers the same
requests, interleaved round by round so that the noise of a shared machine hits every
size alike: a gallery of 10 images, one of 200, the first listing page of the biggest
pool, a page half-way down its cursor, and the listing filtered by type, by gallery and
by attachment. It reports p50, p90 and p99 per size and the ratios of p50 and p99.

It also EXPLAINs every SELECT those requests run (captured from an in-process server on
the biggest databases) and exits with status 1 if any plan reads a whole `assets`,
`versions` or `attachments` table, or if a p50 at the biggest size is more than
--max-ratio times the one at the smallest.

    .venv/bin/python bench/bench_scale.py [--sizes 10000 1000000] [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# tests.support holds the throwaway PostgreSQL cluster, the in-process server, the token
# maker and the plan checks; the benchmark uses them as the tests do.
sys.path.insert(0, str(ROOT))

import _scale_data as data  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from _harness import Client, assetry_server, percentile  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.dialects import sqlite as sqlite_dialect  # noqa: E402
from tests.support.plans import Query, captured_queries, distinct, explain, full_scans  # noqa: E402
from tests.support.postgres import (  # noqa: E402
    PostgresServer,
    create_database,
    postgres_bindir,
    running_postgres,
)
from tests.support.server import live_server  # noqa: E402
from tests.support.tokens import make_tokens  # noqa: E402

from assetry.db import migrate  # noqa: E402
from assetry.db.assets import encode_cursor  # noqa: E402
from assetry.db.engine import sync_url  # noqa: E402
from assetry.db.tables import assets  # noqa: E402

BATCH = 20_000  #: assets per load transaction
VIEWER = "bench-viewer"
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.0f} s] {message}", flush=True)


# -- databases -----------------------------------------------------------------------------


@dataclass
class Store:
    """One back-end: a growing database, and a snapshot of it at every size but the last."""

    backend: str
    url: str
    admin: str = ""  #: PostgreSQL: the maintenance database's URL
    sizes: dict[int, str] = field(default_factory=dict)  #: size -> database URL
    loads: list[dict[str, Any]] = field(default_factory=list)

    def prepare(self, work: Path) -> str:
        """Migrate, add the pools and a viewer token; return the token's secret."""
        migrate.upgrade(self.url)
        engine = sa.create_engine(sync_url(self.url))
        try:
            data.insert_pools(engine)
        finally:
            engine.dispose()
        return make_tokens(work / f"tokens-{self.backend}", {VIEWER: "viewer"},
                           database_url=self.url)[VIEWER]

    def grow(self, sizes: list[int], work: Path) -> None:
        """Load the first size, keep a snapshot, load up to the next size, and so on."""
        loaded = 0
        for index, size in enumerate(sizes):
            self.load(data.Stage(count=size - loaded, offset=loaded, seed=index + 1,
                                 fixtures=index == 0))
            loaded = size
            if size != sizes[-1]:
                self.snapshot(size, work)
        self.sizes[sizes[-1]] = self.url
        say(f"{self.backend} at {sizes[-1]:,}: {composition(self.url)}")

    def load(self, stage: data.Stage) -> None:
        say(f"{self.backend}: loading {stage.count:,} assets (from {stage.offset:,})")
        started = time.monotonic()
        rows = self._load_sqlite(stage) if self.backend == "sqlite" else self._load_pg(stage)
        seconds = time.monotonic() - started
        self.loads.append({"from": stage.offset, "to": stage.offset + stage.count,
                           "seconds": seconds, **rows})
        say(f"{self.backend}: loaded {rows['assets']:,} assets, {rows['versions']:,} versions, "
            f"{rows['attachments']:,} attachments in {seconds:.1f} s "
            f"({rows['assets'] / seconds:,.0f} assets/s)")

    def _load_sqlite(self, stage: data.Stage) -> dict[str, int]:
        engine = sa.create_engine(sync_url(self.url))

        @event.listens_for(engine, "connect")
        def _bulk(dbapi_connection: Any, _record: Any) -> None:
            # Durability does not matter for a throwaway file; foreign keys stay checked.
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000",
                           "foreign_keys=ON"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        try:
            return self._progress(stage, data.load_sqlite(engine, stage, BATCH))
        finally:
            engine.dispose()

    def _load_pg(self, stage: data.Stage) -> dict[str, int]:
        rows = self._progress(stage, data.load_postgres(self.url, stage, BATCH))
        self._analyze(self.url)
        return rows

    @staticmethod
    def _progress(stage: data.Stage, counts: Iterator[dict[str, int]]) -> dict[str, int]:
        step = max(BATCH, stage.count // 10)
        shown = 0
        total: dict[str, int] = {}
        for total in counts:
            if total["assets"] - shown >= step:
                shown = total["assets"]
                say(f"  {shown:,} / {stage.count:,}")
        return total

    @staticmethod
    def _analyze(url: str) -> None:
        # What autovacuum does soon after a big load; a fresh COPY has no statistics yet.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")

    def snapshot(self, size: int, work: Path) -> None:
        """Keep a copy of the database as it is now, the `size` one."""
        if self.backend == "sqlite":
            path = work / f"sqlite-{size}" / "assetry.db"
            path.parent.mkdir()
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as source, \
                    sqlite3.connect(path) as target:
                source.backup(target)
            self.sizes[size] = f"sqlite:///{path}"
        else:
            self.sizes[size] = create_database(self.admin, f"assetry_{size}",
                                               template=self.url.rsplit("/", 1)[1])


# -- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    count: int | None = None  #: the exact number of items, where the fixtures fix it


def deep_cursor(url: str) -> str:
    """The cursor half-way down the fixture pool's listing, as a viewer sees it."""
    engine = sa.create_engine(sync_url(url))
    visible = sa.and_(assets.c.pool == data.FIXTURE_POOL, sa.not_(assets.c.hidden))
    try:
        with engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).where(visible)).scalar_one()
            created_at, asset_id = conn.execute(
                sa.select(assets.c.created_at, assets.c.id).where(visible)
                .order_by(assets.c.created_at.desc(), assets.c.id.desc())
                .offset(total // 2).limit(1)).one()
    finally:
        engine.dispose()
    return encode_cursor(created_at, asset_id)


def targets(url: str) -> list[Target]:
    cursor = deep_cursor(url)
    listing = f"/api/pools/{data.FIXTURE_POOL}/assets?limit=50"
    return [
        Target("gallery, 10 images", f"/api/galleries/{data.SMALL_GALLERY}", 10),
        Target("gallery, 200 images", f"/api/galleries/{data.BIG_GALLERY}", 200),
        Target("listing, first page", listing, 50),
        Target("listing, half-way cursor", f"{listing}&cursor={cursor}", 50),
        Target("listing, type=file", f"{listing}&type=file"),
        # Fewer matches than a page: a plan that walks the pool must walk all of it.
        Target("listing, gallery=", f"{listing}&gallery={data.SMALL_GALLERY}", 10),
        Target("listing, attached_to=", f"{listing}&attached_to={data.FIXTURE_RESOURCE}",
               data.FIXTURE_RESOURCE_ASSETS),
    ]


def item_ids(target: Target, status: int, body: bytes) -> list[str]:
    """The ids the answer lists, after checking it is the answer the target expects."""
    if status != 200:
        raise RuntimeError(f"{target.name}: {status} {body[:500]!r}")
    answer = json.loads(body)
    items = answer["images"] if "images" in answer else answer["items"]
    if target.count is not None and len(items) != target.count:
        raise RuntimeError(f"{target.name}: {len(items)} items, expected {target.count}")
    if any(len(item["versions"]) != 2 for item in items if item["type"] == "image"):
        raise RuntimeError(f"{target.name}: an image without its two versions")
    return [item["id"] for item in items]


# -- query plans ---------------------------------------------------------------------------


def check_plans(backend: str, url: str, token: str, work: Path,
                requests: list[Target]) -> list[str]:
    """Print the plan of every SELECT the requests run; return the full scans found."""
    say(f"{backend}: EXPLAIN of every query the requests run")
    first: dict[str, Query] = {}  #: statement -> its first run, with its parameters
    used_by: dict[str, list[str]] = {}  #: statement -> the requests that run it
    with live_server(work / f"explain-{backend}", database_url=url, render_workers=0,
                     log_level="warning") as base:
        client = Client(int(base.rsplit(":", 1)[1]), token)
        for target in requests:
            with captured_queries() as queries:
                status, _, body = client.request("GET", target.path)
                item_ids(target, status, body)
            for query in distinct(queries):
                first.setdefault(query.statement, query)
                used_by.setdefault(query.statement, []).append(target.name)
    engine = sa.create_engine(sync_url(url))
    scans: list[str] = []
    try:
        with engine.connect() as conn:
            for statement, query in first.items():
                plan = explain(conn, query)
                print(f"\n  -- {'; '.join(used_by[statement])}\n  {_short(query.one_line)}")
                for line in plan:
                    print(f"      {_short_plan(line)}")
                scans += [f"{backend}: {line}   <- {_short(query.one_line)}"
                          for line in full_scans(conn.dialect.name, plan)]
            conn.rollback()
    finally:
        engine.dispose()
    print()
    return scans


_PARAMETER = r"(?:\?|%\(\w+\)s(?:::[\w ]+)?)"
_PARAMETERS = re.compile(rf"\({_PARAMETER}(?:, {_PARAMETER}){{2,}}\)")
_LONG_LITERAL = re.compile(r"'\{[^}]{40,}\}'")


def _short(sql: str) -> str:
    """The statement with its select list and its lists of parameters elided."""
    sql = re.sub(r"^SELECT .+? FROM ", "SELECT … FROM ", sql)
    return _PARAMETERS.sub(lambda m: f"(…{m.group(0).count(',') + 1} values)", sql)


def _short_plan(line: str) -> str:
    return _LONG_LITERAL.sub("'{…}'", line)


# -- measuring -------------------------------------------------------------------------------


def serve(stack: ExitStack, stores: list[Store], token: dict[str, str]
          ) -> dict[tuple[str, int], Client]:
    """One `assetry serve` (one HTTP process: requests come one at a time) per back-end and
    size, stopped with `stack`; a viewer's keep-alive client for each."""
    clients = {}
    for store in stores:
        for size, url in store.sizes.items():
            server = stack.enter_context(assetry_server(
                f"serve-{store.backend}-{size}", DATABASE_URL=url, RENDER_WORKERS="0",
                PROCESSES="1"))
            clients[store.backend, size] = Client(server.port, token[store.backend])
            stack.callback(clients[store.backend, size].close)
    return clients


Samples = dict[tuple[str, int, str], list[float]]  #: (backend, size, request) -> seconds


def measure(clients: dict[tuple[str, int], Client], plan: dict[tuple[str, int], list[Target]],
            rounds: int, warmup: int, deadline: float) -> tuple[Samples, dict[Any, list[str]]]:
    """`rounds` timed requests per target and server after `warmup` untimed ones. Each
    round asks every server each request in turn (rotating which server goes first), so
    that whatever else the machine does hits every size alike."""
    keys = list(clients)
    ids: dict[Any, list[str]] = {}
    for key in keys:
        for target in plan[key]:
            ids[(*key, target.name)] = item_ids(target, *_get(clients[key], target.path))
    for _ in range(warmup):
        for key in keys:
            for target in plan[key]:
                clients[key].request("GET", target.path)
    samples: Samples = {(*key, t.name): [] for key in keys for t in plan[key]}
    for done in range(rounds):
        order = keys[done % len(keys):] + keys[:done % len(keys)]
        for index in range(len(plan[keys[0]])):
            for key in order:
                target = plan[key][index]
                started = time.perf_counter()
                status, _ = _get(clients[key], target.path)
                elapsed = time.perf_counter() - started
                if status != 200:
                    raise RuntimeError(f"{key} {target.name}: {status}")
                samples[(*key, target.name)].append(elapsed)
        if (done + 1) % 50 == 0:
            say(f"  {done + 1} / {rounds} rounds")
        if time.monotonic() > deadline:
            say(f"  time budget spent: stopping after {done + 1} rounds")
            break
    return samples, ids


def _get(client: Client, path: str) -> tuple[int, bytes]:
    status, _, body = client.request("GET", path)
    return status, body


# -- report ----------------------------------------------------------------------------------


def machine(pg: PostgresServer | None) -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) // 1024 for line in
                  Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    facts = {"cpu": f"{cpu}, {os.cpu_count()} cores", "memory": f"{memory:,} MB",
             "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    if pg is not None:
        with psycopg.connect(pg.url()) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            facts["postgresql"] = str(row[0]) if row else "?"
    return facts


def composition(url: str) -> str:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            by_pool = conn.execute(
                sa.select(assets.c.pool, assets.c.type, sa.func.count())
                .group_by(assets.c.pool, assets.c.type).order_by(assets.c.pool)).all()
            galleries = conn.execute(sa.text(
                "SELECT count(*), max(n) FROM (SELECT gallery, count(*) AS n FROM assets "
                "GROUP BY gallery HAVING count(*) > 1) AS g")).one()
    finally:
        engine.dispose()
    pools = ", ".join(f"{pool} {kind} {count:,}" for pool, kind, count in by_pool)
    return f"{pools}; {galleries[0]:,} galleries of 2 to {galleries[1]} images"


def report(stores: list[Store], sizes: list[int], plan: dict[tuple[str, int], list[Target]],
           samples: Samples, rounds: int) -> dict[str, Any]:
    small, big = sizes[0], sizes[-1]
    print(f"\nLoad (one transaction per {BATCH:,} assets; PostgreSQL: COPY, then ANALYZE)")
    print(f"{'backend':11} {'assets':>21} {'versions':>10} {'attachm.':>9} {'seconds':>8} "
          f"{'assets/s':>9}")
    for store in stores:
        for load in store.loads:
            print(f"{store.backend:11} {load['from']:>9,} → {load['to']:>9,} "
                  f"{load['versions']:>10,} {load['attachments']:>9,} {load['seconds']:>8.1f} "
                  f"{(load['to'] - load['from']) / load['seconds']:>9,.0f}")
    print(f"\nLatency in ms over {rounds} interleaved requests per target and size "
          f"({small:,} vs {big:,} assets)")
    print(f"{'':38} {f'{small:,} assets':>23} {f'{big:,} assets':>23}")
    print(f"{'backend':11} {'request':26} {'p50':>7} {'p90':>7} {'p99':>7} {'p50':>7} "
          f"{'p90':>7} {'p99':>7} {'p50 x':>6} {'p99 x':>6}")
    rows = []
    for store in stores:
        for target in plan[store.backend, small]:
            row: dict[str, Any] = {"backend": store.backend, "request": target.name}
            for label, size in (("small", small), ("big", big)):
                seconds = samples[store.backend, size, target.name]
                for q in (50, 90, 99):
                    row[f"{label}_p{q}"] = percentile(seconds, q) * 1000
            row["p50_ratio"] = row["big_p50"] / row["small_p50"]
            row["p99_ratio"] = row["big_p99"] / row["small_p99"]
            rows.append(row)
            print(f"{store.backend:11} {target.name:26} " + " ".join(
                f"{row[f'{label}_p{q}']:7.1f}" for label in ("small", "big") for q in (50, 90, 99))
                + f" {row['p50_ratio']:6.2f} {row['p99_ratio']:6.2f}")
    return {"rows": rows}


def same_rows(ids: dict[Any, list[str]], stores: list[Store]) -> None:
    """Both back-ends hold the same rows, so every request must list the same ids."""
    if len(stores) < 2:
        return
    for (backend, size, name), listed in ids.items():
        for other in stores:
            if ids[other.backend, size, name] != listed:
                raise RuntimeError(f"{name} at {size:,}: {backend} and {other.backend} "
                                   "list different assets")
    say("every request lists the same assets on both back-ends")


# -- main ------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--requests", type=int, default=300,
                        help="timed requests per target and size (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=6,
                        help="cap on the timed requests' wall time")
    parser.add_argument("--max-ratio", type=float, default=3.0,
                        help="fail when a request's p50 at the biggest size is more than "
                             "this many times its p50 at the smallest")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def open_stores(stack: ExitStack, backends: list[str], work: Path
                ) -> tuple[PostgresServer | None, list[Store]]:
    pg, stores = None, []
    if "sqlite" in backends:
        stores.append(Store("sqlite", f"sqlite:///{work / 'sqlite' / 'assetry.db'}"))
    if "postgresql" in backends:
        bindir = postgres_bindir()
        if bindir is None:
            sys.exit("PostgreSQL server binaries not found: apt-get install postgresql")
        pg = stack.enter_context(running_postgres(bindir))
        say(f"PostgreSQL at 127.0.0.1:{pg.port}, ready in {pg.started_in:.1f} s")
        stores.append(Store("postgresql", create_database(pg.url(), "assetry_scale"),
                            admin=pg.url()))
    return pg, stores


def verdict(scans: list[str], rows: list[dict[str, Any]], max_ratio: float) -> None:
    slower = [f"{row['backend']} {row['request']}: p50 {row['p50_ratio']:.1f} times as long"
              for row in rows if row["p50_ratio"] > max_ratio]
    if scans:
        print("\nFAIL: these plans read a whole table:\n  " + "\n  ".join(scans))
    if slower:
        print(f"\nFAIL: slower at the biggest size (more than {max_ratio} times the p50):\n  "
              + "\n  ".join(slower))
    if scans or slower:
        sys.exit(1)
    print("\nOK: no plan reads a whole assets, versions or attachments table, and no p50 "
          f"grows more than {max_ratio} times")


def main() -> None:
    args = arguments()
    # A plain `kill` must still stop the servers and remove the throwaway cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = sorted(args.sizes)
    data.check_encoding(sqlite_dialect.dialect())
    work = Path(tempfile.mkdtemp(prefix="assetry-scale-"))
    try:
        with ExitStack() as stack:
            pg, stores = open_stores(stack, args.backends, work)
            facts = machine(pg)
            say("machine: " + "; ".join(f"{k} {v}" for k, v in facts.items())
                + f"; load average {os.getloadavg()[0]:.1f}")
            token = {store.backend: store.prepare(work) for store in stores}
            for store in stores:
                store.grow(sizes, work)
            plan = {(store.backend, size): targets(url)
                    for store in stores for size, url in store.sizes.items()}
            scans = [scan for store in stores for scan in check_plans(
                store.backend, store.url, token[store.backend], work,
                plan[store.backend, sizes[-1]])]
            say(f"starting {sum(len(s.sizes) for s in stores)} `assetry serve` processes")
            clients = serve(stack, stores, token)
            say(f"measuring: {args.warmup} warm-up and {args.requests} timed rounds")
            samples, ids = measure(clients, plan, args.requests, args.warmup,
                                   time.monotonic() + args.minutes * 60)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    same_rows(ids, stores)
    rounds = min(len(seconds) for seconds in samples.values())
    result = report(stores, sizes, plan, samples, rounds)
    result.update(machine=facts, loads={s.backend: s.loads for s in stores},
                  load_average=os.getloadavg()[0], rounds=rounds)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    say(f"done, load average now {os.getloadavg()[0]:.1f}")
    verdict(scans, result["rows"], args.max_ratio)


if __name__ == "__main__":
    main()
