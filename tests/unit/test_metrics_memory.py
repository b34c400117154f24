"""MemoryMetrics: records what the core reports and refuses what Prometheus would refuse."""
from __future__ import annotations

import pytest

from arbv2.adapters.memory.metrics import MemoryMetrics
from arbv2.ports.metrics import CycleStage, Metrics


def test_records_latencies_counters_gauges_and_histograms() -> None:
    m: Metrics = MemoryMetrics(["BTC"])
    assert isinstance(m, MemoryMetrics)
    m.observe_cycle(3e-6)
    m.observe_cycle(5e-6)
    m.observe_stage(CycleStage.MERGE, 1e-6)
    m.inc("frames", venue="upbit")
    m.inc("frames", 4, venue="upbit")
    m.set("premium", 0.02, symbol="BTC")
    m.observe("adapter_request_seconds", 0.01, venue="upbit", endpoint="orders", status="201")
    assert list(m.cycle_seconds) == [3e-6, 5e-6]
    assert list(m.stage_seconds[CycleStage.MERGE]) == [1e-6]
    assert m.counter("frames", venue="upbit") == 5
    assert m.counter("frames", venue="binance_usdm") == 0
    assert m.gauge("premium", symbol="BTC") == 0.02
    assert m.gauge("premium", symbol="ETH") is None
    assert m.samples("adapter_request_seconds", venue="upbit", endpoint="orders", status="201") == [0.01]


def test_unconfigured_symbol_reads_back_as_other() -> None:
    m = MemoryMetrics(["BTC"])
    m.set("premium", 0.5, symbol="DOGE")
    assert m.gauge("premium", symbol="other") == 0.5


def test_same_validation_as_the_exporter() -> None:
    m = MemoryMetrics()
    with pytest.raises(ValueError, match="unknown metric"):
        m.inc("framez", venue="upbit")
    with pytest.raises(ValueError, match="takes labels"):
        m.set("premium", 0.1)
    with pytest.raises(ValueError, match="is a gauge"):
        m.inc("premium", symbol="BTC")
    with pytest.raises(ValueError, match="cannot decrease"):
        m.inc("gaps", -2, venue="upbit")
    with pytest.raises(ValueError, match="unknown cycle stage"):
        m.observe_stage("warp", 1.0)  # type: ignore[arg-type]


def test_engine_state_is_one_hot_and_samples_are_bounded() -> None:
    m = MemoryMetrics(max_samples=3)
    m.set("engine_state", 1, state="starting")
    m.set("engine_state", 1, state="running")
    assert m.gauge("engine_state", state="starting") == 0
    assert m.gauge("engine_state", state="running") == 1
    for i in range(5):
        m.observe_cycle(float(i))
    assert list(m.cycle_seconds) == [2.0, 3.0, 4.0]
