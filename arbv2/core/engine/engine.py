"""ArbitrageEngine: the cycle of DESIGN.md ("One cycle, as data"), talking only to ports.

Book update → `decide` (one spread kernel call) → RiskGuard → an execution task per symbol →
portfolio, stores, metrics. The book loop never awaits an order: executions run as tasks the
engine owns (one per symbol at most; the state machine refuses a second), and shutdown waits
for them with a bound, then cancels and names the stragglers.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace as _replace
from decimal import Decimal
from typing import Callable, Mapping

from arbv2.core.config import Config
from arbv2.core.engine import control, reconcile as recon
from arbv2.core.engine.state import SymbolSlot, SymbolState
from arbv2.core.execution import ExecutionReport, Executor, InstrumentRules, Outcome
from arbv2.core.fees import FeeModel
from arbv2.core.model import RoundTrip, RoundTripState, Venue, binance_symbol, upbit_symbol
from arbv2.core.portfolio import Portfolio
from arbv2.core.risk import Exposure, RiskGuard, RiskVerdict
from arbv2.core.strategy import Action, Opportunity, OpportunityDetector
from arbv2.ports.clock import Clock
from arbv2.ports.exchange import ExchangePort
from arbv2.ports.market_data import MarketDataPort
from arbv2.ports.metrics import CycleStage, Metrics
from arbv2.ports.stores import StateStore, TradeStore

log = logging.getLogger(__name__)
_NS = 1_000_000_000
_ACTIVE = (SymbolState.ENTERING, SymbolState.HEDGED, SymbolState.EXITING, SymbolState.FAILED)
# hot-path constants: module globals are cheaper than enum attribute lookups per decision
_FLAT, _HEDGED = SymbolState.FLAT, SymbolState.HEDGED
_UPBIT, _BINANCE = Venue.UPBIT, Venue.BINANCE_USDM
_DETECT = CycleStage.DETECT


class ArbitrageEngine:
    """The kimchi-premium engine: detector, risk guard, executor and ledger behind ports.

    Parameters
    ----------
    cfg
        The frozen config.
    market_data, exchanges, trade_store, state_store, metrics, clock
        The ports (exchanges: one ExchangePort per Venue).
    rules
        InstrumentRules per (Venue, unified symbol) for every configured symbol on both venues.
    funding_rate
        Return the perp's last funding rate for a base asset (fraction per 8 h); None = 0.
    """

    #: Observer of decisions: `on_opportunity(opp, now_ns)` for every Opportunity `decide` returns
    #: in `process`, before risk sees it (the backtest logs them); None: nobody watches.
    on_opportunity: Callable[[Opportunity, int], None] | None = None

    def __init__(self, cfg: Config, *, market_data: MarketDataPort, exchanges: Mapping[Venue, ExchangePort],
                 trade_store: TradeStore, state_store: StateStore, metrics: Metrics, clock: Clock,
                 rules: Mapping[tuple[Venue, str], InstrumentRules],
                 funding_rate: Callable[[str], float] | None = None) -> None:
        missing = [f"{v.value} {s}" for b in cfg.symbols for v, s in
                   ((Venue.UPBIT, upbit_symbol(b)), (Venue.BINANCE_USDM, binance_symbol(b)))
                   if (v, s) not in rules]
        if missing:
            raise ValueError(f"rules: no InstrumentRules for {', '.join(missing)}")
        self.cfg = cfg
        self.md, self.exchanges = market_data, exchanges
        self.trade_store, self.state_store = trade_store, state_store
        self.metrics, self.clock = metrics, clock
        self.rules = rules
        self.funding_rate = funding_rate
        self.fees = FeeModel.from_config(cfg.venues)
        self.detector = OpportunityDetector(cfg, self.fees)
        self.risk = RiskGuard(cfg.risk, cfg.market_data.max_book_age_s, cfg.sizing.max_order_notional_krw)
        self.executor = Executor(cfg.execution, exchanges=exchanges, trade_store=trade_store,
                                 metrics=metrics, clock=clock, rules=rules)
        self.portfolio = Portfolio()
        self.slots = {b: SymbolSlot(b) for b in cfg.symbols}
        self._syms = {b: (upbit_symbol(b), binance_symbol(b)) for b in cfg.symbols}
        self.paused = False
        self.accepting = True
        self.flatten_pending = False
        self._tasks: dict[str, asyncio.Task] = {}
        self._aux: set[asyncio.Task] = set()
        self._seq = 0
        self._premiums: list[tuple[int, str, float, float, float]] = []
        self._last_flush_ns = 0
        self._last_cycle_ns = 0
        self._loop_task: asyncio.Task | None = None
        self._stopped: asyncio.Event | None = None
        self._md_task: asyncio.Task | None = None
        self.reports: list[ExecutionReport] = []
        self.frames = 0
        if funding_rate is not None:
            self.refresh_funding()

    # ------------------------------------------------------------------ hot path

    def decide(self, base: str, now_ns: int) -> Opportunity | None:
        """Return the Opportunity for `base` now (one spread kernel call), or None.

        Pure with respect to the outside world: reads books and state, advances the detector's
        anchor, sends nothing.
        """
        slot = self.slots[base]
        md = self.md
        fx = md.usdt_krw()
        if not fx:
            return None
        su, sb = self._syms[base]
        ub = md.book(_UPBIT, su)
        bb = md.book(_BINANCE, sb)
        if ub is None or bb is None:
            return None
        state = slot.state
        if state is _FLAT:
            return self.detector.evaluate(base, ub, bb, fx, now_ns)
        if state is _HEDGED:
            return self.detector.evaluate(base, ub, bb, fx, now_ns, slot.holding())
        self.detector.evaluate(base, ub, bb, fx, now_ns, entries=False)   # keep the anchor moving
        return None

    async def on_books(self, bases: set[str] | frozenset[str]) -> None:
        """Run one cycle for the symbols whose books changed (replay drives this directly)."""
        self.process(bases)

    def process(self, bases: set[str] | frozenset[str], frame_ns: int | None = None) -> None:
        """Run one cycle synchronously: decide, check risk, start executions as tasks.

        Never awaits: an approved opportunity becomes a task on the running loop (so this
        needs one only when something fires). The benchmark times this call. `frame_ns` is
        the monotonic time the batch's first frame was in hand: the cycle latency runs from
        there (parse, merge, queueing and decision); without it, from this call.
        """
        clock = self.clock
        t0 = clock.monotonic_ns()
        now = clock.now_ns()
        self.frames += 1
        slots = self.slots
        decide = self.decide
        for base in sorted(bases) if len(bases) > 1 else bases:   # a stable order, whatever the hash seed
            if base not in slots:
                continue
            opp = decide(base, now)
            if opp is not None:
                if self.on_opportunity is not None:
                    self.on_opportunity(opp, now)
                self._act(opp, now, t0)
        t1 = clock.monotonic_ns()
        metrics = self.metrics
        metrics.observe_stage(_DETECT, (t1 - t0) / 1e9)
        metrics.observe_cycle((t1 - (frame_ns or t0)) / 1e9)
        self._last_cycle_ns = t1
        if now - self._last_flush_ns >= self.cfg.storage.premium_flush_interval_s * _NS:
            self._sample_premiums(now)

    def _act(self, opp: Opportunity, now_ns: int, decided_ns: int) -> None:
        base = opp.base
        self.metrics.inc("opportunities", symbol=base, direction=opp.direction.value)
        slot = self.slots[base]
        if base in self._tasks:
            return
        t = self.clock.monotonic_ns()
        verdict = self.risk.check(opp, self.exposure(base), self.md.health(Venue.UPBIT, self._syms[base][0]),
                                  self.md.health(Venue.BINANCE_USDM, self._syms[base][1]), now_ns,
                                  paused=self.paused or not self.accepting)
        self.metrics.observe_stage(CycleStage.RISK, (self.clock.monotonic_ns() - t) / 1e9)
        if not verdict.approved:
            self.metrics.inc("risk_blocks", reason=verdict.reason.value)
            return
        self.start_execution(slot, verdict, now_ns, decided_ns)

    def start_execution(self, slot: SymbolSlot, verdict: RiskVerdict, now_ns: int, decided_ns: int) -> None:
        """Move the symbol's state and run the execution as an owned task."""
        opp = verdict.opportunity
        if opp.action is Action.ENTER:
            slot.to(SymbolState.ENTERING)
            self._seq += 1
            rt_id = f"{opp.base.lower()}{now_ns // 1_000_000:x}{self._seq % 1296:02d}"
            slot.direction = opp.direction
            slot.round_trip = RoundTrip(rt_id, opp.base, opp.direction, RoundTripState.ENTERING, now_ns,
                                        opp.entry_premium if opp.upbit_buys else opp.exit_premium,
                                        opp.edge_bps)
        else:
            slot.to(SymbolState.EXITING)
            slot.round_trip = _replace(slot.round_trip, state=RoundTripState.EXITING)
        task = asyncio.get_running_loop().create_task(
            self._execute(slot, verdict, decided_ns), name=f"exec-{opp.base}")
        self._tasks[opp.base] = task

    # ------------------------------------------------------------------ executions

    async def _execute(self, slot: SymbolSlot, verdict: RiskVerdict, decided_ns: int) -> None:
        opp = verdict.opportunity
        rt = slot.round_trip
        try:
            close = (abs(slot.upbit_pos), abs(slot.binance_pos)) if opp.action is Action.EXIT else None
            await self.trade_store.record_round_trip(rt)
            report = await self.executor.execute(verdict, rt.round_trip_id, decided_ns=decided_ns, close=close)
            self.reports.append(report)
            await self._apply(slot, opp, report)
        except asyncio.CancelledError:
            slot.to(SymbolState.FAILED, "execution cancelled at shutdown: reconcile on restart")
            raise
        except Exception as exc:
            log.exception("execution of %s %s crashed", opp.base, opp.action.value)
            slot.to(SymbolState.FAILED, f"execution crashed: {exc!r}")
            self.risk.record_failure(opp.base, self.clock.now_ns())
            self.metrics.inc("executions_failed", reason="engine_error")
        finally:
            self._tasks.pop(opp.base, None)
            await self._persist_slot(slot)
        if self.flatten_pending and slot.state is SymbolState.HEDGED:
            refused = control.flatten_symbol(self, opp.base)    # a kill landed while this entry ran
            if refused:
                log.error("kill: %s hedged after the kill but cannot be flattened now: %s", opp.base, refused)

    async def _apply(self, slot: SymbolSlot, opp: Opportunity, rep: ExecutionReport) -> None:
        now = self.clock.now_ns()
        rt_id = rep.round_trip_id
        for fill in rep.fills:
            self.portfolio.apply_fill(fill, rt_id)
        slot.set_positions(slot.upbit_pos + rep.upbit_base, slot.binance_pos + rep.binance_base)
        fx = Decimal(repr(opp.usdt_krw))
        pnl = self.portfolio.round_trip_pnl(rt_id)
        orders = tuple(leg.order for leg in rep.legs if leg.order is not None)
        rt = slot.round_trip
        base = opp.base
        if rep.outcome.failed:
            self.risk.record_failure(base, now, max(Decimal(0), -pnl.net_krw(fx)) if pnl.closed else Decimal(0))
        if opp.action is Action.ENTER:
            rt = _replace(rt, entry_legs=orders, residual_qty=slot.residual, note=rep.reason)
            if rep.outcome is Outcome.HEDGED:
                slot.open_premium = rep.premium if rep.premium == rep.premium else rt.entry_premium
                slot.notional_krw = float(slot.hedged_qty) * opp.upbit_vwap
                rt = _replace(rt, state=RoundTripState.HEDGED, entry_premium=slot.open_premium)
                slot.to(SymbolState.HEDGED)
            elif rep.outcome in (Outcome.NOTHING, Outcome.UNWOUND):
                rt = _replace(rt, state=RoundTripState.FAILED, closed_ns=now, pnl_krw=pnl.net_krw(fx),
                              pnl_usdt=pnl.binance_usdt, fees_krw=pnl.fees_krw(fx))
                self._clear(slot, SymbolState.FLAT)
            else:
                rt = _replace(rt, state=RoundTripState.FAILED)
                slot.to(SymbolState.FAILED, rep.reason)
        else:
            rt = _replace(rt, exit_legs=orders, exit_premium=rep.premium, residual_qty=slot.residual,
                          pnl_krw=pnl.net_krw(fx), pnl_usdt=pnl.binance_usdt, fees_krw=pnl.fees_krw(fx))
            if rep.outcome is Outcome.CLOSED:
                net = pnl.net_krw(fx)
                notional = Decimal(repr(slot.notional_krw)) or Decimal(1)
                rt = _replace(rt, state=RoundTripState.CLOSED, closed_ns=now,
                              realized_edge_bps=float(net / notional * 10_000))
                self.risk.record_round_trip(base, net, now)
                await self._add_daily_loss(now, -net)
                self._clear(slot, SymbolState.FLAT)
            else:
                rt = _replace(rt, state=RoundTripState.FAILED, note=rep.reason)
                slot.to(SymbolState.FAILED, rep.reason)
        slot.round_trip = rt if slot.state is not SymbolState.FLAT else None
        self.metrics.inc("round_trips", symbol=base, outcome=rep.outcome.value)
        await self.trade_store.record_round_trip(rt)
        self._publish_positions(base, fx)
        if slot.residual != 0:
            log.error("ALERT %s: unhedged residual %s base after %s (%s)", base, slot.residual,
                      rt_id, rep.outcome.value)

    def _clear(self, slot: SymbolSlot, state: SymbolState) -> None:
        """Return to FLAT, keeping any sub-step residual on the books (it is netted next time)."""
        slot.to(state)
        if slot.hedged_qty == 0:
            slot.direction = None
            slot.open_premium = float("nan")
            slot.notional_krw = 0.0

    async def _add_daily_loss(self, now_ns: int, loss: Decimal) -> None:
        try:
            await self.state_store.add_daily_loss(self.risk.day_key(now_ns), loss)
        except Exception as exc:
            log.error("daily loss not persisted: %r", exc)

    def _publish_positions(self, base: str, fx: Decimal) -> None:
        m = self.metrics
        slot = self.slots[base]
        su, sb = self._syms[base]
        m.set("position_base", float(slot.upbit_pos), venue=Venue.UPBIT.value, symbol=su)
        m.set("position_base", float(slot.binance_pos), venue=Venue.BINANCE_USDM.value, symbol=sb)
        m.set("residual_delta_base", float(slot.residual), symbol=base)
        tot = self.portfolio.totals_krw(fx)
        m.set("pnl_realized_krw", float(tot["realized_krw"]))
        m.set("fees_krw", float(tot["fees_krw"]))
        m.set("daily_loss_krw", float(max(Decimal(0), self.risk.daily_loss_krw(self.clock.now_ns()))))

    # ------------------------------------------------------------------ exposure, funding, premiums

    def exposure(self, base: str) -> Exposure:
        """Return the open exposure the risk guard needs, in KRW."""
        gross = residual = 0.0
        open_rts = 0
        for b, s in self.slots.items():
            if s.state in _ACTIVE or s.hedged_qty:
                open_rts += 1
            gross += 2.0 * s.notional_krw
            if s.residual:
                q = self.detector.last_quote(b)
                px = q.upbit_buy_vwap if q is not None and q.upbit_buy_vwap == q.upbit_buy_vwap else 0.0
                residual += abs(float(s.residual)) * px
        return Exposure(self.slots[base].notional_krw, gross, open_rts, residual)

    def on_funding(self, base: str, amount_usdt: Decimal) -> None:
        """Book a funding payment on the perp leg of `base` (positive: received)."""
        slot = self.slots[base]
        rt_id = slot.round_trip.round_trip_id if slot.round_trip else None
        self.portfolio.apply_funding(self._syms[base][1], amount_usdt, rt_id)

    def refresh_funding(self) -> None:
        """Read the funding rate of every symbol through the `funding_rate` callable."""
        if self.funding_rate is None:
            return
        for base in self.slots:
            try:
                self.detector.set_funding_rate(base, float(self.funding_rate(base) or 0.0))
            except Exception as exc:
                log.warning("funding rate for %s unavailable: %r", base, exc)

    def _sample_premiums(self, now_ns: int) -> None:
        self._last_flush_ns = now_ns
        points = []
        for base in self.slots:
            q = self.detector.last_quote(base)
            if q is not None and q.mid_premium == q.mid_premium:
                points.append((now_ns, base, q.mid_premium, q.entry_premium, q.exit_premium))
                self.metrics.set("premium", q.mid_premium, symbol=base)
        if points:
            self.spawn(self._write_premiums(points), "premiums")

    async def _write_premiums(self, points) -> None:
        try:
            await self.trade_store.record_premium(points)
        except Exception as exc:
            log.warning("premium points dropped (%d): %r", len(points), exc)

    def spawn(self, coro, name: str) -> asyncio.Task:
        """Run a side task the engine owns (awaited or cancelled at shutdown)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._aux.add(task)
        task.add_done_callback(self._aux.discard)
        return task

    async def _persist_slot(self, slot: SymbolSlot) -> None:
        try:
            await self.state_store.put(f"symbol:{slot.base}", slot.doc())
        except Exception as exc:
            log.error("state of %s not persisted: %r", slot.base, exc)

    # ------------------------------------------------------------------ lifecycle

    async def reconcile(self) -> dict:
        """Reconcile open orders and positions with the venues and the stores before trading."""
        return await recon.reconcile(self)

    async def run(self, duration_s: float | None = None) -> None:
        """Reconcile, then trade on book updates until stopped (or `duration_s` of clock time).

        The engine decides inside the feed's frame callback (`set_listener`): frame in hand,
        parse, merge and decision run back to back, and the cycle latency covers all of it.
        """
        await self.reconcile()
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self.md.set_listener(self._on_frame)
        self._md_task = loop.create_task(self.md.run(), name="market-data")
        self._loop_task = loop.create_task(self._stopped.wait(), name="engine-loop")
        if duration_s is not None:
            self.spawn(self._stop_after(duration_s), "duration")
        try:
            done, _ = await asyncio.wait({self._md_task, self._loop_task}, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()
        finally:
            self.md.set_listener(None)
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            await self.shutdown()
            self._md_task.cancel()
            await asyncio.gather(self._md_task, return_exceptions=True)

    def _on_frame(self, bases, frame_ns: int) -> None:
        if self.accepting:
            self.process(bases, frame_ns)

    async def _stop_after(self, duration_s: float) -> None:
        await self.clock.sleep(duration_s)
        self.stop()

    def stop(self) -> None:
        """Stop taking book updates (run() then shuts down)."""
        self.accepting = False
        if self._stopped is not None:
            self._stopped.set()

    async def shutdown(self) -> list[str]:
        """Stop entries, wait for in-flight executions (bounded), cancel stragglers, flush state.

        Return the names of executions that had to be cancelled (their orders are cancelled at
        the venues and left for reconciliation).
        """
        return await control.shutdown(self)

    # ------------------------------------------------------------------ control (admin API)

    def pause(self) -> None:
        """Stop new entries (exits continue)."""
        control.set_paused(self, True)

    def resume(self) -> None:
        """Allow entries again."""
        control.set_paused(self, False)

    async def kill(self, flatten: bool | None = None) -> dict:
        """Turn the kill switch on; with `flatten` (default risk.flatten_on_kill) exit open hedges."""
        return await control.kill(self, self.cfg.risk.flatten_on_kill if flatten is None else flatten)

    def set_thresholds(self, base: str | None = None, **values: float) -> dict:
        """Change thresholds/sizing (validated like config), globally or for one symbol."""
        return control.set_thresholds(self, base, **values)

    def clear_failure(self, base: str) -> str:
        """Clear a FAILED symbol once an operator has checked its venues; return the new state."""
        return control.clear_failure(self, base)

    def status(self) -> dict:
        """Return mode, per-symbol state, positions, PnL, limits and health as plain data."""
        return control.status(self)

    def health(self) -> dict:
        """Return whether the engine is alive and fed, and what needs attention."""
        return control.health(self)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

