"""MarketDataPort: live L2 books per venue+symbol, their health, and the USDT/KRW rate."""
from __future__ import annotations

from typing import AbstractSet, Any, Callable, Protocol

from arbv2.core.model import BookHealth, TopOfBook, Venue


class MarketDataPort(Protocol):
    async def run(self) -> None:
        """Connect, sync every book and keep them in sync until cancelled."""

    def book(self, venue: Venue, symbol: str) -> Any:
        """Return the `_fast` L2Book kept for venue+symbol (read only for callers)."""

    def health(self, venue: Venue, symbol: str) -> BookHealth:
        """Return the feed health of venue+symbol."""

    def usdt_krw(self) -> float | None:
        """Return the current USDT/KRW rate, or None before the first quote."""

    def set_listener(self, listener: Callable[[AbstractSet[str], int], None] | None) -> None:
        """Call listener(changed_bases, frame_in_hand_monotonic_ns) synchronously after each merged frame."""


class MarketCache(Protocol):
    async def put_top(self, top: TopOfBook, premium: float | None = None) -> None:
        """Publish top of book (and the symbol's premium) for other processes; short TTL."""

    async def get_top(self, venue: Venue, symbol: str) -> TopOfBook | None:
        """Return the cached top of book, or None when absent or expired."""
