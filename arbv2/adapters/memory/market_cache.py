"""MemoryMarketCache: the MarketCache port in process memory, with the Redis adapter's TTL rule."""
from __future__ import annotations

from arbv2.core.model import TopOfBook, Venue
from arbv2.ports.clock import Clock


class MemoryMarketCache:
    """Top of book per venue+symbol that expires ttl_ms after it was put (on the injected clock)."""

    def __init__(self, clock: Clock, ttl_ms: int = 100) -> None:
        if ttl_ms <= 0:
            raise ValueError(f"ttl_ms: must be > 0, got {ttl_ms}")
        self._clock = clock
        self._ttl_ns = int(ttl_ms) * 1_000_000
        self._tops: dict[tuple[str, str], tuple[int, TopOfBook, float | None]] = {}

    async def put_top(self, top: TopOfBook, premium: float | None = None) -> None:
        expires = self._clock.monotonic_ns() + self._ttl_ns
        self._tops[(Venue(top.venue).value, top.symbol)] = (expires, top, premium)

    def _live(self, venue: Venue, symbol: str) -> tuple[int, TopOfBook, float | None] | None:
        key = (Venue(venue).value, symbol)
        entry = self._tops.get(key)
        if entry is None:
            return None
        if self._clock.monotonic_ns() >= entry[0]:
            del self._tops[key]
            return None
        return entry

    async def get_top(self, venue: Venue, symbol: str) -> TopOfBook | None:
        entry = self._live(venue, symbol)
        return None if entry is None else entry[1]

    async def get_premium(self, venue: Venue, symbol: str) -> float | None:
        """Return the premium published with the top of book, or None when absent or expired."""
        entry = self._live(venue, symbol)
        return None if entry is None else entry[2]
