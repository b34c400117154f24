"""Backtest: replay a recording through the live parse → book → detector → risk → executor path.

The assembly is the paper engine with three swaps: recorded time instead of the wall clock
(`ReplayLoop`/`ReplayClock`), the recording instead of sockets (frames go to the feed's own
`handle_frame`), and MockAdapters whose latency is slept in recorded time, so an order sent at
decision time + latency fills against the book as it was at arrival. Everything else is the
production code. Nothing reads the wall clock except the throughput figure, which is printed,
never written to the evidence: two runs of the same data and config write identical bytes.

Frames before `start_ns` only build the books (a live engine started at that moment with its
books already synced); the detector warms up from `start_ns` as it would live.
"""
from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from arbv2.adapters.clock_replay import ReplayClock, ReplayLoop
from arbv2.adapters.feeds.market_data import MarketData
from arbv2.adapters.memory.metrics import MemoryMetrics
from arbv2.adapters.memory.state_store import MemoryStateStore
from arbv2.adapters.memory.trade_store import MemoryTradeStore
from arbv2.adapters.mock.exchange import MockAdapter
from arbv2.adapters.recording import rules as rec_rules
from arbv2.adapters.recording.format import RECORD_HEAD, VENUES
from arbv2.adapters.recording.reader import iter_blocks, iter_frames, read_meta, segments
from arbv2.app.evidence import build_evidence
from arbv2.app.kpi import compute_kpis, kpi_gate
from arbv2.app.runtime import PAPER_BALANCES
from arbv2.core.config import Config
from arbv2.core.engine import ArbitrageEngine
from arbv2.core.model import Venue
from arbv2.ports.metrics import CycleStage

_NS = 1_000_000_000
_PROGRESS_EVERY = 1 << 15


@dataclass(frozen=True, slots=True)
class OpportunityRecord:
    """One decision the engine made: what it saw, when (recorded time), and the edge it priced."""

    ts_ns: int
    base: str
    action: str
    direction: str
    edge_bps: float
    qty_base: float

    def key(self) -> tuple:
        return (self.ts_ns, self.base, self.action, self.direction, round(self.edge_bps, 6))


@dataclass(slots=True)
class BacktestResult:
    doc: dict[str, Any]
    opportunities: list[OpportunityRecord]
    frames: int
    wall_s: float
    round_trips: list[Any] = field(default_factory=list)

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else float("inf")


def opportunity_digest(opps: list[OpportunityRecord]) -> str:
    """Return a sha256 over the decisions, so evidence shows two runs decided identically."""
    h = hashlib.sha256()
    for o in opps:
        h.update(repr(o.key()).encode())
    return h.hexdigest()


class ReplayMetrics(MemoryMetrics):
    """The replay's Metrics port: counters and gauges as MemoryMetrics, no latency series.

    A replay's cycle and stage latencies are recorded-time differences, not measurements (the
    engine's cycle is 0 ns of virtual time) and no evidence reads them, so they are not kept:
    that is two deque appends fewer per frame. Counters (rejects, risk blocks, failures) are.
    """

    def observe_cycle(self, seconds: float) -> None:
        pass

    def observe_stage(self, stage: CycleStage, seconds: float) -> None:
        pass


@dataclass(slots=True)
class Assembly:
    """The replay engine's parts: the feed, the paper venues, the memory stores, the engine."""

    feed: MarketData
    metrics: MemoryMetrics
    trade_store: MemoryTradeStore
    engine: ArbitrageEngine


