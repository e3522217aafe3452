"""The metadata-at-scale data set of bench_scale.py: realistic rows, made and loaded fast.

The shape: four pools (`photos`, public and the biggest; `products` and `documents`,
private; `default`). Images have two ready versions each (the default converter's
`detail` and `thumbnail`); files have none and come one per upload (most of `documents`,
a few % of the other pools). Images come in bursts uploaded together: 40 % alone (their
gallery is their own id, as for an upload without `gallery`), the rest in galleries of 2
to 400 images (log-normal, median 5). 1 % of the assets are hidden; about 10 % are
attached to a resource (`article:N`, one to a few assets each). Generation is seeded:
every run, and both databases, get the same rows.

A stage is a slice of the upload history counted back from the newest upload. The first
stage is the newest and holds the fixtures the benchmark measures; a later stage is older
history, so the fixtures' galleries and the first listing pages are the same rows before
and after it is loaded.

Rows are made directly in their stored form, as tuples in the column order of the Core
tables in `assetry.db.tables` (32-digit hex ids, `YYYY-MM-DD HH:MM:SS.ffffff` UTC times,
JSON text, 0/1 booleans: what SQLAlchemy binds on SQLite). `check_encoding` proves that
form round-trips through the tables' own type processors. SQLite takes the tuples by
executemany of the tables' compiled INSERT; PostgreSQL takes them as COPY text (in a UTC
session) into the tables' column lists. Building domain objects and binding them through
SQLAlchemy instead took about twice as long.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from assetry.db.tables import assets, attachments, pools, versions
from assetry.domain.converter import DEFAULT_CONVERTER

#: The newest upload; a stage's `offset` counts back from it.
NEWEST = datetime(2026, 11, 1, tzinfo=UTC)
#: Mean seconds between two uploads (a million of them span about 3.5 years).
UPLOAD_GAP_S = 110

#: name -> (share of the uploads, public, share of its uploads that are a file)
POOLS: dict[str, tuple[float, bool, float]] = {
    "photos": (0.55, True, 0.15),
    "products": (0.30, False, 0.10),
    "documents": (0.10, False, 0.90),
    "default": (0.05, True, 0.30),
}
HIDDEN_SHARE = 0.01
ATTACHED_SHARE = 0.10
SINGLE_SHARE = 0.40  #: bursts of one image without a gallery id
MAX_GALLERY = 400

#: The fixtures the benchmark measures, all visible images in `photos`, first stage.
FIXTURE_POOL = "photos"
SMALL_GALLERY = "bench-gallery-10"
BIG_GALLERY = "bench-gallery-200"
FIXTURE_GALLERIES = {SMALL_GALLERY: 10, BIG_GALLERY: 200}
FIXTURE_RESOURCE = "article:bench"
FIXTURE_RESOURCE_ASSETS = 3

#: The column order the tuples are made in; check_encoding compares it with the tables.
ASSET_COLUMNS = ("id", "pool", "type", "filename", "mime_type", "size", "sha256", "blob_key",
                 "width", "height", "frames", "gallery", "converter", "metadata", "hidden",
                 "creator", "modified_by", "created_at", "modified_at")
VERSION_COLUMNS = ("id", "asset_id", "name", "spec", "status", "width", "height", "mime_type",
                   "size", "sha256", "blob_key", "error", "created_at")
ATTACHMENT_COLUMNS = ("asset_id", "resource", "created_at", "seq")
TABLES = ((assets, ASSET_COLUMNS), (versions, VERSION_COLUMNS),
          (attachments, ATTACHMENT_COLUMNS))

_SPECS = [(spec.name, json.dumps(spec.to_json())) for spec in DEFAULT_CONVERTER.versions]
_VERSION_FACTS = {"detail": (800, 533, 61_000), "thumbnail": (100, 100, 3_900)}
_V4 = (0x4000 << 64) | (0x8000 << 48)  #: version 4, RFC 4122 variant
_V4_MASK = ~((0xF000 << 64) | (0xC000 << 48))

Row = tuple[Any, ...]
T = TypeVar("T")


@dataclass(frozen=True)
class Stage:
    """`count` uploads, the first one `offset` uploads older than the newest."""

    count: int
    offset: int
    seed: int
    fixtures: bool  #: whether the fixtures the benchmark asks for go in (first stage only)


@dataclass
class Batch:
    """Rows for one transaction, in stored form: assets, their versions, attachments."""

    assets: list[Row] = field(default_factory=list)
    versions: list[Row] = field(default_factory=list)
    attachments: list[Row] = field(default_factory=list)

    def rows(self) -> tuple[tuple[sa.Table, list[Row]], ...]:
        return ((assets, self.assets), (versions, self.versions),
                (attachments, self.attachments))


class Burst(NamedTuple):
    """Uploads made together: one file, one image, or the images of one gallery."""

    pool: str
    size: int
    gallery: str | None = None
    resource: str | None = None  #: what every asset of the burst is attached to
    files: bool = False
    fixture: bool = False  #: visible images the benchmark asks for by name


class Generator:
    """The rows of one stage, newest first, in bursts of uploads."""

    def __init__(self, stage: Stage) -> None:
        self._stage = stage
        self._rng = random.Random(stage.seed)
        self._pool_names = list(POOLS)
        self._pool_weights = [share for share, _, _ in POOLS.values()]
        self._article = stage.seed * 10_000_000
        self._made = 0  #: assets made so far; the next one is this much older than offset

    def batch(self) -> Batch:
        batch = Batch()
        for burst in self._bursts():
            for _ in range(burst.size):
                self._add(batch, burst)
        return batch

    def _bursts(self) -> Iterator[Burst]:
        stage, rng = self._stage, self._rng
        made = 0
        planted = self._fixtures() if stage.fixtures else []
        # The fixtures go in among the first few thousand uploads of the stage.
        chance = min(1.0, 20 * len(planted) / stage.count) if planted else 0.0
        while made < stage.count:
            if planted and rng.random() < chance:
                burst = planted.pop()
            else:
                pool = rng.choices(self._pool_names, self._pool_weights)[0]
                if rng.random() < POOLS[pool][2]:
                    burst = Burst(pool, 1, files=True)
                elif rng.random() < SINGLE_SHARE:
                    burst = Burst(pool, 1)
                else:
                    burst = Burst(pool, self._gallery_size())
            size = min(burst.size, stage.count - made)
            if burst.gallery is None and size > 1:
                burst = burst._replace(gallery=f"g{stage.seed}-{stage.offset + made}")
            yield burst._replace(size=size)
            made += size
        if planted:
            raise RuntimeError(f"a stage of {stage.count} assets is too small for its fixtures")

    def _fixtures(self) -> list[Burst]:
        planted = [Burst(FIXTURE_POOL, size, gallery=name, fixture=True)
                   for name, size in FIXTURE_GALLERIES.items()]
        planted += [Burst(FIXTURE_POOL, 1, resource=FIXTURE_RESOURCE, fixture=True)
                    ] * FIXTURE_RESOURCE_ASSETS
        self._rng.shuffle(planted)
        return planted

    def _gallery_size(self) -> int:
        return max(2, min(MAX_GALLERY, round(self._rng.lognormvariate(1.6, 1.0))))

    def _uuid(self) -> tuple[str, str]:
        """A random version-4 id as (stored 32-digit hex, dashed text)."""
        h = f"{(self._rng.getrandbits(128) & _V4_MASK) | _V4:032x}"
        return h, f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _add(self, batch: Batch, burst: Burst) -> None:
        rng = self._rng
        position = self._stage.offset + self._made
        self._made += 1
        hex_id, text_id = self._uuid()
        # (random() is several times cheaper than randrange(), which adds up here.)
        at = (NEWEST - timedelta(microseconds=position * UPLOAD_GAP_S * 1_000_000
                                 + 1 + int(rng.random() * (UPLOAD_GAP_S * 1_000_000 - 1)))
              ).replace(tzinfo=None).isoformat(" ", "microseconds")
        pool, is_file = burst.pool, burst.files
        creator = f"editor-{int(rng.random() * 40)}"
        batch.assets.append((
            hex_id, pool, "file" if is_file else "image",
            f"report_{position}.pdf" if is_file else f"IMG_{position}.jpg",
            "application/pdf" if is_file else "image/jpeg",
            40_000 + int(rng.random() * 5_960_000), f"{rng.getrandbits(256):064x}",
            f"originals/{hex_id[:2]}/{text_id}/{rng.getrandbits(64):016x}",
            None if is_file else 4000, None if is_file else 2667, 1,
            burst.gallery or text_id, None if is_file else "default",
            f'{{"caption": "upload {position}", "source": "bench"}}',
            0 if burst.fixture or rng.random() >= HIDDEN_SHARE else 1,
            creator, creator, at, at,
        ))
        if not is_file:
            for name, spec in _SPECS:
                width, height, size = _VERSION_FACTS[name]
                version_hex, version_text = self._uuid()
                batch.versions.append((
                    version_hex, hex_id, name, spec, "ready", width, height, "image/jpeg",
                    size, f"{rng.getrandbits(256):064x}",
                    f"versions/{hex_id[:2]}/{text_id}/{version_text}", None, at,
                ))
        resource = burst.resource
        if resource is None and rng.random() < ATTACHED_SHARE:
            # A new article every other attachment: one to a few assets per article.
            self._article += rng.random() < 0.5
            resource = f"article:{self._article}"
        if resource is not None:
            batch.attachments.append((hex_id, resource, at, 1))


def chunks(stage: Stage, size: int) -> list[Stage]:
    """The stage as independent chunks of `size` assets, each seeded by its position:
    the rows depend on the chunk size, never on the order or process they are made in."""
    return [Stage(count=min(size, stage.count - start), offset=stage.offset + start,
                  seed=stage.seed * 1000 + number, fixtures=stage.fixtures and number == 0)
            for number, start in enumerate(range(0, stage.count, size))]


def made_ahead(make: Callable[[Stage], T], stages: list[Stage], ahead: int = 2
               ) -> Iterator[T]:
    """make(stage) for each stage in order, computed up to `ahead` stages in advance in
    another process, so that making rows runs beside the database's work on a second
    core instead of before it. At most `ahead` + 1 results wait in memory."""
    with ProcessPoolExecutor(max_workers=1) as worker:
        pending: deque[Future[T]] = deque()
        for stage in stages:
            pending.append(worker.submit(make, stage))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def check_encoding(dialect: Dialect) -> None:
    """Fail at once, not a million rows later, if the tuples stop matching the tables:
    same columns in the same order, and every value equal to what the column's own type
    binds after reading it back (so SQLAlchemy reads and writes exactly these forms)."""
    batch = Generator(Stage(count=2000, offset=0, seed=0, fixtures=True)).batch()
    for table, rows in batch.rows():
        columns = next(c for t, c in TABLES if t is table)
        if tuple(table.c.keys()) != columns:
            raise RuntimeError(f"{table.name} has columns {table.c.keys()}, "
                               f"the generator makes {columns}")
        for column, value in zip(table.c, rows[0], strict=True):
            read = column.type._cached_result_processor(dialect, None)
            bind = column.type._cached_bind_processor(dialect)
            decoded = read(value) if read else value
            if (bind(decoded) if bind else decoded) != value:
                raise RuntimeError(f"{table.name}.{column.name}: {value!r} does not "
                                   "round-trip through its column type")


def pool_rows() -> list[dict[str, Any]]:
    """The benchmark's pools other than `default` (the first migration makes that one)."""
    now = datetime.now(UTC)
    return [{"name": name, "title": name.title(), "asset_types": ["image", "file"],
             "max_size": 16 * 1024 * 1024, "converter": "default", "public": public,
             "created_at": now}
            for name, (_, public, _) in POOLS.items() if name != "default"]


