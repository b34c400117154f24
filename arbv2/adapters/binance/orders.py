"""Binance USDⓈ-M order objects and account trades -> domain Order and Fills.

The order object carries no commission and no trade ids. The venue's fills come from
GET /fapi/v1/userTrades (one entry per trade: id, price, qty, commission, commissionAsset);
`with_trades` puts them on the Order. When they cannot be read, `parse_order` stands in for a
final order with one estimated fill keyed "<orderId>:est" (executedQty at avgPrice, the fee at the
configured taker rate on cumQuote), so a ledger can tell an estimate from a venue trade.
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Iterable

from arbv2.adapters.binance.symbols import from_symbol
from arbv2.adapters.common.decimals import dec_or_zero
from arbv2.core.model import ESTIMATED_TRADE_SUFFIX, Fill, Order, OrderStatus, OrderType, Side, Venue

_STATUS = {
    "NEW": OrderStatus.NEW, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED, "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED, "REJECTED": OrderStatus.REJECTED, "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
QUOTE_ASSET = "USDT"


def estimate_trade_id(order_id: object) -> str:
    """Return the trade id of the estimated fill that stands in for an order's unread trades."""
    return f"{order_id}{ESTIMATED_TRADE_SUFFIX}"


def wants_trades(order: Order) -> bool:
    """True when the venue has trades for this order worth reading (executed, final or partial)."""
    return (order.venue_order_id is not None and order.filled_qty > 0
            and (order.status.is_final or order.status is OrderStatus.PARTIALLY_FILLED))


def parse_order(doc: dict, fee_rate: Decimal, client_order_id: str | None = None) -> Order:
    """Return the domain Order of a Binance order object.

    A final order that executed carries one estimated fill ("<orderId>:est", fee = cumQuote x
    `fee_rate`); `with_trades` replaces it with the venue's trades when they are read.
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
                      trade_id=estimate_trade_id(doc.get("orderId")), quantity=executed, price=avg, fee=fee,
                      fee_asset=QUOTE_ASSET, ts_ns=ts_ns),)
    price = dec_or_zero(doc.get("price"))
    return Order(
        venue=Venue.BINANCE_USDM, symbol=symbol, side=side, order_type=otype, client_order_id=client_id,
        venue_order_id=str(doc["orderId"]) if doc.get("orderId") is not None else None,
        status=status,
        quantity=dec_or_zero(doc.get("origQty")) or None, quote_amount=None,
        price=price if otype is OrderType.LIMIT and price else None, filled_qty=executed,
        avg_price=avg if executed else None, fee=fee, fee_asset=QUOTE_ASSET, ts_ns=ts_ns, fills=fills, raw=doc)


def trade_fills(order: Order, trades: Iterable[dict]) -> tuple[Fill, ...]:
    """Return one Fill per userTrades entry of `order` (entries of other orders are skipped).

    Raises KeyError/TypeError/ArithmeticError on an entry that is not a trade (no id, no numbers).
    """
    out = []
    for t in trades:
        if str(t["orderId"]) != order.venue_order_id:
            continue
        out.append(Fill(venue=Venue.BINANCE_USDM, symbol=order.symbol, side=order.side,
                        client_order_id=order.client_order_id, trade_id=str(t["id"]),
                        quantity=Decimal(t["qty"]), price=Decimal(t["price"]),
                        fee=Decimal(t["commission"]), fee_asset=str(t.get("commissionAsset") or QUOTE_ASSET),
                        ts_ns=int(t.get("time") or 0) * 1_000_000))
    out.sort(key=lambda f: (f.ts_ns, int(f.trade_id) if f.trade_id.isdigit() else 0))
    return tuple(out)


def with_trades(order: Order, fills: tuple[Fill, ...]) -> Order:
    """Return `order` carrying the venue's fills; its fee is their commissions' sum.

    With one commission asset (USDT, or BNB under the BNB discount) the order's fee is in it;
    with several, the order states the USDT part and the fills keep every asset's amount.
    """
    assets = {f.fee_asset for f in fills}
    asset = assets.pop() if len(assets) == 1 else QUOTE_ASSET
    fee = sum((f.fee for f in fills if f.fee_asset == asset), Decimal(0))
    return dataclasses.replace(order, fills=fills, fee=fee, fee_asset=asset)
