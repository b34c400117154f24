"""Engine sessions: `arbv2 engine`, SmokeRunner and PaperRunner all run `run_session`.

A session opens the runtime (composition root), runs preflight (refusing live on failure),
runs the engine's own loop for a duration, then collects counts, round trips and cycle
latencies into the standard evidence document and judges the gates of its kind:

- smoke: no crash, every book synced, no lost or duplicated order (the trade store against
  the simulator's truth), cycle latency within budget, faults survived (when given);
- paper: the KPI gate (winrate band, mean realized edge, minimum round trips) and latency.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from arbv2.app.evidence import build_evidence, summary_text, write_evidence
from arbv2.app.kpi import GateResult, compute_kpis, kpi_gate, latency_gate, latency_summary_us
from arbv2.app.logs import RUN_ID
from arbv2.app.preflight import require_preflight
from arbv2.app.runtime import Runtime, open_runtime
from arbv2.core.config import Config
from arbv2.core.model import Venue, binance_symbol, upbit_symbol

log = logging.getLogger(__name__)
Kind = Literal["engine", "smoke", "paper"]
COUNTERS = ("frames", "malformed_frames", "gaps", "resyncs", "reconnects", "opportunities", "round_trips",
            "rejects", "risk_blocks", "executions_failed")
BOOK_SETTLE_S = 5.0   # grace at the end of a run for a resync under way (HealthWatch.settle)


@dataclass
class SessionResult:
    evidence: dict[str, Any]
    path: str | None
    gates: list[GateResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


def _total(recorder: Any, name: str) -> int:
    return int(sum(v for (n, _), v in recorder.counters.items() if n == name))


def _status_line(rt: Runtime, started: float) -> str:
    st = rt.engine.status()
    parts = [f"t={time.monotonic() - started:5.0f}s"]
    fx = st["pnl"].get("usdt_krw")
    if fx:
        parts.append(f"fx={fx:,.1f}")
    for base, s in st["symbols"].items():
        prem = s.get("mid_premium")
        parts.append(f"{base} {prem * 100:+.3f}% {s['state']}" if prem is not None else f"{base} -")
    parts.append(f"pnl={float(st['pnl'].get('realized_krw', 0) or 0):,.0f}KRW")
    samples = list(rt.metrics.recorder.cycle_seconds)[-2000:]
    if samples:
        lat = latency_summary_us(samples)
        parts.append(f"cycle p50={lat['p50_us']:.1f}µs p99={lat['p99_us']:.1f}µs")
    return "  ".join(parts)


async def _print_status(rt: Runtime, every_s: float, started: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        print(_status_line(rt, started), flush=True)


class HealthWatch:
    """Sample every book's sync state while the engine runs (the feed is closed by the time we judge)."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self.books = [(v, s) for b in rt.cfg.symbols
                      for v, s in ((Venue.UPBIT, upbit_symbol(b)), (Venue.BINANCE_USDM, binance_symbol(b)))]
        self.ever_synced: set[tuple[Venue, str]] = set()
        self.last: dict[tuple[Venue, str], bool] = {}

    def sample(self) -> None:
        for key in self.books:
            synced = self._rt.market_data.health(*key).synced
            self.last[key] = synced
            if synced:
                self.ever_synced.add(key)

    async def run(self, every_s: float = 0.5) -> None:
        while True:
            self.sample()
            await asyncio.sleep(every_s)

    async def settle(self, timeout_s: float, every_s: float = 0.1) -> None:
        """Sample until every book is in sync again, for at most `timeout_s`.

        A fault can land on the run's last second (a drop every 15 s ends a 60 s run): a resync
        under way gets this grace before "in sync at the end" is judged. A book that never synced
        during the run gets none.
        """
        deadline = time.monotonic() + timeout_s
        self.sample()
        while (time.monotonic() < deadline and all(k in self.ever_synced for k in self.books)
               and not all(self.last.get(k, False) for k in self.books)):
            await asyncio.sleep(every_s)
            self.sample()

    def verdict(self) -> tuple[bool, str]:
        never = [f"{v.value} {s}" for v, s in self.books if (v, s) not in self.ever_synced]
        stale = [f"{v.value} {s}" for v, s in self.books if not self.last.get((v, s), False)]
        if never:
            return False, "never synced: " + ", ".join(never)
        if stale:
            return False, "not synced at the end: " + ", ".join(stale)
        return True, f"all {len(self.books)} books synced, and in sync at the end"


async def _orders_match_truth(rt: Runtime) -> GateResult:
    """Every order the simulator received is in the store exactly once, with its final status."""
    if rt.sim is None:
        return GateResult("orders_reconciled", True, "no simulator truth (not a simulator run): skipped")
    problems = []
    received = 0
    for venue in ("upbit", "binance_usdm"):
        truth = [o for o in rt.sim.truth.orders(venue) if o.get("client_order_id")]
        ids = [o["client_order_id"] for o in truth]
        received += len(ids)
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            problems.append(f"{venue}: sent twice: {sorted(dupes)[:3]}")
        stored = await rt.trade_store.orders_by_client_id(ids)
        lost = [i for i in ids if i not in stored]
        if lost:
            problems.append(f"{venue}: {len(lost)} orders missing from the store, e.g. {lost[:3]}")
        open_at_venue = [o["client_order_id"] for o in truth if str(o.get("status", "")).lower() in ("wait", "new")]
        unfinished = [i for i, o in stored.items() if not o.status.is_final and i not in open_at_venue]
        if unfinished:
            problems.append(f"{venue}: {len(unfinished)} orders final at the venue but not in the store: "
                            f"{unfinished[:3]}")
    if problems:
        return GateResult("orders_reconciled", False, "; ".join(problems))
    return GateResult("orders_reconciled", True, f"{received} orders at the simulator, each stored once")


