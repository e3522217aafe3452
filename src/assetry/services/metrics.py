"""Process-wide counters the service keeps about itself (exposed as /metrics)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Metrics:
    """Monotonic counters, keyed by name; cheap to bump from any coroutine."""

    counters: Counter[str] = field(default_factory=Counter)
    render_seconds: float = 0.0

    def bump(self, name: str, by: int = 1) -> None:
        self.counters[name] += by