def build_assembly(cfg: Config, clock: Any, meta: dict[str, Any], feed: MarketData | None = None,
                   metrics: MemoryMetrics | None = None) -> Assembly:
    """Wire the production components for a replay: no sockets, recorded time, paper fills.

    `feed` lets a live session (tests comparing live with replay) ride the same assembly on a
    socket-fed MarketData.
    """
    metrics = metrics or ReplayMetrics(cfg.symbols)
    # the replay feed reports no stage timings: they are wall-clock figures, not evidence
    feed = feed if feed is not None else MarketData(cfg, clock=clock)
    brules = rec_rules.binance_rules(meta, cfg.symbols)
    ex, fees = cfg.execution, cfg.venues
    exchanges = {
        Venue.UPBIT: MockAdapter(Venue.UPBIT, lambda s: feed.book(Venue.UPBIT, s), fees.upbit.fees.taker_bps,
                                 clock=clock, latency_s=ex.paper_latency_ms_upbit / 1000, seed=ex.seed,
                                 balances=PAPER_BALANCES[Venue.UPBIT], rules=rec_rules.upbit_rules(cfg.symbols)),
        Venue.BINANCE_USDM: MockAdapter(Venue.BINANCE_USDM, lambda s: feed.book(Venue.BINANCE_USDM, s),
                                        fees.binance_usdm.fees.taker_bps, clock=clock,
                                        latency_s=ex.paper_latency_ms_binance / 1000, seed=ex.seed + 1,
                                        balances=PAPER_BALANCES[Venue.BINANCE_USDM], rules=brules),
    }
    funding = {str(k): float(v) for k, v in (meta.get("funding_rates") or {}).items()}
    trade_store = MemoryTradeStore()
    engine = ArbitrageEngine(cfg, market_data=feed, exchanges=exchanges, trade_store=trade_store,
                             state_store=MemoryStateStore(), metrics=metrics, clock=clock,
                             rules=rec_rules.instrument_rules(brules, cfg.symbols),
                             funding_rate=(lambda base: funding.get(base, 0.0)) if funding else None)
    return Assembly(feed, metrics, trade_store, engine)


def _first_ts(data: Path, start_ns: int | None) -> int | None:
    for ts, _, _, _ in iter_frames(data, start_ns):
        return ts
    return None


def run_backtest(cfg: Config, data: str | Path, *, start_ns: int | None = None, end_ns: int | None = None,
                 run_id: str | None = None, progress: bool = False, sha: str | None = None) -> BacktestResult:
    """Replay `data` (a recording directory) under `cfg` and return the evidence and decisions."""
    data = Path(data)
    meta = read_meta(segments(data)[0])
    origin = _first_ts(data, None)
    if origin is None:
        raise ValueError(f"{data}: the recording holds no complete record")
    loop = ReplayLoop(origin)
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        return runner.run(_Replay(cfg, data, meta, loop, start_ns, end_ns, run_id, progress, sha).run())


