"""Fakes at the port boundary for the engine/executor unit tests (and checks that they are honest).

FakeExchange fills intents against a reference L2Book (walking levels, honouring an IOC limit
and a KRW-sized market buy) and can be scripted per call: reject, rate limit, lose the response
of an order it did place, hang, fill partially, stay working. It refuses a reused client order id,
so a test fails if the executor ever resends under the same id.
"""
from __future__ import annotations

import asyncio
from collections import deque
from decimal import Decimal

import pytest

from arbv2._fast import book as fast_book
from arbv2.adapters.prometheus.catalog import spec_for
from arbv2.core.errors import InvalidOrder, OrderRejected, RateLimited, UnknownOrder, VenueUnavailable
from arbv2.core.model import (BookHealth, Fill, Order, OrderIntent, OrderStatus, OrderType, Position,
                              Side, Venue, base_asset)
from arbv2.ports.metrics import CycleStage

NS = 1_000_000_000


class FakeClock:
    def __init__(self, now_ns: int = 1_700_000_000 * NS) -> None:
        self.now = now_ns
        self.mono = 10 * NS
        self.slept: list[float] = []

    def now_ns(self) -> int:
        return self.now

    def monotonic_ns(self) -> int:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS)
        self.mono += int(seconds * NS)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


class FakeMetrics:
    """Records calls; rejects names/kinds the Prometheus catalog does not know."""

    def __init__(self) -> None:
        self.counters: dict[tuple, float] = {}
        self.gauges: dict[tuple, float] = {}
        self.stages: dict[CycleStage, list[float]] = {}
        self.cycles: list[float] = []

    def observe_cycle(self, seconds: float) -> None:
        self.cycles.append(seconds)

    def observe_stage(self, stage: CycleStage, seconds: float) -> None:
        self.stages.setdefault(stage, []).append(seconds)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        spec = spec_for(name, "counter")
        assert set(labels) == set(spec.labels), (name, labels)
        key = (name, tuple(sorted(labels.items())))
        self.counters[key] = self.counters.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        spec = spec_for(name, "gauge")
        assert set(labels) == set(spec.labels), (name, labels)
        self.gauges[(name, tuple(sorted(labels.items())))] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        spec_for(name, "histogram")

    def count(self, name: str, **labels: str) -> float:
        return sum(v for (n, ls), v in self.counters.items()
                   if n == name and all(dict(ls).get(k) == x for k, x in labels.items()))


class FakeTradeStore:
    def __init__(self) -> None:
        self.intents: list[tuple[OrderIntent, str]] = []
        self.orders: dict[str, Order] = {}
        self.order_log: list[Order] = []
        self.fills: dict[tuple, Fill] = {}
        self.round_trips: dict[str, object] = {}
        self.premiums: list[tuple] = []
        self.events: list[str] = []
        self.fail_intents = False

    async def record_intent(self, intent, round_trip_id, ts_ns):
        if self.fail_intents:
            raise OSError("disk full")
        self.events.append(f"intent:{intent.client_order_id}")
        self.intents.append((intent, round_trip_id))
        self.orders[intent.client_order_id] = Order(
            intent.venue, intent.symbol, intent.side, intent.order_type, intent.client_order_id, None,
            OrderStatus.PENDING, intent.quantity, intent.quote_amount, intent.price)

    async def record_order(self, order):
        self.orders[order.client_order_id] = order
        self.order_log.append(order)

    async def record_fill(self, fill):
        self.fills[(fill.venue, fill.trade_id)] = fill

    async def record_round_trip(self, rt):
        self.round_trips[rt.round_trip_id] = rt

    async def record_premium(self, points):
        self.premiums.extend(points)

    async def open_orders(self):
        return [o for o in self.orders.values() if not o.status.is_final]

    async def close(self):
        pass


class FakeStateStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}
        self.losses: dict[str, Decimal] = {}

    async def get(self, key):
        return self.docs.get(key)

    async def put(self, key, value):
        self.docs[key] = value

    async def add_daily_loss(self, day, amount_krw):
        self.losses[day] = self.losses.get(day, Decimal(0)) + amount_krw
        return self.losses[day]

    async def close(self):
        pass


