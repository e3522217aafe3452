"""PrometheusMetrics: the service's metrics kept by prometheus_client, and their text
exposition for /metrics.

It is the adapter behind the Metrics port of the services (services/metrics.py: `bump`,
`observe_render`, `render_failed`) and also takes the web edge's request observations
(`observe_request`). Every name, label and meaning is listed in docs/api.md
("Health, metrics, OpenAPI"); a test checks that every metric here is documented there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from assetry.telemetry.multiprocess import ENVIRONMENT

NAMESPACE = "assetry"
#: the Content-Type of `exposition()`'s text
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

#: the counters the services bump by name (`Metrics.bump`), with what each counts
COUNTERS: Mapping[str, str] = {
    "assets_created": "Assets stored by an upload or a URL import.",
    "assets_replaced": "Assets whose bytes were replaced.",
    "assets_deleted": "Assets deleted.",
    "renders": "Renders that decoded an original, each making one or more versions.",
    "renders_on_demand": "Renders started by a GET of a version not made yet.",
    "versions_rendered": "Versions made and stored, ready to serve.",
    "versions_failed": "Versions stored as failed because their render failed.",
    "transforms_rendered": "On-the-fly transforms rendered (their first request).",
    "transforms_stored_served": "On-the-fly transforms served from their stored result.",
    "byte_lane_requests": "GETs and HEADs of content and version URLs answered by the byte "
                          "lane, without routing.",
}

#: why a render failed (the `reason` label of assetry_render_failures_total)
RENDER_FAILURES = frozenset({"undecodable", "timeout", "version"})

#: request methods that get their own label value; any other is "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: the route label of a request no route matched (unknown paths: never the raw path)
UNMATCHED = "unmatched"

# Seconds. Requests range from sub-millisecond reads to uploads rendered in the request
# and cold renders of large originals; renders from a thumbnail to a 100 MP decode.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_RENDER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class _RequestSeries(NamedTuple):
    """The children of one (method, route, status): labels() is looked up once."""

    requests: Counter
    seconds: Histogram


class _ByteSeries(NamedTuple):
    received: Counter
    sent: Counter


class PrometheusMetrics:
    """The metrics of one process, or of every worker process of one `assetry serve`.

    In a single process (tests, the library, `assetry worker`) the values live in this
    object's own registry, so every instance starts at zero. When PROMETHEUS_MULTIPROC_DIR
    was set before prometheus_client was first imported, as `assetry serve` does for its
    workers, each process writes its values into files there and `exposition` sums the
    files of every process (prometheus_client's multiprocess mode). There must then be
    only one instance per process. Recording never blocks and never raises for a known
    name.
    """

    def __init__(self) -> None:
        directory = os.environ.get(ENVIRONMENT)
        self._directory = Path(directory) if directory else None
        self._registry = CollectorRegistry()
        registry = self._registry
        self._counters = {
            name: Counter(name, meaning, namespace=NAMESPACE, registry=registry)
            for name, meaning in COUNTERS.items()
        }
        self._render_seconds = Counter(
            "render_seconds", "Seconds spent rendering, failed renders included.",
            namespace=NAMESPACE, registry=registry)
        self._render_duration = Histogram(
            "render_duration_seconds",
            "Duration of the renders that made a version, by version name. A render makes "
            "all of an asset's pending versions from one decode, so each version made in "
            "it is observed with the whole render's duration.",
            ["version"], namespace=NAMESPACE, registry=registry, buckets=_RENDER_BUCKETS)
        self._render_failures = Counter(
            "render_failures", "Render failures: the original did not decode "
            "(undecodable), the render ran out of time (timeout), or one version of a "
            "render failed alone (version).",
            ["reason"], namespace=NAMESPACE, registry=registry)
        self._requests = Counter(
            "http_requests", "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"], namespace=NAMESPACE, registry=registry)
        self._request_duration = Histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method, route "
            "template and status.",
            ["method", "route", "status"], namespace=NAMESPACE, registry=registry,
            buckets=_REQUEST_BUCKETS)
        self._received = Counter(
            "http_received_bytes", "Request body bytes received (uploads), by method and "
            "route template.",
            ["method", "route"], namespace=NAMESPACE, registry=registry)
        self._sent = Counter(
            "http_sent_bytes", "Response body bytes sent (deliveries), by method and route "
            "template.",
            ["method", "route"], namespace=NAMESPACE, registry=registry)
        self._request_series: dict[tuple[str, str, int], _RequestSeries] = {}
        self._byte_series: dict[tuple[str, str], _ByteSeries] = {}

    @property
    def multiprocess_directory(self) -> Path | None:
        """Where every process's values are kept, or None in single-process mode."""
        return self._directory

    # -- the Metrics port of the services

    def bump(self, name: str, by: int = 1) -> None:
        """Add `by` to the counter `name` (a key of COUNTERS; any other is a KeyError)."""
        self._counters[name].inc(by)

    def observe_render(self, seconds: float, versions: Sequence[str]) -> None:
        """One render took `seconds` and made `versions` (their names; none when it
        failed, or when an upload's decode made no version)."""
        self._render_seconds.inc(seconds)
        for name in versions:
            self._render_duration.labels(name).observe(seconds)

    def render_failed(self, reason: str, count: int = 1) -> None:
        """`count` renders (or versions, for "version") failed for `reason`, one of
        RENDER_FAILURES."""
        if reason not in RENDER_FAILURES:
            raise ValueError(f"unknown render failure reason {reason!r}")
        self._render_failures.labels(reason).inc(count)

    # -- the web edge

    def observe_request(self, method: str, route: str | None, status: int, seconds: float,
                        received: int, sent: int) -> None:
        """One HTTP request: `route` is its route template (None: no route matched),
        `received` and `sent` the body bytes in and out."""
        method = method if method in _METHODS else "other"
        route = route or UNMATCHED
        key = (method, route, status)
        series = self._request_series.get(key)
        if series is None:
            labels = (method, route, str(status))
            series = _RequestSeries(self._requests.labels(*labels),
                                    self._request_duration.labels(*labels))
            self._request_series[key] = series
        series.requests.inc()
        series.seconds.observe(seconds)
        if received or sent:
            pair = self._byte_series.get((method, route))
            if pair is None:
                pair = _ByteSeries(self._received.labels(method, route),
                                   self._sent.labels(method, route))
                self._byte_series[(method, route)] = pair
            if received:
                pair.received.inc(received)
            if sent:
                pair.sent.inc(sent)

    def exposition(self, jobs: Mapping[str, int] | None) -> bytes:
        """Every metric in Prometheus' text format (CONTENT_TYPE): this process's, or the
        sum over every process in multiprocess mode; plus `assetry_jobs{state}` from
        `jobs` (the durable jobs by state, read from the database by the caller; None
        leaves it out, e.g. while the database is unreachable)."""
        source: Collector
        if self._directory is None:
            source = self._registry
        else:
            source = MultiProcessCollector(  # type: ignore[no-untyped-call]
                None, path=str(self._directory))
        return generate_latest(_Scrape(source, jobs))


class _Scrape:
    """One scrape: the process metrics (without `_created` series), then the job gauge,
    which is read from the database on each scrape rather than kept by any process."""

    def __init__(self, source: Collector, jobs: Mapping[str, int] | None) -> None:
        self._source = source
        self._jobs = jobs

    def collect(self) -> Iterable[Metric]:
        for metric in self._source.collect():
            # A single process would also show each series' creation time, which
            # multiprocess mode cannot: leave it out, so both answer alike.
            created = f"{metric.name}_created"
            metric.samples = [s for s in metric.samples if s.name != created]
            yield metric
        if self._jobs is None:
            return
        family = GaugeMetricFamily(
            f"{NAMESPACE}_jobs", "Durable render jobs in each state, read from the database "
            "(shared by every process on it).", labels=["state"])
        for state, count in sorted(self._jobs.items()):
            family.add_metric([state], count)
        yield family
