"""Clock port: time is injected so the same engine runs live, against the simulator and in replay."""
from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Return wall-clock time (UTC epoch) in nanoseconds."""

    def monotonic_ns(self) -> int:
        """Return a monotonic time in nanoseconds, for latencies and timeouts."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