def make_book(bids, asks, ts_ns=0, module=None):
    b = (module or fast_book).L2Book()
    b.apply_snapshot([p for p, _ in bids], [q for _, q in bids], [p for p, _ in asks], [q for _, q in asks])
    b.ts_event_ns = ts_ns
    return b


class FakeExchange:
    """An ExchangePort that fills from a book; `script` holds per-submit behaviours."""

    def __init__(self, venue: Venue, books: dict, fee_bps: float = 5.0, fee_asset: str = "") -> None:
        self.venue = venue
        self.books = books              # unified symbol -> L2Book
        self.fee = Decimal(repr(fee_bps)) / Decimal(10_000)
        self.fee_asset = fee_asset
        self.script: deque[str] = deque()
        self.orders: dict[str, Order] = {}
        self.submits: list[OrderIntent] = []
        self.status_calls = 0
        self.cancels = 0
        self.working_polls = 2
        self._polls: dict[str, int] = {}
        self.net: dict[str, Decimal] = {}
        self.status_script: deque[str] = deque()

    def translate_intent(self, intent):
        return {"symbol": intent.symbol}

    async def submit(self, intent: OrderIntent) -> Order:
        if intent.client_order_id in self.orders or any(
                i.client_order_id == intent.client_order_id for i in self.submits):
            raise InvalidOrder(f"client order id reused: {intent.client_order_id}", venue=self.venue.value)
        self.submits.append(intent)
        action = self.script.popleft() if self.script else "fill"
        if action == "reject":
            raise OrderRejected("insufficient margin", venue=self.venue.value, code=-2019)
        if action == "rate_limited":
            raise RateLimited("429", venue=self.venue.value, retry_after_s=0.5)
        if action == "ghost":          # request died before the venue saw it
            raise VenueUnavailable("connection reset", venue=self.venue.value)
        if action == "hang":           # never answers; the order is not placed
            await asyncio.sleep(3600)
        frac = Decimal(action.split(":")[1]) if action.startswith("partial:") else Decimal(1)
        order = self._fill(intent, frac, record=action != "working")
        if action == "working":
            order = Order(**{**_fields(order), "status": OrderStatus.NEW, "filled_qty": Decimal(0),
                             "avg_price": None, "fee": Decimal(0), "fills": ()})
            self._polls[intent.client_order_id] = 0
            self.orders[intent.client_order_id] = order
            self._pending_final = getattr(self, "_pending_final", {})
            self._pending_final[intent.client_order_id] = self._fill(intent, Decimal(1), record=False)
            return order
        self.orders[intent.client_order_id] = order
        if action == "lost":           # placed and filled, but the response never came back
            raise VenueUnavailable("read timeout", venue=self.venue.value)
        return order

    def _fill(self, intent: OrderIntent, frac: Decimal, record: bool = True) -> Order:
        book = self.books[intent.symbol]
        levels = book.asks(100) if intent.side is Side.BUY else book.bids(100)
        want_qty = intent.quantity * frac if intent.quantity is not None else None
        want_quote = intent.quote_amount * frac if intent.quote_amount is not None else None
        filled = cost = Decimal(0)
        for p, q in levels:
            price, qty = Decimal(repr(float(p))), Decimal(repr(float(q)))
            if intent.price is not None and ((intent.side is Side.BUY and price > intent.price)
                                             or (intent.side is Side.SELL and price < intent.price)):
                break
            if want_qty is not None:
                take = min(qty, want_qty - filled)
            else:
                take = min(qty, ((want_quote - cost) / price).quantize(Decimal("1e-8"), rounding="ROUND_FLOOR"))
            if take <= 0:
                break
            filled += take
            cost += take * price
        avg = cost / filled if filled > 0 else None
        fee = cost * self.fee
        asset = self.fee_asset or ("KRW" if self.venue is Venue.UPBIT else "USDT")
        full = (want_qty is not None and filled == want_qty) or (want_quote is not None and filled > 0)
        status = OrderStatus.FILLED if full and frac == 1 else (
            OrderStatus.CANCELED if filled > 0 or intent.time_in_force == "ioc" else OrderStatus.EXPIRED)
        fills = ()
        if filled > 0:
            fills = (Fill(self.venue, intent.symbol, intent.side, intent.client_order_id,
                          f"t-{intent.client_order_id}", filled, avg, fee, asset, 1),)
            if record:
                sgn = filled if intent.side is Side.BUY else -filled
                self.net[intent.symbol] = self.net.get(intent.symbol, Decimal(0)) + sgn
        return Order(self.venue, intent.symbol, intent.side, intent.order_type, intent.client_order_id,
                     f"v-{intent.client_order_id}", status, intent.quantity, intent.quote_amount,
                     intent.price, filled, avg, fee, asset, 1, fills)

    async def order_status(self, symbol: str, client_order_id: str) -> Order:
        self.status_calls += 1
        if self.status_script:
            action = self.status_script.popleft()
            if action == "unavailable":
                raise VenueUnavailable("502", venue=self.venue.value)
        order = self.orders.get(client_order_id)
        if order is None:
            raise UnknownOrder(f"no order {client_order_id}", venue=self.venue.value)
        if order.status is OrderStatus.NEW and client_order_id in self._polls:
            self._polls[client_order_id] += 1
            if self.working_polls is not None and self._polls[client_order_id] >= self.working_polls:
                final = self._pending_final.pop(client_order_id)
                sgn = final.filled_qty if final.side is Side.BUY else -final.filled_qty
                self.net[symbol] = self.net.get(symbol, Decimal(0)) + sgn
                self.orders[client_order_id] = final
                return final
        return order

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        self.cancels += 1
        order = self.orders[client_order_id]
        if not order.status.is_final:
            order = Order(**{**_fields(order), "status": OrderStatus.CANCELED})
            self.orders[client_order_id] = order
        return order

    async def balances(self):
        return {}

    async def positions(self):
        return [Position(self.venue, s, q) for s, q in self.net.items() if q != 0]

    async def close(self):
        pass


