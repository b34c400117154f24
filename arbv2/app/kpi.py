"""KPIs of a run and the gates over them, shared by backtest, paper and smoke runs.

One code path computes the KPIs from round trips and judges them against `KpiConfig`, so a
backtest that passes means the same thing as a paper or smoke run that passes.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

from arbv2.core.config import KpiConfig
from arbv2.core.model import RoundTrip

_CLOSED, _FAILED = "closed", "failed"


@dataclass(frozen=True, slots=True)
class GateResult:
    """One PASS/FAIL verdict with a reason naming the measured value and the target."""

    name: str
    passed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class _Trip:
    symbol_base: str
    state: str
    opened_ns: int
    closed_ns: int | None
    realized_edge_bps: float | None
    pnl_krw: Decimal
    fees_krw: Decimal
    residual_qty: Decimal


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value if value is not None else 0))


def _trip(rt: RoundTrip | Mapping[str, Any]) -> _Trip:
    """Normalise a RoundTrip or a dict with the same field names (JSON round trips, backtests)."""
    get = (lambda k, d=None: rt.get(k, d)) if isinstance(rt, Mapping) else (lambda k, d=None: getattr(rt, k, d))
    state = get("state", "")
    edge = get("realized_edge_bps")
    closed = get("closed_ns")
    return _Trip(
        symbol_base=str(get("symbol_base", "")),
        state=str(getattr(state, "value", state)).lower(),
        opened_ns=int(get("opened_ns", 0) or 0),
        closed_ns=int(closed) if closed is not None else None,
        realized_edge_bps=float(edge) if edge is not None else None,
        pnl_krw=_dec(get("pnl_krw")),
        fees_krw=_dec(get("fees_krw")),
        residual_qty=_dec(get("residual_qty")),
    )


def _num(value: Decimal | float, places: int = 4) -> float:
    """Round for the report: stable across runs and readable (KRW and bps need no more)."""
    return round(float(value), places)


def max_drawdown(pnls: Sequence[Decimal]) -> Decimal:
    """Return the largest peak-to-trough fall of the cumulative PnL (>= 0), starting from 0."""
    peak = cum = worst = Decimal(0)
    for p in pnls:
        cum += p
        peak = max(peak, cum)
        worst = max(worst, peak - cum)
    return worst


def compute_kpis(round_trips: Sequence[RoundTrip | Mapping[str, Any]]) -> dict[str, Any]:
    """Return the run's KPIs from its round trips.

    winrate = wins / closed round trips (a win has pnl_krw > 0); realized PnL and the drawdown
    count closed and failed round trips (a failed one may carry a rollback loss), in close order.
    Values that need at least one closed round trip are None when there is none.
    """
    trips = [_trip(rt) for rt in round_trips]
    closed = [t for t in trips if t.state == _CLOSED]
    settled = sorted((t for t in trips if t.state in (_CLOSED, _FAILED)),
                     key=lambda t: (t.closed_ns if t.closed_ns is not None else t.opened_ns, t.opened_ns))
    edges = [t.realized_edge_bps for t in closed if t.realized_edge_bps is not None]
    wins = sum(1 for t in closed if t.pnl_krw > 0)
    residual: dict[str, float] = {}
    for t in trips:
        if t.residual_qty != 0:
            residual[t.symbol_base] = residual.get(t.symbol_base, 0.0) + float(t.residual_qty)
    pnl = sum((t.pnl_krw for t in settled), Decimal(0))
    return {
        "round_trips": len(closed),
        "round_trips_started": len(trips),
        "round_trips_failed": sum(1 for t in trips if t.state == _FAILED),
        "round_trips_open": sum(1 for t in trips if t.state not in (_CLOSED, _FAILED)),
        "wins": wins,
        "losses": len(closed) - wins,
        "winrate": _num(wins / len(closed), 6) if closed else None,
        "mean_edge_bps": _num(statistics.fmean(edges)) if edges else None,
        "median_edge_bps": _num(statistics.median(edges)) if edges else None,
        "realized_pnl_krw": _num(pnl),
        "fees_krw": _num(sum((t.fees_krw for t in trips), Decimal(0))),
        "max_drawdown_krw": _num(max_drawdown([t.pnl_krw for t in settled])),
        "residual_qty": {k: _num(v, 8) for k, v in sorted(residual.items())},
    }


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Return the nearest-rank percentile q (0..100) of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary_us(samples_s: Sequence[float] | None) -> dict[str, Any]:
    """Return count, p50, p90, p99 and max of cycle latencies, in microseconds (None if no samples)."""
    values = sorted(float(s) * 1e6 for s in (samples_s or ()))
    if not values:
        return {"count": 0, "p50_us": None, "p90_us": None, "p99_us": None, "max_us": None}
    return {"count": len(values),
            "p50_us": _num(percentile(values, 50), 3), "p90_us": _num(percentile(values, 90), 3),
            "p99_us": _num(percentile(values, 99), 3), "max_us": _num(values[-1], 3)}


def kpi_gate(kpis: Mapping[str, Any], kpi_cfg: KpiConfig) -> list[GateResult]:
    """Judge the KPIs against the config's targets: winrate band, mean edge, round-trip count."""
    n = int(kpis.get("round_trips") or 0)
    winrate = kpis.get("winrate")
    band = f"[{kpi_cfg.winrate_min:.0%}, {kpi_cfg.winrate_max:.0%}]"
    if winrate is None:
        wr = GateResult("kpi_winrate", False, f"winrate unmeasured (0 closed round trips); target {band}")
    else:
        ok = kpi_cfg.winrate_min <= winrate <= kpi_cfg.winrate_max
        wr = GateResult("kpi_winrate", ok, f"winrate {winrate:.1%} over {n} round trips; "
                                           f"target {band}")
    edge = kpis.get("mean_edge_bps")
    if edge is None:
        eg = GateResult("kpi_mean_edge", False, f"mean realized edge unmeasured (0 closed round trips); "
                                                f"target > {kpi_cfg.min_mean_edge_bps:g} bps")
    else:
        eg = GateResult("kpi_mean_edge", edge > kpi_cfg.min_mean_edge_bps,
                        f"mean realized edge {edge:.2f} bps; target > {kpi_cfg.min_mean_edge_bps:g} bps")
    rt = GateResult("kpi_round_trips", n >= kpi_cfg.min_round_trips,
                    f"{n} closed round trips; target >= {kpi_cfg.min_round_trips}")
    return [wr, eg, rt]


def latency_gate(p99_us: float | None, budget_us: float) -> GateResult:
    """Judge the cycle latency p99 against its budget."""
    if p99_us is None:
        return GateResult("cycle_latency_p99", False, f"no cycle latency samples; budget {budget_us:g} us")
    return GateResult("cycle_latency_p99", p99_us <= budget_us,
                      f"p99 {p99_us:.1f} us; budget <= {budget_us:g} us")


def standard_gates(kpis: Mapping[str, Any], latency: Mapping[str, Any] | None, kpi_cfg: KpiConfig
                   ) -> list[GateResult]:
    """Return the gates every run kind applies: the KPI gates, plus the latency gate when measured.

    `latency` is `latency_summary_us(...)`; pass None for runs that measure no cycle latency
    (a backtest over recorded books may time its cycles, a pure replay of decisions may not).
    """
    gates = kpi_gate(kpis, kpi_cfg)
    if latency is not None:
        gates.append(latency_gate(latency.get("p99_us"), kpi_cfg.cycle_p99_budget_us))
    return gates
