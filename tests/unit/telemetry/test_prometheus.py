"""PrometheusMetrics in one process: what it records and how the text reads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests.support.metrics import samples, value

from assetry.telemetry.prometheus import COUNTERS, PrometheusMetrics


def test_each_instance_counts_from_zero_on_its_own() -> None:
    one, other = PrometheusMetrics(), PrometheusMetrics()
    one.bump("renders", 3)
    one.observe_request("GET", "/health", 200, 0.01, 0, 10)
    text = other.exposition(None).decode()
    assert value(text, "assetry_renders_total") == 0
    assert value(text, "assetry_http_requests_total", method="GET", route="/health",
                 status="200") is None
    assert value(one.exposition(None).decode(), "assetry_renders_total") == 3


def test_every_counter_is_there_from_the_start_without_creation_times() -> None:
    text = PrometheusMetrics().exposition({"queued": 2, "running": 0, "failed": 1}).decode()
    for name in COUNTERS:
        assert value(text, f"assetry_{name}_total") == 0
    assert not [name for name, _ in samples(text) if name.endswith("_created")]
    assert value(text, "assetry_jobs", state="queued") == 2
    assert value(text, "assetry_jobs", state="failed") == 1


def test_renders_are_observed_per_version_and_failures_by_reason() -> None:
    metrics = PrometheusMetrics()
    metrics.observe_render(0.2, ["detail", "thumbnail"])
    metrics.observe_render(0.05, [])  # failed as a whole: time counted, no version made
    metrics.render_failed("timeout")
    metrics.render_failed("version", 2)
    text = metrics.exposition(None).decode()
    assert value(text, "assetry_render_seconds_total") == pytest.approx(0.25)
    for name in ("detail", "thumbnail"):
        assert value(text, "assetry_render_duration_seconds_count", version=name) == 1
        assert value(text, "assetry_render_duration_seconds_bucket", version=name,
                     le="0.25") == 1
        assert value(text, "assetry_render_duration_seconds_bucket", version=name,
                     le="0.1") == 0
    assert value(text, "assetry_render_failures_total", reason="timeout") == 1
    assert value(text, "assetry_render_failures_total", reason="version") == 2


def test_odd_methods_and_unknown_paths_do_not_multiply_series() -> None:
    metrics = PrometheusMetrics()
    for method in ("BREW", "PROPFIND", "GET"):
        metrics.observe_request(method, None, 404, 0.001, 0, 0)
    text = metrics.exposition(None).decode()
    assert value(text, "assetry_http_requests_total", method="other", route="unmatched",
                 status="404") == 2
    assert value(text, "assetry_http_requests_total", method="GET", route="unmatched",
                 status="404") == 1


def test_unknown_names_are_bugs_not_new_series() -> None:
    metrics = PrometheusMetrics()
    with pytest.raises(KeyError):
        metrics.bump("asset_created")
    with pytest.raises(ValueError, match="reason"):
        metrics.render_failed("exploded")


def test_every_counter_the_services_bump_is_declared() -> None:
    # A name bumped but not declared would be a KeyError, a 500, in the request that
    # counts it; this finds it before any request does.
    services = Path(__file__).resolve().parents[3] / "src" / "assetry" / "services"
    bumped = {call.args[0].value
              for path in services.glob("*.py")
              for call in ast.walk(ast.parse(path.read_text()))
              if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
              and call.func.attr == "bump" and isinstance(call.args[0], ast.Constant)}
    assert {"renders", "assets_created"} <= bumped  # the scan finds the calls
    assert bumped <= set(COUNTERS), bumped - set(COUNTERS)
