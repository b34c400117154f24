"""Startup reconciliation: the venues are the truth, the stores are what we thought.

1. Every order the TradeStore holds as not final (the outbox) is looked up by client order id:
   found → its state and fills are recorded; the venue has none (asked twice) → recorded as
   never placed. An order that cannot be read keeps its symbol FAILED.
2. Per symbol, the StateStore document (what was hedged, at which premium) is compared with the
   Binance perp position: equal → HEDGED (or FLAT) again; different → FAILED with both numbers,
   for an operator. Upbit spot balances are not compared: the account may hold coins of its own.
3. The day's loss counter, thresholds and the pause/kill flags are restored.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from arbv2.core import config as cfgmod
from arbv2.core.config import Config
from arbv2.core.typed_data import to_plain
from arbv2.core.engine.state import SymbolState
from arbv2.core.errors import ConfigError, UnknownOrder
from arbv2.core.execution.legs import order_fills
from arbv2.core.model import Direction, OrderStatus, Position, RoundTrip, RoundTripState, Venue, base_asset

if TYPE_CHECKING:
    from arbv2.core.engine.engine import ArbitrageEngine

log = logging.getLogger(__name__)


async def reconcile(engine: "ArbitrageEngine") -> dict:
    """Return a summary {orders_checked, orders_unresolved, symbols: {base: state}}."""
    timeout = engine.cfg.execution.leg_timeout_s
    unresolved: set[str] = set()
    checked = 0
    for order in await engine.trade_store.open_orders():
        checked += 1
        port = engine.exchanges.get(order.venue)
        found = None
        for attempt in range(2):
            try:
                found = await asyncio.wait_for(port.order_status(order.symbol, order.client_order_id), timeout)
                break
            except UnknownOrder:
                if attempt == 1:   # asked twice, a pause apart: it never landed
                    found = dataclasses.replace(order, status=OrderStatus.REJECTED)
                else:
                    await engine.clock.sleep(0.05)
            except Exception as exc:
                log.error("reconcile: %s %s unreadable: %r", order.venue.value, order.client_order_id, exc)
                break
        if found is None or not found.status.is_final:
            unresolved.add(base_asset(order.symbol))
            if found is not None:
                await engine.trade_store.record_order(found)
            continue
        await engine.trade_store.record_order(found)
        for fill in order_fills(found, engine.clock.now_ns()):
            await engine.trade_store.record_fill(fill)

    venue_pos = await _binance_positions(engine)
    for base, slot in engine.slots.items():
        doc = await engine.state_store.get(f"symbol:{base}") or {}
        _restore(engine, slot, doc)
        want = slot.binance_pos
        have = want if venue_pos is None else venue_pos.get(engine._syms[base][1], Decimal(0))
        if venue_pos is None:
            slot.state = SymbolState.FAILED
            slot.note = "Binance positions could not be read at startup"
        elif base in unresolved:
            slot.state = SymbolState.FAILED
            slot.note = "an order could not be reconciled at startup"
        elif have != want:
            slot.state = SymbolState.FAILED
            slot.note = f"binance position {have} but the store says {want}: check the venues"
        engine.portfolio.seed(Position(Venue.UPBIT, engine._syms[base][0], slot.upbit_pos))
        engine.portfolio.seed(Position(Venue.BINANCE_USDM, engine._syms[base][1], have))
        if slot.state is SymbolState.FAILED:
            log.error("reconcile: %s FAILED: %s", base, slot.note)
    await _restore_engine(engine)
    return {"orders_checked": checked, "orders_unresolved": sorted(unresolved),
            "symbols": {b: s.state.value for b, s in engine.slots.items()}}


async def _binance_positions(engine: "ArbitrageEngine") -> dict[str, Decimal] | None:
    try:
        positions = await asyncio.wait_for(engine.exchanges[Venue.BINANCE_USDM].positions(),
                                           engine.cfg.execution.leg_timeout_s)
    except Exception as exc:
        log.error("reconcile: Binance positions unreadable: %r; every symbol stays FAILED", exc)
        return None
    return {p.symbol: p.quantity for p in positions}


def _restore(engine: "ArbitrageEngine", slot, doc: dict) -> None:
    state = doc.get("state")
    if state not in ("hedged", "entering", "exiting", "failed"):
        return
    slot.set_positions(Decimal(doc.get("upbit_pos") or 0), Decimal(doc.get("binance_pos") or 0))
    slot.direction = Direction(doc["direction"]) if doc.get("direction") else None
    slot.open_premium = float(doc.get("open_premium") or float("nan"))
    slot.notional_krw = float(doc.get("notional_krw") or 0.0)
    if slot.hedged_qty > 0 and slot.direction is not None:
        slot.state = SymbolState.HEDGED
        slot.round_trip = RoundTrip(doc.get("round_trip_id") or f"{slot.base.lower()}-restored",
                                    slot.base, slot.direction, RoundTripState.HEDGED,
                                    int(doc.get("opened_ns") or 0), slot.open_premium, 0.0)
    elif state == "failed" or slot.residual != 0:
        slot.state = SymbolState.FAILED
        slot.note = doc.get("note") or "failed before the restart"


async def _restore_engine(engine: "ArbitrageEngine") -> None:
    now = engine.clock.now_ns()
    day = engine.risk.day_key(now)
    try:
        engine.risk.restore_daily_loss(day, await engine.state_store.add_daily_loss(day, Decimal(0)))
    except Exception as exc:
        log.error("reconcile: daily loss unreadable: %r", exc)
    flags = await engine.state_store.get("engine") or {}
    engine.paused = bool(flags.get("paused", False))
    engine.risk.kill_switch = bool(flags.get("kill_switch", engine.cfg.risk.kill_switch))
    doc = await engine.state_store.get("thresholds")
    if doc:
        try:
            plain = to_plain(engine.cfg)
            plain.pop("secrets", None)
            plain["strategy"], plain["sizing"] = doc["strategy"], doc["sizing"]
            new = dataclasses.replace(cfgmod.build(Config, plain), secrets=engine.cfg.secrets)
            engine.cfg = new
            engine.detector.reconfigure(new)
        except (ConfigError, KeyError) as exc:
            log.error("reconcile: stored thresholds ignored: %s", exc)
