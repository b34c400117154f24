"""PostgresTradeStore: the durable TradeStore on asyncpg (pool, cached prepared statements).

Orders, fills and round trips are written through at once, each write retried on transient
failures (lost connection, timeout, serialization conflict) and then raised as StoreWriteError:
a write is never dropped silently. Every write is idempotent (upserts, ON CONFLICT DO NOTHING),
which is what makes retrying it safe. Premium points, the only high-rate series, are buffered and
COPYed in batches; a failed flush keeps the rows and raises on the next call.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Sequence, TypeVar

import asyncpg
import orjson

from arbv2.adapters.postgres import migrate as migrations
from arbv2.adapters.postgres import rows
from arbv2.adapters.postgres.sql import (DELETE_ESTIMATED_FILLS, INSERT_ESTIMATED_FILL, INSERT_FILL, INSERT_INTENT,
                                         INSERT_ORDER_EVENT, OPEN_ORDERS, PREMIUM_COLUMNS, SELECT_PREMIUM, SELECT_TRADES, SELECT_TRADES_SYMBOL,
                                         UPSERT_ORDER, UPSERT_ROUND_TRIP, pnl_query)
from arbv2.core.errors import StoreError
from arbv2.core.model import Fill, Order, OrderIntent, RoundTrip

log = logging.getLogger(__name__)
T = TypeVar("T")

# failures worth retrying on another connection: the statement did not run, or may run if tried
# again (InternalClientError is what asyncpg raises when the server kills a connection mid-use)
_TRANSIENT = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError,
              asyncpg.CannotConnectNowError, asyncpg.OperatorInterventionError, asyncpg.SerializationError,
              asyncpg.DeadlockDetectedError, asyncpg.QueryCanceledError, asyncpg.TooManyConnectionsError,
              asyncpg.LockNotAvailableError, ConnectionError, OSError, asyncio.TimeoutError)


class StoreWriteError(StoreError):
    """A store write failed after its retries; the caller must treat the record as not persisted."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=rows.dumps, decoder=orjson.loads)


