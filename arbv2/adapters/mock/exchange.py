"""MockAdapter: the paper exchange. Fills against the current local L2 book with the venue's rules.

Market orders walk the book level by level (partial fills when depth runs out; a canceled
remainder); limit orders take what crosses and, GTC, rest until a later status read finds the book
crossing them. Fees are charged in the quote asset; balances (and, on the perp, positions with
realized PnL) are tracked. Ids come from a seeded RNG, so runs are deterministic under a seed.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Mapping

from arbv2.adapters.binance import rules as brules
from arbv2.adapters.binance.symbols import to_symbol
from arbv2.adapters.common.decimals import dec
from arbv2.adapters.mock.ledger import Ledger
from arbv2.adapters.mock.walk import levels, take_base, take_quote
from arbv2.adapters.upbit import rules as urules
from arbv2.adapters.upbit.symbols import to_market
from arbv2.core.errors import InvalidOrder, UnknownOrder, VenueUnavailable
from arbv2.core.model import Fill, Order, OrderIntent, OrderStatus, OrderType, Position, Side, Venue, quote_asset
from arbv2.ports.clock import Clock

_PERMISSIVE_STEP = Decimal("0.00000001")


def _permissive_binance(symbol: str) -> brules.BinanceSymbolRules:
    lot = brules.LotSize(_PERMISSIVE_STEP, Decimal(0), _PERMISSIVE_STEP)
    return brules.BinanceSymbolRules(symbol=symbol, tick_size=_PERMISSIVE_STEP, min_price=Decimal(0),
                                     max_price=Decimal(0), lot=lot, market_lot=lot)


class MockAdapter:
    """ExchangePort that trades on paper against `book_source(symbol)` (the live `_fast` L2Book)."""

    def __init__(self, venue: Venue, book_source: Callable[[str], Any], fees_bps: float, *, clock: Clock,
                 latency_s: float = 0.0, seed: int = 1, balances: Mapping[str, Decimal] | None = None,
                 rules: Mapping[str, Any] | None = None, latency_jitter_s: float = 0.0) -> None:
        self.venue = Venue(venue)
        self._book_source = book_source
        self._fee_rate = Decimal(str(fees_bps)) / Decimal(10_000)
        self._clock = clock
        self._latency_s = latency_s
        self._jitter_s = latency_jitter_s
        self._rng = random.Random(seed)
        self._rules = dict(rules or {})          # by unified symbol: UpbitMarketRules | BinanceSymbolRules
        self._ledger = Ledger(self.venue, balances or {})
        self._orders: dict[str, Order] = {}
        self._resting: dict[str, OrderIntent] = {}
        self._trade_seq = 0

    # ------------------------------------------------------------------ rules
    def _venue_rules(self, symbol: str) -> Any:
        if symbol in self._rules:
            return self._rules[symbol]
        if self.venue is Venue.UPBIT:
            return urules.UpbitMarketRules(market=to_market(symbol))
        return _permissive_binance(to_symbol(symbol))

    async def load_markets(self, symbols: Any = None) -> dict[str, Any]:
        """Return the rules in use (given at construction); the paper venue has nothing to fetch."""
        return dict(self._rules)

    def translate_intent(self, intent: OrderIntent) -> dict:
        if intent.venue is not self.venue:
            raise InvalidOrder(f"mock {self.venue.value} got an intent for {intent.venue.value}", venue=self.venue.value)
        rules = self._venue_rules(intent.symbol)
        if self.venue is Venue.UPBIT:
            return urules.translate(intent, rules)
        book = self._book_source(intent.symbol)
        best = (book.best_ask() if intent.side is Side.BUY else book.best_bid()) if book is not None else None
        return brules.translate(intent, rules, Decimal(repr(best[0])) if best else None)

    # ------------------------------------------------------------------ orders
    async def submit(self, intent: OrderIntent) -> Order:
        if intent.client_order_id in self._orders:
            raise InvalidOrder(f"client order id {intent.client_order_id!r} was used before",
                               venue=self.venue.value, code="duplicate_client_order_id")
        payload = self.translate_intent(intent)
        delay = self._latency_s + (self._rng.uniform(0.0, self._jitter_s) if self._jitter_s else 0.0)
        if delay > 0:
            await self._clock.sleep(delay)
        book = self._book_source(intent.symbol)
        if book is None:
            raise VenueUnavailable(f"mock {self.venue.value}: no book for {intent.symbol}", venue=self.venue.value)
        qty, budget, limit = self._sizes(payload)
        lv = levels(book, intent.side, limit)
        step = self._step(intent.symbol, intent.order_type)
        complete = False
        if budget is not None:
            fills, complete = take_quote(lv, budget, step)
        else:
            fills = take_base(lv, qty, step)
        if intent.time_in_force == "fok" and sum(q for _, q in fills) < (qty or 0):
            fills = []
        self._ledger.check(intent, fills, qty, budget, limit, self._fee_rate)
        order = self._new_order(intent, qty, budget, limit)
        order = self._apply(order, intent, fills)
        status = self._status_after_take(intent, order, qty, budget, complete)
        order = replace(order, status=status)
        if status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            self._resting[intent.client_order_id] = intent
        self._orders[intent.client_order_id] = order
        return order

    def _sizes(self, payload: dict) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        """Return (base qty, quote budget, limit price) after the venue rounding in `payload`."""
        if self.venue is Venue.UPBIT:
            if payload["ord_type"] == "price":
                return None, dec(payload["price"]), None
            limit = dec(payload["price"]) if payload["ord_type"] == "limit" else None
            return dec(payload["volume"]), None, limit
        return dec(payload["quantity"]), None, dec(payload["price"]) if "price" in payload else None

    def _step(self, symbol: str, order_type: OrderType) -> Decimal:
        if self.venue is Venue.UPBIT:
            return urules.VOLUME_STEP
        rules = self._venue_rules(symbol)
        return (rules.market_lot if order_type is OrderType.MARKET else rules.lot).step

    def _new_order(self, intent: OrderIntent, qty: Decimal | None, budget: Decimal | None,
                   limit: Decimal | None) -> Order:
        if self.venue is Venue.UPBIT:
            vid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        else:
            vid = str(self._rng.randrange(10**9, 10**10))
        return Order(venue=self.venue, symbol=intent.symbol, side=intent.side, order_type=intent.order_type,
                     client_order_id=intent.client_order_id, venue_order_id=vid, status=OrderStatus.NEW,
                     quantity=qty, quote_amount=budget, price=limit, fee_asset=quote_asset(intent.symbol),
                     ts_ns=self._clock.now_ns())

    def _apply(self, order: Order, intent: OrderIntent, fills: list[tuple[Decimal, Decimal]]) -> Order:
        new: list[Fill] = []
        for price, q in fills:
            self._trade_seq += 1
            fee = price * q * self._fee_rate
            new.append(Fill(venue=self.venue, symbol=intent.symbol, side=intent.side,
                            client_order_id=intent.client_order_id, trade_id=f"mock-{self._trade_seq}",
                            quantity=q, price=price, fee=fee, fee_asset=order.fee_asset, ts_ns=self._clock.now_ns()))
            self._ledger.apply(intent.symbol, intent.side, q, price, fee)
        if not new:
            return order
        all_fills = order.fills + tuple(new)
        filled = sum((f.quantity for f in all_fills), Decimal(0))
        notional = sum((f.notional for f in all_fills), Decimal(0))
        return replace(order, fills=all_fills, filled_qty=filled, avg_price=notional / filled,
                       fee=sum((f.fee for f in all_fills), Decimal(0)))

    def _status_after_take(self, intent: OrderIntent, order: Order, qty: Decimal | None,
                           budget: Decimal | None, complete: bool) -> OrderStatus:
        if budget is not None:  # KRW-sized buy: filled once only dust is left, else depth ran out
            return OrderStatus.FILLED if complete and order.filled_qty > 0 else OrderStatus.CANCELED
        if order.filled_qty >= (qty or 0):
            return OrderStatus.FILLED
        if intent.order_type is OrderType.MARKET or intent.time_in_force in ("ioc", "fok"):
            return OrderStatus.EXPIRED if self.venue is Venue.BINANCE_USDM and intent.order_type is OrderType.LIMIT \
                else OrderStatus.CANCELED
        return OrderStatus.PARTIALLY_FILLED if order.filled_qty > 0 else OrderStatus.NEW

    async def order_status(self, symbol: str, client_order_id: str) -> Order:
        order = self._orders.get(client_order_id)
        if order is None:
            raise UnknownOrder(f"mock {self.venue.value}: no order {client_order_id!r}", venue=self.venue.value,
                               code="order_not_found")
        intent = self._resting.get(client_order_id)
        book = self._book_source(symbol)
        if intent is not None and book is not None:  # a resting limit fills once the book crosses it
            lv = levels(book, intent.side, order.price)
            fills = take_base(lv, order.quantity - order.filled_qty, self._step(symbol, OrderType.LIMIT))
            if fills:
                order = self._apply(order, intent, fills)
                status = OrderStatus.FILLED if order.filled_qty >= order.quantity else OrderStatus.PARTIALLY_FILLED
                order = replace(order, status=status)
                self._orders[client_order_id] = order
                if status is OrderStatus.FILLED:
                    del self._resting[client_order_id]
        return order

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        order = await self.order_status(symbol, client_order_id)
        if client_order_id not in self._resting:
            raise UnknownOrder(f"mock {self.venue.value}: order {client_order_id!r} is not open",
                               venue=self.venue.value, code="order_not_open")
        del self._resting[client_order_id]
        order = replace(order, status=OrderStatus.CANCELED)
        self._orders[client_order_id] = order
        return order

    async def balances(self) -> dict[str, Decimal]:
        return self._ledger.balances()

    async def positions(self) -> list[Position]:
        return self._ledger.positions()

    async def close(self) -> None:
        self._resting.clear()
