"""Contract suites: every TradeStore, StateStore and MarketCache adapter answers alike.

Parametrized over the memory adapters (no services) and the durable ones (PostgreSQL, Redis), so
the embedded default cannot drift from what production runs on.
"""
from __future__ import annotations

import asyncio
import random
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from arbv2.adapters.memory.market_cache import MemoryMarketCache
from arbv2.adapters.memory.state_store import MemoryStateStore
from arbv2.adapters.memory.trade_store import MemoryTradeStore
from arbv2.core.model import (Direction, Fill, Order, OrderIntent, OrderStatus, OrderType, RoundTrip,
                              RoundTripState, Side, TopOfBook, Venue)

T0 = 1_717_200_000_123_456_000          # 2024-06-01 00:00:00.123456 UTC, microsecond aligned
DAY = 86_400 * 1_000_000_000


def intent(coid: str, venue: Venue = Venue.UPBIT, side: Side = Side.BUY) -> OrderIntent:
    if venue is Venue.UPBIT:
        return OrderIntent(venue, "BTC/KRW", side, OrderType.MARKET, None, Decimal("1000000"), None, coid)
    return OrderIntent(venue, "BTC/USDT:USDT", side, OrderType.MARKET, Decimal("0.011"), None, None, coid)


def order(coid: str, status: OrderStatus, ts_ns: int, filled: str = "0", venue: Venue = Venue.UPBIT,
          fills: tuple[Fill, ...] = ()) -> Order:
    symbol = "BTC/KRW" if venue is Venue.UPBIT else "BTC/USDT:USDT"
    return Order(venue, symbol, Side.BUY, OrderType.MARKET, coid, f"v-{coid}", status, None,
                 Decimal("1000000") if venue is Venue.UPBIT else None, None, filled_qty=Decimal(filled),
                 avg_price=Decimal("90000000") if filled != "0" else None, fee=Decimal("45.5"), fee_asset="KRW",
                 ts_ns=ts_ns, fills=fills, raw={"uuid": f"v-{coid}", "state": status.value})


def fill(coid: str, trade_id: str, ts_ns: int) -> Fill:
    return Fill(Venue.UPBIT, "BTC/KRW", Side.BUY, coid, trade_id, Decimal("0.0111"), Decimal("90000000"),
                Decimal("499.5"), "KRW", ts_ns)


def round_trip(rt_id: str, base: str, opened_ns: int, pnl: str, fees: str = "10",
               state: RoundTripState = RoundTripState.CLOSED) -> RoundTrip:
    legs = (order(f"{rt_id}-a", OrderStatus.FILLED, opened_ns + 2_000_000, "0.0111"),
            order(f"{rt_id}-b", OrderStatus.FILLED, opened_ns + 3_000_000, "0.011", Venue.BINANCE_USDM))
    return RoundTrip(rt_id, base, Direction.LONG_UPBIT, state, opened_ns, 0.0123, 14.5, entry_legs=legs,
                     exit_legs=legs if state is RoundTripState.CLOSED else (),
                     closed_ns=opened_ns + 60 * 10**9 if state is RoundTripState.CLOSED else None,
                     exit_premium=0.0201, realized_edge_bps=11.25, pnl_krw=Decimal(pnl), pnl_usdt=Decimal("1.25"),
                     fees_krw=Decimal(fees), note="test")


@pytest.fixture(params=["memory", "postgres"])
async def trade_store(request):
    if request.param == "memory":
        store = MemoryTradeStore()
    else:
        from arbv2.adapters.postgres import PostgresTradeStore
        dsn, schema = request.getfixturevalue("pg_dsn"), request.getfixturevalue("pg_schema")
        store = await PostgresTradeStore.connect(dsn, schema=schema, migrate=True, premium_flush_interval_s=0.05)
    yield store
    await store.close()


# ------------------------------------------------------------------ TradeStore

