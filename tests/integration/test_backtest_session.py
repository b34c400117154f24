"""A live paper session on the simulator that is recorded while it trades (shared by replay tests).

The live side is the production path over real sockets: MarketData → handle_frame → the
engine's synchronous cycle → MockAdapters, with the recorder on the feed's `on_frame`. Two
test-only choices make it comparable with a replay frame for frame: the engine runs one cycle
per frame (the live loop conflates bursts, which a replay cannot know about), and its clock
stamps decisions with the frame's receive time (what a replay uses as "now").
"""
from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.feeds.market_data import MarketData
from arbv2.adapters.simulator import SimulatorServer
from arbv2.app.backtest import OpportunityRecord, build_assembly, run_backtest
from arbv2.app.recorder import Endpoints, fetch_binance_filters, fetch_funding_rates, record
from arbv2.core.config import load_config

FAST = 10.0   # the simulated premium moves FAST times quicker than the default model


def fast_config(symbols=("BTC", "ETH"), **strategy):
    st = {"entry_edge_bps": 10.0, "exit_edge_bps": 5.0, "anchor_halflife_s": 8.0, "warmup_s": 2.0, **strategy}
    return load_config(None, env={}, dotenv_path=None, overlay={
        "symbols": list(symbols), "mode": "paper", "strategy": st,
        "risk": {"cooldown_after_loss_s": 0.0, "cooldown_after_failure_s": 0.0},
        "kpi": {"min_round_trips": 1}})


def speed_up(sim: SimulatorServer, factor: float = FAST) -> None:
    """Make the premium mean-revert and swing `factor` times faster (minutes of regime in seconds)."""
    p = sim.model.params
    p.premium_theta_per_s *= factor
    p.premium_sigma *= math.sqrt(factor)
    p.premium_jump_rate_per_s *= factor


class FrameClock(SystemClock):
    """Wall clock for sleeps; `now_ns` is the receive time of the frame being decided."""

    def __init__(self) -> None:
        self.frame_ns: int | None = None

    def now_ns(self) -> int:
        return self.frame_ns if self.frame_ns is not None else time.time_ns()


class PerFrameFeed(MarketData):
    """MarketData that runs the engine's cycle right after each merged frame."""

    engine = None
    frame_clock: FrameClock | None = None

    def handle_frame(self, venue, raw, ts_recv_ns):
        changed = super().handle_frame(venue, raw, ts_recv_ns)
        if changed and self.engine is not None:
            self.frame_clock.frame_ns = ts_recv_ns
            self.engine.process(sorted(changed))
        return changed


async def live_session(cfg, out: Path, duration_s: float, *, seed: int = 7, shocks=()):
    """Record `duration_s` of a sped-up simulator while a live engine trades it.

    `shocks` are (seconds after start, base, premium) jumps forced into the model.
    Return (opportunities, round trips) of the live engine.
    """
    async with SimulatorServer(seed=seed, symbols=cfg.symbols, premium_mean=0.02) as sim:
        speed_up(sim)
        ep = Endpoints(sim.upbit_url, sim.upbit_ws_url, sim.binance_url, sim.binance_ws_url)
        meta = {"binance_filters": await fetch_binance_filters(sim.binance_url, cfg.symbols),
                "funding_rates": await fetch_funding_rates(sim.binance_url, cfg.symbols)}
        clock = FrameClock()
        box = {}

        opps: list[OpportunityRecord] = []

        def factory(cfg_, **kw):
            feed = PerFrameFeed(cfg_, **kw)
            parts = build_assembly(cfg_, clock, meta, feed=feed)
            feed.engine, feed.frame_clock = parts.engine, clock
            decide = parts.engine.decide

            def logged(base, now_ns):        # log decisions exactly as the backtest does
                opp = decide(base, now_ns)
                if opp is not None:
                    opps.append(OpportunityRecord(now_ns, base, opp.action.value, opp.direction.value,
                                                  opp.edge_bps, opp.qty_base))
                return opp

            parts.engine.decide = logged
            box["parts"] = parts
            return feed

        async def shock_loop():
            t0 = time.monotonic()
            for at, base, premium in shocks:
                await asyncio.sleep(max(0.0, at - (time.monotonic() - t0)))
                sim.model.symbols[base].premium = premium

        shocker = asyncio.get_running_loop().create_task(shock_loop())
        stop = asyncio.Event()
        await record(cfg, out, endpoints=ep, duration_s=duration_s, stop=stop, meta={"source": "sim", "seed": seed},
                     feed_factory=factory)
        shocker.cancel()
        engine = box["parts"].engine
        await engine.shutdown()
        trips = await box["parts"].trade_store.trades(0, 1 << 63)
        return opps, trips


def test_replay_decides_what_the_live_run_decided_at_the_same_timestamps(tmp_path):
    cfg = fast_config()
    live_opps, live_trips = asyncio.run(live_session(cfg, tmp_path / "rec", 25.0))
    res = run_backtest(cfg, tmp_path / "rec", run_id="replay")
    assert res.frames > 500
    assert len(live_opps) >= 2, "the sped-up simulator should offer opportunities within 25 s"
    assert [o.key() + (o.qty_base,) for o in res.opportunities] == [o.key() + (o.qty_base,) for o in live_opps]
    replayed = [(t.round_trip_id, t.state.value, t.opened_ns) for t in res.round_trips]
    assert replayed == [(t.round_trip_id, t.state.value, t.opened_ns) for t in live_trips]
