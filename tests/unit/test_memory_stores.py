"""Memory stores (the embedded default): the behaviour the engine relies on, without services.

The cross-adapter contract lives in tests/integration/test_store_contract.py (which runs these
adapters too); here are the memory-only details: the injected clock, copies, rounding.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from arbv2.adapters.memory.market_cache import MemoryMarketCache
from arbv2.adapters.memory.state_store import MemoryStateStore
from arbv2.adapters.memory.trade_store import MemoryTradeStore
from arbv2.core.model import (Direction, Fill, Order, OrderIntent, OrderStatus, OrderType, RoundTrip,
                              RoundTripState, Side, TopOfBook, Venue)

T0 = 1_717_372_800_000_000_000       # Monday 2024-06-03 00:00 UTC


class Clock:
    def __init__(self) -> None:
        self.t = 5_000_000_000

    def now_ns(self) -> int:
        return self.t

    def monotonic_ns(self) -> int:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += int(seconds * 1e9)


async def test_market_cache_expires_exactly_at_the_ttl_on_the_injected_clock():
    clock = Clock()
    cache = MemoryMarketCache(clock, ttl_ms=100)
    top = TopOfBook(Venue.UPBIT, "BTC/KRW", 1.0, 2.0, 3.0, 4.0, 7)
    await cache.put_top(top, 0.02)
    clock.t += 99_999_999
    assert await cache.get_top(Venue.UPBIT, "BTC/KRW") == top
    assert await cache.get_premium("upbit", "BTC/KRW") == 0.02
    clock.t += 1
    assert await cache.get_top(Venue.UPBIT, "BTC/KRW") is None
    with pytest.raises(ValueError, match="ttl_ms"):
        MemoryMarketCache(clock, ttl_ms=0)


async def test_state_documents_are_copies_encoded_like_redis():
    store = MemoryStateStore()
    doc = {"paused": False, "limits": {"loss_krw": Decimal("500000")}, "symbols": ("BTC", "ETH")}
    await store.put("engine", doc)
    got = await store.get("engine")
    assert got == {"paused": False, "limits": {"loss_krw": "500000"}, "symbols": ["BTC", "ETH"]}
    got["paused"] = True
    assert (await store.get("engine"))["paused"] is False
    assert await store.update("engine", lambda d: {**d, "paused": True}) == {**got, "paused": True}
    await store.delete("engine")
    assert await store.get("engine") is None


async def test_daily_loss_counts_per_day_in_decimal():
    store = MemoryStateStore()
    for _ in range(10):
        await store.add_daily_loss("2024-06-03", Decimal("0.1"))
    assert await store.daily_loss("2024-06-03") == Decimal("1.0")
    assert await store.daily_loss("2024-06-04") == 0


def _rt(rt_id: str, opened_ns: int, pnl: str) -> RoundTrip:
    return RoundTrip(rt_id, "BTC", Direction.LONG_UPBIT, RoundTripState.CLOSED, opened_ns, 0.01, 12.0,
                     pnl_krw=Decimal(pnl), fees_krw=Decimal("3"))


async def test_timestamps_are_kept_to_the_microsecond_like_postgres():
    store = MemoryTradeStore()
    it = OrderIntent(Venue.UPBIT, "BTC/KRW", Side.BUY, OrderType.MARKET, None, Decimal("5000"), None, "c1")
    await store.record_intent(it, "rt", T0 + 1999)
    [o] = await store.open_orders()
    assert o.ts_ns == T0 + 1000
    await store.record_round_trip(_rt("a", T0 + 999, "1"))
    assert [rt.opened_ns for rt in await store.trades(T0, T0 + 1)] == [T0]
    assert await store.trades(T0 + 1, T0 + 10**9) == []


async def test_weekly_and_monthly_buckets_start_on_monday_and_the_first():
    store = MemoryTradeStore()
    sunday = T0 + 6 * 86_400 * 10**9 + 5
    await store.record_round_trip(_rt("a", T0, "10"))
    await store.record_round_trip(_rt("b", sunday, "-4"))
    [week] = await store.pnl("week", T0, T0 + 7 * 86_400 * 10**9)
    assert (week["bucket"], week["round_trips"], week["wins"], week["pnl_krw"]) == (date(2024, 6, 3), 2, 1, 6)
    [month] = await store.pnl("month", T0 - 2 * 86_400 * 10**9, T0 + 1)
    assert month["bucket"] == date(2024, 6, 1) and month["fees_krw"] == 6


async def test_order_report_records_its_fills_once():
    store = MemoryTradeStore()
    f = Fill(Venue.UPBIT, "BTC/KRW", Side.BUY, "c1", "t1", Decimal("0.1"), Decimal("100"), Decimal("0.05"),
             "KRW", T0)
    o = Order(Venue.UPBIT, "BTC/KRW", Side.BUY, OrderType.MARKET, "c1", "u1", OrderStatus.FILLED, None,
              Decimal("10"), None, filled_qty=Decimal("0.1"), avg_price=Decimal("100"), ts_ns=T0, fills=(f, f))
    await store.record_order(o)
    await store.record_order(o)
    assert await store.fills("c1") == [f]
    assert (await store.orders_by_client_id(["c1"]))["c1"].fills == ()
