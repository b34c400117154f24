"""Upbit order objects (create/get/cancel responses) -> domain Order and Fill."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from arbv2.adapters.common.decimals import dec_or_zero
from arbv2.adapters.upbit.symbols import from_market
from arbv2.core.model import Fill, Order, OrderStatus, OrderType, Side, Venue


def iso_to_ns(text: str | None) -> int:
    if not text:
        return 0
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1_000_000) * 1000
    except ValueError:
        return 0


def _status(doc: dict, executed: Decimal) -> OrderStatus:
    state = doc.get("state")
    if state == "done":
        return OrderStatus.FILLED
    if state == "cancel":
        # A KRW-sized market buy ends in "cancel" once only dust is left: filled as far as possible.
        if doc.get("ord_type") == "price" and executed > 0:
            return OrderStatus.FILLED
        return OrderStatus.CANCELED
    if state in ("wait", "watch"):
        return OrderStatus.PARTIALLY_FILLED if executed > 0 else OrderStatus.NEW
    if state == "prevented":
        return OrderStatus.CANCELED
    return OrderStatus.UNKNOWN


def _fills(doc: dict, symbol: str, side: Side, client_id: str, paid_fee: Decimal) -> tuple[Fill, ...]:
    trades = [t for t in (doc.get("trades") or []) if dec_or_zero(t.get("volume")) > 0]
    if not trades:
        return ()
    funds = [dec_or_zero(t.get("funds")) or dec_or_zero(t.get("price")) * dec_or_zero(t.get("volume"))
             for t in trades]
    total = sum(funds, Decimal(0))
    out, allotted = [], Decimal(0)
    for i, (t, f) in enumerate(zip(trades, funds)):
        # Upbit reports the fee per order; share it across trades by funds, remainder on the last.
        fee = paid_fee - allotted if i == len(trades) - 1 else (paid_fee * f / total if total else Decimal(0))
        allotted += fee
        out.append(Fill(venue=Venue.UPBIT, symbol=symbol, side=side, client_order_id=client_id,
                        trade_id=str(t.get("uuid") or f"{doc.get('uuid')}:{i}"),
                        quantity=dec_or_zero(t.get("volume")), price=dec_or_zero(t.get("price")),
                        fee=fee, fee_asset="KRW", ts_ns=iso_to_ns(t.get("created_at"))))
    return tuple(out)


def parse_order(doc: dict, client_order_id: str | None = None) -> Order:
    """Return the domain Order of an Upbit order object."""
    symbol = from_market(doc["market"])
    side = Side.BUY if doc.get("side") == "bid" else Side.SELL
    ord_type = OrderType.LIMIT if doc.get("ord_type") == "limit" else OrderType.MARKET
    executed = dec_or_zero(doc.get("executed_volume"))
    funds = dec_or_zero(doc.get("executed_funds"))
    paid_fee = dec_or_zero(doc.get("paid_fee"))
    client_id = doc.get("identifier") or client_order_id or ""
    fills = _fills(doc, symbol, side, client_id, paid_fee)
    if not funds and fills:
        funds = sum((f.notional for f in fills), Decimal(0))
    price = dec_or_zero(doc.get("price")) or None
    return Order(
        venue=Venue.UPBIT, symbol=symbol, side=side, order_type=ord_type, client_order_id=client_id,
        venue_order_id=doc.get("uuid"), status=_status(doc, executed),
        quantity=dec_or_zero(doc.get("volume")) or None,
        quote_amount=price if doc.get("ord_type") == "price" else None,
        price=price if ord_type is OrderType.LIMIT else None,
        filled_qty=executed, avg_price=(funds / executed) if executed > 0 and funds > 0 else None,
        fee=paid_fee, fee_asset="KRW", ts_ns=iso_to_ns(doc.get("created_at")), fills=fills, raw=doc)