class _Replay:
    """One replay run: the assembly, the frame driver and the evidence."""

    def __init__(self, cfg: Config, data: Path, meta: dict, loop: ReplayLoop, start_ns: int | None,
                 end_ns: int | None, run_id: str | None, progress: bool, sha: str | None) -> None:
        self.cfg, self.data, self.meta, self.loop = cfg, data, meta, loop
        self.start_ns, self.end_ns = start_ns, end_ns
        self.run_id, self.progress, self.sha = run_id, progress, sha
        self.clock = ReplayClock(loop)
        self.opps: list[OpportunityRecord] = []
        self.frames = 0

    async def run(self) -> BacktestResult:
        parts = build_assembly(self.cfg, self.clock, self.meta)
        engine = parts.engine
        opps = self.opps

        def log_opportunity(opp, now_ns: int) -> None:   # every decision, before risk sees it
            opps.append(OpportunityRecord(now_ns, opp.base, opp.action.value, opp.direction.value,
                                          opp.edge_bps, opp.qty_base))

        engine.on_opportunity = log_opportunity     # observe decisions without changing them
        wall0 = time.perf_counter()
        first, last = await self._drive(parts)
        await engine.shutdown()
        wall = time.perf_counter() - wall0
        if self.progress:
            print(file=sys.stderr)
        trips = await parts.trade_store.trades(0, 1 << 63)
        doc = self._evidence(parts, first, last, trips)
        return BacktestResult(doc, opps, self.frames, wall, trips)

    async def _drive(self, parts: Assembly) -> tuple[int, int]:
        """Feed every frame at its recorded time; let due timers and tasks run first, in order.

        REST snapshots (kind rest_book) enter the feed's `handle_frame` exactly as they did live.
        The engine sorts a frame's bases itself (a set's order varies with the hash seed; the
        order of two same-frame decisions must not). The records of each decompressed block are
        walked here, not through a generator: this loop is the replay's per-frame overhead.
        """
        loop, process = self.loop, parts.engine.process
        handlers = tuple(parts.feed.frame_handler(v) for v in VENUES)   # by the record's venue index
        step, sleep = loop.step_to, asyncio.sleep
        unpack, head = RECORD_HEAD.unpack_from, RECORD_HEAD.size
        trade_from = self.start_ns if self.start_ns is not None else -1
        hi = self.end_ns if self.end_ns is not None else 1 << 64
        origin = loop.origin_ns
        prog = [0, 0]
        bar_at = _PROGRESS_EVERY if self.progress else 1 << 62
        first = last = None
        n = 0
        for raw in iter_blocks(self.data, prog):
            pos, end = 0, len(raw)
            while pos < end:
                ts, venue, _kind, size = unpack(raw, pos)
                if ts >= hi:
                    break
                pos += head
                while step(ts):
                    await sleep(max(0, ts - origin - loop.virtual_ns) / _NS)
                bases = handlers[venue](raw[pos:pos + size], ts)
                pos += size
                n += 1
                if ts >= trade_from:
                    last = ts
                    if first is None:
                        first = ts
                    if bases:
                        process(bases)
            else:
                if n >= bar_at:
                    _bar(prog, n)
                    bar_at = n + _PROGRESS_EVERY
                continue
            break                                    # end_ns reached
        self.frames = n
        if first is None:
            raise ValueError(f"{self.data}: no frame in the requested window")
        while loop.due(last):
            await sleep(max(0, last - origin - loop.virtual_ns) / _NS)
        return first, last

    def _evidence(self, parts, first: int, last: int, trips: list) -> dict[str, Any]:
        m = parts.metrics
        counts = {
            "frames": self.frames,
            "opportunities": len(self.opps),
            "trades": len(trips),
            "rejects": int(_counter_sum(m, "rejects")),
            "reconnects": 0,
            "resyncs": int(parts.feed.binance.counters.resyncs),
            "risk_blocks": int(_counter_sum(m, "risk_blocks")),
            "executions_failed": int(_counter_sum(m, "executions_failed")),
        }
        kpis = compute_kpis(trips)
        gates = kpi_gate(kpis, self.cfg.kpi)
        extra = {
            "data": {"path": str(self.data), "segments": len(segments(self.data)),
                     "source": self.meta.get("source"), "seed": self.meta.get("seed"),
                     "recorded_config_hash": self.meta.get("config_hash")},
            "window": {"start_ns": self.start_ns, "end_ns": self.end_ns},
            "latency_model_ms": {"upbit": self.cfg.execution.paper_latency_ms_upbit,
                                 "binance_usdm": self.cfg.execution.paper_latency_ms_binance},
            "fees_taker_bps": {"upbit": self.cfg.venues.upbit.fees.taker_bps,
                               "binance_usdm": self.cfg.venues.binance_usdm.fees.taker_bps},
            "opportunities_sha256": opportunity_digest(self.opps),
            "engine": {b: s.state.value for b, s in sorted(parts.engine.slots.items())},
        }
        run_id = self.run_id or f"backtest-{self.cfg.config_hash()}-{first}"
        return build_evidence(run_id=run_id, kind="backtest", started_ns=first, ended_ns=last, cfg=self.cfg,
                              counts=counts, round_trips=trips, latency_samples_s=None, gates=gates,
                              extra=extra, sha=self.sha)


def _counter_sum(metrics, name: str) -> float:
    return sum(v for (n, _), v in metrics.counters.items() if n == name)


def _bar(prog: list[int], n: int) -> None:
    done, total = prog
    frac = done / total if total else 1.0
    width = 30
    fill = int(frac * width)
    print(f"\r[{'#' * fill}{'.' * (width - fill)}] {frac:6.1%} {n:,} frames", end="", file=sys.stderr, flush=True)


def pnl_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the fields tuning compares: PnL, winrate, mean edge, drawdown and trade count."""
    k = doc["kpis"]
    return {"pnl_krw": k["realized_pnl_krw"], "winrate": k["winrate"], "mean_edge_bps": k["mean_edge_bps"],
            "max_drawdown_krw": k["max_drawdown_krw"], "round_trips": k["round_trips"],
            "failed": k["round_trips_failed"], "open": k["round_trips_open"]}


def iter_windows(first_ns: int, last_ns: int, n: int) -> Iterator[tuple[int, int]]:
    """Yield `n` equal consecutive [start, end) windows covering [first_ns, last_ns]."""
    span = last_ns + 1 - first_ns
    for i in range(n):
        yield first_ns + span * i // n, first_ns + span * (i + 1) // n


__all__ = ["BacktestResult", "OpportunityRecord", "iter_windows", "opportunity_digest",
           "pnl_summary", "run_backtest"]
