"""Blob stores, chosen by URL scheme and built by a tiny registry."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from obstore.exceptions import BaseError
from obstore.store import LocalStore, MemoryStore, S3Store

from assetry.blobs.obstore_store import ObstoreBlobStore, check_key
from assetry.domain.ports import BlobStore
from assetry.errors import ConfigError

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

__all__ = ["ObstoreBlobStore", "open_blob_store"]

#: query parameters an s3:// URL may carry; anything else is a typo worth failing on
_S3_PARAMS = frozenset(
    {
        "endpoint",
        "region",
        "prefix",
        "access_key_id",
        "secret_access_key",
        "session_token",
        "connect_timeout",
        "timeout",
        "max_retries",
    }
)
_S3_CONNECT_TIMEOUT = 5.0
# A GET stays one request until its last chunk is read, and the web edge streams at the
# client's pace: the overall timeout must outlast a slow download of a large original.
_S3_TIMEOUT = 1800.0
_S3_MAX_RETRIES = 3
# Retries must give up well before a web request or a job would.
_S3_RETRY_TIMEOUT = timedelta(seconds=30)


def open_blob_store(url: str) -> BlobStore:
    """Build the blob store a URL names. Raises ConfigError for a URL it cannot use.

    - ``file:///ABSOLUTE/PATH``: a local directory, created if missing.
    - ``memory://``: a fresh, empty in-process store (tests, throwaway runs).
    - ``s3://BUCKET?endpoint=URL&region=R&prefix=P``: S3 or any S3-compatible server,
      path-style, SigV4. Credentials come from ``access_key_id`` / ``secret_access_key``
      (and optional ``session_token``) in the query, else from AWS_ACCESS_KEY_ID /
      AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else obstore's default AWS chain
      (web identity, instance metadata). Also ``connect_timeout`` and ``timeout`` in
      seconds and ``max_retries``. An http:// endpoint allows plain HTTP.
    """
    parts = urlsplit(url)
    if (factory := _FACTORIES.get(parts.scheme)) is None:
        raise ConfigError(
            f"unsupported blob store scheme {parts.scheme!r}; expected one of "
            f"{', '.join(sorted(_FACTORIES))}"
        )
    return factory(parts)


def _open_file(parts: SplitResult) -> ObstoreBlobStore:
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise ConfigError("a file blob store needs an absolute path: file:///PATH")
    if parts.query or parts.fragment:
        raise ConfigError("a file blob store URL takes no query or fragment")
    root = Path(unquote(parts.path))
    try:
        root.mkdir(parents=True, exist_ok=True)
        return ObstoreBlobStore(LocalStore(root))
    except (OSError, BaseError) as exc:
        raise ConfigError(f"cannot use {root} as the blob directory: {exc}") from exc


def _open_memory(parts: SplitResult) -> ObstoreBlobStore:
    if parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError("a memory blob store URL is just memory://")
    return ObstoreBlobStore(MemoryStore())


def _open_s3(parts: SplitResult) -> ObstoreBlobStore:
    bucket = parts.netloc
    if not bucket or "@" in bucket or ":" in bucket:
        raise ConfigError("an s3 blob store URL is s3://BUCKET?endpoint=URL&region=R&prefix=P")
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigError("give an s3 key prefix as ?prefix=P, not as a URL path")
    query = _single_values(parts.query)
    if unknown := sorted(query.keys() - _S3_PARAMS):
        raise ConfigError(
            f"unknown s3 blob store parameter(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(sorted(_S3_PARAMS))}"
        )

    config: S3Config = {
        "virtual_hosted_style_request": False,
        "region": query.get("region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1",
    }
    client: ClientConfig = {
        "connect_timeout": _seconds(query, "connect_timeout", _S3_CONNECT_TIMEOUT),
        "timeout": _seconds(query, "timeout", _S3_TIMEOUT),
    }
    if (endpoint := query.get("endpoint")) is not None:
        scheme = urlsplit(endpoint).scheme
        if scheme not in ("http", "https"):
            raise ConfigError(f"the s3 endpoint must be an http(s) URL, got {endpoint!r}")
        config["endpoint"] = endpoint
        client["allow_http"] = scheme == "http"
    config.update(_credentials(query))

    prefix = query.get("prefix", "").strip("/") or None
    if prefix is not None:
        try:
            check_key(prefix)
        except ValueError as exc:
            raise ConfigError(f"invalid s3 key prefix {prefix!r}") from exc

    retry: RetryConfig = {
        "max_retries": _count(query, "max_retries", _S3_MAX_RETRIES),
        "retry_timeout": _S3_RETRY_TIMEOUT,
    }
    try:
        store = S3Store(
            bucket, prefix=prefix, config=config, client_options=client, retry_config=retry
        )
    except (BaseError, ValueError) as exc:
        raise ConfigError(f"invalid s3 blob store configuration: {exc}") from exc
    return ObstoreBlobStore(store)


def _credentials(query: Mapping[str, str]) -> S3Config:
    """Query credentials, else environment credentials, else none (obstore's chain)."""
    url_names = ("access_key_id", "secret_access_key", "session_token")
    env_names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    for source, values, names in (
        ("the URL", query, url_names),
        ("the environment", os.environ, env_names),
    ):
        key_id, secret, token = (values.get(name) for name in names)
        if key_id is None and secret is None:
            continue
        if key_id is None or secret is None:
            raise ConfigError(f"s3 credentials in {source} need both {names[0]} and {names[1]}")
        credentials: S3Config = {"access_key_id": key_id, "secret_access_key": secret}
        if token is not None:
            credentials["session_token"] = token
        return credentials
    return {}


def _single_values(query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, given in parse_qs(query, keep_blank_values=True).items():
        if len(given) != 1:
            raise ConfigError(f"s3 blob store parameter {name} is given {len(given)} times")
        values[name] = given[0]
    return values


def _seconds(query: dict[str, str], name: str, default: float) -> timedelta:
    raw = query.get(name)
    try:
        seconds = default if raw is None else float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"s3 blob store parameter {name} must be a positive number of seconds")
    return timedelta(seconds=seconds)


def _count(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ConfigError(f"s3 blob store parameter {name} must be a whole number >= 0")
    return int(raw)


_FACTORIES: dict[str, Callable[[SplitResult], ObstoreBlobStore]] = {
    "file": _open_file,
    "memory": _open_memory,
    "s3": _open_s3,
}
