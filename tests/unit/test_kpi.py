"""KPIs and the KPI/latency gates: one code path for backtest, paper and smoke runs."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbv2.app.kpi import (compute_kpis, kpi_gate, latency_gate, latency_summary_us, max_drawdown,
                            standard_gates)
from arbv2.core.config import KpiConfig
from arbv2.core.model import Direction, RoundTrip, RoundTripState


def _rt(i: int, pnl: str, edge: float | None, state=RoundTripState.CLOSED, **kw) -> RoundTrip:
    return RoundTrip(round_trip_id=f"rt{i}", symbol_base=kw.pop("base", "BTC"), direction=Direction.LONG_UPBIT,
                     state=state, opened_ns=i * 10, entry_premium=0.01, expected_edge_bps=12.0,
                     closed_ns=i * 10 + 5 if state is RoundTripState.CLOSED else None,
                     realized_edge_bps=edge, pnl_krw=Decimal(pnl), fees_krw=Decimal("100"), **kw)


def test_kpis_from_round_trips():
    trips = [_rt(1, "1000", 10.0), _rt(2, "-400", -4.0), _rt(3, "300", 6.0),
             _rt(4, "-50", None, state=RoundTripState.FAILED, residual_qty=Decimal("0.001")),
             _rt(5, "0", None, state=RoundTripState.HEDGED)]
    k = compute_kpis(trips)
    assert k["round_trips"] == 3 and k["round_trips_failed"] == 1 and k["round_trips_open"] == 1
    assert k["wins"] == 2 and k["losses"] == 1
    assert k["winrate"] == pytest.approx(2 / 3, abs=1e-6)
    assert k["mean_edge_bps"] == pytest.approx(4.0)
    assert k["median_edge_bps"] == pytest.approx(6.0)
    assert k["realized_pnl_krw"] == pytest.approx(850.0)          # closed + failed, not the open one
    assert k["fees_krw"] == pytest.approx(500.0)
    assert k["max_drawdown_krw"] == pytest.approx(400.0)          # 1000 -> 600
    assert k["residual_qty"] == {"BTC": pytest.approx(0.001)}


def test_kpis_accept_plain_dicts_like_round_trips():
    as_obj = compute_kpis([_rt(1, "10", 2.0), _rt(2, "-5", -1.0)])
    as_dict = compute_kpis([{"symbol_base": "BTC", "state": "closed", "opened_ns": 10, "closed_ns": 15,
                             "realized_edge_bps": 2.0, "pnl_krw": "10", "fees_krw": "100"},
                            {"symbol_base": "BTC", "state": "CLOSED", "opened_ns": 20, "closed_ns": 25,
                             "realized_edge_bps": -1.0, "pnl_krw": -5, "fees_krw": 100}])
    assert as_obj == as_dict


def test_no_round_trips_leaves_rate_and_edge_unmeasured():
    k = compute_kpis([])
    assert k["winrate"] is None and k["mean_edge_bps"] is None and k["round_trips"] == 0
    assert k["max_drawdown_krw"] == 0.0


def test_max_drawdown_counts_from_zero():
    assert max_drawdown([Decimal(-5), Decimal(10), Decimal(-3), Decimal(-9)]) == Decimal(12)


def test_latency_percentiles_nearest_rank_in_us():
    lat = latency_summary_us([i * 1e-6 for i in range(1, 101)])  # 1..100 us
    assert lat == {"count": 100, "p50_us": 50.0, "p90_us": 90.0, "p99_us": 99.0, "max_us": 100.0}
    assert latency_summary_us(None)["p99_us"] is None


@pytest.mark.parametrize("winrate,passed", [(0.49, False), (0.5, True), (0.8, True), (0.81, False)])
def test_winrate_band(winrate, passed):
    gates = {g.name: g for g in kpi_gate({"round_trips": 10, "winrate": winrate, "mean_edge_bps": 1.0},
                                         KpiConfig())}
    assert gates["kpi_winrate"].passed is passed
    assert f"{winrate:.1%}" in gates["kpi_winrate"].reason and "[50%, 80%]" in gates["kpi_winrate"].reason


def test_mean_edge_must_exceed_target_and_round_trips_reach_minimum():
    cfg = KpiConfig(min_mean_edge_bps=0.0, min_round_trips=5)
    gates = {g.name: g for g in kpi_gate({"round_trips": 4, "winrate": 0.6, "mean_edge_bps": 0.0}, cfg)}
    assert not gates["kpi_mean_edge"].passed and "0.00 bps" in gates["kpi_mean_edge"].reason
    assert not gates["kpi_round_trips"].passed and "4 closed" in gates["kpi_round_trips"].reason
    gates = {g.name: g for g in kpi_gate({"round_trips": 5, "winrate": 0.6, "mean_edge_bps": 0.5}, cfg)}
    assert all(g.passed for g in gates.values())


def test_unmeasured_kpis_fail_with_reason():
    gates = kpi_gate(compute_kpis([]), KpiConfig())
    assert [g.passed for g in gates] == [False, False, False]
    assert "unmeasured" in gates[0].reason


def test_latency_gate():
    assert latency_gate(29.9, 30.0).passed
    bad = latency_gate(31.0, 30.0)
    assert not bad.passed and "31.0" in bad.reason and "30" in bad.reason
    assert not latency_gate(None, 30.0).passed


def test_standard_gates_are_kpi_gates_plus_latency_when_measured():
    kpis = {"round_trips": 3, "winrate": 0.66, "mean_edge_bps": 2.0}
    names = [g.name for g in standard_gates(kpis, latency_summary_us([10e-6, 40e-6]), KpiConfig())]
    assert names == ["kpi_winrate", "kpi_mean_edge", "kpi_round_trips", "cycle_latency_p99"]
    gates = standard_gates(kpis, latency_summary_us([10e-6, 40e-6]), KpiConfig(cycle_p99_budget_us=30))
    assert not gates[-1].passed and "p99 40.0 us" in gates[-1].reason
    assert len(standard_gates(kpis, None, KpiConfig())) == 3
