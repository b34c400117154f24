"""Engine state machine driven by a fake clock and fake books; controls, reconcile, shutdown."""
from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from arbv2.core.config import Config, ExecutionConfig, RiskConfig, SizingConfig, StrategyConfig
from arbv2.core.engine import ArbitrageEngine, SymbolState, TransitionError
from arbv2.core.errors import ConfigError
from arbv2.core.execution import InstrumentRules
from arbv2.core.model import Order, OrderStatus, OrderType, RoundTripState, Side, Venue
from test_detector import ENTRY_BINANCE, ENTRY_UPBIT, EXIT_BINANCE, EXIT_UPBIT, HIGH_BINANCE, HIGH_UPBIT
from test_engine_fakes import (FakeClock, FakeExchange, FakeMarketData, FakeMetrics, FakeStateStore,
                               FakeTradeStore, make_book)

UP, BN = "BTC/KRW", "BTC/USDT:USDT"
RULES = {(Venue.UPBIT, UP): InstrumentRules(D("1e-8"), D("0"), D("5000"), D("1000")),
         (Venue.BINANCE_USDM, BN): InstrumentRules(D("0.001"), D("0.001"), D("5"), D("0.1"))}
CFG = Config(symbols=("BTC",),
             strategy=StrategyConfig(entry_edge_bps=10.0, exit_edge_bps=5.0, safety_margin_bps=2.0,
                                     anchor_halflife_s=1e9, warmup_s=5.0),
             sizing=SizingConfig(order_notional_krw=14_510_000.0, max_order_notional_krw=20_000_000.0),
             risk=RiskConfig(max_position_krw_per_symbol=20_000_000.0, max_gross_notional_krw=40_000_000.0,
                             cooldown_after_failure_s=60.0, daily_loss_limit_krw=1_000_000.0),
             execution=ExecutionConfig(leg_timeout_s=0.05))


class Rig:
    def __init__(self, cfg=CFG):
        self.clock = FakeClock()
        self.md = FakeMarketData({})
        self.upbit = FakeExchange(Venue.UPBIT, {})
        self.binance = FakeExchange(Venue.BINANCE_USDM, {})
        self.store, self.state, self.metrics = FakeTradeStore(), FakeStateStore(), FakeMetrics()
        self.engine = ArbitrageEngine(cfg, market_data=self.md,
                                      exchanges={Venue.UPBIT: self.upbit, Venue.BINANCE_USDM: self.binance},
                                      trade_store=self.store, state_store=self.state, metrics=self.metrics,
                                      clock=self.clock, rules=RULES)
        self.set_books(HIGH_UPBIT, HIGH_BINANCE)

    def set_books(self, upbit, binance):
        ub, bb = make_book(*upbit, self.clock.now), make_book(*binance, self.clock.now)
        self.md.books[(Venue.UPBIT, UP)] = self.upbit.books[UP] = ub
        self.md.books[(Venue.BINANCE_USDM, BN)] = self.binance.books[BN] = bb

    async def tick(self, upbit=None, binance=None, advance_s=1.0):
        self.clock.advance(advance_s)
        if upbit is not None:
            self.set_books(upbit, binance)
        else:
            for b in self.md.books.values():
                b.ts_event_ns = self.clock.now
        await self.engine.on_books({"BTC"})
        await self.settle()

    async def settle(self):
        while self.engine._tasks:
            await asyncio.gather(*list(self.engine._tasks.values()), return_exceptions=True)

    async def hedge(self):
        await self.tick(advance_s=0.0)
        await self.tick(ENTRY_UPBIT, ENTRY_BINANCE, advance_s=6.0)
        assert self.slot.state is SymbolState.HEDGED

    @property
    def slot(self):
        return self.engine.slots["BTC"]


async def test_full_round_trip_flat_entering_hedged_exiting_flat():
    rig = Rig()
    await rig.tick(advance_s=0.0)                         # warm-up quote: anchor only
    assert rig.slot.state is SymbolState.FLAT and not rig.upbit.submits
    rig.clock.advance(6.0)
    rig.set_books(ENTRY_UPBIT, ENTRY_BINANCE)
    await rig.engine.on_books({"BTC"})
    assert rig.slot.state is SymbolState.ENTERING and rig.engine.in_flight == 1
    await rig.engine.on_books({"BTC"})                    # no second entry while one is in flight
    await rig.settle()
    assert rig.slot.state is SymbolState.HEDGED
    assert rig.slot.upbit_pos == D("0.1") and rig.slot.binance_pos == D("-0.1")
    assert len(rig.upbit.submits) == 1 and len(rig.binance.submits) == 1
    rt_id = rig.slot.round_trip.round_trip_id
    assert rig.store.round_trips[rt_id].state is RoundTripState.HEDGED
    assert rig.state.docs["symbol:BTC"]["state"] == "hedged"
    await rig.tick()                                      # hedged, exit edge not there yet
    assert rig.slot.state is SymbolState.HEDGED and len(rig.upbit.submits) == 1
    await rig.tick(EXIT_UPBIT, EXIT_BINANCE)
    assert rig.slot.state is SymbolState.FLAT
    rt = rig.store.round_trips[rt_id]
    assert rt.state is RoundTripState.CLOSED and rt.pnl_krw > 0
    assert rig.upbit.net[UP] == 0 and rig.binance.net[BN] == 0
    assert rig.engine.risk.daily_loss_krw(rig.clock.now) == -rt.pnl_krw      # a gain offsets losses
    assert rig.state.losses[rig.engine.risk.day_key(rig.clock.now)] == -rt.pnl_krw
    assert rig.metrics.count("round_trips", outcome="hedged") == 1
    assert rig.metrics.count("round_trips", outcome="closed") == 1
    assert rig.metrics.cycles and all(c >= 0 for c in rig.metrics.cycles)


