"""MarketData driven frame by frame (no sockets): merge, health, conflation, cache and metrics."""
from __future__ import annotations

import random

import orjson
import pytest

from arbv2.adapters.binance.market_data import snapshot_frame
from arbv2.adapters.feeds.connection import backoff_delay
from arbv2.adapters.feeds.market_data import MarketData
from arbv2.adapters.memory.market_cache import MemoryMarketCache
from arbv2.adapters.memory.metrics import MemoryMetrics
from arbv2.core.config import Config, MarketDataConfig
from arbv2.core.model import Venue

S = 1_000_000_000


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_700_000_000 * S

    def now_ns(self) -> int:
        return self.t

    def monotonic_ns(self) -> int:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += int(seconds * S)


def upbit(code, tms, bids, asks, st="REALTIME"):
    units = [{"ask_price": a[0], "ask_size": a[1], "bid_price": b[0], "bid_size": b[1]} for b, a in zip(bids, asks)]
    return orjson.dumps({"type": "orderbook", "code": code, "timestamp": tms, "stream_type": st,
                         "orderbook_units": units})


def depth(sym, U, u, pu, bids=(), asks=()):
    return orjson.dumps({"stream": f"{sym.lower()}@depth@100ms", "data": {
        "e": "depthUpdate", "E": 1, "T": 1, "s": sym, "U": U, "u": u, "pu": pu,
        "b": [[str(p), str(q)] for p, q in bids], "a": [[str(p), str(q)] for p, q in asks]}})


def snap(sym, lid, bids, asks):
    return snapshot_frame(sym, orjson.dumps({"lastUpdateId": lid, "E": 1, "T": 1,
                                             "bids": [[str(p), str(q)] for p, q in bids],
                                             "asks": [[str(p), str(q)] for p, q in asks]}))


@pytest.fixture
def md():
    clock = FakeClock()
    return MarketData(Config(symbols=("BTC", "ETH")), clock=clock, cache=MemoryMarketCache(clock, ttl_ms=100),
                      metrics=MemoryMetrics())


def test_upbit_frames_replace_the_book_and_drop_out_of_order(md):
    t = md._clock.t
    assert md.handle_frame("upbit", upbit("KRW-BTC", 10, [(100.0, 1.0), (99.0, 2.0)], [(101.0, 3.0), (102.0, 1.0)]), t) == {"BTC"}
    assert md.handle_frame("upbit", upbit("KRW-BTC", 9, [(50.0, 1.0)], [(51.0, 1.0)]), t) == set()
    b = md.book(Venue.UPBIT, "BTC/KRW")
    assert b.bids(5).tolist() == [[100.0, 1.0], [99.0, 2.0]] and b.asks(5).tolist() == [[101.0, 3.0], [102.0, 1.0]]
    md.handle_frame("upbit", upbit("KRW-BTC", 11, [(100.5, 1.0)], [(101.5, 3.0)]), t)
    assert b.bids(5).tolist() == [[100.5, 1.0]] and len(b) == 2       # a full replacement, not a merge
    assert md.health("upbit", "BTC/KRW").healthy
    assert md.upbit.out_of_order == 1


def test_fx_frame_sets_the_rate_and_dirties_every_base(md):
    assert md.usdt_krw() is None
    changed = md.handle_frame("upbit", upbit("KRW-USDT", 1, [(1399.0, 10.0)], [(1401.0, 10.0)]), md._clock.t)
    assert changed == {"BTC", "ETH"} and md.usdt_krw() == 1400.0


def test_binance_buffer_snapshot_sync_then_gap_resyncs_one_symbol_only(md):
    t = md._clock.t
    assert md.handle_frame("binance_usdm", depth("BTCUSDT", 95, 105, 94, bids=[(100.0, 2.0)]), t) == set()
    assert md.binance.feeds["BTCUSDT"].snapshot_pending and "BTCUSDT" in md.binance._want
    assert md.handle_frame("binance_usdm", snap("BTCUSDT", 100, [(100.0, 1.0)], [(101.0, 1.0)]), t) == {"BTC"}
    assert md.book("binance_usdm", "BTC/USDT:USDT").best_bid() == (100.0, 2.0)
    md.handle_frame("binance_usdm", depth("ETHUSDT", 1, 5, 0, asks=[(11.0, 1.0)]), t)
    md.handle_frame("binance_usdm", snap("ETHUSDT", 3, [(10.0, 1.0)], [(11.0, 2.0)]), t)
    assert md.health("binance_usdm", "ETH/USDT:USDT").healthy
    assert md.handle_frame("binance_usdm", depth("BTCUSDT", 106, 107, 105, bids=[(100.0, 0.0)]), t) == {"BTC"}
    assert md.handle_frame("binance_usdm", depth("BTCUSDT", 109, 110, 108), t) == set()     # pu 108 != 107
    btc, eth = md.health("binance_usdm", "BTC/USDT:USDT"), md.health("binance_usdm", "ETH/USDT:USDT")
    assert (btc.synced, btc.healthy, btc.gaps, btc.resyncs) == (False, False, 1, 2)
    assert eth.healthy and eth.gaps == 0
    assert md.handle_frame("binance_usdm", depth("ETHUSDT", 6, 7, 5, bids=[(10.5, 1.0)]), t) == {"ETH"}


