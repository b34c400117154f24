"""Connect/reconnect scenarios against the simulator over real sockets, with its fault injection."""
from __future__ import annotations

import asyncio
import socket
import time

import pytest

from arbv2.adapters.clock import SystemClock
from arbv2.adapters.feeds.market_data import MarketData
from arbv2.adapters.simulator import FaultPlan, SimulatorServer
from arbv2.core.config import BinanceConfig, Config, MarketDataConfig, VenuesConfig

pytestmark = pytest.mark.integration
BASES = ("BTC", "ETH", "XRP")


def config(**md) -> Config:
    base = dict(ws_silence_timeout_s=2.0, reconnect_initial_s=0.05, reconnect_max_s=0.5)
    base.update(md)
    return Config(symbols=BASES, market_data=MarketDataConfig(**base),
                  venues=VenuesConfig(binance_usdm=BinanceConfig(max_streams_per_connection=2)))


def feed_for(sim: SimulatorServer, cfg: Config) -> MarketData:
    return MarketData(cfg, clock=SystemClock(), upbit_url=sim.upbit_url, upbit_ws_url=sim.upbit_ws_url,
                      binance_url=sim.binance_url, binance_ws_url=sim.binance_ws_url)


def mismatches(md: MarketData, sim: SimulatorServer) -> list[str]:
    """Return the books whose top 20 levels differ from the simulator's true book (exactly)."""
    bad = []
    for base in BASES:
        for venue, code, sym in (("binance_usdm", f"{base}USDT", f"{base}/USDT:USDT"),
                                 ("upbit", f"KRW-{base}", f"{base}/KRW")):
            tb, ta = sim.truth.book(venue, code, 20)
            book = md.book(venue, sym)
            mine = (book.bids(20).tolist(), book.asks(20).tolist())
            if mine != ([[float(p), float(q)] for p, q in tb], [[float(p), float(q)] for p, q in ta]):
                bad.append(f"{venue} {code}")
    return bad


async def wait_for(pred, timeout_s: float, step_s: float = 0.05) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(step_s)
    return pred()


async def stop(task: asyncio.Task, md: MarketData) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await md.close()


async def test_books_equal_truth_after_drops_gaps_reorders_and_malformed_frames():
    async with SimulatorServer(seed=7, symbols=BASES) as sim:
        md = feed_for(sim, config())
        task = asyncio.create_task(md.run())
        try:
            assert await wait_for(lambda: md.healthy_bases() == set(BASES), 10.0)
            assert len(md.binance.connections) == 2          # 3 symbols, 2 streams per connection
            sim.faults = FaultPlan(ws_drop_every_s=1.5, ws_skip_diff_every=15, ws_reorder_share=0.05,
                                   ws_malformed_share=0.05)
            await asyncio.sleep(6.0)
            sim.faults = FaultPlan()
            assert await wait_for(lambda: md.healthy_bases() == set(BASES), 10.0)
            sim.pause_market()
            assert await wait_for(lambda: not mismatches(md, sim), 3.0), mismatches(md, sim)
            bn, up = md.binance.counters, md.upbit.counters
            assert bn.gaps > 0 and bn.resyncs > bn.gaps and bn.reconnects >= 2 and up.reconnects >= 2
            assert bn.malformed.get("malformed", 0) > 0 and up.malformed.get("malformed", 0) > 0
            assert all(c.connects >= 2 for c in md.binance.connections)
            assert md.usdt_krw() is not None and all(md.premium(b) is not None for b in BASES)
        finally:
            await stop(task, md)


