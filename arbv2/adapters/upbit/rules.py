"""Upbit precision and order rules, and `translate`: an OrderIntent -> the exact POST /v1/orders body.

Prices follow the KRW tick table (policy of 2025-07-31) unless the venue's
/v1/orderbook/instruments tick is coarser; the minimum order total comes from /v1/orders/chance.
Rounding never enlarges what the intent allows: buy prices round down, sell prices up, volumes and
KRW budgets down. An intent the rules cannot satisfy raises InvalidOrder before any request.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arbv2.adapters.common.decimals import ceil_to, floor_to, is_multiple, plain
from arbv2.adapters.upbit.symbols import to_market
from arbv2.core.errors import InvalidOrder
from arbv2.core.model import OrderIntent, OrderType, Side

D = Decimal
# (lower bound of the price band, tick), highest band first.
KRW_TICKS: tuple[tuple[Decimal, Decimal], ...] = (
    (D(1_000_000), D(1000)), (D(500_000), D(500)), (D(100_000), D(100)), (D(50_000), D(50)),
    (D(10_000), D(10)), (D(5_000), D(5)), (D(100), D(1)), (D(10), D("0.1")), (D(1), D("0.01")),
    (D("0.1"), D("0.001")), (D("0.01"), D("0.0001")), (D("0.001"), D("0.00001")),
    (D("0.0001"), D("0.000001")), (D("0.00001"), D("0.0000001")), (D(0), D("0.00000001")),
)
VOLUME_STEP = D("0.00000001")   # ccxt's amount precision; no official figure (protocols/upbit.md §3)
DEFAULT_MIN_TOTAL_KRW = D(5000)
KRW_STEP = D(1)                 # KRW budgets of market buys: whole won


def krw_tick(price: Decimal) -> Decimal:
    """Return the KRW-market tick for `price` from the table."""
    for lower, tick in KRW_TICKS:
        if price >= lower:
            return tick
    return KRW_TICKS[-1][1]


@dataclass(frozen=True, slots=True)
class UpbitMarketRules:
    """Rules of one Upbit market. `tick_size` is the instruments tick (None: table only)."""

    market: str
    min_total: Decimal = DEFAULT_MIN_TOTAL_KRW
    max_total: Decimal | None = None
    tick_size: Decimal | None = None
    bid_fee: Decimal = D("0.0005")
    ask_fee: Decimal = D("0.0005")

    def tick(self, price: Decimal) -> Decimal:
        """Return the tick at `price`: the larger of the table's and the venue's instrument tick.

        Table ticks are nested (each divides the next), so the larger one is always a valid grid,
        whichever band the price is in now (the instruments tick was read at the load-time price).
        """
        if not self.market.startswith("KRW-"):
            return self.tick_size or VOLUME_STEP
        table = krw_tick(price)
        return max(table, self.tick_size) if self.tick_size else table

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        """Round a limit price onto the grid: buys down, sells up (never cross further than asked)."""
        out = price
        for _ in range(3):  # rounding may land in the next band, whose tick is coarser
            tick = self.tick(out)
            if is_multiple(out, tick):
                return out
            out = floor_to(out, tick) if side is Side.BUY else ceil_to(out, tick)
        raise InvalidOrder(f"{self.market}: price {price} cannot be put on the tick grid", venue="upbit")

    def check_total(self, total: Decimal, what: str) -> None:
        if total < self.min_total:
            raise InvalidOrder(f"{self.market}: {what} {plain(total)} is below the minimum order total "
                               f"{plain(self.min_total)}", venue="upbit", code="under_min_total")
        if self.max_total is not None and total > self.max_total:
            raise InvalidOrder(f"{self.market}: {what} {plain(total)} is above the maximum order total "
                               f"{plain(self.max_total)}", venue="upbit", code="over_max_total")


def _volume(rules: UpbitMarketRules, qty: Decimal) -> Decimal:
    vol = floor_to(qty, VOLUME_STEP)
    if vol <= 0:
        raise InvalidOrder(f"{rules.market}: quantity {qty} rounds to zero at step {VOLUME_STEP}", venue="upbit")
    return vol


def translate(intent: OrderIntent, rules: UpbitMarketRules) -> dict[str, str]:
    """Return the POST /v1/orders body for `intent` (Upbit field names, string values, no auth)."""
    market = to_market(intent.symbol)
    if market != rules.market:
        raise InvalidOrder(f"rules for {rules.market} cannot translate {intent.symbol}", venue="upbit")
    side = "bid" if intent.side is Side.BUY else "ask"
    body: dict[str, str] = {"market": market, "side": side}
    if intent.order_type is OrderType.MARKET and intent.side is Side.BUY:
        if intent.quote_amount is None:
            raise InvalidOrder(f"{market}: an Upbit market buy is sized in KRW; give quote_amount, "
                               "not quantity", venue="upbit")
        budget = floor_to(intent.quote_amount, KRW_STEP) if market.startswith("KRW-") else intent.quote_amount
        rules.check_total(budget, "KRW budget")
        body.update(ord_type="price", price=plain(budget))
    elif intent.order_type is OrderType.MARKET:
        body.update(ord_type="market", volume=plain(_volume(rules, intent.quantity)))
    else:
        price = rules.round_price(intent.price, intent.side)
        volume = _volume(rules, intent.quantity)
        rules.check_total(price * volume, "order total")
        body.update(ord_type="limit", price=plain(price), volume=plain(volume))
        if intent.time_in_force in ("ioc", "fok"):
            body["time_in_force"] = intent.time_in_force
    body["identifier"] = intent.client_order_id
    return body
