"""MarketData: the MarketDataPort over both venues, plus health, premium and the market-cache publisher.

Frames from the sockets and from replay enter the same synchronous `handle_frame`; a socket
frame then calls the listener the engine set (`set_listener`) with the changed bases and the
monotonic time the frame was in hand, in the same call: parse, merge and decision happen
back to back, so the engine always decides on the book the frame just produced (no queue,
hence no backlog) and its cycle latency is frame-in-hand to decision. Counters and gauges reach the Metrics port from the publisher loop, at
the cache rate, so the hot path only touches plain ints.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import random
from typing import Callable

from arbv2.adapters.binance.market_data import BinanceMarketData
from arbv2.adapters.binance.rest_provider import BinanceRestProvider
from arbv2.adapters.feeds.state import SymbolFeed
from arbv2.adapters.upbit.market_data import UpbitMarketData
from arbv2.adapters.upbit.rest_provider import FX_MARKET
from arbv2.core.config import Config
from arbv2.core.model import BookHealth, Venue
from arbv2.ports.clock import Clock
from arbv2.ports.market_data import MarketCache
from arbv2.ports.metrics import CycleStage, Metrics
from arbv2.ports.rate_limit import RateLimiter

log = logging.getLogger("arbv2.feeds")
_UPBIT, _BINANCE = Venue.UPBIT, Venue.BINANCE_USDM
OnFrame = Callable[[str, "bytes | str", int], None]


class MarketData:
    """Composite of UpbitMarketData and BinanceMarketData behind the MarketDataPort."""

    def __init__(self, cfg: Config, *, clock: Clock, metrics: Metrics | None = None, cache: MarketCache | None = None,
                 rate_limiter: RateLimiter | None = None, upbit_url: str | None = None,
                 upbit_ws_url: str | None = None, binance_url: str | None = None, binance_ws_url: str | None = None,
                 on_frame: OnFrame | None = None, rng: random.Random | None = None) -> None:
        md, up, bn = cfg.market_data, cfg.venues.upbit, cfg.venues.binance_usdm
        self.cfg = cfg
        self._clock = clock
        self._metrics = metrics
        self._cache = cache
        self._on_frame = on_frame
        self.max_age_s = md.max_book_age_s
        rng = rng or random.Random()
        self.fixed_fx = md.fx_fixed_rate if md.fx_source == "fixed" else None
        backoff = dict(silence_timeout_s=md.ws_silence_timeout_s, backoff_initial_s=md.reconnect_initial_s,
                       backoff_max_s=md.reconnect_max_s, rng=rng)
        self.upbit = UpbitMarketData(cfg.symbols, clock=clock, ws_url=upbit_ws_url or up.ws_url,
                                     fx_code=None if self.fixed_fx is not None else FX_MARKET, **backoff)
        self.binance_rest = BinanceRestProvider(binance_url or bn.rest_url, clock=clock,
                                                timeout_s=bn.request_timeout_s, rate_limiter=rate_limiter, rng=rng)
        self.binance = BinanceMarketData(cfg.symbols, clock=clock, rest=self.binance_rest,
                                         ws_base=binance_ws_url or bn.ws_url,
                                         max_streams=bn.max_streams_per_connection, **backoff)
        self.upbit_url = upbit_url or up.rest_url
        self._venues = {Venue.UPBIT.value: self.upbit, Venue.BINANCE_USDM.value: self.binance}
        # one flat lookup for the hot path; Venue is a str enum, so Venue.UPBIT and "upbit" hit the same key
        self._feeds = {(v, sym): f for v, part in self._venues.items() for sym, f in part.by_symbol.items()}
        # `book` is called twice per decision: the Venue members go by identity, not by tuple hash + str compare
        self._upbit_syms, self._binance_syms = self.upbit.by_symbol, self.binance.by_symbol
        self.upbit.timed = self.binance.timed = metrics is not None   # parse/merge times feed only the metrics
        self.upbit.sink = lambda raw, ts: self._ingest(Venue.UPBIT.value, raw, ts)
        self.binance.sink = lambda raw, ts: self._ingest(Venue.BINANCE_USDM.value, raw, ts)
        self._listener: Callable[[set[str], int], None] | None = None
        self._flushed: dict[tuple[str, str], int] = {}

    # ---------------------------------------------------------------- hot path
    def handle_frame(self, venue: str, raw: bytes | str, ts_recv_ns: int) -> set[str]:
        """Parse and merge one frame of `venue` ("upbit" or "binance_usdm"); return the changed bases."""
        try:
            feed = self._venues[venue]
        except KeyError:
            raise ValueError(f"venue: {venue!r} is not one of {', '.join(self._venues)}") from None
        changed = feed.handle_frame(raw, ts_recv_ns)
        if self._metrics is not None:
            self._metrics.observe_stage(CycleStage.PARSE, feed.parse_ns / 1e9)
            self._metrics.observe_stage(CycleStage.MERGE, feed.merge_ns / 1e9)
        return changed

    def frame_handler(self, venue: str) -> Callable[[bytes | str, int], "set[str] | frozenset[str]"]:
        """Return `handle_frame` bound to `venue`, for a caller that feeds one venue many frames (replay).

        Without a metrics port that is the venue part's own `handle_frame` (what `handle_frame`
        calls after its venue lookup); with one, the full `handle_frame`, so stage timings are kept.
        """
        part: UpbitMarketData | BinanceMarketData
        try:
            part = self._venues[venue]
        except KeyError:
            raise ValueError(f"venue: {venue!r} is not one of {', '.join(self._venues)}") from None
        if self._metrics is None:
            return part.handle_frame
        return functools.partial(self.handle_frame, venue)

    def set_listener(self, listener: Callable[[set[str], int], None] | None) -> None:
        """Call `listener(changed_bases, frame_in_hand_ns)` after every socket frame that changed a book."""
        self._listener = listener

    def _ingest(self, venue: str, raw: bytes | str, ts_recv_ns: int) -> None:
        t_in = self._clock.monotonic_ns()
        if self._on_frame is not None:
            self._on_frame(venue, raw, ts_recv_ns)
        changed = self.handle_frame(venue, raw, ts_recv_ns)
        listener = self._listener
        if changed and listener is not None:
            try:
                listener(changed, t_in)
            except Exception:  # the engine's bug must not kill the feed's connection loop
                log.exception("book-update listener failed")

    # ---------------------------------------------------------------- reads
    def _feed(self, venue: Venue | str, symbol: str) -> SymbolFeed:
        try:
            return self._feeds[(venue, symbol)]
        except KeyError:
            known = ", ".join(f"{v} {s}" for v, s in self._feeds)
            raise KeyError(f"no book for {venue!s} {symbol!r}; known: {known}") from None

    def book(self, venue: Venue | str, symbol: str):
        """Return the `_fast` L2Book of venue+symbol ("BTC/KRW", "BTC/USDT:USDT", "USDT/KRW"); read only."""
        feeds = self._upbit_syms if venue is _UPBIT else self._binance_syms if venue is _BINANCE else None
        if feeds is not None:
            feed = feeds.get(symbol)
            if feed is not None:
                return feed.book
        return self._feed(venue, symbol).book

    def health(self, venue: Venue | str, symbol: str) -> BookHealth:
        """Return the feed health of venue+symbol at the clock's current time."""
        return self._feed(venue, symbol).health(self._clock.now_ns(), self.max_age_s)

    def all_health(self) -> list[BookHealth]:
        """Return the health of every book (both venues and the FX market), for doctor and metrics."""
        now = self._clock.now_ns()
        return [f.health(now, self.max_age_s) for part in self._venues.values() for f in part.feeds.values()]

    def healthy_bases(self) -> set[str]:
        """Return the bases the engine may trade: both books healthy, and the FX book when it is used."""
        now = self._clock.now_ns()
        fx = self.upbit.fx
        if fx is not None and not fx.health(now, self.max_age_s).healthy:
            return set()
        out = set()
        for base in self.cfg.symbols:
            if (self.upbit.feeds[f"KRW-{base}"].health(now, self.max_age_s).healthy
                    and self.binance.feeds[f"{base}USDT"].health(now, self.max_age_s).healthy):
                out.add(base)
        return out

    def usdt_krw(self) -> float | None:
        """Return KRW per USDT: the Upbit KRW-USDT mid (or the configured fixed rate)."""
        if self.fixed_fx is not None:
            return self.fixed_fx
        fx = self.upbit.fx                     # read directly: once per decision
        if fx is None or not fx.synced:
            return None
        m = fx.book.mid()
        return m if m == m else None           # NaN while a side is empty

    def premium(self, base: str) -> float | None:
        """Return the mid premium upbit_krw / (binance_usdt * usdt_krw) - 1, or None while a quote is missing."""
        fx = self.usdt_krw()
        up = self.upbit.feeds[f"KRW-{base}"].mid()
        bn = self.binance.feeds[f"{base}USDT"].mid()
        if fx is None or up is None or bn is None or bn <= 0 or fx <= 0:
            return None
        return up / (bn * fx) - 1.0

    # ---------------------------------------------------------------- I/O
    async def run(self) -> None:
        """Run both venues' streams and the cache/metrics publisher until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.upbit.run(), name="md/upbit")
            tg.create_task(self.binance.run(), name="md/binance_usdm")
            tg.create_task(self._publisher(), name="md/publisher")

    async def close(self) -> None:
        """Release the REST session."""
        await self.binance_rest.close()

    async def _publisher(self) -> None:
        interval_s = self.cfg.market_data.cache_publish_interval_ms / 1000.0
        while True:
            await self._clock.sleep(interval_s)
            try:
                await self.publish_once()
            except Exception:  # the cache is for other processes; its trouble never stops the feed
                log.exception("market cache publish failed")

    async def publish_once(self) -> None:
        """Write changed tops (with premium) to the cache and flush counters/gauges to metrics."""
        if self._cache is not None:
            for part in self._venues.values():
                for feed in part.feeds.values():
                    if feed.last_frame_ns == feed.published_ns or not feed.synced:
                        continue
                    top = feed.top()
                    if top is None:
                        continue
                    feed.published_ns = feed.last_frame_ns
                    await self._cache.put_top(top, None if feed is part_fx(part) else self.premium(feed.base))
        if self._metrics is not None:
            self._flush_metrics(self._metrics)

    def _flush_metrics(self, m: Metrics) -> None:
        for venue, part in self._venues.items():
            c = part.counters
            for name, value in (("frames", c.frames), ("gaps", c.gaps), ("resyncs", c.resyncs),
                                ("reconnects", c.reconnects)):
                self._delta(m, name, venue, value)
            for kind, value in c.malformed.items():
                self._delta(m, "malformed_frames", venue, value, kind=kind)
        now = self._clock.now_ns()
        for venue, part in self._venues.items():
            for feed in part.feeds.values():
                h = feed.health(now, self.max_age_s)
                m.set("book_age_seconds", min(h.age_s, 1e9), venue=venue, symbol=feed.base)
                m.set("book_healthy", 1.0 if h.healthy else 0.0, venue=venue, symbol=feed.base)
        fx = self.usdt_krw()
        if fx is not None:
            m.set("usdt_krw", fx)
        for base in self.cfg.symbols:
            p = self.premium(base)
            if p is not None:
                m.set("premium", p, symbol=base)

    def _delta(self, m: Metrics, name: str, venue: str, total: int, **labels: str) -> None:
        key = (name, venue + "/" + ",".join(labels.values()))
        done = self._flushed.get(key, 0)
        if total > done:
            m.inc(name, total - done, venue=venue, **labels)
            self._flushed[key] = total


def part_fx(part) -> SymbolFeed | None:
    """Return the FX feed of a venue part (Upbit's KRW-USDT), or None."""
    return getattr(part, "fx", None)
