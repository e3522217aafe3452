"""Settings: every knob typed, defaulted and described; read once at an entry point."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Everything an operator can change. Environment variables use the ASSETRY_ prefix."""

    model_config = SettingsConfigDict(env_prefix="ASSETRY_", extra="ignore")

    data_dir: Path = Field(
        Path("var"),
        description="Directory for the embedded defaults: the SQLite file, the local blob "
        "directory and the upload spool.",
    )
    database_url: str | None = Field(
        None,
        description="Metadata database: sqlite:///PATH or postgresql://USER@HOST:PORT/DB. "
        "Default: sqlite:///DATA_DIR/assetry.db.",
    )
    storage_url: str | None = Field(
        None,
        description="Blob store: file:///PATH, memory:// or s3://BUCKET?endpoint=URL. "
        "Default: file:///DATA_DIR/blobs.",
    )
    max_upload_size: int = Field(
        16 * MiB,
        gt=0,
        description="Global cap on one upload in bytes; no pool may allow more. Default 16 MiB.",
    )
    max_pixels: int = Field(
        100_000_000,
        gt=0,
        description="Largest image accepted, in pixels, counting every frame of an animation. "
        "Checked from the header before decoding.",
    )
    render_workers: int = Field(
        2,
        ge=0,
        description="Background render workers in the embedded job queue (0 disables them: "
        "versions are then only rendered on demand or by another process).",
    )
    render_threads: int = Field(
        2,
        ge=1,
        description="Largest number of libvips renders running at once in one process. "
        "Uploads are served first, then GETs of versions not made yet, then background "
        "jobs.",
    )
    render_slots: int = Field(
        0,
        ge=0,
        description="Renders running at once across every process of the service on this "
        "host (each process's render threads wait for one). 0: one per CPU core.",
    )
    render_queue: int = Field(
        8,
        ge=0,
        description="GETs of not-yet-made versions that may wait for a render slot in one "
        "process; one more answers 503 with Retry-After instead of queueing without bound. "
        "Concurrent GETs of the same version share one render and count once.",
    )
    processes: int = Field(
        0,
        ge=0,
        description="HTTP worker processes of `assetry serve` (each with its own render "
        "threads and background workers). 0: one per CPU core.",
    )
    home_cores: bool = Field(
        True,
        description="With several HTTP worker processes and a CPU core for each, each "
        "process keeps its Python threads on a core of its own while it serves at most one "
        "request (libvips' pixel threads run on every core). false: the kernel places "
        "every thread.",
    )
    render_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds one render of an asset's versions may take before it fails.",
    )
    job_max_attempts: int = Field(
        5, ge=1, description="Tries of a job whose failures look transient before it is given up."
    )
    job_poll_interval: float = Field(
        1.0,
        gt=0,
        description="Seconds an idle render worker waits before looking for due jobs again. "
        "On PostgreSQL a new job wakes every worker at once (LISTEN/NOTIFY), so this is "
        "only the fallback; on SQLite it is how a separate `assetry worker` notices jobs.",
    )
    cache_max_age: int = Field(
        3600,
        ge=0,
        description="Cache-Control max-age (seconds) on original and version bytes. "
        "ETags change whenever the bytes do, so clients revalidate cheaply.",
    )
    url_signing_secret: SecretStr | None = Field(
        None,
        description="HMAC key for the signed version and content URLs of non-public pools "
        "(at least 16 bytes). Default: generated once into DATA_DIR/url-signing.key. Every "
        "process serving the same data must share it.",
    )
    signed_url_ttl: int = Field(
        3600,
        ge=60,
        description="Seconds a signed URL stays valid, at least (at most twice this; expiries "
        "are rounded so URLs stay cacheable).",
    )
    transforms_per_pool: int = Field(
        1000,
        ge=0,
        description="Stored results of on-the-fly transforms (GET /api/assets/{id}/render) "
        "each pool keeps; `assetry gc` removes the least recently used beyond it.",
    )
    import_timeout: float = Field(
        30.0, gt=0, description="Seconds a URL import may take in all (connect, redirects, "
        "body); past it the import answers 504."
    )
    import_connect_timeout: float = Field(
        5.0, gt=0, description="Seconds a URL import waits for each connection."
    )
    import_allowed_ports: list[int] = Field(
        default_factory=list,
        description="Extra ports URL imports may use, as a JSON list, e.g. [8080]. Unset, "
        "http may use 80 and https 443; set, either scheme may use 80, 443 or these. "
        "Addresses are always checked.",
    )
    delivery_cache_ttl: float = Field(
        2.0,
        ge=0,
        description="Seconds a process keeps an asset's metadata for byte deliveries, "
        "and which pools are public (to sign URLs in asset JSON) (0 disables). The "
        "process that changes an asset forgets it at once. On PostgreSQL every other "
        "process hears of the change within milliseconds (LISTEN/NOTIFY); on SQLite "
        "other processes may lag this long behind a hide or delete.",
    )
    resumable_upload_expiry: float = Field(
        86400.0,
        gt=0,
        description="Seconds an unfinished resumable (tus) upload is kept after its creation "
        "or its last accepted PATCH; after that it answers 410 and `assetry gc` removes it and "
        "its stored bytes. A finished upload's record (which names its asset) is kept as long.",
    )
    delivery: Literal["stream", "redirect", "accel"] = Field(
        "stream",
        description="How original and version bytes leave the service, after the same "
        "access checks: `stream` sends them through Python; `redirect` answers 302 to a "
        "short-lived presigned URL of the object (S3 stores with static credentials; "
        "streams otherwise); `accel` answers with X-Accel-Redirect so that nginx in front "
        "sends the file (local blob directories; streams otherwise).",
    )
    redirect_ttl: int = Field(
        300,
        ge=1,
        le=302_400,  # twice this must stay within S3's seven-day limit on presigned URLs
        description="With ASSETRY_DELIVERY=redirect: seconds a presigned URL stays valid, "
        "at least (at most twice this: URLs are issued per window so browsers can cache "
        "the bytes); the 302 itself may be cached this long.",
    )
    accel_prefix: str = Field(
        "/_assetry_blobs/",
        description="With ASSETRY_DELIVERY=accel: the internal nginx location the blob "
        "directory is served from; X-Accel-Redirect is this prefix plus the blob key.",
    )
    direct_upload_ttl: int = Field(
        900,
        ge=1,
        le=604_800,  # S3's limit on presigned URLs: seven days
        description="Seconds a direct upload's presigned PUT URL stays valid. The upload "
        "must be completed within twice this; after that it has expired and `assetry gc` "
        "deletes it and the object.",
    )
    host: str = Field("127.0.0.1", description="Address `assetry serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `assetry serve` listens on.")
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")

    @field_validator("accel_prefix")
    @classmethod
    def _check_accel_prefix(cls, value: str) -> str:
        if not (value.startswith("/") and value.endswith("/")) or "//" in value:
            raise ValueError("must be a location path that starts and ends with /, "
                             "e.g. /_assetry_blobs/")
        return value

    @model_validator(mode="after")
    def _fill_urls(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'assetry.db').resolve()}"
        if self.storage_url is None:
            self.storage_url = f"file://{(self.data_dir / 'blobs').resolve()}"
        return self

    @property
    def spool_dir(self) -> Path:
        """Where incoming bytes are hashed and checked before they reach the blob store."""
        return self.data_dir / "spool"

    @property
    def process_count(self) -> int:
        """How many HTTP worker processes `assetry serve` runs (`processes`, 0: one per
        core)."""
        return self.processes or os.cpu_count() or 1

    @property
    def run_dir(self) -> Path:
        """Where this host's processes of the service coordinate (render slot and home core
        locks)."""
        return self.data_dir / "run"

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    @property
    def blob_url(self) -> str:
        assert self.storage_url is not None
        return self.storage_url
