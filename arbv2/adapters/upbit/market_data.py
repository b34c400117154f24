"""UpbitMarketData: the KRW spot books of every configured symbol plus the KRW-USDT FX book.

Every Upbit orderbook frame is a full top-N book, so each one replaces the symbol's book; there
is no sequence number, only the timestamp, which drops frames that arrive out of order.
"""
from __future__ import annotations

import logging
import random
import time
from typing import Callable, Sequence

from arbv2._fast import decode
from arbv2.adapters.feeds.connection import WsConnection
from arbv2.adapters.feeds.state import FeedCounters, SymbolFeed
from arbv2.adapters.upbit.rest_provider import FX_MARKET
from arbv2.adapters.upbit.ws import orderbook_connection
from arbv2.core.errors import ArbError
from arbv2.core.model import Venue, upbit_symbol
from arbv2.ports.clock import Clock

log = logging.getLogger("arbv2.feeds.upbit")
VENUE = Venue.UPBIT.value
_EMPTY: frozenset[str] = frozenset()
_KIND_ORDERBOOK, _KIND_STATUS, _KIND_ERROR = decode.KIND_ORDERBOOK, decode.KIND_STATUS, decode.KIND_ERROR
_perf_ns = time.perf_counter_ns


class UpbitMarketData:
    """Books and the orderbook stream of the Upbit venue (one part of the composite MarketData)."""

    venue = Venue.UPBIT

    def __init__(self, bases: Sequence[str], *, clock: Clock, ws_url: str | None = None,
                 fx_code: str | None = FX_MARKET, silence_timeout_s: float = 10.0,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0,
                 rng: random.Random | None = None) -> None:
        self._clock = clock
        self.ws_url = ws_url
        self.silence_timeout_s = silence_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng or random.Random()
        self.feeds: dict[str, SymbolFeed] = {}
        for base in bases:
            code = f"KRW-{base}"
            self.feeds[code] = SymbolFeed(self.venue, upbit_symbol(base), base, code, depth_hint=64)
        self.fx: SymbolFeed | None = None
        if fx_code is not None:
            self.fx = self.feeds[fx_code] = SymbolFeed(self.venue, "USDT/KRW", "USDT", fx_code, depth_hint=64)
        self.by_symbol = {f.symbol: f for f in self.feeds.values()}
        self._all_bases = frozenset(f.base for f in self.feeds.values() if f is not self.fx)
        self.counters = FeedCounters(VENUE)
        self.out_of_order = 0
        self.decoder = decode.UpbitOrderbookDecoder()
        self.sink: Callable[[bytes, int], object] = self.handle_frame   # the composite reroutes this
        self.connection: WsConnection | None = None
        self.parse_ns = self.merge_ns = 0        # last frame's stage times, kept while `timed`
        self.timed = True                        # the composite turns it off when no metrics read them

    def handle_frame(self, raw: bytes | str, ts_recv_ns: int) -> set[str] | frozenset[str]:
        """Parse and merge one frame; return the bases whose book (or premium) changed (do not mutate it).

        A KRW-USDT frame changes every base's premium, so it returns all of them.
        """
        timed = self.timed
        if timed:
            t0 = _perf_ns()
        c = self.counters
        c.frames += 1
        dec = self.decoder
        try:
            kind = dec.decode(raw)
        except ValueError as exc:
            c.bad_frame("malformed", str(exc), raw)
            return _EMPTY
        if timed:
            t1 = _perf_ns()
            self.parse_ns = t1 - t0
        if kind != _KIND_ORDERBOOK:
            if kind == _KIND_ERROR:
                c.bad_frame("error", "the venue reported an error", raw)
            elif kind != _KIND_STATUS:
                c.bad_frame("unknown_kind", "not an orderbook frame", raw)
            return _EMPTY
        feed = self.feeds.get(dec.code)
        if feed is None:
            c.bad_frame("unknown_symbol", str(dec.code), raw)
            return _EMPTY
        tms = dec.timestamp_ms
        if tms < feed.last_event_ms:
            self.out_of_order += 1
            return _EMPTY
        book = feed.book
        book.apply_snapshot(*dec.arrays())
        book.ts_event_ns = tms * 1_000_000
        feed.last_event_ms = tms
        feed.last_frame_ns = ts_recv_ns
        feed.synced = True
        if timed:
            self.merge_ns = _perf_ns() - t1
        if feed is self.fx:
            return self._all_bases
        return feed.changed

    async def run(self) -> None:
        """Keep the orderbook subscription alive until cancelled."""
        if self.ws_url is None:
            raise ArbError("upbit market data needs a WebSocket URL")
        self.connection = orderbook_connection(
            self.ws_url, list(self.feeds), clock=self._clock, on_frame=self.sink, on_open=self._on_open,
            on_close=self._on_close, silence_timeout_s=self.silence_timeout_s,
            backoff_initial_s=self.backoff_initial_s, backoff_max_s=self.backoff_max_s, rng=self._rng)
        await self.connection.run()

    def _on_open(self) -> None:
        for feed in self.feeds.values():
            feed.last_event_ms = 0       # a new subscription starts with SNAPSHOT frames

    def _on_close(self) -> None:
        self.counters.reconnects += 1
        for feed in self.feeds.values():
            if feed.synced:
                feed.resyncs += 1
                self.counters.resyncs += 1
            feed.synced = False