def insert_pools(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(pools), pool_rows())


# -- loaders -----------------------------------------------------------------------------


def load_sqlite(engine: sa.Engine, stage: Stage, batch_size: int) -> Iterator[dict[str, int]]:
    """executemany the tables' compiled INSERTs, one transaction per batch; yields the
    running row counts by table."""
    inserts = {table.name: str(sa.insert(table).compile(dialect=engine.dialect))
               for table, _ in TABLES}
    counts = dict.fromkeys(inserts, 0)
    for batch in made_ahead(_rows, chunks(stage, batch_size)):
        with engine.begin() as conn:
            for name, rows in batch:
                if rows:
                    conn.exec_driver_sql(inserts[name], rows)
                counts[name] += len(rows)
        yield counts


def load_postgres(url: str, stage: Stage, batch_size: int) -> Iterator[dict[str, int]]:
    """COPY into the tables' columns, one transaction per batch; yields the running row
    counts by table."""
    copies = {table.name: "COPY {} ({}) FROM STDIN".format(
                  table.name, ", ".join(f'"{c.name}"' for c in table.c))
              for table, _ in TABLES}
    counts = dict.fromkeys(copies, 0)
    with psycopg.connect(url) as conn:
        # The stored form's times are UTC wall-clock digits.
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        for batch in made_ahead(_copy_text, chunks(stage, batch_size)):
            with conn.transaction(), conn.cursor() as cur:
                for name, rows, text in batch:
                    if rows:
                        with cur.copy(copies[name]) as copy:
                            copy.write(text)
                    counts[name] += rows
            yield counts


def _rows(stage: Stage) -> list[tuple[str, list[Row]]]:
    return [(table.name, rows) for table, rows in Generator(stage).batch().rows()]


def _copy_text(stage: Stage) -> list[tuple[str, int, str]]:
    """(table, row count, COPY text) of each table. The generated values hold no tab,
    newline or backslash, so nothing needs escaping; PostgreSQL reads 0/1 as booleans and
    32 hex digits as a uuid."""
    return [(table.name, len(rows), "".join(
                "\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows))
            for table, rows in Generator(stage).batch().rows()]
