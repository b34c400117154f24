"""Conversions between domain objects and database rows (and the JSON the legs are kept in).

PostgreSQL keeps microseconds, so nanosecond timestamps are truncated to the microsecond on the
way in; the memory adapter applies the same truncation so both stores answer alike.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson

from arbv2.core.model import (Direction, Fill, Order, OrderIntent, OrderStatus, OrderType, RoundTrip,
                              RoundTripState, Side, Venue)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
FINAL_STATUSES = tuple(s.value for s in OrderStatus if s.is_final)


def ns_to_dt(ts_ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ts_ns // 1000)


def bound_to_dt(ts_ns: int) -> datetime:
    """Return a range bound rounded up to the microsecond, so [start, end) stays exact in ns."""
    return EPOCH + timedelta(microseconds=-(-ts_ns // 1000))


def dt_to_ns(dt: datetime) -> int:
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return orjson.dumps(value, default=json_default).decode()


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def intent_args(intent: OrderIntent, round_trip_id: str, ts_ns: int) -> tuple:
    at = ns_to_dt(ts_ns)
    return (intent.client_order_id, round_trip_id, intent.venue.value, intent.symbol, intent.side.value,
            intent.order_type.value, intent.quantity, intent.quote_amount, intent.price, intent.reduce_only,
            intent.time_in_force, OrderStatus.PENDING.value, at)


def order_args(order: Order) -> tuple:
    return (order.client_order_id, order.venue.value, order.symbol, order.side.value, order.order_type.value,
            order.quantity, order.quote_amount, order.price, order.status.value, order.venue_order_id,
            order.filled_qty, order.avg_price, order.fee, order.fee_asset, ns_to_dt(order.ts_ns), order.raw)


def fill_args(fill: Fill) -> tuple:
    return (fill.venue.value, fill.trade_id, ns_to_dt(fill.ts_ns), fill.client_order_id, fill.symbol,
            fill.side.value, fill.quantity, fill.price, fill.fee, fill.fee_asset)


def order_from_row(row: Any) -> Order:
    return Order(venue=Venue(row["venue"]), symbol=row["symbol"], side=Side(row["side"]),
                 order_type=OrderType(row["order_type"]), client_order_id=row["client_order_id"],
                 venue_order_id=row["venue_order_id"], status=OrderStatus(row["status"]),
                 quantity=row["quantity"], quote_amount=row["quote_amount"], price=row["price"],
                 filled_qty=row["filled_qty"], avg_price=row["avg_price"], fee=row["fee"],
                 fee_asset=row["fee_asset"], ts_ns=dt_to_ns(row["updated_at"]), raw=row["raw"])


def fill_to_json(f: Fill) -> dict[str, Any]:
    return {"venue": f.venue.value, "symbol": f.symbol, "side": f.side.value, "client_order_id": f.client_order_id,
            "trade_id": f.trade_id, "quantity": str(f.quantity), "price": str(f.price), "fee": str(f.fee),
            "fee_asset": f.fee_asset, "ts_ns": f.ts_ns}


def fill_from_json(d: dict[str, Any]) -> Fill:
    return Fill(venue=Venue(d["venue"]), symbol=d["symbol"], side=Side(d["side"]), client_order_id=d["client_order_id"],
                trade_id=d["trade_id"], quantity=Decimal(d["quantity"]), price=Decimal(d["price"]),
                fee=Decimal(d["fee"]), fee_asset=d["fee_asset"], ts_ns=d["ts_ns"])


def order_to_json(o: Order) -> dict[str, Any]:
    """Return a leg as JSON (Decimals as strings; the raw venue response stays in v2_orders)."""
    s = lambda v: None if v is None else str(v)  # noqa: E731
    return {"venue": o.venue.value, "symbol": o.symbol, "side": o.side.value, "order_type": o.order_type.value,
            "client_order_id": o.client_order_id, "venue_order_id": o.venue_order_id, "status": o.status.value,
            "quantity": s(o.quantity), "quote_amount": s(o.quote_amount), "price": s(o.price),
            "filled_qty": str(o.filled_qty), "avg_price": s(o.avg_price), "fee": str(o.fee),
            "fee_asset": o.fee_asset, "ts_ns": o.ts_ns, "fills": [fill_to_json(f) for f in o.fills]}


def order_from_json(d: dict[str, Any]) -> Order:
    return Order(venue=Venue(d["venue"]), symbol=d["symbol"], side=Side(d["side"]),
                 order_type=OrderType(d["order_type"]), client_order_id=d["client_order_id"],
                 venue_order_id=d["venue_order_id"], status=OrderStatus(d["status"]),
                 quantity=_dec(d["quantity"]), quote_amount=_dec(d["quote_amount"]), price=_dec(d["price"]),
                 filled_qty=Decimal(d["filled_qty"]), avg_price=_dec(d["avg_price"]), fee=Decimal(d["fee"]),
                 fee_asset=d["fee_asset"], ts_ns=d["ts_ns"], fills=tuple(fill_from_json(f) for f in d["fills"]))


def entry_latency_ms(rt: RoundTrip) -> float | None:
    """Return decision-to-last-entry-leg-report in ms, when the legs carry timestamps."""
    stamps = [leg.ts_ns for leg in rt.entry_legs if leg.ts_ns > 0]
    if not stamps:
        return None
    return max(0, max(stamps) - rt.opened_ns) / 1e6


def round_trip_args(rt: RoundTrip) -> tuple:
    legs = {"entry": [order_to_json(o) for o in rt.entry_legs], "exit": [order_to_json(o) for o in rt.exit_legs]}
    return (rt.round_trip_id, ns_to_dt(rt.opened_ns), rt.symbol_base, rt.direction.value, rt.state.value,
            None if rt.closed_ns is None else ns_to_dt(rt.closed_ns), rt.entry_premium, rt.exit_premium,
            rt.expected_edge_bps, rt.realized_edge_bps, rt.pnl_krw, rt.pnl_usdt, rt.fees_krw, rt.residual_qty,
            entry_latency_ms(rt), [o.client_order_id for o in rt.entry_legs],
            [o.client_order_id for o in rt.exit_legs], legs, rt.note)


def round_trip_from_row(row: Any) -> RoundTrip:
    legs = row["legs"] or {}
    return RoundTrip(
        round_trip_id=row["round_trip_id"], symbol_base=row["symbol_base"], direction=Direction(row["direction"]),
        state=RoundTripState(row["state"]), opened_ns=dt_to_ns(row["opened_at"]),
        entry_premium=row["entry_premium"], expected_edge_bps=row["expected_edge_bps"],
        entry_legs=tuple(order_from_json(d) for d in legs.get("entry", ())),
        exit_legs=tuple(order_from_json(d) for d in legs.get("exit", ())),
        closed_ns=None if row["closed_at"] is None else dt_to_ns(row["closed_at"]),
        exit_premium=row["exit_premium"], realized_edge_bps=row["realized_edge_bps"], pnl_krw=row["pnl_krw"],
        pnl_usdt=row["pnl_usdt"], fees_krw=row["fees_krw"], residual_qty=row["residual_qty"], note=row["note"])


PNL_VIEWS = {"day": "v2_pnl_daily", "week": "v2_pnl_weekly", "month": "v2_pnl_monthly"}
