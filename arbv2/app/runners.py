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
import logging
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


def _books_synced(rt: Runtime) -> tuple[bool, str]:
    bad = []
    for base in rt.cfg.symbols:
        for venue, sym in ((Venue.UPBIT, upbit_symbol(base)), (Venue.BINANCE_USDM, binance_symbol(base))):
            h = rt.market_data.health(venue, sym)
            if not h.synced:
                bad.append(f"{venue.value} {sym}")
    return (not bad, "all books synced at the end" if not bad else "not synced: " + ", ".join(bad))


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


async def run_session(cfg: Config, kind: Kind, duration_s: float | None, *, status_every_s: float = 5.0,
                      evidence_dir: str | None = "evidence", faults_given: bool = False,
                      quiet: bool = False) -> SessionResult:
    """Run the engine for `duration_s` (None: until cancelled) and judge the run's gates."""
    started_ns = time.time_ns()
    started = time.monotonic()
    crash: BaseException | None = None
    async with open_runtime(cfg, live_preflight_passed=False) as rt:
        if cfg.mode == "live":
            await require_preflight(rt.cfg)
        printer = None if quiet else asyncio.create_task(_print_status(rt, status_every_s, started))
        if not quiet:
            print(f"arbv2 {kind} [{RUN_ID}] mode={rt.cfg.mode} symbols={','.join(cfg.symbols)} "
                  f"server={rt.server_url} sim={'embedded' if rt.sim else 'off'}", flush=True)
        try:
            await rt.engine.run(duration_s)
        except (KeyboardInterrupt, asyncio.CancelledError):
            log.warning("stopping on request")
        except Exception as exc:  # a crash fails the smoke gate; it is reported, not hidden
            log.exception("engine crashed")
            crash = exc
        finally:
            if printer is not None:
                printer.cancel()
        ended_ns = time.time_ns()
        doc, gates = await _judge(rt, kind, started_ns, ended_ns, crash, faults_given)
    path = None
    if evidence_dir is not None:
        path = str(write_evidence(doc, evidence_dir))
    if not quiet:
        print(summary_text(doc), flush=True)
        if path:
            print(f"evidence: {path}", flush=True)
    return SessionResult(doc, path, gates)


async def _judge(rt: Runtime, kind: Kind, started_ns: int, ended_ns: int, crash: BaseException | None,
                 faults_given: bool) -> tuple[dict[str, Any], list[GateResult]]:
    rec = rt.metrics.recorder
    counts = {name: _total(rec, name) for name in COUNTERS}
    trips = await rt.trade_store.trades(started_ns, ended_ns + 1)
    kpis = compute_kpis(trips)
    samples = list(rec.cycle_seconds)
    lat = latency_summary_us(samples)
    budget = rt.cfg.kpi.cycle_p99_budget_us
    gates = [GateResult("no_crash", crash is None, "engine ran to the end" if crash is None
                        else f"crashed: {type(crash).__name__}: {crash}")]
    if kind in ("smoke", "engine"):
        ok, why = _books_synced(rt)
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
    doc = build_evidence(run_id=RUN_ID, kind="smoke" if kind == "engine" else kind, started_ns=started_ns,
                         ended_ns=ended_ns, cfg=rt.cfg, counts=counts, round_trips=trips,
                         latency_samples_s=samples, gates=gates,
                         extra={"server_url": rt.server_url, "status": _plain_status(rt)})
    return doc, gates


def _plain_status(rt: Runtime) -> dict[str, Any]:
    st = rt.engine.status()
    return {"symbols": {b: {"state": s["state"], "mid_premium": s.get("mid_premium")}
                        for b, s in st["symbols"].items()}, "pnl": st["pnl"]}


def exit_code(result: SessionResult) -> int:
    for g in result.gates:
        if not g.passed:
            print(f"gate {g.name}: FAIL: {g.reason}", file=sys.stderr)
    return 0 if result.passed else 1
