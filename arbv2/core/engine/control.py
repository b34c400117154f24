"""Operator controls and read-outs of the engine: pause, kill, thresholds, status, health, shutdown."""
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
from arbv2.core.errors import ConfigError
from arbv2.core.model import Venue

if TYPE_CHECKING:
    from arbv2.core.engine.engine import ArbitrageEngine

log = logging.getLogger(__name__)
_NS = 1_000_000_000
GLOBAL_KEYS = frozenset({"entry_edge_bps", "exit_edge_bps", "slippage_bps", "safety_margin_bps",
                         "funding_horizon_h", "anchor_halflife_s", "warmup_s", "allow_reverse",
                         "order_notional_krw"})
SYMBOL_KEYS = frozenset({"entry_edge_bps", "exit_edge_bps", "order_notional_krw"})


def flatten_symbol(engine: "ArbitrageEngine", base: str) -> str | None:
    """Start exiting `base`'s hedge at market now; return why not, or None once started."""
    slot = engine.slots[base]
    now = engine.clock.now_ns()
    fx = engine.md.usdt_krw()
    su, sb = engine._syms[base]
    ub, bb = engine.md.book(Venue.UPBIT, su), engine.md.book(Venue.BINANCE_USDM, sb)
    opp = None if not fx or ub is None or bb is None else engine.detector.exit_now(
        base, ub, bb, fx, now, slot.holding(), "kill")
    if opp is None:
        return "books cannot fill the exit"
    verdict = engine.risk.check(opp, engine.exposure(base), engine.md.health(Venue.UPBIT, su),
                                engine.md.health(Venue.BINANCE_USDM, sb), now)
    if not verdict.approved:
        return f"{verdict.reason.value}: {verdict.detail}"
    engine.start_execution(slot, verdict, now, engine.clock.monotonic_ns())
    return None


def set_paused(engine: "ArbitrageEngine", paused: bool) -> None:
    engine.paused = paused
    engine.metrics.set("paused", 1.0 if paused else 0.0)
    log.warning("entries %s by operator", "paused" if paused else "resumed")
    _persist_engine(engine)


async def kill(engine: "ArbitrageEngine", flatten: bool) -> dict:
    """Kill switch on; optionally exit every hedged symbol at market (RiskGuard still checks).

    With `flatten`, a symbol whose entry is still executing is flattened as soon as that entry
    completes (the engine calls `flatten_symbol` from the execution's end).
    """
    engine.risk.kill_switch = True
    engine.flatten_pending = flatten
    engine.metrics.set("kill_switch", 1.0)
    log.critical("KILL SWITCH on (flatten=%s)", flatten)
    out: dict = {"kill_switch": True, "flattening": [], "refused": {}, "after_entry": []}
    if flatten:
        for base, slot in engine.slots.items():
            if base in engine._tasks:
                out["after_entry"].append(base)
                continue
            if slot.state is not SymbolState.HEDGED:
                continue
            refused = flatten_symbol(engine, base)
            if refused:
                out["refused"][base] = refused
            else:
                out["flattening"].append(base)
    _persist_engine(engine)
    return out


def set_thresholds(engine: "ArbitrageEngine", base: str | None, **values) -> dict:
    """Validate and apply threshold changes; raise ConfigError naming a bad key or value."""
    if not values:
        raise ConfigError("thresholds: nothing to change")
    cfg = engine.cfg
    plain = to_plain(cfg)
    plain.pop("secrets", None)
    if base is None:
        bad = sorted(set(values) - GLOBAL_KEYS)
        if bad:
            raise ConfigError(f"{bad[0]}: unknown key; allowed: {', '.join(sorted(GLOBAL_KEYS))}")
        for k, v in values.items():
            (plain["sizing"] if k == "order_notional_krw" else plain["strategy"])[k] = v
    else:
        if base not in cfg.symbols:
            raise ConfigError(f"symbol: unknown {base!r}; allowed: {', '.join(cfg.symbols)}")
        bad = sorted(set(values) - SYMBOL_KEYS)
        if bad:
            raise ConfigError(f"strategy.overrides.{base}.{bad[0]}: unknown key; allowed: "
                              f"{', '.join(sorted(SYMBOL_KEYS))}")
        plain["strategy"]["overrides"].setdefault(base, {}).update(values)
    new = dataclasses.replace(cfgmod.build(Config, plain), secrets=cfg.secrets)
    engine.cfg = new
    engine.detector.reconfigure(new)
    if new.sizing != cfg.sizing:
        engine.risk._max_order_krw = new.sizing.max_order_notional_krw
    log.warning("thresholds changed (%s): %s", base or "all symbols", values)
    doc = {"strategy": to_plain(new.strategy), "sizing": to_plain(new.sizing)}
    _spawn_put(engine, "thresholds", doc)
    return {b: engine.detector.thresholds(b) for b in new.symbols}


def clear_failure(engine: "ArbitrageEngine", base: str) -> str:
    slot = engine.slots[base]
    if slot.state is not SymbolState.FAILED:
        raise ValueError(f"{base}: not failed (state {slot.state.value})")
    if base in engine._tasks:
        raise ValueError(f"{base}: an execution is still running")
    if slot.hedged_qty > 0:
        slot.holding_cache = None
        slot.to(SymbolState.HEDGED, "cleared by operator")
    else:
        slot.to(SymbolState.FLAT, "cleared by operator")
        slot.round_trip = None
        slot.direction = None
    log.warning("%s: failure cleared by operator -> %s (residual %s)", base, slot.state.value, slot.residual)
    _spawn_put(engine, f"symbol:{base}", slot.doc())
    return slot.state.value


