"""Executor scenarios against fake venues: after each one the net position is flat or recorded."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from arbv2.core.config import ExecutionConfig
from arbv2.core.execution import Executor, InstrumentRules, LegPurpose, Outcome
from arbv2.core.model import Direction, OrderStatus, OrderType, Side, Venue
from arbv2.core.risk import RiskReason, RiskVerdict
from arbv2.core.strategy.types import Action, Opportunity
from arbv2.ports.metrics import CycleStage
from test_engine_fakes import FakeClock, FakeExchange, FakeMetrics, FakeTradeStore, make_book

UP, BN = "BTC/KRW", "BTC/USDT:USDT"
RULES = {
    (Venue.UPBIT, UP): InstrumentRules(D("1e-8"), D("0"), D("5000"), D("1000")),
    (Venue.BINANCE_USDM, BN): InstrumentRules(D("0.001"), D("0.001"), D("5"), D("0.1")),
}
OPP = Opportunity("BTC", Action.ENTER, Direction.LONG_UPBIT, 0.1, 14_510_000.0, 0.0076389, 0.0, 0.0, 0.013,
                  22.0, 31.5, 45_000.0, 145_100_000.0, 100_000.0, 145_200_000.0, 100_000.0, 1440.0, 0, 0, 0)


class Env:
    def __init__(self, protocol="ioc_concurrent", timeout_s=0.05):
        ub = make_book([(144_900_000.0, 1.0)], [(145_000_000.0, 0.05), (145_200_000.0, 0.05), (146_000_000.0, 1.0)])
        bb = make_book([(100_000.0, 1.0)], [(100_010.0, 1.0)])
        self.upbit = FakeExchange(Venue.UPBIT, {UP: ub})
        self.binance = FakeExchange(Venue.BINANCE_USDM, {BN: bb})
        self.store, self.metrics, self.clock = FakeTradeStore(), FakeMetrics(), FakeClock()
        cfg = ExecutionConfig(leg_protocol=protocol, leg_timeout_s=timeout_s, ioc_slippage_bps=30.0)
        self.ex = Executor(cfg, exchanges={Venue.UPBIT: self.upbit, Venue.BINANCE_USDM: self.binance},
                           trade_store=self.store, metrics=self.metrics, clock=self.clock, rules=RULES,
                           poll_s=0.01)

    async def run(self, opp=OPP, close=None):
        rep = await self.ex.execute(RiskVerdict(True, opp), "btc-rt1", decided_ns=self.clock.mono, close=close)
        net = self.upbit.net.get(UP, D(0)) + self.binance.net.get(BN, D(0))
        if not rep.unknown_orders:   # an unknown order's fill is, by definition, not in the report
            assert rep.residual_base == net, "the venues' net delta must be what the report records"
        assert len({i.client_order_id for i in self.upbit.submits + self.binance.submits}) == \
            len(self.upbit.submits) + len(self.binance.submits)
        sent = {i.client_order_id for i in self.upbit.submits + self.binance.submits}
        assert sent <= {i.client_order_id for i, _ in self.store.intents}, "outbox before send"
        return rep


async def test_both_legs_fill_concurrently():
    env = Env()
    rep = await env.run()
    assert rep.outcome is Outcome.HEDGED and rep.residual_base == 0
    assert rep.upbit_base == D("0.1") and rep.binance_base == D("-0.1")
    u = env.upbit.submits[0]
    assert u.order_type is OrderType.LIMIT and u.time_in_force == "ioc"
    assert u.price == D("145636000")           # 145.2 M x 1.003 = 145,635,600 up to the 1,000 tick
    assert env.binance.submits[0].quantity == D("0.1")
    assert rep.premium == pytest.approx(145_100_000 / (100_000 * 1440) - 1, rel=1e-12)
    assert all(c.startswith("btc-rt1-") for c in (u.client_order_id, env.binance.submits[0].client_order_id))
    for stage in (CycleStage.SEND, CycleStage.ACK, CycleStage.FILL):
        assert len(env.metrics.stages[stage]) == 2
    assert len(rep.fills) == 2 and len(env.store.fills) == 2
    assert all(v is not None for leg in rep.legs for v in leg.latency_us().values())


async def test_upbit_rejected_concurrent_unwinds_the_binance_leg():
    env = Env()
    env.upbit.script.append("reject")
    rep = await env.run()
    assert rep.outcome is Outcome.UNWOUND and rep.residual_base == 0
    unwind = env.binance.submits[-1]
    assert unwind.side is Side.BUY and unwind.reduce_only and unwind.quantity == D("0.1")
    assert env.metrics.count("executions_failed") == 1
    assert env.metrics.count("rejects", venue="upbit", reason="-2019") == 1


async def test_upbit_rejected_upbit_first_leaves_nothing_to_unwind():
    env = Env("upbit_first")
    env.upbit.script.append("reject")
    rep = await env.run()
    assert rep.outcome is Outcome.NOTHING and not env.binance.submits
    assert "insufficient margin" in rep.reason


async def test_binance_rejected_after_upbit_filled_unwinds_upbit_at_market():
    env = Env()
    env.binance.script.append("reject")
    rep = await env.run()
    assert rep.outcome is Outcome.UNWOUND and rep.outcome.failed
    assert len(env.binance.submits) == 1               # a refusal for margin is not retried
    unwind = env.upbit.submits[-1]
    assert unwind.side is Side.SELL and unwind.order_type is OrderType.MARKET and unwind.quantity == D("0.1")
    assert "binance_usdm open: insufficient margin" in rep.reason
    assert [leg.purpose for leg in rep.legs][-1] is LegPurpose.UNWIND


async def test_lost_response_is_looked_up_never_resent():
    env = Env()
    env.binance.script.append("lost")                 # placed and filled; the answer is lost
    rep = await env.run()
    assert rep.outcome is Outcome.HEDGED
    assert len(env.binance.submits) == 1 and env.binance.status_calls >= 1
    assert rep.legs[1].lookups >= 1 or rep.legs[0].lookups >= 1


@pytest.mark.parametrize("fault", ["ghost", "hang"])
async def test_leg_never_placed_is_confirmed_missing_then_hedged_with_a_new_id(fault):
    env = Env()
    env.binance.script.append(fault)
    rep = await env.run()
    assert rep.outcome is Outcome.HEDGED and rep.residual_base == 0
    first, second = env.binance.submits
    assert first.client_order_id != second.client_order_id
    assert env.binance.status_calls >= 2               # asked twice before concluding "not placed"


async def test_partial_ioc_fill_is_rehedged_on_binance():
    env = Env()
    env.upbit.script.append("partial:0.5")
    rep = await env.run()
    assert rep.outcome is Outcome.HEDGED
    assert rep.upbit_base == D("0.05") and rep.binance_base == D("-0.05") and rep.residual_base == 0
    rehedge = env.binance.submits[-1]
    assert rehedge.side is Side.BUY and rehedge.reduce_only and rehedge.quantity == D("0.05")


async def test_upbit_first_hedges_the_executed_volume_and_records_the_sub_step_residual():
    env = Env("upbit_first")
    rep = await env.run(replace(OPP, notional_krw=14_000_000.0))
    u = env.upbit.submits[0]
    assert u.order_type is OrderType.MARKET and u.quote_amount == D("14000000")
    assert rep.outcome is Outcome.HEDGED
    assert env.binance.submits[0].quantity == D("0.096")
    assert D(0) < rep.residual_base < D("0.001")       # below one step: recorded, not hedgeable


async def test_rate_limited_hedge_waits_retry_after_and_retries():
    env = Env()
    env.binance.script.append("rate_limited")
    rep = await env.run()
    assert rep.outcome is Outcome.HEDGED
    assert 0.5 in env.clock.slept
    assert env.binance.status_calls == 0               # a 429 means not placed: no lookup needed


async def test_rate_limit_storm_unwinds_upbit():
    env = Env()
    env.binance.script.extend(["rate_limited"] * 5)
    rep = await env.run()
    assert rep.outcome is Outcome.UNWOUND and rep.residual_base == 0
    assert len(env.binance.submits) == 3               # first try + 2 hedge retries
    assert env.metrics.count("executions_failed", reason="binance_usdm_rate_limited") == 1


async def test_unknown_order_state_stops_without_guessing():
    env = Env()
    env.binance.script.append("lost")
    env.binance.status_script.extend(["unavailable"] * 10)
    rep = await env.run()
    assert rep.outcome is Outcome.RESIDUAL and rep.unknown_orders
    assert len(env.binance.submits) == 1 and len(env.upbit.submits) == 1
    assert rep.residual_base == D("0.1")               # what is known: Upbit bought, Binance unknown
    assert env.binance.net[BN] == D("-0.1")            # (the venue did fill it: reconcile will see)


async def test_working_order_is_followed_to_its_fill():
    env = Env(timeout_s=5.0)
    env.binance.script.append("working")
    rep = await env.run()
    assert rep.outcome is Outcome.HEDGED
    assert env.store.orders[env.binance.submits[0].client_order_id].status is OrderStatus.FILLED


async def test_working_order_past_the_leg_timeout_is_cancelled():
    env = Env(timeout_s=0.05)
    env.binance.working_polls = None                   # never fills by itself
    env.binance.script.append("working")
    rep = await env.run()
    assert env.binance.cancels == 1
    assert rep.outcome is Outcome.HEDGED and rep.residual_base == 0   # re-hedged under a new id
    assert len(env.binance.submits) == 2


async def test_outbox_failure_sends_nothing():
    env = Env()
    env.store.fail_intents = True
    rep = await env.run()
    assert rep.outcome is Outcome.NOTHING
    assert not env.upbit.submits and not env.binance.submits


async def test_unapproved_verdict_is_refused():
    env = Env()
    with pytest.raises(PermissionError, match="not approved"):
        await env.ex.execute(RiskVerdict(False, OPP, RiskReason.COOLDOWN), "btc-rt1", decided_ns=0)
    assert not env.upbit.submits


async def test_size_below_binance_step_sends_nothing():
    env = Env()
    rep = await env.run(replace(OPP, qty_base=0.0004))
    assert rep.outcome is Outcome.NOTHING and "rounds to 0" in rep.reason
    assert not env.upbit.submits


EXIT = replace(OPP, action=Action.EXIT, upbit_vwap=144_900_000.0, upbit_worst=144_900_000.0,
               binance_vwap=100_010.0, binance_worst=100_010.0)


async def test_exit_closes_both_legs():
    env = Env()
    env.upbit.net[UP], env.binance.net[BN] = D("0.1"), D("-0.1")
    rep = await env.run(EXIT, close=(D("0.1"), D("0.1")))
    assert rep.outcome is Outcome.CLOSED
    assert env.upbit.net[UP] == 0 and env.binance.net[BN] == 0
    b = env.binance.submits[0]
    assert b.side is Side.BUY and b.reduce_only


async def test_exit_retries_a_transient_leg_failure():
    env = Env()
    env.upbit.net[UP], env.binance.net[BN] = D("0.1"), D("-0.1")
    env.binance.script.append("ghost")
    rep = await env.run(EXIT, close=(D("0.1"), D("0.1")))
    assert rep.outcome is Outcome.CLOSED and len(env.binance.submits) == 2


async def test_exit_with_a_refused_leg_is_recorded_as_residual():
    env = Env()
    env.upbit.net[UP], env.binance.net[BN] = D("0.1"), D("-0.1")
    env.binance.script.append("reject")
    rep = await env.run(EXIT, close=(D("0.1"), D("0.1")))
    assert rep.outcome is Outcome.RESIDUAL and rep.residual_base == D("-0.1")
    assert env.binance.net[BN] == D("-0.1")
