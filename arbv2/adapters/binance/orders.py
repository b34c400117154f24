"""Binance USDⓈ-M order objects -> domain Order (one aggregate Fill when executed)."""
from __future__ import annotations

from decimal import Decimal

from arbv2.adapters.binance.symbols import from_symbol
from arbv2.adapters.common.decimals import dec_or_zero
from arbv2.core.model import Fill, Order, OrderStatus, OrderType, Side, Venue

_STATUS = {
    "NEW": OrderStatus.NEW, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED, "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED, "REJECTED": OrderStatus.REJECTED, "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}


def parse_order(doc: dict, fee_rate: Decimal, client_order_id: str | None = None) -> Order:
    """Return the domain Order of a Binance order object.

    The order object carries no commission and no trade ids: once the order is final, its
    execution is reported as one aggregate fill keyed "<orderId>:agg" (so a store records it once)
    with the fee estimated at `fee_rate` (the configured taker rate) on cumQuote.
    """
    symbol = from_symbol(doc["symbol"])
    side = Side.BUY if doc.get("side") == "BUY" else Side.SELL
    otype = OrderType.LIMIT if (doc.get("origType") or doc.get("type")) == "LIMIT" else OrderType.MARKET
    executed = dec_or_zero(doc.get("executedQty"))
    quote = dec_or_zero(doc.get("cumQuote"))
    avg = dec_or_zero(doc.get("avgPrice")) or (quote / executed if executed and quote else Decimal(0))
    if not quote and executed and avg:
        quote = executed * avg
    client_id = doc.get("clientOrderId") or client_order_id or ""
    ts_ns = int(doc.get("updateTime") or doc.get("time") or 0) * 1_000_000
    fee = (quote * fee_rate) if executed else Decimal(0)
    status = _STATUS.get(str(doc.get("status")), OrderStatus.UNKNOWN)
    fills: tuple[Fill, ...] = ()
    if executed > 0 and status.is_final:
        fills = (Fill(venue=Venue.BINANCE_USDM, symbol=symbol, side=side, client_order_id=client_id,
                      trade_id=f"{doc.get('orderId')}:agg", quantity=executed, price=avg, fee=fee,
                      fee_asset="USDT", ts_ns=ts_ns),)
    price = dec_or_zero(doc.get("price"))
    return Order(
        venue=Venue.BINANCE_USDM, symbol=symbol, side=side, order_type=otype, client_order_id=client_id,
        venue_order_id=str(doc["orderId"]) if doc.get("orderId") is not None else None,
        status=status,
        quantity=dec_or_zero(doc.get("origQty")) or None, quote_amount=None,
        price=price if otype is OrderType.LIMIT and price else None, filled_qty=executed,
        avg_price=avg if executed else None, fee=fee, fee_asset="USDT", ts_ns=ts_ns, fills=fills, raw=doc)