async def test_intent_is_open_and_pending_until_a_final_report(trade_store):
    await trade_store.record_intent(intent("c1"), "rt1", T0)
    await trade_store.record_intent(intent("c2", Venue.BINANCE_USDM, Side.SELL), "rt1", T0 + 1000)
    opened = await trade_store.open_orders()
    assert [(o.client_order_id, o.status, o.ts_ns) for o in opened] == [
        ("c1", OrderStatus.PENDING, T0), ("c2", OrderStatus.PENDING, T0 + 1000)]
    assert opened[0].quote_amount == Decimal("1000000") and opened[1].quantity == Decimal("0.011")
    await trade_store.record_order(order("c1", OrderStatus.NEW, T0 + 5000))
    await trade_store.record_order(order("c2", OrderStatus.FILLED, T0 + 6000, "0.011", Venue.BINANCE_USDM))
    opened = await trade_store.open_orders()
    assert [(o.client_order_id, o.status, o.venue_order_id) for o in opened] == [("c1", OrderStatus.NEW, "v-c1")]


async def test_intent_twice_does_not_reset_the_order(trade_store):
    await trade_store.record_intent(intent("c1"), "rt1", T0)
    await trade_store.record_order(order("c1", OrderStatus.NEW, T0 + 5000))
    await trade_store.record_intent(intent("c1"), "rt1", T0 + 9000)
    [o] = await trade_store.open_orders()
    assert o.status is OrderStatus.NEW and o.ts_ns == T0 + 5000


async def test_final_status_is_never_reopened_by_a_late_report(trade_store):
    await trade_store.record_intent(intent("c1"), "rt1", T0)
    await trade_store.record_order(order("c1", OrderStatus.FILLED, T0 + 9000, "0.0111"))
    await trade_store.record_order(order("c1", OrderStatus.NEW, T0 + 5000))      # a late ack
    assert await trade_store.open_orders() == []
    got = (await trade_store.orders_by_client_id(["c1", "nope"]))
    assert list(got) == ["c1"] and got["c1"].status is OrderStatus.FILLED
    assert got["c1"].filled_qty == Decimal("0.0111") and got["c1"].quote_amount == Decimal("1000000")


async def test_report_without_intent_inserts_the_order(trade_store):
    await trade_store.record_order(order("x1", OrderStatus.PARTIALLY_FILLED, T0, "0.005"))
    [o] = await trade_store.open_orders()
    assert o == order("x1", OrderStatus.PARTIALLY_FILLED, T0, "0.005")


async def test_fills_are_idempotent_on_venue_and_trade_id(trade_store):
    f = fill("c1", "t1", T0)
    await trade_store.record_order(order("c1", OrderStatus.FILLED, T0, "0.0111", fills=(f,)))
    await trade_store.record_fill(f)
    await trade_store.record_fills([f, fill("c1", "t2", T0 + 1000)])
    if hasattr(trade_store, "fills"):
        got = await trade_store.fills("c1")
    else:
        async with trade_store._pool.acquire() as conn:
            got = [r["trade_id"] for r in await conn.fetch(
                "SELECT trade_id FROM v2_fills WHERE client_order_id = 'c1' ORDER BY ts, trade_id")]
    ids = [g.trade_id for g in got] if got and isinstance(got[0], Fill) else got
    assert ids == ["t1", "t2"]


async def _fill_ids(trade_store, coid: str) -> list[str]:
    if hasattr(trade_store, "fills"):
        return [f.trade_id for f in await trade_store.fills(coid)]
    async with trade_store._pool.acquire() as conn:
        return [r["trade_id"] for r in await conn.fetch(
            "SELECT trade_id FROM v2_fills WHERE client_order_id = $1 ORDER BY ts, trade_id", coid)]


async def test_real_trades_replace_an_estimated_fill_and_never_sit_beside_one(trade_store):
    est = fill("c9", "777:est", T0)
    await trade_store.record_order(order("c9", OrderStatus.FILLED, T0, "0.0111", fills=(est,)))
    assert await _fill_ids(trade_store, "c9") == ["777:est"]
    real = [fill("c9", "t91", T0 + 1000), fill("c9", "t92", T0 + 2000)]
    await trade_store.record_order(order("c9", OrderStatus.FILLED, T0 + 3000, "0.0111", fills=tuple(real)))
    assert await _fill_ids(trade_store, "c9") == ["t91", "t92"]          # the estimate is gone
    await trade_store.record_fill(est)                                    # a late estimate is refused
    assert await _fill_ids(trade_store, "c9") == ["t91", "t92"]
    await trade_store.record_fill(fill("c8", "555:est", T0))             # other orders keep theirs
    assert await _fill_ids(trade_store, "c8") == ["555:est"]


