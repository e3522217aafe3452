"""The Metrics port: what the services report about their work (exposed as /metrics).

The services know only this Protocol; the adapter that keeps the values
(assetry.telemetry.prometheus.PrometheusMetrics, through prometheus_client) is chosen
by the composition root. Reporting is cheap, never blocks and never fails for a known
name, so it may be called from any coroutine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Metrics(Protocol):
    def bump(self, name: str, by: int = 1) -> None:
        """Add `by` to the counter `name`: assets_created, assets_replaced,
        assets_deleted, renders, renders_on_demand, versions_rendered, versions_failed,
        transforms_rendered, transforms_stored_served, byte_lane_requests (the web
        edge's). An unknown name is a bug (KeyError): a new counter is declared in the
        adapter and documented first."""

    def observe_render(self, seconds: float, versions: Sequence[str]) -> None:
        """One render (one decode of an original) took `seconds` and made `versions`
        (their specs' names; none when it failed as a whole). The names become a
        label's values, so they must be few: converter version names, "transform"."""

    def render_failed(self, reason: str, count: int = 1) -> None:
        """`count` render failures for `reason`: "undecodable" (the original did not
        decode), "timeout" (over the time limit) or "version" (one version failed
        alone; the decode and the other versions succeeded)."""
