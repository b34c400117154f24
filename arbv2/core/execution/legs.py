"""Send one order leg safely: outbox first, bounded wait, look up (never resend) when unsure.

`LegRunner.run` never raises for venue trouble; it fills the LegReport in:

- the intent is recorded (TradeStore.record_intent) before anything is sent; if that fails,
  nothing is sent;
- OrderRejected, RateLimited and TimestampSkew mean the venue refused the request: the order is
  not placed, no lookup needed;
- a timeout, VenueUnavailable or any other failure leaves the outcome unknown: the order is looked
  up by client order id until the venue says it has it, or says twice it has none; if it
  cannot be reached the leg ends UNKNOWN (the engine stops the symbol and reconciles later);
- an order still working at `leg_timeout_s` is cancelled and read back.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Mapping

from arbv2.core.errors import OrderRejected, RateLimited, TimestampSkew, UnknownOrder
from arbv2.core.execution.report import LegReport
from arbv2.core.model import Fill, Order, OrderIntent, OrderStatus, Venue, quote_asset
from arbv2.ports.clock import Clock
from arbv2.ports.exchange import ExchangePort
from arbv2.ports.metrics import CycleStage, Metrics
from arbv2.ports.stores import TradeStore

log = logging.getLogger(__name__)


def unresolved_order(intent: OrderIntent, status: OrderStatus) -> Order:
    """Return an Order standing for an intent the venue never acknowledged."""
    return Order(intent.venue, intent.symbol, intent.side, intent.order_type, intent.client_order_id,
                 None, status, intent.quantity, intent.quote_amount, intent.price)


def order_fills(order: Order, ts_ns: int) -> tuple[Fill, ...]:
    """Return the order's fills, or one aggregate fill when the venue reported only totals."""
    if order.fills or order.filled_qty <= 0 or order.avg_price is None:
        return order.fills
    return (Fill(order.venue, order.symbol, order.side, order.client_order_id,
                 f"{order.client_order_id}-agg", order.filled_qty, order.avg_price, order.fee,
                 order.fee_asset or quote_asset(order.symbol), order.ts_ns or ts_ns),)