async def test_failed_hedge_unwinds_goes_flat_and_cools_down():
    rig = Rig()
    rig.binance.script.append("reject")
    await rig.tick(advance_s=0.0)
    await rig.tick(ENTRY_UPBIT, ENTRY_BINANCE, advance_s=6.0)
    assert rig.slot.state is SymbolState.FLAT and rig.slot.residual == 0
    assert rig.upbit.net[UP] == 0
    failed = [rt for rt in rig.store.round_trips.values() if rt.state is RoundTripState.FAILED]
    assert failed and "insufficient margin" in failed[0].note
    await rig.tick()
    assert rig.metrics.count("risk_blocks", reason="cooldown") == 1
    assert len(rig.upbit.submits) == 2                   # the buy and its unwind, nothing new


async def test_unknown_leg_state_fails_the_symbol_until_cleared():
    rig = Rig()
    rig.binance.script.append("lost")
    rig.binance.status_script.extend(["unavailable"] * 10)
    await rig.tick(advance_s=0.0)
    await rig.tick(ENTRY_UPBIT, ENTRY_BINANCE, advance_s=6.0)
    assert rig.slot.state is SymbolState.FAILED and "unknown" in rig.slot.note
    assert rig.engine.decide("BTC", rig.clock.now) is None
    assert rig.engine.health()["failed_symbols"] == ["BTC"]
    with pytest.raises(TransitionError):
        rig.slot.to(SymbolState.EXITING)
    assert rig.engine.clear_failure("BTC") == "flat"     # what the engine knows: Upbit only


async def test_pause_blocks_entries_and_resume_allows_them():
    rig = Rig()
    rig.engine.pause()
    await rig.tick(advance_s=0.0)
    await rig.tick(ENTRY_UPBIT, ENTRY_BINANCE, advance_s=6.0)
    assert rig.slot.state is SymbolState.FLAT
    assert rig.metrics.count("risk_blocks", reason="paused") == 1
    rig.engine.resume()
    await rig.tick()
    assert rig.slot.state is SymbolState.HEDGED


async def test_kill_flattens_hedged_symbols_and_blocks_entries():
    rig = Rig()
    await rig.hedge()
    out = await rig.engine.kill(flatten=True)
    assert out["flattening"] == ["BTC"]
    await rig.settle()
    assert rig.slot.state is SymbolState.FLAT and rig.binance.net[BN] == 0
    await rig.tick(advance_s=100.0)
    assert rig.metrics.count("risk_blocks", reason="kill_switch") >= 1
    assert rig.engine.status()["kill_switch"] is True


async def test_kill_during_an_entry_flattens_it_once_hedged():
    rig = Rig()
    await rig.tick(advance_s=0.0)
    rig.clock.advance(6.0)
    rig.set_books(ENTRY_UPBIT, ENTRY_BINANCE)
    await rig.engine.on_books({"BTC"})                    # the entry is in flight
    assert rig.engine.in_flight == 1
    out = await rig.engine.kill(flatten=True)
    assert out["after_entry"] == ["BTC"] and out["flattening"] == []
    await rig.settle()                                    # entry completes, then the flatten runs
    assert rig.slot.state is SymbolState.FLAT and rig.binance.net[BN] == 0


async def test_unhealthy_book_blocks():
    rig = Rig()
    rig.md.healthy[(Venue.BINANCE_USDM, BN)] = False
    await rig.tick(advance_s=0.0)
    await rig.tick(ENTRY_UPBIT, ENTRY_BINANCE, advance_s=6.0)
    assert rig.slot.state is SymbolState.FLAT
    assert rig.metrics.count("risk_blocks", reason="unhealthy_book") == 1


async def test_set_thresholds_validates_and_applies():
    rig = Rig()
    with pytest.raises(ConfigError, match="bogus"):
        rig.engine.set_thresholds(bogus=1.0)
    with pytest.raises(ConfigError, match="entry_edge_bps"):
        rig.engine.set_thresholds(entry_edge_bps=-1.0)
    with pytest.raises(ConfigError, match="order_notional_krw"):
        rig.engine.set_thresholds(order_notional_krw=30_000_000.0)      # > max_order_notional_krw
    out = rig.engine.set_thresholds("BTC", entry_edge_bps=40.0)
    assert out["BTC"]["entry_edge_bps"] == 40.0
    await rig.tick(advance_s=0.0)
    await rig.tick(ENTRY_UPBIT, ENTRY_BINANCE, advance_s=6.0)          # 31.6 bps < 40
    assert rig.slot.state is SymbolState.FLAT
    await asyncio.sleep(0)                                              # the persisted copy
    assert rig.state.docs["thresholds"]["strategy"]["overrides"]["BTC"]["entry_edge_bps"] == 40.0