def _fields(order: Order) -> dict:
    return {f: getattr(order, f) for f in order.__dataclass_fields__}


class FakeMarketData:
    def __init__(self, books: dict, fx: float = 1440.0) -> None:
        self.books = books                     # (venue, symbol) -> L2Book
        self.fx = fx
        self.healthy: dict = {}
        self.listener = None

    async def run(self):
        await asyncio.Event().wait()

    def book(self, venue, symbol):
        return self.books[(venue, symbol)]

    def health(self, venue, symbol):
        ok = self.healthy.get((venue, symbol), True)
        return BookHealth(venue, symbol, ok, 0, 0.0, False, 0, 0, ok)

    def usdt_krw(self):
        return self.fx

    def set_listener(self, listener):
        self.listener = listener


# ------------------------------------------------------------------ the fakes are honest


def test_fake_exchange_walks_the_book_and_refuses_reused_ids():
    book = make_book([(99.0, 1.0)], [(100.0, 0.5), (101.0, 1.0)])
    ex = FakeExchange(Venue.BINANCE_USDM, {"BTC/USDT:USDT": book})
    intent = OrderIntent(Venue.BINANCE_USDM, "BTC/USDT:USDT", Side.BUY, OrderType.MARKET,
                         Decimal("1"), None, None, "c1")
    order = asyncio.run(ex.submit(intent))
    assert order.filled_qty == Decimal("1")
    assert order.avg_price == Decimal("100.5")
    assert base_asset(order.symbol) == "BTC"
    with pytest.raises(InvalidOrder):
        asyncio.run(ex.submit(intent))


def test_fake_exchange_ioc_limit_stops_at_the_limit_price():
    book = make_book([(99.0, 1.0)], [(100.0, 0.5), (101.0, 1.0)])
    ex = FakeExchange(Venue.UPBIT, {"BTC/KRW": book})
    intent = OrderIntent(Venue.UPBIT, "BTC/KRW", Side.BUY, OrderType.LIMIT, Decimal("1"), None,
                         Decimal("100"), "c2", time_in_force="ioc")
    order = asyncio.run(ex.submit(intent))
    assert order.filled_qty == Decimal("0.5")
    assert order.status is OrderStatus.CANCELED