class LegRunner:
    """Sends legs through the ExchangePorts with the outbox, timeouts and lookups above."""

    def __init__(self, exchanges: Mapping[Venue, ExchangePort], trade_store: TradeStore,
                 metrics: Metrics, clock: Clock, *, leg_timeout_s: float, poll_s: float = 0.05,
                 lookup_attempts: int = 4) -> None:
        self._ex = exchanges
        self._store = trade_store
        self._metrics = metrics
        self._clock = clock
        self._timeout_s = leg_timeout_s
        self._poll_s = poll_s
        self._lookups = lookup_attempts

    async def run(self, leg: LegReport, round_trip_id: str) -> LegReport:
        """Send `leg.intent` once and follow it to a final (or unknown) state."""
        intent = leg.intent
        port = self._ex[intent.venue]
        try:
            await self._store.record_intent(intent, round_trip_id, self._clock.now_ns())
        except Exception as exc:  # the outbox is the safety net: without it, do not send
            leg.error, leg.error_kind = f"outbox write failed: {exc!r}", "outbox"
            leg.order = unresolved_order(intent, OrderStatus.REJECTED)
            return leg
        clock = self._clock
        leg.sent_ns = clock.monotonic_ns()
        deadline = leg.sent_ns + int(self._timeout_s * 1e9)
        self._metrics.observe_stage(CycleStage.SEND, max(0, leg.sent_ns - leg.decided_ns) / 1e9)
        try:
            order = await asyncio.wait_for(port.submit(intent), self._timeout_s)
            leg.acked_ns = clock.monotonic_ns()
            self._metrics.observe_stage(CycleStage.ACK, (leg.acked_ns - leg.sent_ns) / 1e9)
        except (OrderRejected, RateLimited, TimestampSkew) as exc:
            kind = ("rejected" if isinstance(exc, OrderRejected)
                    else "rate_limited" if isinstance(exc, RateLimited) else "timestamp_skew")
            leg.error, leg.error_kind = str(exc) or type(exc).__name__, kind
            leg.retry_after_s = getattr(exc, "retry_after_s", None)
            self._metrics.inc("rejects", venue=intent.venue.value,
                              reason=str(getattr(exc, "code", None) or kind))
            order = unresolved_order(intent, OrderStatus.REJECTED)
            leg.order = order
            await self._record(order)
            return leg
        except Exception as exc:  # timeout, 5xx, connection: the order may exist; look it up
            leg.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            leg.error_kind = "timeout" if isinstance(exc, asyncio.TimeoutError) else "unavailable"
            order = await self._lookup(leg, port)
        leg.order = order
        await self._record(order)
        if not order.status.is_final and order.status is not OrderStatus.UNKNOWN:
            order = await self._follow(leg, port, deadline)
        self._finish(leg)
        for fill in leg.fills:
            try:
                await self._store.record_fill(fill)
            except Exception as exc:
                log.error("record_fill %s failed: %r", fill.trade_id, exc)
        return leg

    async def _lookup(self, leg: LegReport, port: ExchangePort) -> Order:
        intent = leg.intent
        missing = 0
        for attempt in range(self._lookups):
            leg.lookups += 1
            try:
                return await asyncio.wait_for(port.order_status(intent.symbol, intent.client_order_id),
                                              self._timeout_s)
            except UnknownOrder:
                missing += 1
                if missing >= 2:   # asked twice, a poll apart: the request never landed
                    return unresolved_order(intent, OrderStatus.REJECTED)
                await self._clock.sleep(self._poll_s)
            except Exception as exc:
                wait = getattr(exc, "retry_after_s", None) or self._poll_s * (2 ** attempt)
                await self._clock.sleep(wait)
        log.error("leg %s %s: state unknown after %d lookups", intent.venue.value,
                  intent.client_order_id, leg.lookups)
        return unresolved_order(intent, OrderStatus.UNKNOWN)

    async def _follow(self, leg: LegReport, port: ExchangePort, deadline: int) -> Order:
        intent = leg.intent
        order = leg.order
        while self._clock.monotonic_ns() < deadline:
            await self._clock.sleep(self._poll_s)
            try:
                order = await asyncio.wait_for(
                    port.order_status(intent.symbol, intent.client_order_id), self._timeout_s)
            except Exception as exc:
                log.warning("leg %s: status read failed: %r", intent.client_order_id, exc)
                continue
            if order != leg.order:
                leg.order = order
                await self._record(order)
            if order.status.is_final:
                return order
        leg.error = leg.error or f"not final after {self._timeout_s} s: cancelled"
        leg.error_kind = leg.error_kind or "timeout"
        try:
            order = await asyncio.wait_for(port.cancel(intent.symbol, intent.client_order_id),
                                           self._timeout_s)
        except Exception as exc:
            log.warning("leg %s: cancel failed: %r", intent.client_order_id, exc)
            order = await self._lookup(leg, port)
        if not order.status.is_final:
            order = await self._lookup(leg, port)
            if not order.status.is_final:
                order = unresolved_order(intent, OrderStatus.UNKNOWN) if order.filled_qty == 0 else order
        leg.order = order
        await self._record(order)
        return order

    def _finish(self, leg: LegReport) -> None:
        order = leg.order
        if order is None:
            return
        if order.filled_qty > 0:
            leg.filled_ns = self._clock.monotonic_ns()
            if leg.sent_ns:
                self._metrics.observe_stage(CycleStage.FILL, (leg.filled_ns - leg.sent_ns) / 1e9)
            fills = order_fills(order, self._clock.now_ns())
            if fills is not order.fills:
                leg.order = replace(order, fills=fills)

    async def _record(self, order: Order) -> None:
        try:
            await self._store.record_order(order)
        except Exception as exc:
            log.error("record_order %s failed: %r", order.client_order_id, exc)
