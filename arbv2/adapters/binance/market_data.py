"""BinanceMarketData: the USDⓈ-M diff-depth books of every configured symbol, kept in sync.

Frames (WebSocket diffs and REST snapshots alike) go through `handle_frame`, synchronously, so
replay and backtests drive the exact code the sockets drive. A REST snapshot enters as a
wrapped frame `{"stream":"<symbol>@depthSnapshot","data":<body>}`: that is also what the
recorder stores, so a recording replays its resyncs too.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Callable, Sequence

from arbv2._fast import decode
from arbv2.adapters.binance.book_sync import APPLIED, BUFFERED, GAP, STALE, SYNCED, BookSync
from arbv2.adapters.binance.rest_provider import BinanceRestProvider
from arbv2.adapters.binance.ws import MAX_CONNECTION_AGE_S, depth_connections
from arbv2.adapters.feeds.connection import WsConnection, backoff_delay
from arbv2.adapters.feeds.state import FeedCounters, SymbolFeed
from arbv2.core.errors import ArbError
from arbv2.core.model import Venue, binance_symbol
from arbv2.ports.clock import Clock

log = logging.getLogger("arbv2.feeds.binance")
VENUE = Venue.BINANCE_USDM.value
SNAPSHOT_SUFFIX = "@depthSnapshot"
_EMPTY: frozenset[str] = frozenset()
_KIND_DEPTH, _KIND_SNAPSHOT, _KIND_RESULT = decode.KIND_DEPTH, decode.KIND_SNAPSHOT, decode.KIND_RESULT
_perf_ns = time.perf_counter_ns


def snapshot_frame(code: str, body: bytes) -> bytes:
    """Wrap a REST depth body so it carries its symbol (the form handle_frame and the recorder use)."""
    return b'{"stream":"' + code.lower().encode() + SNAPSHOT_SUFFIX.encode() + b'","data":' + body + b"}"


class BinanceMarketData:
    """Books, sync state and streams of the Binance venue (one part of the composite MarketData)."""

    venue = Venue.BINANCE_USDM

    def __init__(self, bases: Sequence[str], *, clock: Clock, rest: BinanceRestProvider | None = None,
                 ws_base: str | None = None, max_streams: int = 200, silence_timeout_s: float = 10.0,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0, snapshot_limit: int = 1000,
                 max_age_s: float | None = MAX_CONNECTION_AGE_S, on_frame: Callable | None = None,
                 rng: random.Random | None = None) -> None:
        self._clock = clock
        self.rest = rest
        self.ws_base = ws_base
        self.max_streams = max_streams
        self.silence_timeout_s = silence_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.snapshot_limit = snapshot_limit
        self.max_age_s = max_age_s
        self._on_frame = on_frame
        self._rng = rng or random.Random()
        self.feeds: dict[str, SymbolFeed] = {}
        self.syncs: dict[str, BookSync] = {}
        for base in bases:
            code = f"{base}USDT"
            self.feeds[code] = SymbolFeed(self.venue, binance_symbol(base), base, code)
            self.syncs[code] = BookSync(self.feeds[code].book)
        self.by_symbol = {f.symbol: f for f in self.feeds.values()}
        self._routes = {code: (f, self.syncs[code]) for code, f in self.feeds.items()}   # one lookup per diff
        self.counters = FeedCounters(VENUE)
        self.decoder = decode.BinanceDepthDecoder()
        self.sink: Callable[[bytes, int], object] = self.handle_frame   # the composite reroutes this
        self.connections: list[WsConnection] = []
        self._want: set[str] = set()             # codes waiting for a snapshot
        self._attempts: dict[str, int] = {}      # code -> snapshots fetched since it was last synced
        self._want_event = asyncio.Event()
        self.parse_ns = self.merge_ns = 0        # last frame's stage times, kept while `timed`
        self.timed = True                        # the composite turns it off when no metrics read them

    # ---------------------------------------------------------------- hot path
    def handle_frame(self, raw: bytes | str, ts_recv_ns: int) -> set[str] | frozenset[str]:
        """Parse and merge one frame; return the bases whose book changed (do not mutate it)."""
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
        if kind == _KIND_DEPTH:
            changed = self._diff(raw, ts_recv_ns)
        elif kind == _KIND_SNAPSHOT:
            changed = self._snapshot(raw, ts_recv_ns)
        elif kind == _KIND_RESULT:
            changed = _EMPTY
        else:
            c.bad_frame("unknown_kind", "not a depth event", raw)
            changed = _EMPTY
        if timed:
            self.merge_ns = _perf_ns() - t1
        return changed

    def _diff(self, raw: bytes | str, ts_recv_ns: int) -> set[str] | frozenset[str]:
        dec = self.decoder
        route = self._routes.get(dec.symbol)
        if route is None:
            self.counters.bad_frame("unknown_symbol", str(dec.symbol), raw)
            return _EMPTY
        feed, sync = route
        r = sync.on_diff(dec.first_update_id, dec.final_update_id, dec.prev_final_update_id, *dec.arrays())
        if r is APPLIED:
            tms = dec.event_time_ms
            feed.last_frame_ns = ts_recv_ns
            feed.last_event_ms = tms
            feed.book.ts_event_ns = tms * 1_000_000
            return feed.changed
        if r is GAP:
            self._gap(feed)
        elif r is BUFFERED and not feed.snapshot_pending:
            self._request(feed)
        return _EMPTY

    def _snapshot(self, raw: bytes | str, ts_recv_ns: int) -> set[str] | frozenset[str]:
        dec = self.decoder
        stream = dec.stream or ""
        code = stream[: -len(SNAPSHOT_SUFFIX)].upper() if stream.endswith(SNAPSHOT_SUFFIX) else ""
        feed = self.feeds.get(code)
        if feed is None:
            self.counters.bad_frame("unknown_symbol", f"snapshot for {stream!r}", raw)
            return _EMPTY
        feed.snapshot_pending = False
        r = self.syncs[code].on_snapshot(dec.last_update_id, *dec.arrays())
        feed.synced = self.syncs[code].synced
        if r is SYNCED:
            self._attempts.pop(code, None)
            feed.last_frame_ns = ts_recv_ns
            feed.last_event_ms = dec.event_time_ms
            return feed.changed
        if r is GAP:
            self._gap(feed)
        elif r is STALE:
            self._request(feed, count=False)
        return _EMPTY

    def _gap(self, feed: SymbolFeed) -> None:
        feed.gaps += 1
        self.counters.gaps += 1
        feed.synced = False
        log.info("binance_usdm %s: sequence gap; resyncing this symbol", feed.code)
        self._request(feed)

    def _request(self, feed: SymbolFeed, count: bool = True) -> None:
        """Ask the snapshot worker for a snapshot of this symbol (others are untouched)."""
        feed.synced = False
        feed.snapshot_pending = True
        if count:
            feed.resyncs += 1
            self.counters.resyncs += 1
        self._want.add(feed.code)
        self._want_event.set()

    # ---------------------------------------------------------------- I/O
    async def run(self) -> None:
        """Open the depth shards and fetch snapshots on demand, until cancelled."""
        if self.ws_base is None or self.rest is None:
            raise ArbError("binance_usdm market data needs a WebSocket base URL and a REST provider")
        self.connections = depth_connections(
            self.ws_base, list(self.feeds), max_streams=self.max_streams, clock=self._clock, on_frame=self.sink,
            on_close=self._on_close, silence_timeout_s=self.silence_timeout_s,
            backoff_initial_s=self.backoff_initial_s, backoff_max_s=self.backoff_max_s, max_age_s=self.max_age_s,
            rng=self._rng)
        async with asyncio.TaskGroup() as tg:
            for conn in self.connections:
                tg.create_task(conn.run(), name=conn.name)
            tg.create_task(self._snapshot_worker(), name="binance_usdm/snapshots")

    def _on_close(self, codes: list[str]) -> None:
        """A shard's socket is gone: its books are unsynced until the new stream and a snapshot agree."""
        self.counters.reconnects += 1
        for code in codes:
            self.syncs[code].reset()
            feed = self.feeds[code]
            feed.synced = False
            feed.snapshot_pending = False
            self._want.discard(code)
            self._attempts.pop(code, None)

    async def _snapshot_worker(self) -> None:
        limit = asyncio.Semaphore(4)

        async def one(code: str) -> None:
            async with limit:
                attempt = self._attempts.get(code, 0)
                self._attempts[code] = attempt + 1
                if attempt > 0:
                    await self._clock.sleep(backoff_delay(attempt - 1, 0.1, 5.0, self._rng))
                try:
                    body = await self.rest.depth(code, self.snapshot_limit)
                except ArbError as exc:
                    log.warning("binance_usdm %s: snapshot failed: %s", code, exc)
                    self._request(self.feeds[code], count=False)
                    return
                framed = snapshot_frame(code, body)
                self.sink(framed, self._clock.now_ns())

        while True:
            await self._want_event.wait()
            self._want_event.clear()
            batch, self._want = self._want, set()
            await asyncio.gather(*(one(code) for code in batch))
