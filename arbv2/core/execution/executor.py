"""Executor: an approved Opportunity → two legs on the venues → an ExecutionReport.

Entries follow `execution.leg_protocol` (see intents.py); exits always send both legs at once,
because both quantities are known in base units. After the main legs the executor balances:

- both legs filled, quantities differ → re-hedge the difference on Binance (rounded down to
  stepSize; what is below one step stays as the recorded residual);
- the Binance leg failed after Upbit filled → retry the hedge on a transient failure (fresh
  client id, after backoff), otherwise or after the retries unwind the Upbit fill at market;
- the Upbit leg failed after Binance filled → unwind Binance (reduce-only market);
- a leg whose state could not be read is never guessed at: the execution ends RESIDUAL with
  the order listed in `unknown_orders`, for the engine to stop the symbol and reconcile.
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Mapping

from arbv2.core.config import ExecutionConfig
from arbv2.core.execution import intents as ix
from arbv2.core.execution.legs import LegRunner, unresolved_order
from arbv2.core.execution.report import ExecutionReport, LegPurpose, LegReport, Outcome
from arbv2.core.execution.rules import InstrumentRules
from arbv2.core.model import Direction, OrderStatus, Side, Venue, binance_symbol, upbit_symbol
from arbv2.core.risk.guard import RiskVerdict
from arbv2.core.strategy.types import Action, Opportunity
from arbv2.ports.clock import Clock
from arbv2.ports.exchange import ExchangePort
from arbv2.ports.metrics import Metrics
from arbv2.ports.stores import TradeStore

log = logging.getLogger(__name__)
_ZERO = Decimal(0)
_TRANSIENT = frozenset({"rate_limited", "timestamp_skew", "timeout", "unavailable"})


class _Run:
    """One execution in progress: its report, its id counter and the rules it sizes with."""

    __slots__ = ("report", "opp", "seq", "upbit", "binance", "decided_ns", "targets")

    def __init__(self, report: ExecutionReport, opp: Opportunity, upbit: InstrumentRules,
                 binance: InstrumentRules, decided_ns: int) -> None:
        self.report = report
        self.opp = opp
        self.seq = 0
        self.upbit = upbit
        self.binance = binance
        self.decided_ns = decided_ns
        self.targets = (_ZERO, _ZERO)

    def cid(self, tag: str) -> str:
        self.seq += 1
        return ix.client_order_id(self.report.round_trip_id, tag, self.seq)


class Executor:
    """Places the legs of approved opportunities through the ExchangePorts.

    Parameters
    ----------
    cfg
        The `execution` config slice (leg protocol, timeout, IOC slippage).
    exchanges
        One ExchangePort per venue.
    rules
        InstrumentRules per (venue, unified symbol).
    hedge_retries
        How many times a failed or short hedge leg is re-sent (fresh id) before unwinding.
    retry_backoff_s
        First backoff between those attempts (doubles; a venue's Retry-After wins).
    """

    def __init__(self, cfg: ExecutionConfig, *, exchanges: Mapping[Venue, ExchangePort],
                 trade_store: TradeStore, metrics: Metrics, clock: Clock,
                 rules: Mapping[tuple[Venue, str], InstrumentRules], hedge_retries: int | None = None,
                 retry_backoff_s: float | None = None, poll_s: float | None = None) -> None:
        self.cfg = cfg
        self._rules = rules
        self._metrics = metrics
        self._clock = clock
        self._retries = cfg.hedge_retries if hedge_retries is None else hedge_retries
        self._backoff_s = cfg.retry_backoff_s if retry_backoff_s is None else retry_backoff_s
        self.legs = LegRunner(exchanges, trade_store, metrics, clock, leg_timeout_s=cfg.leg_timeout_s,
                              poll_s=cfg.poll_interval_s if poll_s is None else poll_s)

    async def execute(self, verdict: RiskVerdict, round_trip_id: str, *, decided_ns: int,
                      close: tuple[Decimal, Decimal] | None = None) -> ExecutionReport:
        """Execute an approved opportunity and return what happened.

        Parameters
        ----------
        verdict
            RiskGuard's approval; anything else is refused before a single order is built.
        round_trip_id
            The round trip the legs belong to; client order ids derive from it.
        decided_ns
            Monotonic time of the decision (the start of the latency stages).
        close
            For an EXIT: the absolute base held on (Upbit, Binance) to close.
        """
        opp = verdict.opportunity
        if not verdict.approved:
            raise PermissionError(f"execute: {opp.base} {opp.action.value} was not approved by "
                                  f"RiskGuard ({verdict.reason})")
        report = ExecutionReport(round_trip_id, opp.base, opp.action, opp.direction)
        run = _Run(report, opp, self._rules[(Venue.UPBIT, upbit_symbol(opp.base))],
                   self._rules[(Venue.BINANCE_USDM, binance_symbol(opp.base))], decided_ns)
        if opp.action is Action.ENTER:
            await self._enter(run)
        else:
            if close is None:
                raise ValueError("close: an EXIT needs the (upbit, binance) quantities to close")
            await self._exit(run, close)
        self._finalize(run)
        return report

    # ------------------------------------------------------------------ sending

    async def _send(self, run: _Run, leg: LegReport) -> LegReport:
        leg.decided_ns = run.decided_ns
        run.report.legs.append(leg)
        await self.legs.run(leg, run.report.round_trip_id)
        if leg.unknown:
            run.report.unknown_orders.append(leg.intent.client_order_id)
        moved = leg.signed_filled
        if leg.venue is Venue.UPBIT:
            run.report.upbit_base += moved
        else:
            run.report.binance_base += moved
        return leg

    async def _pair(self, run: _Run, a: LegReport, b: LegReport) -> None:
        results = await asyncio.gather(self._send(run, a), self._send(run, b), return_exceptions=True)
        for leg, res in zip((a, b), results):
            if isinstance(res, BaseException):   # a bug below the port: the order may exist
                log.error("leg %s raised %r", leg.intent.client_order_id, res)
                leg.error, leg.error_kind = repr(res), "unknown"
                leg.order = unresolved_order(leg.intent, OrderStatus.UNKNOWN)
                if leg not in run.report.legs:
                    run.report.legs.append(leg)
                run.report.unknown_orders.append(leg.intent.client_order_id)

    def _upbit(self, run: _Run, side: Side, purpose: LegPurpose, tag: str, *, qty: Decimal | None = None,
               krw: Decimal | None = None, ioc: bool = False, slip_mult: float = 1.0) -> LegReport:
        limit = None
        if ioc:
            limit = ix.ioc_price(run.opp, run.upbit, self.cfg.ioc_slippage_bps * slip_mult,
                                 buy=side is Side.BUY)
        intent = ix.upbit_leg(run.opp.base, side, run.cid(tag), qty=qty, krw=krw, limit=limit)
        return LegReport(Venue.UPBIT, purpose, intent)

    def _binance(self, run: _Run, side: Side, qty: Decimal, purpose: LegPurpose, tag: str,
                 reduce_only: bool = False) -> LegReport:
        intent = ix.binance_leg(run.opp.base, side, qty, run.cid(tag), reduce_only=reduce_only)
        return LegReport(Venue.BINANCE_USDM, purpose, intent)

    # ------------------------------------------------------------------ entry

    async def _enter(self, run: _Run) -> None:
        opp = run.opp
        upbit_side = Side.BUY if opp.direction is Direction.LONG_UPBIT else Side.SELL
        qty = ix.entry_qty(opp, run.upbit, run.binance)
        why = ix.check_size(qty, opp, run.upbit, run.binance)
        if why:
            run.report.reason = why
            return
        if self.cfg.leg_protocol == "ioc_concurrent":
            await self._pair(run, self._upbit(run, upbit_side, LegPurpose.OPEN, "eu", qty=qty, ioc=True),
                             self._binance(run, upbit_side.opposite, qty, LegPurpose.OPEN, "eb"))
        else:
            if upbit_side is Side.BUY:
                leg = self._upbit(run, Side.BUY, LegPurpose.OPEN, "eu", krw=ix.dec(opp.notional_krw))
            else:
                leg = self._upbit(run, Side.SELL, LegPurpose.OPEN, "eu", qty=qty)
            await self._send(run, leg)
            if run.report.unknown_orders:
                return
            hq = run.binance.floor_qty(abs(run.report.upbit_base))
            if hq > 0 and run.binance.tradable(hq, ix.dec(opp.binance_vwap)):
                await self._send(run, self._binance(run, upbit_side.opposite, hq, LegPurpose.OPEN, "eb"))
        if not run.report.unknown_orders:
            await self._balance_entry(run, upbit_side)

    async def _balance_entry(self, run: _Run, upbit_side: Side) -> None:
        rep, opp = run.report, run.opp
        if rep.upbit_base == 0 and rep.binance_base != 0:
            await self._unwind_binance(run)
            return
        # Binance short of Upbit: hedge more (retry on transient failures), else unwind Upbit.
        attempt = 0
        while (abs(rep.binance_base) < abs(rep.upbit_base) and attempt < self._retries
               and not rep.unknown_orders and self._hedge_retryable(run)):
            missing = run.binance.floor_qty(abs(rep.upbit_base) - abs(rep.binance_base))
            if not run.binance.tradable(missing, ix.dec(opp.binance_vwap)):
                break
            await self._backoff(run, attempt)
            attempt += 1
            await self._send(run, self._binance(run, upbit_side.opposite, missing, LegPurpose.REHEDGE, "hb"))
        if rep.unknown_orders:
            return
        if rep.binance_base == 0 and rep.upbit_base != 0:
            await self._unwind_upbit(run, abs(rep.upbit_base), upbit_side.opposite)
            return
        # Binance beyond Upbit (an IOC partial fill): buy back / sell back the excess, reduce-only.
        excess = run.binance.floor_qty(abs(rep.binance_base) - abs(rep.upbit_base))
        if excess > 0 and run.binance.tradable(excess, ix.dec(opp.binance_vwap)):
            await self._retry_binance(run, upbit_side, excess, LegPurpose.REHEDGE, "hb")

    def _hedge_retryable(self, run: _Run) -> bool:
        """Return False once a Binance leg was refused for good (margin, filters)."""
        for leg in reversed(run.report.legs):
            if leg.venue is Venue.BINANCE_USDM and leg.filled_qty == 0 and leg.error_kind:
                return leg.error_kind in _TRANSIENT
        return True

    async def _retry_binance(self, run: _Run, side: Side, qty: Decimal, purpose: LegPurpose, tag: str) -> None:
        """Send a reduce-only Binance order on `side` for qty, retrying transient failures."""
        target = qty
        for attempt in range(self._retries + 1):
            if attempt:
                await self._backoff(run, attempt - 1)
            leg = await self._send(run, self._binance(run, side, target, purpose, tag, reduce_only=True))
            target = run.binance.floor_qty(target - leg.filled_qty)
            if target <= 0 or leg.unknown or (leg.error_kind and leg.error_kind not in _TRANSIENT):
                return

    async def _unwind_binance(self, run: _Run) -> None:
        side = Side.BUY if run.report.binance_base < 0 else Side.SELL
        await self._retry_binance(run, side, abs(run.report.binance_base), LegPurpose.UNWIND, "ub")

    async def _unwind_upbit(self, run: _Run, qty: Decimal, side: Side) -> None:
        """Roll an Upbit fill back at market: sell by volume, or buy back with a wide IOC limit."""
        target = qty
        for attempt in range(self._retries + 1):
            if attempt:
                await self._backoff(run, attempt - 1)
            if side is Side.SELL:
                leg = self._upbit(run, Side.SELL, LegPurpose.UNWIND, "uu", qty=target)
            else:   # a KRW-sized market buy cannot hit an exact volume; an IOC limit can
                leg = self._upbit(run, Side.BUY, LegPurpose.UNWIND, "uu", qty=target, ioc=True, slip_mult=3.0)
            await self._send(run, leg)
            target = run.upbit.floor_qty(target - leg.filled_qty)
            if target <= 0 or leg.unknown or (leg.error_kind and leg.error_kind not in _TRANSIENT):
                return
            if not run.upbit.tradable(target, ix.dec(run.opp.upbit_vwap)):
                return

    # ------------------------------------------------------------------ exit

    async def _exit(self, run: _Run, close: tuple[Decimal, Decimal]) -> None:
        upbit_qty, binance_qty = close
        run.targets = close
        upbit_side = Side.SELL if run.opp.direction is Direction.LONG_UPBIT else Side.BUY
        legs = []
        if upbit_qty > 0:
            legs.append(self._exit_upbit_leg(run, upbit_side, upbit_qty, LegPurpose.OPEN))
        if binance_qty > 0:
            legs.append(self._binance(run, upbit_side.opposite, binance_qty, LegPurpose.OPEN, "xb",
                                      reduce_only=True))
        if len(legs) == 2:
            await self._pair(run, *legs)
        elif legs:
            await self._send(run, legs[0])
        for attempt in range(self._retries):
            if run.report.unknown_orders:
                return
            up_left = run.upbit.floor_qty(upbit_qty - abs(run.report.upbit_base))
            bn_left = run.binance.floor_qty(binance_qty - abs(run.report.binance_base))
            todo = []
            if up_left > 0 and run.upbit.tradable(up_left, ix.dec(run.opp.upbit_vwap)) \
                    and self._retryable(run, Venue.UPBIT):
                todo.append(self._exit_upbit_leg(run, upbit_side, up_left, LegPurpose.RETRY))
            if bn_left > 0 and self._retryable(run, Venue.BINANCE_USDM):
                todo.append(self._binance(run, upbit_side.opposite, bn_left, LegPurpose.RETRY, "xb",
                                          reduce_only=True))
            if not todo:
                return
            await self._backoff(run, attempt)
            if len(todo) == 2:
                await self._pair(run, *todo)
            else:
                await self._send(run, todo[0])

    def _exit_upbit_leg(self, run: _Run, side: Side, qty: Decimal, purpose: LegPurpose) -> LegReport:
        if side is Side.SELL:
            return self._upbit(run, Side.SELL, purpose, "xu", qty=qty)
        return self._upbit(run, Side.BUY, purpose, "xu", qty=qty, ioc=True, slip_mult=2.0)

    def _retryable(self, run: _Run, venue: Venue) -> bool:
        for leg in reversed(run.report.legs):
            if leg.venue is venue:
                return not leg.error_kind or leg.error_kind in _TRANSIENT or leg.filled_qty > 0
        return True

    # ------------------------------------------------------------------ helpers

    async def _backoff(self, run: _Run, attempt: int) -> None:
        """Wait before a resend: the venue's Retry-After when it gave one, else doubling."""
        last = run.report.legs[-1] if run.report.legs else None
        after = last.retry_after_s if last is not None else None
        await self._clock.sleep(after if after else self._backoff_s * (2 ** attempt))

    def _finalize(self, run: _Run) -> None:
        rep = run.report
        opens = {leg.venue: leg for leg in rep.legs if leg.purpose is LegPurpose.OPEN}
        up, bn = opens.get(Venue.UPBIT), opens.get(Venue.BINANCE_USDM)
        if up and bn and up.order and bn.order and up.order.avg_price and bn.order.avg_price:
            rep.premium = float(up.order.avg_price) / (float(bn.order.avg_price) * run.opp.usdt_krw) - 1.0
        errors = "; ".join(f"{leg.venue.value} {leg.purpose.value}: {leg.error}"
                           for leg in rep.legs if leg.error)
        moved = any(leg.filled_qty > 0 for leg in rep.legs)
        if rep.unknown_orders:
            rep.outcome = Outcome.RESIDUAL
            rep.reason = f"order state unknown: {', '.join(rep.unknown_orders)}; " + errors
        elif rep.action is Action.ENTER:
            if rep.hedged_base > 0:
                rep.outcome = Outcome.HEDGED
            elif rep.residual_base != 0:
                rep.outcome = Outcome.RESIDUAL
            else:
                rep.outcome = Outcome.UNWOUND if moved else Outcome.NOTHING
            rep.reason = rep.reason or errors
        else:
            done = self._exit_done(run)
            rep.outcome = Outcome.CLOSED if done else Outcome.RESIDUAL
            rep.reason = errors
        if rep.residual_base != 0:
            level = logging.ERROR if abs(rep.residual_base) >= run.binance.step_size else logging.WARNING
            log.log(level, "execution %s %s left residual %s base (%s)", rep.round_trip_id, rep.base,
                    rep.residual_base, rep.outcome.value)
        if rep.outcome.failed:
            self._metrics.inc("executions_failed", reason=_reason_label(rep))

    def _exit_done(self, run: _Run) -> bool:
        """Return True when what is left on each venue is below what the venue will trade."""
        rep, opp = run.report, run.opp
        for rules, target, moved, px in (
                (run.upbit, run.targets[0], rep.upbit_base, opp.upbit_vwap),
                (run.binance, run.targets[1], rep.binance_base, opp.binance_vwap)):
            left = rules.floor_qty(target - abs(moved))
            if left > 0 and rules.tradable(left, ix.dec(px)):
                return False
        return True

def _reason_label(rep: ExecutionReport) -> str:
    """Return a bounded label for executions_failed: the first failing leg's error kind."""
    if rep.unknown_orders:
        return "unknown_state"
    for leg in rep.legs:
        if leg.error_kind:
            return f"{leg.venue.value}_{leg.error_kind}"
    return "size" if rep.outcome is Outcome.NOTHING else rep.outcome.value