def status(engine: "ArbitrageEngine") -> dict:
    now = engine.clock.now_ns()
    fx = engine.md.usdt_krw()
    symbols = {}
    for base, slot in engine.slots.items():
        q = engine.detector.last_quote(base)
        symbols[base] = {
            "state": slot.state.value, "note": slot.note,
            "round_trip_id": slot.round_trip.round_trip_id if slot.round_trip else None,
            "direction": slot.direction.value if slot.direction else None,
            "upbit_pos": str(slot.upbit_pos), "binance_pos": str(slot.binance_pos),
            "residual_base": str(slot.residual), "open_premium": _f(slot.open_premium),
            "anchor_premium": _f(engine.detector.anchor(base)),
            "mid_premium": _f(q.mid_premium) if q is not None else None,
            "entry_premium": _f(q.entry_premium) if q is not None else None,
            "exit_premium": _f(q.exit_premium) if q is not None else None,
            "thresholds": engine.detector.thresholds(base),
            "cooldown_left_s": engine.risk.cooldown_left_s(base, now),
            "executing": base in engine._tasks,
        }
    totals = engine.portfolio.totals_krw(Decimal(repr(fx)) if fx else Decimal(0))
    return {
        "mode": engine.cfg.mode, "paused": engine.paused, "kill_switch": engine.risk.kill_switch,
        "accepting": engine.accepting, "symbols": symbols,
        "positions": [{"venue": p.venue.value, "symbol": p.symbol, "quantity": str(p.quantity),
                       "avg_price": str(p.avg_price), "realized_pnl": str(p.realized_pnl),
                       "fees": str(p.fees), "funding": str(p.funding)} for p in engine.portfolio.positions()],
        "pnl": {**{k: str(v) for k, v in totals.items()},
                "daily_loss_krw": str(engine.risk.daily_loss_krw(now)), "usdt_krw": fx},
        "limits": to_plain(engine.cfg.risk),
        "risk_blocks": dict(engine.risk.blocks),
        "in_flight": engine.in_flight,
        "health": health(engine),
    }


def health(engine: "ArbitrageEngine") -> dict:
    """The seed's "duration guard", as a cycle health check: fed, looping, nothing stuck."""
    mono = engine.clock.monotonic_ns()
    reasons = []
    age = (mono - engine._last_cycle_ns) / _NS if engine._last_cycle_ns else None
    silence = engine.cfg.market_data.ws_silence_timeout_s
    running = engine._loop_task is not None and not engine._loop_task.done()
    if engine._loop_task is not None and not running and engine.accepting:
        reasons.append("engine loop stopped")
    if engine._md_task is not None and engine._md_task.done():
        reasons.append("market data stopped")
    if running and age is not None and age > silence:
        reasons.append(f"no book update for {age:.1f} s (> {silence} s)")
    books = {}
    for base, (su, sb) in engine._syms.items():
        hu, hb = engine.md.health(Venue.UPBIT, su), engine.md.health(Venue.BINANCE_USDM, sb)
        books[base] = {"upbit": hu.healthy, "binance_usdm": hb.healthy}
    failed = [b for b, s in engine.slots.items() if s.state is SymbolState.FAILED]
    return {"ok": not reasons, "reasons": reasons, "loop_running": running,
            "last_cycle_age_s": age, "cycles": engine.frames, "in_flight": engine.in_flight,
            "failed_symbols": failed, "books": books}


async def shutdown(engine: "ArbitrageEngine") -> list[str]:
    engine.accepting = False
    stragglers: list[str] = []
    pending = [t for t in engine._tasks.values() if not t.done()]
    if pending:
        bound = engine.cfg.execution.leg_timeout_s * 3
        _, still = await asyncio.wait(pending, timeout=bound)
        for t in still:
            stragglers.append(t.get_name())
            t.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
            log.error("shutdown: cancelled executions %s after %.1f s", stragglers, bound)
            await _cancel_open_orders(engine)
    engine._sample_premiums(engine.clock.now_ns())
    aux = [t for t in engine._aux if not t.done() and t.get_name() != "duration"]
    if aux:
        await asyncio.wait(aux, timeout=engine.cfg.storage.db_command_timeout_s)
    for t in list(engine._aux):
        t.cancel()
    for slot in engine.slots.values():
        await engine._persist_slot(slot)
    await _put(engine, "engine", _engine_doc(engine))
    return stragglers


async def _cancel_open_orders(engine: "ArbitrageEngine") -> None:
    try:
        orders = await engine.trade_store.open_orders()
    except Exception as exc:
        log.error("shutdown: open orders unreadable: %r", exc)
        return
    for o in orders:
        try:
            got = await asyncio.wait_for(engine.exchanges[o.venue].cancel(o.symbol, o.client_order_id),
                                         engine.cfg.execution.leg_timeout_s)
            await engine.trade_store.record_order(got)
        except Exception as exc:
            log.error("shutdown: cancel %s failed: %r", o.client_order_id, exc)


def _engine_doc(engine: "ArbitrageEngine") -> dict:
    return {"paused": engine.paused, "kill_switch": engine.risk.kill_switch}


def _persist_engine(engine: "ArbitrageEngine") -> None:
    _spawn_put(engine, "engine", _engine_doc(engine))


def _spawn_put(engine: "ArbitrageEngine", key: str, doc: dict) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return   # no loop (a sync caller before start): the next shutdown/persist writes it
    engine.spawn(_put(engine, key, doc), f"put-{key}")


async def _put(engine: "ArbitrageEngine", key: str, doc: dict) -> None:
    try:
        await engine.state_store.put(key, doc)
    except Exception as exc:
        log.error("state %s not persisted: %r", key, exc)


def _f(x: float) -> float | None:
    return None if x != x else x
