"""open_blob_store: one URL scheme per back-end, and ConfigError for the rest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from obstore.store import LocalStore, MemoryStore, S3Store

from assetry.blobs import ObstoreBlobStore, open_blob_store
from assetry.errors import ConfigError


@pytest.fixture(autouse=True)
def no_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)


def s3_of(url: str) -> S3Store:
    store = open_blob_store(url)
    assert isinstance(store, ObstoreBlobStore)
    assert isinstance(store.store, S3Store)
    return store.store


def test_open_blob_store_memory() -> None:
    store = open_blob_store("memory://")
    assert isinstance(store, ObstoreBlobStore)
    assert isinstance(store.store, MemoryStore)


def test_open_blob_store_memory_gives_a_fresh_store_each_time() -> None:
    first, second = open_blob_store("memory://"), open_blob_store("memory://")
    assert isinstance(first, ObstoreBlobStore)
    assert isinstance(second, ObstoreBlobStore)
    assert first.store is not second.store


def test_open_blob_store_file_creates_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "blobs dir"
    store = open_blob_store(root.as_uri())  # as_uri percent-encodes the space
    assert root.is_dir()
    assert isinstance(store, ObstoreBlobStore)
    assert isinstance(store.store, LocalStore)
    assert store.local_path("k") == root.resolve() / "k"


@pytest.mark.parametrize(
    "url",
    ["file://relative/path", "file:relative", "file:///tmp/x?mode=1", "file://host/tmp/x"],
)
def test_open_blob_store_file_needs_an_absolute_local_path(url: str) -> None:
    with pytest.raises(ConfigError, match="file"):
        open_blob_store(url)


def test_open_blob_store_file_that_cannot_be_created_raises_config_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(ConfigError, match="blob directory"):
        open_blob_store((tmp_path / "a-file" / "blobs").as_uri())


def test_open_blob_store_s3_path_style_with_query_credentials() -> None:
    store = s3_of(
        "s3://media?endpoint=http://127.0.0.1:8333&region=eu-west-1&prefix=assetry/"
        "&access_key_id=AK&secret_access_key=SK"
    )
    assert store.config["bucket"] == "media"
    assert store.config["endpoint"] == "http://127.0.0.1:8333"
    assert store.config["region"] == "eu-west-1"
    assert store.config["access_key_id"] == "AK"
    assert store.config["secret_access_key"] == "SK"
    assert str(store.config["virtual_hosted_style_request"]).lower() == "false"
    assert store.prefix == "assetry"
    assert store.client_options is not None
    assert str(store.client_options["allow_http"]).lower() == "true"


def test_open_blob_store_s3_https_endpoint_does_not_allow_http() -> None:
    store = s3_of("s3://media?endpoint=https://s3.example.com&access_key_id=A&secret_access_key=S")
    assert store.client_options is not None
    assert str(store.client_options.get("allow_http", "false")).lower() == "false"


def test_open_blob_store_s3_credentials_and_region_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    store = s3_of("s3://media?endpoint=http://127.0.0.1:8333")
    assert store.config["access_key_id"] == "env-key"
    assert store.config["secret_access_key"] == "env-secret"
    assert store.config["region"] == "ap-south-1"


def test_open_blob_store_s3_query_credentials_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    store = s3_of("s3://media?access_key_id=q-key&secret_access_key=q-secret")
    assert store.config["access_key_id"] == "q-key"
    assert store.config["region"] == "us-east-1"


def test_open_blob_store_s3_timeouts_and_retries() -> None:
    store = s3_of(
        "s3://media?access_key_id=A&secret_access_key=S&connect_timeout=0.5&timeout=7&max_retries=0"
    )
    assert store.client_options is not None
    assert store.client_options["connect_timeout"] in ("500ms", timedelta(milliseconds=500))
    assert store.client_options["timeout"] in ("7s", timedelta(seconds=7))
    assert store.retry_config is not None
    assert store.retry_config["max_retries"] == 0


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("s3://", "s3://BUCKET"),
        ("s3://user:pw@bucket", "s3://BUCKET"),
        ("s3://bucket/some/prefix", r"\?prefix="),
        ("s3://bucket?endpont=http://x", "unknown s3 blob store parameter"),
        ("s3://bucket?region=a&region=b", "2 times"),
        ("s3://bucket?endpoint=ftp://x", "http"),
        ("s3://bucket?access_key_id=A", "both"),
        ("s3://bucket?timeout=soon", "seconds"),
        ("s3://bucket?connect_timeout=0", "seconds"),
        ("s3://bucket?max_retries=-1", "whole number"),
        ("s3://bucket?prefix=a/../b", "prefix"),
    ],
)
def test_open_blob_store_s3_rejects_bad_urls(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        open_blob_store(url)


def test_open_blob_store_s3_half_credentials_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "only-the-key")
    with pytest.raises(ConfigError, match="AWS_SECRET_ACCESS_KEY"):
        open_blob_store("s3://bucket")


@pytest.mark.parametrize("url", ["memory://x", "memory:///x", "memory://?a=b"])
def test_open_blob_store_memory_takes_nothing_more(url: str) -> None:
    with pytest.raises(ConfigError, match="memory://"):
        open_blob_store(url)


@pytest.mark.parametrize("url", ["ftp://host/x", "gs://bucket", "/var/blobs", ""])
def test_open_blob_store_unknown_scheme_names_the_supported_ones(url: str) -> None:
    with pytest.raises(ConfigError, match="file, memory, s3"):
        open_blob_store(url)