async def test_stalled_stream_turns_unhealthy_within_max_age_then_recovers():
    async with SimulatorServer(seed=11, symbols=BASES) as sim:
        md = feed_for(sim, config(max_book_age_s=0.5, ws_silence_timeout_s=1.0))
        task = asyncio.create_task(md.run())
        try:
            assert await wait_for(lambda: md.healthy_bases() == set(BASES), 10.0)
            sim.faults = FaultPlan(venues=("binance_usdm",), ws_stall_every_s=0.2, ws_stall_s=2.5)
            feed = md.binance.feeds["BTCUSDT"]
            last = feed.last_frame_ns
            assert await wait_for(lambda: not md.health("binance_usdm", "BTC/USDT:USDT").healthy, 3.0)
            h = md.health("binance_usdm", "BTC/USDT:USDT")
            assert h.age_s <= 0.5 + 0.2 or not h.synced        # flagged within max age (plus poll slack)
            assert feed.last_frame_ns >= last
            assert md.upbit.feeds["KRW-BTC"].health(time.time_ns(), 0.5).healthy   # the other venue is fine
            sim.faults = FaultPlan()
            assert await wait_for(lambda: md.healthy_bases() == set(BASES), 10.0)
            assert sum(c.silences for c in md.binance.connections) >= 1           # silent socket counted dead
        finally:
            await stop(task, md)


async def test_reconnects_back_off_exponentially_with_a_cap():
    with socket.socket() as s:                               # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    md = MarketData(config(reconnect_initial_s=0.02, reconnect_max_s=0.16), clock=SystemClock(),
                    upbit_ws_url=f"ws://127.0.0.1:{port}/websocket/v1")
    task = asyncio.create_task(md.upbit.run())
    try:
        assert await wait_for(lambda: md.upbit.connection is not None and len(md.upbit.connection.delays) >= 7, 5.0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await md.close()
    delays = list(md.upbit.connection.delays)
    for i, d in enumerate(delays[:7]):
        cap = min(0.16, 0.02 * 2 ** i)
        assert cap / 2 <= d <= cap
    assert md.upbit.connection.connects == 0 and not md.upbit.feeds["KRW-BTC"].synced


async def test_rest_providers_read_the_simulator_and_retry_transient_errors():
    from arbv2.adapters.binance.rest_provider import BinanceRestProvider
    from arbv2.adapters.upbit.rest_provider import UpbitRestProvider

    async with SimulatorServer(seed=3, symbols=BASES) as sim:
        clock = SystemClock()
        up = UpbitRestProvider(sim.upbit_url, clock=clock)
        bn = BinanceRestProvider(sim.binance_url, clock=clock)
        try:
            sim.pause_market()
            assert set(await up.markets()) >= {"KRW-BTC", "KRW-USDT"}
            books = await up.orderbooks(["KRW-BTC"])
            tb, ta = sim.truth.book("upbit", "KRW-BTC", 30)
            assert books["KRW-BTC"] == (tb, ta)                 # Decimal, exact
            fx = await up.usdt_krw()
            fb, fa = sim.truth.book("upbit", "KRW-USDT", 1)
            assert fx == float((fb[0][0] + fa[0][0]) / 2)
            assert set(await up.tickers(["KRW-BTC", "KRW-ETH"])) == {"KRW-BTC", "KRW-ETH"}
            assert {"BTCUSDT", "ETHUSDT", "XRPUSDT"} <= set(await bn.markets())
            pi = await bn.premium_index("BTCUSDT")
            assert pi.symbol == "BTCUSDT" and pi.mark_price > 0 and pi.next_funding_time_ms > 0
            bid, _, ask, _ = await bn.book_ticker("BTCUSDT")
            tb, ta = sim.truth.book("binance_usdm", "BTCUSDT", 1)
            assert (bid, ask) == (tb[0][0], ta[0][0])
            sim.faults = FaultPlan(http_5xx_share=0.3)
            bn.http.attempts, bn.http.backoff_initial_s = 8, 0.01   # 0.3**8: exhausting retries is ~never
            for _ in range(20):
                assert b"lastUpdateId" in await bn.depth("BTCUSDT", 100)
            assert bn.http.retries > 0                          # 5xx answers were retried, not raised
        finally:
            await up.close()
            await bn.close()