async def test_round_trip_upsert_and_range_reads(trade_store):
    a = round_trip("rt-a", "BTC", T0, "1500", state=RoundTripState.HEDGED)
    await trade_store.record_round_trip(a)
    a_closed = round_trip("rt-a", "BTC", T0, "2500")
    await trade_store.record_round_trip(a_closed)
    b = round_trip("rt-b", "ETH", T0 + 1000, "-300")
    c = round_trip("rt-c", "BTC", T0 + DAY, "700")
    for rt in (b, c):
        await trade_store.record_round_trip(rt)
    assert await trade_store.trades(T0, T0 + DAY) == [a_closed, b]
    assert await trade_store.trades(T0, T0 + DAY + 1, "BTC") == [a_closed, c]
    assert await trade_store.trades(T0 + 1, T0 + 1000) == []


async def test_premium_points_are_stored(trade_store):
    pts = [(T0 + i * 1000, "BTC" if i % 2 else "ETH", 0.01 + i / 1e6, 0.011, 0.009) for i in range(10)]
    await trade_store.record_premium(pts)
    await trade_store.flush()
    assert await trade_store.premium(T0, T0 + 10**9) == pts
    assert await trade_store.premium(T0, T0 + 10**9, "BTC") == [p for p in pts if p[1] == "BTC"]


async def test_premium_flushes_by_itself_after_the_interval(trade_store):
    pts = [(T0, "BTC", 0.02, 0.021, 0.019)]
    await trade_store.record_premium(pts)
    for _ in range(100):
        if await trade_store.premium(T0, T0 + 1) == pts:
            break
        await asyncio.sleep(0.02)
    assert await trade_store.premium(T0, T0 + 1) == pts


