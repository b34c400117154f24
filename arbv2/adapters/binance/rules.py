"""Binance USDⓈ-M symbol filters and `translate`: an OrderIntent -> the exact POST /fapi/v1/order params.

PRICE_FILTER (tickSize, bounds), LOT_SIZE (limit orders) / MARKET_LOT_SIZE (market orders) and
MIN_NOTIONAL (`notional`; reduce-only orders are exempt) come from exchangeInfo. Quantities are
floored to the step (never more than the intent allows); buy prices round down, sell prices up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from arbv2.adapters.binance.symbols import to_symbol
from arbv2.adapters.common.decimals import ceil_to, dec, fixed, floor_to, plain
from arbv2.core.errors import InvalidOrder
from arbv2.core.model import OrderIntent, OrderType, Side

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


@dataclass(frozen=True, slots=True)
class LotSize:
    min_qty: Decimal
    max_qty: Decimal
    step: Decimal


@dataclass(frozen=True, slots=True)
class BinanceSymbolRules:
    symbol: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    lot: LotSize
    market_lot: LotSize
    min_notional: Decimal = Decimal(0)
    base_asset: str = ""
    quote_asset: str = "USDT"

    @classmethod
    def from_exchange_info(cls, doc: dict) -> "BinanceSymbolRules":
        """Build the rules of one exchangeInfo `symbols[]` entry."""
        f = {x["filterType"]: x for x in doc.get("filters", [])}
        price = f.get("PRICE_FILTER") or {}
        lot = f.get("LOT_SIZE") or {}
        mlot = f.get("MARKET_LOT_SIZE") or lot
        if not price or not lot:
            raise ValueError(f"{doc.get('symbol')}: exchangeInfo lacks PRICE_FILTER or LOT_SIZE")

        def lot_of(x: dict) -> LotSize:
            return LotSize(dec(x["minQty"]), dec(x["maxQty"]), dec(x["stepSize"]))

        notional = (f.get("MIN_NOTIONAL") or {}).get("notional") or (f.get("MIN_NOTIONAL") or {}).get("minNotional")
        return cls(symbol=doc["symbol"], tick_size=dec(price["tickSize"]), min_price=dec(price.get("minPrice", 0)),
                   max_price=dec(price.get("maxPrice", 0)), lot=lot_of(lot), market_lot=lot_of(mlot),
                   min_notional=dec(notional or 0), base_asset=doc.get("baseAsset", ""),
                   quote_asset=doc.get("quoteAsset", "USDT"))

    def _bad(self, text: str, code: int) -> InvalidOrder:
        return InvalidOrder(f"{self.symbol}: {text}", venue="binance_usdm", code=code)

    def round_qty(self, qty: Decimal, market: bool) -> Decimal:
        lot = self.market_lot if market else self.lot
        out = floor_to(qty, lot.step)
        if out <= 0 or out < lot.min_qty:
            raise self._bad(f"quantity {qty} rounds to {plain(out)}, below minQty {plain(lot.min_qty)} "
                            f"(step {plain(lot.step)})", -4004)
        if lot.max_qty and out > lot.max_qty:
            raise self._bad(f"quantity {plain(out)} is above maxQty {plain(lot.max_qty)}", -4005)
        return out

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        out = floor_to(price, self.tick_size) if side is Side.BUY else ceil_to(price, self.tick_size)
        if out <= 0 or (self.min_price and out < self.min_price):
            raise self._bad(f"price {price} is below minPrice {plain(self.min_price)}", -4013)
        if self.max_price and out > self.max_price:
            raise self._bad(f"price {price} is above maxPrice {plain(self.max_price)}", -4013)
        return out

    def check_notional(self, qty: Decimal, price: Decimal | None, reduce_only: bool) -> None:
        """Check MIN_NOTIONAL when a price is known (limit price or a reference mark price)."""
        if reduce_only or price is None or not self.min_notional:
            return
        if qty * price < self.min_notional:
            raise self._bad(f"notional {plain(qty * price)} is below MIN_NOTIONAL {plain(self.min_notional)}",
                            -4164)


def translate(intent: OrderIntent, rules: BinanceSymbolRules, ref_price: Decimal | None = None) -> dict[str, str]:
    """Return POST /fapi/v1/order parameters for `intent` (no timestamp/recvWindow/signature).

    `ref_price` (e.g. the last mark price) lets a market order's MIN_NOTIONAL be checked too.
    """
    symbol = to_symbol(intent.symbol)
    if symbol != rules.symbol:
        raise InvalidOrder(f"rules for {rules.symbol} cannot translate {intent.symbol}", venue="binance_usdm")
    if not CLIENT_ID_RE.match(intent.client_order_id):
        raise InvalidOrder(f"client_order_id {intent.client_order_id!r} does not match Binance's "
                           f"{CLIENT_ID_RE.pattern}", venue="binance_usdm", code=-1100)
    if intent.quantity is None:
        raise InvalidOrder(f"{symbol}: Binance USDⓈ-M orders are sized in base quantity; "
                           "quote_amount is not supported", venue="binance_usdm")
    market = intent.order_type is OrderType.MARKET
    qty = rules.round_qty(intent.quantity, market)
    params: dict[str, str] = {"symbol": symbol, "side": intent.side.value.upper(),
                              "type": "MARKET" if market else "LIMIT"}
    if market:
        rules.check_notional(qty, ref_price, intent.reduce_only)
        params["quantity"] = fixed(qty, rules.market_lot.step)
    else:
        price = rules.round_price(intent.price, intent.side)
        rules.check_notional(qty, price, intent.reduce_only)
        params.update(timeInForce=(intent.time_in_force or "gtc").upper(),
                      quantity=fixed(qty, rules.lot.step), price=fixed(price, rules.tick_size))
    if intent.reduce_only:
        params["reduceOnly"] = "true"
    params["newClientOrderId"] = intent.client_order_id
    params["newOrderRespType"] = "RESULT"
    return params
