"""Reading /metrics the way Prometheus does (prometheus_client's own parser)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` with exactly these labels; None when absent."""
    return samples(text).get((name, frozenset(labels.items())))


def scrape(client: httpx.Client, name: str, **labels: str) -> float:
    """One sample read from the server's /metrics (a counter not yet counted is 0)."""
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    return value(answer.text, name, **labels) or 0.0