@pytest.mark.parametrize("by", ["day", "week", "month"])
async def test_pnl_rollups_equal_python_sums(trade_store, by):
    rnd = random.Random(8)
    start = 1_704_067_200 * 10**9        # 2024-01-01 (a Monday) 00:00 UTC
    trips = []
    for i in range(60):
        opened = start + rnd.randrange(0, 70 * DAY // 1000) * 1000
        trips.append(round_trip(f"rt{i}", rnd.choice(["BTC", "ETH", "XRP"]), opened,
                                str(Decimal(rnd.randrange(-50000, 90000)) / 10), str(rnd.randrange(0, 900))))
    for rt in trips:
        await trade_store.record_round_trip(rt)
    lo, hi = start + 7 * DAY, start + 63 * DAY
    got = await trade_store.pnl(by, lo, hi)

    def bucket(ts_ns: int) -> date:
        d = datetime.fromtimestamp(ts_ns // 10**9, tz=timezone.utc).date()
        return {"day": d, "week": date.fromordinal(d.toordinal() - d.weekday()), "month": d.replace(day=1)}[by]

    want: dict = {}
    for rt in trips:
        b = bucket(rt.opened_ns)
        b_ns = int(datetime(b.year, b.month, b.day, tzinfo=timezone.utc).timestamp()) * 10**9
        if not lo <= b_ns < hi:
            continue
        w = want.setdefault((b, rt.symbol_base), [0, 0, Decimal(0), Decimal(0), Decimal(0)])
        w[0] += 1
        w[1] += rt.pnl_krw > 0
        w[2] += rt.pnl_krw
        w[3] += rt.pnl_usdt
        w[4] += rt.fees_krw
    assert want, "the generated trades must land in the queried range"
    assert [(r["bucket"], r["symbol_base"]) for r in got] == sorted(want)
    for r in got:
        assert [r["round_trips"], r["wins"], r["pnl_krw"], r["pnl_usdt"], r["fees_krw"]] == want[
            (r["bucket"], r["symbol_base"])]


async def test_pnl_rejects_an_unknown_period(trade_store):
    with pytest.raises(ValueError, match="day, week, month"):
        await trade_store.pnl("year", T0, T0 + DAY)


# ------------------------------------------------------------------ StateStore

@pytest.fixture(params=["memory", "redis"])
async def state_store(request):
    if request.param == "memory":
        store = MemoryStateStore()
    else:
        from arbv2.adapters.redis.state_store import RedisStateStore
        store = await RedisStateStore.connect(request.getfixturevalue("redis_url"),
                                              request.getfixturevalue("redis_prefix"))
    yield store
    await store.close()


async def test_state_get_put_replace(state_store):
    assert await state_store.get("engine") is None
    await state_store.put("engine", {"mode": "paper", "paused": False, "kill": False})
    await state_store.put("symbol:BTC", {"state": "hedged", "qty": Decimal("0.011")})
    await state_store.put("engine", {"mode": "paper", "paused": True})
    assert await state_store.get("engine") == {"mode": "paper", "paused": True}
    assert await state_store.get("symbol:BTC") == {"state": "hedged", "qty": "0.011"}


async def test_state_rejects_non_documents(state_store):
    with pytest.raises(TypeError):
        await state_store.put("engine", ["not", "a", "dict"])
    with pytest.raises(TypeError):
        await state_store.put("engine", {"when": object()})


async def test_state_update_is_atomic_under_concurrency(state_store):
    await state_store.put("counter", {"n": 0})
    bump = lambda d: {"n": d["n"] + 1}  # noqa: E731
    await asyncio.gather(*(state_store.update("counter", bump) for _ in range(40)))
    assert await state_store.get("counter") == {"n": 40}


async def test_daily_loss_is_exact_and_atomic(state_store):
    results = await asyncio.gather(*(state_store.add_daily_loss("2024-06-01", Decimal("0.1")) for _ in range(50)))
    assert max(results) == Decimal("5.0") and len(set(results)) == 50
    assert await state_store.add_daily_loss("2024-06-02", Decimal("12345.678")) == Decimal("12345.678")
    assert await state_store.daily_loss("2024-06-01") == Decimal("5.0")
    assert await state_store.daily_loss("2024-06-03") == Decimal(0)
    with pytest.raises(ValueError):
        await state_store.add_daily_loss("2024-06-01", 1.5)


# ------------------------------------------------------------------ MarketCache

class FakeClock:
    def __init__(self) -> None:
        self.t = 10**12

    def now_ns(self) -> int:
        return self.t

    def monotonic_ns(self) -> int:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += int(seconds * 1e9)


@pytest.fixture(params=["memory", "redis"])
async def market_cache(request):
    """Yield (cache, wait_ms): wait_ms lets time pass on the cache's own clock."""
    if request.param == "memory":
        clock = FakeClock()
        yield MemoryMarketCache(clock, ttl_ms=100), clock.sleep
        return
    from arbv2.adapters.redis.connection import connect_redis
    from arbv2.adapters.redis.market_cache import RedisMarketCache
    client = connect_redis(request.getfixturevalue("redis_url"))
    yield RedisMarketCache(client, prefix=request.getfixturevalue("redis_prefix"), ttl_ms=100), asyncio.sleep
    await client.aclose()


async def test_market_cache_round_trip_and_ttl(market_cache):
    cache, wait = market_cache
    top = TopOfBook(Venue.UPBIT, "BTC/KRW", 90_000_000.0, 0.1234567891234, 90_010_000.0, 0.5, T0)
    await cache.put_top(top, premium=0.0213456789)
    assert await cache.get_top(Venue.UPBIT, "BTC/KRW") == top
    assert await cache.get_premium(Venue.UPBIT, "BTC/KRW") == 0.0213456789
    assert await cache.get_top(Venue.BINANCE_USDM, "BTC/USDT:USDT") is None
    await cache.put_top(top)                       # a put without premium clears the old one
    assert await cache.get_premium(Venue.UPBIT, "BTC/KRW") is None
    await wait(0.25)
    assert await cache.get_top(Venue.UPBIT, "BTC/KRW") is None
