"""MemoryTradeStore: the embedded TradeStore, answering exactly as PostgresTradeStore does.

It keeps the same rules (intent first as 'pending', a final status never reopened, fills
idempotent on venue+trade id, microsecond timestamps, rollups by the UTC day/week/month a round
trip opened in), so the engine and the contract tests cannot tell the two apart. Nothing
survives the process: it is the default only when no database is configured.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Sequence

from arbv2.core.model import Fill, Order, OrderIntent, OrderStatus, RoundTrip

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _us(ts_ns: int) -> int:
    return ts_ns - ts_ns % 1000


def _bound(ts_ns: int) -> int:
    # a range bound rounded up to the microsecond keeps [start, end) exact for stored times
    return -(-ts_ns // 1000) * 1000


def _bucket(by: str, ts_ns: int) -> date:
    d = (_EPOCH + timedelta(microseconds=ts_ns // 1000)).date()
    if by == "day":
        return d
    if by == "week":
        return d - timedelta(days=d.weekday())
    if by == "month":
        return d.replace(day=1)
    raise ValueError(f"by: {by!r} is not one of day, week, month")


def _date_ns(d: date) -> int:
    return (d - _EPOCH.date()).days * 86_400 * 1_000_000_000


@dataclasses.dataclass(slots=True)
class _OrderRow:
    order: Order
    round_trip_id: str | None
    created_ns: int


class MemoryTradeStore:
    """TradeStore in process memory (the embedded default and the unit-test double)."""

    def __init__(self) -> None:
        self._orders: dict[str, _OrderRow] = {}
        self._events: list[tuple[str, int, str, Decimal]] = []
        self._fills: dict[tuple[str, str], Fill] = {}
        self._trips: dict[str, RoundTrip] = {}
        self._premium: list[tuple[int, str, float, float, float]] = []

    async def record_intent(self, intent: OrderIntent, round_trip_id: str, ts_ns: int) -> None:
        if intent.client_order_id in self._orders:
            return
        order = Order(venue=intent.venue, symbol=intent.symbol, side=intent.side, order_type=intent.order_type,
                      client_order_id=intent.client_order_id, venue_order_id=None, status=OrderStatus.PENDING,
                      quantity=intent.quantity, quote_amount=intent.quote_amount, price=intent.price,
                      ts_ns=_us(ts_ns))
        self._orders[intent.client_order_id] = _OrderRow(order, round_trip_id, _us(ts_ns))

    async def record_order(self, order: Order) -> None:
        ts = _us(order.ts_ns)
        self._events.append((order.client_order_id, ts, order.status.value, order.filled_qty))
        for fill in order.fills:
            await self.record_fill(fill)
        clean = dataclasses.replace(order, ts_ns=ts, fills=())
        row = self._orders.get(order.client_order_id)
        if row is None:
            self._orders[order.client_order_id] = _OrderRow(clean, None, ts)
            return
        old = row.order
        if old.status.is_final and not order.status.is_final:
            return
        row.order = dataclasses.replace(
            clean,
            venue_order_id=order.venue_order_id if order.venue_order_id is not None else old.venue_order_id,
            quantity=old.quantity if old.quantity is not None else order.quantity,
            quote_amount=old.quote_amount if old.quote_amount is not None else order.quote_amount,
            price=old.price if old.price is not None else order.price,
            ts_ns=max(old.ts_ns, ts),
            raw=order.raw if order.raw is not None else old.raw)

    async def record_fill(self, fill: Fill) -> None:
        venue, cid = fill.venue.value, fill.client_order_id
        same_order = [k for k, f in self._fills.items() if k[0] == venue and f.client_order_id == cid]
        if fill.is_estimate:
            if any(not self._fills[k].is_estimate for k in same_order):
                return                                   # the real trades are already here
        else:
            for k in same_order:                         # real trades replace the estimate
                if self._fills[k].is_estimate:
                    del self._fills[k]
        self._fills.setdefault((venue, fill.trade_id), dataclasses.replace(fill, ts_ns=_us(fill.ts_ns)))

    async def record_fills(self, fills: Sequence[Fill]) -> None:
        for fill in fills:
            await self.record_fill(fill)

    async def record_round_trip(self, rt: RoundTrip) -> None:
        strip = lambda legs: tuple(dataclasses.replace(o, raw=None) for o in legs)  # noqa: E731
        self._trips[rt.round_trip_id] = dataclasses.replace(
            rt, opened_ns=_us(rt.opened_ns), closed_ns=None if rt.closed_ns is None else _us(rt.closed_ns),
            entry_legs=strip(rt.entry_legs), exit_legs=strip(rt.exit_legs))

    async def record_premium(self, points: Sequence[tuple[int, str, float, float, float]]) -> None:
        self._premium.extend((_us(ts), base, mid, entry, exit_) for ts, base, mid, entry, exit_ in points)

    async def flush(self) -> None:
        """Nothing is buffered here; present so callers can treat both stores alike."""

    async def open_orders(self) -> list[Order]:
        rows = sorted((r for r in self._orders.values() if not r.order.status.is_final),
                      key=lambda r: (r.created_ns, r.order.client_order_id))
        return [r.order for r in rows]

    async def orders_by_client_id(self, client_order_ids: Sequence[str]) -> dict[str, Order]:
        return {c: self._orders[c].order for c in client_order_ids if c in self._orders}

    async def fills(self, client_order_id: str) -> list[Fill]:
        """Return the fills of one order, oldest first."""
        return sorted((f for f in self._fills.values() if f.client_order_id == client_order_id),
                      key=lambda f: (f.ts_ns, f.trade_id))

    async def trades(self, start_ns: int, end_ns: int, symbol_base: str | None = None) -> list[RoundTrip]:
        lo, hi = _bound(start_ns), _bound(end_ns)
        found = [rt for rt in self._trips.values() if lo <= rt.opened_ns < hi
                 and (symbol_base is None or rt.symbol_base == symbol_base)]
        return sorted(found, key=lambda rt: (rt.opened_ns, rt.round_trip_id))

    async def pnl(self, by: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        if by not in ("day", "week", "month"):
            raise ValueError(f"by: {by!r} is not one of day, week, month")
        groups: dict[tuple[date, str], dict[str, Any]] = {}
        lo, hi = _bound(start_ns), _bound(end_ns)
        for rt in self._trips.values():
            bucket = _bucket(by, rt.opened_ns)
            if not lo <= _date_ns(bucket) < hi:
                continue
            g = groups.setdefault((bucket, rt.symbol_base), {
                "bucket": bucket, "symbol_base": rt.symbol_base, "round_trips": 0, "wins": 0,
                "pnl_krw": Decimal(0), "pnl_usdt": Decimal(0), "fees_krw": Decimal(0)})
            g["round_trips"] += 1
            g["wins"] += 1 if rt.pnl_krw > 0 else 0
            g["pnl_krw"] += rt.pnl_krw
            g["pnl_usdt"] += rt.pnl_usdt
            g["fees_krw"] += rt.fees_krw
        return [groups[k] for k in sorted(groups)]

    async def premium(self, start_ns: int, end_ns: int, symbol_base: str | None = None
                      ) -> list[tuple[int, str, float, float, float]]:
        lo, hi = _bound(start_ns), _bound(end_ns)
        return sorted(p for p in self._premium if lo <= p[0] < hi and (symbol_base is None or p[1] == symbol_base))

    async def close(self) -> None:
        """Nothing to release; the data lives as long as the object."""
