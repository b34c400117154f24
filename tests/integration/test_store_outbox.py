"""The outbox across a crash, and writes that fail: retried, then surfaced, never dropped.

The engine-level crash test (SIGKILL against the simulator) belongs to the engine; here the
store's half of it: intents recorded before a "crash" come back as open orders after a reconnect,
and reconciling them by client order id leaves each order exactly once with its final status.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
import pytest

from arbv2.adapters.postgres import PostgresTradeStore, StoreWriteError
from arbv2.core.errors import UnknownOrder
from arbv2.core.model import Order, OrderIntent, OrderStatus, OrderType, Side, Venue

T0 = 1_717_200_000_000_000_000


def intent(i: int) -> OrderIntent:
    venue = Venue.UPBIT if i % 2 == 0 else Venue.BINANCE_USDM
    symbol = "BTC/KRW" if venue is Venue.UPBIT else "BTC/USDT:USDT"
    return OrderIntent(venue, symbol, Side.BUY, OrderType.LIMIT, Decimal("0.01"), None, Decimal("100"), f"c{i}",
                       time_in_force="ioc")


class VenueBook:
    """What the venues know, by client order id (the simulator's role in the engine test)."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.submits: dict[str, int] = {}

    def submit(self, it: OrderIntent, ts_ns: int) -> Order:
        self.submits[it.client_order_id] = self.submits.get(it.client_order_id, 0) + 1
        o = Order(it.venue, it.symbol, it.side, it.order_type, it.client_order_id, f"v-{it.client_order_id}",
                  OrderStatus.FILLED, it.quantity, None, it.price, filled_qty=it.quantity, avg_price=it.price,
                  ts_ns=ts_ns, raw={"status": "FILLED"})
        self.orders[it.client_order_id] = o
        return o

    def order_status(self, client_order_id: str) -> Order:
        if client_order_id not in self.orders:
            raise UnknownOrder(f"no order {client_order_id}")
        return self.orders[client_order_id]


async def reconcile(store, venues: VenueBook, now_ns: int) -> None:
    """Settle every open order by looking it up; an order the venue never saw was never sent."""
    for o in await store.open_orders():
        try:
            await store.record_order(venues.order_status(o.client_order_id))
        except UnknownOrder:
            await store.record_order(Order(o.venue, o.symbol, o.side, o.order_type, o.client_order_id, None,
                                           OrderStatus.REJECTED, o.quantity, o.quote_amount, o.price, ts_ns=now_ns,
                                           raw={"reconciled": "unknown to the venue: never sent"}))


async def test_intents_survive_a_crash_and_reconcile_exactly_once(pg_dsn, pg_schema):
    venues = VenueBook()
    store = await PostgresTradeStore.connect(pg_dsn, schema=pg_schema, migrate=True)
    intents = [intent(i) for i in range(6)]
    for i, it in enumerate(intents):
        await store.record_intent(it, "rt1", T0 + i)
    # c0, c1 fully reported; c2, c3 sent but the process dies before their reports; c4, c5 never sent
    for it in intents[:2]:
        await store.record_order(venues.submit(it, T0 + 100))
    for it in intents[2:4]:
        venues.submit(it, T0 + 200)
    store.terminate()           # crash: connections dropped, nothing flushed or closed cleanly
    del store

    store = await PostgresTradeStore.connect(pg_dsn, schema=pg_schema)
    try:
        opened = await store.open_orders()
        assert [(o.client_order_id, o.status) for o in opened] == [(f"c{i}", OrderStatus.PENDING) for i in range(2, 6)]
        await reconcile(store, venues, T0 + 300)
        assert await store.open_orders() == []
        got = await store.orders_by_client_id([it.client_order_id for it in intents])
        assert {c: o.status for c, o in got.items()} == {
            "c0": OrderStatus.FILLED, "c1": OrderStatus.FILLED, "c2": OrderStatus.FILLED, "c3": OrderStatus.FILLED,
            "c4": OrderStatus.REJECTED, "c5": OrderStatus.REJECTED}
        assert all(n == 1 for n in venues.submits.values()) and set(venues.submits) == {"c0", "c1", "c2", "c3"}
        async with store._pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM v2_orders") == 6
            assert await conn.fetchval("SELECT count(DISTINCT client_order_id) FROM v2_orders") == 6
            events = await conn.fetch("SELECT client_order_id, status FROM v2_order_events ORDER BY client_order_id")
        assert [tuple(e) for e in events] == [("c0", "filled"), ("c1", "filled"), ("c2", "filled"),
                                               ("c3", "filled"), ("c4", "rejected"), ("c5", "rejected")]
    finally:
        await store.close()


@pytest.fixture
async def store(pg_dsn, pg_schema):
    s = await PostgresTradeStore.connect(pg_dsn, schema=pg_schema, migrate=True, command_timeout_s=0.3,
                                         write_retries=3)
    yield s
    await s.close()


async def _hold_lock(pg_dsn: str, schema: str, table: str, release: asyncio.Event, held: asyncio.Event) -> None:
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            held.set()
            await release.wait()
    finally:
        await conn.close()


async def test_a_write_that_keeps_failing_is_surfaced_not_dropped(store, pg_dsn, pg_schema):
    release, held = asyncio.Event(), asyncio.Event()
    locker = asyncio.create_task(_hold_lock(pg_dsn, pg_schema, "v2_orders", release, held))
    await held.wait()
    with pytest.raises(StoreWriteError, match="after 4 attempts"):
        await store.record_intent(intent(0), "rt1", T0)
    release.set()
    await locker
    await store.record_intent(intent(0), "rt1", T0)
    assert [o.client_order_id for o in await store.open_orders()] == ["c0"]


async def test_a_write_is_retried_until_the_database_recovers(store, pg_dsn, pg_schema):
    release, held = asyncio.Event(), asyncio.Event()
    locker = asyncio.create_task(_hold_lock(pg_dsn, pg_schema, "v2_orders", release, held))
    await held.wait()
    asyncio.get_running_loop().call_later(0.4, release.set)     # the first attempt times out, a retry wins
    await store.record_intent(intent(0), "rt1", T0)
    await locker
    assert [o.client_order_id for o in await store.open_orders()] == ["c0"]


async def test_a_write_survives_its_connections_being_killed(store, pg_dsn):
    await store.record_intent(intent(0), "rt1", T0)
    admin = await asyncpg.connect(pg_dsn)
    try:
        async with store._pool.acquire() as conn:
            pid = conn.get_server_pid()
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await store.record_intent(intent(1), "rt1", T0 + 1)
    assert [o.client_order_id for o in await store.open_orders()] == ["c0", "c1"]


async def test_a_failed_premium_flush_keeps_the_rows(store, pg_dsn, pg_schema):
    pts = [(T0 + i * 1000, "BTC", 0.01, 0.011, 0.009) for i in range(100)]
    release, held = asyncio.Event(), asyncio.Event()
    locker = asyncio.create_task(_hold_lock(pg_dsn, pg_schema, "v2_premium", release, held))
    await held.wait()
    await store.record_premium(pts)
    with pytest.raises(StoreWriteError):
        await store.flush()
    release.set()
    await locker
    await store.flush()
    assert await store.premium(T0, T0 + 10**9) == pts
