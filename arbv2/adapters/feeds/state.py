"""Per venue+symbol feed state and the counters both venues share; health is computed from these."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from arbv2._fast import book as fast_book
from arbv2.core.model import BookHealth, TopOfBook, Venue

log = logging.getLogger("arbv2.feeds")


class SymbolFeed:
    """One venue+symbol: its `_fast` L2Book plus what health needs (sync flag, times, counts)."""

    __slots__ = ("venue", "symbol", "base", "code", "book", "synced", "last_frame_ns", "last_event_ms",
                 "resyncs", "gaps", "published_ns", "snapshot_pending", "changed")

    def __init__(self, venue: Venue, symbol: str, base: str, code: str, depth_hint: int = 1024) -> None:
        self.venue = venue
        self.symbol = symbol            # unified: "BTC/KRW", "BTC/USDT:USDT"
        self.base = base                # "BTC" ("USDT" for the FX market)
        self.code = code                # venue code: "KRW-BTC", "BTCUSDT"
        self.book = fast_book.L2Book(depth_hint)
        self.synced = False
        self.last_frame_ns = 0          # receive time of the last frame applied (or snapshot)
        self.last_event_ms = 0          # venue timestamp of the last frame applied
        self.resyncs = 0
        self.gaps = 0
        self.published_ns = 0           # last_frame_ns at the last cache publish
        self.snapshot_pending = False
        self.changed = frozenset((base,))  # what handle_frame returns when this book changed (shared, read only)

    def health(self, now_ns: int, max_age_s: float) -> BookHealth:
        """Return BookHealth: healthy only when synced, fresh and uncrossed."""
        age_s = (now_ns - self.last_frame_ns) / 1e9 if self.last_frame_ns else float("inf")
        crossed = bool(self.book.is_crossed())
        healthy = self.synced and age_s <= max_age_s and not crossed
        return BookHealth(venue=self.venue, symbol=self.symbol, synced=self.synced,
                          last_frame_ns=self.last_frame_ns, age_s=age_s, crossed=crossed,
                          resyncs=self.resyncs, gaps=self.gaps, healthy=healthy)

    def top(self) -> TopOfBook | None:
        """Return the best bid/ask as a TopOfBook, or None when a side is empty."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            return None
        return TopOfBook(venue=self.venue, symbol=self.symbol, bid=bid[0], bid_qty=bid[1], ask=ask[0],
                         ask_qty=ask[1], ts_ns=self.last_frame_ns)

    def mid(self) -> float | None:
        m = self.book.mid()
        return m if m == m else None   # NaN while a side is empty


@dataclass
class FeedCounters:
    """Monotonic counts of one venue's feed; flushed to metrics as deltas by the publisher."""

    venue: str
    frames: int = 0
    gaps: int = 0
    resyncs: int = 0
    reconnects: int = 0
    malformed: dict[str, int] = field(default_factory=dict)   # kind -> count (malformed, unknown_*)
    _logged: set[str] = field(default_factory=set)

    def bad_frame(self, kind: str, detail: str, raw: bytes | str) -> None:
        """Count a malformed or unknown frame; log the first one of each kind only."""
        self.malformed[kind] = self.malformed.get(kind, 0) + 1
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("%s: skipping %s frame (%s): %.200r; further ones are only counted",
                        self.venue, kind, detail, raw)