async def _run_until_stopped(rt: Runtime, watch: HealthWatch, duration_s: float | None) -> BaseException | None:
    """Run the engine until the duration ends, SIGINT/SIGTERM, or a crash; return the crash, if any."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(rt.engine.run(None), name="engine")
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await watch.settle(BOOK_SETTLE_S)   # the books as they stand when we stop, feed still up
            rt.engine.stop()
        try:
            await task
        except asyncio.CancelledError:
            return None
        except Exception as exc:  # a crash fails the run's no_crash gate; reported, not hidden
            log.exception("engine crashed")
            return exc
        return None
    finally:
        stopper.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def run_session(cfg: Config, kind: Kind, duration_s: float | None, *, status_every_s: float = 5.0,
                      evidence_dir: str | None = "evidence", faults_given: bool = False,
                      quiet: bool = False) -> SessionResult:
    """Run the engine for `duration_s` (None: until cancelled) and judge the run's gates."""
    started_ns = time.time_ns()
    started = time.monotonic()
    live_ok = False
    if cfg.mode == "live":
        await require_preflight(cfg)     # raises SafetyError: a live start is refused on any failure
        live_ok = True
    async with open_runtime(cfg, live_preflight_passed=live_ok) as rt:
        if cfg.mode != "live":
            await require_preflight(rt.cfg)  # logged, not fatal: paper/sim only touch local venues
        printer = None if quiet else asyncio.create_task(_print_status(rt, status_every_s, started))
        if not quiet:
            print(f"arbv2 {kind} [{RUN_ID}] mode={rt.cfg.mode} symbols={','.join(cfg.symbols)} "
                  f"server={rt.server_url} sim={'embedded' if rt.sim else 'off'}", flush=True)
        watch = HealthWatch(rt)
        watcher = asyncio.create_task(watch.run())
        try:
            crash = await _run_until_stopped(rt, watch, duration_s)
        finally:
            watcher.cancel()
            if printer is not None:
                printer.cancel()
        ended_ns = time.time_ns()
        doc, gates = await _judge(rt, kind, started_ns, ended_ns, crash, faults_given, watch)
    path = None
    if evidence_dir is not None:
        path = str(write_evidence(doc, evidence_dir))
    if not quiet:
        print(summary_text(doc), flush=True)
        if path:
            print(f"evidence: {path}", flush=True)
    return SessionResult(doc, path, gates)


async def _judge(rt: Runtime, kind: Kind, started_ns: int, ended_ns: int, crash: BaseException | None,
                 faults_given: bool, watch: HealthWatch) -> tuple[dict[str, Any], list[GateResult]]:
    rec = rt.metrics.recorder
    counts = {name: _total(rec, name) for name in COUNTERS}
    trips = await rt.trade_store.trades(started_ns, ended_ns + 1)
    counts["trades"] = len(trips)     # round trips started in the run, as the backtest counts them
    kpis = compute_kpis(trips)
    samples = list(rec.cycle_seconds)
    lat = latency_summary_us(samples)
    budget = rt.cfg.kpi.cycle_p99_budget_us
    gates = [GateResult("no_crash", crash is None, "engine ran to the end" if crash is None
                        else f"crashed: {type(crash).__name__}: {crash}")]
    if kind in ("smoke", "engine"):
        ok, why = watch.verdict()
        gates.append(GateResult("books_synced", ok, why))
        gates.append(await _orders_match_truth(rt))
        gates.append(latency_gate(lat.get("p99_us"), budget))
        if faults_given:
            survived = counts["reconnects"] + counts["resyncs"] + counts["malformed_frames"] > 0 and ok
            gates.append(GateResult("faults_survived", survived,
                                    f"reconnects={counts['reconnects']} resyncs={counts['resyncs']} "
                                    f"malformed={counts['malformed_frames']}, books synced={ok}"))
    if kind == "paper":
        gates += kpi_gate(kpis, rt.cfg.kpi)
        gates.append(latency_gate(lat.get("p99_us"), budget))
    doc = build_evidence(run_id=RUN_ID, kind=kind, started_ns=started_ns,
                         ended_ns=ended_ns, cfg=rt.cfg, counts=counts, round_trips=trips,
                         latency_samples_s=samples, gates=gates,
                         extra={"server_url": rt.server_url, "status": _plain_status(rt)})
    return doc, gates


def _plain_status(rt: Runtime) -> dict[str, Any]:
    st = rt.engine.status()
    return {"symbols": {b: {"state": s["state"], "mid_premium": s.get("mid_premium")}
                        for b, s in st["symbols"].items()}, "pnl": st["pnl"]}


def exit_code(result: SessionResult, fatal: tuple[str, ...] | None = None) -> int:
    """Return 1 when a gate failed (only the `fatal` gates count when given), naming each on stderr."""
    failed = [g for g in result.gates if not g.passed and (fatal is None or g.name in fatal)]
    for g in failed:
        print(f"gate {g.name}: FAIL: {g.reason}", file=sys.stderr)
    return 1 if failed else 0