def test_malformed_and_unknown_frames_are_counted_and_skipped(md):
    t = md._clock.t
    for raw in (b'{"e":"depthUpdate","E":', b"\xff", depth("DOGEUSDT", 1, 2, 0), b'{"e":"markPriceUpdate"}'):
        assert md.handle_frame("binance_usdm", raw, t) == set()
    assert md.binance.counters.malformed == {"malformed": 2, "unknown_symbol": 1, "unknown_kind": 1}
    assert md.handle_frame("upbit", b'{"error":{"name":"NO_CODES","message":"x"}}', t) == set()
    assert md.handle_frame("upbit", b'{"status":"UP"}', t) == set()
    assert md.upbit.counters.malformed == {"error": 1}
    with pytest.raises(ValueError):
        md.handle_frame("kraken", b"{}", t)


def test_health_goes_stale_after_max_age_and_flags_crossed_books(md):
    md.handle_frame("upbit", upbit("KRW-ETH", 1, [(10.0, 1.0)], [(11.0, 1.0)]), md._clock.t)
    assert md.health("upbit", "ETH/KRW").healthy
    md._clock.t += int(2.5 * S)                                        # default max_book_age_s = 2
    h = md.health("upbit", "ETH/KRW")
    assert h.synced and not h.healthy and h.age_s == pytest.approx(2.5)
    md.handle_frame("upbit", upbit("KRW-ETH", 2, [(12.0, 1.0)], [(11.0, 1.0)]), md._clock.t)
    h = md.health("upbit", "ETH/KRW")
    assert h.crossed and not h.healthy


def test_healthy_bases_needs_both_venues_and_fx(md):
    t = md._clock.t
    md.handle_frame("upbit", upbit("KRW-BTC", 1, [(140.0, 1.0)], [(141.0, 1.0)]), t)
    md.handle_frame("binance_usdm", depth("BTCUSDT", 1, 2, 0), t)
    md.handle_frame("binance_usdm", snap("BTCUSDT", 1, [(0.099, 1.0)], [(0.101, 1.0)]), t)
    assert md.healthy_bases() == set()                                  # no FX quote yet
    md.handle_frame("upbit", upbit("KRW-USDT", 1, [(1399.0, 1.0)], [(1401.0, 1.0)]), t)
    assert md.healthy_bases() == {"BTC"}
    assert md.premium("BTC") == pytest.approx(140.5 / (0.1 * 1400.0) - 1)


async def test_listener_decides_on_each_socket_frame_and_survives_its_errors(md):
    t = md._clock.t
    seen = []
    md.set_listener(lambda bases, frame_ns: seen.append((set(bases), md.book("upbit", "BTC/KRW").best_bid())))
    for i in range(3):
        md._ingest("upbit", upbit("KRW-BTC", i, [(100.0 + i, 1.0)], [(200.0, 1.0)]), t)
    assert seen == [({"BTC"}, (100.0, 1.0)), ({"BTC"}, (101.0, 1.0)), ({"BTC"}, (102.0, 1.0))]
    md._ingest("upbit", b"garbage", t)                # malformed: counted, no book changed, no call
    assert len(seen) == 3
    md.set_listener(lambda bases, frame_ns: 1 / 0)    # a failing listener never breaks the feed
    md._ingest("upbit", upbit("KRW-ETH", 1, [(10.0, 1.0)], [(11.0, 1.0)]), t)
    assert md.book("upbit", "ETH/KRW").best_bid() == (10.0, 1.0)
    md.set_listener(None)
    md._ingest("upbit", upbit("KRW-ETH", 2, [(10.5, 1.0)], [(11.0, 1.0)]), t)
    assert md.book("upbit", "ETH/KRW").best_bid() == (10.5, 1.0)


async def test_publish_once_writes_changed_tops_and_flushes_metrics(md):
    t = md._clock.t
    md.handle_frame("upbit", upbit("KRW-USDT", 1, [(1399.0, 1.0)], [(1401.0, 1.0)]), t)
    md.handle_frame("upbit", upbit("KRW-BTC", 1, [(140.0, 1.0)], [(142.0, 2.0)]), t)
    md.handle_frame("binance_usdm", b"garbage", t)
    await md.publish_once()
    top = await md._cache.get_top(Venue.UPBIT, "BTC/KRW")
    assert (top.bid, top.ask, top.ask_qty, top.ts_ns) == (140.0, 142.0, 2.0, t)
    m = md._metrics
    assert m.counters[("frames", ("upbit",))] == 2
    assert m.counters[("malformed_frames", ("binance_usdm", "malformed"))] == 1
    assert m.gauges[("usdt_krw", ())] == 1400.0
    await md.publish_once()                                             # no new frame: no double count
    assert m.counters[("frames", ("upbit",))] == 2


def test_backoff_doubles_with_jitter_up_to_the_cap():
    rng = random.Random(1)
    delays = [backoff_delay(a, 0.5, 30.0, rng) for a in range(12)]
    for a, d in enumerate(delays):
        base = min(30.0, 0.5 * 2 ** a)
        assert base * 0.5 <= d <= base
    assert max(delays) <= 30.0 and delays[-1] >= 15.0


def test_fixed_fx_source_needs_no_fx_market():
    cfg = Config(market_data=MarketDataConfig(fx_source="fixed", fx_fixed_rate=1350.0))
    md = MarketData(cfg, clock=FakeClock())
    assert md.usdt_krw() == 1350.0 and md.upbit.fx is None