async def test_status_and_health_shape():
    rig = Rig()
    await rig.hedge()
    st = rig.engine.status()
    assert st["mode"] == "paper" and st["symbols"]["BTC"]["state"] == "hedged"
    assert D(st["symbols"]["BTC"]["upbit_pos"]) == D("0.1")
    assert {p["venue"] for p in st["positions"]} == {"upbit", "binance_usdm"}
    assert set(st["pnl"]) >= {"realized_krw", "fees_krw", "net_krw", "daily_loss_krw"}
    assert st["limits"]["max_open_round_trips"] == 3
    h = rig.engine.health()
    assert h["ok"] and h["books"]["BTC"] == {"upbit": True, "binance_usdm": True}


async def test_reconcile_resolves_outbox_and_restores_hedge():
    rig = Rig()
    rig.binance.net[BN] = D("-0.1")
    rig.state.docs["symbol:BTC"] = {"state": "hedged", "direction": "long_upbit", "round_trip_id": "btc1",
                                    "upbit_pos": "0.1", "binance_pos": "-0.1", "open_premium": 0.0076,
                                    "notional_krw": 14_510_000.0, "opened_ns": 1}
    rig.state.losses[rig.engine.risk.day_key(rig.clock.now)] = D("1234")
    filled = Order(Venue.BINANCE_USDM, BN, Side.SELL, OrderType.MARKET, "btc1-eb2", "v1", OrderStatus.FILLED,
                   D("0.1"), None, None, D("0.1"), D("100000"))
    rig.binance.orders["btc1-eb2"] = filled
    for cid, venue, sym in (("btc1-eb2", Venue.BINANCE_USDM, BN), ("btc1-eu1", Venue.UPBIT, UP)):
        rig.store.orders[cid] = Order(venue, sym, Side.SELL, OrderType.MARKET, cid, None, OrderStatus.PENDING,
                                      D("0.1"), None, None)
    out = await rig.engine.reconcile()
    assert out["orders_checked"] == 2 and out["orders_unresolved"] == []
    assert rig.store.orders["btc1-eb2"].status is OrderStatus.FILLED
    assert rig.store.orders["btc1-eu1"].status is OrderStatus.REJECTED     # never placed
    assert rig.slot.state is SymbolState.HEDGED and rig.slot.hedged_qty == D("0.1")
    assert rig.engine.risk.daily_loss_krw(rig.clock.now) == D("1234")


async def test_reconcile_position_mismatch_fails_the_symbol():
    rig = Rig()
    rig.binance.net[BN] = D("-0.3")
    out = await rig.engine.reconcile()
    assert out["symbols"]["BTC"] == "failed"
    assert "-0.3" in rig.slot.note
    await rig.tick(advance_s=0.0)
    await rig.tick(ENTRY_UPBIT, ENTRY_BINANCE, advance_s=6.0)
    assert not rig.upbit.submits


async def test_run_for_a_duration_then_shutdown_persists_state():
    rig = Rig()
    run = asyncio.create_task(rig.engine.run(duration_s=1.0))
    while rig.md.listener is None:
        await asyncio.sleep(0)
    rig.md.listener({"BTC"}, 0)            # a frame arrives: the engine decides in the callback
    assert rig.engine.frames == 1
    await run
    assert rig.md.listener is None         # detached at shutdown
    assert rig.state.docs["engine"] == {"paused": False, "kill_switch": False}
    assert "symbol:BTC" in rig.state.docs
    assert not rig.engine.health()["loop_running"]


async def test_shutdown_waits_for_in_flight_execution():
    rig = Rig()
    await rig.tick(advance_s=0.0)
    rig.clock.advance(6.0)
    rig.set_books(ENTRY_UPBIT, ENTRY_BINANCE)
    await rig.engine.on_books({"BTC"})
    assert rig.engine.in_flight == 1
    stragglers = await rig.engine.shutdown()
    assert stragglers == [] and rig.slot.state is SymbolState.HEDGED and rig.engine.in_flight == 0
    assert rig.state.docs["symbol:BTC"]["state"] == "hedged"


def test_missing_rules_are_refused():
    with pytest.raises(ValueError, match="binance_usdm BTC/USDT:USDT"):
        ArbitrageEngine(CFG, market_data=FakeMarketData({}), exchanges={}, trade_store=FakeTradeStore(),
                        state_store=FakeStateStore(), metrics=FakeMetrics(), clock=FakeClock(),
                        rules={(Venue.UPBIT, UP): RULES[(Venue.UPBIT, UP)]})