class PostgresTradeStore:
    """TradeStore on PostgreSQL (plain or TimescaleDB), the PnL single source of truth."""

    PREMIUM_BATCH_ROWS = 5000

    def __init__(self, pool: asyncpg.Pool, *, write_retries: int = 5, premium_flush_interval_s: float = 1.0,
                 retry_base_s: float = 0.05) -> None:
        self._pool = pool
        self._retries = max(0, write_retries)
        self._retry_base_s = retry_base_s
        self._flush_interval_s = premium_flush_interval_s
        self._premium: list[tuple] = []
        self._premium_error: BaseException | None = None
        self._flush_lock = asyncio.Lock()
        self._flusher: asyncio.Task | None = None
        self._flusher_sleeping = False
        self._closed = False

    @classmethod
    async def connect(cls, dsn: str, *, pool_min: int = 1, pool_max: int = 5, command_timeout_s: float = 5.0,
                      write_retries: int = 5, premium_flush_interval_s: float = 1.0, migrate: bool = False,
                      schema: str | None = None, connect_timeout_s: float = 10.0) -> "PostgresTradeStore":
        """Open a pool on `dsn` (tables in `schema` when given) and, if asked, migrate first."""
        settings = {"search_path": schema} if schema else None
        pool = await asyncpg.create_pool(dsn, min_size=pool_min, max_size=pool_max, command_timeout=command_timeout_s,
                                         timeout=connect_timeout_s, init=_init_connection, server_settings=settings)
        store = cls(pool, write_retries=write_retries, premium_flush_interval_s=premium_flush_interval_s)
        try:
            if migrate:
                await store.migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    # ------------------------------------------------------------------ schema
    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied now."""
        async with self._pool.acquire() as conn:
            return await migrations.migrate(conn)

    async def schema_status(self) -> migrations.SchemaStatus:
        async with self._pool.acquire() as conn:
            return await migrations.status(conn)

    # ------------------------------------------------------------------ writes
    async def _write(self, what: str, op: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                async with self._pool.acquire() as conn:
                    return await op(conn)
            except _TRANSIENT as exc:
                if attempt >= self._retries:
                    raise StoreWriteError(f"{what}: failed after {attempt + 1} attempts: "
                                          f"{type(exc).__name__}: {exc}") from exc
                delay = min(2.0, self._retry_base_s * 2 ** attempt)
                log.warning("store write %s failed (%s: %s); retry %d/%d in %.2fs", what, type(exc).__name__,
                            exc, attempt + 1, self._retries, delay)
                attempt += 1
                await asyncio.sleep(delay)
            except asyncpg.PostgresError as exc:
                raise StoreWriteError(f"{what}: rejected by the database: {type(exc).__name__}: {exc}") from exc

    async def record_intent(self, intent: OrderIntent, round_trip_id: str, ts_ns: int) -> None:
        """Make an order durable as 'pending' before it is sent (a second call is a no-op)."""
        args = rows.intent_args(intent, round_trip_id, ts_ns)
        await self._write(f"intent {intent.client_order_id}", lambda c: c.execute(INSERT_INTENT, *args))

    async def record_order(self, order: Order) -> None:
        """Upsert an order's state by client order id, log the change and record its fills.

        A final status is never overwritten by a non-final one (a late acknowledgement after the
        fill report must not reopen the order).
        """
        args = rows.order_args(order)

        async def op(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                await conn.execute(UPSERT_ORDER, *args)
                await conn.execute(INSERT_ORDER_EVENT, order.client_order_id, args[14], order.status.value,
                                   order.filled_qty, order.venue_order_id, order.raw)
                await _insert_fills(conn, order.fills)

        await self._write(f"order {order.client_order_id}", op)

    async def record_fill(self, fill: Fill) -> None:
        await self.record_fills([fill])

    async def record_fills(self, fills: Sequence[Fill]) -> None:
        """Record many fills in one transaction (idempotent; real trades replace estimates)."""
        if fills:
            async def op(conn: asyncpg.Connection) -> None:
                async with conn.transaction():
                    await _insert_fills(conn, fills)
            await self._write(f"{len(fills)} fills", op)

    async def record_round_trip(self, rt: RoundTrip) -> None:
        args = rows.round_trip_args(rt)
        await self._write(f"round trip {rt.round_trip_id}", lambda c: c.execute(UPSERT_ROUND_TRIP, *args))

    async def record_premium(self, points: Sequence[tuple[int, str, float, float, float]]) -> None:
        """Buffer premium points; COPY them when the batch is full or the flush interval passes."""
        if self._closed:
            raise StoreWriteError(f"{len(points)} premium points: the store is closed")
        if self._premium_error is not None:
            await self.flush()      # re-raises while the database still refuses the buffered rows
        to_dt = rows.ns_to_dt
        self._premium.extend((to_dt(ts), base, mid, entry, exit_) for ts, base, mid, entry, exit_ in points)
        if len(self._premium) >= self.PREMIUM_BATCH_ROWS:
            await self.flush()
        elif self._premium and self._flusher is None and not self._closed:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())
            self._flusher.add_done_callback(self._flusher_done)

    async def _flush_later(self) -> None:
        # one owned task: sleeps, flushes, and goes on while rows keep arriving
        while True:
            self._flusher_sleeping = True
            await asyncio.sleep(self._flush_interval_s)
            self._flusher_sleeping = False
            await self.flush()
            if not self._premium:
                self._flusher = None
                return

    def _flusher_done(self, task: asyncio.Task) -> None:
        if self._flusher is task:
            self._flusher = None
        if not task.cancelled() and task.exception() is not None:
            self._premium_error = task.exception()
            log.error("premium flush failed; %d rows kept for the next flush: %s", len(self._premium),
                      task.exception())

    async def flush(self) -> None:
        """COPY the buffered premium points now; raise StoreWriteError (rows kept) on failure."""
        async with self._flush_lock:
            if not self._premium:
                self._premium_error = None
                return
            batch = self._premium
            self._premium = []
            try:
                await self._write(f"{len(batch)} premium points", lambda c: c.copy_records_to_table(
                    "v2_premium", records=batch, columns=PREMIUM_COLUMNS))
            except BaseException as exc:
                self._premium[:0] = batch
                self._premium_error = exc
                raise
            self._premium_error = None

    # ------------------------------------------------------------------ reads
    async def open_orders(self) -> list[Order]:
        async with self._pool.acquire() as conn:
            return [rows.order_from_row(r) for r in await conn.fetch(OPEN_ORDERS, rows.FINAL_STATUSES)]

    async def orders_by_client_id(self, client_order_ids: Sequence[str]) -> dict[str, Order]:
        """Return the stored orders among `client_order_ids` (for reconciliation and tests)."""
        async with self._pool.acquire() as conn:
            found = await conn.fetch("SELECT * FROM v2_orders WHERE client_order_id = ANY($1::text[])",
                                     list(client_order_ids))
        return {r["client_order_id"]: rows.order_from_row(r) for r in found}

    async def trades(self, start_ns: int, end_ns: int, symbol_base: str | None = None) -> list[RoundTrip]:
        start, end = rows.bound_to_dt(start_ns), rows.bound_to_dt(end_ns)
        async with self._pool.acquire() as conn:
            if symbol_base is None:
                found = await conn.fetch(SELECT_TRADES, start, end)
            else:
                found = await conn.fetch(SELECT_TRADES_SYMBOL, start, end, symbol_base)
        return [rows.round_trip_from_row(r) for r in found]

    async def pnl(self, by: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        """Return rollups of round trips by the UTC day/week/month they opened in; bucket is a date."""
        sql = pnl_query(by)
        async with self._pool.acquire() as conn:
            found = await conn.fetch(sql, rows.bound_to_dt(start_ns), rows.bound_to_dt(end_ns))
        return [{"bucket": r["bucket"], "symbol_base": r["symbol_base"], "round_trips": int(r["round_trips"]),
                 "wins": int(r["wins"]), "pnl_krw": r["pnl_krw"], "pnl_usdt": r["pnl_usdt"],
                 "fees_krw": r["fees_krw"]} for r in found]

    async def premium(self, start_ns: int, end_ns: int, symbol_base: str | None = None
                      ) -> list[tuple[int, str, float, float, float]]:
        """Return stored premium points in [start_ns, end_ns), oldest first (buffered ones excluded)."""
        async with self._pool.acquire() as conn:
            found = await conn.fetch(SELECT_PREMIUM, rows.bound_to_dt(start_ns), rows.bound_to_dt(end_ns),
                                     symbol_base)
        return [(rows.dt_to_ns(r[0]), r[1], r[2], r[3], r[4]) for r in found]

    # ------------------------------------------------------------------ lifecycle
    async def close(self) -> None:
        """Flush buffered premium points, then close the pool (it is closed even if the flush fails)."""
        if self._closed:
            return
        self._closed = True
        task = self._flusher
        if task is not None:
            if self._flusher_sleeping:
                task.cancel()       # nothing in flight: the flush below covers its rows
            await asyncio.gather(task, return_exceptions=True)   # its error stays in _premium_error
        try:
            await self.flush()
        finally:
            await self._pool.close()

    def terminate(self) -> None:
        """Drop every connection at once without flushing: what a crash leaves behind (tests, shutdown)."""
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
        self._pool.terminate()



async def _insert_fills(conn: asyncpg.Connection, fills: Sequence[Fill]) -> None:
    """Insert fills; a real trade deletes its order's estimate, an estimate never joins real trades."""
    real = [f for f in fills if not f.is_estimate]
    if real:
        orders = sorted({(f.venue.value, f.client_order_id) for f in real})
        await conn.execute(DELETE_ESTIMATED_FILLS, [v for v, _ in orders], [c for _, c in orders])
        await conn.executemany(INSERT_FILL, [rows.fill_args(f) for f in real])
    estimates = [rows.fill_args(f) for f in fills if f.is_estimate]
    if estimates:
        await conn.executemany(INSERT_ESTIMATED_FILL, estimates)
